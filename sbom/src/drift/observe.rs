//! What is actually in the image: one [`Observed`] per path, with the digests its content
//! needs, for a root directory (`walk.rs`) or a container image (the in-memory tree, then
//! every layer streamed once, in parallel).

use std::collections::HashMap;
use std::io::Read;

use md5::Md5;
use rayon::prelude::*;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::{DriftError, Need, Observation, Owners};
use crate::image::tree::{ContentRef, Kind};
use crate::image::Image;
use crate::package::DigestAlgo;

/// The digests of one content, by algorithm, kept raw and inline: observing a file
/// allocates nothing for them (at 300,000 files, a hex `String` each and the `Vec` holding
/// them cost more than reading the small files). Only more than 64 bytes of digests (three
/// or more algorithms, for a file hard-linked across packages) go on the heap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    /// [`Need`] bits of the algorithms present; their digests lie in `bytes` in the order
    /// of [`ALGOS`].
    algos: u8,
    bytes: DigestBytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DigestBytes {
    Inline([u8; 64]),
    Heap(Box<[u8]>),
}

impl Default for DigestBytes {
    fn default() -> Self {
        DigestBytes::Inline([0; 64])
    }
}

/// Every algorithm, in the order [`Digests`] stores them.
const ALGOS: [DigestAlgo; 6] = [
    DigestAlgo::Md5,
    DigestAlgo::Sha1,
    DigestAlgo::Sha224,
    DigestAlgo::Sha256,
    DigestAlgo::Sha384,
    DigestAlgo::Sha512,
];

impl Digests {
    /// Room for the digests of `algos` ([`Need`] bits), all zero.
    fn empty_for(algos: u8) -> Digests {
        let len: usize = ALGOS
            .iter()
            .filter(|&&x| algos & Need::algo_bit(x) != 0)
            .map(|&x| x.hex_len() / 2)
            .sum();
        let bytes = if len <= 64 {
            DigestBytes::Inline([0; 64])
        } else {
            DigestBytes::Heap(vec![0; len].into_boxed_slice())
        };
        Digests { algos, bytes }
    }

    /// Where the digest in algorithm `a` lies in the storage.
    fn span(&self, a: DigestAlgo) -> Option<std::ops::Range<usize>> {
        if self.algos & Need::algo_bit(a) == 0 {
            return None;
        }
        let at: usize = ALGOS
            .iter()
            .take_while(|&&x| x != a)
            .filter(|&&x| self.algos & Need::algo_bit(x) != 0)
            .map(|&x| x.hex_len() / 2)
            .sum();
        Some(at..at + a.hex_len() / 2)
    }

    fn slot_mut(&mut self, a: DigestAlgo) -> &mut [u8] {
        let span = self.span(a).expect("room was made for every algorithm");
        match &mut self.bytes {
            DigestBytes::Inline(b) => &mut b[span],
            DigestBytes::Heap(b) => &mut b[span],
        }
    }

    /// The raw digest in algorithm `a`, if it was computed.
    pub fn raw(&self, a: DigestAlgo) -> Option<&[u8]> {
        let span = self.span(a)?;
        match &self.bytes {
            DigestBytes::Inline(b) => b.get(span),
            DigestBytes::Heap(b) => b.get(span),
        }
    }

    /// Lower-case hex of the digest in algorithm `a`.
    pub fn hex(&self, a: DigestAlgo) -> Option<String> {
        self.raw(a).map(hex::encode)
    }

    /// Whether the digest in algorithm `a` was computed and equals `want` (hex, either case).
    pub fn matches(&self, a: DigestAlgo, want: &str) -> bool {
        let Some(raw) = self.raw(a) else {
            return false;
        };
        let mut buf = [0u8; 128];
        let ours = &mut buf[..2 * raw.len()];
        hex::encode_to_slice(raw, ours).expect("buffer is twice the digest");
        want.as_bytes().eq_ignore_ascii_case(ours)
    }
}

/// One path of the image as it is.
#[derive(Debug, Clone)]
pub struct Observed {
    pub kind: Kind,
    /// st_mode: type bits and permissions.
    pub mode: u32,
    pub size: u64,
    pub link: Option<String>,
    /// Owner and group names when knowable (tar header names, else the image's own
    /// `etc/passwd` / `etc/group`; uid/gid 0 is `root`), as ids in the observation's
    /// [`Names`].
    pub user: Option<NameId>,
    pub group: Option<NameId>,
    pub digests: Digests,
    pub unreadable: bool,
    /// st_rdev of a device node (0 otherwise).
    pub rdev: u64,
    /// The content read was not as long as the size observed: the file changed meanwhile.
    pub changed: bool,
}

