//! Configuration: parse (serde, unknown keys rejected), validate (every
//! problem reported at once, each with its key), then hand typed values to
//! the stages. Modelled on Quickwit's `quickwit-config`.
//!
//! Durations are human-readable (`"30m"`, `"1h 30m"`), sizes are bytes.
//! Secrets (API tokens) never live here: they come from the environment.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mediawatch_core::{DocKind, SourceMeta, SourceScope};
pub use mediawatch_extract::SelectorOverrides;
use serde::{Deserialize, Serialize};

mod classifier;
pub use classifier::{
    ClassifierConfig, ClassifierKind, DeviceSpec, RustBertConfig, HATE_CLASSES, THRESHOLD_HEADS,
};
mod alerts;
pub use alerts::{
    validate_rule, validate_saved_search, AlertMetric, AlertRule, AlertsConfig, SavedSearchConfig,
    SmtpChannel, SmtpSecurity, WebhookChannel, MAX_BASELINE_WINDOWS, MIN_ALERT_WINDOW,
    MIN_BASELINE_WINDOWS,
};

/// The only config format version this build understands.
pub const CURRENT_VERSION: u32 = 1;

/// Errors from loading a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema (unknown key,
    /// wrong type). The message carries line, column and key.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file (or `<embedded>`).
        path: String,
        /// What the parser said, including the position and key.
        message: String,
    },
    /// The file parsed but some values are invalid; every problem is listed.
    #[error("config file {path} is invalid:\n  - {}", .errors.join("\n  - "))]
    Invalid {
        /// The file (or `<embedded>`).
        path: String,
        /// One message per problem, each starting with its key.
        errors: Vec<String>,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version; must be 1.
    pub version: u32,
    /// HTTP fetching.
    #[serde(default)]
    pub fetch: FetchConfig,
    /// Scheduling of source polls.
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// The HTTP API server.
    #[serde(default)]
    pub server: ServerConfig,
    /// The document index.
    #[serde(default)]
    pub index: IndexConfig,
    /// Monitored sources.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// The classifier (`[classifier]`).
    #[serde(default)]
    pub classifier: ClassifierConfig,
    /// Alert evaluation and notification channels (`[alerts]`).
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Saved searches, optionally with alert rules (`[[saved_searches]]`).
    #[serde(default)]
    pub saved_searches: Vec<SavedSearchConfig>,
}

/// HTTP fetching: politeness, limits, safety.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    /// User-Agent header sent with every request.
    pub user_agent: String,
    /// Allow sources on loopback, private, link-local addresses (off by
    /// default: a config must not be able to make mediawatch probe an
    /// internal network).
    pub allow_private_addresses: bool,
    /// Connect timeout.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest wait for the next chunk of a response body.
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    /// Longest time for a whole request, body included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest response body accepted (after decompression), in bytes.
    pub max_body_bytes: usize,
    /// Most redirects followed.
    pub max_redirects: usize,
    /// Concurrent requests per host.
    pub per_host_concurrency: usize,
    /// Minimum interval between two requests to one host.
    #[serde(with = "humantime_serde")]
    pub per_host_interval: Duration,
    /// Concurrent requests overall.
    pub global_concurrency: usize,
    /// Honour robots.txt.
    pub respect_robots: bool,
    /// Retries of retryable failures (network errors, 408, 429, 5xx).
    pub max_retries: u32,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            user_agent: default_user_agent(),
            allow_private_addresses: false,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(20),
            timeout: Duration::from_secs(60),
            max_body_bytes: 10 * 1024 * 1024,
            max_redirects: 5,
            per_host_concurrency: 2,
            per_host_interval: Duration::from_millis(500),
            global_concurrency: 16,
            respect_robots: true,
            max_retries: 2,
        }
    }
}

fn default_user_agent() -> String {
    format!(
        "mediawatch/{} (+https://example.invalid/mediawatch; media monitoring)",
        env!("CARGO_PKG_VERSION")
    )
}

/// When sources are polled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Poll interval of a source that sets none.
    #[serde(with = "humantime_serde")]
    pub default_interval: Duration,
    /// Longest backoff after repeated failures.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Adapt each source's interval (when it sets none) to how often it
    /// publishes, observed from its items' dates.
    pub adaptive: bool,
    /// Shortest adaptive interval.
    #[serde(with = "humantime_serde")]
    pub min_interval: Duration,
    /// Longest adaptive interval.
    #[serde(with = "humantime_serde")]
    pub max_interval: Duration,
    /// A source failing for longer than this is flagged unhealthy.
    #[serde(with = "humantime_serde")]
    pub unhealthy_after: Duration,
    /// Sources polled at the same time.
    pub concurrent_sources: usize,
    /// Article pages fetched per feed per pass (newest first); the rest wait
    /// for the next pass, so one huge feed cannot starve the others.
    pub max_articles_per_pass: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            default_interval: Duration::from_secs(30 * 60),
            max_backoff: Duration::from_secs(6 * 3600),
            adaptive: true,
            min_interval: Duration::from_secs(5 * 60),
            max_interval: Duration::from_secs(6 * 3600),
            unhealthy_after: Duration::from_secs(2 * 24 * 3600),
            concurrent_sources: 8,
            max_articles_per_pass: 50,
        }
    }
}

