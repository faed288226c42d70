//! Observing a root filesystem directory: a parallel walk (rayon over directories and over
//! the entries of each) with directory-relative system calls.
//!
//! Per regular file that needs a digest: `openat` (one path component, `O_NOFOLLOW`, so a
//! symlink is never followed and a FIFO never blocks us: `O_NONBLOCK`), `fstat` on the open
//! descriptor, one `read` into a reused per-thread buffer when the file is smaller than it,
//! `close`. Everything else is one `fstatat(AT_SYMLINK_NOFOLLOW)` (plus `readlinkat` for a
//! symlink). On the 291,000-file bench image the path-based walk (walkdir, then `lstat`,
//! `open` by full path and a read to EOF, a map of every observed path) took 5.1-5.4 s; this
//! one takes ~9 us of CPU a file, of which the four system calls are ~4.5 us on this VM
//! (see `docs/drift.md`). Owned paths land in their [`Owners`] slot: one hash lookup per
//! path, and the comparison needs none.
//!
//! `rustix` gives these calls without `unsafe`; std has no `openat`/`fstatat`.
//!
//! Invariants: nothing outside the root is opened: every call is relative to a directory
//! descriptor opened with `O_NOFOLLOW` below the root, names come from `getdents` (never
//! `..`), and symlinks are read, never followed. The stack does not grow with the tree's
//! depth: a directory [`DEFER_DEPTH`] levels below where its walk started is queued and
//! walked later from the top (a 1,000-level tree overflowed the stack before), and a path
//! longer than [`MAX_PATH`] is refused, which also bounds the memory the paths take. A
//! queued directory holds no descriptor: it is opened again one component at a time, each
//! `O_NOFOLLOW`, and must be the same directory (device and inode) it was when queued, so
//! the open descriptors stay bounded by the walk's depth and rayon's threads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

use super::observe::{hash_open_file, Digests, Names, Observed};
use super::{DriftError, Need, Observation, Owners};
use crate::image::tree::{path_prefix, Kind, MAX_PATH};

/// Levels one walk descends before queueing a directory for a fresh walk. A level took
/// 2-4 KiB of stack (rayon's 2 MiB worker stacks overflowed between 500 and 1,000 levels);
/// the deepest packaged path of the real CBL-Mariner 2.0 image has 9 components.
const DEFER_DEPTH: usize = 64;

/// A multiply-linked file, hashed after the walk once all its links are known.
struct Linked {
    key: (u64, u64),
    rel: String,
    slot: Option<u32>,
    need: Need,
    obs: Observed,
}

/// What one entry turned out to be.
enum Found {
    /// A path a package lists: its slot in [`Owners`].
    Owned(u32, Observed),
    Unowned(String, Observed),
    Linked(Linked),
}

struct Ctx<'a> {
    root: &'a Path,
    own: &'a Owners<'a>,
    /// Digests every regular file needs besides its owners' (SHA-256 for a full listing).
    extra: Need,
    names: Names,
    /// One per owned path; a path is met once, so each is set at most once.
    owned: Vec<OnceLock<Observed>>,
    files: AtomicU64,
    bytes: AtomicU64,
    /// A name was not UTF-8: its path string is lossy (drift reports it; a byte-exact
    /// listing cannot be built from it).
    lossy: AtomicBool,
    /// Finished batches (one per directory): one lock per directory, not per file.
    unowned: Mutex<Vec<Vec<(String, Observed)>>>,
    linked: Mutex<Vec<Linked>>,
    /// Directories left for a fresh walk ([`DEFER_DEPTH`]).
    deferred: Mutex<Vec<Deferred>>,
}

/// A directory queued for a fresh walk: its path as bytes (to open it again), as text (for
/// messages and lookups), and its identity when it was queued.
struct Deferred {
    raw: Vec<u8>,
    rel: String,
    id: (u64, u64),
}

