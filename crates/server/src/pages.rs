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
        include_str!("../assets/dashboard.css"),
        "text/css; charset=utf-8",
    )
}

async fn js() -> Response {
    asset(
        include_str!("../assets/dashboard.js"),
        "text/javascript; charset=utf-8",
    )
}

const NAV: [(&str, &str); 7] = [
    ("/search", "nav.search"),
    ("/trends", "nav.trends"),
    ("/terms", "nav.terms"),
    ("/audience", "nav.audience"),
    ("/solutions", "nav.solutions"),
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

const SEARCH_KEYS: [&str; 8] = [
    "q", "country", "source", "lang", "sort", "collapse", "from", "to",
];

/// The search parameters of `p` as a query string, with `set` replacing
/// (or adding) one of them.
fn search_query(p: &Params, set: Option<(&str, &str)>) -> String {
    let mut pairs: Vec<(&str, String)> = SEARCH_KEYS
        .iter()
        .map(|k| (*k, p.str(k).to_string()))
        .collect();
    if let Some((k, v)) = set {
        if let Some(slot) = pairs.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v.to_string();
        }
    }
    query_string(pairs.iter().map(|(k, v)| (*k, v.as_str())))
}

struct SearchOutcome {
    results: mediawatch_index::SearchResults,
    facets: Facets,
}

#[derive(Default)]
struct Facets {
    source: BTreeMap<String, u64>,
    country: BTreeMap<String, u64>,
    lang: BTreeMap<String, u64>,
    label: BTreeMap<&'static str, u64>,
}

/// A [`SearchRequest`] from dashboard/export parameters.
pub(crate) fn search_request(
    p: &Params,
    limit: usize,
    offset: usize,
) -> Result<SearchRequest, ApiError> {
    let sort_by_date = match p.get("sort") {
        None | Some("relevance") => false,
        Some("date") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "sort: {other:?} is not one of relevance, date"
            )))
        }
    };
    Ok(SearchRequest {
        query: p.str("q").to_string(),
        from: opt_date("from", &p.get("from").map(str::to_string), false)?,
        to: opt_date("to", &p.get("to").map(str::to_string), true)?,
        source: p.get("source").map(str::to_string),
        country: p.get("country").map(str::to_string),
        lang: p.get("lang").map(str::to_string),
        kind: None,
        limit,
        offset,
        sort_by_date,
        collapse_clusters: p.flag("collapse"),
    })
}

