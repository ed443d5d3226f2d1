//! The `[classifier]` section: which classifier labels documents and how the
//! encoder-based one is run.
//!
//! ```toml
//! [classifier]
//! kind = "e5"            # or "lexicon", or "rust-bert" (a build with `--features rust-bert`)
//! models_dir = "models"  # fetched files, and the classifier's own models in models/classifier/
//! batch_size = 1         # texts per encoder forward pass (1: a text's labels never depend on its batch mates)
//! threads = 2            # encoder threads (0 = all cores)
//! max_units = 12         # windows of a long text encoded per document
//! relevance_floor = 0.1  # lexicon relevance at which a text is in migration scope
//! [classifier.thresholds]
//! hate = 0.6             # overrides the calibrated threshold of a head, all languages
//!
//! # kind = "rust-bert": a Hugging Face sequence-classification model from local files
//! [classifier.rust_bert]
//! model_dir = "models/hf/my-hate-model"  # as save_pretrained writes it: config.json, weights, vocabulary
//! device = "auto"                        # "auto" (CUDA when present), "cpu", "cuda" or "cuda:N"
//! batch_size = 16
//! max_tokens = 256                       # optional; the model's own maximum when unset
//! trained_languages = ["en"]             # languages the model was trained and evaluated on
//! threshold = 0.5                        # hate score at or above which the class is hate/offensive
//! [classifier.rust_bert.labels]          # model label -> hate, offensive or none
//! LABEL_0 = "none"
//! LABEL_1 = "hate"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which classifier produces labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClassifierKind {
    /// The cascade: lexicon and rules, a fast n-gram model, and the
    /// fine-tuned multilingual-e5-small with trained heads.
    #[default]
    E5,
    /// Lexicons and rules only (no model files needed).
    Lexicon,
    /// A Hugging Face sequence-classification model through rust-bert and
    /// libtorch (`[classifier.rust_bert]`); needs a build with the
    /// `rust-bert` feature.
    #[serde(rename = "rust-bert")]
    RustBert,
}

impl ClassifierKind {
    /// Name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassifierKind::E5 => "e5",
            ClassifierKind::Lexicon => "lexicon",
            ClassifierKind::RustBert => "rust-bert",
        }
    }
}

/// Head names a threshold override may name.
pub const THRESHOLD_HEADS: [&str; 8] = [
    "relevance",
    "hate",
    "abusive",
    "collective",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

/// The `[classifier]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// Which classifier.
    pub kind: ClassifierKind,
    /// Directory with the encoder files and `heads/` (relative paths are
    /// taken from the working directory).
    pub models_dir: PathBuf,
    /// Texts (windows) per encoder forward pass. 1, the default, keeps a
    /// text's labels independent of what it was batched with (the int8
    /// encoder quantizes activations per batch) and needs half the memory
    /// of batches of 32 at the same speed.
    pub batch_size: usize,
    /// Encoder threads, each with its own single-threaded session (and the
    /// threads of the cheap stages for a large batch); 0 means one per core.
    /// Each session holds its own copy of the weights, ~36 MB resident
    /// (BENCHMARKS.md), so set it on machines with many cores and little
    /// memory.
    pub threads: usize,
    /// Most units (windows of whole sentences, about a hundred tokens)
    /// encoded per long document: the lead, windows with migration terms
    /// and windows the fast model flags first. Short texts are one unit.
    #[serde(alias = "max_sentences")]
    pub max_units: usize,
    /// Lexicon relevance at or above which a text is in migration scope.
    pub relevance_floor: f32,
    /// Per-head decision thresholds overriding the calibrated ones (all
    /// languages), e.g. `hate = 0.6`.
    pub thresholds: BTreeMap<String, f32>,
    /// The rust-bert model (`kind = "rust-bert"`).
    pub rust_bert: Option<RustBertConfig>,
}

/// Classes a rust-bert model label may map to.
pub const HATE_CLASSES: [&str; 3] = ["hate", "offensive", "none"];

