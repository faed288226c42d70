//! Container images as input, and drift: the sample image composed by the factory
//! (testdata/factory/compose.py) into an OCI layout, an OCI archive and a docker-archive
//! must scan to the same packages and files; the whiteout and the opaque directory of its
//! overlay layer must show; hostile archives must be refused; and drift must agree with
//! Debian's `rpm -Va`. Missing tools (python3, rpm) print SKIPPED, or fail under CI=true.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sbom::drift::{self, Change, FileClass, PackageStatus};
use sbom::image::{Image, ImageError, Limits};
use sbom::scan::{self, ImageOptions, ScanError};
use sha2::{Digest, Sha256};

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn skip(what: &str) {
    assert!(!ci(), "{what}, and CI=true requires it");
    eprintln!("SKIPPED: {what}");
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Copies the committed sample to a temp dir and composes its images there.
fn composed() -> Option<(tempfile::TempDir, serde_json::Value)> {
    if !have("python3") {
        skip("python3 not available; the factory's compose step cannot run");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    common::cp_a(&common::testdata("sample/."), dir.path());
    let out = Command::new("python3")
        .arg(common::testdata("factory/compose.py"))
        .arg("--out")
        .arg(dir.path())
        .arg("--recipe")
        .arg(common::testdata("recipes/sample.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "compose.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Some((dir, rec))
}

fn files_of(img: &Image) -> BTreeSet<(String, String)> {
    img.tree
        .nodes
        .iter()
        .map(|(p, n)| {
            (
                p.clone(),
                format!("{:?} {:o} {} {:?}", n.kind, n.mode(), n.size, n.link),
            )
        })
        .collect()
}

#[test]
fn three_input_forms_give_the_same_packages_and_files() {
    let Some((dir, rec)) = composed() else { return };
    let mut seen = Vec::new();
    for (name, kind) in [
        ("oci", sbom::inventory::SourceKind::OciLayout),
        ("image.oci.tar", sbom::inventory::SourceKind::OciArchive),
        (
            "image.docker.tar",
            sbom::inventory::SourceKind::DockerArchive,
        ),
    ] {
        let (inv, img) = scan::scan_image(&dir.path().join(name), &ImageOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(inv.source.kind, kind);
        assert_eq!(
            inv.source.config_digest.as_deref(),
            rec["config_digest"].as_str(),
            "{name}"
        );
        if kind != sbom::inventory::SourceKind::DockerArchive {
            assert_eq!(
                inv.source.manifest_digest.as_deref(),
                rec["manifest_digest"].as_str()
            );
        } else {
            // docker save has no manifest blob: only the config (the image ID) identifies it.
            assert_eq!(inv.source.manifest_digest, None);
        }
        assert_eq!(inv.source.rpmdb_path, "usr/lib/sysimage/rpm/rpmdb.sqlite");
        assert_eq!(inv.distro.as_ref().unwrap().purl_distro(), "azurelinux-4.0");
        let nevras: Vec<String> = inv.packages.iter().map(|p| p.nevra()).collect();
        seen.push((nevras, files_of(&img)));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
    // Same packages as the root directory the images were composed from.
    let root = scan::scan_root(&dir.path().join("rootfs")).unwrap();
    let nevras: Vec<String> = root.packages.iter().map(|p| p.nevra()).collect();
    assert_eq!(seen[0].0, nevras);
}

#[test]
fn whiteout_deletes_and_opaque_directory_hides_the_lower_layer() {
    let Some((dir, _)) = composed() else { return };
    let (inv, img) = scan::scan_image(&dir.path().join("oci"), &ImageOptions::default()).unwrap();
    let t = &img.tree;
    assert!(t
        .get("usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit")
        .is_none());
    assert!(t.get("usr/share/pki/ca-trust-source").is_some());
    assert!(t.get("usr/share/sample-tools/README.md").is_none());
    assert!(t
        .get("usr/share/sample-tools/data with space.txt")
        .is_none());
    assert!(t.get("usr/share/sample-tools/opaque-note.txt").is_some());
    assert!(
        !t.nodes.keys().any(|k| k.contains(".wh.")),
        "whiteout markers never show"
    );

    let d = drift::check_image(&inv, &img).unwrap();
    let by_name = |n: &str| {
        let i = inv.packages.iter().position(|p| p.name == n).unwrap();
        &d.packages[i]
    };
    let ca = by_name("ca-certificates");
    assert_eq!(ca.status, PackageStatus::Modified);
    assert_eq!(ca.files.len(), 1);
    assert_eq!(
        ca.files[0].path,
        "/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit"
    );
    assert_eq!(ca.files[0].changes, vec![Change::Missing]);
    let tools = by_name("sample-tools");
    let missing: BTreeMap<&str, FileClass> = tools
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.class))
        .collect();
    assert_eq!(
        missing["/usr/share/sample-tools/README.md"],
        FileClass::ExcludedDoc
    );
    assert_eq!(
        missing["/usr/share/sample-tools/data with space.txt"],
        FileClass::Modified
    );
    assert_eq!(by_name("bash").status, PackageStatus::Intact);
    let unowned: BTreeSet<&str> = d.unowned.iter().map(|u| u.path.as_str()).collect();
    for p in [
        "/usr/share/sample-tools/opaque-note.txt",
        "/etc/motd.d/azl",
        "/etc/sample-overlay.conf",
    ] {
        assert!(unowned.contains(p), "{p} unowned: {unowned:?}");
    }
    let note = d
        .unowned
        .iter()
        .find(|u| u.path.ends_with("opaque-note.txt"))
        .unwrap();
    let want = hex::encode(Sha256::digest(
        b"/usr/share/sample-tools is opaque in this layer\n",
    ));
    assert_eq!(note.sha256.as_deref(), Some(want.as_str()));
}

#[test]
fn drift_appears_in_all_three_formats_and_they_validate() {
    let Some((dir, _)) = composed() else { return };
    let (mut inv, img) =
        scan::scan_image(&dir.path().join("image.oci.tar"), &ImageOptions::default()).unwrap();
    inv.drift = Some(drift::check_image(&inv, &img).unwrap());
    let info = sbom::format::DocumentInfo {
        created: 1_700_000_000,
        tool_name: "sbom".into(),
        tool_version: "0.1.0".into(),
        include_files: true,
    };
    for (fmt, v) in [
        (sbom::format::Format::Spdx23, "spdx23"),
        (sbom::format::Format::Spdx3, "spdx3"),
        (sbom::format::Format::CycloneDx, "cyclonedx"),
    ] {
        let mut out = Vec::new();
        sbom::format::write(fmt, &inv, &info, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains("fedora-attest:rpm:drift=modified")
                || text.contains("\"fedora-attest:rpm:drift\""),
            "{v}"
        );
        assert!(
            text.contains("ca-bundle.trust.p11-kit class=modified changes=missing"),
            "{v}"
        );
        assert!(text.contains("opaque-note.txt"), "{v}: unowned file listed");
        assert!(
            text.contains(inv.source.manifest_digest.as_deref().unwrap()),
            "{v}: image identity"
        );
        let path = dir.path().join(format!("out-{v}.json"));
        std::fs::write(&path, &out).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/validators/validate.py");
        let o = Command::new("python3")
            .arg(&script)
            .arg(v)
            .arg(&path)
            .output()
            .unwrap();
        match o.status.code() {
            Some(0) => {}
            Some(77) => skip(&format!("validator for {v} missing")),
            _ => panic!(
                "{v}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        }
    }
}

// ---------------------------------------------------------------- hostile archives

enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
    /// A name written raw into the header, bypassing the tar crate's path checks.
    RawName(&'a str),
}

fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        match e {
            Entry::File(p, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::Link(p, t) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, p, t).unwrap();
            }
            Entry::RawName(p) => {
                h.set_size(1);
                h.set_entry_type(tar::EntryType::Regular);
                let name = &mut h.as_old_mut().name;
                name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                b.append(&h, &b"x"[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes a one-image OCI layout of these layer blobs; `lie` tampers with one layer's
/// stored bytes after its digest went into the manifest.
fn oci_layout(dir: &Path, layers: &[Vec<u8>], lie: Option<usize>) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let h = hex::encode(Sha256::digest(b));
        std::fs::write(blobs.join(&h), b).unwrap();
        (format!("sha256:{h}"), b.len())
    };
    let mut descs = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let (d, size) = put(l);
        if lie == Some(i) {
            // Same name and size, one byte changed: only the digest can tell.
            let mut bad = l.clone();
            let k = bad.len() / 2;
            bad[k] ^= 1;
            std::fs::write(blobs.join(d.trim_start_matches("sha256:")), bad).unwrap();
        }
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size}));
    }
    let (cd, cs) =
        put(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    let m = serde_json::json!({"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}, "layers": descs});
    let (md, ms) = put(m.to_string().as_bytes());
    let idx = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms, "platform": {"os": "linux", "architecture": "amd64"}}]});
    std::fs::write(dir.join("index.json"), idx.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap().path().to_path_buf())
        .collect()
}

/// Opens a hostile layout with `limits`; asserts nothing was written into the layout.
fn refuse(layers: &[Vec<u8>], lie: Option<usize>, limits: Limits) -> ImageError {
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), layers, lie);
    let before = listing(dir.path());
    let r = Image::open(dir.path(), None, limits);
    assert_eq!(
        before,
        listing(dir.path()),
        "the reader wrote into the image"
    );
    match r {
        Ok(_) => panic!("hostile image accepted"),
        Err(e) => {
            eprintln!("refused as expected: {e}");
            e
        }
    }
}

