//! Crawl state in SQLite (the embedded default; a later issue adds
//! PostgreSQL for scale-out behind the same operations).
//!
//! What lives here is what makes re-polling cheap and exact:
//! - per source: conditional-GET validators (ETag, Last-Modified), when it is
//!   next due, counters and health (last success, consecutive failures, last
//!   error, latencies);
//! - per source: the item keys already stored in the index ("seen"), so a
//!   second pass over the same feed adds nothing.
//!
//! - per document: its SimHash fingerprint and near-duplicate cluster
//!   ([`StateStore::assign_cluster`]), so syndicated copies of one story
//!   share a cluster id across portals and across re-ingests.
//!
//! Items are marked seen only *after* the index committed them (see the
//! pipeline): a crash in between makes the next pass fetch them again, and
//! the index's upsert by document id keeps that from duplicating anything.

use std::path::Path;
use std::sync::Mutex;

mod alerts;
mod backend;
mod corrections;
mod incidents;
mod ledger;
mod migrate;
mod pg;
pub use migrate::{sqlite_to_postgres, MigrationReport};
pub use pg::{redact as redact_url, PgStateStore, RECONNECT_FOR};

pub use alerts::*;
pub use backend::StateBackend;
pub use corrections::{
    Correction, CorrectionFilter, CorrectionVerdict, NewCorrection, CORRECTABLE_LABELS,
};
pub use incidents::IncidentLink;
pub use ledger::{load_sightings, SightingFilter};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// Errors from the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database could not be opened or migrated.
    #[error("cannot open state database {path}: {source}{why}")]
    Open {
        /// The file.
        path: String,
        /// SQLite's error.
        source: rusqlite::Error,
        /// The OS's reason when the directory takes no writes (SQLite
        /// says only "unable to open database file"), else empty.
        why: String,
    },
    /// A query failed.
    #[error("state database error during {op}: {source}")]
    Sql {
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A PostgreSQL statement or connection failed.
    #[error("state database (PostgreSQL) error during {op}: {message}")]
    Postgres {
        /// What was being done.
        op: &'static str,
        /// The server's or the client's message.
        message: String,
    },
    /// A record to store was refused by validation.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What kind of record.
        what: &'static str,
        /// Which field is wrong and why.
        reason: String,
    },
}

type Result<T> = std::result::Result<T, StateError>;

fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StateError {
    move |source| StateError::Sql { op, source }
}

/// Conditional-GET validators and schedule of a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrawlState {
    /// ETag of the last 200 response.
    pub etag: Option<String>,
    /// Last-Modified of the last 200 response.
    pub last_modified: Option<String>,
    /// When the source is next due.
    pub next_due: Option<DateTime<Utc>>,
    /// Consecutive failures so far.
    pub consecutive_failures: u32,
}

/// What happened in one poll of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    /// Fetched and parsed.
    Success {
        /// New ETag, if the server sent one.
        etag: Option<String>,
        /// New Last-Modified, if the server sent one.
        last_modified: Option<String>,
        /// Items listed in the feed.
        items: u64,
        /// Items new to the index.
        new_items: u64,
    },
    /// 304 Not Modified: nothing was parsed.
    NotModified,
    /// The poll failed; `message` is the precise error.
    Failure {
        /// The error's short code (e.g. `timeout`, `http_503`, `parse`).
        kind: String,
        /// The full error message.
        message: String,
    },
}

/// Health of one source, for `sources check` and the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SourceHealth {
    /// Source id.
    pub source_id: String,
    /// Polls attempted.
    pub polls: u64,
    /// Polls that failed.
    pub failures: u64,
    /// 304 answers.
    pub not_modified: u64,
    /// Items stored in the index from this source.
    pub items_total: u64,
    /// Items stored in the last 7 days, per day.
    pub items_per_day: f64,
    /// Last poll attempt.
    pub last_poll: Option<DateTime<Utc>>,
    /// Last successful poll (200 or 304).
    pub last_success: Option<DateTime<Utc>>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// When the current failure streak began.
    pub failing_since: Option<DateTime<Utc>>,
    /// Short code of the last error.
    pub last_error_kind: Option<String>,
    /// Message of the last error.
    pub last_error: Option<String>,
    /// When the last error happened.
    pub last_error_at: Option<DateTime<Utc>>,
    /// Median latency of the last polls, in milliseconds.
    pub median_latency_ms: Option<u64>,
    /// When the source is next due.
    pub next_due: Option<DateTime<Utc>>,
}

impl SourceHealth {
    /// Status word: `ok`, `never` (not polled yet), `failing`, or `unhealthy`
    /// (failing for longer than `unhealthy_after`). A source failing for days
    /// is flagged, never dropped.
    pub fn status(&self, now: DateTime<Utc>, unhealthy_after: Duration) -> &'static str {
        match (self.last_poll, self.failing_since) {
            (None, _) => "never",
            (Some(_), None) => "ok",
            (Some(_), Some(since)) if now - since >= unhealthy_after => "unhealthy",
            (Some(_), Some(_)) => "failing",
        }
    }
}

