//! `mediawatch`: monitor how media cover migrants and refugees.
//!
//! The binary parses the command line, loads the config and hands over to
//! the library crates; `anyhow` lives only here, and errors are printed with
//! their whole chain.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use mediawatch_classify::ClassifyInput;
use mediawatch_config::Config;
use mediawatch_index::{FactsFilter, Index, SearchRequest};
use mediawatch_pipeline::{DataDir, Pipeline, SourcePassReport};
use mediawatch_report::{GroupBy, Interval, ReportRequest};
use tokio_util::sync::CancellationToken;

mod alerts;
mod models;
mod train;

/// The shipped starter config, used when no `--config` is given and
/// `config/default.toml` is not in the working directory.
const EMBEDDED_CONFIG: &str = include_str!("../config/default.toml");

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train the classifier heads on the labelled sets (and corrections);
    /// writes models/classifier/ (heads.json, fast.bin) and models/MODEL_CARD.md.
    Train(train::TrainArgs),
    /// Relabel every indexed document with the configured classifier,
    /// committing in batches (resumable; skips documents already labelled
    /// by this model unless --force).
    Reclassify(train::ReclassifyArgs),
    /// Record an analyst's correction of one label of one document.
    Correct(train::CorrectArgs),
    /// Rebuild the index from its own stored documents, in this build's
    /// schema (after an upgrade changed it). The old index is kept beside
    /// the new one as `index.v<N>-<time>`; stop other mediawatch processes
    /// first.
    Reindex,
    /// Run the scheduler, the workers and the HTTP API until Ctrl-C.
    Run {
        /// Address of the HTTP API (overrides server.listen).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Fetch sources: one pass with --once, else continuously (no API).
    Ingest {
        /// One pass over the sources, then exit.
        #[arg(long)]
        once: bool,
        /// Only this source id.
        #[arg(long)]
        source: Option<String>,
        /// Per-source results as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the index.
    Search(SearchArgs),
    /// Trend report: documents and label shares per period.
    Report(ReportArgs),
    /// Classify text (an argument, --input FILE.jsonl, or stdin lines).
    Classify {
        /// Text to classify.
        text: Option<String>,
        /// JSONL file with {"id","text","lang"?,"context"?} per line (`-`
        /// for stdin). `context` is the title and lead of the article (or
        /// post) a comment belongs to: the comment inherits its migration
        /// scope.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Language of TEXT (ISO 639-1), when known.
        #[arg(long)]
        lang: Option<String>,
        /// Context of TEXT: the title and lead of the article it comments on.
        #[arg(long)]
        context: Option<String>,
        /// One JSON object per input.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the classifier on gold-labelled JSONL (accuracy, macro-F1,
    /// per language and target, confusion matrix).
    Eval {
        /// JSONL with `text`, `lang`?, and gold labels (`hate`/`label`,
        /// `relevant`, `collective`, `threat`, `victim`, `recognition`, `solutions`).
        #[arg(long)]
        input: PathBuf,
        /// Only lines whose `split` field has this value (e.g. `eval`).
        #[arg(long)]
        split: Option<String>,
        /// Only lines in this language.
        #[arg(long)]
        lang: Option<String>,
        /// At most this many examples (after filtering), for quick runs.
        #[arg(long)]
        limit: Option<usize>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Extract the article from an HTML file.
    Extract {
        /// The HTML file.
        file: Option<PathBuf>,
        /// URL the page came from (resolves relative links).
        #[arg(long)]
        url: Option<String>,
        /// Extract every file in this directory, one JSON line each.
        #[arg(long)]
        input_dir: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Parse an RSS/Atom/JSON feed file.
    ParseFeed {
        /// The feed file.
        file: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Solutions journalism finder: stories reporting responses to a
    /// problem with evidence of results, ranked by solutions score.
    Solutions {
        /// Extra words the stories must match.
        text: Option<String>,
        /// Only this country (ISO code).
        #[arg(long)]
        country: Option<String>,
        /// Only this language.
        #[arg(long)]
        lang: Option<String>,
        /// From date.
        #[arg(long)]
        from: Option<String>,
        /// To date, inclusive.
        #[arg(long)]
        to: Option<String>,
        /// Lowest solutions score (0..1).
        #[arg(long, default_value_t = 0.5)]
        min_score: f32,
        /// Stories shown.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// JSON output (same shape as `search --json`).
        #[arg(long)]
        json: bool,
    },
    /// Emerging narratives: terms that rise significantly in a period
    /// against a background period (Dunning log-likelihood).
    Terms {
        /// Period start (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        from: String,
        /// Period end, inclusive.
        #[arg(long)]
        to: String,
        /// Background start (default: the same length just before --from).
        #[arg(long)]
        background_from: Option<String>,
        /// Background end, inclusive (default: just before --from).
        #[arg(long)]
        background_to: Option<String>,
        /// Only documents matching this query (same language as search).
        #[arg(long)]
        query: Option<String>,
        /// Only this country; repeat for one list per country.
        #[arg(long)]
        country: Vec<String>,
        /// Only this language.
        #[arg(long)]
        lang: Option<String>,
        /// Terms listed.
        #[arg(long, default_value_t = 30)]
        limit: usize,
        /// Least occurrences in the period.
        #[arg(long, default_value_t = 3)]
        min_count: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Saved searches and alerts: list, history, dry-run test.
    Alerts {
        #[command(subcommand)]
        action: alerts::AlertsAction,
    },
    /// Model files (the sentence encoder): fetch, list, verify.
    Models {
        /// Directory holding manifest.toml and the model files.
        #[arg(long, default_value = "models")]
        models_dir: PathBuf,
        #[command(subcommand)]
        action: models::ModelsAction,
    },
    /// The configured sources and their health.
    Sources {
        #[command(subcommand)]
        action: SourcesAction,
    },
    /// Serve a bundled sample corpus on loopback, ingest it, report, and keep the API running.
    Demo {
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Exit after the report instead of serving the API.
        #[arg(long)]
        no_serve: bool,
    },
}

#[derive(Subcommand, Debug)]
enum SourcesAction {
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

#[derive(Args, Debug)]
struct SearchArgs {
    /// Query: words, "phrases", AND/OR/NOT, field:value.
    query: String,
    /// From date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// To date, inclusive.
    #[arg(long)]
    to: Option<String>,
    /// Only this source id.
    #[arg(long)]
    source: Option<String>,
    /// Only this country (ISO code).
    #[arg(long)]
    country: Option<String>,
    /// Only this language (ISO 639-1).
    #[arg(long)]
    lang: Option<String>,
    /// Most hits.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Newest first instead of best match first.
    #[arg(long)]
    by_date: bool,
    /// One hit per near-duplicate cluster (syndicated copies collapsed).
    #[arg(long)]
    collapse: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// From date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// To date, inclusive.
    #[arg(long)]
    to: Option<String>,
    /// Bucket size.
    #[arg(long, default_value = "month")]
    interval: String,
    /// Split each bucket by source, country or language.
    #[arg(long)]
    by: Option<String>,
    /// Only documents matching this query.
    #[arg(long)]
    query: Option<String>,
    /// Compare queries side by side: one row per bucket and query
    /// (repeat: --compare 'invasion' --compare 'language classes').
    #[arg(long)]
    compare: Vec<String>,
    /// Only this source id.
    #[arg(long)]
    source: Option<String>,
    /// Only this country.
    #[arg(long)]
    country: Option<String>,
    /// Only this language.
    #[arg(long)]
    lang: Option<String>,
    /// Count each near-duplicate cluster (one syndicated story) once.
    #[arg(long)]
    dedup: bool,
    /// The audience map instead of trends: outlets and audience segments
    /// ranked by hostile vs recognising coverage of migration, weighted by reach.
    #[arg(long)]
    audience: bool,
    /// Audience map: outlets with fewer migration documents are flagged and ranked last.
    #[arg(long, default_value_t = mediawatch_report::audience::DEFAULT_MIN_DOCUMENTS)]
    min_documents: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Json,
    Csv,
    Md,
    /// A self-contained HTML page with SVG charts and the audience map.
    Html,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Run { .. } | Command::Demo { .. } | Command::Ingest { once: false, .. } => "info",
        _ => "warn",
    };
    let filter = cli
        .log
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default_level.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match real_main(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn real_main(cli: Cli) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mw-worker")
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Run { listen } => {
            let config = load_config(cli.config.as_deref())?;
            rt.block_on(run(config, &cli.data_dir, listen))
        }
        Command::Ingest { once, source, json } => {
            let config = load_config(cli.config.as_deref())?;
            rt.block_on(ingest(config, &cli.data_dir, once, source.as_deref(), json))
        }
        Command::Search(a) => search(&cli.data_dir, a),
        Command::Report(a) => {
            // The audience map needs the sources' metadata (names, reach,
            // audience tags); trends need only the index.
            let sources = if a.audience
                || matches!(a.format, Format::Html)
                || a.by.as_deref() == Some("audience")
            {
                load_config(cli.config.as_deref())?
                    .sources
                    .iter()
                    .map(|s| s.meta())
                    .collect()
            } else {
                Vec::new()
            };
            report(&cli.data_dir, a, &sources)
        }
        Command::Classify {
            text,
            input,
            lang,
            context,
            json,
        } => classify(
            &load_config(cli.config.as_deref())?,
            text,
            input,
            lang,
            context,
            json,
        ),
        Command::Eval {
            input,
            split,
            lang,
            limit,
            json,
        } => eval(
            &load_config(cli.config.as_deref())?,
            &input,
            split.as_deref(),
            lang.as_deref(),
            limit,
            json,
        ),
        Command::Train(a) => train::train(&load_config(cli.config.as_deref())?, &cli.data_dir, a),
        Command::Reclassify(a) => {
            train::reclassify(load_config(cli.config.as_deref())?, &cli.data_dir, a)
        }
        Command::Reindex => reindex(&cli.data_dir),
        Command::Correct(a) => {
            let id = train::correct(&cli.data_dir, a)?;
            println!("{id}");
            Ok(())
        }
        Command::Extract {
            file,
            url,
            input_dir,
            json,
        } => extract(file, url, input_dir, json),
        Command::ParseFeed { file, json } => parse_feed(&file, json),
        Command::Terms {
            from,
            to,
            background_from,
            background_to,
            query,
            country,
            lang,
            limit,
            min_count,
            json,
        } => {
            let req = mediawatch_server::terms_request(
                &from,
                &to,
                background_from.as_deref(),
                background_to.as_deref(),
            )
            .map_err(|e| anyhow::anyhow!("--{e}"))?;
            let req = mediawatch_index::TermsRequest {
                query,
                lang,
                limit,
                min_count,
                ..req
            };
            terms(&cli.data_dir, &req, &country, json)
        }
        Command::Solutions {
            text,
            country,
            lang,
            from,
            to,
            min_score,
            limit,
            json,
        } => {
            if !(0.0..=1.0).contains(&min_score) {
                bail!("--min-score: {min_score} is not in 0..1");
            }
            let q = mediawatch_server::SolutionsQuery {
                country,
                lang,
                from: parse_opt_date("from", &from, false)?,
                to: parse_opt_date("to", &to, true)?,
                text,
                min_score,
                limit,
            };
            solutions(&cli.data_dir, &q, json)
        }
        Command::Sources {
            action:
                SourcesAction::ImportOpml {
                    file,
                    country,
                    langs,
                },
        } => import_opml(&file, &country, &langs),
        Command::Alerts { action } => {
            let config = load_config(cli.config.as_deref())?;
            alerts::alerts(&config, &cli.data_dir, action)
        }
        Command::Sources { action } => {
            let config = load_config(cli.config.as_deref())?;
            rt.block_on(sources(config, &cli.data_dir, action))
        }
        Command::Demo { listen, no_serve } => rt.block_on(demo(&cli.data_dir, listen, no_serve)),
        Command::Models { models_dir, action } => models::run(&models_dir, action),
    }
}

/// Loads and validates the config; an invalid one stops here, before
/// anything starts.
fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => Ok(Config::load(p)?),
        None => {
            let local = Path::new("config/default.toml");
            if local.exists() {
                Ok(Config::load(local)?)
            } else {
                Ok(Config::from_toml_str(
                    EMBEDDED_CONFIG,
                    "<embedded config/default.toml>",
                )?)
            }
        }
    }
}

fn open_index(data_dir: &Path) -> Result<Index> {
    Ok(DataDir::existing(data_dir).open_index()?)
}

/// Writer memory for `mediawatch reindex`: a one-off bulk load, so larger
/// than the pipeline's (fewer, larger segments; see BENCHMARKS.md).
const REINDEX_HEAP_BYTES: usize = 256 * 1024 * 1024;

/// Rebuilds the index in this build's schema (see
/// [`DataDir::rebuild_index`]).
fn reindex(data_dir: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let r = DataDir::existing(data_dir)
        .rebuild_index(REINDEX_HEAP_BYTES)
        .context("rebuilding the index")?;
    println!(
        "rebuilt {} documents from schema v{} to v{} in {:.1}s; the old index is in {} \
         (delete it once you are satisfied)",
        r.documents,
        r.from_version,
        mediawatch_index::SCHEMA_VERSION,
        started.elapsed().as_secs_f64(),
        r.kept.display()
    );
    Ok(())
}

fn ctrl_c(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: shutting down (press again to abort)");
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}

fn app_state(p: &Pipeline) -> mediawatch_server::AppState {
    mediawatch_server::AppState {
        index: p.index().clone(),
        state: p.state().clone(),
        sources: Arc::new(p.source_metas()),
        unhealthy_after: chrono::Duration::from_std(p.config().scheduler.unhealthy_after)
            .unwrap_or(chrono::Duration::days(2)),
        web: mediawatch_server::security::WebOptions::from_config(
            &p.config().server,
            std::env::var(mediawatch_server::security::TOKEN_ENV).ok(),
        ),
        // Without a working alerts setup the API still serves everything
        // else; the reason is printed once.
        alerts: alerts::runtime(p.config(), p.index().clone(), p.state().clone())
            .map_err(|e| eprintln!("mediawatch: saved searches and alerts unavailable: {e:#}"))
            .ok(),
    }
}

async fn run(config: Config, data_dir: &Path, listen: Option<SocketAddr>) -> Result<()> {
    let addr: SocketAddr = match listen {
        Some(a) => a,
        None => config.server.listen.parse().context("server.listen")?,
    };
    let classifier = train::build_classifier(&config)?;
    let pipeline = Arc::new(Pipeline::open(config, data_dir)?.with_classifier(classifier));
    let cancel = CancellationToken::new();
    ctrl_c(cancel.clone());
    // Bind first: a taken port is reported before any source is polled.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let server_stop = CancellationToken::new();
    let server = tokio::spawn(mediawatch_server::serve_on(
        listener,
        app_state(&pipeline),
        server_stop.clone(),
    ));
    eprintln!(
        "mediawatch: {} sources, data in {}, API on http://{addr}/api/health (Ctrl-C to stop)",
        pipeline.source_metas().len(),
        data_dir.display()
    );
    let run = pipeline.start(cancel.clone())?;
    let alert_loop = alerts::start_loop(
        pipeline.config(),
        pipeline.index().clone(),
        pipeline.state().clone(),
        cancel.clone(),
    )?;
    cancel.cancelled().await;
    // Ordered shutdown: sources stop and the index commits first, then the
    // alert loop finishes its pass, then the API stops serving.
    let stats = run.wait().await?;
    if let Some(task) = alert_loop {
        task.await.context("alert loop task")?;
    }
    server_stop.cancel();
    server.await.context("API task")??;
    eprintln!(
        "mediawatch: stopped cleanly ({} documents indexed this run, index committed)",
        stats.indexed
    );
    Ok(())
}

async fn ingest(
    config: Config,
    data_dir: &Path,
    once: bool,
    source: Option<&str>,
    json: bool,
) -> Result<()> {
    let classifier = train::build_classifier(&config)?;
    let pipeline = Arc::new(Pipeline::open(config, data_dir)?.with_classifier(classifier));
    let cancel = CancellationToken::new();
    ctrl_c(cancel.clone());
    if !once {
        let run = pipeline.start(cancel.clone())?;
        cancel.cancelled().await;
        run.wait().await?;
        return Ok(());
    }
    let reports = pipeline.ingest_once(source, &cancel).await?;
    print_pass(&reports, json)?;
    Ok(())
}

fn print_pass(reports: &[SourcePassReport], json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, reports)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<28} {:>8} {:>6} {:>10} {:>7}",
        "source", "fetched", "new", "unchanged", "errors"
    )?;
    let mut totals = [0u64; 4];
    for r in reports {
        let note = if r.not_modified {
            "  (304 not modified)"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<28} {:>8} {:>6} {:>10} {:>7}{note}",
            r.source, r.fetched, r.new, r.unchanged, r.errors
        )?;
        for (t, v) in totals
            .iter_mut()
            .zip([r.fetched, r.new, r.unchanged, r.errors])
        {
            *t += v;
        }
    }
    writeln!(
        out,
        "{:<28} {:>8} {:>6} {:>10} {:>7}",
        "total", totals[0], totals[1], totals[2], totals[3]
    )?;
    let errors: Vec<&String> = reports.iter().flat_map(|r| &r.messages).collect();
    if !errors.is_empty() {
        writeln!(out, "\nerrors:")?;
        for e in errors {
            writeln!(out, "  - {e}")?;
        }
    }
    Ok(())
}

