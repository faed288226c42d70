//! Hostile text cannot drive the terminal or disguise itself: `verify verify-bundle`
//! escapes what a bundle says before printing it, and the human and Markdown reports
//! escape control, bidirectional and zero-width characters (a right-to-left override
//! would show "deifirev :ssap" as "pass: verified").

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;
use verify::report::{self, Finding, Format, KeyInfo, Report, Status, Subject, SubjectKind};

/// Erases the line, prints a green "Verified OK", sets the window title (ends in BEL),
/// then reverses what follows.
const EVIL: &str = "\u{1b}[2K\r\u{1b}[32mVerified OK: release.tar.gz\u{1b}[0m\u{1b}]0;owned\u{7}\
                    \u{202e}deifirev :ssap\u{202c}\u{2066}\u{200b}\u{feff}\u{2028}x\u{2029}\u{61c}";

/// Every character that must never reach the terminal or a rendered report raw.
const FORBIDDEN: &[char] = &[
    '\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{61c}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}',
    '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
    '\u{2068}', '\u{2069}', '\u{feff}', '\u{2028}', '\u{2029}',
];

fn assert_clean(what: &str, text: &str) {
    for c in FORBIDDEN {
        assert!(
            !text.contains(*c),
            "{what}: raw U+{:04X} in {text:?}",
            *c as u32
        );
    }
}

/// A trusted root with one transparency log (Rekor's public key): enough to get past
/// the input checks to the bundle.
fn trusted_root(dir: &Path) -> String {
    let root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.sigstore.dev",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==",
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": "2021-01-12T11:53:27Z"}
            },
            "logId": {"keyId": "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="}
        }],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": []
    });
    let path = dir.join("trusted_root.json");
    std::fs::write(&path, root.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// A v0.3 bundle whose log entry kind, digest algorithm or media type is `EVIL`.
fn bundle(kind: &str, algorithm: &str, media_type: &str) -> serde_json::Value {
    json!({
        "mediaType": media_type,
        "verificationMaterial": {
            "certificate": {"rawBytes": "AAAA"},
            "tlogEntries": [{
                "logIndex": "1",
                "logId": {"keyId": "AAAA"},
                "kindVersion": {"kind": kind, "version": "0.0.1"},
                "integratedTime": "1",
                "canonicalizedBody": "AAAA"
            }]
        },
        "messageSignature": {
            "messageDigest": {"algorithm": algorithm, "digest": "AAAA"},
            "signature": "AAAA"
        }
    })
}

fn verify_bundle(bundle: &str, root: &str, json_out: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verify"));
    cmd.arg("verify-bundle")
        .args(["--bundle", bundle, "--trusted-root", root])
        .args([
            "--certificate-identity",
            "x",
            "--certificate-oidc-issuer",
            "y",
        ]);
    if json_out {
        cmd.arg("--json");
    }
    cmd.arg(format!("sha256:{}", "0".repeat(64)))
        .env_remove("VERIFY_SIGSTORE_TRUSTED_ROOT")
        .output()
        .expect("run verify")
}

#[test]
fn verify_bundle_never_prints_bundle_text_raw() {
    let d = tempfile::tempdir().unwrap();
    let root = trusted_root(d.path());
    const V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let cases = [
        ("kind", bundle(EVIL, "SHA2_256", V03)),
        ("algorithm", bundle("hashedrekord", EVIL, V03)),
        ("media-type", bundle("hashedrekord", "SHA2_256", EVIL)),
    ];
    for (name, b) in cases {
        let path = d.path().join(format!("{name}.sigstore.json"));
        std::fs::write(&path, b.to_string()).unwrap();
        let out = verify_bundle(path.to_str().unwrap(), &root, false);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(
            stderr.starts_with("verify-bundle: NOT verified: "),
            "{name}: {stderr}"
        );
        // One line, whatever the bundle holds.
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr:?}");
        assert_clean(name, &stderr);
        // The hostile text is still there to see, escaped.
        assert!(
            stderr.contains("\\u{1b}[32mVerified OK"),
            "{name}: {stderr}"
        );

        // --json: one JSON object on stdout, the same error as a JSON string.
        let out = verify_bundle(path.to_str().unwrap(), &root, true);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{7}'));
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["verified"], false);
        assert!(v["error"].as_str().unwrap().contains("Verified OK"));
        assert_clean(name, &String::from_utf8(out.stderr).unwrap());
    }
}

