//! Analysts' label corrections.
//!
//! An analyst marks one label of one document right or wrong (and, when
//! wrong, may give the right value). Corrections are kept forever, newest
//! last, with a snapshot of the text and language the model saw, so that
//! `mediawatch train` can use them without the index (documents may have
//! been re-fetched or pruned since) and so that the record of who said what
//! about which model's output stays auditable.

use chrono::{DateTime, Utc};
use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

use crate::{from_ts, sql, ts, Result, StateError, StateStore};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    label TEXT NOT NULL,
    verdict TEXT NOT NULL,
    value TEXT,
    model_version TEXT NOT NULL,
    model_score REAL,
    text TEXT NOT NULL,
    lang TEXT,
    analyst TEXT,
    note TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_by_doc ON corrections (doc_id, id);
CREATE INDEX IF NOT EXISTS corrections_by_label ON corrections (label, id);
"#;

/// Labels a correction may name: the boolean flags of reports plus the
/// hate class and hate target.
pub const CORRECTABLE_LABELS: [&str; 10] = [
    "relevant",
    "hate",
    "offensive",
    "collective_labelling",
    "threat",
    "victim",
    "recognition",
    "solutions",
    "hate_class",
    "hate_target",
];

/// Longest text snapshot stored with a correction (the classifiers never
/// read further either).
pub const MAX_SNAPSHOT_BYTES: usize = 64 * 1024;

/// The analyst's verdict on the model's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CorrectionVerdict {
    /// The model's label is right (a confirmation is training signal too).
    Correct,
    /// The model's label is wrong.
    Wrong,
}

impl CorrectionVerdict {
    /// Lowercase name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrectionVerdict::Correct => "correct",
            CorrectionVerdict::Wrong => "wrong",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "correct" => Some(CorrectionVerdict::Correct),
            "wrong" => Some(CorrectionVerdict::Wrong),
            _ => None,
        }
    }
}

/// A correction to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCorrection {
    /// Document id.
    pub doc_id: String,
    /// One of [`CORRECTABLE_LABELS`].
    pub label: String,
    /// Right or wrong.
    pub verdict: CorrectionVerdict,
    /// The right value when known: `"true"`/`"false"` for flags, a class
    /// (`hate`, `offensive`, `none`) for `hate_class`, a group for
    /// `hate_target`. For a flag marked wrong without a value, the right
    /// value is the opposite of the model's.
    #[serde(default)]
    pub value: Option<String>,
    /// The model version whose output is judged.
    pub model_version: String,
    /// The model's score for the label, when it has one.
    #[serde(default)]
    pub model_score: Option<f32>,
    /// The text the model classified (cut to [`MAX_SNAPSHOT_BYTES`]).
    pub text: String,
    /// Its language code.
    #[serde(default)]
    pub lang: Option<String>,
    /// Who made the correction (free text: a name or a token's owner).
    #[serde(default)]
    pub analyst: Option<String>,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

impl NewCorrection {
    /// Checks the label name, the value's form and the lengths; the error
    /// says which field is wrong and what is accepted.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.doc_id.trim().is_empty() {
            return Err("doc_id: must not be empty".into());
        }
        if !CORRECTABLE_LABELS.contains(&self.label.as_str()) {
            return Err(format!(
                "label: unknown label {:?}; expected one of {}",
                self.label,
                CORRECTABLE_LABELS.join(", ")
            ));
        }
        if let Some(v) = &self.value {
            let ok = match self.label.as_str() {
                "hate_class" => matches!(v.as_str(), "hate" | "offensive" | "none"),
                "hate_target" => !v.trim().is_empty() && v.len() <= 64,
                _ => matches!(v.as_str(), "true" | "false"),
            };
            if !ok {
                return Err(format!(
                    "value: {v:?} is not a valid value for label {:?} (flags take true/false, \
                     hate_class takes hate/offensive/none, hate_target a group name)",
                    self.label
                ));
            }
        }
        if self.model_version.trim().is_empty() {
            return Err("model_version: must not be empty".into());
        }
        if self.text.trim().is_empty() {
            return Err("text: must not be empty (the snapshot the model saw)".into());
        }
        if self.note.as_ref().is_some_and(|n| n.len() > 4096) {
            return Err("note: longer than 4096 bytes".into());
        }
        if self.analyst.as_ref().is_some_and(|a| a.len() > 256) {
            return Err("analyst: longer than 256 bytes".into());
        }
        Ok(())
    }
}

/// A stored correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Correction {
    /// Row id, increasing with time.
    pub id: i64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// What was stored.
    #[serde(flatten)]
    pub correction: NewCorrection,
}

/// Which corrections to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrectionFilter {
    /// Only this document.
    pub doc_id: Option<String>,
    /// Only this label.
    pub label: Option<String>,
    /// Only rows with a larger id (for incremental reads).
    pub after_id: Option<i64>,
    /// At most this many (all when `None`).
    pub limit: Option<usize>,
}

