//! Shared set-up for the attestation tests: the committed sample image, keys made with
//! attest's library in a temporary directory, statements made by attest's own
//! provenance/SBOM code, and a policy file trusting those keys.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use attest::bundle::{self, Material, Version};
use attest::certs;
use attest::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use attest::keys::{KeyType, PrivateKey, Signer};
use attest::provenance::{self, BuildInfo, HashedFile};
use attest::statement::Statement;
use sbom::inventory::Inventory;
use verify::attestation::{self, ImageFacts, Outcome, Trust};
use verify::policy::Policy;
use verify::report::{Finding, Status};

pub const BUILDER: &str = "https://ci.example.invalid/builders/images";
pub const OVERLAY: &str = "/etc/sample-overlay.conf";

pub fn sample_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample/rootfs")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub inv: Inventory,
    pub rootfs_digest: String,
    /// Trusted for provenance (P-256).
    pub prov: PrivateKey,
    /// Trusted for SBOMs (Ed25519).
    pub sbom: PrivateKey,
    /// Trusted for nothing (P-256).
    pub stranger: PrivateKey,
    pub now: i64,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inv = sbom::scan::scan_path(&sample_root(), None).unwrap();
        let rootfs_digest = attest::rootfs::digest(&sample_root()).unwrap().sha256;
        let f = Fixture {
            dir,
            inv,
            rootfs_digest,
            prov: PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap(),
            sbom: PrivateKey::generate(KeyType::Ed25519, 0).unwrap(),
            stranger: PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap(),
            now: now(),
        };
        std::fs::write(f.path("prov.pub"), f.prov.public_key().to_pem()).unwrap();
        std::fs::write(f.path("sbom.pub"), f.sbom.public_key().to_pem()).unwrap();
        f
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A policy trusting the two keys and `BUILDER`, ages up to ~19 years (the sample's
    /// packages were built on 2025-01-01), plus `extra` TOML appended as is.
    pub fn policy_text(&self, extra: &str) -> String {
        format!(
            "[keys]\nprovenance = [\"prov.pub\"]\nsbom = [\"sbom.pub\"]\n\n[attestations]\n\
             max_age = \"1000w\"\nallowed_builders = [\"{BUILDER}\"]\n{extra}"
        )
    }

    pub fn policy(&self, text: &str) -> Policy {
        let p = self.write("policy.toml", text);
        Policy::from_file(&p).unwrap()
    }

    pub fn trust(&self, text: &str) -> Trust {
        Trust::from_policy(&self.policy(text)).unwrap()
    }

    pub fn facts(&self) -> ImageFacts<'_> {
        ImageFacts {
            inventory: &self.inv,
            rootfs_digest: Some(self.rootfs_digest.clone()),
            manifest_digest: None,
        }
    }

    pub fn check_with(&self, files: &[PathBuf], trust: &Trust, now: i64) -> Outcome {
        attestation::check(files, &self.facts(), trust, now).unwrap()
    }

    /// Checks with the default policy at the fixture's time.
    pub fn check(&self, files: &[PathBuf]) -> Outcome {
        self.check_with(files, &self.trust(&self.policy_text("")), self.now)
    }

    pub fn build_info(&self) -> BuildInfo {
        let overlay = std::fs::read(sample_root().join(&OVERLAY[1..])).unwrap();
        BuildInfo {
            builder_id: BUILDER.into(),
            finished_on: Some(sbom::format::rfc3339(self.now - 3600)),
            overlays: vec![HashedFile {
                name: OVERLAY.into(),
                sha256: sha256_hex(&overlay),
                origin: None,
            }],
            ..Default::default()
        }
    }

    pub fn image_subject(&self) -> attest::statement::ResourceDescriptor {
        attest::statement::ResourceDescriptor::named("azurelinux-4.0")
            .with_digest(attest::rootfs::DIGEST_KEY, self.rootfs_digest.clone())
    }

    /// Image provenance as `attest provenance` makes it.
    pub fn image_statement(&self) -> Statement {
        provenance::image_statement(&self.inv, self.image_subject(), &self.build_info(), None)
    }

    pub fn package_statements(&self) -> Vec<Statement> {
        provenance::package_statements(&self.inv, &self.build_info(), None)
    }

    /// Every package statement as a DSSE line signed by the provenance key.
    pub fn package_envelopes(&self) -> Vec<String> {
        self.package_statements()
            .iter()
            .map(|st| self.envelope(st, &self.prov))
            .collect()
    }

    pub fn sbom_statement_of(&self, inv: &Inventory, format: sbom::format::Format) -> Statement {
        let info = sbom::format::DocumentInfo {
            created: self.now - 3600,
            tool_name: "attest".into(),
            tool_version: "test".into(),
            include_files: true,
        };
        provenance::sbom_statement(inv, self.image_subject(), format, &info).unwrap()
    }

    pub fn sbom_statement(&self, format: sbom::format::Format) -> Statement {
        self.sbom_statement_of(&self.inv, format)
    }

    /// A DSSE envelope line signed by `key`.
    pub fn envelope(&self, st: &Statement, key: &dyn Signer) -> String {
        sign_payload(st.to_payload().unwrap(), key)
    }

    /// A key-based Sigstore bundle (v0.3).
    pub fn key_bundle(&self, st: &Statement, key: &dyn Signer) -> String {
        let env = Envelope::sign_one(INTOTO_PAYLOAD_TYPE, st.to_payload().unwrap(), key).unwrap();
        let hint = key.public_key().key_id();
        bundle::build(&env, Material::PublicKey { hint }, Version::V03)
            .unwrap()
            .to_string()
    }

    /// A certificate bundle for `key` with the chain issued by the CA in `ca_dir`.
    pub fn cert_bundle(
        &self,
        st: &Statement,
        key: &PrivateKey,
        chain_pem: &Path,
        v: Version,
    ) -> String {
        let chain = certs::load_chain(chain_pem, key.public_key()).unwrap();
        let env = Envelope::sign_one(INTOTO_PAYLOAD_TYPE, st.to_payload().unwrap(), key).unwrap();
        bundle::build(&env, Material::Certificates(&chain), v)
            .unwrap()
            .to_string()
    }

    /// A CA in `<dir>/<name>` (root, optionally intermediate), as `attest ca init` writes it.
    pub fn ca(&self, name: &str, intermediate: bool) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        let files = certs::init_ca(name, KeyType::EcdsaP256, 30, intermediate).unwrap();
        std::fs::write(dir.join("root.pem"), &files.root_pem).unwrap();
        std::fs::write(
            dir.join("root.key"),
            files.root_key.to_pem(None).unwrap().as_bytes(),
        )
        .unwrap();
        if let Some((pem, key)) = &files.intermediate {
            std::fs::write(dir.join("intermediate.pem"), pem).unwrap();
            std::fs::write(
                dir.join("intermediate.key"),
                key.to_pem(None).unwrap().as_bytes(),
            )
            .unwrap();
        }
        dir
    }

    /// A leaf for `key` from the CA in `ca`, valid for `days`; returns the chain file.
    pub fn leaf(&self, ca: &Path, key: &PrivateKey, days: i64, file: &str) -> PathBuf {
        let pem =
            certs::issue_leaf(ca, key.public_key(), "email:builder@example.invalid", days).unwrap();
        self.write(file, pem)
    }
}

