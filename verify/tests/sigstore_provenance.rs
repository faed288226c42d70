//! A real SLSA provenance bundle, as GitHub's artifact attestations make them
//! (DSSE envelope, in-toto statement, `https://slsa.dev/provenance/v1`,
//! signed by the public-good Sigstore instance), verifies with its identity
//! policy through the CLI, and fails with any other identity.
//!
//! The bundle is the conformance suite's `happy-path-intoto-in-dsse-v3`. To
//! check another one, set `VERIFY_PROVENANCE_BUNDLE` (with
//! `VERIFY_PROVENANCE_ARTIFACT`, `VERIFY_PROVENANCE_IDENTITY`,
//! `VERIFY_PROVENANCE_ISSUER` and optionally `VERIFY_PROVENANCE_TRUSTED_ROOT`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

struct Provenance {
    bundle: PathBuf,
    artifact: PathBuf,
    identity: String,
    issuer: String,
    trusted_root: PathBuf,
}

fn provenance() -> Option<Provenance> {
    let env = |k: &str| std::env::var(k).ok();
    if let Some(bundle) = env("VERIFY_PROVENANCE_BUNDLE") {
        let need = |k: &str| env(k).unwrap_or_else(|| panic!("{k} must be set too"));
        let trusted_root = match env("VERIFY_PROVENANCE_TRUSTED_ROOT") {
            Some(r) => PathBuf::from(r),
            None => common::production_root(&common::realdata()?),
        };
        return Some(Provenance {
            bundle: bundle.into(),
            artifact: need("VERIFY_PROVENANCE_ARTIFACT").into(),
            identity: need("VERIFY_PROVENANCE_IDENTITY"),
            issuer: need("VERIFY_PROVENANCE_ISSUER"),
            trusted_root,
        });
    }
    let realdata = common::realdata()?;
    let cases = common::cases_dir(&realdata);
    Some(Provenance {
        bundle: cases.join("happy-path-intoto-in-dsse-v3/bundle.sigstore.json"),
        artifact: cases.join("a.txt"),
        identity: common::DEFAULT_IDENTITY.into(),
        issuer: common::DEFAULT_ISSUER.into(),
        trusted_root: common::production_root(&realdata),
    })
}

fn verify(p: &Provenance, identity_args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_verify"))
        .arg("verify-bundle")
        .arg("--bundle")
        .arg(&p.bundle)
        .arg("--trusted-root")
        .arg(&p.trusted_root)
        .args(identity_args)
        .arg(&p.artifact)
        .output()
        .expect("run verify");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn slsa_provenance_bundle_is_a_slsa_statement() {
    let Some(p) = provenance() else { return };
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&p.bundle).unwrap()).unwrap();
    let env = &bundle["dsseEnvelope"];
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let statement: serde_json::Value =
        serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert!(
        statement["predicateType"]
            .as_str()
            .unwrap()
            .starts_with("https://slsa.dev/provenance/"),
        "{}",
        statement["predicateType"]
    );
}

#[test]
fn slsa_provenance_verifies_with_its_identity() {
    let Some(p) = provenance() else { return };
    let (code, out) = verify(
        &p,
        &[
            "--certificate-identity",
            &p.identity,
            "--certificate-oidc-issuer",
            &p.issuer,
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Verified OK"), "{out}");
}

#[test]
fn slsa_provenance_fails_with_another_identity() {
    let Some(p) = provenance() else { return };
    let other_identity = [
        "--certificate-identity",
        "https://github.com/attacker/repo/.github/workflows/release.yml@refs/heads/main",
        "--certificate-oidc-issuer",
        &p.issuer,
    ];
    let (code, out) = verify(&p, &other_identity);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("certificate identity does not match"), "{out}");

    let other_issuer = [
        "--certificate-identity",
        &p.identity,
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
    ];
    let (code, out) = verify(&p, &other_issuer);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("OIDC issuer does not match"), "{out}");
}

#[test]
fn slsa_provenance_regex_policy() {
    let Some(p) = provenance() else { return };
    let (code, out) = verify(
        &p,
        &[
            "--certificate-identity-regexp",
            "https://github\\.com/.*",
            "--certificate-oidc-issuer-regexp",
            "https://token\\.actions\\.githubusercontent\\.com",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = verify(
        &p,
        &[
            "--certificate-identity-regexp",
            "https://github\\.com/attacker/.*",
            "--certificate-oidc-issuer",
            &p.issuer,
        ],
    );
    assert_eq!(code, Some(1), "{out}");
}
