//! The moderation ledger's figures and evidence, and article histories
//! for complaints: computed from the state's records
//! (`mediawatch_core::ledger`), the same way for the CLI, the API and the
//! dashboard.
//!
//! Figures count only comments whose article was re-checked (the ones whose
//! removal could have been seen). Times to removal are measured to the
//! fetch that first showed the comment gone: an upper bound, as the comment
//! may have gone any time after the fetch before.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use mediawatch_core::ledger::{ArticleHistory, CheckOutcome, CommentSighting, GoneReason};
use mediawatch_core::text::escape_html;
use serde::Serialize;

use crate::ReportError;

/// Label groups the ledger counts.
pub const LEDGER_LABELS: [&str; 3] = ["hate", "offensive", "collective"];

/// One outlet's (or all outlets') moderation figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LedgerRow {
    /// Source id; `all` for the totals.
    pub source: String,
    /// Comments first seen in the period under re-checked articles.
    pub comments: u64,
    /// Of those, hateful, offensive or collectively labelling.
    pub hostile: u64,
    /// Removed by the outlet (gone while the article and its comment
    /// section were still there).
    pub removed: u64,
    /// Hostile comments removed.
    pub hostile_removed: u64,
    /// `removed / comments` (0 when there are none).
    pub share_removed: f64,
    /// `hostile_removed / hostile`.
    pub hostile_share_removed: f64,
    /// Median hours from first sighting to the fetch that showed a removed
    /// comment gone.
    pub median_hours_to_removal: Option<f64>,
    /// Still online at the final age, per label (`hate`, `offensive`,
    /// `collective`): the figure monitors write to newsrooms about.
    pub still_online: BTreeMap<String, u64>,
    /// Not yet seen at the final age and not gone (their article's last
    /// re-check is still ahead).
    pub pending: u64,
    /// Gone with their article (deleted), not counted as removals.
    pub with_article_deleted: u64,
    /// Gone with the whole comment section (closed or re-designed), not
    /// counted as removals.
    pub section_missing: u64,
}

/// Before and after a date (an intervention: a letter to the newsroom).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BeforeAfter {
    /// Source id, or `all`.
    pub source: String,
    /// Comments first seen before the date.
    pub before: LedgerRow,
    /// Comments first seen at or after it.
    pub after: LedgerRow,
}

/// The ledger of a period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LedgerReport {
    /// Period start (first sightings at or after), when bounded.
    pub from: Option<DateTime<Utc>>,
    /// Period end (exclusive), when bounded.
    pub to: Option<DateTime<Utc>>,
    /// The age at which a comment still online counts as "still online".
    pub final_age_hours: f64,
    /// One row per outlet, busiest first.
    pub outlets: Vec<LedgerRow>,
    /// All outlets together.
    pub total: LedgerRow,
    /// The comparison date, when asked for.
    pub around: Option<DateTime<Utc>>,
    /// Per outlet (and `all`), before and after `around`.
    pub comparison: Vec<BeforeAfter>,
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// The figures of a set of comments.
pub fn ledger_row<'a>(
    source: &str,
    comments: impl IntoIterator<Item = &'a CommentSighting>,
    final_age: Duration,
) -> LedgerRow {
    let mut r = LedgerRow {
        source: source.to_string(),
        still_online: LEDGER_LABELS.iter().map(|l| (l.to_string(), 0)).collect(),
        ..Default::default()
    };
    let mut hours = Vec::new();
    for c in comments {
        r.comments += 1;
        let hostile = c.hostile();
        r.hostile += u64::from(hostile);
        match c.gone_reason {
            Some(GoneReason::Removed) => {
                r.removed += 1;
                r.hostile_removed += u64::from(hostile);
                if let Some(g) = c.gone_at {
                    hours.push((g - c.first_seen).num_seconds().max(0) as f64 / 3600.0);
                }
            }
            Some(GoneReason::ArticleDeleted) => r.with_article_deleted += 1,
            Some(GoneReason::SectionMissing) => r.section_missing += 1,
            None if c.last_seen - c.first_seen >= final_age => {
                if let Some(n) = r.still_online.get_mut(c.label()) {
                    *n += 1;
                }
            }
            None => r.pending += 1,
        }
    }
    r.share_removed = share(r.removed, r.comments);
    r.hostile_share_removed = share(r.hostile_removed, r.hostile);
    r.median_hours_to_removal = median(hours);
    r
}

