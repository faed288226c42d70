//! Our in-toto layout and links checked by the reference verifier, in-toto 3.x's
//! `in-toto-verify` (pip `in-toto`), for the chain fedora-packages -> overlays -> compose ->
//! sbom over the factory-built sample image, with functionaries of all three key types
//! (Ed25519, ECDSA P-256, RSA), in both signed forms (Metablock and DSSE). Skipped loudly
//! when in-toto-verify or rpmbuild is missing (a failure under CI=true).

mod common;

use std::path::Path;

use common::*;

const LAYOUT: &str = r#"
readme = "Fedora packages -> overlays -> compose -> sbom"
expires_in_days = 30

[keys]
packager = "packager.key.pub"
overlayer = "overlayer.key.pub"
composer = "composer.key.pub"
sbomer = "sbomer.key.pub"

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
expected_materials = [["MATCH", "rootfs/*", "WITH", "PRODUCTS", "FROM", "compose"], ["DISALLOW", "*"]]
expected_products = [["CREATE", "sbom.spdx.json"], ["DISALLOW", "*"]]
"#;

use common::cp_a as cp;

/// Builds the work tree and records every link with `--dsse` or not; returns nothing, the
/// links land in `links_dir`.
fn record_chain(w: &Path, links_dir: &str, dsse: bool, before_sbom: impl FnOnce(&Path)) {
    std::fs::create_dir_all(w.join(links_dir)).unwrap();
    let form: &[&str] = if dsse { &["--dsse"] } else { &[] };
    let link = |args: &[&str]| {
        // Options first: everything after `--` is the recorded command.
        let mut a = vec!["link", "-o", links_dir];
        a.extend_from_slice(form);
        a.extend_from_slice(args);
        attest_ok(w, &a);
    };
    link(&[
        "fedora-packages",
        "--key",
        "packager.key",
        "--products",
        "repo",
    ]);
    link(&[
        "overlays",
        "--key",
        "overlayer.key",
        "--products",
        "overlays",
    ]);
    link(&[
        "compose",
        "--key",
        "composer.key",
        "--materials",
        "repo",
        "overlays",
        "--products",
        "rootfs",
        "--",
        "compose",
        "sample.toml",
    ]);
    before_sbom(w);
    link(&[
        "sbom",
        "--key",
        "sbomer.key",
        "--materials",
        "rootfs",
        "--products",
        "sbom.spdx.json",
    ]);
}

#[test]
fn in_toto_verify_accepts_our_chain_and_rejects_tampering() {
    if !have("in-toto-verify") {
        skip!("in-toto-verify not installed (pip install in-toto)");
    }
    let Some(img) = sample_image() else {
        skip!("rpmbuild/rpmsign not installed: cannot build the sample image");
    };
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    for (name, kind) in [
        ("owner", "ecdsa-p256"),
        ("packager", "ed25519"),
        ("overlayer", "ecdsa-p256"),
        ("composer", "rsa"),
        ("sbomer", "ed25519"),
    ] {
        attest_ok(w, &["keygen", "--type", kind, "-o", &format!("{name}.key")]);
    }
    cp(&img.join("repo"), &w.join("repo"));
    std::fs::create_dir_all(w.join("overlays/etc/motd.d")).unwrap();
    std::fs::copy(
        img.join("rootfs/etc/motd.d/azl"),
        w.join("overlays/etc/motd.d/azl"),
    )
    .unwrap();
    std::fs::copy(
        img.join("rootfs/etc/sample-overlay.conf"),
        w.join("overlays/etc/sample-overlay.conf"),
    )
    .unwrap();
    cp(&img.join("rootfs"), &w.join("rootfs"));
    let inv = sbom::scan::scan_root(&w.join("rootfs")).unwrap();
    let info = sbom::format::DocumentInfo {
        created: 1735689600,
        tool_name: "sbom".into(),
        tool_version: "0".into(),
        include_files: true,
    };
    let mut out = Vec::new();
    sbom::format::write(sbom::format::Format::Spdx23, &inv, &info, &mut out).unwrap();
    std::fs::write(w.join("sbom.spdx.json"), out).unwrap();
    std::fs::write(w.join("chain.toml"), LAYOUT).unwrap();

    // Metablock form.
    attest_ok(
        w,
        &[
            "layout",
            "chain.toml",
            "--key",
            "owner.key",
            "-o",
            "root.layout",
        ],
    );
    record_chain(w, "links", false, |_| {});
    assert!(
        in_toto_verify(w, "root.layout", "owner.key.pub", "links"),
        "Metablock chain must verify"
    );

    // DSSE form of the same chain.
    attest_ok(
        w,
        &[
            "layout",
            "chain.toml",
            "--key",
            "owner.key",
            "--dsse",
            "-o",
            "root-dsse.layout",
        ],
    );
    record_chain(w, "links-dsse", true, |_| {});
    assert!(
        in_toto_verify(w, "root-dsse.layout", "owner.key.pub", "links-dsse"),
        "DSSE chain must verify"
    );

    // Wrong layout key.
    assert!(!in_toto_verify(
        w,
        "root.layout",
        "composer.key.pub",
        "links"
    ));

    // A product file changed between compose and sbom: the sbom step's materials no longer
    // match compose's products.
    let t = tempfile::tempdir().unwrap();
    let tw = t.path();
    for f in ["repo", "overlays", "rootfs"] {
        cp(&w.join(f), &tw.join(f));
    }
    for f in std::fs::read_dir(w).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, tw.join(f.file_name().unwrap())).unwrap();
        }
    }
    record_chain(tw, "links", false, |tw| {
        std::fs::write(
            tw.join("rootfs/etc/motd.d/azl"),
            "Welcome to a tampered image.\n",
        )
        .unwrap();
    });
    assert!(
        !in_toto_verify(tw, "root.layout", "owner.key.pub", "links"),
        "a tampered product must fail"
    );

    // A recorded hash edited in a signed link: the signature no longer verifies.
    let compose = std::fs::read_dir(w.join("links"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("compose.")
        })
        .unwrap();
    let mut v = read_json(&compose);
    let products = v["signed"]["products"].as_object_mut().unwrap();
    let first = products.keys().next().unwrap().clone();
    products[&first]["sha256"] = serde_json::json!("0".repeat(64));
    write_json(&compose, &v);
    assert!(
        !in_toto_verify(w, "root.layout", "owner.key.pub", "links"),
        "an edited link must fail"
    );

    // An expired layout.
    let expired = LAYOUT.replace("expires_in_days = 30", "expires = \"2020-01-01T00:00:00Z\"");
    std::fs::write(w.join("expired.toml"), expired).unwrap();
    attest_ok(
        w,
        &[
            "layout",
            "expired.toml",
            "--key",
            "owner.key",
            "-o",
            "expired.layout",
        ],
    );
    assert!(
        !in_toto_verify(w, "expired.layout", "owner.key.pub", "links-dsse"),
        "an expired layout must fail"
    );
}

