//! in-toto layouts from a short TOML description (format in docs/attest.md):
//!
//! ```toml
//! expires = "2027-01-01T00:00:00Z"     # or: expires_in_days = 365
//! readme = "Fedora packages to released image"
//! [keys]                               # name = public key file (relative to this file)
//! packager = "packager.pub"
//! [[step]]
//! name = "fedora-packages"
//! functionaries = ["packager"]
//! threshold = 1
//! expected_products = [["CREATE", "repo/*"]]
//! ```
//!
//! Invariants: every artifact rule is checked against in-toto's rule grammar, every `FROM`
//! names a step or inspection of the layout, every functionary names a key, thresholds are
//! between 1 and the number of functionaries; a bad description is an error naming the
//! step and rule, never a layout `in-toto-verify` would reject later.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{keys as itkeys, InTotoError};
use crate::keys::PublicKey;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    pub expires: Option<String>,
    pub expires_in_days: Option<i64>,
    #[serde(default)]
    pub readme: String,
    pub keys: BTreeMap<String, String>,
    #[serde(default, rename = "step")]
    pub steps: Vec<StepDesc>,
    #[serde(default, rename = "inspect")]
    pub inspections: Vec<InspectDesc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDesc {
    pub name: String,
    pub functionaries: Vec<String>,
    #[serde(default = "one")]
    pub threshold: u32,
    #[serde(default)]
    pub expected_command: Vec<String>,
    #[serde(default)]
    pub expected_materials: Vec<Vec<String>>,
    #[serde(default)]
    pub expected_products: Vec<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectDesc {
    pub name: String,
    pub run: Vec<String>,
    #[serde(default)]
    pub expected_materials: Vec<Vec<String>>,
    #[serde(default)]
    pub expected_products: Vec<Vec<String>>,
}

fn one() -> u32 {
    1
}

/// Checks one artifact rule against in-toto's grammar:
/// `CREATE|DELETE|MODIFY|ALLOW|DISALLOW|REQUIRE <pattern>` or
/// `MATCH <pattern> [IN <prefix>] WITH MATERIALS|PRODUCTS [IN <prefix>] FROM <step>`.
pub fn check_rule(rule: &[String], names: &[&str]) -> Result<(), String> {
    let r: Vec<&str> = rule.iter().map(String::as_str).collect();
    let upper = |s: &str| s.to_ascii_uppercase();
    match r.first().map(|s| upper(s)).as_deref() {
        Some("CREATE" | "DELETE" | "MODIFY" | "ALLOW" | "DISALLOW" | "REQUIRE") => {
            if r.len() == 2 {
                Ok(())
            } else {
                Err("expected <RULE> <pattern>".into())
            }
        }
        Some("MATCH") => {
            // MATCH pat [IN src] WITH kind [IN dst] FROM step
            let shape_ok = match r.len() {
                6 => upper(r[2]) == "WITH" && upper(r[4]) == "FROM",
                8 => {
                    (upper(r[2]) == "IN" && upper(r[4]) == "WITH" && upper(r[6]) == "FROM")
                        || (upper(r[2]) == "WITH" && upper(r[4]) == "IN" && upper(r[6]) == "FROM")
                }
                10 => {
                    upper(r[2]) == "IN"
                        && upper(r[4]) == "WITH"
                        && upper(r[6]) == "IN"
                        && upper(r[8]) == "FROM"
                }
                _ => false,
            };
            if !shape_ok {
                return Err("expected MATCH <pattern> [IN <prefix>] WITH MATERIALS|PRODUCTS [IN <prefix>] FROM <step>".into());
            }
            let with = r.iter().position(|s| upper(s) == "WITH").unwrap_or(0);
            let kind = upper(r[with + 1]);
            if kind != "MATERIALS" && kind != "PRODUCTS" {
                return Err(format!(
                    "WITH {} : expected MATERIALS or PRODUCTS",
                    r[with + 1]
                ));
            }
            let from = r[r.len() - 1];
            if !names.contains(&from) {
                return Err(format!("FROM {from}: no step or inspection of that name"));
            }
            Ok(())
        }
        _ => Err(
            "unknown rule type (CREATE, DELETE, MODIFY, ALLOW, DISALLOW, REQUIRE or MATCH)".into(),
        ),
    }
}

fn rules(
    rules: &[Vec<String>],
    names: &[&str],
    ctx: &str,
    origin: &str,
) -> Result<Value, InTotoError> {
    for (i, r) in rules.iter().enumerate() {
        check_rule(r, names).map_err(|reason| InTotoError::Description {
            path: origin.to_owned(),
            reason: format!("{ctx} rule {} {:?}: {reason}", i + 1, r),
        })?;
    }
    Ok(json!(rules))
}

/// Builds the unsigned layout object. `base` resolves key file paths; `now` (Unix seconds)
/// anchors `expires_in_days`.
pub fn build(
    desc: &Description,
    base: &Path,
    now: i64,
    origin: &str,
) -> Result<Value, InTotoError> {
    let err = |reason: String| InTotoError::Description {
        path: origin.to_owned(),
        reason,
    };
    let expires = match (&desc.expires, desc.expires_in_days) {
        (Some(e), None) => crate::cli::parse_time(e).ok_or_else(|| {
            err(format!(
                "expires {e:?}: use RFC 3339 UTC like 2027-01-01T00:00:00Z"
            ))
        })?,
        (None, Some(d)) if d > 0 => sbom::format::rfc3339(now + d * 86_400),
        (None, None) => return Err(err("set expires or expires_in_days".into())),
        _ => {
            return Err(err(
                "set exactly one of expires and expires_in_days (positive)".into(),
            ))
        }
    };
    let mut key_ids: BTreeMap<&str, String> = BTreeMap::new();
    let mut keys = Map::new();
    for (name, file) in &desc.keys {
        let path = base.join(file);
        let k = PublicKey::load(&path)?;
        let (id, obj) = itkeys::key_object_with_id(&k);
        keys.insert(id.clone(), obj);
        key_ids.insert(name.as_str(), id);
    }
    let names: Vec<&str> = desc
        .steps
        .iter()
        .map(|s| s.name.as_str())
        .chain(desc.inspections.iter().map(|i| i.name.as_str()))
        .collect();
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() || names[..i].contains(n) {
            return Err(err(format!(
                "step/inspection name {n:?} is empty or repeated"
            )));
        }
    }
    if desc.steps.is_empty() {
        return Err(err("a layout needs at least one [[step]]".into()));
    }
    let mut steps = Vec::new();
    for s in &desc.steps {
        let ctx = format!("step {:?}", s.name);
        let mut pubkeys = Vec::new();
        for f in &s.functionaries {
            let id = key_ids
                .get(f.as_str())
                .ok_or_else(|| err(format!("{ctx}: functionary {f:?} is not in [keys]")))?;
            pubkeys.push(id.clone());
        }
        if s.threshold == 0 || s.threshold as usize > pubkeys.len() {
            return Err(err(format!(
                "{ctx}: threshold {} must be between 1 and the {} functionaries",
                s.threshold,
                pubkeys.len()
            )));
        }
        steps.push(json!({
            "_type": "step",
            "name": s.name,
            "threshold": s.threshold,
            "pubkeys": pubkeys,
            "expected_command": s.expected_command,
            "expected_materials": rules(&s.expected_materials, &names, &format!("{ctx} expected_materials"), origin)?,
            "expected_products": rules(&s.expected_products, &names, &format!("{ctx} expected_products"), origin)?,
        }));
    }
    let mut inspect = Vec::new();
    for i in &desc.inspections {
        let ctx = format!("inspection {:?}", i.name);
        if i.run.is_empty() {
            return Err(err(format!("{ctx}: run is empty")));
        }
        inspect.push(json!({
            "_type": "inspection",
            "name": i.name,
            "run": i.run,
            "expected_materials": rules(&i.expected_materials, &names, &format!("{ctx} expected_materials"), origin)?,
            "expected_products": rules(&i.expected_products, &names, &format!("{ctx} expected_products"), origin)?,
        }));
    }
    Ok(json!({
        "_type": "layout",
        "expires": expires,
        "readme": desc.readme,
        "keys": keys,
        "steps": steps,
        "inspect": inspect,
    }))
}