fn run_search(s: &AppState, req: SearchRequest) -> Result<SearchOutcome, ApiError> {
    let results = s.queries().search(&req)?;
    // The index counts facets over every match while it searches; reading
    // the fact rows again would cost ~300 bytes per match (150+ MiB for a
    // broad query over a million documents).
    let counts = |list: &[mediawatch_index::FacetCount]| -> BTreeMap<String, u64> {
        list.iter()
            .filter(|c| c.count > 0)
            .map(|c| (c.value.clone(), c.count))
            .collect()
    };
    let f = Facets {
        source: counts(&results.facets.source),
        country: counts(&results.facets.country),
        lang: counts(&results.facets.lang),
        label: results
            .facets
            .label
            .iter()
            .filter(|c| c.count > 0)
            .filter_map(|c| {
                LABEL_NAMES
                    .iter()
                    .find(|n| **n == c.value)
                    .map(|n| (*n, c.count))
            })
            .collect(),
    };
    Ok(SearchOutcome { results, facets: f })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

async fn search_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let offset = p.usize("offset").ok().flatten().unwrap_or(0);
    let outcome = match search_request(&p, PAGE_SIZE, offset) {
        Ok(req) => {
            let st = s.clone();
            blocking(move || run_search(&st, req)).await
        }
        Err(e) => Err(e),
    };
    let (countries, sources, langs) = filter_options(&s);
    let names = source_map(&s);
    let mut h = Html::new();
    h.raw("<h1>").text(t("search.title")).raw("</h1>");
    h.raw("<form id=\"search-form\" method=\"get\" action=\"/search\" role=\"search\">")
        .raw("<input id=\"q\" name=\"q\" type=\"search\" autofocus placeholder=\"")
        .text(t("search.placeholder"))
        .raw("\" value=\"")
        .text(p.str("q"))
        .raw("\"> <button id=\"search-submit\" type=\"submit\">")
        .text(t("search.submit"))
        .raw("</button><div class=\"filters\">");
    select(
        &mut h,
        "country",
        "search.any_country",
        &countries,
        p.str("country"),
    );
    select(
        &mut h,
        "source",
        "search.any_source",
        &sources,
        p.str("source"),
    );
    select(&mut h, "lang", "search.any_lang", &langs, p.str("lang"));
    h.raw("<select id=\"sort\" name=\"sort\"><option value=\"relevance\">")
        .text(t("search.sort_relevance"))
        .raw("</option><option value=\"date\"");
    if p.get("sort") == Some("date") {
        h.raw(" selected");
    }
    h.raw(">")
        .text(t("search.sort_date"))
        .raw("</option></select> <label><input id=\"collapse\" name=\"collapse\" type=\"checkbox\" value=\"1\"");
    if p.flag("collapse") {
        h.raw(" checked");
    }
    h.raw("> ").text(t("search.collapse")).raw("</label> ");
    input(&mut h, "from", "date", p.str("from"), "search.from");
    input(&mut h, "to", "date", p.str("to"), "search.to");
    h.raw("</div></form>");

    let out = match outcome {
        Ok(o) => o,
        Err(e) => {
            h.raw("<p id=\"query-error\" class=\"error\">")
                .text(t("search.query_error"))
                .raw(" <code>")
                .text(&e.to_string())
                .raw("</code></p>");
            let status = match e {
                ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            return layout(status, "search.title", "/search", h);
        }
    };
    h.raw("<div class=\"results-layout\"><section class=\"results\"><p id=\"hit-count\">")
        .num(out.results.total)
        .raw(" ")
        .text(t("search.hits"))
        .raw("</p>");
    export_links(&mut h, &search_query(&p, None));
    if out.results.hits.is_empty() {
        h.raw("<p class=\"empty\">")
            .text(t("search.no_hits"))
            .raw("</p>");
    }
    h.raw("<ol id=\"hits\" start=\"").num(offset + 1).raw("\">");
    for hit in &out.results.hits {
        let meta = names.get(hit.source.as_str());
        h.raw("<li class=\"hit\"><a class=\"hit-title\" href=\"/documents/")
            .text(&enc(&hit.id))
            .raw("\">")
            .text(if hit.title.trim().is_empty() {
                &hit.url
            } else {
                &hit.title
            })
            .raw("</a> ");
        badges(&mut h, hit.labels.as_ref());
        h.raw("<div class=\"hit-meta\"><span class=\"hit-source\">")
            .text(meta.map_or(hit.source.as_str(), |m| m.name.as_str()))
            .raw("</span> · <span class=\"hit-country\">")
            .text(meta.map_or("", |m| m.country.as_str()))
            .raw("</span> · <time>")
            .text(&fmt_date(hit.published))
            .raw("</time> · ");
        h.external_link(&hit.url, t("search.original"));
        if hit.duplicates > 0 {
            h.raw(" · ")
                .num(hit.duplicates)
                .raw(" ")
                .text(t("search.copies"));
        }
        h.raw("</div><p class=\"hit-snippet\">");
        snippet(&mut h, &hit.snippet);
        h.raw("</p></li>");
    }
    h.raw("</ol><nav class=\"paging\">");
    if offset > 0 {
        let prev = offset.saturating_sub(PAGE_SIZE).to_string();
        let mut href = format!("/search?{}", search_query(&p, None));
        href.push_str("&offset=");
        href.push_str(&prev);
        h.raw("<a id=\"prev-page\" href=\"")
            .text(&href)
            .raw("\">")
            .text(t("search.prev"))
            .raw("</a> ");
    }
    if offset + out.results.hits.len() < out.results.total {
        let mut href = format!("/search?{}", search_query(&p, None));
        href.push_str("&offset=");
        href.push_str(&(offset + PAGE_SIZE).to_string());
        h.raw("<a id=\"next-page\" href=\"")
            .text(&href)
            .raw("\">")
            .text(t("search.next"))
            .raw("</a>");
    }
    h.raw("</nav></section>");

    // Facets: each link adds its filter to the current search.
    h.raw("<aside id=\"facets\"><h2>")
        .text(t("facets.title"))
        .raw("</h2>");
    let facet =
        |h: &mut Html, key: &'static str, title: &'static str, counts: &BTreeMap<String, u64>| {
            h.raw("<h3>")
                .text(t(title))
                .raw("</h3><ul class=\"facet facet-")
                .text(key)
                .raw("\">");
            let mut v: Vec<_> = counts.iter().collect();
            v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (value, n) in v.into_iter().take(30) {
                let label = if key == "source" {
                    names
                        .get(value.as_str())
                        .map_or(value.as_str(), |m| m.name.as_str())
                } else {
                    value.as_str()
                };
                let href = format!("/search?{}", search_query(&p, Some((key, value))));
                h.raw("<li><a href=\"")
                    .text(&href)
                    .raw("\">")
                    .text(label)
                    .raw("</a> <span class=\"count\">")
                    .num(n)
                    .raw("</span></li>");
            }
            h.raw("</ul>");
        };
    facet(&mut h, "source", "facets.source", &out.facets.source);
    facet(&mut h, "country", "facets.country", &out.facets.country);
    facet(&mut h, "lang", "facets.language", &out.facets.lang);
    h.raw("<h3>")
        .text(t("facets.label"))
        .raw("</h3><ul class=\"facet facet-label\">");
    for name in LABEL_NAMES {
        let (Some(n), Some(filter)) = (out.facets.label.get(name), label_filter(name)) else {
            continue;
        };
        let q = format!("{} {filter}", p.str("q")).trim().to_string();
        let href = format!("/search?{}", search_query(&p, Some(("q", &q))));
        h.raw("<li><a href=\"")
            .text(&href)
            .raw("\">")
            .text(&name.replace('_', " "))
            .raw("</a> <span class=\"count\">")
            .num(n)
            .raw("</span></li>");
    }
    h.raw("</ul></aside></div>");
    layout(StatusCode::OK, "search.title", "/search", h)
}

/// One highlighted stretch of the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mark {
    pub start: usize,
    pub end: usize,
    pub label: &'static str,
    pub cue: String,
    /// Lower wins when marks overlap.
    pub priority: u8,
}

