//! Resolves each package's requirements to the installed packages that satisfy them.
//!
//! A requirement is satisfied by a package that provides a capability of that name in an
//! overlapping version range, or, for a path (`/bin/sh`), by a package that owns that
//! file. Every satisfying package gets an edge (an SBOM states what could serve the
//! dependency; rpm's choice among alternatives is not recorded in its database).
//! `rpmlib(...)` requirements are provided by rpm itself and never unresolved.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::inventory::Unresolved;
use crate::package::{sense, Dependency, Package};
use crate::rpm::vercmp::ranges_overlap;

pub struct Resolution {
    pub depends_on: Vec<(usize, usize)>,
    pub unresolved: Vec<Unresolved>,
}

fn is_rpm_internal(d: &Dependency) -> bool {
    d.flags & sense::RPMLIB != 0 || d.name.starts_with("rpmlib(")
}

pub fn resolve(packages: &[Package]) -> Resolution {
    let mut providers: HashMap<&str, Vec<(usize, &Dependency)>> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        for d in &p.provides {
            providers.entry(d.name.as_str()).or_default().push((i, d));
        }
    }
    // Index only the paths somebody requires: a full file index of a 200k-file image
    // would cost more than everything else here.
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
                    owners.entry(w).or_default().push(i);
                }
            }
        }
    }

    let mut edges = BTreeSet::new();
    let mut unresolved = Vec::new();
    for (a, p) in packages.iter().enumerate() {
        for req in &p.requires {
            if is_rpm_internal(req) {
                continue;
            }
            let mut found = false;
            if let Some(list) = providers.get(req.name.as_str()) {
                for &(b, prov) in list {
                    if ranges_overlap(prov.flags, &prov.version, req.flags, &req.version) {
                        found = true;
                        if a != b {
                            edges.insert((a, b));
                        }
                    }
                }
            }
            if req.name.starts_with('/') {
                if let Some(list) = owners.get(req.name.as_str()) {
                    for &b in list {
                        found = true;
                        if a != b {
                            edges.insert((a, b));
                        }
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
    Resolution {
        depends_on: edges.into_iter().collect(),
        unresolved,
    }
}
