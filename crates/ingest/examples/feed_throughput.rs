//! Feeds per second over the whole feedparser conformance suite.
//!
//! ```text
//! cargo run --release -p mediawatch-ingest --example feed_throughput [ROUNDS]
//! ```
//! Loads every file into memory first, so only parsing is timed.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("xml" | "json")) {
            out.push(p);
        }
    }
}

/// A news-sized RSS 2.0 feed: `items` items with ~2 KB HTML bodies in
/// Serbian Cyrillic and Latin, entities and relative links.
fn synthetic_feed(items: usize) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Vesti</title>\
         <link>https://example.rs/</link>",
    );
    for i in 0..items {
        s.push_str(&format!(
            "<item><title>Мигранти на граници, дан {i}</title><link>/vesti/{i}</link>\
             <guid isPermaLink=\"false\">vest-{i}</guid><pubDate>Mon, 02 Jan 2006 15:04:05 +0100</pubDate>\
             <dc:creator>Redakcija</dc:creator><category>Migracije</category>\
             <description>&lt;p&gt;Kratak opis vesti broj {i} &amp;mdash; izbeglice u Šidu.&lt;/p&gt;</description>\
             <content:encoded><![CDATA["
        ));
        for p in 0..8 {
            s.push_str(&format!(
                "<p>Пасус {p}: Влада је саопштила да ће прихватни центри радити &nbsp;\
                 до краја године; <a href=\"/tag/{p}\">више</a> о томе.</p>"
            ));
        }
        s.push_str("]]></content:encoded></item>");
    }
    s.push_str("</channel></rss>");
    s.into_bytes()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/feeds/feedparser-tests");
    let mut paths = Vec::new();
    collect(&dir, &mut paths);
    let docs: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let bytes: usize = docs.iter().map(Vec::len).sum();
    if docs.is_empty() {
        eprintln!("no feeds found under {}", dir.display());
        std::process::exit(1);
    }
    // Warm-up round, also counts outcomes.
    let (mut ok, mut err, mut entries) = (0usize, 0usize, 0usize);
    for d in &docs {
        match mediawatch_ingest::parse_feed(d, Some("http://example.com/feed")) {
            Ok(f) => {
                ok += 1;
                entries += f.entries.len();
            }
            Err(_) => err += 1,
        }
    }
    let start = Instant::now();
    for _ in 0..rounds {
        for d in &docs {
            let r = mediawatch_ingest::parse_feed(d, Some("http://example.com/feed"));
            std::hint::black_box(&r);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = docs.len() * rounds;
    println!(
        "suite: {} files ({} KiB; {ok} parsed, {err} errors, {entries} entries), {rounds} rounds: \
         {:.0} feeds/s, {:.1} MiB/s, {:.1} µs/feed",
        docs.len(),
        bytes / 1024,
        n as f64 / secs,
        (bytes * rounds) as f64 / secs / (1024.0 * 1024.0),
        secs * 1e6 / n as f64
    );

    let big = synthetic_feed(100);
    let parsed = mediawatch_ingest::parse_feed(&big, Some("https://example.rs/rss"));
    let items = parsed.map(|f| f.entries.len()).unwrap_or(0);
    let reps = rounds * 5;
    let start = Instant::now();
    for _ in 0..reps {
        let r = mediawatch_ingest::parse_feed(&big, Some("https://example.rs/rss"));
        std::hint::black_box(&r);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "synthetic news feed: {} KiB, {items} items, {reps} parses: {:.0} feeds/s, {:.1} MiB/s, {:.0} items/s",
        big.len() / 1024,
        reps as f64 / secs,
        (big.len() * reps) as f64 / secs / (1024.0 * 1024.0),
        (items * reps) as f64 / secs
    );
}
