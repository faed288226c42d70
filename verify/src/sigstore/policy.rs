//! Who must have signed: the verification policy.
//!
//! Two kinds of signer are possible. A *keyless* (Fulcio certificate) bundle
//! is accepted only if the certificate's identity (a SAN) and OIDC issuer
//! match the policy, exactly or by regular expression. A *key-based* bundle
//! is accepted only with the public key the caller supplies; the bundle's key
//! hint is never trusted.
//!
//! Regular expressions are anchored (they must match the whole value): an
//! unanchored `https://github.com/org/.*` would also accept
//! `https://evil.example/?https://github.com/org/x`. Write `.*` explicitly
//! where a prefix or suffix match is meant.

use regex::Regex;
use sigstore_types::DerPublicKey;

use super::certificate::CertificateIdentity;
use super::error::SigstoreError;

/// Matches one string value, exactly or by an anchored regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Byte-for-byte equality.
    Exact(String),
    /// Anchored regular expression; the original pattern is kept for messages.
    Regex {
        /// As the user wrote it.
        pattern: String,
        /// Compiled as `^(?:pattern)$`.
        regex: Regex,
    },
}

impl Matcher {
    /// An exact matcher.
    pub fn exact(value: impl Into<String>) -> Self {
        Self::Exact(value.into())
    }

    /// An anchored regular-expression matcher.
    pub fn regex(pattern: &str) -> Result<Self, SigstoreError> {
        let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            // Patterns come from command lines and config files; bound the
            // compiled size so a pathological one fails instead of eating memory.
            .size_limit(1 << 20)
            .build()
            .map_err(|e| SigstoreError::Policy(format!("regular expression {pattern:?}: {e}")))?;
        Ok(Self::Regex {
            pattern: pattern.to_string(),
            regex,
        })
    }

    /// Whether `value` satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(v) => v == value,
            Self::Regex { regex, .. } => regex.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(v) => write!(f, "{v:?}"),
            Self::Regex { pattern, .. } => write!(f, "regex {pattern:?}"),
        }
    }
}

/// Identity requirements for a keyless (certificate) bundle.
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    /// Must match at least one subject alternative name of the certificate.
    pub identity: Matcher,
    /// Must match the Fulcio OIDC issuer extension.
    pub issuer: Matcher,
}

impl IdentityPolicy {
    /// Exact identity and issuer.
    pub fn exact(identity: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            identity: Matcher::exact(identity),
            issuer: Matcher::exact(issuer),
        }
    }

    /// Check certificate claims against the policy.
    pub fn check(&self, id: &CertificateIdentity) -> Result<(), SigstoreError> {
        if !id.sans.iter().any(|s| self.identity.matches(s.value())) {
            let actual = if id.sans.is_empty() {
                "no subject alternative name".to_string()
            } else {
                id.sans
                    .iter()
                    .map(|s| format!("{:?}", s.value()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(SigstoreError::IdentityMismatch {
                expected: self.identity.to_string(),
                actual,
            });
        }
        match &id.issuer {
            Some(iss) if self.issuer.matches(iss) => Ok(()),
            other => Err(SigstoreError::IssuerMismatch {
                expected: self.issuer.to_string(),
                actual: other
                    .as_ref()
                    .map_or_else(|| "none".to_string(), |i| format!("{i:?}")),
            }),
        }
    }
}

/// Requirements for a key-based bundle.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub(crate) key: DerPublicKey,
    /// Accept a bundle that has no transparency log entry (nor timestamp).
    /// Off by default: without a log entry nothing shows the signature was
    /// ever published, which is what Sigstore adds over a bare signature.
    pub allow_missing_tlog: bool,
}

impl KeyPolicy {
    /// From a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo).
    pub fn from_pem(pem: &str) -> Result<Self, SigstoreError> {
        let key =
            DerPublicKey::from_pem(pem).map_err(|e| SigstoreError::PublicKey(e.to_string()))?;
        // Parse it now so a bad key is reported as a bad key, not as a
        // signature failure later.
        sigstore_crypto::KeyAlgorithm::from_spki(&key)
            .map_err(|e| SigstoreError::PublicKey(e.to_string()))?;
        Ok(Self {
            key,
            allow_missing_tlog: false,
        })
    }

    /// Allow bundles without a transparency log entry (see the field).
    pub fn allowing_missing_tlog(mut self, allow: bool) -> Self {
        self.allow_missing_tlog = allow;
        self
    }
}

/// What a bundle must satisfy besides being cryptographically valid.
#[derive(Debug, Clone)]
pub enum Policy {
    /// A keyless bundle from this identity.
    Identity(IdentityPolicy),
    /// A bundle signed with this key.
    Key(KeyPolicy),
}

#[cfg(test)]
mod tests {
    use super::super::certificate::San;
    use super::*;

    fn id(san: &str, iss: Option<&str>) -> CertificateIdentity {
        CertificateIdentity {
            sans: vec![San::Uri(san.into())],
            issuer: iss.map(str::to_string),
        }
    }

    #[test]
    fn regex_is_anchored() {
        let m = Matcher::regex("https://github.com/org/.*").unwrap();
        assert!(m.matches("https://github.com/org/repo"));
        assert!(!m.matches("https://evil.example/?https://github.com/org/x"));
    }

    #[test]
    fn identity_and_issuer_both_checked() {
        let p = IdentityPolicy::exact("a", "i");
        assert!(p.check(&id("a", Some("i"))).is_ok());
        assert!(matches!(
            p.check(&id("b", Some("i"))),
            Err(SigstoreError::IdentityMismatch { .. })
        ));
        assert!(matches!(
            p.check(&id("a", Some("j"))),
            Err(SigstoreError::IssuerMismatch { .. })
        ));
        assert!(matches!(
            p.check(&id("a", None)),
            Err(SigstoreError::IssuerMismatch { .. })
        ));
    }

    #[test]
    fn bad_regex_is_a_policy_error() {
        assert!(matches!(Matcher::regex("("), Err(SigstoreError::Policy(_))));
    }
}
