//! Rules that turn lexicon hits into labels, and the scoring formulas.
//!
//! Every score is a saturating function of a weighted cue count:
//!
//! ```text
//! sat(x, k) = 1 - exp(-k * x)
//! ```
//!
//! so one clear cue gives about one half and a few give nearly one, while
//! more cues never push a score past 1. Where one cue in a long article
//! should weigh less than in a short one (frames, collective labelling,
//! solutions), the weighted count is divided by a length factor
//! `lf = max(1, sqrt(words / 600))`: 600 words count as one unit, 2,400
//! words halve every cue.
//!
//! * relevance = `sat(m, 1.0) * sqrt(sat(m / words, 1 / 0.006))`, where
//!   `m` is the weighted count of migration terms: the first factor asks for
//!   mentions at all, the second for density, so a text centred on migration
//!   scores near 1 and a long article mentioning it once in passing stays
//!   well under 0.5.
//! * collective = `sat(c / lf, 0.9)`, `c` the weighted count of generic
//!   claims, quantifiers, demonstratives, label nouns and metaphors.
//! * hate = `sat(H + O, 0.9)`, `H` hate and `O` offensive weights; class
//!   `hate` when `H >= 1`, `offensive` when `H + O >= 0.8`. A generic
//!   claim with a hostile predicate ("migrants are all criminals") adds 1 to
//!   `H` as a stereotype.
//! * threat / victim / recognition = `sat(x / lf, 0.75)`.
//! * solutions = `sat((r + 1.5 e) / lf, 0.45)` when both a response `r`
//!   and evidence of results `e` are present, else
//!   `0.35 * sat((r + e) / lf, 0.5)` (a response without evidence is not
//!   solutions journalism).
//!
//! Cancelling: a cue is cancelled (weight 0, a `CounterSpeech` span is
//! recorded) when its sentence holds a condemnation or rebuttal cue, or a
//! negator sits up to three tokens before it (for generic claims, anywhere
//! from three tokens before the group noun to the end of the predicate). A
//! cue in reported speech (a reporting verb in the sentence, or inside
//! quotation marks) counts 0.6. Metaphors, frames and stand-alone phrases
//! only count when the sentence or a neighbouring one mentions migration.

use mediawatch_core::labels::{
    CollectiveLabelling, CueType, EvidenceSpan, Frame, Hate, HateClass, Labels, LanguageSupport,
    Relevance, Solutions,
};

use crate::lexicon::{count_words, Hit, Kind, Lexicon};
use crate::normalize::{fold, Folded};
use crate::text::{segment, Segmented};

/// Most evidence spans kept per label (the first ones in the text).
pub(crate) const MAX_EVIDENCE: usize = 32;

fn sat(x: f32, k: f32) -> f32 {
    (1.0 - (-k * x).exp()).clamp(0.0, 1.0)
}

fn relevance_score(m: f32, words: usize) -> f32 {
    let density = m / words.max(1) as f32;
    sat(m, 1.0) * sat(density, 1.0 / 0.006).sqrt()
}

fn length_factor(words: usize) -> f32 {
    (words as f32 / 600.0).sqrt().max(1.0)
}

/// Weighted migration-term count (for picking a lexicon).
pub(crate) fn migration_weight(lex: &Lexicon, text: &str) -> f32 {
    lex.migration_weight(&fold(text).text)
}

/// Relevance only: fold, match migration terms, count words, score. Gives
/// exactly the relevance of [`classify`] without tokenising or rules.
pub(crate) fn relevance(lex: &Lexicon, text: &str) -> f32 {
    let folded = fold(text);
    let m = lex.migration_weight(&folded.text);
    if m == 0.0 {
        return 0.0;
    }
    relevance_score(m, count_words(&folded.text))
}

