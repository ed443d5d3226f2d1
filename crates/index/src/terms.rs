//! Top terms and emerging narratives: which words rise in a period against a
//! background period.
//!
//! Both periods are selected with the search machinery (same query language
//! and filters as [`Index::search`] and [`Index::facts`]). The stored title
//! and text of every selected document go through the `mw` analyzer (the
//! schema keeps no term vectors), so `мигранти` and `migranti` are one term.
//! Stopwords of the region's languages, pure numbers and terms of one or two
//! letters are dropped before counting; token totals count only the kept
//! (content) tokens, so the statistic compares a term against the other
//! content words of its period.
//!
//! The score is Dunning's log-likelihood ratio G² over the 2×2 table
//! (this term / every other content token) × (foreground / background), see
//! [`log_likelihood`]. With one degree of freedom, G² > 10.83 means the
//! difference has p < 0.001 ([`SIGNIFICANT_LLR`]). Only terms whose rate is
//! higher in the foreground are reported.
//!
//! The work is bounded: each period reads at most [`MAX_DOCS_PER_PERIOD`]
//! documents; beyond that an even sample is read and the result says
//! `sampled: true` (counts are then of the sample, not the whole period).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::DocSetCollector;
use tantivy::schema::Value;
use tantivy::tokenizer::TokenStream;
use tantivy::{DocAddress, TantivyDocument};

use crate::{analyzer, query, Index, IndexError, MAX_LIMIT};

/// Most documents read per period; larger periods are sampled evenly.
pub const MAX_DOCS_PER_PERIOD: usize = 200_000;
/// Terms returned when a request asks for `limit: 0`.
pub const DEFAULT_TERMS_LIMIT: usize = 50;
/// G² above this is significant at p < 0.001 (chi-squared, 1 degree of
/// freedom).
pub const SIGNIFICANT_LLR: f64 = 10.83;
/// Most threads one request reads documents with.
const MAX_THREADS: usize = 8;
/// Fewest documents worth a thread of their own.
const MIN_DOCS_PER_THREAD: usize = 2_000;

/// Which terms to compare: a foreground period against a background period.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TermsRequest {
    /// Inclusive start of the foreground period (trend time).
    pub from: DateTime<Utc>,
    /// Exclusive end of the foreground period.
    pub to: DateTime<Utc>,
    /// Inclusive start of the background period.
    pub background_from: DateTime<Utc>,
    /// Exclusive end of the background period.
    pub background_to: DateTime<Utc>,
    /// Optional query (same language as search and facts); restricts the
    /// documents of both periods.
    pub query: Option<String>,
    /// Country code (case-insensitive); restricts both periods.
    pub country: Option<String>,
    /// Language code (case-insensitive); restricts both periods.
    pub lang: Option<String>,
    /// Most terms returned; 0 means [`DEFAULT_TERMS_LIMIT`], capped at
    /// [`MAX_LIMIT`].
    pub limit: usize,
    /// Least foreground occurrences a term needs to be listed (0 acts as 1).
    pub min_count: u64,
    /// Read documents that stated no date too (their period would be the
    /// day they were fetched); off by default.
    #[serde(default)]
    pub include_undated: bool,
}

/// One rising term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TermStat {
    /// The term as the `mw` analyzer produces it (lower-case, Latin, folded).
    pub term: String,
    /// Occurrences in the foreground.
    pub count: u64,
    /// Occurrences in the background.
    pub background: u64,
    /// Foreground documents containing the term.
    pub docs: u64,
    /// Dunning's log-likelihood G² (see [`log_likelihood`]).
    pub llr: f64,
    /// Relative frequency foreground / background, both with +0.5 added to
    /// the term count and the period's token total (so a term absent from
    /// the background gets a finite ratio).
    pub ratio: f64,
    /// `llr > 10.83`: p < 0.001 with one degree of freedom.
    pub significant: bool,
}

