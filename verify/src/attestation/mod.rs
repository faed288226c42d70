//! Attestation checks for `verify image`: DSSE envelopes, Sigstore bundles and
//! `.intoto.jsonl` files about the image, judged against the policy's keys, roots and
//! `[attestations]` rules. See `docs/attestations.md`.
//!
//! Checks (stable ids; subject kind `attestation`, named `file` or `file:line`):
//! - `attestation.signature` ([`signature`]): signed by a key, certificate or Sigstore
//!   identity trusted for the statement's role (SLSA provenance -> `provenance`, SPDX and
//!   CycloneDX -> `sbom`); garbage inputs are `error` findings of this check;
//! - `attestation.subject` ([`statement`]): the statement is about this image (or one of
//!   its installed packages);
//! - `attestation.provenance` ([`provenance`]): builder, build type, dependencies;
//! - `attestation.age`: the statement's time within `max_age`;
//! - `attestation.sbom` ([`sbom`]): the SBOM describes exactly the installed packages;
//! - `attestation.required`: each predicate type of `required_predicates` attested about
//!   the image (subject: the image), and each of `required_package_predicates` about every
//!   installed package (one finding for the image when all are, else one per package not).
//!
//! Fail closed: an attestation whose signature does not verify yields exactly one
//! finding and contributes nothing else (no overlays, no credit towards `required`).
//! Only the caller's own inputs are errors of [`check`]: a file that does not exist, is
//! not a regular file (a FIFO is never opened blocking) or cannot be read; a file that is
//! there but is not an attestation is a finding.
//!
//! Work on what is not yet authenticated is bounded: at most 16 signatures per envelope
//! and 1,000,000 lines per file (`input::MAX_SIGNATURES`, `input::MAX_LINES`), and of the lines of one
//! file whose signature check fails only the first [`MAX_FAILED_LINE_FINDINGS`] get a
//! finding each; the rest are one `more-failures` finding, which fails like them.

mod input;
pub(crate) mod open;
mod provenance;
mod sbom;
mod signature;
mod statement;
mod trust;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use crate::policy::AttestationRole as Role;
use crate::report::{Finding, Status, Subject, SubjectKind};
pub use trust::Trust;

use input::{Layout, Parsed};
use signature::SigResult;
use statement::{About, Head, ImageView};

pub const CHECK_SIGNATURE: &str = "attestation.signature";
pub const CHECK_SUBJECT: &str = "attestation.subject";
pub const CHECK_PROVENANCE: &str = "attestation.provenance";
pub const CHECK_AGE: &str = "attestation.age";
pub const CHECK_SBOM: &str = "attestation.sbom";
pub const CHECK_REQUIRED: &str = "attestation.required";

/// Attestation files larger than this are a finding, not read further. An SBOM bundle of
/// a large image with every file listed reaches tens of megabytes.
pub const MAX_ATTESTATION_FILE: u64 = 512 * 1024 * 1024;

/// What the attestations are compared with.
pub struct ImageFacts<'a> {
    /// The image's packages (gpg-pubkey excluded by sbom). `source.location` names the
    /// image in `attestation.required` findings.
    pub inventory: &'a ::sbom::inventory::Inventory,
    /// Hex `attest::rootfs` digest, when the image is a directory.
    pub rootfs_digest: Option<String>,
    /// `sha256:HEX` for OCI inputs (`inventory.source.manifest_digest`).
    pub manifest_digest: Option<String>,
}

/// The result of [`check`].
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Overlay files (path -> sha256 hex) named in `resolvedDependencies` of image
    /// provenance that passed every check; the drift check may accept unowned or
    /// modified files listed here. A path two such provenances give different digests
    /// for is left out.
    pub attested_overlays: BTreeMap<String, String>,
}

/// Errors in the caller's inputs (exit 2 upstream), never in an attestation.
#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    #[error("{path}: cannot read attestation: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] attest::keys::KeyError),
    #[error("{path}: {reason}")]
    Trust { path: PathBuf, reason: String },
}

/// Computes the root-filesystem digest on demand (`None`: not a directory, or unreadable).
pub type RootfsFn<'a> = dyn Fn() -> Option<String> + Sync + 'a;

/// Checks every attestation in `files` against the image and the trust material, at
/// time `now_unix` (Unix seconds).
pub fn check(
    files: &[PathBuf],
    facts: &ImageFacts,
    trust: &Trust,
    now_unix: i64,
) -> Result<Outcome, AttestationError> {
    check_lazy(files, facts, None, trust, now_unix)
}

