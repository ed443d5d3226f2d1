//! `run`, `ingest` and `demo`: the pipeline's long-running and one-pass
//! modes, with Ctrl-C handling and the API server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use mediawatch_config::Config;
use mediawatch_index::{FactsFilter, SearchRequest};
use mediawatch_pipeline::{DataDir, Pipeline, SourcePassReport};
use mediawatch_report::{GroupBy, Interval};
use tokio_util::sync::CancellationToken;

use super::alerts;
use super::Ctx;

/// Incidents covered by three or more of the demo's outlets, with the
/// outlets that collectivised them.
async fn demo_incidents(
    pipeline: &Pipeline,
    queries: &mediawatch_query::Queries,
    dir: &Path,
) -> Result<()> {
    println!("\n## Incidents covered by three or more outlets\n");
    let req = mediawatch_incidents::IncidentRequest {
        min_outlets: 3,
        ..Default::default()
    };
    let (queries, state) = (queries.clone(), pipeline.state().clone());
    let r = tokio::task::spawn_blocking(move || {
        mediawatch_incidents::build(&queries, state.as_ref(), &req)
    })
    .await??;
    for inc in &r.incidents {
        println!(
            "{} ({} stories, {} outlets){}",
            inc.title,
            inc.documents,
            inc.outlets.len(),
            if inc.collectivising.is_empty() {
                String::new()
            } else {
                format!(": collectivised by {}", inc.collectivising.join(", "))
            }
        );
        for m in &inc.members {
            println!(
                "    [{}] {}{}",
                m.source,
                m.title,
                if m.labels.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", m.labels.join(", "))
                }
            );
        }
    }
    println!(
        "\nmediawatch --data-dir {} incidents list --min-outlets 2   (and /incidents in the dashboard)",
        dir.display()
    );
    Ok(())
}

/// A hostile statement quoted from a named person beside one in an
/// outlet's own voice, and the split per outlet.
fn demo_speakers(queries: &mediawatch_query::Queries, dir: &Path) -> Result<()> {
    use mediawatch_core::SpeakerRole;
    println!("\n## Who speaks: quoted versus editorial hostility\n");
    let hits = queries
        .search(&SearchRequest {
            query: "relevance>=0.5".into(),
            limit: 1000,
            sort_by_date: true,
            ..Default::default()
        })?
        .hits;
    for role in [SpeakerRole::Quoted, SpeakerRole::Outlet] {
        let found = hits.iter().find_map(|h| {
            let l = h.labels.as_ref()?;
            let a = l
                .attributions
                .iter()
                .find(|a| a.role == role && (role != SpeakerRole::Quoted || a.speaker.is_some()))?;
            Some((h, a.clone()))
        });
        if let Some((h, a)) = found {
            // The span as written (the labels keep offsets, not the text).
            let said = queries
                .document(&mediawatch_core::DocId::from_stored(h.id.clone()))?
                .and_then(|d| d.classified_text().get(a.start..a.end).map(str::to_string))
                .unwrap_or_else(|| a.cue.clone());
            println!(
                "{} [{}] {}: \"{}\"{}",
                match role {
                    SpeakerRole::Quoted => "Quoted",
                    _ => "In the outlet's own voice",
                },
                h.source,
                h.title,
                said,
                a.speaker
                    .map(|s| format!(", said by {s}"))
                    .unwrap_or_default()
            );
        }
    }
    let r = queries.speakers(&mediawatch_query::SpeakerQuery::default())?;
    println!(
        "\nPer outlet (mediawatch --data-dir {} speakers; /speakers in the dashboard):",
        dir.display()
    );
    for row in r.outlets.iter().filter(|o| o.hostile_documents > 0) {
        let n = |k: &str| row.documents_by_role.get(k).copied().unwrap_or(0);
        println!(
            "  {:<20} {} hostile of {}: {} in its own voice, {} quoted, {} by commenters",
            row.source,
            row.hostile_documents,
            row.documents,
            n("outlet"),
            n("quoted"),
            n("commenter")
        );
    }
    Ok(())
}

