//! The verification policy: a TOML file saying whom to trust and what to accept.
//!
//! Parsed strictly: unknown keys anywhere are an error (a misspelt `requre_signed`
//! must not silently fall back to a default), every path must name a readable file,
//! every license must be an SPDX identifier, every glob must be well-formed. Defaults
//! are the strict choice: all packages signed, no drift, no builder trusted until
//! named. See `docs/policy.md` for the format with examples.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Policy files larger than this are refused.
const MAX_POLICY_FILE: u64 = 1024 * 1024;
/// The only policy format version so far.
pub const POLICY_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: cannot read policy: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: policy file is larger than {MAX_POLICY_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: {reason}")]
    Syntax { path: PathBuf, reason: String },
    #[error("{path}: {field}: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

/// Trusted keys per role. Paths are relative to the policy file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// Armored OpenPGP keys trusted to sign RPM headers.
    #[serde(default)]
    pub rpm: Vec<PathBuf>,
    /// PEM public keys trusted to sign provenance attestations.
    #[serde(default)]
    pub provenance: Vec<PathBuf>,
    /// PEM public keys trusted to sign SBOM attestations.
    #[serde(default)]
    pub sbom: Vec<PathBuf>,
    /// PEM public keys of in-toto layout owners.
    #[serde(default)]
    pub layout: Vec<PathBuf>,
}

/// Trusted certificate roots per role (PEM), for certificate-signed attestations.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Roots {
    /// CA certificates (PEM; self-signed ones are anchors, others intermediates)
    /// trusted to certify provenance signers.
    #[serde(default)]
    pub provenance: Vec<PathBuf>,
    /// The same for SBOM signers.
    #[serde(default)]
    pub sbom: Vec<PathBuf>,
    /// A Sigstore `trusted_root.json`: bundles carrying log entries or timestamps are
    /// verified against it.
    #[serde(default)]
    pub sigstore: Option<PathBuf>,
    /// Certificate identities accepted through `sigstore`, per role.
    #[serde(default)]
    pub identities: Vec<SigstoreIdentity>,
}

/// What an attestation's signer may vouch for, by the statement's predicate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttestationRole {
    /// SLSA provenance.
    Provenance,
    /// SBOM predicates (SPDX, CycloneDX).
    Sbom,
}

impl AttestationRole {
    pub fn name(self) -> &'static str {
        match self {
            Self::Provenance => "provenance",
            Self::Sbom => "sbom",
        }
    }
}

/// A certificate identity (subject alternative name and OIDC issuer) accepted for a
/// role when a bundle is verified through `[roots] sigstore`. Exactly one of
/// `identity`/`identity_regex` and one of `issuer`/`issuer_regex`; regular
/// expressions are anchored (they must match the whole value).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SigstoreIdentity {
    pub role: AttestationRole,
    #[serde(default)]
    pub identity: Option<String>,
    #[serde(default)]
    pub identity_regex: Option<String>,
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub issuer_regex: Option<String>,
}

