//! in-toto links: a step's materials and products with their SHA-256 digests.
//!
//! Artifact names are paths relative to the base directory, `/`-separated, without `./`
//! (as `in-toto-record --base-path` names them). Directories are walked; regular files and
//! symlinks are artifacts. Invariants:
//! - symlinks are never followed; a symlink is recorded with the SHA-256 of its target
//!   text, so a root filesystem's absolute links can never make us hash a file of the
//!   machine we run on;
//! - only regular files are opened, with `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY`, and checked
//!   with `fstat` after the open: a FIFO, socket or device swapped in after the walk looked
//!   is an error, never a hang. FIFOs, sockets and devices found by the walk are not
//!   artifacts (as `in-toto-run`, which records only what `os.path.isfile` accepts); one
//!   named explicitly is an error;
//! - a name that is not UTF-8 is an error naming the path (artifact names are JSON
//!   strings; a lossy conversion would merge distinct files into one artifact), and so is
//!   any second path with the same artifact name.
//!
//! Files are hashed in parallel.

use std::collections::BTreeMap;
use std::fs::FileType;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::InTotoError;

/// A path for a message: as is when it is printable UTF-8, else Rust's escaped form
/// (`"a\xFF"`, `"\u{1b}[2J"`), so that a hostile name neither disappears into U+FFFD
/// nor drives the terminal.
fn shown(p: &Path) -> String {
    match p.to_str() {
        Some(s)
            if s.chars()
                .all(|c| matches!(c, '\\' | '"' | '\'') || c.escape_debug().count() == 1) =>
        {
            s.to_string()
        }
        _ => format!("{p:?}"),
    }
}

fn io(path: &Path, source: std::io::Error) -> InTotoError {
    InTotoError::Io {
        path: shown(path),
        source,
    }
}

/// Artifact name of `rel` (relative to the base): normalized, `/`-separated. `at` is the
/// path on disk, for the error.
fn artifact_name(rel: &Path, at: &Path) -> Result<String, InTotoError> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => match p.to_str() {
                Some(p) => parts.push(p),
                None => {
                    return Err(InTotoError::Description {
                        path: shown(at),
                        reason: "the name is not UTF-8; in-toto artifact names are JSON \
                                 strings, so it cannot be recorded"
                            .into(),
                    })
                }
            },
            Component::CurDir => {}
            _ => return Err(InTotoError::Description {
                path: shown(rel),
                reason:
                    "artifact paths must stay inside the base directory (no .., no absolute paths)"
                        .into(),
            }),
        }
    }
    Ok(parts.join("/"))
}

/// What an artifact is, by `lstat`: what its digest is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A regular file: its content.
    File,
    /// A symlink: its target text, never what it points to.
    Symlink,
}

fn kind_of(t: FileType) -> Option<Kind> {
    if t.is_file() {
        Some(Kind::File)
    } else if t.is_symlink() {
        Some(Kind::Symlink)
    } else {
        None
    }
}

fn type_name(t: FileType) -> &'static str {
    if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// Records artifacts: each path (relative to `base`) is a file, symlink or directory.
