//! Configuration: parse (serde, unknown keys rejected), validate (every
//! problem reported at once, each with its key), then hand typed values to
//! the stages. Modelled on Quickwit's `quickwit-config`.
//!
//! Durations are human-readable (`"30m"`, `"1h 30m"`), sizes are bytes.
//! Secrets (API tokens) never live here: they come from the environment.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use mediawatch_extract::SelectorOverrides;
use serde::{Deserialize, Serialize};

mod source;
pub use source::{
    ArticleParams, BlueskyParams, ColumnsConfig, FileParams, KindParams, ListingParams,
    MastodonParams, RedditParams, SourceConfig, SourceKind, SourceParams, TelegramParams,
    YoutubeParams, DEFAULT_BLUESKY_APPVIEW, DEFAULT_MAX_PAGES, DEFAULT_REDDIT_BASE,
    DEFAULT_TELEGRAM_BASE, DEFAULT_YOUTUBE_BASE, MAX_MAX_PAGES,
};
mod classifier;
mod cluster;
mod revisit;
mod state;
pub use classifier::{
    ClassifierConfig, ClassifierKind, DeviceSpec, RustBertConfig, HATE_CLASSES, THRESHOLD_HEADS,
};
pub use cluster::ClusterConfig;
pub use revisit::{RevisitConfig, RevisitScope};
pub use state::{StateBackendKind, StateConfig, POSTGRES_URL_ENV};
mod alerts;
pub use alerts::{
    validate_rule, validate_saved_search, AlertMetric, AlertRule, AlertsConfig, SavedSearchConfig,
    SmtpChannel, SmtpSecurity, WebhookChannel, MAX_BASELINE_WINDOWS, MIN_ALERT_WINDOW,
    MIN_BASELINE_WINDOWS,
};

