//! A directory of `.rpm` files (`--repo DIR`): each file's SHA-256 and the SHA-256 of its
//! main header's immutable region, which equals the SHA256HEADER the installed package
//! records. That header digest, not the file name, ties a file to an installed package.
//!
//! Invariants: files are hashed in parallel and streamed (never read whole); every length
//! read from a file is bounded before use; symlinks are not followed; a file that is not a
//! well-formed RPM is an error naming it, never silently skipped.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

const LEAD_LEN: usize = 96;
const HEADER_MAGIC: [u8; 3] = [0x8e, 0xad, 0xe8];
/// Upper bound for one header's index and data (rpm allows 64k entries and 256 MiB data).
const MAX_HEADER_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an RPM package file: {reason}")]
    NotRpm { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile {
    pub path: PathBuf,
    pub file_name: String,
    /// SHA-256 of the whole file, lower-case hex.
    pub sha256: String,
    /// SHA-256 of the main header's immutable region (= SHA256HEADER), when it has one.
    pub header_sha256: Option<String>,
}

/// Hashes every `*.rpm` below `dir` (recursively, in parallel). Result keyed by header
/// digest; files without a header region are left out of the map but counted in `all`.
pub struct Repo {
    pub all: Vec<RpmFile>,
    pub by_header: BTreeMap<String, usize>,
}

impl Repo {
    pub fn scan(dir: &Path) -> Result<Repo, RepoError> {
        let mut paths = Vec::new();
        for e in walkdir::WalkDir::new(dir)
            .follow_links(false)
            .sort_by_file_name()
        {
            let e = e.map_err(|e| RepoError::Io {
                path: e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_path_buf()),
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk error")),
            })?;
            if e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".rpm") {
                paths.push(e.into_path());
            }
        }
        let all: Vec<RpmFile> = paths
            .par_iter()
            .map(|p| hash_rpm(p))
            .collect::<Result<_, _>>()?;
        let mut by_header = BTreeMap::new();
        for (i, f) in all.iter().enumerate() {
            if let Some(h) = &f.header_sha256 {
                by_header.entry(h.clone()).or_insert(i);
            }
        }
        Ok(Repo { all, by_header })
    }

    pub fn find(&self, header_sha256: &str) -> Option<&RpmFile> {
        self.by_header.get(header_sha256).map(|&i| &self.all[i])
    }
}

/// Reads exactly `n` bytes, feeding them to the file hasher too.
fn read_exact_hashed(
    f: &mut std::fs::File,
    hasher: &mut Sha256,
    n: usize,
    path: &Path,
) -> Result<Vec<u8>, RepoError> {
    let mut buf = vec![0u8; n];
    f.read_exact(&mut buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            RepoError::NotRpm {
                path: path.into(),
                reason: "truncated".into(),
            }
        } else {
            RepoError::Io {
                path: path.into(),
                source: e,
            }
        }
    })?;
    hasher.update(&buf);
    Ok(buf)
}

/// Reads one header structure (magic, il, dl, index, data); returns the blob without magic.
fn read_header(
    f: &mut std::fs::File,
    hasher: &mut Sha256,
    path: &Path,
    what: &str,
) -> Result<Vec<u8>, RepoError> {
    let pre = read_exact_hashed(f, hasher, 16, path)?;
    if pre[..3] != HEADER_MAGIC {
        return Err(RepoError::NotRpm {
            path: path.into(),
            reason: format!("{what} header magic missing"),
        });
    }
    let il = u32::from_be_bytes([pre[8], pre[9], pre[10], pre[11]]) as u64;
    let dl = u32::from_be_bytes([pre[12], pre[13], pre[14], pre[15]]) as u64;
    let body = 16 * il + dl;
    if il == 0 || body > MAX_HEADER_BYTES {
        return Err(RepoError::NotRpm {
            path: path.into(),
            reason: format!("{what} header sizes out of bounds (il={il}, dl={dl})"),
        });
    }
    let rest = read_exact_hashed(f, hasher, body as usize, path)?;
    let mut blob = Vec::with_capacity(8 + rest.len());
    blob.extend_from_slice(&pre[8..16]);
    blob.extend_from_slice(&rest);
    Ok(blob)
}

pub fn hash_rpm(path: &Path) -> Result<RpmFile, RepoError> {
    let io = |source| RepoError::Io {
        path: path.into(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let lead = read_exact_hashed(&mut f, &mut hasher, LEAD_LEN, path)?;
    if lead[..4] != [0xed, 0xab, 0xee, 0xdb] {
        return Err(RepoError::NotRpm {
            path: path.into(),
            reason: "no RPM lead magic".into(),
        });
    }
    let sig = read_header(&mut f, &mut hasher, path, "signature")?;
    // The signature header is padded to a multiple of 8 bytes (magic included).
    let pad = (8 - ((8 + sig.len()) % 8)) % 8;
    read_exact_hashed(&mut f, &mut hasher, pad, path)?;
    let main = read_header(&mut f, &mut hasher, path, "main")?;
    let header_sha256 = match sbom::rpm::header::Header::parse(&main) {
        Ok(h) => {
            let mut hh = Sha256::new();
            if h.for_each_signed_chunk(|c| hh.update(c)) {
                Some(hex::encode(hh.finalize()))
            } else {
                None
            }
        }
        Err(e) => {
            return Err(RepoError::NotRpm {
                path: path.into(),
                reason: format!("main header: {e}"),
            })
        }
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let k = f.read(&mut buf).map_err(io)?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
    }
    Ok(RpmFile {
        path: path.into(),
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: hex::encode(hasher.finalize()),
        header_sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_rpm_files_are_named_errors() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.rpm");
        std::fs::write(&p, b"hello").unwrap();
        let e = hash_rpm(&p).unwrap_err();
        assert!(e.to_string().contains("x.rpm"), "{e}");
        let mut lead = vec![0xed, 0xab, 0xee, 0xdb];
        lead.resize(96, 0);
        lead.extend_from_slice(&[
            0x8e, 0xad, 0xe8, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        std::fs::write(&p, &lead).unwrap();
        assert!(matches!(hash_rpm(&p), Err(RepoError::NotRpm { .. })));
        assert!(Repo::scan(d.path()).is_err());
    }
}
