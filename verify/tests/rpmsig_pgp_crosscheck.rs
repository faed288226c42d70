//! Signatures made by an independent OpenPGP implementation (the `pgp` crate's own
//! signing path, which hashes salt, data and trailer itself) over synthetic RPM
//! headers, verified by our aws-lc-rs path. Covers what the real databases lack:
//! RFC 9580 v6 Ed25519 keys and signatures in the OPENPGP tag, v4 Ed25519 (algorithm
//! 27), SHA-512, and hostile packets (every single-byte change, every truncation).

use std::path::Path;

use base64::Engine;
use pgp::composed::{KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{PacketTrait, SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::types::{KeyDetails, KeyVersion, Password, Timestamp};
use sbom::rpm::header::Header;
use sbom::rpm::tags;
use verify::rpmsig::{self, IssueKind, Keyring};

const BIN: u32 = 7;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;

fn s(v: &str) -> Vec<u8> {
    let mut b = v.as_bytes().to_vec();
    b.push(0);
    b
}

/// An installed-style header: an immutable region holding `region`, then entries
/// outside it (signatures, SHA256HEADER) as rpm adds them on install.
fn build(region: &[(u32, u32, u32, Vec<u8>)], dribble: &[(u32, u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut index = Vec::new();
    let mut add = |entries: &[(u32, u32, u32, Vec<u8>)], data: &mut Vec<u8>| {
        for (tag, ty, count, bytes) in entries {
            index.push((*tag, *ty, data.len() as u32, *count));
            data.extend_from_slice(bytes);
        }
    };
    add(region, &mut data);
    let ril = region.len() as i32 + 1;
    let trailer_at = data.len() as u32;
    for w in [tags::HEADERIMMUTABLE, BIN, (-(ril * 16)) as u32, 16] {
        data.extend_from_slice(&w.to_be_bytes());
    }
    add(dribble, &mut data);
    let mut blob = Vec::new();
    blob.extend_from_slice(&(index.len() as u32 + 1).to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for (t, ty, off, c) in
        std::iter::once((tags::HEADERIMMUTABLE, BIN, trailer_at, 16)).chain(index)
    {
        for w in [t, ty, off, c] {
            blob.extend_from_slice(&w.to_be_bytes());
        }
    }
    blob.extend_from_slice(&data);
    blob
}

fn region() -> Vec<(u32, u32, u32, Vec<u8>)> {
    vec![
        (tags::NAME, STRING, 1, s("hello")),
        (tags::VERSION, STRING, 1, s("1.0")),
        (tags::RELEASE, STRING, 1, s("1")),
        (tags::ARCH, STRING, 1, s("noarch")),
        (tags::LICENSE, STRING, 1, s("MIT")),
    ]
}

/// The bytes rpm signs, and their SHA-256 hex (SHA256HEADER).
fn signed_bytes() -> (Vec<u8>, String) {
    let blob = build(&region(), &[]);
    let h = Header::parse(&blob).unwrap();
    let mut out = Vec::new();
    assert!(h.for_each_signed_chunk(|c| out.extend_from_slice(c)));
    let hex = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &out));
    (out, hex)
}

fn key(ty: KeyType, version: KeyVersion) -> SignedSecretKey {
    SecretKeyParamsBuilder::default()
        .version(version)
        .key_type(ty)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("Cross Check <cc@example.invalid>".into())
        .build()
        .unwrap()
        .generate(rand::thread_rng())
        .unwrap()
}

/// A binary signature packet (with its packet header) by `k` over `data`.
fn sign(k: &SignedSecretKey, hash: HashAlgorithm, data: &[u8]) -> Vec<u8> {
    sign_with(k, hash, data, Timestamp::now(), vec![])
}

/// Like [`sign`], with a creation time and extra hashed subpackets.
fn sign_with(
    k: &SignedSecretKey,
    hash: HashAlgorithm,
    data: &[u8],
    created: Timestamp,
    extra: Vec<Subpacket>,
) -> Vec<u8> {
    let alg = k.primary_key.algorithm();
    let mut cfg = match k.primary_key.version() {
        KeyVersion::V6 => {
            SignatureConfig::v6(rand::thread_rng(), SignatureType::Binary, alg, hash).unwrap()
        }
        _ => SignatureConfig::v4(SignatureType::Binary, alg, hash),
    };
    cfg.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(created)).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(
            k.primary_key.fingerprint(),
        ))
        .unwrap(),
    ];
    cfg.hashed_subpackets.extend(extra);
    let sig = cfg.sign(&k.primary_key, &Password::empty(), data).unwrap();
    let mut out = Vec::new();
    sig.to_writer_with_header(&mut out).unwrap();
    out
}

