//! The `attest` command line: argument definitions and dispatch. `main.rs` only calls
//! [`run`] and turns the result into an exit code.
//!
//! Exit codes: 0 done, 1 failure (input unreadable, key or signature problem, output not
//! written), 2 usage (clap's own code for bad arguments, and ours for bad values).

mod attestations;
mod intotocmds;
mod keycmds;
mod keysrc;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use attestations::{now_secs, parse_time, sign_statements};
pub use keysrc::{load_public, load_signer, HsmOpts};

const AFTER_HELP: &str = "\
Examples:
  attest keygen --type ed25519 -o builder.key              builder.key (0600) + builder.key.pub
  attest ca init ca/ --intermediate                         a test CA with an intermediate
  attest ca issue ca/ --public-key builder.key.pub --identity email:build@example.com -o builder.chain.pem
  attest provenance rootfs/ --key builder.key --recipe sample.toml --overlay /etc/motd.d/azl -o image.provenance.json
  attest provenance rootfs/ --key builder.key --cert builder.chain.pem -o image.provenance.json
  attest sbom rootfs/ --format spdx-json --key builder.key -o image.spdx.bundle.json
  attest packages rootfs/ --key builder.key --repo repo/ -o packages.intoto.jsonl
  attest layout chain.toml --key owner.key -o root.layout
  attest link compose --key compose.key --materials repo/ --products rootfs/ -o links/
  attest provenance rootfs/ --key 'pkcs11:token=attest;object=release-key' -o image.provenance.json
                                                            (ATTEST_PKCS11_MODULE and ATTEST_PKCS11_PIN set)

Encrypted keys take their passphrase from ATTEST_KEY_PASSPHRASE or a prompt, never argv;
token keys (pkcs11: URIs) their PIN from ATTEST_PKCS11_PIN, pin-source=file:PATH or a prompt.
Times default to SOURCE_DATE_EPOCH when it is set, so output is reproducible (ECDSA
signatures excepted: they are randomized). See docs/attest.md.

Exit status:
  0  done
  1  failure: unreadable input, bad key or passphrase, output not written
  2  usage error";

/// Signed provenance for Fedora-based images: SLSA provenance, SBOM attestations, per-package
/// statements, Sigstore bundles, in-toto layouts and links.
#[derive(Parser)]
#[command(name = "attest", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Generate a signing key pair (PKCS#8 PEM private key, SPKI PEM public key).
    Keygen(keycmds::KeygenArgs),
    /// A private test CA: create one, issue code-signing certificates.
    #[command(subcommand)]
    Ca(keycmds::CaCmd),
    /// Print the public key and key ids of a private or public key file.
    KeyInfo(keycmds::KeyInfoArgs),
    /// Sign SLSA Provenance v1 for an image.
    Provenance(attestations::ProvenanceArgs),
    /// Sign an SBOM attestation (SPDX 2.3, SPDX 3, CycloneDX) for an image.
    Sbom(attestations::SbomArgs),
    /// Sign SLSA Provenance v1 for every package of an image (.intoto.jsonl).
    Packages(attestations::PackagesArgs),
    /// Print the root-filesystem digest of a directory.
    RootfsDigest(attestations::RootfsArgs),
    /// Write a signed in-toto layout from a short TOML description.
    Layout(intotocmds::LayoutArgs),
    /// Record a step's materials and products as a signed in-toto link.
    Link(intotocmds::LinkArgs),
}

/// Signing options shared by the attestation commands.
#[derive(Args, Clone)]
pub struct SignOpts {
    /// Private key file (PKCS#8 PEM, optionally encrypted) or a PKCS#11 URI
    /// (`pkcs11:token=T;object=LABEL`; PIN from ATTEST_PKCS11_PIN, pin-source= or a prompt).
    #[arg(long, value_name = "FILE|URI")]
    pub key: PathBuf,
    #[command(flatten)]
    pub hsm: HsmOpts,
    /// Certificate chain (PEM, leaf first) for the key: the bundle carries certificates
    /// instead of a key hint.
    #[arg(long, value_name = "CHAIN")]
    pub cert: Option<PathBuf>,
}

/// Error carrying its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            code: 1,
            message: e.to_string(),
        }
    }
}

pub fn usage(msg: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: msg.into(),
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Keygen(a) => keycmds::keygen(a),
        Cmd::Ca(c) => keycmds::ca(c),
        Cmd::KeyInfo(a) => keycmds::key_info(a),
        Cmd::Provenance(a) => attestations::provenance(a),
        Cmd::Sbom(a) => attestations::sbom(a),
        Cmd::Packages(a) => attestations::packages(a),
        Cmd::RootfsDigest(a) => attestations::rootfs_digest(a),
        Cmd::Layout(a) => intotocmds::layout(a),
        Cmd::Link(a) => intotocmds::link(a),
    }
}
