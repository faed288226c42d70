//! in-toto layout verification, as in-toto 3.x's `in-toto-verify` does it (in-toto spec
//! 1.0, "verification"), without running inspections unless the caller allows it.
//! Documented in `docs/intoto-verify.md`.
//!
//! Order (each stage only when the ones before it passed, as in in-toto; later stages
//! would otherwise report on metadata nobody vouched for, or run commands from it):
//! 1. the layout (Metablock or DSSE) is signed by every given owner key (`intoto.layout`);
//! 2. it is well formed and not expired (`intoto.layout`);
//!    With parameters given, `{NAME}` in commands and rules is substituted first
//!    ([`params`]);
//! 3. per step, the links `<step>.<keyid8>.link` of its functionaries: signature by the
//!    authorized key id, `name` equal to the step, at least `threshold` of them by distinct
//!    keys, and all of them recording the same materials and products (`intoto.link`);
//!    a recorded command that differs from `expected_command` is a pass with a note, as
//!    in-toto only warns. A functionary may delegate its step with a *sublayout* signed by
//!    its key in the link's place: that layout is verified in full (its links in
//!    `<step>.<keyid8>/`, its findings' subjects prefixed with that path, at most
//!    [`MAX_SUBLAYOUT_DEPTH`] levels) and stands for a link with its first step's
//!    materials and its last step's products and command, as in in-toto;
//! 4. every step's artifact rules over its link (`intoto.rules`);
//! 5. inspections: refused unless allowed (`intoto.inspection`), then their rules.
//!
//! Everything about the metadata is a [`Finding`]; [`IntotoError`] is only for the
//! caller's own inputs. Nothing passes by default: a layout that cannot be read is an
//! `error` finding, a step without enough verified links leaves its rules `not-checked`.

mod fnmatch;
mod inspect;
mod metadata;
mod params;
mod rules;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attest::keys::PublicKey;

use crate::report::{Finding, Status, Subject, SubjectKind};
use metadata::{Form, Layout, Link, ReadError, SigCheck, Signed, Step};
use rules::{Rule, Side};

pub use inspect::TIMEOUT as INSPECTION_TIMEOUT;
pub use params::valid_name as valid_parameter_name;

pub const CHECK_LAYOUT: &str = "intoto.layout";
pub const CHECK_LINK: &str = "intoto.link";
pub const CHECK_RULES: &str = "intoto.rules";
pub const CHECK_INSPECTION: &str = "intoto.inspection";

/// Sublayouts are followed this many levels deep. in-toto has no limit; a links directory
/// that contains a symlink to itself would make the nesting endless.
pub const MAX_SUBLAYOUT_DEPTH: usize = 8;

/// At most this many sublayouts are verified in one verification, at any depth. Symlinked
/// links directories let a few files stand for a tree of sublayouts as wide as it is deep:
/// 100 delegated steps 8 levels deep would be 100^8 verifications.
pub const MAX_SUBLAYOUTS: usize = 64;

/// Problems with the caller's inputs (not with the metadata).
#[derive(Debug, thiserror::Error)]
pub enum IntotoError {
    #[error("{0}: no such layout file")]
    LayoutMissing(PathBuf),
    #[error("{0}: the layout is not a regular file")]
    LayoutNotAFile(PathBuf),
    #[error("no layout keys: in-toto verification needs at least one layout owner key")]
    NoLayoutKeys,
    #[error("{0}: the links directory is not a directory")]
    LinksDir(PathBuf),
    #[error(
        "layout parameter {0:?}: a name must be letters, digits, '_' and '-' (in-toto's rule)"
    )]
    BadParameter(String),
}

