//! A small private CA for tests and small teams (`attest ca`), and loading certificate
//! chains for signing.
//!
//! CA directory layout (written by [`init_ca`]): `root.pem`, `root.key`, optionally
//! `intermediate.pem` and `intermediate.key`, and `trusted_root.json` (Sigstore trusted-root
//! form listing the CA, for verifiers such as `@sigstore/verify`). Leaf certificates are
//! issued by the intermediate when there is one, else by the root.
//!
//! Invariants: issued leaves carry keyUsage digitalSignature, extendedKeyUsage codeSigning,
//! basicConstraints CA:FALSE and authority/subject key identifiers (verifiers build paths
//! with them); a chain we emit never contains a self-signed (root) certificate.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose, SanType,
};
use x509_cert::der::Encode;

use crate::dsse::b64;
use crate::keys::{self, KeyError, KeyType, PrivateKey, PublicKey};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{path}: {reason}")]
    Bad { path: PathBuf, reason: String },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{path}: the first certificate's public key is not the signing key ({key_id}); pass the chain issued for this key")]
    KeyMismatch { path: PathBuf, key_id: String },
    #[error("{0}: not an identity for a certificate; use email:NAME@DOMAIN or uri:URI")]
    Identity(String),
}

/// A chain as bundles carry it: DER, leaf first, no root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub certs: Vec<Vec<u8>>,
}

impl Chain {
    pub fn leaf(&self) -> &[u8] {
        &self.certs[0]
    }
}

fn is_self_signed(c: &x509_cert::Certificate) -> bool {
    c.tbs_certificate.subject == c.tbs_certificate.issuer
}

/// Loads a PEM chain (leaf first), checks that the leaf certifies `key`, and drops any
/// self-signed certificate: a root in a bundle would let the bundle vouch for itself.
pub fn load_chain(path: &Path, key: &PublicKey) -> Result<Chain, CertError> {
    let text = keys::read_small(path)?;
    let certs =
        x509_cert::Certificate::load_pem_chain(text.as_bytes()).map_err(|e| CertError::Bad {
            path: path.into(),
            reason: format!("not a PEM certificate chain: {e}"),
        })?;
    let leaf = certs.first().ok_or_else(|| CertError::Bad {
        path: path.into(),
        reason: "no certificate in the file".into(),
    })?;
    let spki = leaf
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| CertError::Bad {
            path: path.into(),
            reason: e.to_string(),
        })?;
    if spki != key.spki_der() {
        return Err(CertError::KeyMismatch {
            path: path.into(),
            key_id: key.key_id(),
        });
    }
    let mut out = Vec::new();
    for (i, c) in certs.iter().enumerate() {
        if i > 0 && is_self_signed(c) {
            continue;
        }
        out.push(c.to_der().map_err(|e| CertError::Bad {
            path: path.into(),
            reason: e.to_string(),
        })?);
    }
    Ok(Chain { certs: out })
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rcgen_key(k: &PrivateKey) -> Result<rcgen::KeyPair, CertError> {
    // rcgen picks the signature algorithm from the key: ECDSA P-256 SHA-256, Ed25519,
    // RSA PKCS#1 v1.5 SHA-256.
    Ok(rcgen::KeyPair::try_from(k.pkcs8_der())?)
}

fn ca_params(cn: &str, days: i64, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "attest test CA");
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // Backdated a little: clocks of signer and verifier differ.
    p.not_before = now() - time::Duration::minutes(5);
    p.not_after = now() + time::Duration::days(days);
    p.use_authority_key_identifier_extension = true;
    p
}

/// What `attest ca init` creates.
pub struct CaFiles {
    pub root_pem: String,
    pub root_key: PrivateKey,
    pub intermediate: Option<(String, PrivateKey)>,
}

/// Creates a self-signed root and optionally an intermediate signed by it.
pub fn init_ca(
    name: &str,
    kind: KeyType,
    days: i64,
    intermediate: bool,
) -> Result<CaFiles, CertError> {
    let root_key = PrivateKey::generate(kind, 3072)?;
    let root_rc = rcgen_key(&root_key)?;
    let root_params = ca_params(&format!("{name} root"), days, Some(1));
    let root = root_params.self_signed(&root_rc)?;
    let inter = if intermediate {
        let ikey = PrivateKey::generate(kind, 3072)?;
        let irc = rcgen_key(&ikey)?;
        let iparams = ca_params(&format!("{name} intermediate"), days, Some(0));
        let issuer = Issuer::new(root_params, &root_rc);
        let icert = iparams.signed_by(&irc, &issuer)?;
        Some((icert.pem(), ikey))
    } else {
        None
    };
    Ok(CaFiles {
        root_pem: root.pem(),
        root_key,
        intermediate: inter,
    })
}

