//! Source pollers: turn one poll of a feed or sitemap into documents.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mediawatch_config::{SchedulerConfig, SourceConfig};
use mediawatch_core::{canonicalize_url, DocId, DocKind, Document, SourceMeta};
use mediawatch_extract::ExtractOptions;
use mediawatch_fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use mediawatch_ingest::{FeedEntry, Sitemap};
use mediawatch_state::{PollResult, SeenItem, StateBackend};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::sink::{PendingDoc, SinkMsg};

const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";
const SITEMAP_ACCEPT: &str = "application/xml, text/xml;q=0.9, */*;q=0.5";
/// Child sitemaps of a sitemap index followed per pass (the newest-listed
/// first): news sitemap indexes can list thousands of archive files.
const MAX_CHILD_SITEMAPS: usize = 5;

/// How a source is polled (see `build_source` for the registry). Platform
/// variants carry the endpoint URL built from the config once, at startup.
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

/// A `listing` source's selectors and limits.
#[derive(Debug, Clone)]
pub(crate) struct ListingSpec {
    pub link_selector: String,
    pub next_selector: Option<String>,
    pub max_pages: usize,
    pub allow_other_hosts: bool,
}

/// A `mastodon` source: where its statuses come from.
#[derive(Debug, Clone)]
pub(crate) struct MastodonSpec {
    /// Host of the instance: the namespace of status ids.
    pub host: String,
    pub target: MastodonTarget,
}

#[derive(Debug, Clone)]
pub(crate) enum MastodonTarget {
    /// A timeline URL known from the config (hashtag, numeric account id).
    Timeline(String),
    /// `@name`: looked up at `lookup` each poll (ids differ per instance
    /// and the lookup is one small request), then `instance`'s statuses.
    Lookup { lookup: String, instance: String },
}

/// A `jsonl` or `csv` import.
#[derive(Debug, Clone)]
pub(crate) struct FileSpec {
    pub path: std::path::PathBuf,
    pub columns: mediawatch_ingest::RecordColumns,
    /// Columns named explicitly in the config (must exist in a CSV header).
    pub explicit: Vec<String>,
    pub doc_kind: DocKind,
}

/// A configured source ready to poll.
pub struct SourceRuntime {
    pub(crate) cfg: SourceConfig,
    pub(crate) meta: Arc<SourceMeta>,
    pub(crate) poller: Poller,
    pub(crate) extract: ExtractOptions,
    /// Headers sent to the platform API only (never to article pages):
    /// `Authorization` when a token is set in the environment.
    pub(crate) api_headers: Vec<(String, String)>,
}

impl SourceRuntime {
    /// The source's config.
    pub fn config(&self) -> &SourceConfig {
        &self.cfg
    }
}

/// What a poll needs from the pipeline.
#[derive(Clone)]
pub(crate) struct PollContext {
    pub fetcher: Fetcher,
    pub state: Arc<dyn StateBackend>,
    pub sink: mpsc::Sender<SinkMsg>,
    pub scheduler: SchedulerConfig,
    pub cancel: CancellationToken,
}

/// Per-source result of one pass, as printed by `ingest --once`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SourcePassReport {
    /// Source id.
    pub source: String,
    /// Items listed by the feed or sitemap this pass.
    pub fetched: u64,
    /// Items new to the index (sent for classification and indexing).
    pub new: u64,
    /// Items already stored (or the whole feed, on 304).
    pub unchanged: u64,
    /// Errors: the source's own failure and per-item failures.
    pub errors: u64,
    /// The server answered 304 Not Modified.
    pub not_modified: bool,
    /// Error messages, each naming the source and the cause.
    pub messages: Vec<String>,
    /// When the source is next due.
    pub next_due: Option<DateTime<Utc>>,
}

/// A listed item, whatever the source kind.
struct Item {
    key: String,
    link: Option<String>,
    title: Option<String>,
    published: Option<DateTime<Utc>>,
    authors: Vec<String>,
    /// Feed-provided HTML (content, else summary), used when the page cannot be fetched.
    html: Option<String>,
    /// A document complete without any page fetch (social posts, imported
    /// rows); its language is settled in `item_documents`.
    prebuilt: Option<Box<Document>>,
}

impl From<FeedEntry> for Item {
    fn from(e: FeedEntry) -> Self {
        Item {
            key: e.id,
            link: e.link,
            title: e.title,
            published: e.published.or(e.updated),
            authors: e.authors,
            html: e.content.or(e.summary),
            prebuilt: None,
        }
    }
}

/// The failure of a whole poll.
pub(crate) struct PollFailure {
    kind: String,
    message: String,
    retry_after: Option<Duration>,
}

