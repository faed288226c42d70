//! Key-based bundles that carry neither a transparency log entry nor a
//! timestamp: a gap in sigstore-verify, which requires "signing time
//! evidence" in every bundle even when a managed key makes time irrelevant.
//!
//! Such a bundle is a bare signature plus a key hint. We check exactly what
//! it can prove: the signature verifies under the caller's key, and it covers
//! this artifact (message digest and signature for a message signature; the
//! in-toto subject for a DSSE envelope). Only reached when the caller's
//! policy opted in (`KeyPolicy::allow_missing_tlog`).

use sigstore_crypto::{KeyAlgorithm, SigningScheme};
use sigstore_types::{HashAlgorithm, SignatureContent, Statement};

use super::artifact::Artifact;
use super::error::SigstoreError;
use super::policy::KeyPolicy;
use super::SigstoreBundle;

const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

pub(crate) fn verify_without_log(
    bundle: &SigstoreBundle,
    artifact: Artifact<'_>,
    policy: &KeyPolicy,
) -> Result<(), SigstoreError> {
    let alg = KeyAlgorithm::from_spki(&policy.key)
        .map_err(|e| SigstoreError::PublicKey(e.to_string()))?;
    match &bundle.inner.content {
        SignatureContent::MessageSignature(msg) => {
            let scheme = match &msg.message_digest {
                Some(d) => alg
                    .resolve_signing_scheme(d.algorithm)
                    .map_err(|e| SigstoreError::UnsupportedBundle(e.to_string()))?,
                None => alg.default_signing_scheme(),
            };
            if let Some(d) = &msg.message_digest {
                let ours = digest(artifact, d.algorithm)?;
                if ours != d.digest.as_bytes() {
                    return Err(SigstoreError::ArtifactMismatch(
                        "messageDigest in the bundle is not the artifact's digest".into(),
                    ));
                }
            }
            verify_message(policy, scheme, &msg.signature, artifact)
        }
        SignatureContent::DsseEnvelope(env) => {
            sigstore_crypto::verify_signature(
                &policy.key,
                &env.pae(),
                &env.signature.sig,
                alg.default_signing_scheme(),
            )
            .map_err(|e| SigstoreError::Signature(format!("DSSE envelope: {e}")))?;
            if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(SigstoreError::UnsupportedBundle(format!(
                    "DSSE payload type {:?}: cannot bind it to an artifact",
                    env.payload_type
                )));
            }
            let statement: Statement = serde_json::from_slice(env.payload.as_bytes())
                .map_err(|e| SigstoreError::BundleMalformed(format!("in-toto statement: {e}")))?;
            let sha = sigstore_types::Sha256Hash::new(artifact.sha256());
            if statement.matches_sha256(&sha) {
                Ok(())
            } else {
                Err(SigstoreError::ArtifactMismatch(
                    "no in-toto subject has the artifact's sha256".into(),
                ))
            }
        }
        _ => Err(SigstoreError::UnsupportedBundle(
            "unknown signature content".into(),
        )),
    }
}

fn verify_message(
    policy: &KeyPolicy,
    scheme: SigningScheme,
    sig: &sigstore_types::SignatureBytes,
    artifact: Artifact<'_>,
) -> Result<(), SigstoreError> {
    let result = match (scheme.hash_algorithm(), artifact) {
        (Some(h), _) => {
            let d = digest(artifact, h)?;
            sigstore_crypto::verify_signature_prehashed(&policy.key, &d, sig, scheme)
        }
        (None, Artifact::Bytes(b)) => {
            sigstore_crypto::verify_signature(&policy.key, b, sig, scheme)
        }
        (None, Artifact::Sha256(_)) => {
            return Err(SigstoreError::UnsupportedBundle(format!(
                "{} signatures cover the message itself; give the artifact, not its digest",
                scheme.name()
            )))
        }
    };
    result.map_err(|e| SigstoreError::Signature(e.to_string()))
}

fn digest(artifact: Artifact<'_>, alg: HashAlgorithm) -> Result<Vec<u8>, SigstoreError> {
    match (artifact, alg) {
        (Artifact::Sha256(d), HashAlgorithm::Sha2256) => Ok(d.to_vec()),
        (Artifact::Bytes(b), HashAlgorithm::Sha2256) => {
            Ok(sigstore_crypto::sha256(b).as_bytes().to_vec())
        }
        (Artifact::Bytes(b), HashAlgorithm::Sha2384) => {
            Ok(sigstore_crypto::sha384(b).as_bytes().to_vec())
        }
        (Artifact::Bytes(b), HashAlgorithm::Sha2512) => {
            Ok(sigstore_crypto::sha512(b).as_bytes().to_vec())
        }
        (Artifact::Sha256(_), other) => Err(SigstoreError::UnsupportedBundle(format!(
            "bundle needs a {other:?} digest of the artifact; only sha256 was given"
        ))),
        (_, other) => Err(SigstoreError::UnsupportedBundle(format!(
            "hash algorithm {other:?}"
        ))),
    }
}