/// The rising terms of a foreground period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TermsResult {
    /// Documents read in the foreground (the sample size when sampled).
    pub foreground_docs: u64,
    /// Documents read in the background (the sample size when sampled).
    pub background_docs: u64,
    /// Content tokens counted in the foreground.
    pub foreground_tokens: u64,
    /// Content tokens counted in the background.
    pub background_tokens: u64,
    /// Whether either period had more than [`MAX_DOCS_PER_PERIOD`]
    /// documents and was sampled evenly.
    pub sampled: bool,
    /// Rising terms only (foreground rate above background rate), by `llr`
    /// descending (ties by count, then term).
    pub terms: Vec<TermStat>,
}

/// One term's counts in [`TermCounts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermCount {
    /// Occurrences in the foreground.
    pub count: u64,
    /// Foreground documents containing it.
    pub docs: u64,
    /// Occurrences in the background.
    pub background: u64,
}

/// The counts [`TermsResult`] is scored from (see [`Index::term_counts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermCounts {
    /// Documents read in the foreground.
    pub foreground_docs: u64,
    /// Documents read in the background.
    pub background_docs: u64,
    /// Content tokens in the foreground.
    pub foreground_tokens: u64,
    /// Content tokens in the background.
    pub background_tokens: u64,
    /// Whether either period was sampled.
    pub sampled: bool,
    /// Per term.
    pub terms: BTreeMap<String, TermCount>,
}

impl TermCounts {
    /// The counts of disjoint indexes as those of one.
    pub fn merge(parts: impl IntoIterator<Item = TermCounts>) -> TermCounts {
        let mut out = TermCounts::default();
        for p in parts {
            out.foreground_docs += p.foreground_docs;
            out.background_docs += p.background_docs;
            out.foreground_tokens += p.foreground_tokens;
            out.background_tokens += p.background_tokens;
            out.sampled |= p.sampled;
            for (t, c) in p.terms {
                let e = out.terms.entry(t).or_default();
                e.count += c.count;
                e.docs += c.docs;
                e.background += c.background;
            }
        }
        out
    }

