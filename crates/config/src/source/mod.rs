//! Monitored sources: the settings every source has, and one params struct
//! per kind (Quickwit's `SourceParams`).
//!
//! In version 2 a source's kind-specific keys live in its `params` table,
//! and each kind's struct rejects keys it does not know, so a key of another
//! kind is an error naming the kind and the keys it takes:
//!
//! ```toml
//! [[sources]]
//! id = "n1-srbija"
//! name = "N1 Srbija"
//! country = "RS"
//! languages = ["sr"]
//! kind = "feed"
//! params = { url = "https://n1info.rs/feed/" }
//! ```
//!
//! Version 1's flat layout (kind keys beside `id`) is still read and
//! converted on read (`v1.rs`); a version 1 file may also hold sources in
//! the new layout, a version 2 file only those. `mediawatch config upgrade`
//! rewrites a file.
//!
//! A new kind is a variant of [`SourceKind`] and [`SourceParams`], its params
//! struct here with its [`KindParams`] impl, and its module in the
//! pipeline's `kinds/` (see ARCHITECTURE.md).

use std::path::PathBuf;
use std::time::Duration;

use mediawatch_core::{DocKind, SourceMeta, SourceScope};
use mediawatch_extract::SelectorOverrides;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::CURRENT_VERSION;

mod v1;

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

/// How a source is fetched; its keys are the matching [`SourceParams`]
/// variant's struct. The registry that turns a kind into a poller is
/// `kinds::build` in `mediawatch-pipeline`.
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

    /// The keys of this kind's params, for messages and for reading
    /// version 1 files.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            SourceKind::Feed | SourceKind::Sitemap => ArticleParams::KEYS,
            SourceKind::Listing => ListingParams::KEYS,
            SourceKind::Mastodon => MastodonParams::KEYS,
            SourceKind::Bluesky => BlueskyParams::KEYS,
            SourceKind::Telegram => TelegramParams::KEYS,
            SourceKind::Reddit => RedditParams::KEYS,
            SourceKind::Youtube => YoutubeParams::KEYS,
            SourceKind::Jsonl | SourceKind::Csv => FileParams::KEYS,
        }
    }

    /// What the kind needs, for error messages.
    pub fn hint(self) -> &'static str {
        match self {
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
}

/// One kind's params struct: its keys, and the checks of their values.
pub trait KindParams: Serialize + DeserializeOwned + Default {
    /// Every key the struct accepts.
    const KEYS: &'static [&'static str];
    /// Pushes one message per problem, each starting with `key.<name>`.
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>);
}

/// `feed` and `sitemap`: where the list of articles is, and how their
/// pages are read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArticleParams {
    /// Feed or sitemap URL.
    #[serde(default)]
    pub url: String,
    /// Fetch and extract the linked article pages (else index the feed's
    /// own text only).
    #[serde(default = "default_true")]
    pub fetch_articles: bool,
    /// Extraction overrides for the article pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selectors: Option<SelectorOverrides>,
}

impl Default for ArticleParams {
    fn default() -> Self {
        Self {
            url: String::new(),
            fetch_articles: true,
            selectors: None,
        }
    }
}

impl KindParams for ArticleParams {
    const KEYS: &'static [&'static str] = &["url", "fetch_articles", "selectors"];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        required_url(&self.url, kind, key, errors);
        validate_selectors(self.selectors.as_ref(), key, errors);
    }
}

/// `listing`: an HTML page whose links are the articles.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListingParams {
    /// The listing page (section front, archive).
    #[serde(default)]
    pub url: String,
    /// CSS selector of the `<a>` elements linking to articles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_selector: Option<String>,
    /// CSS selector of the "next page" link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_selector: Option<String>,
    /// Most pages followed per poll (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<usize>,
    /// Keep links to other hosts (default false: same host only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_other_hosts: Option<bool>,
    /// Extraction overrides for the article pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selectors: Option<SelectorOverrides>,
}

impl KindParams for ListingParams {
    const KEYS: &'static [&'static str] = &[
        "url",
        "link_selector",
        "next_selector",
        "max_pages",
        "allow_other_hosts",
        "selectors",
    ];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        required_url(&self.url, kind, key, errors);
        required(key, kind, "link_selector", &self.link_selector, errors);
        if matches!(self.next_selector.as_deref(), Some(x) if x.trim().is_empty()) {
            errors.push(format!("{key}.next_selector: must not be empty"));
        }
        if let Some(n) = self.max_pages {
            if n == 0 || n > MAX_MAX_PAGES {
                errors.push(format!(
                    "{key}.max_pages: {n} is out of range (1 to {MAX_MAX_PAGES})"
                ));
            }
        }
        validate_selectors(self.selectors.as_ref(), key, errors);
    }
}

