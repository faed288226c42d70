//! Drift and image benchmarks, with their limits measured in the same run (run by
//! `scripts/bench-drift.sh`; plain timing, not criterion: one pass over 300,000 files is
//! the measurement, and repeating it dozens of times would only measure the page cache).
//!
//! `SBOM_BENCH_IMAGE=<dir>` (default `target/bench-3000`) must hold `rootfs/` and, for the
//! image figures, `oci/` (testdata/factory/compose.py). Prints:
//! - the machine's 2-thread SHA-256 throughput over in-memory buffers (the limit);
//! - the full drift check of the root directory: wall time, bytes hashed, throughput;
//! - the SBOM from the OCI layout (open + scan) and the drift check of the OCI layout.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

fn sha256_limit() -> f64 {
    // 2 threads, each hashing 256 MiB of 1 MiB in-memory buffers.
    let buf = vec![0x5au8; 1 << 20];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let per = 256;
    let t = Instant::now();
    pool.install(|| {
        (0..2).into_par_iter().for_each(|_| {
            let mut h = Sha256::new();
            for _ in 0..per {
                h.update(&buf);
            }
            std::hint::black_box(h.finalize());
        })
    });
    (2 * per) as f64 * (1 << 20) as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let dir = std::env::var_os("SBOM_BENCH_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-3000"));
    let root = dir.join("rootfs");
    if !root.is_dir() {
        eprintln!("SKIPPED: no image at {}", root.display());
        return;
    }
    let mb = |b: f64| b / 1e6;
    let limit = sha256_limit();
    println!("sha256, 2 threads, in memory: {:.0} MB/s", mb(limit));

    let inv = sbom::scan::scan_root(&root).expect("scan");
    let files: usize = inv.packages.iter().map(|p| p.files.len()).sum();
    println!(
        "image: {} packages, {files} file entries",
        inv.packages.len()
    );
    let t = Instant::now();
    let d = sbom::drift::check_root(&inv, &root).expect("drift");
    let secs = t.elapsed().as_secs_f64();
    let rate = d.bytes_hashed as f64 / secs;
    println!(
        "drift (root dir): {secs:.2} s, {} files / {:.1} MB hashed, {:.0} MB/s = {:.0}% of the sha256 limit; {} modified, {} unowned",
        d.files_hashed,
        mb(d.bytes_hashed as f64),
        mb(rate),
        100.0 * rate / limit,
        d.modified_count(),
        d.unowned.len()
    );

    let oci = dir.join("oci");
    if !oci.is_dir() {
        eprintln!(
            "SKIPPED: no OCI layout at {} (testdata/factory/compose.py)",
            oci.display()
        );
        return;
    }
    let t = Instant::now();
    let (inv, img) = sbom::scan::scan_image(&oci, &Default::default()).expect("scan image");
    println!(
        "scan (OCI layout, open + rpmdb + decode): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let d = sbom::drift::check_image(&inv, &img).expect("drift image");
    let secs = t.elapsed().as_secs_f64();
    let rate = d.bytes_hashed as f64 / secs;
    println!(
        "drift (OCI layout): {secs:.2} s, {} files / {:.1} MB hashed, {:.0} MB/s = {:.0}% of the sha256 limit",
        d.files_hashed,
        mb(d.bytes_hashed as f64),
        mb(rate),
        100.0 * rate / limit
    );
}