#[test]
fn verify_bundle_input_errors_are_escaped_too() {
    // A bundle or trusted root named by a hostile download: the name is quoted in
    // the error (exit 2) and must not reach the terminal raw.
    let d = tempfile::tempdir().unwrap();
    let root = trusted_root(d.path());
    let missing = d.path().join(format!("{EVIL}.sigstore.json"));
    let out = verify_bundle(missing.to_str().unwrap(), &root, false);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("verify-bundle: error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert_clean("missing bundle", &stderr);

    let bad_root = d.path().join(format!("{EVIL}.json"));
    let out = verify_bundle("b.json", bad_root.to_str().unwrap(), false);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_clean("missing trusted root", &stderr);
}

fn hostile_report() -> Report {
    let subject = |kind, name: &str| Subject {
        kind,
        name: name.to_string(),
    };
    Report::new(
        format!("rootfs{EVIL}"),
        Some(format!("db{EVIL}")),
        Some(format!("policy{EVIL}.toml")),
        vec![KeyInfo {
            role: format!("rpm{EVIL}"),
            fingerprint: format!("AB{EVIL}"),
            user_id: format!("Test {EVIL} <t@example.invalid>"),
            algorithm: format!("RSA{EVIL}"),
            source: format!("key{EVIL}.asc"),
        }],
        1,
        vec![
            Finding::new(
                "attestation.signature",
                subject(SubjectKind::Attestation, &format!("r8{EVIL}.json")),
                Status::Fail,
                "unknown-key",
                format!("no trusted key for key id hint {EVIL}"),
            ),
            Finding::new(
                &format!("check{EVIL}"),
                subject(SubjectKind::Package, &format!("pkg{EVIL}-1-1.x86_64")),
                Status::Error,
                &format!("kind{EVIL}"),
                EVIL,
            ),
            Finding::new(
                "rpm.signature",
                subject(SubjectKind::File, &format!("/etc/{EVIL}")),
                Status::Pass,
                "verified",
                EVIL,
            ),
        ],
    )
}

#[test]
fn human_report_escapes_bidi_zero_width_and_control_characters() {
    let r = hostile_report();
    let plain = report::render(&r, Format::Human, false);
    assert_clean("human", &plain);
    assert!(
        plain.contains("no trusted key for key id hint \\u{1b}[2K\\u{d}"),
        "{plain}"
    );
    assert!(
        plain.contains("\\u{202e}deifirev :ssap\\u{202c}"),
        "{plain}"
    );
    assert!(plain.contains("NOT TRUSTED"));

    // With colour the only escape sequences are ours: SGR colours and resets.
    let coloured = report::render(&r, Format::Human, true);
    let mut ours = coloured.clone();
    for code in ["[31m", "[32m", "[33m", "[1m", "[0m"] {
        ours = ours.replace(&format!("\u{1b}{code}"), "");
    }
    assert_clean("human, coloured (our colours removed)", &ours);
}

#[test]
fn markdown_report_escapes_bidi_zero_width_and_control_characters() {
    let md = report::render(&hostile_report(), Format::Markdown, false);
    assert_clean("markdown", &md);
    // The escape is visible in the rendered document: `\\u{202e}` renders as `\u{202e}`.
    assert!(md.contains("\\\\u{202e}deifirev :ssap\\\\u{202c}"), "{md}");
    // No hostile line break ends a table row early: every table line has its columns.
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let cells = line
            .match_indices('|')
            .filter(|(i, _)| *i == 0 || &line[i - 1..*i] != "\\")
            .count();
        assert!(cells >= 3, "{line}");
    }
}

#[test]
fn json_report_keeps_text_exact_and_valid() {
    let r = hostile_report();
    let text = report::render(&r, Format::Json, false);
    // Control characters are JSON escapes; the document parses back to the same text.
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["image"], format!("rootfs{EVIL}"));
    let reasons: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&EVIL));
    assert_eq!(text, serde_json::to_string_pretty(&r).unwrap() + "\n");
}

#[test]
fn junit_report_stays_well_formed() {
    let xml = report::render(&hostile_report(), Format::Junit, false);
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{7}'));
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            _ => continue,
        }
    }
}
