//! The fetcher: retries around an exchange that follows redirects hop by hop.
//!
//! Redirects are followed here rather than inside reqwest (the client's
//! policy is `none`), so that every hop is treated like a fresh request: the
//! SSRF guard checks its host, robots.txt of its origin is consulted, and it
//! waits for its host's politeness slot. Loops and over-long chains produce
//! their own errors naming the chain.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED, LOCATION,
};
use reqwest::StatusCode;
use tokio::sync::Semaphore;
use url::Url;

use crate::error::{FetchError, TimeoutPhase};
use crate::guard::{AddressPolicy, BlockedAddress, DnsFailure, GuardedResolver};
use crate::hosts::HostTable;
use crate::robots::{self, RobotsCache, RobotsEntry, ROBOTS_MAX_BYTES};
use crate::{hints, FetchOptions, FetchRequest, FetchResponse, DEFAULT_ACCEPT};

/// Fetches URLs politely. Cheap to clone; clones share limits and caches.
#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    opts: FetchOptions,
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    hosts: HostTable,
    robots: RobotsCache,
    global: Arc<Semaphore>,
    /// robots.txt product token derived from the user agent.
    agent: String,
}

/// What one exchange asks for; the main fetch and robots.txt differ.
struct Exchange<'a> {
    accept: &'a str,
    etag: Option<&'a str>,
    last_modified: Option<&'a str>,
    max_body: usize,
    check_robots: bool,
    headers: &'a [(String, String)],
    /// Scheme, host and port the extra headers may be sent to.
    origin: Option<url::Origin>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("opts", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

fn setup_error(reason: String) -> FetchError {
    FetchError::Other {
        url: "(fetcher setup)".to_string(),
        reason,
    }
}

impl Fetcher {
    /// Build a fetcher. Fails if the options are unusable (zero concurrency,
    /// a user agent that is not a valid header value) or the TLS client
    /// cannot be initialised.
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        if opts.global_concurrency == 0 || opts.per_host_concurrency == 0 {
            return Err(setup_error(
                "invalid fetch options: global_concurrency and per_host_concurrency must be at least 1"
                    .to_string(),
            ));
        }
        if HeaderValue::from_str(&opts.user_agent).is_err() {
            return Err(setup_error(format!(
                "invalid fetch options: user_agent {:?} is not a valid header value",
                opts.user_agent
            )));
        }
        let policy = Arc::new(AddressPolicy {
            allow_private: opts.allow_private_addresses,
            allow: opts.allow_addresses.clone(),
        });
        let client = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, bypassing the SSRF guard.
            .no_proxy()
            .dns_resolver(GuardedResolver {
                policy: Arc::clone(&policy),
            })
            .gzip(true)
            .brotli(true)
            .referer(false)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(opts.per_host_concurrency)
            .tcp_keepalive(Duration::from_secs(60))
            .build()
            .map_err(|e| setup_error(format!("cannot build the HTTP client: {}", chain(&e))))?;
        Ok(Fetcher {
            inner: Arc::new(Inner {
                hosts: HostTable::new(opts.per_host_concurrency, opts.per_host_min_interval),
                robots: RobotsCache::default(),
                global: Arc::new(Semaphore::new(opts.global_concurrency)),
                agent: robots::product_token(&opts.user_agent),
                client,
                policy,
                opts,
            }),
        })
    }

    /// The options this fetcher was built with.
    pub fn options(&self) -> &FetchOptions {
        &self.inner.opts
    }

    /// Fetch a URL: conditional GET with the request's validators, redirects
    /// followed, retryable failures retried with backoff. Success is a 2xx
    /// (body read, at most `max_body_bytes`) or a 304 (`not_modified`, empty
    /// body); every other outcome is a [`FetchError`].
    pub async fn fetch(&self, req: &FetchRequest) -> Result<FetchResponse, FetchError> {
        let started = Instant::now();
        let url = parse_url(&req.url)?;
        let opts = &self.inner.opts;
        let x = Exchange {
            accept: req.accept.as_deref().unwrap_or(DEFAULT_ACCEPT),
            etag: req.etag.as_deref(),
            last_modified: req.last_modified.as_deref(),
            max_body: opts.max_body_bytes,
            check_robots: opts.respect_robots,
            headers: &req.headers,
            origin: Some(url.origin()),
        };
        let mut attempt: u32 = 0;
        loop {
            match self.exchange(&url, &x).await {
                Ok(mut resp) => {
                    if resp.not_modified {
                        resp.etag = resp.etag.or_else(|| req.etag.clone());
                        resp.last_modified =
                            resp.last_modified.or_else(|| req.last_modified.clone());
                    }
                    resp.elapsed = started.elapsed();
                    resp.attempts = attempt + 1;
                    return Ok(resp);
                }
                Err(e) => {
                    if !e.retry_now() || attempt >= opts.max_retries {
                        return Err(e);
                    }
                    let backoff = backoff_delay(opts, attempt);
                    let delay = match e.retry_after() {
                        // Too long to wait here: hand it to the scheduler.
                        Some(ra) if ra > opts.max_retry_after => return Err(e),
                        Some(ra) => ra.max(backoff),
                        None => backoff,
                    };
                    tracing::debug!(
                        url = %req.url,
                        error = %e,
                        attempt = attempt + 1,
                        delay_ms = delay.as_millis() as u64,
                        "retrying fetch"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One attempt: follow redirects hop by hop under one total deadline.
    async fn exchange(&self, start: &Url, x: &Exchange<'_>) -> Result<FetchResponse, FetchError> {
        let opts = &self.inner.opts;
        let mut current = start.clone();
        let mut visited: Vec<Url> = vec![start.clone()];
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            self.check_target(&current)?;
            if x.check_robots {
                self.check_robots(&current).await?;
            }
            let host = current.host_str().unwrap_or_default().to_string();
            let slot = self.inner.hosts.slot(&host);
            let _host_permit = slot.acquire().await.ok_or_else(|| FetchError::Other {
                url: current.to_string(),
                reason: "per-host semaphore closed".to_string(),
            })?;
            let _global_permit = Arc::clone(&self.inner.global)
                .acquire_owned()
                .await
                .map_err(|_| FetchError::Other {
                    url: current.to_string(),
                    reason: "global semaphore closed".to_string(),
                })?;
            let deadline =
                *deadline.get_or_insert_with(|| tokio::time::Instant::now() + opts.total_timeout);

            let mut rb = self.inner.client.get(current.clone());
            rb = rb.header(
                ACCEPT,
                header_value(x.accept).unwrap_or(HeaderValue::from_static("*/*")),
            );
            if let Some(v) = x.etag.and_then(header_value) {
                rb = rb.header(IF_NONE_MATCH, v);
            }
            if let Some(v) = x.last_modified.and_then(header_value) {
                rb = rb.header(IF_MODIFIED_SINCE, v);
            }
            if x.origin.as_ref() == Some(&current.origin()) {
                for (name, value) in x.headers {
                    let (Ok(n), Some(v)) = (
                        reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                        header_value(value),
                    ) else {
                        return Err(FetchError::InvalidUrl {
                            url: current.to_string(),
                            reason: format!("invalid request header {name:?}"),
                        });
                    };
                    rb = rb.header(n, v);
                }
            }
            let resp = match tokio::time::timeout_at(deadline, rb.send()).await {
                Err(_) => return Err(total_timeout(&current, opts)),
                Ok(Err(e)) => return Err(map_send_error(&current, &e, opts)),
                Ok(Ok(r)) => r,
            };
            let status = resp.status();

            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if let Some(location) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
                    let next =
                        current
                            .join(location.trim())
                            .map_err(|e| FetchError::InvalidUrl {
                                url: location.to_string(),
                                reason: format!("bad redirect Location from {current}: {e}"),
                            })?;
                    let mut next = next;
                    // Fragments are never sent; /a#x and /a are the same request.
                    next.set_fragment(None);
                    drop(resp);
                    if visited.contains(&next) {
                        let mut chain: Vec<String> = visited.iter().map(Url::to_string).collect();
                        chain.push(next.to_string());
                        return Err(FetchError::RedirectLoop {
                            url: start.to_string(),
                            target: next.to_string(),
                            chain: chain.join(" -> "),
                        });
                    }
                    if visited.len() > opts.max_redirects {
                        return Err(FetchError::TooManyRedirects {
                            url: start.to_string(),
                            max: opts.max_redirects,
                            next: next.to_string(),
                        });
                    }
                    tracing::trace!(from = %current, to = %next, status = status.as_u16(), "redirect");
                    visited.push(next.clone());
                    current = next;
                    continue;
                }
            }

            let headers = resp.headers();
            let etag = header_string(headers, &ETAG);
            let last_modified = header_string(headers, &LAST_MODIFIED);
            let content_type = header_string(headers, &CONTENT_TYPE);
            let max_age = hints::max_age(headers, SystemTime::now());
            let redirects = visited.len() - 1;

            if status == StatusCode::NOT_MODIFIED {
                return Ok(FetchResponse {
                    url: current,
                    status: status.as_u16(),
                    not_modified: true,
                    etag,
                    last_modified,
                    content_type,
                    body: Bytes::new(),
                    max_age,
                    elapsed: Duration::ZERO,
                    attempts: 1,
                    redirects,
                });
            }
            if !status.is_success() {
                return Err(FetchError::Http {
                    url: current.to_string(),
                    status: status.as_u16(),
                    retry_after: hints::retry_after(headers, SystemTime::now()),
                });
            }
            let body = read_body(resp, &current, deadline, x.max_body, opts).await?;
            return Ok(FetchResponse {
                url: current,
                status: status.as_u16(),
                not_modified: false,
                etag,
                last_modified,
                content_type,
                body,
                max_age,
                elapsed: Duration::ZERO,
                attempts: 1,
                redirects,
            });
        }
    }

    /// Scheme, host presence, and the SSRF guard for IP-literal hosts (names
    /// are checked by the resolver at connect time).
    fn check_target(&self, url: &Url) -> Result<(), FetchError> {
        check_scheme_and_host(url)?;
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => std::net::IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => std::net::IpAddr::V6(v6),
            _ => return Ok(()),
        };
        match self.inner.policy.refuses(ip) {
            Some(reason) => Err(FetchError::Blocked {
                url: url.to_string(),
                addr: ip,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Consult (and if needed fetch) robots.txt for the URL's origin.
    async fn check_robots(&self, url: &Url) -> Result<(), FetchError> {
        let origin = url.origin().ascii_serialization();
        let cell = self.inner.robots.cell(&origin);
        let mut entry = cell.lock().await;
        let fresh = entry.as_ref().is_some_and(|e| e.expires > Instant::now());
        if !fresh {
            *entry = Some(self.load_robots(url).await?);
        }
        let Some(e) = entry.as_ref() else {
            return Ok(());
        };
        if let Some(delay) = e.crawl_delay() {
            let delay = delay.min(self.inner.opts.max_crawl_delay);
            self.inner
                .hosts
                .slot(url.host_str().unwrap_or_default())
                .raise_interval(delay);
        }
        let allowed = e.robot.as_ref().is_none_or(|r| r.allowed(url.as_str()));
        drop(entry);
        if allowed {
            Ok(())
        } else {
            Err(FetchError::RobotsDisallowed {
                url: url.to_string(),
                agent: self.inner.agent.clone(),
            })
        }
    }

    /// Fetch robots.txt and turn the outcome into a cache entry: 2xx = rules;
    /// 4xx (except 429) = allow all for `robots_ttl`; 5xx, 429 and network
    /// failures = allow all for `robots_error_ttl`, then try again. A refusal
    /// of the origin itself by the SSRF guard is returned as the error.
    async fn load_robots(&self, url: &Url) -> Result<RobotsEntry, FetchError> {
        let opts = &self.inner.opts;
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let x = Exchange {
            accept: "text/plain,*/*;q=0.5",
            etag: None,
            last_modified: None,
            max_body: ROBOTS_MAX_BYTES,
            check_robots: false,
            // Credentials are for the API request, never for robots.txt.
            headers: &[],
            origin: None,
        };
        // Boxed: exchange -> check_robots -> load_robots -> exchange recurses
        // (the inner call never consults robots, so it is one level deep).
        let result = Box::pin(self.exchange(&robots_url, &x)).await;
        match result {
            Ok(resp) => {
                let agent = self.inner.agent.clone();
                let body = resp.body;
                // Rule compilation is CPU work (regexes); keep it off the async threads.
                let robot = tokio::task::spawn_blocking(move || robots::parse(&agent, &body))
                    .await
                    .ok()
                    .flatten();
                tracing::debug!(url = %robots_url, rules = robot.is_some(), "robots.txt loaded");
                Ok(RobotsEntry {
                    robot,
                    expires: Instant::now() + opts.robots_ttl,
                })
            }
            Err(e @ (FetchError::Blocked { .. } | FetchError::InvalidUrl { .. }))
                if e.url() == robots_url.as_str() =>
            {
                Err(e)
            }
            Err(FetchError::Http { status, .. })
                if (400..500).contains(&status) && status != 429 =>
            {
                Ok(RobotsEntry::allow_all(opts.robots_ttl))
            }
            Err(e) => {
                tracing::debug!(url = %robots_url, error = %e, "robots.txt unavailable; allowing for now");
                Ok(RobotsEntry::allow_all(opts.robots_error_ttl))
            }
        }
    }
}

fn parse_url(input: &str) -> Result<Url, FetchError> {
    let url = Url::parse(input.trim()).map_err(|e| FetchError::InvalidUrl {
        url: input.to_string(),
        reason: e.to_string(),
    })?;
    check_scheme_and_host(&url)?;
    Ok(url)
}

fn check_scheme_and_host(url: &Url) -> Result<(), FetchError> {
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: format!(
                "scheme {:?} is not fetched (only http and https)",
                url.scheme()
            ),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: "no host".to_string(),
        });
    }
    Ok(())
}

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s.trim()).ok()
}

