//! Throughput of `content_hash` (run by `upsert` for every document).
//!
//! `cargo run --release -p mediawatch-core --example hash_bench`

use std::time::Instant;

use mediawatch_core::similarity::content_hash;

fn main() {
    let samples = [
        (
            "English (ASCII)",
            "Migrants arrived at the border crossing near Sid on Monday, police said. ",
        ),
        (
            "Serbian Latin",
            "Migranti su u ponedeljak stigli na granični prelaz kod Šida, saopštila je policija. ",
        ),
        (
            "Serbian Cyrillic",
            "Мигранти су у понедељак стигли на гранични прелаз код Шида, саопштила је полиција. ",
        ),
    ];
    for (name, sentence) in samples {
        // ~3 KB articles, as in the index benchmark.
        let article = sentence.repeat(3000 / sentence.len() + 1);
        let n = 20_000;
        let t = Instant::now();
        let mut x = 0u8;
        for _ in 0..n {
            x ^= content_hash(&article).as_bytes()[0];
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{name}: {:.0} articles/s, {:.0} MB/s ({} bytes each; {x})",
            n as f64 / s,
            (n * article.len()) as f64 / s / 1e6,
            article.len()
        );
    }
}
