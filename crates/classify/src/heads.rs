//! Trained heads: one logistic regression per label over a sentence
//! embedding, with decision thresholds calibrated per language.
//!
//! Why logistic regression and not an MLP: the heads sit on a frozen,
//! L2-normalised multilingual encoder, the framing labels have a few hundred
//! examples, and a linear head transfers across languages more predictably
//! than a hidden layer fitted to five hate-speech languages. It trains in
//! seconds, so `mediawatch train` stays a few minutes on two cores.
//!
//! # File format (`models/classifier/heads.json`)
//!
//! One UTF-8 JSON object:
//!
//! ```text
//! {
//!   "format": "mediawatch-heads/2",
//!   "encoder": "<Encoder::name() the heads were trained on>",
//!   "dim": 384,
//!   "seed": 7,
//!   "heads": {
//!     "<name>": {
//!       "weights": [f32; dim], "bias": f32,   // [f32; units] with a hidden layer
//!       "hidden": {"units": n, "weights": [f32; n * dim], "bias": [f32; n]},  // optional
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
pub const HEADS_FORMAT: &str = "mediawatch-heads/3";

/// Earlier formats, still read: format 3 without the fast model's gates
/// (`mediawatch-heads/2`), and without hidden layers (`/1`).
pub const HEADS_FORMATS_READ: [&str; 2] = ["mediawatch-heads/2", "mediawatch-heads/1"];

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

/// Groups a hateful or offensive text may target (the `target:<group>`
/// heads, and the `target` key of the written data).
pub const TARGET_GROUPS: [&str; 8] = [
    "migrants_refugees",
    "ethnic_national",
    "religious",
    "roma",
    "lgbt",
    "women",
    "disability",
    "other",
];

/// A logistic regression: `p = sigmoid(w . x + b)`, or, with a hidden
/// layer, `p = sigmoid(w . relu(W x + c) + b)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticHead {
    /// One weight per input dimension (per hidden unit with a hidden layer).
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
    /// Optional hidden layer (heads with thousands of training examples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<HiddenLayer>,
}

/// A fully connected ReLU layer: `relu(W x + c)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HiddenLayer {
    /// Number of units.
    pub units: usize,
    /// `units x dim` weights, row-major.
    pub weights: Vec<f32>,
    /// One bias per unit.
    pub bias: Vec<f32>,
}

impl HiddenLayer {
    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.weights.len() / self.units.max(1)
    }

    /// `relu(W x + c)` into `out` (cleared first); a shorter or longer `x`
    /// uses the common prefix.
    fn forward_into(&self, x: &[f32], out: &mut Vec<f32>) {
        let dim = self.dim();
        out.clear();
        for (row, c) in self.weights.chunks_exact(dim.max(1)).zip(&self.bias) {
            let z = dot(row, x) + c;
            out.push(z.max(0.0));
        }
    }
}

/// Dot product over the common prefix, in four lanes so that it
/// vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
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

/// Binary cross-entropy of logit `z` against target `y`:
/// `log(1 + e^z) - y z`, stable for both signs of `z`.
fn log_loss(z: f32, y: f32) -> f32 {
    let softplus = if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    };
    softplus - y * z
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
            hidden: None,
        }
    }

    /// Checks shapes against the set's `dim` and that every number is
    /// finite.
    pub fn check(&self, dim: usize) -> Result<(), String> {
        let finite = |xs: &[f32]| xs.iter().all(|w| w.is_finite());
        match &self.hidden {
            None if self.weights.len() != dim => Err(format!(
                "{} weights, expected dim {dim}",
                self.weights.len()
            )),
            Some(h)
                if h.units == 0
                    || h.weights.len() != h.units * dim
                    || h.bias.len() != h.units
                    || self.weights.len() != h.units =>
            {
                Err(format!(
                    "hidden layer of {} units with {} weights and {} biases, output {} weights; expected dim {dim}",
                    h.units,
                    h.weights.len(),
                    h.bias.len(),
                    self.weights.len()
                ))
            }
            Some(h) if !finite(&h.weights) || !finite(&h.bias) => {
                Err("non-finite numbers in the hidden layer".into())
            }
            _ if !finite(&self.weights) || !self.bias.is_finite() => {
                Err("non-finite numbers".into())
            }
            _ => Ok(()),
        }
    }

    /// Input dimension the head expects.
    pub fn input_dim(&self) -> usize {
        self.hidden
            .as_ref()
            .map_or(self.weights.len(), HiddenLayer::dim)
    }

    /// `w . x + b` (through the hidden layer when there is one); a shorter
    /// or longer `x` uses the common prefix, so a malformed input gives a
    /// wrong score, never a panic.
    pub fn logit(&self, x: &[f32]) -> f32 {
        match &self.hidden {
            None => dot(&self.weights, x) + self.bias,
            Some(h) => {
                let mut a = Vec::with_capacity(h.units);
                h.forward_into(x, &mut a);
                dot(&self.weights, &a) + self.bias
            }
        }
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
            loss += w * log_loss(z, y);
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
    fit_logistic_from(None, xs, ys, ws, opts)
}

