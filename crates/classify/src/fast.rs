//! Stage one of the cascade: hashed character and word n-grams of the folded
//! text, one logistic regression per label.
//!
//! It reads every document (tens of thousands per second), so it decides
//! what the encoder never sees: a text out of migration scope whose
//! `abusive` score is under the flag threshold keeps `hate: none` without
//! being encoded. Its features are those of the classic strong baseline for
//! abusive language (character 2–5-grams and word 1–2-grams, sublinear
//! counts, L2-normalised), computed on text folded like the lexicons'
//! (lowercase, no diacritics, Cyrillic transliterated), so `pederi`,
//! `педери` and `PEDERI` share their features and Serbian in either script
//! is one language to the model.
//!
//! # File format (`models/classifier/fast.bin`)
//!
//! Little endian: magic `MWFAST01`, u32 `bits` (2^bits buckets), u32 head
//! count; per head: u16 name length, the UTF-8 name, f32 bias, f32 scale,
//! then 2^bits i8 weights (weight = i8 x scale). Weights are quantized at
//! save time: 1 MiB a head at 20 bits, and scores within 1e-3 of the f32
//! model (tested below).

use std::path::Path;

use crate::heads::sigmoid;
use crate::normalize::fold;
use crate::ClassifyError;

/// File name inside the classifier directory.
pub const FAST_FILE: &str = "fast.bin";
const MAGIC: &[u8; 8] = b"MWFAST01";
/// Characters of a text that are featurised; the rest of a longer text is
/// scored window by window by the caller.
pub const MAX_FEATURE_CHARS: usize = 20_000;
/// Default hash space (2^20 buckets).
pub const DEFAULT_BITS: u32 = 20;

/// Sparse, L2-normalised feature vector: sorted bucket indices and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    /// Bucket indices, ascending, unique.
    pub idx: Vec<u32>,
    /// One value per index.
    pub val: Vec<f32>,
}

/// FNV-1a, seeded per feature family so that a word and a character n-gram
/// of the same letters land in different buckets.
fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Final mix: FNV's low bits are weak for short keys.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// Features of `text` in a space of 2^`bits` buckets.
pub fn features(text: &str, bits: u32) -> Features {
    let folded = fold(cut_chars(text, MAX_FEATURE_CHARS)).text;
    if folded.is_empty() {
        return Features::default();
    }
    let mask = (1u64 << bits) - 1;
    // Character n-grams over the folded text padded with spaces, so that
    // word starts and ends are features of their own; an n-gram's bytes
    // are a slice of the padded text between two char boundaries.
    let mut padded = String::with_capacity(folded.len() + 2);
    padded.push(' ');
    padded.extend(folded.chars().map(|c| if c == '\n' { ' ' } else { c }));
    padded.push(' ');
    let bounds: Vec<usize> = padded
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(padded.len()))
        .collect();
    let chars = bounds.len() - 1;
    let bytes = padded.as_bytes();
    let mut raw: Vec<u32> = Vec::with_capacity(chars * 5);
    for n in 2..=5usize {
        for w in bounds.windows(n + 1) {
            raw.push((fnv(n as u64, &bytes[w[0]..w[n]]) & mask) as u32);
        }
    }
    // Word unigrams and bigrams.
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        raw.push((fnv(11, w.as_bytes()) & mask) as u32);
        if let Some(next) = words.get(i + 1) {
            let mut h = fnv(12, w.as_bytes());
            h ^= fnv(13, next.as_bytes());
            raw.push((h & mask) as u32);
        }
    }
    sort_buckets(&mut raw, bits);
    let mut f = Features::default();
    let mut i = 0;
    while i < raw.len() {
        let mut j = i + 1;
        while j < raw.len() && raw[j] == raw[i] {
            j += 1;
        }
        f.idx.push(raw[i]);
        // Sublinear counts: a word repeated ten times is not ten times the
        // evidence.
        f.val.push(1.0 + ((j - i) as f32).ln());
        i = j;
    }
    let norm = f.val.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        f.val.iter_mut().for_each(|v| *v /= norm);
    }
    f
}

