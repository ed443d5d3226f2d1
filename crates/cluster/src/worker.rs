//! The worker role: competing consumers of the fetch jobs. A job is a
//! source to poll now: list, fetch, extract and classify exactly as the
//! single-machine pipeline does, but the labelled documents go to the
//! document stream instead of a local index.
//!
//! Workers also run the due re-checks of tracked articles (`[revisit]`),
//! each claimed in the shared state so one worker re-checks it.
//!
//! Order of a job, and why nothing is lost or fetched twice:
//! 1. documents are published (each waits for JetStream's ack);
//! 2. the items are marked seen in PostgreSQL;
//! 3. the poll is recorded (validators, next due time), releasing the
//!    scheduler's claim;
//! 4. the job is acknowledged.
//!
//! A worker killed before 3 leaves the job unacknowledged: JetStream
//! redelivers it after `job_ack_wait` to another worker, which polls the
//! source again (items already marked seen are skipped, documents already
//! published are dropped by the duplicate window or upserted once by the
//! indexers). Killed between 3 and 4, the redelivered job finds the source
//! polled since its claim and is acknowledged without fetching.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::Message;
use futures_util::StreamExt;
use mediawatch_config::ClusterConfig;
use mediawatch_core::{Document, SourceMeta};
use mediawatch_index::DocExtra;
use mediawatch_pipeline::{DocOutput, Pipeline, PipelineError, SinkHandle};
use tokio_util::sync::CancellationToken;

use crate::bus::{docs_subject, Bus, DocMessage, FetchJob, DOCS_STREAM, JOBS_STREAM};
use crate::{retry_setup, ClusterMetrics, Result};

/// The durable consumer all workers share (competing consumers).
pub(crate) const CONSUMER: &str = "workers";

/// Writes the classify stage's documents to the document stream.
struct Publisher {
    bus: Bus,
    shards: usize,
    rt: tokio::runtime::Handle,
    metrics: Arc<ClusterMetrics>,
}

impl Publisher {
    fn failed(message: String) -> PipelineError {
        PipelineError::Output {
            target: format!("NATS stream {DOCS_STREAM}"),
            message,
        }
    }
}

impl DocOutput for Publisher {
    fn write(
        &mut self,
        batch: &[(&Document, &SourceMeta, &DocExtra)],
    ) -> mediawatch_pipeline::Result<()> {
        let mut msgs = Vec::with_capacity(batch.len());
        for (doc, source, extra) in batch {
            let m = DocMessage {
                doc: (*doc).clone(),
                source: (*source).clone(),
                extra: (*extra).clone(),
            };
            let payload = serde_json::to_vec(&m)
                .map_err(|e| Self::failed(format!("cannot encode {}: {e}", m.doc.id)))?;
            msgs.push((
                docs_subject(m.shard(self.shards)),
                m.message_id(),
                bytes::Bytes::from(payload),
            ));
        }
        let bus = self.bus.clone();
        // The stage runs on its own thread, outside the runtime: block on
        // the batch's acknowledgements there. All publishes of a batch are
        // in flight together.
        let published = self.rt.block_on(async move {
            let sends = msgs
                .iter()
                .map(|(subject, id, payload)| bus.publish(subject, id, payload.clone()));
            futures_util::future::join_all(sends).await
        });
        let mut ok = 0u64;
        for r in published {
            r.map_err(|e| Self::failed(e.to_string()))?;
            ok += 1;
        }
        self.metrics.docs_published.inc_by(ok);
        Ok(())
    }

    /// Every write already waited for JetStream to store its documents.
    fn commit(&mut self) -> mediawatch_pipeline::Result<()> {
        Ok(())
    }

    fn close(self: Box<Self>) -> mediawatch_pipeline::Result<()> {
        Ok(())
    }
}

