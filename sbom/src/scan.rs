//! From an image (or a bare database) to an [`Inventory`]: locate the database, read the
//! blobs, decode them in parallel, split off imported keys, resolve dependencies.
//!
//! Invariant: any header that fails to decode fails the whole scan (naming the database
//! file and row); an SBOM that silently drops a package is worse than none.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::deps;
use crate::image::{Image, ImageError, InputKind, Limits, Platform};
use crate::inventory::{ImageSource, ImportedKey, Inventory, SourceKind};
use crate::osrelease::{self, OsRelease};
use crate::package::Package;
use crate::rpm::{self, header::Header, tags};
use crate::rpmdb::{self, DbError, DbFormat, RawHeader};

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{path}: {source}")]
    Header {
        path: PathBuf,
        #[source]
        source: rpm::DecodeError,
    },
    #[error("{path}: cannot read os-release: {source}")]
    OsRelease {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the database holds no packages (an empty or wrong database?)")]
    Empty { path: PathBuf },
    #[error("{0}: not a directory or RPM database file")]
    NotFound(PathBuf),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("{location}: no RPM database in the image (looked for {dirs})")]
    NoDbInImage { location: String, dirs: String },
    #[error("cannot make a private temporary copy of the image's RPM database: {0}")]
    TempCopy(std::io::Error),
    #[error(transparent)]
    Deps(#[from] deps::TooMuchWork),
}

/// Scans a root filesystem directory.
pub fn scan_root(root: &Path) -> Result<Inventory, ScanError> {
    scan_root_keeping(root, false).map(|(inv, _)| inv)
}

/// [`scan_root`], also returning the raw header blobs it read (in database order), for a
/// caller that checks their signatures without reading the database a second time.
pub fn scan_root_with_headers(root: &Path) -> Result<(Inventory, Vec<RawHeader>), ScanError> {
    scan_root_keeping(root, true)
}

fn scan_root_keeping(root: &Path, keep: bool) -> Result<(Inventory, Vec<RawHeader>), ScanError> {
    let (db, format) = rpmdb::locate(root)?;
    let distro = osrelease::read_from_root(root).map_err(|source| ScanError::OsRelease {
        path: root.join("etc/os-release"),
        source,
    })?;
    let rel = db
        .strip_prefix(root)
        .unwrap_or(&db)
        .to_string_lossy()
        .into_owned();
    let source = ImageSource {
        location: root.display().to_string(),
        kind: SourceKind::RootDir,
        rpmdb_path: rel,
        rpmdb_format: format,
        manifest_digest: None,
        config_digest: None,
        platform: None,
        layers: Vec::new(),
        escaping_links: Vec::new(),
    };
    scan_db_file(&db, format, source, distro, keep)
}

/// Scans a bare database file; `distro` comes from the caller (there is no os-release).
pub fn scan_db(path: &Path, distro: Option<OsRelease>) -> Result<Inventory, ScanError> {
    scan_db_keeping(path, distro, false).map(|(inv, _)| inv)
}

/// [`scan_db`], also returning the raw header blobs (see [`scan_root_with_headers`]).
pub fn scan_db_with_headers(
    path: &Path,
    distro: Option<OsRelease>,
) -> Result<(Inventory, Vec<RawHeader>), ScanError> {
    scan_db_keeping(path, distro, true)
}

fn scan_db_keeping(
    path: &Path,
    distro: Option<OsRelease>,
    keep: bool,
) -> Result<(Inventory, Vec<RawHeader>), ScanError> {
    let format = rpmdb::detect(path)?;
    let source = ImageSource {
        location: path.display().to_string(),
        kind: SourceKind::RpmDb,
        rpmdb_path: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rpmdb_format: format,
        manifest_digest: None,
        config_digest: None,
        platform: None,
        layers: Vec::new(),
        escaping_links: Vec::new(),
    };
    scan_db_file(path, format, source, distro, keep)
}

/// How to read a container image input.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// `os/arch[/variant]` to pick from a multi-platform index.
    pub platform: Option<Platform>,
    pub limits: Limits,
}

/// Database file names under each of `rpmdb::DB_DIRS`, in the order rpm prefers them.
const DB_FILES: [&str; 3] = ["rpmdb.sqlite", "Packages.db", "Packages"];

