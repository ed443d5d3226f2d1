//! The pipeline: the only crate (with the binary) that knows every stage.
//!
//! ```text
//! sources (config) -> fetch -> parse/extract -> [bounded channel] -> classify + index (dedicated thread)
//!                                                                   -> commit -> mark seen (SQLite)
//! ```
//! Source polls are async tasks; classification and the tantivy writer run on
//! a dedicated thread fed through a bounded channel, so a slow model or a
//! merge applies backpressure to fetching instead of blocking async workers
//! or growing a queue without bound.

mod data_dir;
pub mod demo;
mod kinds;
pub mod metrics;
mod polling;
mod reclassify;
mod revisit;
mod schedule;
mod sink;
mod source;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mediawatch_classify::{Classifier, LexiconClassifier};
use mediawatch_config::{Config, SourceConfig};
use mediawatch_core::SourceMeta;
use mediawatch_fetch::{FetchOptions, Fetcher};
use mediawatch_index::Index;
use mediawatch_state::StateBackend;
use tokio_util::sync::CancellationToken;

pub use data_dir::{DataDir, Rebuilt};
pub use reclassify::{reclassify_index, ReclassifyReport};
pub use revisit::RevisitReport;
pub use schedule::RunHandle;
pub use sink::{DocOutput, SinkHandle, SinkStats};
pub use source::{SourcePassReport, SourceRuntime};

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Crawl state failed.
    #[error(transparent)]
    State(#[from] mediawatch_state::StateError),
    /// The state store at `location` failed (a full disk, a lost server).
    #[error("state {location}: {source}")]
    StateAt {
        /// The SQLite file or the PostgreSQL URL (without password).
        location: String,
        /// What failed.
        source: Box<mediawatch_state::StateError>,
    },
    /// The index failed.
    #[error(transparent)]
    Index(#[from] mediawatch_index::IndexError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Fetch(#[from] mediawatch_fetch::FetchError),
    /// Sources could not be built from the config (one line per problem).
    #[error("invalid sources:\n  - {}", .0.join("\n  - "))]
    SourceBuild(Vec<String>),
    /// `--source` named a source that is not configured.
    #[error("unknown source {0:?}: it is not in the config (see `mediawatch sources list`)")]
    UnknownSource(String),
    /// The classify/index thread stopped.
    #[error("the classify/index stage failed: {0}")]
    Sink(String),
    /// Writing to a [`DocOutput`] other than the local index failed (a
    /// cluster's document stream).
    #[error("{target}: {message}")]
    Output {
        /// What was written to, e.g. `NATS stream MW_DOCS`.
        target: String,
        /// What failed.
        message: String,
    },
    /// The config asks for something this machine cannot provide.
    #[error("config: {0}")]
    Config(String),
    /// The demo could not start.
    #[error("demo: {0}")]
    Demo(String),
    /// A command that reads the index found none.
    #[error("no index in {0} yet: run `mediawatch ingest --once` (or `mediawatch demo`) first")]
    NoIndex(PathBuf),
    /// A file operation on the data directory failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done, e.g. "moving the old index to".
        what: String,
        /// The path it was done to.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result alias.
pub type Result<T> = std::result::Result<T, PipelineError>;

/// Maps the fetch section of the config onto the fetch stage's options.
pub fn fetch_options(c: &Config) -> FetchOptions {
    let f = &c.fetch;
    FetchOptions {
        user_agent: f.user_agent.clone(),
        connect_timeout: f.connect_timeout,
        read_timeout: f.read_timeout,
        total_timeout: f.timeout,
        max_body_bytes: f.max_body_bytes,
        max_redirects: f.max_redirects,
        allow_private_addresses: f.allow_private_addresses,
        per_host_concurrency: f.per_host_concurrency,
        per_host_min_interval: f.per_host_interval,
        global_concurrency: f.global_concurrency,
        respect_robots: f.respect_robots,
        max_retries: f.max_retries,
        ..FetchOptions::default()
    }
}

/// Everything a pass or a long run needs, assembled from the config.
pub struct Pipeline {
    config: Arc<Config>,
    data: DataDir,
    state: Arc<dyn StateBackend>,
    index: Index,
    fetcher: Fetcher,
    classifier: Arc<dyn Classifier>,
    sources: Vec<Arc<SourceRuntime>>,
    metrics: Arc<metrics::PipelineMetrics>,
}

impl Pipeline {
    /// Opens state and index in `data_dir` and builds every configured source.
    /// All source problems are reported together.
    pub fn open(config: Config, data_dir: &Path) -> Result<Self> {
        let data = DataDir::create(data_dir)?;
        let mut problems = Vec::new();
        let mut sources = Vec::new();
        for (i, sc) in config.sources.iter().enumerate() {
            match kinds::build(sc) {
                Ok(rt) => sources.push(Arc::new(rt)),
                Err(msgs) => problems.extend(
                    msgs.into_iter()
                        .map(|m| format!("sources[{i}] (id {:?}).{m}", sc.id)),
                ),
            }
        }
        if !problems.is_empty() {
            return Err(PipelineError::SourceBuild(problems));
        }
        let state = data.open_state(&config.state)?;
        let index = Index::open_or_create(&data.index_dir())?;
        match index.sync_lemmas(&config.index.lemmas)? {
            mediawatch_index::LemmaSync::Unchanged => {}
            mediawatch_index::LemmaSync::Installed { forms } => tracing::info!(
                forms,
                "the new index takes the lemma lists of {}",
                config.index.lemmas.display()
            ),
            mediawatch_index::LemmaSync::Differs { index } => tracing::warn!(
                "the lemma lists in {} differ from the index's own ({}); the index keeps                  its own until `mediawatch reindex` re-analyses its documents",
                config.index.lemmas.display(),
                index.display()
            ),
        }
        let fetcher = Fetcher::new(fetch_options(&config))?;
        Ok(Self {
            config: Arc::new(config),
            data,
            state,
            index,
            fetcher,
            classifier: Arc::new(LexiconClassifier::new()),
            sources,
            metrics: Arc::new(metrics::PipelineMetrics::default()),
        })
    }

    /// Replaces the classifier (the lexicon classifier by default), e.g.
    /// with the one `[classifier]` configures. Call before `start`.
    pub fn with_classifier(mut self, classifier: Arc<dyn Classifier>) -> Self {
        self.classifier = classifier;
        self
    }

    /// The config it was built from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }
    /// The document index.
    pub fn index(&self) -> &Index {
        &self.index
    }
    /// The crawl state.
    pub fn state(&self) -> &Arc<dyn StateBackend> {
        &self.state
    }
    /// The pipeline's Prometheus metrics (`/metrics` of `run`).
    pub fn metrics(&self) -> &Arc<metrics::PipelineMetrics> {
        &self.metrics
    }
    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }
    /// Metadata of every configured source.
    pub fn source_metas(&self) -> Vec<SourceMeta> {
        self.sources.iter().map(|s| (*s.meta).clone()).collect()
    }

    /// Starts the classify + index thread.
    pub fn start_sink(&self) -> Result<SinkHandle> {
        SinkHandle::start_with(
            &self.index,
            self.config.index.writer_heap_bytes,
            pipeline_indexing_threads(self.config.index.indexing_threads),
            self.classifier.clone(),
            self.state.clone(),
            self.metrics.clone(),
            self.track_policy(),
        )
    }

    /// What the classify stage hands to the moderation ledger.
    fn track_policy(&self) -> Option<revisit::TrackPolicy> {
        let r = &self.config.revisit;
        r.enabled.then(|| revisit::TrackPolicy {
            first_age: r.ages.first().copied().unwrap_or_default(),
            scope: r.scope,
        })
    }

    /// One pass over every enabled source (or only `only`), then commit.
    /// A failing source is reported and the pass goes on with the others.
    pub async fn ingest_once(
        &self,
        only: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Vec<SourcePassReport>> {
        let selected: Vec<Arc<SourceRuntime>> = match only {
            Some(id) => {
                let s = self
                    .sources
                    .iter()
                    .find(|s| s.cfg.id == id)
                    .ok_or_else(|| PipelineError::UnknownSource(id.to_string()))?;
                vec![s.clone()]
            }
            None => self
                .sources
                .iter()
                .filter(|s| s.cfg.enabled)
                .cloned()
                .collect(),
        };
        let sink = self.start_sink()?;
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.config.scheduler.concurrent_sources,
        ));
        let mut tasks = tokio::task::JoinSet::new();
        for (order, rt) in selected.into_iter().enumerate() {
            let cx = self.poll_context(&sink, cancel);
            let limit = limit.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (order, source::poll_and_record(&rt, &cx).await)
            });
        }
        let mut reports = Vec::new();
        // Commit as the pass goes, every `index.commit_interval`, as `run`
        // does: one slow source must not hold every other source's
        // documents uncommitted (and a process stopped mid-pass keeps what
        // was committed; the rest is fetched again next time).
        let every = self
            .config
            .index
            .commit_interval
            .max(Duration::from_secs(1));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                joined = tasks.join_next() => match joined {
                    Some(Ok(r)) => reports.push(r),
                    Some(Err(e)) => tracing::error!("a source poll task panicked: {e}"),
                    None => break,
                },
                _ = tick.tick() => {
                    let n = sink.flush().await?;
                    tracing::debug!(documents = n, "committed during the pass");
                }
            }
        }
        reports.sort_by_key(|(order, _)| *order);
        sink.finish().await?;
        Ok(reports.into_iter().map(|(_, r)| r).collect())
    }

    fn poll_context(&self, sink: &SinkHandle, cancel: &CancellationToken) -> source::PollContext {
        source::PollContext {
            fetcher: self.fetcher.clone(),
            state: self.state.clone(),
            sink: sink.sender(),
            scheduler: self.config.scheduler.clone(),
            cancel: cancel.clone(),
            metrics: self.metrics.clone(),
            commit_before_record: false,
        }
    }

    /// Starts the classify stage writing to `out` instead of the local
    /// index (a cluster worker writes to the document stream).
    pub fn start_sink_to(&self, out: Box<dyn DocOutput>) -> Result<SinkHandle> {
        SinkHandle::start_to(
            out,
            self.classifier.clone(),
            self.state.clone(),
            self.metrics.clone(),
            self.track_policy(),
        )
    }

    /// Ids of the enabled sources, in config order.
    pub fn enabled_source_ids(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter(|s| s.cfg.enabled)
            .map(|s| s.cfg.id.clone())
            .collect()
    }

    /// Polls one source now, as a cluster worker runs a fetch job: list,
    /// fetch, extract and classify into `sink`, commit the sink, and only
    /// then record the poll (and its next due time) in the state.
    pub async fn poll_source(
        &self,
        id: &str,
        sink: &SinkHandle,
        cancel: &CancellationToken,
    ) -> Result<SourcePassReport> {
        let rt = self
            .sources
            .iter()
            .find(|s| s.cfg.id == id)
            .ok_or_else(|| PipelineError::UnknownSource(id.to_string()))?;
        let mut cx = self.poll_context(sink, cancel);
        cx.commit_before_record = true;
        Ok(source::poll_and_record(rt, &cx).await)
    }

    /// Starts the scheduler: every source polled on its interval until
    /// `cancel`, documents committed every `index.commit_interval`.
    pub fn start(self: &Arc<Self>, cancel: CancellationToken) -> Result<RunHandle> {
        schedule::start(self.clone(), cancel)
    }
}

