//! The in-toto Statement v1 layer, parsed strictly, and the `attestation.subject` check.
//!
//! Strict: `_type` must be Statement v1; the statement and its ResourceDescriptors have a
//! closed set of fields in v1, and a field outside it is refused rather than ignored (a
//! field we ignore could carry a meaning we would silently drop); a digest set may not
//! name an algorithm twice (two parsers would disagree on which value counts); the
//! digests we compare must be lower-case hex of the right length.
//!
//! Subject matching is ours, not a Sigstore verifier's: an image is identified by
//! `rootfsSha256` (directory) or `sha256` (OCI manifest), a package by `rpmHeaderSha256`
//! and its `<nevra>.rpm` name. A subject whose digests we cannot compare never passes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use attest::provenance::{BUILD_TYPE_RPM, RPM_HEADER_DIGEST_KEY};
use attest::statement::STATEMENT_V1;

use super::ImageFacts;
use crate::policy::AttestationRole as Role;

/// Digest keys whose values must be 64 lower-case hex digits.
const HEX256_KEYS: [&str; 3] = ["sha256", attest::rootfs::DIGEST_KEY, RPM_HEADER_DIGEST_KEY];

/// A digest set: algorithm -> value, no algorithm twice.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct DigestSet(pub(crate) BTreeMap<String, String>);

