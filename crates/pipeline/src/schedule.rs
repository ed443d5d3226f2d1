//! The long-running scheduler behind `mediawatch run`.
//!
//! Sources wait in a min-heap keyed by their next due time (one entry per
//! source: memory is bounded by the number of sources, and the earliest due
//! source is always polled first, so none starves). A semaphore bounds how
//! many polls run at once; a timer flushes the index stage every
//! `index.commit_interval`. Due re-checks of tracked articles (`[revisit]`)
//! run every `revisit.check_every` beside the polls.
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

/// Sources ordered by next due time: one entry per source not currently
/// being polled, so memory is O(sources). Ties go to the lower index, and
/// since a polled source re-enters with a later due time, every source is
/// served in due order: none starves however many are overdue.
pub(crate) struct DueQueue {
    heap: BinaryHeap<Reverse<(DateTime<Utc>, usize)>>,
}

impl DueQueue {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(n),
        }
    }

    pub(crate) fn push(&mut self, due: DateTime<Utc>, source: usize) {
        self.heap.push(Reverse((due, source)));
    }

    /// The earliest due time waiting.
    pub(crate) fn next_due(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse((due, _))| *due)
    }

    /// Removes and returns every source due at `now`, most overdue first.
    pub(crate) fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<usize> {
        let mut out = Vec::new();
        while let Some(Reverse((due, i))) = self.heap.peek().copied() {
            if due > now {
                break;
            }
            self.heap.pop();
            out.push(i);
        }
        out
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
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
        let mut heap = DueQueue::with_capacity(p.sources.len());
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
            heap.push(due, i);
        }
        tracing::info!(sources = heap.len(), "scheduler started");
        let (done_tx, mut done_rx) =
            mpsc::channel::<(usize, DateTime<Utc>)>(p.sources.len().max(1));
        let limit = Arc::new(Semaphore::new(p.config.scheduler.concurrent_sources));
        let tracker = TaskTracker::new();
        let cx = p.poll_context(&sink, &cancel);
        if p.config.revisit.enabled {
            // Re-checks of tracked articles (the moderation ledger), on the
            // same fetcher and classify stage as the polls; the tracker
            // waits for a round in flight at shutdown.
            let (p, sender, cancel) = (p.clone(), sink.sender(), cancel.clone());
            tracker.spawn(async move {
                let mut tick = tokio::time::interval(p.config.revisit.check_every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tick.tick() => match p.revisit_due(&sender, Utc::now(), &cancel).await {
                            Ok(r) if r.checked > 0 => tracing::info!(
                                checked = r.checked, changed = r.changed, deleted = r.deleted,
                                comments_new = r.comments_new, comments_gone = r.comments_gone,
                                failed = r.failed, "revisited"),
                            Ok(_) => {}
                            Err(e) => tracing::error!("revisits failed: {e}"),
                        },
                    }
                }
            });
        }
        loop {
            let next = heap.next_due();
            let sleep = match next {
                Some(due) => (due - Utc::now()).to_std().unwrap_or_default(),
                None => std::time::Duration::from_secs(3600),
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some((i, due)) = done_rx.recv() => heap.push(due, i),
                _ = tokio::time::sleep(sleep) => {
                    for i in heap.pop_due(Utc::now()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Discrete-event simulation of the scheduler loop: `n` sources with
    /// intervals from 5 minutes to 6 hours, `slots` concurrent polls each
    /// taking `poll_secs`, over `hours` of virtual time. Returns, per
    /// source, the polls made and the largest gap between two polls, and
    /// the largest queue length seen.
    fn simulate(n: usize, slots: usize, poll_secs: i64, hours: i64) -> (Vec<(u32, i64)>, usize) {
        let t0 = DateTime::<Utc>::from_timestamp(1_790_000_000, 0).unwrap();
        let interval = |i: usize| 300 + (i as i64 * 7919) % (6 * 3600 - 300);
        let mut q = DueQueue::with_capacity(n);
        for i in 0..n {
            // Start staggered over the first interval, as after a restart.
            q.push(
                t0 + chrono::Duration::seconds((i as i64 * 13) % interval(i)),
                i,
            );
        }
        let mut stats = vec![(0u32, 0i64); n];
        let mut last = vec![None::<DateTime<Utc>>; n];
        let mut running: VecDeque<(DateTime<Utc>, usize)> = VecDeque::new();
        let mut waiting: VecDeque<usize> = VecDeque::new();
        let end = t0 + chrono::Duration::hours(hours);
        let mut now = t0;
        let mut max_len = 0;
        while now < end {
            // Completions re-enter the queue with their next due time.
            while let Some(&(done, i)) = running.front() {
                if done > now {
                    break;
                }
                running.pop_front();
                q.push(done + chrono::Duration::seconds(interval(i)), i);
            }
            waiting.extend(q.pop_due(now));
            while running.len() < slots {
                let Some(i) = waiting.pop_front() else { break };
                if let Some(prev) = last[i] {
                    stats[i].1 = stats[i].1.max((now - prev).num_seconds());
                }
                last[i] = Some(now);
                stats[i].0 += 1;
                running.push_back((now + chrono::Duration::seconds(poll_secs), i));
            }
            max_len = max_len.max(q.len() + waiting.len() + running.len());
            // Advance to the next event.
            let next = [running.front().map(|r| r.0), q.next_due()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(end);
            now = next.max(now + chrono::Duration::seconds(1));
        }
        // Sources never polled again after their last poll count the tail.
        for i in 0..n {
            if let Some(prev) = last[i] {
                stats[i].1 = stats[i].1.max((end - prev).num_seconds());
            }
        }
        (stats, max_len)
    }

    #[test]
    fn ten_thousand_sources_stay_on_their_intervals() {
        let n = 10_000;
        // 64 concurrent polls of 2 s each: ample capacity.
        let (stats, max_len) = simulate(n, 64, 2, 24);
        assert!(
            max_len <= n,
            "queue grew beyond one entry per source: {max_len}"
        );
        for (i, (polls, gap)) in stats.iter().enumerate() {
            let interval = 300 + (i as i64 * 7919) % (6 * 3600 - 300);
            // Each gap is the interval plus the poll time, plus at most a
            // few seconds of queueing.
            assert!(
                *gap <= interval + 2 + 30,
                "source {i}: gap {gap}s > interval {interval}s"
            );
            assert!(
                *polls as i64 >= 24 * 3600 / (interval + 2 + 30) - 1,
                "source {i}: {polls} polls"
            );
        }
    }

    #[test]
    fn overload_delays_everyone_evenly_instead_of_starving_some() {
        let n = 10_000;
        // 4 slots x 10 s per poll = 1,440 polls/hour of capacity, far below
        // the demand: every source is still served, in due order.
        let (stats, max_len) = simulate(n, 4, 10, 48);
        assert!(max_len <= n);
        let never = stats.iter().filter(|s| s.0 == 0).count();
        assert_eq!(never, 0, "{never} sources were never polled");
        // Round-robin in due order: the worst gap is bounded by the time to
        // serve every source once (n / capacity per second) plus an interval.
        let round = (n as i64 * 10) / 4;
        let worst = stats.iter().map(|s| s.1).max().unwrap();
        assert!(
            worst <= round + 6 * 3600 + 60,
            "worst gap {worst}s, round {round}s"
        );
    }
}