/// The HTTP API server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default: exposing the API is a
    /// deliberate choice.
    pub listen: String,
    /// Bearer token that state-changing requests (POST/PUT/DELETE) must
    /// present. Prefer the `MEDIAWATCH_TOKEN` environment variable, which
    /// overrides this; without either, such requests are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Requests per minute one client IP may make (sustained rate).
    pub rate_limit_per_minute: u32,
    /// Requests one client IP may make in a burst above the sustained rate.
    pub rate_limit_burst: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_string(),
            token: None,
            body_limit_bytes: 64 * 1024,
            rate_limit_per_minute: 600,
            rate_limit_burst: 120,
        }
    }
}

/// The document index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// Memory budget of the tantivy writer, in bytes.
    pub writer_heap_bytes: usize,
    /// Longest time a document waits before it is committed and searchable.
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            writer_heap_bytes: 64 * 1024 * 1024,
            commit_interval: Duration::from_secs(30),
        }
    }
}

/// How a source is fetched. Each kind needs its own keys (see
/// [`SourceConfig`] and `validate`); the registry that turns a kind into a
/// poller is `build_source` in `mediawatch-pipeline`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// RSS / Atom / JSON Feed; linked article pages are fetched and extracted.
    Feed,
    /// A (news) sitemap or sitemap index; listed pages are fetched and extracted.
    Sitemap,
    /// An HTML listing page (section front, archive): article links picked
    /// by `link_selector`, pages followed by `next_selector`.
    Listing,
    /// A Mastodon hashtag or account timeline (public API).
    Mastodon,
    /// A Bluesky author feed or post search (public AppView XRPC API).
    Bluesky,
    /// A public Telegram channel, read from its web preview (`t.me/s/...`).
    Telegram,
    /// A subreddit's newest posts (`/r/<sub>/new.json`).
    Reddit,
    /// A YouTube channel's video feed (Atom).
    Youtube,
    /// A local JSON Lines file, one document per line.
    Jsonl,
    /// A local CSV file with a header row, one document per row.
    Csv,
}

impl SourceKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [SourceKind; 10] = [
        SourceKind::Feed,
        SourceKind::Sitemap,
        SourceKind::Listing,
        SourceKind::Mastodon,
        SourceKind::Bluesky,
        SourceKind::Telegram,
        SourceKind::Reddit,
        SourceKind::Youtube,
        SourceKind::Jsonl,
        SourceKind::Csv,
    ];

    /// Name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Sitemap => "sitemap",
            SourceKind::Listing => "listing",
            SourceKind::Mastodon => "mastodon",
            SourceKind::Bluesky => "bluesky",
            SourceKind::Telegram => "telegram",
            SourceKind::Reddit => "reddit",
            SourceKind::Youtube => "youtube",
            SourceKind::Jsonl => "jsonl",
            SourceKind::Csv => "csv",
        }
    }

    /// Whether the source is configured with `url` (the others build their
    /// URL from kind-specific keys, or read a local `path`).
    pub fn uses_url(self) -> bool {
        matches!(
            self,
            SourceKind::Feed | SourceKind::Sitemap | SourceKind::Listing
        )
    }

    /// Whether the source reads a local file (`path`) instead of the network.
    pub fn is_file(self) -> bool {
        matches!(self, SourceKind::Jsonl | SourceKind::Csv)
    }
}

/// Default `appview` of Bluesky sources: the public, unauthenticated AppView.
pub const DEFAULT_BLUESKY_APPVIEW: &str = "https://public.api.bsky.app/xrpc";
/// Default `base_url` of Telegram sources.
pub const DEFAULT_TELEGRAM_BASE: &str = "https://t.me";
/// Default `base_url` of Reddit sources.
pub const DEFAULT_REDDIT_BASE: &str = "https://www.reddit.com";
/// Default `base_url` of YouTube sources.
pub const DEFAULT_YOUTUBE_BASE: &str = "https://www.youtube.com";
/// Default `max_pages` of listing sources.
pub const DEFAULT_MAX_PAGES: usize = 3;
/// Largest `max_pages` accepted: a listing is a window on what is new, not
/// an archive crawl.
pub const MAX_MAX_PAGES: usize = 50;

