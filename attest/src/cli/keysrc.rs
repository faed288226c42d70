//! Where a `--key` comes from: a key file, or a key in a PKCS#11 token named by an RFC 7512
//! URI (`pkcs11:token=attest;object=release-key`). Everything that signs goes through
//! [`load_signer`], everything that only needs the public half through [`load_public`].

use std::path::{Path, PathBuf};

use clap::Args;

use crate::keys::{KeyError, PrivateKey, PublicKey, Signer};
use crate::pkcs11::{self, Pkcs11Signer, Pkcs11Uri};

use super::{usage, Failure};

/// The PKCS#11 module for `pkcs11:` keys.
#[derive(Args, Clone, Default)]
pub struct HsmOpts {
    /// PKCS#11 module (shared library) for `pkcs11:` key URIs, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so (default: $ATTEST_PKCS11_MODULE, or the URI's
    /// module-path).
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
}

/// The URI when `key` is one. Parsed here, not by clap: clap would echo a refused value,
/// `pin-value` included, in its error.
fn as_uri(key: &Path) -> Result<Option<Pkcs11Uri>, Failure> {
    match key.to_str() {
        Some(s) if pkcs11::is_pkcs11_uri(s) => Pkcs11Uri::parse(s)
            .map(Some)
            .map_err(|e| usage(e.to_string())),
        _ => Ok(None),
    }
}

pub fn load_signer(key: &Path, hsm: &HsmOpts) -> Result<Box<dyn Signer>, Failure> {
    match as_uri(key)? {
        Some(uri) => Ok(Box::new(Pkcs11Signer::open(
            &uri,
            hsm.pkcs11_module.as_deref(),
        )?)),
        None => Ok(Box::new(PrivateKey::load(key)?)),
    }
}

/// The public key of a public key file, a private key file or a token key.
pub fn load_public(key: &Path, hsm: &HsmOpts) -> Result<PublicKey, Failure> {
    if let Some(uri) = as_uri(key)? {
        return Ok(pkcs11::public_key(&uri, hsm.pkcs11_module.as_deref())?);
    }
    match PublicKey::load(key) {
        Ok(k) => Ok(k),
        Err(KeyError::NotPem { .. }) => Ok(PrivateKey::load(key)?.public_key().clone()),
        Err(e) => Err(e.into()),
    }
}
