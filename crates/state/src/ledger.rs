//! The moderation ledger and article history in the state (both backends).
//!
//! - `tracked`: articles whose pages are re-checked at set ages (the
//!   classify stage adds them; `record_revisit` moves them through their
//!   ages);
//! - `article_versions`, `article_checks`: every version of an in-scope
//!   article's headline and text and every fetch of it, with content
//!   hashes, never deleted;
//! - `comment_sightings`: every comment seen under an article, with its
//!   first and last sighting and the fetch that showed it gone.
//!
//! A revisit is stored in one transaction, so a crash leaves the article
//! either before or after that check, never between.

use chrono::{DateTime, Utc};
use mediawatch_core::ledger::{
    ArticleCheck, ArticleHistory, ArticleVersion, CheckOutcome, CommentIdentity, CommentSighting,
    GoneReason, NewTracked, RevisitRecord, TrackedArticle,
};
use rusqlite::params;

use crate::pg::PgStateStore;
use crate::{from_ts, sql, ts, Result, StateStore};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tracked (
    doc_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    stage INTEGER NOT NULL DEFAULT 0,
    next_due INTEGER,
    etag TEXT,
    last_modified TEXT,
    deleted_at INTEGER,
    deleted_how TEXT
);
CREATE INDEX IF NOT EXISTS tracked_due ON tracked (next_due) WHERE next_due IS NOT NULL;
CREATE TABLE IF NOT EXISTS article_versions (
    doc_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (doc_id, n)
);
CREATE TABLE IF NOT EXISTS article_checks (
    doc_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    content_hash TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS article_checks_by_doc ON article_checks (doc_id, at);
CREATE TABLE IF NOT EXISTS comment_sightings (
    comment_id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    author TEXT,
    text TEXT NOT NULL,
    posted INTEGER,
    content_hash TEXT NOT NULL,
    identity TEXT NOT NULL,
    flags INTEGER NOT NULL,
    evidence TEXT,
    model_version TEXT,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    gone_at INTEGER,
    gone_reason TEXT,
    gone_fetch TEXT
);
CREATE INDEX IF NOT EXISTS comments_by_article ON comment_sightings (article_id);
CREATE INDEX IF NOT EXISTS comments_by_source ON comment_sightings (source_id, first_seen);
"#;

/// The same tables in PostgreSQL (BIGINT seconds for times).
pub(crate) const PG_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tracked (
    doc_id TEXT PRIMARY KEY,
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    stage INTEGER NOT NULL DEFAULT 0,
    next_due BIGINT,
    etag TEXT,
    last_modified TEXT,
    deleted_at BIGINT,
    deleted_how TEXT
);
CREATE INDEX IF NOT EXISTS tracked_due ON tracked (next_due) WHERE next_due IS NOT NULL;
CREATE TABLE IF NOT EXISTS article_versions (
    doc_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    fetched_at BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (doc_id, n)
);
CREATE TABLE IF NOT EXISTS article_checks (
    doc_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    content_hash TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS article_checks_by_doc ON article_checks (doc_id, at);
CREATE TABLE IF NOT EXISTS comment_sightings (
    comment_id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    author TEXT,
    text TEXT NOT NULL,
    posted BIGINT,
    content_hash TEXT NOT NULL,
    identity TEXT NOT NULL,
    flags INTEGER NOT NULL,
    evidence TEXT,
    model_version TEXT,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    gone_at BIGINT,
    gone_reason TEXT,
    gone_fetch TEXT
);
CREATE INDEX IF NOT EXISTS comments_by_article ON comment_sightings (article_id);
CREATE INDEX IF NOT EXISTS comments_by_source ON comment_sightings (source_id, first_seen);
"#;

/// Which comments to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SightingFilter {
    /// One source.
    pub source: Option<String>,
    /// One article's comments.
    pub article: Option<String>,
    /// First seen at or after.
    pub from: Option<DateTime<Utc>>,
    /// First seen before.
    pub to: Option<DateTime<Utc>>,
    /// Only comments of tracked (re-checked) articles: the ones whose
    /// removal could have been observed.
    pub tracked_only: bool,
    /// Resume after this comment id (ordered by id).
    pub after: Option<String>,
    /// At most this many.
    pub limit: Option<usize>,
}

/// Every comment matching `f` (its `after` and `limit` are overridden),
/// read in pages, up to `cap`; `true` when more matched.
pub fn load_sightings(
    state: &dyn crate::StateBackend,
    f: &SightingFilter,
    cap: usize,
) -> Result<(Vec<CommentSighting>, bool)> {
    const PAGE: usize = 10_000;
    let mut out: Vec<CommentSighting> = Vec::new();
    let mut after = None;
    loop {
        let page = state.comment_sightings(&SightingFilter {
            after: after.take(),
            limit: Some(PAGE),
            ..f.clone()
        })?;
        let n = page.len();
        after = page.last().map(|c| c.comment_id.clone());
        out.extend(page);
        if out.len() > cap {
            out.truncate(cap);
            return Ok((out, true));
        }
        if n < PAGE {
            return Ok((out, false));
        }
    }
}

const SIGHTING_COLS: &str = "comment_id, article_id, source_id, url, author, text, posted, \
    content_hash, identity, flags, evidence, model_version, first_seen, last_seen, gone_at, \
    gone_reason, gone_fetch";
const TRACKED_COLS: &str = "doc_id, source_id, url, first_seen, stage, next_due, etag, \
    last_modified, deleted_at, deleted_how";

/// The `gone_fetch` note of a check: what a reader of the evidence needs to
/// find that fetch again.
fn gone_fetch(c: &ArticleCheck) -> String {
    let mut s = format!("{} at {}", c.outcome.as_str(), c.at.to_rfc3339());
    if let Some(st) = c.status {
        s.push_str(&format!(", HTTP {st}"));
    }
    if let Some(h) = &c.content_hash {
        s.push_str(&format!(", page sha256 {h}"));
    }
    if let Some(n) = &c.note {
        s.push_str(&format!(", {n}"));
    }
    s
}

fn limit_of(l: Option<usize>) -> i64 {
    l.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

/// One row of `SIGHTING_COLS`, whichever database read it.
#[allow(clippy::type_complexity)]
fn sighting(
    (comment_id, article_id, source_id, url, author, text, posted, content_hash, identity): (
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        Option<i64>,
        String,
        String,
    ),
    (flags, evidence, model_version, first_seen, last_seen, gone_at, gone_reason, gone_fetch): (
        i64,
        Option<String>,
        Option<String>,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        Option<String>,
    ),
) -> CommentSighting {
    CommentSighting {
        comment_id,
        article_id,
        source_id,
        url,
        author,
        text,
        posted: from_ts(posted),
        content_hash,
        identity: CommentIdentity::parse(&identity),
        flags: flags.clamp(0, 255) as u8,
        evidence,
        model_version,
        first_seen: from_ts(Some(first_seen)).unwrap_or_default(),
        last_seen: from_ts(Some(last_seen)).unwrap_or_default(),
        gone_at: from_ts(gone_at),
        gone_reason: gone_reason.as_deref().and_then(GoneReason::parse),
        gone_fetch,
    }
}

#[allow(clippy::type_complexity)]
fn tracked(
    (
        doc_id,
        source_id,
        url,
        first_seen,
        stage,
        next_due,
        etag,
        last_modified,
        deleted_at,
        deleted_how,
    ): (
        String,
        String,
        String,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
    ),
) -> TrackedArticle {
    TrackedArticle {
        doc_id,
        source_id,
        url,
        first_seen: from_ts(Some(first_seen)).unwrap_or_default(),
        stage: stage.max(0) as u32,
        next_due: from_ts(next_due),
        etag,
        last_modified,
        deleted_at: from_ts(deleted_at),
        deleted_how,
    }
}

fn check(
    at: i64,
    status: Option<i64>,
    outcome: String,
    hash: Option<String>,
    note: Option<String>,
) -> ArticleCheck {
    ArticleCheck {
        at: from_ts(Some(at)).unwrap_or_default(),
        status: status.and_then(|s| u16::try_from(s).ok()),
        outcome: CheckOutcome::parse(&outcome).unwrap_or(CheckOutcome::Failed),
        content_hash: hash,
        note,
    }
}

fn version(n: i64, at: i64, content_hash: String, title: String, text: String) -> ArticleVersion {
    ArticleVersion {
        n: n.max(0) as u32,
        fetched_at: from_ts(Some(at)).unwrap_or_default(),
        content_hash,
        title,
        text,
    }
}

/// A `TRACKED_COLS` row of SQLite.
fn sqlite_tracked(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrackedArticle> {
    Ok(tracked((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    )))
}

/// A `SIGHTING_COLS` row of SQLite.
fn sqlite_sighting(r: &rusqlite::Row<'_>) -> rusqlite::Result<CommentSighting> {
    Ok(sighting(
        (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
        ),
        (
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
            r.get(12)?,
            r.get(13)?,
            r.get(14)?,
            r.get(15)?,
            r.get(16)?,
        ),
    ))
}

impl StateStore {
    /// Starts tracking new articles (their first version and check) and
    /// records comments' first sightings; what is already known is kept.
    pub fn track(&self, articles: &[NewTracked], comments: &[CommentSighting]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin"))?;
        for t in articles {
            let a = &t.article;
            let added = tx
                .execute(
                    "INSERT INTO tracked (doc_id, source_id, url, first_seen, stage, next_due) \
                     VALUES (?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT(doc_id) DO NOTHING",
                    params![
                        a.doc_id,
                        a.source_id,
                        a.url,
                        ts(a.first_seen),
                        a.next_due.map(ts)
                    ],
                )
                .map_err(sql("track article"))?;
            if added == 0 {
                continue;
            }
            let v = &t.version;
            tx.execute(
                "INSERT INTO article_versions (doc_id, n, fetched_at, content_hash, title, text) \
                 VALUES (?1, 1, ?2, ?3, ?4, ?5)",
                params![a.doc_id, ts(v.fetched_at), v.content_hash, v.title, v.text],
            )
            .map_err(sql("store first version"))?;
            tx.execute(
                "INSERT INTO article_checks (doc_id, at, status, outcome, content_hash) \
                 VALUES (?1, ?2, 200, 'first', ?3)",
                params![a.doc_id, ts(v.fetched_at), v.content_hash],
            )
            .map_err(sql("store first check"))?;
        }
        for c in comments {
            tx.execute(
                &format!(
                    "INSERT INTO comment_sightings ({SIGHTING_COLS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, NULL, NULL, NULL) \
                     ON CONFLICT(comment_id) DO NOTHING"
                ),
                params![
                    c.comment_id,
                    c.article_id,
                    c.source_id,
                    c.url,
                    c.author,
                    c.text,
                    c.posted.map(ts),
                    c.content_hash,
                    c.identity.as_str(),
                    i64::from(c.flags),
                    c.evidence,
                    c.model_version,
                    ts(c.first_seen),
                    ts(c.last_seen),
                ],
            )
            .map_err(sql("record comment"))?;
        }
        tx.commit().map_err(sql("commit"))
    }

    /// Tracked articles due at `now`, most overdue first.
    pub fn due_revisits(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<TrackedArticle>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {TRACKED_COLS} FROM tracked WHERE next_due IS NOT NULL AND next_due <= ?1 \
                 ORDER BY next_due LIMIT ?2"
            ))
            .map_err(sql("list due revisits"))?;
        let rows = st
            .query_map(params![ts(now), limit_of(Some(limit))], sqlite_tracked)
            .map_err(sql("list due revisits"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(sql("list due revisits"))
    }

    /// Claims up to `limit` tracked articles due at `now`: their next due
    /// time moves to `now + lease`, so no other worker re-checks them
    /// meanwhile; [`StateStore::record_revisit`] then sets the real one, and
    /// a check that never records is due again when the lease ends.
    pub fn claim_revisits(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> Result<Vec<TrackedArticle>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(&format!(
                "UPDATE tracked SET next_due = ?1 WHERE doc_id IN (SELECT doc_id FROM tracked \
                 WHERE next_due IS NOT NULL AND next_due <= ?2 ORDER BY next_due LIMIT ?3) \
                 RETURNING {TRACKED_COLS}"
            ))
            .map_err(sql("claim revisits"))?;
        let rows = st
            .query_map(
                params![ts(now + lease), ts(now), limit_of(Some(limit))],
                sqlite_tracked,
            )
            .map_err(sql("claim revisits"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(sql("claim revisits"))
    }

    /// Stores one re-check (see [`RevisitRecord`]) in one transaction.
    pub fn record_revisit(&self, r: &RevisitRecord) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin"))?;
        let c = &r.check;
        tx.execute(
            "UPDATE tracked SET stage = stage + 1, next_due = ?2, \
             etag = COALESCE(?3, etag), last_modified = COALESCE(?4, last_modified), \
             deleted_at = COALESCE(deleted_at, ?5), deleted_how = COALESCE(deleted_how, ?6) \
             WHERE doc_id = ?1",
            params![
                r.doc_id,
                r.next_due.map(ts),
                r.etag,
                r.last_modified,
                r.deleted.as_ref().map(|_| ts(c.at)),
                r.deleted
            ],
        )
        .map_err(sql("record revisit"))?;
        tx.execute(
            "INSERT INTO article_checks (doc_id, at, status, outcome, content_hash, note) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                r.doc_id,
                ts(c.at),
                c.status,
                c.outcome.as_str(),
                c.content_hash,
                c.note
            ],
        )
        .map_err(sql("record check"))?;
        if let Some(v) = &r.new_version {
            tx.execute(
                "INSERT INTO article_versions (doc_id, n, fetched_at, content_hash, title, text) \
                 VALUES (?1, (SELECT COALESCE(MAX(n), 0) + 1 FROM article_versions WHERE doc_id = ?1), \
                 ?2, ?3, ?4, ?5)",
                params![r.doc_id, ts(v.fetched_at), v.content_hash, v.title, v.text],
            )
            .map_err(sql("store version"))?;
        }
        for id in &r.comments_seen {
            tx.execute(
                "UPDATE comment_sightings SET last_seen = MAX(last_seen, ?2), gone_at = NULL, \
                 gone_reason = NULL, gone_fetch = NULL WHERE comment_id = ?1",
                params![id, ts(c.at)],
            )
            .map_err(sql("record comment seen"))?;
        }
        let fetch = gone_fetch(c);
        for id in &r.comments_gone {
            tx.execute(
                "UPDATE comment_sightings SET gone_at = ?2, gone_reason = ?3, gone_fetch = ?4 \
                 WHERE comment_id = ?1 AND gone_at IS NULL",
                params![id, ts(c.at), r.gone_reason.as_str(), fetch],
            )
            .map_err(sql("record comment gone"))?;
        }
        tx.commit().map_err(sql("commit"))
    }

    /// An article's versions and checks; `None` when it is not tracked.
    pub fn article_history(&self, doc_id: &str) -> Result<Option<ArticleHistory>> {
        let conn = self.conn();
        let article = conn
            .query_row(
                &format!("SELECT {TRACKED_COLS} FROM tracked WHERE doc_id = ?1"),
                params![doc_id],
                sqlite_tracked,
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(sql("read tracked article"))?;
        let Some(article) = article else {
            return Ok(None);
        };
        let mut st = conn
            .prepare_cached(
                "SELECT n, fetched_at, content_hash, title, text FROM article_versions \
                 WHERE doc_id = ?1 ORDER BY n",
            )
            .map_err(sql("read versions"))?;
        let versions = st
            .query_map(params![doc_id], |r| {
                Ok(version(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })
            .map_err(sql("read versions"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(sql("read versions"))?;
        let mut st = conn
            .prepare_cached(
                "SELECT at, status, outcome, content_hash, note FROM article_checks \
                 WHERE doc_id = ?1 ORDER BY at, rowid",
            )
            .map_err(sql("read checks"))?;
        let checks = st
            .query_map(params![doc_id], |r| {
                Ok(check(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(sql("read checks"))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(sql("read checks"))?;
        Ok(Some(ArticleHistory {
            article,
            versions,
            checks,
        }))
    }

    /// Comments as the ledger knows them, ordered by id.
    pub fn comment_sightings(&self, f: &SightingFilter) -> Result<Vec<CommentSighting>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {SIGHTING_COLS} FROM comment_sightings \
                 WHERE (?1 IS NULL OR source_id = ?1) AND (?2 IS NULL OR article_id = ?2) \
                 AND (?3 IS NULL OR first_seen >= ?3) AND (?4 IS NULL OR first_seen < ?4) \
                 AND (?5 = 0 OR article_id IN (SELECT doc_id FROM tracked)) \
                 AND comment_id > ?6 ORDER BY comment_id LIMIT ?7"
            ))
            .map_err(sql("list comments"))?;
        let rows = st
            .query_map(
                params![
                    f.source,
                    f.article,
                    f.from.map(ts),
                    f.to.map(ts),
                    f.tracked_only,
                    f.after.as_deref().unwrap_or(""),
                    limit_of(f.limit)
                ],
                sqlite_sighting,
            )
            .map_err(sql("list comments"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(sql("list comments"))
    }
}

impl PgStateStore {
    pub(crate) fn pg_track(
        &self,
        articles: &[NewTracked],
        comments: &[CommentSighting],
    ) -> Result<()> {
        self.with("track documents", |db| {
            let mut tx = db.transaction()?;
            for t in articles {
                let a = &t.article;
                let added = tx.execute(
                    "INSERT INTO tracked (doc_id, source_id, url, first_seen, stage, next_due) \
                     VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (doc_id) DO NOTHING",
                    &[
                        &a.doc_id,
                        &a.source_id,
                        &a.url,
                        &ts(a.first_seen),
                        &a.next_due.map(ts),
                    ],
                )?;
                if added == 0 {
                    continue;
                }
                let v = &t.version;
                tx.execute(
                    "INSERT INTO article_versions (doc_id, n, fetched_at, content_hash, title, text) \
                     VALUES ($1, 1, $2, $3, $4, $5)",
                    &[&a.doc_id, &ts(v.fetched_at), &v.content_hash, &v.title, &v.text],
                )?;
                tx.execute(
                    "INSERT INTO article_checks (doc_id, at, status, outcome, content_hash) \
                     VALUES ($1, $2, 200, 'first', $3)",
                    &[&a.doc_id, &ts(v.fetched_at), &v.content_hash],
                )?;
            }
            for c in comments {
                tx.execute(
                    &format!(
                        "INSERT INTO comment_sightings ({SIGHTING_COLS}) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, NULL, NULL) \
                         ON CONFLICT (comment_id) DO NOTHING"
                    ),
                    &[
                        &c.comment_id,
                        &c.article_id,
                        &c.source_id,
                        &c.url,
                        &c.author,
                        &c.text,
                        &c.posted.map(ts),
                        &c.content_hash,
                        &c.identity.as_str(),
                        &i32::from(c.flags),
                        &c.evidence,
                        &c.model_version,
                        &ts(c.first_seen),
                        &ts(c.last_seen),
                    ],
                )?;
            }
            tx.commit()
        })
    }

    pub(crate) fn pg_due_revisits(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<TrackedArticle>> {
        self.with("list due revisits", |db| {
            let rows = db.query(
                &format!(
                    "SELECT {TRACKED_COLS} FROM tracked WHERE next_due IS NOT NULL AND next_due <= $1 \
                     ORDER BY next_due LIMIT $2"
                ),
                &[&ts(now), &limit_of(Some(limit))],
            )?;
            Ok(rows.iter().map(pg_tracked).collect())
        })
    }

    pub(crate) fn pg_claim_revisits(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> Result<Vec<TrackedArticle>> {
        let (until, now, limit) = (ts(now + lease), ts(now), limit_of(Some(limit)));
        self.with("claim revisits", |db| {
            // SKIP LOCKED: workers claiming at once get different articles.
            let rows = db.query(
                &format!(
                    "UPDATE tracked SET next_due = $1 WHERE doc_id IN (SELECT doc_id FROM tracked \
                     WHERE next_due IS NOT NULL AND next_due <= $2 ORDER BY next_due LIMIT $3 \
                     FOR UPDATE SKIP LOCKED) RETURNING {TRACKED_COLS}"
                ),
                &[&until, &now, &limit],
            )?;
            Ok(rows.iter().map(pg_tracked).collect())
        })
    }

    pub(crate) fn pg_record_revisit(&self, r: &RevisitRecord) -> Result<()> {
        let c = &r.check;
        let fetch = gone_fetch(c);
        let status = c.status.map(i32::from);
        self.with("record revisit", |db| {
            let mut tx = db.transaction()?;
            tx.execute(
                "UPDATE tracked SET stage = stage + 1, next_due = $2, \
                 etag = COALESCE($3, etag), last_modified = COALESCE($4, last_modified), \
                 deleted_at = COALESCE(deleted_at, $5), deleted_how = COALESCE(deleted_how, $6) \
                 WHERE doc_id = $1",
                &[
                    &r.doc_id,
                    &r.next_due.map(ts),
                    &r.etag,
                    &r.last_modified,
                    &r.deleted.as_ref().map(|_| ts(c.at)),
                    &r.deleted,
                ],
            )?;
            tx.execute(
                "INSERT INTO article_checks (doc_id, at, status, outcome, content_hash, note) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &r.doc_id,
                    &ts(c.at),
                    &status,
                    &c.outcome.as_str(),
                    &c.content_hash,
                    &c.note,
                ],
            )?;
            if let Some(v) = &r.new_version {
                tx.execute(
                    "INSERT INTO article_versions (doc_id, n, fetched_at, content_hash, title, text) \
                     VALUES ($1, (SELECT COALESCE(MAX(n), 0) + 1 FROM article_versions WHERE doc_id = $1), \
                     $2, $3, $4, $5)",
                    &[&r.doc_id, &ts(v.fetched_at), &v.content_hash, &v.title, &v.text],
                )?;
            }
            for id in &r.comments_seen {
                tx.execute(
                    "UPDATE comment_sightings SET last_seen = GREATEST(last_seen, $2), gone_at = NULL, \
                     gone_reason = NULL, gone_fetch = NULL WHERE comment_id = $1",
                    &[id, &ts(c.at)],
                )?;
            }
            for id in &r.comments_gone {
                tx.execute(
                    "UPDATE comment_sightings SET gone_at = $2, gone_reason = $3, gone_fetch = $4 \
                     WHERE comment_id = $1 AND gone_at IS NULL",
                    &[id, &ts(c.at), &r.gone_reason.as_str(), &fetch],
                )?;
            }
            tx.commit()
        })
    }

    pub(crate) fn pg_article_history(&self, doc_id: &str) -> Result<Option<ArticleHistory>> {
        self.with("read article history", |db| {
            let Some(row) = db.query_opt(
                &format!("SELECT {TRACKED_COLS} FROM tracked WHERE doc_id = $1"),
                &[&doc_id],
            )?
            else {
                return Ok(None);
            };
            let versions = db
                .query(
                    "SELECT n, fetched_at, content_hash, title, text FROM article_versions \
                     WHERE doc_id = $1 ORDER BY n",
                    &[&doc_id],
                )?
                .iter()
                .map(|r| {
                    version(
                        i64::from(r.get::<_, i32>(0)),
                        r.get(1),
                        r.get(2),
                        r.get(3),
                        r.get(4),
                    )
                })
                .collect();
            let checks = db
                .query(
                    "SELECT at, status, outcome, content_hash, note FROM article_checks \
                     WHERE doc_id = $1 ORDER BY at, ctid",
                    &[&doc_id],
                )?
                .iter()
                .map(|r| {
                    check(
                        r.get(0),
                        r.get::<_, Option<i32>>(1).map(i64::from),
                        r.get(2),
                        r.get(3),
                        r.get(4),
                    )
                })
                .collect();
            Ok(Some(ArticleHistory {
                article: pg_tracked(&row),
                versions,
                checks,
            }))
        })
    }

    pub(crate) fn pg_comment_sightings(&self, f: &SightingFilter) -> Result<Vec<CommentSighting>> {
        let (from, to) = (f.from.map(ts), f.to.map(ts));
        let after = f.after.clone().unwrap_or_default();
        let limit = limit_of(f.limit);
        self.with("list comments", |db| {
            let rows = db.query(
                &format!(
                    "SELECT {SIGHTING_COLS} FROM comment_sightings \
                     WHERE ($1::TEXT IS NULL OR source_id = $1) AND ($2::TEXT IS NULL OR article_id = $2) \
                     AND ($3::BIGINT IS NULL OR first_seen >= $3) AND ($4::BIGINT IS NULL OR first_seen < $4) \
                     AND (NOT $5 OR article_id IN (SELECT doc_id FROM tracked)) \
                     AND comment_id > $6 ORDER BY comment_id LIMIT $7"
                ),
                &[&f.source, &f.article, &from, &to, &f.tracked_only, &after, &limit],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    sighting(
                        (
                            r.get(0),
                            r.get(1),
                            r.get(2),
                            r.get(3),
                            r.get(4),
                            r.get(5),
                            r.get(6),
                            r.get(7),
                            r.get(8),
                        ),
                        (
                            i64::from(r.get::<_, i32>(9)),
                            r.get(10),
                            r.get(11),
                            r.get(12),
                            r.get(13),
                            r.get(14),
                            r.get(15),
                            r.get(16),
                        ),
                    )
                })
                .collect())
        })
    }
}

fn pg_tracked(r: &postgres::Row) -> TrackedArticle {
    tracked((
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        i64::from(r.get::<_, i32>(4)),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
        r.get(9),
    ))
}
