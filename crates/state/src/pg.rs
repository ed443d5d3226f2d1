//! [`PgStateStore`]: the state on PostgreSQL, for many machines sharing
//! one system of record (the scale-out issue's cluster roles). The same
//! [`StateBackend`] as the SQLite [`crate::StateStore`], with the same
//! tables; times are stored as Unix seconds like there, so both read alike
//! and `mediawatch migrate-state` copies rows as they are.
//!
//! The `postgres` client is synchronous and runs its own small runtime, so
//! a call made from inside a tokio task runs on a scoped helper thread
//! (tokio forbids starting a runtime inside one). A lost connection (a
//! restarted server) is reopened, retrying for [`RECONNECT_FOR`], and the
//! statement is run again once; a write whose commit was sent just before
//! the connection broke may then be applied twice, which can only bump a
//! poll counter twice (seen items, clusters and alerts are keyed and stay
//! single).
//!
//! Cluster assignment takes a transaction-scoped advisory lock, so workers
//! on several machines assign near-duplicates one batch at a time, as the
//! single SQLite writer does.

use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use postgres::{Client, NoTls, Row};

use crate::alerts::{AlertFilter, AlertRecord, Delivery, NewAlert, StoredSearch};
use crate::corrections::{Correction, CorrectionFilter, CorrectionVerdict, NewCorrection};
use crate::ledger::SightingFilter;
use crate::{
    bands, from_ts, ts, BestCandidate, ClusterAssignment, CrawlState, PollResult, Result, SeenItem,
    SourceHealth, StateBackend, StateError, CLUSTER_WINDOW_DAYS, LATENCY_WINDOW,
    MAX_CANDIDATES_PER_BAND,
};
use mediawatch_core::ledger::{
    ArticleHistory, CommentSighting, NewTracked, RevisitRecord, TrackedArticle,
};

/// How long a lost connection is retried before a call fails.
pub const RECONNECT_FOR: StdDuration = StdDuration::from_secs(30);

/// Advisory lock keys (arbitrary, fixed): schema creation and cluster
/// assignment.
const SCHEMA_LOCK: i64 = 0x6d77_0001;
const CLUSTER_LOCK: i64 = 0x6d77_0002;
/// The namespace of the per-source poll locks (two-key advisory locks:
/// this, and a hash of the source id).
const SOURCE_LOCKS: i32 = 0x6d77_0003;

/// A stable 32-bit key of a source id (FNV-1a).
fn source_lock_key(source_id: &str) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in source_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