/// `mastodon`: a hashtag or account timeline of one instance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MastodonParams {
    /// The instance's base URL (`https://mastodon.social`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// A hashtag timeline (without `#`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashtag: Option<String>,
    /// An account timeline: numeric account id, or `@name` /
    /// `@name@domain`, resolved through `/api/v1/accounts/lookup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl KindParams for MastodonParams {
    const KEYS: &'static [&'static str] = &["instance", "hashtag", "account"];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        if let Some(i) = required(key, kind, "instance", &self.instance, errors) {
            check_http_url(&i, &format!("{key}.instance"), errors);
        }
        one_of(
            key,
            kind,
            ("hashtag", &self.hashtag),
            ("account", &self.account),
            errors,
        );
        if let Some(h) = &self.hashtag {
            // Mastodon hashtags are letters (any script), digits and `_`.
            if h.is_empty() || !h.chars().all(|c| c.is_alphanumeric() || c == '_') {
                errors.push(format!(
                    "{key}.hashtag: {h:?} is not a hashtag (letters, digits and '_', without '#')"
                ));
            }
        }
        if let Some(a) = &self.account {
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
}

/// `bluesky`: an author feed or a post search on an AppView.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BlueskyParams {
    /// The AppView XRPC base URL (default the public AppView).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appview: Option<String>,
    /// An author feed: handle (`name.bsky.social`) or DID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// A post search query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

impl KindParams for BlueskyParams {
    const KEYS: &'static [&'static str] = &["appview", "actor", "query"];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        if let Some(a) = &self.appview {
            check_http_url(a, &format!("{key}.appview"), errors);
        }
        one_of(
            key,
            kind,
            ("actor", &self.actor),
            ("query", &self.query),
            errors,
        );
        if let Some(a) = &self.actor {
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
        if matches!(self.query.as_deref(), Some(q) if q.trim().is_empty()) {
            errors.push(format!("{key}.query: must not be empty"));
        }
    }
}

/// `telegram`: a public channel's web preview.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelegramParams {
    /// Public channel name (`t.me/s/<channel>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The site's base URL (default the real site; a mirror or a test
    /// server otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl KindParams for TelegramParams {
    const KEYS: &'static [&'static str] = &["channel", "base_url"];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        if let Some(c) = required(key, kind, "channel", &self.channel, errors) {
            if !is_name(&c, b"_") {
                errors.push(format!(
                    "{key}.channel: {c:?} is not a public channel name (letters, digits and '_', without '@' or t.me/)"
                ));
            }
        }
        check_base_url(self.base_url.as_deref(), key, errors);
    }
}

/// `reddit`: a subreddit's newest posts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RedditParams {
    /// Subreddit name (without `r/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subreddit: Option<String>,
    /// The site's base URL (default the real site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl KindParams for RedditParams {
    const KEYS: &'static [&'static str] = &["subreddit", "base_url"];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        if let Some(r) = required(key, kind, "subreddit", &self.subreddit, errors) {
            if !is_name(&r, b"_") {
                errors.push(format!(
                    "{key}.subreddit: {r:?} is not a subreddit name (letters, digits and '_', without r/)"
                ));
            }
        }
        check_base_url(self.base_url.as_deref(), key, errors);
    }
}

/// `youtube`: a channel's video feed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct YoutubeParams {
    /// Channel id (`UC...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// The site's base URL (default the real site).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl KindParams for YoutubeParams {
    const KEYS: &'static [&'static str] = &["channel_id", "base_url"];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        if let Some(c) = required(key, kind, "channel_id", &self.channel_id, errors) {
            if !is_name(&c, b"_-") {
                errors.push(format!(
                    "{key}.channel_id: {c:?} is not a channel id (like UCxxxxxxxxxxxxxxxxxxxxxx)"
                ));
            }
        }
        check_base_url(self.base_url.as_deref(), key, errors);
    }
}

/// `jsonl` and `csv`: a local file of documents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileParams {
    /// The file to import (relative to the working directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Which column (field) holds each document field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<ColumnsConfig>,
    /// Kind of the imported documents (default `article`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_kind: Option<DocKind>,
}

