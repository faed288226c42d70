//! What the three writers share: one pass over the inventory that derives every identifier,
//! license classification, grouping and RPM property the documents need, so that SPDX 2.3,
//! SPDX 3.0 and CycloneDX say the same things in the same order.
//!
//! Invariants:
//! - Identifiers depend on content only: the content digest hashes the distro, the
//!   database's place in the image, each package's NEVRA, row and header digest, the keys
//!   and the dependency graph, never the scan path or the clock. The creation time is left
//!   out on purpose: two scans of the same image get the same document identity.
//! - Every per-package identifier (`slugs`, `bom_refs`) is unique within a document, and is
//!   built only from `[A-Za-z0-9.-]`, so it is valid in an SPDX 2.3 `SPDXRef-`, in an IRI
//!   path segment and in a CycloneDX `bom-ref`.
//! - Nothing here reads a `HashMap` in iteration order; maps are only used for look-ups.
//!
//! RPM header data that no standard field holds is carried as name/value *properties*
//! (`super::props`), which the model computes once per package.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Display;
use std::io::{self, Write};

use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::props::{drift_file_line, key_summary, package_properties, unowned_line, Escaped, Prop};
use crate::drift::PackageStatus;
use crate::format::DocumentInfo;
use crate::image::tree::Kind;
use crate::inventory::Inventory;
use crate::license::{self, License};
use crate::package::{Dependency, DigestAlgo, FileEntry, Package};

/// RFC 4122 namespace for URL-named v5 UUIDs (`6ba7b811-9dad-11d1-80b4-00c04fd430c8`).
const UUID_NS_URL: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// A source RPM named by one or more installed packages' SOURCERPM tag. Not installed
/// itself: the writers describe it, never list it as part of the image.
#[derive(Debug, Clone)]
pub struct SourceRpm<'a> {
    /// The SOURCERPM value, e.g. `glibc-2.38-1.azl3.src.rpm`.
    pub filename: &'a str,
    /// Name, version and release parsed from `filename` (`None` when it does not have the
    /// `name-version-release.src.rpm` shape). The epoch is unknown: a file name has none.
    pub nvr: Option<(&'a str, &'a str, &'a str)>,
    /// `version-release` as the file name spells it, when `nvr` is known.
    pub version_release: Option<&'a str>,
    /// `pkg:rpm/<distro>/<name>@<version>-<release>?arch=src&distro=...` when `nvr` is known.
    pub purl: Option<String>,
    pub slug: String,
    /// Indices into `inv.packages` of the binaries built from it, in inventory order.
    pub binaries: Vec<usize>,
}

/// Everything the writers derive from an inventory, computed once.
pub struct Model<'a> {
    pub inv: &'a Inventory,
    pub info: &'a DocumentInfo,
    /// `created` as RFC 3339.
    pub created: String,
    /// `<tool_name>-<tool_version>`.
    pub tool: String,
    /// Per package: `[epoch:]version-release`.
    pub evrs: Vec<String>,
    /// Per package: its purl (`purl::for_package` with the inventory's distro).
    pub purls: Vec<String>,
    /// Per package: unique identifier fragment, `[A-Za-z0-9.-]+`.
    pub slugs: Vec<String>,
    /// Per package: unique CycloneDX bom-ref (the purl, suffixed on a duplicate).
    pub bom_refs: Vec<String>,
    /// Per package: the declared license.
    pub licenses: Vec<License>,
    /// Per package: packages it depends on (indices, ascending).
    pub deps: Vec<Vec<usize>>,
    /// Per package: requirements nothing installed provides.
    pub unresolved: Vec<Vec<&'a Dependency>>,
    /// Per package: index into `sources`.
    pub source_of: Vec<Option<usize>>,
    /// Distinct source RPMs, by file name.
    pub sources: Vec<SourceRpm<'a>>,
    /// Non-SPDX licenses, by `LicenseRef-` id: the original RPM string.
    pub license_refs: BTreeMap<String, String>,
    /// SHA-256 over the content that identifies the document (see the module invariants).
    pub content_digest: [u8; 32],
    /// The operating system the image holds.
    pub os: OsInfo<'a>,
}