/// An item stored in the index, to be marked seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenItem {
    /// Source it came from.
    pub source_id: String,
    /// The feed's item key (entry id, else link).
    pub item_key: String,
    /// Document id in the index.
    pub doc_id: String,
}

/// The crawl-state store. One SQLite connection behind a mutex: every
/// operation is a few indexed statements, far below the ~500 µs an async
/// task may block.
pub struct StateStore {
    conn: Mutex<Connection>,
    /// The file (`:memory:` for an in-memory store), for messages.
    location: String,
}

const LATENCY_WINDOW: i64 = 50;

/// Largest Hamming distance between two SimHash fingerprints for the later
/// document to join the earlier one's cluster.
///
/// Measured on a 273-word agency story: one edited word plus an appended
/// credit line moves the fingerprint 4 bits, re-scripting (Cyrillic/Latin)
/// 0 bits, unrelated texts 20+ bits (see `dedup-report.md`). 3 would miss
/// such lightly edited copies; above ~8 the 4 x 16-bit bands find fewer
/// and fewer of the pairs anyway.
pub const MAX_CLUSTER_DISTANCE: u32 = 5;
/// Only documents this close in trend time (either direction) are cluster
/// candidates: syndication happens within days, and the window bounds the
/// candidate lists.
pub const CLUSTER_WINDOW_DAYS: i64 = 14;
/// Most rows read per band and lookup, so that a band value shared by many
/// documents (boilerplate that slipped into the text) cannot make one
/// lookup slow. The newest rows in the window are read first.
pub const MAX_CANDIDATES_PER_BAND: i64 = 64;
/// The fingerprint is split into this many bands of [`BAND_BITS`] bits.
/// Two fingerprints at distance <= 3 always share at least one band
/// exactly (pigeonhole), which is what the band indexes look up; pairs at
/// distance 4 or 5 share one with probability of about 90% and 74%.
pub const BANDS: usize = 4;
/// Bits per band.
pub const BAND_BITS: u32 = 16;

/// The band values of a fingerprint, as stored.
fn bands(simhash: u64) -> [i64; BANDS] {
    std::array::from_fn(|i| ((simhash >> (i as u32 * BAND_BITS)) & 0xffff) as i64)
}

/// Result of [`StateStore::assign_cluster`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAssignment {
    /// The cluster id: the id of the cluster's first document.
    pub cluster_id: String,
    /// The nearest earlier document the new one matched, with the Hamming
    /// distance; `None` when it started a new cluster (or was already
    /// assigned).
    pub matched: Option<(String, u32)>,
    /// Whether the document had been assigned before (re-ingest).
    pub existing: bool,
}

