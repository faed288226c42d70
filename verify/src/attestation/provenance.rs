//! `attestation.provenance` (SLSA Provenance v1: builder, build type, and for our image
//! build type the exact set of installed packages) and `attestation.age`.
//!
//! The SLSA layer is read as the specification says consumers must: required fields
//! with their types, unknown fields ignored (producers may extend the predicate).

use std::collections::BTreeMap;

use serde::Deserialize;

use attest::provenance::{
    BUILD_TYPE_IMAGE, BUILD_TYPE_RPM, RPM_HEADER_DIGEST_KEY, SLSA_PROVENANCE_V1,
};

use super::statement::{Descriptor, Head, ImageView};
use super::trust::Trust;

/// Clock skew tolerated for times in the future.
pub(crate) const FUTURE_SKEW_SECS: i64 = 5 * 60;
/// At most this many names per list in a reason; the rest are counted.
const LIST_MAX: usize = 20;

#[derive(Deserialize)]
pub(crate) struct SlsaV1 {
    #[serde(rename = "buildDefinition")]
    pub(crate) build_definition: BuildDefinition,
    #[serde(rename = "runDetails")]
    pub(crate) run_details: RunDetails,
}

#[derive(Deserialize)]
pub(crate) struct BuildDefinition {
    #[serde(rename = "buildType")]
    pub(crate) build_type: String,
    #[serde(rename = "externalParameters")]
    pub(crate) external_parameters: ExternalParameters,
    #[serde(default, rename = "resolvedDependencies")]
    pub(crate) resolved_dependencies: Vec<Descriptor>,
}

/// `externalParameters`: must be an object; only `package` (rpm build type) is read, the
/// rest is skipped without building values.
pub(crate) struct ExternalParameters {
    pub(crate) package: Option<String>,
}

