//! Signing keys: generation, PKCS#8 PEM (plain or passphrase-encrypted) loading and writing,
//! SubjectPublicKeyInfo public keys, key ids, signing and verification.
//!
//! Supported: ECDSA P-256 (SHA-256, DER signatures), Ed25519, RSA 2048-8192 (SHA-256 with
//! PKCS#1 v1.5 or PSS padding; generation offers 3072 and 4096 only).
//!
//! Invariants: private key bytes live only in `Zeroizing` buffers or inside aws-lc (which
//! frees them with `OPENSSL_cleanse`); no `Debug`/`Display` of a private key prints secret
//! material; a passphrase comes from `ATTEST_KEY_PASSPHRASE` or a no-echo prompt, never from
//! argv. Private key files are written mode 0600 through a temporary file and a rename.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use pkcs8::der::Decode;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Environment variable that supplies the passphrase of encrypted private keys.
pub const PASSPHRASE_ENV: &str = "ATTEST_KEY_PASSPHRASE";

/// PBKDF2-SHA256 iterations for encrypted keys written by `attest` (OWASP 2023 guidance
/// for PBKDF2-HMAC-SHA256 is 600,000).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a PEM key ({reason}); expected a PKCS#8 'PRIVATE KEY' or 'ENCRYPTED PRIVATE KEY' block, or a 'PUBLIC KEY' block for public keys")]
    NotPem { path: PathBuf, reason: String },
    #[error("{path}: unsupported key type ({what}); use ECDSA P-256, Ed25519 or RSA 2048-8192")]
    Unsupported { path: PathBuf, what: String },
    #[error("{path}: malformed key: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "{path}: the key is encrypted; set {PASSPHRASE_ENV} or run on a terminal to be prompted"
    )]
    PassphraseRequired { path: PathBuf },
    #[error("{path}: cannot decrypt the key: wrong passphrase or unsupported encryption (PBES2 with PBKDF2 or scrypt and AES-CBC is supported)")]
    Decrypt { path: PathBuf },
    #[error("{path} already exists; pass --force to overwrite it")]
    Exists { path: PathBuf },
    #[error("passphrase error: {0}")]
    Passphrase(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("key generation failed: {0}")]
    Generate(String),
}

/// The kind of a key, as `--type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on NIST P-256 with SHA-256.
    #[value(name = "ecdsa-p256", alias = "p256", alias = "ecdsa")]
    EcdsaP256,
    /// Ed25519.
    #[value(name = "ed25519")]
    Ed25519,
    /// RSA (3072 or 4096 bits when generated).
    #[value(name = "rsa")]
    Rsa,
}

impl KeyType {
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa => "rsa",
        }
    }
}

/// Padding for RSA signatures; ignored for other key types. Sigstore and most DSSE
/// verifiers expect PKCS#1 v1.5 (deterministic); in-toto's `rsassa-pss-sha256` scheme
/// needs PSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaPadding {
    Pkcs1v15,
    Pss,
}

/// A public key as SubjectPublicKeyInfo DER.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyType,
    spki_der: Vec<u8>,
    /// RSA modulus length in bits (0 for other kinds).
    rsa_bits: usize,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, {})", self.kind.name(), self.key_id())
    }
}

/// P-256 is the only curve we sign or verify with; any other is refused by name.
fn require_p256(alg: &spki::AlgorithmIdentifierRef<'_>, origin: &Path) -> Result<(), KeyError> {
    let curve = alg
        .parameters_oid()
        .map(|o| o.to_string())
        .unwrap_or_default();
    if curve != OID_P256 {
        return Err(KeyError::Unsupported {
            path: origin.into(),
            what: format!("elliptic curve {curve}"),
        });
    }
    Ok(())
}