/// In a directory, FIFOs, sockets and devices are skipped (they have no content to
/// hash; `in-toto-run` skips them too); named on their own they are an error.
pub fn record(base: &Path, paths: &[PathBuf]) -> Result<BTreeMap<String, Value>, InTotoError> {
    let mut found: Vec<(String, PathBuf, Kind)> = Vec::new();
    for p in paths {
        let abs = base.join(p);
        let name = artifact_name(p, &abs)?;
        let meta = std::fs::symlink_metadata(&abs).map_err(|e| io(&abs, e))?;
        let t = meta.file_type();
        if t.is_dir() {
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
                let Some(kind) = kind_of(e.file_type()) else {
                    continue; // a directory (walked), or a FIFO, socket or device
                };
                let rel = e.path().strip_prefix(base).unwrap_or(e.path());
                found.push((artifact_name(rel, e.path())?, e.into_path(), kind));
            }
        } else {
            let kind = kind_of(t).ok_or_else(|| InTotoError::Description {
                path: shown(&abs),
                reason: format!(
                    "is a {}: only regular files, symlinks and directories can be recorded",
                    type_name(t)
                ),
            })?;
            found.push((name, abs, kind));
        }
    }
    // The same path named twice (`root` and `root/etc`) is one artifact; two paths
    // with one name would leave one of them out of the link.
    found.sort();
    found.dedup();
    if let Some(w) = found.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(InTotoError::Description {
            path: shown(&w[1].1),
            reason: format!(
                "has the same artifact name {:?} as {}",
                w[1].0,
                shown(&w[0].1)
            ),
        });
    }
    let hashed: Vec<Result<(String, Value), InTotoError>> = found
        .par_iter()
        .map(|(name, abs, kind)| {
            let hex = match kind {
                Kind::Symlink => {
                    let t = std::fs::read_link(abs).map_err(|e| io(abs, e))?;
                    hex::encode(Sha256::digest(t.as_os_str().as_bytes()))
                }
                Kind::File => hash_regular_file(abs)?,
            };
            Ok((name.clone(), json!({ "sha256": hex })))
        })
        .collect();
    hashed.into_iter().collect()
}

/// SHA-256 (lower-case hex) of a regular file's content. Opened without following a
/// symlink and without blocking, then checked with `fstat`: whatever replaced the file
/// since the walk looked (a FIFO, a device, a symlink) is an error, never a hang.
fn hash_regular_file(path: &Path) -> Result<String, InTotoError> {
    // Never through a symlink, never blocking (a FIFO swapped in opens at once and the
    // fstat below refuses it), never as a controlling terminal.
    use rustix::fs::{Mode, OFlags};
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let mut f = rustix::fs::open(path, flags, Mode::empty())
        .map(std::fs::File::from)
        .map_err(|e| io(path, e.into()))?;
    let t = f.metadata().map_err(|e| io(path, e))?.file_type();
    if !t.is_file() {
        return Err(InTotoError::Description {
            path: shown(path),
            reason: format!(
                "became a {} while the link was recorded; not hashed",
                type_name(t)
            ),
        });
    }
    let mut h = Sha256::new();
    // One buffer per thread: most files of an image are small.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 256 * 1024]);
    }
    BUF.with_borrow_mut(|buf| loop {
        match f.read(buf) {
            Ok(0) => return Ok(()),
            Ok(k) => h.update(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(path, e)),
        }
    })?;
    Ok(hex::encode(h.finalize()))
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
    fn a_file_swapped_after_the_walk_is_refused_not_waited_for() {
        // What hash_regular_file finds when a FIFO or symlink replaced the regular file
        // the walk saw: the open returns at once (O_NONBLOCK, O_NOFOLLOW) and fstat says no.
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let (tx, rx) = std::sync::mpsc::channel();
        let f = fifo.clone();
        std::thread::spawn(move || tx.send(hash_regular_file(&f).map_err(|e| e.to_string())));
        let e = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("opening a FIFO must not block")
            .unwrap_err();
        assert!(e.contains("became a FIFO"), "{e}");

        std::fs::write(d.path().join("real"), "x").unwrap();
        std::os::unix::fs::symlink("real", d.path().join("link")).unwrap();
        assert!(hash_regular_file(&d.path().join("link")).is_err());
        assert_eq!(
            hash_regular_file(&d.path().join("real")).unwrap(),
            hex::encode(Sha256::digest(b"x"))
        );
    }

    #[test]
    fn messages_show_hostile_names_escaped() {
        use std::ffi::OsStr;
        assert_eq!(shown(Path::new("root/etc/a b")), "root/etc/a b");
        assert_eq!(shown(Path::new("caf\u{e9}/x")), "caf\u{e9}/x");
        assert_eq!(shown(Path::new(OsStr::from_bytes(b"a\xff"))), "\"a\\xFF\"");
        for hostile in ["a\u{1b}[2J", "a\nb", "\u{202e}txt.exe", "a\u{200b}b"] {
            let s = shown(Path::new(hostile));
            assert!(s.starts_with('"') && s.is_ascii(), "{s}");
        }
    }

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
