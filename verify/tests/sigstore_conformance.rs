//! The Sigstore conformance suite's bundle-verify cases, run through the real
//! `verify` binary with the suite's command-line protocol:
//!
//! `verify verify-bundle --bundle F (--certificate-identity I --certificate-oidc-issuer U | --key K)
//!  --trusted-root R (ARTIFACT | sha256:HEX)`, exit 0 meaning verified.
//!
//! Each case runs twice (artifact file, then its `sha256:` digest). A case
//! counts as passed only if both runs answer as expected.

mod common;

use std::process::Command;

use sha2::{Digest, Sha256};

/// The bar: more than either reference client (68/70).
const REQUIRED: usize = 69;

struct Answer {
    exit: Option<i32>,
    stderr: String,
}

fn run(case: &common::Case, target: &str) -> Answer {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verify"));
    cmd.arg("verify-bundle").arg("--bundle").arg(&case.bundle);
    match &case.key {
        Some(k) => {
            cmd.arg("--key").arg(k);
        }
        None => {
            cmd.args(["--certificate-identity", &case.identity]);
            cmd.args(["--certificate-oidc-issuer", &case.issuer]);
        }
    }
    cmd.arg("--trusted-root")
        .arg(&case.trusted_root)
        .arg(target);
    // The default-root variable must not leak in from the environment.
    cmd.env_remove("VERIFY_SIGSTORE_TRUSTED_ROOT");
    let out = cmd.output().expect("run verify binary");
    Answer {
        exit: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

#[test]
fn conformance_bundle_verify_cases() {
    let Some(realdata) = common::realdata() else {
        return;
    };
    let cases = common::cases(&realdata);
    assert_eq!(cases.len(), 70, "expected the 70 conformance cases");

    let mut passed = 0;
    let mut wrong = Vec::new();
    println!(
        "{:<60} {:<8} {:<6} {:<6} detail",
        "case", "expected", "file", "digest"
    );
    for case in &cases {
        let bytes = std::fs::read(&case.artifact).expect("read artifact");
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let file = run(case, case.artifact.to_str().expect("utf-8 path"));
        let by_digest = run(case, &digest);
        let ok = |a: &Answer| {
            // Verified is exit 0; anything else (1, 2, a signal) is "not verified".
            // A crash must not count as a correct failure, though.
            if case.expect_pass {
                a.exit == Some(0)
            } else {
                matches!(a.exit, Some(1) | Some(2))
            }
        };
        let show = |a: &Answer| match a.exit {
            Some(0) => "PASS".to_string(),
            Some(c) => format!("FAIL{c}"),
            None => "CRASH".to_string(),
        };
        let good = ok(&file) && ok(&by_digest);
        if good {
            passed += 1;
        } else {
            wrong.push(case.name.clone());
        }
        println!(
            "{:<60} {:<8} {:<6} {:<6} {}{}",
            case.name,
            if case.expect_pass { "PASS" } else { "FAIL" },
            show(&file),
            show(&by_digest),
            if good { "" } else { "MISMATCH " },
            file.stderr
                .lines()
                .last()
                .unwrap_or("")
                .chars()
                .take(140)
                .collect::<String>()
        );
    }
    println!(
        "conformance: {passed}/{} cases answered as expected (both runs)",
        cases.len()
    );
    assert!(
        passed >= REQUIRED,
        "only {passed}/{} conformance cases answered as expected; wrong: {wrong:?}",
        cases.len()
    );
}
