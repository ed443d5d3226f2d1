//! Trained heads: one logistic regression per label over a sentence
//! embedding, with decision thresholds calibrated per language.
//!
//! Why logistic regression and not an MLP: the heads sit on a frozen,
//! L2-normalised multilingual encoder, the framing labels have a few hundred
//! examples, and a linear head transfers across languages more predictably
//! than a hidden layer fitted to five hate-speech languages. It trains in
//! seconds, so `mediawatch train` stays a few minutes on two cores.
//!
//! # File format (`models/heads/heads.json`)
//!
//! One UTF-8 JSON object:
//!
//! ```text
//! {
//!   "format": "mediawatch-heads/1",
//!   "encoder": "<Encoder::name() the heads were trained on>",
//!   "dim": 384,
//!   "seed": 7,
//!   "heads": {
//!     "<name>": {
//!       "weights": [f32; dim], "bias": f32,
//!       "threshold": f32,                      // global, calibrated on validation data
//!       "lang_thresholds": {"en": f32, ...},   // per language, where validation data allowed
//!       "trained_langs": ["en", ...]           // languages with training data for this head
//!     }, ...
//!   }
//! }
//! ```
//!
//! Head names: `relevance`, `hate` (hate vs. everything else), `abusive`
//! (hate or offensive vs. none), `collective`, `threat`, `victim`,
//! `recognition`, `solutions`. The model version is
//! `e5s-heads-<first 12 hex digits of the file's SHA-256>`, so labels name
//! the exact heads that produced them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ClassifyError;

/// Format tag written into and required from head files.
pub const HEADS_FORMAT: &str = "mediawatch-heads/1";

/// File name of the head set inside the heads directory.
pub const HEADS_FILE: &str = "heads.json";

/// Names of the heads, in a fixed order.
pub const HEAD_NAMES: [&str; 8] = [
    "relevance",
    "hate",
    "abusive",
    "collective",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

/// A logistic regression: `p = sigmoid(w . x + b)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticHead {
    /// One weight per input dimension.
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
}

/// Numerically safe logistic function.
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Optimiser settings for [`fit_logistic`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Adam step size.
    pub learning_rate: f32,
    /// L2 penalty on the weights (not the bias), per example.
    pub l2: f32,
    /// Examples per gradient step.
    pub batch_size: usize,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            epochs: 40,
            learning_rate: 0.01,
            l2: 1e-4,
            batch_size: 64,
            seed: 7,
        }
    }
}

impl LogisticHead {
    /// All-zero head of dimension `dim` (predicts 0.5 everywhere).
    pub fn zeros(dim: usize) -> Self {
        Self {
            weights: vec![0.0; dim],
            bias: 0.0,
        }
    }

    /// `w . x + b`; a shorter or longer `x` uses the common prefix, so a
    /// malformed input gives a wrong score, never a panic.
    pub fn logit(&self, x: &[f32]) -> f32 {
        self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + self.bias
    }

    /// Probability of the positive class.
    pub fn prob(&self, x: &[f32]) -> f32 {
        sigmoid(self.logit(x))
    }

    /// Weighted mean binary cross-entropy plus `l2/2 * |w|^2`, and its
    /// gradient with respect to the weights and the bias. `ys` are targets
    /// in 0..=1, `ws` example weights.
    pub fn loss_and_grad(
        &self,
        xs: &[&[f32]],
        ys: &[f32],
        ws: &[f32],
        l2: f32,
    ) -> (f32, Vec<f32>, f32) {
        let mut gw = vec![0.0f32; self.weights.len()];
        let mut gb = 0.0f32;
        let mut loss = 0.0f32;
        let total: f32 = ws.iter().sum::<f32>().max(f32::EPSILON);
        for ((x, &y), &w) in xs.iter().zip(ys).zip(ws) {
            let z = self.logit(x);
            // log(1 + e^z) - y z, stable for both signs of z.
            let softplus = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            loss += w * (softplus - y * z);
            let d = w * (sigmoid(z) - y);
            for (g, v) in gw.iter_mut().zip(x.iter()) {
                *g += d * v;
            }
            gb += d;
        }
        let sq: f32 = self.weights.iter().map(|w| w * w).sum();
        let loss = loss / total + 0.5 * l2 * sq;
        for (g, w) in gw.iter_mut().zip(&self.weights) {
            *g = *g / total + l2 * w;
        }
        (loss, gw, gb / total)
    }
}

