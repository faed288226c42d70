//! `attest provenance`, `attest sbom`, `attest packages`, `attest rootfs-digest`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use rayon::prelude::*;

use crate::bundle::{self, Material, Version};
use crate::certs::{self, Chain};
use crate::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use crate::keys::Signer;
use crate::provenance::{self, BuildInfo, OverlayRequest};
use crate::repo::Repo;
use crate::statement::Statement;

use super::{usage, Failure, SignOpts};

/// Default `runDetails.builder.id` when none is given.
pub const DEFAULT_BUILDER_ID: &str = "https://example.invalid/fedora-attest/builders/local";

#[derive(Args)]
pub struct ImageOpts {
    /// Root filesystem directory of the image.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// OCI manifest digest (`sha256:HEX`) of the image; the statement subject then is this
    /// digest instead of the root-filesystem digest.
    #[arg(long, value_name = "ALG:HEX")]
    pub manifest_digest: Option<String>,
    /// Name of the subject (default: the distro as `ID-VERSION_ID`).
    #[arg(long, value_name = "NAME")]
    pub subject_name: Option<String>,
}

#[derive(Args)]
pub struct OutputOpts {
    /// Write here (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Write a plain DSSE envelope (one JSON line) instead of a Sigstore bundle.
    #[arg(long, conflicts_with = "bundle_v02")]
    pub dsse: bool,
    /// Write a Sigstore bundle v0.3 (the default).
    #[arg(long, conflicts_with = "dsse")]
    pub bundle: bool,
    /// Write a v0.2 bundle (x509CertificateChain: leaf and intermediates) instead of v0.3.
    #[arg(long)]
    pub bundle_v02: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct BuildOpts {
    /// The compose recipe (TOML); recorded with its digest. When IMAGE is a directory, the
    /// overlays its components name (file-add, file-replace) are recorded too, like --overlay.
    #[arg(long, value_name = "FILE")]
    pub recipe: Option<PathBuf>,
    /// A path inside the image placed by the build, not by a package (file or directory;
    /// repeatable).
    #[arg(long, value_name = "PATH")]
    pub overlay: Vec<String>,
    /// Directory of the .rpm files installed: their file digests are recorded too.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// runDetails.builder.id.
    #[arg(long, value_name = "URI", default_value = DEFAULT_BUILDER_ID)]
    pub builder_id: String,
    /// runDetails.metadata.invocationId (e.g. the CI run URL).
    #[arg(long, value_name = "ID")]
    pub invocation_id: Option<String>,
    /// Build start (RFC 3339 UTC or Unix seconds; default SOURCE_DATE_EPOCH).
    #[arg(long, value_name = "TIME")]
    pub started_on: Option<String>,
    /// Build end (RFC 3339 UTC or Unix seconds; default SOURCE_DATE_EPOCH, else now).
    #[arg(long, value_name = "TIME")]
    pub finished_on: Option<String>,
    /// Extra external parameter recorded under externalParameters.inputs (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub param: Vec<String>,
}

#[derive(Args)]
pub struct ProvenanceArgs {
    #[command(flatten)]
    pub image: ImageOpts,
    #[command(flatten)]
    pub sign: SignOpts,
    #[command(flatten)]
    pub build: BuildOpts,
    #[command(flatten)]
    pub out: OutputOpts,
}

#[derive(Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub image: ImageOpts,
    /// SBOM format of the predicate.
    #[arg(short, long, value_enum, default_value = "spdx-json")]
    pub format: sbom::format::Format,
    /// Leave per-file entries out of the SBOM.
    #[arg(long)]
    pub no_files: bool,
    #[command(flatten)]
    pub sign: SignOpts,
    #[command(flatten)]
    pub out: OutputOpts,
}

#[derive(Args)]
pub struct PackagesArgs {
    /// Root filesystem directory or RPM database file.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    #[command(flatten)]
    pub sign: SignOpts,
    #[command(flatten)]
    pub build: BuildOpts,
    /// Write the envelopes here, one per line (.intoto.jsonl), atomically.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RootfsArgs {
    /// Directory to digest.
    pub dir: PathBuf,
    /// Print the canonical listing that is hashed (NUL-separated) instead of the digest.
    #[arg(long)]
    pub listing: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Seconds since the epoch now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn source_date_epoch() -> Result<Option<i64>, Failure> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
            usage(format!(
                "SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds"
            ))
        }),
        Err(_) => Ok(None),
    }
}