/// Column names of a `csv` source (and field names of a `jsonl` source):
/// which column holds each document field. Unset fields use the field's own
/// name (`id`, `url`, `title`, `text`, `author`, `published`, `lang`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ColumnsConfig {
    /// Stable row id (the item key when present).
    pub id: Option<String>,
    /// Document URL.
    pub url: Option<String>,
    /// Headline.
    pub title: Option<String>,
    /// Main text.
    pub text: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Publication time (RFC 3339, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD`).
    pub published: Option<String>,
    /// ISO 639-1 language.
    pub lang: Option<String>,
}

impl ColumnsConfig {
    /// `(field, configured column)` for every field, in a fixed order.
    pub fn entries(&self) -> [(&'static str, &Option<String>); 7] {
        [
            ("id", &self.id),
            ("url", &self.url),
            ("title", &self.title),
            ("text", &self.text),
            ("author", &self.author),
            ("published", &self.published),
            ("lang", &self.lang),
        ]
    }
}

/// One monitored source.
///
/// The keys after `enabled` belong to particular kinds; validation rejects
/// a key set on a kind that does not use it, so a typo'd kind never runs
/// with silently ignored settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique id: lowercase letters, digits, `-` and `_`.
    pub id: String,
    /// How it is fetched.
    pub kind: SourceKind,
    /// Feed, sitemap or listing page URL (`feed`, `sitemap`, `listing`
    /// only; empty for the kinds that build their URL or read a file).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Outlet name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code (`XK` for Kosovo).
    pub country: String,
    /// ISO 639-1 languages; the first is the default for undetected text.
    pub languages: Vec<String>,
    /// National, regional, local or social.
    #[serde(default)]
    pub scope: SourceScope,
    /// Audience tags for the audience map.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Estimated monthly reach, weights the audience map.
    #[serde(default)]
    pub reach: Option<u64>,
    /// Poll interval; the scheduler default when absent.
    #[serde(default, with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Fetch and extract the linked article pages (else index feed text only).
    #[serde(default = "default_true")]
    pub fetch_articles: bool,
    /// Extraction overrides.
    #[serde(default)]
    pub selectors: Option<SelectorOverrides>,
    /// Disabled sources stay in the config and the state but are not polled.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// `listing`: CSS selector of the `<a>` elements linking to articles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_selector: Option<String>,
    /// `listing`: CSS selector of the "next page" link (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_selector: Option<String>,
    /// `listing`: most pages followed per poll (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<usize>,
    /// `listing`: keep links to other hosts (default false: same host only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_other_hosts: Option<bool>,

    /// `mastodon`: the instance's base URL (`https://mastodon.social`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// `mastodon`: a hashtag timeline (without `#`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashtag: Option<String>,
    /// `mastodon`: an account timeline: numeric account id, or `@name` /
    /// `@name@domain`, resolved through `/api/v1/accounts/lookup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,

    /// `bluesky`: the AppView XRPC base URL (default the public AppView).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appview: Option<String>,
    /// `bluesky`: an author feed: handle (`name.bsky.social`) or DID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `bluesky`: a post search query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,

    /// `telegram`: public channel name (`t.me/s/<channel>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `reddit`: subreddit name (without `r/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subreddit: Option<String>,
    /// `youtube`: channel id (`UC...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// `telegram`, `reddit`, `youtube`: the site's base URL (defaults to the
    /// real site; a mirror or a test server otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,

    /// `jsonl`, `csv`: the file to import (relative to the working directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `jsonl`, `csv`: which column (field) holds each document field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<ColumnsConfig>,
    /// `jsonl`, `csv`: kind of the imported documents (default `article`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_kind: Option<DocKind>,
}

fn default_true() -> bool {
    true
}

impl SourceConfig {
    /// The metadata analysts slice by.
    pub fn meta(&self) -> SourceMeta {
        SourceMeta {
            id: self.id.clone(),
            name: self.name.clone(),
            country: self.country.clone(),
            languages: self.languages.clone(),
            scope: self.scope,
            audience: self.audience.clone(),
            reach: self.reach,
        }
    }
}

/// ISO 3166-1 alpha-2 codes mediawatch accepts: the whole standard list
/// would be noise for this domain, so it is the countries of Europe and its
/// neighbours, plus `XK` (Kosovo, user-assigned but universally used).
const COUNTRIES: &[&str] = &[
    "AD", "AL", "AM", "AT", "AZ", "BA", "BE", "BG", "BY", "CH", "CY", "CZ", "DE", "DK", "DZ", "EE",
    "EG", "ES", "FI", "FR", "GB", "GE", "GR", "HR", "HU", "IE", "IQ", "IR", "IS", "IT", "JO", "LB",
    "LI", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MK", "MT", "NL", "NO", "PL", "PT", "RO",
    "RS", "RU", "SE", "SI", "SK", "SM", "SY", "TN", "TR", "UA", "US", "VA", "XK", "AF", "PK", "IN",
    "BD", "SO", "ER", "ET", "SD", "NG", "CA", "AU",
];

