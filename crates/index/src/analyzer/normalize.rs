//! [`NormalizeFilter`]: lower-casing, the long-token cut and Cyrillic to Latin in one pass.

use super::*;

/// Lower-cases, drops tokens of `MAX_TOKEN_BYTES` or more (measured
/// lower-cased), transliterates Cyrillic to Latin and removes combining
/// marks, in one pass over each token: `LowerCaser`, `RemoveLongFilter`
/// and [`CyrillicLatinFilter`] in a row, at a fraction of the cost.
/// Dropped tokens keep their position (later tokens are not renumbered),
/// as with `RemoveLongFilter`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NormalizeFilter;

impl TokenFilter for NormalizeFilter {
    type Tokenizer<T: Tokenizer> = NormalizeTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> NormalizeTokenizer<T> {
        NormalizeTokenizer {
            inner: tokenizer,
            buffer: String::new(),
        }
    }
}

/// Tokenizer wrapper produced by [`NormalizeFilter`].
#[derive(Clone)]
pub struct NormalizeTokenizer<T> {
    pub(crate) inner: T,
    pub(crate) buffer: String,
}

impl<T: Tokenizer> Tokenizer for NormalizeTokenizer<T> {
    type TokenStream<'a> = NormalizeStream<'a, T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.buffer.clear();
        NormalizeStream {
            tail: self.inner.token_stream(text),
            buffer: &mut self.buffer,
        }
    }
}

/// Token stream of [`NormalizeFilter`].
pub struct NormalizeStream<'a, S> {
    pub(crate) tail: S,
    pub(crate) buffer: &'a mut String,
}

impl<S: TokenStream> NormalizeStream<'_, S> {
    /// Normalises the current token; false when it is too long.
    fn normalize(&mut self) -> bool {
        let token = self.tail.token_mut();
        if token.text.is_ascii() {
            token.text.make_ascii_lowercase();
            return token.text.len() < MAX_TOKEN_BYTES;
        }
        let out = &mut *self.buffer;
        out.clear();
        // Byte length of the lower-cased token, which decides "too long".
        let mut lower_len = 0;
        let mut emit = |l: char| {
            lower_len += l.len_utf8();
            if is_combining_mark(l) {
                return;
            }
            match transliterate(l) {
                Some(latin) => out.push_str(latin),
                None => out.push(l),
            }
        };
        for c in token.text.chars() {
            match fast_lower(c) {
                Some(l) => emit(l),
                None => c.to_lowercase().for_each(&mut emit),
            }
        }
        std::mem::swap(&mut token.text, self.buffer);
        lower_len < MAX_TOKEN_BYTES
    }
}

impl<S: TokenStream> TokenStream for NormalizeStream<'_, S> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            if self.normalize() {
                return true;
            }
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