/// Sorts bucket indices below 2^`bits`: an LSD radix sort, 11 bits a pass,
/// for the long vectors of articles (a comparison sort of ~100,000 indices
/// was a third of the features' cost); `sort_unstable` for short ones.
fn sort_buckets(v: &mut Vec<u32>, bits: u32) {
    const RADIX: u32 = 11;
    if v.len() < 2048 || bits > 3 * RADIX {
        v.sort_unstable();
        return;
    }
    let mut tmp = vec![0u32; v.len()];
    let mut shift = 0;
    while shift < bits {
        let mut counts = [0usize; 1 << RADIX];
        for &x in v.iter() {
            counts[((x >> shift) & ((1 << RADIX) - 1)) as usize] += 1;
        }
        let mut at = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for &x in v.iter() {
            let d = &mut counts[((x >> shift) & ((1 << RADIX) - 1)) as usize];
            tmp[*d] = x;
            *d += 1;
        }
        std::mem::swap(v, &mut tmp);
        shift += RADIX;
    }
}

fn cut_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// One weight per bucket: as training leaves them, or as the file stores
/// them. A loaded model keeps the file's bytes (1 MiB a head at 20 bits,
/// not the 4 MiB of f32): eight heads are read on every document, and
/// their memory is part of every worker's peak.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// Full precision (training).
    F32(Vec<f32>),
    /// Quantized: weight = `q[i]` x `scale`.
    I8 {
        /// One byte per bucket.
        q: Vec<i8>,
        /// The head's scale.
        scale: f32,
    },
}

impl Weights {
    /// The weights in full precision (a warm start's starting point).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Self::F32(w) => w.clone(),
            Self::I8 { q, scale } => q.iter().map(|&b| f32::from(b) * scale).collect(),
        }
    }

    /// The stored form: i8 per bucket and the scale (`n` buckets).
    fn quantized(&self, n: usize) -> (Vec<i8>, f32) {
        match self {
            Self::I8 { q, scale } => (q.clone(), *scale),
            Self::F32(w) => {
                let max = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
                let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                let q = (0..n)
                    .map(|i| {
                        let x = w.get(i).copied().unwrap_or(0.0);
                        (x / scale).round().clamp(-127.0, 127.0) as i8
                    })
                    .collect();
                (q, scale)
            }
        }
    }
}

/// One label's weights.
#[derive(Debug, Clone, PartialEq)]
pub struct FastHead {
    /// Label name (`relevance`, `abusive`, `hate`, ...).
    pub name: String,
    /// Intercept.
    pub bias: f32,
    /// One weight per bucket.
    pub weights: Weights,
}

impl FastHead {
    /// Logit for `f`.
    pub fn logit(&self, f: &Features) -> f32 {
        let pairs = f.idx.iter().map(|&i| i as usize).zip(&f.val);
        match &self.weights {
            Weights::F32(w) => {
                self.bias
                    + pairs
                        .map(|(i, v)| w.get(i).copied().unwrap_or(0.0) * v)
                        .sum::<f32>()
            }
            Weights::I8 { q, scale } => {
                let dot: f32 = pairs
                    .map(|(i, v)| q.get(i).map_or(0.0, |&b| f32::from(b)) * v)
                    .sum();
                self.bias + dot * scale
            }
        }
    }
}

/// The stage-one model: a hash space and one head per label.
#[derive(Debug, Clone, PartialEq)]
pub struct FastModel {
    /// 2^bits buckets.
    pub bits: u32,
    /// The heads.
    pub heads: Vec<FastHead>,
}

impl FastModel {
    /// The head named `name`.
    pub fn head(&self, name: &str) -> Option<&FastHead> {
        self.heads.iter().find(|h| h.name == name)
    }

    /// Features of `text` in this model's space.
    pub fn features(&self, text: &str) -> Features {
        features(text, self.bits)
    }

    /// Probability of label `name` for features `f` (`None`: no such head).
    pub fn prob(&self, name: &str, f: &Features) -> Option<f32> {
        self.head(name).map(|h| sigmoid(h.logit(f)))
    }

