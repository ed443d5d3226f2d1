//! One hit per near-duplicate cluster (`SearchRequest::collapse_clusters`).
//!
//! A syndicated agency story appears on many portals; a reader searching
//! wants it once, with a note of how many copies matched. A cluster is
//! represented by its best matching copy (highest score when ranking by
//! relevance, newest when ranking by date; the other key, then the
//! document address, breaks ties), and clusters rank by their
//! representatives.
//!
//! Exact top-k without grouping every match: the matches are ranked in
//! that same total order and walked from the top, keeping the first hit of
//! each cluster. The first hit of a cluster in that order *is* its
//! representative, and the first k distinct clusters met are the top k
//! clusters. So [`Index::search`](crate::Index::search) ranks only the
//! top `4 × (offset + limit)` matches, and ranks more (four times as
//! many each round) only when those hold too few distinct clusters.
//!
//! In the same pass as ranking, [`ClusterCountCollector`] counts matches
//! per cluster in a dense vector per segment (through the segment's
//! [`ClusterTable`], no hashing per match), which gives the number of
//! matching clusters (`total`) and the copies behind each shown hit.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::segcache::{ClusterTable, SegmentCache, NO_CLUSTER};

/// Hasher for keys that are already well-mixed 64-bit hashes (cluster
/// keys): it passes the value through instead of hashing it again.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only used for non-u64 keys, which the maps here never have;
        // fold the bytes in so the hasher stays correct anyway.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// A set of cluster keys.
pub(crate) type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

/// Counts matching documents per cluster (see the module docs).
pub(crate) struct ClusterCountCollector<'a> {
    pub cache: &'a SegmentCache,
}

/// What one segment counted.
pub(crate) struct SegmentClusterCounts {
    segment: SegmentOrdinal,
    table: Arc<ClusterTable>,
    /// Matches per cluster ordinal of `table`.
    counts: Vec<u32>,
    /// Matches without a cluster key (each its own cluster).
    singles: u64,
}

/// Per-cluster match counts of a whole search.
pub(crate) struct ClusterCounts {
    segments: Vec<SegmentClusterCounts>,
}

impl ClusterCounts {
    fn segment(&self, ord: SegmentOrdinal) -> Option<&SegmentClusterCounts> {
        self.segments.iter().find(|s| s.segment == ord)
    }

    /// Matching documents.
    pub fn matches(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.singles + s.counts.iter().map(|&c| u64::from(c)).sum::<u64>())
            .sum()
    }

    /// Matching clusters (a document without a cluster key is one).
    pub fn clusters(&self) -> usize {
        let singles: u64 = self.segments.iter().map(|s| s.singles).sum();
        let with_matches: Vec<&SegmentClusterCounts> = self
            .segments
            .iter()
            .filter(|s| s.counts.iter().any(|&c| c > 0))
            .collect();
        let named = match with_matches.as_slice() {
            [] => 0,
            // One segment: its ordinals are distinct clusters.
            [one] => one.counts.iter().filter(|&&c| c > 0).count(),
            // A story's copies may sit in several segments: merge the
            // (sorted) matched keys of every segment and count them once.
            many => {
                let mut keys: Vec<u64> = many
                    .iter()
                    .flat_map(|s| {
                        s.counts
                            .iter()
                            .zip(&s.table.keys)
                            .filter(|(&c, _)| c > 0)
                            .map(|(_, &k)| k)
                    })
                    .collect();
                // Sorted runs: the stable sort merges them in O(n log runs).
                keys.sort();
                keys.dedup();
                keys.len()
            }
        };
        usize::try_from(singles)
            .unwrap_or(usize::MAX)
            .saturating_add(named)
    }

    /// The cluster key of a matching document; `None` when it has none.
    pub fn key_of(&self, addr: DocAddress) -> Option<u64> {
        self.segment(addr.segment_ord)
            .and_then(|s| s.table.key_of(addr.doc_id))
    }

    /// Matching documents of the cluster `key`, over every segment.
    pub fn members(&self, key: u64) -> usize {
        self.segments
            .iter()
            .filter_map(|s| s.table.ord_of(key).and_then(|o| s.counts.get(o)))
            .map(|&c| c as usize)
            .sum()
    }
}

impl Collector for ClusterCountCollector<'_> {
    type Fruit = ClusterCounts;
    type Child = ClusterCountSegmentCollector;

    fn for_segment(
        &self,
        segment_local_id: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<ClusterCountSegmentCollector> {
        let table = self.cache.clusters(reader)?;
        Ok(ClusterCountSegmentCollector(SegmentClusterCounts {
            segment: segment_local_id,
            counts: vec![0; table.keys.len()],
            table,
            singles: 0,
        }))
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentClusterCounts>) -> tantivy::Result<ClusterCounts> {
        Ok(ClusterCounts { segments: fruits })
    }
}

pub(crate) struct ClusterCountSegmentCollector(SegmentClusterCounts);

