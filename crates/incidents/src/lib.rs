//! Incidents, not copies: the stories of different outlets about one event
//! grouped together ([`cluster`]), beyond the index's near-duplicate
//! clusters (which only join copies of one text), with analysts' merges and
//! splits kept in the state and applied at every grouping, and each
//! incident's coverage: which outlets reported it, with which framing, and
//! which outlets collectivised an incident the others reported without it.
//!
//! Incidents are computed when asked for, over the stories of a period (the
//! analysts' decisions are what persists), so new stories join them and a
//! better grouping reaches old periods without a migration.

pub mod cluster;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use mediawatch_core::{Labels, LABEL_NAMES};
use mediawatch_index::SearchRequest;
use mediawatch_query::Queries;
use mediawatch_state::{IncidentLink, StateBackend};
use serde::Serialize;

pub use cluster::{group, pair_scores, Constraint, Params, Story, DEFAULT_PARAMS};

/// Errors of building incidents.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// The stories could not be read.
    #[error(transparent)]
    Query(#[from] mediawatch_query::QueryError),
    /// The analysts' decisions could not be read.
    #[error("cannot read the analysts' incident edits: {0}")]
    State(#[from] mediawatch_state::StateError),
}

/// Most stories one grouping reads; past it the answer says so.
pub const MAX_STORIES: usize = 20_000;

/// Which stories, and how to group them.
#[derive(Debug, Clone)]
pub struct IncidentRequest {
    /// Query-language text narrowing the stories (words and filters);
    /// migration coverage (`relevance>=0.5`) when empty.
    pub query: String,
    /// Period start.
    pub from: Option<DateTime<Utc>>,
    /// Period end (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Incidents covered by at least this many outlets.
    pub min_outlets: usize,
    /// Most incidents returned (the largest first).
    pub limit: usize,
    /// Grouping parameters.
    pub params: Params,
}

impl Default for IncidentRequest {
    fn default() -> Self {
        Self {
            query: String::new(),
            from: None,
            to: None,
            min_outlets: 2,
            limit: 100,
            params: DEFAULT_PARAMS,
        }
    }
}

/// One outlet's coverage of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutletCoverage {
    /// Source id.
    pub source: String,
    /// Its stories in the incident.
    pub documents: u64,
    /// Stories with each label present (`hate`, `collective_labelling`,
    /// `threat`, `victim`, `recognition`, ...).
    pub labels: BTreeMap<String, u64>,
    /// Some of its stories are hateful or collectively labelling.
    pub collectivising: bool,
}

/// One story of an incident.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// Document id.
    pub id: String,
    /// Headline.
    pub title: String,
    /// URL.
    pub url: String,
    /// Source id.
    pub source: String,
    /// Publication time.
    pub time: DateTime<Utc>,
    /// Labels present.
    pub labels: Vec<String>,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Incident {
    /// Named after its first story (`inc-<document id>`): stable while
    /// that story stays in it.
    pub id: String,
    /// The first story's headline.
    pub title: String,
    /// First story.
    pub first: DateTime<Utc>,
    /// Last story.
    pub last: DateTime<Utc>,
    /// Stories.
    pub documents: u64,
    /// Coverage per outlet, most stories first.
    pub outlets: Vec<OutletCoverage>,
    /// Outlets that collectivised or ethnicised an incident most other
    /// outlets reported without it: their stories are hateful or
    /// collectively labelling, while fewer than half of the other outlets'
    /// stories are.
    pub collectivising: Vec<String>,
    /// The stories, oldest first.
    pub members: Vec<Member>,
}

/// Incidents of a period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IncidentReport {
    /// Stories grouped.
    pub stories: u64,
    /// More stories matched than [`MAX_STORIES`]: narrow the period.
    pub truncated: bool,
    /// Incidents with at least `min_outlets` outlets, the most covered first.
    pub incidents: Vec<Incident>,
    /// Incidents left out by `limit`.
    pub left_out: u64,
    /// Largest hours between two linked stories.
    pub window_hours: i64,
    /// Smallest similarity of a link.
    pub threshold: f32,
}

fn present(l: Option<&Labels>) -> Vec<String> {
    l.map(|l| {
        l.flags()
            .iter()
            .filter(|f| f.present && f.name != "relevant")
            .map(|f| f.name.to_string())
            .collect()
    })
    .unwrap_or_default()
}