#[test]
fn paths_longer_than_path_max_are_refused_and_deep_ones_read() {
    // 255 directories of 15 bytes and a file: 4,084 bytes, nearly as deep and long as allowed.
    let deep = vec!["ddddddddddddddd"; 255].join("/") + "/leaf";
    assert_eq!(deep.len(), 4_084);
    let dir = tempfile::tempdir().unwrap();
    oci_layout(
        dir.path(),
        &[gzip(&tar_of(&[Entry::File(&deep, b"bottom")]))],
        None,
    );
    let img = Image::open(dir.path(), None, Limits::default()).expect("a deep path opens");
    assert_eq!(img.read_file(&deep, 10).unwrap().unwrap().1, b"bottom");

    // 17 components of 250 bytes (4,266 bytes): no program could open the file by name.
    // The error prints the path's start, not all of it.
    let long = vec!["d".repeat(250); 17].join("/");
    let e = refuse(
        &[gzip(&tar_of(&[Entry::File(&long, b"x")]))],
        None,
        Limits::default(),
    );
    match &e {
        ImageError::Hostile { path, reason, .. } => {
            assert!(reason.contains("PATH_MAX"), "{reason}");
            assert!(path.len() < 130 && path.starts_with("ddddd"), "{path}");
        }
        other => panic!("expected Hostile, got {other}"),
    }

    // 257 directories deep: resolving costs depth squared per entry (10 ms an entry at
    // 2,000 levels), and no real image nests so deep.
    let e = refuse(
        &[gzip(&tar_of(&[Entry::File(
            &("d/".repeat(256) + "f"),
            b"x",
        )]))],
        None,
        Limits::default(),
    );
    assert!(
        matches!(&e, ImageError::Hostile { reason, .. } if reason.contains("257 directories deep")),
        "{e}"
    );

    // A short entry path that grows past PATH_MAX through a symlinked parent.
    let target = vec!["d".repeat(200); 20].join("/");
    let through = format!("s/{}f", "x/".repeat(100));
    let e = refuse(
        &[gzip(&tar_of(&[
            Entry::Link("s", &target),
            Entry::File(&through, b"x"),
        ]))],
        None,
        Limits::default(),
    );
    assert!(
        matches!(&e, ImageError::Hostile { reason, .. } if reason.contains("resolves through symlinks")),
        "{e}"
    );

    // Deep paths under 100 distinct top directories: 250 implicit directories each, ~19 MB
    // of tree from a layer of a few KB. An 8 MiB tree limit refuses it; the default opens it.
    let names: Vec<String> = (0..100)
        .map(|i| format!("top{i}/{}f", "dddddddddddddd/".repeat(250)))
        .collect();
    let entries: Vec<Entry> = names.iter().map(|n| Entry::File(n, b"x")).collect();
    let layer = gzip(&tar_of(&entries));
    let small = Limits {
        max_tree: 8 << 20,
        ..Limits::default()
    };
    let e = refuse(std::slice::from_ref(&layer), None, small);
    assert!(
        matches!(&e, ImageError::TooLarge { what, limit } if what.contains("file tree") && *limit == 8 << 20),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &[layer], None);
    Image::open(dir.path(), None, Limits::default()).expect("within the default tree limit");

    // A symlink target longer than Linux stores.
    let target = "t/".repeat(2_500);
    let e = refuse(
        &[gzip(&tar_of(&[Entry::Link("usr/long", &target)]))],
        None,
        Limits::default(),
    );
    assert!(
        matches!(&e, ImageError::Hostile { reason, .. } if reason.contains("link target 5000 bytes")),
        "{e}"
    );
}

