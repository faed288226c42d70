//! Verifying an image: runs every check the request and policy ask for and collects
//! their findings into one [`Report`].
//!
//! Checks (ids are stable, see `docs/verify.md`):
//! - `rpm.database`: the RPM database was found and read (one finding for the image);
//! - `rpm.signature`: each package's header signature by a trusted key;
//! - `rpm.header-digest`: each package's SHA256HEADER against its signed bytes;
//! - `policy.package`: package names against `[packages] allowed/forbidden` (when set);
//! - `policy.license`: package licenses against `[licenses] allowed` (when set);
//! - `files.drift`, `files.unowned`: every file against its header ([`crate::drift_check`]);
//! - `attestation.*`: the attestations given ([`crate::attestation`]);
//! - `intoto.*`: the layout given ([`crate::intoto`]).
//!
//! Fail closed: a database that cannot be read is an `error` finding and the image
//! is not trusted; a header that does not parse is an `error` finding for that row.
//! Only the caller's own inputs (the input path, policy, keys, attestation and layout
//! files) are errors of this function, so that the command line can tell usage errors
//! (exit 2) from an image that does not verify (exit 1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::attestation::{self, AttestationError, ImageFacts, Trust};
use crate::intoto::{self, IntotoError, LayoutRequest};

use crate::drift_check;
use crate::input::{self, ContainerOptions, InputKind};
use crate::policy::Policy;
use crate::report::{Finding, KeyInfo, Report, Status, Subject, SubjectKind};
use crate::rpmsig::{self, HeaderVerdict, IssueKind, KeyMaterial, Keyring, KeyringError};

/// Problems with the caller's inputs (not with the image).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "{0}: not an image: give a root filesystem directory, an OCI layout, an OCI or \
         docker archive, or an RPM database file"
    )]
    NotAnInput(PathBuf),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error("no trusted RPM keys: give --keyring FILE or [keys] rpm = [...] in the policy")]
    NoKeys,
    #[error("{0}: --verify-files needs the image's root filesystem or container image, not a bare database file")]
    NoFilesForDb(PathBuf),
    #[error(transparent)]
    Attestation(#[from] AttestationError),
    #[error(transparent)]
    Layout(#[from] IntotoError),
    #[error(transparent)]
    LayoutKey(#[from] attest::keys::KeyError),
}

/// An in-toto layout to verify with the image.
pub struct LayoutInput<'a> {
    pub layout: &'a Path,
    /// Where the links are.
    pub links: &'a Path,
    /// Layout owner keys (`--layout-key`), added to the policy's `[keys] layout`.
    pub extra_keys: &'a [PathBuf],
    /// Run the layout's inspection commands (off: a layout with inspections fails).
    pub allow_inspections: bool,
    /// `--layout-param NAME=VALUE`: substituted for `{NAME}` in the layout's commands and
    /// rules; `None` when none was given (nothing is substituted, as in in-toto).
    pub parameters: Option<&'a std::collections::BTreeMap<String, String>>,
}

/// Everything `verify image` needs besides the input.
pub struct ImageRequest<'a> {
    /// A root filesystem directory, a container image, or an RPM database file.
    pub input: &'a Path,
    pub policy: &'a Policy,
    /// Shown in the report.
    pub policy_path: Option<&'a Path>,
    /// Extra key files (from `--keyring`), added to the policy's `[keys] rpm`.
    pub extra_keys: &'a [PathBuf],
    /// Also check every file against its signed header.
    pub verify_files: bool,
    /// Platform and size limits for container images.
    pub container: ContainerOptions,
    /// DSSE envelopes, Sigstore bundles and `.intoto.jsonl` files about the image.
    pub attestations: &'a [PathBuf],
    pub layout: Option<LayoutInput<'a>>,
    /// The time attestation ages, certificate validity and layout expiry are judged at.
    pub now_unix: i64,
}

/// Called with the number of headers once they are read, then once per header checked.
pub trait Progress: Sync {
    fn start(&self, total: usize);
    fn tick(&self);
    fn finish(&self);
}