/// Evidence spans of all labels, as non-overlapping marks in text order.
/// Spans that do not fit the text (out of range, not on a character
/// boundary: the text may have been re-fetched since) are dropped.
pub(crate) fn evidence_marks(text: &str, l: &Labels) -> Vec<Mark> {
    let mut all = Vec::new();
    let mut add = |spans: &[mediawatch_core::EvidenceSpan], label: &'static str, priority: u8| {
        for sp in spans {
            let label = match (label, sp.cue_type) {
                ("frame", Some(mediawatch_core::CueType::Threat)) => "threat",
                ("frame", Some(mediawatch_core::CueType::Victim)) => "victim",
                ("frame", Some(mediawatch_core::CueType::Recognition)) => "recognition",
                (other, _) => other,
            };
            all.push(Mark {
                start: sp.start,
                end: sp.end,
                label,
                cue: sp.cue.clone(),
                priority,
            });
        }
    };
    add(&l.hate.evidence, "hate", 0);
    add(&l.collective_labelling.spans, "collective_labelling", 1);
    add(&l.frame.evidence, "frame", 2);
    add(&l.solutions.evidence, "solutions", 3);
    add(&l.relevance.evidence, "relevant", 4);
    all.retain(|m| {
        m.start < m.end
            && m.end <= text.len()
            && text.is_char_boundary(m.start)
            && text.is_char_boundary(m.end)
    });
    all.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.start.cmp(&b.start)));
    let mut chosen: Vec<Mark> = Vec::new();
    for m in all {
        if chosen.iter().all(|c| m.end <= c.start || m.start >= c.end) {
            chosen.push(m);
        }
    }
    chosen.sort_by_key(|m| m.start);
    chosen
}

fn document_text(h: &mut Html, d: &Document) {
    let marks = d
        .labels
        .as_ref()
        .map(|l| evidence_marks(&d.text, l))
        .unwrap_or_default();
    let mut pos = 0;
    for m in marks {
        h.text(&d.text[pos..m.start]);
        h.raw("<mark class=\"evidence\" data-label=\"")
            .text(m.label)
            .raw("\" data-cue=\"")
            .text(&m.cue)
            .raw("\" title=\"")
            .text(&format!("{}: {}", m.label, m.cue))
            .raw("\">")
            .text(&d.text[m.start..m.end])
            .raw("</mark>");
        pos = m.end;
    }
    h.text(&d.text[pos..]);
}

