//! Drift: what the files of an image are, compared with what the RPM headers declare,
//! like `rpm -Va` (see `docs/drift.md`).
//!
//! Every file a package lists is checked against its digest, size, mode (type and
//! permissions), symlink target, user and group, as the file's RPMVERIFY flags allow and
//! with rpm's exceptions: symlinks have no mode check and other files no link check,
//! non-regular files no content check, `%ghost` files no content or link check and no
//! type check (permissions still), missing `%ghost` and `%missingok` files are fine.
//! Modification times are not compared (images are routinely rebuilt with new mtimes).
//! Every other file in the image (overlays, generated configuration) is *unowned* and
//! listed with its SHA-256 (and SHA-1, for SPDX 2.3 File elements).
//!
//! Invariants: each file's content is read once (hard links share the result), streamed,
//! never loaded whole; nothing outside the image root is ever opened.

mod listing;
mod observe;
mod walk;

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::image::tree::Kind;
use crate::image::Image;
use crate::inventory::Inventory;
use crate::package::{file_flags, DigestAlgo, FileEntry, Package};

pub use listing::{Listing, ListingEntry};
pub use observe::{Digests, NameId, Names, Observed};

/// RPMVERIFY_* bits (rpmvf.h).
pub mod verify_bits {
    pub const FILEDIGEST: u32 = 1 << 0;
    pub const FILESIZE: u32 = 1 << 1;
    pub const LINKTO: u32 = 1 << 2;
    pub const USER: u32 = 1 << 3;
    pub const GROUP: u32 = 1 << 4;
    pub const MODE: u32 = 1 << 6;
}

/// One way a file differs from its header, in `rpm -V` column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// The file is not there (rpm: `missing`).
    Missing,
    /// Size (`S`).
    Size,
    /// Permissions or file type (`M`); a type change also gives [`Change::Type`].
    Mode,
    /// Content digest (`5`).
    Digest,
    /// Symlink target (`L`).
    Link,
    /// Owner (`U`).
    User,
    /// Group (`G`).
    Group,
    /// A different kind of object (a symlink where a file should be, ...).
    Type,
    /// The file could not be read (rpm prints `?` in the digest column).
    Unreadable,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Missing => "missing",
            Change::Size => "size",
            Change::Mode => "mode",
            Change::Digest => "digest",
            Change::Link => "link",
            Change::User => "user",
            Change::Group => "group",
            Change::Type => "type",
            Change::Unreadable => "unreadable",
        }
    }
}

/// How a changed file is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileClass {
    /// A packaged file that differs: the package was modified.
    Modified,
    /// A `%config` file that differs: expected of configuration, reported as config drift.
    Config,
    /// A `%doc`/`%license` file that is missing, as after `--excludedocs` (or
    /// `tsflags=nodocs`, which container images use): not tampering.
    ExcludedDoc,
}

impl FileClass {
    pub fn name(self) -> &'static str {
        match self {
            FileClass::Modified => "modified",
            FileClass::Config => "config",
            FileClass::ExcludedDoc => "excluded-doc",
        }
    }
}

/// A packaged file that differs from its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDrift {
    /// Absolute path, as the header lists it.
    pub path: String,
    pub class: FileClass,
    pub changes: Vec<Change>,
    /// What is there now: digest in the package's algorithm (regular files), size, mode,
    /// link target.
    pub actual_digest: Option<String>,
    pub actual_size: Option<u64>,
    pub actual_mode: Option<u32>,
    pub actual_link: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageStatus {
    /// Every file is what the header says (missing excluded docs aside).
    Intact,
    /// Only `%config` files differ.
    ConfigChanged,
    /// A file that is not `%config` differs or is missing.
    Modified,
}

