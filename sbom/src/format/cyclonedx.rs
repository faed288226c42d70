//! CycloneDX 1.6 JSON.
//!
//! - `serialNumber`: `urn:uuid:` + a v5 UUID of the content digest (see `common`), so the
//!   same image gives the same BOM; `version` 1.
//! - `metadata`: `timestamp` from `DocumentInfo`, lifecycle `post-build` (an analysis of a
//!   built image), the tool as `tools.components[]`, the image's operating system as the
//!   `component` (`type: operating-system`, name = os-release `ID`, version =
//!   `VERSION_ID`, description = `PRETTY_NAME`, `cpe` = `CPE_NAME`), and `properties` for
//!   where the database was found and every imported OpenPGP key (`gpg-pubkey` headers are
//!   keys, not software, so they are never components).
//! - One `library` component per installed RPM (CycloneDX recommends `library` when
//!   nothing more specific is known): `bom-ref` = purl (suffixed with the database row in
//!   the impossible-in-practice case of a duplicate NEVRA), `version`
//!   `[epoch:]version-release`, `supplier.name` = VENDOR, `description` = SUMMARY,
//!   `licenses` = `[{expression}]` for a valid SPDX expression and `[{license: {name}}]`
//!   with the verbatim string otherwise (never a guessed mapping), `externalReferences`
//!   `website` = URL when it is a plain web URL, and `properties` named
//!   `fedora-attest:rpm:<name>` for the header data CycloneDX has no field for (header
//!   digests, signatures and signing key ids, source RPM, build time and host, database
//!   row, unresolved requirements, ...; see `props::package_properties`). No package
//!   `hashes`: SIGMD5 and SHA256HEADER are not digests of a file the BOM describes.
//! - Files: nested `components` of type `file` under their package, named by absolute
//!   path, with `hashes` in the RPM's digest algorithm (SHA-224, absent from the CycloneDX
//!   enumeration, becomes the property `fedora-attest:rpm:file:digest`) and properties
//!   `fedora-attest:rpm:file:{kind,mode,user,group,size,flags,link_target}` (`kind` only
//!   when not a regular file, `flags` only when set). Directories, symlinks and ghosts are
//!   listed too: the BOM lists what rpm lists.
//! - Drift (`--verify-files`): each package's properties `fedora-attest:rpm:drift`
//!   (`intact`, `modified`, `config-changed`) and one `fedora-attest:rpm:drift_file` per
//!   changed file; every file no package owns is a top-level `file` component with SHA-256
//!   and SHA-1 `hashes` and the property `fedora-attest:rpm:file:unowned` (docs/drift.md).
//! - Source RPMs are not components (they are not in the image): the property
//!   `fedora-attest:rpm:source_rpm` names each package's.
//! - `dependencies`: one entry per package with its resolved `dependsOn` (an empty list
//!   when it requires nothing installed), and the operating system depending on every
//!   package.

use std::fmt;

use serde::{Serialize, Serializer};

use super::common::{self, Model, SeqOf};
use super::props::{self, FileFlags, Mode};
use crate::format::DocumentInfo;
use crate::inventory::Inventory;
use crate::license::License;
use crate::package::{FileEntry, Package};

// Property names for files; all start with `props::PROP_PREFIX` (checked in a test).
const FILE_KIND: &str = "fedora-attest:rpm:file:kind";
const FILE_MODE: &str = "fedora-attest:rpm:file:mode";
const FILE_USER: &str = "fedora-attest:rpm:file:user";
const FILE_GROUP: &str = "fedora-attest:rpm:file:group";
const FILE_SIZE: &str = "fedora-attest:rpm:file:size";
const FILE_FLAGS: &str = "fedora-attest:rpm:file:flags";
const FILE_LINK: &str = "fedora-attest:rpm:file:link_target";
const FILE_DIGEST: &str = "fedora-attest:rpm:file:digest";
/// A file component outside every package: in the image, owned by no RPM (drift only).
const UNOWNED: &str = "fedora-attest:rpm:file:unowned";

pub fn write(
    inv: &Inventory,
    info: &DocumentInfo,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let m = Model::new(inv, info);
    let os_ref = format!("operating-system:{}", m.os.slug);
    let bom = build(&m, &os_ref);
    common::write_json(out, &bom)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Components<'a>,
    dependencies: Dependencies<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: &'a str,
    lifecycles: [Lifecycle; 1],
    tools: Tools<'a>,
    component: OsComponent<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property<'a>>,
}

