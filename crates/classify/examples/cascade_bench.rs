//! What each stage of the cascade costs and what it lets through.
//!
//! ```sh
//! cargo run --release -p mediawatch-classify --example cascade_bench -- [MODELS_DIR] [THREADS] [WCXB_DIR]
//! (`CASCADE_BENCH_BATCH=N`: documents per classify call, default 64;
//! `CASCADE_BENCH_ENCODER_BATCH=N`: texts per encoder pass, default the
//! pipeline's.)
//! ```
//!
//! Three corpora, each classified in batches of 64 as the pipeline does:
//! - **comments**: every comment, reply and post of `models/data/comments`
//!   (16 languages), with its article as context: short texts, nearly all
//!   in scope, so the encoder sees almost every one;
//! - **web pages**: the WCXB pages' main text (general web: software,
//!   travel, shopping; no migration), which the cheap stages should keep
//!   from the encoder;
//! - **articles**: texts of `models/data/news` joined eight at a time into
//!   long articles (in scope or not), cut into windows.
//!
//! Prints, per corpus: documents per second with the whole cascade, units
//! encoded per document, the share of documents the encoder saw, and the
//! throughput of the cheap stages alone (fast model + lexicon), and against
//! the gold relevance of each corpus: the share of relevant documents in
//! scope and labelled relevant, and of the others labelled relevant. Needs
//! `mediawatch models fetch` and the models in `MODELS_DIR/classifier`.

use std::path::PathBuf;
use std::time::Instant;

use mediawatch_classify::{CascadeClassifier, CascadeOptions, Classifier, ClassifyInput};
use mediawatch_embed::{E5Encoder, E5Files, E5Options};

struct Doc {
    text: String,
    lang: Option<String>,
    context: Option<String>,
    /// Gold relevance (migration scope), where the corpus has it.
    relevant: Option<bool>,
}

