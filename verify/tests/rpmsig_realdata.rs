//! RPM header signatures against real databases and real distribution keys
//! (`../shared/realdata`): CBL-Mariner 2.0 signed by Microsoft, Fedora 36 tzdata
//! signed by the Fedora 36 key; the wrong key; tampered copies of the database.

mod common;

use std::path::{Path, PathBuf};

use sbom::rpm::header::Header;
use sbom::rpm::tags;
use verify::rpmsig::{self, HeaderVerdict, IssueKind, Keyring};

fn mariner_db(rd: &Path) -> PathBuf {
    rd.join("rpmdb/cbl-mariner-2.0/rpmdb.sqlite")
}
fn tzdata_db(rd: &Path) -> PathBuf {
    rd.join("rpmdb/fedora-36-tzdata/rpmdb.sqlite")
}
fn microsoft_key(rd: &Path) -> PathBuf {
    rd.join("keys/microsoft/MICROSOFT-RPM-GPG-KEY")
}
fn fedora36_key(rd: &Path) -> PathBuf {
    rd.join("keys/fedora/RPM-GPG-KEY-fedora-36-primary")
}

fn verify_db(db: &Path, keys: &[PathBuf]) -> Vec<HeaderVerdict> {
    let ring = Keyring::from_files(keys).expect("keyring loads");
    let (_, raws) = rpmsig::read_db_file(db).expect("database reads");
    rpmsig::verify_headers(&raws, &ring, &|| {})
}

fn packages(v: &[HeaderVerdict]) -> impl Iterator<Item = &HeaderVerdict> {
    v.iter().filter(|v| !v.is_key)
}

fn kinds(v: &HeaderVerdict) -> Vec<IssueKind> {
    let mut k: Vec<IssueKind> = v.issues.iter().map(|i| i.kind).collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn every_mariner_package_verifies_against_the_microsoft_key() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    let verdicts = verify_db(&mariner_db(&rd), &[microsoft_key(&rd)]);
    let pkgs: Vec<_> = packages(&verdicts).collect();
    assert_eq!(pkgs.len(), 129, "README: 129 packages");
    for v in &pkgs {
        assert!(v.is_verified(), "{}: {:?}", v.subject(), v.issues);
        assert!(v.digest_checked, "{}: SHA256HEADER compared", v.subject());
        assert_eq!(v.good[0].key_id, "0CD9FED33135CE90", "{}", v.subject());
        assert_eq!(v.good[0].algorithm, "RSA/SHA256");
    }
}

#[test]
fn fedora_36_tzdata_verifies_against_the_fedora_36_key() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    let verdicts = verify_db(&tzdata_db(&rd), &[fedora36_key(&rd)]);
    let pkgs: Vec<_> = packages(&verdicts).collect();
    assert_eq!(pkgs.len(), 1);
    let v = pkgs[0];
    assert!(v.is_verified(), "{:?}", v.issues);
    assert_eq!(v.nevra.as_deref(), Some("tzdata-2022a-2.fc36.noarch"));
    assert_eq!(
        v.good[0].key_fingerprint,
        "53DED2CB922D8B8D9E63FD18999F7CBF38AB71F4"
    );
}

#[test]
fn with_the_wrong_key_every_package_is_an_unknown_key() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    // Mariner against all eleven Fedora keys, tzdata against Microsoft's and Fedora 35's.
    let fedora: Vec<PathBuf> = (30..=40)
        .map(|n| rd.join(format!("keys/fedora/RPM-GPG-KEY-fedora-{n}-primary")))
        .filter(|p| !p.ends_with("RPM-GPG-KEY-fedora-36-primary"))
        .collect();
    let mut all = verify_db(&mariner_db(&rd), &fedora);
    all.extend(verify_db(
        &tzdata_db(&rd),
        &[
            microsoft_key(&rd),
            rd.join("keys/fedora/RPM-GPG-KEY-fedora-35-primary"),
        ],
    ));
    let pkgs: Vec<_> = packages(&all).collect();
    assert_eq!(pkgs.len(), 130);
    for v in pkgs {
        assert!(
            !v.is_verified(),
            "{} verified with the wrong key",
            v.subject()
        );
        assert_eq!(
            kinds(v),
            vec![IssueKind::UnknownKey],
            "{}: {:?}",
            v.subject(),
            v.issues
        );
    }
}