/// The ledger of `comments` (already limited to the period and, usually,
/// to re-checked articles). `final_age` is the last re-check age.
pub fn ledger_report(
    comments: &[CommentSighting],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    final_age: Duration,
    around: Option<DateTime<Utc>>,
) -> LedgerReport {
    let mut by: BTreeMap<&str, Vec<&CommentSighting>> = BTreeMap::new();
    for c in comments {
        by.entry(c.source_id.as_str()).or_default().push(c);
    }
    let mut outlets: Vec<LedgerRow> = by
        .iter()
        .map(|(s, cs)| ledger_row(s, cs.iter().copied(), final_age))
        .collect();
    outlets.sort_by(|a, b| b.comments.cmp(&a.comments).then(a.source.cmp(&b.source)));
    let comparison = around
        .map(|at| {
            let split = |source: &str, cs: &[&CommentSighting]| BeforeAfter {
                source: source.to_string(),
                before: ledger_row(
                    source,
                    cs.iter().copied().filter(|c| c.first_seen < at),
                    final_age,
                ),
                after: ledger_row(
                    source,
                    cs.iter().copied().filter(|c| c.first_seen >= at),
                    final_age,
                ),
            };
            let all: Vec<&CommentSighting> = comments.iter().collect();
            let mut v: Vec<BeforeAfter> = outlets
                .iter()
                .map(|o| split(&o.source, &by[o.source.as_str()]))
                .collect();
            v.push(split("all", &all));
            v
        })
        .unwrap_or_default();
    LedgerReport {
        from,
        to,
        final_age_hours: final_age.num_seconds() as f64 / 3600.0,
        total: ledger_row("all", comments, final_age),
        outlets,
        around,
        comparison,
    }
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// The evidence pack as CSV: one row per comment, every field a third
/// party needs to find and verify it.
pub fn evidence_csv<W: std::io::Write>(
    comments: &[CommentSighting],
    out: W,
) -> Result<(), ReportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "source",
        "comment_url",
        "article_id",
        "comment_id",
        "author",
        "posted",
        "label",
        "evidence",
        "text",
        "content_sha256",
        "first_seen",
        "last_seen",
        "gone_at",
        "gone_reason",
        "gone_fetch",
        "model_version",
    ])?;
    for c in comments {
        w.write_record([
            c.source_id.as_str(),
            &c.url,
            &c.article_id,
            &c.comment_id,
            c.author.as_deref().unwrap_or(""),
            &opt_time(c.posted),
            c.label(),
            c.evidence.as_deref().unwrap_or(""),
            &c.text,
            &c.content_hash,
            &c.first_seen.to_rfc3339(),
            &c.last_seen.to_rfc3339(),
            &opt_time(c.gone_at),
            c.gone_reason.map_or("", |g| g.as_str()),
            c.gone_fetch.as_deref().unwrap_or(""),
            c.model_version.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

const PAGE_STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:70em}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top;text-align:left}\
.note{color:#555}.c{border:1px solid #ccc;padding:.6em 1em;margin:1em 0}.c.gone{border-color:#b00}\
mark{background:#fd6}.meta{color:#555;font-size:90%}code{font-size:85%;word-break:break-all}\
ins{background:#cfc;text-decoration:none}del{background:#fcc}";

/// The text with the first occurrence of `evidence` marked.
fn marked(text: &str, evidence: Option<&str>) -> String {
    match evidence
        .filter(|e| !e.is_empty())
        .and_then(|e| text.find(e).map(|i| (i, e)))
    {
        Some((i, e)) => format!(
            "{}<mark>{}</mark>{}",
            escape_html(&text[..i]),
            escape_html(e),
            escape_html(&text[i + e.len()..])
        ),
        None => escape_html(text),
    }
}

/// The evidence pack as one self-contained HTML page (no scripts, no
/// external resources): the figures, then each comment with its text,
/// label, evidence span, sightings, URL and content hash.
pub fn evidence_html(title: &str, report: &LedgerReport, comments: &[CommentSighting]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{PAGE_STYLE}</style></head><body><h1>{t}</h1>",
        t = escape_html(title)
    );
    let _ = write!(
        o,
        "<p class=\"note\">Period: {} to {} (first sightings; end exclusive). Comments are re-fetched \
         with their article; \"still online\" means seen at the last re-check, {:.0} h or more after \
         first being seen. A removal time is measured to the fetch that first showed the comment gone. \
         Each text's SHA-256 (whitespace collapsed) lets anyone verify the quoted text.</p>",
        escape_html(&opt_time(report.from)),
        escape_html(&opt_time(report.to)),
        report.final_age_hours
    );
    o.push_str(
        "<table><tr><th>outlet</th><th>comments</th><th>hostile</th><th>removed</th>\
         <th>hostile removed</th><th>median hours to removal</th><th>hate still online</th>\
         <th>offensive still online</th><th>collective still online</th><th>pending</th></tr>",
    );
    for r in report.outlets.iter().chain(std::iter::once(&report.total)) {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({:.0}%)</td><td>{} ({:.0}%)</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&r.source),
            r.comments,
            r.hostile,
            r.removed,
            r.share_removed * 100.0,
            r.hostile_removed,
            r.hostile_share_removed * 100.0,
            r.median_hours_to_removal
                .map_or("-".to_string(), |h| format!("{h:.1}")),
            r.still_online.get("hate").copied().unwrap_or(0),
            r.still_online.get("offensive").copied().unwrap_or(0),
            r.still_online.get("collective").copied().unwrap_or(0),
            r.pending
        );
    }
    o.push_str("</table>");
    let _ = write!(o, "<h2>Comments ({})</h2>", comments.len());
    for c in comments {
        let _ = write!(
            o,
            "<div class=\"c{}\"><p class=\"meta\"><b>{}</b> · {} · {} · <a href=\"{u}\">{u}</a></p><p>{}</p>\
             <p class=\"meta\">First seen {} · last seen {}{} · SHA-256 <code>{}</code>{}</p></div>",
            if c.gone_at.is_some() { " gone" } else { "" },
            escape_html(c.label()),
            escape_html(&c.source_id),
            escape_html(c.author.as_deref().unwrap_or("anonymous")),
            marked(&c.text, c.evidence.as_deref()),
            c.first_seen.to_rfc3339(),
            c.last_seen.to_rfc3339(),
            match (c.gone_at, c.gone_reason) {
                (Some(g), Some(r)) => format!(
                    " · <b>gone</b> ({}) by {} [{}]",
                    r.as_str(),
                    g.to_rfc3339(),
                    escape_html(c.gone_fetch.as_deref().unwrap_or(""))
                ),
                _ => String::new(),
            },
            escape_html(&c.content_hash),
            c.model_version
                .as_deref()
                .map(|m| format!(" · labelled by {}", escape_html(m)))
                .unwrap_or_default(),
            u = escape_html(&c.url),
        );
    }
    o.push_str("</body></html>");
    o
}

/// One piece of a word diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DiffPart {
    /// `equal`, `insert` or `delete`.
    pub op: &'static str,
    /// The words (with their spacing).
    pub text: String,
}

