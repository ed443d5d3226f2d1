//! `mediawatch incidents`: a period's incidents (stories of different
//! outlets about one event), and analysts' merges and splits.

use std::io::Write;

use anyhow::{bail, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use mediawatch_incidents::{IncidentRequest, Params, DEFAULT_PARAMS};
use mediawatch_pipeline::DataDir;
use mediawatch_state::IncidentLink;

use super::{open_queries, parse_opt_date, Ctx};

/// `mediawatch incidents`.
#[derive(Args, Debug)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub action: Action,
}

/// What to do.
#[derive(Subcommand, Debug)]
pub enum Action {
    /// Group a period's stories into incidents and print them.
    List(ListArgs),
    /// Put stories in one incident, for good (name every story of the
    /// incidents merged: each pair among them is decided).
    Merge {
        /// Two or more document ids.
        #[arg(num_args = 2.., required = true)]
        doc_ids: Vec<String>,
        /// Who decides.
        #[arg(long)]
        analyst: Option<String>,
    },
    /// Keep a story apart from the others of its incident, for good.
    Split {
        /// The story taken out.
        doc_id: String,
        /// The stories it must not be grouped with.
        #[arg(long = "from", num_args = 1.., required = true)]
        from: Vec<String>,
        /// Who decides.
        #[arg(long)]
        analyst: Option<String>,
    },
}

/// `mediawatch incidents list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Words and filters narrowing the stories (default: migration coverage).
    #[arg(long, default_value = "")]
    pub query: String,
    /// Period start (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Period end (inclusive day).
    #[arg(long)]
    pub to: Option<String>,
    /// Incidents covered by at least this many outlets.
    #[arg(long, default_value_t = 2)]
    pub min_outlets: usize,
    /// Most incidents printed.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Largest hours between two linked stories.
    #[arg(long, default_value_t = DEFAULT_PARAMS.window.num_hours())]
    pub window_hours: i64,
    /// Smallest similarity of a link (0..1).
    #[arg(long, default_value_t = DEFAULT_PARAMS.threshold)]
    pub threshold: f32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn incidents_cmd(ctx: &Ctx, a: IncidentsArgs) -> Result<()> {
    let config = ctx.config()?;
    let state = DataDir::create(&ctx.data_dir)?.open_state(&config.state)?;
    match a.action {
        Action::List(l) => {
            if !(0.0..=1.0).contains(&l.threshold) {
                bail!("--threshold: {} is not in 0..1", l.threshold);
            }
            let metas = config.sources.iter().map(|s| s.meta()).collect();
            let queries = open_queries(&ctx.data_dir, metas)?;
            let req = IncidentRequest {
                query: l.query,
                from: parse_opt_date("from", &l.from, false)?,
                to: parse_opt_date("to", &l.to, true)?,
                min_outlets: l.min_outlets,
                limit: l.limit,
                params: Params {
                    window: chrono::Duration::hours(l.window_hours),
                    threshold: l.threshold,
                },
            };
            let r = mediawatch_incidents::build(&queries, state.as_ref(), &req)?;
            let mut out = std::io::stdout().lock();
            if l.json {
                serde_json::to_writer_pretty(&mut out, &r)?;
                writeln!(out)?;
                return Ok(());
            }
            writeln!(
                out,
                "{} incidents with {}+ outlets among {} stories{}",
                r.incidents.len(),
                req.min_outlets,
                r.stories,
                if r.truncated {
                    " (stories truncated: narrow the period)"
                } else {
                    ""
                }
            )?;
            for inc in &r.incidents {
                writeln!(
                    out,
                    "\n{}  {}  ({} stories, {} outlets, {} .. {})",
                    inc.id,
                    inc.title,
                    inc.documents,
                    inc.outlets.len(),
                    inc.first.format("%Y-%m-%d %H:%M"),
                    inc.last.format("%Y-%m-%d %H:%M")
                )?;
                if !inc.collectivising.is_empty() {
                    writeln!(out, "  collectivised by: {}", inc.collectivising.join(", "))?;
                }
                for m in &inc.members {
                    writeln!(
                        out,
                        "  - [{}] {}  {}{}",
                        m.source,
                        m.title,
                        m.id,
                        if m.labels.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", m.labels.join(", "))
                        }
                    )?;
                }
            }
            Ok(())
        }
        Action::Merge { doc_ids, analyst } => {
            let links = IncidentLink::merge_all(&doc_ids, analyst, None, Utc::now());
            state.add_incident_links(&links)?;
            println!("stored {} merge(s)", links.len());
            Ok(())
        }
        Action::Split {
            doc_id,
            from,
            analyst,
        } => {
            let links = IncidentLink::pairs(&doc_id, &from, false, analyst, None, Utc::now());
            state.add_incident_links(&links)?;
            println!("stored {} split(s)", links.len());
            Ok(())
        }
    }
}