/// Runs a worker until `cancel`: up to `worker_concurrency` jobs at once.
/// On shutdown, jobs in flight are handed back (negatively acknowledged)
/// so another worker takes them at once.
pub async fn run_worker(
    config: ClusterConfig,
    bus: Bus,
    pipeline: Arc<Pipeline>,
    metrics: Arc<ClusterMetrics>,
    cancel: CancellationToken,
) -> Result<()> {
    let js = bus.jetstream();
    let Some(stream) = retry_setup(&format!("stream {JOBS_STREAM}"), &cancel, || {
        js.get_stream(JOBS_STREAM)
    })
    .await?
    else {
        return Ok(());
    };
    let consumer_config = pull::Config {
        durable_name: Some(CONSUMER.into()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.job_ack_wait,
        ..Default::default()
    };
    let Some(consumer) = retry_setup(
        &format!("consumer {JOBS_STREAM}/{CONSUMER}"),
        &cancel,
        || stream.get_or_create_consumer::<pull::Config>(CONSUMER, consumer_config.clone()),
    )
    .await?
    else {
        return Ok(());
    };
    let sink = Arc::new(pipeline.start_sink_to(Box::new(Publisher {
        bus: bus.clone(),
        shards: config.shards,
        rt: tokio::runtime::Handle::current(),
        metrics: metrics.clone(),
    }))?);
    // Re-checks of tracked articles (the moderation ledger) run on every
    // worker, into the same classify stage; the state's claims give each
    // due article to one worker.
    let revisits = pipeline.config().revisit.enabled.then(|| {
        let (p, s, c) = (pipeline.clone(), sink.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(p.config().revisit.check_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = c.cancelled() => break,
                    _ = tick.tick() => match p.revisit_into(&s, chrono::Utc::now(), &c).await {
                        Ok(r) if r.checked > 0 => tracing::info!(
                            checked = r.checked, changed = r.changed, deleted = r.deleted,
                            comments_gone = r.comments_gone, "revisited"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("revisits failed: {e}"),
                    },
                }
            }
        })
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(config.worker_concurrency));
    // Sources this worker is polling now (the state's poll lock is per
    // connection, and this worker's jobs share one).
    let polling: Arc<std::sync::Mutex<HashSet<String>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    tracing::info!(concurrency = config.worker_concurrency, "worker started");
    while !cancel.is_cancelled() {
        while tasks.try_join_next().is_some() {}
        if sink.is_stopped() {
            // The classify stage failed (the state store stayed away past
            // its reconnect window, say): stop taking jobs and exit with
            // its error, for the supervisor to restart the worker.
            break;
        }
        let free = slots.available_permits();
        if free == 0 {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tasks.join_next() => continue,
            }
        }
        let batch = consumer
            .batch()
            .max_messages(free)
            .expires(Duration::from_secs(1))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("cannot pull jobs (NATS unreachable?): {e}");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => None,
                m = batch.next() => m,
            };
            let Some(msg) = next else { break };
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!("pull ended: {e}");
                    break;
                }
            };
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (p, s, m, c, wait, busy) = (
                pipeline.clone(),
                sink.clone(),
                metrics.clone(),
                cancel.clone(),
                config.job_ack_wait,
                polling.clone(),
            );
            tasks.spawn(async move {
                let _permit = permit;
                run_job(msg, &p, &s, &m, &c, wait, &busy).await;
            });
        }
    }
    while tasks.join_next().await.is_some() {}
    if let Some(r) = revisits {
        // It stops at `cancel`; when the stage failed it stops here.
        r.abort();
        let _ = r.await;
    }
    match Arc::try_unwrap(sink) {
        Ok(sink) => {
            sink.finish().await?;
        }
        Err(_) => tracing::warn!("the classify stage is still referenced at shutdown"),
    }
    if !cancel.is_cancelled() {
        return Err(crate::ClusterError::Local(
            "the classify stage stopped; the worker exits".into(),
        ));
    }
    tracing::info!("worker stopped");
    Ok(())
}

fn release_local(polling: &std::sync::Mutex<HashSet<String>>, id: &str) {
    if let Ok(mut p) = polling.lock() {
        p.remove(id);
    }
}

