//! One findings model for every check, and its renderings: a human summary
//! ([`human`]), JSON with a stable schema ([`json`], documented in `docs/verify.md`),
//! Markdown for auditors' evidence ([`markdown`]) and JUnit XML for CI ([`junit`]).
//!
//! Invariants: findings are sorted (check, subject, kind, reason) before any rendering,
//! so the same image and policy give the same bytes; no rendering contains a
//! timestamp or anything else that varies between runs; text that came from the
//! image (package names, reasons quoting header values) is escaped for each output
//! (terminal control characters, XML, Markdown table syntax), because it is hostile.

pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;

use serde::Serialize;

/// The JSON schema version; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Outcome of one check on one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked, and fine.
    Pass,
    /// Checked, and not acceptable.
    Fail,
    /// Could not be checked (unreadable or unparsable input); counts as not trusted.
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    /// The image as a whole (its database, its configuration).
    Image,
    /// An installed package, named by NEVRA.
    Package,
    /// A file path inside the image.
    File,
    /// An attestation (file name or digest).
    Attestation,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Subject {
    pub kind: SubjectKind,
    pub name: String,
}

/// One finding: which check, about what, with which outcome and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable check id, e.g. `rpm.signature`.
    pub check: String,
    pub subject: Subject,
    pub status: Status,
    /// Stable machine-readable reason code (`verified`, `bad-signature`, ...).
    pub kind: String,
    /// Human-readable explanation.
    pub reason: String,
}

impl Finding {
    pub fn new(
        check: &str,
        subject: Subject,
        status: Status,
        kind: &str,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            check: check.to_string(),
            subject,
            status,
            kind: kind.to_string(),
            reason: reason.into(),
        }
    }
}

/// A key the verification trusted, for the record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub role: String,
    pub fingerprint: String,
    pub user_id: String,
    pub algorithm: String,
    pub source: String,
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
}

/// The full result of verifying one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema_version: u32,
    /// `verify x.y.z`.
    pub tool: String,
    /// The image root as given on the command line.
    pub image: String,
    /// The RPM database read, relative to the image root, when one was found.
    pub rpmdb: Option<String>,
    /// The policy file, when one was given.
    pub policy: Option<String>,
    pub trusted_keys: Vec<KeyInfo>,
    /// Packages whose headers were checked (gpg-pubkey headers excluded).
    pub packages: usize,
    pub trusted: bool,
    pub counts: Counts,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Builds a report, sorting findings and computing the verdict.
    pub fn new(
        image: String,
        rpmdb: Option<String>,
        policy: Option<String>,
        mut keys: Vec<KeyInfo>,
        packages: usize,
        mut findings: Vec<Finding>,
    ) -> Self {
        findings.sort_by(|a, b| {
            (&a.check, &a.subject, &a.kind, &a.reason, a.status)
                .cmp(&(&b.check, &b.subject, &b.kind, &b.reason, b.status))
        });
        keys.sort();
        let mut counts = Counts::default();
        for f in &findings {
            match f.status {
                Status::Pass => counts.pass += 1,
                Status::Fail => counts.fail += 1,
                Status::Error => counts.error += 1,
            }
        }
        // Nothing checked is not "trusted": an empty report fails closed.
        let trusted = counts.fail == 0 && counts.error == 0 && counts.pass > 0;
        Self {
            schema_version: SCHEMA_VERSION,
            tool: format!("verify {}", env!("CARGO_PKG_VERSION")),
            image,
            rpmdb,
            policy,
            trusted_keys: keys,
            packages,
            trusted,
            counts,
            findings,
        }
    }

    /// Findings that are not passes, in report order.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status != Status::Pass)
    }

    /// Per check: (check, pass, fail, error), sorted by check.
    pub fn per_check(&self) -> Vec<(String, Counts)> {
        let mut out: Vec<(String, Counts)> = Vec::new();
        for f in &self.findings {
            if out.last().is_none_or(|(c, _)| *c != f.check) {
                out.push((f.check.clone(), Counts::default()));
            }
            let c = &mut out.last_mut().expect("pushed above").1;
            match f.status {
                Status::Pass => c.pass += 1,
                Status::Fail => c.fail += 1,
                Status::Error => c.error += 1,
            }
        }
        out
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
    Junit,
}

/// Renders a report. `color` only affects the human format.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
        Format::Markdown => markdown::render(report),
        Format::Junit => junit::render(report),
    }
}

