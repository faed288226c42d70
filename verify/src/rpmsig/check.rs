//! One header: its OpenPGP signatures and its SHA256HEADER, checked.
//!
//! What is hashed (RFC 4880 §5.2.4, RFC 9580 §5.2.4): for v6 the salt first; then the
//! signed data, which for an RPM header is exactly what
//! [`Header::for_each_signed_chunk`] yields (magic, `ril`/`rdl`, region index, region
//! data, as rpm's `headerCheck` feeds its digests); then for v4/v6 the hashed part of
//! the signature packet (version through hashed subpackets) followed by the trailer
//! `version 0xFF len32`; for v3 only the five hashed bytes (type and creation time).
//! The digest is then checked against the packet's left 16 bits (a cheap reject) and
//! verified with aws-lc-rs directly: RSA PKCS#1 v1.5 over the digest, or Ed25519 with
//! the digest as its message (OpenPGP signs the hash, not the data, with EdDSA).

use aws_lc_rs::digest::{self as dg, Context, Digest};
use base64::Engine;
use sbom::rpm::header::Header;
use sbom::rpm::pgpsig::{self, SignaturePacket};
use sbom::rpm::tags;

use super::keyring::{KeyMaterial, Keyring, TrustedKey};
use super::{GoodSignature, HeaderVerdict, Issue, IssueKind};

/// OpenPGP public-key algorithm ids (RFC 9580 §9.1).
const ALGO_RSA: u8 = 1;
const ALGO_RSA_SIGN: u8 = 3;
const ALGO_EDDSA_LEGACY: u8 = 22;
const ALGO_ED25519: u8 = 27;

/// Which header tag carried a signature, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigTag {
    Rsaheader,
    Dsaheader,
    Openpgp,
}

impl SigTag {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsaheader => "RSAHEADER",
            Self::Dsaheader => "DSAHEADER",
            Self::Openpgp => "OPENPGP",
        }
    }
}

pub fn hash_name(id: u8) -> String {
    sbom::rpm::pgpsig::hash_algo_name(id)
        .map_or_else(|| format!("hash algorithm {id}"), str::to_owned)
}

pub fn pubkey_name(id: u8) -> String {
    sbom::rpm::pgpsig::pubkey_algo_name(id)
        .map_or_else(|| format!("public-key algorithm {id}"), str::to_owned)
}

/// The hashes we accept for header signatures. SHA-1 and the rest are refused:
/// rpm's own default crypto policy rejects SHA-1 signatures too.
fn digest_alg(id: u8) -> Option<&'static dg::Algorithm> {
    match id {
        8 => Some(&dg::SHA256),
        9 => Some(&dg::SHA384),
        10 => Some(&dg::SHA512),
        _ => None,
    }
}

/// RFC 9580 §9.5: the salt size of a v6 signature is fixed by its hash.
fn v6_salt_len(id: u8) -> usize {
    match id {
        9 => 24,
        10 => 32,
        _ => 16,
    }
}

/// One raw signature packet and the tag it came from.
struct RawSig {
    tag: SigTag,
    bytes: Vec<u8>,
}

/// Reads RSAHEADER, DSAHEADER and every OPENPGP string (base64 packets).
fn raw_signatures(h: &Header, issues: &mut Vec<Issue>) -> Vec<RawSig> {
    let mut out = Vec::new();
    for (tag, t) in [
        (tags::RSAHEADER, SigTag::Rsaheader),
        (tags::DSAHEADER, SigTag::Dsaheader),
    ] {
        match h.bin(tag) {
            Ok(Some(b)) => out.push(RawSig {
                tag: t,
                bytes: b.to_vec(),
            }),
            Ok(None) => {}
            Err(e) => issues.push(Issue::new(
                IssueKind::MalformedSignature,
                Some(t),
                e.to_string(),
            )),
        }
    }
    match h.strings(tags::OPENPGP) {
        Ok(list) => {
            for s in list {
                match base64::engine::general_purpose::STANDARD.decode(s.trim().as_bytes()) {
                    Ok(bytes) => out.push(RawSig {
                        tag: SigTag::Openpgp,
                        bytes,
                    }),
                    Err(e) => issues.push(Issue::new(
                        IssueKind::MalformedSignature,
                        Some(SigTag::Openpgp),
                        format!("OPENPGP string is not base64: {e}"),
                    )),
                }
            }
        }
        Err(e) => issues.push(Issue::new(
            IssueKind::MalformedSignature,
            Some(SigTag::Openpgp),
            e.to_string(),
        )),
    }
    out
}

