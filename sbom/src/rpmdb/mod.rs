//! RPM database readers. Each backend turns a database file into raw header blobs, and
//! nothing else: decoding a blob is `rpm::header`'s job, so every backend is held to the
//! same header checks.
//!
//! Invariants: a reader never writes to, locks, or creates files beside the database (an
//! image may be read-only, and an auditor's copy must stay byte-identical); every length
//! and offset read from the file is checked before use; an unreadable database is an
//! error naming the file, never an empty list.

pub mod bdb;
pub mod ndb;
pub mod sqlite;

use std::path::{Path, PathBuf};

use crate::package::DbRowId;

/// One header blob as stored in a database, with the row it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHeader {
    pub row: DbRowId,
    pub blob: Vec<u8>,
}

/// Which on-disk format a database uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbFormat {
    Sqlite,
    BerkeleyDb,
    Ndb,
}

impl DbFormat {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::BerkeleyDb => "bdb",
            Self::Ndb => "ndb",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{path}: cannot read RPM database: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an RPM database of a known format (sqlite, BerkeleyDB hash, ndb)")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: corrupt {format} database at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        format: &'static str,
        offset: u64,
        reason: String,
    },
    #[error("{path}: sqlite RPM database unreadable: {reason}")]
    Sqlite { path: PathBuf, reason: String },
    #[error(
        "no RPM database under {root} (looked for usr/lib/sysimage/rpm, var/lib/rpm, usr/share/rpm)"
    )]
    NotFound { root: PathBuf },
}

/// Database file names by format, in the order rpm prefers them.
const DB_FILES: [(&str, DbFormat); 3] = [
    ("rpmdb.sqlite", DbFormat::Sqlite),
    ("Packages.db", DbFormat::Ndb),
    ("Packages", DbFormat::BerkeleyDb),
];

/// Directories rpm uses for its database, relative to the image root, most modern first.
pub const DB_DIRS: [&str; 3] = ["usr/lib/sysimage/rpm", "var/lib/rpm", "usr/share/rpm"];

/// Finds the RPM database of a root filesystem.
///
/// `var/lib/rpm` is often a symlink to `../../usr/lib/sysimage/rpm`; we search the
/// canonical directories in order, skip any that is a symlink, and take the first regular
/// database file, so a symlink is never followed out of the root.
pub fn locate(root: &Path) -> Result<(PathBuf, DbFormat), DbError> {
    for dir in DB_DIRS {
        let d = root.join(dir);
        // A symlinked directory is skipped here: the real directory is one of DB_DIRS.
        match std::fs::symlink_metadata(&d) {
            Ok(m) if m.is_dir() => {}
            _ => continue,
        }
        for (file, _) in DB_FILES {
            let p = d.join(file);
            if let Ok(m) = std::fs::symlink_metadata(&p) {
                if m.is_file() && m.len() > 0 {
                    let fmt = detect(&p)?;
                    return Ok((p, fmt));
                }
            }
        }
    }
    Err(DbError::NotFound {
        root: root.to_path_buf(),
    })
}

/// Detects a database's format from its magic bytes (not its name).
pub fn detect(path: &Path) -> Result<DbFormat, DbError> {
    use std::io::Read;
    let io = |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(DbFormat::Sqlite);
    }
    if head.starts_with(b"RpmP") {
        return Ok(DbFormat::Ndb);
    }
    // BerkeleyDB metadata page: magic at offset 12, hash = 0x061561, either byte order.
    if n >= 16 {
        let m = [head[12], head[13], head[14], head[15]];
        if u32::from_le_bytes(m) == 0x0006_1561 || u32::from_be_bytes(m) == 0x0006_1561 {
            return Ok(DbFormat::BerkeleyDb);
        }
    }
    Err(DbError::UnknownFormat {
        path: path.to_path_buf(),
    })
}

/// Reads every header blob of a database, in the database's own row order.
pub fn read_headers(path: &Path, format: DbFormat) -> Result<Vec<RawHeader>, DbError> {
    match format {
        DbFormat::Sqlite => sqlite::read_blobs(path),
        DbFormat::BerkeleyDb => bdb::read_blobs(path),
        DbFormat::Ndb => ndb::read_blobs(path),
    }
}
