//! One query facade for everything that reads the index: the CLI, the HTTP
//! API, the dashboard and the alert loop all ask [`Queries`], so a search,
//! a trend report or an audience map means the same thing wherever it is
//! asked for.
//!
//! [`Queries`] holds the query logic (which documents a solutions search
//! wants, how compared queries become one report, how a report learns the
//! sources' audience tags, how user dates become bounds); the documents and
//! the counting come from a [`QueryBackend`]. The local tantivy [`Index`]
//! is the first backend. A remote or sharded one (several index nodes
//! behind one API, as the scale-out plan needs) implements the same five
//! calls: reports are built from fact tables, which merge by concatenation,
//! so a sharded backend can answer [`QueryBackend::report`] by summing its
//! shards' tables.

use std::sync::Arc;

mod speakers;
pub use speakers::{SpeakerQuery, SpeakerReport, SpeakerRow, MAX_SPEAKER_DOCS};

use chrono::{DateTime, NaiveDate, Utc};
use mediawatch_core::{DocId, DocKind, Document, SourceMeta};
use mediawatch_index::{
    DocFacts, FactsFilter, Hit, Index, IndexError, SearchRequest, SearchResults, TermsRequest,
    TermsResult, TrendRequest, MAX_LIMIT,
};
use mediawatch_report::audience::AudienceMap;
use mediawatch_report::{GroupBy, Interval, Report, ReportRequest};

/// Errors of a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request itself is wrong (a bad date, a bad combination of
    /// options); the message names the parameter. HTTP 400.
    #[error("{0}")]
    Invalid(String),
    /// The index failed or refused the query (its own errors say whether
    /// the query text was at fault).
    #[error(transparent)]
    Index(#[from] IndexError),
    /// No index node could answer (a backend over a cluster's index
    /// nodes); the message names each node and why. HTTP 503.
    #[error("{0}")]
    Unavailable(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, QueryError>;

/// What a backend answers. Blocking: callers on async runtimes run these on
/// a blocking thread.
pub trait QueryBackend: Send + Sync {
    /// Documents searchable now (for health checks).
    fn num_docs(&self) -> Result<u64>;
    /// Ranked (or newest-first) hits with snippets.
    fn search(&self, req: &SearchRequest) -> Result<SearchResults>;
    /// One stored document.
    fn document(&self, id: &DocId) -> Result<Option<Document>>;
    /// One fact row (time, source, country, language, label flags) per
    /// matching document: what alerts and exports count.
    fn facts(&self, filter: &FactsFilter) -> Result<Vec<DocFacts>>;
    /// A trend report, compared queries included, counted without
    /// materialising rows (the index's fact-table path).
    fn report(&self, req: &TrendRequest) -> Result<Report>;
    /// Terms rising in a period against a background period; one result
    /// per country when `countries` has several.
    fn top_terms(
        &self,
        req: &TermsRequest,
        countries: &[String],
    ) -> Result<Vec<(String, TermsResult)>>;
}

impl QueryBackend for Index {
    fn num_docs(&self) -> Result<u64> {
        Ok(Index::num_docs(self)?)
    }

    fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        Ok(Index::search(self, req)?)
    }

    fn document(&self, id: &DocId) -> Result<Option<Document>> {
        Ok(self.get(id)?)
    }

    fn facts(&self, filter: &FactsFilter) -> Result<Vec<DocFacts>> {
        Ok(Index::facts(self, filter)?)
    }

    fn report(&self, req: &TrendRequest) -> Result<Report> {
        Ok(Index::report(self, req)?)
    }

    fn top_terms(
        &self,
        req: &TermsRequest,
        countries: &[String],
    ) -> Result<Vec<(String, TermsResult)>> {
        Ok(match countries {
            [] => vec![("all".to_string(), Index::top_terms(self, req)?)],
            [one] => {
                let r = TermsRequest {
                    country: Some(one.clone()),
                    ..req.clone()
                };
                vec![(one.clone(), Index::top_terms(self, &r)?)]
            }
            many => self.top_terms_by_country(req, many)?,
        })
    }
}

/// A trend report as users ask for it.
#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    /// Which documents; `filter.query` is the first compared query when
    /// `compare` is not empty.
    pub filter: FactsFilter,
    /// Bucket width.
    pub interval: Interval,
    /// Grouping inside each bucket.
    pub by: GroupBy,
    /// Count each near-duplicate cluster (one syndicated story) once.
    pub dedup: bool,
    /// More queries side by side: one row per bucket and query.
    pub compare: Vec<String>,
    /// Raw counts only: no attention (a report of a query otherwise sets
    /// each row against all coverage of the same outlets; see
    /// [`mediawatch_report::with_attention`]).
    pub counts_only: bool,
}