/// The encoder's first stage on one folding of `text`: relevance at or
/// above `floor`, or a context term.
pub(crate) fn passes_first_stage(lex: &Lexicon, text: &str, floor: f32) -> bool {
    let folded = fold(text);
    let m = lex.migration_weight(&folded.text);
    (m > 0.0 && relevance_score(m, count_words(&folded.text)) >= floor)
        || lex.has_context(&folded.text)
}

/// Keep one hit per (kind, first token): the longest.
fn dedup(hits: &mut Vec<Hit>) {
    hits.sort_by(|a, b| (a.t0, a.kind, b.end, a.entry).cmp(&(b.t0, b.kind, a.end, b.entry)));
    hits.dedup_by(|later, first| later.t0 == first.t0 && later.kind == first.kind);
}

/// Why a cue does or does not count.
#[derive(Clone, Copy)]
enum Verdict {
    /// Counts with this factor (1 or the reported-speech discount).
    Counts(f32),
    /// Cancelled by this negation or counter-speech hit.
    Cancelled(usize),
}

const REPORTED: f32 = 0.6;

/// Saturation rate for frame scores: one full cue gives 0.53.
const FRAME_K: f32 = 0.75;

/// Everything the rules need about one text.
struct Doc<'a> {
    text: &'a str,
    folded: Folded,
    seg: Segmented,
    lex: &'a Lexicon,
    hits: Vec<Hit>,
    /// Whether a context term ([`Kind::Context`]) occurs.
    context: bool,
    /// Per sentence: mentions migration.
    migration: Vec<bool>,
    /// Per sentence: first counter-speech hit.
    counter: Vec<Option<usize>>,
    /// Per sentence: has a reporting verb.
    reported: Vec<bool>,
    /// Per sentence: names a target group (hit index).
    target_group: Vec<Option<usize>>,
    /// Per token: hit index of a negator starting there (`usize::MAX`: none).
    neg_tok: Vec<usize>,
    /// Per token: covered by a migration term.
    mig_tok: Vec<bool>,
    /// Per token: covered by a group noun.
    group_tok: Vec<bool>,
    /// Per token: an age marker starts there.
    age_tok: Vec<bool>,
}

