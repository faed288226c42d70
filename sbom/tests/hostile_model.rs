//! Hostile inventories against dependency resolution and the document model: headers that
//! repeat one name tens of thousands of times, one NEVRA in thousands of rows, thousands of
//! signatures, names that collide with our own identifiers, License texts whose digest
//! suffixes collide, vendors and URLs the formats' grammars reject.
//!
//! Each input is built in memory. The timed tests run the work on a thread and fail when it
//! takes longer than a bound far above what the linear code needs (milliseconds in a debug
//! build) and far below what the quadratic code took (minutes in a debug build).

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::validate;
use sbom::deps;
use sbom::format::common::{web_url, Model};
use sbom::format::props::package_properties;
use sbom::format::{self, DocumentInfo, Format};
use sbom::inventory::{ImageSource, Inventory, SourceKind, Unresolved};
use sbom::osrelease::OsRelease;
use sbom::package::{
    sense, Dependency, DigestAlgo, FileEntry, HeaderSignature, Package, SignatureTag,
};
use sbom::rpm::vercmp::ranges_overlap;
use sbom::rpmdb::DbFormat;
use serde_json::Value;

/// Runs `f` on its own thread; panics when it has not finished after `limit`.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            eprintln!("{what}: {:?}", start.elapsed());
            v
        }
        Err(_) => panic!("{what}: not done after {limit:?} (quadratic?)"),
    }
}

const LIMIT: Duration = Duration::from_secs(20);

fn dep(name: &str, flags: u32, version: &str) -> Dependency {
    Dependency {
        name: name.into(),
        flags,
        version: version.into(),
    }
}

fn file(path: &str) -> FileEntry {
    FileEntry {
        path: path.into(),
        mode: 0o100644,
        user: "root".into(),
        group: "root".into(),
        ..FileEntry::default()
    }
}

fn package(row: u32, name: &str) -> Package {
    Package {
        db_row: row,
        name: name.into(),
        version: "1.0".into(),
        release: "1.fc40".into(),
        arch: "x86_64".into(),
        summary: format!("The {name} package"),
        license: "MIT".into(),
        vendor: Some("Fedora Project".into()),
        source_rpm: Some(format!("{name}-1.0-1.fc40.src.rpm")),
        build_time: Some(1_700_000_000),
        size: 1,
        sha256_header: Some(format!("{row:064x}")),
        computed_sha256_header: Some(format!("{row:064x}")),
        file_digest_algo: DigestAlgo::Sha256,
        provides: vec![dep(name, 0, "")],
        ..Package::default()
    }
}

fn inventory(packages: Vec<Package>) -> Inventory {
    Inventory {
        source: ImageSource {
            location: "/tmp/x".into(),
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
            id: "fedora".into(),
            id_like: Vec::new(),
            name: "Fedora Linux".into(),
            version_id: Some("40".into()),
            pretty_name: None,
            cpe_name: None,
            variant_id: None,
            home_url: None,
        }),
        packages,
        keys: Vec::new(),
        depends_on: Vec::new(),
        unresolved: Vec::new(),
        drift: None,
    }
}

fn info() -> DocumentInfo {
    DocumentInfo {
        created: 1_700_000_000,
        tool_name: "sbom".into(),
        tool_version: "0.1.0".into(),
        include_files: true,
    }
}

fn render(f: Format, inv: &Inventory) -> Vec<u8> {
    let mut v = Vec::new();
    format::write(f, inv, &info(), &mut v).unwrap();
    v
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("output is JSON")
}

// ---------------------------------------------------------------------------------------
// Dependency resolution

const N_DEPS: usize = 50_000;

/// One header whose provides and requires are the same name N times (b_deps_quadratic.py):
/// every requirement used to be compared with every provider, N² range checks.
#[test]
fn deps_one_package_repeating_a_capability() {
    let mut p = package(1, "dq");
    p.provides = vec![dep("x", 0, ""); N_DEPS];
    p.requires = vec![dep("x", 0, ""); N_DEPS];
    let r = within(LIMIT, "same-package repeats", move || {
        deps::resolve(&[p]).unwrap()
    });
    assert!(r.depends_on.is_empty());
    assert!(r.unresolved.is_empty());
}

