//! `attest`: signed provenance for Fedora-based images. Not yet built out (see issue 4);
//! the crate exists so the workspace's dependency order (sbom <- attest <- verify) holds.
#![forbid(unsafe_code)]

pub use sbom;
