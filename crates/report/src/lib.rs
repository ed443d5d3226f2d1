//! Trend reports: how often each label occurs per time bucket, optionally
//! per source, country or language.
//!
//! This crate only counts. It knows nothing about the index: the caller reads
//! one [`DocFacts`] row per document (the index crate does that from fast
//! fields, without loading stored documents) and passes the rows to
//! [`build_report`]. Keeping the counting here, over plain rows, means a
//! report can be rebuilt from any store (tantivy today, a shared database in
//! the scale-out setup) and tested without an index.
//!
//! Conventions:
//! - Buckets are computed in UTC. Weeks are ISO 8601 weeks (Monday first, the
//!   week belongs to the ISO year that holds its Thursday), so 2024-12-30 is
//!   in `2025-W01`.
//! - The time range is half-open: `from <= time < to`.
//! - A label share is `count / labelled documents` in the same bucket (not
//!   `/ documents`), because unlabelled documents say nothing about labels.

pub mod audience;
pub mod html;
pub mod ledger;
mod table;

pub use table::{build_report_table, cluster_key, CompactFact, FactTable};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Utc};
use mediawatch_core::{DocKind, LABEL_NAMES};
use serde::{Deserialize, Serialize};

/// Errors from parsing report options and writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An option value outside its allowed set (e.g. `--interval hour`).
    #[error("invalid {what}: {value:?} (expected one of: {expected})")]
    InvalidOption {
        /// Which option was being parsed.
        what: &'static str,
        /// The offending text.
        value: String,
        /// The accepted values.
        expected: &'static str,
    },
    /// Writing CSV output failed (for example, the output file is not writable).
    #[error("cannot write CSV report: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the report to its destination failed.
    #[error("cannot write report: {0}")]
    Io(#[from] std::io::Error),
}

/// What the index knows about one document, for counting.
///
/// Produced by `mediawatch_index::Index::facts` from fast fields only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocFacts {
    /// Trend time: publication time, else fetch time.
    pub time: DateTime<Utc>,
    /// Source id from the config.
    pub source: String,
    /// ISO 3166-1 alpha-2 country code of the source.
    pub country: String,
    /// ISO 639-1 language code (`und` when unknown).
    pub lang: String,
    /// Article, post or comment.
    pub kind: DocKind,
    /// Label flags in the order of [`LABEL_NAMES`]; all false when unlabelled.
    pub flags: [bool; 8],
    /// Speaker roles voicing a hostile span (bit `i` =
    /// `SpeakerRole::ALL[i]`); 0 when none (or unlabelled).
    #[serde(default)]
    pub speakers: u8,
    /// Whether the document has been classified at all.
    pub labelled: bool,
    /// Near-duplicate cluster id (syndicated copies of one story share it;
    /// see `mediawatch_core::similarity`). Empty when unknown: such a row
    /// is never merged with another.
    pub cluster: String,
}

/// Alias kept for callers that think of the rows as a table.
pub type FactRow = DocFacts;

/// Width of a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Interval {
    /// Calendar day (UTC), key `2024-03-04`.
    #[default]
    Day,
    /// ISO week, Monday to Sunday, key `2024-W10`.
    Week,
    /// Calendar month, key `2024-03`.
    Month,
}

impl Interval {
    /// Lowercase name, as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// A number that identifies the bucket of a time and sorts like
    /// [`Interval::bucket_key`] (for years 0 to 9999), so counting needs no
    /// string per row.
    fn bucket_ord(self, t: DateTime<Utc>) -> i64 {
        match self {
            Interval::Day => i64::from(t.date_naive().num_days_from_ce()),
            Interval::Week => {
                let w = t.iso_week();
                i64::from(w.year()) * 100 + i64::from(w.week())
            }
            Interval::Month => i64::from(t.year()) * 100 + i64::from(t.month()),
        }
    }

    /// The bucket key of a time. Keys of one interval sort chronologically
    /// as plain strings (zero-padded), which is what the report relies on.
    pub fn bucket_key(self, t: DateTime<Utc>) -> String {
        match self {
            Interval::Day => format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            Interval::Week => {
                let w = t.iso_week();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Interval::Month => format!("{:04}-{:02}", t.year(), t.month()),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "daily" => Ok(Interval::Day),
            "week" | "weekly" => Ok(Interval::Week),
            "month" | "monthly" => Ok(Interval::Month),
            _ => Err(ReportError::InvalidOption {
                what: "report interval",
                value: s.to_string(),
                expected: "day, week, month",
            }),
        }
    }
}

/// Optional second dimension of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum GroupBy {
    /// One row per bucket.
    #[default]
    None,
    /// One row per bucket and source id.
    Source,
    /// One row per bucket and source country.
    Country,
    /// One row per bucket and document language.
    Language,
    /// One row per bucket and audience tag of the source
    /// ([`ReportRequest::audience`]); a source with several tags counts in
    /// each, one without tags under `untagged`.
    Audience,
    /// One row per bucket and speaker role of the document's hostile
    /// statements (`outlet`, `quoted`, `commenter`, `author`); a document
    /// counts under each role it has, one without any under `none`.
    Speaker,
}

impl GroupBy {
    /// Lowercase name, or `None` when not grouped.
    pub fn name(self) -> Option<&'static str> {
        match self {
            GroupBy::None => None,
            GroupBy::Source => Some("source"),
            GroupBy::Country => Some("country"),
            GroupBy::Language => Some("language"),
            GroupBy::Audience => Some("audience"),
            GroupBy::Speaker => Some("speaker"),
        }
    }

    /// The group(s) a row falls in.
    fn keys<'a>(self, row: &'a DocFacts, audience: &'a BTreeMap<String, Vec<String>>) -> Keys<'a> {
        match self {
            GroupBy::None => Keys::One(None),
            GroupBy::Source => Keys::One(Some(&row.source)),
            GroupBy::Country => Keys::One(Some(&row.country)),
            GroupBy::Language => Keys::One(Some(&row.lang)),
            GroupBy::Audience => match audience.get(&row.source) {
                Some(tags) if !tags.is_empty() => Keys::Many(tags),
                _ => Keys::One(Some(UNTAGGED)),
            },
            GroupBy::Speaker => Keys::Roles(row.speakers),
        }
    }
}