// One buffer per thread: most files are small, and allocating (and zeroing) 256 KiB per
// file cost more than hashing them.
thread_local! {
    static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 256 * 1024]);
}

fn hashers(need: Need) -> Hashers {
    let n = need.0;
    let on = |a| n & Need::algo_bit(a) != 0;
    let md5 = on(DigestAlgo::Md5).then(|| AnyHasher::Md5(Md5::new()));
    let s1 = on(DigestAlgo::Sha1).then(|| AnyHasher::Sha1(Sha1::new()));
    let s224 = on(DigestAlgo::Sha224).then(|| AnyHasher::Sha224(Sha224::new()));
    let s256 = on(DigestAlgo::Sha256).then(|| AnyHasher::Sha256(Sha256::new()));
    let s384 = on(DigestAlgo::Sha384).then(|| AnyHasher::Sha384(Sha384::new()));
    let s512 = on(DigestAlgo::Sha512).then(|| AnyHasher::Sha512(Sha512::new()));
    [md5, s1, s224, s256, s384, s512]
}

/// Streams `r` through every algorithm in `need`, in 256 KiB chunks.
pub fn hash_stream(mut r: impl Read, need: Need) -> std::io::Result<(Digests, u64)> {
    BUF.with(|b| hash_with(&mut r, &mut b.borrow_mut(), hashers(need), 0))
}

