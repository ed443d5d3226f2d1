//! Hugging Face sequence-classification models on libtorch, through rust-bert
//! (cargo feature `rust-bert`).
//!
//! Published fine-tuned hate-speech models exist for many of the project's
//! languages (BERT, XLM-RoBERTa, ELECTRA, DistilBERT...). This backend loads
//! one from a directory in the layout `save_pretrained` writes, so a user can
//! drop a model into `models/<name>/` and use it without converting it.
//!
//! What comes from where in the [`Labels`] it produces:
//! - `hate.score` and `hate.class`: the model (its labels mapped to
//!   hate / offensive / none by a [`RustBertOptions::label_map`]).
//! - `hate.target` and `hate.evidence`: the lexicon's cues, kept only when the
//!   model decides hate or offensive (the model gives no spans).
//! - `relevance`, `collective_labelling`, `frame`, `solutions`: the lexicon
//!   classifier, unchanged (a sequence-classification model has one head).
//! - `language_support`: `trained` for the languages the model was trained
//!   on ([`RustBertOptions::trained_languages`]), else the lexicon's value.
//! - `model_version`: `rust-bert:<dir name>:<hash of config and weights>`.
//!
//! Inference runs on the calling thread, which must be a dedicated or
//! blocking one (never an async worker); one forward pass runs at a time per
//! model (a mutex: libtorch already uses every core for one pass). It uses
//! CUDA when libtorch sees a GPU, unless told otherwise.
//!
//! libtorch reports errors by panicking through tch; every call into it is
//! wrapped so that such a panic becomes a [`ClassifyError::Model`] instead
//! of unwinding into the pipeline.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mediawatch_core::labels::DEFAULT_THRESHOLD;
use rust_bert::electra::{ElectraConfig, ElectraModel};
use rust_bert::pipelines::common::{ModelResource, ModelType, TokenizerOption};
use rust_bert::pipelines::sequence_classification::{
    SequenceClassificationConfig, SequenceClassificationOption,
};
use rust_bert::resources::LocalResource;
use rust_tokenizers::tokenizer::TruncationStrategy;
use sha2::{Digest, Sha256};
use tch::{nn, Device, Kind, Tensor};

use crate::{
    guess_language, truncate, Classifier, ClassifyError, ClassifyInput, HateClass, Labels,
    LanguageSupport, LexiconClassifier,
};

/// Weight files looked for, in order of preference.
pub const WEIGHT_FILES: [&str; 3] = ["model.safetensors", "rust_model.ot", "pytorch_model.bin"];

/// Bytes of text kept per model token before tokenizing: tokenization cost
/// stays bounded for huge inputs, and no model token is a longer stretch of
/// text than this in practice, so the model sees the same beginning.
const BYTES_PER_TOKEN: usize = 64;

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TorchDevice {
    /// The first CUDA GPU when libtorch sees one, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The given CUDA GPU (an error at load time when absent).
    Cuda(usize),
}

impl TorchDevice {
    fn resolve(self) -> Result<Device, String> {
        match self {
            TorchDevice::Auto => Ok(Device::cuda_if_available()),
            TorchDevice::Cpu => Ok(Device::Cpu),
            TorchDevice::Cuda(i) => {
                let n = tch::Cuda::device_count();
                if (i as i64) < n {
                    Ok(Device::Cuda(i))
                } else {
                    Err(format!("CUDA device {i} requested, libtorch sees {n}"))
                }
            }
        }
    }
}

/// Options of a [`RustBertClassifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct RustBertOptions {
    /// The model's label names (as in `config.json`'s `id2label`, compared
    /// case-insensitively) mapped to our classes. Entries override the
    /// defaults (see [`default_hate_class`]); every model label must end up
    /// mapped, and every entry must name a model label.
    pub label_map: BTreeMap<String, HateClass>,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Most tokens per text (the model's own maximum when `None` or larger).
    pub max_tokens: Option<usize>,
    /// Where inference runs.
    pub device: TorchDevice,
    /// Languages (ISO 639-1) the model was trained and evaluated on; their
    /// documents get [`LanguageSupport::Trained`].
    pub trained_languages: Vec<String>,
    /// `hate.score` at or above which the class is hate or offensive.
    pub threshold: f32,
}