impl<'a> Doc<'a> {
    fn new(lex: &'a Lexicon, text: &'a str) -> Doc<'a> {
        let folded = fold(text);
        let seg = segment(&folded.text);
        let mut hits = lex.find(&folded.text, &seg, |_| true);
        // Context terms only gate the encoder; no rule counts them.
        let context = hits.iter().any(|h| h.kind == Kind::Context);
        hits.retain(|h| h.kind != Kind::Context);
        dedup(&mut hits);
        // A literal phrase ("heat wave") silences metaphors inside it.
        let literal: Vec<(usize, usize)> = hits
            .iter()
            .filter(|h| h.kind == Kind::NonMetaphor)
            .map(|h| (h.start, h.end))
            .collect();
        hits.retain(|h| {
            !(is_metaphor(h.kind) && literal.iter().any(|&(s, e)| h.start < e && s < h.end))
        });
        // An off-topic phrase ("data migration") silences migration terms
        // inside it.
        let off_topic: Vec<(usize, usize)> = hits
            .iter()
            .filter(|h| h.kind == Kind::NotMigration)
            .map(|h| (h.start, h.end))
            .collect();
        hits.retain(|h| {
            !(h.kind.is_migration() && off_topic.iter().any(|&(s, e)| h.start < e && s < h.end))
        });
        let n = seg.sentences;
        let doc_tokens = seg.tokens.len();
        let mut doc = Doc {
            text,
            folded,
            seg,
            lex,
            hits,
            context,
            migration: vec![false; n],
            counter: vec![None; n],
            reported: vec![false; n],
            target_group: vec![None; n],
            neg_tok: vec![usize::MAX; doc_tokens],
            mig_tok: vec![false; doc_tokens],
            group_tok: vec![false; doc_tokens],
            age_tok: vec![false; doc_tokens],
        };
        for (i, h) in doc.hits.iter().enumerate() {
            let s = doc.seg.tokens[h.t0].sent as usize;
            match h.kind {
                k if k.is_migration() => {
                    doc.migration[s] = true;
                    doc.mig_tok[h.t0..=h.t1].iter_mut().for_each(|m| *m = true);
                    if k == Kind::Group {
                        doc.group_tok[h.t0..=h.t1]
                            .iter_mut()
                            .for_each(|m| *m = true);
                    }
                }
                Kind::Counter => {
                    doc.counter[s].get_or_insert(i);
                }
                Kind::Quote => doc.reported[s] = true,
                Kind::TargetGroup => {
                    doc.target_group[s].get_or_insert(i);
                }
                Kind::Negation => doc.neg_tok[h.t0] = i,
                Kind::Age => doc.age_tok[h.t0] = true,
                _ => {}
            }
        }
        doc
    }

    fn sent(&self, h: &Hit) -> usize {
        self.seg.tokens[h.t0].sent as usize
    }

    fn entry_weight(&self, h: &Hit) -> f32 {
        self.lex.entries[h.entry as usize].weight
    }

    /// Migration mentioned in sentence `s` or a neighbour.
    fn context(&self, s: usize) -> bool {
        let get = |i: usize| self.migration.get(i).copied().unwrap_or(false);
        get(s) || (s > 0 && get(s - 1)) || get(s + 1)
    }

    /// A migration term within `dist` tokens of hit `h` in its sentence (or
    /// overlapping it, as in the compound `Flüchtlingswelle`).
    fn migration_near(&self, h: &Hit, dist: usize) -> bool {
        let s = self.seg.tokens[h.t0].sent;
        let from = h.t0.saturating_sub(dist);
        let to = (h.t1 + dist + 1).min(self.mig_tok.len());
        (from..to).any(|t| self.mig_tok[t] && self.seg.tokens[t].sent == s)
    }

    /// Hits whose first token lies in `from..to` (hits are sorted by `t0`).
    fn hits_starting_in(&self, from: usize, to: usize) -> impl Iterator<Item = (usize, &Hit)> {
        let lo = self.hits.partition_point(|h| h.t0 < from);
        let hi = self.hits.partition_point(|h| h.t0 < to);
        self.hits[lo..hi.max(lo)]
            .iter()
            .enumerate()
            .map(move |(i, h)| (lo + i, h))
    }

    /// Negator in sentence `s` with its token in `from..to`.
    fn negation_in(&self, s: usize, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.neg_tok.len());
        (from..to)
            .map(|t| self.neg_tok[t])
            .find(|&i| i != usize::MAX && self.sent(&self.hits[i]) == s)
    }

    /// Verdict for a cue starting at token `t0`: a negator up to three
    /// tokens before it cancels it; so does counter-speech in the sentence
    /// when `counter_applies` (hostile cues), which also get the
    /// reported-speech discount.
    fn verdict(&self, t0: usize, counter_applies: bool) -> Verdict {
        self.verdict_with(t0, &[(t0.saturating_sub(3), t0)], counter_applies)
    }

    /// Like [`Doc::verdict`] with explicit negator token ranges.
    fn verdict_with(&self, t0: usize, neg: &[(usize, usize)], counter_applies: bool) -> Verdict {
        let s = self.seg.tokens[t0].sent as usize;
        if counter_applies {
            if let Some(c) = self.counter[s] {
                return Verdict::Cancelled(c);
            }
        }
        if let Some(n) = neg
            .iter()
            .find_map(|&(from, to)| self.negation_in(s, from, to))
        {
            return Verdict::Cancelled(n);
        }
        if counter_applies && (self.reported[s] || self.seg.tokens[t0].quoted) {
            return Verdict::Counts(REPORTED);
        }
        Verdict::Counts(1.0)
    }

    fn span(&self, start: usize, end: usize, cue: &str, cue_type: CueType) -> EvidenceSpan {
        let (start, end) = self.folded.orig_span(self.text, start, end);
        EvidenceSpan {
            start,
            end,
            cue: cue.to_string(),
            cue_type: Some(cue_type),
        }
    }

    fn hit_span(&self, h: &Hit, cue_type: CueType) -> EvidenceSpan {
        let cue = &self.lex.entries[h.entry as usize].cue;
        self.span(h.start, h.end, cue, cue_type)
    }

    /// Whether sentence `s` has a hit of a kind accepted by `pred`.
    fn sentence_has(&self, s: usize, pred: impl Fn(Kind) -> bool) -> bool {
        // Tokens are in sentence order and hits in token order: find the
        // sentence's token range, then its hits.
        let first = self.seg.tokens.partition_point(|t| (t.sent as usize) < s);
        let last = self.seg.tokens.partition_point(|t| (t.sent as usize) <= s);
        self.hits_starting_in(first, last)
            .any(|(_, h)| pred(h.kind))
    }

    fn words(&self) -> usize {
        self.seg.tokens.len()
    }

    fn is_number_token(&self, t: usize) -> bool {
        let tok = &self.seg.tokens[t];
        self.folded.text[tok.start..tok.end]
            .bytes()
            .all(|b| b.is_ascii_digit())
    }
}