/// The demo's second act: the outlets' sites change (a headline softened,
/// a hateful comment removed, an article deleted) and the re-checks at
/// +7 h, +24 h and +72 h, on a simulated clock, put it on record.
async fn demo_ledger(
    pipeline: &Pipeline,
    corpus: &mediawatch_pipeline::demo::DemoServer,
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<()> {
    use mediawatch_core::ledger::GoneReason;
    println!("\n## Moderation ledger and article history (simulated clock)\n");
    corpus.revise();
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0)
        .unwrap_or_else(chrono::Utc::now);
    let mut edited = Vec::new();
    let mut deleted = Vec::new();
    for hours in [7, 25, 73] {
        let r = pipeline
            .revisit_once(t0 + chrono::Duration::hours(hours), cancel)
            .await?;
        println!(
            "+{hours} h: re-checked {} articles: {} not modified, {} unchanged, {} edited, {} deleted; comments {} still online, {} gone",
            r.checked, r.not_modified, r.unchanged, r.changed, r.deleted, r.comments_online, r.comments_gone
        );
        edited.extend(r.edited);
        deleted.extend(r.deleted_ids);
    }
    let state = pipeline.state();
    for id in &edited {
        if let Some(h) = state.article_history(id)? {
            let (first, last) = (h.versions.first(), h.versions.last());
            if let (Some(a), Some(b)) = (first, last) {
                println!(
                    "\nEdited headline ({}):\n  was: {}\n  now: {}\n  mediawatch --data-dir {} history {id} --format html > history.html",
                    h.article.url,
                    a.title,
                    b.title,
                    dir.display()
                );
            }
        }
    }
    for id in &deleted {
        if let Some(h) = state.article_history(id)? {
            println!(
                "\nDeleted article: {} ({}); it stays in the index and its versions on record.",
                h.article.url,
                h.article.deleted_how.unwrap_or_default()
            );
        }
    }
    let all = state.comment_sightings(&mediawatch_state::SightingFilter {
        tracked_only: true,
        ..Default::default()
    })?;
    for c in all
        .iter()
        .filter(|c| c.gone_reason == Some(GoneReason::Removed))
    {
        println!(
            "\nRemoved comment ({}, {}): \"{}\" by {}, first seen {}, gone at the re-check of {}",
            c.source_id,
            c.label(),
            c.text,
            c.author.as_deref().unwrap_or("anonymous"),
            c.first_seen.format("%Y-%m-%d %H:%M"),
            c.gone_at
                .map(|g| g.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        );
    }
    println!(
        "\nThe ledger (mediawatch --data-dir {} ledger):\n",
        dir.display()
    );
    let report = mediawatch_report::ledger::ledger_report(
        &all,
        None,
        None,
        chrono::Duration::hours(72),
        None,
    );
    super::ledger::print_ledger(&report, &mut std::io::stdout().lock())?;
    Ok(())
}

/// `mediawatch run`.
#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Address of the HTTP API (overrides server.listen).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
}

/// `mediawatch ingest`.
#[derive(Args, Debug)]
pub(crate) struct IngestArgs {
    /// One pass over the sources, then exit.
    #[arg(long)]
    pub once: bool,
    /// Only this source id.
    #[arg(long)]
    pub source: Option<String>,
    /// Per-source results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `mediawatch demo`.
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Exit after the report instead of serving the API.
    #[arg(long)]
    pub no_serve: bool,
    /// Only serve the sample corpus, on this address, until Ctrl-C: for a
    /// cluster (or a second `run`) to ingest. Its config is written to
    /// --write-config.
    #[arg(long, value_name = "ADDR")]
    pub corpus_only: Option<SocketAddr>,
    /// With --corpus-only: write the config whose sources are the corpus's
    /// here (e.g. for `mediawatch --config FILE cluster up`).
    #[arg(long, value_name = "FILE", requires = "corpus_only")]
    pub write_config: Option<std::path::PathBuf>,
}

/// Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and Docker send)
/// starts the ordered shutdown; a second one aborts.
pub(crate) fn shutdown_on_signal(cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let first = next_signal(&mut term).await;
        tracing::info!("{first}: shutting down (send it again to abort)");
        cancel.cancel();
        next_signal(&mut term).await;
        std::process::exit(130);
    });
}

/// Waits for Ctrl-C or SIGTERM; names which came.
async fn next_signal(term: &mut Option<tokio::signal::unix::Signal>) -> &'static str {
    let sigterm = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = sigterm => "SIGTERM",
    }
}

pub(crate) fn app_state(p: &Pipeline) -> mediawatch_server::AppState {
    app_state_over(p, Arc::new(p.index().clone()))
}

/// The API's state over `backend` (the local index, or a cluster's index
/// nodes), with `p`'s state store, sources, settings and metrics.
pub(crate) fn app_state_over(
    p: &Pipeline,
    backend: Arc<dyn mediawatch_query::QueryBackend>,
) -> mediawatch_server::AppState {
    let sources = Arc::new(p.source_metas());
    let queries = mediawatch_query::Queries::new(backend.clone(), sources.clone());
    mediawatch_server::AppState {
        backend,
        state: p.state().clone(),
        sources,
        unhealthy_after: chrono::Duration::from_std(p.config().scheduler.unhealthy_after)
            .unwrap_or(chrono::Duration::days(2)),
        web: mediawatch_server::security::WebOptions::from_config(
            &p.config().server,
            std::env::var(mediawatch_server::security::TOKEN_ENV).ok(),
        ),
        // Without a working alerts setup the API still serves everything
        // else; the reason is printed once.
        alerts: alerts::runtime(p.config(), queries, p.state().clone())
            .map_err(|e| eprintln!("mediawatch: saved searches and alerts unavailable: {e:#}"))
            .ok(),
        metrics: Some({
            let m = p.metrics().clone();
            Arc::new(move || m.render())
        }),
        revisit_final_age: p
            .config()
            .revisit
            .ages
            .last()
            .and_then(|a| chrono::Duration::from_std(*a).ok())
            .unwrap_or(chrono::Duration::hours(72)),
    }
}

