//! Shared test helpers: locating `../shared/realdata` (real-world data beside the project).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/realdata/<rel>` if present. Absent: `None` after a loud SKIPPED line, or a
/// panic under CI=true, where the data must be there.
pub fn realdata(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/realdata")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{} is missing, and CI=true requires ../shared/realdata",
            p.display()
        );
    }
    eprintln!(
        "SKIPPED: {} not present (../shared/realdata is beside the project in CI)",
        p.display()
    );
    None
}

/// The project's own testdata directory.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(rel)
}

/// Reads a TSV with a header line into rows of named fields.
pub fn read_tsv(path: &std::path::Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header line").split('\t').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            header
                .iter()
                .enumerate()
                .map(|(i, h)| (h.to_string(), cells.get(i).unwrap_or(&"").to_string()))
                .collect()
        })
        .collect()
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

/// The sample's root filesystem copied into a temporary directory a test may change.
pub fn sample_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    cp_a(&testdata("sample/rootfs"), &root);
    (dir, root)
}

/// Writes `bytes` to a temporary file named `name` and runs the validator for `fmt`.
/// With `SBOM_FORMAT_DUMP=<dir>`, also keeps a copy there for inspection.
pub fn validate(fmt: &str, name: &str, bytes: &[u8]) {
    if let Some(d) = std::env::var_os("SBOM_FORMAT_DUMP") {
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(Path::new(&d).join(name), bytes).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    run_validator(fmt, &path);
}

pub fn run_validator(fmt: &str, path: &Path) {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validators/validate.py");
    let out = match Command::new("python3")
        .arg(&script)
        .arg(fmt)
        .arg(path)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(!ci, "python3 is required under CI=true: {e}");
            println!("SKIPPED: python3 not available ({e}); validators not run");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(77) => {
            assert!(!ci, "validator missing under CI=true: {stdout}");
            println!("{stdout}");
        }
        _ => panic!(
            "{fmt} validation of {} failed:\n{stdout}\n{stderr}",
            path.display()
        ),
    }
}
