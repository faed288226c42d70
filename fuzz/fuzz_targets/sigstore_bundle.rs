//! Any byte string as a Sigstore bundle (`*.sigstore.json`): parse it with
//! `SigstoreBundle::from_json`, read every accessor, decode the signing certificate, and,
//! when it parses, verify it against the public-good trusted root (if the conformance
//! data is present) with the conformance identity or key. Must never panic, hang or
//! allocate beyond a small multiple of the input's size.
//!
//! Note: `SigstoreVerifier::verify` turns panics below it into `SigstoreError::Internal`
//! with `catch_unwind`; libFuzzer's panic hook aborts first, so such a panic still shows
//! up here as a crash (a bug in a dependency, contained in production).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verify::sigstore::{
    certificate, Artifact, IdentityPolicy, KeyPolicy, Policy, SignerKind, SigstoreBundle,
    SigstoreVerifier, TrustedRoot,
};

/// Trust material from /work/shared/realdata (optional: without it only parsing runs).
const REALDATA: &str = "/work/shared/realdata/sigstore";
const CASES: &str = "conformance/test/assets/bundle-verify";
const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Setup {
    verifier: SigstoreVerifier,
    artifact: Vec<u8>,
    identity: Policy,
    key: Option<Policy>,
}

fn setup() -> Option<&'static Setup> {
    static S: OnceLock<Option<Setup>> = OnceLock::new();
    S.get_or_init(|| {
        let base = Path::new(REALDATA);
        let root = TrustedRoot::from_file(&base.join("trust/production_trusted_root.json")).ok()?;
        let verifier = SigstoreVerifier::new(&root).ok()?;
        let artifact = std::fs::read(base.join(CASES).join("a.txt")).ok()?;
        let key = std::fs::read_to_string(base.join(CASES).join("managed-key-happy-path/key.pub"))
            .ok()
            .and_then(|pem| KeyPolicy::from_pem(&pem).ok())
            .map(|k| Policy::Key(k.allowing_missing_tlog(true)));
        Some(Setup {
            verifier,
            artifact,
            identity: Policy::Identity(IdentityPolicy::exact(IDENTITY, ISSUER)),
            key,
        })
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Ok(b) = SigstoreBundle::from_json(data) else {
        return;
    };
    let _ = (b.media_type(), b.version(), b.public_key_hint());
    let _ = (b.tlog_entry_count(), b.timestamp_count(), b.dsse_payload());
    if let Some(der) = b.signing_certificate_der() {
        let _ = certificate::identity(der);
        let _ = certificate::is_self_signed(der);
    }
    let Some(s) = setup() else {
        return;
    };
    let policy = match b.signer_kind() {
        SignerKind::Certificate => &s.identity,
        SignerKind::PublicKey => match &s.key {
            Some(k) => k,
            None => return,
        },
    };
    let _ = s.verifier.verify(&b, Artifact::Bytes(&s.artifact), policy);
});
