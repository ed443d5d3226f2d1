//! The api role's view of the index nodes: a [`QueryBackend`] that spreads
//! queries over replicas (every index node holds the whole index), skips a
//! node that is slow, dead or failing, and says so (a warning per skip, the
//! `mediawatch_cluster_node_skipped` counter, and the node's error in the
//! 503 when none answers).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mediawatch_core::{DocId, Document};
use mediawatch_index::{
    DocFacts, FactsFilter, QueryStats, SearchRequest, SearchResults, TermsRequest, TermsResult,
    TrendRequest,
};
use mediawatch_query::{QueryBackend, QueryError};
use mediawatch_report::Report;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::indexer::NodeStatus;
use crate::metrics::Node;
use crate::{ClusterError, ClusterMetrics};

/// Renders a process's metrics in the Prometheus text format.
pub type MetricsText = Arc<dyn Fn() -> String + Send + Sync>;

/// How long a node that failed is passed over before it is tried again.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// One call of [`QueryBackend`], as sent to an index node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "call", content = "args", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum QueryCall {
    NumDocs,
    Search(SearchRequest),
    /// The BM25 statistics of a search's query on this shard.
    Stats(SearchRequest),
    /// A search scored with a whole collection's statistics.
    SearchWithStats {
        req: SearchRequest,
        stats: QueryStats,
    },
    Document {
        id: String,
    },
    Facts(FactsFilter),
    Report(TrendRequest),
    TopTerms {
        req: TermsRequest,
        countries: Vec<String>,
    },
    /// The term counts rising terms are scored from, on this shard.
    TermCounts(TermsRequest),
}

/// An index node's refusal or failure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RemoteError {
    /// The request was at fault (bad query syntax): another node would
    /// refuse it too.
    pub invalid: bool,
    pub message: String,
}

struct NodeHandle {
    url: String,
    down_until: Mutex<Option<Instant>>,
}

impl NodeHandle {
    fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .map(|d| d.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false)
    }

    fn mark(&self, down: bool) {
        if let Ok(mut d) = self.down_until.lock() {
            *d = down.then(|| Instant::now() + DOWN_FOR);
        }
    }
}

enum CallError {
    Invalid(String),
    Failed(String),
}

/// The index nodes of a cluster as one [`QueryBackend`] (replicas: each
/// holds every document).
pub struct ReplicaSet {
    nodes: Vec<NodeHandle>,
    client: reqwest::Client,
    rt: tokio::runtime::Handle,
    next: AtomicUsize,
    metrics: Arc<ClusterMetrics>,
}