fn keyring(k: &SignedSecretKey) -> Keyring {
    let public = SignedPublicKey::from(k.clone());
    let armored = public.to_armored_string(Default::default()).unwrap();
    let mut ring = Keyring::new();
    ring.add_armored(armored.as_bytes(), Path::new("generated.asc"))
        .unwrap();
    ring
}

/// A header carrying `packet` in `tag` (OPENPGP: base64 string array).
fn signed_header(tag: u32, packet: &[u8], digest_hex: &str) -> Vec<u8> {
    let sig = if tag == tags::OPENPGP {
        (
            tag,
            STRING_ARRAY,
            1,
            s(&base64::engine::general_purpose::STANDARD.encode(packet)),
        )
    } else {
        (tag, BIN, packet.len() as u32, packet.to_vec())
    };
    build(
        &region(),
        &[(tags::SHA256HEADER, STRING, 1, s(digest_hex)), sig],
    )
}

/// Offset of the first byte of NAME's value in the blob.
fn name_offset(blob: &[u8]) -> usize {
    let h = Header::parse(blob).unwrap();
    let il = u32::from_be_bytes(blob[..4].try_into().unwrap()) as usize;
    8 + 16 * il + h.entry(tags::NAME).unwrap().offset
}

fn check_case(ty: KeyType, version: KeyVersion, hash: HashAlgorithm, tag: u32, want_algo: &str) {
    let k = key(ty, version);
    let ring = keyring(&k);
    let (data, hex) = signed_bytes();
    let packet = sign(&k, hash, &data);
    let blob = signed_header(tag, &packet, &hex);
    let v = rpmsig::verify_header(1, &blob, &ring);
    assert!(v.is_verified(), "{want_algo}: {:?}", v.issues);
    assert_eq!(v.good[0].algorithm, want_algo);
    assert_eq!(v.good[0].version, u8::from(version));
    assert_eq!(v.nevra.as_deref(), Some("hello-1.0-1.noarch"));

    // One byte of the signed region changed: bad signature and digest mismatch.
    let mut tampered = blob.clone();
    tampered[name_offset(&blob)] = b'j';
    let v = rpmsig::verify_header(1, &tampered, &ring);
    let mut kinds: Vec<IssueKind> = v.issues.iter().map(|i| i.kind).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![IssueKind::BadSignature, IssueKind::DigestMismatch],
        "{want_algo}"
    );

    // A key we do not hold: unknown key, nothing else.
    let other = keyring(&key(KeyType::Ed25519Legacy, KeyVersion::V4));
    let v = rpmsig::verify_header(1, &blob, &other);
    assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
    assert_eq!(v.issues[0].kind, IssueKind::UnknownKey);
}

#[test]
fn v6_ed25519_in_the_openpgp_tag_sha256_and_sha512() {
    check_case(
        KeyType::Ed25519,
        KeyVersion::V6,
        HashAlgorithm::Sha256,
        tags::OPENPGP,
        "Ed25519/SHA256",
    );
    check_case(
        KeyType::Ed25519,
        KeyVersion::V6,
        HashAlgorithm::Sha512,
        tags::OPENPGP,
        "Ed25519/SHA512",
    );
}

