//! Streaming one layer: open the blob, check its digest while reading, decompress (gzip,
//! zstd or none, from the magic bytes), enforce the size limits, and walk the tar entries
//! with normalized, checked paths. Nothing is written anywhere.
//!
//! The pipeline is `blob -> [stored-digest tap] -> decompressor -> [diff-id tap + size
//! limit] -> tar`. Both taps are shared handles so that, once the tar walk ends, the rest
//! of each stream can be drained and the digest compared: a blob is only accepted when
//! every byte of it was hashed.

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::blobs::{Digest, Hasher, Store};
use super::manifest::LayerRef;
use super::tree::Kind;
use super::{ImageError, Limits};

/// Hashes and counts what passes through; optionally charges a shared byte budget.
struct Tap {
    inner: Box<dyn Read>,
    hasher: Option<Hasher>,
    count: u64,
    budget: Option<(&'static str, std::sync::Arc<AtomicU64>)>,
    exceeded: bool,
}

#[derive(Clone)]
struct TapReader(Rc<RefCell<Tap>>);

impl Read for TapReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut t = self.0.borrow_mut();
        let n = t.inner.read(buf)?;
        if let Some(h) = t.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        t.count += n as u64;
        if let Some((_, b)) = &t.budget {
            // fetch_update never underflows: the budget is the bytes still allowed.
            let ok = b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(n as u64)
                })
                .is_ok();
            if !ok {
                t.exceeded = true;
                return Err(io::Error::other("decompressed size limit exceeded"));
            }
        }
        Ok(n)
    }
}

/// Reads `r` to its end. `io::copy` uses a stack buffer: this runs once per tar entry,
/// and a heap buffer per call cost more than the decompression on 300,000 small files.
fn drain(r: &mut impl Read) -> io::Result<()> {
    io::copy(r, &mut io::sink()).map(|_| ())
}

/// What a normalized tar entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Node(Kind),
    HardLink(String),
    /// `.wh.<name>`: delete `<name>` from lower layers (the path is the deleted one).
    Whiteout,
    /// `.wh..wh..opq`: hide the lower layers' contents of this directory.
    Opaque,
    /// PAX global headers and other entries with nothing to apply.
    Skip,
}

/// One tar entry, normalized, as the visitor sees it.
pub struct EntryInfo {
    pub index: u32,
    /// Normalized path (`usr/bin/x`); for whiteouts the path they delete, for an opaque
    /// marker its directory. Empty for the root directory itself.
    pub path: String,
    pub kind: EntryKind,
    pub perm: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub size: u64,
    pub link: Option<String>,
}

