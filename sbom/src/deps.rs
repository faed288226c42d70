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

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::inventory::Unresolved;
use crate::package::{sense, Dependency, Package};
use crate::rpm::vercmp::ranges_overlap;

pub struct Resolution {
    pub depends_on: Vec<(usize, usize)>,
    pub unresolved: Vec<Unresolved>,
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

pub fn resolve(packages: &[Package]) -> Resolution {
    resolve_with_memo_cap(packages, MEMO_CAP)
}

fn resolve_with_memo_cap(packages: &[Package], memo_cap: usize) -> Resolution {
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
    let satisfiers = |req: Key<'_>, out: &mut Vec<usize>| {
        out.clear();
        if let Some(list) = providers.get(req.0) {
            for prov in list {
                if out.last() == Some(&prov.pkg) {
                    continue; // this package already satisfies it
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
                        satisfiers(k, &mut scratch);
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
    Resolution {
        depends_on: edges.into_iter().collect(),
        unresolved,
    }
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
        let full = resolve_with_memo_cap(&packages, usize::MAX);
        let none = resolve_with_memo_cap(&packages, 0);
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
}
