//! `mediawatch revisit`, `mediawatch ledger` and `mediawatch history`: the
//! moderation ledger and article histories from the command line (the
//! same figures and files as `/api/ledger`, `/api/ledger/evidence` and
//! `/api/documents/{id}/history`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::{Args, ValueEnum};
use mediawatch_core::ledger::CommentSighting;
use mediawatch_pipeline::{DataDir, Pipeline};
use mediawatch_report::ledger::{
    evidence_csv, evidence_html, history_csv, history_html, ledger_report, version_diffs,
};
use mediawatch_state::{load_sightings, SightingFilter};
use tokio_util::sync::CancellationToken;

use super::Ctx;

/// `mediawatch revisit`.
#[derive(Args, Debug)]
pub struct RevisitArgs {
    /// Print the round's counts as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs one round of due re-checks now (what `mediawatch run` does every
/// `revisit.check_every`).
pub(crate) fn revisit_cmd(ctx: &Ctx, a: RevisitArgs) -> Result<()> {
    let config = ctx.config()?;
    if !config.revisit.enabled {
        bail!("re-checks are off: set [revisit] enabled = true in the config");
    }
    let classifier = mediawatch_classify::build::build_classifier(&config.classifier)?;
    let pipeline = Arc::new(Pipeline::open(config, &ctx.data_dir)?.with_classifier(classifier));
    ctx.block_on(async move {
        let cancel = CancellationToken::new();
        super::run::shutdown_on_signal(cancel.clone());
        let r = pipeline.revisit_once(Utc::now(), &cancel).await?;
        let mut out = std::io::stdout().lock();
        if a.json {
            serde_json::to_writer_pretty(&mut out, &r)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "re-checked {}: {} not modified, {} unchanged, {} changed, {} deleted, {} failed; \
                 comments: {} new, {} still online, {} gone",
                r.checked,
                r.not_modified,
                r.unchanged,
                r.changed,
                r.deleted,
                r.failed,
                r.comments_new,
                r.comments_online,
                r.comments_gone
            )?;
            for m in &r.messages {
                writeln!(out, "  - {m}")?;
            }
        }
        Ok(())
    })
}

/// `--evidence` formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EvidenceFormat {
    /// One row per comment.
    Csv,
    /// One self-contained page.
    Html,
}

/// `mediawatch ledger`.
#[derive(Args, Debug)]
pub struct LedgerArgs {
    /// One outlet (source id).
    #[arg(long)]
    pub source: Option<String>,
    /// Comments first seen on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Comments first seen on or before this date (inclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Compare comments first seen before and after this date.
    #[arg(long)]
    pub around: Option<String>,
    /// Write the evidence pack (hostile comments; `--all-comments` for all)
    /// instead of the figures.
    #[arg(long, value_enum)]
    pub evidence: Option<EvidenceFormat>,
    /// Every comment in the evidence pack, not only hostile ones.
    #[arg(long)]
    pub all_comments: bool,
    /// Write to this file (default: stdout).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

fn output(out: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    })
}