async fn document_page(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let st = s.clone();
    let doc_id = DocId::from_stored(id.clone());
    let found = blocking(move || Ok(st.queries().document(&doc_id)?)).await;
    let d = match found {
        Ok(Some(d)) => d,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "/search", t("doc.not_found")),
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "/search", &e.to_string()),
    };
    let names = source_map(&s);
    let meta = names.get(d.source_id.as_str());
    let mut h = Html::new();
    h.raw("<article class=\"document\"><h1 id=\"doc-title\">")
        .text(if d.title.trim().is_empty() {
            &d.url
        } else {
            &d.title
        })
        .raw("</h1><dl id=\"doc-meta\"><dt>")
        .text(t("doc.source"))
        .raw("</dt><dd>")
        .text(meta.map_or(d.source_id.as_str(), |m| m.name.as_str()))
        .raw(" (")
        .text(meta.map_or("", |m| m.country.as_str()))
        .raw(") · ");
    h.external_link(&d.url, t("search.original"));
    h.raw("</dd><dt>")
        .text(t("doc.published"))
        .raw("</dt><dd>")
        .text(&fmt_time(d.published))
        .raw("</dd><dt>")
        .text(t("doc.fetched"))
        .raw("</dt><dd>")
        .text(&fmt_time(Some(d.fetched)))
        .raw("</dd><dt>")
        .text(t("doc.language"))
        .raw("</dt><dd>")
        .text(d.lang.as_deref().unwrap_or(""))
        .raw("</dd><dt>")
        .text(t("doc.kind"))
        .raw("</dt><dd>")
        .text(d.kind.as_str())
        .raw("</dd>");
    if let Some(a) = &d.author {
        h.raw("<dt>")
            .text(t("doc.author"))
            .raw("</dt><dd>")
            .text(a)
            .raw("</dd>");
    }
    h.raw("</dl>");
    badges(&mut h, d.labels.as_ref());
    h.raw("<p class=\"hint\">")
        .text(t("doc.evidence"))
        .raw("</p><div id=\"doc-text\">");
    document_text(&mut h, &d);
    h.raw("</div></article><section class=\"labels\"><h2>")
        .text(t("doc.labels"))
        .raw("</h2>");
    match &d.labels {
        Some(l) => {
            h.raw("<table id=\"doc-labels\"><thead><tr>");
            head_row(&mut h, &["doc.label", "doc.present", "doc.score"]);
            for f in l.flags() {
                let score = if f.name == "relevant" {
                    l.relevance.score
                } else {
                    badge_score(l, f.name)
                };
                h.raw("<tr data-label=\"")
                    .text(f.name)
                    .raw("\"><td>")
                    .text(f.name)
                    .raw("</td><td>")
                    .text(if f.present { t("doc.yes") } else { t("doc.no") })
                    .raw("</td><td>")
                    .text(&format!("{score:.2}"))
                    .raw("</td></tr>");
            }
            h.raw("<tr data-label=\"hate_class\"><td>hate_class</td><td colspan=\"2\">")
                .text(l.hate.class.as_str())
                .raw("</td></tr>");
            if let Some(target) = &l.hate.target {
                h.raw("<tr data-label=\"hate_target\"><td>hate_target</td><td colspan=\"2\">")
                    .text(target)
                    .raw("</td></tr>");
            }
            h.raw("</tbody></table><p class=\"model\">")
                .text(t("doc.model"))
                .raw(": <code>")
                .text(&l.model_version)
                .raw("</code></p>");
        }
        None => {
            h.raw("<table id=\"doc-labels\"><tbody><tr><td>")
                .text(t("doc.unlabelled"))
                .raw("</td></tr></tbody></table>");
        }
    }
    h.raw("</section>");

    // Correction form: posted by dashboard.js with the token kept in
    // localStorage (a plain form post could not send the header).
    h.raw("<section class=\"corrections\"><h2>")
        .text(t("correction.title"))
        .raw("</h2><form id=\"correction-form\" data-doc-id=\"")
        .text(d.id.as_str())
        .raw("\"><label>")
        .text(t("correction.label"))
        .raw(" <select id=\"correction-label\" name=\"label\">");
    for l in mediawatch_state::CORRECTABLE_LABELS {
        h.raw("<option value=\"")
            .text(l)
            .raw("\">")
            .text(l)
            .raw("</option>");
    }
    h.raw("</select></label> <fieldset><legend>")
        .text(t("correction.verdict"))
        .raw("</legend><label><input type=\"radio\" name=\"verdict\" value=\"correct\"> ")
        .text(t("correction.correct"))
        .raw("</label> <label><input type=\"radio\" name=\"verdict\" value=\"wrong\" checked> ")
        .text(t("correction.wrong"))
        .raw("</label></fieldset><label>")
        .text(t("correction.value"))
        .raw(" <input id=\"correction-value\" name=\"value\" type=\"text\"></label><label>")
        .text(t("correction.analyst"))
        .raw(" <input id=\"correction-analyst\" name=\"analyst\" type=\"text\"></label><label>")
        .text(t("correction.note"))
        .raw(
            " <textarea id=\"correction-note\" name=\"note\" rows=\"2\"></textarea></label><label>",
        )
        .text(t("correction.token"))
        .raw(" <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\"></label>")
        .raw("<button id=\"correction-submit\" type=\"submit\">")
        .text(t("correction.submit"))
        .raw("</button></form><p id=\"correction-result\" role=\"status\"></p>");
    let filter = mediawatch_state::CorrectionFilter {
        doc_id: Some(d.id.as_str().to_string()),
        ..Default::default()
    };
    h.raw("<h3>")
        .text(t("correction.list"))
        .raw("</h3><ul id=\"corrections\">");
    match s.state.corrections(&filter) {
        Ok(list) if !list.is_empty() => {
            for c in list {
                h.raw("<li>")
                    .text(&fmt_time(Some(c.created_at)))
                    .raw(": ")
                    .text(&c.correction.label)
                    .raw(" ")
                    .text(c.correction.verdict.as_str())
                    .text(
                        &c.correction
                            .value
                            .map(|v| format!(" → {v}"))
                            .unwrap_or_default(),
                    )
                    .text(
                        &c.correction
                            .note
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default(),
                    )
                    .raw("</li>");
            }
        }
        Ok(_) => {
            h.raw("<li class=\"empty\">")
                .text(t("correction.none"))
                .raw("</li>");
        }
        Err(e) => {
            h.raw("<li class=\"error\">")
                .text(&e.to_string())
                .raw("</li>");
        }
    }
    h.raw("</ul></section>");
    layout(StatusCode::OK, "search.title", "/search", h)
}

