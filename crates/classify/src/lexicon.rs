//! Lexicon data files and their Aho-Corasick automata.
//!
//! Each language has one data file under `lexicons/` (compiled in with
//! `include_str!`). Format, one cue group per line:
//!
//! ```text
//! # comment
//! kind[,key=value...]<TAB or spaces>entry | entry | entry
//! ```
//!
//! An entry is one or more words as written in the language (any script,
//! any case, with or without diacritics: entries are folded exactly like the
//! text). A trailing `*` makes the last word a prefix (`migrant*` matches
//! `migrants`, `migrantima`); without it the entry must end at a word
//! boundary. Every entry must start at a word boundary. Options: `w=` weight
//! (default 1), `target=` group for hate cues, `class=hate|offensive` for
//! slurs.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::normalize::{fold, is_word_char};
use crate::text::Segmented;
use crate::ClassifyError;

/// What a lexicon entry is evidence of. See `lexicons/README.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// Topic term: migration, asylum, border crossing.
    Migration,
    /// People noun used for the group: migrants, refugees (also a topic term).
    Group,
    /// Collective label noun that is itself labelling: "illegals".
    Label,
    /// Generic predicate after a group noun: "are all", "always".
    Generic,
    /// Quantifier before a group noun: "all", "svi".
    Quant,
    /// Stand-alone quantifier phrase: "they all", "all of them".
    QuantPhrase,
    /// Demonstrative before a group noun: "these", "ovi".
    DemNoun,
    /// Stand-alone distancing phrase: "these people", "ti ljudi".
    DemPhrase,
    /// Water metaphor: wave, flood, influx.
    Water,
    /// Animal or vermin metaphor: hordes, swarms.
    Animal,
    /// Invasion or war metaphor.
    Invasion,
    /// Disease metaphor.
    Disease,
    /// Phrase that makes an overlapping metaphor literal: "heat wave".
    NonMetaphor,
    /// Phrase that makes an overlapping migration term off-topic: "data
    /// migration", "bird migration", "undocumented API".
    NotMigration,
    /// Threat frame cue.
    Threat,
    /// Victim frame cue.
    Victim,
    /// Recognition frame cue.
    Recognition,
    /// Reporting verb: "said", "told".
    Quote,
    /// Age marker after a number: "year-old", "godina".
    Age,
    /// Response to a problem: programme, initiative.
    Solution,
    /// Evidence of results or limits: "since it started", "evaluation".
    Result,
    /// Noun that, after a number, counts people helped: "people", "families".
    ResultNoun,
    /// Negator: not, no, nisu.
    Negation,
    /// Condemnation or rebuttal: "condemned", "wrong to call", "so-called".
    Counter,
    /// Slur with a fixed target (options `target`, `class`).
    Slur,
    /// Dehumanising word that is hate when aimed at a group in context.
    Dehumanising,
    /// Insult that is offensive when aimed at a group in context.
    Insult,
    /// Hateful call or statement: "deport them all", "go back".
    HatePhrase,
    /// Name of a target group (for hate targets): Roma, Muslims.
    TargetGroup,
    /// Context term that lets a document past the encoder's first stage
    /// without being a migration term itself: borders, camps, fleeing,
    /// countries of origin, foreign workers. Recall-oriented; no label
    /// uses it.
    Context,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "migration" => Kind::Migration,
            "group" => Kind::Group,
            "label" => Kind::Label,
            "generic" => Kind::Generic,
            "quant" => Kind::Quant,
            "quantphrase" => Kind::QuantPhrase,
            "demnoun" => Kind::DemNoun,
            "demphrase" => Kind::DemPhrase,
            "water" => Kind::Water,
            "animal" => Kind::Animal,
            "invasion" => Kind::Invasion,
            "disease" => Kind::Disease,
            "nonmetaphor" => Kind::NonMetaphor,
            "notmigration" => Kind::NotMigration,
            "threat" => Kind::Threat,
            "victim" => Kind::Victim,
            "recognition" => Kind::Recognition,
            "quote" => Kind::Quote,
            "age" => Kind::Age,
            "solution" => Kind::Solution,
            "result" => Kind::Result,
            "resultnoun" => Kind::ResultNoun,
            "neg" => Kind::Negation,
            "counter" => Kind::Counter,
            "slur" => Kind::Slur,
            "dehum" => Kind::Dehumanising,
            "insult" => Kind::Insult,
            "hatephrase" => Kind::HatePhrase,
            "tgroup" => Kind::TargetGroup,
            "context" => Kind::Context,
            _ => return None,
        })
    }

    /// Kinds that make a sentence about migration.
    pub fn is_migration(self) -> bool {
        matches!(self, Kind::Migration | Kind::Group | Kind::Label)
    }

    /// Every kind, for coverage counts.
    pub const ALL: [Kind; 30] = [
        Kind::Migration,
        Kind::Group,
        Kind::Label,
        Kind::Generic,
        Kind::Quant,
        Kind::QuantPhrase,
        Kind::DemNoun,
        Kind::DemPhrase,
        Kind::Water,
        Kind::Animal,
        Kind::Invasion,
        Kind::Disease,
        Kind::NonMetaphor,
        Kind::NotMigration,
        Kind::Threat,
        Kind::Victim,
        Kind::Recognition,
        Kind::Quote,
        Kind::Age,
        Kind::Solution,
        Kind::Result,
        Kind::ResultNoun,
        Kind::Negation,
        Kind::Counter,
        Kind::Slur,
        Kind::Dehumanising,
        Kind::Insult,
        Kind::HatePhrase,
        Kind::TargetGroup,
        Kind::Context,
    ];
}

