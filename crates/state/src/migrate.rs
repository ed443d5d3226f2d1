//! `mediawatch migrate-state`: copies a single machine's SQLite state into
//! PostgreSQL, table by table, rows as they are (both keep times as Unix
//! seconds). The target must be empty, so nothing is ever copied twice;
//! every table's row count is checked after the copy.

use std::path::Path;

use postgres::types::ToSql;
use rusqlite::types::ValueRef;

use crate::{PgStateStore, Result, StateError};

/// A column's type in PostgreSQL (SQLite keeps every one of these as
/// INTEGER, REAL or TEXT).
#[derive(Clone, Copy)]
enum Col {
    Text,
    Int8,
    Int4,
    Float,
    Bool,
}

use Col::*;

/// Every table, parents before children (deliveries refer to alerts).
/// `latencies` keeps no id: PostgreSQL numbers its rows itself.
const TABLES: &[(&str, &[(&str, Col)])] = &[
    (
        "sources",
        &[
            ("id", Text),
            ("etag", Text),
            ("last_modified", Text),
            ("next_due", Int8),
            ("polls", Int8),
            ("failures", Int8),
            ("not_modified", Int8),
            ("items_total", Int8),
            ("last_poll", Int8),
            ("last_success", Int8),
            ("consecutive_failures", Int4),
            ("failing_since", Int8),
            ("last_error_kind", Text),
            ("last_error", Text),
            ("last_error_at", Int8),
        ],
    ),
    (
        "seen",
        &[
            ("source_id", Text),
            ("item_key", Text),
            ("doc_id", Text),
            ("first_seen", Int8),
        ],
    ),
    (
        "latencies",
        &[("source_id", Text), ("at", Int8), ("ms", Int8)],
    ),
    (
        "simhash",
        &[
            ("doc_id", Text),
            ("simhash", Int8),
            ("at", Int8),
            ("cluster_id", Text),
            ("b0", Int8),
            ("b1", Int8),
            ("b2", Int8),
            ("b3", Int8),
        ],
    ),
    (
        "saved_searches",
        &[
            ("id", Text),
            ("name", Text),
            ("query", Text),
            ("filters", Text),
            ("rule", Text),
            ("channels", Text),
            ("created_at", Int8),
            ("enabled", Bool),
        ],
    ),
    (
        "alerts",
        &[
            ("id", Int8),
            ("search_id", Text),
            ("metric", Text),
            ("rule", Text),
            ("window_start", Int8),
            ("window_end", Int8),
            ("observed", Float),
            ("baseline", Float),
            ("statistic", Float),
            ("p_value", Float),
            ("details", Text),
            ("fired_at", Int8),
        ],
    ),
    (
        "alert_deliveries",
        &[
            ("alert_id", Int8),
            ("channel", Text),
            ("ok", Bool),
            ("attempts", Int4),
            ("error", Text),
            ("at", Int8),
        ],
    ),
    (
        "corrections",
        &[
            ("id", Int8),
            ("doc_id", Text),
            ("label", Text),
            ("verdict", Text),
            ("value", Text),
            ("model_version", Text),
            ("model_score", Float),
            ("text", Text),
            ("lang", Text),
            ("analyst", Text),
            ("note", Text),
            ("created_at", Int8),
        ],
    ),
    (
        "tracked",
        &[
            ("doc_id", Text),
            ("source_id", Text),
            ("url", Text),
            ("first_seen", Int8),
            ("stage", Int4),
            ("next_due", Int8),
            ("etag", Text),
            ("last_modified", Text),
            ("deleted_at", Int8),
            ("deleted_how", Text),
        ],
    ),
    (
        "article_versions",
        &[
            ("doc_id", Text),
            ("n", Int4),
            ("fetched_at", Int8),
            ("content_hash", Text),
            ("title", Text),
            ("text", Text),
        ],
    ),
    (
        "article_checks",
        &[
            ("doc_id", Text),
            ("at", Int8),
            ("status", Int4),
            ("outcome", Text),
            ("content_hash", Text),
            ("note", Text),
        ],
    ),
    (
        "comment_sightings",
        &[
            ("comment_id", Text),
            ("article_id", Text),
            ("source_id", Text),
            ("url", Text),
            ("author", Text),
            ("text", Text),
            ("posted", Int8),
            ("content_hash", Text),
            ("identity", Text),
            ("flags", Int4),
            ("evidence", Text),
            ("model_version", Text),
            ("first_seen", Int8),
            ("last_seen", Int8),
            ("gone_at", Int8),
            ("gone_reason", Text),
            ("gone_fetch", Text),
        ],
    ),
    (
        "incident_links",
        &[
            ("doc_a", Text),
            ("doc_b", Text),
            ("together", Bool),
            ("analyst", Text),
            ("note", Text),
            ("at", Int8),
        ],
    ),
];

