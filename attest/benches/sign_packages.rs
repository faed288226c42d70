//! Signing 3,000 per-package statements (serialize, DSSE PAE, sign, envelope JSON line), in
//! parallel as `attest packages` does, with Ed25519 and with ECDSA P-256. Target: at most
//! 1 s each on 2 cores. Run: `cargo bench -p attest --bench sign_packages`.

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

use attest::cli::sign_statements;
use attest::keys::{KeyType, PrivateKey};
use attest::statement::{ResourceDescriptor, Statement};

const N: usize = 3000;

/// Statements shaped like `attest packages` output (subject with purl and two digests, a
/// SLSA predicate with the source RPM), about 1.3 KB each.
fn statements() -> Vec<Statement> {
    (0..N)
        .map(|i| {
            let name = format!("package-{i}");
            let subject = ResourceDescriptor {
                name: Some(format!("{name}-1.0-1.fc43.x86_64.rpm")),
                uri: Some(format!("pkg:rpm/fedora/{name}@1.0-1.fc43?arch=x86_64&distro=fedora-43")),
                ..Default::default()
            }
            .with_digest("sha256", format!("{i:064x}"))
            .with_digest("rpmHeaderSha256", format!("{:064x}", i * 7 + 1));
            let predicate = json!({
                "buildDefinition": {
                    "buildType": attest::provenance::BUILD_TYPE_RPM,
                    "externalParameters": {"package": format!("{name}-1.0-1.fc43.x86_64"), "sourceRpm": format!("{name}-1.0-1.fc43.src.rpm"), "overlays": []},
                    "internalParameters": {"buildHost": "buildvm-x86-01.fedoraproject.org", "vendor": "Fedora Project"},
                    "resolvedDependencies": [{"name": format!("{name}-1.0-1.fc43.src.rpm"), "uri": format!("pkg:rpm/fedora/{name}@1.0-1.fc43?arch=src&distro=fedora-43")}],
                },
                "runDetails": {"builder": {"id": "https://example.invalid/builders/ci", "version": {"attest": "0.1.0"}}, "metadata": {"finishedOn": "2025-01-01T00:00:00Z"}},
            });
            Statement::new(vec![subject], attest::provenance::SLSA_PROVENANCE_V1, predicate)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let sts = statements();
    let mut g = c.benchmark_group("sign_3000_package_statements");
    g.sample_size(10);
    for (label, kind) in [
        ("ed25519", KeyType::Ed25519),
        ("ecdsa_p256", KeyType::EcdsaP256),
    ] {
        let key = PrivateKey::generate(kind, 0).expect("keygen");
        g.bench_function(label, |b| {
            b.iter(|| {
                let lines = sign_statements(&sts, &key).expect("sign");
                assert_eq!(lines.len(), N);
                lines
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
