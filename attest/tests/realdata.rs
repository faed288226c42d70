//! Our DSSE and in-toto code against data made by others (`../shared/realdata`): the DSSE
//! spec's test vector, in-toto's own keys, layouts and links. Skipped loudly when
//! `../shared` is absent (a failure under CI=true).

mod common;

use std::path::{Path, PathBuf};

use attest::dsse::Envelope;
use attest::intoto;
use attest::keys::{PrivateKey, PublicKey, RsaPadding, Signer};
use base64::Engine;
use common::*;

fn realdata() -> Option<PathBuf> {
    let p = workspace_root().parent()?.join("shared/realdata");
    p.is_dir().then_some(p)
}

macro_rules! realdata {
    () => {{
        match realdata() {
            Some(p) => p,
            None => skip!("../shared/realdata is absent"),
        }
    }};
}

#[test]
fn dsse_test_vector_verifies_and_its_variants_do_not() {
    let rd = realdata!();
    let v = read_json(&rd.join("dsse/dsse_test_vector_hello_world.json"));
    let key =
        PublicKey::from_pem(v["public_key_pem"].as_str().unwrap(), Path::new("vector")).unwrap();
    let keys = [key.clone()];
    // PAE exactly as the vector states it.
    assert_eq!(
        attest::dsse::pae("http://example.com/HelloWorld", b"hello world"),
        v["pae_utf8"].as_str().unwrap().as_bytes()
    );
    let env = Envelope::from_json_value(&v["envelope"], "vector").unwrap();
    env.verify(&keys, 1, "vector").unwrap();
    // Verifiers must accept URL-safe base64 of the same bytes.
    let mut url = v["envelope"].clone();
    let sig = url["signatures"][0]["sig"]
        .as_str()
        .unwrap()
        .replace('+', "-")
        .replace('/', "_");
    url["signatures"][0]["sig"] = serde_json::json!(sig);
    Envelope::from_json_value(&url, "url")
        .unwrap()
        .verify(&keys, 1, "url")
        .unwrap();
    for name in ["sig_bitflip", "payloadType_changed"] {
        let bad = Envelope::from_json_value(&v["negative_envelopes"][name], name).unwrap();
        assert!(
            bad.verify(&keys, 1, name).is_err(),
            "{name} must not verify"
        );
    }
    // Re-encoded payload: different bytes for the same text, and the same statement JSON in
    // other bytes: signatures cover bytes, so neither verifies.
    for other in [&b"hello world\n"[..], b"hello  world"] {
        let mut e = env.clone();
        e.payload = other.to_vec();
        assert!(e.verify(&keys, 1, "re-encoded").is_err());
    }
    // The vector's private key signs what its public key verifies (DER ECDSA from us).
    let sk = PrivateKey::from_pem(
        v["private_key_pkcs8_pem"].as_str().unwrap(),
        Path::new("vector"),
        &mut || unreachable!("not encrypted"),
    )
    .unwrap();
    assert_eq!(sk.public_key(), &key);
    let ours = Envelope::sign_one(
        "http://example.com/HelloWorld",
        b"hello world".to_vec(),
        &sk,
    )
    .unwrap();
    ours.verify(&keys, 1, "ours").unwrap();
    // The vector's DER form of its signature verifies too.
    let der = base64::engine::general_purpose::STANDARD
        .decode(v["signature_der_b64"].as_str().unwrap())
        .unwrap();
    assert!(key.verify(&env.pae(), &der, RsaPadding::Pkcs1v15));
}

#[test]
fn same_json_in_other_bytes_does_not_verify() {
    let k = PrivateKey::generate(attest::keys::KeyType::Ed25519, 0).unwrap();
    let st = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"00"}}],"predicateType":"t","predicate":{}}"#;
    let env = Envelope::sign_one(attest::dsse::INTOTO_PAYLOAD_TYPE, st.to_vec(), &k).unwrap();
    let keys = [k.public_key().clone()];
    env.verify(&keys, 1, "orig").unwrap();
    let reparsed: serde_json::Value = serde_json::from_slice(st).unwrap();
    let pretty = serde_json::to_vec_pretty(&reparsed).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&pretty).unwrap(),
        reparsed
    );
    let mut e = env.clone();
    e.payload = pretty;
    assert!(e.verify(&keys, 1, "pretty").is_err());
}

#[test]
fn in_toto_key_ids_and_signatures_match_in_toto_3() {
    let rd = realdata!();
    let demo = rd.join("intoto/python-tests/generated/demo_files");
    // in-toto 3 derives alice's key id from alice.pub exactly as we do, and her signature
    // on the layout (RSA-PSS over canonical JSON) verifies with our code.
    let alice = PublicKey::load(&demo.join("alice.pub")).unwrap();
    let layout = read_json(&demo.join("single-signed.layout"));
    assert_eq!(
        layout["signatures"][0]["keyid"],
        intoto::keys::in_toto_keyid(&alice)
    );
    let signed = intoto::verify(&layout, &alice, "single-signed.layout").unwrap();
    assert_eq!(signed["_type"], "layout");
    // One changed character in the signed object breaks it.
    let mut t = layout.clone();
    t["signed"]["readme"] = serde_json::json!("x");
    assert!(intoto::verify(&t, &alice, "tampered").is_err());
    // The DSSE form of the same layout.
    let dsse =
        read_json(&rd.join("intoto/python-tests/generated/demo_dsse_files/single-signed.layout"));
    intoto::verify(&dsse, &alice, "dsse layout").unwrap();
    // Bob's key (RSA, from the layout's key object) verifies in-toto's own link, in
    // Metablock and DSSE form.
    let bob_pem = layout["signed"]["keys"]
        ["776a00e29f3559e0141b3b096f696abc6cfb0c657ab40f441132b345b08453f5"]["keyval"]["public"]
        .as_str()
        .unwrap();
    let bob = PublicKey::from_pem(bob_pem, Path::new("bob")).unwrap();
    let link = read_json(&rd.join("intoto/python-tests/tests/demo_files/write-code.776a00e2.link"));
    let bytes = attest::canonical::to_vec(&link["signed"]).unwrap();
    let sig = hex::decode(link["signatures"][0]["sig"].as_str().unwrap()).unwrap();
    assert!(bob.verify(&bytes, &sig, RsaPadding::Pss));
    let dlink =
        read_json(&rd.join("intoto/python-tests/tests/demo_dsse_files/write-code.776a00e2.link"));
    let env = Envelope::from_json_value(&dlink, "dsse link").unwrap();
    env.verify(&[bob], 1, "dsse link").unwrap();
}

#[test]
fn in_toto_pem_keys_of_every_type_load() {
    let rd = realdata!();
    let pems = rd.join("intoto/python-tests/tests/pems");
    for (pubf, privf, kind) in [
        (
            "ed25519_public.pem",
            "ed25519_private_unencrypted.pem",
            "ed25519",
        ),
        (
            "ecdsa_public.pem",
            "ecdsa_private_unencrypted.pem",
            "ecdsa-p256",
        ),
        ("rsa_public.pem", "rsa_private_unencrypted.pem", "rsa"),
    ] {
        let public = PublicKey::load(&pems.join(pubf)).unwrap();
        assert_eq!(public.kind().name(), kind);
        // The unencrypted private keys are PKCS#8; ours must sign what theirs verifies.
        let k = PrivateKey::load(&pems.join(privf)).unwrap();
        assert_eq!(k.public_key(), &public, "{privf}");
        let s = k.sign(b"m", RsaPadding::Pss).unwrap();
        assert!(public.verify(b"m", &s, RsaPadding::Pss));
    }
}
