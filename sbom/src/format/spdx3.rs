//! SPDX 3.0.1 JSON-LD.
//!
//! One `@graph` holding, in this order: the `CreationInfo` (blank node `_:creationinfo`),
//! the creating `SoftwareAgent` and the `Tool` (this program: there is no person or
//! organization to name), the `SpdxDocument` (root: the SBOM), the `software_Sbom`
//! (`sbomType: analyzed`, root: the operating system), one `Organization` per distinct
//! RPM vendor, the operating-system package (`primaryPurpose: operatingSystem`), one
//! `software_Package` per installed RPM, one per source RPM (`primaryPurpose: source`),
//! the license elements, the files, the relationships and the document annotation.
//!
//! - Every `spdxId` is an IRI under `https://spdx.org/spdxdocs/<tool>-<uuid>`, the UUID
//!   being a v5 UUID of the content digest (see `common`), never the scan path. Packages
//!   are `<base>/package/<NEVRA slug>`; files `<base>/file/<package index>/<file index>`.
//! - Packages: `software_packageVersion` is `[epoch:]version-release`,
//!   `software_packageUrl` the purl, `suppliedBy` the vendor's `Organization`,
//!   `software_homePage` the URL when it is a plain web URL, `builtTime` BUILDTIME,
//!   `software_sourceInfo` names the source RPM. RPM header data without an SPDX 3 field
//!   (header digests, signatures and key ids, database row, unresolved requirements, ...)
//!   is an `extension_CdxPropertiesExtension` with the same `fedora-attest:rpm:<name>`
//!   properties the CycloneDX output has.
//! - Licenses: one `simplelicensing_LicenseExpression` per distinct License tag, linked by
//!   `hasDeclaredLicense`. A tag that is not a valid SPDX expression becomes the
//!   expression `LicenseRef-...`, whose `customIdToUri` points to a
//!   `simplelicensing_SimpleLicensingText` holding the original string. An empty tag
//!   gets no relationship (no assertion).
//! - Files: every entry rpm lists (regular files, directories as `fileKind: directory`,
//!   symlinks, ghosts) is a `software_File` named by its absolute path, with
//!   `verifiedUsing` a `Hash` of the RPM's digest algorithm when rpm stores a digest,
//!   `primaryPurpose` `configuration` for `%config` and `documentation` for `%doc`, and a
//!   `comment` with kind, mode, owner, size, flags and link target.
//! - Relationships: OS `contains` packages; each package `contains` its files; package
//!   `dependsOn` packages (`completeness: incomplete` when some requirement is
//!   unresolved); source RPM `generates` binaries; package `hasDeclaredLicense`. One
//!   Relationship per source element, with all targets in `to`.
//! - Drift (`--verify-files`): package properties `fedora-attest:rpm:drift[_file]`; files no
//!   package owns are `software_File`s (`<base>/unowned/<k>`, SHA-256 and SHA-1) that the
//!   operating system `contains`.
//! - Imported OpenPGP keys are not packages: they are lines of an `Annotation` on the
//!   document, next to where the database was found.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;

use super::common::{self, Model, SeqOf, Str, Unique};
use super::props::{self, FileAttrs, OneLine, PROP_PREFIX};
use super::spdx3_elements::*;
use crate::format::DocumentInfo;
use crate::inventory::Inventory;
use crate::license::License;
use crate::package::{FileEntry, Package};

const CONTEXT: &str = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";
const CI: &str = "_:creationinfo";
const DATA_LICENSE: &str = "CC0-1.0";

pub fn write(
    inv: &Inventory,
    info: &DocumentInfo,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let m = Model::new(inv, info);
    let ids = Ids::new(&m);
    let doc = Doc {
        context: CONTEXT,
        graph: Graph { m: &m, ids: &ids },
    };
    common::write_json(out, &doc)
}

#[derive(Serialize)]
struct Doc<'a> {
    #[serde(rename = "@context")]
    context: &'static str,
    #[serde(rename = "@graph")]
    graph: Graph<'a>,
}

