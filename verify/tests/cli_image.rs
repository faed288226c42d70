//! The real `verify image` binary: exit codes, report formats, tampered images.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_verify"))
}

fn sample_keys() -> [PathBuf; 2] {
    let k = common::sample_dir().join("keys");
    [
        k.join("RPM-GPG-KEY-test-rsa4096.asc"),
        k.join("RPM-GPG-KEY-test-ed25519.asc"),
    ]
}

fn run(root: &Path, extra: &[&str]) -> Output {
    let [rsa, ed] = sample_keys();
    bin()
        .arg("image")
        .arg(root)
        .arg("--keyring")
        .arg(rsa)
        .arg("--keyring")
        .arg(ed)
        .args(extra)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn problems(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "pass")
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["subject"]["name"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A policy allowing the sample's one unsigned package and its five unowned files (two
/// overlays; os-release and the var/lib/rpm link, which the factory places outside any
/// package), with the keys by path.
fn lenient_policy(dir: &Path) -> PathBuf {
    let [rsa, ed] = sample_keys();
    let p = dir.join("policy.toml");
    std::fs::write(
        &p,
        format!(
            "[keys]\nrpm = [{:?}, {:?}]\n\n[packages]\nrequire_signed = false\nforbidden = [\"telnet*\"]\n\n\
             [drift]\nadded = [\"/etc/motd.d/azl\", \"/etc/sample-overlay.conf\", \"/etc/os-release\", \
             \"/usr/lib/os-release\", \"/var/lib/rpm\"]\n",
            rsa.display().to_string(),
            ed.display().to_string()
        ),
    )
    .unwrap();
    p
}

#[test]
fn sample_image_is_not_trusted_by_default_one_package_unsigned_five_files_unowned() {
    let out = run(&common::sample_dir().join("rootfs"), &["--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["schemaVersion"], 1);
    assert_eq!(v["trusted"], false);
    assert_eq!(v["packages"], 7);
    // Files are checked by default: overlays and factory-made files belong to no package.
    let mut p = problems(&v);
    p.sort();
    let unowned = |path: &str| ("files.unowned".into(), path.into(), "unowned-file".into());
    assert_eq!(
        p,
        vec![
            unowned("/etc/motd.d/azl"),
            unowned("/etc/os-release"),
            unowned("/etc/sample-overlay.conf"),
            unowned("/usr/lib/os-release"),
            unowned("/var/lib/rpm"),
            (
                "rpm.signature".into(),
                "local-config-1.0-1.noarch".into(),
                "unsigned".into()
            ),
        ]
    );
}

#[test]
fn sample_image_is_trusted_under_a_policy_that_allows_unsigned_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = lenient_policy(tmp.path());
    let out = bin()
        .arg("image")
        .arg(common::sample_dir().join("rootfs"))
        .arg("--policy")
        .arg(&policy)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["trusted"], true);
    assert!(problems(&v).is_empty());
    assert_eq!(v["trustedKeys"].as_array().unwrap().len(), 2);
    // The policy's package check ran for every package.
    let policy_checks = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "policy.package")
        .count();
    assert_eq!(policy_checks, 7);
}

#[test]
fn a_tampered_copy_of_the_sample_fails_with_bad_signature_and_digest_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    let db_dir = root.join("usr/lib/sysimage/rpm");
    std::fs::create_dir_all(&db_dir).unwrap();
    std::fs::copy(
        common::sample_dir().join("rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite"),
        db_dir.join("rpmdb.sqlite"),
    )
    .unwrap();
    // Flip one byte of bash's VERSION string, inside the signed region.
    let conn = rusqlite::Connection::open(db_dir.join("rpmdb.sqlite")).unwrap();
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT hnum, blob FROM Packages")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut done = false;
    for (hnum, mut blob) in rows {
        let h = sbom::rpm::header::Header::parse(&blob).unwrap();
        if h.string(sbom::rpm::tags::NAME).unwrap().as_deref() != Some("bash") {
            continue;
        }
        let e = *h.entry(sbom::rpm::tags::VERSION).unwrap();
        let il = u32::from_be_bytes(blob[..4].try_into().unwrap()) as usize;
        let at = 8 + 16 * il + e.offset;
        assert_eq!(blob[at], b'5');
        blob[at] = b'6';
        conn.execute(
            "UPDATE Packages SET blob = ?1 WHERE hnum = ?2",
            rusqlite::params![blob, hnum],
        )
        .unwrap();
        done = true;
    }
    drop(conn);
    assert!(done);
    // Only the database was copied: headers alone.
    let out = run(&root, &["--format", "json", "--no-verify-files"]);
    assert_eq!(out.status.code(), Some(1));
    let mut p = problems(&json(&out));
    p.sort();
    let bash = "bash-6.2.37-3.azl4.x86_64".to_string();
    assert_eq!(
        p,
        vec![
            (
                "rpm.header-digest".into(),
                bash.clone(),
                "digest-mismatch".into()
            ),
            ("rpm.signature".into(), bash, "bad-signature".into()),
            (
                "rpm.signature".into(),
                "local-config-1.0-1.noarch".into(),
                "unsigned".into()
            ),
        ]
    );
}

#[test]
fn an_unreadable_database_fails_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let db_dir = tmp.path().join("usr/lib/sysimage/rpm");
    std::fs::create_dir_all(&db_dir).unwrap();
    std::fs::write(
        db_dir.join("rpmdb.sqlite"),
        b"SQLite format 3\0 but then garbage",
    )
    .unwrap();
    let out = run(tmp.path(), &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["trusted"], false);
    assert_eq!(v["findings"][0]["status"], "error");
    // An empty root (no database at all) is not trusted either.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(run(empty.path(), &[]).status.code(), Some(1));
}

