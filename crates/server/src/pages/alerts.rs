//! `/alerts`: saved searches and fired alerts.

use super::*;

pub(super) async fn alerts_page(State(s): State<AppState>) -> Response {
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
