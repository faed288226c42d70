//! A keyring of trusted OpenPGP keys, loaded from ASCII-armored key files.
//!
//! The `pgp` crate parses the transferable public keys (primary key, subkeys,
//! self-signatures); from each key we keep only what the header check needs: the
//! fingerprint and key id to find it, and the public numbers turned into an
//! aws-lc-rs key once, so that a signature check is one public-key operation.
//!
//! Invariants: a key file that does not parse, holds no key, or whose binding
//! self-signatures do not verify is an error (the caller's input is wrong; we
//! never trust half a file). Keys of algorithms we cannot check (DSA, ECDSA,
//! Ed448, RSA under 2048 bits, encryption-only subkeys) are kept as
//! [`KeyMaterial::Unsupported`], so that a signature by them is reported as an
//! unsupported algorithm rather than as an unknown key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::types::{EddsaLegacyPublicParams, KeyDetails, PublicParams};
use rsa::traits::PublicKeyParts;

use super::validity::KeyValidity;

/// Key files larger than this are refused: a keyring is kilobytes.
const MAX_KEY_FILE: u64 = 4 * 1024 * 1024;
/// RSA keys below this size are not accepted for signature checks.
pub const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("{path}: cannot read key file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: key file is larger than {MAX_KEY_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: not an ASCII-armored OpenPGP public key: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{path}: holds no OpenPGP public key")]
    Empty { path: PathBuf },
    #[error("{path}: key {fingerprint}: self-signatures do not verify: {reason}")]
    Binding {
        path: PathBuf,
        fingerprint: String,
        reason: String,
    },
    #[error("{path}: key {fingerprint}: public key rejected: {reason}")]
    Material {
        path: PathBuf,
        fingerprint: String,
        reason: String,
    },
}

/// The public numbers of a key, ready for aws-lc-rs.
pub enum KeyMaterial {
    /// RSA, one parsed key per PKCS#1 v1.5 digest (the parameters fix the hash).
    Rsa {
        bits: usize,
        sha256: ParsedPublicKey,
        sha384: ParsedPublicKey,
        sha512: ParsedPublicKey,
    },
    /// Ed25519, either legacy EdDSA (algorithm 22) or RFC 9580 Ed25519 (27).
    Ed25519(ParsedPublicKey),
    /// A key we hold but cannot check signatures with; the string says why.
    Unsupported(String),
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rsa { bits, .. } => write!(f, "Rsa({bits} bits)"),
            Self::Ed25519(_) => f.write_str("Ed25519"),
            Self::Unsupported(why) => write!(f, "Unsupported({why})"),
        }
    }
}

/// One primary key or subkey.
#[derive(Debug)]
pub struct TrustedKey {
    /// OpenPGP key version (4 or 6).
    pub version: u8,
    /// Fingerprint bytes (20 for v4, 32 for v6).
    pub fingerprint: Vec<u8>,
    /// The 8-byte key id a signature names its issuer by.
    pub key_id: [u8; 8],
    /// RFC 9580 public-key algorithm id.
    pub algorithm: u8,
    /// Fingerprint of the primary key this one belongs to (itself for a primary).
    pub primary_fingerprint: Vec<u8>,
    /// First user id of the primary key, for reports.
    pub user_id: String,
    /// The file the key came from.
    pub source: PathBuf,
    pub material: KeyMaterial,
    /// Creation, expiry, capability and revocation, from the self-signatures.
    pub validity: KeyValidity,
    /// The primary key's, for a subkey (which is void when its primary is).
    pub primary_validity: Option<KeyValidity>,
}

impl TrustedKey {
    pub fn fingerprint_hex(&self) -> String {
        hex::encode_upper(&self.fingerprint)
    }
    pub fn key_id_hex(&self) -> String {
        hex::encode_upper(self.key_id)
    }

    /// Why a signature this key made at `t` (Unix seconds) is void, if it is: see
    /// [`super::validity`].
    pub fn void_at(&self, t: u32) -> Option<String> {
        if let Some(why) = self.validity.void_at(t, true) {
            return Some(why);
        }
        let primary = self.primary_validity.as_ref()?;
        primary
            .void_at(t, false)
            .map(|why| format!("primary key: {why}"))
    }
}

/// Trusted keys, looked up by fingerprint or key id.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<TrustedKey>,
    by_id: HashMap<[u8; 8], Vec<usize>>,
}

impl Keyring {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every key in each file.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<Self, KeyringError> {
        let mut ring = Self::new();
        for p in paths {
            ring.add_file(p.as_ref())?;
        }
        Ok(ring)
    }