impl Default for RustBertOptions {
    fn default() -> Self {
        Self {
            label_map: BTreeMap::new(),
            batch_size: 16,
            max_tokens: None,
            device: TorchDevice::Auto,
            trained_languages: Vec::new(),
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

/// The class a model label means when no explicit map names it; `None` when
/// the name is not one of the common ones. `n_labels` is the number of labels
/// of the model: the generic `LABEL_0` / `LABEL_1` of a two-label model mean
/// not hateful / hateful (the convention of binary hate-speech models);
/// generic labels of larger models need an explicit map.
pub fn default_hate_class(label: &str, n_labels: usize) -> Option<HateClass> {
    let norm: String = label
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    match norm.as_str() {
        "hate" | "hateful" | "hate_speech" | "hatespeech" | "hs" | "violent" => {
            Some(HateClass::Hate)
        }
        "offensive"
        | "offense"
        | "off"
        | "abusive"
        | "abuse"
        | "toxic"
        | "insult"
        | "profanity"
        | "offensive_language"
        | "offensive_or_inappropriate"
        | "inappropriate" => Some(HateClass::Offensive),
        "normal" | "none" | "not" | "neither" | "neutral" | "non_hate" | "nonhate" | "not_hate"
        | "nothate" | "no_hate" | "non_offensive" | "not_offensive" | "non_toxic" | "not_toxic"
        | "acceptable" | "acceptable_speech" | "clean" => Some(HateClass::None),
        "label_0" if n_labels == 2 => Some(HateClass::None),
        "label_1" if n_labels == 2 => Some(HateClass::Hate),
        _ => None,
    }
}

/// Model types this backend loads (`config.json` `model_type`), with the
/// tokenizer files each needs.
pub const SUPPORTED_MODEL_TYPES: [&str; 10] = [
    "bert",
    "distilbert",
    "electra",
    "roberta",
    "xlm-roberta",
    "deberta",
    "deberta-v2",
    "albert",
    "mobilebert",
    "xlnet",
];

fn model_error(dir: &Path, reason: impl Into<String>) -> ClassifyError {
    ClassifyError::Model {
        model: dir.display().to_string(),
        reason: reason.into(),
    }
}

/// Turns a panic raised inside libtorch or rust-bert into an error.
fn guarded<T>(
    dir: &Path,
    what: &str,
    f: impl FnOnce() -> Result<T, String>,
) -> Result<T, ClassifyError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(model_error(dir, format!("{what}: {e}"))),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("panic without message");
            Err(model_error(dir, format!("{what}: libtorch failed: {msg}")))
        }
    }
}

/// The network: rust-bert's sequence-classification models, plus ELECTRA,
/// whose classification head rust-bert lacks.
enum Net {
    // Boxed: the two differ a lot in size (~880 and ~376 bytes), and one
    // `Net` lives per loaded model, so the indirection costs nothing.
    RustBert(Box<SequenceClassificationOption>),
    Electra(Box<ElectraClassifier>),
}

/// `ElectraForSequenceClassification` of transformers: the discriminator's
/// encoder, then dense -> GELU -> out_proj on the first token.
struct ElectraClassifier {
    electra: ElectraModel,
    dense: nn::Linear,
    out_proj: nn::Linear,
}

impl ElectraClassifier {
    fn new(p: &nn::Path<'_>, config: &ElectraConfig, n_labels: i64) -> Self {
        let electra = ElectraModel::new(p / "electra", config);
        let head = p / "classifier";
        let dense = nn::linear(
            &head / "dense",
            config.hidden_size,
            config.hidden_size,
            Default::default(),
        );
        let out_proj = nn::linear(
            &head / "out_proj",
            config.hidden_size,
            n_labels,
            Default::default(),
        );
        Self {
            electra,
            dense,
            out_proj,
        }
    }