/// ISO 639-1 codes accepted in `languages` (plus `cnr`, Montenegrin, which has
/// only an ISO 639-2/3 code): the languages of the region and
/// of migrants' countries of origin commonly seen in its media.
const LANGUAGES: &[&str] = &[
    "en", "sr", "hr", "bs", "mk", "sq", "sl", "pl", "hu", "cs", "sk", "bg", "el", "de", "it", "ro",
    "uk", "ru", "tr", "fr", "es", "ar", "fa", "ps", "ur", "cnr",
];

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let errors = config.validate();
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: origin.to_string(),
                errors,
            })
        }
    }

    /// Every problem with the values, each message starting with its key.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.version != CURRENT_VERSION {
            errors.push(format!(
                "version: {} is not supported (this build reads version {CURRENT_VERSION})",
                self.version
            ));
        }
        let f = &self.fetch;
        if f.user_agent.trim().is_empty() {
            errors.push("fetch.user_agent: must not be empty".into());
        }
        for (key, value) in [
            ("fetch.connect_timeout", f.connect_timeout),
            ("fetch.read_timeout", f.read_timeout),
            ("fetch.timeout", f.timeout),
            (
                "scheduler.default_interval",
                self.scheduler.default_interval,
            ),
            ("index.commit_interval", self.index.commit_interval),
        ] {
            if value.is_zero() {
                errors.push(format!("{key}: must be greater than zero"));
            }
        }
        for (key, value) in [
            ("fetch.max_body_bytes", f.max_body_bytes),
            ("fetch.per_host_concurrency", f.per_host_concurrency),
            ("fetch.global_concurrency", f.global_concurrency),
            (
                "scheduler.concurrent_sources",
                self.scheduler.concurrent_sources,
            ),
        ] {
            if value == 0 {
                errors.push(format!("{key}: must be at least 1"));
            }
        }
        if self.scheduler.min_interval > self.scheduler.max_interval {
            errors.push(format!(
                "scheduler.min_interval: {} is longer than scheduler.max_interval ({})",
                humantime_serde::re::humantime::format_duration(self.scheduler.min_interval),
                humantime_serde::re::humantime::format_duration(self.scheduler.max_interval)
            ));
        }
        if self.index.writer_heap_bytes < 15_000_000 {
            // tantivy refuses writer budgets below ~15 MB.
            errors.push(format!(
                "index.writer_heap_bytes: {} is too small (at least 15000000)",
                self.index.writer_heap_bytes
            ));
        }
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            errors.push(format!(
                "server.listen: {:?} is not an address like 127.0.0.1:8080",
                self.server.listen
            ));
        }
        if self.server.body_limit_bytes < 1024 {
            errors.push(format!(
                "server.body_limit_bytes: {} is too small (at least 1024)",
                self.server.body_limit_bytes
            ));
        }
        if self.server.rate_limit_per_minute == 0 || self.server.rate_limit_burst == 0 {
            errors.push(
                "server.rate_limit_per_minute and server.rate_limit_burst: must be at least 1"
                    .to_string(),
            );
        }
        if self
            .server
            .token
            .as_ref()
            .is_some_and(|t| t.trim().len() < 16)
        {
            errors.push(
                "server.token: must be at least 16 characters (better: set MEDIAWATCH_TOKEN)"
                    .to_string(),
            );
        }

        self.classifier.validate_into(&mut errors);
        alerts::validate_alerts(
            &self.alerts,
            &self.saved_searches,
            &self.sources.iter().map(|s| s.id.as_str()).collect(),
            &mut errors,
        );

        let mut ids = HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            let key = if s.id.is_empty() {
                format!("sources[{i}]")
            } else {
                format!("sources[{i}] (id {:?})", s.id)
            };
            validate_source(s, &key, &mut errors);
            if !s.id.is_empty() && !ids.insert(s.id.as_str()) {
                errors.push(format!("{key}.id: duplicate id {:?}", s.id));
            }
        }
        errors
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.id == id)
    }
}

fn validate_source(s: &SourceConfig, key: &str, errors: &mut Vec<String>) {
    if s.id.is_empty() {
        errors.push(format!("{key}.id: must not be empty"));
    } else if !s
        .id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        errors.push(format!(
            "{key}.id: {:?} may contain only lowercase letters, digits, '-' and '_'",
            s.id
        ));
    }
    if s.kind.uses_url() {
        if s.url.is_empty() {
            errors.push(format!(
                "{key}.url: required for kind {:?}",
                s.kind.as_str()
            ));
        } else {
            check_http_url(&s.url, &format!("{key}.url"), errors);
        }
    } else if !s.url.is_empty() {
        errors.push(format!(
            "{key}.url: not used by kind {:?} ({})",
            s.kind.as_str(),
            kind_keys_hint(s.kind)
        ));
    }
    validate_kind_keys(s, key, errors);
    if s.name.trim().is_empty() {
        errors.push(format!("{key}.name: must not be empty"));
    }
    if !COUNTRIES.contains(&s.country.as_str()) {
        errors.push(format!(
            "{key}.country: {:?} is not an ISO 3166-1 alpha-2 code in upper case (e.g. \"RS\", \"XK\")",
            s.country
        ));
    }
    if s.languages.is_empty() {
        errors.push(format!("{key}.languages: list at least one ISO 639-1 code"));
    }
    for (j, l) in s.languages.iter().enumerate() {
        if !LANGUAGES.contains(&l.as_str()) {
            errors.push(format!(
                "{key}.languages[{j}]: {l:?} is not a supported ISO 639-1 code ({})",
                LANGUAGES.join(", ")
            ));
        }
    }
    if let Some(d) = s.interval {
        if d < Duration::from_secs(60) {
            errors.push(format!(
                "{key}.interval: {} is too short (at least 1m, to stay polite)",
                humantime_serde::re::humantime::format_duration(d)
            ));
        }
    }
    if let Some(sel) = &s.selectors {
        let all = [
            ("title", &sel.title),
            ("body", &sel.body),
            ("byline", &sel.byline),
            ("published", &sel.published),
            ("comments", &sel.comments),
            ("comment_text", &sel.comment_text),
            ("comment_author", &sel.comment_author),
        ];
        for (name, v) in all {
            if matches!(v, Some(x) if x.trim().is_empty()) {
                errors.push(format!("{key}.selectors.{name}: must not be empty"));
            }
        }
    }
}

