//! The root-filesystem digest: the identity of an image that is a directory, not an OCI
//! artifact. Defined in `docs/attest.md` ("Root-filesystem digest, v1") precisely enough to
//! reimplement; [`listing`] is that definition in code, and [`digest`] gets the same bytes
//! faster from sbom's directory walk.
//!
//! In short: SHA-256 over `"attest-rootfs-v1\n"` followed by one record per entry below
//! the root (the root itself excluded), sorted by the bytes of the relative path, each
//! record being five NUL-terminated fields: path, type, mode, size, value.
//!
//! Invariants: symlinks are never followed (their target text is hashed); ownership,
//! timestamps, extended attributes and hard-link identity are excluded, so an unprivileged
//! extraction of the same image gives the same digest; files are hashed in parallel but
//! the result does not depend on the order of hashing.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// DigestSet key under which the root-filesystem digest appears in statement subjects.
pub const DIGEST_KEY: &str = "rootfsSha256";
/// First bytes of the hashed stream; a new definition gets a new version.
pub const HEADER: &[u8] = b"attest-rootfs-v1\n";

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Walk { path: PathBuf, reason: String },
    #[error("{path}: changed while it was hashed ({expected} bytes expected, {got} read); hash a quiescent image")]
    Changed {
        path: PathBuf,
        expected: u64,
        got: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsDigest {
    /// Lower-case hex.
    pub sha256: String,
    pub entries: usize,
    /// Total size of regular files.
    pub bytes: u64,
}

struct Entry {
    rel: Vec<u8>,
    abs: PathBuf,
    meta: std::fs::Metadata,
}

/// The canonical listing (the exact bytes that are hashed) and its summary.
pub fn listing(root: &Path) -> Result<(Vec<u8>, RootfsDigest), RootfsError> {
    // The root must be a directory we can list (a missing root is an error, not empty).
    let meta = std::fs::metadata(root).map_err(|source| RootfsError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(RootfsError::Walk {
            path: root.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let mut entries = walk(root)?;
    entries.par_sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    let records: Vec<Result<Vec<u8>, RootfsError>> = entries.par_iter().map(record).collect();
    let mut out = Vec::with_capacity(HEADER.len() + entries.len() * 120);
    out.extend_from_slice(HEADER);
    for r in records {
        out.extend_from_slice(&r?);
    }
    let bytes = entries
        .iter()
        .filter(|e| e.meta.file_type().is_file())
        .map(|e| e.meta.len())
        .sum();
    let sha256 = hex::encode(Sha256::digest(&out));
    Ok((
        out,
        RootfsDigest {
            sha256,
            entries: entries.len(),
            bytes,
        },
    ))
}

/// Every entry below `root`, one level of the tree at a time with the directories of a
/// level listed in parallel: a serial walk spent more time in `getdents`/`lstat` than the
/// hashing of an image's (mostly small) files took, and a recursive one overflowed the
/// stack on a hostile tree 2,000 levels deep. `symlink_metadata` is `lstat`: links are
/// never followed.
fn walk(root: &Path) -> Result<Vec<Entry>, RootfsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RootfsError::Io { path, source }
    };
    let list = |dir: &Path, rel: &[u8]| -> Result<Vec<Entry>, RootfsError> {
        let mut here = Vec::new();
        for item in std::fs::read_dir(dir).map_err(io(dir))? {
            let item = item.map_err(io(dir))?;
            let abs = item.path();
            let meta = std::fs::symlink_metadata(&abs).map_err(io(&abs))?;
            let mut r = rel.to_vec();
            if !r.is_empty() {
                r.push(b'/');
            }
            r.extend_from_slice(item.file_name().as_bytes());
            here.push(Entry { rel: r, abs, meta });
        }
        Ok(here)
    };
    let mut all = Vec::new();
    let mut level: Vec<(PathBuf, Vec<u8>)> = vec![(root.to_path_buf(), Vec::new())];
    while !level.is_empty() {
        let found: Vec<Vec<Entry>> = level
            .par_iter()
            .map(|(dir, rel)| list(dir, rel))
            .collect::<Result<_, _>>()?;
        level = Vec::new();
        for e in found.into_iter().flatten() {
            if e.meta.file_type().is_dir() {
                level.push((e.abs.clone(), e.rel.clone()));
            }
            all.push(e);
        }
    }
    Ok(all)
}

/// The root-filesystem digest of `root`.
///
/// Computed from `sbom::drift::list_root` (directory-relative system calls, one read per
/// small file), not from [`listing`]'s path-based walk, the definition in code: on the
/// 291,000-file bench image the switch took `verify image --no-verify-files`, which needs
/// this digest, from 5.39 s to 4.24 s. A tree that listing cannot render exactly
/// (a name that is not UTF-8, a file that could not be read) goes through [`listing`],
/// which gives the exact digest or the exact error. `tests/rootfs_listing.rs` proves the
/// two agree. A path longer than PATH_MAX is refused as it is by the drift check.
pub fn digest(root: &Path) -> Result<RootfsDigest, RootfsError> {
    let meta = std::fs::metadata(root).map_err(|source| RootfsError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        match sbom::drift::list_root(root) {
            Ok(l) if l.incomplete.is_none() => return from_listing(root, &l),
            Err(e @ sbom::drift::DriftError::PathTooLong { .. }) => {
                return Err(RootfsError::Walk {
                    path: root.to_path_buf(),
                    reason: e.to_string(),
                })
            }
            _ => {}
        }
    }
    listing(root).map(|(_, d)| d)
}

fn record(e: &Entry) -> Result<Vec<u8>, RootfsError> {
    let ft = e.meta.file_type();
    let mode = e.meta.mode();
    let (size, value): (u64, Vec<u8>) = if ft.is_file() {
        let (hex, got) = hash_file(&e.abs)?;
        if got != e.meta.len() {
            return Err(RootfsError::Changed {
                path: e.abs.clone(),
                expected: e.meta.len(),
                got,
            });
        }
        (got, hex.into_bytes())
    } else if ft.is_symlink() {
        let target = std::fs::read_link(&e.abs).map_err(|source| RootfsError::Io {
            path: e.abs.clone(),
            source,
        })?;
        (0, target.as_os_str().as_bytes().to_vec())
    } else {
        (0, Vec::new())
    };
    Ok(encode(&e.rel, mode, size, &value, e.meta.rdev()))
}

/// One record: path, type, mode, size, value, each NUL-terminated. `value` is a regular
/// file's SHA-256 hex or a symlink's target; a device's is `major:minor` from `rdev`.
fn encode(rel: &[u8], st_mode: u32, size: u64, value: &[u8], rdev: u64) -> Vec<u8> {
    const S_IFMT: u32 = 0o170000;
    let (kind, device) = match st_mode & S_IFMT {
        0o100000 => (b'f', false),
        0o040000 => (b'd', false),
        0o120000 => (b'l', false),
        0o020000 => (b'c', true),
        0o060000 => (b'b', true),
        0o010000 => (b'p', false),
        _ => (b's', false),
    };
    let devno;
    let value = if device {
        let (maj, min) = major_minor(rdev);
        devno = format!("{maj}:{min}");
        devno.as_bytes()
    } else {
        value
    };
    let mut r = Vec::with_capacity(rel.len() + value.len() + 32);
    r.extend_from_slice(rel);
    r.push(0);
    r.push(kind);
    r.push(0);
    r.extend_from_slice(format!("{:04o}", st_mode & 0o7777).as_bytes());
    r.push(0);
    r.extend_from_slice(size.to_string().as_bytes());
    r.push(0);
    r.extend_from_slice(value);
    r.push(0);
    r
}

/// The root-filesystem digest from a listing the drift check's walk made
/// (`sbom::drift::check_root_listing`): the same bytes as [`digest`] hashes, without
/// reading every file a second time. A listing that is not exact is an error, never a
/// digest.
pub fn from_listing(
    root: &Path,
    listing: &sbom::drift::Listing,
) -> Result<RootfsDigest, RootfsError> {
    if let Some(why) = &listing.incomplete {
        return Err(RootfsError::Walk {
            path: root.to_path_buf(),
            reason: why.clone(),
        });
    }
    let mut entries: Vec<&sbom::drift::ListingEntry> = listing.entries.iter().collect();
    entries.par_sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let records: Vec<Vec<u8>> = entries
        .par_iter()
        .map(|e| {
            let is_file = e.mode & 0o170000 == 0o100000;
            let (size, value) = if is_file {
                (e.size, e.sha256.as_deref().unwrap_or_default().as_bytes())
            } else {
                (0, e.link.as_deref().unwrap_or_default().as_bytes())
            };
            encode(e.path.as_bytes(), e.mode, size, value, e.rdev)
        })
        .collect();
    let mut out = Vec::with_capacity(HEADER.len() + records.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(HEADER);
    let mut bytes = 0;
    for (e, r) in entries.iter().zip(&records) {
        out.extend_from_slice(r);
        if e.mode & 0o170000 == 0o100000 {
            bytes += e.size;
        }
    }
    Ok(RootfsDigest {
        sha256: hex::encode(Sha256::digest(&out)),
        entries: entries.len(),
        bytes,
    })
}

/// Linux `major()`/`minor()` (glibc's encoding of `dev_t`).
fn major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// SHA-256 of a file's contents (lower-case hex) and the number of bytes read.
pub fn hash_file(path: &Path) -> Result<(String, u64), RootfsError> {
    let io = |source| RootfsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut n: u64 = 0;
    // One buffer per thread: a fresh 256 KiB buffer per file costs more than hashing the
    // few hundred bytes most files of an image hold.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 256 * 1024]);
    }
    BUF.with_borrow_mut(|buf| -> Result<(), RootfsError> {
        loop {
            let k = f.read(buf).map_err(io)?;
            if k == 0 {
                return Ok(());
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
    })?;
    Ok((hex::encode(h.finalize()), n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc/motd.d")).unwrap();
        std::fs::write(d.path().join("etc/motd.d/a"), "hi\n").unwrap();
        std::fs::write(d.path().join("etc/b"), "").unwrap();
        std::os::unix::fs::symlink("../usr/lib/os-release", d.path().join("etc/os-release"))
            .unwrap();
        d
    }

    #[test]
    fn listing_is_exactly_as_documented() {
        let d = tree();
        std::fs::set_permissions(d.path().join("etc"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::set_permissions(
            d.path().join("etc/motd.d"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::fs::set_permissions(
            d.path().join("etc/motd.d/a"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        std::fs::set_permissions(
            d.path().join("etc/b"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        let (bytes, dig) = listing(d.path()).unwrap();
        let sha_hi = hex::encode(Sha256::digest(b"hi\n"));
        let sha_empty = hex::encode(Sha256::digest(b""));
        let want = format!(
            "attest-rootfs-v1\netc\0d\x000755\x000\0\0etc/b\0f\x004755\x000\0{sha_empty}\0\
             etc/motd.d\0d\x000700\x000\0\0etc/motd.d/a\0f\x000644\x003\0{sha_hi}\0\
             etc/os-release\0l\x000777\x000\0../usr/lib/os-release\0"
        );
        assert_eq!(String::from_utf8(bytes).unwrap(), want);
        assert_eq!(dig.entries, 5);
        assert_eq!(dig.bytes, 3);
        assert_eq!(dig.sha256, hex::encode(Sha256::digest(want.as_bytes())));
    }

    #[test]
    fn every_kind_of_change_changes_the_digest() {
        let d = tree();
        let base = digest(d.path()).unwrap().sha256;
        assert_eq!(digest(d.path()).unwrap().sha256, base, "deterministic");
        // content
        std::fs::write(d.path().join("etc/motd.d/a"), "hI\n").unwrap();
        let c1 = digest(d.path()).unwrap().sha256;
        assert_ne!(c1, base);
        // mode
        std::fs::set_permissions(
            d.path().join("etc/b"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let c2 = digest(d.path()).unwrap().sha256;
        assert_ne!(c2, c1);
        // symlink target
        std::fs::remove_file(d.path().join("etc/os-release")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("etc/os-release")).unwrap();
        let c3 = digest(d.path()).unwrap().sha256;
        assert_ne!(c3, c2);
        // added empty file
        std::fs::write(d.path().join("x"), "").unwrap();
        assert_ne!(digest(d.path()).unwrap().sha256, c3);
    }

    #[test]
    fn symlinks_are_not_followed() {
        let d = tree();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("escape")).unwrap();
        let (bytes, dig) = listing(d.path()).unwrap();
        assert_eq!(dig.entries, 6);
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn missing_root_is_an_error() {
        assert!(digest(Path::new("/nonexistent/attest-root")).is_err());
    }
}