impl std::fmt::Debug for ReplicaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaSet")
            .field(
                "nodes",
                &self
                    .nodes
                    .iter()
                    .map(|n| n.url.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ReplicaSet {
    /// Index nodes at `urls` (their `--query-listen` addresses), each asked
    /// with `timeout`. Call inside a tokio runtime: queries run on it.
    pub fn new(
        urls: &[String],
        timeout: Duration,
        metrics: Arc<ClusterMetrics>,
    ) -> Result<Self, ClusterError> {
        if urls.is_empty() {
            return Err(ClusterError::Local(
                "cluster.index_nodes is empty: the api role needs at least one index node".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .build()
            .map_err(|e| ClusterError::Local(format!("HTTP client: {e}")))?;
        let rt = tokio::runtime::Handle::try_current().map_err(|_| {
            ClusterError::Local("the index node client needs a tokio runtime".into())
        })?;
        Ok(Self {
            nodes: urls
                .iter()
                .map(|u| NodeHandle {
                    url: u.trim_end_matches('/').to_string(),
                    down_until: Mutex::new(None),
                })
                .collect(),
            client,
            rt,
            next: AtomicUsize::new(0),
            metrics,
        })
    }

    /// One node's answer, on the runtime, waited for on this thread (the
    /// [`QueryBackend`] calls are blocking; callers run them off the async
    /// workers).
    fn ask<T: DeserializeOwned + Send + 'static>(
        &self,
        url: &str,
        call: &QueryCall,
    ) -> Result<T, CallError> {
        let req = self.client.post(format!("{url}/internal/query")).json(call);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt.spawn(async move {
            let r = async {
                let resp = req
                    .send()
                    .await
                    .map_err(|e| CallError::Failed(e.to_string()))?;
                let status = resp.status();
                if status.is_success() {
                    return resp
                        .json::<T>()
                        .await
                        .map_err(|e| CallError::Failed(format!("bad answer: {e}")));
                }
                let body = resp.json::<RemoteError>().await.map_err(|e| {
                    CallError::Failed(format!("HTTP {status} without an error body: {e}"))
                })?;
                Err(if body.invalid {
                    CallError::Invalid(body.message)
                } else {
                    CallError::Failed(body.message)
                })
            }
            .await;
            let _ = tx.send(r);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(CallError::Failed("query task dropped".into())))
    }

    pub(crate) fn call<T: DeserializeOwned + Send + 'static>(
        &self,
        call: QueryCall,
    ) -> mediawatch_query::Result<T> {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        // Healthy nodes first (round robin), then those that failed
        // lately: when every node failed, each is tried once more.
        let order: Vec<&NodeHandle> = (0..n)
            .map(|i| &self.nodes[(start + i) % n])
            .filter(|nd| !nd.is_down())
            .chain(
                (0..n)
                    .map(|i| &self.nodes[(start + i) % n])
                    .filter(|nd| nd.is_down()),
            )
            .collect();
        let mut errors = Vec::new();
        for node in order {
            let t = Instant::now();
            let r = self.ask::<T>(&node.url, &call);
            self.metrics
                .query_seconds
                .observe(t.elapsed().as_secs_f64());
            match r {
                Ok(v) => {
                    node.mark(false);
                    return Ok(v);
                }
                Err(CallError::Invalid(m)) => return Err(QueryError::Invalid(m)),
                Err(CallError::Failed(m)) => {
                    tracing::warn!(node = %node.url, "index node skipped: {m}");
                    self.metrics
                        .node_skipped
                        .get_or_create(&Node {
                            node: node.url.clone(),
                        })
                        .inc();
                    node.mark(true);
                    errors.push(format!("{}: {m}", node.url));
                }
            }
        }
        Err(QueryError::Unavailable(format!(
            "no index node answered ({})",
            errors.join("; ")
        )))
    }
}

impl QueryBackend for ReplicaSet {
    fn num_docs(&self) -> mediawatch_query::Result<u64> {
        self.call(QueryCall::NumDocs)
    }
    fn search(&self, req: &SearchRequest) -> mediawatch_query::Result<SearchResults> {
        self.call(QueryCall::Search(req.clone()))
    }
    fn document(&self, id: &DocId) -> mediawatch_query::Result<Option<Document>> {
        self.call(QueryCall::Document {
            id: id.as_str().to_string(),
        })
    }
    fn facts(&self, filter: &FactsFilter) -> mediawatch_query::Result<Vec<DocFacts>> {
        self.call(QueryCall::Facts(filter.clone()))
    }
    fn report(&self, req: &TrendRequest) -> mediawatch_query::Result<Report> {
        self.call(QueryCall::Report(req.clone()))
    }
    fn top_terms(
        &self,
        req: &TermsRequest,
        countries: &[String],
    ) -> mediawatch_query::Result<Vec<(String, TermsResult)>> {
        self.call(QueryCall::TopTerms {
            req: req.clone(),
            countries: countries.to_vec(),
        })
    }
}

/// `GET /internal/status` of an index node.
pub async fn node_status(client: &reqwest::Client, url: &str) -> Result<NodeStatus, ClusterError> {
    let url = format!("{}/internal/status", url.trim_end_matches('/'));
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| ClusterError::Local(format!("{url}: {e}")))?;
    resp.json()
        .await
        .map_err(|e| ClusterError::Local(format!("{url}: {e}")))
}
