//! Unit tests of `format::common` (kept apart: the module is long enough on its own).

use super::*;
use crate::format::props::{FileAttrs, OneLine};
use crate::format::{self, Format};
use crate::inventory::{ImageSource, ImportedKey, SourceKind, Unresolved};
use crate::package::file_flags;

fn mini_inventory() -> Inventory {
    let mut a = bare_package("zlib", "1.3", "1.fc40", "x86_64", Some(1_700_000_000));
    a.license = "Zlib".into();
    a.source_rpm = Some("zlib-1.3-1.fc40.src.rpm".into());
    a.sha256_header = Some("ab".repeat(32));
    a.file_digest_algo = DigestAlgo::Sha256;
    a.files = vec![FileEntry {
        path: "/usr/lib64/libz.so.1".into(),
        digest: Some("cd".repeat(32)),
        size: 10,
        mode: 0o100755,
        user: "root".into(),
        group: "root".into(),
        flags: 0,
        link_target: None,
        mtime: 0,
        verify_flags: 0,
        inode: 1,
        lang: String::new(),
    }];
    let mut b = a.clone();
    b.name = "zlib-devel".into();
    b.license = "zlib and Boost".into();
    b.db_row = 2;
    Inventory {
        source: ImageSource {
            location: "/some/where".into(),
            kind: SourceKind::RootDir,
            rpmdb_path: "usr/lib/sysimage/rpm/rpmdb.sqlite".into(),
            rpmdb_format: crate::rpmdb::DbFormat::Sqlite,
            manifest_digest: Some(format!("sha256:{}", "ef".repeat(32))),
            config_digest: None,
            platform: None,
            layers: Vec::new(),
            escaping_links: Vec::new(),
        },
        distro: Some(crate::osrelease::parse(
            "ID=fedora\nVERSION_ID=40\nNAME=\"Fedora Linux\"\n",
        )),
        packages: vec![a, b],
        keys: vec![ImportedKey {
            db_row: 9,
            short_id: "a15b79cc".into(),
            created_hex: "63d04f1f".into(),
            summary: "Fedora (40) <fedora-40-primary@fedoraproject.org> public key".into(),
            armored: String::new(),
        }],
        depends_on: vec![(1, 0)],
        unresolved: vec![Unresolved {
            package: 1,
            requirement: Dependency {
                name: "pkgconfig".into(),
                flags: 0,
                version: String::new(),
            },
        }],
        drift: None,
    }
}

fn info(created: i64) -> DocumentInfo {
    DocumentInfo {
        created,
        tool_name: "sbom".into(),
        tool_version: "0.1.0".into(),
        include_files: true,
    }
}

fn render(f: Format, inv: &Inventory, info: &DocumentInfo) -> Vec<u8> {
    let mut v = Vec::new();
    format::write(f, inv, info, &mut v).unwrap();
    v
}

#[test]
fn every_format_is_deterministic() {
    let inv = mini_inventory();
    for f in [Format::Spdx23, Format::Spdx3, Format::CycloneDx] {
        let a = render(f, &inv, &info(1_700_000_000));
        assert_eq!(a, render(f, &inv, &info(1_700_000_000)), "{f:?}");
        assert_eq!(
            a,
            render(f, &mini_inventory(), &info(1_700_000_000)),
            "{f:?}"
        );
        let text = String::from_utf8(a).unwrap();
        assert!(!text.contains("/some/where"), "{f:?}: the scan path leaked");
        assert!(
            text.contains("2023-11-14T22:13:20Z"),
            "{f:?}: creation time from DocumentInfo"
        );
    }
}

#[test]
fn document_identity_follows_content_not_time() {
    let inv = mini_inventory();
    let i1 = info(1);
    let m1 = Model::new(&inv, &i1);
    let i2 = info(2);
    let m2 = Model::new(&inv, &i2);
    assert_eq!(m1.document_uuid("x"), m2.document_uuid("x"));
    assert_ne!(m1.document_uuid("x"), m1.document_uuid("y"));
    let mut other = mini_inventory();
    other.packages[0].sha256_header = Some("00".repeat(32));
    assert_ne!(
        m1.document_uuid("x"),
        Model::new(&other, &i1).document_uuid("x")
    );
}