/// Checks that `value` is an absolute http(s) URL with a host.
fn check_http_url(value: &str, key: &str, errors: &mut Vec<String>) {
    match url::Url::parse(value) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            if u.host_str().is_none() {
                errors.push(format!("{key}: {value:?} has no host"));
            }
        }
        Ok(u) => errors.push(format!(
            "{key}: scheme {:?} is not supported (use http or https)",
            u.scheme()
        )),
        Err(e) => errors.push(format!("{key}: {value:?} is not a URL: {e}")),
    }
}

/// The keys a kind is configured with, for error messages.
fn kind_keys_hint(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Feed | SourceKind::Sitemap => "it needs url",
        SourceKind::Listing => {
            "it needs url and link_selector; next_selector, max_pages, allow_other_hosts are optional"
        }
        SourceKind::Mastodon => "it needs instance and one of hashtag or account",
        SourceKind::Bluesky => "it needs one of actor or query; appview is optional",
        SourceKind::Telegram => "it needs channel; base_url is optional",
        SourceKind::Reddit => "it needs subreddit; base_url is optional",
        SourceKind::Youtube => "it needs channel_id; base_url is optional",
        SourceKind::Jsonl | SourceKind::Csv => {
            "it needs path; columns and doc_kind are optional"
        }
    }
}

