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

/// Lower-case hex digests of one content, by algorithm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests(Vec<(DigestAlgo, String)>);

impl Digests {
    pub fn get(&self, a: DigestAlgo) -> Option<&str> {
        self.0
            .iter()
            .find(|(x, _)| *x == a)
            .map(|(_, h)| h.as_str())
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
    /// `etc/passwd` / `etc/group`; uid/gid 0 is `root`).
    pub user: Option<String>,
    pub group: Option<String>,
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
            let d = hs.into_iter().flatten().map(AnyHasher::finish).collect();
            return Ok((Digests(d), k as u64));
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
    fn finish(self) -> (DigestAlgo, String) {
        match self {
            AnyHasher::Md5(h) => (DigestAlgo::Md5, to_hex(&h.finalize())),
            AnyHasher::Sha1(h) => (DigestAlgo::Sha1, to_hex(&h.finalize())),
            AnyHasher::Sha224(h) => (DigestAlgo::Sha224, to_hex(&h.finalize())),
            AnyHasher::Sha256(h) => (DigestAlgo::Sha256, to_hex(&h.finalize())),
            AnyHasher::Sha384(h) => (DigestAlgo::Sha384, to_hex(&h.finalize())),
            AnyHasher::Sha512(h) => (DigestAlgo::Sha512, to_hex(&h.finalize())),
        }
    }
}

/// Lower-case hex through a stack buffer: `hex::encode` builds the string a char at a
/// time, which showed in profiles at 300,000 files.
fn to_hex(d: &[u8]) -> String {
    let mut buf = [0u8; 128];
    let out = &mut buf[..2 * d.len()];
    hex::encode_to_slice(d, out).expect("buffer is twice the digest");
    String::from_utf8_lossy(out).into_owned()
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
    let d = hs.into_iter().flatten().map(AnyHasher::finish).collect();
    Ok((Digests(d), total))
}

/// uid -> name and gid -> name from the image's own `etc/passwd` and `etc/group`.
#[derive(Debug, Default)]
pub struct Names {
    users: HashMap<u64, String>,
    groups: HashMap<u64, String>,
}

impl Names {
    pub fn parse(passwd: &str, group: &str) -> Names {
        let table = |text: &str| {
            text.lines()
                .filter_map(|l| {
                    let mut it = l.split(':');
                    let name = it.next()?;
                    let id = it.nth(1)?.parse().ok()?;
                    Some((id, name.to_owned()))
                })
                .collect::<HashMap<u64, String>>()
        };
        Names {
            users: table(passwd),
            groups: table(group),
        }
    }
    pub(super) fn user(&self, uid: u64) -> Option<String> {
        self.users
            .get(&uid)
            .cloned()
            .or_else(|| (uid == 0).then(|| "root".to_owned()))
    }
    pub(super) fn group(&self, gid: u64) -> Option<String> {
        self.groups
            .get(&gid)
            .cloned()
            .or_else(|| (gid == 0).then(|| "root".to_owned()))
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
    let names = Names::parse(&text("etc/passwd"), &text("etc/group"));
    let mut wanted: HashMap<ContentRef, Need> = HashMap::new();
    for (path, n) in &img.tree.nodes {
        if let (Kind::File, Some(c)) = (n.kind, n.content) {
            let k = own.lookup(path).0;
            if k.0 != 0 {
                wanted.entry(c).or_default().0 |= k.0;
            }
        }
    }
    let per_layer: Vec<Vec<(u32, Need)>> = (0..img.layers.len())
        .map(|l| {
            let mut v: Vec<(u32, Need)> = wanted
                .iter()
                .filter(|(c, _)| c.layer as usize == l)
                .map(|(c, n)| (c.entry, *n))
                .collect();
            v.sort_by_key(|(e, _)| *e);
            v
        })
        .collect();
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
                Some(n.uname.clone())
            },
            group: if n.gname.is_empty() {
                names.group(n.gid)
            } else {
                Some(n.gname.clone())
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
    })
}
