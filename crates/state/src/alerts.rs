//! Saved searches created through the API, and the alert history.
//!
//! The state crate knows nothing about queries or rules: a saved search's
//! filters, rule and channels are stored as JSON text written and validated
//! by `mediawatch-alerts`, so this schema never has to follow the rule
//! format.
//!
//! Idempotency: an alert is keyed by (search, metric, window start). The
//! alert row is inserted *before* any notification is sent, with `INSERT OR
//! IGNORE`, so a restart (or a second evaluation of the same window) finds
//! the key taken and never fires it again. Delivery is at least once: an
//! alert whose channels have no successful delivery row (the process
//! stopped between the insert and the notifications, or a channel failed)
//! is found by [`AlertFilter::undelivered`] and sent again by the alert
//! loop; receivers deduplicate by the alert id, which stays the same.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::{from_ts, sql, ts, Result, StateError, StateStore};

/// Tables of this module.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS saved_searches (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    filters TEXT NOT NULL,
    rule TEXT,
    channels TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    search_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    rule TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    observed REAL NOT NULL,
    baseline REAL NOT NULL,
    statistic REAL NOT NULL,
    p_value REAL NOT NULL,
    details TEXT NOT NULL,
    fired_at INTEGER NOT NULL,
    UNIQUE (search_id, metric, window_start)
);
CREATE INDEX IF NOT EXISTS alerts_by_search ON alerts (search_id, fired_at);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (fired_at);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    ok INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (alert_id, channel)
);
"#;

/// Longest text accepted in one JSON column or name (far above any real
/// rule; keeps a misbehaving API client from filling the disk).
const MAX_FIELD_BYTES: usize = 16 * 1024;

/// A saved search as stored (created through the API).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredSearch {
    /// Id (unique among stored and configured searches).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Query text.
    pub query: String,
    /// Filters as JSON (`{"country":..,"source":..,"lang":..}`).
    pub filters_json: String,
    /// Alert rule as JSON, when it has one.
    pub rule_json: Option<String>,
    /// Channel ids as a JSON array.
    pub channels_json: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Evaluated on schedule when true.
    pub enabled: bool,
}

/// An alert to record (before notifications go out).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAlert {
    /// The saved search.
    pub search_id: String,
    /// `volume` or `share:<label>`.
    pub metric: String,
    /// The rule as evaluated, JSON.
    pub rule_json: String,
    /// Start of the window tested (inclusive).
    pub window_start: DateTime<Utc>,
    /// End of the window tested (exclusive).
    pub window_end: DateTime<Utc>,
    /// Observed value (count or share).
    pub observed: f64,
    /// Baseline value (mean count or share).
    pub baseline: f64,
    /// Test statistic (z).
    pub statistic: f64,
    /// One-sided p-value.
    pub p_value: f64,
    /// Full evaluation (counts, test name), JSON.
    pub details_json: String,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
}

/// Outcome of notifying one channel of one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Channel id.
    pub channel: String,
    /// Whether the channel accepted the notification.
    pub ok: bool,
    /// Attempts made (1 + retries).
    pub attempts: u32,
    /// The last error, when not ok.
    pub error: Option<String>,
    /// When the outcome was known.
    pub at: DateTime<Utc>,
}

/// A recorded alert with its deliveries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    /// Row id.
    pub id: i64,
    /// What was recorded.
    #[serde(flatten)]
    pub alert: NewAlert,
    /// One entry per channel notified.
    pub deliveries: Vec<Delivery>,
}

/// Which alerts [`StateStore::alerts`] returns.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this saved search.
    pub search_id: Option<String>,
    /// Only alerts fired at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only alerts fired before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only alerts with at least one failed delivery.
    pub failed_only: bool,
    /// Only alerts with no delivery at all or a failed one (to send again).
    pub undelivered: bool,
    /// At most this many, newest first (all when `None`).
    pub limit: Option<usize>,
}

fn check_len(what: &'static str, field: &str, v: &str) -> Result<()> {
    if v.len() > MAX_FIELD_BYTES {
        return Err(StateError::Invalid {
            what,
            reason: format!("{field}: longer than {MAX_FIELD_BYTES} bytes"),
        });
    }
    Ok(())
}

