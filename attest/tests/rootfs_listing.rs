//! The root-filesystem digest computed from the drift walk's listing
//! (`attest::rootfs::from_listing`, by `check_root_listing` or `list_root`) must be exactly
//! the digest of the definition in code (`attest::rootfs::listing`), for every kind of
//! entry; and a listing that is not exact must give an error, never a digest.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use attest::rootfs;

fn sample_copy() -> (tempfile::TempDir, PathBuf) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sample/rootfs");
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("rootfs");
    common::cp_a(&src, &root);
    (d, root)
}

/// The reference digest, and the one from the drift walk; asserts that the plain listing
/// (`rootfs::digest`) agrees with the reference whenever the drift walk's does.
fn both(
    root: &Path,
) -> (
    rootfs::RootfsDigest,
    Result<rootfs::RootfsDigest, rootfs::RootfsError>,
) {
    let inv = sbom::scan::scan_root(root).expect("scan sample root");
    let (_, listing) = sbom::drift::check_root_listing(&inv, root).expect("drift walk");
    let reference = rootfs::listing(root).expect("reference digest").1;
    assert_eq!(rootfs::digest(root).unwrap(), reference, "rootfs::digest");
    (reference, rootfs::from_listing(root, &listing))
}

#[test]
fn listing_digest_equals_direct_digest_for_every_kind_of_entry() {
    let (_d, root) = sample_copy();
    let (plain, from) = both(&root);
    assert_eq!(from.unwrap(), plain, "sample image as built");

    // Unowned and owned hard links, an empty directory, a set-uid file, a FIFO, a
    // socket, a symlink out of the root, a large file (several reads), a device node.
    std::fs::write(root.join("etc/overlay.conf"), "overlay\n").unwrap();
    std::fs::hard_link(root.join("etc/overlay.conf"), root.join("etc/overlay.link")).unwrap();
    let owned = sbom::scan::scan_root(&root).unwrap().packages[0]
        .files
        .iter()
        .find(|f| f.mode & 0o170000 == 0o100000)
        .map(|f| f.path.trim_start_matches('/').to_owned())
        .expect("a packaged regular file");
    std::fs::hard_link(root.join(&owned), root.join("usr/owned.link")).unwrap();
    std::fs::create_dir(root.join("var/empty-dir")).unwrap();
    std::fs::write(root.join("usr/suid"), "x").unwrap();
    std::fs::set_permissions(
        root.join("usr/suid"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    assert!(Command::new("mkfifo")
        .arg(root.join("var/fifo"))
        .status()
        .unwrap()
        .success());
    let _sock = std::os::unix::net::UnixListener::bind(root.join("var/sock")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", root.join("etc/escape")).unwrap();
    std::fs::write(root.join("usr/big"), vec![7u8; 3 << 20]).unwrap();
    let dev = Command::new("mknod")
        .arg(root.join("var/null"))
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    if !dev {
        eprintln!("note: mknod not permitted here; device nodes not covered this run");
    }
    let (plain2, from2) = both(&root);
    assert_ne!(plain2, plain, "the additions change the digest");
    assert_eq!(from2.unwrap(), plain2, "after additions");

    // One byte of one packaged file.
    let mut b = std::fs::read(root.join(&owned)).unwrap();
    b[0] ^= 1;
    std::fs::write(root.join(&owned), b).unwrap();
    let (plain3, from3) = both(&root);
    assert_ne!(plain3, plain2);
    assert_eq!(from3.unwrap(), plain3, "after a changed byte");
}

#[test]
fn a_name_that_is_not_utf8_makes_the_listing_refuse() {
    let (_d, root) = sample_copy();
    let name = std::ffi::OsStr::from_bytes(b"etc/bad-\xff-name");
    std::fs::write(root.join(name), "x").unwrap();
    // `both` also asserts that rootfs::digest, falling back, equals the reference.
    let (_, from) = both(&root);
    let err = from.expect_err("a lossy listing must not give a digest");
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    // The reference hashes the name's own bytes.
    let (bytes, _) = rootfs::listing(&root).unwrap();
    assert!(bytes.windows(10).any(|w| w == b"bad-\xff-name"));
}

#[test]
fn a_tree_fifteen_hundred_levels_deep_gives_the_same_digest_both_ways() {
    // Both walks used to recurse once per level and overflowed the stack (an abort, not
    // an error) on trees like this one.
    let (_d, root) = sample_copy();
    let mut deep = root.join("tmp");
    for _ in 0..1_500 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("leaf"), "at the bottom").unwrap();
    let (plain, from) = both(&root);
    assert_eq!(from.unwrap(), plain);
    let (bytes, _) = rootfs::listing(&root).unwrap();
    let leaf = format!("tmp/{}/leaf\0f\0", vec!["d"; 1_500].join("/"));
    assert!(bytes.windows(leaf.len()).any(|w| w == leaf.as_bytes()));
}

#[test]
fn a_path_longer_than_path_max_is_an_error_not_a_digest() {
    use rustix::fs::{Mode, OFlags};
    let (_d, root) = sample_copy();
    // Made with directory-relative calls: the full path is longer than PATH_MAX.
    let flags = OFlags::RDONLY | OFlags::DIRECTORY;
    let mut fd = rustix::fs::open(&root, flags, Mode::empty()).unwrap();
    let name = "n".repeat(250);
    for _ in 0..20 {
        rustix::fs::mkdirat(&fd, name.as_str(), Mode::from_raw_mode(0o755)).unwrap();
        fd = rustix::fs::openat(&fd, name.as_str(), flags, Mode::empty()).unwrap();
    }
    let err = rootfs::digest(&root).expect_err("no digest of an unreadable tree");
    assert!(err.to_string().contains("PATH_MAX"), "{err}");
}