impl<'de> Deserialize<'de> for DigestSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DigestSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of digest algorithm to value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<DigestSet, A::Error> {
                use serde::de::Error;
                let mut out = BTreeMap::new();
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    if HEX256_KEYS.contains(&k.as_str())
                        && !(v.len() == 64
                            && v.bytes()
                                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                    {
                        return Err(A::Error::custom(format!(
                            "digest {k}: {v:?} is not 64 lower-case hex digits"
                        )));
                    }
                    if out.insert(k.clone(), v).is_some() {
                        return Err(A::Error::custom(format!("digest {k} appears twice")));
                    }
                }
                Ok(DigestSet(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl DigestSet {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// An in-toto ResourceDescriptor (v1: exactly these fields).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, rename = "uri")]
    _uri: Option<String>,
    #[serde(default)]
    pub(crate) digest: DigestSet,
    #[serde(default, rename = "content")]
    _content: Option<String>,
    #[serde(default, rename = "downloadLocation")]
    _download_location: Option<String>,
    #[serde(default, rename = "mediaType")]
    _media_type: Option<String>,
    #[serde(default, rename = "annotations")]
    _annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadWire {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<Descriptor>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default, rename = "predicate")]
    _predicate: IgnoredAny,
}

/// The statement without its predicate: what the signature check needs.
pub(crate) struct Head {
    pub(crate) predicate_type: String,
    pub(crate) subjects: Vec<Descriptor>,
}

/// Parses the statement's envelope layer (the predicate is skipped, not stored).
pub(crate) fn parse_head(payload: &[u8]) -> Result<Head, String> {
    let w: HeadWire = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    if w.type_ != STATEMENT_V1 {
        return Err(format!("_type {:?} is not {STATEMENT_V1}", w.type_));
    }
    if w.subject.is_empty() {
        return Err("no subject".into());
    }
    if let Some(i) = w.subject.iter().position(|s| s.digest.0.is_empty()) {
        return Err(format!("subject[{i}] has no digest"));
    }
    if w.predicate_type.is_empty() {
        return Err("empty predicateType".into());
    }
    Ok(Head {
        predicate_type: w.predicate_type,
        subjects: w.subject,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullWire<P> {
    #[serde(rename = "_type")]
    _type: IgnoredAny,
    #[serde(rename = "subject")]
    _subject: IgnoredAny,
    #[serde(rename = "predicateType")]
    _predicate_type: IgnoredAny,
    predicate: Option<P>,
}

/// Parses the predicate as `P` (after [`parse_head`] accepted the statement). Parsing
/// from the bytes keeps serde's duplicate-field checks inside the predicate.
pub(crate) fn parse_predicate<P: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<P, String> {
    let w: FullWire<P> = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    w.predicate
        .ok_or_else(|| "the statement has no predicate".into())
}

/// The role whose signers may make a statement of this predicate type.
pub(crate) fn role_of(predicate_type: &str) -> Option<Role> {
    let family = |base: &str| {
        predicate_type == base
            || predicate_type
                .strip_prefix(base)
                .is_some_and(|r| r.starts_with('/'))
    };
    if predicate_type.starts_with("https://slsa.dev/provenance/") {
        Some(Role::Provenance)
    } else if family("https://spdx.dev/Document") || family("https://cyclonedx.org/bom") {
        Some(Role::Sbom)
    } else {
        None
    }
}

/// Whether a policy's required predicate type is met by `actual`: equal, or `actual` is a
/// version below it (`https://spdx.dev/Document` is met by `.../Document/v2.3`).
pub(crate) fn satisfies(actual: &str, required: &str) -> bool {
    actual == required
        || actual
            .strip_prefix(required)
            .is_some_and(|r| r.starts_with('/'))
}

/// The image as attestations see it: its digests and its packages by `<nevra>.rpm`.
pub(crate) struct ImageView<'a> {
    pub(crate) facts: &'a ImageFacts<'a>,
    /// Computed on first use: the directory digest hashes every file of the image, and
    /// only image statements about a directory need it.
    rootfs: std::sync::OnceLock<Option<String>>,
    rootfs_fn: Option<&'a super::RootfsFn<'a>>,
    manifest: Option<String>,
    /// `<nevra>.rpm` -> indexes into the inventory's packages.
    by_rpm_name: HashMap<String, Vec<usize>>,
    /// Per package: the digest of its header as installed (see [`header_digest`]).
    headers: Vec<Option<String>>,
}

/// The SHA-256 of the package's signed header region as installed: our own computation
/// when sbom made one (it does when the stored SHA256HEADER is absent or disagrees),
/// else the stored value. A header edited in place therefore no longer matches what was
/// attested, whatever its SHA256HEADER tag says.
pub(crate) fn header_digest(p: &sbom::package::Package) -> Option<String> {
    p.computed_sha256_header
        .as_deref()
        .or(p.sha256_header.as_deref())
        .map(str::to_ascii_lowercase)
}

impl<'a> ImageView<'a> {
    pub(crate) fn new(
        facts: &'a ImageFacts<'a>,
        rootfs_fn: Option<&'a super::RootfsFn<'a>>,
    ) -> Self {
        let mut by_rpm_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut headers = Vec::with_capacity(facts.inventory.packages.len());
        for (i, p) in facts.inventory.packages.iter().enumerate() {
            by_rpm_name
                .entry(format!("{}.rpm", p.nevra()))
                .or_default()
                .push(i);
            headers.push(header_digest(p));
        }
        Self {
            facts,
            rootfs: std::sync::OnceLock::new(),
            rootfs_fn,
            manifest: facts
                .manifest_digest
                .as_deref()
                .and_then(|d| d.strip_prefix("sha256:"))
                .map(str::to_ascii_lowercase),
            by_rpm_name,
            headers,
        }
    }

    /// The root-filesystem digest (lower-case hex), when the image is a directory.
    pub(crate) fn rootfs(&self) -> Option<&str> {
        self.rootfs
            .get_or_init(|| {
                self.facts
                    .rootfs_digest
                    .clone()
                    .or_else(|| self.rootfs_fn.and_then(|f| f()))
                    .map(|d| d.to_ascii_lowercase())
            })
            .as_deref()
    }

    /// The installed packages (index, header digest) named `<nevra>.rpm`.
    pub(crate) fn packages_named(
        &self,
        rpm_name: &str,
    ) -> impl Iterator<Item = (usize, Option<&str>)> {
        self.by_rpm_name
            .get(rpm_name)
            .into_iter()
            .flatten()
            .map(|&i| (i, self.headers[i].as_deref()))
    }

    /// Every installed package as (`<nevra>.rpm`, header digest).
    pub(crate) fn installed(&self) -> impl Iterator<Item = (String, Option<&str>)> {
        self.facts
            .inventory
            .packages
            .iter()
            .zip(&self.headers)
            .map(|(p, h)| (format!("{}.rpm", p.nevra()), h.as_deref()))
    }
}

/// What the statement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum About {
    Image,
    Package,
}

/// Package statements: build type rpm/v1, or any subject with an RPM header digest.
pub(crate) fn about(head: &Head, build_type: Option<&str>) -> About {
    if build_type == Some(BUILD_TYPE_RPM)
        || head
            .subjects
            .iter()
            .any(|s| s.digest.get(RPM_HEADER_DIGEST_KEY).is_some())
    {
        About::Package
    } else {
        About::Image
    }
}

/// The outcome of the subject check: `Ok(reason)` or `Err((kind, reason))`.
pub(crate) type SubjectResult = Result<String, (&'static str, String)>;

fn subject_name(s: &Descriptor) -> String {
    s.name.clone().unwrap_or_else(|| "(unnamed)".into())
}

/// `attestation.subject` for an image statement: at least one subject whose digests we
/// can compare all equal the image's, and at least one was compared.
pub(crate) fn check_image(head: &Head, img: &ImageView) -> SubjectResult {
    let mut compared_any = false;
    let mut first_mismatch: Option<String> = None;
    for s in &head.subjects {
        let mut compared = 0;
        let mut mismatch = None;
        let pairs = [
            (attest::rootfs::DIGEST_KEY, img.rootfs()),
            ("sha256", img.manifest.as_deref()),
        ];
        for (key, ours) in pairs {
            if let (Some(theirs), Some(ours)) = (s.digest.get(key), ours) {
                compared += 1;
                if theirs != ours {
                    mismatch.get_or_insert(format!(
                        "subject {:?}: {key} {theirs} is not the image's {ours}",
                        subject_name(s)
                    ));
                }
            }
        }
        compared_any |= compared > 0;
        match mismatch {
            None if compared > 0 => {
                let keys: Vec<&str> = pairs
                    .iter()
                    .filter(|(k, o)| o.is_some() && s.digest.get(k).is_some())
                    .map(|(k, _)| *k)
                    .collect();
                return Ok(format!(
                    "subject {:?} matches the image ({})",
                    subject_name(s),
                    keys.join(", ")
                ));
            }
            Some(m) => {
                first_mismatch.get_or_insert(m);
            }
            None => {}
        }
    }
    if let Some(m) = first_mismatch {
        return Err(("subject-mismatch", m));
    }
    debug_assert!(!compared_any);
    let have: Vec<&str> = [
        img.rootfs()
            .map(|_| "rootfsSha256 (root filesystem digest)"),
        img.manifest
            .as_ref()
            .map(|_| "sha256 (OCI manifest digest)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let theirs: Vec<String> = head
        .subjects
        .iter()
        .map(|s| {
            let keys: Vec<&str> = s.digest.0.keys().map(String::as_str).collect();
            format!("{:?} [{}]", subject_name(s), keys.join(", "))
        })
        .collect();
    Err((
        "uncheckable-subject",
        format!(
            "no subject digest can be compared with the image: the subjects carry {}; the \
             image has {}",
            theirs.join("; "),
            if have.is_empty() {
                "no digest to compare (neither a root filesystem digest nor a manifest digest)"
                    .to_string()
            } else {
                have.join(" and ")
            }
        ),
    ))
}

/// `attestation.subject` for a package statement: at least one subject is an installed
/// package (same `<nevra>.rpm`, same header digest), and no subject names an installed
/// package with another header digest.
/// `attestation.subject` for a package statement; on success, also the indices of the
/// installed packages it is about.
pub(crate) fn check_package(
    head: &Head,
    img: &ImageView,
) -> Result<(String, Vec<usize>), (&'static str, String)> {
    let mut matched: Vec<String> = Vec::new();
    let mut indices: Vec<usize> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut uncheckable: Vec<String> = Vec::new();
    for s in &head.subjects {
        let name = subject_name(s);
        let installed: Vec<(usize, Option<&str>)> = img.packages_named(&name).collect();
        if installed.is_empty() {
            unknown.push(name);
            continue;
        }
        let Some(theirs) = s.digest.get(RPM_HEADER_DIGEST_KEY) else {
            uncheckable.push(name);
            continue;
        };
        if let Some((i, _)) = installed.iter().find(|(_, h)| *h == Some(theirs)) {
            indices.push(*i);
            matched.push(name);
        } else {
            let ours: Vec<&str> = installed.iter().map(|(_, h)| h.unwrap_or("none")).collect();
            return Err((
                "subject-mismatch",
                format!(
                    "subject {name:?}: {RPM_HEADER_DIGEST_KEY} {theirs} is not the installed \
                     header's {}",
                    ours.join(" or ")
                ),
            ));
        }
    }
    if !matched.is_empty() {
        let reason = format!(
            "{} matches the installed header ({RPM_HEADER_DIGEST_KEY})",
            matched.join(", ")
        );
        return Ok((reason, indices));
    }
    if !uncheckable.is_empty() {
        return Err((
            "uncheckable-subject",
            format!(
                "{} is installed, but the subject has no {RPM_HEADER_DIGEST_KEY} to compare",
                uncheckable.join(", ")
            ),
        ));
    }
    Err((
        "unknown-package",
        format!("no installed package is named {}", unknown.join(" or ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn heads_are_strict() {
        let ok = format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"a","digest":{{"sha256":"{}"}}}}],"predicateType":"p","predicate":{{"x":[1]}}}}"#,
            hex('a')
        );
        let h = parse_head(ok.as_bytes()).unwrap();
        assert_eq!(h.predicate_type, "p");
        assert_eq!(h.subjects[0].digest.get("sha256"), Some(hex('a').as_str()));
        let bad = [
            ok.replace(STATEMENT_V1, "https://in-toto.io/Statement/v0.1"),
            ok.replace(r#""predicate":"#, r#""extra":1,"predicate":"#),
            ok.replace(r#""name":"a","#, r#""name":"a","nick":"b","#),
            ok.replace(&hex('a'), &hex('A')),
            ok.replace(&hex('a'), "abc"),
            ok.replace(
                &format!(r#""sha256":"{}""#, hex('a')),
                &format!(r#""sha256":"{}","sha256":"{}""#, hex('a'), hex('b')),
            ),
            ok.replace(&format!(r#"{{"sha256":"{}"}}"#, hex('a')), "{}"),
            ok.replace(r#""subject":[{"#, r#""subject":[],"x":[{"#),
            ok.replace(
                r#""predicateType":"p","#,
                r#""predicateType":"p","predicateType":"q","#,
            ),
        ];
        for b in bad {
            assert!(parse_head(b.as_bytes()).is_err(), "{b}");
        }
    }

    #[test]
    fn roles_and_required_families() {
        assert_eq!(
            role_of("https://slsa.dev/provenance/v1"),
            Some(Role::Provenance)
        );
        assert_eq!(role_of("https://spdx.dev/Document/v2.3"), Some(Role::Sbom));
        assert_eq!(role_of("https://spdx.dev/Document"), Some(Role::Sbom));
        assert_eq!(role_of("https://cyclonedx.org/bom/v1.6"), Some(Role::Sbom));
        assert_eq!(role_of("https://spdx.dev/Documents"), None);
        assert_eq!(role_of("https://example.com/vuln"), None);
        assert!(satisfies(
            "https://spdx.dev/Document/v2.3",
            "https://spdx.dev/Document"
        ));
        assert!(satisfies(
            "https://slsa.dev/provenance/v1",
            "https://slsa.dev/provenance/v1"
        ));
        assert!(!satisfies(
            "https://slsa.dev/provenance/v1.1",
            "https://slsa.dev/provenance/v1"
        ));
    }
}