/// Scans a container image (OCI layout, OCI archive, docker-archive) without unpacking it:
/// the layers are applied in memory, and only the RPM database goes to disk, into a private
/// temporary directory (the database readers take a path), removed before returning.
pub fn scan_image(path: &Path, opts: &ImageOptions) -> Result<(Inventory, Image), ScanError> {
    scan_image_keeping(path, opts, false).map(|(inv, img, _)| (inv, img))
}

/// [`scan_image`], also returning the raw header blobs (see [`scan_root_with_headers`]).
pub fn scan_image_with_headers(
    path: &Path,
    opts: &ImageOptions,
) -> Result<(Inventory, Image, Vec<RawHeader>), ScanError> {
    scan_image_keeping(path, opts, true)
}

fn scan_image_keeping(
    path: &Path,
    opts: &ImageOptions,
    keep: bool,
) -> Result<(Inventory, Image, Vec<RawHeader>), ScanError> {
    let img = Image::open(path, opts.platform.as_ref(), opts.limits)?;
    let mut found = None;
    'outer: for dir in rpmdb::DB_DIRS {
        for file in DB_FILES {
            // Borrowed from the image: the database is not copied in memory.
            if let Some((real, bytes)) =
                img.file_content(&format!("{dir}/{file}"), opts.limits.max_entry)?
            {
                if !bytes.is_empty() {
                    found = Some((real, file, bytes));
                    break 'outer;
                }
            }
        }
    }
    let Some((real, file, bytes)) = found else {
        return Err(ScanError::NoDbInImage {
            location: path.display().to_string(),
            dirs: rpmdb::DB_DIRS.join(", "),
        });
    };
    if file == "rpmdb.sqlite" {
        // The log is not copied with the database: refuse here what `read_blobs` refuses.
        let wal = format!("{real}-wal");
        if let Some((_, log)) = img.read_file(&wal, opts.limits.max_entry)? {
            if !log.is_empty() {
                return Err(ScanError::Db(DbError::Sqlite {
                    path: path.to_path_buf(),
                    reason: rpmdb::sqlite::pending_wal(&format!("/{wal}"), log.len() as u64),
                }));
            }
        }
    }
    let mut distro = None;
    for rel in ["etc/os-release", "usr/lib/os-release"] {
        if let Some((p, b)) = img.read_file(rel, 64 * 1024).map_err(|e| match e {
            ImageError::TooLarge { what, .. } => ScanError::OsRelease {
                path: PathBuf::from(what),
                source: std::io::Error::other("too large for an os-release file"),
            },
            e => ScanError::Image(e),
        })? {
            let _ = p;
            distro = Some(osrelease::parse(&String::from_utf8_lossy(&b)));
            break;
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("sbom-rpmdb-")
        .tempdir()
        .map_err(ScanError::TempCopy)?;
    let db = tmp.path().join(file);
    std::fs::write(&db, &bytes).map_err(ScanError::TempCopy)?;
    drop(bytes);
    let format = rpmdb::detect(&db)?;
    let kind = match img.kind {
        InputKind::OciLayout => SourceKind::OciLayout,
        InputKind::OciArchive => SourceKind::OciArchive,
        InputKind::DockerArchive => SourceKind::DockerArchive,
    };
    let source = ImageSource {
        location: path.display().to_string(),
        kind,
        rpmdb_path: real,
        rpmdb_format: format,
        manifest_digest: img.manifest_digest.clone(),
        config_digest: Some(img.config_digest.clone()),
        platform: Some(img.platform.clone()),
        layers: img.layers.clone(),
        escaping_links: img.escaping_links.clone(),
    };
    let (inv, raws) =
        scan_db_file(&db, format, source, distro, keep).map_err(|e| relabel(e, &db, path))?;
    drop(tmp);
    Ok((inv, img, raws))
}

/// Errors about the private database copy name the image instead of the temp path.
fn relabel(e: ScanError, tmp: &Path, image: &Path) -> ScanError {
    match e {
        ScanError::Header { path, source } if path == tmp => ScanError::Header {
            path: image.to_path_buf(),
            source,
        },
        ScanError::Empty { path } if path == tmp => ScanError::Empty {
            path: image.to_path_buf(),
        },
        e => e,
    }
}

/// Scans a directory as a root, an image input as an image, or a file as a database.
pub fn scan_path(path: &Path, distro: Option<OsRelease>) -> Result<Inventory, ScanError> {
    scan_path_with(path, distro, &ImageOptions::default()).map(|(inv, _)| inv)
}

/// [`scan_path`] with image options; also returns the opened image, if it was one.
pub fn scan_path_with(
    path: &Path,
    distro: Option<OsRelease>,
    opts: &ImageOptions,
) -> Result<(Inventory, Option<Image>), ScanError> {
    if crate::image::detect(path).is_some() {
        let (mut inv, img) = scan_image(path, opts)?;
        if distro.is_some() {
            inv.distro = distro;
        }
        return Ok((inv, Some(img)));
    }
    scan_plain(path, distro).map(|inv| (inv, None))
}

fn scan_plain(path: &Path, distro: Option<OsRelease>) -> Result<Inventory, ScanError> {
    let meta = std::fs::metadata(path).map_err(|_| ScanError::NotFound(path.to_path_buf()))?;
    if meta.is_dir() {
        let mut inv = scan_root(path)?;
        if distro.is_some() {
            inv.distro = distro;
        }
        Ok(inv)
    } else {
        scan_db(path, distro)
    }
}

enum Decoded {
    Package(Box<Package>),
    Key(ImportedKey),
}

fn decode_one(raw: &RawHeader) -> Result<Decoded, rpm::DecodeError> {
    let pkg = rpm::decode(raw.row, &raw.blob)?;
    if !pkg.is_gpg_pubkey() {
        return Ok(Decoded::Package(Box::new(pkg)));
    }
    // The armored key lives in DESCRIPTION, which the package model does not keep.
    let h = Header::parse(&raw.blob).map_err(|source| rpm::DecodeError {
        row: raw.row,
        name: Some(pkg.name.clone()),
        source,
    })?;
    let armored = h
        .string(tags::DESCRIPTION)
        .map_err(|source| rpm::DecodeError {
            row: raw.row,
            name: Some(pkg.name.clone()),
            source,
        })?
        .map(Cow::into_owned)
        .unwrap_or_default();
    Ok(Decoded::Key(ImportedKey {
        db_row: raw.row,
        short_id: pkg.version,
        created_hex: pkg.release,
        summary: pkg.summary,
        armored,
    }))
}

/// Reads and decodes the database; the raw headers are returned only when `keep` (else
/// they are freed before the packages are sorted and resolved, which lowers the peak).
fn scan_db_file(
    path: &Path,
    format: DbFormat,
    source: ImageSource,
    distro: Option<OsRelease>,
    keep: bool,
) -> Result<(Inventory, Vec<RawHeader>), ScanError> {
    let raws = rpmdb::read_headers(path, format)?;
    if raws.is_empty() {
        return Err(ScanError::Empty {
            path: path.to_path_buf(),
        });
    }
    let decoded: Vec<Result<Decoded, rpm::DecodeError>> = raws.par_iter().map(decode_one).collect();
    let mut packages = Vec::with_capacity(decoded.len());
    let mut keys = Vec::new();
    for d in decoded {
        match d.map_err(|source| ScanError::Header {
            path: path.to_path_buf(),
            source,
        })? {
            Decoded::Package(p) => packages.push(*p),
            Decoded::Key(k) => keys.push(k),
        }
    }
    let raws = if keep { raws } else { Vec::new() };
    packages.par_sort_by(|a, b| {
        (
            a.name.as_str(),
            a.epoch,
            a.version.as_str(),
            a.release.as_str(),
            a.arch.as_str(),
            a.db_row,
        )
            .cmp(&(
                b.name.as_str(),
                b.epoch,
                b.version.as_str(),
                b.release.as_str(),
                b.arch.as_str(),
                b.db_row,
            ))
    });
    keys.sort_by(|a, b| (a.short_id.as_str(), a.db_row).cmp(&(b.short_id.as_str(), b.db_row)));
    let res = deps::resolve(&packages)?;
    let inv = Inventory {
        source,
        distro,
        packages,
        keys,
        depends_on: res.depends_on,
        unresolved: res.unresolved,
        drift: None,
    };
    Ok((inv, raws))
}