/// Checks one parsed header. Never panics; every problem becomes an [`Issue`].
///
/// `sigs_from` holds the signature tags and SHA256HEADER: the header itself for an
/// installed package (rpm merges them in), the signature header for a `.rpm` file.
pub fn check_header(
    h: &Header,
    sigs_from: &Header,
    keyring: &Keyring,
    verdict: &mut HeaderVerdict,
) {
    let mut issues = Vec::new();
    check_region_overrides(h, &mut issues);
    let sigs = raw_signatures(sigs_from, &mut issues);

    // SHA-256 over the signed bytes, computed once: it is SHA256HEADER's value and,
    // continued with a v4 trailer, the digest of the usual RSA/SHA256 signature.
    let mut base = Context::new(&dg::SHA256);
    let has_region = h.for_each_signed_chunk(|c| base.update(c));
    check_header_digest(sigs_from, has_region, &base, &mut issues, verdict);

    if !has_region {
        if !sigs.is_empty() {
            issues.push(Issue::new(
                IssueKind::MalformedSignature,
                None,
                "header has signatures but no immutable region to cover".into(),
            ));
        }
    } else {
        for s in &sigs {
            match check_signature(h, s, keyring, &base) {
                Ok(good) => verdict.good.push(good),
                Err(issue) => issues.push(issue),
            }
        }
    }
    if sigs.is_empty()
        && !issues
            .iter()
            .any(|i| i.kind == IssueKind::MalformedSignature)
    {
        issues.push(Issue::new(
            IssueKind::Unsigned,
            None,
            "no RSAHEADER, DSAHEADER or OPENPGP signature".into(),
        ));
    }
    // A signature by a key we do not hold is no failure when another signature
    // verified with a trusted key (rpm 6 adds signatures by further keys); it is
    // kept as a note. Every other problem stands.
    if !verdict.good.is_empty() {
        let (unknown, rest): (Vec<Issue>, Vec<Issue>) = issues
            .into_iter()
            .partition(|i| i.kind == IssueKind::UnknownKey);
        verdict.notes.extend(unknown.into_iter().map(|i| i.reason));
        issues = rest;
    }
    verdict.issues.extend(issues);
}

/// rpm lets entries after the immutable region replace region entries on import
/// (that is how installed headers gain INSTALLTIME etc.). A tag that appears in the
/// region *and* after it would let an unsigned entry change a signed value (say NAME)
/// without touching the signature, so it fails the header.
fn check_region_overrides(h: &Header, issues: &mut Vec<Issue>) {
    let Some(region) = h.region() else { return };
    let entries = h.entries();
    let (signed, dribble) = entries.split_at(region.ril.min(entries.len()));
    let mut signed_tags: Vec<u32> = signed.iter().map(|e| e.tag).collect();
    signed_tags.sort_unstable();
    for e in dribble {
        if signed_tags.binary_search(&e.tag).is_ok() {
            issues.push(Issue::new(
                IssueKind::SignedRegionOverride,
                None,
                format!(
                    "tag {} ({}) outside the signed region overrides the signed value",
                    e.tag,
                    tags::name(e.tag)
                ),
            ));
        }
    }
}

fn check_header_digest(
    h: &Header,
    has_region: bool,
    base: &Context,
    issues: &mut Vec<Issue>,
    verdict: &mut HeaderVerdict,
) {
    let stored = match h.string(tags::SHA256HEADER) {
        Ok(s) => s,
        Err(e) => {
            issues.push(Issue::new(
                IssueKind::DigestMismatch,
                None,
                format!("SHA256HEADER unreadable: {e}"),
            ));
            return;
        }
    };
    let Some(stored) = stored else {
        // Headers from before rpm 4.14 carry only SHA1HEADER; nothing to compare
        // then, and the signature check alone decides.
        return;
    };
    verdict.digest_checked = true;
    if !has_region {
        issues.push(Issue::new(
            IssueKind::DigestMismatch,
            None,
            "SHA256HEADER present but the header has no immutable region".into(),
        ));
        return;
    }
    let computed = hex::encode(base.clone().finish().as_ref());
    if !stored.trim().eq_ignore_ascii_case(&computed) {
        issues.push(Issue::new(
            IssueKind::DigestMismatch,
            None,
            format!(
                "SHA256HEADER is {} but the signed header hashes to {computed}",
                stored.trim()
            ),
        ));
    }
}

