//! Shared helpers for the integration tests: the real binary, a factory-built image, and
//! skipping (loudly; never under CI=true) when an external tool is absent.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Prints a SKIPPED line and returns, or panics under CI=true.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {{
        let msg = format!($($arg)*);
        if $crate::common::ci() {
            panic!("CI=true and a prerequisite is missing: {msg}");
        }
        eprintln!("SKIPPED: {msg}");
        return;
    }};
}

pub fn attest_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_attest"))
}

pub fn attest(dir: &Path, args: &[&str]) -> Output {
    Command::new(attest_bin())
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1735689600")
        .env_remove("ATTEST_KEY_PASSPHRASE")
        .output()
        .expect("run attest")
}

pub fn attest_ok(dir: &Path, args: &[&str]) -> Output {
    let o = attest(dir, args);
    assert!(
        o.status.success(),
        "attest {args:?} failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The sample image (testdata/recipes/sample.toml) built once per test binary by the
/// project's factory (real rpmbuild/rpmsign/rpm) into a temporary directory. `None` when
/// rpmbuild is not installed.
pub fn sample_image() -> Option<&'static Path> {
    static IMG: OnceLock<Option<PathBuf>> = OnceLock::new();
    IMG.get_or_init(|| {
        if !have("rpmbuild") || !have("rpmsign") || !have("python3") {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("attest-sample-")
            .tempdir()
            .unwrap()
            .keep();
        let out = dir.join("image");
        let root = workspace_root();
        let st = Command::new("python3")
            .arg(root.join("testdata/factory/factory.py"))
            .arg(root.join("testdata/recipes/sample.toml"))
            .arg("--out")
            .arg(&out)
            .arg("--force")
            .output()
            .expect("run factory");
        assert!(
            st.status.success(),
            "factory failed: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        Some(out)
    })
    .as_deref()
}

pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

pub fn write_json(p: &Path, v: &serde_json::Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}
