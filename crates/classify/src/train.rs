//! Training the heads: data loading, seeded stratified splits, an on-disk
//! embedding cache, fitting, per-language threshold calibration and
//! held-out metrics.
//!
//! Data:
//! * hate-speech sets (`shared/data/hate/*.jsonl`, coarse `label`
//!   hate/offensive/none) train the `hate` and `abusive` heads. Each
//!   (dataset, language) is capped at `cap_per_set` examples, drawn
//!   round-robin over the labels so the minority class is kept whole, then
//!   split 70/15/15 (train/validation/test) per (dataset, language, label).
//! * the framing set (`models/data/framing/framing.jsonl`) trains every head;
//!   its `train` split is cut 80/20 into train/validation (stratified by
//!   language and relevance) and its `eval` split is the test set.
//! * analysts' corrections join the training split with weight
//!   [`CORRECTION_WEIGHT`].
//!
//! Everything random is drawn from `fastrand` seeded with the run's seed,
//! so a run is reproducible; embeddings are cached by SHA-256 of (encoder,
//! text), so re-training only encodes new texts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use mediawatch_core::labels::HateClass;
use mediawatch_embed::Encoder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::heads::{
    base_lang, best_f1_threshold, fit_logistic, fit_mlp, rescale, FitOptions, HeadEntry, HeadSet,
    HEAD_NAMES,
};
use crate::ClassifyError;

/// Weight of a framing-set example relative to one hate-speech dataset
/// example. The framing set is the only in-domain data (news and comments
/// about migration in the covered languages, with counter-speech, quoted
/// hate and sarcasm); among some 25,000 tweets at weight 1 the `hate` and
/// `abusive` heads would not learn its hard cases. It does not change the
/// heads trained on the framing set alone (a common weight cancels out).
pub const FRAMING_WEIGHT: f32 = 5.0;

/// Weight of an analyst's correction relative to one dataset example.
pub const CORRECTION_WEIGHT: f32 = 3.0;

/// Which part of the data an example belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Fitting.
    Train,
    /// Threshold calibration.
    Validation,
    /// Held-out metrics.
    Test,
}

/// One training example: a text with targets for some heads.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainExample {
    /// Dataset-unique id.
    pub id: String,
    /// The text.
    pub text: String,
    /// Base language code.
    pub lang: String,
    /// Dataset name (`davidson2017`, `framing`, `corrections`, ...).
    pub source: String,
    /// Split.
    pub split: Split,
    /// Example weight.
    pub weight: f32,
    /// Gold hate class, when known.
    pub hate: Option<HateClass>,
    /// Targets (0 or 1) per head name; heads not named are not trained on it.
    pub targets: BTreeMap<&'static str, f32>,
}

fn data_err(path: &Path, reason: impl std::fmt::Display) -> ClassifyError {
    ClassifyError::Model {
        model: "train".into(),
        reason: format!("{}: {reason}", path.display()),
    }
}

fn hate_targets(class: HateClass) -> BTreeMap<&'static str, f32> {
    let mut t = BTreeMap::new();
    t.insert("hate", (class == HateClass::Hate) as u8 as f32);
    t.insert("abusive", (class != HateClass::None) as u8 as f32);
    t
}

/// Deterministic split of `items` (already grouped in one stratum) by
/// fractions `train` and `validation`; the rest is test.
fn split_stratum(n: usize, train: f64, validation: f64, rng: &mut fastrand::Rng) -> Vec<Split> {
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    let n_train = ((n as f64) * train).round() as usize;
    let n_val = ((n as f64) * validation).round() as usize;
    let mut out = vec![Split::Test; n];
    for (rank, &i) in idx.iter().enumerate() {
        out[i] = if rank < n_train {
            Split::Train
        } else if rank < n_train + n_val {
            Split::Validation
        } else {
            Split::Test
        };
    }
    out
}

