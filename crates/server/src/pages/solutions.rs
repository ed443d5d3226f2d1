//! `/solutions`: the solutions-journalism finder.

use super::*;

pub(super) async fn solutions_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
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