/// Reads and parses a description file.
pub fn read_description(path: &Path) -> Result<Description, InTotoError> {
    let text = std::fs::read_to_string(path).map_err(|source| InTotoError::Io {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| InTotoError::Description {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn rule_grammar() {
        let names = ["a", "b"];
        for ok in [
            s(&["CREATE", "x"]),
            s(&["ALLOW", "*"]),
            s(&["MATCH", "*", "WITH", "PRODUCTS", "FROM", "a"]),
            s(&[
                "MATCH",
                "*",
                "IN",
                "p",
                "WITH",
                "MATERIALS",
                "IN",
                "q",
                "FROM",
                "b",
            ]),
            s(&["MATCH", "*", "WITH", "PRODUCTS", "IN", "q", "FROM", "b"]),
        ] {
            check_rule(&ok, &names).unwrap();
        }
        for bad in [
            s(&["CREATE"]),
            s(&["EAT", "x"]),
            s(&["MATCH", "*", "WITH", "PRODUCTS", "FROM", "zzz"]),
            s(&["MATCH", "*", "WITH", "THINGS", "FROM", "a"]),
            s(&["MATCH", "*", "FROM", "a"]),
            s(&[]),
        ] {
            assert!(check_rule(&bad, &names).is_err(), "{bad:?}");
        }
    }
}
