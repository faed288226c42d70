//! Header signatures of a `.rpm` package file, checked the same way as installed ones.
//!
//! Used to compare our answers with `rpmkeys --checksig` on exactly the same bytes
//! (the installed database has no file form rpm can check). Layout: a 96-byte lead,
//! the signature header (8-byte magic, `il`, `dl`, index, data, padded to 8 bytes),
//! then the main header (magic, `il`, `dl`, index, data), then the payload, which
//! header-only signatures do not cover and which is not read here.

use std::ops::Range;

use sbom::rpm::header::{Header, HEADER_MAGIC};

use super::{check, HeaderVerdict, Issue, IssueKind, Keyring};

const LEAD_SIZE: usize = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];

/// Finds one header blob (without its magic) starting at `at`; returns its range
/// and the offset just after it.
fn header_at(b: &[u8], at: usize) -> Result<(Range<usize>, usize), String> {
    let magic = b.get(at..at + 8).ok_or("file ends before a header")?;
    // The last four magic bytes are reserved; rpm ignores them too.
    if magic[..4] != HEADER_MAGIC[..4] {
        return Err(format!("no header magic at offset {at}"));
    }
    let pre = b
        .get(at + 8..at + 16)
        .ok_or("file ends inside a header preamble")?;
    let il = u32::from_be_bytes([pre[0], pre[1], pre[2], pre[3]]) as usize;
    let dl = u32::from_be_bytes([pre[4], pre[5], pre[6], pre[7]]) as usize;
    let len = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(dl))
        .and_then(|n| n.checked_add(8))
        .ok_or("header size overflows")?;
    let end = (at + 8).checked_add(len).ok_or("header size overflows")?;
    if end > b.len() {
        return Err(format!(
            "header at offset {at} runs past the end of the file"
        ));
    }
    Ok((at + 8..end, end))
}

/// Byte ranges of the signature header's and the main header's blobs (each without
/// its 8-byte magic, as [`Header::parse`] takes them).
pub fn header_ranges(bytes: &[u8]) -> Result<(Range<usize>, Range<usize>), String> {
    if bytes.len() < LEAD_SIZE || bytes[..4] != LEAD_MAGIC {
        return Err("not an RPM package file (no lead)".into());
    }
    let (sig, after_sig) =
        header_at(bytes, LEAD_SIZE).map_err(|e| format!("signature header: {e}"))?;
    let main_at = after_sig.div_ceil(8) * 8;
    let (main, _) = header_at(bytes, main_at).map_err(|e| format!("main header: {e}"))?;
    Ok((sig, main))
}

/// Checks the header signatures of a whole `.rpm` file held in memory.
pub fn verify_rpm_bytes(bytes: &[u8], keyring: &Keyring) -> HeaderVerdict {
    let mut v = HeaderVerdict::default();
    let parsed = header_ranges(bytes).and_then(|(s, m)| {
        let sig = Header::parse(&bytes[s]).map_err(|e| format!("signature header: {e}"))?;
        let main = Header::parse(&bytes[m]).map_err(|e| format!("main header: {e}"))?;
        Ok((sig, main))
    });
    let (sig_h, main_h) = match parsed {
        Ok(x) => x,
        Err(why) => {
            v.issues
                .push(Issue::new(IssueKind::MalformedHeader, None, why));
            return v;
        }
    };
    let (name, nevra) = check::identity(&main_h);
    v.name = name;
    v.nevra = nevra;
    check::check_header(&main_h, &sig_h, keyring, &mut v);
    v
}
