//! ndb `Packages.db` reader (SUSE: SLE 15 SP3+, openSUSE Leap/Tumbleweed before sqlite).
//!
//! The format is rpm's own (`lib/backend/ndb/rpmpkg.c`); every integer is little-endian.
//! - file header (32 bytes): magic "RpmP", version (0), generation, number of slot pages,
//!   next package index;
//! - slot pages: `slotnpages` pages of 4096 bytes from the start of the file, cut into
//!   16-byte slots (the first two are the file header): magic "Slot", package index, block
//!   offset, block count. A slot with block offset 0 is free;
//! - blobs, in 16-byte blocks after the slot pages: a 16-byte head (magic "BlbS", package
//!   index, timestamp, blob length), the header blob, zero padding up to the block, and a
//!   12-byte tail (adler32 of everything from the head to the padding, blob length, magic
//!   "BlbE").
//!
//! We check what rpm checks when it reads (slot magics, blob bounds, head/tail magics and
//! lengths, the package index echoed in the head) and also what it only checks when it
//! verifies or rewrites a blob: the adler32, no package index used twice, no two blobs
//! overlapping, and zeroes in the space no slot owns (rpm zeroes freed blobs, so anything
//! else there is a blob whose slot was lost). A database that fails any check is an error,
//! never a shorter list.

use std::path::Path;

use super::bdb::read_db_file;
use super::{DbError, RawHeader};

const FORMAT: &str = "ndb";

const DB_MAGIC: &[u8; 4] = b"RpmP";
const DB_VERSION: u32 = 0;
const HEADER_SIZE: usize = 32;
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const SLOT_SIZE: usize = 16;
const PAGE_SIZE: usize = 4096;
const BLK_SIZE: usize = 16;
const BLOB_HEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8; 4] = b"BlbE";
const BLOB_HEAD_SIZE: usize = 16;
const BLOB_TAIL_SIZE: usize = 12;

pub fn read_blobs(path: &Path) -> Result<Vec<RawHeader>, DbError> {
    let data = read_db_file(path, FORMAT)?;
    parse(path, &data)
}

fn corrupt(path: &Path, offset: usize, reason: impl Into<String>) -> DbError {
    DbError::Corrupt {
        path: path.to_path_buf(),
        format: FORMAT,
        offset: offset as u64,
        reason: reason.into(),
    }
}

/// Little-endian u32 at `off`; callers have bounds-checked the range, but a short slice
/// still gives an error rather than a panic.
fn le32(path: &Path, data: &[u8], off: usize) -> Result<u32, DbError> {
    match data.get(off..off.saturating_add(4)) {
        Some(&[a, b, c, d]) => Ok(u32::from_le_bytes([a, b, c, d])),
        _ => Err(corrupt(
            path,
            off,
            "4-byte field runs past the end of the file",
        )),
    }
}

/// Adler-32 (RFC 1950), as rpm computes it over a blob.
fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    // 5552 is the largest n for which the sums cannot overflow a u32 before reducing.
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

struct Slot {
    pkgidx: u32,
    blkoff: u32,
    blkcnt: u32,
    /// File offset of the slot, for error messages.
    at: usize,
}