#[derive(Serialize)]
struct Lifecycle {
    phase: &'static str,
}

#[derive(Serialize)]
struct Tools<'a> {
    components: [ToolComponent<'a>; 1],
}

#[derive(Serialize)]
struct ToolComponent<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct OsComponent<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpe: Option<&'a str>,
    #[serde(rename = "externalReferences", skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference<'a>>,
}

#[derive(Serialize)]
struct Property<'a> {
    name: String,
    value: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
struct ExternalReference<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Supplier<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice<'a> {
    Expression { expression: &'a str },
    License { license: LicenseName<'a> },
}

#[derive(Serialize)]
struct LicenseName<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Component<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<Supplier<'a>>,
    name: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    licenses: Option<[LicenseChoice<'a>; 1]>,
    purl: &'a str,
    #[serde(rename = "externalReferences", skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference<'a>>,
    properties: Vec<Property<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Files<'a>>,
}

/// A package's files as nested `file` components, streamed.
struct Files<'a> {
    pkg: &'a Package,
}

impl Serialize for Files<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.pkg;
        let alg = common::cdx_hash_algo(p.file_digest_algo);
        s.collect_seq(p.files.iter().map(|f| {
            let digest = common::file_digest(p, f);
            FileComponent {
                ty: "file",
                name: &f.path,
                hashes: match (alg, digest) {
                    (Some(alg), Some(content)) => Some([Hash { alg, content }]),
                    _ => None,
                },
                properties: FileProps {
                    file: f,
                    other_digest: if alg.is_none() { digest } else { None },
                },
            }
        }))
    }
}

#[derive(Serialize)]
struct FileComponent<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hashes: Option<[Hash<'a>; 1]>,
    properties: FileProps<'a>,
}

#[derive(Serialize)]
struct Hash<'a> {
    alg: &'static str,
    content: &'a str,
}

/// A file's properties, written without per-file allocations.
struct FileProps<'a> {
    file: &'a FileEntry,
    /// A digest in an algorithm CycloneDX cannot name (SHA-224), as `sha224:<hex>`.
    other_digest: Option<&'a str>,
}

#[derive(Serialize)]
struct Prop<V: Serialize> {
    name: &'static str,
    value: V,
}

struct Disp<T>(T);

impl<T: fmt::Display> Serialize for Disp<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Serialize for FileProps<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let f = self.file;
        let mut seq = s.serialize_seq(None)?;
        let kind = props::file_kind(f);
        if kind != "regular" {
            seq.serialize_element(&Prop {
                name: FILE_KIND,
                value: kind,
            })?;
        }
        seq.serialize_element(&Prop {
            name: FILE_MODE,
            value: Disp(Mode(f.mode)),
        })?;
        seq.serialize_element(&Prop {
            name: FILE_USER,
            value: f.user.as_str(),
        })?;
        seq.serialize_element(&Prop {
            name: FILE_GROUP,
            value: f.group.as_str(),
        })?;
        seq.serialize_element(&Prop {
            name: FILE_SIZE,
            value: Disp(f.size),
        })?;
        if f.flags != 0 {
            seq.serialize_element(&Prop {
                name: FILE_FLAGS,
                value: Disp(FileFlags(f.flags)),
            })?;
        }
        if let Some(t) = &f.link_target {
            seq.serialize_element(&Prop {
                name: FILE_LINK,
                value: t.as_str(),
            })?;
        }
        if let Some(d) = self.other_digest {
            seq.serialize_element(&Prop {
                name: FILE_DIGEST,
                value: Disp(format_args!("sha224:{d}")),
            })?;
        }
        seq.end()
    }
}

/// The packages, then (with drift) one `file` component per file no package owns.
struct Components<'a> {
    packages: Vec<Component<'a>>,
    unowned: &'a [crate::drift::UnownedFile],
}

#[derive(Serialize)]
struct UnownedComponent<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    name: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash<'a>>,
    properties: Vec<Prop<String>>,
}