impl PackageStatus {
    pub fn name(self) -> &'static str {
        match self {
            PackageStatus::Intact => "intact",
            PackageStatus::ConfigChanged => "config-changed",
            PackageStatus::Modified => "modified",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageDrift {
    pub status: PackageStatus,
    /// Changed files only, in header order.
    pub files: Vec<FileDrift>,
}

/// A file of the image that no package lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnownedFile {
    /// Absolute path.
    pub path: String,
    pub kind: Kind,
    /// st_mode (type and permissions).
    pub mode: u32,
    pub size: u64,
    pub sha256: Option<String>,
    pub sha1: Option<String>,
    pub link_target: Option<String>,
}

/// The result of a drift check, stored in [`Inventory::drift`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// Per package, in `Inventory::packages` order.
    pub packages: Vec<PackageDrift>,
    /// Non-directory entries no package lists, sorted by path.
    pub unowned: Vec<UnownedFile>,
    /// Distinct file contents hashed, and their bytes (hard links count once).
    pub files_hashed: u64,
    pub bytes_hashed: u64,
}

impl DriftReport {
    pub fn modified_count(&self) -> usize {
        self.packages
            .iter()
            .filter(|p| p.status == PackageStatus::Modified)
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// No package can own such a path and no program can open it by name: only a hostile
    /// or broken tree has one, and walking it would cost memory quadratic in its depth.
    #[error(
        "{prefix}...: a path {len} bytes long below the root, where PATH_MAX (4096, with the \
         leading / and the NUL) allows {max}; refused: no package can own it and no program \
         can open it by name"
    )]
    PathTooLong {
        /// The path's first bytes (the whole of it may be tens of kilobytes).
        prefix: String,
        len: usize,
        max: usize,
    },
}

/// Which digests a file's content needs: the owning packages' algorithms, or SHA-256 and
/// SHA-1 for an unowned file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Need(pub u8);

impl Need {
    pub const SHA1: u8 = 1 << 1;
    pub const SHA256: u8 = 1 << 3;
    pub fn algo_bit(a: DigestAlgo) -> u8 {
        match a {
            DigestAlgo::Md5 => 1 << 0,
            DigestAlgo::Sha1 => 1 << 1,
            DigestAlgo::Sha224 => 1 << 2,
            DigestAlgo::Sha256 => 1 << 3,
            DigestAlgo::Sha384 => 1 << 4,
            DigestAlgo::Sha512 => 1 << 5,
        }
    }
}

/// The paths the packages list. Each distinct path (relative, as the image tree spells it)
/// has a slot and the digests its content needs for the package files that list it; every
/// package file knows its path's slot. Built in one sequential pass over the packages, so
/// the walk asks one hash lookup per path and the comparison none.
pub(crate) struct Owners<'a> {
    /// foldhash, not SipHash: one lookup per file of the image and one insert per packaged
    /// file made SipHash a visible share of a check; foldhash's per-map random seed still
    /// keeps a hostile database from choosing colliding paths.
    map: HashMap<&'a str, (Need, u32), foldhash::fast::RandomState>,
    /// `slot_of[package][file]`.
    slot_of: Vec<Vec<u32>>,
    /// What a file no package lists needs.
    unowned: Need,
}

impl<'a> Owners<'a> {
    fn new(inv: &'a Inventory) -> Self {
        let mut map: HashMap<&str, (Need, u32), _> = HashMap::with_capacity_and_hasher(
            inv.packages.iter().map(|p| p.files.len()).sum(),
            foldhash::fast::RandomState::default(),
        );
        let mut slot_of = Vec::with_capacity(inv.packages.len());
        for p in &inv.packages {
            let bit = Need::algo_bit(p.file_digest_algo);
            let mut slots = Vec::with_capacity(p.files.len());
            for f in &p.files {
                let next = map.len() as u32;
                let e = map
                    .entry(f.path.trim_start_matches('/'))
                    .or_insert((Need(0), next));
                if f.verify_flags & verify_bits::FILEDIGEST != 0 && !f.is_ghost() {
                    e.0 .0 |= bit;
                }
                slots.push(e.1);
            }
            slot_of.push(slots);
        }
        Owners {
            map,
            slot_of,
            unowned: Need(Need::SHA256 | Need::SHA1),
        }
    }

