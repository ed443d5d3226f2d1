//! Per-host politeness: a concurrency bound and a minimum interval between
//! request starts, per host name (ports and schemes of one host share them,
//! because they share the machine we must be gentle with).
//!
//! The interval is a `governor` limiter with a burst of one; robots.txt
//! `Crawl-delay` can only raise it. The table is pruned of idle hosts when it
//! grows large, so months of redirects to ever-new hosts do not leak memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Entries above this count trigger pruning of idle hosts.
const PRUNE_ABOVE: usize = 4096;
/// A host idle this long may be forgotten (its limiter state is then stale anyway).
const IDLE_FORGET: Duration = Duration::from_secs(3600);

pub(crate) struct HostSlot {
    permits: Arc<Semaphore>,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    interval: Duration,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    last_used: Instant,
}

fn limiter_for(interval: Duration) -> Option<Arc<DefaultDirectRateLimiter>> {
    Quota::with_period(interval).map(|q| Arc::new(RateLimiter::direct(q)))
}

impl HostSlot {
    /// Wait for a concurrency slot, then for the rate limiter. The permit is
    /// held for the whole exchange of one hop.
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        let limiter = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.last_used = Instant::now();
            st.limiter.clone()
        };
        if let Some(l) = limiter {
            l.until_ready().await;
        }
        Some(permit)
    }

    /// Raise the minimum interval (never lowers it). The new limiter starts
    /// with its one cell used, so the next request waits a full interval
    /// (the robots.txt request that announced the delay counts as one).
    pub fn raise_interval(&self, interval: Duration) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if interval <= st.interval {
            return;
        }
        st.interval = interval;
        let limiter = limiter_for(interval);
        if let Some(l) = &limiter {
            let _ = l.check();
        }
        st.limiter = limiter;
    }

    /// Current minimum interval between request starts.
    #[cfg(test)]
    pub fn interval(&self) -> Duration {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .interval
    }
}

pub(crate) struct HostTable {
    per_host: usize,
    min_interval: Duration,
    slots: Mutex<HashMap<String, Arc<HostSlot>>>,
}

impl HostTable {
    pub fn new(per_host: usize, min_interval: Duration) -> Self {
        HostTable {
            per_host: per_host.max(1),
            min_interval,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The slot for a host (created on first use).
    pub fn slot(&self, host: &str) -> Arc<HostSlot> {
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slots.get(&key) {
            return Arc::clone(s);
        }
        if slots.len() >= PRUNE_ABOVE {
            slots.retain(|_, s| {
                let idle = s
                    .state
                    .lock()
                    .map(|st| st.last_used.elapsed() > IDLE_FORGET)
                    .unwrap_or(true);
                Arc::strong_count(s) > 1 || !idle
            });
        }
        let slot = Arc::new(HostSlot {
            permits: Arc::new(Semaphore::new(self.per_host)),
            state: Mutex::new(LimiterState {
                interval: self.min_interval,
                limiter: limiter_for(self.min_interval),
                last_used: Instant::now(),
            }),
        });
        slots.insert(key, Arc::clone(&slot));
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn interval_only_rises() {
        let t = HostTable::new(2, Duration::from_millis(10));
        let s = t.slot("Example.ORG.");
        assert!(Arc::ptr_eq(&s, &t.slot("example.org")));
        s.raise_interval(Duration::from_millis(5));
        assert_eq!(s.interval(), Duration::from_millis(10));
        s.raise_interval(Duration::from_secs(2));
        assert_eq!(s.interval(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn zero_interval_has_no_limiter() {
        let t = HostTable::new(1, Duration::ZERO);
        let s = t.slot("a.example");
        for _ in 0..3 {
            let p = s.acquire().await;
            assert!(p.is_some());
        }
    }
}
