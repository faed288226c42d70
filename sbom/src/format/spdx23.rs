//! SPDX 2.3 JSON.
//!
//! Shape of the document (every choice below keeps it valid for `pyspdxtools` and true to
//! the RPM database; nothing is invented):
//!
//! - `SPDXRef-DOCUMENT DESCRIBES SPDXRef-OperatingSystem`: a synthetic package for the
//!   image's operating system (`primaryPackagePurpose: OPERATING-SYSTEM`, name and version
//!   from os-release, CPE from `CPE_NAME` when well-formed), which `CONTAINS` every
//!   installed package.
//! - One package per installed RPM: `SPDXRef-Package-<NEVRA slug>`, `versionInfo`
//!   `[epoch:]version-release`, `supplier` from VENDOR (`NOASSERTION` without one, or when
//!   it cannot be read back as an `Organization:` name: more than one line, control
//!   characters, a trailing `(...)`; the annotation then has a `vendor` property line),
//!   `downloadLocation: NOASSERTION` (the database does not say where the file came from;
//!   URL is the `homepage`), `licenseDeclared` from the License tag (a valid SPDX
//!   expression as written, otherwise a `LicenseRef-` declared in
//!   `hasExtractedLicensingInfos` with the original string as its text),
//!   `licenseConcluded`/`copyrightText: NOASSERTION`, `builtDate` from BUILDTIME, a purl
//!   `externalRef`. No package `checksums`: SIGMD5 and SHA256HEADER are digests of the
//!   header (+payload), not of any file the document describes.
//! - RPM header data without an SPDX field (header digests, signatures and key ids, build
//!   host, source RPM, modularity label, database row, unresolved requirements, ...) is an
//!   annotation of type OTHER whose comment holds one `fedora-attest:rpm:<name>=<value>`
//!   line per property (see `props::package_properties`; `\`, CR, LF escaped as `\\`,
//!   `\r`, `\n`).
//! - Files: `filesAnalyzed: false` and no SPDX File elements. SPDX 2.3 (clause 8.4)
//!   requires a SHA-1 checksum on every File and, with `filesAnalyzed: true`, a package
//!   verification code computed from the files' SHA-1s (clause 7.9); the RPM database
//!   records SHA-256 (or MD5) file digests only, and `pyspdxtools` rejects a File without
//!   SHA-1. Rather than invent digests or drop the data, each package's files are listed
//!   in a second annotation: the line `fedora-attest:rpm:files`, then one line per file,
//!   `<path> <algo>:<hex>|- kind=.. mode=0100644 owner=user:group size=N[ flags=..][ target=..]`
//!   (path, owner and link target percent-encoded; `-` when rpm stores no digest, as for
//!   directories, symlinks and ghosts). SPDX 3 and CycloneDX carry them as real file
//!   elements.
//! - Each distinct source RPM is a package `SPDXRef-SRPM-<slug>` with
//!   `primaryPackagePurpose: SOURCE`, `packageFileName` and a purl with `arch=src`; every
//!   binary built from it is `GENERATED_FROM` it. It is not contained in the OS: it is not
//!   installed.
//! - `A DEPENDS_ON B` for every resolved requirement edge.
//! - Imported OpenPGP keys (`gpg-pubkey` headers) are not packages: they are lines of a
//!   document-level annotation, together with where the database was found.

use std::fmt::{self, Write as _};

use serde::Serialize;

use super::common::{self, Model};
use super::props::{Escaped, FileAttrs, OneLine, Prop, PROP_PREFIX};
use crate::format::DocumentInfo;
use crate::inventory::Inventory;
use crate::package::Package;

const DOC_ID: &str = "SPDXRef-DOCUMENT";
const OS_ID: &str = "SPDXRef-OperatingSystem";
const NOASSERTION: &str = "NOASSERTION";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    comment: String,
    packages: Vec<SpdxPackage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<SpdxFile<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense<'a>>,
    relationships: Vec<Relationship<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_file_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_concluded: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_declared: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    copyright_text: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    built_date: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation<'a>>,
}

