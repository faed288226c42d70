//! Parsing a Sigstore bundle (`*.sigstore.json`), versions 0.1 to 0.3.
//!
//! The data model is sigstore-types' `Bundle`. Before handing the text to it we
//! run our own fail-closed checks on the raw JSON, for things the typed model
//! either cannot express or would silently accept:
//!
//! - the media type must be one of the four known spellings;
//! - exactly one of `messageSignature` / `dsseEnvelope`, and a DSSE envelope
//!   with exactly one signature (Sigstore bundles never carry more; accepting
//!   more would leave open which one was checked);
//! - an `x509CertificateChain` must not be empty and must not contain a
//!   self-signed (root) certificate: the root must come from the trusted root,
//!   never from the bundle.
//!
//! Protobuf-JSON compatibility: bundles are produced by protobuf JSON
//! encoders, and Go's (used by cosign and Rekor) ignores CR/LF inside base64.
//! We strip CR/LF from the base64 (`bytes`) fields only, so a wrapped base64
//! value decodes as the rest of the ecosystem decodes it and the bundle is
//! then judged on its merits, not on its line breaks.

use serde_json::Value;
use sigstore_types::bundle::VerificationMaterialContent;
use sigstore_types::{Bundle, SignatureContent};

use super::certificate;
use super::error::SigstoreError;

/// Bundles larger than this are refused before parsing. Message bundles are a
/// few kilobytes; a DSSE bundle carrying the SBOM of an image with every file
/// listed reaches ~80 MB for 300,000 files (measured), so the bound is the
/// attestation file bound of `verify image`.
pub const MAX_BUNDLE_BYTES: usize = crate::attestation::MAX_ATTESTATION_FILE as usize;

/// The media types we accept, and the bundle version each one means.
const MEDIA_TYPES: [(&str, &str); 4] = [
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "0.1",
    ),
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "0.2",
    ),
    (
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "0.3",
    ),
    ("application/vnd.dev.sigstore.bundle.v0.3+json", "0.3"),
];

/// A parsed, structurally checked bundle.
#[derive(Debug, Clone)]
pub struct SigstoreBundle {
    pub(crate) inner: Bundle,
    media_type: String,
    version: &'static str,
}

/// What kind of signer the bundle names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerKind {
    /// A (Fulcio) certificate, alone (v0.3) or as a chain (v0.1/v0.2).
    Certificate,
    /// A public key hint; the key itself must be supplied by the verifier.
    PublicKey,
}

impl SigstoreBundle {
    /// Parse a bundle from its JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, SigstoreError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(SigstoreError::BundleMalformed(format!(
                "bundle is {} bytes, more than the {MAX_BUNDLE_BYTES} allowed",
                bytes.len()
            )));
        }
        let mut json: Value =
            serde_json::from_slice(bytes).map_err(|e| SigstoreError::BundleJson(e.to_string()))?;
        let (media_type, version) = check_media_type(&json)?;
        check_content_shape(&json)?;
        let text = if strip_base64_line_breaks(&mut json) {
            json.to_string()
        } else {
            // Unchanged: parse the original text, no need to re-serialize.
            String::from_utf8(bytes.to_vec())
                .map_err(|e| SigstoreError::BundleJson(e.to_string()))?
        };
        let inner =
            Bundle::from_json(&text).map_err(|e| SigstoreError::BundleMalformed(e.to_string()))?;
        check_certificate_chain(&inner)?;
        Ok(Self {
            inner,
            media_type,
            version,
        })
    }

    /// The media type string as written in the bundle.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The bundle format version: "0.1", "0.2" or "0.3".
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// Whether a certificate or a public key signed this bundle.
    pub fn signer_kind(&self) -> SignerKind {
        match self.inner.verification_material.content {
            VerificationMaterialContent::PublicKey(_) => SignerKind::PublicKey,
            _ => SignerKind::Certificate,
        }
    }

    /// The unauthenticated public key hint of a key-based bundle.
    pub fn public_key_hint(&self) -> Option<&str> {
        match &self.inner.verification_material.content {
            VerificationMaterialContent::PublicKey(k) => Some(&k.hint),
            _ => None,
        }
    }

    /// The DER of the signing (leaf) certificate, if the bundle has one.
    pub fn signing_certificate_der(&self) -> Option<&[u8]> {
        self.inner.signing_certificate().map(|c| c.as_bytes())
    }

    /// Number of transparency log entries in the bundle.
    pub fn tlog_entry_count(&self) -> usize {
        self.inner.verification_material.tlog_entries.len()
    }

    /// Number of RFC 3161 timestamps in the bundle.
    pub fn timestamp_count(&self) -> usize {
        self.inner
            .verification_material
            .timestamp_verification_data
            .rfc3161_timestamps
            .len()
    }

    /// The DSSE envelope's payload type and payload, for DSSE bundles.
    pub fn dsse_payload(&self) -> Option<(&str, &[u8])> {
        match &self.inner.content {
            SignatureContent::DsseEnvelope(env) => {
                Some((env.payload_type.as_str(), env.payload.as_bytes()))
            }
            _ => None,
        }
    }

    /// The sigstore-types model, for callers that need more detail.
    pub fn as_sigstore_types(&self) -> &Bundle {
        &self.inner
    }
}