/// Loads every `*.jsonl` in `dir` (the hate-speech sets), capping each
/// (dataset, language) at `cap_per_set` examples and splitting them; see the
/// module docs.
pub fn load_hate_dir(
    dir: &Path,
    cap_per_set: usize,
    seed: u64,
) -> Result<Vec<TrainExample>, ClassifyError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| data_err(dir, format!("cannot list the hate-speech data: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(data_err(dir, "no *.jsonl files"));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Vec::new();
    for file in files {
        let f = std::fs::File::open(&file).map_err(|e| data_err(&file, e))?;
        // (source, lang) -> label -> examples
        let mut groups: BTreeMap<(String, String), BTreeMap<&'static str, Vec<TrainExample>>> =
            BTreeMap::new();
        for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| data_err(&file, format!("line {}: {e}", n + 1)))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| data_err(&file, format!("line {}: {e}", n + 1)))?;
            let get = |k: &str| {
                v.get(k)
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let (text, lang, label) = (get("text"), base_lang(&get("lang")), get("label"));
            let Ok(class) = label.parse::<HateClass>() else {
                return Err(data_err(
                    &file,
                    format!("line {}: label {label:?} is not hate/offensive/none", n + 1),
                ));
            };
            if text.trim().is_empty() || lang.is_empty() {
                continue;
            }
            let source = match get("source") {
                s if s.is_empty() => file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                s => s,
            };
            let id = match get("id") {
                s if s.is_empty() => format!("{source}-{n}"),
                s => s,
            };
            groups
                .entry((source.clone(), lang.clone()))
                .or_default()
                .entry(class.as_str())
                .or_default()
                .push(TrainExample {
                    id,
                    text,
                    lang,
                    source,
                    split: Split::Train,
                    weight: 1.0,
                    hate: Some(class),
                    targets: hate_targets(class),
                });
        }
        for (_, mut by_label) in groups {
            for v in by_label.values_mut() {
                rng.shuffle(v);
            }
            // Round-robin over labels up to the cap.
            let mut taken: BTreeMap<&'static str, Vec<TrainExample>> = BTreeMap::new();
            let mut total = 0;
            let mut progress = true;
            while total < cap_per_set && progress {
                progress = false;
                for (label, v) in by_label.iter_mut() {
                    if total >= cap_per_set {
                        break;
                    }
                    if let Some(e) = v.pop() {
                        taken.entry(*label).or_default().push(e);
                        total += 1;
                        progress = true;
                    }
                }
            }
            for (_, mut v) in taken {
                let splits = split_stratum(v.len(), 0.7, 0.15, &mut rng);
                for (e, s) in v.iter_mut().zip(splits) {
                    e.split = s;
                }
                out.extend(v);
            }
        }
    }
    Ok(out)
}

/// Loads the framing set; its `eval` split becomes [`Split::Test`].
pub fn load_framing(file: &Path, seed: u64) -> Result<Vec<TrainExample>, ClassifyError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| data_err(file, format!("cannot read the framing set: {e}")))?;
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_f4a3);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| data_err(file, format!("line {}: {e}", n + 1)))?;
        let s = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let b = |k: &str| -> Result<f32, ClassifyError> {
            match v.get(k).and_then(|x| x.as_u64()) {
                Some(0) => Ok(0.0),
                Some(1) => Ok(1.0),
                _ => Err(data_err(
                    file,
                    format!("line {}: {k:?} is not 0 or 1", n + 1),
                )),
            }
        };
        let class: HateClass = s("hate")
            .parse()
            .map_err(|e| data_err(file, format!("line {}: hate: {e}", n + 1)))?;
        let mut targets = hate_targets(class);
        for (head, key) in [
            ("relevance", "relevant"),
            ("collective", "collective"),
            ("threat", "threat"),
            ("victim", "victim"),
            ("recognition", "recognition"),
            ("solutions", "solutions"),
        ] {
            targets.insert(head, b(key)?);
        }
        let split = if s("split") == "eval" {
            Split::Test
        } else {
            Split::Train
        };
        out.push(TrainExample {
            id: s("id"),
            text: s("text"),
            lang: base_lang(&s("lang")),
            source: "framing".into(),
            split,
            weight: FRAMING_WEIGHT,
            hate: Some(class),
            targets,
        });
    }
    // Validation: 20% of the train split, stratified by language x relevance.
    let mut strata: BTreeMap<(String, bool), Vec<usize>> = BTreeMap::new();
    for (i, e) in out.iter().enumerate() {
        if e.split == Split::Train {
            let rel = e.targets.get("relevance").is_some_and(|r| *r > 0.5);
            strata.entry((e.lang.clone(), rel)).or_default().push(i);
        }
    }
    for (_, idx) in strata {
        let splits = split_stratum(idx.len(), 0.8, 0.2, &mut rng);
        for (i, s) in idx.into_iter().zip(splits) {
            out[i].split = if s == Split::Train {
                Split::Train
            } else {
                Split::Validation
            };
        }
    }
    Ok(out)
}

