//! The indexer role: one durable consumer of the document stream per index
//! node, feeding the node's own tantivy index, and the node's query
//! endpoint that the api role asks.
//!
//! The index is the authority on how far the node got: every commit
//! stores the stream sequence it reached in the commit's payload
//! (atomically with the documents), and only then is the stream
//! acknowledged. At start the node reads that position and (re)creates its
//! consumer to deliver from the next sequence, so a node killed mid-commit
//! resumes exactly where its last commit ended, a node whose index was
//! wiped replays the whole stream, and a message delivered twice is
//! skipped by its sequence (and would be an upsert by document id anyway).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::Message;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use mediawatch_config::ClusterConfig;
use mediawatch_core::DocId;
use mediawatch_index::{Index, IndexWriterHandle};
use mediawatch_query::{QueryBackend, QueryError};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::bus::{docs_subject, Bus, DocMessage, DOCS_STREAM};
use crate::remote::{QueryCall, RemoteError};
use crate::{retry_setup, ClusterError, ClusterMetrics, Result};

/// Most messages pulled at once.
const PULL_BATCH: usize = 512;
/// Documents after which an indexer commits even before its interval
/// (a node catching up on a backlog commits, and acknowledges, as it goes).
const COMMIT_EVERY_DOCS: u64 = 20_000;

/// What an indexer needs besides the cluster config.
#[derive(Debug, Clone)]
pub struct IndexerOptions {
    /// The node's name: its durable consumer is `indexer-<name>`.
    pub node: String,
    /// Its index directory.
    pub index_dir: PathBuf,
    /// tantivy writer heap.
    pub heap_bytes: usize,
    /// Where it serves queries (and `/metrics`) for the api role.
    pub query_listen: SocketAddr,
    /// The shard it holds (0 when the documents are not sharded).
    pub shard: usize,
}

/// What `GET /internal/status` of an index node answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's name.
    pub node: String,
    /// The shard it holds, of how many.
    pub shard: usize,
    /// Shards in the cluster.
    pub shards: usize,
    /// Documents searchable on it.
    pub documents: u64,
    /// Document stream sequence of its last commit.
    pub position: u64,
    /// Documents in the stream it has not committed yet (its lag), when
    /// known.
    pub pending: Option<u64>,
}

/// The commit payload of an indexer.
#[derive(Debug, Serialize, Deserialize)]
struct Position {
    stream: String,
    seq: u64,
}

