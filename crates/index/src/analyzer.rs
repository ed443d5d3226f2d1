//! The `mw` text analyzer: one normal form for the region's scripts and
//! spellings, applied both when indexing and when parsing queries.
//!
//! Readers in the Western Balkans write the same word in Cyrillic or Latin,
//! with or without diacritics (`мигранти`, `migranti`; `izbjeglički`,
//! `izbjeglicki`), and Central European keyboards often drop diacritics
//! (`Migrantów` typed as `migrantow`). The analyzer therefore:
//!
//! 1. splits on anything that is not a letter, digit or combining mark
//!    ([`MwTokenizer`]; combining marks stay inside the word so a decomposed
//!    `í` does not split it),
//! 2. lower-cases,
//! 3. drops overly long tokens (base64 blobs, URLs glued together),
//! 4. transliterates Cyrillic to Latin and removes combining marks
//!    ([`CyrillicLatinFilter`]), following Serbian/Macedonian Latin with
//!    Bulgarian/Ukrainian letters mapped to their usual Latin forms, and
//!    writes `đ` as `dj` (`građani` = `gradjani`, the common ASCII form),
//! 5. folds the remaining Latin diacritics to ASCII (`č`→`c`, `đ`→`d`,
//!    `ł`→`l`, `ß`→`ss`, `ő`→`o`) with tantivy's [`AsciiFoldingFilter`].
//!
//! Positions are kept, so phrase queries work. Known limits: no stemming
//! (`migrant` does not find `migranti`), and dialect pairs such as
//! `izbeglice`/`izbjeglice` remain different words.

// The shared Cyrillic -> Latin table: one definition, in core, so the
// index and near-duplicate fingerprints fold text identically.
use mediawatch_core::similarity::transliterate;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, TextAnalyzer, Token, TokenFilter,
    TokenStream, Tokenizer,
};

/// Name under which the analyzer is registered on every index.
pub const ANALYZER_NAME: &str = "mw";

/// Tokens longer than this (in bytes, after lower-casing) are dropped: they
/// are never words a person searches for, and tantivy rejects huge terms.
const MAX_TOKEN_BYTES: usize = 100;

/// Builds the `mw` analyzer.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(MwTokenizer::default())
        .filter(LowerCaser)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(CyrillicLatinFilter)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Runs the analyzer over `text` and returns the terms, for tests and for
/// explaining to users how a query was normalised.
pub fn analyze(text: &str) -> Vec<String> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(tok) = stream.next() {
        out.push(tok.text.clone());
    }
    out
}

/// Whether `c` is a combining diacritical mark (the common Unicode blocks).
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0483}'..='\u{0489}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Splits text into words: maximal runs of letters, digits and combining
/// marks that start with a letter or digit.
#[derive(Clone, Default)]
pub struct MwTokenizer {
    token: Token,
}

/// Token stream of [`MwTokenizer`].
pub struct MwTokenStream<'a> {
    text: &'a str,
    chars: std::str::CharIndices<'a>,
    token: &'a mut Token,
}

impl Tokenizer for MwTokenizer {
    type TokenStream<'a> = MwTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> MwTokenStream<'a> {
        self.token.reset();
        MwTokenStream {
            text,
            chars: text.char_indices(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for MwTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        // `reset()` sets the position to usize::MAX so the first token is 0.
        self.token.position = self.token.position.wrapping_add(1);
        while let Some((start, c)) = self.chars.next() {
            if !c.is_alphanumeric() {
                continue;
            }
            let end = self
                .chars
                .find(|(_, c)| !is_word_char(*c))
                .map(|(i, _)| i)
                .unwrap_or(self.text.len());
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.text.push_str(&self.text[start..end]);
            return true;
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
    inner: T,
    buffer: String,
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
    tail: S,
    buffer: &'a mut String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_diacritics_meet() {
        assert_eq!(analyze("Мигранти су стигли"), ["migranti", "su", "stigli"]);
        assert_eq!(analyze("MIGRANTI"), ["migranti"]);
        // Precomposed and decomposed accents fold the same way.
        assert_eq!(analyze("migrantí"), ["migranti"]);
        assert_eq!(analyze("migranti\u{301} x"), ["migranti", "x"]);
        assert_eq!(analyze("Migrantów"), ["migrantow"]);
        assert_eq!(analyze("Ђорђевић"), analyze("Đorđević"));
        assert_eq!(analyze("Đorđević"), ["djordjevic"]);
        assert_eq!(analyze("Djordjevic gradjani"), analyze("Đorđević građani"));
        assert_eq!(analyze("џамија"), analyze("džamija"));
        assert_eq!(analyze("Љубљана њива"), analyze("Ljubljana njiva"));
        assert_eq!(analyze("Ћ Ч Ш Ж"), analyze("ć č š ž"));
        assert_eq!(analyze("Straße"), ["strasse"]);
        assert_eq!(analyze("kérdés őrült ű"), ["kerdes", "orult", "u"]);
        assert_eq!(analyze("Shqipëri çështje"), ["shqiperi", "ceshtje"]);
        assert_eq!(analyze("łódź"), ["lodz"]);
        // Macedonian and Bulgarian letters.
        assert_eq!(analyze("ѓ ќ ѕ"), ["gj", "kj", "dz"]);
        assert_eq!(analyze("Ѓорѓи"), analyze("Ǵorǵi"));
        assert_eq!(analyze("бежанци щат"), ["bezanci", "stat"]);
    }

    #[test]
    fn positions_and_offsets_are_kept() {
        let mut a = analyzer();
        let mut s = a.token_stream("Мигранти, su—stigli!");
        let mut toks = Vec::new();
        while let Some(t) = s.next() {
            toks.push((t.position, t.offset_from, t.offset_to, t.text.clone()));
        }
        assert_eq!(
            toks,
            [
                (0, 0, 16, "migranti".to_string()),
                (1, 18, 20, "su".to_string()),
                (2, 23, 29, "stigli".to_string()),
            ]
        );
    }

    #[test]
    fn odd_input_does_not_break() {
        assert!(analyze("").is_empty());
        assert!(analyze("!!! \u{301} ---").is_empty());
        let long = "a".repeat(500);
        assert!(analyze(&long).is_empty());
        assert_eq!(analyze("漢字 テスト"), ["漢字", "テスト"]);
    }
}
