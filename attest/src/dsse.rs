//! DSSE v1 envelopes: pre-authentication encoding, signing with one or more keys and
//! verification.
//!
//! PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN being the
//! byte length in ASCII decimal without leading zeros. Signatures cover the PAE, never the
//! base64 text, so a payload re-encoded in other bytes (even the same JSON) does not verify.
//!
//! Invariants: we write standard base64 with padding; we read standard or URL-safe, padded
//! or not (the DSSE spec requires verifiers to accept both). `keyid` is a hint only:
//! verification tries every trusted key against every signature.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::keys::{KeyError, PublicKey, RsaPadding, Signer};

/// The payload type of in-toto statements and links.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    #[error("{origin}: not a DSSE envelope: {reason}")]
    Malformed { origin: String, reason: String },
    #[error("{origin}: no signature verifies with the given key(s) ({signatures} signature(s) checked against {keys} key(s))")]
    NoValidSignature {
        origin: String,
        signatures: usize,
        keys: usize,
    },
    #[error(
        "{origin}: {verified} signature(s) from distinct trusted keys verify, {threshold} required"
    )]
    Threshold {
        origin: String,
        verified: usize,
        threshold: usize,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Pre-authentication encoding of DSSE v1.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub keyid: Option<String>,
    pub sig: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Signature>,
}

#[derive(Serialize, Deserialize)]
struct WireSig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keyid: Option<String>,
    sig: String,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    payload: String,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<WireSig>,
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn b64_decode_lenient(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One signer with the key id to record (None: no keyid field).
pub struct SignWith<'a> {
    pub signer: &'a dyn Signer,
    pub keyid: Option<String>,
    pub padding: RsaPadding,
}

impl Envelope {
    /// Signs `payload` with each signer in turn.
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signers: &[SignWith<'_>],
    ) -> Result<Envelope, DsseError> {
        let msg = pae(payload_type, &payload);
        let mut signatures = Vec::with_capacity(signers.len());
        for s in signers {
            signatures.push(Signature {
                keyid: s.keyid.clone(),
                sig: s.signer.sign(&msg, s.padding)?,
            });
        }
        Ok(Envelope {
            payload_type: payload_type.to_owned(),
            payload,
            signatures,
        })
    }

    /// Signs with one key, recording our key id and using PKCS#1 v1.5 for RSA (what
    /// Sigstore verifiers expect).
    pub fn sign_one(
        payload_type: &str,
        payload: Vec<u8>,
        signer: &dyn Signer,
    ) -> Result<Envelope, DsseError> {
        Self::sign(
            payload_type,
            payload,
            &[SignWith {
                signer,
                keyid: Some(signer.public_key().key_id()),
                padding: RsaPadding::Pkcs1v15,
            }],
        )
    }

    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// The envelope as compact JSON (one line, as `.intoto.jsonl` wants).
    pub fn to_json(&self) -> serde_json::Value {
        let wire = Wire {
            payload: b64(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSig {
                    keyid: s.keyid.clone(),
                    sig: b64(&s.sig),
                })
                .collect(),
        };
        serde_json::to_value(wire).unwrap_or_default()
    }

    pub fn to_json_line(&self) -> String {
        self.to_json().to_string()
    }

