//! Saved searches and alerts over HTTP:
//!
//! - `GET /api/saved-searches`: every saved search (config and API), with
//!   its origin.
//! - `POST /api/saved-searches`: create one (JSON body in the
//!   `[[saved_searches]]` shape: `id`, `name`, `query`, `country`, `source`,
//!   `lang`, `enabled`, `alert{metric, window, baseline, significance,
//!   min_count, min_documents, min_ratio, min_increase, dedup, cooldown,
//!   channels}`); 201 with the stored search, 400 with every problem.
//! - `GET /api/saved-searches/{id}`: the search and its last alerts.
//! - `DELETE /api/saved-searches/{id}`: 204; 409 for a search from the
//!   config file.
//! - `POST /api/saved-searches/{id}/evaluate[?at=RFC3339]`: dry run of the
//!   rule now (or at `at`): the window, observed and baseline values, the
//!   test, its statistic and p-value and every check; nothing is recorded
//!   or sent.
//! - `GET /api/alerts?search=&since=&until=&failed=true&limit=`: alert
//!   history, newest first, with each channel's delivery outcome.
//!
//! The routes need a [`mediawatch_alerts::AlertsRuntime`] reachable from the
//! router state (`FromRef`).

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use mediawatch_alerts::{AlertsError, AlertsRuntime, Evaluation, SavedSearch};
use mediawatch_config::SavedSearchConfig;
use mediawatch_state::{AlertFilter, AlertRecord, Delivery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{ApiJson, ApiQuery, ErrorBody};

/// Most alerts one history request returns.
const MAX_ALERTS: usize = 1000;

/// The alert routes, to merge into the API router.
// Unused until lib.rs merges it (with `AlertsRuntime: FromRef<AppState>`).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AlertsRuntime: FromRef<S>,
{
    Router::new()
        .route("/api/saved-searches", get(list).post(create))
        .route("/api/saved-searches/{id}", get(show).delete(remove))
        .route("/api/saved-searches/{id}/evaluate", post(evaluate))
        .route("/api/alerts", get(history))
}

/// Errors of these routes, with the API's `{"error": "..."}` body.
pub(crate) struct AlertsApiError(StatusCode, String);

impl IntoResponse for AlertsApiError {
    fn into_response(self) -> Response {
        if self.0.is_server_error() {
            tracing::error!("alerts API error: {}", self.1);
        }
        ErrorBody::response(self.0, self.1)
    }
}

impl From<AlertsError> for AlertsApiError {
    fn from(e: AlertsError) -> Self {
        let status = match &e {
            AlertsError::Invalid(_)
            | AlertsError::NoRule(_)
            | AlertsError::InvalidRule { .. }
            | AlertsError::Query(_) => StatusCode::BAD_REQUEST,
            AlertsError::Index(mediawatch_index::IndexError::Query { .. })
            | AlertsError::Index(mediawatch_index::IndexError::InvalidRequest { .. }) => {
                StatusCode::BAD_REQUEST
            }
            AlertsError::NotFound(_) => StatusCode::NOT_FOUND,
            AlertsError::ReadOnly(_) => StatusCode::CONFLICT,
            AlertsError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AlertsError::State(mediawatch_state::StateError::Invalid { .. }) => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AlertsApiError(status, e.to_string())
    }
}

fn join_err(e: tokio::task::JoinError) -> AlertsApiError {
    AlertsApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// A fired alert with its deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    /// Row id.
    pub id: i64,
    /// The saved search.
    pub search_id: String,
    /// `volume` or `share:<label>`.
    pub metric: String,
    /// Start of the window tested (inclusive).
    pub window_start: chrono::DateTime<Utc>,
    /// End of the window tested (exclusive).
    pub window_end: chrono::DateTime<Utc>,
    /// Observed value (count or share).
    pub observed: f64,
    /// Baseline value (mean count or share).
    pub baseline: f64,
    /// Test statistic (z).
    pub statistic: f64,
    /// One-sided p-value.
    pub p_value: f64,
    /// When it fired.
    pub fired_at: chrono::DateTime<Utc>,
    /// The rule as evaluated (an alert rule object).
    #[schema(value_type = Object)]
    pub rule: Value,
    /// The full evaluation (an evaluation object).
    #[schema(value_type = Object)]
    pub evaluation: Value,
    /// One entry per channel notified.
    pub deliveries: Vec<Delivery>,
}

impl From<AlertRecord> for AlertView {
    /// The record with its JSON columns as JSON.
    fn from(a: AlertRecord) -> Self {
        let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
        AlertView {
            id: a.id,
            rule: parse(&a.alert.rule_json),
            evaluation: parse(&a.alert.details_json),
            search_id: a.alert.search_id,
            metric: a.alert.metric,
            window_start: a.alert.window_start,
            window_end: a.alert.window_end,
            observed: a.alert.observed,
            baseline: a.alert.baseline,
            statistic: a.alert.statistic,
            p_value: a.alert.p_value,
            fired_at: a.alert.fired_at,
            deliveries: a.deliveries,
        }
    }
}

/// Answer of `GET /api/saved-searches`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearchList {
    /// From the config file, then those created through the API.
    pub saved_searches: Vec<SavedSearch>,
}

/// Answer of `GET /api/saved-searches/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearchDetail {
    /// The search and its rule.
    pub saved_search: SavedSearch,
    /// Its last 20 alerts, newest first.
    pub alerts: Vec<AlertView>,
}