impl Serialize for Components<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.packages.len() + self.unowned.len()))?;
        for c in &self.packages {
            seq.serialize_element(c)?;
        }
        for (k, u) in self.unowned.iter().enumerate() {
            let mut hashes = Vec::new();
            if let Some(h) = &u.sha256 {
                hashes.push(Hash {
                    alg: "SHA-256",
                    content: h,
                });
            }
            if let Some(h) = &u.sha1 {
                hashes.push(Hash {
                    alg: "SHA-1",
                    content: h,
                });
            }
            let mut properties = vec![
                Prop {
                    name: UNOWNED,
                    value: "true".to_owned(),
                },
                Prop {
                    name: FILE_MODE,
                    value: Mode(u.mode as u16).to_string(),
                },
                Prop {
                    name: FILE_SIZE,
                    value: u.size.to_string(),
                },
            ];
            if let Some(t) = &u.link_target {
                properties.push(Prop {
                    name: FILE_LINK,
                    value: t.clone(),
                });
            }
            seq.serialize_element(&UnownedComponent {
                ty: "file",
                bom_ref: format!("unowned-file:{k}"),
                name: &u.path,
                hashes,
                properties,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Dependency<'a, D: Serialize> {
    #[serde(rename = "ref")]
    reference: &'a str,
    #[serde(rename = "dependsOn")]
    depends_on: D,
}

/// The dependency graph: the operating system first, then each package.
struct Dependencies<'a> {
    m: &'a Model<'a>,
    os_ref: &'a str,
}

impl Serialize for Dependencies<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let m = self.m;
        let mut seq = s.serialize_seq(Some(m.bom_refs.len() + 1))?;
        seq.serialize_element(&Dependency {
            reference: self.os_ref,
            depends_on: &m.bom_refs,
        })?;
        for (i, r) in m.bom_refs.iter().enumerate() {
            seq.serialize_element(&Dependency {
                reference: r,
                depends_on: SeqOf(m.deps[i].iter().map(|&b| &m.bom_refs[b])),
            })?;
        }
        seq.end()
    }
}

fn build<'a>(m: &'a Model<'a>, os_ref: &'a str) -> Bom<'a> {
    let inv = m.inv;
    let components = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let licenses = match &m.licenses[i] {
                License::Spdx(e) => Some([LicenseChoice::Expression { expression: e }]),
                License::Other { text, .. } => Some([LicenseChoice::License {
                    license: LicenseName { name: text },
                }]),
                License::None => None,
            };
            Component {
                ty: "library",
                bom_ref: &m.bom_refs[i],
                supplier: p
                    .vendor
                    .as_deref()
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|name| Supplier { name }),
                name: &p.name,
                version: &m.evrs[i],
                description: Some(p.summary.as_str()).filter(|s| !s.is_empty()),
                licenses,
                purl: &m.purls[i],
                external_references: p
                    .url
                    .as_deref()
                    .and_then(common::web_url)
                    .map(|url| ExternalReference { ty: "website", url })
                    .into_iter()
                    .collect(),
                properties: props(m.properties(i)),
                components: (m.info.include_files && !p.files.is_empty())
                    .then_some(Files { pkg: p }),
            }
        })
        .collect();

    Bom {
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", m.document_uuid("cyclonedx-1.6")),
        version: 1,
        metadata: Metadata {
            timestamp: &m.created,
            lifecycles: [Lifecycle {
                phase: "post-build",
            }],
            tools: Tools {
                components: [ToolComponent {
                    ty: "application",
                    name: &m.info.tool_name,
                    version: &m.info.tool_version,
                }],
            },
            component: OsComponent {
                ty: "operating-system",
                bom_ref: os_ref,
                name: m.os.id.unwrap_or(m.os.name),
                version: m.os.version,
                description: &m.os.pretty,
                cpe: m.os.cpe.filter(|c| common::cpe_kind(c).is_some()),
                external_references: m
                    .os
                    .home_url
                    .and_then(common::web_url)
                    .map(|url| ExternalReference { ty: "website", url })
                    .into_iter()
                    .collect(),
            },
            properties: props(m.document_properties()),
        },
        components: Components {
            packages: components,
            unowned: inv.drift.as_ref().map_or(&[][..], |d| &d.unowned),
        },
        dependencies: Dependencies { m, os_ref },
    }
}

fn props(v: Vec<props::Prop<'_>>) -> Vec<Property<'_>> {
    v.into_iter()
        .map(|p| Property {
            name: p.full_name(),
            value: p.value,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_property_names_share_the_prefix() {
        for n in [
            FILE_KIND,
            FILE_MODE,
            FILE_USER,
            FILE_GROUP,
            FILE_SIZE,
            FILE_FLAGS,
            FILE_LINK,
            FILE_DIGEST,
        ] {
            assert!(n.starts_with(props::PROP_PREFIX), "{n}");
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_')),
                "{n}"
            );
        }
    }
}
