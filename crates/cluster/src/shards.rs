//! A sharded index behind one [`QueryBackend`]: the api role's view when
//! the documents are split over shards (`cluster.shards`), each shard a
//! [`ReplicaSet`] of index nodes.
//!
//! What merges exactly, and how:
//! - totals, facets and reports add up: shards hold disjoint documents,
//!   and a story's near-duplicate copies share a shard (documents are
//!   routed by a hash of their cluster), so collapsed totals and reports
//!   that count a cluster once add up too;
//! - hits: every shard scores with the whole collection's BM25 statistics
//!   (a first round asks each shard for its query's term statistics, see
//!   [`QueryStats`]), returns its best `offset + limit`, and the api merges
//!   them in the index's order; scores equal a single index's, and so does
//!   the page (ties in score fall in each index's own document order);
//! - facts are concatenated; a document is looked up on every shard;
//! - rising terms: every shard's counts of every foreground term are added
//!   up and scored once ([`TermCounts`]), as one index scores its own;
//!   exact unless a period had more documents than a terms report reads
//!   (it then samples each shard's share, not the collection's).

use mediawatch_core::{DocId, Document};
use mediawatch_index::{
    DocFacts, Facets, FactsFilter, Index, QueryStats, SearchRequest, SearchResults, TermCounts,
    TermsRequest, TermsResult, TrendRequest, DEFAULT_LIMIT, MAX_LIMIT, MAX_WINDOW,
};
use mediawatch_query::{QueryBackend, QueryError, Result};
use mediawatch_report::Report;
use serde::de::DeserializeOwned;

use crate::remote::{QueryCall, ReplicaSet};

/// One shard, as the merging backend asks it.
pub trait ShardClient: Send + Sync {
    /// One call, answered by one of the shard's index nodes, as JSON.
    fn call_value(&self, call: QueryCall) -> Result<serde_json::Value>;
}

impl ShardClient for ReplicaSet {
    fn call_value(&self, call: QueryCall) -> Result<serde_json::Value> {
        self.call(call)
    }
}

/// An index of this process as a shard (for tests, and for a process
/// holding several shards).
pub struct LocalShard(pub Index);

impl ShardClient for LocalShard {
    fn call_value(&self, call: QueryCall) -> Result<serde_json::Value> {
        crate::indexer::answer(&self.0, call).map_err(|e| {
            if e.invalid {
                QueryError::Invalid(e.message)
            } else {
                QueryError::Unavailable(e.message)
            }
        })
    }
}

/// Every shard of a sharded index, as one index.
pub struct Sharded {
    shards: Vec<Box<dyn ShardClient>>,
}

impl std::fmt::Debug for Sharded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sharded")
            .field("shards", &self.shards.len())
            .finish()
    }
}

fn typed<T: DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| QueryError::Unavailable(format!("an index node's answer is malformed: {e}")))
}

impl Sharded {
    /// A backend over `shards`, in shard order.
    pub fn new(shards: Vec<Box<dyn ShardClient>>) -> Self {
        Self { shards }
    }

    /// `call` on every shard at once; answers in shard order.
    fn each<T: DeserializeOwned + Send>(
        &self,
        call: impl Fn() -> QueryCall + Sync,
    ) -> Result<Vec<T>> {
        let answers: Vec<Result<serde_json::Value>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .shards
                .iter()
                .map(|sh| {
                    let call = &call;
                    s.spawn(move || sh.call_value(call()))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(QueryError::Unavailable("a shard query panicked".into()))
                    })
                })
                .collect()
        });
        answers
            .into_iter()
            .enumerate()
            .map(|(k, a)| match a {
                Err(QueryError::Unavailable(m)) => {
                    // A whole shard away: the answer would be missing its
                    // documents, so there is no answer.
                    Err(QueryError::Unavailable(format!("shard {k}: {m}")))
                }
                other => other.and_then(typed),
            })
            .collect()
    }

    /// One shard's best `want` hits (in pages of at most [`MAX_LIMIT`]).
    fn shard_page(
        &self,
        req: &SearchRequest,
        stats: &QueryStats,
        want: usize,
    ) -> Result<Vec<SearchResults>> {
        let mut pages: Vec<SearchResults> = Vec::new();
        let mut start = 0;
        loop {
            let take = (want - start).min(MAX_LIMIT);
            let sub = SearchRequest {
                offset: start,
                limit: take,
                ..req.clone()
            };
            let part: Vec<SearchResults> = self.each(|| QueryCall::SearchWithStats {
                req: sub.clone(),
                stats: stats.clone(),
            })?;
            let full = part.iter().any(|r| r.hits.len() == take);
            if pages.is_empty() {
                pages = part;
            } else {
                for (p, r) in pages.iter_mut().zip(part) {
                    p.hits.extend(r.hits);
                }
            }
            start += take;
            if start >= want || !full {
                return Ok(pages);
            }
        }
    }
}

