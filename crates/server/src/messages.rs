//! Every user-visible string of the dashboard, keyed. English is the only
//! table now; a translation is one more table with the same keys (the test
//! below checks that every key the pages use exists in each table).

/// A message table: key -> text.
pub type Table = &'static [(&'static str, &'static str)];

/// English.
pub const EN: Table = &[
    ("app.name", "mediawatch"),
    ("nav.search", "Search"),
    ("nav.trends", "Trends"),
    ("nav.terms", "Top terms"),
    ("nav.audience", "Audience map"),
    ("nav.solutions", "Solutions"),
    ("nav.sources", "Sources"),
    ("nav.alerts", "Alerts"),
    ("nav.ledger", "Moderation"),
    ("nav.incidents", "Incidents"),
    ("nav.speakers", "Who speaks"),
    ("audience.speaker", "Hostility voiced by"),
    ("audience.speaker_any", "anyone"),
    ("trends.by_speaker", "Speaker role"),
    ("speakers.title", "Who speaks"),
    ("speakers.hint", "Hateful and collectively labelling statements by whose voice they are in: the outlet's own, a quoted person or institution, a commenter, a post's author; with the quoted speakers named most often and the groups targeted. A document counts under every role it has such a statement in."),
    ("speakers.documents", "Documents"),
    ("speakers.hostile", "With hostile statements"),
    ("speakers.role_outlet", "In the outlet's voice"),
    ("speakers.role_quoted", "Quoted"),
    ("speakers.role_commenter", "By commenters"),
    ("speakers.role_author", "By post authors"),
    ("speakers.quoted_most", "Quoted most"),
    ("speakers.targets", "Targets"),
    ("speakers.truncated", "More documents matched than one report reads: narrow the period."),
    ("incidents.title", "Incidents"),
    ("incidents.hint", "Stories of different outlets about one event, grouped by time, shared names and places, and similar wording (copies of one text always together). For each incident: who covered it, with which framing, and which outlets collectivised or ethnicised what others reported without it. Tick incidents and merge them, or split a story out: your edits are kept and every later grouping respects them."),
    ("incidents.min_outlets", "At least this many outlets"),
    ("incidents.found", "incident(s)"),
    ("incidents.query", "Query (empty: migration coverage)"),
    ("incidents.stories", "stories"),
    ("incidents.outlets", "outlets"),
    ("incidents.truncated", "More stories matched than one grouping reads: narrow the period."),
    ("incidents.merge", "Merge the ticked incidents"),
    ("incidents.collectivising", "Collectivised or ethnicised by"),
    ("incidents.split", "Split out"),
    ("incidents.left_out", "more incidents not shown (raise the limit or narrow the period)"),
    ("ledger.title", "Moderation ledger"),
    ("ledger.hint", "Comments under re-checked articles, by the outlet that hosts them: how many the outlet removed and how fast, and how many hateful, offensive or collectively labelling comments were still online at the last re-check. A removal time runs to the fetch that first showed the comment gone. Comments gone with a deleted article or a vanished comment section are not counted as removals."),
    ("ledger.outlet", "Outlet"),
    ("ledger.around", "Compare before/after"),
    ("ledger.show", "Show"),
    ("ledger.comments", "Comments"),
    ("ledger.hostile", "Hostile"),
    ("ledger.removed", "Removed"),
    ("ledger.hostile_removed", "Hostile removed"),
    ("ledger.median_hours", "Median hours to removal"),
    ("ledger.still_hate", "Hate still online"),
    ("ledger.still_offensive", "Offensive still online"),
    ("ledger.still_collective", "Collective still online"),
    ("ledger.pending", "Not yet at the last re-check"),
    ("ledger.all", "All outlets"),
    ("ledger.final_age", "Still online means seen at the last re-check, at least"),
    ("ledger.truncated", "More comments matched than one page reads: narrow the period or pick an outlet."),
    ("ledger.comparison", "Before and after"),
    ("ledger.period", "Period"),
    ("ledger.before", "before"),
    ("ledger.after", "after"),
    ("ledger.evidence", "Evidence pack (hostile comments)"),
    ("history.title", "History"),
    ("history.deleted", "Deleted: first found gone"),
    ("history.time", "Fetched"),
    ("history.status", "HTTP"),
    ("history.outcome", "Outcome"),
    ("history.hash", "Content SHA-256"),
    ("history.changes", "Changes, version"),
    ("history.headline", "Headline"),
    ("history.text", "Text"),
    ("history.export", "History for a complaint"),
    ("history.json", "JSON"),
    ("nav.api", "API"),
    ("search.title", "Search"),
    ("search.placeholder", "migrants OR refugees, \"near words\"~3, country:RS hate>0.5"),
    ("search.submit", "Search"),
    ("search.any_country", "Any country"),
    ("search.any_source", "Any source"),
    ("search.any_lang", "Any language"),
    ("search.sort_relevance", "By relevance"),
    ("search.sort_date", "Newest first"),
    ("search.collapse", "Collapse syndicated copies"),
    ("search.from", "From"),
    ("search.to", "To"),
    ("search.hits", "documents"),
    ("search.no_hits", "No document matches."),
    ("search.query_error", "The query could not be run:"),
    ("search.prev", "Previous"),
    ("search.next", "Next"),
    ("search.copies", "more copies"),
    ("search.undated", "undated"),
    ("search.dated_modified", "dated by modification"),
    ("search.date_source_hint", "The page states no publication date; reports and alerts leave undated documents out unless asked"),
    ("search.original", "original"),
    ("facets.title", "Refine"),
    ("facets.source", "Source"),
    ("facets.country", "Country"),
    ("facets.language", "Language"),
    ("facets.label", "Label"),
    ("export.title", "Export"),
    ("export.csv", "CSV"),
    ("export.jsonl", "JSONL"),
    ("export.html", "HTML report"),
    ("doc.not_found", "No document with this id."),
    ("doc.source", "Source"),
    ("doc.published", "Published"),
    ("doc.modified", "Modified"),
    ("doc.date_source", "Dated by"),
    ("doc.date_published", "its publication time"),
    ("doc.date_modified", "its modification time (it states no publication time)"),
    ("doc.date_fetched", "the time it was fetched: it states no date, so reports and alerts leave it out unless asked"),
    ("doc.fetched", "Fetched"),
    ("doc.language", "Language"),
    ("doc.author", "Author"),
    ("doc.kind", "Kind"),
    ("doc.labels", "Labels"),
    ("doc.label", "Label"),
    ("doc.present", "Present"),
    ("doc.score", "Score"),
    ("doc.model", "Model"),
    ("doc.unlabelled", "Not classified yet."),
    ("doc.evidence", "Evidence spans are highlighted in the text; hover one to see its cue."),
    ("doc.yes", "yes"),
    ("doc.no", "no"),
    ("correction.title", "Correct a label"),
    ("correction.label", "Label"),
    ("correction.verdict", "The model's label is"),
    ("correction.correct", "right"),
    ("correction.wrong", "wrong"),
    ("correction.value", "Right value (optional: true/false, or a hate class / target)"),
    ("correction.note", "Note"),
    ("correction.analyst", "Your name (optional)"),
    ("correction.token", "API token (kept in this browser only)"),
    ("correction.submit", "Save correction"),
    ("correction.list", "Corrections so far"),
    ("correction.none", "None yet."),
    ("trends.title", "Trends"),
    ("trends.query", "Query (empty: all documents)"),
    ("trends.compare", "Compare with query"),
    ("trends.by", "Split by"),
    ("trends.by_none", "No split"),
    ("trends.by_source", "Outlet"),
    ("trends.by_country", "Country"),
    ("trends.by_language", "Language"),
    ("trends.by_audience", "Audience"),
    ("trends.interval", "Interval"),
    ("trends.day", "Day"),
    ("trends.week", "Week"),
    ("trends.month", "Month"),
    ("trends.label", "Count"),
    ("trends.documents", "Documents"),
    ("trends.draw", "Draw"),
    ("trends.measure", "Show"),
    ("trends.measure_share", "Share of all coverage (%)"),
    ("trends.measure_count", "Raw counts"),
    ("trends.hint", "Click a legend entry to hide or show its line."),
    ("trends.noscript", "The chart needs JavaScript; the same figures are at"),
    ("terms.title", "Top terms"),
    ("terms.hint", "Terms that rise in the period against the period just before it (Dunning G²; * = p < 0.001)."),
    ("terms.country", "Country"),
    ("terms.all", "all"),
    ("terms.term", "Term"),
    ("terms.count", "Count"),
    ("terms.background", "Before"),
    ("terms.docs", "Documents"),
    ("terms.llr", "G²"),
    ("terms.none", "No rising term in this period."),
    ("audience.title", "Audience map"),
    ("audience.rank", "Rank"),
    ("audience.outlet", "Outlet"),
    ("audience.country", "Country"),
    ("audience.scope", "Scope"),
    ("audience.tags", "Audience"),
    ("audience.documents", "Migration documents"),
    ("audience.hostile", "Hostile"),
    ("audience.positive", "Recognising"),
    ("audience.index", "Unsensitized index"),
    ("audience.low_sample", "few documents"),
    ("audience.segments", "Segments"),
    ("audience.segment", "Segment"),
    ("audience.outlets", "Outlets"),
    ("audience.reach", "Reach"),
    ("solutions.title", "Solutions stories"),
    ("solutions.hint", "Migration stories that report a response with evidence of results, best first."),
    ("solutions.words", "Topic words (optional)"),
    ("solutions.score", "solutions score"),
    ("solutions.none", "No solutions story matches."),
    ("sources.title", "Sources"),
    ("sources.id", "Id"),
    ("sources.name", "Name"),
    ("sources.country", "Country"),
    ("sources.status", "Status"),
    ("sources.items", "Items"),
    ("sources.last_success", "Last success"),
    ("sources.failing_since", "Failing since"),
    ("sources.last_error", "Last error"),
    ("sources.never", "never"),
    ("alerts.title", "Alerts"),
    ("alerts.saved", "Saved searches"),
    ("alerts.history", "Alert history"),
    ("alerts.none", "No saved search is configured. Alerts run saved searches and notify when new documents match."),
    ("alerts.no_history", "No alert has fired yet."),
    ("alerts.disabled", "disabled"),
    ("alerts.has_rule", "alert rule"),
    ("alerts.fired", "Fired"),
    ("alerts.search", "Saved search"),
    ("alerts.metric", "Metric"),
    ("alerts.observed", "Observed"),
    ("alerts.baseline", "Baseline"),
    ("alerts.p_value", "p"),
    ("alerts.deliveries", "Deliveries"),
    ("error.title", "Something went wrong"),
    ("error.bad_request", "The request is not valid:"),
];

