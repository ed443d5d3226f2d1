//! Re-checks of tracked articles: the moderation ledger and article
//! histories (`[revisit]`).
//!
//! The classify stage starts tracking an in-scope article once its page was
//! read (its first version, as the page showed it) and records the first
//! sighting of every comment. At each configured age the page is fetched
//! again, conditionally, through the same polite fetcher:
//! - 304: unchanged, and every comment online is still online;
//! - 404/410, or a redirect to the site's home page: deleted. The document
//!   stays in the index; its comments are gone with it (not counted as
//!   moderation);
//! - 200: headline and text hashed; a different hash is a new version,
//!   labelled and indexed again under the same id; the comments compared
//!   with the ledger: new ones are classified and indexed, missing ones are
//!   marked gone with this fetch (a page without any comment section marks
//!   them `section_missing`, not removed).
//!
//! Any other failure is recorded as a failed check; the next age tries
//! again. Each check is stored in one transaction.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mediawatch_config::RevisitScope;
use mediawatch_core::ledger::{
    content_hash, evidence_text, flag_bits, ArticleCheck, ArticleVersion, CheckOutcome,
    CommentSighting, GoneReason, NewTracked, RevisitRecord, TrackedArticle,
};
use mediawatch_core::{DocId, DocKind, Document};
use mediawatch_fetch::{FetchError, FetchRequest};
use mediawatch_state::SightingFilter;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::sink::{PendingDoc, SinkMsg};
use crate::source::{comment_docs, set_languages, LedgerHint, SourceRuntime};
use crate::{Pipeline, PipelineError, Result, SinkHandle};

/// How long a claimed re-check is left to its worker before another may
/// take it (a worker that died mid-check).
const REVISIT_LEASE: chrono::Duration = chrono::Duration::minutes(15);

/// Which documents the classify stage hands to the ledger.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrackPolicy {
    /// When an article's first re-check is due.
    pub first_age: Duration,
    /// Which articles.
    pub scope: RevisitScope,
}

/// The ledger's records of a labelled batch: in-scope articles whose page
/// was read, and every comment.
pub(crate) fn to_track(
    batch: &[PendingDoc],
    policy: &TrackPolicy,
) -> (Vec<NewTracked>, Vec<CommentSighting>) {
    let mut articles = Vec::new();
    let mut comments = Vec::new();
    for p in batch {
        let d = &p.doc;
        match (&p.ledger, d.kind) {
            (Some(LedgerHint::Page { title, text }), DocKind::Article) => {
                let in_scope = match policy.scope {
                    RevisitScope::All => true,
                    RevisitScope::Relevant => d.labels.as_ref().is_some_and(|l| {
                        l.relevance.score >= mediawatch_core::labels::DEFAULT_THRESHOLD
                    }),
                };
                if !in_scope {
                    continue;
                }
                let first_seen = d.fetched;
                articles.push(NewTracked {
                    article: TrackedArticle {
                        doc_id: d.id.to_string(),
                        source_id: d.source_id.clone(),
                        url: d.url.clone(),
                        first_seen,
                        stage: 0,
                        next_due: Some(
                            first_seen
                                + chrono::Duration::from_std(policy.first_age)
                                    .unwrap_or(chrono::Duration::hours(6)),
                        ),
                        etag: None,
                        last_modified: None,
                        deleted_at: None,
                        deleted_how: None,
                    },
                    version: {
                        let text = text.as_deref().unwrap_or(&d.text);
                        ArticleVersion {
                            n: 1,
                            fetched_at: first_seen,
                            content_hash: content_hash(title, text),
                            title: title.clone(),
                            text: text.to_string(),
                        }
                    },
                });
            }
            (Some(LedgerHint::Comment(identity)), DocKind::Comment) => {
                let Some(article) = &d.parent_id else {
                    continue;
                };
                comments.push(CommentSighting {
                    comment_id: d.id.to_string(),
                    article_id: article.to_string(),
                    source_id: d.source_id.clone(),
                    url: d.url.clone(),
                    author: d.author.clone(),
                    text: d.text.clone(),
                    posted: d.published,
                    content_hash: content_hash("", &d.text),
                    identity: *identity,
                    flags: d.labels.as_ref().map_or(0, flag_bits),
                    evidence: d.labels.as_ref().and_then(|l| evidence_text(l, &d.text)),
                    model_version: d.labels.as_ref().map(|l| l.model_version.clone()),
                    first_seen: d.fetched,
                    last_seen: d.fetched,
                    gone_at: None,
                    gone_reason: None,
                    gone_fetch: None,
                });
            }
            _ => {}
        }
    }
    (articles, comments)
}

