//! Text renderings of RPM data that no standard SBOM field holds: the name/value
//! properties `fedora-attest:rpm:<name>` (CycloneDX `properties`, SPDX 3 extension entries,
//! SPDX 2.3 annotation lines) and the one-line forms of drift findings, keys, signatures and
//! file attributes that go into them.
//!
//! Invariants: property names follow the CycloneDX property-taxonomy syntax (`:`-separated,
//! `[A-Za-z0-9_-]` otherwise); paths and link targets inside a line are percent-encoded by
//! [`Escaped`] and a value written into an annotation line goes through [`OneLine`], so a
//! line can always be split back into its fields.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::{self, Display, Write as _};

use crate::drift::{FileDrift, UnownedFile};
use crate::format::common::web_url;
use crate::format::rfc3339;
use crate::image::tree::Kind;
use crate::package::{file_flags, Dependency, FileEntry, HeaderSignature, Package};

/// Namespace of every property name we emit.
pub const PROP_NS: &str = "fedora-attest";
/// Prefix of RPM header properties: `fedora-attest:rpm:sigmd5`, ...
pub const PROP_PREFIX: &str = "fedora-attest:rpm:";

/// One RPM property: `name` without the [`PROP_PREFIX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop<'a> {
    pub name: &'static str,
    pub value: Cow<'a, str>,
}

impl<'a> Prop<'a> {
    pub(super) fn new(name: &'static str, value: impl Into<Cow<'a, str>>) -> Self {
        Prop {
            name,
            value: value.into(),
        }
    }

    /// `fedora-attest:rpm:<name>`.
    pub fn full_name(&self) -> String {
        format!("{PROP_PREFIX}{}", self.name)
    }
}

/// `<path> class=<modified|config|excluded-doc> changes=<missing,size,mode,digest,link,user,group,type>[ actual=<ALGO>:<hex>][ actual_mode=<octal>][ actual_target=<target>]`,
/// path and target percent-encoded like [`Escaped`].
pub fn drift_file_line(p: &Package, f: &FileDrift) -> String {
    let mut s = format!("{} class={} changes=", Escaped(&f.path), f.class.name());
    for (k, c) in f.changes.iter().enumerate() {
        if k > 0 {
            s.push(',');
        }
        s.push_str(c.name());
    }
    if let Some(d) = &f.actual_digest {
        let _ = write!(s, " actual={}:{d}", p.file_digest_algo.spdx_name());
    }
    if let Some(m) = f.actual_mode {
        let _ = write!(s, " actual_mode=0{m:o}");
    }
    if let Some(t) = &f.actual_link {
        let _ = write!(s, " actual_target={}", Escaped(t));
    }
    s
}

/// An unowned entry that is not a regular file: `<path> kind=<kind> mode=<octal>[ target=<t>]`.
pub fn unowned_line(u: &UnownedFile) -> String {
    let kind = match u.kind {
        Kind::File => "regular",
        Kind::Dir => "directory",
        Kind::Symlink => "symlink",
        Kind::CharDevice => "char-device",
        Kind::BlockDevice => "block-device",
        Kind::Fifo => "fifo",
    };
    let mut s = format!("{} kind={kind} mode=0{:o}", Escaped(&u.path), u.mode);
    if let Some(t) = &u.link_target {
        let _ = write!(s, " target={}", Escaped(t));
    }
    s
}

/// `gpg-pubkey-<id>-<created_hex> created=<rfc3339> <summary>`; `gpg-pubkey-<v>-<r>` is the
/// name under which `rpm -q` lists the key.
pub fn key_summary(k: &crate::inventory::ImportedKey) -> String {
    let mut s = format!("gpg-pubkey-{}-{}", k.short_id, k.created_hex);
    if let Ok(t) = u32::from_str_radix(&k.created_hex, 16) {
        let _ = write!(s, " created={}", rfc3339(i64::from(t)));
    }
    if !k.summary.is_empty() {
        s.push(' ');
        s.push_str(&k.summary);
    }
    s
}

