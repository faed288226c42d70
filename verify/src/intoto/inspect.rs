//! Running a layout's inspections (only when the caller allows it): as `in-toto-verify`
//! does, the command runs in the base directory (no shell), with everything under it
//! recorded as materials before and as products after, and in-toto's default exclusions
//! (`*.link*`, `.git`, `*.pyc`, `*~`, matched against every path component). Unlike
//! in-toto, no inspection link file is written to the verifier's directory, and symlinks
//! are recorded by their target text, never followed (attest's recorder).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::fnmatch::Pattern;
use super::metadata::{Artifacts, Inspection, Link};

/// in-toto's default `LINK_CMD_EXEC_TIMEOUT`.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of the command's stderr a failure reason quotes (its end).
const STDERR_TAIL: usize = 2048;

/// Why an inspection did not pass.
#[derive(Debug)]
pub struct InspectFailure {
    /// `inspection-failed`, `inspection-timeout` or `cannot-run`.
    pub kind: &'static str,
    pub reason: String,
}

fn excluded(path: &str) -> bool {
    let pats = ["*.link*", ".git", "*.pyc", "*~"].map(Pattern::new);
    path.split('/').any(|c| pats.iter().any(|p| p.matches(c)))
}

fn record(base: &Path) -> Result<Artifacts, String> {
    let got = attest::intoto::link::record(base, &[PathBuf::from(".")])
        .map_err(|e| format!("recording {}: {e}", base.display()))?;
    let mut out = Artifacts::new();
    for (name, v) in got {
        if excluded(&name) {
            continue;
        }
        let hashes = v
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name, hashes);
    }
    Ok(out)
}

/// Keeps the last `STDERR_TAIL` bytes of a stream, reading (and dropping) the rest so
/// the child never blocks on a full pipe.
fn tail(mut r: impl Read) -> Vec<u8> {
    let mut keep = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        keep.extend_from_slice(&buf[..n]);
        if keep.len() > STDERR_TAIL {
            keep.drain(..keep.len() - STDERR_TAIL);
        }
    }
    keep
}

/// Runs one inspection in `base`; returns its link (materials before, products after).
pub fn run(insp: &Inspection, base: &Path, timeout: Duration) -> Result<Link, InspectFailure> {
    let cannot = |reason: String| InspectFailure {
        kind: "cannot-run",
        reason,
    };
    let materials = record(base).map_err(cannot)?;
    let mut child = Command::new(&insp.run[0])
        .args(&insp.run[1..])
        .current_dir(base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| cannot(format!("{:?}: {e}", insp.run)))?;
    // Read on a thread that reports through a channel: a background grandchild can hold
    // the pipe open long after the command exits, and we must not wait for it.
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(s) = child.stderr.take() {
        std::thread::spawn(move || tx.send(tail(s)));
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() >= timeout => {
                // Killing our own child by its handle; reaping it so no zombie is left.
                let _ = child.kill();
                let _ = child.wait();
                return Err(InspectFailure {
                    kind: "inspection-timeout",
                    reason: format!("{:?} still running after {timeout:?}; killed", insp.run),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(cannot(format!("{:?}: {e}", insp.run))),
        }
    };
    let err = rx
        .recv_timeout(Duration::from_millis(500))
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    if !status.success() {
        return Err(InspectFailure {
            kind: "inspection-failed",
            reason: format!(
                "{:?} exited with {status}{}",
                insp.run,
                if err.is_empty() {
                    String::new()
                } else {
                    format!("; stderr ends: {err}")
                }
            ),
        });
    }
    let products = record(base).map_err(cannot)?;
    Ok(Link {
        name: insp.name.clone(),
        materials,
        products,
        command: insp.run.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insp(run: &[&str]) -> Inspection {
        Inspection {
            name: "i".into(),
            run: run.iter().map(|s| s.to_string()).collect(),
            expected_materials: vec![],
            expected_products: vec![],
        }
    }

    #[test]
    fn records_before_and_after_and_excludes_like_in_toto() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), "x").unwrap();
        std::fs::write(d.path().join("a.link"), "x").unwrap();
        std::fs::create_dir(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "x").unwrap();
        let l = run(&insp(&["sh", "-c", "echo y > b"]), d.path(), TIMEOUT).unwrap();
        assert_eq!(l.materials.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(l.products.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn failure_timeout_and_missing_command() {
        let d = tempfile::tempdir().unwrap();
        let e = run(
            &insp(&["sh", "-c", "echo boom >&2; exit 3"]),
            d.path(),
            TIMEOUT,
        )
        .unwrap_err();
        assert_eq!(e.kind, "inspection-failed");
        assert!(e.reason.contains("boom"), "{}", e.reason);
        let e = run(&insp(&["sleep", "5"]), d.path(), Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.kind, "inspection-timeout");
        let e = run(&insp(&["/nonexistent/cmd"]), d.path(), TIMEOUT).unwrap_err();
        assert_eq!(e.kind, "cannot-run");
        // A background process keeping stderr open does not keep us waiting.
        let t = Instant::now();
        run(&insp(&["sh", "-c", "sleep 3 & exit 0"]), d.path(), TIMEOUT).unwrap();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }
}