fn parse_identity(id: &str) -> Result<SanType, CertError> {
    let bad = || CertError::Identity(id.to_owned());
    if let Some(e) = id.strip_prefix("email:") {
        Ok(SanType::Rfc822Name(e.try_into().map_err(|_| bad())?))
    } else if let Some(u) = id.strip_prefix("uri:") {
        Ok(SanType::URI(u.try_into().map_err(|_| bad())?))
    } else {
        Err(bad())
    }
}

/// Issues a code-signing leaf for `subject_key` under the CA in `ca_dir`. Returns the chain
/// PEM: the leaf, then the intermediate when there is one; never the root.
pub fn issue_leaf(
    ca_dir: &Path,
    subject_key: &PublicKey,
    identity: &str,
    days: i64,
) -> Result<String, CertError> {
    let inter_pem = ca_dir.join("intermediate.pem");
    let (ca_pem_path, ca_key_path) = if inter_pem.exists() {
        (inter_pem, ca_dir.join("intermediate.key"))
    } else {
        (ca_dir.join("root.pem"), ca_dir.join("root.key"))
    };
    let ca_pem = keys::read_small(&ca_pem_path)?;
    let ca_key = PrivateKey::load(&ca_key_path)?;
    let ca_rc = rcgen_key(&ca_key)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_rc).map_err(|e| CertError::Bad {
        path: ca_pem_path.clone(),
        reason: format!("not a CA certificate: {e}"),
    })?;
    let spki = rcgen::SubjectPublicKeyInfo::from_der(subject_key.spki_der())?;
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(
        DnType::CommonName,
        identity.split_once(':').map(|x| x.1).unwrap_or(identity),
    );
    p.subject_alt_names = vec![parse_identity(identity)?];
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p.not_before = now() - time::Duration::minutes(5);
    p.not_after = now() + time::Duration::days(days);
    p.use_authority_key_identifier_extension = true;
    let leaf = p.signed_by(&spki, &issuer)?;
    let mut out = leaf.pem();
    if ca_pem_path.ends_with("intermediate.pem") {
        out.push_str(&ca_pem);
    }
    Ok(out)
}

/// A Sigstore `trusted_root.json` that lists this CA as a certificate authority (chain:
/// intermediate, then root) and nothing else: no transparency logs, no CT logs, no TSAs.
pub fn trusted_root_json(ca_dir: &Path, name: &str) -> Result<serde_json::Value, CertError> {
    let mut chain = Vec::new();
    let mut start = None;
    for f in ["intermediate.pem", "root.pem"] {
        let p = ca_dir.join(f);
        if !p.exists() {
            continue;
        }
        let text = keys::read_small(&p)?;
        let c = x509_cert::Certificate::load_pem_chain(text.as_bytes()).map_err(|e| {
            CertError::Bad {
                path: p.clone(),
                reason: e.to_string(),
            }
        })?;
        for cert in c {
            if f == "root.pem" {
                let nb = cert
                    .tbs_certificate
                    .validity
                    .not_before
                    .to_unix_duration()
                    .as_secs();
                start = Some(sbom::format::rfc3339(nb as i64));
            }
            let der = cert.to_der().map_err(|e| CertError::Bad {
                path: p.clone(),
                reason: e.to_string(),
            })?;
            chain.push(serde_json::json!({"rawBytes": b64(&der)}));
        }
    }
    Ok(serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [],
        "certificateAuthorities": [{
            "subject": {"organization": "attest test CA", "commonName": name},
            "uri": "https://example.invalid/attest-test-ca",
            "certChain": {"certificates": chain},
            "validFor": {"start": start.unwrap_or_else(|| sbom::format::rfc3339(0))},
        }],
        "ctlogs": [],
        "timestampAuthorities": [],
    }))
}