    fn forward(&self, ids: &Tensor, mask: &Tensor, types: &Tensor) -> Result<Tensor, String> {
        // rust-bert 0.23's ElectraModel hands the mask to the encoder as is,
        // and the encoder adds it to the attention scores: give it the
        // additive form (0 for tokens, -10000 for padding) that BERT builds.
        let additive = (mask.ones_like() - mask).to_kind(Kind::Float) * -10000.0;
        let out = self
            .electra
            .forward_t(Some(ids), Some(&additive), Some(types), None, None, false)
            .map_err(|e| e.to_string())?;
        // transformers uses the exact (erf) GELU here whatever hidden_act says.
        Ok(out
            .hidden_state
            .select(1, 0)
            .apply(&self.dense)
            .gelu("none")
            .apply(&self.out_proj))
    }
}

struct Inner {
    tokenizer: TokenizerOption,
    net: Net,
}

/// A Hugging Face sequence-classification model: tokenizer and network,
/// returning logits. [`RustBertClassifier`] turns them into [`Labels`].
pub struct HfSequenceClassifier {
    dir: PathBuf,
    model_type: String,
    labels: Vec<String>,
    device: Device,
    max_len: usize,
    pad_id: i64,
    version: String,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for HfSequenceClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfSequenceClassifier")
            .field("dir", &self.dir)
            .field("model_type", &self.model_type)
            .field("labels", &self.labels)
            .field("device", &self.device)
            .field("max_len", &self.max_len)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Tokenizer settings from `tokenizer_config.json` (absent: the defaults of
/// the model type's tokenizer in transformers).
struct TokenizerSettings {
    lower_case: bool,
    strip_accents: Option<bool>,
    add_prefix_space: Option<bool>,
}

fn read_json(dir: &Path, file: &str) -> Result<Option<serde_json::Value>, ClassifyError> {
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| model_error(dir, format!("{file}: not valid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(model_error(dir, format!("{file}: cannot read: {e}"))),
    }
}

fn require_file(dir: &Path, file: &str, what: &str) -> Result<PathBuf, ClassifyError> {
    let path = dir.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(model_error(
            dir,
            format!("{file}: missing ({what} is needed for this model type)"),
        ))
    }
}

/// Checks that `config.json` parses as rust-bert's config type for the
/// model (rust-bert itself panics on a config it cannot parse).
fn check_config<T: serde::de::DeserializeOwned>(
    dir: &Path,
    text: &str,
) -> Result<T, ClassifyError> {
    serde_json::from_str::<T>(text).map_err(|e| {
        model_error(
            dir,
            format!("config.json: does not fit rust-bert's config for this model type: {e}"),
        )
    })
}

/// `id2label` as a list indexed by class id.
fn labels_of(dir: &Path, config: &serde_json::Value) -> Result<Vec<String>, ClassifyError> {
    let map = config
        .get("id2label")
        .and_then(serde_json::Value::as_object)
        .ok_or_else(|| {
            model_error(
                dir,
                "config.json: no id2label object (not a classification model?)",
            )
        })?;
    let mut labels = vec![None; map.len()];
    for (k, v) in map {
        let id: usize = k.parse().map_err(|_| {
            model_error(
                dir,
                format!("config.json: id2label key {k:?} is not an integer"),
            )
        })?;
        let name = v.as_str().ok_or_else(|| {
            model_error(dir, format!("config.json: id2label[{k}] is not a string"))
        })?;
        let slot = labels.get_mut(id).ok_or_else(|| {
            model_error(
                dir,
                format!("config.json: id2label ids are not 0..{}", map.len()),
            )
        })?;
        *slot = Some(name.to_string());
    }
    let labels: Option<Vec<String>> = labels.into_iter().collect();
    match labels {
        Some(l) if l.len() >= 2 => Ok(l),
        Some(_) => Err(model_error(
            dir,
            "config.json: id2label has fewer than two labels",
        )),
        None => Err(model_error(
            dir,
            "config.json: id2label ids are not contiguous",
        )),
    }
}

/// SHA-256 of `config.json` and the weights, for the model version.
fn content_hash(dir: &Path, files: &[&Path]) -> Result<String, ClassifyError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut f = fs::File::open(path)
            .map_err(|e| model_error(dir, format!("{name}: cannot open: {e}")))?;
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| model_error(dir, format!("{name}: cannot read: {e}")))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl HfSequenceClassifier {
    /// Loads the model in `dir` (`config.json` with `model_type` and
    /// `id2label`, weights as one of [`WEIGHT_FILES`], the tokenizer files of
    /// the model type, optionally `tokenizer_config.json`).
    ///
    /// `max_tokens` caps the tokens per text below the model's maximum.
    pub fn load(
        dir: &Path,
        device: TorchDevice,
        max_tokens: Option<usize>,
    ) -> Result<Self, ClassifyError> {
        if !dir.is_dir() {
            return Err(model_error(dir, "model directory does not exist"));
        }
        let config_path = require_file(dir, "config.json", "the model configuration")?;
        let config_text = fs::read_to_string(&config_path)
            .map_err(|e| model_error(dir, format!("config.json: cannot read: {e}")))?;
        let config: serde_json::Value = serde_json::from_str(&config_text)
            .map_err(|e| model_error(dir, format!("config.json: not valid JSON: {e}")))?;
        let model_type = config
            .get("model_type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| model_error(dir, "config.json: no model_type"))?
            .to_string();
        let labels = labels_of(dir, &config)?;
        let tok_config = read_json(dir, "tokenizer_config.json")?;
        let tok_bool = |key: &str| {
            tok_config
                .as_ref()
                .and_then(|c| c.get(key))
                .and_then(serde_json::Value::as_bool)
        };
        let max_positions = config
            .get("max_position_embeddings")
            .and_then(serde_json::Value::as_u64)
            .map(|n| n as usize);

        // Per model type: rust-bert's ModelType, the tokenizer files, the
        // default lower-casing of transformers' tokenizer, and the longest
        // input in tokens.
        let wordpiece = || require_file(dir, "vocab.txt", "the WordPiece vocabulary vocab.txt");
        let bpe = || -> Result<(PathBuf, Option<PathBuf>), ClassifyError> {
            Ok((
                require_file(dir, "vocab.json", "the BPE vocabulary vocab.json")?,
                Some(require_file(
                    dir,
                    "merges.txt",
                    "the BPE merges merges.txt",
                )?),
            ))
        };
        let spm = |file: &str| require_file(dir, file, "the SentencePiece model");
        let (rb_type, vocab, merges, default_lower, max_len) = match model_type.as_str() {
            "bert" => {
                check_config::<rust_bert::bert::BertConfig>(dir, &config_text)?;
                (
                    ModelType::Bert,
                    wordpiece()?,
                    None,
                    true,
                    max_positions.unwrap_or(512),
                )
            }
            "distilbert" => {
                check_config::<rust_bert::distilbert::DistilBertConfig>(dir, &config_text)?;
                (
                    ModelType::DistilBert,
                    wordpiece()?,
                    None,
                    true,
                    max_positions.unwrap_or(512),
                )
            }
            "mobilebert" => {
                check_config::<rust_bert::mobilebert::MobileBertConfig>(dir, &config_text)?;
                (
                    ModelType::MobileBert,
                    wordpiece()?,
                    None,
                    true,
                    max_positions.unwrap_or(512),
                )
            }
            "electra" => {
                check_config::<ElectraConfig>(dir, &config_text)?;
                (
                    ModelType::Electra,
                    wordpiece()?,
                    None,
                    true,
                    max_positions.unwrap_or(512),
                )
            }
            // Positions of RoBERTa models start after the padding index.
            "roberta" => {
                check_config::<rust_bert::roberta::RobertaConfig>(dir, &config_text)?;
                let (v, m) = bpe()?;
                (
                    ModelType::Roberta,
                    v,
                    m,
                    false,
                    max_positions.unwrap_or(514).saturating_sub(2),
                )
            }
            "xlm-roberta" => {
                check_config::<rust_bert::roberta::RobertaConfig>(dir, &config_text)?;
                let v = spm("sentencepiece.bpe.model")?;
                (
                    ModelType::XLMRoberta,
                    v,
                    None,
                    false,
                    max_positions.unwrap_or(514).saturating_sub(2),
                )
            }
            "deberta" => {
                check_config::<rust_bert::deberta::DebertaConfig>(dir, &config_text)?;
                let (v, m) = bpe()?;
                (
                    ModelType::Deberta,
                    v,
                    m,
                    false,
                    max_positions.unwrap_or(512),
                )
            }
            "deberta-v2" => {
                check_config::<rust_bert::deberta_v2::DebertaV2Config>(dir, &config_text)?;
                (
                    ModelType::DebertaV2,
                    spm("spm.model")?,
                    None,
                    false,
                    max_positions.unwrap_or(512),
                )
            }
            "albert" => {
                check_config::<rust_bert::albert::AlbertConfig>(dir, &config_text)?;
                (
                    ModelType::Albert,
                    spm("spiece.model")?,
                    None,
                    true,
                    max_positions.unwrap_or(512),
                )
            }
            "xlnet" => {
                check_config::<rust_bert::xlnet::XLNetConfig>(dir, &config_text)?;
                (ModelType::XLNet, spm("spiece.model")?, None, false, 512)
            }
            other => {
                return Err(model_error(
                    dir,
                    format!(
                        "config.json: model_type {other:?} is not supported; supported: {}",
                        SUPPORTED_MODEL_TYPES.join(", ")
                    ),
                ))
            }
        };
        let max_len = max_tokens.map_or(max_len, |m| m.min(max_len));
        if max_len < 2 {
            return Err(model_error(
                dir,
                format!("maximum input of {max_len} tokens is too short"),
            ));
        }
        let weights = WEIGHT_FILES
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                let sharded = dir.join("model.safetensors.index.json").is_file()
                    || dir.join("pytorch_model.bin.index.json").is_file();
                model_error(
                    dir,
                    format!(
                        "no weights: none of {} found{}",
                        WEIGHT_FILES.join(", "),
                        if sharded {
                            " (sharded weights are not supported)"
                        } else {
                            ""
                        }
                    ),
                )
            })?;
        let weights_name = weights
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let device = device.resolve().map_err(|e| model_error(dir, e))?;

        let settings = TokenizerSettings {
            lower_case: tok_bool("do_lower_case").unwrap_or(default_lower),
            // rust-bert rejects these options for tokenizers without them.
            strip_accents: match rb_type {
                ModelType::Bert
                | ModelType::DistilBert
                | ModelType::MobileBert
                | ModelType::Electra
                | ModelType::DebertaV2
                | ModelType::XLNet => tok_bool("strip_accents"),
                _ => None,
            },
            add_prefix_space: match rb_type {
                ModelType::Roberta | ModelType::DebertaV2 => tok_bool("add_prefix_space"),
                _ => None,
            },
        };
        let path_str = |p: &Path, file: &str| -> Result<String, ClassifyError> {
            p.to_str()
                .map(str::to_string)
                .ok_or_else(|| model_error(dir, format!("{file}: path is not UTF-8")))
        };
        let vocab_name = vocab
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let vocab_str = path_str(&vocab, &vocab_name)?;
        let merges_str = merges
            .as_deref()
            .map(|m| path_str(m, "merges.txt"))
            .transpose()?;
        let tokenizer = guarded(dir, &vocab_name, || {
            TokenizerOption::from_file(
                rb_type,
                &vocab_str,
                merges_str.as_deref(),
                settings.lower_case,
                settings.strip_accents,
                settings.add_prefix_space,
            )
            .map_err(|e| format!("cannot load the tokenizer: {e}"))
        })?;
        let pad_id = tokenizer.get_pad_id().ok_or_else(|| {
            model_error(
                dir,
                format!("{vocab_name}: the tokenizer has no padding token"),
            )
        })?;

        let n_labels = labels.len() as i64;
        let net = guarded(dir, &weights_name, || {
            if rb_type == ModelType::Electra {
                let cfg: ElectraConfig =
                    serde_json::from_str(&config_text).map_err(|e| e.to_string())?;
                let mut vs = nn::VarStore::new(device);
                let model = ElectraClassifier::new(&vs.root(), &cfg, n_labels);
                vs.load(&weights)
                    .map_err(|e| format!("cannot load the weights: {e}"))?;
                Ok(Net::Electra(Box::new(model)))
            } else {
                let sc = SequenceClassificationConfig {
                    model_type: rb_type,
                    model_resource: ModelResource::Torch(Box::new(LocalResource::from(
                        weights.clone(),
                    ))),
                    config_resource: Box::new(LocalResource::from(config_path.clone())),
                    vocab_resource: Box::new(LocalResource::from(vocab.clone())),
                    merges_resource: merges
                        .clone()
                        .map(|m| Box::new(LocalResource::from(m)) as Box<_>),
                    lower_case: settings.lower_case,
                    strip_accents: settings.strip_accents,
                    add_prefix_space: settings.add_prefix_space,
                    device,
                    kind: None,
                };
                SequenceClassificationOption::new(&sc)
                    .map(|m| Net::RustBert(Box::new(m)))
                    .map_err(|e| format!("cannot build the model or load the weights: {e}"))
            }
        })?;

        let hash = content_hash(dir, &[&config_path, &weights])?;
        let dir_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let model = Self {
            dir: dir.to_path_buf(),
            model_type,
            labels,
            device,
            max_len,
            pad_id,
            version: format!("rust-bert:{dir_name}:{hash}"),
            inner: Mutex::new(Inner { tokenizer, net }),
        };
        // A forward pass now: a head whose size does not match id2label, or
        // weights that load but do not run, fail here rather than on the
        // first document.
        let probe = model.logits(&["a"])?;
        if probe.first().map(Vec::len) != Some(model.labels.len()) {
            return Err(model_error(
                dir,
                format!(
                    "config.json: id2label has {} labels but the model outputs {}",
                    model.labels.len(),
                    probe.first().map_or(0, Vec::len)
                ),
            ));
        }
        Ok(model)
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `model_type` from `config.json`.
    pub fn model_type(&self) -> &str {
        &self.model_type
    }

    /// Label names by class id (`id2label`).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Most tokens per text (longer texts are cut).
    pub fn max_tokens(&self) -> usize {
        self.max_len
    }

    /// Whether inference runs on a CUDA GPU.
    pub fn on_cuda(&self) -> bool {
        self.device.is_cuda()
    }

    /// `rust-bert:<dir name>:<hash of config.json and weights>`.
    pub fn version(&self) -> &str {
        &self.version
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic inside the lock is caught before the guard drops, so the
        // mutex is not poisoned in practice; recover anyway.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Token ids of each text as the model sees them (special tokens added,
    /// cut to [`Self::max_tokens`]).
    pub fn token_ids(&self, texts: &[&str]) -> Vec<Vec<i64>> {
        let inner = self.lock();
        self.encode(&inner.tokenizer, texts)
    }

    fn encode(&self, tokenizer: &TokenizerOption, texts: &[&str]) -> Vec<Vec<i64>> {
        let cut: Vec<&str> = texts
            .iter()
            .map(|t| cut_at(t, self.max_len.saturating_mul(BYTES_PER_TOKEN)))
            .collect();
        tokenizer
            .encode_list(&cut, self.max_len, &TruncationStrategy::LongestFirst, 0)
            .into_iter()
            .map(|t| t.token_ids)
            .collect()
    }

    /// Logits (one row per text, one column per label) for one batch.
    pub fn logits(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ClassifyError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inner = self.lock();
        let encoded = self.encode(&inner.tokenizer, texts);
        let width = encoded.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let rows = encoded.len();
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for row in &encoded {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(self.pad_id, width - row.len()));
            mask.extend(std::iter::repeat_n(1i64, row.len()));
            mask.extend(std::iter::repeat_n(0i64, width - row.len()));
        }
        let n_labels = self.labels.len();
        let device = self.device;
        guarded(&self.dir, "inference", || {
            let shape = [rows as i64, width as i64];
            let ids = Tensor::from_slice(&ids).view(shape).to(device);
            let mask = Tensor::from_slice(&mask).view(shape).to(device);
            let types = ids.zeros_like();
            let logits = tch::no_grad(|| match &inner.net {
                Net::RustBert(m) => {
                    Ok(m.forward_t(Some(&ids), Some(&mask), Some(&types), None, None, false))
                }
                Net::Electra(m) => m.forward(&ids, &mask, &types),
            })?;
            let logits = logits.to_kind(Kind::Float).to(Device::Cpu);
            let size = logits.size();
            if size != [rows as i64, n_labels as i64] {
                return Err(format!(
                    "the model output has shape {size:?}, expected [{rows}, {n_labels}]"
                ));
            }
            let flat = Vec::<f32>::try_from(&logits.contiguous().view([-1]))
                .map_err(|e: tch::TchError| e.to_string())?;
            Ok(flat.chunks(n_labels).map(<[f32]>::to_vec).collect())
        })
    }
}

/// Cut `text` to at most `max` bytes at a char boundary.
fn cut_at(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Softmax of one row of logits.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    if sum > 0.0 && sum.is_finite() {
        exps.iter().map(|e| e / sum).collect()
    } else {
        vec![0.0; logits.len()]
    }
}

/// Document classifier: a Hugging Face sequence-classification model for
/// hate speech, the lexicon classifier for everything else (see the module
/// docs for what comes from where).
#[derive(Debug)]
pub struct RustBertClassifier {
    model: HfSequenceClassifier,
    lexicon: LexiconClassifier,
    classes: Vec<HateClass>,
    options: RustBertOptions,
}

impl RustBertClassifier {
    /// Loads the model in `dir` (e.g. `models/<name>`) and checks that its
    /// labels map onto hate / offensive / none.
    pub fn load(dir: impl AsRef<Path>, options: RustBertOptions) -> Result<Self, ClassifyError> {
        let dir = dir.as_ref();
        if options.batch_size == 0 {
            return Err(model_error(dir, "batch_size must be at least 1"));
        }
        if !(options.threshold > 0.0 && options.threshold < 1.0) {
            return Err(model_error(
                dir,
                format!(
                    "threshold {} must be strictly between 0 and 1",
                    options.threshold
                ),
            ));
        }
        let model = HfSequenceClassifier::load(dir, options.device, options.max_tokens)?;
        let classes = map_labels(dir, model.labels(), &options.label_map)?;
        Ok(Self {
            model,
            lexicon: LexiconClassifier::new(),
            classes,
            options,
        })
    }

