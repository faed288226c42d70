//! Signing through a PKCS#11 token: SoftHSM2 with a token in a temporary directory (its own
//! SOFTHSM2_CONF and token directory), keys made by `attest keygen` and imported with
//! `softhsm2-util --import`. What the token signs is checked by independent verifiers: npm
//! `@sigstore/verify` for bundles, `in-toto-verify` for a layout and a link, and our DSSE
//! verifier for `attest packages` lines signed in parallel. Skipped loudly without softhsm2
//! (a failure under CI=true), as are the parts that need node or in-toto.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const PIN: &str = "20250101";
const SO_PIN: &str = "98765432";
const TOKEN: &str = "attest";

fn module_file() -> Option<PathBuf> {
    if let Some(m) = std::env::var_os("ATTEST_TEST_PKCS11_MODULE") {
        return Some(PathBuf::from(m));
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib64/pkcs11/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A SoftHSM2 token of its own in a temporary directory, and a work directory.
struct Hsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
    module: PathBuf,
}

impl Hsm {
    fn new() -> Option<Hsm> {
        let module = module_file()?;
        if !have("softhsm2-util") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let hsm = Hsm { dir, conf, module };
        hsm.util(&[
            "--init-token",
            "--free",
            "--label",
            TOKEN,
            "--pin",
            PIN,
            "--so-pin",
            SO_PIN,
        ]);
        Some(hsm)
    }

    fn work(&self) -> &Path {
        self.dir.path()
    }

    fn util(&self, args: &[&str]) {
        let o = Command::new("softhsm2-util")
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "softhsm2-util {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// `attest keygen` a key of `kind` into the work directory and import it into the token
    /// under `label`; the key file's `.pub` is what independent verifiers get.
    fn keygen_and_import(&self, kind: &str, label: &str, id: &str) {
        let file = format!("{label}.key");
        let mut args = vec!["keygen", "--type", kind, "-o", &file];
        if kind == "rsa" {
            args.extend(["--bits", "3072"]);
        }
        attest_ok(self.work(), &args);
        self.import(&self.work().join(&file), label, id);
    }

    fn import(&self, pem: &Path, label: &str, id: &str) {
        self.util(&[
            "--import",
            pem.to_str().unwrap(),
            "--token",
            TOKEN,
            "--label",
            label,
            "--id",
            id,
            "--pin",
            PIN,
        ]);
    }

    /// Runs attest with this token's configuration; `pin` goes to ATTEST_PKCS11_PIN.
    fn attest(&self, pin: Option<&str>, args: &[&str]) -> Output {
        let mut c = Command::new(attest_bin());
        c.args(args)
            .current_dir(self.work())
            .env("SOURCE_DATE_EPOCH", "1735689600")
            .env("SOFTHSM2_CONF", &self.conf)
            .env("ATTEST_PKCS11_MODULE", &self.module)
            .env_remove("ATTEST_PKCS11_PIN")
            .env_remove("ATTEST_KEY_PASSPHRASE");
        if let Some(p) = pin {
            c.env("ATTEST_PKCS11_PIN", p);
        }
        c.output().unwrap()
    }

    fn attest_ok(&self, args: &[&str]) -> Output {
        let o = self.attest(Some(PIN), args);
        assert!(
            o.status.success(),
            "attest {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }
}

fn uri(label: &str) -> String {
    format!("pkcs11:token={TOKEN};object={label};type=private")
}

macro_rules! hsm {
    () => {{
        let Some(h) = Hsm::new() else {
            skip!("softhsm2 is not installed (apt-get install softhsm2)");
        };
        h
    }};
}

fn sample_rootfs() -> PathBuf {
    workspace_root().join("testdata/sample/rootfs")
}

fn key_id(h: &Hsm, key: &str) -> String {
    let o = h.attest_ok(&["key-info", key, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["keyId"].as_str().unwrap().to_owned()
}

#[test]
fn key_ids_read_from_the_token_equal_the_key_files() {
    let h = hsm!();
    for (kind, label, id) in [
        ("ecdsa-p256", "ec", "01"),
        ("ed25519", "ed", "02"),
        ("rsa", "rsa", "03"),
    ] {
        h.keygen_and_import(kind, label, id);
        let file_id = key_id(&h, &format!("{label}.key.pub"));
        // Through the public key object (no PIN), and through the private key (login).
        let o = h.attest(
            None,
            &["key-info", &format!("pkcs11:token={TOKEN};object={label}")],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains(&file_id));
        assert_eq!(key_id(&h, &uri(label)), file_id, "{kind}");
        assert_eq!(
            key_id(&h, &format!("pkcs11:token={TOKEN};id=%{id}")),
            file_id
        );
    }
}

#[test]
fn token_signed_bundles_pass_sigstore_js_and_a_changed_signature_fails() {
    let h = hsm!();
    let Some(nm) = sigstore_js() else {
        skip!("ATTEST_SIGSTORE_JS does not point at an npm install of @sigstore/verify (or node is missing)");
    };
    let root = sample_rootfs();
    for (kind, label, id) in [
        ("ecdsa-p256", "ec", "01"),
        ("ed25519", "ed", "02"),
        ("rsa", "rsa", "03"),
    ] {
        h.keygen_and_import(kind, label, id);
        let pubk = h.work().join(format!("{label}.key.pub"));
        for cmd in ["provenance", "sbom"] {
            let out = format!("{label}.{cmd}.bundle.json");
            h.attest_ok(&[
                cmd,
                root.to_str().unwrap(),
                "--key",
                &uri(label),
                "-o",
                &out,
            ]);
            let bundle = h.work().join(&out);
            let args = [
                "--bundle",
                bundle.to_str().unwrap(),
                "--key",
                pubk.to_str().unwrap(),
            ];
            assert!(js_verify(&nm, &args), "{kind} {cmd}");
            let v = read_json(&bundle);
            assert_eq!(
                v["verificationMaterial"]["publicKey"]["hint"]
                    .as_str()
                    .unwrap(),
                key_id(&h, &format!("{label}.key.pub"))
            );
            let mut t = v.clone();
            flip(&mut t, "/dsseEnvelope/signatures/0/sig", -3);
            let tp = h.work().join("tampered.json");
            write_json(&tp, &t);
            let targs = [
                "--bundle",
                tp.to_str().unwrap(),
                "--key",
                pubk.to_str().unwrap(),
            ];
            assert!(
                !js_verify(&nm, &targs),
                "{kind} {cmd}: a changed signature byte must fail"
            );
        }
    }
    // A certificate for the token key (`ca issue --public-key URI`), and a bundle carrying it.
    h.attest_ok(&["ca", "init", "ca"]);
    let id = "release@example.com";
    h.attest_ok(&[
        "ca",
        "issue",
        "ca",
        "--public-key",
        &uri("ec"),
        "--identity",
        &format!("email:{id}"),
        "-o",
        "ec.chain.pem",
    ]);
    h.attest_ok(&[
        "provenance",
        root.to_str().unwrap(),
        "--key",
        &uri("ec"),
        "--cert",
        "ec.chain.pem",
        "-o",
        "ec.cert.bundle.json",
    ]);
    let b = h.work().join("ec.cert.bundle.json");
    let tr = h.work().join("ca/trusted_root.json");
    let args = [
        "--bundle",
        b.to_str().unwrap(),
        "--trusted-root",
        tr.to_str().unwrap(),
        "--identity",
        id,
    ];
    assert!(
        js_verify(&nm, &args),
        "certificate bundle signed in the token"
    );
}

#[test]
fn in_toto_verify_accepts_a_layout_and_link_signed_in_the_token() {
    let h = hsm!();
    if !have("in-toto-verify") {
        skip!("in-toto-verify not installed (pip install in-toto)");
    }
    // The owner signs with RSA (PSS, as in-toto's rsassa-pss-sha256 needs), the functionary
    // with ECDSA; both keys live only in the token as far as attest is concerned.
    h.keygen_and_import("rsa", "owner", "10");
    h.keygen_and_import("ecdsa-p256", "builder", "11");
    let w = h.work();
    std::fs::create_dir_all(w.join("out")).unwrap();
    std::fs::write(w.join("out/image.txt"), "image\n").unwrap();
    std::fs::write(
        w.join("chain.toml"),
        "expires_in_days = 30\n[keys]\nbuilder = \"builder.key.pub\"\n\n[[step]]\nname = \"build\"\nfunctionaries = [\"builder\"]\nexpected_products = [[\"CREATE\", \"out/*\"], [\"DISALLOW\", \"*\"]]\n",
    )
    .unwrap();
    for (form, layout, links) in [
        (None, "root.layout", "links"),
        (Some("--dsse"), "root-dsse.layout", "links-dsse"),
    ] {
        std::fs::create_dir_all(w.join(links)).unwrap();
        let owner = uri("owner");
        let mut args = vec!["layout", "chain.toml", "--key", &owner, "-o", layout];
        args.extend(form);
        h.attest_ok(&args);
        let builder = uri("builder");
        let mut args = vec![
            "link",
            "build",
            "--key",
            &builder,
            "--products",
            "out",
            "-o",
            links,
        ];
        args.extend(form);
        h.attest_ok(&args);
        assert!(
            in_toto_verify(w, layout, "owner.key.pub", links),
            "{layout} signed in the token must verify"
        );
    }
    // A link whose recorded product was changed after the token signed it is refused.
    let link = std::fs::read_dir(w.join("links"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .next()
        .unwrap();
    let mut v = read_json(&link);
    v["signed"]["products"]["out/image.txt"]["sha256"] = serde_json::json!("00".repeat(32));
    write_json(&link, &v);
    assert!(!in_toto_verify(w, "root.layout", "owner.key.pub", "links"));
}

#[test]
fn attest_packages_signs_in_parallel_through_the_token() {
    let h = hsm!();
    h.keygen_and_import("ed25519", "pk", "20");
    let root = sample_rootfs();
    h.attest_ok(&[
        "packages",
        root.to_str().unwrap(),
        "--key",
        &uri("pk"),
        "-o",
        "p.jsonl",
    ]);
    let key = attest::keys::PublicKey::load(&h.work().join("pk.key.pub")).unwrap();
    let text = std::fs::read_to_string(h.work().join("p.jsonl")).unwrap();
    let inv = sbom::scan::scan_root(&root).unwrap();
    assert_eq!(text.lines().count(), inv.packages.len());
    for line in text.lines() {
        let env = attest::dsse::Envelope::from_json(line.as_bytes(), "line").unwrap();
        env.verify(std::slice::from_ref(&key), 1, "line").unwrap();
    }
}

/// Thousands of statements signed through one token from all rayon threads, in a child
/// process of this test binary: SoftHSM reads SOFTHSM2_CONF once per process, and setting
/// it here would race the other tests' threads.
#[test]
fn thousands_of_statements_sign_in_parallel_through_one_token() {
    let h = hsm!();
    for (kind, label, id) in [
        ("ecdsa-p256", "par-ec", "31"),
        ("ed25519", "par-ed", "32"),
        ("rsa", "par-rsa", "33"),
    ] {
        h.keygen_and_import(kind, label, id);
    }
    let o = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "parallel_child", "--ignored", "--nocapture"])
        .env("SOFTHSM2_CONF", &h.conf)
        .env("ATTEST_TEST_HSM_DIR", h.work())
        .env("ATTEST_TEST_PKCS11_MODULE", &h.module)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{all}");
    assert!(o.status.success() && all.contains("1 passed"), "{all}");
}

#[test]
#[ignore = "run by thousands_of_statements_sign_in_parallel_through_one_token"]
fn parallel_child() {
    use attest::keys::Signer;
    let dir = PathBuf::from(std::env::var_os("ATTEST_TEST_HSM_DIR").expect("run by the parent"));
    let module = module_file().unwrap();
    let statements: Vec<_> = (0..2000)
        .map(|i| {
            attest::statement::Statement::new(
                vec![
                    attest::statement::ResourceDescriptor::named(format!("p{i}.rpm"))
                        .with_digest("sha256", format!("{i:064x}")),
                ],
                attest::provenance::SLSA_PROVENANCE_V1,
                serde_json::json!({"i": i}),
            )
        })
        .collect();
    // RSA-3072 in SoftHSM is slower: fewer of those keep the test short.
    for (label, n) in [("par-ec", 2000), ("par-ed", 2000), ("par-rsa", 500)] {
        let statements = &statements[..n];
        let u =
            attest::pkcs11::Pkcs11Uri::parse(&format!("{}?pin-value={PIN}", uri(label))).unwrap();
        let signer = attest::pkcs11::Pkcs11Signer::open(&u, Some(&module)).unwrap();
        let file_key =
            attest::keys::PublicKey::load(&dir.join(format!("{label}.key.pub"))).unwrap();
        assert_eq!(signer.public_key(), &file_key);
        let t = std::time::Instant::now();
        let lines = attest::cli::sign_statements(statements, &signer).unwrap();
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "{label}: {} statements in {secs:.2} s through the token ({:.0}/s, {} threads)",
            lines.len(),
            lines.len() as f64 / secs,
            rayon::current_num_threads()
        );
        assert_eq!(lines.len(), statements.len());
        for l in &lines {
            let env = attest::dsse::Envelope::from_json(l.as_bytes(), "line").unwrap();
            env.verify(std::slice::from_ref(&file_key), 1, "line")
                .unwrap();
        }
    }
}

#[test]
fn errors_name_the_uri_and_never_the_pin() {
    let h = hsm!();
    h.keygen_and_import("ecdsa-p256", "ec", "01");
    // An unsupported key type: ECDSA P-384, imported like the others.
    let p384 = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
    )
    .unwrap()
    .to_pkcs8v1()
    .unwrap();
    let pem = attest::keys::pem_encode("PRIVATE KEY", p384.as_ref());
    std::fs::write(h.work().join("p384.pem"), pem).unwrap();
    h.import(&h.work().join("p384.pem"), "p384", "05");
    let root = sample_rootfs();
    let root = root.to_str().unwrap();
    let secret = "SECRETPIN999";
    let with_pin = |u: &str| format!("{u}?pin-value={secret}");
    let cases: Vec<(Vec<String>, Option<&str>, &str)> = vec![
        (
            vec![
                "--key".into(),
                with_pin(&uri("ec")),
                "--pkcs11-module".into(),
                "/nonexistent/libnope.so".into(),
            ],
            None,
            "cannot load the PKCS#11 module /nonexistent/libnope.so",
        ),
        (
            vec!["--key".into(), "pkcs11:token=elsewhere;object=ec".into()],
            Some(PIN),
            "no token matches (tokens present: 'attest')",
        ),
        (
            vec!["--key".into(), with_pin(&uri("ec"))],
            None,
            "wrong PIN",
        ),
        (vec!["--key".into(), uri("ec")], Some(secret), "wrong PIN"),
        (vec!["--key".into(), uri("ec")], None, "a PIN is needed"),
        (
            vec!["--key".into(), uri("nosuchkey")],
            Some(PIN),
            "no private key on token 'attest' matches",
        ),
        (
            vec!["--key".into(), format!("pkcs11:token={TOKEN}")],
            Some(PIN),
            "2 keys on token 'attest' match",
        ),
        (
            vec!["--key".into(), uri("p384")],
            Some(PIN),
            "unsupported key type (curve 1.3.132.0.34)",
        ),
        (
            vec![
                "--key".into(),
                format!("pkcs11:token={TOKEN};object=ec;type=public"),
            ],
            Some(PIN),
            "a signing key needs type=private",
        ),
    ];
    for (extra, pin, want) in cases {
        let mut args = vec!["provenance", root, "-o", "x.json"];
        args.extend(extra.iter().map(String::as_str));
        let o = h.attest(pin, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?}, got {err}");
        // The URI is named, its PIN is not.
        assert!(err.contains("pkcs11:token="), "{err}");
        assert!(!err.contains(secret), "{err}");
        assert!(!h.work().join("x.json").exists());
    }
    // A malformed URI is a usage error, and still does not echo the PIN.
    let o = h.attest(
        None,
        &[
            "key-info",
            &format!("pkcs11:token=a;color=red?pin-value={secret}"),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown path attribute 'color'") && !err.contains(secret),
        "{err}"
    );
    // pin-source reads the PIN from a file.
    std::fs::write(h.work().join("pin"), format!("{PIN}\n")).unwrap();
    let src = format!(
        "{}?pin-source=file:{}",
        uri("ec"),
        h.work().join("pin").display()
    );
    let o = h.attest(None, &["provenance", root, "--key", &src, "-o", "y.json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