/// What one round of re-checks did, as `mediawatch revisit` prints it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RevisitReport {
    /// Articles re-checked.
    pub checked: u64,
    /// Answered 304 Not Modified.
    pub not_modified: u64,
    /// Fetched, same headline and text.
    pub unchanged: u64,
    /// A new version stored.
    pub changed: u64,
    /// Found deleted.
    pub deleted: u64,
    /// The fetch failed (tried again at the next age).
    pub failed: u64,
    /// Comments seen for the first time.
    pub comments_new: u64,
    /// Comments still online.
    pub comments_online: u64,
    /// Comments found gone (removed, or with their article).
    pub comments_gone: u64,
    /// Ids of the articles found changed (a new version stored).
    pub edited: Vec<String>,
    /// Ids of the articles found deleted.
    pub deleted_ids: Vec<String>,
    /// One line per failure, naming the article and the cause.
    pub messages: Vec<String>,
}

/// When a tracked article is next due after a check at `now`: the first
/// configured age still ahead (ages that passed while mediawatch was down
/// are skipped rather than fetched back to back); none after the last.
fn next_due(
    first_seen: DateTime<Utc>,
    ages: &[Duration],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    ages.iter()
        .filter_map(|a| chrono::Duration::from_std(*a).ok())
        .map(|a| first_seen + a)
        .find(|t| *t > now)
}

/// A redirect that ends on the site's home page: how outlets often
/// "delete" an article.
fn redirected_home(requested: &str, landed: &url::Url) -> bool {
    let Ok(req) = url::Url::parse(requested) else {
        return false;
    };
    let home = |u: &url::Url| matches!(u.path(), "" | "/") && u.query().is_none();
    landed.host_str().map(|h| h.trim_start_matches("www."))
        == req.host_str().map(|h| h.trim_start_matches("www."))
        && home(landed)
        && !home(&req)
}

