//! RPM `License:` strings to SPDX.
//!
//! Invariant: a string is emitted as an SPDX expression only when it already *is* a valid
//! one (every identifier on the SPDX license list, operators as SPDX spells them). The
//! SPDX spec matches identifiers case-insensitively, so `zlib` is emitted as `Zlib`: that
//! is the same identifier, spelled canonically, not a mapping. Legacy
//! Fedora/Mariner short names such as `GPLv2+` or `BSD` are never "mapped": a guessed
//! mapping is a false statement in a legal document. They become a `LicenseRef-` whose
//! extracted text is the original string, so nothing is lost and nothing is invented.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// A valid SPDX license expression, as the package wrote it.
    Spdx(String),
    /// Not an SPDX expression: `id` is a `LicenseRef-...`, `text` the original string.
    Other { id: String, text: String },
    /// Empty License tag.
    None,
}

impl License {
    /// The value for an SPDX `licenseDeclared` / CycloneDX `expression` field.
    pub fn spdx_value(&self) -> &str {
        match self {
            Self::Spdx(e) => e,
            Self::Other { id, .. } => id,
            Self::None => "NOASSERTION",
        }
    }
}

/// Classifies an RPM license string.
pub fn classify(text: &str) -> License {
    let t = text.trim();
    if t.is_empty() {
        return License::None;
    }
    if is_spdx_expression(t) {
        return License::Spdx(t.to_owned());
    }
    if let Some(canon) = canonical_case(t).filter(|c| is_spdx_expression(c)) {
        return License::Spdx(canon);
    }
    License::Other {
        id: license_ref(t),
        text: text.to_owned(),
    }
}

/// True when `t` parses as a strict SPDX expression. Deprecated list identifiers
/// (`GPL-2.0+`) are accepted: they are on the SPDX list and validators accept them.
pub fn is_spdx_expression(t: &str) -> bool {
    // The spdx crate accepts `and`/`or` even in strict mode; the SPDX spec matches
    // operators case-sensitively, and Fedora's legacy syntax uses lower-case ones.
    let lower_operator = t
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .any(|w| {
            ["AND", "OR", "WITH"]
                .iter()
                .any(|op| w.eq_ignore_ascii_case(op) && w != *op)
        });
    if lower_operator {
        return false;
    }
    let mode = spdx::ParseMode {
        allow_deprecated: true,
        ..spdx::ParseMode::STRICT
    };
    match spdx::Expression::parse_mode(t, mode) {
        // `LicenseRef-` inside an RPM string refers to nothing this document defines.
        Ok(expr) => expr.requirements().all(|r| {
            matches!(r.req.license, spdx::LicenseItem::Spdx { .. })
                && r.req
                    .addition
                    .as_ref()
                    .is_none_or(|a| matches!(a, spdx::AdditionItem::Spdx(_)))
        }),
        Err(_) => false,
    }
}

