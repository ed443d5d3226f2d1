//! [`CascadeClassifier`]: the lexicon and rules, a fast n-gram model, and
//! the fine-tuned encoder with its heads, each run only where the one before
//! it says it is needed.
//!
//! Per document:
//! 1. **Lexicon and rules** (tens of thousands of documents per second):
//!    evidence spans, cue types, migration and context terms, and the
//!    sentence signals (counter-speech, negation, quotation).
//! 2. **Fast model** ([`crate::fast`]): hashed character and word n-grams,
//!    one logistic regression per label, on the whole text (relevance) and
//!    on each window of a long text (abusive).
//! 3. **Scope.** A text is *in scope* for migration monitoring when it
//!    names migration itself (lexicon relevance at the floor, a context term
//!    such as a border or a camp, or the fast relevance at its gate; for a
//!    text longer than one window, the lexicon or the fast relevance at its
//!    decision threshold), **or
//!    when the article or thread it belongs to does** (the input's
//!    `context`: a comment under a story about a reception centre is about
//!    migration even when it says only "send them all back").
//! 4. **Encoder.** It runs on texts in scope and on texts the fast model or
//!    the lexicon flags as possibly abusive, whatever their topic: hate
//!    against Roma or gay people in a football thread is still hate. Short
//!    texts (comments, posts) are one unit; long ones are cut into windows
//!    of whole sentences (about a hundred tokens), of which at most
//!    `max_units` are encoded: the lead (of a text in scope), windows with
//!    migration terms, windows the fast model flagged, and the neighbours
//!    of migration windows. A window of a long text is flagged at the fast
//!    model's decision threshold, a one-unit text at its recall gate. A long
//!    text in scope by its own words is probed first (lead, first window
//!    naming the group, the fast model's most relevant window, flagged
//!    windows); its other windows are encoded in a second round of the same
//!    batch, only when a probe unit reaches [`PROBE_FLOOR`].
//! 5. **Heads** score each unit; hostile labels (hate, abusive, collective)
//!    take the strongest unit, frames, solutions and relevance the mean of
//!    the strongest few. Probabilities are rescaled so that each head's
//!    calibrated threshold for the document's language sits at 0.5. A text
//!    that names no migration term (in scope through the fast model alone)
//!    and has no migration context is called relevant only when the
//!    relevance head reaches [`UNNAMED_RELEVANCE_FLOOR`].
//! 6. **Out of scope, not flagged:** the encoder never sees the text; it
//!    keeps `hate: none`, no collective labelling and no frames. The fast
//!    model's flag threshold is set for high recall on validation data, so
//!    what this stage loses is measured (BENCHMARKS.md) and small.
//!
//! Inference runs on the caller's thread (the pipeline's classify thread,
//! never an async worker); the encoder parallelises inside a batch.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use mediawatch_core::labels::{CueType, EvidenceSpan, HateClass, Labels, LanguageSupport};
use mediawatch_embed::{EmbedError, Encoder};

use crate::fast::{FastModel, Features, FAST_FILE};
use crate::heads::{rescale, HeadSet, HEAD_NAMES, TARGET_GROUPS};
use crate::lexicon::{Kind, Lexicon};
use crate::normalize::fold;
use crate::text::segment;
use crate::{
    guess_language, rules, truncate, Classifier, ClassifyError, ClassifyInput, LexiconClassifier,
};

/// Damping of hostile heads in a sentence with counter-speech/condemnation.
const COUNTER_DAMP: f32 = 0.2;
/// Damping in a sentence with a negator.
const NEGATION_DAMP: f32 = 0.5;
/// Damping in reported speech or quotation (same as the rules' discount).
const REPORTED_DAMP: f32 = 0.6;
/// Most units averaged for frames, solutions and relevance.
const TOP_K: usize = 3;
/// One averaged unit per this many encoded units (then at most [`TOP_K`]),
/// so that in a short text the one framed unit is not diluted.
const UNITS_PER_K: usize = 4;
/// Windows always kept from the start of a long document.
const LEAD: usize = 2;
/// A text up to this many bytes is one unit (comments, posts, tweets,
/// short news items); longer texts are cut into windows.
pub const SHORT_TEXT_BYTES: usize = 700;
/// Target size of a window of sentences, in bytes (about 100 tokens).
const WINDOW_BYTES: usize = 450;
/// Longest unit passed to the encoder, in bytes (a single sentence longer
/// than this is cut at a char boundary; the encoder truncates tokens too).
const MAX_UNIT_BYTES: usize = 1500;
/// Characters of a context (parent title and lead) that are read.
const MAX_CONTEXT_BYTES: usize = 2000;
/// A long text in scope through its own words is first encoded by its probe
/// (the lead window, the first window naming the group, the window the
/// fast model finds most relevant and any flagged window); the rest of its windows are encoded only when a probe unit's
/// relevance, on the 0.5 scale, reaches this. Chosen with `cascade_bench`
/// (BENCHMARKS.md): web pages that merely passed the scope test stop after
/// the probe, migration articles nearly all go on.
const PROBE_FLOOR: f32 = 0.3;

/// Text in a batch (bytes) from which the cheap stages run on several
/// threads: below it, starting threads costs more than it saves.
const PARALLEL_FIRST_STAGE_BYTES: usize = 64 * 1024;

/// Units handed to the encoder per call.
const ENCODE_CHUNK: usize = 256;

/// Settings of a [`CascadeClassifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct CascadeOptions {
    /// Units per encoder forward pass (see `E5Options::batch_size`).
    pub batch_size: usize,
    /// Most units (windows of a long text) encoded per document.
    pub max_units: usize,
    /// Lexicon relevance at or above which a text is in scope.
    pub relevance_floor: f32,
    /// Threshold overrides per head name (all languages).
    pub thresholds: BTreeMap<String, f32>,
    /// Damp hostile heads in units where the rules see counter-speech,
    /// negation or quotation (the lexicon's own cancellation). Off by
    /// default: the fine-tuned encoder learned counter-speech, negation
    /// and quotation from the written data, and damping on top of it cost
    /// 13 points of abusive macro-F1 on Davidson's test split (0.765 with,
    /// 0.897 without) and 4 on the written Croatian comments, mostly on
    /// tweets that quote ("RT @user: ...") or negate ("not even").
    pub damping: bool,
    /// Threads for the cheap stages of a large batch (0: one per core;
    /// `[classifier] threads`, like the encoder's).
    pub threads: usize,
}

impl Default for CascadeOptions {
    fn default() -> Self {
        Self {
            batch_size: 1,
            max_units: 12,
            relevance_floor: 0.1,
            thresholds: BTreeMap::new(),
            damping: false,
            threads: 0,
        }
    }
}

/// A sentence of the original text with what the rules see in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceInfo {
    /// Byte offset of the sentence's first word in the original text.
    pub start: usize,
    /// Byte offset one past its end (trailing punctuation included).
    pub end: usize,
    /// Holds a migration term.
    pub migration: bool,
    /// Holds a counter-speech or condemnation cue.
    pub counter: bool,
    /// Holds a negator.
    pub negation: bool,
    /// Reported speech (a reporting verb) or mostly inside quotation marks.
    pub reported: bool,
}

impl SentenceInfo {
    /// The span `start..end` with no rule signal yet.
    fn plain(start: usize, end: usize) -> Self {
        Self {
            start,
            end,
            migration: false,
            counter: false,
            negation: false,
            reported: false,
        }
    }
}

