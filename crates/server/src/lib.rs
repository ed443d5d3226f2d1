//! The HTTP server: the JSON API under `/api/` (described by an OpenAPI
//! document generated from the handlers and their types, served at
//! `/api/openapi.json`; [`openapi`]) and the web dashboard
//! ([`pages`]). Every API error maps to an HTTP status in one place
//! ([`ApiError`]) with a JSON body `{"error": "..."}` that says what was
//! wrong. [`security`] holds the token check, rate and body limits and the
//! security headers that wrap every route.

mod alerts;
pub mod corrections;
pub mod export;
pub mod html;
pub mod incidents;
pub mod ledger;
pub mod messages;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod security;
pub mod speakers;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use mediawatch_core::{DocId, SourceMeta};
use mediawatch_index::{FactsFilter, SearchRequest};
use mediawatch_query::{
    parse_date, terms_request, Queries, QueryBackend, ReportQuery, SolutionsQuery,
};
use mediawatch_report::{GroupBy, Interval};
use mediawatch_state::StateBackend;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, ToSchema};

/// Most hits one search returns.
pub const MAX_LIMIT: usize = 500;

/// Errors of the server itself (binding, serving).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Errors of a request, mapped to HTTP statuses in [`IntoResponse`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad query syntax, bad date, bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Something failed on our side.
    #[error("{0}")]
    Internal(String),
    /// No index node could answer (a cluster's api role).
    #[error("{0}")]
    Unavailable(String),
}

/// `Query<T>` whose rejection (a missing or malformed parameter) is the
/// API's JSON error rather than axum's plain text.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| ApiQuery(t))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// `Json<T>` whose rejection keeps its status (400, 413 body too large,
/// 415 not JSON, 422 wrong shape) but answers in the API's JSON shape.
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(t)| ApiJson(t))
            .map_err(|rej| ErrorBody::response(rej.status(), rej.body_text()))
    }
}

/// The body of every API error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong: the parameter or field, and why.
    pub error: String,
}

impl ErrorBody {
    /// `status` with `{"error": message}`.
    pub fn response(status: StatusCode, message: impl Into<String>) -> Response {
        (
            status,
            Json(ErrorBody {
                error: message.into(),
            }),
        )
            .into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status.is_server_error() {
            tracing::error!("API error: {self}");
        }
        ErrorBody::response(status, self.to_string())
    }
}

