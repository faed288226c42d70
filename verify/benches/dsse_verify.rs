//! Throughput of `verify::attestation::check` on an `.intoto.jsonl` of 10,000 per-package
//! SLSA provenance statements signed with ECDSA P-256, beside the raw aws-lc-rs P-256
//! verification limit measured in the same run on the same signatures.
//!
//! Setup (not timed): the committed sample image's packages are cloned into a synthetic
//! inventory of 10,000 distinct packages (unique names and header digests), whose
//! statements attest's own `provenance::package_statements` writes and a P-256 key signs
//! in parallel. Timed: `check` end to end on the file (read, split into lines, envelope
//! and statement parsing, signature, subject, provenance and age checks, findings), with
//! a 2-thread rayon pool. Target: >= 20,000 statements/s on 2 cores.
//!
//! Run: `cargo bench -p verify --bench dsse_verify`.

use std::path::Path;
use std::time::{Duration, Instant};

use attest::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use attest::keys::{KeyType, PrivateKey, Signer};
use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_ASN1};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;
use verify::attestation::{self, ImageFacts, Trust};
use verify::policy::Policy;
use verify::report::Status;

const N: usize = 10_000;

struct Setup {
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
    inv: sbom::inventory::Inventory,
    trust: Trust,
    /// (PAE, signature) of every envelope, for the raw limit.
    raw: Vec<(Vec<u8>, Vec<u8>)>,
    key: ParsedPublicKey,
    now: i64,
}

fn setup() -> Setup {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample/rootfs");
    let sample = sbom::scan::scan_path(&root, None).expect("scan the sample image");
    let mut inv = sample.clone();
    inv.packages = (0..N)
        .map(|i| {
            let mut p = sample.packages[i % sample.packages.len()].clone();
            p.name = format!("{}-bench{i}", p.name);
            p.sha256_header = Some(format!("{:064x}", i + 1));
            p.computed_sha256_header = None;
            p
        })
        .collect();
    let info = attest::provenance::BuildInfo {
        builder_id: "https://ci.example.invalid/builders/bench".into(),
        ..Default::default()
    };
    let statements = attest::provenance::package_statements(&inv, &info, None);
    let key = PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap();
    let envelopes: Vec<Envelope> = statements
        .par_iter()
        .map(|st| Envelope::sign_one(INTOTO_PAYLOAD_TYPE, st.to_payload().unwrap(), &key).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("packages.intoto.jsonl");
    let mut text = String::new();
    for e in &envelopes {
        text.push_str(&e.to_json_line());
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    std::fs::write(dir.path().join("p.pub"), key.public_key().to_pem()).unwrap();
    let policy_file = dir.path().join("policy.toml");
    std::fs::write(
        &policy_file,
        "[keys]\nprovenance = [\"p.pub\"]\n[attestations]\nmax_age = \"1000w\"\n\
         allowed_builders = [\"https://ci.example.invalid/builders/bench\"]\n",
    )
    .unwrap();
    let trust = Trust::from_policy(&Policy::from_file(&policy_file).unwrap()).unwrap();
    let raw = envelopes
        .iter()
        .map(|e| (e.pae(), e.signatures[0].sig.clone()))
        .collect();
    let parsed =
        ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().spki_der()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Setup {
        _dir: dir,
        file,
        inv,
        trust,
        raw,
        key: parsed,
        now,
    }
}

fn run_check(s: &Setup) -> usize {
    let facts = ImageFacts {
        inventory: &s.inv,
        rootfs_digest: None,
        manifest_digest: None,
    };
    let o = attestation::check(std::slice::from_ref(&s.file), &facts, &s.trust, s.now).unwrap();
    o.findings.len()
}

fn raw_limit(s: &Setup) {
    s.raw
        .par_iter()
        .for_each(|(m, sig)| assert!(s.key.verify_sig(m, sig).is_ok()));
}

fn rate(n: usize, rounds: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..rounds {
        f();
    }
    (n * rounds) as f64 / t.elapsed().as_secs_f64()
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (pool2, pool1) = (pool(2), pool(1));
    // Every statement must pass every check, or the figures would measure failures.
    let facts = ImageFacts {
        inventory: &s.inv,
        rootfs_digest: None,
        manifest_digest: None,
    };
    let o = attestation::check(std::slice::from_ref(&s.file), &facts, &s.trust, s.now).unwrap();
    assert_eq!(o.findings.len(), 4 * N);
    assert!(
        o.findings.iter().all(|f| f.status == Status::Pass),
        "{:?}",
        o.findings.iter().find(|f| f.status != Status::Pass)
    );

    let mut g = c.benchmark_group("dsse_verify");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(N as u64));
    g.bench_function("check_jsonl_2_threads", |x| {
        x.iter(|| pool2.install(|| run_check(&s)))
    });
    g.bench_function("aws_lc_p256_verify_2_threads", |x| {
        x.iter(|| pool2.install(|| raw_limit(&s)))
    });
    g.finish();

    let ours2 = rate(N, 5, || {
        std::hint::black_box(pool2.install(|| run_check(&s)));
    });
    let ours1 = rate(N, 3, || {
        std::hint::black_box(pool1.install(|| run_check(&s)));
    });
    let lim2 = rate(N, 5, || pool2.install(|| raw_limit(&s)));
    let lim1 = rate(N, 3, || pool1.install(|| raw_limit(&s)));
    println!("\nDSSE per-package provenance, {N} statements, ECDSA P-256");
    println!("  attestation::check, 2 threads   {ours2:>9.0} statements/s  (target >= 20,000)");
    println!("  attestation::check, 1 thread    {ours1:>9.0} statements/s");
    println!("  aws-lc P-256 verify, 2 threads  {lim2:>9.0} verifies/s    (1 thread {lim1:.0}/s)");
    println!(
        "  check / limit (2 threads)       {:>9.1} %",
        100.0 * ours2 / lim2
    );
}

criterion_group!(dsse_verify, benches);
criterion_main!(dsse_verify);