#[test]
fn v4_legacy_eddsa_and_v4_ed25519() {
    check_case(
        KeyType::Ed25519Legacy,
        KeyVersion::V4,
        HashAlgorithm::Sha256,
        tags::DSAHEADER,
        "EdDSA/SHA256",
    );
    check_case(
        KeyType::Ed25519Legacy,
        KeyVersion::V4,
        HashAlgorithm::Sha384,
        tags::DSAHEADER,
        "EdDSA/SHA384",
    );
    check_case(
        KeyType::Ed25519,
        KeyVersion::V4,
        HashAlgorithm::Sha256,
        tags::OPENPGP,
        "Ed25519/SHA256",
    );
}

#[test]
fn v6_salt_changed_is_a_bad_signature() {
    let k = key(KeyType::Ed25519, KeyVersion::V6);
    let ring = keyring(&k);
    let (data, hex) = signed_bytes();
    let mut packet = sign(&k, HashAlgorithm::Sha256, &data);
    // The salt sits just before the 64-byte signature: flip its last byte.
    let at = packet.len() - 64 - 1;
    packet[at] ^= 0x01;
    let v = rpmsig::verify_header(1, &signed_header(tags::OPENPGP, &packet, &hex), &ring);
    assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
    assert_eq!(v.issues[0].kind, IssueKind::BadSignature);
}

#[test]
fn a_sha1_signature_is_an_unsupported_algorithm() {
    let k = key(KeyType::Ed25519Legacy, KeyVersion::V4);
    let ring = keyring(&k);
    let (data, hex) = signed_bytes();
    let mut packet = sign(&k, HashAlgorithm::Sha256, &data);
    // Packet header (2 bytes for a short new-format length, else 3), then version,
    // type, public-key algorithm, hash algorithm.
    let body = if packet[1] < 192 { 2 } else { 3 };
    packet[body + 3] = 2; // SHA-1
    let v = rpmsig::verify_header(1, &signed_header(tags::DSAHEADER, &packet, &hex), &ring);
    assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
    assert_eq!(v.issues[0].kind, IssueKind::UnsupportedAlgorithm);
}

#[test]
fn hostile_packets_never_panic_and_never_verify_when_the_hashed_part_changes() {
    let k = key(KeyType::Ed25519, KeyVersion::V6);
    let ring = keyring(&k);
    let (data, hex) = signed_bytes();
    let packet = sign(&k, HashAlgorithm::Sha256, &data);
    for n in 0..packet.len() {
        let v = rpmsig::verify_header(1, &signed_header(tags::OPENPGP, &packet[..n], &hex), &ring);
        assert!(!v.is_verified(), "truncated to {n} bytes and verified");
    }
    // v6 packets have no unhashed subpackets here (the unhashed area is empty), so
    // every byte after the packet header is covered: changing any must fail.
    let body = if packet[1] < 192 { 2 } else { 3 };
    for i in body..packet.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut p = packet.clone();
            p[i] ^= x;
            let v = rpmsig::verify_header(1, &signed_header(tags::OPENPGP, &p, &hex), &ring);
            assert!(!v.is_verified(), "byte {i} ^ {x:#x} still verified");
        }
    }
}

#[test]
fn rsa_with_sha384_and_sha512() {
    // One RSA-2048 key (generation is the slow part in a debug build).
    let k = key(KeyType::Rsa(2048), KeyVersion::V4);
    let ring = keyring(&k);
    let (data, hex) = signed_bytes();
    for (hash, name) in [
        (HashAlgorithm::Sha384, "RSA/SHA384"),
        (HashAlgorithm::Sha512, "RSA/SHA512"),
    ] {
        let blob = signed_header(tags::RSAHEADER, &sign(&k, hash, &data), &hex);
        let v = rpmsig::verify_header(1, &blob, &ring);
        assert!(v.is_verified(), "{name}: {:?}", v.issues);
        assert_eq!(v.good[0].algorithm, name);
        let mut tampered = blob.clone();
        tampered[name_offset(&blob) + 1] ^= 0x20;
        assert!(rpmsig::verify_header(1, &tampered, &ring)
            .issues
            .iter()
            .any(|i| i.kind == IssueKind::BadSignature));
    }
}

