//! Notification channels: webhooks (JSON POST) and e-mail (SMTP).
//!
//! Every channel is tried independently: a failing one is retried when the
//! failure is transient, then recorded with its error, and never stops the
//! others or the alert loop.
//!
//! Webhook payload (`Content-Type: application/json`), version 1:
//!
//! ```json
//! {
//!   "type": "mediawatch.alert", "version": 1, "alert_id": 17,
//!   "search": {"id": "rs-collective", "name": "...", "query": "migranti",
//!              "country": "RS", "source": null, "lang": null},
//!   "rule": {"metric": "share:collective_labelling", "window": "1day", ...},
//!   "metric": "share:collective_labelling",
//!   "window": {"start": "2026-03-04T00:00:00Z", "end": "2026-03-05T00:00:00Z", "partial": true},
//!   "observed": 0.41, "baseline": 0.12, "statistic": 6.3, "p_value": 1.4e-10,
//!   "significance": 0.01, "test": "one-sided two-proportion z-test ...",
//!   "stats": {"kind": "share", ...}, "checks": [...],
//!   "link": "https://monitor.example.org/search?q=migranti&country=RS&from=...&to=...",
//!   "fired_at": "2026-03-04T17:15:00Z"
//! }
//! ```
//!
//! With `secret_env` set, `X-Mediawatch-Signature: sha256=<hex HMAC-SHA256
//! of the body>` lets the receiver check the sender.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mediawatch_config::{
    AlertsConfig, SavedSearchConfig, SmtpChannel, SmtpSecurity, WebhookChannel,
};
use mediawatch_state::{AlertRecord, Delivery};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::eval::Evaluation;

/// Longest wait honoured from a `Retry-After` header.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// What is sent for one alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertPayload {
    /// Always `mediawatch.alert`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Payload format version (1).
    pub version: u32,
    /// Row id in the alert history (0 in a test send).
    pub alert_id: i64,
    /// The saved search (without its rule).
    pub search: SearchRef,
    /// The rule as evaluated.
    pub rule: serde_json::Value,
    /// `volume` or `share:<label>`.
    pub metric: String,
    /// The window tested.
    pub window: WindowRef,
    /// Observed count or share.
    pub observed: f64,
    /// Baseline mean count or share.
    pub baseline: f64,
    /// Test statistic (z).
    pub statistic: f64,
    /// One-sided p-value.
    pub p_value: f64,
    /// Significance level of the rule.
    pub significance: f64,
    /// The test, in words.
    pub test: String,
    /// Full test figures.
    pub stats: serde_json::Value,
    /// Conditions checked.
    pub checks: serde_json::Value,
    /// Dashboard search for the window's documents.
    pub link: String,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
}

/// The saved search in a payload.
#[derive(Debug, Clone, Serialize)]
pub struct SearchRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Query.
    pub query: String,
    /// Country filter.
    pub country: Option<String>,
    /// Source filter.
    pub source: Option<String>,
    /// Language filter.
    pub lang: Option<String>,
}

impl SearchRef {
    fn of(s: &SavedSearchConfig) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            query: s.query.clone(),
            country: s.country.clone(),
            source: s.source.clone(),
            lang: s.lang.clone(),
        }
    }
}