/// What to verify.
pub struct LayoutRequest<'a> {
    /// The root layout (Metablock or DSSE).
    pub layout: &'a Path,
    /// The layout owners' keys: the layout must carry a valid signature by each.
    pub layout_keys: &'a [PublicKey],
    /// Where the `<step>.<keyid8>.link` files are.
    pub links_dir: &'a Path,
    /// Now, for the expiry check.
    pub now_unix: i64,
    /// False: a layout with inspections fails (`inspection-not-run`).
    pub allow_inspections: bool,
    /// The working directory of inspections when allowed (default: the current one).
    pub inspection_base: Option<&'a Path>,
    /// Values for `{NAME}` in the root layout's commands and rules (in-toto's
    /// `substitution_parameters`); `None` substitutes nothing, as in in-toto.
    pub parameters: Option<&'a BTreeMap<String, String>>,
}

fn subject(name: impl Into<String>) -> Subject {
    Subject {
        kind: SubjectKind::Attestation,
        name: name.into(),
    }
}

struct Run<'a> {
    req: &'a LayoutRequest<'a>,
    findings: Vec<Finding>,
    /// Where the links of the layout being checked are (a sublayout's: a subdirectory).
    links_dir: PathBuf,
    /// Prefix of `step:`/`inspection:` subjects: empty for the root layout,
    /// `<step>.<keyid8>/` per sublayout level.
    scope: String,
    depth: usize,
    /// Sublayouts taken on so far (see [`MAX_SUBLAYOUTS`]).
    sublayouts: usize,
}

impl Run<'_> {
    fn add(&mut self, check: &str, subj: &str, status: Status, kind: &str, reason: String) {
        self.findings
            .push(Finding::new(check, subject(subj), status, kind, reason));
    }

    fn all_pass(&self) -> bool {
        self.findings.iter().all(|f| f.status == Status::Pass)
    }
}

/// Verifies a layout and its links. See the module documentation for the checks.
pub fn verify_layout(req: &LayoutRequest) -> Result<Vec<Finding>, IntotoError> {
    if req.layout_keys.is_empty() {
        return Err(IntotoError::NoLayoutKeys);
    }
    match std::fs::metadata(req.layout) {
        Err(_) => return Err(IntotoError::LayoutMissing(req.layout.to_path_buf())),
        Ok(m) if !m.is_file() => return Err(IntotoError::LayoutNotAFile(req.layout.to_path_buf())),
        Ok(_) => {}
    }
    if !req.links_dir.is_dir() {
        return Err(IntotoError::LinksDir(req.links_dir.to_path_buf()));
    }
    if let Some(bad) = req
        .parameters
        .into_iter()
        .flat_map(BTreeMap::keys)
        .find(|k| !params::valid_name(k))
    {
        return Err(IntotoError::BadParameter(bad.clone()));
    }
    let mut run = Run {
        req,
        findings: Vec::new(),
        links_dir: req.links_dir.to_path_buf(),
        scope: String::new(),
        depth: 0,
        sublayouts: 0,
    };
    if let Some(layout) = run.layout() {
        run.chain(&layout);
    }
    Ok(run.findings)
}