const SCHEMA: &str = r#"
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA cache_size = -16000;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    next_due INTEGER,
    polls INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    not_modified INTEGER NOT NULL DEFAULT 0,
    items_total INTEGER NOT NULL DEFAULT 0,
    last_poll INTEGER,
    last_success INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since INTEGER,
    last_error_kind TEXT,
    last_error TEXT,
    last_error_at INTEGER
);
CREATE TABLE IF NOT EXISTS seen (
    source_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (source_id, item_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_time ON seen (source_id, first_seen);
CREATE TABLE IF NOT EXISTS latencies (
    source_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS latencies_by_source ON latencies (source_id, at);
CREATE TABLE IF NOT EXISTS simhash (
    doc_id TEXT PRIMARY KEY,
    simhash INTEGER NOT NULL,
    at INTEGER NOT NULL,
    cluster_id TEXT NOT NULL,
    b0 INTEGER NOT NULL,
    b1 INTEGER NOT NULL,
    b2 INTEGER NOT NULL,
    b3 INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS simhash_b0 ON simhash (b0, at);
CREATE INDEX IF NOT EXISTS simhash_b1 ON simhash (b1, at);
CREATE INDEX IF NOT EXISTS simhash_b2 ON simhash (b2, at);
CREATE INDEX IF NOT EXISTS simhash_b3 ON simhash (b3, at);
CREATE INDEX IF NOT EXISTS simhash_by_time ON simhash (at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (source_id TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
"#;

/// Tables of the feature modules (analysts' label corrections, saved
/// searches and alert history), created after the core schema. Each uses
/// `CREATE ... IF NOT EXISTS`, so opening an older database adds them.
const EXTRA_SCHEMAS: [&str; 4] = [
    corrections::SCHEMA,
    alerts::SCHEMA,
    ledger::SCHEMA,
    incidents::SCHEMA,
];

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_ts(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.and_then(|s| Utc.timestamp_opt(s, 0).single())
}

impl StateStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |source| StateError::Open {
            path: path.display().to_string(),
            source,
            why: path
                .parent()
                .and_then(mediawatch_core::fsprobe::unwritable)
                .unwrap_or_default(),
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        for extra in EXTRA_SCHEMAS {
            conn.execute_batch(extra).map_err(open_err)?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            location: path.display().to_string(),
        })
    }

    /// An in-memory store, for tests.
    pub fn in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|source| StateError::Open {
            path: ":memory:".into(),
            source,
            why: String::new(),
        })?;
        conn.execute_batch(SCHEMA).map_err(sql("create schema"))?;
        for extra in EXTRA_SCHEMAS {
            conn.execute_batch(extra).map_err(sql("create schema"))?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            location: ":memory:".into(),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (statements are atomic), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validators and schedule of a source (defaults when never polled).
    pub fn crawl_state(&self, source_id: &str) -> Result<CrawlState> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT etag, last_modified, next_due, consecutive_failures FROM sources WHERE id = ?1",
                params![source_id],
                |r| {
                    Ok(CrawlState {
                        etag: r.get(0)?,
                        last_modified: r.get(1)?,
                        next_due: from_ts(r.get(2)?),
                        consecutive_failures: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(sql("read crawl state"))?;
        Ok(row.unwrap_or_default())
    }

    /// Records the outcome of a poll and when the source is next due.
    pub fn record_poll(
        &self,
        source_id: &str,
        at: DateTime<Utc>,
        latency_ms: u64,
        result: &PollResult,
        next_due: DateTime<Utc>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin"))?;
        tx.execute(
            "INSERT INTO sources (id) VALUES (?1) ON CONFLICT(id) DO NOTHING",
            params![source_id],
        )
        .map_err(sql("insert source"))?;
        tx.execute(
            "UPDATE sources SET polls = polls + 1, last_poll = ?2, next_due = ?3 WHERE id = ?1",
            params![source_id, ts(at), ts(next_due)],
        )
        .map_err(sql("update poll"))?;
        // The poll is recorded: its claim (if a cluster scheduler made one)
        // is done, and the source is next claimable at `next_due`.
        tx.execute(
            "DELETE FROM claims WHERE source_id = ?1",
            params![source_id],
        )
        .map_err(sql("release claim"))?;
        match result {
            PollResult::Success {
                etag,
                last_modified,
                ..
            } => {
                tx.execute(
                    "UPDATE sources SET etag = ?2, last_modified = ?3, last_success = ?4,
                     consecutive_failures = 0, failing_since = NULL WHERE id = ?1",
                    params![source_id, etag, last_modified, ts(at)],
                )
                .map_err(sql("record success"))?;
            }
            PollResult::NotModified => {
                tx.execute(
                    "UPDATE sources SET not_modified = not_modified + 1, last_success = ?2,
                     consecutive_failures = 0, failing_since = NULL WHERE id = ?1",
                    params![source_id, ts(at)],
                )
                .map_err(sql("record not-modified"))?;
            }
            PollResult::Failure { kind, message } => {
                tx.execute(
                    "UPDATE sources SET failures = failures + 1,
                     consecutive_failures = consecutive_failures + 1,
                     failing_since = COALESCE(failing_since, ?2),
                     last_error_kind = ?3, last_error = ?4, last_error_at = ?2 WHERE id = ?1",
                    params![source_id, ts(at), kind, message],
                )
                .map_err(sql("record failure"))?;
            }
        }
        if !matches!(result, PollResult::Failure { .. }) {
            tx.execute(
                "INSERT INTO latencies (source_id, at, ms) VALUES (?1, ?2, ?3)",
                params![source_id, ts(at), latency_ms as i64],
            )
            .map_err(sql("record latency"))?;
            // Keep a fixed window per source: bounded size over months.
            tx.execute(
                "DELETE FROM latencies WHERE source_id = ?1 AND rowid NOT IN
                 (SELECT rowid FROM latencies WHERE source_id = ?1 ORDER BY at DESC, rowid DESC LIMIT ?2)",
                params![source_id, LATENCY_WINDOW],
            )
            .map_err(sql("trim latencies"))?;
        }
        tx.commit().map_err(sql("commit poll"))
    }

    /// Claims up to `limit` of `source_ids` that are due at `now` (never
    /// polled, or `next_due` passed) and not claimed by someone else
    /// (a claim lasts until `now + lease`, or until the source's poll is
    /// recorded). Most overdue first. See [`StateBackend::claim_due`].
    pub fn claim_due(
        &self,
        source_ids: &[&str],
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<String>> {
        let until = ts(now) + i64::try_from(lease.as_secs()).unwrap_or(i64::MAX / 2);
        let mut conn = self.conn();
        // One writer at a time in SQLite: the transaction alone makes the
        // check and the claim atomic.
        let tx = conn.transaction().map_err(sql("begin"))?;
        let mut claimed = Vec::new();
        {
            let mut due = tx
                .prepare_cached(
                    "SELECT COALESCE(s.next_due, 0) FROM (SELECT ?1 AS id) q \
                     LEFT JOIN sources s ON s.id = q.id LEFT JOIN claims c ON c.source_id = q.id \
                     WHERE COALESCE(s.next_due, 0) <= ?2 AND COALESCE(c.until, 0) <= ?2",
                )
                .map_err(sql("prepare claim"))?;
            let mut candidates = Vec::new();
            for id in source_ids {
                if let Some(due_at) = due
                    .query_row(params![id, ts(now)], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(sql("check due"))?
                {
                    candidates.push((due_at, *id));
                }
            }
            candidates.sort();
            for (_, id) in candidates.into_iter().take(limit) {
                tx.execute(
                    "INSERT INTO claims (source_id, until) VALUES (?1, ?2) \
                     ON CONFLICT(source_id) DO UPDATE SET until = excluded.until",
                    params![id, until],
                )
                .map_err(sql("claim"))?;
                claimed.push(id.to_string());
            }
        }
        tx.commit().map_err(sql("commit claim"))?;
        Ok(claimed)
    }

    /// Postpones a source (e.g. a 429 with a long Retry-After) without
    /// touching its counters.
    pub fn set_next_due(&self, source_id: &str, next_due: DateTime<Utc>) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO sources (id, next_due) VALUES (?1, ?2)
             ON CONFLICT(id) DO UPDATE SET next_due = excluded.next_due",
            params![source_id, ts(next_due)],
        )
        .map_err(sql("set next due"))?;
        Ok(())
    }

    /// Whether an item of a source is already stored.
    pub fn is_seen(&self, source_id: &str, item_key: &str) -> Result<bool> {
        let conn = self.conn();
        conn.query_row(
            "SELECT 1 FROM seen WHERE source_id = ?1 AND item_key = ?2",
            params![source_id, item_key],
            |_| Ok(()),
        )
        .optional()
        .map(|r| r.is_some())
        .map_err(sql("check seen"))
    }

    /// Which of `keys` (items of `source_id`) are already stored, under one
    /// lock with one prepared statement.
    pub fn seen_keys(
        &self,
        source_id: &str,
        keys: &[&str],
    ) -> Result<std::collections::HashSet<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT 1 FROM seen WHERE source_id = ?1 AND item_key = ?2")
            .map_err(sql("prepare check seen"))?;
        let mut out = std::collections::HashSet::new();
        for k in keys {
            if stmt
                .exists(params![source_id, k])
                .map_err(sql("check seen"))?
            {
                out.insert((*k).to_string());
            }
        }
        Ok(out)
    }

    /// Marks items as stored (after the index committed them). Returns how
    /// many were new; items already marked are left as they were.
    pub fn mark_seen(&self, items: &[SeenItem], at: DateTime<Utc>) -> Result<u64> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin"))?;
        let mut added = 0u64;
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO seen (source_id, item_key, doc_id, first_seen)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql("prepare mark seen"))?;
            let mut bump = tx
                .prepare_cached(
                    "INSERT INTO sources (id, items_total) VALUES (?1, 1)
                     ON CONFLICT(id) DO UPDATE SET items_total = items_total + 1",
                )
                .map_err(sql("prepare count item"))?;
            for it in items {
                let n = ins
                    .execute(params![it.source_id, it.item_key, it.doc_id, ts(at)])
                    .map_err(sql("mark seen"))?;
                if n > 0 {
                    added += 1;
                    bump.execute(params![it.source_id])
                        .map_err(sql("count item"))?;
                }
            }
        }
        tx.commit().map_err(sql("commit seen"))?;
        Ok(added)
    }

    /// Number of items marked seen for a source.
    pub fn seen_count(&self, source_id: &str) -> Result<u64> {
        let conn = self.conn();
        conn.query_row(
            "SELECT COUNT(*) FROM seen WHERE source_id = ?1",
            params![source_id],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(sql("count seen"))
    }

    /// Assigns a document to a near-duplicate cluster and remembers its
    /// fingerprint.
    ///
    /// Candidates are documents whose trend time is within
    /// [`CLUSTER_WINDOW_DAYS`] of `time` and that share at least one
    /// 16-bit band of `simhash` (an indexed lookup per band, at most
    /// [`MAX_CANDIDATES_PER_BAND`] rows each). The nearest candidate within
    /// [`MAX_CLUSTER_DISTANCE`] bits wins (ties: the earlier, then the
    /// smaller id) and the document joins *its* cluster; otherwise the
    /// document's own id starts a new cluster.
    ///
    /// Idempotent: a document seen before keeps its cluster (re-ingesting
    /// never moves it); its stored fingerprint and time are updated so
    /// later copies match the current text.
    pub fn assign_cluster(
        &self,
        doc_id: &str,
        simhash: u64,
        time: DateTime<Utc>,
    ) -> Result<ClusterAssignment> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin cluster"))?;
        let a = assign_in(&tx, doc_id, simhash, time)?;
        tx.commit().map_err(sql("commit cluster"))?;
        Ok(a)
    }

    /// [`StateStore::assign_cluster`] for many documents in one transaction
    /// (one commit instead of one per document; the pipeline calls this per
    /// batch). Documents are assigned in order, so a later one can join the
    /// cluster of an earlier one in the same batch.
    pub fn assign_clusters(
        &self,
        docs: &[(&str, u64, DateTime<Utc>)],
    ) -> Result<Vec<ClusterAssignment>> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin cluster"))?;
        let out = docs
            .iter()
            .map(|(id, h, t)| assign_in(&tx, id, *h, *t))
            .collect::<Result<Vec<_>>>()?;
        tx.commit().map_err(sql("commit cluster"))?;
        Ok(out)
    }

    /// The cluster a document was assigned to, if any.
    pub fn cluster_of(&self, doc_id: &str) -> Result<Option<String>> {
        let conn = self.conn();
        conn.query_row(
            "SELECT cluster_id FROM simhash WHERE doc_id = ?1",
            params![doc_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql("read cluster"))
    }

    /// Number of stored fingerprints.
    pub fn fingerprint_count(&self) -> Result<u64> {
        let conn = self.conn();
        conn.query_row("SELECT COUNT(*) FROM simhash", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sql("count fingerprints"))
    }

    /// Forgets fingerprints with a trend time before `before` (they can no
    /// longer be cluster candidates of new documents anyway once older than
    /// the window); returns how many were removed. Cluster ids already in
    /// the index are unaffected.
    pub fn prune_fingerprints(&self, before: DateTime<Utc>) -> Result<u64> {
        let conn = self.conn();
        conn.execute("DELETE FROM simhash WHERE at < ?1", params![ts(before)])
            .map(|n| n as u64)
            .map_err(sql("prune fingerprints"))
    }

    /// Health of a source as of `now` (defaults when never polled).
    pub fn health(&self, source_id: &str, now: DateTime<Utc>) -> Result<SourceHealth> {
        let conn = self.conn();
        let mut h = conn
            .query_row(
                "SELECT polls, failures, not_modified, items_total, last_poll, last_success,
                        consecutive_failures, failing_since, last_error_kind, last_error,
                        last_error_at, next_due
                 FROM sources WHERE id = ?1",
                params![source_id],
                |r| {
                    Ok(SourceHealth {
                        source_id: source_id.to_string(),
                        polls: r.get::<_, i64>(0)? as u64,
                        failures: r.get::<_, i64>(1)? as u64,
                        not_modified: r.get::<_, i64>(2)? as u64,
                        items_total: r.get::<_, i64>(3)? as u64,
                        last_poll: from_ts(r.get(4)?),
                        last_success: from_ts(r.get(5)?),
                        consecutive_failures: r.get(6)?,
                        failing_since: from_ts(r.get(7)?),
                        last_error_kind: r.get(8)?,
                        last_error: r.get(9)?,
                        last_error_at: from_ts(r.get(10)?),
                        next_due: from_ts(r.get(11)?),
                        ..Default::default()
                    })
                },
            )
            .optional()
            .map_err(sql("read health"))?
            .unwrap_or_else(|| SourceHealth {
                source_id: source_id.to_string(),
                ..Default::default()
            });
        let week_ago = ts(now - Duration::days(7));
        let recent: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM seen WHERE source_id = ?1 AND first_seen >= ?2",
                params![source_id, week_ago],
                |r| r.get(0),
            )
            .map_err(sql("count recent items"))?;
        h.items_per_day = recent as f64 / 7.0;
        let mut stmt = conn
            .prepare_cached("SELECT ms FROM latencies WHERE source_id = ?1 ORDER BY ms")
            .map_err(sql("prepare latencies"))?;
        let lat: Vec<i64> = stmt
            .query_map(params![source_id], |r| r.get(0))
            .map_err(sql("read latencies"))?
            .collect::<std::result::Result<_, _>>()
            .map_err(sql("read latencies"))?;
        if !lat.is_empty() {
            h.median_latency_ms = Some(lat[lat.len() / 2] as u64);
        }
        Ok(h)
    }
}

/// The nearest cluster candidate so far: (distance, time, doc id, cluster
/// id). Both state backends choose through this, so they cluster alike.
#[derive(Default)]
pub(crate) struct BestCandidate(Option<(u32, i64, String, String)>);

impl BestCandidate {
    /// Takes candidate `cand` when it is within [`MAX_CLUSTER_DISTANCE`]
    /// bits of `simhash` and nearer than the best so far (ties: the
    /// earlier, then the smaller id).
    pub(crate) fn consider(
        &mut self,
        simhash: u64,
        cand: String,
        cand_hash: i64,
        at: i64,
        cluster: String,
    ) {
        let d = (simhash ^ cand_hash as u64).count_ones();
        if d > MAX_CLUSTER_DISTANCE {
            return;
        }
        let better = match &self.0 {
            None => true,
            Some((bd, bat, bid, _)) => (d, at, cand.as_str()) < (*bd, *bat, bid.as_str()),
        };
        if better {
            self.0 = Some((d, at, cand, cluster));
        }
    }

    /// The cluster to join and the match, or a new cluster named `doc_id`.
    pub(crate) fn decide(self, doc_id: &str) -> (String, Option<(String, u32)>) {
        match self.0 {
            Some((d, _, cand, cluster)) => (cluster, Some((cand, d))),
            None => (doc_id.to_string(), None),
        }
    }
}

/// One cluster assignment inside a transaction (see
/// [`StateStore::assign_cluster`]).
fn assign_in(
    tx: &rusqlite::Transaction<'_>,
    doc_id: &str,
    simhash: u64,
    time: DateTime<Utc>,
) -> Result<ClusterAssignment> {
    let b = bands(simhash);
    let existing: Option<(String, i64, i64)> = tx
        .prepare_cached("SELECT cluster_id, simhash, at FROM simhash WHERE doc_id = ?1")
        .and_then(|mut st| {
            st.query_row(params![doc_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(sql("read cluster"))?;
    if let Some((cluster_id, old_hash, old_at)) = existing {
        // Re-ingest: keep the cluster; refresh the fingerprint only when the
        // text or time changed (an update rewrites five indexes).
        if old_hash != simhash as i64 || old_at != ts(time) {
            tx.execute(
                "UPDATE simhash SET simhash = ?2, at = ?3, b0 = ?4, b1 = ?5, b2 = ?6, b3 = ?7
                 WHERE doc_id = ?1",
                params![doc_id, simhash as i64, ts(time), b[0], b[1], b[2], b[3]],
            )
            .map_err(sql("update fingerprint"))?;
        }
        return Ok(ClusterAssignment {
            cluster_id,
            matched: None,
            existing: true,
        });
    }
    let window = CLUSTER_WINDOW_DAYS * 86_400;
    let (lo, hi) = (
        ts(time).saturating_sub(window),
        ts(time).saturating_add(window),
    );
    let mut best = BestCandidate::default();
    for (band, value) in b.iter().enumerate() {
        // One statement per band so each uses its own (bN, at) index.
        let sql_text = match band {
            0 => {
                "SELECT doc_id, simhash, at, cluster_id FROM simhash
                  WHERE b0 = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY at DESC LIMIT ?4"
            }
            1 => {
                "SELECT doc_id, simhash, at, cluster_id FROM simhash
                  WHERE b1 = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY at DESC LIMIT ?4"
            }
            2 => {
                "SELECT doc_id, simhash, at, cluster_id FROM simhash
                  WHERE b2 = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY at DESC LIMIT ?4"
            }
            _ => {
                "SELECT doc_id, simhash, at, cluster_id FROM simhash
                  WHERE b3 = ?1 AND at BETWEEN ?2 AND ?3 ORDER BY at DESC LIMIT ?4"
            }
        };
        let mut stmt = tx
            .prepare_cached(sql_text)
            .map_err(sql("prepare cluster lookup"))?;
        let rows = stmt
            .query_map(params![value, lo, hi, MAX_CANDIDATES_PER_BAND], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(sql("cluster lookup"))?;
        for row in rows {
            let (cand, cand_hash, at, cluster) = row.map_err(sql("cluster lookup"))?;
            best.consider(simhash, cand, cand_hash, at, cluster);
        }
    }
    let (cluster_id, matched) = best.decide(doc_id);
    tx.execute(
        "INSERT INTO simhash (doc_id, simhash, at, cluster_id, b0, b1, b2, b3)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            doc_id,
            simhash as i64,
            ts(time),
            cluster_id,
            b[0],
            b[1],
            b[2],
            b[3]
        ],
    )
    .map_err(sql("store fingerprint"))?;
    Ok(ClusterAssignment {
        cluster_id,
        matched,
        existing: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_760_000_000 + s, 0).unwrap()
    }

    #[test]
    fn validators_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        {
            let s = StateStore::open(&path).unwrap();
            s.record_poll(
                "a",
                t(0),
                120,
                &PollResult::Success {
                    etag: Some("\"v1\"".into()),
                    last_modified: Some("Mon, 01 Jan 2026 00:00:00 GMT".into()),
                    items: 3,
                    new_items: 3,
                },
                t(1800),
            )
            .unwrap();
        }
        let s = StateStore::open(&path).unwrap();
        let c = s.crawl_state("a").unwrap();
        assert_eq!(c.etag.as_deref(), Some("\"v1\""));
        assert_eq!(c.next_due, Some(t(1800)));
        assert_eq!(s.crawl_state("never").unwrap(), CrawlState::default());
    }

    #[test]
    fn seen_items_are_not_counted_twice() {
        let s = StateStore::in_memory().unwrap();
        let item = |k: &str| SeenItem {
            source_id: "a".into(),
            item_key: k.into(),
            doc_id: format!("doc-{k}"),
        };
        assert_eq!(s.mark_seen(&[item("1"), item("2")], t(0)).unwrap(), 2);
        assert_eq!(s.mark_seen(&[item("2"), item("3")], t(5)).unwrap(), 1);
        assert!(s.is_seen("a", "1").unwrap());
        assert!(!s.is_seen("a", "4").unwrap());
        assert!(!s.is_seen("b", "1").unwrap());
        assert_eq!(s.seen_count("a").unwrap(), 3);
        assert_eq!(s.health("a", t(10)).unwrap().items_total, 3);
    }

    #[test]
    fn failure_streaks_flag_then_recover() {
        let s = StateStore::in_memory().unwrap();
        let fail = PollResult::Failure {
            kind: "http_503".into(),
            message: "source x: HTTP 503 from http://h/feed".into(),
        };
        s.record_poll("a", t(0), 0, &fail, t(60)).unwrap();
        s.record_poll("a", t(3 * 86400), 0, &fail, t(3 * 86400 + 60))
            .unwrap();
        let h = s.health("a", t(3 * 86400)).unwrap();
        assert_eq!(h.consecutive_failures, 2);
        assert_eq!(h.failing_since, Some(t(0)));
        assert_eq!(h.status(t(3 * 86400), Duration::days(2)), "unhealthy");
        assert_eq!(h.status(t(3600), Duration::days(2)), "failing");
        assert!(h.last_error.unwrap().contains("503"));

        s.record_poll(
            "a",
            t(4 * 86400),
            40,
            &PollResult::NotModified,
            t(4 * 86400 + 60),
        )
        .unwrap();
        let h = s.health("a", t(4 * 86400)).unwrap();
        assert_eq!(h.status(t(4 * 86400), Duration::days(2)), "ok");
        assert_eq!(h.consecutive_failures, 0);
        assert_eq!(h.polls, 3);
        assert_eq!(h.failures, 2);
        assert_eq!(h.median_latency_ms, Some(40));
        // The last error stays visible after recovery, for the record.
        assert_eq!(h.last_error_kind.as_deref(), Some("http_503"));
    }

    #[test]
    fn latency_window_is_bounded() {
        let s = StateStore::in_memory().unwrap();
        for i in 0..(LATENCY_WINDOW + 20) {
            s.record_poll("a", t(i), i as u64, &PollResult::NotModified, t(i + 1))
                .unwrap();
        }
        let n: i64 = s
            .conn()
            .query_row("SELECT COUNT(*) FROM latencies", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, LATENCY_WINDOW);
    }

    const STORY: &str = include_str!("../../core/src/testdata/agency_story_sr_latn.txt");
    const STORY_CYRL: &str = include_str!("../../core/src/testdata/agency_story_sr_cyrl.txt");

    #[test]
    fn band_values_cover_all_bits() {
        assert_eq!(bands(0x0004_0003_0002_0001), [1, 2, 3, 4]);
        assert_eq!(bands(u64::MAX), [0xffff; 4]);
    }

    #[test]
    fn near_duplicates_join_and_unrelated_texts_do_not() {
        use mediawatch_core::similarity::simhash64;
        let s = StateStore::in_memory().unwrap();
        let a = s.assign_cluster("a", simhash64(STORY), t(0)).unwrap();
        assert_eq!(a.cluster_id, "a");
        assert_eq!(a.matched, None);
        // Another portal: one word edited, a credit line added, a day later.
        let edited = STORY.replace("dvanaestoro", "trinaestoro") + "\n\n(Izvor: Tanjug)";
        let b = s
            .assign_cluster("b", simhash64(&edited), t(86_400))
            .unwrap();
        assert_eq!(b.cluster_id, "a");
        let (matched, d) = b.matched.clone().unwrap();
        assert_eq!(matched, "a");
        assert!(d <= MAX_CLUSTER_DISTANCE);
        // The same story in Cyrillic joins too (distance 0).
        let c = s
            .assign_cluster("c", simhash64(STORY_CYRL), t(3600))
            .unwrap();
        assert_eq!(c.cluster_id, "a");
        assert_eq!(c.matched.unwrap().1, 0);
        // An unrelated story starts its own cluster.
        let other = "Gradsko veće usvojilo je budžet za narednu godinu. Najviše novca \
            izdvojeno je za obnovu škola, vrtića i lokalnih puteva, a opozicija je glasala \
            protiv uz obrazloženje da su plate u javnim preduzećima previsoke.";
        let o = s.assign_cluster("o", simhash64(other), t(60)).unwrap();
        assert_eq!(o.cluster_id, "o");
        assert_eq!(s.fingerprint_count().unwrap(), 4);
        assert_eq!(s.cluster_of("b").unwrap().as_deref(), Some("a"));
        assert_eq!(s.cluster_of("zzz").unwrap(), None);
    }

    #[test]
    fn nearest_candidate_wins_and_distance_is_bounded() {
        let s = StateStore::in_memory().unwrap();
        let base = 0x1234_5678_9abc_def0u64;
        s.assign_cluster("far", base ^ 0b11_1110_0000, t(0))
            .unwrap(); // 5 bits
        s.assign_cluster("near", base ^ (1 << 63) ^ (1 << 40), t(10))
            .unwrap(); // 2 bits, in other bands
        let x = s.assign_cluster("x", base, t(20)).unwrap();
        // "near" is 7 bits from "far", so it started its own cluster.
        assert_eq!(x.matched, Some(("near".to_string(), 2)));
        assert_eq!(x.cluster_id, s.cluster_of("near").unwrap().unwrap());
        // One bit beyond the limit: no match even though three bands agree.
        let limit = MAX_CLUSTER_DISTANCE + 1;
        let flipped = (0..limit).fold(0x0f0f_0000_0000_0000u64, |h, i| h ^ (1 << i));
        s.assign_cluster("p", 0x0f0f_0000_0000_0000, t(0)).unwrap();
        let q = s.assign_cluster("q", flipped, t(0)).unwrap();
        assert_eq!(q.cluster_id, "q");
    }

    #[test]
    fn clusters_are_stable_on_reingest_and_limited_to_the_window() {
        let s = StateStore::in_memory().unwrap();
        let h = 0xdead_beef_0bad_f00du64;
        assert_eq!(s.assign_cluster("a", h, t(0)).unwrap().cluster_id, "a");
        assert_eq!(s.assign_cluster("b", h ^ 1, t(60)).unwrap().cluster_id, "a");
        // Re-ingesting keeps the cluster, even with a changed text.
        let again = s.assign_cluster("b", 0x1111, t(60)).unwrap();
        assert!(again.existing);
        assert_eq!(again.cluster_id, "a");
        let again = s.assign_cluster("a", h, t(0)).unwrap();
        assert_eq!((again.cluster_id.as_str(), again.existing), ("a", true));
        assert_eq!(s.fingerprint_count().unwrap(), 2);
        // The same text 15 days later is a new story.
        let late = t(0) + Duration::days(CLUSTER_WINDOW_DAYS + 1);
        assert_eq!(
            s.assign_cluster("late", h, late).unwrap().cluster_id,
            "late"
        );
        // Backfill: an older copy inside the window still joins.
        let early = t(0) - Duration::days(3);
        assert_eq!(s.assign_cluster("early", h, early).unwrap().cluster_id, "a");
        // Pruning forgets old fingerprints but not what was assigned.
        assert_eq!(s.prune_fingerprints(t(1)).unwrap(), 2);
        assert_eq!(s.fingerprint_count().unwrap(), 2);
        assert_eq!(s.cluster_of("b").unwrap().as_deref(), Some("a"));
    }

    #[test]
    fn batches_assign_in_order_in_one_transaction() {
        let s = StateStore::in_memory().unwrap();
        let h = 0x0123_4567_89ab_cdefu64;
        let out = s
            .assign_clusters(&[("a", h, t(0)), ("b", h ^ 0b101, t(5)), ("c", !h, t(5))])
            .unwrap();
        let ids: Vec<&str> = out.iter().map(|a| a.cluster_id.as_str()).collect();
        assert_eq!(ids, ["a", "a", "c"]);
        assert_eq!(out[1].matched, Some(("a".to_string(), 2)));
        // The same batch again: nothing moves.
        let again = s
            .assign_clusters(&[("a", h, t(0)), ("b", h ^ 0b101, t(5))])
            .unwrap();
        assert!(again.iter().all(|a| a.existing && a.cluster_id == "a"));
        assert!(s.assign_clusters(&[]).unwrap().is_empty());
        assert_eq!(s.fingerprint_count().unwrap(), 3);
    }

    #[test]
    fn crowded_band_values_stay_bounded() {
        let s = StateStore::in_memory().unwrap();
        let target = 0x1111_2222_3333_abcdu64;
        // An older true copy that differs in band 0 only.
        s.assign_cluster("copy", target ^ 1, t(-100)).unwrap();
        // 300 newer documents share band 0 with the target but are far from
        // it elsewhere; only the newest 64 of them are read for band 0.
        for i in 1..=300u64 {
            let h = 0xabcd | (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) & !0xffff);
            let r = s.assign_cluster(&format!("d{i}"), h, t(i as i64)).unwrap();
            assert_eq!(r.cluster_id, format!("d{i}"));
        }
        // The copy is still found through the bands that are not crowded.
        let r = s.assign_cluster("new", target, t(400)).unwrap();
        assert_eq!(r.matched, Some(("copy".to_string(), 1)));
        assert_eq!(s.fingerprint_count().unwrap(), 302);
    }
}
