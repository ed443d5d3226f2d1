//! Per-segment lookup tables for facets and collapsing, built once per
//! segment and kept while the segment is live.
//!
//! A search that counts facets over 250 000 matches would otherwise read
//! five fast columns per match (three dictionary-encoded strings, the
//! label flags and the labelled flag): tens of nanoseconds each, through
//! dynamic dispatch and bit unpacking. Segments never change once written
//! (deletes only hide documents), so those reads can be done once per
//! segment and folded into one small integer per document:
//!
//! - [`FacetTable`]: per document, the id of its *combination* of source,
//!   country, language and label flags; a segment has a few thousand such
//!   combinations at most, so a search counts matches in a dense vector
//!   indexed by combination and decodes them once at the end.
//! - [`ClusterTable`]: per document, the ordinal of its `cluster_key` in
//!   the segment's sorted list of distinct keys, so collapsing counts
//!   copies per cluster in a dense vector instead of a hash map.
//!
//! Memory: 4 bytes per document for each table plus 8 bytes per distinct
//! cluster (about 16 MB per million documents with both built). Tables of
//! segments that merges removed are dropped on the next search.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, Mutex, OnceLock};

use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocId, SegmentReader};

use crate::collapse::KeyHasher;
use crate::schema::{
    F_CLUSTER_KEY, F_COUNTRY, F_LABELLED, F_LABEL_FLAGS, F_LANG, F_SOURCE, UNKNOWN_LANG,
};

/// Ordinal of documents without a cluster value in [`ClusterTable`].
pub(crate) const NO_CLUSTER: u32 = u32::MAX;

/// One combination of facet values. String values are indexes into the
/// table's decoded dictionaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Combo {
    pub source: u32,
    pub country: u32,
    pub lang: u32,
    pub labelled: bool,
    /// Label flag bits; 0 when not labelled.
    pub flags: u64,
}

/// Facet combination per document of one segment.
pub(crate) struct FacetTable {
    /// Combination id per document id.
    pub doc_combo: Vec<u32>,
    /// Combinations by id.
    pub combos: Vec<Combo>,
    /// Decoded values of the string columns, by the indexes in [`Combo`].
    pub sources: Vec<String>,
    pub countries: Vec<String>,
    pub langs: Vec<String>,
}

/// Cluster ordinal per document of one segment.
pub(crate) struct ClusterTable {
    /// Index into `keys` per document id; [`NO_CLUSTER`] when the
    /// document has no cluster key (it is its own cluster).
    pub doc_cluster: Vec<u32>,
    /// Distinct cluster keys of the segment, sorted.
    pub keys: Vec<u64>,
}

impl ClusterTable {
    /// The cluster key of a document, `None` when it has none.
    pub fn key_of(&self, doc: DocId) -> Option<u64> {
        self.doc_cluster
            .get(doc as usize)
            .and_then(|&o| self.keys.get(o as usize))
            .copied()
    }

    /// The ordinal of `key` in this segment, if any document has it.
    pub fn ord_of(&self, key: u64) -> Option<usize> {
        self.keys.binary_search(&key).ok()
    }
}

#[derive(Default)]
struct Entry {
    facets: OnceLock<Arc<FacetTable>>,
    clusters: OnceLock<Arc<ClusterTable>>,
}

/// The tables of every live segment of one index.
#[derive(Default)]
pub(crate) struct SegmentCache {
    entries: Mutex<HashMap<SegmentId, Arc<Entry>>>,
}

impl SegmentCache {
    fn entry(&self, segment: SegmentId) -> Arc<Entry> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(segment).or_default())
    }

    /// Drops the tables of segments that are not in `live` (merged away).
    pub fn retain(&self, live: &[SegmentId]) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > live.len() {
            map.retain(|id, _| live.contains(id));
        }
    }

    /// The facet table of a segment, built on first use.
    pub fn facets(&self, reader: &SegmentReader) -> tantivy::Result<Arc<FacetTable>> {
        let entry = self.entry(reader.segment_id());
        if let Some(t) = entry.facets.get() {
            return Ok(Arc::clone(t));
        }
        // Built outside the lock: two searches may both build a new
        // segment's table; one result is kept, both are equal.
        let built = Arc::new(build_facets(reader)?);
        Ok(Arc::clone(entry.facets.get_or_init(|| built)))
    }

    /// The cluster table of a segment, built on first use.
    pub fn clusters(&self, reader: &SegmentReader) -> tantivy::Result<Arc<ClusterTable>> {
        let entry = self.entry(reader.segment_id());
        if let Some(t) = entry.clusters.get() {
            return Ok(Arc::clone(t));
        }
        let built = Arc::new(build_clusters(reader)?);
        Ok(Arc::clone(entry.clusters.get_or_init(|| built)))
    }
}