/// `prov` provides `x` N times, `req` requires it N times (b3_deps_quadratic_no_overlap.py):
/// N² range checks and N² insertions of the same edge.
#[test]
fn deps_repeated_capability_across_packages() {
    let mut prov = package(1, "prov");
    prov.provides = vec![dep("x", sense::EQUAL, "1.0-1"); N_DEPS];
    let mut req = package(2, "req");
    req.requires = vec![dep("x", sense::GREATER | sense::EQUAL, "1.0"); N_DEPS];
    let r = within(LIMIT, "cross-package repeats", move || {
        deps::resolve(&[prov, req]).unwrap()
    });
    assert_eq!(r.depends_on, vec![(1, 0)]);
    assert!(r.unresolved.is_empty());
}

/// `owner` lists `/x` N times, `req` requires `/x` N times (b2_file_requires_quadratic.py):
/// the owner list kept one entry per listed file.
#[test]
fn deps_repeated_file_requirement() {
    let mut owner = package(1, "owner");
    owner.files = vec![file("/x"); N_DEPS];
    let mut req = package(2, "req");
    req.requires = vec![dep("/x", 0, ""); N_DEPS];
    let r = within(LIMIT, "file requirement repeats", move || {
        deps::resolve(&[owner, req]).unwrap()
    });
    assert_eq!(r.depends_on, vec![(1, 0)]);
    assert!(r.unresolved.is_empty());
}

/// `prov` provides `x` in N distinct versions, `req` requires N other distinct versions
/// (session 4's audit): nothing repeats, so every pair is compared, N² version
/// comparisons (17 s for 20,000 in a release build). Resolution now stops at its work
/// budget with an error naming the package and capability.
#[test]
fn deps_distinct_versions_stop_at_the_work_budget() {
    const N: usize = 20_000;
    let mut prov = package(1, "prov");
    prov.provides = (0..N)
        .map(|i| dep("x", sense::EQUAL, &format!("1.{i}-1")))
        .collect();
    let mut req = package(2, "req");
    req.requires = (0..N)
        .map(|i| dep("x", sense::EQUAL, &format!("2.{i}")))
        .collect();
    let name = req.nevra();
    let e = within(LIMIT, "distinct versions", move || {
        deps::resolve(&[prov, req]).err()
    })
    .expect("refused");
    assert_eq!(e.package, name);
    assert_eq!(e.name, "x");
    assert_eq!(e.providers, N);
    assert!(e.to_string().contains("stall resolution"), "{e}");
}

