//! Any byte string as a database header blob: parse, decode, and read every tag every
//! way. Must never panic, hang or allocate beyond the input's size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sbom::rpm::header::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::parse(data) {
        for e in h.entries().to_vec() {
            let _ = h.string(e.tag);
            let _ = h.strings(e.tag);
            let _ = h.ints(e.tag);
            let _ = h.int(e.tag);
            let _ = h.bin(e.tag);
        }
        let _ = h.for_each_signed_chunk(|_| {});
    }
    let _ = sbom::rpm::decode(1, data);
});
