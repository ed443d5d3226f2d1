//! `/incidents`: a period's incidents, each with the outlets that covered
//! it and their framing, the outlets that collectivised it, its stories;
//! analysts merge incidents and split stories out (kept for good).

use super::*;
use crate::incidents::{incidents_of, IncidentParams};

const FRAMES: [&str; 6] = [
    "hate",
    "collective_labelling",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

pub(super) async fn incidents_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let params = IncidentParams {
        q: get("q"),
        from: get("from"),
        to: get("to"),
        min_outlets: p.usize("min_outlets").ok().flatten(),
        ..Default::default()
    };
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("incidents.title"))
        .raw("</h1><p class=\"hint\">")
        .text(t("incidents.hint"))
        .raw("</p><form id=\"incidents-form\" method=\"get\" action=\"/incidents\"><label>")
        .text(t("incidents.query"))
        .raw(" <input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(p.str("q"))
        .raw("\"></label> ");
    input(&mut h, "from", "date", p.str("from"), "search.from");
    input(&mut h, "to", "date", p.str("to"), "search.to");
    input(
        &mut h,
        "min_outlets",
        "number",
        p.get("min_outlets").unwrap_or("2"),
        "incidents.min_outlets",
    );
    h.raw("<button type=\"submit\">")
        .text(t("ledger.show"))
        .raw("</button></form>");
    let report = match params.request() {
        Ok(req) => incidents_of(&s, req).await,
        Err(e) => Err(e),
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            h.raw("<p id=\"query-error\" class=\"error\">")
                .text(&e.to_string())
                .raw("</p>");
            return layout(StatusCode::BAD_REQUEST, "incidents.title", "/incidents", h);
        }
    };
    let names = source_map(&s);
    let name = |id: &str| names.get(id).map_or(id, |m| m.name.as_str()).to_string();
    h.raw("<p id=\"incident-count\" class=\"hint\">")
        .text(&format!(
            "{} {} ({} {})",
            report.incidents.len(),
            t("incidents.found"),
            report.stories,
            t("incidents.stories")
        ))
        .raw("</p>");
    if report.truncated {
        h.raw("<p class=\"error\">")
            .text(t("incidents.truncated"))
            .raw("</p>");
    }
    // Editing: the token is kept in this browser only, as for corrections.
    h.raw("<form id=\"incident-merge\"><label>")
        .text(t("correction.token"))
        .raw(" <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\"></label> <button type=\"submit\">")
        .text(t("incidents.merge"))
        .raw("</button> <span id=\"incident-result\" role=\"status\"></span></form>");
    for inc in &report.incidents {
        h.raw("<section class=\"incident\" data-incident=\"")
            .text(&inc.id)
            .raw("\"><h2><label><input type=\"checkbox\" class=\"merge-pick\" value=\"")
            .text(
                &inc.members
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .raw("\"> ")
            .text(&inc.title)
            .raw("</label></h2><p class=\"hint\">")
            .text(&format!(
                "{} – {} · {} {} · {} {}",
                fmt_time(Some(inc.first)),
                fmt_time(Some(inc.last)),
                inc.documents,
                t("incidents.stories"),
                inc.outlets.len(),
                t("incidents.outlets")
            ))
            .raw("</p>");
        if !inc.collectivising.is_empty() {
            h.raw("<p class=\"collectivising\">")
                .text(t("incidents.collectivising"))
                .raw(": ");
            for (i, o) in inc.collectivising.iter().enumerate() {
                if i > 0 {
                    h.raw(", ");
                }
                h.raw("<b>").text(&name(o)).raw("</b>");
            }
            h.raw("</p>");
        }
        h.raw("<table class=\"incident-outlets\"><thead><tr><th>")
            .text(t("ledger.outlet"))
            .raw("</th><th>")
            .text(t("incidents.stories"))
            .raw("</th>");
        for f in FRAMES {
            h.raw("<th>").text(&f.replace('_', " ")).raw("</th>");
        }
        h.raw("</tr></thead><tbody>");
        for o in &inc.outlets {
            h.raw("<tr data-source=\"")
                .text(&o.source)
                .raw("\"")
                .raw(if o.collectivising {
                    " class=\"hostile\""
                } else {
                    ""
                })
                .raw("><td>")
                .text(&name(&o.source))
                .raw("</td><td>")
                .num(o.documents)
                .raw("</td>");
            for f in FRAMES {
                h.raw("<td>")
                    .num(o.labels.get(f).copied().unwrap_or(0))
                    .raw("</td>");
            }
            h.raw("</tr>");
        }
        h.raw("</tbody></table><ol class=\"incident-members\">");
        let ids: Vec<&str> = inc.members.iter().map(|m| m.id.as_str()).collect();
        for m in &inc.members {
            let others: Vec<&str> = ids.iter().copied().filter(|i| *i != m.id).collect();
            h.raw("<li><a href=\"/documents/")
                .text(&enc(&m.id))
                .raw("\">")
                .text(&m.title)
                .raw("</a> <span class=\"hit-meta\">")
                .text(&name(&m.source))
                .raw(" · ")
                .text(&fmt_time(Some(m.time)))
                .raw("</span> ");
            badge_names(&mut h, &m.labels);
            if !others.is_empty() {
                h.raw("<button type=\"button\" class=\"incident-split\" data-doc=\"")
                    .text(&m.id)
                    .raw("\" data-from=\"")
                    .text(&others.join(" "))
                    .raw("\">")
                    .text(t("incidents.split"))
                    .raw("</button>");
            }
            h.raw("</li>");
        }
        h.raw("</ol></section>");
    }
    if report.left_out > 0 {
        h.raw("<p class=\"hint\">")
            .text(&format!("{} {}", report.left_out, t("incidents.left_out")))
            .raw("</p>");
    }
    layout(StatusCode::OK, "incidents.title", "/incidents", h)
}

/// Badges of label names (as a member carries them).
fn badge_names(h: &mut Html, labels: &[String]) {
    h.raw("<span class=\"badges\">");
    for l in labels {
        if BADGE_LABELS.contains(&l.as_str()) {
            h.raw("<span class=\"badge badge-")
                .text(l)
                .raw("\">")
                .text(&l.replace('_', " "))
                .raw("</span> ");
        }
    }
    h.raw("</span>");
}