async fn trends_page(RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let compare = p.all("compare");
    let mut h = Html::new();
    h.raw("<h1>").text(t("trends.title")).raw("</h1>");
    h.raw("<form id=\"trends-form\" method=\"get\" action=\"/trends\"><label>")
        .text(t("trends.query"))
        .raw(" <input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(p.str("q"))
        .raw("\"></label> ");
    // The existing comparisons plus one empty field to add another.
    for c in compare.iter().copied().chain(std::iter::once("")) {
        h.raw("<label>")
            .text(t("trends.compare"))
            .raw(" <input class=\"compare\" name=\"compare\" type=\"search\" value=\"")
            .text(c)
            .raw("\"></label> ");
    }
    h.raw("<label>")
        .text(t("trends.by"))
        .raw(" <select id=\"by\" name=\"by\">");
    for (v, key) in [
        ("", "trends.by_none"),
        ("source", "trends.by_source"),
        ("country", "trends.by_country"),
        ("language", "trends.by_language"),
        ("audience", "trends.by_audience"),
    ] {
        h.raw("<option value=\"").text(v).raw("\"");
        if p.str("by") == v {
            h.raw(" selected");
        }
        h.raw(">").text(t(key)).raw("</option>");
    }
    h.raw("</select></label> <label>")
        .text(t("trends.interval"))
        .raw(" <select id=\"interval\" name=\"interval\">");
    let interval = p.get("interval").unwrap_or("month");
    for (v, key) in [
        ("day", "trends.day"),
        ("week", "trends.week"),
        ("month", "trends.month"),
    ] {
        h.raw("<option value=\"").text(v).raw("\"");
        if interval == v {
            h.raw(" selected");
        }
        h.raw(">").text(t(key)).raw("</option>");
    }
    h.raw("</select></label> <label>")
        .text(t("trends.label"))
        .raw(" <select id=\"label\" name=\"label\"><option value=\"\">")
        .text(t("trends.documents"))
        .raw("</option>");
    for name in LABEL_NAMES {
        h.raw("<option value=\"").text(name).raw("\"");
        if p.str("label") == name {
            h.raw(" selected");
        }
        h.raw(">").text(&name.replace('_', " ")).raw("</option>");
    }
    h.raw("</select></label> ");
    input(&mut h, "from", "date", p.str("from"), "search.from");
    input(&mut h, "to", "date", p.str("to"), "search.to");
    h.raw("<button id=\"trends-submit\" type=\"submit\">")
        .text(t("trends.draw"))
        .raw("</button></form>");

    // The chart's data: /api/report with the same parameters (the label
    // only picks which count to draw).
    let mut pairs: Vec<(&str, &str)> = vec![("q", p.str("q"))];
    pairs.extend(compare.iter().map(|c| ("compare", *c)));
    if compare.is_empty() {
        pairs.push(("by", p.str("by")));
    }
    pairs.extend([
        ("interval", interval),
        ("from", p.str("from")),
        ("to", p.str("to")),
    ]);
    let src = format!("/api/report?{}", query_string(pairs));
    h.raw("<div class=\"chart-wrap\"><svg id=\"trend-chart\" role=\"img\" viewBox=\"0 0 900 360\" data-src=\"")
        .text(&src)
        .raw("\" data-label=\"")
        .text(p.str("label"))
        .raw("\"></svg><div id=\"chart-tooltip\" hidden></div></div><ul id=\"chart-legend\"></ul><p class=\"hint\">")
        .text(t("trends.hint"))
        .raw("</p><noscript><p>")
        .text(t("trends.noscript"))
        .raw(" <a href=\"")
        .text(&src)
        .raw("\">")
        .text(&src)
        .raw("</a></p></noscript>");
    let export_q = query_string([
        ("q", p.str("q")),
        ("from", p.str("from")),
        ("to", p.str("to")),
    ]);
    export_links(&mut h, &export_q);
    layout(StatusCode::OK, "trends.title", "/trends", h)
}

async fn terms_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let today = Utc::now().date_naive();
    let default_from = (today - chrono::Duration::days(29))
        .format("%Y-%m-%d")
        .to_string();
    let default_to = today.format("%Y-%m-%d").to_string();
    let from = p.get("from").unwrap_or(&default_from).to_string();
    let to = p.get("to").unwrap_or(&default_to).to_string();
    let countries: Vec<String> = p.all("country").into_iter().map(str::to_string).collect();
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("terms.title"))
        .raw("</h1><p class=\"hint\">")
        .text(t("terms.hint"))
        .raw("</p>");
    h.raw("<form id=\"terms-form\" method=\"get\" action=\"/terms\">");
    input(&mut h, "from", "date", &from, "search.from");
    input(&mut h, "to", "date", &to, "search.to");
    let (country_opts, _, _) = filter_options(&s);
    select(
        &mut h,
        "country",
        "search.any_country",
        &country_opts,
        countries.first().map_or("", String::as_str),
    );
    h.raw(" <input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(p.str("q"))
        .raw("\"> <button type=\"submit\">")
        .text(t("search.submit"))
        .raw("</button></form>");
    let base =
        match crate::terms_request(&from, &to, p.get("background_from"), p.get("background_to")) {
            Ok(b) => b,
            Err(e) => {
                h.raw("<p id=\"query-error\" class=\"error\">")
                    .text(&e)
                    .raw("</p>");
                return layout(StatusCode::BAD_REQUEST, "terms.title", "/terms", h);
            }
        };
    let q = p.get("q").map(str::to_string);
    let lang = p.get("lang").map(str::to_string);
    let st = s.clone();
    let groups: Vec<Option<String>> = if countries.is_empty() {
        vec![None]
    } else {
        countries.into_iter().map(Some).collect()
    };
    let result = blocking(move || {
        let mut out = Vec::new();
        for c in groups {
            let req = mediawatch_index::TermsRequest {
                query: q.clone(),
                country: c.clone(),
                lang: lang.clone(),
                limit: 30,
                min_count: 3,
                ..base.clone()
            };
            let (_, r) = st
                .queries()
                .terms(&req, &[])?
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::Internal("no terms result".into()))?;
            out.push((c, r));
        }
        Ok(out)
    })
    .await;
    let lists = match result {
        Ok(l) => l,
        Err(e) => {
            h.raw("<p id=\"query-error\" class=\"error\">")
                .text(&e.to_string())
                .raw("</p>");
            return layout(StatusCode::BAD_REQUEST, "terms.title", "/terms", h);
        }
    };
    h.raw("<table id=\"terms\"><thead><tr>");
    head_row(
        &mut h,
        &[
            "terms.country",
            "terms.term",
            "terms.count",
            "terms.background",
            "terms.docs",
            "terms.llr",
        ],
    );
    let mut any = false;
    for (country, r) in &lists {
        for term in &r.terms {
            any = true;
            h.raw("<tr><td>")
                .text(country.as_deref().unwrap_or(t("terms.all")))
                .raw("</td><td>")
                .text(&term.term)
                .raw("</td><td>")
                .num(term.count)
                .raw("</td><td>")
                .num(term.background)
                .raw("</td><td>")
                .num(term.docs)
                .raw("</td><td>")
                .text(&format!(
                    "{:.1}{}",
                    term.llr,
                    if term.significant { " *" } else { "" }
                ))
                .raw("</td></tr>");
        }
    }
    h.raw("</tbody></table>");
    if !any {
        h.raw("<p class=\"empty\">")
            .text(t("terms.none"))
            .raw("</p>");
    }
    layout(StatusCode::OK, "terms.title", "/terms", h)
}