pub fn sign_payload(payload: Vec<u8>, key: &dyn Signer) -> String {
    Envelope::sign_one(INTOTO_PAYLOAD_TYPE, payload, key)
        .unwrap()
        .to_json_line()
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The findings about one attestation: its file name (`x.json`, `x.jsonl:3`) in the temp dir.
pub fn about<'o>(o: &'o Outcome, name: &str) -> Vec<&'o Finding> {
    o.findings
        .iter()
        .filter(|f| f.subject.name.rsplit('/').next() == Some(name))
        .collect()
}

/// `v`, sorted: expected summaries in any order.
pub fn sorted(mut v: Vec<(String, Status, String)>) -> Vec<(String, Status, String)> {
    v.sort();
    v
}

/// `(check, status, kind)` of each finding, sorted, for exact comparisons.
pub fn summary(fs: &[&Finding]) -> Vec<(String, Status, String)> {
    let mut v: Vec<_> = fs
        .iter()
        .map(|f| (f.check.clone(), f.status, f.kind.clone()))
        .collect();
    v.sort();
    v
}

pub fn s(check: &str, status: Status, kind: &str) -> (String, Status, String) {
    (check.into(), status, kind.into())
}

/// Every finding passes, and there is at least one.
pub fn assert_all_pass(fs: &[&Finding]) {
    assert!(!fs.is_empty());
    for f in fs {
        assert_eq!(f.status, Status::Pass, "{f:?}");
    }
}

/// Decodes a DSSE line's payload, applies `edit` to the statement JSON and re-signs it.
pub fn resign(line: &str, key: &dyn Signer, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let env = Envelope::from_json(line.as_bytes(), "t").unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&env.payload).unwrap();
    edit(&mut v);
    sign_payload(serde_json::to_vec(&v).unwrap(), key)
}