fn parse(path: &Path, data: &[u8]) -> Result<Vec<RawHeader>, DbError> {
    let err = |off: usize, reason: String| corrupt(path, off, reason);
    if data.len() < HEADER_SIZE {
        return Err(err(
            data.len(),
            format!(
                "file is {} bytes, too short for the {HEADER_SIZE}-byte ndb header",
                data.len()
            ),
        ));
    }
    if &data[0..4] != DB_MAGIC {
        return Err(err(0, "missing the \"RpmP\" magic".into()));
    }
    let version = le32(path, data, 4)?;
    if version != DB_VERSION {
        return Err(err(
            4,
            format!("ndb version {version}, only version {DB_VERSION} exists"),
        ));
    }
    // rpm refuses a file that is not a whole number of blocks: it is a torn write.
    if !data.len().is_multiple_of(BLK_SIZE) {
        return Err(err(
            data.len(),
            format!(
                "file is {} bytes, not a multiple of the {BLK_SIZE}-byte block",
                data.len()
            ),
        ));
    }
    let slotnpages = le32(path, data, 12)? as usize;
    let slots_end = slotnpages
        .checked_mul(PAGE_SIZE)
        .filter(|&e| e <= data.len())
        .ok_or_else(|| {
            err(
                12,
                format!(
                    "{slotnpages} slot pages do not fit in a {}-byte file (truncated?)",
                    data.len()
                ),
            )
        })?;
    if slotnpages == 0 {
        return Err(err(12, "no slot pages".into()));
    }
    let fileblks = data.len() / BLK_SIZE;
    // Blobs start after the slot pages.
    let minblkoff = slots_end / BLK_SIZE;

    let mut slots = Vec::new();
    for at in (HEADER_SIZE..slots_end).step_by(SLOT_SIZE) {
        if &data[at..at + 4] != SLOT_MAGIC {
            return Err(err(at, "slot without its \"Slot\" magic".into()));
        }
        let pkgidx = le32(path, data, at + 4)?;
        let blkoff = le32(path, data, at + 8)?;
        let blkcnt = le32(path, data, at + 12)?;
        if blkoff == 0 {
            continue; // free slot
        }
        if pkgidx == 0 {
            return Err(err(at + 4, "used slot with package index 0".into()));
        }
        if (blkoff as usize) < minblkoff {
            return Err(err(
                at + 8,
                format!("blob of package {pkgidx} at block {blkoff} overlaps the slot pages (blobs start at block {minblkoff})"),
            ));
        }
        // u64: blkoff + blkcnt can exceed u32.
        if blkcnt == 0 || u64::from(blkoff) + u64::from(blkcnt) > fileblks as u64 {
            return Err(err(
                at + 12,
                format!(
                    "blob of package {pkgidx} (blocks {blkoff}+{blkcnt}) is outside the file's {fileblks} blocks (truncated?)"
                ),
            ));
        }
        slots.push(Slot {
            pkgidx,
            blkoff,
            blkcnt,
            at,
        });
    }

    // Two slots for one package, or two blobs sharing blocks, mean a broken database:
    // whichever copy we picked could be the wrong one.
    slots.sort_by_key(|s| s.blkoff);
    for w in slots.windows(2) {
        if u64::from(w[0].blkoff) + u64::from(w[0].blkcnt) > u64::from(w[1].blkoff) {
            return Err(err(
                w[1].at + 8,
                format!(
                    "blobs of packages {} and {} overlap",
                    w[0].pkgidx, w[1].pkgidx
                ),
            ));
        }
    }
    // rpm zeroes a blob's blocks when it deletes or moves it, so bytes outside every
    // slot's blocks are zero in a consistent database. Non-zero bytes there are a blob no
    // slot points to: a slot that was lost (its block offset zeroed, which marks it free),
    // or an rpm transaction interrupted between writing a blob and its slot. Either way
    // the package list cannot be trusted, and reading on would silently drop a package.
    let mut pos = slots_end;
    let ends = slots
        .iter()
        .map(|s| {
            let (off, cnt) = (s.blkoff as usize, s.blkcnt as usize);
            (off * BLK_SIZE, (off + cnt) * BLK_SIZE)
        })
        .chain(std::iter::once((data.len(), data.len())));
    for (start, end) in ends {
        if let Some(i) = data[pos..start].iter().position(|&b| b != 0) {
            return Err(err(
                pos + i,
                "non-zero data outside every slot's blob: a lost slot or an interrupted rpm transaction"
                    .into(),
            ));
        }
        pos = end;
    }
    let mut seen = std::collections::HashSet::with_capacity(slots.len());
    for s in &slots {
        if !seen.insert(s.pkgidx) {
            return Err(err(
                s.at + 4,
                format!("package index {} has two slots", s.pkgidx),
            ));
        }
    }

    let mut out = Vec::with_capacity(slots.len());
    for s in &slots {
        out.push(RawHeader {
            row: s.pkgidx,
            blob: read_blob(path, data, s)?.to_vec(),
        });
    }
    out.sort_by_key(|h| h.row);
    Ok(out)
}