/// Two chains of 40 symlinks, each target going 250 directories down the image's deepest
/// path and back up three times before naming the next link (3,758 bytes, within Linux's
/// limits), and `files` entries alternating between the chains, so that every entry's parent
/// resolves through 40 links and ~30,000 lookups of keys up to 500 bytes.
fn symlink_maze(files: usize) -> Vec<u8> {
    let deep = format!("{}x", "d/".repeat(250));
    let mut links = Vec::new();
    for chain in ["L", "M"] {
        for i in 0..40 {
            let next = if i == 39 {
                "real".to_owned()
            } else {
                format!("{chain}{}", i + 1)
            };
            let updown = format!("{}{}", "d/".repeat(250), "../".repeat(250));
            let target = format!("{}{next}", updown.repeat(3));
            assert!(target.len() <= 4095);
            links.push((format!("{chain}{i}"), target));
        }
    }
    let names: Vec<String> = (0..files)
        .map(|i| format!("{}0/f{i}", ["L", "M"][i % 2]))
        .collect();
    let mut entries = vec![Entry::File("real/keep", b"x"), Entry::File(&deep, b"x")];
    entries.extend(links.iter().map(|(l, t)| Entry::Link(l, t)));
    entries.extend(names.iter().map(|n| Entry::File(n, b"x")));
    gzip(&tar_of(&entries))
}

