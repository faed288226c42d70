//! Sigstore bundles wrapping one DSSE envelope, written offline (no transparency-log
//! entries, no timestamps).
//!
//! v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`): `verificationMaterial` is
//! `publicKey.hint` (our key id) for a key, or `certificate` (the leaf alone) for a
//! certificate. v0.2 carries `x509CertificateChain` instead: leaf and intermediates, never
//! the root (a root inside the bundle would vouch for itself). Verifiers must be told to
//! expect zero log entries; see docs/attest.md.

use serde_json::{json, Value};

use crate::certs::Chain;
use crate::dsse::{b64, b64_decode_lenient, DsseError, Envelope};
use crate::keys::{PublicKey, RsaPadding};

pub const MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const MEDIA_TYPE_V02: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("a Sigstore bundle holds exactly one DSSE signature; this envelope has {0}")]
    SignatureCount(usize),
    #[error("{origin}: not a Sigstore bundle with a DSSE envelope: {reason}")]
    Malformed { origin: String, reason: String },
    #[error(transparent)]
    Dsse(#[from] DsseError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V02,
    V03,
}

pub enum Material<'a> {
    PublicKey { hint: String },
    Certificates(&'a Chain),
}

/// Builds the bundle JSON.
pub fn build(
    env: &Envelope,
    material: Material<'_>,
    version: Version,
) -> Result<Value, BundleError> {
    if env.signatures.len() != 1 {
        return Err(BundleError::SignatureCount(env.signatures.len()));
    }
    let mut vm = serde_json::Map::new();
    match material {
        Material::PublicKey { hint } => {
            vm.insert("publicKey".into(), json!({ "hint": hint }));
        }
        Material::Certificates(chain) => match version {
            Version::V03 => {
                vm.insert("certificate".into(), json!({"rawBytes": b64(chain.leaf())}));
            }
            Version::V02 => {
                let certs: Vec<Value> = chain
                    .certs
                    .iter()
                    .map(|c| json!({"rawBytes": b64(c)}))
                    .collect();
                vm.insert(
                    "x509CertificateChain".into(),
                    json!({ "certificates": certs }),
                );
            }
        },
    }
    vm.insert("tlogEntries".into(), json!([]));
    let s = &env.signatures[0];
    Ok(json!({
        "mediaType": match version { Version::V03 => MEDIA_TYPE_V03, Version::V02 => MEDIA_TYPE_V02 },
        "verificationMaterial": vm,
        "dsseEnvelope": {
            "payload": b64(&env.payload),
            "payloadType": env.payload_type,
            "signatures": [{"sig": b64(&s.sig), "keyid": s.keyid.clone().unwrap_or_default()}],
        },
    }))
}

/// Reads the DSSE envelope and the leaf certificate (if any) out of a bundle.
pub fn parse(v: &Value, origin: &str) -> Result<(Envelope, Option<Vec<u8>>), BundleError> {
    let bad = |reason: &str| BundleError::Malformed {
        origin: origin.to_owned(),
        reason: reason.to_owned(),
    };
    let mt = v["mediaType"].as_str().ok_or_else(|| bad("no mediaType"))?;
    if !mt.starts_with("application/vnd.dev.sigstore.bundle") {
        return Err(bad("mediaType is not a Sigstore bundle"));
    }
    let env = Envelope::from_json_value(&v["dsseEnvelope"], origin)?;
    let vm = &v["verificationMaterial"];
    let leaf = if let Some(raw) = vm["certificate"]["rawBytes"].as_str() {
        Some(b64_decode_lenient(raw).ok_or_else(|| bad("certificate is not base64"))?)
    } else if let Some(raw) = vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str() {
        Some(b64_decode_lenient(raw).ok_or_else(|| bad("certificate is not base64"))?)
    } else {
        None
    };
    Ok((env, leaf))
}

/// Checks the envelope signature with `key` (the trusted key, or the leaf's key once the
/// caller has validated the chain). Chain validation belongs to the `verify` crate.
pub fn verify_signature(v: &Value, key: &PublicKey, origin: &str) -> Result<Envelope, BundleError> {
    let (env, _) = parse(v, origin)?;
    let msg = env.pae();
    let ok = env.signatures.len() == 1
        && (key.verify(&msg, &env.signatures[0].sig, RsaPadding::Pkcs1v15)
            || key.verify(&msg, &env.signatures[0].sig, RsaPadding::Pss));
    if !ok {
        return Err(DsseError::NoValidSignature {
            origin: origin.to_owned(),
            signatures: env.signatures.len(),
            keys: 1,
        }
        .into());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyType, PrivateKey, Signer};

    #[test]
    fn key_bundle_shape_and_tamper() {
        let k = PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap();
        let env = Envelope::sign_one(crate::dsse::INTOTO_PAYLOAD_TYPE, b"{\"x\":1}".to_vec(), &k)
            .unwrap();
        let hint = k.public_key().key_id();
        let b = build(
            &env,
            Material::PublicKey { hint: hint.clone() },
            Version::V03,
        )
        .unwrap();
        assert_eq!(b["mediaType"], MEDIA_TYPE_V03);
        assert_eq!(b["verificationMaterial"]["publicKey"]["hint"], hint);
        assert_eq!(b["verificationMaterial"]["tlogEntries"], json!([]));
        verify_signature(&b, k.public_key(), "t").unwrap();
        let mut t = b.clone();
        t["dsseEnvelope"]["payload"] = json!(b64(b"{\"x\":2}"));
        assert!(verify_signature(&t, k.public_key(), "t").is_err());
        let two = Envelope {
            signatures: vec![env.signatures[0].clone(); 2],
            ..env
        };
        assert!(matches!(
            build(&two, Material::PublicKey { hint }, Version::V03),
            Err(BundleError::SignatureCount(2))
        ));
    }
}