impl From<mediawatch_index::IndexError> for ApiError {
    fn from(e: mediawatch_index::IndexError) -> Self {
        match e {
            mediawatch_index::IndexError::Query { .. }
            | mediawatch_index::IndexError::InvalidRequest { .. } => {
                ApiError::BadRequest(e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<mediawatch_query::QueryError> for ApiError {
    fn from(e: mediawatch_query::QueryError) -> Self {
        match e {
            mediawatch_query::QueryError::Invalid(m) => ApiError::BadRequest(m),
            mediawatch_query::QueryError::Index(e) => e.into(),
            mediawatch_query::QueryError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The documents: the local index (`Arc::new(index)`), or the index
    /// nodes of a cluster behind one backend.
    pub backend: Arc<dyn QueryBackend>,
    /// Crawl state (health).
    pub state: Arc<dyn StateBackend>,
    /// The configured sources.
    pub sources: Arc<Vec<SourceMeta>>,
    /// Age after which a failing source is flagged unhealthy.
    pub unhealthy_after: chrono::Duration,
    /// Token, body and rate limits.
    pub web: security::WebOptions,
    /// Saved searches and alerts; `None` leaves their routes out (and the
    /// `/alerts` page says so).
    pub alerts: Option<mediawatch_alerts::AlertsRuntime>,
    /// The Prometheus text of the process's metrics, served at `/metrics`
    /// (404 when `None`).
    pub metrics: Option<MetricsText>,
    /// The last re-check age (`revisit.ages`): a comment seen then is
    /// "still online" in the moderation ledger.
    pub revisit_final_age: chrono::Duration,
}

/// Renders the process's metrics in the Prometheus text format.
pub type MetricsText = Arc<dyn Fn() -> String + Send + Sync>;

/// `GET /metrics`: the Prometheus exposition (OpenMetrics text).
async fn metrics(State(s): State<AppState>) -> Response {
    match &s.metrics {
        Some(render) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            render(),
        )
            .into_response(),
        None => ApiError::NotFound("this process serves no metrics".into()).into_response(),
    }
}

impl AppState {
    /// The query facade over this state's index and sources: every read
    /// of the index by a handler or a page goes through it.
    pub fn queries(&self) -> Queries {
        Queries::new(Arc::clone(&self.backend), Arc::clone(&self.sources))
    }
}

/// Paths served by the alerts routes (when [`AppState::alerts`] is set);
/// documented like the rest.
pub const ALERTS_PATHS: [&str; 4] = [
    "/api/saved-searches",
    "/api/saved-searches/{id}",
    "/api/saved-searches/{id}/evaluate",
    "/api/alerts",
];

/// The API routes, in one table so that a test can check them against the
/// OpenAPI document.
pub fn api_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/api/health", get(health)),
        ("/api/openapi.json", get(openapi)),
        ("/api/search", get(search)),
        ("/api/documents/{id}", get(document)),
        ("/api/report", get(report)),
        // Same as /api/report: trends are reports over time.
        ("/api/trends", get(trends)),
        ("/api/sources", get(sources)),
        ("/api/audience", get(audience)),
        ("/api/solutions", get(solutions)),
        ("/api/terms", get(terms)),
        (
            "/api/corrections",
            get(corrections::list).post(corrections::add),
        ),
        ("/api/export", get(export::export)),
        ("/api/ledger", get(ledger::ledger)),
        ("/api/ledger/evidence", get(ledger::evidence)),
        ("/api/documents/{id}/history", get(ledger::history)),
        ("/api/speakers", get(speakers::speakers)),
        ("/api/incidents", get(incidents::list)),
        ("/api/incidents/merge", post(incidents::merge)),
        ("/api/incidents/split", post(incidents::split)),
    ]
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json", body = Object)))]
pub(crate) async fn openapi() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        openapi::json(),
    )
        .into_response()
}

async fn fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::NotFound(format!(
            "no API endpoint {}; see /api/openapi.json",
            uri.path()
        ))
        .into_response()
    } else {
        pages::not_found_page()
    }
}

/// The whole server: API, dashboard pages and assets, wrapped (outermost
/// first) in the security headers, the per-IP rate limit, the token check
/// for state-changing methods and the body limit.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new().route("/metrics", get(metrics));
    for (path, route) in api_routes() {
        r = r.route(path, route);
    }
    let auth = security::AuthState {
        token: state.web.token.as_deref().map(Arc::from),
    };
    let limiter = security::limiter(&state.web);
    if let Some(rt) = state.alerts.clone() {
        r = r.merge(alerts::routes::<mediawatch_alerts::AlertsRuntime>().with_state(rt));
    }
    r.merge(pages::routes())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(state.web.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(
            auth,
            security::require_token,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            security::rate_limit,
        ))
        .layer(axum::middleware::from_fn(security::security_headers))
        .with_state(state)
}

/// Serves the API on `addr` until `shutdown` is cancelled.
pub async fn serve(
    addr: SocketAddr,
    state: AppState,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    serve_on(listener, state, shutdown).await
}

/// Serves the API on an already bound listener.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    if let Ok(a) = listener.local_addr() {
        tracing::info!("API and dashboard listening on http://{a}/");
        if let Some(w) = security::exposure_warning(a, &state.web) {
            tracing::warn!("{w}");
            eprintln!("mediawatch: {w}");
        }
    }
    // Connect info gives the rate limiter the client's address.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
    .map_err(ServerError::Serve)
}

/// Answer of `GET /api/health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// mediawatch version.
    pub version: String,
    /// Documents in the index.
    pub documents: u64,
    /// Configured sources.
    pub sources: usize,
}

/// Health check.
#[utoipa::path(get, path = "/api/health", tag = "meta",
    responses((status = 200, description = "Status, version, document and source counts", body = Health)))]
pub(crate) async fn health(State(s): State<AppState>) -> Result<Json<Health>, ApiError> {
    // A cluster's backend asks its index nodes over the network.
    let backend = Arc::clone(&s.backend);
    let docs = tokio::task::spawn_blocking(move || backend.num_docs())
        .await
        .map_err(|e| ApiError::Internal(format!("health task: {e}")))??;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        documents: docs,
        sources: s.sources.len(),
    }))
}

/// An end date that includes its whole day, as the exclusive bound the
/// state's and the grouping's periods take (the second after the day).
fn opt_until(name: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    Ok(opt_date(name, v, true)?.map(|t| t + chrono::Duration::seconds(1)))
}