/// Figures per outlet, or the evidence pack.
pub(crate) fn ledger_cmd(ctx: &Ctx, a: LedgerArgs) -> Result<()> {
    let config = ctx.config()?;
    let state = DataDir::create(&ctx.data_dir)?.open_state(&config.state)?;
    let date = |name: &str, v: &Option<String>, end: bool| {
        v.as_deref()
            .map(|s| mediawatch_query::parse_date(name, s, end))
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let from = date("--from", &a.from, false)?;
    let to = date("--to", &a.to, true)?.map(|t| t + chrono::Duration::seconds(1));
    let around = date("--around", &a.around, false)?;
    let final_age = config
        .revisit
        .ages
        .last()
        .and_then(|d| chrono::Duration::from_std(*d).ok())
        .unwrap_or(chrono::Duration::hours(72));
    let f = SightingFilter {
        source: a.source.clone(),
        from,
        to,
        tracked_only: true,
        ..Default::default()
    };
    let cap = mediawatch_server::ledger::MAX_LEDGER_COMMENTS;
    let (mut comments, truncated) = load_sightings(state.as_ref(), &f, cap)?;
    if truncated {
        eprintln!("mediawatch: only the first {cap} comments were read; narrow the period or pick an outlet");
    }
    let report = ledger_report(&comments, from, to, final_age, around);
    let mut out = output(&a.out)?;
    match a.evidence {
        Some(fmt) => {
            if !a.all_comments {
                comments.retain(CommentSighting::hostile);
            }
            comments.sort_by(|x, y| {
                x.source_id
                    .cmp(&y.source_id)
                    .then(x.first_seen.cmp(&y.first_seen))
            });
            match fmt {
                EvidenceFormat::Csv => evidence_csv(&comments, &mut out)?,
                EvidenceFormat::Html => {
                    let title = format!(
                        "Evidence pack: {}",
                        a.source.as_deref().unwrap_or("all outlets")
                    );
                    out.write_all(evidence_html(&title, &report, &comments).as_bytes())?;
                }
            }
        }
        None if a.json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        None => print_ledger(&report, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// The ledger as a text table, then the before/after comparison.
pub(crate) fn print_ledger(
    report: &mediawatch_report::ledger::LedgerReport,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "{:<24} {:>8} {:>7} {:>13} {:>15} {:>9} {:>6} {:>6} {:>6} {:>7}",
        "outlet",
        "comments",
        "hostile",
        "removed",
        "hostile removed",
        "median h",
        "hate",
        "offens",
        "collec",
        "pending"
    )?;
    let rows = report.outlets.iter().chain(std::iter::once(&report.total));
    for r in rows {
        writeln!(
            out,
            "{:<24} {:>8} {:>7} {:>6} ({:>3.0}%) {:>8} ({:>3.0}%) {:>9} {:>6} {:>6} {:>6} {:>7}",
            r.source,
            r.comments,
            r.hostile,
            r.removed,
            r.share_removed * 100.0,
            r.hostile_removed,
            r.hostile_share_removed * 100.0,
            r.median_hours_to_removal
                .map_or("-".into(), |h| format!("{h:.1}")),
            r.still_online["hate"],
            r.still_online["offensive"],
            r.still_online["collective"],
            r.pending
        )?;
    }
    writeln!(
        out,
        "(hate / offens / collec: hostile comments still online at the last re-check, {:.0} h)",
        report.final_age_hours
    )?;
    for c in &report.comparison {
        writeln!(
            out,
            "{:<24} before: {} comments, {:.0}% removed, {:.0}% of hostile removed; after: {} comments, {:.0}% removed, {:.0}% of hostile removed",
            c.source,
            c.before.comments,
            c.before.share_removed * 100.0,
            c.before.hostile_share_removed * 100.0,
            c.after.comments,
            c.after.share_removed * 100.0,
            c.after.hostile_share_removed * 100.0
        )?;
    }
    Ok(())
}

/// `--format` of `mediawatch history`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum HistoryFormat {
    /// Versions, checks and diffs as JSON.
    Json,
    /// One self-contained page for a complaint.
    Html,
    /// One row per fetch.
    Csv,
}

/// `mediawatch history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Document id (as in search results).
    pub doc_id: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: HistoryFormat,
    /// Write to this file (default: stdout).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// An article's versions, checks and deletion.
pub(crate) fn history_cmd(ctx: &Ctx, a: HistoryArgs) -> Result<()> {
    let config = ctx.config()?;
    let state = DataDir::create(&ctx.data_dir)?.open_state(&config.state)?;
    let Some(h) = state.article_history(&a.doc_id)? else {
        bail!(
            "document {:?} has no history: it is not tracked (out of scope, or stored before re-checks were on)",
            a.doc_id
        );
    };
    let mut out = output(&a.out)?;
    match a.format {
        HistoryFormat::Json => {
            let v = serde_json::json!({ "history": h, "diffs": version_diffs(&h) });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        HistoryFormat::Html => out.write_all(history_html(&h).as_bytes())?,
        HistoryFormat::Csv => history_csv(&h, &mut out)?,
    }
    out.flush()?;
    Ok(())
}
