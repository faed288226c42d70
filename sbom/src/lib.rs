//! `sbom`: exact software bills of materials for Fedora-based operating-system images.
//!
//! The pipeline is: locate and read the RPM database ([`rpmdb`]) -> decode each header
//! blob ([`rpm::header`]) into a [`package::Package`] -> build an [`inventory::Inventory`]
//! (distro, packages, imported keys, resolved dependencies) -> write it in one of the
//! [`format`]s. See `docs/ARCHITECTURE.md` for the invariants of each module.
#![forbid(unsafe_code)]

pub mod deps;
pub mod drift;
pub mod format;
pub mod image;
pub mod inventory;
pub mod license;
pub mod osrelease;
pub mod output;
pub mod package;
pub mod purl;
pub mod rpm;
pub mod rpmdb;
pub mod scan;