impl PublicKey {
    /// Parses SubjectPublicKeyInfo DER; `origin` names the source in errors.
    pub fn from_spki_der(der: &[u8], origin: &Path) -> Result<Self, KeyError> {
        let spki =
            spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| KeyError::Malformed {
                path: origin.into(),
                reason: format!("SubjectPublicKeyInfo: {e}"),
            })?;
        let oid = spki.algorithm.oid.to_string();
        let (kind, alg): (KeyType, &'static dyn sig::VerificationAlgorithm) = match oid.as_str() {
            OID_EC_PUBLIC_KEY => {
                require_p256(&spki.algorithm, origin)?;
                (KeyType::EcdsaP256, &sig::ECDSA_P256_SHA256_ASN1)
            }
            OID_ED25519 => (KeyType::Ed25519, &sig::ED25519),
            OID_RSA => (KeyType::Rsa, &sig::RSA_PKCS1_2048_8192_SHA256),
            other => {
                return Err(KeyError::Unsupported {
                    path: origin.into(),
                    what: format!("algorithm {other}"),
                })
            }
        };
        // Let aws-lc validate the key material (point on curve, modulus sane).
        let parsed = sig::ParsedPublicKey::new(alg, der).map_err(|e| KeyError::Malformed {
            path: origin.into(),
            reason: e.to_string(),
        })?;
        let rsa_bits = if kind == KeyType::Rsa {
            let bits = spki.subject_public_key.raw_bytes();
            rsa_modulus_bits(bits).ok_or_else(|| KeyError::Malformed {
                path: origin.into(),
                reason: "RSA public key".into(),
            })?
        } else {
            0
        };
        if kind == KeyType::Rsa && !(2048..=8192).contains(&rsa_bits) {
            return Err(KeyError::Unsupported {
                path: origin.into(),
                what: format!("RSA-{rsa_bits}"),
            });
        }
        drop(parsed);
        Ok(PublicKey {
            kind,
            spki_der: der.to_vec(),
            rsa_bits,
        })
    }

    /// Parses a `PUBLIC KEY` PEM block.
    pub fn from_pem(text: &str, origin: &Path) -> Result<Self, KeyError> {
        let (label, doc) = pkcs8::Document::from_pem(text).map_err(|e| KeyError::NotPem {
            path: origin.into(),
            reason: e.to_string(),
        })?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::NotPem {
                path: origin.into(),
                reason: format!("found a '{label}' block, expected 'PUBLIC KEY'"),
            });
        }
        Self::from_spki_der(doc.as_bytes(), origin)
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = read_small(path)?;
        Self::from_pem(&text, path)
    }

    pub fn kind(&self) -> KeyType {
        self.kind
    }

    pub fn rsa_bits(&self) -> usize {
        self.rsa_bits
    }

    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// PEM exactly as OpenSSL and Python's `cryptography` write it (64-column base64,
    /// trailing newline): in-toto computes key ids over this text, so it must match.
    pub fn to_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.spki_der)
    }

    /// Our key id: lower-case hex SHA-256 of the SubjectPublicKeyInfo DER.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(&self.spki_der))
    }

    /// The raw key bytes inside the SPKI (EC point, Ed25519 key, PKCS#1 RSAPublicKey).
    pub fn raw_public_key(&self) -> Vec<u8> {
        spki::SubjectPublicKeyInfoRef::from_der(&self.spki_der)
            .map(|s| s.subject_public_key.raw_bytes().to_vec())
            .unwrap_or_default()
    }

    /// Verifies `signature` over `msg`. ECDSA signatures may be DER or fixed-width r||s
    /// (the DSSE test vector uses the latter); RSA uses `padding`.
    pub fn verify(&self, msg: &[u8], signature: &[u8], padding: RsaPadding) -> bool {
        let try_alg = |alg: &'static dyn sig::VerificationAlgorithm| {
            sig::UnparsedPublicKey::new(alg, &self.spki_der)
                .verify(msg, signature)
                .is_ok()
        };
        match self.kind {
            KeyType::EcdsaP256 => {
                try_alg(&sig::ECDSA_P256_SHA256_ASN1)
                    || (signature.len() == 64 && try_alg(&sig::ECDSA_P256_SHA256_FIXED))
            }
            KeyType::Ed25519 => try_alg(&sig::ED25519),
            KeyType::Rsa => match padding {
                RsaPadding::Pkcs1v15 => try_alg(&sig::RSA_PKCS1_2048_8192_SHA256),
                RsaPadding::Pss => try_alg(&sig::RSA_PSS_2048_8192_SHA256),
            },
        }
    }
}