impl KindParams for FileParams {
    const KEYS: &'static [&'static str] = &["path", "columns", "doc_kind"];
    fn validate(&self, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
        match &self.path {
            None => errors.push(format!(
                "{key}.path: required for kind {:?} ({})",
                kind.as_str(),
                kind.hint()
            )),
            Some(p) if p.as_os_str().is_empty() => {
                errors.push(format!("{key}.path: must not be empty"))
            }
            Some(_) => {}
        }
        if let Some(cols) = &self.columns {
            for (name, v) in cols.entries() {
                if matches!(v, Some(x) if x.trim().is_empty()) {
                    errors.push(format!("{key}.columns.{name}: must not be empty"));
                }
            }
        }
    }
}

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

/// A source's kind with its own keys.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceParams {
    /// RSS / Atom / JSON Feed.
    Feed(ArticleParams),
    /// (News) sitemap or sitemap index.
    Sitemap(ArticleParams),
    /// HTML listing page.
    Listing(ListingParams),
    /// Mastodon timeline.
    Mastodon(MastodonParams),
    /// Bluesky feed or search.
    Bluesky(BlueskyParams),
    /// Telegram channel preview.
    Telegram(TelegramParams),
    /// Subreddit.
    Reddit(RedditParams),
    /// YouTube channel feed.
    Youtube(YoutubeParams),
    /// JSON Lines file.
    Jsonl(FileParams),
    /// CSV file.
    Csv(FileParams),
}

/// Calls `$body` with the params struct of `$params`, whatever its kind.
macro_rules! with_params {
    ($params:expr, $p:ident => $body:expr) => {
        match $params {
            SourceParams::Feed($p) | SourceParams::Sitemap($p) => $body,
            SourceParams::Listing($p) => $body,
            SourceParams::Mastodon($p) => $body,
            SourceParams::Bluesky($p) => $body,
            SourceParams::Telegram($p) => $body,
            SourceParams::Reddit($p) => $body,
            SourceParams::Youtube($p) => $body,
            SourceParams::Jsonl($p) | SourceParams::Csv($p) => $body,
        }
    };
}

impl SourceParams {
    /// The kind these params belong to.
    pub fn kind(&self) -> SourceKind {
        match self {
            SourceParams::Feed(_) => SourceKind::Feed,
            SourceParams::Sitemap(_) => SourceKind::Sitemap,
            SourceParams::Listing(_) => SourceKind::Listing,
            SourceParams::Mastodon(_) => SourceKind::Mastodon,
            SourceParams::Bluesky(_) => SourceKind::Bluesky,
            SourceParams::Telegram(_) => SourceKind::Telegram,
            SourceParams::Reddit(_) => SourceKind::Reddit,
            SourceParams::Youtube(_) => SourceKind::Youtube,
            SourceParams::Jsonl(_) => SourceKind::Jsonl,
            SourceParams::Csv(_) => SourceKind::Csv,
        }
    }

    /// Reads a kind's params table; the kind's struct rejects foreign keys.
    pub fn from_table(kind: SourceKind, table: toml::Table) -> Result<Self, toml::de::Error> {
        fn read<T: KindParams>(t: toml::Table) -> Result<T, toml::de::Error> {
            toml::Value::Table(t).try_into()
        }
        Ok(match kind {
            SourceKind::Feed => SourceParams::Feed(read(table)?),
            SourceKind::Sitemap => SourceParams::Sitemap(read(table)?),
            SourceKind::Listing => SourceParams::Listing(read(table)?),
            SourceKind::Mastodon => SourceParams::Mastodon(read(table)?),
            SourceKind::Bluesky => SourceParams::Bluesky(read(table)?),
            SourceKind::Telegram => SourceParams::Telegram(read(table)?),
            SourceKind::Reddit => SourceParams::Reddit(read(table)?),
            SourceKind::Youtube => SourceParams::Youtube(read(table)?),
            SourceKind::Jsonl => SourceParams::Jsonl(read(table)?),
            SourceKind::Csv => SourceParams::Csv(read(table)?),
        })
    }

    /// The params as a TOML table (what version 2 writes under `params`).
    pub fn to_table(&self) -> toml::Table {
        with_params!(self, p => toml::Table::try_from(p))
            // Every params struct is plain strings, numbers and tables.
            .unwrap_or_default()
    }

    /// Every problem with the values, each message starting with
    /// `key.<name>`.
    pub fn validate(&self, key: &str, errors: &mut Vec<String>) {
        let kind = self.kind();
        with_params!(self, p => p.validate(kind, key, errors))
    }

