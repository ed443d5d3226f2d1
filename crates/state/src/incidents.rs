//! Analysts' incident edits: "these two stories are one incident" and
//! "these two are not", kept forever and applied at every grouping
//! (`mediawatch-incidents`), so a merge or a split survives regrouping.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use crate::pg::PgStateStore;
use crate::{from_ts, sql, ts, Result, StateError, StateStore};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS incident_links (
    doc_a TEXT NOT NULL,
    doc_b TEXT NOT NULL,
    together INTEGER NOT NULL,
    analyst TEXT,
    note TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (doc_a, doc_b)
);
"#;

pub(crate) const PG_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS incident_links (
    doc_a TEXT NOT NULL,
    doc_b TEXT NOT NULL,
    together BOOLEAN NOT NULL,
    analyst TEXT,
    note TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (doc_a, doc_b)
);
"#;

/// One analyst decision about two stories. The pair is stored in id
/// order; a later decision about the same pair replaces the earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IncidentLink {
    /// One story's document id.
    pub doc_a: String,
    /// The other's.
    pub doc_b: String,
    /// Same incident (a merge) or not (a split).
    pub together: bool,
    /// Who decided.
    pub analyst: Option<String>,
    /// Why.
    pub note: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

impl IncidentLink {
    /// A decision about `a` and `b`, in id order.
    pub fn new(a: &str, b: &str, together: bool, at: DateTime<Utc>) -> Self {
        let (doc_a, doc_b) = if a <= b { (a, b) } else { (b, a) };
        IncidentLink {
            doc_a: doc_a.to_string(),
            doc_b: doc_b.to_string(),
            together,
            analyst: None,
            note: None,
            at,
        }
    }

    /// One decision between `anchor` and each of `others` (the anchor
    /// itself skipped): a merge of stories, or a story split from the rest.
    pub fn pairs(
        anchor: &str,
        others: &[String],
        together: bool,
        analyst: Option<String>,
        note: Option<String>,
        at: DateTime<Utc>,
    ) -> Vec<IncidentLink> {
        others
            .iter()
            .filter(|o| o.as_str() != anchor)
            .map(|o| IncidentLink {
                analyst: analyst.clone(),
                note: note.clone(),
                ..IncidentLink::new(anchor, o, together, at)
            })
            .collect()
    }

    /// A merge of `ids`: one decision for every pair among them, so a
    /// merge replaces every earlier split between them (the later decision
    /// about a pair wins).
    pub fn merge_all(
        ids: &[String],
        analyst: Option<String>,
        note: Option<String>,
        at: DateTime<Utc>,
    ) -> Vec<IncidentLink> {
        let mut out = Vec::new();
        for (i, a) in ids.iter().enumerate() {
            out.extend(Self::pairs(
                a,
                &ids[i + 1..],
                true,
                analyst.clone(),
                note.clone(),
                at,
            ));
        }
        out
    }

    fn check(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(StateError::Invalid {
                what: "incident edit",
                reason: reason.to_string(),
            })
        };
        if self.doc_a.trim().is_empty() || self.doc_b.trim().is_empty() {
            return bad("doc ids must not be empty");
        }
        if self.doc_a == self.doc_b {
            return bad("a story cannot be linked to itself");
        }
        if self.doc_a > self.doc_b {
            return bad("the pair must be in id order (use IncidentLink::new)");
        }
        Ok(())
    }
}

impl StateStore {
    /// Stores analysts' decisions (replacing earlier ones about the same
    /// pairs), in one transaction.
    pub fn add_incident_links(&self, links: &[IncidentLink]) -> Result<()> {
        for l in links {
            l.check()?;
        }
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(sql("begin"))?;
        for l in links {
            tx.execute(
                "INSERT INTO incident_links (doc_a, doc_b, together, analyst, note, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(doc_a, doc_b) DO UPDATE SET \
                 together = excluded.together, analyst = excluded.analyst, note = excluded.note, \
                 at = excluded.at",
                params![l.doc_a, l.doc_b, l.together, l.analyst, l.note, ts(l.at)],
            )
            .map_err(sql("store incident edit"))?;
        }
        tx.commit().map_err(sql("commit"))
    }

    /// Every stored decision, oldest first.
    pub fn incident_links(&self) -> Result<Vec<IncidentLink>> {
        let conn = self.conn();
        let mut st = conn
            .prepare_cached(
                "SELECT doc_a, doc_b, together, analyst, note, at FROM incident_links ORDER BY at, doc_a, doc_b",
            )
            .map_err(sql("list incident edits"))?;
        let rows = st
            .query_map([], |r| {
                Ok(IncidentLink {
                    doc_a: r.get(0)?,
                    doc_b: r.get(1)?,
                    together: r.get(2)?,
                    analyst: r.get(3)?,
                    note: r.get(4)?,
                    at: from_ts(Some(r.get(5)?)).unwrap_or_default(),
                })
            })
            .map_err(sql("list incident edits"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(sql("list incident edits"))
    }
}

impl PgStateStore {
    pub(crate) fn pg_add_incident_links(&self, links: &[IncidentLink]) -> Result<()> {
        for l in links {
            l.check()?;
        }
        self.with("store incident edits", |db| {
            let mut tx = db.transaction()?;
            for l in links {
                tx.execute(
                    "INSERT INTO incident_links (doc_a, doc_b, together, analyst, note, at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (doc_a, doc_b) DO UPDATE SET \
                     together = excluded.together, analyst = excluded.analyst, \
                     note = excluded.note, at = excluded.at",
                    &[
                        &l.doc_a,
                        &l.doc_b,
                        &l.together,
                        &l.analyst,
                        &l.note,
                        &ts(l.at),
                    ],
                )?;
            }
            tx.commit()
        })
    }

    pub(crate) fn pg_incident_links(&self) -> Result<Vec<IncidentLink>> {
        self.with("list incident edits", |db| {
            Ok(db
                .query(
                    "SELECT doc_a, doc_b, together, analyst, note, at FROM incident_links \
                     ORDER BY at, doc_a, doc_b",
                    &[],
                )?
                .iter()
                .map(|r| IncidentLink {
                    doc_a: r.get(0),
                    doc_b: r.get(1),
                    together: r.get(2),
                    analyst: r.get(3),
                    note: r.get(4),
                    at: from_ts(Some(r.get(5))).unwrap_or_default(),
                })
                .collect())
        })
    }
}
