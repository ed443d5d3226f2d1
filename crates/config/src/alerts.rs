//! Saved searches (`[[saved_searches]]`) and alerting (`[alerts]`).
//!
//! A saved search is a query plus optional country / source / language
//! filters. With an `alert` rule it is evaluated on a schedule: either its
//! document volume or the share of one label (e.g. collective labelling in
//! one country during an election campaign) is tested against a rolling
//! baseline, and a significant rise is sent to the named channels.
//!
//! Secrets (SMTP passwords, webhook signing keys) never live in the file:
//! the file names the environment variable that holds them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use mediawatch_core::LABEL_NAMES;
use serde::{Deserialize, Serialize};

/// Shortest window an alert rule may use: shorter windows hold too few
/// documents for any test to mean anything, and cost an index scan each.
pub const MIN_ALERT_WINDOW: Duration = Duration::from_secs(3600);
/// Most baseline windows (baseline / window) a rule may compare against.
pub const MAX_BASELINE_WINDOWS: u64 = 400;
/// Fewest baseline windows: the variance of the baseline needs several.
pub const MIN_BASELINE_WINDOWS: u64 = 3;

/// What an alert rule measures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AlertMetric {
    /// Documents matching the search per window.
    Volume,
    /// Share of the matching (classified) documents that carry this label
    /// (one of `mediawatch_core::LABEL_NAMES`).
    Share(String),
}

impl AlertMetric {
    /// Index of the label in `LABEL_NAMES` for a share metric.
    pub fn label_index(&self) -> Option<usize> {
        match self {
            AlertMetric::Volume => None,
            AlertMetric::Share(l) => LABEL_NAMES.iter().position(|n| n == l),
        }
    }
}

impl fmt::Display for AlertMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertMetric::Volume => f.write_str("volume"),
            AlertMetric::Share(l) => write!(f, "share:{l}"),
        }
    }
}

impl FromStr for AlertMetric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "volume" {
            return Ok(AlertMetric::Volume);
        }
        if let Some(label) = s.strip_prefix("share:") {
            if LABEL_NAMES.contains(&label) {
                return Ok(AlertMetric::Share(label.to_string()));
            }
            return Err(format!(
                "{s:?}: unknown label {label:?} (one of {})",
                LABEL_NAMES.join(", ")
            ));
        }
        Err(format!(
            "{s:?} is not a metric (use \"volume\" or \"share:<label>\" with a label among {})",
            LABEL_NAMES.join(", ")
        ))
    }
}

impl TryFrom<String> for AlertMetric {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AlertMetric> for String {
    fn from(m: AlertMetric) -> String {
        m.to_string()
    }
}

/// When a saved search alerts. See the `mediawatch-alerts` crate docs for
/// the tests behind each metric.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// `volume` or `share:<label>`.
    #[schema(value_type = String, example = "share:collective_labelling")]
    pub metric: AlertMetric,
    /// Width of the window tested (windows are aligned to multiples of it
    /// since the Unix epoch, UTC).
    #[serde(default = "default_window", with = "humantime_serde")]
    #[schema(value_type = String, example = "1d")]
    pub window: Duration,
    /// Length of the rolling baseline just before the window (a whole
    /// number of windows).
    #[serde(default = "default_baseline", with = "humantime_serde")]
    #[schema(value_type = String, example = "28d")]
    pub baseline: Duration,
    /// One-sided significance level: fire when p < this.
    #[serde(default = "default_significance")]
    pub significance: f64,
    /// Fewest matching documents (volume) or labelled documents (share) in
    /// the window for an alert.
    #[serde(default = "default_min_count")]
    pub min_count: u64,
    /// Share metric: fewest classified documents in the window, and in the
    /// baseline, for the share to be tested at all.
    #[serde(default = "default_min_documents")]
    pub min_documents: u64,
    /// Volume metric: the window must hold at least this multiple of the
    /// baseline mean (effect-size floor).
    #[serde(default = "default_min_ratio")]
    pub min_ratio: f64,
    /// Share metric: the share must rise by at least this much (0.05 = five
    /// percentage points) over the baseline share (effect-size floor).
    #[serde(default = "default_min_increase")]
    pub min_increase: f64,
    /// Count each near-duplicate cluster (one syndicated story) once.
    #[serde(default = "default_true")]
    pub dedup: bool,
    /// After an alert of this search, no other is sent for this long.
    #[serde(default = "default_cooldown", with = "humantime_serde")]
    #[schema(value_type = String, example = "1d")]
    pub cooldown: Duration,
    /// Ids of `[[alerts.webhooks]]` / `[[alerts.smtp]]` channels to notify.
    #[serde(default)]
    pub channels: Vec<String>,
}