#[test]
fn model_groups_and_classifies() {
    let inv = mini_inventory();
    let i = info(0);
    let m = Model::new(&inv, &i);
    assert_eq!(m.sources.len(), 1);
    assert_eq!(m.sources[0].binaries, vec![0, 1]);
    assert_eq!(
        m.sources[0].purl.as_deref(),
        Some("pkg:rpm/fedora/zlib@1.3-1.fc40?arch=src&distro=fedora-40")
    );
    assert_eq!(m.deps, vec![vec![], vec![0]]);
    assert_eq!(m.unresolved[1].len(), 1);
    assert!(matches!(m.licenses[0], License::Spdx(_)));
    assert!(matches!(m.licenses[1], License::Other { .. }));
    assert_eq!(
        m.license_refs.values().collect::<Vec<_>>(),
        vec!["zlib and Boost"]
    );
    assert!(m
        .document_properties()
        .iter()
        .any(|p| p.name == "imported_key"
            && p.value
                .starts_with("gpg-pubkey-a15b79cc-63d04f1f created=2023-01-24T")));
}

#[test]
fn duplicate_nevras_get_distinct_ids() {
    let mut inv = mini_inventory();
    let mut dup = inv.packages[0].clone();
    dup.db_row = 7;
    inv.packages.insert(1, dup);
    inv.depends_on.clear();
    inv.unresolved.clear();
    let i = info(0);
    let m = Model::new(&inv, &i);
    assert_ne!(m.slugs[0], m.slugs[1]);
    assert!(m.slugs[1].ends_with("-row7"), "{}", m.slugs[1]);
    assert_ne!(m.bom_refs[0], m.bom_refs[1]);
    assert_eq!(m.purls[0], m.purls[1]);
}

#[test]
fn same_row_duplicates_keep_their_documented_ids() {
    // Rows are unique in a real database, but a sqlite table without a primary key can
    // repeat one: ids continue `-row<row>-2`, `-3`, ..., as they always did.
    let mut inv = mini_inventory();
    let first = inv.packages[0].clone();
    inv.packages = vec![first.clone(), first.clone(), first.clone(), first];
    inv.depends_on.clear();
    inv.unresolved.clear();
    let i = info(0);
    let m = Model::new(&inv, &i);
    let s = "zlib-1.3-1.fc40.x86-64";
    assert_eq!(
        m.slugs,
        [
            s.to_owned(),
            format!("{s}-row0"),
            format!("{s}-row0-2"),
            format!("{s}-row0-3")
        ]
    );
    let p = &m.purls[0];
    assert_eq!(
        m.bom_refs,
        [
            p.clone(),
            format!("{p}#rpmdb-row-0"),
            format!("{p}#rpmdb-row-0-1"),
            format!("{p}#rpmdb-row-0-2")
        ]
    );
}

#[test]
fn unique_resumes_after_taken_suffixes() {
    let mut u = Unique::default();
    assert!(u.claim("a"));
    assert!(!u.claim("a"));
    assert!(u.claim("a-3"));
    assert_eq!(u.suffixed("a", 2), "a-2");
    assert_eq!(u.suffixed("a", 2), "a-4", "a-3 was taken by someone else");
    assert!(u.claim("a-5"));
    assert_eq!(u.suffixed("a", 2), "a-6");
    assert_eq!(u.suffixed("b", 1), "b-1");
}

#[test]
fn colliding_license_ref_ids_keep_both_texts() {
    // `classify` derives the id from the text alone; two texts that differ only around
    // the edges share `LicenseRef-BSD` (as two texts sharing a digest suffix would).
    let mut inv = mini_inventory();
    inv.packages[0].license = "BSD".into();
    inv.packages[1].license = "BSD ".into();
    let mut third = inv.packages[1].clone();
    third.db_row = 3;
    third.name = "zlib-static".into();
    third.license = "BSD".into();
    inv.packages.push(third);
    let i = info(0);
    let m = Model::new(&inv, &i);
    let ids: Vec<&str> = m.licenses.iter().map(License::spdx_value).collect();
    assert_eq!(
        ids,
        ["LicenseRef-BSD", "LicenseRef-BSD-2", "LicenseRef-BSD"]
    );
    assert_eq!(
        m.license_refs.iter().collect::<Vec<_>>(),
        [
            (&"LicenseRef-BSD".to_owned(), &"BSD".to_owned()),
            (&"LicenseRef-BSD-2".to_owned(), &"BSD ".to_owned())
        ]
    );
}