    /// The feed, sitemap or listing URL (the kinds configured by URL).
    pub fn url(&self) -> Option<&str> {
        match self {
            SourceParams::Feed(p) | SourceParams::Sitemap(p) => Some(&p.url),
            SourceParams::Listing(p) => Some(&p.url),
            _ => None,
        }
    }

    /// Whether items' linked pages are fetched and extracted (a listing
    /// gives nothing but links, so its pages always are).
    pub fn fetches_articles(&self) -> bool {
        match self {
            SourceParams::Feed(p) | SourceParams::Sitemap(p) => p.fetch_articles,
            SourceParams::Listing(_) => true,
            _ => false,
        }
    }

    /// Extraction overrides of the article pages.
    pub fn selectors(&self) -> Option<&SelectorOverrides> {
        match self {
            SourceParams::Feed(p) | SourceParams::Sitemap(p) => p.selectors.as_ref(),
            SourceParams::Listing(p) => p.selectors.as_ref(),
            _ => None,
        }
    }
}

/// One monitored source: what every source has, and its kind's params.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "v1::SourceRepr", into = "v1::SourceRepr")]
pub struct SourceConfig {
    /// Unique id: lowercase letters, digits, `-` and `_`.
    pub id: String,
    /// Outlet name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code (`XK` for Kosovo).
    pub country: String,
    /// ISO 639-1 languages; the first is the default for undetected text.
    pub languages: Vec<String>,
    /// National, regional, local or social.
    pub scope: SourceScope,
    /// Audience tags for the audience map.
    pub audience: Vec<String>,
    /// Estimated monthly reach, weights the audience map.
    pub reach: Option<u64>,
    /// Poll interval; the scheduler default when absent.
    pub interval: Option<Duration>,
    /// Disabled sources stay in the config and the state but are not polled.
    pub enabled: bool,
    /// The kind and its keys.
    pub params: SourceParams,
    /// How the file wrote it (version 1's flat keys or a `params` table),
    /// for the version checks in `validate`.
    written: Written,
}

/// How a source was written; never part of equality.
#[derive(Debug, Clone, Default)]
struct Written {
    /// Kind keys written flat beside `id` (version 1's layout).
    flat: Vec<String>,
    /// Flat keys that belong to another kind (dropped, reported).
    misplaced: Vec<String>,
    /// Whether a `params` table was written (version 2's layout).
    params_table: bool,
}

impl PartialEq for Written {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

fn default_true() -> bool {
    true
}

impl SourceConfig {
    /// The kind.
    pub fn kind(&self) -> SourceKind {
        self.params.kind()
    }

    /// The feed, sitemap or listing URL; empty for the kinds that build
    /// their URL or read a file.
    pub fn url(&self) -> &str {
        self.params.url().unwrap_or_default()
    }

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

    /// Every problem with the source, each message starting with `key`.
    /// `version` is the file's: it decides which layout is expected.
    pub(crate) fn validate(&self, version: u32, key: &str, errors: &mut Vec<String>) {
        if self.id.is_empty() {
            errors.push(format!("{key}.id: must not be empty"));
        } else if !self
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            errors.push(format!(
                "{key}.id: {:?} may contain only lowercase letters, digits, '-' and '_'",
                self.id
            ));
        }
        let kind = self.kind();
        let params_key = if self.written.params_table || (version >= 2 && !self.is_flat()) {
            format!("{key}.params")
        } else {
            key.to_string()
        };
        // Version 1 files may hold sources in either layout (entries
        // pasted from current docs or `sources import-opml` work there);
        // version 2 has only the params table.
        if version == CURRENT_VERSION {
            for name in &self.written.flat {
                errors.push(format!(
                    "{key}.{name}: version 2 keeps the keys of kind {:?} in its params table (params = {{ {name} = ... }}); `mediawatch config upgrade` rewrites a version 1 file",
                    kind.as_str()
                ));
            }
        }
        for name in &self.written.misplaced {
            let users: Vec<&str> = SourceKind::ALL
                .iter()
                .filter(|k| k.keys().contains(&name.as_str()))
                .map(|k| k.as_str())
                .collect();
            errors.push(format!(
                "{key}.{name}: not used by kind {:?} (only by {}; {})",
                kind.as_str(),
                users.join(", "),
                kind.hint()
            ));
        }
        self.params.validate(&params_key, errors);
        if self.name.trim().is_empty() {
            errors.push(format!("{key}.name: must not be empty"));
        }
        if !crate::COUNTRIES.contains(&self.country.as_str()) {
            errors.push(format!(
                "{key}.country: {:?} is not an ISO 3166-1 alpha-2 code in upper case (e.g. \"RS\", \"XK\")",
                self.country
            ));
        }
        if self.languages.is_empty() {
            errors.push(format!("{key}.languages: list at least one ISO 639-1 code"));
        }
        for (j, l) in self.languages.iter().enumerate() {
            if !crate::LANGUAGES.contains(&l.as_str()) {
                errors.push(format!(
                    "{key}.languages[{j}]: {l:?} is not a supported ISO 639-1 code ({})",
                    crate::LANGUAGES.join(", ")
                ));
            }
        }
        if let Some(d) = self.interval {
            if d < Duration::from_secs(60) {
                errors.push(format!(
                    "{key}.interval: {} is too short (at least 1m, to stay polite)",
                    humantime_serde::re::humantime::format_duration(d)
                ));
            }
        }
    }

