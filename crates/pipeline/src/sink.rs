//! The classify + index stage, on its own thread.
//!
//! Documents arrive through a bounded channel; they are classified in
//! batches (model inference must not run on async workers), upserted into
//! the index, and on each flush the index is committed *before* their items
//! are marked seen in the state store. That order is what makes a crash safe:
//! an item is either committed and marked, or fetched again next time, and
//! the upsert by document id means fetching again never duplicates it.

use crate::metrics::PipelineMetrics;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::Utc;
use mediawatch_classify::{Classifier, ClassifyError, ClassifyInput};
use mediawatch_core::labels::Labels;
use mediawatch_core::ledger::{CommentSighting, NewTracked};
use mediawatch_core::similarity::{fingerprint, Fingerprint};
use mediawatch_core::{Document, SourceMeta};
use mediawatch_index::{DocExtra, Index, IndexWriterHandle};
use mediawatch_state::{SeenItem, StateBackend};

use crate::revisit::TrackPolicy;
use tokio::sync::{mpsc, oneshot};

use crate::{PipelineError, Result};

/// Documents in flight between fetching and indexing. Small on purpose: a
/// full channel makes pollers wait (backpressure) rather than buffer.
const CHANNEL_CAPACITY: usize = 64;
/// Largest classification batch.
const BATCH: usize = 32;
/// Texts whose labels are remembered (see [`LabelCache`]): a few minutes
/// of a busy run, a few megabytes of labels.
const LABEL_CACHE: usize = 4096;

/// Labels of the texts classified last, by a hash of exactly what the
/// classifier read (text, language, context). Syndicated copies (an agency
/// story that a dozen outlets republish word for word, a post seen under
/// several URLs) are classified once per run: the labels are a function of
/// that input and the run's one model, and evidence offsets stay valid
/// because the text is byte for byte the same. Bounded, oldest out first.
#[derive(Default)]
struct LabelCache {
    labels: HashMap<u64, Labels>,
    order: VecDeque<u64>,
}

impl LabelCache {
    fn key(input: &ClassifyInput<'_>) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (input.text, input.lang, input.context).hash(&mut h);
        h.finish()
    }

    fn get(&self, key: u64) -> Option<&Labels> {
        self.labels.get(&key)
    }

    fn put(&mut self, key: u64, labels: &Labels) {
        if self.labels.insert(key, labels.clone()).is_none() {
            self.order.push_back(key);
            if self.order.len() > LABEL_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.labels.remove(&old);
                }
            }
        }
    }
}

/// A document on its way to the index.
pub(crate) struct PendingDoc {
    pub doc: Document,
    /// For a comment: its article's title and lead, which the classifier
    /// reads as the comment's context (see `Document::context_text`).
    pub context: Option<String>,
    pub source: Arc<SourceMeta>,
    /// Marked seen once the index has committed the document.
    pub seen: Option<SeenItem>,
    /// What the moderation ledger records of it (see `revisit`).
    pub ledger: Option<crate::source::LedgerHint>,
}

/// Messages to the stage.
pub(crate) enum SinkMsg {
    Doc(Box<PendingDoc>),
    /// Commit now; answers with the number of documents committed.
    Flush(oneshot::Sender<std::result::Result<u64, String>>),
}

/// Counters of the stage, returned when it finishes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Documents upserted into the index.
    pub indexed: u64,
    /// Documents that failed classification and were indexed unlabelled.
    pub unlabelled: u64,
    /// Commits made.
    pub commits: u64,
}

/// Where the classify stage writes labelled documents: the local index
/// on a single machine, a cluster's document stream on a worker. The stage
/// marks items seen only after [`DocOutput::commit`] returned, so whatever
/// `commit` promises (on disk, or stored by JetStream) is what makes an
/// item safe to skip next time.
pub trait DocOutput: Send + 'static {
    /// Writes a batch of labelled documents (an upsert: a document written
    /// again under its id replaces the earlier copy).
    fn write(&mut self, batch: &[(&Document, &SourceMeta, &DocExtra)]) -> Result<()>;
    /// Makes everything written so far durable.
    fn commit(&mut self) -> Result<()>;
    /// Commits and releases the output.
    fn close(self: Box<Self>) -> Result<()>;
}

