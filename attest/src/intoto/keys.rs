//! in-toto (securesystemslib) public key objects and key ids.
//!
//! A key object is `{"keytype", "scheme", "keyval": {"public"}}`: Ed25519 as
//! `ed25519`/`ed25519` with the raw key in hex, ECDSA P-256 as `ecdsa`/`ecdsa-sha2-nistp256`
//! and RSA as `rsa`/`rsassa-pss-sha256`, both with the SPKI PEM exactly as Python's
//! `cryptography` writes it. The key id is the SHA-256 (hex) of the canonical JSON of that
//! object, which is what `in-toto-verify --verification-keys` computes from a PEM file.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::keys::{KeyType, PublicKey, RsaPadding};

/// The key object without `keyid`.
pub fn key_object(k: &PublicKey) -> Value {
    let (keytype, scheme, public) = match k.kind() {
        KeyType::Ed25519 => ("ed25519", "ed25519", hex::encode(k.raw_public_key())),
        KeyType::EcdsaP256 => ("ecdsa", "ecdsa-sha2-nistp256", k.to_pem()),
        KeyType::Rsa => ("rsa", "rsassa-pss-sha256", k.to_pem()),
    };
    json!({"keytype": keytype, "scheme": scheme, "keyval": {"public": public}})
}

/// The in-toto key id of `k`.
pub fn in_toto_keyid(k: &PublicKey) -> String {
    // The object has no floats, so canonical encoding cannot fail.
    let bytes = canonical::to_vec(&key_object(k)).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// The key object with its `keyid`, as a layout's `keys` map holds it.
pub fn key_object_with_id(k: &PublicKey) -> (String, Value) {
    let id = in_toto_keyid(k);
    let mut o = key_object(k);
    o["keyid"] = json!(id);
    (id, o)
}

/// The RSA padding the in-toto scheme of a key requires (PSS for `rsassa-pss-sha256`).
pub fn padding(_k: &PublicKey) -> RsaPadding {
    RsaPadding::Pss
}
