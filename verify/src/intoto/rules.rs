//! Artifact rules, as in-toto 3.x applies them (in-toto spec 1.0, "artifact rules").
//!
//! The materials (or products) of a step's link fill a queue; the rules run in order and
//! each consumes the queued artifacts it authorizes. Consuming alone proves nothing: only
//! `DISALLOW` (any queued artifact it matches fails) and `REQUIRE` (the named artifact must
//! still be queued) can fail. `MATCH` consumes an artifact only when the destination step's
//! link records the same path (after the `IN` prefixes) with an equal hash dictionary; a
//! destination without a verified link consumes nothing. Patterns are Python `fnmatch`
//! patterns ([`super::fnmatch`]).

use std::collections::{BTreeMap, BTreeSet};

use super::fnmatch::Pattern;
use super::metadata::{Artifacts, Link};

/// Materials or products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Materials,
    Products,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Materials => "materials",
            Side::Products => "products",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generic {
    Create,
    Delete,
    Modify,
    Allow,
    Disallow,
    Require,
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    Generic(Generic, Pattern),
    Match {
        pattern: Pattern,
        source_prefix: String,
        dest_side: Side,
        dest_prefix: String,
        dest_name: String,
    },
}

/// A parsed rule with its text (for messages).
#[derive(Debug, Clone)]
pub struct Rule {
    pub text: Vec<String>,
    /// The rule's second element: a pattern, or for `REQUIRE` a literal path.
    pub pattern: String,
    pub kind: RuleKind,
}

impl Rule {
    pub fn display(&self) -> String {
        self.text.join(" ")
    }
}

/// Parses one rule with in-toto's grammar (keywords case-insensitive):
/// `CREATE|DELETE|MODIFY|ALLOW|DISALLOW|REQUIRE <pattern>` or
/// `MATCH <pattern> [IN <prefix>] WITH MATERIALS|PRODUCTS [IN <prefix>] FROM <step>`.
pub fn parse(text: Vec<String>) -> Result<Rule, String> {
    let low: Vec<String> = text.iter().map(|s| s.to_lowercase()).collect();
    let l: Vec<&str> = low.iter().map(String::as_str).collect();
    if text.len() < 2 {
        return Err("a rule needs a type and a pattern".into());
    }
    let pattern = text[1].clone();
    let generic = match l[0] {
        "create" => Some(Generic::Create),
        "delete" => Some(Generic::Delete),
        "modify" => Some(Generic::Modify),
        "allow" => Some(Generic::Allow),
        "disallow" => Some(Generic::Disallow),
        "require" => Some(Generic::Require),
        "match" => None,
        other => return Err(format!("unknown rule type {other:?}")),
    };
    if let Some(g) = generic {
        if text.len() != 2 {
            return Err(format!("{} takes exactly one pattern", text[0]));
        }
        return Ok(Rule {
            kind: RuleKind::Generic(g, Pattern::new(&pattern)),
            pattern,
            text,
        });
    }
    let s = |i: usize| text[i].clone();
    let (source_prefix, dest, dest_prefix, dest_name) = match l.as_slice() {
        [_, _, "in", _, "with", _, "in", _, "from", _] => (s(3), l[5], s(7), s(9)),
        [_, _, "in", _, "with", _, "from", _] => (s(3), l[5], String::new(), s(7)),
        [_, _, "with", _, "in", _, "from", _] => (String::new(), l[3], s(5), s(7)),
        [_, _, "with", _, "from", _] => (String::new(), l[3], String::new(), s(5)),
        _ => {
            return Err(
                "expected MATCH <pattern> [IN <prefix>] WITH MATERIALS|PRODUCTS [IN <prefix>] \
                 FROM <step>"
                    .into(),
            )
        }
    };
    let dest_side = match dest {
        "materials" => Side::Materials,
        "products" => Side::Products,
        other => return Err(format!("WITH {other:?}: expected MATERIALS or PRODUCTS")),
    };
    Ok(Rule {
        kind: RuleKind::Match {
            pattern: Pattern::new(&pattern),
            source_prefix,
            dest_side,
            dest_prefix,
            dest_name,
        },
        pattern,
        text,
    })
}

/// Why an item's rules failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFailure {
    /// `disallowed`, `match-failed` or `required-missing`.
    pub kind: &'static str,
    pub reason: String,
}

/// `os.path.join(prefix, path)` as in-toto uses it on POSIX (an absolute `path` wins),
/// with backslashes turned into slashes afterwards, as in-toto does.
fn join(prefix: &str, path: &str) -> String {
    let joined = if path.starts_with('/') || prefix.is_empty() {
        path.to_owned()
    } else if prefix.ends_with('/') {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}/{path}")
    };
    joined.replace('\\', "/")
}

/// How many artifacts to name in a message before summarizing.
const SHOW: usize = 10;

fn list(names: &[&String]) -> String {
    let mut out: Vec<String> = names.iter().take(SHOW).map(|n| format!("{n:?}")).collect();
    if names.len() > SHOW {
        out.push(format!("and {} more", names.len() - SHOW));
    }
    out.join(", ")
}

