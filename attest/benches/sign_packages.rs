//! Signing 3,000 per-package statements (serialize, DSSE PAE, sign, envelope JSON line), in
//! parallel as `attest packages` does, with Ed25519 and with ECDSA P-256. Target: at most
//! 1 s each on 2 cores. Run: `cargo bench -p attest --bench sign_packages`.
//!
//! The same keys in a SoftHSM2 token (PKCS#11, `pkcs11_*`) when softhsm2 is installed: the
//! token's own signing cost plus our verification of every signature it returns.

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

use std::path::{Path, PathBuf};
use std::process::Command;

use attest::cli::sign_statements;
use attest::keys::{KeyType, PrivateKey};
use attest::pkcs11::{Pkcs11Signer, Pkcs11Uri};
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
    match SoftHsm::new() {
        None => eprintln!("SKIPPED pkcs11_*: softhsm2 is not installed"),
        Some(hsm) => {
            for (label, kind) in [
                ("pkcs11_ed25519", KeyType::Ed25519),
                ("pkcs11_ecdsa_p256", KeyType::EcdsaP256),
            ] {
                let signer = hsm.import(kind, label);
                g.bench_function(label, |b| {
                    b.iter(|| {
                        let lines = sign_statements(&sts, &signer).expect("sign");
                        assert_eq!(lines.len(), N);
                        lines
                    })
                });
            }
        }
    }
    g.finish();
}

/// A SoftHSM2 token in a temporary directory. SOFTHSM2_CONF is set before the module is
/// first loaded (it is read once per process), while the bench is still single-threaded.
struct SoftHsm {
    dir: tempfile::TempDir,
    module: PathBuf,
}

impl SoftHsm {
    fn new() -> Option<SoftHsm> {
        let module = PathBuf::from("/usr/lib/softhsm/libsofthsm2.so");
        if !module.exists() {
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        std::fs::create_dir(dir.path().join("tokens")).ok()?;
        let conf = dir.path().join("softhsm2.conf");
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        );
        std::fs::write(&conf, text).ok()?;
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let hsm = SoftHsm { dir, module };
        hsm.util(&[
            "--init-token",
            "--free",
            "--label",
            "bench",
            "--pin",
            "1234",
            "--so-pin",
            "5678",
        ])
        .then_some(hsm)
    }

    fn util(&self, args: &[&str]) -> bool {
        Command::new("softhsm2-util")
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    }

    fn import(&self, kind: KeyType, label: &str) -> Pkcs11Signer {
        let key = PrivateKey::generate(kind, 0).expect("keygen");
        let pem: &Path = &self.dir.path().join(format!("{label}.pem"));
        std::fs::write(pem, key.to_pem(None).expect("pem").as_bytes()).expect("write");
        let ok = self.util(&[
            "--import",
            pem.to_str().expect("utf-8"),
            "--token",
            "bench",
            "--label",
            label,
            "--id",
            &format!("{:02x}", label.len()),
            "--pin",
            "1234",
        ]);
        assert!(ok, "softhsm2-util --import");
        let uri = Pkcs11Uri::parse(&format!("pkcs11:token=bench;object={label}?pin-value=1234"))
            .expect("uri");
        Pkcs11Signer::open(&uri, Some(&self.module)).expect("open the token key")
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