/// Deletes the node's durable consumer and creates it again from `config`.
///
/// The index, not the consumer, says where this node stands, so the
/// consumer always starts over from the committed position. A delete that
/// failed while JetStream elected leaders leaves the old consumer in place,
/// and creating it with another start sequence is then refused ("deliver
/// policy can not be updated"), so both steps are retried together.
async fn replace_consumer(
    stream: &async_nats::jetstream::stream::Stream,
    durable: &str,
    config: pull::Config,
    cancel: &CancellationToken,
) -> Result<Option<async_nats::jetstream::consumer::PullConsumer>> {
    use async_nats::jetstream::stream::ConsumerErrorKind;
    use async_nats::jetstream::ErrorCode;
    let what = format!("consumer {DOCS_STREAM}/{durable}");
    retry_setup(&what, cancel, || {
        let config = config.clone();
        async move {
            match stream.delete_consumer(durable).await {
                Ok(_) => {}
                Err(e)
                    if matches!(e.kind(), ConsumerErrorKind::JetStream(j)
                        if j.error_code() == ErrorCode::CONSUMER_NOT_FOUND) => {}
                Err(e) => return Err(format!("cannot delete the old consumer: {e}")),
            }
            stream
                .create_consumer(config)
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await
}

fn read_position(index: &Index) -> Result<u64> {
    Ok(match index.commit_payload()? {
        Some(p) => serde_json::from_str::<Position>(&p)
            .ok()
            .filter(|p| p.stream == DOCS_STREAM)
            .map_or(0, |p| p.seq),
        None => 0,
    })
}

#[derive(Clone)]
struct NodeState {
    node: String,
    shard: usize,
    shards: usize,
    index: Index,
    metrics: Arc<ClusterMetrics>,
    position: Arc<std::sync::atomic::AtomicU64>,
    pending: Arc<std::sync::atomic::AtomicI64>,
    pipeline_metrics: Option<crate::remote::MetricsText>,
}

/// Runs an index node until `cancel`: consumes the document stream into
/// `options.index_dir` and serves queries on `options.query_listen`.
pub async fn run_indexer(
    config: ClusterConfig,
    bus: Bus,
    options: IndexerOptions,
    metrics: Arc<ClusterMetrics>,
    pipeline_metrics: Option<crate::remote::MetricsText>,
    cancel: CancellationToken,
) -> Result<()> {
    let index = Index::open_or_create(&options.index_dir)?;
    let mut position = read_position(&index)?;
    metrics
        .index_position
        .set(i64::try_from(position).unwrap_or(i64::MAX));
    if options.shard >= config.shards {
        return Err(ClusterError::Local(format!(
            "--shard {} is out of range: cluster.shards is {}",
            options.shard, config.shards
        )));
    }
    let node = NodeState {
        node: options.node.clone(),
        shard: options.shard,
        shards: config.shards,
        index: index.clone(),
        metrics: metrics.clone(),
        position: Arc::new(std::sync::atomic::AtomicU64::new(position)),
        pending: Arc::new(std::sync::atomic::AtomicI64::new(-1)),
        pipeline_metrics,
    };
    let listener = tokio::net::TcpListener::bind(options.query_listen)
        .await
        .map_err(|source| ClusterError::Io {
            what: format!("cannot listen on {} for queries", options.query_listen),
            source,
        })?;
    let server_stop = cancel.clone();
    let app = node_routes(node.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { server_stop.cancelled().await })
            .await
    });
    let durable = format!("indexer-{}", options.node);
    let js = bus.jetstream();
    let Some(stream) = retry_setup(&format!("stream {DOCS_STREAM}"), &cancel, || {
        js.get_stream(DOCS_STREAM)
    })
    .await?
    else {
        let _ = server.await;
        return Ok(());
    };
    let config_for = |position: u64| pull::Config {
        durable_name: Some(durable.clone()),
        ack_policy: AckPolicy::All,
        // Only this node's shard.
        filter_subject: docs_subject(options.shard),
        ack_wait: (config.index_commit_interval * 10).max(Duration::from_secs(30)),
        deliver_policy: if position == 0 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence {
                start_sequence: position + 1,
            }
        },
        // Acknowledged once per commit: allow a commit's worth (and
        // more) outstanding, or delivery would stall at JetStream's
        // default of 1,000 between two commits.
        max_ack_pending: i64::try_from(COMMIT_EVERY_DOCS * 4).unwrap_or(i64::MAX),
        ..Default::default()
    };
    let Some(consumer) = replace_consumer(&stream, &durable, config_for(position), &cancel).await?
    else {
        // Stopped while waiting for JetStream: the query server is
        // stopping on the same token.
        let _ = server.await;
        return Ok(());
    };
    tracing::info!(node = %options.node, position, "indexer started");
    let writer = index.writer(options.heap_bytes)?;
    let mut reached = position;
    let mut last_msg: Option<Message> = None;
    let mut last_commit = Instant::now();
    let mut consumer = consumer;
    while !cancel.is_cancelled() {
        let wait = config.index_commit_interval.min(Duration::from_secs(1));
        let batch = consumer
            .batch()
            .max_messages(PULL_BATCH)
            .expires(wait)
            .messages()
            .await;
        match batch {
            Ok(mut batch) => {
                let mut docs = Vec::new();
                loop {
                    let next = tokio::select! {
                        _ = cancel.cancelled() => None,
                        m = batch.next() => m,
                    };
                    let Some(Ok(msg)) = next else { break };
                    let seq = match msg.info() {
                        Ok(i) => i.stream_sequence,
                        Err(e) => {
                            tracing::warn!("message without stream metadata: {e}");
                            continue;
                        }
                    };
                    if seq <= position {
                        metrics.docs_redelivered.inc();
                    } else {
                        match serde_json::from_slice::<DocMessage>(&msg.payload) {
                            Ok(d) => docs.push(d),
                            // One bad message must not stop the node; it is
                            // reported and passed over.
                            Err(e) => tracing::error!(
                                "{}",
                                ClusterError::BadMessage {
                                    stream: DOCS_STREAM,
                                    seq,
                                    message: e.to_string(),
                                }
                            ),
                        }
                        reached = reached.max(seq);
                    }
                    last_msg = Some(msg);
                }
                if !docs.is_empty() {
                    let n = docs.len() as u64;
                    upsert(&writer, docs).await?;
                    metrics.docs_indexed.inc_by(n);
                }
            }
            Err(e) => {
                tracing::warn!("cannot pull documents (NATS unreachable?): {e}");
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
        let due = last_commit.elapsed() >= config.index_commit_interval
            || reached.saturating_sub(position) >= COMMIT_EVERY_DOCS;
        if due {
            if last_msg.is_some() {
                commit(&writer, &mut position, reached, &mut last_msg, &node).await?;
            }
            last_commit = Instant::now();
            // The lag, idle or not (`cluster status`, /metrics).
            if let Ok(info) = consumer.info().await {
                let pending = i64::try_from(info.num_pending).unwrap_or(i64::MAX);
                metrics.docs_pending.set(pending);
                node.pending
                    .store(pending, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    if last_msg.is_some() {
        commit(&writer, &mut position, reached, &mut last_msg, &node).await?;
    }
    tokio::task::spawn_blocking(move || writer.close())
        .await
        .map_err(|e| ClusterError::Local(format!("index writer task: {e}")))??;
    let _ = server.await;
    tracing::info!(node = %options.node, position, "indexer stopped");
    Ok(())
}

async fn upsert(writer: &IndexWriterHandle, docs: Vec<DocMessage>) -> Result<()> {
    let w = writer.clone();
    // The writer's channel is bounded: a busy writer makes this wait, off
    // the async workers.
    tokio::task::spawn_blocking(move || {
        w.upsert_batch(docs.iter().map(|d| (&d.doc, &d.source, &d.extra)))
    })
    .await
    .map_err(|e| ClusterError::Local(format!("index writer task: {e}")))??;
    Ok(())
}

/// Commits with the position reached, then acknowledges everything up to
/// the last message (the consumer acknowledges all before it).
async fn commit(
    writer: &IndexWriterHandle,
    position: &mut u64,
    reached: u64,
    last_msg: &mut Option<Message>,
    node: &NodeState,
) -> Result<()> {
    if reached > *position {
        let payload = serde_json::to_string(&Position {
            stream: DOCS_STREAM.into(),
            seq: reached,
        })
        .map_err(|e| ClusterError::Local(format!("commit payload: {e}")))?;
        let w = writer.clone();
        tokio::task::spawn_blocking(move || w.commit_with_payload(payload))
            .await
            .map_err(|e| ClusterError::Local(format!("index writer task: {e}")))??;
        *position = reached;
        node.metrics.index_commits.inc();
        node.metrics
            .index_position
            .set(i64::try_from(reached).unwrap_or(i64::MAX));
        node.position
            .store(reached, std::sync::atomic::Ordering::Relaxed);
    }
    if let Some(m) = last_msg.take() {
        // Not fatal: an unacknowledged message is redelivered and skipped
        // by its sequence.
        if let Err(e) = m.ack().await {
            tracing::warn!("ack after commit failed: {e}");
        }
    }
    Ok(())
}

fn node_routes(state: NodeState) -> Router {
    Router::new()
        .route("/internal/query", post(query))
        .route("/internal/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn status(State(s): State<NodeState>) -> Response {
    let documents = s.index.num_docs().unwrap_or(0);
    let pending = s.pending.load(std::sync::atomic::Ordering::Relaxed);
    Json(NodeStatus {
        node: s.node.clone(),
        shard: s.shard,
        shards: s.shards,
        documents,
        position: s.position.load(std::sync::atomic::Ordering::Relaxed),
        pending: u64::try_from(pending).ok(),
    })
    .into_response()
}

async fn metrics(State(s): State<NodeState>) -> Response {
    let more = s.pipeline_metrics.as_ref().map(|f| f());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render_with(more),
    )
        .into_response()
}

async fn query(State(s): State<NodeState>, Json(call): Json<QueryCall>) -> Response {
    let index = s.index.clone();
    let answer = tokio::task::spawn_blocking(move || answer(&index, call)).await;
    match answer {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => {
            let status = if e.invalid {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            (status, Json(e)).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(RemoteError {
                invalid: false,
                message: format!("query task: {e}"),
            }),
        )
            .into_response(),
    }
}

pub(crate) fn answer(
    index: &Index,
    call: QueryCall,
) -> std::result::Result<serde_json::Value, RemoteError> {
    fn json<T: Serialize>(
        r: mediawatch_query::Result<T>,
    ) -> std::result::Result<serde_json::Value, RemoteError> {
        match r {
            Ok(v) => serde_json::to_value(v).map_err(|e| RemoteError {
                invalid: false,
                message: e.to_string(),
            }),
            Err(QueryError::Invalid(m)) => Err(RemoteError {
                invalid: true,
                message: m,
            }),
            Err(QueryError::Index(e)) => Err(RemoteError {
                invalid: matches!(
                    e,
                    mediawatch_index::IndexError::Query { .. }
                        | mediawatch_index::IndexError::InvalidRequest { .. }
                ),
                message: e.to_string(),
            }),
            Err(e) => Err(RemoteError {
                invalid: false,
                message: e.to_string(),
            }),
        }
    }
    match call {
        QueryCall::NumDocs => json(QueryBackend::num_docs(index)),
        QueryCall::Search(r) => json(QueryBackend::search(index, &r)),
        QueryCall::Stats(r) => json(index.query_stats(&r).map_err(QueryError::from)),
        QueryCall::TermCounts(r) => json(index.term_counts(&r).map_err(QueryError::from)),
        QueryCall::SearchWithStats { req, stats } => json(
            index
                .search_with_stats(&req, Some(&stats))
                .map_err(QueryError::from),
        ),
        QueryCall::Document { id } => json(QueryBackend::document(index, &DocId::from_stored(id))),
        QueryCall::Facts(f) => json(QueryBackend::facts(index, &f)),
        QueryCall::Report(r) => json(QueryBackend::report(index, &r)),
        QueryCall::TopTerms { req, countries } => {
            json(QueryBackend::top_terms(index, &req, &countries))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_nats::jetstream::stream;

    /// A single JetStream server on `port`, its store in `dir`.
    fn nats(bin: &std::path::Path, port: u16, dir: &std::path::Path) -> std::process::Child {
        std::process::Command::new(bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    async fn connect(port: u16) -> async_nats::Client {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match async_nats::connect(format!("127.0.0.1:{port}")).await {
                Ok(c) => return c,
                Err(e) if Instant::now() > deadline => panic!("nats-server: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The failure CI met: the NATS server is away when an indexer
    /// restarts, so deleting its old consumer fails. It waits for the
    /// server and then replaces the consumer with one starting at the new
    /// position, instead of exiting (or keeping the old start).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consumer_is_replaced_once_the_server_is_back() {
        let Some(bin) = mediawatch_core::procs::find_bin("nats-server") else {
            assert!(
                std::env::var("MEDIAWATCH_CLUSTER").map_or(true, |v| v != "required"),
                "MEDIAWATCH_CLUSTER=required but nats-server is not installed"
            );
            eprintln!("skipped: nats-server is not installed");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = mediawatch_testkit::free_port();
        let mut server = nats(&bin, port, dir.path());
        let client = connect(port).await;
        let js = async_nats::jetstream::new(client);
        let stream = js
            .get_or_create_stream(stream::Config {
                name: DOCS_STREAM.into(),
                subjects: vec!["t.>".into()],
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 0..5 {
            js.publish(format!("t.{i}"), "x".into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let config = |deliver_policy| pull::Config {
            durable_name: Some("indexer-t".into()),
            ack_policy: AckPolicy::All,
            deliver_policy,
            ..Default::default()
        };
        let _: async_nats::jetstream::consumer::PullConsumer = stream
            .create_consumer(config(DeliverPolicy::All))
            .await
            .unwrap();
        server.kill().unwrap();
        server.wait().unwrap();
        let cancel = CancellationToken::new();
        let task = {
            let cancel = cancel.clone();
            let wanted = config(DeliverPolicy::ByStartSequence { start_sequence: 4 });
            tokio::spawn(
                async move { replace_consumer(&stream, "indexer-t", wanted, &cancel).await },
            )
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!task.is_finished(), "gave up while the server was away");
        let mut server = nats(&bin, port, dir.path());
        let consumer = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("still waiting a minute after the server came back")
            .unwrap()
            .unwrap()
            .expect("not cancelled");
        let mut consumer = consumer;
        let info = consumer.info().await.unwrap();
        assert_eq!(
            info.config.deliver_policy,
            DeliverPolicy::ByStartSequence { start_sequence: 4 }
        );
        assert_eq!(info.num_pending, 2, "messages 4 and 5 are left to deliver");
        server.kill().unwrap();
        server.wait().unwrap();
    }
}
