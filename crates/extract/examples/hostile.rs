//! Times the hostile-input cases in release mode (the tests check behaviour, this the cost).
//!
//! `cargo run --release -p mediawatch-extract --example hostile`

use mediawatch_extract::{extract, extract_bytes, ExtractOptions};
use std::time::Instant;

fn nested(open: &str, close: &str, depth: usize) -> String {
    let mut s = String::from("<html><body>");
    for _ in 0..depth {
        s.push_str(open);
    }
    s.push_str("text at the bottom of the nesting");
    for _ in 0..depth {
        s.push_str(close);
    }
    s
}

/// 2 000 nested comments over 300 000 spans: author/date scans must stay bounded.
fn comment_chain() -> String {
    let mut s = String::from(
        "<html><body><p>Article text long enough to be the main content of this page.</p>",
    );
    for i in 0..2000 {
        s.push_str(&format!(
            "<div class=\"comment\" id=\"comment-{i}\"><span class=\"author\">u{i}</span>"
        ));
    }
    for _ in 0..300_000 {
        s.push_str("<span>reply text</span>");
    }
    s
}

fn main() {
    let opts = ExtractOptions::default();
    let para =
        "<p>Migration policy paragraph with enough words to count as real article text.</p>\n";
    let mut big = String::from("<html><body><article>");
    while big.len() + para.len() < 20 * 1024 * 1024 - 64 {
        big.push_str(para);
    }
    big.push_str("</article></body></html>");
    let cases: Vec<(&str, String)> = vec![
        ("20 MiB page", big),
        ("100k nested <div>", nested("<div>", "</div>", 100_000)),
        ("100k unclosed <span>", nested("<span>", "", 100_000)),
        ("100k unclosed <table>", nested("<table>", "", 100_000)),
        ("100k nested <b>", nested("<b>", "</b>", 100_000)),
        (
            "no text",
            "<html><body><img src=x></body></html>".to_string(),
        ),
        ("comment chain", comment_chain()),
    ];
    for (name, html) in &cases {
        let t = Instant::now();
        let r = extract(html, None, &opts);
        println!(
            "{name:24} {:>9} bytes  {:>8.1} ms  {}",
            html.len(),
            t.elapsed().as_secs_f64() * 1e3,
            match &r {
                Ok(a) => format!("ok, text {} bytes", a.text.len()),
                Err(e) => format!("error: {e}"),
            }
        );
    }
    let mut bad = b"<p>broken \xFF\xFE utf-8 \xC3\x28 here</p>".to_vec();
    bad.extend(std::iter::repeat_n(b'\x80', 1000));
    let t = Instant::now();
    let r = extract_bytes(&bad, None, None, &opts);
    println!(
        "{:24} {:>9} bytes  {:>8.1} ms  {}",
        "invalid UTF-8",
        bad.len(),
        t.elapsed().as_secs_f64() * 1e3,
        r.map(|a| format!("ok, text {:?}", a.text.chars().take(30).collect::<String>()))
            .unwrap_or_else(|e| e.to_string())
    );
    let over = "x".repeat(20 * 1024 * 1024 + 1);
    println!(
        "{:24} {:?}",
        "20 MiB + 1",
        extract(&over, None, &opts).map(|_| ())
    );
}