/// What the solutions finder is asked for.
#[derive(Debug, Clone, Default)]
pub struct SolutionsQuery {
    /// Only this country.
    pub country: Option<String>,
    /// Only this language.
    pub lang: Option<String>,
    /// Period start.
    pub from: Option<DateTime<Utc>>,
    /// Period end.
    pub to: Option<DateTime<Utc>>,
    /// Extra words the stories must match (e.g. `employment`).
    pub text: Option<String>,
    /// Lowest solutions score (0..1).
    pub min_score: f32,
    /// Stories returned.
    pub limit: usize,
}

/// The facade: a backend plus the configured sources (their audience tags
/// and reach feed reports and the audience map).
#[derive(Clone)]
pub struct Queries {
    backend: Arc<dyn QueryBackend>,
    sources: Arc<Vec<SourceMeta>>,
}

impl std::fmt::Debug for Queries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queries")
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

/// The local index with no source metadata (reports without audience tags,
/// alerts): what a caller holding only an [`Index`] asks.
impl From<Index> for Queries {
    fn from(index: Index) -> Self {
        Self::new(Arc::new(index), Arc::new(Vec::new()))
    }
}

impl Queries {
    /// A facade over `backend`, with `sources` for audience tags and reach.
    pub fn new(backend: Arc<dyn QueryBackend>, sources: Arc<Vec<SourceMeta>>) -> Self {
        Self { backend, sources }
    }

    /// The local tantivy index with the configured sources.
    pub fn local(index: Index, sources: Arc<Vec<SourceMeta>>) -> Self {
        Self::new(Arc::new(index), sources)
    }

    /// The configured sources.
    pub fn sources(&self) -> &[SourceMeta] {
        &self.sources
    }

    /// Every hit of `req` (its `limit` and `offset` ignored), newest first,
    /// read in pages of [`MAX_LIMIT`], at most `cap`; `true` when more
    /// matched. For the analyses that read a whole period (incidents, the
    /// speaker report).
    pub fn search_all(&self, req: &SearchRequest, cap: usize) -> Result<(Vec<Hit>, bool)> {
        let mut hits: Vec<Hit> = Vec::new();
        loop {
            let page = self.search(&SearchRequest {
                limit: MAX_LIMIT,
                offset: hits.len(),
                sort_by_date: true,
                ..req.clone()
            })?;
            let n = page.hits.len();
            hits.extend(page.hits);
            if hits.len() >= cap {
                let more = page.total > cap;
                hits.truncate(cap);
                return Ok((hits, more));
            }
            if n < MAX_LIMIT {
                return Ok((hits, false));
            }
        }
    }

