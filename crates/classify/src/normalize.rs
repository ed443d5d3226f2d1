//! Text folding for lexicon matching, with a byte map back to the input.
//!
//! Lexicons are written once per language in its usual script, but texts come
//! with or without diacritics, in Serbian Cyrillic or Latin, in any case. Both
//! the lexicon entries and the text go through [`fold`], so `Izbjeglice`,
//! `izbjeglice`, `избјеглице` and `IZBJEGLICE` all become `izbjeglice`, and
//! `uchodźców` becomes `uchodzcow`. Every output byte remembers the byte
//! offset of the input character it came from, so evidence spans found in the
//! folded text point into the original text.

use std::sync::OnceLock;

use mediawatch_core::text::{self, is_combining_mark};

/// Folded text plus, for every byte of it, the byte offset in the original
/// text of the character that produced it.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// Lowercase, diacritic-free, Cyrillic transliterated; whitespace runs
    /// collapsed to one space, or one `\n` when the run holds a line break.
    pub text: String,
    /// `map[i]` = start byte (in the original) of the char behind `text[i]`.
    map: Vec<u32>,
    /// Length of the original text (for the end of the last span).
    orig_len: usize,
}

impl Folded {
    /// Original byte range covering folded bytes `start..end` (`end`
    /// exclusive), widened to whole original characters.
    pub fn orig_span(&self, original: &str, start: usize, end: usize) -> (usize, usize) {
        if self.map.is_empty() || start >= end {
            return (0, 0);
        }
        let last = end.min(self.map.len()) - 1;
        let s = self.map[start.min(last)] as usize;
        let last_orig = self.map[last] as usize;
        let e = original
            .get(last_orig..)
            .and_then(|rest| rest.chars().next())
            .map_or(self.orig_len, |c| last_orig + c.len_utf8());
        (s, e.max(s))
    }

    /// Original byte offset of the char behind folded byte `i`.
    pub fn orig_offset(&self, i: usize) -> usize {
        self.map.get(i).map_or(self.orig_len, |&o| o as usize)
    }
}

/// Fold `text` (see module docs). `text` must be shorter than 4 GiB; the
/// classifier truncates long inputs before calling this.
pub(crate) fn fold(text: &str) -> Folded {
    let mut out = Folded {
        text: String::with_capacity(text.len() + text.len() / 8),
        map: Vec::with_capacity(text.len() + text.len() / 8),
        orig_len: text.len(),
    };
    // Pending whitespace run: (has_newline, where it started) until a
    // non-space arrives.
    let mut pending_ws: Option<(bool, u32)> = None;
    let bytes = text.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        let pos32 = u32::try_from(pos).unwrap_or(u32::MAX);
        let b = bytes[pos];
        // ASCII fast path: most text in most of these languages is ASCII.
        if b.is_ascii() {
            pos += 1;
            if b.is_ascii_whitespace() || b.is_ascii_control() {
                let nl = b == b'\n' || b == b'\r';
                pending_ws = Some(match pending_ws {
                    Some((had, at)) => (had || nl, at),
                    None => (nl, pos32),
                });
                continue;
            }
            flush_ws(&mut out, &mut pending_ws);
            out.text.push(char::from(b.to_ascii_lowercase()));
            out.map.push(pos32);
            continue;
        }
        let Some(c) = text[pos..].chars().next() else {
            break;
        };
        pos += c.len_utf8();
        if c.is_whitespace() || c.is_control() {
            let nl = c == '\u{2029}' || c == '\u{2028}' || c == '\u{85}';
            pending_ws = Some(match pending_ws {
                Some((had, at)) => (had || nl, at),
                None => (nl, pos32),
            });
            continue;
        }
        flush_ws(&mut out, &mut pending_ws);
        let before = out.text.len();
        // Latin, Greek and Cyrillic letters come from a table built once;
        // other characters take the slow path.
        match fold_table().get((c as usize).wrapping_sub(TABLE_START)) {
            Some(folded) => out.text.push_str(folded),
            None => fold_char(c, &mut out.text),
        }
        let added = out.text.len() - before;
        out.map.extend(std::iter::repeat_n(pos32, added));
    }
    out
}

/// First code point of the fold table (everything below is ASCII).
const TABLE_START: usize = 0x80;
/// End of the fold table: Latin-1, Latin Extended, IPA, combining marks,
/// Greek, Cyrillic, ..., General Punctuation (U+2000..U+206F).
const TABLE_END: usize = 0x2070;

