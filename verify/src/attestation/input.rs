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
use std::cell::OnceCell;

use aws_lc_rs::digest::{self, Digest};

use serde::de::IgnoredAny;
use serde::Deserialize;
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
    /// The PAE and its SHA-256, made when first needed and then reused by every
    /// signature check of this envelope (for both roles).
    pae: OnceCell<Vec<u8>>,
    pae_sha256: OnceCell<Digest>,
}

impl Parsed {
    pub(crate) fn new(
        payload_type: String,
        payload: Vec<u8>,
        signatures: Vec<Sig>,
        material: Material,
    ) -> Self {
        Self {
            payload_type,
            payload,
            signatures,
            material,
            pae: OnceCell::new(),
            pae_sha256: OnceCell::new(),
        }
    }

    /// The bytes the signatures are over (DSSE's PAE); only Ed25519 and certificate keys
    /// need them whole.
    pub(crate) fn pae(&self) -> &[u8] {
        self.pae
            .get_or_init(|| attest::dsse::pae(&self.payload_type, &self.payload))
    }

    /// SHA-256 of the PAE, hashed once from its parts (without building it).
    pub(crate) fn pae_sha256(&self) -> &Digest {
        self.pae_sha256.get_or_init(|| {
            let mut ctx = digest::Context::new(&digest::SHA256);
            ctx.update(b"DSSEv1 ");
            ctx.update(self.payload_type.len().to_string().as_bytes());
            ctx.update(b" ");
            ctx.update(self.payload_type.as_bytes());
            ctx.update(b" ");
            ctx.update(self.payload.len().to_string().as_bytes());
            ctx.update(b" ");
            ctx.update(&self.payload);
            ctx.finish()
        })
    }
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

/// Most non-empty lines one JSON Lines file may have: every line is a unit of work and
/// at least one finding (a per-package `.intoto.jsonl` has one line per package).
pub const MAX_LINES: usize = 1_000_000;

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
    let mut lines: Vec<(usize, &[u8])> = Vec::new();
    for (i, l) in bytes.split(|&b| b == b'\n').enumerate() {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        if l.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if lines.len() == MAX_LINES {
            return Layout::Garbage(problem(
                "too-large",
                format!(
                    "more than {MAX_LINES} non-empty lines (line {} is one too many); not \
                     checked",
                    i + 1
                ),
            ));
        }
        lines.push((i + 1, l));
    }
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

/// The top-level keys of a JSON object that tell an envelope from a bundle.
#[derive(Default)]
struct TopKeys {
    media_type: bool,
    envelope_field: bool,
}

/// What a JSON document is at its top level, read without keeping anything of it (a
/// `serde_json::Value` of hostile JSON can take 40 times the input's size).
enum Top {
    Object(TopKeys),
    Other,
}

impl<'de> Deserialize<'de> for Top {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Top;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Top, A::Error> {
                let mut keys = TopKeys::default();
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    match &*k {
                        "mediaType" => keys.media_type = true,
                        "payload" | "payloadType" | "signatures" => keys.envelope_field = true,
                        _ => {}
                    }
                    m.next_value::<IgnoredAny>()?;
                }
                Ok(Top::Object(keys))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Top, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Top::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Top, E> {
                Ok(Top::Other)
            }
            fn visit_unit<E>(self) -> Result<Top, E> {
                Ok(Top::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses one unit (a whole file or one line).
///
/// A plain envelope is read straight from the bytes (one pass, and duplicate fields are
/// refused, which a detour through a JSON value would hide); only what is not an
/// envelope is looked at again, by its top-level keys alone, to tell a bundle from
/// garbage.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, Problem> {
    let envelope_error = match serde_json::from_slice::<WireEnvelope>(bytes) {
        Ok(w) => return envelope(w),
        Err(e) => e,
    };
    let top: Top = serde_json::from_slice(bytes)
        .map_err(|e| problem("malformed-envelope", format!("not JSON: {e}")))?;
    let Top::Object(keys) = top else {
        return Err(problem(
            "malformed-envelope",
            "not a JSON object: neither a DSSE envelope nor a Sigstore bundle",
        ));
    };
    if keys.media_type {
        return parse_bundle(bytes);
    }
    if keys.envelope_field {
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
    signatures: WireSigs<'a>,
}

/// Most signatures one envelope may carry. DSSE allows several (one per signer); each is
/// tried against the trusted keys, so an envelope of thousands of bogus signatures over a
/// large payload would be thousands of signature checks before anything is known.
pub const MAX_SIGNATURES: usize = 16;

/// An envelope's signatures: the first [`MAX_SIGNATURES`] read, the rest only counted
/// (an envelope with more is refused; nothing is kept of the excess).
struct WireSigs<'a> {
    kept: Vec<WireSig<'a>>,
    total: usize,
}

impl<'de: 'a, 'a> Deserialize<'de> for WireSigs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = WireSigs<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of signatures")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<WireSigs<'a>, A::Error> {
                let mut out = WireSigs {
                    kept: Vec::new(),
                    total: 0,
                };
                loop {
                    let more = if out.kept.len() < MAX_SIGNATURES {
                        s.next_element::<WireSig<'a>>()?.map(|w| out.kept.push(w))
                    } else {
                        s.next_element::<IgnoredAny>()?.map(|_| ())
                    };
                    if more.is_none() {
                        return Ok(out);
                    }
                    out.total += 1;
                }
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// At most this many characters of an unauthenticated string (a key id hint, a payload
/// or predicate type) go into a finding's reason.
const MAX_SHOWN: usize = 100;

/// `s` for a reason: whole if short, else its first [`MAX_SHOWN`] characters and the
/// length.
pub(crate) fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(MAX_SHOWN) {
        None => Cow::Borrowed(s),
        Some((at, _)) => Cow::Owned(format!("{}... ({} bytes)", &s[..at], s.len())),
    }
}

fn envelope(w: WireEnvelope<'_>) -> Result<Parsed, Problem> {
    let bad = |reason: String| problem("malformed-envelope", format!("DSSE envelope: {reason}"));
    if w.signatures.total > MAX_SIGNATURES {
        return Err(bad(format!(
            "{} signatures; at most {MAX_SIGNATURES} are accepted",
            w.signatures.total
        )));
    }
    let payload = attest::dsse::b64_decode_lenient(&w.payload)
        .ok_or_else(|| bad("payload is not base64".into()))?;
    if w.signatures.kept.is_empty() {
        return Err(bad("no signatures".into()));
    }
    let signatures = w
        .signatures
        .kept
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
    Ok(Parsed::new(
        w.payload_type,
        payload,
        signatures,
        Material::Plain,
    ))
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
    Ok(Parsed::new(
        payload_type,
        payload,
        signatures,
        match chain {
            None => Material::BundleKey(bundle),
            Some(chain) => Material::BundleCert { bundle, chain },
        },
    ))
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