/// The local tantivy index as a [`DocOutput`].
struct IndexOutput(IndexWriterHandle);

impl DocOutput for IndexOutput {
    fn write(&mut self, batch: &[(&Document, &SourceMeta, &DocExtra)]) -> Result<()> {
        Ok(self.0.upsert_batch(batch.iter().copied())?)
    }
    fn commit(&mut self) -> Result<()> {
        self.0.commit()?;
        Ok(())
    }
    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.0.close()?)
    }
}

/// Handle to the running stage.
pub struct SinkHandle {
    tx: mpsc::Sender<SinkMsg>,
    thread: JoinHandle<Result<SinkStats>>,
}

impl SinkHandle {
    #[cfg(test)]
    pub(crate) fn start(
        index: &Index,
        heap_bytes: usize,
        classifier: Arc<dyn Classifier>,
        state: Arc<dyn StateBackend>,
    ) -> Result<Self> {
        Self::start_with(
            index,
            heap_bytes,
            crate::pipeline_indexing_threads(0),
            classifier,
            state,
            Arc::new(PipelineMetrics::default()),
            None,
        )
    }

    /// Starts the classify + index thread, counting into `metrics`, with
    /// `indexing_threads` building segments.
    pub(crate) fn start_with(
        index: &Index,
        heap_bytes: usize,
        indexing_threads: usize,
        classifier: Arc<dyn Classifier>,
        state: Arc<dyn StateBackend>,
        metrics: Arc<PipelineMetrics>,
        track: Option<TrackPolicy>,
    ) -> Result<Self> {
        let writer = index.writer_with_threads(
            heap_bytes,
            indexing_threads,
            mediawatch_index::DEFAULT_MERGE_THREADS,
        )?;
        Self::start_to(
            Box::new(IndexOutput(writer)),
            classifier,
            state,
            metrics,
            track,
        )
    }

    /// Starts the classify stage writing to `out`, counting into `metrics`.
    pub(crate) fn start_to(
        out: Box<dyn DocOutput>,
        classifier: Arc<dyn Classifier>,
        state: Arc<dyn StateBackend>,
        metrics: Arc<PipelineMetrics>,
        track: Option<TrackPolicy>,
    ) -> Result<Self> {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("mw-classify-index".into())
            .spawn(move || run(rx, out, classifier, state, &metrics, track))
            .map_err(|e| PipelineError::Sink(format!("cannot start thread: {e}")))?;
        Ok(Self { tx, thread })
    }

    pub(crate) fn sender(&self) -> mpsc::Sender<SinkMsg> {
        self.tx.clone()
    }

    /// Whether the stage has stopped (it failed: a commit or a write
    /// could not be made); [`SinkHandle::finish`] then returns why.
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }

    /// Commits everything received so far; returns how many documents that was.
    pub async fn flush(&self) -> Result<u64> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(SinkMsg::Flush(reply))
            .await
            .map_err(|_| PipelineError::Sink("stage stopped".into()))?;
        rx.await
            .map_err(|_| PipelineError::Sink("stage stopped during commit".into()))?
            .map_err(PipelineError::Sink)
    }

    /// Drains the channel, commits, closes the writer and joins the thread.
    /// Every sender clone must be dropped for the drain to end.
    pub async fn finish(self) -> Result<SinkStats> {
        drop(self.tx);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| PipelineError::Sink(format!("join: {e}")))?
            .map_err(|_| PipelineError::Sink("the classify/index thread panicked".into()))?
    }
}