/// Folded form of every char in `TABLE_START..TABLE_END`.
fn fold_table() -> &'static [Box<str>] {
    static TABLE: OnceLock<Vec<Box<str>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (TABLE_START..TABLE_END)
            .map(|cp| {
                let mut s = String::new();
                if let Some(c) = char::from_u32(cp as u32) {
                    fold_char(c, &mut s);
                }
                s.into_boxed_str()
            })
            .collect()
    })
}

/// Fold one non-space char: lowercase, then the shared fold of
/// `mediawatch_core::text` (the index analyzer's and the fingerprints'), so
/// that a lexicon entry folds like a search term. One addition for
/// matching: Greek final sigma is the lower case of `Σ` like `σ`, so
/// `μετανάστες` meets an entry written `μεταναστεσ` or in capitals.
fn fold_char(c: char, out: &mut String) {
    for lc in c.to_lowercase() {
        if lc == 'ς' {
            out.push('σ');
        } else if !is_combining_mark(lc) {
            text::fold_char(lc, out);
        }
    }
}

/// Emit a pending whitespace run as one space or newline (none at the start).
fn flush_ws(out: &mut Folded, pending: &mut Option<(bool, u32)>) {
    if let Some((nl, at)) = pending.take() {
        if !out.text.is_empty() {
            out.text.push(if nl { '\n' } else { ' ' });
            out.map.push(at);
        }
    }
}

/// Whether a char of folded text is part of a word.
#[inline]
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_diacritics_case_and_cyrillic() {
        assert_eq!(
            fold("Izbjeglice ĆEVAPI Đurđa").text,
            "izbjeglice cevapi djurdja"
        );
        assert_eq!(fold("Избјеглице ЋЕВАПИ").text, "izbjeglice cevapi");
        assert_eq!(
            fold("uchodźców Flüchtlinge Straße").text,
            "uchodzcow fluchtlinge strasse"
        );
        assert_eq!(
            fold("menekültek bevándorlók").text,
            "menekultek bevandorlok"
        );
        assert_eq!(fold("Μετανάστες").text, "μεταναστεσ");
        assert_eq!(fold("refugjatët çështje").text, "refugjatet ceshtje");
        assert_eq!(fold("бежанци").text, "bezanci");
        assert_eq!(fold("  a \t b\n\n c ").text, "a b\nc");
    }

    #[test]
    fn map_points_back_to_original_chars() {
        let t = "Ђорђе: бежанци";
        let f = fold(t);
        let at = f.text.find("bezanci").unwrap_or(0);
        let (s, e) = f.orig_span(t, at, at + "bezanci".len());
        assert_eq!(&t[s..e], "бежанци");
        let (s, e) = f.orig_span(t, 0, 2);
        assert_eq!(&t[s..e], "Ђ");
    }

    #[test]
    fn decomposed_input_folds_like_composed() {
        // "č" as c + combining caron.
        assert_eq!(fold("c\u{30c}ovek").text, "covek");
    }
    /// Every word of every lexicon folds as the search index's analyzer
    /// folds it (one shared table in `mediawatch_core::text`), so a word an
    /// analyst searches for and the word the classifier matches are the
    /// same word. Greek is left out on purpose: the index keeps the tonos
    /// and the final sigma (its terms are stored; changing them needs a
    /// reindex), the lexicon matcher drops both.
    #[test]
    fn lexicon_words_fold_like_the_index_analyzer() {
        let lexicons = [
            ("bcms", include_str!("../lexicons/bcms.tsv")),
            ("bg", include_str!("../lexicons/bg.tsv")),
            ("cs", include_str!("../lexicons/cs.tsv")),
            ("de", include_str!("../lexicons/de.tsv")),
            ("en", include_str!("../lexicons/en.tsv")),
            ("hu", include_str!("../lexicons/hu.tsv")),
            ("it", include_str!("../lexicons/it.tsv")),
            ("mk", include_str!("../lexicons/mk.tsv")),
            ("pl", include_str!("../lexicons/pl.tsv")),
            ("sk", include_str!("../lexicons/sk.tsv")),
            ("sl", include_str!("../lexicons/sl.tsv")),
            ("sq", include_str!("../lexicons/sq.tsv")),
        ];
        let mut words = 0;
        for (name, data) in lexicons {
            for line in data.lines().filter(|l| !l.starts_with('#')) {
                let entries = line.split_once(char::is_whitespace).map_or("", |x| x.1);
                for word in entries
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                {
                    // The analyzer drops tokens it considers too long.
                    let index = mediawatch_index::analyzer::analyze(word);
                    assert_eq!(vec![fold(word).text], index, "{name}: {word}");
                    words += 1;
                }
            }
        }
        assert!(words > 1000, "{words} words");
    }
}
