//! A compact Unigram (SentencePiece) model for the `tokenizers` pipeline.
//!
//! Why not `tokenizers::models::unigram::Unigram`: it keeps its 250,002
//! pieces (multilingual-e5's XLM-R vocabulary) in a byte trie with a hash
//! map in every node, about 300 MB resident, which was most of the
//! classifier's memory and pushed the pipeline's peak RSS far past its
//! budget. Here the pieces sit in one hash map (about 25 MB) and the Viterbi
//! search looks up every prefix of the rest of the text up to the longest
//! piece. The search is the same as the crate's `encode_optimized`
//! (SentencePiece's `EncodeOptimized`): the same candidates in the same
//! order, the same strict comparison, the same unknown-character penalty
//! and fusing of unknown runs, so the ids are the same; the tests compare
//! them with the crate's model on every language.
//!
//! Normalizer, pre-tokenizer, special tokens and truncation stay the
//! crate's own: only the model is replaced, through the `Model` trait.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use tokenizers::models::unigram::UnigramTrainer;
use tokenizers::{
    DecoderWrapper, Model, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper, Token,
    TokenizerImpl,
};

/// The tokenizer of the encoder: the crate's pipeline around [`Unigram`].
pub type E5Tokenizer = TokenizerImpl<
    Unigram,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// SentencePiece's penalty below the lowest piece score for an unknown
/// character (`kUnkPenalty`).
const UNK_PENALTY: f64 = 10.0;

/// A Unigram model: pieces with their log-probabilities.
#[derive(Debug)]
pub struct Unigram {
    ids: HashMap<Box<str>, u32>,
    pieces: Vec<(Box<str>, f64)>,
    unk_id: u32,
    min_score: f64,
    /// Longest piece in bytes: no prefix longer than this can match.
    max_piece_bytes: usize,
}

#[derive(Deserialize)]
struct ModelJson {
    #[serde(rename = "type")]
    kind: String,
    unk_id: Option<u32>,
    vocab: Vec<(String, f64)>,
    #[serde(default)]
    byte_fallback: bool,
}

impl<'de> Deserialize<'de> for Unigram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let m = ModelJson::deserialize(d)?;
        if m.kind != "Unigram" {
            return Err(D::Error::custom(format!(
                "model type {:?}: the encoder expects a Unigram (SentencePiece) tokenizer",
                m.kind
            )));
        }
        if m.byte_fallback {
            return Err(D::Error::custom(
                "byte_fallback Unigram models are not supported",
            ));
        }
        let unk_id = m
            .unk_id
            .ok_or_else(|| D::Error::custom("Unigram model without unk_id"))?;
        Unigram::new(m.vocab, unk_id).map_err(D::Error::custom)
    }
}

impl Unigram {
    /// A model over `vocab` (piece, score), `unk_id` its unknown piece.
    pub fn new(vocab: Vec<(String, f64)>, unk_id: u32) -> Result<Self, String> {
        if (unk_id as usize) >= vocab.len() {
            return Err(format!(
                "unk_id {unk_id} outside a vocabulary of {}",
                vocab.len()
            ));
        }
        let mut ids = HashMap::with_capacity(vocab.len());
        let mut min_score = f64::INFINITY;
        let mut max_piece_bytes = 1;
        let mut pieces = Vec::with_capacity(vocab.len());
        for (id, (piece, score)) in vocab.into_iter().enumerate() {
            // As the crate: a repeated piece maps to its last id.
            ids.insert(piece.clone().into_boxed_str(), id as u32);
            min_score = min_score.min(score);
            max_piece_bytes = max_piece_bytes.max(piece.len());
            pieces.push((piece.into_boxed_str(), score));
        }
        Ok(Self {
            ids,
            pieces,
            unk_id,
            min_score,
            max_piece_bytes,
        })
    }

