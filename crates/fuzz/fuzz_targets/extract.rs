//! Article extraction from arbitrary page bytes (decoding, JSON-LD,
//! metadata, content scoring, comments).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = mediawatch_extract::ExtractOptions::default();
    let _ = mediawatch_extract::extract_bytes(
        data,
        Some("text/html"),
        Some("https://example.org/a/1"),
        &opts,
    );
});