/// [`fit_logistic`], starting from `init` (a linear head of the same
/// dimension) when given, with the L2 penalty pulling the weights towards
/// `init` instead of towards zero. This is how an organisation's own
/// labels retrain the shipped heads without the public data: the new data
/// moves the head, the penalty keeps what it learned elsewhere.
pub fn fit_logistic_from(
    init: Option<&LogisticHead>,
    xs: &[&[f32]],
    ys: &[f32],
    ws: &[f32],
    opts: &FitOptions,
) -> LogisticHead {
    let n = xs.len().min(ys.len()).min(ws.len());
    let dim = xs.first().map_or(0, |x| x.len());
    let anchor = init.filter(|h| h.hidden.is_none() && h.weights.len() == dim);
    let mut head = anchor.cloned().unwrap_or_else(|| LogisticHead::zeros(dim));
    if n == 0 {
        return head;
    }
    if anchor.is_none() {
        // Start from the weighted base rate so that a head without signal
        // predicts the prior, not 0.5.
        let wsum: f32 = ws[..n].iter().sum::<f32>().max(f32::EPSILON);
        let pos: f32 = ys[..n].iter().zip(&ws[..n]).map(|(y, w)| y * w).sum();
        let prior = (pos / wsum).clamp(1e-4, 1.0 - 1e-4);
        head.bias = (prior / (1.0 - prior)).ln();
    }

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
            let (_, mut gw, gb) = head.loss_and_grad(&bx, &by, &bw, opts.l2);
            if let Some(a) = anchor {
                for (g, w0) in gw.iter_mut().zip(&a.weights) {
                    *g -= opts.l2 * w0;
                }
            }
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

/// Held-out data for early stopping: inputs, targets and weights.
pub type Held<'a> = (&'a [&'a [f32]], &'a [f32], &'a [f32]);

/// Weighted mean binary cross-entropy of `head` on `data`.
pub fn weighted_log_loss(head: &LogisticHead, data: Held<'_>) -> f32 {
    let (xs, ys, ws) = data;
    let total: f32 = ws.iter().sum::<f32>().max(f32::EPSILON);
    let mut loss = 0.0f32;
    for ((x, &y), &w) in xs.iter().zip(ys).zip(ws) {
        loss += w * log_loss(head.logit(x), y);
    }
    loss / total
}

/// Fits a head with one hidden ReLU layer of `units` units by mini-batch
/// Adam with L2 on the weights, keeping the parameters of the epoch with
/// the lowest weighted log-loss on `held` (early stopping; without `held`
/// the last epoch's). Deterministic for a given `opts.seed`.
///
/// Why a hidden layer at all: on a frozen encoder, hate and abuse are not
/// linearly separable enough (a linear head reached macro-F1 0.57 on
/// English); with tens of thousands of examples a small layer fits the
/// interactions without overfitting, which the early stopping guards.
pub fn fit_mlp(
    xs: &[&[f32]],
    ys: &[f32],
    ws: &[f32],
    held: Option<Held<'_>>,
    units: usize,
    opts: &FitOptions,
) -> LogisticHead {
    let n = xs.len().min(ys.len()).min(ws.len());
    let dim = xs.first().map_or(0, |x| x.len());
    let units = units.max(1);
    let mut rng = fastrand::Rng::with_seed(opts.seed);
    // He-uniform for the ReLU layer, Glorot-uniform for the output.
    let lim1 = (6.0 / dim.max(1) as f32).sqrt();
    let lim2 = (6.0 / (units + 1) as f32).sqrt();
    let mut w1: Vec<f32> = (0..units * dim)
        .map(|_| (rng.f32() * 2.0 - 1.0) * lim1)
        .collect();
    let mut c1 = vec![0.0f32; units];
    let mut w2: Vec<f32> = (0..units).map(|_| (rng.f32() * 2.0 - 1.0) * lim2).collect();
    let wsum: f32 = ws[..n].iter().sum::<f32>().max(f32::EPSILON);
    let pos: f32 = ys[..n].iter().zip(&ws[..n]).map(|(y, w)| y * w).sum();
    let prior = (pos / wsum).clamp(1e-4, 1.0 - 1e-4);
    let mut b2 = (prior / (1.0 - prior)).ln();
    let assemble = |w1: &[f32], c1: &[f32], w2: &[f32], b2: f32| LogisticHead {
        weights: w2.to_vec(),
        bias: b2,
        hidden: Some(HiddenLayer {
            units,
            weights: w1.to_vec(),
            bias: c1.to_vec(),
        }),
    };
    if n == 0 || dim == 0 {
        return assemble(&w1, &c1, &w2, b2);
    }

    // Adam state, laid out as [w1 | c1 | w2 | b2].
    let np = units * dim + units + units + 1;
    let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut m = vec![0.0f32; np];
    let mut v = vec![0.0f32; np];
    let mut g = vec![0.0f32; np];
    let mut t = 0i32;
    let mut order: Vec<usize> = (0..n).collect();
    let bs = opts.batch_size.max(1);
    let mut z1 = vec![0.0f32; units];
    let mut best: Option<(f32, LogisticHead)> = None;
    for _ in 0..opts.epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(bs) {
            g.iter_mut().for_each(|x| *x = 0.0);
            let total: f32 = chunk.iter().map(|&i| ws[i]).sum::<f32>().max(f32::EPSILON);
            let (gw1, rest) = g.split_at_mut(units * dim);
            let (gc1, rest) = rest.split_at_mut(units);
            let (gw2, gb2) = rest.split_at_mut(units);
            for &i in chunk {
                let x = &xs[i][..dim.min(xs[i].len())];
                for (u, z) in z1.iter_mut().enumerate() {
                    *z = dot(&w1[u * dim..(u + 1) * dim], x) + c1[u];
                }
                let out: f32 = z1.iter().zip(&w2).map(|(z, w)| z.max(0.0) * w).sum::<f32>() + b2;
                let d = ws[i] * (sigmoid(out) - ys[i]) / total;
                gb2[0] += d;
                for u in 0..units {
                    if z1[u] <= 0.0 {
                        continue;
                    }
                    gw2[u] += d * z1[u];
                    let du = d * w2[u];
                    gc1[u] += du;
                    for (gw, xv) in gw1[u * dim..u * dim + x.len()].iter_mut().zip(x) {
                        *gw += du * xv;
                    }
                }
            }
            for (gw, w) in gw1.iter_mut().zip(&w1) {
                *gw += opts.l2 * w;
            }
            for (gw, w) in gw2.iter_mut().zip(&w2) {
                *gw += opts.l2 * w;
            }
            t += 1;
            let k1 = 1.0 - beta1.powi(t);
            let k2 = 1.0 - beta2.powi(t);
            let lr = opts.learning_rate;
            let params = w1
                .iter_mut()
                .chain(c1.iter_mut())
                .chain(w2.iter_mut())
                .chain(std::iter::once(&mut b2));
            for (((p, gj), mj), vj) in params.zip(&g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *mj = beta1 * *mj + (1.0 - beta1) * gj;
                *vj = beta2 * *vj + (1.0 - beta2) * gj * gj;
                *p -= lr * (*mj / k1) / ((*vj / k2).sqrt() + eps);
            }
        }
        if let Some(h) = held {
            let head = assemble(&w1, &c1, &w2, b2);
            let loss = weighted_log_loss(&head, h);
            if best.as_ref().is_none_or(|(l, _)| loss < *l) {
                best = Some((loss, head));
            }
        }
    }
    match best {
        Some((_, head)) => head,
        None => assemble(&w1, &c1, &w2, b2),
    }
}

/// Threshold maximising F1 of `score >= t` against `gold`, searched over
/// the observed scores (ties broken towards 0.5). `None` when `gold` holds
/// no positive example.
pub fn best_f1_threshold(scores: &[f32], gold: &[bool]) -> Option<(f32, f32)> {
    best_threshold_by(scores, gold, true, |tp, fp, pos, _| {
        (pos > 0).then(|| 2.0 * tp as f32 / (tp + fp + pos) as f32)
    })
}

/// Threshold maximising the macro-F1 (mean of the F1 of both classes) of
/// `score >= t`; `None` without both classes. Ties keep the highest
/// threshold.
pub fn best_macro_f1_threshold(scores: &[f32], gold: &[bool]) -> Option<(f32, f32)> {
    best_threshold_by(scores, gold, false, |tp, fp, pos, neg| {
        if pos == 0 || neg == 0 {
            return None;
        }
        let (fn_, tn) = (pos - tp, neg - fp);
        let f_pos = 2.0 * tp as f32 / (2 * tp + fp + fn_).max(1) as f32;
        let f_neg = 2.0 * tn as f32 / (2 * tn + fn_ + fp).max(1) as f32;
        Some((f_pos + f_neg) / 2.0)
    })
}

/// The sweep behind both: every distinct score, from the highest down, as
/// a cut-off; `metric(tp, fp, positives, negatives)` scores it (`None`:
/// undefined for this gold). Returns (threshold, metric).
fn best_threshold_by(
    scores: &[f32],
    gold: &[bool],
    ties_towards_half: bool,
    metric: impl Fn(usize, usize, usize, usize) -> Option<f32>,
) -> Option<(f32, f32)> {
    let pos = gold.iter().filter(|g| **g).count();
    let neg = gold.len() - pos;
    metric(0, 0, pos, neg)?;
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
        let Some(m) = metric(tp, fp, pos, neg) else {
            continue;
        };
        // Put the threshold halfway to the next lower score so it is not
        // fitted to one example's exact value.
        let next = pairs.get(i).map_or(0.0, |p| p.0);
        let t = ((s + next) / 2.0).clamp(0.02, 0.98);
        let better = match best {
            None => true,
            Some((bm, bt)) => {
                m > bm + 1e-6
                    || (ties_towards_half && m > bm - 1e-6 && (t - 0.5).abs() < (bt - 0.5).abs())
            }
        };
        if better {
            best = Some((m, t));
        }
    }
    best.map(|(m, t)| (t, m))
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

/// Decision and gate thresholds of one head of the fast model
/// ([`crate::fast`]): `threshold` maps its probability to the 0.5 scale
/// like a head's; `gate` is the lower, recall-oriented threshold at which
/// the cascade sends a text on to the encoder (relevance: into migration
/// scope; abusive: flagged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FastGate {
    /// Decision threshold for languages without their own.
    pub threshold: f32,
    /// Gate threshold for languages without their own.
    pub gate: f32,
    /// Decision thresholds per language.
    #[serde(default)]
    pub lang_thresholds: BTreeMap<String, f32>,
    /// Gate thresholds per language.
    #[serde(default)]
    pub lang_gates: BTreeMap<String, f32>,
}