/// The synthetic root element: the operating system of the image.
#[derive(Debug, Clone)]
pub struct OsInfo<'a> {
    /// os-release NAME (`Azure Linux`), or a fixed placeholder without os-release.
    pub name: &'a str,
    /// PRETTY_NAME, else `NAME VERSION_ID`.
    pub pretty: String,
    /// os-release `ID` (`azurelinux`), when there is an os-release.
    pub id: Option<&'a str>,
    pub version: Option<&'a str>,
    pub cpe: Option<&'a str>,
    pub home_url: Option<&'a str>,
    /// `[A-Za-z0-9.-]+`, e.g. `azurelinux-4.0`.
    pub slug: String,
}

impl<'a> Model<'a> {
    pub fn new(inv: &'a Inventory, info: &'a DocumentInfo) -> Self {
        let n = inv.packages.len();
        let distro = inv.distro.as_ref();
        let evrs: Vec<String> = inv.packages.iter().map(Package::evr).collect();
        let purls: Vec<String> = inv
            .packages
            .iter()
            .map(|p| crate::purl::for_package(p, distro))
            .collect();

        let mut used = Unique::default();
        let slugs: Vec<String> = inv
            .packages
            .iter()
            .map(|p| unique(&mut used, id_slug(&p.nevra()), p.db_row))
            .collect();

        let mut used_refs = Unique::default();
        let bom_refs = inv
            .packages
            .iter()
            .zip(&purls)
            .map(|(p, purl)| {
                if used_refs.claim(purl) {
                    return purl.clone();
                }
                // Same NEVRA twice in one database: tell the rows apart.
                let r = format!("{purl}#rpmdb-row-{}", p.db_row);
                if used_refs.claim(&r) {
                    return r;
                }
                used_refs.suffixed(&r, 1)
            })
            .collect();

        let mut cache: HashMap<&str, License> = HashMap::new();
        let mut license_refs = BTreeMap::new();
        let mut ref_ids = Unique::default();
        let licenses: Vec<License> = inv
            .packages
            .iter()
            .map(|p| {
                cache
                    .entry(p.license.as_str())
                    .or_insert_with(|| {
                        declare_license(
                            license::classify(&p.license),
                            &mut ref_ids,
                            &mut license_refs,
                        )
                    })
                    .clone()
            })
            .collect();

        let mut deps = vec![Vec::new(); n];
        for &(a, b) in &inv.depends_on {
            if a < n && b < n && a != b {
                deps[a].push(b);
            }
        }
        for d in &mut deps {
            d.sort_unstable();
            d.dedup();
        }
        let mut unresolved = vec![Vec::new(); n];
        for u in &inv.unresolved {
            if u.package < n {
                unresolved[u.package].push(&u.requirement);
            }
        }

        let mut source_of = vec![None; n];
        let mut sources = Vec::new();
        let mut used_src = Unique::default();
        for (filename, binaries) in inv.source_rpms() {
            let idx = sources.len();
            for &b in &binaries {
                source_of[b] = Some(idx);
            }
            let nvr = parse_srpm_name(filename);
            let purl = nvr.map(|(name, version, release)| {
                crate::purl::for_package(&source_package(name, version, release), distro)
            });
            let base = match nvr {
                Some((name, version, release)) => {
                    id_slug(&format!("{name}-{version}-{release}.src"))
                }
                None => id_slug(filename),
            };
            let slug = unique(&mut used_src, base, idx as u32);
            let version_release =
                nvr.and_then(|(name, ..)| srpm_stem(filename)?.get(name.len() + 1..));
            sources.push(SourceRpm {
                filename,
                nvr,
                version_release,
                purl,
                slug,
                binaries,
            });
        }

        let os = OsInfo::new(inv);
        let content_digest = content_digest(inv, info);
        Model {
            inv,
            info,
            created: info.created_rfc3339(),
            tool: format!("{}-{}", info.tool_name, info.tool_version),
            evrs,
            purls,
            slugs,
            bom_refs,
            licenses,
            deps,
            unresolved,
            source_of,
            sources,
            license_refs,
            content_digest,
            os,
        }
    }

