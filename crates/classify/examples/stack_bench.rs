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

    // First stage alone, repeated for a stable figure.
    let lex = LexiconClassifier::new();
    let _ = lex.relevance(&docs[0].1, Some(&docs[0].0));
    let t = Instant::now();
    let reps = 50;
    let mut relevant = 0;
    for _ in 0..reps {
        relevant = 0;
        for (l, d) in &docs {
            if lex.relevance(d, Some(l))? >= EncoderOptions::default().relevance_floor {
                relevant += 1;
            }
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "first stage (lexicon relevance): {:.0} docs/s ({relevant}/{} past the floor)",
        (reps * docs.len()) as f64 / s,
        docs.len()
    );

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
