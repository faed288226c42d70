//! Any byte string as a `.rpm` package file for `verify::rpmsig::rpmfile::verify_rpm_bytes`
//! (lead, signature header, main header; then every header signature checked against a
//! keyring of the sample repository's RSA and Ed25519 test keys). Must never panic, hang
//! or allocate beyond a small multiple of the input's size; a bad package is an issue in
//! the verdict.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use verify::rpmsig::Keyring;

fn keyring() -> &'static Keyring {
    static K: OnceLock<Keyring> = OnceLock::new();
    K.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample/keys");
        let mut k = Keyring::new();
        for name in [
            "RPM-GPG-KEY-test-rsa4096.asc",
            "RPM-GPG-KEY-test-ed25519.asc",
        ] {
            let p = dir.join(name);
            let armored = std::fs::read(&p).expect("the sample keys");
            k.add_armored(&armored, &p).expect("a valid sample key");
        }
        k
    })
}

fuzz_target!(|data: &[u8]| {
    let v = verify::rpmsig::rpmfile::verify_rpm_bytes(data, keyring());
    let _ = (v.is_verified(), v.subject());
});