    /// The rising terms with at least `min_count` foreground occurrences,
    /// best `limit` first (0: [`DEFAULT_TERMS_LIMIT`]).
    pub fn score(&self, min_count: u64, limit: usize) -> TermsResult {
        let limit = match limit {
            0 => DEFAULT_TERMS_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let min_count = min_count.max(1);
        let (fg_tokens, bg_tokens) = (self.foreground_tokens, self.background_tokens);
        let mut terms: Vec<TermStat> = self
            .terms
            .iter()
            .filter_map(|(term, c)| {
                if c.count < min_count {
                    return None;
                }
                // fg rate > bg rate, exactly (no float rounding); with an
                // empty background every foreground term is "new".
                let rising = bg_tokens == 0
                    || u128::from(c.count) * u128::from(bg_tokens)
                        > u128::from(c.background) * u128::from(fg_tokens);
                if !rising {
                    return None;
                }
                let llr = log_likelihood(c.count, fg_tokens, c.background, bg_tokens);
                let ratio = ((c.count as f64 + 0.5) / (fg_tokens as f64 + 0.5))
                    / ((c.background as f64 + 0.5) / (bg_tokens as f64 + 0.5));
                Some(TermStat {
                    term: term.clone(),
                    count: c.count,
                    background: c.background,
                    docs: c.docs,
                    llr,
                    ratio,
                    significant: llr > SIGNIFICANT_LLR,
                })
            })
            .collect();
        terms.sort_by(|a, b| {
            b.llr
                .total_cmp(&a.llr)
                .then(b.count.cmp(&a.count))
                .then_with(|| a.term.cmp(&b.term))
        });
        terms.truncate(limit);
        TermsResult {
            foreground_docs: self.foreground_docs,
            background_docs: self.background_docs,
            foreground_tokens: fg_tokens,
            background_tokens: bg_tokens,
            sampled: self.sampled,
            terms,
        }
    }
}

/// Dunning's log-likelihood ratio G² = 2 Σ O ln(O/E) for the 2×2 table
///
/// | | foreground | background |
/// |---|---|---|
/// | term | `k_fg` | `k_bg` |
/// | other tokens | `n_fg - k_fg` | `n_bg - k_bg` |
///
/// where `n_*` are the token totals of each period and E are the expected
/// counts under independence (row total × column total / N). Empty cells
/// contribute 0 (the limit of O ln O as O → 0). Counts above the totals
/// are clamped to them; an empty table gives 0. The statistic is
/// chi-squared distributed with 1 degree of freedom: above
/// [`SIGNIFICANT_LLR`] (10.83) p < 0.001. It does not say in which direction
/// the term moved; compare the rates for that.
pub fn log_likelihood(k_fg: u64, n_fg: u64, k_bg: u64, n_bg: u64) -> f64 {
    let k_fg = k_fg.min(n_fg) as f64;
    let k_bg = k_bg.min(n_bg) as f64;
    let (n_fg, n_bg) = (n_fg as f64, n_bg as f64);
    let n = n_fg + n_bg;
    if n <= 0.0 {
        return 0.0;
    }
    let term_row = k_fg + k_bg;
    let other_row = n - term_row;
    let cell = |o: f64, row: f64, col: f64| {
        if o <= 0.0 {
            0.0
        } else {
            // o > 0 implies row > 0 and col > 0, so e > 0.
            let e = row * col / n;
            o * (o / e).ln()
        }
    };
    let g2 = 2.0
        * (cell(k_fg, term_row, n_fg)
            + cell(k_bg, term_row, n_bg)
            + cell(n_fg - k_fg, other_row, n_fg)
            + cell(n_bg - k_bg, other_row, n_bg));
    // Rounding can leave a tiny negative value for identical rates.
    g2.max(0.0)
}

/// Stopwords, written as people write them; folded with the `mw` analyzer
/// on first use so they match the counted terms in either script. Words of
/// one or two letters are dropped anyway and are mostly not listed. One
/// whitespace-separated list per language (ISO 639-1; `sr` stands for all
/// of BCMS, `cs` for Czech and Slovak).
const STOPWORDS: &[(&str, &str)] = &[
    // en
    (
        "en",
        "the and for that this with from are was were have has had not but they their them there \
         which who will would been its into than then also about after over more said can all one \
         out our you his her she what when where these those",
    ),
    // BCMS (Latin; Cyrillic forms fold to the same terms)
    (
        "sr",
        "koji koja koje kojeg kojem kojim kojima kao ali ili još jos već vec samo bio bila bilo \
         bili biti će ce nije nisu sve svi sva što sto šta sta kako kada kad gdje gde ovo ova \
         ovaj ove ovi taj ta to tog tome tim tako zbog prema nakon više vise pre prije posle \
         poslije između izmedju oko kod ako jer bez pod nad sam smo ste jesu bude budu njih \
         njihov njegov njen njena sebe sobom čak dok pak godine godina rekao rekla kazao ima \
         imaju mogu može treba kojoj",
    ),
    // mk
    (
        "mk",
        "што кој која кое кои како или ама но од на за со се беше биле бил била ќе нема има тоа \
         таа тој тие овој оваа ова овие кога каде после пред меѓу уште само веќе",
    ),
    // bg
    (
        "bg",
        "който която което които като или но от на за със се беше бяха бил била ще няма има това \
         тази този тези те когато където след преди между още само вече при към по част каза \
         според около години година",
    ),
    // sq
    (
        "sq",
        "dhe për per nga një nje që qe është eshte janë jane ishte kanë kane kjo ky këtë kete \
         këto keto por edhe më me nuk ka si në ne të te tё tij saj tyre pas para deri mbi sipas \
         gjatë gjate cila cili cilat kur ku",
    ),
    // sl
    (
        "sl",
        "kot ali tudi kar ker bil bila bilo bili smo ste niso ni bo bodo pri pred med nad pod \
         brez zato lahko samo še že kjer kdaj tako prav leta let več vse vsi jih njih ter",
    ),
    // pl
    (
        "pl",
        "nie się sie jest są sa był byla była było byli będzie bedzie jak ale lub czy tak też tez \
         już juz tylko przez przy oraz które ktore który ktory która ktora których tego tym jego \
         jej ich ten ta te dla pod nad przed po od do że ze aby gdy kiedy gdzie może moze roku \
         lat bardzo",
    ),
    // hu
    (
        "hu",
        "hogy nem egy az és es is meg már mar csak még volt lesz van vannak voltak mint vagy de \
         ez azt ezt ezek azok aki ami amely amelyek akik után utan előtt elott között kozott \
         szerint miatt alatt felett pedig sem így igy úgy ugy mert kell lehet nagyon évben evben \
         több tobb",
    ),
    // cs, sk
    (
        "cs",
        "který ktery která ktera které ktere kteří kteri jsou byl byla bylo byli bude budou jako \
         ale nebo také take jen již jiz podle před pred mezi proti kde když kdyz tak ten tato \
         tento toto této teto jeho její jeji jejich sme som ktorý ktory ktorá ktora ktoré ktore \
         ktorí ktori bol bola bolo boli budú budu alebo tiež tiez len už uz podľa podla medzi keď \
         ked táto jej ich aby",
    ),
    // el
    (
        "el",
        "και του της των τον την στο στη στην στον στα στις στους από για που με να θα δεν είναι \
         ειναι ήταν ηταν ένα ενα μια μία αυτό αυτο αυτή αυτη αυτά αυτα όπως οπως μετά μετα πριν \
         μέχρι μεχρι ότι οτι αλλά αλλα οποίος οποία οποίο οποίοι οποίες τους τις τα οι ως κατά \
         κατα προς",
    ),
    // de
    (
        "de",
        "der die das den dem des und ist sind war waren wird werden wurde wurden nicht ein eine \
         einen einem einer eines mit von für fur auf aus bei nach vor über uber unter auch noch \
         nur schon sich sie ihr ihre sein seine hat haben hatte oder aber als wie wenn dass daß \
         zum zur bis durch gegen ohne um seit sagte mehr dieser diese dieses",
    ),
    // it
    (
        "it",
        "che non per con del della delle dei degli dello nel nella nelle nei sul sulla dal dalla \
         alla alle agli allo una uno sono era erano stato stata stati essere anche più piu come \
         dopo prima tra fra questo questa questi queste quello quella loro suo sua suoi ma se cui \
         ha hanno aveva anni secondo",
    ),
];

/// The folded stopword set.
fn stopwords() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        STOPWORDS
            .iter()
            .flat_map(|(_, words)| words.split_whitespace())
            .flat_map(analyzer::analyze)
            .collect()
    })
}