/// A regular file no package owns (drift only): SPDX 2.3 wants SHA-1, which `sbom` then
/// has, since it hashed the file itself.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxFile<'a> {
    #[serde(rename = "SPDXID")]
    spdx_id: &'a str,
    file_name: String,
    checksums: Vec<Checksum<'a>>,
    license_concluded: &'static str,
    copyright_text: &'static str,
    comment: &'static str,
}

#[derive(Serialize)]
struct Checksum<'a> {
    algorithm: &'static str,
    #[serde(rename = "checksumValue")]
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef<'a> {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense<'a> {
    license_id: &'a str,
    extracted_text: &'a str,
    name: &'a str,
    comment: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship<'a> {
    spdx_element_id: &'a str,
    relationship_type: &'static str,
    related_spdx_element: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Annotation<'a> {
    annotation_date: &'a str,
    annotation_type: &'static str,
    annotator: &'a str,
    comment: Comment<'a>,
}

/// An annotation's text: built, or a package's file list streamed into the output.
enum Comment<'a> {
    Text(String),
    Files(&'a Package),
}

impl Serialize for Comment<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Comment::Text(t) => s.serialize_str(t),
            Comment::Files(p) => s.collect_str(&FileManifest(p)),
        }
    }
}

pub fn write(
    inv: &Inventory,
    info: &DocumentInfo,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let m = Model::new(inv, info);
    let ids = Ids {
        packages: m
            .slugs
            .iter()
            .map(|s| format!("SPDXRef-Package-{s}"))
            .collect(),
        sources: m
            .sources
            .iter()
            .map(|s| format!("SPDXRef-SRPM-{}", s.slug))
            .collect(),
        annotator: format!("Tool: {}", m.tool),
        unowned: inv
            .drift
            .as_ref()
            .map(|d| {
                (0..d.unowned.len())
                    .map(|k| format!("SPDXRef-File-unowned-{k}"))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let doc = build(&m, &ids);
    common::write_json(out, &doc)
}

/// Strings the document borrows.
struct Ids {
    packages: Vec<String>,
    sources: Vec<String>,
    annotator: String,
    /// `SPDXRef-File-unowned-<k>` per unowned file (drift), `k` its index in the report.
    unowned: Vec<String>,
}

/// True when `Organization: <v>` reads back as an organization named exactly `v` (SPDX 2.3
/// clause 7.5: `Organization: name [(email)]`): one line without control characters, and
/// not ending in `)`, which a reader would take for the email part (`ACME (x)` is the
/// organization `ACME` with email `x`; `(x)` has no name at all).
fn is_actor_name(v: &str) -> bool {
    !v.is_empty()
        && !v.ends_with(')')
        && !v
            .chars()
            .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
}

/// `name=value` lines, prefixed `fedora-attest:rpm:`.
fn property_lines(props: &[Prop<'_>]) -> String {
    let mut s = String::new();
    for (i, p) in props.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = write!(s, "{PROP_PREFIX}{}={}", p.name, OneLine(&p.value));
    }
    s
}

fn build<'a>(m: &'a Model<'a>, ids: &'a Ids) -> Document<'a> {
    let inv = m.inv;
    let annotator: &'a str = &ids.annotator;
    let (pkg_ids, src_ids) = (&ids.packages, &ids.sources);
    let created: &'a str = &m.created;
    let annotation = |comment: Comment<'a>| Annotation {
        annotation_date: created,
        annotation_type: "OTHER",
        annotator,
        comment,
    };

    let mut packages = Vec::with_capacity(inv.packages.len() + m.sources.len() + 1);

    // The operating system of the image.
    let mut os_refs = Vec::new();
    if let Some(cpe) = m.os.cpe {
        if let Some(kind) = common::cpe_kind(cpe) {
            os_refs.push(ExternalRef {
                reference_category: "SECURITY",
                reference_type: if kind == "cpe22" {
                    "cpe22Type"
                } else {
                    "cpe23Type"
                },
                reference_locator: cpe,
            });
        }
    }
    packages.push(SpdxPackage {
        spdx_id: OS_ID.to_owned(),
        name: m.os.name,
        version_info: m.os.version,
        package_file_name: None,
        supplier: None,
        download_location: NOASSERTION,
        files_analyzed: false,
        homepage: m.os.home_url.and_then(common::web_url),
        source_info: None,
        license_concluded: None,
        license_declared: None,
        copyright_text: None,
        summary: Some(&m.os.pretty),
        comment: Some("The operating system of the scanned image, as its os-release names it; it contains every installed RPM package."),
        external_refs: os_refs,
        primary_package_purpose: Some("OPERATING-SYSTEM"),
        built_date: None,
        annotations: Vec::new(),
    });

    for (i, p) in inv.packages.iter().enumerate() {
        let vendor = p.vendor.as_deref().map(str::trim).filter(|v| !v.is_empty());
        let supplier = vendor.filter(|v| is_actor_name(v));
        let mut props = m.properties(i);
        if let (Some(raw), true) = (&p.vendor, vendor.is_some() && supplier.is_none()) {
            // Kept, as written, just not as an actor that SPDX 2.3 readers would misread.
            props.push(Prop::new("vendor", raw.as_str()));
        }
        let mut annotations = vec![annotation(Comment::Text(property_lines(&props)))];
        if m.info.include_files && !p.files.is_empty() {
            annotations.push(annotation(Comment::Files(p)));
        }
        packages.push(SpdxPackage {
            spdx_id: pkg_ids[i].clone(),
            name: &p.name,
            version_info: Some(&m.evrs[i]),
            package_file_name: None,
            supplier: Some(match supplier {
                Some(v) => format!("Organization: {v}"),
                None => NOASSERTION.to_owned(),
            }),
            download_location: NOASSERTION,
            files_analyzed: false,
            homepage: p.url.as_deref().and_then(common::web_url),
            source_info: p
                .source_rpm
                .as_deref()
                .map(|s| format!("built from the source RPM {s}")),
            license_concluded: Some(NOASSERTION),
            license_declared: Some(m.licenses[i].spdx_value()),
            copyright_text: Some(NOASSERTION),
            summary: Some(p.summary.as_str()).filter(|s| !s.is_empty()),
            comment: None,
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: &m.purls[i],
            }],
            primary_package_purpose: None,
            built_date: p.build_time.map(|t| crate::format::rfc3339(i64::from(t))),
            annotations,
        });
    }

    for (k, s) in m.sources.iter().enumerate() {
        let name = s.nvr.map_or(s.filename, |(n, ..)| n);
        let version = s.version_release;
        packages.push(SpdxPackage {
            spdx_id: src_ids[k].clone(),
            name,
            version_info: version,
            package_file_name: Some(s.filename),
            supplier: None,
            download_location: NOASSERTION,
            files_analyzed: false,
            homepage: None,
            source_info: None,
            license_concluded: None,
            license_declared: None,
            copyright_text: None,
            summary: None,
            comment: Some("Source RPM named by the SOURCERPM tag of installed packages; not itself installed. Version is version-release from its file name (the epoch is not part of it)."),
            external_refs: s
                .purl
                .as_deref()
                .map(|purl| ExternalRef {
                    reference_category: "PACKAGE-MANAGER",
                    reference_type: "purl",
                    reference_locator: purl,
                })
                .into_iter()
                .collect(),
            primary_package_purpose: Some("SOURCE"),
            built_date: None,
            annotations: Vec::new(),
        });
    }

    let extracted = m
        .license_refs
        .iter()
        .map(|(id, text)| ExtractedLicense {
            license_id: id,
            extracted_text: text,
            name: text,
            comment: "The License tag of an RPM package, verbatim; it is not a valid SPDX license expression.",
        })
        .collect();

    // Relationships, in a fixed order: describes, contains, depends-on, generated-from.
    let mut rels = Vec::with_capacity(1 + inv.packages.len() * 2 + inv.depends_on.len());
    rels.push(Relationship {
        spdx_element_id: DOC_ID,
        relationship_type: "DESCRIBES",
        related_spdx_element: OS_ID,
    });
    for id in pkg_ids {
        rels.push(Relationship {
            spdx_element_id: OS_ID,
            relationship_type: "CONTAINS",
            related_spdx_element: id,
        });
    }
    for (a, deps) in m.deps.iter().enumerate() {
        for &b in deps {
            rels.push(Relationship {
                spdx_element_id: &pkg_ids[a],
                relationship_type: "DEPENDS_ON",
                related_spdx_element: &pkg_ids[b],
            });
        }
    }
    for (i, src) in m.source_of.iter().enumerate() {
        if let Some(k) = src {
            rels.push(Relationship {
                spdx_element_id: &pkg_ids[i],
                relationship_type: "GENERATED_FROM",
                related_spdx_element: &src_ids[*k],
            });
        }
    }

    let mut files = Vec::new();
    if let Some(d) = &inv.drift {
        for (k, u) in d.unowned.iter().enumerate() {
            let (Some(sha1), Some(sha256)) = (u.sha1.as_deref(), u.sha256.as_deref()) else {
                continue; // not a regular file: listed in the document annotation instead
            };
            files.push(SpdxFile {
                spdx_id: &ids.unowned[k],
                file_name: format!(".{}", u.path),
                checksums: vec![
                    Checksum { algorithm: "SHA1", value: sha1 },
                    Checksum { algorithm: "SHA256", value: sha256 },
                ],
                license_concluded: NOASSERTION,
                copyright_text: NOASSERTION,
                comment: "In the image, owned by no installed RPM package (an overlay or generated file); digests computed by sbom --verify-files.",
            });
        }
    }
    // The OS package has filesAnalyzed=false, so it may not CONTAIN files (SPDX 2.3
    // clause 7.8): the document describes the unowned files next to the OS instead.
    for f in &files {
        rels.push(Relationship {
            spdx_element_id: DOC_ID,
            relationship_type: "DESCRIBES",
            related_spdx_element: f.spdx_id,
        });
    }
    let doc_props = m.document_properties();
    let annotations = vec![annotation(Comment::Text(property_lines(&doc_props)))];

    let uuid = m.document_uuid("spdx-2.3");
    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: DOC_ID,
        name: m.os.pretty.clone(),
        document_namespace: format!(
            "https://spdx.org/spdxdocs/{}/{}-{uuid}",
            common::id_slug(&m.info.tool_name),
            m.os.slug
        ),
        creation_info: CreationInfo {
            created: m.created.clone(),
            creators: vec![format!("Tool: {}", m.tool)],
        },
        comment: DOCUMENT_COMMENT.to_owned(),
        packages,
        files,
        has_extracted_licensing_infos: extracted,
        relationships: rels,
        annotations,
    }
}