/// A string column's dictionary, decoded, with one extra entry for
/// documents without a value (shared with a real value of the same name).
struct Dict {
    column: Option<StrColumn>,
    missing: u32,
}

fn open_dict(
    reader: &SegmentReader,
    field: &str,
    missing_as: &str,
    values: &mut Vec<String>,
) -> tantivy::Result<Dict> {
    let column = reader.fast_fields().str(field)?;
    if let Some(col) = &column {
        crate::trend::push_dictionary(col, field, values)?;
    }
    let missing = match values.iter().position(|v| v == missing_as) {
        Some(i) => i,
        None => {
            values.push(missing_as.to_string());
            values.len() - 1
        }
    };
    Ok(Dict {
        column,
        missing: u32::try_from(missing).unwrap_or(u32::MAX),
    })
}

impl Dict {
    fn id(&self, doc: DocId, len: usize) -> u32 {
        self.column
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .filter(|&o| (o as usize) < len)
            .and_then(|o| u32::try_from(o).ok())
            .unwrap_or(self.missing)
    }
}

fn build_facets(reader: &SegmentReader) -> tantivy::Result<FacetTable> {
    let ff = reader.fast_fields();
    let (mut sources, mut countries, mut langs) = (Vec::new(), Vec::new(), Vec::new());
    let source = open_dict(reader, F_SOURCE, "", &mut sources)?;
    let country = open_dict(reader, F_COUNTRY, "", &mut countries)?;
    let lang = open_dict(reader, F_LANG, UNKNOWN_LANG, &mut langs)?;
    let flags: Option<Column<u64>> = ff.column_opt(F_LABEL_FLAGS)?;
    let labelled: Option<Column<bool>> = ff.column_opt(F_LABELLED)?;
    let max_doc = reader.max_doc();
    let mut doc_combo = Vec::with_capacity(max_doc as usize);
    let mut combos = Vec::new();
    let mut ids: HashMap<Combo, u32> = HashMap::new();
    for doc in 0..max_doc {
        let is_labelled = labelled
            .as_ref()
            .and_then(|c| c.first(doc))
            .unwrap_or(false);
        let combo = Combo {
            source: source.id(doc, sources.len()),
            country: country.id(doc, countries.len()),
            lang: lang.id(doc, langs.len()),
            labelled: is_labelled,
            flags: if is_labelled {
                flags.as_ref().and_then(|c| c.first(doc)).unwrap_or(0)
            } else {
                0
            },
        };
        let id = *ids.entry(combo).or_insert_with(|| {
            combos.push(combo);
            u32::try_from(combos.len() - 1).unwrap_or(u32::MAX)
        });
        doc_combo.push(id);
    }
    Ok(FacetTable {
        doc_combo,
        combos,
        sources,
        countries,
        langs,
    })
}

fn build_clusters(reader: &SegmentReader) -> tantivy::Result<ClusterTable> {
    let column: Option<Column<u64>> = reader.fast_fields().column_opt(F_CLUSTER_KEY)?;
    let max_doc = reader.max_doc();
    let Some(column) = column else {
        return Ok(ClusterTable {
            doc_cluster: vec![NO_CLUSTER; max_doc as usize],
            keys: Vec::new(),
        });
    };
    let doc_keys: Vec<Option<u64>> = (0..max_doc).map(|d| column.first(d)).collect();
    let mut keys: Vec<u64> = doc_keys.iter().flatten().copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let ords: HashMap<u64, u32, BuildHasherDefault<KeyHasher>> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, u32::try_from(i).unwrap_or(NO_CLUSTER)))
        .collect();
    let doc_cluster = doc_keys
        .iter()
        .map(|k| k.and_then(|k| ords.get(&k).copied()).unwrap_or(NO_CLUSTER))
        .collect();
    Ok(ClusterTable { doc_cluster, keys })
}