/// Hashed subpackets the check understands; a critical one outside this list makes
/// the signature invalid (RFC 9580 §5.2.3.7). 2 creation time, 3 signature
/// expiration, 16 issuer key id, 33 issuer fingerprint, 20 notation (only
/// meaningful when critical and understood: it is not, so refused then).
const UNDERSTOOD_SUBPACKETS: [u8; 4] = [2, 3, 16, 33];

/// Walks the hashed subpackets (already bounds-checked by the parser) for critical
/// ones we do not understand and for an expired signature.
fn check_hashed_subpackets(p: &SignaturePacket) -> Result<(), (IssueKind, String)> {
    let start = match p.version {
        4 => 6,
        6 => 8,
        _ => return Ok(()), // v3 has no subpackets
    };
    let mut b = p.hashed.get(start..).unwrap_or_default();
    let malformed = |why: &str| (IssueKind::MalformedSignature, why.to_string());
    while let Some(&o1) = b.first() {
        let (len, hdr): (usize, usize) = match o1 {
            0..=191 => (usize::from(o1), 1),
            192..=254 => {
                let o2 = *b
                    .get(1)
                    .ok_or_else(|| malformed("truncated subpacket length"))?;
                (((usize::from(o1) - 192) << 8) + usize::from(o2) + 192, 2)
            }
            255 => {
                let l = b
                    .get(1..5)
                    .ok_or_else(|| malformed("truncated subpacket length"))?;
                (u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize, 5)
            }
        };
        let sp = b
            .get(hdr..hdr.saturating_add(len))
            .filter(|sp| !sp.is_empty())
            .ok_or_else(|| malformed("subpacket runs past the hashed area"))?;
        let (critical, ty, data) = (sp[0] & 0x80 != 0, sp[0] & 0x7f, &sp[1..]);
        if critical && !UNDERSTOOD_SUBPACKETS.contains(&ty) {
            return Err(malformed(&format!(
                "critical subpacket type {ty} is not understood"
            )));
        }
        if ty == 3 && data.len() == 4 {
            let secs = u64::from(u32::from_be_bytes([data[0], data[1], data[2], data[3]]));
            // Zero means "never expires" (RFC 9580 §5.2.3.18).
            if let (true, Some(created)) = (secs > 0, p.created) {
                let expiry = u64::from(created) + secs;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if now >= expiry {
                    return Err((
                        IssueKind::BadSignature,
                        format!("signature expired at {expiry} (seconds since the epoch)"),
                    ));
                }
            }
        }
        b = &b[hdr + len..];
    }
    Ok(())
}

fn malformed(tag: SigTag, reason: impl Into<String>) -> Issue {
    Issue::new(IssueKind::MalformedSignature, Some(tag), reason.into())
}

