//! Overlays taken from the recipe (`--recipe`), on the committed sample image
//! (testdata/sample, built from testdata/recipes/sample.toml): recorded with their component,
//! united with `--overlay`, and refused when the recipe names one the image lacks or a type
//! attest does not recognize.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use common::*;

fn sample() -> (PathBuf, PathBuf) {
    let root = workspace_root();
    (
        root.join("testdata/sample/rootfs"),
        root.join("testdata/recipes/sample.toml"),
    )
}

/// The statement inside a bundle.
fn statement(bundle: &Path) -> serde_json::Value {
    let b = read_json(bundle);
    let payload = base64::engine::general_purpose::STANDARD
        .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn sha256_hex(p: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn recipe_overlays_are_recorded_with_their_component() {
    let (rootfs, recipe) = sample();
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    attest_ok(w, &["keygen", "--type", "ed25519", "-o", "k.key"]);
    let (r, rec) = (rootfs.to_str().unwrap(), recipe.to_str().unwrap());
    attest_ok(
        w,
        &[
            "provenance",
            r,
            "--key",
            "k.key",
            "--recipe",
            rec,
            "-o",
            "a.json",
        ],
    );
    let st = statement(&w.join("a.json"));
    let ext = &st["predicate"]["buildDefinition"]["externalParameters"];
    assert_eq!(
        ext["overlays"],
        serde_json::json!(["/etc/motd.d/azl", "/etc/sample-overlay.conf"])
    );
    assert_eq!(
        ext["overlayComponents"],
        serde_json::json!({"/etc/motd.d/azl": "image-customizations", "/etc/sample-overlay.conf": "image-customizations"})
    );
    // Each overlay is a resolved dependency with the digest of the file in the image.
    let deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let inv = sbom::scan::scan_root(&rootfs).unwrap();
    assert_eq!(deps.len(), inv.packages.len() + 3);
    let motd = deps
        .iter()
        .find(|d| d["name"] == "/etc/motd.d/azl")
        .unwrap();
    assert_eq!(
        motd["digest"]["sha256"].as_str().unwrap(),
        sha256_hex(&rootfs.join("etc/motd.d/azl"))
    );

    // Giving the same overlays with --overlay changes nothing; another one is added,
    // without a component.
    attest_ok(
        w,
        &[
            "provenance",
            r,
            "--key",
            "k.key",
            "--recipe",
            rec,
            "--overlay",
            "/etc/motd.d/azl",
            "--overlay",
            "/etc/sample-overlay.conf",
            "-o",
            "b.json",
        ],
    );
    assert_eq!(
        std::fs::read(w.join("a.json")).unwrap(),
        std::fs::read(w.join("b.json")).unwrap()
    );
    attest_ok(
        w,
        &[
            "provenance",
            r,
            "--key",
            "k.key",
            "--recipe",
            rec,
            "--overlay",
            "/etc/local-config.conf",
            "-o",
            "c.json",
        ],
    );
    let ext =
        statement(&w.join("c.json"))["predicate"]["buildDefinition"]["externalParameters"].clone();
    assert_eq!(
        ext["overlays"],
        serde_json::json!([
            "/etc/local-config.conf",
            "/etc/motd.d/azl",
            "/etc/sample-overlay.conf"
        ])
    );
    assert!(ext["overlayComponents"]
        .get("/etc/local-config.conf")
        .is_none());
    assert_eq!(ext["overlayComponents"].as_object().unwrap().len(), 2);

    // Without --recipe there is no component map.
    attest_ok(
        w,
        &[
            "provenance",
            r,
            "--key",
            "k.key",
            "--overlay",
            "/etc/motd.d/azl",
            "-o",
            "d.json",
        ],
    );
    let st = statement(&w.join("d.json"));
    assert!(st["predicate"]["buildDefinition"]["externalParameters"]
        .get("overlayComponents")
        .is_none());

    // attest packages reads the same recipe without complaint (no package owns these files).
    attest_ok(
        w,
        &[
            "packages", r, "--key", "k.key", "--recipe", rec, "-o", "p.jsonl",
        ],
    );
}

/// The sample recipe plus one more component.
fn recipe_with(w: &Path, extra: &str) -> String {
    let (_, recipe) = sample();
    let mut text = std::fs::read_to_string(recipe).unwrap();
    text.push_str(extra);
    let p = w.join("edited.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn a_missing_overlay_or_an_unknown_type_is_an_error_naming_the_entry() {
    let (rootfs, _) = sample();
    let r = rootfs.to_str().unwrap();
    let d = tempfile::tempdir().unwrap();
    let w = d.path();
    attest_ok(w, &["keygen", "--type", "ed25519", "-o", "k.key"]);
    for (extra, want) in [
        (
            "\n[[component]]\nname = \"late\"\n[[component.overlays]]\ntype = \"file-add\"\npath = \"/etc/never-placed\"\n",
            "overlay /etc/never-placed (recipe entry [[component]] 'late' overlays[0]): not found in the image",
        ),
        (
            "\n[[component]]\nname = \"kernel\"\n[[component.overlays]]\ntype = \"spec-search-replace\"\nregex = \"a\"\nreplacement = \"b\"\n",
            "edited.toml: [[component]] 'kernel' overlays[0]: overlay type 'spec-search-replace' is not recognized",
        ),
        (
            "\n[[component]]\nname = \"esc\"\n[[component.overlays]]\ntype = \"file-add\"\npath = \"/../../etc/passwd\"\n",
            "without '..'",
        ),
    ] {
        let rec = recipe_with(w, extra);
        for cmd in ["provenance", "packages"] {
            let o = attest(w, &[cmd, r, "--key", "k.key", "--recipe", &rec, "-o", "x.json"]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{cmd}: {err}");
            assert!(err.contains(want), "{cmd}: want {want:?}, got {err}");
            assert!(!w.join("x.json").exists());
        }
    }
}