fn row_to_search(row: &Row<'_>) -> rusqlite::Result<StoredSearch> {
    let created: i64 = row.get(6)?;
    Ok(StoredSearch {
        id: row.get(0)?,
        name: row.get(1)?,
        query: row.get(2)?,
        filters_json: row.get(3)?,
        rule_json: row.get(4)?,
        channels_json: row.get(5)?,
        created_at: from_ts(Some(created)).unwrap_or_default(),
        enabled: row.get::<_, i64>(7)? != 0,
    })
}

fn row_to_alert(row: &Row<'_>) -> rusqlite::Result<AlertRecord> {
    let ws: i64 = row.get(4)?;
    let we: i64 = row.get(5)?;
    let fired: i64 = row.get(11)?;
    Ok(AlertRecord {
        id: row.get(0)?,
        alert: NewAlert {
            search_id: row.get(1)?,
            metric: row.get(2)?,
            rule_json: row.get(3)?,
            window_start: from_ts(Some(ws)).unwrap_or_default(),
            window_end: from_ts(Some(we)).unwrap_or_default(),
            observed: row.get(6)?,
            baseline: row.get(7)?,
            statistic: row.get(8)?,
            p_value: row.get(9)?,
            details_json: row.get(10)?,
            fired_at: from_ts(Some(fired)).unwrap_or_default(),
        },
        deliveries: Vec::new(),
    })
}

impl StoredSearch {
    /// Refuses fields longer than the store keeps.
    pub(crate) fn check_lengths(&self) -> Result<()> {
        for (field, v) in [
            ("id", self.id.as_str()),
            ("name", &self.name),
            ("query", &self.query),
            ("filters", &self.filters_json),
            ("rule", self.rule_json.as_deref().unwrap_or("")),
            ("channels", &self.channels_json),
        ] {
            check_len("saved search", field, v)?;
        }
        Ok(())
    }
}

impl NewAlert {
    /// Refuses JSON columns longer than the store keeps.
    pub(crate) fn check_lengths(&self) -> Result<()> {
        check_len("alert", "rule", &self.rule_json)?;
        check_len("alert", "details", &self.details_json)
    }
}

/// Stored numbers must be finite: SQLite reads NaN back as NULL, and a
/// report reading an infinite baseline is no better.
pub(crate) fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else if v == f64::INFINITY {
        f64::MAX
    } else {
        0.0
    }
}

