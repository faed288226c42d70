//! The thing a bundle is checked against: the artifact bytes, or only their
//! SHA-256 digest (the conformance protocol's `sha256:HEX` form, and what an
//! image verifier has for blobs it does not want to fetch).

use std::path::PathBuf;

use sigstore_types::Sha256Hash;

use super::error::SigstoreError;

/// An artifact to verify, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The complete artifact.
    Bytes(&'a [u8]),
    /// Only the SHA-256 digest of the artifact.
    ///
    /// Enough for ECDSA/RSA message signatures and in-toto subjects. Ed25519
    /// message signatures sign the message itself and cannot be checked from
    /// a digest; that fails as `UnsupportedBundle`.
    Sha256([u8; 32]),
}

impl<'a> Artifact<'a> {
    pub(crate) fn to_sigstore(self) -> sigstore_types::Artifact<'a> {
        match self {
            Self::Bytes(b) => sigstore_types::Artifact::from_blob(b),
            Self::Sha256(d) => sigstore_types::Artifact::from_digest(Sha256Hash::new(d)),
        }
    }

    /// The SHA-256 digest, computed if needed.
    pub fn sha256(&self) -> [u8; 32] {
        match self {
            Self::Bytes(b) => *sigstore_crypto::sha256(b).as_bytes(),
            Self::Sha256(d) => *d,
        }
    }
}

/// An artifact as named on a command line: a path, or `sha256:HEX`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactSource {
    /// Read this file.
    File(PathBuf),
    /// Use this digest.
    Sha256([u8; 32]),
}

impl ArtifactSource {
    /// Parse `sha256:<64 hex digits>` as a digest, anything else as a path.
    pub fn parse(arg: &str) -> Result<Self, SigstoreError> {
        match arg.strip_prefix("sha256:") {
            Some(hex_digest) => Ok(Self::Sha256(parse_sha256_hex(hex_digest)?)),
            None => Ok(Self::File(PathBuf::from(arg))),
        }
    }
}

/// Parse 64 hex digits (either case) into a digest.
pub fn parse_sha256_hex(s: &str) -> Result<[u8; 32], SigstoreError> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return Err(SigstoreError::ArtifactDigest(format!(
            "sha256 digest must be 64 hex digits, got {}",
            s.len()
        )));
    }
    hex::decode_to_slice(s, &mut out)
        .map_err(|e| SigstoreError::ArtifactDigest(format!("sha256:{s}: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_digest_and_path() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            ArtifactSource::parse(&d).unwrap(),
            ArtifactSource::Sha256([0xab; 32])
        );
        assert_eq!(
            ArtifactSource::parse("a.txt").unwrap(),
            ArtifactSource::File("a.txt".into())
        );
        assert!(ArtifactSource::parse("sha256:abc").is_err());
        assert!(ArtifactSource::parse(&format!("sha256:{}", "zz".repeat(32))).is_err());
    }
}