/// Looks a key up in `table`, falling back to English and then to the key
/// itself, so a missing translation shows something recognisable instead
/// of failing.
pub fn lookup(table: Table, key: &'static str) -> &'static str {
    find(table, key).or_else(|| find(EN, key)).unwrap_or(key)
}

fn find(table: Table, key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The English text for `key`.
pub fn t(key: &'static str) -> &'static str {
    lookup(EN, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("...")` key used in the page code exists in every table.
    #[test]
    fn every_used_key_exists() {
        let src = [
            include_str!("pages/mod.rs"),
            include_str!("pages/search.rs"),
            include_str!("pages/document.rs"),
            include_str!("pages/trends.rs"),
            include_str!("pages/terms.rs"),
            include_str!("pages/audience.rs"),
            include_str!("pages/solutions.rs"),
            include_str!("pages/sources.rs"),
            include_str!("pages/alerts.rs"),
        ]
        .concat();
        let mut used = 0;
        for part in src.split("t(\"").skip(1) {
            let Some(end) = part.find('"') else { continue };
            let key = &part[..end];
            if !key.contains('.') {
                continue;
            }
            used += 1;
            assert!(find(EN, key).is_some(), "message key {key:?} missing in EN");
        }
        assert!(used > 50, "only {used} keys found: is the scan broken?");
        let mut keys: Vec<_> = EN.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(n, keys.len(), "duplicate keys in EN");
    }
}
