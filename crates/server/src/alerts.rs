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

use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use mediawatch_alerts::{AlertsError, AlertsRuntime};
use mediawatch_config::SavedSearchConfig;
use mediawatch_state::{AlertFilter, AlertRecord};
use serde::Deserialize;
use serde_json::{json, Value};

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
struct AlertsApiError(StatusCode, String);

impl IntoResponse for AlertsApiError {
    fn into_response(self) -> Response {
        if self.0.is_server_error() {
            tracing::error!("alerts API error: {}", self.1);
        }
        (self.0, Json(json!({ "error": self.1 }))).into_response()
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

/// An alert record with its JSON columns as JSON.
fn alert_json(a: AlertRecord) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    json!({
        "id": a.id,
        "search_id": a.alert.search_id,
        "metric": a.alert.metric,
        "window_start": a.alert.window_start,
        "window_end": a.alert.window_end,
        "observed": a.alert.observed,
        "baseline": a.alert.baseline,
        "statistic": a.alert.statistic,
        "p_value": a.alert.p_value,
        "fired_at": a.alert.fired_at,
        "rule": parse(&a.alert.rule_json),
        "evaluation": parse(&a.alert.details_json),
        "deliveries": a.deliveries,
    })
}

async fn list(State(rt): State<AlertsRuntime>) -> Result<Json<Value>, AlertsApiError> {
    let searches = rt.searches()?;
    Ok(Json(json!({ "saved_searches": searches })))
}

async fn create(
    State(rt): State<AlertsRuntime>,
    Json(body): Json<SavedSearchConfig>,
) -> Result<(StatusCode, Json<Value>), AlertsApiError> {
    let created = tokio::task::spawn_blocking(move || rt.create_search(body, Utc::now()))
        .await
        .map_err(join_err)??;
    Ok((StatusCode::CREATED, Json(json!(created))))
}

async fn show(
    State(rt): State<AlertsRuntime>,
    Path(id): Path<String>,
) -> Result<Json<Value>, AlertsApiError> {
    let s = rt
        .search(&id)?
        .ok_or_else(|| AlertsError::NotFound(id.clone()))?;
    let alerts = rt.history(&AlertFilter {
        search_id: Some(id),
        limit: Some(20),
        ..Default::default()
    })?;
    Ok(Json(json!({
        "saved_search": s,
        "alerts": alerts.into_iter().map(alert_json).collect::<Vec<_>>(),
    })))
}

async fn remove(
    State(rt): State<AlertsRuntime>,
    Path(id): Path<String>,
) -> Result<StatusCode, AlertsApiError> {
    rt.delete_search(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateParams {
    at: Option<String>,
}

async fn evaluate(
    State(rt): State<AlertsRuntime>,
    Path(id): Path<String>,
    Query(p): Query<EvaluateParams>,
) -> Result<Json<Value>, AlertsApiError> {
    let at = match p.at.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => crate::parse_date("at", v, false)
            .map_err(|e| AlertsApiError(StatusCode::BAD_REQUEST, e))?,
        None => Utc::now(),
    };
    let e = tokio::task::spawn_blocking(move || rt.evaluate_dry(&id, at))
        .await
        .map_err(join_err)??;
    Ok(Json(json!({ "dry_run": true, "evaluation": e })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    search: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    failed: bool,
    limit: Option<usize>,
}

async fn history(
    State(rt): State<AlertsRuntime>,
    Query(p): Query<HistoryParams>,
) -> Result<Json<Value>, AlertsApiError> {
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
    Ok(Json(json!({
        "alerts": alerts.into_iter().map(alert_json).collect::<Vec<_>>(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
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
