//! Where an image's blobs are read from, and digest checking while they are read.
//!
//! Three stores: an OCI layout directory (`blobs/<algo>/<hex>`), an OCI archive (a tar of
//! such a directory) and a docker-archive (`docker save`: `manifest.json`, the config and
//! the layer tars by path). Archives are indexed once (member name -> offset and size) and
//! members are read in place by seeking: nothing is unpacked.
//!
//! Invariants: a blob path is only ever built from a validated digest (algorithm name and
//! lower-case hex of the right length), so a descriptor cannot name a file outside the
//! store; a blob whose bytes do not hash to its digest is an error naming the blob.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256, Sha512};

use super::ImageError;

/// A content digest, `sha256:<64 hex>` or `sha512:<128 hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub algo: &'static str,
    pub hex: String,
}

impl Digest {
    pub fn parse(s: &str) -> Option<Digest> {
        let (algo, hex) = s.split_once(':')?;
        let (algo, len) = match algo {
            "sha256" => ("sha256", 64),
            "sha512" => ("sha512", 128),
            _ => return None,
        };
        (hex.len() == len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then(
            || Digest {
                algo,
                hex: hex.to_owned(),
            },
        )
    }

    pub fn hasher(&self) -> Hasher {
        match self.algo {
            "sha512" => Hasher::Sha512(Sha512::new()),
            _ => Hasher::Sha256(Sha256::new()),
        }
    }

    pub fn of_sha256(bytes: &[u8]) -> Digest {
        Digest {
            algo: "sha256",
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algo, self.hex)
    }
}

pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// An opened member and its size.
pub type Member = (Box<dyn Read + Send>, u64);

/// Where blobs and named members live.
#[derive(Debug)]
pub enum Store {
    /// An OCI image layout directory.
    Dir(PathBuf),
    /// A tar archive (OCI archive or docker-archive), indexed by member name.
    Tar {
        path: PathBuf,
        members: HashMap<String, (u64, u64)>,
    },
}

/// Normalizes an archive member name (`./a//b` -> `a/b`); `None` for names with `..` or
/// absolute names, which no well-formed archive has.
pub fn member_name(raw: &str) -> Option<String> {
    if raw.starts_with('/') {
        return None;
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            _ => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

impl Store {
    /// Indexes the regular-file members of a tar archive. Member names with `..` or an
    /// absolute path are refused: the archive is hostile or broken.
    pub fn index_tar(path: &Path) -> Result<Store, ImageError> {
        let what = path.display().to_string();
        let io_err = |source| ImageError::Io {
            what: what.clone(),
            source,
        };
        let f = File::open(path).map_err(io_err)?;
        let mut ar = tar::Archive::new(f);
        let mut members = HashMap::new();
        let entries = ar.entries_with_seek().map_err(io_err)?;
        for (i, e) in entries.enumerate() {
            let e = e.map_err(|source| ImageError::Tar {
                what: what.clone(),
                entry: i as u64,
                reason: source.to_string(),
            })?;
            let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let name = member_name(&raw).ok_or_else(|| ImageError::Hostile {
                what: what.clone(),
                entry: i as u64,
                path: raw.clone(),
                reason: "archive member name is absolute or has a `..` component".into(),
            })?;
            if e.header().entry_type().is_file() {
                members.insert(name, (e.raw_file_position(), e.size()));
            }
        }
        Ok(Store::Tar {
            path: path.to_path_buf(),
            members,
        })
    }

    /// Opens a named member (`index.json`, `manifest.json`, `<hex>/layer.tar`) and its size.
    pub fn open_named(&self, name: &str) -> Result<Option<Member>, ImageError> {
        match self {
            Store::Dir(dir) => {
                let p = dir.join(name);
                match std::fs::symlink_metadata(&p) {
                    Ok(m) if m.is_file() => {
                        let f = File::open(&p).map_err(|source| ImageError::Io {
                            what: p.display().to_string(),
                            source,
                        })?;
                        Ok(Some((Box::new(f), m.len())))
                    }
                    _ => Ok(None),
                }
            }
            Store::Tar { path, members } => {
                let Some(&(off, size)) = members.get(name) else {
                    return Ok(None);
                };
                let mut f = File::open(path).map_err(|source| ImageError::Io {
                    what: path.display().to_string(),
                    source,
                })?;
                f.seek(SeekFrom::Start(off))
                    .map_err(|source| ImageError::Io {
                        what: format!("{}: {name}", path.display()),
                        source,
                    })?;
                Ok(Some((Box::new(f.take(size)), size)))
            }
        }
    }

    /// Opens the blob with this digest (`blobs/<algo>/<hex>`).
    pub fn open_blob(&self, d: &Digest) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        let name = format!("blobs/{}/{}", d.algo, d.hex);
        self.open_named(&name)?
            .ok_or_else(|| ImageError::MissingBlob {
                blob: d.to_string(),
            })
    }

    /// Reads a small member whole (JSON documents), refusing anything above `limit`.
    pub fn read_named(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, ImageError> {
        let Some((r, size)) = self.open_named(name)? else {
            return Ok(None);
        };
        read_limited(r, size, limit, name).map(Some)
    }

    /// Reads a JSON blob whole and checks its digest and descriptor size before it is parsed.
    pub fn read_blob(
        &self,
        d: &Digest,
        size: Option<u64>,
        limit: u64,
    ) -> Result<Vec<u8>, ImageError> {
        let (r, actual) = self.open_blob(d)?;
        let bytes = read_limited(r, actual, limit, &d.to_string())?;
        let mut h = d.hasher();
        h.update(&bytes);
        let got = h.finish_hex();
        if got != d.hex || size.is_some_and(|s| s != bytes.len() as u64) {
            return Err(ImageError::DigestMismatch {
                blob: d.to_string(),
                expected: format!("{d} ({} bytes)", size.map_or("?".into(), |s| s.to_string())),
                actual: format!("{}:{got} ({} bytes)", d.algo, bytes.len()),
            });
        }
        Ok(bytes)
    }

    pub fn describe(&self) -> String {
        match self {
            Store::Dir(p) | Store::Tar { path: p, .. } => p.display().to_string(),
        }
    }
}

fn read_limited(
    r: Box<dyn Read + Send>,
    size: u64,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    if size > limit {
        return Err(ImageError::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    let mut v = Vec::with_capacity(size as usize);
    r.take(limit + 1)
        .read_to_end(&mut v)
        .map_err(|source| ImageError::Io {
            what: what.to_owned(),
            source,
        })?;
    if v.len() as u64 > limit {
        return Err(ImageError::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_strictly() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert!(Digest::parse(&ok).is_some());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(Digest::parse(&format!("sha256:{}/../x", "a".repeat(60))).is_none());
        assert!(Digest::parse("md5:abc").is_none());
        assert_eq!(
            member_name("./blobs//sha256/x"),
            Some("blobs/sha256/x".into())
        );
        assert_eq!(member_name("../x"), None);
        assert_eq!(member_name("/x"), None);
    }
}
