//! A compact, columnar form of the fact rows, and reports built from it.
//!
//! [`DocFacts`] rows carry four strings each, which is fine for thousands
//! of documents and slow for a million (an allocation per string per row).
//! A [`FactTable`] stores each distinct source, country and language once
//! and gives rows small integer ids, plus the cluster as a 64-bit key, so
//! a row is 32 bytes and counting allocates nothing per row.
//! [`build_report_table`] gives exactly what [`crate::build_report`] gives
//! for the same rows (a unit test holds them together).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::{Acc, DocFacts, GroupBy, Interval, Report, ReportRequest, UNTAGGED};

/// 64-bit FNV-1a of a near-duplicate cluster id; never 0, which means "no
/// cluster" in a [`FactTable`]. Stable across builds and platforms: the
/// index stores it.
pub fn cluster_key(cluster_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cluster_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

/// One document in a [`FactTable`]; ids index the table's dictionaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactFact {
    /// Trend time, microseconds since the Unix epoch (UTC).
    pub time_us: i64,
    /// [`cluster_key`] of the near-duplicate cluster; 0 when unknown (such
    /// a row is never merged with another).
    pub cluster: u64,
    /// Index into [`FactTable::sources`].
    pub source: u32,
    /// Index into [`FactTable::countries`].
    pub country: u32,
    /// Index into [`FactTable::langs`].
    pub lang: u32,
    /// Label flags, bit `i` = `LABEL_NAMES[i]`; 0 when unlabelled.
    pub flags: u8,
    /// Speaker roles of the hostile statements ([`DocFacts::speakers`]).
    pub speakers: u8,
    /// Whether the document has been classified.
    pub labelled: bool,
}

/// Fact rows with their strings stored once (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FactTable {
    /// Distinct source ids.
    pub sources: Vec<String>,
    /// Distinct country codes.
    pub countries: Vec<String>,
    /// Distinct language codes.
    pub langs: Vec<String>,
    /// One row per document, in no particular order.
    pub rows: Vec<CompactFact>,
}

fn intern(dict: &mut Vec<String>, index: &mut HashMap<String, u32>, value: &str) -> u32 {
    if let Some(&id) = index.get(value) {
        return id;
    }
    let id = u32::try_from(dict.len()).unwrap_or(u32::MAX);
    dict.push(value.to_string());
    index.insert(value.to_string(), id);
    id
}

