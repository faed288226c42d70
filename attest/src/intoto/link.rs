//! in-toto links: a step's materials and products with their SHA-256 digests.
//!
//! Artifact names are paths relative to the base directory, `/`-separated, without `./`
//! (as `in-toto-record --base-path` names them). Directories are walked; every non-directory
//! entry is an artifact. Invariant: symlinks are never followed; a symlink is recorded with
//! the SHA-256 of its target text, so a root filesystem's absolute links can never make us
//! hash a file of the machine we run on. Files are hashed in parallel.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::InTotoError;

fn io(path: &Path, source: std::io::Error) -> InTotoError {
    InTotoError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Artifact name of `rel` (relative to the base): normalized, `/`-separated.
fn artifact_name(rel: &Path) -> Result<String, InTotoError> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return Err(InTotoError::Description {
                path: rel.display().to_string(),
                reason:
                    "artifact paths must stay inside the base directory (no .., no absolute paths)"
                        .into(),
            }),
        }
    }
    Ok(parts.join("/"))
}

/// Records artifacts: each path (relative to `base`) is a file, symlink or directory.
pub fn record(base: &Path, paths: &[PathBuf]) -> Result<BTreeMap<String, Value>, InTotoError> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for p in paths {
        artifact_name(p)?;
        let abs = base.join(p);
        let meta = std::fs::symlink_metadata(&abs).map_err(|e| io(&abs, e))?;
        if meta.is_dir() {
            for e in walkdir::WalkDir::new(&abs).follow_links(false) {
                let e = e.map_err(|e| {
                    let path = e
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| abs.clone());
                    io(
                        &path,
                        e.into_io_error()
                            .unwrap_or_else(|| std::io::Error::other("walk error")),
                    )
                })?;
                if !e.file_type().is_dir() {
                    let rel = e
                        .path()
                        .strip_prefix(base)
                        .unwrap_or(e.path())
                        .to_path_buf();
                    found.push((artifact_name(&rel)?, e.into_path()));
                }
            }
        } else {
            found.push((artifact_name(p)?, abs));
        }
    }
    found.sort();
    found.dedup();
    let hashed: Vec<Result<(String, Value), InTotoError>> = found
        .par_iter()
        .map(|(name, abs)| {
            let meta = std::fs::symlink_metadata(abs).map_err(|e| io(abs, e))?;
            let hex = if meta.file_type().is_symlink() {
                let t = std::fs::read_link(abs).map_err(|e| io(abs, e))?;
                hex::encode(Sha256::digest(t.as_os_str().as_bytes()))
            } else {
                crate::rootfs::hash_file(abs)
                    .map_err(|e| InTotoError::Io {
                        path: abs.display().to_string(),
                        source: std::io::Error::other(e.to_string()),
                    })?
                    .0
            };
            Ok((name.clone(), json!({ "sha256": hex })))
        })
        .collect();
    hashed.into_iter().collect()
}

/// The unsigned link object.
pub fn link_object(
    name: &str,
    materials: BTreeMap<String, Value>,
    products: BTreeMap<String, Value>,
    command: &[String],
) -> Value {
    json!({
        "_type": "link",
        "name": name,
        "materials": materials,
        "products": products,
        "byproducts": {},
        "command": command,
        "environment": {},
    })
}

/// The file name in-toto-verify looks for: `<step>.<first 8 hex of keyid>.link`.
pub fn file_name(step: &str, in_toto_keyid: &str) -> String {
    format!(
        "{step}.{}.link",
        &in_toto_keyid[..8.min(in_toto_keyid.len())]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_relative_names_and_never_follows_symlinks() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("root/etc")).unwrap();
        std::fs::write(d.path().join("root/etc/a"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("root/etc/p")).unwrap();
        let got = record(d.path(), &[PathBuf::from("./root")]).unwrap();
        let names: Vec<&str> = got.keys().map(String::as_str).collect();
        assert_eq!(names, ["root/etc/a", "root/etc/p"]);
        assert_eq!(
            got["root/etc/a"]["sha256"],
            hex::encode(Sha256::digest(b"x"))
        );
        assert_eq!(
            got["root/etc/p"]["sha256"],
            hex::encode(Sha256::digest(b"/etc/passwd"))
        );
        assert!(record(d.path(), &[PathBuf::from("../x")]).is_err());
        assert!(record(d.path(), &[PathBuf::from("missing")]).is_err());
        assert_eq!(
            file_name("compose", "0123456789abcdef"),
            "compose.01234567.link"
        );
    }
}