impl StateStore {
    /// Stores a new saved search. Fails with [`StateError::Invalid`] when
    /// the id is taken.
    pub fn add_saved_search(&self, s: &StoredSearch) -> Result<()> {
        s.check_lengths()?;
        let conn = self.conn();
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO saved_searches \
                 (id, name, query, filters, rule, channels, created_at, enabled) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    s.id,
                    s.name,
                    s.query,
                    s.filters_json,
                    s.rule_json,
                    s.channels_json,
                    ts(s.created_at),
                    i64::from(s.enabled),
                ],
            )
            .map_err(sql("insert saved search"))?;
        if n == 0 {
            return Err(StateError::Invalid {
                what: "saved search",
                reason: format!("id: {:?} already exists", s.id),
            });
        }
        Ok(())
    }

    /// Every stored saved search, by id.
    pub fn saved_searches(&self) -> Result<Vec<StoredSearch>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, name, query, filters, rule, channels, created_at, enabled \
                 FROM saved_searches ORDER BY id",
            )
            .map_err(sql("list saved searches"))?;
        let rows = stmt
            .query_map([], row_to_search)
            .map_err(sql("list saved searches"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("read saved search"))
    }

    /// One stored saved search.
    pub fn saved_search(&self, id: &str) -> Result<Option<StoredSearch>> {
        let conn = self.conn();
        conn.query_row(
            "SELECT id, name, query, filters, rule, channels, created_at, enabled \
             FROM saved_searches WHERE id = ?1",
            params![id],
            row_to_search,
        )
        .optional()
        .map_err(sql("read saved search"))
    }

    /// Deletes a stored saved search (its alert history stays). Returns
    /// whether it existed.
    pub fn delete_saved_search(&self, id: &str) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .execute("DELETE FROM saved_searches WHERE id = ?1", params![id])
            .map_err(sql("delete saved search"))?;
        Ok(n > 0)
    }

    /// Enables or disables a stored saved search. Returns whether it exists.
    pub fn set_saved_search_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .execute(
                "UPDATE saved_searches SET enabled = ?2 WHERE id = ?1",
                params![id, i64::from(enabled)],
            )
            .map_err(sql("update saved search"))?;
        Ok(n > 0)
    }

    /// Records an alert unless one with the same (search, metric, window
    /// start) exists. Returns the new row id, or `None` when that window has
    /// already fired (nothing must be sent again).
    pub fn try_record_alert(&self, a: &NewAlert) -> Result<Option<i64>> {
        a.check_lengths()?;
        let conn = self.conn();
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO alerts (search_id, metric, rule, window_start, window_end, \
                 observed, baseline, statistic, p_value, details, fired_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    a.search_id,
                    a.metric,
                    a.rule_json,
                    ts(a.window_start),
                    ts(a.window_end),
                    finite(a.observed),
                    finite(a.baseline),
                    finite(a.statistic),
                    finite(a.p_value),
                    a.details_json,
                    ts(a.fired_at),
                ],
            )
            .map_err(sql("insert alert"))?;
        Ok((n > 0).then(|| conn.last_insert_rowid()))
    }

    /// Records how notifying one channel of alert `alert_id` went
    /// (replacing an earlier outcome for that channel).
    pub fn record_delivery(&self, alert_id: i64, d: &Delivery) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR REPLACE INTO alert_deliveries (alert_id, channel, ok, attempts, error, at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                alert_id,
                d.channel,
                i64::from(d.ok),
                i64::from(d.attempts),
                d.error,
                ts(d.at)
            ],
        )
        .map_err(sql("insert alert delivery"))?;
        Ok(())
    }

    /// When search `search_id` last fired (for its cooldown).
    pub fn last_alert_at(&self, search_id: &str) -> Result<Option<DateTime<Utc>>> {
        let conn = self.conn();
        let v: Option<i64> = conn
            .query_row(
                "SELECT MAX(fired_at) FROM alerts WHERE search_id = ?1",
                params![search_id],
                |r| r.get(0),
            )
            .map_err(sql("read last alert"))?;
        Ok(from_ts(v))
    }

    /// Alerts matching `filter`, newest first, with their deliveries.
    pub fn alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
        let conn = self.conn();
        let limit = filter
            .limit
            .map(|l| i64::try_from(l).unwrap_or(i64::MAX))
            .unwrap_or(-1);
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, search_id, metric, rule, window_start, window_end, observed, baseline, \
                 statistic, p_value, details, fired_at FROM alerts a \
                 WHERE (?1 IS NULL OR search_id = ?1) AND (?2 IS NULL OR fired_at >= ?2) \
                 AND (?3 IS NULL OR fired_at < ?3) \
                 AND (?4 = 0 OR EXISTS (SELECT 1 FROM alert_deliveries d \
                                        WHERE d.alert_id = a.id AND d.ok = 0)) \
                 AND (?6 = 0 OR NOT EXISTS (SELECT 1 FROM alert_deliveries d \
                                            WHERE d.alert_id = a.id) \
                      OR EXISTS (SELECT 1 FROM alert_deliveries d \
                                 WHERE d.alert_id = a.id AND d.ok = 0)) \
                 ORDER BY fired_at DESC, id DESC LIMIT ?5",
            )
            .map_err(sql("list alerts"))?;
        let rows = stmt
            .query_map(
                params![
                    filter.search_id,
                    filter.since.map(ts),
                    filter.until.map(ts),
                    i64::from(filter.failed_only),
                    limit,
                    i64::from(filter.undelivered)
                ],
                row_to_alert,
            )
            .map_err(sql("list alerts"))?;
        let mut out = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql("read alert"))?;
        let mut dstmt = conn
            .prepare_cached(
                "SELECT channel, ok, attempts, error, at FROM alert_deliveries \
                 WHERE alert_id = ?1 ORDER BY channel",
            )
            .map_err(sql("list alert deliveries"))?;
        for a in &mut out {
            let ds = dstmt
                .query_map(params![a.id], |r| {
                    let at: i64 = r.get(4)?;
                    Ok(Delivery {
                        channel: r.get(0)?,
                        ok: r.get::<_, i64>(1)? != 0,
                        attempts: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        error: r.get(3)?,
                        at: from_ts(Some(at)).unwrap_or_default(),
                    })
                })
                .map_err(sql("list alert deliveries"))?;
            a.deliveries = ds
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(sql("read alert delivery"))?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_225_600 + h * 3600, 0).unwrap()
    }

    fn alert(search: &str, window_h: i64) -> NewAlert {
        NewAlert {
            search_id: search.into(),
            metric: "volume".into(),
            rule_json: "{}".into(),
            window_start: t(window_h),
            window_end: t(window_h + 24),
            observed: 40.0,
            baseline: 10.0,
            statistic: 5.2,
            p_value: 1e-6,
            details_json: "{}".into(),
            fired_at: t(window_h + 3),
        }
    }

    #[test]
    fn saved_search_crud() {
        let s = StateStore::in_memory().unwrap();
        let rec = StoredSearch {
            id: "rs".into(),
            name: "Serbia".into(),
            query: "migranti".into(),
            filters_json: r#"{"country":"RS"}"#.into(),
            rule_json: Some(r#"{"metric":"volume"}"#.into()),
            channels_json: "[]".into(),
            created_at: t(0),
            enabled: true,
        };
        s.add_saved_search(&rec).unwrap();
        let dup = s.add_saved_search(&rec).unwrap_err().to_string();
        assert!(dup.contains("already exists"), "{dup}");
        assert_eq!(s.saved_search("rs").unwrap().unwrap(), rec);
        assert!(s.set_saved_search_enabled("rs", false).unwrap());
        assert!(!s.saved_searches().unwrap()[0].enabled);
        assert!(s.delete_saved_search("rs").unwrap());
        assert!(!s.delete_saved_search("rs").unwrap());
        assert!(s.saved_search("rs").unwrap().is_none());
    }

    #[test]
    fn same_window_fires_once_even_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let first = {
            let s = StateStore::open(&path).unwrap();
            let id = s.try_record_alert(&alert("a", 0)).unwrap();
            assert!(id.is_some());
            assert!(s.try_record_alert(&alert("a", 0)).unwrap().is_none());
            id.unwrap()
        };
        let s = StateStore::open(&path).unwrap();
        assert!(s.try_record_alert(&alert("a", 0)).unwrap().is_none());
        // Another window, or another search, is a new alert.
        assert!(s.try_record_alert(&alert("a", 24)).unwrap().is_some());
        assert!(s.try_record_alert(&alert("b", 0)).unwrap().is_some());
        assert_eq!(s.last_alert_at("a").unwrap(), Some(t(27)));
        assert_eq!(s.last_alert_at("zzz").unwrap(), None);
        let all = s.alerts(&AlertFilter::default()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all.iter().filter(|a| a.id == first).count(), 1);
    }

    #[test]
    fn deliveries_and_filters() {
        let s = StateStore::in_memory().unwrap();
        let a = s.try_record_alert(&alert("a", 0)).unwrap().unwrap();
        let b = s.try_record_alert(&alert("b", 48)).unwrap().unwrap();
        let ok = Delivery {
            channel: "hook".into(),
            ok: true,
            attempts: 1,
            error: None,
            at: t(4),
        };
        let failed = Delivery {
            channel: "mail".into(),
            ok: false,
            attempts: 3,
            error: Some("connection refused".into()),
            at: t(4),
        };
        s.record_delivery(a, &ok).unwrap();
        s.record_delivery(a, &failed).unwrap();
        s.record_delivery(b, &ok).unwrap();
        let all = s.alerts(&AlertFilter::default()).unwrap();
        assert_eq!(all[0].id, b, "newest first");
        assert_eq!(all[1].deliveries, vec![ok.clone(), failed.clone()]);
        let failed_only = s
            .alerts(&AlertFilter {
                failed_only: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(failed_only.len(), 1);
        assert_eq!(failed_only[0].id, a);
        let by_search = s
            .alerts(&AlertFilter {
                search_id: Some("b".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_search.len(), 1);
        let since = s
            .alerts(&AlertFilter {
                since: Some(t(10)),
                limit: Some(5),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(since.iter().map(|a| a.id).collect::<Vec<_>>(), vec![b]);
    }

    #[test]
    fn non_finite_values_are_stored_readably() {
        let s = StateStore::in_memory().unwrap();
        let mut a = alert("a", 0);
        a.statistic = f64::INFINITY;
        a.baseline = f64::NAN;
        s.try_record_alert(&a).unwrap().unwrap();
        let got = &s.alerts(&AlertFilter::default()).unwrap()[0];
        assert_eq!(got.alert.statistic, f64::MAX);
        assert_eq!(got.alert.baseline, 0.0);
    }
}
