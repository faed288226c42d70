//! Whether a trusted key could make a signature at the time the signature says it was
//! made: the key existed, was bound by a self-signature in effect then, had not expired,
//! was not revoked, and may sign. rpm 4.19 and later (through Sequoia, as Fedora builds
//! it) refuse such signatures; rpm 4.18's own OpenPGP parser does not look.
//!
//! Taken from the key's self-signatures, all verified when the key was loaded
//! ([`super::keyring`]):
//! - binding: for a primary key its user-id certifications and direct-key signatures, for a
//!   subkey its binding signatures; the one in effect at time `t` is the newest created at
//!   or before `t` (as Sequoia evaluates a certificate at a signature's time);
//! - expiry: that binding's key expiration time, counted from the key's creation;
//! - capability: that binding's key flags must include signing; a binding without a key
//!   flags subpacket restricts nothing (GnuPG infers capabilities from the algorithm then;
//!   every key gpg makes carries the subpacket);
//! - revocation: a hard revocation (no reason, key compromised, or a reason we do not
//!   know) voids every signature; a soft one (superseded, retired) those made at or after
//!   it, as RFC 9580 §5.2.3.31 and Sequoia read it.
//!
//! A subkey's signature also needs the primary key alive and unrevoked at that time.

use pgp::composed::{SignedKeyDetails, SignedPublicSubKey};
use pgp::packet::{RevocationCode, Signature, SignatureType, SubpacketData};

/// One self-signature's statements about its key.
#[derive(Debug, Clone)]
struct Binding {
    created: u32,
    /// Seconds after the key's creation; `None` or 0: never.
    expires_after: Option<u32>,
    /// `None`: no key flags subpacket.
    can_sign: Option<bool>,
}

#[derive(Debug, Clone)]
enum Revocation {
    /// Every signature is void.
    Hard(String),
    /// Signatures made at or after `at` are void.
    Soft { at: u32, reason: String },
}

/// What the self-signatures say about one key (primary or subkey).
#[derive(Debug, Clone)]
pub struct KeyValidity {
    created: u32,
    /// Sorted by creation time.
    bindings: Vec<Binding>,
    revocations: Vec<Revocation>,
}

fn binding(sig: &Signature) -> Option<Binding> {
    let created = sig.created()?.as_secs();
    let has_flags = sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    });
    Some(Binding {
        created,
        expires_after: sig.key_expiration_time().map(|d| d.as_secs()),
        can_sign: has_flags.then(|| sig.key_flags().sign()),
    })
}

fn revocation(sig: &Signature) -> Revocation {
    let reason = match sig.revocation_reason_code() {
        Some(code) => format!("{code:?}"),
        None => "no reason given".to_owned(),
    };
    match (sig.revocation_reason_code(), sig.created()) {
        (Some(RevocationCode::KeySuperseded | RevocationCode::KeyRetired), Some(at)) => {
            Revocation::Soft {
                at: at.as_secs(),
                reason,
            }
        }
        _ => Revocation::Hard(reason),
    }
}

impl KeyValidity {
    fn new(created: u32, mut bindings: Vec<Binding>, revocations: Vec<Revocation>) -> Self {
        bindings.sort_by_key(|b| b.created);
        KeyValidity {
            created,
            bindings,
            revocations,
        }
    }