    /// Adds every key of one armored file (several armor blocks are allowed).
    pub fn add_file(&mut self, path: &Path) -> Result<usize, KeyringError> {
        let io = |source| KeyringError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_KEY_FILE {
            return Err(KeyringError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        self.add_armored(&bytes, path)
    }

    /// Adds the keys of armored text; `source` names it in errors and reports.
    pub fn add_armored(&mut self, armored: &[u8], source: &Path) -> Result<usize, KeyringError> {
        let parse_err = |reason: String| KeyringError::Parse {
            path: source.to_path_buf(),
            reason,
        };
        let (iter, _headers) =
            SignedPublicKey::from_armor_many(armored).map_err(|e| parse_err(e.to_string()))?;
        let mut added = 0;
        for key in iter {
            let key = key.map_err(|e| parse_err(e.to_string()))?;
            added += self.add_key(&key, source)?;
        }
        if added == 0 {
            return Err(KeyringError::Empty {
                path: source.to_path_buf(),
            });
        }
        Ok(added)
    }

    fn add_key(&mut self, key: &SignedPublicKey, source: &Path) -> Result<usize, KeyringError> {
        let primary_fp = key.fingerprint().as_bytes().to_vec();
        // A subkey is only the primary's if a binding signature says so, and a
        // primary's user id only if self-signed: check before trusting either.
        key.verify_bindings().map_err(|e| KeyringError::Binding {
            path: source.to_path_buf(),
            fingerprint: hex::encode_upper(&primary_fp),
            reason: e.to_string(),
        })?;
        let user_id = key
            .details
            .users
            .first()
            .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
            .unwrap_or_default();
        let mut n = 0;
        let primary = &key.primary_key;
        let primary_validity = KeyValidity::primary(primary.created_at().as_secs(), &key.details);
        self.push(describe(
            primary,
            &primary_fp,
            &user_id,
            source,
            primary_validity.clone(),
            None,
        )?);
        n += 1;
        for sub in &key.public_subkeys {
            let validity = KeyValidity::subkey(sub.key.created_at().as_secs(), sub);
            self.push(describe(
                &sub.key,
                &primary_fp,
                &user_id,
                source,
                validity,
                Some(primary_validity.clone()),
            )?);
            n += 1;
        }
        Ok(n)
    }

    fn push(&mut self, k: TrustedKey) {
        // The same key given twice (two files, or a primary repeated) is kept once.
        if self.keys.iter().any(|o| o.fingerprint == k.fingerprint) {
            return;
        }
        self.by_id
            .entry(k.key_id)
            .or_default()
            .push(self.keys.len());
        self.keys.push(k);
    }

    /// Every key, primaries and subkeys, in load order.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key a signature names: by fingerprint when the signature carries one
    /// (exact), else by key id. `None`: not in the keyring.
    pub fn find(&self, fingerprint: Option<&[u8]>, key_id: Option<[u8; 8]>) -> Option<&TrustedKey> {
        if let Some(fp) = fingerprint {
            return self.keys.iter().find(|k| k.fingerprint == fp);
        }
        let ids = self.by_id.get(&key_id?)?;
        // Two keys sharing a 64-bit id is an attack or an accident; the first
        // loaded wins, and its signature check decides.
        ids.first().map(|&i| &self.keys[i])
    }
}

fn describe<K: KeyDetails>(
    key: &K,
    primary_fp: &[u8],
    user_id: &str,
    source: &Path,
    validity: KeyValidity,
    primary_validity: Option<KeyValidity>,
) -> Result<TrustedKey, KeyringError> {
    let fp = key.fingerprint().as_bytes().to_vec();
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(key.legacy_key_id().as_ref());
    let material = material(key.public_params()).map_err(|reason| KeyringError::Material {
        path: source.to_path_buf(),
        fingerprint: hex::encode_upper(&fp),
        reason,
    })?;
    Ok(TrustedKey {
        version: u8::from(key.version()),
        key_id,
        algorithm: u8::from(key.algorithm()),
        primary_fingerprint: primary_fp.to_vec(),
        user_id: user_id.to_string(),
        source: source.to_path_buf(),
        fingerprint: fp,
        material,
        validity,
        primary_validity,
    })
}

/// Turns the public numbers into aws-lc-rs keys. `Err`: numbers aws-lc rejects
/// for an algorithm we support (a corrupt key); `Ok(Unsupported)`: an algorithm
/// we do not check.
fn material(params: &PublicParams) -> Result<KeyMaterial, String> {
    match params {
        PublicParams::RSA(p) => {
            let n = p.key.n().to_bytes_be();
            let e = p.key.e().to_bytes_be();
            let bits = p.key.n().bits();
            if bits < MIN_RSA_BITS {
                return Ok(KeyMaterial::Unsupported(format!(
                    "RSA key of {bits} bits (at least {MIN_RSA_BITS} required)"
                )));
            }
            let parse = |alg: &'static sig::RsaParameters| {
                sig::RsaPublicKeyComponents { n: &n, e: &e }
                    .to_parsed_public_key(alg)
                    .map_err(|e| format!("RSA: {e}"))
            };
            Ok(KeyMaterial::Rsa {
                bits,
                sha256: parse(&sig::RSA_PKCS1_2048_8192_SHA256)?,
                sha384: parse(&sig::RSA_PKCS1_2048_8192_SHA384)?,
                sha512: parse(&sig::RSA_PKCS1_2048_8192_SHA512)?,
            })
        }
        PublicParams::EdDSALegacy(EddsaLegacyPublicParams::Ed25519 { key }) => {
            ed25519(key.as_bytes())
        }
        PublicParams::Ed25519(p) => ed25519(p.key.as_bytes()),
        PublicParams::EdDSALegacy(EddsaLegacyPublicParams::Unsupported { curve, .. }) => Ok(
            KeyMaterial::Unsupported(format!("EdDSA on curve {curve:?}")),
        ),
        PublicParams::DSA(_) => Ok(KeyMaterial::Unsupported("DSA".into())),
        PublicParams::ECDSA(_) => Ok(KeyMaterial::Unsupported("ECDSA".into())),
        PublicParams::Ed448(_) => Ok(KeyMaterial::Unsupported("Ed448".into())),
        PublicParams::ECDH(_)
        | PublicParams::X25519(_)
        | PublicParams::X448(_)
        | PublicParams::Elgamal(_) => Ok(KeyMaterial::Unsupported("encryption-only key".into())),
        _ => Ok(KeyMaterial::Unsupported(
            "unknown public-key algorithm".into(),
        )),
    }
}

fn ed25519(raw: &[u8; 32]) -> Result<KeyMaterial, String> {
    ParsedPublicKey::new(&sig::ED25519, raw)
        .map(KeyMaterial::Ed25519)
        .map_err(|e| format!("Ed25519: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_key(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/sample/keys")
            .join(name)
    }

    #[test]
    fn loads_rsa_and_ed25519_sample_keys() {
        let ring = Keyring::from_files(&[
            sample_key("RPM-GPG-KEY-test-rsa4096.asc"),
            sample_key("RPM-GPG-KEY-test-ed25519.asc"),
        ])
        .unwrap();
        let rsa = ring.find(None, Some(hex_id("0F7CD345E01C5AC9"))).unwrap();
        assert!(matches!(rsa.material, KeyMaterial::Rsa { bits: 4096, .. }));
        assert_eq!(
            rsa.fingerprint_hex(),
            "909A1CE447E9DE0D2E945D710F7CD345E01C5AC9"
        );
        let fp = hex::decode("D809498BF6F9262ABA63F5AA5068A1B4D56BE751").unwrap();
        let ed = ring.find(Some(&fp), None).unwrap();
        assert!(matches!(ed.material, KeyMaterial::Ed25519(_)));
        assert!(ed.user_id.contains("ed25519@factory.invalid"));
        // By fingerprint the match is exact: a matching key id is not enough.
        let mut other = fp.clone();
        other[0] ^= 1;
        assert!(ring.find(Some(&other), Some(ed.key_id)).is_none());
    }

    fn hex_id(s: &str) -> [u8; 8] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn garbage_empty_and_tampered_key_files_are_errors() {
        let mut ring = Keyring::new();
        let p = Path::new("x.asc");
        assert!(matches!(
            ring.add_armored(b"hello", p),
            Err(KeyringError::Parse { .. } | KeyringError::Empty { .. })
        ));
        assert!(ring.add_armored(b"", p).is_err());
        // Change one character of the armored body: CRC or self-signature must fail.
        let text = std::fs::read_to_string(sample_key("RPM-GPG-KEY-test-ed25519.asc")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let body_line = lines.iter().position(|l| l.is_empty()).unwrap() + 2;
        let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let l = &mut tampered[body_line];
        let c = if l.as_bytes()[10] == b'A' { "B" } else { "A" };
        l.replace_range(10..11, c);
        assert!(ring.add_armored(tampered.join("\n").as_bytes(), p).is_err());
        assert!(ring.is_empty());
    }
}
