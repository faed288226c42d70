//! `attestation.signature`: who signed the envelope, and may they sign this role?
//!
//! Three ways to trust a signer, chosen by what the input carries:
//!
//! 1. **Pinned keys** (`[keys] <role>`): the DSSE signature over the PAE verifies with a
//!    key trusted for the statement's role. Every key of the role is tried; the DSSE
//!    `keyid` (or bundle key hint) only decides which one is tried first. A key-based
//!    bundle without log entries is accepted this way: the key is pinned by the policy,
//!    which is explicit trust, and a log entry would add publicity, not authenticity.
//! 2. **Certificates under `[roots] <role>`** (a bundle's `certificate` or
//!    `x509CertificateChain`): the chain is built with rustls-webpki to a self-signed
//!    certificate of the role's roots files (other certificates there serve as
//!    intermediates), with the code-signing EKU, and the certificate must be valid *now*:
//!    without a trusted timestamp or log entry, nothing else says when it signed. A root
//!    certificate shipped in the bundle is refused.
//! 3. **The Sigstore engine** (`[roots] sigstore`), for bundles that carry transparency
//!    log entries or signed timestamps: [`crate::sigstore::SigstoreVerifier`] checks the
//!    signature, the certificate chain at the authenticated times, SCTs, log inclusion and
//!    entry consistency, and the identity policy of `[roots] identities` for the role.
//!
//! Using the engine for signatures only: for a DSSE bundle, sigstore-verify 0.15 binds the
//! artifact in one step, `requirements.verify_binding`, which accepts when *any* subject's
//! `sha256` equals the artifact's digest; the signature, chain, SCT, log and consistency
//! steps do not look at the artifact (consistency of dsse/intoto and v2 hashedrekord
//! entries is checked against the envelope). We hand the engine a digest taken from the
//! statement's own subjects, which makes its binding step hold by construction and leaves
//! every other step as it is; the binding that matters, statement to image, is
//! `attestation.subject`, which runs on every statement whichever way it was signed. A
//! statement with no `sha256` subject (our `rootfsSha256` and `rpmHeaderSha256` subjects)
//! is refused by the engine before it verifies anything, so such a bundle with log
//! entries fails as `unsupported-bundle` rather than being judged on part of its evidence.

use std::borrow::Cow;
use std::time::Duration;

use attest::keys::{PublicKey, RsaPadding};
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use super::input::{clip, Material, Parsed, Sig};
use super::trust::{index, RoleTrust, Trust, TrustedKey};
use crate::policy::AttestationRole as Role;
use crate::sigstore::{Artifact, KeyPolicy, Policy, SigstoreBundle, SigstoreError};

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), the OID's content octets as webpki wants them.
const ID_KP_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// The signature check's verdict.
pub(crate) enum SigResult {
    /// Trusted; the authenticated times (Unix seconds) the engine established, if any.
    Pass {
        reason: String,
        times: Vec<i64>,
    },
    Fail {
        kind: &'static str,
        reason: String,
    },
}

fn fail(kind: &'static str, reason: impl Into<String>) -> SigResult {
    SigResult::Fail {
        kind,
        reason: reason.into(),
    }
}

fn other(role: Role) -> Role {
    match role {
        Role::Provenance => Role::Sbom,
        Role::Sbom => Role::Provenance,
    }
}

/// Checks the signature of `p` for `role`. `artifact` is the statement's first `sha256`
/// subject digest (for the Sigstore engine; see the module documentation).
pub(crate) fn verify(
    p: &Parsed,
    role: Role,
    artifact: Option<[u8; 32]>,
    trust: &Trust,
    now: i64,
) -> SigResult {
    let engine = p.material.has_log_or_time() && trust.sigstore.is_some();
    let note = unchecked_note(&p.material, trust);
    match &p.material {
        Material::Plain => with_keys(p, role, trust, ""),
        Material::BundleKey(b) if engine => engine_key(p, b, role, artifact, trust),
        Material::BundleKey(_) => with_keys(p, role, trust, &note),
        Material::BundleCert { bundle, .. } if engine => engine_cert(bundle, role, artifact, trust),
        Material::BundleCert { chain, .. } => with_certificate(p, chain, role, trust, now, &note),
    }
}

/// Says so when a bundle's log entries or timestamps go unchecked for want of a root.
fn unchecked_note(m: &Material, trust: &Trust) -> String {
    match m.bundle() {
        Some(b) if trust.sigstore.is_none() && m.has_log_or_time() => format!(
            "; its {} log entries and {} timestamps were not checked (no [roots] sigstore)",
            b.tlog_entry_count(),
            b.timestamp_count()
        ),
        _ => String::new(),
    }
}

