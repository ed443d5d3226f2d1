//! `/documents/{id}`: one document with its labels and the evidence marked in its text.

use super::*;

/// One highlighted stretch of the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Mark {
    pub start: usize,
    pub end: usize,
    pub label: &'static str,
    pub cue: String,
    /// Lower wins when marks overlap.
    pub priority: u8,
}

/// Evidence spans of all labels, as non-overlapping marks in text order.
/// Spans that do not fit the text (out of range, not on a character
/// boundary: the text may have been re-fetched since) are dropped.
pub(crate) fn evidence_marks(text: &str, l: &Labels) -> Vec<Mark> {
    let mut all = Vec::new();
    let mut add = |spans: &[mediawatch_core::EvidenceSpan], label: &'static str, priority: u8| {
        for sp in spans {
            let label = match (label, sp.cue_type) {
                ("frame", Some(mediawatch_core::CueType::Threat)) => "threat",
                ("frame", Some(mediawatch_core::CueType::Victim)) => "victim",
                ("frame", Some(mediawatch_core::CueType::Recognition)) => "recognition",
                (other, _) => other,
            };
            all.push(Mark {
                start: sp.start,
                end: sp.end,
                label,
                cue: sp.cue.clone(),
                priority,
            });
        }
    };
    add(&l.hate.evidence, "hate", 0);
    add(&l.collective_labelling.spans, "collective_labelling", 1);
    add(&l.frame.evidence, "frame", 2);
    add(&l.solutions.evidence, "solutions", 3);
    add(&l.relevance.evidence, "relevant", 4);
    all.retain(|m| {
        m.start < m.end
            && m.end <= text.len()
            && text.is_char_boundary(m.start)
            && text.is_char_boundary(m.end)
    });
    all.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.start.cmp(&b.start)));
    let mut chosen: Vec<Mark> = Vec::new();
    for m in all {
        if chosen.iter().all(|c| m.end <= c.start || m.start >= c.end) {
            chosen.push(m);
        }
    }
    chosen.sort_by_key(|m| m.start);
    chosen
}

pub(super) fn document_text(h: &mut Html, d: &Document) {
    let marks = d
        .labels
        .as_ref()
        .map(|l| evidence_marks(&d.text, l))
        .unwrap_or_default();
    let mut pos = 0;
    for m in marks {
        h.text(&d.text[pos..m.start]);
        h.raw("<mark class=\"evidence\" data-label=\"")
            .text(m.label)
            .raw("\" data-cue=\"")
            .text(&m.cue)
            .raw("\" title=\"")
            .text(&format!("{}: {}", m.label, m.cue))
            .raw("\">")
            .text(&d.text[m.start..m.end])
            .raw("</mark>");
        pos = m.end;
    }
    h.text(&d.text[pos..]);
}