fn is_metaphor(k: Kind) -> bool {
    matches!(
        k,
        Kind::Water | Kind::Animal | Kind::Invasion | Kind::Disease
    )
}

/// Collects weighted cues and their evidence for one label.
#[derive(Default)]
struct Acc {
    weight: f32,
    spans: Vec<EvidenceSpan>,
    /// Counter hits already recorded.
    countered: Vec<usize>,
}

impl Acc {
    fn add(&mut self, doc: &Doc<'_>, verdict: Verdict, w: f32, span: EvidenceSpan) {
        match verdict {
            Verdict::Counts(f) => {
                self.weight += w * f;
                self.push(span);
            }
            Verdict::Cancelled(c) => {
                // Bounded: evidence is capped anyway.
                if self.countered.len() < MAX_EVIDENCE && !self.countered.contains(&c) {
                    self.countered.push(c);
                    let h = doc.hits[c];
                    self.push(doc.hit_span(&h, CueType::CounterSpeech));
                }
            }
        }
    }

    fn push(&mut self, span: EvidenceSpan) {
        if self.spans.len() < MAX_EVIDENCE {
            self.spans.push(span);
        }
    }
}

/// Full classification with one lexicon.
pub(crate) fn classify(lex: &Lexicon, text: &str) -> Labels {
    classify_with_context(lex, text).0
}

/// [`classify`], and whether `text` holds a context term (found in the
/// same automaton pass; the encoder's first stage uses it).
pub(crate) fn classify_with_context(lex: &Lexicon, text: &str) -> (Labels, bool) {
    let doc = Doc::new(lex, text);
    let lf = length_factor(doc.words());

    // Relevance.
    let mut rel = Acc::default();
    for h in doc.hits.iter().filter(|h| h.kind.is_migration()) {
        rel.add(
            &doc,
            Verdict::Counts(1.0),
            doc.entry_weight(h),
            doc.hit_span(h, CueType::MigrationTerm),
        );
    }
    let relevance = relevance_score(rel.weight, doc.words());

    let (collective, stereotypes) = collective(&doc);
    let (hate, threat_from_metaphors) = hate(&doc, stereotypes);
    let frame = frame(&doc, relevance, threat_from_metaphors, lf);
    let solutions = solutions(&doc, lf);

    let labels = Labels {
        model_version: String::new(),
        relevance: Relevance {
            score: relevance,
            evidence: rel.spans,
        },
        hate,
        collective_labelling: CollectiveLabelling {
            score: sat(collective.weight / lf, 0.9),
            spans: collective.spans,
        },
        frame,
        solutions,
        language_support: LanguageSupport::LexiconOnly,
        attributions: Vec::new(),
    };
    (labels, doc.context)
}

