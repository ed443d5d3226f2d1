//! The one error type of this crate.
//!
//! Every variant names the URL it concerns (for a redirect chain: the hop that
//! failed) and the precise cause, because these messages end up in operator
//! logs of a crawler that runs unattended for months.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Which part of an exchange ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutPhase {
    /// Opening the TCP (and TLS) connection took longer than `connect_timeout`.
    Connect,
    /// The server accepted the request but sent no complete response head in time.
    Response,
    /// The body stalled: no bytes arrived for `read_timeout`.
    Read,
    /// The whole exchange (all redirect hops, headers and body) exceeded `total_timeout`.
    Total,
}

impl TimeoutPhase {
    /// Short stable name, e.g. for log fields.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Response => "response",
            TimeoutPhase::Read => "read",
            TimeoutPhase::Total => "total",
        }
    }
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "while connecting (connect_timeout)",
            TimeoutPhase::Response => "waiting for the response head (read_timeout)",
            TimeoutPhase::Read => "while reading the body, no data arrived (read_timeout)",
            TimeoutPhase::Total => "for the whole exchange (total_timeout)",
        })
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse, has no host, or uses a scheme other than http/https.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given (or the redirect target as resolved).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The SSRF guard refused the URL because its host is, or resolves to, an
    /// address that must not be fetched (loopback, private, link-local, metadata, ...).
    #[error(
        "refused to fetch {url}: host resolves to {addr}, a {reason} address \
         (set allow_private_addresses or list the address in allow_addresses to permit it)"
    )]
    Blocked {
        /// The URL (or redirect target) that was refused.
        url: String,
        /// The offending address.
        addr: IpAddr,
        /// Which blocked range the address is in (e.g. "loopback").
        reason: &'static str,
    },
    /// Name resolution failed (unknown host, resolver failure, no addresses).
    #[error("DNS lookup of {host:?} failed for {url}: {reason}")]
    Dns {
        /// The URL being fetched.
        url: String,
        /// The host name that did not resolve.
        host: String,
        /// The resolver's reason.
        reason: String,
    },
    /// The connection could not be established, or broke during the exchange
    /// (refused, reset, TLS failure, connection closed mid-response).
    #[error("connection to {url} failed: {reason}")]
    Connect {
        /// The URL being fetched.
        url: String,
        /// The underlying cause chain.
        reason: String,
    },
    /// A time limit was exceeded.
    #[error("{url} timed out {phase} after {after:?}")]
    Timeout {
        /// The URL being fetched.
        url: String,
        /// Which limit was hit.
        phase: TimeoutPhase,
        /// The configured limit that was exceeded.
        after: Duration,
    },
    /// The server answered with a status that is neither success (2xx) nor
    /// 304 Not Modified (a 3xx without a usable Location also lands here).
    #[error("{url} answered HTTP {status}{}", retry_after_text(*retry_after))]
    Http {
        /// The URL that answered.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The server's Retry-After, when it sent one (429/503 usually).
        retry_after: Option<Duration>,
    },
    /// The redirect chain is longer than `max_redirects`.
    #[error("{url}: gave up after {max} redirects (next target was {next})")]
    TooManyRedirects {
        /// The URL originally requested.
        url: String,
        /// The configured cap.
        max: usize,
        /// The redirect target that would have exceeded the cap.
        next: String,
    },
    /// A redirect pointed back to a URL already visited in this chain.
    #[error("{url}: redirect loop, {target} was already visited (chain: {chain})")]
    RedirectLoop {
        /// The URL originally requested.
        url: String,
        /// The target that closes the loop.
        target: String,
        /// The visited URLs, joined with " -> ".
        chain: String,
    },
    /// The body (counted after decompression) is larger than `max_body_bytes`.
    /// Reading stops at the cap; nothing beyond it is buffered.
    #[error(
        "{url}: response body exceeds the limit of {limit} bytes (counted after decompression)"
    )]
    BodyTooLarge {
        /// The URL being fetched.
        url: String,
        /// The configured cap in bytes.
        limit: usize,
    },
    /// The body could not be decoded (truncated or corrupt gzip/brotli stream,
    /// or a body cut short by the server).
    #[error("{url}: could not decode the response body: {reason}")]
    Decode {
        /// The URL being fetched.
        url: String,
        /// The decoder's reason.
        reason: String,
    },
    /// robots.txt of the host disallows this URL for our user agent.
    #[error("{url} is disallowed by robots.txt for user agent {agent:?}")]
    RobotsDisallowed {
        /// The URL that was not fetched.
        url: String,
        /// The robots.txt product token we matched as.
        agent: String,
    },
    /// Anything else (client construction, unexpected internal failures).
    #[error("{url}: {reason}")]
    Other {
        /// The URL being fetched, or a short description of the context.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (Retry-After: {}s)", d.as_secs()),
        None => String::new(),
    }
}

impl FetchError {
    /// Whether to retry within this fetch (after a backoff): a retryable
    /// failure, except a timeout of the whole exchange. A server that
    /// drips its answer until the total timeout would do the same again,
    /// and retrying it here held a whole ingest pass for the timeout times
    /// the retries; the source is tried again at its next due time.
    pub fn retry_now(&self) -> bool {
        self.is_retryable()
            && !matches!(
                self,
                FetchError::Timeout {
                    phase: TimeoutPhase::Total,
                    ..
                }
            )
    }

