//! Tampering: one flipped byte in each part of a valid bundle (or in the
//! artifact) must fail, and with the error variant that names that part.
//! Plus the identity policy and key-based paths through the library API.

mod common;

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::Value;
use verify::sigstore::{
    Artifact, IdentityPolicy, KeyPolicy, Matcher, Policy, SigstoreBundle, SigstoreError,
    SigstoreVerifier, TrustedRoot,
};

struct Fixture {
    json: Value,
    artifact: Vec<u8>,
    verifier: SigstoreVerifier,
    key: Option<String>,
}

fn fixture(case: &str) -> Option<Fixture> {
    let realdata = common::realdata()?;
    let dir = common::cases_dir(&realdata).join(case);
    let root_path = Some(dir.join("trusted_root.json"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| common::production_root(&realdata));
    let root = TrustedRoot::from_file(&root_path).expect("trusted root");
    let artifact_path: PathBuf = Some(dir.join("artifact"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| common::cases_dir(&realdata).join("a.txt"));
    Some(Fixture {
        json: serde_json::from_slice(&std::fs::read(dir.join("bundle.sigstore.json")).unwrap())
            .unwrap(),
        artifact: std::fs::read(artifact_path).unwrap(),
        verifier: SigstoreVerifier::new(&root).expect("verifier"),
        key: std::fs::read_to_string(dir.join("key.pub")).ok(),
    })
}

fn default_policy() -> Policy {
    Policy::Identity(IdentityPolicy::exact(
        common::DEFAULT_IDENTITY,
        common::DEFAULT_ISSUER,
    ))
}

impl Fixture {
    fn verify_json(&self, json: &Value, policy: &Policy) -> Result<(), SigstoreError> {
        let bundle = SigstoreBundle::from_json(json.to_string().as_bytes())?;
        self.verifier
            .verify(&bundle, Artifact::Bytes(&self.artifact), policy)
            .map(|_| ())
    }

    fn key_policy(&self) -> KeyPolicy {
        KeyPolicy::from_pem(self.key.as_deref().expect("case has key.pub")).unwrap()
    }
}

/// Decode the base64 string at `pointer`, flip one bit of byte `index` (from
/// the end when negative), write it back.
fn flip_b64(json: &mut Value, pointer: &str, index: isize) {
    let slot = json
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}"));
    let mut bytes = B64.decode(slot.as_str().unwrap()).unwrap();
    let i = if index < 0 {
        bytes.len() - index.unsigned_abs()
    } else {
        index as usize
    };
    bytes[i] ^= 0x01;
    *slot = Value::String(B64.encode(bytes));
}

const V03: &str = "happy-path-v0.3";
const CERT: &str = "/verificationMaterial/certificate/rawBytes";
const PROOF: &str = "/verificationMaterial/tlogEntries/0/inclusionProof";

#[test]
fn untouched_bundle_verifies() {
    let Some(f) = fixture(V03) else { return };
    f.verify_json(&f.json, &default_policy()).unwrap();
}

#[test]
fn flipped_signature_fails_as_signature() {
    let Some(f) = fixture(V03) else { return };
    let mut j = f.json.clone();
    flip_b64(&mut j, "/messageSignature/signature", -2);
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(matches!(e, SigstoreError::Signature(_)), "{e}");
}

#[test]
fn flipped_artifact_fails_as_artifact_mismatch() {
    let Some(mut f) = fixture(V03) else { return };
    f.artifact[0] ^= 0x01;
    let e = f.verify_json(&f.json, &default_policy()).unwrap_err();
    assert!(matches!(e, SigstoreError::ArtifactMismatch(_)), "{e}");
    // And by digest, without the bytes.
    let bundle = SigstoreBundle::from_json(f.json.to_string().as_bytes()).unwrap();
    let wrong = Artifact::Bytes(&f.artifact).sha256();
    let e = f
        .verifier
        .verify(&bundle, Artifact::Sha256(wrong), &default_policy())
        .unwrap_err();
    assert!(matches!(e, SigstoreError::ArtifactMismatch(_)), "{e}");
}

#[test]
fn flipped_certificate_fails_as_certificate_chain() {
    let Some(f) = fixture(V03) else { return };
    // The last byte is inside the CA's signature: the DER still parses, so
    // what fails is the chain.
    let mut j = f.json.clone();
    flip_b64(&mut j, CERT, -1);
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(matches!(e, SigstoreError::CertificateChain(_)), "{e}");
    // A byte in the DER header breaks parsing.
    let mut j = f.json.clone();
    flip_b64(&mut j, CERT, 1);
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(matches!(e, SigstoreError::CertificateMalformed(_)), "{e}");
}

#[test]
fn flipped_inclusion_proof_fails_as_inclusion_proof() {
    let Some(f) = fixture(V03) else { return };
    let mut j = f.json.clone();
    flip_b64(&mut j, &format!("{PROOF}/hashes/0"), 5);
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(matches!(e, SigstoreError::InclusionProof(_)), "{e}");
}

#[test]
fn flipped_checkpoint_fails_as_checkpoint() {
    let Some(f) = fixture(V03) else { return };
    // One character of the checkpoint's origin line: the note no longer
    // carries a valid signature by the log.
    let mut j = f.json.clone();
    let slot = j
        .pointer_mut(&format!("{PROOF}/checkpoint/envelope"))
        .unwrap();
    let mut text = slot.as_str().unwrap().to_string();
    let c = text.remove(0);
    text.insert(0, if c == 'r' { 's' } else { 'r' });
    *slot = Value::String(text);
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(matches!(e, SigstoreError::Checkpoint(_)), "{e}");
}

#[test]
fn flipped_root_hash_fails_as_checkpoint() {
    let Some(f) = fixture(V03) else { return };
    let mut j = f.json.clone();
    flip_b64(&mut j, &format!("{PROOF}/rootHash"), 0);
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(
        matches!(
            e,
            SigstoreError::Checkpoint(_) | SigstoreError::InclusionProof(_)
        ),
        "{e}"
    );
}

#[test]
fn flipped_signed_entry_timestamp_fails_as_inclusion_promise() {
    let Some(f) = fixture(V03) else { return };
    let mut j = f.json.clone();
    flip_b64(
        &mut j,
        "/verificationMaterial/tlogEntries/0/inclusionPromise/signedEntryTimestamp",
        -2,
    );
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(matches!(e, SigstoreError::InclusionPromise(_)), "{e}");
}

#[test]
fn flipped_dsse_payload_fails_as_signature() {
    let Some(f) = fixture("happy-path-intoto-in-dsse-v3") else {
        return;
    };
    f.verify_json(&f.json, &default_policy()).unwrap();
    let mut j = f.json.clone();
    flip_b64(&mut j, "/dsseEnvelope/payload", 10);
    let e = f.verify_json(&j, &default_policy()).unwrap_err();
    assert!(
        matches!(
            e,
            SigstoreError::Signature(_) | SigstoreError::BundleMalformed(_)
        ),
        "{e}"
    );
}

#[test]
fn identity_policy_exact_regex_and_mismatch() {
    let Some(f) = fixture(V03) else { return };
    let with = |identity: Matcher, issuer: Matcher| {
        f.verify_json(
            &f.json,
            &Policy::Identity(IdentityPolicy { identity, issuer }),
        )
    };
    let issuer = || Matcher::exact(common::DEFAULT_ISSUER);
    with(
        Matcher::regex(r"https://github\.com/sigstore-conformance/.*").unwrap(),
        issuer(),
    )
    .unwrap();
    with(
        Matcher::exact(common::DEFAULT_IDENTITY),
        Matcher::regex(r"https://token\.actions\.githubusercontent\.com").unwrap(),
    )
    .unwrap();
    let e = with(Matcher::exact("https://github.com/someone/else"), issuer()).unwrap_err();
    assert!(matches!(e, SigstoreError::IdentityMismatch { .. }), "{e}");
    // Anchored: a prefix alone does not match.
    let e = with(Matcher::regex("https://github.com").unwrap(), issuer()).unwrap_err();
    assert!(matches!(e, SigstoreError::IdentityMismatch { .. }), "{e}");
    let e = with(
        Matcher::exact(common::DEFAULT_IDENTITY),
        Matcher::exact("https://accounts.google.com"),
    )
    .unwrap_err();
    assert!(matches!(e, SigstoreError::IssuerMismatch { .. }), "{e}");
}

#[test]
fn key_given_for_certificate_bundle_fails_as_signer_kind() {
    let Some(f) = fixture(V03) else { return };
    let Some(k) = fixture("managed-key-happy-path") else {
        return;
    };
    let e = f
        .verify_json(&f.json, &Policy::Key(k.key_policy()))
        .unwrap_err();
    assert!(matches!(e, SigstoreError::SignerKind(_)), "{e}");
}

#[test]
fn key_based_bundle_with_and_without_log_entry() {
    let Some(mut f) = fixture("managed-key-happy-path") else {
        return;
    };
    let strict = Policy::Key(f.key_policy());
    let lenient = Policy::Key(f.key_policy().allowing_missing_tlog(true));
    f.verify_json(&f.json, &strict).unwrap();

    // No log entry: refused unless allowed; the timestamp still verifies.
    let mut no_log = f.json.clone();
    no_log["verificationMaterial"]["tlogEntries"] = Value::Array(vec![]);
    let e = f.verify_json(&no_log, &strict).unwrap_err();
    assert!(matches!(e, SigstoreError::MissingLogEntry), "{e}");
    f.verify_json(&no_log, &lenient).unwrap();

    // Neither log entry nor timestamp: our own path (sigstore-verify refuses).
    let mut bare = no_log.clone();
    bare["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("timestampVerificationData");
    f.verify_json(&bare, &lenient).unwrap();
    let mut bad_sig = bare.clone();
    flip_b64(&mut bad_sig, "/messageSignature/signature", -2);
    let e = f.verify_json(&bad_sig, &lenient).unwrap_err();
    assert!(matches!(e, SigstoreError::Signature(_)), "{e}");
    f.artifact.push(b'!');
    let e = f.verify_json(&bare, &lenient).unwrap_err();
    assert!(matches!(e, SigstoreError::ArtifactMismatch(_)), "{e}");
}

#[test]
fn wrong_key_fails() {
    let Some(f) = fixture("managed-key-happy-path") else {
        return;
    };
    // A valid P-256 key that did not sign: the Rekor v1 SPKI of the production root.
    let root =
        std::fs::read_to_string(common::production_root(&common::realdata().unwrap())).unwrap();
    let root: Value = serde_json::from_str(&root).unwrap();
    let der = root["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap();
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{der}\n-----END PUBLIC KEY-----\n");
    let e = f
        .verify_json(&f.json, &Policy::Key(KeyPolicy::from_pem(&pem).unwrap()))
        .unwrap_err();
    assert!(
        matches!(
            e,
            SigstoreError::Signature(_) | SigstoreError::LogEntryMismatch(_)
        ),
        "{e}"
    );
}

#[test]
fn hostile_inputs_fail_without_panicking() {
    let Some(f) = fixture(V03) else { return };
    let text = f.json.to_string();
    // Truncations and single-byte corruptions all over the bundle text: every
    // one must come back as an error or (for bytes that do not matter, like
    // whitespace in a checkpoint-free field) a success, never as a panic.
    let bytes = text.as_bytes();
    for cut in (0..bytes.len()).step_by(97) {
        let _ = SigstoreBundle::from_json(&bytes[..cut]);
    }
    for i in (0..bytes.len()).step_by(13) {
        let mut b = bytes.to_vec();
        b[i] = b[i].wrapping_add(1);
        if let Ok(bundle) = SigstoreBundle::from_json(&b) {
            let r = f
                .verifier
                .verify(&bundle, Artifact::Bytes(&f.artifact), &default_policy());
            assert!(
                !matches!(r, Err(SigstoreError::Internal(_))),
                "panic at byte {i}"
            );
        }
    }
}
