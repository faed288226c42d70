//! Any byte string as a DSSE envelope (`attest::dsse::Envelope::from_json`, the reader
//! behind `.dsse.json` files and in-toto DSSE metadata). Must never panic, hang or
//! allocate beyond a small multiple of the input's size, and what parses must survive a
//! round trip: writing it out and reading it back gives the same envelope.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use attest::dsse::Envelope;
use attest::keys::PublicKey;
use libfuzzer_sys::fuzz_target;

/// The public key of the DSSE specification's test vector (ECDSA P-256, in
/// /work/shared/realdata/dsse) and the fuzz signer key (Ed25519, the seeds made with
/// `attest`), so mutations of the seeds reach the signature check with a matching key.
const KEYS: [&str; 2] = [
    "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ805D3eqNZywjCI19lInBJOp7YMr
CrzAH3CVTAOQ0jgMeCvVTiaRJaRPRDOv8UMs6U4SvKc6pnrIDOoSYI3fdA==
-----END PUBLIC KEY-----
",
    "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJE5knzdkFx7/4VAi7K4SNqTzgXmVCLaC031d7c9pXPQ=
-----END PUBLIC KEY-----
",
];

fn keys() -> &'static [PublicKey] {
    static K: OnceLock<Vec<PublicKey>> = OnceLock::new();
    K.get_or_init(|| {
        KEYS.iter()
            .map(|pem| PublicKey::from_pem(pem, Path::new("fuzz.pub")).expect("a valid key"))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::from_json(data, "fuzz") else {
        return;
    };
    let _ = env.pae();
    let _ = env.verify(keys(), 1, "fuzz");
    let line = env.to_json_line();
    let back = Envelope::from_json(line.as_bytes(), "round trip")
        .expect("an envelope we wrote must read back");
    assert_eq!(back, env, "the envelope changed in a write/read round trip");
});