    /// Whether trying again later may succeed: network errors (DNS, connect,
    /// connection broken), timeouts, and HTTP 408, 429 and 5xx. Other 4xx,
    /// guard refusals, robots refusals, size limits, redirect problems and
    /// decode errors are permanent for this URL and are not retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Dns { .. } | FetchError::Connect { .. } | FetchError::Timeout { .. } => {
                true
            }
            FetchError::Http { status, .. } => {
                *status == 408 || *status == 429 || (500..=599).contains(status)
            }
            FetchError::InvalidUrl { .. }
            | FetchError::Blocked { .. }
            | FetchError::TooManyRedirects { .. }
            | FetchError::RedirectLoop { .. }
            | FetchError::BodyTooLarge { .. }
            | FetchError::Decode { .. }
            | FetchError::RobotsDisallowed { .. }
            | FetchError::Other { .. } => false,
        }
    }

    /// The server's Retry-After, if it sent one with an error status. A
    /// scheduler should not poll this source again before it elapses.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Short stable code for counters and metrics labels, e.g. `"timeout"`,
    /// `"http_503"`, `"blocked"`. Uncommon HTTP statuses collapse to their
    /// class (`"http_4xx"`, `"http_5xx"`) so that label cardinality stays bounded.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. } => "invalid_url",
            FetchError::Blocked { .. } => "blocked",
            FetchError::Dns { .. } => "dns",
            FetchError::Connect { .. } => "connect",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Http { status, .. } => http_kind(*status),
            FetchError::TooManyRedirects { .. } => "too_many_redirects",
            FetchError::RedirectLoop { .. } => "redirect_loop",
            FetchError::BodyTooLarge { .. } => "body_too_large",
            FetchError::Decode { .. } => "decode",
            FetchError::RobotsDisallowed { .. } => "robots_disallowed",
            FetchError::Other { .. } => "other",
        }
    }

    /// The URL this error is about.
    pub fn url(&self) -> &str {
        match self {
            FetchError::InvalidUrl { url, .. }
            | FetchError::Blocked { url, .. }
            | FetchError::Dns { url, .. }
            | FetchError::Connect { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::Http { url, .. }
            | FetchError::TooManyRedirects { url, .. }
            | FetchError::RedirectLoop { url, .. }
            | FetchError::BodyTooLarge { url, .. }
            | FetchError::Decode { url, .. }
            | FetchError::RobotsDisallowed { url, .. }
            | FetchError::Other { url, .. } => url,
        }
    }
}

/// Statuses common enough to get their own metric code.
const KNOWN_STATUS_KINDS: &[(u16, &str)] = &[
    (400, "http_400"),
    (401, "http_401"),
    (402, "http_402"),
    (403, "http_403"),
    (404, "http_404"),
    (405, "http_405"),
    (406, "http_406"),
    (407, "http_407"),
    (408, "http_408"),
    (409, "http_409"),
    (410, "http_410"),
    (411, "http_411"),
    (412, "http_412"),
    (413, "http_413"),
    (414, "http_414"),
    (415, "http_415"),
    (416, "http_416"),
    (418, "http_418"),
    (421, "http_421"),
    (422, "http_422"),
    (425, "http_425"),
    (426, "http_426"),
    (428, "http_428"),
    (429, "http_429"),
    (431, "http_431"),
    (451, "http_451"),
    (500, "http_500"),
    (501, "http_501"),
    (502, "http_502"),
    (503, "http_503"),
    (504, "http_504"),
    (505, "http_505"),
    (506, "http_506"),
    (507, "http_507"),
    (508, "http_508"),
    (510, "http_510"),
    (511, "http_511"),
];

/// Stable metric codes for HTTP statuses (static strings, no allocation);
/// uncommon codes collapse to their class.
fn http_kind(status: u16) -> &'static str {
    if let Some((_, kind)) = KNOWN_STATUS_KINDS.iter().find(|(s, _)| *s == status) {
        return kind;
    }
    match status / 100 {
        1 => "http_1xx",
        2 => "http_2xx",
        3 => "http_3xx",
        4 => "http_4xx",
        5 => "http_5xx",
        _ => "http_other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> FetchError {
        FetchError::Http {
            url: "https://example.org/feed".into(),
            status,
            retry_after: None,
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(http(s).is_retryable(), "{s} should be retryable");
        }
        for s in [400, 401, 403, 404, 410, 451] {
            assert!(!http(s).is_retryable(), "{s} should not be retryable");
        }
    }

    #[test]
    fn kinds_are_stable() {
        assert_eq!(http(503).kind(), "http_503");
        assert_eq!(http(404).kind(), "http_404");
        assert_eq!(http(599).kind(), "http_5xx");
        assert_eq!(http(499).kind(), "http_4xx");
        let t = FetchError::Timeout {
            url: "u".into(),
            phase: TimeoutPhase::Read,
            after: Duration::from_secs(1),
        };
        assert_eq!(t.kind(), "timeout");
        assert!(t.is_retryable());
        assert!(t.retry_now(), "a stalled read is retried at once");
        let total = FetchError::Timeout {
            url: "u".into(),
            phase: TimeoutPhase::Total,
            after: Duration::from_secs(60),
        };
        assert!(total.is_retryable(), "worth trying at the next due time");
        assert!(!total.retry_now(), "not again within the same fetch");
    }

    #[test]
    fn messages_name_url_and_cause() {
        let e = FetchError::Http {
            url: "https://example.org/feed".into(),
            status: 429,
            retry_after: Some(Duration::from_secs(120)),
        };
        let msg = e.to_string();
        assert!(msg.contains("https://example.org/feed"), "{msg}");
        assert!(msg.contains("429"), "{msg}");
        assert!(msg.contains("Retry-After: 120s"), "{msg}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
        let b = FetchError::Blocked {
            url: "http://169.254.169.254/latest".into(),
            addr: "169.254.169.254".parse().unwrap(),
            reason: "cloud metadata",
        };
        assert!(b.to_string().contains("169.254.169.254"));
        assert!(b.to_string().contains("cloud metadata"));
    }
}
