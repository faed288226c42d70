//! Throughput of RPM header signature verification on a 3,000-package image whose
//! headers are all RSA-4096-signed, beside its limits measured in the same run:
//!
//! - `verify_headers/all_cores`: `rpmsig::verify_headers` over every header (parse,
//!   SHA-256 of the signed region, SHA256HEADER compare, left16, RSA verify), rayon
//!   over all cores. Target (issue 5): >= 15,000 headers/s on 2 cores.
//! - `verify_headers/one_core`: the same in a 1-thread pool.
//! - `rsa4096_limit/*`: only the aws-lc-rs RSA-4096 PKCS#1 v1.5 verify of the same
//!   signatures over precomputed digests: the ceiling for the above.
//! - `rpmkeys --checksig` on the same packages' `.rpm` files, timed once (one process,
//!   and one per core over equal shares), printed at the end. rpm also checks the
//!   payload digest and MD5 there (small gzip payloads in this image); `--nodigest`
//!   is no way out: rpm 4.18 then reports the missing digests as NOT OK.
//!
//! The image: `verify/benches/make-rsa-image.sh` (default `target/bench-rsa3000`, or
//! `VERIFY_BENCH_IMAGE=DIR`). Without it the bench says so and measures nothing.
//!
//! Run: `cargo bench -p verify --bench rpm_header_sigs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{self, Context};
use aws_lc_rs::signature::ParsedPublicKey;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use sbom::rpm::header::Header;
use sbom::rpm::{pgpsig, tags};
use sbom::rpmdb::RawHeader;
use verify::rpmsig::{self, KeyMaterial, Keyring};

fn image_dir() -> PathBuf {
    std::env::var_os("VERIFY_BENCH_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-rsa3000"))
}

struct Bench {
    raws: Vec<RawHeader>,
    ring: Keyring,
    /// (digest, padded signature) per header, for the raw RSA limit.
    raw_sigs: Vec<(digest::Digest, Vec<u8>)>,
    key: &'static ParsedPublicKey,
    rpms: Vec<PathBuf>,
    key_file: PathBuf,
}

fn load() -> Option<Bench> {
    let dir = image_dir();
    if !dir.join("manifest.json").is_file() {
        println!(
            "SKIPPED: no bench image at {}; run verify/benches/make-rsa-image.sh",
            dir.display()
        );
        return None;
    }
    let key_file = dir.join("keys/RPM-GPG-KEY-test-rsa4096.asc");
    let ring = Keyring::from_files(&[&key_file]).expect("bench key");
    let (_, raws) = rpmsig::read_root(&dir.join("rootfs")).expect("bench rpmdb");
    let KeyMaterial::Rsa { bits, sha256, .. } = &ring.keys()[0].material else {
        panic!("bench key is not RSA")
    };
    assert_eq!(*bits, 4096);
    // A 'static copy of the key for the raw loop (the bench runs once per process).
    let key: &'static ParsedPublicKey = Box::leak(Box::new(sha256.clone()));
    let raw_sigs: Vec<_> = raws
        .iter()
        .filter_map(|r| {
            let h = Header::parse(&r.blob).ok()?;
            let sig = h.bin(tags::RSAHEADER).ok()??;
            let p = pgpsig::parse(sig).ok()?;
            let mut c = Context::new(&digest::SHA256);
            h.for_each_signed_chunk(|b| c.update(b));
            c.update(p.hashed);
            let mut t = [4u8, 0xff, 0, 0, 0, 0];
            t[2..].copy_from_slice(&(p.hashed.len() as u32).to_be_bytes());
            c.update(&t);
            let bits = usize::from(u16::from_be_bytes([p.material[0], p.material[1]]));
            let mut s = vec![0u8; 512 - bits.div_ceil(8)];
            s.extend_from_slice(&p.material[2..]);
            Some((c.finish(), s))
        })
        .collect();
    let mut rpms: Vec<PathBuf> = std::fs::read_dir(dir.join("repo"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
                .collect()
        })
        .unwrap_or_default();
    rpms.sort();
    Some(Bench {
        raws,
        ring,
        raw_sigs,
        key,
        rpms,
        key_file,
    })
}

fn one_thread() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
}

