//! A real in-toto chain for the `verify::intoto` tests, built with attest's library (the
//! code behind `attest layout` and `attest link`) over the committed sample image:
//! fedora-packages -> overlays -> compose -> sbom -> release, functionaries with Ed25519,
//! ECDSA P-256 and RSA keys, two layout owners, and a release step with threshold 2.
//! The reference verifier is in-toto 3.x's `in-toto-verify` (pip `in-toto`).
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use attest::intoto::{self, keys as itkeys, layout, link, Form};
use attest::keys::{KeyType, PrivateKey, PublicKey, Signer};
use serde_json::Value;
use verify::intoto::{verify_layout, LayoutRequest};
use verify::report::{Finding, Status};

pub const LAYOUT: &str = r#"
readme = "Fedora packages -> overlays -> compose -> sbom -> release"
expires_in_days = 30

[keys]
packager = "packager.pub"
overlayer = "overlayer.pub"
composer = "composer.pub"
sbomer = "sbomer.pub"
releaser1 = "releaser1.pub"
releaser2 = "releaser2.pub"

[[step]]
name = "fedora-packages"
functionaries = ["packager"]
expected_products = [["CREATE", "repo/*"], ["DISALLOW", "*"]]

[[step]]
name = "overlays"
functionaries = ["overlayer"]
expected_products = [["CREATE", "overlays/*"], ["DISALLOW", "*"]]

[[step]]
name = "compose"
functionaries = ["composer"]
expected_command = ["compose", "sample.toml"]
expected_materials = [
  ["MATCH", "repo/*", "WITH", "PRODUCTS", "FROM", "fedora-packages"],
  ["MATCH", "overlays/*", "WITH", "PRODUCTS", "FROM", "overlays"],
  ["DISALLOW", "*"],
]
expected_products = [["CREATE", "rootfs/*"], ["DISALLOW", "*"]]

[[step]]
name = "sbom"
functionaries = ["sbomer"]
expected_command = ["sbom", "--format", "spdx-json"]
expected_materials = [["MATCH", "rootfs/*", "WITH", "PRODUCTS", "FROM", "compose"], ["DISALLOW", "*"]]
expected_products = [["CREATE", "sbom.spdx.json"], ["DISALLOW", "*"]]

[[step]]
name = "release"
functionaries = ["releaser1", "releaser2"]
threshold = 2
expected_materials = [
  ["MATCH", "*", "IN", "rootfs", "WITH", "PRODUCTS", "IN", "rootfs", "FROM", "compose"],
  ["MATCH", "sbom.spdx.json", "WITH", "PRODUCTS", "FROM", "sbom"],
  ["DISALLOW", "*"],
]
expected_products = [["REQUIRE", "release/MANIFEST"], ["CREATE", "release/*"], ["DISALLOW", "*"]]
"#;

/// Key names and types. `outsider` is no functionary of anything.
const KEYS: &[(&str, KeyType)] = &[
    ("owner1", KeyType::EcdsaP256),
    ("owner2", KeyType::Rsa),
    ("packager", KeyType::Ed25519),
    ("overlayer", KeyType::EcdsaP256),
    ("composer", KeyType::Rsa),
    ("sbomer", KeyType::Ed25519),
    ("releaser1", KeyType::EcdsaP256),
    ("releaser2", KeyType::Ed25519),
    ("outsider", KeyType::Ed25519),
];

