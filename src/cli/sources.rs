//! `sources`: the configured sources, their health, checks and OPML import.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use mediawatch_config::Config;
use mediawatch_pipeline::DataDir;

use super::Ctx;

/// `mediawatch sources`.
#[derive(Args, Debug)]
pub(crate) struct SourcesArgs {
    #[command(subcommand)]
    pub action: SourcesAction,
}

#[derive(Subcommand, Debug)]
pub(crate) enum SourcesAction {
    /// Turn an OPML subscription list into `[[sources]]` entries to paste
    /// into a config (printed, nothing is changed).
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
        /// Country of the outlets (ISO 3166-1 alpha-2).
        #[arg(long)]
        country: String,
        /// Languages of the outlets (ISO 639-1), repeatable.
        #[arg(long = "lang", required = true)]
        langs: Vec<String>,
    },
    /// Configured sources with their stored health.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Fetch and parse every source now (nothing is stored) and show its health.
    Check {
        /// Only this source id.
        #[arg(long)]
        source: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `mediawatch sources ...`.
pub(crate) fn run(ctx: &Ctx, a: SourcesArgs) -> Result<()> {
    match a.action {
        SourcesAction::ImportOpml {
            file,
            country,
            langs,
        } => import_opml(&file, &country, &langs),
        action => {
            let config = ctx.config()?;
            ctx.block_on(sources(config, &ctx.data_dir, action))
        }
    }
}

pub(crate) fn import_opml(file: &Path, country: &str, langs: &[String]) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let outlines = mediawatch_ingest::parse_opml(&bytes)
        .with_context(|| format!("parsing {}", file.display()))?;
    if outlines.is_empty() {
        bail!("{}: no feeds (outlines with xmlUrl) found", file.display());
    }
    let toml = mediawatch_ingest::opml_to_sources_toml(&outlines, country, langs);
    // Check what we print the same way a config is checked, so a bad
    // --country or --lang is reported here rather than at the next start.
    Config::from_toml_str(&format!("version = 2\n{toml}"), "<imported sources>")?;
    print!("{toml}");
    eprintln!("{} sources from {}", outlines.len(), file.display());
    Ok(())
}

pub(crate) async fn sources(config: Config, data_dir: &Path, action: SourcesAction) -> Result<()> {
    let unhealthy = chrono::Duration::from_std(config.scheduler.unhealthy_after)
        .unwrap_or(chrono::Duration::days(2));
    let state = DataDir::existing(data_dir).open_state_if_exists(&config.state)?;
    let now = chrono::Utc::now();
    let health = |id: &str| -> Result<mediawatch_state::SourceHealth> {
        Ok(match &state {
            Some(s) => s.health(id, now)?,
            None => mediawatch_state::SourceHealth {
                source_id: id.to_string(),
                ..Default::default()
            },
        })
    };
    let mut out = std::io::stdout().lock();
    match action {
        SourcesAction::List { json } => {
            let mut rows = Vec::new();
            for s in &config.sources {
                let h = health(&s.id)?;
                rows.push((s, h.status(now, unhealthy), h));
            }
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(s, status, h)| serde_json::json!({"source": s.meta(), "kind": s.kind().as_str(), "url": s.url(), "enabled": s.enabled, "status": status, "health": h}))
                    .collect();
                serde_json::to_writer_pretty(&mut out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:<3} {:<8} {:<9} {:>7} {:<10} name / url",
                    "id", "cc", "langs", "scope", "items", "status"
                )?;
                for (s, status, h) in rows {
                    writeln!(
                        out,
                        "{:<24} {:<3} {:<8} {:<9} {:>7} {:<10} {} <{}>",
                        s.id,
                        s.country,
                        s.languages.join(","),
                        s.scope.as_str(),
                        h.items_total,
                        if s.enabled { status } else { "disabled" },
                        s.name,
                        s.url()
                    )?;
                    if let (Some(e), true) = (&h.last_error, h.consecutive_failures > 0) {
                        writeln!(out, "{:<24} last error: {e}", "")?;
                    }
                }
            }
        }
        // Handled before the config is loaded (it needs none); kept here so
        // the match stays exhaustive.
        SourcesAction::ImportOpml {
            file,
            country,
            langs,
        } => import_opml(&file, &country, &langs)?,
        SourcesAction::Check { source, json } => {
            let results = mediawatch_pipeline::check_sources(&config, source.as_deref()).await?;
            let mut failed = 0;
            let mut json_rows = Vec::new();
            let checked = results.len();
            for c in results {
                let (r, ms) = (c.result, c.latency.as_millis() as u64);
                let h = health(&c.source_id)?;
                if r.is_err() {
                    failed += 1;
                }
                if json {
                    json_rows.push(serde_json::json!({
                        "source": c.source_id, "ok": r.is_ok(), "items": r.as_ref().ok(),
                        "error": r.as_ref().err(), "latency_ms": ms,
                        "status": h.status(now, unhealthy), "health": h,
                    }));
                } else {
                    match &r {
                        Ok(n) => writeln!(
                            out,
                            "ok    {:<24} {n:>4} items  {ms:>5} ms   stored: {} items, status {}",
                            c.source_id,
                            h.items_total,
                            h.status(now, unhealthy)
                        )?,
                        Err(e) => writeln!(out, "FAIL  {:<24} {e}", c.source_id)?,
                    }
                }
            }
            if json {
                serde_json::to_writer_pretty(&mut out, &json_rows)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "\n{} of {} sources reachable",
                    checked - failed,
                    checked
                )?;
            }
        }
    }
    Ok(())
}