fn jsonl(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Documents per `classify_routed` call: 64, or `CASCADE_BENCH_BATCH` (the
/// pipeline's batches are whatever is queued, often a few documents).
fn batch() -> usize {
    std::env::var("CASCADE_BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(64)
}

fn run(name: &str, c: &CascadeClassifier, docs: &[Doc]) {
    let inputs: Vec<ClassifyInput<'_>> = docs
        .iter()
        .map(|d| ClassifyInput {
            id: "",
            text: &d.text,
            lang: d.lang.as_deref(),
            context: d.context.as_deref(),
        })
        .collect();
    // Cheap stages alone: the relevance the trait exposes runs the lexicon
    // and the fast model, which is what every document pays.
    let t = Instant::now();
    for i in &inputs {
        let _ = c.relevance(i.text, i.lang);
    }
    let cheap = inputs.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (mut encoded_docs, mut units, mut scoped, mut flagged) = (0usize, 0usize, 0usize, 0usize);
    // Units spent on documents in scope only, flagged only, and both.
    let mut why = [(0usize, 0usize); 3];
    // Gold-relevant docs: in scope, labelled relevant; others labelled relevant.
    let (mut gold, mut gold_scoped, mut gold_hit, mut false_rel) = (0usize, 0usize, 0usize, 0usize);
    let mut golds = docs.iter().map(|d| d.relevant);
    for chunk in inputs.chunks(batch()) {
        for r in c.classify_routed(chunk) {
            let (labels, route) = r.expect("classify");
            let said = labels.relevance.score >= 0.5;
            match golds.next().flatten() {
                Some(true) => {
                    gold += 1;
                    gold_scoped += usize::from(route.own_scope || route.context_scope);
                    gold_hit += usize::from(said);
                }
                Some(false) => false_rel += usize::from(said),
                None => {}
            }
            encoded_docs += usize::from(route.encoded_units > 0);
            let in_scope = route.own_scope || route.context_scope;
            if route.encoded_units > 0 {
                let k = match (in_scope, route.flagged) {
                    (true, false) => 0,
                    (false, true) => 1,
                    _ => 2,
                };
                why[k].0 += 1;
                why[k].1 += route.encoded_units;
            }
            units += route.encoded_units;
            scoped += usize::from(route.own_scope || route.context_scope);
            flagged += usize::from(route.flagged);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let n = inputs.len() as f64;
    println!(
        "{name:>10}: {} docs, {:.1} KB avg | cascade {:.1} docs/s | encoded {:.1}% of docs, {:.2} units/doc | in scope {:.1}%, flagged {:.1}% | cheap stages alone {:.0} docs/s",
        inputs.len(),
        docs.iter().map(|d| d.text.len()).sum::<usize>() as f64 / n / 1024.0,
        n / secs,
        100.0 * encoded_docs as f64 / n,
        units as f64 / n,
        100.0 * scoped as f64 / n,
        100.0 * flagged as f64 / n,
        cheap
    );
    println!(
        "{:>10}  encoded docs (units): in scope only {} ({}), flagged only {} ({}), both {} ({})",
        "", why[0].0, why[0].1, why[1].0, why[1].1, why[2].0, why[2].1
    );
    let negatives = docs.iter().filter(|d| d.relevant == Some(false)).count();
    println!(
        "{:>10}  relevant by gold: {gold} docs, {:.1}% in scope, {:.1}% labelled relevant | not relevant: {negatives} docs, {:.1}% labelled relevant",
        "",
        100.0 * gold_scoped as f64 / gold.max(1) as f64,
        100.0 * gold_hit as f64 / gold.max(1) as f64,
        100.0 * false_rel as f64 / negatives.max(1) as f64,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = std::env::args().skip(1);
    let models = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models"));
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);
    let wcxb = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data/extraction/wcxb-dev"));
    // Optional: a JSONL of extracted pages (`mediawatch extract --input-dir
    // DIR --json`), classified as the pipeline does (text, page language).
    let extracted: Vec<Doc> = args
        .next()
        .map(|p| {
            jsonl(std::path::Path::new(&p))
                .iter()
                .map(|v| Doc {
                    text: v["text"].as_str().unwrap_or_default().to_string(),
                    lang: v["lang"].as_str().map(|l| l.chars().take(2).collect()),
                    context: None,
                    relevant: None,
                })
                .collect()
        })
        .unwrap_or_default();

    let mut comments = Vec::new();
    for f in files(&root.join("models/data/comments")) {
        for v in jsonl(&f) {
            comments.push(Doc {
                text: v["text"].as_str().unwrap_or_default().to_string(),
                lang: v["lang"].as_str().map(str::to_string),
                context: v["context"].as_str().map(str::to_string),
                relevant: v["relevant"].as_i64().map(|r| r == 1),
            });
        }
    }
    let mut pages = Vec::new();
    for f in files(&wcxb.join("ground-truth")) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f)?)?;
        let g = &v["ground_truth"];
        pages.push(Doc {
            text: format!(
                "{}\n\n{}",
                g["title"].as_str().unwrap_or_default(),
                g["main_content"].as_str().unwrap_or_default()
            ),
            lang: None,
            context: None,
            relevant: Some(false),
        });
    }
    let mut articles = Vec::new();
    for f in files(&root.join("models/data/news")) {
        let rows = jsonl(&f);
        for chunk in rows.chunks(8) {
            articles.push(Doc {
                text: chunk
                    .iter()
                    .map(|v| v["text"].as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n\n"),
                lang: chunk[0]["lang"].as_str().map(str::to_string),
                context: None,
                // An article is about migration when one of its paragraphs is.
                relevant: Some(chunk.iter().any(|v| v["relevant"].as_i64() == Some(1))),
            });
        }
    }

    // `[classifier] batch_size`, as the pipeline passes it to both.
    let batch_size = std::env::var("CASCADE_BENCH_ENCODER_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(CascadeOptions::default().batch_size);
    let t = Instant::now();
    let enc = E5Encoder::load(
        &E5Files::in_models_dir(&models),
        E5Options {
            threads: Some(threads),
            batch_size,
            ..E5Options::default()
        },
    )?;
    let c = CascadeClassifier::load(
        std::sync::Arc::new(enc),
        &models.join("classifier"),
        CascadeOptions {
            batch_size,
            ..CascadeOptions::default()
        },
    )?;
    println!(
        "model {} | load {:.2} s | threads {threads}",
        c.model_version(),
        t.elapsed().as_secs_f64()
    );
    if std::env::var_os("CASCADE_BENCH_SKIP_COMMENTS").is_none() {
        run("comments", &c, &comments);
    }
    if !pages.is_empty() {
        run("web pages", &c, &pages);
    }
    run("articles", &c, &articles);
    if !extracted.is_empty() {
        run("extracted", &c, &extracted);
    }
    println!("peak RSS {:.0} MB", peak_rss_mb());
    Ok(())
}