/// Bit length of the modulus of a PKCS#1 RSAPublicKey (rounded to whole bytes).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let k = aws_lc_rs::rsa::PublicKey::from_der(der).ok()?;
    Some(k.modulus_len() * 8)
}

/// Anything that can sign: a key file, an HSM. `Sync` so statements sign in parallel.
pub trait Signer: Send + Sync {
    fn public_key(&self) -> &PublicKey;
    fn sign(&self, msg: &[u8], padding: RsaPadding) -> Result<Vec<u8>, KeyError>;
}

enum Inner {
    Ecdsa(sig::EcdsaKeyPair),
    Ed25519(sig::Ed25519KeyPair),
    Rsa(sig::RsaKeyPair),
}

/// A private key loaded into aws-lc, with its PKCS#8 encoding kept (zeroized on drop) so it
/// can be written out or handed to rcgen.
pub struct PrivateKey {
    inner: Inner,
    pkcs8: Zeroizing<Vec<u8>>,
    public: PublicKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for PrivateKey {
    // Never prints key material: only what the public half says.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?})", self.public)
    }
}

impl PrivateKey {
    /// Generates a new key. `rsa_bits` is 3072 or 4096 and only read for RSA.
    pub fn generate(kind: KeyType, rsa_bits: usize) -> Result<Self, KeyError> {
        let gen_err = |e: aws_lc_rs::error::Unspecified| KeyError::Generate(e.to_string());
        let der: Zeroizing<Vec<u8>> = match kind {
            KeyType::EcdsaP256 => {
                let k = sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING)
                    .map_err(gen_err)?;
                Zeroizing::new(k.to_pkcs8v1().map_err(gen_err)?.as_ref().to_vec())
            }
            KeyType::Ed25519 => {
                let k = sig::Ed25519KeyPair::generate().map_err(gen_err)?;
                // v1 (no embedded public key): readable by every PKCS#8 consumer.
                Zeroizing::new(k.to_pkcs8v1().map_err(gen_err)?.as_ref().to_vec())
            }
            KeyType::Rsa => {
                let size = match rsa_bits {
                    3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                    4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
                    other => {
                        return Err(KeyError::Generate(format!(
                            "RSA-{other} is not offered; use 3072 or 4096"
                        )))
                    }
                };
                let k = sig::RsaKeyPair::generate(size).map_err(gen_err)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der = k.as_der().map_err(gen_err)?;
                Zeroizing::new(der.as_ref().to_vec())
            }
        };
        Self::from_pkcs8_der(der, Path::new("<generated>"))
    }

    /// Loads a private key from unencrypted PKCS#8 DER.
    pub fn from_pkcs8_der(der: Zeroizing<Vec<u8>>, origin: &Path) -> Result<Self, KeyError> {
        let info = pkcs8::PrivateKeyInfo::from_der(&der).map_err(|e| KeyError::Malformed {
            path: origin.into(),
            reason: format!("PKCS#8: {e}"),
        })?;
        let oid = info.algorithm.oid.to_string();
        let rejected = |e: aws_lc_rs::error::KeyRejected| KeyError::Malformed {
            path: origin.into(),
            reason: e.to_string(),
        };
        let inner = match oid.as_str() {
            OID_EC_PUBLIC_KEY => {
                require_p256(&info.algorithm, origin)?;
                Inner::Ecdsa(
                    sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                        .map_err(rejected)?,
                )
            }
            OID_ED25519 => Inner::Ed25519(sig::Ed25519KeyPair::from_pkcs8(&der).map_err(rejected)?),
            OID_RSA => Inner::Rsa(sig::RsaKeyPair::from_pkcs8(&der).map_err(rejected)?),
            other => {
                return Err(KeyError::Unsupported {
                    path: origin.into(),
                    what: format!("algorithm {other}"),
                })
            }
        };
        let spki: Result<PublicKeyX509Der, _> = match &inner {
            Inner::Ecdsa(k) => k.public_key().as_der(),
            Inner::Ed25519(k) => k.public_key().as_der(),
            Inner::Rsa(k) => k.public_key().as_der(),
        };
        let spki = spki.map_err(|_| KeyError::Malformed {
            path: origin.into(),
            reason: "cannot encode the public key".into(),
        })?;
        let public = PublicKey::from_spki_der(spki.as_ref(), origin)?;
        Ok(PrivateKey {
            inner,
            pkcs8: der,
            public,
            rng: SystemRandom::new(),
        })
    }

    /// Parses PEM text: `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`. `passphrase` is called
    /// only for an encrypted key.
    pub fn from_pem(
        text: &str,
        origin: &Path,
        passphrase: &mut dyn FnMut() -> Result<Zeroizing<String>, KeyError>,
    ) -> Result<Self, KeyError> {
        let (label, doc) = pkcs8::SecretDocument::from_pem(text).map_err(|e| KeyError::NotPem {
            path: origin.into(),
            reason: e.to_string(),
        })?;
        match label {
            "PRIVATE KEY" => Self::from_pkcs8_der(Zeroizing::new(doc.as_bytes().to_vec()), origin),
            "ENCRYPTED PRIVATE KEY" => {
                let enc =
                    pkcs8::EncryptedPrivateKeyInfo::from_der(doc.as_bytes()).map_err(|e| {
                        KeyError::Malformed {
                            path: origin.into(),
                            reason: format!("encrypted PKCS#8: {e}"),
                        }
                    })?;
                let pass = passphrase()?;
                let plain =
                    crate::pbe::decrypt(&enc, pass.as_bytes()).map_err(|_| KeyError::Decrypt {
                        path: origin.into(),
                    })?;
                // A wrong passphrase can, rarely, still unpad cleanly: then the PKCS#8
                // structure is garbage, which is reported as the decryption failure it is.
                Self::from_pkcs8_der(plain, origin).map_err(|e| match e {
                    KeyError::Malformed { .. } => KeyError::Decrypt {
                        path: origin.into(),
                    },
                    other => other,
                })
            }
            other => Err(KeyError::NotPem {
                path: origin.into(),
                reason: format!(
                    "found a '{other}' block (convert with `openssl pkcs8 -topk8` first)"
                ),
            }),
        }
    }

    /// Loads a private key file; an encrypted one takes its passphrase from
    /// `ATTEST_KEY_PASSPHRASE` or, on a terminal, a prompt.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = Zeroizing::new(read_small(path)?);
        Self::from_pem(&text, path, &mut || passphrase_for_reading(path))
    }

    /// PKCS#8 PEM, encrypted with PBES2 (PBKDF2-SHA256, AES-256-CBC) when a passphrase is
    /// given.
    pub fn to_pem(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, KeyError> {
        let fail = |e: String| KeyError::Generate(format!("PKCS#8 encoding: {e}"));
        match passphrase {
            None => Ok(Zeroizing::new(pem_encode("PRIVATE KEY", &self.pkcs8))),
            Some(pass) => {
                let mut salt = [0u8; 16];
                let mut iv = [0u8; 16];
                self.rng.fill(&mut salt).map_err(|e| fail(e.to_string()))?;
                self.rng.fill(&mut iv).map_err(|e| fail(e.to_string()))?;
                let der = crate::pbe::encrypt(
                    &self.pkcs8,
                    pass.as_bytes(),
                    PBKDF2_ITERATIONS,
                    &salt,
                    &iv,
                )
                .map_err(|_| fail("encryption failed".into()))?;
                let pem = pem_encode("ENCRYPTED PRIVATE KEY", &der);
                Ok(Zeroizing::new(pem))
            }
        }
    }

    /// The PKCS#8 DER (secret: callers must not print it).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, msg: &[u8], padding: RsaPadding) -> Result<Vec<u8>, KeyError> {
        let err = |e: aws_lc_rs::error::Unspecified| KeyError::Sign(e.to_string());
        match &self.inner {
            Inner::Ecdsa(k) => Ok(k.sign(&self.rng, msg).map_err(err)?.as_ref().to_vec()),
            Inner::Ed25519(k) => Ok(k.sign(msg).as_ref().to_vec()),
            Inner::Rsa(k) => {
                let mut out = vec![0u8; k.public_modulus_len()];
                let alg: &'static dyn sig::RsaEncoding = match padding {
                    RsaPadding::Pkcs1v15 => &sig::RSA_PKCS1_SHA256,
                    RsaPadding::Pss => &sig::RSA_PSS_SHA256,
                };
                k.sign(alg, &self.rng, msg, &mut out).map_err(err)?;
                Ok(out)
            }
        }
    }
}

