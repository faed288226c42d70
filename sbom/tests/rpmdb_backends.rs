//! BerkeleyDB and ndb readers against real databases from real systems.
//!
//! The data lives outside the repository, in `../shared/realdata/rpmdb` (see its README).
//! When it is absent (a fresh clone) each test prints a SKIPPED line and returns; with
//! `CI=true` a missing directory fails the test instead, so CI cannot pass vacuously.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sbom::rpmdb::{self, bdb, ndb, DbError, DbFormat, RawHeader};

const REALDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/realdata/rpmdb");

/// The real-data directory, or `None` (after printing why) when a test should skip.
fn realdata() -> Option<PathBuf> {
    let dir = PathBuf::from(REALDATA);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but the real-data directory {REALDATA} is missing");
    }
    eprintln!("SKIPPED: ../shared not present ({REALDATA} is missing)");
    None
}

// ---------------------------------------------------------------------------------------
// TEST-ONLY minimal header reader. The real parser is `sbom::rpm::header`; this is just
// enough to name the packages in a blob, so these tests check the database readers on
// their own. Every access is bounds-checked and returns None rather than panicking.
// ---------------------------------------------------------------------------------------

/// (name, epoch, version, release, arch, sigmd5 hex); absent epoch/sigmd5 are "".
type Nevra = (String, String, String, String, String, String);

const TAG_SIGMD5: u32 = 261;
const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_BIN: u32 = 7;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Test-only: checks the blob's overall size and pulls out the identifying tags.
fn test_only_nevra(blob: &[u8]) -> Option<Nevra> {
    let il = be32(blob, 0)? as usize;
    let dl = be32(blob, 4)? as usize;
    let store = 8usize.checked_add(il.checked_mul(16)?)?;
    if store.checked_add(dl)? != blob.len() {
        return None;
    }
    let data = &blob[store..];
    // (type, offset, count) of a tag, from its 16-byte index entry.
    let find = |tag: u32| -> Option<(u32, usize, usize)> {
        (0..il).find_map(|i| {
            let e = 8 + 16 * i;
            (be32(blob, e)? == tag)
                .then(|| {
                    Some((
                        be32(blob, e + 4)?,
                        be32(blob, e + 8)? as usize,
                        be32(blob, e + 12)? as usize,
                    ))
                })
                .flatten()
        })
    };
    let string = |tag: u32| -> Option<String> {
        let (ty, off, _) = find(tag)?;
        if ty != TYPE_STRING {
            return None;
        }
        let rest = data.get(off..)?;
        let nul = rest.iter().position(|&b| b == 0)?;
        String::from_utf8(rest[..nul].to_vec()).ok()
    };
    let epoch = match find(TAG_EPOCH) {
        None => String::new(),
        Some((TYPE_INT32, off, 1)) => be32(data, off)?.to_string(),
        Some(_) => return None,
    };
    let sigmd5 = match find(TAG_SIGMD5) {
        None => String::new(),
        Some((TYPE_BIN, off, 16)) => hex::encode(data.get(off..off + 16)?),
        Some(_) => return None,
    };
    Some((
        string(TAG_NAME)?,
        epoch,
        string(TAG_VERSION)?,
        string(TAG_RELEASE)?,
        string(TAG_ARCH)?,
        sigmd5,
    ))
}

// ---------------------------------------------------------------------------------------

/// Reads an expected-packages TSV (header line naming the columns) into the same tuples.
fn expected(tsv: &Path) -> BTreeSet<Nevra> {
    let text = std::fs::read_to_string(tsv).unwrap_or_else(|e| panic!("{}: {e}", tsv.display()));
    let mut lines = text.lines();
    let cols: Vec<&str> = lines.next().expect("header line").split('\t').collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("{}: no column {name}", tsv.display()))
    };
    let (n, e, v, r, a, m) = (
        col("name"),
        col("epoch"),
        col("version"),
        col("release"),
        col("arch"),
        col("sigmd5"),
    );
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), cols.len(), "{}: bad line {l:?}", tsv.display());
            (
                f[n].to_string(),
                f[e].to_string(),
                f[v].to_string(),
                f[r].to_string(),
                f[a].to_string(),
                f[m].to_string(),
            )
        })
        .collect()
}

