//! `verify image --verify-files` on copies of the sample image: the untouched image passes
//! under a policy that names its overlays, and each kind of file tampering fails with the
//! right finding.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The sample's root filesystem copied (symlinks kept) into a temp dir we may change.
fn sample_copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    common::cp_a(&common::sample_dir().join("rootfs"), tmp.path());
    let root = tmp.path().join("rootfs");
    (tmp, root)
}

/// Allows the sample's one unsigned package and the files its factory adds outside rpm.
fn policy(dir: &Path) -> PathBuf {
    let k = common::sample_dir().join("keys");
    let p = dir.join("policy.toml");
    std::fs::write(
        &p,
        format!(
            "[keys]\nrpm = [{:?}, {:?}]\n\n[packages]\nrequire_signed = false\n\n[drift]\nadded = [\"/etc/motd.d/*\", \"/etc/sample-overlay.conf\", \"/etc/os-release\", \"/usr/lib/os-release\", \"/var/lib/rpm\"]\n",
            k.join("RPM-GPG-KEY-test-rsa4096.asc").display().to_string(),
            k.join("RPM-GPG-KEY-test-ed25519.asc").display().to_string(),
        ),
    )
    .unwrap();
    p
}

fn verify(root: &Path, policy: &Path) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_verify"))
        .arg("image")
        .arg(root)
        .arg("--policy")
        .arg(policy)
        .args(["--verify-files", "--json"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out, v)
}

/// (check, subject, kind) of every finding that is not a pass.
fn problems(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "pass")
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_owned();
            (
                s("check"),
                f["subject"]["name"].as_str().unwrap().to_owned(),
                s("kind"),
            )
        })
        .collect()
}

fn triple(check: &str, subject: &str, kind: &str) -> (String, String, String) {
    (check.into(), subject.into(), kind.into())
}

#[test]
fn untouched_sample_passes_and_every_package_is_intact() {
    let (tmp, root) = sample_copy();
    let (out, v) = verify(&root, &policy(tmp.path()));
    assert_eq!(out.status.code(), Some(0), "{:?}", problems(&v));
    let intact = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "files.drift" && f["kind"] == "intact")
        .count();
    assert_eq!(intact, 7);
}

#[test]
fn changed_content_is_a_modified_file() {
    let (tmp, root) = sample_copy();
    let bash = root.join("usr/bin/bash");
    let mut bytes = std::fs::read(&bash).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&bash, bytes).unwrap();
    let (out, v) = verify(&root, &policy(tmp.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        problems(&v),
        vec![triple("files.drift", "/usr/bin/bash", "modified")]
    );
}

#[test]
fn removed_file_is_missing() {
    let (tmp, root) = sample_copy();
    std::fs::remove_file(root.join("usr/bin/bash")).unwrap();
    let (out, v) = verify(&root, &policy(tmp.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        problems(&v),
        vec![triple("files.drift", "/usr/bin/bash", "missing")]
    );
}

#[test]
fn added_file_is_unowned_and_named_with_its_digest() {
    let (tmp, root) = sample_copy();
    std::fs::write(root.join("etc/evil"), "x").unwrap();
    let (out, v) = verify(&root, &policy(tmp.path()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        problems(&v),
        vec![triple("files.unowned", "/etc/evil", "unowned-file")]
    );
    let reason = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"]["name"] == "/etc/evil")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    // sha256("x")
    assert!(
        reason.contains("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"),
        "{reason}"
    );
}

#[test]
fn a_bare_database_cannot_have_its_files_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = common::sample_dir().join("rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite");
    let (out, _) = (
        Command::new(env!("CARGO_BIN_EXE_verify"))
            .arg("image")
            .arg(&db)
            .arg("--policy")
            .arg(policy(tmp.path()))
            .arg("--verify-files")
            .output()
            .unwrap(),
        (),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--verify-files needs the image's root filesystem"));
}