impl PollFailure {
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    fn fetch(source: &str, e: &FetchError) -> Self {
        PollFailure {
            kind: e.kind().to_string(),
            message: format!("source {source}: {e}"),
            retry_after: e.retry_after(),
        }
    }
}

/// Polls a source, sends new documents to the sink, records the outcome and
/// the next due time in the state store.
pub(crate) async fn poll_and_record(rt: &SourceRuntime, cx: &PollContext) -> SourcePassReport {
    let id = rt.cfg.id.clone();
    let started = Instant::now();
    let at = Utc::now();
    let mut report = SourcePassReport {
        source: id.clone(),
        ..Default::default()
    };
    let outcome = poll(rt, cx, &mut report).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let prior_failures = cx
        .state
        .crawl_state(&id)
        .map(|c| c.consecutive_failures)
        .unwrap_or(0);
    let (result, next) = match outcome {
        Ok((result, timing)) => {
            let base = crate::polling::after_success(rt.cfg.interval, &cx.scheduler, &timing, at);
            (result, crate::jitter(base))
        }
        Err(f) => {
            tracing::warn!(source = %id, kind = %f.kind, "{}", f.message);
            report.errors += 1;
            report.messages.insert(0, f.message.clone());
            let wait =
                crate::polling::after_failure(prior_failures + 1, f.retry_after, &cx.scheduler);
            (
                PollResult::Failure {
                    kind: f.kind,
                    message: f.message,
                },
                crate::jitter(wait),
            )
        }
    };
    let next_due = at + chrono::Duration::from_std(next).unwrap_or(chrono::Duration::hours(1));
    report.next_due = Some(next_due);
    if let Err(e) = cx.state.record_poll(&id, at, latency_ms, &result, next_due) {
        tracing::error!(source = %id, "cannot record poll outcome: {e}");
        report.errors += 1;
        report.messages.push(format!("source {id}: {e}"));
    }
    report
}

async fn fetch(cx: &PollContext, req: &FetchRequest) -> Result<FetchResponse, Option<FetchError>> {
    tokio::select! {
        r = cx.fetcher.fetch(req) => r.map_err(Some),
        _ = cx.cancel.cancelled() => Err(None),
    }
}

/// The network side of a poll: the fetcher and the shutdown signal.
#[derive(Clone, Copy)]
pub(crate) struct Net<'a> {
    pub fetcher: &'a Fetcher,
    pub cancel: &'a CancellationToken,
}