impl SegmentCollector for ClusterCountSegmentCollector {
    type Fruit = SegmentClusterCounts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let s = &mut self.0;
        let ord = s.table.doc_cluster.get(doc as usize).copied();
        match ord.filter(|&o| o != NO_CLUSTER) {
            Some(o) => {
                if let Some(c) = s.counts.get_mut(o as usize) {
                    *c = c.saturating_add(1);
                }
            }
            None => s.singles += 1,
        }
    }

    fn harvest(self) -> SegmentClusterCounts {
        self.0
    }
}

/// Walks `ranked` (matches best first, in the collapse order) and keeps the
/// first hit of each cluster until `want` clusters are found: their
/// representatives, best first, each with the number of matching copies.
pub(crate) fn first_of_each_cluster(
    ranked: &[(Score, DocAddress)],
    counts: &ClusterCounts,
    want: usize,
) -> Vec<(Score, DocAddress, usize)> {
    let mut seen = KeySet::default();
    let mut out = Vec::with_capacity(want.min(ranked.len()));
    for &(score, addr) in ranked {
        if out.len() >= want {
            break;
        }
        match counts.key_of(addr) {
            Some(key) => {
                if seen.insert(key) {
                    out.push((score, addr, counts.members(key).max(1)));
                }
            }
            None => out.push((score, addr, 1)),
        }
    }
    out
}

/// The previous implementation, which groups every match: the reference
/// the tests compare the top-k walk with.
#[cfg(test)]
pub(crate) mod reference {
    use super::*;
    use crate::schema::{F_CLUSTER_KEY, F_PUBLISHED};
    use std::collections::HashMap;
    use tantivy::columnar::Column;

    /// A map keyed by cluster keys.
    pub(crate) type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

    /// The representative of one cluster.
    #[derive(Debug, Clone)]
    pub(crate) struct Collapsed {
        pub score: Score,
        /// Trend time in microseconds (`i64::MIN` when unknown).
        pub time: i64,
        pub addr: DocAddress,
        /// Matching documents of the cluster, the representative included.
        pub members: usize,
    }

