//! DER glue between PKCS#11 attribute and signature encodings and ours: SubjectPublicKeyInfo
//! from token attributes, ECDSA `r||s` to the DER `Ecdsa-Sig-Value` that DSSE verifiers,
//! Sigstore and in-toto expect.

use spki::der::asn1::{AnyRef, BitString, ObjectIdentifier, OctetStringRef, UintRef};
use spki::der::{Decode, Encode};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// What `CKA_EC_PARAMS` names: a curve OID, or (PKCS#11 3.0 allows it for Edwards curves)
/// a PrintableString curve name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Curve {
    P256,
    Ed25519,
    Other(String),
}

pub fn curve(ec_params: &[u8]) -> Curve {
    if let Ok(oid) = ObjectIdentifier::from_der(ec_params) {
        return match oid {
            OID_P256 => Curve::P256,
            OID_ED25519 => Curve::Ed25519,
            other => Curve::Other(other.to_string()),
        };
    }
    if let Ok(name) = spki::der::asn1::PrintableStringRef::from_der(ec_params) {
        return match name.as_str() {
            "edwards25519" => Curve::Ed25519,
            other => Curve::Other(other.to_owned()),
        };
    }
    Curve::Other(format!(
        "unparsable CKA_EC_PARAMS {}",
        hex::encode(ec_params)
    ))
}

/// The point inside `CKA_EC_POINT`: the spec says a DER OCTET STRING, some modules return
/// the raw point; `raw_len` says how long a raw one is (65 for uncompressed P-256, 32 for
/// Ed25519).
pub fn ec_point(attr: &[u8], raw_len: usize) -> Option<Vec<u8>> {
    if let Ok(os) = OctetStringRef::from_der(attr) {
        if os.as_bytes().len() == raw_len {
            return Some(os.as_bytes().to_vec());
        }
    }
    (attr.len() == raw_len).then(|| attr.to_vec())
}

fn spki(
    oid: ObjectIdentifier,
    params: Option<spki::der::Any>,
    key: &[u8],
) -> Result<Vec<u8>, String> {
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid,
            parameters: params,
        },
        subject_public_key: BitString::from_bytes(key).map_err(|e| e.to_string())?,
    }
    .to_der()
    .map_err(|e| e.to_string())
}

pub fn p256_spki(point: &[u8]) -> Result<Vec<u8>, String> {
    let params = AnyRef::from(&OID_P256).into();
    spki(OID_EC_PUBLIC_KEY, Some(params), point)
}

pub fn ed25519_spki(key: &[u8]) -> Result<Vec<u8>, String> {
    spki(OID_ED25519, None, key)
}

/// SPKI for `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT` (big-endian unsigned integers).
pub fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Result<Vec<u8>, String> {
    let rsa_public_key = uints_sequence(&[modulus, exponent])?;
    spki(OID_RSA, Some(spki::der::Any::null()), &rsa_public_key)
}

/// `SEQUENCE { INTEGER, INTEGER, ... }` of unsigned big-endian integers.
fn uints_sequence(ints: &[&[u8]]) -> Result<Vec<u8>, String> {
    let v: Vec<UintRef<'_>> = ints
        .iter()
        .map(|i| UintRef::new(i).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    v.to_der().map_err(|e| e.to_string())
}

/// ECDSA P-256 `r||s` (64 bytes, as CKM_ECDSA returns it) to DER.
pub fn ecdsa_p256_der(raw: &[u8]) -> Result<Vec<u8>, String> {
    if raw.len() != 64 {
        return Err(format!(
            "the token returned a {}-byte ECDSA signature; P-256 gives 64 (r||s)",
            raw.len()
        ));
    }
    uints_sequence(&[&raw[..32], &raw[32..]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyType, PrivateKey, PublicKey, RsaPadding, Signer};
    use std::path::Path;

    #[test]
    fn spki_from_token_attributes_equals_the_key_files() {
        // What a token holds for a key is what the key file holds: the same SPKI, the same id.
        for kind in [KeyType::EcdsaP256, KeyType::Ed25519] {
            let k = PrivateKey::generate(kind, 0).unwrap();
            let raw = k.public_key().raw_public_key();
            let der = match kind {
                KeyType::EcdsaP256 => {
                    // As SoftHSM stores CKA_EC_POINT: wrapped in an OCTET STRING.
                    let wrapped = OctetStringRef::new(&raw).unwrap().to_der().unwrap();
                    p256_spki(&ec_point(&wrapped, 65).unwrap()).unwrap()
                }
                _ => ed25519_spki(&ec_point(&raw, 32).unwrap()).unwrap(),
            };
            assert_eq!(der, k.public_key().spki_der(), "{kind:?}");
        }
        let k = PrivateKey::generate(KeyType::Rsa, 3072).unwrap();
        let rsa = aws_lc_rs::rsa::PublicKey::from_der(&k.public_key().raw_public_key()).unwrap();
        let n = rsa.modulus().big_endian_without_leading_zero();
        let e = rsa.exponent().big_endian_without_leading_zero();
        assert_eq!(rsa_spki(n, e).unwrap(), k.public_key().spki_der());
        PublicKey::from_spki_der(&rsa_spki(n, e).unwrap(), Path::new("t")).unwrap();
    }

    #[test]
    fn curves_by_oid_or_name() {
        assert_eq!(curve(&OID_P256.to_der().unwrap()), Curve::P256);
        assert_eq!(curve(&OID_ED25519.to_der().unwrap()), Curve::Ed25519);
        let name = spki::der::asn1::PrintableStringRef::new("edwards25519")
            .unwrap()
            .to_der()
            .unwrap();
        assert_eq!(curve(&name), Curve::Ed25519);
        let p384 = ObjectIdentifier::new_unwrap("1.3.132.0.34")
            .to_der()
            .unwrap();
        assert_eq!(curve(&p384), Curve::Other("1.3.132.0.34".into()));
        assert!(matches!(curve(b"\x01\x02"), Curve::Other(_)));
        assert_eq!(ec_point(&[4; 64], 65), None);
    }

    #[test]
    fn raw_ecdsa_signature_becomes_der_that_verifies() {
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let k = PrivateKey::generate(KeyType::EcdsaP256, 0).unwrap();
        let fixed =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, k.pkcs8_der()).unwrap();
        assert_eq!(fixed.public_key().as_ref(), k.public_key().raw_public_key());
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // Many signatures: r or s with a high bit set or leading zero bytes must encode right.
        for _ in 0..200 {
            let raw = fixed.sign(&rng, b"msg").unwrap();
            let der = ecdsa_p256_der(raw.as_ref()).unwrap();
            assert!(k.public_key().verify(b"msg", &der, RsaPadding::Pkcs1v15));
            assert!(!k.public_key().verify(b"msh", &der, RsaPadding::Pkcs1v15));
        }
        assert!(ecdsa_p256_der(&[1; 63]).is_err());
        let _ = k.sign(b"x", RsaPadding::Pkcs1v15).unwrap();
    }
}
