//! Full-stack speed: lexicon first stage + e5 sentence encoder + heads.
//!
//! ```sh
//! cargo run --release -p mediawatch-classify --example stack_bench -- [MODELS_DIR] [THREADS]
//! ```
//!
//! Documents are realistic-length articles built by joining eight
//! consecutive texts of one language from the framing set (about 15-25
//! sentences each, 16 languages). Reports the first stage alone (documents
//! per second), then the full stack: documents and encoded sentences per
//! second. Needs the e5 files in `MODELS_DIR/e5-small` and trained heads in
//! `MODELS_DIR/heads` (`mediawatch models fetch`, `mediawatch train`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mediawatch_classify::{
    Classifier, ClassifyInput, EmbedError, Encoder, EncoderClassifier, EncoderOptions,
    LexiconClassifier,
};

struct Counting {
    inner: mediawatch_embed::E5Encoder,
    sentences: AtomicUsize,
}

impl Encoder for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.sentences.fetch_add(texts.len(), Ordering::Relaxed);
        self.inner.encode(texts)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = std::env::args().skip(1);
    let models = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models"));
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);

    let framing = std::fs::read_to_string(root.join("models/data/framing/framing.jsonl"))?;
    let mut by_lang: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in framing.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let lang = v["lang"].as_str().unwrap_or_default().to_string();
        by_lang
            .entry(lang)
            .or_default()
            .push(v["text"].as_str().unwrap_or_default().to_string());
    }
    let mut docs: Vec<(String, String)> = Vec::new();
    for (lang, texts) in &by_lang {
        for chunk in texts.chunks(8) {
            docs.push((lang.clone(), chunk.join(" ")));
        }
    }
    let inputs: Vec<ClassifyInput<'_>> = docs
        .iter()
        .map(|(l, t)| ClassifyInput {
            id: "",
            text: t,
            lang: Some(l),
        })
        .collect();
    let bytes: usize = docs.iter().map(|d| d.1.len()).sum();
    println!(
        "{} documents, {:.0} bytes on average, {threads} threads",
        docs.len(),
        bytes as f64 / docs.len() as f64
    );

    // First stage alone (relevance floor or a context term), repeated for a
    // stable figure: on these migration articles, and on general web
    // articles (the extraction benchmark's ground truth), which is what
    // most of a news feed looks like.
    let lex = LexiconClassifier::new();
    let floor = EncoderOptions::default().relevance_floor;
    let web = web_articles();
    for (name, set) in [
        ("migration articles", &docs),
        ("general web articles", &web),
    ] {
        if set.is_empty() {
            continue;
        }
        let _ = lex.passes_first_stage(&set[0].1, Some(&set[0].0), floor);
        let t = Instant::now();
        let reps = 50;
        let mut passed = 0;
        for _ in 0..reps {
            passed = 0;
            for (l, d) in set.iter() {
                let lang = (!l.is_empty()).then_some(l.as_str());
                if lex.passes_first_stage(d, lang, floor)? {
                    passed += 1;
                }
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "first stage on {name}: {:.0} docs/s ({passed}/{} passed)",
            (reps * set.len()) as f64 / s,
            set.len()
        );
    }

    let t = Instant::now();
    let e5 = mediawatch_embed::E5Encoder::load(
        &models.join("e5-small"),
        mediawatch_embed::E5Options {
            threads: Some(threads),
            ..Default::default()
        },
    )?;
    println!("encoder load: {:.2} s", t.elapsed().as_secs_f64());
    let enc = Arc::new(Counting {
        inner: e5,
        sentences: AtomicUsize::new(0),
    });
    let c = EncoderClassifier::load(
        enc.clone(),
        &models.join("heads"),
        EncoderOptions::default(),
    )?;
    // Warm-up.
    let _ = c.classify_batch(&inputs[..2]);
    enc.sentences.store(0, Ordering::Relaxed);
    let t = Instant::now();
    let mut ok = 0;
    for chunk in inputs.chunks(16) {
        ok += c.classify_batch(chunk).iter().filter(|r| r.is_ok()).count();
    }
    let s = t.elapsed().as_secs_f64();
    let sents = enc.sentences.load(Ordering::Relaxed);
    println!(
        "full stack: {:.1} docs/s, {:.0} sentences/s ({sents} sentences encoded, {ok} docs, {s:.1} s)",
        docs.len() as f64 / s,
        sents as f64 / s
    );
    Ok(())
}

/// Main texts of the article-extraction ground truth in
/// `../shared/data/extraction/wcxb-dev` (language guessed), or none when
/// the folder is absent.
fn web_articles() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/extraction/wcxb-dev/ground-truth");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if let Some(t) = v["ground_truth"]["main_content"].as_str() {
            if !t.trim().is_empty() {
                out.push((String::new(), t.to_string()));
            }
        }
    }
    out
}
