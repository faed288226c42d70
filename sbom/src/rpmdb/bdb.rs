//! BerkeleyDB hash `Packages` reader (RHEL/CentOS 5–8, Amazon Linux 2, SLE before 15 SP3).
//!
//! rpm up to 4.16 kept its headers in a BerkeleyDB *hash* database: key = the package
//! number (a 4-byte integer, written in the writing host's byte order), value = the header
//! blob exactly as `headerExport` produced it. No BerkeleyDB library is used: we read the
//! file into memory once and walk its pages ourselves, which keeps the read strictly
//! read-only (libdb would want an environment, locks and `__db.*` region files beside the
//! database) and lets every offset be checked against the bytes we actually have.
//!
//! Layout we rely on (libdb `dbinc/db_page.h`, `dbinc/hash.h`):
//! - page 0 is the hash metadata page: magic 0x061561 at byte 12 (its byte order is the
//!   byte order of every integer in the file), page size at 20, encryption algorithm at 24,
//!   page type 8 at 25, meta flags at 26, last page number at 32;
//! - every other page starts with a 26-byte header: page number at 8, next page at 16,
//!   entry count at 20, "high free offset" at 22, page type at 25;
//! - a hash page (type 13, or 2 for the unsorted pages of BerkeleyDB < 4.6) has `entries`
//!   2-byte item offsets right after the header, key and value alternating; items are packed
//!   downwards from the end of the page in index order, so item `i` ends where item `i-1`
//!   starts (item 0 ends at the page end), which is how libdb itself computes their length;
//! - an item is a type byte then either the bytes themselves (H_KEYDATA, 1) or, for values
//!   too large for a page, a 12-byte H_OFFPAGE (3) record: 3 unused bytes, first overflow
//!   page number, total length; the overflow pages (type 7) each carry `hf_offset` bytes of
//!   data after their header and chain through `next_pgno` until 0.
//!
//! We visit every page from 1 to the last page number rather than following bucket chains:
//! every live key/value pair sits on exactly one hash page, freed pages are retyped to 0 by
//! libdb, and a linear walk cannot loop. Overflow chains are followed, but each overflow
//! page may be claimed once per database, so a cycle or two values sharing pages is
//! reported instead of looping or duplicating data.

use std::io::Read;
use std::path::Path;

use super::{DbError, RawHeader};

const FORMAT: &str = "bdb";

/// Hash database magic (`DB_HASHMAGIC`).
const HASH_MAGIC: u32 = 0x0006_1561;
/// Btree database magic (`DB_BTREEMAGIC`): only recognised to give a clearer error.
const BTREE_MAGIC: u32 = 0x0005_3162;

/// Page types (`P_*` in db_page.h).
const P_INVALID: u8 = 0;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;

/// Hash item types (`H_*` in db_page.h).
const H_KEYDATA: u8 = 1;
const H_DUPLICATE: u8 = 2;
const H_OFFPAGE: u8 = 3;
const H_OFFDUP: u8 = 4;

/// Size of the generic page header (`SIZEOF_PAGE`) on pages without checksums/encryption.
const PAGE_HEADER: usize = 26;
/// Size of an H_OFFPAGE item.
const HOFFPAGE_SIZE: usize = 12;
/// Meta-page flags we cannot read: page checksums (which move the item index) and
/// partitioned databases (whose data lives in other files).
const DBMETA_CHKSUM: u8 = 0x01;
const DBMETA_PART_MASK: u8 = 0x06;

/// Largest database file we read into memory. rpm databases are tens of megabytes; this
/// only stops a hostile or mistaken path (a device, a huge sparse file) from exhausting
/// memory.
pub(super) const MAX_DB_FILE: u64 = 4 << 30;

/// Reads the whole database file, refusing files above [`MAX_DB_FILE`].
///
/// Shared with the ndb reader. The file is opened read-only and never locked, so the
/// database (and its directory) are left exactly as they were.
pub(super) fn read_db_file(path: &Path, format: &'static str) -> Result<Vec<u8>, DbError> {
    let io = |source| DbError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_DB_FILE {
        return Err(DbError::Corrupt {
            path: path.to_path_buf(),
            format,
            offset: 0,
            reason: format!("file is {len} bytes, above the {MAX_DB_FILE}-byte limit"),
        });
    }
    // `take` guards against a file that grows while we read it.
    let mut data = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_DB_FILE + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    if data.len() as u64 > MAX_DB_FILE {
        return Err(DbError::Corrupt {
            path: path.to_path_buf(),
            format,
            offset: MAX_DB_FILE,
            reason: format!("file grew above the {MAX_DB_FILE}-byte limit while being read"),
        });
    }
    Ok(data)
}

