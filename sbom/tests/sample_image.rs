//! The committed sample image (built by testdata/factory with the real rpm tools) scanned
//! by the library must say exactly what the factory's manifest says was built.

mod common;

use std::collections::BTreeSet;

#[test]
fn sample_inventory_matches_factory_manifest() {
    let dir = common::testdata("sample");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let inv = sbom::scan::scan_root(&dir.join("rootfs")).unwrap_or_else(|e| panic!("{e}"));

    let ours: BTreeSet<String> = inv.packages.iter().map(|p| p.nevra()).collect();
    let built: BTreeSet<String> = manifest["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["nevra"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ours, built);

    let key_ids: std::collections::BTreeMap<&str, &str> = manifest["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["name"].as_str().unwrap(), k["keyid"].as_str().unwrap()))
        .collect();
    for m in manifest["packages"].as_array().unwrap() {
        let p = inv
            .packages
            .iter()
            .find(|p| p.nevra() == m["nevra"].as_str().unwrap())
            .unwrap();
        let signed_by = m["signed_by"].as_str().unwrap();
        let got: Vec<&str> = p
            .signatures
            .iter()
            .filter_map(|s| s.key_id.as_deref())
            .collect();
        if signed_by == "none" {
            assert!(got.is_empty(), "{} is unsigned", p.nevra());
        } else {
            assert_eq!(got, vec![key_ids[signed_by]], "{}", p.nevra());
        }
        assert_eq!(
            p.files.len() as u64,
            m["files"].as_u64().unwrap(),
            "{}",
            p.nevra()
        );
        assert_eq!(p.sha256_header, p.computed_sha256_header, "{}", p.nevra());
    }

    // Imported keys are keys, never packages.
    let keys: BTreeSet<String> = inv
        .keys
        .iter()
        .map(|k| format!("gpg-pubkey-{}", k.short_id))
        .collect();
    let built_keys: BTreeSet<String> = manifest["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["rpm_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, built_keys);
    assert!(inv
        .keys
        .iter()
        .all(|k| k.armored.contains("BEGIN PGP PUBLIC KEY BLOCK")));

    let unresolved: Vec<String> = inv
        .unresolved
        .iter()
        .map(|u| {
            format!(
                "{}: {}",
                inv.packages[u.package].name,
                u.requirement.display()
            )
        })
        .collect();
    let expected: Vec<String> = manifest["unresolved_requires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(unresolved, expected);

    // ca-certificates requires the path /usr/bin/sh, which bash owns (as a symlink).
    let idx = |n: &str| inv.packages.iter().position(|p| p.name == n).unwrap();
    assert!(inv
        .depends_on
        .contains(&(idx("ca-certificates"), idx("bash"))));
    assert_eq!(inv.distro.as_ref().unwrap().purl_distro(), "azurelinux-4.0");
}