/// docs/attest.md's delegation recipe with the real binary: the composer signs a sublayout
/// in its link's place, the packager's link goes into `links/inputs.<keyid8>/` (created by
/// `-o DIR/`), and the root layout writes the package directory as `{DIR}` (kept as text).
/// in-toto-verify accepts the delegation, and rejects it when the sub-link is missing.
#[test]
fn a_delegated_step_built_with_the_cli_passes_in_toto_verify() {
    if !have("in-toto-verify") {
        skip!("in-toto-verify not installed (pip install in-toto)");
    }
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    for (name, kind) in [
        ("owner", "ecdsa-p256"),
        ("composer", "ed25519"),
        ("packager", "ed25519"),
    ] {
        attest_ok(w, &["keygen", "--type", kind, "-o", &format!("{name}.key")]);
    }
    std::fs::create_dir_all(w.join("repo")).unwrap();
    std::fs::write(w.join("repo/a.rpm"), "a package\n").unwrap();
    std::fs::write(
        w.join("root.toml"),
        r#"expires_in_days = 30
[keys]
composer = "composer.key.pub"
[[step]]
name = "inputs"
functionaries = ["composer"]
expected_products = [["CREATE", "repo/*"], ["DISALLOW", "*"]]
"#,
    )
    .unwrap();
    std::fs::write(
        w.join("inputs.toml"),
        r#"expires_in_days = 30
[keys]
packager = "packager.key.pub"
[[step]]
name = "fedora-packages"
functionaries = ["packager"]
expected_products = [["CREATE", "{DIR}/*"], ["DISALLOW", "*"]]
"#,
    )
    .unwrap();
    let info = attest_ok(w, &["key-info", "composer.key", "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let id8 = &info["inTotoKeyId"].as_str().unwrap()[..8];
    attest_ok(
        w,
        &[
            "layout",
            "root.toml",
            "--key",
            "owner.key",
            "-o",
            "root.layout",
        ],
    );
    std::fs::create_dir_all(w.join("links")).unwrap();
    let sub = format!("links/inputs.{id8}.link");
    attest_ok(
        w,
        &["layout", "inputs.toml", "--key", "composer.key", "-o", &sub],
    );
    let sub_dir = format!("links/inputs.{id8}/");
    let packager = [
        "link",
        "fedora-packages",
        "--key",
        "packager.key",
        "--products",
        "repo",
    ];
    attest_ok(w, &[&packager[..], &["-o", &sub_dir]].concat());
    assert!(w.join(&sub_dir).is_dir(), "-o DIR/ makes the directory");
    // The sublayout keeps `{DIR}` (in-toto-verify substitutes nothing): a literal pattern
    // that matches nothing, so DISALLOW catches the package; with `repo/*` it passes.
    assert!(!in_toto_verify(w, "root.layout", "owner.key.pub", "links"));
    let plain = std::fs::read_to_string(w.join("inputs.toml")).unwrap();
    std::fs::write(w.join("inputs.toml"), plain.replace("{DIR}", "repo")).unwrap();
    attest_ok(
        w,
        &["layout", "inputs.toml", "--key", "composer.key", "-o", &sub],
    );
    assert!(in_toto_verify(w, "root.layout", "owner.key.pub", "links"));
    std::fs::remove_dir_all(w.join(&sub_dir)).unwrap();
    assert!(!in_toto_verify(w, "root.layout", "owner.key.pub", "links"));
}