/// Turns an analyst's correction into a training example (weight
/// [`CORRECTION_WEIGHT`], training split). `verdict_correct`: the model's
/// label was confirmed. `None` for labels no head learns (`hate_target`).
pub fn correction_example(
    id: &str,
    label: &str,
    verdict_correct: bool,
    value: Option<&str>,
    model_score: Option<f32>,
    text: &str,
    lang: Option<&str>,
) -> Option<TrainExample> {
    let mut targets = BTreeMap::new();
    let mut hate = None;
    if label == "hate_class" {
        let class: HateClass = value?.parse().ok()?;
        if !verdict_correct && value.is_none() {
            return None;
        }
        hate = Some(class);
        targets = hate_targets(class);
    } else {
        let head = match label {
            "relevant" => "relevance",
            "hate" => "hate",
            "offensive" => "abusive",
            "collective_labelling" => "collective",
            "threat" => "threat",
            "victim" => "victim",
            "recognition" => "recognition",
            "solutions" => "solutions",
            _ => return None,
        };
        let model_says = model_score.map(|s| s >= 0.5);
        let truth = match value {
            Some("true") => true,
            Some("false") => false,
            Some(_) => return None,
            None => match (verdict_correct, model_says) {
                (true, Some(m)) => m,
                (false, Some(m)) => !m,
                // A confirmation without the model's score or value says
                // nothing we can learn from.
                _ => return None,
            },
        };
        targets.insert(head, truth as u8 as f32);
        if head == "hate" && truth {
            targets.insert("abusive", 1.0);
        }
    }
    if text.trim().is_empty() {
        return None;
    }
    Some(TrainExample {
        id: format!("correction-{id}"),
        text: text.to_string(),
        lang: lang.map(base_lang).unwrap_or_default(),
        source: "corrections".into(),
        split: Split::Train,
        weight: CORRECTION_WEIGHT,
        hate,
        targets,
    })
}

/// Embeddings cached on disk, one file per encoder: records of 32 bytes of
/// SHA-256 of the text followed by `dim` little-endian f32.
#[derive(Debug)]
pub struct EmbeddingCache {
    path: PathBuf,
    dim: usize,
    map: HashMap<[u8; 32], Vec<f32>>,
}

fn text_key(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl EmbeddingCache {
    /// Opens (or starts) the cache for `encoder_name` in `dir`.
    pub fn open(dir: &Path, encoder_name: &str, dim: usize) -> Result<Self, ClassifyError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| data_err(dir, format!("cannot create the embedding cache: {e}")))?;
        let safe: String = encoder_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{safe}-{dim}.emb"));
        let mut map = HashMap::new();
        if let Ok(mut f) = std::fs::File::open(&path) {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map_err(|e| data_err(&path, e))?;
            let rec = 32 + 4 * dim;
            // A torn last record (interrupted run) is ignored.
            for chunk in bytes.chunks_exact(rec) {
                let mut key = [0u8; 32];
                key.copy_from_slice(&chunk[..32]);
                let v: Vec<f32> = chunk[32..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                map.insert(key, v);
            }
        }
        Ok(Self { path, dim, map })
    }

    /// Number of cached texts.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Embeddings for `texts`, encoding (in batches of `batch`) and
    /// appending only the missing ones. `progress(done, missing)` is called
    /// after each batch.
    pub fn embed_all(
        &mut self,
        encoder: &dyn Encoder,
        texts: &[&str],
        batch: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f32>>, ClassifyError> {
        let mut missing: Vec<&str> = Vec::new();
        let mut seen = BTreeSet::new();
        for t in texts {
            let k = text_key(t);
            if !self.map.contains_key(&k) && seen.insert(k) {
                missing.push(t);
            }
        }
        if !missing.is_empty() {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| data_err(&self.path, e))?;
            let mut done = 0;
            for chunk in missing.chunks(batch.max(1)) {
                let vs = encoder.encode(chunk).map_err(|e| ClassifyError::Model {
                    model: encoder.name().to_string(),
                    reason: e.to_string(),
                })?;
                let mut buf = Vec::with_capacity(chunk.len() * (32 + 4 * self.dim));
                for (t, v) in chunk.iter().zip(vs) {
                    if v.len() != self.dim {
                        return Err(ClassifyError::Model {
                            model: encoder.name().to_string(),
                            reason: format!("vector of {} dims, expected {}", v.len(), self.dim),
                        });
                    }
                    let k = text_key(t);
                    buf.extend_from_slice(&k);
                    for x in &v {
                        buf.extend_from_slice(&x.to_le_bytes());
                    }
                    self.map.insert(k, v);
                }
                f.write_all(&buf).map_err(|e| data_err(&self.path, e))?;
                done += chunk.len();
                progress(done, missing.len());
            }
        }
        texts
            .iter()
            .map(|t| {
                self.map
                    .get(&text_key(t))
                    .cloned()
                    .ok_or_else(|| ClassifyError::Model {
                        model: encoder.name().to_string(),
                        reason: "embedding missing after encoding".into(),
                    })
            })
            .collect()
    }
}

/// Precision/recall/F1 of one binary decision.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Binary {
    /// Examples.
    pub n: usize,
    /// Gold positives.
    pub support: usize,
    /// Precision.
    pub precision: f32,
    /// Recall.
    pub recall: f32,
    /// F1.
    pub f1: f32,
}

