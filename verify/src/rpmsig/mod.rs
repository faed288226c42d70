//! RPM header signature verification for every installed package of an image.
//!
//! Input: the raw header blobs of an RPM database (`sbom::rpmdb`), and a [`Keyring`].
//! Output: one [`HeaderVerdict`] per header, in database row order, saying which
//! signatures verified with which trusted key and, for everything else, an [`Issue`]
//! of one [`IssueKind`]. Headers are checked in parallel (rayon); a check is a
//! SHA-2 pass over the immutable region plus one RSA or Ed25519 verification.
//!
//! Fail closed: a blob that does not parse is a [`IssueKind::MalformedHeader`]
//! verdict (never skipped), and a database that cannot be read is an error.
//! `gpg-pubkey` headers are imported keys, not packages: they get a verdict with
//! `is_key = true` and no signature requirement.

pub mod check;
pub mod keyring;
pub mod rpmfile;
pub mod validity;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sbom::rpm::header::Header;
use sbom::rpmdb::{self, DbError, DbFormat, RawHeader};
use serde::Serialize;

pub use keyring::{KeyMaterial, Keyring, KeyringError, TrustedKey};

/// Why a header does not verify. Each kind is its own finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueKind {
    /// No RSAHEADER, DSAHEADER or OPENPGP signature at all.
    Unsigned,
    /// Signed, but by a key that is not in the keyring.
    UnknownKey,
    /// The signature does not verify with the key it names (tampered header or
    /// signature, or a signature made by another key with a colliding id).
    BadSignature,
    /// SHA256HEADER differs from the SHA-256 of the signed header bytes.
    DigestMismatch,
    /// Signed with an algorithm or hash we do not accept (DSA, SHA-1, ...).
    UnsupportedAlgorithm,
    /// A signature packet that does not parse, or is of the wrong kind.
    MalformedSignature,
    /// The header blob itself does not parse.
    MalformedHeader,
    /// A tag outside the signed region overrides one inside it.
    SignedRegionOverride,
    /// The signature verifies, but the key could not make it when it says it was made:
    /// expired, revoked, not yet created or bound, or not allowed to sign.
    KeyNotValid,
}

impl IssueKind {
    /// The stable identifier used in reports (`unknown-key`, ...).
    pub fn id(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::UnknownKey => "unknown-key",
            Self::BadSignature => "bad-signature",
            Self::DigestMismatch => "digest-mismatch",
            Self::UnsupportedAlgorithm => "unsupported-algorithm",
            Self::MalformedSignature => "malformed-signature",
            Self::MalformedHeader => "malformed-header",
            Self::SignedRegionOverride => "signed-region-override",
            Self::KeyNotValid => "key-not-valid",
        }
    }
}

/// One problem with one header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub kind: IssueKind,
    /// The tag that carried the signature concerned, when there is one.
    pub tag: Option<&'static str>,
    pub reason: String,
}

impl Issue {
    pub fn new(kind: IssueKind, tag: Option<check::SigTag>, reason: String) -> Self {
        Self {
            kind,
            tag: tag.map(check::SigTag::name),
            reason,
        }
    }
}

/// A signature that verified with a trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoodSignature {
    pub tag: &'static str,
    pub version: u8,
    /// `RSA/SHA256`, `EdDSA/SHA256`, ...
    pub algorithm: String,
    pub key_fingerprint: String,
    pub key_id: String,
    pub primary_fingerprint: String,
    pub user_id: String,
    pub created: Option<u32>,
}

/// The outcome for one header.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderVerdict {
    /// Database row (sqlite `hnum`, BerkeleyDB key, ndb slot).
    pub row: u32,
    pub name: Option<String>,
    pub nevra: Option<String>,
    /// The LICENSE tag, for the policy's license check.
    pub license: Option<String>,
    /// A `gpg-pubkey` header (an imported key), not a package.
    pub is_key: bool,
    pub good: Vec<GoodSignature>,
    pub issues: Vec<Issue>,
    /// Whether a SHA256HEADER was present and compared.
    pub digest_checked: bool,
    /// Things worth saying that are not failures (an extra signature by an unknown key).
    pub notes: Vec<String>,
}

impl HeaderVerdict {
    /// Verified: at least one good signature and no issue.
    pub fn is_verified(&self) -> bool {
        self.issues.is_empty() && !self.good.is_empty()
    }

    /// What to call this header in a report: NEVRA, else name, else the row.
    pub fn subject(&self) -> String {
        self.nevra
            .clone()
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| format!("rpmdb row {}", self.row))
    }
}

/// Checks one raw header blob.
pub fn verify_header(row: u32, blob: &[u8], keyring: &Keyring) -> HeaderVerdict {
    let mut v = HeaderVerdict {
        row,
        ..Default::default()
    };
    let h = match Header::parse(blob) {
        Ok(h) => h,
        Err(e) => {
            v.issues
                .push(Issue::new(IssueKind::MalformedHeader, None, e.to_string()));
            return v;
        }
    };
    let (name, nevra) = check::identity(&h);
    v.is_key = name.as_deref() == Some("gpg-pubkey");
    v.name = name;
    v.nevra = nevra;
    v.license = h
        .string(sbom::rpm::tags::LICENSE)
        .ok()
        .flatten()
        .map(|l| l.into_owned());
    if v.is_key {
        // Imported keys are stored unsigned by rpm; there is nothing to verify.
        return v;
    }
    check::check_header(&h, &h, keyring, &mut v);
    v
}

/// Checks many headers in parallel; `progress` is called once per header done
/// (from worker threads). Verdicts come back in input order.
pub fn verify_headers(
    raws: &[RawHeader],
    keyring: &Keyring,
    progress: &(dyn Fn() + Sync),
) -> Vec<HeaderVerdict> {
    raws.par_iter()
        .map(|r| {
            let v = verify_header(r.row, &r.blob, keyring);
            progress();
            v
        })
        .collect()
}

/// The database could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum RpmSigError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}: the RPM database holds no headers")]
    Empty(PathBuf),
}

/// Where the headers came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbSource {
    pub path: PathBuf,
    pub format: DbFormat,
}

/// Locates and reads the database of an image root.
pub fn read_root(root: &Path) -> Result<(DbSource, Vec<RawHeader>), RpmSigError> {
    let (path, format) = rpmdb::locate(root)?;
    read_db(&path, format)
}

/// Reads a database file whose format is detected from its content.
pub fn read_db_file(path: &Path) -> Result<(DbSource, Vec<RawHeader>), RpmSigError> {
    let format = rpmdb::detect(path)?;
    read_db(path, format)
}

fn read_db(path: &Path, format: DbFormat) -> Result<(DbSource, Vec<RawHeader>), RpmSigError> {
    let raws = rpmdb::read_headers(path, format)?;
    if raws.is_empty() {
        return Err(RpmSigError::Empty(path.to_path_buf()));
    }
    Ok((
        DbSource {
            path: path.to_path_buf(),
            format,
        },
        raws,
    ))
}
