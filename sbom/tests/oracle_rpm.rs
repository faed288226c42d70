//! Our reading of real RPM databases must equal what Debian's rpm 4.18 prints for them
//! (`../shared/realdata/rpmdb/*/oracle/*.tsv`, made by `../shared/tools/rpm_oracle.sh`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use sbom::package::{file_flags as ff, Package};
use sbom::scan;

/// The package columns of rpm_oracle.sh, rendered from our model as rpm's --qf would.
fn package_row(p: &Package) -> Vec<String> {
    let sig = p
        .signatures
        .first()
        .map(|s| {
            let algo = match s.pubkey_algo {
                1 => "RSA",
                17 => "DSA",
                19 => "ECDSA",
                22 | 27 => "EdDSA",
                _ => "?",
            };
            let hash = match s.hash_algo {
                2 => "SHA1",
                8 => "SHA256",
                10 => "SHA512",
                _ => "?",
            };
            format!(
                "{algo}/{hash}, {}, Key ID {}",
                ctime(s.created.unwrap_or(0)),
                s.key_id.clone().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    vec![
        p.name.clone(),
        p.epoch.map(|e| e.to_string()).unwrap_or_default(),
        p.epoch.unwrap_or(0).to_string(),
        p.version.clone(),
        p.release.clone(),
        p.arch.clone(),
        p.source_rpm.clone().unwrap_or_default(),
        p.size.to_string(),
        p.license.clone(),
        p.vendor.clone().unwrap_or_default(),
        p.modularity_label.clone().unwrap_or_default(),
        p.sigmd5.clone().unwrap_or_default(),
        sig,
        p.file_digest_algo.pgp_id().to_string(),
    ]
}

/// rpm's `%{RSAHEADER:pgpsig}` date: C-locale ctime in UTC, e.g. `Thu Jan 27 09:01:26 2022`.
fn ctime(t: u32) -> String {
    let iso = sbom::format::rfc3339(i64::from(t)); // 2022-01-27T09:01:26Z
    let (y, mo, d) = (&iso[0..4], &iso[5..7], &iso[8..10]);
    let days = i64::from(t) / 86_400;
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][mo.parse::<usize>().unwrap() - 1];
    format!(
        "{wd} {mon} {:>2} {} {y}",
        d.parse::<u32>().unwrap(),
        &iso[11..19]
    )
}

/// rpm's `%{FILEFLAGS:fflags}`.
fn fflags(f: u32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (ff::DOC, 'd'),
        (ff::CONFIG, 'c'),
        (ff::SPECFILE, 's'),
        (ff::MISSINGOK, 'm'),
        (ff::NOREPLACE, 'n'),
        (ff::GHOST, 'g'),
        (ff::LICENSE, 'l'),
        (ff::README, 'r'),
        (ff::ARTIFACT, 'a'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

fn check_packages(db: &Path, oracle: &Path) -> Vec<Package> {
    let inv = scan::scan_db(db, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(inv.packages.iter().all(|p| !p.is_gpg_pubkey()));
    let ours: BTreeSet<String> = inv
        .packages
        .iter()
        .map(|p| package_row(p).join("\t"))
        .collect();
    // rpm prints FILEDIGESTALGO raw; absent means MD5 (id 1), which is what our model holds.
    let theirs: BTreeSet<String> = lines(&oracle.join("packages.tsv"))
        .into_iter()
        .filter(|l| !l.starts_with("gpg-pubkey\t"))
        .map(|l| {
            if l.ends_with('\t') {
                format!("{l}1")
            } else {
                l
            }
        })
        .collect();
    let missing: Vec<_> = theirs.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "rpm lists but we don't:\n{missing:#?}\nwe list but rpm doesn't:\n{extra:#?}"
    );
    assert_eq!(inv.packages.len(), theirs.len());
    inv.packages
}

fn check_files(pkgs: &[Package], oracle: &Path) {
    let mut ours: Vec<String> = Vec::new();
    for p in pkgs {
        for f in &p.files {
            ours.push(
                [
                    p.name.as_str(),
                    &f.path,
                    f.digest.as_deref().unwrap_or(""),
                    &f.size.to_string(),
                    &format!("{:o}", f.mode),
                    &fflags(f.flags),
                    &f.user,
                    &f.group,
                ]
                .join("\t"),
            );
        }
    }
    ours.sort();
    let mut theirs: Vec<String> = std::fs::read_to_string(oracle.join("files.tsv"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    theirs.sort();
    let diff: Vec<_> = ours
        .iter()
        .zip(&theirs)
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(
        diff.is_empty(),
        "first differing file rows (ours, rpm's): {diff:#?}"
    );
    assert_eq!(ours.len(), theirs.len(), "file row count");
}

fn check_deps(pkgs: &[Package], oracle: &Path) {
    let mut ours = BTreeSet::new();
    for p in pkgs {
        for d in &p.requires {
            ours.insert(format!("{}\tR\t{}", p.name, d.display()));
        }
        for d in &p.provides {
            ours.insert(format!("{}\tP\t{}", p.name, d.display()));
        }
    }
    let theirs: BTreeSet<String> = std::fs::read_to_string(oracle.join("deps.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("gpg-pubkey\t"))
        .map(str::to_owned)
        .collect();
    let missing: Vec<_> = theirs.difference(&ours).take(10).collect();
    let extra: Vec<_> = ours.difference(&theirs).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
}

#[test]
fn mariner_sqlite_equals_rpm() {
    let Some(d) = common::realdata("rpmdb/cbl-mariner-2.0") else {
        return;
    };
    let pkgs = check_packages(&d.join("rpmdb.sqlite"), &d.join("oracle"));
    assert_eq!(pkgs.len(), 129);
    check_files(&pkgs, &d.join("oracle"));
    check_deps(&pkgs, &d.join("oracle"));
    // Every mariner package is signed by Microsoft's key, and its stored header digest
    // equals the one we compute over the immutable region.
    for p in &pkgs {
        assert_eq!(
            p.signatures[0].key_id.as_deref(),
            Some("0cd9fed33135ce90"),
            "{}",
            p.nevra()
        );
        assert_eq!(p.sha256_header, p.computed_sha256_header, "{}", p.nevra());
    }
}

#[test]
fn fedora36_tzdata_equals_rpm() {
    let Some(d) = common::realdata("rpmdb/fedora-36-tzdata") else {
        return;
    };
    let pkgs = check_packages(&d.join("rpmdb.sqlite"), &d.join("oracle"));
    check_files(&pkgs, &d.join("oracle"));
    check_deps(&pkgs, &d.join("oracle"));
    assert_eq!(pkgs[0].files.len(), 1861);
    assert_eq!(pkgs[0].sha256_header, pkgs[0].computed_sha256_header);
}

#[test]
fn rhel8_bdb_equals_rpm() {
    let Some(d) = common::realdata("rpmdb/rhel8-libuuid-bdb") else {
        return;
    };
    let pkgs = check_packages(&d.join("Packages"), &d.join("oracle"));
    check_files(&pkgs, &d.join("oracle"));
    check_deps(&pkgs, &d.join("oracle"));
}

#[test]
fn debian_rpmbuild_sample_equals_rpm() {
    let Some(d) = common::realdata("rpmdb/debian-rpmbuild-sample") else {
        return;
    };
    let pkgs = check_packages(&d.join("rpmdb.sqlite"), &d.join("oracle-debian-rpm418"));
    check_files(&pkgs, &d.join("oracle-debian-rpm418"));
    let p = &pkgs[0];
    assert_eq!(p.epoch, Some(2));
    assert_eq!(p.license, "MIT AND (Apache-2.0 OR BSD-3-Clause)");
}

#[test]
fn sle15_ndb_equals_expected_list() {
    let Some(d) = common::realdata("rpmdb/sle15-bci-ndb") else {
        return;
    };
    let inv = scan::scan_db(&d.join("Packages.db"), None).unwrap_or_else(|e| panic!("{e}"));
    let ours: BTreeSet<String> = inv
        .packages
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.epoch.map(|e| e.to_string()).unwrap_or_default(),
                p.version.clone(),
                p.release.clone(),
                p.arch.clone(),
                p.source_rpm.clone().unwrap_or_default(),
                p.size.to_string(),
                p.license.clone(),
                p.vendor.clone().unwrap_or_default(),
                p.modularity_label.clone().unwrap_or_default(),
                p.summary.clone(),
                p.sigmd5.clone().unwrap_or_default(),
            ]
            .join("\t")
        })
        .collect();
    let theirs: BTreeSet<String> = lines(&d.join("expected-packages.tsv"))
        .into_iter()
        .filter(|l| !l.starts_with("gpg-pubkey\t"))
        .collect();
    let missing: Vec<_> = theirs.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&theirs).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
}