    /// The best segmentation of `s` as (start, end, id) byte ranges.
    fn segment(&self, s: &str) -> Vec<(usize, usize, u32)> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f64,
            start: Option<usize>,
        }
        let n = s.len();
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                start: None,
            };
            n + 1
        ];
        let mut start = 0;
        while start < n {
            let here = best[start].score;
            let char_len = s[start..].chars().next().map_or(1, char::len_utf8);
            let mut single = false;
            let limit = (start + self.max_piece_bytes).min(n);
            let mut end = start + 1;
            while end <= limit {
                if s.is_char_boundary(end) {
                    if let Some(&id) = self.ids.get(&s[start..end]) {
                        let cand = here + self.pieces[id as usize].1;
                        let node = &mut best[end];
                        if node.start.is_none() || cand > node.score {
                            *node = Best {
                                id,
                                score: cand,
                                start: Some(start),
                            };
                        }
                        if end - start == char_len {
                            single = true;
                        }
                    }
                }
                end += 1;
            }
            if !single {
                let cand = here + unk_score;
                let node = &mut best[start + char_len];
                if node.start.is_none() || cand > node.score {
                    *node = Best {
                        id: self.unk_id,
                        score: cand,
                        start: Some(start),
                    };
                }
            }
            start += char_len;
        }
        // Back from the end; runs of unknown characters fuse into one.
        let mut out: Vec<(usize, usize, u32)> = Vec::new();
        let mut end = n;
        while end > 0 {
            let node = best[end];
            let from = node.start.unwrap_or(0);
            match out.last_mut() {
                Some(last) if node.id == self.unk_id && last.2 == self.unk_id => last.0 = from,
                _ => out.push((from, end, node.id)),
            }
            end = from;
        }
        out.reverse();
        out
    }
}

impl Model for Unigram {
    type Trainer = UnigramTrainer;

    fn tokenize(&self, sequence: &str) -> tokenizers::Result<Vec<Token>> {
        Ok(self
            .segment(sequence)
            .into_iter()
            .map(|(a, b, id)| {
                // A fused run of unknowns is not a piece: it maps to unk.
                let id = self.ids.get(&sequence[a..b]).copied().unwrap_or(id);
                Token::new(id, sequence[a..b].to_string(), (a, b))
            })
            .collect())
    }

    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        self.pieces.get(id as usize).map(|(p, _)| p.to_string())
    }

    fn get_vocab(&self) -> HashMap<String, u32> {
        self.ids.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn get_vocab_size(&self) -> usize {
        self.pieces.len()
    }

    fn save(&self, _folder: &Path, _prefix: Option<&str>) -> tokenizers::Result<Vec<PathBuf>> {
        Err("the compact Unigram model is read-only".into())
    }

    fn get_trainer(&self) -> UnigramTrainer {
        UnigramTrainer::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Unigram {
        let v = [
            ("<unk>", 0.0),
            ("▁", -2.0),
            ("a", -3.0),
            ("b", -3.0),
            ("ab", -2.5),
            ("▁ab", -1.0),
            ("abc", -9.0),
            ("c", -3.0),
        ];
        Unigram::new(v.iter().map(|(p, s)| (p.to_string(), *s)).collect(), 0).unwrap()
    }

    #[test]
    fn viterbi_takes_the_best_path() {
        let m = model();
        let ids = |s: &str| -> Vec<u32> { m.tokenize(s).unwrap().iter().map(|t| t.id).collect() };
        assert_eq!(ids("▁ab"), vec![5]);
        // ab (-2.5) + c (-3) beats abc (-9) and a + b + c.
        assert_eq!(ids("abc"), vec![4, 7]);
        // Unknown characters fuse into one unk token with its own text.
        let t = m.tokenize("ab€€c").unwrap();
        assert_eq!(
            t.iter()
                .map(|t| (t.id, t.value.as_str()))
                .collect::<Vec<_>>(),
            vec![(4, "ab"), (0, "€€"), (7, "c")]
        );
        assert_eq!(t[1].offsets, (2, 8));
        assert!(m.tokenize("").unwrap().is_empty());
    }

    #[test]
    fn bad_models_are_refused() {
        assert!(Unigram::new(vec![("a".into(), 0.0)], 3).is_err());
        let e =
            serde_json::from_str::<Unigram>(r#"{"type":"BPE","unk_id":0,"vocab":[]}"#).unwrap_err();
        assert!(e.to_string().contains("Unigram"), "{e}");
    }
}