pub(crate) async fn run(config: Config, data_dir: &Path, listen: Option<SocketAddr>) -> Result<()> {
    let addr: SocketAddr = match listen {
        Some(a) => a,
        None => config.server.listen.parse().context("server.listen")?,
    };
    let classifier = mediawatch_classify::build::build_classifier(&config.classifier)?;
    let pipeline = Arc::new(Pipeline::open(config, data_dir)?.with_classifier(classifier));
    let cancel = CancellationToken::new();
    shutdown_on_signal(cancel.clone());
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

pub(crate) async fn ingest(
    config: Config,
    data_dir: &Path,
    once: bool,
    source: Option<&str>,
    json: bool,
) -> Result<()> {
    let classifier = mediawatch_classify::build::build_classifier(&config.classifier)?;
    let pipeline = Arc::new(Pipeline::open(config, data_dir)?.with_classifier(classifier));
    let cancel = CancellationToken::new();
    shutdown_on_signal(cancel.clone());
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

pub(crate) fn print_pass(reports: &[SourcePassReport], json: bool) -> Result<()> {
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

pub(crate) async fn demo(data_dir: &Path, listen: SocketAddr, no_serve: bool) -> Result<()> {
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
    let queries = mediawatch_query::Queries::local(
        pipeline.index().clone(),
        Arc::new(pipeline.source_metas()),
    );
    let r = queries.report(&mediawatch_query::ReportQuery {
        interval: Interval::Month,
        by: GroupBy::Country,
        ..Default::default()
    })?;
    println!("\n## Report (per month and country)\n");
    println!("{}", mediawatch_report::render_markdown(&r));
    let map = queries.audience(&FactsFilter::default(), 3)?;
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
        let res = queries.search(&SearchRequest {
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
    demo_incidents(&pipeline, &queries, &dir).await?;
    demo_speakers(&queries, &dir)?;
    demo_ledger(&pipeline, &corpus, &dir, &cancel).await?;
    if no_serve {
        corpus.stop().await;
        return Ok(());
    }
    shutdown_on_signal(cancel.clone());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("\nAPI: http://{listen}/api/search?q=migranti  (Ctrl-C to stop)");
    mediawatch_server::serve_on(listener, app_state(&pipeline), cancel).await?;
    corpus.stop().await;
    Ok(())
}

/// `mediawatch run`.
pub(crate) fn run_cmd(ctx: &Ctx, a: RunArgs) -> Result<()> {
    let config = ctx.config()?;
    ctx.block_on(run(config, &ctx.data_dir, a.listen))
}

/// `mediawatch ingest`.
pub(crate) fn ingest_cmd(ctx: &Ctx, a: IngestArgs) -> Result<()> {
    let config = ctx.config()?;
    ctx.block_on(ingest(
        config,
        &ctx.data_dir,
        a.once,
        a.source.as_deref(),
        a.json,
    ))
}

/// `mediawatch demo`.
pub(crate) fn demo_cmd(ctx: &Ctx, a: DemoArgs) -> Result<()> {
    match a.corpus_only {
        Some(addr) => ctx.block_on(corpus_only(addr, a.write_config)),
        None => ctx.block_on(demo(&ctx.data_dir, a.listen, a.no_serve)),
    }
}

/// `mediawatch demo --corpus-only ADDR [--write-config FILE]`.
async fn corpus_only(addr: SocketAddr, write_config: Option<std::path::PathBuf>) -> Result<()> {
    use mediawatch_pipeline::demo::{demo_config, DemoServer};
    let corpus = DemoServer::start(addr).await?;
    let config = demo_config(corpus.base())?.to_toml()?;
    match &write_config {
        Some(path) => std::fs::write(path, &config)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{config}"),
    }
    eprintln!(
        "demo corpus at {}{} (Ctrl-C to stop)",
        corpus.base(),
        write_config
            .map(|p| format!("; its config in {}", p.display()))
            .unwrap_or_default()
    );
    let cancel = CancellationToken::new();
    shutdown_on_signal(cancel.clone());
    cancel.cancelled().await;
    corpus.stop().await;
    Ok(())
}