impl Run<'_> {
    /// Stages 1 and 2: the layout's signatures, form and expiry.
    fn layout(&mut self) -> Option<Layout> {
        let path = self.req.layout;
        let subj = path.display().to_string();
        let bad = |run: &mut Self, kind: &str, reason: String| {
            run.add(CHECK_LAYOUT, &subj, Status::Error, kind, reason);
            None
        };
        let bytes = match metadata::read_file(path, metadata::LAYOUT_MAX_BYTES) {
            Ok(b) => b,
            Err(ReadError::NotFound) => return bad(self, "unreadable-layout", "vanished".into()),
            Err(ReadError::Other(e)) => return bad(self, "unreadable-layout", e),
        };
        let signed = match metadata::parse_signed(&bytes) {
            Ok(s) => s,
            Err(e) => return bad(self, "malformed-layout", format!("{}: {e}", path.display())),
        };
        if signed.body_type() != Some("layout") {
            return bad(
                self,
                "malformed-layout",
                format!(
                    "{}: layout._type: expected \"layout\", found {:?}",
                    path.display(),
                    signed.body_type()
                ),
            );
        }
        let mut seen: Vec<String> = Vec::new();
        for key in self.req.layout_keys {
            let keyid = attest::intoto::keys::in_toto_keyid(key);
            if seen.contains(&keyid) {
                continue;
            }
            let (status, kind, reason) = match signed.check(&keyid, key) {
                SigCheck::Valid => (
                    Status::Pass,
                    "signature-verified",
                    format!("signed by owner key {keyid} ({})", key.kind().name()),
                ),
                SigCheck::Missing => (
                    Status::Fail,
                    "missing-signature",
                    format!(
                        "no signature by owner key {keyid}; signatures are by {:?}",
                        signed.keyids()
                    ),
                ),
                SigCheck::Invalid => (
                    Status::Fail,
                    "bad-signature",
                    format!("the signature by owner key {keyid} does not verify"),
                ),
            };
            self.add(CHECK_LAYOUT, &subj, status, kind, reason);
            seen.push(keyid);
        }
        if !self.all_pass() {
            return None;
        }
        let Signed { form, mut body, .. } = signed;
        if let Some(params) = self.req.parameters {
            if let Err(e) = params::substitute(&mut body, params) {
                self.add(CHECK_LAYOUT, &subj, Status::Fail, "substitution", e);
                return None;
            }
        }
        self.accept(&body, form, &subj)
    }

    /// Stage 2 for a layout whose signatures passed: its form and expiry.
    fn accept(&mut self, body: &serde_json::Value, form: Form, subj: &str) -> Option<Layout> {
        let layout = match metadata::parse_layout(body) {
            Ok(l) => l,
            Err(e) => {
                let reason = format!("{subj}: {e}");
                self.add(
                    CHECK_LAYOUT,
                    subj,
                    Status::Error,
                    "malformed-layout",
                    reason,
                );
                return None;
            }
        };
        if layout.expires_unix <= self.req.now_unix {
            self.add(
                CHECK_LAYOUT,
                subj,
                Status::Fail,
                "expired",
                format!("the layout expired at {}", layout.expires),
            );
            return None;
        }
        self.add(
            CHECK_LAYOUT,
            subj,
            Status::Pass,
            "valid",
            format!(
                "{} {}layout: {} step(s), {} inspection(s), expires {}",
                form.name(),
                if self.depth > 0 { "sub" } else { "" },
                layout.steps.len(),
                layout.inspections.len(),
                layout.expires
            ),
        );
        Some(layout)
    }

    /// Stages 3 to 5; returns the steps' verified links.
    fn chain(&mut self, layout: &Layout) -> BTreeMap<String, Link> {
        let mut verified: BTreeMap<String, Link> = BTreeMap::new();
        for step in &layout.steps {
            if let Some(link) = self.step_links(layout, step) {
                verified.insert(step.name.clone(), link);
            }
        }
        let links: BTreeMap<String, &Link> = verified.iter().map(|(k, v)| (k.clone(), v)).collect();
        for step in &layout.steps {
            self.rules(
                &format!("step:{}{}", self.scope, step.name),
                &step.name,
                &step.expected_materials,
                &step.expected_products,
                &links,
            );
        }
        self.inspections(layout, &links);
        verified
    }

    /// Stage 3 for one step: returns the link its rules are checked on.
    fn step_links(&mut self, layout: &Layout, step: &Step) -> Option<Link> {
        let dir = self.links_dir.clone();
        let dir = dir.as_path();
        let step_subj = format!("step:{}{}", self.scope, step.name);
        let mut files = Vec::new();
        let mut found = 0usize;
        // (file, key SPKI, link) of every link that verified.
        let mut good: Vec<(String, Vec<u8>, Link)> = Vec::new();
        for keyid in &step.pubkeys {
            let file = attest::intoto::link::file_name(&step.name, keyid);
            let path = dir.join(&file);
            files.push(file.clone());
            let subj = path.display().to_string();
            let bytes = match metadata::read_file(&path, metadata::LINK_MAX_BYTES) {
                Ok(b) => b,
                Err(ReadError::NotFound) => continue,
                Err(ReadError::Other(e)) => {
                    found += 1;
                    self.add(CHECK_LINK, &subj, Status::Error, "unreadable-link", e);
                    continue;
                }
            };
            found += 1;
            let note = |run: &mut Self, status, kind: &str, reason: String| {
                run.add(CHECK_LINK, &subj, status, kind, format!("{file}: {reason}"));
            };
            let signed = match metadata::parse_signed(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    note(self, Status::Error, "malformed-link", e);
                    continue;
                }
            };
            let Some(obj) = layout.keys.get(keyid) else {
                note(
                    self,
                    Status::Fail,
                    "unknown-key",
                    format!(
                        "step {:?} authorizes key id {keyid}, which is not among the layout's keys",
                        step.name
                    ),
                );
                continue;
            };
            let key = match metadata::key_from_object(keyid, obj) {
                Ok(k) => k,
                Err(e) => {
                    note(
                        self,
                        Status::Error,
                        "unsupported-key",
                        format!("key {keyid}: {e}"),
                    );
                    continue;
                }
            };
            match signed.check(keyid, &key) {
                SigCheck::Valid => {}
                SigCheck::Missing => {
                    note(
                        self,
                        Status::Fail,
                        "unauthorized-signer",
                        format!(
                            "no signature by functionary key {keyid} of step {:?}; signatures \
                             are by {:?}",
                            step.name,
                            signed.keyids()
                        ),
                    );
                    continue;
                }
                SigCheck::Invalid => {
                    note(
                        self,
                        Status::Fail,
                        "bad-signature",
                        format!("the signature by functionary key {keyid} does not verify"),
                    );
                    continue;
                }
            }
            let form = signed.form;
            let (link, what) = if signed.body_type() == Some("layout") {
                match self.sublayout(step, keyid, signed, &subj, &file, bytes.len()) {
                    Some(summary) => (summary, "sublayout (verified)"),
                    None => continue,
                }
            } else {
                match metadata::parse_link(signed.body) {
                    Ok(l) => (l, "link"),
                    Err(e) => {
                        note(self, Status::Error, "malformed-link", e);
                        continue;
                    }
                }
            };
            if link.name != step.name {
                note(
                    self,
                    Status::Fail,
                    "name-mismatch",
                    format!("the link is for step {:?}, not {:?}", link.name, step.name),
                );
                continue;
            }
            let dup = good.iter().any(|(_, spki, _)| spki == key.spki_der());
            note(
                self,
                Status::Pass,
                "verified",
                format!(
                    "{} {what} signed by functionary key {keyid} ({}); {} material(s), {} \
                     product(s){}",
                    form.name(),
                    key.kind().name(),
                    link.materials.len(),
                    link.products.len(),
                    if dup {
                        "; the same key as another functionary's, counted once"
                    } else {
                        ""
                    }
                ),
            );
            if link.command != step.expected_command {
                // in-toto only warns: a command is easily aliased, so it proves little.
                note(
                    self,
                    Status::Pass,
                    "command-mismatch",
                    format!(
                        "recorded command {:?} differs from expected_command {:?} (a warning, \
                         as in in-toto)",
                        link.command, step.expected_command
                    ),
                );
            }
            if !dup {
                good.push((file, key.spki_der().to_vec(), link));
            }
        }
        if good.len() < step.threshold {
            let others = stray_links(dir, &step.name, &files);
            let (kind, what) = if found < step.threshold {
                (
                    "missing-link",
                    format!("found {found} of the files {files:?}"),
                )
            } else {
                ("threshold", format!("{} verified", good.len()))
            };
            self.add(
                CHECK_LINK,
                &step_subj,
                Status::Fail,
                kind,
                format!(
                    "step {:?} needs {} link(s) by distinct authorized functionaries in {}: \
                     {what}{others}",
                    step.name,
                    step.threshold,
                    dir.display()
                ),
            );
            return None;
        }
        // Stricter than in-toto, which compares only when threshold > 1 and otherwise
        // uses whichever link comes first: every verified link must agree.
        let (first_file, _, first) = &good[0];
        if let Some((file, _, _)) = good
            .iter()
            .find(|(_, _, l)| l.materials != first.materials || l.products != first.products)
        {
            self.add(
                CHECK_LINK,
                &step_subj,
                Status::Fail,
                "threshold-disagreement",
                format!(
                    "links {first_file} and {file} of step {:?} record different materials or \
                     products",
                    step.name
                ),
            );
            return None;
        }
        self.add(
            CHECK_LINK,
            &step_subj,
            Status::Pass,
            "threshold-met",
            format!(
                "{} verified link(s) by distinct functionaries, {} required",
                good.len(),
                step.threshold
            ),
        );
        Some(good.swap_remove(0).2)
    }

    /// Stage 4 (and 5's rules): one finding per item, or one per failing side.
    fn rules(
        &mut self,
        subj: &str,
        name: &str,
        materials: &[Rule],
        products: &[Rule],
        links: &BTreeMap<String, &Link>,
    ) {
        if !links.contains_key(name) {
            self.add(
                CHECK_RULES,
                subj,
                Status::Error,
                "not-checked",
                format!("{name}: artifact rules not checked: no verified link"),
            );
            return;
        }
        let mut notes = Vec::new();
        let mut failed = false;
        for (side, list) in [(Side::Materials, materials), (Side::Products, products)] {
            match rules::apply(name, side, list, links) {
                Ok(n) => notes.push(format!(
                    "expected_{}: {} rule(s) over {n} artifact(s)",
                    side.name(),
                    list.len()
                )),
                Err(f) => {
                    failed = true;
                    self.add(CHECK_RULES, subj, Status::Fail, f.kind, f.reason);
                }
            }
        }
        if !failed {
            self.add(
                CHECK_RULES,
                subj,
                Status::Pass,
                "rules-passed",
                notes.join("; "),
            );
        }
    }

    /// Stage 5.
    fn inspections(&mut self, layout: &Layout, steps: &BTreeMap<String, &Link>) {
        if layout.inspections.is_empty() {
            return;
        }
        if !self.req.allow_inspections {
            for i in &layout.inspections {
                self.add(
                    CHECK_INSPECTION,
                    &format!("inspection:{}{}", self.scope, i.name),
                    Status::Fail,
                    "inspection-not-run",
                    format!(
                        "the layout requires inspection {:?} (runs {:?}); running layout \
                         commands is not allowed",
                        i.name, i.run
                    ),
                );
            }
            return;
        }
        let base = self.req.inspection_base.unwrap_or(Path::new("."));
        let mut blocked = (!self.all_pass()).then(|| "earlier checks failed".to_owned());
        let mut ran: BTreeMap<String, Link> = BTreeMap::new();
        for i in &layout.inspections {
            let subj = format!("inspection:{}{}", self.scope, i.name);
            if let Some(why) = &blocked {
                let reason = format!("{:?} not run: {why}", i.run);
                self.add(CHECK_INSPECTION, &subj, Status::Error, "not-run", reason);
                continue;
            }
            match inspect::run(i, base, inspect::TIMEOUT) {
                Ok(link) => {
                    self.add(
                        CHECK_INSPECTION,
                        &subj,
                        Status::Pass,
                        "passed",
                        format!("{:?} exited 0 in {}", i.run, base.display()),
                    );
                    ran.insert(i.name.clone(), link);
                }
                Err(f) => {
                    self.add(CHECK_INSPECTION, &subj, Status::Fail, f.kind, f.reason);
                    blocked = Some(format!("inspection {:?} failed", i.name));
                }
            }
        }
        if blocked.is_some() {
            return;
        }
        let mut all = steps.clone();
        all.extend(ran.iter().map(|(k, v)| (k.clone(), v)));
        for i in &layout.inspections {
            let subj = format!("inspection:{}{}", self.scope, i.name);
            self.rules(
                &subj,
                &i.name,
                &i.expected_materials,
                &i.expected_products,
                &all,
            );
        }
    }
}

