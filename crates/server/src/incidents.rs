//! Incidents over HTTP: `GET /api/incidents` groups a period's stories
//! into incidents (with the analysts' edits applied); `POST
//! /api/incidents/merge` and `POST /api/incidents/split` store an
//! analyst's decision, which every later grouping keeps.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use mediawatch_core::DocId;
use mediawatch_incidents::{IncidentReport, IncidentRequest, Params, DEFAULT_PARAMS};
use mediawatch_state::IncidentLink;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{opt_date, opt_until, ApiError, ApiJson, ApiQuery, AppState, ErrorBody};

/// Query of `GET /api/incidents`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentParams {
    /// Words and filters narrowing the stories; migration coverage when
    /// empty.
    pub q: Option<String>,
    /// Period start (YYYY-MM-DD or RFC 3339).
    pub from: Option<String>,
    /// Period end (inclusive day).
    pub to: Option<String>,
    /// Incidents covered by at least this many outlets (default 2).
    pub min_outlets: Option<usize>,
    /// Most incidents returned (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Largest hours between two linked stories (default 72).
    pub window_hours: Option<i64>,
    /// Smallest similarity of a link, 0 to 1 (default: chosen on the
    /// project's labelled set).
    pub threshold: Option<f32>,
}

impl IncidentParams {
    pub(crate) fn request(&self) -> Result<IncidentRequest, ApiError> {
        let window = self
            .window_hours
            .unwrap_or(DEFAULT_PARAMS.window.num_hours());
        if !(1..=24 * 30).contains(&window) {
            return Err(ApiError::BadRequest(format!(
                "window_hours: {window} is outside 1..720"
            )));
        }
        let threshold = self.threshold.unwrap_or(DEFAULT_PARAMS.threshold);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ApiError::BadRequest(format!(
                "threshold: {threshold} is outside 0..1"
            )));
        }
        Ok(IncidentRequest {
            query: self.q.clone().unwrap_or_default(),
            from: opt_date("from", &self.from, false)?,
            to: opt_until("to", &self.to)?,
            min_outlets: self.min_outlets.unwrap_or(2).max(1),
            limit: self.limit.unwrap_or(100).clamp(1, 1000),
            params: Params {
                window: chrono::Duration::hours(window),
                threshold,
            },
        })
    }
}

/// The incidents of a request, off the async threads.
pub(crate) async fn incidents_of(
    s: &AppState,
    req: IncidentRequest,
) -> Result<IncidentReport, ApiError> {
    let queries = s.queries();
    let state = s.state.clone();
    tokio::task::spawn_blocking(move || mediawatch_incidents::build(&queries, state.as_ref(), &req))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| match e {
            mediawatch_incidents::IncidentError::Query(q) => ApiError::from(q),
            other => ApiError::Internal(other.to_string()),
        })
}

/// Incidents of a period: stories of different outlets about one event
/// grouped (time window, shared names and places, text similarity; copies
/// of one text join at once), with each outlet's framing and the outlets
/// that collectivised what others reported neutrally.
#[utoipa::path(get, path = "/api/incidents", tag = "incidents", params(IncidentParams),
    responses((status = 200, description = "The incidents, most covered first", body = IncidentReport),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<IncidentParams>,
) -> Result<Json<IncidentReport>, ApiError> {
    let req = p.request()?;
    Ok(Json(incidents_of(&s, req).await?))
}

/// Most stories one merge names (every pair among them is stored).
pub const MAX_MERGE: usize = 200;

/// Body of `POST /api/incidents/merge`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// Stories to put in one incident: the members of the incidents merged
    /// (every pair among them is decided, so earlier splits between them
    /// are undone; at most 200).
    pub doc_ids: Vec<String>,
    /// Who decided.
    #[serde(default)]
    pub analyst: Option<String>,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// Body of `POST /api/incidents/split`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitBody {
    /// The story taken out.
    pub doc_id: String,
    /// The stories it must not be grouped with (the rest of its incident).
    pub from: Vec<String>,
    /// Who decided.
    #[serde(default)]
    pub analyst: Option<String>,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// What an edit stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditStored {
    /// Pairs of stories decided.
    pub links: usize,
}

async fn check_docs(s: &AppState, ids: Vec<String>) -> Result<(), ApiError> {
    let queries = s.queries();
    tokio::task::spawn_blocking(move || {
        for id in ids {
            if id.trim().is_empty() {
                return Err(ApiError::BadRequest("doc ids must not be empty".into()));
            }
            if queries.document(&DocId::from_stored(id.clone()))?.is_none() {
                return Err(ApiError::NotFound(format!("no document with id {id:?}")));
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

async fn store(s: &AppState, links: Vec<IncidentLink>) -> Result<Response, ApiError> {
    let n = links.len();
    let state = s.state.clone();
    tokio::task::spawn_blocking(move || state.add_incident_links(&links))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| match e {
            mediawatch_state::StateError::Invalid { reason, .. } => ApiError::BadRequest(reason),
            other => ApiError::Internal(other.to_string()),
        })?;
    Ok((StatusCode::CREATED, Json(EditStored { links: n })).into_response())
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Puts stories in one incident, for good: every later grouping keeps
/// them together (unless a later split says otherwise). Name every story
/// of the incidents merged: each pair among them is decided.
#[utoipa::path(post, path = "/api/incidents/merge", tag = "incidents",
    request_body = MergeBody, security(("bearer" = [])),
    responses((status = 201, description = "Stored", body = EditStored),
        (status = 400, description = "Fewer than two distinct stories, or an empty id", body = ErrorBody),
        crate::openapi::WriteRefused,
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body does not have the merge shape", body = ErrorBody),
        (status = 429, description = "Rate limited (see Retry-After)", body = ErrorBody)))]
pub async fn merge(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<MergeBody>,
) -> Result<Response, ApiError> {
    let mut ids = b.doc_ids.clone();
    ids.sort();
    ids.dedup();
    if ids.len() < 2 {
        return Err(ApiError::BadRequest(
            "doc_ids: give at least two different stories to merge".into(),
        ));
    }
    check_docs(&s, ids.clone()).await?;
    if ids.len() > MAX_MERGE {
        return Err(ApiError::BadRequest(format!(
            "doc_ids: {} stories; merge at most {MAX_MERGE} at once",
            ids.len()
        )));
    }
    let links = IncidentLink::merge_all(&ids, trimmed(b.analyst), trimmed(b.note), Utc::now());
    store(&s, links).await
}

/// Takes a story out of its incident, for good: every later grouping
/// keeps it apart from the stories named.
#[utoipa::path(post, path = "/api/incidents/split", tag = "incidents",
    request_body = SplitBody, security(("bearer" = [])),
    responses((status = 201, description = "Stored", body = EditStored),
        (status = 400, description = "No other story named, or the story named itself", body = ErrorBody),
        crate::openapi::WriteRefused,
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body does not have the split shape", body = ErrorBody),
        (status = 429, description = "Rate limited (see Retry-After)", body = ErrorBody)))]
pub async fn split(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<SplitBody>,
) -> Result<Response, ApiError> {
    let mut from = b.from.clone();
    from.sort();
    from.dedup();
    from.retain(|d| *d != b.doc_id);
    if from.is_empty() {
        return Err(ApiError::BadRequest(
            "from: name the other stories of the incident".into(),
        ));
    }
    let mut all = from.clone();
    all.push(b.doc_id.clone());
    check_docs(&s, all).await?;
    let links = IncidentLink::pairs(
        &b.doc_id,
        &from,
        false,
        trimmed(b.analyst),
        trimmed(b.note),
        Utc::now(),
    );
    store(&s, links).await
}