impl<'de> Deserialize<'de> for ExternalParameters {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ExternalParameters;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                use serde::de::Error;
                let mut package = None;
                while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    if k == "package" {
                        if package.is_some() {
                            return Err(A::Error::duplicate_field("package"));
                        }
                        package = Some(m.next_value::<Option<String>>()?);
                    } else {
                        m.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(ExternalParameters {
                    package: package.flatten(),
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
pub(crate) struct RunDetails {
    pub(crate) builder: Builder,
    #[serde(default)]
    pub(crate) metadata: Option<Metadata>,
}

#[derive(Deserialize)]
pub(crate) struct Builder {
    pub(crate) id: String,
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    #[serde(default, rename = "finishedOn")]
    pub(crate) finished_on: Option<String>,
}

/// A problem found by a check: (kind, reason).
pub(crate) type Problem = (&'static str, String);

/// `name1, name2, ... and N more`.
pub(crate) fn list(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(LIST_MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LIST_MAX {
        s.push_str(&format!(" and {} more", names.len() - LIST_MAX));
    }
    s
}

/// Checks builder, build type and (image build type) dependencies. Returns the pass
/// reason, or every problem found.
pub(crate) fn check(
    predicate_type: &str,
    p: &SlsaV1,
    head: &Head,
    img: &ImageView,
    trust: &Trust,
) -> Result<String, Vec<Problem>> {
    let mut problems = Vec::new();
    if predicate_type != SLSA_PROVENANCE_V1 {
        return Err(vec![(
            "unsupported-provenance",
            format!("{predicate_type}: only {SLSA_PROVENANCE_V1} is checked"),
        )]);
    }
    let builder = &p.run_details.builder.id;
    if trust.allowed_builders.is_empty() {
        problems.push((
            "untrusted-builder",
            format!(
                "builder {builder:?}: no builder is trusted (attestations.allowed_builders is \
                 empty)"
            ),
        ));
    } else if !trust.allowed_builders.iter().any(|b| b == builder) {
        problems.push((
            "untrusted-builder",
            format!("builder {builder:?} is not in attestations.allowed_builders"),
        ));
    }
    let bt = &p.build_definition.build_type;
    if !trust.allowed_build_types.is_empty() && !trust.allowed_build_types.contains(bt) {
        problems.push((
            "untrusted-build-type",
            format!("build type {bt:?} is not in attestations.allowed_build_types"),
        ));
    }
    let mut detail = String::new();
    if bt == BUILD_TYPE_IMAGE {
        match dependencies(p, img) {
            Ok(n) => {
                detail =
                    format!("; its {n} package dependencies are exactly the installed packages")
            }
            Err(pr) => problems.push(pr),
        }
    } else if bt == BUILD_TYPE_RPM {
        // The package the predicate describes must be one the statement is about.
        let pkg = p.build_definition.external_parameters.package.as_deref();
        let named = pkg.is_some_and(|n| {
            let file = format!("{n}.rpm");
            head.subjects
                .iter()
                .any(|s| s.name.as_deref() == Some(&file))
        });
        if !named {
            problems.push((
                "inconsistent-provenance",
                format!("externalParameters.package {pkg:?} is not the subject of the statement"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(format!("builder {builder:?}, build type {bt:?}{detail}"))
    } else {
        Err(problems)
    }
}

/// The image build type's `resolvedDependencies` packages (those with an RPM header
/// digest) must equal the installed set by name and header digest.
fn dependencies(p: &SlsaV1, img: &ImageView) -> Result<usize, Problem> {
    let mut listed: BTreeMap<&str, &str> = BTreeMap::new();
    let mut twice = Vec::new();
    for d in &p.build_definition.resolved_dependencies {
        let Some(h) = d.digest.get(RPM_HEADER_DIGEST_KEY) else {
            continue;
        };
        let name = d.name.as_deref().unwrap_or("(unnamed)");
        if listed.insert(name, h).is_some() {
            twice.push(nevra(name));
        }
    }
    let installed: BTreeMap<String, Option<&str>> = img.installed().collect();
    let mut missing = Vec::new();
    let mut differ = Vec::new();
    for (name, ours) in &installed {
        match listed.get(name.as_str()) {
            None => missing.push(nevra(name)),
            Some(theirs) if Some(*theirs) != *ours => differ.push(nevra(name)),
            Some(_) => {}
        }
    }
    let extra: Vec<String> = listed
        .keys()
        .filter(|n| !installed.contains_key(**n))
        .map(|n| nevra(n))
        .collect();
    if missing.is_empty() && extra.is_empty() && differ.is_empty() && twice.is_empty() {
        return Ok(listed.len());
    }
    let mut parts = Vec::new();
    for (what, v) in [
        ("installed but not in the provenance", &missing),
        ("in the provenance but not installed", &extra),
        ("header digest differs", &differ),
        ("listed twice", &twice),
    ] {
        if !v.is_empty() {
            parts.push(format!("{what}: {}", list(v)));
        }
    }
    Err(("dependencies-mismatch", parts.join("; ")))
}

fn nevra(rpm_name: &str) -> String {
    rpm_name
        .strip_suffix(".rpm")
        .unwrap_or(rpm_name)
        .to_string()
}

/// The overlay files an image provenance names: dependencies with an absolute path as
/// name and a `sha256`, and no RPM header digest.
pub(crate) fn overlays(p: &SlsaV1) -> Vec<(String, String)> {
    if p.build_definition.build_type != BUILD_TYPE_IMAGE {
        return Vec::new();
    }
    p.build_definition
        .resolved_dependencies
        .iter()
        .filter(|d| d.digest.get(RPM_HEADER_DIGEST_KEY).is_none())
        .filter_map(|d| {
            let name = d.name.as_deref()?;
            let sha = d.digest.get("sha256")?;
            name.starts_with('/')
                .then(|| (name.to_string(), sha.to_string()))
        })
        .collect()
}

/// `attestation.age`: `claimed` (RFC 3339, from the predicate) or else the earliest time
/// the Sigstore engine authenticated must lie within `max_age` before `now` and not more
/// than [`FUTURE_SKEW_SECS`] after it.
pub(crate) fn check_age(
    claimed: Option<&str>,
    what: &str,
    authenticated: &[i64],
    max_age_secs: i64,
    now: i64,
) -> Result<String, Problem> {
    let (t, source) = match claimed {
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => (t.as_second(), format!("{what} {s}")),
            Err(e) => {
                return Err((
                    "bad-time",
                    format!("{what} {s:?} is not an RFC 3339 time: {e}"),
                ))
            }
        },
        None => match authenticated.iter().min() {
            Some(&t) => (
                t,
                format!("no {what}; the log's authenticated time {}", rfc3339(t)),
            ),
            None => {
                return Err((
                    "no-time",
                    format!("no {what} and no authenticated time: the age cannot be checked"),
                ))
            }
        },
    };
    let age = now.saturating_sub(t);
    if age > max_age_secs {
        return Err((
            "too-old",
            format!(
                "{source} is {} old, more than attestations.max_age ({})",
                human(age),
                human(max_age_secs)
            ),
        ));
    }
    if -age > FUTURE_SKEW_SECS {
        return Err((
            "future",
            format!("{source} is {} in the future", human(-age)),
        ));
    }
    if max_age_secs == i64::MAX {
        return Ok(format!(
            "{source}: {} old; package build times are not limited by max_age",
            human(age.max(0))
        ));
    }
    Ok(format!(
        "{source}: {} old, within {}",
        human(age.max(0)),
        human(max_age_secs)
    ))
}

fn rfc3339(t: i64) -> String {
    ::sbom::format::rfc3339(t)
}

/// `3d 4h`, `12m 5s`: enough precision for a reason.
fn human(secs: i64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human(5), "5s");
        assert_eq!(human(65), "1m 5s");
        assert_eq!(human(3 * 3600 + 60), "3h 1m");
        assert_eq!(human(30 * 86_400), "30d 0h");
    }

    #[test]
    fn external_parameters_must_be_an_object() {
        let ok: ExternalParameters =
            serde_json::from_str(r#"{"x":[1,{"y":2}],"package":"a-1-1.noarch"}"#).unwrap();
        assert_eq!(ok.package.as_deref(), Some("a-1-1.noarch"));
        for bad in [
            r#"[]"#,
            r#""s""#,
            r#"{"package":1}"#,
            r#"{"package":"a","package":"b"}"#,
        ] {
            assert!(
                serde_json::from_str::<ExternalParameters>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn lists_are_capped() {
        let names: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        assert!(list(&names).ends_with("19 and 5 more"));
        assert_eq!(list(&names[..2]), "0, 1");
    }
}