/// Fetches and parses one source now, storing nothing: the number of items
/// it lists, or why it failed. For `mediawatch sources check`.
pub async fn check_source(
    fetcher: &Fetcher,
    sc: &SourceConfig,
) -> std::result::Result<usize, String> {
    let rt = kinds::build(sc).map_err(|e| e.join("; "))?;
    let cancel = CancellationToken::new();
    let cx = kinds::ListCx {
        rt: &rt,
        net: source::Net {
            fetcher,
            cancel: &cancel,
        },
        validators: (None, None),
    };
    match rt.poller.list(&cx).await {
        Ok(kinds::Listed::Items(l)) => Ok(l.len()),
        Ok(kinds::Listed::NotModified { .. }) => Ok(0),
        Err(f) => Err(f.message().to_string()),
    }
}

/// One source's answer to [`check_sources`].
#[derive(Debug, Clone)]
pub struct SourceCheck {
    /// The source id.
    pub source_id: String,
    /// Items listed, or why the source failed.
    pub result: std::result::Result<usize, String>,
    /// Time the check took.
    pub latency: Duration,
}

/// Fetches and parses every configured source (or only `only`) now, all
/// at once under the config's politeness limits, storing nothing; results
/// in config order. For `mediawatch sources check`.
pub async fn check_sources(config: &Config, only: Option<&str>) -> Result<Vec<SourceCheck>> {
    let fetcher = Fetcher::new(fetch_options(config))?;
    let selected: Vec<SourceConfig> = config
        .sources
        .iter()
        .filter(|s| only.is_none_or(|id| id == s.id))
        .cloned()
        .collect();
    if selected.is_empty() {
        return Err(PipelineError::UnknownSource(
            only.unwrap_or_default().to_string(),
        ));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, sc) in selected.iter().cloned().enumerate() {
        let f = fetcher.clone();
        tasks.spawn(async move {
            let t = std::time::Instant::now();
            let r = check_source(&f, &sc).await;
            (i, r, t.elapsed())
        });
    }
    let mut results: Vec<SourceCheck> = selected
        .iter()
        .map(|s| SourceCheck {
            source_id: s.id.clone(),
            result: Err("the check did not finish".into()),
            latency: Duration::ZERO,
        })
        .collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, r, latency)) => {
                results[i].result = r;
                results[i].latency = latency;
            }
            // A panicking check leaves its row as "did not finish".
            Err(e) => tracing::error!("source check task failed: {e}"),
        }
    }
    Ok(results)
}

/// Jittered duration: ±10 %, so sources configured alike do not poll in lockstep.
pub(crate) fn jitter(d: Duration) -> Duration {
    let f = 0.9 + fastrand::f64() * 0.2;
    d.mul_f64(f)
}

/// Index writer threads of the pipeline for `[index] indexing_threads`
/// (0: a quarter of the cores, at least one; see the config's docs).
pub(crate) fn pipeline_indexing_threads(configured: usize) -> usize {
    match configured {
        0 => (std::thread::available_parallelism().map_or(1, |n| n.get()) / 4).max(1),
        n => n,
    }
}