/// Decodes every blob (failing on any malformed one) and checks rows are unique and sorted.
fn decoded(headers: &[RawHeader]) -> BTreeSet<Nevra> {
    let rows: Vec<u32> = headers.iter().map(|h| h.row).collect();
    assert!(
        rows.windows(2).all(|w| w[0] < w[1]),
        "rows not strictly increasing: {rows:?}"
    );
    assert!(!rows.contains(&0), "row 0 is not a package: {rows:?}");
    let set: BTreeSet<Nevra> = headers
        .iter()
        .map(|h| {
            test_only_nevra(&h.blob)
                .unwrap_or_else(|| panic!("row {}: blob is not a well-formed header", h.row))
        })
        .collect();
    assert_eq!(
        set.len(),
        headers.len(),
        "two rows decode to the same package"
    );
    set
}

fn corrupt_reason(e: &DbError, path: &Path) -> String {
    match e {
        DbError::Corrupt {
            path: p, reason, ..
        } => {
            assert_eq!(p, path, "error names the wrong file");
            assert!(e.to_string().contains(&path.display().to_string()));
            reason.clone()
        }
        other => panic!("expected a Corrupt error, got {other:?}"),
    }
}

#[test]
fn bdb_rhel8_libuuid_matches_rpm_oracle() {
    let Some(dir) = realdata() else { return };
    let db = dir.join("rhel8-libuuid-bdb/Packages");
    assert_eq!(rpmdb::detect(&db).unwrap(), DbFormat::BerkeleyDb);
    let headers = bdb::read_blobs(&db).unwrap();
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].row, 1);
    let got = decoded(&headers);
    let want = expected(&dir.join("rhel8-libuuid-bdb/oracle/packages.tsv"));
    assert_eq!(got, want);
    // Same result through the format dispatcher.
    assert_eq!(
        rpmdb::read_headers(&db, DbFormat::BerkeleyDb).unwrap(),
        headers
    );
}

#[test]
fn ndb_sle15_bci_matches_expected_packages() {
    let Some(dir) = realdata() else { return };
    let db = dir.join("sle15-bci-ndb/Packages.db");
    assert_eq!(rpmdb::detect(&db).unwrap(), DbFormat::Ndb);
    let headers = ndb::read_blobs(&db).unwrap();
    let got = decoded(&headers);
    let want = expected(&dir.join("sle15-bci-ndb/expected-packages.tsv"));
    assert_eq!(want.len(), 35, "expected list changed under us");
    assert!(
        want.iter().all(|p| p.5.len() == 32),
        "expected list lacks sigmd5"
    );
    assert_eq!(got, want);
    assert_eq!(rpmdb::read_headers(&db, DbFormat::Ndb).unwrap(), headers);
}

#[test]
fn negative_bdb_corrupt_is_an_error() {
    // An 8-byte text file ("CORRUPT\n") named Packages.
    let Some(dir) = realdata() else { return };
    let db = dir.join("negative/bdb-corrupt/Packages");
    assert!(matches!(
        rpmdb::detect(&db),
        Err(DbError::UnknownFormat { .. })
    ));
    let e = bdb::read_blobs(&db).unwrap_err();
    let reason = corrupt_reason(&e, &db);
    assert!(reason.contains("too short"), "{reason}");
}

#[test]
fn negative_bdb_fail_list_pkg_is_an_error() {
    // A one-page BerkeleyDB *btree* database (magic 0x053162), not rpm's hash Packages.
    let Some(dir) = realdata() else { return };
    let db = dir.join("negative/bdb-fail-list-pkg/Packages");
    assert!(matches!(
        rpmdb::detect(&db),
        Err(DbError::UnknownFormat { .. })
    ));
    let e = bdb::read_blobs(&db).unwrap_err();
    let reason = corrupt_reason(&e, &db);
    assert!(reason.contains("btree"), "{reason}");
}

