//! Minimal OpenPGP signature packet reader (RFC 4880 / RFC 9580) for RPM header signatures.
//!
//! Written by hand rather than with the `pgp` crate because the SBOM needs only the issuer
//! and algorithms of a signature, and the verifier needs the exact hashed-area bytes to
//! feed ring/aws-lc directly (the full `pgp` stack is ~15x slower per signature). It
//! parses; it does not verify. Every length is checked against the packet.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("OpenPGP signature packet: {0}")]
pub struct PgpError(pub &'static str);

/// A parsed signature packet, borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePacket<'a> {
    pub version: u8,
    pub sig_type: u8,
    pub pubkey_algo: u8,
    pub hash_algo: u8,
    pub created: Option<u32>,
    pub issuer_key_id: Option<[u8; 8]>,
    /// Issuer fingerprint subpacket (20 bytes for v4 keys, 32 for v6).
    pub issuer_fingerprint: Option<&'a [u8]>,
    /// v4/v6: the bytes from the version octet through the hashed subpackets, which the
    /// signer hashed after the data. v3: the 5 bytes of sig type and creation time.
    pub hashed: &'a [u8],
    /// The first two bytes of the digest, a quick reject before the public-key maths.
    pub left16: [u8; 2],
    /// v6 only: the salt hashed before the data.
    pub salt: &'a [u8],
    /// Algorithm-specific signature material (MPIs for RSA/DSA/ECDSA/legacy EdDSA, raw
    /// 64 bytes for v6 Ed25519).
    pub material: &'a [u8],
}

/// RFC 9580 public-key algorithm name, `None` for ids we do not name.
pub fn pubkey_algo_name(id: u8) -> Option<&'static str> {
    Some(match id {
        1..=3 => "RSA",
        17 => "DSA",
        19 => "ECDSA",
        22 => "EdDSA",
        27 => "Ed25519",
        28 => "Ed448",
        _ => return None,
    })
}

/// RFC 9580 hash algorithm name, `None` for ids we do not name.
pub fn hash_algo_name(id: u8) -> Option<&'static str> {
    Some(match id {
        1 => "MD5",
        2 => "SHA1",
        3 => "RIPEMD160",
        8 => "SHA256",
        9 => "SHA384",
        10 => "SHA512",
        11 => "SHA224",
        12 => "SHA3-256",
        14 => "SHA3-512",
        _ => return None,
    })
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PgpError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(PgpError("truncated"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, PgpError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, PgpError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, PgpError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.pos..];
        self.pos = self.b.len();
        s
    }
}

/// Splits off the packet header and returns the body of a signature packet (tag 2).
fn packet_body(b: &[u8]) -> Result<&[u8], PgpError> {
    let mut r = Reader { b, pos: 0 };
    let h = r.u8()?;
    if h & 0x80 == 0 {
        return Err(PgpError("not a packet (bit 7 of the first octet is clear)"));
    }
    let (tag, len) = if h & 0x40 != 0 {
        let tag = h & 0x3f;
        let o1 = r.u8()? as usize;
        let len = match o1 {
            0..=191 => o1,
            192..=223 => ((o1 - 192) << 8) + r.u8()? as usize + 192,
            255 => r.u32()? as usize,
            _ => {
                return Err(PgpError(
                    "partial body lengths are not allowed in a signature",
                ))
            }
        };
        (tag, Some(len))
    } else {
        let tag = (h >> 2) & 0x0f;
        let len = match h & 3 {
            0 => Some(r.u8()? as usize),
            1 => Some(r.u16()? as usize),
            2 => Some(r.u32()? as usize),
            _ => None, // indeterminate: to the end of the data
        };
        (tag, len)
    };
    if tag != 2 {
        return Err(PgpError("packet is not a signature (tag 2)"));
    }
    match len {
        Some(n) => r.take(n),
        None => Ok(r.rest()),
    }
}