fn parse_opt_date(
    name: &str,
    v: &Option<String>,
    end: bool,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    v.as_deref()
        .map(|s| mediawatch_server::parse_date(name, s, end))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--{e}"))
}

fn search(data_dir: &Path, a: SearchArgs) -> Result<()> {
    let index = open_index(data_dir)?;
    let req = SearchRequest {
        query: a.query.clone(),
        from: parse_opt_date("from", &a.from, false)?,
        to: parse_opt_date("to", &a.to, true)?,
        source: a.source,
        country: a.country,
        lang: a.lang,
        kind: None,
        limit: a.limit,
        offset: 0,
        sort_by_date: a.by_date,
        collapse_clusters: a.collapse,
    };
    let res = index.search(&req)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut out, &res)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{} documents match {:?}", res.total, a.query)?;
    for (i, h) in res.hits.iter().enumerate() {
        let date = h
            .published
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "----------".into());
        let copies = if h.duplicates > 0 {
            format!("  (+{} near-duplicate copies)", h.duplicates)
        } else {
            String::new()
        };
        writeln!(
            out,
            "\n{:>2}. {}  [{}]  {}{copies}",
            i + 1,
            date,
            h.source,
            h.title
        )?;
        writeln!(out, "    {}", h.url)?;
        let snippet = mediawatch_index::snippet_to_text(&h.snippet, "*");
        if !snippet.is_empty() {
            writeln!(out, "    {}", snippet.replace('\n', " "))?;
        }
        if let Some(l) = &h.labels {
            let on: Vec<&str> = l
                .flags()
                .iter()
                .filter(|f| f.present)
                .map(|f| f.name)
                .collect();
            if !on.is_empty() {
                writeln!(out, "    labels: {}", on.join(", "))?;
            }
        }
    }
    Ok(())
}

