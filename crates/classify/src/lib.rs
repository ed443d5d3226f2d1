//! Classifiers for migration coverage.
//!
//! [`Classifier`] is the seam the pipeline depends on: text (with its
//! language and, for a comment, its article as context) in, [`Labels`] out.
//! It is object-safe and batched, so the pipeline holds an
//! `Arc<dyn Classifier>` and the configuration picks the implementation.
//!
//! - [`CascadeClassifier`] (the default): the lexicon and rules, a fast
//!   n-gram model ([`fast`]) and the fine-tuned encoder with trained heads
//!   ([`heads`]), each run only where the one before it says it is needed
//!   (see [`cascade`'s docs](CascadeClassifier)). [`train`] and [`data`]
//!   fit it, [`eval`] measures it, [`card`] writes its model card.
//! - [`LexiconClassifier`]: per-language lexicons (data files under
//!   `lexicons/`), matched with Aho-Corasick on folded text (lowercase, no
//!   diacritics, Cyrillic transliterated), plus sentence-level rules for
//!   negation, condemnation and reported speech. Transparent (every
//!   non-zero score comes with evidence spans) and blunt (no syntax, irony
//!   or wider context): the baseline, and the cascade's evidence.

pub mod attribution;
pub mod build;
pub mod card;
mod cascade;
pub mod data;
pub mod eval;
pub mod fast;
mod hashing;
pub mod heads;
mod lang;
mod lexicon;
mod normalize;
mod rules;
#[cfg(test)]
mod tests;
mod text;
pub mod train;

// Hugging Face sequence-classification models on libtorch (needs libtorch
// 2.4 at build and run time; see .ci/torch.sh).
#[cfg(feature = "rust-bert")]
pub mod rustbert;
#[cfg(feature = "rust-bert")]
pub use rustbert::{HfSequenceClassifier, RustBertClassifier, RustBertOptions, TorchDevice};

use std::sync::OnceLock;

pub use mediawatch_core::labels::{
    CueType, EvidenceSpan, HateClass, LabelFlag, Labels, LanguageSupport,
};

pub use cascade::{model_version, CascadeClassifier, CascadeOptions, Route, SentenceInfo};
pub use hashing::HashingEncoder;
pub use lang::guess_language;
pub use mediawatch_embed::{EmbedError, Encoder};

use lexicon::Lexicon;

/// One document to classify in a batch.
#[derive(Debug, Clone, Copy)]
pub struct ClassifyInput<'a> {
    /// Document id (for the caller's bookkeeping and error messages).
    pub id: &'a str,
    /// Text to classify (title and body).
    pub text: &'a str,
    /// ISO 639-1 code when known; guessed from the text otherwise.
    pub lang: Option<&'a str>,
    /// For a comment, a reply or a post in a thread: the title and lead of
    /// the article (or the post) it belongs to. The text inherits migration
    /// scope from it: "send them all back" under a story about a reception
    /// centre is about migrants.
    pub context: Option<&'a str>,
}