/// Normalizes a path inside a layer. `..` and absolute paths are refused (a well-formed
/// layer never has them, and a naive extractor would write outside its root).
pub fn normalize(raw: &str) -> Result<String, &'static str> {
    if raw.starts_with('/') {
        return Err("absolute path");
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("`..` component"),
            _ => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

fn classify(e: &tar::Entry<'_, impl Read>, index: u32) -> Result<EntryInfo, String> {
    let h = e.header();
    let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
    let path = normalize(&raw).map_err(|r| format!("{raw:?}: {r}"))?;
    let (dir, base) = super::tree::split_parent(&path);
    let link = e
        .link_name_bytes()
        .map(|l| String::from_utf8_lossy(&l).into_owned());
    use tar::EntryType as T;
    let et = h.entry_type();
    let (kind, path) = if base == ".wh..wh..opq" {
        (EntryKind::Opaque, dir.to_owned())
    } else if let Some(name) = base.strip_prefix(".wh.") {
        if name.starts_with(".wh.") || name.is_empty() {
            (EntryKind::Skip, path.clone()) // aufs bookkeeping (.wh..wh.plnk, ...)
        } else if dir.is_empty() {
            (EntryKind::Whiteout, name.to_owned())
        } else {
            (EntryKind::Whiteout, format!("{dir}/{name}"))
        }
    } else {
        let k = match et {
            T::Regular | T::Continuous | T::GNUSparse => EntryKind::Node(Kind::File),
            T::Directory => EntryKind::Node(Kind::Dir),
            T::Symlink => EntryKind::Node(Kind::Symlink),
            T::Char => EntryKind::Node(Kind::CharDevice),
            T::Block => EntryKind::Node(Kind::BlockDevice),
            T::Fifo => EntryKind::Node(Kind::Fifo),
            T::Link => {
                let target = link.clone().unwrap_or_default();
                let t = normalize(&target)
                    .map_err(|r| format!("hard link {raw:?} -> {target:?}: {r}"))?;
                if t.is_empty() {
                    return Err(format!("hard link {raw:?} to the root directory"));
                }
                EntryKind::HardLink(t)
            }
            _ => EntryKind::Skip,
        };
        (k, path)
    };
    if matches!(kind, EntryKind::Node(Kind::Symlink)) && link.as_deref().unwrap_or("").is_empty() {
        return Err(format!("symlink {raw:?} has no target"));
    }
    Ok(EntryInfo {
        index,
        path,
        kind,
        perm: h.mode().map_err(|e| format!("{raw:?}: bad mode: {e}"))? & 0o7777,
        uid: h.uid().unwrap_or(0),
        gid: h.gid().unwrap_or(0),
        uname: h
            .username_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
        gname: h
            .groupname_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
        size: e.size(),
        link: if et == T::Symlink { link } else { None },
    })
}

/// Streams layer `idx`, calling `visit` for every entry with a reader of its content.
/// Content the visitor leaves unread is read and counted here, so a short entry (a
/// truncated tar) is always noticed; then both digests are checked.
pub fn walk(
    store: &Store,
    lref: &LayerRef,
    idx: usize,
    limits: &Limits,
    budget: &std::sync::Arc<AtomicU64>,
    mut visit: impl FnMut(&EntryInfo, &mut dyn Read) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    let what = format!("layer {idx} ({})", lref.name);
    let (raw, _) = match &lref.stored {
        Some((d, _)) => store.open_blob(d)?,
        None => store
            .open_named(&lref.member)?
            .ok_or_else(|| ImageError::MissingBlob {
                blob: lref.member.clone(),
            })?,
    };
    let stored = Rc::new(RefCell::new(Tap {
        inner: raw,
        hasher: lref.stored.as_ref().map(|(d, _)| d.hasher()),
        count: 0,
        budget: None,
        exceeded: false,
    }));
    let mut buffered = BufReader::with_capacity(1 << 16, TapReader(stored.clone()));
    let magic = buffered
        .fill_buf()
        .map_err(|source| ImageError::Io {
            what: what.clone(),
            source,
        })?
        .to_vec();
    let decoded: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered).map_err(|source| {
                ImageError::Io {
                    what: what.clone(),
                    source,
                }
            })?,
        )
    } else if magic.starts_with(b"BZh") || magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
        return Err(ImageError::Unsupported {
            what,
            reason: "bzip2/xz layers are not supported (OCI defines gzip and zstd)".into(),
        });
    } else {
        Box::new(buffered)
    };
    let plain = Rc::new(RefCell::new(Tap {
        inner: decoded,
        hasher: lref.diff_id.as_ref().map(Digest::hasher),
        count: 0,
        budget: Some(("image", budget.clone())),
        exceeded: false,
    }));
    let result = walk_tar(TapReader(plain.clone()), &what, limits, &mut visit);
    // Finish both streams so every byte is hashed, whatever the walk said.
    let drained =
        drain(&mut TapReader(plain.clone())).and_then(|()| drain(&mut TapReader(stored.clone())));
    let check = |tap: &Rc<RefCell<Tap>>,
                 want: Option<(&Digest, Option<u64>)>,
                 blob: &str|
     -> Result<(), ImageError> {
        let Some((d, size)) = want else { return Ok(()) };
        let mut t = tap.borrow_mut();
        let got = t.hasher.take().map(Hasher::finish_hex).unwrap_or_default();
        if got != d.hex || size.is_some_and(|s| s != t.count) {
            return Err(ImageError::DigestMismatch {
                blob: blob.to_owned(),
                expected: format!("{d} ({} bytes)", size.map_or("?".into(), |s| s.to_string())),
                actual: format!("{}:{got} ({} bytes)", d.algo, t.count),
            });
        }
        Ok(())
    };
    if plain.borrow().exceeded {
        return Err(ImageError::TooLarge {
            what: format!("{what}: decompressed image content"),
            limit: limits.max_total,
        });
    }
    // A digest mismatch explains any other failure, so it is reported first.
    if drained.is_ok() {
        check(
            &stored,
            lref.stored.as_ref().map(|(d, s)| (d, *s)),
            &lref.name,
        )?;
    } else if let Some((d, s)) = &lref.stored {
        // The stream broke (bad compression); hash the raw blob alone to tell a tampered
        // blob from a corrupt one.
        let (mut r, _) = store.open_blob(d)?;
        let mut h = d.hasher();
        let mut n = 0u64;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let k = r.read(&mut buf).map_err(|source| ImageError::Io {
                what: what.clone(),
                source,
            })?;
            if k == 0 {
                break;
            }
            n += k as u64;
            h.update(&buf[..k]);
        }
        let got = h.finish_hex();
        if got != d.hex || s.is_some_and(|s| s != n) {
            return Err(ImageError::DigestMismatch {
                blob: lref.name.clone(),
                expected: d.to_string(),
                actual: format!("{}:{got} ({n} bytes)", d.algo),
            });
        }
    }
    result?;
    drained.map_err(|e| ImageError::Tar {
        what: what.clone(),
        entry: u64::MAX,
        reason: format!("corrupt or truncated layer stream: {e}"),
    })?;
    check(
        &plain,
        lref.diff_id.as_ref().map(|d| (d, None)),
        &format!("{} (uncompressed, diff_id)", lref.name),
    )?;
    Ok(())
}