    /// Whether the source was written in version 1's flat layout.
    pub fn is_flat(&self) -> bool {
        !self.written.flat.is_empty()
    }
}

/// A URL-configured kind's `url`: present and http(s).
fn required_url(url: &str, kind: SourceKind, key: &str, errors: &mut Vec<String>) {
    if url.is_empty() {
        errors.push(format!("{key}.url: required for kind {:?}", kind.as_str()));
    } else {
        check_http_url(url, &format!("{key}.url"), errors);
    }
}

/// A required string key: present and not blank; its trimmed value.
fn required(
    key: &str,
    kind: SourceKind,
    name: &str,
    v: &Option<String>,
    errors: &mut Vec<String>,
) -> Option<String> {
    match v.as_deref().map(str::trim) {
        None => {
            errors.push(format!(
                "{key}.{name}: required for kind {:?} ({})",
                kind.as_str(),
                kind.hint()
            ));
            None
        }
        Some("") => {
            errors.push(format!("{key}.{name}: must not be empty"));
            None
        }
        Some(x) => Some(x.to_string()),
    }
}

/// Exactly one of two alternative keys.
fn one_of(
    key: &str,
    kind: SourceKind,
    a: (&str, &Option<String>),
    b: (&str, &Option<String>),
    errors: &mut Vec<String>,
) {
    match (a.1, b.1) {
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
    }
}

fn check_base_url(base: Option<&str>, key: &str, errors: &mut Vec<String>) {
    if let Some(b) = base {
        check_http_url(b, &format!("{key}.base_url"), errors);
    }
}

