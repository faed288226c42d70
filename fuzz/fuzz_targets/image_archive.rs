//! Any byte string as a container image archive (an OCI archive or a docker-archive, as
//! `sbom`/`verify image` open them): written to a scratch file, since
//! `sbom::image::Image::open` takes a path, then opened with small limits. Exercises the
//! archive index (hostile member names), `index.json`/`manifest.json`/config parsing,
//! platform selection and digest checks. Must never panic, hang or allocate beyond the
//! limits; hostile input is an `Err`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sbom::image::{Image, Limits};

const LIMITS: Limits = Limits {
    max_total: 8 << 20,
    max_entry: 1 << 20,
    max_entries: 4096,
    max_tree: 64 << 20,
    max_resolve: 1 << 24,
};

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, data).unwrap();
    let _ = sbom::image::detect(&path);
    if let Ok(img) = Image::open(&path, None, LIMITS) {
        for p in ["etc/os-release", "usr/lib/os-release"] {
            let _ = img.read_file(p, 1 << 20);
        }
    }
});
