//! `POST /api/corrections` and `GET /api/corrections`: analysts mark a
//! label right or wrong. The client sends only its judgement; the server
//! fills in what the model saw (text, language, model version, score) from
//! the indexed document, so a correction always refers to real model output.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use mediawatch_core::DocId;
use mediawatch_state::{CorrectionFilter, CorrectionVerdict, NewCorrection};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, ApiJson, ApiQuery, AppState, ErrorBody};

/// Body of `POST /api/corrections`: [`NewCorrection`] without the snapshot
/// fields the server fills in.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    /// Document id.
    pub doc_id: String,
    /// Label name.
    #[schema(example = "collective_labelling")]
    pub label: String,
    /// `correct` or `wrong`.
    pub verdict: CorrectionVerdict,
    /// The right value, when known: `true`/`false` for flags,
    /// `hate`/`offensive`/`none` for `hate_class`, a group for `hate_target`.
    #[serde(default)]
    pub value: Option<String>,
    /// Who made it.
    #[serde(default)]
    pub analyst: Option<String>,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The model's score for a correctable label, when it has one.
fn model_score(l: &mediawatch_core::Labels, label: &str) -> Option<f32> {
    match label {
        "offensive" | "hate_class" => Some(l.hate.score),
        "hate_target" => None,
        other => l.score(other),
    }
}

/// Answer of `POST /api/corrections`: what was stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionCreated {
    /// Row id.
    pub id: i64,
    /// Document id.
    pub doc_id: String,
    /// Label name.
    pub label: String,
    /// Right or wrong.
    pub verdict: CorrectionVerdict,
    /// The right value, when given.
    pub value: Option<String>,
    /// The model version whose output was judged.
    pub model_version: String,
    /// The model's score for the label, when it has one.
    pub model_score: Option<f32>,
}

/// Mark a label of a document right or wrong; the server adds the text,
/// language, model version and score from the index (behind the token
/// middleware).
#[utoipa::path(post, path = "/api/corrections", tag = "corrections",
    request_body = CorrectionBody, security(("bearer" = [])),
    responses((status = 201, description = "Stored", body = CorrectionCreated),
        (status = 400, description = "A field is wrong (the message names it), or the document is not classified yet", body = ErrorBody),
        crate::openapi::WriteRefused,
        (status = 404, description = "No such document", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body does not have the correction shape", body = ErrorBody),
        (status = 429, description = "Rate limited (see Retry-After)", body = ErrorBody)))]
pub async fn add(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<CorrectionBody>,
) -> Result<Response, ApiError> {
    let st = s.clone();
    let id = DocId::from_stored(b.doc_id.clone());
    let doc = tokio::task::spawn_blocking(move || st.queries().document(&id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??
        .ok_or_else(|| ApiError::NotFound(format!("doc_id: no document with id {:?}", b.doc_id)))?;
    let labels = doc.labels.as_ref().ok_or_else(|| {
        ApiError::BadRequest(format!(
            "doc_id: document {} has not been classified yet; there is no label to correct",
            b.doc_id
        ))
    })?;
    let c = NewCorrection {
        doc_id: b.doc_id.clone(),
        model_score: model_score(labels, &b.label),
        label: b.label,
        verdict: b.verdict,
        value: non_empty(b.value),
        model_version: labels.model_version.clone(),
        text: doc.text.clone(),
        lang: doc.lang.clone(),
        analyst: non_empty(b.analyst),
        note: non_empty(b.note),
    };
    c.validate().map_err(ApiError::BadRequest)?;
    let id = s
        .state
        .add_correction(&c, Utc::now())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(CorrectionCreated {
            id,
            doc_id: c.doc_id,
            label: c.label,
            verdict: c.verdict,
            value: c.value,
            model_version: c.model_version,
            model_score: c.model_score,
        }),
    )
        .into_response())
}

/// Query of `GET /api/corrections`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this document.
    doc_id: Option<String>,
    /// Only this label.
    label: Option<String>,
    /// Only corrections with a larger id (for paging).
    after_id: Option<i64>,
    /// Most returned (default 100, at most 500).
    limit: Option<usize>,
}

/// Answer of `GET /api/corrections`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionList {
    /// Oldest first.
    pub corrections: Vec<mediawatch_state::Correction>,
}

/// Analysts' label corrections, oldest first.
#[utoipa::path(get, path = "/api/corrections", tag = "corrections", params(ListParams),
    responses((status = 200, description = "Corrections, oldest first", body = CorrectionList),
        (status = 400, description = "The message says which parameter is wrong and why", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<CorrectionList>, ApiError> {
    let filter = CorrectionFilter {
        doc_id: non_empty(p.doc_id),
        label: non_empty(p.label),
        after_id: p.after_id,
        limit: Some(p.limit.unwrap_or(100).min(crate::MAX_LIMIT)),
    };
    let list = s
        .state
        .corrections(&filter)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(CorrectionList { corrections: list }))
}
