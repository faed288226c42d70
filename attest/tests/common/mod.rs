//! Shared helpers for the integration tests: the real binary, a factory-built image, and
//! skipping (loudly; never under CI=true) when an external tool is absent.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
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

/// The node_modules of an npm install of `@sigstore/verify` (ATTEST_SIGSTORE_JS=DIR), when
/// node is there too.
pub fn sigstore_js() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("ATTEST_SIGSTORE_JS")?);
    let nm = dir.join("node_modules");
    (nm.join("@sigstore/verify").is_dir() && have("node")).then_some(nm)
}

/// Runs the JS verifier; true when it says VERIFIED.
pub fn js_verify(nm: &Path, args: &[&str]) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sigstore_js_verify.js");
    let o = Command::new("node")
        .arg(script)
        .args(args)
        .env("NODE_PATH", nm)
        .output()
        .expect("run node");
    eprintln!(
        "sigstore-js {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    match o.status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!(
            "verifier harness broke ({other:?}): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

pub fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Flips one bit of a base64 field in place (decoded byte `at`, negative from the end).
pub fn flip(v: &mut serde_json::Value, pointer: &str, at: isize) {
    let field = v
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}"));
    let mut bytes = b64().decode(field.as_str().unwrap()).unwrap();
    let i = if at < 0 {
        bytes.len() as isize + at
    } else {
        at
    } as usize;
    bytes[i] ^= 0x01;
    *field = serde_json::json!(b64().encode(bytes));
}

/// Runs `in-toto-verify` in `w`; true when it accepts.
pub fn in_toto_verify(w: &Path, layout: &str, key: &str, links: &str) -> bool {
    let o = Command::new("in-toto-verify")
        .args([
            "--layout",
            layout,
            "--verification-keys",
            key,
            "--link-dir",
            links,
            "-v",
        ])
        .current_dir(w)
        .output()
        .expect("run in-toto-verify");
    eprintln!(
        "in-toto-verify {layout} {links}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o.status.success()
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
