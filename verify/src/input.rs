//! What `verify image` was given, read once: a root filesystem directory, a bare RPM
//! database file, or a container image (OCI layout, OCI archive, docker-archive).
//!
//! Invariants: a container image is never unpacked to disk; only its RPM database is
//! copied (by `sbom::scan`), into a private temporary directory removed before returning.
//! The database is read once: the headers whose signatures are checked are the ones the
//! packages were decoded from. Problems with the input's
//! *content* are returned as [`LoadError`] so the caller can turn them into error
//! findings (fail closed); only "this is not an input at all" is a usage error.

use std::path::Path;

use sbom::image::{Image, Limits, Platform};
use sbom::inventory::Inventory;
use sbom::rpmdb::RawHeader;

use crate::rpmsig;

/// The three kinds of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Root,
    DbFile,
    Container,
}

impl InputKind {
    /// Classifies `path`; `None` when it is none of the three.
    pub fn of(path: &Path) -> Option<InputKind> {
        if sbom::image::detect(path).is_some() {
            Some(InputKind::Container)
        } else if path.is_dir() {
            Some(InputKind::Root)
        } else if path.is_file() {
            Some(InputKind::DbFile)
        } else {
            None
        }
    }
}

/// How to open a container image.
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    pub platform: Option<Platform>,
    pub limits: Limits,
}

/// The input, read.
pub struct Loaded {
    pub kind: InputKind,
    /// The database's path as shown in reports: relative to the root, the path inside the
    /// image, or the file itself.
    pub db_display: String,
    pub db_format: sbom::rpmdb::DbFormat,
    pub raws: Vec<RawHeader>,
    /// Decoded packages; read for roots and images when `want_inventory` asked for it.
    pub inventory: Option<Inventory>,
    /// The opened container image (for the drift check over its layers).
    pub image: Option<Image>,
}

/// The input's content could not be read; becomes an error finding.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Db(#[from] rpmsig::RpmSigError),
    #[error(transparent)]
    Scan(Box<sbom::scan::ScanError>),
}

/// Reads the headers (always) and, when `want_inventory`, the decoded packages, from one
/// read of the database (sbom's scan keeps the raw headers for the signature checks).
pub fn load(
    path: &Path,
    kind: InputKind,
    opts: &ContainerOptions,
    want_inventory: bool,
) -> Result<Loaded, LoadError> {
    let scan = |e| LoadError::Scan(Box::new(e));
    let (inventory, raws, image) = match (kind, want_inventory) {
        (InputKind::Root, false) => {
            let (src, raws) = rpmsig::read_root(path)?;
            let rel = src.path.strip_prefix(path).unwrap_or(&src.path);
            return Ok(loaded(
                kind,
                rel.display().to_string(),
                src.format,
                raws,
                None,
                None,
            ));
        }
        (InputKind::DbFile, false) => {
            let (src, raws) = rpmsig::read_db_file(path)?;
            let shown = src.path.display().to_string();
            return Ok(loaded(kind, shown, src.format, raws, None, None));
        }
        (InputKind::Root, true) => {
            let (inv, raws) = sbom::scan::scan_root_with_headers(path).map_err(scan)?;
            (inv, raws, None)
        }
        (InputKind::DbFile, true) => {
            let (inv, raws) = sbom::scan::scan_db_with_headers(path, None).map_err(scan)?;
            (inv, raws, None)
        }
        // An image's packages always come with its inventory: its layers are read once.
        (InputKind::Container, _) => {
            let scan_opts = sbom::scan::ImageOptions {
                platform: opts.platform.clone(),
                limits: opts.limits,
            };
            let (inv, img, raws) =
                sbom::scan::scan_image_with_headers(path, &scan_opts).map_err(scan)?;
            (inv, raws, Some(img))
        }
    };
    let shown = match kind {
        InputKind::Container => format!("/{}", inventory.source.rpmdb_path),
        InputKind::DbFile => path.display().to_string(),
        InputKind::Root => inventory.source.rpmdb_path.clone(),
    };
    let format = inventory.source.rpmdb_format;
    Ok(loaded(kind, shown, format, raws, Some(inventory), image))
}

fn loaded(
    kind: InputKind,
    db_display: String,
    db_format: sbom::rpmdb::DbFormat,
    raws: Vec<RawHeader>,
    inventory: Option<Inventory>,
    image: Option<Image>,
) -> Loaded {
    Loaded {
        kind,
        db_display,
        db_format,
        raws,
        inventory,
        image,
    }
}
