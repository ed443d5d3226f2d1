//! Every stored document, listed for commands that must visit them all
//! (`reclassify`), beside [`crate::rebuild`], which copies them.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::{FactsFilter, Index, IndexError, SearchRequest};

impl Index {
    /// Every document id with its current model version, by paging searches per
    /// (source, month) bucket. A search page reaches only
    /// [`crate::MAX_WINDOW`] hits deep, so a bucket with more
    /// documents is cut in halves by time until each half fits.
    pub fn list_documents(&self) -> Result<Vec<(String, Option<String>)>, IndexError> {
        self.list_documents_paged(crate::MAX_LIMIT, crate::MAX_WINDOW)
    }

    /// [`Index::list_documents`] with the page size and the deepest reachable hit as
    /// parameters (small ones exercise the bisection in tests).
    pub fn list_documents_paged(
        &self,
        limit: usize,
        window: usize,
    ) -> Result<Vec<(String, Option<String>)>, IndexError> {
        let facts = self.facts(&FactsFilter::default())?;
        let mut buckets: BTreeSet<(String, DateTime<Utc>)> = BTreeSet::new();
        for f in &facts {
            buckets.insert((f.source.clone(), month_bounds(f.time).0));
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (source, start) in buckets {
            let (from, to) = month_bounds(start);
            list_range(
                self,
                (limit, window),
                &source,
                from,
                to,
                &mut seen,
                &mut out,
            )?;
        }
        if out.len() < facts.len() {
            tracing::warn!("listed {} of {} documents", out.len(), facts.len());
        }
        Ok(out)
    }
}

fn month_bounds(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = Utc
        .with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t);
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    let end = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(t);
    (start, end)
}

/// Pages the documents of `source` in `[from, to)`, bisecting the range
/// while it holds more than a search window.
fn list_range(
    index: &Index,
    (limit, window): (usize, usize),
    source: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<(String, Option<String>)>,
) -> Result<(), IndexError> {
    let mut offset = 0;
    loop {
        let req = SearchRequest {
            query: String::new(),
            from: Some(from),
            to: Some(to),
            source: Some(source.to_string()),
            limit,
            offset,
            sort_by_date: true,
            ..Default::default()
        };
        let res = index.search(&req)?;
        if offset == 0 && res.total > window {
            let span = to - from;
            if span > chrono::Duration::seconds(1) {
                let mid = from + span / 2;
                list_range(index, (limit, window), source, from, mid, seen, out)?;
                return list_range(index, (limit, window), source, mid, to, seen, out);
            }
            tracing::warn!(source = %source, at = %from, "more than {window} documents within one second; the rest are not listed");
        }
        let n = res.hits.len();
        for h in res.hits {
            if seen.insert(h.id.clone()) {
                out.push((h.id, h.labels.map(|l| l.model_version)));
            }
        }
        offset += n;
        if n == 0 || offset >= res.total || offset + limit > window {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_core::{Document, SourceMeta};
    use mediawatch_testkit as testkit;

    fn meta() -> SourceMeta {
        testkit::source("src")
    }

    fn doc(i: usize, text: &str) -> Document {
        testkit::numbered(i)
            .text(text)
            .labelled_by("old-model")
            .build()
    }

    #[test]
    fn listing_bisects_buckets_deeper_than_a_search_window() {
        let tmp = tempfile::tempdir().unwrap();
        let index = Index::open_or_create(tmp.path()).unwrap();
        let w = index.writer(32 << 20).unwrap();
        for i in 0..23 {
            w.upsert(doc(i, "Migrants arrived."), &meta()).unwrap();
        }
        w.commit().unwrap();
        w.close().unwrap();
        index.reload().unwrap();
        // One source-month of 23 documents, a window of 5: the month must be
        // cut until every part fits, and every document listed once.
        let listed = index.list_documents_paged(2, 5).unwrap();
        let ids: BTreeSet<&String> = listed.iter().map(|(id, _)| id).collect();
        assert_eq!((listed.len(), ids.len()), (23, 23));
        assert!(listed
            .iter()
            .all(|(_, v)| v.as_deref() == Some("old-model")));
        assert_eq!(index.list_documents().unwrap().len(), 23);
    }
}
