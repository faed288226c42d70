//! `verify`: checks Fedora-based images and their attestations.
//!
//! Thin on purpose: parse the command line, run it, map the outcome to the
//! exit status (0 verified, 1 not verified, 2 usage or input error).
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = verify::cli::Cli::parse();
    std::process::ExitCode::from(verify::cli::run(cli).exit_code())
}