/// Cuts `text` into sentences (the rules' splitter, mapped back to original
/// byte offsets) and marks the rule signals in each.
pub(crate) fn analyse_sentences(lex: &Lexicon, text: &str) -> Vec<SentenceInfo> {
    let folded = fold(text);
    let seg = segment(&folded.text);
    let mut out: Vec<SentenceInfo> = Vec::with_capacity(seg.sentences);
    let mut quoted_tokens: Vec<(usize, usize)> = vec![(0, 0); seg.sentences];
    for tok in &seg.tokens {
        let s = tok.sent as usize;
        let (start, end) = folded.orig_span(text, tok.start, tok.end);
        if let Some(q) = quoted_tokens.get_mut(s) {
            q.0 += 1;
            q.1 += tok.quoted as usize;
        }
        while out.len() <= s {
            out.push(SentenceInfo::plain(start, end));
        }
        if let Some(info) = out.get_mut(s) {
            info.end = info.end.max(end);
        }
    }
    // Take trailing punctuation and closing quotes into the sentence.
    let n = out.len();
    for i in 0..n {
        let limit = out.get(i + 1).map_or(text.len(), |next| next.start);
        let mut end = out[i].end;
        if let Some(rest) = text.get(end..limit) {
            for c in rest.chars() {
                if c.is_whitespace() {
                    break;
                }
                end += c.len_utf8();
            }
        }
        out[i].end = end.min(limit).max(out[i].start);
    }
    let hits = lex.find(&folded.text, &seg, |k| {
        k.is_migration() || matches!(k, Kind::Counter | Kind::Negation | Kind::Quote)
    });
    for h in hits {
        let Some(tok) = seg.tokens.get(h.t0) else {
            continue;
        };
        let Some(info) = out.get_mut(tok.sent as usize) else {
            continue;
        };
        match h.kind {
            Kind::Counter => info.counter = true,
            Kind::Negation => info.negation = true,
            Kind::Quote => info.reported = true,
            k if k.is_migration() => info.migration = true,
            _ => {}
        }
    }
    for (info, (all, quoted)) in out.iter_mut().zip(quoted_tokens) {
        if all > 0 && quoted * 2 > all {
            info.reported = true;
        }
    }
    // Quoting hate and condemning it in the next (or previous) sentence is
    // reporting on hate, not hate: the condemnation covers the quote.
    let counter: Vec<bool> = out.iter().map(|s| s.counter).collect();
    for (i, info) in out.iter_mut().enumerate() {
        let near = (i > 0 && counter[i - 1]) || counter.get(i + 1).copied().unwrap_or(false);
        if info.reported && near {
            info.counter = true;
        }
    }
    out
}

/// A unit the encoder sees: a run of whole sentences.
#[derive(Debug, Clone, PartialEq)]
struct Unit {
    start: usize,
    end: usize,
    migration: bool,
    counter: bool,
    negation: bool,
    reported: bool,
}

impl Unit {
    fn damp(&self) -> f32 {
        let mut f = 1.0;
        if self.counter {
            f *= COUNTER_DAMP;
        }
        if self.negation {
            f *= NEGATION_DAMP;
        }
        if self.reported {
            f *= REPORTED_DAMP;
        }
        f
    }
}

/// Groups consecutive sentences into windows of about [`WINDOW_BYTES`];
/// a short text is one window.
fn windows(text: &str, sents: &[SentenceInfo]) -> Vec<Unit> {
    if text.len() <= SHORT_TEXT_BYTES || sents.is_empty() {
        let start = sents.first().map_or(0, |s| s.start);
        let end = sents.last().map_or(text.len(), |s| s.end).max(start);
        return vec![Unit {
            start,
            end,
            migration: sents.iter().any(|s| s.migration),
            // In one short text the signals are decided per sentence by
            // the rules; a unit is damped only when all its sentences are.
            counter: !sents.is_empty() && sents.iter().all(|s| s.counter),
            negation: !sents.is_empty() && sents.iter().all(|s| s.negation),
            reported: !sents.is_empty() && sents.iter().all(|s| s.reported),
        }];
    }
    let mut out: Vec<Unit> = Vec::new();
    let mut cur: Option<(Unit, usize)> = None;
    for s in sents {
        match cur.as_mut() {
            Some((u, n)) if s.end.saturating_sub(u.start) <= WINDOW_BYTES => {
                u.end = s.end;
                u.migration |= s.migration;
                u.counter &= s.counter;
                u.negation &= s.negation;
                u.reported &= s.reported;
                *n += 1;
            }
            _ => {
                if let Some((u, _)) = cur.take() {
                    out.push(u);
                }
                cur = Some((
                    Unit {
                        start: s.start,
                        end: s.end,
                        migration: s.migration,
                        counter: s.counter,
                        negation: s.negation,
                        reported: s.reported,
                    },
                    1,
                ));
            }
        }
    }
    if let Some((u, _)) = cur {
        out.push(u);
    }
    out
}

/// Which windows to encode: the lead, then windows with migration terms
/// (when the text is in scope), then flagged windows, then the neighbours
/// of the migration windows, at most `max`; returned in text order.
///
/// Windows that neither name the group, nor sit next to one that does, nor
/// look abusive are not encoded: in a long article they are the sport
/// results and the weather, and on a web page that merely passed the scope
/// test they were most of the encoder's work (the WCXB pages: 2.1 windows
/// encoded per page with every window of an in-scope page, see
/// BENCHMARKS.md).
fn select(units: &[Unit], flagged: &[bool], in_scope: bool, max: usize) -> Vec<usize> {
    // The lead frames a text about migration; a text out of scope is
    // encoded for its flagged windows alone (the lead only when the
    // lexicon, not a window, raised the flag).
    let lead = if in_scope || !flagged.iter().any(|f| *f) {
        LEAD
    } else {
        0
    };
    let mut chosen: Vec<usize> = (0..units.len().min(lead).min(max)).collect();
    let migration = |i: usize| units.get(i).is_some_and(|u| u.migration);
    let passes: [&dyn Fn(usize) -> bool; 3] = [
        &|i| in_scope && units[i].migration,
        &|i| flagged.get(i).copied().unwrap_or(false),
        &|i| in_scope && (migration(i + 1) || (i > 0 && migration(i - 1))),
    ];
    for pass in passes {
        for i in 0..units.len() {
            if chosen.len() >= max {
                break;
            }
            if pass(i) && !chosen.contains(&i) {
                chosen.push(i);
            }
        }
    }
    chosen.sort_unstable();
    chosen
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Mean of the `k` largest values (all of them when fewer).
fn top_k_mean(values: &[f32], k: usize) -> f32 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    let k = k.min(v.len()).max(1);
    v[..k].iter().sum::<f32>() / k as f32
}

/// Where a document stands after the cheap stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Route {
    /// In migration scope through its own words.
    pub own_scope: bool,
    /// In migration scope through its context (parent article or thread).
    pub context_scope: bool,
    /// Flagged as possibly abusive by the fast model or the lexicon.
    pub flagged: bool,
    /// Units sent to the encoder (0: decided by the cheap stages).
    pub encoded_units: usize,
}

/// The encoder, heads, fast model and lexicon as one [`Classifier`] (see
/// the module docs).
pub struct CascadeClassifier {
    lexicon: LexiconClassifier,
    encoder: Arc<dyn Encoder>,
    heads: HeadSet,
    fast: FastModel,
    version: String,
    opts: CascadeOptions,
    /// `opts.threads` resolved once (0: the cores), for the cheap stages.
    threads: usize,
}

impl std::fmt::Debug for CascadeClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CascadeClassifier")
            .field("version", &self.version)
            .field("encoder", &self.encoder.name())
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// Relevance (on the 0.5 scale) that a text must reach to be called about
/// migration when it names no migration term (no lexicon term at the
/// floor, no context term in a short text) and sits under no migration
/// story. The relevance head alone then decides, and where it is unsure it
/// calls removal firms, employee relocation or a four-word page title
/// migration. Chosen on the written sets' validation rows (relevance F1,
/// grid of 0.05: 0.889 without the floor, 0.915 at 0.85; precision 0.83 ->
/// 0.90, recall 0.96 -> 0.93; BENCHMARKS.md).
const UNNAMED_RELEVANCE_FLOOR: f32 = 0.85;

