//! Evaluating one saved search: read the fact rows of the window and its
//! baseline from the index (what `/api/report` counts), bucket them into
//! windows, run the test of [`crate::stats`], and check the minimum counts
//! and the effect-size floor.
//!
//! Windows are aligned to whole multiples of the rule's `window` since the
//! Unix epoch (UTC), so a window has one identity across evaluations and
//! restarts: that start time is part of the alert's unique key. While the
//! current window is still running its count so far is compared with whole
//! baseline windows, which is conservative for volume (it fires only once
//! the partial count is already significant) and neutral for shares.

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use mediawatch_config::{AlertMetric, AlertRule, SavedSearchConfig};
use mediawatch_index::{DocFacts, FactsFilter};
use mediawatch_query::Queries;
use serde::Serialize;

use crate::stats::{share_test, volume_test, ShareStats, VolumeStats};
use crate::AlertsError;

/// A test description, stated in every evaluation and notification.
pub const VOLUME_TEST: &str = "one-sided quasi-Poisson test: p = P(Poisson(λ/φ) ≥ x/φ), \
λ = mean of the baseline windows, φ = max(1, variance/mean)·(1 + 1/N)";
/// A test description, stated in every evaluation and notification.
pub const SHARE_TEST: &str = "one-sided two-proportion z-test (pooled standard error) of the \
window share against the baseline share, z divided by sqrt of the baseline's quasi-binomial \
dispersion; p = 1 − Φ(z)";

/// The window a rule tests at `now`: `[start, end)` aligned to multiples of
/// the window length since the epoch. `None` for a zero-length window or
/// a time out of range.
pub fn current_window(
    rule: &AlertRule,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let w = i64::try_from(rule.window.as_secs())
        .ok()
        .filter(|w| *w > 0)?;
    let start = now.timestamp().div_euclid(w) * w;
    Some((
        Utc.timestamp_opt(start, 0).single()?,
        Utc.timestamp_opt(start.checked_add(w)?, 0).single()?,
    ))
}

/// One condition of the rule and whether it held.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `significance`, `min_count`, `min_documents`, `min_ratio` or
    /// `min_increase`.
    pub name: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// The numbers compared.
    pub detail: String,
}

/// The test result of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TestStats {
    /// Volume test.
    Volume(VolumeStats),
    /// Share test.
    Share(ShareStats),
}

/// Everything computed for one saved search and one window.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// Saved search id.
    pub search_id: String,
    /// `volume` or `share:<label>`.
    pub metric: String,
    /// The test, in words.
    pub test: &'static str,
    /// Window start (inclusive).
    pub window_start: DateTime<Utc>,
    /// Window end (exclusive).
    pub window_end: DateTime<Utc>,
    /// When evaluated.
    pub evaluated_at: DateTime<Utc>,
    /// Whether the window was still running.
    pub partial: bool,
    /// Baseline windows compared with.
    pub baseline_windows: usize,
    /// Start of the baseline.
    pub baseline_start: DateTime<Utc>,
    /// Observed value: the count (volume) or share (share).
    pub observed: f64,
    /// Baseline value: the mean count (volume) or pooled share (share).
    pub baseline: f64,
    /// Test statistic (z).
    pub statistic: f64,
    /// One-sided p-value.
    pub p_value: f64,
    /// Significance level of the rule.
    pub significance: f64,
    /// Full test figures.
    pub stats: TestStats,
    /// Every condition of the rule.
    pub checks: Vec<Check>,
    /// Whether every check passed (the rule fires, cooldown aside).
    pub fires: bool,
}

/// Per-window tallies: documents, classified documents, documents with
/// the label.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    docs: u64,
    labelled: u64,
    with_label: u64,
}

/// Counts rows per window; `windows` tallies, index 0 the oldest baseline
/// window, the last one the tested window.
fn tally(
    rows: &[DocFacts],
    first_start: i64,
    window_secs: i64,
    windows: usize,
    label: Option<usize>,
    dedup: bool,
) -> Vec<Tally> {
    let mut out = vec![Tally::default(); windows];
    // With dedup, a cluster counts once per window; it carries the label if
    // any copy does (copies of one syndicated story rarely differ).
    let mut clusters: HashMap<(usize, &str), (bool, bool)> = HashMap::new();
    for r in rows {
        let offset = r.time.timestamp() - first_start;
        if offset < 0 {
            continue;
        }
        let Ok(i) = usize::try_from(offset / window_secs) else {
            continue;
        };
        if i >= windows {
            continue;
        }
        let has = label.is_some_and(|l| r.flags.get(l).copied().unwrap_or(false));
        if dedup && !r.cluster.is_empty() {
            let e = clusters.entry((i, r.cluster.as_str())).or_default();
            e.0 |= r.labelled;
            e.1 |= has;
        } else if let Some(t) = out.get_mut(i) {
            t.docs += 1;
            t.labelled += u64::from(r.labelled);
            t.with_label += u64::from(has);
        }
    }
    for ((i, _), (labelled, has)) in clusters {
        if let Some(t) = out.get_mut(i) {
            t.docs += 1;
            t.labelled += u64::from(labelled);
            t.with_label += u64::from(has);
        }
    }
    out
}

fn facts_filter(search: &SavedSearchConfig) -> FactsFilter {
    FactsFilter {
        from: None,
        to: None,
        source: search.source.clone().filter(|v| !v.is_empty()),
        country: search.country.clone().filter(|v| !v.is_empty()),
        lang: search.lang.clone().filter(|v| !v.is_empty()),
        query: Some(search.query.clone()).filter(|q| !q.trim().is_empty()),
        // A crawl day must not fire an alert: documents that stated no
        // date are not counted.
        include_undated: false,
    }
}