/// The config format version this build writes. Version 1 (kind keys
/// beside a source's `id`) is still read, converted on read.
pub const CURRENT_VERSION: u32 = 2;

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
    /// Format version: 2 (1 is read and converted).
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
    /// Where the state is kept (SQLite in the data directory, or PostgreSQL).
    #[serde(default)]
    pub state: StateConfig,
    /// Re-checks of stored articles and comment sections (`[revisit]`).
    #[serde(default)]
    pub revisit: RevisitConfig,
    /// Running as a cluster of roles over NATS JetStream (`[cluster]`);
    /// absent on a single machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
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
    /// Threads that build index segments in `run` and `ingest`, each with
    /// an equal share of `writer_heap_bytes` (0: a quarter of the cores, at
    /// least one). There the cores are shared with fetching, extraction
    /// and classification, and one thread with the whole heap builds
    /// segments twice the size, so the merges that follow do half the
    /// work: on two cores, 17% more articles per second end to end and
    /// 100 MB less peak memory than a thread per core (BENCHMARKS.md).
    /// `reindex` and a cluster's index nodes, which do nothing else, use
    /// every core.
    pub indexing_threads: usize,
    /// Longest time a document waits before it is committed and searchable.
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    /// Lemma lists for inflection-aware search (`<code>.txt` files,
    /// `lemma: form form ...`): irregular forms the light stemmers miss. A
    /// new index takes them; after editing them, `mediawatch reindex`.
    pub lemmas: std::path::PathBuf,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            writer_heap_bytes: 64 * 1024 * 1024,
            indexing_threads: 0,
            commit_interval: Duration::from_secs(30),
            lemmas: std::path::PathBuf::from("config/lemmas"),
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
        if !(1..=CURRENT_VERSION).contains(&self.version) {
            errors.push(format!(
                "version: {} is not supported (this build reads versions 1 to {CURRENT_VERSION})",
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
        if self.index.indexing_threads > 8 {
            errors.push(format!(
                "index.indexing_threads: {} is too many (at most 8; 0 chooses)",
                self.index.indexing_threads
            ));
        } else if self.index.indexing_threads > 0
            && self.index.writer_heap_bytes / self.index.indexing_threads < 15_000_000
        {
            // Each thread gets an equal share; tantivy refuses less than ~15 MB.
            errors.push(format!(
                "index.indexing_threads: {} threads would get {} bytes each of index.writer_heap_bytes = {} (each needs at least 15000000)",
                self.index.indexing_threads,
                self.index.writer_heap_bytes / self.index.indexing_threads,
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
        self.state.validate_into(&mut errors);
        self.revisit.validate_into(&mut errors);
        if let Some(c) = &self.cluster {
            // `[state] backend = "postgres"` is checked where a role starts
            // (`mediawatch node`): `cluster up` sets it itself.
            c.validate_into(&mut errors);
        }
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
            s.validate(self.version, &key, &mut errors);
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

    /// Things worth telling whoever loaded the file that are not errors:
    /// an older format version, with how to upgrade.
    pub fn notes(&self, origin: &str) -> Vec<String> {
        let mut notes = Vec::new();
        if self.version < CURRENT_VERSION {
            notes.push(format!(
                "{origin} is config version {}, read by converting it; `mediawatch config upgrade {origin}` prints it as version {CURRENT_VERSION} (each source's kind keys in its params table)",
                self.version
            ));
        }
        notes
    }

    /// The config as a version-2 TOML file: what `mediawatch config
    /// upgrade` prints. Every value is written, defaults included; comments
    /// of the original file are not kept.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let mut upgraded = self.clone();
        upgraded.version = CURRENT_VERSION;
        toml::to_string(&upgraded).map_err(|e| ConfigError::Parse {
            path: "<upgrade>".into(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_core::{DocKind, SourceScope};

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
        assert_eq!(s.kind(), SourceKind::Feed);
        assert!(s.params.fetches_articles() && s.enabled);
        assert_eq!(s.scope, SourceScope::National);
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert_eq!(s.meta().languages, ["sr", "en"]);
    }

    #[test]
    fn indexing_threads_are_checked_against_the_heap() {
        let with = |threads: usize, heap: usize| {
            Config::from_toml_str(
                &format!(
                    "{MINIMAL}\n[index]\nindexing_threads = {threads}\nwriter_heap_bytes = {heap}\n"
                ),
                "t.toml",
            )
        };
        assert_eq!(with(2, 64 << 20).unwrap().index.indexing_threads, 2);
        let err = with(4, 32 << 20).unwrap_err().to_string();
        assert!(
            err.contains("index.indexing_threads") && err.contains("15000000"),
            "{err}"
        );
        let err = with(9, 1 << 30).unwrap_err().to_string();
        assert!(err.contains("at most 8"), "{err}");
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
version = 3
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
        let SourceParams::Jsonl(p) = &c.sources[0].params else {
            panic!("{:?}", c.sources[0].params)
        };
        assert_eq!(p.doc_kind, Some(DocKind::Post));
        assert_eq!(c.sources[0].url(), "");
        let c = Config::from_toml_str(&source_toml(ok[11]), "t").unwrap();
        let SourceParams::Csv(p) = &c.sources[0].params else {
            panic!("{:?}", c.sources[0].params)
        };
        let cols = p.columns.clone().unwrap();
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

    /// `[cluster]` needs well-formed addresses and durations; every
    /// problem is named by its key.
    #[test]
    fn cluster_section_is_validated() {
        let ok = "version = 2\n[state]\nbackend = \"postgres\"\nurl = \"postgres://mw@127.0.0.1:5432/mw\"\n\
                  [cluster]\nnats = [\"nats://127.0.0.1:4222\"]\nstream_replicas = 3\n\
                  index_nodes = [\"http://127.0.0.1:7711\"]\njob_ack_wait = \"30s\"\n";
        let c = Config::from_toml_str(ok, "cluster.toml").expect("valid cluster config");
        let cl = c.cluster.expect("cluster section");
        assert_eq!(cl.stream_replicas, 3);
        assert_eq!(cl.job_ack_wait, Duration::from_secs(30));
        let bad = "version = 2\n[cluster]\nnats = [\"127.0.0.1:4222\"]\nstream_replicas = 7\n\
                   index_nodes = [\"ftp://x\"]\nclaim_lease = \"1s\"\n";
        let Err(ConfigError::Invalid { errors, .. }) = Config::from_toml_str(bad, "bad.toml")
        else {
            panic!("invalid cluster config accepted");
        };
        let all = errors.join("\n");
        for key in [
            "cluster.nats[0]",
            "cluster.stream_replicas",
            "cluster.index_nodes[0]",
            "cluster.claim_lease",
        ] {
            assert!(all.contains(key), "{key} not reported in:\n{all}");
        }
        let unknown = "version = 2\n[cluster]\nnatz = []\n";
        assert!(Config::from_toml_str(unknown, "u.toml").is_err());
    }
}
