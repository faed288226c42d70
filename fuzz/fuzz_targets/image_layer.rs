//! Any byte string as the layers of a docker-archive image: the input is split on the
//! line `--LAYER--` into at most 4 layers (tar, gzip or zstd, as found), wrapped in a
//! well-formed `docker save` archive (manifest.json and a config named by its digest,
//! the layers' diff_ids their SHA-256) and opened with `sbom::image::Image::open` with
//! small limits. Gets the fuzzer past the archive's digests to the hostile part: tar
//! entries applied to the in-memory tree (whiteouts, opaque directories, hard links,
//! symlinks that try to leave the root), then every path resolved and a few files read.
//! Must never panic, hang or allocate beyond the limits; hostile input is an `Err`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sbom::image::{Image, Limits};
use sha2::{Digest, Sha256};

const LIMITS: Limits = Limits {
    max_total: 8 << 20,
    max_entry: 1 << 20,
    max_entries: 4096,
    max_tree: 64 << 20,
    max_resolve: 1 << 24,
};
const SEPARATOR: &[u8] = b"\n--LAYER--\n";

fn split(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while out.len() < 3 {
        match data.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(i) => {
                out.push(&data[..i]);
                data = &data[i + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    out.push(data);
    out
}

fn append(ar: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    ar.append_data(&mut h, name, bytes).unwrap();
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The docker-archive around `layers`.
fn archive(layers: &[&[u8]]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(l)))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string();
    let config_name = format!("{}.json", sha256(config.as_bytes()));
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["fuzz:latest"],
        "Layers": names,
    }])
    .to_string();
    let mut ar = tar::Builder::new(Vec::new());
    append(&mut ar, "manifest.json", manifest.as_bytes());
    append(&mut ar, &config_name, config.as_bytes());
    for (name, l) in names.iter().zip(layers) {
        append(&mut ar, name, l);
    }
    ar.into_inner().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, archive(&split(data))).unwrap();
    let Ok(img) = Image::open(&path, None, LIMITS) else {
        return;
    };
    let mut files = 0;
    for (p, n) in img.tree.nodes.iter().take(LIMITS.max_entries as usize) {
        let _ = img.tree.resolve(p, true);
        let _ = img.tree.resolve(p, false);
        if n.kind == sbom::image::tree::Kind::File && files < 4 {
            files += 1;
            let _ = img.read_file(p, 1 << 20);
        }
    }
    for p in [
        "etc/os-release",
        "usr/lib/os-release",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
    ] {
        let _ = img.read_file(p, 1 << 20);
    }
});