/// The resolution as it was written before it was made linear in repeats: the reference
/// for what the edges and unresolved requirements must be.
fn reference_resolve(packages: &[Package]) -> (Vec<(usize, usize)>, Vec<Unresolved>) {
    let internal = |d: &Dependency| d.flags & sense::RPMLIB != 0 || d.name.starts_with("rpmlib(");
    let mut providers: HashMap<&str, Vec<(usize, &Dependency)>> = HashMap::new();
    let mut owners: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        for d in &p.provides {
            providers.entry(d.name.as_str()).or_default().push((i, d));
        }
        for f in &p.files {
            owners.entry(f.path.as_str()).or_default().push(i);
        }
    }
    let mut edges = BTreeSet::new();
    let mut unresolved = Vec::new();
    for (a, p) in packages.iter().enumerate() {
        for req in p.requires.iter().filter(|d| !internal(d)) {
            let mut found = false;
            for &(b, prov) in providers.get(req.name.as_str()).into_iter().flatten() {
                if ranges_overlap(prov.flags, &prov.version, req.flags, &req.version) {
                    found = true;
                    if a != b {
                        edges.insert((a, b));
                    }
                }
            }
            if req.name.starts_with('/') {
                for &b in owners.get(req.name.as_str()).into_iter().flatten() {
                    found = true;
                    if a != b {
                        edges.insert((a, b));
                    }
                }
            }
            if !found {
                unresolved.push(Unresolved {
                    package: a,
                    requirement: req.clone(),
                });
            }
        }
    }
    (edges.into_iter().collect(), unresolved)
}

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random small databases (shared names, versioned ranges, self-provides, repeats, files,
/// `rpmlib(...)`) resolve exactly as the reference does: same edges, same unresolved
/// requirements in the same order.
#[test]
fn deps_equal_the_reference_on_random_databases() {
    const NAMES: [&str; 6] = ["a", "b", "c", "/bin/sh", "/usr/lib/x", "rpmlib(Foo)"];
    const VERSIONS: [&str; 6] = ["", "1", "1.0", "2", "1:0.5", "1.0-2"];
    const SENSES: [u32; 6] = [
        0,
        sense::EQUAL,
        sense::LESS,
        sense::GREATER,
        sense::LESS | sense::EQUAL,
        sense::GREATER | sense::EQUAL,
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let n = 1 + rng.below(6);
        let mut packages = Vec::new();
        for i in 0..n {
            let mut p = package(i as u32, &format!("p{i}"));
            let d = |rng: &mut Rng| {
                let mut flags = SENSES[rng.below(SENSES.len())];
                if rng.below(10) == 0 {
                    flags |= sense::PREREQ;
                }
                dep(
                    NAMES[rng.below(NAMES.len())],
                    flags,
                    VERSIONS[rng.below(VERSIONS.len())],
                )
            };
            p.provides = (0..rng.below(5)).map(|_| d(&mut rng)).collect();
            p.requires = (0..rng.below(6)).map(|_| d(&mut rng)).collect();
            if rng.below(3) == 0 {
                let r = p.requires.clone();
                p.requires.extend(r); // repeats, as a hostile header has them
            }
            p.files = (0..rng.below(3))
                .map(|_| file(NAMES[3 + rng.below(2)]))
                .collect();
            packages.push(p);
        }
        let got = deps::resolve(&packages).unwrap();
        let (edges, unresolved) = reference_resolve(&packages);
        assert_eq!(got.depends_on, edges, "round {round}: {packages:?}");
        assert_eq!(got.unresolved, unresolved, "round {round}: {packages:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Document model

/// 50,000 signatures with distinct issuer key ids (h_signing_key_ids.py): the key ids were
/// deduplicated by a list scan, N²/2 comparisons. Each id once, in first-seen order.
#[test]
fn signing_key_ids_dedup_in_linear_time() {
    const N: usize = 50_000;
    let mut p = package(1, "sigs");
    let sig = |k: usize| HeaderSignature {
        tag: SignatureTag::Openpgp,
        version: 3,
        pubkey_algo: 1,
        hash_algo: 8,
        created: None,
        key_id: Some(format!("{k:016x}")),
        fingerprint: None,
    };
    p.signatures = (0..N).map(|k| sig(N - k)).collect();
    p.signatures.push(sig(N)); // a repeat of the first
    p.signatures.push(sig(7));
    let ids = within(LIMIT, "signing key ids", move || {
        package_properties(&p, &[])
            .into_iter()
            .filter(|prop| prop.name == "signing_key_id")
            .map(|prop| prop.value.into_owned())
            .collect::<Vec<_>>()
    });
    let want: Vec<String> = (0..N).map(|k| format!("{:016x}", N - k)).collect();
    assert_eq!(ids, want);
}

/// A sqlite `Packages` table without a primary key: one NEVRA in 10,000 rows that all say
/// row 1 (m_duplicate_rows.py). Each duplicate restarted the suffix search at 2.
#[test]
fn same_nevra_in_many_rows_gets_unique_ids_in_linear_time() {
    const N: usize = 10_000;
    let inv = inventory(vec![package(1, "dup"); N]);
    let (slugs, refs) = within(LIMIT, "ids for duplicate rows", move || {
        let i = info();
        let m = Model::new(&inv, &i);
        (m.slugs, m.bom_refs)
    });
    assert_eq!(slugs.iter().collect::<HashSet<_>>().len(), N);
    assert_eq!(refs.iter().collect::<HashSet<_>>().len(), N);
    assert_eq!(slugs[0], "dup-1.0-1.fc40.x86-64");
    assert_eq!(slugs[1], "dup-1.0-1.fc40.x86-64-row1");
    assert_eq!(
        slugs[N - 1],
        format!("dup-1.0-1.fc40.x86-64-row1-{}", N - 1)
    );
    let purl = "pkg:rpm/fedora/dup@1.0-1.fc40?arch=x86_64&distro=fedora-40";
    assert_eq!(refs[0], purl);
    assert_eq!(refs[1], format!("{purl}#rpmdb-row-1"));
    assert_eq!(refs[N - 1], format!("{purl}#rpmdb-row-1-{}", N - 2));
}

/// All `@id`/`spdxId` values of an SPDX 3 graph, with the repeated ones.
fn spdx3_duplicate_ids(doc: &Value) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut dups = Vec::new();
    for e in doc["@graph"].as_array().unwrap() {
        if let Some(id) = e
            .get("spdxId")
            .or_else(|| e.get("@id"))
            .and_then(Value::as_str)
        {
            if !seen.insert(id.to_owned()) {
                dups.push(id.to_owned());
            }
        }
    }
    dups
}

/// A vendor named `sbom` (the tool's own slug, g_spdx3_agent_dup.py): its Organization
/// got the creating SoftwareAgent's id, `<base>/agent/sbom`.
#[test]
fn spdx3_vendor_named_like_the_tool_gets_its_own_id() {
    let mut p = package(1, "p");
    p.vendor = Some("sbom".into());
    let mut q = package(2, "q");
    q.vendor = Some("sbom-2".into());
    let inv = inventory(vec![p, q]);
    let out = render(Format::Spdx3, &inv);
    let doc = json(&out);
    assert_eq!(spdx3_duplicate_ids(&doc), Vec::<String>::new());
    let graph = doc["@graph"].as_array().unwrap();
    let id_of = |ty: &str, name: &str| {
        graph
            .iter()
            .find(|e| e["type"] == ty && e["name"] == name)
            .and_then(|e| e["spdxId"].as_str())
            .unwrap_or_else(|| panic!("no {ty} {name}"))
            .to_owned()
    };
    let agent = id_of("SoftwareAgent", "sbom");
    let org = id_of("Organization", "sbom");
    assert!(agent.ends_with("/agent/sbom"), "{agent}");
    assert_ne!(org, agent);
    assert_ne!(org, id_of("Organization", "sbom-2"));
    validate("spdx3", "agent.spdx3.json", &out);
}

/// 10,000 distinct vendors whose slugs collide (`:` and `_` become `-`): each
/// Organization id restarted its suffix search at 2.
#[test]
fn spdx3_colliding_vendor_slugs_in_linear_time() {
    const N: usize = 10_000;
    let packages: Vec<Package> = (0..N)
        .map(|k| {
            let mut p = package(k as u32, &format!("p{k}"));
            // k in base 3 over `-`, `_`, `:`: distinct strings, one slug.
            let mut v = String::from("v");
            let mut x = k;
            for _ in 0..9 {
                v.push(['-', '_', ':'][x % 3]);
                x /= 3;
            }
            p.vendor = Some(v);
            p
        })
        .collect();
    let inv = inventory(packages);
    let out = within(LIMIT, "colliding vendor slugs", move || {
        render(Format::Spdx3, &inv)
    });
    let doc = json(&out);
    assert_eq!(spdx3_duplicate_ids(&doc), Vec::<String>::new());
    let orgs = doc["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "Organization")
        .count();
    assert_eq!(orgs, N);
}

/// Two License texts that share the first 32 bits of their SHA-256
/// (e_licenseref_collision.py): both got `LicenseRef-GPLv2-33c32061` and the second
/// package's text appeared nowhere in the SPDX documents.
#[test]
fn license_texts_with_colliding_digest_prefixes_are_both_declared() {
    let (a, b) = ("GPLv2${]`:,}<#~", "GPLv2`<%|<;|~[@");
    let mut pa = package(1, "pkg-a");
    pa.license = a.into();
    let mut pb = package(2, "pkg-b");
    pb.license = b.into();
    let inv = inventory(vec![pa, pb]);

    let out = render(Format::Spdx23, &inv);
    let doc = json(&out);
    let texts: HashMap<&str, &str> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["licenseId"].as_str().unwrap(),
                l["extractedText"].as_str().unwrap(),
            )
        })
        .collect();
    let declared = |name: &str| {
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["licenseDeclared"].as_str())
            .unwrap()
    };
    assert_ne!(declared("pkg-a"), declared("pkg-b"));
    assert_eq!(texts.get(declared("pkg-a")), Some(&a));
    assert_eq!(texts.get(declared("pkg-b")), Some(&b));
    validate("spdx23", "lref.spdx.json", &out);

    let out3 = render(Format::Spdx3, &inv);
    let doc3 = json(&out3);
    let texts3: Vec<&str> = doc3["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "simplelicensing_SimpleLicensingText")
        .map(|e| e["simplelicensing_licenseText"].as_str().unwrap())
        .collect();
    assert!(texts3.contains(&a) && texts3.contains(&b), "{texts3:?}");
    assert_eq!(spdx3_duplicate_ids(&doc3), Vec::<String>::new());
    validate("spdx3", "lref.spdx3.json", &out3);
}

/// Vendors `Organization: <vendor>` cannot carry (f2_vendor.py): more than one line, a
/// control character, a trailing `(...)` that a reader takes for an email. The supplier
/// is NOASSERTION and the vendor, as written, an annotation line.
#[test]
fn spdx23_vendor_that_is_no_actor_name_is_noassertion() {
    let odd = [
        "ACME\nInc",
        "(ACME)",
        "ACME (Europe)",
        "ACME\rInc",
        "ACME\u{7}",
        "ACME\u{2028}Inc",
    ];
    let plain = [
        "Red Hat, Inc.",
        "ACME (Europe) Ltd",
        "Example (Org) <a@b>",
        "(ACME",
    ];
    let packages: Vec<Package> = odd
        .iter()
        .chain(&plain)
        .enumerate()
        .map(|(k, v)| {
            let mut p = package(k as u32, &format!("p{k}"));
            p.vendor = Some((*v).into());
            p
        })
        .collect();
    let inv = inventory(packages);
    let out = render(Format::Spdx23, &inv);
    let doc = json(&out);
    let pkgs = doc["packages"].as_array().unwrap();
    let pkg = |k: usize| {
        pkgs.iter()
            .find(|p| p["name"] == format!("p{k}").as_str())
            .unwrap()
    };
    for (k, v) in odd.iter().enumerate() {
        let p = pkg(k);
        assert_eq!(p["supplier"], "NOASSERTION", "{v:?}");
        let note = p["annotations"][0]["comment"].as_str().unwrap();
        let escaped = v.replace('\n', "\\n").replace('\r', "\\r");
        assert!(
            note.lines()
                .any(|l| l.strip_prefix("fedora-attest:rpm:vendor=") == Some(escaped.as_str())),
            "{v:?} not kept: {note}"
        );
    }
    for (k, v) in plain.iter().enumerate() {
        let p = pkg(odd.len() + k);
        assert_eq!(p["supplier"], format!("Organization: {v}").as_str());
        let note = p["annotations"][0]["comment"].as_str().unwrap();
        assert!(!note.contains("fedora-attest:rpm:vendor="), "{note}");
    }
    validate("spdx23", "vendor.spdx.json", &out);
}

/// URLs the CycloneDX 1.6 schema (`iri-reference`) rejects (o_url.py): bad
/// percent-escapes, brackets outside an IP-literal host, a second `#`. They stay a `url`
/// property instead of becoming the `website`.
#[test]
fn urls_the_schema_rejects_stay_properties() {
    let bad = [
        "https://example.com/%zz",
        "https://example.com/a%",
        "https://example.com/[x]",
        "https://example.com/#a#b",
    ];
    let good = "https://example.com/a%20b?q=1#top";
    for u in bad {
        assert_eq!(web_url(u), None, "{u}");
    }
    assert_eq!(web_url(good), Some(good));
    let packages: Vec<Package> = bad
        .iter()
        .chain([&good])
        .enumerate()
        .map(|(k, u)| {
            let mut p = package(k as u32, &format!("p{k}"));
            p.url = Some((*u).into());
            p
        })
        .collect();
    let inv = inventory(packages);
    let out = render(Format::CycloneDx, &inv);
    let bom = json(&out);
    for c in bom["components"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let k: usize = name[1..].parse().unwrap();
        let site = c["externalReferences"][0]["url"].as_str();
        let prop = c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "fedora-attest:rpm:url")
            .and_then(|p| p["value"].as_str());
        if k < bad.len() {
            assert_eq!((site, prop), (None, Some(bad[k])));
        } else {
            assert_eq!((site, prop), (Some(good), None));
        }
    }
    validate("cyclonedx", "url.cdx.json", &out);
    validate("spdx23", "url.spdx.json", &render(Format::Spdx23, &inv));
}