fn index_of(dict: &[String]) -> HashMap<String, u32> {
    dict.iter()
        .enumerate()
        .map(|(i, v)| (v.clone(), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect()
}

/// Maps the ids of `from` to ids of `into`, adding missing values.
fn remap(into: &mut Vec<String>, from: Vec<String>) -> Vec<u32> {
    let mut index = index_of(into);
    from.iter().map(|v| intern(into, &mut index, v)).collect()
}

fn bits(flags: &[bool; 8]) -> u8 {
    flags
        .iter()
        .enumerate()
        .fold(0u8, |acc, (i, &on)| if on { acc | (1 << i) } else { acc })
}

impl FactTable {
    /// The table of `rows` (clusters become [`cluster_key`]s; kinds are
    /// dropped, reports do not group by them).
    pub fn from_rows(rows: &[DocFacts]) -> FactTable {
        let mut t = FactTable::default();
        let (mut si, mut ci, mut li) = (HashMap::new(), HashMap::new(), HashMap::new());
        for r in rows {
            let row = CompactFact {
                time_us: r.time.timestamp_micros(),
                cluster: if r.cluster.is_empty() {
                    0
                } else {
                    cluster_key(&r.cluster)
                },
                source: intern(&mut t.sources, &mut si, &r.source),
                country: intern(&mut t.countries, &mut ci, &r.country),
                lang: intern(&mut t.langs, &mut li, &r.lang),
                flags: if r.labelled { bits(&r.flags) } else { 0 },
                speakers: if r.labelled { r.speakers } else { 0 },
                labelled: r.labelled,
            };
            t.rows.push(row);
        }
        t
    }

    /// Moves the rows of `other` into `self`, translating its ids.
    pub fn append(&mut self, other: FactTable) {
        let s = remap(&mut self.sources, other.sources);
        let c = remap(&mut self.countries, other.countries);
        let l = remap(&mut self.langs, other.langs);
        let id = |map: &[u32], i: u32| map.get(i as usize).copied().unwrap_or(u32::MAX);
        self.rows.reserve(other.rows.len());
        for r in other.rows {
            self.rows.push(CompactFact {
                source: id(&s, r.source),
                country: id(&c, r.country),
                lang: id(&l, r.lang),
                ..r
            });
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Days from 0001-01-01 (chrono's "days from CE") to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// [`Interval::bucket_ord`] of a time in microseconds: days by arithmetic,
/// weeks and months through chrono once per distinct day.
struct BucketOf {
    interval: Interval,
    by_day: HashMap<i64, i64>,
}

impl BucketOf {
    fn get(&mut self, time_us: i64) -> i64 {
        let day = time_us.div_euclid(MICROS_PER_DAY);
        if self.interval == Interval::Day {
            return day + UNIX_EPOCH_DAYS_FROM_CE;
        }
        let interval = self.interval;
        *self.by_day.entry(day).or_insert_with(|| {
            DateTime::<Utc>::from_timestamp_micros(day * MICROS_PER_DAY)
                .map_or(i64::MIN, |t| interval.bucket_ord(t))
        })
    }
}

/// The groups of a report over a table: names, and the group ids of a row.
enum Groups<'a> {
    None,
    Column(&'a [String], fn(&CompactFact) -> u32),
    Audience {
        names: Vec<&'a str>,
        of_source: Vec<Vec<u32>>,
    },
    /// Speaker roles: group `i` = `SpeakerRole::ALL[i]`, then `none`.
    Speaker,
}

impl<'a> Groups<'a> {
    fn new(t: &'a FactTable, req: &'a ReportRequest) -> Groups<'a> {
        match req.by {
            GroupBy::None => Groups::None,
            GroupBy::Source => Groups::Column(&t.sources, |r| r.source),
            GroupBy::Country => Groups::Column(&t.countries, |r| r.country),
            GroupBy::Language => Groups::Column(&t.langs, |r| r.lang),
            GroupBy::Audience => {
                let mut names: Vec<&str> = Vec::new();
                let mut ids: HashMap<&str, u32> = HashMap::new();
                let mut id_of = |name: &'a str, names: &mut Vec<&'a str>| {
                    *ids.entry(name).or_insert_with(|| {
                        names.push(name);
                        u32::try_from(names.len() - 1).unwrap_or(u32::MAX)
                    })
                };
                let of_source = t
                    .sources
                    .iter()
                    .map(|s| match req.audience.get(s) {
                        Some(tags) if !tags.is_empty() => tags
                            .iter()
                            .map(|tag| id_of(tag.as_str(), &mut names))
                            .collect(),
                        _ => vec![id_of(UNTAGGED, &mut names)],
                    })
                    .collect();
                Groups::Audience { names, of_source }
            }
            GroupBy::Speaker => Groups::Speaker,
        }
    }

    fn for_each(&self, row: &CompactFact, mut f: impl FnMut(u32)) {
        match self {
            Groups::None => f(0),
            Groups::Column(_, pick) => f(pick(row)),
            Groups::Audience { of_source, .. } => {
                if let Some(ids) = of_source.get(row.source as usize) {
                    ids.iter().for_each(|&g| f(g));
                }
            }
            Groups::Speaker => {
                let roles = mediawatch_core::SpeakerRole::ALL.len() as u32;
                if row.speakers == 0 {
                    f(roles);
                }
                (0..roles)
                    .filter(|i| row.speakers & (1 << i) != 0)
                    .for_each(f);
            }
        }
    }

    fn name(&self, id: u32) -> Option<&str> {
        match self {
            Groups::None => None,
            Groups::Column(names, _) => Some(names.get(id as usize).map_or("", String::as_str)),
            Groups::Audience { names, .. } => Some(names.get(id as usize).copied().unwrap_or("")),
            Groups::Speaker => Some(
                mediawatch_core::SpeakerRole::ALL
                    .get(id as usize)
                    .map_or(crate::NO_SPEAKER, |r| r.as_str()),
            ),
        }
    }
}

/// [`crate::build_report`] over a [`FactTable`]: the same report for the
/// same rows, without a string per row.
pub fn build_report_table(t: &FactTable, req: &ReportRequest) -> Report {
    let groups = Groups::new(t, req);
    let mut bucket_of = BucketOf {
        interval: req.interval,
        by_day: HashMap::new(),
    };
    let from = req.from.map(|f| f.timestamp_micros());
    let to = req.to.map(|t| t.timestamp_micros());
    let in_range = |r: &&CompactFact| {
        !(from.is_some_and(|f| r.time_us < f) || to.is_some_and(|t| r.time_us >= t))
    };
    let mut buckets: HashMap<(i64, u32), Acc> = HashMap::new();
    let mut totals = Acc::default();
    if req.count_clusters_once {
        // Same visiting order as `build_report`: time, then source id; a
        // stable sort keeps the table order among equal keys.
        let mut rank = vec![0u32; t.sources.len()];
        let mut by_name: Vec<usize> = (0..t.sources.len()).collect();
        by_name.sort_by(|&a, &b| t.sources[a].cmp(&t.sources[b]));
        for (r, &i) in by_name.iter().enumerate() {
            rank[i] = u32::try_from(r).unwrap_or(u32::MAX);
        }
        let source_rank = |r: &CompactFact| rank.get(r.source as usize).copied().unwrap_or(0);
        let mut ordered: Vec<&CompactFact> = t.rows.iter().filter(in_range).collect();
        ordered.sort_by_key(|r| (r.time_us, source_rank(r)));
        let mut seen_in_bucket: HashSet<(i64, u32, u64)> = HashSet::new();
        let mut seen_total: HashSet<u64> = HashSet::new();
        for row in ordered {
            let ord = bucket_of.get(row.time_us);
            groups.for_each(row, |g| {
                if row.cluster == 0 || seen_in_bucket.insert((ord, g, row.cluster)) {
                    buckets.entry((ord, g)).or_default().add_compact(row);
                }
            });
            if row.cluster == 0 || seen_total.insert(row.cluster) {
                totals.add_compact(row);
            }
        }
    } else {
        for row in t.rows.iter().filter(in_range) {
            let ord = bucket_of.get(row.time_us);
            groups.for_each(row, |g| {
                buckets.entry((ord, g)).or_default().add_compact(row)
            });
            totals.add_compact(row);
        }
    }
    let sorted: BTreeMap<(i64, Option<&str>), Acc> = buckets
        .into_iter()
        .map(|((ord, g), acc)| ((ord, groups.name(g)), acc))
        .collect();
    crate::assemble(req, sorted, &totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_report;
    use chrono::TimeZone;
    use mediawatch_core::DocKind;

    /// Deterministic pseudo-random rows over a few sources, countries,
    /// languages, clusters and two years, some unlabelled.
    fn rows(n: usize) -> Vec<DocFacts> {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let start = Utc.with_ymd_and_hms(2023, 12, 20, 0, 0, 0).unwrap();
        (0..n)
            .map(|_| {
                let r = next();
                let labelled = r % 4 != 0;
                DocFacts {
                    time: start + chrono::Duration::minutes((next() % (400 * 24 * 60)) as i64),
                    source: format!("s{}", next() % 7),
                    country: ["RS", "HR", "HU"][(next() % 3) as usize].to_string(),
                    lang: ["sr", "hr", "hu", "und"][(next() % 4) as usize].to_string(),
                    kind: DocKind::Article,
                    flags: std::array::from_fn(|i| labelled && (r >> (8 + i)) & 1 == 1),
                    speakers: if labelled { ((r >> 20) & 0xf) as u8 } else { 0 },
                    labelled,
                    cluster: match next() % 5 {
                        0 => String::new(),
                        c => format!("c{}", (c * 31 + next() % 40) % 60),
                    },
                }
            })
            .collect()
    }

    #[test]
    fn table_reports_equal_row_reports() {
        let rows = rows(3_000);
        let table = FactTable::from_rows(&rows);
        let mut audience = BTreeMap::new();
        audience.insert(
            "s1".to_string(),
            vec!["youth".to_string(), "rural".to_string()],
        );
        audience.insert("s2".to_string(), vec!["rural".to_string()]);
        for interval in [Interval::Day, Interval::Week, Interval::Month] {
            for by in [
                GroupBy::None,
                GroupBy::Source,
                GroupBy::Country,
                GroupBy::Language,
                GroupBy::Audience,
                GroupBy::Speaker,
            ] {
                for dedup in [false, true] {
                    for (from, to) in [
                        (None, None),
                        (
                            Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()),
                            Some(Utc.with_ymd_and_hms(2024, 7, 1, 0, 0, 0).unwrap()),
                        ),
                    ] {
                        let req = ReportRequest {
                            interval,
                            by,
                            from,
                            to,
                            audience: audience.clone(),
                            count_clusters_once: dedup,
                        };
                        let a = build_report(&rows, &req);
                        let b = build_report_table(&table, &req);
                        assert_eq!(a, b, "{interval:?} {by:?} dedup={dedup} from={from:?}");
                        assert!(!a.buckets.is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn appended_tables_translate_ids() {
        let rows = rows(500);
        let (a, b) = rows.split_at(200);
        let mut t = FactTable::from_rows(&b[..0]);
        t.append(FactTable::from_rows(a));
        t.append(FactTable::from_rows(b));
        let req = ReportRequest {
            by: GroupBy::Source,
            count_clusters_once: true,
            ..Default::default()
        };
        assert_eq!(t.len(), 500);
        assert_eq!(build_report_table(&t, &req), build_report(&rows, &req));
        assert!(FactTable::default().is_empty());
    }

    #[test]
    fn cluster_keys_are_stable_and_never_zero() {
        assert_eq!(cluster_key(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(cluster_key("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(cluster_key("x1"), cluster_key("x2"));
    }
}
