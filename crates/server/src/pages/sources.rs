//! `/sources`: the configured sources and their health.

use super::*;

pub(super) async fn sources_page(State(s): State<AppState>) -> Response {
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