fn opt_date(name: &str, v: &Option<String>, end: bool) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_date(name, s, end))
        .transpose()
        .map_err(ApiError::BadRequest)
}

/// Query of `GET /api/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Query: words, "phrases", OR, -word, title:, and filters such as
    /// country:RS hate>0.7 date>=2026-01-01.
    #[serde(default)]
    q: String,
    /// Start date (YYYY-MM-DD or RFC 3339, inclusive).
    from: Option<String>,
    /// End date (inclusive day).
    to: Option<String>,
    /// Source id.
    source: Option<String>,
    /// Country code.
    country: Option<String>,
    /// Language code.
    lang: Option<String>,
    /// Page size (default 20, at most 500).
    limit: Option<usize>,
    /// Hits to skip.
    offset: Option<usize>,
    /// Order: `relevance` (default) or `date`.
    sort: Option<String>,
    /// One hit per near-duplicate cluster (syndicated copies collapsed).
    #[serde(default)]
    collapse: bool,
}

/// Full-text search, with facets over every match.
#[utoipa::path(get, path = "/api/search", tag = "search", params(SearchParams),
    responses((status = 200, description = "Hits and facets", body = mediawatch_index::SearchResults),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub(crate) async fn search(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<mediawatch_index::SearchResults>, ApiError> {
    let sort_by_date = match p.sort.as_deref() {
        None | Some("relevance") => false,
        Some("date") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sort: {other:?} is not one of relevance, date"
            )))
        }
    };
    let req = SearchRequest {
        query: p.q,
        from: opt_date("from", &p.from, false)?,
        to: opt_date("to", &p.to, true)?,
        source: p.source.filter(|v| !v.is_empty()),
        country: p.country.filter(|v| !v.is_empty()),
        lang: p.lang.filter(|v| !v.is_empty()),
        kind: None,
        limit: p.limit.unwrap_or(20).min(MAX_LIMIT),
        offset: p.offset.unwrap_or(0),
        sort_by_date,
        collapse_clusters: p.collapse,
    };
    let q = s.queries();
    let r = tokio::task::spawn_blocking(move || q.search(&req))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(r))
}

/// One document with its full text and labels.
#[utoipa::path(get, path = "/api/documents/{id}", tag = "search",
    params(("id" = String, Path, description = "Document id")),
    responses((status = 200, description = "The document", body = mediawatch_core::Document),
        (status = 404, description = "No such document", body = ErrorBody)))]
pub(crate) async fn document(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<mediawatch_core::Document>, ApiError> {
    let id = DocId::from_stored(id);
    s.queries()
        .document(&id)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no document with id {id}")))
}

const REPORT_KEYS: [&str; 12] = [
    "from",
    "to",
    "interval",
    "by",
    "source",
    "country",
    "lang",
    "q",
    "dedup",
    "compare",
    "counts_only",
    "include_undated",
];

/// Trend report: documents and label counts and shares per time bucket
/// (and group, or compared query). With `compare=Q` (repeatable), one row
/// per bucket and query (`by` = `query`); a `q` given too is the first query
/// compared. `dedup=true` counts each near-duplicate cluster once. A
/// report of a query gives each row's `attention`: its documents as a share
/// of all coverage of the same outlets in that bucket (`counts_only=true`
/// leaves it out).
#[utoipa::path(get, path = "/api/report", tag = "trends", params(openapi::ReportParams),
    responses((status = 200, description = "The report", body = mediawatch_report::Report),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub(crate) async fn report(
    State(s): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<mediawatch_report::Report>, ApiError> {
    let p = params::Params::parse(raw.as_deref());
    let unknown = p.unknown(&REPORT_KEYS);
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "unknown parameter(s) {}; expected {}",
            unknown.join(", "),
            REPORT_KEYS.join(", ")
        )));
    }
    let interval: Interval = p
        .get("interval")
        .unwrap_or("month")
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("interval: {e}")))?;
    let by: GroupBy = match p.get("by") {
        None => GroupBy::None,
        Some(v) => v
            .parse()
            .map_err(|e| ApiError::BadRequest(format!("by: {e}")))?,
    };
    let compare: Vec<String> = p.all("compare").iter().map(|c| c.to_string()).collect();
    if !compare.is_empty() && by != GroupBy::None {
        return Err(ApiError::BadRequest(
            "compare puts each query in its own rows: it cannot be combined with by".into(),
        ));
    }
    let q = ReportQuery {
        filter: FactsFilter {
            from: opt_date("from", &p.get("from").map(str::to_string), false)?,
            to: opt_date("to", &p.get("to").map(str::to_string), true)?,
            source: p.get("source").map(str::to_string),
            country: p.get("country").map(str::to_string),
            lang: p.get("lang").map(str::to_string),
            query: p.get("q").map(str::to_string),
            include_undated: p.flag("include_undated"),
        },
        interval,
        by,
        dedup: p.flag("dedup"),
        compare,
        counts_only: p.flag("counts_only"),
    };
    let queries = s.queries();
    let r = tokio::task::spawn_blocking(move || queries.report(&q))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(r))
}

