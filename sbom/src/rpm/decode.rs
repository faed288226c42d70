//! Header -> [`Package`]: the typed view of one installed package.
//!
//! Invariant: parallel arrays (file names, digests, modes, ...; dependency names, flags,
//! versions) must agree in length, and directory indexes must point at a directory;
//! a header that breaks either is corrupt and rejected, never half-decoded.

use std::borrow::Cow;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::header::{Header, HeaderError};
use super::pgpsig;
use super::tags as t;
use crate::package::{Dependency, DigestAlgo, FileEntry, HeaderSignature, Package, SignatureTag};

/// Decoding failed: which database row, which package (when the name was readable), why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header at database row {row}{}: {source}", .name.as_ref().map(|n| format!(" (package {n})")).unwrap_or_default())]
pub struct DecodeError {
    pub row: u32,
    pub name: Option<String>,
    #[source]
    pub source: HeaderError,
}

/// Decodes a header blob into a package.
pub fn decode(row: u32, blob: &[u8]) -> Result<Package, DecodeError> {
    let wrap = |name: Option<String>| move |source| DecodeError { row, name, source };
    let h = Header::parse(blob).map_err(wrap(None))?;
    let name = h.string(t::NAME).ok().flatten().map(Cow::into_owned);
    let mut pkg = decode_header(&h).map_err(wrap(name))?;
    pkg.db_row = row;
    Ok(pkg)
}

fn bad(tag: u32, reason: String) -> HeaderError {
    HeaderError::BadValue {
        tag,
        name: t::name(tag),
        reason,
    }
}

fn opt_string(h: &Header, tag: u32) -> Result<Option<String>, HeaderError> {
    Ok(h.string(tag)?.map(Cow::into_owned))
}

fn req_string(h: &Header, tag: u32) -> Result<String, HeaderError> {
    h.string(tag)?
        .map(Cow::into_owned)
        .ok_or_else(|| bad(tag, "required tag is missing".into()))
}

fn opt_u32(h: &Header, tag: u32) -> Result<Option<u32>, HeaderError> {
    h.int(tag)?
        .map(|v| u32::try_from(v).map_err(|_| bad(tag, format!("{v} does not fit 32 bits"))))
        .transpose()
}

/// Decodes an already parsed header.
pub fn decode_header(h: &Header) -> Result<Package, HeaderError> {
    let name = req_string(h, t::NAME)?;
    let version = req_string(h, t::VERSION)?;
    let release = req_string(h, t::RELEASE)?;
    let digest_algo = match h.int(t::FILEDIGESTALGO)? {
        None => DigestAlgo::Md5,
        Some(id) => DigestAlgo::from_pgp_id(id as u32)
            .filter(|_| id <= u64::from(u32::MAX))
            .ok_or_else(|| bad(t::FILEDIGESTALGO, format!("unknown digest algorithm {id}")))?,
    };
    let size = match h.int(t::LONGSIZE)? {
        Some(v) => v,
        None => h.int(t::SIZE)?.unwrap_or(0),
    };
    let mut computed = Sha256::new();
    let computed_sha256_header = h
        .for_each_signed_chunk(|c| computed.update(c))
        .then(|| hex::encode(computed.finalize()));

    Ok(Package {
        db_row: 0,
        epoch: opt_u32(h, t::EPOCH)?,
        arch: opt_string(h, t::ARCH)?.unwrap_or_default(),
        summary: opt_string(h, t::SUMMARY)?.unwrap_or_default(),
        license: opt_string(h, t::LICENSE)?.unwrap_or_default(),
        vendor: opt_string(h, t::VENDOR)?,
        packager: opt_string(h, t::PACKAGER)?,
        url: opt_string(h, t::URL)?,
        bug_url: opt_string(h, t::BUGURL)?,
        group: opt_string(h, t::GROUP)?,
        source_rpm: opt_string(h, t::SOURCERPM)?,
        build_time: opt_u32(h, t::BUILDTIME)?,
        build_host: opt_string(h, t::BUILDHOST)?,
        install_time: opt_u32(h, t::INSTALLTIME)?,
        size,
        modularity_label: opt_string(h, t::MODULARITYLABEL)?,
        sigmd5: h.bin(t::SIGMD5)?.map(hex::encode),
        sha256_header: opt_string(h, t::SHA256HEADER)?,
        sha1_header: opt_string(h, t::SHA1HEADER)?,
        computed_sha256_header,
        signatures: signatures(h)?,
        file_digest_algo: digest_algo,
        files: files(h, digest_algo)?,
        requires: deps(h, t::REQUIRENAME, t::REQUIREFLAGS, t::REQUIREVERSION)?,
        provides: deps(h, t::PROVIDENAME, t::PROVIDEFLAGS, t::PROVIDEVERSION)?,
        conflicts: deps(h, t::CONFLICTNAME, t::CONFLICTFLAGS, t::CONFLICTVERSION)?,
        obsoletes: deps(h, t::OBSOLETENAME, t::OBSOLETEFLAGS, t::OBSOLETEVERSION)?,
        recommends: deps(h, t::RECOMMENDNAME, t::RECOMMENDFLAGS, t::RECOMMENDVERSION)?,
        suggests: deps(h, t::SUGGESTNAME, t::SUGGESTFLAGS, t::SUGGESTVERSION)?,
        supplements: deps(
            h,
            t::SUPPLEMENTNAME,
            t::SUPPLEMENTFLAGS,
            t::SUPPLEMENTVERSION,
        )?,
        enhances: deps(h, t::ENHANCENAME, t::ENHANCEFLAGS, t::ENHANCEVERSION)?,
        name,
        version,
        release,
    })
}