    /// The underlying model.
    pub fn model(&self) -> &HfSequenceClassifier {
        &self.model
    }

    /// Each model label with the class it counts for, by class id.
    pub fn label_classes(&self) -> Vec<(&str, HateClass)> {
        self.model
            .labels()
            .iter()
            .map(String::as_str)
            .zip(self.classes.iter().copied())
            .collect()
    }

    /// `(hate score, class)` from one row of logits: the score is the
    /// probability of all hate and offensive labels together; the class is
    /// none below the threshold, else the likelier of hate and offensive.
    pub fn decide(&self, logits: &[f32]) -> (f32, HateClass) {
        let probs = softmax(logits);
        let (mut hate, mut offensive) = (0.0f32, 0.0f32);
        for (p, class) in probs.iter().zip(&self.classes) {
            match class {
                HateClass::Hate => hate += p,
                HateClass::Offensive => offensive += p,
                HateClass::None => {}
            }
        }
        let score = (hate + offensive).clamp(0.0, 1.0);
        let class = if score < self.options.threshold {
            HateClass::None
        } else if hate >= offensive {
            HateClass::Hate
        } else {
            HateClass::Offensive
        };
        (score, class)
    }

    fn combine(&self, mut labels: Labels, logits: &[f32], lang: Option<&str>) -> Labels {
        let (score, class) = self.decide(logits);
        labels.hate.score = score;
        labels.hate.class = class;
        if class == HateClass::None {
            labels.hate.target = None;
            labels.hate.evidence.clear();
        }
        let base = |l: &str| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase();
        if let Some(l) = lang {
            let l = base(l);
            if self.options.trained_languages.iter().any(|t| base(t) == l) {
                labels.language_support = LanguageSupport::Trained;
            }
        }
        labels.model_version = self.model.version().to_string();
        labels
    }
}

/// The class of each model label: explicit map first, then the defaults.
fn map_labels(
    dir: &Path,
    labels: &[String],
    explicit: &BTreeMap<String, HateClass>,
) -> Result<Vec<HateClass>, ClassifyError> {
    let explicit: BTreeMap<String, HateClass> = explicit
        .iter()
        .map(|(k, v)| (k.trim().to_lowercase(), *v))
        .collect();
    let lower: Vec<String> = labels.iter().map(|l| l.trim().to_lowercase()).collect();
    let unknown: Vec<&str> = explicit
        .keys()
        .filter(|k| !lower.contains(k))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(model_error(
            dir,
            format!(
                "config.json: the label map names {} not among the model's labels ({})",
                unknown.join(", "),
                labels.join(", ")
            ),
        ));
    }
    let mut classes = Vec::with_capacity(labels.len());
    let mut unmapped = Vec::new();
    for (label, low) in labels.iter().zip(&lower) {
        match explicit
            .get(low)
            .copied()
            .or_else(|| default_hate_class(label, labels.len()))
        {
            Some(c) => classes.push(c),
            None => unmapped.push(label.as_str()),
        }
    }
    if !unmapped.is_empty() {
        return Err(model_error(
            dir,
            format!(
                "config.json: labels {} have no class; map them to hate, offensive or none",
                unmapped.join(", ")
            ),
        ));
    }
    if !classes.contains(&HateClass::None) || classes.iter().all(|c| *c == HateClass::None) {
        return Err(model_error(
            dir,
            format!(
                "config.json: labels ({}) must map to at least one of hate/offensive and one none",
                labels.join(", ")
            ),
        ));
    }
    Ok(classes)
}