fn run(
    mut rx: mpsc::Receiver<SinkMsg>,
    mut out: Box<dyn DocOutput>,
    classifier: Arc<dyn Classifier>,
    state: Arc<dyn StateBackend>,
    metrics: &PipelineMetrics,
    track: Option<TrackPolicy>,
) -> Result<SinkStats> {
    let mut store = Store {
        out: out.as_mut(),
        state: state.as_ref(),
        metrics,
        pending: Pending {
            track,
            ..Pending::default()
        },
        stats: SinkStats::default(),
    };
    let mut uncommitted = 0u64;
    let mut batch: Vec<PendingDoc> = Vec::with_capacity(BATCH);
    let mut cache = LabelCache::default();
    // The batch classified last, stored while the next one is classified.
    let mut ready: Option<Classified> = None;
    loop {
        let msg = match rx.try_recv() {
            Ok(msg) => msg,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Nothing waits: store what is classified before waiting, so
                // that no document sits unwritten while the sources are quiet.
                if let Some(c) = ready.take() {
                    store.store(c)?;
                }
                match rx.blocking_recv() {
                    Some(msg) => msg,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        let mut flush = None;
        match msg {
            SinkMsg::Doc(d) => batch.push(*d),
            SinkMsg::Flush(r) => flush = Some(r),
        }
        // Take whatever else is already queued, up to a batch.
        while flush.is_none() && batch.len() < BATCH {
            match rx.try_recv() {
                Ok(SinkMsg::Doc(d)) => batch.push(*d),
                Ok(SinkMsg::Flush(r)) => flush = Some(r),
                Err(_) => break,
            }
        }
        metrics.sink_queue.set(rx.len() as i64);
        if !batch.is_empty() {
            uncommitted += batch.len() as u64;
            let docs = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            let started = std::time::Instant::now();
            // The previous batch is stored (near-duplicate clustering in the
            // state store, the index write, the ledger) on a thread of its
            // own while this one is classified: this stage is the
            // pipeline's one serial step, and storing took a fifth of it.
            let (labels, stored) = std::thread::scope(|s| {
                let stored = ready.take().map(|c| {
                    let store = &mut store;
                    s.spawn(move || store.store(c))
                });
                let labels = classify_cached(&docs, classifier.as_ref(), &mut cache);
                let stored =
                    stored.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
                (labels, stored)
            });
            stored.transpose()?;
            metrics
                .classify_seconds
                .observe(started.elapsed().as_secs_f64());
            ready = Some(Classified { docs, labels });
        }
        if let Some(reply) = flush {
            if let Some(c) = ready.take() {
                store.store(c)?;
            }
            let started = std::time::Instant::now();
            let r = store.commit();
            if r.is_ok() {
                metrics.commits.inc();
                metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
            }
            let _ = reply.send(r.as_ref().map(|_| uncommitted).map_err(|e| e.to_string()));
            r?;
            uncommitted = 0;
        }
    }
    if let Some(c) = ready.take() {
        store.store(c)?;
    }
    store.commit()?;
    metrics.commits.inc();
    let stats = store.stats;
    out.close()?;
    Ok(stats)
}

/// A batch and its labels (or why it could not be labelled), in order.
struct Classified {
    docs: Vec<PendingDoc>,
    labels: Vec<std::result::Result<Labels, ClassifyError>>,
}

/// Labels of `batch`: texts seen lately (or earlier in this batch) come
/// from `cache`, the rest from the classifier.
fn classify_cached(
    batch: &[PendingDoc],
    classifier: &dyn Classifier,
    cache: &mut LabelCache,
) -> Vec<std::result::Result<Labels, ClassifyError>> {
    let inputs: Vec<ClassifyInput<'_>> = batch
        .iter()
        .map(|p| ClassifyInput {
            id: p.doc.id.as_str(),
            text: p.doc.classified_text(),
            lang: p.doc.lang.as_deref(),
            context: p.context.as_deref(),
        })
        .collect();
    let keys: Vec<u64> = inputs.iter().map(LabelCache::key).collect();
    let mut todo: Vec<ClassifyInput<'_>> = Vec::new();
    let mut todo_keys: Vec<u64> = Vec::new();
    for (input, key) in inputs.iter().zip(&keys) {
        if cache.get(*key).is_none() && !todo_keys.contains(key) {
            todo.push(*input);
            todo_keys.push(*key);
        }
    }
    let classified = classifier.classify_batch(&todo);
    let mut fresh: HashMap<u64, std::result::Result<Labels, ClassifyError>> = HashMap::new();
    for (key, l) in todo_keys.iter().zip(classified) {
        if let Ok(l) = &l {
            cache.put(*key, l);
        }
        fresh.insert(*key, l);
    }
    keys.iter()
        .map(|k| match fresh.get(k) {
            Some(l) => l.clone(),
            // Not classified now, so cached before this batch (a batch
            // puts at most BATCH keys, far fewer than the cache holds).
            None => cache.get(*k).cloned().ok_or_else(|| ClassifyError::Model {
                model: classifier.model_version().to_string(),
                reason: "labels of a repeated text were evicted".into(),
            }),
        })
        .collect()
}

/// The writing half of the stage: the output, the state store and what
/// waits for the next commit.
struct Store<'a> {
    out: &'a mut dyn DocOutput,
    state: &'a dyn StateBackend,
    metrics: &'a PipelineMetrics,
    pending: Pending,
    stats: SinkStats,
}

impl Store<'_> {
    /// Writes a classified batch: attribution, near-duplicate clusters, the
    /// output, and what the state learns at the next commit.
    fn store(&mut self, c: Classified) -> Result<()> {
        let Classified { mut docs, labels } = c;
        let fps: Vec<Fingerprint> = docs
            .iter()
            .map(|p| fingerprint(p.doc.classified_text()))
            .collect();
        let extras = dedup_extras(&docs, fps, self.state);
        let unlabelled = self.stats.unlabelled;
        for (p, l) in docs.iter_mut().zip(labels) {
            match l {
                Ok(mut l) => {
                    // Who voices each hostile span depends on the document
                    // (a comment, a post, an article), not only on its text.
                    mediawatch_classify::attribution::annotate(
                        &mut l,
                        p.doc.classified_text(),
                        p.doc.kind,
                    );
                    p.doc.labels = Some(l);
                }
                Err(e) => {
                    // Indexed without labels rather than lost; `reclassify`
                    // labels it later.
                    tracing::warn!(doc = %p.doc.id, source = %p.doc.source_id, "classification failed: {e}");
                    self.stats.unlabelled += 1;
                }
            }
        }
        // One hand-off to the writer thread for the whole batch.
        let rows: Vec<_> = docs
            .iter()
            .zip(&extras)
            .map(|(p, extra)| (&p.doc, p.source.as_ref(), extra))
            .collect();
        self.out.write(&rows)?;
        drop(rows);
        self.stats.indexed += docs.len() as u64;
        self.metrics.documents_indexed.inc_by(docs.len() as u64);
        self.metrics
            .documents_unlabelled
            .inc_by(self.stats.unlabelled - unlabelled);
        if let Some(policy) = &self.pending.track {
            let (articles, comments) = crate::revisit::to_track(&docs, policy);
            self.pending.articles.extend(articles);
            self.pending.comments.extend(comments);
        }
        self.pending
            .seen
            .extend(docs.drain(..).filter_map(|p| p.seen));
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        commit(self.out, self.state, &mut self.pending, &mut self.stats)
    }
}

