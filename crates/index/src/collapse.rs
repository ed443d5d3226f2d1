//! One hit per near-duplicate cluster (`SearchRequest::collapse_clusters`).
//!
//! A syndicated agency story appears on many portals; a reader searching
//! wants it once, with a note of how many copies matched. The collector
//! keeps, per cluster, the best document (highest score when ranking by
//! relevance, newest when ranking by date; the other key breaks ties) and
//! the number of matching copies. Clusters are identified by the 64-bit
//! `cluster_key` column (a hash of the cluster id), so no string is read.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::schema::{F_CLUSTER_KEY, F_PUBLISHED};

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
pub(crate) fn top_collapsed(mut all: Vec<Collapsed>, by_date: bool, keep: usize) -> Vec<Collapsed> {
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
