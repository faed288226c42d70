//! `attest`: thin command line over the `attest` library (see `attest::cli`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = attest::cli::Cli::parse();
    match attest::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("attest: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