/// Content hash and near-duplicate cluster of each document of a batch
/// (`fps`: their fingerprints), assigned in one state-store transaction.
///
/// Texts too short to fingerprint meaningfully (see
/// `Fingerprint::clusterable`) are their own cluster. A state-store failure
/// only costs the clustering: the documents are indexed as their own
/// clusters rather than lost.
fn dedup_extras(
    batch: &[PendingDoc],
    fps: Vec<Fingerprint>,
    state: &dyn StateBackend,
) -> Vec<DocExtra> {
    let wanted: Vec<(&str, u64, chrono::DateTime<Utc>)> = batch
        .iter()
        .zip(&fps)
        .filter(|(_, fp)| fp.clusterable())
        .map(|(p, fp)| (p.doc.id.as_str(), fp.simhash, p.doc.effective_time()))
        .collect();
    let mut assigned = match state.assign_clusters(&wanted) {
        Ok(a) => a.into_iter().map(|a| Some(a.cluster_id)).collect(),
        Err(e) => {
            tracing::warn!(
                documents = wanted.len(),
                "near-duplicate clustering failed (state {}); indexing each document as its own cluster: {e}",
                state.location()
            );
            vec![None; wanted.len()]
        }
    }
    .into_iter();
    fps.into_iter()
        .map(|fp| DocExtra {
            cluster_id: if fp.clusterable() {
                assigned.next().flatten()
            } else {
                None
            },
            content_hash: Some(fp.content_hash),
        })
        .collect()
}

