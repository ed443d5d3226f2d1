//! The dashboard: server-rendered pages over the same data as the API.
//!
//! Every page is built with [`Html`], so scraped strings are escaped by
//! construction, and every visible string comes from the message table
//! ([`t`]). The ids and classes named in the page contract (README, "Web
//! dashboard") are what the browser tests and `assets/dashboard.js` rely
//! on; keep them stable.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use mediawatch_core::{DocId, Document, Labels, SourceMeta, LABEL_NAMES};
use mediawatch_index::{FactsFilter, SearchRequest};

use crate::html::{enc, query_string, Html};
use crate::messages::t;
use crate::params::Params;
use crate::{opt_date, ApiError, AppState};

mod alerts;
mod audience;
mod document;
mod incidents;
mod ledger;
mod search;
mod solutions;
mod sources;
mod speakers;
mod terms;
mod trends;

use alerts::alerts_page;
use audience::audience_page;
use document::document_page;
use incidents::incidents_page;
use ledger::ledger_page;
use search::search_page;
pub(crate) use search::search_request;
use solutions::solutions_page;
use sources::sources_page;
use speakers::speakers_page;
use terms::terms_page;
use trends::trends_page;

/// Header cells of a table (message keys), closing its head and opening
/// its body: `<th>..</th>... </tr></thead><tbody>`.
fn head_row(h: &mut Html, keys: &[&'static str]) {
    for key in keys {
        h.raw("<th>").text(t(key)).raw("</th>");
    }
    h.raw("</tr></thead><tbody>");
}

/// Hits per search page.
pub const PAGE_SIZE: usize = 20;

/// Labels shown as badges, in this order.
pub const BADGE_LABELS: [&str; 7] = [
    "hate",
    "offensive",
    "collective_labelling",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

const CSS_URL: &str = concat!("/assets/dashboard.css?v=", env!("CARGO_PKG_VERSION"));
const JS_URL: &str = concat!("/assets/dashboard.js?v=", env!("CARGO_PKG_VERSION"));

/// The page routes and the assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/search") }))
        .route("/search", get(search_page))
        .route("/documents/{id}", get(document_page))
        .route("/trends", get(trends_page))
        .route("/terms", get(terms_page))
        .route("/audience", get(audience_page))
        .route("/solutions", get(solutions_page))
        .route("/sources", get(sources_page))
        .route("/alerts", get(alerts_page))
        .route("/ledger", get(ledger_page))
        .route("/incidents", get(incidents_page))
        .route("/speakers", get(speakers_page))
        .route("/assets/dashboard.css", get(css))
        .route("/assets/dashboard.js", get(js))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            // The URLs carry the version, so a new binary gets new URLs.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset(
        include_str!("../../assets/dashboard.css"),
        "text/css; charset=utf-8",
    )
}

async fn js() -> Response {
    asset(
        include_str!("../../assets/dashboard.js"),
        "text/javascript; charset=utf-8",
    )
}

const NAV: [(&str, &str); 10] = [
    ("/search", "nav.search"),
    ("/trends", "nav.trends"),
    ("/terms", "nav.terms"),
    ("/audience", "nav.audience"),
    ("/solutions", "nav.solutions"),
    ("/incidents", "nav.incidents"),
    ("/speakers", "nav.speakers"),
    ("/ledger", "nav.ledger"),
    ("/sources", "nav.sources"),
    ("/alerts", "nav.alerts"),
];

/// Wraps a page body in the layout (head, nav, footer).
fn layout(status: StatusCode, title: &'static str, active: &str, body: Html) -> Response {
    let mut h = Html::new();
    h.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<title>")
        .text(t(title))
        .raw(" · ")
        .text(t("app.name"))
        .raw("</title><link rel=\"stylesheet\" href=\"")
        .raw(CSS_URL)
        .raw("\"><script src=\"")
        .raw(JS_URL)
        .raw("\" defer></script></head><body><header class=\"top\"><a class=\"brand\" href=\"/search\">")
        .text(t("app.name"))
        .raw("</a><nav id=\"nav\"><ul>");
    for (href, key) in NAV {
        h.raw("<li><a href=\"").text(href).raw("\"");
        if href == active {
            h.raw(" class=\"active\" aria-current=\"page\"");
        }
        h.raw(">").text(t(key)).raw("</a></li>");
    }
    h.raw("<li><a href=\"/api/openapi.json\">")
        .text(t("nav.api"))
        .raw("</a></li></ul></nav></header><main id=\"main\">");
    let body = body.into_string();
    let mut resp = (status, {
        let mut s = h.into_string();
        s.push_str(&body);
        s.push_str("</main><footer class=\"foot\">mediawatch ");
        s.push_str(env!("CARGO_PKG_VERSION"));
        s.push_str("</footer></body></html>\n");
        s
    })
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn error_page(status: StatusCode, active: &str, message: &str) -> Response {
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("error.title"))
        .raw("</h1><p id=\"query-error\" class=\"error\">")
        .text(message)
        .raw("</p>");
    layout(status, "error.title", active, h)
}

