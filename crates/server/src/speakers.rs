//! `GET /api/speakers`: hostility split by speaker role per outlet (the
//! outlet's own voice, quoted people and institutions, commenters, post
//! authors), with the quoted speakers and the targeted groups.

use axum::extract::State;
use axum::Json;
use mediawatch_query::{SpeakerQuery, SpeakerReport};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{opt_date, opt_until, ApiError, ApiQuery, AppState, ErrorBody};

/// Query of `GET /api/speakers`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SpeakerParams {
    /// Words and filters (`country:RS kind:comment`); migration coverage
    /// when empty.
    pub q: Option<String>,
    /// Period start (YYYY-MM-DD or RFC 3339).
    pub from: Option<String>,
    /// Period end (inclusive day).
    pub to: Option<String>,
}

/// The report of `p`, off the async threads.
pub(crate) async fn report_of(s: &AppState, p: &SpeakerParams) -> Result<SpeakerReport, ApiError> {
    let q = SpeakerQuery {
        query: p.q.clone().unwrap_or_default(),
        from: opt_date("from", &p.from, false)?,
        to: opt_until("to", &p.to)?,
    };
    let queries = s.queries();
    Ok(tokio::task::spawn_blocking(move || queries.speakers(&q))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??)
}

/// Per outlet: documents with hostile or collectively labelling spans in
/// each speaker role's voice (and their share of the outlet's documents),
/// the quoted speakers named most often, the groups targeted.
#[utoipa::path(get, path = "/api/speakers", tag = "trends", params(SpeakerParams),
    responses((status = 200, description = "Hostility by speaker role", body = SpeakerReport),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub async fn speakers(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<SpeakerParams>,
) -> Result<Json<SpeakerReport>, ApiError> {
    Ok(Json(report_of(&s, &p).await?))
}
