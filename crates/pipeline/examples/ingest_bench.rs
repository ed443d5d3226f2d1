//! End-to-end ingest benchmark: N sources x M items served from a loopback
//! server, fetched (feed + every article page), parsed, extracted,
//! classified, indexed and committed into a fresh data directory.
//!
//! ```sh
//! cargo run --release -p mediawatch-pipeline --example ingest_bench -- 100 20
//! ```
//! Arguments: sources (default 100), items per source (default 20). Prints
//! sources/s, items/s and the peak RSS of the process.

use std::time::Instant;

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use mediawatch_config::Config;
use mediawatch_pipeline::Pipeline;
use tokio_util::sync::CancellationToken;

const PARAGRAPHS: &[&str] = &[
    "Lokalne vlasti u Subotici saopštile su da je prihvatni centar ove nedelje primio još četrdeset ljudi, uglavnom porodica sa decom iz Avganistana i Sirije.",
    "The municipality said the new language classes had helped 31 refugees pass the A2 test since March, although attendance fell over the summer months.",
    "Мигранти који су стигли у град смештени су у бившој касарни, а волонтери Црвеног крста деле храну и ћебад сваког јутра.",
    "Według danych straży granicznej w październiku zatrzymano mniej osób niż rok wcześniej, a większość z nich złożyła wnioski o ochronę międzynarodową.",
    "A polgármester szerint a városban élő menekültek közül sokan már dolgoznak a helyi üzemekben, és gyermekeik iskolába járnak.",
    "Council members debated the budget for road repairs and the new sports hall late into the evening, with no decision on the tender.",
];

fn article(s: usize, i: usize) -> String {
    let mut body = String::new();
    for k in 0..8 {
        body.push_str("<p>");
        body.push_str(PARAGRAPHS[(s + i + k) % PARAGRAPHS.len()]);
        body.push_str(&format!(" (story {s}-{i}, paragraph {k})</p>\n"));
    }
    format!(
        "<!DOCTYPE html><html lang=\"sr\"><head><meta charset=\"utf-8\"><title>Story {s}-{i}</title>\
         <meta property=\"article:published_time\" content=\"2026-10-{:02}T10:00:00Z\"></head><body>\
         <nav><a href=\"/\">Home</a> <a href=\"/news\">News</a></nav><article><h1>Story {s}-{i}</h1>{body}</article>\
         <footer>Copyright 2026</footer></body></html>",
        1 + (i % 28)
    )
}

fn feed(base: &str, s: usize, items: usize) -> String {
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Source {s}</title><link>{base}/</link>");
    for i in 0..items {
        out.push_str(&format!(
            "<item><title>Story {s}-{i}</title><link>{base}/s{s}/a{i}.html</link><guid>s{s}-a{i}</guid>\
             <pubDate>Tue, {:02} Oct 2026 10:00:00 GMT</pubDate><description>Summary {s}-{i}</description></item>",
            1 + (i % 28)
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sources = args.first().copied().unwrap_or(100);
    let items = args.get(1).copied().unwrap_or(20);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b = base.clone();
    let app = Router::new()
        .route(
            "/s{s}/feed.xml",
            get(move |Path(s): Path<usize>| {
                let b = b.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/rss+xml")],
                        feed(&b, s, items),
                    )
                }
            }),
        )
        .route(
            "/s{s}/{file}",
            get(|Path((s, file)): Path<(usize, String)>| async move {
                let i: usize = file
                    .trim_start_matches('a')
                    .trim_end_matches(".html")
                    .parse()
                    .unwrap_or(0);
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    article(s, i),
                )
                    .into_response()
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut cfg = String::from(
        "version = 2\n[fetch]\nallow_private_addresses = true\nrespect_robots = false\n\
         per_host_concurrency = 64\nper_host_interval = \"1ms\"\nglobal_concurrency = 64\n\
         [scheduler]\nconcurrent_sources = 32\nmax_articles_per_pass = 100000\n",
    );
    for s in 0..sources {
        cfg.push_str(&format!(
            "[[sources]]\nid = \"s{s}\"\nkind = \"feed\"\nparams = {{ url = \"{base}/s{s}/feed.xml\" }}\nname = \"Source {s}\"\ncountry = \"RS\"\nlanguages = [\"sr\"]\n"
        ));
    }
    let config = Config::from_toml_str(&cfg, "<bench>").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pipeline = Pipeline::open(config, dir.path()).unwrap();
    let t = Instant::now();
    let reports = pipeline
        .ingest_once(None, &CancellationToken::new())
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let new: u64 = reports.iter().map(|r| r.new).sum();
    let errors: u64 = reports.iter().map(|r| r.errors).sum();
    let docs = pipeline.index().num_docs().unwrap();
    println!(
        "ingest_bench: {sources} sources x {items} items: {new} new items ({docs} docs indexed, {errors} errors) in {secs:.2} s"
    );
    println!(
        "  {:.1} sources/s, {:.1} items/s (feed + article fetch, extract, classify, index, commit)",
        sources as f64 / secs,
        new as f64 / secs
    );
    // Second pass: every feed is fetched and parsed again, every item is known.
    let t = Instant::now();
    let reports = pipeline
        .ingest_once(None, &CancellationToken::new())
        .await
        .unwrap();
    let secs2 = t.elapsed().as_secs_f64();
    let unchanged: u64 = reports.iter().map(|r| r.unchanged).sum();
    println!(
        "  re-poll: {unchanged} unchanged items in {secs2:.2} s ({:.1} sources/s)",
        sources as f64 / secs2
    );
    if let Some(kib) = peak_rss_kib() {
        println!("  peak RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
}