#[test]
fn symlinks_that_make_resolving_costly_exhaust_a_budget() {
    // A few entries resolve through the maze and land where the links lead.
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &[symlink_maze(4)], None);
    let img = Image::open(dir.path(), None, Limits::default()).expect("a few entries resolve");
    assert!(img.tree.get("real/f0").is_some() && img.tree.get("real/f3").is_some());
    assert!(img.tree.get("L0/f0").is_none());

    // 2,000 of them took 133 s (6.7 s with lookups skipped below missing directories);
    // the budget stops the layer at the entry that exhausts it (the default one after 0.2 s
    // in a release build; a 16th of it here, for a debug build's sake).
    let limits = Limits {
        max_resolve: Limits::default().max_resolve / 16,
        ..Limits::default()
    };
    let e = refuse(&[symlink_maze(2_000)], None, limits);
    match &e {
        ImageError::Hostile {
            entry,
            path,
            reason,
            ..
        } => {
            assert!(reason.contains("work budget"), "{reason}");
            assert!(
                path.starts_with("L0/f") || path.starts_with("M0/f"),
                "{path}"
            );
            assert!(*entry > 80 && *entry < 200, "{entry}");
        }
        other => panic!("expected Hostile, got {other}"),
    }
}

#[test]
fn repeated_whiteouts_remove_the_lower_layer_once_and_keep_the_layers_own() {
    // 20,000 files of the whiting-out layer under the directory and as many whiteouts of
    // it: each rescanned all of them before (3 s in a release build; quadratic). The layer
    // stays uncompressed: gzip in a debug build took longer than the test.
    let lower = gzip(&tar_of(&[
        Entry::File("d/old", b"lower"),
        Entry::File("keep", b"x"),
    ]));
    let names: Vec<String> = (0..20_000).map(|i| format!("d/new{i}")).collect();
    let mut entries = vec![Entry::File(".wh.d", b"")];
    entries.extend(names.iter().map(|n| Entry::File(n, b"")));
    entries.extend(names.iter().map(|_| Entry::File(".wh.d", b"")));
    let upper = tar_of(&entries);
    let dir = tempfile::tempdir().unwrap();
    oci_layout(dir.path(), &[lower, upper], None);
    let img = Image::open(dir.path(), None, Limits::default()).unwrap();
    assert!(
        img.tree.get("d/old").is_none(),
        "the lower layer's file is whited out"
    );
    assert!(img.tree.get("keep").is_some());
    let own = img
        .tree
        .nodes
        .keys()
        .filter(|k| k.starts_with("d/new"))
        .count();
    assert_eq!(own, 20_000, "a layer's whiteouts hide lower layers only");
}

