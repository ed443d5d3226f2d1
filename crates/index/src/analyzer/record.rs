//! [`RecordFilter`]: keeps the terms of the last analysed string for the pairs analyzer to replay.

use super::*;

/// Strings longer than this are not recorded for replay: the memo keeps its
/// buffers, and a rare huge text should not pin megabytes on every thread.
pub(crate) const MEMO_MAX_BYTES: usize = 256 * 1024;

/// One recorded term: where it ends in [`TermsMemo::terms`], and its
/// offsets in the analysed string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemoTerm {
    pub(crate) end: usize,
    pub(crate) offset_from: usize,
    pub(crate) offset_to: usize,
}

/// The terms of the last string a [`RecordFilter`] stream analysed to its
/// end on this thread.
#[derive(Default)]
pub(crate) struct TermsMemo {
    /// The analysed string: a replay needs exactly this input.
    pub(crate) input: String,
    /// Every term, back to back.
    pub(crate) terms: String,
    pub(crate) marks: Vec<MemoTerm>,
    /// False once the pairs analyzer has taken the buffers (or before
    /// anything was recorded).
    pub(crate) complete: bool,
}

thread_local! {
    pub(crate) static MEMO: std::cell::RefCell<TermsMemo> = std::cell::RefCell::new(TermsMemo::default());
}

/// Records the terms of each string it passes on, and publishes them to a
/// per-thread memo when the stream reaches its end, for [`PairsFilter`] to
/// replay (see the module docs). A stream dropped half-way publishes
/// nothing, so a record is always whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordFilter;

impl TokenFilter for RecordFilter {
    type Tokenizer<T: Tokenizer> = RecordTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> RecordTokenizer<T> {
        RecordTokenizer {
            inner: tokenizer,
            terms: String::new(),
            marks: Vec::new(),
        }
    }
}

/// Tokenizer wrapper produced by [`RecordFilter`].
#[derive(Clone)]
pub struct RecordTokenizer<T> {
    pub(crate) inner: T,
    pub(crate) terms: String,
    pub(crate) marks: Vec<MemoTerm>,
}

impl<T: Tokenizer> Tokenizer for RecordTokenizer<T> {
    type TokenStream<'a> = RecordStream<'a, T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.terms.clear();
        self.marks.clear();
        RecordStream {
            tail: self.inner.token_stream(text),
            input: text,
            recording: text.len() <= MEMO_MAX_BYTES,
            terms: &mut self.terms,
            marks: &mut self.marks,
        }
    }
}

/// Token stream of [`RecordFilter`].
pub struct RecordStream<'a, S> {
    pub(crate) tail: S,
    pub(crate) input: &'a str,
    pub(crate) recording: bool,
    pub(crate) terms: &'a mut String,
    pub(crate) marks: &'a mut Vec<MemoTerm>,
}

impl<S: TokenStream> TokenStream for RecordStream<'_, S> {
    fn advance(&mut self) -> bool {
        if self.tail.advance() {
            if self.recording {
                let token = self.tail.token();
                self.terms.push_str(&token.text);
                self.marks.push(MemoTerm {
                    end: self.terms.len(),
                    offset_from: token.offset_from,
                    offset_to: token.offset_to,
                });
            }
            return true;
        }
        if std::mem::take(&mut self.recording) {
            // Swapping hands the buffers over without copying the terms;
            // the memo's old buffers come back for the next string.
            MEMO.with(|memo| {
                let mut memo = memo.borrow_mut();
                memo.input.clear();
                memo.input.push_str(self.input);
                std::mem::swap(&mut memo.terms, self.terms);
                std::mem::swap(&mut memo.marks, self.marks);
                memo.complete = true;
            });
        }
        false
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// Takes the recorded terms of `text` out of this thread's memo into
/// `terms` and `marks`; false (and nothing changed) when the memo holds
/// another string.
pub(crate) fn take_recorded(text: &str, terms: &mut String, marks: &mut Vec<MemoTerm>) -> bool {
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        if !memo.complete || memo.input != text {
            return false;
        }
        std::mem::swap(&mut memo.terms, terms);
        std::mem::swap(&mut memo.marks, marks);
        memo.complete = false;
        true
    })
}
