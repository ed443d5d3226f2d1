//! `/search`: the search page, its filters, facets and paging.

use super::*;

pub(super) const SEARCH_KEYS: [&str; 8] = [
    "q", "country", "source", "lang", "sort", "collapse", "from", "to",
];

/// The search parameters of `p` as a query string, with `set` replacing
/// (or adding) one of them.
pub(super) fn search_query(p: &Params, set: Option<(&str, &str)>) -> String {
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

pub(super) struct SearchOutcome {
    results: mediawatch_index::SearchResults,
    facets: Facets,
}

#[derive(Default)]
pub(super) struct Facets {
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

pub(super) fn run_search(s: &AppState, req: SearchRequest) -> Result<SearchOutcome, ApiError> {
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

pub(super) async fn search_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
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
        if hit.date_source != mediawatch_core::DateSource::Published {
            // Its trend date is not a publication date: say which.
            h.raw("<span class=\"undated\" title=\"")
                .text(t("search.date_source_hint"))
                .raw("\">")
                .text(t(match hit.date_source {
                    mediawatch_core::DateSource::Modified => "search.dated_modified",
                    _ => "search.undated",
                }))
                .raw("</span> · ");
        }
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