/// The `[classifier.rust_bert]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RustBertConfig {
    /// Directory of the model (`config.json`, `rust_model.ot`, vocabulary).
    pub model_dir: PathBuf,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    #[serde(default = "default_device")]
    pub device: String,
    /// Texts per forward pass.
    #[serde(default = "default_rb_batch")]
    pub batch_size: usize,
    /// Most tokens per text; the model's own maximum when unset.
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// Languages the model was trained and evaluated on.
    #[serde(default)]
    pub trained_languages: Vec<String>,
    /// Hate score at or above which the class is hate or offensive.
    #[serde(default = "default_rb_threshold")]
    pub threshold: f32,
    /// Model label -> `hate`, `offensive` or `none`, overriding the
    /// defaults for common label names.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_device() -> String {
    "auto".into()
}

fn default_rb_batch() -> usize {
    16
}

fn default_rb_threshold() -> f32 {
    0.5
}

/// Where a rust-bert model runs, parsed from `device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// CUDA when present, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// The CUDA GPU of this index.
    Cuda(usize),
}

impl RustBertConfig {
    /// The parsed `device`.
    pub fn device_spec(&self) -> Result<DeviceSpec, String> {
        match self.device.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceSpec::Cuda)
                .ok_or_else(|| {
                    format!(
                        "classifier.rust_bert.device: {:?}; expected auto, cpu, cuda or cuda:N",
                        self.device
                    )
                }),
        }
    }

    fn validate_into(&self, errors: &mut Vec<String>) {
        if self.model_dir.as_os_str().is_empty() {
            errors.push("classifier.rust_bert.model_dir: must not be empty".into());
        }
        if let Err(e) = self.device_spec() {
            errors.push(e);
        }
        if self.batch_size == 0 || self.batch_size > 4096 {
            errors.push(format!(
                "classifier.rust_bert.batch_size: {} must be between 1 and 4096",
                self.batch_size
            ));
        }
        if self.max_tokens == Some(0) {
            errors.push("classifier.rust_bert.max_tokens: must be at least 1".into());
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0 && self.threshold < 1.0) {
            errors.push(format!(
                "classifier.rust_bert.threshold: {} must be strictly between 0 and 1",
                self.threshold
            ));
        }
        for lang in &self.trained_languages {
            let ok = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase());
            if !ok {
                errors.push(format!(
                    "classifier.rust_bert.trained_languages: {lang:?} is not a lowercase ISO 639 code"
                ));
            }
        }
        if let Err(e) = self.label_classes() {
            errors.extend(e);
        }
    }

    /// The parsed `labels`: model label -> class. Every bad entry is one
    /// message naming its key. Validation and the classifier builder both
    /// read the map through here.
    pub fn label_classes(
        &self,
    ) -> Result<BTreeMap<String, mediawatch_core::labels::HateClass>, Vec<String>> {
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        for (label, class) in &self.labels {
            match class.parse() {
                Ok(c) => {
                    out.insert(label.clone(), c);
                }
                Err(_) => errors.push(format!(
                    "classifier.rust_bert.labels.{label}: {class:?}; expected one of {}",
                    HATE_CLASSES.join(", ")
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

fn default_models_dir() -> PathBuf {
    PathBuf::from("models")
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            kind: ClassifierKind::default(),
            models_dir: default_models_dir(),
            batch_size: 1,
            threads: 2,
            max_units: 12,
            relevance_floor: 0.1,
            thresholds: BTreeMap::new(),
            rust_bert: None,
        }
    }
}

impl ClassifierConfig {
    /// Appends every problem of this section to `errors`, each naming its key.
    pub fn validate_into(&self, errors: &mut Vec<String>) {
        if self.batch_size == 0 || self.batch_size > 4096 {
            errors.push(format!(
                "classifier.batch_size: {} must be between 1 and 4096",
                self.batch_size
            ));
        }
        if self.threads > 1024 {
            errors.push(format!(
                "classifier.threads: {} is more than 1024",
                self.threads
            ));
        }
        if self.max_units == 0 || self.max_units > 10_000 {
            errors.push(format!(
                "classifier.max_units: {} must be between 1 and 10000",
                self.max_units
            ));
        }
        if !(0.0..=1.0).contains(&self.relevance_floor) {
            errors.push(format!(
                "classifier.relevance_floor: {} must be between 0 and 1",
                self.relevance_floor
            ));
        }
        if self.models_dir.as_os_str().is_empty() {
            errors.push("classifier.models_dir: must not be empty".into());
        }
        match (&self.rust_bert, self.kind) {
            (Some(rb), _) => rb.validate_into(errors),
            (None, ClassifierKind::RustBert) => errors.push(
                "classifier.rust_bert: kind = \"rust-bert\" needs a [classifier.rust_bert] section with model_dir".into(),
            ),
            (None, _) => {}
        }
        for (name, t) in &self.thresholds {
            if !THRESHOLD_HEADS.contains(&name.as_str()) {
                errors.push(format!(
                    "classifier.thresholds.{name}: unknown head; expected one of {}",
                    THRESHOLD_HEADS.join(", ")
                ));
            } else if !(t.is_finite() && *t > 0.0 && *t < 1.0) {
                errors.push(format!(
                    "classifier.thresholds.{name}: {t} must be strictly between 0 and 1"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap {
        classifier: ClassifierConfig,
    }

    #[test]
    fn parses_and_defaults() {
        let w: Wrap = toml::from_str("[classifier]\nkind = \"lexicon\"\nbatch_size = 8\n").unwrap();
        assert_eq!(w.classifier.kind, ClassifierKind::Lexicon);
        assert_eq!(w.classifier.batch_size, 8);
        assert_eq!(w.classifier.models_dir, PathBuf::from("models"));
        let mut errors = Vec::new();
        w.classifier.validate_into(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(ClassifierConfig::default().kind, ClassifierKind::E5);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(toml::from_str::<Wrap>("[classifier]\nkinds = \"e5\"\n").is_err());
        assert!(toml::from_str::<Wrap>("[classifier]\nkind = \"bert\"\n").is_err());
        let w: Wrap = toml::from_str(
            "[classifier]\nbatch_size = 0\nrelevance_floor = 2.0\n[classifier.thresholds]\nhat = 0.5\nhate = 1.5\n",
        )
        .unwrap();
        let mut errors = Vec::new();
        w.classifier.validate_into(&mut errors);
        let all = errors.join("\n");
        assert!(all.contains("classifier.batch_size"), "{all}");
        assert!(all.contains("classifier.relevance_floor"), "{all}");
        assert!(
            all.contains("classifier.thresholds.hat: unknown head"),
            "{all}"
        );
        assert!(all.contains("classifier.thresholds.hate: 1.5"), "{all}");
        assert_eq!(errors.len(), 4);
    }

    #[test]
    fn rust_bert_section_parses_and_validates() {
        let w: Wrap = toml::from_str(
            "[classifier]\nkind = \"rust-bert\"\n[classifier.rust_bert]\nmodel_dir = \"models/hf/x\"\ndevice = \"cuda:1\"\nmax_tokens = 128\ntrained_languages = [\"en\", \"de\"]\n[classifier.rust_bert.labels]\nLABEL_1 = \"hate\"\n",
        )
        .unwrap();
        assert_eq!(w.classifier.kind, ClassifierKind::RustBert);
        let rb = w.classifier.rust_bert.clone().unwrap();
        assert_eq!(rb.device_spec(), Ok(DeviceSpec::Cuda(1)));
        assert_eq!(
            (rb.batch_size, rb.max_tokens, rb.threshold),
            (16, Some(128), 0.5)
        );
        let mut errors = Vec::new();
        w.classifier.validate_into(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");

        // The kind without its section, and bad values, each name the key.
        let w: Wrap = toml::from_str("[classifier]\nkind = \"rust-bert\"\n").unwrap();
        let mut errors = Vec::new();
        w.classifier.validate_into(&mut errors);
        assert!(errors[0].starts_with("classifier.rust_bert:"), "{errors:?}");
        let w: Wrap = toml::from_str(
            "[classifier]\nkind = \"rust-bert\"\n[classifier.rust_bert]\nmodel_dir = \"m\"\ndevice = \"gpu\"\nthreshold = 1.0\ntrained_languages = [\"English\"]\n[classifier.rust_bert.labels]\nLABEL_1 = \"toxic\"\n",
        )
        .unwrap();
        let mut errors = Vec::new();
        w.classifier.validate_into(&mut errors);
        let all = errors.join("\n");
        for key in ["device", "threshold", "trained_languages", "labels.LABEL_1"] {
            assert!(
                all.contains(&format!("classifier.rust_bert.{key}")),
                "{all}"
            );
        }
        assert!(toml::from_str::<Wrap>(
            "[classifier.rust_bert]\nmodel_dir = \"m\"\ndevise = \"cpu\"\n"
        )
        .is_err());
    }
}