/// The first trusted key of `keys` that verifies one of the signatures. The keys a
/// signature's key id hint names are tried first (for every signature, before any other
/// pairing), then every other pairing; a signature whose length no key of a type can
/// have is never handed to such a key. Every check reuses the envelope's one hash of
/// the PAE (Ed25519 excepted, which hashes the message itself).
fn find_key<'k>(p: &Parsed, keys: &'k [TrustedKey]) -> Option<&'k TrustedKey> {
    let hinted = |s: &Sig, k: &TrustedKey| !s.keyid.is_empty() && k.key_id == s.keyid;
    let pairs = |want_hinted: bool| {
        p.signatures.iter().flat_map(move |s| {
            keys.iter()
                .filter(move |k| hinted(s, k) == want_hinted)
                .map(move |k| (s, k))
        })
    };
    pairs(true)
        .chain(pairs(false))
        .find(|(s, k)| k.verify(p, &s.sig))
        .map(|(_, k)| k)
}

fn with_keys(p: &Parsed, role: Role, trust: &Trust, note: &str) -> SigResult {
    let keys = &trust.role(role).keys;
    if let Some(k) = find_key(p, keys) {
        return SigResult::Pass {
            reason: format!("signed by {} key {}{note}", role.name(), k.describe()),
            times: Vec::new(),
        };
    }
    key_failure(p, role, trust)
}

/// Key id hints shown in a reason; the rest are counted.
const MAX_HINTS_SHOWN: usize = 4;

/// Why no trusted key verified: a trusted key named by the signature that does not verify
/// is a bad signature; a key trusted for the other role is the wrong role; else unknown.
fn key_failure(p: &Parsed, role: Role, trust: &Trust) -> SigResult {
    let keys = &trust.role(role).keys;
    if let Some(k) = p
        .signatures
        .iter()
        .find_map(|s| keys.iter().find(|k| k.key_id == s.keyid))
    {
        return fail(
            "bad-signature",
            format!(
                "the signature made with trusted {} key {} does not verify over the \
                 envelope's payload",
                role.name(),
                k.describe()
            ),
        );
    }
    if let Some(k) = find_key(p, &trust.role(other(role)).keys) {
        return fail(
            "wrong-role",
            format!(
                "signed by {} key {}, which is not trusted for {} statements",
                other(role).name(),
                k.describe(),
                role.name()
            ),
        );
    }
    if keys.is_empty() {
        return fail(
            "unknown-key",
            format!(
                "no key is trusted for {} statements ([keys] {} is empty)",
                role.name(),
                role.name()
            ),
        );
    }
    let mut hints: Vec<Cow<'_, str>> = p
        .signatures
        .iter()
        .take(MAX_HINTS_SHOWN)
        .map(|s| {
            if s.keyid.is_empty() {
                Cow::Borrowed("none")
            } else {
                clip(&s.keyid)
            }
        })
        .collect();
    if p.signatures.len() > MAX_HINTS_SHOWN {
        hints.push(Cow::Owned(format!(
            "and {} more",
            p.signatures.len() - MAX_HINTS_SHOWN
        )));
    }
    fail(
        "unknown-key",
        format!(
            "no [keys] {} key verifies the signature (key id hint {})",
            role.name(),
            hints.join(", ")
        ),
    )
}

/// Why a chain did not verify, sorted for the finding's kind.
enum ChainError {
    NoRoots,
    Expired(String),
    NotYetValid(String),
    Untrusted(String),
}

fn chain_to(leaf: &[u8], bundled: &[Vec<u8>], rt: &RoleTrust, now: i64) -> Result<(), ChainError> {
    if rt.anchors.is_empty() {
        return Err(ChainError::NoRoots);
    }
    let ee_der = CertificateDer::from(leaf);
    let ee = EndEntityCert::try_from(&ee_der)
        .map_err(|e| ChainError::Untrusted(format!("the certificate does not parse: {e}")))?;
    let mut intermediates: Vec<CertificateDer<'_>> = bundled
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    intermediates.extend(rt.intermediates.iter().cloned());
    let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
    ee.verify_for_usage(
        sigstore_crypto::WEBPKI_VERIFICATION_ALGS,
        &rt.anchors,
        &intermediates,
        time,
        // webpki applies the usage to every certificate of the path; CAs commonly carry
        // no EKU at all, so it is "required if present" here and the leaf's own EKU is
        // required by `leaf_key` (RFC 5280 4.2.1.12: an EKU constrains where present).
        KeyUsage::required_if_present(ID_KP_CODE_SIGNING),
        None,
        None,
    )
    .map(|_| ())
    .map_err(|e| match e {
        webpki::Error::CertExpired { .. } => ChainError::Expired(format!("{e:?}")),
        webpki::Error::CertNotValidYet { .. } => ChainError::NotYetValid(format!("{e:?}")),
        other => ChainError::Untrusted(format!("{other:?}")),
    })
}

