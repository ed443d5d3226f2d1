//! [`HashingEncoder`]: an encoder that needs no model files.

use mediawatch_embed::{EmbedError, Encoder};

use crate::normalize::fold;

/// A deterministic encoder of hashed character n-grams (3- to 5-grams of
/// the folded text, signed feature hashing, L2-normalised). It needs no
/// model files: tests and offline runs use it, and it is a fair
/// bag-of-subwords baseline for the heads.
#[derive(Debug, Clone)]
pub struct HashingEncoder {
    dim: usize,
    name: String,
}

impl HashingEncoder {
    /// An encoder producing `dim`-dimensional vectors (at least 1).
    pub fn new(dim: usize) -> Self {
        let dim = dim.max(1);
        Self {
            dim,
            name: format!("hashing-char3-5-{dim}"),
        }
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        let folded = fold(text).text;
        let chars: Vec<char> = std::iter::once(' ')
            .chain(folded.chars())
            .chain(std::iter::once(' '))
            .collect();
        let mut v = vec![0.0f32; self.dim];
        for n in 3..=5usize {
            for w in chars.windows(n) {
                // FNV-1a over the n-gram's chars.
                let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ n as u64;
                for c in w {
                    h ^= u64::from(*c);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                let idx = (h % self.dim as u64) as usize;
                let sign = if (h >> 63) == 1 { -1.0 } else { 1.0 };
                v[idx] += sign;
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

impl Encoder for HashingEncoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_encoder_is_normalised_and_deterministic() {
        let e = HashingEncoder::new(64);
        let v = e
            .encode(&["Migranti na granici", "Migranti na granici", ""])
            .unwrap();
        assert_eq!(v[0], v[1]);
        let n: f32 = v[0].iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-4);
        // Nothing to hash: the zero vector, not NaNs.
        assert!(v[2].iter().all(|x| *x == 0.0));
    }
}
