//! `/ledger`: the moderation ledger: per outlet, comments seen, removed,
//! how fast, hostile comments still online; before/after a date; links to
//! the evidence packs.

use super::*;
use crate::ledger::{figures, LedgerParams};
use mediawatch_report::ledger::{LedgerRow, LEDGER_LABELS};

/// One outlet's figures; `period` (a message key) adds a first cell.
fn row(h: &mut Html, r: &LedgerRow, name: &str, period: Option<&'static str>) {
    h.raw("<tr data-source=\"").text(&r.source).raw("\">");
    if let Some(key) = period {
        h.raw("<td>").text(t(key)).raw("</td>");
    }
    h.raw("<td>")
        .text(name)
        .raw("</td><td class=\"comments\">")
        .num(r.comments)
        .raw("</td><td>")
        .num(r.hostile)
        .raw("</td><td class=\"removed\">")
        .num(r.removed)
        .raw(" (")
        .text(&format!("{:.0}%", r.share_removed * 100.0))
        .raw(")</td><td>")
        .num(r.hostile_removed)
        .raw(" (")
        .text(&format!("{:.0}%", r.hostile_share_removed * 100.0))
        .raw(")</td><td>")
        .text(
            &r.median_hours_to_removal
                .map_or("–".to_string(), |h| format!("{h:.1}")),
        )
        .raw("</td>");
    for l in LEDGER_LABELS {
        h.raw("<td class=\"still-")
            .text(l)
            .raw("\">")
            .num(r.still_online.get(l).copied().unwrap_or(0))
            .raw("</td>");
    }
    h.raw("<td>").num(r.pending).raw("</td></tr>");
}

const HEAD: [&str; 10] = [
    "ledger.outlet",
    "ledger.comments",
    "ledger.hostile",
    "ledger.removed",
    "ledger.hostile_removed",
    "ledger.median_hours",
    "ledger.still_hate",
    "ledger.still_offensive",
    "ledger.still_collective",
    "ledger.pending",
];

pub(super) async fn ledger_page(State(s): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let p = Params::parse(raw.as_deref());
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty()).map(str::to_string);
    let q = LedgerParams {
        source: get("source"),
        from: get("from"),
        to: get("to"),
        around: get("around"),
    };
    let (_, sources, _) = filter_options(&s);
    let mut h = Html::new();
    h.raw("<h1>")
        .text(t("ledger.title"))
        .raw("</h1><p class=\"hint\">")
        .text(t("ledger.hint"))
        .raw("</p><form id=\"ledger-form\" method=\"get\" action=\"/ledger\"><label>")
        .text(t("ledger.outlet"))
        .raw(" ");
    select(
        &mut h,
        "source",
        "search.any_source",
        &sources,
        p.str("source"),
    );
    h.raw("</label> ");
    input(&mut h, "from", "date", p.str("from"), "search.from");
    input(&mut h, "to", "date", p.str("to"), "search.to");
    input(&mut h, "around", "date", p.str("around"), "ledger.around");
    h.raw("<button type=\"submit\">")
        .text(t("ledger.show"))
        .raw("</button></form>");
    let answer = match figures(&s, &q).await {
        Ok(a) => a,
        Err(e) => {
            h.raw("<p id=\"query-error\" class=\"error\">")
                .text(&e.to_string())
                .raw("</p>");
            return layout(StatusCode::BAD_REQUEST, "ledger.title", "/ledger", h);
        }
    };
    let names = source_map(&s);
    let name = |id: &str| {
        names
            .get(id)
            .map_or_else(|| id.to_string(), |m| m.name.clone())
    };
    if answer.truncated {
        h.raw("<p class=\"error\">")
            .text(t("ledger.truncated"))
            .raw("</p>");
    }
    h.raw("<p class=\"hint\">")
        .text(&format!(
            "{} {:.0} h.",
            t("ledger.final_age"),
            answer.report.final_age_hours
        ))
        .raw("</p><table id=\"ledger\"><thead><tr>");
    head_row(&mut h, &HEAD);
    for r in &answer.report.outlets {
        row(&mut h, r, &name(&r.source), None);
    }
    row(&mut h, &answer.report.total, t("ledger.all"), None);
    h.raw("</tbody></table>");
    if !answer.report.comparison.is_empty() {
        h.raw("<h2>")
            .text(t("ledger.comparison"))
            .raw(" ")
            .text(p.str("around"))
            .raw("</h2><table id=\"ledger-comparison\"><thead><tr><th>")
            .text(t("ledger.period"))
            .raw("</th>");
        head_row(&mut h, &HEAD);
        for c in &answer.report.comparison {
            let n = if c.source == "all" {
                t("ledger.all").to_string()
            } else {
                name(&c.source)
            };
            row(&mut h, &c.before, &n, Some("ledger.before"));
            row(&mut h, &c.after, &n, Some("ledger.after"));
        }
        h.raw("</tbody></table>");
    }
    let mut base = String::new();
    for k in ["source", "from", "to"] {
        if let Some(v) = get(k) {
            base.push_str(&format!("{k}={}&", enc(&v)));
        }
    }
    h.raw("<p class=\"exports\">")
        .text(t("ledger.evidence"))
        .raw(": ");
    for (id, fmt, key) in [
        ("evidence-html", "html", "export.html"),
        ("evidence-csv", "csv", "export.csv"),
    ] {
        h.raw("<a id=\"")
            .text(id)
            .raw("\" href=\"/api/ledger/evidence?")
            .text(&base)
            .raw("format=")
            .text(fmt)
            .raw("\" download>")
            .text(t(key))
            .raw("</a> ");
    }
    h.raw("</p>");
    layout(StatusCode::OK, "ledger.title", "/ledger", h)
}

