//! Prometheus metrics of the pipeline, served at `/metrics` by `run`:
//! polls by result, items and documents per stage, classification and
//! commit latency, the sink queue. The Prometheus project's own client
//! (`prometheus-client`) keeps and encodes them.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `result` label of a poll.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollLabels {
    /// `success`, `not_modified`, `cancelled`, or the failure kind
    /// (`timeout`, `http`, `parse`, ...).
    pub result: String,
}

/// Every metric of one pipeline.
pub struct PipelineMetrics {
    registry: Mutex<Registry>,
    /// Polls finished, by result.
    pub polls: Family<PollLabels, Counter>,
    /// Items new to the index (sent to classification).
    pub items_new: Counter,
    /// Items a poll found already stored.
    pub items_unchanged: Counter,
    /// Documents indexed (articles, comments, posts).
    pub documents_indexed: Counter,
    /// Documents indexed without labels (classification failed).
    pub documents_unlabelled: Counter,
    /// Index commits.
    pub commits: Counter,
    /// Seconds per classified batch.
    pub classify_seconds: Histogram,
    /// Seconds per index commit (with marking items seen).
    pub commit_seconds: Histogram,
    /// Messages waiting in the sink's queue.
    pub sink_queue: Gauge,
    /// Article re-checks (`[revisit]`), by outcome (`not_modified`,
    /// `unchanged`, `changed`, `deleted`, `failed`).
    pub revisits: Family<PollLabels, Counter>,
}

impl Default for PipelineMetrics {
    fn default() -> Self {
        let m = PipelineMetrics {
            registry: Mutex::new(Registry::with_prefix("mediawatch")),
            polls: Family::default(),
            items_new: Counter::default(),
            items_unchanged: Counter::default(),
            documents_indexed: Counter::default(),
            documents_unlabelled: Counter::default(),
            commits: Counter::default(),
            classify_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            commit_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            sink_queue: Gauge::default(),
            revisits: Family::default(),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register("polls", "Source polls finished, by result", m.polls.clone());
            r.register(
                "items_new",
                "Listed items new to the index",
                m.items_new.clone(),
            );
            r.register(
                "items_unchanged",
                "Listed items already stored",
                m.items_unchanged.clone(),
            );
            r.register(
                "documents_indexed",
                "Documents indexed (articles, comments, posts)",
                m.documents_indexed.clone(),
            );
            r.register(
                "documents_unlabelled",
                "Documents indexed without labels because classification failed",
                m.documents_unlabelled.clone(),
            );
            r.register("index_commits", "Index commits", m.commits.clone());
            r.register(
                "classify_batch_seconds",
                "Seconds to classify one batch of documents",
                m.classify_seconds.clone(),
            );
            r.register(
                "index_commit_seconds",
                "Seconds per index commit, marking the items seen included",
                m.commit_seconds.clone(),
            );
            r.register(
                "revisits",
                "Article re-checks of the moderation ledger, by outcome",
                m.revisits.clone(),
            );
            r.register(
                "sink_queue_messages",
                "Documents waiting for the classify/index stage",
                m.sink_queue.clone(),
            );
        }
        m
    }
}

impl PipelineMetrics {
    /// Counts one finished poll.
    pub fn poll(&self, result: &str) {
        self.polls
            .get_or_create(&PollLabels {
                result: result.to_string(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_exposition_format() {
        let m = PipelineMetrics::default();
        m.poll("success");
        m.poll("success");
        m.poll("timeout");
        m.documents_indexed.inc_by(3);
        m.commit_seconds.observe(0.02);
        let text = m.render();
        assert!(
            text.contains("mediawatch_polls_total{result=\"success\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("mediawatch_polls_total{result=\"timeout\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("mediawatch_documents_indexed_total 3"),
            "{text}"
        );
        assert!(
            text.contains("mediawatch_index_commit_seconds_count 1"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
