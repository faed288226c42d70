//! Offline verification of Sigstore bundles (v0.1, v0.2, v0.3) against a
//! pinned trusted root.
//!
//! # What comes from where
//!
//! The cryptographic engine is [sigstore-verify] 0.15 (sigstore-rust): Fulcio
//! chain building on rustls-webpki with the certificate checked at every
//! authenticated time, SCTs against the CT logs, Rekor v1 and v2 entries
//! (hashedrekord, intoto, dsse) matched against the bundle, Merkle inclusion
//! proofs, signed-note checkpoints by the log's key, signed entry timestamps,
//! RFC 3161 timestamps against the timestamp authorities, and `validFor`
//! windows (closed intervals). It passes every conformance case on its own.
//!
//! Ours, around it (see `docs/sigstore.md`):
//! - [`bundle`]: fail-closed pre-checks on the raw JSON (media types, content
//!   shape, empty chains, roots shipped in the bundle) and Go-protojson
//!   compatible base64 line breaks;
//! - [`certificate`] + [`policy`]: the identity policy, exact or anchored
//!   regex, over *all* SANs and both Fulcio issuer OIDs;
//! - [`keyed`]: key-based bundles with no log entry and no timestamp;
//! - [`trust`]: loading the trusted root with no compiled-in default;
//! - [`error`]: one error enum whose variants say what failed;
//! - a panic guard: a panic anywhere below is a failed verification;
//! - `sigcache`: remembers signature checks between trusted-root
//!   certificates (a speed-up, never a change of answer).
//!
//! # Example
//!
//! ```no_run
//! use verify::sigstore::{Artifact, IdentityPolicy, Policy, SigstoreBundle, SigstoreVerifier, TrustedRoot};
//! # fn main() -> Result<(), verify::sigstore::SigstoreError> {
//! let root = TrustedRoot::from_file("trusted_root.json".as_ref())?;
//! let verifier = SigstoreVerifier::new(&root)?;
//! let bundle = SigstoreBundle::from_json(&std::fs::read("a.txt.sigstore.json").unwrap())?;
//! let policy = Policy::Identity(IdentityPolicy::exact(
//!     "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main",
//!     "https://token.actions.githubusercontent.com",
//! ));
//! let verified = verifier.verify(&bundle, Artifact::Bytes(b"hello"), &policy)?;
//! println!("signed by {:?}", verified.signer);
//! # Ok(()) }
//! ```
//!
//! [sigstore-verify]: https://docs.rs/sigstore-verify

pub mod artifact;
pub mod bundle;
pub mod certificate;
pub mod error;
mod keyed;
pub mod policy;
mod sigcache;
pub mod trust;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use artifact::{Artifact, ArtifactSource};
pub use bundle::{SignerKind, SigstoreBundle};
pub use certificate::{CertificateIdentity, San};
pub use error::SigstoreError;
pub use policy::{IdentityPolicy, KeyPolicy, Matcher, Policy};
pub use trust::{TrustedRoot, TRUSTED_ROOT_ENV};

/// Who signed a verified bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A Fulcio certificate with these (policy-checked) claims.
    Certificate(CertificateIdentity),
    /// The public key given in the policy.
    Key,
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Bundle format version ("0.1", "0.2", "0.3").
    pub bundle_version: &'static str,
    /// The signer that the policy accepted.
    pub signer: Signer,
    /// Earliest log integrated time (Unix seconds) authenticated by a signed
    /// entry timestamp, for Rekor v1 entries.
    pub integrated_time: Option<i64>,
    /// Every authenticated time (Unix seconds) the certificate was checked at.
    pub verified_times: Vec<i64>,
    /// Whether inclusion in a transparency log was proven.
    pub tlog_verified: bool,
    /// Number of transparency log entries in the bundle.
    pub tlog_entries: usize,
}

/// A verifier prepared for one trusted root; cheap to share across threads.
pub struct SigstoreVerifier {
    engine: sigstore_verify::Verifier,
}

impl std::fmt::Debug for SigstoreVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigstoreVerifier").finish_non_exhaustive()
    }
}

impl SigstoreVerifier {
    /// Prepare the trust material (parses every key and CA certificate once,
    /// rejecting unusable ones now rather than at verification time).
    pub fn new(root: &TrustedRoot) -> Result<Self, SigstoreError> {
        let r = &root.inner;
        let chains = r
            .certificate_authorities
            .iter()
            .map(|ca| &ca.cert_chain)
            .chain(r.timestamp_authorities.iter().map(|tsa| &tsa.cert_chain));
        sigcache::register_trusted_certificates(
            chains.flat_map(|c| c.certificates.iter().map(|e| e.raw_bytes.as_bytes())),
        );
        let engine = guard(|| sigstore_verify::Verifier::new(&root.inner).map_err(Into::into))?;
        Ok(Self { engine })
    }

