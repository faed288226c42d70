//! RPM header format: [`header`] parses and bounds-checks a blob, [`decode`] turns it into
//! a [`crate::package::Package`], [`pgpsig`] reads the OpenPGP signature packets a header
//! carries, [`tags`] names the tag numbers.

pub mod decode;
pub mod header;
pub mod pgpsig;
pub mod tags;
pub mod vercmp;

pub use decode::{decode, DecodeError};
