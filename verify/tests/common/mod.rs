//! Shared helpers for the Sigstore tests: where the read-only conformance data
//! lives, and the conventions of its cases.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

/// Default identity of the conformance cases (their README).
pub const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
/// Default OIDC issuer of the conformance cases.
pub const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// `../../shared/realdata` relative to this crate, if present.
///
/// Absent: prints "SKIPPED: ../shared not present" and returns `None`, except
/// under `CI=true`, where missing data must fail the run rather than pass it.
pub fn realdata() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realdata");
    if dir.join("sigstore").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} not present, and CI=true", dir.display());
    }
    println!("SKIPPED: ../shared not present");
    None
}

/// The conformance bundle-verify cases directory.
pub fn cases_dir(realdata: &Path) -> PathBuf {
    realdata.join("sigstore/conformance/test/assets/bundle-verify")
}

/// The production trusted root.
pub fn production_root(realdata: &Path) -> PathBuf {
    realdata.join("sigstore/trust/production_trusted_root.json")
}

/// One conformance case, with its README defaults resolved.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub bundle: PathBuf,
    pub artifact: PathBuf,
    pub trusted_root: PathBuf,
    pub key: Option<PathBuf>,
    pub identity: String,
    pub issuer: String,
    pub expect_pass: bool,
}

/// Every case directory, sorted by name.
pub fn cases(realdata: &Path) -> Vec<Case> {
    let root = cases_dir(realdata);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("read conformance cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let read = |p: PathBuf, default: &str| {
        std::fs::read_to_string(p).map_or_else(|_| default.to_string(), |s| s.trim().to_string())
    };
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let or = |f: &str, default: PathBuf| {
                let p = dir.join(f);
                if p.exists() {
                    p
                } else {
                    default
                }
            };
            Case {
                expect_pass: !name.ends_with("_fail"),
                bundle: dir.join("bundle.sigstore.json"),
                artifact: or("artifact", root.join("a.txt")),
                trusted_root: or("trusted_root.json", production_root(realdata)),
                key: Some(dir.join("key.pub")).filter(|p| p.exists()),
                identity: read(dir.join("identity"), DEFAULT_IDENTITY),
                issuer: read(dir.join("issuer"), DEFAULT_ISSUER),
                name,
                dir,
            }
        })
        .collect()
}

/// `../../shared/realdata` for the RPM tests (keys and databases), if present.
///
/// Same rule as [`realdata`]: prints "SKIPPED" when absent, fails under `CI=true`.
pub fn realdata_rpm() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realdata");
    if dir.join("keys").is_dir() && dir.join("rpmdb").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{} not present, and CI=true", dir.display());
    }
    println!("SKIPPED: ../shared/realdata (keys, rpmdb) not present");
    None
}

/// The project's committed sample image (`testdata/sample`).
pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample")
}

/// `cp -a FROM TO` (symlinks, modes and hard links kept), asserting it worked.
pub fn cp_a(from: &std::path::Path, to: &std::path::Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}