/// Checks one blob and returns its header bytes. The slot's block range is inside the file.
fn read_blob<'a>(path: &Path, data: &'a [u8], s: &Slot) -> Result<&'a [u8], DbError> {
    let err = |off: usize, reason: String| corrupt(path, off, reason);
    let start = s.blkoff as usize * BLK_SIZE;
    let end = start + s.blkcnt as usize * BLK_SIZE;
    let pkg = s.pkgidx;
    if end - start < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE {
        return Err(err(
            s.at + 12,
            format!(
                "blob of package {pkg} is {} bytes, too small for its head and tail",
                end - start
            ),
        ));
    }
    if &data[start..start + 4] != BLOB_HEAD_MAGIC {
        return Err(err(
            start,
            format!("blob of package {pkg} lacks its \"BlbS\" magic"),
        ));
    }
    let head_idx = le32(path, data, start + 4)?;
    if head_idx != pkg {
        return Err(err(
            start + 4,
            format!("slot says package {pkg}, but its blob says package {head_idx}"),
        ));
    }
    let bloblen = le32(path, data, start + 12)? as usize;
    // The block count must be exactly what the length needs, as rpm requires.
    let need =
        (BLOB_HEAD_SIZE as u64 + bloblen as u64 + BLOB_TAIL_SIZE as u64).div_ceil(BLK_SIZE as u64);
    if need != u64::from(s.blkcnt) {
        return Err(err(
            start + 12,
            format!(
                "blob of package {pkg} declares {bloblen} bytes, which needs {need} blocks, but its slot has {}",
                s.blkcnt
            ),
        ));
    }
    let tail = end - BLOB_TAIL_SIZE;
    if &data[tail + 8..end] != BLOB_TAIL_MAGIC {
        return Err(err(
            tail + 8,
            format!("blob of package {pkg} lacks its \"BlbE\" tail magic"),
        ));
    }
    let tail_len = le32(path, data, tail + 4)? as usize;
    if tail_len != bloblen {
        return Err(err(
            tail + 4,
            format!("blob of package {pkg}: head says {bloblen} bytes, tail says {tail_len}"),
        ));
    }
    let stored = le32(path, data, tail)?;
    // The checksum covers the head, the blob and the zero padding.
    let computed = adler32(&data[start..tail]);
    if stored != computed {
        return Err(err(
            tail,
            format!("blob of package {pkg}: adler32 is {computed:#010x}, tail says {stored:#010x}"),
        ));
    }
    let body = start + BLOB_HEAD_SIZE;
    Ok(&data[body..body + bloblen])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-only writer of a minimal ndb file holding `blobs` as (pkgidx, bytes).
    fn build(blobs: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut f = vec![0u8; PAGE_SIZE];
        f[0..4].copy_from_slice(DB_MAGIC);
        f[8..12].copy_from_slice(&7u32.to_le_bytes());
        f[12..16].copy_from_slice(&1u32.to_le_bytes());
        f[16..20].copy_from_slice(&(blobs.len() as u32 + 1).to_le_bytes());
        for at in (HEADER_SIZE..PAGE_SIZE).step_by(SLOT_SIZE) {
            f[at..at + 4].copy_from_slice(SLOT_MAGIC);
        }
        for (i, (idx, b)) in blobs.iter().enumerate() {
            let blkoff = f.len() / BLK_SIZE;
            let mut rec = Vec::new();
            rec.extend_from_slice(BLOB_HEAD_MAGIC);
            rec.extend_from_slice(&idx.to_le_bytes());
            rec.extend_from_slice(&1234u32.to_le_bytes());
            rec.extend_from_slice(&(b.len() as u32).to_le_bytes());
            rec.extend_from_slice(b);
            while !(rec.len() + BLOB_TAIL_SIZE).is_multiple_of(BLK_SIZE) {
                rec.push(0);
            }
            let adl = adler32(&rec);
            rec.extend_from_slice(&adl.to_le_bytes());
            rec.extend_from_slice(&(b.len() as u32).to_le_bytes());
            rec.extend_from_slice(BLOB_TAIL_MAGIC);
            let at = HEADER_SIZE + i * SLOT_SIZE;
            f[at + 4..at + 8].copy_from_slice(&idx.to_le_bytes());
            f[at + 8..at + 12].copy_from_slice(&(blkoff as u32).to_le_bytes());
            f[at + 12..at + 16].copy_from_slice(&((rec.len() / BLK_SIZE) as u32).to_le_bytes());
            f.extend_from_slice(&rec);
        }
        f
    }

    fn sample() -> (Vec<u8>, Vec<(u32, Vec<u8>)>) {
        // Out of pkgidx order on disk, to check the output is sorted by row.
        let blobs = vec![
            (3, b"third header bytes".to_vec()),
            (1, (0..200u32).map(|i| i as u8).collect()),
            (2, Vec::new()),
        ];
        (build(&blobs), blobs)
    }

    fn p() -> &'static Path {
        Path::new("test/Packages.db")
    }

    fn reason(e: DbError) -> String {
        match e {
            DbError::Corrupt { reason, .. } => reason,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn adler32_known_values() {
        // RFC 1950 / zlib reference values.
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"a"), 0x0062_0062);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Long input crosses the 5552-byte reduction boundary.
        let long = vec![0xffu8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &long {
            a = (a + u64::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&long), ((b << 16) | a) as u32);
    }

    #[test]
    fn reads_sample_sorted_by_row() {
        let (db, mut blobs) = sample();
        blobs.sort_by_key(|b| b.0);
        let want: Vec<RawHeader> = blobs
            .into_iter()
            .map(|(row, blob)| RawHeader { row, blob })
            .collect();
        assert_eq!(parse(p(), &db).unwrap(), want);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let (db, _) = sample();
        for n in 0..db.len() {
            assert!(
                parse(p(), &db[..n]).is_err(),
                "prefix {n} of {} accepted",
                db.len()
            );
        }
    }

    #[test]
    fn byte_corruption_is_detected_or_harmless_and_never_panics() {
        let (db, _) = sample();
        let good = parse(p(), &db).unwrap();
        for i in 0..db.len() {
            for v in [0u8, 0xff, 0x5a] {
                let mut d = db.clone();
                if d[i] == v {
                    continue;
                }
                d[i] = v;
                // A change inside a blob's blocks must be caught (adler32 or a field check);
                // elsewhere it may land in a free slot's unused fields.
                if let Ok(got) = parse(p(), &d) {
                    assert_eq!(
                        got, good,
                        "byte {i} set to {v:#x} changed the result silently"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_magics_are_errors() {
        let (db, _) = sample();
        let mut d = db.clone();
        d[0] = b'X';
        assert!(reason(parse(p(), &d).unwrap_err()).contains("RpmP"));
        let mut d = db.clone();
        d[HEADER_SIZE] = b'X';
        assert!(reason(parse(p(), &d).unwrap_err()).contains("Slot"));
        let mut d = db.clone();
        d[PAGE_SIZE] = b'X';
        assert!(reason(parse(p(), &d).unwrap_err()).contains("BlbS"));
    }

    #[test]
    fn checksum_mismatch_is_an_error() {
        let (mut db, _) = sample();
        // Flip a byte of the first blob's body and nothing else.
        db[PAGE_SIZE + BLOB_HEAD_SIZE] ^= 1;
        assert!(reason(parse(p(), &db).unwrap_err()).contains("adler32"));
    }

    #[test]
    fn pkgidx_mismatch_duplicates_and_overlap_are_errors() {
        let (db, _) = sample();
        // Slot 0 claims package 9, its blob says 3.
        let mut d = db.clone();
        d[HEADER_SIZE + 4..HEADER_SIZE + 8].copy_from_slice(&9u32.to_le_bytes());
        assert!(reason(parse(p(), &d).unwrap_err()).contains("its blob says"));
        // Slot 1 points at slot 0's blob too.
        let mut d = db.clone();
        let (s0, s1) = (HEADER_SIZE, HEADER_SIZE + SLOT_SIZE);
        let src: Vec<u8> = d[s0 + 4..s0 + 16].to_vec();
        d[s1 + 4..s1 + 16].copy_from_slice(&src);
        let e = reason(parse(p(), &d).unwrap_err());
        assert!(e.contains("overlap") || e.contains("two slots"), "{e}");
        // A slot pointing into the slot pages.
        let mut d = db.clone();
        d[s0 + 8..s0 + 12].copy_from_slice(&1u32.to_le_bytes());
        assert!(reason(parse(p(), &d).unwrap_err()).contains("slot pages"));
    }

    #[test]
    fn huge_lengths_are_refused() {
        let (db, _) = sample();
        let s0 = HEADER_SIZE;
        let mut d = db.clone();
        d[s0 + 12..s0 + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(p(), &d).is_err());
        let mut d = db.clone();
        d[s0 + 8..s0 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(p(), &d).is_err());
        let mut d = db.clone();
        d[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(reason(parse(p(), &d).unwrap_err()).contains("slot pages"));
        let mut d = db;
        d[PAGE_SIZE + 12..PAGE_SIZE + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(reason(parse(p(), &d).unwrap_err()).contains("blocks"));
    }

    #[test]
    fn empty_database_is_empty_not_error() {
        assert_eq!(parse(p(), &build(&[])).unwrap(), vec![]);
    }
}
