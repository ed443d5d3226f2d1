//! [`CyrillicLatinFilter`]: Cyrillic to Latin and combining marks removed (the reference chain's step).

use super::*;

/// Transliterates Cyrillic to Latin and removes combining marks. Expects
/// lower-cased input (it runs after [`LowerCaser`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct CyrillicLatinFilter;

impl TokenFilter for CyrillicLatinFilter {
    type Tokenizer<T: Tokenizer> = CyrillicLatinTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> CyrillicLatinTokenizer<T> {
        CyrillicLatinTokenizer {
            inner: tokenizer,
            buffer: String::new(),
        }
    }
}

/// Tokenizer wrapper produced by [`CyrillicLatinFilter`].
#[derive(Clone)]
pub struct CyrillicLatinTokenizer<T> {
    pub(crate) inner: T,
    pub(crate) buffer: String,
}

impl<T: Tokenizer> Tokenizer for CyrillicLatinTokenizer<T> {
    type TokenStream<'a> = CyrillicLatinStream<'a, T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.buffer.clear();
        CyrillicLatinStream {
            tail: self.inner.token_stream(text),
            buffer: &mut self.buffer,
        }
    }
}

/// Token stream of [`CyrillicLatinFilter`].
pub struct CyrillicLatinStream<'a, S> {
    pub(crate) tail: S,
    pub(crate) buffer: &'a mut String,
}

impl<S: TokenStream> TokenStream for CyrillicLatinStream<'_, S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let text = &self.tail.token().text;
        if text.is_ascii() {
            return true;
        }
        self.buffer.clear();
        for c in text.chars() {
            if is_combining_mark(c) {
                continue;
            }
            match transliterate(c) {
                Some(latin) => self.buffer.push_str(latin),
                None => self.buffer.push(c),
            }
        }
        std::mem::swap(&mut self.tail.token_mut().text, self.buffer);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}
