//! Any byte string as an RPM database file: the reader the format's magic selects (sqlite,
//! BerkeleyDB hash, ndb), as `sbom` opens a database found in an image, then every header
//! it returns decoded. Must never panic or hang, and the BerkeleyDB and ndb readers must
//! never return more header bytes than the file holds (each page or block is claimed at
//! most once, so a cycle or shared chain cannot multiply the output).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sbom::rpmdb::{self, DbFormat};

/// One scratch directory per fuzzing process; the file in it is rewritten per input.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("a scratch directory");
        let p = d.path().join("rpmdb");
        (d, p)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the input");
    let Ok(format) = rpmdb::detect(path) else {
        return;
    };
    let Ok(headers) = rpmdb::read_headers(path, format) else {
        return;
    };
    if format != DbFormat::Sqlite {
        let total: usize = headers.iter().map(|h| h.blob.len()).sum();
        assert!(
            total <= data.len(),
            "{} returned {total} header bytes from a {}-byte file",
            format.name(),
            data.len()
        );
    }
    for h in &headers {
        let _ = sbom::rpm::decode(h.row, &h.blob);
    }
});