async fn audience_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let filter = (|| -> Result<FactsFilter, ApiError> {
        Ok(FactsFilter {
            from: opt_date("from", &p.get("from").map(str::to_string), false)?,
            to: opt_date("to", &p.get("to").map(str::to_string), true)?,
            source: None,
            country: p.get("country").map(str::to_string),
            lang: p.get("lang").map(str::to_string),
            query: p.get("q").map(str::to_string),
        })
    })();
    let min_docs = p
        .usize("min_documents")
        .ok()
        .flatten()
        .map_or(mediawatch_report::audience::DEFAULT_MIN_DOCUMENTS, |n| {
            n as u64
        });
    let st = s.clone();
    let map = match filter {
        Ok(f) => blocking(move || Ok(st.queries().audience(&f, min_docs)?)).await,
        Err(e) => Err(e),
    };
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("audience.title"))
        .raw("</h1><form id=\"audience-form\" method=\"get\" action=\"/audience\">");
    input(&mut h, "from", "date", p.str("from"), "search.from");
    input(&mut h, "to", "date", p.str("to"), "search.to");
    h.raw("<input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(p.str("q"))
        .raw("\"> <button type=\"submit\">")
        .text(t("search.submit"))
        .raw("</button></form>");
    let map = match map {
        Ok(m) => m,
        Err(e) => {
            h.raw("<p id=\"query-error\" class=\"error\">")
                .text(&e.to_string())
                .raw("</p>");
            return layout(StatusCode::BAD_REQUEST, "audience.title", "/audience", h);
        }
    };
    h.raw("<p class=\"hint\">").text(map.method).raw("</p>");
    h.raw("<table id=\"audience\"><thead><tr>");
    head_row(
        &mut h,
        &[
            "audience.rank",
            "audience.outlet",
            "audience.country",
            "audience.scope",
            "audience.tags",
            "audience.documents",
            "audience.hostile",
            "audience.positive",
            "audience.index",
        ],
    );
    for o in &map.outlets {
        h.raw("<tr");
        if o.low_sample {
            h.raw(" class=\"low-sample\"");
        }
        h.raw("><td>")
            .num(o.rank)
            .raw("</td><td>")
            .text(&o.name)
            .raw("</td><td>")
            .text(&o.country)
            .raw("</td><td>")
            .text(&o.scope)
            .raw("</td><td>")
            .text(&o.audience.join(", "))
            .raw("</td><td>")
            .num(o.documents);
        if o.low_sample {
            h.raw(" <small>(")
                .text(t("audience.low_sample"))
                .raw(")</small>");
        }
        h.raw("</td><td>")
            .pct(o.hostile_share)
            .raw("</td><td>")
            .pct(o.positive_share)
            .raw("</td><td>")
            .text(&format!("{:.3}", o.unsensitized_index))
            .raw("</td></tr>");
    }
    h.raw("</tbody></table><h2>")
        .text(t("audience.segments"))
        .raw("</h2><table id=\"segments\"><thead><tr>");
    head_row(
        &mut h,
        &[
            "audience.rank",
            "audience.segment",
            "audience.outlets",
            "audience.reach",
            "audience.documents",
            "audience.hostile",
            "audience.positive",
            "audience.index",
        ],
    );
    for g in &map.segments {
        h.raw("<tr><td>")
            .num(g.rank)
            .raw("</td><td>")
            .text(&g.segment)
            .raw("</td><td>")
            .num(g.outlets)
            .raw("</td><td>")
            .text(&format!("{:.0}", g.reach))
            .raw("</td><td>")
            .num(g.documents)
            .raw("</td><td>")
            .pct(g.hostile_share)
            .raw("</td><td>")
            .pct(g.positive_share)
            .raw("</td><td>")
            .text(&format!("{:.3}", g.unsensitized_index))
            .raw("</td></tr>");
    }
    h.raw("</tbody></table>");
    layout(StatusCode::OK, "audience.title", "/audience", h)
}