/// Alias of `/api/report` (trends are reports over time): the same
/// parameters and answer.
#[utoipa::path(get, path = "/api/trends", tag = "trends", params(openapi::ReportParams),
    responses((status = 200, description = "The report", body = mediawatch_report::Report),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub(crate) async fn trends(
    state: State<AppState>,
    raw: RawQuery,
) -> Result<Json<mediawatch_report::Report>, ApiError> {
    report(state, raw).await
}

/// Answer of `GET /api/sources`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourcesList {
    /// Every configured source, in config order.
    pub sources: Vec<SourceStatus>,
}

/// One source with its health.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceStatus {
    /// What analysts slice by.
    pub source: SourceMeta,
    /// `ok`, `failing`, `unhealthy` (failing longer than
    /// `scheduler.unhealthy_after`) or `never` (not polled yet).
    pub status: String,
    /// Poll history.
    pub health: mediawatch_state::SourceHealth,
}

/// Configured sources with their health (status, last success, failing
/// since, last error).
#[utoipa::path(get, path = "/api/sources", tag = "sources",
    responses((status = 200, description = "Every source with its health", body = SourcesList)))]
pub(crate) async fn sources(State(s): State<AppState>) -> Result<Json<SourcesList>, ApiError> {
    let now = Utc::now();
    let mut out = Vec::new();
    for m in s.sources.iter() {
        let h = s
            .state
            .health(&m.id, now)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        out.push(SourceStatus {
            source: m.clone(),
            status: h.status(now, s.unhealthy_after).to_string(),
            health: h,
        });
    }
    Ok(Json(SourcesList { sources: out }))
}

/// Query of `GET /api/audience`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AudienceParams {
    /// Start date.
    from: Option<String>,
    /// End date (inclusive day).
    to: Option<String>,
    /// Country code.
    country: Option<String>,
    /// Language code.
    lang: Option<String>,
    /// Query narrowing the documents.
    q: Option<String>,
    /// Outlets with fewer documents are flagged `low_sample` (default 5).
    min_documents: Option<u64>,
    /// Count hostility only where this speaker role voices it: `outlet`,
    /// `quoted`, `commenter` or `author`.
    speaker: Option<String>,
}

/// A speaker-role parameter: empty is none.
pub(crate) fn speaker_param(
    v: Option<&str>,
) -> Result<Option<mediawatch_core::SpeakerRole>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(s) => mediawatch_core::SpeakerRole::parse(s)
            .map(Some)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "speaker: {s:?} is not one of outlet, quoted, commenter, author"
                ))
            }),
    }
}

/// Audience map: outlets and audience segments ranked by hostile and
/// collective framing against recognition, for campaign planning.
#[utoipa::path(get, path = "/api/audience", tag = "trends", params(AudienceParams),
    responses((status = 200, description = "The audience map", body = mediawatch_report::audience::AudienceMap),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub(crate) async fn audience(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<AudienceParams>,
) -> Result<Json<mediawatch_report::audience::AudienceMap>, ApiError> {
    let filter = FactsFilter {
        from: opt_date("from", &p.from, false)?,
        to: opt_date("to", &p.to, true)?,
        source: None,
        country: p.country.filter(|v| !v.is_empty()),
        lang: p.lang.filter(|v| !v.is_empty()),
        query: p.q.filter(|q| !q.is_empty()),
        // Shares of an outlet's coverage, not a time series: every
        // document counts.
        include_undated: true,
    };
    let min = p
        .min_documents
        .unwrap_or(mediawatch_report::audience::DEFAULT_MIN_DOCUMENTS);
    let speaker = speaker_param(p.speaker.as_deref())?;
    let q = s.queries();
    let m = tokio::task::spawn_blocking(move || q.audience_by(&filter, min, speaker))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(m))
}

