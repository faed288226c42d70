use clap::Parser;

/// Verify Fedora-based images and their attestations.
///
/// Not yet implemented: this binary only reports its version.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> std::process::ExitCode {
    let _ = Cli::parse();
    eprintln!("verify: no subcommands are implemented yet");
    std::process::ExitCode::from(2)
}