/// Whether `s` is non-empty and only ASCII letters, digits and the `extra` bytes.
fn is_name(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// Kind-specific keys: the required ones are present and well-formed, and
/// no key of another kind is set.
fn validate_kind_keys(s: &SourceConfig, key: &str, errors: &mut Vec<String>) {
    use SourceKind as K;
    let kind = s.kind;
    // (key name, is set, kinds that use it)
    let owned: [(&str, bool, &[SourceKind]); 18] = [
        ("link_selector", s.link_selector.is_some(), &[K::Listing]),
        ("next_selector", s.next_selector.is_some(), &[K::Listing]),
        ("max_pages", s.max_pages.is_some(), &[K::Listing]),
        (
            "allow_other_hosts",
            s.allow_other_hosts.is_some(),
            &[K::Listing],
        ),
        ("instance", s.instance.is_some(), &[K::Mastodon]),
        ("hashtag", s.hashtag.is_some(), &[K::Mastodon]),
        ("account", s.account.is_some(), &[K::Mastodon]),
        ("appview", s.appview.is_some(), &[K::Bluesky]),
        ("actor", s.actor.is_some(), &[K::Bluesky]),
        ("query", s.query.is_some(), &[K::Bluesky]),
        ("channel", s.channel.is_some(), &[K::Telegram]),
        ("subreddit", s.subreddit.is_some(), &[K::Reddit]),
        ("channel_id", s.channel_id.is_some(), &[K::Youtube]),
        (
            "base_url",
            s.base_url.is_some(),
            &[K::Telegram, K::Reddit, K::Youtube],
        ),
        ("path", s.path.is_some(), &[K::Jsonl, K::Csv]),
        ("columns", s.columns.is_some(), &[K::Jsonl, K::Csv]),
        ("doc_kind", s.doc_kind.is_some(), &[K::Jsonl, K::Csv]),
        (
            "selectors",
            s.selectors.is_some(),
            &[K::Feed, K::Sitemap, K::Listing],
        ),
    ];
    for (name, set, kinds) in owned {
        if set && !kinds.contains(&kind) {
            let users: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            errors.push(format!(
                "{key}.{name}: not used by kind {:?} (only by {}; {})",
                kind.as_str(),
                users.join(", "),
                kind_keys_hint(kind)
            ));
        }
    }
    let required = |name: &str, v: &Option<String>, errors: &mut Vec<String>| -> Option<String> {
        match v.as_deref().map(str::trim) {
            None => {
                errors.push(format!(
                    "{key}.{name}: required for kind {:?} ({})",
                    kind.as_str(),
                    kind_keys_hint(kind)
                ));
                None
            }
            Some("") => {
                errors.push(format!("{key}.{name}: must not be empty"));
                None
            }
            Some(x) => Some(x.to_string()),
        }
    };
    let one_of = |a: (&str, &Option<String>),
                  b: (&str, &Option<String>),
                  errors: &mut Vec<String>| match (a.1, b.1) {
        (Some(_), Some(_)) => errors.push(format!(
            "{key}.{}: set either {} or {}, not both",
            b.0, a.0, b.0
        )),
        (None, None) => errors.push(format!(
            "{key}.{}: required for kind {:?}: set {} or {}",
            a.0,
            kind.as_str(),
            a.0,
            b.0
        )),
        _ => {}
    };
    match kind {
        K::Feed | K::Sitemap => {}
        K::Listing => {
            required("link_selector", &s.link_selector, errors);
            if matches!(s.next_selector.as_deref(), Some(x) if x.trim().is_empty()) {
                errors.push(format!("{key}.next_selector: must not be empty"));
            }
            if let Some(n) = s.max_pages {
                if n == 0 || n > MAX_MAX_PAGES {
                    errors.push(format!(
                        "{key}.max_pages: {n} is out of range (1 to {MAX_MAX_PAGES})"
                    ));
                }
            }
        }
        K::Mastodon => {
            if let Some(i) = required("instance", &s.instance, errors) {
                check_http_url(&i, &format!("{key}.instance"), errors);
            }
            one_of(("hashtag", &s.hashtag), ("account", &s.account), errors);
            if let Some(h) = &s.hashtag {
                // Mastodon hashtags are letters (any script), digits and `_`.
                if h.is_empty() || !h.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    errors.push(format!(
                        "{key}.hashtag: {h:?} is not a hashtag (letters, digits and '_', without '#')"
                    ));
                }
            }
            if let Some(a) = &s.account {
                let ok = if let Some(rest) = a.strip_prefix('@') {
                    let mut parts = rest.splitn(2, '@');
                    let user = parts.next().unwrap_or_default();
                    let domain = parts.next();
                    is_name(user, b"_.-") && domain.is_none_or(|d| is_name(d, b".-"))
                } else {
                    is_name(a, b"") && a.bytes().all(|b| b.is_ascii_digit())
                };
                if !ok {
                    errors.push(format!(
                        "{key}.account: {a:?} is neither a numeric account id nor @name or @name@domain"
                    ));
                }
            }
        }
        K::Bluesky => {
            if let Some(a) = &s.appview {
                check_http_url(a, &format!("{key}.appview"), errors);
            }
            one_of(("actor", &s.actor), ("query", &s.query), errors);
            if let Some(a) = &s.actor {
                let ok = if a.starts_with("did:") {
                    a.len() > 8 && !a.contains(char::is_whitespace)
                } else {
                    a.contains('.') && is_name(a, b".-")
                };
                if !ok {
                    errors.push(format!(
                        "{key}.actor: {a:?} is neither a handle (name.bsky.social) nor a DID (did:plc:...)"
                    ));
                }
            }
            if matches!(s.query.as_deref(), Some(q) if q.trim().is_empty()) {
                errors.push(format!("{key}.query: must not be empty"));
            }
        }
        K::Telegram => {
            if let Some(c) = required("channel", &s.channel, errors) {
                if !is_name(&c, b"_") {
                    errors.push(format!(
                        "{key}.channel: {c:?} is not a public channel name (letters, digits and '_', without '@' or t.me/)"
                    ));
                }
            }
        }
        K::Reddit => {
            if let Some(r) = required("subreddit", &s.subreddit, errors) {
                if !is_name(&r, b"_") {
                    errors.push(format!(
                        "{key}.subreddit: {r:?} is not a subreddit name (letters, digits and '_', without r/)"
                    ));
                }
            }
        }
        K::Youtube => {
            if let Some(c) = required("channel_id", &s.channel_id, errors) {
                if !is_name(&c, b"_-") {
                    errors.push(format!(
                        "{key}.channel_id: {c:?} is not a channel id (like UCxxxxxxxxxxxxxxxxxxxxxx)"
                    ));
                }
            }
        }
        K::Jsonl | K::Csv => {
            match &s.path {
                None => errors.push(format!(
                    "{key}.path: required for kind {:?} ({})",
                    kind.as_str(),
                    kind_keys_hint(kind)
                )),
                Some(p) if p.as_os_str().is_empty() => {
                    errors.push(format!("{key}.path: must not be empty"))
                }
                Some(_) => {}
            }
            if let Some(cols) = &s.columns {
                for (name, v) in cols.entries() {
                    if matches!(v, Some(x) if x.trim().is_empty()) {
                        errors.push(format!("{key}.columns.{name}: must not be empty"));
                    }
                }
            }
        }
    }
    if let Some(b) = &s.base_url {
        check_http_url(b, &format!("{key}.base_url"), errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
version = 1
[fetch]
allow_private_addresses = true
[[sources]]
id = "glas-doline"
kind = "feed"
url = "http://127.0.0.1:8000/feed.xml"
name = "Glas Doline"
country = "RS"
languages = ["sr", "en"]
"#;

    #[test]
    fn minimal_config_parses_with_defaults() {
        let c = Config::from_toml_str(MINIMAL, "test.toml").unwrap();
        assert!(c.fetch.allow_private_addresses);
        assert_eq!(c.sources.len(), 1);
        let s = &c.sources[0];
        assert_eq!(s.kind, SourceKind::Feed);
        assert!(s.fetch_articles && s.enabled);
        assert_eq!(s.scope, SourceScope::National);
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(s.meta().languages, ["sr", "en"]);
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name_and_position() {
        let text = MINIMAL.replace("name = \"Glas Doline\"", "name = \"G\"\ncolour = \"red\"");
        let err = Config::from_toml_str(&text, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.toml"), "{err}");
        assert!(err.contains("colour"), "{err}");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn every_invalid_value_is_reported_with_its_key() {
        let text = r#"
version = 2
[fetch]
timeout = "0s"
[[sources]]
id = "Bad Id"
kind = "feed"
url = "ftp://x/feed"
name = ""
country = "Serbia"
languages = ["xx"]
interval = "5s"
[[sources]]
id = "dup"
kind = "feed"
url = "https://a.example/feed"
name = "A"
country = "RS"
languages = ["sr"]
[[sources]]
id = "dup"
kind = "sitemap"
url = "https://b.example/sitemap.xml"
name = "B"
country = "HR"
languages = ["hr"]
"#;
        let err = Config::from_toml_str(text, "bad.toml").unwrap_err();
        let ConfigError::Invalid { errors, .. } = &err else {
            panic!("expected Invalid, got {err}");
        };
        let expect = [
            "version:",
            "fetch.timeout:",
            "sources[0] (id \"Bad Id\").id:",
            "sources[0] (id \"Bad Id\").url: scheme \"ftp\"",
            "sources[0] (id \"Bad Id\").name:",
            "sources[0] (id \"Bad Id\").country: \"Serbia\"",
            "sources[0] (id \"Bad Id\").languages[0]: \"xx\"",
            "sources[0] (id \"Bad Id\").interval:",
            "sources[2] (id \"dup\").id: duplicate",
        ];
        for e in expect {
            assert!(
                errors.iter().any(|m| m.starts_with(e)),
                "missing {e:?} in {errors:#?}"
            );
        }
        assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    }

    #[test]
    fn durations_are_human_readable() {
        let text = format!("{MINIMAL}interval = \"1h 30m\"\n");
        let c = Config::from_toml_str(&text, "t").unwrap();
        assert_eq!(c.sources[0].interval, Some(Duration::from_secs(5400)));
    }

    const HEAD: &str = "version = 1\n";

    fn source_toml(body: &str) -> String {
        format!("{HEAD}[[sources]]\nname = \"S\"\ncountry = \"RS\"\nlanguages = [\"sr\"]\n{body}\n")
    }

    fn errors_of(body: &str) -> Vec<String> {
        match Config::from_toml_str(&source_toml(body), "k.toml") {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid { errors, .. }) => errors,
            Err(e) => vec![e.to_string()],
        }
    }

    #[test]
    fn every_platform_kind_parses_in_its_documented_form() {
        let ok = [
            "id = \"l\"\nkind = \"listing\"\nurl = \"https://a.example/vesti\"\nlink_selector = \"h2 a\"\nnext_selector = \"a.next\"\nmax_pages = 2\nallow_other_hosts = true",
            "id = \"m\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\nhashtag = \"refugees\"\nscope = \"social\"",
            "id = \"m2\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\naccount = \"@unhcr@mastodon.social\"",
            "id = \"m3\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\naccount = \"109876\"",
            "id = \"m4\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\nhashtag = \"избеглице\"",
            "id = \"b\"\nkind = \"bluesky\"\nactor = \"unhcr.bsky.social\"",
            "id = \"b2\"\nkind = \"bluesky\"\nquery = \"migranti\"\nappview = \"http://127.0.0.1:9/xrpc\"",
            "id = \"t\"\nkind = \"telegram\"\nchannel = \"infomigrants\"",
            "id = \"r\"\nkind = \"reddit\"\nsubreddit = \"serbia\"\nbase_url = \"http://127.0.0.1:9/reddit\"",
            "id = \"y\"\nkind = \"youtube\"\nchannel_id = \"UCabcdefghijklmnopqrstuv\"",
            "id = \"j\"\nkind = \"jsonl\"\npath = \"data/posts.jsonl\"\ndoc_kind = \"post\"",
            "id = \"c\"\nkind = \"csv\"\npath = \"data/a.csv\"\n[sources.columns]\ntext = \"body\"\npublished = \"date\"",
        ];
        for body in ok {
            let errs = errors_of(body);
            assert!(errs.is_empty(), "{body}\n{errs:#?}");
        }
        let c = Config::from_toml_str(&source_toml(ok[10]), "t").unwrap();
        assert_eq!(c.sources[0].doc_kind, Some(DocKind::Post));
        assert_eq!(c.sources[0].url, "");
        let c = Config::from_toml_str(&source_toml(ok[11]), "t").unwrap();
        let cols = c.sources[0].columns.clone().unwrap();
        assert_eq!(cols.text.as_deref(), Some("body"));
        assert_eq!(cols.id, None);
    }

    #[test]
    fn platform_kinds_name_missing_and_misplaced_keys() {
        let cases: [(&str, &[&str]); 12] = [
            (
                "id = \"l\"\nkind = \"listing\"\nurl = \"https://a.example/\"",
                &["sources[0] (id \"l\").link_selector: required for kind \"listing\""],
            ),
            (
                "id = \"l\"\nkind = \"listing\"\nurl = \"https://a.example/\"\nlink_selector = \"a\"\nmax_pages = 0",
                &["sources[0] (id \"l\").max_pages: 0 is out of range"],
            ),
            (
                "id = \"m\"\nkind = \"mastodon\"\nhashtag = \"#refugees\"",
                &[
                    "sources[0] (id \"m\").instance: required",
                    "sources[0] (id \"m\").hashtag: \"#refugees\" is not a hashtag",
                ],
            ),
            (
                "id = \"m\"\nkind = \"mastodon\"\ninstance = \"https://m.example\"",
                &["sources[0] (id \"m\").hashtag: required for kind \"mastodon\": set hashtag or account"],
            ),
            (
                "id = \"m\"\nkind = \"mastodon\"\ninstance = \"https://m.example\"\nhashtag = \"a\"\naccount = \"@b\"",
                &["sources[0] (id \"m\").account: set either hashtag or account, not both"],
            ),
            (
                "id = \"m\"\nkind = \"mastodon\"\ninstance = \"ftp://m.example\"\naccount = \"bob\"",
                &[
                    "sources[0] (id \"m\").instance: scheme \"ftp\"",
                    "sources[0] (id \"m\").account: \"bob\" is neither",
                ],
            ),
            (
                "id = \"b\"\nkind = \"bluesky\"\nactor = \"not a handle\"",
                &["sources[0] (id \"b\").actor: \"not a handle\""],
            ),
            (
                "id = \"t\"\nkind = \"telegram\"\nchannel = \"t.me/x\"\nurl = \"https://t.me/s/x\"",
                &[
                    "sources[0] (id \"t\").url: not used by kind \"telegram\"",
                    "sources[0] (id \"t\").channel: \"t.me/x\"",
                ],
            ),
            (
                "id = \"r\"\nkind = \"reddit\"\nhashtag = \"x\"",
                &[
                    "sources[0] (id \"r\").hashtag: not used by kind \"reddit\"",
                    "sources[0] (id \"r\").subreddit: required",
                ],
            ),
            (
                "id = \"y\"\nkind = \"youtube\"\nchannel_id = \"\"",
                &["sources[0] (id \"y\").channel_id: must not be empty"],
            ),
            (
                "id = \"c\"\nkind = \"csv\"\n[sources.columns]\ntext = \" \"",
                &[
                    "sources[0] (id \"c\").path: required for kind \"csv\"",
                    "sources[0] (id \"c\").columns.text: must not be empty",
                ],
            ),
            (
                "id = \"f\"\nkind = \"feed\"",
                &["sources[0] (id \"f\").url: required for kind \"feed\""],
            ),
        ];
        for (body, expect) in cases {
            let errs = errors_of(body);
            for e in expect {
                assert!(
                    errs.iter().any(|m| m.starts_with(e)),
                    "missing {e:?} for\n{body}\nin {errs:#?}"
                );
            }
            assert_eq!(errs.len(), expect.len(), "{body}\n{errs:#?}");
        }
    }

    #[test]
    fn tokens_are_never_read_from_the_config() {
        // Platform tokens come from the environment only
        // (MEDIAWATCH_MASTODON_TOKEN, MEDIAWATCH_BLUESKY_TOKEN).
        let text = source_toml(
            "id = \"m\"\nkind = \"mastodon\"\ninstance = \"https://m.example\"\nhashtag = \"a\"\ntoken = \"secret\"",
        );
        let err = Config::from_toml_str(&text, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("token"), "{err}");
        assert!(matches!(
            Config::from_toml_str(&text, "t.toml"),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn kind_names_round_trip() {
        for k in SourceKind::ALL {
            let text = format!("k = \"{}\"", k.as_str());
            #[derive(Deserialize)]
            struct W {
                k: SourceKind,
            }
            let w: W = toml::from_str(&text).unwrap();
            assert_eq!(w.k, k);
        }
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = Config::load(Path::new("/nonexistent/mw.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/mw.toml"));
    }
}
