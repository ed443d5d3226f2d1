//! [`MwTokenizer`]: words are runs of letters, digits and combining marks.

use super::*;

/// `c.is_alphanumeric()`, answered without the Unicode tables for the
/// letters of the region's scripts (Latin-1, Latin Extended-A, Cyrillic),
/// which otherwise cost a table search per character of Cyrillic or
/// accented text.
pub(crate) fn is_alnum(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    match c as u32 {
        0xC0..=0xFF => c != '\u{D7}' && c != '\u{F7}',
        0x100..=0x17F | 0x400..=0x481 => true,
        _ => c.is_alphanumeric(),
    }
}

pub(crate) fn is_word_char(c: char) -> bool {
    is_alnum(c) || is_combining_mark(c)
}

/// `c` lower-cased, for the characters whose lower case is one character
/// that is found without the Unicode tables (ASCII, Latin-1, basic
/// Cyrillic); `None` for the others (ask `char::to_lowercase`).
pub(crate) fn fast_lower(c: char) -> Option<char> {
    match c as u32 {
        0x41..=0x5A | 0xC0..=0xD6 | 0xD8..=0xDE | 0x410..=0x42F => char::from_u32(c as u32 + 0x20),
        0x400..=0x40F => char::from_u32(c as u32 + 0x50),
        0..=0x40 | 0x5B..=0xBF | 0xD7 | 0xDF..=0xFF | 0x430..=0x45F => Some(c),
        _ => None,
    }
}

/// Splits text into words: maximal runs of letters, digits and combining
/// marks that start with a letter or digit.
#[derive(Clone, Default)]
pub struct MwTokenizer {
    pub(crate) token: Token,
}

/// Token stream of [`MwTokenizer`].
pub struct MwTokenStream<'a> {
    pub(crate) text: &'a str,
    pub(crate) chars: std::str::CharIndices<'a>,
    pub(crate) token: &'a mut Token,
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
            if !is_alnum(c) {
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
