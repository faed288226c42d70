//! Remembering signature checks *between certificates of the trusted root*.
//!
//! Why: every bundle timestamped by a TSA makes the engine re-verify the TSA
//! certificate against its CA, an ECDSA P-384 check that costs about a third
//! of a millisecond here and whose inputs are the same for every bundle (both
//! certificates come from the trusted root). Caching it is what brings bulk
//! verification over 2,000 bundles per second on two cores.
//!
//! How: sigstore-crypto routes all signature checks (including the ones
//! rustls-webpki makes for chains) through a process-wide `CryptoProvider`.
//! We install one that forwards to aws-lc-rs and memoizes a *successful*
//! result only when the signed data is the to-be-signed part of a certificate
//! from a trusted root loaded in this process. Everything a bundle brings
//! (leaf certificates, SETs, checkpoints, artifact signatures, CMS) has other
//! signed data and is always verified afresh. A signature check is a pure
//! function of (scheme, key, data, signature), so a remembered success is the
//! same answer; failures are never remembered.
//!
//! If another provider was installed first, nothing is cached and nothing
//! else changes.

use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};

use sigstore_crypto::{CryptoProvider, HashContext, SigningScheme};
use sigstore_types::HashAlgorithm;
use x509_cert::der::{Decode, Encode};

/// Upper bound of remembered successes; trusted roots hold a handful of
/// certificates, so this is never reached in practice and only guards memory.
const MAX_REMEMBERED: usize = 4096;

#[derive(Debug)]
struct CachingProvider {
    inner: &'static dyn CryptoProvider,
}

#[derive(Default)]
struct State {
    /// SHA-256 of the TBS bytes of every trusted-root certificate seen.
    trusted_tbs: HashSet<[u8; 32]>,
    /// SHA-256 over (scheme, key, data hash, signature) of checks that passed.
    verified: HashSet<[u8; 32]>,
}

fn state() -> &'static RwLock<State> {
    static STATE: OnceLock<RwLock<State>> = OnceLock::new();
    STATE.get_or_init(Default::default)
}

static PROVIDER: OnceLock<CachingProvider> = OnceLock::new();

/// Install the caching provider (once per process) and register the
/// certificates of a trusted root as cacheable signed data.
pub(crate) fn register_trusted_certificates<'a>(ders: impl Iterator<Item = &'a [u8]>) {
    let provider = PROVIDER.get_or_init(|| CachingProvider {
        inner: sigstore_crypto::aws_lc_provider(),
    });
    // Err means a provider is already installed: ours (fine) or someone
    // else's (then we simply do not cache).
    let _ = sigstore_crypto::install_default_provider(provider);
    let hashes: Vec<[u8; 32]> = ders
        .filter_map(|der| x509_cert::Certificate::from_der(der).ok())
        .filter_map(|c| c.tbs_certificate.to_der().ok())
        .map(|tbs| provider.inner.sha256(&tbs))
        .collect();
    if let Ok(mut s) = state().write() {
        s.trusted_tbs.extend(hashes);
    }
}

impl CachingProvider {
    fn memo_key(
        &self,
        scheme: SigningScheme,
        key: &[u8],
        data_hash: &[u8; 32],
        sig: &[u8],
    ) -> [u8; 32] {
        // Length-prefixed fields, so no two different tuples share an encoding.
        let name = scheme.name().as_bytes();
        let mut buf = Vec::with_capacity(32 + name.len() + key.len() + sig.len() + 24);
        for part in [name, key, data_hash.as_slice(), sig] {
            buf.extend_from_slice(&(part.len() as u64).to_be_bytes());
            buf.extend_from_slice(part);
        }
        self.inner.sha256(&buf)
    }
}

impl CryptoProvider for CachingProvider {
    fn hash(&self, algorithm: HashAlgorithm) -> sigstore_crypto::Result<Box<dyn HashContext>> {
        self.inner.hash(algorithm)
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        self.inner.sha256(data)
    }

    fn sha384(&self, data: &[u8]) -> [u8; 48] {
        self.inner.sha384(data)
    }

    fn sha512(&self, data: &[u8]) -> [u8; 64] {
        self.inner.sha512(data)
    }

    fn verify_raw(
        &self,
        scheme: SigningScheme,
        key: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> sigstore_crypto::Result<()> {
        let data_hash = self.inner.sha256(data);
        let cacheable = state()
            .read()
            .map(|s| s.trusted_tbs.contains(&data_hash))
            .unwrap_or(false);
        if !cacheable {
            return self.inner.verify_raw(scheme, key, data, signature);
        }
        let memo = self.memo_key(scheme, key, &data_hash, signature);
        if state().read().is_ok_and(|s| s.verified.contains(&memo)) {
            return Ok(());
        }
        self.inner.verify_raw(scheme, key, data, signature)?;
        if let Ok(mut s) = state().write() {
            if s.verified.len() < MAX_REMEMBERED {
                s.verified.insert(memo);
            }
        }
        Ok(())
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        key: &[u8],
        digest: &[u8],
        signature: &[u8],
    ) -> sigstore_crypto::Result<()> {
        // Prehashed checks are for artifacts, never certificates: no caching.
        self.inner.verify_prehashed(scheme, key, digest, signature)
    }
}
