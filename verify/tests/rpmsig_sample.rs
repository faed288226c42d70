//! The project's sample image (`testdata/sample`, built by the real rpm with an
//! RSA-4096 and an Ed25519 test key) and agreement with Debian's `rpmkeys --checksig`
//! on the same `.rpm` files, untouched and tampered.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sbom::rpm::header::Header;
use sbom::rpm::tags;
use verify::rpmsig::{self, rpmfile, HeaderVerdict, IssueKind, Keyring};

fn keys() -> Vec<PathBuf> {
    let k = common::sample_dir().join("keys");
    vec![
        k.join("RPM-GPG-KEY-test-rsa4096.asc"),
        k.join("RPM-GPG-KEY-test-ed25519.asc"),
    ]
}

#[test]
fn the_sample_image_verifies_with_rsa_and_eddsa_signatures() {
    let ring = Keyring::from_files(&keys()).unwrap();
    let (src, raws) = rpmsig::read_root(&common::sample_dir().join("rootfs")).unwrap();
    assert!(src.path.ends_with("usr/lib/sysimage/rpm/rpmdb.sqlite"));
    let verdicts = rpmsig::verify_headers(&raws, &ring, &|| {});
    let by_name: BTreeMap<String, &HeaderVerdict> = verdicts
        .iter()
        .filter(|v| !v.is_key)
        .map(|v| (v.name.clone().unwrap(), v))
        .collect();
    assert_eq!(
        verdicts.iter().filter(|v| v.is_key).count(),
        2,
        "two gpg-pubkey headers"
    );
    let algo = |n: &str| {
        let v = by_name[n];
        assert!(v.is_verified(), "{n}: {:?}", v.issues);
        (v.good[0].tag, v.good[0].algorithm.as_str())
    };
    for n in ["filesystem", "bash", "sample-tools", "azurelinux-repos"] {
        assert_eq!(algo(n), ("RSAHEADER", "RSA/SHA256"), "{n}");
    }
    for n in ["openssl-libs", "ca-certificates"] {
        assert_eq!(algo(n), ("DSAHEADER", "EdDSA/SHA256"), "{n}");
    }
    let unsigned = by_name["local-config"];
    assert_eq!(unsigned.issues.len(), 1);
    assert_eq!(unsigned.issues[0].kind, IssueKind::Unsigned);
    assert!(
        unsigned.digest_checked,
        "an unsigned header still has its SHA256HEADER checked"
    );
}

#[test]
fn with_only_the_rsa_key_the_eddsa_packages_are_unknown_key() {
    let ring = Keyring::from_files(&keys()[..1]).unwrap();
    let (_, raws) = rpmsig::read_root(&common::sample_dir().join("rootfs")).unwrap();
    for v in rpmsig::verify_headers(&raws, &ring, &|| {}) {
        match v.name.as_deref().unwrap() {
            "openssl-libs" | "ca-certificates" => {
                assert_eq!(v.issues.len(), 1);
                assert_eq!(v.issues[0].kind, IssueKind::UnknownKey);
                assert!(
                    v.issues[0]
                        .reason
                        .contains("D809498BF6F9262ABA63F5AA5068A1B4D56BE751"),
                    "{}",
                    v.issues[0].reason
                );
            }
            "local-config" | "gpg-pubkey" => {}
            n => assert!(v.is_verified(), "{n}: {:?}", v.issues),
        }
    }
}

/// rpm's verdict on one file, reduced to what we also report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    NoKey,
    Bad,
    Unsigned,
}

fn ours(v: &HeaderVerdict) -> (Verdict, bool) {
    let has = |k| v.issues.iter().any(|i| i.kind == k);
    let sig = if has(IssueKind::BadSignature) {
        Verdict::Bad
    } else if has(IssueKind::UnknownKey) {
        Verdict::NoKey
    } else if has(IssueKind::Unsigned) {
        Verdict::Unsigned
    } else {
        assert!(v.is_verified(), "{:?}", v.issues);
        Verdict::Ok
    };
    (sig, !has(IssueKind::DigestMismatch))
}

