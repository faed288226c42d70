use clap::Parser;

/// Signed provenance for Fedora-based images (in-toto, SLSA, DSSE, Sigstore bundles).
///
/// Not yet implemented: this binary only reports its version.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _ = Cli::parse();
    eprintln!("attest: no subcommands are implemented yet");
    std::process::ExitCode::from(2)
}
