//! Why a Sigstore bundle did not verify.
//!
//! One flat enum so that callers (the CLI, the image verifier, tests) can match
//! on *what* failed without knowing which crate found it. Variants carry a
//! human-readable detail string; match on the variant, not on the string.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can make Sigstore verification fail.
///
/// The `Display` text of each variant names the part of the bundle or of the
/// trust material that failed, so a one-line error report is enough to act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SigstoreError {
    /// A file given to us (bundle, artifact, trusted root, key) could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Io {
        /// Which input it was ("bundle", "artifact", ...).
        what: &'static str,
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The bundle is not JSON at all (truncated, not UTF-8, ...).
    #[error("bundle is not valid JSON: {0}")]
    BundleJson(String),

    /// The bundle is JSON but a field is missing, mistyped or badly encoded.
    #[error("bundle is malformed: {0}")]
    BundleMalformed(String),

    /// The bundle uses a version, media type or content kind we do not verify.
    #[error("unsupported bundle: {0}")]
    UnsupportedBundle(String),

    /// The bundle is well-formed but breaks a structural rule of the bundle
    /// format (empty chain, root certificate in the chain, missing proof ...).
    #[error("bundle is invalid: {0}")]
    InvalidBundle(String),

    /// No trusted root was given; there is deliberately no built-in default.
    #[error(
        "no trusted root given: use --trusted-root FILE or set {} (there is no built-in default)",
        super::trust::TRUSTED_ROOT_ENV
    )]
    NoTrustedRoot,

    /// The trusted root could not be parsed or is inconsistent.
    #[error("trusted root is invalid: {0}")]
    TrustedRoot(String),

    /// The public key given for key-based verification is unusable.
    #[error("public key is invalid: {0}")]
    PublicKey(String),

    /// The `sha256:HEX` artifact digest given is malformed.
    #[error("artifact digest is invalid: {0}")]
    ArtifactDigest(String),

    /// The identity policy (for instance a regular expression) is invalid.
    #[error("identity policy is invalid: {0}")]
    Policy(String),

    /// The bundle is signed with a certificate but a key was expected, or the
    /// other way round.
    #[error("wrong kind of signer: {0}")]
    SignerKind(String),

    /// The signing certificate could not be parsed.
    #[error("signing certificate is malformed: {0}")]
    CertificateMalformed(String),

    /// The signing certificate does not chain to a trusted certificate authority.
    #[error("signing certificate chain does not verify: {0}")]
    CertificateChain(String),

    /// The signing certificate (or a CA above it) was not valid at the
    /// authenticated signing time.
    #[error("signing certificate is not valid at the signing time: {0}")]
    CertificateValidity(String),

    /// The certificate's signed certificate timestamp does not verify against
    /// the trusted CT logs.
    #[error("signed certificate timestamp (SCT) does not verify: {0}")]
    Sct(String),

    /// The signature over the artifact or the DSSE envelope does not verify.
    #[error("signature does not verify: {0}")]
    Signature(String),

    /// The artifact (or its digest) is not what the bundle signed.
    #[error("artifact does not match the bundle: {0}")]
    ArtifactMismatch(String),

    /// A transparency log entry describes something other than this bundle.
    #[error("transparency log entry does not match the bundle: {0}")]
    LogEntryMismatch(String),

    /// A transparency log entry body could not be decoded.
    #[error("transparency log entry is malformed: {0}")]
    LogEntryMalformed(String),

    /// A transparency log entry names a log that is not in the trusted root.
    #[error("transparency log is not trusted: {0}")]
    UnknownLog(String),

    /// The Merkle inclusion proof does not lead to the claimed root.
    #[error("inclusion proof does not verify: {0}")]
    InclusionProof(String),

    /// The checkpoint (signed tree head) is malformed, unsigned by the log, or
    /// does not commit to the inclusion proof's root.
    #[error("checkpoint does not verify: {0}")]
    Checkpoint(String),

    /// The signed entry timestamp (inclusion promise) does not verify.
    #[error("signed entry timestamp (inclusion promise) does not verify: {0}")]
    InclusionPromise(String),

    /// The log's integrated time is unusable (in the future, outside a key's
    /// validity window ...).
    #[error("integrated time is invalid: {0}")]
    IntegratedTime(String),

    /// An RFC 3161 timestamp does not verify against the timestamp authorities.
    #[error("RFC 3161 timestamp does not verify: {0}")]
    Timestamp(String),

    /// No authenticated time is available to check the certificate against.
    #[error("no verified signing time: {0}")]
    NoVerifiedTime(String),

    /// Key-based verification found no transparency log entry and the policy
    /// requires one.
    #[error(
        "bundle has no transparency log entry; key-based bundles without one are accepted only \
         when explicitly allowed"
    )]
    MissingLogEntry,

    /// The certificate's subject alternative names do not satisfy the policy.
    #[error("certificate identity does not match: expected {expected}, certificate has {actual}")]
    IdentityMismatch {
        /// What the policy asked for.
        expected: String,
        /// What the certificate holds (all SANs, comma separated).
        actual: String,
    },

    /// The certificate's OIDC issuer does not satisfy the policy.
    #[error(
        "certificate OIDC issuer does not match: expected {expected}, certificate has {actual}"
    )]
    IssuerMismatch {
        /// What the policy asked for.
        expected: String,
        /// What the certificate holds, or "none".
        actual: String,
    },

    /// A low-level cryptographic primitive failed (unsupported key type ...).
    #[error("cryptographic error: {0}")]
    Crypto(String),

    /// A bug: verification code panicked. Reported as a failure, never as success.
    #[error("internal error while verifying (this is a bug): {0}")]
    Internal(String),
}