impl Classifier for RustBertClassifier {
    fn model_version(&self) -> &str {
        self.model.version()
    }

    fn classify(&self, text: &str, lang: Option<&str>) -> Result<Labels, ClassifyError> {
        let input = ClassifyInput {
            id: "",
            text,
            lang,
            context: None,
        };
        self.classify_batch(&[input])
            .pop()
            .unwrap_or_else(|| Err(model_error(self.model.dir(), "no result for the input")))
    }

    fn classify_batch(&self, inputs: &[ClassifyInput<'_>]) -> Vec<Result<Labels, ClassifyError>> {
        let mut out: Vec<Result<Labels, ClassifyError>> = inputs
            .iter()
            .map(|i| self.lexicon.classify(i.text, i.lang))
            .collect();
        // Similar lengths in one batch waste less on padding.
        let mut order: Vec<usize> = (0..inputs.len()).filter(|&i| out[i].is_ok()).collect();
        order.sort_by_key(|&i| inputs[i].text.len());
        for chunk in order.chunks(self.options.batch_size) {
            let texts: Vec<&str> = chunk.iter().map(|&i| truncate(inputs[i].text)).collect();
            match self.model.logits(&texts) {
                Ok(rows) => {
                    for (&i, row) in chunk.iter().zip(rows) {
                        let lang = inputs[i]
                            .lang
                            .filter(|l| !l.trim().is_empty())
                            .or_else(|| guess_language(inputs[i].text));
                        let slot = &mut out[i];
                        if let Ok(labels) = std::mem::replace(slot, Ok(Labels::default())) {
                            *slot = Ok(self.combine(labels, &row, lang));
                        }
                    }
                }
                Err(e) => {
                    for &i in chunk {
                        out[i] = Err(e.clone());
                    }
                }
            }
        }
        out
    }

    fn relevance(&self, text: &str, lang: Option<&str>) -> Result<f32, ClassifyError> {
        self.lexicon.relevance(text, lang)
    }
}
