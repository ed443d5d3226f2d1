//! `POST /api/corrections` and `GET /api/corrections`: analysts mark a
//! label right or wrong. The client sends only its judgement; the server
//! fills in what the model saw (text, language, model version, score) from
//! the indexed document, so a correction always refers to real model output.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use mediawatch_core::DocId;
use mediawatch_state::{CorrectionFilter, CorrectionVerdict, NewCorrection};
use serde::Deserialize;
use serde_json::json;

use crate::{ApiError, AppState};

/// Body of `POST /api/corrections`: [`NewCorrection`] without the snapshot
/// fields the server fills in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    /// Document id.
    pub doc_id: String,
    /// Label name (`relevant`, `hate`, ..., `hate_class`, `hate_target`).
    pub label: String,
    /// `correct` or `wrong`.
    pub verdict: CorrectionVerdict,
    /// The right value, when known.
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

/// `POST /api/corrections` (behind the token middleware).
pub async fn add(
    State(s): State<AppState>,
    body: Result<Json<CorrectionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = match body {
        Ok(b) => b,
        Err(rej) => {
            // Keep the rejection's status (400, 413 body too large, 415
            // wrong content type) but answer in the API's JSON shape.
            let status = rej.status();
            return Ok((status, Json(json!({ "error": rej.body_text() }))).into_response());
        }
    };
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
        Json(json!({
            "id": id,
            "doc_id": c.doc_id,
            "label": c.label,
            "verdict": c.verdict,
            "value": c.value,
            "model_version": c.model_version,
            "model_score": c.model_score,
        })),
    )
        .into_response())
}

/// Query of `GET /api/corrections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    doc_id: Option<String>,
    label: Option<String>,
    after_id: Option<i64>,
    limit: Option<usize>,
}

/// `GET /api/corrections?doc_id=&label=&after_id=&limit=`, oldest first.
pub async fn list(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    Ok(Json(json!({ "corrections": list })))
}
