//! What `verify image` was given, read once: a root filesystem directory, a bare RPM
//! database file, or a container image (OCI layout, OCI archive, docker-archive).
//!
//! Invariants: a container image is never unpacked to disk; only its RPM database is
//! copied, into a private temporary directory removed before returning (the database
//! readers take a path), exactly as `sbom` reads images. Problems with the input's
//! *content* are returned as [`LoadError`] so the caller can turn them into error
//! findings (fail closed); only "this is not an input at all" is a usage error.

use std::path::{Path, PathBuf};

use sbom::image::{Image, Limits, Platform};
use sbom::inventory::Inventory;
use sbom::rpmdb::RawHeader;

use crate::rpmsig::{self, DbSource};

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
    #[error("{image}: {what}: {source}")]
    Image {
        image: PathBuf,
        what: String,
        #[source]
        source: Box<sbom::image::ImageError>,
    },
    #[error("{image}: the image's RPM database {db} vanished between two reads")]
    DbVanished { image: PathBuf, db: String },
    #[error("cannot make a private copy of the image's RPM database: {0}")]
    TempCopy(#[source] std::io::Error),
    #[error(
        "{wal}: {size} bytes of uncommitted changes to the RPM database: rpm would read them, \
         so the database verified would not be the one rpm sees; checkpoint it (open the \
         database with sqlite3 and run PRAGMA wal_checkpoint(TRUNCATE)) or remove it, then verify again"
    )]
    PendingWal { wal: String, size: u64 },
}

/// A sqlite database is read immutable (never writing to the image), which ignores its
/// write-ahead log; rpm, opening it normally, would apply the log. A non-empty log means
/// two different package sets, so it fails closed.
fn refuse_pending_wal(db: &Path, shown: &str) -> Result<(), LoadError> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    match std::fs::symlink_metadata(Path::new(&wal)) {
        Ok(m) if m.len() > 0 || !m.is_file() => Err(LoadError::PendingWal {
            wal: format!("{shown}-wal"),
            size: m.len(),
        }),
        _ => Ok(()),
    }
}

/// Reads the headers (always) and, when `want_inventory`, the decoded packages.
pub fn load(
    path: &Path,
    kind: InputKind,
    opts: &ContainerOptions,
    want_inventory: bool,
) -> Result<Loaded, LoadError> {
    match kind {
        InputKind::Root => {
            let (src, raws) = rpmsig::read_root(path)?;
            refuse_pending_wal(&src.path, &src.path.display().to_string())?;
            let inventory = if want_inventory {
                Some(sbom::scan::scan_root(path).map_err(scan)?)
            } else {
                None
            };
            Ok(Loaded {
                kind,
                db_display: src
                    .path
                    .strip_prefix(path)
                    .unwrap_or(&src.path)
                    .display()
                    .to_string(),
                db_format: src.format,
                raws,
                inventory,
                image: None,
            })
        }
        InputKind::DbFile => {
            let (src, raws) = rpmsig::read_db_file(path)?;
            refuse_pending_wal(&src.path, &src.path.display().to_string())?;
            let inventory = if want_inventory {
                Some(sbom::scan::scan_db(path, None).map_err(scan)?)
            } else {
                None
            };
            Ok(loaded_db(kind, src, raws, inventory, None))
        }
        InputKind::Container => load_container(path, opts),
    }
}

fn scan(e: sbom::scan::ScanError) -> LoadError {
    LoadError::Scan(Box::new(e))
}

fn loaded_db(
    kind: InputKind,
    src: DbSource,
    raws: Vec<RawHeader>,
    inventory: Option<Inventory>,
    image: Option<Image>,
) -> Loaded {
    Loaded {
        kind,
        db_display: src.path.display().to_string(),
        db_format: src.format,
        raws,
        inventory,
        image,
    }
}

/// An image's packages always come with its inventory: sbom reads the layers once and the
/// database from them, and the raw headers come from the same database bytes.
fn load_container(path: &Path, opts: &ContainerOptions) -> Result<Loaded, LoadError> {
    let scan_opts = sbom::scan::ImageOptions {
        platform: opts.platform.clone(),
        limits: opts.limits,
    };
    let (inventory, image) = sbom::scan::scan_image(path, &scan_opts).map_err(scan)?;
    let db_path = inventory.source.rpmdb_path.clone();
    let bytes = match image.read_file(&db_path, opts.limits.max_entry) {
        Ok(Some((_, b))) => b,
        Ok(None) => {
            return Err(LoadError::DbVanished {
                image: path.to_path_buf(),
                db: db_path,
            })
        }
        Err(source) => {
            return Err(LoadError::Image {
                image: path.to_path_buf(),
                what: format!("/{db_path}"),
                source: Box::new(source),
            })
        }
    };
    let wal = format!("{db_path}-wal");
    match image.read_file(&wal, opts.limits.max_entry) {
        Ok(Some((_, b))) if !b.is_empty() => {
            return Err(LoadError::PendingWal {
                wal: format!("/{wal}"),
                size: b.len() as u64,
            })
        }
        Ok(_) => {}
        Err(source) => {
            return Err(LoadError::Image {
                image: path.to_path_buf(),
                what: format!("/{wal}"),
                source: Box::new(source),
            })
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("verify-rpmdb-")
        .tempdir()
        .map_err(LoadError::TempCopy)?;
    let name = Path::new(&db_path)
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "rpmdb".into());
    let copy = tmp.path().join(name);
    std::fs::write(&copy, &bytes).map_err(LoadError::TempCopy)?;
    drop(bytes);
    let (src, raws) = rpmsig::read_db_file(&copy)?;
    let src = DbSource {
        path: PathBuf::from(format!("/{db_path}")),
        format: src.format,
    };
    Ok(loaded_db(
        InputKind::Container,
        src,
        raws,
        Some(inventory),
        Some(image),
    ))
}