    pub fn from_json_value(v: &serde_json::Value, origin: &str) -> Result<Envelope, DsseError> {
        let bad = |reason: String| DsseError::Malformed {
            origin: origin.to_owned(),
            reason,
        };
        // Deserialized from the borrowed value: cloning it first doubled the memory of a
        // large envelope (a hostile link of hundreds of megabytes).
        let wire = Wire::deserialize(v).map_err(|e| bad(e.to_string()))?;
        let payload =
            b64_decode_lenient(&wire.payload).ok_or_else(|| bad("payload is not base64".into()))?;
        let mut signatures = Vec::with_capacity(wire.signatures.len());
        for (i, s) in wire.signatures.into_iter().enumerate() {
            let sig = b64_decode_lenient(&s.sig)
                .ok_or_else(|| bad(format!("signatures[{i}].sig is not base64")))?;
            signatures.push(Signature {
                keyid: s.keyid,
                sig,
            });
        }
        Ok(Envelope {
            payload_type: wire.payload_type,
            payload,
            signatures,
        })
    }

    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Envelope, DsseError> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| DsseError::Malformed {
                origin: origin.to_owned(),
                reason: e.to_string(),
            })?;
        Self::from_json_value(&v, origin)
    }

    /// Returns the indices of the `keys` that produced at least one valid signature. RSA
    /// signatures are accepted with PKCS#1 v1.5 or PSS padding.
    pub fn verified_keys(&self, keys: &[PublicKey]) -> Vec<usize> {
        let msg = self.pae();
        let mut ok = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let verified = self.signatures.iter().any(|s| {
                k.verify(&msg, &s.sig, RsaPadding::Pkcs1v15)
                    || k.verify(&msg, &s.sig, RsaPadding::Pss)
            });
            if verified {
                ok.push(i);
            }
        }
        ok
    }

    /// Verifies that at least `threshold` distinct keys of `keys` signed the envelope.
    pub fn verify(
        &self,
        keys: &[PublicKey],
        threshold: usize,
        origin: &str,
    ) -> Result<(), DsseError> {
        let n = self.verified_keys(keys).len();
        if n == 0 {
            return Err(DsseError::NoValidSignature {
                origin: origin.to_owned(),
                signatures: self.signatures.len(),
                keys: keys.len(),
            });
        }
        if n < threshold.max(1) {
            return Err(DsseError::Threshold {
                origin: origin.to_owned(),
                verified: n,
                threshold,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyType, PrivateKey};

    #[test]
    fn pae_matches_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn multi_signature_threshold() {
        let a = PrivateKey::generate(KeyType::Ed25519, 0).unwrap();
        let b = PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap();
        let c = PrivateKey::generate(KeyType::Ed25519, 0).unwrap();
        let env = Envelope::sign(
            INTOTO_PAYLOAD_TYPE,
            b"{}".to_vec(),
            &[
                SignWith {
                    signer: &a,
                    keyid: None,
                    padding: RsaPadding::Pkcs1v15,
                },
                SignWith {
                    signer: &b,
                    keyid: Some("b".into()),
                    padding: RsaPadding::Pkcs1v15,
                },
            ],
        )
        .unwrap();
        let keys = [
            a.public_key().clone(),
            b.public_key().clone(),
            c.public_key().clone(),
        ];
        assert_eq!(env.verified_keys(&keys), vec![0, 1]);
        env.verify(&keys, 2, "t").unwrap();
        assert!(matches!(
            env.verify(&keys, 3, "t"),
            Err(DsseError::Threshold { .. })
        ));
        assert!(matches!(
            env.verify(&keys[2..], 1, "t"),
            Err(DsseError::NoValidSignature { .. })
        ));
        // JSON round trip; the absent keyid stays absent.
        let line = env.to_json_line();
        assert!(!line.contains('\n'));
        let back = Envelope::from_json(line.as_bytes(), "t").unwrap();
        assert_eq!(back, env);
        assert_eq!(back.signatures[0].keyid, None);
    }

    #[test]
    fn changed_type_or_payload_fails() {
        let k = PrivateKey::generate(KeyType::Ed25519, 0).unwrap();
        let env = Envelope::sign_one(INTOTO_PAYLOAD_TYPE, b"{\"a\":1}".to_vec(), &k).unwrap();
        let keys = [k.public_key().clone()];
        env.verify(&keys, 1, "t").unwrap();
        let mut t = env.clone();
        t.payload_type.push('x');
        assert!(t.verify(&keys, 1, "t").is_err());
        let mut p = env.clone();
        p.payload = b"{\"a\": 1}".to_vec(); // same JSON, other bytes
        assert!(p.verify(&keys, 1, "t").is_err());
    }

    #[test]
    fn malformed_envelopes_are_errors() {
        for bad in [
            &b"not json"[..],
            br#"{"payload":"%%%","payloadType":"x","signatures":[]}"#,
            br#"{"payloadType":"x","signatures":[]}"#,
            br#"{"payload":"","payloadType":"x","signatures":[{"sig":"@@"}]}"#,
        ] {
            assert!(matches!(
                Envelope::from_json(bad, "t"),
                Err(DsseError::Malformed { .. })
            ));
        }
    }
}