pub fn read_blobs(path: &Path) -> Result<Vec<RawHeader>, DbError> {
    let data = read_db_file(path, FORMAT)?;
    parse(path, &data)
}

/// A value as found on a hash page: inline bytes, or a reference to an overflow chain.
enum Item<'a> {
    Inline(&'a [u8]),
    Overflow { pgno: u32, tlen: u32, at: usize },
}

struct Db<'a> {
    path: &'a Path,
    data: &'a [u8],
    big_endian: bool,
    page_size: usize,
    /// Number of pages, `last_pgno + 1`; every page number we follow must be below it.
    npages: usize,
    /// Overflow pages already consumed by some value, to catch cycles and shared chains.
    claimed: Vec<bool>,
}

impl<'a> Db<'a> {
    fn corrupt(&self, offset: usize, reason: impl Into<String>) -> DbError {
        corrupt(self.path, offset, reason)
    }

    fn u16_at(&self, off: usize) -> Result<u16, DbError> {
        let b = self
            .data
            .get(off..off.saturating_add(2))
            .ok_or_else(|| self.corrupt(off, "2-byte field runs past the end of the file"))?;
        let b = [b[0], b[1]];
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32_at(&self, off: usize) -> Result<u32, DbError> {
        u32_in(self.path, self.data, off, self.big_endian)
    }

    /// The bytes of page `pgno`; callers have checked `pgno < npages`, and `parse` checked
    /// that the file holds `npages` whole pages.
    fn page(&self, pgno: usize) -> Result<&'a [u8], DbError> {
        let start = pgno
            .checked_mul(self.page_size)
            .ok_or_else(|| self.corrupt(0, format!("page {pgno} is out of range")))?;
        self.data
            .get(start..start.saturating_add(self.page_size))
            .ok_or_else(|| self.corrupt(start, format!("page {pgno} is past the end of the file")))
    }

    /// Parses one hash page and adds its key/value pairs to `out`.
    fn read_hash_page(
        &mut self,
        pgno: usize,
        out: &mut std::collections::BTreeMap<u32, Vec<u8>>,
    ) -> Result<(), DbError> {
        let page = self.page(pgno)?;
        let base = pgno * self.page_size;
        let entries = usize::from(self.u16_at(base + 20)?);
        let hf_offset = usize::from(self.u16_at(base + 22)?);
        if entries % 2 != 0 {
            return Err(self.corrupt(
                base + 20,
                format!("hash page {pgno} has an odd number of items ({entries}); keys and values come in pairs"),
            ));
        }
        let index_end = PAGE_HEADER + 2 * entries;
        // Items live in [hf_offset, page_size) and the index must not run into them.
        if index_end > hf_offset || hf_offset > self.page_size {
            return Err(self.corrupt(
                base + 22,
                format!(
                    "hash page {pgno}: item index ends at {index_end} but item data starts at {hf_offset} (page size {})",
                    self.page_size
                ),
            ));
        }
        let mut items = Vec::with_capacity(entries);
        let mut end = self.page_size;
        for i in 0..entries {
            let at = base + PAGE_HEADER + 2 * i;
            let start = usize::from(self.u16_at(at)?);
            if start < hf_offset || start >= end {
                return Err(self.corrupt(
                    at,
                    format!(
                        "hash page {pgno}: item {i} at offset {start} is outside [{hf_offset}, {end})"
                    ),
                ));
            }
            items.push(self.item(page, base, pgno, i, start, end)?);
            end = start;
        }
        for (pair, kv) in items.chunks_exact(2).enumerate() {
            let key = self.resolve(&kv[0])?;
            let key_at = base + PAGE_HEADER + 4 * pair;
            let key: [u8; 4] = key.as_slice().try_into().map_err(|_| {
                self.corrupt(
                    key_at,
                    format!(
                        "hash page {pgno}: key {pair} is {} bytes; rpm package numbers are 4 bytes",
                        key.len()
                    ),
                )
            })?;
            // rpm writes the package number in host order; libdb files are in the creating
            // host's order too, so the meta-page byte order is the one to use.
            let pkgnum = if self.big_endian {
                u32::from_be_bytes(key)
            } else {
                u32::from_le_bytes(key)
            };
            // Resolve the value even for key 0, so a corrupt counter record is still caught.
            let value = self.resolve(&kv[1])?;
            if pkgnum == 0 {
                // Key 0 is rpm's "next package number" counter, not a header.
                continue;
            }
            if out.insert(pkgnum, value).is_some() {
                return Err(self.corrupt(key_at, format!("package number {pkgnum} appears twice")));
            }
        }
        Ok(())
    }

