//! [`PairsFilter`]: adjacent-word pairs for short words, replaying recorded terms when it can.

use super::*;

/// Whether the adjacent `mw` terms `a` and `b` are indexed as a pair.
pub fn pair_qualifies(a: &str, b: &str) -> bool {
    // Counting characters only when the byte length leaves it open (a
    // character is 1 to 4 bytes) and the term is not ASCII: most terms are
    // ASCII after folding, and this runs for every pair of adjacent words.
    let short = |w: &str| {
        w.len() <= SHORT_WORD_CHARS
            || (w.len() <= 4 * SHORT_WORD_CHARS
                && !w.is_ascii()
                && w.chars().count() <= SHORT_WORD_CHARS)
    };
    short(a) || short(b)
}

/// The pair term of two `mw` terms, as stored in the `pairs` field.
pub fn pair_term(a: &str, b: &str) -> String {
    format!("{a} {b}")
}

/// Replaces a stream of `mw` terms by the pairs of adjacent terms that
/// [`pair_qualifies`] accepts (the single words are not repeated; they are
/// in the `text` field already).
#[derive(Clone, Copy, Debug, Default)]
pub struct PairsFilter;

impl TokenFilter for PairsFilter {
    type Tokenizer<T: Tokenizer> = PairsTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> PairsTokenizer<T> {
        PairsTokenizer {
            inner: tokenizer,
            token: Token::default(),
            previous: String::new(),
            replay_terms: String::new(),
            replay_marks: Vec::new(),
        }
    }
}

/// Tokenizer wrapper produced by [`PairsFilter`]. `inner` must produce the
/// terms [`recording_analyzer`] produces, as `pairs_analyzer` does: the
/// stream replays recorded terms in place of running it.
#[derive(Clone)]
pub struct PairsTokenizer<T> {
    pub(crate) inner: T,
    pub(crate) token: Token,
    pub(crate) previous: String,
    pub(crate) replay_terms: String,
    pub(crate) replay_marks: Vec<MemoTerm>,
}

impl<T: Tokenizer> Tokenizer for PairsTokenizer<T> {
    type TokenStream<'a> = PairsStream<'a, T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.token.reset();
        self.previous.clear();
        let replay =
            take_recorded(text, &mut self.replay_terms, &mut self.replay_marks).then(|| Replay {
                terms: &self.replay_terms,
                marks: &self.replay_marks,
                next: 0,
            });
        PairsStream {
            tail: self.inner.token_stream(text),
            replay,
            token: &mut self.token,
            previous: &mut self.previous,
            previous_from: 0,
            has_previous: false,
        }
    }
}

/// Recorded terms being replayed: term `i` is
/// `terms[marks[i - 1].end..marks[i].end]`.
pub(crate) struct Replay<'a> {
    pub(crate) terms: &'a str,
    pub(crate) marks: &'a [MemoTerm],
    pub(crate) next: usize,
}

impl Replay<'_> {
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.marks[i - 1].end
        }
    }
}

/// Token stream of [`PairsFilter`].
pub struct PairsStream<'a, S> {
    pub(crate) tail: S,
    /// Set when the string's terms were recorded: then `tail` is not run.
    pub(crate) replay: Option<Replay<'a>>,
    pub(crate) token: &'a mut Token,
    pub(crate) previous: &'a mut String,
    pub(crate) previous_from: usize,
    pub(crate) has_previous: bool,
}

impl<S> PairsStream<'_, S> {
    /// Makes `self.token` the pair `previous cur`.
    fn emit(token: &mut Token, previous: &str, from: usize, cur: &str, to: usize) {
        token.text.clear();
        token.text.push_str(previous);
        token.text.push(' ');
        token.text.push_str(cur);
        token.offset_from = from;
        token.offset_to = to;
        token.position = token.position.wrapping_add(1);
        token.position_length = 1;
    }
}

impl<S: TokenStream> TokenStream for PairsStream<'_, S> {
    fn advance(&mut self) -> bool {
        if let Some(r) = &mut self.replay {
            // Terms are sliced from the record: nothing is copied but the
            // pairs themselves.
            while r.next < r.marks.len() {
                let i = r.next;
                r.next += 1;
                if i == 0 {
                    continue;
                }
                let previous = &r.terms[r.start(i - 1)..r.start(i)];
                let cur = &r.terms[r.start(i)..r.marks[i].end];
                if pair_qualifies(previous, cur) {
                    let from = r.marks[i - 1].offset_from;
                    Self::emit(self.token, previous, from, cur, r.marks[i].offset_to);
                    return true;
                }
            }
            return false;
        }
        while self.tail.advance() {
            let cur = self.tail.token();
            let emit = self.has_previous && pair_qualifies(self.previous, &cur.text);
            if emit {
                Self::emit(
                    self.token,
                    self.previous,
                    self.previous_from,
                    &cur.text,
                    cur.offset_to,
                );
            }
            self.previous.clear();
            self.previous.push_str(&cur.text);
            self.previous_from = cur.offset_from;
            self.has_previous = true;
            if emit {
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}