/// Words kept around a change when a diff is shown.
const CONTEXT_WORDS: usize = 12;

/// A word-level diff of `old` to `new`; long unchanged stretches are cut to
/// [`CONTEXT_WORDS`] words each side of a change (the cut marked `…`).
pub fn word_diff(old: &str, new: &str) -> Vec<DiffPart> {
    let d = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_secs(2))
        .diff_words(old, new);
    let mut parts: Vec<DiffPart> = Vec::new();
    for ch in d.iter_all_changes() {
        let op = match ch.tag() {
            similar::ChangeTag::Equal => "equal",
            similar::ChangeTag::Insert => "insert",
            similar::ChangeTag::Delete => "delete",
        };
        match parts.last_mut() {
            Some(p) if p.op == op => p.text.push_str(ch.value()),
            _ => parts.push(DiffPart {
                op,
                text: ch.value().to_string(),
            }),
        }
    }
    let n = parts.len();
    for (i, p) in parts.iter_mut().enumerate() {
        if p.op != "equal" {
            continue;
        }
        let words: Vec<&str> = p.text.split_inclusive(char::is_whitespace).collect();
        let keep_head = if i + 1 < n { CONTEXT_WORDS } else { 0 };
        let keep_tail = if i > 0 { CONTEXT_WORDS } else { 0 };
        if words.len() > keep_head + keep_tail + 1 {
            let tail: String = words[..keep_tail].concat();
            let head: String = words[words.len() - keep_head..].concat();
            p.text = format!("{tail}… {head}");
        }
    }
    parts
}

