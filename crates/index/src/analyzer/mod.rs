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
//! Positions are kept, so phrase queries work. Dialect pairs such as
//! `izbeglice`/`izbjeglice` remain different words.
//!
//! Two derived analyzers feed extra fields (see the schema module):
//! - `mw_<lang>` ([`stem_analyzer`]) stems with tantivy's Snowball stemmer
//!   after lower-casing and before folding, because the stemmers know their
//!   language's diacritics (`Flüchtlinge` -> `flüchtling` -> `fluchtling`).
//!   Snowball has English, German, Italian, Hungarian and Greek; BCMS,
//!   Macedonian, Bulgarian, Slovenian, Albanian, Polish, Czech and Slovak
//!   get the project's light stemmers ([`light_stem`], after folding),
//!   with user lemma lists for irregular forms ([`Lemmas`]).
//! - `mw_pairs` ([`pairs_analyzer`]) emits `"a b"` for adjacent words when
//!   either is short ([`pair_qualifies`]), so phrases with stop words are
//!   one term lookup.
//!
//! The `pairs` field analyses the same strings as `title` and `text`, and
//! that second pass of the analyzer cost an eighth of all indexing CPU
//! (measured at 200k documents, see BENCHMARKS.md). So the
//! `mw` analyzer registered on an index ([`recording_analyzer`]) keeps the
//! terms of the last string it analysed on each thread, and the pairs
//! analyzer replays them when it is handed the very same string (see
//! [`RecordFilter`]). tantivy indexes a document's fields in field order,
//! on one thread, and `pairs` comes after `text`; when that does not hold
//! (or the strings differ) the pairs analyzer simply analyses the string
//! itself, with the same terms.

// The shared Cyrillic -> Latin table and combining marks: one definition,
// in core, so the index, the near-duplicate fingerprints and the
// classifier's lexicons fold text identically.
use mediawatch_core::text::{is_combining_mark, transliterate};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer,
    TextAnalyzerBuilder, Token, TokenFilter, TokenStream, Tokenizer,
};

mod cyrillic;
mod light;
mod normalize;
mod pairs;
mod record;
mod stem;
mod tokenizer;

pub use cyrillic::*;
pub use light::*;
pub use normalize::*;
pub use pairs::*;
pub use record::*;
pub use stem::*;
pub use tokenizer::*;

/// Name under which the analyzer is registered on every index.
pub const ANALYZER_NAME: &str = "mw";
/// Name of the word-pair analyzer ([`pairs_analyzer`]).
pub const PAIRS_ANALYZER_NAME: &str = "mw_pairs";
/// Words of at most this many characters (after folding) pair with their
/// neighbours: articles, prepositions, conjunctions and auxiliaries of the
/// region's languages (`je`, `su`, `na`, `i`, `die`, `und`, `für`, `a`,
/// `az`, `się`), the words that make phrase queries expensive.
pub const SHORT_WORD_CHARS: usize = 3;

/// Name of the stemming analyzer of a language code (`mw_en`).
pub fn stem_analyzer_name(lang: &str) -> String {
    format!("{ANALYZER_NAME}_{lang}")
}

/// Registers every analyzer the schema names on `index`. tantivy does not
/// persist tokenizers, so this runs on every open.
pub fn register_all(index: &tantivy::Index, lemmas: std::sync::Arc<Lemmas>) {
    let tokenizers = index.tokenizers();
    tokenizers.register(ANALYZER_NAME, recording_analyzer());
    tokenizers.register(PAIRS_ANALYZER_NAME, pairs_analyzer());
    for (lang, stemming) in crate::schema::STEMMED_LANGS {
        let a = match stemming {
            crate::schema::Stemming::Snowball(language) => stem_analyzer(language),
            crate::schema::Stemming::Light(l) => light_analyzer(l, lemmas.clone()),
        };
        tokenizers.register(&stem_analyzer_name(lang), a);
    }
}