fn walk_tar(
    r: TapReader,
    what: &str,
    limits: &Limits,
    visit: &mut dyn FnMut(&EntryInfo, &mut dyn Read) -> Result<(), ImageError>,
) -> Result<(), ImageError> {
    let mut ar = tar::Archive::new(r);
    let tar_err = |entry: u64, reason: String| ImageError::Tar {
        what: what.to_owned(),
        entry,
        reason,
    };
    let entries = ar.entries().map_err(|e| tar_err(0, e.to_string()))?;
    for (n, e) in (0_u64..).zip(entries) {
        let mut e = e.map_err(|e| {
            tar_err(
                n,
                format!("unreadable entry header (truncated or corrupt tar): {e}"),
            )
        })?;
        if n >= limits.max_entries {
            return Err(ImageError::TooLarge {
                what: format!("{what}: number of entries"),
                limit: limits.max_entries,
            });
        }
        let index = u32::try_from(n).map_err(|_| tar_err(n, "too many entries".into()))?;
        let info = classify(&e, index).map_err(|reason| ImageError::Hostile {
            what: what.to_owned(),
            entry: n,
            path: String::from_utf8_lossy(&e.path_bytes()).into_owned(),
            reason,
        })?;
        if info.size > limits.max_entry {
            return Err(ImageError::TooLarge {
                what: format!("{what}: entry {n} ({})", info.path),
                limit: limits.max_entry,
            });
        }
        let mut counted = Counted {
            inner: &mut e,
            n: 0,
        };
        visit(&info, &mut counted)?;
        drain(&mut counted).map_err(|err| tar_err(n, format!("{}: {err}", info.path)))?;
        if counted.n != info.size {
            return Err(tar_err(
                n,
                format!(
                    "{}: truncated tar: {} of {} content bytes",
                    info.path, counted.n, info.size
                ),
            ));
        }
    }
    Ok(())
}

struct Counted<'a, R: Read> {
    inner: &'a mut R,
    n: u64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn paths_normalize_or_are_refused() {
        assert_eq!(normalize("./usr//bin/./x").unwrap(), "usr/bin/x");
        assert_eq!(normalize("./").unwrap(), "");
        assert!(normalize("/etc/passwd").is_err());
        assert!(normalize("a/../../x").is_err());
        assert!(normalize("..").is_err());
    }
}
