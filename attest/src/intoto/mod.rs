//! in-toto layouts and links (the classic in-toto 1.0 metadata that `in-toto-verify` checks),
//! in both signed forms in-toto 3.x reads:
//!
//! - Metablock: `{"signatures": [{"keyid", "sig"}], "signed": {...}}`, each `sig` the hex
//!   signature over the canonical JSON of `signed`;
//! - DSSE: an envelope with payload type `application/vnd.in-toto+json` whose payload is
//!   the same object as ordinary compact JSON (not canonical JSON: that writes control
//!   characters such as the newlines of a PEM key raw, which JSON parsers reject), `sig`
//!   base64 over the PAE.
//!
//! Key ids and key objects are in-toto's (see [`keys`]); RSA signs with PSS as the
//! `rsassa-pss-sha256` scheme requires.

pub mod keys;
pub mod layout;
pub mod link;

use serde_json::{json, Value};

use crate::canonical::{self, CanonicalError};
use crate::dsse::{DsseError, Envelope, SignWith, INTOTO_PAYLOAD_TYPE};
use crate::keys::{KeyError, PublicKey, RsaPadding, Signer};

#[derive(Debug, thiserror::Error)]
pub enum InTotoError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    #[error(transparent)]
    Dsse(#[from] DsseError),
    #[error("{path}: {reason}")]
    Description { path: String, reason: String },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {reason}")]
    Verify { origin: String, reason: String },
}

/// Which signed form to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Metablock,
    Dsse,
}

/// Signs `signed` (a layout or link object) with every signer, in the chosen form.
pub fn sign(signed: &Value, signers: &[&dyn Signer], form: Form) -> Result<Value, InTotoError> {
    match form {
        Form::Metablock => {
            let bytes = canonical::to_vec(signed)?;
            let mut sigs = Vec::with_capacity(signers.len());
            for s in signers {
                let sig = s.sign(&bytes, RsaPadding::Pss)?;
                sigs.push(
                    json!({"keyid": keys::in_toto_keyid(s.public_key()), "sig": hex::encode(sig)}),
                );
            }
            Ok(json!({"signatures": sigs, "signed": signed}))
        }
        Form::Dsse => {
            let with: Vec<SignWith<'_>> = signers
                .iter()
                .map(|s| SignWith {
                    signer: *s,
                    keyid: Some(keys::in_toto_keyid(s.public_key())),
                    padding: RsaPadding::Pss,
                })
                .collect();
            let payload = serde_json::to_vec(signed).map_err(|e| InTotoError::Verify {
                origin: "payload".into(),
                reason: e.to_string(),
            })?;
            Ok(Envelope::sign(INTOTO_PAYLOAD_TYPE, payload, &with)?.to_json())
        }
    }
}

/// Verifies signed in-toto metadata (either form) with `key`; returns the `signed` object.
/// Used by tests and by the `verify` crate; the reference verifier is `in-toto-verify`.
pub fn verify(doc: &Value, key: &PublicKey, origin: &str) -> Result<Value, InTotoError> {
    let bad = |reason: &str| InTotoError::Verify {
        origin: origin.to_owned(),
        reason: reason.to_owned(),
    };
    let keyid = keys::in_toto_keyid(key);
    if doc.get("payload").is_some() {
        let env = Envelope::from_json_value(doc, origin)?;
        if env.payload_type != INTOTO_PAYLOAD_TYPE {
            return Err(bad("payloadType is not application/vnd.in-toto+json"));
        }
        env.verify(std::slice::from_ref(key), 1, origin)?;
        return serde_json::from_slice(&env.payload).map_err(|e| bad(&format!("payload: {e}")));
    }
    let signed = doc.get("signed").ok_or_else(|| bad("no 'signed' object"))?;
    let bytes = canonical::to_vec(signed)?;
    let sigs = doc["signatures"]
        .as_array()
        .ok_or_else(|| bad("no 'signatures' list"))?;
    let ok = sigs.iter().any(|s| {
        s["keyid"].as_str() == Some(keyid.as_str())
            && s["sig"]
                .as_str()
                .and_then(|h| hex::decode(h).ok())
                .is_some_and(|sig| key.verify(&bytes, &sig, keys::padding(key)))
    });
    if !ok {
        return Err(bad(&format!("no valid signature by key {keyid}")));
    }
    Ok(signed.clone())
}
