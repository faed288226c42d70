//! Set-up shared by the fuzz targets that need keys, a policy or a scratch directory.
//! Everything here is fixed (keys included), so that seeds made once with the `attest`
//! binary and these keys keep verifying, and a crash reproduces from its input alone.
#![allow(dead_code)] // each target uses a different subset

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use attest::keys::{PrivateKey, PublicKey, Signer};
use sbom::inventory::Inventory;
use verify::attestation::{ImageFacts, Trust};
use verify::policy::Policy;

/// Signs the fuzz attestations; trusted for provenance and SBOMs (Ed25519).
pub const SIGNER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEFL7PRM/jiVfOCnybPdEEm1J8Piq499ZQrfCyyT2qzr
-----END PRIVATE KEY-----
";
/// The in-toto layout owner (Ed25519).
pub const OWNER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIL8YMrNZYvcM5Ev7OpnzmyppdZfB1hxxFq2Y4jCQwO31
-----END PRIVATE KEY-----
";
/// The in-toto functionary of every step (Ed25519; in-toto key id 30178fa3...).
pub const FUNC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMeTcnoPK7EOhFRH4T+R6lPQfauYMdosZ5pDcwOUjN2y
-----END PRIVATE KEY-----
";

/// The builder the seeds name and the policy trusts.
pub const BUILDER: &str = "https://ci.example.invalid/builders/images";
/// "Now" for every time check: 2025-06-15T16:06:40Z, an hour after the seeds were made.
pub const NOW: i64 = 1_750_003_600;

pub fn private(pem: &str) -> PrivateKey {
    PrivateKey::from_pem(pem, Path::new("fuzz.key"), &mut || {
        unreachable!("the fuzz keys are not encrypted")
    })
    .expect("a valid fixed key")
}

pub fn public(pem: &str) -> PublicKey {
    private(pem).public_key().clone()
}

/// A fresh scratch directory, in memory when /dev/shm exists.
pub fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let b = tempfile::Builder::new()
        .prefix("fuzz-")
        .tempdir_in(if shm.is_dir() { shm } else { Path::new("/tmp") });
    b.expect("a scratch directory")
}

/// The committed sample image (read only).
pub fn sample_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample/rootfs")
}

/// A Sigstore trusted root and the conformance identity, when the shared real data is there.
const SIGSTORE_ROOT: &str = "/work/shared/realdata/sigstore/trust/production_trusted_root.json";
const SIGSTORE_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

pub struct AttestationSetup {
    pub trust: Trust,
    pub inventory: Inventory,
    pub rootfs_digest: String,
}

impl AttestationSetup {
    pub fn facts(&self) -> ImageFacts<'_> {
        ImageFacts {
            inventory: &self.inventory,
            rootfs_digest: Some(self.rootfs_digest.clone()),
            manifest_digest: None,
        }
    }
}

/// The sample image's inventory and a policy trusting the signer key for both roles.
pub fn attestation_setup() -> &'static AttestationSetup {
    static S: OnceLock<AttestationSetup> = OnceLock::new();
    S.get_or_init(|| {
        let dir = scratch();
        std::fs::write(dir.path().join("signer.pub"), public(SIGNER_KEY).to_pem()).unwrap();
        let sigstore = if Path::new(SIGSTORE_ROOT).is_file() {
            format!(
                "sigstore = {SIGSTORE_ROOT:?}\n[[roots.identities]]\nrole = \"provenance\"\n\
                 identity = {SIGSTORE_IDENTITY:?}\nissuer = \"https://token.actions.githubusercontent.com\"\n"
            )
        } else {
            String::new()
        };
        let text = format!(
            "[keys]\nprovenance = [\"signer.pub\"]\nsbom = [\"signer.pub\"]\n\n[roots]\n{sigstore}\n\
             [attestations]\nmax_age = \"1000w\"\nallowed_builders = [{BUILDER:?}]\n\
             required_predicates = [\"https://slsa.dev/provenance/v1\", \"https://spdx.dev/Document\"]\n\
             required_package_predicates = [\"https://slsa.dev/provenance/v1\"]\n"
        );
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, text).unwrap();
        let policy = Policy::from_file(&path).expect("the fuzz policy");
        let trust = Trust::from_policy(&policy).expect("the fuzz trust");
        let root = sample_root();
        let inventory = sbom::scan::scan_path(&root, None).expect("the sample image");
        let rootfs_digest = attest::rootfs::digest(&root).expect("the sample digest").sha256;
        // The trust holds the loaded keys: the files can go (a static is never dropped).
        drop(dir);
        AttestationSetup {
            trust,
            inventory,
            rootfs_digest,
        }
    })
}