impl Default for FastGate {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            gate: 0.5,
            lang_thresholds: BTreeMap::new(),
            lang_gates: BTreeMap::new(),
        }
    }
}

impl FastGate {
    /// The decision threshold for `lang`.
    pub fn threshold_for(&self, lang: Option<&str>) -> f32 {
        lang.map(base_lang)
            .and_then(|l| self.lang_thresholds.get(&l).copied())
            .unwrap_or(self.threshold)
    }

    /// The gate threshold for `lang`.
    pub fn gate_for(&self, lang: Option<&str>) -> f32 {
        lang.map(base_lang)
            .and_then(|l| self.lang_gates.get(&l).copied())
            .unwrap_or(self.gate)
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
    /// Thresholds of the fast model's heads (`fast.bin` beside this file),
    /// by head name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fast: BTreeMap<String, FastGate>,
    /// Share of the fast model's probability mixed into a head's, by head
    /// name (`hate`, `abusive` and the framing heads); chosen on validation
    /// data.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blend: BTreeMap<String, f32>,
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
            fast: BTreeMap::new(),
            blend: BTreeMap::new(),
        }
    }

    /// The fast model's thresholds for head `name` (0.5 and 0.5 when the
    /// file has none).
    pub fn fast_gate(&self, name: &str) -> FastGate {
        self.fast.get(name).cloned().unwrap_or_default()
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
        if set.format != HEADS_FORMAT && !HEADS_FORMATS_READ.contains(&set.format.as_str()) {
            return Err(model_err(
                origin,
                format!(
                    "format {:?}, this build reads {HEADS_FORMAT:?} (retrain with `mediawatch train`)",
                    set.format
                ),
            ));
        }
        for (name, h) in &set.heads {
            if let Err(reason) = h.head.check(set.dim) {
                return Err(model_err(origin, format!("head {name:?}: {reason}")));
            }
            let finite =
                h.threshold.is_finite() && h.lang_thresholds.values().all(|t| t.is_finite());
            if !finite {
                return Err(model_err(
                    origin,
                    format!("head {name:?} has non-finite thresholds"),
                ));
            }
        }
        for (name, g) in &set.fast {
            let finite = [g.threshold, g.gate]
                .iter()
                .chain(g.lang_thresholds.values())
                .chain(g.lang_gates.values())
                .all(|t| t.is_finite());
            if !finite {
                return Err(model_err(
                    origin,
                    format!("fast head {name:?} has non-finite thresholds"),
                ));
            }
        }
        for (name, w) in &set.blend {
            if !(0.0..=1.0).contains(w) {
                return Err(model_err(
                    origin,
                    format!("blend weight of {name:?} is {w}, outside 0..=1"),
                ));
            }
        }
        let version = format!("e5s-heads-{}", short_hash(bytes));
        Ok((set, version))
    }

    /// Loads `dir/heads.json`, returning the set and the file's bytes (for
    /// a version over several files).
    pub fn load_bytes(dir: &Path) -> Result<(Self, Vec<u8>), ClassifyError> {
        let (path, bytes) = Self::read(dir)?;
        let (set, _) = Self::from_bytes(&bytes, &path)?;
        Ok((set, bytes))
    }

    /// Loads `dir/heads.json`.
    pub fn load(dir: &Path) -> Result<(Self, String), ClassifyError> {
        let (path, bytes) = Self::read(dir)?;
        Self::from_bytes(&bytes, &path)
    }

    fn read(dir: &Path) -> Result<(PathBuf, Vec<u8>), ClassifyError> {
        let path = Self::file_in(dir);
        let bytes = std::fs::read(&path).map_err(|e| {
            model_err(
                &path,
                format!("cannot read the trained heads: {e} (run `mediawatch train`, or set classifier.kind = \"lexicon\")"),
            )
        })?;
        Ok((path, bytes))
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

    /// Probability of head `name` for embedding `x` with the fast model's
    /// probability `fast` for the same text mixed in at the head's
    /// [`Self::blend`] weight (none: the head's own).
    pub fn blended_prob(&self, name: &str, x: &[f32], fast: f32) -> Option<f32> {
        let p = self.prob(name, x)?;
        Some(blend(p, fast, self.blend_weight(name)))
    }

    /// The fast model's share in head `name` (0 when not blended).
    pub fn blend_weight(&self, name: &str) -> f32 {
        self.blend.get(name).copied().unwrap_or(0.0)
    }
}