    /// A v5 UUID (RFC 4122, SHA-1, URL namespace) named
    /// `urn:<tool_name>:<label>:<content digest hex>`: stable for the same content and
    /// format, different across formats and content.
    pub fn document_uuid(&self, label: &str) -> String {
        let name = format!(
            "urn:{}:{label}:{}",
            self.info.tool_name,
            hex::encode(self.content_digest)
        );
        uuid_v5(&UUID_NS_URL, name.as_bytes())
    }

    /// The RPM properties of package `i` (see [`package_properties`]).
    pub fn properties(&self, i: usize) -> Vec<Prop<'a>> {
        let mut v = package_properties(&self.inv.packages[i], &self.unresolved[i]);
        if let Some(d) = self.inv.drift.as_ref().and_then(|d| d.packages.get(i)) {
            v.push(Prop::new("drift", d.status.name()));
            for f in &d.files {
                v.push(Prop::new(
                    "drift_file",
                    drift_file_line(&self.inv.packages[i], f),
                ));
            }
        }
        v
    }

    /// The image-level properties: where the database was found, the image digests, and
    /// one `imported_key` per `gpg-pubkey` header (keys are not software, so they are
    /// reported here and never as packages).
    pub fn document_properties(&self) -> Vec<Prop<'a>> {
        let src = &self.inv.source;
        let mut v = vec![
            Prop::new("rpmdb_path", src.rpmdb_path.as_str()),
            Prop::new("rpmdb_format", src.rpmdb_format.name()),
        ];
        if let Some(d) = &src.manifest_digest {
            v.push(Prop::new("image_manifest_digest", d.as_str()));
        }
        if let Some(d) = &src.config_digest {
            v.push(Prop::new("image_config_digest", d.as_str()));
        }
        if let Some(p) = &src.platform {
            v.push(Prop::new("image_platform", p.as_str()));
        }
        for l in &src.layers {
            v.push(Prop::new("image_layer", l.as_str()));
        }
        for l in &src.escaping_links {
            v.push(Prop::new(
                "escaping_symlink",
                format!("/{} -> {}", Escaped(&l.path), Escaped(&l.target)),
            ));
        }
        if self.inv.distro.is_none() {
            v.push(Prop::new("os_release", "absent"));
        }
        if let Some(d) = &self.inv.drift {
            let count = |s| {
                d.packages
                    .iter()
                    .filter(|p| p.status == s)
                    .count()
                    .to_string()
            };
            v.push(Prop::new(
                "drift_packages_intact",
                count(PackageStatus::Intact),
            ));
            v.push(Prop::new(
                "drift_packages_modified",
                count(PackageStatus::Modified),
            ));
            v.push(Prop::new(
                "drift_packages_config_changed",
                count(PackageStatus::ConfigChanged),
            ));
            v.push(Prop::new(
                "drift_unowned_files",
                d.unowned.len().to_string(),
            ));
            for u in d.unowned.iter().filter(|u| u.kind != Kind::File) {
                v.push(Prop::new("drift_unowned_entry", unowned_line(u)));
            }
        }
        for k in &self.inv.keys {
            v.push(Prop::new("imported_key", key_summary(k)));
        }
        v
    }
}

impl<'a> OsInfo<'a> {
    fn new(inv: &'a Inventory) -> Self {
        match &inv.distro {
            Some(d) => {
                let pretty = d
                    .pretty_name
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| match &d.version_id {
                        Some(v) => format!("{} {v}", d.name),
                        None => d.name.clone(),
                    });
                OsInfo {
                    name: d.name.as_str(),
                    pretty,
                    id: Some(d.id.as_str()),
                    version: d.version_id.as_deref(),
                    cpe: d.cpe_name.as_deref(),
                    home_url: d.home_url.as_deref(),
                    slug: id_slug(&d.purl_distro()),
                }
            }
            None => OsInfo {
                name: "unidentified operating system",
                pretty: "unidentified operating system".to_owned(),
                id: None,
                version: None,
                cpe: None,
                home_url: None,
                slug: "unidentified".to_owned(),
            },
        }
    }
}

/// Lower-case name of a digest algorithm as SPDX 3 `HashAlgorithm` spells it.
pub fn spdx3_hash_algo(a: DigestAlgo) -> &'static str {
    match a {
        DigestAlgo::Md5 => "md5",
        DigestAlgo::Sha1 => "sha1",
        DigestAlgo::Sha224 => "sha224",
        DigestAlgo::Sha256 => "sha256",
        DigestAlgo::Sha384 => "sha384",
        DigestAlgo::Sha512 => "sha512",
    }
}