/// Identifiers and groupings the graph needs, computed once.
struct Ids<'a> {
    base: String,
    agent: String,
    tool: String,
    document: String,
    sbom: String,
    os: String,
    packages: Vec<String>,
    sources: Vec<String>,
    /// Vendor -> Organization id, sorted by vendor.
    orgs: BTreeMap<&'a str, String>,
    /// License expression -> element id, sorted by expression.
    licenses: BTreeMap<&'a str, String>,
    /// LicenseRef id -> SimpleLicensingText id.
    license_texts: BTreeMap<&'a str, String>,
    doc_annotation: String,
    /// `<base>/unowned/<k>`: files no package owns (drift), `k` their index in the report.
    unowned: Vec<String>,
}

impl<'a> Ids<'a> {
    fn new(m: &'a Model<'a>) -> Self {
        // Kept short: every file's id repeats it three times.
        let base = format!(
            "https://spdx.org/spdxdocs/{}-{}",
            common::id_slug(&m.info.tool_name),
            m.document_uuid("spdx-3.0.1")
        );
        // Organizations share `<base>/agent/` with the creating SoftwareAgent: a vendor
        // named like this tool must not get the agent's id.
        let agent_slug = common::id_slug(&m.info.tool_name);
        let mut used = Unique::default();
        used.claim(&agent_slug);
        let mut orgs = BTreeMap::new();
        for p in &m.inv.packages {
            if let Some(v) = vendor(p) {
                orgs.entry(v).or_insert(());
            }
        }
        let orgs = orgs
            .into_keys()
            .map(|v| {
                (
                    v,
                    format!("{base}/agent/{}", unique(&mut used, common::id_slug(v))),
                )
            })
            .collect();
        let mut licenses: BTreeMap<&str, String> = BTreeMap::new();
        licenses.insert(DATA_LICENSE, String::new());
        for l in &m.licenses {
            if !matches!(l, License::None) {
                licenses.insert(l.spdx_value(), String::new());
            }
        }
        let mut used = Unique::default();
        for (expr, id) in licenses.iter_mut() {
            *id = format!(
                "{base}/license/{}",
                unique(&mut used, common::id_slug(expr))
            );
        }
        let license_texts = m
            .license_refs
            .keys()
            .map(|id| (id.as_str(), format!("{base}/licensetext/{id}")))
            .collect();
        Ids {
            agent: format!("{base}/agent/{agent_slug}"),
            tool: format!("{base}/tool/{}", common::id_slug(&m.tool)),
            document: format!("{base}/document"),
            sbom: format!("{base}/sbom"),
            os: format!("{base}/operating-system/{}", m.os.slug),
            packages: m
                .slugs
                .iter()
                .map(|s| format!("{base}/package/{s}"))
                .collect(),
            sources: m
                .sources
                .iter()
                .map(|s| format!("{base}/source-package/{}", s.slug))
                .collect(),
            doc_annotation: format!("{base}/annotation/document"),
            unowned: m
                .inv
                .drift
                .as_ref()
                .map(|d| {
                    (0..d.unowned.len())
                        .map(|k| format!("{base}/unowned/{k}"))
                        .collect()
                })
                .unwrap_or_default(),
            orgs,
            licenses,
            license_texts,
            base,
        }
    }

    fn file(&self, pkg: usize, j: usize) -> FileId<'_> {
        FileId {
            base: &self.base,
            pkg,
            j,
        }
    }

    fn rel(&self, from: &str, kind: &str) -> String {
        // `from` is one of our ids under `base`; the relationship lives beside it.
        let tail = from.strip_prefix(&self.base).unwrap_or(from);
        format!("{}/relationship{tail}/{kind}", self.base)
    }
}

/// `base`, or `base-2`, `base-3`, ...: unique within `used`.
fn unique(used: &mut Unique, base: String) -> String {
    if used.claim(&base) {
        return base;
    }
    used.suffixed(&base, 2)
}

fn vendor(p: &Package) -> Option<&str> {
    p.vendor.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `<base>/file/<package index>/<file index>`, written without allocating. Short on
/// purpose: a document may hold 200,000 of them, each written three times.
#[derive(Clone, Copy)]
pub(super) struct FileId<'a> {
    base: &'a str,
    pkg: usize,
    j: usize,
}

impl fmt::Display for FileId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/file/{}/{}", self.base, self.pkg, self.j)
    }
}

impl Serialize for FileId<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The whole `@graph`, streamed element by element.
struct Graph<'a> {
    m: &'a Model<'a>,
    ids: &'a Ids<'a>,
}

