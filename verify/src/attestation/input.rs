//! Attestation files, recognised by content (never by extension): a single DSSE
//! envelope, a Sigstore bundle (v0.1 to v0.3, through [`crate::sigstore::SigstoreBundle`]
//! and its fail-closed checks), or JSON Lines with one envelope or bundle per line
//! (`.intoto.jsonl`).
//!
//! Parsing only: nothing here is trusted yet. A plain envelope is read strictly (the
//! DSSE envelope has exactly three fields; a fourth is refused rather than ignored, since
//! a verifier that ignores a field cannot know what it meant); base64 is standard or
//! URL-safe, padded or not, as the DSSE specification requires of verifiers.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;
use sigstore_types::bundle::VerificationMaterialContent;
use sigstore_types::SignatureContent;

use crate::sigstore::{SigstoreBundle, SigstoreError};

/// One signature of an envelope.
pub(crate) struct Sig {
    /// Unauthenticated hint; empty when absent.
    pub(crate) keyid: String,
    pub(crate) sig: Vec<u8>,
}

/// How the signer is identified besides the envelope itself.
pub(crate) enum Material {
    /// A bare DSSE envelope: only pinned keys can verify it.
    Plain,
    /// A bundle naming a public key by hint.
    BundleKey(Box<SigstoreBundle>),
    /// A bundle with a certificate: DER, leaf first.
    BundleCert {
        bundle: Box<SigstoreBundle>,
        chain: Vec<Vec<u8>>,
    },
}

impl Material {
    /// The bundle, when there is one.
    pub(crate) fn bundle(&self) -> Option<&SigstoreBundle> {
        match self {
            Material::Plain => None,
            Material::BundleKey(b) | Material::BundleCert { bundle: b, .. } => Some(b),
        }
    }

    /// Whether the bundle carries transparency log entries or signed timestamps.
    pub(crate) fn has_log_or_time(&self) -> bool {
        self.bundle()
            .is_some_and(|b| b.tlog_entry_count() > 0 || b.timestamp_count() > 0)
    }
}

/// A parsed, unverified attestation.
pub(crate) struct Parsed {
    pub(crate) payload_type: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) signatures: Vec<Sig>,
    pub(crate) material: Material,
}

/// Why an input is not an attestation: a reason code and a sentence.
pub(crate) struct Problem {
    pub(crate) kind: &'static str,
    pub(crate) reason: String,
}

fn problem(kind: &'static str, reason: impl Into<String>) -> Problem {
    Problem {
        kind,
        reason: reason.into(),
    }
}

/// The units of one file.
pub(crate) enum Layout<'a> {
    /// One JSON document (envelope or bundle).
    Single(&'a [u8]),
    /// JSON Lines: (1-based line number, line bytes), empty lines left out.
    Lines(Vec<(usize, &'a [u8])>),
    /// Neither.
    Garbage(Problem),
}

/// Splits a file into its attestation units, by content.
pub(crate) fn layout(bytes: &[u8]) -> Layout<'_> {
    let whole = match serde_json::from_slice::<IgnoredAny>(bytes) {
        Ok(_) => return Layout::Single(bytes),
        Err(e) => e,
    };
    // JSON Lines: some line is a complete JSON object by itself (normally the first, so
    // the search stops there). Then every non-empty line is a unit, and a bad one is a
    // finding for that line. A broken pretty-printed document has no such line, so its
    // error stands for the whole file.
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    if lines.is_empty() {
        return Layout::Garbage(problem("malformed-envelope", "empty file"));
    }
    if !lines.iter().any(|(_, l)| is_object(l)) {
        return Layout::Garbage(problem(
            "malformed-envelope",
            format!("not JSON and not JSON Lines: {whole}"),
        ));
    }
    Layout::Lines(lines)
}

/// Whether `bytes` is one complete JSON object (its contents skipped, not stored).
fn is_object(bytes: &[u8]) -> bool {
    struct Obj;
    impl<'de> Deserialize<'de> for Obj {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Obj;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Obj, A::Error> {
                    while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Obj)
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Obj>(bytes).is_ok()
}

/// Parses one unit (a whole file or one line).
///
/// A plain envelope is read straight from the bytes (one pass, and duplicate fields are
/// refused, which a detour through a JSON value would hide); only what is not an
/// envelope is looked at again to tell a bundle from garbage.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, Problem> {
    let envelope_error = match serde_json::from_slice::<WireEnvelope>(bytes) {
        Ok(w) => return envelope(w),
        Err(e) => e,
    };
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| problem("malformed-envelope", format!("not JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(problem(
            "malformed-envelope",
            "not a JSON object: neither a DSSE envelope nor a Sigstore bundle",
        ));
    };
    if map.contains_key("mediaType") {
        return parse_bundle(bytes);
    }
    if ["payload", "payloadType", "signatures"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        return Err(problem(
            "malformed-envelope",
            format!("DSSE envelope: {envelope_error}"),
        ));
    }
    Err(problem(
        "malformed-envelope",
        "neither a DSSE envelope (payload, payloadType, signatures) nor a Sigstore bundle \
         (mediaType)",
    ))
}

