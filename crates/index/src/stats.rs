//! Corpus statistics for scoring a query over several indexes as one.
//!
//! BM25 weighs a term by how many documents of the collection hold it and
//! normalises by the collection's average field length. An index that is
//! one shard of a collection knows only its own documents, so the same
//! document would score differently on a shard than in one index holding
//! everything, and hits merged from shards would rank differently. A
//! distributed search therefore runs in two phases: each shard reports the
//! statistics of the query's terms ([`crate::Index::query_stats`]), the
//! coordinator adds them up ([`QueryStats::merge`]), and every shard scores
//! with the sums ([`crate::Index::search_with_stats`]). Scores (and so
//! rankings) then equal a single index's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tantivy::query::Bm25StatisticsProvider;
use tantivy::schema::Field;
use tantivy::{Searcher, Term};

/// The statistics BM25 reads for one query, over a whole collection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStats {
    /// Whether the query ranks by relevance (it has words to match);
    /// filters alone browse the matches newest first.
    pub scored: bool,
    /// Documents (deleted ones not yet merged away included, as tantivy
    /// counts them).
    pub num_docs: u64,
    /// Tokens per field, by field id.
    pub field_tokens: BTreeMap<u32, u64>,
    /// Documents holding each term of the query, by the term's field, type
    /// and value bytes (hex).
    pub doc_freqs: BTreeMap<String, u64>,
}

impl QueryStats {
    /// The statistics of several shards as those of one collection.
    pub fn merge(parts: impl IntoIterator<Item = QueryStats>) -> QueryStats {
        let mut out = QueryStats::default();
        for p in parts {
            out.scored |= p.scored;
            out.num_docs += p.num_docs;
            for (f, n) in p.field_tokens {
                *out.field_tokens.entry(f).or_default() += n;
            }
            for (t, n) in p.doc_freqs {
                *out.doc_freqs.entry(t).or_default() += n;
            }
        }
        out
    }
}

/// A term as `<field id>:<type code><value bytes in hex>`: the same
/// term gives the same key in every index of one schema.
pub(crate) fn term_key(term: &Term) -> String {
    let mut key = format!(
        "{}:{}",
        term.field().field_id(),
        term.typ().to_code() as char
    );
    for b in term.serialized_value_bytes() {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// The statistics of `query` in `searcher`'s index.
pub(crate) fn collect(
    searcher: &Searcher,
    query: &dyn tantivy::query::Query,
) -> tantivy::Result<QueryStats> {
    let mut terms: Vec<Term> = Vec::new();
    query.query_terms(&mut |t, _| terms.push(t.clone()));
    let mut out = QueryStats {
        num_docs: searcher.total_num_docs()?,
        ..Default::default()
    };
    for t in &terms {
        let field = t.field();
        if let std::collections::btree_map::Entry::Vacant(e) =
            out.field_tokens.entry(field.field_id())
        {
            e.insert(searcher.total_num_tokens(field)?);
        }
        out.doc_freqs.insert(term_key(t), searcher.doc_freq(t)?);
    }
    Ok(out)
}

/// Scores with the collection's statistics where given, the local index's
/// otherwise (a term the coordinator did not ask about).
pub(crate) struct Global<'a> {
    pub stats: &'a QueryStats,
    pub local: &'a Searcher,
}

impl Bm25StatisticsProvider for Global<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        match self.stats.field_tokens.get(&field.field_id()) {
            Some(n) => Ok(*n),
            None => self.local.total_num_tokens(field),
        }
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.stats.num_docs)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        match self.stats.doc_freqs.get(&term_key(term)) {
            Some(n) => Ok(*n),
            None => self.local.doc_freq(term),
        }
    }
}
