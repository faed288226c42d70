//! The real `attest` binary: exit codes, file modes, atomic and deterministic output,
//! passphrases from the environment only, and that secrets never reach the terminal.

mod common;

use common::*;

#[test]
fn exit_codes_and_usage() {
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    assert_eq!(attest(w, &[]).status.code(), Some(2), "no subcommand");
    assert_eq!(
        attest(w, &["keygen", "--type", "dsa", "-o", "k"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        attest(w, &["keygen", "--type", "rsa", "--bits", "1024", "-o", "k"])
            .status
            .code(),
        Some(2)
    );
    attest_ok(w, &["keygen", "--type", "ed25519", "-o", "k.key"]);
    let again = attest(w, &["keygen", "--type", "ed25519", "-o", "k.key"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let o = attest(
        w,
        &[
            "provenance",
            "/nonexistent-image",
            "--key",
            "k.key",
            "-o",
            "p.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!w.join("p.json").exists());
    let o = attest(
        w,
        &["provenance", ".", "--key", "missing.key", "-o", "p.json"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.key"));
    let o = attest(
        w,
        &[
            "provenance",
            ".",
            "--key",
            "k.key",
            "--started-on",
            "yesterday",
            "-o",
            "p.json",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let help = attest_ok(w, &["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn keys_are_0600_and_encrypted_keys_need_the_env_passphrase() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    for kind in ["ed25519", "ecdsa-p256", "rsa"] {
        let k = format!("{kind}.key");
        attest_ok(w, &["keygen", "--type", kind, "-o", &k]);
        let mode = std::fs::metadata(w.join(&k)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{kind}");
        let pubmode = std::fs::metadata(w.join(format!("{k}.pub")))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(pubmode, 0o644);
    }
    // Encrypted: without ATTEST_KEY_PASSPHRASE and without a terminal, a clear error.
    let no = attest(
        w,
        &[
            "keygen",
            "--type",
            "ecdsa-p256",
            "--encrypt",
            "-o",
            "enc.key",
        ],
    );
    assert_eq!(no.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no.stderr).contains("ATTEST_KEY_PASSPHRASE"));
    let run = |args: &[&str], pass: Option<&str>| {
        let mut c = std::process::Command::new(attest_bin());
        c.args(args)
            .current_dir(w)
            .env("SOURCE_DATE_EPOCH", "1735689600");
        match pass {
            Some(p) => c.env("ATTEST_KEY_PASSPHRASE", p),
            None => c.env_remove("ATTEST_KEY_PASSPHRASE"),
        };
        c.output().unwrap()
    };
    let o = run(
        &[
            "keygen",
            "--type",
            "ecdsa-p256",
            "--encrypt",
            "-o",
            "enc.key",
        ],
        Some("s3cret pass"),
    );
    assert!(o.status.success());
    let pem = std::fs::read_to_string(w.join("enc.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    // OpenSSL, an independent PKCS#8 reader, decrypts it with the same passphrase.
    if have("openssl") {
        let o = std::process::Command::new("openssl")
            .args([
                "pkey",
                "-in",
                "enc.key",
                "-passin",
                "env:ATTEST_KEY_PASSPHRASE",
                "-pubout",
            ])
            .env("ATTEST_KEY_PASSPHRASE", "s3cret pass")
            .current_dir(w)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            std::fs::read_to_string(w.join("enc.key.pub")).unwrap()
        );
    }
    let info = |pass| run(&["key-info", "enc.key", "--json"], pass);
    assert_eq!(info(None).status.code(), Some(1));
    assert_eq!(info(Some("wrong")).status.code(), Some(1));
    let ok = info(Some("s3cret pass"));
    assert!(ok.status.success());
    // Nothing secret on the terminal: no private PEM, no passphrase.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(!all.contains("PRIVATE KEY") && !all.contains("s3cret"));
}

#[test]
fn outputs_are_deterministic_with_deterministic_signatures() {
    let Some(img) = sample_image() else {
        skip!("rpmbuild/rpmsign not installed: cannot build the sample image");
    };
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    let root = img.join("rootfs");
    let repo = img.join("repo");
    attest_ok(w, &["keygen", "--type", "ed25519", "-o", "ed.key"]);
    let recipe = workspace_root().join("testdata/recipes/sample.toml");
    for out in ["a.json", "b.json"] {
        attest_ok(
            w,
            &[
                "provenance",
                root.to_str().unwrap(),
                "--key",
                "ed.key",
                "--recipe",
                recipe.to_str().unwrap(),
                "--overlay",
                "/etc/motd.d/azl",
                "--overlay",
                "/etc/sample-overlay.conf",
                "--repo",
                repo.to_str().unwrap(),
                "-o",
                out,
            ],
        );
    }
    assert_eq!(
        std::fs::read(w.join("a.json")).unwrap(),
        std::fs::read(w.join("b.json")).unwrap()
    );
    for out in ["a.jsonl", "b.jsonl"] {
        attest_ok(
            w,
            &[
                "packages",
                root.to_str().unwrap(),
                "--key",
                "ed.key",
                "--repo",
                repo.to_str().unwrap(),
                "-o",
                out,
            ],
        );
    }
    let a = std::fs::read_to_string(w.join("a.jsonl")).unwrap();
    assert_eq!(a, std::fs::read_to_string(w.join("b.jsonl")).unwrap());
    // One envelope per installed package, each verifiable, each subject the .rpm file.
    let key = attest::keys::PublicKey::load(&w.join("ed.key.pub")).unwrap();
    let inv = sbom::scan::scan_root(&root).unwrap();
    assert_eq!(a.lines().count(), inv.packages.len());
    for line in a.lines() {
        let env = attest::dsse::Envelope::from_json(line.as_bytes(), "line").unwrap();
        env.verify(std::slice::from_ref(&key), 1, "line").unwrap();
        let st: attest::statement::Statement = serde_json::from_slice(&env.payload).unwrap();
        let digest = &st.subject[0].digest;
        assert!(digest.contains_key("sha256") && digest.contains_key("rpmHeaderSha256"));
    }
    // The image provenance names every package, the recipe and both overlays.
    let b = read_json(&w.join("a.json"));
    let payload = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        b["dsseEnvelope"]["payload"].as_str().unwrap(),
    )
    .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert_eq!(deps.len(), inv.packages.len() + 3);
    assert_eq!(
        st["subject"][0]["digest"]["rootfsSha256"].as_str().unwrap(),
        attest::rootfs::digest(&root).unwrap().sha256
    );
    assert_eq!(
        st["predicate"]["runDetails"]["metadata"]["finishedOn"],
        "2025-01-01T00:00:00Z"
    );
    // An overlay path that does not exist is an error naming it.
    let o = attest(
        w,
        &[
            "provenance",
            root.to_str().unwrap(),
            "--key",
            "ed.key",
            "--overlay",
            "/etc/nope",
            "-o",
            "c.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/etc/nope"));
    let o = attest(
        w,
        &[
            "provenance",
            root.to_str().unwrap(),
            "--key",
            "ed.key",
            "--overlay",
            "../../etc/passwd",
            "-o",
            "c.json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
}