/// Headers per second of `f` (which processes `n` items), best of `runs`.
fn rate(n: usize, runs: usize, f: impl Fn()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            n as f64 / t.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// Seconds for `rpmkeys --checksig` over `files`, split over `procs` processes;
/// `None` unless every file came back `digests signatures OK`.
fn rpmkeys(files: &[PathBuf], key: &Path, procs: usize) -> Option<f64> {
    let db = tempfile::tempdir().ok()?;
    let ok = Command::new("rpmkeys")
        .arg("--dbpath")
        .arg(db.path())
        .arg("--import")
        .arg(key)
        .status()
        .ok()?;
    if !ok.success() {
        return None;
    }
    let t = Instant::now();
    let chunk = files.len().div_ceil(procs).max(1);
    let children: Vec<_> = files
        .chunks(chunk)
        .map(|c| {
            Command::new("rpmkeys")
                .arg("--dbpath")
                .arg(db.path())
                .arg("--checksig")
                .args(c)
                .stdout(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<Result<_, _>>()
        .ok()?;
    let mut ok = 0;
    for c in children {
        let out = c.wait_with_output().ok()?;
        ok += String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(": digests signatures OK"))
            .count();
    }
    let secs = t.elapsed().as_secs_f64();
    if ok != files.len() {
        println!("  rpmkeys: only {ok} of {} files OK", files.len());
        return None;
    }
    Some(secs)
}

fn benches(c: &mut Criterion) {
    let Some(b) = load() else { return };
    let n = b.raws.len();
    // Every header must verify, or the figures would measure failures.
    let verdicts = rpmsig::verify_headers(&b.raws, &b.ring, &|| {});
    let pkgs = verdicts.iter().filter(|v| !v.is_key).count();
    assert!(
        verdicts
            .iter()
            .filter(|v| !v.is_key)
            .all(|v| v.is_verified()),
        "bench image does not verify"
    );
    assert!(b
        .raw_sigs
        .iter()
        .all(|(d, s)| b.key.verify_digest_sig(d, s).is_ok()));
    let pool1 = one_thread();

    let mut g = c.benchmark_group("verify_headers");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(n as u64));
    g.bench_function("all_cores", |x| {
        x.iter(|| rpmsig::verify_headers(&b.raws, &b.ring, &|| {}))
    });
    g.bench_function("one_core", |x| {
        x.iter(|| pool1.install(|| rpmsig::verify_headers(&b.raws, &b.ring, &|| {})))
    });
    g.finish();

    let m = b.raw_sigs.len();
    let mut g = c.benchmark_group("rsa4096_limit");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(m as u64));
    let raw = || {
        b.raw_sigs
            .par_iter()
            .for_each(|(d, s)| assert!(b.key.verify_digest_sig(d, s).is_ok()))
    };
    g.bench_function("all_cores", |x| x.iter(raw));
    g.bench_function("one_core", |x| x.iter(|| pool1.install(raw)));
    g.finish();

    // The side-by-side summary, measured again here so it sits in one table.
    let ours = rate(n, 5, || {
        drop(rpmsig::verify_headers(&b.raws, &b.ring, &|| {}))
    });
    let ours1 = rate(n, 3, || {
        pool1.install(|| drop(rpmsig::verify_headers(&b.raws, &b.ring, &|| {})))
    });
    let lim = rate(m, 5, raw);
    let lim1 = rate(m, 3, || pool1.install(raw));
    // Where the gap to the limit goes: parsing and hashing the signed bytes.
    let parse_hash = || {
        for r in &b.raws {
            let h = Header::parse(&r.blob).expect("parses");
            let mut c = Context::new(&digest::SHA256);
            h.for_each_signed_chunk(|x| c.update(x));
            std::hint::black_box(c.finish());
        }
    };
    let ph1 = rate(n, 3, parse_hash);
    let avg_kib = b.raws.iter().map(|r| r.blob.len()).sum::<usize>() as f64 / n as f64 / 1024.0;
    let cores = rayon::current_num_threads();
    println!(
        "\nRPM header signatures, {pkgs} packages (+{} gpg-pubkey), RSA-4096, {cores} threads",
        n - pkgs
    );
    println!("  ours, all cores        {ours:>9.0} headers/s   (target >= 15,000 on 2 cores)");
    println!("  ours, one core         {ours1:>9.0} headers/s");
    println!("  aws-lc RSA-4096 limit  {lim:>9.0} verifies/s  (all cores; one core {lim1:.0}/s)");
    println!("  ours / limit           {:>9.1} %", 100.0 * ours / lim);
    println!("  parse + SHA-256 only   {ph1:>9.0} headers/s   (one core; headers average {avg_kib:.1} KiB)");
    if b.rpms.is_empty() {
        println!("  rpmkeys: no .rpm files in the image's repo/");
        return;
    }
    for procs in [1, cores] {
        match rpmkeys(&b.rpms, &b.key_file, procs) {
            Some(secs) => println!(
                "  rpmkeys --checksig, {procs} process(es): {:>9.0} packages/s ({} files in {secs:.2} s)",
                b.rpms.len() as f64 / secs,
                b.rpms.len()
            ),
            None => println!("  rpmkeys --checksig: not available or failed"),
        }
    }
}

criterion_group!(rpm_header_sigs, benches);
criterion_main!(rpm_header_sigs);
