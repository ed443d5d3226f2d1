//! Source kinds: one module per kind, each with its `build` (the running
//! form of its config params) and its `list` (the items of one poll).
//!
//! This module is the registry: [`build`] maps a config's params to a
//! [`Poller`], and [`Poller::list`] calls the kind's module. A new kind is
//! its module, one variant and one arm in each of those two matches, and
//! its params struct in `mediawatch-config` (see ARCHITECTURE.md).

mod bluesky;
mod feed;
mod file;
mod listing;
mod mastodon;
mod reddit;
mod sitemap;
mod telegram;
mod youtube;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mediawatch_config::{SourceConfig, SourceKind, SourceParams};
use mediawatch_core::{canonicalize_url, DocId, DocKind, Document};
use mediawatch_extract::ExtractOptions;
use mediawatch_fetch::{FetchRequest, FetchResponse};
use mediawatch_ingest::FeedEntry;

pub(crate) use file::FileSpec;
pub(crate) use listing::ListingSpec;
pub(crate) use mastodon::MastodonSpec;
#[cfg(test)]
use mastodon::MastodonTarget;

use crate::source::{cancelled, Net, PollFailure, SourceRuntime};

const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";
const SITEMAP_ACCEPT: &str = "application/xml, text/xml;q=0.9, */*;q=0.5";
const JSON_ACCEPT: &str = "application/json, */*;q=0.5";
const HTML_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";

/// How a source is polled. Platform variants carry the endpoint URL built
/// from the config once, at startup.
#[derive(Debug, Clone)]
pub(crate) enum Poller {
    Feed,
    Sitemap,
    Listing(ListingSpec),
    Mastodon(MastodonSpec),
    /// Bluesky author feed or search URL.
    Bluesky(String),
    /// Telegram channel preview URL.
    Telegram(String),
    /// Subreddit `new.json` URL.
    Reddit(String),
    /// YouTube channel feed URL.
    Youtube(String),
    Jsonl(FileSpec),
    Csv(FileSpec),
}

/// Builds the running form of one source. Keys were checked by config
/// validation; what can fail here is what validation cannot judge (CSS
/// syntax) or a config built in code without validation. Errors are
/// relative keys (`selectors.body: ...`).
pub(crate) fn build(sc: &SourceConfig) -> Result<SourceRuntime, Vec<String>> {
    let mut extract = ExtractOptions::default();
    if let Some(sel) = sc.params.selectors() {
        if let Err(e) = mediawatch_extract::validate_selectors(sel) {
            return Err(vec![format!("selectors: {e}")]);
        }
        extract.selectors = sel.clone();
    }
    let poller = match &sc.params {
        SourceParams::Feed(_) => Poller::Feed,
        SourceParams::Sitemap(_) => Poller::Sitemap,
        SourceParams::Listing(p) => listing::build(p)?,
        SourceParams::Mastodon(p) => mastodon::build(p)?,
        SourceParams::Bluesky(p) => bluesky::build(p)?,
        SourceParams::Telegram(p) => telegram::build(p)?,
        SourceParams::Reddit(p) => reddit::build(p)?,
        SourceParams::Youtube(p) => youtube::build(p)?,
        SourceParams::Jsonl(p) => Poller::Jsonl(file::build(p, "jsonl")?),
        SourceParams::Csv(p) => Poller::Csv(file::build(p, "csv")?),
    };
    Ok(SourceRuntime {
        cfg: sc.clone(),
        meta: Arc::new(sc.meta()),
        poller,
        extract,
        api_headers: api_headers(token_var(sc.kind()).and_then(std::env::var_os)),
    })
}

impl Poller {
    /// Lists the items of one poll, whatever the kind.
    pub(crate) async fn list(&self, cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
        match self {
            Poller::Feed => feed::list(cx).await,
            Poller::Sitemap => sitemap::list(cx).await,
            Poller::Listing(spec) => listing::list(spec, cx).await,
            Poller::Mastodon(spec) => mastodon::list(spec, cx).await,
            Poller::Bluesky(url) => bluesky::list(url, cx).await,
            Poller::Telegram(url) => telegram::list(url, cx).await,
            Poller::Reddit(url) => reddit::list(url, cx).await,
            Poller::Youtube(url) => youtube::list(url, cx).await,
            Poller::Jsonl(spec) => file::list(spec, false, cx).await,
            Poller::Csv(spec) => file::list(spec, true, cx).await,
        }
    }
}

