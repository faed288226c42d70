//! The parallel root walk of `--verify-files` (sbom/src/drift/walk.rs) on a copy of the
//! committed sample root: one changed byte is found, hard links hash once yet each link gets
//! the algorithms it needs, symlinks (to directories, outside the root, dangling) are read and
//! never followed, a FIFO is reported without being opened, nothing outside the root is
//! read, a tree thousands of levels deep is walked without overflowing the stack, and a
//! path longer than PATH_MAX is refused.

mod common;

use std::path::Path;
use std::process::Command;

use sbom::drift::{self, Change, FileClass, PackageStatus};
use sbom::image::tree::Kind;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use common::sample_copy;

fn package<'a>(
    inv: &'a sbom::inventory::Inventory,
    d: &'a drift::DriftReport,
    name: &str,
) -> &'a drift::PackageDrift {
    let i = inv.packages.iter().position(|p| p.name == name).unwrap();
    &d.packages[i]
}

#[test]
fn one_changed_byte_is_found() {
    let (_dir, root) = sample_copy();
    let inv = sbom::scan::scan_root(&root).unwrap();
    let before = drift::check_root(&inv, &root).unwrap();
    assert_eq!(package(&inv, &before, "bash").status, PackageStatus::Intact);

    let bash = root.join("usr/bin/bash");
    let mut b = std::fs::read(&bash).unwrap();
    b[1234] ^= 1;
    std::fs::write(&bash, &b).unwrap();
    let after = drift::check_root(&inv, &root).unwrap();
    let p = package(&inv, &after, "bash");
    assert_eq!(p.status, PackageStatus::Modified);
    assert_eq!(p.files.len(), 1);
    assert_eq!(p.files[0].path, "/usr/bin/bash");
    assert_eq!(p.files[0].class, FileClass::Modified);
    assert_eq!(p.files[0].changes, vec![Change::Digest]);
    let want = hex::encode(Sha256::digest(&b));
    assert_eq!(p.files[0].actual_digest.as_deref(), Some(want.as_str()));
    // Everything else is as before, and the same content was hashed.
    assert_eq!(after.files_hashed, before.files_hashed);
    assert_eq!(after.bytes_hashed, before.bytes_hashed);
    assert_eq!(after.unowned, before.unowned);
}

#[test]
fn owner_and_group_are_named_by_the_images_own_passwd_and_group() {
    let (_dir, root) = sample_copy();
    let inv = sbom::scan::scan_root(&root).unwrap();
    let bash = root.join("usr/bin/bash");
    if let Err(e) = std::os::unix::fs::chown(&bash, Some(4242), Some(4343)) {
        eprintln!("SKIPPED: chown needs root here ({e})");
        return;
    }
    // Ids the image does not name are not flagged, as rpm -V does not.
    let d = drift::check_root(&inv, &root).unwrap();
    assert_eq!(package(&inv, &d, "bash").status, PackageStatus::Intact);

    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nmallory:x:4242:4242::/:/bin/sh\n\
         imposter:x:4242:4242::/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nmallory:x:4343:\n").unwrap();
    let d = drift::check_root(&inv, &root).unwrap();
    let p = package(&inv, &d, "bash");
    assert_eq!(p.status, PackageStatus::Modified);
    assert_eq!(p.files.len(), 1, "{:?}", p.files);
    assert_eq!(p.files[0].path, "/usr/bin/bash");
    assert_eq!(p.files[0].changes, vec![Change::User, Change::Group]);
    // Every other file is root's, named by the same table.
    let changed: usize = d.packages.iter().map(|p| p.files.len()).sum();
    assert_eq!(changed, 1);

    std::os::unix::fs::chown(&bash, Some(0), Some(0)).unwrap();
    let d = drift::check_root(&inv, &root).unwrap();
    assert_eq!(package(&inv, &d, "bash").status, PackageStatus::Intact);
}

