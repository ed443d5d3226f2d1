//! Facet counts over every matching document of a search (not only the
//! page): per source, country, language and label.
//!
//! Counting runs in the same pass as ranking. Per segment it reads term
//! ordinals of the dictionary-encoded string columns into one counter per
//! ordinal (no string per document) and the label bitmask; only ordinals
//! with a count are decoded, once per segment.

use std::collections::HashMap;

use mediawatch_core::LABEL_NAMES;
use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::schema::{F_COUNTRY, F_LABELLED, F_LABEL_FLAGS, F_LANG, F_SOURCE, UNKNOWN_LANG};

/// One value of a facet and how many matching documents have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FacetCount {
    /// Source id, country code, language code or label name.
    pub value: String,
    /// Matching documents with this value.
    pub count: u64,
}

/// Counts over all documents that match a search (every copy of a
/// near-duplicate cluster counts, also when hits are collapsed). Lists are
/// sorted by count, largest first, then by value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facets {
    /// Per source id.
    pub source: Vec<FacetCount>,
    /// Per country code.
    pub country: Vec<FacetCount>,
    /// Per language code (`und` when unknown).
    pub lang: Vec<FacetCount>,
    /// Matching documents that have been classified.
    pub labelled: u64,
    /// Per label present at the default threshold, every name of
    /// `LABEL_NAMES` in that order (zero counts included), over the
    /// classified matching documents.
    pub label: Vec<FacetCount>,
}

/// Collects [`Facets`].
pub(crate) struct FacetCollector;

/// Per-ordinal counters of one string column of one segment.
struct OrdCounts {
    column: Option<StrColumn>,
    counts: Vec<u64>,
    missing: u64,
}

impl OrdCounts {
    fn open(reader: &SegmentReader, field: &str) -> tantivy::Result<Self> {
        let column = reader.fast_fields().str(field)?;
        let n = column.as_ref().map_or(0, |c| c.num_terms());
        Ok(Self {
            column,
            counts: vec![0; n],
            missing: 0,
        })
    }

    fn add(&mut self, doc: DocId) {
        let ord = self
            .column
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .and_then(|o| usize::try_from(o).ok());
        match ord.and_then(|o| self.counts.get_mut(o)) {
            Some(c) => *c += 1,
            None => self.missing += 1,
        }
    }

    /// Decodes the counted ordinals; `missing_as` names documents without
    /// a value (or with an undecodable one).
    fn harvest(self, missing_as: &str) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        let mut missing = self.missing;
        let mut buf = String::new();
        for (ord, &count) in self.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            buf.clear();
            let decoded = self
                .column
                .as_ref()
                .is_some_and(|c| c.ord_to_str(ord as u64, &mut buf).unwrap_or(false));
            if decoded {
                *out.entry(buf.clone()).or_insert(0) += count;
            } else {
                missing += count;
            }
        }
        if missing > 0 {
            *out.entry(missing_as.to_string()).or_insert(0) += missing;
        }
        out
    }
}

pub(crate) struct FacetSegmentCollector {
    source: OrdCounts,
    country: OrdCounts,
    lang: OrdCounts,
    flags: Option<Column<u64>>,
    labelled: Option<Column<bool>>,
    labelled_count: u64,
    label_counts: [u64; 8],
}

/// What one segment counted, with values decoded.
pub(crate) struct SegmentFacets {
    source: HashMap<String, u64>,
    country: HashMap<String, u64>,
    lang: HashMap<String, u64>,
    labelled: u64,
    labels: [u64; 8],
}

fn sorted(map: HashMap<String, u64>) -> Vec<FacetCount> {
    let mut v: Vec<FacetCount> = map
        .into_iter()
        .map(|(value, count)| FacetCount { value, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    v
}

fn merge_into(into: &mut HashMap<String, u64>, from: HashMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

impl Collector for FacetCollector {
    type Fruit = Facets;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let ff = reader.fast_fields();
        Ok(FacetSegmentCollector {
            source: OrdCounts::open(reader, F_SOURCE)?,
            country: OrdCounts::open(reader, F_COUNTRY)?,
            lang: OrdCounts::open(reader, F_LANG)?,
            flags: ff.column_opt(F_LABEL_FLAGS)?,
            labelled: ff.column_opt(F_LABELLED)?,
            labelled_count: 0,
            label_counts: [0; 8],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFacets>) -> tantivy::Result<Facets> {
        let mut source = HashMap::new();
        let mut country = HashMap::new();
        let mut lang = HashMap::new();
        let mut labelled = 0;
        let mut labels = [0u64; 8];
        for f in fruits {
            merge_into(&mut source, f.source);
            merge_into(&mut country, f.country);
            merge_into(&mut lang, f.lang);
            labelled += f.labelled;
            for (a, b) in labels.iter_mut().zip(f.labels) {
                *a += b;
            }
        }
        Ok(Facets {
            source: sorted(source),
            country: sorted(country),
            lang: sorted(lang),
            labelled,
            label: LABEL_NAMES
                .iter()
                .zip(labels)
                .map(|(name, count)| FacetCount {
                    value: name.to_string(),
                    count,
                })
                .collect(),
        })
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = SegmentFacets;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.source.add(doc);
        self.country.add(doc);
        self.lang.add(doc);
        let labelled = self
            .labelled
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(false);
        if labelled {
            self.labelled_count += 1;
            let bits = self.flags.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
            for (i, c) in self.label_counts.iter_mut().enumerate() {
                *c += (bits >> i) & 1;
            }
        }
    }

    fn harvest(self) -> SegmentFacets {
        SegmentFacets {
            source: self.source.harvest(""),
            country: self.country.harvest(""),
            lang: self.lang.harvest(UNKNOWN_LANG),
            labelled: self.labelled_count,
            labels: self.label_counts,
        }
    }
}
