//! The `verify` command line: one clap subcommand per module.
//!
//! `main.rs` only parses, calls [`run`] and turns the [`Outcome`] into an exit
//! status. New subcommands (image verification, ...) add a variant to
//! [`Command`] and a module here.

use clap::{Parser, Subcommand};

pub mod image;
pub mod verify_bundle;

/// Verify Fedora-based images and their attestations, offline.
#[derive(Debug, Parser)]
#[command(name = "verify", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to verify.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify an image root: RPM header signatures and digests, package and license policy.
    ///
    /// Exit status: 0 trusted, 1 not trusted, 2 usage or input error.
    Image(image::ImageArgs),
    /// Verify a Sigstore bundle (*.sigstore.json) offline against a trusted root.
    ///
    /// Exit status: 0 verified, 1 not verified, 2 usage or input error.
    /// This is also the command line of the Sigstore conformance suite.
    VerifyBundle(verify_bundle::VerifyBundleArgs),
}

/// How a command ended; `main` maps it to the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out.
    Verified,
    /// The input was read and understood, and it does not verify.
    NotVerified,
    /// Bad usage, or an input (file, key, trusted root) that could not be used.
    InputError,
}

impl Outcome {
    /// The process exit status: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Verified => 0,
            Self::NotVerified => 1,
            Self::InputError => 2,
        }
    }
}

/// Run a parsed command line. Reports go to stdout, errors to stderr.
pub fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::Image(args) => image::run(&args),
        Command::VerifyBundle(args) => verify_bundle::run(&args),
    }
}
