//! The `[classifier]` section: which classifier labels documents and how the
//! encoder-based one is run.
//!
//! ```toml
//! [classifier]
//! kind = "e5"            # or "lexicon"
//! models_dir = "models"  # encoder files and trained heads (models/heads/)
//! batch_size = 32        # sentences per encoder call
//! threads = 2            # encoder threads (0 = all cores)
//! max_sentences = 24     # sentences encoded per document
//! relevance_floor = 0.1  # lexicon relevance below which the encoder is skipped
//! [classifier.thresholds]
//! hate = 0.6             # overrides the calibrated threshold of a head, all languages
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which classifier produces labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClassifierKind {
    /// multilingual-e5-small sentence embeddings + trained heads + the
    /// lexicon rules for evidence and counter-speech.
    #[default]
    E5,
    /// Lexicons and rules only (no model files needed).
    Lexicon,
}

impl ClassifierKind {
    /// Name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassifierKind::E5 => "e5",
            ClassifierKind::Lexicon => "lexicon",
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
    /// Sentences per encoder call.
    pub batch_size: usize,
    /// Encoder threads; 0 means one per core.
    pub threads: usize,
    /// Most sentences encoded per document (the lead and sentences with
    /// migration terms first).
    pub max_sentences: usize,
    /// Lexicon relevance below which a document skips the encoder.
    pub relevance_floor: f32,
    /// Per-head decision thresholds overriding the calibrated ones (all
    /// languages), e.g. `hate = 0.6`.
    pub thresholds: BTreeMap<String, f32>,
}

fn default_models_dir() -> PathBuf {
    PathBuf::from("models")
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            kind: ClassifierKind::default(),
            models_dir: default_models_dir(),
            batch_size: 32,
            threads: 2,
            max_sentences: 24,
            relevance_floor: 0.1,
            thresholds: BTreeMap::new(),
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
        if self.max_sentences == 0 || self.max_sentences > 10_000 {
            errors.push(format!(
                "classifier.max_sentences: {} must be between 1 and 10000",
                self.max_sentences
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
}