impl Run<'_> {
    /// A functionary's sublayout in the place of its link for `step`, its signature
    /// already checked: verified in full over the links in `<step>.<keyid8>/`, then
    /// summarized as in-toto's `get_summary_link` does. `None` when it fails (its own
    /// findings say why).
    fn sublayout(
        &mut self,
        step: &Step,
        keyid: &str,
        signed: Signed,
        subj: &str,
        file: &str,
        size: usize,
    ) -> Option<Link> {
        let fail = |run: &mut Self, status, kind: &str, reason: String| {
            run.add(CHECK_LINK, subj, status, kind, format!("{file}: {reason}"));
            None
        };
        if self.depth >= MAX_SUBLAYOUT_DEPTH {
            return fail(
                self,
                Status::Fail,
                "sublayout-too-deep",
                format!(
                    "a sublayout {} levels deep; at most {MAX_SUBLAYOUT_DEPTH} are followed",
                    self.depth + 1
                ),
            );
        }
        if self.sublayouts >= MAX_SUBLAYOUTS {
            return fail(
                self,
                Status::Fail,
                "too-many-sublayouts",
                format!("more than {MAX_SUBLAYOUTS} sublayouts in one verification"),
            );
        }
        self.sublayouts += 1;
        if size as u64 > metadata::LAYOUT_MAX_BYTES {
            return fail(
                self,
                Status::Error,
                "malformed-layout",
                format!(
                    "a sublayout of {size} bytes; a layout may have at most {}",
                    metadata::LAYOUT_MAX_BYTES
                ),
            );
        }
        let layout = self.accept(&signed.body, signed.form, subj)?;
        let sub = format!("{}.{}", step.name, keyid.get(..8).unwrap_or(keyid));
        let before = self.findings.len();
        let links_dir = self.links_dir.join(&sub);
        let scope = format!("{}{sub}/", self.scope);
        let outer_dir = std::mem::replace(&mut self.links_dir, links_dir);
        let outer_scope = std::mem::replace(&mut self.scope, scope);
        self.depth += 1;
        let links = self.chain(&layout);
        self.depth -= 1;
        let scope = std::mem::replace(&mut self.scope, outer_scope);
        self.links_dir = outer_dir;
        if self.findings[before..]
            .iter()
            .any(|f| f.status != Status::Pass)
        {
            return fail(
                self,
                Status::Fail,
                "sublayout-failed",
                format!("the sublayout does not verify (findings under step:{scope})"),
            );
        }
        let first = layout.steps.first().and_then(|s| links.get(&s.name));
        let last = layout.steps.last().and_then(|s| links.get(&s.name));
        Some(Link {
            name: step.name.clone(),
            materials: first.map(|l| l.materials.clone()).unwrap_or_default(),
            products: last.map(|l| l.products.clone()).unwrap_or_default(),
            command: last.map(|l| l.command.clone()).unwrap_or_default(),
        })
    }
}

/// Link files of `step` in `dir` that are not named for any of its functionaries, for the
/// message of a step without enough links.
fn stray_links(dir: &Path, step: &str, expected: &[String]) -> String {
    let prefix = format!("{step}.");
    let mut stray: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".link") && !expected.contains(n))
        .collect();
    if stray.is_empty() {
        return String::new();
    }
    stray.sort();
    stray.truncate(5);
    format!("; not named for a functionary of this step, so ignored: {stray:?}")
}