/// A generic claim whose predicate is hostile ("migrants are all
/// criminals"): collective labelling that is also a hateful stereotype.
struct Stereotype {
    verdict: Verdict,
    span: EvidenceSpan,
}

/// Collective labelling, plus the generic claims with hostile predicates.
fn collective(doc: &Doc<'_>) -> (Acc, Vec<Stereotype>) {
    let mut acc = Acc::default();
    let mut stereotypes = Vec::new();
    // The group noun starting within `range` tokens after `h`, same sentence.
    let group_after = |h: &Hit, range: usize| {
        doc.hits_starting_in(h.t1 + 1, h.t1 + range + 1)
            .map(|(_, g)| g)
            .find(|g| matches!(g.kind, Kind::Group | Kind::Label) && doc.sent(g) == doc.sent(h))
    };
    let mut used_predicates = vec![false; doc.hits.len()];
    for h in &doc.hits {
        let s = doc.sent(h);
        let w = doc.entry_weight(h);
        match h.kind {
            Kind::Label => {
                let v = doc.verdict(h.t0, true);
                acc.add(doc, v, 0.8 * w, doc.hit_span(h, CueType::GenericClaim));
            }
            Kind::Group => {
                // "<migrants> are all / always ..."
                let pred = doc.hits_starting_in(h.t1 + 1, h.t1 + 4).find(|(i, p)| {
                    p.kind == Kind::Generic && doc.sent(p) == s && !used_predicates[*i]
                });
                // Weight-0 predicates are stop phrases ("all over"): the
                // longest match wins de-duplication and then counts nothing.
                if let Some((pi, p)) = pred.filter(|(_, p)| doc.entry_weight(p) > 0.0) {
                    used_predicates[pi] = true;
                    // Negators inside the predicate ("don't want to") are
                    // part of the claim; around it they negate it.
                    let v = doc.verdict_with(
                        h.t0,
                        &[(h.t0.saturating_sub(3), p.t0), (p.t1 + 1, p.t1 + 3)],
                        true,
                    );
                    let cue = format!(
                        "{} {}",
                        doc.lex.entries[h.entry as usize].cue,
                        doc.lex.entries[p.entry as usize].cue
                    );
                    let span = doc.span(h.start, p.end, &cue, CueType::GenericClaim);
                    let hostile = doc.hits_starting_in(p.t0, p.t1 + 3).any(|(_, x)| {
                        matches!(x.kind, Kind::Threat | Kind::Dehumanising | Kind::Insult)
                            && doc.sent(x) == s
                    });
                    if hostile && stereotypes.len() < MAX_EVIDENCE {
                        let mut span = span.clone();
                        span.cue_type = Some(CueType::Hate);
                        stereotypes.push(Stereotype { verdict: v, span });
                    }
                    acc.add(doc, v, doc.entry_weight(p), span);
                }
            }
            Kind::Quant | Kind::DemNoun => {
                if let Some(g) = group_after(h, 2) {
                    let (cue_type, base) = if h.kind == Kind::Quant {
                        (CueType::Quantifier, 1.0)
                    } else {
                        (CueType::Demonstrative, 0.7)
                    };
                    let v = doc.verdict(h.t0, true);
                    let cue = format!(
                        "{} {}",
                        doc.lex.entries[h.entry as usize].cue,
                        doc.lex.entries[g.entry as usize].cue
                    );
                    acc.add(doc, v, base * w, doc.span(h.start, g.end, &cue, cue_type));
                }
            }
            Kind::QuantPhrase | Kind::DemPhrase if doc.context(s) => {
                let (cue_type, base) = if h.kind == Kind::QuantPhrase {
                    (CueType::Quantifier, 0.8)
                } else {
                    (CueType::Demonstrative, 0.7)
                };
                let v = doc.verdict(h.t0, true);
                acc.add(doc, v, base * w, doc.hit_span(h, cue_type));
            }
            k if is_metaphor(k) && doc.context(s) => {
                let base = if doc.migration_near(h, 4) { 1.0 } else { 0.5 };
                let v = doc.verdict(h.t0, true);
                acc.add(doc, v, base * w, doc.hit_span(h, metaphor_type(k)));
            }
            _ => {}
        }
    }
    (acc, stereotypes)
}

