//! The real `sbom` binary on real and hostile inputs: exit codes, error messages that name
//! the file and row, no partial output, and no files created beside the database.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sbom(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sbom"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env_remove("CI_FORCE_COLOR")
        .output()
        .expect("run sbom")
}

fn run(args: &[&str]) -> Output {
    let a: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    sbom(&a)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A root filesystem in a temp dir holding `db` as its rpmdb.sqlite (or `Packages`).
fn rootfs_with(db: &Path, name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("usr/lib/sysimage/rpm");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(db, d.join(name)).unwrap();
    let mut perm = std::fs::metadata(d.join(name)).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(d.join(name), perm).unwrap();
    dir
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(dir);
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn negative_databases_fail_cleanly_and_name_the_file() {
    let Some(neg) = common::realdata("rpmdb/negative") else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    for (rel, name) in [
        ("sqlite-corrupt/rpmdb.sqlite", "rpmdb.sqlite"),
        ("sqlite-fail-list-pkg/rpmdb.sqlite", "rpmdb.sqlite"),
        ("no_packages.sqlite", "rpmdb.sqlite"),
        ("bdb-corrupt/Packages", "Packages"),
        ("bdb-fail-list-pkg/Packages", "Packages"),
    ] {
        let db = neg.join(rel);
        let target = out_dir.path().join("out.json");
        // As a bare file and as the database of a root filesystem.
        let root = rootfs_with(&db, name);
        let bare_name = db.file_name().unwrap().to_str().unwrap().to_owned();
        for (input, named) in [
            (db.clone(), bare_name.as_str()),
            (root.path().to_path_buf(), name),
        ] {
            let o = run(&["-o", target.to_str().unwrap(), input.to_str().unwrap()]);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{rel}: {err}");
            assert!(
                err.contains(named),
                "{rel}: error must name the file: {err}"
            );
            assert!(!err.contains("panicked"), "{rel}: {err}");
            assert!(!target.exists(), "{rel}: no output may be written");
        }
        assert_eq!(
            listing(out_dir.path()),
            Vec::<PathBuf>::new(),
            "{rel}: no temp files left"
        );
    }
}

#[test]
fn missing_inputs_are_errors() {
    let o = run(&["/nonexistent/image"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/image"));
    let empty = tempfile::tempdir().unwrap();
    let o = run(&[empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no RPM database under"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_source_date_epoch_is_a_usage_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_sbom"))
        .arg("/nonexistent")
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SOURCE_DATE_EPOCH"));
}

#[test]
fn reading_never_writes_beside_the_database() {
    let Some(d) = common::realdata("rpmdb/cbl-mariner-2.0") else {
        return;
    };
    let root = rootfs_with(&d.join("rpmdb.sqlite"), "rpmdb.sqlite");
    let db = root.path().join("usr/lib/sysimage/rpm/rpmdb.sqlite");
    let before_bytes = std::fs::read(&db).unwrap();
    let before_list = listing(root.path());
    let o = run(&[
        "--no-files",
        "-f",
        "spdx-json",
        "-o",
        "/dev/null",
        root.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        listing(root.path()),
        before_list,
        "no -wal/-shm or lock files"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before_bytes);
}

/// Copies mariner's database and lets `edit` damage one header blob.
fn damaged_mariner(edit: impl Fn(&mut Vec<u8>)) -> Option<tempfile::TempDir> {
    let d = common::realdata("rpmdb/cbl-mariner-2.0")?;
    let root = rootfs_with(&d.join("rpmdb.sqlite"), "rpmdb.sqlite");
    let db = root.path().join("usr/lib/sysimage/rpm/rpmdb.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (hnum, mut blob): (i64, Vec<u8>) = conn
        .query_row("SELECT hnum, blob FROM Packages WHERE hnum = 5", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    edit(&mut blob);
    conn.execute(
        "UPDATE Packages SET blob = ?1 WHERE hnum = ?2",
        rusqlite::params![blob, hnum],
    )
    .unwrap();
    drop(conn);
    Some(root)
}

#[test]
fn a_header_pointing_outside_its_blob_names_the_row() {
    // Entry 2's data offset (bytes 8+16*2+8..) pushed past the data store.
    let Some(root) = damaged_mariner(|b| {
        b[8 + 32 + 8..8 + 32 + 12].copy_from_slice(&0x00ff_ffffu32.to_be_bytes())
    }) else {
        return;
    };
    let o = run(&["-o", "/dev/null", root.path().to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("row 5"), "{err}");
    assert!(err.contains("rpmdb.sqlite"), "{err}");
    assert!(err.contains("data offset outside the data store"), "{err}");
}

#[test]
fn a_truncated_header_is_rejected() {
    let Some(root) = damaged_mariner(|b| b.truncate(b.len() / 2)) else {
        return;
    };
    let o = run(&["-o", "/dev/null", root.path().to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("row 5") && err.contains("but the blob has"),
        "{err}"
    );
}

#[test]
fn unwritable_output_leaves_nothing() {
    let Some(d) = common::realdata("rpmdb/cbl-mariner-2.0") else {
        return;
    };
    let o = run(&[
        "-o",
        "/nonexistent-dir/x.json",
        d.join("rpmdb.sqlite").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("/nonexistent-dir/x.json"));
}

#[test]
fn json_summary_reports_counts_and_keys() {
    let Some(d) = common::realdata("rpmdb/fedora-36-tzdata") else {
        return;
    };
    let o = run(&[
        "--json",
        "--distro",
        "fedora-36",
        "-o",
        "/dev/null",
        d.join("rpmdb.sqlite").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stderr).expect("stderr is one JSON object");
    assert_eq!(v["packages"], 1);
    assert_eq!(v["files"], 1861);
    assert_eq!(v["distro"], "fedora-36");
    assert_eq!(v["rpmdbFormat"], "sqlite");
}

/// Runs the shared validator script; `None` when the validator is not installed (and
/// CI is not set), after a loud SKIPPED line.
fn validate(kind: &str, file: &Path) -> Option<()> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validators/validate.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(kind)
        .arg(file)
        .output()
        .expect("python3");
    match o.status.code() {
        Some(0) => Some(()),
        Some(77) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("{}", String::from_utf8_lossy(&o.stdout));
            None
        }
        _ => panic!(
            "{kind} validator rejected {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// The real binary on the real Mariner database, as an image root with os-release: every
/// format passes its independent validator, and a second run gives the same bytes.
#[test]
fn mariner_image_sboms_validate_and_are_reproducible() {
    let Some(d) = common::realdata("rpmdb/cbl-mariner-2.0") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/rpm")).unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::copy(
        d.join("rpmdb.sqlite"),
        root.path().join("var/lib/rpm/rpmdb.sqlite"),
    )
    .unwrap();
    std::fs::write(
        root.path().join("etc/os-release"),
        "NAME=\"Common Base Linux Mariner\"\nID=mariner\nVERSION_ID=\"2.0\"\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    for (fmt, kind) in [
        ("spdx-json", "spdx23"),
        ("spdx3-json", "spdx3"),
        ("cyclonedx-json", "cyclonedx"),
    ] {
        let a = out.path().join(format!("{kind}-a.json"));
        let b = out.path().join(format!("{kind}-b.json"));
        for f in [&a, &b] {
            let o = run(&[
                "-q",
                "-f",
                fmt,
                "-o",
                f.to_str().unwrap(),
                root.path().to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        }
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{fmt}: two runs differ"
        );
        let text = std::fs::read_to_string(&a).unwrap();
        assert!(
            text.contains("pkg:rpm/mariner/curl@7.76.0-6.cm2?arch=x86_64&distro=mariner-2.0"),
            "{fmt}: curl purl"
        );
        assert!(text.contains("0cd9fed33135ce90"), "{fmt}: signing key id");
        validate(kind, &a);
    }
}