    /// No owners, every file needing only SHA-256: for a plain listing of a tree.
    fn none() -> Owners<'static> {
        Owners {
            map: HashMap::default(),
            slot_of: Vec::new(),
            unowned: Need(Need::SHA256),
        }
    }

    pub(crate) fn slots(&self) -> usize {
        self.map.len()
    }

    /// Each slot's path.
    pub(crate) fn paths(&self) -> Vec<&'a str> {
        let mut v = vec![""; self.map.len()];
        for (path, &(_, slot)) in &self.map {
            v[slot as usize] = path;
        }
        v
    }

    /// The digests a path's content needs (its owners' algorithms, or SHA-256 and SHA-1
    /// for a file no package lists) and its slot when a package lists it.
    pub(crate) fn lookup(&self, path: &str) -> (Need, Option<u32>) {
        match self.map.get(path) {
            Some(&(n, slot)) => (n, Some(slot)),
            None => (self.unowned, None),
        }
    }
}

/// What is in the image: per owned path (by [`Owners`] slot) what is there, if anything,
/// and every path no package lists.
pub(crate) struct Observation {
    pub owned: Vec<Option<Observed>>,
    pub unowned: Vec<(String, Observed)>,
    pub files_hashed: u64,
    pub bytes_hashed: u64,
    /// Some name was not UTF-8 (its path is lossy).
    pub names_lossy: bool,
    /// The user and group names the observations refer to.
    pub names: observe::Names,
}

/// Checks a root filesystem directory.
pub fn check_root(inv: &Inventory, root: &std::path::Path) -> Result<DriftReport, DriftError> {
    let own = Owners::new(inv);
    let obs = walk::observe_root(root, &own, Need(0))?;
    Ok(compare(inv, &own, &obs))
}

/// Checks a root filesystem directory and also returns every entry the walk saw, each
/// regular file with its SHA-256: one walk serves both the drift check and whatever needs
/// the whole tree (`attest::rootfs::from_listing`), instead of reading every file twice.
pub fn check_root_listing(
    inv: &Inventory,
    root: &std::path::Path,
) -> Result<(DriftReport, Listing), DriftError> {
    let own = Owners::new(inv);
    let obs = walk::observe_root(root, &own, Need(Need::SHA256))?;
    let report = compare(inv, &own, &obs);
    Ok((report, listing::Listing::new(&own, obs)))
}

/// Every entry below a root directory, each regular file with its SHA-256, by the same
/// parallel walk as [`check_root`] (no packages involved).
pub fn list_root(root: &std::path::Path) -> Result<Listing, DriftError> {
    let own = Owners::none();
    let obs = walk::observe_root(root, &own, Need(Need::SHA256))?;
    Ok(listing::Listing::new(&own, obs))
}

/// Checks a container image (its layers are streamed again to hash the content).
pub fn check_image(inv: &Inventory, img: &Image) -> Result<DriftReport, DriftError> {
    let own = Owners::new(inv);
    let obs = observe::observe_image(img, &own)?;
    Ok(compare(inv, &own, &obs))
}

fn compare(inv: &Inventory, own: &Owners<'_>, obs: &Observation) -> DriftReport {
    let packages = inv
        .packages
        .par_iter()
        .zip(&own.slot_of)
        .map(|(p, slots)| check_package(p, &obs.names, |j| obs.owned[slots[j] as usize].as_ref()))
        .collect();
    let mut unowned: Vec<UnownedFile> = obs
        .unowned
        .iter()
        .filter(|(_, o)| o.kind != Kind::Dir)
        .map(|(path, o)| UnownedFile {
            path: format!("/{path}"),
            kind: o.kind,
            mode: o.mode,
            size: o.size,
            sha256: o.digests.hex(DigestAlgo::Sha256),
            sha1: o.digests.hex(DigestAlgo::Sha1),
            link_target: o.link.clone(),
        })
        .collect();
    unowned.sort_by(|a, b| a.path.cmp(&b.path));
    DriftReport {
        packages,
        unowned,
        files_hashed: obs.files_hashed,
        bytes_hashed: obs.bytes_hashed,
    }
}

