//! Resolves each package's requirements to the installed packages that satisfy them.
//!
//! A requirement is satisfied by a package that provides a capability of that name in an
//! overlapping version range, or, for a path (`/bin/sh`), by a package that owns that
//! file. Every satisfying package gets an edge (an SBOM states what could serve the
//! dependency; rpm's choice among alternatives is not recorded in its database).
//! `rpmlib(...)` requirements are provided by rpm itself and never unresolved.
//!
//! Cost: a header may repeat one name tens of thousands of times (in its provides, its
//! requires or its file list). Providers are kept once per (package, sense, version) and
//! file owners once per package; the satisfying packages of each distinct requirement
//! (name, sense, version) are computed once and remembered (up to [`MEMO_CAP`] entries in
//! all), and a package's repeated requirement is looked at once. What is left is one
//! range comparison per distinct requirement and distinct provider entry of its name.
//!
//! That is still requirements x providers for one name when both carry thousands of
//! distinct versions, which no real database does (a hostile one of 20,000 each took 17 s in a release build).
//! Sorting providers by version would avoid it, but `rpmvercmp` is not guaranteed to be a
//! total order on arbitrary strings (and `sort_by` may panic on one that is not), so the
//! comparisons are priced instead: past [`MAX_WORK`] resolution stops with an error that
//! names the package and capability, never a partial dependency graph.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::inventory::Unresolved;
use crate::package::{sense, Dependency, Package};
use crate::rpm::vercmp::ranges_overlap;

pub struct Resolution {
    pub depends_on: Vec<(usize, usize)>,
    pub unresolved: Vec<Unresolved>,
    /// The version-comparison work spent, in [`MAX_WORK`]'s units.
    pub work: u64,
}

/// The most version-comparison work one resolution may take: each comparison of two
/// versioned ranges costs 32 plus the bytes of both versions (~40 ns + ~1 ns a byte here),
/// so ~0.25 s, ~6 million typical comparisons. Measured: the CBL-Mariner 2.0 image's database (129 packages) needs 4,156, the
/// 3,000-package bench image 67,130.
pub const MAX_WORK: u64 = 1 << 28;

#[derive(Debug, thiserror::Error)]
#[error(
    "dependency resolution gave up in {package}: requirement '{requirement}' is one of too many \
     versioned requirements and provides of one name ({providers} distinct provides of '{name}'); \
     comparing their versions exceeds the limit ({max} units, a quarter of a second of work), which \
     no real RPM database comes near. Is this header set built to stall resolution?"
)]
pub struct TooMuchWork {
    pub package: String,
    pub requirement: String,
    pub name: String,
    pub providers: usize,
    pub max: u64,
}

/// At most this many package indices are remembered across all distinct requirements
/// (64 MiB); past it, results are computed again where they are needed.
const MEMO_CAP: usize = 1 << 23;

/// A requirement as far as resolution can tell: name, sense bits, version.
type Key<'a> = (&'a str, u32, &'a str);

/// One distinct provided capability of one package.
struct Provider<'a> {
    pkg: usize,
    flags: u32,
    version: &'a str,
}

fn is_rpm_internal(d: &Dependency) -> bool {
    d.flags & sense::RPMLIB != 0 || d.name.starts_with("rpmlib(")
}

fn key(d: &Dependency) -> Key<'_> {
    (
        d.name.as_str(),
        d.flags & sense::SENSEMASK,
        d.version.as_str(),
    )
}

pub fn resolve(packages: &[Package]) -> Result<Resolution, TooMuchWork> {
    resolve_with_caps(packages, MEMO_CAP, MAX_WORK)
}

