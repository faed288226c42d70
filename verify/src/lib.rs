//! `verify`: checks Fedora-based images and their attestations.
#![forbid(unsafe_code)]

pub use attest;
