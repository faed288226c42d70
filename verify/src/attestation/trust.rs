//! Whom an attestation may be signed by, loaded once from the policy: PEM public keys per
//! role, CA certificates per role, and optionally a Sigstore trusted root with the
//! certificate identities accepted through it.
//!
//! Everything is parsed and validated here, so a key or certificate file that is not
//! what it claims is the caller's input error (exit 2 upstream), never a finding, and the
//! per-envelope path does no parsing of trust material at all: each key is handed to
//! aws-lc once ([`ParsedPublicKey`]) and reused for every signature.

use std::path::{Path, PathBuf};

use attest::keys::{KeyType, PublicKey};
use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use super::input::Parsed;
use super::AttestationError;
use crate::policy::{AttestationRole as Role, Policy};
use crate::report::KeyInfo;
use crate::sigstore::{IdentityPolicy, SigstoreVerifier, TrustedRoot};

/// Largest certificate file read from `[roots]`.
const MAX_ROOTS_FILE: u64 = 4 * 1024 * 1024;

/// A public key trusted for one role.
pub(crate) struct TrustedKey {
    pub(crate) source: PathBuf,
    /// Our key id: hex SHA-256 of the SPKI DER (what `attest` writes as the DSSE keyid).
    pub(crate) key_id: String,
    pub(crate) kind: KeyType,
    pub(crate) rsa_bits: usize,
    /// One parsed key per signature encoding we accept (ECDSA DER and fixed-width,
    /// RSA PKCS#1 v1.5 and PSS), so no signature check parses the key again.
    verifiers: Vec<ParsedPublicKey>,
    /// The SPKI as PEM, for the Sigstore verifier's key policy.
    pub(crate) pem: String,
    /// Made once: it is in the reason of every finding the key verifies.
    described: String,
}

impl TrustedKey {
    fn load(path: &Path) -> Result<Self, AttestationError> {
        let public = PublicKey::load(path)?;
        let algs: &[&'static dyn sig::VerificationAlgorithm] = match public.kind() {
            KeyType::EcdsaP256 => &[&sig::ECDSA_P256_SHA256_ASN1, &sig::ECDSA_P256_SHA256_FIXED],
            KeyType::Ed25519 => &[&sig::ED25519],
            KeyType::Rsa => &[
                &sig::RSA_PKCS1_2048_8192_SHA256,
                &sig::RSA_PSS_2048_8192_SHA256,
            ],
        };
        let verifiers = algs
            .iter()
            .map(|alg| ParsedPublicKey::new(*alg, public.spki_der()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AttestationError::Trust {
                path: path.to_path_buf(),
                reason: format!("aws-lc refuses the key: {e}"),
            })?;
        let key_id = public.key_id();
        Ok(Self {
            described: format!("{} ({})", &key_id[..16], path.display()),
            source: path.to_path_buf(),
            key_id,
            kind: public.kind(),
            rsa_bits: public.rsa_bits(),
            verifiers,
            pem: public.to_pem(),
        })
    }

    /// Whether `sig` could be this key's signature at all, by its length alone: Ed25519
    /// is 64 bytes, ECDSA P-256 8 to 72 (DER) or 64 (fixed), RSA the modulus length.
    fn may_be_ours(&self, sig: &[u8]) -> bool {
        match self.kind {
            KeyType::Ed25519 => sig.len() == 64,
            KeyType::EcdsaP256 => (8..=72).contains(&sig.len()),
            KeyType::Rsa => sig.len() == self.rsa_bits.div_ceil(8),
        }
    }

    /// Whether `sig` is this key's signature over the envelope's PAE, in any encoding we
    /// accept. ECDSA and RSA verify the envelope's one SHA-256 of the PAE; Ed25519 hashes
    /// the PAE itself.
    pub(crate) fn verify(&self, p: &Parsed, sig: &[u8]) -> bool {
        if !self.may_be_ours(sig) {
            return false;
        }
        self.verifiers.iter().enumerate().any(|(i, v)| {
            // Fixed-width ECDSA is exactly 64 bytes; skip the second parse otherwise.
            if self.kind == KeyType::EcdsaP256 && i == 1 && sig.len() != 64 {
                return false;
            }
            match self.kind {
                KeyType::Ed25519 => v.verify_sig(p.pae(), sig).is_ok(),
                KeyType::EcdsaP256 | KeyType::Rsa => {
                    v.verify_digest_sig(p.pae_sha256(), sig).is_ok()
                }
            }
        })
    }

    pub(crate) fn algorithm(&self) -> String {
        match self.kind {
            KeyType::EcdsaP256 => "ECDSA-P256".into(),
            KeyType::Ed25519 => "Ed25519".into(),
            KeyType::Rsa => format!("RSA-{}", self.rsa_bits),
        }
    }

    /// `<key id prefix> (path)`: the key and the file it came from, for reasons.
    pub(crate) fn describe(&self) -> &str {
        &self.described
    }
}

/// The trust material of one role.
#[derive(Default)]
pub(crate) struct RoleTrust {
    pub(crate) keys: Vec<TrustedKey>,
    /// Self-signed certificates of `[roots] <role>`.
    pub(crate) anchors: Vec<TrustAnchor<'static>>,
    /// Other certificates of `[roots] <role>`: usable to build a path, never an end.
    pub(crate) intermediates: Vec<CertificateDer<'static>>,
    pub(crate) root_files: Vec<PathBuf>,
}

/// The Sigstore trusted root and the identities accepted through it.
pub(crate) struct SigstoreTrust {
    pub(crate) verifier: SigstoreVerifier,
    pub(crate) source: PathBuf,
    /// Per role: the identity policies, with a description for reasons.
    pub(crate) identities: [Vec<(IdentityPolicy, String)>; 2],
}

/// Everything an attestation is judged against, built from the policy.
pub struct Trust {
    pub(crate) roles: [RoleTrust; 2],
    pub(crate) sigstore: Option<SigstoreTrust>,
    pub(crate) max_age_secs: i64,
    pub(crate) allowed_builders: Vec<String>,
    pub(crate) allowed_build_types: Vec<String>,
    pub(crate) required_predicates: Vec<String>,
    pub(crate) required_package_predicates: Vec<String>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("keys", &self.key_infos())
            .field("sigstore", &self.sigstore.as_ref().map(|s| &s.source))
            .finish_non_exhaustive()
    }
}

