//! The scheduler role: claims due sources in the shared state and
//! publishes one fetch job per claim.
//!
//! Several schedulers may run (for availability): the claim is a
//! `SELECT … FOR UPDATE SKIP LOCKED` with a lease in PostgreSQL, so each
//! due source is handed out once. A claim ends when a worker records the
//! source's poll (its next due time is then in the future) or when the
//! lease runs out (the job was lost), and the source is claimed again.

use std::sync::Arc;

use chrono::Utc;
use mediawatch_config::ClusterConfig;
use mediawatch_state::StateBackend;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, FetchJob, JOBS_STREAM, JOBS_SUBJECT};
use crate::{ClusterMetrics, Result};

/// Most sources claimed per tick: a backlog (a cluster starting on 100,000
/// never-polled sources) becomes jobs in slices, not one huge transaction.
const CLAIMS_PER_TICK: usize = 2_000;

/// Runs the scheduler until `cancel`: every `schedule_every`, claims the
/// due ones of `source_ids` and publishes their jobs.
pub async fn run_scheduler(
    config: ClusterConfig,
    bus: Bus,
    state: Arc<dyn StateBackend>,
    source_ids: Vec<String>,
    metrics: Arc<ClusterMetrics>,
    cancel: CancellationToken,
) -> Result<()> {
    let mut tick = tokio::time::interval(config.schedule_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(sources = source_ids.len(), "scheduler started");
    let ids = Arc::new(source_ids);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let (st, ids2, lease) = (state.clone(), ids.clone(), config.claim_lease);
        let now = Utc::now();
        let claimed = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = ids2.iter().map(String::as_str).collect();
            st.claim_due(&refs, now, lease, CLAIMS_PER_TICK)
        })
        .await;
        let claimed = match claimed {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                // PostgreSQL restarting: the state store reconnects; try
                // again next tick.
                tracing::warn!("cannot claim due sources ({}): {e}", state.location());
                continue;
            }
            Err(e) => {
                tracing::error!("claim task failed: {e}");
                continue;
            }
        };
        for source_id in claimed {
            let job = FetchJob {
                source_id,
                claimed_at: now,
            };
            let payload = match serde_json::to_vec(&job) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(source = %job.source_id, "cannot encode job: {e}");
                    continue;
                }
            };
            match bus
                .publish(JOBS_SUBJECT, &job.message_id(), payload.into())
                .await
            {
                Ok(_) => {
                    metrics.jobs_published.inc();
                }
                // The claim stays until its lease ends; the source is
                // claimed (and published) again then.
                Err(e) => tracing::warn!(source = %job.source_id, "job not published: {e}"),
            }
        }
        if let Ok(Some(pending)) = bus
            .consumer_pending(JOBS_STREAM, crate::worker::CONSUMER)
            .await
        {
            metrics
                .jobs_pending
                .set(i64::try_from(pending).unwrap_or(i64::MAX));
        }
    }
    tracing::info!("scheduler stopped");
    Ok(())
}