/// Query of `GET /api/solutions`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SolutionsParams {
    /// Start date.
    from: Option<String>,
    /// End date (inclusive day).
    to: Option<String>,
    /// Country code.
    country: Option<String>,
    /// Language code.
    lang: Option<String>,
    /// Topic words.
    q: Option<String>,
    /// Lowest solutions score (0..1, default 0.5).
    min_score: Option<f32>,
    /// Stories returned (default 20, at most 500).
    limit: Option<usize>,
}

/// Solutions-journalism stories about migration (responses to a problem
/// with evidence of results), best first.
#[utoipa::path(get, path = "/api/solutions", tag = "search", params(SolutionsParams),
    responses((status = 200, description = "Stories, best first", body = mediawatch_index::SearchResults),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub(crate) async fn solutions(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<SolutionsParams>,
) -> Result<Json<mediawatch_index::SearchResults>, ApiError> {
    if p.min_score.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
        return Err(ApiError::BadRequest("min_score: must lie in 0..1".into()));
    }
    let q = SolutionsQuery {
        country: p.country.filter(|v| !v.is_empty()),
        lang: p.lang.filter(|v| !v.is_empty()),
        from: opt_date("from", &p.from, false)?,
        to: opt_date("to", &p.to, true)?,
        text: p.q,
        min_score: p.min_score.unwrap_or(0.5),
        limit: p.limit.unwrap_or(20).min(MAX_LIMIT),
    };
    let queries = s.queries();
    let r = tokio::task::spawn_blocking(move || queries.solutions(&q))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(r))
}

/// Query of `GET /api/terms`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TermsParams {
    /// Period start.
    from: String,
    /// Period end (inclusive day).
    to: String,
    /// Background start (default: the same length before `from`).
    background_from: Option<String>,
    /// Background end (default: the day before `from`).
    background_to: Option<String>,
    /// Query narrowing the documents.
    q: Option<String>,
    /// Country code.
    country: Option<String>,
    /// Language code.
    lang: Option<String>,
    /// Terms returned (default 30, at most 500).
    limit: Option<usize>,
    /// Least occurrences in the period (default 3).
    min_count: Option<u64>,
    /// Read documents that stated no date too (left out by default).
    include_undated: Option<bool>,
}

/// Emerging narratives: terms rising in a period against a background
/// period (Dunning log-likelihood G²).
#[utoipa::path(get, path = "/api/terms", tag = "trends", params(TermsParams),
    responses((status = 200, description = "Rising terms", body = mediawatch_index::TermsResult),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub(crate) async fn terms(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<TermsParams>,
) -> Result<Json<mediawatch_index::TermsResult>, ApiError> {
    let base = terms_request(
        &p.from,
        &p.to,
        p.background_from.as_deref(),
        p.background_to.as_deref(),
    )
    .map_err(ApiError::BadRequest)?;
    let req = mediawatch_index::TermsRequest {
        query: p.q.filter(|q| !q.is_empty()),
        country: p.country.filter(|c| !c.is_empty()),
        lang: p.lang.filter(|l| !l.is_empty()),
        limit: p.limit.unwrap_or(30).min(MAX_LIMIT),
        min_count: p.min_count.unwrap_or(3),
        include_undated: p.include_undated.unwrap_or(false),
        ..base
    };
    let q = s.queries();
    let r = tokio::task::spawn_blocking(move || q.terms(&req, &[]))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let (_, r) = r
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal("no terms result".into()))?;
    Ok(Json(r))
}

#[cfg(test)]
mod openapi_tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every API route is documented, and the document describes no route
    /// the server lacks.
    #[test]
    fn openapi_covers_every_route() {
        let doc: serde_json::Value =
            serde_json::from_str(&openapi::json()).expect("the OpenAPI document parses");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
        let documented: BTreeSet<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect();
        let served: BTreeSet<String> = api_routes()
            .into_iter()
            .map(|(p, _)| p.to_string())
            .chain(ALERTS_PATHS.iter().map(|p| p.to_string()))
            .collect();
        assert_eq!(
            documented.difference(&served).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "documented but not served"
        );
        assert_eq!(
            served.difference(&documented).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "served but not documented"
        );
        // State-changing operations declare the bearer token.
        let post = &doc["paths"]["/api/corrections"]["post"];
        assert!(
            post["security"].is_array(),
            "POST /api/corrections must declare security"
        );
    }
}