#[test]
fn an_unsigned_entry_overriding_a_signed_tag_fails_the_header() {
    let k = key(KeyType::Ed25519Legacy, KeyVersion::V4);
    let ring = keyring(&k);
    let (data, hex) = signed_bytes();
    let packet = sign(&k, HashAlgorithm::Sha256, &data);
    // rpm's import lets a later NAME replace the signed one; the signature still
    // verifies (the region is intact), so only this check catches the rename.
    let blob = build(
        &region(),
        &[
            (tags::SHA256HEADER, STRING, 1, s(&hex)),
            (tags::DSAHEADER, BIN, packet.len() as u32, packet.clone()),
            (tags::NAME, STRING, 1, s("openssl")),
        ],
    );
    let v = rpmsig::verify_header(1, &blob, &ring);
    assert_eq!(
        v.name.as_deref(),
        Some("openssl"),
        "the override is what a reader sees"
    );
    assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
    assert_eq!(v.issues[0].kind, IssueKind::SignedRegionOverride);
    assert!(!v.is_verified());
}

#[test]
fn expired_signatures_and_critical_unknown_subpackets_fail() {
    let k = key(KeyType::Ed25519Legacy, KeyVersion::V4);
    let ring = keyring(&k);
    let (data, hex) = signed_bytes();
    let check = |extra: Vec<Subpacket>, created: u32| {
        let packet = sign_with(
            &k,
            HashAlgorithm::Sha256,
            &data,
            Timestamp::from_secs(created),
            extra,
        );
        rpmsig::verify_header(1, &signed_header(tags::DSAHEADER, &packet, &hex), &ring)
    };
    let expiry = |secs| {
        Subpacket::regular(SubpacketData::SignatureExpirationTime(
            pgp::types::Duration::from_secs(secs),
        ))
        .unwrap()
    };
    // Made in 2020, valid for one day: expired.
    let v = check(vec![expiry(86_400)], 1_600_000_000);
    assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
    assert_eq!(v.issues[0].kind, IssueKind::BadSignature);
    assert!(v.issues[0].reason.contains("expired"));
    // Valid for 100 years, or 0 = never expires: fine (made now: the key is only just
    // made, and a signature older than its key is void).
    let now = Timestamp::now().as_secs();
    assert!(check(vec![expiry(100 * 365 * 86_400)], now).is_verified());
    assert!(check(vec![expiry(0)], now).is_verified());
    // A critical subpacket of a type we do not understand invalidates the signature.
    let critical =
        Subpacket::critical(SubpacketData::Experimental(101, vec![1, 2, 3].into())).unwrap();
    let v = check(vec![critical], now);
    assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
    assert_eq!(v.issues[0].kind, IssueKind::MalformedSignature);
    // The same subpacket, not critical, is ignored.
    let regular =
        Subpacket::regular(SubpacketData::Experimental(101, vec![1, 2, 3].into())).unwrap();
    assert!(check(vec![regular], now).is_verified());
    // Made before the key existed: the signature verifies, the key could not have made it.
    let v = check(vec![], 1_600_000_000);
    assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
    assert_eq!(v.issues[0].kind, IssueKind::KeyNotValid);
    assert!(
        v.issues[0].reason.contains("predates the key"),
        "{:?}",
        v.issues
    );
}

