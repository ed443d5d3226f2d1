//! A collector that turns matching documents into [`DocFacts`] rows using
//! fast-field columns only.
//!
//! Reading stored documents costs a decompression per block; reports touch
//! every document in a range, so they read the columnar data instead. String
//! columns are dictionary encoded: each segment's dictionaries (a few dozen
//! sources, countries, languages) are decoded once up front and rows then
//! only look up term ordinals. The cluster column has about one term per
//! document, so it is decoded lazily instead: rows remember the ordinal and
//! only the ordinals actually collected are decoded, in one sorted pass.
//!
//! Reports do not need these rows: [`crate::trend`] counts from the same
//! columns into a compact table without any string per row.

use mediawatch_core::DocKind;
use mediawatch_report::DocFacts;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::schema::{
    bits_to_flags, from_tantivy_time, F_CLUSTER, F_COUNTRY, F_KIND, F_LABELLED, F_LABEL_FLAGS,
    F_LANG, F_PUBLISHED, F_SOURCE, UNKNOWN_LANG,
};

/// Collects one [`DocFacts`] per matching document.
pub(crate) struct FactsCollector;

/// A decoded string column: term ordinal -> value.
struct StrValues {
    column: Option<StrColumn>,
    values: Vec<String>,
    missing: &'static str,
}

impl StrValues {
    fn open(reader: &SegmentReader, field: &str, missing: &'static str) -> tantivy::Result<Self> {
        let column = reader.fast_fields().str(field)?;
        let mut values = Vec::new();
        if let Some(col) = &column {
            crate::trend::push_dictionary(col, field, &mut values)?;
        }
        Ok(Self {
            column,
            values,
            missing,
        })
    }

    fn get(&self, doc: DocId) -> &str {
        self.column
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .and_then(|ord| self.values.get(ord as usize))
            .map(String::as_str)
            .unwrap_or(self.missing)
    }
}

pub(crate) struct FactsSegmentCollector {
    time: Option<Column<tantivy::DateTime>>,
    source: StrValues,
    country: StrValues,
    lang: StrValues,
    kind: StrValues,
    flags: Option<Column<u64>>,
    labelled: Option<Column<bool>>,
    cluster: Option<StrColumn>,
    /// Cluster term ordinal of each row (same index as `rows`).
    cluster_ords: Vec<Option<u64>>,
    rows: Vec<DocFacts>,
}

/// Sets `rows[i].cluster` from the cluster ordinal of row `i`, decoding the
/// dictionary once in ordinal order (no map, one allocation per row). A row
/// whose ordinal cannot be decoded keeps an empty cluster (never merged).
fn fill_clusters(column: &StrColumn, ords_of_rows: &[Option<u64>], rows: &mut [DocFacts]) {
    let mut pairs: Vec<(u64, usize)> = ords_of_rows
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.map(|o| (o, i)))
        .collect();
    pairs.sort_unstable();
    let mut ords: Vec<u64> = pairs.iter().map(|p| p.0).collect();
    ords.dedup();
    let mut next_ord = 0usize;
    let mut next_pair = 0usize;
    // The callback runs once per ordinal, in order, until one is missing.
    let _ = column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        let Some(&ord) = ords.get(next_ord) else {
            return;
        };
        next_ord += 1;
        let name = String::from_utf8_lossy(bytes);
        while let Some(&(o, row)) = pairs.get(next_pair) {
            if o != ord {
                break;
            }
            if let Some(r) = rows.get_mut(row) {
                r.cluster = name.clone().into_owned();
            }
            next_pair += 1;
        }
    });
}

impl Collector for FactsCollector {
    type Fruit = Vec<DocFacts>;
    type Child = FactsSegmentCollector;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FactsSegmentCollector> {
        let ff = reader.fast_fields();
        Ok(FactsSegmentCollector {
            time: ff.column_opt(F_PUBLISHED)?,
            source: StrValues::open(reader, F_SOURCE, "")?,
            country: StrValues::open(reader, F_COUNTRY, "")?,
            lang: StrValues::open(reader, F_LANG, UNKNOWN_LANG)?,
            kind: StrValues::open(reader, F_KIND, "article")?,
            flags: ff.column_opt(F_LABEL_FLAGS)?,
            labelled: ff.column_opt(F_LABELLED)?,
            cluster: ff.str(F_CLUSTER)?,
            cluster_ords: Vec::new(),
            rows: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<DocFacts>>) -> tantivy::Result<Vec<DocFacts>> {
        let mut all = Vec::with_capacity(fruits.iter().map(Vec::len).sum());
        for f in fruits {
            all.extend(f);
        }
        Ok(all)
    }
}

impl SegmentCollector for FactsSegmentCollector {
    type Fruit = Vec<DocFacts>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        // Every indexed document has a trend time; a row without one could
        // only come from a foreign index and is skipped rather than guessed.
        let Some(time) = self
            .time
            .as_ref()
            .and_then(|c| c.first(doc))
            .and_then(from_tantivy_time)
        else {
            return;
        };
        let labelled = self
            .labelled
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(false);
        let bits = if labelled {
            self.flags.as_ref().and_then(|c| c.first(doc)).unwrap_or(0)
        } else {
            0
        };
        self.rows.push(DocFacts {
            time,
            source: self.source.get(doc).to_string(),
            country: self.country.get(doc).to_string(),
            lang: self.lang.get(doc).to_string(),
            kind: self.kind.get(doc).parse().unwrap_or(DocKind::Article),
            flags: bits_to_flags(bits),
            speakers: crate::schema::speaker_bits(bits),
            labelled,
            cluster: String::new(),
        });
        self.cluster_ords
            .push(self.cluster.as_ref().and_then(|c| c.term_ords(doc).next()));
    }

    fn harvest(self) -> Vec<DocFacts> {
        let FactsSegmentCollector {
            cluster,
            cluster_ords,
            mut rows,
            ..
        } = self;
        if let Some(column) = &cluster {
            fill_clusters(column, &cluster_ords, &mut rows);
        }
        rows
    }
}