fn hostile(labels: &[String]) -> bool {
    labels
        .iter()
        .any(|l| l == "hate" || l == "collective_labelling")
}

/// Reads the stories of `req` and groups them, applying the analysts'
/// decisions stored in `state`. Blocking.
pub fn build(
    queries: &Queries,
    state: &dyn StateBackend,
    req: &IncidentRequest,
) -> Result<IncidentReport, IncidentError> {
    let query = if req.query.trim().is_empty() {
        "relevance>=0.5 kind:article".to_string()
    } else {
        format!("{} kind:article", req.query)
    };
    let (hits, truncated) = queries.search_all(
        &SearchRequest {
            query,
            from: req.from,
            to: req.to,
            ..Default::default()
        },
        MAX_STORIES,
    )?;
    let stories: Vec<Story> = hits
        .iter()
        .map(|h| Story {
            id: h.id.clone(),
            cluster: h.cluster_id.clone(),
            time: h.time.or(h.published).unwrap_or_else(Utc::now),
            title: h.title.clone(),
            lead: mediawatch_index::snippet_to_text(&h.snippet, ""),
        })
        .collect();
    let constraints: Vec<(String, String, Constraint)> = state
        .incident_links()?
        .into_iter()
        .map(|l: IncidentLink| {
            let c = if l.together {
                Constraint::Together
            } else {
                Constraint::Apart
            };
            (l.doc_a, l.doc_b, c)
        })
        .collect();
    let groups = group(&stories, &req.params, &constraints);
    let mut incidents: Vec<Incident> = groups
        .iter()
        .filter_map(|g| {
            let members: Vec<Member> = g
                .iter()
                .map(|&i| {
                    let h = &hits[i];
                    Member {
                        id: h.id.clone(),
                        title: h.title.clone(),
                        url: h.url.clone(),
                        source: h.source.clone(),
                        time: stories[i].time,
                        labels: present(h.labels.as_ref()),
                    }
                })
                .collect();
            let incident = coverage(members);
            (incident.outlets.len() >= req.min_outlets.max(1)).then_some(incident)
        })
        .collect();
    incidents.sort_by(|a, b| {
        b.outlets
            .len()
            .cmp(&a.outlets.len())
            .then(b.documents.cmp(&a.documents))
            .then(a.first.cmp(&b.first))
    });
    let left_out = incidents.len().saturating_sub(req.limit) as u64;
    incidents.truncate(req.limit);
    Ok(IncidentReport {
        stories: stories.len() as u64,
        truncated,
        incidents,
        left_out,
        window_hours: req.params.window.num_hours(),
        threshold: req.params.threshold,
    })
}

/// An incident's coverage from its stories (oldest first).
pub fn coverage(members: Vec<Member>) -> Incident {
    let mut outlets: HashMap<&str, OutletCoverage> = HashMap::new();
    for m in &members {
        let o = outlets
            .entry(m.source.as_str())
            .or_insert_with(|| OutletCoverage {
                source: m.source.clone(),
                documents: 0,
                labels: LABEL_NAMES
                    .iter()
                    .filter(|n| **n != "relevant")
                    .map(|n| (n.to_string(), 0))
                    .collect(),
                collectivising: false,
            });
        o.documents += 1;
        for l in &m.labels {
            *o.labels.entry(l.clone()).or_default() += 1;
        }
        o.collectivising |= hostile(&m.labels);
    }
    let mut outlets: Vec<OutletCoverage> = outlets.into_values().collect();
    outlets.sort_by(|a, b| b.documents.cmp(&a.documents).then(a.source.cmp(&b.source)));
    let collectivising = outlets
        .iter()
        .filter(|o| o.collectivising)
        .filter(|o| {
            let others: Vec<&Member> = members.iter().filter(|m| m.source != o.source).collect();
            let hostile_others = others.iter().filter(|m| hostile(&m.labels)).count();
            !others.is_empty() && hostile_others * 2 < others.len()
        })
        .map(|o| o.source.clone())
        .collect();
    let first = members.first().map(|m| m.time).unwrap_or_default();
    let last = members.last().map(|m| m.time).unwrap_or_default();
    Incident {
        id: format!(
            "inc-{}",
            members.first().map(|m| m.id.as_str()).unwrap_or_default()
        ),
        title: members.first().map(|m| m.title.clone()).unwrap_or_default(),
        first,
        last,
        documents: members.len() as u64,
        outlets,
        collectivising,
        members,
    }
}

#[cfg(test)]
mod tests;
