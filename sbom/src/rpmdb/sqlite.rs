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

    check_schema(&conn).map_err(err)?;

    // A blob longer than any header rpm can write is refused before it is fetched.
    let mut stmt = conn
        .prepare(
            "SELECT hnum, length(blob), CASE WHEN length(blob) <= ?1 THEN blob END \
             FROM Packages ORDER BY hnum",
        )
        .map_err(|e| err(format!("Packages table has an unexpected shape ({e})")))?;
    let rows = stmt
        .query_map([MAX_BLOB], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
            ))
        })
        .map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for row in rows {
        let (hnum, len, blob) = row.map_err(|e| err(format!("reading Packages row: {e}")))?;
        let blob = blob.ok_or_else(|| match len {
            Some(len) => err(format!(
                "Packages row {hnum}: a {len}-byte blob, longer than any RPM header ({MAX_BLOB})"
            )),
            None => err(format!("Packages row {hnum}: no header blob")),
        })?;
        let row = u32::try_from(hnum)
            .map_err(|_| err(format!("Packages row has an out-of-range hnum {hnum}")))?;
        out.push(RawHeader { row, blob });
    }
    Ok(out)
}

/// Longest header blob rpm can write: 8 bytes, 0xffff index entries of 16, 0x0fffffff of data.
const MAX_BLOB: i64 = 8 + 16 * 0xffff + 0x0fff_ffff;

/// The Packages table must be the one rpm creates: `hnum INTEGER PRIMARY KEY` (so rows are
/// unique) and a stored `blob`. Anything else (a generated column computing
/// `zeroblob(250000000)` per row from an 8 KB file, hidden columns, duplicate rows) is
/// refused rather than read.
fn check_schema(conn: &Connection) -> Result<(), String> {
    let mut stmt = conn
        .prepare("SELECT name, upper(type), pk, hidden FROM pragma_table_xinfo('Packages')")
        .map_err(|e| format!("cannot read the Packages schema ({e})"))?;
    let cols = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the Packages schema ({e})"))?;
    let expected = [
        ("hnum".to_owned(), "INTEGER".to_owned(), 1, 0),
        ("blob".to_owned(), "BLOB".to_owned(), 0, 0),
    ];
    if cols != expected {
        let found: Vec<String> = cols
            .iter()
            .map(|(n, t, pk, h)| {
                let mut c = format!("{n} {t}");
                if *pk != 0 {
                    c.push_str(" PRIMARY KEY");
                }
                if *h != 0 {
                    c.push_str(" (hidden or generated)");
                }
                c
            })
            .collect();
        return Err(format!(
            "the Packages table is not rpm's (hnum INTEGER PRIMARY KEY, blob BLOB): it has {}",
            found.join(", ")
        ));
    }
    Ok(())
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