/// Standard PEM: 64-column base64 lines, LF endings, trailing newline.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    s.push_str(&format!("-----BEGIN {label}-----\n"));
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII.
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// Reads a key or certificate file, refusing anything implausibly large for one.
pub(crate) fn read_small(path: &Path) -> Result<String, KeyError> {
    const LIMIT: u64 = 1 << 20;
    let io = |source| KeyError::Io {
        path: path.into(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > LIMIT {
        return Err(KeyError::Malformed {
            path: path.into(),
            reason: format!("{} bytes is too large for a key file", meta.len()),
        });
    }
    std::fs::read_to_string(path).map_err(io)
}

/// The passphrase for reading an encrypted key: the environment, else a prompt on the
/// terminal. Never argv: command lines are visible to every user through /proc.
pub fn passphrase_for_reading(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(Zeroizing::new(p));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(KeyError::PassphraseRequired { path: path.into() });
    }
    rpassword::prompt_password(format!("Passphrase for {}: ", path.display()))
        .map(Zeroizing::new)
        .map_err(|e| KeyError::Passphrase(e.to_string()))
}

/// The passphrase for a new encrypted key: the environment, else prompted twice.
pub fn passphrase_for_writing() -> Result<Zeroizing<String>, KeyError> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        if p.is_empty() {
            return Err(KeyError::Passphrase(format!("{PASSPHRASE_ENV} is empty")));
        }
        return Ok(Zeroizing::new(p));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(KeyError::Passphrase(format!(
            "--encrypt needs a passphrase: set {PASSPHRASE_ENV} or run on a terminal"
        )));
    }
    let a = Zeroizing::new(
        rpassword::prompt_password("New passphrase: ")
            .map_err(|e| KeyError::Passphrase(e.to_string()))?,
    );
    let b = Zeroizing::new(
        rpassword::prompt_password("Repeat passphrase: ")
            .map_err(|e| KeyError::Passphrase(e.to_string()))?,
    );
    if a.is_empty() || *a != *b {
        return Err(KeyError::Passphrase(
            "the passphrases are empty or differ".into(),
        ));
    }
    Ok(a)
}