/// Fits a [`LogisticHead`] with mini-batch Adam. Deterministic for a given
/// `opts.seed`. `xs`, `ys` and `ws` must have the same length (extra items of
/// the longer ones are ignored).
pub fn fit_logistic(xs: &[&[f32]], ys: &[f32], ws: &[f32], opts: &FitOptions) -> LogisticHead {
    let n = xs.len().min(ys.len()).min(ws.len());
    let dim = xs.first().map_or(0, |x| x.len());
    let mut head = LogisticHead::zeros(dim);
    if n == 0 {
        return head;
    }
    // Start from the weighted base rate so that a head without signal
    // predicts the prior, not 0.5.
    let wsum: f32 = ws[..n].iter().sum::<f32>().max(f32::EPSILON);
    let pos: f32 = ys[..n].iter().zip(&ws[..n]).map(|(y, w)| y * w).sum();
    let prior = (pos / wsum).clamp(1e-4, 1.0 - 1e-4);
    head.bias = (prior / (1.0 - prior)).ln();

    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut m = vec![0.0f32; dim + 1];
    let mut v = vec![0.0f32; dim + 1];
    let mut t = 0i32;
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    let bs = opts.batch_size.max(1);
    let mut bx: Vec<&[f32]> = Vec::with_capacity(bs);
    let mut by = Vec::with_capacity(bs);
    let mut bw = Vec::with_capacity(bs);
    for _ in 0..opts.epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(bs) {
            bx.clear();
            by.clear();
            bw.clear();
            for &i in chunk {
                bx.push(xs[i]);
                by.push(ys[i]);
                bw.push(ws[i]);
            }
            let (_, gw, gb) = head.loss_and_grad(&bx, &by, &bw, opts.l2);
            t += 1;
            let c1 = 1.0 - b1.powi(t);
            let c2 = 1.0 - b2.powi(t);
            for (j, g) in gw.iter().copied().chain(std::iter::once(gb)).enumerate() {
                m[j] = b1 * m[j] + (1.0 - b1) * g;
                v[j] = b2 * v[j] + (1.0 - b2) * g * g;
                let step = opts.learning_rate * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
                if j < dim {
                    head.weights[j] -= step;
                } else {
                    head.bias -= step;
                }
            }
        }
    }
    head
}

