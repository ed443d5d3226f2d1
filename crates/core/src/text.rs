//! One normal form for the letters of the region's scripts, shared by
//! everything that compares words: the near-duplicate fingerprints
//! ([`crate::similarity`]), the search index's analyzer (`mediawatch-index`)
//! and the classifier's lexicon matching (`mediawatch-classify`). A word
//! folds the same way in all three, so a lexicon entry, a query and a
//! fingerprint agree on `мигранти` = `migranti`, `građani` = `gradjani`
//! and `uchodźców` = `uchodzcow`.
//!
//! Fingerprints are stored, and so are index terms: a change to this table
//! changes both, so it needs a `mediawatch reindex` and a note in the
//! changelog.

/// Appends the folded form of one lower-case letter or digit: ASCII as it
/// is, Cyrillic (and the Latin letters in [`transliterate`]) through the
/// table, anything else as the base letters of its canonical decomposition
/// (`č` -> `c`, `ő` -> `o`, `ά` -> `α`).
pub fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c);
        return;
    }
    if let Some(latin) = transliterate(c) {
        out.push_str(latin);
        return;
    }
    // Strip diacritics: keep the base letters of the canonical
    // decomposition (č -> c, ő -> o, ë -> e).
    let mut pushed = false;
    unicode_normalization::char::decompose_canonical(c, |d| {
        if !is_combining_mark(d) {
            match transliterate(d) {
                Some(latin) => out.push_str(latin),
                None => out.push(d),
            }
            pushed = true;
        }
    });
    if !pushed {
        out.push(c);
    }
}

/// Whether `c` is a combining diacritical mark (the common Unicode blocks;
/// a range test, because the index's tokenizer asks it of every character).
pub fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{0483}'..='\u{0489}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

/// ASCII Latin form of a lower-case Cyrillic letter (or of a Latin letter
/// whose usual ASCII spelling is not what plain folding gives), already
/// without diacritics so that Cyrillic and folded Latin meet: `џ`→`dz` like
/// `dž`→`dz`, `ђ`→`dj` like `đ`→`dj`. The search index's analyzer, the
/// near-duplicate fingerprints and the classifier's lexicon matching all use
/// this table, so a query, a fingerprint and a lexicon entry fold alike.
pub fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'ђ' | 'đ' => "dj",
        'ѓ' | 'ǵ' => "gj",
        'е' | 'ё' => "e",
        'є' => "je",
        'ж' => "z",
        'з' => "z",
        'ѕ' => "dz",
        'и' | 'і' => "i",
        'ї' => "ji",
        'й' | 'ј' => "j",
        'к' => "k",
        'ќ' | 'ḱ' => "kj",
        'л' => "l",
        'љ' => "lj",
        'м' => "m",
        'н' => "n",
        'њ' => "nj",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'ћ' => "c",
        'у' | 'ў' => "u",
        'ф' => "f",
        'х' => "h",
        'ц' => "c",
        'ч' => "c",
        'џ' => "dz",
        'ш' => "s",
        'щ' => "st",
        'ъ' => "a",
        'ы' => "y",
        'ь' => "",
        'э' => "e",
        'ю' => "ju",
        'я' => "ja",
        'ґ' => "g",
        // Latin letters without a canonical decomposition.
        'ł' => "l",
        'ß' => "ss",
        'ø' => "o",
        'æ' => "ae",
        'œ' => "oe",
        'ı' => "i",
        'ħ' => "h",
        'þ' => "th",
        'ð' => "d",
        _ => return None,
    })
}

/// Escapes text for HTML element content and for double- or single-quoted
/// attribute values: the one escaper of the dashboard, the HTML reports and
/// the search snippets.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    escape_html_into(&mut out, s);
    out
}

/// [`escape_html`], appending to `out`.
pub fn escape_html_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than whitespace have no business in
            // a page, and some browsers treat NUL specially.
            c if c.is_control() && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold_word(w: &str) -> String {
        let mut out = String::new();
        for c in w.chars().flat_map(char::to_lowercase) {
            if !is_combining_mark(c) {
                fold_char(c, &mut out);
            }
        }
        out
    }

    #[test]
    fn region_letters_fold_to_one_latin_form() {
        for (a, b) in [
            ("мигранти", "migranti"),
            ("Građani", "gradjani"),
            ("ГРАЂАНИ", "gradjani"),
            ("uchodźców", "uchodzcow"),
            ("џамија", "dzamija"),
            ("Straße", "strasse"),
            ("ѓорѓи", "gjorgji"),
            ("menekültek", "menekultek"),
            ("refugjatët", "refugjatet"),
            ("Μετανάστες", "μεταναστες"),
        ] {
            assert_eq!(fold_word(a), b, "{a}");
        }
    }

    #[test]
    fn html_is_escaped_for_content_and_attributes() {
        assert_eq!(
            escape_html("<a href=\"x\" title='y'>&\u{0}\n"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;\u{FFFD}\n"
        );
    }

    #[test]
    fn decomposed_marks_are_dropped() {
        assert_eq!(fold_word("c\u{30c}ovek"), "covek");
        assert!(is_combining_mark('\u{301}'));
        assert!(!is_combining_mark('a'));
    }
}