/// The RPM header data of one package that standard SBOM fields do not hold, in a fixed
/// order. Names (after `fedora-attest:rpm:`):
///
/// | name | value |
/// |---|---|
/// | `db_row` | row of the header in the database (sqlite hnum, bdb key, ndb slot) |
/// | `arch` | ARCH tag |
/// | `sigmd5` | SIGMD5: MD5 over header+payload of the original `.rpm` (not of the `.rpm` file) |
/// | `sha256header` | SHA256HEADER as stored |
/// | `sha256header_computed` | our SHA-256 of the immutable region, only when it differs from the stored one or none is stored |
/// | `sha1header` | SHA1HEADER as stored |
/// | `signature` | one per header signature: `<TAG> v<n> <pk-algo>/<hash-algo> key_id=<16 hex> [fingerprint=<hex>] [created=<rfc3339>]` |
/// | `signing_key_id` | each distinct issuer key id of the signatures |
/// | `source_rpm` | SOURCERPM |
/// | `build_time` | BUILDTIME, RFC 3339 |
/// | `build_host` | BUILDHOST |
/// | `packager` | PACKAGER |
/// | `group` | GROUP |
/// | `installed_size` | installed size in bytes |
/// | `modularity_label` | MODULARITYLABEL |
/// | `url` | URL, only when it is not a plain http(s)/ftp URL (else it is the homepage) |
/// | `bug_url` | BUGURL |
/// | `file_digest_algo` | FILEDIGESTALGO name (`SHA256`, ...) |
/// | `unresolved_requires` | one per requirement no installed package provides, as rpm prints it |
pub fn package_properties<'a>(p: &'a Package, unresolved: &[&'a Dependency]) -> Vec<Prop<'a>> {
    let mut v = Vec::with_capacity(16);
    v.push(Prop::new("db_row", p.db_row.to_string()));
    if !p.arch.is_empty() {
        v.push(Prop::new("arch", p.arch.as_str()));
    }
    if let Some(s) = &p.sigmd5 {
        v.push(Prop::new("sigmd5", s.as_str()));
    }
    if let Some(s) = &p.sha256_header {
        v.push(Prop::new("sha256header", s.as_str()));
    }
    if let Some(c) = &p.computed_sha256_header {
        if p.sha256_header.as_deref() != Some(c.as_str()) {
            v.push(Prop::new("sha256header_computed", c.as_str()));
        }
    }
    if let Some(s) = &p.sha1_header {
        v.push(Prop::new("sha1header", s.as_str()));
    }
    for s in &p.signatures {
        v.push(Prop::new("signature", signature_summary(s)));
    }
    // In first-seen order; a set, not a list scan: a hostile header may carry 100,000
    // signatures.
    let mut seen: HashSet<&str> = HashSet::new();
    for id in p.signatures.iter().filter_map(|s| s.key_id.as_deref()) {
        if seen.insert(id) {
            v.push(Prop::new("signing_key_id", id));
        }
    }
    if let Some(s) = &p.source_rpm {
        v.push(Prop::new("source_rpm", s.as_str()));
    }
    if let Some(t) = p.build_time {
        v.push(Prop::new("build_time", rfc3339(i64::from(t))));
    }
    if let Some(s) = &p.build_host {
        v.push(Prop::new("build_host", s.as_str()));
    }
    if let Some(s) = &p.packager {
        v.push(Prop::new("packager", s.as_str()));
    }
    if let Some(s) = &p.group {
        v.push(Prop::new("group", s.as_str()));
    }
    v.push(Prop::new("installed_size", p.size.to_string()));
    if let Some(s) = &p.modularity_label {
        v.push(Prop::new("modularity_label", s.as_str()));
    }
    if let Some(u) = &p.url {
        if web_url(u).is_none() && !u.trim().is_empty() {
            v.push(Prop::new("url", u.as_str()));
        }
    }
    if let Some(s) = &p.bug_url {
        v.push(Prop::new("bug_url", s.as_str()));
    }
    if !p.files.is_empty() {
        v.push(Prop::new(
            "file_digest_algo",
            p.file_digest_algo.spdx_name(),
        ));
    }
    for d in unresolved {
        v.push(Prop::new("unresolved_requires", d.display()));
    }
    v
}

/// `RSAHEADER v4 RSA/SHA256 key_id=... fingerprint=... created=...`.
pub fn signature_summary(s: &HeaderSignature) -> String {
    let tag = match s.tag {
        crate::package::SignatureTag::Rsaheader => "RSAHEADER",
        crate::package::SignatureTag::Dsaheader => "DSAHEADER",
        crate::package::SignatureTag::Openpgp => "OPENPGP",
    };
    use crate::rpm::pgpsig::{hash_algo_name, pubkey_algo_name};
    let pk: Cow<str> = pubkey_algo_name(s.pubkey_algo)
        .map_or_else(|| format!("pk{}", s.pubkey_algo).into(), Cow::from);
    let h: Cow<str> = hash_algo_name(s.hash_algo)
        .map_or_else(|| format!("hash{}", s.hash_algo).into(), Cow::from);
    let mut out = format!("{tag} v{} {pk}/{h}", s.version);
    if let Some(k) = &s.key_id {
        let _ = write!(out, " key_id={k}");
    }
    if let Some(f) = &s.fingerprint {
        let _ = write!(out, " fingerprint={f}");
    }
    if let Some(c) = s.created {
        let _ = write!(out, " created={}", rfc3339(i64::from(c)));
    }
    out
}

/// What kind of file system object an entry is, from its mode's type bits.
pub fn file_kind(f: &FileEntry) -> &'static str {
    match f.mode & FileEntry::S_IFMT {
        FileEntry::S_IFREG => "regular",
        FileEntry::S_IFDIR => "directory",
        FileEntry::S_IFLNK => "symlink",
        0o020000 => "char-device",
        0o060000 => "block-device",
        0o010000 => "fifo",
        0o140000 => "socket",
        _ => "unknown",
    }
}