    /// Verify `bundle` over `artifact` under `policy`.
    ///
    /// Never panics: a panic in any layer below is reported as
    /// [`SigstoreError::Internal`], i.e. as "not verified".
    pub fn verify(
        &self,
        bundle: &SigstoreBundle,
        artifact: Artifact<'_>,
        policy: &Policy,
    ) -> Result<Verified, SigstoreError> {
        guard(|| match policy {
            Policy::Identity(p) => self.verify_keyless(bundle, artifact, p),
            Policy::Key(p) => self.verify_keyed(bundle, artifact, p),
        })
    }

    fn verify_keyless(
        &self,
        bundle: &SigstoreBundle,
        artifact: Artifact<'_>,
        policy: &IdentityPolicy,
    ) -> Result<Verified, SigstoreError> {
        if bundle.signer_kind() != SignerKind::Certificate {
            return Err(SigstoreError::SignerKind(format!(
                "bundle is signed with a public key (hint {:?}), not a certificate; verify it \
                 with the key",
                bundle.public_key_hint().unwrap_or_default()
            )));
        }
        // The engine checks everything but the identity; our policy runs only
        // on a bundle that is otherwise valid, so a tampered certificate is
        // reported as a certificate failure, not as "wrong identity".
        let result = self.engine.verify(
            artifact.to_sigstore(),
            &bundle.inner,
            &sigstore_verify::VerificationPolicy::any_identity(),
        )?;
        let der = bundle.signing_certificate_der().ok_or_else(|| {
            SigstoreError::InvalidBundle("bundle has no signing certificate".into())
        })?;
        let identity = certificate::identity(der)?;
        policy.check(&identity)?;
        Ok(Verified {
            bundle_version: bundle.version(),
            signer: Signer::Certificate(identity),
            integrated_time: result.integrated_time().map(|t| t.as_second()),
            verified_times: result
                .verified_timestamps()
                .iter()
                .map(|t| t.as_second())
                .collect(),
            tlog_verified: result.tlog_verified(),
            tlog_entries: bundle.tlog_entry_count(),
        })
    }

    fn verify_keyed(
        &self,
        bundle: &SigstoreBundle,
        artifact: Artifact<'_>,
        policy: &KeyPolicy,
    ) -> Result<Verified, SigstoreError> {
        if bundle.signer_kind() != SignerKind::PublicKey {
            return Err(SigstoreError::SignerKind(
                "bundle is signed with a certificate, but a public key was given".into(),
            ));
        }
        let mut verified = Verified {
            bundle_version: bundle.version(),
            signer: Signer::Key,
            integrated_time: None,
            verified_times: Vec::new(),
            tlog_verified: false,
            tlog_entries: bundle.tlog_entry_count(),
        };
        let engine_policy = sigstore_verify::PublicKeyVerificationPolicy::new(policy.key.clone());
        let engine_policy = if bundle.tlog_entry_count() > 0 {
            // Entries present: all of them must verify, whatever the policy says.
            engine_policy
        } else if !policy.allow_missing_tlog {
            return Err(SigstoreError::MissingLogEntry);
        } else if bundle.timestamp_count() > 0 {
            // Nothing to skip but absent entries; timestamps still must verify.
            engine_policy.skip_tlog_unsafe()
        } else {
            keyed::verify_without_log(bundle, artifact, policy)?;
            return Ok(verified);
        };
        let result = self
            .engine
            .verify(artifact.to_sigstore(), &bundle.inner, &engine_policy)?;
        verified.integrated_time = result.integrated_time().map(|t| t.as_second());
        verified.verified_times = result
            .verified_timestamps()
            .iter()
            .map(|t| t.as_second())
            .collect();
        verified.tlog_verified = result.tlog_verified() && bundle.tlog_entry_count() > 0;
        Ok(verified)
    }
}

/// Run `f`, turning a panic into [`SigstoreError::Internal`].
///
/// Why: the engine parses attacker-supplied DER, JSON and checkpoints. We
/// found no panics, but a verifier must never crash (or worse, be skipped by a
/// caller that treats a crash oddly) on hostile input; a panic is a "no".
fn guard<T>(f: impl FnOnce() -> Result<T, SigstoreError>) -> Result<T, SigstoreError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        Err(SigstoreError::Internal(msg))
    })
}