async fn solutions_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let q = (|| -> Result<crate::SolutionsQuery, ApiError> {
        let min_score = match p.get("min_score") {
            Some(v) => v
                .parse::<f32>()
                .ok()
                .filter(|m| (0.0..=1.0).contains(m))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("min_score: {v:?} must lie in 0..1"))
                })?,
            None => 0.5,
        };
        Ok(crate::SolutionsQuery {
            country: p.get("country").map(str::to_string),
            lang: p.get("lang").map(str::to_string),
            from: opt_date("from", &p.get("from").map(str::to_string), false)?,
            to: opt_date("to", &p.get("to").map(str::to_string), true)?,
            text: p.get("q").map(str::to_string),
            min_score,
            limit: 50,
        })
    })();
    let st = s.clone();
    let res = match q {
        Ok(q) => blocking(move || Ok(st.queries().solutions(&q)?)).await,
        Err(e) => Err(e),
    };
    let (countries, _, langs) = filter_options(&s);
    let names = source_map(&s);
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("solutions.title"))
        .raw("</h1><p class=\"hint\">")
        .text(t("solutions.hint"))
        .raw("</p>");
    h.raw("<form id=\"solutions-form\" method=\"get\" action=\"/solutions\"><label>")
        .text(t("solutions.words"))
        .raw(" <input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(p.str("q"))
        .raw("\"></label> ");
    select(
        &mut h,
        "country",
        "search.any_country",
        &countries,
        p.str("country"),
    );
    select(&mut h, "lang", "search.any_lang", &langs, p.str("lang"));
    h.raw(" <button type=\"submit\">")
        .text(t("search.submit"))
        .raw("</button></form>");
    let res = match res {
        Ok(r) => r,
        Err(e) => {
            h.raw("<p id=\"query-error\" class=\"error\">")
                .text(&e.to_string())
                .raw("</p>");
            return layout(StatusCode::BAD_REQUEST, "solutions.title", "/solutions", h);
        }
    };
    if res.hits.is_empty() {
        h.raw("<p class=\"empty\">")
            .text(t("solutions.none"))
            .raw("</p>");
    }
    h.raw("<ol id=\"solutions\">");
    for hit in &res.hits {
        let meta = names.get(hit.source.as_str());
        let score = hit.labels.as_ref().map_or(0.0, |l| l.solutions.score);
        h.raw("<li class=\"hit\"><a class=\"hit-title\" href=\"/documents/")
            .text(&enc(&hit.id))
            .raw("\">")
            .text(if hit.title.trim().is_empty() {
                &hit.url
            } else {
                &hit.title
            })
            .raw("</a> <span class=\"score\">")
            .text(&format!("{score:.2}"))
            .raw(" ")
            .text(t("solutions.score"))
            .raw("</span><div class=\"hit-meta\">")
            .text(meta.map_or(hit.source.as_str(), |m| m.name.as_str()))
            .raw(" · ")
            .text(meta.map_or("", |m| m.country.as_str()))
            .raw(" · <time>")
            .text(&fmt_date(hit.published))
            .raw("</time></div><p class=\"hit-snippet\">");
        snippet(&mut h, &hit.snippet);
        h.raw("</p></li>");
    }
    h.raw("</ol>");
    layout(StatusCode::OK, "solutions.title", "/solutions", h)
}

async fn sources_page(State(s): State<AppState>) -> Response {
    let now = Utc::now();
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("sources.title"))
        .raw("</h1><table id=\"sources\"><thead><tr>");
    head_row(
        &mut h,
        &[
            "sources.id",
            "sources.name",
            "sources.country",
            "sources.status",
            "sources.items",
            "sources.last_success",
            "sources.failing_since",
            "sources.last_error",
        ],
    );
    for m in s.sources.iter() {
        let health = match s.state.health(&m.id, now) {
            Ok(x) => x,
            Err(e) => {
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "/sources",
                    &e.to_string(),
                )
            }
        };
        let status = health.status(now, s.unhealthy_after);
        h.raw("<tr class=\"status-")
            .text(status)
            .raw("\" data-source=\"")
            .text(&m.id)
            .raw("\"><td>")
            .text(&m.id)
            .raw("</td><td>")
            .text(&m.name)
            .raw("</td><td>")
            .text(&m.country)
            .raw("</td><td class=\"status\">")
            .text(status)
            .raw("</td><td>")
            .num(health.items_total)
            .raw("</td><td>")
            .text(
                &health
                    .last_success
                    .map_or_else(|| t("sources.never").to_string(), |d| fmt_time(Some(d))),
            )
            .raw("</td><td>")
            .text(&fmt_time(health.failing_since))
            .raw("</td><td class=\"last-error\">")
            .text(health.last_error.as_deref().unwrap_or(""))
            .raw("</td></tr>");
    }
    h.raw("</tbody></table>");
    layout(StatusCode::OK, "sources.title", "/sources", h)
}

