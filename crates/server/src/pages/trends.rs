//! `/trends`: documents and label counts per period, as shares by default
//! (a query's share of all coverage of the same outlets; a label's share of
//! the labelled documents), compared queries side by side.

use super::*;

pub(super) async fn trends_page(RawQuery(raw): RawQuery) -> Response {
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
        ("speaker", "trends.by_speaker"),
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
    h.raw("</select></label> <label>")
        .text(t("trends.measure"))
        .raw(" <select id=\"measure\" name=\"measure\">");
    // Attention (a query's share of all coverage of the same outlets) by
    // default; the raw count one choice away.
    let measure = match p.str("measure") {
        "count" => "count",
        _ => "share",
    };
    for (v, key) in [
        ("share", "trends.measure_share"),
        ("count", "trends.measure_count"),
    ] {
        h.raw("<option value=\"").text(v).raw("\"");
        if measure == v {
            h.raw(" selected");
        }
        h.raw(">").text(t(key)).raw("</option>");
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
        .raw("\" data-measure=\"")
        .text(measure)
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