/// Two consecutive versions compared.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VersionDiff {
    /// The older version's number.
    pub from: u32,
    /// The newer one's.
    pub to: u32,
    /// Headline diff (empty when unchanged).
    pub title: Vec<DiffPart>,
    /// Text diff (empty when unchanged).
    pub text: Vec<DiffPart>,
}

/// The diffs between each pair of consecutive versions.
pub fn version_diffs(h: &ArticleHistory) -> Vec<VersionDiff> {
    h.versions
        .windows(2)
        .map(|w| VersionDiff {
            from: w[0].n,
            to: w[1].n,
            title: if w[0].title == w[1].title {
                Vec::new()
            } else {
                word_diff(&w[0].title, &w[1].title)
            },
            text: if w[0].text == w[1].text {
                Vec::new()
            } else {
                word_diff(&w[0].text, &w[1].text)
            },
        })
        .collect()
}

fn diff_html(parts: &[DiffPart]) -> String {
    parts
        .iter()
        .map(|p| match p.op {
            "insert" => format!("<ins>{}</ins>", escape_html(&p.text)),
            "delete" => format!("<del>{}</del>", escape_html(&p.text)),
            _ => escape_html(&p.text),
        })
        .collect()
}

/// An article's history as a self-contained HTML page for a press-council
/// complaint: every check, every version with its time and hash, the
/// changes between versions, the deletion.
pub fn history_html(h: &ArticleHistory) -> String {
    let a = &h.article;
    let mut o = String::new();
    let title = h.versions.first().map_or("", |v| v.title.as_str());
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>History: {t}</title>\
         <style>{PAGE_STYLE}</style></head><body><h1>History: {t}</h1>\
         <p class=\"meta\">Source {} · <a href=\"{u}\">{u}</a> · document {} · first stored {}</p>",
        escape_html(&a.source_id),
        escape_html(&a.doc_id),
        a.first_seen.to_rfc3339(),
        t = escape_html(title),
        u = escape_html(&a.url),
    );
    if let Some(d) = a.deleted_at {
        let _ = write!(
            o,
            "<p><b>Deleted</b>: first found gone {} ({}). The stored versions below remain.</p>",
            d.to_rfc3339(),
            escape_html(a.deleted_how.as_deref().unwrap_or(""))
        );
    }
    o.push_str(
        "<h2>Fetches</h2><table><tr><th>time</th><th>HTTP</th><th>outcome</th><th>content SHA-256</th><th>note</th></tr>",
    );
    for c in &h.checks {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            c.at.to_rfc3339(),
            c.status.map(|s| s.to_string()).unwrap_or_default(),
            c.outcome.as_str(),
            escape_html(c.content_hash.as_deref().unwrap_or("")),
            escape_html(c.note.as_deref().unwrap_or(""))
        );
    }
    o.push_str("</table>");
    for d in version_diffs(h) {
        let _ = write!(o, "<h2>Changes from version {} to {}</h2>", d.from, d.to);
        if !d.title.is_empty() {
            let _ = write!(o, "<p><b>Headline:</b> {}</p>", diff_html(&d.title));
        }
        if !d.text.is_empty() {
            let _ = write!(o, "<p><b>Text:</b> {}</p>", diff_html(&d.text));
        }
    }
    for v in &h.versions {
        let _ = write!(
            o,
            "<div class=\"c\"><h2>Version {}: {}</h2><p class=\"meta\">Found {} · SHA-256 <code>{}</code></p>",
            v.n,
            escape_html(&v.title),
            v.fetched_at.to_rfc3339(),
            escape_html(&v.content_hash)
        );
        for para in v.text.split("\n\n") {
            let _ = write!(o, "<p>{}</p>", escape_html(para));
        }
        o.push_str("</div>");
    }
    o.push_str("</body></html>");
    o
}

