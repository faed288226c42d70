//! Any byte string as the payload of a DSSE envelope signed by a trusted key: what a
//! trusted but buggy (or compromised) builder could make `verify image` read. The
//! signature passes, so the in-toto statement, SLSA provenance and SPDX/CycloneDX SBOM
//! checks run on the fuzzed payload, against the sample image. Must never panic, hang or
//! allocate beyond a small multiple of the input's size.
#![no_main]

mod common;

use std::sync::OnceLock;

use attest::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use attest::keys::PrivateKey;
use libfuzzer_sys::fuzz_target;

fn signer() -> &'static PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    K.get_or_init(|| common::private(common::SIGNER_KEY))
}

fuzz_target!(|data: &[u8]| {
    let s = common::attestation_setup();
    let env = Envelope::sign_one(INTOTO_PAYLOAD_TYPE, data.to_vec(), signer()).unwrap();
    let dir = common::scratch();
    let file = dir.path().join("statement.dsse.json");
    std::fs::write(&file, env.to_json_line()).unwrap();
    verify::attestation::check(&[file], &s.facts(), &s.trust, common::NOW)
        .expect("a readable attestation file is never an error, only findings");
});
