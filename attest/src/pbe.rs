//! Password-based encryption of PKCS#8 keys (PBES2, RFC 8018).
//!
//! The `pkcs8`/`pkcs5` crates give the ASN.1 structures; the PBKDF2 and AES-CBC work is
//! done by aws-lc, which is fast in every build profile (the pure-Rust PBKDF2 takes seconds
//! per key with 600,000 iterations in an unoptimized test build). Parameters we cannot
//! handle here (scrypt, SHA-224, 3DES) fall back to the `pkcs5` implementation.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
    UnboundCipherKey, AES_128, AES_256,
};
use aws_lc_rs::pbkdf2;
use pkcs8::der::Encode;
use pkcs8::pkcs5::pbes2::{self, Kdf, Pbkdf2Prf};
use pkcs8::pkcs5::EncryptionScheme;
use zeroize::Zeroizing;

/// Refuse absurd work factors from a hostile file (a billion iterations is hours).
const MAX_ITERATIONS: u32 = 10_000_000;

#[derive(Debug, PartialEq, Eq)]
pub enum PbeError {
    /// Wrong passphrase, corrupt data or unsupported parameters: deliberately one error,
    /// so a wrong passphrase is not distinguishable from bad padding by its message.
    Decrypt,
    Encrypt,
}

/// The AES variant, its key length and the IV.
type CipherParams = (&'static aws_lc_rs::cipher::Algorithm, usize, [u8; 16]);

fn cipher(scheme: &pbes2::EncryptionScheme<'_>) -> Option<CipherParams> {
    match scheme {
        pbes2::EncryptionScheme::Aes128Cbc { iv } => Some((&AES_128, 16, **iv)),
        pbes2::EncryptionScheme::Aes256Cbc { iv } => Some((&AES_256, 32, **iv)),
        _ => None,
    }
}

fn prf(p: Pbkdf2Prf) -> Option<pbkdf2::Algorithm> {
    match p {
        Pbkdf2Prf::HmacWithSha1 => Some(pbkdf2::PBKDF2_HMAC_SHA1),
        Pbkdf2Prf::HmacWithSha256 => Some(pbkdf2::PBKDF2_HMAC_SHA256),
        Pbkdf2Prf::HmacWithSha384 => Some(pbkdf2::PBKDF2_HMAC_SHA384),
        Pbkdf2Prf::HmacWithSha512 => Some(pbkdf2::PBKDF2_HMAC_SHA512),
        _ => None,
    }
}

/// Decrypts an `EncryptedPrivateKeyInfo` to PKCS#8 DER.
pub fn decrypt(
    enc: &pkcs8::EncryptedPrivateKeyInfo<'_>,
    password: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    if let EncryptionScheme::Pbes2(params) = &enc.encryption_algorithm {
        if let (Kdf::Pbkdf2(k), Some((alg, key_len, iv))) =
            (&params.kdf, cipher(&params.encryption))
        {
            if let Some(prf) = prf(k.prf) {
                if k.iteration_count > MAX_ITERATIONS {
                    return Err(PbeError::Decrypt);
                }
                let iterations = NonZeroU32::new(k.iteration_count).ok_or(PbeError::Decrypt)?;
                let mut key = Zeroizing::new(vec![0u8; key_len]);
                pbkdf2::derive(prf, iterations, k.salt, password, &mut key);
                let ukey = UnboundCipherKey::new(alg, &key).map_err(|_| PbeError::Decrypt)?;
                let dec =
                    PaddedBlockDecryptingKey::cbc_pkcs7(ukey).map_err(|_| PbeError::Decrypt)?;
                let mut buf = Zeroizing::new(enc.encrypted_data.to_vec());
                let plain = dec
                    .decrypt(&mut buf, DecryptionContext::Iv128(iv.into()))
                    .map_err(|_| PbeError::Decrypt)?;
                return Ok(Zeroizing::new(plain.to_vec()));
            }
        }
    }
    if let EncryptionScheme::Pbes2(params) = &enc.encryption_algorithm {
        if let Kdf::Scrypt(s) = &params.kdf {
            // scrypt memory is 128 * r * N bytes; refuse more than 1 GiB.
            let n = 1u64 << s.cost_parameter.trailing_zeros().min(63);
            if n.saturating_mul(128)
                .saturating_mul(u64::from(s.block_size))
                > 1 << 30
            {
                return Err(PbeError::Decrypt);
            }
        }
    }
    enc.decrypt(password)
        .map(|d| Zeroizing::new(d.as_bytes().to_vec()))
        .map_err(|_| PbeError::Decrypt)
}

/// Encrypts PKCS#8 DER with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC); returns the DER of an
/// `EncryptedPrivateKeyInfo`.
pub fn encrypt(
    pkcs8_der: &[u8],
    password: &[u8],
    iterations: u32,
    salt: &[u8; 16],
    iv: &[u8; 16],
) -> Result<Vec<u8>, PbeError> {
    let iters = NonZeroU32::new(iterations).ok_or(PbeError::Encrypt)?;
    let mut key = Zeroizing::new(vec![0u8; 32]);
    pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iters, salt, password, &mut key);
    let ukey = UnboundCipherKey::new(&AES_256, &key).map_err(|_| PbeError::Encrypt)?;
    let encr = PaddedBlockEncryptingKey::cbc_pkcs7(ukey).map_err(|_| PbeError::Encrypt)?;
    let mut buf = pkcs8_der.to_vec();
    encr.less_safe_encrypt(&mut buf, EncryptionContext::Iv128((*iv).into()))
        .map_err(|_| PbeError::Encrypt)?;
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(iterations, salt, iv)
        .map_err(|_| PbeError::Encrypt)?;
    let info = pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: EncryptionScheme::Pbes2(params),
        encrypted_data: &buf,
    };
    info.to_der().map_err(|_| PbeError::Encrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::der::Decode;

    #[test]
    fn interoperates_with_the_pkcs5_crate() {
        // pkcs8's decrypt parses the plaintext as DER, so use a real PKCS#8 key.
        let k = crate::keys::PrivateKey::generate(crate::keys::KeyType::Ed25519, 0).unwrap();
        let secret = k.pkcs8_der().to_vec();
        let der = encrypt(&secret, b"pw", 1000, &[7; 16], &[9; 16]).unwrap();
        let info = pkcs8::EncryptedPrivateKeyInfo::from_der(&der).unwrap();
        // The reference implementation decrypts what we wrote ...
        assert_eq!(info.decrypt(b"pw").unwrap().as_bytes(), &secret[..]);
        // ... and we decrypt what it writes.
        let params = pbes2::Parameters::pbkdf2_sha256_aes128cbc(1000, &[1; 16], &[2; 16]).unwrap();
        let ct = params.encrypt(b"pw", &secret).unwrap();
        let theirs = pkcs8::EncryptedPrivateKeyInfo {
            encryption_algorithm: EncryptionScheme::Pbes2(params),
            encrypted_data: &ct,
        };
        assert_eq!(&decrypt(&theirs, b"pw").unwrap()[..], &secret[..]);
        assert_eq!(decrypt(&info, b"wrong"), Err(PbeError::Decrypt));
    }
}
