//! `verify::intoto` on hostile metadata: truncated and corrupted files, wrong types, huge
//! numbers, deep nesting, FIFOs, layouts in a link's place, unsupported keys. Each is an `error` or
//! `fail` finding naming the file and what is wrong; nothing panics, hangs or passes.
//! Only the caller's own inputs (no keys, no layout file, no links directory) are
//! `IntotoError`s.

mod intoto_support;

use std::path::Path;

use attest::dsse::{Envelope, SignWith, INTOTO_PAYLOAD_TYPE};
use attest::intoto::{keys as itkeys, Form};
use attest::keys::{RsaPadding, Signer};
use intoto_support::*;
use serde_json::{json, Value};
use verify::intoto::{verify_layout, IntotoError, LayoutRequest, CHECK_LAYOUT, CHECK_LINK};
use verify::report::{Finding, Status};

/// The layout's unsigned body, to be changed and re-signed by owner1.
fn layout_body(c: &Chain) -> Value {
    read_json(&c.w().join("one.layout"))["signed"].clone()
}

/// A DSSE envelope over raw payload bytes (which need not be JSON serde can hold).
fn dsse_raw(payload: &[u8], key: &str, out: &Path) {
    let k = Chain::key(key);
    let env = Envelope::sign(
        INTOTO_PAYLOAD_TYPE,
        payload.to_vec(),
        &[SignWith {
            signer: k as &dyn Signer,
            keyid: Some(itkeys::in_toto_keyid(k.public_key())),
            padding: RsaPadding::Pss,
        }],
    )
    .unwrap();
    write_json(out, &env.to_json());
}

fn not_passing(f: &[Finding]) -> bool {
    f.iter().any(|x| x.status != Status::Pass)
}

#[test]
fn caller_errors_are_errors() {
    let c = one_step();
    let keys = [Chain::public("owner1")];
    let req = |layout: &Path, keys: &[attest::keys::PublicKey], links: &Path| {
        verify_layout(&LayoutRequest {
            layout,
            layout_keys: keys,
            links_dir: links,
            now_unix: now(),
            allow_inspections: false,
            inspection_base: None,
            parameters: None,
        })
    };
    let (layout, links) = (c.w().join("one.layout"), c.w().join("links"));
    assert!(matches!(
        req(&layout, &[], &links),
        Err(IntotoError::NoLayoutKeys)
    ));
    assert!(matches!(
        req(&c.w().join("nope.layout"), &keys, &links),
        Err(IntotoError::LayoutMissing(_))
    ));
    assert!(matches!(
        req(c.w(), &keys, &links),
        Err(IntotoError::LayoutNotAFile(_))
    ));
    assert!(matches!(
        req(&layout, &keys, &c.w().join("nope")),
        Err(IntotoError::LinksDir(_))
    ));
    assert!(req(&layout, &keys, &links).is_ok());
}

#[test]
fn unreadable_layouts_are_error_findings() {
    let c = one_step();
    let full = std::fs::read(c.w().join("one.layout")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("truncated", full[..full.len() / 2].to_vec()),
        ("garbage", vec![0xff, 0xfe, 0x00, 0x7b]),
        ("deep", "[".repeat(200_000).into_bytes()),
        (
            "huge-number",
            b"{\"signed\": 1e999999, \"signatures\": []}".to_vec(),
        ),
        ("not-an-object", b"[1, 2, 3]".to_vec()),
        (
            "wrong-payload-type",
            br#"{"payload": "e30=", "payloadType": "text/plain", "signatures": []}"#.to_vec(),
        ),
        (
            "signatures-not-a-list",
            br#"{"signed": {"_type": "layout"}, "signatures": {}}"#.to_vec(),
        ),
        (
            "a-link",
            std::fs::read(c.link_path("links", "fedora-packages", "packager")).unwrap(),
        ),
    ];
    for (name, bytes) in cases {
        let file = format!("{name}.layout");
        std::fs::write(c.w().join(&file), bytes).unwrap();
        let f = c.verify(&file, &["owner1"], "links", None);
        assert_finding(&f, CHECK_LAYOUT, &file, "malformed-layout");
        let e = f.iter().find(|x| x.kind == "malformed-layout").unwrap();
        assert_eq!(e.status, Status::Error, "{name}");
        assert!(
            e.reason.contains(&file),
            "{name}: the reason names the file: {}",
            e.reason
        );
    }
}

