//! The query language, parsed and run against a small in-memory index.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mediawatch_index::{Index, SearchRequest};

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let index = Index::create_in_ram().expect("index");
        let w = index.writer(15_000_000).expect("writer");
        let source = mediawatch_testkit::source("src");
        for (i, text) in [
            "Migranti su stigli na granicu.",
            "Izbeglice u Subotici",
            "Кампања за избеглице",
        ]
        .iter()
        .enumerate()
        {
            let doc = mediawatch_testkit::doc(&format!("https://example.org/{i}"))
                .title(&format!("Vest {i}"))
                .text(text)
                .lang("sr")
                .build();
            w.upsert(doc, &source).expect("upsert");
        }
        w.commit().expect("commit");
        w.close().expect("close");
        index.reload().expect("reload");
        index
    })
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data).into_owned();
    let _ = index().search(&SearchRequest {
        query,
        limit: 5,
        ..Default::default()
    });
});
