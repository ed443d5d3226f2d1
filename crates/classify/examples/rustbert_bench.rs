//! Throughput of the rust-bert backend (feature `rust-bert`) on one model.
//!
//! ```text
//! eval "$(.ci/torch.sh)"
//! python models/scripts/make_tiny_hf_model.py /tmp/tiny-hf      # or a real model
//! cargo run --release -p mediawatch-classify --features rust-bert \
//!     --example rustbert_bench -- /tmp/tiny-hf/tiny-xlmr-hate [texts] [batch] [cpu|auto]
//! ```
//!
//! Texts: the first posts of the labelled hate-speech sets in `shared/data/hate`
//! (tweets and forum posts in en, de, pl), cycled to the requested count.
//! Reports texts/s of the model alone (`logits`) and of the whole classifier
//! (lexicon labels + model), with the device. The figures of a tiny test model
//! say little about a real one (base models have ~100x the compute per token).

use std::path::PathBuf;
use std::time::Instant;

use mediawatch_classify::{
    Classifier, ClassifyInput, HfSequenceClassifier, RustBertClassifier, RustBertOptions,
    TorchDevice,
};

fn texts(n: usize) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/hate");
    let mut out = Vec::new();
    for file in [
        "davidson2017.jsonl",
        "germeval2018-train.jsonl",
        "poleval2019-train.jsonl",
    ] {
        let Ok(raw) = std::fs::read_to_string(dir.join(file)) else {
            eprintln!("no {file} in {}", dir.display());
            continue;
        };
        for line in raw.lines().take(n) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(t) = v["text"].as_str() {
                    out.push(t.to_string());
                }
            }
        }
    }
    if out.is_empty() {
        out.push("Migrants are all the same, said the mayor of the town.".into());
    }
    out.iter().cycle().take(n).cloned().collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .ok_or("usage: rustbert_bench MODEL_DIR [texts] [batch] [cpu|auto]")?,
    );
    let n: usize = args.next().map_or(Ok(2000), |s| s.parse())?;
    let batch: usize = args.next().map_or(Ok(32), |s| s.parse())?;
    let device = match args.next().as_deref() {
        Some("cpu") => TorchDevice::Cpu,
        _ => TorchDevice::Auto,
    };
    let texts = texts(n);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mean_len = refs.iter().map(|t| t.len()).sum::<usize>() / refs.len().max(1);

    let t = Instant::now();
    let model = HfSequenceClassifier::load(&dir, device, None)?;
    println!(
        "model {} ({}, {} labels, max {} tokens) on {} loaded in {:.2?}",
        model.version(),
        model.model_type(),
        model.labels().len(),
        model.max_tokens(),
        if model.on_cuda() { "CUDA" } else { "CPU" },
        t.elapsed()
    );
    println!("{} texts, mean {mean_len} bytes, batch {batch}", refs.len());

    // Warm-up (first CUDA calls initialise kernels).
    model.logits(&refs[..batch.min(refs.len())])?;
    let t = Instant::now();
    for chunk in refs.chunks(batch) {
        model.logits(chunk)?;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "model only:  {:>9.1} texts/s ({:.3} s)",
        refs.len() as f64 / secs,
        secs
    );

    let clf = RustBertClassifier::load(
        &dir,
        RustBertOptions {
            batch_size: batch,
            device,
            ..RustBertOptions::default()
        },
    );
    match clf {
        Ok(clf) => {
            let inputs: Vec<ClassifyInput<'_>> = refs
                .iter()
                .map(|t| ClassifyInput {
                    id: "",
                    text: t,
                    lang: None,
                    context: None,
                })
                .collect();
            let t = Instant::now();
            let results = clf.classify_batch(&inputs);
            let secs = t.elapsed().as_secs_f64();
            let failed = results.iter().filter(|r| r.is_err()).count();
            println!(
                "classifier:  {:>9.1} texts/s ({:.3} s, {failed} failed)",
                refs.len() as f64 / secs,
                secs
            );
        }
        Err(e) => println!("classifier not measured: {e}"),
    }
    Ok(())
}