/// Rewrites each identifier to the SPDX list's spelling when it matches one ignoring ASCII
/// case; operators (`AND`, `OR`, `WITH`, which the spec matches case-sensitively) and
/// anything not on the list are left as they are, so the strict parse still decides.
fn canonical_case(t: &str) -> Option<String> {
    let mut out = String::with_capacity(t.len());
    let mut changed = false;
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String, changed: &mut bool| {
        if token.is_empty() {
            return;
        }
        let (base, plus) = match token.strip_suffix('+') {
            Some(b) => (b, "+"),
            None => (token.as_str(), ""),
        };
        let canon = spdx::identifiers::LICENSES
            .iter()
            .map(|l| l.name)
            .chain(spdx::identifiers::EXCEPTIONS.iter().map(|e| e.name))
            .find(|name| name.eq_ignore_ascii_case(base));
        match canon {
            Some(name) if !matches!(base, "AND" | "OR" | "WITH") => {
                *changed |= name != base;
                out.push_str(name);
                out.push_str(plus);
            }
            _ => out.push_str(token),
        }
        token.clear();
    };
    for c in t.chars() {
        if c.is_whitespace() || c == '(' || c == ')' {
            flush(&mut token, &mut out, &mut changed);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out, &mut changed);
    changed.then_some(out)
}

/// A stable `LicenseRef-` id for a non-SPDX string: readable, and unique because any
/// character the id grammar (`[A-Za-z0-9.-]`) cannot hold adds 16 hex digits (64 bits) of
/// the original's SHA-256. 32 bits were not enough: a birthday search finds two strings
/// sharing them in about 2^16 tries. A document still never trusts the suffix alone:
/// `format::common` gives a colliding id with a different text a `-2` suffix.
pub fn license_ref(text: &str) -> String {
    let mut id = String::from("LicenseRef-");
    let mut changed = false;
    let mut last_dash = false;
    for c in text.trim().chars() {
        let piece: &str = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' => {
                id.push(c);
                last_dash = false;
                continue;
            }
            '+' => "-plus",
            _ => "-",
        };
        changed = true;
        for p in piece.chars() {
            if p == '-' && last_dash {
                continue;
            }
            id.push(p);
            last_dash = p == '-';
        }
    }
    while id.ends_with('-') {
        id.pop();
    }
    if changed {
        let d = Sha256::digest(text.trim().as_bytes());
        id.push('-');
        id.push_str(&hex::encode(&d[..8]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_expressions_pass_through_unchanged() {
        assert_eq!(classify("MIT"), License::Spdx("MIT".into()));
        assert_eq!(
            classify("MIT AND (Apache-2.0 OR BSD-3-Clause)"),
            License::Spdx("MIT AND (Apache-2.0 OR BSD-3-Clause)".into())
        );
        assert_eq!(
            classify("GPL-2.0-or-later WITH Classpath-exception-2.0"),
            License::Spdx("GPL-2.0-or-later WITH Classpath-exception-2.0".into())
        );
    }

    #[test]
    fn legacy_names_are_never_mapped() {
        for legacy in [
            "GPLv2+",
            "BSD",
            "Public Domain",
            "LGPLv2+ and MIT",
            "ASL 2.0",
            "mit and bsd",
            "MIT or zlib",
        ] {
            match classify(legacy) {
                License::Other { id, text } => {
                    assert!(id.starts_with("LicenseRef-"), "{id}");
                    assert!(
                        id[11..]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                        "{id}"
                    );
                    assert_eq!(text, legacy);
                }
                other => panic!("{legacy} must not be an SPDX expression, got {other:?}"),
            }
        }
    }

    #[test]
    fn identifiers_match_case_insensitively_operators_do_not() {
        assert_eq!(classify("zlib"), License::Spdx("Zlib".into()));
        assert_eq!(classify("mit"), License::Spdx("MIT".into()));
        assert_eq!(
            classify("gpl-2.0-or-later OR mit"),
            License::Spdx("GPL-2.0-or-later OR MIT".into())
        );
        assert_eq!(
            classify("(MIT OR apache-2.0)"),
            License::Spdx("(MIT OR Apache-2.0)".into())
        );
        assert!(
            matches!(classify("MIT or Zlib"), License::Other { .. }),
            "lower-case operator"
        );
    }

    #[test]
    fn refs_are_distinct_for_distinct_strings() {
        assert_ne!(license_ref("GPLv2+"), license_ref("GPLv2-"));
        assert_ne!(license_ref("A B"), license_ref("A-B"));
        assert_eq!(license_ref("BSD"), "LicenseRef-BSD");
        // These two share the first 32 bits of their SHA-256 (33c32061...): with an 8-hex
        // suffix both were `LicenseRef-GPLv2-33c32061`.
        let (a, b) = ("GPLv2${]`:,}<#~", "GPLv2`<%|<;|~[@");
        assert_eq!(license_ref(a), "LicenseRef-GPLv2-33c32061599006d8");
        assert_eq!(license_ref(b), "LicenseRef-GPLv2-33c32061c1c439bf");
    }

    #[test]
    fn empty_is_noassertion() {
        assert_eq!(classify("  ").spdx_value(), "NOASSERTION");
    }
}