async fn alerts_page(State(s): State<AppState>) -> Response {
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("alerts.title"))
        .raw("</h1><h2>")
        .text(t("alerts.saved"))
        .raw("</h2><ul id=\"saved-searches\">");
    let Some(rt) = s.alerts.clone() else {
        h.raw("<li class=\"empty\">")
            .text(t("alerts.none"))
            .raw("</li></ul><h2>")
            .text(t("alerts.history"))
            .raw("</h2><ul id=\"alert-history\"><li class=\"empty\">")
            .text(t("alerts.no_history"))
            .raw("</li></ul>");
        return layout(StatusCode::OK, "alerts.title", "/alerts", h);
    };
    let loaded = blocking(move || {
        let searches = rt
            .searches()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let history = rt
            .history(&mediawatch_state::AlertFilter {
                limit: Some(100),
                ..Default::default()
            })
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((searches, history))
    })
    .await;
    let (searches, history) = match loaded {
        Ok(x) => x,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "/alerts", &e.to_string()),
    };
    if searches.is_empty() {
        h.raw("<li class=\"empty\">")
            .text(t("alerts.none"))
            .raw("</li>");
    }
    for ss in &searches {
        let c = &ss.search;
        let href = format!(
            "/search?{}",
            query_string([
                ("q", c.query.as_str()),
                ("country", c.country.as_deref().unwrap_or("")),
                ("source", c.source.as_deref().unwrap_or("")),
                ("lang", c.lang.as_deref().unwrap_or("")),
            ])
        );
        h.raw("<li class=\"saved-search\" data-id=\"")
            .text(&c.id)
            .raw("\"><a href=\"")
            .text(&href)
            .raw("\">")
            .text(if c.name.trim().is_empty() {
                &c.id
            } else {
                &c.name
            })
            .raw("</a> <code>")
            .text(&c.query)
            .raw("</code>");
        if !c.enabled {
            h.raw(" <small>(")
                .text(t("alerts.disabled"))
                .raw(")</small>");
        }
        if c.alert.is_some() {
            h.raw(" <span class=\"badge\">")
                .text(t("alerts.has_rule"))
                .raw("</span>");
        }
        h.raw("</li>");
    }
    h.raw("</ul><h2>")
        .text(t("alerts.history"))
        .raw("</h2><table id=\"alert-history\"><thead><tr>");
    head_row(
        &mut h,
        &[
            "alerts.fired",
            "alerts.search",
            "alerts.metric",
            "alerts.observed",
            "alerts.baseline",
            "alerts.p_value",
            "alerts.deliveries",
        ],
    );
    for a in &history {
        h.raw("<tr><td>")
            .text(&fmt_time(Some(a.alert.fired_at)))
            .raw("</td><td>")
            .text(&a.alert.search_id)
            .raw("</td><td>")
            .text(&a.alert.metric)
            .raw("</td><td>")
            .text(&format!("{:.3}", a.alert.observed))
            .raw("</td><td>")
            .text(&format!("{:.3}", a.alert.baseline))
            .raw("</td><td>")
            .text(&format!("{:.2e}", a.alert.p_value))
            .raw("</td><td>")
            .num(a.deliveries.len())
            .raw("</td></tr>");
    }
    h.raw("</tbody></table>");
    if history.is_empty() {
        h.raw("<p class=\"empty\">")
            .text(t("alerts.no_history"))
            .raw("</p>");
    }
    layout(StatusCode::OK, "alerts.title", "/alerts", h)
}

/// HTML 404 for unknown pages (the API answers JSON; see `lib.rs`).
pub(crate) fn not_found_page() -> Response {
    error_page(StatusCode::NOT_FOUND, "", "404")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_core::{CueType, EvidenceSpan};

    #[test]
    fn marks_drop_overlaps_and_bad_offsets() {
        let text = "Мигранти су талас. x";
        let mut l = Labels::default();
        let sp = |start, end, cue: &str| EvidenceSpan {
            start,
            end,
            cue: cue.into(),
            cue_type: Some(CueType::WaterMetaphor),
        };
        // "Мигранти" is 16 bytes; "талас" starts at byte 22.
        l.relevance.evidence.push(sp(0, 16, "migrant"));
        l.collective_labelling.spans.push(sp(0, 21, "generic"));
        l.collective_labelling
            .spans
            .push(sp(1, 3, "not on a char boundary"));
        l.solutions.evidence.push(sp(22, 32, "talas"));
        l.hate.evidence.push(sp(100, 120, "out of range"));
        let m = evidence_marks(text, &l);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!((m[0].start, m[0].label), (0, "collective_labelling"));
        assert_eq!(&text[m[1].start..m[1].end], "талас");
    }
}
