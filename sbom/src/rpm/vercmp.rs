//! rpm's version ordering (`rpmvercmp`) and dependency range matching (`rpmdsCompare`).
//!
//! Hand-written: the only crate with these (`rpm`) is a whole package reader/writer; this is
//! ~100 lines and is checked against rpm's own test cases below.

use std::cmp::Ordering;

use crate::package::sense;

/// Compares two version (or release) strings exactly as `rpmvercmp` does: alternating
/// runs of digits and letters, separators ignored, `~` sorts before everything (even the
/// end), `^` after the end but before anything else, digits beat letters.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let is_sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while !a.is_empty() && is_sep(a[0]) {
            a = &a[1..];
        }
        while !b.is_empty() && is_sep(b[0]) {
            b = &b[1..];
        }
        // Tilde: pre-release, sorts before anything, including the end of the string.
        match (a.first() == Some(&b'~'), b.first() == Some(&b'~')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Caret: post-release, sorts after the end but before any other segment.
        match (a.first() == Some(&b'^'), b.first() == Some(&b'^')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => {
                return if b.is_empty() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, true) => {
                return if a.is_empty() {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            _ => {}
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (la, lb) = (run(a), run(b));
        let (sa, sb) = (&a[..la], &b[..lb]);
        // A numeric segment against an alphabetic one: numeric is newer.
        if lb == 0 {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let ta = trim_zeros(sa);
            let tb = trim_zeros(sb);
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[la..];
        b = &b[lb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// An `[epoch:]version[-release]` split as rpm's `rpmdsParseEVR` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evr<'a> {
    pub epoch: Option<&'a str>,
    pub version: &'a str,
    pub release: Option<&'a str>,
}

impl<'a> Evr<'a> {
    pub fn parse(s: &'a str) -> Self {
        let (epoch, rest) = match s.find(|c: char| !c.is_ascii_digit()) {
            Some(i) if s.as_bytes()[i] == b':' => (Some(&s[..i]), &s[i + 1..]),
            _ => (None, s),
        };
        let (version, release) = match rest.rfind('-') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        Evr {
            epoch,
            version,
            release,
        }
    }

    /// rpm's `rpmEVRcmp` as used for dependency matching: missing epoch is 0, and a
    /// release is compared only when both sides have one.
    pub fn compare(&self, other: &Evr) -> Ordering {
        let ea = self.epoch.filter(|e| !e.is_empty()).unwrap_or("0");
        let eb = other.epoch.filter(|e| !e.is_empty()).unwrap_or("0");
        rpmvercmp(ea, eb)
            .then_with(|| rpmvercmp(self.version, other.version))
            .then_with(|| match (self.release, other.release) {
                (Some(ra), Some(rb)) if !ra.is_empty() && !rb.is_empty() => rpmvercmp(ra, rb),
                _ => Ordering::Equal,
            })
    }
}

/// Whether two dependency ranges overlap (`rpmdsCompare`): a provide `(pf, pv)` satisfies
/// a requirement `(rf, rv)` when some EVR lies in both ranges. Unversioned sides match all.
pub fn ranges_overlap(pf: u32, pv: &str, rf: u32, rv: &str) -> bool {
    let (ps, rs) = (pf & sense::SENSEMASK, rf & sense::SENSEMASK);
    if ps == 0 || rs == 0 || pv.is_empty() || rv.is_empty() {
        return true;
    }
    let ord = Evr::parse(pv).compare(&Evr::parse(rv));
    let has = |f: u32, bit: u32| f & bit != 0;
    match ord {
        Ordering::Less => has(ps, sense::GREATER) || has(rs, sense::LESS),
        Ordering::Greater => has(ps, sense::LESS) || has(rs, sense::GREATER),
        Ordering::Equal => {
            (has(ps, sense::EQUAL) && has(rs, sense::EQUAL))
                || (has(ps, sense::LESS) && has(rs, sense::LESS))
                || (has(ps, sense::GREATER) && has(rs, sense::GREATER))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Cases from rpm's tests/rpmvercmp.at.
    #[test]
    fn rpm_test_suite_cases() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("8", "xyz.4", Greater),
            ("5.5p1", "5.5.p1", Equal),
            ("10b2", "10a1", Greater),
            ("1b.fc17", "1.fc17", Less),
            ("1.0aa", "1.0a", Greater),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a_", Equal),
            ("+", "_", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
            ("000001", "1", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn evr_parsing_and_ranges() {
        assert_eq!(
            Evr::parse("2:1.0-3.fc40"),
            Evr {
                epoch: Some("2"),
                version: "1.0",
                release: Some("3.fc40")
            }
        );
        let eq = sense::EQUAL;
        let ge = sense::GREATER | sense::EQUAL;
        let lt = sense::LESS;
        assert!(ranges_overlap(eq, "1.2-3", ge, "1.0"));
        assert!(!ranges_overlap(eq, "0.9-1", ge, "1.0"));
        assert!(
            ranges_overlap(eq, "1.0-5", eq, "1.0"),
            "release ignored when one side lacks it"
        );
        assert!(
            !ranges_overlap(eq, "1:0.5-1", lt, "1.0"),
            "epoch 1 beats missing epoch"
        );
        assert!(
            ranges_overlap(0, "", ge, "99"),
            "unversioned provide matches anything"
        );
    }
}