fn metaphor_type(k: Kind) -> CueType {
    match k {
        Kind::Water => CueType::WaterMetaphor,
        Kind::Animal => CueType::AnimalMetaphor,
        Kind::Disease => CueType::DiseaseMetaphor,
        _ => CueType::InvasionMetaphor,
    }
}

/// Hate label, plus the threat weight contributed by invasion metaphors.
fn hate(doc: &Doc<'_>, stereotypes: Vec<Stereotype>) -> (Hate, f32) {
    let mut hate = Acc::default();
    let mut offensive = Acc::default();
    let mut invasion = 0.0f32;
    // (weight, target) of the strongest contribution.
    let mut best: Option<(f32, &'static str)> = None;
    let mut note = |w: f32, target: &'static str| {
        if w > 0.0 && best.is_none_or(|(b, _)| w > b) {
            best = Some((w, target));
        }
    };
    for h in &doc.hits {
        let s = doc.sent(h);
        let entry = &doc.lex.entries[h.entry as usize];
        // Target from context: migrants first, else a named group.
        let context_target = if doc.context(s) {
            Some("migrants_refugees")
        } else {
            doc.target_group[s].and_then(|i| doc.lex.entries[doc.hits[i].entry as usize].target)
        };
        let v = doc.verdict(h.t0, true);
        let f = match v {
            Verdict::Counts(f) => f,
            Verdict::Cancelled(_) => 0.0,
        };
        match h.kind {
            Kind::Slur => {
                let target = entry.target.unwrap_or("other");
                let w = if entry.hate { 1.5 } else { 1.0 } * entry.weight;
                note(w * f, target);
                let acc = if entry.hate {
                    &mut hate
                } else {
                    &mut offensive
                };
                acc.add(doc, v, w, doc.hit_span(h, CueType::Slur));
            }
            Kind::Dehumanising | Kind::Insult => {
                let Some(target) = context_target else {
                    continue;
                };
                let near = doc.migration[s] || doc.target_group[s].is_some();
                let w = if h.kind == Kind::Dehumanising {
                    1.5
                } else {
                    1.0
                } * entry.weight
                    * if near { 1.0 } else { 0.7 };
                note(w * f, target);
                let acc = if h.kind == Kind::Dehumanising {
                    &mut hate
                } else {
                    &mut offensive
                };
                acc.add(doc, v, w, doc.hit_span(h, CueType::Slur));
            }
            Kind::HatePhrase => {
                let (w, target) = match context_target {
                    Some(t) => (2.0, t),
                    None => (1.0, "other"),
                };
                note(w * entry.weight * f, target);
                hate.add(doc, v, w * entry.weight, doc.hit_span(h, CueType::Hate));
            }
            Kind::Animal | Kind::Disease if doc.context(s) && doc.migration_near(h, 4) => {
                // Vermin and disease metaphors dehumanise.
                note(0.5 * entry.weight * f, "migrants_refugees");
                hate.add(
                    doc,
                    v,
                    0.5 * entry.weight,
                    doc.hit_span(h, metaphor_type(h.kind)),
                );
            }
            Kind::Invasion if doc.context(s) => invasion += 0.5 * entry.weight * f,
            _ => {}
        }
    }
    for st in stereotypes {
        if let Verdict::Counts(f) = st.verdict {
            note(f, "migrants_refugees");
        }
        hate.add(doc, st.verdict, 1.0, st.span);
    }
    let (hw, ow) = (hate.weight, offensive.weight);
    let score = sat(hw + ow, 0.9);
    let class = if hw >= 1.0 && score >= 0.5 {
        HateClass::Hate
    } else if hw + ow >= 0.8 {
        HateClass::Offensive
    } else {
        HateClass::None
    };
    let mut evidence = hate.spans;
    evidence.extend(offensive.spans);
    evidence.truncate(MAX_EVIDENCE);
    let target = (class != HateClass::None)
        .then(|| best.map(|(_, t)| t.to_string()))
        .flatten();
    (
        Hate {
            score,
            class,
            target,
            evidence,
        },
        invasion,
    )
}

