//! Image inputs beyond one plain image: a multi-platform OCI index (nested index,
//! attestation manifest) and `--platform`, zstd layers (read like gzip; tampering,
//! truncation and bombs refused), and the exit codes of the command line's image options.
//! The layouts are built here from the committed sample root with the `tar` crate, so
//! nothing but the sample is needed.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use sbom::image::{Image, ImageError, Limits, Platform};
use sbom::scan::{self, ImageOptions};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Stores a blob under `blobs/sha256/` and returns its descriptor fields.
fn put(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let h = hex::encode(Sha256::digest(bytes));
    std::fs::write(blobs.join(&h), bytes).unwrap();
    (format!("sha256:{h}"), bytes.len())
}

/// Writes one image (config + manifest) and returns the manifest's descriptor, with the
/// platform in the descriptor as `docker buildx` writes indexes.
fn image(dir: &Path, layers: &[(&str, Vec<u8>)], platform: (&str, &str, Option<&str>)) -> Value {
    let (os, arch, variant) = platform;
    let mut config =
        json!({"architecture": arch, "os": os, "rootfs": {"type": "layers", "diff_ids": []}});
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    let (cd, cs) = put(dir, config.to_string().as_bytes());
    let descs: Vec<Value> = layers
        .iter()
        .map(|(media, bytes)| {
            let (d, s) = put(dir, bytes);
            json!({"mediaType": media, "digest": d, "size": s})
        })
        .collect();
    let m = json!({"schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs});
    let (md, ms) = put(dir, m.to_string().as_bytes());
    let mut p = json!({"os": os, "architecture": arch});
    if let Some(v) = variant {
        p["variant"] = json!(v);
    }
    json!({"mediaType": MANIFEST, "digest": md, "size": ms, "platform": p})
}

fn write_layout(dir: &Path, manifests: Vec<Value>) {
    let idx = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
    std::fs::write(dir.join("index.json"), idx.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// The committed sample root as one uncompressed layer (symlinks kept as symlinks).
fn sample_layer() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", common::testdata("sample/rootfs"))
        .unwrap();
    b.into_inner().unwrap()
}

fn file_layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, p, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// An index offering linux/amd64 (the sample, gzip) and, through a nested index,
/// linux/arm64/v8 (one file, zstd), plus a buildx attestation manifest (unknown/unknown).
fn multi_platform(dir: &Path) -> (String, String) {
    let amd = image(
        dir,
        &[(GZIP, gzip(&sample_layer()))],
        ("linux", "amd64", None),
    );
    let arm = image(
        dir,
        &[(ZSTD, zstd(&file_layer(&[("etc/arch", b"arm64\n")])))],
        ("linux", "arm64", Some("v8")),
    );
    let att = image(
        dir,
        &[(GZIP, gzip(&file_layer(&[("attestation.json", b"{}")])))],
        ("unknown", "unknown", None),
    );
    let nested = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [arm.clone()]});
    let (nd, ns) = put(dir, nested.to_string().as_bytes());
    write_layout(
        dir,
        vec![
            amd.clone(),
            json!({"mediaType": INDEX, "digest": nd, "size": ns}),
            att,
        ],
    );
    (
        amd["digest"].as_str().unwrap().to_owned(),
        arm["digest"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn an_index_multiplying_nested_indexes_is_read_once_each() {
    // index.json lists one nested index 50 times, which lists the next 50 times, 4 deep:
    // followed blindly that is 50^5 manifest reads (this test hung before); each nested
    // index is now read once, so the one image is found at once.
    let dir = tempfile::tempdir().unwrap();
    let amd = image(
        dir.path(),
        &[(GZIP, gzip(&file_layer(&[("etc/hostname", b"x\n")])))],
        ("linux", "amd64", None),
    );
    let mut level = vec![amd.clone()];
    for _ in 0..4 {
        let idx = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": level});
        let (d, s) = put(dir.path(), idx.to_string().as_bytes());
        level = vec![json!({"mediaType": INDEX, "digest": d, "size": s}); 50];
    }
    write_layout(dir.path(), level);
    let img = Image::open(dir.path(), None, Limits::default()).expect("one image");
    assert_eq!(img.manifest_digest.as_deref(), amd["digest"].as_str());

    // More manifests than any real index offers are refused, not read one by one.
    let many = vec![amd; 1025];
    let dir2 = tempfile::tempdir().unwrap();
    write_layout(dir2.path(), many);
    let e = Image::open(dir2.path(), None, Limits::default()).expect_err("refused");
    assert!(
        matches!(&e, ImageError::TooLarge { what, limit: 1024 } if what.contains("manifests")),
        "{e}"
    );
}

fn platform(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}

#[test]
fn platform_picks_one_image_of_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let (amd, arm) = multi_platform(dir.path());

    // Two candidates and no choice: refused, listing both, never the attestation.
    let e = Image::open(dir.path(), None, Limits::default()).unwrap_err();
    let ImageError::Platform { reason, .. } = &e else {
        panic!("{e}")
    };
    assert!(reason.contains("choose one with --platform"), "{reason}");
    assert!(
        reason.contains("linux/amd64") && reason.contains("linux/arm64/v8"),
        "{reason}"
    );
    assert!(!reason.contains("unknown"), "{reason}");

    // A platform without a variant selects any variant; the nested index is followed.
    let img = Image::open(
        dir.path(),
        Some(&platform("linux/arm64")),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(img.platform, "linux/arm64/v8");
    assert_eq!(img.manifest_digest.as_deref(), Some(arm.as_str()));
    assert_eq!(
        img.read_file("etc/arch", 100).unwrap().unwrap().1,
        b"arm64\n"
    );
    assert!(img.tree.get("usr/lib/sysimage/rpm/rpmdb.sqlite").is_none());

    // Platforms the index does not offer are refused with the list of those it does.
    for want in ["linux/s390x", "linux/arm64/v7", "windows/amd64"] {
        let e = Image::open(dir.path(), Some(&platform(want)), Limits::default()).unwrap_err();
        let ImageError::Platform { reason, .. } = &e else {
            panic!("{want}: {e}")
        };
        assert_eq!(
            reason,
            &format!("no image for {want}; the image offers: linux/amd64, linux/arm64/v8"),
        );
    }

    // The chosen image scans to the sample's packages, and the SBOM names its manifest.
    let opts = ImageOptions {
        platform: Some(platform("linux/amd64")),
        limits: Limits::default(),
    };
    let (inv, _) = scan::scan_image(dir.path(), &opts).unwrap();
    assert_eq!(inv.source.manifest_digest.as_deref(), Some(amd.as_str()));
    assert_eq!(inv.source.platform.as_deref(), Some("linux/amd64"));
    let root = scan::scan_root(&common::testdata("sample/rootfs")).unwrap();
    let names = |i: &sbom::inventory::Inventory| -> Vec<String> {
        i.packages.iter().map(|p| p.nevra()).collect()
    };
    assert_eq!(names(&inv), names(&root));
}

fn one_image(layers: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let m = image(dir.path(), layers, ("linux", "amd64", None));
    write_layout(dir.path(), vec![m]);
    dir
}

fn files_of(img: &Image) -> Vec<(String, String)> {
    img.tree
        .nodes
        .iter()
        .map(|(p, n)| {
            let c = n
                .content
                .filter(|_| n.kind == sbom::image::tree::Kind::File)
                .map(|_| img.read_file(p, 1 << 30).unwrap().unwrap().1)
                .map(|b| hex::encode(Sha256::digest(b)));
            (
                p.clone(),
                format!("{:?} {:o} {} {:?} {c:?}", n.kind, n.mode(), n.size, n.link),
            )
        })
        .collect()
}

#[test]
fn zstd_layers_read_like_gzip_and_uncompressed() {
    let tar = sample_layer();
    let forms = [
        ("application/vnd.oci.image.layer.v1.tar", tar.clone()),
        (GZIP, gzip(&tar)),
        (ZSTD, zstd(&tar)),
    ];
    let mut seen = Vec::new();
    for (media, blob) in forms {
        let dir = one_image(&[(media, blob)]);
        let img = Image::open(dir.path(), None, Limits::default()).unwrap();
        let (inv, _) = scan::scan_image(dir.path(), &ImageOptions::default()).unwrap();
        let nevras: Vec<String> = inv.packages.iter().map(|p| p.nevra()).collect();
        assert!(nevras.iter().any(|n| n.starts_with("bash-")), "{media}");
        seen.push((files_of(&img), nevras));
    }
    assert_eq!(seen[0], seen[1], "gzip differs from uncompressed");
    assert_eq!(seen[0], seen[2], "zstd differs from uncompressed");
}

#[test]
fn hostile_zstd_layers_are_refused() {
    let z = zstd(&file_layer(&[
        ("etc/hostname", b"x\n"),
        ("etc/motd", &[b'm'; 3000]),
    ]));

    // One byte changed after the digest went into the manifest.
    let dir = one_image(&[(ZSTD, z.clone())]);
    let (d, _) = put(dir.path(), &z);
    let mut bad = z.clone();
    let k = bad.len() / 2;
    bad[k] ^= 0x40;
    std::fs::write(
        dir.path()
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
        &bad,
    )
    .unwrap();
    let e = Image::open(dir.path(), None, Limits::default()).unwrap_err();
    assert!(
        matches!(&e, ImageError::DigestMismatch { blob, .. } if *blob == d),
        "{e}"
    );

    // Truncated, with a digest that matches the truncated bytes: a broken stream.
    let dir = one_image(&[(ZSTD, z[..z.len() - 7].to_vec())]);
    let e = Image::open(dir.path(), None, Limits::default()).unwrap_err();
    assert!(
        matches!(&e, ImageError::Tar { .. } | ImageError::Io { .. }),
        "{e}"
    );

    // 32 MiB of zeros in a few KiB: stopped by the decompressed-size limit.
    let bomb = zstd(&file_layer(&[("zeros", &vec![0u8; 32 << 20])]));
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    let dir = one_image(&[(ZSTD, bomb)]);
    let small = Limits {
        max_total: 4 << 20,
        ..Limits::default()
    };
    let e = Image::open(dir.path(), None, small).unwrap_err();
    assert!(matches!(&e, ImageError::TooLarge { .. }), "{e}");
    let e = Image::open(
        dir.path(),
        None,
        Limits {
            max_entry: 1 << 20,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, ImageError::TooLarge { what, .. } if what.contains("zeros")),
        "{e}"
    );
}

/// A layer of (path, type, content or link target) entries, in this order.
fn raw_layer(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (p, t, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_mtime(0);
        h.set_entry_type(*t);
        match *t {
            tar::EntryType::Symlink => {
                h.set_size(0);
                b.append_link(&mut h, p, data).unwrap();
            }
            _ => {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, data.as_bytes()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

#[test]
fn a_repeated_opaque_marker_changes_nothing_after_the_first() {
    use tar::EntryType::Regular as F;
    // The first marker hides the lower layer's d/x; a repeat (which rescanned all of d
    // each time: 40,000 repeats over 40,000 files took 11 s) must not hide the upper
    // layer's own d/y.
    let lower = raw_layer(&[("d/x", F, "x"), ("e/z", F, "z")]);
    let upper = raw_layer(&[
        ("d/.wh..wh..opq", F, ""),
        ("d/y", F, "y"),
        ("d/.wh..wh..opq", F, ""),
        ("d/.wh..wh..opq", F, ""),
        ("e/.wh..wh..opq", F, ""),
    ]);
    let dir = one_image(&[(GZIP, gzip(&lower)), (GZIP, gzip(&upper))]);
    let img = Image::open(dir.path(), None, Limits::default()).unwrap();
    let paths: Vec<&str> = img.tree.nodes.keys().map(String::as_str).collect();
    assert_eq!(paths, ["d", "d/y", "e"]);
}

#[test]
fn entries_resolve_through_what_the_same_layer_just_changed() {
    use tar::EntryType::{Directory as D, Regular as F, Symlink as L};
    // `a` is a directory, then a symlink to `b` (its old children go with it), then a
    // path through it lands in `b`; `c/d` turns into a file under a directory written
    // after its children; a later sibling in a directory must not reuse a stale parent.
    let layer = raw_layer(&[
        ("a/", D, ""),
        ("a/x", F, "x"),
        ("a", L, "b"),
        ("a/y", F, "y"),
        ("c/d/e", F, "e"),
        ("c/d", F, "now a file"),
        ("c/f", F, "f"),
        ("c/", D, ""),
        ("c/g", F, "g"),
    ]);
    let dir = one_image(&[(GZIP, gzip(&layer))]);
    let img = Image::open(dir.path(), None, Limits::default()).unwrap();
    let kinds: Vec<(String, String)> = img
        .tree
        .nodes
        .iter()
        .map(|(p, n)| (p.clone(), format!("{:?}", n.kind)))
        .collect();
    let want: Vec<(String, String)> = [
        ("a", "Symlink"),
        ("b", "Dir"),
        ("b/y", "File"),
        ("c", "Dir"),
        ("c/d", "File"),
        ("c/f", "File"),
        ("c/g", "File"),
    ]
    .iter()
    .map(|(p, k)| (p.to_string(), k.to_string()))
    .collect();
    assert_eq!(kinds, want);
    assert_eq!(
        img.read_file("a/y", 10).unwrap().unwrap(),
        ("b/y".into(), b"y".to_vec())
    );
    assert_eq!(img.read_file("c/d", 20).unwrap().unwrap().1, b"now a file");

    // A file where a directory should be: entries below it are refused.
    let layer = raw_layer(&[("p", F, "file"), ("p/q", F, "below a file")]);
    let dir = one_image(&[(GZIP, gzip(&layer))]);
    let e = Image::open(dir.path(), None, Limits::default()).unwrap_err();
    assert!(
        matches!(&e, ImageError::Hostile { reason, .. } if reason.contains("not a directory")),
        "{e}"
    );
}

fn sbom(args: &[&str], image: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sbom"))
        .args(args)
        .arg(image)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn command_line_exit_codes_for_image_options() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    let (amd, _) = multi_platform(&layout);
    let out = dir.path().join("out.json");
    let o_arg = out.to_str().unwrap();

    // Several platforms and no --platform: the input is refused (1), naming the choices.
    let o = sbom(&["-q", "-o", o_arg], &layout);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("linux/amd64, linux/arm64/v8"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing written on failure");

    let o = sbom(&["-q", "--platform", "linux/s390x", "-o", o_arg], &layout);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("no image for linux/s390x; the image offers: linux/amd64, linux/arm64/v8"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());

    // A malformed --platform, or a non-number limit, is a usage error (2).
    for args in [
        &["--platform", "linux"][..],
        &["--platform", "linux/amd64/v8/x"][..],
        &["--max-image-bytes", "lots"][..],
        &["--max-entry-bytes", "-5"][..],
    ] {
        let o = sbom(args, &layout);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }

    // The chosen platform scans (0) and the document names its manifest.
    let o = sbom(&["-q", "--platform", "linux/amd64", "-o", o_arg], &layout);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = std::fs::read_to_string(&out).unwrap();
    assert!(doc.contains(&amd), "manifest digest in the SBOM");
    std::fs::remove_file(&out).unwrap();

    // The platform without a database: an unreadable input (1).
    let o = sbom(&["-q", "--platform", "linux/arm64"], &layout);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no RPM database"), "{}", stderr(&o));

    // Limits below what the image needs: refused (1), pointing at the option.
    let o = sbom(
        &[
            "-q",
            "--platform",
            "linux/amd64",
            "--max-image-bytes",
            "4096",
        ],
        &layout,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-image-bytes"), "{}", stderr(&o));
    let o = sbom(
        &[
            "-q",
            "--platform",
            "linux/amd64",
            "--max-entry-bytes",
            "1024",
        ],
        &layout,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("larger than the limit of 1024"),
        "{}",
        stderr(&o)
    );

    // --verify-files: usage error on a bare database (2), works on an image (0).
    let db = common::testdata("sample/rootfs/usr/lib/sysimage/rpm/rpmdb.sqlite");
    let o = sbom(&["-q", "--verify-files", "--distro", "azurelinux-4.0"], &db);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a bare database"), "{}", stderr(&o));
    let o = sbom(
        &[
            "-q",
            "--verify-files",
            "--platform",
            "linux/amd64",
            "-o",
            o_arg,
        ],
        &layout,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = std::fs::read_to_string(&out).unwrap();
    assert!(doc.contains("fedora-attest:rpm:drift"), "drift in the SBOM");
}
