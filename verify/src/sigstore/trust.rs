//! The trusted root (`trusted_root.json`): which Fulcio CAs, Rekor logs, CT
//! logs and timestamp authorities to trust, and when.
//!
//! There is deliberately no built-in default. An offline verifier that quietly
//! fell back to a compiled-in root would go on trusting keys after they were
//! rotated out; the caller names the file (or sets [`TRUSTED_ROOT_ENV`]).
//!
//! Parsing is sigstore-trust-root's. Its `TimeRange` requires `start`, so a
//! `validFor` without a start is rejected rather than read as "forever"; we
//! add the media-type check and reject a root that trusts nothing.

use std::path::Path;

use super::error::SigstoreError;

/// Environment variable naming the trusted root file when `--trusted-root`
/// is not given.
pub const TRUSTED_ROOT_ENV: &str = "VERIFY_SIGSTORE_TRUSTED_ROOT";

/// Largest trusted root file we read; the public-good one is about 10 KiB.
const MAX_TRUSTED_ROOT_BYTES: u64 = 8 * 1024 * 1024;

const MEDIA_TYPES: [&str; 3] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

/// A parsed trusted root.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub(crate) inner: sigstore_trust_root::TrustedRoot,
}

impl TrustedRoot {
    /// Parse a trusted root from JSON text.
    pub fn from_json(text: &str) -> Result<Self, SigstoreError> {
        let inner = sigstore_trust_root::TrustedRoot::from_json(text)
            .map_err(|e| SigstoreError::TrustedRoot(e.to_string()))?;
        if !MEDIA_TYPES.contains(&inner.media_type.as_str()) {
            return Err(SigstoreError::TrustedRoot(format!(
                "unknown trusted root media type {:?}",
                inner.media_type
            )));
        }
        if inner.certificate_authorities.is_empty() && inner.tlogs.is_empty() {
            return Err(SigstoreError::TrustedRoot(
                "trusts no certificate authority and no transparency log".into(),
            ));
        }
        Ok(Self { inner })
    }

    /// Read and parse a trusted root file.
    pub fn from_file(path: &Path) -> Result<Self, SigstoreError> {
        let text = read_limited(path, "trusted root", MAX_TRUSTED_ROOT_BYTES)?;
        let text = String::from_utf8(text).map_err(|e| {
            SigstoreError::TrustedRoot(format!("{}: not UTF-8: {e}", path.display()))
        })?;
        Self::from_json(&text).map_err(|e| match e {
            SigstoreError::TrustedRoot(m) => {
                SigstoreError::TrustedRoot(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    }

    /// Number of (Fulcio) certificate authorities.
    pub fn certificate_authority_count(&self) -> usize {
        self.inner.certificate_authorities.len()
    }

    /// Number of Rekor transparency logs.
    pub fn tlog_count(&self) -> usize {
        self.inner.tlogs.len()
    }
}

/// Read a whole file, refusing anything larger than `limit` bytes.
pub(crate) fn read_limited(
    path: &Path,
    what: &'static str,
    limit: u64,
) -> Result<Vec<u8>, SigstoreError> {
    use std::io::Read;
    let io = |source| SigstoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    file.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(io(std::io::Error::other(format!(
            "larger than {limit} bytes"
        ))));
    }
    Ok(buf)
}