/// RPMFILE_* bit names, in bit order.
const FLAG_NAMES: [(u32, &str); 11] = [
    (file_flags::CONFIG, "config"),
    (file_flags::DOC, "doc"),
    (file_flags::ICON, "icon"),
    (file_flags::MISSINGOK, "missingok"),
    (file_flags::NOREPLACE, "noreplace"),
    (file_flags::SPECFILE, "specfile"),
    (file_flags::GHOST, "ghost"),
    (file_flags::LICENSE, "license"),
    (file_flags::README, "readme"),
    (file_flags::PUBKEY, "pubkey"),
    (file_flags::ARTIFACT, "artifact"),
];

/// The file's RPMFILE_* flags as `config,noreplace`; unknown bits as `0x...`. Displays
/// nothing for no flags.
pub struct FileFlags(pub u32);

impl Display for FileFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut first = true;
        for (bit, name) in FLAG_NAMES {
            if rest & bit != 0 {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
                rest &= !bit;
            }
        }
        if rest != 0 {
            if !first {
                f.write_str(",")?;
            }
            write!(f, "{rest:#x}")?;
        }
        Ok(())
    }
}

/// `0100644`: st_mode in octal, as `rpm --dump` prints it.
pub struct Mode(pub u16);

impl Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0{:o}", self.0)
    }
}

/// A file's attributes in one line:
/// `kind=regular mode=0100644 owner=root:root size=1234[ flags=config,noreplace][ target=...]`.
/// With `escape`, the link target is percent-encoded like [`Escaped`] (for line-based text).
pub struct FileAttrs<'a> {
    pub file: &'a FileEntry,
    pub escape: bool,
}

impl Display for FileAttrs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.file;
        write!(
            f,
            "kind={} mode={} owner={}:{} size={}",
            file_kind(e),
            Mode(e.mode),
            Escaped(&e.user),
            Escaped(&e.group),
            e.size
        )?;
        if e.flags != 0 {
            write!(f, " flags={}", FileFlags(e.flags))?;
        }
        if let Some(t) = &e.link_target {
            if self.escape {
                write!(f, " target={}", Escaped(t))?;
            } else {
                write!(f, " target={t}")?;
            }
        }
        Ok(())
    }
}

/// Percent-encodes `%`, space, `=` and every control or non-ASCII byte, so the value
/// stays one token on one line and decodes back exactly.
pub struct Escaped<'a>(pub &'a str);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            if b <= b' ' || b == b'%' || b == b'=' || b >= 0x7f {
                // Every byte of a non-ASCII character is escaped, so a non-empty run of
                // kept bytes is ASCII and starts and ends on character boundaries.
                if start < i {
                    f.write_str(&s[start..i])?;
                }
                write!(f, "%{b:02X}")?;
                start = i + 1;
            }
        }
        f.write_str(&s[start..])
    }
}

/// Backslash-escapes `\`, CR and LF (`\\`, `\r`, `\n`) so a property value stays on one line.
pub struct OneLine<'a>(pub &'a str);

impl Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let rep = match b {
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                _ => continue,
            };
            f.write_str(&s[start..i])?;
            f.write_str(rep)?;
            start = i + 1;
        }
        f.write_str(&s[start..])
    }
}
