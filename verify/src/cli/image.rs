//! `verify image ROOTFS`: every check on an image root, one report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Outcome;
use sbom::image::{Limits, Platform};

use crate::image::{self, ImageRequest, Progress};
use crate::input::{ContainerOptions, InputKind};
use crate::policy::Policy;
use crate::report::{self, Format};

/// Show a progress bar only for images with at least this many headers.
const PROGRESS_MIN_HEADERS: usize = 1000;

const EXAMPLES: &str = "\
Examples:
  # Header signatures of every installed package against Fedora 40's key, and every
  # file against its signed header
  verify image ./rootfs --keyring /etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-40-primary

  # A container image (OCI layout, OCI archive or docker-archive), one platform of an index
  verify image ./image.oci.tar --platform linux/amd64 --policy policy.toml

  # With a policy (trusted keys, forbidden packages, licenses, drift), JUnit for CI
  verify image ./rootfs --policy policy.toml --format junit -o verify.xml

  # Machine-readable result (schema: docs/verify.md)
  verify image ./rootfs --policy policy.toml --json | jq '.findings[] | select(.status != \"pass\")'

Checks: rpm.database, rpm.signature, rpm.header-digest, files.drift and files.unowned
(unless --no-verify-files or a bare database), policy.package and policy.license (when
the policy lists packages or licenses).

Exit status: 0 trusted (every check passed), 1 not trusted (a check failed or the
image could not be read), 2 usage or input error (bad arguments, unreadable or
invalid policy or key file, IMAGE not an image).";

/// Arguments of `image`.
#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES)]
pub struct ImageArgs {
    /// The image: a root filesystem directory (holding usr/lib/sysimage/rpm or var/lib/rpm),
    /// an OCI layout directory, an OCI or docker archive, or an RPM database file.
    #[arg(value_name = "IMAGE")]
    pub input: PathBuf,

    /// Policy file (TOML; docs/policy.md). Without one, strict defaults apply.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// ASCII-armored OpenPGP key trusted for RPM headers (repeatable; added to the policy's).
    #[arg(long, value_name = "FILE")]
    pub keyring: Vec<PathBuf>,

    /// Shorthand for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Check every file against the digest, size, mode and link target its signed header
    /// declares (like `rpm -Va`) and report files no package owns; the policy's `[drift]`
    /// section says which differences are acceptable. The default for root filesystems and
    /// container images; with a bare database file it is a usage error.
    #[arg(long, overrides_with = "no_verify_files")]
    pub verify_files: bool,

    /// Skip the file check (headers, attestations and policy only). The report then says
    /// nothing about the files on disk.
    #[arg(long)]
    pub no_verify_files: bool,

    /// For an image index with several platforms: `os/arch[/variant]`, e.g. `linux/amd64`.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    /// Refuse a container image whose layers decompress to more than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 30)]
    pub max_image_bytes: u64,

    /// Refuse a container image with a single file larger than this.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 30)]
    pub max_entry_bytes: u64,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, total: usize) {
        if total >= PROGRESS_MIN_HEADERS {
            self.0.set_length(total as u64);
            self.0.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
    fn tick(&self) {
        self.0.inc(1);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Run `image`.
pub fn run(args: &ImageArgs) -> Outcome {
    let format = if args.json { Format::Json } else { args.format };
    let policy = match &args.policy {
        Some(p) => match Policy::from_file(p) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("verify image: error: {e}");
                return Outcome::InputError;
            }
        },
        None => Policy::default(),
    };
    let platform = match args.platform.as_deref() {
        None => None,
        Some(p) => match Platform::parse(p) {
            Some(p) => Some(p),
            None => {
                eprintln!(
                    "verify image: error: --platform {p:?}: expected os/arch[/variant], e.g. linux/amd64"
                );
                return Outcome::InputError;
            }
        },
    };
    // Files are checked by default wherever there are files; a bare database has none, so
    // there only an explicit --verify-files is an error.
    let verify_files = args.verify_files
        || (!args.no_verify_files
            && !matches!(InputKind::of(&args.input), Some(InputKind::DbFile)));
    let req = ImageRequest {
        input: &args.input,
        policy: &policy,
        policy_path: args.policy.as_deref(),
        extra_keys: &args.keyring,
        verify_files,
        container: ContainerOptions {
            platform,
            limits: Limits {
                max_total: args.max_image_bytes,
                max_entry: args.max_entry_bytes,
                ..Limits::default()
            },
        },
    };
    // Hidden until `start` knows the work is long, and never when stderr is not a TTY.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("verifying headers {bar:40} {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(Bar(bar))
    } else {
        Box::new(image::NoProgress)
    };
    let report = match image::verify_image(&req, progress.as_ref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("verify image: error: {e}");
            return Outcome::InputError;
        }
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let text = report::render(&report, format, color);
    let written = match &args.output {
        Some(path) => {
            std::fs::write(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    };
    if let Err(e) = written {
        eprintln!("verify image: error: cannot write the report: {e}");
        return Outcome::InputError;
    }
    if report.trusted {
        Outcome::Verified
    } else {
        Outcome::NotVerified
    }
}