#[test]
fn wrong_reader_for_format_is_an_error() {
    let Some(dir) = realdata() else { return };
    let bdb_file = dir.join("rhel8-libuuid-bdb/Packages");
    let ndb_file = dir.join("sle15-bci-ndb/Packages.db");
    let sqlite_file = dir.join("fedora-36-tzdata/rpmdb.sqlite");
    for f in [&ndb_file, &sqlite_file] {
        corrupt_reason(&bdb::read_blobs(f).unwrap_err(), f);
    }
    for f in [&bdb_file, &sqlite_file] {
        corrupt_reason(&ndb::read_blobs(f).unwrap_err(), f);
    }
}

/// `bdb::read_blobs` or `ndb::read_blobs`.
type Reader = fn(&Path) -> Result<Vec<RawHeader>, DbError>;

/// Proper prefixes of a real database must be rejected (both files end exactly at their
/// last page/blob), without panicking. Every prefix is checked by the unit tests on small
/// synthetic files; here ~200 evenly spread lengths plus the lengths around the first
/// block/page boundaries and the last blocks keep the test fast on a 1.3 MB file.
fn assert_prefixes_rejected(file: &Path, read: Reader) {
    let bytes = std::fs::read(file).unwrap();
    let len = bytes.len();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join(file.file_name().unwrap());
    let mut lens: BTreeSet<usize> = (0..len).step_by((len / 200).max(1)).collect();
    for k in [16, 512, 4096] {
        for j in 1..=8 {
            lens.extend([k * j - 1, k * j, k * j + 1]);
            lens.extend([len.saturating_sub(k * j + 1), len.saturating_sub(k * j)]);
        }
    }
    lens.extend([0, 1, 7, 8, 15, 16, 31, 32, len - 1]);
    for n in lens.into_iter().filter(|&n| n < len) {
        std::fs::write(&cut, &bytes[..n]).unwrap();
        match read(&cut) {
            Err(DbError::Corrupt { .. }) => {}
            other => panic!("{}: prefix of {n} bytes gave {other:?}", file.display()),
        }
    }
}

#[test]
fn truncated_real_databases_are_errors() {
    let Some(dir) = realdata() else { return };
    assert_prefixes_rejected(&dir.join("rhel8-libuuid-bdb/Packages"), bdb::read_blobs);
    assert_prefixes_rejected(&dir.join("sle15-bci-ndb/Packages.db"), ndb::read_blobs);
}

#[test]
fn corrupted_real_databases_never_panic() {
    let Some(dir) = realdata() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, Reader); 2] = [
        ("rhel8-libuuid-bdb/Packages", bdb::read_blobs),
        ("sle15-bci-ndb/Packages.db", ndb::read_blobs),
    ];
    for (rel, read) in cases {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        let good = read(&dir.join(rel)).unwrap();
        let f = tmp.path().join("db");
        // Deterministic xorshift so failures reproduce.
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..300 {
            let mut d = bytes.clone();
            // Bias towards the structural start of the file, then anywhere.
            for _ in 0..3 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let span = if rng & 1 == 0 {
                    8192.min(d.len())
                } else {
                    d.len()
                };
                let at = (rng >> 8) as usize % span;
                d[at] = (rng >> 40) as u8;
            }
            std::fs::write(&f, &d).unwrap();
            if let (Ok(got), true) = (read(&f), rel.ends_with(".db")) {
                // ndb has checksums and a zero-free-space rule: a change it accepts must
                // not have changed what it returns.
                assert_eq!(got, good, "{rel}: corruption changed the result silently");
            }
        }
    }
}

/// Snapshot of a directory: every entry's name, size, mtime and bytes.
fn snapshot(dir: &Path) -> Vec<(String, std::time::SystemTime, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            let bytes = if m.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                m.modified().unwrap(),
                bytes,
            )
        })
        .collect();
    v.sort();
    v
}

fn assert_read_leaves_no_trace(src: &Path, format: DbFormat) {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join(src.file_name().unwrap());
    std::fs::copy(src, &copy).unwrap();
    // A read-only file also makes any attempt to open it for writing fail (unless root).
    let mut perms = std::fs::metadata(&copy).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&copy, perms).unwrap();
    let before = snapshot(tmp.path());
    assert_eq!(before.len(), 1);
    for _ in 0..2 {
        assert_eq!(rpmdb::detect(&copy).unwrap(), format);
        assert!(!rpmdb::read_headers(&copy, format).unwrap().is_empty());
    }
    assert_eq!(
        snapshot(tmp.path()),
        before,
        "reading changed the directory"
    );
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(src).unwrap());
}

