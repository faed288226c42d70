//! `verify`: checks Fedora-based images and their attestations.
#![forbid(unsafe_code)]

pub use attest;

pub mod attestation;
pub mod cli;
pub mod drift_check;
pub mod image;
pub mod input;
pub mod intoto;
pub mod policy;
pub mod report;
pub mod rpmsig;
pub mod sigstore;