/// Whether `c` must not reach a terminal or a rendered document raw: control
/// characters (C0, DEL, C1: terminal escapes, NULs, newlines) and the invisible
/// characters that change how the text around them is displayed: bidirectional
/// marks, embeddings, overrides and isolates (a right-to-left override shows
/// "deifirev :ssap" as "pass: verified"), zero-width and joiner characters, line
/// and paragraph separators, the byte-order mark, interlinear annotations and the
/// tag characters (invisible ASCII look-alikes).
pub fn is_hostile_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'            // ARABIC LETTER MARK
                | '\u{180e}'      // MONGOLIAN VOWEL SEPARATOR
                | '\u{200b}'..='\u{200f}' // ZWSP, ZWNJ, ZWJ, LRM, RLM
                | '\u{2028}'..='\u{202e}' // LINE/PARAGRAPH SEPARATOR, LRE, RLE, PDF, LRO, RLO
                | '\u{2060}'..='\u{2064}' // WORD JOINER, invisible operators
                | '\u{2066}'..='\u{206f}' // LRI, RLI, FSI, PDI, deprecated format characters
                | '\u{feff}'      // ZERO WIDTH NO-BREAK SPACE (BOM)
                | '\u{fff9}'..='\u{fffb}' // interlinear annotation
                | '\u{e0000}'..='\u{e007f}' // tags
        )
}

/// Replaces control characters (terminal escapes, NULs, newlines) and the
/// invisible characters of [`is_hostile_char`] (bidi overrides, zero-width
/// characters) with visible `\u{..}` escapes: image- or bundle-controlled text
/// must not drive the terminal, nor display as something it is not.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_hostile_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Report {
        let pkg = |n: &str| Subject {
            kind: SubjectKind::Package,
            name: n.to_string(),
        };
        Report::new(
            "rootfs".into(),
            Some("usr/lib/sysimage/rpm/rpmdb.sqlite".into()),
            None,
            vec![KeyInfo {
                role: "rpm".into(),
                fingerprint: "AB".repeat(20),
                user_id: "Test <t@example.invalid>".into(),
                algorithm: "RSA".into(),
                source: "key.asc".into(),
            }],
            2,
            vec![
                Finding::new(
                    "rpm.signature",
                    pkg("zlib-1.0-1.x86_64"),
                    Status::Pass,
                    "verified",
                    "RSA/SHA256 by ABAB",
                ),
                Finding::new(
                    "rpm.signature",
                    pkg("evil\u{1b}[2J<&>|`-1-1.x86_64"),
                    Status::Fail,
                    "bad-signature",
                    "does \"not\" verify\nsecond line",
                ),
                Finding::new(
                    "rpm.header-digest",
                    pkg("zlib-1.0-1.x86_64"),
                    Status::Error,
                    "malformed-header",
                    "bad",
                ),
            ],
        )
    }

    #[test]
    fn sorted_and_counted() {
        let r = sample();
        assert_eq!(r.findings[0].check, "rpm.header-digest");
        assert_eq!(r.findings[1].subject.name, "evil\u{1b}[2J<&>|`-1-1.x86_64");
        assert_eq!(
            r.counts,
            Counts {
                pass: 1,
                fail: 1,
                error: 1
            }
        );
        assert!(!r.trusted);
        let empty = Report::new("x".into(), None, None, vec![], 0, vec![]);
        assert!(!empty.trusted, "nothing checked is not trusted");
    }

    #[test]
    fn sanitize_escapes_control_characters() {
        assert_eq!(sanitize("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\u{a}");
        assert_eq!(sanitize("\u{9b}31m\u{7f}"), "\\u{9b}31m\\u{7f}");
    }

    #[test]
    fn sanitize_escapes_bidi_and_invisible_characters() {
        assert_eq!(
            sanitize("\u{202e}deifirev :ssap\u{202c}"),
            "\\u{202e}deifirev :ssap\\u{202c}"
        );
        for c in [
            '\u{061c}',
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{200e}',
            '\u{200f}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{feff}',
            '\u{2028}',
            '\u{2029}',
            '\u{2060}',
            '\u{e0041}',
        ] {
            let s = sanitize(&format!("a{c}b"));
            assert_eq!(s, format!("a\\u{{{:x}}}b", c as u32), "U+{:04X}", c as u32);
        }
        // Ordinary non-ASCII text is left alone.
        for ok in [
            "caf\u{e9}",
            "\u{5d0}\u{5d1}",
            "\u{65e5}\u{672c}",
            "\u{fffd}",
            "a\u{a0}b",
        ] {
            assert_eq!(sanitize(ok), ok);
        }
    }
}