    impl Collapsed {
        /// Whether `self` ranks before `other`. Ties end on the address so the
        /// order never depends on hash-map iteration.
        fn before(&self, other: &Collapsed, by_date: bool) -> bool {
            let (a, b) = if by_date {
                ((self.time, self.score), (other.time, other.score))
            } else {
                // Scores are finite BM25 values; total_cmp keeps this a total order.
                match self.score.total_cmp(&other.score) {
                    std::cmp::Ordering::Equal => ((self.time, 0.0), (other.time, 0.0)),
                    std::cmp::Ordering::Greater => return true,
                    std::cmp::Ordering::Less => return false,
                }
            };
            match a.0.cmp(&b.0) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => match a.1.total_cmp(&b.1) {
                    std::cmp::Ordering::Greater => true,
                    std::cmp::Ordering::Less => false,
                    std::cmp::Ordering::Equal => self.addr < other.addr,
                },
            }
        }
    }

    /// Collects one [`Collapsed`] per cluster, ranked best first.
    pub(crate) struct CollapseCollector {
        pub by_date: bool,
    }

    pub(crate) struct CollapseSegmentCollector {
        by_date: bool,
        segment: SegmentOrdinal,
        time: Option<Column<tantivy::DateTime>>,
        cluster: Option<Column<u64>>,
        best: KeyMap<Collapsed>,
        /// Documents without a cluster value: each is its own cluster.
        singles: Vec<Collapsed>,
    }

    fn keep_better(slot: &mut Collapsed, new: Collapsed, by_date: bool) {
        let members = slot.members + new.members;
        if new.before(slot, by_date) {
            *slot = new;
        }
        slot.members = members;
    }

    impl Collector for CollapseCollector {
        type Fruit = Vec<Collapsed>;
        type Child = CollapseSegmentCollector;

        fn for_segment(
            &self,
            segment_local_id: SegmentOrdinal,
            reader: &SegmentReader,
        ) -> tantivy::Result<CollapseSegmentCollector> {
            let ff = reader.fast_fields();
            Ok(CollapseSegmentCollector {
                by_date: self.by_date,
                segment: segment_local_id,
                time: ff.column_opt(F_PUBLISHED)?,
                cluster: ff.column_opt(F_CLUSTER_KEY)?,
                best: KeyMap::default(),
                singles: Vec::new(),
            })
        }

        fn requires_scoring(&self) -> bool {
            true
        }

        fn merge_fruits(
            &self,
            fruits: Vec<(KeyMap<Collapsed>, Vec<Collapsed>)>,
        ) -> tantivy::Result<Vec<Collapsed>> {
            let mut fruits = fruits.into_iter();
            let (mut by_cluster, mut out) = fruits.next().unwrap_or_default();
            for (named, singles) in fruits {
                out.extend(singles);
                for (cluster, c) in named {
                    match by_cluster.get_mut(&cluster) {
                        Some(slot) => keep_better(slot, c, self.by_date),
                        None => {
                            by_cluster.insert(cluster, c);
                        }
                    }
                }
            }
            out.extend(by_cluster.into_values());
            Ok(out)
        }
    }

    /// Ranks `all` best first and keeps the first `keep` of them: a partial
    /// selection, so a query matching 100 000 clusters does not sort them all.
    pub(crate) fn top_collapsed(
        mut all: Vec<Collapsed>,
        by_date: bool,
        keep: usize,
    ) -> Vec<Collapsed> {
        let order = |a: &Collapsed, b: &Collapsed| {
            if a.before(b, by_date) {
                std::cmp::Ordering::Less
            } else if b.before(a, by_date) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        };
        if keep == 0 {
            return Vec::new();
        }
        if all.len() > keep {
            all.select_nth_unstable_by(keep - 1, order);
            all.truncate(keep);
        }
        all.sort_by(order);
        all
    }

    impl SegmentCollector for CollapseSegmentCollector {
        type Fruit = (KeyMap<Collapsed>, Vec<Collapsed>);

        fn collect(&mut self, doc: DocId, score: Score) {
            let time = self
                .time
                .as_ref()
                .and_then(|c| c.first(doc))
                .map(|t| t.into_timestamp_micros())
                .unwrap_or(i64::MIN);
            let c = Collapsed {
                score,
                time,
                addr: DocAddress::new(self.segment, doc),
                members: 1,
            };
            match self.cluster.as_ref().and_then(|col| col.first(doc)) {
                Some(key) => match self.best.get_mut(&key) {
                    Some(slot) => keep_better(slot, c, self.by_date),
                    None => {
                        self.best.insert(key, c);
                    }
                },
                None => self.singles.push(c),
            }
        }

        fn harvest(self) -> Self::Fruit {
            (self.best, self.singles)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use mediawatch_core::SourceMeta;

    use super::reference;
    use crate::{query, DocExtra, Index};

    /// Rng for the fixture (xorshift64*), so the test is deterministic.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        }
    }

    /// 600 documents in ~150 clusters (and some without a computed
    /// cluster), spread over several segments, with many exact score ties
    /// (identical texts) and time ties.
    fn fixture() -> Index {
        let index = Index::create_in_ram().unwrap();
        let w = index.writer(0).unwrap();
        let source = SourceMeta {
            name: "S".into(),
            languages: vec!["sr".into()],
            ..mediawatch_testkit::source("s")
        };
        let texts = [
            "migranti granica policija",
            "migranti su stigli na granicu",
            "policija i migranti migranti",
            "vlada zakon azil migranti",
            "granica kamp",
        ];
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let mut rng = Rng(7);
        for i in 0..600u64 {
            let url = format!("https://s/{i}");
            let title = if rng.below(5) == 0 {
                "migranti"
            } else {
                "vesti"
            };
            let doc = mediawatch_testkit::doc(&url)
                .source("s")
                .title(title)
                .text(texts[rng.below(texts.len() as u64) as usize])
                .published(start + chrono::Duration::days(rng.below(20) as i64))
                .fetched(start)
                .build();
            let extra = DocExtra {
                content_hash: None,
                cluster_id: (rng.below(10) != 0).then(|| format!("c{}", rng.below(150))),
            };
            w.upsert_with(doc, &source, &extra).unwrap();
            // Five commits, five segments: fewer than the eight that the
            // merge policy would merge (in the background, so the test
            // would see one segment or several depending on timing).
            if i % 150 == 0 {
                w.commit().unwrap();
            }
        }
        w.commit().unwrap();
        index
    }

    #[test]
    fn top_k_walk_equals_grouping_every_match() {
        let index = fixture();
        let searcher = index.inner.reader.searcher();
        assert!(searcher.segment_readers().len() > 1, "several segments");
        let f = &index.inner.fields;
        for q in ["migranti", "granica OR kamp", "", "policija migranti"] {
            let parsed = query::parse_user_query(&index.inner.index, f, q).unwrap();
            let no_filters = query::Filters {
                from: None,
                to: None,
                source: None,
                country: None,
                lang: None,
                kind: None,
                dated_only: false,
            };
            let full = query::with_filters(f, parsed.text, parsed.clauses, &no_filters).unwrap();
            for by_date in [false, true] {
                let all = searcher
                    .search(&*full, &reference::CollapseCollector { by_date })
                    .unwrap();
                let total = all.len();
                assert!(total > 20, "{q:?}: {total} clusters");
                for (offset, limit) in [(0, 10), (0, 1), (5, 7), (0, total + 5), (total - 3, 10)] {
                    let expected: Vec<_> =
                        reference::top_collapsed(all.clone(), by_date, offset + limit)
                            .into_iter()
                            .skip(offset)
                            .map(|c| (c.addr, c.members - 1))
                            .collect();
                    let (got_total, page, _) = index
                        .search_collapsed(&searcher, &*full, by_date, offset, limit, None)
                        .unwrap();
                    let got: Vec<_> = page.into_iter().map(|(_, a, d)| (a, d)).collect();
                    assert_eq!(got_total, total, "{q:?} by_date={by_date}");
                    assert_eq!(
                        got, expected,
                        "{q:?} by_date={by_date} offset={offset} limit={limit}"
                    );
                }
            }
        }
    }
}