    /// Decodes item `i` of a hash page, which occupies page bytes `[start, end)`.
    fn item(
        &self,
        page: &'a [u8],
        base: usize,
        pgno: usize,
        i: usize,
        start: usize,
        end: usize,
    ) -> Result<Item<'a>, DbError> {
        let at = base + start;
        match page[start] {
            H_KEYDATA => Ok(Item::Inline(&page[start + 1..end])),
            H_OFFPAGE => {
                if end - start < HOFFPAGE_SIZE {
                    return Err(self.corrupt(
                        at,
                        format!(
                            "hash page {pgno}: off-page item {i} is {} bytes, needs {HOFFPAGE_SIZE}",
                            end - start
                        ),
                    ));
                }
                Ok(Item::Overflow {
                    pgno: self.u32_at(at + 4)?,
                    tlen: self.u32_at(at + 8)?,
                    at,
                })
            }
            H_DUPLICATE | H_OFFDUP => Err(self.corrupt(
                at,
                format!(
                    "hash page {pgno}: item {i} is a duplicate set; rpm's Packages database never stores duplicates"
                ),
            )),
            t => Err(self.corrupt(
                at,
                format!("hash page {pgno}: item {i} has unknown type {t}"),
            )),
        }
    }

    /// Returns the bytes of an item, following its overflow chain if it has one.
    fn resolve(&mut self, item: &Item<'a>) -> Result<Vec<u8>, DbError> {
        match *item {
            Item::Inline(b) => Ok(b.to_vec()),
            Item::Overflow { pgno, tlen, at } => self.read_overflow(pgno, tlen, at),
        }
    }

    /// Concatenates an overflow chain. `at` is the file offset of the H_OFFPAGE item.
    fn read_overflow(&mut self, first: u32, tlen: u32, at: usize) -> Result<Vec<u8>, DbError> {
        let tlen = tlen as usize;
        // The value cannot be longer than the file's page payload; checking before the
        // allocation keeps a forged length from reserving gigabytes.
        let capacity = self.npages.saturating_mul(self.page_size - PAGE_HEADER);
        if tlen > capacity {
            return Err(self.corrupt(
                at + 8,
                format!("overflow value claims {tlen} bytes, more than the whole file can hold"),
            ));
        }
        let mut value = Vec::with_capacity(tlen);
        let mut pgno = first;
        let mut prev: Option<usize> = None;
        loop {
            let p = pgno as usize;
            let link_at = prev.map_or(at + 4, |prev| prev * self.page_size + 16);
            if p == 0 || p >= self.npages {
                return Err(self.corrupt(
                    link_at,
                    format!(
                        "overflow chain points to page {pgno}, outside pages 1..{}",
                        self.npages
                    ),
                ));
            }
            if std::mem::replace(&mut self.claimed[p], true) {
                return Err(self.corrupt(
                    link_at,
                    format!("overflow page {pgno} is reached twice (a cycle, or two values sharing a chain)"),
                ));
            }
            let base = p * self.page_size;
            let page = self.page(p)?;
            if page[25] != P_OVERFLOW {
                return Err(self.corrupt(
                    base + 25,
                    format!(
                        "page {pgno} is in an overflow chain but has type {}, not {P_OVERFLOW}",
                        page[25]
                    ),
                ));
            }
            let own = self.u32_at(base + 8)?;
            if own != pgno {
                return Err(self.corrupt(
                    base + 8,
                    format!("overflow page {pgno} says it is page {own}"),
                ));
            }
            // On overflow pages libdb keeps the data length in the high-free-offset field.
            let len = usize::from(self.u16_at(base + 22)?);
            if PAGE_HEADER + len > self.page_size {
                return Err(self.corrupt(
                    base + 22,
                    format!(
                        "overflow page {pgno} claims {len} data bytes, more than the page holds"
                    ),
                ));
            }
            if value.len() + len > tlen {
                return Err(self.corrupt(
                    base + 22,
                    format!("overflow chain holds more than the {tlen} bytes its item declares"),
                ));
            }
            value.extend_from_slice(&page[PAGE_HEADER..PAGE_HEADER + len]);
            let next = self.u32_at(base + 16)?;
            if next == 0 {
                break;
            }
            prev = Some(p);
            pgno = next;
        }
        if value.len() != tlen {
            return Err(self.corrupt(
                at + 8,
                format!(
                    "overflow chain from page {first} holds {} bytes, its item declares {tlen}",
                    value.len()
                ),
            ));
        }
        Ok(value)
    }
}