fn terms(
    data_dir: &Path,
    req: &mediawatch_index::TermsRequest,
    countries: &[String],
    json: bool,
) -> Result<()> {
    let index = open_index(data_dir)?;
    let results: Vec<(String, mediawatch_index::TermsResult)> = match countries {
        [] => vec![("all".to_string(), index.top_terms(req)?)],
        [one] => {
            let r = mediawatch_index::TermsRequest {
                country: Some(one.clone()),
                ..req.clone()
            };
            vec![(one.clone(), index.top_terms(&r)?)]
        }
        many => index.top_terms_by_country(req, many)?,
    };
    let mut out = std::io::stdout().lock();
    if json {
        let v: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|(c, r)| Ok((c.clone(), serde_json::to_value(r)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    for (country, r) in &results {
        writeln!(
            out,
            "== {country}: {} documents in the period, {} in the background{}",
            r.foreground_docs,
            r.background_docs,
            if r.sampled { " (sampled)" } else { "" }
        )?;
        writeln!(
            out,
            "{:<24} {:>7} {:>10} {:>6} {:>9} {:>7}",
            "term", "count", "background", "docs", "G2", "ratio"
        )?;
        for t in &r.terms {
            writeln!(
                out,
                "{:<24} {:>7} {:>10} {:>6} {:>9.1} {:>7.1}{}",
                t.term,
                t.count,
                t.background,
                t.docs,
                t.llr,
                t.ratio,
                if t.significant { "  *" } else { "" }
            )?;
        }
        writeln!(out, "(* = significant at p < 0.001, G2 > 10.83)\n")?;
    }
    Ok(())
}

fn solutions(data_dir: &Path, q: &mediawatch_server::SolutionsQuery, json: bool) -> Result<()> {
    let index = open_index(data_dir)?;
    let res = mediawatch_server::find_solutions(&index, q)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &res)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} solutions stories (score >= {})",
        res.total, q.min_score
    )?;
    for (i, h) in res.hits.iter().enumerate() {
        let score = h.labels.as_ref().map_or(0.0, |l| l.solutions.score);
        let date = h
            .published
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "----------".into());
        writeln!(
            out,
            "\n{:>2}. [{score:.2}] {date}  [{}]  {}",
            i + 1,
            h.source,
            h.title
        )?;
        writeln!(out, "    {}", h.url)?;
        let snippet = mediawatch_index::snippet_to_text(&h.snippet, "*");
        if !snippet.is_empty() {
            writeln!(out, "    {}", snippet.replace('\n', " "))?;
        }
    }
    Ok(())
}