fn signature(tag: SignatureTag, src: u32, bytes: &[u8]) -> Result<HeaderSignature, HeaderError> {
    let p = pgpsig::parse(bytes).map_err(|e| bad(src, e.to_string()))?;
    Ok(HeaderSignature {
        tag,
        version: p.version,
        pubkey_algo: p.pubkey_algo,
        hash_algo: p.hash_algo,
        created: p.created,
        key_id: p.issuer_key_id.map(hex::encode),
        fingerprint: p.issuer_fingerprint.map(hex::encode),
    })
}

/// Header-only OpenPGP signatures, in the order rpm checks them.
fn signatures(h: &Header) -> Result<Vec<HeaderSignature>, HeaderError> {
    let mut out = Vec::new();
    if let Some(b) = h.bin(t::RSAHEADER)? {
        out.push(signature(SignatureTag::Rsaheader, t::RSAHEADER, b)?);
    }
    if let Some(b) = h.bin(t::DSAHEADER)? {
        out.push(signature(SignatureTag::Dsaheader, t::DSAHEADER, b)?);
    }
    for s in h.strings(t::OPENPGP)? {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.trim().as_bytes())
            .map_err(|e| bad(t::OPENPGP, format!("not base64: {e}")))?;
        out.push(signature(SignatureTag::Openpgp, t::OPENPGP, &raw)?);
    }
    Ok(out)
}

/// Reads a parallel array, which must be absent or exactly `n` long.
fn parallel<T>(tag: u32, v: Vec<T>, n: usize) -> Result<Vec<T>, HeaderError> {
    if !v.is_empty() && v.len() != n {
        return Err(bad(tag, format!("{} entries for {n} files", v.len())));
    }
    Ok(v)
}

/// How much memory a header's files may decode to, as a multiple of the header's size.
/// Real headers measured at most 3.2 (SLE 15 BCI's ndb; CBL-Mariner 2.0's 129 packages at
/// most 1.8): every file carries a digest, owner, mode and more. A hostile one can list a
/// million empty names in one 4,000-byte directory (2 GB of paths from 2.5 MB).
const MAX_EXPANSION: usize = 16;

/// What one decoded file costs besides its path: the `FileEntry` and its small strings.
const FILE_COST: usize = std::mem::size_of::<FileEntry>() + 32;

fn expansion_check(h: &Header, n: usize, path_bytes: usize) -> Result<(), HeaderError> {
    let cost = n.saturating_mul(FILE_COST).saturating_add(path_bytes);
    let budget = h.blob_len().saturating_mul(MAX_EXPANSION);
    if cost > budget {
        return Err(bad(
            t::BASENAMES,
            format!(
                "{n} files with {path_bytes} bytes of paths would take {cost} bytes from a \
                 {}-byte header, over {MAX_EXPANSION} times its size: refused as hostile",
                h.blob_len()
            ),
        ));
    }
    Ok(())
}

