//! The audience map for campaign planners: which outlets and audience
//! segments carry hostile or collective coverage of migration and little
//! recognition, i.e. where a campaign reaches beyond the already convinced.
//!
//! Only documents about migration (relevance flag) count: an outlet's sports
//! pages must not dilute its migration coverage. Per outlet:
//! - `hostile_share`: share of its migration documents with hate, offensive
//!   language, collective labelling or threat framing;
//! - `positive_share`: share with recognition or solutions framing;
//! - `unsensitized_index = hostile_share × (1 − positive_share)`, in 0..1:
//!   high when hostile framing dominates *and* recognition is rare.
//!
//! Segments (audience tags, scopes, countries) combine their outlets' shares
//! weighted by reach: an outlet with ten times the readers counts ten times.
//! Outlets without a configured reach weigh as the median configured reach
//! (or all weigh 1 when none has one), so a missing figure neither erases
//! nor dominates an outlet. Outlets with fewer than `min_documents`
//! migration documents are flagged `low_sample` and ranked after the rest:
//! two articles are no basis for a campaign decision.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mediawatch_core::SourceMeta;
use serde::Serialize;

use crate::DocFacts;

// Flag positions in `mediawatch_core::LABEL_NAMES`.
const RELEVANT: usize = 0;
const HATE: usize = 1;
const OFFENSIVE: usize = 2;
const COLLECTIVE: usize = 3;
const THREAT: usize = 4;
const RECOGNITION: usize = 6;
const SOLUTIONS: usize = 7;

/// Default minimum of migration documents for an outlet to be ranked normally.
pub const DEFAULT_MIN_DOCUMENTS: u64 = 5;

/// One outlet on the map.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct OutletRow {
    /// 1-based rank, most unsensitized first.
    pub rank: usize,
    /// Source id.
    pub source: String,
    /// Outlet name.
    pub name: String,
    /// Country code.
    pub country: String,
    /// National, regional, local or social.
    pub scope: String,
    /// Audience tags from the config.
    pub audience: Vec<String>,
    /// Configured reach, if any.
    pub reach: Option<u64>,
    /// Migration documents.
    pub documents: u64,
    /// Documents with hate, offensive language, collective labelling or threat framing.
    pub hostile: u64,
    /// Documents with recognition or solutions framing.
    pub positive: u64,
    /// hostile / documents.
    pub hostile_share: f64,
    /// Collective labelling / documents.
    pub collective_share: f64,
    /// Hate or offensive / documents.
    pub hate_share: f64,
    /// Threat framing / documents.
    pub threat_share: f64,
    /// positive / documents.
    pub positive_share: f64,
    /// hostile_share × (1 − positive_share).
    pub unsensitized_index: f64,
    /// Fewer than the minimum documents: ranked after the others.
    pub low_sample: bool,
}

/// One audience segment on the map.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SegmentRow {
    /// 1-based rank, most unsensitized first.
    pub rank: usize,
    /// `audience:<tag>`, `scope:<scope>` or `country:<CC>`.
    pub segment: String,
    /// Outlets in the segment with migration documents.
    pub outlets: usize,
    /// Sum of the outlets' reach weights.
    pub reach: f64,
    /// Migration documents of its outlets.
    pub documents: u64,
    /// Reach-weighted hostile share.
    pub hostile_share: f64,
    /// Reach-weighted positive share.
    pub positive_share: f64,
    /// hostile_share × (1 − positive_share).
    pub unsensitized_index: f64,
}

/// The whole map.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct AudienceMap {
    /// Migration documents counted.
    pub documents: u64,
    /// Outlets, ranked.
    pub outlets: Vec<OutletRow>,
    /// Segments, ranked.
    pub segments: Vec<SegmentRow>,
    /// How the figures are computed, for readers of exports.
    pub method: &'static str,
    /// When set, hostility counts only when voiced by this speaker role
    /// (`outlet`, `quoted`, `commenter`, `author`): the map of "hostility
    /// in the outlet's own voice" versus "quoted".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