#[test]
fn slugs_keep_safe_characters_and_disambiguate_the_rest() {
    assert_eq!(
        id_slug("bash-5.2.15-1.azl3.x86_64"),
        "bash-5.2.15-1.azl3.x86-64"
    );
    assert_eq!(id_slug("tzdata-2024a-1.noarch"), "tzdata-2024a-1.noarch");
    assert_eq!(id_slug("perl-4:5.36.0-1.noarch"), "perl-4-5.36.0-1.noarch");
    assert_ne!(id_slug("a~b"), id_slug("a+b"));
    assert_ne!(id_slug("a+b"), "a-b");
    assert!(id_slug("a b+c~d^e")
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
}

#[test]
fn uuid_v5_matches_rfc4122_example() {
    // Python: uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com")
    assert_eq!(
        uuid_v5(&UUID_NS_URL, b"https://example.com"),
        "4fd35a71-71ef-5a55-a9d9-aa75c889a6d0"
    );
}

#[test]
fn srpm_names_parse() {
    assert_eq!(
        parse_srpm_name("glibc-2.38-1.azl3.src.rpm"),
        Some(("glibc", "2.38", "1.azl3"))
    );
    assert_eq!(
        parse_srpm_name("python-foo-bar-1.0-2.nosrc.rpm"),
        Some(("python-foo-bar", "1.0", "2"))
    );
    assert_eq!(parse_srpm_name("weird.src.rpm"), None);
    assert_eq!(parse_srpm_name("x-1-2.rpm"), None);
}

#[test]
fn web_urls_are_plain_or_rejected() {
    assert!(web_url("https://www.gnu.org/software/bash").is_some());
    assert!(web_url("http://example.com:8080/x?y=1#z").is_some());
    assert!(web_url("ftp://ftp.example.org/pub").is_some());
    for bad in [
        "(none)",
        "",
        "www.example.com",
        "http://localhost/",
        "http://1.2.3.4/",
        "https://ex ample.com",
        "https://user@example.com/",
        "file:///etc",
        "https://exämple.com",
    ] {
        assert!(web_url(bad).is_none(), "{bad}");
    }
}

#[test]
fn web_urls_need_valid_escapes_no_brackets_one_fragment() {
    // What the CycloneDX 1.6 schema's iri-reference format rejects (RFC 3987).
    for bad in [
        "https://example.com/%zz",
        "https://example.com/a%",
        "https://example.com/a%4",
        "https://example.com/%4g",
        "https://example.com/[x]",
        "https://example.com/?q=]",
        "https://example.com/#a#b",
    ] {
        assert!(web_url(bad).is_none(), "{bad}");
    }
    for good in [
        "https://example.com/a%20b",
        "https://example.com/%C3%A9?x=%2f#frag/?x",
        "https://example.com/#",
    ] {
        assert_eq!(web_url(good), Some(good));
    }
}

#[test]
fn cpe_bindings() {
    assert_eq!(cpe_kind("cpe:/o:fedoraproject:fedora:40"), Some("cpe22"));
    assert_eq!(
        cpe_kind("cpe:2.3:o:microsoft:azurelinux:4.0:*:*:*:*:*:*:*"),
        Some("cpe23")
    );
    assert_eq!(
        cpe_kind("cpe:2.3:o:microsoft:azure linux:4.0:*:*:*:*:*:*:*"),
        None
    );
    assert_eq!(cpe_kind("cpe:2.3:o:x"), None);
    assert_eq!(cpe_kind("fedora"), None);
}

#[test]
fn file_attrs_render() {
    let f = FileEntry {
        path: "/etc/my file.conf".into(),
        digest: None,
        size: 12,
        mode: 0o100644,
        user: "root".into(),
        group: "wheel".into(),
        flags: file_flags::CONFIG | file_flags::NOREPLACE | (1 << 20),
        link_target: None,
        mtime: 0,
        verify_flags: 0,
        inode: 0,
        lang: String::new(),
    };
    assert_eq!(
        FileAttrs {
            file: &f,
            escape: true
        }
        .to_string(),
        "kind=regular mode=0100644 owner=root:wheel size=12 flags=config,noreplace,0x100000"
    );
    assert_eq!(Escaped("/a b%=\n").to_string(), "/a%20b%25%3D%0A");
    assert_eq!(Escaped("café.é").to_string(), "caf%C3%A9.%C3%A9");
    assert_eq!(OneLine("a\nb\\").to_string(), "a\\nb\\\\");
}