/// CycloneDX 1.6 `hash-alg` name; `None` for SHA-224, which the enumeration lacks.
pub fn cdx_hash_algo(a: DigestAlgo) -> Option<&'static str> {
    Some(match a {
        DigestAlgo::Md5 => "MD5",
        DigestAlgo::Sha1 => "SHA-1",
        DigestAlgo::Sha224 => return None,
        DigestAlgo::Sha256 => "SHA-256",
        DigestAlgo::Sha384 => "SHA-384",
        DigestAlgo::Sha512 => "SHA-512",
    })
}

/// The digest of a file when it is a well-formed hex digest of the package's algorithm.
pub fn file_digest<'f>(p: &Package, f: &'f FileEntry) -> Option<&'f str> {
    let d = f.digest.as_deref()?;
    (d.len() == p.file_digest_algo.hex_len() && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(d)
}

/// `s` when it is a plain `http`, `https` or `ftp` URL with a DNS host name (letters,
/// digits, `-`, dots, an alphabetic top-level label), no user info, no white space and
/// none of the characters RFC 3986 forbids: `%` only as `%XX` with two hex digits, `[`
/// and `]` nowhere (they belong only around an IP-literal host, which is not a DNS name),
/// at most one `#`. Everything SPDX 2.3 (`homepage`), SPDX 3 (`anyURI`) and CycloneDX
/// (`iri-reference`) accept; anything else stays a property.
pub fn web_url(s: &str) -> Option<&str> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .or_else(|| s.strip_prefix("ftp://"))?;
    if s.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || !c.is_ascii()
            || matches!(
                c,
                '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}' | '[' | ']'
            )
    }) {
        return None;
    }
    if s.matches('#').count() > 1 {
        return None;
    }
    let b = s.as_bytes();
    let bad_escape = b.iter().enumerate().any(|(i, &c)| {
        c == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if bad_escape {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains('@') {
        return None;
    }
    let host = match authority.rsplit_once(':') {
        Some((h, port))
            if (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        Some(_) => return None,
        None => authority,
    };
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    for l in &labels {
        if l.is_empty()
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
    }
    let tld = labels[labels.len() - 1];
    (tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())).then_some(s)
}

/// Which CPE binding `s` is, when it is a well-formed one: `"cpe22"` for a CPE 2.2 URI
/// (`cpe:/o:fedoraproject:fedora:40`), `"cpe23"` for a CPE 2.3 formatted string.
pub fn cpe_kind(s: &str) -> Option<&'static str> {
    if let Some(rest) = s.strip_prefix("cpe:/") {
        // cpe:/[aho]?(:[A-Za-z0-9._\-~%]*){0,6}
        let rest = rest
            .strip_prefix(['a', 'h', 'o', 'A', 'H', 'O'])
            .unwrap_or(rest);
        if rest.is_empty() {
            return Some("cpe22");
        }
        let rest = rest.strip_prefix(':')?;
        let parts: Vec<&str> = rest.split(':').collect();
        let ok = parts.len() <= 6
            && parts.iter().all(|p| {
                p.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'~' | b'%')
                })
            });
        return ok.then_some("cpe22");
    }
    let rest = s.strip_prefix("cpe:2.3:")?;
    // part, then vendor..other (10 components), split on unescaped ':'.
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                cur.push(chars.next()?);
            }
            ':' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    if parts.len() != 11 || !matches!(parts[0].as_str(), "a" | "h" | "o" | "*" | "-") {
        return None;
    }
    let component_ok = |p: &str| {
        if p == "*" || p == "-" {
            return true;
        }
        let body = p
            .trim_start_matches(['*', '?'])
            .trim_end_matches(['*', '?']);
        let mut cs = body.chars();
        let mut n = 0;
        while let Some(c) = cs.next() {
            n += 1;
            if c == '\\' {
                match cs.next() {
                    Some(e) if e.is_ascii_punctuation() => {}
                    _ => return false,
                }
            } else if !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
                return false;
            }
        }
        n > 0
    };
    let lang_ok = |p: &str| {
        if p == "*" || p == "-" {
            return true;
        }
        let (l, region) = match p.split_once('-') {
            Some((l, r)) => (l, Some(r)),
            None => (p, None),
        };
        (2..=3).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphabetic())
            && region.is_none_or(|r| {
                (r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
                    || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    let ok = parts[1..6].iter().all(|p| component_ok(p))
        && lang_ok(&parts[6])
        && parts[7..].iter().all(|p| component_ok(p));
    ok.then_some("cpe23")
}

/// Maps `raw` to `[A-Za-z0-9.-]+`. `:` (the epoch separator) and `_` (as in `x86_64`)
/// become `-`; when any other character had to be replaced, 8 hex digits of SHA-256 of
/// `raw` are appended, so different inputs stay apart (`a+b` and `a~b` do not both become
/// `a-b`). The rare collisions left (`a_b` vs `a-b`) are resolved by the callers' uniqueness
/// pass.
pub fn id_slug(raw: &str) -> String {
    let mut s = String::with_capacity(raw.len() + 9);
    let mut lossy = false;
    for c in raw.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '-' => s.push(c),
            ':' | '_' => s.push('-'),
            _ => {
                s.push('-');
                lossy = true;
            }
        }
    }
    if lossy || s.is_empty() {
        let d = Sha256::digest(raw.as_bytes());
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(&hex::encode(&d[..4]));
    }
    s
}