/// The text's own relevance, held under 0.5 when the text names no
/// migration term and the head is below [`UNNAMED_RELEVANCE_FLOOR`].
fn unnamed_relevance(own: f32, named: bool) -> f32 {
    if named || own >= UNNAMED_RELEVANCE_FLOOR {
        own
    } else {
        own.min(0.49)
    }
}

/// One document's work in a batch.
struct Pending {
    lang: Option<String>,
    support: LanguageSupport,
    lexicon: Labels,
    units: Vec<Unit>,
    /// Per unit: the fast model's (hate, abusive) probabilities.
    fast_units: Vec<(f32, f32)>,
    /// Indices into `units` that were encoded, ascending.
    selected: Vec<usize>,
    /// Selected units held back until the probe (`selected`) shows the text
    /// is about migration; empty when there is no probe.
    deferred: Vec<usize>,
    /// Per selected unit, its row in the batch's embeddings.
    rows: Vec<usize>,
    route: Route,
    /// Context relevance on the 0.5 scale (0 without a context).
    context_relevance: f32,
    /// Fast relevance on the 0.5 scale.
    fast_relevance: f32,
    /// The text names migration itself: a lexicon term at the floor, or
    /// (for a short text) a context term.
    named: bool,
}

impl CascadeClassifier {
    /// A classifier over `encoder`, `heads` and `fast`. `version` is the
    /// model version stamped on labels. Fails when the heads were trained
    /// on another encoder.
    pub fn new(
        encoder: Arc<dyn Encoder>,
        heads: HeadSet,
        fast: FastModel,
        version: String,
        opts: CascadeOptions,
    ) -> Result<Self, ClassifyError> {
        if heads.dim != encoder.dim() {
            return Err(ClassifyError::Model {
                model: version,
                reason: format!(
                    "heads were trained on {} ({}-d) but the encoder {} gives {}-d vectors: retrain with `mediawatch train`",
                    heads.encoder,
                    heads.dim,
                    encoder.name(),
                    encoder.dim()
                ),
            });
        }
        if heads.encoder != encoder.name() {
            return Err(ClassifyError::Model {
                model: version,
                reason: format!(
                    "heads were trained on encoder {:?} but {:?} is loaded: retrain with `mediawatch train`",
                    heads.encoder,
                    encoder.name()
                ),
            });
        }
        for name in ["relevance", "abusive"] {
            if fast.head(name).is_none() {
                return Err(ClassifyError::Model {
                    model: version,
                    reason: format!(
                        "the fast model has no {name:?} head: retrain with `mediawatch train`"
                    ),
                });
            }
        }
        // A blended head without its fast counterpart would silently mix
        // in zeros.
        if let Some(name) = heads.blend.keys().find(|n| fast.head(n).is_none()) {
            return Err(ClassifyError::Model {
                model: version,
                reason: format!(
                    "heads.json blends the fast model into {name:?}, which the fast model does not have: retrain with `mediawatch train`"
                ),
            });
        }
        let threads = match opts.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Ok(Self {
            lexicon: LexiconClassifier::new(),
            encoder,
            heads,
            fast,
            version,
            opts,
            threads,
        })
    }

    /// Loads `heads.json` and `fast.bin` from `dir`. The model version is
    /// `mw-<hash>` over the encoder's name and both files, so labels name
    /// the exact models that produced them.
    pub fn load(
        encoder: Arc<dyn Encoder>,
        dir: &Path,
        opts: CascadeOptions,
    ) -> Result<Self, ClassifyError> {
        let (heads, heads_bytes) = HeadSet::load_bytes(dir)?;
        let fast_path = dir.join(FAST_FILE);
        let fast_bytes = std::fs::read(&fast_path).map_err(|e| ClassifyError::Model {
            model: fast_path.display().to_string(),
            reason: format!("cannot read the fast model: {e} (run `mediawatch train`)"),
        })?;
        let fast = FastModel::from_bytes(&fast_bytes, &fast_path.display().to_string())?;
        let version = model_version(encoder.name(), &heads_bytes, &fast_bytes);
        Self::new(encoder, heads, fast, version, opts)
    }

    /// Sends every text to the encoder (gates at zero): what the cheap
    /// stages cost in accuracy is the difference (an ablation, see the
    /// `heldout` example).
    pub fn open_gates(&mut self) {
        for name in ["relevance", "abusive"] {
            let g = self.heads.fast.entry(name.to_string()).or_default();
            g.gate = 0.0;
            g.lang_gates.clear();
        }
    }

    /// The heads in use.
    pub fn heads(&self) -> &HeadSet {
        &self.heads
    }

    /// The fast model in use.
    pub fn fast(&self) -> &FastModel {
        &self.fast
    }

    fn threshold(&self, head: &str, lang: Option<&str>) -> f32 {
        if let Some(t) = self.opts.thresholds.get(head) {
            return *t;
        }
        self.heads
            .heads
            .get(head)
            .map_or(0.5, |h| h.threshold_for(lang))
    }

    fn support(&self, lang: Option<&str>) -> LanguageSupport {
        let labels = self
            .heads
            .heads
            .iter()
            .filter(|(name, _)| HEAD_NAMES.contains(&name.as_str()))
            .map(|(_, h)| h);
        let mut any = false;
        let mut all_trained = true;
        for h in labels {
            any = true;
            all_trained &= h.trained_for(lang);
        }
        let all_trained = any && all_trained;
        if all_trained {
            LanguageSupport::Trained
        } else {
            // A multilingual encoder without labelled data in this
            // language for at least one head: lower confidence.
            LanguageSupport::LexiconOnly
        }
    }