fn io_err(ctx: &Ctx, rel: &str, e: rustix::io::Errno) -> DriftError {
    DriftError::Io {
        path: ctx.root.join(rel).display().to_string(),
        source: e.into(),
    }
}

/// `dir/name` would be longer than [`MAX_PATH`].
fn too_long(dir: &str, name: &str) -> Option<DriftError> {
    let len = dir.len() + 1 + name.len();
    (len > MAX_PATH).then(|| DriftError::PathTooLong {
        prefix: path_prefix(dir).to_owned(),
        len,
        max: MAX_PATH,
    })
}

fn join(dir: &str, name: &str) -> String {
    let mut s = String::with_capacity(dir.len() + 1 + name.len());
    join_into(&mut s, dir, name);
    s
}

fn join_into(s: &mut String, dir: &str, name: &str) {
    s.clear();
    if !dir.is_empty() {
        s.push_str(dir);
        s.push('/');
    }
    s.push_str(name);
}

fn kind_of(ft: FileType) -> Kind {
    match ft {
        FileType::Symlink => Kind::Symlink,
        FileType::Directory => Kind::Dir,
        FileType::RegularFile => Kind::File,
        FileType::CharacterDevice => Kind::CharDevice,
        FileType::BlockDevice => Kind::BlockDevice,
        // FIFOs, and sockets (which no package ships): reported as non-regular files.
        _ => Kind::Fifo,
    }
}

// The `Stat` field types differ between architectures; on x86_64 some are u64 already.
#[allow(clippy::unnecessary_cast)]
fn observed(ctx: &Ctx, st: &Stat) -> Observed {
    let kind = kind_of(FileType::from_raw_mode(st.st_mode as _));
    Observed {
        kind,
        mode: (st.st_mode as u32) & 0o177777,
        size: st.st_size.max(0) as u64,
        link: None,
        user: ctx.names.user(st.st_uid as u64),
        group: ctx.names.group(st.st_gid as u64),
        digests: Digests::default(),
        unreadable: false,
        rdev: st.st_rdev as u64,
        changed: false,
    }
}

/// A directory entry's name as a path component; a name that is not UTF-8 is noted.
fn name_str<'n>(ctx: &Ctx, name: &'n CStr) -> std::borrow::Cow<'n, str> {
    let s = String::from_utf8_lossy(name.to_bytes());
    if matches!(s, std::borrow::Cow::Owned(_)) {
        ctx.lossy.store(true, Ordering::Relaxed);
    }
    s
}

#[allow(clippy::unnecessary_cast)]
fn inode(st: &Stat) -> ((u64, u64), u64) {
    ((st.st_dev as u64, st.st_ino as u64), st.st_nlink as u64)
}

fn found(slot: Option<u32>, rel: &str, obs: Observed) -> Found {
    match slot {
        Some(s) => Found::Owned(s, obs),
        None => Found::Unowned(rel.to_owned(), obs),
    }
}