/// `mw` followed by a light stemmer ([`LightStemFilter`]): the analyzer of
/// the stemmed fields of the languages without a Snowball stemmer.
pub fn light_analyzer(lang: LightLang, lemmas: std::sync::Arc<Lemmas>) -> TextAnalyzer {
    mw_chain().filter(LightStemFilter { lang, lemmas }).build()
}

/// `mw` with a Snowball stemmer between lower-casing and folding; the
/// words after lower-casing go through [`StemFoldFilter`], which gives the
/// terms of [`reference_stem_analyzer`] from a memo.
pub fn stem_analyzer(language: Language) -> TextAnalyzer {
    TextAnalyzer::builder(MwTokenizer::default())
        .filter(LowerCaser)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(StemFoldFilter { language })
        .build()
}

/// [`stem_analyzer`] as a chain of separate filters, without the memo: the
/// definition it must match term for term.
pub fn reference_stem_analyzer(language: Language) -> TextAnalyzer {
    stem_fold(
        TextAnalyzer::builder(MwTokenizer::default())
            .filter(LowerCaser)
            .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES)),
        language,
    )
}

/// `mw` followed by [`PairsFilter`].
pub fn pairs_analyzer() -> TextAnalyzer {
    mw_chain().filter(PairsFilter).build()
}

/// Tokens longer than this (in bytes, after lower-casing) are dropped: they
/// are never words a person searches for, and tantivy rejects huge terms.
const MAX_TOKEN_BYTES: usize = 100;

/// Builds the `mw` analyzer. [`NormalizeFilter`] does in one pass what
/// [`reference_analyzer`] does with three filters, with the same terms.
pub fn analyzer() -> TextAnalyzer {
    mw_chain().build()
}

/// The filters of the `mw` terms, for [`analyzer`] and the analyzers that
/// extend it: one definition, so the terms [`RecordFilter`] records are the
/// terms [`PairsFilter`] would otherwise compute.
fn mw_chain() -> TextAnalyzerBuilder<impl Tokenizer> {
    TextAnalyzer::builder(MwTokenizer::default())
        .filter(NormalizeFilter)
        .filter(AsciiFoldingFilter)
}

/// [`analyzer`] followed by [`RecordFilter`]: the same terms, also kept for
/// the pairs analyzer to replay. This is the `mw` registered on indexes.
pub fn recording_analyzer() -> TextAnalyzer {
    mw_chain().filter(RecordFilter).build()
}