impl SigstoreIdentity {
    /// The identity as the Sigstore verifier's policy (validated at load, so this
    /// fails only on a policy built by hand).
    pub fn to_identity_policy(
        &self,
    ) -> Result<crate::sigstore::IdentityPolicy, crate::sigstore::SigstoreError> {
        use crate::sigstore::{IdentityPolicy, Matcher, SigstoreError};
        let matcher =
            |exact: &Option<String>, regex: &Option<String>, what: &str| match (exact, regex) {
                (Some(e), None) => Ok(Matcher::exact(e.clone())),
                (None, Some(r)) => Matcher::regex(r),
                _ => Err(SigstoreError::Policy(format!(
                    "give exactly one of {what} and {what}_regex"
                ))),
            };
        Ok(IdentityPolicy {
            identity: matcher(&self.identity, &self.identity_regex, "identity")?,
            issuer: matcher(&self.issuer, &self.issuer_regex, "issuer")?,
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    /// Every package must carry a header signature by a trusted key.
    #[serde(default = "yes")]
    pub require_signed: bool,
    /// Name globs; when non-empty, a package must match one.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Name globs no package may match (wins over `allowed`).
    #[serde(default)]
    pub forbidden: Vec<String>,
}

impl Default for Packages {
    fn default() -> Self {
        Self {
            require_signed: true,
            allowed: Vec::new(),
            forbidden: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Licenses {
    /// SPDX license ids (or exact `LicenseRef-` ids) a package's license expression
    /// may be satisfied with. Absent: licenses are not checked.
    pub allowed: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Attestations {
    /// Oldest acceptable attestation, as `30d`, `12h`, `90m`, `3600s` or `2w`.
    #[serde(default = "default_max_age")]
    pub max_age: String,
    /// Predicate types that must be attested about the image itself (its root-filesystem
    /// or manifest digest), e.g. `https://slsa.dev/provenance/v1`. Statements about
    /// packages do not count.
    #[serde(default)]
    pub required_predicates: Vec<String>,
    /// Predicate types that must be attested about every installed package (a statement
    /// whose subject is the package's header digest).
    #[serde(default)]
    pub required_package_predicates: Vec<String>,
    /// SLSA builder ids accepted in provenance. Empty: no builder is trusted.
    #[serde(default)]
    pub allowed_builders: Vec<String>,
    /// SLSA build types accepted. Empty: any build type of an allowed builder.
    #[serde(default)]
    pub allowed_build_types: Vec<String>,
}

impl Default for Attestations {
    fn default() -> Self {
        Self {
            max_age: default_max_age(),
            required_predicates: Vec::new(),
            required_package_predicates: Vec::new(),
            allowed_builders: Vec::new(),
            allowed_build_types: Vec::new(),
        }
    }
}

/// Which differences between the files on disk and the signed headers are acceptable.
/// Default: none.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    /// Path globs whose packaged content may differ (e.g. `/etc/motd`).
    #[serde(default)]
    pub modified: Vec<String>,
    /// Path globs of files that may exist without belonging to a package.
    #[serde(default)]
    pub added: Vec<String>,
    /// Path globs of packaged files that may be missing.
    #[serde(default)]
    pub removed: Vec<String>,
    /// Allow `%config` files to differ from the header (rpm -V marks them `c`).
    #[serde(default)]
    pub config_files: bool,
    /// Allow mode/owner differences on paths matching `modified`.
    #[serde(default)]
    pub metadata: bool,
}

/// The whole policy.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Format version; must be 1.
    #[serde(default = "default_version")]
    pub version: u32,
    #[serde(default)]
    pub keys: Keys,
    #[serde(default)]
    pub roots: Roots,
    #[serde(default)]
    pub packages: Packages,
    #[serde(default)]
    pub licenses: Licenses,
    #[serde(default)]
    pub attestations: Attestations,
    #[serde(default)]
    pub drift: Drift,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            version: POLICY_VERSION,
            keys: Keys::default(),
            roots: Roots::default(),
            packages: Packages::default(),
            licenses: Licenses::default(),
            attestations: Attestations::default(),
            drift: Drift::default(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_version() -> u32 {
    POLICY_VERSION
}
fn default_max_age() -> String {
    "30d".into()
}

impl Policy {
    /// Reads, parses and validates a policy file; relative key paths are resolved
    /// against the file's directory.
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let io = |source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::metadata(path).map_err(io)?.len() > MAX_POLICY_FILE {
            return Err(PolicyError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, path, base)
    }

    /// Parses and validates policy text; `name` is used in errors, `base` resolves
    /// relative paths.
    pub fn from_toml(text: &str, name: &Path, base: &Path) -> Result<Self, PolicyError> {
        let mut p: Policy = toml::from_str(text).map_err(|e| PolicyError::Syntax {
            path: name.to_path_buf(),
            reason: e.to_string(),
        })?;
        p.resolve(base);
        p.validate(name)?;
        Ok(p)
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |v: &mut Vec<PathBuf>| v.iter_mut().for_each(|p| *p = base.join(&*p));
        fix(&mut self.keys.rpm);
        fix(&mut self.keys.provenance);
        fix(&mut self.keys.sbom);
        fix(&mut self.keys.layout);
        fix(&mut self.roots.provenance);
        fix(&mut self.roots.sbom);
        if let Some(r) = &mut self.roots.sigstore {
            *r = base.join(&*r);
        }
    }

    fn validate(&self, name: &Path) -> Result<(), PolicyError> {
        let invalid = |field: &str, reason: String| PolicyError::Invalid {
            path: name.to_path_buf(),
            field: field.to_string(),
            reason,
        };
        if self.version != POLICY_VERSION {
            return Err(invalid(
                "version",
                format!("{} is not supported (only {POLICY_VERSION})", self.version),
            ));
        }
        let files: [(&str, &[PathBuf]); 6] = [
            ("keys.rpm", &self.keys.rpm),
            ("keys.provenance", &self.keys.provenance),
            ("keys.sbom", &self.keys.sbom),
            ("keys.layout", &self.keys.layout),
            ("roots.provenance", &self.roots.provenance),
            ("roots.sbom", &self.roots.sbom),
        ];
        let sigstore: Vec<PathBuf> = self.roots.sigstore.iter().cloned().collect();
        for (field, paths) in files.into_iter().chain([("roots.sigstore", &sigstore[..])]) {
            for p in paths {
                if !p.is_file() {
                    return Err(invalid(
                        field,
                        format!("{} is not a readable file", p.display()),
                    ));
                }
            }
        }
        for (field, globs) in [
            ("packages.allowed", &self.packages.allowed),
            ("packages.forbidden", &self.packages.forbidden),
            ("drift.modified", &self.drift.modified),
            ("drift.added", &self.drift.added),
            ("drift.removed", &self.drift.removed),
        ] {
            for g in globs {
                check_glob(g).map_err(|why| invalid(field, format!("{g:?}: {why}")))?;
            }
        }
        for (field, globs) in [
            ("drift.modified", &self.drift.modified),
            ("drift.added", &self.drift.added),
            ("drift.removed", &self.drift.removed),
        ] {
            if let Some(g) = globs.iter().find(|g| !g.starts_with('/')) {
                return Err(invalid(field, format!("{g:?}: paths must be absolute")));
            }
        }
        if let Some(ids) = &self.licenses.allowed {
            for id in ids {
                if id.starts_with("LicenseRef-") {
                    continue;
                }
                if spdx::license_id(id).is_none() {
                    return Err(invalid(
                        "licenses.allowed",
                        format!("{id:?} is not an SPDX license identifier"),
                    ));
                }
            }
        }
        if !self.roots.identities.is_empty() && self.roots.sigstore.is_none() {
            return Err(invalid(
                "roots.identities",
                "identities are accepted through roots.sigstore, which is not set".into(),
            ));
        }
        for (i, id) in self.roots.identities.iter().enumerate() {
            id.to_identity_policy()
                .map_err(|e| invalid(&format!("roots.identities[{i}]"), e.to_string()))?;
        }
        parse_duration(&self.attestations.max_age).map_err(|why| {
            invalid(
                "attestations.max_age",
                format!("{:?}: {why}", self.attestations.max_age),
            )
        })?;
        for (field, v) in [
            (
                "attestations.required_predicates",
                &self.attestations.required_predicates,
            ),
            (
                "attestations.required_package_predicates",
                &self.attestations.required_package_predicates,
            ),
            (
                "attestations.allowed_builders",
                &self.attestations.allowed_builders,
            ),
            (
                "attestations.allowed_build_types",
                &self.attestations.allowed_build_types,
            ),
        ] {
            if v.iter().any(|s| s.trim().is_empty()) {
                return Err(invalid(field, "empty string".into()));
            }
        }
        Ok(())
    }

    /// `attestations.max_age` as a duration (validated at load).
    pub fn max_attestation_age(&self) -> Duration {
        parse_duration(&self.attestations.max_age).unwrap_or(Duration::ZERO)
    }

    /// Why a package name is refused, or `None` if the policy accepts it.
    pub fn package_refused(&self, name: &str) -> Option<String> {
        if let Some(g) = self.packages.forbidden.iter().find(|g| glob_match(g, name)) {
            return Some(format!("forbidden by packages.forbidden {g:?}"));
        }
        if !self.packages.allowed.is_empty()
            && !self.packages.allowed.iter().any(|g| glob_match(g, name))
        {
            return Some("not matched by packages.allowed".into());
        }
        None
    }

    /// Why a package's RPM `License:` is refused, or `None` if accepted (or licenses
    /// are not checked). An SPDX expression passes when the allowed ids satisfy it
    /// (one branch of an `OR` suffices); a legacy string only when its exact
    /// `LicenseRef-` id is listed.
    pub fn license_refused(&self, license: &str) -> Option<String> {
        let allowed = self.licenses.allowed.as_ref()?;
        match sbom::license::classify(license) {
            sbom::license::License::None => Some("the package declares no license".into()),
            sbom::license::License::Other { id, .. } => (!allowed.contains(&id))
                .then(|| format!("{license:?} is not an SPDX expression and {id} is not allowed")),
            sbom::license::License::Spdx(expr) => {
                let mode = spdx::ParseMode {
                    allow_deprecated: true,
                    ..spdx::ParseMode::STRICT
                };
                let Ok(e) = spdx::Expression::parse_mode(&expr, mode) else {
                    return Some(format!("{expr:?} does not parse"));
                };
                let ok = e.evaluate(|req| match &req.license {
                    spdx::LicenseItem::Spdx { id, or_later } => allowed.iter().any(|a| {
                        a == id.name || (*or_later && a.strip_suffix('+') == Some(id.name))
                    }),
                    spdx::LicenseItem::Other { .. } => false,
                });
                (!ok).then(|| format!("{expr} is not satisfied by licenses.allowed"))
            }
        }
    }
}

/// Parses `30d`, `12h`, `90m`, `3600s`, `2w`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or("missing unit (s, m, h, d or w)")?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a number followed by a unit".to_string())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("unknown unit {unit:?} (s, m, h, d or w)")),
    };
    let secs = n.checked_mul(mult).ok_or("too large")?;
    if secs == 0 {
        return Err("must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Glob syntax: `*` (any run, also across `/`), `?` (one character), everything else
/// literal. Brackets are refused rather than half-supported.
fn check_glob(g: &str) -> Result<(), &'static str> {
    if g.is_empty() {
        return Err("empty pattern");
    }
    if g.contains(['[', ']', '{', '}']) {
        return Err("only * and ? are supported");
    }
    Ok(())
}

/// Matches `text` against a glob of `*` and `?` (iterative, linear backtracking).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::from_toml(text, Path::new("policy.toml"), Path::new("/nonexistent"))
    }

    #[test]
    fn empty_policy_is_strict() {
        let p = parse("").unwrap();
        assert!(p.packages.require_signed);
        assert!(p.attestations.allowed_builders.is_empty());
        assert_eq!(p.drift, Drift::default());
        assert_eq!(p.max_attestation_age(), Duration::from_secs(30 * 86_400));
        assert_eq!(
            p.license_refused("GPLv2+"),
            None,
            "licenses unchecked unless listed"
        );
    }

    #[test]
    fn unknown_keys_are_errors_at_every_level() {
        for text in [
            "requre_signed = false",
            "[packages]\nrequre_signed = false",
            "[keys]\nrpms = []",
            "[drift]\nmodifed = []",
            "[nope]",
        ] {
            assert!(
                matches!(parse(text), Err(PolicyError::Syntax { .. })),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_values_name_the_field() {
        let cases = [
            ("version = 2", "version"),
            ("[keys]\nrpm = [\"missing.asc\"]", "keys.rpm"),
            ("[licenses]\nallowed = [\"GPLv2+\"]", "licenses.allowed"),
            ("[attestations]\nmax_age = \"30\"", "attestations.max_age"),
            ("[attestations]\nmax_age = \"0d\"", "attestations.max_age"),
            ("[attestations]\nmax_age = \"3y\"", "attestations.max_age"),
            ("[drift]\nmodified = [\"etc/motd\"]", "drift.modified"),
            ("[packages]\nforbidden = [\"[ab]*\"]", "packages.forbidden"),
            (
                "[attestations]\nallowed_builders = [\" \"]",
                "attestations.allowed_builders",
            ),
            (
                "[roots]\nidentities = [{ role = \"sbom\", identity = \"a\", issuer = \"b\" }]",
                "roots.identities",
            ),
        ];
        for (text, field) in cases {
            match parse(text) {
                Err(PolicyError::Invalid { field: f, .. }) => assert_eq!(f, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn sigstore_identities_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trusted_root.json"), "{}").unwrap();
        let parse = |ids: &str| {
            Policy::from_toml(
                &format!("[roots]\nsigstore = \"trusted_root.json\"\nidentities = [{ids}]"),
                Path::new("policy.toml"),
                dir.path(),
            )
        };
        let p = parse(r#"{ role = "provenance", identity = "a", issuer = "b" }, { role = "sbom", identity_regex = "https://x/.*", issuer = "b" }"#).unwrap();
        assert_eq!(p.roots.identities.len(), 2);
        assert_eq!(p.roots.identities[1].role, AttestationRole::Sbom);
        for bad in [
            r#"{ role = "sbom", identity = "a", identity_regex = "a", issuer = "b" }"#,
            r#"{ role = "sbom", identity = "a" }"#,
            r#"{ role = "sbom", identity_regex = "(", issuer = "b" }"#,
        ] {
            match parse(bad) {
                Err(PolicyError::Invalid { field, .. }) => assert_eq!(field, "roots.identities[0]"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(matches!(
            parse(r#"{ role = "rpm", identity = "a", issuer = "b" }"#),
            Err(PolicyError::Syntax { .. })
        ));
    }

    #[test]
    fn package_globs() {
        let p =
            parse("[packages]\nallowed = [\"bash\", \"lib*\"]\nforbidden = [\"libbad?\"]").unwrap();
        assert_eq!(p.package_refused("bash"), None);
        assert_eq!(p.package_refused("libfoo"), None);
        assert!(p.package_refused("libbad1").unwrap().contains("forbidden"));
        assert!(p.package_refused("telnet").unwrap().contains("allowed"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn licenses_by_spdx_evaluation() {
        let p =
            parse("[licenses]\nallowed = [\"MIT\", \"Apache-2.0\", \"LicenseRef-Proprietary\"]")
                .unwrap();
        assert_eq!(p.license_refused("MIT"), None);
        assert_eq!(
            p.license_refused("MIT AND (Apache-2.0 OR BSD-3-Clause)"),
            None
        );
        assert!(p.license_refused("MIT AND BSD-3-Clause").is_some());
        assert!(
            p.license_refused("GPLv2+").is_some(),
            "legacy names never pass by guess"
        );
        assert!(p.license_refused("").is_some());
    }
}