/// The history section of a document page: versions, changes, deletion,
/// and the export for a complaint. Nothing when the article is not tracked.
pub(super) fn history_section(
    h: &mut Html,
    id: &str,
    hist: &mediawatch_core::ledger::ArticleHistory,
) {
    use mediawatch_report::ledger::version_diffs;
    h.raw("<section id=\"history\" class=\"history\"><h2>")
        .text(t("history.title"))
        .raw("</h2>");
    if let Some(d) = hist.article.deleted_at {
        h.raw("<p id=\"history-deleted\" class=\"error\">")
            .text(t("history.deleted"))
            .raw(" ")
            .text(&fmt_time(Some(d)))
            .raw(" (")
            .text(hist.article.deleted_how.as_deref().unwrap_or(""))
            .raw(")</p>");
    }
    h.raw("<table id=\"history-checks\"><thead><tr>");
    head_row(
        h,
        &[
            "history.time",
            "history.status",
            "history.outcome",
            "history.hash",
        ],
    );
    for c in &hist.checks {
        h.raw("<tr data-outcome=\"")
            .text(c.outcome.as_str())
            .raw("\"><td>")
            .text(&fmt_time(Some(c.at)))
            .raw("</td><td>")
            .text(&c.status.map(|s| s.to_string()).unwrap_or_default())
            .raw("</td><td>")
            .text(c.outcome.as_str())
            .raw("</td><td><code>")
            .text(
                c.content_hash
                    .as_deref()
                    .map_or("", |h| &h[..h.len().min(16)]),
            )
            .raw("</code></td></tr>");
    }
    h.raw("</tbody></table>");
    for d in version_diffs(hist) {
        h.raw("<div class=\"diff\" data-from=\"")
            .num(u64::from(d.from))
            .raw("\" data-to=\"")
            .num(u64::from(d.to))
            .raw("\"><h3>")
            .text(&format!("{} {} → {}", t("history.changes"), d.from, d.to))
            .raw("</h3>");
        for (key, parts) in [("history.headline", &d.title), ("history.text", &d.text)] {
            if parts.is_empty() {
                continue;
            }
            h.raw("<p><b>").text(t(key)).raw(":</b> ");
            for part in parts {
                match part.op {
                    "insert" => h.raw("<ins>").text(&part.text).raw("</ins>"),
                    "delete" => h.raw("<del>").text(&part.text).raw("</del>"),
                    _ => h.text(&part.text),
                };
            }
            h.raw("</p>");
        }
        h.raw("</div>");
    }
    h.raw("<p class=\"exports\">")
        .text(t("history.export"))
        .raw(": ");
    for (fmt, key) in [
        ("html", "export.html"),
        ("csv", "export.csv"),
        ("json", "history.json"),
    ] {
        h.raw("<a id=\"history-")
            .text(fmt)
            .raw("\" href=\"/api/documents/")
            .text(&enc(id))
            .raw("/history?format=")
            .text(fmt)
            .raw("\" download>")
            .text(t(key))
            .raw("</a> ");
    }
    h.raw("</p></section>");
}