/// `(1 - w) * head + w * fast`: the one formula by which training chooses a
/// blend weight and the cascade applies it.
pub fn blend(head: f32, fast: f32, w: f32) -> f32 {
    if w > 0.0 {
        (1.0 - w) * head + w * fast
    } else {
        head
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

    /// XOR on two coordinates (plus noise dimensions): no linear head can
    /// fit it, a hidden layer must.
    fn xor(n: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<f32>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for _ in 0..n {
            let a = rng.f32() * 2.0 - 1.0;
            let b = rng.f32() * 2.0 - 1.0;
            let mut x = vec![a, b];
            x.extend((0..6).map(|_| rng.f32() * 0.2 - 0.1));
            xs.push(x);
            ys.push(if (a > 0.0) != (b > 0.0) { 1.0 } else { 0.0 });
        }
        (xs, ys)
    }

    fn accuracy(h: &LogisticHead, xs: &[Vec<f32>], ys: &[f32]) -> f32 {
        let ok = xs
            .iter()
            .zip(ys)
            .filter(|(x, y)| (h.prob(x) >= 0.5) == (**y > 0.5))
            .count();
        ok as f32 / xs.len() as f32
    }

    #[test]
    fn hidden_layer_fits_what_a_linear_head_cannot() {
        let (xs, ys) = xor(1200, 3);
        let (vx, vy) = xor(300, 4);
        let refs: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let vrefs: Vec<&[f32]> = vx.iter().map(Vec::as_slice).collect();
        let ws = vec![1.0; xs.len()];
        let vw = vec![1.0; vx.len()];
        let opts = FitOptions {
            epochs: 60,
            learning_rate: 0.01,
            ..Default::default()
        };
        let linear = fit_logistic(&refs, &ys, &ws, &opts);
        let held = Some((vrefs.as_slice(), vy.as_slice(), vw.as_slice()));
        let mlp = fit_mlp(&refs, &ys, &ws, held, 16, &opts);
        let (lin_acc, mlp_acc) = (accuracy(&linear, &vx, &vy), accuracy(&mlp, &vx, &vy));
        assert!(lin_acc < 0.7, "linear {lin_acc}");
        assert!(mlp_acc > 0.9, "mlp {mlp_acc}");
        assert!(mlp.check(8).is_ok());
        assert_eq!(mlp.input_dim(), 8);
        // Same seed, same head.
        assert_eq!(fit_mlp(&refs, &ys, &ws, held, 16, &opts), mlp);
        // A hidden-layer head round-trips through the file and keeps its
        // scores; a damaged shape is refused with the reason.
        let dir = tempfile::tempdir().unwrap();
        let mut set = HeadSet::new("test-enc", 8, 1);
        set.heads.insert(
            "hate".into(),
            HeadEntry {
                head: mlp.clone(),
                threshold: 0.5,
                lang_thresholds: BTreeMap::new(),
                trained_langs: vec![],
            },
        );
        set.save(dir.path()).unwrap();
        let (back, _) = HeadSet::load(dir.path()).unwrap();
        assert_eq!(back.prob("hate", &vx[0]), Some(mlp.prob(&vx[0])));
        let mut bad = set.clone();
        if let Some(h) = bad.heads.get_mut("hate").unwrap().head.hidden.as_mut() {
            h.bias.pop();
        }
        let err = HeadSet::from_bytes(&serde_json::to_vec(&bad).unwrap(), Path::new("h.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("hidden layer") && err.contains("h.json"),
            "{err}"
        );
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
                    hidden: None,
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
        // Files of the previous format (linear heads only) are still read.
        let mut v1 = set.clone();
        v1.format = HEADS_FORMATS_READ[1].into();
        let bytes = serde_json::to_vec(&v1).unwrap();
        assert!(HeadSet::from_bytes(&bytes, Path::new("x")).is_ok());
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
