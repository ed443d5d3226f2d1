//! Scores the extractor on WCXB-dev and measures throughput.
//!
//! `cargo run --release -p mediawatch-extract --example eval [-- DIR [--dump ID]]`
//! Prints precision/recall/F1 per page type (bag-of-words metric from the data README) and
//! pages/s for extraction alone (pages pre-loaded in memory, one thread).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn tokens(s: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for t in s
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
    {
        *m.entry(t.to_string()).or_insert(0) += 1;
    }
    m
}

fn prf(pred: &str, gold: &str) -> (f64, f64, f64) {
    let p = tokens(pred);
    let g = tokens(gold);
    let np: usize = p.values().sum();
    let ng: usize = g.values().sum();
    if np == 0 && ng == 0 {
        return (1.0, 1.0, 1.0);
    }
    if np == 0 || ng == 0 {
        return (0.0, 0.0, 0.0);
    }
    let common: usize = p
        .iter()
        .map(|(k, v)| (*v).min(*g.get(k).unwrap_or(&0)))
        .sum();
    let pr = common as f64 / np as f64;
    let rc = common as f64 / ng as f64;
    let f = if pr + rc == 0.0 {
        0.0
    } else {
        2.0 * pr * rc / (pr + rc)
    };
    (pr, rc, f)
}

/// CPU time (user + system) of the calling thread from /proc (Linux), in seconds. Wall time on
/// a shared machine overstates the cost; CPU time is what one core spends.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/extraction/wcxb-dev")
        });
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let worst = args.iter().any(|a| a == "--worst");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metadata.json"))?)?;
    let files = meta["files"].as_object().ok_or("metadata.json: no files")?;
    let mut pages = Vec::new();
    let mut gmetas = Vec::new();
    for (id, info) in files {
        if let Some(d) = &dump {
            if d != id {
                continue;
            }
        }
        let ty = info["page_type"].as_str().unwrap_or("?").to_string();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(dir.join(format!("html/{id}.html.gz")))?)
            .read_to_end(&mut raw)?;
        let gt: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            dir.join(format!("ground-truth/{id}.json")),
        )?)?;
        let gold = gt["ground_truth"]["main_content"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let url = gt["url"].as_str().map(str::to_string);
        gmetas.push((
            gt["ground_truth"]["title"].as_str().map(str::to_string),
            gt["ground_truth"]["author"].as_str().map(str::to_string),
            gt["ground_truth"]["publish_date"]
                .as_str()
                .map(str::to_string),
        ));
        pages.push((
            id.clone(),
            ty,
            String::from_utf8_lossy(&raw).into_owned(),
            gold,
            url,
        ));
    }
    let opts = mediawatch_extract::ExtractOptions::default();
    let mut agg: BTreeMap<String, (f64, f64, f64, usize)> = BTreeMap::new();
    let mut per_page = Vec::new();
    let mut total = Duration::ZERO;
    let mut bytes = 0usize;
    // Extraction first (timed), scoring afterwards (not timed).
    let cpu0 = thread_cpu_secs();
    let mut results = Vec::with_capacity(pages.len());
    for (_, _, html, _, url) in &pages {
        let t = Instant::now();
        let art = mediawatch_extract::extract(html, url.as_deref(), &opts);
        total += t.elapsed();
        bytes += html.len();
        results.push(art);
    }
    let cpu = cpu0.zip(thread_cpu_secs()).map(|(a, b)| b - a);
    for ((id, ty, _, gold, _), art) in pages.iter().zip(&results) {
        let text = art.as_ref().map(|a| a.text.clone()).unwrap_or_default();
        if dump.is_some() {
            println!(
                "{:#?}",
                art.as_ref().map(|a| (
                    &a.title,
                    &a.byline,
                    &a.published,
                    &a.lang,
                    &a.lead_image,
                    &a.canonical_url,
                    a.comments.len()
                ))
            );
            println!("----- TEXT -----\n{text}\n----- GOLD -----\n{gold}");
        }
        // Debug aid: `EVAL_OUT=DIR` writes each page's extracted text to DIR/ID.txt.
        if let Some(out) = std::env::var_os("EVAL_OUT") {
            std::fs::write(PathBuf::from(out).join(format!("{id}.txt")), &text)?;
        }
        let (p, r, f) = prf(&text, gold);
        per_page.push((f, p, r, id.clone(), ty.clone()));
        let e = agg.entry(ty.clone()).or_default();
        e.0 += p;
        e.1 += r;
        e.2 += f;
        e.3 += 1;
    }
    for (ty, (p, r, f, c)) in &agg {
        let c = *c as f64;
        println!(
            "{ty:8} n={c:4} P={:.4} R={:.4} F1={:.4}",
            p / c,
            r / c,
            f / c
        );
    }
    let secs = total.as_secs_f64();
    println!(
        "pages={} bytes={bytes} wall={secs:.3}s pages/s(wall)={:.1} MB/s(wall)={:.1}",
        pages.len(),
        pages.len() as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    if let Some(cpu) = cpu {
        println!(
            "thread CPU={cpu:.2}s pages/s(one core, CPU time)={:.1}",
            pages.len() as f64 / cpu
        );
    }
    // Metadata agreement where the ground truth has a value.
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let (mut tn, mut tok, mut an, mut aok, mut dn, mut dok) = (0, 0, 0, 0, 0, 0);
    for ((gt_title, gt_author, gt_date), art) in gmetas.iter().zip(&results) {
        let Ok(a) = art else { continue };
        if let Some(t) = gt_title.as_deref().filter(|t| !t.is_empty()) {
            tn += 1;
            if a.title.as_deref().is_some_and(|x| norm(x) == norm(t)) {
                tok += 1;
            }
        }
        if let Some(t) = gt_author.as_deref().filter(|t| !t.is_empty()) {
            an += 1;
            if a.byline.as_deref().is_some_and(|x| {
                let (x, t) = (norm(x), norm(t));
                !x.is_empty() && (x.contains(&t) || t.contains(&x))
            }) {
                aok += 1;
            }
        }
        if let Some(t) = gt_date.as_deref().and_then(|t| t.get(..10)) {
            dn += 1;
            if a.published
                .is_some_and(|d| d.format("%Y-%m-%d").to_string() == t)
            {
                dok += 1;
            }
        }
    }
    println!("metadata: title exact {tok}/{tn}, author match {aok}/{an}, date same day {dok}/{dn}");
    if worst {
        per_page.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (f, p, r, id, ty) in per_page.iter().take(usize::MAX) {
            println!("{id} {ty:7} F1={f:.3} P={p:.3} R={r:.3}");
        }
    }
    Ok(())
}