/// Group of rows whose source has no audience tag.
pub const UNTAGGED: &str = "untagged";

/// Group of rows without a hostile statement, by speaker role.
pub const NO_SPEAKER: &str = "none";

/// The group names of a speaker-role bit set (see [`DocFacts::speakers`]).
pub fn speaker_groups(bits: u8) -> impl Iterator<Item = &'static str> {
    let none = (bits == 0).then_some(NO_SPEAKER);
    mediawatch_core::SpeakerRole::ALL
        .into_iter()
        .filter(move |r| bits & r.bit() != 0)
        .map(mediawatch_core::SpeakerRole::as_str)
        .chain(none)
}

/// One group key, or several (audience tags, speaker roles), without
/// allocating per row.
enum Keys<'a> {
    One(Option<&'a str>),
    Many(&'a [String]),
    Roles(u8),
}

impl<'a> Keys<'a> {
    fn for_each(&self, mut f: impl FnMut(Option<&'a str>)) {
        match self {
            Keys::One(k) => f(*k),
            Keys::Many(tags) => tags.iter().for_each(|t| f(Some(t.as_str()))),
            Keys::Roles(bits) => speaker_groups(*bits).for_each(|g| f(Some(g))),
        }
    }
}

impl FromStr for GroupBy {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(GroupBy::None),
            "source" => Ok(GroupBy::Source),
            "country" => Ok(GroupBy::Country),
            "language" | "lang" => Ok(GroupBy::Language),
            "audience" => Ok(GroupBy::Audience),
            "speaker" => Ok(GroupBy::Speaker),
            _ => Err(ReportError::InvalidOption {
                what: "report grouping",
                value: s.to_string(),
                expected: "source, country, language, audience, speaker (or none)",
            }),
        }
    }
}

/// What to report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReportRequest {
    /// Bucket width.
    pub interval: Interval,
    /// Optional grouping inside each bucket.
    pub by: GroupBy,
    /// Inclusive lower bound on the trend time.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the trend time.
    pub to: Option<DateTime<Utc>>,
    /// Source id -> audience tags, for [`GroupBy::Audience`] (from the
    /// config's `[[sources]] audience`).
    pub audience: BTreeMap<String, Vec<String>>,
    /// Count a story once: within each bucket (and group) only the first
    /// row of a near-duplicate cluster counts (earliest time, then source,
    /// so the result does not depend on row order) and its labels stand for
    /// the copies. Totals count each cluster once over the whole range, so
    /// they can be smaller than the sum of the buckets.
    pub count_clusters_once: bool,
}

/// Count and share of one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LabelCount {
    /// Documents with the label.
    pub count: u64,
    /// `count / labelled` documents, rounded to 4 decimals; 0 when nothing
    /// is labelled.
    pub share: f64,
}

/// One row of a report: a time bucket, optionally narrowed to one group.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Bucket {
    /// Bucket key (`2024-03-04`, `2024-W10` or `2024-03`).
    pub bucket: String,
    /// Group value (source id, country or language) when grouped.
    pub group: Option<String>,
    /// Documents in the bucket.
    pub documents: u64,
    /// Of which classified.
    pub labelled: u64,
    /// Every name in [`LABEL_NAMES`], present even when zero.
    pub labels: BTreeMap<String, LabelCount>,
    /// The documents as a share of all coverage of the same outlets in the
    /// same bucket and group (a report of a query; see [`with_attention`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
}

/// How much of everything the same outlets published in a period the
/// documents of a query are: what Media Cloud calls attention. A rise in
/// raw counts can be a rise in everything (a busier news week, more
/// outlets crawled); the share is not.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Attention {
    /// Every document of the same outlets, period and group, whatever its
    /// subject (the report's filters without its query).
    pub coverage: u64,
    /// `documents / coverage`, rounded to 4 decimals; 0 when there is no
    /// coverage.
    pub share: f64,
}

impl Attention {
    fn of(documents: u64, coverage: u64) -> Self {
        Attention {
            coverage,
            share: if coverage == 0 {
                0.0
            } else {
                round4(documents as f64 / coverage as f64)
            },
        }
    }
}

/// Sums over the whole report.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Totals {
    /// Documents in range.
    pub documents: u64,
    /// Of which classified.
    pub labelled: u64,
    /// Every name in [`LABEL_NAMES`].
    pub labels: BTreeMap<String, LabelCount>,
    /// The documents as a share of all coverage of the same outlets over
    /// the whole range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<Attention>,
}

/// A trend report. Its JSON form is what `render_json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    /// `day`, `week` or `month`.
    pub interval: String,
    /// `source`, `country`, `language`, or null.
    pub by: Option<String>,
    /// Inclusive lower bound, as requested.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound, as requested.
    pub to: Option<DateTime<Utc>>,
    /// Rows sorted by bucket, then group. Buckets without documents are
    /// omitted.
    pub buckets: Vec<Bucket>,
    /// Sums over all buckets.
    pub totals: Totals,
    /// Whether near-duplicate copies were counted once
    /// ([`ReportRequest::count_clusters_once`]).
    pub count_clusters_once: bool,
    /// Matching documents left out because they stated no date (their
    /// trend time would be their fetch time); 0 when undated documents
    /// were asked for.
    #[serde(default)]
    pub undated_left_out: u64,
}

