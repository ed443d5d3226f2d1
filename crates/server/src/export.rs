//! `GET /api/export`: a search (same parameters as the dashboard's search
//! page) as CSV or JSONL with full text and all labels, one row per
//! document, or as the self-contained HTML report of the query.
//!
//! CSV and JSONL are streamed: a blocking thread pages through the search,
//! loads each stored document and sends encoded chunks over a bounded
//! channel, so memory stays flat however large the export. Exports stop at
//! [`MAX_EXPORT`] documents (or the `limit` asked for); when that cuts the
//! result, the response headers say so up front (`X-Mediawatch-Truncated:
//! true`, with the total) and the body ends with a trailer (a last CSV row
//! whose id is `#truncated`, or a JSONL object with `"truncated": true`).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mediawatch_core::{DocId, Document};
use serde_json::json;

use crate::params::Params;
use crate::{ApiError, AppState};

/// Most documents one export returns.
pub const MAX_EXPORT: usize = 10_000;
/// Documents fetched per search page while exporting.
const PAGE: usize = 500;
/// Encoded chunks in flight between the export thread and the response.
const CHANNEL: usize = 8;

/// Columns of the CSV export.
pub const CSV_COLUMNS: [&str; 24] = [
    "id",
    "url",
    "title",
    "source",
    "source_name",
    "country",
    "lang",
    "kind",
    "published",
    "fetched",
    "author",
    "model_version",
    "relevance",
    "hate_score",
    "hate_class",
    "hate_target",
    "collective_labelling",
    "threat",
    "victim",
    "recognition",
    "solutions",
    "labels_present",
    "labels_json",
    "text",
];

pub(crate) const KNOWN: [&str; 11] = [
    "q", "country", "source", "lang", "sort", "collapse", "from", "to", "format", "limit", "offset",
];