const METHOD: &str = "Counts only documents about migration (relevance >= 0.5). hostile = hate, offensive, \
collective labelling or threat framing; positive = recognition or solutions. unsensitized_index = \
hostile_share * (1 - positive_share). Segments weight outlets by reach (median reach when an outlet has \
none; equal weights when no outlet has one). Outlets with few documents are flagged low_sample and ranked last.";

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn share(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        round4(n as f64 / d as f64)
    }
}

#[derive(Default)]
struct Counts {
    documents: u64,
    hostile: u64,
    positive: u64,
    collective: u64,
    hate: u64,
    threat: u64,
}

/// Builds the map from fact rows and the configured sources. Rows of
/// sources not in `sources` are counted under their id with unknown
/// metadata, so nothing silently disappears.
pub fn build_audience_map(
    rows: &[DocFacts],
    sources: &[SourceMeta],
    min_documents: u64,
) -> AudienceMap {
    build_audience_map_by(rows, sources, min_documents, None)
}

/// [`build_audience_map`] with hostility (hate, offensive, collective
/// labelling, threat) counted only in documents where `speaker` voices a
/// hostile statement; recognition and solutions count as before.
pub fn build_audience_map_by(
    rows: &[DocFacts],
    sources: &[SourceMeta],
    min_documents: u64,
    speaker: Option<mediawatch_core::SpeakerRole>,
) -> AudienceMap {
    let role_bit = speaker.map(mediawatch_core::SpeakerRole::bit);
    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut total = 0;
    for r in rows {
        if !r.labelled || !r.flags[RELEVANT] {
            continue;
        }
        total += 1;
        let c = counts.entry(r.source.as_str()).or_default();
        let f = &r.flags;
        c.documents += 1;
        // Under a speaker role, a document's hostility counts only when that
        // role voices one of its hostile statements.
        let voiced = role_bit.is_none_or(|b| r.speakers & b != 0);
        let f = &[
            f[0],
            f[HATE] && voiced,
            f[OFFENSIVE] && voiced,
            f[COLLECTIVE] && voiced,
            f[THREAT] && voiced,
            f[5],
            f[6],
            f[7],
        ];
        c.hostile += (f[HATE] || f[OFFENSIVE] || f[COLLECTIVE] || f[THREAT]) as u64;
        c.positive += (f[RECOGNITION] || f[SOLUTIONS]) as u64;
        c.collective += f[COLLECTIVE] as u64;
        c.hate += (f[HATE] || f[OFFENSIVE]) as u64;
        c.threat += f[THREAT] as u64;
    }
    let meta: BTreeMap<&str, &SourceMeta> = sources.iter().map(|s| (s.id.as_str(), s)).collect();

    let mut outlets: Vec<OutletRow> = counts
        .iter()
        .map(|(id, c)| {
            let m = meta.get(id);
            let hostile_share = share(c.hostile, c.documents);
            let positive_share = share(c.positive, c.documents);
            OutletRow {
                rank: 0,
                source: id.to_string(),
                name: m.map_or_else(|| id.to_string(), |m| m.name.clone()),
                country: m.map_or_else(String::new, |m| m.country.clone()),
                scope: m.map_or_else(String::new, |m| m.scope.as_str().to_string()),
                audience: m.map_or_else(Vec::new, |m| m.audience.clone()),
                reach: m.and_then(|m| m.reach),
                documents: c.documents,
                hostile: c.hostile,
                positive: c.positive,
                hostile_share,
                collective_share: share(c.collective, c.documents),
                hate_share: share(c.hate, c.documents),
                threat_share: share(c.threat, c.documents),
                positive_share,
                unsensitized_index: round4(hostile_share * (1.0 - positive_share)),
                low_sample: c.documents < min_documents,
            }
        })
        .collect();
    outlets.sort_by(|a, b| {
        a.low_sample
            .cmp(&b.low_sample)
            .then(b.unsensitized_index.total_cmp(&a.unsensitized_index))
            .then(b.documents.cmp(&a.documents))
            .then(a.source.cmp(&b.source))
    });
    for (i, o) in outlets.iter_mut().enumerate() {
        o.rank = i + 1;
    }

    // Reach weights: configured reach, else the median configured reach,
    // else 1 for everyone.
    let mut reaches: Vec<u64> = outlets.iter().filter_map(|o| o.reach).collect();
    reaches.sort_unstable();
    let fallback = reaches.get(reaches.len() / 2).copied().unwrap_or(1) as f64;
    let weight = |o: &OutletRow| o.reach.map_or(fallback, |r| r as f64);

    #[derive(Default)]
    struct Seg {
        outlets: usize,
        reach: f64,
        documents: u64,
        hostile: f64,
        positive: f64,
    }
    let mut segs: BTreeMap<String, Seg> = BTreeMap::new();
    for o in outlets.iter().filter(|o| !o.low_sample) {
        let w = weight(o);
        let mut keys: Vec<String> = o.audience.iter().map(|t| format!("audience:{t}")).collect();
        if !o.scope.is_empty() {
            keys.push(format!("scope:{}", o.scope));
        }
        if !o.country.is_empty() {
            keys.push(format!("country:{}", o.country));
        }
        for k in keys {
            let s = segs.entry(k).or_default();
            s.outlets += 1;
            s.reach += w;
            s.documents += o.documents;
            s.hostile += w * o.hostile_share;
            s.positive += w * o.positive_share;
        }
    }
    let mut segments: Vec<SegmentRow> = segs
        .into_iter()
        .map(|(segment, s)| {
            let h = if s.reach > 0.0 {
                s.hostile / s.reach
            } else {
                0.0
            };
            let p = if s.reach > 0.0 {
                s.positive / s.reach
            } else {
                0.0
            };
            SegmentRow {
                rank: 0,
                segment,
                outlets: s.outlets,
                reach: s.reach,
                documents: s.documents,
                hostile_share: round4(h),
                positive_share: round4(p),
                unsensitized_index: round4(h * (1.0 - p)),
            }
        })
        .collect();
    segments.sort_by(|a, b| {
        b.unsensitized_index
            .total_cmp(&a.unsensitized_index)
            .then(b.reach.total_cmp(&a.reach))
            .then(a.segment.cmp(&b.segment))
    });
    for (i, s) in segments.iter_mut().enumerate() {
        s.rank = i + 1;
    }
    AudienceMap {
        documents: total,
        outlets,
        segments,
        method: METHOD,
        speaker: speaker.map(|r| r.as_str().to_string()),
    }
}