/// Running counts for one bucket (or the totals).
#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    /// A time inside the bucket, to render its key once.
    sample: Option<DateTime<Utc>>,
    documents: u64,
    labelled: u64,
    counts: [u64; 8],
}

impl Acc {
    fn add(&mut self, row: &DocFacts) {
        self.sample.get_or_insert(row.time);
        self.documents += 1;
        if row.labelled {
            self.labelled += 1;
            for (c, &on) in self.counts.iter_mut().zip(row.flags.iter()) {
                *c += u64::from(on);
            }
        }
    }

    fn add_compact(&mut self, row: &CompactFact) {
        if self.sample.is_none() {
            self.sample = DateTime::from_timestamp_micros(row.time_us);
        }
        self.documents += 1;
        if row.labelled {
            self.labelled += 1;
            for (i, c) in self.counts.iter_mut().enumerate() {
                *c += u64::from((row.flags >> i) & 1);
            }
        }
    }

    fn labels(&self) -> BTreeMap<String, LabelCount> {
        LABEL_NAMES
            .iter()
            .zip(self.counts.iter())
            .map(|(name, &count)| {
                let share = if self.labelled == 0 {
                    0.0
                } else {
                    round4(count as f64 / self.labelled as f64)
                };
                (name.to_string(), LabelCount { count, share })
            })
            .collect()
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Several queries side by side: each part is the report of one query
/// (built with the same request, ungrouped); the result has one row per
/// bucket and query, with the query in `group` and `by` = `query`. Totals
/// add the parts up, so a document matching two queries counts in both.
pub fn compare_reports(parts: Vec<(String, Report)>) -> Report {
    let mut out: Option<Report> = None;
    let mut buckets = Vec::new();
    let mut totals = Acc::default();
    let mut undated = 0;
    for (query, r) in parts {
        undated += r.undated_left_out;
        totals.documents += r.totals.documents;
        totals.labelled += r.totals.labelled;
        for (c, name) in totals.counts.iter_mut().zip(LABEL_NAMES) {
            *c += r.totals.labels.get(name).map_or(0, |l| l.count);
        }
        buckets.extend(r.buckets.iter().cloned().map(|mut b| {
            b.group = Some(query.clone());
            b
        }));
        out.get_or_insert(r);
    }
    let mut report = out.unwrap_or_else(|| build_report(&[], &ReportRequest::default()));
    // Stable: queries keep the order they were given in within a bucket.
    buckets.sort_by(|a, b| a.bucket.cmp(&b.bucket));
    report.buckets = buckets;
    report.by = Some("query".to_string());
    report.undated_left_out = undated;
    report.totals = Totals {
        documents: totals.documents,
        labelled: totals.labelled,
        labels: totals.labels(),
        attention: None,
    };
    report
}

/// The report of a collection from the reports of its shards (built with
/// one request each, over disjoint documents): counts are added per bucket
/// and group, shares computed again from the sums. Exact when no document
/// is in two shards, and, with clusters counted once, when no cluster
/// spans two shards (a cluster's copies are routed to one shard).
pub fn merge_reports(parts: Vec<Report>) -> Report {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return build_report(&[], &ReportRequest::default());
    };
    let by_query = first.by.as_deref() == Some("query");
    // Rows sort by bucket key (chronological within an interval), then by
    // group: compared queries in the order given, other groups as a single
    // report sorts them (none first, then by name).
    let mut query_order: Vec<Option<String>> = Vec::new();
    let mut rows: BTreeMap<(String, Option<String>), Acc> = BTreeMap::new();
    let mut totals = Acc::default();
    let add =
        |acc: &mut Acc, documents: u64, labelled: u64, labels: &BTreeMap<String, LabelCount>| {
            acc.documents += documents;
            acc.labelled += labelled;
            for (c, name) in acc.counts.iter_mut().zip(LABEL_NAMES) {
                *c += labels.get(name).map_or(0, |l| l.count);
            }
        };
    let mut out = first.clone();
    // Coverage adds up like the counts, where the parts have it.
    let mut coverage: BTreeMap<(String, Option<String>), u64> = BTreeMap::new();
    let mut total_coverage: Option<u64> = None;
    let mut undated = 0;
    for r in std::iter::once(first).chain(parts) {
        for b in &r.buckets {
            if by_query && !query_order.contains(&b.group) {
                query_order.push(b.group.clone());
            }
            let key = (b.bucket.clone(), b.group.clone());
            if let Some(a) = b.attention {
                *coverage.entry(key.clone()).or_default() += a.coverage;
            }
            let acc = rows.entry(key).or_default();
            add(acc, b.documents, b.labelled, &b.labels);
        }
        add(
            &mut totals,
            r.totals.documents,
            r.totals.labelled,
            &r.totals.labels,
        );
        if let Some(a) = r.totals.attention {
            *total_coverage.get_or_insert(0) += a.coverage;
        }
        undated += r.undated_left_out;
    }
    let mut buckets: Vec<Bucket> = rows
        .into_iter()
        .map(|((bucket, group), acc)| Bucket {
            attention: coverage
                .get(&(bucket.clone(), group.clone()))
                .map(|&c| Attention::of(acc.documents, c)),
            bucket,
            group,
            documents: acc.documents,
            labelled: acc.labelled,
            labels: acc.labels(),
        })
        .collect();
    if by_query {
        let pos = |g: &Option<String>| query_order.iter().position(|q| q == g);
        buckets.sort_by(|a, b| (&a.bucket, pos(&a.group)).cmp(&(&b.bucket, pos(&b.group))));
    }
    out.buckets = buckets;
    out.totals = Totals {
        documents: totals.documents,
        labelled: totals.labelled,
        labels: totals.labels(),
        attention: total_coverage.map(|c| Attention::of(totals.documents, c)),
    };
    out.undated_left_out = undated;
    out
}

/// Adds attention to a report of a query: each row's documents as a share
/// of `base`'s row for the same bucket and group, where `base` is the same
/// report without the query (the same outlets, period, grouping and
/// deduplication). For compared queries (`by` = `query`) every query's row
/// is set against the bucket's whole coverage (`base` ungrouped). A row
/// whose bucket has no coverage row gets a coverage of 0.
pub fn with_attention(report: &mut Report, base: &Report) {
    let by_query = report.by.as_deref() == Some("query");
    let coverage: HashMap<(&str, Option<&str>), u64> = base
        .buckets
        .iter()
        .map(|b| ((b.bucket.as_str(), b.group.as_deref()), b.documents))
        .collect();
    for b in &mut report.buckets {
        let group = if by_query { None } else { b.group.as_deref() };
        let c = coverage
            .get(&(b.bucket.as_str(), group))
            .copied()
            .unwrap_or(0);
        b.attention = Some(Attention::of(b.documents, c));
    }
    report.totals.attention = Some(Attention::of(
        report.totals.documents,
        base.totals.documents,
    ));
}

/// Counts documents and labels per bucket (and group).
///
/// Rows outside `[from, to)` are ignored. Flags of unlabelled rows are
/// ignored even if set, so a share never exceeds 1.
pub fn build_report(rows: &[DocFacts], req: &ReportRequest) -> Report {
    // Keyed by (bucket number, borrowed group): no allocation per row.
    let mut buckets: BTreeMap<(i64, Option<&str>), Acc> = BTreeMap::new();
    let mut totals = Acc::default();
    let in_range = |row: &&DocFacts| {
        !(req.from.is_some_and(|from| row.time < from) || req.to.is_some_and(|to| row.time >= to))
    };
    if req.count_clusters_once {
        // First occurrence wins, so visit rows in a fixed order.
        let mut ordered: Vec<&DocFacts> = rows.iter().filter(in_range).collect();
        ordered.sort_by(|a, b| (a.time, &a.source).cmp(&(b.time, &b.source)));
        let mut seen_in_bucket: HashSet<(i64, Option<&str>, &str)> = HashSet::new();
        let mut seen_total: HashSet<&str> = HashSet::new();
        for row in ordered {
            let ord = req.interval.bucket_ord(row.time);
            let cluster = row.cluster.as_str();
            req.by.keys(row, &req.audience).for_each(|group| {
                if cluster.is_empty() || seen_in_bucket.insert((ord, group, cluster)) {
                    buckets.entry((ord, group)).or_default().add(row);
                }
            });
            if cluster.is_empty() || seen_total.insert(cluster) {
                totals.add(row);
            }
        }
    } else {
        for row in rows.iter().filter(in_range) {
            let ord = req.interval.bucket_ord(row.time);
            req.by
                .keys(row, &req.audience)
                .for_each(|group| buckets.entry((ord, group)).or_default().add(row));
            totals.add(row);
        }
    }
    assemble(req, buckets, &totals)
}

/// The report from accumulated buckets, in key order (bucket ordinal, then
/// group name): shared by the row path and the compact-table path so both
/// render identically.
fn assemble(
    req: &ReportRequest,
    buckets: BTreeMap<(i64, Option<&str>), Acc>,
    totals: &Acc,
) -> Report {
    Report {
        interval: req.interval.as_str().to_string(),
        by: req.by.name().map(str::to_string),
        from: req.from,
        to: req.to,
        buckets: buckets
            .into_iter()
            .map(|((_, group), acc)| Bucket {
                bucket: acc
                    .sample
                    .map(|t| req.interval.bucket_key(t))
                    .unwrap_or_default(),
                group: group.map(str::to_string),
                documents: acc.documents,
                labelled: acc.labelled,
                labels: acc.labels(),
                attention: None,
            })
            .collect(),
        totals: Totals {
            documents: totals.documents,
            labelled: totals.labelled,
            labels: totals.labels(),
            attention: None,
        },
        count_clusters_once: req.count_clusters_once,
        undated_left_out: 0,
    }
}

/// The report as pretty-printed JSON.
pub fn render_json(r: &Report) -> String {
    // Serialising these plain structs (string keys, finite or null floats)
    // cannot fail; the fallback keeps the signature infallible without a panic.
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()))
}

