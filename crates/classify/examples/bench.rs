//! Throughput of the lexicon classifier on one core.
//!
//! ```text
//! cargo run --release -p mediawatch-classify --example bench
//! ```
//!
//! Documents: the main text of the WCXB dev pages in `shared/data` (real web
//! articles, mostly English), cut into ~2 KB pieces, plus synthetic ~2 KB
//! migration articles in Serbian Cyrillic, Polish and Greek (non-ASCII paths).
//! Reports documents/s and MB/s for the relevance stage and for full
//! classification, and how many of the web pieces the relevance stage keeps.

use std::path::Path;
use std::time::{Duration, Instant};

use mediawatch_classify::{Classifier, LexiconClassifier};

const DOC_BYTES: usize = 2048;

/// Documents with their language code (None: guess).
type Docs<'a> = Vec<(Option<&'a str>, &'a str)>;

fn chunks(text: &str, out: &mut Vec<String>) {
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + DOC_BYTES).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        if end - start > DOC_BYTES / 2 {
            out.push(text[start..end].to_string());
        }
        start = end.max(start + 1);
        while start < text.len() && !text.is_char_boundary(start) {
            start += 1;
        }
    }
}

fn web_docs() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/extraction/wcxb-dev/ground-truth");
    let mut docs = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "no WCXB data at {}; using synthetic documents only",
            dir.display()
        );
        return docs;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Ok(raw) = std::fs::read_to_string(&p) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&raw) else {
            continue;
        };
        if let Some(t) = v["ground_truth"]["main_content"].as_str() {
            chunks(t, &mut docs);
        }
    }
    docs
}

fn synthetic(lang: &'static str, sentences: &[&str]) -> (&'static str, String) {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < DOC_BYTES {
        s.push_str(sentences[i % sentences.len()]);
        s.push(' ');
        i += 1;
    }
    (lang, s)
}

/// Runs `f` over `docs` repeatedly for at least `min`; returns docs/s, MB/s.
fn measure(
    docs: &[(Option<&str>, &str)],
    min: Duration,
    mut f: impl FnMut(&str, Option<&str>) -> f32,
) -> (f64, f64, f32) {
    let start = Instant::now();
    let (mut n, mut bytes, mut sink) = (0usize, 0usize, 0f32);
    while start.elapsed() < min {
        for (lang, d) in docs {
            sink += f(d, *lang);
            n += 1;
            bytes += d.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (n as f64 / secs, bytes as f64 / secs / 1e6, sink)
}

fn main() {
    let classifier = LexiconClassifier::new();
    let web = web_docs();
    let synth = [
        synthetic(
            "sr",
            &[
                "Нови талас миграната стиже на границу, кажу из полиције.",
                "Избеглице су данима чекале у прихватном центру код Шида.",
                "Ахмад (24), избеглица из Алепа, каже да сада ради као кувар.",
                "Градско веће усвојило је нови буџет за поправку путева.",
            ],
        ),
        synthetic(
            "pl",
            &[
                "Nowa fala migrantów zmierza do granicy z Białorusią.",
                "Uchodźcy czekali w ośrodku dla cudzoziemców przez kilka tygodni.",
                "Od uruchomienia program pomógł 300 uchodźcom znaleźć pracę.",
                "Rada miasta przyjęła nowy plan remontu dróg.",
            ],
        ),
        synthetic(
            "el",
            &[
                "Ένα νέο κύμα μεταναστών κατευθύνεται προς τα σύνορα του Έβρου.",
                "Οι πρόσφυγες περίμεναν για μέρες στη δομή φιλοξενίας.",
                "Το δημοτικό συμβούλιο ενέκρινε το νέο σχέδιο για την επισκευή δρόμων.",
            ],
        ),
    ];
    let min = Duration::from_secs(3);

    // Build the lexicons outside the timed region.
    for l in ["en", "sr", "pl", "el"] {
        let _ = classifier.relevance("warm up", Some(l));
    }

    let sets: Vec<(&str, Docs<'_>)> = vec![
        (
            "web (en, lang given)",
            web.iter().map(|d| (Some("en"), d.as_str())).collect(),
        ),
        (
            "web (lang guessed)",
            web.iter().map(|d| (None, d.as_str())).collect(),
        ),
        (
            "synthetic sr-Cyrl/pl/el",
            synth.iter().map(|(l, d)| (Some(*l), d.as_str())).collect(),
        ),
    ];
    println!(
        "documents: {} web pieces of <= {DOC_BYTES} bytes, {} synthetic",
        web.len(),
        synth.len()
    );
    for (name, docs) in &sets {
        if docs.is_empty() {
            continue;
        }
        let mean = docs.iter().map(|(_, d)| d.len()).sum::<usize>() / docs.len();
        let (dps, mbps, _) = measure(docs, min, |d, l| classifier.relevance(d, l).unwrap_or(0.0));
        println!("relevance  {name:<26} mean {mean:>5} B  {dps:>9.0} docs/s  {mbps:>6.1} MB/s");
        let (dps, mbps, _) = measure(docs, min, |d, l| {
            classifier.classify(d, l).map_or(0.0, |x| x.relevance.score)
        });
        println!("classify   {name:<26} mean {mean:>5} B  {dps:>9.0} docs/s  {mbps:>6.1} MB/s");
    }
    if !web.is_empty() {
        let kept = web
            .iter()
            .filter(|d| classifier.relevance(d, None).unwrap_or(0.0) >= 0.5)
            .count();
        println!("relevance >= 0.5 on web pieces: {kept} of {}", web.len());
    }
}