impl Binary {
    /// Scores of predictions against gold.
    pub fn of(pred: &[bool], gold: &[bool]) -> Self {
        let tp = pred.iter().zip(gold).filter(|(p, g)| **p && **g).count();
        let fp = pred.iter().zip(gold).filter(|(p, g)| **p && !**g).count();
        let fn_ = pred.iter().zip(gold).filter(|(p, g)| !**p && **g).count();
        let precision = if tp + fp == 0 {
            0.0
        } else {
            tp as f32 / (tp + fp) as f32
        };
        let recall = if tp + fn_ == 0 {
            0.0
        } else {
            tp as f32 / (tp + fn_) as f32
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Self {
            n: pred.len(),
            support: tp + fn_,
            precision,
            recall,
            f1,
        }
    }
}

/// Three-class hate scores on one language's test split.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HateMetrics {
    /// Examples.
    pub n: usize,
    /// Mean F1 over the classes present in gold or predictions.
    pub macro_f1: f32,
    /// Accuracy.
    pub accuracy: f32,
    /// Per class (`hate`, `offensive`, `none`).
    pub per_class: BTreeMap<String, Binary>,
}

/// Three-class scores of `pred` against `gold`.
pub fn hate_metrics(pred: &[HateClass], gold: &[HateClass]) -> HateMetrics {
    let mut per_class = BTreeMap::new();
    let mut f1s = Vec::new();
    for c in [HateClass::Hate, HateClass::Offensive, HateClass::None] {
        let p: Vec<bool> = pred.iter().map(|x| *x == c).collect();
        let g: Vec<bool> = gold.iter().map(|x| *x == c).collect();
        let b = Binary::of(&p, &g);
        if g.iter().any(|x| *x) || p.iter().any(|x| *x) {
            f1s.push(b.f1);
        }
        per_class.insert(c.as_str().to_string(), b);
    }
    let correct = pred.iter().zip(gold).filter(|(p, g)| p == g).count();
    HateMetrics {
        n: gold.len(),
        macro_f1: if f1s.is_empty() {
            0.0
        } else {
            f1s.iter().sum::<f32>() / f1s.len() as f32
        },
        accuracy: if gold.is_empty() {
            0.0
        } else {
            correct as f32 / gold.len() as f32
        },
        per_class,
    }
}

/// The hate class the heads decide from calibrated scores (on the 0.5
/// scale of [`crate::heads::rescale`]).
pub fn decide_class(hate: f32, abusive: f32) -> HateClass {
    if hate >= 0.5 && abusive >= 0.5 {
        HateClass::Hate
    } else if abusive >= 0.5 {
        HateClass::Offensive
    } else {
        HateClass::None
    }
}

/// Options of [`train_heads`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Optimiser settings (its seed is the run's seed).
    pub fit: FitOptions,
    /// Fewest validation positives and examples for a per-language threshold.
    pub min_lang_positives: usize,
    /// Fewest validation examples for a per-language threshold.
    pub min_lang_examples: usize,
    /// Hidden units of heads with at least `mlp_min_examples` training
    /// examples (0: every head is linear).
    pub hidden_units: usize,
    /// Fewest training examples for a head to get a hidden layer; the
    /// framing heads (a few hundred examples) stay linear.
    pub mlp_min_examples: usize,
    /// Adam step size of the hidden-layer heads.
    pub mlp_learning_rate: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            fit: FitOptions::default(),
            min_lang_positives: 10,
            min_lang_examples: 40,
            hidden_units: 128,
            mlp_min_examples: 2000,
            mlp_learning_rate: 0.002,
        }
    }
}

/// What a training run measured (rendered into the model card).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrainMetrics {
    /// Examples per (source, split).
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
    /// Per head: test-split scores per language (`all` = pooled).
    pub heads: BTreeMap<String, BTreeMap<String, Binary>>,
    /// Hate three-class scores on the hate-speech test splits, per language.
    pub hate_by_lang: BTreeMap<String, HateMetrics>,
    /// Hate three-class scores on the framing test split, per language (and `all`).
    pub framing_hate: BTreeMap<String, HateMetrics>,
}

