//! [`StemFoldFilter`]: Snowball stemming before folding, with a per-thread memo.

use super::*;

/// `words` followed by what [`StemFoldFilter`] remembers: the stemmer,
/// then Cyrillic to Latin, then folding.
pub(crate) fn stem_fold<T: Tokenizer>(
    words: TextAnalyzerBuilder<T>,
    language: Language,
) -> TextAnalyzer {
    words
        .filter(Stemmer::new(language))
        .filter(CyrillicLatinFilter)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Words a [`StemFoldFilter`] remembers before it starts over. A segment
/// writer makes its own analyzers, so this bounds each of them.
pub(crate) const STEM_MEMO_WORDS: usize = 20_000;

/// Stems a lower-cased word, then transliterates and folds it, as
/// `Stemmer`, [`CyrillicLatinFilter`] and [`AsciiFoldingFilter`] do in a
/// row, remembering each word's result: Snowball took a twentieth of all
/// indexing CPU, allocating a new string for most words, and a language's
/// frequent words make up most of its text.
#[derive(Clone, Copy, Debug)]
pub struct StemFoldFilter {
    pub(crate) language: Language,
}

impl TokenFilter for StemFoldFilter {
    type Tokenizer<T: Tokenizer> = StemFoldTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> StemFoldTokenizer<T> {
        StemFoldTokenizer {
            inner: tokenizer,
            word: stem_fold(
                TextAnalyzer::builder(tantivy::tokenizer::RawTokenizer::default()),
                self.language,
            ),
            memo: std::collections::HashMap::new(),
        }
    }
}

/// Tokenizer wrapper produced by [`StemFoldFilter`].
#[derive(Clone)]
pub struct StemFoldTokenizer<T> {
    pub(crate) inner: T,
    /// The filters the memo stands for, applied to one word.
    pub(crate) word: TextAnalyzer,
    pub(crate) memo: std::collections::HashMap<Box<str>, Box<str>>,
}

impl<T: Tokenizer> Tokenizer for StemFoldTokenizer<T> {
    type TokenStream<'a> = StemFoldStream<'a, T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        StemFoldStream {
            tail: self.inner.token_stream(text),
            word: &mut self.word,
            memo: &mut self.memo,
        }
    }
}

/// Token stream of [`StemFoldFilter`].
pub struct StemFoldStream<'a, S> {
    pub(crate) tail: S,
    pub(crate) word: &'a mut TextAnalyzer,
    pub(crate) memo: &'a mut std::collections::HashMap<Box<str>, Box<str>>,
}

impl<S: TokenStream> TokenStream for StemFoldStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let text = &mut self.tail.token_mut().text;
        if let Some(term) = self.memo.get(text.as_str()) {
            text.clear();
            text.push_str(term);
            return true;
        }
        let term: Box<str> = {
            let mut stream = self.word.token_stream(text);
            // The raw tokenizer makes exactly one token of a word.
            stream
                .next()
                .map_or_else(|| text.as_str().into(), |t| t.text.as_str().into())
        };
        if self.memo.len() >= STEM_MEMO_WORDS {
            self.memo.clear();
        }
        let word = std::mem::replace(text, String::from(&*term));
        self.memo.insert(word.into_boxed_str(), term);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}
