//! Cost and quality of near-duplicate clustering.
//!
//! ```text
//! cargo run --release -p mediawatch-state --example dedup_bench [stored=100000] [lookups=10000]
//! ```
//!
//! Prints:
//! 1. fingerprint throughput (content hash + SimHash) over the demo corpus
//!    articles (`crates/pipeline/demo/*/*.html`, text crudely taken from `<p>`);
//! 2. how far edited copies of those articles move (Hamming distance per
//!    number of edited words, with an appended credit line), and how many
//!    would join at distance <= 3 and <= 5;
//! 3. distances between *different* demo articles (false-join risk; articles
//!    of one portal share its cookie-banner boilerplate);
//! 4. `assign_cluster` latency with `stored` fingerprints in a file-backed
//!    store spread over 60 days: new stories and near-duplicate copies.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use mediawatch_core::similarity::{fingerprint, fingerprint_words, hamming, simhash64};
use mediawatch_state::{StateStore, MAX_CLUSTER_DISTANCE};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Paragraph text of an HTML page, tags stripped (crude, enough here).
fn paragraphs(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<p") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let Some(close) = rest.find("</p>") else {
            break;
        };
        if close > open_end {
            let inner = &rest[open_end + 1..close];
            let mut text = String::new();
            let mut in_tag = false;
            for c in inner.chars() {
                match c {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            out.push_str(text.trim());
            out.push_str("\n\n");
        }
        rest = &rest[close + 4..];
    }
    out
}

