//! Drift and image benchmarks (criterion) on a factory bench image, with the machine's
//! SHA-256 limit measured in the same run:
//! - `limit/sha256_2_threads` (and `limit_after/...`, once more after the drift check): two
//!   threads hashing in-memory buffers (sha2 picks SHA-NI at run time when the CPU has it):
//!   the most a drift check could hash per second here;
//! - `drift/check_root`: the full drift check of `rootfs/`; its throughput is over the bytes
//!   it hashes (files and bytes are printed first);
//! - `floor/open_read_sha256`: the least any check of these files must do, and nothing
//!   else: per regular file `openat`, `fstat`, `read` into a reused buffer, SHA-256, `close`,
//!   over a file list made beforehand (no directory reading, no comparison, no results):
//!   how near the system calls alone let a check come to the limit on this machine;
//! - `image/scan_oci` and `image/check_image`: the SBOM scan (open + database + decode) of
//!   `oci/` and the drift check over its layers, when the image has an OCI layout.
//!
//! `SBOM_BENCH_IMAGE=<dir>` (default `target/bench-3000`) must hold `rootfs/`
//! (testdata/factory/make-bench-db.sh). `scripts/bench-sbom.sh` turns the estimates into
//! "% of the SHA-256 limit" and sets them beside `rpm -Va`.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use rustix::fs::{Mode, OFlags};
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
    if wanted("floor") {
        bench_floor(c, &root);
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

/// Every regular file below `root`, as (open directory, names), listed untimed.
fn regular_files(root: &std::path::Path) -> Vec<(OwnedFd, Vec<CString>)> {
    let mut dirs = Vec::new();
    for e in walkdir::WalkDir::new(root) {
        let e = e.expect("walk the bench image");
        if !e.file_type().is_dir() {
            continue;
        }
        let fd = rustix::fs::open(e.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
            .expect("open a directory of the bench image");
        let names = std::fs::read_dir(e.path())
            .expect("read a directory of the bench image")
            .map(|c| c.expect("directory entry"))
            .filter(|c| c.file_type().is_ok_and(|t| t.is_file()))
            .map(|c| CString::new(c.file_name().into_encoded_bytes()).expect("no NUL in a name"))
            .collect();
        dirs.push((fd, names));
    }
    dirs
}

fn bench_floor(c: &mut Criterion, root: &std::path::Path) {
    let dirs = regular_files(root);
    let files: Vec<(usize, usize)> = dirs
        .iter()
        .enumerate()
        .flat_map(|(d, (_, names))| (0..names.len()).map(move |n| (d, n)))
        .collect();
    let pass = || -> u64 {
        files
            .par_iter()
            .with_min_len(16)
            .map_init(
                || vec![0u8; 256 * 1024],
                |buf, &(d, n)| {
                    let (dir, names) = &dirs[d];
                    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                    let fd =
                        rustix::fs::openat(dir.as_fd(), names[n].as_c_str(), flags, Mode::empty())
                            .expect("open a bench file");
                    let size = rustix::fs::fstat(&fd).expect("fstat").st_size as usize;
                    let mut f = std::fs::File::from(fd);
                    let ask = (size + 1).min(buf.len());
                    let mut h = Sha256::new();
                    let mut total = 0;
                    let mut k = f.read(&mut buf[..ask]).expect("read");
                    while k > 0 {
                        h.update(&buf[..k]);
                        total += k as u64;
                        if k < ask {
                            break;
                        }
                        k = f.read(buf).expect("read");
                    }
                    std::hint::black_box(h.finalize());
                    total
                },
            )
            .sum()
    };
    let bytes = pass();
    let mut g = c.benchmark_group("floor");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("open_read_sha256", |b| b.iter(pass));
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