fn with_certificate(
    p: &Parsed,
    chain: &[Vec<u8>],
    role: Role,
    trust: &Trust,
    now: i64,
    note: &str,
) -> SigResult {
    let Some(leaf) = chain.first() else {
        return fail(
            "untrusted-certificate",
            "the bundle's certificate chain is empty",
        );
    };
    match crate::sigstore::certificate::is_self_signed(leaf) {
        Ok(false) => {}
        Ok(true) => {
            return fail(
                "untrusted-certificate",
                "the signing certificate is self-signed: a root certificate shipped in the \
                 bundle would vouch for itself, and is refused",
            )
        }
        Err(e) => return fail("untrusted-certificate", e.to_string()),
    }
    let identity = match crate::sigstore::certificate::identity(leaf) {
        Ok(id) => id,
        Err(e) => return fail("untrusted-certificate", e.to_string()),
    };
    let names: Vec<&str> = identity.sans.iter().map(|s| s.value()).collect();
    let who = if names.is_empty() {
        "the certificate (no subject alternative name)".to_string()
    } else {
        format!("the certificate for {}", names.join(", "))
    };
    let rt = trust.role(role);
    let files = |rt: &RoleTrust| {
        rt.root_files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let when = "(no trusted timestamp or log entry, so it must be valid now)";
    match chain_to(leaf, &chain[1..], rt, now) {
        Ok(()) => {}
        Err(ChainError::Expired(e)) => {
            return fail(
                "expired-certificate",
                format!("{who} has expired {when}: {e}"),
            )
        }
        Err(ChainError::NotYetValid(e)) => {
            return fail(
                "certificate-not-yet-valid",
                format!("{who} is not valid yet: {e}"),
            )
        }
        Err(err) => {
            let o = trust.role(other(role));
            if chain_to(leaf, &chain[1..], o, now).is_ok() {
                return fail(
                    "wrong-role",
                    format!(
                        "{who} chains to [roots] {} ({}), which is not trusted for {} \
                         statements",
                        other(role).name(),
                        files(o),
                        role.name()
                    ),
                );
            }
            let why = match err {
                ChainError::NoRoots => format!("no [roots] {} are configured", role.name()),
                ChainError::Untrusted(e) => {
                    format!(
                        "it does not chain to [roots] {} ({}): {e}",
                        role.name(),
                        files(rt)
                    )
                }
                ChainError::Expired(e) | ChainError::NotYetValid(e) => e,
            };
            return fail(
                "untrusted-certificate",
                format!("{who} is not trusted: {why}"),
            );
        }
    }
    let key = match leaf_key(leaf) {
        Ok(k) => k,
        Err(e) => return fail("untrusted-certificate", format!("{who}: {e}")),
    };
    let pae = p.pae();
    let ok = p.signatures.iter().any(|s| {
        key.verify(pae, &s.sig, RsaPadding::Pkcs1v15) || key.verify(pae, &s.sig, RsaPadding::Pss)
    });
    if !ok {
        return fail(
            "bad-signature",
            format!("the signature does not verify with the key of {who}"),
        );
    }
    SigResult::Pass {
        reason: format!(
            "signed with {who}, which chains to [roots] {} ({}) with the code-signing usage \
             and is valid now{note}",
            role.name(),
            files(rt)
        ),
        times: Vec::new(),
    }
}

/// The leaf's public key, provided the leaf carries the code-signing extended key usage.
fn leaf_key(der: &[u8]) -> Result<PublicKey, String> {
    use x509_cert::der::{Decode, Encode};
    use x509_cert::ext::pkix::ExtendedKeyUsage;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
    const CODE_SIGNING: x509_cert::der::oid::ObjectIdentifier =
        x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    match cert.tbs_certificate.get::<ExtendedKeyUsage>() {
        Ok(Some((_, eku))) if eku.0.contains(&CODE_SIGNING) => {}
        Ok(_) => return Err("it lacks the code-signing extended key usage".into()),
        Err(e) => return Err(format!("extended key usage: {e}")),
    }
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    PublicKey::from_spki_der(&spki, std::path::Path::new("certificate")).map_err(|e| e.to_string())
}

/// A failed engine verification as (kind, reason).
fn engine_failure(e: &SigstoreError) -> SigResult {
    use SigstoreError as E;
    let kind = match e {
        E::Signature(_) => "bad-signature",
        E::CertificateChain(_) | E::CertificateMalformed(_) | E::SignerKind(_) | E::Sct(_) => {
            "untrusted-certificate"
        }
        E::CertificateValidity(_) => "expired-certificate",
        E::LogEntryMismatch(_)
        | E::LogEntryMalformed(_)
        | E::UnknownLog(_)
        | E::InclusionProof(_)
        | E::Checkpoint(_)
        | E::InclusionPromise(_)
        | E::IntegratedTime(_)
        | E::MissingLogEntry => "bad-log-entry",
        E::Timestamp(_) | E::NoVerifiedTime(_) => "bad-timestamp",
        E::UnsupportedBundle(_) => "unsupported-bundle",
        E::BundleJson(_) | E::BundleMalformed(_) | E::InvalidBundle(_) => "malformed-envelope",
        E::IdentityMismatch { .. } | E::IssuerMismatch { .. } => "untrusted-identity",
        _ => "sigstore-error",
    };
    fail(kind, format!("Sigstore verification: {e}"))
}

fn engine_pass(
    v: &crate::sigstore::Verified,
    who: String,
    st_source: &std::path::Path,
) -> SigResult {
    let mut times = v.verified_times.clone();
    times.extend(v.integrated_time);
    SigResult::Pass {
        reason: format!(
            "{who}; verified against [roots] sigstore ({}): {} log entries{}, {} authenticated \
             times",
            st_source.display(),
            v.tlog_entries,
            if v.tlog_verified { " verified" } else { "" },
            times.len()
        ),
        times,
    }
}

const NO_SHA256: &str = "the bundle carries log entries or timestamps, so it is verified by \
    the Sigstore engine, which binds a DSSE statement only through a sha256 subject; this \
    statement has none (rootfsSha256/rpmHeaderSha256 subjects are ours), so the bundle \
    cannot be verified as a whole";

fn engine_cert(
    b: &SigstoreBundle,
    role: Role,
    artifact: Option<[u8; 32]>,
    trust: &Trust,
) -> SigResult {
    let Some(st) = &trust.sigstore else {
        return fail("sigstore-error", "no [roots] sigstore");
    };
    let Some(digest) = artifact else {
        return fail("unsupported-bundle", NO_SHA256);
    };
    let ids = &st.identities[index(role)];
    let mut mismatch = None;
    for (policy, what) in ids {
        match st.verifier.verify(
            b,
            Artifact::Sha256(digest),
            &Policy::Identity(policy.clone()),
        ) {
            Ok(v) => return engine_pass(&v, format!("signed by identity {what}"), &st.source),
            Err(
                e @ (SigstoreError::IdentityMismatch { .. } | SigstoreError::IssuerMismatch { .. }),
            ) => {
                mismatch.get_or_insert(e.to_string());
            }
            Err(e) => return engine_failure(&e),
        }
    }
    for (policy, what) in &st.identities[index(other(role))] {
        let p = Policy::Identity(policy.clone());
        if st.verifier.verify(b, Artifact::Sha256(digest), &p).is_ok() {
            return fail(
                "wrong-role",
                format!(
                    "signed by identity {what}, which [roots] identities trusts for {} \
                     statements, not {}",
                    other(role).name(),
                    role.name()
                ),
            );
        }
    }
    match mismatch {
        Some(m) => fail(
            "untrusted-identity",
            format!(
                "no [roots] identities entry for {} matches: {m}",
                role.name()
            ),
        ),
        None => fail(
            "untrusted-identity",
            format!(
                "no certificate identity is trusted for {} statements ([roots] identities has \
                 none for this role)",
                role.name()
            ),
        ),
    }
}

fn engine_key(
    p: &Parsed,
    b: &SigstoreBundle,
    role: Role,
    artifact: Option<[u8; 32]>,
    trust: &Trust,
) -> SigResult {
    let Some(st) = &trust.sigstore else {
        return fail("sigstore-error", "no [roots] sigstore");
    };
    let Some(digest) = artifact else {
        return fail("unsupported-bundle", NO_SHA256);
    };
    let hint = b.public_key_hint().unwrap_or_default();
    let keys = &trust.role(role).keys;
    let ordered = keys
        .iter()
        .filter(|k| k.key_id == hint)
        .chain(keys.iter().filter(|k| k.key_id != hint));
    let mut first_error = None;
    for k in ordered {
        let policy = match KeyPolicy::from_pem(&k.pem) {
            Ok(kp) => Policy::Key(kp.allowing_missing_tlog(true)),
            Err(e) => return engine_failure(&e),
        };
        match st.verifier.verify(b, Artifact::Sha256(digest), &policy) {
            Ok(v) => {
                return engine_pass(
                    &v,
                    format!("signed by {} key {}", role.name(), k.describe()),
                    &st.source,
                )
            }
            // Another key may still verify; anything else fails whatever the key.
            Err(SigstoreError::Signature(_)) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return engine_failure(&e);
    }
    key_failure(p, role, trust)
}
