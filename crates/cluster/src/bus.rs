//! The two JetStream streams and how the roles publish to them.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use chrono::{DateTime, Utc};
use mediawatch_config::ClusterConfig;
use mediawatch_core::{Document, SourceMeta};
use mediawatch_index::DocExtra;
use serde::{Deserialize, Serialize};

use crate::{nats_err, ClusterError, Result};

/// The work queue of fetch jobs.
pub const JOBS_STREAM: &str = "MW_JOBS";
/// Its subject.
pub const JOBS_SUBJECT: &str = "mw.jobs";
/// The log of classified documents.
pub const DOCS_STREAM: &str = "MW_DOCS";
/// Its subjects: `mw.docs.<shard>`.
pub const DOCS_SUBJECTS: &str = "mw.docs.>";

/// The subject of shard `shard`'s documents.
pub fn docs_subject(shard: usize) -> String {
    format!("mw.docs.{shard}")
}

/// The shard of a document: a stable hash (FNV-1a, the same on every
/// machine and build) of its near-duplicate cluster, so that every copy of
/// a story is on one shard and collapsed searches and deduplicated reports
/// merge exactly.
pub fn shard_of(cluster_key: &str, shards: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cluster_key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards.max(1) as u64) as usize
}

/// Attempts of one publish before it is reported failed (about 40 s with
/// the backoff): a leader election takes a few seconds, more on a loaded
/// machine, and a worker whose publish fails for good stops (see
/// `worker.rs`).
const PUBLISH_ATTEMPTS: u32 = 24;

/// A fetch job: poll this source now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchJob {
    /// The source id (as configured).
    pub source_id: String,
    /// When the scheduler claimed it; with the source id, the job's
    /// `Nats-Msg-Id`.
    pub claimed_at: DateTime<Utc>,
}

impl FetchJob {
    /// The id JetStream deduplicates the job's publish by.
    pub fn message_id(&self) -> String {
        format!("job:{}:{}", self.source_id, self.claimed_at.timestamp())
    }
}

/// A labelled document on its way to the index nodes: exactly what the
/// single-machine pipeline hands its index writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocMessage {
    /// The document, labels included.
    pub doc: Document,
    /// Its source's metadata (country, scope, audience).
    pub source: SourceMeta,
    /// Content hash and near-duplicate cluster.
    pub extra: DocExtra,
}

impl DocMessage {
    /// The shard this document belongs to, of `shards`.
    pub fn shard(&self, shards: usize) -> usize {
        shard_of(
            self.extra
                .cluster_id
                .as_deref()
                .unwrap_or(self.doc.id.as_str()),
            shards,
        )
    }

    /// The id JetStream deduplicates the document's publish by: the
    /// document and what it says (a changed article is a new message).
    pub fn message_id(&self) -> String {
        format!(
            "doc:{}:{}",
            self.doc.id.as_str(),
            self.extra.content_hash.as_deref().unwrap_or("-")
        )
    }
}

/// A connection to the cluster's JetStream, with both streams in place.
#[derive(Clone)]
pub struct Bus {
    js: jetstream::Context,
    client: async_nats::Client,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").finish_non_exhaustive()
    }
}

impl Bus {
    /// Connects to any of `config.nats` (retrying until `cancel`-free
    /// startup succeeds or `connect_for` passes) and creates the streams
    /// when they do not exist yet.
    pub async fn connect(config: &ClusterConfig, name: &str) -> Result<Self> {
        let servers = config.nats.join(", ");
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connect(config.nats.as_slice())
            .await
            .map_err(nats_err(format!("connect to {servers}")))?;
        let js = jetstream::new(client.clone());
        let bus = Self { js, client };
        bus.ensure_streams(config).await?;
        Ok(bus)
    }

    /// The JetStream context.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// The core client.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    async fn ensure_streams(&self, c: &ClusterConfig) -> Result<()> {
        let replicas = c.stream_replicas;
        let jobs = stream::Config {
            name: JOBS_STREAM.into(),
            subjects: vec![JOBS_SUBJECT.into()],
            // A job is removed once a worker acknowledged it.
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: c.duplicate_window,
            ..Default::default()
        };
        let docs = stream::Config {
            name: DOCS_STREAM.into(),
            subjects: vec![DOCS_SUBJECTS.into()],
            // Kept for every index node (and for rebuilding one) until age
            // or size retire them, not when one node has read them.
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            num_replicas: replicas,
            duplicate_window: c.duplicate_window,
            max_age: c.docs_max_age,
            max_bytes: if c.docs_max_bytes == 0 {
                -1
            } else {
                i64::try_from(c.docs_max_bytes).unwrap_or(i64::MAX)
            },
            ..Default::default()
        };
        for cfg in [jobs, docs] {
            let name = cfg.name.clone();
            // Several roles start at once: creating a stream that another
            // one just created is fine, so retry through the race and
            // through a cluster still electing its meta leader.
            let mut last = String::new();
            for attempt in 0..30u32 {
                match self.js.get_or_create_stream(cfg.clone()).await {
                    Ok(_) => {
                        last.clear();
                        break;
                    }
                    Err(e) => {
                        last = e.to_string();
                        tracing::debug!(stream = %name, attempt, "stream not ready: {last}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
            if !last.is_empty() {
                return Err(ClusterError::Nats {
                    what: format!("create stream {name}"),
                    message: last,
                });
            }
        }
        Ok(())
    }

    /// Publishes `payload` with `Nats-Msg-Id: msg_id` and waits for the
    /// stream to store it, retrying with the same id (a retry of a publish
    /// that was in fact stored is dropped by the duplicate window). Returns
    /// the stream sequence.
    pub async fn publish(&self, subject: &str, msg_id: &str, payload: bytes::Bytes) -> Result<u64> {
        let mut wait = Duration::from_millis(100);
        let mut last = String::new();
        for attempt in 0..PUBLISH_ATTEMPTS {
            let msg = PublishMessage::build()
                .payload(payload.clone())
                .message_id(msg_id);
            match self.js.send_publish(subject.to_string(), msg).await {
                Ok(ack) => match ack.await {
                    Ok(ack) => {
                        if ack.duplicate {
                            tracing::debug!(msg_id, "publish was a duplicate; stored once");
                        }
                        return Ok(ack.sequence);
                    }
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tracing::warn!(
                subject,
                msg_id,
                attempt,
                "publish not acknowledged, retrying: {last}"
            );
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
        Err(ClusterError::Nats {
            what: format!("publish {msg_id} to {subject}"),
            message: last,
        })
    }

    /// Messages waiting for a consumer (its lag), or `None` when it does
    /// not exist.
    pub async fn consumer_pending(&self, stream: &str, consumer: &str) -> Result<Option<u64>> {
        let s = self
            .js
            .get_stream(stream)
            .await
            .map_err(nats_err(format!("stream {stream}")))?;
        match s.consumer_info(consumer).await {
            Ok(info) => Ok(Some(info.num_pending + info.num_ack_pending as u64)),
            Err(e) if e.to_string().contains("not found") => Ok(None),
            Err(e) => Err(nats_err(format!("consumer {stream}/{consumer}"))(e)),
        }
    }

    /// Messages in a stream and its last sequence.
    pub async fn stream_state(&self, stream: &str) -> Result<(u64, u64)> {
        let mut s = self
            .js
            .get_stream(stream)
            .await
            .map_err(nats_err(format!("stream {stream}")))?;
        let info = s
            .info()
            .await
            .map_err(nats_err(format!("stream {stream} info")))?;
        Ok((info.state.messages, info.state.last_sequence))
    }
}