/// Whether an analyzed term is worth counting: three letters or more, not
/// a pure number, not a stopword.
pub fn is_content_term(term: &str) -> bool {
    term.chars().nth(2).is_some()
        && !term.chars().all(|c| c.is_ascii_digit())
        && !stopwords().contains(term)
}

/// Counts of one foreground term.
struct FgCount {
    count: u64,
    docs: u64,
    /// Sequence number of the last document that counted towards `docs`.
    last_doc: u64,
}

/// What one period's counting produced.
struct Period<T> {
    docs: u64,
    tokens: u64,
    sampled: bool,
    counts: T,
}

/// Picks at most `max` of `addrs` (sorted, for store locality), evenly
/// spread; says whether it had to drop any.
fn sample_evenly(mut addrs: Vec<DocAddress>, max: usize) -> (Vec<DocAddress>, bool) {
    addrs.sort_unstable();
    let n = addrs.len();
    if n <= max {
        return (addrs, false);
    }
    let picked = (0..max)
        .filter_map(|i| addrs.get(i * n / max).copied())
        .collect();
    (picked, true)
}

impl Index {
    /// The documents of one period, sampled down to [`MAX_DOCS_PER_PERIOD`].
    fn period_docs(
        &self,
        searcher: &tantivy::Searcher,
        req: &TermsRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<DocAddress>, bool), IndexError> {
        let f = &self.inner.fields;
        let parsed = match req.query.as_deref() {
            Some(q) => query::parse_user_query(&self.inner.index, f, q)?,
            None => query::UserQuery::default(),
        };
        let filters = query::Filters {
            from: Some(from),
            to: Some(to),
            source: None,
            country: req.country.as_deref(),
            lang: req.lang.as_deref(),
            kind: None,
            dated_only: !req.include_undated,
        };
        let full = query::with_filters(f, parsed.text, parsed.clauses, &filters)?;
        let set = searcher
            .search(&*full, &DocSetCollector)
            .map_err(self.tantivy_err("selecting documents for terms"))?;
        Ok(sample_evenly(
            set.into_iter().collect(),
            MAX_DOCS_PER_PERIOD,
        ))
    }