fn check_package<'o>(
    p: &Package,
    names: &Names,
    obs: impl Fn(usize) -> Option<&'o Observed>,
) -> PackageDrift {
    let mut files = Vec::new();
    for (j, f) in p.files.iter().enumerate() {
        let o = obs(j);
        let changes = check_file(p, f, o, names);
        if changes.is_empty() {
            continue;
        }
        let class = if f.is_config() {
            FileClass::Config
        } else if changes == [Change::Missing] && (f.is_doc() || f.is_license()) {
            FileClass::ExcludedDoc
        } else {
            FileClass::Modified
        };
        files.push(FileDrift {
            path: f.path.clone(),
            class,
            changes,
            actual_digest: o.and_then(|o| o.digests.hex(p.file_digest_algo)),
            actual_size: o.filter(|o| o.kind == Kind::File).map(|o| o.size),
            actual_mode: o.map(|o| o.mode),
            actual_link: o.and_then(|o| o.link.clone()),
        });
    }
    let status = if files.iter().any(|f| f.class == FileClass::Modified) {
        PackageStatus::Modified
    } else if files.iter().any(|f| f.class == FileClass::Config) {
        PackageStatus::ConfigChanged
    } else {
        PackageStatus::Intact
    };
    PackageDrift { status, files }
}

/// The changes of one file, as `rpmfilesVerify` would find them (mtime, rdev and
/// capabilities aside); `names` resolves the observation's owner and group.
pub fn check_file(p: &Package, f: &FileEntry, o: Option<&Observed>, names: &Names) -> Vec<Change> {
    use verify_bits as v;
    let Some(o) = o else {
        return if f.flags & (file_flags::GHOST | file_flags::MISSINGOK) != 0 {
            Vec::new()
        } else {
            vec![Change::Missing]
        };
    };
    let mut flags = f.verify_flags;
    if o.kind == Kind::Symlink {
        flags &= !v::MODE;
    } else {
        flags &= !v::LINKTO;
    }
    if o.kind != Kind::File {
        flags &= !(v::FILEDIGEST | v::FILESIZE);
    }
    if f.is_ghost() {
        flags &= !(v::FILEDIGEST | v::FILESIZE | v::LINKTO);
    }
    let mut c = Vec::new();
    if flags & v::FILESIZE != 0 && o.size != f.size {
        c.push(Change::Size);
    }
    if flags & v::MODE != 0 {
        let (mut want, mut got) = (u32::from(f.mode), o.mode);
        if f.is_ghost() {
            want &= 0o7777;
            got &= 0o7777;
        }
        if want != got {
            c.push(Change::Mode);
        }
    }
    if flags & v::FILEDIGEST != 0 {
        let algo = p.file_digest_algo;
        match common_digest(p, f) {
            Some(want) if o.digests.matches(algo, want) => {}
            _ if o.unreadable && o.digests.raw(algo).is_none() => c.push(Change::Unreadable),
            _ => c.push(Change::Digest),
        }
    }
    if flags & v::LINKTO != 0 && o.link.as_deref() != Some(f.link_target.as_deref().unwrap_or("")) {
        c.push(Change::Link);
    }
    if flags & v::USER != 0 && o.user.is_some_and(|u| names.get(u) != f.user) {
        c.push(Change::User);
    }
    if flags & v::GROUP != 0 && o.group.is_some_and(|g| names.get(g) != f.group) {
        c.push(Change::Group);
    }
    if u32::from(f.mode) & 0o170000 != o.mode & 0o170000 && !f.is_ghost() {
        c.push(Change::Type);
    }
    c.sort();
    c
}

fn common_digest<'a>(p: &Package, f: &'a FileEntry) -> Option<&'a str> {
    crate::format::common::file_digest(p, f)
}