/// Re-calibrates the `hate` and `abusive` thresholds of each language
/// jointly, for the three-class macro-F1 of [`decide_class`] on the
/// hate-speech validation split, instead of each head's own binary F1.
///
/// Why: the class is decided by two thresholds together; tuning each for
/// its own F1 over-predicts `offensive` where hate is rare. Languages whose
/// validation data has no `hate` example (GermEval labels offence only)
/// keep their `hate` threshold and tune `abusive` alone, so a data set's
/// missing class does not switch the class off for the language.
fn calibrate_hate_pair(
    set: &mut HeadSet,
    examples: &[TrainExample],
    embeddings: &[Vec<f32>],
    opts: &TrainOptions,
) {
    let (Some(h), Some(a)) = (set.heads.get("hate"), set.heads.get("abusive")) else {
        return;
    };
    // Per language: (p_hate, p_abusive, gold).
    let mut by_lang: BTreeMap<String, Vec<(f32, f32, HateClass)>> = BTreeMap::new();
    for (e, x) in examples.iter().zip(embeddings) {
        let Some(gold) = e.hate else { continue };
        if e.split != Split::Validation || e.source == "framing" {
            continue;
        }
        by_lang
            .entry(e.lang.clone())
            .or_default()
            .push((h.head.prob(x), a.head.prob(x), gold));
    }
    let mut chosen = Vec::new();
    for (lang, rows) in by_lang {
        if rows.len() < opts.min_lang_examples {
            continue;
        }
        let has_hate =
            rows.iter().filter(|r| r.2 == HateClass::Hate).count() >= opts.min_lang_positives;
        let grid = |pick: fn(&(f32, f32, HateClass)) -> f32| -> Vec<f32> {
            let mut v: Vec<f32> = rows.iter().map(pick).collect();
            v.sort_by(f32::total_cmp);
            let mut g: Vec<f32> = (1..40)
                .map(|k| v[(k * v.len() / 40).min(v.len() - 1)].clamp(0.02, 0.98))
                .collect();
            g.dedup();
            g
        };
        let th_now = h.threshold_for(Some(&lang));
        let ta_now = a.threshold_for(Some(&lang));
        let hate_grid = if has_hate {
            grid(|r| r.0)
        } else {
            vec![th_now]
        };
        let abusive_grid = grid(|r| r.1);
        let gold: Vec<HateClass> = rows.iter().map(|r| r.2).collect();
        let score = |th: f32, ta: f32| {
            let pred: Vec<HateClass> = rows
                .iter()
                .map(|r| decide_class(rescale(r.0, th), rescale(r.1, ta)))
                .collect();
            hate_metrics(&pred, &gold).macro_f1
        };
        let mut best = (score(th_now, ta_now), th_now, ta_now);
        for &th in &hate_grid {
            for &ta in &abusive_grid {
                let f = score(th, ta);
                if f > best.0 + 1e-6 {
                    best = (f, th, ta);
                }
            }
        }
        chosen.push((lang, has_hate, best.1, best.2));
    }
    for (lang, has_hate, th, ta) in chosen {
        if has_hate {
            if let Some(h) = set.heads.get_mut("hate") {
                h.lang_thresholds.insert(lang.clone(), th);
            }
        }
        if let Some(a) = set.heads.get_mut("abusive") {
            a.lang_thresholds.insert(lang, ta);
        }
    }
}