/// Spreadsheet programs run cells that start with these as formulas; a
/// scraped title like `=HYPERLINK(...)` must stay text (OWASP "CSV
/// injection"), so such cells get a leading apostrophe.
fn defuse(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn csv_record(d: &Document, name: &str, country: &str) -> Vec<String> {
    let f = |x: f32| format!("{x:.4}");
    let l = d.labels.as_ref();
    let present: Vec<&str> = l
        .map(|l| {
            l.flags()
                .iter()
                .filter(|f| f.present)
                .map(|f| f.name)
                .collect()
        })
        .unwrap_or_default();
    vec![
        d.id.to_string(),
        d.url.clone(),
        defuse(&d.title),
        d.source_id.clone(),
        defuse(name),
        country.to_string(),
        d.lang.clone().unwrap_or_default(),
        d.kind.as_str().to_string(),
        d.published.map(|t| t.to_rfc3339()).unwrap_or_default(),
        d.fetched.to_rfc3339(),
        defuse(d.author.as_deref().unwrap_or("")),
        l.map(|l| l.model_version.clone()).unwrap_or_default(),
        l.map(|l| f(l.relevance.score)).unwrap_or_default(),
        l.map(|l| f(l.hate.score)).unwrap_or_default(),
        l.map(|l| l.hate.class.as_str().to_string())
            .unwrap_or_default(),
        l.and_then(|l| l.hate.target.clone()).unwrap_or_default(),
        l.map(|l| f(l.collective_labelling.score))
            .unwrap_or_default(),
        l.map(|l| f(l.frame.threat)).unwrap_or_default(),
        l.map(|l| f(l.frame.victim)).unwrap_or_default(),
        l.map(|l| f(l.frame.recognition)).unwrap_or_default(),
        l.map(|l| f(l.solutions.score)).unwrap_or_default(),
        present.join(";"),
        l.and_then(|l| serde_json::to_string(l).ok())
            .unwrap_or_default(),
        defuse(&d.text),
    ]
}

fn jsonl_record(d: &Document, name: &str, country: &str) -> Vec<u8> {
    let mut v = serde_json::to_value(d).unwrap_or_else(|_| json!({ "id": d.id }));
    if let Some(o) = v.as_object_mut() {
        o.insert("source_name".into(), json!(name));
        o.insert("country".into(), json!(country));
    }
    let mut line = serde_json::to_vec(&v).unwrap_or_default();
    line.push(b'\n');
    line
}

fn csv_bytes(record: &[String]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing into a Vec cannot fail for I/O reasons; a failure would
    // only drop this one row.
    let _ = w.write_record(record);
    w.into_inner().unwrap_or_default()
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Jsonl,
}

/// Export a search: CSV or JSONL with full text and all labels (one row
/// per document, streamed, at most 10000 documents), or the self-contained
/// HTML report of the query. When the cap cuts the result,
/// `X-Mediawatch-Truncated` is `true` and the body ends with a trailer (a
/// CSV row with id `#truncated`; a JSONL object with `truncated: true`).
#[utoipa::path(get, path = "/api/export", tag = "export", params(crate::openapi::ExportParams),
    responses((status = 200, description = "The export", content(
            (String = "text/csv"), (String = "application/x-ndjson"), (String = "text/html"))),
        (status = 400, description = "The message says which parameter is wrong and why", body = crate::ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(raw.as_deref());
    let unknown = p.unknown(&KNOWN);
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "unknown parameter(s) {}; expected {}",
            unknown.join(", "),
            KNOWN.join(", ")
        )));
    }
    let format = match p.get("format").unwrap_or("csv") {
        "csv" => Format::Csv,
        "jsonl" => Format::Jsonl,
        "html" => return html_report(s, p).await,
        other => {
            return Err(ApiError::BadRequest(format!(
                "format: {other:?} is not one of csv, jsonl, html"
            )))
        }
    };
    let cap = p
        .usize("limit")
        .map_err(ApiError::BadRequest)?
        .unwrap_or(MAX_EXPORT)
        .clamp(1, MAX_EXPORT);
    let first_req = crate::pages::search_request(&p, PAGE.min(cap), 0)?;
    let queries = s.queries();
    let req0 = first_req.clone();
    let first = tokio::task::spawn_blocking(move || queries.search(&req0))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let total = first.total;
    let exported = total.min(cap);
    let truncated = total > cap;

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(CHANNEL);
    let st = s.clone();
    tokio::task::spawn_blocking(move || {
        let names: std::collections::HashMap<&str, (&str, &str)> = st
            .sources
            .iter()
            .map(|m| (m.id.as_str(), (m.name.as_str(), m.country.as_str())))
            .collect();
        if format == Format::Csv
            && tx
                .blocking_send(Ok(csv_bytes(&CSV_COLUMNS.map(String::from))))
                .is_err()
        {
            return;
        }
        let mut sent = 0usize;
        let mut page = Some(first);
        let mut offset = 0usize;
        while sent < cap {
            let res = match page.take() {
                Some(r) => r,
                None => {
                    let mut req = first_req.clone();
                    req.offset = offset;
                    req.limit = PAGE.min(cap - sent);
                    match st.queries().search(&req) {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                            return;
                        }
                    }
                }
            };
            if res.hits.is_empty() {
                break;
            }
            offset += res.hits.len();
            let mut chunk = Vec::new();
            for hit in res.hits.iter().take(cap - sent) {
                let doc = match st.queries().document(&DocId::from_stored(hit.id.clone())) {
                    Ok(Some(d)) => d,
                    // Deleted between the search and now: skip it.
                    Ok(None) => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                        return;
                    }
                };
                let (name, country) = names
                    .get(doc.source_id.as_str())
                    .copied()
                    .unwrap_or((doc.source_id.as_str(), ""));
                let (name, country) = (name.to_string(), country.to_string());
                match format {
                    Format::Csv => chunk.extend(csv_bytes(&csv_record(&doc, &name, &country))),
                    Format::Jsonl => chunk.extend(jsonl_record(&doc, &name, &country)),
                }
                sent += 1;
            }
            // The receiver is gone when the client disconnected: stop.
            if tx.blocking_send(Ok(chunk)).is_err() {
                return;
            }
        }
        if truncated {
            let message = format!(
                "export truncated: {sent} of {total} documents; narrow the query or the dates, \
                 or page with offset/limit"
            );
            let trailer = match format {
                Format::Csv => {
                    let mut row = vec![String::new(); CSV_COLUMNS.len()];
                    row[0] = "#truncated".into();
                    row[2] = message;
                    csv_bytes(&row)
                }
                Format::Jsonl => {
                    let mut v = serde_json::to_vec(&json!({
                        "truncated": true,
                        "exported": sent,
                        "total": total,
                        "message": message,
                    }))
                    .unwrap_or_default();
                    v.push(b'\n');
                    v
                }
            };
            let _ = tx.blocking_send(Ok(trailer));
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let (ctype, file) = match format {
        Format::Csv => (
            "text/csv; charset=utf-8",
            "attachment; filename=\"mediawatch-export.csv\"",
        ),
        Format::Jsonl => (
            "application/x-ndjson; charset=utf-8",
            "attachment; filename=\"mediawatch-export.jsonl\"",
        ),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static(file));
    for (name, value) in [
        ("x-mediawatch-total", total.to_string()),
        ("x-mediawatch-exported", exported.to_string()),
        ("x-mediawatch-truncated", truncated.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    Ok(resp)
}

/// The report of the query, as the report crate's self-contained HTML page
/// (inline SVG and styles, no scripts), with the audience map.
async fn html_report(s: AppState, p: Params) -> Result<Response, ApiError> {
    let req = crate::pages::search_request(&p, 1, 0)?;
    let filter = mediawatch_index::FactsFilter {
        from: req.from,
        to: req.to,
        source: req.source.clone(),
        country: req.country.clone(),
        lang: req.lang.clone(),
        query: Some(req.query.clone()).filter(|q| !q.trim().is_empty()),
        include_undated: false,
    };
    let title = match &filter.query {
        Some(q) => format!("mediawatch report: {q}"),
        None => "mediawatch report".to_string(),
    };
    let st = s.clone();
    let html = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let queries = st.queries();
        let report = queries.report(&mediawatch_query::ReportQuery {
            filter: filter.clone(),
            ..Default::default()
        })?;
        let map = queries.audience(&filter, mediawatch_report::audience::DEFAULT_MIN_DOCUMENTS)?;
        Ok(mediawatch_report::html::render_html(
            &report,
            &title,
            Some(&map),
        ))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let mut resp = (StatusCode::OK, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"mediawatch-report.html\""),
    );
    // The report carries its own inline styles and no script at all.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("Migrants"), "Migrants");
    }
}