/// Keys are generated once per test binary (RSA generation is the slow part).
fn keys() -> &'static BTreeMap<&'static str, PrivateKey> {
    static K: OnceLock<BTreeMap<&'static str, PrivateKey>> = OnceLock::new();
    K.get_or_init(|| {
        KEYS.iter()
            .map(|&(n, t)| (n, PrivateKey::generate(t, 3072).unwrap()))
            .collect()
    })
}

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether `in-toto-verify` can be run. Absent: a SKIPPED line (the comparison with the
/// reference is skipped, our own assertions still run), or a panic under CI=true.
pub fn have_reference() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    let have = *HAVE.get_or_init(|| {
        Command::new("in-toto-verify")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !have {
        assert!(
            !ci(),
            "CI=true and in-toto-verify is missing (pip install -r .ci/requirements.txt)"
        );
        eprintln!("SKIPPED: in-toto-verify not installed (pip install in-toto): no comparison");
    }
    have
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample")
}

pub fn cp(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp {} {}", from.display(), to.display());
}

/// The SPDX document of the sample's root filesystem, made once.
fn sbom_bytes() -> &'static [u8] {
    static S: OnceLock<Vec<u8>> = OnceLock::new();
    S.get_or_init(|| {
        let inv = sbom::scan::scan_root(&sample().join("rootfs")).unwrap();
        let info = sbom::format::DocumentInfo {
            created: 1735689600,
            tool_name: "sbom".into(),
            tool_version: "0".into(),
            include_files: true,
        };
        let mut out = Vec::new();
        sbom::format::write(sbom::format::Format::Spdx23, &inv, &info, &mut out).unwrap();
        out
    })
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

pub fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// One work tree: the artifacts, public key files, a layout and links.
pub struct Chain {
    dir: tempfile::TempDir,
}

impl Chain {
    /// Work tree with artifacts and `<name>.pub` files; no layout or links yet.
    pub fn new() -> Chain {
        let dir = tempfile::Builder::new()
            .prefix("intoto-")
            .tempdir()
            .unwrap();
        let w = dir.path();
        for (name, k) in keys() {
            std::fs::write(w.join(format!("{name}.pub")), k.public_key().to_pem()).unwrap();
        }
        cp(&sample().join("repo"), &w.join("repo"));
        cp(&sample().join("rootfs"), &w.join("rootfs"));
        std::fs::create_dir_all(w.join("overlays/etc/motd.d")).unwrap();
        for f in ["etc/motd.d/azl", "etc/sample-overlay.conf"] {
            std::fs::copy(sample().join("rootfs").join(f), w.join("overlays").join(f)).unwrap();
        }
        std::fs::write(w.join("sbom.spdx.json"), sbom_bytes()).unwrap();
        std::fs::create_dir_all(w.join("release")).unwrap();
        std::fs::write(w.join("release/MANIFEST"), "rootfs sbom.spdx.json\n").unwrap();
        std::fs::write(w.join("release/NOTES"), "Sample release\n").unwrap();
        Chain { dir }
    }

    /// The standard chain: `root.layout` (Metablock), `root-dsse.layout` (DSSE), both by
    /// both owners, and every link in `links/`, the forms mixed.
    pub fn standard() -> Chain {
        let c = Chain::new();
        c.layout(
            LAYOUT,
            &["owner1", "owner2"],
            Form::Metablock,
            "root.layout",
        );
        c.layout(
            LAYOUT,
            &["owner1", "owner2"],
            Form::Dsse,
            "root-dsse.layout",
        );
        c.record_all("links", c.w());
        c
    }

    pub fn w(&self) -> &Path {
        self.dir.path()
    }

    pub fn key(name: &str) -> &'static PrivateKey {
        &keys()[name]
    }

    pub fn public(name: &str) -> PublicKey {
        Self::key(name).public_key().clone()
    }

    /// Signs a layout described in TOML (attest's format) with the named owners.
    pub fn layout(&self, toml_text: &str, owners: &[&str], form: Form, out: &str) {
        let desc: layout::Description = toml::from_str(toml_text).unwrap();
        let signed = layout::build(&desc, self.w(), now(), "test").unwrap();
        self.sign_to(&signed, owners, form, &self.w().join(out));
    }

    /// Signs any object (layout or link) with the named keys.
    pub fn sign_to(&self, signed: &Value, keys: &[&str], form: Form, out: &Path) {
        let signers: Vec<&dyn Signer> = keys.iter().map(|k| Self::key(k) as &dyn Signer).collect();
        write_json(out, &intoto::sign(signed, &signers, form).unwrap());
    }

    /// The unsigned link object of a step recorded over `base`.
    pub fn link_object(
        base: &Path,
        step: &str,
        materials: &[&str],
        products: &[&str],
        cmd: &[&str],
    ) -> Value {
        let paths = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        let m = link::record(base, &paths(materials)).unwrap();
        let p = link::record(base, &paths(products)).unwrap();
        let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        link::link_object(step, m, p, &cmd)
    }

    /// Where the link of `step` by `key` goes in `links`.
    pub fn link_path(&self, links: &str, step: &str, key: &str) -> PathBuf {
        let id = itkeys::in_toto_keyid(Self::key(key).public_key());
        self.w().join(links).join(link::file_name(step, &id))
    }

    /// Records and signs one link into `links/`.
    #[allow(clippy::too_many_arguments)]
    pub fn link(
        &self,
        links: &str,
        base: &Path,
        step: &str,
        key: &str,
        m: &[&str],
        p: &[&str],
        cmd: &[&str],
        form: Form,
    ) {
        std::fs::create_dir_all(self.w().join(links)).unwrap();
        let obj = Self::link_object(base, step, m, p, cmd);
        self.sign_to(&obj, &[key], form, &self.link_path(links, step, key));
    }

    /// Every step's links into `links/`, artifacts read from `base`.
    pub fn record_all(&self, links: &str, base: &Path) {
        use Form::{Dsse, Metablock};
        self.link(
            links,
            base,
            "fedora-packages",
            "packager",
            &[],
            &["repo"],
            &[],
            Metablock,
        );
        self.link(
            links,
            base,
            "overlays",
            "overlayer",
            &[],
            &["overlays"],
            &[],
            Dsse,
        );
        self.link(
            links,
            base,
            "compose",
            "composer",
            &["repo", "overlays"],
            &["rootfs"],
            &["compose", "sample.toml"],
            Metablock,
        );
        self.link(
            links,
            base,
            "sbom",
            "sbomer",
            &["rootfs"],
            &["sbom.spdx.json"],
            &["sbom", "rootfs"],
            Dsse,
        );
        let rel_m = ["rootfs", "sbom.spdx.json"];
        self.link(
            links,
            base,
            "release",
            "releaser1",
            &rel_m,
            &["release"],
            &[],
            Metablock,
        );
        self.link(
            links,
            base,
            "release",
            "releaser2",
            &rel_m,
            &["release"],
            &[],
            Dsse,
        );
    }

    /// A copy of `links/` named `to`, for a tamper case.
    pub fn fork_links(&self, to: &str) -> PathBuf {
        let dst = self.w().join(to);
        cp(&self.w().join("links"), &dst);
        dst
    }

    /// Our verification (inspections not allowed unless `allow`).
    pub fn verify(
        &self,
        layout: &str,
        owners: &[&str],
        links: &str,
        allow: Option<&Path>,
    ) -> Vec<Finding> {
        let keys: Vec<PublicKey> = owners.iter().map(|o| Self::public(o)).collect();
        verify_layout(&LayoutRequest {
            layout: &self.w().join(layout),
            layout_keys: &keys,
            links_dir: &self.w().join(links),
            now_unix: now(),
            allow_inspections: allow.is_some(),
            inspection_base: allow,
            parameters: None,
        })
        .unwrap()
    }

    /// `in-toto-verify` on the same inputs, run in `cwd` (inspections run there): whether
    /// it accepted, and its stderr; `None` when it is not installed.
    pub fn reference_in(
        &self,
        layout: &str,
        owners: &[&str],
        links: &str,
        cwd: &Path,
    ) -> Option<(bool, String)> {
        if !have_reference() {
            return None;
        }
        let w = self.w();
        let mut cmd = Command::new("in-toto-verify");
        cmd.arg("--layout")
            .arg(w.join(layout))
            .arg("--link-dir")
            .arg(w.join(links));
        cmd.arg("--verification-keys");
        for o in owners {
            cmd.arg(w.join(format!("{o}.pub")));
        }
        let o = cmd
            .arg("-v")
            .current_dir(cwd)
            .output()
            .expect("run in-toto-verify");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        eprintln!("in-toto-verify {layout} {links}: {}\n{err}", o.status);
        Some((o.status.success(), err))
    }

    pub fn reference(&self, layout: &str, owners: &[&str], links: &str) -> Option<(bool, String)> {
        self.reference_in(layout, owners, links, self.w())
    }

    /// The reference accepts (or is absent).
    pub fn reference_accepts(&self, layout: &str, owners: &[&str], links: &str) {
        if let Some((ok, err)) = self.reference(layout, owners, links) {
            assert!(ok, "in-toto-verify rejects what we accept:\n{err}");
        }
    }

    /// The reference rejects with `error` (an in-toto exception name), or is absent.
    pub fn reference_rejects(&self, layout: &str, owners: &[&str], links: &str, error: &str) {
        if let Some((ok, err)) = self.reference(layout, owners, links) {
            assert!(!ok, "in-toto-verify accepts what we reject");
            assert!(
                err.contains(error),
                "in-toto-verify rejects, but not with {error}:\n{err}"
            );
        }
    }
}

/// A layout with only the fedora-packages step, so that each run is cheap.
pub const ONE_STEP: &str = r#"
expires_in_days = 30
[keys]
packager = "packager.pub"
[[step]]
name = "fedora-packages"
functionaries = ["packager"]
expected_products = [["CREATE", "repo/*"], ["DISALLOW", "*"]]
"#;

/// A chain with `one.layout` ([`ONE_STEP`], signed by owner1) and its one link in
/// `links/`, checked to pass as made.
pub fn one_step() -> Chain {
    let c = Chain::new();
    c.layout(
        ONE_STEP,
        &["owner1"],
        attest::intoto::Form::Metablock,
        "one.layout",
    );
    c.link(
        "links",
        c.w(),
        "fedora-packages",
        "packager",
        &[],
        &["repo"],
        &[],
        attest::intoto::Form::Metablock,
    );
    assert_all_pass(&c.verify("one.layout", &["owner1"], "links", None));
    c
}

pub fn show(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "  {} {} {} {}: {}",
                f.status.name(),
                f.check,
                f.subject.name,
                f.kind,
                f.reason
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every finding passed (and there are some).
pub fn assert_all_pass(findings: &[Finding]) {
    assert!(
        !findings.is_empty() && findings.iter().all(|f| f.status == Status::Pass),
        "expected every finding to pass:\n{}",
        show(findings)
    );
}

/// A non-passing finding with this check and kind, whose subject contains `subject`.
pub fn assert_finding(findings: &[Finding], check: &str, subject: &str, kind: &str) {
    assert!(
        findings.iter().any(|f| f.status != Status::Pass
            && f.check == check
            && f.kind == kind
            && f.subject.name.contains(subject)),
        "expected a failing {check} {kind} on {subject}:\n{}",
        show(findings)
    );
}