/// `base`, or on collision `base-row<row>` (then `-2`, `-3`, ...): unique within `used`.
fn unique(used: &mut Unique, base: String, row: u32) -> String {
    if used.claim(&base) {
        return base;
    }
    let cand = format!("{base}-row{row}");
    if used.claim(&cand) {
        return cand;
    }
    used.suffixed(&cand, 2)
}

/// A set of identifiers handed out within one namespace. On a collision, `suffixed`
/// continues where the last search for the same prefix stopped: every candidate it
/// skipped was taken then and still is (ids are never released), so the result is the
/// one a search from the start would find, and 20,000 packages with the same NEVRA (a
/// hostile database) cost 20,000 probes, not 20,000²/2.
#[derive(Default)]
pub(crate) struct Unique {
    used: HashSet<String>,
    next: HashMap<String, u64>,
}

impl Unique {
    /// Marks `id` as used; false when it already was.
    pub(crate) fn claim(&mut self, id: &str) -> bool {
        !self.used.contains(id) && self.used.insert(id.to_owned())
    }

    /// The first `<prefix>-<k>`, `k` counting from `first`, that is not used yet, now used.
    pub(crate) fn suffixed(&mut self, prefix: &str, first: u64) -> String {
        let mut k = self.next.get(prefix).copied().unwrap_or(first);
        let id = loop {
            let cand = format!("{prefix}-{k}");
            k += 1;
            if self.claim(&cand) {
                break cand;
            }
        };
        self.next.insert(prefix.to_owned(), k);
        id
    }
}

/// Declares a non-SPDX license in `refs` (id -> original text). `classify` derives the id
/// from the text alone; should it give an id that is already declared with a different
/// text (a collision of its digest suffix, or texts that differ only in surrounding white
/// space), the later text gets `<id>-2` (`-3`, ...), so no package's text is ever lost.
/// Callers pass each distinct License string once.
fn declare_license(l: License, ids: &mut Unique, refs: &mut BTreeMap<String, String>) -> License {
    let License::Other { id, text } = l else {
        return l;
    };
    if let Some(known) = refs.get(&id) {
        if *known == text {
            return License::Other { id, text };
        }
    }
    let id = if ids.claim(&id) {
        id
    } else {
        ids.suffixed(&id, 2)
    };
    refs.insert(id.clone(), text.clone());
    License::Other { id, text }
}

/// `name-version-release` of `name-version-release.src.rpm` (or `.nosrc.rpm`).
fn srpm_stem(filename: &str) -> Option<&str> {
    filename
        .strip_suffix(".src.rpm")
        .or_else(|| filename.strip_suffix(".nosrc.rpm"))
}

/// `name-version-release.src.rpm` (or `.nosrc.rpm`) -> (name, version, release).
pub fn parse_srpm_name(filename: &str) -> Option<(&str, &str, &str)> {
    let stem = srpm_stem(filename)?;
    let (nv, release) = stem.rsplit_once('-')?;
    let (name, version) = nv.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty() && !release.is_empty())
        .then_some((name, version, release))
}

