//! mediawatch as a cluster: the roles of one binary over NATS JetStream
//! (the work queue and the log of classified documents) and PostgreSQL
//! (the shared crawl state).
//!
//! ```text
//! scheduler --claims due sources (PostgreSQL, FOR UPDATE SKIP LOCKED + lease)
//!     |  publishes fetch jobs            MW_JOBS (work queue, R replicas)
//!     v
//! worker x N --competing consumers of MW_JOBS: fetch, extract, classify
//!     |  publishes labelled documents     MW_DOCS (log, R replicas)
//!     v
//! indexer x M --one durable consumer each: upsert into its own tantivy
//!     |         index, commit with the stream position, then ack
//!     v
//! api --serves the API and dashboard over the index nodes (replicas)
//! ```
//!
//! Every publish carries a `Nats-Msg-Id` and is retried with the same id, so
//! a publish that timed out but was stored (during a leader change) is
//! dropped by JetStream's duplicate window instead of stored twice; an
//! indexer upserts by document id and skips stream positions its index
//! already committed, so a redelivery never duplicates a document either.
//! Nothing here is a home-made queue or database: JetStream and PostgreSQL
//! hold every piece of shared state.

mod bus;
mod indexer;
pub mod local;
mod metrics;
mod remote;
mod scheduler;
mod shards;
mod worker;

pub use bus::{
    docs_subject, shard_of, Bus, DocMessage, FetchJob, DOCS_STREAM, DOCS_SUBJECTS, JOBS_STREAM,
    JOBS_SUBJECT,
};
pub use indexer::{run_indexer, IndexerOptions, NodeStatus};
pub use metrics::ClusterMetrics;
pub use remote::{node_status, MetricsText, QueryCall, ReplicaSet};
pub use scheduler::run_scheduler;
pub use shards::{LocalShard, ShardClient, Sharded};
pub use worker::run_worker;

/// Errors of the cluster roles.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The config has no `[cluster]` section.
    #[error("this config has no [cluster] section (see the README's cluster section)")]
    NotConfigured,
    /// NATS could not be reached, or a JetStream call failed.
    #[error("NATS {what}: {message}")]
    Nats {
        /// What was being done, e.g. "connect to nats://127.0.0.1:4222".
        what: String,
        /// The client's error.
        message: String,
    },
    /// A message on a stream could not be read.
    #[error("stream {stream} message {seq}: {message}")]
    BadMessage {
        /// The stream.
        stream: &'static str,
        /// Its sequence number.
        seq: u64,
        /// Why it could not be decoded.
        message: String,
    },
    /// The pipeline (sources, fetching, classification) failed.
    #[error(transparent)]
    Pipeline(#[from] mediawatch_pipeline::PipelineError),
    /// The index of an indexer failed.
    #[error(transparent)]
    Index(#[from] mediawatch_index::IndexError),
    /// The shared state failed.
    #[error("state: {0}")]
    State(#[from] mediawatch_state::StateError),
    /// A listener could not be bound or an HTTP server failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Starting, stopping or inspecting a local cluster failed.
    #[error("{0}")]
    Local(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, ClusterError>;

/// The api role's backend for `config`: the index nodes as replicas of one
/// index, or, with several shards, each shard's replicas merged.
pub fn index_backend(
    config: &mediawatch_config::ClusterConfig,
    metrics: std::sync::Arc<ClusterMetrics>,
) -> Result<std::sync::Arc<dyn mediawatch_query::QueryBackend>> {
    let groups = config.shard_nodes();
    if groups.len() == 1 {
        return Ok(std::sync::Arc::new(ReplicaSet::new(
            &groups[0],
            config.query_timeout,
            metrics,
        )?));
    }
    let mut shards: Vec<Box<dyn ShardClient>> = Vec::new();
    for nodes in &groups {
        shards.push(Box::new(ReplicaSet::new(
            nodes,
            config.query_timeout,
            metrics.clone(),
        )?));
    }
    Ok(std::sync::Arc::new(Sharded::new(shards)))
}

/// How long a role keeps trying to set up its streams' consumers while the
/// NATS cluster elects leaders after a restart.
const SETUP_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs a role's JetStream set-up step (`attempt`) until it succeeds.
///
/// Right after a NATS node restarts, JetStream answers with time-outs or
/// "no leader" for a while; a role started by `cluster up` then must wait
/// for it, not exit. Retries with back-off until success, `cancel` (`None`),
/// or [`SETUP_WITHIN`] (the last error, naming `what`).
pub(crate) async fn retry_setup<T, E, F, Fut>(
    what: &str,
    cancel: &tokio_util::sync::CancellationToken,
    mut attempt: F,
) -> Result<Option<T>>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let deadline = std::time::Instant::now() + SETUP_WITHIN;
    let mut backoff = std::time::Duration::from_millis(250);
    loop {
        match attempt().await {
            Ok(v) => return Ok(Some(v)),
            Err(e) if std::time::Instant::now() + backoff >= deadline => {
                return Err(ClusterError::Nats {
                    what: what.to_string(),
                    message: e.to_string(),
                });
            }
            Err(e) => {
                tracing::warn!("{what}: {e}; trying again in {backoff:?}");
                tokio::select! {
                    () = cancel.cancelled() => return Ok(None),
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
            }
        }
    }
}

/// A NATS error of any of the client's typed errors.
pub(crate) fn nats_err<E: std::fmt::Display>(
    what: impl Into<String>,
) -> impl FnOnce(E) -> ClusterError {
    let what = what.into();
    move |e| ClusterError::Nats {
        what,
        message: e.to_string(),
    }
}

/// Serves `GET /metrics` (the Prometheus text of `render`) on `addr` until
/// `cancel`: the worker and scheduler roles, which serve nothing else.
pub async fn serve_metrics(
    addr: std::net::SocketAddr,
    render: remote::MetricsText,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<()> {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ClusterError::Io {
            what: format!("cannot listen on {addr} for metrics"),
            source,
        })?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let render = render.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    render(),
                )
                    .into_response()
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
        .map_err(|source| ClusterError::Io {
            what: format!("metrics server on {addr}"),
            source,
        })
}
