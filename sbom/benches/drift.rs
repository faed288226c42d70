//! Drift and image benchmarks (criterion) on a factory bench image, with the machine's
//! SHA-256 limit measured in the same run:
//! - `limit/sha256_2_threads` (and `limit_after/...`, once more after the drift check): two
//!   threads hashing in-memory buffers (sha2 picks SHA-NI at run time when the CPU has it):
//!   the most a drift check could hash per second here;
//! - `drift/check_root`: the full drift check of `rootfs/`; its throughput is over the bytes
//!   it hashes (files and bytes are printed first);
//! - `image/scan_oci` and `image/check_image`: the SBOM scan (open + database + decode) of
//!   `oci/` and the drift check over its layers, when the image has an OCI layout.
//!
//! `SBOM_BENCH_IMAGE=<dir>` (default `target/bench-3000`) must hold `rootfs/`
//! (testdata/factory/make-bench-db.sh). `scripts/bench-sbom.sh` turns the estimates into
//! "% of the SHA-256 limit" and sets them beside `rpm -Va`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest, Sha256};

const PER_THREAD: usize = 64;

fn sha256_two_threads(buf: &[u8]) {
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut h = Sha256::new();
                for _ in 0..PER_THREAD {
                    h.update(buf);
                }
                std::hint::black_box(h.finalize());
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    let dir = std::env::var_os("SBOM_BENCH_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-3000"));
    let root = dir.join("rootfs");
    if !root.is_dir() {
        eprintln!(
            "SKIPPED: no bench image at {} (testdata/factory/make-bench-db.sh)",
            root.display()
        );
        return;
    }

    // Setting a group up costs a full pass: skip the groups a filter (`-- image`) leaves out.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |group: &str| filter.as_deref().is_none_or(|f| f.contains(group));

    if wanted("limit") {
        bench_limit(c, "limit");
    }
    if wanted("drift") {
        bench_drift(c, &dir);
    }
    // Measured again after the drift check: on a shared machine the limit moves with the
    // load, and the script takes the better of the two.
    if wanted("limit") {
        bench_limit(c, "limit_after");
    }
    if wanted("image") {
        bench_image(c, &dir);
    }
}

fn bench_limit(c: &mut Criterion, group: &str) {
    let buf = vec![0x5au8; 1 << 20];
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes((2 * PER_THREAD * buf.len()) as u64));
    g.sample_size(20);
    g.bench_function("sha256_2_threads", |b| b.iter(|| sha256_two_threads(&buf)));
    g.finish();
}

fn bench_drift(c: &mut Criterion, dir: &std::path::Path) {
    let root = dir.join("rootfs");
    let inv = sbom::scan::scan_root(&root).expect("scan");
    // One untimed pass: warms the page cache and says how many bytes a pass hashes.
    let d = sbom::drift::check_root(&inv, &root).expect("drift");
    let files: usize = inv.packages.iter().map(|p| p.files.len()).sum();
    println!(
        "bench image {}: {} packages, {files} file entries; drift hashes {} files, {} bytes; {} modified, {} unowned",
        dir.display(),
        inv.packages.len(),
        d.files_hashed,
        d.bytes_hashed,
        d.modified_count(),
        d.unowned.len()
    );
    let mut g = c.benchmark_group("drift");
    g.throughput(Throughput::Bytes(d.bytes_hashed));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("check_root", |b| {
        b.iter(|| sbom::drift::check_root(&inv, &root).expect("drift"))
    });
    g.finish();
}

fn bench_image(c: &mut Criterion, dir: &std::path::Path) {
    let oci = dir.join("oci");
    if !oci.is_dir() {
        eprintln!("SKIPPED: no OCI layout at {}", oci.display());
        return;
    }
    let (inv, img) = sbom::scan::scan_image(&oci, &Default::default()).expect("scan image");
    let d = sbom::drift::check_image(&inv, &img).expect("drift image");
    let mut g = c.benchmark_group("image");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("scan_oci", |b| {
        b.iter(|| sbom::scan::scan_image(&oci, &Default::default()).expect("scan image"))
    });
    g.throughput(Throughput::Bytes(d.bytes_hashed));
    g.bench_function("check_image", |b| {
        b.iter(|| sbom::drift::check_image(&inv, &img).expect("drift image"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
