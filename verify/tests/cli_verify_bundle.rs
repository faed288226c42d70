//! Exit statuses of `verify verify-bundle`: 0 verified, 1 not verified,
//! 2 usage or input error.

mod common;

use std::process::{Command, Output};

fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verify"))
        .arg("verify-bundle")
        .args(args)
        .env_remove("VERIFY_SIGSTORE_TRUSTED_ROOT")
        .output()
        .expect("run verify")
}

#[test]
fn usage_errors_exit_2() {
    // No subcommand arguments at all: clap's usage error.
    assert_eq!(verify(&[]).status.code(), Some(2));
    // Identity without issuer.
    let out = verify(&["--bundle", "b.json", "--certificate-identity", "x", "a.txt"]);
    assert_eq!(out.status.code(), Some(2));
    // --key together with an identity.
    let out = verify(&[
        "--bundle",
        "b.json",
        "--key",
        "k.pem",
        "--certificate-identity",
        "x",
        "a.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn input_errors_exit_2_and_name_the_problem() {
    let Some(realdata) = common::realdata() else {
        return;
    };
    let cases = common::cases_dir(&realdata);
    let bundle = cases.join("happy-path-v0.3/bundle.sigstore.json");
    let bundle = bundle.to_str().unwrap();
    let artifact = cases.join("a.txt");
    let artifact = artifact.to_str().unwrap();
    let root = common::production_root(&realdata);
    let root = root.to_str().unwrap();
    let policy = [
        "--certificate-identity",
        common::DEFAULT_IDENTITY,
        "--certificate-oidc-issuer",
        common::DEFAULT_ISSUER,
    ];

    // No trusted root and no environment variable: refused, never defaulted.
    let mut args = vec!["--bundle", bundle];
    args.extend(policy);
    args.push(artifact);
    let out = verify(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trusted root"));

    // The environment variable is honoured.
    let out = Command::new(env!("CARGO_BIN_EXE_verify"))
        .arg("verify-bundle")
        .args(&args)
        .env("VERIFY_SIGSTORE_TRUSTED_ROOT", root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // A malformed digest and a missing artifact are input errors.
    for target in ["sha256:1234", "/nonexistent/artifact"] {
        let mut args = vec!["--bundle", bundle, "--trusted-root", root];
        args.extend(policy);
        args.push(target);
        assert_eq!(verify(&args).status.code(), Some(2), "{target}");
    }

    // A bad regular expression is an input error too.
    let out = verify(&[
        "--bundle",
        bundle,
        "--trusted-root",
        root,
        "--certificate-identity-regexp",
        "(",
        "--certificate-oidc-issuer",
        common::DEFAULT_ISSUER,
        artifact,
    ]);
    assert_eq!(out.status.code(), Some(2));

    // A wrong identity is "not verified", with the reason on stderr.
    let out = verify(&[
        "--bundle",
        bundle,
        "--trusted-root",
        root,
        "--certificate-identity",
        "https://example.com/other",
        "--certificate-oidc-issuer",
        common::DEFAULT_ISSUER,
        artifact,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("certificate identity does not match"));
}
