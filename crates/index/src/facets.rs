//! Facet counts over every matching document of a search (not only the
//! page): per source, country, language and label.
//!
//! Counting runs in the same pass as ranking. Per match it bumps one
//! counter, indexed by the document's combination of facet values in the
//! segment's [`FacetTable`] (built once per segment, see `segcache`): no
//! column read, hash or string per match. Combinations with a count are
//! decoded once per search and segment.

use std::collections::HashMap;
use std::sync::Arc;

use mediawatch_core::LABEL_NAMES;
use serde::Serialize;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::segcache::{FacetTable, SegmentCache};

/// One value of a facet and how many matching documents have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FacetCount {
    /// Source id, country code, language code or label name.
    pub value: String,
    /// Matching documents with this value.
    pub count: u64,
}

/// Counts over all documents that match a search (every copy of a
/// near-duplicate cluster counts, also when hits are collapsed). Lists are
/// sorted by count, largest first, then by value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
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

impl Facets {
    /// The facets of a collection from those of its shards (disjoint
    /// documents): counts added, lists sorted as one index sorts them.
    pub fn merge(parts: impl IntoIterator<Item = Facets>) -> Facets {
        let mut source = HashMap::new();
        let mut country = HashMap::new();
        let mut lang = HashMap::new();
        let mut labelled = 0;
        let mut label: Vec<FacetCount> = Vec::new();
        let list = |v: Vec<FacetCount>| v.into_iter().map(|c| (c.value, c.count)).collect();
        for p in parts {
            merge_into(&mut source, list(p.source));
            merge_into(&mut country, list(p.country));
            merge_into(&mut lang, list(p.lang));
            labelled += p.labelled;
            if label.is_empty() {
                label = p.label;
            } else {
                for (a, b) in label.iter_mut().zip(p.label) {
                    a.count += b.count;
                }
            }
        }
        Facets {
            source: sorted(source),
            country: sorted(country),
            lang: sorted(lang),
            labelled,
            label,
        }
    }
}

/// Collects [`Facets`], counting through the segments' [`FacetTable`]s.
pub(crate) struct FacetCollector<'a> {
    pub cache: &'a SegmentCache,
}

pub(crate) struct FacetSegmentCollector {
    table: Arc<FacetTable>,
    /// Matches per combination id of `table`.
    counts: Vec<u64>,
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

impl Collector for FacetCollector<'_> {
    type Fruit = Facets;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let table = self.cache.facets(reader)?;
        Ok(FacetSegmentCollector {
            counts: vec![0; table.combos.len()],
            table,
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
        let combo = self.table.doc_combo.get(doc as usize).copied();
        if let Some(c) = combo.and_then(|c| self.counts.get_mut(c as usize)) {
            *c += 1;
        }
    }

    fn harvest(self) -> SegmentFacets {
        let t = &self.table;
        let mut out = SegmentFacets {
            source: HashMap::new(),
            country: HashMap::new(),
            lang: HashMap::new(),
            labelled: 0,
            labels: [0; 8],
        };
        let name = |values: &[String], i: u32| values.get(i as usize).cloned().unwrap_or_default();
        for (combo, &count) in t.combos.iter().zip(&self.counts) {
            if count == 0 {
                continue;
            }
            *out.source
                .entry(name(&t.sources, combo.source))
                .or_insert(0) += count;
            *out.country
                .entry(name(&t.countries, combo.country))
                .or_insert(0) += count;
            *out.lang.entry(name(&t.langs, combo.lang)).or_insert(0) += count;
            if combo.labelled {
                out.labelled += count;
                for (i, c) in out.labels.iter_mut().enumerate() {
                    *c += ((combo.flags >> i) & 1) * count;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{TimeZone, Utc};
    use mediawatch_core::{Document, Labels, SourceMeta};

    use crate::{FactsFilter, Index, SearchRequest};

    fn source(id: &str, country: &str, langs: &[&str]) -> SourceMeta {
        SourceMeta {
            name: id.into(),
            country: country.into(),
            languages: langs.iter().map(|l| l.to_string()).collect(),
            ..mediawatch_testkit::source(id)
        }
    }

    /// Facets from the per-segment tables equal counts over the fact rows
    /// of the same documents: several segments, replaced documents
    /// (deleted copies must not count), documents without a language,
    /// labelled and unlabelled ones.
    #[test]
    fn table_facets_equal_counting_the_rows() {
        let index = Index::create_in_ram().unwrap();
        let w = index.writer(0).unwrap();
        let sources = [
            source("a", "RS", &["sr"]),
            source("b", "hr", &["hr"]),
            source("c", "AT", &[]),
            source("d", "HU", &["hu"]),
        ];
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        for round in 0..3 {
            for i in 0..120u32 {
                let s = &sources[(i % 4) as usize];
                let url = format!("https://{}/{i}", s.id);
                let labels = (i % 3 != 0).then(|| {
                    let mut l = Labels::default();
                    l.hate.score = (i % 10) as f32 / 10.0;
                    l.collective_labelling.score = ((i + round) % 7) as f32 / 7.0;
                    l.solutions.score = (i % 5) as f32 / 5.0;
                    l
                });
                let text = if i % 2 == 0 {
                    "migranti granica"
                } else {
                    "granica"
                };
                let doc = Document {
                    lang: (i % 5 == 0).then(|| "de".to_string()),
                    labels,
                    ..mediawatch_testkit::doc(&url)
                        .source(&s.id)
                        .title("vesti")
                        .text(text)
                        .published(start + chrono::Duration::hours(i64::from(i)))
                        .fetched(start)
                        .build()
                };
                w.upsert(doc, s).unwrap();
                if i % 50 == 0 {
                    w.commit().unwrap();
                }
            }
            w.commit().unwrap();
        }
        for q in ["", "migranti", "granica -migranti", "country:RS"] {
            let res = index
                .search(&SearchRequest {
                    query: q.into(),
                    ..Default::default()
                })
                .unwrap();
            let rows = index
                .facts(&FactsFilter {
                    query: Some(q.into()).filter(|q: &String| !q.is_empty()),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(res.total, rows.len(), "{q:?}");
            let mut expected: [HashMap<String, u64>; 3] = Default::default();
            let mut labelled = 0;
            let mut labels = [0u64; 8];
            for r in &rows {
                for (map, v) in expected.iter_mut().zip([&r.source, &r.country, &r.lang]) {
                    *map.entry(v.clone()).or_default() += 1;
                }
                if r.labelled {
                    labelled += 1;
                    for (c, f) in labels.iter_mut().zip(r.flags) {
                        *c += u64::from(f);
                    }
                }
            }
            let got = |list: &[super::FacetCount]| -> HashMap<String, u64> {
                list.iter().map(|c| (c.value.clone(), c.count)).collect()
            };
            assert_eq!(got(&res.facets.source), expected[0], "{q:?}");
            assert_eq!(got(&res.facets.country), expected[1], "{q:?}");
            assert_eq!(got(&res.facets.lang), expected[2], "{q:?}");
            assert_eq!(res.facets.labelled, labelled, "{q:?}");
            let got_labels: Vec<u64> = res.facets.label.iter().map(|c| c.count).collect();
            assert_eq!(got_labels, labels, "{q:?}");
            assert!(labels.iter().any(|&c| c > 0), "the fixture has labels");
        }
    }
}
