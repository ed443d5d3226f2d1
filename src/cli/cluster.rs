//! `mediawatch node` (one process holding one or more cluster roles) and
//! `mediawatch cluster up|down|status` (a local cluster).

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use mediawatch_cluster::local::{LocalCluster, UpOptions};
use mediawatch_cluster::{
    node_status, run_indexer, run_scheduler, run_worker, serve_metrics, Bus, ClusterMetrics,
    IndexerOptions, MetricsText, DOCS_STREAM, JOBS_STREAM,
};
use mediawatch_config::{ClusterConfig, Config};
use mediawatch_pipeline::{DataDir, Pipeline};
use mediawatch_query::Queries;
use tokio_util::sync::CancellationToken;

use super::run::shutdown_on_signal;
use super::Ctx;

/// A role of a cluster node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Role {
    /// Claims due sources in PostgreSQL and publishes fetch jobs.
    Scheduler,
    /// Fetches, extracts and classifies; publishes labelled documents.
    Worker,
    /// Consumes the document stream into this node's index; serves queries.
    Indexer,
    /// Serves the API and dashboard over the index nodes.
    Api,
}

/// `mediawatch node`.
#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    /// A role this process holds (repeat for several).
    #[arg(long = "role", value_enum, required = true)]
    roles: Vec<Role>,
    /// The node's name: an indexer's durable consumer is `indexer-<name>`
    /// (keep it across restarts).
    #[arg(long)]
    name: String,
    /// Where an indexer serves queries, its status and /metrics.
    #[arg(long)]
    query_listen: Option<SocketAddr>,
    /// The shard an indexer holds (0 to cluster.shards - 1).
    #[arg(long, default_value_t = 0)]
    shard: usize,
    /// Where the api role serves the API (default: server.listen).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Where a worker or scheduler serves /metrics.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
}

/// `mediawatch cluster`.
#[derive(Args, Debug)]
pub(crate) struct ClusterArgs {
    #[command(subcommand)]
    action: ClusterAction,
}

