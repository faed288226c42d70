//! The inventory of an image: everything an SBOM says, before any format is chosen.
//!
//! Invariants: `packages` holds real software only (never `gpg-pubkey` headers, which go to
//! `keys`), sorted by (name, evr, arch, row) so output is deterministic; every index in
//! `depends_on` and `unresolved` points into `packages`.

use serde::Serialize;

use crate::osrelease::OsRelease;
use crate::package::{Dependency, Package};
use crate::rpmdb::DbFormat;

/// What was scanned.
#[derive(Debug, Clone, Serialize)]
pub struct ImageSource {
    /// The path the user gave, as given (for display only; never in identifiers).
    pub location: String,
    pub kind: SourceKind,
    /// Database path relative to the image root, e.g. `usr/lib/sysimage/rpm/rpmdb.sqlite`.
    pub rpmdb_path: String,
    pub rpmdb_format: DbFormat,
    /// Content identity of the image when it has one (OCI manifest digest, `sha256:...`).
    pub manifest_digest: Option<String>,
    /// Digest of the image configuration (`sha256:...`; for a docker-archive, the image ID).
    pub config_digest: Option<String>,
    /// Container images: the platform chosen (`linux/amd64`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Container images: the layers applied, bottom first (blob digests, or member paths
    /// of a docker-archive).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// Symlinks whose target climbs above the image root: reported, never followed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escaping_links: Vec<crate::image::EscapingLink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A root filesystem directory.
    RootDir,
    /// A bare RPM database file, outside any image.
    RpmDb,
    /// An OCI image layout directory.
    OciLayout,
    /// A tar archive of an OCI image layout.
    OciArchive,
    /// A `docker save` archive.
    DockerArchive,
}

/// An OpenPGP key imported into the RPM database (a `gpg-pubkey` header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportedKey {
    pub db_row: u32,
    /// Short key id as rpm names it (the header's VERSION, 8 hex digits).
    pub short_id: String,
    /// Key creation time as rpm records it (the header's RELEASE, hex seconds).
    pub created_hex: String,
    /// The key's user id as rpm summarises it, e.g. `Fedora (36) <fedora-36-primary@...>`.
    pub summary: String,
    /// ASCII-armored key (the header's DESCRIPTION).
    pub armored: String,
}

/// A requirement of one package that no installed package provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unresolved {
    pub package: usize,
    pub requirement: Dependency,
}

#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub source: ImageSource,
    pub distro: Option<OsRelease>,
    pub packages: Vec<Package>,
    pub keys: Vec<ImportedKey>,
    /// `(a, b)`: package `a` requires something package `b` provides. Sorted, no duplicates,
    /// no self-edges.
    pub depends_on: Vec<(usize, usize)>,
    /// Requirements no installed package satisfies (`rpmlib(...)` excluded: rpm provides those).
    pub unresolved: Vec<Unresolved>,
    /// File drift against the RPM headers, when it was computed (`sbom --verify-files`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::drift::DriftReport>,
}

impl Inventory {
    /// Binary packages grouped by their SOURCERPM file name (sorted by name); each group
    /// lists package indexes in `packages` order.
    pub fn source_rpms(&self) -> Vec<(&str, Vec<usize>)> {
        let mut map: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, p) in self.packages.iter().enumerate() {
            if let Some(s) = p.source_rpm.as_deref() {
                map.entry(s).or_default().push(i);
            }
        }
        map.into_iter().collect()
    }
}