#[test]
fn signed_layouts_with_wrong_types_are_malformed() {
    let c = one_step();
    let base = layout_body(&c);
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "threshold-string",
            "/steps/0/threshold",
            json!("1"),
            "steps[0].threshold",
        ),
        (
            "threshold-zero",
            "/steps/0/threshold",
            json!(0),
            "steps[0].threshold",
        ),
        (
            "threshold-negative",
            "/steps/0/threshold",
            json!(-1),
            "steps[0].threshold",
        ),
        ("steps-object", "/steps", json!({"a": 1}), "layout.steps"),
        (
            "pubkeys-number",
            "/steps/0/pubkeys",
            json!(7),
            "steps[0].pubkeys",
        ),
        (
            "rule-number",
            "/steps/0/expected_products/0",
            json!(5),
            "expected_products[0]",
        ),
        (
            "rule-unknown",
            "/steps/0/expected_products/0",
            json!(["EAT", "*"]),
            "unknown rule type",
        ),
        (
            "expires-number",
            "/expires",
            json!(1_900_000_000),
            "layout.expires",
        ),
        (
            "expires-bogus",
            "/expires",
            json!("2027-13-45T99:00:00Z"),
            "expires",
        ),
        ("keys-list", "/keys", json!([]), "layout.keys"),
        (
            "name-slash",
            "/steps/0/name",
            json!("../../etc/passwd"),
            "steps[0].name",
        ),
        ("type", "/_type", json!("link"), "layout._type"),
    ];
    for (name, ptr, val, want) in cases {
        let mut v = base.clone();
        *v.pointer_mut(ptr).unwrap() = val;
        let file = format!("{name}.layout");
        c.sign_to(&v, &["owner1"], Form::Metablock, &c.w().join(&file));
        let f = c.verify(&file, &["owner1"], "links", None);
        // A layout with _type "link" is refused before its signatures are looked at.
        assert_finding(&f, CHECK_LAYOUT, &file, "malformed-layout");
        let e = f.iter().find(|x| x.kind == "malformed-layout").unwrap();
        assert!(e.reason.contains(want), "{name}: {}", e.reason);
    }
    // Numbers no JSON reader holds, in a validly signed DSSE payload.
    for (name, num) in [
        ("threshold-huge", "123456789012345678901234567890"),
        ("threshold-float", "1.5"),
        ("threshold-exp", "1e999"),
    ] {
        let text = serde_json::to_string(&base)
            .unwrap()
            .replace("\"threshold\":1", &format!("\"threshold\":{num}"));
        assert!(text.contains(num));
        let file = format!("{name}.layout");
        dsse_raw(text.as_bytes(), "owner1", &c.w().join(&file));
        let f = c.verify(&file, &["owner1"], "links", None);
        assert_finding(&f, CHECK_LAYOUT, &file, "malformed-layout");
    }
}