    /// The group the `target:<group>` heads score highest for `x`.
    fn target_of(&self, x: &[f32]) -> Option<String> {
        TARGET_GROUPS
            .iter()
            .filter_map(|g| self.heads.prob(&format!("target:{g}"), x).map(|p| (*g, p)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(g, _)| g.to_string())
    }

    /// Whether any head saw training data in `lang`.
    fn any_trained(&self, lang: &str) -> bool {
        self.heads.heads.values().any(|h| h.trained_for(Some(lang)))
    }

    fn model_err(&self, e: EmbedError) -> ClassifyError {
        ClassifyError::Model {
            model: self.version.clone(),
            reason: e.to_string(),
        }
    }

    /// Fast relevance of `text` on the 0.5 scale, and whether it reaches
    /// the scope gate.
    fn fast_relevance(&self, text: &str, lang: Option<&str>) -> (f32, bool) {
        self.fast_relevance_of(&self.fast.features(text), lang)
    }

    /// As [`Self::fast_relevance`], on features already computed.
    fn fast_relevance_of(&self, f: &Features, lang: Option<&str>) -> (f32, bool) {
        let p = self.fast.prob("relevance", f).unwrap_or(0.0);
        let g = self.heads.fast_gate("relevance");
        (rescale(p, g.threshold_for(lang)), p >= g.gate_for(lang))
    }

    /// Whether a context (parent title and lead) puts its children in
    /// migration scope, with its relevance on the 0.5 scale.
    fn context_scope(
        &self,
        context: &str,
        lang: Option<&str>,
    ) -> Result<(bool, f32), ClassifyError> {
        let context = cut(context, MAX_CONTEXT_BYTES);
        let lex_rel = match self.lexicon.pick(context, lang)? {
            Some(lex) => rules::relevance(lex, context),
            None => 0.0,
        };
        let (fast_rel, _) = self.fast_relevance(context, lang);
        // A context is judged on its decision threshold, not on the gate:
        // a whole comment section follows from it.
        let score = lex_rel.max(fast_rel);
        Ok((score >= 0.5, score))
    }

    /// Runs the cheap stages; `Err(labels)` = done without the encoder.
    fn first_stage(
        &self,
        input: &ClassifyInput<'_>,
        contexts: &mut HashMap<String, (bool, f32)>,
    ) -> Result<Result<Pending, Labels>, ClassifyError> {
        let text = truncate(input.text);
        let lang = input
            .lang
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .or_else(|| guess_language(text).map(str::to_string));
        let lex = self.lexicon.pick(text, lang.as_deref())?;
        let covered = lex.is_some();
        let base = lang.as_deref().map(crate::heads::base_lang);
        let trained = base.as_deref().is_some_and(|l| self.any_trained(l));
        // An unknown language with letters is still classified: the encoder is
        // multilingual, and `language_support` says how far to trust it.
        let unknown_with_words = lang.is_none() && text.chars().any(char::is_alphabetic);
        if !(covered || trained || unknown_with_words) {
            return Ok(Err(Labels {
                model_version: self.version.clone(),
                language_support: LanguageSupport::Unsupported,
                ..Labels::default()
            }));
        }
        let support = if covered || trained {
            self.support(lang.as_deref())
        } else {
            LanguageSupport::Unsupported
        };
        let (mut lexicon, context_term, sentences) = match lex {
            Some(lex) => {
                let (labels, context) = rules::classify_with_context(lex, text);
                (labels, context, analyse_sentences(lex, text))
            }
            None => (Labels::default(), false, whole_text_sentence(text)),
        };
        lexicon.model_version = self.version.clone();
        lexicon.language_support = support;

        let (context_scope, context_relevance) =
            match input.context.filter(|c| !c.trim().is_empty()) {
                Some(c) => match contexts.get(c) {
                    Some(v) => *v,
                    None => {
                        let v = self.context_scope(c, lang.as_deref())?;
                        contexts.insert(c.to_string(), v);
                        v
                    }
                },
                None => (false, 0.0),
            };
        let text_features = self.fast.features(text);
        let (fast_relevance, fast_rel_gate) =
            self.fast_relevance_of(&text_features, lang.as_deref());
        let lexicon_scope = lexicon.relevance.score >= self.opts.relevance_floor;
        let own_scope = if text.len() <= SHORT_TEXT_BYTES {
            lexicon_scope || context_term || fast_rel_gate
        } else {
            // A long text offers many chances for a context term (a camp
            // site, a border, a passport) and dilutes the fast model's
            // whole-text score: a context term alone is not enough, and the
            // fast model alone must reach its decision threshold. Measured
            // on the written news joined into articles and on the WCXB
            // pages (`cascade_bench`, BENCHMARKS.md).
            lexicon_scope || fast_relevance >= 0.5
        };

        let units = windows(text, &sentences);
        let abusive_gate = self.heads.fast_gate("abusive");
        let (flag_t, abusive_t) = (
            abusive_gate.gate_for(lang.as_deref()),
            abusive_gate.threshold_for(lang.as_deref()),
        );
        // The recall gate is calibrated on whole texts, nearly all of them
        // one window long (comments, posts, tweets). A long page is read
        // window by window, and each window is another draw at that low
        // gate: measured on the WCXB web pages, 38 % of them had a window
        // above it. A window of a long document is flagged only where the
        // fast model itself calls it abusive.
        let flag_t = if units.len() > 1 {
            flag_t.max(abusive_t)
        } else {
            flag_t
        };
        let mut flagged_units = Vec::with_capacity(units.len());
        let mut fast_units = Vec::with_capacity(units.len());
        // A long text whose scope is its own words is encoded in two steps:
        // passing the scope test on a page about visas or a summer camp is
        // cheap, encoding all its windows is not. Under a migration story
        // (context scope) there is nothing to probe.
        let probed = own_scope
            && !context_scope
            && units.len() > 1
            && self.heads.heads.contains_key("relevance");
        // Per window of a probed text, the fast model's relevance (one of
        // the probe's units).
        let mut fast_rel_units = Vec::with_capacity(if probed { units.len() } else { 0 });
        let mut fast_abusive = 0f32;
        for u in &units {
            // A comment is usually one window spanning the whole text: its
            // features are the ones relevance was scored on.
            let own;
            let f = if u.start == 0 && u.end == text.len() {
                &text_features
            } else {
                own = self.fast.features(text.get(u.start..u.end).unwrap_or(""));
                &own
            };
            let p = self.fast.prob("abusive", f).unwrap_or(0.0);
            let ph = self.fast.prob("hate", f).unwrap_or(0.0);
            fast_abusive = fast_abusive.max(p);
            flagged_units.push(p >= flag_t);
            fast_units.push((ph, p));
            if probed {
                fast_rel_units.push(self.fast.prob("relevance", f).unwrap_or(0.0));
            }
        }
        let lexicon_flag = lexicon.hate.class != HateClass::None;
        let flagged = lexicon_flag || flagged_units.iter().any(|f| *f);
        let route = Route {
            own_scope,
            context_scope,
            flagged,
            encoded_units: 0,
        };
        let fast_abusive = rescale(fast_abusive, abusive_t);
        if !own_scope && !context_scope && !flagged {
            return Ok(Err(self.out_of_scope(
                lexicon,
                fast_relevance,
                fast_abusive,
            )));
        }
        let in_scope = own_scope || context_scope;
        let mut selected = select(&units, &flagged_units, in_scope, self.opts.max_units.max(1));
        let mut deferred = Vec::new();
        if probed {
            let first_migration = selected.iter().copied().find(|&i| units[i].migration);
            let most_relevant = selected
                .iter()
                .copied()
                .max_by(|&a, &b| fast_rel_units[a].total_cmp(&fast_rel_units[b]));
            let (probe, rest): (Vec<usize>, Vec<usize>) = selected.iter().partition(|&&i| {
                i == 0
                    || Some(i) == first_migration
                    || Some(i) == most_relevant
                    || flagged_units.get(i).copied().unwrap_or(false)
            });
            if !probe.is_empty() && !rest.is_empty() {
                selected = probe;
                deferred = rest;
            }
        }
        Ok(Ok(Pending {
            lang,
            support,
            lexicon,
            units,
            fast_units,
            selected,
            deferred,
            rows: Vec::new(),
            route: Route {
                encoded_units: 0,
                ..route
            },
            context_relevance,
            fast_relevance,
            named: lexicon_scope || (context_term && text.len() <= SHORT_TEXT_BYTES),
        }))
    }

    /// Labels of a text that is neither about migration nor flagged.
    fn out_of_scope(&self, mut labels: Labels, fast_relevance: f32, fast_abusive: f32) -> Labels {
        labels.relevance.score = labels.relevance.score.max(fast_relevance).min(0.49);
        labels.hate.class = HateClass::None;
        labels.hate.target = None;
        labels.hate.score = fast_abusive.min(0.49);
        labels.hate.evidence.clear();
        labels.collective_labelling.score = 0.0;
        labels.collective_labelling.spans.clear();
        labels.frame.threat = 0.0;
        labels.frame.victim = 0.0;
        labels.frame.recognition = 0.0;
        labels.frame.evidence.clear();
        labels.solutions.score = 0.0;
        labels.solutions.evidence.clear();
        labels
    }

    /// Whether a probed text goes on to its deferred windows: one probe
    /// unit's relevance reaches [`PROBE_FLOOR`].
    fn probe_passes(&self, p: &Pending, rows: &[Vec<f32>]) -> bool {
        let t = self.threshold("relevance", p.lang.as_deref());
        p.rows.iter().any(|&r| {
            rows.get(r)
                .and_then(|x| self.heads.prob("relevance", x))
                .is_some_and(|prob| rescale(prob, t) >= PROBE_FLOOR)
        })
    }

    fn aggregate(&self, text: &str, p: Pending, rows: &[Vec<f32>]) -> Labels {
        let text = truncate(text);
        let lang = p.lang.as_deref();
        let sel: Vec<&Unit> = p.selected.iter().filter_map(|&i| p.units.get(i)).collect();
        let fast_sel: Vec<(f32, f32)> = p
            .selected
            .iter()
            .map(|&i| p.fast_units.get(i).copied().unwrap_or_default())
            .collect();
        let rows: Vec<&[f32]> = p
            .rows
            .iter()
            .filter_map(|&r| rows.get(r).map(Vec::as_slice))
            .collect();
        let damping = self.opts.damping;
        // The fast model read every unit for hate and abusive in the first
        // stage; a blended framing head needs it again on the few units
        // that were encoded (microseconds beside their encoding).
        let framing_blended = self
            .heads
            .blend
            .keys()
            .any(|h| h != "hate" && h != "abusive");
        let sel_features: Vec<Features> = if framing_blended {
            sel.iter()
                .map(|u| {
                    self.fast
                        .features(text.get(u.start..u.end.min(text.len())).unwrap_or(""))
                })
                .collect()
        } else {
            Vec::new()
        };
        let probs = |head: &str, hostile: bool| -> Vec<f32> {
            let blended = self.heads.blend_weight(head) > 0.0;
            rows.iter()
                .zip(&sel)
                .zip(&fast_sel)
                .enumerate()
                .map(|(k, ((x, u), f))| {
                    // The fast model's probability for this unit, mixed in
                    // with the weight chosen on validation data.
                    let fp = match head {
                        _ if !blended => 0.0,
                        "hate" => f.0,
                        "abusive" => f.1,
                        _ => sel_features
                            .get(k)
                            .and_then(|ft| self.fast.prob(head, ft))
                            .unwrap_or(0.0),
                    };
                    let prob = self.heads.blended_prob(head, x, fp).unwrap_or(0.0);
                    if hostile && damping {
                        prob * u.damp()
                    } else {
                        prob
                    }
                })
                .collect()
        };
        // (score on the 0.5 scale, index of the strongest unit).
        let max_of = |head: &str| -> (f32, Option<usize>) {
            let v = probs(head, true);
            let best = v
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, x)| (i, *x));
            match best {
                Some((i, x)) => (rescale(x, self.threshold(head, lang)), Some(i)),
                None => (0.0, None),
            }
        };
        let mean_of = |head: &str| -> (f32, Option<usize>) {
            let v = probs(head, false);
            let best = v
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            (
                rescale(
                    top_k_mean(&v, v.len().div_ceil(UNITS_PER_K).clamp(1, TOP_K)),
                    self.threshold(head, lang),
                ),
                best,
            )
        };
        let span = |i: Option<usize>, cue: String, cue_type: Option<CueType>| {
            i.and_then(|i| sel.get(i)).map(|u| EvidenceSpan {
                start: u.start,
                end: u.end.min(text.len()),
                cue,
                cue_type,
            })
        };

