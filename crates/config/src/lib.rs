//! Configuration: parse (serde, unknown keys rejected), validate (every
//! problem reported at once, each with its key), then hand typed values to
//! the stages. Modelled on Quickwit's `quickwit-config`.
//!
//! Durations are human-readable (`"30m"`, `"1h 30m"`), sizes are bytes.
//! Secrets (API tokens) never live here: they come from the environment.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mediawatch_core::{SourceMeta, SourceScope};
use serde::{Deserialize, Serialize};

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
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_string(),
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

/// How a source is fetched.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// RSS / Atom / JSON Feed; linked article pages are fetched and extracted.
    Feed,
    /// A (news) sitemap or sitemap index; listed pages are fetched and extracted.
    Sitemap,
}

impl SourceKind {
    /// Name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Sitemap => "sitemap",
        }
    }
}

/// CSS selectors that override automatic extraction for one source.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelectorsConfig {
    /// Headline element.
    pub title: Option<String>,
    /// Main text container.
    pub body: Option<String>,
    /// Byline element.
    pub byline: Option<String>,
    /// Publication date element.
    pub published: Option<String>,
    /// Elements removed before extraction.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Each reader comment.
    pub comments: Option<String>,
    /// Text of a comment, inside `comments`.
    pub comment_text: Option<String>,
    /// Author of a comment, inside `comments`.
    pub comment_author: Option<String>,
}

/// One monitored source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique id: lowercase letters, digits, `-` and `_`.
    pub id: String,
    /// How it is fetched.
    pub kind: SourceKind,
    /// Feed or sitemap URL.
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
    pub selectors: Option<SelectorsConfig>,
    /// Disabled sources stay in the config and the state but are not polled.
    #[serde(default = "default_true")]
    pub enabled: bool,
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
    match url::Url::parse(&s.url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            if u.host_str().is_none() {
                errors.push(format!("{key}.url: {:?} has no host", s.url));
            }
        }
        Ok(u) => errors.push(format!(
            "{key}.url: scheme {:?} is not supported (use http or https)",
            u.scheme()
        )),
        Err(e) => errors.push(format!("{key}.url: {:?} is not a URL: {e}", s.url)),
    }
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

    #[test]
    fn missing_file_names_the_path() {
        let err = Config::load(Path::new("/nonexistent/mw.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/mw.toml"));
    }
}
