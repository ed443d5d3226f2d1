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
//!   Stemmers exist for English, German, Italian, Hungarian and Greek only;
//!   the Slavic languages of the region and Albanian are not stemmed.
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
pub fn register_all(index: &tantivy::Index) {
    let tokenizers = index.tokenizers();
    tokenizers.register(ANALYZER_NAME, recording_analyzer());
    tokenizers.register(PAIRS_ANALYZER_NAME, pairs_analyzer());
    for (lang, language) in crate::schema::STEMMED_LANGS {
        tokenizers.register(&stem_analyzer_name(lang), stem_analyzer(language));
    }
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

/// `words` followed by what [`StemFoldFilter`] remembers: the stemmer,
/// then Cyrillic to Latin, then folding.
fn stem_fold<T: Tokenizer>(words: TextAnalyzerBuilder<T>, language: Language) -> TextAnalyzer {
    words
        .filter(Stemmer::new(language))
        .filter(CyrillicLatinFilter)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Words a [`StemFoldFilter`] remembers before it starts over. A segment
/// writer makes its own analyzers, so this bounds each of them.
const STEM_MEMO_WORDS: usize = 20_000;

/// Stems a lower-cased word, then transliterates and folds it, as
/// `Stemmer`, [`CyrillicLatinFilter`] and [`AsciiFoldingFilter`] do in a
/// row, remembering each word's result: Snowball took a twentieth of all
/// indexing CPU, allocating a new string for most words, and a language's
/// frequent words make up most of its text.
#[derive(Clone, Copy, Debug)]
pub struct StemFoldFilter {
    language: Language,
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
    inner: T,
    /// The filters the memo stands for, applied to one word.
    word: TextAnalyzer,
    memo: std::collections::HashMap<Box<str>, Box<str>>,
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
    tail: S,
    word: &'a mut TextAnalyzer,
    memo: &'a mut std::collections::HashMap<Box<str>, Box<str>>,
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

/// `mw` followed by [`PairsFilter`].
pub fn pairs_analyzer() -> TextAnalyzer {
    mw_chain().filter(PairsFilter).build()
}

/// Whether the adjacent `mw` terms `a` and `b` are indexed as a pair.
pub fn pair_qualifies(a: &str, b: &str) -> bool {
    // Counting characters only when the byte length leaves it open (a
    // character is 1 to 4 bytes) and the term is not ASCII: most terms are
    // ASCII after folding, and this runs for every pair of adjacent words.
    let short = |w: &str| {
        w.len() <= SHORT_WORD_CHARS
            || (w.len() <= 4 * SHORT_WORD_CHARS
                && !w.is_ascii()
                && w.chars().count() <= SHORT_WORD_CHARS)
    };
    short(a) || short(b)
}

/// The pair term of two `mw` terms, as stored in the `pairs` field.
pub fn pair_term(a: &str, b: &str) -> String {
    format!("{a} {b}")
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

/// `c.is_alphanumeric()`, answered without the Unicode tables for the
/// letters of the region's scripts (Latin-1, Latin Extended-A, Cyrillic),
/// which otherwise cost a table search per character of Cyrillic or
/// accented text.
fn is_alnum(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    match c as u32 {
        0xC0..=0xFF => c != '\u{D7}' && c != '\u{F7}',
        0x100..=0x17F | 0x400..=0x481 => true,
        _ => c.is_alphanumeric(),
    }
}

fn is_word_char(c: char) -> bool {
    is_alnum(c) || is_combining_mark(c)
}

/// `c` lower-cased, for the characters whose lower case is one character
/// that is found without the Unicode tables (ASCII, Latin-1, basic
/// Cyrillic); `None` for the others (ask `char::to_lowercase`).
fn fast_lower(c: char) -> Option<char> {
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

/// Lower-cases, drops tokens of [`MAX_TOKEN_BYTES`] or more (measured
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
    inner: T,
    buffer: String,
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
    tail: S,
    buffer: &'a mut String,
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

/// Strings longer than this are not recorded for replay: the memo keeps its
/// buffers, and a rare huge text should not pin megabytes on every thread.
const MEMO_MAX_BYTES: usize = 256 * 1024;

/// One recorded term: where it ends in [`TermsMemo::terms`], and its
/// offsets in the analysed string.
#[derive(Clone, Copy, Debug)]
struct MemoTerm {
    end: usize,
    offset_from: usize,
    offset_to: usize,
}

/// The terms of the last string a [`RecordFilter`] stream analysed to its
/// end on this thread.
#[derive(Default)]
struct TermsMemo {
    /// The analysed string: a replay needs exactly this input.
    input: String,
    /// Every term, back to back.
    terms: String,
    marks: Vec<MemoTerm>,
    /// False once the pairs analyzer has taken the buffers (or before
    /// anything was recorded).
    complete: bool,
}

thread_local! {
    static MEMO: std::cell::RefCell<TermsMemo> = std::cell::RefCell::new(TermsMemo::default());
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
    inner: T,
    terms: String,
    marks: Vec<MemoTerm>,
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
    tail: S,
    input: &'a str,
    recording: bool,
    terms: &'a mut String,
    marks: &'a mut Vec<MemoTerm>,
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
fn take_recorded(text: &str, terms: &mut String, marks: &mut Vec<MemoTerm>) -> bool {
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

/// Replaces a stream of `mw` terms by the pairs of adjacent terms that
/// [`pair_qualifies`] accepts (the single words are not repeated; they are
/// in the `text` field already).
#[derive(Clone, Copy, Debug, Default)]
pub struct PairsFilter;

impl TokenFilter for PairsFilter {
    type Tokenizer<T: Tokenizer> = PairsTokenizer<T>;
    fn transform<T: Tokenizer>(self, tokenizer: T) -> PairsTokenizer<T> {
        PairsTokenizer {
            inner: tokenizer,
            token: Token::default(),
            previous: String::new(),
            replay_terms: String::new(),
            replay_marks: Vec::new(),
        }
    }
}

/// Tokenizer wrapper produced by [`PairsFilter`]. `inner` must produce the
/// terms [`recording_analyzer`] produces, as `pairs_analyzer` does: the
/// stream replays recorded terms in place of running it.
#[derive(Clone)]
pub struct PairsTokenizer<T> {
    inner: T,
    token: Token,
    previous: String,
    replay_terms: String,
    replay_marks: Vec<MemoTerm>,
}

impl<T: Tokenizer> Tokenizer for PairsTokenizer<T> {
    type TokenStream<'a> = PairsStream<'a, T::TokenStream<'a>>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.token.reset();
        self.previous.clear();
        let replay =
            take_recorded(text, &mut self.replay_terms, &mut self.replay_marks).then(|| Replay {
                terms: &self.replay_terms,
                marks: &self.replay_marks,
                next: 0,
            });
        PairsStream {
            tail: self.inner.token_stream(text),
            replay,
            token: &mut self.token,
            previous: &mut self.previous,
            previous_from: 0,
            has_previous: false,
        }
    }
}

/// Recorded terms being replayed: term `i` is
/// `terms[marks[i - 1].end..marks[i].end]`.
struct Replay<'a> {
    terms: &'a str,
    marks: &'a [MemoTerm],
    next: usize,
}

impl Replay<'_> {
    fn start(&self, i: usize) -> usize {
        if i == 0 {
            0
        } else {
            self.marks[i - 1].end
        }
    }
}

/// Token stream of [`PairsFilter`].
pub struct PairsStream<'a, S> {
    tail: S,
    /// Set when the string's terms were recorded: then `tail` is not run.
    replay: Option<Replay<'a>>,
    token: &'a mut Token,
    previous: &'a mut String,
    previous_from: usize,
    has_previous: bool,
}

impl<S> PairsStream<'_, S> {
    /// Makes `self.token` the pair `previous cur`.
    fn emit(token: &mut Token, previous: &str, from: usize, cur: &str, to: usize) {
        token.text.clear();
        token.text.push_str(previous);
        token.text.push(' ');
        token.text.push_str(cur);
        token.offset_from = from;
        token.offset_to = to;
        token.position = token.position.wrapping_add(1);
        token.position_length = 1;
    }
}

impl<S: TokenStream> TokenStream for PairsStream<'_, S> {
    fn advance(&mut self) -> bool {
        if let Some(r) = &mut self.replay {
            // Terms are sliced from the record: nothing is copied but the
            // pairs themselves.
            while r.next < r.marks.len() {
                let i = r.next;
                r.next += 1;
                if i == 0 {
                    continue;
                }
                let previous = &r.terms[r.start(i - 1)..r.start(i)];
                let cur = &r.terms[r.start(i)..r.marks[i].end];
                if pair_qualifies(previous, cur) {
                    let from = r.marks[i - 1].offset_from;
                    Self::emit(self.token, previous, from, cur, r.marks[i].offset_to);
                    return true;
                }
            }
            return false;
        }
        while self.tail.advance() {
            let cur = self.tail.token();
            let emit = self.has_previous && pair_qualifies(self.previous, &cur.text);
            if emit {
                Self::emit(
                    self.token,
                    self.previous,
                    self.previous_from,
                    &cur.text,
                    cur.offset_to,
                );
            }
            self.previous.clear();
            self.previous.push_str(&cur.text);
            self.previous_from = cur.offset_from;
            self.has_previous = true;
            if emit {
                return true;
            }
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
        for (_, language) in crate::schema::STEMMED_LANGS {
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