/// Environment variable holding a platform's API token, by kind.
pub(crate) fn token_var(kind: SourceKind) -> Option<&'static str> {
    match kind {
        SourceKind::Mastodon => Some(mastodon::TOKEN_VAR),
        SourceKind::Bluesky => Some(bluesky::TOKEN_VAR),
        _ => None,
    }
}

/// `Authorization: Bearer <token>` when a token is set. Public endpoints
/// need none; tokens come only from the environment, never the config. The
/// fetch layer sends these headers to the request's own host only.
pub(crate) fn api_headers(token: Option<std::ffi::OsString>) -> Vec<(String, String)> {
    token
        .and_then(|t| t.into_string().ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .map(|t| vec![("Authorization".to_string(), format!("Bearer {t}"))])
        .unwrap_or_default()
}

/// What a kind's `list` works with: the source, the network, and the
/// validators (ETag, Last-Modified) that make the main request conditional.
pub(crate) struct ListCx<'a> {
    pub rt: &'a SourceRuntime,
    pub net: Net<'a>,
    pub validators: (Option<String>, Option<String>),
}

impl ListCx<'_> {
    fn id(&self) -> &str {
        &self.rt.cfg.id
    }

    /// Fetches `url` with the platform headers; conditional on the stored
    /// validators when `conditional`. `Ok(None)` is a 304.
    async fn get(
        &self,
        url: &str,
        accept: &str,
        conditional: bool,
    ) -> Result<Option<FetchResponse>, PollFailure> {
        let v = conditional.then_some(&self.validators);
        let req = FetchRequest {
            url: url.to_string(),
            etag: v.and_then(|v| v.0.clone()),
            last_modified: v.and_then(|v| v.1.clone()),
            accept: Some(accept.to_string()),
            headers: self.rt.api_headers.clone(),
        };
        match self.net.fetch(&req).await {
            Ok(r) if r.not_modified => Ok(None),
            Ok(r) => Ok(Some(r)),
            Err(Some(e)) => Err(PollFailure::fetch(self.id(), &e)),
            Err(None) => Err(cancelled(self.id())),
        }
    }

    fn parse_failure(&self, what: &str, url: &str, e: impl std::fmt::Display) -> PollFailure {
        PollFailure {
            kind: "parse".into(),
            message: format!(
                "source {}: {what} {url} could not be parsed: {e}",
                self.id()
            ),
            retry_after: None,
        }
    }

    /// A platform endpoint's posts as items; skipped entries become problems.
    fn posts(&self, resp: &FetchResponse, page: mediawatch_ingest::PostPage, what: &str) -> Listed {
        let items = page
            .posts
            .into_iter()
            .map(|p| post_item(self.rt, p))
            .collect();
        let problems = page
            .skipped
            .into_iter()
            .map(|m| format!("source {}: {what} {}: skipped {m}", self.id(), resp.url))
            .collect();
        Listed::Items(Listing::from_response(resp, items, problems))
    }

    /// One conditional request to a platform endpoint, parsed into posts.
    async fn platform(
        &self,
        url: &str,
        accept: &str,
        what: &str,
        parse: impl FnOnce(
            &FetchResponse,
        )
            -> Result<mediawatch_ingest::PostPage, mediawatch_ingest::IngestError>,
    ) -> Result<Listed, PollFailure> {
        let Some(resp) = self.get(url, accept, true).await? else {
            return Ok(Listed::NotModified { max_age: None });
        };
        let page = parse(&resp).map_err(|e| self.parse_failure(what, url, e))?;
        Ok(self.posts(&resp, page, what))
    }
}

/// What a source lists in one poll.
pub(crate) enum Listed {
    /// The main URL answered 304.
    NotModified {
        max_age: Option<Duration>,
    },
    Items(Listing),
}

pub(crate) struct Listing {
    pub items: Vec<Item>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub max_age: Option<Duration>,
    /// Per-entry problems (a skipped status, a bad CSV row, a child
    /// sitemap that failed): each is one error in the pass report.
    pub problems: Vec<String>,
}

