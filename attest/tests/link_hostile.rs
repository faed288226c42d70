//! `attest link` over hostile directories: a FIFO never blocks the recording (it is not
//! an artifact, as in `in-toto-run`), a name that is not UTF-8 is an error naming the
//! path instead of merging with other files into one artifact, and every file that is
//! recorded keeps its own digest.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use attest::intoto::link;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Long enough for a slow shared machine, short enough that a hang fails the test.
const LIMIT: Duration = Duration::from_secs(60);

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo")
        .arg(p)
        .status()
        .expect("run mkfifo")
        .success();
    assert!(ok, "mkfifo {}", p.display());
}

/// `link::record` on its own thread: a hang fails the test instead of blocking it.
fn record(
    base: &Path,
    paths: &[&str],
) -> Result<std::collections::BTreeMap<String, Value>, String> {
    let (tx, rx) = mpsc::channel();
    let base = base.to_path_buf();
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    std::thread::spawn(move || {
        let _ = tx.send(link::record(&base, &paths).map_err(|e| e.to_string()));
    });
    rx.recv_timeout(LIMIT)
        .expect("link::record hung (a FIFO opened for reading blocks until a writer comes)")
}

/// The `attest` binary, killed if it runs longer than `LIMIT`.
fn attest(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1735689600")
        .env_remove("ATTEST_KEY_PASSPHRASE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run attest");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("attest {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn keygen(dir: &Path) {
    let out = attest(dir, &["keygen", "-t", "ed25519", "-o", "key.pem"]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn fifos_and_sockets_in_a_directory_are_skipped_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    let etc = d.path().join("root/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("motd"), "hi\n").unwrap();
    mkfifo(&etc.join("pipe"));
    let _sock = std::os::unix::net::UnixListener::bind(etc.join("sock")).unwrap();
    std::os::unix::fs::symlink("pipe", etc.join("to-pipe")).unwrap();

    let got = record(d.path(), &["root"]).unwrap();
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    // The symlink is recorded by its target text (never followed into the FIFO).
    assert_eq!(names, ["root/etc/motd", "root/etc/to-pipe"]);
    assert_eq!(got["root/etc/motd"]["sha256"], sha256(b"hi\n"));
    assert_eq!(got["root/etc/to-pipe"]["sha256"], sha256(b"pipe"));

    // The same through the command line, signed.
    keygen(d.path());
    let out = attest(
        d.path(),
        &[
            "link",
            "build",
            "--key",
            "key.pem",
            "--base-dir",
            ".",
            "--products",
            "root",
            "-o",
            "fifo.link",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("fifo.link")).unwrap()).unwrap();
    let products = doc["signed"]["products"].as_object().unwrap();
    let names: Vec<&str> = products.keys().map(String::as_str).collect();
    assert_eq!(names, ["root/etc/motd", "root/etc/to-pipe"]);
}

#[test]
fn a_fifo_named_explicitly_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    mkfifo(&d.path().join("pipe"));
    let e = record(d.path(), &["pipe"]).unwrap_err();
    assert!(e.contains("pipe") && e.contains("is a FIFO"), "{e}");

    let _sock = std::os::unix::net::UnixListener::bind(d.path().join("sock")).unwrap();
    let e = record(d.path(), &["sock"]).unwrap_err();
    assert!(e.contains("sock") && e.contains("is a socket"), "{e}");

    keygen(d.path());
    let out = attest(
        d.path(),
        &[
            "link",
            "s",
            "--key",
            "key.pem",
            "--materials",
            "pipe",
            "-o",
            "x.link",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a FIFO"), "{stderr}");
    assert!(!d.path().join("x.link").exists());
}

#[test]
fn names_that_are_not_utf8_are_refused_never_merged() {
    let d = tempfile::tempdir().unwrap();
    let etc = d.path().join("root/etc");
    std::fs::create_dir_all(&etc).unwrap();
    let raw = |tail: &[u8]| {
        let mut name = b"a".to_vec();
        name.extend_from_slice(tail);
        etc.join(OsStr::from_bytes(&name))
    };
    std::fs::write(raw(b"\xff"), "malicious\n").unwrap();
    std::fs::write(raw(b"\xfe"), "other\n").unwrap();
    std::fs::write(raw("\u{fffd}".as_bytes()), "benign\n").unwrap();

    let e = record(d.path(), &["root"]).unwrap_err();
    assert!(e.contains("not UTF-8"), "{e}");
    // The path is named with the bytes escaped, not as U+FFFD.
    assert!(e.contains("\\xFE") || e.contains("\\xFF"), "{e}");
    assert!(!e.contains('\u{fffd}'), "{e}");

    // Named explicitly: the same.
    let e = record(d.path(), &["root/etc/a\u{fffd}", "root"]).unwrap_err();
    assert!(e.contains("not UTF-8"), "{e}");

    keygen(d.path());
    let out = attest(
        d.path(),
        &[
            "link",
            "build",
            "--key",
            "key.pem",
            "--products",
            "root",
            "-o",
            "lossy.link",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not UTF-8"), "{stderr}");
    assert!(!d.path().join("lossy.link").exists());

    // Without the hostile names, the real U+FFFD name is an artifact like any other.
    std::fs::remove_file(raw(b"\xff")).unwrap();
    std::fs::remove_file(raw(b"\xfe")).unwrap();
    let got = record(d.path(), &["root"]).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got["root/etc/a\u{fffd}"]["sha256"], sha256(b"benign\n"));
}

#[test]
fn overlapping_paths_are_one_artifact_each() {
    let d = tempfile::tempdir().unwrap();
    let etc = d.path().join("root/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("a"), "a").unwrap();
    std::fs::write(etc.join("b"), "b").unwrap();
    let got = record(d.path(), &["root", "./root", "root/etc", "root/etc/a"]).unwrap();
    let names: Vec<&str> = got.keys().map(String::as_str).collect();
    assert_eq!(names, ["root/etc/a", "root/etc/b"]);
    assert_eq!(got["root/etc/b"]["sha256"], sha256(b"b"));
}

#[test]
fn hostile_names_in_errors_cannot_drive_the_terminal() {
    let d = tempfile::tempdir().unwrap();
    let name = "\u{1b}[2J\u{1b}]0;owned\u{7}pipe";
    mkfifo(&d.path().join(name));
    let e = record(d.path(), &[name]).unwrap_err();
    assert!(e.contains("is a FIFO"), "{e}");
    assert!(!e.contains('\u{1b}') && !e.contains('\u{7}'), "{e:?}");
}