fn fmt_date(d: Option<DateTime<Utc>>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn fmt_time(d: Option<DateTime<Utc>>) -> String {
    d.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn source_map(s: &AppState) -> HashMap<&str, &SourceMeta> {
    s.sources.iter().map(|m| (m.id.as_str(), m)).collect()
}

/// The score behind a badge label.
pub fn badge_score(l: &Labels, name: &str) -> f32 {
    match name {
        "offensive" => l.hate.score,
        other => l.score(other).unwrap_or(0.0),
    }
}

fn badges(h: &mut Html, labels: Option<&Labels>) {
    let Some(l) = labels else { return };
    let flags = l.flags();
    h.raw("<span class=\"badges\">");
    for name in BADGE_LABELS {
        if !flags.iter().any(|f| f.name == name && f.present) {
            continue;
        }
        h.raw("<span class=\"badge badge-")
            .text(name)
            .raw("\" title=\"")
            .text(&format!("{name}: {:.2}", badge_score(l, name)))
            .raw("\">")
            .text(&name.replace('_', " "))
            .raw("</span> ");
    }
    h.raw("</span>");
}

/// Renders the index's HTML snippet (matches in `<b>`, the rest escaped)
/// with `<mark>`: the snippet is decoded to text first and every piece is
/// escaped again, so no markup from the index reaches the page verbatim.
fn snippet(h: &mut Html, snippet_html: &str) {
    const M: &str = "\u{E000}";
    let plain = mediawatch_index::snippet_to_text(snippet_html, M);
    for (i, part) in plain.split(M).enumerate() {
        if i % 2 == 1 {
            h.raw("<mark>").text(part).raw("</mark>");
        } else {
            h.text(part);
        }
    }
}

fn export_links(h: &mut Html, base_query: &str) {
    h.raw("<p class=\"exports\">")
        .text(t("export.title"))
        .raw(": ");
    for (id, fmt, key) in [
        ("export-csv", "csv", "export.csv"),
        ("export-jsonl", "jsonl", "export.jsonl"),
        ("export-html", "html", "export.html"),
    ] {
        let mut href = String::from("/api/export?");
        if !base_query.is_empty() {
            href.push_str(base_query);
            href.push('&');
        }
        href.push_str("format=");
        href.push_str(fmt);
        h.raw("<a id=\"")
            .text(id)
            .raw("\" href=\"")
            .text(&href)
            .raw("\" download>")
            .text(t(key))
            .raw("</a> ");
    }
    h.raw("</p>");
}

fn select(
    h: &mut Html,
    id: &'static str,
    any_key: &'static str,
    options: &[(String, String)],
    chosen: &str,
) {
    h.raw("<select id=\"")
        .text(id)
        .raw("\" name=\"")
        .text(id)
        .raw("\"><option value=\"\">")
        .text(t(any_key))
        .raw("</option>");
    for (value, label) in options {
        h.raw("<option value=\"").text(value).raw("\"");
        if value.eq_ignore_ascii_case(chosen) {
            h.raw(" selected");
        }
        h.raw(">").text(label).raw("</option>");
    }
    h.raw("</select>");
}

fn input(h: &mut Html, id: &'static str, kind: &'static str, value: &str, label_key: &'static str) {
    h.raw("<label>")
        .text(t(label_key))
        .raw(" <input id=\"")
        .text(id)
        .raw("\" name=\"")
        .text(id)
        .raw("\" type=\"")
        .text(kind)
        .raw("\" value=\"")
        .text(value)
        .raw("\"></label> ");
}

/// Choices of a `<select>`: (value, shown text).
type Options = Vec<(String, String)>;

/// Values every configured source offers for a filter: countries, sources,
/// languages.
fn filter_options(s: &AppState) -> (Options, Options, Options) {
    let mut countries: Vec<String> = s.sources.iter().map(|m| m.country.clone()).collect();
    countries.sort();
    countries.dedup();
    let mut langs: Vec<String> = s
        .sources
        .iter()
        .flat_map(|m| m.languages.iter().cloned())
        .collect();
    langs.sort();
    langs.dedup();
    let mut sources: Vec<(String, String)> = s
        .sources
        .iter()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    sources.sort_by(|a, b| a.1.cmp(&b.1));
    let pair = |v: Vec<String>| v.into_iter().map(|c| (c.clone(), c)).collect();
    (pair(countries), sources, pair(langs))
}

/// The query-language filter that selects documents with a label flag.
fn label_filter(name: &str) -> Option<&'static str> {
    Some(match name {
        "relevant" => "relevance>=0.5",
        "hate" => "class:hate",
        "offensive" => "class:offensive",
        "collective_labelling" => "collective>=0.5",
        "threat" => "threat>=0.5",
        "victim" => "victim>=0.5",
        "recognition" => "recognition>=0.5",
        "solutions" => "solutions>=0.5",
        _ => return None,
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// HTML 404 for unknown pages (the API answers JSON; see `lib.rs`).
pub(crate) fn not_found_page() -> Response {
    error_page(StatusCode::NOT_FOUND, "", "404")
}