    /// A primary key: user-id certifications and direct-key signatures bind it.
    pub fn primary(created: u32, details: &SignedKeyDetails) -> Self {
        let certs = details
            .users
            .iter()
            .flat_map(|u| &u.signatures)
            .filter(|s| {
                matches!(
                    s.typ(),
                    Some(
                        SignatureType::CertGeneric
                            | SignatureType::CertPersona
                            | SignatureType::CertCasual
                            | SignatureType::CertPositive
                    )
                )
            });
        let direct = details
            .direct_signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::Key));
        let revocations = details
            .revocation_signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::KeyRevocation))
            .map(revocation)
            .collect();
        Self::new(
            created,
            certs.chain(direct).filter_map(binding).collect(),
            revocations,
        )
    }

    /// A subkey: its binding and revocation signatures.
    pub fn subkey(created: u32, sub: &SignedPublicSubKey) -> Self {
        let of = |t| sub.signatures.iter().filter(move |s| s.typ() == Some(t));
        Self::new(
            created,
            of(SignatureType::SubkeyBinding)
                .filter_map(binding)
                .collect(),
            of(SignatureType::SubkeyRevocation)
                .map(revocation)
                .collect(),
        )
    }

    /// Why a signature made at `t` by this key is void, if it is. `signing`: the key made
    /// the signature (false: the primary of a subkey that did, which needs only to be
    /// alive and unrevoked).
    pub fn void_at(&self, t: u32, signing: bool) -> Option<String> {
        if t < self.created {
            return Some(format!(
                "the signature ({}) predates the key ({})",
                utc(t),
                utc(self.created)
            ));
        }
        for r in &self.revocations {
            match r {
                Revocation::Hard(reason) => return Some(format!("the key is revoked ({reason})")),
                Revocation::Soft { at, reason } if t >= *at => {
                    return Some(format!(
                        "the key was revoked at {} ({reason}), before the signature ({})",
                        utc(*at),
                        utc(t)
                    ))
                }
                Revocation::Soft { .. } => {}
            }
        }
        let Some(b) = self.bindings.iter().rev().find(|b| b.created <= t) else {
            return Some(format!(
                "no self-signature of the key was in effect at the signature's time ({})",
                utc(t)
            ));
        };
        if let Some(after) = b.expires_after.filter(|&a| a != 0) {
            let end = i64::from(self.created) + i64::from(after);
            if i64::from(t) >= end {
                return Some(format!(
                    "the key expired at {}, before the signature ({})",
                    sbom::format::rfc3339(end),
                    utc(t)
                ));
            }
        }
        if signing && b.can_sign == Some(false) {
            return Some("the key's flags do not allow signing".into());
        }
        None
    }
}

fn utc(t: u32) -> String {
    sbom::format::rfc3339(i64::from(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(created: u32, expires_after: Option<u32>, can_sign: Option<bool>) -> Binding {
        Binding {
            created,
            expires_after,
            can_sign,
        }
    }

    #[test]
    fn the_binding_in_effect_at_the_signature_decides() {
        // Created at 1000, bound at 1000 expiring after 500 s, re-bound at 1400 without
        // expiry (extended), then at 3000 as not signing-capable.
        let k = KeyValidity::new(
            1000,
            vec![
                b(3000, None, Some(false)),
                b(1000, Some(500), Some(true)),
                b(1400, Some(0), None),
            ],
            vec![],
        );
        assert!(k.void_at(999, true).unwrap().contains("predates"));
        assert_eq!(k.void_at(1200, true), None);
        // 1450: the extension (1400) is in effect.
        assert_eq!(k.void_at(1450, true), None);
        assert!(k.void_at(3000, true).unwrap().contains("flags"));
        // Only the signer needs the signing flag.
        assert_eq!(k.void_at(3000, false), None);
        let old = KeyValidity::new(1000, vec![b(1000, Some(500), None)], vec![]);
        assert!(old.void_at(1500, true).unwrap().contains("expired"));
        assert_eq!(old.void_at(1499, true), None);
        let unbound = KeyValidity::new(1000, vec![b(2000, None, None)], vec![]);
        assert!(unbound
            .void_at(1500, true)
            .unwrap()
            .contains("no self-signature"));
    }

    #[test]
    fn hard_revocations_void_everything_soft_ones_what_follows() {
        let bound = || vec![b(1000, None, Some(true))];
        let hard = KeyValidity::new(
            1000,
            bound(),
            vec![Revocation::Hard("KeyCompromised".into())],
        );
        assert!(hard.void_at(1001, true).unwrap().contains("revoked"));
        let soft = KeyValidity::new(
            1000,
            bound(),
            vec![Revocation::Soft {
                at: 2000,
                reason: "KeySuperseded".into(),
            }],
        );
        assert_eq!(soft.void_at(1999, true), None);
        assert!(soft.void_at(2000, true).unwrap().contains("revoked at"));
    }
}