    /// Serialises the model, weights quantized to i8 per head.
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = 1usize << self.bits;
        let mut out = Vec::with_capacity(16 + self.heads.len() * (n + 64));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.bits.to_le_bytes());
        out.extend_from_slice(&(self.heads.len() as u32).to_le_bytes());
        for h in &self.heads {
            let name = h.name.as_bytes();
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name);
            let (q, scale) = h.weights.quantized(n);
            out.extend_from_slice(&h.bias.to_le_bytes());
            out.extend_from_slice(&scale.to_le_bytes());
            out.extend(q.iter().map(|&b| b as u8));
        }
        out
    }

    /// Reads a model written by [`FastModel::to_bytes`]; `what` names the
    /// source in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, ClassifyError> {
        let err = |reason: String| ClassifyError::Model {
            model: what.to_string(),
            reason,
        };
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8], ClassifyError> {
            let s = bytes
                .get(pos..pos + n)
                .ok_or_else(|| err(format!("truncated at byte {pos}")))?;
            pos += n;
            Ok(s)
        };
        if take(8)? != MAGIC {
            return Err(err("not a mediawatch fast model (bad magic)".into()));
        }
        let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let f32_at = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let bits = u32_at(take(4)?);
        if !(8..=24).contains(&bits) {
            return Err(err(format!("hash space of {bits} bits is out of range")));
        }
        let count = u32_at(take(4)?) as usize;
        if count > 64 {
            return Err(err(format!("{count} heads is implausible")));
        }
        let n = 1usize << bits;
        let mut heads = Vec::with_capacity(count);
        for _ in 0..count {
            let len = take(2)?;
            let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
            let name = String::from_utf8(take(len)?.to_vec())
                .map_err(|_| err("a head name is not UTF-8".into()))?;
            let bias = f32_at(take(4)?);
            let scale = f32_at(take(4)?);
            if !bias.is_finite() || !scale.is_finite() {
                return Err(err(format!("head {name}: non-finite bias or scale")));
            }
            let q = take(n)?.iter().map(|&b| b as i8).collect();
            heads.push(FastHead {
                name,
                bias,
                weights: Weights::I8 { q, scale },
            });
        }
        if pos != bytes.len() {
            return Err(err(format!(
                "{} trailing bytes after the last head",
                bytes.len() - pos
            )));
        }
        Ok(Self { bits, heads })
    }

    /// Loads `path`.
    pub fn load(path: &Path) -> Result<Self, ClassifyError> {
        let bytes = std::fs::read(path).map_err(|e| ClassifyError::Model {
            model: path.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }
}

/// One training example for [`train`]: features, one optional target per
/// head (in the order of the names passed to [`train`]) and a weight.
#[derive(Debug, Clone)]
pub struct FastExample {
    /// The text's features (from [`features`] with the same `bits`).
    pub features: Features,
    /// Per head: `Some(true/false)` or `None` (not labelled for that head).
    pub targets: Vec<Option<bool>>,
    /// Example weight.
    pub weight: f32,
}

/// Settings of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct FastTrainOptions {
    /// Hash space.
    pub bits: u32,
    /// Passes over the data.
    pub epochs: usize,
    /// AdaGrad base step.
    pub learning_rate: f32,
    /// L2 penalty, applied to the weights an example touches.
    pub l2: f32,
    /// Shuffling seed.
    pub seed: u64,
    /// Keep the heads `init` has as they are and train only the others
    /// (a run with no data the initial model has not seen).
    pub keep_init: bool,
}

impl Default for FastTrainOptions {
    fn default() -> Self {
        Self {
            bits: DEFAULT_BITS,
            epochs: 6,
            learning_rate: 0.2,
            l2: 1e-6,
            seed: 7,
            keep_init: false,
        }
    }
}