fn validate_selectors(sel: Option<&SelectorOverrides>, key: &str, errors: &mut Vec<String>) {
    let Some(sel) = sel else { return };
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

/// Checks that `value` is an absolute http(s) URL with a host.
pub(crate) fn check_http_url(value: &str, key: &str, errors: &mut Vec<String>) {
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

/// Whether `s` is non-empty and only ASCII letters, digits and the `extra` bytes.
fn is_name(s: &str, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

#[cfg(test)]
mod tests {
    use crate::{Config, ConfigError, SourceParams};

    fn config(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, "v.toml")
    }

    const COMMON: &str = "name = \"S\"\ncountry = \"RS\"\nlanguages = [\"sr\"]\n";

    /// The same sources in both layouts.
    const PAIRS: [(&str, &str, &str); 5] = [
        (
            "feed",
            "url = \"https://a.example/feed\"\nfetch_articles = false",
            "params = { url = \"https://a.example/feed\", fetch_articles = false }",
        ),
        (
            "listing",
            "url = \"https://a.example/\"\nlink_selector = \"h2 a\"\nmax_pages = 2\n[sources.selectors]\nbody = \"article\"",
            "[sources.params]\nurl = \"https://a.example/\"\nlink_selector = \"h2 a\"\nmax_pages = 2\n[sources.params.selectors]\nbody = \"article\"",
        ),
        (
            "mastodon",
            "instance = \"https://mastodon.social\"\nhashtag = \"refugees\"",
            "params = { instance = \"https://mastodon.social\", hashtag = \"refugees\" }",
        ),
        (
            "reddit",
            "subreddit = \"serbia\"\nbase_url = \"http://127.0.0.1:9/r\"",
            "params = { subreddit = \"serbia\", base_url = \"http://127.0.0.1:9/r\" }",
        ),
        (
            "csv",
            "path = \"a.csv\"\ndoc_kind = \"comment\"\n[sources.columns]\ntext = \"body\"",
            "[sources.params]\npath = \"a.csv\"\ndoc_kind = \"comment\"\ncolumns = { text = \"body\" }",
        ),
    ];

    #[test]
    fn version_1_is_converted_on_read_to_what_version_2_says() {
        for (kind, flat, params) in PAIRS {
            let v1 = config(&format!(
                "version = 1\n[[sources]]\nid = \"s\"\nkind = \"{kind}\"\n{COMMON}{flat}\n"
            ))
            .unwrap_or_else(|e| panic!("{kind} v1: {e}"));
            let v2 = config(&format!(
                "version = 2\n[[sources]]\nid = \"s\"\nkind = \"{kind}\"\n{COMMON}{params}\n"
            ))
            .unwrap_or_else(|e| panic!("{kind} v2: {e}"));
            assert_eq!(v1.sources, v2.sources, "{kind}");
            assert_eq!(v1.sources[0].kind().as_str(), kind);
            assert!(v1.sources[0].is_flat() && !v2.sources[0].is_flat());
            assert_eq!(v1.notes("v.toml").len(), 1, "{kind}");
            assert!(v1.notes("v.toml")[0].contains("mediawatch config upgrade v.toml"));
            assert!(v2.notes("v.toml").is_empty());
            // What `config upgrade` prints reads back as the same config.
            let upgraded =
                config(&v1.to_toml().unwrap()).unwrap_or_else(|e| panic!("{kind} upgraded: {e}"));
            assert_eq!(upgraded.version, 2);
            assert_eq!(upgraded.sources, v1.sources, "{kind}");
            assert_eq!(upgraded.fetch, v1.fetch);
        }
        let c = config(&format!(
            "version = 2\n[[sources]]\nid = \"s\"\nkind = \"feed\"\n{COMMON}{}\n",
            PAIRS[0].2
        ))
        .unwrap();
        assert_eq!(c.sources[0].url(), "https://a.example/feed");
        assert!(!c.sources[0].params.fetches_articles());
        assert!(matches!(c.sources[0].params, SourceParams::Feed(_)));
    }

    #[test]
    fn a_params_table_rejects_another_kinds_key_with_its_position() {
        let text = format!(
            "version = 2\n[[sources]]\nid = \"r\"\nkind = \"reddit\"\n{COMMON}params = {{ subreddit = \"serbia\", hashtag = \"x\" }}\n"
        );
        let err = config(&text).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
        let msg = err.to_string();
        for want in ["v.toml", "line", "reddit", "hashtag", "subreddit"] {
            assert!(msg.contains(want), "{want} missing in {msg}");
        }
    }

    #[test]
    fn version_2_takes_only_the_params_layout() {
        let flat_in_v2 = format!(
            "version = 2\n[[sources]]\nid = \"f\"\nkind = \"feed\"\n{COMMON}url = \"https://a.example/feed\"\n"
        );
        let ConfigError::Invalid { errors, .. } = config(&flat_in_v2).unwrap_err() else {
            panic!("expected Invalid");
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("sources[0] (id \"f\").url: version 2 keeps")
                && errors[0].contains("config upgrade"),
            "{errors:?}"
        );
        // A version 1 file takes entries written in the current layout.
        let params_in_v1 = format!(
            "version = 1\n[[sources]]\nid = \"f\"\nkind = \"feed\"\n{COMMON}params = {{ url = \"https://a.example/feed\" }}\n"
        );
        assert_eq!(
            config(&params_in_v1).unwrap().sources[0].url(),
            "https://a.example/feed"
        );
        // Version 2 names problems inside the params table by their path.
        let missing = format!(
            "version = 2\n[[sources]]\nid = \"l\"\nkind = \"listing\"\n{COMMON}params = {{ url = \"https://a.example/\", max_pages = 0 }}\n"
        );
        let ConfigError::Invalid { errors, .. } = config(&missing).unwrap_err() else {
            panic!("expected Invalid");
        };
        assert!(errors
            .iter()
            .any(|e| e.starts_with("sources[0] (id \"l\").params.link_selector: required")));
        assert!(errors
            .iter()
            .any(|e| e.starts_with("sources[0] (id \"l\").params.max_pages: 0 is out of range")));
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn every_kind_lists_its_keys_and_reads_an_empty_table() {
        for kind in crate::SourceKind::ALL {
            let p = SourceParams::from_table(kind, toml::Table::new()).unwrap();
            assert_eq!(p.kind(), kind);
            for key in p.to_table().keys() {
                assert!(kind.keys().iter().any(|k| k == key), "{kind:?} {key}");
            }
        }
    }
}
