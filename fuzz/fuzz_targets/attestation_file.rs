//! Any byte string as an attestation file given to `verify image --attestation`: a DSSE
//! envelope, a Sigstore bundle or `.intoto.jsonl` lines, recognised by content. The bytes
//! are written to a scratch file (the public API, `verify::attestation::check`, reads
//! files) and checked against the sample image with a policy trusting the key the seeds
//! were signed with. Must never panic, hang or allocate beyond a small multiple of the
//! input's size; garbage is a finding, never an `Err` (the file exists and is readable).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = common::attestation_setup();
    let dir = common::scratch();
    let file = dir.path().join("attestation.json");
    std::fs::write(&file, data).unwrap();
    verify::attestation::check(&[file], &s.facts(), &s.trust, common::NOW)
        .expect("a readable attestation file is never an error, only findings");
});
