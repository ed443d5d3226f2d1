//! The long-running scheduler behind `mediawatch run`.
//!
//! Sources wait in a min-heap keyed by their next due time (one entry per
//! source: memory is bounded by the number of sources, and the earliest due
//! source is always polled first, so none starves). A semaphore bounds how
//! many polls run at once; a timer flushes the index stage every
//! `index.commit_interval`.
//!
//! Shutdown is ordered: stop starting polls, let in-flight polls end (they
//! observe the cancellation between requests), drain the channel, commit the
//! index, mark items seen, close the writer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{Pipeline, Result};

/// A running scheduler.
pub struct RunHandle {
    task: JoinHandle<Result<crate::SinkStats>>,
}

impl RunHandle {
    /// Waits until the scheduler has shut down (after its token is
    /// cancelled) and the index is committed.
    pub async fn wait(self) -> Result<crate::SinkStats> {
        self.task
            .await
            .map_err(|e| crate::PipelineError::Sink(format!("scheduler task failed: {e}")))?
    }
}

pub(crate) fn start(p: Arc<Pipeline>, cancel: CancellationToken) -> Result<RunHandle> {
    let sink = p.start_sink()?;
    let task = tokio::spawn(async move {
        let stop_timer = CancellationToken::new();
        let flusher = {
            let sender = sink.sender();
            let every = p.config.index.commit_interval;
            let stop = stop_timer.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tick.tick() => {
                            let (reply, rx) = tokio::sync::oneshot::channel();
                            if sender.send(crate::sink::SinkMsg::Flush(reply)).await.is_err() {
                                break;
                            }
                            match rx.await {
                                Ok(Ok(n)) if n > 0 => tracing::info!(documents = n, "index committed"),
                                Ok(Ok(_)) => {}
                                Ok(Err(e)) => tracing::error!("index commit failed: {e}"),
                                Err(_) => break,
                            }
                        }
                    }
                }
            })
        };

        let now = Utc::now();
        let mut heap: BinaryHeap<Reverse<(DateTime<Utc>, usize)>> = BinaryHeap::new();
        for (i, s) in p.sources.iter().enumerate() {
            if !s.cfg.enabled {
                continue;
            }
            let due = p
                .state
                .crawl_state(&s.cfg.id)
                .ok()
                .and_then(|c| c.next_due)
                .unwrap_or(now);
            heap.push(Reverse((due, i)));
        }
        tracing::info!(sources = heap.len(), "scheduler started");
        let (done_tx, mut done_rx) =
            mpsc::channel::<(usize, DateTime<Utc>)>(p.sources.len().max(1));
        let limit = Arc::new(Semaphore::new(p.config.scheduler.concurrent_sources));
        let tracker = TaskTracker::new();
        let cx = p.poll_context(&sink, &cancel);
        loop {
            let next = heap.peek().map(|Reverse((due, _))| *due);
            let sleep = match next {
                Some(due) => (due - Utc::now()).to_std().unwrap_or_default(),
                None => std::time::Duration::from_secs(3600),
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some((i, due)) = done_rx.recv() => heap.push(Reverse((due, i))),
                _ = tokio::time::sleep(sleep) => {
                    let now = Utc::now();
                    while let Some(Reverse((due, i))) = heap.peek().copied() {
                        if due > now {
                            break;
                        }
                        heap.pop();
                        let rt = p.sources[i].clone();
                        let cx = cx.clone();
                        let done = done_tx.clone();
                        let limit = limit.clone();
                        tracker.spawn(async move {
                            let Ok(_permit) = limit.acquire_owned().await else { return };
                            let r = super::source::poll_and_record(&rt, &cx).await;
                            tracing::info!(source = %r.source, fetched = r.fetched, new = r.new,
                                unchanged = r.unchanged, errors = r.errors, "polled");
                            let next = r.next_due.unwrap_or_else(|| Utc::now() + chrono::Duration::hours(1));
                            let _ = done.send((i, next)).await;
                        });
                    }
                }
            }
        }
        tracing::info!("scheduler stopping: waiting for in-flight polls");
        tracker.close();
        drop(done_rx);
        tracker.wait().await;
        drop(cx);
        stop_timer.cancel();
        let _ = flusher.await;
        tracing::info!("committing the index");
        sink.finish().await
    });
    Ok(RunHandle { task })
}