/// Hashes an open regular file whose `fstat` size is `size`. A file smaller than the
/// buffer takes one `read` of `size + 1` bytes: a regular file returns fewer bytes than
/// asked only at its end, so that read also proves the end (a file that grew since the
/// `fstat` is read on to its real end).
pub fn hash_open_file(
    mut f: std::fs::File,
    size: u64,
    need: Need,
) -> std::io::Result<(Digests, u64)> {
    BUF.with(|b| {
        let buf = &mut b.borrow_mut();
        let mut hs = hashers(need);
        let ask = usize::try_from(size).map_or(buf.len(), |s| s.saturating_add(1).min(buf.len()));
        let k = loop {
            match f.read(&mut buf[..ask]) {
                Ok(k) => break k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        for h in hs.iter_mut().flatten() {
            h.update(&buf[..k]);
        }
        if k < ask {
            return Ok((finish(hs), k as u64));
        }
        hash_with(&mut f, buf, hs, k as u64)
    })
}

type Hashers = [Option<AnyHasher>; 6];

enum AnyHasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha224(Sha224),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl AnyHasher {
    fn algo(&self) -> DigestAlgo {
        match self {
            AnyHasher::Md5(_) => DigestAlgo::Md5,
            AnyHasher::Sha1(_) => DigestAlgo::Sha1,
            AnyHasher::Sha224(_) => DigestAlgo::Sha224,
            AnyHasher::Sha256(_) => DigestAlgo::Sha256,
            AnyHasher::Sha384(_) => DigestAlgo::Sha384,
            AnyHasher::Sha512(_) => DigestAlgo::Sha512,
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            AnyHasher::Md5(h) => h.update(b),
            AnyHasher::Sha1(h) => h.update(b),
            AnyHasher::Sha224(h) => h.update(b),
            AnyHasher::Sha256(h) => h.update(b),
            AnyHasher::Sha384(h) => h.update(b),
            AnyHasher::Sha512(h) => h.update(b),
        }
    }
}

/// Finishes every hasher into one [`Digests`].
fn finish(hs: Hashers) -> Digests {
    let algos = hs
        .iter()
        .flatten()
        .fold(0, |n, h| n | Need::algo_bit(h.algo()));
    let mut d = Digests::empty_for(algos);
    for h in hs.into_iter().flatten() {
        let out = d.slot_mut(h.algo());
        match h {
            AnyHasher::Md5(h) => out.copy_from_slice(&h.finalize()),
            AnyHasher::Sha1(h) => out.copy_from_slice(&h.finalize()),
            AnyHasher::Sha224(h) => out.copy_from_slice(&h.finalize()),
            AnyHasher::Sha256(h) => out.copy_from_slice(&h.finalize()),
            AnyHasher::Sha384(h) => out.copy_from_slice(&h.finalize()),
            AnyHasher::Sha512(h) => out.copy_from_slice(&h.finalize()),
        }
    }
    d
}

fn hash_with(
    r: &mut impl Read,
    buf: &mut [u8],
    mut hs: Hashers,
    already: u64,
) -> std::io::Result<(Digests, u64)> {
    let mut total = already;
    loop {
        let k = match r.read(buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += k as u64;
        for h in hs.iter_mut().flatten() {
            h.update(&buf[..k]);
        }
    }
    Ok((finish(hs), total))
}

/// A user or group name in [`Names`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameId(u32);

/// The user and group names of an observation, each stored once: an [`Observed`] holds
/// ids, so observing a file allocates nothing for its owner. Ids come from the image's own
/// `etc/passwd` and `etc/group` (uid/gid 0 is `root` when they do not say), or from tar
/// headers ([`Names::intern`]).
#[derive(Debug, Default)]
pub struct Names {
    list: Vec<String>,
    index: HashMap<String, NameId>,
    users: HashMap<u64, NameId>,
    groups: HashMap<u64, NameId>,
}

impl Names {
    pub fn parse(passwd: &str, group: &str) -> Names {
        let mut names = Names::default();
        let root = names.intern("root");
        for (text, is_passwd) in [(passwd, true), (group, false)] {
            for l in text.lines() {
                let mut it = l.split(':');
                let (Some(name), Some(Ok(id))) = (it.next(), it.nth(1).map(str::parse::<u64>))
                else {
                    continue;
                };
                let n = names.intern(name);
                let table = if is_passwd {
                    &mut names.users
                } else {
                    &mut names.groups
                };
                // The first line for an id wins, as getpwuid(3) reads the file.
                table.entry(id).or_insert(n);
            }
        }
        names.users.entry(0).or_insert(root);
        names.groups.entry(0).or_insert(root);
        names
    }

    pub fn intern(&mut self, name: &str) -> NameId {
        if let Some(&n) = self.index.get(name) {
            return n;
        }
        let n = NameId(u32::try_from(self.list.len()).expect("fewer names than entries"));
        self.list.push(name.to_owned());
        self.index.insert(name.to_owned(), n);
        n
    }

    pub fn get(&self, n: NameId) -> &str {
        &self.list[n.0 as usize]
    }

    pub(super) fn user(&self, uid: u64) -> Option<NameId> {
        self.users.get(&uid).copied()
    }

    pub(super) fn group(&self, gid: u64) -> Option<NameId> {
        self.groups.get(&gid).copied()
    }
}

/// Observes a container image from its tree; content is hashed by streaming each layer
/// once (layers in parallel), only for the entries the final tree still shows.
pub(crate) fn observe_image(img: &Image, own: &Owners<'_>) -> Result<Observation, DriftError> {
    let text = |p: &str| {
        img.read_file(p, 16 << 20)
            .ok()
            .flatten()
            .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let mut names = Names::parse(&text("etc/passwd"), &text("etc/group"));
    let mut wanted: HashMap<ContentRef, Need> = HashMap::new();
    for (path, n) in &img.tree.nodes {
        if let (Kind::File, Some(c)) = (n.kind, n.content) {
            let k = own.lookup(path).0;
            if k.0 != 0 {
                wanted.entry(c).or_default().0 |= k.0;
            }
        }
    }
    // One pass over what is wanted, not one per layer: a manifest may list thousands of
    // (empty) layers.
    let mut per_layer: Vec<Vec<(u32, Need)>> = vec![Vec::new(); img.layers.len()];
    for (c, n) in &wanted {
        per_layer[c.layer as usize].push((c.entry, *n));
    }
    for v in &mut per_layer {
        v.sort_by_key(|(e, _)| *e);
    }
    let hashed: Vec<Vec<(ContentRef, Digests, u64)>> = per_layer
        .par_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(l, v)| {
            let mut out = Vec::with_capacity(v.len());
            let mut next = 0;
            img.stream_layer(l, |info, r| {
                while next < v.len() && v[next].0 < info.index {
                    next += 1;
                }
                if next < v.len() && v[next].0 == info.index {
                    let (d, len) = hash_stream(r, v[next].1).map_err(|source| {
                        crate::image::ImageError::Io {
                            what: format!("layer {l}: {}", info.path),
                            source,
                        }
                    })?;
                    out.push((
                        ContentRef {
                            layer: l as u32,
                            entry: info.index,
                        },
                        d,
                        len,
                    ));
                }
                Ok(())
            })?;
            Ok(out)
        })
        .collect::<Result<_, DriftError>>()?;
    let mut files = 0;
    let mut bytes = 0;
    let mut digests: HashMap<ContentRef, Digests> = HashMap::new();
    for (c, d, len) in hashed.into_iter().flatten() {
        files += 1;
        bytes += len;
        digests.insert(c, d);
    }
    let mut owned: Vec<Option<Observed>> = (0..own.slots()).map(|_| None).collect();
    let mut unowned = Vec::new();
    for (path, n) in &img.tree.nodes {
        let o = Observed {
            kind: n.kind,
            mode: n.mode(),
            size: n.size,
            link: n.link.clone(),
            user: if n.uname.is_empty() {
                names.user(n.uid)
            } else {
                Some(names.intern(&n.uname))
            },
            group: if n.gname.is_empty() {
                names.group(n.gid)
            } else {
                Some(names.intern(&n.gname))
            },
            digests: n
                .content
                .and_then(|c| digests.get(&c).cloned())
                .unwrap_or_default(),
            unreadable: false,
            rdev: 0,
            changed: false,
        };
        match own.lookup(path).1 {
            Some(slot) => owned[slot as usize] = Some(o),
            None => unowned.push((path.clone(), o)),
        }
    }
    Ok(Observation {
        owned,
        unowned,
        files_hashed: files,
        bytes_hashed: bytes,
        names_lossy: false,
        names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5_ABC: &str = "900150983cd24fb0d6963f7d28e17f72";
    const SHA1_ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
    const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const SHA512_ABC: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                              2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    fn digests(algos: &[DigestAlgo]) -> Digests {
        let need = Need(algos.iter().fold(0, |n, &a| n | Need::algo_bit(a)));
        let (d, len) = hash_stream(&b"abc"[..], need).unwrap();
        assert_eq!(len, 3);
        d
    }

    #[test]
    fn digests_inline_and_spilled_give_each_algorithm_its_own_bytes() {
        // 52 bytes: inline.
        let d = digests(&[DigestAlgo::Sha256, DigestAlgo::Sha1]);
        assert!(matches!(d.bytes, DigestBytes::Inline(_)));
        assert_eq!(d.hex(DigestAlgo::Sha256).as_deref(), Some(SHA256_ABC));
        assert_eq!(d.hex(DigestAlgo::Sha1).as_deref(), Some(SHA1_ABC));
        assert_eq!(d.raw(DigestAlgo::Md5), None);
        // 68 bytes: on the heap, same answers.
        let d = digests(&[DigestAlgo::Md5, DigestAlgo::Sha1, DigestAlgo::Sha256]);
        assert!(matches!(d.bytes, DigestBytes::Heap(_)));
        assert_eq!(d.hex(DigestAlgo::Md5).as_deref(), Some(MD5_ABC));
        assert_eq!(d.hex(DigestAlgo::Sha1).as_deref(), Some(SHA1_ABC));
        assert_eq!(d.hex(DigestAlgo::Sha256).as_deref(), Some(SHA256_ABC));
        // SHA-512 alone fills the inline room exactly.
        let d = digests(&[DigestAlgo::Sha512]);
        assert!(matches!(d.bytes, DigestBytes::Inline(_)));
        assert_eq!(d.hex(DigestAlgo::Sha512).as_deref(), Some(SHA512_ABC));
        assert_eq!(Digests::default().hex(DigestAlgo::Sha256), None);
    }

    #[test]
    fn digest_match_ignores_case_and_nothing_else() {
        let d = digests(&[DigestAlgo::Sha256]);
        assert!(d.matches(DigestAlgo::Sha256, SHA256_ABC));
        assert!(d.matches(DigestAlgo::Sha256, &SHA256_ABC.to_uppercase()));
        let mut other = SHA256_ABC.to_owned();
        other.replace_range(63.., "e");
        assert!(!d.matches(DigestAlgo::Sha256, &other));
        assert!(!d.matches(DigestAlgo::Sha256, &SHA256_ABC[..62]));
        assert!(!d.matches(DigestAlgo::Sha1, SHA1_ABC), "not computed");
    }

    #[test]
    fn names_take_the_first_line_for_an_id_and_default_root() {
        let n = Names::parse(
            "daemon:x:2:2::/:/sbin/nologin\nshadow:x:2:9::/:/bin/sh\nbad line\nnobody:x:x:1\n",
            "wheel:x:10:\n",
        );
        assert_eq!(n.user(2).map(|u| n.get(u)), Some("daemon"));
        assert_eq!(n.user(0).map(|u| n.get(u)), Some("root"));
        assert_eq!(n.group(0).map(|g| n.get(g)), Some("root"));
        assert_eq!(n.group(10).map(|g| n.get(g)), Some("wheel"));
        assert_eq!(n.user(10), None, "users and groups are apart");
        assert_eq!(n.user(65534), None);
        let mut n = n;
        let a = n.intern("wheel");
        assert_eq!(Some(a), n.group(10), "one id per name");
        let b = n.intern("mail");
        assert_eq!(n.get(b), "mail");
        // A passwd that names uid 0 otherwise is believed.
        let n = Names::parse("admin:x:0:0::/:/bin/sh\n", "");
        assert_eq!(n.user(0).map(|u| n.get(u)), Some("admin"));
    }
}