fn files(h: &Header, algo: DigestAlgo) -> Result<Vec<FileEntry>, HeaderError> {
    let paths: Vec<String> = if h.has(t::BASENAMES) {
        let base = h.strings(t::BASENAMES)?;
        let dirs = h.strings(t::DIRNAMES)?;
        let idx = h.ints(t::DIRINDEXES)?;
        if idx.len() != base.len() {
            return Err(bad(
                t::DIRINDEXES,
                format!("{} entries for {} files", idx.len(), base.len()),
            ));
        }
        // Priced before any path is built.
        let path_bytes = base
            .iter()
            .zip(&idx)
            .map(|(b, &i)| b.len() + dirs.get(i as usize).map_or(0, |d| d.len()))
            .fold(0usize, usize::saturating_add);
        expansion_check(h, base.len(), path_bytes)?;
        base.iter()
            .zip(&idx)
            .map(|(b, &i)| {
                let d = dirs.get(i as usize).ok_or_else(|| {
                    bad(
                        t::DIRINDEXES,
                        format!("index {i} but only {} directories", dirs.len()),
                    )
                })?;
                let mut p = String::with_capacity(d.len() + b.len());
                p.push_str(d);
                p.push_str(b);
                Ok(p)
            })
            .collect::<Result<_, HeaderError>>()?
    } else {
        // Pre-4.0 headers list whole paths (no more bytes than the header holds).
        let names = h.strings(t::OLDFILENAMES)?;
        expansion_check(h, names.len(), 0)?;
        names.into_iter().map(Cow::into_owned).collect()
    };
    let n = paths.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let sizes = if h.has(t::LONGFILESIZES) {
        parallel(t::LONGFILESIZES, h.ints(t::LONGFILESIZES)?, n)?
    } else {
        parallel(t::FILESIZES, h.ints(t::FILESIZES)?, n)?
    };
    let modes = parallel(t::FILEMODES, h.ints(t::FILEMODES)?, n)?;
    let digests = parallel(t::FILEDIGESTS, h.strings(t::FILEDIGESTS)?, n)?;
    let links = parallel(t::FILELINKTOS, h.strings(t::FILELINKTOS)?, n)?;
    let flags = parallel(t::FILEFLAGS, h.ints(t::FILEFLAGS)?, n)?;
    let users = parallel(t::FILEUSERNAME, h.strings(t::FILEUSERNAME)?, n)?;
    let groups = parallel(t::FILEGROUPNAME, h.strings(t::FILEGROUPNAME)?, n)?;
    let mtimes = parallel(t::FILEMTIMES, h.ints(t::FILEMTIMES)?, n)?;
    let vflags = parallel(t::FILEVERIFYFLAGS, h.ints(t::FILEVERIFYFLAGS)?, n)?;
    let inodes = parallel(t::FILEINODES, h.ints(t::FILEINODES)?, n)?;
    let langs = parallel(t::FILELANGS, h.strings(t::FILELANGS)?, n)?;

    let get_s = |v: &[Cow<str>], i: usize| v.get(i).map(|s| s.to_string()).unwrap_or_default();
    let get_i = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for (i, path) in paths.into_iter().enumerate() {
        let digest = match digests.get(i).map(|d| d.as_ref()) {
            None | Some("") => None,
            Some(d) => {
                if d.len() != algo.hex_len() || !d.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad(
                        t::FILEDIGESTS,
                        format!("digest of {path} is not a {} hex digest", algo.spdx_name()),
                    ));
                }
                Some(d.to_ascii_lowercase())
            }
        };
        let link = links
            .get(i)
            .filter(|l| !l.is_empty())
            .map(|l| l.to_string());
        out.push(FileEntry {
            path,
            digest,
            size: get_i(&sizes, i),
            mode: get_i(&modes, i) as u16,
            user: get_s(&users, i),
            group: get_s(&groups, i),
            flags: get_i(&flags, i) as u32,
            link_target: link,
            mtime: get_i(&mtimes, i) as u32,
            verify_flags: get_i(&vflags, i) as u32,
            inode: get_i(&inodes, i) as u32,
            lang: get_s(&langs, i),
        });
    }
    Ok(out)
}

