//! The three SBOM formats, written from a hand-built inventory, must pass independent
//! validators (`tests/validators/validate.py`: pyspdxtools for SPDX 2.3, spdx-python-model
//! for SPDX 3.0.1, the official CycloneDX 1.6 JSON schema) and must say what the
//! inventory says: purls, licenses, file digests, dependencies, source RPMs, keys.
//!
//! A validator that is not installed makes its test print `SKIPPED: ...` and pass, except
//! under `CI=true`, where it fails.

mod common;

use common::validate;
use sbom::format::{self, DocumentInfo, Format};
use sbom::inventory::{ImageSource, ImportedKey, Inventory, SourceKind, Unresolved};
use sbom::osrelease::OsRelease;
use sbom::package::{
    file_flags as ff, Dependency, DigestAlgo, FileEntry, HeaderSignature, Package, SignatureTag,
};
use sbom::rpmdb::DbFormat;
use serde_json::Value;

const BASH_SHA256: &str = "4f7c2a0c0b6e5d1b4f8e0e8d1c4b2a3f5e6d7c8b9a0f1e2d3c4b5a69788796a5";
const SKEL_SHA256: &str = "0d1ea8b2c44c5e0f8e3b7a9c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e";
const GLIBC_SHA256: &str = "a3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const UTC_MD5: &str = "c79354b8dbee09e62bbc3fb544853283";
const KEY_ID: &str = "0cd9fed33135ce90";

fn file(path: &str, mode: u16, digest: Option<&str>, flags: u32, link: Option<&str>) -> FileEntry {
    FileEntry {
        path: path.into(),
        digest: digest.map(Into::into),
        size: if mode & FileEntry::S_IFMT == FileEntry::S_IFREG {
            1234
        } else {
            0
        },
        mode,
        user: "root".into(),
        group: "root".into(),
        flags,
        link_target: link.map(Into::into),
        mtime: 1_700_000_000,
        verify_flags: u32::MAX,
        inode: 1,
        lang: String::new(),
    }
}

