//! Distro identification from `os-release` (freedesktop.org format).
//!
//! Invariant: the file is read from inside the image root only; `etc/os-release` is
//! commonly a symlink to `../usr/lib/os-release`, which we resolve by trying
//! `usr/lib/os-release` ourselves rather than following a link that could leave the root.

use std::path::Path;

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `ID`, e.g. `fedora`, `azurelinux`, `mariner`, `centos`, `rhel`, `almalinux`, `rocky`, `amzn`.
    pub id: String,
    pub id_like: Vec<String>,
    pub name: String,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
    pub cpe_name: Option<String>,
    pub variant_id: Option<String>,
    pub home_url: Option<String>,
}

/// Known RPM-based distributions: `ID` -> human name used when `NAME` is absent.
pub const KNOWN: &[(&str, &str)] = &[
    ("fedora", "Fedora Linux"),
    ("azurelinux", "Azure Linux"),
    ("mariner", "CBL-Mariner"),
    ("centos", "CentOS Stream"),
    ("rhel", "Red Hat Enterprise Linux"),
    ("almalinux", "AlmaLinux"),
    ("rocky", "Rocky Linux"),
    ("amzn", "Amazon Linux"),
    ("ol", "Oracle Linux"),
    ("sles", "SUSE Linux Enterprise Server"),
    ("opensuse-leap", "openSUSE Leap"),
];

impl OsRelease {
    /// `<id>-<version_id>` as the purl `distro` qualifier wants it, e.g. `fedora-40`.
    pub fn purl_distro(&self) -> String {
        match &self.version_id {
            Some(v) => format!("{}-{v}", self.id),
            None => self.id.clone(),
        }
    }

    pub fn is_known(&self) -> bool {
        KNOWN.iter().any(|(id, _)| *id == self.id)
    }
}

/// Reads `etc/os-release`, falling back to `usr/lib/os-release`, below `root`.
/// `Ok(None)` when neither exists; an existing but unreadable file is an error.
pub fn read_from_root(root: &Path) -> std::io::Result<Option<OsRelease>> {
    for rel in ["etc/os-release", "usr/lib/os-release"] {
        let p = root.join(rel);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() => {
                // os-release is tiny; refuse anything absurd rather than read it whole.
                if m.len() > 64 * 1024 {
                    return Err(std::io::Error::other(format!(
                        "{}: {} bytes is too large for an os-release file",
                        p.display(),
                        m.len()
                    )));
                }
                let bytes = std::fs::read(&p)?;
                return Ok(Some(parse(&String::from_utf8_lossy(&bytes))));
            }
            _ => continue,
        }
    }
    Ok(None)
}

/// Parses os-release text: `KEY=value` lines, values optionally single- or double-quoted
/// with backslash escapes; comments and malformed lines are ignored, as systemd does.
pub fn parse(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        match key.trim() {
            "ID" => os.id = value.to_ascii_lowercase(),
            "ID_LIKE" => os.id_like = value.split_whitespace().map(str::to_owned).collect(),
            "NAME" => os.name = value,
            "VERSION_ID" => os.version_id = Some(value),
            "PRETTY_NAME" => os.pretty_name = Some(value),
            "CPE_NAME" => os.cpe_name = Some(value),
            "VARIANT_ID" => os.variant_id = Some(value),
            "HOME_URL" => os.home_url = Some(value),
            _ => {}
        }
    }
    if os.name.is_empty() {
        os.name = KNOWN
            .iter()
            .find(|(id, _)| *id == os.id)
            .map(|(_, n)| (*n).to_owned())
            .unwrap_or_else(|| "Linux".to_owned());
    }
    if os.id.is_empty() {
        os.id = "linux".to_owned();
    }
    os
}

fn unquote(v: &str) -> String {
    let bytes = v.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        let inner = &v[1..v.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        out
    } else {
        v.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fedora_os_release() {
        let os = parse(
            "NAME=\"Fedora Linux\"\nVERSION=\"40 (Container Image)\"\nID=fedora\nVERSION_ID=40\n\
             PRETTY_NAME=\"Fedora Linux 40 (Container Image)\"\nCPE_NAME=\"cpe:/o:fedoraproject:fedora:40\"\n\
             VARIANT_ID=container\n",
        );
        assert_eq!(os.id, "fedora");
        assert_eq!(os.version_id.as_deref(), Some("40"));
        assert_eq!(os.purl_distro(), "fedora-40");
        assert_eq!(
            os.cpe_name.as_deref(),
            Some("cpe:/o:fedoraproject:fedora:40")
        );
        assert!(os.is_known());
    }

    #[test]
    fn azure_linux_and_quotes() {
        let os = parse("# comment\nID=azurelinux\nVERSION_ID='4.0'\nID_LIKE=\"fedora rhel\"\nNAME=\"Azure \\\"Linux\\\"\"\ngarbage\n");
        assert_eq!(os.id, "azurelinux");
        assert_eq!(os.version_id.as_deref(), Some("4.0"));
        assert_eq!(os.id_like, vec!["fedora", "rhel"]);
        assert_eq!(os.name, "Azure \"Linux\"");
    }

    #[test]
    fn missing_fields_get_defaults() {
        let os = parse("ID=mariner\n");
        assert_eq!(os.name, "CBL-Mariner");
        assert_eq!(os.purl_distro(), "mariner");
        assert_eq!(parse("").id, "linux");
    }
}