#[test]
fn usage_and_input_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::sample_dir().join("rootfs");
    let bad_policy = tmp.path().join("bad.toml");
    std::fs::write(&bad_policy, "[packages]\nrequre_signed = false\n").unwrap();
    let not_a_key = tmp.path().join("not-a-key.asc");
    std::fs::write(&not_a_key, "hello").unwrap();
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "image".into(),
            tmp.path().join("missing").into(),
            "--keyring".into(),
            sample_keys()[0].clone().into(),
        ],
        vec!["image".into(), root.clone().into()],
        vec![
            "image".into(),
            root.clone().into(),
            "--policy".into(),
            bad_policy.into(),
        ],
        vec![
            "image".into(),
            root.clone().into(),
            "--keyring".into(),
            not_a_key.into(),
        ],
        vec![
            "image".into(),
            root.clone().into(),
            "--format".into(),
            "yaml".into(),
        ],
        vec!["image".into()],
    ];
    for args in cases {
        let out = bin().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn junit_markdown_and_output_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::sample_dir().join("rootfs");
    let xml_path = tmp.path().join("verify.xml");
    let out = run(
        &root,
        &["--format", "junit", "-o", xml_path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "-o writes the file, not stdout");
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut failures = 0;
    loop {
        match reader.read_event().expect("well-formed JUnit XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"failure" => failures += 1,
            _ => {}
        }
    }
    assert_eq!(failures, 6, "{xml}");
    let md = run(&root, &["--format", "markdown"]);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.contains("Verdict: **NOT TRUSTED**"), "{md}");
    assert!(
        md.contains("| local-config-1.0-1.noarch | FAIL | unsigned |"),
        "{md}"
    );
    // Not a TTY: no colour codes in the human summary.
    let human = run(&root, &[]);
    assert!(!human.stdout.contains(&0x1b));
    assert!(String::from_utf8_lossy(&human.stdout).contains("NOT TRUSTED"));
}

#[test]
fn reports_are_deterministic() {
    let root = common::sample_dir().join("rootfs");
    let a = run(&root, &["--json"]).stdout;
    let b = run(&root, &["--json"]).stdout;
    assert_eq!(a, b);
}

#[test]
fn a_bare_mariner_database_verifies_against_the_microsoft_key() {
    let Some(rd) = common::realdata_rpm() else {
        return;
    };
    let out = bin()
        .arg("image")
        .arg(rd.join("rpmdb/cbl-mariner-2.0/rpmdb.sqlite"))
        .arg("--keyring")
        .arg(rd.join("keys/microsoft/MICROSOFT-RPM-GPG-KEY"))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json(&out)["packages"], 129);
    let wrong = bin()
        .arg("image")
        .arg(rd.join("rpmdb/cbl-mariner-2.0/rpmdb.sqlite"))
        .arg("--keyring")
        .arg(rd.join("keys/fedora/RPM-GPG-KEY-fedora-36-primary"))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    let p = problems(&json(&wrong));
    assert_eq!(p.len(), 129);
    assert!(p
        .iter()
        .all(|(c, _, k)| c == "rpm.signature" && k == "unknown-key"));
}

#[test]
fn uncommitted_changes_in_a_sqlite_wal_fail_closed() {
    // A real write-ahead log that deletes a package: rpm (opening the database normally)
    // would see one package fewer than an immutable read of the main file.
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::copy(
        common::sample_dir().join("rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite"),
        work.join("rpmdb.sqlite"),
    )
    .unwrap();
    let conn = rusqlite::Connection::open(work.join("rpmdb.sqlite")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    // rpm's index tables reference Packages; only the package row matters here.
    conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
    let deleted = conn
        .execute(
            "DELETE FROM Packages WHERE hnum = (SELECT MAX(hnum) FROM Packages)",
            [],
        )
        .unwrap();
    assert_eq!(deleted, 1);
    // Copy the pair while the connection holds the log open (closing would checkpoint it).
    let root = tmp.path().join("rootfs");
    let db_dir = root.join("usr/lib/sysimage/rpm");
    std::fs::create_dir_all(&db_dir).unwrap();
    for f in ["rpmdb.sqlite", "rpmdb.sqlite-wal"] {
        std::fs::copy(work.join(f), db_dir.join(f)).unwrap();
    }
    drop(conn);
    assert!(
        std::fs::metadata(db_dir.join("rpmdb.sqlite-wal"))
            .unwrap()
            .len()
            > 0
    );
    for input in [root.clone(), db_dir.join("rpmdb.sqlite")] {
        let out = run(&input, &["--json", "--no-verify-files"]);
        assert_eq!(out.status.code(), Some(1));
        let v = json(&out);
        assert_eq!(v["trusted"], false);
        let f = &v["findings"][0];
        assert_eq!(f["check"], "rpm.database");
        assert_eq!(f["status"], "error");
        let reason = f["reason"].as_str().unwrap();
        assert!(
            reason.contains("rpmdb.sqlite-wal") && reason.contains("uncommitted changes"),
            "{reason}"
        );
    }
    // Checkpointed (an empty log), the same database is read.
    std::fs::write(db_dir.join("rpmdb.sqlite-wal"), b"").unwrap();
    let out = run(&root, &["--json", "--no-verify-files"]);
    assert_eq!(json(&out)["findings"][0]["status"], "pass");
}