    /// Search (see [`SearchRequest`]).
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        self.backend.search(req)
    }

    /// One stored document by id.
    pub fn document(&self, id: &DocId) -> Result<Option<Document>> {
        self.backend.document(id)
    }

    /// Fact rows of the matching documents.
    pub fn facts(&self, filter: &FactsFilter) -> Result<Vec<DocFacts>> {
        self.backend.facts(filter)
    }

    /// The [`ReportRequest`] of `q`: its range and buckets, and the
    /// sources' audience tags (for `by = audience`).
    pub fn report_request(&self, q: &ReportQuery) -> ReportRequest {
        ReportRequest {
            interval: q.interval,
            by: q.by,
            from: q.filter.from,
            to: q.filter.to,
            audience: self
                .sources
                .iter()
                .map(|s| (s.id.clone(), s.audience.clone()))
                .collect(),
            count_clusters_once: q.dedup,
        }
    }

    /// A trend report, or with `compare` one row per bucket and query.
    /// Compared queries cannot also be grouped; the message says so.
    pub fn report(&self, q: &ReportQuery) -> Result<Report> {
        if !q.compare.is_empty() && q.by != GroupBy::None {
            return Err(QueryError::Invalid(
                "compare puts each query in its own rows: it cannot be combined with by".into(),
            ));
        }
        let mut report = self.backend.report(&TrendRequest {
            filter: q.filter.clone(),
            report: self.report_request(q),
            compare: q.compare.clone(),
        })?;
        let has_query = q
            .filter
            .query
            .as_deref()
            .is_some_and(|t| !t.trim().is_empty())
            || !q.compare.is_empty();
        if has_query && !q.counts_only {
            // The same outlets, period, grouping and deduplication, any
            // subject: what the query's documents are a share of.
            let base = self.backend.report(&TrendRequest {
                filter: FactsFilter {
                    query: None,
                    ..q.filter.clone()
                },
                report: self.report_request(q),
                compare: Vec::new(),
            })?;
            mediawatch_report::with_attention(&mut report, &base);
        }
        Ok(report)
    }

    /// The audience map: outlets and audience segments ranked by hostile
    /// against recognising coverage of migration, weighted by reach;
    /// outlets with fewer than `min_documents` are flagged and ranked last.
    pub fn audience(&self, filter: &FactsFilter, min_documents: u64) -> Result<AudienceMap> {
        self.audience_by(filter, min_documents, None)
    }

    /// The audience map with hostility counted only where `speaker` voices
    /// it (the outlet's own voice, quotes, commenters, post authors).
    pub fn audience_by(
        &self,
        filter: &FactsFilter,
        min_documents: u64,
        speaker: Option<mediawatch_core::SpeakerRole>,
    ) -> Result<AudienceMap> {
        let rows = self.backend.facts(filter)?;
        Ok(mediawatch_report::audience::build_audience_map_by(
            &rows,
            &self.sources,
            min_documents,
            speaker,
        ))
    }

    /// Terms rising in `req`'s period; per country when several are given
    /// (`all` when none).
    pub fn terms(
        &self,
        req: &TermsRequest,
        countries: &[String],
    ) -> Result<Vec<(String, TermsResult)>> {
        self.backend.top_terms(req, countries)
    }

    /// Stories about migration that report responses to a problem with
    /// evidence of results, ranked by solutions score (newest first among
    /// equals), with snippets. The index filters on the score
    /// (`solutions>=…`); ranking happens over at most [`MAX_LIMIT`]
    /// candidates, far more than a journalist pages through. Near-duplicate
    /// copies are collapsed so a syndicated story appears once.
    pub fn solutions(&self, q: &SolutionsQuery) -> Result<SearchResults> {
        let min = q.min_score.clamp(0.0, 1.0);
        // Responses to *migration*: a well-evidenced council budget story
        // is solutions journalism too, but not what this finder is for.
        let mut query = format!("solutions>={min} relevance>=0.5");
        if let Some(t) = q.text.as_deref().filter(|t| !t.trim().is_empty()) {
            query = format!("{t} {query}");
        }
        let req = SearchRequest {
            query,
            from: q.from,
            to: q.to,
            source: None,
            country: q.country.clone(),
            lang: q.lang.clone(),
            kind: Some(DocKind::Article),
            limit: MAX_LIMIT,
            offset: 0,
            sort_by_date: true,
            collapse_clusters: true,
        };
        let mut res = self.backend.search(&req)?;
        let score = |h: &Hit| h.labels.as_ref().map_or(0.0, |l| l.solutions.score);
        res.hits.sort_by(|a, b| {
            score(b)
                .total_cmp(&score(a))
                .then(b.published.cmp(&a.published))
        });
        res.hits.truncate(q.limit.max(1));
        Ok(res)
    }
}

