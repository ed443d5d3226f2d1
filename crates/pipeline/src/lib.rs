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

pub mod demo;
mod polling;
mod schedule;
mod sink;
mod source;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mediawatch_classify::{Classifier, LexiconClassifier};
use mediawatch_config::{Config, SelectorsConfig, SourceConfig};
use mediawatch_core::SourceMeta;
use mediawatch_extract::{ExtractOptions, SelectorOverrides};
use mediawatch_fetch::{FetchOptions, Fetcher};
use mediawatch_index::Index;
use mediawatch_state::StateStore;
use tokio_util::sync::CancellationToken;

pub use schedule::RunHandle;
pub use sink::{SinkHandle, SinkStats};
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
    /// The demo could not start.
    #[error("demo: {0}")]
    Demo(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, PipelineError>;

/// File layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Uses (and creates) `root`.
    pub fn create(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|source| PipelineError::DataDir {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Self {
            root: root.to_path_buf(),
        })
    }
    /// The tantivy index directory.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }
    /// The SQLite state file.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.sqlite")
    }
    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

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

fn selector_overrides(s: &SelectorsConfig) -> SelectorOverrides {
    SelectorOverrides {
        title: s.title.clone(),
        body: s.body.clone(),
        byline: s.byline.clone(),
        published: s.published.clone(),
        remove: s.remove.clone(),
        comments: s.comments.clone(),
        comment_text: s.comment_text.clone(),
        comment_author: s.comment_author.clone(),
    }
}

/// Everything a pass or a long run needs, assembled from the config.
pub struct Pipeline {
    config: Arc<Config>,
    data: DataDir,
    state: Arc<StateStore>,
    index: Index,
    fetcher: Fetcher,
    classifier: Arc<dyn Classifier>,
    sources: Vec<Arc<SourceRuntime>>,
}

impl Pipeline {
    /// Opens state and index in `data_dir` and builds every configured source.
    /// All source problems are reported together.
    pub fn open(config: Config, data_dir: &Path) -> Result<Self> {
        let data = DataDir::create(data_dir)?;
        let mut problems = Vec::new();
        let mut sources = Vec::new();
        for (i, sc) in config.sources.iter().enumerate() {
            match build_source(sc) {
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
        let state = Arc::new(StateStore::open(&data.state_file())?);
        let index = Index::open_or_create(&data.index_dir())?;
        let fetcher = Fetcher::new(fetch_options(&config))?;
        Ok(Self {
            config: Arc::new(config),
            data,
            state,
            index,
            fetcher,
            classifier: Arc::new(LexiconClassifier::new()),
            sources,
        })
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
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
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
        SinkHandle::start(
            &self.index,
            self.config.index.writer_heap_bytes,
            self.classifier.clone(),
            self.state.clone(),
        )
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
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(r) => reports.push(r),
                Err(e) => tracing::error!("a source poll task panicked: {e}"),
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
        }
    }

    /// Starts the scheduler: every source polled on its interval until
    /// `cancel`, documents committed every `index.commit_interval`.
    pub fn start(self: &Arc<Self>, cancel: CancellationToken) -> Result<RunHandle> {
        schedule::start(self.clone(), cancel)
    }
}

/// Builds the running form of one source. This match is the registry of
/// source kinds: adding a kind means adding an arm here and its poller in
/// `source.rs`. Errors are relative keys (`selectors.body: ...`).
fn build_source(sc: &SourceConfig) -> std::result::Result<SourceRuntime, Vec<String>> {
    let mut extract = ExtractOptions::default();
    if let Some(sel) = &sc.selectors {
        let ov = selector_overrides(sel);
        if let Err(e) = mediawatch_extract::validate_selectors(&ov) {
            return Err(vec![format!("selectors: {e}")]);
        }
        extract.selectors = ov;
    }
    let poller = match sc.kind {
        mediawatch_config::SourceKind::Feed => source::Poller::Feed,
        mediawatch_config::SourceKind::Sitemap => source::Poller::Sitemap,
    };
    Ok(SourceRuntime {
        cfg: sc.clone(),
        meta: Arc::new(sc.meta()),
        poller,
        extract,
    })
}

/// Jittered duration: ±10 %, so sources configured alike do not poll in lockstep.
pub(crate) fn jitter(d: Duration) -> Duration {
    let f = 0.9 + fastrand::f64() * 0.2;
    d.mul_f64(f)
}