/// Fits one logistic regression per head name by AdaGrad over the sparse
/// features (each step touches only the example's buckets, so an epoch over
/// 100,000 texts takes seconds). Positive and negative examples of each head
/// are weighted to equal total weight, so a rare label is not ignored; the
/// thresholds are calibrated afterwards on validation data.
///
/// With `init` (a model of the same hash space), each head starts from its
/// weights there and the L2 penalty pulls towards them, so new data (an
/// organisation's own labels) moves the model without erasing what the
/// public data taught it.
pub fn train(
    names: &[&str],
    examples: &[FastExample],
    init: Option<&FastModel>,
    opts: &FastTrainOptions,
) -> FastModel {
    let n = 1usize << opts.bits;
    let init = init.filter(|m| m.bits == opts.bits);
    let mut heads = Vec::with_capacity(names.len());
    for (h, name) in names.iter().enumerate() {
        let (mut pos, mut neg) = (0f64, 0f64);
        for e in examples {
            match e.targets.get(h).copied().flatten() {
                Some(true) => pos += f64::from(e.weight),
                Some(false) => neg += f64::from(e.weight),
                None => {}
            }
        }
        let total = pos + neg;
        let (wp, wn) = if pos > 0.0 && neg > 0.0 {
            ((total / (2.0 * pos)) as f32, (total / (2.0 * neg)) as f32)
        } else {
            (1.0, 1.0)
        };
        let start = init.and_then(|m| m.head(name));
        if let Some(kept) = start.filter(|_| opts.keep_init) {
            heads.push(kept.clone());
            continue;
        }
        let anchor_w: Option<Vec<f32>> = start.map(|h| h.weights.to_f32());
        let anchor: Option<&[f32]> = anchor_w.as_deref();
        let mut w = anchor_w.clone().unwrap_or_else(|| vec![0f32; n]);
        let mut g2 = vec![1e-6f32; n];
        let mut b = start.map_or(0.0, |h| h.bias);
        let mut gb = 1e-6f32;
        let mut order: Vec<usize> = (0..examples.len())
            .filter(|&i| examples[i].targets.get(h).copied().flatten().is_some())
            .collect();
        let mut rng = fastrand::Rng::with_seed(opts.seed ^ (h as u64) << 17);
        for _ in 0..opts.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let e = &examples[i];
                let y = e.targets[h] == Some(true);
                let cw = e.weight * if y { wp } else { wn };
                let mut z = b;
                for (&k, &v) in e.features.idx.iter().zip(&e.features.val) {
                    z += w[k as usize] * v;
                }
                let g = (sigmoid(z) - if y { 1.0 } else { 0.0 }) * cw;
                for (&k, &v) in e.features.idx.iter().zip(&e.features.val) {
                    let k = k as usize;
                    let pull = w[k] - anchor.map_or(0.0, |a| a[k]);
                    let gk = g * v + opts.l2 * pull;
                    g2[k] += gk * gk;
                    w[k] -= opts.learning_rate * gk / g2[k].sqrt();
                }
                gb += g * g;
                b -= opts.learning_rate * g / gb.sqrt();
            }
        }
        heads.push(FastHead {
            name: (*name).to_string(),
            bias: b,
            weights: Weights::F32(w),
        });
    }
    FastModel {
        bits: opts.bits,
        heads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_normalised_sorted_and_script_blind() {
        let a = features("Migranti na granici", 18);
        assert!(!a.idx.is_empty());
        assert!(a.idx.windows(2).all(|w| w[0] < w[1]));
        let n: f32 = a.val.iter().map(|v| v * v).sum();
        assert!((n - 1.0).abs() < 1e-4);
        // Cyrillic, capitals and diacritics fold to the same features.
        assert_eq!(a, features("МИГРАНТИ НА ГРАНИЦИ", 18));
        assert_eq!(
            features("Izbjeglice čekaju", 18),
            features("izbjeglice cekaju", 18)
        );
        assert!(features("", 18).idx.is_empty());
    }

    fn toy() -> Vec<(String, bool)> {
        let bad = [
            "you stupid idiot",
            "idiot go home",
            "what an idiot",
            "shut up idiot",
        ];
        let good = [
            "nice weather today",
            "the match was great",
            "thanks for the help",
            "see you tomorrow",
        ];
        bad.iter()
            .map(|t| (t.to_string(), true))
            .chain(good.iter().map(|t| (t.to_string(), false)))
            .collect()
    }

    /// The shipped model's weights were learned on these features, so the
    /// faster featuriser (char boundaries, radix sort) must give exactly
    /// the vectors of the definition: chars re-encoded per n-gram, sorted
    /// by comparison.
    #[test]
    fn features_equal_the_reference_definition() {
        fn reference(text: &str, bits: u32) -> Features {
            let folded = fold(cut_chars(text, MAX_FEATURE_CHARS)).text;
            if folded.is_empty() {
                return Features::default();
            }
            let mask = (1u64 << bits) - 1;
            let mut raw: Vec<u32> = Vec::new();
            let chars: Vec<char> = std::iter::once(' ')
                .chain(folded.chars().map(|c| if c == '\n' { ' ' } else { c }))
                .chain(std::iter::once(' '))
                .collect();
            let mut buf = [0u8; 4 * 5];
            for n in 2..=5usize {
                for w in chars.windows(n) {
                    let mut len = 0;
                    for c in w {
                        len += c.encode_utf8(&mut buf[len..]).len();
                    }
                    raw.push((fnv(n as u64, &buf[..len]) & mask) as u32);
                }
            }
            let words: Vec<&str> = folded
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            for (i, w) in words.iter().enumerate() {
                raw.push((fnv(11, w.as_bytes()) & mask) as u32);
                if let Some(next) = words.get(i + 1) {
                    raw.push(((fnv(12, w.as_bytes()) ^ fnv(13, next.as_bytes())) & mask) as u32);
                }
            }
            raw.sort_unstable();
            let mut f = Features::default();
            for chunk in raw.chunk_by(|a, b| a == b) {
                f.idx.push(chunk[0]);
                f.val.push(1.0 + (chunk.len() as f32).ln());
            }
            let norm = f.val.iter().map(|v| v * v).sum::<f32>().sqrt();
            f.val.iter_mut().for_each(|v| *v /= norm);
            f
        }
        let long: String = (0..900)
            .map(|i| format!("Мигранти {i} su stigli\nu Šid, ΣΟΦΊΑ ẞ ﬁ. "))
            .collect();
        for bits in [12, 20, 24] {
            for t in ["", "a", "Migranti na granici", "  Ђ \n x  ", long.as_str()] {
                assert_eq!(features(t, bits), reference(t, bits), "{bits} {t:?}");
            }
        }
    }

    #[test]
    fn learns_a_separable_toy_task_and_round_trips() {
        let data = toy();
        let ex: Vec<FastExample> = data
            .iter()
            .map(|(t, y)| FastExample {
                features: features(t, 16),
                targets: vec![Some(*y), None],
                weight: 1.0,
            })
            .collect();
        let opts = FastTrainOptions {
            bits: 16,
            epochs: 20,
            ..FastTrainOptions::default()
        };
        let m = train(&["abusive", "relevance"], &ex, None, &opts);
        for (t, y) in &data {
            let p = m.prob("abusive", &m.features(t)).unwrap();
            assert_eq!(p >= 0.5, *y, "{t}: {p}");
        }
        assert!(m.prob("abusive", &m.features("such an idiot")).unwrap() > 0.5);
        // A head without any labelled example stays at its prior.
        assert!((m.prob("relevance", &m.features("idiot")).unwrap() - 0.5).abs() < 1e-6);
        // Warm start: a head trained further on new data keeps its old
        // knowledge where the new data says nothing.
        let new: Vec<FastExample> = ["a dumb clown", "lovely garden"]
            .iter()
            .zip([true, false])
            .map(|(t, y)| FastExample {
                features: features(t, 16),
                targets: vec![Some(y), None],
                weight: 1.0,
            })
            .collect();
        let warm = train(
            &["abusive", "relevance"],
            &new,
            Some(&m),
            &FastTrainOptions {
                epochs: 5,
                l2: 1e-3,
                ..opts.clone()
            },
        );
        assert!(
            warm.prob("abusive", &warm.features("what an idiot"))
                .unwrap()
                > 0.5
        );
        assert!(
            warm.prob("abusive", &warm.features("a dumb clown"))
                .unwrap()
                > 0.5
        );
        // Kept: the heads the initial model has stay as they are, a head
        // it lacks is trained.
        let grown: Vec<FastExample> = data
            .iter()
            .map(|(t, y)| FastExample {
                features: features(t, 16),
                targets: vec![Some(*y), None, Some(!*y)],
                weight: 1.0,
            })
            .collect();
        let kept = train(
            &["abusive", "relevance", "civil"],
            &grown,
            Some(&m),
            &FastTrainOptions {
                keep_init: true,
                ..opts.clone()
            },
        );
        assert_eq!(kept.head("abusive"), m.head("abusive"));
        assert_eq!(kept.head("relevance"), m.head("relevance"));
        assert!(
            kept.prob("civil", &kept.features("nice weather today"))
                .unwrap()
                > 0.5
        );
        let bytes = m.to_bytes();
        let back = FastModel::from_bytes(&bytes, "test").unwrap();
        assert_eq!(back.bits, 16);
        for (t, _) in &data {
            let f = m.features(t);
            let (a, b) = (
                m.prob("abusive", &f).unwrap(),
                back.prob("abusive", &f).unwrap(),
            );
            assert!((a - b).abs() < 1e-2, "{t}: {a} vs {b} after quantization");
        }
    }

    #[test]
    fn malformed_files_are_refused_with_a_reason() {
        let m = FastModel {
            bits: 8,
            heads: vec![FastHead {
                name: "abusive".into(),
                bias: 0.1,
                weights: Weights::F32(vec![0.5; 256]),
            }],
        };
        let bytes = m.to_bytes();
        for (cut, want) in [
            (&bytes[..4], "truncated"),
            (&bytes[..bytes.len() - 1], "truncated"),
        ] {
            let e = FastModel::from_bytes(cut, "f").unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(FastModel::from_bytes(&extra, "f")
            .unwrap_err()
            .to_string()
            .contains("trailing"));
        assert!(FastModel::from_bytes(b"NOTAFASTMODEL...", "f")
            .unwrap_err()
            .to_string()
            .contains("magic"));
    }
}