/// Parses one binary OpenPGP signature packet.
pub fn parse(b: &[u8]) -> Result<SignaturePacket<'_>, PgpError> {
    let body = packet_body(b)?;
    let mut r = Reader { b: body, pos: 0 };
    let version = r.u8()?;
    match version {
        3 => {
            if r.u8()? != 5 {
                return Err(PgpError("v3 hashed length is not 5"));
            }
            let hashed = &body[r.pos..r.pos + 5.min(body.len() - r.pos)];
            let sig_type = r.u8()?;
            let created = r.u32()?;
            let key_id: [u8; 8] = r.take(8)?.try_into().expect("8 bytes");
            let pubkey_algo = r.u8()?;
            let hash_algo = r.u8()?;
            let l = r.take(2)?;
            Ok(SignaturePacket {
                version,
                sig_type,
                pubkey_algo,
                hash_algo,
                created: Some(created),
                issuer_key_id: Some(key_id),
                issuer_fingerprint: None,
                hashed,
                left16: [l[0], l[1]],
                salt: &[],
                material: r.rest(),
            })
        }
        4 | 6 => {
            let sig_type = r.u8()?;
            let pubkey_algo = r.u8()?;
            let hash_algo = r.u8()?;
            let wide = version == 6;
            let hashed_len = if wide {
                r.u32()? as usize
            } else {
                r.u16()? as usize
            };
            let hashed_sub = r.take(hashed_len)?;
            let hashed = &body[..r.pos];
            let unhashed_len = if wide {
                r.u32()? as usize
            } else {
                r.u16()? as usize
            };
            let unhashed_sub = r.take(unhashed_len)?;
            let l = r.take(2)?;
            let salt = if wide {
                let n = r.u8()? as usize;
                r.take(n)?
            } else {
                &[]
            };
            let mut sig = SignaturePacket {
                version,
                sig_type,
                pubkey_algo,
                hash_algo,
                created: None,
                issuer_key_id: None,
                issuer_fingerprint: None,
                hashed,
                left16: [l[0], l[1]],
                salt,
                material: r.rest(),
            };
            // Hashed subpackets are authoritative; unhashed ones only fill gaps (issuer
            // key ids are commonly unhashed in v4 signatures made by gpg).
            read_subpackets(hashed_sub, &mut sig)?;
            read_subpackets(unhashed_sub, &mut sig)?;
            if sig.issuer_key_id.is_none() {
                // v4 fingerprint: the key id is its low 64 bits; v6: its high 64 bits.
                sig.issuer_key_id = sig.issuer_fingerprint.and_then(|fp| match fp.len() {
                    20 => fp[12..].try_into().ok(),
                    32 => fp[..8].try_into().ok(),
                    _ => None,
                });
            }
            if sig.material.is_empty() {
                return Err(PgpError("no signature material"));
            }
            Ok(sig)
        }
        _ => Err(PgpError("unsupported signature version")),
    }
}

fn read_subpackets<'a>(mut b: &'a [u8], sig: &mut SignaturePacket<'a>) -> Result<(), PgpError> {
    while !b.is_empty() {
        let mut r = Reader { b, pos: 0 };
        let o1 = r.u8()? as usize;
        let len = match o1 {
            0..=191 => o1,
            192..=254 => ((o1 - 192) << 8) + r.u8()? as usize + 192,
            _ => r.u32()? as usize,
        };
        if len == 0 {
            return Err(PgpError("empty subpacket"));
        }
        let sp = r.take(len)?;
        let (ty, data) = (sp[0] & 0x7f, &sp[1..]);
        match ty {
            2 if data.len() == 4 && sig.created.is_none() => {
                sig.created = Some(u32::from_be_bytes([data[0], data[1], data[2], data[3]]));
            }
            16 if data.len() == 8 && sig.issuer_key_id.is_none() => {
                sig.issuer_key_id = data.try_into().ok();
            }
            33 if data.len() >= 2 && sig.issuer_fingerprint.is_none() => {
                sig.issuer_fingerprint = Some(&data[1..]);
            }
            _ => {}
        }
        b = &b[r.pos..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v4 RSA/SHA256 signature packet as gpg writes it: issuer fingerprint and creation
    /// time hashed, nothing unhashed, a 1-bit MPI standing in for the signature.
    fn v4_packet() -> Vec<u8> {
        let fp: Vec<u8> = (1..=20).collect();
        let mut hashed_sub = vec![22, 33, 4];
        hashed_sub.extend_from_slice(&fp);
        hashed_sub.extend_from_slice(&[5, 2, 0x62, 0, 0, 1]);
        let mut body = vec![4, 0x00, 1, 8];
        body.extend_from_slice(&(hashed_sub.len() as u16).to_be_bytes());
        body.extend_from_slice(&hashed_sub);
        body.extend_from_slice(&[0, 0, 0xab, 0xcd, 0, 1, 1]);
        let mut p = vec![0x89];
        p.extend_from_slice(&(body.len() as u16).to_be_bytes());
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn reads_issuer_from_fingerprint() {
        let p = v4_packet();
        let s = parse(&p).unwrap();
        assert_eq!((s.version, s.pubkey_algo, s.hash_algo), (4, 1, 8));
        assert_eq!(s.created, Some(0x6200_0001));
        assert_eq!(s.issuer_key_id, Some([13, 14, 15, 16, 17, 18, 19, 20]));
        assert_eq!(s.left16, [0xab, 0xcd]);
        assert_eq!(s.hashed[0], 4);
    }

    #[test]
    fn truncations_never_panic() {
        let p = v4_packet();
        for n in 0..p.len() {
            let _ = parse(&p[..n]);
        }
        for i in 0..p.len() {
            let mut q = p.clone();
            q[i] ^= 0xff;
            let _ = parse(&q);
        }
    }
}
