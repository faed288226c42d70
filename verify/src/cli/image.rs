//! `verify image ROOTFS`: every check on an image root, one report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Outcome;
use sbom::image::{Limits, Platform};

use crate::image::{self, ImageRequest, LayoutInput, Progress};
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

  # The whole chain: headers, files, provenance, SBOM and the in-toto layout
  verify image ./rootfs --policy policy.toml \\
      --attestation provenance.sigstore.json --attestation packages.intoto.jsonl \\
      --attestation sbom.sigstore.json --layout root.layout --links links/

  # A layout written with parameters ({RECIPE} in an expected command or rule)
  verify image ./rootfs --layout root.layout --layout-param RECIPE=sample.toml

Checks: rpm.database, rpm.signature, rpm.header-digest, files.drift and files.unowned
(unless --no-verify-files or a bare database), policy.package and policy.license (when
the policy lists packages or licenses), attestation.* (with --attestation or required
predicates), intoto.* (with --layout).

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

    /// An attestation about the image: a DSSE envelope, a Sigstore bundle, or an
    /// `.intoto.jsonl` file of envelopes (repeatable). Checked against the policy's
    /// `[keys]`, `[roots]` and `[attestations]` (docs/attestations.md).
    #[arg(long, value_name = "FILE")]
    pub attestation: Vec<PathBuf>,

    /// An in-toto root layout to verify (Metablock or DSSE), signed by the policy's
    /// `[keys] layout` keys and any --layout-key (docs/intoto-verify.md).
    #[arg(long, value_name = "FILE")]
    pub layout: Option<PathBuf>,

    /// Directory holding the layout's links (default: the layout's directory).
    #[arg(long, value_name = "DIR", requires = "layout")]
    pub links: Option<PathBuf>,

    /// A layout owner's public key (PEM; repeatable; added to the policy's).
    #[arg(long, value_name = "FILE", requires = "layout")]
    pub layout_key: Vec<PathBuf>,

    /// Run the layout's inspection commands. Off by default: a layout with inspections
    /// then fails, since a verifier must not run commands an attestation names unasked.
    #[arg(long, requires = "layout")]
    pub allow_inspections: bool,

    /// A value for `{NAME}` in the layout's expected commands, inspection commands and
    /// artifact rules (repeatable; in-toto's parameter substitution). Given at least once,
    /// every `{NAME}` there must have a value.
    #[arg(long, value_name = "NAME=VALUE", requires = "layout", value_parser = parse_param)]
    pub layout_param: Vec<(String, String)>,

    /// Judge attestation ages, certificate validity and layout expiry at this time
    /// (RFC 3339, e.g. 2026-01-01T00:00:00Z, or Unix seconds) instead of now.
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
}

/// `NAME=VALUE`, NAME as in-toto allows it.
fn parse_param(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or("expected NAME=VALUE (e.g. RECIPE=sample.toml)")?;
    if !crate::intoto::valid_parameter_name(name) {
        return Err(format!(
            "{name:?}: a parameter name is letters, digits, '_' and '-'"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// RFC 3339 or Unix seconds.
fn parse_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<i64>() {
        return Some(secs);
    }
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
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
    let now_unix = match args.time.as_deref().map(|t| (t, parse_time(t))) {
        None => jiff::Timestamp::now().as_second(),
        Some((_, Some(t))) => t,
        Some((t, None)) => {
            eprintln!(
                "verify image: error: --time {t:?}: expected RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds"
            );
            return Outcome::InputError;
        }
    };
    let links_default = args
        .layout
        .as_deref()
        .and_then(|l| l.parent())
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut parameters = std::collections::BTreeMap::new();
    for (name, value) in &args.layout_param {
        if parameters.insert(name.clone(), value.clone()).is_some() {
            eprintln!("verify image: error: --layout-param {name} is given twice");
            return Outcome::InputError;
        }
    }
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
        attestations: &args.attestation,
        layout: args.layout.as_deref().map(|layout| LayoutInput {
            layout,
            links: args.links.as_deref().unwrap_or(&links_default),
            extra_keys: &args.layout_key,
            allow_inspections: args.allow_inspections,
            parameters: (!parameters.is_empty()).then_some(&parameters),
        }),
        now_unix,
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