/// No progress display.
pub struct NoProgress;
impl Progress for NoProgress {
    fn start(&self, _: usize) {}
    fn tick(&self) {}
    fn finish(&self) {}
}

const SIG: &str = "rpm.signature";
const DIGEST: &str = "rpm.header-digest";

/// Loads the keyring the request names (policy keys first, then `--keyring`).
pub fn load_keyring(req: &ImageRequest) -> Result<(Keyring, Vec<KeyInfo>), ImageError> {
    let files: Vec<&PathBuf> = req.policy.keys.rpm.iter().chain(req.extra_keys).collect();
    if files.is_empty() {
        return Err(ImageError::NoKeys);
    }
    let ring = Keyring::from_files(&files)?;
    let infos = ring
        .keys()
        .iter()
        .map(|k| KeyInfo {
            role: "rpm".into(),
            fingerprint: k.fingerprint_hex(),
            user_id: k.user_id.clone(),
            algorithm: match &k.material {
                KeyMaterial::Rsa { bits, .. } => format!("RSA-{bits}"),
                KeyMaterial::Ed25519(_) => "Ed25519".into(),
                KeyMaterial::Unsupported(why) => format!("unsupported: {why}"),
            },
            source: k.source.display().to_string(),
        })
        .collect();
    Ok((ring, infos))
}