#[derive(Subcommand, Debug)]
enum ClusterAction {
    /// Start a local cluster from the config: PostgreSQL, NATS JetStream
    /// nodes, indexers, workers, the scheduler and the API.
    Up {
        /// The cluster's directory (default: <data-dir>/cluster).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// NATS JetStream nodes (3: streams with 3 replicas).
        #[arg(long, default_value_t = 3)]
        nats_nodes: usize,
        /// Worker processes.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Index nodes per shard (replicas).
        #[arg(long, default_value_t = 2)]
        indexers: usize,
        /// Shards the documents are split into (each with --indexers replicas).
        #[arg(long, default_value_t = 1)]
        shards: usize,
        /// First port: NATS +0.., routes +10.., PostgreSQL +20, index
        /// nodes +30.., API +50, metrics +60...
        #[arg(long, default_value_t = 7400)]
        port_base: u16,
    },
    /// Stop the local cluster in the order work flows: scheduler, workers,
    /// indexers, API, then NATS, then PostgreSQL.
    Down {
        /// The cluster's directory (default: <data-dir>/cluster).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// How long each process may take to stop before it is killed.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        grace: Duration,
    },
    /// Every process of the local cluster, its health and its lag.
    Status {
        /// The cluster's directory (default: <data-dir>/cluster).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `mediawatch node`.
pub(crate) fn node_cmd(ctx: &Ctx, a: NodeArgs) -> Result<()> {
    let config = ctx.config()?;
    let Some(cluster) = config.cluster.clone() else {
        bail!(mediawatch_cluster::ClusterError::NotConfigured);
    };
    if config.state.backend != mediawatch_config::StateBackendKind::Postgres {
        bail!(
            "{}: the roles of a cluster share their crawl state: set [state] backend = \"postgres\" (and url, or {})",
            ctx.config.as_deref().map_or("the config".into(), |p| p.display().to_string()),
            mediawatch_config::POSTGRES_URL_ENV
        );
    }
    ctx.block_on(node(config, cluster, &ctx.data_dir, a))
}

async fn node(config: Config, cluster: ClusterConfig, data_dir: &Path, a: NodeArgs) -> Result<()> {
    let roles: BTreeSet<Role> = a.roles.iter().copied().collect();
    let cancel = CancellationToken::new();
    shutdown_on_signal(cancel.clone());
    let metrics = Arc::new(ClusterMetrics::default());
    let bus = Bus::connect(&cluster, &format!("mediawatch-{}", a.name)).await?;
    let pipeline = if roles
        .iter()
        .any(|r| matches!(r, Role::Scheduler | Role::Worker | Role::Api))
    {
        let mut p = Pipeline::open(config.clone(), data_dir)?;
        // Only a worker classifies: the others do not load the model.
        if roles.contains(&Role::Worker) {
            p = p.with_classifier(mediawatch_classify::build::build_classifier(
                &config.classifier,
            )?);
        }
        Some(Arc::new(p))
    } else {
        None
    };
    let pipeline_metrics: Option<MetricsText> = pipeline.as_ref().map(|p| {
        let m = p.metrics().clone();
        Arc::new(move || m.render()) as MetricsText
    });
    let render: MetricsText = {
        let (m, pm) = (metrics.clone(), pipeline_metrics.clone());
        Arc::new(move || m.render_with(pm.as_ref().map(|f| f())))
    };
    let mut tasks: tokio::task::JoinSet<(String, Result<()>)> = tokio::task::JoinSet::new();
    for role in &roles {
        let (c, b, m, x) = (
            cluster.clone(),
            bus.clone(),
            metrics.clone(),
            cancel.clone(),
        );
        match role {
            Role::Scheduler => {
                let p = pipeline.clone().context("scheduler without pipeline")?;
                tasks.spawn(async move {
                    let r =
                        run_scheduler(c, b, p.state().clone(), p.enabled_source_ids(), m, x).await;
                    ("scheduler".into(), r.map_err(Into::into))
                });
            }
            Role::Worker => {
                let p = pipeline.clone().context("worker without pipeline")?;
                tasks.spawn(async move {
                    (
                        "worker".into(),
                        run_worker(c, b, p, m, x).await.map_err(Into::into),
                    )
                });
            }
            Role::Indexer => {
                let query_listen = a
                    .query_listen
                    .context("the indexer role needs --query-listen (where the api asks it)")?;
                let opts = IndexerOptions {
                    node: a.name.clone(),
                    index_dir: DataDir::create(data_dir)?.index_dir(),
                    heap_bytes: config.index.writer_heap_bytes,
                    query_listen,
                    shard: a.shard,
                };
                let pm = pipeline_metrics.clone();
                tasks.spawn(async move {
                    let r = run_indexer(c, b, opts, m, pm, x).await;
                    ("indexer".into(), r.map_err(Into::into))
                });
            }
            Role::Api => {
                let p = pipeline.clone().context("api without pipeline")?;
                let backend = mediawatch_cluster::index_backend(&c, m)?;
                let mut state = super::run::app_state_over(&p, backend.clone());
                state.metrics = Some(render.clone());
                let queries = Queries::new(backend, state.sources.clone());
                let alert_loop =
                    super::alerts::start_loop(&config, queries, p.state().clone(), x.clone())?;
                let addr: SocketAddr = match a.listen {
                    Some(l) => l,
                    None => config.server.listen.parse().context("server.listen")?,
                };
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?;
                tasks.spawn(async move {
                    let r = mediawatch_server::serve_on(listener, state, x).await;
                    if let Some(t) = alert_loop {
                        let _ = t.await;
                    }
                    ("api".into(), r.map_err(Into::into))
                });
            }
        }
    }
    if let Some(addr) = a.metrics_listen {
        let x = cancel.clone();
        let r = render.clone();
        tasks.spawn(async move {
            (
                "metrics".into(),
                serve_metrics(addr, r, x).await.map_err(Into::into),
            )
        });
    }
    eprintln!(
        "mediawatch node {}: {} (Ctrl-C or SIGTERM to stop)",
        a.name,
        roles
            .iter()
            .map(|r| format!("{r:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut failed: Option<anyhow::Error> = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(()))) => {}
            Ok((role, Err(e))) => {
                tracing::error!("the {role} role failed: {e:#}");
                cancel.cancel();
                failed.get_or_insert(e.context(format!("{role} role")));
            }
            Err(e) => {
                cancel.cancel();
                failed.get_or_insert(anyhow::anyhow!("a role task panicked: {e}"));
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => {
            eprintln!("mediawatch node {}: stopped cleanly", a.name);
            Ok(())
        }
    }
}

/// `mediawatch cluster`.
pub(crate) fn cluster_cmd(ctx: &Ctx, a: ClusterArgs) -> Result<()> {
    let default_dir = || ctx.data_dir.join("cluster");
    match a.action {
        ClusterAction::Up {
            dir,
            nats_nodes,
            workers,
            indexers,
            shards,
            port_base,
        } => {
            let config = ctx.config()?;
            let dir = dir.unwrap_or_else(default_dir);
            let opts = UpOptions {
                binary: std::env::current_exe().context("cannot find this binary")?,
                dir: dir.clone(),
                nats_nodes,
                workers,
                indexers,
                shards,
                port_base,
                env: Vec::new(),
            };
            let api = LocalCluster::new(&dir).up(&config, &opts)?;
            println!(
                "cluster up in {}: {nats_nodes} NATS nodes, PostgreSQL, {indexers} indexers, {workers} workers, scheduler, API at {api}/",
                dir.display()
            );
            println!(
                "status: mediawatch --data-dir {} cluster status",
                ctx.data_dir.display()
            );
            Ok(())
        }
        ClusterAction::Down { dir, grace } => {
            let dir = dir.unwrap_or_else(default_dir);
            let stopped = LocalCluster::new(&dir).down(grace)?;
            println!("stopped: {}", stopped.join(", "));
            Ok(())
        }
        ClusterAction::Status { dir, json } => {
            let dir = dir.unwrap_or_else(default_dir);
            ctx.block_on(status(dir, json))
        }
    }
}

/// What `cluster status` prints per process.
#[derive(serde::Serialize)]
struct Row {
    #[serde(flatten)]
    process: mediawatch_cluster::local::ProcessStatus,
    health: String,
}

async fn status(dir: PathBuf, json: bool) -> Result<()> {
    let lc = LocalCluster::new(&dir);
    let config = Config::load(&lc.config_path())
        .with_context(|| format!("no cluster in {} (run `cluster up`)", dir.display()))?;
    let cluster = config
        .cluster
        .clone()
        .context("the cluster config has no [cluster]")?;
    let client = reqwest_client()?;
    let mut rows = Vec::new();
    let index_urls: Vec<String> = cluster.shard_nodes().into_iter().flatten().collect();
    for p in lc.processes() {
        let health = if !p.running {
            "down".to_string()
        } else if p.name.starts_with("indexer-") {
            let n: Option<usize> = p.name.strip_prefix("indexer-").and_then(|n| n.parse().ok());
            match n.and_then(|n| index_urls.get(n.wrapping_sub(1))) {
                Some(u) => match node_status(&client, u).await {
                    Ok(s) => format!(
                        "shard {}/{}: {} documents, stream position {}, lag {}",
                        s.shard + 1,
                        s.shards,
                        s.documents,
                        s.position,
                        s.pending.map_or("?".into(), |p| p.to_string())
                    ),
                    Err(e) => format!("not answering: {e}"),
                },
                None => "running".into(),
            }
        } else if p.name == "api" {
            match client
                .get(format!("http://{}/api/health", config.server.listen))
                .send()
                .await
            {
                Ok(r) => format!("HTTP {}", r.status().as_u16()),
                Err(e) => format!("not answering: {e}"),
            }
        } else {
            "running".into()
        };
        rows.push(Row { process: p, health });
    }
    // The queues, from JetStream itself.
    let queues = match tokio::time::timeout(
        Duration::from_secs(5),
        Bus::connect(&cluster, "mediawatch-status"),
    )
    .await
    {
        Ok(Ok(bus)) => {
            let mut q = Vec::new();
            if let Ok((msgs, last)) = bus.stream_state(JOBS_STREAM).await {
                q.push(format!(
                    "{JOBS_STREAM}: {msgs} jobs waiting (last sequence {last})"
                ));
            }
            if let Ok((msgs, last)) = bus.stream_state(DOCS_STREAM).await {
                q.push(format!(
                    "{DOCS_STREAM}: {msgs} documents kept (last sequence {last})"
                ));
            }
            q
        }
        Ok(Err(e)) => vec![format!("NATS: {e}")],
        Err(_) => vec!["NATS: no answer within 5 s".into()],
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "processes": rows, "streams": queues }),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{:<12} {:>8} {:<8} health", "process", "pid", "state")?;
    for r in &rows {
        writeln!(
            out,
            "{:<12} {:>8} {:<8} {}",
            r.process.name,
            r.process.pid.map_or("-".into(), |p| p.to_string()),
            if r.process.running { "running" } else { "down" },
            r.health
        )?;
    }
    for q in queues {
        writeln!(out, "{q}")?;
    }
    Ok(())
}

fn reqwest_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .context("HTTP client")
}
