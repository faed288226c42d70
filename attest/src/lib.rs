//! `attest`: signed provenance for Fedora-based images: keys, DSSE envelopes, in-toto
//! Statements with SLSA Provenance v1 and SBOM predicates, Sigstore bundles, in-toto layouts
//! and links. See `docs/attest.md` for the command line and the formats we define.
#![forbid(unsafe_code)]

pub use sbom;

pub mod bundle;
pub mod canonical;
pub mod certs;
pub mod cli;
pub mod dsse;
pub mod intoto;
pub mod keys;
pub mod pbe;
pub mod pkcs11;
pub mod provenance;
pub mod recipe;
pub mod repo;
pub mod rootfs;
pub mod statement;
