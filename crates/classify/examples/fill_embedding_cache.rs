//! Fills the training embedding cache that `mediawatch train` reads
//! (`target/embedding-cache/`), e.g. on a bigger machine before training.
//!
//! ```sh
//! cargo run --release -p mediawatch-classify --example fill_embedding_cache -- \
//!     [HATE_DIR] [FRAMING_FILE] [CAP] [SEED] [CACHE_DIR] [MODEL_DIR]
//! ```
//! Arguments default to the `mediawatch train` defaults, run from the
//! repository root.

use std::path::PathBuf;
use std::time::Instant;

use mediawatch_classify::train::{load_framing, load_hate_dir, EmbeddingCache};
use mediawatch_classify::Encoder;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = std::env::args().skip(1);
    let hate = PathBuf::from(a.next().unwrap_or_else(|| "../shared/data/hate".into()));
    let framing = PathBuf::from(
        a.next()
            .unwrap_or_else(|| "models/data/framing/framing.jsonl".into()),
    );
    let cap: usize = a.next().and_then(|x| x.parse().ok()).unwrap_or(2000);
    let seed: u64 = a.next().and_then(|x| x.parse().ok()).unwrap_or(7);
    let cache_dir = PathBuf::from(a.next().unwrap_or_else(|| "target/embedding-cache".into()));
    let model_dir = PathBuf::from(a.next().unwrap_or_else(|| "models/e5-small".into()));
    let mut ex = load_hate_dir(&hate, cap, seed)?;
    ex.extend(load_framing(&framing, seed)?);
    let enc =
        mediawatch_embed::E5Encoder::load(&model_dir, mediawatch_embed::E5Options::default())?;
    let mut cache = EmbeddingCache::open(&cache_dir, enc.name(), enc.dim())?;
    let texts: Vec<&str> = ex.iter().map(|e| e.text.as_str()).collect();
    let t = Instant::now();
    cache.embed_all(&enc, &texts, 128, &mut |d, n| {
        eprintln!(
            "{d}/{n} ({:.0}/s)",
            d as f64 / t.elapsed().as_secs_f64().max(1e-3)
        );
    })?;
    eprintln!(
        "{} texts cached in {:.0} s",
        cache.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