#[test]
fn hard_links_symlinks_and_fifos() {
    let (dir, root) = sample_copy();
    let inv = sbom::scan::scan_root(&root).unwrap();
    let base = drift::check_root(&inv, &root).unwrap();

    // An unowned hard link to a packaged file: the packaged link (the lower path, through
    // which the content is read) needs SHA-256 only, the unowned one SHA-256 and SHA-1; the
    // content is hashed once with both.
    let deep = root.join("zz/a/b");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::hard_link(root.join("usr/bin/bash"), deep.join("bash-hardlink")).unwrap();
    // Symlinks are read, never followed: to a directory, out of the root, dangling.
    std::os::unix::fs::symlink("/", root.join("etc/to-root")).unwrap();
    std::os::unix::fs::symlink("../../..", root.join("usr/up")).unwrap();
    std::os::unix::fs::symlink("missing/target", root.join("etc/dangling")).unwrap();
    std::os::unix::fs::symlink("../usr/bin", root.join("etc/bindir")).unwrap();
    // Outside the root, beside it: must never be read.
    std::fs::write(dir.path().join("outside"), b"secret").unwrap();
    std::os::unix::fs::symlink("../../outside", root.join("etc/out")).unwrap();
    // A FIFO: opening it would block; it must be reported, not read.
    assert!(Command::new("mkfifo")
        .arg(root.join("etc/pipe"))
        .status()
        .unwrap()
        .success());

    let d = drift::check_root(&inv, &root).unwrap();
    assert_eq!(package(&inv, &d, "bash").status, PackageStatus::Intact);
    let content = std::fs::read(root.join("usr/bin/bash")).unwrap();
    let by_path = |p: &str| d.unowned.iter().find(|u| u.path == p).unwrap();
    let link = by_path("/zz/a/b/bash-hardlink");
    assert_eq!(link.kind, Kind::File);
    assert_eq!(
        link.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&content)).as_str())
    );
    assert_eq!(
        link.sha1.as_deref(),
        Some(hex::encode(Sha1::digest(&content)).as_str())
    );
    for (p, target) in [
        ("/etc/to-root", "/"),
        ("/usr/up", "../../.."),
        ("/etc/dangling", "missing/target"),
        ("/etc/bindir", "../usr/bin"),
        ("/etc/out", "../../outside"),
    ] {
        let u = by_path(p);
        assert_eq!(u.kind, Kind::Symlink, "{p}");
        assert_eq!(u.link_target.as_deref(), Some(target), "{p}");
        assert_eq!(u.sha256, None, "{p}: a symlink is not hashed");
    }
    let fifo = by_path("/etc/pipe");
    assert_eq!(fifo.kind, Kind::Fifo);
    assert_eq!(fifo.sha256, None);
    // Nothing was walked through the symlinks (no path below them), and the linked content
    // was hashed once.
    assert!(
        !d.unowned.iter().any(|u| u.path.starts_with("/etc/to-root/")
            || u.path.starts_with("/etc/bindir/")
            || u.path.starts_with("/usr/up/")),
        "a symlink was followed"
    );
    assert_eq!(d.files_hashed, base.files_hashed);
    assert_eq!(d.bytes_hashed, base.bytes_hashed);
    assert_eq!(d.unowned.len(), base.unowned.len() + 7);
}

#[test]
fn a_missing_root_is_an_error_naming_it() {
    let inv = sbom::scan::scan_root(&common::testdata("sample/rootfs")).unwrap();
    let e = drift::check_root(&inv, Path::new("/nonexistent/sbom-root")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/sbom-root"), "{e}");
}

/// `levels` nested directories named `name` below `root/tmp`, made with directory-relative
/// calls (the full path may exceed PATH_MAX), with `leaf` written in the deepest one.
/// Returns the deepest directory's path relative to the root.
fn nest(root: &Path, name: &str, levels: usize, leaf: &[u8]) -> String {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY;
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let mut fd = rustix::fs::open(root.join("tmp"), flags, Mode::empty()).unwrap();
    for _ in 0..levels {
        rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(0o755)).unwrap();
        fd = rustix::fs::openat(&fd, name, flags, Mode::empty()).unwrap();
    }
    let file = rustix::fs::openat(
        &fd,
        "leaf",
        OFlags::WRONLY | OFlags::CREATE,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&file, leaf).unwrap();
    format!("tmp/{}", vec![name; levels].join("/"))
}