fn default_window() -> Duration {
    Duration::from_secs(86_400)
}
fn default_baseline() -> Duration {
    Duration::from_secs(28 * 86_400)
}
fn default_significance() -> f64 {
    0.01
}
fn default_min_count() -> u64 {
    5
}
fn default_min_documents() -> u64 {
    20
}
fn default_min_ratio() -> f64 {
    1.5
}
fn default_min_increase() -> f64 {
    0.05
}
fn default_true() -> bool {
    true
}
fn default_cooldown() -> Duration {
    Duration::from_secs(86_400)
}

impl AlertRule {
    /// A rule with every default and this metric.
    pub fn new(metric: AlertMetric) -> Self {
        Self {
            metric,
            window: default_window(),
            baseline: default_baseline(),
            significance: default_significance(),
            min_count: default_min_count(),
            min_documents: default_min_documents(),
            min_ratio: default_min_ratio(),
            min_increase: default_min_increase(),
            dedup: true,
            cooldown: default_cooldown(),
            channels: Vec::new(),
        }
    }

    /// Number of baseline windows (baseline / window, rounded down).
    pub fn baseline_windows(&self) -> u64 {
        let w = self.window.as_secs().max(1);
        self.baseline.as_secs() / w
    }
}

/// A saved search, from the config or created through the API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedSearchConfig {
    /// Stable id (letters, digits, `-`, `_`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Query in the search syntax (may be empty: every document).
    #[serde(default)]
    pub query: String,
    /// Only this country (ISO 3166-1 alpha-2).
    #[serde(default)]
    pub country: Option<String>,
    /// Only this source id.
    #[serde(default)]
    pub source: Option<String>,
    /// Only this language (ISO 639-1).
    #[serde(default)]
    pub lang: Option<String>,
    /// Evaluated on schedule when true (and an `alert` rule is set).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The alert rule; without one the search is only saved.
    #[serde(default)]
    pub alert: Option<AlertRule>,
}

/// TLS mode of an SMTP channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    #[default]
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No encryption: only for a relay on loopback or a trusted network.
    None,
}

/// A webhook channel: alerts are POSTed as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    /// Id that rules name in `channels`.
    pub id: String,
    /// http(s) URL.
    pub url: String,
    /// Extra request headers (not for secrets: use `secret_env`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Environment variable holding a signing key: the body's HMAC-SHA256
    /// is sent hex-encoded as `X-Mediawatch-Signature: sha256=<hex>`.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Timeout of one attempt.
    #[serde(default = "default_notify_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Retries after a retryable failure (network error, 408, 429, 5xx).
    #[serde(default = "default_notify_retries")]
    pub max_retries: u32,
}

/// An e-mail channel (SMTP submission).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpChannel {
    /// Id that rules name in `channels`.
    pub id: String,
    /// Server host name.
    pub host: String,
    /// Server port (587 for starttls, 465 for tls, 25 for none).
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// Login user; without it no authentication is attempted.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the password (required with `username`).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Sender address.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Timeout of one attempt.
    #[serde(default = "default_notify_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Retries after a transient failure (network error, 4xx reply).
    #[serde(default = "default_notify_retries")]
    pub max_retries: u32,
}

impl SmtpChannel {
    /// The port, or the usual one for the security mode.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

fn default_notify_timeout() -> Duration {
    Duration::from_secs(15)
}
fn default_notify_retries() -> u32 {
    2
}

/// `[alerts]`: evaluation schedule and notification channels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Run the alert loop inside `mediawatch run`.
    pub enabled: bool,
    /// How often every enabled saved search is evaluated.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Base URL of the dashboard for links in notifications (e.g.
    /// `https://monitor.example.org`); links are relative without it.
    pub public_url: Option<String>,
    /// Webhook channels.
    pub webhooks: Vec<WebhookChannel>,
    /// E-mail channels.
    pub smtp: Vec<SmtpChannel>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(15 * 60),
            public_url: None,
            webhooks: Vec::new(),
            smtp: Vec::new(),
        }
    }
}