fn check_media_type(json: &Value) -> Result<(String, &'static str), SigstoreError> {
    let media_type = json
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| SigstoreError::BundleMalformed("missing or non-string mediaType".into()))?;
    MEDIA_TYPES
        .iter()
        .find(|(m, _)| *m == media_type)
        .map(|(m, v)| ((*m).to_string(), *v))
        .ok_or_else(|| {
            SigstoreError::UnsupportedBundle(format!("unknown bundle media type {media_type:?}"))
        })
}

fn check_content_shape(json: &Value) -> Result<(), SigstoreError> {
    let has_msg = json.get("messageSignature").is_some();
    let dsse = json.get("dsseEnvelope");
    match (has_msg, dsse) {
        (true, Some(_)) => Err(SigstoreError::InvalidBundle(
            "bundle has both messageSignature and dsseEnvelope".into(),
        )),
        (false, None) => Err(SigstoreError::InvalidBundle(
            "bundle has neither messageSignature nor dsseEnvelope".into(),
        )),
        (false, Some(env)) => {
            let n = env
                .get("signatures")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if n == 1 {
                Ok(())
            } else {
                Err(SigstoreError::InvalidBundle(format!(
                    "DSSE envelope must have exactly one signature, has {n}"
                )))
            }
        }
        (true, None) => Ok(()),
    }
}

/// Reject empty chains and chains that carry a self-signed certificate.
///
/// Why: a chain with its own root invites "trust whatever root came with the
/// bundle" bugs; the bundle specification forbids it, and the trusted root is
/// the only place a root may come from.
fn check_certificate_chain(bundle: &Bundle) -> Result<(), SigstoreError> {
    if let VerificationMaterialContent::X509CertificateChain { certificates } =
        &bundle.verification_material.content
    {
        if certificates.is_empty() {
            return Err(SigstoreError::InvalidBundle(
                "x509CertificateChain has no certificates".into(),
            ));
        }
        for (i, c) in certificates.iter().enumerate() {
            if certificate::is_self_signed(c.raw_bytes.as_bytes())? {
                return Err(SigstoreError::InvalidBundle(format!(
                    "certificate {i} of x509CertificateChain is a self-signed root; roots must \
                     come from the trusted root, not the bundle"
                )));
            }
        }
    }
    Ok(())
}

/// Remove CR and LF from the base64 `bytes` fields of a bundle. Returns
/// whether anything changed. Only fields that are protobuf `bytes` are
/// touched: the checkpoint envelope is text whose line breaks are signed.
fn strip_base64_line_breaks(json: &mut Value) -> bool {
    const BYTES_FIELDS: [&str; 10] = [
        "rawBytes",
        "keyId",
        "signedEntryTimestamp",
        "rootHash",
        "hashes",
        "canonicalizedBody",
        "signedTimestamp",
        "digest",
        "signature",
        "payload",
    ];
    fn strip(v: &mut Value) -> bool {
        match v {
            Value::String(s) if s.contains(['\r', '\n']) => {
                s.retain(|c| c != '\r' && c != '\n');
                true
            }
            Value::Array(items) => items.iter_mut().fold(false, |acc, i| strip(i) | acc),
            _ => false,
        }
    }
    fn walk(v: &mut Value, depth: usize) -> bool {
        // Bundles are shallow; a deep document is hostile, and the typed
        // parser will reject it anyway, so stop descending.
        if depth > 16 {
            return false;
        }
        let mut changed = false;
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    if BYTES_FIELDS.contains(&k.as_str()) {
                        changed |= strip(child);
                    }
                    // `sig` is bytes inside DSSE signatures only.
                    if k == "sig" {
                        changed |= strip(child);
                    }
                    changed |= walk(child, depth + 1);
                }
            }
            Value::Array(items) => {
                for child in items {
                    changed |= walk(child, depth + 1);
                }
            }
            _ => {}
        }
        changed
    }
    walk(json, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_media_type_is_unsupported() {
        let e = SigstoreBundle::from_json(
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=99.9"}"#,
        )
        .unwrap_err();
        assert!(matches!(e, SigstoreError::UnsupportedBundle(_)), "{e}");
    }

    #[test]
    fn truncated_json_is_a_json_error() {
        let e = SigstoreBundle::from_json(br#"{"mediaType":"appl"#).unwrap_err();
        assert!(matches!(e, SigstoreError::BundleJson(_)), "{e}");
    }

    #[test]
    fn line_breaks_are_stripped_from_bytes_fields_only() {
        let mut v: Value = serde_json::from_str(
            r#"{"a":{"signedTimestamp":"QUJD\nREVG"},"checkpoint":{"envelope":"x\ny"},"hashes":["a\nb"]}"#,
        )
        .unwrap();
        assert!(strip_base64_line_breaks(&mut v));
        assert_eq!(v["a"]["signedTimestamp"], "QUJDREVG");
        assert_eq!(v["checkpoint"]["envelope"], "x\ny");
        assert_eq!(v["hashes"][0], "ab");
    }

    #[test]
    fn both_contents_are_rejected() {
        let e = SigstoreBundle::from_json(
            br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{},"dsseEnvelope":{}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, SigstoreError::InvalidBundle(_)), "{e}");
    }
}
