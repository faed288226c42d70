//! `verify image --verify-files`: every file of the image against what its signed header
//! declares (sbom's drift check, the `rpm -Va` equivalent), judged by the policy's `[drift]`
//! rules.
//!
//! Invariants: a file that cannot be checked is an error finding, never a pass; what the policy
//! does not allow fails; the RPM database itself is the one unowned file every image has and
//! is never reported.

use std::collections::BTreeMap;

use sbom::drift::{Change, DriftError, DriftReport, FileClass, FileDrift};
use sbom::inventory::Inventory;

use crate::policy::{glob_match, Policy};
use crate::report::{Finding, Status, Subject, SubjectKind};

pub const CHECK_FILES: &str = "files.drift";
pub const CHECK_UNOWNED: &str = "files.unowned";

fn matches_any(globs: &[String], path: &str) -> bool {
    globs.iter().any(|g| glob_match(g, path))
}

/// The database rpm keeps beside the files: never owned by a package, always present.
fn is_rpm_database(path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    sbom::rpmdb::DB_DIRS.iter().any(|d| {
        rel.strip_prefix(d)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| !name.contains('/'))
    })
}

/// How the policy judges one changed packaged file: (status, finding kind).
fn judge(fd: &FileDrift, policy: &Policy) -> (Status, &'static str) {
    let d = &policy.drift;
    match fd.class {
        // Missing %doc/%license after a nodocs install is not tampering.
        FileClass::ExcludedDoc => (Status::Pass, "excluded-doc"),
        FileClass::Config if d.config_files || matches_any(&d.modified, &fd.path) => {
            (Status::Pass, "config-changed-allowed")
        }
        FileClass::Config => (Status::Fail, "config-changed"),
        FileClass::Modified => {
            if fd.changes.contains(&Change::Unreadable) {
                return (Status::Error, "unreadable");
            }
            if fd.changes.contains(&Change::Missing) {
                return if matches_any(&d.removed, &fd.path) {
                    (Status::Pass, "removed-allowed")
                } else {
                    (Status::Fail, "missing")
                };
            }
            let metadata = fd
                .changes
                .iter()
                .any(|c| matches!(c, Change::Mode | Change::User | Change::Group));
            if matches_any(&d.modified, &fd.path) && (!metadata || d.metadata) {
                (Status::Pass, "modified-allowed")
            } else {
                (Status::Fail, "modified")
            }
        }
    }
}

/// Judges sbom's drift report (`sbom::drift::check_root_listing` or `check_image`; an error
/// is an `error` finding) and appends the findings.
///
/// `attested` maps overlay paths to the SHA-256 that verified image provenance names for
/// them: a file no package owns, or a packaged file an overlay replaced, passes when its
/// content has exactly that digest (and, for a packaged file, only its content changed).
pub fn findings(
    inv: &Inventory,
    checked: Result<DriftReport, DriftError>,
    policy: &Policy,
    attested: &BTreeMap<String, String>,
    image: &Subject,
    out: &mut Vec<Finding>,
) {
    let report = match checked {
        Ok(r) => r,
        Err(e) => {
            out.push(Finding::new(
                CHECK_FILES,
                image.clone(),
                Status::Error,
                "drift-unreadable",
                e.to_string(),
            ));
            return;
        }
    };
    for (pkg, pd) in inv.packages.iter().zip(&report.packages) {
        if pd.files.is_empty() {
            out.push(Finding::new(
                CHECK_FILES,
                Subject {
                    kind: SubjectKind::Package,
                    name: pkg.nevra(),
                },
                Status::Pass,
                "intact",
                format!("{} files as the signed header declares", pkg.files.len()),
            ));
            continue;
        }
        for fd in &pd.files {
            let (status, kind) = match judge(fd, policy) {
                (Status::Fail, _) if replaced_by_attested_overlay(pkg, fd, attested) => {
                    (Status::Pass, "overlay-attested")
                }
                judged => judged,
            };
            let changes: Vec<&str> = fd.changes.iter().map(|c| c.name()).collect();
            out.push(Finding::new(
                CHECK_FILES,
                Subject {
                    kind: SubjectKind::File,
                    name: fd.path.clone(),
                },
                status,
                kind,
                format!(
                    "{} ({}): {}",
                    pkg.nevra(),
                    fd.class.name(),
                    changes.join(", ")
                ),
            ));
        }
    }
    for u in &report.unowned {
        if is_rpm_database(&u.path) {
            continue;
        }
        let attested_here = u.sha256.is_some() && attested.get(&u.path) == u.sha256.as_ref();
        let allowed = attested_here || matches_any(&policy.drift.added, &u.path);
        let what = match (&u.sha256, &u.link_target) {
            (Some(h), _) => format!("sha256 {h}, {} bytes, mode {:o}", u.size, u.mode),
            (None, Some(t)) => format!("symlink to {t}"),
            (None, None) => format!("mode {:o}", u.mode),
        };
        out.push(Finding::new(
            CHECK_UNOWNED,
            Subject {
                kind: SubjectKind::File,
                name: u.path.clone(),
            },
            if allowed { Status::Pass } else { Status::Fail },
            if attested_here {
                "overlay-attested"
            } else if allowed {
                "unowned-allowed"
            } else {
                "unowned-file"
            },
            format!("no package owns it: {what}"),
        ));
    }
}