fn corrupt(path: &Path, offset: usize, reason: impl Into<String>) -> DbError {
    DbError::Corrupt {
        path: path.to_path_buf(),
        format: FORMAT,
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn u32_in(path: &Path, data: &[u8], off: usize, big_endian: bool) -> Result<u32, DbError> {
    let b = data
        .get(off..off.saturating_add(4))
        .ok_or_else(|| corrupt(path, off, "4-byte field runs past the end of the file"))?;
    let b = [b[0], b[1], b[2], b[3]];
    Ok(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// Parses a whole database image. Separate from the file read so tests can feed bytes.
fn parse(path: &Path, data: &[u8]) -> Result<Vec<RawHeader>, DbError> {
    // The fixed part of the hash meta page is 512 bytes, the smallest page size.
    if data.len() < 512 {
        return Err(corrupt(
            path,
            data.len(),
            format!(
                "file is {} bytes, too short for a BerkeleyDB metadata page (512)",
                data.len()
            ),
        ));
    }
    let le = u32_in(path, data, 12, false)?;
    let be = u32_in(path, data, 12, true)?;
    let big_endian = match (le, be) {
        (HASH_MAGIC, _) => false,
        (_, HASH_MAGIC) => true,
        (BTREE_MAGIC, _) | (_, BTREE_MAGIC) => {
            return Err(corrupt(
                path,
                12,
                "BerkeleyDB btree database, not the hash database rpm uses for Packages",
            ))
        }
        _ => {
            return Err(corrupt(
                path,
                12,
                format!("magic {le:#010x} is not a BerkeleyDB hash database ({HASH_MAGIC:#08x})"),
            ))
        }
    };
    let page_size = u32_in(path, data, 20, big_endian)?;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(
            path,
            20,
            format!("page size {page_size} is not a power of two from 512 to 65536"),
        ));
    }
    let page_size = page_size as usize;
    if data[24] != 0 {
        return Err(corrupt(
            path,
            24,
            "database is encrypted; encrypted rpm databases are not supported",
        ));
    }
    if data[25] != P_HASHMETA {
        return Err(corrupt(
            path,
            25,
            format!(
                "page 0 has type {}, not the hash metadata type {P_HASHMETA}",
                data[25]
            ),
        ));
    }
    if data[26] & DBMETA_CHKSUM != 0 {
        return Err(corrupt(
            path,
            26,
            "database has page checksums, which rpm never enables; not supported",
        ));
    }
    if data[26] & DBMETA_PART_MASK != 0 {
        return Err(corrupt(
            path,
            26,
            "database is partitioned across files; not supported",
        ));
    }
    let last_pgno = u32_in(path, data, 32, big_endian)?;
    let npages = (last_pgno as usize).checked_add(1).ok_or_else(|| {
        corrupt(
            path,
            32,
            format!("last page number {last_pgno} is out of range"),
        )
    })?;
    // The file must hold every page up to the last one (libdb extends the file when it
    // allocates pages); a shorter file is truncated. Pages past the last are ignored.
    let need = (npages as u64) * (page_size as u64);
    if need > data.len() as u64 {
        return Err(corrupt(
            path,
            data.len(),
            format!(
                "truncated: the metadata page says the last page is {last_pgno} ({need} bytes), but the file is {} bytes",
                data.len()
            ),
        ));
    }
    let mut db = Db {
        path,
        data,
        big_endian,
        page_size,
        npages,
        claimed: vec![false; npages],
    };
    let mut out = std::collections::BTreeMap::new();
    for pgno in 1..npages {
        let base = pgno * page_size;
        let kind = data[base + 25];
        match kind {
            // Freed or never-written pages: libdb allocates hash buckets in batches and
            // leaves the pages zero until first used.
            P_INVALID => continue,
            // Read through the item that owns the chain.
            P_OVERFLOW => continue,
            P_HASH | P_HASH_UNSORTED => {
                let own = db.u32_at(base + 8)?;
                if own as usize != pgno {
                    return Err(
                        db.corrupt(base + 8, format!("hash page {pgno} says it is page {own}"))
                    );
                }
                db.read_hash_page(pgno, &mut out)?;
            }
            other => {
                return Err(db.corrupt(
                    base + 25,
                    format!("page {pgno} has type {other}, which a hash database does not contain"),
                ))
            }
        }
    }
    // libdb retypes overflow pages to P_INVALID when it frees them, so an overflow page no
    // value claimed belongs to a value we never saw: its hash page was lost (say, its type
    // byte zeroed, which makes it look free). Refuse rather than silently drop a package.
    for pgno in 1..npages {
        if data[pgno * page_size + 25] == P_OVERFLOW && !db.claimed[pgno] {
            return Err(db.corrupt(
                pgno * page_size + 25,
                format!(
                    "overflow page {pgno} belongs to no value: a hash page is missing or damaged"
                ),
            ));
        }
    }
    // BTreeMap iteration is in package-number order, the order rpm lists them in.
    Ok(out
        .into_iter()
        .map(|(row, blob)| RawHeader { row, blob })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PS: usize = 512;

    /// Test-only builder of small hash databases, in either byte order.
    struct Builder {
        be: bool,
        pages: Vec<Vec<u8>>,
    }

    impl Builder {
        fn new(be: bool) -> Self {
            let mut b = Builder {
                be,
                pages: vec![vec![0; PS]],
            };
            let meta = &mut b.pages[0];
            let put = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            meta[12..16].copy_from_slice(&put(HASH_MAGIC));
            meta[16..20].copy_from_slice(&put(9));
            meta[20..24].copy_from_slice(&put(PS as u32));
            meta[25] = P_HASHMETA;
            b
        }
        fn u16b(&self, v: u16) -> [u8; 2] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn u32b(&self, v: u32) -> [u8; 4] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn header(&self, pgno: usize, next: u32, entries: u16, hf: u16, kind: u8) -> Vec<u8> {
            let mut p = vec![0u8; PS];
            p[8..12].copy_from_slice(&self.u32b(pgno as u32));
            p[16..20].copy_from_slice(&self.u32b(next));
            p[20..22].copy_from_slice(&self.u16b(entries));
            p[22..24].copy_from_slice(&self.u16b(hf));
            p[25] = kind;
            p
        }
        /// Adds a hash page holding `items` (already encoded, type byte first).
        fn hash_page(&mut self, items: &[Vec<u8>]) -> usize {
            let pgno = self.pages.len();
            let mut end = PS;
            let mut offs = Vec::new();
            for it in items {
                end -= it.len();
                offs.push(end);
            }
            let mut p = self.header(pgno, 0, items.len() as u16, end as u16, P_HASH);
            for (i, (it, off)) in items.iter().zip(&offs).enumerate() {
                p[*off..*off + it.len()].copy_from_slice(it);
                let at = PAGE_HEADER + 2 * i;
                p[at..at + 2].copy_from_slice(&self.u16b(*off as u16));
            }
            self.pages.push(p);
            pgno
        }
        /// Adds an overflow chain holding `data`; returns its first page.
        fn overflow(&mut self, data: &[u8]) -> u32 {
            let first = self.pages.len();
            let chunks: Vec<&[u8]> = data.chunks(PS - PAGE_HEADER).collect();
            for (i, c) in chunks.iter().enumerate() {
                let pgno = first + i;
                let next = if i + 1 < chunks.len() { pgno + 1 } else { 0 };
                let mut p = self.header(pgno, next as u32, 1, c.len() as u16, P_OVERFLOW);
                p[PAGE_HEADER..PAGE_HEADER + c.len()].copy_from_slice(c);
                self.pages.push(p);
            }
            first as u32
        }
        fn keydata(&self, b: &[u8]) -> Vec<u8> {
            let mut v = vec![H_KEYDATA];
            v.extend_from_slice(b);
            v
        }
        fn offpage(&self, pgno: u32, tlen: u32) -> Vec<u8> {
            let mut v = vec![H_OFFPAGE, 0, 0, 0];
            v.extend_from_slice(&self.u32b(pgno));
            v.extend_from_slice(&self.u32b(tlen));
            v
        }
        fn finish(mut self) -> Vec<u8> {
            let last = (self.pages.len() - 1) as u32;
            let l = self.u32b(last);
            self.pages[0][32..36].copy_from_slice(&l);
            self.pages.concat()
        }
    }

    fn blob(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// A database with the counter record, one inline and one two-page overflow value.
    fn sample(be: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut b = Builder::new(be);
        let big = blob(700, 7);
        let small = blob(20, 3);
        let ov = b.overflow(&big);
        let k0 = b.keydata(&b.u32b(0));
        let v0 = b.keydata(&b.u32b(3));
        let k2 = b.keydata(&b.u32b(2));
        let v2 = b.offpage(ov, big.len() as u32);
        let k1 = b.keydata(&b.u32b(1));
        let v1 = b.keydata(&small);
        b.hash_page(&[k0, v0, k2, v2]);
        b.hash_page(&[k1, v1]);
        (b.finish(), small, big)
    }

    fn p() -> &'static Path {
        Path::new("test/Packages")
    }

    fn reason(e: DbError) -> String {
        match e {
            DbError::Corrupt { reason, .. } => reason,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn reads_both_byte_orders() {
        for be in [false, true] {
            let (db, small, big) = sample(be);
            let got = parse(p(), &db).unwrap();
            assert_eq!(
                got,
                vec![
                    RawHeader {
                        row: 1,
                        blob: small.clone()
                    },
                    RawHeader {
                        row: 2,
                        blob: big.clone()
                    }
                ],
                "big endian: {be}"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        for be in [false, true] {
            let (db, _, _) = sample(be);
            for n in 0..db.len() {
                assert!(
                    parse(p(), &db[..n]).is_err(),
                    "prefix {n} of {} accepted",
                    db.len()
                );
            }
        }
    }

    #[test]
    fn byte_corruption_never_panics() {
        let (db, _, _) = sample(false);
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for i in 0..db.len() {
            for v in [0u8, 0xff, 1] {
                let mut d = db.clone();
                d[i] = v;
                let _ = parse(p(), &d);
            }
        }
        for _ in 0..5000 {
            let mut d = db.clone();
            for _ in 0..4 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let at = (rng as usize) % d.len();
                d[at] = (rng >> 32) as u8;
            }
            let _ = parse(p(), &d);
        }
    }

    #[test]
    fn bad_magic_is_an_error() {
        let (mut db, _, _) = sample(false);
        db[12..16].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        assert!(reason(parse(p(), &db).unwrap_err()).contains("magic"));
        db[12..16].copy_from_slice(&BTREE_MAGIC.to_le_bytes());
        assert!(reason(parse(p(), &db).unwrap_err()).contains("btree"));
    }

    #[test]
    fn overflow_cycle_is_an_error() {
        let mut b = Builder::new(false);
        // Two pages pointing at each other, with a declared length that would need more.
        let ov = b.overflow(&blob(900, 1));
        let second = ov as usize + 1;
        let back = b.u32b(ov);
        b.pages[second][16..20].copy_from_slice(&back);
        let k = b.keydata(&b.u32b(1));
        // 1000 bytes fit the file's capacity, so only the cycle check can stop the walk.
        let v = b.offpage(ov, 1000);
        b.hash_page(&[k, v]);
        let db = b.finish();
        let e = reason(parse(p(), &db).unwrap_err());
        assert!(e.contains("reached twice"), "{e}");

        // A self-loop with a length large enough to hide behind.
        let mut b = Builder::new(false);
        let ov = b.overflow(&blob(10, 1));
        let me = b.u32b(ov);
        b.pages[ov as usize][16..20].copy_from_slice(&me);
        let k = b.keydata(&b.u32b(1));
        let v = b.offpage(ov, 400);
        b.hash_page(&[k, v]);
        let e = reason(parse(p(), &b.finish()).unwrap_err());
        assert!(e.contains("reached twice"), "{e}");
    }

    #[test]
    fn lost_hash_page_is_an_error_not_a_shorter_list() {
        // Zeroing the type byte of the hash page holding package 2 makes it look free; its
        // overflow pages are then orphans, which must be reported.
        let (mut db, _, _) = sample(false);
        let hash_page_of_pkg2 = 3; // pages: 0 meta, 1-2 overflow, 3 and 4 hash
        db[hash_page_of_pkg2 * PS + 25] = P_INVALID;
        let e = reason(parse(p(), &db).unwrap_err());
        assert!(e.contains("belongs to no value"), "{e}");
    }

    #[test]
    fn shared_overflow_chain_is_an_error() {
        let mut b = Builder::new(false);
        let data = blob(600, 2);
        let ov = b.overflow(&data);
        let k1 = b.keydata(&b.u32b(1));
        let k2 = b.keydata(&b.u32b(2));
        let v = b.offpage(ov, data.len() as u32);
        b.hash_page(&[k1, v.clone(), k2, v]);
        let e = reason(parse(p(), &b.finish()).unwrap_err());
        assert!(e.contains("reached twice"), "{e}");
    }

    #[test]
    fn huge_declared_length_is_refused_before_allocating() {
        let mut b = Builder::new(false);
        let ov = b.overflow(&blob(10, 1));
        let k = b.keydata(&b.u32b(1));
        let v = b.offpage(ov, u32::MAX);
        b.hash_page(&[k, v]);
        let e = reason(parse(p(), &b.finish()).unwrap_err());
        assert!(e.contains("more than the whole file"), "{e}");
    }

    #[test]
    fn short_overflow_chain_is_an_error() {
        let mut b = Builder::new(false);
        let ov = b.overflow(&blob(600, 1));
        let k = b.keydata(&b.u32b(1));
        let v = b.offpage(ov, 601);
        b.hash_page(&[k, v]);
        let e = reason(parse(p(), &b.finish()).unwrap_err());
        assert!(e.contains("declares 601"), "{e}");
    }

    #[test]
    fn duplicate_package_number_is_an_error() {
        let mut b = Builder::new(false);
        let k = b.keydata(&b.u32b(5));
        let v = b.keydata(b"abc");
        b.hash_page(&[k.clone(), v.clone()]);
        b.hash_page(&[k, v]);
        let e = reason(parse(p(), &b.finish()).unwrap_err());
        assert!(e.contains("appears twice"), "{e}");
    }

    #[test]
    fn odd_key_size_and_duplicates_items_are_errors() {
        let mut b = Builder::new(false);
        let k = b.keydata(b"abc");
        let v = b.keydata(b"xyz");
        b.hash_page(&[k, v]);
        let e = reason(parse(p(), &b.finish()).unwrap_err());
        assert!(e.contains("4 bytes"), "{e}");

        let mut b = Builder::new(false);
        let k = b.keydata(&b.u32b(1));
        let v = vec![H_DUPLICATE, 1, 2, 3];
        b.hash_page(&[k, v]);
        let e = reason(parse(p(), &b.finish()).unwrap_err());
        assert!(e.contains("duplicate"), "{e}");
    }

    #[test]
    fn empty_database_is_empty_not_error() {
        // Only the counter record: a valid database with no packages.
        let mut b = Builder::new(false);
        let k = b.keydata(&b.u32b(0));
        let v = b.keydata(&b.u32b(1));
        b.hash_page(&[k, v]);
        b.pages.push(vec![0; PS]); // a never-written bucket page
        assert_eq!(parse(p(), &b.finish()).unwrap(), vec![]);
    }

    #[test]
    fn missing_file_is_io_error() {
        match read_blobs(Path::new("/nonexistent/definitely/Packages")) {
            Err(DbError::Io { path, .. }) => assert!(path.ends_with("Packages")),
            other => panic!("expected Io error, got {other:?}"),
        }
    }
}