/// Fits every head on the training split, calibrates thresholds on the
/// validation split and scores the test split. `embeddings[i]` belongs to
/// `examples[i]`.
pub fn train_heads(
    examples: &[TrainExample],
    embeddings: &[Vec<f32>],
    encoder_name: &str,
    opts: &TrainOptions,
) -> Result<(HeadSet, TrainMetrics), ClassifyError> {
    let dim = embeddings.first().map_or(0, Vec::len);
    if dim == 0 || embeddings.len() != examples.len() {
        return Err(ClassifyError::Model {
            model: "train".into(),
            reason: format!(
                "{} examples but {} embeddings of dim {dim}",
                examples.len(),
                embeddings.len()
            ),
        });
    }
    let mut set = HeadSet::new(encoder_name, dim, opts.fit.seed);
    let mut metrics = TrainMetrics::default();
    for e in examples {
        let split = format!("{:?}", e.split).to_lowercase();
        *metrics
            .counts
            .entry(e.source.clone())
            .or_default()
            .entry(split)
            .or_default() += 1;
    }
    for (hi, head) in HEAD_NAMES.iter().enumerate() {
        let pick = |split: Split| -> Vec<usize> {
            (0..examples.len())
                .filter(|&i| examples[i].split == split && examples[i].targets.contains_key(head))
                .collect()
        };
        let train = pick(Split::Train);
        if train.is_empty() {
            continue;
        }
        // Balance classes: positives and negatives weigh the same in total.
        let pos_w: f32 = train
            .iter()
            .filter(|&&i| examples[i].targets[head] > 0.5)
            .map(|&i| examples[i].weight)
            .sum();
        let neg_w: f32 = train
            .iter()
            .filter(|&&i| examples[i].targets[head] <= 0.5)
            .map(|&i| examples[i].weight)
            .sum();
        if pos_w == 0.0 || neg_w == 0.0 {
            continue;
        }
        let xs: Vec<&[f32]> = train.iter().map(|&i| embeddings[i].as_slice()).collect();
        let ys: Vec<f32> = train.iter().map(|&i| examples[i].targets[head]).collect();
        let total = pos_w + neg_w;
        let ws: Vec<f32> = train
            .iter()
            .map(|&i| {
                let e = &examples[i];
                let class_w = if e.targets[head] > 0.5 {
                    total / (2.0 * pos_w)
                } else {
                    total / (2.0 * neg_w)
                };
                e.weight * class_w
            })
            .collect();
        let fit = FitOptions {
            seed: opts.fit.seed.wrapping_add(hi as u64),
            ..opts.fit.clone()
        };
        let val = pick(Split::Validation);
        let model = if opts.hidden_units > 0 && train.len() >= opts.mlp_min_examples {
            let vx: Vec<&[f32]> = val.iter().map(|&i| embeddings[i].as_slice()).collect();
            let vy: Vec<f32> = val.iter().map(|&i| examples[i].targets[head]).collect();
            let vw: Vec<f32> = val
                .iter()
                .map(|&i| {
                    let w = if examples[i].targets[head] > 0.5 {
                        total / (2.0 * pos_w)
                    } else {
                        total / (2.0 * neg_w)
                    };
                    examples[i].weight * w
                })
                .collect();
            let held = (!val.is_empty()).then_some((vx.as_slice(), vy.as_slice(), vw.as_slice()));
            let fit = FitOptions {
                learning_rate: opts.mlp_learning_rate,
                ..fit
            };
            fit_mlp(&xs, &ys, &ws, held, opts.hidden_units, &fit)
        } else {
            fit_logistic(&xs, &ys, &ws, &fit)
        };

        let mut trained_langs: BTreeMap<String, (bool, bool)> = BTreeMap::new();
        for &i in &train {
            let e = &examples[i];
            let slot = trained_langs.entry(e.lang.clone()).or_default();
            if e.targets[head] > 0.5 {
                slot.0 = true;
            } else {
                slot.1 = true;
            }
        }
        let vs: Vec<f32> = val.iter().map(|&i| model.prob(&embeddings[i])).collect();
        let vg: Vec<bool> = val
            .iter()
            .map(|&i| examples[i].targets[head] > 0.5)
            .collect();
        let threshold = best_f1_threshold(&vs, &vg).map_or(0.5, |(t, _)| t);
        let mut lang_thresholds = BTreeMap::new();
        let langs: BTreeSet<&str> = val.iter().map(|&i| examples[i].lang.as_str()).collect();
        for lang in langs {
            let (s, g): (Vec<f32>, Vec<bool>) = val
                .iter()
                .zip(vs.iter().zip(&vg))
                .filter(|(&i, _)| examples[i].lang == lang)
                .map(|(_, (s, g))| (*s, *g))
                .unzip();
            let pos = g.iter().filter(|x| **x).count();
            if pos >= opts.min_lang_positives && g.len() >= opts.min_lang_examples {
                if let Some((t, _)) = best_f1_threshold(&s, &g) {
                    lang_thresholds.insert(lang.to_string(), t);
                }
            }
        }
        let entry = HeadEntry {
            head: model,
            threshold,
            lang_thresholds,
            trained_langs: trained_langs
                .into_iter()
                .filter(|(_, (p, n))| *p && *n)
                .map(|(l, _)| l)
                .collect(),
        };
        set.heads.insert(head.to_string(), entry);
    }
    calibrate_hate_pair(&mut set, examples, embeddings, opts);
    // Test metrics per head, per language and pooled.
    for (head, entry) in &set.heads {
        let test: Vec<usize> = (0..examples.len())
            .filter(|&i| {
                examples[i].split == Split::Test && examples[i].targets.contains_key(head.as_str())
            })
            .collect();
        let mut by_lang: BTreeMap<String, (Vec<bool>, Vec<bool>)> = BTreeMap::new();
        for &i in &test {
            let e = &examples[i];
            let pred = entry.head.prob(&embeddings[i]) >= entry.threshold_for(Some(&e.lang));
            let gold = e.targets[head.as_str()] > 0.5;
            for key in [e.lang.clone(), "all".to_string()] {
                let slot = by_lang.entry(key).or_default();
                slot.0.push(pred);
                slot.1.push(gold);
            }
        }
        metrics.heads.insert(
            head.clone(),
            by_lang
                .into_iter()
                .map(|(l, (p, g))| (l, Binary::of(&p, &g)))
                .collect(),
        );
    }
    // Three-class hate on the test splits.
    if let (Some(h), Some(a)) = (set.heads.get("hate"), set.heads.get("abusive")) {
        let mut hate_data: BTreeMap<String, (Vec<HateClass>, Vec<HateClass>)> = BTreeMap::new();
        let mut framing: BTreeMap<String, (Vec<HateClass>, Vec<HateClass>)> = BTreeMap::new();
        for (e, x) in examples.iter().zip(embeddings) {
            let Some(gold) = e.hate else { continue };
            if e.split != Split::Test {
                continue;
            }
            let lang = Some(e.lang.as_str());
            let pred = decide_class(
                rescale(h.head.prob(x), h.threshold_for(lang)),
                rescale(a.head.prob(x), a.threshold_for(lang)),
            );
            let target = if e.source == "framing" {
                &mut framing
            } else {
                &mut hate_data
            };
            for key in [e.lang.clone(), "all".to_string()] {
                let slot = target.entry(key).or_default();
                slot.0.push(pred);
                slot.1.push(gold);
            }
        }
        metrics.hate_by_lang = hate_data
            .into_iter()
            .map(|(l, (p, g))| (l, hate_metrics(&p, &g)))
            .collect();
        metrics.framing_hate = framing
            .into_iter()
            .map(|(l, (p, g))| (l, hate_metrics(&p, &g)))
            .collect();
    }
    Ok((set, metrics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashingEncoder;

    fn framing_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/data/framing/framing.jsonl")
    }

    #[test]
    fn framing_loads_with_seeded_stratified_splits() {
        let a = load_framing(&framing_path(), 1).unwrap();
        let b = load_framing(&framing_path(), 1).unwrap();
        let c = load_framing(&framing_path(), 2).unwrap();
        assert_eq!(a.len(), 601);
        assert_eq!(a, b);
        assert_ne!(
            a.iter().map(|e| e.split).collect::<Vec<_>>(),
            c.iter().map(|e| e.split).collect::<Vec<_>>()
        );
        let count = |s: Split| a.iter().filter(|e| e.split == s).count();
        assert_eq!(count(Split::Test), 200);
        let val = count(Split::Validation);
        assert!((70..=90).contains(&val), "{val}");
        // Every language keeps training data.
        let langs: BTreeSet<_> = a
            .iter()
            .filter(|e| e.split == Split::Train)
            .map(|e| e.lang.as_str())
            .collect();
        assert_eq!(langs.len(), 16);
        assert!(a.iter().all(|e| e.targets.len() == 8));
    }

    #[test]
    fn hate_dir_caps_balances_and_splits() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = String::new();
        for i in 0..300 {
            let label = if i % 10 == 0 { "hate" } else { "none" };
            lines.push_str(&format!("{{\"id\":\"x{i}\",\"text\":\"text {i}\",\"lang\":\"en\",\"label\":\"{label}\",\"source\":\"toy\"}}\n"));
        }
        std::fs::write(dir.path().join("toy.jsonl"), lines).unwrap();
        let ex = load_hate_dir(dir.path(), 100, 3).unwrap();
        assert_eq!(ex.len(), 100);
        // The 30 hate examples are all kept (round-robin).
        assert_eq!(
            ex.iter()
                .filter(|e| e.hate == Some(HateClass::Hate))
                .count(),
            30
        );
        let train = ex.iter().filter(|e| e.split == Split::Train).count();
        assert_eq!(train, 21 + 49);
        assert_eq!(ex, load_hate_dir(dir.path(), 100, 3).unwrap());
        std::fs::write(
            dir.path().join("bad.jsonl"),
            "{\"text\":\"a\",\"lang\":\"en\",\"label\":\"rude\"}\n",
        )
        .unwrap();
        let err = load_hate_dir(dir.path(), 100, 3).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn corrections_map_to_targets() {
        let e = correction_example(
            "1",
            "collective_labelling",
            false,
            None,
            Some(0.8),
            "t",
            Some("sr-Latn"),
        )
        .unwrap();
        assert_eq!(e.targets.get("collective"), Some(&0.0));
        assert_eq!(e.lang, "sr");
        assert_eq!(e.weight, CORRECTION_WEIGHT);
        let e = correction_example("2", "hate", true, None, Some(0.9), "t", None).unwrap();
        assert_eq!(e.targets.get("hate"), Some(&1.0));
        assert_eq!(e.targets.get("abusive"), Some(&1.0));
        let e = correction_example("3", "hate_class", false, Some("offensive"), None, "t", None)
            .unwrap();
        assert_eq!(e.hate, Some(HateClass::Offensive));
        assert_eq!(e.targets.get("abusive"), Some(&1.0));
        assert!(
            correction_example("4", "hate_target", false, Some("roma"), None, "t", None).is_none()
        );
        assert!(correction_example("5", "threat", true, None, None, "t", None).is_none());
        let e = correction_example("6", "offensive", false, Some("true"), None, "t", None).unwrap();
        assert_eq!(e.targets.get("abusive"), Some(&1.0));
    }

    #[test]
    fn cache_reuses_embeddings() {
        let dir = tempfile::tempdir().unwrap();
        let enc = HashingEncoder::new(16);
        let mut cache = EmbeddingCache::open(dir.path(), enc.name(), 16).unwrap();
        let mut calls = 0;
        let a = cache
            .embed_all(&enc, &["one", "two", "one"], 2, &mut |_, _| calls += 1)
            .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(a[0], a[2]);
        let mut reopened = EmbeddingCache::open(dir.path(), enc.name(), 16).unwrap();
        assert_eq!(reopened.len(), 2);
        let mut calls = 0;
        let b = reopened
            .embed_all(&enc, &["two", "one"], 2, &mut |_, _| calls += 1)
            .unwrap();
        assert_eq!(calls, 0);
        assert_eq!(b[0], a[1]);
    }

    #[test]
    fn joint_calibration_raises_three_class_macro_f1() {
        use crate::heads::{HeadEntry, LogisticHead};
        // hate prob follows x0, abusive prob follows x1; gold: hate when
        // x0 > 0.4 and x1 > 0.2, offensive when x1 > 0.2, else none. The
        // 0.5 thresholds cut in the wrong places; the joint search must
        // find better ones for "en". "de" has no hate in its data: its hate
        // threshold must stay.
        let head = |w: [f32; 2]| HeadEntry {
            head: LogisticHead {
                weights: vec![w[0] * 8.0, w[1] * 8.0],
                bias: 0.0,
                hidden: None,
            },
            threshold: 0.5,
            lang_thresholds: BTreeMap::new(),
            trained_langs: vec![],
        };
        let mut set = HeadSet::new("t", 2, 1);
        set.heads.insert("hate".into(), head([1.0, 0.0]));
        set.heads.insert("abusive".into(), head([0.0, 1.0]));
        let mut rng = fastrand::Rng::with_seed(5);
        let (mut examples, mut embeddings) = (Vec::new(), Vec::new());
        for i in 0..800 {
            let lang = if i % 2 == 0 { "en" } else { "de" };
            let (x0, x1) = (rng.f32() * 2.0 - 1.0, rng.f32() * 2.0 - 1.0);
            let gold = if lang == "en" && x0 > 0.4 && x1 > 0.2 {
                HateClass::Hate
            } else if x1 > 0.2 {
                HateClass::Offensive
            } else {
                HateClass::None
            };
            examples.push(TrainExample {
                id: i.to_string(),
                text: String::new(),
                lang: lang.into(),
                source: "synthetic".into(),
                split: Split::Validation,
                weight: 1.0,
                hate: Some(gold),
                targets: BTreeMap::new(),
            });
            embeddings.push(vec![x0, x1]);
        }
        let macro_f1 = |set: &HeadSet, lang: &str| {
            let (h, a) = (&set.heads["hate"], &set.heads["abusive"]);
            let (mut p, mut g) = (Vec::new(), Vec::new());
            for (e, x) in examples
                .iter()
                .zip(&embeddings)
                .filter(|(e, _)| e.lang == lang)
            {
                p.push(decide_class(
                    rescale(h.head.prob(x), h.threshold_for(Some(lang))),
                    rescale(a.head.prob(x), a.threshold_for(Some(lang))),
                ));
                g.push(e.hate.unwrap());
            }
            hate_metrics(&p, &g).macro_f1
        };
        let before = macro_f1(&set, "en");
        calibrate_hate_pair(&mut set, &examples, &embeddings, &TrainOptions::default());
        let after = macro_f1(&set, "en");
        assert!(after > before + 0.1 && after > 0.9, "{before} -> {after}");
        assert!(!set.heads["hate"].lang_thresholds.contains_key("de"));
        assert!(set.heads["abusive"].lang_thresholds.contains_key("de"));
    }

    #[test]
    fn trains_framing_heads_that_beat_chance() {
        let ex = load_framing(&framing_path(), 7).unwrap();
        let enc = HashingEncoder::new(256);
        let texts: Vec<&str> = ex.iter().map(|e| e.text.as_str()).collect();
        let emb = enc.encode(&texts).unwrap();
        let (set, m) = train_heads(&ex, &emb, enc.name(), &TrainOptions::default()).unwrap();
        assert_eq!(set.heads.len(), 8);
        assert_eq!(set.dim, 256);
        // Relevance is learnable from character n-grams.
        let rel = &m.heads["relevance"]["all"];
        assert_eq!(rel.n, 200);
        assert!(rel.f1 > 0.7, "{rel:?}");
        assert!(set.heads["threat"].trained_langs.len() >= 10);
        assert!(m.framing_hate.contains_key("all"));
    }
}
