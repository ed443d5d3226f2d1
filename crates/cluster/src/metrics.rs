//! Prometheus metrics of the cluster roles, served at `/metrics` by every
//! role next to the pipeline's own (fetches, classification, commits).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of per-outcome counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// What happened.
    pub outcome: String,
}

/// Labels of per-node counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Node {
    /// The index node's address.
    pub node: String,
}

/// Every metric of the cluster roles of one process.
pub struct ClusterMetrics {
    registry: Mutex<Registry>,
    /// Fetch jobs published by the scheduler.
    pub jobs_published: Counter,
    /// Fetch jobs finished by a worker, by outcome (done, skipped, retried).
    pub jobs_finished: Family<Outcome, Counter>,
    /// Fetch jobs waiting or in flight (the workers' lag).
    pub jobs_pending: Gauge,
    /// Documents published to the document stream.
    pub docs_published: Counter,
    /// Documents an indexer upserted.
    pub docs_indexed: Counter,
    /// Stream messages an indexer skipped as already committed.
    pub docs_redelivered: Counter,
    /// Documents waiting for this indexer (its lag).
    pub docs_pending: Gauge,
    /// Index commits of an indexer.
    pub index_commits: Counter,
    /// Stream position of the indexer's last commit.
    pub index_position: Gauge,
    /// Seconds per query to an index node (api role).
    pub query_seconds: Histogram,
    /// Queries that skipped an index node (slow, dead, failing).
    pub node_skipped: Family<Node, Counter>,
}

impl Default for ClusterMetrics {
    fn default() -> Self {
        let m = Self {
            registry: Mutex::new(Registry::with_prefix("mediawatch_cluster")),
            jobs_published: Counter::default(),
            jobs_finished: Family::default(),
            jobs_pending: Gauge::default(),
            docs_published: Counter::default(),
            docs_indexed: Counter::default(),
            docs_redelivered: Counter::default(),
            docs_pending: Gauge::default(),
            index_commits: Counter::default(),
            index_position: Gauge::default(),
            query_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            node_skipped: Family::default(),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register(
                "jobs_published",
                "Fetch jobs published by the scheduler",
                m.jobs_published.clone(),
            );
            r.register(
                "jobs_finished",
                "Fetch jobs finished by workers, by outcome",
                m.jobs_finished.clone(),
            );
            r.register(
                "jobs_pending",
                "Fetch jobs waiting or in flight (consumer lag)",
                m.jobs_pending.clone(),
            );
            r.register(
                "docs_published",
                "Labelled documents published to the document stream",
                m.docs_published.clone(),
            );
            r.register(
                "docs_indexed",
                "Documents upserted by this indexer",
                m.docs_indexed.clone(),
            );
            r.register(
                "docs_redelivered",
                "Stream messages skipped as already committed by this indexer",
                m.docs_redelivered.clone(),
            );
            r.register(
                "docs_pending",
                "Documents waiting for this indexer (consumer lag)",
                m.docs_pending.clone(),
            );
            r.register(
                "index_commits",
                "Commits of this indexer",
                m.index_commits.clone(),
            );
            r.register(
                "index_position",
                "Document stream sequence of this indexer's last commit",
                m.index_position.clone(),
            );
            r.register(
                "query_seconds",
                "Seconds per query to an index node",
                m.query_seconds.clone(),
            );
            r.register(
                "node_skipped",
                "Queries that skipped an index node",
                m.node_skipped.clone(),
            );
        }
        m
    }
}

impl ClusterMetrics {
    /// Counts a finished job.
    pub fn job(&self, outcome: &str) {
        self.jobs_finished
            .get_or_create(&Outcome {
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The exposition of these metrics followed by `more` (another
    /// registry's exposition): one `# EOF` at the end.
    pub fn render_with(&self, more: Option<String>) -> String {
        let mut out = String::new();
        if let Some(m) = more {
            out.push_str(m.trim_end().trim_end_matches("# EOF").trim_end());
            out.push('\n');
        }
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }
}