#[test]
fn reading_bdb_never_writes() {
    let Some(dir) = realdata() else { return };
    assert_read_leaves_no_trace(
        &dir.join("rhel8-libuuid-bdb/Packages"),
        DbFormat::BerkeleyDb,
    );
}

#[test]
fn reading_ndb_never_writes() {
    let Some(dir) = realdata() else { return };
    assert_read_leaves_no_trace(&dir.join("sle15-bci-ndb/Packages.db"), DbFormat::Ndb);
}

#[test]
fn missing_database_is_an_io_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, read) in [
        ("Packages", bdb::read_blobs as Reader),
        ("Packages.db", ndb::read_blobs),
    ] {
        let p = tmp.path().join(name);
        match read(&p) {
            Err(e @ DbError::Io { .. }) => assert!(e.to_string().contains(name)),
            other => panic!("{name}: expected Io error, got {other:?}"),
        }
    }
}

#[test]
fn a_sqlite_database_with_pending_wal_changes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rpmdb.sqlite");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/sample/rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite"),
        &db,
    )
    .unwrap();
    assert_eq!(rpmdb::read_headers(&db, DbFormat::Sqlite).unwrap().len(), 9);
    // Not even a valid log: what matters is that rpm would try to apply it.
    std::fs::write(dir.path().join("rpmdb.sqlite-wal"), b"x").unwrap();
    let e = rpmdb::read_headers(&db, DbFormat::Sqlite).unwrap_err();
    assert!(matches!(e, DbError::Sqlite { .. }), "{e:?}");
    assert!(
        e.to_string().contains("rpmdb.sqlite-wal holds 1 bytes"),
        "{e}"
    );
    // Checkpointed (empty), the database reads again.
    std::fs::write(dir.path().join("rpmdb.sqlite-wal"), b"").unwrap();
    assert_eq!(rpmdb::read_headers(&db, DbFormat::Sqlite).unwrap().len(), 9);
}

/// A sqlite file made by the SQL `script`.
fn sqlite_with(script: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("rpmdb.sqlite");
    rusqlite::Connection::open(&p)
        .unwrap()
        .execute_batch(script)
        .unwrap();
    (d, p)
}

#[test]
fn sqlite_tables_that_are_not_rpms_are_refused_before_any_row_is_read() {
    // rpm's own schema reads (the row's blob is then a bad header, which is decode's job).
    let (_d, ok) = sqlite_with(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
         INSERT INTO Packages VALUES (1, x'00');",
    );
    assert_eq!(rpmdb::sqlite::read_blobs(&ok).unwrap()[0].blob, [0]);
    // A generated blob: 250 MB per row computed from an 8 KB file (the audit's abort).
    let (_d, generated) = sqlite_with(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY,
           blob BLOB GENERATED ALWAYS AS (zeroblob(250000000)) VIRTUAL);
         INSERT INTO Packages (hnum) VALUES (1);",
    );
    let e = rpmdb::sqlite::read_blobs(&generated)
        .unwrap_err()
        .to_string();
    assert!(e.contains("hidden or generated"), "{e}");
    // hnum not the primary key: duplicate rows possible (quadratic identifier work later).
    let (_d, no_pk) = sqlite_with(
        "CREATE TABLE Packages (hnum INTEGER, blob BLOB);
         INSERT INTO Packages VALUES (1, x'00'), (1, x'00');",
    );
    let e = rpmdb::sqlite::read_blobs(&no_pk).unwrap_err().to_string();
    assert!(
        e.contains("not rpm's") && e.contains("hnum INTEGER, blob BLOB"),
        "{e}"
    );
    // A blob longer than any header rpm can write is refused without fetching it.
    let (_d, huge) = sqlite_with(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL);
         INSERT INTO Packages VALUES (7, zeroblob(300000000));",
    );
    let e = rpmdb::sqlite::read_blobs(&huge).unwrap_err().to_string();
    assert!(
        e.contains("row 7") && e.contains("300000000-byte blob"),
        "{e}"
    );
}