fn check_signature(
    h: &Header,
    s: &RawSig,
    keyring: &Keyring,
    base: &Context,
) -> Result<GoodSignature, Issue> {
    let tag = s.tag;
    let p = pgpsig::parse(&s.bytes).map_err(|e| malformed(tag, e.to_string()))?;
    if p.sig_type != 0 {
        return Err(malformed(
            tag,
            format!(
                "signature type {:#04x}, not a binary-document signature",
                p.sig_type
            ),
        ));
    }
    let algo_name = format!("{}/{}", pubkey_name(p.pubkey_algo), hash_name(p.hash_algo));
    let unsupported = |why: String| Issue::new(IssueKind::UnsupportedAlgorithm, Some(tag), why);
    let bad = |why: String| Issue::new(IssueKind::BadSignature, Some(tag), why);
    if p.version == 6 && p.salt.len() != v6_salt_len(p.hash_algo) {
        return Err(malformed(
            tag,
            format!(
                "v6 salt of {} bytes for {}",
                p.salt.len(),
                hash_name(p.hash_algo)
            ),
        ));
    }
    check_hashed_subpackets(&p).map_err(|(kind, why)| Issue::new(kind, Some(tag), why))?;
    // The digest and its left 16 bits come before the key lookup, as in rpm: a
    // header changed since signing is a bad signature whichever keys we hold.
    let digest = match digest_alg(p.hash_algo) {
        Some(alg) => {
            let d = signature_digest(h, &p, alg, base).map_err(|why| malformed(tag, why))?;
            if d.as_ref()[..2] != p.left16 {
                return Err(bad(format!(
                    "digest prefix {} does not match the signature's {} (header changed since signing)",
                    hex::encode(&d.as_ref()[..2]),
                    hex::encode(p.left16)
                )));
            }
            Some((alg, d))
        }
        None => None,
    };
    let key = keyring
        .find(p.issuer_fingerprint, p.issuer_key_id)
        .ok_or_else(|| {
            let who = match (p.issuer_fingerprint, p.issuer_key_id) {
                (Some(fp), _) => format!("fingerprint {}", hex::encode_upper(fp)),
                (None, Some(id)) => format!("key id {}", hex::encode_upper(id)),
                (None, None) => "no issuer".to_string(),
            };
            Issue::new(
                IssueKind::UnknownKey,
                Some(tag),
                format!("signed by {who}, which is not in the keyring"),
            )
        })?;
    if let KeyMaterial::Unsupported(why) = &key.material {
        return Err(unsupported(format!(
            "{algo_name} signature by key {}: {why}",
            key.fingerprint_hex()
        )));
    }
    let (alg, digest) =
        digest.ok_or_else(|| unsupported(format!("{algo_name}: hash not accepted")))?;
    if p.version == 6 && key.version != 6 {
        return Err(bad(format!(
            "v6 signature names v{} key {}",
            key.version,
            key.fingerprint_hex()
        )));
    }
    verify_material(&p, key, alg, &digest, tag)?;
    // Only now: a signature that does not verify is bad whatever its key's state.
    let created = p
        .created
        .ok_or_else(|| malformed(tag, "no signature creation time"))?;
    if let Some(why) = key.void_at(created) {
        return Err(Issue::new(
            IssueKind::KeyNotValid,
            Some(tag),
            format!(
                "{algo_name} signature by key {} verifies, but {why}",
                key.fingerprint_hex()
            ),
        ));
    }
    Ok(GoodSignature {
        tag: tag.name(),
        version: p.version,
        algorithm: algo_name,
        key_fingerprint: key.fingerprint_hex(),
        key_id: key.key_id_hex(),
        primary_fingerprint: hex::encode_upper(&key.primary_fingerprint),
        user_id: key.user_id.clone(),
        created: p.created,
    })
}

/// The OpenPGP digest over header and trailer.
fn signature_digest(
    h: &Header,
    p: &SignaturePacket,
    alg: &'static dg::Algorithm,
    base: &Context,
) -> Result<Digest, String> {
    let mut ctx = if p.version == 6 {
        let mut c = Context::new(alg);
        c.update(p.salt);
        h.for_each_signed_chunk(|chunk| c.update(chunk));
        c
    } else if alg == &dg::SHA256 {
        base.clone()
    } else {
        let mut c = Context::new(alg);
        h.for_each_signed_chunk(|chunk| c.update(chunk));
        c
    };
    ctx.update(p.hashed);
    match p.version {
        3 => {}
        4 | 6 => {
            let len =
                u32::try_from(p.hashed.len()).map_err(|_| "hashed area too long".to_string())?;
            let mut trailer = [p.version, 0xff, 0, 0, 0, 0];
            trailer[2..].copy_from_slice(&len.to_be_bytes());
            ctx.update(&trailer);
        }
        v => return Err(format!("signature version {v}")),
    }
    Ok(ctx.finish())
}

