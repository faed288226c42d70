//! Reading what a Fulcio certificate says about its subject.
//!
//! Chain building and signature checks are sigstore-verify's (on
//! rustls-webpki). This module only *reads* the leaf so our identity policy
//! can see every subject alternative name (sigstore-crypto keeps only the
//! first email or URI) and both Fulcio issuer extensions:
//!
//! - `1.3.6.1.4.1.57264.1.8`: OIDC issuer, DER UTF8String (current);
//! - `1.3.6.1.4.1.57264.1.1`: OIDC issuer, raw string bytes (deprecated,
//!   still in older certificates). Used only when `.1.8` is absent.
//!
//! Fulcio also encodes a username identity as an OtherName SAN of type
//! `1.3.6.1.4.1.57264.1.7` (UTF8String); we read that too.

use x509_cert::der::asn1::{ObjectIdentifier, Utf8StringRef};
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use super::error::SigstoreError;

const OID_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const OID_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
const OID_USERNAME_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// A subject alternative name we can match a policy against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// rfc822Name
    Email(String),
    /// uniformResourceIdentifier
    Uri(String),
    /// dNSName (not issued by Fulcio, but a private CA might)
    Dns(String),
    /// Fulcio username OtherName
    Username(String),
}

impl San {
    /// The value regardless of kind.
    pub fn value(&self) -> &str {
        match self {
            Self::Email(v) | Self::Uri(v) | Self::Dns(v) | Self::Username(v) => v,
        }
    }
}

/// The identity claims of a signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// Every SAN we understand, in certificate order.
    pub sans: Vec<San>,
    /// The OIDC issuer from the Fulcio extension, if any.
    pub issuer: Option<String>,
}

fn parse(der: &[u8]) -> Result<Certificate, SigstoreError> {
    Certificate::from_der(der).map_err(|e| SigstoreError::CertificateMalformed(e.to_string()))
}

/// Read the identity claims of a DER certificate.
///
/// Fails closed: a SAN or issuer extension that is present but malformed is
/// an error, never "no identity".
pub fn identity(der: &[u8]) -> Result<CertificateIdentity, SigstoreError> {
    let cert = parse(der)?;
    let mut sans = Vec::new();
    let san: Option<(bool, SubjectAltName)> = cert
        .tbs_certificate
        .get()
        .map_err(|e| SigstoreError::CertificateMalformed(format!("subjectAltName: {e}")))?;
    if let Some((_, SubjectAltName(names))) = san {
        for name in names {
            match name {
                GeneralName::Rfc822Name(s) => sans.push(San::Email(s.to_string())),
                GeneralName::UniformResourceIdentifier(s) => sans.push(San::Uri(s.to_string())),
                GeneralName::DnsName(s) => sans.push(San::Dns(s.to_string())),
                GeneralName::OtherName(o) if o.type_id == OID_USERNAME_SAN => {
                    let v: Utf8StringRef<'_> = o.value.decode_as().map_err(|e| {
                        SigstoreError::CertificateMalformed(format!("username SAN: {e}"))
                    })?;
                    sans.push(San::Username(v.to_string()));
                }
                _ => {}
            }
        }
    }
    Ok(CertificateIdentity {
        sans,
        issuer: issuer(&cert)?,
    })
}

fn issuer(cert: &Certificate) -> Result<Option<String>, SigstoreError> {
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    let find = |oid| {
        let mut it = exts.iter().filter(move |e| e.extn_id == oid);
        let first = it.next();
        // A duplicated extension is ambiguous: which issuer would we check?
        if it.next().is_some() {
            return Err(SigstoreError::CertificateMalformed(format!(
                "extension {oid} appears more than once"
            )));
        }
        Ok(first)
    };
    if let Some(ext) = find(OID_ISSUER_V2)? {
        let v = Utf8StringRef::from_der(ext.extn_value.as_bytes()).map_err(|e| {
            SigstoreError::CertificateMalformed(format!("OIDC issuer extension (.1.8): {e}"))
        })?;
        return Ok(Some(v.to_string()));
    }
    if let Some(ext) = find(OID_ISSUER_V1)? {
        let v = std::str::from_utf8(ext.extn_value.as_bytes()).map_err(|e| {
            SigstoreError::CertificateMalformed(format!("OIDC issuer extension (.1.1): {e}"))
        })?;
        return Ok(Some(v.to_string()));
    }
    Ok(None)
}

/// Whether a certificate is self-issued (subject equals issuer), as roots are.
pub fn is_self_signed(der: &[u8]) -> Result<bool, SigstoreError> {
    let cert = parse(der)?;
    // Compare the encodings: Name equality on the parsed form would also do,
    // but the DER is what a path builder compares.
    let subject = cert.tbs_certificate.subject.to_der();
    let issuer = cert.tbs_certificate.issuer.to_der();
    match (subject, issuer) {
        (Ok(s), Ok(i)) => Ok(s == i),
        (Err(e), _) | (_, Err(e)) => Err(SigstoreError::CertificateMalformed(e.to_string())),
    }
}
