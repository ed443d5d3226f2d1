//! Core types shared by every stage of mediawatch.
//!
//! A [`Document`] moves one way through the pipeline (fetch -> extract ->
//! classify -> index). Stages depend on this crate and on nothing after them,
//! so this crate holds only plain data, identity rules and the label schema.

pub mod doc;
pub mod fsprobe;
pub mod labels;
pub mod ledger;
pub mod procs;
pub mod similarity;
pub mod source;
pub mod text;
pub mod url_canon;

pub use doc::{DateSource, DocId, DocKind, Document};
pub use labels::{
    Attribution, CollectiveLabelling, CueType, EvidenceSpan, Frame, Hate, HateClass, LabelFlag,
    Labels, LanguageSupport, Relevance, Solutions, SpeakerRole, LABEL_NAMES,
};
pub use source::{SourceMeta, SourceScope};
pub use url_canon::canonicalize_url;

/// Errors from core helpers.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A URL could not be parsed.
    #[error("invalid URL {url:?}: {source}")]
    InvalidUrl {
        /// The text that failed to parse.
        url: String,
        /// The parser's reason.
        source: url::ParseError,
    },
    /// A value outside its allowed set, e.g. an unknown document kind.
    #[error("invalid {what}: {value:?} (expected one of: {expected})")]
    InvalidValue {
        /// What was being parsed.
        what: &'static str,
        /// The offending value.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
}