/// Threshold maximising F1 of `score >= t` against `gold`, searched over
/// the observed scores (ties broken towards 0.5). `None` when `gold` holds
/// no positive example.
pub fn best_f1_threshold(scores: &[f32], gold: &[bool]) -> Option<(f32, f32)> {
    let total_pos = gold.iter().filter(|g| **g).count();
    if total_pos == 0 {
        return None;
    }
    let mut pairs: Vec<(f32, bool)> = scores.iter().copied().zip(gold.iter().copied()).collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best: Option<(f32, f32)> = None;
    let mut i = 0;
    while i < pairs.len() {
        // Take every example with this score together.
        let s = pairs[i].0;
        while i < pairs.len() && pairs[i].0 == s {
            if pairs[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let f1 = 2.0 * tp as f32 / (tp + fp + total_pos) as f32;
        // Put the threshold halfway to the next lower score so it is not
        // fitted to one example's exact value.
        let next = pairs.get(i).map_or(0.0, |p| p.0);
        let t = ((s + next) / 2.0).clamp(0.02, 0.98);
        let better = match best {
            None => true,
            Some((bf, bt)) => {
                f1 > bf + 1e-6 || (f1 > bf - 1e-6 && (t - 0.5).abs() < (bt - 0.5).abs())
            }
        };
        if better {
            best = Some((f1, t));
        }
    }
    best.map(|(f1, t)| (t, f1))
}

/// Maps a probability to a score on which `threshold` sits at 0.5
/// (piecewise linear, monotone, 0 -> 0, 1 -> 1), so that the fixed 0.5
/// cut-off of reports and filters applies the calibrated threshold.
pub fn rescale(p: f32, threshold: f32) -> f32 {
    let t = threshold.clamp(0.01, 0.99);
    let p = if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if p < t {
        0.5 * p / t
    } else {
        0.5 + 0.5 * (p - t) / (1.0 - t)
    }
}

/// One trained head with its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadEntry {
    /// The model.
    #[serde(flatten)]
    pub head: LogisticHead,
    /// Threshold for languages without their own.
    pub threshold: f32,
    /// Thresholds calibrated per language on validation data.
    #[serde(default)]
    pub lang_thresholds: BTreeMap<String, f32>,
    /// Languages with training data for this head.
    #[serde(default)]
    pub trained_langs: Vec<String>,
}

/// Base language code (`sr-Latn` -> `sr`, `cnr`/`hr`/`bs` stay themselves).
pub fn base_lang(lang: &str) -> String {
    lang.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl HeadEntry {
    /// The decision threshold for `lang`.
    pub fn threshold_for(&self, lang: Option<&str>) -> f32 {
        lang.map(base_lang)
            .and_then(|l| self.lang_thresholds.get(&l).copied())
            .unwrap_or(self.threshold)
    }

    /// Whether the head saw training data in `lang`.
    pub fn trained_for(&self, lang: Option<&str>) -> bool {
        lang.map(base_lang)
            .is_some_and(|l| self.trained_langs.contains(&l))
    }
}

/// A set of heads trained on one encoder (see the module docs for the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadSet {
    /// Always [`HEADS_FORMAT`].
    pub format: String,
    /// Name of the encoder the heads were trained on.
    pub encoder: String,
    /// Embedding dimension.
    pub dim: usize,
    /// Seed of the training run.
    pub seed: u64,
    /// Heads by name (see [`HEAD_NAMES`]).
    pub heads: BTreeMap<String, HeadEntry>,
}

fn model_err(path: &Path, reason: impl std::fmt::Display) -> ClassifyError {
    ClassifyError::Model {
        model: "heads".into(),
        reason: format!("{}: {reason}", path.display()),
    }
}

/// First 12 hex digits of the SHA-256 of `bytes`.
pub fn short_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl HeadSet {
    /// An empty set for `encoder` with dimension `dim`.
    pub fn new(encoder: &str, dim: usize, seed: u64) -> Self {
        Self {
            format: HEADS_FORMAT.to_string(),
            encoder: encoder.to_string(),
            dim,
            seed,
            heads: BTreeMap::new(),
        }
    }

    /// Path of the head file inside `dir`.
    pub fn file_in(dir: &Path) -> PathBuf {
        dir.join(HEADS_FILE)
    }

    /// Parses and checks a head file's bytes; returns the set and its model
    /// version (`e5s-heads-<hash>`).
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<(Self, String), ClassifyError> {
        let set: HeadSet = serde_json::from_slice(bytes)
            .map_err(|e| model_err(origin, format!("not a head file: {e}")))?;
        if set.format != HEADS_FORMAT {
            return Err(model_err(
                origin,
                format!(
                    "format {:?}, this build reads {HEADS_FORMAT:?} (retrain with `mediawatch train`)",
                    set.format
                ),
            ));
        }
        for (name, h) in &set.heads {
            if h.head.weights.len() != set.dim {
                return Err(model_err(
                    origin,
                    format!(
                        "head {name:?} has {} weights, expected dim {}",
                        h.head.weights.len(),
                        set.dim
                    ),
                ));
            }
            let finite = h.head.weights.iter().all(|w| w.is_finite())
                && h.head.bias.is_finite()
                && h.threshold.is_finite()
                && h.lang_thresholds.values().all(|t| t.is_finite());
            if !finite {
                return Err(model_err(
                    origin,
                    format!("head {name:?} has non-finite numbers"),
                ));
            }
        }
        let version = format!("e5s-heads-{}", short_hash(bytes));
        Ok((set, version))
    }

    /// Loads `dir/heads.json`.
    pub fn load(dir: &Path) -> Result<(Self, String), ClassifyError> {
        let path = Self::file_in(dir);
        let bytes = std::fs::read(&path).map_err(|e| {
            model_err(
                &path,
                format!("cannot read the trained heads: {e} (run `mediawatch train`, or set classifier.kind = \"lexicon\")"),
            )
        })?;
        Self::from_bytes(&bytes, &path)
    }

    /// The JSON bytes written by [`HeadSet::save`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, ClassifyError> {
        let mut out = serde_json::to_vec(self)
            .map_err(|e| model_err(Path::new(HEADS_FILE), format!("cannot serialise: {e}")))?;
        out.push(b'\n');
        Ok(out)
    }

    /// Writes `dir/heads.json` (via a temporary file and a rename, so a
    /// reader never sees half a file) and returns the model version.
    pub fn save(&self, dir: &Path) -> Result<String, ClassifyError> {
        std::fs::create_dir_all(dir).map_err(|e| model_err(dir, format!("cannot create: {e}")))?;
        let bytes = self.to_bytes()?;
        let path = Self::file_in(dir);
        let tmp = dir.join(format!(".{HEADS_FILE}.tmp"));
        std::fs::write(&tmp, &bytes).map_err(|e| model_err(&tmp, format!("cannot write: {e}")))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| model_err(&path, format!("cannot rename into place: {e}")))?;
        Ok(format!("e5s-heads-{}", short_hash(&bytes)))
    }

    /// Raw probability of head `name` for embedding `x`; `None` when the set
    /// has no such head.
    pub fn prob(&self, name: &str, x: &[f32]) -> Option<f32> {
        self.heads.get(name).map(|h| h.head.prob(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<f32>) {
        // Two Gaussian-ish blobs separated along a fixed direction.
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for i in 0..n {
            let y = (i % 2) as f32;
            let centre = if y > 0.5 { 1.0 } else { -1.0 };
            let x: Vec<f32> = (0..8)
                .map(|d| {
                    let noise = rng.f32() - 0.5;
                    if d == 3 {
                        centre + 0.5 * noise
                    } else {
                        noise
                    }
                })
                .collect();
            xs.push(x);
            ys.push(y);
        }
        (xs, ys)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (xs, ys) = toy(20, 1);
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let ws: Vec<f32> = (0..20).map(|i| 1.0 + (i % 3) as f32).collect();
        let mut head = LogisticHead::zeros(8);
        for (j, w) in head.weights.iter_mut().enumerate() {
            *w = 0.1 * j as f32 - 0.3;
        }
        head.bias = 0.2;
        let l2 = 0.01;
        let (_, gw, gb) = head.loss_and_grad(&refs, &ys, &ws, l2);
        let h = 1e-3f32;
        for (j, analytic) in gw.iter().enumerate() {
            let mut plus = head.clone();
            plus.weights[j] += h;
            let mut minus = head.clone();
            minus.weights[j] -= h;
            let num = (plus.loss_and_grad(&refs, &ys, &ws, l2).0
                - minus.loss_and_grad(&refs, &ys, &ws, l2).0)
                / (2.0 * h);
            assert!(
                (num - analytic).abs() < 2e-3,
                "dim {j}: numeric {num}, analytic {analytic}"
            );
        }
        let mut plus = head.clone();
        plus.bias += h;
        let mut minus = head.clone();
        minus.bias -= h;
        let num = (plus.loss_and_grad(&refs, &ys, &ws, l2).0
            - minus.loss_and_grad(&refs, &ys, &ws, l2).0)
            / (2.0 * h);
        assert!(
            (num - gb).abs() < 2e-3,
            "bias: numeric {num}, analytic {gb}"
        );
    }

    #[test]
    fn separable_data_converges_and_is_reproducible() {
        let (xs, ys) = toy(200, 2);
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let ws = vec![1.0; 200];
        let opts = FitOptions {
            epochs: 60,
            learning_rate: 0.05,
            ..FitOptions::default()
        };
        let head = fit_logistic(&refs, &ys, &ws, &opts);
        let correct = refs
            .iter()
            .zip(&ys)
            .filter(|(x, y)| (head.prob(x) >= 0.5) == (**y > 0.5))
            .count();
        assert_eq!(correct, 200);
        // The separating dimension carries the weight.
        let top = head
            .weights
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, _)| i);
        assert_eq!(top, Some(3));
        let (loss, _, _) = head.loss_and_grad(&refs, &ys, &ws, 0.0);
        assert!(loss < 0.1, "loss {loss}");
        assert_eq!(fit_logistic(&refs, &ys, &ws, &opts), head);
    }

    #[test]
    fn prior_is_learned_without_signal() {
        let xs = vec![vec![0.0f32; 4]; 100];
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let ys: Vec<f32> = (0..100).map(|i| if i < 20 { 1.0 } else { 0.0 }).collect();
        let head = fit_logistic(&refs, &ys, &[1.0; 100], &FitOptions::default());
        assert!((head.prob(&[0.0; 4]) - 0.2).abs() < 0.02);
    }

    #[test]
    fn threshold_calibration_finds_the_gap() {
        let scores = [0.9, 0.8, 0.35, 0.3, 0.2, 0.1, 0.05];
        let gold = [true, true, true, false, false, false, false];
        let (t, f1) = best_f1_threshold(&scores, &gold).unwrap();
        assert!((f1 - 1.0).abs() < 1e-6);
        assert!(t > 0.3 && t <= 0.35, "{t}");
        assert!(best_f1_threshold(&scores, &[false; 7]).is_none());
        // Rescaling puts the threshold at 0.5 and keeps order.
        assert!((rescale(t, t) - 0.5).abs() < 1e-6);
        assert!(rescale(0.2, t) < 0.5 && rescale(0.9, t) > 0.5);
        assert_eq!(rescale(0.0, t), 0.0);
        assert!((rescale(1.0, t) - 1.0).abs() < 1e-6);
        assert_eq!(rescale(f32::NAN, t), 0.0);
    }

    #[test]
    fn round_trip_and_version_follow_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = HeadSet::new("test-enc", 3, 9);
        let mut lt = BTreeMap::new();
        lt.insert("de".to_string(), 0.37f32);
        set.heads.insert(
            "hate".into(),
            HeadEntry {
                head: LogisticHead {
                    weights: vec![0.1, -2.5e-7, 3.333_333],
                    bias: -0.7,
                },
                threshold: 0.42,
                lang_thresholds: lt,
                trained_langs: vec!["de".into(), "en".into()],
            },
        );
        let v1 = set.save(dir.path()).unwrap();
        let (back, v2) = HeadSet::load(dir.path()).unwrap();
        assert_eq!(back, set);
        assert_eq!(v1, v2);
        assert!(v1.starts_with("e5s-heads-") && v1.len() == "e5s-heads-".len() + 12);
        let h = &back.heads["hate"];
        assert_eq!(h.threshold_for(Some("de-AT")), 0.37);
        assert_eq!(h.threshold_for(Some("pl")), 0.42);
        assert!(h.trained_for(Some("en")) && !h.trained_for(Some("fr")) && !h.trained_for(None));
        // Another weight gives another version.
        set.heads.get_mut("hate").unwrap().head.bias = 0.0;
        assert_ne!(set.save(dir.path()).unwrap(), v1);
        // Damaged files are refused with the path in the message.
        std::fs::write(HeadSet::file_in(dir.path()), "{\"format\":\"x\"}").unwrap();
        let err = HeadSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("heads.json"), "{err}");
        let mut bad = set.clone();
        bad.dim = 4;
        let bytes = serde_json::to_vec(&bad).unwrap();
        assert!(HeadSet::from_bytes(&bytes, Path::new("x")).is_err());
        let missing = HeadSet::load(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("mediawatch train"), "{missing}");
    }
}
