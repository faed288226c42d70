//! `verify`: checks Fedora-based images and their attestations.
#![forbid(unsafe_code)]

pub use attest;

pub mod cli;
pub mod sigstore;
