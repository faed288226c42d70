//! The package model: what one installed RPM header says, decoded and typed.
//!
//! Every field comes straight from a header tag; nothing here is guessed or defaulted
//! except where rpm itself defaults (a missing FILEDIGESTALGO means MD5).

use serde::Serialize;

/// Where a header came from inside its database: the row (sqlite `hnum`, BerkeleyDB key,
/// ndb slot `pkgidx`). Named in every error about that header.
pub type DbRowId = u32;

/// One installed package, fully decoded from its header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Package {
    pub db_row: DbRowId,
    pub name: String,
    /// `None` when the header has no EPOCH tag (rpm prints `(none)`, EPOCHNUM 0).
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    /// Empty for a header without ARCH (gpg-pubkey pseudo-packages have none).
    pub arch: String,
    pub summary: String,
    pub license: String,
    pub vendor: Option<String>,
    pub packager: Option<String>,
    pub url: Option<String>,
    pub bug_url: Option<String>,
    pub group: Option<String>,
    pub source_rpm: Option<String>,
    pub build_time: Option<u32>,
    pub build_host: Option<String>,
    pub install_time: Option<u32>,
    /// Installed size in bytes (LONGSIZE when present, else SIZE).
    pub size: u64,
    pub modularity_label: Option<String>,
    /// SIGMD5 as lower-case hex: MD5 of header+payload of the original package file.
    pub sigmd5: Option<String>,
    /// SHA256HEADER as stored (lower-case hex of SHA-256 over the immutable header region).
    pub sha256_header: Option<String>,
    /// SHA1HEADER as stored.
    pub sha1_header: Option<String>,
    /// SHA-256 of the immutable region as we computed it; equal to `sha256_header` on an
    /// untampered header. Always present for a header with an immutable region.
    pub computed_sha256_header: Option<String>,
    /// OpenPGP signatures over the header (RSAHEADER, DSAHEADER, OPENPGP tags).
    pub signatures: Vec<HeaderSignature>,
    pub file_digest_algo: DigestAlgo,
    pub files: Vec<FileEntry>,
    pub requires: Vec<Dependency>,
    pub provides: Vec<Dependency>,
    pub conflicts: Vec<Dependency>,
    pub obsoletes: Vec<Dependency>,
    pub recommends: Vec<Dependency>,
    pub suggests: Vec<Dependency>,
    pub supplements: Vec<Dependency>,
    pub enhances: Vec<Dependency>,
}

impl Package {
    /// `[epoch:]version-release`, as rpm's `%{EVR}` prints it.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// `name-[epoch:]version-release.arch`, unique per installed package in practice.
    pub fn nevra(&self) -> String {
        if self.arch.is_empty() {
            format!("{}-{}", self.name, self.evr())
        } else {
            format!("{}-{}.{}", self.name, self.evr(), self.arch)
        }
    }

    /// `gpg-pubkey` headers are imported OpenPGP keys, not software.
    pub fn is_gpg_pubkey(&self) -> bool {
        self.name == "gpg-pubkey"
    }
}

/// Which tag carried a header signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SignatureTag {
    Rsaheader,
    Dsaheader,
    Openpgp,
}

/// Metadata of one OpenPGP signature packet over the header; enough to name the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderSignature {
    pub tag: SignatureTag,
    /// OpenPGP signature packet version (3, 4 or 6).
    pub version: u8,
    /// RFC 9580 public-key algorithm id (1 RSA, 17 DSA, 19 ECDSA, 22 EdDSA legacy, 27 Ed25519).
    pub pubkey_algo: u8,
    /// RFC 9580 hash algorithm id (2 SHA-1, 8 SHA-256, 10 SHA-512, ...).
    pub hash_algo: u8,
    /// Signature creation time, seconds since the epoch.
    pub created: Option<u32>,
    /// Issuer key id, 16 lower-case hex digits.
    pub key_id: Option<String>,
    /// Issuer fingerprint (v4: 40 hex digits, v6: 64), when the packet carries it.
    pub fingerprint: Option<String>,
}

/// File digest algorithm, by OpenPGP hash id as FILEDIGESTALGO stores it. The default is
/// rpm's for a header without FILEDIGESTALGO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum DigestAlgo {
    #[default]
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgo {
    pub fn from_pgp_id(id: u32) -> Option<Self> {
        Some(match id {
            1 => Self::Md5,
            2 => Self::Sha1,
            8 => Self::Sha256,
            9 => Self::Sha384,
            10 => Self::Sha512,
            11 => Self::Sha224,
            _ => return None,
        })
    }

    pub fn pgp_id(self) -> u32 {
        match self {
            Self::Md5 => 1,
            Self::Sha1 => 2,
            Self::Sha256 => 8,
            Self::Sha384 => 9,
            Self::Sha512 => 10,
            Self::Sha224 => 11,
        }
    }

    /// Hex length of one digest; used to reject malformed FILEDIGESTS entries.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha1 => 40,
            Self::Sha224 => 56,
            Self::Sha256 => 64,
            Self::Sha384 => 96,
            Self::Sha512 => 128,
        }
    }

    /// Name as SPDX 2.3 `checksums[].algorithm` and CycloneDX `hashes[].alg` spell it.
    pub fn spdx_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA1",
            Self::Sha224 => "SHA224",
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }
}