#[test]
fn a_tree_two_thousand_levels_deep_is_walked_to_the_bottom() {
    // A recursive walk overflowed rayon's 2 MiB stacks between 500 and 1,000 levels (the
    // process aborted); now a walk queues what lies 64 levels below its start.
    let (_dir, root) = sample_copy();
    let inv = sbom::scan::scan_root(&root).unwrap();
    let base = drift::check_root(&inv, &root).unwrap();
    let deep = nest(&root, "d", 2_000, b"at the bottom");
    let d = drift::check_root(&inv, &root).unwrap();
    let leaf = format!("/{deep}/leaf");
    let found = d
        .unowned
        .iter()
        .find(|u| u.path == leaf)
        .expect("the deepest file");
    let want = hex::encode(Sha256::digest(b"at the bottom"));
    assert_eq!(found.sha256.as_deref(), Some(want.as_str()));
    assert_eq!(d.unowned.len(), base.unowned.len() + 1);
    assert_eq!(d.files_hashed, base.files_hashed + 1);
}

/// 600 directories at the depth where a walk queues what lies below (64 levels from its
/// start), one with a name that is not UTF-8, each holding a file: queued directories
/// used to stay open until their turn, so `sbom --verify-files` under `ulimit -n 256`
/// failed with "Too many open files". Now they are opened again by name when their turn
/// comes, and every file is found.
#[test]
fn many_queued_directories_hold_no_descriptors() {
    use std::os::unix::ffi::OsStrExt;
    let (dir, root) = sample_copy();
    // tmp is 1 level below the root; 62 more put the parent at 63 (a short path: std will do).
    let parent = root.join(nest(&root, "d", 62, b"x"));
    let mut names: Vec<Vec<u8>> = (0..599).map(|i| format!("s{i}").into_bytes()).collect();
    names.push(b"s\xffraw".to_vec());
    for n in &names {
        let sub = parent.join(std::ffi::OsStr::from_bytes(n));
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("f"), n).unwrap();
    }
    let out = dir.path().join("out.cdx.json");
    let script = format!(
        "ulimit -n 256 && exec \"$0\" -q --verify-files -f cyclonedx-json -o '{}' '{}'",
        out.display(),
        root.display()
    );
    let o = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_sbom")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    for i in [0, 299, 598] {
        assert!(text.contains(&format!("/s{i}/f")), "s{i}/f not listed");
    }
    // The non-UTF-8 name is listed lossily, its content hashed all the same.
    let want = hex::encode(Sha256::digest(b"s\xffraw"));
    assert!(
        text.contains(&want),
        "the non-UTF-8 directory's file was not hashed"
    );
}

#[test]
fn a_path_longer_than_path_max_is_refused_naming_it() {
    let (_dir, root) = sample_copy();
    let inv = sbom::scan::scan_root(&root).unwrap();
    // 25 levels of 200-byte names: 5,029 bytes, 23 levels (4,627) are already too long.
    let name = "n".repeat(200);
    nest(&root, &name, 25, b"x");
    let e = drift::check_root(&inv, &root).unwrap_err();
    match &e {
        drift::DriftError::PathTooLong { prefix, len, max } => {
            // The first 120 bytes of the path, not all of its kilobytes.
            assert_eq!(prefix.as_str(), &format!("tmp/{name}")[..120]);
            assert!(*len > *max && *max == 4094, "{len} {max}");
        }
        other => panic!("expected PathTooLong, got {other}"),
    }
    assert!(e.to_string().contains("PATH_MAX"), "{e}");
}