/// Every element id except the document's and the SBOM's own, in graph order.
struct ElementIds<'a>(&'a Graph<'a>);

impl Serialize for ElementIds<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (m, ids) = (self.0.m, self.0.ids);
        let mut seq = s.serialize_seq(None)?;
        seq.serialize_element(&ids.agent)?;
        seq.serialize_element(&ids.tool)?;
        for id in ids.orgs.values() {
            seq.serialize_element(id)?;
        }
        seq.serialize_element(&ids.os)?;
        for id in ids.packages.iter().chain(&ids.sources) {
            seq.serialize_element(id)?;
        }
        for id in ids.license_texts.values().chain(ids.licenses.values()) {
            seq.serialize_element(id)?;
        }
        if m.info.include_files {
            for (i, p) in m.inv.packages.iter().enumerate() {
                for j in 0..p.files.len() {
                    seq.serialize_element(&ids.file(i, j))?;
                }
            }
        }
        for id in &ids.unowned {
            seq.serialize_element(id)?;
        }
        for r in self.0.relationship_ids() {
            seq.serialize_element(&r)?;
        }
        seq.serialize_element(&ids.doc_annotation)?;
        seq.end()
    }
}

impl<'a> Graph<'a> {
    /// Relationship ids, in the order [`Graph::serialize`] writes the relationships.
    fn relationship_ids(&self) -> Vec<String> {
        let (m, ids) = (self.m, self.ids);
        let mut v = Vec::new();
        if !ids.packages.is_empty() {
            v.push(ids.rel(&ids.os, "contains"));
        }
        for (i, p) in m.inv.packages.iter().enumerate() {
            if m.info.include_files && !p.files.is_empty() {
                v.push(ids.rel(&ids.packages[i], "contains"));
            }
            if !m.deps[i].is_empty() {
                v.push(ids.rel(&ids.packages[i], "dependsOn"));
            }
            if !matches!(m.licenses[i], License::None) {
                v.push(ids.rel(&ids.packages[i], "hasDeclaredLicense"));
            }
        }
        for id in &ids.sources {
            v.push(ids.rel(id, "generates"));
        }
        if !ids.unowned.is_empty() {
            v.push(format!("{}/relationship/unowned/contains", ids.base));
        }
        v
    }
}

fn file_purpose(f: &FileEntry) -> Option<&'static str> {
    if f.is_config() {
        Some("configuration")
    } else if f.is_doc() {
        Some("documentation")
    } else {
        None
    }
}