/// Accepts Unix seconds or RFC 3339 UTC (`2025-01-01T00:00:00Z`); returns RFC 3339.
pub fn parse_time(s: &str) -> Option<String> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(sbom::format::rfc3339(n));
    }
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let ok = b.len() == 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'Z';
    ok.then(|| s.to_owned())
}

fn load_signer(opts: &SignOpts) -> Result<Box<dyn Signer>, Failure> {
    super::load_signer(&opts.key, &opts.hsm)
}

fn build_info(b: &BuildOpts, root: Option<&Path>) -> Result<BuildInfo, Failure> {
    let sde = source_date_epoch()?;
    let time_arg = |v: &Option<String>, name: &str| -> Result<Option<String>, Failure> {
        match v {
            Some(s) => parse_time(s).map(Some).ok_or_else(|| {
                usage(format!(
                    "--{name} {s:?}: use Unix seconds or RFC 3339 UTC like 2025-01-01T00:00:00Z"
                ))
            }),
            None => Ok(None),
        }
    };
    let started_on = time_arg(&b.started_on, "started-on")?.or(sde.map(sbom::format::rfc3339));
    let finished_on = time_arg(&b.finished_on, "finished-on")?
        .or(sde.map(sbom::format::rfc3339))
        .or_else(|| Some(sbom::format::rfc3339(now_secs())));
    let mut inputs = BTreeMap::new();
    for p in &b.param {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| usage(format!("--param {p:?}: expected KEY=VALUE")))?;
        inputs.insert(k.to_owned(), v.to_owned());
    }
    let recipe = b
        .recipe
        .as_deref()
        .map(provenance::hash_recipe)
        .transpose()?;
    let mut requests: Vec<OverlayRequest> = b.overlay.iter().map(OverlayRequest::given).collect();
    // The recipe's overlays are checked against the image only when there is a directory
    // to check them in (an RPM database file has no overlays).
    let root_dir = root.filter(|r| r.is_dir());
    if let (Some(recipe), Some(_)) = (&b.recipe, root_dir) {
        requests.extend(
            crate::recipe::overlays(recipe)?
                .into_iter()
                .map(|o| OverlayRequest {
                    path: o.path.clone(),
                    origin: Some(o),
                }),
        );
    }
    let overlays = match (root, requests.is_empty()) {
        (_, true) => Vec::new(),
        (Some(r), false) => provenance::hash_overlays(r, &requests)?,
        (None, false) => {
            return Err(usage(
                "--overlay needs IMAGE to be a root filesystem directory",
            ))
        }
    };
    Ok(BuildInfo {
        builder_id: b.builder_id.clone(),
        invocation_id: b.invocation_id.clone(),
        started_on,
        finished_on,
        recipe,
        overlays,
        inputs,
    })
}

fn scan(image: &Path) -> Result<sbom::inventory::Inventory, Failure> {
    sbom::scan::scan_path(image, None).map_err(Failure::from)
}

fn subject_for(
    img: &ImageOpts,
    inv: &mut sbom::inventory::Inventory,
) -> Result<crate::statement::ResourceDescriptor, Failure> {
    if let Some(d) = &img.manifest_digest {
        let ok = d.split_once(':').is_some_and(|(a, h)| {
            !a.is_empty() && !h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit())
        });
        if !ok {
            return Err(usage(format!(
                "--manifest-digest {d:?}: expected ALG:HEX, e.g. sha256:abc..."
            )));
        }
        inv.source.manifest_digest = Some(d.clone());
    }
    Ok(provenance::image_subject(
        inv,
        Some(&img.image),
        img.subject_name.as_deref(),
    )?)
}

/// Signs one statement and writes it as a bundle or a DSSE line.
fn sign_and_write(
    st: &Statement,
    signer: &dyn Signer,
    sign: &SignOpts,
    out: &OutputOpts,
) -> Result<serde_json::Value, Failure> {
    let env = Envelope::sign_one(INTOTO_PAYLOAD_TYPE, st.to_payload()?, signer)?;
    let text = if out.dsse {
        env.to_json_line() + "\n"
    } else {
        let chain: Option<Chain> = sign
            .cert
            .as_deref()
            .map(|c| certs::load_chain(c, signer.public_key()))
            .transpose()?;
        let version = if out.bundle_v02 {
            Version::V02
        } else {
            Version::V03
        };
        let material = match &chain {
            Some(c) => Material::Certificates(c),
            None => Material::PublicKey {
                hint: signer.public_key().key_id(),
            },
        };
        let v = bundle::build(&env, material, version)?;
        serde_json::to_string_pretty(&v)? + "\n"
    };
    sbom::output::write_atomically(&out.output, |w| w.write_all(text.as_bytes()))
        .map_err(|e| Failure::from(format!("cannot write {}: {e}", out.output.display())))?;
    Ok(serde_json::json!({
        "output": out.output,
        "form": if out.dsse { "dsse" } else if out.bundle_v02 { "sigstore-bundle-v0.2" } else { "sigstore-bundle-v0.3" },
        "keyId": signer.public_key().key_id(),
        "predicateType": st.predicate_type,
        "subject": st.subject,
    }))
}