/// Answer of `POST /api/saved-searches/{id}/evaluate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRun {
    /// Always true: nothing was recorded or sent.
    pub dry_run: bool,
    /// The window, observed and baseline values, the test, its statistic
    /// and p-value, and every check.
    pub evaluation: Evaluation,
}

/// Answer of `GET /api/alerts`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    /// Newest first.
    pub alerts: Vec<AlertView>,
}

/// Saved searches (from the config and the API), with their origin.
#[utoipa::path(get, path = "/api/saved-searches", tag = "alerts",
    responses((status = 200, description = "Every saved search", body = SavedSearchList)))]
pub(crate) async fn list(
    State(rt): State<AlertsRuntime>,
) -> Result<Json<SavedSearchList>, AlertsApiError> {
    Ok(Json(SavedSearchList {
        saved_searches: rt.searches()?,
    }))
}

/// Create a saved search (the `[[saved_searches]]` shape of the config).
#[utoipa::path(post, path = "/api/saved-searches", tag = "alerts",
    request_body = SavedSearchConfig, security(("bearer" = [])),
    responses((status = 201, description = "The stored search", body = SavedSearch),
        (status = 400, description = "Every problem, each with its field", body = ErrorBody),
        crate::openapi::WriteRefused,
        (status = 409, description = "The id is taken", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body does not have the saved-search shape", body = ErrorBody)))]
pub(crate) async fn create(
    State(rt): State<AlertsRuntime>,
    ApiJson(body): ApiJson<SavedSearchConfig>,
) -> Result<(StatusCode, Json<SavedSearch>), AlertsApiError> {
    let created = tokio::task::spawn_blocking(move || rt.create_search(body, Utc::now()))
        .await
        .map_err(join_err)??;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One saved search and its last alerts.
#[utoipa::path(get, path = "/api/saved-searches/{id}", tag = "alerts",
    params(("id" = String, Path, description = "Saved search id")),
    responses((status = 200, description = "The search", body = SavedSearchDetail),
        (status = 404, description = "No such search", body = ErrorBody)))]
pub(crate) async fn show(
    State(rt): State<AlertsRuntime>,
    Path(id): Path<String>,
) -> Result<Json<SavedSearchDetail>, AlertsApiError> {
    let s = rt
        .search(&id)?
        .ok_or_else(|| AlertsError::NotFound(id.clone()))?;
    let alerts = rt.history(&AlertFilter {
        search_id: Some(id),
        limit: Some(20),
        ..Default::default()
    })?;
    Ok(Json(SavedSearchDetail {
        saved_search: s,
        alerts: alerts.into_iter().map(AlertView::from).collect(),
    }))
}

/// Delete a saved search created through the API (409 for one from the
/// config file).
#[utoipa::path(delete, path = "/api/saved-searches/{id}", tag = "alerts",
    params(("id" = String, Path, description = "Saved search id")), security(("bearer" = [])),
    responses((status = 204, description = "Deleted"),
        crate::openapi::WriteRefused,
        (status = 404, description = "No such search", body = ErrorBody),
        (status = 409, description = "The search is defined in the config file", body = ErrorBody)))]
