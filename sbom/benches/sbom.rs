//! Benchmarks of the SBOM pipeline on a generated image of 2,000+ packages and 200,000+
//! files (`testdata/factory/make-bench-db.sh`, default `target/bench-image`; override
//! with `SBOM_BENCH_IMAGE=<dir containing rootfs/>`). Whole-binary wall time and peak
//! memory are measured by `scripts/bench-sbom.sh`, which also runs this.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use sbom::format::{self, DocumentInfo, Format};
use sbom::{rpmdb, scan};

fn image() -> Option<PathBuf> {
    let dir = std::env::var_os("SBOM_BENCH_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-image"));
    let root = dir.join("rootfs");
    if root.is_dir() {
        Some(root)
    } else {
        eprintln!(
            "SKIPPED: no bench image at {}; build it with testdata/factory/make-bench-db.sh",
            root.display()
        );
        None
    }
}

fn bench(c: &mut Criterion) {
    let Some(root) = image() else { return };
    let (db, fmt) = rpmdb::locate(&root).expect("bench image has a database");
    let inv = scan::scan_root(&root).expect("bench image scans");
    let files: usize = inv.packages.iter().map(|p| p.files.len()).sum();
    eprintln!(
        "bench image: {} packages, {files} files",
        inv.packages.len()
    );

    let mut g = c.benchmark_group("sbom");
    g.sample_size(10);
    g.bench_function("read_db_blobs", |b| {
        b.iter(|| rpmdb::read_headers(&db, fmt).unwrap())
    });
    g.bench_function("scan_root (read+decode+resolve)", |b| {
        b.iter(|| scan::scan_root(&root).unwrap())
    });
    let info = DocumentInfo {
        created: 1_700_000_000,
        tool_name: "sbom".into(),
        tool_version: "bench".into(),
        include_files: true,
    };
    for (name, f) in [
        ("write_spdx23", Format::Spdx23),
        ("write_spdx3", Format::Spdx3),
        ("write_cyclonedx", Format::CycloneDx),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut out = std::io::sink();
                format::write(f, &inv, &info, &mut out).unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