fn report(json: bool, summary: serde_json::Value, human: String) {
    if json {
        println!("{summary}");
    } else {
        eprintln!("attest: {human}");
    }
}

pub fn provenance(a: ProvenanceArgs) -> Result<(), Failure> {
    // Arguments first (usage errors, exit 2), then the expensive work.
    let info = build_info(&a.build, Some(&a.image.image))?;
    let signer = load_signer(&a.sign)?;
    let mut inv = scan(&a.image.image)?;
    let subject = subject_for(&a.image, &mut inv)?;
    let repo = a.build.repo.as_deref().map(Repo::scan).transpose()?;
    let st = provenance::image_statement(&inv, subject, &info, repo.as_ref());
    let summary = sign_and_write(&st, signer.as_ref(), &a.sign, &a.out)?;
    report(
        a.out.json,
        summary,
        format!(
            "provenance for {} packages, {} overlay files written to {}",
            inv.packages.len(),
            info.overlays.len(),
            a.out.output.display()
        ),
    );
    Ok(())
}

pub fn sbom(a: SbomArgs) -> Result<(), Failure> {
    let signer = load_signer(&a.sign)?;
    let mut inv = scan(&a.image.image)?;
    let subject = subject_for(&a.image, &mut inv)?;
    let created = source_date_epoch()?.unwrap_or_else(now_secs);
    let info = sbom::format::DocumentInfo {
        created,
        tool_name: "attest".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        include_files: !a.no_files,
    };
    let st = provenance::sbom_statement(&inv, subject, a.format, &info)?;
    let summary = sign_and_write(&st, signer.as_ref(), &a.sign, &a.out)?;
    report(
        a.out.json,
        summary,
        format!(
            "SBOM attestation ({}) written to {}",
            st.predicate_type,
            a.out.output.display()
        ),
    );
    Ok(())
}

pub fn packages(a: PackagesArgs) -> Result<(), Failure> {
    let root = std::fs::metadata(&a.image)
        .map(|m| m.is_dir())
        .unwrap_or(false)
        .then_some(a.image.as_path());
    let info = build_info(&a.build, root)?;
    let signer = load_signer(&a.sign)?;
    let inv = scan(&a.image)?;
    let repo = a.build.repo.as_deref().map(Repo::scan).transpose()?;
    let statements = provenance::package_statements(&inv, &info, repo.as_ref());
    let lines = sign_statements(&statements, signer.as_ref())?;
    sbom::output::write_atomically(&a.output, |w| {
        for l in &lines {
            w.write_all(l.as_bytes())?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })
    .map_err(|e| Failure::from(format!("cannot write {}: {e}", a.output.display())))?;
    let with_file = statements
        .iter()
        .filter(|s| s.subject[0].digest.contains_key("sha256"))
        .count();
    report(
        a.json,
        serde_json::json!({"output": a.output, "statements": lines.len(), "withFileDigest": with_file, "keyId": signer.public_key().key_id()}),
        format!(
            "{} package statements ({} with .rpm file digests) written to {}",
            lines.len(),
            with_file,
            a.output.display()
        ),
    );
    Ok(())
}

/// Signs statements in parallel; returns one compact envelope JSON per statement, in order.
pub fn sign_statements(
    statements: &[Statement],
    signer: &dyn Signer,
) -> Result<Vec<String>, Failure> {
    statements
        .par_iter()
        .map(|st| {
            let env = Envelope::sign_one(INTOTO_PAYLOAD_TYPE, st.to_payload()?, signer)?;
            Ok(env.to_json_line())
        })
        .collect()
}

pub fn rootfs_digest(a: RootfsArgs) -> Result<(), Failure> {
    let (listing, d) = crate::rootfs::listing(&a.dir)?;
    let mut out = std::io::stdout().lock();
    if a.listing {
        out.write_all(&listing)?;
    } else if a.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"digest": {crate::rootfs::DIGEST_KEY: d.sha256}, "entries": d.entries, "bytes": d.bytes})
        )?;
    } else {
        writeln!(out, "{}:{}", crate::rootfs::DIGEST_KEY, d.sha256)?;
    }
    Ok(())
}
