//! `rpmdb.sqlite` reader (Fedora 33+, Azure Linux, Amazon Linux 2023).
//!
//! Opened read-only with `immutable=1`: sqlite then takes no locks and never creates the
//! `-wal`/`-shm` files a normal read-only open would, so a read-only image, or an
//! auditor's evidence copy, stays untouched.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{DbError, RawHeader};

/// Why a database with a non-empty write-ahead log (`wal`, `len` bytes) is refused:
/// `immutable=1` ignores the log, while rpm, opening the database normally, would apply it,
/// so the two would see different packages. Shared by the reader of image layers.
pub fn pending_wal(wal: &str, len: u64) -> String {
    format!(
        "{wal} holds {len} bytes of uncommitted changes to the RPM database: rpm would read \
         them, an immutable read would not; checkpoint it (sqlite3 DB \
         'PRAGMA wal_checkpoint(TRUNCATE)') or remove it, then read again"
    )
}

pub fn read_blobs(path: &Path) -> Result<Vec<RawHeader>, DbError> {
    let err = |reason: String| DbError::Sqlite {
        path: path.to_path_buf(),
        reason,
    };
    // Fail on a missing file before sqlite sees it: with a URI it would report a vague
    // "unable to open database file".
    std::fs::metadata(path).map_err(|source| DbError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(m) = std::fs::symlink_metadata(Path::new(&wal)) {
        if m.len() > 0 || !m.is_file() {
            return Err(err(pending_wal(
                &Path::new(&wal).display().to_string(),
                m.len(),
            )));
        }
    }
    let uri = sqlite_uri(path);
    let conn = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err(e.to_string()))?;

    let has_packages: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'Packages'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| err(format!("not a readable sqlite database ({e})")))?;
    if !has_packages {
        return Err(err(
            "no Packages table: this sqlite file is not an RPM database".into(),
        ));
    }

    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(|e| err(format!("Packages table has an unexpected shape ({e})")))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for row in rows {
        let (hnum, blob) = row.map_err(|e| err(format!("reading Packages row: {e}")))?;
        let row = u32::try_from(hnum)
            .map_err(|_| err(format!("Packages row has an out-of-range hnum {hnum}")))?;
        out.push(RawHeader { row, blob });
    }
    Ok(out)
}

/// `file:` URI with `immutable=1`; reserved and non-ASCII path bytes are percent-encoded.
fn sqlite_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut s = String::from("file:");
    for b in abs.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' | 0x80..=0xff => s.push_str(&format!("%{b:02X}")),
            _ => s.push(b as char),
        }
    }
    s.push_str("?immutable=1&mode=ro");
    s
}