/// The `mw` analyzer as a chain of separate filters (lower-case, drop long
/// tokens, Cyrillic to Latin, fold): the definition [`analyzer`] must
/// match term for term; kept for tests and as documentation.
pub fn reference_analyzer() -> TextAnalyzer {
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

/// [`analyze`] with each term's byte offset in `text`, for callers that
/// look at the raw text around a word (its capital, the sentence before).
pub fn analyze_with_offsets(text: &str) -> Vec<(String, usize)> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(tok) = stream.next() {
        out.push((tok.text.clone(), tok.offset_from));
    }
    out
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

    fn run(mut a: TextAnalyzer, text: &str) -> Vec<String> {
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while let Some(tok) = stream.next() {
            out.push(tok.text.clone());
        }
        out
    }

    #[test]
    fn remembered_stems_equal_the_filter_chain() {
        let samples = [
            "Flüchtlinge Flüchtlinge flüchtling FLÜCHTLINGE Straße Grenzen",
            "migrants migrant migrating Migration migrations",
            "migránsok migráns menekültek határ határon",
            "migranti migrante rifugiati confini",
            "μετανάστες ΜΕΤΑΝΆΣΤΕΣ πρόσφυγες μετανάστης",
            "мигранти e\u{308}\u{301}z ǅ ﬁ ẞ İstanbul",
        ];
        for language in crate::schema::STEMMED_LANGS
            .iter()
            .filter_map(|(_, s)| match s {
                crate::schema::Stemming::Snowball(l) => Some(*l),
                crate::schema::Stemming::Light(_) => None,
            })
        {
            // One analyzer for every sample, so later samples meet
            // remembered words.
            let mut remembered = stem_analyzer(language);
            for text in samples {
                assert_eq!(
                    tokens(&mut remembered, text),
                    tokens(&mut reference_stem_analyzer(language), text),
                    "{language:?} {text:?}"
                );
            }
        }
    }

    #[test]
    fn the_stem_memo_starts_over_when_full() {
        let mut a = stem_analyzer(Language::German);
        let words: String = (0..STEM_MEMO_WORDS + 10)
            .map(|i| format!("wort{i}en "))
            .collect();
        let terms = tokens(&mut a, &words);
        assert_eq!(terms.len(), STEM_MEMO_WORDS + 10);
        assert_eq!(
            terms,
            tokens(&mut reference_stem_analyzer(Language::German), &words)
        );
        assert_eq!(tokens(&mut a, "Flüchtlinge")[0].0, "fluchtling");
    }

    #[test]
    fn stemmers_fold_after_stemming() {
        let en = || stem_analyzer(Language::English);
        assert_eq!(run(en(), "migrants"), run(en(), "migrant"));
        let de = || stem_analyzer(Language::German);
        assert_eq!(run(de(), "Flüchtlinge"), run(de(), "Flüchtling"));
        assert_eq!(run(de(), "Flüchtlinge"), run(de(), "Fluchtlinge"));
        let hu = || stem_analyzer(Language::Hungarian);
        assert_eq!(run(hu(), "migránsok"), run(hu(), "migráns"));
        // Cyrillic still becomes Latin in a stemmed field.
        assert_eq!(run(en(), "мигранти"), ["migranti"]);
    }

    #[test]
    fn pairs_keep_only_pairs_with_a_short_word() {
        assert_eq!(
            run(pairs_analyzer(), "Мигранти су стигли на границу"),
            ["migranti su", "su stigli", "stigli na", "na granicu"]
        );
        assert_eq!(
            run(pairs_analyzer(), "granica policija rat kamp"),
            ["policija rat", "rat kamp"]
        );
        assert_eq!(
            run(pairs_analyzer(), "granica policija"),
            Vec::<String>::new()
        );
        assert!(run(pairs_analyzer(), "").is_empty());
        assert!(run(pairs_analyzer(), "jedno").is_empty());
        assert_eq!(run(pairs_analyzer(), "Für die"), ["fur die"]);
    }

    /// Every token of `a` over `text`: term, position, offsets.
    fn tokens(a: &mut TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut stream = a.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
        }
        out
    }

    /// What this thread's memo holds: (input, complete).
    fn memo_state() -> (String, bool) {
        MEMO.with(|m| {
            let m = m.borrow();
            (m.input.clone(), m.complete)
        })
    }

    #[test]
    fn replayed_pairs_equal_analysed_pairs() {
        let long = format!("je {} su {} i", "a".repeat(120), "ж".repeat(60));
        let samples = [
            "Мигранти су стигли на границу у Суботици, ЂОРЂЕ и Љубица.",
            "Für die Flüchtlinge: MIGRANTI Đorđević građani Straße a határ",
            "migranti\u{301} x e\u{308}\u{301}z ѓ ќ ѕ Ѓорѓи бежанци щат",
            "jedno",
            "",
            long.as_str(),
        ];
        let mut record = recording_analyzer();
        let mut pairs = pairs_analyzer();
        for text in samples {
            // Analysed: the memo holds another string.
            tokens(&mut record, "nešto drugo");
            let analysed = tokens(&mut pairs, text);
            assert_eq!(memo_state(), ("nešto drugo".to_string(), true));
            // Replayed: the memo holds this string and is used up.
            assert_eq!(tokens(&mut record, text), tokens(&mut analyzer(), text));
            assert_eq!(memo_state(), (text.to_string(), true));
            let replayed = tokens(&mut pairs, text);
            assert!(!memo_state().1, "{text:?} was not replayed");
            assert_eq!(replayed, analysed, "{text:?}");
        }
        // The field's two strings in a row (title, then text), as tantivy
        // indexes them: the title is analysed, the text replayed.
        tokens(&mut record, "Мигранти су");
        tokens(&mut record, "granica i kamp");
        assert_eq!(tokens(&mut pairs, "Мигранти су")[0].0, "migranti su");
        assert!(memo_state().1);
        assert_eq!(tokens(&mut pairs, "granica i kamp").len(), 2);
        assert!(!memo_state().1);
    }

    #[test]
    fn a_stream_read_half_way_records_nothing() {
        let mut record = recording_analyzer();
        tokens(&mut record, "prvi tekst");
        {
            let mut stream = record.token_stream("migranti su stigli");
            assert!(stream.advance());
        }
        assert_eq!(memo_state(), ("prvi tekst".to_string(), true));
        assert_eq!(
            run(pairs_analyzer(), "migranti su stigli"),
            ["migranti su", "su stigli"]
        );
        // Nor is a string over the memo's limit recorded.
        let huge = "ab ".repeat(MEMO_MAX_BYTES / 3 + 1);
        assert_eq!(tokens(&mut record, &huge).len(), MEMO_MAX_BYTES / 3 + 1);
        assert_eq!(memo_state(), ("prvi tekst".to_string(), true));
    }

    #[test]
    fn fast_paths_agree_with_the_unicode_tables() {
        for c in (0..0x3_0000).filter_map(char::from_u32) {
            assert_eq!(is_alnum(c), c.is_alphanumeric(), "{c:?}");
            if let Some(l) = fast_lower(c) {
                assert_eq!(c.to_lowercase().collect::<String>(), l.to_string(), "{c:?}");
            }
        }
    }

    #[test]
    fn fused_analyzer_equals_the_filter_chain() {
        let samples = [
            "Мигранти су стигли на границу у Суботици, ЂОРЂЕ и Љубица.",
            "MIGRANTI Đorđević građani Straße Flüchtlinge kérdés őrült ŰBER",
            "İstanbul ΣΟΦΙΑ σοφία ς Ǆ ǅ ǆ ﬁ ẞ ΐ Ω K Å",
            "migranti\u{301} x e\u{308}\u{301}z ѓ ќ ѕ Ѓорѓи бежанци щат",
            "Shqipëri çështje łódź ŻÓŁW 漢字 テスト ١٢٣ Ⅻ ½",
            "",
            "!!! \u{301} ---",
        ];
        let long = format!("{} {} {}", "a".repeat(99), "ж".repeat(50), "Ж".repeat(49));
        let edge = format!("{} {}", "İ".repeat(33), "x".repeat(100));
        let run_all = |mut a: TextAnalyzer, text: &str| {
            let mut stream = a.token_stream(text);
            let mut out = Vec::new();
            while let Some(t) = stream.next() {
                out.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
            }
            out
        };
        for text in samples
            .iter()
            .copied()
            .chain([long.as_str(), edge.as_str()])
        {
            assert_eq!(
                run_all(analyzer(), text),
                run_all(reference_analyzer(), text),
                "{text:?}"
            );
        }
        // Every character up to the CJK blocks, alone and between letters.
        let mut all = String::new();
        for c in (0x20..0x3000).filter_map(char::from_u32) {
            all.push(c);
            all.push('a');
            all.push(c);
            all.push(' ');
        }
        assert_eq!(
            run_all(analyzer(), &all),
            run_all(reference_analyzer(), &all)
        );
    }

    #[test]
    fn pair_length_check_counts_characters() {
        assert!(pair_qualifies("abc", "defghij"));
        assert!(pair_qualifies("defghij", "žab"));
        assert!(!pair_qualifies("žabe", "defghij"));
        assert!(pair_qualifies("ααα", "defghij"));
        assert!(!pair_qualifies("αααα", "defghij"));
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
