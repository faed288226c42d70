//! Any byte string as an in-toto layout and its links, for `verify::intoto::verify_layout`
//! (the public API reads files, so they are written to a scratch directory).
//!
//! Input: documents separated by the byte 0x1e (ASCII record separator): first the
//! layout's body, then link bodies. A body that is JSON is signed as in-toto metadata
//! (the layout by the fixed owner key, each link by the fixed functionary key, under the
//! file name `<link name>.<keyid8>.link`), so the fuzzer gets past the signatures to the
//! layout, link and artifact-rule checks; a body that is not JSON is written as it is (a
//! layout), or as `build.<keyid8>.link` (a link), to fuzz the signed-form parsing. An
//! input starting with `DSSE\n` uses DSSE envelopes instead of Metablocks.
//!
//! Inspections are never allowed (they would run commands). Must never panic, hang or
//! allocate beyond a small multiple of the input's size; everything about the metadata
//! is a finding, never an `Err`.
#![no_main]

mod common;

use std::sync::OnceLock;

use attest::intoto::{self, keys as itkeys, Form};
use attest::keys::{PrivateKey, PublicKey, Signer};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use verify::intoto::{verify_layout, LayoutRequest};

struct Keys {
    owner: PrivateKey,
    owner_pub: [PublicKey; 1],
    func: PrivateKey,
    func_keyid: String,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let owner = common::private(common::OWNER_KEY);
        let func = common::private(common::FUNC_KEY);
        Keys {
            owner_pub: [owner.public_key().clone()],
            func_keyid: itkeys::in_toto_keyid(func.public_key()),
            owner,
            func,
        }
    })
}

/// The signed document for `body` (JSON) or the raw bytes.
fn document(body: &[u8], key: &PrivateKey, form: Form) -> (Vec<u8>, Option<Value>) {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => match intoto::sign(&v, &[key as &dyn Signer], form) {
            Ok(doc) => (doc.to_string().into_bytes(), Some(v)),
            // Not signable (canonical JSON refuses floats): written unsigned.
            Err(_) => (body.to_vec(), Some(v)),
        },
        Err(_) => (body.to_vec(), None),
    }
}

fuzz_target!(|data: &[u8]| {
    let k = keys();
    let (form, data) = match data.strip_prefix(b"DSSE\n") {
        Some(rest) => (Form::Dsse, rest),
        None => (Form::Metablock, data),
    };
    let mut docs = data.split_inclusive(|&b| b == 0x1e).map(|d| {
        let d = d.strip_suffix(b"\x1e").unwrap_or(d);
        d.strip_suffix(b"\n").unwrap_or(d)
    });
    let dir = common::scratch();
    let layout = dir.path().join("root.layout");
    let links = dir.path().join("links");
    std::fs::create_dir(&links).unwrap();
    let (bytes, _) = document(docs.next().unwrap_or_default(), &k.owner, form);
    std::fs::write(&layout, bytes).unwrap();
    for body in docs.take(16) {
        let (bytes, v) = document(body, &k.func, form);
        let name = v
            .as_ref()
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("build");
        // A name that is not one file name cannot be a step's link anyway.
        if name.is_empty() || name.len() > 128 || name.contains(['/', '\0']) || name == ".." {
            continue;
        }
        let file = attest::intoto::link::file_name(name, &k.func_keyid);
        std::fs::write(links.join(file), bytes).unwrap();
    }
    verify_layout(&LayoutRequest {
        layout: &layout,
        layout_keys: &k.owner_pub,
        links_dir: &links,
        now_unix: common::NOW,
        allow_inspections: false,
        inspection_base: None,
        parameters: None,
    })
    .expect("metadata problems are findings, never errors");
});