pub(super) async fn document_page(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let st = s.clone();
    let doc_id = DocId::from_stored(id.clone());
    let found = blocking(move || Ok(st.queries().document(&doc_id)?)).await;
    let d = match found {
        Ok(Some(d)) => d,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "/search", t("doc.not_found")),
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "/search", &e.to_string()),
    };
    let names = source_map(&s);
    let meta = names.get(d.source_id.as_str());
    let mut h = Html::new();
    h.raw("<article class=\"document\"><h1 id=\"doc-title\">")
        .text(if d.title.trim().is_empty() {
            &d.url
        } else {
            &d.title
        })
        .raw("</h1><dl id=\"doc-meta\"><dt>")
        .text(t("doc.source"))
        .raw("</dt><dd>")
        .text(meta.map_or(d.source_id.as_str(), |m| m.name.as_str()))
        .raw(" (")
        .text(meta.map_or("", |m| m.country.as_str()))
        .raw(") · ");
    h.external_link(&d.url, t("search.original"));
    h.raw("</dd><dt>")
        .text(t("doc.published"))
        .raw("</dt><dd>")
        .text(&fmt_time(d.published))
        .raw("</dd>");
    if let Some(m) = d.modified {
        h.raw("<dt>")
            .text(t("doc.modified"))
            .raw("</dt><dd>")
            .text(&fmt_time(Some(m)))
            .raw("</dd>");
    }
    h.raw("<dt>")
        .text(t("doc.date_source"))
        .raw("</dt><dd id=\"date-source\">")
        .text(t(match d.date_source() {
            mediawatch_core::DateSource::Published => "doc.date_published",
            mediawatch_core::DateSource::Modified => "doc.date_modified",
            mediawatch_core::DateSource::Fetched => "doc.date_fetched",
        }))
        .raw("</dd><dt>")
        .text(t("doc.fetched"))
        .raw("</dt><dd>")
        .text(&fmt_time(Some(d.fetched)))
        .raw("</dd><dt>")
        .text(t("doc.language"))
        .raw("</dt><dd>")
        .text(d.lang.as_deref().unwrap_or(""))
        .raw("</dd><dt>")
        .text(t("doc.kind"))
        .raw("</dt><dd>")
        .text(d.kind.as_str())
        .raw("</dd>");
    if let Some(a) = &d.author {
        h.raw("<dt>")
            .text(t("doc.author"))
            .raw("</dt><dd>")
            .text(a)
            .raw("</dd>");
    }
    h.raw("</dl>");
    badges(&mut h, d.labels.as_ref());
    h.raw("<p class=\"hint\">")
        .text(t("doc.evidence"))
        .raw("</p><div id=\"doc-text\">");
    document_text(&mut h, &d);
    h.raw("</div></article><section class=\"labels\"><h2>")
        .text(t("doc.labels"))
        .raw("</h2>");
    match &d.labels {
        Some(l) => {
            h.raw("<table id=\"doc-labels\"><thead><tr>");
            head_row(&mut h, &["doc.label", "doc.present", "doc.score"]);
            for f in l.flags() {
                let score = if f.name == "relevant" {
                    l.relevance.score
                } else {
                    badge_score(l, f.name)
                };
                h.raw("<tr data-label=\"")
                    .text(f.name)
                    .raw("\"><td>")
                    .text(f.name)
                    .raw("</td><td>")
                    .text(if f.present { t("doc.yes") } else { t("doc.no") })
                    .raw("</td><td>")
                    .text(&format!("{score:.2}"))
                    .raw("</td></tr>");
            }
            h.raw("<tr data-label=\"hate_class\"><td>hate_class</td><td colspan=\"2\">")
                .text(l.hate.class.as_str())
                .raw("</td></tr>");
            if let Some(target) = &l.hate.target {
                h.raw("<tr data-label=\"hate_target\"><td>hate_target</td><td colspan=\"2\">")
                    .text(target)
                    .raw("</td></tr>");
            }
            h.raw("</tbody></table><p class=\"model\">")
                .text(t("doc.model"))
                .raw(": <code>")
                .text(&l.model_version)
                .raw("</code></p>");
        }
        None => {
            h.raw("<table id=\"doc-labels\"><tbody><tr><td>")
                .text(t("doc.unlabelled"))
                .raw("</td></tr></tbody></table>");
        }
    }
    h.raw("</section>");
    // Versions, edits and deletion, when the article is tracked.
    if let Ok(Some(hist)) = crate::ledger::load_history(&s, d.id.as_str()).await {
        super::ledger::history_section(&mut h, d.id.as_str(), &hist);
    }

    // Correction form: posted by dashboard.js with the token kept in
    // localStorage (a plain form post could not send the header).
    h.raw("<section class=\"corrections\"><h2>")
        .text(t("correction.title"))
        .raw("</h2><form id=\"correction-form\" data-doc-id=\"")
        .text(d.id.as_str())
        .raw("\"><label>")
        .text(t("correction.label"))
        .raw(" <select id=\"correction-label\" name=\"label\">");
    for l in mediawatch_state::CORRECTABLE_LABELS {
        h.raw("<option value=\"")
            .text(l)
            .raw("\">")
            .text(l)
            .raw("</option>");
    }
    h.raw("</select></label> <fieldset><legend>")
        .text(t("correction.verdict"))
        .raw("</legend><label><input type=\"radio\" name=\"verdict\" value=\"correct\"> ")
        .text(t("correction.correct"))
        .raw("</label> <label><input type=\"radio\" name=\"verdict\" value=\"wrong\" checked> ")
        .text(t("correction.wrong"))
        .raw("</label></fieldset><label>")
        .text(t("correction.value"))
        .raw(" <input id=\"correction-value\" name=\"value\" type=\"text\"></label><label>")
        .text(t("correction.analyst"))
        .raw(" <input id=\"correction-analyst\" name=\"analyst\" type=\"text\"></label><label>")
        .text(t("correction.note"))
        .raw(
            " <textarea id=\"correction-note\" name=\"note\" rows=\"2\"></textarea></label><label>",
        )
        .text(t("correction.token"))
        .raw(" <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\"></label>")
        .raw("<button id=\"correction-submit\" type=\"submit\">")
        .text(t("correction.submit"))
        .raw("</button></form><p id=\"correction-result\" role=\"status\"></p>");
    let filter = mediawatch_state::CorrectionFilter {
        doc_id: Some(d.id.as_str().to_string()),
        ..Default::default()
    };
    h.raw("<h3>")
        .text(t("correction.list"))
        .raw("</h3><ul id=\"corrections\">");
    match s.state.corrections(&filter) {
        Ok(list) if !list.is_empty() => {
            for c in list {
                h.raw("<li>")
                    .text(&fmt_time(Some(c.created_at)))
                    .raw(": ")
                    .text(&c.correction.label)
                    .raw(" ")
                    .text(c.correction.verdict.as_str())
                    .text(
                        &c.correction
                            .value
                            .map(|v| format!(" → {v}"))
                            .unwrap_or_default(),
                    )
                    .text(
                        &c.correction
                            .note
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default(),
                    )
                    .raw("</li>");
            }
        }
        Ok(_) => {
            h.raw("<li class=\"empty\">")
                .text(t("correction.none"))
                .raw("</li>");
        }
        Err(e) => {
            h.raw("<li class=\"error\">")
                .text(&e.to_string())
                .raw("</li>");
        }
    }
    h.raw("</ul></section>");
    layout(StatusCode::OK, "search.title", "/search", h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_core::{CueType, EvidenceSpan};

    #[test]
    fn marks_drop_overlaps_and_bad_offsets() {
        let text = "Мигранти су талас. x";
        let mut l = Labels::default();
        let sp = |start, end, cue: &str| EvidenceSpan {
            start,
            end,
            cue: cue.into(),
            cue_type: Some(CueType::WaterMetaphor),
        };
        // "Мигранти" is 16 bytes; "талас" starts at byte 22.
        l.relevance.evidence.push(sp(0, 16, "migrant"));
        l.collective_labelling.spans.push(sp(0, 21, "generic"));
        l.collective_labelling
            .spans
            .push(sp(1, 3, "not on a char boundary"));
        l.solutions.evidence.push(sp(22, 32, "talas"));
        l.hate.evidence.push(sp(100, 120, "out of range"));
        let m = evidence_marks(text, &l);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!((m[0].start, m[0].label), (0, "collective_labelling"));
        assert_eq!(&text[m[1].start..m[1].end], "талас");
    }
}
