//! `attestation.sbom`: an SBOM predicate must describe exactly the image's packages, and,
//! where it carries per-file digests, exactly the digests the RPM headers declare.
//!
//! Read as `sbom` writes the three formats (`docs/sbom-formats.md`): SPDX 2.3 packages
//! with a purl external reference and files in the `fedora-attest:rpm:files` annotation;
//! SPDX 3 `software_Package` elements whose files hang off `contains` relationships;
//! CycloneDX 1.x components with nested `file` components. The operating-system element
//! and source packages (`arch=src`, purpose source) are not installed packages and are
//! skipped. Packages are matched by purl, or by `name-EVR.arch` when an element has no
//! purl; files by path, digests by the package's file digest algorithm.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use ::sbom::format::common::file_digest;

use super::provenance::{list, Problem};
use super::statement::ImageView;

/// One installed package as an SBOM names it.
struct Pkg {
    /// purl, else `name-EVR.arch` (or `name-EVR` when the arch is unknown).
    key: String,
    /// Path -> digests as (normalised algorithm, lower-case hex); `None` when the SBOM
    /// carries no file list for the package.
    files: Option<BTreeMap<String, Vec<(String, String)>>>,
}

/// What an SBOM says, reduced to what we compare.
pub(crate) struct Doc {
    pub(crate) format: &'static str,
    /// Creation time as written (RFC 3339), if any.
    pub(crate) created: Option<String>,
    packages: Vec<Pkg>,
}

type R<T> = Result<T, String>;

fn s<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn arr<'v>(v: &'v Value, key: &str) -> R<&'v [Value]> {
    match v.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("{key} is not an array")),
    }
}

/// `sha256` from `SHA256`, `SHA-256`, `sha256`.
fn norm_alg(a: &str) -> String {
    a.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_source_purl(purl: &str) -> bool {
    purl.split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|kv| kv == "arch=src"))
}

/// Parses the predicate of an SBOM statement, detecting the format by content.
pub(crate) fn parse(predicate_type: &str, v: &Value) -> R<Doc> {
    let spdx = predicate_type.starts_with("https://spdx.dev/Document");
    let doc = if let Some(version) = s(v, "spdxVersion") {
        if !spdx {
            return Err(format!(
                "predicate type {predicate_type} but an SPDX document"
            ));
        }
        if !version.starts_with("SPDX-2.") {
            return Err(format!("spdxVersion {version:?} is not SPDX 2"));
        }
        spdx2(v)?
    } else if v.get("@context").is_some() && v.get("@graph").is_some() {
        if !spdx {
            return Err(format!(
                "predicate type {predicate_type} but an SPDX 3 document"
            ));
        }
        spdx3(v)?
    } else if s(v, "bomFormat") == Some("CycloneDX") {
        if spdx {
            return Err(format!(
                "predicate type {predicate_type} but a CycloneDX document"
            ));
        }
        cyclonedx(v)?
    } else {
        return Err(
            "neither SPDX 2 (spdxVersion), SPDX 3 (@context, @graph) nor CycloneDX \
                    (bomFormat)"
                .into(),
        );
    };
    Ok(doc)
}

fn spdx2(v: &Value) -> R<Doc> {
    let created = v
        .get("creationInfo")
        .and_then(|c| s(c, "created"))
        .map(String::from);
    let mut packages = Vec::new();
    for (i, p) in arr(v, "packages")?.iter().enumerate() {
        let purpose = s(p, "primaryPackagePurpose").unwrap_or("");
        if purpose == "OPERATING-SYSTEM" || purpose == "SOURCE" {
            continue;
        }
        let purl = arr(p, "externalRefs")?
            .iter()
            .find(|r| s(r, "referenceType") == Some("purl"))
            .and_then(|r| s(r, "referenceLocator"));
        if purl.is_some_and(is_source_purl) {
            continue;
        }
        let mut arch = None;
        let mut files = None;
        for a in arr(p, "annotations")? {
            let comment = s(a, "comment").unwrap_or("");
            if let Some(rest) = comment.strip_prefix("fedora-attest:rpm:files") {
                files = Some(spdx2_files(rest).map_err(|e| format!("packages[{i}]: {e}"))?);
            } else {
                arch = arch.or_else(|| {
                    comment
                        .lines()
                        .find_map(|l| l.strip_prefix("fedora-attest:rpm:arch="))
                });
            }
        }
        let key = match purl {
            Some(u) => u.to_string(),
            None => fallback_key(s(p, "name"), s(p, "versionInfo"), arch).ok_or_else(|| {
                format!("packages[{i}] has neither a purl nor a name and version")
            })?,
        };
        packages.push(Pkg { key, files });
    }
    Ok(Doc {
        format: "SPDX 2",
        created,
        packages,
    })
}

fn fallback_key(name: Option<&str>, evr: Option<&str>, arch: Option<&str>) -> Option<String> {
    let (n, v) = (name?, evr?);
    Some(match arch {
        Some(a) => format!("{n}-{v}.{a}"),
        None => format!("{n}-{v}"),
    })
}