/// An article's history as CSV: one row per fetch, with the version it
/// found (headline and text where a new version began).
pub fn history_csv<W: std::io::Write>(h: &ArticleHistory, out: W) -> Result<(), ReportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "doc_id",
        "url",
        "fetched_at",
        "http_status",
        "outcome",
        "content_sha256",
        "version",
        "title",
        "text",
        "note",
    ])?;
    let a = &h.article;
    let mut version = 0u32;
    for c in &h.checks {
        let new = h.versions.iter().find(|v| {
            v.fetched_at == c.at && matches!(c.outcome, CheckOutcome::First | CheckOutcome::Changed)
        });
        if let Some(v) = new {
            version = v.n;
        }
        w.write_record([
            a.doc_id.as_str(),
            &a.url,
            &c.at.to_rfc3339(),
            &c.status.map(|s| s.to_string()).unwrap_or_default(),
            c.outcome.as_str(),
            c.content_hash.as_deref().unwrap_or(""),
            &version.to_string(),
            new.map_or("", |v| v.title.as_str()),
            new.map_or("", |v| v.text.as_str()),
            c.note.as_deref().unwrap_or(""),
        ])?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mediawatch_core::ledger::CommentIdentity;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn c(
        source: &str,
        flags: u8,
        seen: (i64, i64),
        gone: Option<(i64, GoneReason)>,
    ) -> CommentSighting {
        CommentSighting {
            comment_id: format!("{source}-{flags}-{}-{}", seen.0, seen.1),
            article_id: "a".into(),
            source_id: source.into(),
            url: "https://a/x#c".into(),
            author: None,
            text: "Migrants are <a flood>".into(),
            posted: None,
            content_hash: "h".into(),
            identity: CommentIdentity::Hash,
            flags,
            evidence: Some("a flood".into()),
            model_version: None,
            first_seen: t(seen.0),
            last_seen: t(seen.1),
            gone_at: gone.map(|g| t(g.0)),
            gone_reason: gone.map(|g| g.1),
            gone_fetch: None,
        }
    }

    const HATE: u8 = 1 << 1;
    const COLLECTIVE: u8 = 1 << 3;

    #[test]
    fn figures_count_removals_survivors_and_pending_apart() {
        let cs = vec![
            c("a", HATE, (0, 6), Some((24, GoneReason::Removed))),
            c("a", HATE, (0, 72), None),
            c("a", COLLECTIVE, (0, 72), None),
            c("a", 0, (0, 6), Some((6, GoneReason::Removed))),
            c("a", 0, (1, 7), None),
            c("a", HATE, (0, 6), Some((24, GoneReason::ArticleDeleted))),
            c("b", 0, (0, 24), Some((72, GoneReason::SectionMissing))),
        ];
        let r = ledger_report(&cs, None, None, Duration::hours(72), None);
        let a = &r.outlets[0];
        assert_eq!((a.source.as_str(), a.comments, a.hostile), ("a", 6, 4));
        assert_eq!((a.removed, a.hostile_removed), (2, 1));
        assert!((a.share_removed - 2.0 / 6.0).abs() < 1e-9);
        assert!((a.hostile_share_removed - 0.25).abs() < 1e-9);
        assert_eq!(a.median_hours_to_removal, Some(15.0));
        assert_eq!(a.still_online["hate"], 1);
        assert_eq!(a.still_online["collective"], 1);
        assert_eq!((a.pending, a.with_article_deleted), (1, 1));
        assert_eq!(r.outlets[1].section_missing, 1);
        assert_eq!(r.total.comments, 7);
        assert!(r.comparison.is_empty());
        let r = ledger_report(&cs, None, None, Duration::hours(72), Some(t(1)));
        let all = r.comparison.last().unwrap();
        assert_eq!(
            (all.source.as_str(), all.before.comments, all.after.comments),
            ("all", 6, 1)
        );
    }

    #[test]
    fn evidence_pack_escapes_and_marks_the_span() {
        let cs = vec![c("a", HATE, (0, 72), None)];
        let r = ledger_report(&cs, None, None, Duration::hours(72), None);
        let html = evidence_html("Outlet a", &r, &cs);
        assert!(
            html.contains("Migrants are &lt;<mark>a flood</mark>&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script") && !html.contains("src="));
        let mut csv = Vec::new();
        evidence_csv(&cs, &mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.lines().nth(1).unwrap().contains(",hate,a flood,"),
            "{csv}"
        );
    }

    #[test]
    fn word_diffs_show_the_change_with_context() {
        let d = word_diff(
            "Police detain migrants at the border",
            "Police detain smugglers at the border",
        );
        let ops: Vec<_> = d.iter().map(|p| (p.op, p.text.trim())).collect();
        assert!(
            ops.contains(&("delete", "migrants")) && ops.contains(&("insert", "smugglers")),
            "{ops:?}"
        );
        let long = "word ".repeat(100);
        let d = word_diff(&format!("{long}old"), &format!("{long}new"));
        assert!(
            d[0].text.starts_with('…') && d[0].text.split_whitespace().count() <= CONTEXT_WORDS + 1,
            "{:?}",
            d[0]
        );
    }
}