impl Serialize for Graph<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (m, ids) = (self.m, self.ids);
        let inv = m.inv;
        let mut seq = s.serialize_seq(None)?;

        seq.serialize_element(&CreationInfo {
            ty: "CreationInfo",
            id: CI,
            spec_version: "3.0.1",
            created: &m.created,
            created_by: [&ids.agent],
            created_using: [&ids.tool],
        })?;
        seq.serialize_element(&Named {
            ty: "SoftwareAgent",
            spdx_id: &ids.agent,
            creation_info: CI,
            name: &m.info.tool_name,
        })?;
        seq.serialize_element(&Named {
            ty: "Tool",
            spdx_id: &ids.tool,
            creation_info: CI,
            name: &m.tool,
        })?;

        let profiles = ["core", "software", "simpleLicensing", "extension"];
        seq.serialize_element(&Collection {
            ty: "SpdxDocument",
            spdx_id: &ids.document,
            creation_info: CI,
            name: &m.os.pretty,
            data_license: Some(&ids.licenses[DATA_LICENSE]),
            sbom_type: None,
            profile_conformance: profiles,
            root_element: [&ids.sbom],
            element: [&ids.sbom],
        })?;
        seq.serialize_element(&Collection {
            ty: "software_Sbom",
            spdx_id: &ids.sbom,
            creation_info: CI,
            name: &m.os.pretty,
            data_license: None,
            sbom_type: Some(["analyzed"]),
            profile_conformance: profiles,
            root_element: [&ids.os],
            element: ElementIds(self),
        })?;

        for (v, id) in &ids.orgs {
            seq.serialize_element(&Named {
                ty: "Organization",
                spdx_id: id,
                creation_info: CI,
                name: v,
            })?;
        }

        // The operating system.
        let os_cpe = m.os.cpe.and_then(|c| common::cpe_kind(c).map(|k| (k, c)));
        seq.serialize_element(&SwPackage {
            ty: "software_Package",
            spdx_id: &ids.os,
            creation_info: CI,
            name: m.os.name,
            summary: Some(&m.os.pretty),
            comment: Some("The operating system of the scanned image, as its os-release names it; it contains every installed RPM package.".to_owned()),
            version: m.os.version,
            purl: None,
            home_page: m.os.home_url.and_then(common::web_url),
            primary_purpose: Some("operatingSystem"),
            source_info: None,
            supplied_by: None,
            built_time: None,
            external_identifier: os_cpe
                .map(|(k, c)| ExternalIdentifier { ty: "ExternalIdentifier", external_identifier_type: k, identifier: c })
                .into_iter()
                .collect(),
            extension: Vec::new(),
        })?;

        for (i, p) in inv.packages.iter().enumerate() {
            let props = m
                .properties(i)
                .into_iter()
                .map(|pr| PropertyEntry {
                    ty: "extension_CdxPropertyEntry",
                    name: pr.full_name(),
                    value: pr.value,
                })
                .collect();
            seq.serialize_element(&SwPackage {
                ty: "software_Package",
                spdx_id: &ids.packages[i],
                creation_info: CI,
                name: &p.name,
                summary: Some(p.summary.as_str()).filter(|s| !s.is_empty()),
                comment: None,
                version: Some(&m.evrs[i]),
                purl: Some(&m.purls[i]),
                home_page: p.url.as_deref().and_then(common::web_url),
                primary_purpose: None,
                source_info: p
                    .source_rpm
                    .as_deref()
                    .map(|s| format!("built from the source RPM {s}")),
                supplied_by: vendor(p).map(|v| ids.orgs[v].as_str()),
                built_time: p.build_time.map(|t| crate::format::rfc3339(i64::from(t))),
                external_identifier: Vec::new(),
                extension: vec![Extension {
                    ty: "extension_CdxPropertiesExtension",
                    props,
                }],
            })?;
        }

        for (k, src) in m.sources.iter().enumerate() {
            let name = src.nvr.map_or(src.filename, |(n, ..)| n);
            seq.serialize_element(&SwPackage {
                ty: "software_Package",
                spdx_id: &ids.sources[k],
                creation_info: CI,
                name,
                summary: None,
                comment: Some(format!(
                    "Source RPM {}, named by the SOURCERPM tag of installed packages; not itself installed. Version is version-release from its file name (the epoch is not part of it).",
                    src.filename
                )),
                version: src.version_release,
                purl: src.purl.as_deref(),
                home_page: None,
                primary_purpose: Some("source"),
                source_info: None,
                supplied_by: None,
                built_time: None,
                external_identifier: Vec::new(),
                extension: Vec::new(),
            })?;
        }

        for (lref, id) in &ids.license_texts {
            let text = &m.license_refs[*lref];
            seq.serialize_element(&LicenseText {
                ty: "simplelicensing_SimpleLicensingText",
                spdx_id: id,
                creation_info: CI,
                name: text,
                comment: "The License tag of an RPM package, verbatim; it is not a valid SPDX license expression.",
                text,
            })?;
        }
        for (expr, id) in &ids.licenses {
            let custom_ids = ids
                .license_texts
                .get(expr)
                .map(|t| DictionaryEntry {
                    ty: "DictionaryEntry",
                    key: expr,
                    value: t,
                })
                .into_iter()
                .collect();
            seq.serialize_element(&LicenseExpression {
                ty: "simplelicensing_LicenseExpression",
                spdx_id: id,
                creation_info: CI,
                expression: expr,
                custom_ids,
            })?;
        }

        if m.info.include_files {
            for (i, p) in inv.packages.iter().enumerate() {
                let algo = common::spdx3_hash_algo(p.file_digest_algo);
                for (j, f) in p.files.iter().enumerate() {
                    seq.serialize_element(&SwFile {
                        ty: "software_File",
                        spdx_id: ids.file(i, j),
                        creation_info: CI,
                        name: &f.path,
                        kind: if f.is_dir() { "directory" } else { "file" },
                        primary_purpose: file_purpose(f),
                        verified_using: common::file_digest(p, f).map(|d| {
                            [Hash {
                                ty: "Hash",
                                algorithm: algo,
                                hash_value: d,
                            }]
                        }),
                        comment: Str(FileAttrs {
                            file: f,
                            escape: false,
                        }),
                    })?;
                }
            }
        }

        for (k, u) in inv.drift.iter().flat_map(|d| d.unowned.iter()).enumerate() {
            let hashes = [("sha256", &u.sha256), ("sha1", &u.sha1)]
                .into_iter()
                .filter_map(|(algorithm, v)| {
                    v.as_deref().map(|hash_value| Hash {
                        ty: "Hash",
                        algorithm,
                        hash_value,
                    })
                })
                .collect::<Vec<_>>();
            seq.serialize_element(&UnownedFile {
                ty: "software_File",
                spdx_id: &ids.unowned[k],
                creation_info: CI,
                name: &u.path,
                kind: "file",
                verified_using: hashes,
                comment: format!(
                    "owned by no installed RPM package; {}",
                    props::unowned_line(u)
                ),
            })?;
        }

        // Relationships, in the order of `relationship_ids`.
        let mut rel_ids = self.relationship_ids().into_iter();
        let mut next_id = || rel_ids.next().unwrap_or_default();
        if !ids.packages.is_empty() {
            seq.serialize_element(&Relationship {
                ty: "Relationship",
                spdx_id: next_id(),
                creation_info: CI,
                from: &ids.os,
                relationship_type: "contains",
                to: &ids.packages,
                completeness: Some("complete"),
            })?;
        }
        for (i, p) in inv.packages.iter().enumerate() {
            if m.info.include_files && !p.files.is_empty() {
                seq.serialize_element(&Relationship {
                    ty: "Relationship",
                    spdx_id: next_id(),
                    creation_info: CI,
                    from: &ids.packages[i],
                    relationship_type: "contains",
                    to: SeqOf((0..p.files.len()).map(|j| ids.file(i, j))),
                    completeness: Some("complete"),
                })?;
            }
            if !m.deps[i].is_empty() {
                seq.serialize_element(&Relationship {
                    ty: "Relationship",
                    spdx_id: next_id(),
                    creation_info: CI,
                    from: &ids.packages[i],
                    relationship_type: "dependsOn",
                    to: SeqOf(m.deps[i].iter().map(|&b| &ids.packages[b])),
                    completeness: Some(if m.unresolved[i].is_empty() {
                        "complete"
                    } else {
                        "incomplete"
                    }),
                })?;
            }
            if !matches!(m.licenses[i], License::None) {
                seq.serialize_element(&Relationship {
                    ty: "Relationship",
                    spdx_id: next_id(),
                    creation_info: CI,
                    from: &ids.packages[i],
                    relationship_type: "hasDeclaredLicense",
                    to: [&ids.licenses[m.licenses[i].spdx_value()]],
                    completeness: None,
                })?;
            }
        }
        for (k, src) in m.sources.iter().enumerate() {
            seq.serialize_element(&Relationship {
                ty: "Relationship",
                spdx_id: next_id(),
                creation_info: CI,
                from: &ids.sources[k],
                relationship_type: "generates",
                to: SeqOf(src.binaries.iter().map(|&b| &ids.packages[b])),
                completeness: None,
            })?;
        }

        if !ids.unowned.is_empty() {
            seq.serialize_element(&Relationship {
                ty: "Relationship",
                spdx_id: next_id(),
                creation_info: CI,
                from: &ids.os,
                relationship_type: "contains",
                to: &ids.unowned,
                completeness: Some("complete"),
            })?;
        }

        let mut statement = String::new();
        for (n, p) in m.document_properties().iter().enumerate() {
            if n > 0 {
                statement.push('\n');
            }
            statement.push_str(PROP_PREFIX);
            statement.push_str(p.name);
            statement.push('=');
            statement.push_str(&OneLine(&p.value).to_string());
        }
        seq.serialize_element(&Annotation {
            ty: "Annotation",
            spdx_id: &ids.doc_annotation,
            creation_info: CI,
            annotation_type: "other",
            subject: &ids.document,
            statement,
        })?;
        seq.end()
    }
}