/// The window in a payload.
#[derive(Debug, Clone, Serialize)]
pub struct WindowRef {
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
    /// Whether the window was still running when it fired.
    pub partial: bool,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `/search?...` for the search's documents in the window, absolute when a
/// public URL is configured.
pub fn search_link(
    public_url: Option<&str>,
    s: &SavedSearchConfig,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> String {
    let mut q = format!("/search?q={}", enc(&s.query));
    for (k, v) in [
        ("country", &s.country),
        ("source", &s.source),
        ("lang", &s.lang),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            q.push_str(&format!("&{k}={}", enc(v)));
        }
    }
    q.push_str(&format!(
        "&from={}&to={}&sort=date",
        enc(&from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        enc(&to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    ));
    match public_url {
        Some(base) => format!("{}{q}", base.trim_end_matches('/')),
        None => q,
    }
}

impl AlertPayload {
    /// Builds the payload of an evaluation that fired.
    pub fn new(
        alert_id: i64,
        search: &SavedSearchConfig,
        e: &Evaluation,
        public_url: Option<&str>,
        fired_at: DateTime<Utc>,
    ) -> Self {
        Self {
            kind: "mediawatch.alert",
            version: 1,
            alert_id,
            search: SearchRef::of(search),
            rule: serde_json::to_value(&search.alert).unwrap_or(serde_json::Value::Null),
            metric: e.metric.clone(),
            window: WindowRef {
                start: e.window_start,
                end: e.window_end,
                partial: e.partial,
            },
            observed: e.observed,
            baseline: e.baseline,
            statistic: e.statistic,
            p_value: e.p_value,
            significance: e.significance,
            test: e.test.to_string(),
            stats: serde_json::to_value(&e.stats).unwrap_or(serde_json::Value::Null),
            checks: serde_json::to_value(&e.checks).unwrap_or(serde_json::Value::Null),
            link: search_link(public_url, search, e.window_start, e.window_end),
            fired_at,
        }
    }

    /// Rebuilds the payload of a recorded alert (for sending it again):
    /// the figures come from the record and its stored evaluation.
    pub fn from_record(
        record: &AlertRecord,
        search: &SavedSearchConfig,
        public_url: Option<&str>,
    ) -> Self {
        let a = &record.alert;
        let details: serde_json::Value =
            serde_json::from_str(&a.details_json).unwrap_or(serde_json::Value::Null);
        let rule: serde_json::Value =
            serde_json::from_str(&a.rule_json).unwrap_or(serde_json::Value::Null);
        Self {
            kind: "mediawatch.alert",
            version: 1,
            alert_id: record.id,
            search: SearchRef::of(search),
            rule,
            metric: a.metric.clone(),
            window: WindowRef {
                start: a.window_start,
                end: a.window_end,
                partial: details["partial"].as_bool().unwrap_or(false),
            },
            observed: a.observed,
            baseline: a.baseline,
            statistic: a.statistic,
            p_value: a.p_value,
            significance: details["significance"].as_f64().unwrap_or(f64::NAN),
            test: details["test"].as_str().unwrap_or_default().to_string(),
            stats: details["stats"].clone(),
            checks: details["checks"].clone(),
            link: search_link(public_url, search, a.window_start, a.window_end),
            fired_at: a.fired_at,
        }
    }

    fn value_text(&self, v: f64) -> String {
        if self.metric == "volume" {
            format!("{v:.1}")
        } else {
            format!("{:.1}%", v * 100.0)
        }
    }

    /// E-mail subject.
    pub fn subject(&self) -> String {
        format!(
            "[mediawatch] {}: {} {} (baseline {}, p = {:.2e})",
            self.search.name,
            self.metric,
            self.value_text(self.observed),
            self.value_text(self.baseline),
            self.p_value
        )
    }

    /// Plain-text e-mail body.
    pub fn text(&self) -> String {
        let checks = self
            .checks
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        format!(
                            "  - {}: {}",
                            c.get("name").and_then(|v| v.as_str()).unwrap_or(""),
                            c.get("detail").and_then(|v| v.as_str()).unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        format!(
            "Saved search: {} ({})\nQuery: {}\nFilters: country={} source={} lang={}\n\n\
             Metric: {}\nWindow: {} to {}{}\nObserved: {}\nBaseline: {}\n\
             Statistic z = {:.2}, p = {:.3e} (significance level {})\nTest: {}\n\nChecks:\n{}\n\n\
             Documents: {}\n\nAlert {} fired at {}.\n",
            self.search.name,
            self.search.id,
            self.search.query,
            self.search.country.as_deref().unwrap_or("-"),
            self.search.source.as_deref().unwrap_or("-"),
            self.search.lang.as_deref().unwrap_or("-"),
            self.metric,
            self.window.start.to_rfc3339(),
            self.window.end.to_rfc3339(),
            if self.window.partial {
                " (in progress)"
            } else {
                ""
            },
            self.value_text(self.observed),
            self.value_text(self.baseline),
            self.statistic,
            self.p_value,
            self.significance,
            self.test,
            checks,
            self.link,
            self.alert_id,
            self.fired_at.to_rfc3339(),
        )
    }
}

/// HMAC-SHA256 (RFC 2104), for webhook signatures.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One attempt's failure: whether to retry, and after how long at least.
struct AttemptError {
    message: String,
    retry: bool,
    retry_after: Option<Duration>,
}

/// Sends payloads to the configured channels.
#[derive(Clone)]
pub struct Notifier {
    webhooks: HashMap<String, WebhookChannel>,
    smtp: HashMap<String, SmtpChannel>,
    http: reqwest::Client,
    /// First retry delay (doubled per retry, with jitter).
    retry_base: Duration,
    /// Base URL of the dashboard for links.
    public_url: Option<String>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("webhooks", &self.webhooks.keys().collect::<Vec<_>>())
            .field("smtp", &self.smtp.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Channels from the `[alerts]` config.
    pub fn new(config: &AlertsConfig) -> Result<Self, crate::AlertsError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mediawatch-alerts/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| crate::AlertsError::Channel {
                channel: "webhooks".into(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            webhooks: config
                .webhooks
                .iter()
                .map(|w| (w.id.clone(), w.clone()))
                .collect(),
            smtp: config
                .smtp
                .iter()
                .map(|s| (s.id.clone(), s.clone()))
                .collect(),
            http,
            retry_base: Duration::from_secs(1),
            public_url: config.public_url.clone(),
        })
    }

    /// Sets the first retry delay (tests use a few milliseconds).
    pub fn with_retry_base(mut self, d: Duration) -> Self {
        self.retry_base = d;
        self
    }

    /// Base URL for links.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// Whether a channel with this id exists.
    pub fn has_channel(&self, id: &str) -> bool {
        self.webhooks.contains_key(id) || self.smtp.contains_key(id)
    }

    /// Notifies every channel in `channels`, one after the other, and
    /// returns one outcome per channel (unknown ids included, as failures).
    pub async fn notify(&self, channels: &[String], payload: &AlertPayload) -> Vec<Delivery> {
        let mut out = Vec::with_capacity(channels.len());
        for id in channels {
            let (attempts, result) = if let Some(w) = self.webhooks.get(id) {
                self.with_retries(w.max_retries, || self.post_webhook(w, payload))
                    .await
            } else if let Some(s) = self.smtp.get(id) {
                self.with_retries(s.max_retries, || send_mail(s, payload))
                    .await
            } else {
                (0, Err(format!("no channel {id:?} is configured")))
            };
            if let Err(e) = &result {
                tracing::warn!(channel = %id, alert = payload.alert_id, "notification failed: {e}");
            }
            out.push(Delivery {
                channel: id.clone(),
                ok: result.is_ok(),
                attempts,
                error: result.err(),
                at: Utc::now(),
            });
        }
        out
    }

    async fn with_retries<F, Fut>(
        &self,
        max_retries: u32,
        mut attempt: F,
    ) -> (u32, Result<(), String>)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), AttemptError>>,
    {
        let mut n = 0u32;
        loop {
            n += 1;
            match attempt().await {
                Ok(()) => return (n, Ok(())),
                Err(e) if e.retry && n <= max_retries => {
                    let backoff = self.retry_base.saturating_mul(1 << (n - 1).min(10));
                    let jitter = backoff.mul_f64(fastrand::f64() * 0.25);
                    let wait = (backoff + jitter).max(e.retry_after.unwrap_or_default());
                    tracing::debug!("retrying in {wait:?} after: {}", e.message);
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return (n, Err(e.message)),
            }
        }
    }

    async fn post_webhook(
        &self,
        w: &WebhookChannel,
        payload: &AlertPayload,
    ) -> Result<(), AttemptError> {
        let body = serde_json::to_vec(payload).map_err(|e| AttemptError {
            message: format!("cannot encode the payload: {e}"),
            retry: false,
            retry_after: None,
        })?;
        let mut req = self
            .http
            .post(&w.url)
            .timeout(w.timeout)
            .header("content-type", "application/json");
        for (k, v) in &w.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(var) = &w.secret_env {
            let secret = std::env::var(var).map_err(|_| AttemptError {
                message: format!(
                    "webhook {}: environment variable {var} (secret_env) is not set",
                    w.id
                ),
                retry: false,
                retry_after: None,
            })?;
            req = req.header(
                "x-mediawatch-signature",
                format!("sha256={}", hex(&hmac_sha256(secret.as_bytes(), &body))),
            );
        }
        let resp = req.body(body).send().await.map_err(|e| AttemptError {
            message: format!("webhook {} ({}): {e}", w.id, w.url),
            retry: !e.is_builder(),
            retry_after: None,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
        let code = status.as_u16();
        Err(AttemptError {
            message: format!("webhook {} ({}): HTTP {status}", w.id, w.url),
            retry: code == 408 || code == 429 || status.is_server_error(),
            retry_after,
        })
    }
}

fn mail_err(s: &SmtpChannel, what: &str, e: impl std::fmt::Display) -> AttemptError {
    AttemptError {
        message: format!(
            "smtp {} ({}:{}): {what}: {e}",
            s.id,
            s.host,
            s.effective_port()
        ),
        retry: false,
        retry_after: None,
    }
}

fn build_message(s: &SmtpChannel, payload: &AlertPayload) -> Result<Message, AttemptError> {
    let from: Mailbox = s.from.parse().map_err(|e| mail_err(s, "from address", e))?;
    let mut b = Message::builder()
        .from(from)
        .subject(payload.subject())
        .header(ContentType::TEXT_PLAIN);
    for t in &s.to {
        let to: Mailbox = t.parse().map_err(|e| mail_err(s, "recipient address", e))?;
        b = b.to(to);
    }
    b.body(payload.text())
        .map_err(|e| mail_err(s, "building the message", e))
}

async fn send_mail(s: &SmtpChannel, payload: &AlertPayload) -> Result<(), AttemptError> {
    let message = build_message(s, payload)?;
    let builder = match s.security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| mail_err(s, "TLS setup", e))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
            .map_err(|e| mail_err(s, "TLS setup", e))?,
    };
    let mut builder = builder.port(s.effective_port()).timeout(Some(s.timeout));
    if let (Some(user), Some(var)) = (&s.username, &s.password_env) {
        let password = std::env::var(var).map_err(|_| {
            mail_err(
                s,
                "password",
                format!("environment variable {var} is not set"),
            )
        })?;
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    let transport = builder.build();
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) => Err(AttemptError {
            // 4xx replies and connection trouble may pass; 5xx and
            // malformed addresses will not.
            retry: !e.is_permanent() && !e.is_client(),
            message: format!("smtp {} ({}:{}): {e}", s.id, s.host, s.effective_port()),
            retry_after: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Keys longer than a block are hashed first (RFC 4231 case 6).
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
