//! The moderation ledger and article histories over HTTP:
//! `GET /api/ledger` (figures per outlet, before/after a date),
//! `GET /api/ledger/evidence` (the evidence pack: CSV, HTML or JSON) and
//! `GET /api/documents/{id}/history` (versions, diffs, checks, deletion).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use mediawatch_core::ledger::{ArticleHistory, CommentSighting};
use mediawatch_report::ledger::{
    evidence_csv, evidence_html, history_csv, history_html, ledger_report, version_diffs,
    LedgerReport, VersionDiff,
};
use mediawatch_state::{load_sightings, SightingFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{opt_date, opt_until, ApiError, ApiQuery, AppState, ErrorBody};

/// Most comments one ledger request reads; past it the answer says how
/// many were left out (never a silent cut).
pub const MAX_LEDGER_COMMENTS: usize = 200_000;

/// Which comments: `GET /api/ledger`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerParams {
    /// One outlet (source id); all when absent.
    pub source: Option<String>,
    /// First seen on or after this date (YYYY-MM-DD or RFC 3339).
    pub from: Option<String>,
    /// First seen on or before this date (inclusive).
    pub to: Option<String>,
    /// Compare comments first seen before and after this date (an
    /// intervention, such as a letter to the newsroom).
    pub around: Option<String>,
}

/// Which comments and how: `GET /api/ledger/evidence`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvidenceParams {
    /// One outlet (source id); all when absent.
    pub source: Option<String>,
    /// First seen on or after this date.
    pub from: Option<String>,
    /// First seen on or before this date (inclusive).
    pub to: Option<String>,
    /// `hostile` (hateful, offensive or collective; the default) or `all`.
    pub comments: Option<String>,
    /// `csv` (default), `html` (one self-contained page) or `json`.
    pub format: Option<String>,
}

/// The ledger's answer, with what a cap left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerAnswer {
    /// The figures.
    #[serde(flatten)]
    pub report: LedgerReport,
    /// Comments read (at most [`MAX_LEDGER_COMMENTS`]).
    pub comments_read: u64,
    /// True when more comments matched than were read: narrow the period
    /// or the outlet.
    pub truncated: bool,
}