/// [`check`], with the root-filesystem digest computed by `rootfs` only if a statement
/// about the image needs it (when `facts.rootfs_digest` is `None`).
pub fn check_lazy(
    files: &[PathBuf],
    facts: &ImageFacts,
    rootfs: Option<&RootfsFn<'_>>,
    trust: &Trust,
    now_unix: i64,
) -> Result<Outcome, AttestationError> {
    let img = ImageView::new(facts, rootfs);
    // Read everything first (a missing file is the caller's error before any work), then
    // check every envelope, of every file and line, in parallel.
    let mut contents = Vec::with_capacity(files.len());
    for path in files {
        contents.push((path.display().to_string(), read(path)?));
    }
    let mut per_file: Vec<FileResults> = Vec::with_capacity(contents.len());
    // (file index, line number for JSON Lines, bytes): names are made when checked.
    let mut units: Vec<(usize, Option<usize>, &[u8])> = Vec::new();
    for (i, (name, bytes)) in contents.iter().enumerate() {
        per_file.push(FileResults::new(name.clone()));
        let bytes = match bytes {
            Ok(b) => b,
            Err(too_large) => {
                per_file[i].add(Checked::error(name.clone(), "too-large", too_large.clone()));
                continue;
            }
        };
        match input::layout(bytes) {
            Layout::Garbage(p) => per_file[i].add(Checked::error(name.clone(), p.kind, p.reason)),
            Layout::Single(b) => units.push((i, None, b)),
            Layout::Lines(lines) => units.extend(lines.into_iter().map(|(n, l)| (i, Some(n), l))),
        }
    }
    // In chunks, so that what a failing line leaves behind is at most a chunk's worth
    // before it is folded into its file's count; file and line order are kept.
    for chunk in units.chunks(UNIT_CHUNK) {
        let checked: Vec<(usize, Checked)> = chunk
            .par_iter()
            .map(|&(i, line, b)| {
                let name = match line {
                    Some(n) => format!("{}:{n}", per_file[i].name),
                    None => per_file[i].name.clone(),
                };
                (i, check_unit(name, input::parse(b), &img, trust, now_unix))
            })
            .collect();
        for (i, c) in checked {
            per_file[i].add(c);
        }
    }
    Ok(finish(
        per_file.into_iter().flat_map(FileResults::finish).collect(),
        facts,
        trust,
    ))
}

/// Units checked in parallel at a time.
const UNIT_CHUNK: usize = 8192;

/// Lines of one file whose signature check fails that get a finding each; the rest of
/// them are counted in one summary finding for the file (`more-failures`).
pub const MAX_FAILED_LINE_FINDINGS: usize = 100;

/// The results of one file, failing lines beyond [`MAX_FAILED_LINE_FINDINGS`] counted.
struct FileResults {
    name: String,
    kept: Vec<Checked>,
    failed: usize,
    /// Of the failures not kept: how many, the worst status, and per reason kind a count.
    dropped: usize,
    dropped_status: Status,
    dropped_kinds: BTreeMap<String, usize>,
}

impl FileResults {
    fn new(name: String) -> Self {
        Self {
            name,
            kept: Vec::new(),
            failed: 0,
            dropped: 0,
            dropped_status: Status::Fail,
            dropped_kinds: BTreeMap::new(),
        }
    }

    fn add(&mut self, c: Checked) {
        // A unit whose signature did not pass has one finding and contributes nothing
        // else (no credit, no overlays): only its finding can be summarised.
        let failed = !c
            .findings
            .iter()
            .any(|f| f.check == CHECK_SIGNATURE && f.status == Status::Pass);
        if !failed {
            self.kept.push(c);
            return;
        }
        self.failed += 1;
        if self.failed <= MAX_FAILED_LINE_FINDINGS {
            self.kept.push(c);
            return;
        }
        self.dropped += 1;
        for f in &c.findings {
            if f.status == Status::Error {
                self.dropped_status = Status::Error;
            }
            *self.dropped_kinds.entry(f.kind.clone()).or_default() += 1;
        }
    }

