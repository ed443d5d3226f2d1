//! `mediawatch`: monitor how media cover migrants and refugees.
//!
//! The binary parses the command line and dispatches to `cli/`, one file per
//! command group; the work itself is in the library crates. `anyhow` lives
//! only here, and errors are printed with their whole chain.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod cli;

use cli::Ctx;

#[derive(Parser, Debug)]
#[command(
    name = "mediawatch",
    version,
    about = "Monitor how media and social feeds cover migrants and refugees: \
ingest feeds, extract articles, flag hate speech, collective labelling and framing, search and report trends."
)]
struct Cli {
    /// Config file (default: config/default.toml, else the embedded starter config).
    #[arg(long, global = true, env = "MEDIAWATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory holding the index and the crawl state.
    #[arg(
        long,
        global = true,
        env = "MEDIAWATCH_DATA_DIR",
        default_value = "data"
    )]
    data_dir: PathBuf,
    /// Log filter (e.g. `info`, `mediawatch_pipeline=debug`); RUST_LOG also works.
    #[arg(long, global = true)]
    log: Option<String>,
    /// Log lines as text (default) or as one JSON object each, for log
    /// collectors.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "MEDIAWATCH_LOG_FORMAT"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train the classifier heads on the labelled sets (and corrections);
    /// writes models/classifier/ (heads.json, fast.bin) and models/MODEL_CARD.md.
    Train(cli::training::TrainArgs),
    /// Relabel every indexed document with the configured classifier,
    /// committing in batches (resumable; skips documents already labelled
    /// by this model unless --force).
    Reclassify(cli::training::ReclassifyArgs),
    /// Record an analyst's correction of one label of one document.
    Correct(cli::training::CorrectArgs),
    /// Rebuild the index from its own stored documents, in this build's
    /// schema (after an upgrade changed it). The old index is kept beside
    /// the new one as `index.v<N>-<time>`; stop other mediawatch processes
    /// first.
    Reindex,
    /// Copy this data directory's SQLite state (crawl state, seen items,
    /// health, clusters, saved searches, alerts, corrections) into an empty
    /// PostgreSQL database, for a cluster's shared state.
    MigrateState(cli::state::MigrateArgs),
    /// Run the scheduler, the workers and the HTTP API until Ctrl-C.
    Run(cli::run::RunArgs),
    /// Run one or more roles of a cluster (needs a [cluster] section):
    /// scheduler, worker, indexer, api.
    Node(cli::cluster::NodeArgs),
    /// Start, stop or inspect a local cluster (NATS JetStream, PostgreSQL
    /// and every role on this machine).
    Cluster(cli::cluster::ClusterArgs),
    /// Re-check tracked articles and their comment sections that are due
    /// now (the moderation ledger; `run` does this on its own).
    Revisit(cli::ledger::RevisitArgs),
    /// The moderation ledger: per outlet, comments removed, how fast, and
    /// hostile comments still online; or the evidence pack.
    Ledger(cli::ledger::LedgerArgs),
    /// An article's versions, edits and deletion (JSON, or HTML/CSV for a
    /// press-council complaint).
    History(cli::ledger::HistoryArgs),
    /// Incidents: stories of different outlets about one event, with each
    /// outlet's framing; merge and split them (kept for good).
    Incidents(cli::incidents::IncidentsArgs),
    /// Who speaks: hostile statements per outlet by speaker role (the
    /// outlet's voice, quoted people, commenters, post authors).
    Speakers(cli::speakers::SpeakersArgs),
    /// Fetch sources: one pass with --once, else continuously (no API).
    Ingest(cli::run::IngestArgs),
    /// Search the index.
    Search(cli::query::SearchArgs),
    /// Trend report: documents and label shares per period.
    Report(cli::query::ReportArgs),
    /// Classify text (an argument, --input FILE.jsonl, or stdin lines).
    Classify(cli::classify::ClassifyArgs),
    /// Evaluate the classifier on gold-labelled JSONL (accuracy, macro-F1,
    /// per language and target, confusion matrix).
    Eval(cli::classify::EvalArgs),
    /// Extract the article from an HTML file.
    Extract(cli::extract::ExtractArgs),
    /// Parse an RSS/Atom/JSON feed file.
    ParseFeed(cli::extract::ParseFeedArgs),
    /// Solutions journalism finder: stories reporting responses to a
    /// problem with evidence of results, ranked by solutions score.
    Solutions(cli::query::SolutionsArgs),
    /// Emerging narratives: terms that rise significantly in a period
    /// against a background period (Dunning log-likelihood).
    Terms(cli::query::TermsArgs),
    /// Saved searches and alerts: list, history, dry-run test.
    Alerts(cli::alerts::AlertsArgs),
    /// Model files (the sentence encoder): fetch, list, verify.
    Models(cli::models::ModelsArgs),
    /// The configured sources and their health.
    Sources(cli::sources::SourcesArgs),
    /// Check the config, or print an older one in the current format.
    Config(cli::config::ConfigArgs),
    /// Serve a bundled sample corpus on loopback, ingest it, report, and keep the API running.
    Demo(cli::run::DemoArgs),
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (time, level, target, fields, message).
    Json,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default_level = match &cli.command {
        Command::Run(_) | Command::Demo(_) | Command::Node(_) => "info",
        Command::Ingest(a) if !a.once => "info",
        _ => "warn",
    };
    let filter = cli
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default_level.to_string());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        // Colour codes only for a person at a terminal, not in log files.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    match real_main(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn real_main(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        config: cli.config,
        data_dir: cli.data_dir,
    };
    match cli.command {
        Command::Run(a) => cli::run::run_cmd(&ctx, a),
        Command::Node(a) => cli::cluster::node_cmd(&ctx, a),
        Command::Cluster(a) => cli::cluster::cluster_cmd(&ctx, a),
        Command::Ingest(a) => cli::run::ingest_cmd(&ctx, a),
        Command::Revisit(a) => cli::ledger::revisit_cmd(&ctx, a),
        Command::Incidents(a) => cli::incidents::incidents_cmd(&ctx, a),
        Command::Speakers(a) => cli::speakers::speakers_cmd(&ctx, a),
        Command::Ledger(a) => cli::ledger::ledger_cmd(&ctx, a),
        Command::History(a) => cli::ledger::history_cmd(&ctx, a),
        Command::Demo(a) => cli::run::demo_cmd(&ctx, a),
        Command::Search(a) => cli::query::search(&ctx.data_dir, a),
        Command::Report(a) => cli::query::report_cmd(&ctx, a),
        Command::Terms(a) => cli::query::terms_cmd(&ctx, a),
        Command::Solutions(a) => cli::query::solutions_cmd(&ctx, a),
        Command::Classify(a) => cli::classify::classify_cmd(&ctx, a),
        Command::Eval(a) => cli::classify::eval_cmd(&ctx, a),
        Command::Train(a) => cli::training::train(&ctx.config()?, &ctx.data_dir, a),
        Command::Reclassify(a) => cli::training::reclassify(ctx.config()?, &ctx.data_dir, a),
        Command::Correct(a) => {
            let id = cli::training::correct(&ctx.data_dir, &ctx.config()?.state, a)?;
            println!("{id}");
            Ok(())
        }
        Command::Reindex => {
            // The config only names the lemma lists: a reindex needs no
            // valid config otherwise.
            let lemmas = match ctx.config() {
                Ok(c) => Some(c.index.lemmas),
                Err(e) => {
                    eprintln!(
                        "mediawatch: config not read ({e:#}); the index keeps its own lemma lists"
                    );
                    None
                }
            };
            cli::index::reindex(&ctx.data_dir, lemmas.as_deref())
        }
        Command::MigrateState(a) => cli::state::migrate(&ctx, a),
        Command::Extract(a) => cli::extract::extract(a.file, a.url, a.input_dir, a.json),
        Command::ParseFeed(a) => cli::extract::parse_feed(&a.file, a.json),
        Command::Alerts(a) => cli::alerts::alerts(&ctx.config()?, &ctx.data_dir, a.action),
        Command::Models(a) => cli::models::run(&a.models_dir, a.action),
        Command::Sources(a) => cli::sources::run(&ctx, a),
        Command::Config(a) => cli::config::run(&ctx, a),
    }
}
