//! Any byte string as an OpenPGP signature packet (RSAHEADER/DSAHEADER/OPENPGP content).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sbom::rpm::pgpsig::parse(data);
});