impl AlertsConfig {
    /// Ids of every channel.
    pub fn channel_ids(&self) -> Vec<&str> {
        self.webhooks
            .iter()
            .map(|w| w.id.as_str())
            .chain(self.smtp.iter().map(|s| s.id.as_str()))
            .collect()
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_address(s: &str) -> bool {
    // Full RFC 5322 parsing happens when the mail is built; this catches
    // the usual typos at load time.
    let s = s.trim();
    let addr = match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    match addr.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !addr.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// Problems with one alert rule, each starting with `key`.
pub fn validate_rule(rule: &AlertRule, key: &str, channels: &[&str], errors: &mut Vec<String>) {
    if rule.window < MIN_ALERT_WINDOW {
        errors.push(format!(
            "{key}.window: {} is shorter than the minimum of 1h",
            humantime_serde::re::humantime::format_duration(rule.window)
        ));
    }
    let n = rule.baseline_windows();
    if rule.window.as_secs() > 0
        && !rule
            .baseline
            .as_secs()
            .is_multiple_of(rule.window.as_secs())
    {
        errors.push(format!(
            "{key}.baseline: {} is not a whole number of windows ({})",
            humantime_serde::re::humantime::format_duration(rule.baseline),
            humantime_serde::re::humantime::format_duration(rule.window)
        ));
    } else if !(MIN_BASELINE_WINDOWS..=MAX_BASELINE_WINDOWS).contains(&n) {
        errors.push(format!(
            "{key}.baseline: {n} windows; use {MIN_BASELINE_WINDOWS} to {MAX_BASELINE_WINDOWS} \
             windows of {}",
            humantime_serde::re::humantime::format_duration(rule.window)
        ));
    }
    if rule.significance.is_nan() || rule.significance <= 0.0 || rule.significance >= 0.5 {
        errors.push(format!(
            "{key}.significance: {} is not in (0, 0.5) (e.g. 0.01)",
            rule.significance
        ));
    }
    if rule.min_count == 0 {
        errors.push(format!("{key}.min_count: must be at least 1"));
    }
    if rule.min_documents == 0 {
        errors.push(format!("{key}.min_documents: must be at least 1"));
    }
    if !(rule.min_ratio.is_finite() && rule.min_ratio >= 1.0) {
        errors.push(format!(
            "{key}.min_ratio: {} must be at least 1 (e.g. 1.5)",
            rule.min_ratio
        ));
    }
    if !(rule.min_increase.is_finite() && (0.0..1.0).contains(&rule.min_increase)) {
        errors.push(format!(
            "{key}.min_increase: {} is not a share increase in [0, 1) (e.g. 0.05)",
            rule.min_increase
        ));
    }
    if rule.cooldown.is_zero() {
        errors.push(format!(
            "{key}.cooldown: must be greater than zero (the same window never fires twice anyway; \
             use e.g. \"1h\")"
        ));
    }
    let mut seen = HashSet::new();
    for (i, c) in rule.channels.iter().enumerate() {
        if !channels.contains(&c.as_str()) {
            errors.push(format!(
                "{key}.channels[{i}]: no channel {c:?} in [[alerts.webhooks]] or [[alerts.smtp]]"
            ));
        }
        if !seen.insert(c.as_str()) {
            errors.push(format!("{key}.channels[{i}]: {c:?} is listed twice"));
        }
    }
}

/// Problems with one saved search, each starting with `key`. `channels` are
/// the configured channel ids.
pub fn validate_saved_search(s: &SavedSearchConfig, key: &str, channels: &[&str]) -> Vec<String> {
    let mut errors = Vec::new();
    if !is_id(&s.id) {
        errors.push(format!(
            "{key}.id: {:?} is not an id (1 to 64 letters, digits, '-' or '_')",
            s.id
        ));
    }
    if s.name.trim().is_empty() {
        errors.push(format!("{key}.name: must not be empty"));
    }
    if s.query.len() > 2000 {
        errors.push(format!("{key}.query: longer than 2000 bytes"));
    }
    if let Some(c) = &s.country {
        if !super::COUNTRIES.contains(&c.to_ascii_uppercase().as_str()) {
            errors.push(format!(
                "{key}.country: {c:?} is not a supported ISO 3166-1 alpha-2 code"
            ));
        }
    }
    if let Some(l) = &s.lang {
        if !super::LANGUAGES.contains(&l.to_ascii_lowercase().as_str()) {
            errors.push(format!(
                "{key}.lang: {l:?} is not a supported ISO 639-1 code"
            ));
        }
    }
    if matches!(&s.source, Some(v) if v.trim().is_empty()) {
        errors.push(format!("{key}.source: must not be empty"));
    }
    if let Some(rule) = &s.alert {
        validate_rule(rule, &format!("{key}.alert"), channels, &mut errors);
    }
    errors
}

/// Problems with `[alerts]` and `[[saved_searches]]`.
pub(crate) fn validate_alerts(
    alerts: &AlertsConfig,
    searches: &[SavedSearchConfig],
    source_ids: &HashSet<&str>,
    errors: &mut Vec<String>,
) {
    if alerts.interval < Duration::from_secs(10) {
        errors.push("alerts.interval: must be at least 10s".into());
    }
    if let Some(u) = &alerts.public_url {
        match url::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") => {}
            _ => errors.push(format!(
                "alerts.public_url: {u:?} is not an http(s) URL like https://monitor.example.org"
            )),
        }
    }
    let mut ids = HashSet::new();
    for (i, w) in alerts.webhooks.iter().enumerate() {
        let key = format!("alerts.webhooks[{i}]");
        if !is_id(&w.id) {
            errors.push(format!("{key}.id: {:?} is not an id", w.id));
        } else if !ids.insert(w.id.as_str()) {
            errors.push(format!("{key}.id: duplicate channel id {:?}", w.id));
        }
        match url::Url::parse(&w.url) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
            _ => errors.push(format!("{key}.url: {:?} is not an http(s) URL", w.url)),
        }
        for name in w.headers.keys() {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                errors.push(format!("{key}.headers: {name:?} is not a header name"));
            }
        }
        if let Some(e) = &w.secret_env {
            if !is_env_name(e) {
                errors.push(format!(
                    "{key}.secret_env: {e:?} is not an environment variable name"
                ));
            }
        }
        if w.timeout.is_zero() {
            errors.push(format!("{key}.timeout: must be greater than zero"));
        }
        if w.max_retries > 10 {
            errors.push(format!(
                "{key}.max_retries: {} is more than 10",
                w.max_retries
            ));
        }
    }
    for (i, s) in alerts.smtp.iter().enumerate() {
        let key = format!("alerts.smtp[{i}]");
        if !is_id(&s.id) {
            errors.push(format!("{key}.id: {:?} is not an id", s.id));
        } else if !ids.insert(s.id.as_str()) {
            errors.push(format!("{key}.id: duplicate channel id {:?}", s.id));
        }
        if s.host.trim().is_empty() || s.host.contains(char::is_whitespace) {
            errors.push(format!("{key}.host: {:?} is not a host name", s.host));
        }
        if s.port == Some(0) {
            errors.push(format!("{key}.port: must not be 0"));
        }
        match (&s.username, &s.password_env) {
            (Some(_), None) => errors.push(format!(
                "{key}.password_env: required with username (the name of the environment variable \
                 holding the password)"
            )),
            (None, Some(_)) => errors.push(format!("{key}.username: required with password_env")),
            _ => {}
        }
        if let Some(e) = &s.password_env {
            if !is_env_name(e) {
                errors.push(format!(
                    "{key}.password_env: {e:?} is not an environment variable name"
                ));
            }
        }
        if !is_address(&s.from) {
            errors.push(format!("{key}.from: {:?} is not an e-mail address", s.from));
        }
        if s.to.is_empty() {
            errors.push(format!("{key}.to: list at least one recipient"));
        }
        for (j, t) in s.to.iter().enumerate() {
            if !is_address(t) {
                errors.push(format!("{key}.to[{j}]: {t:?} is not an e-mail address"));
            }
        }
        if s.timeout.is_zero() {
            errors.push(format!("{key}.timeout: must be greater than zero"));
        }
        if s.max_retries > 10 {
            errors.push(format!(
                "{key}.max_retries: {} is more than 10",
                s.max_retries
            ));
        }
    }
    let channels = alerts.channel_ids();
    let mut search_ids = HashSet::new();
    for (i, s) in searches.iter().enumerate() {
        let key = if s.id.is_empty() {
            format!("saved_searches[{i}]")
        } else {
            format!("saved_searches[{i}] (id {:?})", s.id)
        };
        errors.extend(validate_saved_search(s, &key, &channels));
        if let Some(src) = &s.source {
            if !src.trim().is_empty() && !source_ids.contains(src.as_str()) {
                errors.push(format!("{key}.source: no source with id {src:?}"));
            }
        }
        if !s.id.is_empty() && !search_ids.insert(s.id.as_str()) {
            errors.push(format!("{key}.id: duplicate id {:?}", s.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    const BASE: &str = r#"
version = 1
[alerts]
interval = "5m"
public_url = "https://monitor.example.org"
[[alerts.webhooks]]
id = "ops"
url = "https://hooks.example.org/mw"
headers = { "X-Team" = "cso" }
secret_env = "MW_HOOK_SECRET"
[[alerts.smtp]]
id = "analysts"
host = "smtp.example.org"
security = "starttls"
username = "mw"
password_env = "MW_SMTP_PASSWORD"
from = "mediawatch <mw@example.org>"
to = ["analyst@example.org"]
[[saved_searches]]
id = "rs-collective"
name = "Collective labelling in Serbia"
query = "migranti"
country = "RS"
[saved_searches.alert]
metric = "share:collective_labelling"
window = "1d"
baseline = "28d"
channels = ["ops", "analysts"]
"#;

    #[test]
    fn full_alerts_config_parses() {
        let c = Config::from_toml_str(BASE, "t.toml").unwrap();
        assert_eq!(c.alerts.interval, Duration::from_secs(300));
        assert_eq!(c.alerts.channel_ids(), ["ops", "analysts"]);
        assert_eq!(c.alerts.smtp[0].effective_port(), 587);
        let s = &c.saved_searches[0];
        let rule = s.alert.as_ref().unwrap();
        assert_eq!(
            rule.metric,
            AlertMetric::Share("collective_labelling".into())
        );
        assert_eq!(rule.metric.label_index(), Some(3));
        assert_eq!(rule.baseline_windows(), 28);
        assert_eq!(rule.significance, 0.01);
        assert!(rule.dedup);
    }

    #[test]
    fn defaults_without_alerts_section() {
        let c = Config::from_toml_str("version = 1\n", "t.toml").unwrap();
        assert!(c.saved_searches.is_empty());
        assert!(c.alerts.enabled);
        assert!(c.alerts.webhooks.is_empty());
    }

    #[test]
    fn unknown_metric_and_keys_are_rejected() {
        let bad = BASE.replace("share:collective_labelling", "share:rage");
        let e = Config::from_toml_str(&bad, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown label \"rage\""), "{e}");
        let bad = BASE.replace("channels = [", "chanels = [");
        let e = Config::from_toml_str(&bad, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("chanels"), "{e}");
        let bad = BASE.replace("password_env = \"MW_SMTP_PASSWORD\"", "password = \"x\"");
        let e = Config::from_toml_str(&bad, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("password"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let bad = BASE
            .replace(
                "channels = [\"ops\", \"analysts\"]",
                "channels = [\"ops\", \"pager\"]\nsignificance = 0.9\ncooldown = \"0s\"",
            )
            .replace("baseline = \"28d\"", "baseline = \"30h\"")
            .replace("to = [\"analyst@example.org\"]", "to = [\"nobody\"]")
            .replace("country = \"RS\"", "country = \"ZZ\"")
            .replace(
                "url = \"https://hooks.example.org/mw\"",
                "url = \"ftp://x\"",
            );
        let e = Config::from_toml_str(&bad, "t.toml")
            .unwrap_err()
            .to_string();
        for want in [
            "saved_searches[0] (id \"rs-collective\").alert.channels[1]: no channel \"pager\"",
            "alert.significance: 0.9",
            "alert.cooldown: must be greater than zero",
            "alert.baseline: 1day 6h is not a whole number of windows",
            "alerts.smtp[0].to[0]: \"nobody\" is not an e-mail address",
            "saved_searches[0] (id \"rs-collective\").country: \"ZZ\"",
            "alerts.webhooks[0].url: \"ftp://x\"",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }

    #[test]
    fn username_needs_password_env() {
        let bad = BASE.replace("password_env = \"MW_SMTP_PASSWORD\"\n", "");
        let e = Config::from_toml_str(&bad, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("alerts.smtp[0].password_env: required"), "{e}");
    }

    #[test]
    fn metric_round_trips_as_string() {
        for m in ["volume", "share:hate", "share:recognition"] {
            let parsed: AlertMetric = m.parse().unwrap();
            assert_eq!(parsed.to_string(), m);
        }
        assert!("volumes".parse::<AlertMetric>().is_err());
    }
}