impl Listing {
    /// Items listed.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    fn from_response(resp: &FetchResponse, items: Vec<Item>, problems: Vec<String>) -> Self {
        Listing {
            items,
            etag: resp.etag.clone(),
            last_modified: resp.last_modified.clone(),
            max_age: resp.max_age,
            problems,
        }
    }
}

/// A listed item, whatever the source kind.
pub(crate) struct Item {
    pub key: String,
    pub link: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// A stated modification time (a feed entry's `updated`, a sitemap's
    /// `lastmod`): the document's date when it states no publication time.
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    /// Feed-provided HTML (content, else summary), used when the page cannot be fetched.
    pub html: Option<String>,
    /// A document complete without any page fetch (social posts, imported
    /// rows); its language is settled in `item_documents`.
    pub prebuilt: Option<Box<Document>>,
}

impl Item {
    /// An item that is only a link to an article page.
    fn link(url: String) -> Self {
        Item {
            key: url.clone(),
            link: Some(url),
            title: None,
            published: None,
            updated: None,
            authors: Vec::new(),
            html: None,
            prebuilt: None,
        }
    }
}

impl From<FeedEntry> for Item {
    fn from(e: FeedEntry) -> Self {
        Item {
            key: e.id,
            link: e.link,
            title: e.title,
            published: e.published,
            updated: e.updated,
            authors: e.authors,
            html: e.content.or(e.summary),
            prebuilt: None,
        }
    }
}

/// An item whose document is the post itself.
fn post_item(rt: &SourceRuntime, p: mediawatch_ingest::SocialPost) -> Item {
    let url = p
        .url
        .as_deref()
        .and_then(|u| canonicalize_url(u).ok())
        .unwrap_or_default();
    let doc = Document {
        id: DocId::from_platform(&p.platform, &p.id),
        source_id: rt.cfg.id.clone(),
        url,
        title: p.title.clone().unwrap_or_default(),
        text: p.text,
        author: p.author.clone(),
        published: p.published,
        modified: None,
        fetched: Utc::now(),
        lang: p.lang,
        kind: DocKind::Post,
        parent_id: None,
        labels: None,
    };
    Item {
        key: p.id,
        link: None,
        title: p.title,
        published: p.published,
        updated: None,
        authors: p.author.into_iter().collect(),
        html: None,
        prebuilt: Some(Box::new(doc)),
    }
}

#[cfg(test)]
mod tests {