/// Tables whose ids PostgreSQL numbers: their sequences move past the
/// copied ids.
const SERIAL_TABLES: [&str; 3] = ["alerts", "corrections", "latencies"];

/// Rows per PostgreSQL transaction while copying.
const BATCH: usize = 2_000;

/// Rows copied, per table, in copy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// `(table, rows)`.
    pub tables: Vec<(String, u64)>,
}

fn sqlite_err(op: &'static str) -> impl Fn(rusqlite::Error) -> StateError {
    move |source| StateError::Sql { op, source }
}

/// One SQLite value as a PostgreSQL parameter of the column's type.
fn param(v: ValueRef<'_>, col: Col) -> Box<dyn ToSql + Sync> {
    let int = match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) => Some(f as i64),
        _ => None,
    };
    match col {
        Text => Box::new(match v {
            ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Integer(i) => Some(i.to_string()),
            ValueRef::Real(f) => Some(f.to_string()),
            ValueRef::Null => None,
        }),
        Int8 => Box::new(int),
        Int4 => Box::new(int.map(|i| i32::try_from(i).unwrap_or(i32::MAX))),
        Float => Box::new(match v {
            ValueRef::Real(f) => Some(f),
            ValueRef::Integer(i) => Some(i as f64),
            _ => None,
        }),
        Bool => Box::new(int.map(|i| i != 0)),
    }
}

/// Copies the SQLite state file at `sqlite` into `target`, which must hold
/// no state yet.
pub fn sqlite_to_postgres(sqlite: &Path, target: &PgStateStore) -> Result<MigrationReport> {
    let src = rusqlite::Connection::open_with_flags(
        sqlite,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| StateError::Open {
        path: sqlite.display().to_string(),
        source,
        why: String::new(),
    })?;
    let existing: i64 = target.with("count target rows", |c| {
        let mut n = 0i64;
        for (table, _) in TABLES {
            n += c
                .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
                .get::<_, i64>(0);
        }
        Ok(n)
    })?;
    if existing > 0 {
        return Err(StateError::Invalid {
            what: "migration target",
            reason: format!(
                "the PostgreSQL database already holds {existing} rows of state; migrate into an empty one"
            ),
        });
    }
    let mut report = MigrationReport::default();
    for (table, cols) in TABLES {
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let select = format!("SELECT {} FROM {table}", names.join(", "));
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            names.join(", "),
            placeholders.join(", ")
        );
        let mut stmt = src.prepare(&select).map_err(sqlite_err("read table"))?;
        let mut rows = stmt.query([]).map_err(sqlite_err("read table"))?;
        let mut copied = 0u64;
        let mut batch: Vec<Vec<Box<dyn ToSql + Sync>>> = Vec::with_capacity(BATCH);
        loop {
            let row = rows.next().map_err(sqlite_err("read row"))?;
            if let Some(r) = row {
                let mut values = Vec::with_capacity(cols.len());
                for (i, (_, col)) in cols.iter().enumerate() {
                    values.push(param(r.get_ref(i).map_err(sqlite_err("read value"))?, *col));
                }
                batch.push(values);
            }
            if batch.len() == BATCH || (row.is_none() && !batch.is_empty()) {
                copied += target.with("copy rows", |c| {
                    let mut tx = c.transaction()?;
                    let ins = tx.prepare(&insert)?;
                    let mut n = 0;
                    for values in &batch {
                        let refs: Vec<&(dyn ToSql + Sync)> =
                            values.iter().map(|b| b.as_ref()).collect();
                        n += tx.execute(&ins, &refs)?;
                    }
                    tx.commit()?;
                    Ok(n)
                })?;
                batch.clear();
            }
            if row.is_none() {
                break;
            }
        }
        let source_rows: i64 = src
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(sqlite_err("count rows"))?;
        if copied != source_rows as u64 {
            return Err(StateError::Invalid {
                what: "migration",
                reason: format!("{table}: {source_rows} rows in SQLite, {copied} copied"),
            });
        }
        report.tables.push((table.to_string(), copied));
    }
    target.with("move sequences", |c| {
        for table in SERIAL_TABLES {
            c.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}"
                ),
                &[],
            )?;
        }
        Ok(())
    })?;
    Ok(report)
}
