//! RSS, Atom and JSON Feed bytes as a fetch hands them over: the charset
//! sniffed (BOM, header, XML declaration, meta, detection), then parsed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mediawatch_fetch::decode_body(data, Some("application/rss+xml"), Some("example.org"));
    let _ = mediawatch_ingest::parse_feed(data, Some("https://example.org/feed.xml"));
});