impl Pipeline {
    /// Re-checks every tracked article due at `now` (at most
    /// `revisit.per_round`), classifies and indexes what changed or is new,
    /// and commits. `now` is the clock the ledger records: the wall clock
    /// in `mediawatch revisit`, a simulated one in tests.
    pub async fn revisit_once(
        &self,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<RevisitReport> {
        let sink = self.start_sink()?;
        let report = self.revisit_due(&sink.sender(), now, cancel).await;
        sink.finish().await?;
        report
    }

    /// One round of due re-checks into a classify stage the caller runs (a
    /// cluster worker's, which publishes to the document stream); claims
    /// keep concurrent workers off each other's articles.
    pub async fn revisit_into(
        &self,
        sink: &SinkHandle,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<RevisitReport> {
        self.revisit_due(&sink.sender(), now, cancel).await
    }

    /// One round of due re-checks, sending documents to `sink`.
    pub(crate) async fn revisit_due(
        &self,
        sink: &mpsc::Sender<SinkMsg>,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> Result<RevisitReport> {
        let mut report = RevisitReport::default();
        let cfg = &self.config.revisit;
        if !cfg.enabled {
            return Ok(report);
        }
        let due = self
            .state
            .claim_revisits(now, REVISIT_LEASE, cfg.per_round)
            .map_err(|e| PipelineError::StateAt {
                location: self.state.location(),
                source: Box::new(e),
            })?;
        // As many at once as source polls: the fetcher's per-host limits
        // and crawl delays keep each outlet's load polite.
        // The futures run on this task (`join_all`), so they can borrow it.
        let limit = tokio::sync::Semaphore::new(self.config.scheduler.concurrent_sources);
        let limit = &limit;
        let mut tasks = Vec::new();
        for t in due {
            tasks.push(async move {
                let _permit = limit.acquire().await;
                self.revisit_one(&t, sink, now, cancel).await
            });
        }
        for r in futures_util::future::join_all(tasks).await {
            match r {
                Ok(one) => report.add(one),
                Err(None) => {}
                Err(Some(msg)) => {
                    tracing::warn!("{msg}");
                    report.messages.push(msg);
                }
            }
        }
        Ok(report)
    }

    /// One article's re-check. `Err(None)`: cut short by shutdown, nothing
    /// recorded; `Err(Some(msg))`: the check could not be stored.
    async fn revisit_one(
        &self,
        t: &TrackedArticle,
        sink: &mpsc::Sender<SinkMsg>,
        now: DateTime<Utc>,
        cancel: &CancellationToken,
    ) -> std::result::Result<RevisitReport, Option<String>> {
        let mut rep = RevisitReport {
            checked: 1,
            ..Default::default()
        };
        let who = format!("source {}: article {}", t.source_id, t.url);
        let ages = &self.config.revisit.ages;
        let mut record = RevisitRecord {
            doc_id: t.doc_id.clone(),
            check: ArticleCheck {
                at: now,
                status: None,
                outcome: CheckOutcome::Failed,
                content_hash: None,
                note: None,
            },
            new_version: None,
            etag: None,
            last_modified: None,
            next_due: next_due(t.first_seen, ages, now),
            deleted: None,
            comments_seen: Vec::new(),
            comments_gone: Vec::new(),
            gone_reason: GoneReason::Removed,
        };
        let state_err = |e: mediawatch_state::StateError| Some(format!("{who}: {e}"));
        let known = self
            .state
            .comment_sightings(&SightingFilter {
                article: Some(t.doc_id.clone()),
                ..Default::default()
            })
            .map_err(state_err)?;
        let online: Vec<String> = known
            .iter()
            .filter(|c| c.gone_at.is_none())
            .map(|c| c.comment_id.clone())
            .collect();
        let rt = self.sources.iter().find(|s| s.cfg.id == t.source_id);
        let req = FetchRequest {
            url: t.url.clone(),
            etag: t.etag.clone(),
            last_modified: t.last_modified.clone(),
            accept: Some("text/html, application/xhtml+xml;q=0.9, */*;q=0.5".into()),
            ..Default::default()
        };
        let fetched = tokio::select! {
            r = self.fetcher.fetch(&req) => r,
            _ = cancel.cancelled() => return Err(None),
        };
        match (rt, fetched) {
            (None, _) => {
                record.check.note = Some(format!(
                    "source {} is no longer configured; re-checks stop",
                    t.source_id
                ));
                record.next_due = None;
            }
            (Some(_), Ok(resp)) if resp.not_modified => {
                record.check.status = Some(304);
                record.check.outcome = CheckOutcome::NotModified;
                record.comments_seen = online;
            }
            (Some(_), Ok(resp)) if redirected_home(&t.url, &resp.url) => {
                record.check.status = Some(resp.status);
                record.check.outcome = CheckOutcome::Deleted;
                record.check.note = Some(format!("redirected to {}", resp.url));
                record.deleted = Some(format!("redirected to the home page {}", resp.url));
                record.next_due = None;
                record.comments_gone = online;
                record.gone_reason = GoneReason::ArticleDeleted;
            }
            (Some(rt), Ok(resp)) => {
                record.check.status = Some(resp.status);
                record.etag = resp.etag.clone();
                record.last_modified = resp.last_modified.clone();
                match mediawatch_extract::extract_bytes(
                    &resp.body,
                    resp.content_type.as_deref(),
                    Some(resp.url.as_str()),
                    &rt.extract,
                ) {
                    Err(e) => {
                        record.check.note = Some(format!("extraction failed: {e}"));
                    }
                    Ok(mut a) => {
                        let has_section = a.comment_section || !a.comments.is_empty();
                        let comments = std::mem::take(&mut a.comments);
                        // The article as this fetch shows it: the parent of
                        // its comments, and what the index gets when it does
                        // not hold the article here.
                        let page = Document {
                            id: DocId::from_stored(t.doc_id.clone()),
                            source_id: t.source_id.clone(),
                            url: t.url.clone(),
                            title: a.title.unwrap_or_default(),
                            text: a.text,
                            author: a.byline,
                            published: a.published,
                            modified: None,
                            fetched: now,
                            lang: a.lang,
                            kind: DocKind::Article,
                            parent_id: None,
                            labels: None,
                        };
                        let hash = content_hash(&page.title, &page.text);
                        let last = self
                            .state
                            .article_history(&t.doc_id)
                            .map_err(state_err)?
                            .and_then(|h| h.versions.last().map(|v| v.content_hash.clone()));
                        record.check.content_hash = Some(hash.clone());
                        if last.as_deref() == Some(hash.as_str()) {
                            record.check.outcome = CheckOutcome::Unchanged;
                        } else {
                            record.check.outcome = CheckOutcome::Changed;
                            record.new_version = Some(ArticleVersion {
                                n: 0,
                                fetched_at: now,
                                content_hash: hash,
                                title: page.title.clone(),
                                text: page.text.clone(),
                            });
                        }
                        let msgs = self
                            .compare_comments(
                                rt,
                                &page,
                                comments,
                                has_section,
                                now,
                                &known,
                                &mut record,
                                sink,
                            )
                            .await?;
                        rep.comments_new += msgs;
                        if record.check.outcome == CheckOutcome::Changed {
                            self.reindex_changed(rt, page, sink)
                                .await
                                .map_err(|m| Some(format!("{who}: {m}")))?;
                        }
                    }
                }
            }
            (Some(_), Err(e)) => match e {
                FetchError::Http { status, .. } if matches!(status, 404 | 410) => {
                    record.check.status = Some(status);
                    record.check.outcome = CheckOutcome::Deleted;
                    record.deleted = Some(format!("HTTP {status}"));
                    record.next_due = None;
                    record.comments_gone = online;
                    record.gone_reason = GoneReason::ArticleDeleted;
                }
                e => {
                    if let FetchError::Http { status, .. } = &e {
                        record.check.status = Some(*status);
                    }
                    record.check.note = Some(e.to_string());
                    rep.messages.push(format!("{who}: re-check failed: {e}"));
                }
            },
        }
        match record.check.outcome {
            CheckOutcome::NotModified => rep.not_modified += 1,
            CheckOutcome::Unchanged => rep.unchanged += 1,
            CheckOutcome::Changed => {
                rep.changed += 1;
                rep.edited.push(t.doc_id.clone());
            }
            CheckOutcome::Deleted => {
                rep.deleted += 1;
                rep.deleted_ids.push(t.doc_id.clone());
            }
            CheckOutcome::Failed | CheckOutcome::First => rep.failed += 1,
        }
        rep.comments_online += record.comments_seen.len() as u64;
        rep.comments_gone += record.comments_gone.len() as u64;
        self.metrics
            .revisits
            .get_or_create(&crate::metrics::PollLabels {
                result: record.check.outcome.as_str().to_string(),
            })
            .inc();
        // Off the runtime's threads: PostgreSQL's client blocks.
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.record_revisit(&record))
            .await
            .map_err(|e| Some(format!("{who}: the ledger write panicked: {e}")))?
            .map_err(state_err)?;
        Ok(rep)
    }

    /// Compares the page's comments with the ledger: known ones are seen
    /// again, new ones go to the classify stage (their first sighting is
    /// recorded when they are committed), missing ones are gone. Returns
    /// the number of new comments.
    #[allow(clippy::too_many_arguments)]
    async fn compare_comments(
        &self,
        rt: &SourceRuntime,
        article: &Document,
        comments: Vec<mediawatch_extract::Comment>,
        has_section: bool,
        now: DateTime<Utc>,
        known: &[CommentSighting],
        record: &mut RevisitRecord,
        sink: &mpsc::Sender<SinkMsg>,
    ) -> std::result::Result<u64, Option<String>> {
        // The comments' ids depend only on the article's URL (and each
        // comment), exactly as when the article was first stored.
        let mut docs = comment_docs(article, comments, now);
        set_languages(rt, &mut docs);
        let on_page: HashSet<String> = docs.iter().map(|(d, _)| d.id.to_string()).collect();
        let known_ids: HashSet<&str> = known.iter().map(|c| c.comment_id.as_str()).collect();
        for c in known {
            if on_page.contains(&c.comment_id) {
                record.comments_seen.push(c.comment_id.clone());
            } else if c.gone_at.is_none() {
                record.comments_gone.push(c.comment_id.clone());
            }
        }
        if !has_section && !record.comments_gone.is_empty() {
            record.gone_reason = GoneReason::SectionMissing;
        }
        let context = Some(article.context_text());
        let mut new = 0;
        for (doc, hint) in docs {
            if known_ids.contains(doc.id.as_str()) {
                continue;
            }
            new += 1;
            let msg = SinkMsg::Doc(Box::new(PendingDoc {
                doc,
                context: context.clone(),
                source: rt.meta.clone(),
                seen: None,
                ledger: hint,
            }));
            if sink.send(msg).await.is_err() {
                return Err(Some(format!(
                    "source {}: the index stage has stopped",
                    article.source_id
                )));
            }
        }
        Ok(new)
    }

    /// Sends the changed article to the classify stage: same id, the new
    /// headline and text, labelled again. The document's other fields
    /// (source, dates, author) stay as indexed when this process has the
    /// index; otherwise the page's own (`page`) are indexed.
    async fn reindex_changed(
        &self,
        rt: &SourceRuntime,
        page: Document,
        sink: &mpsc::Sender<SinkMsg>,
    ) -> std::result::Result<(), String> {
        let id = page.id.clone();
        let index = self.index.clone();
        let stored = tokio::task::spawn_blocking(move || index.get(&id))
            .await
            .map_err(|e| format!("reading the indexed article panicked: {e}"))?
            .map_err(|e| format!("cannot read the indexed article: {e}"))?;
        let doc = match stored {
            Some(mut doc) => {
                if !page.title.trim().is_empty() {
                    doc.title = page.title;
                }
                doc.text = page.text;
                doc.labels = None;
                doc
            }
            // Not in this process's index (a cluster worker, whose index
            // nodes hold the documents): the page itself, as the first
            // fetch would have built it, replaces the indexed copy.
            None => {
                let mut docs = vec![(page, None)];
                set_languages(rt, &mut docs);
                docs.remove(0).0
            }
        };
        let msg = SinkMsg::Doc(Box::new(PendingDoc {
            doc,
            context: None,
            source: rt.meta.clone(),
            seen: None,
            ledger: None,
        }));
        sink.send(msg)
            .await
            .map_err(|_| "the index stage has stopped".to_string())
    }
}

impl RevisitReport {
    fn add(&mut self, o: RevisitReport) {
        self.checked += o.checked;
        self.not_modified += o.not_modified;
        self.unchanged += o.unchanged;
        self.changed += o.changed;
        self.deleted += o.deleted;
        self.failed += o.failed;
        self.comments_new += o.comments_new;
        self.comments_online += o.comments_online;
        self.comments_gone += o.comments_gone;
        self.edited.extend(o.edited);
        self.deleted_ids.extend(o.deleted_ids);
        self.messages.extend(o.messages);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ages_past_during_downtime_are_skipped() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        let ages: Vec<Duration> = [6, 24, 72]
            .iter()
            .map(|h| Duration::from_secs(h * 3600))
            .collect();
        let h = |n| t0 + chrono::Duration::hours(n);
        assert_eq!(next_due(t0, &ages, h(7)), Some(h(24)));
        assert_eq!(
            next_due(t0, &ages, h(30)),
            Some(h(72)),
            "24 h passed while down"
        );
        assert_eq!(
            next_due(t0, &ages, h(72)),
            None,
            "the last age closes the record"
        );
    }

    #[test]
    fn a_redirect_to_the_home_page_is_a_deletion() {
        let u = |s| url::Url::parse(s).unwrap();
        assert!(redirected_home(
            "https://www.a.rs/vesti/1",
            &u("https://a.rs/")
        ));
        assert!(!redirected_home(
            "https://a.rs/vesti/1",
            &u("https://a.rs/vesti/1-new")
        ));
        assert!(!redirected_home("https://a.rs/", &u("https://a.rs/")));
        assert!(!redirected_home(
            "https://a.rs/vesti/1",
            &u("https://b.rs/")
        ));
    }
}
