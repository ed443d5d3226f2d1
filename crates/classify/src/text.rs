//! Tokens, sentences and quotation state over folded text.
//!
//! Rules look at neighbourhoods ("a negator within three tokens before the
//! cue", "a migration term in the same or a neighbouring sentence"), so the
//! folded text is cut once into word tokens, each knowing its sentence and
//! whether it sits inside quotation marks.

use crate::normalize::is_word_char;

/// A word token in folded text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    /// Byte start in folded text.
    pub start: usize,
    /// Byte end (exclusive) in folded text.
    pub end: usize,
    /// Sentence index.
    pub sent: u32,
    /// Inside quotation marks.
    pub quoted: bool,
}

/// Tokenised folded text.
#[derive(Debug, Default)]
pub(crate) struct Segmented {
    pub tokens: Vec<Token>,
    /// Number of sentences.
    pub sentences: usize,
}

/// Short words after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "prof", "npr", "tj", "itd", "sl", "br", "ul", "god", "gosp",
    "mag", "ing", "nr", "np", "tzw", "ok", "tzv", "resp", "zb", "bzw", "ca", "sig", "dott", "hr",
    "vs", "etc", "jan", "feb", "aug", "sept", "oct", "nov", "dec", "ph", "inz",
];

fn is_abbreviation(word: &str) -> bool {
    word.chars().count() == 1
        || word.bytes().all(|b| b.is_ascii_digit())
        || ABBREVIATIONS.contains(&word)
}

/// Cut folded text into tokens with sentence and quotation info.
pub(crate) fn segment(text: &str) -> Segmented {
    let mut tokens = Vec::with_capacity(text.len() / 6 + 1);
    let mut sent: u32 = 0;
    let mut quoted = false;
    let mut tok_start: Option<usize> = None;
    // Sentence ends at the next token boundary once set.
    let mut end_pending = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_word_char(c) {
            if tok_start.is_none() {
                if end_pending {
                    sent = sent.saturating_add(1);
                    end_pending = false;
                }
                tok_start = Some(i);
            }
            continue;
        }
        if let Some(s) = tok_start.take() {
            tokens.push(Token {
                start: s,
                end: i,
                sent,
                quoted,
            });
        }
        match c {
            '\n' => {
                end_pending = true;
                quoted = false;
            }
            '.' | '!' | '?' | '…' => {
                let next_is_space = chars.peek().is_none_or(|&(_, n)| n == ' ' || n == '\n');
                let prev_word = tokens
                    .last()
                    .filter(|t| t.end == i)
                    .map(|t| &text[t.start..t.end]);
                let abbrev = c == '.' && prev_word.is_some_and(is_abbreviation);
                if next_is_space && !abbrev {
                    end_pending = true;
                }
            }
            '"' => quoted = !quoted,
            '„' | '«' | '‹' | '「' => quoted = true,
            '»' | '›' | '」' => quoted = false,
            // Curly quotes open in some languages and close in others.
            '“' | '”' => quoted = !quoted,
            _ => {}
        }
    }
    if let Some(s) = tok_start {
        tokens.push(Token {
            start: s,
            end: text.len(),
            sent,
            quoted,
        });
    }
    let sentences = tokens.last().map_or(0, |t| t.sent as usize + 1);
    Segmented { tokens, sentences }
}

impl Segmented {
    /// Index of the token starting exactly at folded byte `start`.
    pub fn token_at(&self, start: usize) -> Option<usize> {
        self.tokens.binary_search_by(|t| t.start.cmp(&start)).ok()
    }

    /// Index of the token containing folded byte `pos` (or the last one
    /// before it).
    pub fn token_containing(&self, pos: usize) -> usize {
        match self.tokens.binary_search_by(|t| t.start.cmp(&pos)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_but_not_abbreviations_or_dates() {
        let s = segment("dr. smith came on 12. 3. 2024. then left! new one? yes\nhead");
        let sents: Vec<u32> = s.tokens.iter().map(|t| t.sent).collect();
        // dr smith came on 12 3 2024 then left | new one | yes | head
        assert_eq!(sents, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3]);
    }

    #[test]
    fn tracks_quotes() {
        let s = segment("he said „they are a flood“ today");
        let q: Vec<bool> = s.tokens.iter().map(|t| t.quoted).collect();
        assert_eq!(q, [false, false, true, true, true, true, false]);
    }
}
