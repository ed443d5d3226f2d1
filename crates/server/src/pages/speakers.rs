//! `/speakers`: hostility by speaker role per outlet.

use super::*;
use crate::speakers::{report_of, SpeakerParams};

const ROLES: [(&str, &str); 4] = [
    ("outlet", "speakers.role_outlet"),
    ("quoted", "speakers.role_quoted"),
    ("commenter", "speakers.role_commenter"),
    ("author", "speakers.role_author"),
];

pub(super) async fn speakers_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let params = SpeakerParams {
        q: get("q"),
        from: get("from"),
        to: get("to"),
    };
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("speakers.title"))
        .raw("</h1><p class=\"hint\">")
        .text(t("speakers.hint"))
        .raw("</p><form id=\"speakers-form\" method=\"get\" action=\"/speakers\"><label>")
        .text(t("incidents.query"))
        .raw(" <input id=\"q\" name=\"q\" type=\"search\" value=\"")
        .text(p.str("q"))
        .raw("\"></label> ");
    input(&mut h, "from", "date", p.str("from"), "search.from");
    input(&mut h, "to", "date", p.str("to"), "search.to");
    h.raw("<button type=\"submit\">")
        .text(t("ledger.show"))
        .raw("</button></form>");
    let r = match report_of(&s, &params).await {
        Ok(r) => r,
        Err(e) => {
            h.raw("<p id=\"query-error\" class=\"error\">")
                .text(&e.to_string())
                .raw("</p>");
            return layout(StatusCode::BAD_REQUEST, "speakers.title", "/speakers", h);
        }
    };
    if r.truncated {
        h.raw("<p class=\"error\">")
            .text(t("speakers.truncated"))
            .raw("</p>");
    }
    let names = source_map(&s);
    h.raw("<table id=\"speakers\"><thead><tr><th>")
        .text(t("ledger.outlet"))
        .raw("</th><th>")
        .text(t("speakers.documents"))
        .raw("</th><th>")
        .text(t("speakers.hostile"))
        .raw("</th>");
    for (_, key) in ROLES {
        h.raw("<th>").text(t(key)).raw("</th>");
    }
    h.raw("<th>")
        .text(t("speakers.quoted_most"))
        .raw("</th><th>")
        .text(t("speakers.targets"))
        .raw("</th></tr></thead><tbody>");
    for row in r.outlets.iter().chain(std::iter::once(&r.total)) {
        let name = if row.source == "all" {
            t("ledger.all").to_string()
        } else {
            names
                .get(row.source.as_str())
                .map_or_else(|| row.source.clone(), |m| m.name.clone())
        };
        h.raw("<tr data-source=\"")
            .text(&row.source)
            .raw("\"><td>")
            .text(&name)
            .raw("</td><td>")
            .num(row.documents)
            .raw("</td><td>")
            .num(row.hostile_documents)
            .raw("</td>");
        for (role, _) in ROLES {
            h.raw("<td class=\"role-")
                .text(role)
                .raw("\">")
                .num(row.documents_by_role.get(role).copied().unwrap_or(0))
                .raw(" (")
                .text(&format!(
                    "{:.1}%",
                    row.share_by_role.get(role).copied().unwrap_or(0.0) * 100.0
                ))
                .raw(")</td>");
        }
        h.raw("<td>");
        for (i, (sp, n)) in row.speakers.iter().enumerate() {
            if i > 0 {
                h.raw(", ");
            }
            h.text(&format!("{sp} ({n})"));
        }
        h.raw("</td><td>");
        for (i, (tg, n)) in row.targets.iter().enumerate() {
            if i > 0 {
                h.raw(", ");
            }
            h.text(&format!("{tg} ({n})"));
        }
        h.raw("</td></tr>");
    }
    h.raw("</tbody></table>");
    layout(StatusCode::OK, "speakers.title", "/speakers", h)
}
