//! Throughput of `E5Encoder` on real news sentences.
//!
//! ```text
//! cargo run --release -p mediawatch-embed --example encode_bench -- \
//!     [--batch 32] [--threads 2] [--n 500] [--max-tokens 128] [--passes 2]
//! ```
//! Sentences come from `models/data/framing/framing.jsonl` (news and social
//! media sentences about migration in the project's languages). Prints load
//! time, sentences/s, tokens/s and peak RSS (VmHWM).

use std::time::Instant;

use mediawatch_embed::{repo_root, test_models_dir, E5Encoder, E5Files, E5Options, Encoder};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let batch = arg("--batch", 32);
    let threads = arg("--threads", 2);
    let n = arg("--n", 500);
    let max_tokens = arg("--max-tokens", 128);
    let passes = arg("--passes", 2).max(1);

    let corpus = repo_root().join("models/data/framing/framing.jsonl");
    let mut texts = Vec::new();
    for line in std::fs::read_to_string(&corpus)?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let Some(t) = v.get("text").and_then(|t| t.as_str()) {
            texts.push(t.to_string());
        }
    }
    texts.truncate(n);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let dir = test_models_dir()?;
    let t0 = Instant::now();
    let enc = E5Encoder::load(
        &E5Files::in_models_dir(&dir),
        E5Options {
            batch_size: batch,
            max_tokens,
            threads: Some(threads),
            ..E5Options::default()
        },
    )?;
    let load_s = t0.elapsed().as_secs_f64();
    let rss_loaded = peak_rss_mb();
    let tokens: usize = refs
        .iter()
        .map(|t| enc.token_ids(t).map(|v| v.len()).unwrap_or(0))
        .sum();

    // Warm-up (thread pool start, allocator).
    enc.encode(&refs[..refs.len().min(batch)])?;
    let mut best = f64::MAX;
    for _ in 0..passes {
        let t = Instant::now();
        let out = enc.encode(&refs)?;
        assert_eq!(out.len(), refs.len());
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "model {} | {} sentences, {:.1} tokens avg | batch {batch}, threads {threads}, max_tokens {max_tokens}",
        enc.name(),
        refs.len(),
        tokens as f64 / refs.len().max(1) as f64
    );
    println!("load      {load_s:.2} s (RSS after load {rss_loaded:.0} MB)");
    println!(
        "encode    {:.2} s best of {passes} -> {:.1} sentences/s, {:.0} tokens/s",
        best,
        refs.len() as f64 / best,
        tokens as f64 / best
    );
    println!("peak RSS  {:.0} MB", peak_rss_mb());
    Ok(())
}