const DOCUMENT_COMMENT: &str = "Installed RPM packages of an operating-system image, read from its RPM database. \
Packages have filesAnalyzed=false: RPM records no SHA-1 of its files, which SPDX 2.3 requires of every File. \
Each package's files are listed in an annotation whose first line is 'fedora-attest:rpm:files' and whose further lines are \
'<path> <algo>:<hex digest>|- kind=<kind> mode=<octal st_mode> owner=<user>:<group> size=<bytes>[ flags=<rpm file flags>][ target=<symlink target>]' \
(path, owner and target percent-encoded). RPM header data without an SPDX field is in an annotation of \
'fedora-attest:rpm:<name>=<value>' lines. Imported OpenPGP keys (gpg-pubkey headers) are listed in the document annotation, not as packages.";

/// The annotation listing a package's files (see the module documentation).
struct FileManifest<'a>(&'a Package);

impl fmt::Display for FileManifest<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        out.write_str(PROP_PREFIX)?;
        out.write_str("files")?;
        let algo = p.file_digest_algo.spdx_name();
        for f in &p.files {
            write!(out, "\n{} ", Escaped(&f.path))?;
            match common::file_digest(p, f) {
                Some(d) => write!(out, "{algo}:{d} ")?,
                None => out.write_str("- ")?,
            }
            write!(
                out,
                "{}",
                FileAttrs {
                    file: f,
                    escape: true
                }
            )?;
        }
        Ok(())
    }
}
