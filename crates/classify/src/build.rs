//! The classifier a `[classifier]` config section asks for, built once by
//! every command that classifies (`run`, `ingest`, `classify`, `eval`,
//! `reclassify`, `train`'s own check).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mediawatch_config::{ClassifierConfig, ClassifierKind};
use mediawatch_embed::{E5Encoder, E5Files, E5Options, Encoder, Manifest, ONNX_FILE};

use crate::fast::FAST_FILE;
use crate::heads::HeadSet;
use crate::{CascadeClassifier, CascadeOptions, Classifier, ClassifyError, LexiconClassifier};

/// Environment variable overriding `classifier.kind` (`e5`, `lexicon` or
/// `rust-bert`), e.g. for offline test runs.
pub const KIND_ENV: &str = "MEDIAWATCH_CLASSIFIER";

/// Directory of the e5 encoder files inside `models_dir`.
pub fn encoder_dir(models_dir: &Path) -> PathBuf {
    models_dir.join("e5-small")
}

/// Directory of the classifier's own models (encoder.onnx, heads.json,
/// fast.bin) inside `models_dir`.
pub fn classifier_dir(models_dir: &Path) -> PathBuf {
    models_dir.join("classifier")
}

fn config_err(key: &str, reason: impl Into<String>) -> ClassifyError {
    ClassifyError::Config {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// `classifier.kind`, unless [`KIND_ENV`] overrides it.
pub fn effective_kind(c: &ClassifierConfig) -> Result<ClassifierKind, ClassifyError> {
    match std::env::var(KIND_ENV) {
        Ok(v) if v == "e5" => Ok(ClassifierKind::E5),
        Ok(v) if v == "lexicon" => Ok(ClassifierKind::Lexicon),
        Ok(v) if v == "rust-bert" => Ok(ClassifierKind::RustBert),
        Ok(v) => Err(config_err(
            KIND_ENV,
            format!("{v:?}: expected e5, lexicon or rust-bert"),
        )),
        Err(_) => Ok(c.kind),
    }
}

/// The cascade's settings from `[classifier]`.
pub fn cascade_options(c: &ClassifierConfig) -> CascadeOptions {
    CascadeOptions {
        batch_size: c.batch_size.max(1),
        max_units: c.max_units.max(1),
        relevance_floor: c.relevance_floor,
        thresholds: c.thresholds.clone(),
        threads: c.threads,
        ..CascadeOptions::default()
    }
}

/// The model manifest (`models_dir/manifest.toml`): which files the encoder
/// needs, their sha256 and where to fetch them.
pub fn manifest(models_dir: &Path) -> Result<Manifest, ClassifyError> {
    let path = models_dir.join("manifest.toml");
    Manifest::load(&path).map_err(|e| ClassifyError::ModelFiles {
        dir: models_dir.to_path_buf(),
        reason: format!(
            "no usable model manifest (run from the repository root or pass --models-dir): {e}"
        ),
    })
}

/// Loads the fine-tuned e5 encoder, fetching missing model files first.
pub fn load_e5(c: &ClassifierConfig) -> Result<Arc<dyn Encoder>, ClassifyError> {
    ensure_model_files(&c.models_dir)?;
    let files = E5Files::in_models_dir(&c.models_dir);
    let opts = E5Options {
        batch_size: c.batch_size.max(1),
        threads: (c.threads > 0).then_some(c.threads),
        ..Default::default()
    };
    let enc = E5Encoder::load(&files, opts).map_err(|e| ClassifyError::ModelFiles {
        dir: files.onnx.clone(),
        reason: format!("cannot load the e5 encoder: {e}"),
    })?;
    Ok(Arc::new(enc))
}

/// Verifies the model files under `models_dir` and fetches what is missing
/// (sha256-checked, from the sources in `models/manifest.toml`), so that the
/// README's run command works on a fresh checkout; offline, the error names
/// the file, the URL and the way out.
fn ensure_model_files(models_dir: &Path) -> Result<(), ClassifyError> {
    let dir = encoder_dir(models_dir);
    let manifest = manifest(models_dir)?;
    let missing = mediawatch_embed::verify(&manifest, models_dir)
        .map(|st| st.iter().any(|a| !a.optional && !a.ok()))
        .unwrap_or(true);
    // All present and verified: done (`ensure` would hash them again).
    if !missing {
        return Ok(());
    }
    tracing::warn!(
        "fetching the e5 model files into {} (sha256-checked)",
        dir.display()
    );
    mediawatch_embed::ensure(
        &manifest,
        models_dir,
        &mediawatch_embed::FetchOptions::default(),
    )
    .map_err(|e| ClassifyError::ModelFiles {
        dir: dir.clone(),
        reason: format!(
            "missing and could not be fetched (copy them there, or set [classifier] kind = \
             \"lexicon\" / {KIND_ENV}=lexicon): {e}"
        ),
    })?;
    Ok(())
}

/// The classifier `[classifier]` asks for (see [`KIND_ENV`]). Without
/// trained models the e5 kind falls back to the lexicon, with a warning,
/// rather than refusing to start.
pub fn build_classifier(c: &ClassifierConfig) -> Result<Arc<dyn Classifier>, ClassifyError> {
    match effective_kind(c)? {
        ClassifierKind::Lexicon => Ok(Arc::new(LexiconClassifier::new())),
        ClassifierKind::E5 => {
            let dir = classifier_dir(&c.models_dir);
            let missing: Vec<PathBuf> = [
                HeadSet::file_in(&dir),
                dir.join(FAST_FILE),
                dir.join(ONNX_FILE),
            ]
            .into_iter()
            .filter(|p| !p.is_file())
            .collect();
            if !missing.is_empty() {
                tracing::warn!(
                    "no trained classifier at {} (missing {}; run `mediawatch train`); using the lexicon classifier",
                    dir.display(),
                    missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                );
                return Ok(Arc::new(LexiconClassifier::new()));
            }
            let encoder = load_e5(c)?;
            Ok(Arc::new(CascadeClassifier::load(
                encoder,
                &dir,
                cascade_options(c),
            )?))
        }
        ClassifierKind::RustBert => build_rust_bert(c),
    }
}

/// The rust-bert classifier of `[classifier.rust_bert]`.
#[cfg(feature = "rust-bert")]
fn build_rust_bert(c: &ClassifierConfig) -> Result<Arc<dyn Classifier>, ClassifyError> {
    use crate::rustbert::{RustBertClassifier, RustBertOptions, TorchDevice};
    use mediawatch_config::DeviceSpec;
    let Some(rb) = &c.rust_bert else {
        return Err(config_err(
            "classifier.kind",
            "\"rust-bert\" needs a [classifier.rust_bert] section with model_dir",
        ));
    };
    let device = match rb
        .device_spec()
        .map_err(|e| config_err("classifier.rust_bert.device", e))?
    {
        DeviceSpec::Auto => TorchDevice::Auto,
        DeviceSpec::Cpu => TorchDevice::Cpu,
        DeviceSpec::Cuda(i) => TorchDevice::Cuda(i),
    };
    // Parsed by the config crate, the one reader of these strings (a
    // validated config never fails here; one built in code might).
    let label_map = rb
        .label_classes()
        .map_err(|e| config_err("classifier.rust_bert.labels", e.join("; ")))?;
    let options = RustBertOptions {
        label_map,
        batch_size: rb.batch_size.max(1),
        max_tokens: rb.max_tokens,
        device,
        trained_languages: rb.trained_languages.clone(),
        threshold: rb.threshold,
    };
    let model = RustBertClassifier::load(&rb.model_dir, options).map_err(|e| {
        config_err(
            "classifier.rust_bert.model_dir",
            format!("cannot load a model from {}: {e}", rb.model_dir.display()),
        )
    })?;
    Ok(Arc::new(model))
}

/// Without the feature, the kind is refused with the way to get it.
#[cfg(not(feature = "rust-bert"))]
fn build_rust_bert(_c: &ClassifierConfig) -> Result<Arc<dyn Classifier>, ClassifyError> {
    Err(config_err(
        "classifier.kind",
        "\"rust-bert\": this mediawatch was built without the rust-bert feature; build it with \
         `cargo build --release --features rust-bert` (needs libtorch 2.4: see .ci/torch.sh)",
    ))
}