pub(crate) async fn remove(
    State(rt): State<AlertsRuntime>,
    Path(id): Path<String>,
) -> Result<StatusCode, AlertsApiError> {
    rt.delete_search(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `POST /api/saved-searches/{id}/evaluate`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EvaluateParams {
    /// Evaluate as if now were this time (RFC 3339 or YYYY-MM-DD; default now).
    at: Option<String>,
}

/// Dry run of the search's alert rule now (or at `at`): nothing is
/// recorded or sent.
#[utoipa::path(post, path = "/api/saved-searches/{id}/evaluate", tag = "alerts",
    params(("id" = String, Path, description = "Saved search id"), EvaluateParams),
    security(("bearer" = [])),
    responses((status = 200, description = "The evaluation", body = DryRun),
        (status = 400, description = "Bad `at`, or the search has no alert rule", body = ErrorBody),
        crate::openapi::WriteRefused,
        (status = 404, description = "No such search", body = ErrorBody)))]
pub(crate) async fn evaluate(
    State(rt): State<AlertsRuntime>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<EvaluateParams>,
) -> Result<Json<DryRun>, AlertsApiError> {
    let at = match p.at.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => crate::parse_date("at", v, false)
            .map_err(|e| AlertsApiError(StatusCode::BAD_REQUEST, e))?,
        None => Utc::now(),
    };
    let e = tokio::task::spawn_blocking(move || rt.evaluate_dry(&id, at))
        .await
        .map_err(join_err)??;
    Ok(Json(DryRun {
        dry_run: true,
        evaluation: e,
    }))
}

/// Query of `GET /api/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Only this saved search.
    search: Option<String>,
    /// Fired at or after (RFC 3339 or YYYY-MM-DD).
    since: Option<String>,
    /// Fired before the end of this day or time.
    until: Option<String>,
    /// Only alerts some channel failed to receive.
    #[serde(default)]
    failed: bool,
    /// Most returned (default 100, at most 1000).
    limit: Option<usize>,
}