async fn run_job(
    msg: Message,
    pipeline: &Pipeline,
    sink: &SinkHandle,
    metrics: &ClusterMetrics,
    cancel: &CancellationToken,
    ack_wait: Duration,
    polling: &std::sync::Mutex<HashSet<String>>,
) {
    let job: FetchJob = match serde_json::from_slice(&msg.payload) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!("dropping a malformed fetch job: {e}");
            let _ = msg.ack_with(AckKind::Term).await;
            metrics.job("malformed");
            return;
        }
    };
    let id = job.source_id.clone();
    // A redelivery of a job whose poll was already recorded (the worker
    // died between recording and acknowledging): done, do not fetch again
    // within the source's interval.
    let state = pipeline.state().clone();
    let sid = id.clone();
    let crawl = tokio::task::spawn_blocking(move || state.crawl_state(&sid)).await;
    if let Ok(Ok(cs)) = &crawl {
        if cs.next_due.is_some_and(|n| n > job.claimed_at) {
            tracing::info!(source = %id, "job already done (redelivered after its poll was recorded)");
            let _ = msg.double_ack().await;
            metrics.job("already_done");
            return;
        }
    }
    // One poll of a source at a time in the whole cluster: a job
    // redelivered while its first worker is still polling (a worker starved
    // past the ack wait) waits and then finds the poll recorded.
    let mine = polling
        .lock()
        .map(|mut p| p.insert(id.clone()))
        .unwrap_or(false);
    let state = pipeline.state().clone();
    let sid = id.clone();
    let locked = if mine {
        tokio::task::spawn_blocking(move || state.try_lock_source(&sid))
            .await
            .unwrap_or(Ok(false))
    } else {
        Ok(false)
    };
    match locked {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(source = %id, "another worker is polling this source; the job waits");
            if mine {
                release_local(polling, &id);
            }
            let _ = msg.ack_with(AckKind::Nak(Some(ack_wait / 2))).await;
            metrics.job("busy");
            return;
        }
        // The state is away: the poll could not be recorded either; try
        // again later.
        Err(e) => {
            tracing::warn!(source = %id, "cannot take the poll lock: {e}");
            release_local(polling, &id);
            let _ = msg
                .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                .await;
            metrics.job("retried");
            return;
        }
    }
    // Keep the job ours while the poll runs (a big sitemap can take longer
    // than the ack wait).
    let keepalive = async {
        let every = (ack_wait / 3).max(Duration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            let _ = msg.ack_with(AckKind::Progress).await;
        }
    };
    let report = tokio::select! {
        r = pipeline.poll_source(&id, sink, cancel) => r,
        _ = keepalive => unreachable!("the keepalive loop never ends"),
    };
    let state = pipeline.state().clone();
    let sid = id.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || state.unlock_source(&sid)).await {
        // A lost connection released it already.
        tracing::debug!(source = %id, "poll lock not released: {e}");
    }
    release_local(polling, &id);
    match report {
        Ok(r) if r.recorded => {
            if let Err(e) = msg.double_ack().await {
                // The poll is recorded: the redelivered job will be
                // acknowledged without fetching (see above).
                tracing::warn!(source = %id, "job done but its ack failed: {e}");
            }
            tracing::debug!(source = %id, new = r.new, "job done");
            metrics.job("done");
        }
        Ok(r) => {
            // Shut down mid-poll, or the documents could not be stored:
            // hand the job back (at once on shutdown, else after a pause).
            let delay = if cancel.is_cancelled() {
                None
            } else {
                Some(Duration::from_secs(5))
            };
            tracing::warn!(source = %id, "job not finished, handed back: {}", r.messages.join("; "));
            let _ = msg.ack_with(AckKind::Nak(delay)).await;
            metrics.job("retried");
        }
        Err(e) => {
            // A source this worker's config does not know: terminate the
            // job rather than loop it between workers.
            tracing::error!(source = %id, "job terminated: {e}");
            let _ = msg.ack_with(AckKind::Term).await;
            metrics.job("unknown_source");
        }
    }
}