#[test]
fn hostile_links_are_findings_not_panics() {
    let c = one_step();
    let link = c.link_path("links", "fedora-packages", "packager");
    let good = std::fs::read(&link).unwrap();
    let body = read_json(&link)["signed"].clone();
    let file = link.file_name().unwrap().to_string_lossy().into_owned();
    let run = |what: &str| -> Vec<Finding> {
        let f = c.verify("one.layout", &["owner1"], "links", None);
        assert!(not_passing(&f), "{what} passed:\n{}", show(&f));
        assert_finding(&f, CHECK_LINK, "step:fedora-packages", "threshold");
        f
    };
    // Bytes that are not a signed document.
    for (what, bytes) in [
        ("truncated", good[..good.len() / 3].to_vec()),
        ("deep", "{\"a\":".repeat(100_000).into_bytes()),
        ("garbage", vec![0u8; 64]),
    ] {
        std::fs::write(&link, bytes).unwrap();
        let f = run(what);
        assert_finding(&f, CHECK_LINK, &file, "malformed-link");
    }
    // Validly signed by the functionary, but not a well-formed link.
    for (what, ptr, val) in [
        ("materials-list", "/materials", json!([])),
        (
            "hash-number",
            "/products/repo~1bash-5.2.37-3.azl4.x86_64.rpm/sha256",
            json!(1),
        ),
        (
            "hash-not-hex",
            "/products/repo~1bash-5.2.37-3.azl4.x86_64.rpm/sha256",
            json!("xyz"),
        ),
        ("command-string", "/command", json!("make")),
        ("name-number", "/name", json!(3)),
    ] {
        let mut v = body.clone();
        *v.pointer_mut(ptr).unwrap_or_else(|| panic!("{ptr}")) = val;
        c.sign_to(&v, &["packager"], Form::Metablock, &link);
        let f = run(what);
        assert_finding(&f, CHECK_LINK, &file, "malformed-link");
    }
    // A huge number in a DSSE link payload.
    let text = serde_json::to_string(&body).unwrap().replace(
        "\"byproducts\":{}",
        "\"byproducts\":{\"return-value\":1e999}",
    );
    assert!(text.contains("1e999"));
    dsse_raw(text.as_bytes(), "packager", &link);
    assert_finding(&run("huge number"), CHECK_LINK, &file, "malformed-link");
    // A layout where the link should be, signed by the layout owner, not by the step's
    // functionary: no sublayout of the functionary's.
    std::fs::copy(c.w().join("one.layout"), &link).unwrap();
    assert_finding(
        &run("owner's layout"),
        CHECK_LINK,
        &file,
        "unauthorized-signer",
    );
    // A directory and a FIFO under the link's name: an error, and no hang.
    std::fs::remove_file(&link).unwrap();
    std::fs::create_dir(&link).unwrap();
    assert_finding(&run("directory"), CHECK_LINK, &file, "unreadable-link");
    std::fs::remove_dir(&link).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(&link)
        .status()
        .unwrap();
    assert!(st.success());
    assert_finding(&run("fifo"), CHECK_LINK, &file, "unreadable-link");
}

#[test]
fn unsupported_or_broken_functionary_keys() {
    let c = one_step();
    let base = layout_body(&c);
    let id = base["steps"][0]["pubkeys"][0].as_str().unwrap().to_owned();
    for (what, field, val) in [
        ("pkcs1v15", "scheme", json!("rsa-pkcs1v15-sha256")),
        ("p384", "scheme", json!("ecdsa-sha2-nistp384")),
        ("bad-hex", "keyval", json!({"public": "zz"})),
        ("short", "keyval", json!({"public": "abcd"})),
    ] {
        let mut v = base.clone();
        v["keys"][&id][field] = val;
        let file = format!("{what}.layout");
        c.sign_to(&v, &["owner1"], Form::Dsse, &c.w().join(&file));
        let f = c.verify(&file, &["owner1"], "links", None);
        assert_finding(&f, CHECK_LINK, "fedora-packages.", "unsupported-key");
        assert_finding(&f, CHECK_LINK, "step:fedora-packages", "threshold");
    }
    // A step that authorizes a key id the layout does not hold.
    let mut v = base.clone();
    v["keys"] = json!({});
    c.sign_to(
        &v,
        &["owner1"],
        Form::Metablock,
        &c.w().join("nokey.layout"),
    );
    let f = c.verify("nokey.layout", &["owner1"], "links", None);
    assert_finding(&f, CHECK_LINK, "fedora-packages.", "unknown-key");
}

#[test]
fn every_truncation_and_byte_flip_of_a_link_fails() {
    let c = one_step();
    let link = c.link_path("links", "fedora-packages", "packager");
    let good = std::fs::read(&link).unwrap();
    let end = good.iter().rposition(|&b| b == b'}').unwrap();
    for cut in 0..=end {
        std::fs::write(&link, &good[..cut]).unwrap();
        let f = c.verify("one.layout", &["owner1"], "links", None);
        assert!(not_passing(&f), "truncated at {cut} passed");
    }
    // XOR 1 turns every byte of the document into a different, meaningful one: a hex
    // digit into another, a structural character into an invalid one.
    for i in 0..=end {
        let mut b = good.clone();
        b[i] ^= 1;
        if b[i].is_ascii_whitespace() && good[i].is_ascii_whitespace() {
            continue;
        }
        std::fs::write(&link, &b).unwrap();
        let f = c.verify("one.layout", &["owner1"], "links", None);
        assert!(
            not_passing(&f),
            "byte {i} ({:?} -> {:?}) changed and the chain passed",
            good[i] as char,
            b[i] as char
        );
    }
    std::fs::write(&link, &good).unwrap();
    assert_all_pass(&c.verify("one.layout", &["owner1"], "links", None));
}