/// `<percent-encoded path> <ALGO>:<hex>|- key=value...`, one line per file.
fn spdx2_files(text: &str) -> R<BTreeMap<String, Vec<(String, String)>>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut it = line.split(' ');
        let (Some(path), Some(digest)) = (it.next(), it.next()) else {
            return Err(format!("file line {line:?}: expected a path and a digest"));
        };
        let path = percent_decode(path).ok_or_else(|| format!("file path {path:?}"))?;
        let digests = match digest.split_once(':') {
            Some((alg, hex)) => vec![(norm_alg(alg), hex.to_ascii_lowercase())],
            None if digest == "-" => Vec::new(),
            None => return Err(format!("file {path:?}: digest {digest:?}")),
        };
        if out.insert(path.clone(), digests).is_some() {
            return Err(format!("file {path:?} listed twice"));
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn spdx3(v: &Value) -> R<Doc> {
    let graph = arr(v, "@graph")?;
    let by_id: HashMap<&str, &Value> = graph
        .iter()
        .filter_map(|e| Some((s(e, "spdxId").or_else(|| s(e, "@id"))?, e)))
        .collect();
    let created = graph
        .iter()
        .find(|e| s(e, "type") == Some("SpdxDocument"))
        .and_then(|d| match d.get("creationInfo") {
            Some(Value::String(id)) => by_id.get(id.as_str()).and_then(|c| s(c, "created")),
            Some(inline) => s(inline, "created"),
            None => None,
        })
        .map(String::from);
    let mut contains: HashMap<&str, Vec<&str>> = HashMap::new();
    for r in graph
        .iter()
        .filter(|e| s(e, "type") == Some("Relationship"))
    {
        if s(r, "relationshipType") == Some("contains") {
            let from = s(r, "from").ok_or("a contains relationship without from")?;
            let to = arr(r, "to")?.iter().filter_map(Value::as_str);
            contains.entry(from).or_default().extend(to);
        }
    }
    let mut packages = Vec::new();
    let mut any_files = false;
    for p in graph
        .iter()
        .filter(|e| s(e, "type") == Some("software_Package"))
    {
        let purpose = s(p, "software_primaryPurpose").unwrap_or("");
        if purpose == "operatingSystem" || purpose == "source" {
            continue;
        }
        let purl = s(p, "software_packageUrl");
        if purl.is_some_and(is_source_purl) {
            continue;
        }
        let id = s(p, "spdxId").unwrap_or("");
        let mut files = BTreeMap::new();
        for fid in contains.get(id).into_iter().flatten() {
            let Some(f) = by_id
                .get(fid)
                .filter(|f| s(f, "type") == Some("software_File"))
            else {
                continue;
            };
            let name = s(f, "name").ok_or_else(|| format!("file {fid} has no name"))?;
            let digests = arr(f, "verifiedUsing")?
                .iter()
                .filter(|h| s(h, "type") == Some("Hash"))
                .filter_map(|h| {
                    Some((
                        norm_alg(s(h, "algorithm")?),
                        s(h, "hashValue")?.to_ascii_lowercase(),
                    ))
                })
                .collect();
            if files.insert(name.to_string(), digests).is_some() {
                return Err(format!("file {name:?} listed twice in package {id}"));
            }
        }
        any_files |= !files.is_empty();
        let key = match purl {
            Some(u) => u.to_string(),
            None => fallback_key(s(p, "name"), s(p, "software_packageVersion"), None)
                .ok_or_else(|| format!("package {id} has neither a purl nor a name and version"))?,
        };
        packages.push(Pkg {
            key,
            files: Some(files),
        });
    }
    // Without a single file element, the document was written without files.
    if !any_files {
        packages.iter_mut().for_each(|p| p.files = None);
    }
    Ok(Doc {
        format: "SPDX 3",
        created,
        packages,
    })
}

fn cyclonedx(v: &Value) -> R<Doc> {
    let version = s(v, "specVersion").unwrap_or("");
    if !version.starts_with("1.") {
        return Err(format!("CycloneDX specVersion {version:?} is not 1.x"));
    }
    let created = v
        .get("metadata")
        .and_then(|m| s(m, "timestamp"))
        .map(String::from);
    let mut packages = Vec::new();
    for (i, c) in arr(v, "components")?.iter().enumerate() {
        let kind = s(c, "type").unwrap_or("");
        if kind == "operating-system" || kind == "file" {
            continue;
        }
        let purl = s(c, "purl");
        if purl.is_some_and(is_source_purl) {
            continue;
        }
        let nested = arr(c, "components")?;
        let files = if nested.is_empty() {
            None
        } else {
            let mut files = BTreeMap::new();
            for f in nested.iter().filter(|f| s(f, "type") == Some("file")) {
                let name =
                    s(f, "name").ok_or_else(|| format!("components[{i}]: a file without name"))?;
                let digests = arr(f, "hashes")?
                    .iter()
                    .filter_map(|h| {
                        Some((
                            norm_alg(s(h, "alg")?),
                            s(h, "content")?.to_ascii_lowercase(),
                        ))
                    })
                    .collect();
                if files.insert(name.to_string(), digests).is_some() {
                    return Err(format!("components[{i}]: file {name:?} listed twice"));
                }
            }
            Some(files)
        };
        let key = match purl {
            Some(u) => u.to_string(),
            None => fallback_key(s(c, "name"), s(c, "version"), None).ok_or_else(|| {
                format!("components[{i}] has neither a purl nor a name and version")
            })?,
        };
        packages.push(Pkg { key, files });
    }
    Ok(Doc {
        format: "CycloneDX",
        created,
        packages,
    })
}

/// Compares the SBOM with the installed packages. `Ok(reason)` or the problems found.
pub(crate) fn compare(doc: &Doc, img: &ImageView) -> Result<String, Vec<Problem>> {
    let inv = img.facts.inventory;
    // Every installed package under each key an SBOM may use for it.
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, p) in inv.packages.iter().enumerate() {
        index.insert(::sbom::purl::for_package(p, inv.distro.as_ref()), i);
        index.insert(format!("{}-{}.{}", p.name, p.evr(), p.arch), i);
    }
    let mut seen = vec![false; inv.packages.len()];
    let mut extra = Vec::new();
    let mut twice = Vec::new();
    let mut file_problems = Vec::new();
    let carries_files = doc.packages.iter().any(|p| p.files.is_some());
    for p in &doc.packages {
        let Some(&i) = index.get(&p.key) else {
            extra.push(p.key.clone());
            continue;
        };
        if std::mem::replace(&mut seen[i], true) {
            twice.push(inv.packages[i].nevra());
            continue;
        }
        if carries_files {
            let empty = BTreeMap::new();
            files(
                &inv.packages[i],
                p.files.as_ref().unwrap_or(&empty),
                &mut file_problems,
            );
        }
    }
    let missing: Vec<String> = inv
        .packages
        .iter()
        .zip(&seen)
        .filter(|(_, s)| !**s)
        .map(|(p, _)| p.nevra())
        .collect();
    let mut problems = Vec::new();
    let mut parts = Vec::new();
    for (what, v) in [
        ("installed but not in the SBOM", &missing),
        ("in the SBOM but not installed", &extra),
        ("listed twice", &twice),
    ] {
        if !v.is_empty() {
            parts.push(format!("{what}: {}", list(v)));
        }
    }
    if !parts.is_empty() {
        problems.push((
            "packages-mismatch",
            format!("{}: {}", doc.format, parts.join("; ")),
        ));
    }
    if !file_problems.is_empty() {
        problems.push((
            "files-mismatch",
            format!(
                "{}: files differ from the RPM headers: {}",
                doc.format,
                list(&file_problems)
            ),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(format!(
        "{} describes exactly the {} installed packages{}",
        doc.format,
        inv.packages.len(),
        if carries_files {
            ", with the file digests their headers declare"
        } else {
            " (it carries no per-file digests)"
        }
    ))
}

/// One package's files: same paths, and each digest the SBOM gives equals the header's.
fn files(
    p: &::sbom::package::Package,
    listed: &BTreeMap<String, Vec<(String, String)>>,
    out: &mut Vec<String>,
) {
    let alg = norm_alg(p.file_digest_algo.spdx_name());
    let nevra = p.nevra();
    let mut ours: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for f in &p.files {
        ours.insert(f.path.as_str(), file_digest(p, f));
    }
    for (path, theirs) in listed {
        let Some(our) = ours.get(path.as_str()) else {
            out.push(format!("{nevra}: {path} (not in the package)"));
            continue;
        };
        let theirs = theirs
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, h)| h.as_str());
        match (theirs, our) {
            // The SBOM gives no digest of this algorithm: nothing to compare.
            (None, _) => {}
            (Some(t), Some(o)) if t.eq_ignore_ascii_case(o) => {}
            (Some(_), _) => out.push(format!("{nevra}: {path} (digest)")),
        }
    }
    for path in ours.keys().filter(|p| !listed.contains_key(**p)) {
        out.push(format!("{nevra}: {path} (missing from the SBOM)"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx2_file_lines() {
        let f = spdx2_files("\n/a%20b SHA256:AB kind=regular\n/d - kind=directory\n").unwrap();
        assert_eq!(f["/a b"], vec![("sha256".to_string(), "ab".to_string())]);
        assert!(f["/d"].is_empty());
        assert!(spdx2_files("\n/a x\n").is_err());
        assert!(spdx2_files("\n/a -\n/a -\n").is_err());
        assert!(spdx2_files("\n/a%zz -\n").is_err());
    }

    #[test]
    fn algorithms_and_sources() {
        assert_eq!(norm_alg("SHA-256"), "sha256");
        assert_eq!(norm_alg("SHA256"), "sha256");
        assert!(is_source_purl("pkg:rpm/x/y@1-1?arch=src&distro=d"));
        assert!(!is_source_purl("pkg:rpm/x/src@1-1?arch=noarch"));
    }
}