/// A packaged file whose content (only) differs, and is exactly what verified provenance
/// says an overlay put there.
fn replaced_by_attested_overlay(
    pkg: &sbom::package::Package,
    fd: &FileDrift,
    attested: &BTreeMap<String, String>,
) -> bool {
    let Some(want) = attested.get(&fd.path) else {
        return false;
    };
    let content_only = fd
        .changes
        .iter()
        .all(|c| matches!(c, Change::Digest | Change::Size));
    content_only
        && pkg.file_digest_algo == sbom::package::DigestAlgo::Sha256
        && fd.actual_digest.as_ref() == Some(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(path: &str, class: FileClass, changes: &[Change]) -> FileDrift {
        FileDrift {
            path: path.into(),
            class,
            changes: changes.to_vec(),
            actual_digest: None,
            actual_size: None,
            actual_mode: None,
            actual_link: None,
        }
    }

    #[test]
    fn strict_default_fails_every_change_but_excluded_docs() {
        let p = Policy::default();
        assert_eq!(
            judge(
                &fd("/usr/bin/x", FileClass::Modified, &[Change::Digest]),
                &p
            )
            .1,
            "modified"
        );
        assert_eq!(
            judge(
                &fd("/usr/bin/x", FileClass::Modified, &[Change::Missing]),
                &p
            )
            .1,
            "missing"
        );
        assert_eq!(
            judge(&fd("/etc/x.conf", FileClass::Config, &[Change::Digest]), &p).1,
            "config-changed"
        );
        assert_eq!(
            judge(
                &fd(
                    "/usr/share/doc/x",
                    FileClass::ExcludedDoc,
                    &[Change::Missing]
                ),
                &p
            )
            .0,
            Status::Pass
        );
        assert_eq!(
            judge(
                &fd("/usr/bin/x", FileClass::Modified, &[Change::Unreadable]),
                &p
            )
            .0,
            Status::Error
        );
    }

    #[test]
    fn policy_globs_allow_exactly_what_they_name() {
        let mut p = Policy::default();
        p.drift.modified = vec!["/etc/motd*".into()];
        p.drift.removed = vec!["/usr/share/man/*".into()];
        assert_eq!(
            judge(
                &fd(
                    "/etc/motd",
                    FileClass::Modified,
                    &[Change::Digest, Change::Size]
                ),
                &p
            )
            .0,
            Status::Pass
        );
        // Mode changes need `metadata = true` as well.
        assert_eq!(
            judge(&fd("/etc/motd", FileClass::Modified, &[Change::Mode]), &p).0,
            Status::Fail
        );
        p.drift.metadata = true;
        assert_eq!(
            judge(&fd("/etc/motd", FileClass::Modified, &[Change::Mode]), &p).0,
            Status::Pass
        );
        assert_eq!(
            judge(
                &fd(
                    "/usr/share/man/x.1",
                    FileClass::Modified,
                    &[Change::Missing]
                ),
                &p
            )
            .0,
            Status::Pass
        );
        assert_eq!(
            judge(
                &fd("/usr/bin/x", FileClass::Modified, &[Change::Missing]),
                &p
            )
            .0,
            Status::Fail
        );
    }

    #[test]
    fn only_the_database_files_are_exempt() {
        assert!(is_rpm_database("/usr/lib/sysimage/rpm/rpmdb.sqlite"));
        assert!(is_rpm_database("/var/lib/rpm/Packages"));
        assert!(!is_rpm_database("/var/lib/rpm/sub/evil"));
        assert!(!is_rpm_database("/var/lib/rpmx/evil"));
        assert!(!is_rpm_database("/etc/passwd"));
    }
}