        let mut labels = p.lexicon;
        labels.model_version = self.version.clone();
        labels.language_support = p.support;

        // Relevance: the text's own (relevance head, else the cheap
        // stages), or the context's when the text sits under a migration
        // story.
        let own = if self.heads.heads.contains_key("relevance") {
            mean_of("relevance").0
        } else {
            labels.relevance.score.max(p.fast_relevance)
        };
        let own = unnamed_relevance(own, p.named);
        labels.relevance.score = own.max(p.context_relevance);
        let relevant = labels.relevance.score >= 0.5;

        let (hate, hate_i) = max_of("hate");
        let (abusive, abusive_i) = max_of("abusive");
        if self.heads.heads.contains_key("hate") && self.heads.heads.contains_key("abusive") {
            let class = if hate >= 0.5 && abusive >= 0.5 {
                HateClass::Hate
            } else if abusive >= 0.5 {
                HateClass::Offensive
            } else {
                HateClass::None
            };
            let lex_target = labels.hate.target.take();
            labels.hate.class = class;
            labels.hate.score = abusive.max(hate.min(abusive.max(0.5)));
            let decisive = if class == HateClass::Hate {
                hate_i
            } else {
                abusive_i
            };
            labels.hate.target = (class != HateClass::None).then(|| {
                // The target heads read the deciding unit; without them,
                // the lexicon's target, else migrants when the text is
                // about migration.
                decisive
                    .and_then(|i| rows.get(i))
                    .and_then(|x| self.target_of(x))
                    .or(lex_target)
                    .unwrap_or_else(|| {
                        if relevant && class == HateClass::Hate {
                            "migrants_refugees"
                        } else {
                            "other"
                        }
                        .to_string()
                    })
            });
            if class != HateClass::None {
                let (i, s) = if class == HateClass::Hate {
                    (hate_i, hate)
                } else {
                    (abusive_i, abusive)
                };
                if let Some(sp) = span(i, format!("unit:{class} {s:.2}"), Some(CueType::Hate)) {
                    labels.hate.evidence.insert(0, sp);
                }
            }
        }

        // Collective labelling, frames and solutions describe how migrants
        // are spoken of: outside migration scope they are not there.
        if self.heads.heads.contains_key("collective") {
            let (c, ci) = max_of("collective");
            labels.collective_labelling.score = if relevant { c } else { c.min(0.49) };
            if labels.collective_labelling.score >= 0.5 {
                if let Some(sp) = span(ci, format!("unit:collective {c:.2}"), None) {
                    labels.collective_labelling.spans.insert(0, sp);
                }
            }
        }
        for (head, cue_type) in [
            ("threat", CueType::Threat),
            ("victim", CueType::Victim),
            ("recognition", CueType::Recognition),
        ] {
            if !self.heads.heads.contains_key(head) {
                continue;
            }
            let (s, i) = mean_of(head);
            let s = if relevant { s } else { s.min(0.49) };
            match head {
                "threat" => labels.frame.threat = s,
                "victim" => labels.frame.victim = s,
                _ => labels.frame.recognition = s,
            }
            if s >= 0.5 {
                if let Some(sp) = span(i, format!("unit:{head} {s:.2}"), Some(cue_type)) {
                    labels.frame.evidence.insert(0, sp);
                }
            }
        }
        if self.heads.heads.contains_key("solutions") {
            let (s, i) = mean_of("solutions");
            let s = if relevant { s } else { s.min(0.49) };
            labels.solutions.score = s;
            if s >= 0.5 {
                if let Some(sp) = span(
                    i,
                    format!("unit:solutions {s:.2}"),
                    Some(CueType::Solutions),
                ) {
                    labels.solutions.evidence.insert(0, sp);
                }
            }
        }
        labels
    }

    /// [`Self::first_stage`] of every input, in order; a large batch is
    /// split over the cores (scoped threads, each with its own cache of
    /// context verdicts). The cheap stages read every document, and
    /// feature extraction of long articles otherwise left the classify
    /// step, the pipeline's serial one, on one core while the encoder
    /// waited (BENCHMARKS.md).
    #[allow(clippy::type_complexity)]
    fn first_stages(
        &self,
        inputs: &[ClassifyInput<'_>],
    ) -> Vec<Result<Result<Pending, Labels>, ClassifyError>> {
        let run = |part: &[ClassifyInput<'_>]| {
            let mut contexts = HashMap::new();
            part.iter()
                .map(|input| self.first_stage(input, &mut contexts))
                .collect::<Vec<_>>()
        };
        let bytes: usize = inputs.iter().map(|i| i.text.len()).sum();
        let threads = self.threads.min(inputs.len());
        if threads < 2 || bytes < PARALLEL_FIRST_STAGE_BYTES {
            return run(inputs);
        }
        let mut parts = inputs.chunks(inputs.len().div_ceil(threads));
        let first = parts.next().unwrap_or_default();
        std::thread::scope(|s| {
            // The calling thread takes the first part itself.
            let rest: Vec<_> = parts.map(|part| s.spawn(move || run(part))).collect();
            let mut out = run(first);
            for h in rest {
                out.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            out
        })
    }

    /// Encodes `units` in chunks and appends their vectors to `rows`.
    fn encode_into(&self, units: &[&str], rows: &mut Vec<Vec<f32>>) -> Result<(), ClassifyError> {
        // The encoder tokenizes a call's texts together and sorts them by
        // length, so that padded batches (batch_size > 1) stay short.
        for chunk in units.chunks(ENCODE_CHUNK.max(self.opts.batch_size * 8)) {
            let v = self.encoder.encode(chunk).map_err(|e| self.model_err(e))?;
            if v.len() != chunk.len() {
                return Err(ClassifyError::Model {
                    model: self.version.clone(),
                    reason: format!(
                        "encoder returned {} vectors for {} units",
                        v.len(),
                        chunk.len()
                    ),
                });
            }
            rows.extend(v);
        }
        Ok(())
    }

    /// Classifies a batch and reports, per input, the route it took (for
    /// the cascade benchmark: what each stage costs and what it lets
    /// through).
    pub fn classify_routed<'a>(
        &self,
        inputs: &[ClassifyInput<'a>],
    ) -> Vec<Result<(Labels, Route), ClassifyError>> {
        let mut results: Vec<Option<Result<(Labels, Route), ClassifyError>>> =
            Vec::with_capacity(inputs.len());
        let mut pending: Vec<(usize, Pending)> = Vec::new();
        let mut units: Vec<&str> = Vec::new();
        // Queues `which` units of a document for the encoder, recording the
        // row each will land in.
        let queue = |units: &mut Vec<&'a str>, p: &mut Pending, text: &'a str, which: &[usize]| {
            let text = truncate(text);
            for &s in which {
                let unit = p
                    .units
                    .get(s)
                    .and_then(|u| text.get(u.start..u.end))
                    .unwrap_or("");
                p.rows.push(units.len());
                units.push(cut(unit, MAX_UNIT_BYTES));
            }
        };
        for (i, (input, first)) in inputs.iter().zip(self.first_stages(inputs)).enumerate() {
            match first {
                Err(e) => results.push(Some(Err(e))),
                Ok(Err(done)) => results.push(Some(Ok((done, Route::default())))),
                Ok(Ok(mut p)) => {
                    let which = p.selected.clone();
                    queue(&mut units, &mut p, input.text, &which);
                    results.push(None);
                    pending.push((i, p));
                }
            }
        }
        let mut rows: Vec<Vec<f32>> = Vec::with_capacity(units.len());
        let mut failure = self.encode_into(&units, &mut rows).err();
        // Second round: the deferred windows of probed texts whose probe
        // found them about migration.
        if failure.is_none() {
            let done = units.len();
            for (i, p) in &mut pending {
                if p.deferred.is_empty() {
                    continue;
                }
                let deferred = std::mem::take(&mut p.deferred);
                if self.probe_passes(p, &rows) {
                    queue(&mut units, p, inputs[*i].text, &deferred);
                    p.selected.extend(deferred);
                }
            }
            failure = self.encode_into(&units[done..], &mut rows).err();
        }
        for (_, p) in &mut pending {
            // Aggregation reads units in text order (the lead first).
            let mut order: Vec<(usize, usize)> = p
                .selected
                .iter()
                .copied()
                .zip(p.rows.iter().copied())
                .collect();
            order.sort_unstable();
            (p.selected, p.rows) = order.into_iter().unzip();
            p.route.encoded_units = p.selected.len();
        }
        for (i, p) in pending {
            let route = p.route;
            let r = match &failure {
                Some(e) => Err(e.clone()),
                None => Ok((self.aggregate(inputs[i].text, p, &rows), route)),
            };
            results[i] = Some(r);
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ClassifyError::Model {
                        model: self.version.clone(),
                        reason: "document left unclassified".into(),
                    })
                })
            })
            .collect()
    }
}