/// Observes one non-directory entry of `dir`; `rel` is its path (no allocation per file:
/// only unowned and multiply-linked paths are copied). Also says how many bytes were hashed,
/// if the content was.
fn entry(
    ctx: &Ctx,
    dir: BorrowedFd<'_>,
    name: &CStr,
    rel: &str,
    ft: FileType,
) -> Result<(Found, Option<u64>), DriftError> {
    let (all, slot) = ctx.own.lookup(rel);
    let need = if ft == FileType::RegularFile {
        Need(all.0 | ctx.extra.0)
    } else {
        Need(0)
    };
    if need.0 != 0 {
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        if let Ok(fd) = rustix::fs::openat(dir, name, flags, Mode::empty()) {
            let st = rustix::fs::fstat(&fd).map_err(|e| io_err(ctx, rel, e))?;
            let mut obs = observed(ctx, &st);
            if obs.kind != Kind::File {
                // Replaced by something else since the directory was read.
                return Ok((found(slot, rel, obs), None));
            }
            let (key, nlink) = inode(&st);
            if nlink > 1 {
                let l = Linked {
                    key,
                    rel: rel.to_owned(),
                    slot,
                    need,
                    obs,
                };
                return Ok((Found::Linked(l), None));
            }
            let mut hashed = None;
            match hash_open_file(std::fs::File::from(fd), obs.size, need) {
                Ok((d, len)) => {
                    obs.digests = d;
                    obs.changed = len != obs.size;
                    hashed = Some(len);
                }
                Err(_) => obs.unreadable = true,
            }
            return Ok((found(slot, rel, obs), hashed));
        }
    }
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| io_err(ctx, rel, e))?;
    let mut obs = observed(ctx, &st);
    match obs.kind {
        Kind::Symlink => {
            let target =
                rustix::fs::readlinkat(dir, name, Vec::new()).map_err(|e| io_err(ctx, rel, e))?;
            obs.link = Some(name_str(ctx, &target).into_owned());
        }
        // The open above failed, or the entry became a file since the directory was read:
        // unreadable, as rpm's `?`.
        Kind::File if all.0 | ctx.extra.0 != 0 => obs.unreadable = true,
        _ => {}
    }
    Ok((found(slot, rel, obs), None))
}