/// Comments of re-checked articles matching the filter, in id order, up to
/// [`MAX_LEDGER_COMMENTS`]; `true` when more matched.
pub(crate) fn load(
    s: &AppState,
    source: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(Vec<CommentSighting>, bool), ApiError> {
    let f = SightingFilter {
        source,
        from,
        to,
        tracked_only: true,
        ..Default::default()
    };
    load_sightings(s.state.as_ref(), &f, MAX_LEDGER_COMMENTS)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// A period's bounds: from (inclusive), to (exclusive).
pub(crate) type Period = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The period of a request: `to` is inclusive of its day.
pub(crate) fn period(from: &Option<String>, to: &Option<String>) -> Result<Period, ApiError> {
    let from = opt_date("from", from, false)?;
    let to = opt_until("to", to)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(ApiError::BadRequest("from: must be before to".to_string()));
        }
    }
    Ok((from, to))
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The ledger's figures for `p`, off the async threads.
pub(crate) async fn figures(s: &AppState, p: &LedgerParams) -> Result<LedgerAnswer, ApiError> {
    let (from, to) = period(&p.from, &p.to)?;
    let around = opt_date("around", &p.around, false)?;
    let source = non_empty(&p.source);
    let st = s.clone();
    let final_age = s.revisit_final_age;
    tokio::task::spawn_blocking(move || {
        let (comments, truncated) = load(&st, source, from, to)?;
        Ok(LedgerAnswer {
            comments_read: comments.len() as u64,
            report: ledger_report(&comments, from, to, final_age, around),
            truncated,
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Moderation figures per outlet: comments seen under re-checked articles,
/// how many were removed and how fast, how many hateful, offensive or
/// collectively labelling ones were still online at the last re-check;
/// optionally before and after a date.
#[utoipa::path(get, path = "/api/ledger", tag = "ledger", params(LedgerParams),
    responses((status = 200, description = "The figures", body = LedgerAnswer),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub async fn ledger(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<LedgerParams>,
) -> Result<Json<LedgerAnswer>, ApiError> {
    Ok(Json(figures(&s, &p).await?))
}

fn file(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The evidence pack of an outlet and period: each comment's text, label,
/// evidence span, first and last sighting, removal, URL and content hash,
/// as CSV, one self-contained HTML page, or JSON. A pack cut at
/// [`MAX_LEDGER_COMMENTS`] says so (header `X-Mediawatch-Truncated`, a
/// last CSV line, a note on the page).
#[utoipa::path(get, path = "/api/ledger/evidence", tag = "ledger", params(EvidenceParams),
    responses((status = 200, description = "The evidence pack", content(
            (String = "text/csv"), (String = "text/html"), (Vec<CommentSighting> = "application/json"))),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub async fn evidence(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<EvidenceParams>,
) -> Result<Response, ApiError> {
    let format = p.format.as_deref().unwrap_or("csv");
    if !matches!(format, "csv" | "html" | "json") {
        return Err(ApiError::BadRequest(format!(
            "format: {format:?} is not one of csv, html, json"
        )));
    }
    let hostile_only = match p.comments.as_deref().unwrap_or("hostile") {
        "hostile" => true,
        "all" => false,
        other => {
            return Err(ApiError::BadRequest(format!(
                "comments: {other:?} is not one of hostile, all"
            )))
        }
    };
    let (from, to) = period(&p.from, &p.to)?;
    let st = s.clone();
    let source = non_empty(&p.source);
    let final_age = s.revisit_final_age;
    let (report, mut comments, truncated) = tokio::task::spawn_blocking(move || {
        let (comments, truncated) = load(&st, source, from, to)?;
        let report = ledger_report(&comments, from, to, final_age, None);
        Ok::<_, ApiError>((report, comments, truncated))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    if hostile_only {
        comments.retain(CommentSighting::hostile);
    }
    comments.sort_by(|a, b| {
        a.source_id
            .cmp(&b.source_id)
            .then(a.first_seen.cmp(&b.first_seen))
    });
    let name = format!(
        "evidence-{}-{}",
        non_empty(&p.source).unwrap_or_else(|| "all".into()),
        Utc::now().format("%Y%m%d")
    );
    let mut resp = match format {
        "json" => Json(&comments).into_response(),
        "html" => {
            let title = format!(
                "Evidence pack: {}",
                non_empty(&p.source).unwrap_or_else(|| "all outlets".into())
            );
            let mut page = evidence_html(&title, &report, &comments);
            if truncated {
                page = page.replace(
                    "</body>",
                    &format!(
                        "<p><b>Truncated</b>: only the first {MAX_LEDGER_COMMENTS} comments were read; narrow the period or the outlet.</p></body>"
                    ),
                );
            }
            file(
                page.into_bytes(),
                "text/html; charset=utf-8",
                &format!("{name}.html"),
            )
        }
        _ => {
            let mut out = Vec::new();
            evidence_csv(&comments, &mut out).map_err(|e| ApiError::Internal(e.to_string()))?;
            if truncated {
                out.extend_from_slice(
                    format!(
                        "#truncated: only the first {MAX_LEDGER_COMMENTS} comments were read\n"
                    )
                    .as_bytes(),
                );
            }
            file(out, "text/csv; charset=utf-8", &format!("{name}.csv"))
        }
    };
    resp.headers_mut().insert(
        "x-mediawatch-truncated",
        HeaderValue::from_static(if truncated { "true" } else { "false" }),
    );
    Ok(resp)
}

/// Query of `GET /api/documents/{id}/history`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// `json` (default), `html` (a self-contained page for a press-council
    /// complaint) or `csv` (one row per fetch).
    pub format: Option<String>,
}

/// An article's history with the changes between versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryAnswer {
    /// Versions, checks, deletion.
    #[serde(flatten)]
    pub history: ArticleHistory,
    /// Word diffs between consecutive versions.
    pub diffs: Vec<VersionDiff>,
}

/// The article's tracked history: every fetch with its time, HTTP status
/// and content hash; every version of headline and text with the diff
/// from the one before; when and how it was deleted.
#[utoipa::path(get, path = "/api/documents/{id}/history", tag = "ledger",
    params(("id" = String, Path, description = "Document id"), HistoryParams),
    responses((status = 200, description = "The history", content(
            (HistoryAnswer = "application/json"), (String = "text/html"), (String = "text/csv"))),
        (status = 400, description = "Unknown format", body = ErrorBody),
        (status = 404, description = "The document is not tracked (not in scope, or stored before re-checks were on)", body = ErrorBody)))]
pub async fn history(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Response, ApiError> {
    let format = p.format.as_deref().unwrap_or("json");
    if !matches!(format, "csv" | "html" | "json") {
        return Err(ApiError::BadRequest(format!(
            "format: {format:?} is not one of json, html, csv"
        )));
    }
    let h = load_history(&s, &id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "document {id:?} has no history: it is not tracked (out of scope, or stored before re-checks were on)"
        ))
    })?;
    let name = format!("history-{}", &id[..id.len().min(16)]);
    Ok(match format {
        "html" => file(
            history_html(&h).into_bytes(),
            "text/html; charset=utf-8",
            &format!("{name}.html"),
        ),
        "csv" => {
            let mut out = Vec::new();
            history_csv(&h, &mut out).map_err(|e| ApiError::Internal(e.to_string()))?;
            file(out, "text/csv; charset=utf-8", &format!("{name}.csv"))
        }
        _ => Json(HistoryAnswer {
            diffs: version_diffs(&h),
            history: h,
        })
        .into_response(),
    })
}

/// A document's history from the state, off the async threads.
pub(crate) async fn load_history(
    s: &AppState,
    id: &str,
) -> Result<Option<ArticleHistory>, ApiError> {
    let st = s.state.clone();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || st.article_history(&id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))
}