/// Errors from classifiers.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClassifyError {
    /// A built-in lexicon data file is malformed (a bug in this crate's
    /// data, caught by its tests).
    #[error("lexicon {lang}: line {line}: {reason}")]
    Lexicon {
        /// Lexicon language code.
        lang: &'static str,
        /// 1-based line in the data file.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// The matching automaton for a lexicon could not be built.
    #[error("lexicon {lang}: cannot build the matcher: {reason}")]
    Automaton {
        /// Lexicon language code.
        lang: &'static str,
        /// The builder's error.
        reason: String,
    },
    /// A gold-labelled file could not be read (line 0: the whole file).
    #[error("{}{}: {reason}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Gold {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line, 0 for the whole file.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A `[classifier]` setting (or its environment override) is unusable.
    #[error("{key}: {reason}")]
    Config {
        /// The key, e.g. `classifier.rust_bert.labels.LABEL_1`.
        key: String,
        /// Why.
        reason: String,
    },
    /// Model files are missing, cannot be fetched or cannot be loaded.
    #[error("model files in {dir}: {reason}")]
    ModelFiles {
        /// The directory or file.
        dir: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A model-backed classifier failed (reserved for implementations that
    /// load models or call services; the lexicon classifier never returns it).
    #[error("classifier {model}: {reason}")]
    Model {
        /// Model version or name.
        model: String,
        /// What failed.
        reason: String,
    },
}

/// A document classifier producing the [`Labels`] schema.
pub trait Classifier: Send + Sync {
    /// Version string stored in [`Labels::model_version`].
    fn model_version(&self) -> &str;

    /// Classify one text. `lang` is an ISO 639-1 code (region or script
    /// suffixes such as `sr-Latn` are accepted); `None` means unknown.
    fn classify(&self, text: &str, lang: Option<&str>) -> Result<Labels, ClassifyError>;

    /// Classify many texts; one result per input, in order.
    fn classify_batch(&self, inputs: &[ClassifyInput<'_>]) -> Vec<Result<Labels, ClassifyError>> {
        inputs
            .iter()
            .map(|i| self.classify(i.text, i.lang))
            .collect()
    }

    /// Cheap first stage: relevance only (used to skip the expensive stage for
    /// irrelevant documents). Same value as `classify(..).relevance.score`.
    fn relevance(&self, text: &str, lang: Option<&str>) -> Result<f32, ClassifyError>;
}

/// Longest input classified; longer texts are cut (at a char boundary) and
/// only their beginning is classified, which bounds time and memory.
pub const MAX_INPUT_BYTES: usize = 4 << 20;

/// Lexicon data, in the slot order of `lang::LEXICON_CODES`.
const LEXICONS: [(&str, &str); 13] = [
    ("en", include_str!("../lexicons/en.tsv")),
    ("sr", include_str!("../lexicons/bcms.tsv")),
    ("mk", include_str!("../lexicons/mk.tsv")),
    ("sq", include_str!("../lexicons/sq.tsv")),
    ("sl", include_str!("../lexicons/sl.tsv")),
    ("pl", include_str!("../lexicons/pl.tsv")),
    ("hu", include_str!("../lexicons/hu.tsv")),
    ("cs", include_str!("../lexicons/cs.tsv")),
    ("sk", include_str!("../lexicons/sk.tsv")),
    ("bg", include_str!("../lexicons/bg.tsv")),
    ("el", include_str!("../lexicons/el.tsv")),
    ("de", include_str!("../lexicons/de.tsv")),
    ("it", include_str!("../lexicons/it.tsv")),
];

/// Multilingual lexicon-and-rules classifier (see the crate docs).
///
/// Each language's automaton is built on first use and kept for the life of
/// the classifier, so construction is free and a classifier that only sees
/// Serbian never builds the Greek matcher. Share one instance across threads.
#[derive(Debug, Default)]
pub struct LexiconClassifier {
    slots: [OnceLock<Result<Lexicon, ClassifyError>>; 13],
}

impl LexiconClassifier {
    /// Model version reported in [`Labels::model_version`].
    pub const VERSION: &'static str = "lexicon-0.1.0";

    /// A classifier; lexicons are compiled lazily.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoder's cheap first stage: whether `text` is at or above the
    /// relevance `floor`, or holds a context term (borders, camps, fleeing,
    /// countries of origin: the lexicons' `context` kind). Only texts that
    /// pass reach the encoder.
    pub fn passes_first_stage(
        &self,
        text: &str,
        lang: Option<&str>,
        floor: f32,
    ) -> Result<bool, ClassifyError> {
        let text = truncate(text);
        Ok(match self.pick(text, lang)? {
            Some(lex) => rules::passes_first_stage(lex, text, floor),
            None => false,
        })
    }

    /// Codes of the lexicons (one per language family; `sr` covers
    /// Serbian, Croatian, Bosnian and Montenegrin).
    pub fn lexicon_languages() -> [&'static str; 13] {
        lang::LEXICON_CODES
    }

    /// Number of entries per cue kind in one lexicon (for coverage reports):
    /// `(kind name, count)` pairs. `None` for an unknown language code.
    pub fn lexicon_coverage(
        &self,
        lang: &str,
    ) -> Option<Result<Vec<(String, usize)>, ClassifyError>> {
        let slot = lang::lexicon_slot(lang)?;
        Some(self.lexicon(slot).map(|lex| {
            lex.counts()
                .into_iter()
                .map(|(k, n)| (format!("{k:?}"), n))
                .collect()
        }))
    }

    fn lexicon(&self, slot: usize) -> Result<&Lexicon, ClassifyError> {
        let (code, data) = LEXICONS[slot];
        self.slots[slot]
            .get_or_init(|| Lexicon::build(code, data))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The lexicon to use: the given language, else the guessed one, else
    /// the lexicon with most migration terms in the text. `None`: unsupported.
    fn pick(&self, text: &str, lang: Option<&str>) -> Result<Option<&Lexicon>, ClassifyError> {
        if let Some(code) = lang.filter(|c| !c.trim().is_empty()) {
            return match lang::lexicon_slot(code) {
                Some(slot) => self.lexicon(slot).map(Some),
                None => Ok(None),
            };
        }
        if let Some(slot) = guess_language(text).and_then(lang::lexicon_slot) {
            return self.lexicon(slot).map(Some);
        }
        if !text.chars().any(char::is_alphabetic) {
            return Ok(None);
        }
        // Short texts without stopwords ("Migranti!"): let the lexicons vote.
        let mut best: Option<(f32, &Lexicon)> = None;
        for slot in 0..LEXICONS.len() {
            let lex = self.lexicon(slot)?;
            let m = rules::migration_weight(lex, truncate(text));
            if m > 0.0 && best.is_none_or(|(b, _)| m > b) {
                best = Some((m, lex));
            }
        }
        Ok(best.map(|(_, lex)| lex))
    }
}

/// Cut `text` to [`MAX_INPUT_BYTES`] at a char boundary.
fn truncate(text: &str) -> &str {
    if text.len() <= MAX_INPUT_BYTES {
        return text;
    }
    let mut end = MAX_INPUT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Classifier for LexiconClassifier {
    fn model_version(&self) -> &str {
        Self::VERSION
    }

    fn classify(&self, text: &str, lang: Option<&str>) -> Result<Labels, ClassifyError> {
        let text = truncate(text);
        let mut labels = match self.pick(text, lang)? {
            Some(lex) => rules::classify(lex, text),
            None => Labels {
                language_support: LanguageSupport::Unsupported,
                ..Labels::default()
            },
        };
        labels.model_version = Self::VERSION.to_string();
        Ok(labels)
    }

    fn relevance(&self, text: &str, lang: Option<&str>) -> Result<f32, ClassifyError> {
        let text = truncate(text);
        Ok(match self.pick(text, lang)? {
            Some(lex) => rules::relevance(lex, text),
            None => 0.0,
        })
    }
}