/// The CSV header: `bucket,group,documents,labelled`, then
/// `<label>_count,<label>_share` for every name in [`LABEL_NAMES`], in that
/// order. Part of the CLI contract: only ever append columns.
pub fn csv_header() -> Vec<String> {
    let mut h: Vec<String> = ["bucket", "group", "documents", "labelled"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for name in LABEL_NAMES {
        h.push(format!("{name}_count"));
        h.push(format!("{name}_share"));
    }
    h
}

/// Writes the report's buckets as CSV (see [`csv_header`]); totals are not
/// written, so every line is one bucket row. `group` is empty when the
/// report is not grouped.
pub fn write_csv<W: std::io::Write>(r: &Report, out: W) -> Result<(), ReportError> {
    let mut w = csv::Writer::from_writer(out);
    // A report of a query ends each row with its coverage and attention.
    let attention = r.buckets.iter().any(|b| b.attention.is_some());
    let mut header = csv_header();
    if attention {
        header.extend(["coverage".to_string(), "attention".to_string()]);
    }
    w.write_record(&header)?;
    for b in &r.buckets {
        let mut rec = vec![
            b.bucket.clone(),
            b.group.clone().unwrap_or_default(),
            b.documents.to_string(),
            b.labelled.to_string(),
        ];
        for name in LABEL_NAMES {
            let lc = b.labels.get(name).copied().unwrap_or(LabelCount {
                count: 0,
                share: 0.0,
            });
            rec.push(lc.count.to_string());
            rec.push(lc.share.to_string());
        }
        if attention {
            let a = b.attention.unwrap_or(Attention {
                coverage: 0,
                share: 0.0,
            });
            rec.push(a.coverage.to_string());
            rec.push(a.share.to_string());
        }
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}

/// The report's buckets as CSV text (see [`write_csv`]).
pub fn render_csv(r: &Report) -> String {
    let mut buf = Vec::new();
    // Writing to memory cannot fail (records always have the header's width);
    // should it ever, the text written so far is returned instead of panicking.
    let _ = write_csv(r, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Escapes text for a Markdown table cell.
fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn md_label(lc: Option<&LabelCount>) -> String {
    match lc {
        Some(lc) if lc.count > 0 => format!("{} ({:.1}%)", lc.count, lc.share * 100.0),
        _ => "0".to_string(),
    }
}

/// The report as a Markdown document: a heading, the range, one table row
/// per bucket (label cells read `count (share%)`), and a totals row.
pub fn render_markdown(r: &Report) -> String {
    let mut s = String::new();
    s.push_str(&format!("# Trend report: by {}", r.interval));
    if let Some(by) = &r.by {
        s.push_str(&format!(" and {by}"));
    }
    s.push_str("\n\n");
    let fmt_t = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "open".to_string())
    };
    s.push_str(&format!(
        "Range: {} to {} (end exclusive). {} documents, {} labelled. Label shares are of labelled documents.{}{}\n\n",
        fmt_t(r.from),
        fmt_t(r.to),
        r.totals.documents,
        r.totals.labelled,
        if r.count_clusters_once {
            " Near-duplicate copies of a story are counted once."
        } else {
            ""
        },
        if r.totals.attention.is_some() {
            " \"Of all coverage\" is the documents' share of everything the same outlets published in the period."
        } else {
            ""
        }
    ));
    if r.undated_left_out > 0 {
        s.push_str(&format!(
            "{} matching documents stated no date and are left out (their only date is the day they were fetched).\n\n",
            r.undated_left_out
        ));
    }
    let mut header = vec!["bucket".to_string()];
    if r.by.is_some() {
        header.push(md_cell(r.by.as_deref().unwrap_or("group")));
    }
    header.push("documents".into());
    let attention = r.totals.attention.is_some();
    if attention {
        header.push("of all coverage".into());
    }
    header.push("labelled".into());
    header.extend(LABEL_NAMES.iter().map(|n| n.to_string()));
    s.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if i == 0 || (i == 1 && r.by.is_some()) {
                "---"
            } else {
                "---:"
            }
        })
        .collect();
    s.push_str(&format!("|{}|\n", align.join("|")));
    let mut row = |bucket: &str,
                   group: Option<&str>,
                   documents: u64,
                   share: Option<Attention>,
                   labelled: u64,
                   labels: &BTreeMap<String, LabelCount>| {
        let mut cells = vec![md_cell(bucket)];
        if r.by.is_some() {
            cells.push(md_cell(group.unwrap_or("")));
        }
        cells.push(documents.to_string());
        if attention {
            cells.push(match share {
                Some(a) => format!("{:.1}% of {}", a.share * 100.0, a.coverage),
                None => String::new(),
            });
        }
        cells.push(labelled.to_string());
        cells.extend(LABEL_NAMES.iter().map(|n| md_label(labels.get(*n))));
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    };
    for b in &r.buckets {
        row(
            &b.bucket,
            b.group.as_deref(),
            b.documents,
            b.attention,
            b.labelled,
            &b.labels,
        );
    }
    row(
        "**total**",
        None,
        r.totals.documents,
        r.totals.attention,
        r.totals.labelled,
        &r.totals.labels,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("valid test date")
    }

    fn row(time: DateTime<Utc>, source: &str, country: &str, lang: &str) -> DocFacts {
        DocFacts {
            time,
            source: source.into(),
            country: country.into(),
            lang: lang.into(),
            kind: DocKind::Article,
            flags: [false; 8],
            speakers: 0,
            labelled: false,
            cluster: String::new(),
        }
    }

    fn labelled(mut r: DocFacts, on: &[&str]) -> DocFacts {
        r.labelled = true;
        for name in on {
            let i = LABEL_NAMES
                .iter()
                .position(|n| n == name)
                .expect("known label");
            r.flags[i] = true;
        }
        r
    }

    #[test]
    fn parses_options() {
        assert_eq!("week".parse::<Interval>().unwrap(), Interval::Week);
        assert_eq!("Month".parse::<Interval>().unwrap(), Interval::Month);
        assert_eq!("day".parse::<Interval>().unwrap(), Interval::Day);
        let e = "hour".parse::<Interval>().unwrap_err().to_string();
        assert!(e.contains("hour") && e.contains("day, week, month"), "{e}");
        assert_eq!("source".parse::<GroupBy>().unwrap(), GroupBy::Source);
        assert_eq!("country".parse::<GroupBy>().unwrap(), GroupBy::Country);
        assert_eq!("language".parse::<GroupBy>().unwrap(), GroupBy::Language);
        assert_eq!("none".parse::<GroupBy>().unwrap(), GroupBy::None);
        assert!("outlet".parse::<GroupBy>().is_err());
    }

    #[test]
    fn day_keys_and_month_ends() {
        assert_eq!(Interval::Day.bucket_key(t(2024, 3, 4, 23)), "2024-03-04");
        assert_eq!(Interval::Month.bucket_key(t(2024, 2, 29, 23)), "2024-02");
        assert_eq!(Interval::Month.bucket_key(t(2024, 3, 1, 0)), "2024-03");
        assert_eq!(Interval::Month.bucket_key(t(2023, 12, 31, 23)), "2023-12");
        assert_eq!(Interval::Month.bucket_key(t(2024, 1, 1, 0)), "2024-01");
    }

    #[test]
    fn iso_week_boundaries() {
        // Monday 2024-03-04 starts week 10; Sunday 2024-03-10 ends it.
        assert_eq!(Interval::Week.bucket_key(t(2024, 3, 4, 0)), "2024-W10");
        assert_eq!(Interval::Week.bucket_key(t(2024, 3, 10, 23)), "2024-W10");
        assert_eq!(Interval::Week.bucket_key(t(2024, 3, 11, 0)), "2024-W11");
        assert_eq!(Interval::Week.bucket_key(t(2024, 3, 3, 23)), "2024-W09");
        // Year boundaries follow the ISO year, not the calendar year.
        assert_eq!(Interval::Week.bucket_key(t(2024, 12, 30, 12)), "2025-W01");
        assert_eq!(Interval::Week.bucket_key(t(2021, 1, 3, 12)), "2020-W53");
        assert_eq!(Interval::Week.bucket_key(t(2021, 1, 4, 0)), "2021-W01");
    }

    /// Attention from a report without the query; merged reports add up
    /// coverage and compute shares again; CSV, Markdown and HTML show it.
    #[test]
    fn attention_is_set_merged_and_rendered() {
        let all = vec![
            row(t(2024, 3, 4, 8), "n1", "RS", "sr"),
            row(t(2024, 3, 5, 8), "n1", "RS", "sr"),
            row(t(2024, 3, 6, 8), "n1", "RS", "sr"),
            row(t(2024, 3, 7, 8), "blic", "RS", "sr"),
            row(t(2024, 4, 7, 8), "blic", "RS", "sr"),
        ];
        let matching = vec![all[0].clone(), all[3].clone()];
        let req = ReportRequest {
            interval: Interval::Month,
            by: GroupBy::Source,
            ..Default::default()
        };
        let mut r = build_report(&matching, &req);
        with_attention(&mut r, &build_report(&all, &req));
        let a: Vec<(String, Option<String>, Attention)> = r
            .buckets
            .iter()
            .map(|b| (b.bucket.clone(), b.group.clone(), b.attention.unwrap()))
            .collect();
        assert_eq!(
            a,
            [
                (
                    "2024-03".into(),
                    Some("blic".into()),
                    Attention {
                        coverage: 1,
                        share: 1.0
                    }
                ),
                (
                    "2024-03".into(),
                    Some("n1".into()),
                    Attention {
                        coverage: 3,
                        share: 0.3333
                    }
                ),
            ]
        );
        assert_eq!(r.totals.attention.unwrap().coverage, 5);
        let merged = merge_reports(vec![r.clone(), r.clone()]);
        assert_eq!(merged.buckets[1].documents, 2);
        assert_eq!(
            merged.buckets[1].attention,
            Some(Attention {
                coverage: 6,
                share: 0.3333
            })
        );
        assert_eq!(merged.totals.attention.unwrap().coverage, 10);
        let csv = render_csv(&r);
        assert!(
            csv.lines().next().unwrap().ends_with(",coverage,attention"),
            "{csv}"
        );
        assert!(csv.contains(",3,0.3333"), "{csv}");
        let md = render_markdown(&r);
        assert!(
            md.contains("| of all coverage |") && md.contains("33.3% of 3"),
            "{md}"
        );
        let html = html::render_html(&r, "t", None);
        assert!(
            html.contains("<th>of all coverage</th>") && html.contains("40.0%"),
            "{html}"
        );
        // A report without a query has no such columns.
        let plain = build_report(&all, &req);
        assert!(!render_csv(&plain).contains("coverage"));
        assert!(!render_markdown(&plain).contains("of all coverage"));
    }

    #[test]
    fn buckets_groups_and_shares() {
        let rows = vec![
            labelled(
                row(t(2024, 3, 4, 8), "n1", "RS", "sr"),
                &["relevant", "threat"],
            ),
            labelled(row(t(2024, 3, 5, 9), "n1", "RS", "sr"), &["relevant"]),
            labelled(row(t(2024, 3, 6, 9), "blic", "RS", "sr"), &[]),
            row(t(2024, 3, 7, 9), "blic", "RS", "sr"),
            // Next ISO week.
            labelled(
                row(t(2024, 3, 11, 0), "index", "HR", "hr"),
                &["hate", "relevant"],
            ),
        ];
        let req = ReportRequest {
            interval: Interval::Week,
            ..Default::default()
        };
        let r = build_report(&rows, &req);
        assert_eq!(r.interval, "week");
        assert_eq!(r.by, None);
        assert_eq!(r.buckets.len(), 2);
        let w10 = &r.buckets[0];
        assert_eq!(w10.bucket, "2024-W10");
        assert_eq!(w10.group, None);
        assert_eq!(w10.documents, 4);
        assert_eq!(w10.labelled, 3);
        assert_eq!(w10.labels.len(), LABEL_NAMES.len());
        assert_eq!(w10.labels["relevant"].count, 2);
        assert_eq!(w10.labels["relevant"].share, 0.6667);
        assert_eq!(w10.labels["threat"].share, 0.3333);
        assert_eq!(w10.labels["hate"].count, 0);
        assert_eq!(w10.labels["hate"].share, 0.0);
        assert_eq!(r.buckets[1].bucket, "2024-W11");
        assert_eq!(r.buckets[1].labels["hate"].share, 1.0);
        assert_eq!(r.totals.documents, 5);
        assert_eq!(r.totals.labelled, 4);
        assert_eq!(r.totals.labels["relevant"].count, 3);
        assert_eq!(r.totals.labels["relevant"].share, 0.75);

        let by_source = build_report(
            &rows,
            &ReportRequest {
                interval: Interval::Week,
                by: GroupBy::Source,
                ..Default::default()
            },
        );
        let keys: Vec<(&str, Option<&str>)> = by_source
            .buckets
            .iter()
            .map(|b| (b.bucket.as_str(), b.group.as_deref()))
            .collect();
        assert_eq!(
            keys,
            [
                ("2024-W10", Some("blic")),
                ("2024-W10", Some("n1")),
                ("2024-W11", Some("index"))
            ]
        );
        // Nothing labelled in a group -> share 0, not NaN.
        let blic = &by_source.buckets[0];
        assert_eq!(blic.labelled, 1);
        assert_eq!(blic.labels["relevant"].share, 0.0);

        let by_country = build_report(
            &rows,
            &ReportRequest {
                interval: Interval::Month,
                by: GroupBy::Country,
                ..Default::default()
            },
        );
        assert_eq!(by_country.buckets.len(), 2);
        assert_eq!(by_country.buckets[0].group.as_deref(), Some("HR"));
        assert_eq!(by_country.buckets[1].documents, 4);
        let by_lang = build_report(
            &rows,
            &ReportRequest {
                interval: Interval::Day,
                by: GroupBy::Language,
                ..Default::default()
            },
        );
        assert_eq!(by_lang.buckets.len(), 5);
        assert_eq!(by_lang.by.as_deref(), Some("language"));
    }

    #[test]
    fn unlabelled_flags_are_ignored() {
        let mut r = row(t(2024, 1, 1, 0), "a", "RS", "sr");
        r.flags[0] = true;
        let rep = build_report(&[r], &ReportRequest::default());
        assert_eq!(rep.buckets[0].labels["relevant"].count, 0);
    }

    #[test]
    fn range_is_half_open() {
        let rows = vec![
            row(t(2024, 3, 1, 0), "a", "RS", "sr"),
            row(t(2024, 3, 31, 23), "a", "RS", "sr"),
            row(t(2024, 4, 1, 0), "a", "RS", "sr"),
            row(t(2024, 2, 29, 23), "a", "RS", "sr"),
        ];
        let req = ReportRequest {
            interval: Interval::Day,
            by: GroupBy::None,
            from: Some(t(2024, 3, 1, 0)),
            to: Some(t(2024, 4, 1, 0)),
            ..Default::default()
        };
        let r = build_report(&rows, &req);
        let keys: Vec<&str> = r.buckets.iter().map(|b| b.bucket.as_str()).collect();
        assert_eq!(keys, ["2024-03-01", "2024-03-31"]);
        assert_eq!(r.totals.documents, 2);
        assert_eq!(r.from, req.from);
    }

    fn clustered(r: DocFacts, cluster: &str) -> DocFacts {
        DocFacts {
            cluster: cluster.into(),
            ..r
        }
    }

    #[test]
    fn clusters_counted_once_per_bucket_and_group() {
        // One agency story on three portals (two of them on day 2), an
        // unrelated story, and two rows without a cluster id.
        let rows = vec![
            clustered(
                labelled(row(t(2024, 3, 5, 9), "p3", "BA", "bs"), &["relevant"]),
                "story",
            ),
            clustered(
                labelled(row(t(2024, 3, 4, 8), "p1", "RS", "sr"), &["threat"]),
                "story",
            ),
            clustered(row(t(2024, 3, 4, 9), "p2", "RS", "sr"), "story"),
            clustered(row(t(2024, 3, 4, 10), "p2", "RS", "sr"), "other"),
            row(t(2024, 3, 4, 11), "p2", "RS", "sr"),
            row(t(2024, 3, 4, 12), "p2", "RS", "sr"),
        ];
        let plain = ReportRequest::default();
        let once = ReportRequest {
            count_clusters_once: true,
            ..Default::default()
        };
        assert_eq!(build_report(&rows, &plain).totals.documents, 6);
        let r = build_report(&rows, &once);
        assert!(r.count_clusters_once);
        // Day 1: story once (the 08:00 copy, labelled threat), other, two
        // unclustered rows. Day 2: the story again (once per bucket).
        let docs: Vec<(&str, u64)> = r
            .buckets
            .iter()
            .map(|b| (b.bucket.as_str(), b.documents))
            .collect();
        assert_eq!(docs, [("2024-03-04", 4), ("2024-03-05", 1)]);
        let day1 = &r.buckets[0];
        assert_eq!(day1.labelled, 1);
        assert_eq!(day1.labels["threat"].count, 1);
        // Totals: story, other and the two unclustered rows.
        assert_eq!(r.totals.documents, 4);
        assert_eq!(r.totals.labels["threat"].count, 1);
        assert_eq!(r.totals.labels["relevant"].count, 0);
        // Row order does not change which copy counts.
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(build_report(&reversed, &once), r);
        // Grouped by source, every portal that carried it counts it once.
        let by_source = build_report(
            &rows,
            &ReportRequest {
                by: GroupBy::Source,
                ..once.clone()
            },
        );
        let p2: u64 = by_source
            .buckets
            .iter()
            .filter(|b| b.group.as_deref() == Some("p2"))
            .map(|b| b.documents)
            .sum();
        assert_eq!(p2, 4);
        assert!(render_markdown(&r).contains("counted once"));
        assert!(!render_markdown(&build_report(&rows, &plain)).contains("counted once"));
    }

    fn sample_report() -> Report {
        let rows = vec![
            labelled(
                row(t(2024, 3, 4, 8), "n1", "RS", "sr"),
                &["relevant", "threat"],
            ),
            labelled(
                row(t(2024, 3, 4, 9), "a|b, \"c\"", "RS", "sr"),
                &["relevant"],
            ),
            row(t(2024, 3, 5, 9), "n1", "RS", "sr"),
        ];
        build_report(
            &rows,
            &ReportRequest {
                interval: Interval::Day,
                by: GroupBy::Source,
                ..Default::default()
            },
        )
    }

    #[test]
    fn csv_is_parsable_with_stable_header() {
        let r = sample_report();
        let text = render_csv(&r);
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header, csv_header());
        assert_eq!(
            &header[..6],
            [
                "bucket",
                "group",
                "documents",
                "labelled",
                "relevant_count",
                "relevant_share"
            ]
        );
        assert_eq!(header.len(), 4 + 2 * LABEL_NAMES.len());
        let recs: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), r.buckets.len());
        // The awkward source id survives quoting.
        assert!(recs.iter().any(|rec| &rec[1] == "a|b, \"c\""));
        let n1 = recs
            .iter()
            .find(|rec| &rec[0] == "2024-03-04" && &rec[1] == "n1")
            .unwrap();
        assert_eq!(&n1[2], "1");
        assert_eq!(&n1[3], "1");
        let threat_share = header.iter().position(|h| h == "threat_share").unwrap();
        assert_eq!(n1[threat_share].parse::<f64>().unwrap(), 1.0);
        // Ungrouped reports leave the group column empty.
        let ungrouped = build_report(&[], &ReportRequest::default());
        let text = render_csv(&ungrouped);
        assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn json_shape() {
        let r = sample_report();
        let v: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
        assert_eq!(v["interval"], "day");
        assert_eq!(v["by"], "source");
        assert!(v["from"].is_null());
        let b = &v["buckets"][0];
        assert_eq!(b["bucket"], "2024-03-04");
        assert!(b["documents"].is_u64());
        assert!(b["labels"]["collective_labelling"]["share"].is_number());
        assert_eq!(b["labels"].as_object().unwrap().len(), LABEL_NAMES.len());
        assert_eq!(v["totals"]["documents"], 3);
        assert_eq!(v["totals"]["labels"]["relevant"]["count"], 2);
    }

    #[test]
    fn markdown_table() {
        let r = sample_report();
        let md = render_markdown(&r);
        assert!(md.starts_with("# Trend report: by day and source"));
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
        // header + alignment + 3 buckets + total
        assert_eq!(table.len(), 6, "{md}");
        let cols = table[0].matches(" | ").count() + 1;
        assert_eq!(cols, 4 + LABEL_NAMES.len());
        // A pipe inside a group value must not add a column.
        assert!(md.contains("a\\|b"));
        assert!(md.contains("| **total** |"));
        assert!(md.contains("1 (100.0%)"));
    }
}

