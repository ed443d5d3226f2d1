//! `mediawatch speakers`: hostility by speaker role per outlet.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use mediawatch_query::SpeakerQuery;

use super::{open_queries, parse_opt_date, Ctx};

/// `mediawatch speakers`.
#[derive(Args, Debug)]
pub struct SpeakersArgs {
    /// Words and filters (default: migration coverage).
    #[arg(long, default_value = "")]
    pub query: String,
    /// Period start (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Period end (inclusive day).
    #[arg(long)]
    pub to: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn speakers_cmd(ctx: &Ctx, a: SpeakersArgs) -> Result<()> {
    let queries = open_queries(&ctx.data_dir, Vec::new())?;
    let r = queries.speakers(&SpeakerQuery {
        query: a.query,
        from: parse_opt_date("from", &a.from, false)?,
        to: parse_opt_date("to", &a.to, true)?,
    })?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<24} {:>9} {:>8} {:>9} {:>9} {:>10} {:>8}  quoted most",
        "outlet", "documents", "hostile", "outlet", "quoted", "commenter", "author"
    )?;
    for row in r.outlets.iter().chain(std::iter::once(&r.total)) {
        let n = |k: &str| row.documents_by_role.get(k).copied().unwrap_or(0);
        writeln!(
            out,
            "{:<24} {:>9} {:>8} {:>9} {:>9} {:>10} {:>8}  {}",
            row.source,
            row.documents,
            row.hostile_documents,
            n("outlet"),
            n("quoted"),
            n("commenter"),
            n("author"),
            row.speakers
                .iter()
                .map(|(s, c)| format!("{s} ({c})"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    if r.truncated {
        writeln!(out, "(only the first {} documents were read)", r.documents)?;
    }
    Ok(())
}
