//! robots.txt cache, one entry per origin (scheme, host, port) as RFC 9309
//! scopes it. Fetching is done by the fetcher; this module stores outcomes
//! with their time to live and serialises concurrent first fetches of one
//! origin (the per-origin async mutex), so a burst of requests to a new host
//! fetches robots.txt once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use texting_robots::Robot;

/// Above this many origins, expired entries are dropped on insert.
const PRUNE_ABOVE: usize = 4096;
/// RFC 9309 asks crawlers to parse at least 500 KiB; more is not read.
pub(crate) const ROBOTS_MAX_BYTES: usize = 512 * 1024;

/// What we know about one origin's robots.txt.
pub(crate) struct RobotsEntry {
    /// `None` = everything allowed (missing, unreachable or unparseable file).
    pub robot: Option<Arc<Robot>>,
    /// When to fetch again.
    pub expires: Instant,
}

impl RobotsEntry {
    pub fn allow_all(ttl: Duration) -> Self {
        RobotsEntry {
            robot: None,
            expires: Instant::now() + ttl,
        }
    }

    pub fn crawl_delay(&self) -> Option<Duration> {
        let secs = self.robot.as_ref()?.delay?;
        (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f32(secs.min(86_400.0)))
    }
}

pub(crate) type EntryCell = Arc<tokio::sync::Mutex<Option<RobotsEntry>>>;

#[derive(Default)]
pub(crate) struct RobotsCache {
    entries: Mutex<HashMap<String, EntryCell>>,
}

impl RobotsCache {
    /// The cell for an origin; lock it, and fetch if empty or expired.
    pub fn cell(&self, origin: &str) -> EntryCell {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(origin) {
            return Arc::clone(c);
        }
        if map.len() >= PRUNE_ABOVE {
            let now = Instant::now();
            map.retain(|_, c| {
                Arc::strong_count(c) > 1
                    || c.try_lock()
                        .map(|e| e.as_ref().is_some_and(|e| e.expires > now))
                        .unwrap_or(true)
            });
        }
        let cell: EntryCell = Arc::new(tokio::sync::Mutex::new(None));
        map.insert(origin.to_string(), Arc::clone(&cell));
        cell
    }
}

/// The robots.txt product token for a user agent: the part before the first
/// `/` or space, e.g. `mediawatch` for `mediawatch/0.1 (+https://...)`.
pub(crate) fn product_token(user_agent: &str) -> String {
    let token: String = user_agent
        .split(|c: char| c == '/' || c.is_whitespace())
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if token.is_empty() {
        "*".to_string()
    } else {
        token
    }
}

/// Parse robots.txt for our agent; `None` (allow all) if it does not parse.
pub(crate) fn parse(agent: &str, body: &[u8]) -> Option<Arc<Robot>> {
    Robot::new(agent, body).ok().map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_user_agent() {
        assert_eq!(
            product_token("mediawatch/0.1 (+https://example.invalid/mediawatch)"),
            "mediawatch"
        );
        assert_eq!(product_token("Bot Name"), "Bot");
        assert_eq!(product_token(""), "*");
    }

    #[test]
    fn rules_and_delay() {
        let txt = b"User-agent: mediawatch\nDisallow: /private\nCrawl-delay: 2.5\n\nUser-agent: *\nDisallow: /\n";
        let robot = parse("mediawatch", txt).unwrap();
        assert!(robot.allowed("https://example.org/news/1"));
        assert!(!robot.allowed("https://example.org/private/x"));
        let e = RobotsEntry {
            robot: Some(robot),
            expires: Instant::now(),
        };
        assert_eq!(e.crawl_delay(), Some(Duration::from_millis(2500)));
        let other = parse("otherbot", txt).unwrap();
        assert!(!other.allowed("https://example.org/news/1"));
    }
}