impl QueryBackend for Sharded {
    fn num_docs(&self) -> Result<u64> {
        Ok(self.each::<u64>(|| QueryCall::NumDocs)?.into_iter().sum())
    }

    fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        let limit = match req.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        let want = req.offset.saturating_add(limit);
        if want > MAX_WINDOW {
            return Err(QueryError::Invalid(format!(
                "offset {} + limit {limit} goes past the deepest page ({MAX_WINDOW} hits); \
                 narrow the query or the date range instead",
                req.offset
            )));
        }
        let stats = QueryStats::merge(self.each::<QueryStats>(|| QueryCall::Stats(req.clone()))?);
        let by_date = req.sort_by_date || !stats.scored;
        let parts = self.shard_page(req, &stats, want)?;
        let total = parts.iter().map(|p| p.total).sum();
        let mut hits: Vec<_> = parts.iter().flat_map(|p| p.hits.iter().cloned()).collect();
        // The index's order: relevance, then newest; or newest, then
        // relevance. (A stable sort: ties keep shard order.)
        hits.sort_by(|a, b| {
            let score = b.score.total_cmp(&a.score);
            let time = b.time.cmp(&a.time);
            if by_date {
                time.then(score)
            } else {
                score.then(time)
            }
        });
        let hits = hits.into_iter().skip(req.offset).take(limit).collect();
        Ok(SearchResults {
            total,
            hits,
            facets: Facets::merge(parts.into_iter().map(|p| p.facets)),
        })
    }

    fn document(&self, id: &DocId) -> Result<Option<Document>> {
        Ok(self
            .each::<Option<Document>>(|| QueryCall::Document {
                id: id.as_str().to_string(),
            })?
            .into_iter()
            .flatten()
            .next())
    }

    fn facts(&self, filter: &FactsFilter) -> Result<Vec<DocFacts>> {
        Ok(self
            .each::<Vec<DocFacts>>(|| QueryCall::Facts(filter.clone()))?
            .into_iter()
            .flatten()
            .collect())
    }

    fn report(&self, req: &TrendRequest) -> Result<Report> {
        Ok(mediawatch_report::merge_reports(
            self.each::<Report>(|| QueryCall::Report(req.clone()))?,
        ))
    }

    fn top_terms(
        &self,
        req: &TermsRequest,
        countries: &[String],
    ) -> Result<Vec<(String, TermsResult)>> {
        // Every shard's counts of every term (not its top list), added up
        // and scored once: exact.
        let one = |r: &TermsRequest| -> Result<TermsResult> {
            let wide = TermsRequest {
                min_count: 1,
                ..r.clone()
            };
            let counts =
                TermCounts::merge(self.each::<TermCounts>(|| QueryCall::TermCounts(wide.clone()))?);
            Ok(counts.score(r.min_count, r.limit))
        };
        match countries {
            [] => Ok(vec![("all".to_string(), one(req)?)]),
            many => many
                .iter()
                .map(|c| {
                    let per = TermsRequest {
                        country: Some(c.clone()),
                        ..req.clone()
                    };
                    one(&per).map(|r| (c.clone(), r))
                })
                .collect(),
        }
    }
}
