//! When a source is polled next.
//!
//! - After a success: the configured interval when the source sets one;
//!   otherwise (with `scheduler.adaptive`) half the median gap between its
//!   recent items' publication times, so a busy portal is polled often and a
//!   weekly blog rarely, clamped to `[min_interval, max_interval]`. A source
//!   whose newest item is old slows down further. A server's `Cache-Control:
//!   max-age`, or the feed's own RSS `<ttl>`, stretches the interval up to 4x
//!   (never beyond `max_interval`).
//! - After a failure: exponential backoff from one minute, capped by
//!   `scheduler.max_backoff`, never sooner than the server's `Retry-After`.
//!
//! Every interval gets ±10 % jitter so sources do not poll in lockstep.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mediawatch_config::SchedulerConfig;

/// What a successful poll tells about the source's rhythm.
#[derive(Debug, Clone, Default)]
pub(crate) struct PollTiming {
    /// Cache-Control max-age (or Expires) of the response, or the feed's
    /// RSS `<ttl>` when longer.
    pub max_age: Option<Duration>,
    /// Publication times of the items listed in this poll.
    pub item_times: Vec<DateTime<Utc>>,
}

/// Items needed before the observed rhythm is trusted.
const MIN_DATED_ITEMS: usize = 3;

/// The interval a source's items suggest, if they are dated enough.
pub(crate) fn observed_interval(
    item_times: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Option<Duration> {
    let mut t: Vec<DateTime<Utc>> = item_times.iter().copied().filter(|t| *t <= now).collect();
    if t.len() < MIN_DATED_ITEMS {
        return None;
    }
    t.sort_unstable_by(|a, b| b.cmp(a));
    t.dedup();
    // The most recent 20 items describe the current rhythm best.
    t.truncate(20);
    let mut gaps: Vec<i64> = t.windows(2).map(|w| (w[0] - w[1]).num_seconds()).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2].max(1) as u64;
    // Poll twice per expected update; a feed silent for much longer than its
    // usual gap is slowing down, so do not poll it more often than a quarter
    // of its silence.
    let silence = (now - t[0]).num_seconds().max(0) as u64;
    Some(Duration::from_secs((median / 2).max(silence / 4)))
}

/// Interval until the next poll after a success (before jitter).
pub(crate) fn after_success(
    configured: Option<Duration>,
    sched: &SchedulerConfig,
    timing: &PollTiming,
    now: DateTime<Utc>,
) -> Duration {
    let base = match configured {
        Some(i) => i,
        None if sched.adaptive => observed_interval(&timing.item_times, now)
            .map(|d| d.clamp(sched.min_interval, sched.max_interval))
            .unwrap_or(sched.default_interval),
        None => sched.default_interval,
    };
    match timing.max_age {
        Some(m) if m > base => m.min(base * 4).min(sched.max_interval.max(base)),
        _ => base,
    }
}

/// Interval until the next poll after the `failures`-th consecutive failure
/// (1 for the first), before jitter.
pub(crate) fn after_failure(
    failures: u32,
    retry_after: Option<Duration>,
    sched: &SchedulerConfig,
) -> Duration {
    let exp = Duration::from_secs(60)
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(sched.max_backoff);
    retry_after.map_or(exp, |r| r.max(exp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + h * 3600, 0).unwrap()
    }

    #[test]
    fn busy_feed_is_polled_often_quiet_feed_rarely() {
        let s = SchedulerConfig::default();
        let now = at(100);
        // An item every hour: poll every 30 minutes.
        let busy = PollTiming {
            item_times: (0..10).map(|i| at(100 - i)).collect(),
            ..Default::default()
        };
        assert_eq!(
            after_success(None, &s, &busy, now),
            Duration::from_secs(1800)
        );
        // An item every 2 days: capped at max_interval (6 h).
        let quiet = PollTiming {
            item_times: (0..5).map(|i| at(100 - 48 * i)).collect(),
            ..Default::default()
        };
        assert_eq!(after_success(None, &s, &quiet, now), s.max_interval);
        // Every minute: floored at min_interval.
        let flood = PollTiming {
            item_times: (0..10)
                .map(|i| now - chrono::Duration::minutes(i))
                .collect(),
            ..Default::default()
        };
        assert_eq!(after_success(None, &s, &flood, now), s.min_interval);
    }

    #[test]
    fn configured_interval_wins_and_undated_feeds_use_default() {
        let s = SchedulerConfig::default();
        let t = PollTiming::default();
        assert_eq!(
            after_success(Some(Duration::from_secs(600)), &s, &t, at(0)),
            Duration::from_secs(600)
        );
        assert_eq!(after_success(None, &s, &t, at(0)), s.default_interval);
        let off = SchedulerConfig {
            adaptive: false,
            ..SchedulerConfig::default()
        };
        let busy = PollTiming {
            item_times: (0..10).map(|i| at(100 - i)).collect(),
            ..Default::default()
        };
        assert_eq!(
            after_success(None, &off, &busy, at(100)),
            off.default_interval
        );
    }

    #[test]
    fn stale_feed_slows_down() {
        // Hourly rhythm, but silent for 40 hours: poll every 10 hours, capped at 6.
        let s = SchedulerConfig::default();
        let t = PollTiming {
            item_times: (0..10).map(|i| at(60 - i)).collect(),
            ..Default::default()
        };
        assert_eq!(after_success(None, &s, &t, at(100)), s.max_interval);
    }

    #[test]
    fn cache_control_stretches_up_to_four_times() {
        let s = SchedulerConfig::default();
        let t = PollTiming {
            max_age: Some(Duration::from_secs(86400)),
            ..Default::default()
        };
        assert_eq!(
            after_success(Some(Duration::from_secs(900)), &s, &t, at(0)),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn backoff_doubles_caps_and_respects_retry_after() {
        let s = SchedulerConfig::default();
        assert_eq!(after_failure(1, None, &s), Duration::from_secs(60));
        assert_eq!(after_failure(2, None, &s), Duration::from_secs(120));
        assert_eq!(after_failure(5, None, &s), Duration::from_secs(960));
        assert_eq!(after_failure(40, None, &s), s.max_backoff);
        assert_eq!(
            after_failure(1, Some(Duration::from_secs(7200)), &s),
            Duration::from_secs(7200)
        );
    }
}