#[test]
fn hostile_archives_are_refused() {
    let ok = gzip(&tar_of(&[Entry::File("etc/hostname", b"x\n")]));
    let good = tempfile::tempdir().unwrap();
    oci_layout(good.path(), std::slice::from_ref(&ok), None);
    let img =
        Image::open(good.path(), None, Limits::default()).expect("a well-formed layout opens");
    assert_eq!(
        img.read_file("etc/hostname", 10).unwrap().unwrap().1,
        b"x\n"
    );

    let e = refuse(
        &[gzip(&tar_of(&[Entry::RawName("../../etc/evil")]))],
        None,
        Limits::default(),
    );
    assert!(
        matches!(&e, ImageError::Hostile { reason, .. } if reason.contains("..")),
        "{e}"
    );

    let e = refuse(
        &[gzip(&tar_of(&[Entry::RawName("/etc/evil")]))],
        None,
        Limits::default(),
    );
    assert!(
        matches!(&e, ImageError::Hostile { reason, .. } if reason.contains("absolute")),
        "{e}"
    );

    let escape = tar_of(&[
        Entry::Link("usr/esc", "../../.."),
        Entry::File("usr/esc/etc/evil", b"x"),
    ]);
    let e = refuse(&[gzip(&escape)], None, Limits::default());
    assert!(
        matches!(&e, ImageError::Hostile { reason, .. } if reason.contains("climbs above")),
        "{e}"
    );

    // An escape through a lower layer's symlink is refused too.
    let lower = gzip(&tar_of(&[Entry::Link("lib", "/../../tmp")]));
    let upper = gzip(&tar_of(&[Entry::File("lib/evil.so", b"x")]));
    let e = refuse(&[lower, upper], None, Limits::default());
    assert!(matches!(e, ImageError::Hostile { .. }), "{e}");

    let e = refuse(std::slice::from_ref(&ok), Some(0), Limits::default());
    assert!(
        matches!(&e, ImageError::DigestMismatch { blob, .. } if blob.starts_with("sha256:")),
        "{e}"
    );
    let plain = tar_of(&[Entry::File("etc/hostname", b"x\n")]);
    let e = refuse(&[ok.clone(), plain], Some(1), Limits::default());
    assert!(matches!(&e, ImageError::DigestMismatch { .. }), "{e}");

    // 24 MiB of zeros compress to ~24 KiB: a bomb for an 8 MiB limit.
    let bomb = gzip(&tar_of(&[Entry::File("zeros", &vec![0u8; 24 << 20])]));
    assert!(bomb.len() < 1 << 20);
    let small = Limits {
        max_total: 8 << 20,
        ..Limits::default()
    };
    let e = refuse(std::slice::from_ref(&bomb), None, small);
    assert!(matches!(&e, ImageError::TooLarge { .. }), "{e}");
    let one_entry = Limits {
        max_entry: 1 << 20,
        ..Limits::default()
    };
    let e = refuse(&[bomb], None, one_entry);
    assert!(
        matches!(&e, ImageError::TooLarge { what, .. } if what.contains("zeros")),
        "{e}"
    );

    // Truncated inside an entry's content (the blob's digest is of the truncated bytes).
    let full = tar_of(&[Entry::File("a", &[7u8; 5000]), Entry::File("b", b"y")]);
    let e = refuse(&[full[..3000].to_vec()], None, Limits::default());
    assert!(
        matches!(&e, ImageError::Tar { reason, .. } if reason.contains("truncated")),
        "{e}"
    );
    // ... and inside a header.
    let e = refuse(
        &[full[..512 + 5120 + 100].to_vec()],
        None,
        Limits::default(),
    );
    assert!(matches!(&e, ImageError::Tar { .. }), "{e}");
    // ... and a gzip stream cut short.
    let gz = gzip(&full);
    let e = refuse(&[gz[..gz.len() / 2].to_vec()], None, Limits::default());
    assert!(
        matches!(&e, ImageError::Tar { .. } | ImageError::Io { .. }),
        "{e}"
    );

    // A scan of a hostile image fails before any database copy is made.
    let dir = tempfile::tempdir().unwrap();
    oci_layout(
        dir.path(),
        &[gzip(&tar_of(&[Entry::RawName("../x")]))],
        None,
    );
    assert!(matches!(
        scan::scan_path(dir.path(), None),
        Err(ScanError::Image(ImageError::Hostile { .. }))
    ));
}

