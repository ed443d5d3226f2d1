//! Source pollers: turn one poll of a feed or sitemap into documents.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mediawatch_config::{SchedulerConfig, SourceConfig};
use mediawatch_core::{canonicalize_url, DocId, DocKind, Document, SourceMeta};
use mediawatch_extract::ExtractOptions;
use mediawatch_fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use mediawatch_ingest::{FeedEntry, Sitemap};
use mediawatch_state::{PollResult, SeenItem, StateStore};
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

/// How a source is polled (see `build_source` for the registry).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Poller {
    Feed,
    Sitemap,
}

/// A configured source ready to poll.
pub struct SourceRuntime {
    pub(crate) cfg: SourceConfig,
    pub(crate) meta: Arc<SourceMeta>,
    pub(crate) poller: Poller,
    pub(crate) extract: ExtractOptions,
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
    pub state: Arc<StateStore>,
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
        }
    }
}

/// The failure of a whole poll.
struct PollFailure {
    kind: String,
    message: String,
    retry_after: Option<Duration>,
}

impl PollFailure {
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
    let req = FetchRequest {
        url: rt.cfg.url.clone(),
        etag: crawl.etag.clone(),
        last_modified: crawl.last_modified.clone(),
        accept: Some(
            match rt.poller {
                Poller::Feed => FEED_ACCEPT,
                Poller::Sitemap => SITEMAP_ACCEPT,
            }
            .to_string(),
        ),
    };
    let cancelled = || PollFailure {
        kind: "cancelled".into(),
        message: format!("source {id}: poll cancelled by shutdown"),
        retry_after: None,
    };
    let resp = match fetch(cx, &req).await {
        Ok(r) => r,
        Err(Some(e)) => return Err(PollFailure::fetch(id, &e)),
        Err(None) => return Err(cancelled()),
    };
    if resp.not_modified {
        // 304: nothing to parse, everything unchanged.
        report.not_modified = true;
        return Ok((
            PollResult::NotModified,
            crate::polling::PollTiming {
                max_age: resp.max_age,
                // Unchanged feed: keep the rhythm last observed by not
                // speeding up; the default or configured interval applies.
                item_times: Vec::new(),
            },
        ));
    }
    let base = resp.url.to_string();
    let items: Vec<Item> = match rt.poller {
        Poller::Feed => mediawatch_ingest::parse_feed(&resp.body, Some(&base))
            .map_err(|e| PollFailure {
                kind: "parse".into(),
                message: format!("source {id}: feed {base} could not be parsed: {e}"),
                retry_after: None,
            })?
            .entries
            .into_iter()
            .map(Item::from)
            .collect(),
        Poller::Sitemap => sitemap_items(rt, cx, &resp, report).await?,
    };
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
            return Err(cancelled());
        }
        match item_documents(rt, cx, &it).await {
            Ok(docs) => {
                let n = docs.len();
                for (i, doc) in docs.into_iter().enumerate() {
                    // The item is marked seen with its article, which is
                    // sent last so that its comments are stored first.
                    let seen = (i + 1 == n).then(|| SeenItem {
                        source_id: id.clone(),
                        item_key: it.key.clone(),
                        doc_id: doc.id.to_string(),
                    });
                    let msg = SinkMsg::Doc(Box::new(PendingDoc {
                        doc,
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
            etag: resp.etag.clone(),
            last_modified: resp.last_modified.clone(),
            items: report.fetched,
            new_items: report.new,
        },
        crate::polling::PollTiming {
            max_age: resp.max_age,
            item_times,
        },
    ))
}

async fn sitemap_items(
    rt: &SourceRuntime,
    cx: &PollContext,
    resp: &FetchResponse,
    report: &mut SourcePassReport,
) -> Result<Vec<Item>, PollFailure> {
    let id = &rt.cfg.id;
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
                let r = match fetch(cx, &req).await {
                    Ok(r) => r,
                    Err(Some(e)) => {
                        report.errors += 1;
                        report
                            .messages
                            .push(format!("source {id}: child sitemap: {e}"));
                        continue;
                    }
                    Err(None) => break,
                };
                match mediawatch_ingest::parse_sitemap(&r.body) {
                    Ok(Sitemap::UrlSet(u)) => all.extend(u),
                    // Nested indexes are not followed: the protocol forbids them.
                    Ok(Sitemap::Index(_)) => {}
                    Err(e) => {
                        report.errors += 1;
                        report.messages.push(parse_err(child, e).message);
                    }
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
    if rt.cfg.fetch_articles && !url.is_empty() {
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
                                "{url}\u{1f}{}\u{1f}{}",
                                c.author.as_deref().unwrap_or(""),
                                short_hash(&c.text)
                            );
                            docs.push(Document {
                                id: DocId::from_platform("comment", &key),
                                source_id: id.clone(),
                                url: format!("{url}#comment-{}", n + 1),
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
        // BCMS variants are one language family to the detector: prefer the
        // variant the source declares.
        const BCMS: [&str; 3] = ["sr", "hr", "bs"];
        if BCMS.contains(&g) {
            if let Some(l) = source_langs.iter().find(|l| BCMS.contains(&l.as_str())) {
                return Some(l.clone());
            }
        }
        return Some(g.to_string());
    }
    declared
        .filter(|l| !l.is_empty())
        .or_else(|| default.clone())
}

fn short_hash(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}