// Strings are borrowed from the input where they have no escapes (base64 never does):
// the payload is decoded straight from the line, not copied first.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSig<'a> {
    #[serde(default, borrow)]
    keyid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope<'a> {
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(rename = "payloadType")]
    payload_type: String,
    #[serde(borrow)]
    signatures: Vec<WireSig<'a>>,
}

fn envelope(w: WireEnvelope<'_>) -> Result<Parsed, Problem> {
    let bad = |reason: String| problem("malformed-envelope", format!("DSSE envelope: {reason}"));
    let payload = attest::dsse::b64_decode_lenient(&w.payload)
        .ok_or_else(|| bad("payload is not base64".into()))?;
    if w.signatures.is_empty() {
        return Err(bad("no signatures".into()));
    }
    let signatures = w
        .signatures
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let sig = attest::dsse::b64_decode_lenient(&s.sig)
                .ok_or_else(|| bad(format!("signatures[{i}].sig is not base64")))?;
            Ok(Sig {
                keyid: s.keyid.map(Cow::into_owned).unwrap_or_default(),
                sig,
            })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    Ok(Parsed {
        payload_type: w.payload_type,
        payload,
        signatures,
        material: Material::Plain,
    })
}

fn parse_bundle(bytes: &[u8]) -> Result<Parsed, Problem> {
    let bundle = SigstoreBundle::from_json(bytes).map_err(|e| match e {
        SigstoreError::UnsupportedBundle(_) => problem("unsupported-bundle", e.to_string()),
        _ => problem("malformed-envelope", format!("Sigstore bundle: {e}")),
    })?;
    let inner = bundle.as_sigstore_types();
    let SignatureContent::DsseEnvelope(env) = &inner.content else {
        return Err(problem(
            "not-an-attestation",
            "a Sigstore bundle with a message signature signs a blob, not an in-toto \
             statement; it is not an attestation",
        ));
    };
    let signatures = vec![Sig {
        keyid: env.signature.keyid.to_string(),
        sig: env.signature.sig.as_bytes().to_vec(),
    }];
    let (payload_type, payload) = (env.payload_type.clone(), env.payload.as_bytes().to_vec());
    let chain: Option<Vec<Vec<u8>>> = match &inner.verification_material.content {
        VerificationMaterialContent::PublicKey(_) => None,
        VerificationMaterialContent::Certificate(c) => Some(vec![c.raw_bytes.as_bytes().to_vec()]),
        VerificationMaterialContent::X509CertificateChain { certificates } => Some(
            certificates
                .iter()
                .map(|c| c.raw_bytes.as_bytes().to_vec())
                .collect(),
        ),
        _ => {
            return Err(problem(
                "unsupported-bundle",
                "unknown kind of verification material",
            ))
        }
    };
    let bundle = Box::new(bundle);
    Ok(Parsed {
        payload_type,
        payload,
        signatures,
        material: match chain {
            None => Material::BundleKey(bundle),
            Some(chain) => Material::BundleCert { bundle, chain },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_by_content() {
        assert!(matches!(layout(b"{\"a\":1}"), Layout::Single(_)));
        assert!(matches!(layout(b"{\n  \"a\": 1\n}\n"), Layout::Single(_)));
        match layout(b"{\"a\":1}\n\n{\"b\":2}\r\n") {
            Layout::Lines(l) => assert_eq!(l.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 3]),
            _ => panic!("lines"),
        }
        // A bad line, even the first, is the line's problem, not the file's.
        assert!(matches!(layout(b"{\"a\":1}\nxx\n"), Layout::Lines(_)));
        assert!(matches!(layout(b"xx\n{\"a\":1}\n"), Layout::Lines(l) if l.len() == 2));
        // A broken pretty-printed document (its lines are no objects) is one problem.
        let pretty = b"{\n  \"hashes\": [\n    \"a\",\n    \"b\"\n  ],\n";
        for garbage in [&b""[..], b"\n\n", b"xx\n[1]", b"{\n", b"\x00\xff", pretty] {
            assert!(matches!(layout(garbage), Layout::Garbage(_)), "{garbage:?}");
        }
    }

    #[test]
    fn envelopes_are_strict() {
        let ok = br#"{"payload":"e30","payloadType":"t","signatures":[{"sig":"AA=="}]}"#;
        let p = parse(ok).ok().unwrap();
        assert_eq!(p.payload, b"{}");
        assert_eq!(p.signatures[0].sig, [0]);
        for bad in [
            &br#"{"payload":"e30","payloadType":"t","signatures":[]}"#[..],
            br#"{"payload":"e30","payloadType":"t","signatures":[{"sig":"AA=="}],"x":1}"#,
            br#"{"payload":"e30","payloadType":"t","signatures":[{"sig":"AA==","y":1}]}"#,
            br#"{"payload":"%%","payloadType":"t","signatures":[{"sig":"AA=="}]}"#,
            br#"{"payload":"e30","payload":"e30","payloadType":"t","signatures":[{"sig":"AA=="}]}"#,
            br#"{"payloadType":"t","signatures":[{"sig":"AA=="}]}"#,
            br#"[1]"#,
            br#"{"other":1}"#,
        ] {
            let e = parse(bad).err().expect("refused");
            assert_eq!(
                e.kind,
                "malformed-envelope",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