/// A `Package` carrying only what a source RPM's file name says, for `purl::for_package`.
fn source_package(name: &str, version: &str, release: &str) -> Package {
    bare_package(name, version, release, "src", None)
}

fn bare_package(
    name: &str,
    version: &str,
    release: &str,
    arch: &str,
    build_time: Option<u32>,
) -> Package {
    Package {
        name: name.to_owned(),
        version: version.to_owned(),
        release: release.to_owned(),
        arch: arch.to_owned(),
        build_time,
        ..Package::default()
    }
}

/// SHA-256 over the content that identifies a document (see the module invariants).
/// Each package counts by NEVRA, row and header digest: the SHA-256 header digest covers
/// every tag of the immutable header (files, digests, dependencies, license, ...). A header
/// with no digest at all counts by its full serialization instead.
fn content_digest(inv: &Inventory, info: &DocumentInfo) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    field("fedora-attest-sbom-content-v1");
    field(&info.tool_name);
    field(&info.tool_version);
    field(if info.include_files {
        "files"
    } else {
        "no-files"
    });
    if let Some(d) = &inv.distro {
        field(&d.id);
        field(d.version_id.as_deref().unwrap_or(""));
        field(&d.name);
        field(d.pretty_name.as_deref().unwrap_or(""));
        field(d.cpe_name.as_deref().unwrap_or(""));
        field(d.home_url.as_deref().unwrap_or(""));
        field(d.variant_id.as_deref().unwrap_or(""));
    } else {
        field("no-distro");
    }
    let src = &inv.source;
    field(&src.rpmdb_path);
    field(src.rpmdb_format.name());
    field(src.manifest_digest.as_deref().unwrap_or(""));
    field(src.config_digest.as_deref().unwrap_or(""));
    for p in &inv.packages {
        field(&p.nevra());
        field(&p.db_row.to_string());
        let id = p
            .sha256_header
            .as_deref()
            .or(p.computed_sha256_header.as_deref())
            .or(p.sha1_header.as_deref())
            .or(p.sigmd5.as_deref());
        match id {
            Some(d) => {
                field(d);
                // A stored digest that disagrees with the header is content too.
                field(p.computed_sha256_header.as_deref().unwrap_or(""));
            }
            None => field(&serde_json::to_string(p).unwrap_or_default()),
        }
    }
    for k in &inv.keys {
        field(&k.short_id);
        field(&k.created_hex);
        field(&k.summary);
        field(&k.db_row.to_string());
    }
    for (a, b) in &inv.depends_on {
        field(&format!("{a}>{b}"));
    }
    for u in &inv.unresolved {
        field(&format!("{}?{}", u.package, u.requirement.display()));
    }
    // Drift is content too: the same image with a changed file is a different document.
    if let Some(d) = &inv.drift {
        field("drift");
        for (i, p) in d.packages.iter().enumerate() {
            for f in &p.files {
                field(&format!("{i}:{}", drift_file_line(&inv.packages[i], f)));
            }
        }
        for u in &d.unowned {
            field(&u.path);
            field(u.sha256.as_deref().unwrap_or(""));
            field(&unowned_line(u));
        }
    }
    h.finalize().into()
}

/// RFC 4122 version-5 UUID of `name` in `namespace`, lower-case hyphenated.
pub fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(namespace);
    h.update(name);
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// Serializes `doc` as compact JSON to `out` through a buffer, with a final newline.
/// Compact, not pretty: with 200,000 file entries indentation alone would add a third to
/// the size and the time; `jq .` pretty-prints when a human reads one.
pub fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, doc: &T) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer(&mut w, doc).map_err(io::Error::from)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// Serializes the items of an iterator as a JSON array without collecting them. The
/// iterator is cloned, so serializing twice gives the same output.
pub struct SeqOf<I>(pub I);

impl<I> Serialize for SeqOf<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// Serializes a `Display` value as a JSON string without an intermediate `String`.
pub struct Str<T>(pub T);

impl<T: Display> Serialize for Str<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[cfg(test)]
#[path = "common_tests.rs"]
mod tests;