/// gpg in its own home at a faked time (`--faked-system-time`): keys and signatures dated
/// as a test needs, as a signer really makes them.
fn gpg(home: &Path, at: u32, args: &[&str]) -> std::process::Output {
    let o = std::process::Command::new("gpg")
        .env("GNUPGHOME", home)
        .args([
            "--batch",
            "--yes",
            "--passphrase",
            "",
            "--pinentry-mode",
            "loopback",
        ])
        .args(["--faked-system-time", &at.to_string()])
        .args(args)
        .output()
        .expect("run gpg");
    assert!(
        o.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// A gpg key (Ed25519, made at T0) signs a header three times: an hour after it was made,
/// two days after, and a day before it existed (`--ignore-time-conflict`). Each signature
/// verifies cryptographically whatever happens to the key; what the key's self-signatures
/// say decides: the early one is void from the start, the late one once the key is set
/// (an hour after T0) to expire a day later, and all of them once the key's revocation
/// certificate (the one gpg writes when it makes a key: no reason, so hard) is imported.
#[test]
fn signatures_a_key_could_not_have_made_are_void() {
    let have = std::process::Command::new("gpg").arg("--version").output();
    if !have.is_ok_and(|o| o.status.success()) {
        assert!(std::env::var("CI").is_err(), "CI=true and gpg is missing");
        eprintln!("SKIPPED: gpg not installed");
        return;
    }
    const T0: u32 = 1_700_000_000;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gnupg");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let uid = "Validity <validity@example.invalid>";
    gpg(
        &home,
        T0,
        &["--quick-gen-key", uid, "ed25519", "sign", "never"],
    );
    let fpr = String::from_utf8(gpg(&home, T0, &["--with-colons", "--list-keys"]).stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("fpr:::::::::"))
        .map(|l| l.trim_end_matches(':').to_owned())
        .expect("a fingerprint");
    let (data, hex) = signed_bytes();
    let data_file = dir.path().join("header-data");
    std::fs::write(&data_file, &data).unwrap();
    let sign = |name: &str, at: u32, extra: &[&str]| {
        let out = dir.path().join(name);
        let (d, o) = (data_file.to_str().unwrap(), out.to_str().unwrap());
        let mut args = vec!["--digest-algo", "SHA256", "--detach-sign", "-o", o];
        args.extend_from_slice(extra);
        args.push(d);
        gpg(&home, at, &args);
        signed_header(tags::DSAHEADER, &std::fs::read(&out).unwrap(), &hex)
    };
    let inside = sign("inside.sig", T0 + 3600, &[]);
    let late = sign("late.sig", T0 + 2 * 86_400, &[]);
    let early = sign("early.sig", T0 - 86_400, &["--ignore-time-conflict"]);
    let ring = || {
        let armored = gpg(&home, T0 + 3 * 86_400, &["--armor", "--export", &fpr]).stdout;
        let mut ring = Keyring::new();
        ring.add_armored(&armored, Path::new("gpg.asc")).unwrap();
        ring
    };
    let void = |ring: &Keyring, blob: &[u8], why: &str| {
        let v = rpmsig::verify_header(1, blob, ring);
        assert!(!v.is_verified(), "verified: {why}");
        assert_eq!(v.issues.len(), 1, "{:?}", v.issues);
        assert_eq!(v.issues[0].kind, IssueKind::KeyNotValid, "{:?}", v.issues);
        assert!(v.issues[0].reason.contains(why), "{:?}", v.issues);
    };

    let r = ring();
    assert!(rpmsig::verify_header(1, &inside, &r).is_verified());
    assert!(rpmsig::verify_header(1, &late, &r).is_verified());
    void(&r, &early, "predates the key");

    gpg(&home, T0 + 3600, &["--quick-set-expire", &fpr, "1d"]);
    let r = ring();
    assert!(rpmsig::verify_header(1, &inside, &r).is_verified());
    void(&r, &late, "expired");

    let rev = home.join(format!("openpgp-revocs.d/{fpr}.rev"));
    let text = std::fs::read_to_string(&rev).unwrap();
    // gpg guards the certificate against an accidental import with a leading colon.
    let cert = text.replace(
        ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    );
    let cert_file = dir.path().join("revocation.asc");
    std::fs::write(&cert_file, cert).unwrap();
    gpg(
        &home,
        T0 + 2 * 3600,
        &["--import", cert_file.to_str().unwrap()],
    );
    let r = ring();
    void(&r, &inside, "revoked");
}
