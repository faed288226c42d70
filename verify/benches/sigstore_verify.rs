//! Throughput of Sigstore bundle verification: 1,000 verifications (bundle
//! parsing included, trusted root preparation excluded, as a service would
//! prepare it once), spread over all cores with rayon.
//!
//! The bundles are every conformance case that must pass, keyless or keyed,
//! Rekor v1 and v2, message signatures and DSSE, cycled to 1,000.
//! Target (issue 6): at least 2,000 verifications per second on 2 cores.
//!
//! Run: `cargo bench -p verify --bench sigstore_verify`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use verify::sigstore::{
    Artifact, IdentityPolicy, KeyPolicy, Policy, SigstoreBundle, SigstoreVerifier, TrustedRoot,
};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const N: usize = 1000;

struct Job {
    verifier: Arc<SigstoreVerifier>,
    bundle: Vec<u8>,
    artifact: Arc<Vec<u8>>,
    policy: Policy,
}

fn load(realdata: &Path) -> Vec<Job> {
    let cases = realdata.join("sigstore/conformance/test/assets/bundle-verify");
    let prod = realdata.join("sigstore/trust/production_trusted_root.json");
    let mut verifiers: Vec<(PathBuf, Arc<SigstoreVerifier>)> = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !p.to_string_lossy().ends_with("_fail"))
        .collect();
    dirs.sort();
    let mut jobs = Vec::new();
    for dir in dirs {
        let root = Some(dir.join("trusted_root.json"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| prod.clone());
        let verifier = match verifiers.iter().find(|(p, _)| *p == root) {
            Some((_, v)) => v.clone(),
            None => {
                let v = Arc::new(
                    SigstoreVerifier::new(&TrustedRoot::from_file(&root).unwrap()).unwrap(),
                );
                verifiers.push((root, v.clone()));
                v
            }
        };
        let artifact = Some(dir.join("artifact"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| cases.join("a.txt"));
        let policy = match std::fs::read_to_string(dir.join("key.pub")) {
            Ok(pem) => Policy::Key(KeyPolicy::from_pem(&pem).unwrap()),
            Err(_) => Policy::Identity(IdentityPolicy::exact(IDENTITY, ISSUER)),
        };
        jobs.push(Job {
            verifier,
            bundle: std::fs::read(dir.join("bundle.sigstore.json")).unwrap(),
            artifact: Arc::new(std::fs::read(artifact).unwrap()),
            policy,
        });
    }
    jobs
}

fn verify_one(job: &Job) {
    let bundle = SigstoreBundle::from_json(&job.bundle).expect("parse");
    job.verifier
        .verify(&bundle, Artifact::Bytes(&job.artifact), &job.policy)
        .expect("verify");
}

/// User+system CPU time of this process (Linux `/proc/self/stat`, in clock
/// ticks of 1/100 s), or `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn bench(c: &mut Criterion) {
    let realdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/realdata");
    if !realdata.join("sigstore").is_dir() {
        println!("SKIPPED: ../shared not present");
        return;
    }
    let jobs = load(&realdata);
    assert!(!jobs.is_empty());
    let batch: Vec<&Job> = (0..N).map(|i| &jobs[i % jobs.len()]).collect();

    // Plain timed passes first, so the figure is printed even when
    // criterion's report is not looked at. The machine may be shared, so
    // the CPU time used is reported too: N / (CPU seconds / threads) is the
    // rate the same work reaches on that many otherwise idle cores.
    batch.par_iter().for_each(|j| verify_one(j)); // warm caches
    for _ in 0..3 {
        let cpu0 = cpu_seconds();
        let start = Instant::now();
        batch.par_iter().for_each(|j| verify_one(j));
        let secs = start.elapsed().as_secs_f64();
        let threads = rayon::current_num_threads();
        let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
        println!(
            "sigstore: {N} verifications ({} distinct bundles) on {threads} threads: \
             {secs:.3} s wall = {:.0}/s; {} ",
            jobs.len(),
            N as f64 / secs,
            cpu.map_or_else(String::new, |c| format!(
                "{:.0} us CPU each = {:.0}/s on {threads} idle cores",
                c * 1e6 / N as f64,
                N as f64 / (c / threads as f64)
            ))
        );
    }

    let mut group = c.benchmark_group("sigstore");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("verify_1000_bundles_rayon", |b| {
        b.iter(|| batch.par_iter().for_each(|j| verify_one(j)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