/// Checks that the search's query parses, by running it over an empty time
/// range.
pub fn check_query(queries: &Queries, search: &SavedSearchConfig) -> Result<(), AlertsError> {
    let t0 = Utc.timestamp_opt(0, 0).single().unwrap_or_default();
    let filter = FactsFilter {
        from: Some(t0),
        to: Some(t0),
        ..facts_filter(search)
    };
    queries
        .facts(&filter)
        .map(|_| ())
        .map_err(AlertsError::from)
}

/// Evaluates `rule` for `search` on the window `[start, start + window)`,
/// as seen at `now`. Blocking (an index scan): call it off async workers.
pub fn evaluate_window(
    queries: &Queries,
    search: &SavedSearchConfig,
    rule: &AlertRule,
    window_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Evaluation, AlertsError> {
    let bad = |what: &str| AlertsError::InvalidRule {
        search: search.id.clone(),
        reason: what.to_string(),
    };
    let w = i64::try_from(rule.window.as_secs())
        .ok()
        .filter(|w| *w > 0)
        .ok_or_else(|| bad("window must be greater than zero"))?;
    let n = usize::try_from(rule.baseline_windows())
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad("baseline must hold at least one window"))?;
    let span = w
        .checked_mul(i64::try_from(n).unwrap_or(i64::MAX))
        .ok_or_else(|| bad("baseline too long"))?;
    let ws = window_start.timestamp();
    let first = ws
        .checked_sub(span)
        .ok_or_else(|| bad("baseline too long"))?;
    let to_ts = |t: i64| {
        Utc.timestamp_opt(t, 0)
            .single()
            .ok_or_else(|| bad("time out of range"))
    };
    let baseline_start = to_ts(first)?;
    let window_end = to_ts(ws.checked_add(w).ok_or_else(|| bad("window too long"))?)?;
    let filter = FactsFilter {
        from: Some(baseline_start),
        to: Some(window_end),
        ..facts_filter(search)
    };
    let rows = queries.facts(&filter)?;
    let label = rule.metric.label_index();
    if matches!(rule.metric, AlertMetric::Share(_)) && label.is_none() {
        return Err(bad("unknown label"));
    }
    let tallies = tally(&rows, first, w, n + 1, label, rule.dedup);
    let (base, cur) = tallies.split_at(n);
    let cur = cur.first().copied().unwrap_or_default();
    let mut checks = Vec::new();
    let (observed, baseline, statistic, p_value, stats, test) = match &rule.metric {
        AlertMetric::Volume => {
            let counts: Vec<u64> = base.iter().map(|t| t.docs).collect();
            let s = volume_test(cur.docs, &counts);
            checks.push(Check {
                name: "min_count",
                passed: cur.docs >= rule.min_count,
                detail: format!(
                    "{} documents in the window (need {})",
                    cur.docs, rule.min_count
                ),
            });
            let floor = rule.min_ratio * s.baseline_mean;
            checks.push(Check {
                name: "min_ratio",
                passed: cur.docs as f64 >= floor,
                detail: format!(
                    "{} documents vs {:.2} = {} × baseline mean {:.2}",
                    cur.docs, floor, rule.min_ratio, s.baseline_mean
                ),
            });
            (
                cur.docs as f64,
                s.baseline_mean,
                s.z,
                s.p_value,
                TestStats::Volume(s),
                VOLUME_TEST,
            )
        }
        AlertMetric::Share(_) => {
            let per_window: Vec<(u64, u64)> =
                base.iter().map(|t| (t.with_label, t.labelled)).collect();
            let s = share_test(cur.with_label, cur.labelled, &per_window);
            checks.push(Check {
                name: "min_documents",
                passed: s.window_documents >= rule.min_documents
                    && s.baseline_documents >= rule.min_documents,
                detail: format!(
                    "{} classified documents in the window, {} in the baseline (need {} each)",
                    s.window_documents, s.baseline_documents, rule.min_documents
                ),
            });
            checks.push(Check {
                name: "min_count",
                passed: s.window_labelled >= rule.min_count,
                detail: format!(
                    "{} labelled documents in the window (need {})",
                    s.window_labelled, rule.min_count
                ),
            });
            let rise = s.window_share - s.baseline_share;
            checks.push(Check {
                name: "min_increase",
                passed: rise >= rule.min_increase,
                detail: format!(
                    "share {:.3} vs baseline {:.3}: +{:.3} (need +{})",
                    s.window_share, s.baseline_share, rise, rule.min_increase
                ),
            });
            (
                s.window_share,
                s.baseline_share,
                s.z,
                s.p_value,
                TestStats::Share(s),
                SHARE_TEST,
            )
        }
    };
    checks.insert(
        0,
        Check {
            name: "significance",
            passed: p_value < rule.significance,
            detail: format!("p = {p_value:.3e} (need < {})", rule.significance),
        },
    );
    let fires = checks.iter().all(|c| c.passed);
    Ok(Evaluation {
        search_id: search.id.clone(),
        metric: rule.metric.to_string(),
        test,
        window_start,
        window_end,
        evaluated_at: now,
        partial: now < window_end,
        baseline_windows: n,
        baseline_start,
        observed,
        baseline,
        statistic,
        p_value,
        significance: rule.significance,
        stats,
        checks,
        fires,
    })
}
