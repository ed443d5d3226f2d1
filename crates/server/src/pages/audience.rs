//! `/audience`: the audience map for campaign planners.

use super::*;

pub(super) async fn audience_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let filter = (|| -> Result<FactsFilter, ApiError> {
        Ok(FactsFilter {
            from: opt_date("from", &p.get("from").map(str::to_string), false)?,
            to: opt_date("to", &p.get("to").map(str::to_string), true)?,
            source: None,
            country: p.get("country").map(str::to_string),
            lang: p.get("lang").map(str::to_string),
            query: p.get("q").map(str::to_string),
            include_undated: true,
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
    let speaker = crate::speaker_param(p.get("speaker"));
    let map = match (filter, speaker) {
        (Ok(f), Ok(sp)) => blocking(move || Ok(st.queries().audience_by(&f, min_docs, sp)?)).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("audience.title"))
        .raw("</h1><form id=\"audience-form\" method=\"get\" action=\"/audience\">");
    input(&mut h, "from", "date", p.str("from"), "search.from");
    input(&mut h, "to", "date", p.str("to"), "search.to");
    h.raw("<input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(p.str("q"))
        .raw("\"> <label>")
        .text(t("audience.speaker"))
        .raw(" <select id=\"speaker\" name=\"speaker\">");
    for (v, key) in [
        ("", "audience.speaker_any"),
        ("outlet", "speakers.role_outlet"),
        ("quoted", "speakers.role_quoted"),
        ("commenter", "speakers.role_commenter"),
        ("author", "speakers.role_author"),
    ] {
        h.raw("<option value=\"").text(v).raw("\"");
        if p.str("speaker") == v {
            h.raw(" selected");
        }
        h.raw(">").text(t(key)).raw("</option>");
    }
    h.raw("</select></label> <button type=\"submit\">")
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