/// Writes a private key file with mode 0600 from its first byte on: a temporary file in
/// the same directory (created 0600) is written, synced and renamed over `path`.
pub fn write_private_file(path: &Path, pem: &str, force: bool) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.into(),
        source,
    };
    if !force && path.exists() {
        return Err(KeyError::Exists { path: path.into() });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".attest-key-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    tmp.write_all(pem.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes a public file (0644) atomically.
pub fn write_public_file(path: &Path, text: &str, force: bool) -> Result<(), KeyError> {
    if !force && path.exists() {
        return Err(KeyError::Exists { path: path.into() });
    }
    sbom::output::write_atomically(path, |w| w.write_all(text.as_bytes())).map_err(|source| {
        KeyError::Io {
            path: path.into(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_pass() -> Result<Zeroizing<String>, KeyError> {
        panic!("no passphrase expected")
    }

    #[test]
    fn generate_sign_verify_every_type() {
        for (kind, bits) in [
            (KeyType::EcdsaP256, 0),
            (KeyType::Ed25519, 0),
            (KeyType::Rsa, 3072),
        ] {
            let k = PrivateKey::generate(kind, bits).unwrap();
            assert_eq!(k.public_key().kind(), kind);
            for pad in [RsaPadding::Pkcs1v15, RsaPadding::Pss] {
                let s = k.sign(b"message", pad).unwrap();
                assert!(
                    k.public_key().verify(b"message", &s, pad),
                    "{kind:?} {pad:?}"
                );
                assert!(!k.public_key().verify(b"messagf", &s, pad));
                let mut bad = s.clone();
                let last = bad.len() - 1;
                bad[last] ^= 1;
                assert!(!k.public_key().verify(b"message", &bad, pad));
            }
            // PEM round trip keeps the key and its id.
            let pem = k.to_pem(None).unwrap();
            let back = PrivateKey::from_pem(&pem, Path::new("t"), &mut no_pass).unwrap();
            assert_eq!(back.public_key(), k.public_key());
            let pub_back = PublicKey::from_pem(&k.public_key().to_pem(), Path::new("p")).unwrap();
            assert_eq!(pub_back.key_id(), k.public_key().key_id());
        }
    }

    #[test]
    fn encrypted_pem_round_trip_and_wrong_passphrase() {
        let k = PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap();
        let pem = k.to_pem(Some("correct horse")).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        let p = Path::new("enc.pem");
        let mut asked = 0;
        let back = PrivateKey::from_pem(&pem, p, &mut || {
            asked += 1;
            Ok(Zeroizing::new("correct horse".to_string()))
        })
        .unwrap();
        assert_eq!(asked, 1);
        assert_eq!(back.public_key(), k.public_key());
        let wrong = PrivateKey::from_pem(&pem, p, &mut || Ok(Zeroizing::new("wrong".to_string())));
        assert!(matches!(wrong, Err(KeyError::Decrypt { .. })));
        let none = PrivateKey::from_pem(&pem, p, &mut || {
            Err(KeyError::PassphraseRequired { path: p.into() })
        });
        assert!(none.unwrap_err().to_string().contains(PASSPHRASE_ENV));
    }

    #[test]
    fn private_file_is_0600_and_not_overwritten_without_force() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("k.pem");
        write_private_file(&path, "secret", false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(
            write_private_file(&path, "x", false),
            Err(KeyError::Exists { .. })
        ));
        write_private_file(&path, "y", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "y");
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn rsa_pkcs1_and_ed25519_are_deterministic() {
        let k = PrivateKey::generate(KeyType::Ed25519, 0).unwrap();
        assert_eq!(
            k.sign(b"x", RsaPadding::Pkcs1v15).unwrap(),
            k.sign(b"x", RsaPadding::Pkcs1v15).unwrap()
        );
    }

    #[test]
    fn key_id_is_sha256_of_spki() {
        let k = PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap();
        let want = hex::encode(Sha256::digest(k.public_key().spki_der()));
        assert_eq!(k.public_key().key_id(), want);
        assert_eq!(k.public_key().key_id().len(), 64);
    }

    #[test]
    fn debug_never_shows_secret() {
        let k = PrivateKey::generate(KeyType::Ed25519, 0).unwrap();
        let dbg = format!("{k:?}");
        let secret_hex = hex::encode(k.pkcs8_der());
        assert!(!dbg.contains(&secret_hex[secret_hex.len() - 32..]));
        assert!(dbg.starts_with("PrivateKey(PublicKey(ed25519"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let p = Path::new("k.pem");
        assert!(matches!(
            PrivateKey::from_pem("hello", p, &mut no_pass),
            Err(KeyError::NotPem { .. })
        ));
        let bogus = pem_encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00");
        assert!(matches!(
            PrivateKey::from_pem(&bogus, p, &mut no_pass),
            Err(KeyError::Malformed { .. })
        ));
        let rsa_legacy = pem_encode("RSA PRIVATE KEY", b"\x30\x00");
        let e = PrivateKey::from_pem(&rsa_legacy, p, &mut no_pass).unwrap_err();
        assert!(e.to_string().contains("openssl pkcs8 -topk8"), "{e}");
        assert!(PublicKey::from_pem(&bogus, p).is_err());
        assert!(PublicKey::from_spki_der(&[0x30, 0x82, 0xff], p).is_err());
    }
}