impl SigstoreError {
    /// Whether the failure is in what the *caller* supplied (files, key,
    /// digest, trusted root, policy) rather than in the bundle. The CLI maps
    /// these to its usage/input exit status.
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Self::Io { .. }
                | Self::NoTrustedRoot
                | Self::TrustedRoot(_)
                | Self::PublicKey(_)
                | Self::ArtifactDigest(_)
                | Self::Policy(_)
        )
    }
}

/// Classify an error of the sigstore-verify engine into our variants.
///
/// The engine's categories are close to ours; where it only gives a string
/// (webpki's chain errors), the string decides between "chain" and
/// "validity" because both come back as `ChainInvalid`.
impl From<sigstore_verify::Error> for SigstoreError {
    fn from(e: sigstore_verify::Error) -> Self {
        use sigstore_verify::error::{CertificateError, TimestampError, TransparencyLogError};
        use sigstore_verify::Error as E;
        let text = e.to_string();
        match e {
            E::IdentityMismatch { expected, actual } => Self::IdentityMismatch {
                expected: expected.to_string(),
                actual: actual.map_or_else(|| "none".into(), |a| a.to_string()),
            },
            E::IssuerMismatch { expected, actual } => Self::IssuerMismatch {
                expected,
                actual: actual.unwrap_or_else(|| "none".into()),
            },
            E::SignatureInvalid(d) => Self::Signature(d),
            E::ArtifactMismatch(d) => Self::ArtifactMismatch(d),
            E::UnsupportedArtifact(d) => Self::UnsupportedBundle(d),
            E::Certificate(c) => match c {
                CertificateError::Malformed(d) => Self::CertificateMalformed(d),
                CertificateError::ChainInvalid(d)
                    if d.contains("CertExpired") || d.contains("CertNotValidYet") =>
                {
                    Self::CertificateValidity(d)
                }
                CertificateError::ChainInvalid(d) => Self::CertificateChain(d),
                CertificateError::NoValidAuthority { .. } => Self::CertificateChain(text),
                CertificateError::NotYetValid { .. } | CertificateError::Expired { .. } => {
                    Self::CertificateValidity(text)
                }
                CertificateError::Sct(d) => Self::Sct(d),
                _ => Self::CertificateChain(text),
            },
            E::TransparencyLog(t) => match t {
                TransparencyLogError::UnknownLog { log_id } => Self::UnknownLog(log_id),
                TransparencyLogError::InclusionProof(d) => Self::InclusionProof(d),
                TransparencyLogError::Checkpoint(d) => Self::Checkpoint(d),
                TransparencyLogError::InclusionPromise(d) => Self::InclusionPromise(d),
                TransparencyLogError::EntryMismatch(d) => Self::LogEntryMismatch(d),
                TransparencyLogError::IntegratedTime(d) => Self::IntegratedTime(d),
                TransparencyLogError::MalformedEntry(d) => Self::LogEntryMalformed(d),
                _ => Self::LogEntryMalformed(text),
            },
            E::Timestamp(t) => match t {
                TimestampError::NoVerifiedTimestamp(d) => Self::NoVerifiedTime(d),
                _ => Self::Timestamp(text),
            },
            E::InvalidBundle(d) => Self::InvalidBundle(d),
            E::UnsupportedBundle(d) => Self::UnsupportedBundle(d),
            E::InvalidTrustRoot(d) => Self::TrustedRoot(d),
            E::TrustRoot(d) => Self::TrustedRoot(d.to_string()),
            E::TrustedCertificate(d) => Self::TrustedRoot(d.to_string()),
            E::Types(d) => Self::BundleMalformed(d.to_string()),
            E::Crypto(d) => Self::Crypto(d.to_string()),
            E::Bundle(b) => from_bundle_rule(b),
            E::ArtifactRead(source) => Self::Io {
                what: "artifact",
                path: PathBuf::from("<reader>"),
                source,
            },
            _ => Self::InvalidBundle(text),
        }
    }
}

/// The structural rules sigstore-bundle enforces. Two of them are really
/// about the checkpoint and the proof, so they get those variants: a tampered
/// checkpoint root or proof index must read as such.
fn from_bundle_rule(b: sigstore_bundle::Error) -> SigstoreError {
    use sigstore_bundle::Error as B;
    match b {
        B::CheckpointRootMismatch => SigstoreError::Checkpoint(b.to_string()),
        B::LogIndexOutOfRange { .. } => SigstoreError::InclusionProof(b.to_string()),
        B::UnsupportedMediaType(_) | B::UnsupportedVerificationMaterial => {
            SigstoreError::UnsupportedBundle(b.to_string())
        }
        _ => SigstoreError::InvalidBundle(b.to_string()),
    }
}
