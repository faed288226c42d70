//! Bundles with transparency-log entries go through the Sigstore engine (`[roots]
//! sigstore` + `[roots] identities`), using real DSSE bundles from the Sigstore
//! conformance suite (`../shared/realdata`; SKIPPED when absent, a failure under CI=true).
//! Their statements are SLSA provenance about `a.txt`, so the "image" here is an OCI image
//! whose manifest digest is a.txt's SHA-256: the engine vouches for the signature,
//! certificate and log, our own subject check for the binding.
//!
//! Tlog-bearing bundles cannot be produced offline by attest (it writes none), so these
//! real bundles are the only engine inputs tested.

mod attestation_fixture;
mod common;

use std::path::{Path, PathBuf};

use attestation_fixture::*;
use verify::attestation::{self, ImageFacts, Outcome, CHECK_AGE, CHECK_SIGNATURE, CHECK_SUBJECT};
use verify::report::Status;

const A_TXT: &str = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
const GH_BUILDER: &str =
    "https://github.com/loosebazooka/aa-test/.github/workflows/provenance.yaml@refs/heads/main";

fn case(realdata: &Path, name: &str) -> PathBuf {
    common::cases_dir(realdata).join(name)
}

fn policy(root: &Path, role: &str, identity: &str) -> String {
    format!(
        "[attestations]\nmax_age = \"1000w\"\nallowed_builders = [\"{GH_BUILDER}\"]\n\n[roots]\n\
         sigstore = \"{}\"\nidentities = [{{ role = \"{role}\", identity = \"{identity}\", issuer = \"{}\" }}]\n",
        root.display(),
        common::DEFAULT_ISSUER
    )
}

fn run(f: &Fixture, bundle: &Path, policy_text: &str, manifest: &str) -> Outcome {
    let name = bundle
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    let copy = f.write(&format!("{name}.json"), std::fs::read(bundle).unwrap());
    let facts = ImageFacts {
        inventory: &f.inv,
        rootfs_digest: None,
        manifest_digest: Some(manifest.into()),
    };
    attestation::check(&[copy], &facts, &f.trust(policy_text), f.now).unwrap()
}

fn kind_of(o: &Outcome, check: &str) -> (Status, String, String) {
    let x = o.findings.iter().find(|x| x.check == check).unwrap();
    (x.status, x.kind.clone(), x.reason.clone())
}

#[test]
fn log_bearing_bundles_are_verified_by_the_engine_and_bound_by_our_subject_check() {
    let Some(realdata) = common::realdata() else {
        return;
    };
    let f = Fixture::new();
    let production = common::production_root(&realdata);
    let happy = case(&realdata, "happy-path-intoto-in-dsse-v3").join("bundle.sigstore.json");
    let good = policy(&production, "provenance", common::DEFAULT_IDENTITY);

    let o = run(&f, &happy, &good, A_TXT);
    let all: Vec<_> = o.findings.iter().collect();
    assert_all_pass(&all);
    assert_eq!(all.len(), 4, "{all:?}");
    let (_, _, sig) = kind_of(&o, CHECK_SIGNATURE);
    assert!(sig.contains("log entries verified"), "{sig}");
    // The statement has no finishedOn: its age is the log's authenticated time.
    let (_, _, age) = kind_of(&o, CHECK_AGE);
    assert!(age.contains("authenticated time"), "{age}");

    // Another image: the engine still verifies the bundle, our subject check refuses it.
    let other = format!("sha256:{}", "0".repeat(64));
    let o = run(&f, &happy, &good, &other);
    assert_eq!(kind_of(&o, CHECK_SIGNATURE).0, Status::Pass);
    assert_eq!(kind_of(&o, CHECK_SUBJECT).1, "subject-mismatch");

    // The identity trusted for SBOMs only, or another identity: not trusted.
    let o = run(
        &f,
        &happy,
        &policy(&production, "sbom", common::DEFAULT_IDENTITY),
        A_TXT,
    );
    assert_eq!(
        summary(&o.findings.iter().collect::<Vec<_>>()),
        [s(CHECK_SIGNATURE, Status::Fail, "wrong-role")]
    );
    let o = run(
        &f,
        &happy,
        &policy(&production, "provenance", "https://github.com/other/repo"),
        A_TXT,
    );
    assert_eq!(kind_of(&o, CHECK_SIGNATURE).1, "untrusted-identity");

    // Without [roots] sigstore the log cannot be checked; the short-lived Fulcio
    // certificate is then judged by [roots] provenance (none): not trusted.
    let no_root =
        format!("[attestations]\nmax_age = \"1000w\"\nallowed_builders = [\"{GH_BUILDER}\"]\n");
    let o = run(&f, &happy, &no_root, A_TXT);
    assert_eq!(kind_of(&o, CHECK_SIGNATURE).1, "untrusted-certificate");

    // Rekor v2 (hashedrekord over DSSE), staging trust root shipped with the case. Its
    // predicate is a stub without the required externalParameters: signed and about
    // a.txt, but not SLSA provenance we can check.
    let v2 = case(&realdata, "rekor2-dsse-happy-path");
    let staging = policy(
        &v2.join("trusted_root.json"),
        "provenance",
        common::DEFAULT_IDENTITY,
    );
    let o = run(&f, &v2.join("bundle.sigstore.json"), &staging, A_TXT);
    assert_eq!(kind_of(&o, CHECK_SIGNATURE).0, Status::Pass);
    assert_eq!(kind_of(&o, CHECK_SUBJECT).0, Status::Pass);
    let (status, kind, reason) = kind_of(&o, verify::attestation::CHECK_PROVENANCE);
    assert_eq!(
        (status, kind.as_str()),
        (Status::Fail, "malformed-provenance"),
        "{reason}"
    );
}

#[test]
fn broken_log_bearing_bundles_fail_with_the_engines_reason() {
    let Some(realdata) = common::realdata() else {
        return;
    };
    let f = Fixture::new();
    let production = common::production_root(&realdata);
    let good = policy(&production, "provenance", common::DEFAULT_IDENTITY);
    for (name, kind) in [
        ("dsse-invalid-sig_fail", "bad-signature"),
        ("dsse-mismatch-sig_fail", "bad-log-entry"),
        ("dsse-mismatch-envelope_fail", "bad-log-entry"),
    ] {
        let o = run(
            &f,
            &case(&realdata, name).join("bundle.sigstore.json"),
            &good,
            A_TXT,
        );
        let all: Vec<_> = o.findings.iter().collect();
        assert_eq!(
            summary(&all),
            [s(CHECK_SIGNATURE, Status::Fail, kind)],
            "{name}: {all:?}"
        );
    }
    // A log-bearing bundle whose statement has only our rootfsSha256 subject: the engine
    // cannot bind it, so it is refused whole rather than judged on part of its evidence.
    let happy = case(&realdata, "happy-path-intoto-in-dsse-v3").join("bundle.sigstore.json");
    let mut b: serde_json::Value = serde_json::from_slice(&std::fs::read(happy).unwrap()).unwrap();
    let payload = f.image_statement().to_payload().unwrap();
    b["dsseEnvelope"]["payload"] = attest::dsse::b64(&payload).into();
    let dir = f.path("rootfs-subject");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bundle.sigstore.json"), b.to_string()).unwrap();
    let prov = good.replace(GH_BUILDER, BUILDER);
    let o = run(&f, &dir.join("bundle.sigstore.json"), &prov, A_TXT);
    let all: Vec<_> = o.findings.iter().collect();
    assert_eq!(
        summary(&all),
        [s(CHECK_SIGNATURE, Status::Fail, "unsupported-bundle")]
    );
}