thread_local! {
    /// The path of the entry being observed, reused: one allocation per thread, not per file.
    static REL: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Walks the directory open as `fd` (relative path `rel`, "" for the root; `raw`, the same
/// path in bytes), `depth` levels below where this walk started.
fn walk_dir(ctx: &Ctx, fd: OwnedFd, rel: &str, raw: &[u8], depth: usize) -> Result<(), DriftError> {
    let mut dir = Dir::new(fd).map_err(|e| io_err(ctx, rel, e))?;
    // All names of the directory in one buffer (NUL-terminated), not one allocation each.
    let mut buf: Vec<u8> = Vec::new();
    let mut names: Vec<(usize, usize, FileType)> = Vec::new();
    for e in dir.by_ref() {
        let e = e.map_err(|e| io_err(ctx, rel, e))?;
        let n = e.file_name();
        if n == c"." || n == c".." {
            continue;
        }
        let start = buf.len();
        buf.extend_from_slice(n.to_bytes_with_nul());
        names.push((start, buf.len(), e.file_type()));
    }
    let dfd = dir.fd().map_err(|e| io_err(ctx, rel, e))?;
    let name_at =
        |s: usize, e: usize| CStr::from_bytes_with_nul(&buf[s..e]).expect("one NUL, at the end");
    for (s, e, ft) in names
        .iter_mut()
        .filter(|(_, _, ft)| *ft == FileType::Unknown)
    {
        // No d_type from this file system: ask, so that directories are still descended.
        let st = rustix::fs::statat(dfd, name_at(*s, *e), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| io_err(ctx, rel, e))?;
        *ft = FileType::from_raw_mode(st.st_mode as _);
    }
    let (subdirs, rest): (Vec<_>, Vec<_>) = names
        .into_iter()
        .partition(|(_, _, ft)| *ft == FileType::Directory);
    let (files, dirs) = rayon::join(
        || {
            // Small batches per task: files of one directory share its dentry, and a task
            // per file cost more in scheduling than the four system calls it makes.
            rest.into_par_iter()
                .with_min_len(16)
                .map(|(s, e, ft)| {
                    let name = name_at(s, e);
                    REL.with(|b| {
                        let mut b = b.borrow_mut();
                        let lossy = name_str(ctx, name);
                        if let Some(e) = too_long(rel, &lossy) {
                            return Err(e);
                        }
                        join_into(&mut b, rel, &lossy);
                        entry(ctx, dfd, name, &b, ft)
                    })
                })
                .collect::<Result<Vec<(Found, Option<u64>)>, DriftError>>()
        },
        || {
            subdirs.into_par_iter().try_for_each(|(s, e, _)| {
                let name = name_at(s, e);
                let lossy = name_str(ctx, name);
                if let Some(e) = too_long(rel, &lossy) {
                    return Err(e);
                }
                let r = join(rel, &lossy);
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let sub = rustix::fs::openat(dfd, name, flags, Mode::empty())
                    .map_err(|e| io_err(ctx, &r, e))?;
                let st = rustix::fs::fstat(&sub).map_err(|e| io_err(ctx, &r, e))?;
                let obs = observed(ctx, &st);
                let mut sub_raw = Vec::with_capacity(raw.len() + 1 + name.count_bytes());
                if !raw.is_empty() {
                    sub_raw.extend_from_slice(raw);
                    sub_raw.push(b'/');
                }
                sub_raw.extend_from_slice(name.to_bytes());
                if depth + 1 < DEFER_DEPTH {
                    walk_dir(ctx, sub, &r, &sub_raw, depth + 1)?;
                } else {
                    drop(sub);
                    ctx.deferred
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Deferred {
                            raw: sub_raw,
                            rel: r.clone(),
                            id: inode(&st).0,
                        });
                }
                match ctx.own.lookup(&r).1 {
                    Some(slot) => {
                        let _ = ctx.owned[slot as usize].set(obs);
                    }
                    None => ctx
                        .unowned
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(vec![(r, obs)]),
                }
                Ok::<(), DriftError>(())
            })
        },
    );
    dirs?;
    let mut unowned = Vec::new();
    let mut linked = Vec::new();
    // Counted per directory: two shared counters bumped per file kept a cache line
    // bouncing between the cores.
    let (mut files_hashed, mut bytes_hashed) = (0, 0);
    for (f, hashed) in files? {
        if let Some(len) = hashed {
            files_hashed += 1;
            bytes_hashed += len;
        }
        match f {
            Found::Owned(slot, obs) => {
                let _ = ctx.owned[slot as usize].set(obs);
            }
            Found::Unowned(rel, obs) => unowned.push((rel, obs)),
            Found::Linked(l) => linked.push(l),
        }
    }
    ctx.files.fetch_add(files_hashed, Ordering::Relaxed);
    ctx.bytes.fetch_add(bytes_hashed, Ordering::Relaxed);
    if !unowned.is_empty() {
        ctx.unowned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(unowned);
    }
    if !linked.is_empty() {
        ctx.linked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(linked);
    }
    Ok(())
}

/// Opens a queued directory again from the root, one component at a time, none of them
/// followed if it is a symlink, and checks that it is the directory that was queued.
fn reopen(ctx: &Ctx, top: BorrowedFd<'_>, d: &Deferred) -> Result<OwnedFd, DriftError> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut cur: Option<OwnedFd> = None;
    for component in d.raw.split(|&b| b == b'/') {
        let at = cur.as_ref().map_or(top, |f| f.as_fd());
        let next = rustix::fs::openat(at, component, flags, Mode::empty())
            .map_err(|e| io_err(ctx, &d.rel, e))?;
        cur = Some(next);
    }
    let fd = cur.expect("a queued directory is below the root");
    let st = rustix::fs::fstat(&fd).map_err(|e| io_err(ctx, &d.rel, e))?;
    if inode(&st).0 != d.id {
        return Err(DriftError::Io {
            path: ctx.root.join(&d.rel).display().to_string(),
            source: std::io::Error::other(
                "replaced by another directory during the check (the tree must not change \
                 while it is checked)",
            ),
        });
    }
    Ok(fd)
}

/// Walks a root directory (never following symlinks) and hashes what the owners need,
/// and `extra` of every regular file.
pub fn observe_root(root: &Path, own: &Owners<'_>, extra: Need) -> Result<Observation, DriftError> {
    let names = Names::parse(
        &read_small(root, "etc/passwd"),
        &read_small(root, "etc/group"),
    );
    let ctx = Ctx {
        root,
        own,
        extra,
        names,
        owned: (0..own.slots()).map(|_| OnceLock::new()).collect(),
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        lossy: AtomicBool::new(false),
        unowned: Mutex::new(Vec::new()),
        linked: Mutex::new(Vec::new()),
        deferred: Mutex::new(Vec::new()),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(root, flags, Mode::empty()).map_err(|e| DriftError::Io {
        path: root.display().to_string(),
        source: e.into(),
    })?;
    let top = fd.try_clone().map_err(|e| DriftError::Io {
        path: root.display().to_string(),
        source: e,
    })?;
    walk_dir(&ctx, fd, "", b"", 0)?;
    loop {
        let batch = std::mem::take(&mut *ctx.deferred.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            break;
        }
        batch.into_par_iter().try_for_each(|d| {
            let fd = reopen(&ctx, top.as_fd(), &d)?;
            walk_dir(&ctx, fd, &d.rel, &d.raw, 0)
        })?;
    }
    let Ctx {
        owned,
        files,
        bytes,
        unowned,
        linked,
        lossy,
        names,
        ..
    } = ctx;
    let mut owned: Vec<Option<Observed>> = owned.into_iter().map(OnceLock::into_inner).collect();
    let mut unowned: Vec<(String, Observed)> = unowned
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect();
    let linked = linked.into_inner().unwrap_or_else(|e| e.into_inner());
    // Hard links: every link of an inode is known only after the walk; the content is then
    // hashed once, through the lowest path, with every algorithm any of its links needs (an
    // MD5 package's file linked to an unowned one needs MD5, SHA-1 and SHA-256).
    let mut groups: HashMap<(u64, u64), (Need, &str)> = HashMap::new();
    for l in &linked {
        let g = groups
            .entry(l.key)
            .or_insert((Need(extra.0), l.rel.as_str()));
        g.0 .0 |= l.need.0;
        if l.rel.as_str() < g.1 {
            g.1 = l.rel.as_str();
        }
    }
    let hashed: HashMap<(u64, u64), Option<(Digests, u64)>> = groups
        .par_iter()
        .map(|(key, (want, path))| {
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let r = rustix::fs::open(root.join(path), flags, Mode::empty())
                .map_err(std::io::Error::from)
                .and_then(|fd| {
                    let f = std::fs::File::from(fd);
                    let size = f.metadata()?.len();
                    hash_open_file(f, size, *want)
                });
            (*key, r.ok())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let (mut files, mut bytes) = (files.into_inner(), bytes.into_inner());
    for (_, len) in hashed.values().flatten() {
        files += 1;
        bytes += len;
    }
    for mut l in linked {
        match hashed.get(&l.key) {
            Some(Some((d, len))) => {
                l.obs.digests = d.clone();
                l.obs.changed = *len != l.obs.size;
            }
            _ => l.obs.unreadable = true,
        }
        match l.slot {
            Some(s) => owned[s as usize] = Some(l.obs),
            None => unowned.push((l.rel, l.obs)),
        }
    }
    Ok(Observation {
        owned,
        unowned,
        files_hashed: files,
        bytes_hashed: bytes,
        names_lossy: lossy.into_inner(),
        names,
    })
}

/// A small text file of the root (`etc/passwd`), never through a symlink; empty if absent.
pub fn read_small(root: &Path, rel: &str) -> String {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(dir) = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()) else {
        return String::new();
    };
    let mut fd: OwnedFd = dir;
    let mut parts = rel.split('/').peekable();
    while let Some(p) = parts.next() {
        let last = parts.peek().is_none();
        let f = if last {
            flags
        } else {
            flags | OFlags::DIRECTORY
        };
        match rustix::fs::openat(fd.as_fd(), p, f, Mode::empty()) {
            Ok(next) => fd = next,
            Err(_) => return String::new(),
        }
    }
    let mut file = std::fs::File::from(fd);
    match file.metadata() {
        Ok(m) if m.is_file() && m.len() < (16 << 20) => {
            let mut b = Vec::new();
            let _ = file.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        }
        _ => String::new(),
    }
}