/// Parses `YYYY-MM-DD` or RFC 3339. `end_of_day` makes a bare date inclusive
/// as an upper bound. The error names the parameter.
pub fn parse_date(
    name: &str,
    v: &str,
    end_of_day: bool,
) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| format!("{name}: {v:?} is not a date (use YYYY-MM-DD or RFC 3339)"))?;
    let t = if end_of_day {
        d.and_hms_opt(23, 59, 59)
    } else {
        d.and_hms_opt(0, 0, 0)
    };
    t.map(|t| t.and_utc())
        .ok_or_else(|| format!("{name}: {v:?} is out of range"))
}

/// Periods for top terms from user input: `from`/`to` (inclusive dates),
/// and a background that defaults to the same length just before `from`.
/// Errors name the parameter.
pub fn terms_request(
    from: &str,
    to: &str,
    background_from: Option<&str>,
    background_to: Option<&str>,
) -> std::result::Result<TermsRequest, String> {
    let from_t = parse_date("from", from, false)?;
    // Inclusive end date -> exclusive bound one second later.
    let to_t = parse_date("to", to, true)? + chrono::Duration::seconds(1);
    if to_t <= from_t {
        return Err(format!("to: {to} is before from: {from}"));
    }
    let len = to_t - from_t;
    let bg_to = match background_to {
        Some(v) => parse_date("background_to", v, true)? + chrono::Duration::seconds(1),
        None => from_t,
    };
    let bg_from = match background_from {
        Some(v) => parse_date("background_from", v, false)?,
        None => bg_to - len,
    };
    Ok(TermsRequest {
        from: from_t,
        to: to_t,
        background_from: bg_from,
        background_to: bg_to,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_core::labels::Labels;
    use mediawatch_testkit as testkit;

    fn index_with(docs: &[(usize, f32, f32, &str)]) -> Index {
        let index = Index::create_in_ram().expect("index");
        let w = index.writer(15_000_000).expect("writer");
        for &(i, solutions, relevance, text) in docs {
            let mut l = Labels::default();
            l.solutions.score = solutions;
            l.relevance.score = relevance;
            let d = testkit::doc(&format!("https://example.org/{i}"))
                .title(&format!("Story {i}"))
                .text(text)
                .lang("en")
                .published(testkit::day(2026, 3, 1 + i as u32))
                .labels(l)
                .build();
            w.upsert(d, &testkit::source("src")).expect("upsert");
        }
        w.commit().expect("commit");
        w.close().expect("close");
        index.reload().expect("reload");
        index
    }

    #[test]
    fn solutions_are_about_migration_ranked_by_score() {
        let q = Queries::from(index_with(&[
            (
                1,
                0.6,
                0.9,
                "The mentoring programme placed refugees in jobs.",
            ),
            (
                2,
                0.9,
                0.9,
                "Language classes for asylum seekers halved drop-out.",
            ),
            (
                3,
                0.95,
                0.1,
                "The council's budget reform cut waiting times.",
            ),
            (4, 0.2, 0.9, "Migrants arrived at the border."),
        ]));
        let r = q
            .solutions(&SolutionsQuery {
                min_score: 0.5,
                limit: 10,
                ..SolutionsQuery::default()
            })
            .expect("solutions");
        let titles: Vec<&str> = r.hits.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(titles, ["Story 2", "Story 1"]);
    }

    #[test]
    fn compare_cannot_be_grouped_and_reports_use_the_sources_audience() {
        let index = index_with(&[(1, 0.0, 0.9, "Migrants arrived.")]);
        let mut src = testkit::source("src");
        src.audience = vec!["urban".into()];
        let q = Queries::local(index, Arc::new(vec![src]));
        let err = q
            .report(&ReportQuery {
                by: GroupBy::Source,
                compare: vec!["a".into()],
                ..ReportQuery::default()
            })
            .expect_err("compare with by");
        assert!(matches!(err, QueryError::Invalid(_)), "{err}");
        let r = q
            .report(&ReportQuery {
                by: GroupBy::Audience,
                ..ReportQuery::default()
            })
            .expect("report");
        assert!(r
            .buckets
            .iter()
            .any(|b| b.group.as_deref() == Some("urban")));
    }

    /// A report of a query sets each row against all coverage of the same
    /// outlets: the same bucket (and group), any subject; compared queries
    /// against the bucket's whole coverage; `counts_only` leaves it out.
    #[test]
    fn reports_of_a_query_give_attention() {
        let index = Index::create_in_ram().expect("index");
        let w = index.writer(15_000_000).expect("writer");
        // (source, month, migration?) x count
        for (n, (src, month, about)) in [
            ("a", 3, true),
            ("a", 3, true),
            ("a", 3, false),
            ("a", 3, false),
            ("b", 3, true),
            ("b", 3, false),
            ("b", 3, false),
            ("b", 3, false),
            ("a", 4, false),
            ("a", 4, false),
            ("b", 4, true),
        ]
        .into_iter()
        .enumerate()
        {
            let text = if about {
                "Migrants arrived at the border."
            } else {
                "The council passed the budget."
            };
            let d = testkit::doc(&format!("https://{src}.example/{n}"))
                .source(src)
                .title(&format!("Story {n}"))
                .text(text)
                .lang("en")
                .published(testkit::day(2026, month, 2 + n as u32))
                .build();
            w.upsert(d, &testkit::source(src)).expect("upsert");
        }
        w.commit().expect("commit");
        w.close().expect("close");
        index.reload().expect("reload");
        let q = Queries::from(index);
        let filter = FactsFilter {
            query: Some("migrants".into()),
            ..FactsFilter::default()
        };
        let r = q
            .report(&ReportQuery {
                interval: Interval::Month,
                filter: filter.clone(),
                ..ReportQuery::default()
            })
            .expect("report");
        let att: Vec<(String, u64, u64, f64)> = r
            .buckets
            .iter()
            .map(|b| {
                let a = b.attention.expect("attention");
                (b.bucket.clone(), b.documents, a.coverage, a.share)
            })
            .collect();
        assert_eq!(
            att,
            [
                ("2026-03".to_string(), 3, 8, 0.375),
                ("2026-04".to_string(), 1, 3, 0.3333)
            ]
        );
        assert_eq!(r.totals.attention.expect("total").coverage, 11);
        let by_source = q
            .report(&ReportQuery {
                interval: Interval::Month,
                filter: filter.clone(),
                by: GroupBy::Source,
                ..ReportQuery::default()
            })
            .expect("by source");
        let b_april = by_source
            .buckets
            .iter()
            .find(|b| b.bucket == "2026-04" && b.group.as_deref() == Some("b"))
            .expect("b in April");
        assert_eq!(b_april.attention.expect("attention").share, 1.0);
        let compared = q
            .report(&ReportQuery {
                interval: Interval::Month,
                filter: FactsFilter {
                    query: Some("migrants".into()),
                    ..FactsFilter::default()
                },
                compare: vec!["budget".into()],
                ..ReportQuery::default()
            })
            .expect("compare");
        for b in &compared.buckets {
            let coverage = if b.bucket == "2026-03" { 8 } else { 3 };
            assert_eq!(b.attention.expect("attention").coverage, coverage, "{b:?}");
        }
        let raw = q
            .report(&ReportQuery {
                interval: Interval::Month,
                filter,
                counts_only: true,
                ..ReportQuery::default()
            })
            .expect("counts only");
        assert!(raw.buckets.iter().all(|b| b.attention.is_none()));
        // Without a query there is nothing to be a share of.
        let all = q
            .report(&ReportQuery {
                interval: Interval::Month,
                ..ReportQuery::default()
            })
            .expect("all");
        assert!(all.totals.attention.is_none());
    }

    #[test]
    fn dates_and_term_periods_name_the_parameter() {
        assert_eq!(
            parse_date("from", "2026-03-01", false).expect("date"),
            testkit::day(2026, 3, 1) - chrono::Duration::hours(8)
        );
        assert!(parse_date("to", "March", true)
            .expect_err("not a date")
            .starts_with("to:"));
        let r = terms_request("2026-03-08", "2026-03-14", None, None).expect("periods");
        assert_eq!(r.background_to, r.from);
        assert_eq!(r.to - r.from, r.background_to - r.background_from);
        assert!(terms_request("2026-03-08", "2026-03-01", None, None)
            .expect_err("reversed")
            .starts_with("to:"));
    }
}