fn dep(name: &str) -> Dependency {
    Dependency {
        name: name.into(),
        flags: 0,
        version: String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn package(
    row: u32,
    name: &str,
    epoch: Option<u32>,
    version: &str,
    release: &str,
    arch: &str,
    license: &str,
    source_rpm: &str,
    files: Vec<FileEntry>,
) -> Package {
    Package {
        db_row: row,
        name: name.into(),
        epoch,
        version: version.into(),
        release: release.into(),
        arch: arch.into(),
        summary: format!("The {name} package"),
        license: license.into(),
        vendor: Some("Microsoft Corporation".into()),
        packager: Some("Azure Linux Team <azurelinux@microsoft.com>".into()),
        url: Some(format!("https://example.org/{name}")),
        bug_url: None,
        group: Some("System Environment/Base".into()),
        source_rpm: Some(source_rpm.into()),
        build_time: Some(1_700_000_000),
        build_host: Some("build.azurelinux.example".into()),
        install_time: Some(1_700_100_000),
        size: 4321,
        modularity_label: None,
        sigmd5: Some(format!("{:032x}", row)),
        sha256_header: Some(format!("{:064x}", row + 1000)),
        sha1_header: Some(format!("{:040x}", row + 2000)),
        computed_sha256_header: Some(format!("{:064x}", row + 1000)),
        signatures: vec![HeaderSignature {
            tag: SignatureTag::Rsaheader,
            version: 4,
            pubkey_algo: 1,
            hash_algo: 8,
            created: Some(1_700_000_500),
            key_id: Some(KEY_ID.into()),
            fingerprint: None,
        }],
        file_digest_algo: DigestAlgo::Sha256,
        files,
        requires: Vec::new(),
        provides: vec![dep(name)],
        conflicts: Vec::new(),
        obsoletes: Vec::new(),
        recommends: Vec::new(),
        suggests: Vec::new(),
        supplements: Vec::new(),
        enhances: Vec::new(),
    }
}

/// Five packages of an Azure Linux 4.0 image: an epoch, SPDX and legacy licenses, files
/// of every kind (regular, directory, symlink, %config, %doc, %license, %ghost, MD5
/// digests), a source RPM shared by two packages, dependency edges, an unresolved
/// requirement and an imported key.
fn inventory() -> Inventory {
    const REG: u16 = 0o100644;
    const EXE: u16 = 0o100755;
    const DIR: u16 = 0o040755;
    const LNK: u16 = 0o120777;
    let mut bash = package(
        11,
        "bash",
        None,
        "5.2.15",
        "3.azl3",
        "x86_64",
        "GPL-3.0-or-later",
        "bash-5.2.15-3.azl3.src.rpm",
        vec![
            file(
                "/etc/skel/.bashrc",
                REG,
                Some(SKEL_SHA256),
                ff::CONFIG | ff::NOREPLACE,
                None,
            ),
            file("/usr/bin/bash", EXE, Some(BASH_SHA256), 0, None),
            file("/usr/bin/sh", LNK, None, 0, Some("bash")),
            file("/usr/share/doc/bash", DIR, None, 0, None),
            file(
                "/usr/share/doc/bash/README with space",
                REG,
                Some(BASH_SHA256),
                ff::DOC,
                None,
            ),
            file(
                "/usr/share/licenses/bash/COPYING",
                REG,
                Some(SKEL_SHA256),
                ff::LICENSE,
                None,
            ),
        ],
    );
    bash.requires = vec![dep("glibc"), dep("libfoo.so.1()(64bit)")];
    let mut bash_devel = package(
        12,
        "bash-devel",
        None,
        "5.2.15",
        "3.azl3",
        "x86_64",
        "GPL-3.0-or-later",
        "bash-5.2.15-3.azl3.src.rpm",
        vec![file(
            "/usr/include/bash/shell.h",
            REG,
            Some(BASH_SHA256),
            0,
            None,
        )],
    );
    bash_devel.url = Some("(none)".into());
    let glibc = package(
        5,
        "glibc",
        None,
        "2.38",
        "1.azl3",
        "x86_64",
        "LGPL-2.1-or-later AND GPL-2.0-or-later WITH GCC-exception-2.0",
        "glibc-2.38-1.azl3.src.rpm",
        vec![
            file("/usr/lib64", DIR, None, 0, None),
            file("/usr/lib64/libc.so.6", EXE, Some(GLIBC_SHA256), 0, None),
        ],
    );
    let mut shadow = package(
        7,
        "shadow-utils",
        Some(2),
        "4.14",
        "1.azl3",
        "x86_64",
        "BSD and GPLv2+",
        "shadow-utils-4.14-1.azl3.src.rpm",
        vec![file(
            "/etc/login.defs",
            REG,
            Some(SKEL_SHA256),
            ff::CONFIG,
            None,
        )],
    );
    shadow.vendor = None;
    let mut tzdata = package(
        9,
        "tzdata",
        None,
        "2024a",
        "1.azl3",
        "noarch",
        "Public Domain",
        "tzdata-2024a-1.azl3.src.rpm",
        vec![
            file("/usr/share/zoneinfo/UTC", REG, Some(UTC_MD5), 0, None),
            file("/var/lib/tzdata.lock", REG, None, ff::GHOST, None),
        ],
    );
    tzdata.file_digest_algo = DigestAlgo::Md5;
    tzdata.modularity_label = Some("tzdata:2024:1:abcdef".into());

    Inventory {
        source: ImageSource {
            location: "/tmp/some/scan/path".into(),
            kind: SourceKind::RootDir,
            rpmdb_path: "usr/lib/sysimage/rpm/rpmdb.sqlite".into(),
            rpmdb_format: DbFormat::Sqlite,
            manifest_digest: None,
            config_digest: None,
            platform: None,
            layers: Vec::new(),
            escaping_links: Vec::new(),
        },
        distro: Some(OsRelease {
            id: "azurelinux".into(),
            id_like: vec!["fedora".into()],
            name: "Azure Linux".into(),
            version_id: Some("4.0".into()),
            pretty_name: Some("Microsoft Azure Linux 4.0".into()),
            cpe_name: Some("cpe:2.3:o:microsoft:azurelinux:4.0:*:*:*:*:*:*:*".into()),
            variant_id: None,
            home_url: Some("https://aka.ms/azurelinux".into()),
        }),
        // Sorted by name, as the inventory guarantees.
        packages: vec![bash, bash_devel, glibc, shadow, tzdata],
        keys: vec![ImportedKey {
            db_row: 1,
            short_id: "3135ce90".into(),
            created_hex: "5e6fda74".into(),
            summary: "Azure Linux RPM Release Signing <azurelinux@microsoft.com> public key".into(),
            armored:
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n...\n-----END PGP PUBLIC KEY BLOCK-----\n"
                    .into(),
        }],
        // bash -> glibc, bash-devel -> bash, shadow-utils -> glibc.
        depends_on: vec![(0, 2), (1, 0), (3, 2)],
        unresolved: vec![Unresolved {
            package: 0,
            requirement: dep("libfoo.so.1()(64bit)"),
        }],
        drift: None,
    }
}

fn info() -> DocumentInfo {
    DocumentInfo {
        created: 1_700_200_000,
        tool_name: "sbom".into(),
        tool_version: "0.1.0".into(),
        include_files: true,
    }
}

const PURLS: [(&str, &str); 5] = [
    (
        "bash",
        "pkg:rpm/azurelinux/bash@5.2.15-3.azl3?arch=x86_64&distro=azurelinux-4.0",
    ),
    (
        "bash-devel",
        "pkg:rpm/azurelinux/bash-devel@5.2.15-3.azl3?arch=x86_64&distro=azurelinux-4.0",
    ),
    (
        "glibc",
        "pkg:rpm/azurelinux/glibc@2.38-1.azl3?arch=x86_64&distro=azurelinux-4.0",
    ),
    (
        "shadow-utils",
        "pkg:rpm/azurelinux/shadow-utils@4.14-1.azl3?arch=x86_64&distro=azurelinux-4.0&epoch=2",
    ),
    (
        "tzdata",
        "pkg:rpm/azurelinux/tzdata@2024a-1.azl3?arch=noarch&distro=azurelinux-4.0",
    ),
];
const BASH_SRPM_PURL: &str = "pkg:rpm/azurelinux/bash@5.2.15-3.azl3?arch=src&distro=azurelinux-4.0";

fn render(format: Format, inv: &Inventory, info: &DocumentInfo) -> Vec<u8> {
    let mut out = Vec::new();
    format::write(format, inv, info, &mut out).expect("write");
    out
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("output is JSON")
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array in {v}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

// ---------------------------------------------------------------- SPDX 2.3

#[test]
fn spdx23_validates_with_pyspdxtools() {
    let out = render(Format::Spdx23, &inventory(), &info());
    validate("spdx23", "sbom.spdx.json", &out);
}

#[test]
fn spdx23_content() {
    let inv = inventory();
    let doc = json(&render(Format::Spdx23, &inv, &info()));
    assert_eq!(s(&doc, "spdxVersion"), "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "2023-11-17T05:46:40Z");
    assert_eq!(doc["creationInfo"]["creators"][0], "Tool: sbom-0.1.0");
    let ns = s(&doc, "documentNamespace");
    assert!(
        ns.starts_with("https://spdx.org/spdxdocs/sbom/azurelinux-4.0-"),
        "{ns}"
    );
    assert!(
        !ns.contains("scan"),
        "namespace must not come from the scan path: {ns}"
    );

    let packages = arr(&doc, "packages");
    let by_id = |id: &str| {
        packages
            .iter()
            .find(|p| p["SPDXID"] == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let named =
        |name: &str| -> Vec<&Value> { packages.iter().filter(|p| p["name"] == name).collect() };
    assert!(
        named("gpg-pubkey").is_empty(),
        "imported keys are not packages"
    );

    // Purls, versions, supplier.
    for (name, purl) in PURLS {
        let p = named(name)
            .into_iter()
            .find(|p| p["primaryPackagePurpose"].is_null())
            .unwrap();
        let refs = arr(p, "externalRefs");
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0]["referenceType"], "purl");
        assert_eq!(refs[0]["referenceLocator"], purl, "{name}");
        assert_eq!(p["filesAnalyzed"], false);
        assert_eq!(p["downloadLocation"], "NOASSERTION");
    }
    let shadow = named("shadow-utils")[0];
    assert_eq!(shadow["versionInfo"], "2:4.14-1.azl3");
    assert_eq!(shadow["supplier"], "NOASSERTION");
    let bash = by_id("SPDXRef-Package-bash-5.2.15-3.azl3.x86-64");
    assert_eq!(bash["supplier"], "Organization: Microsoft Corporation");
    assert_eq!(bash["homepage"], "https://example.org/bash");
    assert_eq!(bash["builtDate"], "2023-11-14T22:13:20Z");
    assert!(
        named("bash-devel")[0].get("homepage").is_none(),
        "(none) is not a homepage"
    );

    // Licenses: SPDX expressions verbatim, others as declared LicenseRefs.
    assert_eq!(bash["licenseDeclared"], "GPL-3.0-or-later");
    assert_eq!(
        named("glibc")[0]["licenseDeclared"],
        "LGPL-2.1-or-later AND GPL-2.0-or-later WITH GCC-exception-2.0"
    );
    let extracted = arr(&doc, "hasExtractedLicensingInfos");
    for (name, original) in [
        ("shadow-utils", "BSD and GPLv2+"),
        ("tzdata", "Public Domain"),
    ] {
        let id = s(named(name)[0], "licenseDeclared");
        assert!(id.starts_with("LicenseRef-"), "{name}: {id}");
        let e = extracted
            .iter()
            .find(|e| e["licenseId"] == id)
            .unwrap_or_else(|| panic!("{id} not declared"));
        assert_eq!(e["extractedText"], original);
    }

    // RPM header data and files are annotations.
    let notes: Vec<&str> = arr(bash, "annotations")
        .iter()
        .map(|a| s(a, "comment"))
        .collect();
    assert!(
        notes[0].contains(&format!("fedora-attest:rpm:signing_key_id={KEY_ID}")),
        "{}",
        notes[0]
    );
    assert!(notes[0].contains(&format!("fedora-attest:rpm:sha256header={:064x}", 1011)));
    assert!(notes[0].contains("fedora-attest:rpm:unresolved_requires=libfoo.so.1()(64bit)"));
    assert!(notes[0].contains("fedora-attest:rpm:source_rpm=bash-5.2.15-3.azl3.src.rpm"));
    assert!(notes[1].starts_with("fedora-attest:rpm:files\n"));
    assert!(notes[1].contains(&format!(
        "/usr/bin/bash SHA256:{BASH_SHA256} kind=regular mode=0100755"
    )));
    assert!(notes[1].contains("/usr/share/doc/bash/README%20with%20space SHA256:"));
    assert!(notes[1].contains("/etc/skel/.bashrc SHA256:"));
    assert!(notes[1].contains("flags=config,noreplace"));
    assert!(notes[1]
        .contains("/usr/bin/sh - kind=symlink mode=0120777 owner=root:root size=0 target=bash"));
    let tz_notes = arr(named("tzdata")[0], "annotations");
    assert!(s(&tz_notes[1], "comment").contains(&format!("/usr/share/zoneinfo/UTC MD5:{UTC_MD5}")));
    assert!(s(&tz_notes[1], "comment").contains(
        "/var/lib/tzdata.lock - kind=regular mode=0100644 owner=root:root size=1234 flags=ghost"
    ));

    // The key is reported, in the document annotation.
    let doc_note = s(&arr(&doc, "annotations")[0], "comment");
    assert!(
        doc_note.contains(
            "fedora-attest:rpm:imported_key=gpg-pubkey-3135ce90-5e6fda74 created=2020-03-16T"
        ),
        "{doc_note}"
    );
    assert!(doc_note.contains("fedora-attest:rpm:rpmdb_path=usr/lib/sysimage/rpm/rpmdb.sqlite"));

    // Relationships.
    let rels: Vec<(String, String, String)> = arr(&doc, "relationships")
        .iter()
        .map(|r| {
            (
                s(r, "spdxElementId").into(),
                s(r, "relationshipType").into(),
                s(r, "relatedSpdxElement").into(),
            )
        })
        .collect();
    let has = |a: &str, t: &str, b: &str| rels.iter().any(|r| r.0 == a && r.1 == t && r.2 == b);
    let id_of = |name: &str| {
        s(
            named(name)
                .into_iter()
                .find(|p| p["primaryPackagePurpose"].is_null())
                .unwrap(),
            "SPDXID",
        )
        .to_owned()
    };
    assert!(has(
        "SPDXRef-DOCUMENT",
        "DESCRIBES",
        "SPDXRef-OperatingSystem"
    ));
    for (name, _) in PURLS {
        assert!(
            has("SPDXRef-OperatingSystem", "CONTAINS", &id_of(name)),
            "{name}"
        );
    }
    assert!(has(&id_of("bash"), "DEPENDS_ON", &id_of("glibc")));
    assert!(has(&id_of("bash-devel"), "DEPENDS_ON", &id_of("bash")));
    assert!(has(&id_of("shadow-utils"), "DEPENDS_ON", &id_of("glibc")));
    assert_eq!(rels.iter().filter(|r| r.1 == "DEPENDS_ON").count(), 3);

    // The shared source RPM: one SOURCE package, both binaries generated from it.
    let srpms: Vec<&Value> = packages
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "SOURCE")
        .collect();
    assert_eq!(srpms.len(), 4);
    let bash_src = srpms
        .iter()
        .find(|p| p["packageFileName"] == "bash-5.2.15-3.azl3.src.rpm")
        .unwrap();
    assert_eq!(bash_src["versionInfo"], "5.2.15-3.azl3");
    assert_eq!(
        bash_src["externalRefs"][0]["referenceLocator"],
        BASH_SRPM_PURL
    );
    let src_id = s(bash_src, "SPDXID");
    assert!(has(&id_of("bash"), "GENERATED_FROM", src_id));
    assert!(has(&id_of("bash-devel"), "GENERATED_FROM", src_id));

    let os = by_id("SPDXRef-OperatingSystem");
    assert_eq!(os["primaryPackagePurpose"], "OPERATING-SYSTEM");
    assert_eq!(os["name"], "Azure Linux");
    assert_eq!(os["versionInfo"], "4.0");
    assert_eq!(os["externalRefs"][0]["referenceType"], "cpe23Type");
}

// ---------------------------------------------------------------- SPDX 3.0.1

#[test]
fn spdx3_validates_with_spdx_python_model() {
    let out = render(Format::Spdx3, &inventory(), &info());
    validate("spdx3", "sbom.spdx3.json", &out);
}

#[test]
fn spdx3_content() {
    let doc = json(&render(Format::Spdx3, &inventory(), &info()));
    assert_eq!(
        doc["@context"],
        "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    );
    let graph = arr(&doc, "@graph");
    let of_type = |t: &str| -> Vec<&Value> { graph.iter().filter(|o| o["type"] == t).collect() };
    let by_id = |id: &str| {
        graph
            .iter()
            .find(|o| o["spdxId"] == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };

    let ci = of_type("CreationInfo");
    assert_eq!(ci.len(), 1);
    assert_eq!(ci[0]["@id"], "_:creationinfo");
    assert_eq!(ci[0]["created"], "2023-11-17T05:46:40Z");
    assert_eq!(
        of_type("software_Sbom")[0]["software_sbomType"][0],
        "analyzed"
    );

    let packages = of_type("software_Package");
    assert!(packages.iter().all(|p| p["name"] != "gpg-pubkey"));
    let pkg = |name: &str| {
        *packages
            .iter()
            .find(|p| p["name"] == name && p["software_primaryPurpose"].is_null())
            .unwrap_or_else(|| panic!("{name}"))
    };
    for (name, purl) in PURLS {
        assert_eq!(pkg(name)["software_packageUrl"], purl, "{name}");
    }
    assert_eq!(
        pkg("shadow-utils")["software_packageVersion"],
        "2:4.14-1.azl3"
    );
    assert_eq!(
        by_id(s(pkg("bash"), "suppliedBy"))["name"],
        "Microsoft Corporation"
    );
    let props = arr(&pkg("bash")["extension"][0], "extension_cdxProperty");
    assert!(props.iter().any(
        |p| p["extension_cdxPropName"] == "fedora-attest:rpm:signing_key_id"
            && p["extension_cdxPropValue"] == KEY_ID
    ));
    assert!(props
        .iter()
        .any(|p| p["extension_cdxPropName"] == "fedora-attest:rpm:unresolved_requires"));

    let rels = of_type("Relationship");
    let rel = |from: &Value, t: &str| -> Vec<String> {
        rels.iter()
            .filter(|r| r["from"] == from["spdxId"] && r["relationshipType"] == t)
            .flat_map(|r| arr(r, "to").iter().map(|x| x.as_str().unwrap().to_owned()))
            .collect()
    };

    // Declared licenses, LicenseRefs resolved to their original text.
    let declared = |name: &str| by_id(&rel(pkg(name), "hasDeclaredLicense")[0]).clone();
    assert_eq!(
        declared("bash")["simplelicensing_licenseExpression"],
        "GPL-3.0-or-later"
    );
    let shadow_lic = declared("shadow-utils");
    let lref = s(&shadow_lic, "simplelicensing_licenseExpression");
    assert!(lref.starts_with("LicenseRef-"));
    let entry = &shadow_lic["simplelicensing_customIdToUri"][0];
    assert_eq!(entry["key"], lref);
    assert_eq!(
        by_id(s(entry, "value"))["simplelicensing_licenseText"],
        "BSD and GPLv2+"
    );

    // Files and digests.
    let bash_files: Vec<Value> = rel(pkg("bash"), "contains")
        .iter()
        .map(|id| by_id(id).clone())
        .collect();
    assert_eq!(bash_files.len(), 6);
    let f = bash_files
        .iter()
        .find(|f| f["name"] == "/usr/bin/bash")
        .unwrap();
    assert_eq!(f["verifiedUsing"][0]["algorithm"], "sha256");
    assert_eq!(f["verifiedUsing"][0]["hashValue"], BASH_SHA256);
    let conf = bash_files
        .iter()
        .find(|f| f["name"] == "/etc/skel/.bashrc")
        .unwrap();
    assert_eq!(conf["software_primaryPurpose"], "configuration");
    assert!(s(conf, "comment").contains("flags=config,noreplace"));
    let dir = bash_files
        .iter()
        .find(|f| f["name"] == "/usr/share/doc/bash")
        .unwrap();
    assert_eq!(dir["software_fileKind"], "directory");
    assert!(dir.get("verifiedUsing").is_none());
    let utc = by_id(&rel(pkg("tzdata"), "contains")[0]);
    assert_eq!(utc["verifiedUsing"][0]["algorithm"], "md5");
    assert_eq!(utc["verifiedUsing"][0]["hashValue"], UTC_MD5);

    // Dependencies and source RPMs.
    assert_eq!(
        rel(pkg("bash"), "dependsOn"),
        vec![s(pkg("glibc"), "spdxId").to_owned()]
    );
    let bash_dep = rels
        .iter()
        .find(|r| r["from"] == pkg("bash")["spdxId"] && r["relationshipType"] == "dependsOn")
        .unwrap();
    assert_eq!(
        bash_dep["completeness"], "incomplete",
        "bash has an unresolved requirement"
    );
    let src = packages
        .iter()
        .find(|p| p["software_packageUrl"] == BASH_SRPM_PURL)
        .unwrap();
    assert_eq!(src["software_primaryPurpose"], "source");
    let generated = rel(src, "generates");
    assert_eq!(
        generated,
        vec![
            s(pkg("bash"), "spdxId").to_owned(),
            s(pkg("bash-devel"), "spdxId").to_owned()
        ]
    );

    let root = of_type("software_Sbom")[0]["rootElement"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let os = by_id(&root);
    assert_eq!(os["software_primaryPurpose"], "operatingSystem");
    assert_eq!(
        os["externalIdentifier"][0]["externalIdentifierType"],
        "cpe23"
    );
    assert_eq!(rel(os, "contains").len(), 5);

    let note = s(of_type("Annotation")[0], "statement");
    assert!(
        note.contains("fedora-attest:rpm:imported_key=gpg-pubkey-3135ce90-5e6fda74"),
        "{note}"
    );
}

// ---------------------------------------------------------------- CycloneDX 1.6

#[test]
fn cyclonedx_validates_against_the_1_6_schema() {
    let out = render(Format::CycloneDx, &inventory(), &info());
    validate("cyclonedx", "sbom.cdx.json", &out);
}

#[test]
fn cyclonedx_content() {
    let bom = json(&render(Format::CycloneDx, &inventory(), &info()));
    assert_eq!(bom["specVersion"], "1.6");
    let serial = s(&bom, "serialNumber");
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
    assert_eq!(&serial[23..24], "5", "a version-5 UUID: {serial}");
    let meta = &bom["metadata"];
    assert_eq!(meta["timestamp"], "2023-11-17T05:46:40Z");
    assert_eq!(meta["component"]["type"], "operating-system");
    assert_eq!(meta["component"]["name"], "azurelinux");
    assert_eq!(meta["component"]["version"], "4.0");
    assert_eq!(meta["tools"]["components"][0]["name"], "sbom");
    assert!(arr(meta, "properties")
        .iter()
        .any(|p| p["name"] == "fedora-attest:rpm:imported_key"
            && s(p, "value").starts_with("gpg-pubkey-3135ce90-5e6fda74")));

    let comps = arr(&bom, "components");
    assert_eq!(comps.len(), 5, "five packages, no keys, no source RPMs");
    assert!(comps
        .iter()
        .all(|c| c["type"] == "library" && c["name"] != "gpg-pubkey"));
    let comp = |name: &str| comps.iter().find(|c| c["name"] == name).unwrap();
    for (name, purl) in PURLS {
        assert_eq!(comp(name)["purl"], purl);
        assert_eq!(comp(name)["bom-ref"], purl);
    }
    assert_eq!(comp("shadow-utils")["version"], "2:4.14-1.azl3");
    assert_eq!(comp("bash")["supplier"]["name"], "Microsoft Corporation");
    assert!(comp("shadow-utils").get("supplier").is_none());
    assert_eq!(
        comp("bash")["licenses"][0]["expression"],
        "GPL-3.0-or-later"
    );
    assert_eq!(
        comp("tzdata")["licenses"][0]["license"]["name"],
        "Public Domain"
    );
    assert_eq!(
        comp("bash")["externalReferences"][0]["url"],
        "https://example.org/bash"
    );
    let props = arr(comp("bash"), "properties");
    let prop = |n: &str| {
        props
            .iter()
            .filter(|p| p["name"] == n)
            .map(|p| s(p, "value"))
            .collect::<Vec<_>>()
    };
    assert_eq!(prop("fedora-attest:rpm:signing_key_id"), vec![KEY_ID]);
    assert_eq!(
        prop("fedora-attest:rpm:source_rpm"),
        vec!["bash-5.2.15-3.azl3.src.rpm"]
    );
    assert_eq!(
        prop("fedora-attest:rpm:unresolved_requires"),
        vec!["libfoo.so.1()(64bit)"]
    );
    assert_eq!(
        prop("fedora-attest:rpm:sha256header"),
        vec![format!("{:064x}", 1011)]
    );

    let files = arr(comp("bash"), "components");
    assert_eq!(files.len(), 6);
    let f = files.iter().find(|f| f["name"] == "/usr/bin/bash").unwrap();
    assert_eq!(f["type"], "file");
    assert_eq!(f["hashes"][0]["alg"], "SHA-256");
    assert_eq!(f["hashes"][0]["content"], BASH_SHA256);
    let link = files.iter().find(|f| f["name"] == "/usr/bin/sh").unwrap();
    assert!(link.get("hashes").is_none());
    assert!(arr(link, "properties")
        .iter()
        .any(|p| p["name"] == "fedora-attest:rpm:file:link_target" && p["value"] == "bash"));
    let utc = &arr(comp("tzdata"), "components")[0];
    assert_eq!(utc["hashes"][0]["alg"], "MD5");
    assert_eq!(utc["hashes"][0]["content"], UTC_MD5);

    let deps = arr(&bom, "dependencies");
    let dep_of = |r: &str| -> Vec<&str> {
        deps.iter()
            .find(|d| d["ref"] == r)
            .map(|d| {
                arr(d, "dependsOn")
                    .iter()
                    .map(|x| x.as_str().unwrap())
                    .collect()
            })
            .unwrap()
    };
    assert_eq!(dep_of(PURLS[0].1), vec![PURLS[2].1]);
    assert_eq!(dep_of(PURLS[1].1), vec![PURLS[0].1]);
    assert_eq!(dep_of(PURLS[3].1), vec![PURLS[2].1]);
    assert!(dep_of(PURLS[4].1).is_empty());
    assert_eq!(dep_of(s(&meta["component"], "bom-ref")).len(), 5);
}

// ---------------------------------------------------------------- all formats

#[test]
fn output_is_deterministic_and_content_addressed() {
    let inv = inventory();
    for fmt in [Format::Spdx23, Format::Spdx3, Format::CycloneDx] {
        let a = render(fmt, &inv, &info());
        assert_eq!(
            a,
            render(fmt, &inv, &info()),
            "{fmt:?}: same input, same bytes"
        );
        // The scan path is not content.
        let mut moved = inventory();
        moved.source.location = "/elsewhere".into();
        assert_eq!(
            a,
            render(fmt, &moved, &info()),
            "{fmt:?}: the scan path must not matter"
        );
        // Different content, different document identity.
        let mut other = inventory();
        other.packages[2].sha256_header = Some("f".repeat(64));
        let id = |b: &[u8]| {
            let v = json(b);
            match fmt {
                Format::Spdx23 => v["documentNamespace"].clone(),
                Format::Spdx3 => v["@graph"][3]["spdxId"].clone(),
                Format::CycloneDx => v["serialNumber"].clone(),
            }
        };
        assert_ne!(id(&a), id(&render(fmt, &other, &info())), "{fmt:?}");
        // The creation time is not identity.
        let later = DocumentInfo {
            created: 1_800_000_000,
            ..info()
        };
        assert_eq!(id(&a), id(&render(fmt, &inv, &later)), "{fmt:?}");
    }
}

#[test]
fn without_files_and_without_os_release_documents_still_validate() {
    let mut inv = inventory();
    inv.distro = None;
    inv.keys.clear();
    let info = DocumentInfo {
        include_files: false,
        ..info()
    };
    for (fmt, name, v) in [
        (Format::Spdx23, "x.spdx.json", "spdx23"),
        (Format::Spdx3, "x.spdx3.json", "spdx3"),
        (Format::CycloneDx, "x.cdx.json", "cyclonedx"),
    ] {
        let out = render(fmt, &inv, &info);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            !text.contains(BASH_SHA256),
            "{fmt:?}: no file digests without files"
        );
        assert!(
            text.contains("pkg:rpm/bash@5.2.15-3.azl3?arch=x86_64"),
            "{fmt:?}: purl without a distro"
        );
        validate(v, name, &out);
    }
}

/// Inputs that stress identifiers and escaping: the same NEVRA in two rows, `+`, `~` and
/// `^` in names and versions, a vendor with parentheses, a junk URL, an empty License
/// tag, SHA-224 file digests, control characters and non-ASCII in paths.
#[test]
fn odd_inputs_still_validate() {
    let mut inv = inventory();
    let mut dup = inv.packages[2].clone();
    dup.db_row = 99;
    inv.packages.insert(3, dup);
    let mut odd = inv.packages[0].clone();
    odd.name = "libstdc++".into();
    odd.version = "13.2~rc1^git1".into();
    odd.release = "1+b2.azl3".into();
    odd.epoch = Some(0);
    odd.vendor = Some("Example (Org) <a@b>".into());
    odd.url = Some("http://localhost/x y".into());
    odd.license = String::new();
    odd.source_rpm = Some("not a file name".into());
    odd.file_digest_algo = DigestAlgo::Sha224;
    odd.files = vec![
        file(
            "/usr/lib/caf\u{e9}\n\t\"x\".so",
            0o100755,
            Some(&"ab".repeat(28)),
            0,
            None,
        ),
        file("/usr/lib/bad-digest", 0o100644, Some("xyz"), 0, None),
    ];
    inv.packages.push(odd);
    inv.depends_on = vec![(0, 2), (0, 3), (1, 0), (6, 0)];
    inv.unresolved.push(Unresolved {
        package: 6,
        requirement: Dependency {
            name: "a\nb".into(),
            flags: 8,
            version: "1".into(),
        },
    });
    for (fmt, name, v) in [
        (Format::Spdx23, "o.spdx.json", "spdx23"),
        (Format::Spdx3, "o.spdx3.json", "spdx3"),
        (Format::CycloneDx, "o.cdx.json", "cyclonedx"),
    ] {
        let out = render(fmt, &inv, &info());
        assert_eq!(out, render(fmt, &inv, &info()));
        validate(v, name, &out);
    }
    let bom = json(&render(Format::CycloneDx, &inv, &info()));
    let refs: Vec<&str> = arr(&bom, "components")
        .iter()
        .map(|c| s(c, "bom-ref"))
        .collect();
    let unique: std::collections::BTreeSet<&str> = refs.iter().copied().collect();
    assert_eq!(
        unique.len(),
        refs.len(),
        "bom-refs must be unique: {refs:?}"
    );
    let odd = arr(&bom, "components")
        .iter()
        .find(|c| c["name"] == "libstdc++")
        .unwrap();
    assert!(
        odd.get("licenses").is_none(),
        "an empty License tag asserts nothing"
    );
    let f = &arr(odd, "components")[0];
    assert!(f.get("hashes").is_none(), "CycloneDX cannot name SHA-224");
    assert!(arr(f, "properties")
        .iter()
        .any(|p| p["name"] == "fedora-attest:rpm:file:digest"
            && p["value"] == format!("sha224:{}", "ab".repeat(28))));
    let doc3 = json(&render(Format::Spdx3, &inv, &info()));
    assert!(arr(&doc3, "@graph")
        .iter()
        .any(|o| o["verifiedUsing"][0]["algorithm"] == "sha224"));
}

#[test]
fn empty_inventory_validates() {
    let mut inv = inventory();
    inv.packages.clear();
    inv.depends_on.clear();
    inv.unresolved.clear();
    for (fmt, name, v) in [
        (Format::Spdx23, "e.spdx.json", "spdx23"),
        (Format::Spdx3, "e.spdx3.json", "spdx3"),
        (Format::CycloneDx, "e.cdx.json", "cyclonedx"),
    ] {
        validate(v, name, &render(fmt, &inv, &info()));
    }
}