fn frame(doc: &Doc<'_>, relevance: f32, invasion: f32, lf: f32) -> Frame {
    let mut threat = Acc {
        weight: invasion,
        ..Acc::default()
    };
    let mut victim = Acc::default();
    let mut recognition = Acc::default();
    for h in &doc.hits {
        let s = doc.sent(h);
        if !doc.context(s) {
            continue;
        }
        let w = doc.entry_weight(h);
        match h.kind {
            Kind::Threat => {
                let v = doc.verdict(h.t0, true);
                threat.add(doc, v, w, doc.hit_span(h, CueType::Threat));
            }
            Kind::Victim => {
                let v = doc.verdict(h.t0, false);
                victim.add(doc, v, w, doc.hit_span(h, CueType::Victim));
            }
            Kind::Recognition => {
                let v = doc.verdict(h.t0, false);
                recognition.add(doc, v, w, doc.hit_span(h, CueType::Recognition));
            }
            _ => {}
        }
    }

    // Individual people: "Ahmad, 24, from Aleppo", "Ahmad (24)", "24-year-old".
    let (mut named, mut quoted) = (false, false);
    let mut people = 0;
    let tokens = &doc.seg.tokens;
    for t in 0..tokens.len().saturating_sub(1) {
        if people >= 3 {
            break;
        }
        let s = tokens[t].sent as usize;
        if !doc.context(s) {
            continue;
        }
        let Some(name_end) = person_at(doc, t) else {
            continue;
        };
        named = true;
        people += 1;
        let (name_tok, age_tok) = (tokens[t], tokens[name_end]);
        recognition.weight += 1.5;
        recognition.push(doc.span(
            name_tok.start,
            age_tok.end,
            "named_person",
            CueType::Recognition,
        ));
        let near_quote = doc
            .hits
            .iter()
            .any(|q| q.kind == Kind::Quote && doc.sent(q).abs_diff(s) <= 1)
            || tokens
                .iter()
                .any(|k| k.quoted && (k.sent as usize).abs_diff(s) <= 1);
        if near_quote {
            quoted = true;
            recognition.weight += 1.0;
        }
    }
    // "a refugee told us", "izbjeglica kaže": a migrant's own voice.
    for q in doc.hits.iter().filter(|q| q.kind == Kind::Quote) {
        let s = doc.seg.tokens[q.t0].sent;
        // Only right before the verb ("the refugees said", "izbjeglica
        // kaže"): further back it is often part of a name ("the
        // Commissariat for Refugees said").
        // Nothing but a space between them: `migranata", rekao je` ends a
        // quotation about migrants, it is not a migrant speaking.
        let voice = q.t0 > 0 && doc.group_tok[q.t0 - 1] && {
            let (g, v) = (doc.seg.tokens[q.t0 - 1], doc.seg.tokens[q.t0]);
            g.sent == s && !g.quoted && doc.folded.text[g.end..v.start].trim().is_empty()
        };
        if voice {
            quoted = true;
            recognition.weight += 0.7;
            recognition.push(doc.hit_span(q, CueType::Recognition));
        }
    }

    let detected = relevance >= 0.5;
    let mut evidence = threat.spans;
    evidence.extend(victim.spans);
    evidence.extend(recognition.spans);
    evidence.truncate(MAX_EVIDENCE);
    Frame {
        threat: sat(threat.weight / lf, FRAME_K),
        victim: sat(victim.weight / lf, FRAME_K),
        recognition: sat(recognition.weight / lf, FRAME_K),
        migrants_quoted: (detected || quoted).then_some(quoted),
        migrants_named: (detected || named).then_some(named),
        evidence,
    }
}

