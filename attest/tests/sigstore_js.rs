//! Our Sigstore bundles checked by an independent verifier: npm `@sigstore/verify`, offline
//! (see tests/sigstore_js_verify.js for what is and is not checked). Needs node and
//! ATTEST_SIGSTORE_JS pointing at a directory where
//! `npm install --prefix DIR @sigstore/verify @sigstore/bundle @sigstore/protobuf-specs`
//! ran; skipped loudly without it (a failure under CI=true). The image is the sample recipe
//! built by the project's factory (needs rpm-build).

mod common;

use std::path::Path;

use common::*;

macro_rules! prerequisites {
    () => {{
        let Some(nm) = sigstore_js() else {
            skip!("ATTEST_SIGSTORE_JS does not point at an npm install of @sigstore/verify (or node is missing)");
        };
        let Some(img) = sample_image() else {
            skip!("rpmbuild/rpmsign not installed: cannot build the sample image");
        };
        (nm, img)
    }};
}

#[test]
fn key_bundles_of_every_key_type_verify_and_tampering_fails() {
    let (nm, img) = prerequisites!();
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    let rootfs = img.join("rootfs");
    for (kind, extra) in [
        ("ed25519", None),
        ("ecdsa-p256", None),
        ("rsa", Some("4096")),
    ] {
        let key = format!("{kind}.key");
        let mut args = vec!["keygen", "--type", kind, "-o", &key];
        if let Some(b) = extra {
            args.extend(["--bits", b]);
        }
        attest_ok(w, &args);
        let out = format!("{kind}.bundle.json");
        attest_ok(
            w,
            &[
                "provenance",
                rootfs.to_str().unwrap(),
                "--key",
                &key,
                "-o",
                &out,
            ],
        );
        let pubk = format!("{kind}.key.pub");
        let bundle = w.join(&out);
        assert!(
            js_verify(
                &nm,
                &[
                    "--bundle",
                    bundle.to_str().unwrap(),
                    "--key",
                    w.join(&pubk).to_str().unwrap()
                ]
            ),
            "{kind}"
        );

        let original = read_json(&bundle);
        for (what, pointer, at) in [
            ("payload byte", "/dsseEnvelope/payload", 40),
            ("signature byte", "/dsseEnvelope/signatures/0/sig", -3),
        ] {
            let mut t = original.clone();
            flip(&mut t, pointer, at);
            let tp = w.join(format!("{kind}.tampered.json"));
            write_json(&tp, &t);
            assert!(
                !js_verify(
                    &nm,
                    &[
                        "--bundle",
                        tp.to_str().unwrap(),
                        "--key",
                        w.join(&pubk).to_str().unwrap()
                    ]
                ),
                "{kind}: a changed {what} must not verify"
            );
        }
    }
    // A key other than the signer's is refused.
    attest_ok(w, &["keygen", "--type", "ed25519", "-o", "other.key"]);
    let b = w.join("ed25519.bundle.json");
    assert!(!js_verify(
        &nm,
        &[
            "--bundle",
            b.to_str().unwrap(),
            "--key",
            w.join("other.key.pub").to_str().unwrap()
        ]
    ));
}

#[test]
fn certificate_bundles_verify_against_our_ca_and_tampering_fails() {
    let (nm, img) = prerequisites!();
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    let rootfs = img.join("rootfs");
    attest_ok(w, &["ca", "init", "ca", "--intermediate"]);
    attest_ok(w, &["ca", "init", "other-ca"]);
    attest_ok(w, &["keygen", "--type", "ecdsa-p256", "-o", "builder.key"]);
    attest_ok(
        w,
        &[
            "ca",
            "issue",
            "ca",
            "--public-key",
            "builder.key.pub",
            "--identity",
            "email:builder@example.com",
            "-o",
            "builder.chain.pem",
        ],
    );
    attest_ok(
        w,
        &[
            "sbom",
            rootfs.to_str().unwrap(),
            "--format",
            "spdx-json",
            "--key",
            "builder.key",
            "--cert",
            "builder.chain.pem",
            "-o",
            "sbom.bundle.json",
        ],
    );
    let bundle = w.join("sbom.bundle.json");
    let v = read_json(&bundle);
    // v0.3: the leaf alone; no chain, no root.
    assert_eq!(
        v["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(v["verificationMaterial"]["certificate"]["rawBytes"].is_string());
    assert!(v["verificationMaterial"]
        .get("x509CertificateChain")
        .is_none());
    let tr = w.join("ca/trusted_root.json");
    let ok = |b: &Path, id: &str, root: &Path| {
        js_verify(
            &nm,
            &[
                "--bundle",
                b.to_str().unwrap(),
                "--trusted-root",
                root.to_str().unwrap(),
                "--identity",
                id,
            ],
        )
    };
    assert!(ok(&bundle, "builder@example.com", &tr));
    assert!(!ok(&bundle, "someone@example.com", &tr), "identity policy");
    assert!(
        !ok(
            &bundle,
            "builder@example.com",
            &w.join("other-ca/trusted_root.json")
        ),
        "unrelated CA"
    );
    for (what, pointer, at) in [
        ("payload byte", "/dsseEnvelope/payload", 60),
        ("signature byte", "/dsseEnvelope/signatures/0/sig", -2),
        (
            "certificate byte (its signature)",
            "/verificationMaterial/certificate/rawBytes",
            -4,
        ),
        (
            "certificate byte (its public key)",
            "/verificationMaterial/certificate/rawBytes",
            200,
        ),
    ] {
        let mut t = v.clone();
        flip(&mut t, pointer, at);
        let tp = w.join("tampered.json");
        write_json(&tp, &t);
        assert!(
            !ok(&tp, "builder@example.com", &tr),
            "a changed {what} must not verify"
        );
    }

    // v0.2 carries leaf + intermediate, never the root.
    attest_ok(
        w,
        &[
            "provenance",
            rootfs.to_str().unwrap(),
            "--key",
            "builder.key",
            "--cert",
            "builder.chain.pem",
            "--bundle-v02",
            "-o",
            "v02.json",
        ],
    );
    let v02 = read_json(&w.join("v02.json"));
    let certs = v02["verificationMaterial"]["x509CertificateChain"]["certificates"]
        .as_array()
        .unwrap();
    assert_eq!(certs.len(), 2);
    let root_pem = std::fs::read_to_string(w.join("ca/root.pem")).unwrap();
    let root_b64: String = root_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(
        certs.iter().all(|c| c["rawBytes"] != root_b64.as_str()),
        "root must not be in the bundle"
    );
    assert!(ok(&w.join("v02.json"), "builder@example.com", &tr));

    // A chain issued for another key is refused at signing time.
    attest_ok(w, &["keygen", "--type", "ed25519", "-o", "other.key"]);
    let o = attest(
        w,
        &[
            "provenance",
            rootfs.to_str().unwrap(),
            "--key",
            "other.key",
            "--cert",
            "builder.chain.pem",
            "-o",
            "x.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not the signing key"));
}