fn report(data_dir: &Path, a: ReportArgs, sources: &[mediawatch_core::SourceMeta]) -> Result<()> {
    let index = open_index(data_dir)?;
    let interval: Interval = a
        .interval
        .parse()
        .map_err(|e| anyhow::anyhow!("--interval: {e}"))?;
    let by: GroupBy = match a.by.as_deref() {
        None => GroupBy::None,
        Some(v) => v.parse().map_err(|e| anyhow::anyhow!("--by: {e}"))?,
    };
    if !a.compare.is_empty() && (a.query.is_some() || by != GroupBy::None || a.audience) {
        bail!("--compare puts each query in its own rows: combine it with neither --query, --by nor --audience");
    }
    let from = parse_opt_date("from", &a.from, false)?;
    let to = parse_opt_date("to", &a.to, true)?;
    let req = ReportRequest {
        interval,
        by,
        from,
        to,
        audience: sources
            .iter()
            .map(|s| (s.id.clone(), s.audience.clone()))
            .collect(),
        count_clusters_once: a.dedup,
    };
    let filter = |query: Option<String>| FactsFilter {
        from,
        to,
        source: a.source.clone(),
        country: a.country.clone(),
        lang: a.lang.clone(),
        query,
    };
    let rows = index.facts(&filter(a.query.clone()))?;
    let audience_map =
        || mediawatch_report::audience::build_audience_map(&rows, sources, a.min_documents);
    let text = if a.audience {
        use mediawatch_report::audience;
        let m = audience_map();
        match a.format {
            Format::Json => audience::audience_json(&m),
            Format::Csv => audience::audience_csv(&m),
            Format::Md => audience::audience_markdown(&m),
            Format::Html => mediawatch_report::html::render_html(
                &mediawatch_report::build_report(&rows, &req),
                "mediawatch audience map",
                Some(&m),
            ),
        }
    } else {
        let r = if a.compare.is_empty() {
            mediawatch_report::build_report(&rows, &req)
        } else {
            let mut parts = Vec::new();
            for q in &a.compare {
                let rows = index
                    .facts(&filter(Some(q.clone())))
                    .with_context(|| format!("--compare {q:?}"))?;
                parts.push((q.clone(), mediawatch_report::build_report(&rows, &req)));
            }
            mediawatch_report::compare_reports(parts)
        };
        match a.format {
            Format::Json => mediawatch_report::render_json(&r),
            Format::Csv => mediawatch_report::render_csv(&r),
            Format::Md => mediawatch_report::render_markdown(&r),
            Format::Html => mediawatch_report::html::render_html(
                &r,
                "mediawatch trend report",
                Some(&audience_map()),
            ),
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct ClassifyLine {
    #[serde(default)]
    id: Option<serde_json::Value>,
    text: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    context: Option<String>,
}

/// One text `classify` labels.
struct ClassifyItem {
    id: String,
    text: String,
    lang: Option<String>,
    context: Option<String>,
}

fn classify(
    config: &Config,
    text: Option<String>,
    input: Option<PathBuf>,
    lang: Option<String>,
    context: Option<String>,
    json: bool,
) -> Result<()> {
    let classifier = train::build_classifier(config)?;
    let mut items: Vec<ClassifyItem> = Vec::new();
    match (text, input) {
        (Some(_), Some(_)) => bail!("give either TEXT or --input, not both"),
        (Some(t), None) => items.push(ClassifyItem {
            id: "1".into(),
            text: t,
            lang,
            context,
        }),
        (None, input) => {
            let reader: Box<dyn BufRead> = match input.as_deref() {
                Some(p) if p != Path::new("-") => Box::new(std::io::BufReader::new(
                    std::fs::File::open(p)
                        .with_context(|| format!("cannot open {}", p.display()))?,
                )),
                _ => Box::new(std::io::stdin().lock()),
            };
            let name = input
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "<stdin>".into());
            for (n, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("{name}:{}: cannot read", n + 1))?;
                if line.trim().is_empty() {
                    continue;
                }
                let l: ClassifyLine = serde_json::from_str(&line).with_context(|| {
                    format!("{name}:{}: expected a JSON object with \"text\"", n + 1)
                })?;
                let id = match l.id {
                    Some(serde_json::Value::String(s)) => s,
                    Some(v) => v.to_string(),
                    None => (n + 1).to_string(),
                };
                items.push(ClassifyItem {
                    id,
                    text: l.text,
                    lang: l.lang.or_else(|| lang.clone()),
                    context: l.context.or_else(|| context.clone()),
                });
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for chunk in items.chunks(64) {
        let inputs: Vec<ClassifyInput<'_>> = chunk
            .iter()
            .map(|it| ClassifyInput {
                id: &it.id,
                text: &it.text,
                lang: it.lang.as_deref(),
                context: it.context.as_deref(),
            })
            .collect();
        let results = classifier.classify_batch(&inputs);
        for (ClassifyItem { id, text, .. }, r) in chunk.iter().zip(results) {
            let labels = r.with_context(|| format!("classifying {id}"))?;
            if json {
                let v = serde_json::json!({
                    "id": id,
                    "model_version": labels.model_version,
                    "labels": labels,
                });
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{id}: relevance {:.2}  hate {:.2} ({})  collective {:.2}  threat {:.2}  victim {:.2}  recognition {:.2}  solutions {:.2}",
                    labels.relevance.score,
                    labels.hate.score,
                    labels.hate.class,
                    labels.collective_labelling.score,
                    labels.frame.threat,
                    labels.frame.victim,
                    labels.frame.recognition,
                    labels.solutions.score
                )?;
                for s in &labels.collective_labelling.spans {
                    let quote = text.get(s.start..s.end).unwrap_or("");
                    writeln!(
                        out,
                        "    collective cue {:?} at {}..{}: {quote:?}",
                        s.cue, s.start, s.end
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn eval(
    config: &Config,
    input: &Path,
    split: Option<&str>,
    lang: Option<&str>,
    limit: Option<usize>,
    json: bool,
) -> Result<()> {
    use mediawatch_classify::eval;
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let mut gold = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read", input.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(want) = split {
            let v: serde_json::Value = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not JSON", input.display(), n + 1))?;
            if v.get("split").and_then(|s| s.as_str()) != Some(want) {
                continue;
            }
        }
        let ex = eval::parse_gold_line(&line, n + 1)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", input.display(), n + 1))?;
        if lang.is_some_and(|l| ex.lang.as_deref() != Some(l)) {
            continue;
        }
        gold.push(ex);
        if limit.is_some_and(|l| gold.len() >= l) {
            break;
        }
    }
    if gold.is_empty() {
        bail!("{}: no examples left after filtering", input.display());
    }
    let classifier = train::build_classifier(config)?;
    let report = eval::evaluate(classifier.as_ref(), &gold);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(eval::render_text(&report).as_bytes())?;
    }
    Ok(())
}

fn extract_json(a: &mediawatch_extract::Article) -> serde_json::Value {
    serde_json::json!({
        "title": a.title,
        "byline": a.byline,
        "published": a.published,
        "lang": a.lang,
        "text": a.text,
    })
}

fn extract(
    file: Option<PathBuf>,
    url: Option<String>,
    input_dir: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let opts = mediawatch_extract::ExtractOptions::default();
    let mut out = std::io::stdout().lock();
    if let Some(dir) = input_dir {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut failures = 0;
        for p in files {
            let bytes =
                std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match mediawatch_extract::extract_bytes(&bytes, None, url.as_deref(), &opts) {
                Ok(a) => {
                    let mut v = extract_json(&a);
                    v["file"] = serde_json::Value::String(name);
                    serde_json::to_writer(&mut out, &v)?;
                    writeln!(out)?;
                }
                Err(e) => {
                    failures += 1;
                    let v = serde_json::json!({"file": name, "error": e.to_string()});
                    serde_json::to_writer(&mut out, &v)?;
                    writeln!(out)?;
                    eprintln!("{}: {e}", p.display());
                }
            }
        }
        if failures > 0 {
            eprintln!("{failures} file(s) could not be extracted");
        }
        return Ok(());
    }
    let Some(file) = file else {
        bail!("give an HTML FILE or --input-dir DIR");
    };
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let a = mediawatch_extract::extract_bytes(&bytes, None, url.as_deref(), &opts)
        .with_context(|| format!("extracting {}", file.display()))?;
    if json {
        serde_json::to_writer_pretty(&mut out, &extract_json(&a))?;
        writeln!(out)?;
    } else {
        if let Some(t) = &a.title {
            writeln!(out, "# {t}")?;
        }
        let meta: Vec<String> = [
            a.byline.clone(),
            a.published.map(|d| d.to_rfc3339()),
            a.lang.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !meta.is_empty() {
            writeln!(out, "{}", meta.join(" | "))?;
        }
        writeln!(out, "\n{}", a.text)?;
    }
    Ok(())
}

fn parse_feed(file: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let feed = mediawatch_ingest::parse_feed(&bytes, None)
        .with_context(|| format!("parsing {}", file.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        let entries: Vec<serde_json::Value> = feed
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "title": e.title, "link": e.link, "published": e.published,
                    "authors": e.authors, "summary": e.summary, "content": e.content,
                })
            })
            .collect();
        let v = serde_json::json!({"title": feed.title, "link": feed.link, "entries": entries});
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} ({}): {} entries",
            feed.title.as_deref().unwrap_or("(untitled)"),
            feed.link.as_deref().unwrap_or("no link"),
            feed.entries.len()
        )?;
        for e in &feed.entries {
            let date = e
                .published
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            writeln!(
                out,
                "  {date:10}  {}  {}",
                e.title.as_deref().unwrap_or("(untitled)"),
                e.link.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(())
}

fn import_opml(file: &Path, country: &str, langs: &[String]) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let outlines = mediawatch_ingest::parse_opml(&bytes)
        .with_context(|| format!("parsing {}", file.display()))?;
    if outlines.is_empty() {
        bail!("{}: no feeds (outlines with xmlUrl) found", file.display());
    }
    let toml = mediawatch_ingest::opml_to_sources_toml(&outlines, country, langs);
    // Check what we print the same way a config is checked, so a bad
    // --country or --lang is reported here rather than at the next start.
    Config::from_toml_str(&format!("version = 1\n{toml}"), "<imported sources>")?;
    print!("{toml}");
    eprintln!("{} sources from {}", outlines.len(), file.display());
    Ok(())
}

async fn sources(config: Config, data_dir: &Path, action: SourcesAction) -> Result<()> {
    let unhealthy = chrono::Duration::from_std(config.scheduler.unhealthy_after)
        .unwrap_or(chrono::Duration::days(2));
    let state = DataDir::existing(data_dir).open_state_if_exists()?;
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
                    .map(|(s, status, h)| serde_json::json!({"source": s.meta(), "kind": s.kind.as_str(), "url": s.url, "enabled": s.enabled, "status": status, "health": h}))
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
                        s.url
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
            let fetcher =
                mediawatch_fetch::Fetcher::new(mediawatch_pipeline::fetch_options(&config))?;
            let selected: Vec<_> = config
                .sources
                .iter()
                .filter(|s| source.as_deref().is_none_or(|id| id == s.id))
                .collect();
            if selected.is_empty() {
                bail!(
                    "unknown source {:?}: it is not in the config",
                    source.unwrap_or_default()
                );
            }
            let mut tasks = tokio::task::JoinSet::new();
            for (i, s) in selected.iter().enumerate() {
                let f = fetcher.clone();
                let sc = (*s).clone();
                tasks.spawn(async move {
                    let t = std::time::Instant::now();
                    let r = mediawatch_pipeline::check_source(&f, &sc).await;
                    (i, r, t.elapsed().as_millis() as u64)
                });
            }
            let mut results = vec![(Err(String::new()), 0u64); selected.len()];
            while let Some(j) = tasks.join_next().await {
                let (i, r, ms) = j.context("check task")?;
                results[i] = (r, ms);
            }
            let mut failed = 0;
            let mut json_rows = Vec::new();
            for (s, (r, ms)) in selected.iter().zip(results) {
                let h = health(&s.id)?;
                if r.is_err() {
                    failed += 1;
                }
                if json {
                    json_rows.push(serde_json::json!({
                        "source": s.id, "ok": r.is_ok(), "items": r.as_ref().ok(),
                        "error": r.as_ref().err(), "latency_ms": ms,
                        "status": h.status(now, unhealthy), "health": h,
                    }));
                } else {
                    match &r {
                        Ok(n) => writeln!(
                            out,
                            "ok    {:<24} {n:>4} items  {ms:>5} ms   stored: {} items, status {}",
                            s.id,
                            h.items_total,
                            h.status(now, unhealthy)
                        )?,
                        Err(e) => writeln!(out, "FAIL  {:<24} {e}", s.id)?,
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
                    selected.len() - failed,
                    selected.len()
                )?;
            }
        }
    }
    Ok(())
}

async fn demo(data_dir: &Path, listen: SocketAddr, no_serve: bool) -> Result<()> {
    use mediawatch_pipeline::demo::{demo_config, DemoServer, DEMO_QUERIES};
    let corpus = DemoServer::start("127.0.0.1:0".parse()?).await?;
    let config = demo_config(corpus.base())?;
    let dir = DataDir::existing(data_dir).demo_dir();
    if dir.exists() {
        // Our own scratch directory: a fresh start each time.
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    eprintln!(
        "demo: serving the sample corpus at {} ; data in {}",
        corpus.base(),
        dir.display()
    );
    let pipeline = Arc::new(Pipeline::open(config, &dir)?);
    let cancel = CancellationToken::new();
    let reports = pipeline.ingest_once(None, &cancel).await?;
    println!("## Ingest\n");
    print_pass(&reports, false)?;
    let rows = pipeline.index().facts(&FactsFilter::default())?;
    let r = mediawatch_report::build_report(
        &rows,
        &ReportRequest {
            interval: Interval::Month,
            by: GroupBy::Country,
            from: None,
            to: None,
            audience: Default::default(),
            count_clusters_once: false,
        },
    );
    println!("\n## Report (per month and country)\n");
    println!("{}", mediawatch_report::render_markdown(&r));
    let map = mediawatch_report::audience::build_audience_map(&rows, &pipeline.source_metas(), 3);
    println!(
        "{}",
        mediawatch_report::audience::audience_markdown(&map).replacen(
            "# Audience map",
            "## Audience map",
            1
        )
    );
    println!("## Search examples\n");
    for q in DEMO_QUERIES {
        let res = pipeline.index().search(&SearchRequest {
            query: q.to_string(),
            limit: 3,
            ..Default::default()
        })?;
        println!(
            "mediawatch --data-dir {} search '{q}'   -> {} documents",
            dir.display(),
            res.total
        );
        for h in &res.hits {
            println!("    [{}] {}", h.source, h.title);
        }
    }
    if no_serve {
        corpus.stop().await;
        return Ok(());
    }
    ctrl_c(cancel.clone());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("\nAPI: http://{listen}/api/search?q=migranti  (Ctrl-C to stop)");
    mediawatch_server::serve_on(listener, app_state(&pipeline), cancel).await?;
    corpus.stop().await;
    Ok(())
}
