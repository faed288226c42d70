//! `verify image ROOTFS`: every check on an image root, one report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Outcome;
use crate::image::{self, ImageRequest, Progress};
use crate::policy::Policy;
use crate::report::{self, Format};

/// Show a progress bar only for images with at least this many headers.
const PROGRESS_MIN_HEADERS: usize = 1000;

const EXAMPLES: &str = "\
Examples:
  # Header signatures of every installed package, against Fedora 40's key
  verify image ./rootfs --keyring /etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-40-primary

  # With a policy (trusted keys, forbidden packages, licenses), JUnit for CI
  verify image ./rootfs --policy policy.toml --format junit -o verify.xml

  # Machine-readable result (schema: docs/verify.md)
  verify image ./rootfs --policy policy.toml --json | jq '.findings[] | select(.status != \"pass\")'

Checks: rpm.database, rpm.signature, rpm.header-digest, policy.package and
policy.license (the last two when the policy lists packages or licenses).

Exit status: 0 trusted (every check passed), 1 not trusted (a check failed or the
image could not be read), 2 usage or input error (bad arguments, unreadable or
invalid policy or key file, ROOTFS not a directory).";

/// Arguments of `image`.
#[derive(Debug, Args)]
#[command(after_long_help = EXAMPLES)]
pub struct ImageArgs {
    /// The image's root filesystem (holding usr/lib/sysimage/rpm or var/lib/rpm), or an RPM database file.
    #[arg(value_name = "ROOTFS")]
    pub root: PathBuf,

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

    /// Also check every file against the digest, size, mode and link target its signed
    /// header declares (like `rpm -Va`), and report files no package owns; the policy's
    /// `[drift]` section says which differences are acceptable.
    #[arg(long)]
    pub verify_files: bool,
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
    let req = ImageRequest {
        root: &args.root,
        policy: &policy,
        policy_path: args.policy.as_deref(),
        extra_keys: &args.keyring,
        verify_files: args.verify_files,
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