/// Verifies an image.
pub fn verify_image(req: &ImageRequest, progress: &dyn Progress) -> Result<Report, ImageError> {
    let kind =
        InputKind::of(req.input).ok_or_else(|| ImageError::NotAnInput(req.input.to_path_buf()))?;
    if kind == InputKind::DbFile && req.verify_files {
        return Err(ImageError::NoFilesForDb(req.input.to_path_buf()));
    }
    let (ring, keys) = load_keyring(req)?;
    // Keys and trust material are loaded before the image is read. Every problem with the
    // caller's inputs (these, a missing attestation file or layout, found later) is a usage
    // error (exit 2) and produces no report, never half a report.
    let check_attestations = !req.attestations.is_empty()
        || !req.policy.attestations.required_predicates.is_empty()
        || !req
            .policy
            .attestations
            .required_package_predicates
            .is_empty();
    let trust = if check_attestations {
        Some(Trust::from_policy(req.policy)?)
    } else {
        None
    };
    let layout_keys = match &req.layout {
        Some(l) => req
            .policy
            .keys
            .layout
            .iter()
            .chain(l.extra_keys)
            .map(|p| attest::keys::PublicKey::load(p))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let image = req.input.display().to_string();
    let policy_name = req.policy_path.map(|p| p.display().to_string());
    let image_subject = Subject {
        kind: SubjectKind::Image,
        name: image.clone(),
    };
    let want_inventory = req.verify_files || check_attestations;
    let loaded = match input::load(req.input, kind, &req.container, want_inventory) {
        Ok(l) => l,
        Err(e) => {
            let f = Finding::new(
                "rpm.database",
                image_subject,
                Status::Error,
                "unreadable-database",
                e.to_string(),
            );
            return Ok(Report::new(image, None, policy_name, keys, 0, vec![f]));
        }
    };
    let findings = vec![Finding::new(
        "rpm.database",
        image_subject.clone(),
        Status::Pass,
        "read",
        format!(
            "{} database, {} headers",
            loaded.db_format.name(),
            loaded.raws.len()
        ),
    )];
    // The layout and its links need nothing from the image: verified on their own thread
    // while the headers, attestations and files (rayon) are checked.
    let (layout_findings, (checked, packages)) = std::thread::scope(|scope| {
        let layout = req.layout.as_ref().map(|l| {
            let layout_keys = &layout_keys;
            scope.spawn(move || {
                intoto::verify_layout(&LayoutRequest {
                    layout: l.layout,
                    layout_keys,
                    links_dir: l.links,
                    now_unix: req.now_unix,
                    allow_inspections: l.allow_inspections,
                    inspection_base: None,
                    parameters: l.parameters,
                })
            })
        });
        let rest = image_checks(
            req,
            kind,
            &loaded,
            &ring,
            trust.as_ref(),
            &image_subject,
            progress,
            findings,
        );
        let layout = layout.map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        (layout, rest)
    });
    let mut findings = checked?;
    if let Some(l) = layout_findings {
        findings.extend(l?);
    }
    Ok(Report::new(
        image,
        Some(loaded.db_display),
        policy_name,
        keys,
        packages,
        findings,
    ))
}

/// Headers, attestations and files, in that order (files need the attested overlays).
/// Returns the findings and the number of packages checked.
#[allow(clippy::too_many_arguments)]
fn image_checks(
    req: &ImageRequest,
    kind: InputKind,
    loaded: &input::Loaded,
    ring: &Keyring,
    trust: Option<&Trust>,
    image_subject: &Subject,
    progress: &dyn Progress,
    mut findings: Vec<Finding>,
) -> (Result<Vec<Finding>, ImageError>, usize) {
    progress.start(loaded.raws.len());
    let verdicts = rpmsig::verify_headers(&loaded.raws, ring, &|| progress.tick());
    progress.finish();
    let packages = verdicts.iter().filter(|v| !v.is_key).count();
    for v in &verdicts {
        if !v.is_key {
            package_findings(v, req.policy, &mut findings);
        }
    }
    // A directory whose files are checked is walked once, before the attestations: the
    // walk gives the drift report and the listing the root-filesystem digest is computed
    // from, so that every file is read once, not twice.
    let mut walked = match (&loaded.inventory, kind, req.verify_files) {
        (Some(inv), InputKind::Root, true) => Some(sbom::drift::check_root_listing(inv, req.input)),
        _ => None,
    };
    let listing = match &walked {
        Some(Ok((_, listing))) => Some(listing),
        _ => None,
    };
    let mut attested_overlays = BTreeMap::new();
    if let Some(trust) = trust {
        match &loaded.inventory {
            Some(inv) => {
                match attestations(req, kind, inv, listing, trust, image_subject, &mut findings) {
                    Ok(o) => attested_overlays = o,
                    Err(e) => return (Err(e), packages),
                }
            }
            None => findings.push(not_read(attestation::CHECK_SUBJECT, image_subject)),
        }
    }
    if req.verify_files {
        match &loaded.inventory {
            Some(inv) => {
                // A container image's layers are streamed again to hash the content.
                let checked = match (&loaded.image, walked.take()) {
                    (Some(img), _) => sbom::drift::check_image(inv, img),
                    (None, Some(w)) => w.map(|(report, _)| report),
                    (None, None) => sbom::drift::check_root(inv, req.input),
                };
                drift_check::findings(
                    inv,
                    checked,
                    req.policy,
                    &attested_overlays,
                    image_subject,
                    &mut findings,
                );
            }
            None => findings.push(not_read(drift_check::CHECK_FILES, image_subject)),
        }
    }
    (Ok(findings), packages)
}

/// `input::load` reads the packages whenever files or attestations are to be checked;
/// should that ever change, fail closed rather than report them as checked.
fn not_read(check: &str, image: &Subject) -> Finding {
    Finding::new(
        check,
        image.clone(),
        Status::Error,
        "packages-unread",
        "the image's packages were not read, so this could not be checked",
    )
}

/// Checks the attestations; returns the overlay files verified provenance names.
fn attestations(
    req: &ImageRequest,
    kind: InputKind,
    inv: &sbom::inventory::Inventory,
    listing: Option<&sbom::drift::Listing>,
    trust: &Trust,
    image: &Subject,
    findings: &mut Vec<Finding>,
) -> Result<BTreeMap<String, String>, ImageError> {
    // The directory digest hashes every file: computed only for a directory, only when a
    // statement about the image asks for it, and from the drift walk's listing when there
    // is one (a listing that is not exact, say a name that is not UTF-8, is not used).
    let failed = std::sync::Mutex::new(None);
    let direct = || attest::rootfs::digest(req.input);
    let rootfs = || match listing.map_or_else(direct, |l| {
        attest::rootfs::from_listing(req.input, l).or_else(|_| direct())
    }) {
        Ok(d) => Some(d.sha256),
        Err(e) => {
            *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            None
        }
    };
    let facts = ImageFacts {
        inventory: inv,
        rootfs_digest: None,
        manifest_digest: inv.source.manifest_digest.clone(),
    };
    let lazy: Option<&attestation::RootfsFn> = match kind {
        InputKind::Root => Some(&rootfs),
        _ => None,
    };
    let outcome = attestation::check_lazy(req.attestations, &facts, lazy, trust, req.now_unix)?;
    let failed = failed.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(e) = failed {
        findings.push(Finding::new(
            attestation::CHECK_SUBJECT,
            image.clone(),
            Status::Error,
            "rootfs-unreadable",
            format!("cannot compute the root-filesystem digest: {e}"),
        ));
    }
    findings.extend(outcome.findings);
    Ok(outcome.attested_overlays)
}

fn package_findings(v: &HeaderVerdict, policy: &Policy, out: &mut Vec<Finding>) {
    let subject = Subject {
        kind: SubjectKind::Package,
        name: v.subject(),
    };
    let f = |check: &str, status, kind: &str, reason: String| {
        Finding::new(check, subject.clone(), status, kind, reason)
    };

    // A header that does not parse can say nothing else: one error, fail closed.
    if let Some(i) = v
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::MalformedHeader)
    {
        out.push(f(
            SIG,
            Status::Error,
            i.kind.id(),
            format!("rpmdb row {}: {}", v.row, i.reason),
        ));
        return;
    }
    let mut sig_problems = 0;
    for i in &v.issues {
        let reason = match i.tag {
            Some(t) => format!("{t}: {}", i.reason),
            None => i.reason.clone(),
        };
        match i.kind {
            IssueKind::DigestMismatch => out.push(f(DIGEST, Status::Fail, i.kind.id(), reason)),
            IssueKind::Unsigned if !policy.packages.require_signed => {
                out.push(f(
                    SIG,
                    Status::Pass,
                    "unsigned-allowed",
                    "unsigned; allowed by packages.require_signed = false".into(),
                ));
                sig_problems += 1;
            }
            k => {
                out.push(f(SIG, Status::Fail, k.id(), reason));
                sig_problems += 1;
            }
        }
    }
    if sig_problems == 0 {
        let what: Vec<String> = v
            .good
            .iter()
            .map(|g| {
                format!(
                    "{} {} by {} ({})",
                    g.tag, g.algorithm, g.key_fingerprint, g.user_id
                )
            })
            .collect();
        let mut reason = what.join("; ");
        for n in &v.notes {
            reason.push_str("; note: ");
            reason.push_str(n);
        }
        out.push(f(SIG, Status::Pass, "verified", reason));
    }
    if !v.issues.iter().any(|i| i.kind == IssueKind::DigestMismatch) {
        let reason = if v.digest_checked {
            "SHA256HEADER matches the signed header"
        } else {
            "no SHA256HEADER (rpm before 4.14); the header signature alone covers the header"
        };
        out.push(f(
            DIGEST,
            Status::Pass,
            if v.digest_checked { "match" } else { "absent" },
            reason.into(),
        ));
    }
    if !policy.packages.allowed.is_empty() || !policy.packages.forbidden.is_empty() {
        let name = v.name.as_deref().unwrap_or_default();
        match policy.package_refused(name) {
            Some(why) => out.push(f("policy.package", Status::Fail, "forbidden-package", why)),
            None => out.push(f(
                "policy.package",
                Status::Pass,
                "allowed",
                "allowed by policy".into(),
            )),
        }
    }
    if policy.licenses.allowed.is_some() {
        let license = v.license.as_deref().unwrap_or_default();
        match policy.license_refused(license) {
            Some(why) => out.push(f(
                "policy.license",
                Status::Fail,
                "license-not-allowed",
                why,
            )),
            None => out.push(f(
                "policy.license",
                Status::Pass,
                "allowed",
                format!("{license} allowed"),
            )),
        }
    }
}