/// Every table of the state, as in SQLite (BIGINT seconds for times).
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    next_due BIGINT,
    polls BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    not_modified BIGINT NOT NULL DEFAULT 0,
    items_total BIGINT NOT NULL DEFAULT 0,
    last_poll BIGINT,
    last_success BIGINT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since BIGINT,
    last_error_kind TEXT,
    last_error TEXT,
    last_error_at BIGINT
);
CREATE INDEX IF NOT EXISTS sources_by_due ON sources (next_due);
CREATE TABLE IF NOT EXISTS seen (
    source_id TEXT NOT NULL,
    item_key TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    PRIMARY KEY (source_id, item_key)
);
CREATE INDEX IF NOT EXISTS seen_by_time ON seen (source_id, first_seen);
CREATE TABLE IF NOT EXISTS latencies (
    id BIGSERIAL PRIMARY KEY,
    source_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS latencies_by_source ON latencies (source_id, at);
CREATE TABLE IF NOT EXISTS simhash (
    doc_id TEXT PRIMARY KEY,
    simhash BIGINT NOT NULL,
    at BIGINT NOT NULL,
    cluster_id TEXT NOT NULL,
    b0 BIGINT NOT NULL,
    b1 BIGINT NOT NULL,
    b2 BIGINT NOT NULL,
    b3 BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS simhash_b0 ON simhash (b0, at);
CREATE INDEX IF NOT EXISTS simhash_b1 ON simhash (b1, at);
CREATE INDEX IF NOT EXISTS simhash_b2 ON simhash (b2, at);
CREATE INDEX IF NOT EXISTS simhash_b3 ON simhash (b3, at);
CREATE INDEX IF NOT EXISTS simhash_by_time ON simhash (at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (source_id TEXT PRIMARY KEY, until BIGINT NOT NULL);
INSERT INTO meta (key, value) VALUES ('schema_version', '1') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS saved_searches (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    filters TEXT NOT NULL,
    rule TEXT,
    channels TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE TABLE IF NOT EXISTS alerts (
    id BIGSERIAL PRIMARY KEY,
    search_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    rule TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    observed DOUBLE PRECISION NOT NULL,
    baseline DOUBLE PRECISION NOT NULL,
    statistic DOUBLE PRECISION NOT NULL,
    p_value DOUBLE PRECISION NOT NULL,
    details TEXT NOT NULL,
    fired_at BIGINT NOT NULL,
    UNIQUE (search_id, metric, window_start)
);
CREATE INDEX IF NOT EXISTS alerts_by_search ON alerts (search_id, fired_at);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (fired_at);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (alert_id, channel)
);
CREATE TABLE IF NOT EXISTS corrections (
    id BIGSERIAL PRIMARY KEY,
    doc_id TEXT NOT NULL,
    label TEXT NOT NULL,
    verdict TEXT NOT NULL,
    value TEXT,
    model_version TEXT NOT NULL,
    model_score DOUBLE PRECISION,
    text TEXT NOT NULL,
    lang TEXT,
    analyst TEXT,
    note TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_by_doc ON corrections (doc_id, id);
CREATE INDEX IF NOT EXISTS corrections_by_label ON corrections (label, id);
"#;

/// The state on a PostgreSQL server.
pub struct PgStateStore {
    /// `postgres://user@host:port/db` (libpq key=value strings work too).
    url: String,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PgStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStateStore")
            .field("url", &redact(&self.url))
            .finish()
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn pg(op: &'static str) -> impl Fn(postgres::Error) -> StateError {
    move |e| StateError::Postgres {
        op,
        message: e.to_string(),
    }
}

impl PgStateStore {
    /// Connects (retrying for [`RECONNECT_FOR`] while the server starts)
    /// and creates the tables that are missing.
    pub fn connect(url: &str) -> Result<Self> {
        let store = PgStateStore {
            url: url.to_string(),
            client: Mutex::new(None),
        };
        store.with("create schema", |c| {
            let mut tx = c.transaction()?;
            // Two processes starting at once must not both create a table.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            tx.batch_execute(crate::ledger::PG_SCHEMA)?;
            tx.batch_execute(crate::incidents::PG_SCHEMA)?;
            tx.commit()
        })?;
        Ok(store)
    }

    /// Runs `f` on the connection, (re)connecting first when needed, off
    /// the async runtime's threads. `f` may run twice (see the module docs).
    pub(crate) fn with<R: Send>(
        &self,
        op: &'static str,
        mut f: impl FnMut(&mut Client) -> std::result::Result<R, postgres::Error> + Send,
    ) -> Result<R> {
        let mut run = || -> Result<R> {
            // A panic while holding the lock leaves at worst a broken
            // connection, which is replaced below.
            let mut guard = self.client.lock().unwrap_or_else(|p| p.into_inner());
            for attempt in 0..2 {
                if guard.as_ref().is_none_or(Client::is_closed) {
                    *guard = Some(self.reconnect()?);
                }
                let Some(client) = guard.as_mut() else {
                    continue;
                };
                match f(client) {
                    Ok(r) => return Ok(r),
                    Err(e) if attempt == 0 && (e.is_closed() || client.is_closed()) => {
                        tracing::warn!(
                            "state database connection lost during {op}: {e}; reconnecting"
                        );
                        *guard = None;
                    }
                    Err(e) => return Err(pg(op)(e)),
                }
            }
            Err(StateError::Postgres {
                op,
                message: "the connection was lost twice".into(),
            })
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(run).join().unwrap_or_else(|_| {
                    Err(StateError::Postgres {
                        op,
                        message: "the database call panicked".into(),
                    })
                })
            })
        } else {
            run()
        }
    }

    fn reconnect(&self) -> Result<Client> {
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut wait = StdDuration::from_millis(100);
        loop {
            match Client::connect(&self.url, NoTls) {
                Ok(c) => return Ok(c),
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(
                        "state database {} not reachable yet: {e}",
                        redact(&self.url)
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(StdDuration::from_secs(2));
                }
                Err(e) => {
                    return Err(StateError::Postgres {
                        op: "connect",
                        message: format!("{}: {e}", redact(&self.url)),
                    })
                }
            }
        }
    }

    /// Deletes every row of every table (for tests and a fresh migration).
    pub fn clear(&self) -> Result<()> {
        self.with("clear", |c| {
            c.batch_execute(
                "TRUNCATE sources, seen, latencies, simhash, saved_searches, alerts, \
                 alert_deliveries, corrections, tracked, article_versions, article_checks, \
                 comment_sightings, incident_links RESTART IDENTITY CASCADE",
            )
        })
    }
}

impl Drop for PgStateStore {
    /// Closing the client blocks on its runtime, which tokio forbids on a
    /// runtime thread: close it on a helper thread there.
    fn drop(&mut self) {
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = client {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::scope(|s| {
                    s.spawn(move || drop(c));
                });
            }
        }
    }
}

fn opt_u64(v: i64) -> u64 {
    v.max(0) as u64
}

fn row_to_search(r: &Row) -> StoredSearch {
    StoredSearch {
        id: r.get(0),
        name: r.get(1),
        query: r.get(2),
        filters_json: r.get(3),
        rule_json: r.get(4),
        channels_json: r.get(5),
        created_at: from_ts(Some(r.get(6))).unwrap_or_default(),
        enabled: r.get(7),
    }
}

const SEARCH_COLUMNS: &str = "id, name, query, filters, rule, channels, created_at, enabled";

impl StateBackend for PgStateStore {
    fn location(&self) -> String {
        redact(&self.url)
    }

    fn crawl_state(&self, source_id: &str) -> Result<CrawlState> {
        self.with("read crawl state", |c| {
            let row = c.query_opt(
                "SELECT etag, last_modified, next_due, consecutive_failures FROM sources WHERE id = $1",
                &[&source_id],
            )?;
            Ok(row
                .map(|r| CrawlState {
                    etag: r.get(0),
                    last_modified: r.get(1),
                    next_due: from_ts(r.get(2)),
                    consecutive_failures: r.get::<_, i32>(3).max(0) as u32,
                })
                .unwrap_or_default())
        })
    }

    fn record_poll(
        &self,
        source_id: &str,
        at: DateTime<Utc>,
        latency_ms: u64,
        result: &PollResult,
        next_due: DateTime<Utc>,
    ) -> Result<()> {
        let (at, next_due, ms) = (ts(at), ts(next_due), latency_ms as i64);
        self.with("record poll", |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO sources (id) VALUES ($1) ON CONFLICT (id) DO NOTHING",
                &[&source_id],
            )?;
            tx.execute(
                "UPDATE sources SET polls = polls + 1, last_poll = $2, next_due = $3 WHERE id = $1",
                &[&source_id, &at, &next_due],
            )?;
            tx.execute("DELETE FROM claims WHERE source_id = $1", &[&source_id])?;
            match result {
                PollResult::Success {
                    etag,
                    last_modified,
                    ..
                } => {
                    tx.execute(
                        "UPDATE sources SET etag = $2, last_modified = $3, last_success = $4, \
                         consecutive_failures = 0, failing_since = NULL WHERE id = $1",
                        &[&source_id, etag, last_modified, &at],
                    )?;
                }
                PollResult::NotModified => {
                    tx.execute(
                        "UPDATE sources SET not_modified = not_modified + 1, last_success = $2, \
                         consecutive_failures = 0, failing_since = NULL WHERE id = $1",
                        &[&source_id, &at],
                    )?;
                }
                PollResult::Failure { kind, message } => {
                    tx.execute(
                        "UPDATE sources SET failures = failures + 1, \
                         consecutive_failures = consecutive_failures + 1, \
                         failing_since = COALESCE(failing_since, $2), \
                         last_error_kind = $3, last_error = $4, last_error_at = $2 WHERE id = $1",
                        &[&source_id, &at, kind, message],
                    )?;
                }
            }
            if !matches!(result, PollResult::Failure { .. }) {
                tx.execute(
                    "INSERT INTO latencies (source_id, at, ms) VALUES ($1, $2, $3)",
                    &[&source_id, &at, &ms],
                )?;
                // Keep a fixed window per source: bounded size over months.
                tx.execute(
                    "DELETE FROM latencies WHERE source_id = $1 AND id NOT IN \
                     (SELECT id FROM latencies WHERE source_id = $1 ORDER BY at DESC, id DESC LIMIT $2)",
                    &[&source_id, &LATENCY_WINDOW],
                )?;
            }
            tx.commit()
        })
    }

    fn claim_due(
        &self,
        source_ids: &[&str],
        now: DateTime<Utc>,
        lease: StdDuration,
        limit: usize,
    ) -> Result<Vec<String>> {
        let ids: Vec<String> = source_ids.iter().map(|s| s.to_string()).collect();
        let now = ts(now);
        let until = now + i64::try_from(lease.as_secs()).unwrap_or(i64::MAX / 2);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with("claim due sources", |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO sources (id) SELECT unnest($1::text[]) ON CONFLICT (id) DO NOTHING",
                &[&ids],
            )?;
            // Rows another scheduler is claiming right now are skipped, not
            // waited for: each due source goes to exactly one of them.
            let rows = tx.query(
                "SELECT s.id FROM sources s LEFT JOIN claims c ON c.source_id = s.id \
                 WHERE s.id = ANY($1) AND COALESCE(s.next_due, 0) <= $2 \
                 AND COALESCE(c.until, 0) <= $2 \
                 ORDER BY COALESCE(s.next_due, 0), s.id LIMIT $3 FOR UPDATE OF s SKIP LOCKED",
                &[&ids, &now, &limit],
            )?;
            let claimed: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            tx.execute(
                "INSERT INTO claims (source_id, until) SELECT unnest($1::text[]), $2 \
                 ON CONFLICT (source_id) DO UPDATE SET until = excluded.until",
                &[&claimed, &until],
            )?;
            tx.commit()?;
            Ok(claimed)
        })
    }

    fn try_lock_source(&self, source_id: &str) -> Result<bool> {
        let key = source_lock_key(source_id);
        self.with("lock source", |c| {
            c.query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&SOURCE_LOCKS, &key],
            )
            .map(|r| r.get::<_, bool>(0))
        })
    }

    fn unlock_source(&self, source_id: &str) -> Result<()> {
        let key = source_lock_key(source_id);
        self.with("unlock source", |c| {
            c.query_one("SELECT pg_advisory_unlock($1, $2)", &[&SOURCE_LOCKS, &key])
                .map(drop)
        })
    }

    fn set_next_due(&self, source_id: &str, next_due: DateTime<Utc>) -> Result<()> {
        let next_due = ts(next_due);
        self.with("set next due", |c| {
            c.execute(
                "INSERT INTO sources (id, next_due) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET next_due = excluded.next_due",
                &[&source_id, &next_due],
            )
            .map(drop)
        })
    }

    fn is_seen(&self, source_id: &str, item_key: &str) -> Result<bool> {
        self.with("check seen", |c| {
            c.query_opt(
                "SELECT 1 FROM seen WHERE source_id = $1 AND item_key = $2",
                &[&source_id, &item_key],
            )
            .map(|r| r.is_some())
        })
    }

    fn seen_keys(
        &self,
        source_id: &str,
        keys: &[&str],
    ) -> Result<std::collections::HashSet<String>> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        let keys: Vec<&str> = keys.to_vec();
        self.with("check seen", |c| {
            let rows = c.query(
                "SELECT item_key FROM seen WHERE source_id = $1 AND item_key = ANY($2)",
                &[&source_id, &keys],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn mark_seen(&self, items: &[SeenItem], at: DateTime<Utc>) -> Result<u64> {
        let at = ts(at);
        self.with("mark seen", |c| {
            let mut tx = c.transaction()?;
            let ins = tx.prepare(
                "INSERT INTO seen (source_id, item_key, doc_id, first_seen) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )?;
            let bump = tx.prepare(
                "INSERT INTO sources (id, items_total) VALUES ($1, 1) \
                 ON CONFLICT (id) DO UPDATE SET items_total = sources.items_total + 1",
            )?;
            let mut added = 0u64;
            for it in items {
                let n = tx.execute(&ins, &[&it.source_id, &it.item_key, &it.doc_id, &at])?;
                if n > 0 {
                    added += 1;
                    tx.execute(&bump, &[&it.source_id])?;
                }
            }
            tx.commit()?;
            Ok(added)
        })
    }

    fn seen_count(&self, source_id: &str) -> Result<u64> {
        self.with("count seen", |c| {
            c.query_one(
                "SELECT COUNT(*) FROM seen WHERE source_id = $1",
                &[&source_id],
            )
            .map(|r| opt_u64(r.get(0)))
        })
    }

    fn assign_cluster(
        &self,
        doc_id: &str,
        simhash: u64,
        time: DateTime<Utc>,
    ) -> Result<ClusterAssignment> {
        let mut v = self.assign_clusters(&[(doc_id, simhash, time)])?;
        v.pop().ok_or(StateError::Postgres {
            op: "assign cluster",
            message: "no assignment returned".into(),
        })
    }

    fn assign_clusters(
        &self,
        docs: &[(&str, u64, DateTime<Utc>)],
    ) -> Result<Vec<ClusterAssignment>> {
        self.with("assign clusters", |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CLUSTER_LOCK])?;
            let mut out = Vec::with_capacity(docs.len());
            for (doc_id, simhash, time) in docs {
                out.push(assign_in(&mut tx, doc_id, *simhash, *time)?);
            }
            tx.commit()?;
            Ok(out)
        })
    }

    fn cluster_of(&self, doc_id: &str) -> Result<Option<String>> {
        self.with("read cluster", |c| {
            c.query_opt(
                "SELECT cluster_id FROM simhash WHERE doc_id = $1",
                &[&doc_id],
            )
            .map(|r| r.map(|r| r.get(0)))
        })
    }

    fn fingerprint_count(&self) -> Result<u64> {
        self.with("count fingerprints", |c| {
            c.query_one("SELECT COUNT(*) FROM simhash", &[])
                .map(|r| opt_u64(r.get(0)))
        })
    }

    fn prune_fingerprints(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = ts(before);
        self.with("prune fingerprints", |c| {
            c.execute("DELETE FROM simhash WHERE at < $1", &[&before])
        })
    }

    fn health(&self, source_id: &str, now: DateTime<Utc>) -> Result<SourceHealth> {
        let week_ago = ts(now - Duration::days(7));
        self.with("read health", |c| {
            let mut h = c
                .query_opt(
                    "SELECT polls, failures, not_modified, items_total, last_poll, last_success, \
                     consecutive_failures, failing_since, last_error_kind, last_error, \
                     last_error_at, next_due FROM sources WHERE id = $1",
                    &[&source_id],
                )?
                .map(|r| SourceHealth {
                    source_id: source_id.to_string(),
                    polls: opt_u64(r.get(0)),
                    failures: opt_u64(r.get(1)),
                    not_modified: opt_u64(r.get(2)),
                    items_total: opt_u64(r.get(3)),
                    last_poll: from_ts(r.get(4)),
                    last_success: from_ts(r.get(5)),
                    consecutive_failures: r.get::<_, i32>(6).max(0) as u32,
                    failing_since: from_ts(r.get(7)),
                    last_error_kind: r.get(8),
                    last_error: r.get(9),
                    last_error_at: from_ts(r.get(10)),
                    next_due: from_ts(r.get(11)),
                    ..Default::default()
                })
                .unwrap_or_else(|| SourceHealth {
                    source_id: source_id.to_string(),
                    ..Default::default()
                });
            let recent: i64 = c
                .query_one(
                    "SELECT COUNT(*) FROM seen WHERE source_id = $1 AND first_seen >= $2",
                    &[&source_id, &week_ago],
                )?
                .get(0);
            h.items_per_day = recent as f64 / 7.0;
            let lat: Vec<i64> = c
                .query(
                    "SELECT ms FROM latencies WHERE source_id = $1 ORDER BY ms",
                    &[&source_id],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if !lat.is_empty() {
                h.median_latency_ms = Some(lat[lat.len() / 2] as u64);
            }
            Ok(h)
        })
    }

    fn add_saved_search(&self, s: &StoredSearch) -> Result<()> {
        s.check_lengths()?;
        let created = ts(s.created_at);
        let n = self.with("insert saved search", |c| {
            c.execute(
                "INSERT INTO saved_searches (id, name, query, filters, rule, channels, created_at, enabled) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &s.id,
                    &s.name,
                    &s.query,
                    &s.filters_json,
                    &s.rule_json,
                    &s.channels_json,
                    &created,
                    &s.enabled,
                ],
            )
        })?;
        if n == 0 {
            return Err(StateError::Invalid {
                what: "saved search",
                reason: format!("id: {:?} already exists", s.id),
            });
        }
        Ok(())
    }

    fn saved_searches(&self) -> Result<Vec<StoredSearch>> {
        self.with("list saved searches", |c| {
            let rows = c.query(
                &format!("SELECT {SEARCH_COLUMNS} FROM saved_searches ORDER BY id"),
                &[],
            )?;
            Ok(rows.iter().map(row_to_search).collect())
        })
    }

    fn saved_search(&self, id: &str) -> Result<Option<StoredSearch>> {
        self.with("read saved search", |c| {
            c.query_opt(
                &format!("SELECT {SEARCH_COLUMNS} FROM saved_searches WHERE id = $1"),
                &[&id],
            )
            .map(|r| r.as_ref().map(row_to_search))
        })
    }

    fn delete_saved_search(&self, id: &str) -> Result<bool> {
        self.with("delete saved search", |c| {
            c.execute("DELETE FROM saved_searches WHERE id = $1", &[&id])
                .map(|n| n > 0)
        })
    }

    fn set_saved_search_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        self.with("update saved search", |c| {
            c.execute(
                "UPDATE saved_searches SET enabled = $2 WHERE id = $1",
                &[&id, &enabled],
            )
            .map(|n| n > 0)
        })
    }

    fn try_record_alert(&self, a: &NewAlert) -> Result<Option<i64>> {
        a.check_lengths()?;
        let (ws, we, fired) = (ts(a.window_start), ts(a.window_end), ts(a.fired_at));
        let nums = [a.observed, a.baseline, a.statistic, a.p_value].map(crate::alerts::finite);
        self.with("insert alert", |c| {
            c.query_opt(
                "INSERT INTO alerts (search_id, metric, rule, window_start, window_end, observed, \
                 baseline, statistic, p_value, details, fired_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT DO NOTHING RETURNING id",
                &[
                    &a.search_id,
                    &a.metric,
                    &a.rule_json,
                    &ws,
                    &we,
                    &nums[0],
                    &nums[1],
                    &nums[2],
                    &nums[3],
                    &a.details_json,
                    &fired,
                ],
            )
            .map(|r| r.map(|r| r.get(0)))
        })
    }

    fn record_delivery(&self, alert_id: i64, d: &Delivery) -> Result<()> {
        let (attempts, at) = (i32::try_from(d.attempts).unwrap_or(i32::MAX), ts(d.at));
        self.with("insert alert delivery", |c| {
            c.execute(
                "INSERT INTO alert_deliveries (alert_id, channel, ok, attempts, error, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (alert_id, channel) DO UPDATE SET \
                 ok = excluded.ok, attempts = excluded.attempts, error = excluded.error, at = excluded.at",
                &[&alert_id, &d.channel, &d.ok, &attempts, &d.error, &at],
            )
            .map(drop)
        })
    }

    fn last_alert_at(&self, search_id: &str) -> Result<Option<DateTime<Utc>>> {
        self.with("read last alert", |c| {
            c.query_one(
                "SELECT MAX(fired_at) FROM alerts WHERE search_id = $1",
                &[&search_id],
            )
            .map(|r| from_ts(r.get(0)))
        })
    }

    fn alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
        let limit = filter.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let (since, until) = (filter.since.map(ts), filter.until.map(ts));
        self.with("list alerts", |c| {
            let rows = c.query(
                "SELECT id, search_id, metric, rule, window_start, window_end, observed, baseline, \
                 statistic, p_value, details, fired_at FROM alerts a \
                 WHERE ($1::TEXT IS NULL OR search_id = $1) AND ($2::BIGINT IS NULL OR fired_at >= $2) \
                 AND ($3::BIGINT IS NULL OR fired_at < $3) \
                 AND (NOT $4 OR EXISTS (SELECT 1 FROM alert_deliveries d \
                                        WHERE d.alert_id = a.id AND NOT d.ok)) \
                 AND (NOT $6 OR NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id) \
                      OR EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id AND NOT d.ok)) \
                 ORDER BY fired_at DESC, id DESC LIMIT $5",
                &[
                    &filter.search_id,
                    &since,
                    &until,
                    &filter.failed_only,
                    &limit,
                    &filter.undelivered,
                ],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: i64 = r.get(0);
                let deliveries = c
                    .query(
                        "SELECT channel, ok, attempts, error, at FROM alert_deliveries \
                         WHERE alert_id = $1 ORDER BY channel",
                        &[&id],
                    )?
                    .iter()
                    .map(|d| Delivery {
                        channel: d.get(0),
                        ok: d.get(1),
                        attempts: u32::try_from(d.get::<_, i32>(2)).unwrap_or(0),
                        error: d.get(3),
                        at: from_ts(Some(d.get(4))).unwrap_or_default(),
                    })
                    .collect();
                out.push(AlertRecord {
                    id,
                    alert: NewAlert {
                        search_id: r.get(1),
                        metric: r.get(2),
                        rule_json: r.get(3),
                        window_start: from_ts(Some(r.get(4))).unwrap_or_default(),
                        window_end: from_ts(Some(r.get(5))).unwrap_or_default(),
                        observed: r.get(6),
                        baseline: r.get(7),
                        statistic: r.get(8),
                        p_value: r.get(9),
                        details_json: r.get(10),
                        fired_at: from_ts(Some(r.get(11))).unwrap_or_default(),
                    },
                    deliveries,
                });
            }
            Ok(out)
        })
    }

    fn add_correction(&self, c: &NewCorrection, at: DateTime<Utc>) -> Result<i64> {
        c.validate().map_err(|reason| StateError::Invalid {
            what: "correction",
            reason,
        })?;
        let text = crate::corrections::snapshot(&c.text);
        let (score, at) = (c.model_score.map(f64::from), ts(at));
        self.with("insert correction", |db| {
            db.query_one(
                "INSERT INTO corrections (doc_id, label, verdict, value, model_version, model_score, \
                 text, lang, analyst, note, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                &[
                    &c.doc_id,
                    &c.label,
                    &c.verdict.as_str(),
                    &c.value,
                    &c.model_version,
                    &score,
                    &text,
                    &c.lang,
                    &c.analyst,
                    &c.note,
                    &at,
                ],
            )
            .map(|r| r.get(0))
        })
    }

    fn corrections(&self, filter: &CorrectionFilter) -> Result<Vec<Correction>> {
        let limit = filter.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let after = filter.after_id.unwrap_or(0);
        self.with("list corrections", |c| {
            let rows = c.query(
                "SELECT id, doc_id, label, verdict, value, model_version, model_score, text, lang, \
                 analyst, note, created_at FROM corrections \
                 WHERE ($1::TEXT IS NULL OR doc_id = $1) AND ($2::TEXT IS NULL OR label = $2) \
                 AND id > $3 ORDER BY id LIMIT $4",
                &[&filter.doc_id, &filter.label, &after, &limit],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let verdict: String = r.get(3);
                    Correction {
                        id: r.get(0),
                        created_at: from_ts(Some(r.get(11))).unwrap_or_default(),
                        correction: NewCorrection {
                            doc_id: r.get(1),
                            label: r.get(2),
                            verdict: CorrectionVerdict::parse(&verdict)
                                .unwrap_or(CorrectionVerdict::Wrong),
                            value: r.get(4),
                            model_version: r.get(5),
                            model_score: r.get::<_, Option<f64>>(6).map(|v| v as f32),
                            text: r.get(7),
                            lang: r.get(8),
                            analyst: r.get(9),
                            note: r.get(10),
                        },
                    }
                })
                .collect())
        })
    }

    fn correction_count(&self) -> Result<u64> {
        self.with("count corrections", |c| {
            c.query_one("SELECT COUNT(*) FROM corrections", &[])
                .map(|r| opt_u64(r.get(0)))
        })
    }

    fn track(&self, articles: &[NewTracked], comments: &[CommentSighting]) -> Result<()> {
        self.pg_track(articles, comments)
    }

    fn due_revisits(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<TrackedArticle>> {
        self.pg_due_revisits(now, limit)
    }

    fn claim_revisits(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> Result<Vec<TrackedArticle>> {
        self.pg_claim_revisits(now, lease, limit)
    }

    fn record_revisit(&self, r: &RevisitRecord) -> Result<()> {
        self.pg_record_revisit(r)
    }

    fn article_history(&self, doc_id: &str) -> Result<Option<ArticleHistory>> {
        self.pg_article_history(doc_id)
    }

    fn comment_sightings(&self, f: &SightingFilter) -> Result<Vec<CommentSighting>> {
        self.pg_comment_sightings(f)
    }

    fn add_incident_links(&self, links: &[crate::IncidentLink]) -> Result<()> {
        self.pg_add_incident_links(links)
    }

    fn incident_links(&self) -> Result<Vec<crate::IncidentLink>> {
        self.pg_incident_links()
    }
}

/// One cluster assignment inside a transaction, as in SQLite.
fn assign_in(
    tx: &mut postgres::Transaction<'_>,
    doc_id: &str,
    simhash: u64,
    time: DateTime<Utc>,
) -> std::result::Result<ClusterAssignment, postgres::Error> {
    let b = bands(simhash);
    let (hash, at) = (simhash as i64, ts(time));
    if let Some(r) = tx.query_opt(
        "SELECT cluster_id, simhash, at FROM simhash WHERE doc_id = $1",
        &[&doc_id],
    )? {
        let (cluster_id, old_hash, old_at): (String, i64, i64) = (r.get(0), r.get(1), r.get(2));
        if old_hash != hash || old_at != at {
            tx.execute(
                "UPDATE simhash SET simhash = $2, at = $3, b0 = $4, b1 = $5, b2 = $6, b3 = $7 \
                 WHERE doc_id = $1",
                &[&doc_id, &hash, &at, &b[0], &b[1], &b[2], &b[3]],
            )?;
        }
        return Ok(ClusterAssignment {
            cluster_id,
            matched: None,
            existing: true,
        });
    }
    let window = CLUSTER_WINDOW_DAYS * 86_400;
    let (lo, hi) = (at.saturating_sub(window), at.saturating_add(window));
    let mut best = BestCandidate::default();
    for (band, value) in b.iter().enumerate() {
        // One statement per band so each uses its own (bN, at) index.
        let sql = format!(
            "SELECT doc_id, simhash, at, cluster_id FROM simhash \
             WHERE b{band} = $1 AND at BETWEEN $2 AND $3 ORDER BY at DESC LIMIT $4"
        );
        for r in tx.query(&sql, &[value, &lo, &hi, &MAX_CANDIDATES_PER_BAND])? {
            best.consider(simhash, r.get(0), r.get(1), r.get(2), r.get(3));
        }
    }
    let (cluster_id, matched) = best.decide(doc_id);
    tx.execute(
        "INSERT INTO simhash (doc_id, simhash, at, cluster_id, b0, b1, b2, b3) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&doc_id, &hash, &at, &cluster_id, &b[0], &b[1], &b[2], &b[3]],
    )?;
    Ok(ClusterAssignment {
        cluster_id,
        matched,
        existing: false,
    })
}
