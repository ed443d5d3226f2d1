//! One poll of a source, whatever its kind: list the items (the kind's
//! module in `kinds/`), skip what is seen, build each new item's documents
//! (the article page fetched and extracted, its comments) and send them to
//! the sink; then record the outcome and the next due time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mediawatch_config::{SchedulerConfig, SourceConfig};
use mediawatch_core::{canonicalize_url, DocId, DocKind, Document, SourceMeta};
use mediawatch_extract::ExtractOptions;
use mediawatch_fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use mediawatch_state::{PollResult, SeenItem, StateBackend};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::kinds::{Item, ListCx, Listed, Poller};
use crate::sink::{PendingDoc, SinkMsg};

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
    pub metrics: Arc<crate::metrics::PipelineMetrics>,
    /// Commit the source's documents before recording the poll (a
    /// cluster worker): a worker that dies mid-poll then leaves the poll
    /// unrecorded, so the job's redelivery fetches the source again rather
    /// than finding it done with its documents lost.
    pub commit_before_record: bool,
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
    /// The poll's outcome was recorded in the state (not when shutdown cut
    /// the poll short, nor when its documents could not be committed).
    #[serde(skip)]
    pub recorded: bool,
}

/// The failure of a whole poll.
pub(crate) struct PollFailure {
    pub kind: String,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl PollFailure {
    /// Whether shutdown, not the source, ended the poll.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.kind == CANCELLED
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn fetch(source: &str, e: &FetchError) -> Self {
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
    // Read once: its validators make the request conditional, its failure
    // count sets the backoff.
    let crawl = cx.state.crawl_state(&id);
    let prior_failures = crawl.as_ref().map_or(0, |c| c.consecutive_failures);
    let outcome = match crawl {
        Ok(crawl) => poll(rt, cx, &crawl, &mut report).await,
        Err(e) => Err(PollFailure {
            kind: "state".into(),
            message: format!("source {id}: {e}"),
            retry_after: None,
        }),
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let (result, next) = match outcome {
        Ok((result, timing)) => {
            let base = crate::polling::after_success(rt.cfg.interval, &cx.scheduler, &timing, at);
            (result, crate::jitter(base))
        }
        Err(f) if f.is_cancelled() => {
            cx.metrics.poll(CANCELLED);
            // Stopped by shutdown, not by the source: nothing is recorded,
            // so the source is neither marked failing nor postponed; it is
            // still due and polled first after the restart. (Found by the
            // soak: a SIGTERM left in-flight sources "failing".)
            tracing::info!(source = %id, "{}", f.message);
            report.messages.insert(0, f.message);
            return report;
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
    cx.metrics.poll(match &result {
        PollResult::Success { .. } => "success",
        PollResult::NotModified => "not_modified",
        PollResult::Failure { kind, .. } => kind,
    });
    cx.metrics.items_new.inc_by(report.new);
    cx.metrics.items_unchanged.inc_by(report.unchanged);
    let next_due = at + chrono::Duration::from_std(next).unwrap_or(chrono::Duration::hours(1));
    report.next_due = Some(next_due);
    if cx.commit_before_record {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let committed = match cx.sink.send(crate::sink::SinkMsg::Flush(reply)).await {
            Ok(()) => rx
                .await
                .unwrap_or_else(|_| Err("the classify stage stopped during the commit".into())),
            Err(_) => Err("the classify stage stopped".into()),
        };
        if let Err(e) = committed {
            tracing::error!(source = %id, "documents not committed, poll not recorded: {e}");
            report.errors += 1;
            report.messages.push(format!(
                "source {id}: documents not committed ({e}); the poll is not recorded"
            ));
            return report;
        }
    }
    match cx.state.record_poll(&id, at, latency_ms, &result, next_due) {
        Ok(()) => report.recorded = true,
        Err(e) => {
            tracing::error!(source = %id, "cannot record poll outcome: {e}");
            report.errors += 1;
            report.messages.push(format!("source {id}: {e}"));
        }
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
    pub(crate) async fn fetch(
        &self,
        req: &FetchRequest,
    ) -> Result<FetchResponse, Option<FetchError>> {
        tokio::select! {
            r = self.fetcher.fetch(req) => r.map_err(Some),
            _ = self.cancel.cancelled() => Err(None),
        }
    }
}

/// The kind of a poll ended by shutdown.
const CANCELLED: &str = "cancelled";

pub(crate) fn cancelled(id: &str) -> PollFailure {
    PollFailure {
        kind: CANCELLED.into(),
        message: format!("source {id}: poll cancelled by shutdown"),
        retry_after: None,
    }
}

async fn poll(
    rt: &SourceRuntime,
    cx: &PollContext,
    crawl: &mediawatch_state::CrawlState,
    report: &mut SourcePassReport,
) -> Result<(PollResult, crate::polling::PollTiming), PollFailure> {
    let id = &rt.cfg.id;
    let net = Net {
        fetcher: &cx.fetcher,
        cancel: &cx.cancel,
    };
    let cx_list = ListCx {
        rt,
        net,
        validators: (crawl.etag.clone(), crawl.last_modified.clone()),
    };
    let listing = match rt.poller.list(&cx_list).await? {
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
    let item_times: Vec<DateTime<Utc>> = items
        .iter()
        .filter_map(|i| i.published.or(i.updated))
        .collect();

    // Newest first, so a backlog is worked from the top.
    let keys: Vec<&str> = items.iter().map(|it| it.key.as_str()).collect();
    let seen = cx.state.seen_keys(id, &keys).map_err(|e| PollFailure {
        kind: "state".into(),
        message: format!("source {id}: {e}"),
        retry_after: None,
    })?;
    drop(keys);
    let mut fresh = Vec::new();
    for it in items {
        if seen.contains(&it.key) {
            report.unchanged += 1;
        } else {
            fresh.push(it);
        }
    }
    fresh.sort_by_key(|it| std::cmp::Reverse(it.published.or(it.updated)));
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
                let parent = docs.last().map(|(a, _)| (a.id.clone(), a.context_text()));
                for (i, (doc, ledger)) in docs.into_iter().enumerate() {
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
                        ledger,
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

/// Builds the documents of one new item: the article, preceded by its
/// comments. `Err` is a message naming the source, the item and the cause;
/// such an item is not marked seen and is tried again next pass.
async fn item_documents(
    rt: &SourceRuntime,
    cx: &PollContext,
    it: &Item,
) -> Result<Vec<(Document, Option<LedgerHint>)>, String> {
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
            doc.url = rt.cfg.url().to_string();
        }
        return Ok(vec![(doc, None)]);
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
            rt.cfg.url().to_string()
        } else {
            url.clone()
        },
        title: it.title.clone().unwrap_or_default(),
        text: fallback_text,
        author: (!it.authors.is_empty()).then(|| it.authors.join(", ")),
        published: it.published,
        // An entry with only an update time is dated by it, and says so.
        modified: it.updated.filter(|_| it.published.is_none()),
        fetched,
        lang: None,
        kind: DocKind::Article,
        parent_id: None,
        labels: None,
    };
    let mut docs = Vec::new();
    let mut page = None;
    let fetch_page = rt.cfg.params.fetches_articles();
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
                        // What the page itself showed: what a re-check
                        // compares with (the feed's title may differ).
                        let page_title = a.title.clone().unwrap_or_default();
                        if let Some(t) = a.title.filter(|t| !t.trim().is_empty()) {
                            if doc.title.trim().is_empty() {
                                doc.title = t;
                            }
                        }
                        // The page's text wins unless extraction found less
                        // than the feed already gave; only then does the
                        // ledger keep the page's text apart.
                        let page_text = if a.text.trim().len() >= doc.text.trim().len() {
                            doc.text = a.text;
                            None
                        } else {
                            Some(a.text)
                        };
                        page = Some(LedgerHint::Page {
                            title: page_title,
                            text: page_text,
                        });
                        if a.byline.is_some() {
                            doc.author = a.byline;
                        }
                        doc.published = doc.published.or(a.published);
                        doc.lang = a.lang;
                        docs = comment_docs(&doc, a.comments, fetched);
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
    docs.push((doc, page));
    set_languages(rt, &mut docs);
    Ok(docs)
}

/// Detects each document's language (see [`detect_language`]).
pub(crate) fn set_languages(rt: &SourceRuntime, docs: &mut [(Document, Option<LedgerHint>)]) {
    let default_lang = rt.meta.languages.first().cloned();
    for (d, _) in docs {
        d.lang = detect_language(&d.text, d.lang.take(), &rt.meta.languages, &default_lang);
    }
}

/// The comment documents of an article page, each with how the ledger
/// recognises it on the next fetch (see `mediawatch_core::ledger::comment_key`).
pub(crate) fn comment_docs(
    article: &Document,
    comments: Vec<mediawatch_extract::Comment>,
    fetched: DateTime<Utc>,
) -> Vec<(Document, Option<LedgerHint>)> {
    let mut out = Vec::new();
    for (n, c) in comments.into_iter().enumerate() {
        if c.text.trim().is_empty() {
            continue;
        }
        let (key, identity) = mediawatch_core::ledger::comment_key(
            &article.url,
            c.id.as_deref(),
            c.author.as_deref(),
            &c.text,
            c.published,
        );
        // The platform's id is the comment's anchor on the page; without
        // one, its position when first seen.
        let anchor = match c.id.as_deref() {
            Some(i) if i.starts_with(|ch: char| ch.is_ascii_alphabetic()) => i.to_string(),
            Some(i) => format!("comment-{i}"),
            None => format!("comment-{}", n + 1),
        };
        out.push((
            Document {
                id: DocId::from_platform("comment", &key),
                source_id: article.source_id.clone(),
                url: format!("{}#{anchor}", article.url),
                title: format!("Comment on: {}", article.title),
                text: c.text,
                author: c.author,
                // Undated comments take the article's date, so trends put
                // them in the story's period rather than the day they were
                // fetched.
                published: c.published.or(article.published),
                modified: None,
                fetched,
                lang: None,
                kind: DocKind::Comment,
                parent_id: Some(article.id.clone()),
                labels: None,
            },
            Some(LedgerHint::Comment(identity)),
        ));
    }
    out
}

/// What the moderation ledger needs to know of a document beyond the
/// document itself.
#[derive(Debug, Clone)]
pub(crate) enum LedgerHint {
    /// An article whose page was read: its headline and text as the page
    /// showed them (the version a re-check compares with); `text` is
    /// `None` when it is the document's own text.
    Page { title: String, text: Option<String> },
    /// A comment, and how it is recognised across fetches.
    Comment(mediawatch_core::ledger::CommentIdentity),
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