/// Copies a database and lets `edit` change the blob of the row it picks.
fn tampered_copy(db: &Path, dir: &Path, edit: impl Fn(&mut Vec<u8>) -> bool) -> (PathBuf, i64) {
    let copy = dir.join("rpmdb.sqlite");
    std::fs::copy(db, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (hnum, mut blob) in rows {
        if edit(&mut blob) {
            conn.execute(
                "UPDATE Packages SET blob = ?1 WHERE hnum = ?2",
                rusqlite::params![blob, hnum],
            )
            .unwrap();
            drop(conn);
            return (copy, hnum);
        }
    }
    panic!("no row to tamper with");
}

/// Offset in the blob of the data of `tag` (first byte).
fn data_offset(blob: &[u8], tag: u32) -> Option<(usize, usize)> {
    let h = Header::parse(blob).ok()?;
    let e = *h.entry(tag)?;
    let il = u32::from_be_bytes(blob[0..4].try_into().unwrap()) as usize;
    Some((8 + 16 * il + e.offset, e.len))
}

fn is_package(blob: &[u8], name: &str) -> bool {
    Header::parse(blob).is_ok_and(|h| h.string(tags::NAME).ok().flatten().as_deref() == Some(name))
}

#[test]
fn one_byte_of_the_name_changed_is_a_bad_signature_and_a_digest_mismatch() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (copy, row) = tampered_copy(&mariner_db(&rd), tmp.path(), |blob| {
        if !is_package(blob, "curl") {
            return false;
        }
        let (at, _) = data_offset(blob, tags::NAME).unwrap();
        blob[at] = b'k'; // curl -> kurl, inside the immutable region
        true
    });
    let verdicts = verify_db(&copy, &[microsoft_key(&rd)]);
    let bad = verdicts.iter().find(|v| i64::from(v.row) == row).unwrap();
    assert_eq!(bad.name.as_deref(), Some("kurl"));
    assert_eq!(
        kinds(bad),
        vec![IssueKind::BadSignature, IssueKind::DigestMismatch],
        "{:?}",
        bad.issues
    );
    assert!(bad.good.is_empty());
    // Every other package is untouched and still verifies.
    for v in packages(&verdicts).filter(|v| i64::from(v.row) != row) {
        assert!(v.is_verified(), "{}: {:?}", v.subject(), v.issues);
    }
}

#[test]
fn one_byte_of_the_signature_mpi_changed_is_a_bad_signature() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (copy, row) = tampered_copy(&mariner_db(&rd), tmp.path(), |blob| {
        if !is_package(blob, "bash") {
            return false;
        }
        let (at, len) = data_offset(blob, tags::RSAHEADER).unwrap();
        blob[at + len - 1] ^= 0x01; // last byte of the RSA signature MPI
        true
    });
    let verdicts = verify_db(&copy, &[microsoft_key(&rd)]);
    let bad = verdicts.iter().find(|v| i64::from(v.row) == row).unwrap();
    assert_eq!(
        kinds(bad),
        vec![IssueKind::BadSignature],
        "{:?}",
        bad.issues
    );
    assert!(
        bad.issues[0].reason.contains("does not verify"),
        "{}",
        bad.issues[0].reason
    );
    assert_eq!(bad.issues[0].tag, Some("RSAHEADER"));
}

#[test]
fn a_changed_sha256header_alone_is_a_digest_mismatch() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    let ring = Keyring::from_files(&[microsoft_key(&rd)]).unwrap();
    let (_, raws) = rpmsig::read_db_file(&mariner_db(&rd)).unwrap();
    let mut blob = raws
        .iter()
        .find(|r| is_package(&r.blob, "bash"))
        .unwrap()
        .blob
        .clone();
    let (at, _) = data_offset(&blob, tags::SHA256HEADER).unwrap();
    blob[at] = if blob[at] == b'0' { b'1' } else { b'0' };
    let v = rpmsig::verify_header(1, &blob, &ring);
    // The signature covers the region, not SHA256HEADER, so it still verifies.
    assert_eq!(kinds(&v), vec![IssueKind::DigestMismatch], "{:?}", v.issues);
    assert_eq!(v.good.len(), 1);
}

#[test]
fn a_truncated_header_is_malformed_never_skipped() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    let ring = Keyring::from_files(&[microsoft_key(&rd)]).unwrap();
    let (_, raws) = rpmsig::read_db_file(&mariner_db(&rd)).unwrap();
    let blob = &raws[3].blob;
    let v = rpmsig::verify_header(4, &blob[..blob.len() - 1], &ring);
    assert_eq!(kinds(&v), vec![IssueKind::MalformedHeader]);
    assert!(!v.is_verified());
}
