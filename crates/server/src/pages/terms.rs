//! `/terms`: emerging narratives, terms rising against a background period.

use super::*;

pub(super) async fn terms_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
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