/// Alert history, newest first, with each channel's delivery outcome.
#[utoipa::path(get, path = "/api/alerts", tag = "alerts", params(HistoryParams),
    responses((status = 200, description = "Alerts, newest first", body = AlertList),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub(crate) async fn history(
    State(rt): State<AlertsRuntime>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Json<AlertList>, AlertsApiError> {
    let date = |name: &str, v: &Option<String>, end: bool| {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| crate::parse_date(name, s, end))
            .transpose()
            .map_err(|e| AlertsApiError(StatusCode::BAD_REQUEST, e))
    };
    let filter = AlertFilter {
        search_id: p.search.filter(|s| !s.is_empty()),
        since: date("since", &p.since, false)?,
        until: date("until", &p.until, true)?,
        failed_only: p.failed,
        limit: Some(p.limit.unwrap_or(100).min(MAX_ALERTS)),
        ..Default::default()
    };
    let alerts = rt.history(&filter)?;
    Ok(Json(AlertList {
        alerts: alerts.into_iter().map(AlertView::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    use mediawatch_config::AlertsConfig;
    use mediawatch_index::Index;
    use mediawatch_state::StateStore;

    async fn serve() -> (String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open_or_create(&dir.path().join("index")).unwrap();
        let state = Arc::new(StateStore::open(&dir.path().join("state.db")).unwrap());
        let conf: SavedSearchConfig = serde_json::from_value(json!({
            "id": "from-file", "name": "From the file", "query": "migranti",
            "alert": {"metric": "volume", "window": "1d", "baseline": "14d"}
        }))
        .unwrap();
        let rt = AlertsRuntime::new(index, state, AlertsConfig::default(), vec![conf]).unwrap();
        let app: Router = routes::<AlertsRuntime>().with_state(rt);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), dir)
    }

    /// Sends a request and returns the status and the JSON body (null
    /// when there is none).
    async fn call(base: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let client = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = client.request(method, format!("{base}{path}"));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn saved_search_lifecycle_over_http() {
        let (base, _dir) = serve().await;
        let (st, v) = call(&base, "GET", "/api/saved-searches", None).await;
        assert_eq!(st, 200);
        assert_eq!(v["saved_searches"][0]["id"], "from-file");
        assert_eq!(v["saved_searches"][0]["origin"], "config");

        let new = json!({
            "id": "rs-cl", "name": "Collective labelling, Serbia", "query": "migranti",
            "country": "RS",
            "alert": {"metric": "share:collective_labelling", "window": "1d", "baseline": "28d",
                      "min_increase": 0.05}
        });
        let (st, v) = call(&base, "POST", "/api/saved-searches", Some(&new)).await;
        assert_eq!(st, 201, "{v}");
        assert_eq!(v["origin"], "api");
        let (st, v) = call(&base, "POST", "/api/saved-searches", Some(&new)).await;
        assert_eq!(st, 409, "duplicate: {v}");

        let bad = json!({"id": "x y", "name": "", "alert": {"metric": "share:nope"}});
        let (st, _) = call(&base, "POST", "/api/saved-searches", Some(&bad)).await;
        assert!((400..500).contains(&st));
        let bad = json!({"id": "ok", "name": "n", "country": "ZZ",
                         "alert": {"metric": "volume", "channels": ["pager"]}});
        let (st, v) = call(&base, "POST", "/api/saved-searches", Some(&bad)).await;
        assert_eq!(st, 400);
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains("country") && msg.contains("pager"), "{msg}");

        let (st, v) = call(&base, "GET", "/api/saved-searches/rs-cl", None).await;
        assert_eq!(st, 200);
        assert_eq!(v["saved_search"]["country"], "RS");
        assert_eq!(v["alerts"], json!([]));

        let (st, v) = call(
            &base,
            "POST",
            "/api/saved-searches/rs-cl/evaluate?at=2026-03-04T12:00:00Z",
            None,
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["dry_run"], true);
        assert_eq!(v["evaluation"]["window_start"], "2026-03-04T00:00:00Z");
        assert_eq!(v["evaluation"]["fires"], false);
        assert!(v["evaluation"]["test"]
            .as_str()
            .unwrap()
            .contains("two-proportion"));

        let (st, _) = call(&base, "DELETE", "/api/saved-searches/from-file", None).await;
        assert_eq!(st, 409);
        let (st, _) = call(&base, "DELETE", "/api/saved-searches/rs-cl", None).await;
        assert_eq!(st, 204);
        let (st, _) = call(&base, "GET", "/api/saved-searches/rs-cl", None).await;
        assert_eq!(st, 404);
        let (st, _) = call(&base, "POST", "/api/saved-searches/rs-cl/evaluate", None).await;
        assert_eq!(st, 404);

        let (st, v) = call(&base, "GET", "/api/alerts?failed=true&limit=5", None).await;
        assert_eq!(st, 200);
        assert_eq!(v["alerts"], json!([]));
        let (st, _) = call(&base, "GET", "/api/alerts?since=yesterday", None).await;
        assert_eq!(st, 400);
    }
}