fn demo_articles() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipeline/demo");
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return out;
    };
    let mut dirs: Vec<_> = dirs.flatten().map(|d| d.path()).collect();
    dirs.sort();
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = files.flatten().map(|f| f.path()).collect();
        files.sort();
        for f in files {
            if f.extension().and_then(|e| e.to_str()) != Some("html") {
                continue;
            }
            if let Ok(html) = std::fs::read_to_string(&f) {
                let text = paragraphs(&html);
                let name = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
                out.push((name, text));
            }
        }
    }
    out
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let stored: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let lookups: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let articles = demo_articles();
    if articles.is_empty() {
        return Err("demo corpus not found under crates/pipeline/demo".into());
    }
    let words: Vec<usize> = articles
        .iter()
        .map(|(_, t)| fingerprint_words(t).len())
        .collect();
    println!(
        "demo articles: {} ({}..{} words, {} bytes in all)",
        articles.len(),
        words.iter().min().unwrap_or(&0),
        words.iter().max().unwrap_or(&0),
        articles.iter().map(|(_, t)| t.len()).sum::<usize>()
    );

    // 1. Fingerprint throughput.
    let bytes: usize = articles.iter().map(|(_, t)| t.len()).sum();
    let reps = 200;
    let t = Instant::now();
    for _ in 0..reps {
        for (_, text) in &articles {
            std::hint::black_box(fingerprint(text));
        }
    }
    let el = t.elapsed().as_secs_f64();
    let n = (reps * articles.len()) as f64;
    println!(
        "fingerprint (SHA-256 + SimHash): {:.0} docs/s, {:.1} MB/s ({:.1} µs/doc)",
        n / el,
        (bytes * reps) as f64 / el / 1e6,
        el / n * 1e6
    );

    // 2. Edited copies.
    let mut rng = Rng(0x5eed);
    println!(
        "\nedited copies (k random words replaced + credit line appended), 50 trials per article:"
    );
    println!("| k | mean distance | max | joined at <=3 | joined at <=5 |");
    println!("|---:|---:|---:|---:|---:|");
    for k in [0usize, 1, 2, 3, 5, 8] {
        let (mut sum, mut max, mut le3, mut le5, mut trials) = (0u64, 0u32, 0u32, 0u32, 0u32);
        for (_, text) in &articles {
            let base = simhash64(text);
            let toks: Vec<&str> = text.split_whitespace().collect();
            for _ in 0..50 {
                let mut copy: Vec<String> = toks.iter().map(|s| s.to_string()).collect();
                for _ in 0..k {
                    let i = rng.below(copy.len());
                    copy[i] = format!("zz{}", rng.next() % 100_000);
                }
                let copy = copy.join(" ") + " (Izvor: agencija)";
                let d = hamming(base, simhash64(&copy));
                sum += u64::from(d);
                max = max.max(d);
                le3 += u32::from(d <= 3);
                le5 += u32::from(d <= 5);
                trials += 1;
            }
        }
        println!(
            "| {k} | {:.2} | {max} | {:.1}% | {:.1}% |",
            sum as f64 / f64::from(trials),
            100.0 * f64::from(le3) / f64::from(trials),
            100.0 * f64::from(le5) / f64::from(trials)
        );
    }

    // 3. Different articles.
    let hashes: Vec<u64> = articles.iter().map(|(_, t)| simhash64(t)).collect();
    let mut dists = Vec::new();
    let mut closest = (u32::MAX, 0, 0);
    for i in 0..hashes.len() {
        for j in i + 1..hashes.len() {
            let d = hamming(hashes[i], hashes[j]);
            dists.push(d);
            if d < closest.0 {
                closest = (d, i, j);
            }
        }
    }
    dists.sort_unstable();
    println!(
        "\ndifferent articles: {} pairs, min distance {} ({} vs {}), median {}, pairs <= {}: {}",
        dists.len(),
        closest.0,
        articles[closest.1].0,
        articles[closest.2].0,
        dists[dists.len() / 2],
        MAX_CLUSTER_DISTANCE,
        dists.iter().filter(|&&d| d <= MAX_CLUSTER_DISTANCE).count()
    );

    // 4. assign_cluster with `stored` fingerprints on disk.
    let dir = tempfile::tempdir()?;
    let store = StateStore::open(&dir.path().join("state.sqlite"))?;
    let t0 = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .ok_or("bad date")?;
    let span = 60 * 86_400u64;
    let mut fps = Vec::with_capacity(stored);
    let t = Instant::now();
    for i in 0..stored {
        let h = rng.next();
        let at = t0 + chrono::Duration::seconds((rng.next() % span) as i64);
        store.assign_cluster(&format!("s{i}"), h, at)?;
        fps.push((h, at));
    }
    let el = t.elapsed();
    println!(
        "\nfilled {} fingerprints in {:.1} s ({:.0} assignments/s while growing)",
        stored,
        el.as_secs_f64(),
        stored as f64 / el.as_secs_f64()
    );
    for (label, near) in [
        ("new stories", false),
        ("near-duplicate copies (1-5 bits)", true),
    ] {
        let mut lat = Vec::with_capacity(lookups);
        let mut joined = 0usize;
        let t = Instant::now();
        for i in 0..lookups {
            let (h, at) = if near {
                let (h, at) = fps[rng.below(fps.len())];
                let bits = 1 + rng.below(5);
                let flipped = (0..bits).fold(h, |h, _| h ^ (1 << (rng.next() % 64)));
                (flipped, at + chrono::Duration::hours(3))
            } else {
                (
                    rng.next(),
                    t0 + chrono::Duration::seconds((rng.next() % span) as i64),
                )
            };
            let id = format!("{}{i}", if near { "n" } else { "q" });
            let s = Instant::now();
            let a = store.assign_cluster(&id, h, at)?;
            lat.push(s.elapsed());
            joined += usize::from(a.matched.is_some());
        }
        let el = t.elapsed().as_secs_f64();
        println!(
            "assign_cluster, {label}: {:.0}/s, p50 {:?}, p99 {:?}, joined an existing cluster: {:.1}%",
            lookups as f64 / el,
            pct(lat.clone(), 0.5),
            pct(lat, 0.99),
            100.0 * joined as f64 / lookups as f64
        );
    }
    // Batches of 32 in one transaction, as the pipeline's sink does.
    let mut lat = Vec::new();
    let t = Instant::now();
    let batches = lookups / 32;
    for b in 0..batches {
        let docs: Vec<(String, u64, chrono::DateTime<Utc>)> = (0..32)
            .map(|i| {
                let (h, at) = fps[rng.below(fps.len())];
                (format!("b{b}-{i}"), h ^ (1 << (rng.next() % 64)), at)
            })
            .collect();
        let refs: Vec<(&str, u64, chrono::DateTime<Utc>)> = docs
            .iter()
            .map(|(id, h, at)| (id.as_str(), *h, *at))
            .collect();
        let s = Instant::now();
        store.assign_clusters(&refs)?;
        lat.push(s.elapsed());
    }
    if !lat.is_empty() {
        println!(
            "assign_clusters, batches of 32 near-duplicates: {:.0} docs/s, batch p50 {:?}, p99 {:?}",
            (batches * 32) as f64 / t.elapsed().as_secs_f64(),
            pct(lat.clone(), 0.5),
            pct(lat, 0.99)
        );
    }
    let t = Instant::now();
    let n = 10_000.min(lookups);
    for i in 0..n {
        store.assign_cluster(&format!("q{i}"), 0, t0)?;
    }
    println!(
        "assign_cluster, re-ingest of a known document: {:.0}/s",
        n as f64 / t.elapsed().as_secs_f64()
    );
    println!("fingerprints stored: {}", store.fingerprint_count()?);
    Ok(())
}