    /// A feed entry with only an update time keeps it as such: the item is
    /// dated by its modification, not passed off as published; an entry
    /// with both keeps its publication time.
    #[test]
    fn feed_entries_keep_publication_and_update_times_apart() {
        let t = |d: u32| {
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, d, 12, 0, 0)
                .single()
                .expect("valid date")
        };
        let only_updated = Item::from(FeedEntry {
            id: "a".into(),
            updated: Some(t(2)),
            ..FeedEntry::default()
        });
        assert_eq!(
            (only_updated.published, only_updated.updated),
            (None, Some(t(2)))
        );
        let both = Item::from(FeedEntry {
            id: "b".into(),
            published: Some(t(1)),
            updated: Some(t(3)),
            ..FeedEntry::default()
        });
        assert_eq!(both.published, Some(t(1)));
    }
    use super::*;
    use mediawatch_config::Config;
    use mediawatch_fetch::Fetcher;

    fn source(body: &str) -> SourceConfig {
        let text = format!(
            "version = 1\n[[sources]]\nname = \"S\"\ncountry = \"RS\"\nlanguages = [\"sr\"]\n{body}\n"
        );
        Config::from_toml_str(&text, "t.toml")
            .unwrap_or_else(|e| panic!("{e}"))
            .sources
            .remove(0)
    }

    fn poller(body: &str) -> Poller {
        build(&source(body))
            .unwrap_or_else(|e| panic!("{e:?}"))
            .poller
    }

    #[test]
    fn registry_builds_each_platform_endpoint_from_the_config() {
        match poller("id = \"m\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\nhashtag = \"refugees\"") {
            Poller::Mastodon(MastodonSpec {
                host,
                target: MastodonTarget::Timeline(url),
            }) => {
                assert_eq!(host, "mastodon.social");
                assert_eq!(
                    url,
                    "https://mastodon.social/api/v1/timelines/tag/refugees?limit=40"
                );
            }
            other => panic!("{other:?}"),
        }
        match poller("id = \"m\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\naccount = \"@unhcr\"") {
            Poller::Mastodon(MastodonSpec {
                target: MastodonTarget::Lookup { lookup, .. },
                ..
            }) => assert_eq!(
                lookup,
                "https://mastodon.social/api/v1/accounts/lookup?acct=unhcr"
            ),
            other => panic!("{other:?}"),
        }
        let cases = [
            (
                "id = \"b\"\nkind = \"bluesky\"\nactor = \"unhcr.bsky.social\"",
                "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?actor=unhcr.bsky.social&limit=50",
            ),
            (
                "id = \"t\"\nkind = \"telegram\"\nchannel = \"infomigrants\"",
                "https://t.me/s/infomigrants",
            ),
            (
                "id = \"r\"\nkind = \"reddit\"\nsubreddit = \"serbia\"",
                "https://www.reddit.com/r/serbia/new.json?limit=100",
            ),
            (
                "id = \"y\"\nkind = \"youtube\"\nchannel_id = \"UC123\"",
                "https://www.youtube.com/feeds/videos.xml?channel_id=UC123",
            ),
        ];
        for (body, want) in cases {
            let url = match poller(body) {
                Poller::Bluesky(u)
                | Poller::Telegram(u)
                | Poller::Reddit(u)
                | Poller::Youtube(u) => u,
                other => panic!("{other:?}"),
            };
            assert_eq!(url, want, "{body}");
        }
    }

    #[test]
    fn file_imports_map_columns_and_listing_selectors_are_checked() {
        match poller("id = \"c\"\nkind = \"csv\"\npath = \"x.csv\"\ndoc_kind = \"comment\"\n[sources.columns]\ntext = \"body\"") {
            Poller::Csv(spec) => {
                assert_eq!(spec.columns.text, "body");
                assert_eq!(spec.columns.title, "title");
                assert_eq!(spec.explicit, ["body"]);
                assert_eq!(spec.doc_kind, DocKind::Comment);
            }
            other => panic!("{other:?}"),
        }
        match poller("id = \"l\"\nkind = \"listing\"\nurl = \"https://a.example/\"\nlink_selector = \"h2 a\"") {
            Poller::Listing(spec) => {
                assert_eq!(spec.max_pages, mediawatch_config::DEFAULT_MAX_PAGES);
                assert!(!spec.allow_other_hosts);
            }
            other => panic!("{other:?}"),
        }
        // CSS syntax is beyond config validation; the registry names the key.
        let sc = source("id = \"l\"\nkind = \"listing\"\nurl = \"https://a.example/\"\nlink_selector = \"h2 a[\"\nnext_selector = \"::\"");
        let errs = build(&sc).err().expect("invalid selectors");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("link_selector: "), "{errs:?}");
        assert!(errs[1].starts_with("next_selector: "), "{errs:?}");
    }

    #[test]
    fn tokens_become_an_authorization_header_only_when_set() {
        use std::ffi::OsString;
        assert_eq!(
            api_headers(Some(OsString::from("abc123"))),
            [("Authorization".to_string(), "Bearer abc123".to_string())]
        );
        assert!(api_headers(Some(OsString::from("  "))).is_empty());
        assert!(api_headers(None).is_empty());
        assert_eq!(
            token_var(mediawatch_config::SourceKind::Mastodon),
            Some("MEDIAWATCH_MASTODON_TOKEN")
        );
        assert_eq!(token_var(mediawatch_config::SourceKind::Feed), None);
    }

    #[tokio::test]
    async fn check_source_lists_an_import_without_storing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"1\",\"text\":\"Migranti u Šidu\"}\nnot json\n{\"id\":\"2\",\"text\":\"Izbeglice\"}\n",
        )
        .unwrap();
        let sc = source(&format!(
            "id = \"j\"\nkind = \"jsonl\"\npath = {:?}",
            path.display().to_string()
        ));
        let fetcher = Fetcher::new(mediawatch_fetch::FetchOptions::default()).unwrap();
        assert_eq!(crate::check_source(&fetcher, &sc).await, Ok(2));
        let missing = source("id = \"j\"\nkind = \"jsonl\"\npath = \"/nonexistent/x.jsonl\"");
        let err = crate::check_source(&fetcher, &missing).await.unwrap_err();
        assert!(err.contains("/nonexistent/x.jsonl"), "{err}");
    }
}