/// RPMFILE_* flags (rpmfiles.h).
pub mod file_flags {
    pub const CONFIG: u32 = 1 << 0;
    pub const DOC: u32 = 1 << 1;
    pub const ICON: u32 = 1 << 2;
    pub const MISSINGOK: u32 = 1 << 3;
    pub const NOREPLACE: u32 = 1 << 4;
    pub const SPECFILE: u32 = 1 << 5;
    pub const GHOST: u32 = 1 << 6;
    pub const LICENSE: u32 = 1 << 7;
    pub const README: u32 = 1 << 8;
    pub const PUBKEY: u32 = 1 << 11;
    pub const ARTIFACT: u32 = 1 << 12;
}

/// One file a package declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// Absolute path (dirname + basename).
    pub path: String,
    /// Lower-case hex in the package's `file_digest_algo`; `None` for directories, links,
    /// ghosts and other entries rpm stores no digest for.
    pub digest: Option<String>,
    pub size: u64,
    /// st_mode as rpm stores it (type bits + permissions).
    pub mode: u16,
    pub user: String,
    pub group: String,
    /// RPMFILE_* bits, see [`file_flags`].
    pub flags: u32,
    /// Symlink target; `None` unless the entry is a symlink.
    pub link_target: Option<String>,
    pub mtime: u32,
    /// RPMVERIFY_* bits: which attributes `rpm -V` checks for this file.
    pub verify_flags: u32,
    /// Hard-link group: files of one package with the same non-zero inode share content.
    pub inode: u32,
    pub lang: String,
}

impl FileEntry {
    pub const S_IFMT: u16 = 0o170000;
    pub const S_IFDIR: u16 = 0o040000;
    pub const S_IFREG: u16 = 0o100000;
    pub const S_IFLNK: u16 = 0o120000;

    pub fn is_dir(&self) -> bool {
        self.mode & Self::S_IFMT == Self::S_IFDIR
    }
    pub fn is_regular(&self) -> bool {
        self.mode & Self::S_IFMT == Self::S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & Self::S_IFMT == Self::S_IFLNK
    }
    pub fn is_config(&self) -> bool {
        self.flags & file_flags::CONFIG != 0
    }
    pub fn is_ghost(&self) -> bool {
        self.flags & file_flags::GHOST != 0
    }
    pub fn is_doc(&self) -> bool {
        self.flags & file_flags::DOC != 0
    }
    pub fn is_license(&self) -> bool {
        self.flags & file_flags::LICENSE != 0
    }
}

/// RPMSENSE_* flags (rpmds.h) that matter for resolution and printing.
pub mod sense {
    pub const LESS: u32 = 1 << 1;
    pub const GREATER: u32 = 1 << 2;
    pub const EQUAL: u32 = 1 << 3;
    pub const SENSEMASK: u32 = LESS | GREATER | EQUAL;
    pub const PREREQ: u32 = 1 << 6;
    pub const MISSINGOK: u32 = 1 << 19;
    /// `rpmlib(...)` capabilities, provided by rpm itself, not by a package.
    pub const RPMLIB: u32 = 1 << 24;
    pub const CONFIG: u32 = 1 << 28;
}

/// One requires/provides/... entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Dependency {
    pub name: String,
    /// RPMSENSE_* bits, see [`sense`].
    pub flags: u32,
    /// `[epoch:]version[-release]`, empty when unversioned.
    pub version: String,
}

impl Dependency {
    /// As rpm's `%{REQUIRENEVRS}` prints it: `name`, or `name OP version`.
    pub fn display(&self) -> String {
        let op = match self.flags & sense::SENSEMASK {
            0 => return self.name.clone(),
            x if x == sense::LESS => "<",
            x if x == sense::GREATER => ">",
            x if x == sense::EQUAL => "=",
            x if x == sense::LESS | sense::EQUAL => "<=",
            x if x == sense::GREATER | sense::EQUAL => ">=",
            _ => "?",
        };
        if self.version.is_empty() {
            self.name.clone()
        } else {
            format!("{} {op} {}", self.name, self.version)
        }
    }
}
