//! The `[cluster]` section: how the roles of a cluster (scheduler, worker,
//! indexer, api) find NATS JetStream and each other. Without it
//! `mediawatch run` is the single-machine pipeline.
//!
//! ```toml
//! [state]
//! backend = "postgres"          # the shared crawl state (required)
//! url = "postgres://mediawatch@127.0.0.1:5432/mediawatch"
//!
//! [cluster]
//! nats = ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223", "nats://127.0.0.1:4224"]
//! stream_replicas = 3
//! index_nodes = ["http://127.0.0.1:7711", "http://127.0.0.1:7712"]
//! # or, documents split into 2 shards with 2 replicas each:
//! # shards = 2
//! # index_shards = [["http://a:7711", "http://b:7711"], ["http://c:7711", "http://d:7711"]]
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[cluster]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// NATS servers to connect to (any of the cluster's; the client learns
    /// the others from them and fails over).
    pub nats: Vec<String>,
    /// Copies of each JetStream stream (1, or 3 for a 3-node cluster that
    /// survives losing a node).
    pub stream_replicas: usize,
    /// Query addresses of the index nodes the `api` role spreads searches
    /// over (each indexer serves one, `--query-listen`), when every node
    /// holds the whole index (`shards = 1`).
    pub index_nodes: Vec<String>,
    /// Shards the documents are split into (by a hash of their
    /// near-duplicate cluster, so a story's copies share a shard); each
    /// indexer holds one (`--shard`). Changing it means rebuilding the
    /// index nodes from the stream.
    pub shards: usize,
    /// With `shards` > 1: the index nodes of each shard (its replicas), one
    /// list per shard in shard order.
    pub index_shards: Vec<Vec<String>>,
    /// How long a worker may hold a fetch job unacknowledged before
    /// JetStream hands it to another worker (a dead worker's jobs come
    /// back after this long).
    #[serde(with = "humantime_serde")]
    pub job_ack_wait: Duration,
    /// How long the scheduler's claim on a due source lasts when no poll
    /// is recorded (a lost job is scheduled again after it).
    #[serde(with = "humantime_serde")]
    pub claim_lease: Duration,
    /// How often the scheduler looks for due sources.
    #[serde(with = "humantime_serde")]
    pub schedule_every: Duration,
    /// Fetch jobs one worker runs at once.
    pub worker_concurrency: usize,
    /// How long classified documents stay in the document stream (an
    /// index node rebuilt from scratch replays this much); 0 keeps them
    /// until the stream's size limit.
    #[serde(with = "humantime_serde")]
    pub docs_max_age: Duration,
    /// Largest size of the document stream, in bytes (0: no limit).
    pub docs_max_bytes: u64,
    /// Window in which JetStream drops a publish whose `Nats-Msg-Id` it
    /// has already stored (a retried publish after a timeout).
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
    /// How often an indexer commits what it consumed (then acknowledges it).
    #[serde(with = "humantime_serde")]
    pub index_commit_interval: Duration,
    /// How long the api role waits for an index node before skipping it.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nats: vec!["nats://127.0.0.1:4222".into()],
            stream_replicas: 1,
            index_nodes: Vec::new(),
            shards: 1,
            index_shards: Vec::new(),
            job_ack_wait: Duration::from_secs(300),
            claim_lease: Duration::from_secs(900),
            schedule_every: Duration::from_secs(5),
            worker_concurrency: 8,
            docs_max_age: Duration::from_secs(90 * 86_400),
            docs_max_bytes: 0,
            duplicate_window: Duration::from_secs(600),
            index_commit_interval: Duration::from_secs(2),
            query_timeout: Duration::from_secs(10),
        }
    }
}

impl ClusterConfig {
    /// The index nodes of each shard, in shard order.
    pub fn shard_nodes(&self) -> Vec<Vec<String>> {
        if self.index_shards.is_empty() {
            vec![self.index_nodes.clone()]
        } else {
            self.index_shards.clone()
        }
    }

    pub(crate) fn validate_into(&self, errors: &mut Vec<String>) {
        if self.nats.is_empty() {
            errors.push("cluster.nats: name at least one NATS server".into());
        }
        for (i, u) in self.nats.iter().enumerate() {
            if !is_url(u, &["nats", "tls"]) {
                errors.push(format!(
                    "cluster.nats[{i}]: {u:?} is not a NATS URL (nats://host:port)"
                ));
            }
        }
        if !(1..=5).contains(&self.stream_replicas) {
            errors.push(format!(
                "cluster.stream_replicas: {} is out of range (1 to 5; JetStream's limit)",
                self.stream_replicas
            ));
        }
        for (i, u) in self.index_nodes.iter().enumerate() {
            if !is_url(u, &["http", "https"]) {
                errors.push(format!(
                    "cluster.index_nodes[{i}]: {u:?} is not an http:// address"
                ));
            }
        }
        if !(1..=1024).contains(&self.shards) {
            errors.push(format!(
                "cluster.shards: {} is out of range (1 to 1024)",
                self.shards
            ));
        }
        if !self.index_shards.is_empty() {
            if self.index_shards.len() != self.shards {
                errors.push(format!(
                    "cluster.index_shards: {} lists for {} shards (one list of index nodes per shard)",
                    self.index_shards.len(),
                    self.shards
                ));
            }
            if !self.index_nodes.is_empty() {
                errors.push(
                    "cluster.index_nodes: give the index nodes either as index_nodes (one shard) or as index_shards, not both"
                        .into(),
                );
            }
            for (k, nodes) in self.index_shards.iter().enumerate() {
                if nodes.is_empty() {
                    errors.push(format!(
                        "cluster.index_shards[{k}]: no index node for shard {k}"
                    ));
                }
                for (i, u) in nodes.iter().enumerate() {
                    if !is_url(u, &["http", "https"]) {
                        errors.push(format!(
                            "cluster.index_shards[{k}][{i}]: {u:?} is not an http:// address"
                        ));
                    }
                }
            }
        } else if self.shards > 1 && !self.index_nodes.is_empty() {
            errors.push(format!(
                "cluster.index_nodes: with {} shards, list each shard's index nodes in cluster.index_shards",
                self.shards
            ));
        }
        if self.worker_concurrency == 0 {
            errors.push("cluster.worker_concurrency: must be at least 1".into());
        }
        for (key, v) in [
            ("cluster.job_ack_wait", self.job_ack_wait),
            ("cluster.claim_lease", self.claim_lease),
            ("cluster.schedule_every", self.schedule_every),
            ("cluster.duplicate_window", self.duplicate_window),
            ("cluster.index_commit_interval", self.index_commit_interval),
            ("cluster.query_timeout", self.query_timeout),
        ] {
            if v.is_zero() {
                errors.push(format!("{key}: must be longer than 0s"));
            }
        }
        if self.claim_lease < self.job_ack_wait {
            errors.push(format!(
                "cluster.claim_lease: {} is shorter than cluster.job_ack_wait ({}): a slow job's source would be scheduled again while it runs",
                humantime_serde::re::humantime::format_duration(self.claim_lease),
                humantime_serde::re::humantime::format_duration(self.job_ack_wait)
            ));
        }
    }
}

/// Whether `u` parses as a URL of one of `schemes` with a host.
fn is_url(u: &str, schemes: &[&str]) -> bool {
    url::Url::parse(u).is_ok_and(|p| schemes.contains(&p.scheme()) && p.host().is_some())
}