    fn finish(mut self) -> Vec<Checked> {
        if self.dropped > 0 {
            let kinds: Vec<String> = self
                .dropped_kinds
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let mut c = Checked::new(self.name.clone());
            c.push(
                CHECK_SIGNATURE,
                self.dropped_status,
                "more-failures",
                format!(
                    "and {} more lines failed (only the first {MAX_FAILED_LINE_FINDINGS} \
                     failing lines are reported one by one): {}",
                    self.dropped,
                    kinds.join(", ")
                ),
            );
            self.kept.push(c);
        }
        self.kept
    }
}

/// Reads a regular file; `Ok(Err(reason))` when it is too large to be an attestation.
fn read(path: &Path) -> Result<Result<Vec<u8>, String>, AttestationError> {
    use std::io::Read;
    let err = |source| AttestationError::Read {
        path: path.to_path_buf(),
        source,
    };
    // Opened without blocking, and refused unless the open file is regular: a FIFO
    // would block `open` (and a read) forever.
    let file = open::open_regular(path).map_err(err)?;
    let too_large = || format!("larger than {MAX_ATTESTATION_FILE} bytes; not read");
    // The size up front spares reading a huge file; `take` still bounds what a file
    // that grows can make us read.
    if file.metadata().map_err(err)?.len() > MAX_ATTESTATION_FILE {
        return Ok(Err(too_large()));
    }
    let mut buf = Vec::new();
    file.take(MAX_ATTESTATION_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(err)?;
    if buf.len() as u64 > MAX_ATTESTATION_FILE {
        return Ok(Err(too_large()));
    }
    Ok(Ok(buf))
}

/// Everything one attestation contributed.
struct Checked {
    name: String,
    findings: Vec<Finding>,
    /// Predicate type and what it is about, when signature and subject passed.
    credit: Option<(String, Credit)>,
    /// Overlay files, when this is image provenance that passed every check.
    overlays: Vec<(String, String)>,
}

impl Checked {
    fn new(name: String) -> Self {
        Self {
            name,
            findings: Vec::new(),
            credit: None,
            overlays: Vec::new(),
        }
    }

    fn error(name: String, kind: &str, reason: impl Into<String>) -> Self {
        let mut c = Self::new(name);
        c.push(CHECK_SIGNATURE, Status::Error, kind, reason);
        c
    }

    fn push(&mut self, check: &str, status: Status, kind: &str, reason: impl Into<String>) {
        let subject = Subject {
            kind: SubjectKind::Attestation,
            name: self.name.clone(),
        };
        self.findings
            .push(Finding::new(check, subject, status, kind, reason));
    }

    fn result(
        &mut self,
        check: &str,
        pass_kind: &str,
        r: Result<String, (&'static str, String)>,
    ) -> bool {
        match r {
            Ok(reason) => {
                self.push(check, Status::Pass, pass_kind, reason);
                true
            }
            Err((kind, reason)) => {
                self.push(check, Status::Fail, kind, reason);
                false
            }
        }
    }

    fn all_passed(&self) -> bool {
        self.findings.iter().all(|f| f.status == Status::Pass)
    }
}

/// The first subject's `sha256`, for the Sigstore engine (see [`signature`]).
fn artifact_digest(head: &Head) -> Option<[u8; 32]> {
    head.subjects.iter().find_map(|s| {
        let mut d = [0u8; 32];
        hex::decode_to_slice(s.digest.get("sha256")?, &mut d).ok()?;
        Some(d)
    })
}

fn check_unit(
    name: String,
    parsed: Result<Parsed, input::Problem>,
    img: &ImageView,
    trust: &Trust,
    now: i64,
) -> Checked {
    let p = match parsed {
        Ok(p) => p,
        Err(e) => return Checked::error(name, e.kind, e.reason),
    };
    let mut c = Checked::new(name);
    if p.payload_type != attest::dsse::INTOTO_PAYLOAD_TYPE {
        c.push(
            CHECK_SIGNATURE,
            Status::Fail,
            "wrong-payload-type",
            format!(
                "payload type {:?} is not {}",
                input::clip(&p.payload_type),
                attest::dsse::INTOTO_PAYLOAD_TYPE
            ),
        );
        return c;
    }
    let head = match statement::parse_head(&p.payload) {
        Ok(h) => h,
        Err(why) => {
            malformed_statement(&mut c, &p, why, trust, now);
            return c;
        }
    };
    let Some(role) = statement::role_of(&head.predicate_type) else {
        c.push(
            CHECK_SIGNATURE,
            Status::Fail,
            "unknown-predicate",
            format!(
                "predicate type {:?} is neither SLSA provenance nor an SBOM: no signer is \
                 trusted for it",
                input::clip(&head.predicate_type)
            ),
        );
        return c;
    };
    let times = match signature::verify(&p, role, artifact_digest(&head), trust, now) {
        SigResult::Pass { reason, times } => {
            c.push(CHECK_SIGNATURE, Status::Pass, "verified", reason);
            times
        }
        SigResult::Fail { kind, reason } => {
            c.push(CHECK_SIGNATURE, Status::Fail, kind, reason);
            return c;
        }
    };
    match role {
        Role::Provenance => check_provenance(&mut c, &p, &head, img, trust, &times, now),
        Role::Sbom => check_sbom(&mut c, &p, &head, img, trust, &times, now),
    }
    c
}

/// The payload is not a statement: say whether it was at least signed by someone trusted.
fn malformed_statement(c: &mut Checked, p: &Parsed, why: String, trust: &Trust, now: i64) {
    let mut fails = Vec::new();
    for role in trust::ROLES {
        match signature::verify(p, role, None, trust, now) {
            SigResult::Pass { reason, .. } => {
                c.push(
                    CHECK_SIGNATURE,
                    Status::Error,
                    "malformed-statement",
                    format!("{reason}, but the payload is not an in-toto Statement v1: {why}"),
                );
                return;
            }
            SigResult::Fail { kind, reason } => fails.push((kind, reason)),
        }
    }
    // Not verified either: report the most telling signature failure.
    let rank = |k: &str| match k {
        "bad-signature" => 0,
        "expired-certificate" | "untrusted-certificate" | "certificate-not-yet-valid" => 1,
        _ => 2,
    };
    fails.sort_by_key(|(k, _)| rank(k));
    let (kind, reason) = fails.remove(0);
    c.push(
        CHECK_SIGNATURE,
        Status::Fail,
        kind,
        format!("{reason} (and the payload is not an in-toto Statement v1: {why})"),
    );
}

/// What a statement that passed its signature and subject checks counts towards.
#[derive(Debug)]
enum Credit {
    Image,
    /// Indices into the inventory's packages.
    Packages(Vec<usize>),
}

fn subject_check(c: &mut Checked, head: &Head, img: &ImageView, build_type: Option<&str>) -> bool {
    let (r, credit) = match statement::about(head, build_type) {
        About::Image => (statement::check_image(head, img), Credit::Image),
        About::Package => match statement::check_package(head, img) {
            Ok((reason, indices)) => (Ok(reason), Credit::Packages(indices)),
            Err(e) => (Err(e), Credit::Packages(Vec::new())),
        },
    };
    let ok = c.result(CHECK_SUBJECT, "match", r);
    if ok {
        c.credit = Some((head.predicate_type.clone(), credit));
    }
    ok
}

fn check_provenance(
    c: &mut Checked,
    p: &Parsed,
    head: &Head,
    img: &ImageView,
    trust: &Trust,
    times: &[i64],
    now: i64,
) {
    let slsa = statement::parse_predicate::<provenance::SlsaV1>(&p.payload);
    let build_type = slsa
        .as_ref()
        .ok()
        .map(|s| s.build_definition.build_type.as_str());
    subject_check(c, head, img, build_type);
    let slsa = match slsa {
        Ok(s) => s,
        Err(e) => {
            c.push(
                CHECK_PROVENANCE,
                Status::Fail,
                "malformed-provenance",
                format!("not SLSA Provenance v1: {e}"),
            );
            return;
        }
    };
    match provenance::check(&head.predicate_type, &slsa, head, img, trust) {
        Ok(reason) => c.push(CHECK_PROVENANCE, Status::Pass, "trusted", reason),
        Err(problems) => {
            for (kind, reason) in problems {
                c.push(CHECK_PROVENANCE, Status::Fail, kind, reason);
            }
        }
    }
    let finished = slsa
        .run_details
        .metadata
        .as_ref()
        .and_then(|m| m.finished_on.as_deref());
    // A package's provenance is dated by its BUILDTIME: distribution packages are
    // legitimately years old, and what makes them current is the image that installs them
    // (whose own provenance max_age governs). Only a time in the future fails them.
    let max_age = if slsa.build_definition.build_type == attest::provenance::BUILD_TYPE_RPM {
        i64::MAX
    } else {
        trust.max_age_secs
    };
    let age = provenance::check_age(
        finished,
        "runDetails.metadata.finishedOn",
        times,
        max_age,
        now,
    );
    c.result(CHECK_AGE, "fresh", age);
    if c.all_passed() {
        c.overlays = provenance::overlays(&slsa);
    }
}

fn check_sbom(
    c: &mut Checked,
    p: &Parsed,
    head: &Head,
    img: &ImageView,
    trust: &Trust,
    times: &[i64],
    now: i64,
) {
    subject_check(c, head, img, None);
    let doc = statement::parse_predicate::<serde_json::Value>(&p.payload)
        .and_then(|v| sbom::parse(&head.predicate_type, &v));
    let doc = match doc {
        Ok(d) => d,
        Err(e) => {
            c.push(CHECK_SBOM, Status::Fail, "malformed-sbom", e);
            return;
        }
    };
    match sbom::compare(&doc, img) {
        Ok(reason) => c.push(CHECK_SBOM, Status::Pass, "match", reason),
        Err(problems) => {
            for (kind, reason) in problems {
                c.push(CHECK_SBOM, Status::Fail, kind, reason);
            }
        }
    }
    let age = provenance::check_age(
        doc.created.as_deref(),
        "SBOM creation time",
        times,
        trust.max_age_secs,
        now,
    );
    c.result(CHECK_AGE, "fresh", age);
}

/// Collects findings, overlays and the `attestation.required` verdicts.
fn finish(results: Vec<Checked>, facts: &ImageFacts, trust: &Trust) -> Outcome {
    let mut out = Outcome::default();
    let mut conflicting: Vec<String> = Vec::new();
    let mut credits: Vec<(&str, &str)> = Vec::new();
    let mut package_credits: Vec<(&str, &[usize])> = Vec::new();
    for r in &results {
        for (path, sha) in &r.overlays {
            match out.attested_overlays.get(path) {
                Some(prev) if prev != sha => conflicting.push(path.clone()),
                _ => {
                    out.attested_overlays.insert(path.clone(), sha.clone());
                }
            }
        }
        match &r.credit {
            Some((pt, Credit::Image)) => credits.push((pt, &r.name)),
            Some((pt, Credit::Packages(ix))) => package_credits.push((pt, ix)),
            None => {}
        }
    }
    for path in &conflicting {
        out.attested_overlays.remove(path);
    }
    let image = Subject {
        kind: SubjectKind::Image,
        name: facts.inventory.source.location.clone(),
    };
    for required in &trust.required_predicates {
        let by: Vec<&str> = credits
            .iter()
            .filter(|(pt, _)| statement::satisfies(pt, required))
            .map(|(_, n)| *n)
            .collect();
        let f = match by.first() {
            Some(first) => Finding::new(
                CHECK_REQUIRED,
                image.clone(),
                Status::Pass,
                "attested",
                format!(
                    "{required}: {first}{}",
                    if by.len() > 1 {
                        format!(" and {} more", by.len() - 1)
                    } else {
                        String::new()
                    }
                ),
            ),
            None => Finding::new(
                CHECK_REQUIRED,
                image.clone(),
                Status::Fail,
                "missing-attestation",
                format!(
                    "no attestation of type {required} about the image passed the signature \
                     and subject checks"
                ),
            ),
        };
        out.findings.push(f);
    }
    let packages = &facts.inventory.packages;
    for required in &trust.required_package_predicates {
        let mut covered = vec![false; packages.len()];
        for (_, ix) in package_credits
            .iter()
            .filter(|(pt, _)| statement::satisfies(pt, required))
        {
            for &i in *ix {
                covered[i] = true;
            }
        }
        let missing: Vec<&::sbom::package::Package> = packages
            .iter()
            .zip(&covered)
            .filter(|(_, c)| !**c)
            .map(|(p, _)| p)
            .collect();
        if missing.is_empty() {
            out.findings.push(Finding::new(
                CHECK_REQUIRED,
                image.clone(),
                Status::Pass,
                "attested",
                format!("{required}: every installed package ({})", packages.len()),
            ));
        }
        for p in missing {
            out.findings.push(Finding::new(
                CHECK_REQUIRED,
                Subject {
                    kind: SubjectKind::Package,
                    name: p.nevra(),
                },
                Status::Fail,
                "missing-package-attestation",
                format!(
                    "no attestation of type {required} about this package's header passed \
                     the signature and subject checks"
                ),
            ));
        }
    }
    out.findings
        .extend(results.into_iter().flat_map(|r| r.findings));
    out
}
