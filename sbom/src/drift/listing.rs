//! Every entry a root-directory walk saw, each regular file with its SHA-256: what a
//! digest of the whole tree (`attest::rootfs`) needs, taken from the walk the drift check
//! makes anyway.
//!
//! Invariant: a listing that is not an exact account of the tree says so
//! ([`Listing::incomplete`]); its consumers must then read the tree themselves or fail.

use super::observe::Observed;
use super::{Observation, Owners};
use crate::image::tree::Kind;
use crate::package::DigestAlgo;

/// One entry below the root (the root itself is not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    /// Relative to the root, no leading `/`.
    pub path: String,
    pub kind: Kind,
    /// st_mode: type bits and permissions.
    pub mode: u32,
    /// Size of a regular file (as `lstat` gives it for anything else).
    pub size: u64,
    /// Lower-case hex SHA-256 of a regular file's content.
    pub sha256: Option<String>,
    /// A symlink's target.
    pub link: Option<String>,
    /// st_rdev of a device node.
    pub rdev: u64,
}

/// Every entry of a root directory, in no particular order.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub entries: Vec<ListingEntry>,
    /// Why the listing is not exact, if it is not: a name that is not UTF-8, a file that
    /// could not be read or changed while it was read.
    pub incomplete: Option<String>,
}

impl Listing {
    pub(super) fn new(own: &Owners<'_>, obs: Observation) -> Listing {
        let paths = own.paths();
        let mut incomplete = obs
            .names_lossy
            .then(|| "a file name is not UTF-8".to_owned());
        let owned = obs
            .owned
            .into_iter()
            .enumerate()
            .filter_map(|(slot, o)| o.map(|o| (paths[slot].to_owned(), o)));
        let entries = owned
            .chain(obs.unowned)
            .map(|(path, o)| {
                if incomplete.is_none() {
                    incomplete = problem(&path, &o);
                }
                entry(path, o)
            })
            .collect();
        Listing {
            entries,
            incomplete,
        }
    }
}

fn problem(path: &str, o: &Observed) -> Option<String> {
    if o.kind != Kind::File {
        return None;
    }
    if o.unreadable || o.digests.raw(DigestAlgo::Sha256).is_none() {
        Some(format!("/{path}: could not be read"))
    } else if o.changed {
        Some(format!("/{path}: changed while it was read"))
    } else {
        None
    }
}

fn entry(path: String, o: Observed) -> ListingEntry {
    ListingEntry {
        sha256: o.digests.hex(DigestAlgo::Sha256),
        path,
        kind: o.kind,
        mode: o.mode,
        size: o.size,
        link: o.link,
        rdev: o.rdev,
    }
}
