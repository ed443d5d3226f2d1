//! Trend reports straight from fast fields: a collector that fills a
//! [`FactTable`] (integer ids, no string per document), then
//! `mediawatch_report::build_report_table`.
//!
//! Each segment decodes its source, country and language dictionaries once
//! (a few dozen values) and maps term ordinals to table ids; the cluster is
//! the `cluster_key` u64 column. Segment tables are appended at the end,
//! translating ids.

use mediawatch_report::{CompactFact, FactTable};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

use crate::schema::{
    F_CLUSTER_KEY, F_COUNTRY, F_LABELLED, F_LABEL_FLAGS, F_LANG, F_PUBLISHED, F_SOURCE,
    UNKNOWN_LANG,
};

/// Appends the decoded dictionary of string column `col` (named `field`,
/// for errors) to `values`, in ordinal order.
pub(crate) fn push_dictionary(
    col: &StrColumn,
    field: &str,
    values: &mut Vec<String>,
) -> tantivy::Result<()> {
    let n = col.num_terms() as u64;
    values.reserve(n as usize + 1);
    let mut buf = String::new();
    for ord in 0..n {
        buf.clear();
        col.ord_to_str(ord, &mut buf).map_err(|e| {
            TantivyError::SystemError(format!(
                "reading the dictionary of fast field `{field}`: {e}"
            ))
        })?;
        values.push(buf.clone());
    }
    Ok(())
}

/// Collects a [`FactTable`] of the matching documents.
pub(crate) struct TableCollector;

/// A string column with its dictionary as table ids: ordinal `i` is id
/// `i`, and the value for documents without one is the last id.
struct Dict {
    column: Option<StrColumn>,
    values: Vec<String>,
    missing_id: u32,
}

impl Dict {
    fn open(reader: &SegmentReader, field: &str, missing: &str) -> tantivy::Result<Self> {
        let column = reader.fast_fields().str(field)?;
        let mut values = Vec::new();
        if let Some(col) = &column {
            push_dictionary(col, field, &mut values)?;
        }
        // The placeholder may also be a real value (`und`): one id for both,
        // so a report never shows two groups of the same name.
        let missing_id = match values.iter().position(|v| v == missing) {
            Some(i) => u32::try_from(i).unwrap_or(u32::MAX),
            None => {
                values.push(missing.to_string());
                u32::try_from(values.len() - 1).unwrap_or(u32::MAX)
            }
        };
        Ok(Self {
            column,
            values,
            missing_id,
        })
    }

    fn id(&self, doc: DocId) -> u32 {
        self.column
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .and_then(|o| u32::try_from(o).ok())
            .filter(|&o| (o as usize) < self.values.len())
            .unwrap_or(self.missing_id)
    }
}

pub(crate) struct TableSegmentCollector {
    time: Option<Column<tantivy::DateTime>>,
    source: Dict,
    country: Dict,
    lang: Dict,
    flags: Option<Column<u64>>,
    labelled: Option<Column<bool>>,
    cluster: Option<Column<u64>>,
    rows: Vec<CompactFact>,
}

impl Collector for TableCollector {
    type Fruit = FactTable;
    type Child = TableSegmentCollector;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<TableSegmentCollector> {
        let ff = reader.fast_fields();
        Ok(TableSegmentCollector {
            time: ff.column_opt(F_PUBLISHED)?,
            source: Dict::open(reader, F_SOURCE, "")?,
            country: Dict::open(reader, F_COUNTRY, "")?,
            lang: Dict::open(reader, F_LANG, UNKNOWN_LANG)?,
            flags: ff.column_opt(F_LABEL_FLAGS)?,
            labelled: ff.column_opt(F_LABELLED)?,
            cluster: ff.column_opt(F_CLUSTER_KEY)?,
            rows: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FactTable>) -> tantivy::Result<FactTable> {
        let mut fruits = fruits.into_iter();
        let mut all = fruits.next().unwrap_or_default();
        for f in fruits {
            all.append(f);
        }
        Ok(all)
    }
}

impl SegmentCollector for TableSegmentCollector {
    type Fruit = FactTable;

    fn collect(&mut self, doc: DocId, _score: Score) {
        // Every indexed document has a trend time; a row without one could
        // only come from a foreign index and is skipped rather than guessed.
        let Some(time) = self.time.as_ref().and_then(|c| c.first(doc)) else {
            return;
        };
        let labelled = self
            .labelled
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(false);
        let raw = if labelled {
            self.flags.as_ref().and_then(|c| c.first(doc)).unwrap_or(0)
        } else {
            0
        };
        // The 8 label bits (LABEL_NAMES), then the speaker roles.
        let flags = (raw & 0xff) as u8;
        let speakers = crate::schema::speaker_bits(raw);
        self.rows.push(CompactFact {
            time_us: time.into_timestamp_micros(),
            cluster: self
                .cluster
                .as_ref()
                .and_then(|c| c.first(doc))
                .unwrap_or(0),
            source: self.source.id(doc),
            country: self.country.id(doc),
            lang: self.lang.id(doc),
            flags,
            speakers,
            labelled,
        });
    }

    fn harvest(self) -> FactTable {
        FactTable {
            sources: self.source.values,
            countries: self.country.values,
            langs: self.lang.values,
            rows: self.rows,
        }
    }
}
