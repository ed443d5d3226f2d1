//! `mediawatch alerts list|history|test <id>`, and the alert loop of
//! `mediawatch run`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use mediawatch_alerts::{AlertsRuntime, Evaluation, Origin};
use mediawatch_config::Config;
use mediawatch_pipeline::DataDir;
use mediawatch_state::{AlertFilter, StateBackend};
use tokio_util::sync::CancellationToken;

/// `mediawatch alerts`.
#[derive(clap::Args, Debug)]
pub(crate) struct AlertsArgs {
    #[command(subcommand)]
    pub action: AlertsAction,
}

#[derive(Subcommand, Debug)]
pub(crate) enum AlertsAction {
    /// Saved searches (config file and API) with their rules.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Fired alerts, newest first, with each channel's delivery outcome.
    History {
        /// Only this saved search.
        #[arg(long)]
        search: Option<String>,
        /// Only alerts fired since this date (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only alerts with a failed delivery.
        #[arg(long)]
        failed: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate a saved search's rule now (dry run: nothing is recorded or sent).
    Test {
        /// Saved search id.
        id: String,
        /// Evaluate as of this time instead of now (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        at: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// The runtime over the data directory's index and state, with the
/// config's channels and saved searches.
pub(crate) fn runtime(
    config: &Config,
    queries: impl Into<mediawatch_query::Queries>,
    state: Arc<dyn StateBackend>,
) -> Result<AlertsRuntime> {
    AlertsRuntime::new(
        queries,
        state,
        config.alerts.clone(),
        config.saved_searches.clone(),
    )
    .context("setting up alerts")
}

/// Starts the alert loop (when enabled and some search has a rule); it
/// stops when `cancel` is cancelled.
pub(crate) fn start_loop(
    config: &Config,
    queries: impl Into<mediawatch_query::Queries>,
    state: Arc<dyn StateBackend>,
    cancel: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    if !config.alerts.enabled {
        return Ok(None);
    }
    let rt = runtime(config, queries, state)?;
    Ok(Some(tokio::spawn(rt.run(cancel))))
}

/// `1d 6h`-style duration.
fn dur(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let parts = [
        (s / 86_400, "d"),
        (s / 3600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(v, _)| *v > 0)
        .map(|(v, u)| format!("{v}{u}"))
        .collect();
    if text.is_empty() {
        "0s".into()
    } else {
        text.join(" ")
    }
}

fn print_evaluation(out: &mut impl Write, e: &Evaluation) -> Result<()> {
    let pct = |v: f64| {
        if e.metric == "volume" {
            format!("{v:.1}")
        } else {
            format!("{:.1}%", v * 100.0)
        }
    };
    writeln!(
        out,
        "{}  {}  window {} .. {}{}",
        e.search_id,
        e.metric,
        e.window_start.to_rfc3339(),
        e.window_end.to_rfc3339(),
        if e.partial { " (in progress)" } else { "" }
    )?;
    writeln!(
        out,
        "  observed {}  baseline {} ({} windows)  z = {:.2}  p = {:.3e}  -> {}",
        pct(e.observed),
        pct(e.baseline),
        e.baseline_windows,
        e.statistic,
        e.p_value,
        if e.fires { "WOULD FIRE" } else { "quiet" }
    )?;
    writeln!(out, "  test: {}", e.test)?;
    for c in &e.checks {
        writeln!(
            out,
            "  [{}] {}: {}",
            if c.passed { "ok" } else { "--" },
            c.name,
            c.detail
        )?;
    }
    Ok(())
}

pub(crate) fn alerts(config: &Config, data_dir: &Path, action: AlertsAction) -> Result<()> {
    let data = DataDir::existing(data_dir);
    let index = data.open_index()?;
    let state = data.open_state(&config.state)?;
    let rt = runtime(config, index, state)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match action {
        AlertsAction::List { json } => {
            let searches = rt.searches()?;
            if json {
                serde_json::to_writer_pretty(&mut out, &searches)?;
                writeln!(out)?;
                return Ok(());
            }
            for s in &searches {
                let rule = s
                    .search
                    .alert
                    .as_ref()
                    .map_or("no alert rule".to_string(), |r| {
                        format!(
                            "{} per {}, baseline {}, p < {}, cooldown {}, channels [{}]",
                            r.metric,
                            dur(r.window),
                            dur(r.baseline),
                            r.significance,
                            dur(r.cooldown),
                            r.channels.join(", ")
                        )
                    });
                writeln!(
                    out,
                    "{:<24} {:<6} {:<8} {}  query {:?}{}{}{}\n{:<24} {rule}",
                    s.search.id,
                    match s.origin {
                        Origin::Config => "config",
                        Origin::Api => "api",
                    },
                    if s.search.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    s.search.name,
                    s.search.query,
                    s.search
                        .country
                        .as_deref()
                        .map(|c| format!(" country {c}"))
                        .unwrap_or_default(),
                    s.search
                        .source
                        .as_deref()
                        .map(|c| format!(" source {c}"))
                        .unwrap_or_default(),
                    s.search
                        .lang
                        .as_deref()
                        .map(|c| format!(" lang {c}"))
                        .unwrap_or_default(),
                    ""
                )?;
            }
            if searches.is_empty() {
                writeln!(out, "no saved searches (add [[saved_searches]] to the config, or POST /api/saved-searches)")?;
            }
        }
        AlertsAction::History {
            search,
            since,
            failed,
            limit,
            json,
        } => {
            let filter = AlertFilter {
                search_id: search,
                since: super::parse_opt_date("since", &since, false)?,
                until: None,
                failed_only: failed,
                limit: Some(limit),
                ..Default::default()
            };
            let alerts = rt.history(&filter)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &alerts)?;
                writeln!(out)?;
                return Ok(());
            }
            for a in &alerts {
                writeln!(
                    out,
                    "#{} {} {} {}  window {} .. {}  observed {:.3} baseline {:.3} z {:.2} p {:.2e}",
                    a.id,
                    a.alert.fired_at.to_rfc3339(),
                    a.alert.search_id,
                    a.alert.metric,
                    a.alert.window_start.to_rfc3339(),
                    a.alert.window_end.to_rfc3339(),
                    a.alert.observed,
                    a.alert.baseline,
                    a.alert.statistic,
                    a.alert.p_value
                )?;
                for d in &a.deliveries {
                    writeln!(
                        out,
                        "    {} {} ({} attempt{}){}",
                        if d.ok { "sent  " } else { "FAILED" },
                        d.channel,
                        d.attempts,
                        if d.attempts == 1 { "" } else { "s" },
                        d.error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )?;
                }
            }
            if alerts.is_empty() {
                writeln!(out, "no alerts")?;
            }
        }
        AlertsAction::Test { id, at, json } => {
            let at = super::parse_opt_date("at", &at, false)?.unwrap_or_else(chrono::Utc::now);
            let e = rt.evaluate_dry(&id, at)?;
            if json {
                serde_json::to_writer_pretty(&mut out, &e)?;
                writeln!(out)?;
            } else {
                print_evaluation(&mut out, &e)?;
            }
        }
    }
    Ok(())
}