/// `rpmkeys --checksig -v` per file: the signature verdict and whether the header
/// SHA-256 digest is OK.
fn rpms(dbpath: &Path, files: &[PathBuf]) -> Vec<(Verdict, bool)> {
    files
        .iter()
        .map(|f| {
            let out = Command::new("rpmkeys")
                .arg("--dbpath")
                .arg(dbpath)
                .args(["--checksig", "-v"])
                .arg(f)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let sig_lines: Vec<&str> = text
                .lines()
                .filter(|l| l.contains(" Signature, key ID "))
                .collect();
            let sig = if sig_lines.iter().any(|l| l.ends_with(": BAD")) {
                Verdict::Bad
            } else if sig_lines.iter().any(|l| l.ends_with(": NOKEY")) {
                Verdict::NoKey
            } else if sig_lines.is_empty() {
                Verdict::Unsigned
            } else {
                assert!(sig_lines.iter().all(|l| l.ends_with(": OK")), "{text}");
                Verdict::Ok
            };
            let digest_ok = text.lines().any(|l| l.trim() == "Header SHA256 digest: OK");
            (sig, digest_ok)
        })
        .collect()
}

fn rpmkeys_available() -> bool {
    if Command::new("rpmkeys")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("rpmkeys (Debian's rpm) is required under CI=true");
    }
    println!("SKIPPED: rpmkeys not installed (apt-get install rpm)");
    false
}

/// Offset and length inside the file of `tag`'s data in the header at `range`.
fn tag_in(bytes: &[u8], range: std::ops::Range<usize>, tag: u32) -> (usize, usize) {
    let blob = &bytes[range.clone()];
    let h = Header::parse(blob).unwrap();
    let e = *h.entry(tag).unwrap();
    let il = u32::from_be_bytes(blob[..4].try_into().unwrap()) as usize;
    (range.start + 8 + 16 * il + e.offset, e.len)
}

#[test]
fn rpmkeys_and_we_agree_on_the_same_rpm_files_untouched_and_tampered() {
    if !rpmkeys_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = common::sample_dir().join("repo");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7);
    // Tampered copies: a NAME byte in the (RSA-signed) main header of bash; the last
    // byte of the Ed25519 signature of openssl-libs; the RSA signature of filesystem.
    let mut tamper = |src: &str, name: &str, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut b = std::fs::read(repo.join(src)).unwrap();
        edit(&mut b);
        let p = tmp.path().join(name);
        std::fs::write(&p, b).unwrap();
        files.push(p);
    };
    tamper("bash-5.2.37-3.azl4.x86_64.rpm", "bash-name.rpm", &|b| {
        let (_, main) = rpmfile::header_ranges(b).unwrap();
        let (at, _) = tag_in(b, main, tags::NAME);
        b[at] = b'c';
    });
    tamper(
        "openssl-libs-3.2.4-2.azl4.x86_64.rpm",
        "openssl-sig.rpm",
        &|b| {
            let (sig, _) = rpmfile::header_ranges(b).unwrap();
            let (at, len) = tag_in(b, sig, tags::DSAHEADER);
            b[at + len - 1] ^= 0x40;
        },
    );
    tamper(
        "filesystem-3.18-10.azl4.noarch.rpm",
        "filesystem-sig.rpm",
        &|b| {
            let (sig, _) = rpmfile::header_ranges(b).unwrap();
            let (at, len) = tag_in(b, sig, tags::RSAHEADER);
            b[at + len - 100] ^= 0x01;
        },
    );

    let ks = keys();
    for (label, key_files) in [
        ("both keys", &ks[..]),
        ("RSA key only", &ks[..1]),
        ("no key", &ks[..0]),
    ] {
        let db = tmp.path().join(format!("db-{}", key_files.len()));
        std::fs::create_dir_all(&db).unwrap();
        for k in key_files {
            let st = Command::new("rpmkeys")
                .arg("--dbpath")
                .arg(&db)
                .arg("--import")
                .arg(k)
                .status()
                .unwrap();
            assert!(st.success());
        }
        let ring = Keyring::from_files(key_files).unwrap();
        let theirs = rpms(&db, &files);
        for (f, t) in files.iter().zip(theirs) {
            let v = rpmfile::verify_rpm_bytes(&std::fs::read(f).unwrap(), &ring);
            assert_eq!(
                ours(&v),
                t,
                "{label}: {}: we say {:?}",
                f.display(),
                v.issues
            );
        }
    }
}
