//! Sitemaps (plain and gzipped, index or urlset) and OPML subscription lists.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mediawatch_ingest::parse_sitemap(data);
    if let Ok(outlines) = mediawatch_ingest::parse_opml(data) {
        let _ = mediawatch_ingest::opml_to_sources_toml(&outlines, "RS", &["sr".to_string()]);
    }
});
