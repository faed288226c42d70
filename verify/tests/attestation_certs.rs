//! Certificate-signed bundles (attest's private CA, `attest ca`) against `[roots]`: the
//! chain is built with rustls-webpki to the role's roots, with the code-signing usage,
//! valid at the time of the check; roots shipped in a bundle are refused.

mod attestation_fixture;

use attest::bundle::Version;
use attestation_fixture::*;
use verify::attestation::CHECK_SIGNATURE as SIG;
use verify::report::Status;

fn roots(f: &Fixture, role: &str, files: &[&str]) -> String {
    let list: Vec<String> = files.iter().map(|x| format!("{x:?}")).collect();
    f.policy_text("") + &format!("\n[roots]\n{role} = [{}]\n", list.join(", "))
}

fn sig_of(o: &verify::attestation::Outcome, name: &str) -> (Status, String, String) {
    let f = about(o, name)
        .into_iter()
        .find(|x| x.check == SIG)
        .unwrap_or_else(|| panic!("no signature finding for {name}"));
    (f.status, f.kind.clone(), f.reason.clone())
}

#[test]
fn certificate_bundles_chain_to_the_role_roots() {
    let f = Fixture::new();
    let ca = f.ca("ca", true);
    let chain = f.leaf(&ca, &f.prov, 10, "prov-chain.pem");
    let st = f.image_statement();
    let v3 = f.write("v3.json", f.cert_bundle(&st, &f.prov, &chain, Version::V03));
    let v2 = f.write("v2.json", f.cert_bundle(&st, &f.prov, &chain, Version::V02));
    // The v0.3 bundle carries the leaf alone: the intermediate must come from [roots].
    let with_inter = f.trust(&roots(
        &f,
        "provenance",
        &["ca/root.pem", "ca/intermediate.pem"],
    ));
    let o = f.check_with(&[v3.clone(), v2.clone()], &with_inter, f.now);
    assert_all_pass(&about(&o, "v3.json"));
    assert_all_pass(&about(&o, "v2.json"));
    let (_, _, reason) = sig_of(&o, "v3.json");
    assert!(
        reason.contains("builder@example.invalid") && reason.contains("valid now"),
        "{reason}"
    );
    // Root only: the v0.2 chain brings its intermediate, the v0.3 bundle cannot chain.
    let root_only = f.trust(&roots(&f, "provenance", &["ca/root.pem"]));
    let o = f.check_with(&[v3, v2], &root_only, f.now);
    assert_all_pass(&about(&o, "v2.json"));
    assert_eq!(sig_of(&o, "v3.json").1, "untrusted-certificate");
}

#[test]
fn another_ca_the_wrong_role_an_expired_leaf_and_a_foreign_key_fail() {
    let f = Fixture::new();
    let ca = f.ca("ca", false);
    let other = f.ca("other", false);
    let st = f.image_statement();
    let good = f.leaf(&ca, &f.prov, 1, "good.pem");
    let foreign = f.leaf(&other, &f.prov, 10, "foreign.pem");
    let files = [
        f.write(
            "good.json",
            f.cert_bundle(&st, &f.prov, &good, Version::V03),
        ),
        f.write(
            "other-ca.json",
            f.cert_bundle(&st, &f.prov, &foreign, Version::V03),
        ),
        // The certificate is for the provenance key; the envelope is signed by another.
        f.write("foreign-key.json", {
            let mut b: serde_json::Value =
                serde_json::from_str(&f.cert_bundle(&st, &f.prov, &good, Version::V03)).unwrap();
            let env = attest::dsse::Envelope::sign_one(
                attest::dsse::INTOTO_PAYLOAD_TYPE,
                st.to_payload().unwrap(),
                &f.stranger,
            )
            .unwrap();
            b["dsseEnvelope"]["signatures"][0]["sig"] =
                attest::dsse::b64(&env.signatures[0].sig).into();
            b.to_string()
        }),
    ];
    let trust = f.trust(&roots(&f, "provenance", &["ca/root.pem"]));
    let o = f.check_with(&files, &trust, f.now);
    assert_all_pass(&about(&o, "good.json"));
    assert_eq!(sig_of(&o, "other-ca.json").1, "untrusted-certificate");
    assert_eq!(
        summary(&about(&o, "foreign-key.json")),
        [s(SIG, Status::Fail, "bad-signature")]
    );
    // Two days on, the one-day leaf has expired; nothing else vouches for the signing time.
    let o = f.check_with(&files[..1], &trust, f.now + 2 * 86_400);
    let (status, kind, reason) = sig_of(&o, "good.json");
    assert_eq!(
        (status, kind.as_str()),
        (Status::Fail, "expired-certificate"),
        "{reason}"
    );
    assert_eq!(
        about(&o, "good.json").len(),
        1,
        "a failed signature says nothing else"
    );
    // The CA is trusted for SBOMs only: the wrong role.
    let sbom_roots = f.trust(&roots(&f, "sbom", &["ca/root.pem"]));
    let o = f.check_with(&files[..1], &sbom_roots, f.now);
    let (_, kind, reason) = sig_of(&o, "good.json");
    assert_eq!(kind, "wrong-role", "{reason}");
}

#[test]
fn a_root_shipped_in_the_bundle_is_refused() {
    let f = Fixture::new();
    let ca = f.ca("ca", true);
    let st = f.image_statement();
    let chain = f.leaf(&ca, &f.prov, 10, "chain.pem");
    let mut b: serde_json::Value =
        serde_json::from_str(&f.cert_bundle(&st, &f.prov, &chain, Version::V02)).unwrap();
    let root_pem = std::fs::read(ca.join("root.pem")).unwrap();
    let root_der = rustls_pki_types_der(&root_pem);
    b["verificationMaterial"]["x509CertificateChain"]["certificates"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"rawBytes": attest::dsse::b64(&root_der)}));
    // A v0.3 bundle whose "leaf" is the root itself.
    let mut selfsigned: serde_json::Value =
        serde_json::from_str(&f.cert_bundle(&st, &f.prov, &chain, Version::V03)).unwrap();
    selfsigned["verificationMaterial"]["certificate"]["rawBytes"] =
        attest::dsse::b64(&root_der).into();
    let files = [
        f.write("with-root.json", b.to_string()),
        f.write("root-leaf.json", selfsigned.to_string()),
    ];
    let trust = f.trust(&roots(
        &f,
        "provenance",
        &["ca/root.pem", "ca/intermediate.pem"],
    ));
    let o = f.check_with(&files, &trust, f.now);
    let (status, kind, reason) = sig_of(&o, "with-root.json");
    assert_eq!(
        (status, kind.as_str()),
        (Status::Error, "malformed-envelope")
    );
    assert!(reason.contains("self-signed"), "{reason}");
    let (status, kind, reason) = sig_of(&o, "root-leaf.json");
    assert_eq!(
        (status, kind.as_str()),
        (Status::Fail, "untrusted-certificate")
    );
    assert!(reason.contains("self-signed"), "{reason}");
}

/// DER of the first certificate in a PEM file.
fn rustls_pki_types_der(pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem)
        .unwrap()
        .to_vec()
}
