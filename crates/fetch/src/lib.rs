//! Polite, robust, bounded HTTP fetching for mediawatch sources.
//!
//! A civil-society deployment leaves the crawler running for months against
//! hundreds of outlets, many of them small sites on fragile hosting. This
//! crate is the one place that talks HTTP, so that every stage gets the same
//! guarantees:
//!
//! * **Polite**: per-host concurrency and minimum interval (governor limiter +
//!   semaphore per host), a global concurrency bound, robots.txt honoured and
//!   cached per origin (Crawl-delay raises the host's interval), a clear user
//!   agent, conditional GET (ETag / Last-Modified) so unchanged feeds cost a
//!   304 and no parsing.
//! * **Robust**: only retryable failures are retried (network, timeouts, 408,
//!   429, 5xx), with exponential backoff and jitter, honouring Retry-After up
//!   to a cap; beyond it the error carries `retry_after` for the scheduler.
//! * **Bounded**: connect / read / total timeouts, a body cap enforced while
//!   streaming and counted after decompression (gzip bombs stop at the cap),
//!   a redirect cap with loop detection, and an SSRF guard that refuses
//!   private, loopback, link-local and metadata addresses on every hop.
//!
//! Text decoding ([`decode_body`]) follows a documented charset rule suited to
//! the region's legacy encodings; see the [`charset`] module.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mediawatch_fetch::FetchError> {
//! use mediawatch_fetch::{FetchOptions, FetchRequest, Fetcher};
//! let fetcher = Fetcher::new(FetchOptions::default())?;
//! let resp = fetcher
//!     .fetch(&FetchRequest { url: "https://example.org/feed.xml".into(), ..Default::default() })
//!     .await?;
//! if !resp.not_modified {
//!     let text = resp.text();
//!     println!("{} chars in {}", text.text.len(), text.encoding);
//! }
//! # Ok(()) }
//! ```

pub mod charset;
mod error;
mod fetcher;
mod guard;
mod hints;
mod hosts;
mod robots;

use std::net::IpAddr;
use std::time::Duration;

pub use charset::{decode_body, CharsetSource, DecodedText};
pub use error::{FetchError, TimeoutPhase};
pub use fetcher::Fetcher;
pub use guard::{blocked_reason, is_blocked_ip};

/// Default user agent: names the project and where to read about it, so site
/// operators can tell what we are and contact us.
pub const DEFAULT_USER_AGENT: &str = "mediawatch/0.1 (+https://example.invalid/mediawatch)";

/// Accept header sent when a request does not set one: pages and feeds.
pub const DEFAULT_ACCEPT: &str = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.8";

/// How the fetcher behaves. `Default` gives values suited to polling news
/// sites: gentle (2 connections and 1 request/second per host), patient
/// (60 s total) and bounded (10 MiB bodies, 10 redirects).
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// User-Agent header; its product token (text before the first `/`) is
    /// the name matched against robots.txt groups.
    pub user_agent: String,
    /// Limit for establishing a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Limit for waiting on the response head and on each body read: a
    /// stalled server fails after this long without data.
    pub read_timeout: Duration,
    /// Limit for one attempt (all redirect hops, head and body), counted from
    /// when the first hop gets its politeness slot. A server that drips bytes
    /// just fast enough to beat `read_timeout` is stopped by this.
    pub total_timeout: Duration,
    /// Body cap in bytes, counted after decompression while streaming.
    pub max_body_bytes: usize,
    /// Maximum number of redirects followed.
    pub max_redirects: usize,
    /// Permit loopback/private/link-local/metadata addresses (tests, intranets).
    pub allow_private_addresses: bool,
    /// Individual addresses exempt from the SSRF guard even when
    /// `allow_private_addresses` is false (e.g. a local mirror).
    pub allow_addresses: Vec<IpAddr>,
    /// Concurrent requests per host.
    pub per_host_concurrency: usize,
    /// Minimum interval between request starts to one host (zero = none).
    /// robots.txt Crawl-delay can raise it, up to `max_crawl_delay`.
    pub per_host_min_interval: Duration,
    /// Concurrent requests overall.
    pub global_concurrency: usize,
    /// Fetch and honour robots.txt.
    pub respect_robots: bool,
    /// Retries after the first attempt for retryable failures.
    pub max_retries: u32,
    /// First backoff delay; doubles per retry, with jitter.
    pub retry_base_delay: Duration,
    /// Cap on one backoff delay.
    pub retry_max_delay: Duration,
    /// Longest Retry-After we sleep for; a longer one is returned as the
    /// error's `retry_after` without retrying, so the scheduler defers the source.
    pub max_retry_after: Duration,
    /// How long a fetched robots.txt (or a 4xx for it) is trusted.
    pub robots_ttl: Duration,
    /// How long "allow all" is assumed after robots.txt failed with 5xx,
    /// 429 or a network error, before trying again.
    pub robots_error_ttl: Duration,
    /// Upper bound on a Crawl-delay we honour (a site asking for hours would
    /// otherwise stall its source entirely).
    pub max_crawl_delay: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(60),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 10,
            allow_private_addresses: false,
            allow_addresses: Vec::new(),
            per_host_concurrency: 2,
            per_host_min_interval: Duration::from_secs(1),
            global_concurrency: 32,
            respect_robots: true,
            max_retries: 2,
            retry_base_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            robots_ttl: Duration::from_secs(24 * 3600),
            robots_error_ttl: Duration::from_secs(15 * 60),
            max_crawl_delay: Duration::from_secs(60),
        }
    }
}

/// One thing to fetch, with the validators from the previous fetch.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest {
    /// Absolute http(s) URL.
    pub url: String,
    /// ETag from the previous response; sent as If-None-Match.
    pub etag: Option<String>,
    /// Last-Modified from the previous response; sent as If-Modified-Since.
    pub last_modified: Option<String>,
    /// Accept header; [`DEFAULT_ACCEPT`] when `None`.
    pub accept: Option<String>,
    /// Extra headers, e.g. `Authorization` for a platform API with a token
    /// from the environment. Sent only to the request URL's own origin
    /// (scheme, host, port): a redirect elsewhere drops them, so a token
    /// never leaks.
    pub headers: Vec<(String, String)>,
}

/// A successful fetch (2xx, or 304 Not Modified).
#[derive(Debug, Clone)]
pub struct FetchResponse {
    /// Final URL, after redirects.
    pub url: url::Url,
    /// HTTP status of the final response.
    pub status: u16,
    /// True for 304: `body` is empty and the previous content is still current.
    pub not_modified: bool,
    /// ETag to send next time (for a 304 without one: the request's, carried over).
    pub etag: Option<String>,
    /// Last-Modified to send next time (for a 304 without one: the request's).
    pub last_modified: Option<String>,
    /// Content-Type header as sent.
    pub content_type: Option<String>,
    /// Body after content decoding (gzip/brotli), at most `max_body_bytes`.
    pub body: bytes::Bytes,
    /// Freshness from Cache-Control max-age or Expires: a polling hint.
    pub max_age: Option<Duration>,
    /// Wall time of the whole `fetch` call, including politeness waits and retries.
    pub elapsed: Duration,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    /// Redirects followed to reach `url`.
    pub redirects: usize,
}

impl FetchResponse {
    /// The body as text, decoded by [`decode_body`] with the URL's host as
    /// the detection hint.
    pub fn text(&self) -> DecodedText {
        decode_body(
            &self.body,
            self.content_type.as_deref(),
            self.url.host_str(),
        )
    }
}