/// What the state learns once the output has committed a batch.
#[derive(Default)]
struct Pending {
    /// Which articles and comments the moderation ledger follows (none
    /// when `[revisit]` is off).
    track: Option<TrackPolicy>,
    seen: Vec<SeenItem>,
    articles: Vec<NewTracked>,
    comments: Vec<CommentSighting>,
}

fn commit(
    out: &mut dyn DocOutput,
    state: &dyn StateBackend,
    pending: &mut Pending,
    stats: &mut SinkStats,
) -> Result<()> {
    out.commit()?;
    stats.commits += 1;
    let at = |source| PipelineError::StateAt {
        location: state.location(),
        source: Box::new(source),
    };
    // The ledger before the seen marks: if it cannot be written, the items
    // stay unseen and their next pass records them (the index's upsert
    // keeps the documents single).
    if !pending.articles.is_empty() || !pending.comments.is_empty() {
        state
            .track(&pending.articles, &pending.comments)
            .map_err(at)?;
        pending.articles.clear();
        pending.comments.clear();
    }
    if !pending.seen.is_empty() {
        state.mark_seen(&pending.seen, Utc::now()).map_err(at)?;
        pending.seen.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_classify::LexiconClassifier;
    use mediawatch_core::DocId;
    use mediawatch_state::StateStore;

    const STORY: &str = include_str!("../../core/src/testdata/agency_story_sr_latn.txt");
    const STORY_CYRL: &str = include_str!("../../core/src/testdata/agency_story_sr_cyrl.txt");

    fn pending(url: &str, source: &Arc<SourceMeta>, text: &str) -> Box<PendingDoc> {
        let fetched = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 4, 12, 0, 0)
            .single()
            .expect("valid date");
        Box::new(PendingDoc {
            context: None,
            doc: mediawatch_testkit::doc(url)
                .source(&source.id)
                .title("t")
                .text(text)
                .fetched(fetched)
                .build(),
            source: Arc::clone(source),
            seen: Some(SeenItem {
                source_id: source.id.clone(),
                item_key: url.into(),
                doc_id: DocId::from_url(url).to_string(),
            }),
            ledger: None,
        })
    }

    /// Syndicated copies (credited, re-scripted) reach the index with one
    /// cluster id; short and unrelated texts keep their own; items are
    /// still marked seen after the commit.
    #[tokio::test]
    async fn syndicated_copies_are_indexed_with_one_cluster() {
        let index = Index::create_in_ram().expect("index");
        let state = Arc::new(StateStore::in_memory().expect("state"));
        let sink = SinkHandle::start(&index, 0, Arc::new(LexiconClassifier::new()), state.clone())
            .expect("sink");
        let src = Arc::new(SourceMeta {
            name: "S".into(),
            languages: vec!["sr".into()],
            ..mediawatch_testkit::source("s")
        });
        // A portal's copy with the agency credit appended. (How far edited
        // copies drift is measured in the state crate's dedup_bench.)
        let edited = format!("{STORY}\n\n(Tanjug)");
        let tx = sink.sender();
        for (url, text) in [
            ("https://a/1", STORY),
            ("https://b/1", edited.as_str()),
            ("https://c/1", STORY_CYRL),
            ("https://d/1", "Sramota!"),
            ("https://e/1", "Sramota!"),
        ] {
            tx.send(SinkMsg::Doc(pending(url, &src, text)))
                .await
                .expect("send");
        }
        drop(tx);
        assert_eq!(sink.flush().await.expect("flush"), 5);
        let cluster = |url: &str| {
            index
                .get_extra(&DocId::from_url(url))
                .expect("read")
                .expect("indexed")
                .cluster_id
                .expect("cluster")
        };
        let first = DocId::from_url("https://a/1").to_string();
        assert_eq!(cluster("https://a/1"), first);
        assert_eq!(cluster("https://b/1"), first);
        assert_eq!(cluster("https://c/1"), first);
        // Too short to cluster: identical one-word comments stay apart.
        assert_eq!(
            cluster("https://d/1"),
            DocId::from_url("https://d/1").to_string()
        );
        assert_eq!(
            cluster("https://e/1"),
            DocId::from_url("https://e/1").to_string()
        );
        assert_eq!(state.fingerprint_count().expect("count"), 3);
        assert!(state.is_seen("s", "https://c/1").expect("seen"));
        let stats = sink.finish().await.expect("finish");
        assert_eq!(stats.indexed, 5);
    }
    /// Counts the texts it is asked to classify.
    struct Counting(LexiconClassifier, std::sync::atomic::AtomicUsize);

    impl Classifier for Counting {
        fn model_version(&self) -> &str {
            self.0.model_version()
        }
        fn classify(
            &self,
            text: &str,
            lang: Option<&str>,
        ) -> std::result::Result<Labels, ClassifyError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.classify(text, lang)
        }
        fn relevance(
            &self,
            text: &str,
            lang: Option<&str>,
        ) -> std::result::Result<f32, ClassifyError> {
            self.0.relevance(text, lang)
        }
    }

    /// A text seen again (word for word, same language and context) takes
    /// the labels it got before instead of being classified again, within
    /// a batch and across batches; the same words under another article
    /// (another context) are classified on their own.
    #[tokio::test]
    async fn repeated_texts_are_classified_once() {
        let index = Index::create_in_ram().expect("index");
        let state = Arc::new(StateStore::in_memory().expect("state"));
        let counting = Arc::new(Counting(
            LexiconClassifier::new(),
            std::sync::atomic::AtomicUsize::new(0),
        ));
        let sink = SinkHandle::start(&index, 0, counting.clone(), state.clone()).expect("sink");
        let src = Arc::new(SourceMeta {
            name: "S".into(),
            languages: vec!["sr".into()],
            ..mediawatch_testkit::source("s")
        });
        let tx = sink.sender();
        let mut under_other = pending("https://c/1", &src, STORY);
        under_other.context = Some("Utakmica je završena bez golova.".into());
        for d in [
            pending("https://a/1", &src, STORY),
            pending("https://b/1", &src, STORY),
            under_other,
        ] {
            tx.send(SinkMsg::Doc(d)).await.expect("send");
        }
        sink.flush().await.expect("flush");
        tx.send(SinkMsg::Doc(pending("https://d/1", &src, STORY)))
            .await
            .expect("send");
        drop(tx);
        assert_eq!(sink.flush().await.expect("flush"), 1);
        assert_eq!(counting.1.load(std::sync::atomic::Ordering::SeqCst), 2);
        let labels = |url: &str| {
            index
                .get(&DocId::from_url(url))
                .expect("read")
                .expect("indexed")
                .labels
                .expect("labelled")
        };
        let first = labels("https://a/1");
        assert!(first.relevance.score > 0.0, "the story is about migration");
        for url in ["https://b/1", "https://d/1"] {
            assert_eq!(labels(url), first, "{url}");
        }
        assert_eq!(sink.finish().await.expect("finish").indexed, 4);
    }
}
