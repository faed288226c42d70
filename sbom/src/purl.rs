//! Package URLs for RPMs, per the purl spec's `rpm` type:
//! `pkg:rpm/<namespace>/<name>@<version>-<release>?arch=<arch>&epoch=<n>&distro=<id>-<version_id>`.
//!
//! Invariants: only qualifiers the spec defines for `rpm` (arch, epoch, distro) are used,
//! sorted by key as the spec requires; the namespace is the lower-cased distro id; every
//! component is percent-encoded per the spec, so a hostile package name cannot inject
//! qualifiers or path segments.

use crate::osrelease::OsRelease;
use crate::package::Package;

/// The purl of an installed package. `distro` supplies the namespace and `distro` qualifier.
pub fn for_package(pkg: &Package, distro: Option<&OsRelease>) -> String {
    let namespace = distro.map(|d| d.id.to_ascii_lowercase());
    let mut s = String::from("pkg:rpm/");
    if let Some(ns) = &namespace {
        encode_into(&mut s, ns);
        s.push('/');
    }
    encode_into(&mut s, &pkg.name);
    s.push('@');
    encode_into(&mut s, &format!("{}-{}", pkg.version, pkg.release));
    let mut quals: Vec<(&str, String)> = Vec::new();
    if !pkg.arch.is_empty() {
        quals.push(("arch", pkg.arch.clone()));
    }
    if let Some(d) = distro {
        quals.push(("distro", d.purl_distro()));
    }
    if let Some(e) = pkg.epoch {
        quals.push(("epoch", e.to_string()));
    }
    quals.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (k, v)) in quals.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        encode_into(&mut s, v);
    }
    s
}

/// Percent-encodes everything outside the purl spec's unreserved set (`A-Za-z0-9.-_~`).
/// `+` in versions (e.g. `1.0+git`) becomes `%2B`, as the spec requires.
fn encode_into(out: &mut String, v: &str) {
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}