/// A text the lexicons do not cover, as one sentence (no rule signals).
fn whole_text_sentence(text: &str) -> Vec<SentenceInfo> {
    let start = text.len() - text.trim_start().len();
    let end = text.trim_end().len().max(start);
    vec![SentenceInfo::plain(start, end)]
}

/// Revision of the cascade's decision rules. Labels depend on the rules as
/// well as on the model files, so a change to the rules that alters labels
/// bumps it: the version stamped on labels changes and `reclassify` labels
/// again what the old rules labelled. r2: [`UNNAMED_RELEVANCE_FLOOR`].
const RULES_REVISION: u32 = 2;

/// `mw-<first 12 hex digits of SHA-256(encoder name, heads, fast model)>-r<rules revision>`.
pub fn model_version(encoder: &str, heads: &[u8], fast: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(encoder.len() + heads.len() + fast.len() + 2);
    bytes.extend_from_slice(encoder.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(heads);
    bytes.push(0);
    bytes.extend_from_slice(fast);
    format!("mw-{}-r{RULES_REVISION}", crate::heads::short_hash(&bytes))
}

impl Classifier for CascadeClassifier {
    fn model_version(&self) -> &str {
        &self.version
    }

    fn classify(&self, text: &str, lang: Option<&str>) -> Result<Labels, ClassifyError> {
        self.classify_batch(&[ClassifyInput {
            id: "",
            text,
            lang,
            context: None,
        }])
        .pop()
        .unwrap_or_else(|| {
            Err(ClassifyError::Model {
                model: self.version.clone(),
                reason: "no result for the input".into(),
            })
        })
    }

    fn classify_batch(&self, inputs: &[ClassifyInput<'_>]) -> Vec<Result<Labels, ClassifyError>> {
        self.classify_routed(inputs)
            .into_iter()
            .map(|r| r.map(|(l, _)| l))
            .collect()
    }

    /// The cheap first stage: the lexicon's relevance or the fast model's,
    /// whichever is higher. `classify` refines it with the relevance head.
    fn relevance(&self, text: &str, lang: Option<&str>) -> Result<f32, ClassifyError> {
        let lex = self.lexicon.relevance(text, lang)?;
        Ok(lex.max(self.fast_relevance(truncate(text), lang).0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast::{features, train, FastExample, FastTrainOptions};
    use crate::heads::{FastGate, HeadEntry, LogisticHead};
    use crate::HashingEncoder;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the units it encodes.
    struct Counting {
        inner: HashingEncoder,
        seen: AtomicUsize,
    }

    impl Encoder for Counting {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn dim(&self) -> usize {
            self.inner.dim()
        }
        fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
            self.seen.fetch_add(texts.len(), Ordering::SeqCst);
            self.inner.encode(texts)
        }
    }

    const DIM: usize = 512;

    /// A head that fires on units close to `prototype` in the hashed
    /// n-gram space.
    fn prototype_head(enc: &HashingEncoder, prototype: &str) -> HeadEntry {
        let v = enc.encode(&[prototype]).unwrap().remove(0);
        HeadEntry {
            head: LogisticHead {
                weights: v.iter().map(|x| x * 20.0).collect(),
                bias: -9.0,
                hidden: None,
            },
            threshold: 0.5,
            lang_thresholds: BTreeMap::new(),
            trained_langs: vec!["en".into()],
        }
    }

    /// A fast model of `names` trained on a handful of `ex`amples, in a
    /// small hash space, until it fits them.
    fn train_toy(names: &[&str], ex: &[FastExample]) -> FastModel {
        train(
            names,
            ex,
            None,
            &FastTrainOptions {
                bits: 12,
                epochs: 30,
                ..FastTrainOptions::default()
            },
        )
    }

    /// A fast model that knows a few abusive words and a few migration
    /// words (the lexicon knows more).
    fn toy_fast() -> FastModel {
        let abusive = ["you idiot", "scum", "vermin", "filthy pigs", "idiot"];
        let clean = [
            "the match",
            "nice weather",
            "the budget",
            "a recipe",
            "the council met",
        ];
        let mut ex: Vec<FastExample> = Vec::new();
        for (t, y) in abusive
            .iter()
            .map(|t| (t, true))
            .chain(clean.iter().map(|t| (t, false)))
        {
            ex.push(FastExample {
                features: features(t, 12),
                targets: vec![Some(false), Some(y)],
                weight: 1.0,
            });
        }
        train_toy(&["relevance", "abusive"], &ex)
    }

    fn classifier() -> (CascadeClassifier, Arc<Counting>) {
        let enc = HashingEncoder::new(DIM);
        let mut heads = HeadSet::new(enc.name(), DIM, 1);
        let hateful = "Migrants are vermin and must be driven out of our country.";
        heads
            .heads
            .insert("hate".into(), prototype_head(&enc, hateful));
        heads
            .heads
            .insert("abusive".into(), prototype_head(&enc, hateful));
        heads.heads.insert(
            "collective".into(),
            prototype_head(&enc, "Migrants are all criminals who never work."),
        );
        heads.heads.insert(
            "solutions".into(),
            prototype_head(
                &enc,
                "The mentoring programme found jobs for 300 refugees, an evaluation showed.",
            ),
        );
        for name in ["relevance", "abusive"] {
            heads.fast.insert(
                name.into(),
                FastGate {
                    threshold: 0.5,
                    gate: 0.5,
                    ..FastGate::default()
                },
            );
        }
        let counting = Arc::new(Counting {
            inner: enc,
            seen: AtomicUsize::new(0),
        });
        let c = CascadeClassifier::new(
            counting.clone(),
            heads,
            toy_fast(),
            "mw-test".into(),
            CascadeOptions::default(),
        )
        .unwrap();
        (c, counting)
    }

    /// [`toy_fast`] with a `collective` head that knows the wave metaphor.
    fn toy_fast_with_collective() -> FastModel {
        let rows = [
            ("waves of migrants", true),
            ("a wave of migrants floods", true),
            ("migrants flood in waves", true),
            ("the match", false),
            ("nice weather", false),
            ("the council met", false),
            ("a migrant found work", false),
        ];
        let ex: Vec<FastExample> = rows
            .iter()
            .map(|(t, y)| FastExample {
                features: features(t, 12),
                targets: vec![Some(false), Some(false), Some(*y)],
                weight: 1.0,
            })
            .collect();
        let mut fast = toy_fast();
        let collective = train_toy(&["relevance", "abusive", "collective"], &ex);
        fast.heads.extend(
            collective
                .heads
                .into_iter()
                .filter(|h| h.name == "collective"),
        );
        fast
    }

    #[test]
    fn a_blended_framing_head_mixes_in_the_fast_model() {
        let (plain, _) = classifier();
        let text = "Waves of migrants, a flood of migrants, arrive every night.";
        let collective = |c: &CascadeClassifier| {
            c.classify_batch(&[input(text, None)])
                .remove(0)
                .unwrap()
                .collective_labelling
                .score
        };
        let alone = collective(&plain);
        let mut heads = plain.heads().clone();
        heads.blend.insert("collective".into(), 0.75);
        let fast = toy_fast_with_collective();
        let p = fast
            .prob("collective", &fast.features(text))
            .expect("the toy has the head");
        assert!(p > 0.8, "the fast head fires on the metaphor: {p}");
        let blended = CascadeClassifier::new(
            Arc::new(HashingEncoder::new(DIM)),
            heads.clone(),
            fast,
            "mw-test".into(),
            CascadeOptions::default(),
        )
        .unwrap();
        let mixed = collective(&blended);
        assert!(alone < 0.5, "the prototype head alone misses it: {alone}");
        assert!(mixed >= 0.5, "the blend labels it: {mixed}");

        // A blend on a head the fast model lacks is refused at load.
        let Err(err) = CascadeClassifier::new(
            Arc::new(HashingEncoder::new(DIM)),
            heads,
            toy_fast(),
            "mw-test".into(),
            CascadeOptions::default(),
        ) else {
            panic!("a blend without its fast head must be refused");
        };
        assert!(err.to_string().contains("\"collective\""), "{err}");
    }

    fn input<'a>(text: &'a str, context: Option<&'a str>) -> ClassifyInput<'a> {
        ClassifyInput {
            id: "x",
            text,
            lang: Some("en"),
            context,
        }
    }

    #[test]
    fn sentences_map_back_to_the_original_text() {
        let lex = LexiconClassifier::new();
        let text = "Šef policije: „Migranti nisu kriminalci“. Drugi dio.\nNaslov bez točke";
        let l = lex.pick(text, Some("hr")).unwrap().unwrap();
        let s = analyse_sentences(l, text);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(
            &text[s[0].start..s[0].end],
            "Šef policije: „Migranti nisu kriminalci“."
        );
        assert!(s[0].migration && s[0].negation);
        assert_eq!(&text[s[1].start..s[1].end], "Drugi dio.");
        assert_eq!(&text[s[2].start..s[2].end], "Naslov bez točke");
        assert!(!s[2].migration);
    }

    #[test]
    fn unnamed_relevance_needs_a_sure_head() {
        assert_eq!(unnamed_relevance(0.7, true), 0.7);
        assert_eq!(unnamed_relevance(0.7, false), 0.49);
        assert_eq!(unnamed_relevance(0.3, false), 0.3);
        assert_eq!(unnamed_relevance(0.9, false), 0.9);
    }

    #[test]
    fn a_text_naming_no_migration_is_relevant_only_when_the_head_is_sure() {
        let (mut c, _) = classifier();
        let enc = HashingEncoder::new(DIM);
        let prototype = "Families with children crossed the river at night and walked on.";
        c.heads
            .heads
            .insert("relevance".into(), prototype_head(&enc, prototype));
        // Every text passes the fast model's gate, so each is encoded and
        // the relevance head alone decides.
        if let Some(g) = c.heads.fast.get_mut("relevance") {
            g.gate = 0.0;
        }
        // The same text under heads ever less sure of it: the score falls
        // through the band where a text naming no migration is held back.
        let v = enc.encode(&[prototype]).unwrap().remove(0);
        let mut held = 0;
        for bias in [-9.0, -17.0, -18.5, -19.5, -21.0] {
            if let Some(h) = c.heads.heads.get_mut("relevance") {
                h.head.bias = bias;
            }
            let head = rescale(c.heads.prob("relevance", &v).unwrap(), 0.5);
            let (labels, route) = c
                .classify_routed(&[input(prototype, None)])
                .pop()
                .unwrap()
                .unwrap();
            assert!(route.own_scope && route.encoded_units == 1, "{route:?}");
            let got = labels.relevance.score;
            if (0.5..UNNAMED_RELEVANCE_FLOOR).contains(&head) {
                held += 1;
                assert!(got < 0.5, "bias {bias}: head {head}, labelled {got}");
            } else {
                assert_eq!(got, head, "bias {bias}");
            }
        }
        assert!(held > 0, "no variant fell in the held-back band");
    }

    #[test]
    fn a_comment_inherits_scope_from_its_article() {
        let (c, counting) = classifier();
        let comment = "Send them all back, every single one.";
        let article = "Reception centre for asylum seekers opens in Obrenovac\nThe centre will house 300 migrants and refugees.";
        let alone = c
            .classify_routed(&[input(comment, None)])
            .pop()
            .unwrap()
            .unwrap();
        assert!(alone.0.relevance.score < 0.5, "{:?}", alone.0.relevance);
        assert!(!alone.1.own_scope && !alone.1.context_scope);
        assert_eq!(
            counting.seen.load(Ordering::SeqCst),
            0,
            "out of scope: not encoded"
        );
        let under = c
            .classify_routed(&[input(comment, Some(article))])
            .pop()
            .unwrap()
            .unwrap();
        assert!(under.1.context_scope, "{:?}", under.1);
        assert!(under.0.relevance.score >= 0.5, "{:?}", under.0.relevance);
        assert!(under.1.encoded_units == 1 && counting.seen.load(Ordering::SeqCst) == 1);
        // A football report as context gives no scope.
        let sport = "Dinamo beat Hajduk 2-1\nA late goal decided the derby in Zagreb.";
        let r = c
            .classify_routed(&[input(comment, Some(sport))])
            .pop()
            .unwrap()
            .unwrap();
        assert!(!r.1.context_scope && r.0.relevance.score < 0.5);
    }

    #[test]
    fn abuse_is_looked_for_whatever_the_topic() {
        let (c, counting) = classifier();
        // Out of scope and clean: decided by the cheap stages.
        let l = c
            .classify(
                "The football club won the cup after a late goal in extra time.",
                Some("en"),
            )
            .unwrap();
        assert_eq!(l.hate.class, HateClass::None);
        assert_eq!(counting.seen.load(Ordering::SeqCst), 0);
        // Out of scope but flagged by the fast model: encoded.
        let r = c
            .classify_routed(&[input("You idiot, the referee was right.", None)])
            .pop()
            .unwrap()
            .unwrap();
        assert!(r.1.flagged && r.1.encoded_units == 1, "{:?}", r.1);
        assert_eq!(
            r.0.collective_labelling.score.min(0.5),
            r.0.collective_labelling.score
        );
    }

    #[test]
    fn hateful_unit_is_hate_with_evidence_in_the_text() {
        let (c, _) = classifier();
        let text = "The council met on Monday to discuss the budget for asylum housing. \
                    Migrants are vermin and must be driven out of our country. \
                    The meeting ended at noon.";
        let l = c.classify(text, Some("en")).unwrap();
        assert_eq!(l.model_version, "mw-test");
        assert_eq!(l.hate.class, HateClass::Hate, "{:?}", l.hate);
        assert_eq!(l.hate.target.as_deref(), Some("migrants_refugees"));
        let ev = &l.hate.evidence[0];
        assert!(text[ev.start..ev.end].contains("vermin"), "{ev:?}");
        for s in l
            .hate
            .evidence
            .iter()
            .chain(&l.collective_labelling.spans)
            .chain(&l.relevance.evidence)
            .chain(&l.frame.evidence)
            .chain(&l.solutions.evidence)
        {
            assert!(
                s.start < s.end && text.get(s.start..s.end).is_some(),
                "{s:?}"
            );
        }
        assert_eq!(l.language_support, LanguageSupport::Trained);
        assert_eq!(
            c.classify(text, Some("sr")).unwrap().language_support,
            LanguageSupport::LexiconOnly
        );
        assert_eq!(
            c.classify(text, Some("ja")).unwrap().language_support,
            LanguageSupport::Unsupported
        );
    }

    #[test]
    fn condemned_quoted_and_negated_hate_is_damped() {
        let (c, _) = classifier();
        let c = CascadeClassifier {
            opts: CascadeOptions {
                damping: true,
                ..CascadeOptions::default()
            },
            ..c
        };
        for text in [
            "The mayor condemned the graffiti saying migrants are vermin and must be driven out of our country.",
            "\"Migrants are vermin and must be driven out of our country,\" the leaflet said. Police called it hate speech.",
            "Migrants are not vermin and must not be driven out of our country.",
        ] {
            let l = c.classify(text, Some("en")).unwrap();
            assert_ne!(l.hate.class, HateClass::Hate, "{text}: {:?}", l.hate);
        }
    }

    #[test]
    fn batch_equals_single_and_units_are_capped() {
        let (c, counting) = classifier();
        let long: String = (0..120)
            .map(|i| format!("Sentence {i} about migrants at the border. "))
            .collect();
        let texts = [
            "Migrants are vermin and must be driven out of our country.",
            "A quiet day.",
            long.as_str(),
            "The mentoring programme found jobs for 300 refugees, an evaluation showed.",
        ];
        let inputs: Vec<ClassifyInput<'_>> = texts.iter().map(|t| input(t, None)).collect();
        let batch = c.classify_batch(&inputs);
        assert_eq!(batch.len(), 4);
        for (t, b) in texts.iter().zip(&batch) {
            assert_eq!(b.as_ref().unwrap(), &c.classify(t, Some("en")).unwrap());
        }
        assert!(batch[3].as_ref().unwrap().solutions.score >= 0.5);
        counting.seen.store(0, Ordering::SeqCst);
        c.classify(&long, Some("en")).unwrap();
        assert_eq!(
            counting.seen.load(Ordering::SeqCst),
            CascadeOptions::default().max_units
        );
    }

    #[test]
    fn windows_group_sentences_and_short_texts_are_one_unit() {
        let lex = LexiconClassifier::new();
        let l = lex.pick("x", Some("en")).unwrap().unwrap();
        let short = "Migrants arrived. They were tired.";
        assert_eq!(windows(short, &analyse_sentences(l, short)).len(), 1);
        let long: String = (0..40)
            .map(|i| format!("This is sentence number {i} here. "))
            .collect();
        let w = windows(&long, &analyse_sentences(l, &long));
        assert!(w.len() > 2);
        for u in &w {
            assert!(u.end - u.start <= WINDOW_BYTES + 40, "{u:?}");
            assert!(long.get(u.start..u.end).is_some());
        }
        // Windows cover the text in order without overlap.
        assert!(w.windows(2).all(|p| p[0].end <= p[1].start));
    }

    #[test]
    fn select_encodes_what_matters() {
        let unit = |migration: bool| Unit {
            start: 0,
            end: 1,
            migration,
            counter: false,
            negation: false,
            reported: false,
        };
        // Lead, lead, sport, sport, migration, sport, sport, sport, abusive sport.
        let units: Vec<Unit> = [false, false, false, false, true, false, false, false, false]
            .into_iter()
            .map(unit)
            .collect();
        let mut flagged = vec![false; units.len()];
        flagged[8] = true;
        // In scope: the lead, the migration window and its neighbours, the flagged one.
        assert_eq!(select(&units, &flagged, true, 12), vec![0, 1, 3, 4, 5, 8]);
        // Capped, in order of importance, returned in text order.
        assert_eq!(select(&units, &flagged, true, 3), vec![0, 1, 4]);
        // Out of scope: only the flagged window.
        assert_eq!(select(&units, &flagged, false, 12), vec![8]);
        // Out of scope, flagged by the lexicon alone: the lead.
        assert_eq!(select(&units, &[false; 9], false, 12), vec![0, 1]);
    }

    /// A long text in scope through its own words is encoded in two steps:
    /// a page that only borrows the group's words stops after its probe
    /// (the lead, the first window naming the group, the fast model's most
    /// relevant window); an article about migration goes on to all its
    /// selected windows.
    #[test]
    fn long_texts_in_scope_are_probed_first() {
        let (mut c, counting) = classifier();
        let enc = HashingEncoder::new(DIM);
        c.heads.heads.insert(
            "relevance".into(),
            prototype_head(&enc, "Sentence about migrants at the border. "),
        );
        let about: String = (0..120)
            .map(|i| format!("Sentence {i} about migrants at the border. "))
            .collect();
        let borrowed: String = (0..120)
            .map(|i| {
                format!("Nice weather {i} for the match, the council met. Birds are migrants too. ")
            })
            .collect();
        let routes: Vec<Route> = c
            .classify_routed(&[input(&about, None), input(&borrowed, None)])
            .into_iter()
            .map(|r| r.unwrap().1)
            .collect();
        assert!(routes.iter().all(|r| r.own_scope && !r.context_scope));
        assert!(!routes[1].flagged, "only the probe, no flagged window");
        assert_eq!(routes[0].encoded_units, CascadeOptions::default().max_units);
        assert!(
            (1..=3).contains(&routes[1].encoded_units),
            "{:?}",
            routes[1]
        );
        // Encoded once each: probe units are not encoded again.
        assert_eq!(
            counting.seen.load(Ordering::SeqCst),
            routes[0].encoded_units + routes[1].encoded_units
        );
    }

    #[test]
    fn heads_for_another_encoder_are_refused() {
        let mk = |name: &str, dim| {
            let mut heads = HeadSet::new(name, dim, 1);
            heads.fast.insert("relevance".into(), FastGate::default());
            CascadeClassifier::new(
                Arc::new(HashingEncoder::new(16)),
                heads,
                toy_fast(),
                "v".into(),
                CascadeOptions::default(),
            )
        };
        let err = mk("hashing-char3-5-8", 8).unwrap_err().to_string();
        assert!(err.contains("retrain"), "{err}");
        let err = mk("another-encoder", 16).unwrap_err().to_string();
        assert!(err.contains("another-encoder"), "{err}");
    }
}
