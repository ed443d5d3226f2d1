//! Who speaks: hostility split by speaker role per outlet, the figure
//! regional monitors publish ("hostility quoted from politicians" versus
//! "in the outlet's own voice"), from the attributions the classify stage
//! stores with each document's labels (`Labels::attributions`).

use std::collections::BTreeMap;

use mediawatch_core::SpeakerRole;
use mediawatch_index::SearchRequest;
use serde::Serialize;

use crate::{Queries, Result};

/// Most documents one speaker report reads; past it the report says so.
pub const MAX_SPEAKER_DOCS: usize = 50_000;

/// Which documents: a query-language text (migration coverage,
/// `relevance>=0.5`, when empty) and a period.
#[derive(Debug, Clone, Default)]
pub struct SpeakerQuery {
    /// Words and filters.
    pub query: String,
    /// Period start.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Period end (exclusive).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// One outlet's hostility by speaker role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpeakerRow {
    /// Source id; `all` for the totals.
    pub source: String,
    /// Documents read.
    pub documents: u64,
    /// Documents with at least one hateful or collectively labelling span.
    pub hostile_documents: u64,
    /// Documents with such a span in each role's voice (`outlet`, `quoted`,
    /// `commenter`, `author`); a document may count under several.
    pub documents_by_role: BTreeMap<String, u64>,
    /// `documents_by_role / documents`.
    pub share_by_role: BTreeMap<String, f64>,
    /// Quoted speakers named most often, with their spans.
    pub speakers: Vec<(String, u64)>,
    /// Spans per target group.
    pub targets: BTreeMap<String, u64>,
}

/// Hostility by speaker role, per outlet and in total.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpeakerReport {
    /// One row per outlet, most hostile documents first.
    pub outlets: Vec<SpeakerRow>,
    /// All outlets.
    pub total: SpeakerRow,
    /// Documents read.
    pub documents: u64,
    /// More matched than [`MAX_SPEAKER_DOCS`].
    pub truncated: bool,
}

#[derive(Default)]
struct Acc {
    row: SpeakerRow,
    speakers: BTreeMap<String, u64>,
}

impl Acc {
    fn add(&mut self, labels: Option<&mediawatch_core::Labels>) {
        self.row.documents += 1;
        let Some(l) = labels else { return };
        if l.attributions.is_empty() {
            return;
        }
        self.row.hostile_documents += 1;
        for role in SpeakerRole::ALL {
            if l.attributions.iter().any(|a| a.role == role) {
                *self
                    .row
                    .documents_by_role
                    .entry(role.as_str().to_string())
                    .or_default() += 1;
            }
        }
        for a in &l.attributions {
            if let Some(s) = &a.speaker {
                *self.speakers.entry(s.clone()).or_default() += 1;
            }
            for t in &a.targets {
                *self.row.targets.entry(t.clone()).or_default() += 1;
            }
        }
    }

    fn finish(mut self, source: &str) -> SpeakerRow {
        self.row.source = source.to_string();
        for role in SpeakerRole::ALL {
            let n = *self
                .row
                .documents_by_role
                .entry(role.as_str().to_string())
                .or_default();
            let share = if self.row.documents == 0 {
                0.0
            } else {
                n as f64 / self.row.documents as f64
            };
            self.row
                .share_by_role
                .insert(role.as_str().to_string(), share);
        }
        let mut sp: Vec<(String, u64)> = self.speakers.into_iter().collect();
        sp.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        sp.truncate(10);
        self.row.speakers = sp;
        self.row
    }
}

impl Queries {
    /// Hostility by speaker role per outlet over the documents of `q`.
    pub fn speakers(&self, q: &SpeakerQuery) -> Result<SpeakerReport> {
        let query = if q.query.trim().is_empty() {
            "relevance>=0.5".to_string()
        } else {
            q.query.clone()
        };
        let mut per: BTreeMap<String, Acc> = BTreeMap::new();
        let mut total = Acc::default();
        let (hits, truncated) = self.search_all(
            &SearchRequest {
                query,
                from: q.from,
                to: q.to,
                ..Default::default()
            },
            MAX_SPEAKER_DOCS,
        )?;
        for h in &hits {
            per.entry(h.source.clone())
                .or_default()
                .add(h.labels.as_ref());
            total.add(h.labels.as_ref());
        }
        let read = hits.len();
        let mut outlets: Vec<SpeakerRow> = per.into_iter().map(|(s, a)| a.finish(&s)).collect();
        outlets.sort_by(|a, b| {
            b.hostile_documents
                .cmp(&a.hostile_documents)
                .then(a.source.cmp(&b.source))
        });
        Ok(SpeakerReport {
            outlets,
            total: total.finish("all"),
            documents: read as u64,
            truncated,
        })
    }
}