    /// Runs `each` over the content terms of every document's stored title
    /// and text, with the document's position in `docs`. The documents are
    /// split into contiguous chunks read by up to [`MAX_THREADS`] threads
    /// (decompressing and analyzing stored text is the whole cost); each
    /// thread fills its own state from `init`, and the states come back in
    /// chunk order with the number of content tokens seen.
    fn for_each_term<T: Send>(
        &self,
        searcher: &tantivy::Searcher,
        docs: &[DocAddress],
        min_chunk: usize,
        init: impl Fn() -> T + Sync,
        each: impl Fn(&mut T, u64, &str) + Sync,
    ) -> Result<(Vec<T>, u64), IndexError> {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, MAX_THREADS);
        // Small periods are not worth a thread.
        let chunk = docs.len().div_ceil(threads).max(min_chunk).max(1);
        let run = |offset: usize, part: &[DocAddress]| -> Result<(T, u64), IndexError> {
            let f = &self.inner.fields;
            let mut analyzer = analyzer::analyzer();
            let mut state = init();
            let mut tokens = 0u64;
            for (i, addr) in part.iter().enumerate() {
                let seq = (offset + i) as u64;
                let d: TantivyDocument = searcher
                    .doc(*addr)
                    .map_err(self.tantivy_err("reading a stored document for terms"))?;
                for field in [f.title, f.text] {
                    let Some(text) = d.get_first(field).and_then(|v| v.as_str()) else {
                        continue;
                    };
                    let mut stream = analyzer.token_stream(text);
                    while let Some(tok) = stream.next() {
                        if is_content_term(&tok.text) {
                            tokens += 1;
                            each(&mut state, seq, &tok.text);
                        }
                    }
                }
            }
            Ok((state, tokens))
        };
        let parts: Vec<(usize, &[DocAddress])> = docs
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| (i * chunk, part))
            .collect();
        let results: Vec<Result<(T, u64), IndexError>> = if parts.len() <= 1 {
            parts.iter().map(|&(o, p)| run(o, p)).collect()
        } else {
            std::thread::scope(|scope| {
                let run = &run;
                let handles: Vec<_> = parts
                    .iter()
                    .map(|&(o, p)| scope.spawn(move || run(o, p)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(self.tantivy_err("counting terms")(
                                tantivy::TantivyError::SystemError(
                                    "a term counting thread panicked".to_string(),
                                ),
                            ))
                        })
                    })
                    .collect()
            })
        };
        let mut states = Vec::with_capacity(results.len());
        let mut tokens = 0u64;
        for r in results {
            let (state, n) = r?;
            states.push(state);
            tokens += n;
        }
        Ok((states, tokens))
    }

    /// Terms that rise in `req.from..req.to` against
    /// `req.background_from..req.background_to`, scored by Dunning's
    /// log-likelihood G² (see [`log_likelihood`]; G² > 10.83 means p < 0.001).
    ///
    /// Empty periods give an empty list, not an error. A bad query gives
    /// [`IndexError::Query`]; a period that ends before it starts gives
    /// [`IndexError::InvalidRequest`]. Periods may overlap (the statistic
    /// then understates the change).
    pub fn top_terms(&self, req: &TermsRequest) -> Result<TermsResult, IndexError> {
        self.top_terms_chunked(req, MIN_DOCS_PER_THREAD)
    }

    /// [`Index::top_terms`] with threads of at least `min_chunk` documents.
    fn top_terms_chunked(
        &self,
        req: &TermsRequest,
        min_chunk: usize,
    ) -> Result<TermsResult, IndexError> {
        let limit = match req.limit {
            0 => DEFAULT_TERMS_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        Ok(self
            .term_counts_chunked(req, min_chunk)?
            .score(req.min_count, limit))
    }

    /// What [`Index::top_terms`] scores: both periods' sizes, and the
    /// foreground and background counts of every term occurring at least
    /// `req.min_count` times in the foreground. The counts of disjoint
    /// indexes (shards) add up ([`TermCounts::merge`]), and
    /// [`TermCounts::score`] of the sum is what one index holding all the
    /// documents answers (unless a period was sampled).
    pub fn term_counts(&self, req: &TermsRequest) -> Result<TermCounts, IndexError> {
        self.term_counts_chunked(req, MIN_DOCS_PER_THREAD)
    }

    fn term_counts_chunked(
        &self,
        req: &TermsRequest,
        min_chunk: usize,
    ) -> Result<TermCounts, IndexError> {
        let min_count = req.min_count.max(1);
        let searcher = self.inner.reader.searcher();
        // Select both periods first, so a bad request fails before any
        // stored document is read.
        let (fg_docs, fg_sampled) = self.period_docs(&searcher, req, req.from, req.to)?;
        let (bg_docs, bg_sampled) =
            self.period_docs(&searcher, req, req.background_from, req.background_to)?;

        let (fg_parts, fg_tokens) = self.for_each_term(
            &searcher,
            &fg_docs,
            min_chunk,
            HashMap::<String, FgCount>::new,
            |counts, seq, term| {
                if let Some(c) = counts.get_mut(term) {
                    c.count += 1;
                    if c.last_doc != seq {
                        c.docs += 1;
                        c.last_doc = seq;
                    }
                } else {
                    counts.insert(
                        term.to_string(),
                        FgCount {
                            count: 1,
                            docs: 1,
                            last_doc: seq,
                        },
                    );
                }
            },
        )?;
        // Chunks hold disjoint documents, so counts and doc counts add up.
        let mut parts = fg_parts.into_iter();
        let mut fg_counts = parts.next().unwrap_or_default();
        for part in parts {
            for (term, c) in part {
                let e = fg_counts.entry(term).or_insert(FgCount {
                    count: 0,
                    docs: 0,
                    last_doc: u64::MAX,
                });
                e.count += c.count;
                e.docs += c.docs;
            }
        }
        let fg = Period {
            docs: fg_docs.len() as u64,
            tokens: fg_tokens,
            sampled: fg_sampled,
            counts: fg_counts,
        };
        // Only terms frequent enough in the foreground can be listed, so
        // the background counts only those (no allocation per new term).
        let wanted: HashMap<&str, u64> = fg
            .counts
            .iter()
            .filter(|(_, c)| c.count >= min_count)
            .map(|(t, _)| (t.as_str(), 0))
            .collect();
        let (bg_parts, bg_tokens) = self.for_each_term(
            &searcher,
            &bg_docs,
            min_chunk,
            || wanted.clone(),
            |counts, _, term| {
                if let Some(c) = counts.get_mut(term) {
                    *c += 1;
                }
            },
        )?;
        let mut bg_counts = wanted;
        for part in bg_parts {
            for (term, n) in part {
                if let Some(c) = bg_counts.get_mut(term) {
                    *c += n;
                }
            }
        }
        Ok(TermCounts {
            foreground_docs: fg.docs,
            background_docs: bg_docs.len() as u64,
            foreground_tokens: fg.tokens,
            background_tokens: bg_tokens,
            sampled: fg.sampled || bg_sampled,
            terms: bg_counts
                .into_iter()
                .filter_map(|(term, background)| {
                    let c = fg.counts.get(term)?;
                    Some((
                        term.to_string(),
                        TermCount {
                            count: c.count,
                            docs: c.docs,
                            background,
                        },
                    ))
                })
                .collect(),
        })
    }

    /// [`Index::top_terms`] once per country (`req.country` is replaced by
    /// each), in the order given. Each country compares against its own
    /// background.
    pub fn top_terms_by_country(
        &self,
        req: &TermsRequest,
        countries: &[String],
    ) -> Result<Vec<(String, TermsResult)>, IndexError> {
        countries
            .iter()
            .map(|c| {
                let per = TermsRequest {
                    country: Some(c.clone()),
                    ..req.clone()
                };
                self.top_terms(&per).map(|r| (c.clone(), r))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mediawatch_core::SourceMeta;

    #[test]
    fn threaded_counting_equals_sequential() {
        let index = Index::create_in_ram().expect("index");
        let w = index.writer(20_000_000).expect("writer");
        let src = SourceMeta {
            name: "S".into(),
            languages: vec!["sr".into()],
            ..mediawatch_testkit::source("s")
        };
        let start = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .expect("date");
        let words = [
            "granica",
            "граница",
            "vlada",
            "policija",
            "kamp",
            "azil",
            "most",
        ];
        for i in 0..60usize {
            let published = start + chrono::Duration::days(i as i64);
            // Later documents repeat words more, so several terms rise.
            let text: Vec<&str> = (0..(i % 7 + i / 10 + 3))
                .map(|k| words[(i * 3 + k * k) % words.len()])
                .collect();
            let url = format!("https://s/{i}");
            let doc = mediawatch_testkit::doc(&url)
                .source("s")
                .title(&format!("Vesti {}", words[i % words.len()]))
                .text(&text.join(" "))
                .published(published)
                .fetched(published)
                .build();
            w.upsert(doc, &src).expect("upsert");
        }
        w.close().expect("close");
        let req = TermsRequest {
            from: start + chrono::Duration::days(30),
            to: start + chrono::Duration::days(60),
            background_from: start,
            background_to: start + chrono::Duration::days(30),
            ..Default::default()
        };
        let sequential = index
            .top_terms_chunked(&req, usize::MAX)
            .expect("one chunk");
        let threaded = index.top_terms_chunked(&req, 1).expect("many chunks");
        assert!(!sequential.terms.is_empty());
        assert_eq!(sequential, threaded);
    }

    #[test]
    fn sampling_is_even_and_bounded() {
        let addrs: Vec<DocAddress> = (0..10u32).map(|d| DocAddress::new(0, d)).collect();
        let (same, sampled) = sample_evenly(addrs.clone(), 10);
        assert!(!sampled);
        assert_eq!(same.len(), 10);
        let (half, sampled) = sample_evenly(addrs, 5);
        assert!(sampled);
        let ids: Vec<u32> = half.iter().map(|a| a.doc_id).collect();
        assert_eq!(ids, vec![0, 2, 4, 6, 8]);
    }

    #[test]
    fn content_terms() {
        assert!(is_content_term("granica"));
        assert!(!is_content_term("je"));
        assert!(!is_content_term("2024"));
        assert!(!is_content_term("koji"));
        // Cyrillic stopwords are folded like the text.
        assert!(analyzer::analyze("који")
            .iter()
            .all(|t| !is_content_term(t)));
        assert!(analyzer::analyze("който")
            .iter()
            .all(|t| !is_content_term(t)));
        assert!(is_content_term("migranti"));
    }
}
