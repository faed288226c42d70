//! The examples in docs/policy.md are valid policies, and the reference block shows
//! exactly the defaults.

use std::path::Path;

use verify::policy::Policy;

fn toml_blocks() -> Vec<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/policy.md"))
            .unwrap();
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in doc.lines() {
        match (&mut cur, line.trim_end()) {
            (None, "```toml") => cur = Some(String::new()),
            (Some(_), "```") => blocks.push(cur.take().unwrap()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// Every string in `[keys]` / `[roots]`, so the test can create those files.
fn paths(v: &toml::Value) -> Vec<String> {
    let mut out = Vec::new();
    for section in ["keys", "roots"] {
        if let Some(t) = v.get(section).and_then(|t| t.as_table()) {
            for val in t.values() {
                match val {
                    toml::Value::String(s) => out.push(s.clone()),
                    toml::Value::Array(a) => {
                        out.extend(a.iter().filter_map(|x| x.as_str().map(String::from)))
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

#[test]
fn docs_policy_examples_parse() {
    let blocks = toml_blocks();
    assert_eq!(blocks.len(), 5, "reference + four examples");
    for (i, text) in blocks.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let value: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("block {i}: {e}"));
        for p in paths(&value) {
            let full = tmp.path().join(p);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, b"").unwrap();
        }
        let file = tmp.path().join("policy.toml");
        std::fs::write(&file, text).unwrap();
        Policy::from_file(&file).unwrap_or_else(|e| panic!("block {i}: {e}"));
    }
    // The reference block spells out the defaults.
    let tmp = tempfile::tempdir().unwrap();
    let reference = Policy::from_toml(&blocks[0], Path::new("reference"), tmp.path()).unwrap();
    assert_eq!(reference, Policy::default());
}
