//! What protects the server: the API token for state-changing requests,
//! the per-client rate limit, the request body limit and the security
//! headers sent with every response.
//!
//! The token is compared in constant time over SHA-256 digests, so neither
//! the content nor the length of the configured token leaks through timing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Environment variable that holds the API token (overrides `[server] token`).
pub const TOKEN_ENV: &str = "MEDIAWATCH_TOKEN";

/// The Content-Security-Policy of every response: no inline script or
/// style, nothing from other origins, no framing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; object-src 'none'; frame-ancestors 'none'";

/// Security settings of the web server.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Token for POST/PUT/DELETE; `None` refuses them all.
    pub token: Option<String>,
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Sustained requests per minute per client IP.
    pub rate_limit_per_minute: u32,
    /// Burst above the sustained rate per client IP.
    pub rate_limit_burst: u32,
}

impl Default for WebOptions {
    fn default() -> Self {
        Self::from_config(&mediawatch_config::ServerConfig::default(), None)
    }
}

impl WebOptions {
    /// From the `[server]` section; `env_token` (the value of
    /// [`TOKEN_ENV`]) wins over the file's token. Empty tokens count as none.
    pub fn from_config(c: &mediawatch_config::ServerConfig, env_token: Option<String>) -> Self {
        let token = env_token
            .filter(|t| !t.trim().is_empty())
            .or_else(|| c.token.clone().filter(|t| !t.trim().is_empty()));
        Self {
            token,
            body_limit_bytes: c.body_limit_bytes.max(1024),
            rate_limit_per_minute: c.rate_limit_per_minute.max(1),
            rate_limit_burst: c.rate_limit_burst.max(1),
        }
    }
}

/// A warning when the server would be reachable from other machines, or
/// `None` when it binds to loopback only.
pub fn exposure_warning(addr: SocketAddr, opts: &WebOptions) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    Some(if opts.token.is_none() {
        format!(
            "WARNING: serving on {addr}, which is reachable from other machines, WITHOUT an API \
             token: anyone who can reach it can read everything indexed (state-changing requests \
             stay refused). Bind to 127.0.0.1, or set {TOKEN_ENV}, and put a TLS proxy in front."
        )
    } else {
        format!(
            "serving on {addr}, which is reachable from other machines; reads need no token. \
             Put a TLS proxy in front so the token does not travel in clear text."
        )
    })
}

/// Whether `presented` equals `expected`, in time independent of where they
/// differ and of their lengths.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The shared per-IP limiter.
pub type Limiter = Arc<DefaultKeyedRateLimiter<IpAddr>>;

/// A limiter for `opts`.
pub fn limiter(opts: &WebOptions) -> Limiter {
    let per_min = NonZeroU32::new(opts.rate_limit_per_minute).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(opts.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
    Arc::new(DefaultKeyedRateLimiter::keyed(
        Quota::per_minute(per_min).allow_burst(burst),
    ))
}

/// Most distinct client IPs remembered before old entries are dropped.
const MAX_TRACKED_CLIENTS: usize = 10_000;

fn client_ip<B>(req: &Request<B>) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        // In-process callers (tests with `oneshot`) share one bucket.
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Answers 429 with `Retry-After` when the client IP exceeded its quota.
pub async fn rate_limit(
    State(limiter): State<Limiter>,
    req: Request<Body>,
    next: Next,
) -> Response {
    let ip = client_ip(&req);
    if limiter.len() > MAX_TRACKED_CLIENTS {
        limiter.retain_recent();
    }
    match limiter.check_key(&ip) {
        Ok(()) => next.run(req).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "error": format!("too many requests from {ip}; retry in {secs} s")
                })),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}

/// What [`require_token`] needs.
#[derive(Clone)]
pub struct AuthState {
    /// The configured token, if any.
    pub token: Option<Arc<str>>,
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Lets reads through; state-changing requests need
/// `Authorization: Bearer <token>`. Without a configured token they are
/// refused (403) with a message saying how to configure one.
pub async fn require_token(
    State(auth): State<AuthState>,
    req: Request<Body>,
    next: Next,
) -> Response {
    if !changes_state(req.method()) {
        return next.run(req).await;
    }
    let Some(expected) = auth.token.as_deref() else {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "error": format!(
                    "{} {} changes state and is disabled because no API token is configured; \
                     set the {TOKEN_ENV} environment variable (or `token` in the [server] section \
                     of the config) and send it as `Authorization: Bearer <token>`",
                    req.method(),
                    req.uri().path()
                )
            })),
        )
            .into_response();
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match presented {
        Some(p) if token_matches(p, expected) => next.run(req).await,
        other => {
            let msg = if other.is_some() {
                "the API token is wrong"
            } else {
                "this request changes state and needs `Authorization: Bearer <token>`"
            };
            let mut resp =
                (StatusCode::UNAUTHORIZED, Json(json!({ "error": msg }))).into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mediawatch\""),
            );
            resp
        }
    }
}

/// Adds the security headers to every response. A handler that sets its
/// own (stricter or different) policy keeps it: the HTML report export
/// needs inline styles and has no script at all.
pub async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(token_matches("s3cret-token-123456", "s3cret-token-123456"));
        assert!(!token_matches("s3cret-token-123457", "s3cret-token-123456"));
        assert!(!token_matches("", "s3cret-token-123456"));
        assert!(!token_matches(
            "s3cret-token-1234567",
            "s3cret-token-123456"
        ));
    }

    #[test]
    fn env_token_wins_and_empty_is_none() {
        let c = mediawatch_config::ServerConfig {
            token: Some("from-the-config-file".into()),
            ..Default::default()
        };
        assert_eq!(
            WebOptions::from_config(&c, Some("from-env-variable-xx".into()))
                .token
                .as_deref(),
            Some("from-env-variable-xx")
        );
        assert_eq!(
            WebOptions::from_config(&c, Some("  ".into()))
                .token
                .as_deref(),
            Some("from-the-config-file")
        );
        assert_eq!(
            WebOptions::from_config(&Default::default(), None).token,
            None
        );
    }

    #[test]
    fn warns_only_off_loopback() {
        let o = WebOptions::default();
        assert!(exposure_warning("127.0.0.1:8080".parse().unwrap(), &o).is_none());
        assert!(exposure_warning("[::1]:8080".parse().unwrap(), &o).is_none());
        let w = exposure_warning("0.0.0.0:8080".parse().unwrap(), &o).unwrap();
        assert!(w.contains("WITHOUT an API token"), "{w}");
    }
}