/// One lexicon entry.
#[derive(Debug)]
pub(crate) struct Entry {
    pub kind: Kind,
    /// The entry as written in the data file (reported as the evidence cue).
    pub cue: Box<str>,
    /// Trailing `*`: the last word may continue.
    pub prefix: bool,
    pub weight: f32,
    pub target: Option<&'static str>,
    /// For slurs: hate (true) or offensive (false).
    pub hate: bool,
}

/// A match of an entry in folded text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub entry: u32,
    pub kind: Kind,
    /// First and last token index (inclusive).
    pub t0: usize,
    pub t1: usize,
    /// Folded byte range, widened to the end of the last word for prefixes.
    pub start: usize,
    pub end: usize,
}

/// A compiled lexicon for one language.
pub(crate) struct Lexicon {
    ac: AhoCorasick,
    /// Entries for each automaton pattern.
    pattern_entries: Vec<Vec<u32>>,
    pub entries: Vec<Entry>,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("patterns", &self.pattern_entries.len())
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Lexicon {
    /// Parse and compile a data file. `lang` names it in errors.
    pub fn build(lang: &'static str, data: &str) -> Result<Lexicon, ClassifyError> {
        let mut entries = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_entries: Vec<Vec<u32>> = Vec::new();
        let mut by_pattern: HashMap<String, usize> = HashMap::new();
        for (lineno, line) in data.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: String| ClassifyError::Lexicon {
                lang,
                line: lineno + 1,
                reason,
            };
            let (head, rest) = line
                .split_once(|c: char| c.is_whitespace())
                .ok_or_else(|| bad("expected `kind entries...`".into()))?;
            let mut opts = head.split(',');
            let kind_name = opts.next().unwrap_or_default();
            let kind =
                Kind::parse(kind_name).ok_or_else(|| bad(format!("unknown kind {kind_name:?}")))?;
            let (mut weight, mut target, mut hate) = (1.0f32, None, false);
            for opt in opts {
                match opt.split_once('=') {
                    Some(("w", v)) => {
                        weight = v
                            .parse()
                            .ok()
                            .filter(|w: &f32| w.is_finite() && *w >= 0.0)
                            .ok_or_else(|| bad(format!("bad weight {v:?}")))?;
                    }
                    Some(("target", v)) => {
                        target = Some(
                            crate::heads::TARGET_GROUPS
                                .iter()
                                .copied()
                                .find(|t| *t == v)
                                .ok_or_else(|| bad(format!("unknown target {v:?}")))?,
                        );
                    }
                    Some(("class", "hate")) => hate = true,
                    Some(("class", "offensive")) => hate = false,
                    _ => return Err(bad(format!("unknown option {opt:?}"))),
                }
            }
            for raw in rest.split('|') {
                let raw = raw.trim();
                if raw.is_empty() {
                    continue;
                }
                let (word, prefix) = match raw.strip_suffix('*') {
                    Some(w) => (w.trim_end(), true),
                    None => (raw, false),
                };
                let idx =
                    u32::try_from(entries.len()).map_err(|_| bad("too many entries".into()))?;
                entries.push(Entry {
                    kind,
                    cue: raw.into(),
                    prefix,
                    weight,
                    target,
                    hate,
                });
                for variant in variants(lang, word) {
                    if !variant.chars().next().is_some_and(is_word_char) {
                        return Err(bad(format!("entry {raw:?} must start with a letter")));
                    }
                    let pid = *by_pattern.entry(variant.clone()).or_insert_with(|| {
                        patterns.push(variant);
                        pattern_entries.push(Vec::new());
                        pattern_entries.len() - 1
                    });
                    if !pattern_entries[pid].contains(&idx) {
                        pattern_entries[pid].push(idx);
                    }
                }
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| ClassifyError::Automaton {
                lang,
                reason: e.to_string(),
            })?;
        Ok(Lexicon {
            ac,
            pattern_entries,
            entries,
        })
    }

    /// Entry counts per kind (for coverage reports).
    pub fn counts(&self) -> Vec<(Kind, usize)> {
        Kind::ALL
            .iter()
            .map(|&k| (k, self.entries.iter().filter(|e| e.kind == k).count()))
            .collect()
    }

    /// All entry matches in `text` (folded), at word boundaries, in
    /// automaton order. `keep` filters kinds early (relevance only needs
    /// migration terms).
    pub fn find(&self, text: &str, seg: &Segmented, keep: impl Fn(Kind) -> bool) -> Vec<Hit> {
        let mut hits = Vec::new();
        for m in self.ac.find_overlapping_iter(text) {
            let (s, e) = (m.start(), m.end());
            let entries = &self.pattern_entries[m.pattern().as_usize()];
            if !entries.iter().any(|&i| keep(self.entries[i as usize].kind)) {
                continue;
            }
            if text[..s].chars().next_back().is_some_and(is_word_char) {
                continue;
            }
            let Some(t0) = seg.token_at(s) else { continue };
            let at_end = !text[e..].chars().next().is_some_and(is_word_char);
            let t1 = seg.token_containing(e.saturating_sub(1)).max(t0);
            for &i in entries {
                let entry = &self.entries[i as usize];
                if !keep(entry.kind) || (!entry.prefix && !at_end) {
                    continue;
                }
                let end = if entry.prefix {
                    seg.tokens[t1].end.max(e)
                } else {
                    e
                };
                hits.push(Hit {
                    entry: i,
                    kind: entry.kind,
                    t0,
                    t1,
                    start: s,
                    end,
                });
            }
        }
        hits
    }
}

impl Lexicon {
    /// Weighted count of migration terms in `text` (folded), with the same
    /// boundary and de-duplication rules as [`Lexicon::find`] followed by
    /// the rules' de-duplication, but without tokenising: the cheap
    /// relevance stage.
    pub fn migration_weight(&self, text: &str) -> f32 {
        let mut hits: Vec<(usize, Kind, usize, u32)> = Vec::new();
        for m in self.ac.find_overlapping_iter(text) {
            let (s, e) = (m.start(), m.end());
            let entries = &self.pattern_entries[m.pattern().as_usize()];
            let wanted = |k: Kind| k.is_migration() || k == Kind::NotMigration;
            if !entries
                .iter()
                .any(|&i| wanted(self.entries[i as usize].kind))
            {
                continue;
            }
            if text[..s].chars().next_back().is_some_and(is_word_char)
                || !text[s..].chars().next().is_some_and(is_word_char)
            {
                continue;
            }
            let at_end = !text[e..].chars().next().is_some_and(is_word_char);
            for &i in entries {
                let entry = &self.entries[i as usize];
                if !wanted(entry.kind) || (!entry.prefix && !at_end) {
                    continue;
                }
                let end = if entry.prefix { word_end(text, e) } else { e };
                hits.push((s, entry.kind, end, i));
            }
        }
        suppress_off_topic(&mut hits);
        hits.sort_by(|a, b| (a.0, a.1, b.2, a.3).cmp(&(b.0, b.1, a.2, b.3)));
        hits.dedup_by(|later, first| later.0 == first.0 && later.1 == first.1);
        hits.iter().map(|h| self.entries[h.3 as usize].weight).sum()
    }
}

impl Lexicon {
    /// Whether `text` (folded) holds a [`Kind::Context`] term at word
    /// boundaries (the recall-oriented half of the first stage).
    pub fn has_context(&self, text: &str) -> bool {
        self.ac.find_overlapping_iter(text).any(|m| {
            let (s, e) = (m.start(), m.end());
            if text[..s].chars().next_back().is_some_and(is_word_char) {
                return false;
            }
            let at_end = !text[e..].chars().next().is_some_and(is_word_char);
            self.pattern_entries[m.pattern().as_usize()]
                .iter()
                .map(|&i| &self.entries[i as usize])
                .any(|entry| entry.kind == Kind::Context && (entry.prefix || at_end))
        })
    }
}

/// Drop migration hits inside an off-topic phrase ("data migration"), and
/// the phrases themselves. Hits are `(start, kind, end, entry)`.
fn suppress_off_topic(hits: &mut Vec<(usize, Kind, usize, u32)>) {
    let off: Vec<(usize, usize)> = hits
        .iter()
        .filter(|h| h.1 == Kind::NotMigration)
        .map(|h| (h.0, h.2))
        .collect();
    if off.is_empty() {
        return;
    }
    hits.retain(|h| h.1 != Kind::NotMigration && !off.iter().any(|&(s, e)| h.0 < e && s < h.2));
}

/// End of the word running through byte `e - 1` (or `e` when the byte
/// before `e` is not part of a word).
fn word_end(text: &str, e: usize) -> usize {
    if !text[..e].chars().next_back().is_some_and(is_word_char) {
        return e;
    }
    text[e..]
        .char_indices()
        .find(|&(_, c)| !is_word_char(c))
        .map_or(text.len(), |(i, _)| e + i)
}

/// Number of words (maximal runs of word characters), as the tokenizer
/// counts them.
pub(crate) fn count_words(text: &str) -> usize {
    let mut n = 0;
    let mut in_word = false;
    for c in text.chars() {
        let w = is_word_char(c);
        if w && !in_word {
            n += 1;
        }
        in_word = w;
    }
    n
}

/// Folded spellings of an entry: itself, plus `d` for `đ` (texts without
/// diacritics write both `dj` and `d`) and German `ae/oe/ue` for umlauts.
fn variants(lang: &str, word: &str) -> Vec<String> {
    let mut out = vec![fold(word).text];
    if word.contains(['đ', 'Đ', 'ђ', 'Ђ']) {
        out.push(fold(&word.replace(['đ', 'Đ', 'ђ', 'Ђ'], "d")).text);
    }
    if lang == "de" && word.contains(['ä', 'ö', 'ü', 'Ä', 'Ö', 'Ü']) {
        let w = word
            .replace(['ä', 'Ä'], "ae")
            .replace(['ö', 'Ö'], "oe")
            .replace(['ü', 'Ü'], "ue");
        out.push(fold(&w).text);
    }
    out.retain(|v| !v.is_empty());
    out.dedup();
    out
}
