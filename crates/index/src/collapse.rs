//! One hit per near-duplicate cluster (`SearchRequest::collapse_clusters`).
//!
//! A syndicated agency story appears on many portals; a reader searching
//! wants it once, with a note of how many copies matched. The collector
//! keeps, per cluster, the best document (highest score when ranking by
//! relevance, newest when ranking by date; the other key breaks ties) and
//! the number of matching copies. Clusters are identified by term ordinal
//! inside a segment and by their string across segments, so only the
//! clusters that matched are decoded.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::facts::decode_sorted_ords;
use crate::schema::{F_CLUSTER, F_PUBLISHED};

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
    cluster: Option<StrColumn>,
    best: HashMap<u64, Collapsed>,
    /// Documents without a cluster value (an index written before clusters
    /// existed would have none): each is its own cluster.
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
            cluster: ff.str(F_CLUSTER)?,
            best: HashMap::new(),
            singles: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<(Vec<(String, Collapsed)>, Vec<Collapsed>)>,
    ) -> tantivy::Result<Vec<Collapsed>> {
        let mut by_cluster: HashMap<String, Collapsed> = HashMap::new();
        let mut out = Vec::new();
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
        let by_date = self.by_date;
        out.sort_by(|a, b| {
            if a.before(b, by_date) {
                std::cmp::Ordering::Less
            } else if b.before(a, by_date) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        Ok(out)
    }
}

impl SegmentCollector for CollapseSegmentCollector {
    type Fruit = (Vec<(String, Collapsed)>, Vec<Collapsed>);

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
        match self
            .cluster
            .as_ref()
            .and_then(|col| col.term_ords(doc).next())
        {
            Some(ord) => match self.best.get_mut(&ord) {
                Some(slot) => keep_better(slot, c, self.by_date),
                None => {
                    self.best.insert(ord, c);
                }
            },
            None => self.singles.push(c),
        }
    }

    fn harvest(self) -> Self::Fruit {
        let Some(column) = &self.cluster else {
            return (
                Vec::new(),
                self.best.into_values().chain(self.singles).collect(),
            );
        };
        let names = decode_sorted_ords(column, self.best.keys().copied());
        let mut named = Vec::with_capacity(self.best.len());
        let mut singles = self.singles;
        for (ord, c) in self.best {
            match names.get(&ord) {
                Some(name) => named.push((name.clone(), c)),
                // Undecodable ordinal: keep the hit rather than lose it.
                None => singles.push(c),
            }
        }
        (named, singles)
    }
}