pub(crate) fn index(role: Role) -> usize {
    match role {
        Role::Provenance => 0,
        Role::Sbom => 1,
    }
}

pub(crate) const ROLES: [Role; 2] = [Role::Provenance, Role::Sbom];

impl Trust {
    /// Loads and checks every key, certificate and trusted root the policy names.
    pub fn from_policy(p: &Policy) -> Result<Trust, AttestationError> {
        let mut roles: [RoleTrust; 2] = Default::default();
        for role in ROLES {
            let (keys, roots) = match role {
                Role::Provenance => (&p.keys.provenance, &p.roots.provenance),
                Role::Sbom => (&p.keys.sbom, &p.roots.sbom),
            };
            let r = &mut roles[index(role)];
            for k in keys {
                r.keys.push(TrustedKey::load(k)?);
            }
            for file in roots {
                load_roots(file, r)?;
            }
            if !roots.is_empty() && r.anchors.is_empty() {
                return Err(AttestationError::Trust {
                    path: roots[0].clone(),
                    reason: format!(
                        "roots.{}: no self-signed (root) certificate in these files; \
                         intermediates alone anchor nothing",
                        role.name()
                    ),
                });
            }
        }
        let sigstore = match &p.roots.sigstore {
            None => None,
            Some(path) => {
                let sig_err = |e: crate::sigstore::SigstoreError| AttestationError::Trust {
                    path: path.clone(),
                    reason: e.to_string(),
                };
                let root = TrustedRoot::from_file(path).map_err(sig_err)?;
                let verifier = SigstoreVerifier::new(&root).map_err(sig_err)?;
                let mut identities: [Vec<(IdentityPolicy, String)>; 2] = Default::default();
                for id in &p.roots.identities {
                    let policy = id.to_identity_policy().map_err(sig_err)?;
                    let what = format!("{} from {}", policy.identity, policy.issuer);
                    identities[index(id.role)].push((policy, what));
                }
                Some(SigstoreTrust {
                    verifier,
                    source: path.clone(),
                    identities,
                })
            }
        };
        let max_age = p.max_attestation_age().as_secs();
        Ok(Trust {
            roles,
            sigstore,
            max_age_secs: i64::try_from(max_age).unwrap_or(i64::MAX),
            allowed_builders: p.attestations.allowed_builders.clone(),
            allowed_build_types: p.attestations.allowed_build_types.clone(),
            required_predicates: p.attestations.required_predicates.clone(),
            required_package_predicates: p.attestations.required_package_predicates.clone(),
        })
    }

    pub(crate) fn role(&self, role: Role) -> &RoleTrust {
        &self.roles[index(role)]
    }

    /// The trusted attestation keys, for the report's `trustedKeys` (role `provenance` or
    /// `sbom`, the key id as fingerprint).
    pub fn key_infos(&self) -> Vec<KeyInfo> {
        let mut out = Vec::new();
        for role in ROLES {
            for k in &self.role(role).keys {
                out.push(KeyInfo {
                    role: role.name().into(),
                    fingerprint: k.key_id.clone(),
                    user_id: String::new(),
                    algorithm: k.algorithm(),
                    source: k.source.display().to_string(),
                });
            }
        }
        out
    }

    /// Whether anything at all could make an attestation pass the signature check.
    pub fn trusts_anything(&self) -> bool {
        self.roles
            .iter()
            .any(|r| !r.keys.is_empty() || !r.anchors.is_empty())
            || self
                .sigstore
                .as_ref()
                .is_some_and(|s| s.identities.iter().any(|i| !i.is_empty()))
    }
}

/// Reads one `[roots]` PEM file: self-signed certificates become anchors, the others
/// intermediates. Every certificate must parse.
fn load_roots(path: &Path, into: &mut RoleTrust) -> Result<(), AttestationError> {
    let bad = |reason: String| AttestationError::Trust {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = crate::sigstore::trust::read_limited(path, "certificate file", MAX_ROOTS_FILE)
        .map_err(|e| bad(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE block in the file".into()));
    }
    for (i, c) in certs.into_iter().enumerate() {
        let self_signed = crate::sigstore::certificate::is_self_signed(c.as_ref())
            .map_err(|e| bad(format!("certificate {i}: {e}")))?;
        if self_signed {
            let anchor = webpki::anchor_from_trusted_cert(&c)
                .map_err(|e| bad(format!("certificate {i}: {e}")))?
                .to_owned();
            into.anchors.push(anchor);
        } else {
            webpki::EndEntityCert::try_from(&c)
                .map_err(|e| bad(format!("certificate {i}: {e}")))?;
            into.intermediates.push(c);
        }
    }
    into.root_files.push(path.to_path_buf());
    Ok(())
}