impl Net<'_> {
    async fn fetch(&self, req: &FetchRequest) -> Result<FetchResponse, Option<FetchError>> {
        tokio::select! {
            r = self.fetcher.fetch(req) => r.map_err(Some),
            _ = self.cancel.cancelled() => Err(None),
        }
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
    items: Vec<Item>,
    etag: Option<String>,
    last_modified: Option<String>,
    max_age: Option<Duration>,
    /// Per-entry problems (a skipped status, a bad CSV row, a child
    /// sitemap that failed): each is one error in the pass report.
    problems: Vec<String>,
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

fn cancelled(id: &str) -> PollFailure {
    PollFailure {
        kind: "cancelled".into(),
        message: format!("source {id}: poll cancelled by shutdown"),
        retry_after: None,
    }
}

fn parse_failure(id: &str, what: &str, url: &str, e: impl std::fmt::Display) -> PollFailure {
    PollFailure {
        kind: "parse".into(),
        message: format!("source {id}: {what} {url} could not be parsed: {e}"),
        retry_after: None,
    }
}

const JSON_ACCEPT: &str = "application/json, */*;q=0.5";
const HTML_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5";

/// Fetches `url`, with the stored validators when `validators` is set.
/// `Ok(None)` is a 304.
async fn get(
    net: Net<'_>,
    id: &str,
    url: &str,
    accept: &str,
    validators: Option<&(Option<String>, Option<String>)>,
    headers: &[(String, String)],
) -> Result<Option<FetchResponse>, PollFailure> {
    let req = FetchRequest {
        url: url.to_string(),
        etag: validators.and_then(|v| v.0.clone()),
        last_modified: validators.and_then(|v| v.1.clone()),
        accept: Some(accept.to_string()),
        headers: headers.to_vec(),
    };
    match net.fetch(&req).await {
        Ok(r) if r.not_modified => Ok(None),
        Ok(r) => Ok(Some(r)),
        Err(Some(e)) => Err(PollFailure::fetch(id, &e)),
        Err(None) => Err(cancelled(id)),
    }
}

/// Lists the items of one poll of `rt`, whatever its kind. `validators`
/// (ETag, Last-Modified) make the main request conditional.
pub(crate) async fn list_items(
    rt: &SourceRuntime,
    net: Net<'_>,
    validators: (Option<String>, Option<String>),
) -> Result<Listed, PollFailure> {
    let id = rt.cfg.id.as_str();
    // Platform kinds: one JSON/HTML endpoint, entries become posts.
    let social = |resp: &FetchResponse, page: mediawatch_ingest::PostPage, what: &str| {
        let items = page.posts.into_iter().map(|p| post_item(rt, p)).collect();
        let problems = page
            .skipped
            .into_iter()
            .map(|m| format!("source {id}: {what} {}: skipped {m}", resp.url))
            .collect();
        Listed::Items(Listing::from_response(resp, items, problems))
    };
    let not_modified = |max_age| Ok(Listed::NotModified { max_age });
    match &rt.poller {
        Poller::Feed => {
            let Some(resp) = get(
                net,
                id,
                &rt.cfg.url,
                FEED_ACCEPT,
                Some(&validators),
                &rt.api_headers,
            )
            .await?
            else {
                return not_modified(None);
            };
            let base = resp.url.to_string();
            let feed = mediawatch_ingest::parse_feed(&resp.body, Some(&base))
                .map_err(|e| parse_failure(id, "feed", &base, e))?;
            let ttl = feed.ttl_minutes;
            let items = feed.entries.into_iter().map(Item::from).collect();
            let mut listing = Listing::from_response(&resp, items, Vec::new());
            // RSS <ttl> is the publisher's own polling hint: treated like
            // Cache-Control max-age (the longer of the two wins).
            if let Some(minutes) = ttl {
                let t = Duration::from_secs(u64::from(minutes) * 60);
                listing.max_age = Some(listing.max_age.map_or(t, |m| m.max(t)));
            }
            Ok(Listed::Items(listing))
        }
        Poller::Sitemap => {
            let Some(resp) = get(
                net,
                id,
                &rt.cfg.url,
                SITEMAP_ACCEPT,
                Some(&validators),
                &rt.api_headers,
            )
            .await?
            else {
                return not_modified(None);
            };
            let mut problems = Vec::new();
            let items = sitemap_items(id, net, &resp, &mut problems).await?;
            Ok(Listed::Items(Listing::from_response(
                &resp, items, problems,
            )))
        }
        Poller::Listing(spec) => {
            let Some(first) = get(
                net,
                id,
                &rt.cfg.url,
                HTML_ACCEPT,
                Some(&validators),
                &rt.api_headers,
            )
            .await?
            else {
                return not_modified(None);
            };
            let opts = mediawatch_ingest::ListingOptions {
                link_selector: &spec.link_selector,
                next_selector: spec.next_selector.as_deref(),
                allow_other_hosts: spec.allow_other_hosts,
            };
            let mut seen_pages = std::collections::HashSet::new();
            let mut seen_links = std::collections::HashSet::new();
            let mut items = Vec::new();
            let mut problems = Vec::new();
            let mut page = Some((first.clone(), first.url.to_string()));
            let mut pages = 0;
            while let Some((resp, url)) = page.take() {
                pages += 1;
                seen_pages.insert(resp.url.to_string());
                let parsed = match mediawatch_ingest::parse_listing(
                    &resp.text().text,
                    resp.url.as_str(),
                    &opts,
                ) {
                    Ok(p) => p,
                    // The first page failing fails the poll; a later page
                    // failing only ends the walk.
                    Err(e) if pages == 1 => return Err(parse_failure(id, "listing page", &url, e)),
                    Err(e) => {
                        problems.push(format!(
                            "source {id}: listing page {url} could not be parsed: {e}"
                        ));
                        break;
                    }
                };
                for link in parsed.links {
                    if seen_links.insert(link.clone()) {
                        items.push(Item {
                            key: link.clone(),
                            link: Some(link),
                            title: None,
                            published: None,
                            authors: Vec::new(),
                            html: None,
                            prebuilt: None,
                        });
                    }
                }
                let next = parsed.next.filter(|n| !seen_pages.contains(n));
                if let (Some(next), true) = (next, pages < spec.max_pages) {
                    match get(net, id, &next, HTML_ACCEPT, None, &rt.api_headers).await {
                        Ok(Some(r)) => page = Some((r, next)),
                        Ok(None) => {}
                        Err(f) if f.kind == "cancelled" => return Err(f),
                        Err(f) => problems.push(format!("{} (next page)", f.message)),
                    }
                }
            }
            Ok(Listed::Items(Listing::from_response(
                &first, items, problems,
            )))
        }
        Poller::Mastodon(spec) => {
            let timeline = match &spec.target {
                MastodonTarget::Timeline(url) => url.clone(),
                MastodonTarget::Lookup { lookup, instance } => {
                    let Some(r) = get(net, id, lookup, JSON_ACCEPT, None, &rt.api_headers).await?
                    else {
                        return Err(parse_failure(
                            id,
                            "account lookup",
                            lookup,
                            "304 without a cached answer",
                        ));
                    };
                    let account = mediawatch_ingest::parse_mastodon_account_id(&r.body)
                        .map_err(|e| parse_failure(id, "account lookup", lookup, e))?;
                    mediawatch_ingest::mastodon_account_statuses_url(instance, &account)
                        .map_err(|e| parse_failure(id, "account", &account, e))?
                }
            };
            let Some(resp) = get(
                net,
                id,
                &timeline,
                JSON_ACCEPT,
                Some(&validators),
                &rt.api_headers,
            )
            .await?
            else {
                return not_modified(None);
            };
            let page = mediawatch_ingest::parse_mastodon_statuses(&resp.body, &spec.host)
                .map_err(|e| parse_failure(id, "Mastodon timeline", &timeline, e))?;
            Ok(social(&resp, page, "Mastodon timeline"))
        }
        Poller::Bluesky(url) | Poller::Reddit(url) | Poller::Telegram(url) => {
            let accept = if matches!(rt.poller, Poller::Telegram(_)) {
                HTML_ACCEPT
            } else {
                JSON_ACCEPT
            };
            let Some(resp) = get(net, id, url, accept, Some(&validators), &rt.api_headers).await?
            else {
                return not_modified(None);
            };
            let (page, what) = match &rt.poller {
                Poller::Bluesky(_) => (
                    mediawatch_ingest::parse_bluesky_posts(&resp.body),
                    "Bluesky feed",
                ),
                Poller::Reddit(_) => (
                    mediawatch_ingest::parse_reddit_listing(&resp.body),
                    "Reddit listing",
                ),
                _ => (
                    mediawatch_ingest::parse_telegram_channel(&resp.text().text),
                    "Telegram channel",
                ),
            };
            let page = page.map_err(|e| parse_failure(id, what, url, e))?;
            Ok(social(&resp, page, what))
        }
        Poller::Youtube(url) => {
            let Some(resp) = get(
                net,
                id,
                url,
                FEED_ACCEPT,
                Some(&validators),
                &rt.api_headers,
            )
            .await?
            else {
                return not_modified(None);
            };
            let feed = mediawatch_ingest::parse_feed(&resp.body, Some(resp.url.as_str()))
                .map_err(|e| parse_failure(id, "YouTube feed", url, e))?;
            let items = feed
                .entries
                .into_iter()
                .filter_map(|e| {
                    // Media RSS description (the video's description) is the
                    // text; parse_feed puts it in `summary`.
                    let text = e
                        .content
                        .as_deref()
                        .or(e.summary.as_deref())
                        .map(mediawatch_ingest::html_to_text)
                        .unwrap_or_default();
                    let post = mediawatch_ingest::SocialPost {
                        platform: "youtube".into(),
                        id: e.id,
                        url: e.link,
                        title: e.title,
                        text,
                        author: (!e.authors.is_empty()).then(|| e.authors.join(", ")),
                        published: e.published.or(e.updated),
                        lang: None,
                    };
                    (!post.text.is_empty() || post.title.is_some()).then(|| post_item(rt, post))
                })
                .collect();
            Ok(Listed::Items(Listing::from_response(
                &resp,
                items,
                Vec::new(),
            )))
        }
        Poller::Jsonl(spec) | Poller::Csv(spec) => {
            let bytes = tokio::fs::read(&spec.path).await.map_err(|e| PollFailure {
                kind: "io".into(),
                message: format!("source {id}: cannot read {}: {e}", spec.path.display()),
                retry_after: None,
            })?;
            let batch = if matches!(rt.poller, Poller::Csv(_)) {
                let explicit: Vec<&str> = spec.explicit.iter().map(String::as_str).collect();
                mediawatch_ingest::parse_csv(&bytes, &spec.columns, &explicit).map_err(|e| {
                    parse_failure(id, "CSV file", &spec.path.display().to_string(), e)
                })?
            } else {
                mediawatch_ingest::parse_jsonl(&bytes, &spec.columns)
            };
            let problems = batch
                .errors
                .iter()
                .map(|e| {
                    format!(
                        "source {id}: {}:{}: {}",
                        spec.path.display(),
                        e.line,
                        e.reason
                    )
                })
                .collect();
            let items = batch
                .records
                .into_iter()
                .map(|r| record_item(rt, spec, r))
                .collect();
            Ok(Listed::Items(Listing {
                items,
                etag: None,
                last_modified: None,
                max_age: None,
                problems,
            }))
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
        authors: p.author.into_iter().collect(),
        html: None,
        prebuilt: Some(Box::new(doc)),
    }
}

/// An item whose document is an imported row. A row with a URL gets the
/// URL's document id, so an imported article and the same article fetched
/// from a feed are one document.
fn record_item(rt: &SourceRuntime, spec: &FileSpec, r: mediawatch_ingest::Record) -> Item {
    let url = r.url.as_deref().and_then(|u| canonicalize_url(u).ok());
    let key = match (&r.id, &url) {
        (None, Some(u)) => u.clone(),
        _ => r.key(),
    };
    let id = match &url {
        Some(u) => DocId::from_url(u),
        None => DocId::from_platform(&format!("import:{}", rt.cfg.id), &key),
    };
    let doc = Document {
        id,
        source_id: rt.cfg.id.clone(),
        url: url.clone().unwrap_or_default(),
        title: r.title.clone().unwrap_or_default(),
        text: r.text,
        author: r.author.clone(),
        published: r.published,
        fetched: Utc::now(),
        lang: r.lang,
        kind: spec.doc_kind,
        parent_id: None,
        labels: None,
    };
    Item {
        key,
        link: None,
        title: r.title,
        published: r.published,
        authors: r.author.into_iter().collect(),
        html: None,
        prebuilt: Some(Box::new(doc)),
    }
}

async fn poll(
    rt: &SourceRuntime,
    cx: &PollContext,
    report: &mut SourcePassReport,
) -> Result<(PollResult, crate::polling::PollTiming), PollFailure> {
    let id = &rt.cfg.id;
    let crawl = cx.state.crawl_state(id).map_err(|e| PollFailure {
        kind: "state".into(),
        message: format!("source {id}: {e}"),
        retry_after: None,
    })?;
    let net = Net {
        fetcher: &cx.fetcher,
        cancel: &cx.cancel,
    };
    let listing =
        match list_items(rt, net, (crawl.etag.clone(), crawl.last_modified.clone())).await? {
            Listed::NotModified { max_age } => {
                // 304: nothing to parse, everything unchanged.
                report.not_modified = true;
                return Ok((
                    PollResult::NotModified,
                    crate::polling::PollTiming {
                        max_age,
                        // Unchanged feed: keep the rhythm last observed by not
                        // speeding up; the default or configured interval applies.
                        item_times: Vec::new(),
                    },
                ));
            }
            Listed::Items(l) => l,
        };
    for m in &listing.problems {
        tracing::warn!(source = %id, "{m}");
    }
    report.errors += listing.problems.len() as u64;
    report.messages.extend(listing.problems);
    let items = listing.items;
    report.fetched = items.len() as u64;
    let item_times: Vec<DateTime<Utc>> = items.iter().filter_map(|i| i.published).collect();

    // Newest first, so a backlog is worked from the top.
    let mut fresh = Vec::new();
    for it in items {
        match cx.state.is_seen(id, &it.key) {
            Ok(true) => report.unchanged += 1,
            Ok(false) => fresh.push(it),
            Err(e) => {
                return Err(PollFailure {
                    kind: "state".into(),
                    message: format!("source {id}: {e}"),
                    retry_after: None,
                })
            }
        }
    }
    fresh.sort_by_key(|it| std::cmp::Reverse(it.published));
    let limit = cx.scheduler.max_articles_per_pass;
    if fresh.len() > limit {
        tracing::info!(source = %id, backlog = fresh.len() - limit, "deferring items to the next pass");
        fresh.truncate(limit);
    }
    for it in fresh {
        if cx.cancel.is_cancelled() {
            return Err(cancelled(id));
        }
        match item_documents(rt, cx, &it).await {
            Ok(docs) => {
                let n = docs.len();
                // The article comes last; its comments read its title and
                // lead as their context.
                let parent = docs.last().map(|a| (a.id.clone(), a.context_text()));
                for (i, doc) in docs.into_iter().enumerate() {
                    let context = parent
                        .as_ref()
                        .filter(|(pid, _)| doc.parent_id.as_ref() == Some(pid))
                        .map(|(_, c)| c.clone());
                    // The item is marked seen with its article, which is
                    // sent last so that its comments are stored first.
                    let seen = (i + 1 == n).then(|| SeenItem {
                        source_id: id.clone(),
                        item_key: it.key.clone(),
                        doc_id: doc.id.to_string(),
                    });
                    let msg = SinkMsg::Doc(Box::new(PendingDoc {
                        doc,
                        context,
                        source: rt.meta.clone(),
                        seen,
                    }));
                    if cx.sink.send(msg).await.is_err() {
                        return Err(PollFailure {
                            kind: "sink".into(),
                            message: format!("source {id}: the index stage has stopped"),
                            retry_after: None,
                        });
                    }
                }
                report.new += 1;
            }
            Err(msg) => {
                tracing::warn!(source = %id, "{msg}");
                report.errors += 1;
                report.messages.push(msg);
            }
        }
    }
    Ok((
        PollResult::Success {
            etag: listing.etag,
            last_modified: listing.last_modified,
            items: report.fetched,
            new_items: report.new,
        },
        crate::polling::PollTiming {
            max_age: listing.max_age,
            item_times,
        },
    ))
}

async fn sitemap_items(
    id: &str,
    net: Net<'_>,
    resp: &FetchResponse,
    problems: &mut Vec<String>,
) -> Result<Vec<Item>, PollFailure> {
    let parse_err = |url: &str, e: mediawatch_ingest::IngestError| PollFailure {
        kind: "parse".into(),
        message: format!("source {id}: sitemap {url} could not be parsed: {e}"),
        retry_after: None,
    };
    let urls = match mediawatch_ingest::parse_sitemap(&resp.body)
        .map_err(|e| parse_err(resp.url.as_str(), e))?
    {
        Sitemap::UrlSet(urls) => urls,
        Sitemap::Index(children) => {
            let mut all = Vec::new();
            for child in children.iter().take(MAX_CHILD_SITEMAPS) {
                let req = FetchRequest {
                    url: child.clone(),
                    accept: Some(SITEMAP_ACCEPT.to_string()),
                    ..Default::default()
                };
                let r = match net.fetch(&req).await {
                    Ok(r) => r,
                    Err(Some(e)) => {
                        problems.push(format!("source {id}: child sitemap: {e}"));
                        continue;
                    }
                    Err(None) => break,
                };
                match mediawatch_ingest::parse_sitemap(&r.body) {
                    Ok(Sitemap::UrlSet(u)) => all.extend(u),
                    // Nested indexes are not followed: the protocol forbids them.
                    Ok(Sitemap::Index(_)) => {}
                    Err(e) => problems.push(parse_err(child, e).message),
                }
            }
            all
        }
    };
    Ok(urls
        .into_iter()
        .map(|u| Item {
            key: u.loc.clone(),
            link: Some(u.loc),
            title: u.news_title,
            published: u.news_publication_date.or(u.lastmod),
            authors: Vec::new(),
            html: None,
            prebuilt: None,
        })
        .collect())
}

/// Builds the documents of one new item: the article, preceded by its
/// comments. `Err` is a message naming the source, the item and the cause;
/// such an item is not marked seen and is tried again next pass.
async fn item_documents(
    rt: &SourceRuntime,
    cx: &PollContext,
    it: &Item,
) -> Result<Vec<Document>, String> {
    let id = &rt.cfg.id;
    if let Some(doc) = &it.prebuilt {
        let mut doc = (**doc).clone();
        if doc.title.trim().is_empty() && doc.text.trim().is_empty() {
            return Err(format!(
                "source {id}: item {:?} has neither title nor text",
                it.key
            ));
        }
        // A platform's or file's own language tag is kept (the brief: the
        // status language is the document language); untagged text is
        // detected like articles.
        if doc.lang.is_none() {
            let default_lang = rt.meta.languages.first().cloned();
            doc.lang = detect_language(&doc.text, None, &rt.meta.languages, &default_lang);
        }
        if doc.url.is_empty() {
            doc.url = rt.cfg.url.clone();
        }
        return Ok(vec![doc]);
    }
    let fetched = Utc::now();
    let url = match &it.link {
        Some(l) => {
            canonicalize_url(l).map_err(|e| format!("source {id}: item {:?}: {e}", it.key))?
        }
        None => String::new(),
    };
    let doc_id = if url.is_empty() {
        DocId::from_platform(id, &it.key)
    } else {
        DocId::from_url(&url)
    };
    let fallback_text = it
        .html
        .as_deref()
        .map(mediawatch_ingest::html_to_text)
        .unwrap_or_default();
    let mut doc = Document {
        id: doc_id,
        source_id: id.clone(),
        url: if url.is_empty() {
            rt.cfg.url.clone()
        } else {
            url.clone()
        },
        title: it.title.clone().unwrap_or_default(),
        text: fallback_text,
        author: (!it.authors.is_empty()).then(|| it.authors.join(", ")),
        published: it.published,
        fetched,
        lang: None,
        kind: DocKind::Article,
        parent_id: None,
        labels: None,
    };
    let mut docs = Vec::new();
    // A listing gives nothing but links: its pages are always fetched.
    let fetch_page = rt.cfg.fetch_articles || matches!(rt.poller, Poller::Listing(_));
    if fetch_page && !url.is_empty() {
        let req = FetchRequest {
            url: url.clone(),
            accept: Some("text/html, application/xhtml+xml;q=0.9, */*;q=0.5".into()),
            ..Default::default()
        };
        match fetch(cx, &req).await {
            Ok(resp) => {
                let ct = resp.content_type.as_deref();
                match mediawatch_extract::extract_bytes(
                    &resp.body,
                    ct,
                    Some(resp.url.as_str()),
                    &rt.extract,
                ) {
                    Ok(a) => {
                        // The page's rel=canonical names the article's real
                        // address (feeds often link through tracking or
                        // section paths): it decides the document's identity,
                        // when it stays on the same site. A canonical on
                        // another site is ignored: each outlet's copy of a
                        // syndicated story stays its own document (clusters
                        // group them), and a page cannot overwrite another
                        // site's document.
                        if let Some(c) = a
                            .canonical_url
                            .as_deref()
                            .and_then(|c| same_site_canonical(&resp.url, c))
                        {
                            if c != doc.url {
                                doc.id = DocId::from_url(&c);
                                doc.url = c;
                            }
                        }
                        if let Some(t) = a.title.filter(|t| !t.trim().is_empty()) {
                            if doc.title.trim().is_empty() {
                                doc.title = t;
                            }
                        }
                        // The page's text wins unless extraction found less
                        // than the feed already gave.
                        if a.text.trim().len() >= doc.text.trim().len() {
                            doc.text = a.text;
                        }
                        if a.byline.is_some() {
                            doc.author = a.byline;
                        }
                        doc.published = doc.published.or(a.published);
                        doc.lang = a.lang;
                        for (n, c) in a.comments.into_iter().enumerate() {
                            if c.text.trim().is_empty() {
                                continue;
                            }
                            let key = format!(
                                "{}\u{1f}{}\u{1f}{}",
                                doc.url,
                                c.author.as_deref().unwrap_or(""),
                                short_hash(&c.text)
                            );
                            docs.push(Document {
                                id: DocId::from_platform("comment", &key),
                                source_id: id.clone(),
                                url: format!("{}#comment-{}", doc.url, n + 1),
                                title: format!("Comment on: {}", doc.title),
                                text: c.text,
                                author: c.author,
                                // Undated comments take the article's date, so
                                // trends put them in the story's period rather
                                // than the day they were fetched.
                                published: c.published.or(doc.published),
                                fetched,
                                lang: None,
                                kind: DocKind::Comment,
                                parent_id: Some(doc.id.clone()),
                                labels: None,
                            });
                        }
                    }
                    Err(e) => {
                        if doc.text.trim().is_empty() && doc.title.trim().is_empty() {
                            return Err(format!("source {id}: article {url}: {e}"));
                        }
                        tracing::warn!(source = %id, "article {url}: {e}; using the feed's text");
                    }
                }
            }
            Err(Some(e)) if e.is_retryable() => {
                return Err(format!(
                    "source {id}: article {url}: {e} (will retry next pass)"
                ));
            }
            Err(Some(e)) => {
                if doc.text.trim().is_empty() && doc.title.trim().is_empty() {
                    return Err(format!("source {id}: article {url}: {e}"));
                }
                tracing::warn!(source = %id, "article {url}: {e}; using the feed's text");
            }
            Err(None) => return Err(format!("source {id}: poll cancelled by shutdown")),
        }
    }
    if doc.title.trim().is_empty() && doc.text.trim().is_empty() {
        return Err(format!(
            "source {id}: item {:?} has neither title nor text",
            it.key
        ));
    }
    let default_lang = rt.meta.languages.first().cloned();
    for d in docs.iter_mut().chain(std::iter::once(&mut doc)) {
        d.lang = detect_language(&d.text, d.lang.take(), &rt.meta.languages, &default_lang);
    }
    docs.push(doc);
    Ok(docs)
}

/// Language of a document: what its text looks like when the detector is
/// confident, else the page's declaration, else the source's first language.
/// Page declarations are often site-wide defaults, so detection comes first.
fn detect_language(
    text: &str,
    declared: Option<String>,
    source_langs: &[String],
    default: &Option<String>,
) -> Option<String> {
    let declared = declared.map(|l| {
        l.split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    });
    if let Some(g) = mediawatch_classify::guess_language(text) {
        return Some(prefer_declared_variant(g, source_langs).to_string());
    }
    declared
        .filter(|l| !l.is_empty())
        .or_else(|| default.clone())
}

/// Languages the detector confuses with each other (measured on the
/// project's labelled set, see BENCHMARKS.md): the BCMS variants are one
/// language to any detector, short Macedonian reads as Serbian Cyrillic, and
/// Czech/Slovak and Slovene/Croatian share most short-text evidence.
const CONFUSABLE: &[&[&str]] = &[
    &["sr", "hr", "bs", "cnr"],
    &["mk", "bg", "sr"],
    &["cs", "sk"],
    &["sl", "hr"],
];

/// When the guess is confusable with a language the source declares, the
/// source's language wins: a Macedonian outlet's short Cyrillic text is
/// Macedonian, a Croatian portal's Latin BCMS is Croatian.
fn prefer_declared_variant<'a>(guess: &'a str, source_langs: &'a [String]) -> &'a str {
    if source_langs.iter().any(|l| l == guess) {
        return guess;
    }
    for group in CONFUSABLE {
        if group.contains(&guess) {
            if let Some(l) = source_langs.iter().find(|l| group.contains(&l.as_str())) {
                return l;
            }
        }
    }
    guess
}

/// The canonical form of a page's rel=canonical when it is an http(s) URL on
/// the same site as the fetched page (hosts equal up to a leading `www.`).
fn same_site_canonical(page: &url::Url, canonical: &str) -> Option<String> {
    let c = page.join(canonical.trim()).ok()?;
    if !matches!(c.scheme(), "http" | "https") {
        return None;
    }
    let bare = |h: &str| h.trim_start_matches("www.").to_ascii_lowercase();
    if bare(c.host_str()?) != bare(page.host_str()?) {
        return None;
    }
    canonicalize_url(c.as_str()).ok()
}

fn short_hash(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_config::Config;

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
        crate::build_source(&source(body))
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
        let errs = crate::build_source(&sc).err().expect("invalid selectors");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("link_selector: "), "{errs:?}");
        assert!(errs[1].starts_with("next_selector: "), "{errs:?}");
    }

    #[test]
    fn tokens_become_an_authorization_header_only_when_set() {
        use std::ffi::OsString;
        assert_eq!(
            crate::api_headers(Some(OsString::from("abc123"))),
            [("Authorization".to_string(), "Bearer abc123".to_string())]
        );
        assert!(crate::api_headers(Some(OsString::from("  "))).is_empty());
        assert!(crate::api_headers(None).is_empty());
        assert_eq!(
            crate::token_var(mediawatch_config::SourceKind::Mastodon),
            Some("MEDIAWATCH_MASTODON_TOKEN")
        );
        assert_eq!(crate::token_var(mediawatch_config::SourceKind::Feed), None);
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

#[cfg(test)]
mod canonical_tests {
    use super::{prefer_declared_variant, same_site_canonical};

    #[test]
    fn confusable_guesses_defer_to_the_source_language() {
        let langs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(prefer_declared_variant("sr", &langs(&["mk"])), "mk");
        assert_eq!(prefer_declared_variant("hr", &langs(&["bs", "hr"])), "hr");
        assert_eq!(prefer_declared_variant("hr", &langs(&["sr"])), "sr");
        assert_eq!(prefer_declared_variant("sk", &langs(&["cs"])), "cs");
        // Not confusable: a German text on a Serbian outlet stays German.
        assert_eq!(prefer_declared_variant("de", &langs(&["sr"])), "de");
        assert_eq!(prefer_declared_variant("en", &langs(&[])), "en");
    }

    #[test]
    fn canonical_is_used_only_on_the_same_site() {
        let page = url::Url::parse("https://www.portal.rs/vesti/123?utm_source=rss").unwrap();
        assert_eq!(
            same_site_canonical(&page, "https://portal.rs/vesti/123-migranti?utm_medium=x")
                .as_deref(),
            Some("https://portal.rs/vesti/123-migranti")
        );
        assert_eq!(
            same_site_canonical(&page, "/vesti/123-migranti").as_deref(),
            Some("https://www.portal.rs/vesti/123-migranti")
        );
        assert_eq!(
            same_site_canonical(&page, "https://agency.example/story/9"),
            None
        );
        assert_eq!(same_site_canonical(&page, "javascript:alert(1)"), None);
    }
}