fn deps(
    h: &Header,
    name_tag: u32,
    flag_tag: u32,
    ver_tag: u32,
) -> Result<Vec<Dependency>, HeaderError> {
    let names = h.strings(name_tag)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let n = names.len();
    let flags = parallel(flag_tag, h.ints(flag_tag)?, n)?;
    let vers = parallel(ver_tag, h.strings(ver_tag)?, n)?;
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(i, name)| Dependency {
            name: name.into_owned(),
            flags: flags.get(i).copied().unwrap_or(0) as u32,
            version: vers.get(i).map(|v| v.to_string()).unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpm::header::tests::{build, s};
    use crate::rpm::header::TagType;

    fn strings(v: &[&str]) -> Vec<u8> {
        v.iter().flat_map(|x| s(x)).collect()
    }
    fn u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    fn pkg_blob(dirindexes: &[u32]) -> Vec<u8> {
        build(&[
            (t::NAME, TagType::String, 1, s("hello")),
            (t::VERSION, TagType::String, 1, s("1.0")),
            (t::RELEASE, TagType::String, 1, s("2.fc40")),
            (t::EPOCH, TagType::Int32, 1, u32s(&[3])),
            (t::ARCH, TagType::String, 1, s("x86_64")),
            (t::LICENSE, TagType::String, 1, s("MIT")),
            (
                t::FILEMODES,
                TagType::Int16,
                2,
                [0o100644u16.to_be_bytes(), 0o120777u16.to_be_bytes()].concat(),
            ),
            (
                t::FILEDIGESTS,
                TagType::StringArray,
                2,
                strings(&[&"ab".repeat(32), ""]),
            ),
            (
                t::FILELINKTOS,
                TagType::StringArray,
                2,
                strings(&["", "hello.txt"]),
            ),
            (
                t::BASENAMES,
                TagType::StringArray,
                2,
                strings(&["hello.txt", "link"]),
            ),
            (
                t::DIRNAMES,
                TagType::StringArray,
                1,
                strings(&["/usr/share/hello/"]),
            ),
            (
                t::DIRINDEXES,
                TagType::Int32,
                dirindexes.len() as u32,
                u32s(dirindexes),
            ),
            (
                t::REQUIRENAME,
                TagType::StringArray,
                2,
                strings(&["/bin/sh", "libc.so.6"]),
            ),
            (t::REQUIREFLAGS, TagType::Int32, 2, u32s(&[0, 0])),
            (
                t::REQUIREVERSION,
                TagType::StringArray,
                2,
                strings(&["", ""]),
            ),
            (t::FILEDIGESTALGO, TagType::Int32, 1, u32s(&[8])),
        ])
    }

    #[test]
    fn decodes_a_package() {
        let p = decode(7, &pkg_blob(&[0, 0])).unwrap();
        assert_eq!(p.nevra(), "hello-3:1.0-2.fc40.x86_64");
        assert_eq!(p.files.len(), 2);
        assert_eq!(p.files[0].path, "/usr/share/hello/hello.txt");
        assert_eq!(p.files[0].digest.as_deref(), Some("ab".repeat(32).as_str()));
        assert!(p.files[1].is_symlink());
        assert_eq!(p.files[1].link_target.as_deref(), Some("hello.txt"));
        assert_eq!(p.requires.len(), 2);
        assert_eq!(p.file_digest_algo, DigestAlgo::Sha256);
        assert!(p.computed_sha256_header.is_some());
    }

    #[test]
    fn dirindex_out_of_range_names_the_package() {
        let err = decode(7, &pkg_blob(&[0, 5])).unwrap_err();
        assert_eq!(err.row, 7);
        assert_eq!(err.name.as_deref(), Some("hello"));
        assert!(err.to_string().contains("DIRINDEXES"), "{err}");
    }

    /// A header of `n` files, all named `base` in one directory `dir`; with `attrs`, each
    /// with the owner, mode, size, time and SHA-256 every real package stores.
    fn one_dir_blob(dir: &str, base: &str, n: usize, attrs: bool) -> Vec<u8> {
        let c = n as u32;
        let mut e = vec![
            (t::NAME, TagType::String, 1, s("many")),
            (t::VERSION, TagType::String, 1, s("1")),
            (t::RELEASE, TagType::String, 1, s("1")),
            (
                t::BASENAMES,
                TagType::StringArray,
                c,
                strings(&vec![base; n]),
            ),
            (t::DIRNAMES, TagType::StringArray, 1, s(dir)),
            (t::DIRINDEXES, TagType::Int32, c, vec![0u8; 4 * n]),
        ];
        if attrs {
            let digest = "ab".repeat(32);
            e.extend([
                (t::FILEMODES, TagType::Int16, c, [0x81, 0xa4].repeat(n)),
                (t::FILESIZES, TagType::Int32, c, vec![0u8; 4 * n]),
                (t::FILEMTIMES, TagType::Int32, c, vec![0u8; 4 * n]),
                (
                    t::FILEDIGESTS,
                    TagType::StringArray,
                    c,
                    strings(&vec![digest.as_str(); n]),
                ),
                (
                    t::FILEUSERNAME,
                    TagType::StringArray,
                    c,
                    strings(&vec!["root"; n]),
                ),
                (
                    t::FILEGROUPNAME,
                    TagType::StringArray,
                    c,
                    strings(&vec!["root"; n]),
                ),
                (t::FILEDIGESTALGO, TagType::Int32, 1, u32s(&[8])),
            ]);
        }
        build(&e)
    }

    #[test]
    fn files_decoding_to_far_more_than_the_header_are_refused() {
        // 10,000 empty names in one 4,000-byte directory: 40 MB of paths from a 50 KB
        // header (the audit's 2.5 MB database took 2 GB this way).
        let blob = one_dir_blob(&format!("/{}/", "d".repeat(3998)), "", 10_000, false);
        let err = decode(1, &blob).unwrap_err();
        assert!(err.to_string().contains("refused as hostile"), "{err}");
        // As many ordinary files decode: the bound is a ratio, not a count.
        let p = decode(
            1,
            &one_dir_blob("/usr/share/doc/many/", "README.md", 10_000, true),
        )
        .unwrap();
        assert_eq!(p.files.len(), 10_000);
    }

    #[test]
    fn mismatched_parallel_arrays_are_rejected() {
        let err = decode(1, &pkg_blob(&[0])).unwrap_err();
        assert!(err.to_string().contains("1 entries for 2 files"), "{err}");
    }
}