/// Reads one MPI (2-byte bit count, then the bytes) from the front of `b`.
fn mpi(b: &[u8]) -> Result<(&[u8], &[u8]), String> {
    if b.len() < 2 {
        return Err("truncated MPI".into());
    }
    let bits = usize::from(u16::from_be_bytes([b[0], b[1]]));
    let n = bits.div_ceil(8);
    let body = b.get(2..2 + n).ok_or("MPI runs past the signature")?;
    Ok((body, &b[2 + n..]))
}

/// Left-pads `v` (an MPI without leading zeros) to `len` bytes.
fn pad(v: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let v = &v[v.iter().position(|&b| b != 0).unwrap_or(v.len())..];
    if v.len() > len {
        return Err(format!("{} bytes where at most {len} fit", v.len()));
    }
    let mut out = vec![0u8; len - v.len()];
    out.extend_from_slice(v);
    Ok(out)
}

fn verify_material(
    p: &SignaturePacket,
    key: &TrustedKey,
    alg: &'static dg::Algorithm,
    digest: &Digest,
    tag: SigTag,
) -> Result<(), Issue> {
    let bad = |why: String| Issue::new(IssueKind::BadSignature, Some(tag), why);
    let mism = || {
        bad(format!(
            "{} signature, but key {} is {:?}",
            pubkey_name(p.pubkey_algo),
            key.fingerprint_hex(),
            key.material
        ))
    };
    let fp = key.fingerprint_hex();
    match &key.material {
        KeyMaterial::Rsa {
            bits,
            sha256,
            sha384,
            sha512,
        } => {
            if !matches!(p.pubkey_algo, ALGO_RSA | ALGO_RSA_SIGN) {
                return Err(mism());
            }
            let (s, rest) = mpi(p.material).map_err(|e| malformed(tag, e))?;
            if !rest.is_empty() {
                return Err(malformed(tag, "bytes after the RSA signature MPI"));
            }
            let s = pad(s, bits.div_ceil(8))
                .map_err(|e| malformed(tag, format!("RSA signature: {e}")))?;
            let pk = if alg == &dg::SHA256 {
                sha256
            } else if alg == &dg::SHA384 {
                sha384
            } else {
                sha512
            };
            pk.verify_digest_sig(digest, &s)
                .map_err(|_| bad(format!("RSA signature does not verify with key {fp}")))
        }
        KeyMaterial::Ed25519(pk) => {
            let raw = match p.pubkey_algo {
                ALGO_EDDSA_LEGACY => {
                    let (r, rest) = mpi(p.material).map_err(|e| malformed(tag, e))?;
                    let (s, rest) = mpi(rest).map_err(|e| malformed(tag, e))?;
                    if !rest.is_empty() {
                        return Err(malformed(tag, "bytes after the EdDSA signature MPIs"));
                    }
                    let mut raw =
                        pad(r, 32).map_err(|e| malformed(tag, format!("EdDSA r: {e}")))?;
                    raw.extend(pad(s, 32).map_err(|e| malformed(tag, format!("EdDSA s: {e}")))?);
                    raw
                }
                ALGO_ED25519 => {
                    if p.material.len() != 64 {
                        return Err(malformed(
                            tag,
                            format!("Ed25519 signature of {} bytes, not 64", p.material.len()),
                        ));
                    }
                    p.material.to_vec()
                }
                _ => return Err(mism()),
            };
            pk.verify_sig(digest.as_ref(), &raw)
                .map_err(|_| bad(format!("Ed25519 signature does not verify with key {fp}")))
        }
        KeyMaterial::Unsupported(_) => Err(mism()),
    }
}

/// NEVRA and name read straight from the header (no full decode: it is not needed
/// to check a signature and costs more than the check).
pub fn identity(h: &Header) -> (Option<String>, Option<String>) {
    let s = |t| h.string(t).ok().flatten().map(|v| v.into_owned());
    let name = s(tags::NAME);
    let nevra = name.as_ref().map(|n| {
        let epoch = h
            .int(tags::EPOCH)
            .ok()
            .flatten()
            .map(|e| format!("{e}:"))
            .unwrap_or_default();
        let arch = s(tags::ARCH).map(|a| format!(".{a}")).unwrap_or_default();
        format!(
            "{n}-{epoch}{}-{}{arch}",
            s(tags::VERSION).unwrap_or_default(),
            s(tags::RELEASE).unwrap_or_default()
        )
    });
    (name, nevra)
}