fn header_string(headers: &HeaderMap, name: &reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Read the body chunk by chunk, never holding more than `cap` bytes. Chunks
/// arrive already decompressed, so the cap bounds decompressed size.
async fn read_body(
    resp: reqwest::Response,
    url: &Url,
    deadline: tokio::time::Instant,
    cap: usize,
    opts: &FetchOptions,
) -> Result<Bytes, FetchError> {
    let too_large = || FetchError::BodyTooLarge {
        url: url.to_string(),
        limit: cap,
    };
    let known = resp.content_length();
    if known.is_some_and(|len| len > cap as u64) {
        return Err(too_large());
    }
    let initial = known.map_or(16 * 1024, |len| len as usize).min(cap);
    let mut buf = BytesMut::with_capacity(initial);
    let mut stream = resp.bytes_stream();
    loop {
        let read_deadline = tokio::time::Instant::now() + opts.read_timeout;
        let (until, phase, limit) = if read_deadline < deadline {
            (read_deadline, TimeoutPhase::Read, opts.read_timeout)
        } else {
            (deadline, TimeoutPhase::Total, opts.total_timeout)
        };
        match tokio::time::timeout_at(until, stream.next()).await {
            Err(_) => {
                return Err(FetchError::Timeout {
                    url: url.to_string(),
                    phase,
                    after: limit,
                })
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(map_body_error(url, &e, opts)),
            Ok(Some(Ok(chunk))) => {
                if chunk.len() > cap - buf.len() {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
    Ok(buf.freeze())
}

fn total_timeout(url: &Url, opts: &FetchOptions) -> FetchError {
    FetchError::Timeout {
        url: url.to_string(),
        phase: TimeoutPhase::Total,
        after: opts.total_timeout,
    }
}

/// Our resolver's errors, recovered from reqwest's error chain.
fn guard_error(url: &Url, e: &(dyn StdError + 'static)) -> Option<FetchError> {
    let mut src: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(b) = s.downcast_ref::<BlockedAddress>() {
            return Some(FetchError::Blocked {
                url: url.to_string(),
                addr: b.addr,
                reason: b.reason,
            });
        }
        if let Some(d) = s.downcast_ref::<DnsFailure>() {
            return Some(FetchError::Dns {
                url: url.to_string(),
                host: d.host.clone(),
                reason: d.reason.clone(),
            });
        }
        src = s.source();
    }
    None
}

fn map_send_error(url: &Url, e: &reqwest::Error, opts: &FetchOptions) -> FetchError {
    if let Some(g) = guard_error(url, e) {
        return g;
    }
    if e.is_timeout() {
        let (phase, after) = if e.is_connect() {
            (TimeoutPhase::Connect, opts.connect_timeout)
        } else {
            (TimeoutPhase::Response, opts.read_timeout)
        };
        return FetchError::Timeout {
            url: url.to_string(),
            phase,
            after,
        };
    }
    if e.is_builder() {
        return FetchError::InvalidUrl {
            url: url.to_string(),
            reason: chain(e),
        };
    }
    // Connect failures and connections that broke before a response head.
    FetchError::Connect {
        url: url.to_string(),
        reason: chain(e),
    }
}

fn map_body_error(url: &Url, e: &reqwest::Error, opts: &FetchOptions) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout {
            url: url.to_string(),
            phase: TimeoutPhase::Read,
            after: opts.read_timeout,
        };
    }
    if is_decoder_failure(e) {
        return FetchError::Decode {
            url: url.to_string(),
            reason: chain(e),
        };
    }
    FetchError::Connect {
        url: url.to_string(),
        reason: format!("connection broke while reading the body: {}", chain(e)),
    }
}

/// A body error that comes from content decoding (gzip/brotli) rather than
/// from the connection. reqwest labels every body-stream error "decode", so
/// the cause chain decides: an error from hyper means the connection broke or
/// ended early (retryable); an I/O error of kind InvalidData / UnexpectedEof
/// without hyper in the chain comes from the decompressor (corrupt or
/// truncated gzip/brotli stream).
fn is_decoder_failure(e: &reqwest::Error) -> bool {
    let mut src: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = src {
        if s.downcast_ref::<hyper::Error>().is_some() {
            return false;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) {
                return true;
            }
        }
        src = s.source();
    }
    false
}

/// The error and its sources, joined with ": ", repeated messages dropped.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut src: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = src {
        let msg = s.to_string();
        if !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// Exponential backoff with "equal jitter": half the delay fixed, half
/// random, so retries of many sources failing together spread out.
fn backoff_delay(opts: &FetchOptions, attempt: u32) -> Duration {
    let exp = opts
        .retry_base_delay
        .saturating_mul(2u32.saturating_pow(attempt.min(20)))
        .min(opts.retry_max_delay);
    let half = exp / 2;
    half + half.mul_f64(random_unit())
}

/// A random number in [0, 1) from std's randomly keyed hasher; jitter needs
/// no cryptographic quality and this avoids a dependency.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let opts = FetchOptions {
            retry_base_delay: Duration::from_millis(100),
            retry_max_delay: Duration::from_millis(700),
            ..FetchOptions::default()
        };
        for _ in 0..50 {
            let d0 = backoff_delay(&opts, 0);
            assert!(
                d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100),
                "{d0:?}"
            );
            let d2 = backoff_delay(&opts, 2);
            assert!(
                d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400),
                "{d2:?}"
            );
            let d9 = backoff_delay(&opts, 9);
            assert!(
                d9 >= Duration::from_millis(350) && d9 <= Duration::from_millis(700),
                "{d9:?}"
            );
        }
        let u: Vec<f64> = (0..100).map(|_| random_unit()).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(u.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn urls_are_validated() {
        for bad in [
            "ftp://example.org/x",
            "file:///etc/passwd",
            "not a url",
            "http://",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid_url", "{bad}: {e}");
        }
        assert!(parse_url(" https://example.org/feed ").is_ok());
    }

    #[test]
    fn fetcher_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Fetcher>();
    }

    #[test]
    fn rejects_bad_options() {
        let e = Fetcher::new(FetchOptions {
            global_concurrency: 0,
            ..FetchOptions::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("global_concurrency"));
        let e = Fetcher::new(FetchOptions {
            user_agent: "bad\nagent".into(),
            ..FetchOptions::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("user_agent"));
    }

    #[tokio::test]
    async fn literal_private_address_is_refused_before_connecting() {
        let f = Fetcher::new(FetchOptions::default()).unwrap();
        let req = FetchRequest {
            url: "http://169.254.169.254/latest/meta-data/".into(),
            ..Default::default()
        };
        match f.fetch(&req).await {
            Err(FetchError::Blocked { addr, reason, .. }) => {
                assert_eq!(addr.to_string(), "169.254.169.254");
                assert_eq!(reason, "cloud metadata");
            }
            other => panic!("expected Blocked, got {other:?}"),
        }
        // Decimal and hex IPv4 spellings are normalised by the URL parser.
        for url in [
            "http://2130706433/",
            "http://0x7f.1/",
            "http://[::ffff:7f00:1]/",
        ] {
            let r = f
                .fetch(&FetchRequest {
                    url: url.into(),
                    ..Default::default()
                })
                .await;
            assert_eq!(r.unwrap_err().kind(), "blocked", "{url}");
        }
    }
}