/// Applies `rules` to the `side` artifacts of item `name` (whose link is `links[name]`).
/// Returns the number of artifacts checked, or the first failing rule, as in-toto stops at
/// the first.
pub fn apply(
    name: &str,
    side: Side,
    rules: &[Rule],
    links: &BTreeMap<String, &Link>,
) -> Result<usize, RuleFailure> {
    let Some(link) = links.get(name) else {
        return Err(RuleFailure {
            kind: "not-checked",
            reason: format!("no verified link for {name:?}"),
        });
    };
    let artifacts: &Artifacts = match side {
        Side::Materials => &link.materials,
        Side::Products => &link.products,
    };
    let mut queue: BTreeSet<&String> = artifacts.keys().collect();
    let total = queue.len();
    // Artifacts a MATCH selected but could not consume, with why: named when a later
    // DISALLOW catches them, since "not consumed" alone does not tell the auditor much.
    let mut unmatched: BTreeMap<&String, String> = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let ctx = || {
            format!(
                "expected_{} rule {} ({})",
                side.name(),
                i + 1,
                rule.display()
            )
        };
        let consumed: BTreeSet<&String> = match &rule.kind {
            RuleKind::Generic(g, pat) => {
                let selected = queue.iter().copied().filter(|a| pat.matches(a));
                let (m, p) = (&link.materials, &link.products);
                match g {
                    Generic::Allow => selected.collect(),
                    Generic::Create => selected
                        .filter(|a| p.contains_key(*a) && !m.contains_key(*a))
                        .collect(),
                    Generic::Delete => selected
                        .filter(|a| m.contains_key(*a) && !p.contains_key(*a))
                        .collect(),
                    Generic::Modify => selected
                        .filter(|a| matches!((m.get(*a), p.get(*a)), (Some(x), Some(y)) if x != y))
                        .collect(),
                    Generic::Disallow => {
                        let hit: Vec<&String> = selected.collect();
                        if hit.is_empty() {
                            BTreeSet::new()
                        } else {
                            let notes: Vec<String> = hit
                                .iter()
                                .filter_map(|a| unmatched.get(*a).map(|w| format!("{a:?}: {w}")))
                                .take(SHOW)
                                .collect();
                            let (kind, why) = if notes.is_empty() {
                                ("disallowed", String::new())
                            } else {
                                (
                                    "match-failed",
                                    format!("; not matched: {}", notes.join("; ")),
                                )
                            };
                            return Err(RuleFailure {
                                kind,
                                reason: format!(
                                    "{name}: {} matched {} artifact(s) no earlier rule \
                                     consumed: {}{why}",
                                    ctx(),
                                    hit.len(),
                                    list(&hit)
                                ),
                            });
                        }
                    }
                    Generic::Require => {
                        // A literal file name, not a pattern, as in in-toto.
                        if !queue.contains(&rule.pattern) {
                            return Err(RuleFailure {
                                kind: "required-missing",
                                reason: format!(
                                    "{name}: {}: {:?} is not among the unconsumed {}",
                                    ctx(),
                                    rule.pattern,
                                    side.name()
                                ),
                            });
                        }
                        BTreeSet::new()
                    }
                }
            }
            RuleKind::Match {
                pattern,
                source_prefix,
                dest_side,
                dest_prefix,
                dest_name,
            } => {
                let dest = links.get(dest_name).map(|l| match dest_side {
                    Side::Materials => &l.materials,
                    Side::Products => &l.products,
                });
                let src = if source_prefix.is_empty() {
                    String::new()
                } else if source_prefix.ends_with('/') {
                    source_prefix.replace('\\', "/")
                } else {
                    format!("{source_prefix}/").replace('\\', "/")
                };
                let mut consumed = BTreeSet::new();
                for a in queue.iter().copied() {
                    let Some(rest) = a.strip_prefix(src.as_str()) else {
                        continue;
                    };
                    if !pattern.matches(rest) {
                        continue;
                    }
                    let Some(dest) = dest else {
                        unmatched.insert(a, format!("{dest_name} has no verified link"));
                        continue;
                    };
                    let dest_path = if dest_prefix.is_empty() {
                        rest.to_owned()
                    } else {
                        join(dest_prefix, rest)
                    };
                    match dest.get(&dest_path) {
                        Some(h) if Some(h) == artifacts.get(a) => {
                            consumed.insert(a);
                        }
                        Some(_) => {
                            unmatched.insert(
                                a,
                                format!(
                                    "hash differs from {dest_name}'s {} {dest_path:?}",
                                    dest_side.name()
                                ),
                            );
                        }
                        None => {
                            unmatched.insert(
                                a,
                                format!("{dest_name}'s {} have no {dest_path:?}", dest_side.name()),
                            );
                        }
                    }
                }
                consumed
            }
        };
        for c in &consumed {
            queue.remove(*c);
            unmatched.remove(*c);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        parse(s.split(' ').map(String::from).collect()).unwrap()
    }

    fn arts(v: &[(&str, &str)]) -> Artifacts {
        v.iter()
            .map(|(n, h)| {
                (
                    n.to_string(),
                    BTreeMap::from([("sha256".to_string(), h.to_string())]),
                )
            })
            .collect()
    }

    fn link(m: &[(&str, &str)], p: &[(&str, &str)]) -> Link {
        Link {
            name: "x".into(),
            materials: arts(m),
            products: arts(p),
            command: vec![],
        }
    }

    #[test]
    fn grammar() {
        for ok in [
            "CREATE x",
            "allow *",
            "MATCH * WITH PRODUCTS FROM a",
            "match * in p with materials in q from b",
            "MATCH * WITH PRODUCTS IN q FROM b",
            "MATCH * IN p WITH PRODUCTS FROM b",
        ] {
            rule(ok);
        }
        for bad in [
            "CREATE",
            "EAT x",
            "CREATE x y",
            "MATCH * WITH THINGS FROM a",
            "MATCH * FROM a",
            "MATCH * IN p WITH PRODUCTS IN q FROM",
        ] {
            assert!(
                parse(bad.split(' ').map(String::from).collect()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn create_modify_delete_and_disallow() {
        let l = link(
            &[("keep", "1"), ("mod", "1"), ("gone", "1")],
            &[("keep", "1"), ("mod", "2"), ("new", "1")],
        );
        let links = BTreeMap::from([("s".to_string(), &l)]);
        let prods = [
            rule("CREATE new"),
            rule("MODIFY mod"),
            rule("ALLOW keep"),
            rule("DISALLOW *"),
        ];
        assert_eq!(apply("s", Side::Products, &prods, &links), Ok(3));
        // CREATE does not consume an artifact that was already a material.
        let bad = [rule("CREATE *"), rule("DISALLOW *")];
        let e = apply("s", Side::Products, &bad, &links).unwrap_err();
        assert_eq!(e.kind, "disallowed");
        assert!(e.reason.contains("\"keep\"") && e.reason.contains("\"mod\""));
        assert!(!e.reason.contains("\"new\""), "{}", e.reason);
        let mats = [rule("DELETE gone"), rule("MODIFY *"), rule("DISALLOW *")];
        let e = apply("s", Side::Materials, &mats, &links).unwrap_err();
        assert!(e.reason.contains("\"keep\"") && !e.reason.contains("\"mod\""));
    }

    #[test]
    fn require_is_literal_and_sees_only_the_queue() {
        let l = link(&[], &[("a*", "1"), ("b", "1")]);
        let links = BTreeMap::from([("s".to_string(), &l)]);
        assert!(apply("s", Side::Products, &[rule("REQUIRE a*")], &links).is_ok());
        let e = apply("s", Side::Products, &[rule("REQUIRE a")], &links).unwrap_err();
        assert_eq!(e.kind, "required-missing");
        let e = apply(
            "s",
            Side::Products,
            &[rule("ALLOW b"), rule("REQUIRE b")],
            &links,
        )
        .unwrap_err();
        assert_eq!(e.kind, "required-missing");
    }

    #[test]
    fn match_with_prefixes_and_hashes() {
        let a = link(&[], &[("out/x", "1"), ("out/y", "2")]);
        let b = link(&[("in/x", "1"), ("in/y", "9"), ("other", "1")], &[]);
        let links = BTreeMap::from([("a".to_string(), &a), ("b".to_string(), &b)]);
        let ok = [
            rule("MATCH x IN in WITH PRODUCTS IN out FROM a"),
            rule("DISALLOW in/x"),
        ];
        assert!(apply("b", Side::Materials, &ok, &links).is_ok());
        let r = [
            rule("MATCH * IN in/ WITH PRODUCTS IN out FROM a"),
            rule("ALLOW other"),
            rule("DISALLOW *"),
        ];
        let e = apply("b", Side::Materials, &r, &links).unwrap_err();
        assert_eq!(e.kind, "match-failed");
        assert!(e.reason.contains("\"in/y\"") && e.reason.contains("hash differs"));
        assert!(!e.reason.contains("\"in/x\""), "{}", e.reason);
        // The prefix is not globbed: "i*" is no prefix of "in/x".
        let r = [
            rule("MATCH * IN i* WITH PRODUCTS FROM a"),
            rule("DISALLOW in/x"),
        ];
        assert_eq!(
            apply("b", Side::Materials, &r, &links).unwrap_err().kind,
            "disallowed"
        );
        // A destination without a link consumes nothing.
        let r = [
            rule("MATCH * WITH PRODUCTS FROM zz"),
            rule("DISALLOW other"),
        ];
        let e = apply("b", Side::Materials, &r, &links).unwrap_err();
        assert!(e.reason.contains("zz has no verified link"), "{}", e.reason);
    }

    #[test]
    fn joins_like_posix_os_path_join() {
        assert_eq!(join("p", "x"), "p/x");
        assert_eq!(join("p/", "x"), "p/x");
        assert_eq!(join("p", "/x"), "/x");
        assert_eq!(join("p\\q", "x"), "p/q/x");
    }
}