#[cfg(test)]
mod audience_and_compare_tests {
    use super::*;
    use chrono::TimeZone;

    fn row(source: &str, day: u32, collective: bool) -> DocFacts {
        let mut flags = [false; 8];
        flags[3] = collective;
        DocFacts {
            time: Utc.with_ymd_and_hms(2026, 10, day, 9, 0, 0).unwrap(),
            source: source.into(),
            country: "RS".into(),
            lang: "sr".into(),
            kind: DocKind::Article,
            flags,
            speakers: 0,
            labelled: true,
            cluster: String::new(),
        }
    }

    #[test]
    fn audience_groups_count_a_row_in_each_tag() {
        let rows = [row("a", 1, true), row("b", 1, false), row("c", 1, false)];
        let mut audience = BTreeMap::new();
        audience.insert(
            "a".to_string(),
            vec!["older".to_string(), "rural".to_string()],
        );
        audience.insert("b".to_string(), vec!["older".to_string()]);
        let r = build_report(
            &rows,
            &ReportRequest {
                interval: Interval::Month,
                by: GroupBy::Audience,
                audience,
                ..Default::default()
            },
        );
        let get = |g: &str| {
            r.buckets
                .iter()
                .find(|b| b.group.as_deref() == Some(g))
                .unwrap()
        };
        assert_eq!(get("older").documents, 2);
        assert_eq!(get("older").labels["collective_labelling"].share, 0.5);
        assert_eq!(get("rural").documents, 1);
        assert_eq!(get(UNTAGGED).documents, 1);
        // Totals count each document once, whatever its tags.
        assert_eq!(r.totals.documents, 3);
        assert_eq!(r.by.as_deref(), Some("audience"));
        assert_eq!("audience".parse::<GroupBy>().unwrap(), GroupBy::Audience);
    }

    #[test]
    fn compared_queries_get_their_own_rows() {
        let req = ReportRequest {
            interval: Interval::Day,
            ..Default::default()
        };
        let a = build_report(&[row("x", 1, true), row("x", 2, true)], &req);
        let b = build_report(&[row("y", 2, false)], &req);
        let r = compare_reports(vec![("invasion".into(), a), ("language classes".into(), b)]);
        assert_eq!(r.by.as_deref(), Some("query"));
        let rows: Vec<(String, Option<String>, u64)> = r
            .buckets
            .iter()
            .map(|b| (b.bucket.clone(), b.group.clone(), b.documents))
            .collect();
        assert_eq!(
            rows,
            [
                ("2026-10-01".to_string(), Some("invasion".to_string()), 1),
                ("2026-10-02".to_string(), Some("invasion".to_string()), 1),
                (
                    "2026-10-02".to_string(),
                    Some("language classes".to_string()),
                    1
                ),
            ]
        );
        assert_eq!(r.totals.documents, 3);
        assert_eq!(r.totals.labels["collective_labelling"].count, 2);
        assert!(compare_reports(Vec::new()).buckets.is_empty());
    }
}