fn resolve_with_caps(
    packages: &[Package],
    memo_cap: usize,
    max_work: u64,
) -> Result<Resolution, TooMuchWork> {
    // Per name, the distinct (package, sense, version) providers, in package order (so
    // each package's entries are adjacent).
    let mut providers: HashMap<&str, Vec<Provider<'_>>> = HashMap::new();
    let mut seen: HashSet<Key<'_>> = HashSet::new();
    for (i, p) in packages.iter().enumerate() {
        seen.clear();
        for d in &p.provides {
            let k = key(d);
            if seen.insert(k) {
                providers.entry(k.0).or_default().push(Provider {
                    pkg: i,
                    flags: k.1,
                    version: k.2,
                });
            }
        }
    }
    // Index only the paths somebody requires: a full file index of a 200k-file image
    // would cost more than everything else here. Each owner once, ascending.
    let wanted: HashSet<&str> = packages
        .iter()
        .flat_map(|p| &p.requires)
        .filter(|d| d.name.starts_with('/'))
        .map(|d| d.name.as_str())
        .collect();
    let mut owners: HashMap<&str, Vec<usize>> = HashMap::new();
    if !wanted.is_empty() {
        for (i, p) in packages.iter().enumerate() {
            for f in &p.files {
                if let Some(&w) = wanted.get(f.path.as_str()) {
                    let list = owners.entry(w).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
        }
    }
    let mut work = 0u64;
    let mut satisfiers = |req: Key<'_>, out: &mut Vec<usize>| -> Result<(), usize> {
        out.clear();
        if let Some(list) = providers.get(req.0) {
            for prov in list {
                if out.last() == Some(&prov.pkg) {
                    continue; // this package already satisfies it
                }
                if prov.flags != 0 && !prov.version.is_empty() && req.1 != 0 && !req.2.is_empty() {
                    work += 32 + (prov.version.len() + req.2.len()) as u64;
                    if work > max_work {
                        return Err(list.len());
                    }
                }
                if ranges_overlap(prov.flags, prov.version, req.1, req.2) {
                    out.push(prov.pkg);
                }
            }
        }
        if req.0.starts_with('/') {
            if let Some(list) = owners.get(req.0) {
                if out.is_empty() {
                    out.extend_from_slice(list);
                } else {
                    out.extend_from_slice(list);
                    out.sort_unstable();
                    out.dedup();
                }
            }
        }
        Ok(())
    };

    let mut memo: HashMap<Key<'_>, Vec<usize>> = HashMap::new();
    let mut memo_len = 0usize;
    let mut scratch = Vec::new();
    let mut done: HashMap<Key<'_>, bool> = HashMap::new();
    let mut edges = BTreeSet::new();
    let mut unresolved = Vec::new();
    for (a, p) in packages.iter().enumerate() {
        done.clear();
        for req in &p.requires {
            if is_rpm_internal(req) {
                continue;
            }
            let k = key(req);
            let found = match done.get(&k) {
                Some(&found) => found,
                None => {
                    if let Entry::Vacant(slot) = memo.entry(k) {
                        satisfiers(k, &mut scratch).map_err(|providers| TooMuchWork {
                            package: p.nevra(),
                            requirement: req.display(),
                            name: req.name.clone(),
                            providers,
                            max: max_work,
                        })?;
                        if memo_len + scratch.len() <= memo_cap {
                            memo_len += scratch.len();
                            slot.insert(scratch.clone());
                        }
                    }
                    let list: &[usize] = memo.get(&k).map_or(&scratch, Vec::as_slice);
                    for &b in list {
                        if a != b {
                            edges.insert((a, b));
                        }
                    }
                    let found = !list.is_empty();
                    done.insert(k, found);
                    found
                }
            };
            if !found {
                unresolved.push(Unresolved {
                    package: a,
                    requirement: req.clone(),
                });
            }
        }
    }
    Ok(Resolution {
        depends_on: edges.into_iter().collect(),
        unresolved,
        work,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{DigestAlgo, FileEntry};

    fn dep(name: &str, flags: u32, version: &str) -> Dependency {
        Dependency {
            name: name.into(),
            flags,
            version: version.into(),
        }
    }

    fn package(name: &str, provides: Vec<Dependency>, requires: Vec<Dependency>) -> Package {
        Package {
            name: name.into(),
            version: "1".into(),
            release: "1".into(),
            arch: "noarch".into(),
            file_digest_algo: DigestAlgo::Sha256,
            requires,
            provides,
            ..Package::default()
        }
    }

    /// Past the memo's cap, results are computed where they are needed: same answer.
    #[test]
    fn a_full_memo_changes_nothing() {
        let (ge, lt, eq) = (sense::GREATER | sense::EQUAL, sense::LESS, sense::EQUAL);
        let mut owner = package("owner", vec![dep("x", eq, "2")], vec![dep("x", ge, "1")]);
        owner.files = vec![FileEntry {
            path: "/bin/sh".into(),
            mode: 0o100755,
            user: "root".into(),
            group: "root".into(),
            ..FileEntry::default()
        }];
        let packages = vec![
            owner,
            package(
                "a",
                vec![dep("x", eq, "1"), dep("x", eq, "3")],
                vec![dep("x", ge, "1"), dep("/bin/sh", 0, ""), dep("x", lt, "1")],
            ),
            package(
                "b",
                vec![dep("/bin/sh", 0, "")],
                vec![dep("x", ge, "1"), dep("/bin/sh", 0, ""), dep("x", lt, "1")],
            ),
        ];
        let full = resolve_with_caps(&packages, usize::MAX, MAX_WORK).unwrap();
        let none = resolve_with_caps(&packages, 0, MAX_WORK).unwrap();
        assert_eq!(full.depends_on, none.depends_on);
        assert_eq!(full.unresolved, none.unresolved);
        assert_eq!(
            full.depends_on,
            vec![(0, 1), (1, 0), (1, 2), (2, 0), (2, 1)]
        );
        let unresolved: Vec<(usize, String)> = full
            .unresolved
            .iter()
            .map(|u| (u.package, u.requirement.display()))
            .collect();
        assert_eq!(unresolved, vec![(1, "x < 1".into()), (2, "x < 1".into())]);
    }

    /// The work budget counts exactly the versioned comparisons (32 + both versions' bytes):
    /// unversioned sides cost nothing, and one unit over the budget fails naming the package.
    #[test]
    fn the_work_budget_prices_versioned_comparisons_only() {
        let (ge, eq) = (sense::GREATER | sense::EQUAL, sense::EQUAL);
        let packages = vec![
            package("p", vec![dep("x", eq, "1.0"), dep("y", 0, "")], vec![]),
            package(
                "q",
                vec![],
                vec![dep("x", ge, "1"), dep("x", 0, ""), dep("y", ge, "2")],
            ),
        ];
        // Only `x >= 1` against `x = 1.0` is priced: 32 + 3 + 1.
        let r = resolve_with_caps(&packages, MEMO_CAP, 36).unwrap();
        assert_eq!(r.work, 36);
        assert_eq!(r.depends_on, vec![(1, 0)]);
        let e = resolve_with_caps(&packages, MEMO_CAP, 35)
            .err()
            .expect("over budget");
        assert_eq!(
            (e.package.as_str(), e.requirement.as_str(), e.providers),
            ("q-1-1.noarch", "x >= 1", 1)
        );
    }
}