// ---------------------------------------------------------------- drift vs rpm -Va

/// `rpm -Va` lines -> path -> (attribute letters, or "missing").
fn rpm_va(root: &Path) -> Option<BTreeMap<String, BTreeSet<Change>>> {
    if !have("rpm") {
        skip("rpm not installed (Debian: apt-get install rpm); drift not compared with rpm -Va");
        return None;
    }
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args([
            "--dbpath",
            "/usr/lib/sysimage/rpm",
            "-Va",
            "--nodeps",
            "--noscripts",
        ])
        .output()
        .unwrap();
    let mut m = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (attrs, rest) = line.split_at(9.min(line.len()));
        let path = rest
            .trim_start()
            .trim_start_matches(|c| "cdglr".contains(c))
            .trim_start()
            .to_owned();
        let mut set = BTreeSet::new();
        if attrs.starts_with("missing") {
            set.insert(Change::Missing);
        } else {
            for (c, ch) in attrs.chars().zip([
                Some(Change::Size),
                Some(Change::Mode),
                Some(Change::Digest),
                None,
                Some(Change::Link),
                Some(Change::User),
                Some(Change::Group),
                None,
                None,
            ]) {
                if let (true, Some(ch)) = (c != '.', ch) {
                    set.insert(ch);
                }
            }
        }
        if !set.is_empty() {
            m.insert(path, set);
        }
    }
    Some(m)
}

#[test]
fn drift_agrees_with_rpm_va() {
    let (_dir, root) = common::sample_copy();
    // Content, mode, a deleted file, a symlink target, a %config edit, an unowned file.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join("usr/bin/bash"))
        .unwrap();
    f.write_all(b"tampered").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        root.join("usr/bin/sample-tool"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::fs::remove_file(root.join("etc/pki/ca-trust/source/README")).unwrap();
    std::fs::remove_file(root.join("usr/lib64/libssl.so.3")).unwrap();
    std::os::unix::fs::symlink("libcrypto.so.3.2.4", root.join("usr/lib64/libssl.so.3")).unwrap();
    std::fs::write(root.join("etc/pki/tls/openssl.cnf"), "changed = 1\n").unwrap();
    std::fs::write(root.join("etc/added.conf"), "new\n").unwrap();

    let inv = scan::scan_root(&root).unwrap();
    let d = drift::check_root(&inv, &root).unwrap();
    let ours: BTreeMap<String, BTreeSet<Change>> = d
        .packages
        .iter()
        .flat_map(|p| p.files.iter())
        .map(|f| {
            (
                f.path.clone(),
                f.changes
                    .iter()
                    .copied()
                    .filter(|c| *c != Change::Type)
                    .collect(),
            )
        })
        .collect();
    for (path, want) in [
        ("/usr/bin/bash", vec![Change::Size, Change::Digest]),
        ("/usr/bin/sample-tool", vec![Change::Mode]),
        ("/etc/pki/ca-trust/source/README", vec![Change::Missing]),
        ("/usr/lib64/libssl.so.3", vec![Change::Link]),
        (
            "/etc/pki/tls/openssl.cnf",
            vec![Change::Size, Change::Digest],
        ),
    ] {
        let got = ours
            .get(path)
            .unwrap_or_else(|| panic!("{path} not reported: {ours:?}"));
        for c in want {
            assert!(got.contains(&c), "{path}: {c:?} not in {got:?}");
        }
    }
    let cls = |p: &str| {
        d.packages
            .iter()
            .flat_map(|x| x.files.iter())
            .find(|f| f.path == p)
            .unwrap()
            .class
    };
    assert_eq!(cls("/etc/pki/tls/openssl.cnf"), FileClass::Config);
    assert_eq!(cls("/usr/bin/bash"), FileClass::Modified);
    let added = d
        .unowned
        .iter()
        .find(|u| u.path == "/etc/added.conf")
        .expect("unowned file listed");
    assert_eq!(
        added.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(b"new\n")).as_str())
    );
    let status =
        |n: &str| d.packages[inv.packages.iter().position(|p| p.name == n).unwrap()].status;
    assert_eq!(status("bash"), PackageStatus::Modified);
    assert_eq!(status("filesystem"), PackageStatus::Intact);

    let Some(rpm) = rpm_va(&root) else { return };
    assert_eq!(ours, rpm, "ours (left) vs rpm -Va (right), mtime aside");
}