/// The text snapshot as stored: cut to [`MAX_SNAPSHOT_BYTES`].
pub(crate) fn snapshot(text: &str) -> &str {
    cut(text, MAX_SNAPSHOT_BYTES)
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn row_to_correction(row: &Row<'_>) -> rusqlite::Result<(Correction, String)> {
    let verdict: String = row.get(3)?;
    let created: i64 = row.get(11)?;
    Ok((
        Correction {
            id: row.get(0)?,
            created_at: from_ts(Some(created)).unwrap_or_default(),
            correction: NewCorrection {
                doc_id: row.get(1)?,
                label: row.get(2)?,
                verdict: CorrectionVerdict::parse(&verdict).unwrap_or(CorrectionVerdict::Wrong),
                value: row.get(4)?,
                model_version: row.get(5)?,
                model_score: row.get::<_, Option<f64>>(6)?.map(|v| v as f32),
                text: row.get(7)?,
                lang: row.get(8)?,
                analyst: row.get(9)?,
                note: row.get(10)?,
            },
        },
        verdict,
    ))
}

impl StateStore {
    /// Stores a correction (after [`NewCorrection::validate`]) and returns
    /// its id. The text snapshot is cut to [`MAX_SNAPSHOT_BYTES`].
    pub fn add_correction(&self, c: &NewCorrection, at: DateTime<Utc>) -> Result<i64> {
        c.validate().map_err(|reason| StateError::Invalid {
            what: "correction",
            reason,
        })?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO corrections (doc_id, label, verdict, value, model_version, model_score, \
             text, lang, analyst, note, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                c.doc_id,
                c.label,
                c.verdict.as_str(),
                c.value,
                c.model_version,
                c.model_score.map(f64::from),
                snapshot(&c.text),
                c.lang,
                c.analyst,
                c.note,
                ts(at),
            ],
        )
        .map_err(sql("insert correction"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Corrections matching `filter`, oldest first.
    pub fn corrections(&self, filter: &CorrectionFilter) -> Result<Vec<Correction>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, doc_id, label, verdict, value, model_version, model_score, text, lang, \
                 analyst, note, created_at FROM corrections \
                 WHERE (?1 IS NULL OR doc_id = ?1) AND (?2 IS NULL OR label = ?2) \
                 AND id > ?3 ORDER BY id LIMIT ?4",
            )
            .map_err(sql("list corrections"))?;
        let limit = filter
            .limit
            .map(|l| i64::try_from(l).unwrap_or(i64::MAX))
            .unwrap_or(-1);
        let rows = stmt
            .query_map(
                params![
                    filter.doc_id,
                    filter.label,
                    filter.after_id.unwrap_or(0),
                    limit
                ],
                row_to_correction,
            )
            .map_err(sql("list corrections"))?;
        let mut out = Vec::new();
        for r in rows {
            let (c, _) = r.map_err(sql("read correction"))?;
            out.push(c);
        }
        Ok(out)
    }

    /// Number of stored corrections.
    pub fn correction_count(&self) -> Result<u64> {
        let conn = self.conn();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM corrections", [], |r| r.get(0))
            .map_err(sql("count corrections"))?;
        Ok(n.max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(label: &str) -> NewCorrection {
        NewCorrection {
            doc_id: "d1".into(),
            label: label.into(),
            verdict: CorrectionVerdict::Wrong,
            value: Some("false".into()),
            model_version: "lexicon-0.1.0".into(),
            model_score: Some(0.8),
            text: "Migrants are a flood".into(),
            lang: Some("en".into()),
            analyst: Some("ana".into()),
            note: None,
        }
    }

    #[test]
    fn corrections_round_trip_and_filter() {
        let s = StateStore::in_memory().unwrap();
        let at = Utc::now();
        let a = s.add_correction(&sample("hate"), at).unwrap();
        let mut other = sample("collective_labelling");
        other.doc_id = "d2".into();
        other.verdict = CorrectionVerdict::Correct;
        other.value = None;
        let b = s.add_correction(&other, at).unwrap();
        assert!(b > a);
        assert_eq!(s.correction_count().unwrap(), 2);

        let all = s.corrections(&CorrectionFilter::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].correction, sample("hate"));
        assert_eq!(all[1].correction.verdict, CorrectionVerdict::Correct);

        let by_doc = s
            .corrections(&CorrectionFilter {
                doc_id: Some("d2".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(by_doc.len(), 1);
        assert_eq!(by_doc[0].id, b);

        let after = s
            .corrections(&CorrectionFilter {
                after_id: Some(a),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(after.iter().map(|c| c.id).collect::<Vec<_>>(), vec![b]);
    }

    #[test]
    fn invalid_corrections_are_refused_with_the_field() {
        let s = StateStore::in_memory().unwrap();
        let err = s
            .add_correction(&sample("hatred"), Utc::now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("label"), "{err}");
        let mut bad = sample("hate_class");
        bad.value = Some("maybe".into());
        let err = s.add_correction(&bad, Utc::now()).unwrap_err().to_string();
        assert!(err.contains("value"), "{err}");
        assert_eq!(s.correction_count().unwrap(), 0);
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let s = StateStore::in_memory().unwrap();
        let mut c = sample("hate");
        c.text = "ž".repeat(MAX_SNAPSHOT_BYTES);
        s.add_correction(&c, Utc::now()).unwrap();
        let got = s.corrections(&CorrectionFilter::default()).unwrap();
        assert!(got[0].correction.text.len() <= MAX_SNAPSHOT_BYTES);
        assert!(got[0].correction.text.chars().all(|ch| ch == 'ž'));
    }
}