/// Pretty JSON.
pub fn audience_json(m: &AudienceMap) -> String {
    serde_json::to_string_pretty(m).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// CSV of the outlets (one row each), then the segments after a blank line.
pub fn audience_csv(m: &AudienceMap) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "rank",
        "source",
        "name",
        "country",
        "scope",
        "audience",
        "reach",
        "documents",
        "hostile_share",
        "collective_share",
        "hate_share",
        "threat_share",
        "positive_share",
        "unsensitized_index",
        "low_sample",
    ]);
    for o in &m.outlets {
        let _ = w.write_record([
            o.rank.to_string(),
            o.source.clone(),
            o.name.clone(),
            o.country.clone(),
            o.scope.clone(),
            o.audience.join("|"),
            o.reach.map(|r| r.to_string()).unwrap_or_default(),
            o.documents.to_string(),
            o.hostile_share.to_string(),
            o.collective_share.to_string(),
            o.hate_share.to_string(),
            o.threat_share.to_string(),
            o.positive_share.to_string(),
            o.unsensitized_index.to_string(),
            o.low_sample.to_string(),
        ]);
    }
    let _ = w.flush();
    let mut out = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "rank",
        "segment",
        "outlets",
        "reach",
        "documents",
        "hostile_share",
        "positive_share",
        "unsensitized_index",
    ]);
    for s in &m.segments {
        let _ = w.write_record([
            s.rank.to_string(),
            s.segment.clone(),
            s.outlets.to_string(),
            s.reach.to_string(),
            s.documents.to_string(),
            s.hostile_share.to_string(),
            s.positive_share.to_string(),
            s.unsensitized_index.to_string(),
        ]);
    }
    let _ = w.flush();
    out.push('\n');
    out.push_str(&String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default());
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Markdown: segments first (what a planner decides on), then outlets.
pub fn audience_markdown(m: &AudienceMap) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Audience map\n");
    let _ = writeln!(o, "{} migration documents. {}\n", m.documents, m.method);
    if let Some(sp) = &m.speaker {
        let _ = writeln!(
            o,
            "Hostility counted only where voiced by: **{sp}** (hostile statements attributed to that speaker role).\n"
        );
    }
    let _ = writeln!(o, "## Segments, most unsensitized first\n");
    let _ = writeln!(
        o,
        "| rank | segment | outlets | documents | hostile | positive | unsensitized index |"
    );
    let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|");
    for s in &m.segments {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {:.3} |",
            s.rank,
            md_cell(&s.segment),
            s.outlets,
            s.documents,
            pct(s.hostile_share),
            pct(s.positive_share),
            s.unsensitized_index
        );
    }
    let _ = writeln!(o, "\n## Outlets, most unsensitized first\n");
    let _ = writeln!(o, "| rank | outlet | country | scope | reach | documents | hostile | collective | hate/offensive | threat | positive | index |");
    let _ = writeln!(
        o,
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in &m.outlets {
        let name = if r.low_sample {
            format!("{} (few documents)", r.name)
        } else {
            r.name.clone()
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.3} |",
            r.rank,
            md_cell(&name),
            r.country,
            r.scope,
            r.reach.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
            r.documents,
            pct(r.hostile_share),
            pct(r.collective_share),
            pct(r.hate_share),
            pct(r.threat_share),
            pct(r.positive_share),
            r.unsensitized_index
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use mediawatch_core::{DocKind, SourceScope};

    fn row(source: &str, flags: &[usize]) -> DocFacts {
        let mut f = [false; 8];
        f[RELEVANT] = true;
        for i in flags {
            f[*i] = true;
        }
        DocFacts {
            time: chrono::Utc.timestamp_opt(1_790_000_000, 0).unwrap(),
            source: source.into(),
            country: "RS".into(),
            lang: "sr".into(),
            kind: DocKind::Article,
            flags: f,
            speakers: 0,
            labelled: true,
            cluster: String::new(),
        }
    }

    fn meta(id: &str, audience: &[&str], reach: Option<u64>) -> SourceMeta {
        SourceMeta {
            name: id.to_uppercase(),
            languages: vec!["sr".into()],
            scope: SourceScope::Local,
            audience: audience.iter().map(|s| s.to_string()).collect(),
            reach,
            ..mediawatch_testkit::source(id)
        }
    }

    #[test]
    fn hostility_can_be_counted_by_the_role_that_voices_it() {
        // Two hostile documents of one outlet: one in its own voice, one
        // quoted; one neutral.
        let mut own = row("s", &[RELEVANT, COLLECTIVE]);
        own.speakers = 1; // outlet
        let mut quoted = row("s", &[RELEVANT, HATE]);
        quoted.speakers = 1 << 1; // quoted
        let neutral = row("s", &[RELEVANT, RECOGNITION]);
        let rows = vec![own, quoted, neutral];
        let all = build_audience_map_by(&rows, &[], 1, None);
        assert_eq!(all.outlets[0].hostile, 2);
        assert_eq!(all.speaker, None);
        let q = build_audience_map_by(&rows, &[], 1, Some(mediawatch_core::SpeakerRole::Quoted));
        assert_eq!((q.outlets[0].hostile, q.outlets[0].documents), (1, 3));
        assert_eq!(q.speaker.as_deref(), Some("quoted"));
        assert!(audience_markdown(&q).contains("voiced by: **quoted**"));
        let c = build_audience_map_by(&rows, &[], 1, Some(mediawatch_core::SpeakerRole::Commenter));
        assert_eq!(c.outlets[0].hostile, 0);
        assert_eq!(
            c.outlets[0].positive, 1,
            "recognition counts whoever speaks"
        );
    }

    #[test]
    fn hostile_outlets_without_recognition_rank_first() {
        let mut rows = Vec::new();
        // tabloid: 8 of 10 hostile, none positive.
        rows.extend((0..8).map(|_| row("tabloid", &[COLLECTIVE, THREAT])));
        rows.extend((0..2).map(|_| row("tabloid", &[])));
        // mixed: 5 of 10 hostile, 5 recognising.
        rows.extend((0..5).map(|_| row("mixed", &[THREAT])));
        rows.extend((0..5).map(|_| row("mixed", &[RECOGNITION])));
        // solutions-minded: 1 hostile of 10, 6 positive.
        rows.push(row("civic", &[HATE]));
        rows.extend((0..6).map(|_| row("civic", &[SOLUTIONS])));
        rows.extend((0..3).map(|_| row("civic", &[])));
        // Two hostile articles only: flagged, ranked last despite 100 %.
        rows.extend((0..2).map(|_| row("tiny", &[HATE])));
        // Not about migration: ignored entirely.
        let mut sport = row("civic", &[THREAT]);
        sport.flags[RELEVANT] = false;
        rows.push(sport);
        let sources = [
            meta("tabloid", &["older"], Some(100_000)),
            meta("mixed", &["older", "urban"], Some(10_000)),
            meta("civic", &["urban"], None),
            meta("tiny", &["youth"], None),
        ];
        let m = build_audience_map(&rows, &sources, DEFAULT_MIN_DOCUMENTS);
        assert_eq!(m.documents, 32);
        let order: Vec<&str> = m.outlets.iter().map(|o| o.source.as_str()).collect();
        assert_eq!(order, ["tabloid", "mixed", "civic", "tiny"]);
        let t = &m.outlets[0];
        assert_eq!((t.documents, t.hostile, t.positive), (10, 8, 0));
        assert_eq!(t.unsensitized_index, 0.8);
        assert_eq!(m.outlets[1].unsensitized_index, 0.25);
        assert!(m.outlets[3].low_sample && !m.outlets[0].low_sample);
        let civic = &m.outlets[2];
        assert_eq!((civic.hostile_share, civic.positive_share), (0.1, 0.6));

        // "older" = tabloid (reach 100k, index .8) + mixed (10k, .5/.5):
        // hostile = (100k*.8 + 10k*.5)/110k, positive = 10k*.5/110k.
        let older = m
            .segments
            .iter()
            .find(|s| s.segment == "audience:older")
            .unwrap();
        let h = (100_000.0 * 0.8 + 10_000.0 * 0.5) / 110_000.0;
        let p = 10_000.0 * 0.5 / 110_000.0;
        assert!((older.hostile_share - h).abs() < 1e-4);
        assert!((older.unsensitized_index - h * (1.0 - p)).abs() < 1e-3);
        assert_eq!(m.segments[0].segment, "audience:older");
        // civic has no reach: it weighs as the median configured reach.
        let urban = m
            .segments
            .iter()
            .find(|s| s.segment == "audience:urban")
            .unwrap();
        assert_eq!(urban.outlets, 2);
        // Low-sample outlets stay out of segments.
        assert!(m.segments.iter().all(|s| s.segment != "audience:youth"));
    }

    #[test]
    fn renderers_carry_every_outlet() {
        let rows = vec![row("a|b", &[COLLECTIVE]), row("c", &[RECOGNITION])];
        let m = build_audience_map(&rows, &[], 1);
        let md = audience_markdown(&m);
        assert!(md.contains("a\\|b") && md.contains("| c |"), "{md}");
        let csv = audience_csv(&m);
        let mut r = csv::Reader::from_reader(csv.split("\n\n").next().unwrap().as_bytes());
        assert_eq!(r.records().count(), 2);
        let v: serde_json::Value = serde_json::from_str(&audience_json(&m)).unwrap();
        assert_eq!(v["outlets"][0]["source"], "a|b");
        assert_eq!(build_audience_map(&[], &[], 5).outlets.len(), 0);
    }
}