/// A capitalised word followed by an age: `Name, 24,` / `Name (24)` /
/// `Name, 24-year-old` (age marker from the lexicon). Returns the age token.
fn person_at(doc: &Doc<'_>, t: usize) -> Option<usize> {
    let tokens = &doc.seg.tokens;
    let text = &doc.folded.text;
    // "24-year-old Ahmad", "24-godišnji Ahmad": number, age marker, name.
    if doc.is_number_token(t) && doc.age_tok.get(t + 1).copied().unwrap_or(false) {
        let name = *tokens.get(t + 2)?;
        let first = doc.text[doc.folded.orig_offset(name.start)..]
            .chars()
            .next()?;
        let years: u32 = text[tokens[t].start..tokens[t].end].parse().ok()?;
        return (first.is_uppercase() && (1..=99).contains(&years) && name.sent == tokens[t].sent)
            .then_some(t + 2);
    }
    let (name, age) = (tokens[t], *tokens.get(t + 1)?);
    if name.sent != age.sent || !doc.is_number_token(t + 1) {
        return None;
    }
    let first = doc.text[doc.folded.orig_offset(name.start)..]
        .chars()
        .next()?;
    if !first.is_uppercase() || name.end - name.start < 2 || doc.is_number_token(t) {
        return None;
    }
    if !matches!(text[name.end..age.start].trim(), "," | "(") {
        return None;
    }
    let years: u32 = text[age.start..age.end].parse().ok()?;
    if !(1..=99).contains(&years) {
        return None;
    }
    // After the age: a comma, a closing bracket, an age marker or the end.
    let after_age = match tokens.get(t + 2) {
        Some(next) => text[age.end..next.start].trim_start(),
        None => "",
    };
    let marker = doc.age_tok.get(t + 2).copied().unwrap_or(false);
    (after_age.is_empty()
        || after_age.starts_with(',')
        || after_age.starts_with(')')
        || after_age.starts_with('-')
        || marker)
        .then_some(t + 1)
}

fn solutions(doc: &Doc<'_>, lf: f32) -> Solutions {
    let mut response = Acc::default();
    let mut results = Acc::default();
    for h in &doc.hits {
        let w = doc.entry_weight(h);
        match h.kind {
            Kind::Solution => {
                response.add(
                    doc,
                    Verdict::Counts(1.0),
                    w,
                    doc.hit_span(h, CueType::Solutions),
                );
            }
            Kind::Result => {
                results.add(
                    doc,
                    Verdict::Counts(1.0),
                    w,
                    doc.hit_span(h, CueType::Solutions),
                );
            }
            // "helped 120 people", "40 families found work": people reached,
            // when the sentence talks about a response or its results (a
            // bare count of arrivals is not evidence of anything).
            Kind::ResultNoun
                if h.t0 > 0
                    && doc.is_number_token(h.t0 - 1)
                    && doc.sentence_has(doc.sent(h), |k| {
                        matches!(k, Kind::Result | Kind::Solution)
                    }) =>
            {
                let num = doc.seg.tokens[h.t0 - 1];
                let cue = format!("<number> {}", doc.lex.entries[h.entry as usize].cue);
                results.add(
                    doc,
                    Verdict::Counts(1.0),
                    w,
                    doc.span(num.start, h.end, &cue, CueType::Solutions),
                );
            }
            _ => {}
        }
    }
    let (r, e) = (response.weight, results.weight);
    let score = if r > 0.0 && e > 0.0 {
        sat((r + 1.5 * e) / lf, 0.45)
    } else {
        0.35 * sat((r + e) / lf, 0.5)
    };
    let mut evidence = response.spans;
    evidence.extend(results.spans);
    evidence.sort_by_key(|s| s.start);
    evidence.truncate(MAX_EVIDENCE);
    Solutions { score, evidence }
}
