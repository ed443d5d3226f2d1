//! What was online, when: the moderation ledger of comment sections and
//! the history of articles (versions, edits, deletions).
//!
//! These are the records monitors cite to newsrooms and press councils, so
//! every one carries the times it was observed and a content hash that a
//! third party can recompute from the text ([`content_hash`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::labels::{Labels, LABEL_NAMES};

/// Why a comment stopped being visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoneReason {
    /// The article page was fetched, its comment section was there, and
    /// this comment was not: removed by the outlet (or its author).
    Removed,
    /// The whole article was deleted (404/410 or a redirect to the home
    /// page): not a moderation decision about this comment.
    ArticleDeleted,
    /// The page came back without any comment section at all (comments
    /// closed, or the page's markup changed): not counted as removals.
    SectionMissing,
}

impl GoneReason {
    /// Name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            GoneReason::Removed => "removed",
            GoneReason::ArticleDeleted => "article_deleted",
            GoneReason::SectionMissing => "section_missing",
        }
    }

    /// Parses [`GoneReason::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "removed" => GoneReason::Removed,
            "article_deleted" => GoneReason::ArticleDeleted,
            "section_missing" => GoneReason::SectionMissing,
            _ => return None,
        })
    }
}

/// How a comment is recognised from one fetch to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommentIdentity {
    /// The platform's own comment id (stable even if the text is edited).
    Platform,
    /// A hash of author, text and posting time (an edited comment then
    /// counts as removed and a new one seen).
    Hash,
}

impl CommentIdentity {
    /// Name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentIdentity::Platform => "platform",
            CommentIdentity::Hash => "hash",
        }
    }

    /// Parses [`CommentIdentity::as_str`]; anything else is a hash.
    pub fn parse(s: &str) -> Self {
        if s == "platform" {
            CommentIdentity::Platform
        } else {
            CommentIdentity::Hash
        }
    }
}

/// The key identifying a comment of the article at `article_url` across
/// fetches: the platform id when the page gives one, else author + text +
/// posting time. The comment's document id is derived from it.
pub fn comment_key(
    article_url: &str,
    platform_id: Option<&str>,
    author: Option<&str>,
    text: &str,
    posted: Option<DateTime<Utc>>,
) -> (String, CommentIdentity) {
    match platform_id {
        Some(id) => (
            format!("{article_url}\u{1f}#{id}"),
            CommentIdentity::Platform,
        ),
        None => (
            format!(
                "{article_url}\u{1f}{}\u{1f}{}\u{1f}{}",
                author.unwrap_or(""),
                &content_hash("", text)[..16],
                posted.map(|t| t.timestamp()).unwrap_or(0)
            ),
            CommentIdentity::Hash,
        ),
    }
}

/// SHA-256 (hex) of a title and text as read: whitespace runs collapsed to
/// one space, so a re-rendered page with the same words hashes the same,
/// and anyone holding the exported text can recompute it.
pub fn content_hash(title: &str, text: &str) -> String {
    let mut h = Sha256::new();
    let mut first = true;
    for w in title.split_whitespace() {
        if !first {
            h.update(b" ");
        }
        h.update(w.as_bytes());
        first = false;
    }
    h.update(b"\n");
    first = true;
    for w in text.split_whitespace() {
        if !first {
            h.update(b" ");
        }
        h.update(w.as_bytes());
        first = false;
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Label flags as a bit set in the order of [`LABEL_NAMES`] (bit 0 =
/// `relevant`), as the ledger stores them.
pub fn flag_bits(labels: &Labels) -> u8 {
    labels
        .flags()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.present)
        .fold(0u8, |b, (i, _)| b | (1 << i))
}

/// Whether `bits` (from [`flag_bits`]) has the label `name`.
pub fn has_flag(bits: u8, name: &str) -> bool {
    LABEL_NAMES
        .iter()
        .position(|n| *n == name)
        .is_some_and(|i| bits & (1 << i) != 0)
}

/// The span a reader should look at: the first hate evidence, else the
/// first collective-labelling span, as the text it covers.
pub fn evidence_text(labels: &Labels, text: &str) -> Option<String> {
    labels
        .hate
        .evidence
        .iter()
        .chain(&labels.collective_labelling.spans)
        .find_map(|s| text.get(s.start..s.end).map(str::to_string))
}

/// One comment as the ledger knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentSighting {
    /// The comment's document id (as in the index).
    pub comment_id: String,
    /// Its article's document id.
    pub article_id: String,
    /// Source id.
    pub source_id: String,
    /// The comment's URL (the article's, with a fragment).
    pub url: String,
    /// Commenter's name, when shown.
    pub author: Option<String>,
    /// The text as first seen.
    pub text: String,
    /// When it says it was posted.
    pub posted: Option<DateTime<Utc>>,
    /// [`content_hash`] of the text (empty title).
    pub content_hash: String,
    /// How it is recognised across fetches.
    pub identity: CommentIdentity,
    /// Label flags ([`flag_bits`]).
    pub flags: u8,
    /// The evidence span's text, when the labels have one.
    pub evidence: Option<String>,
    /// The model that labelled it.
    pub model_version: Option<String>,
    /// The fetch that first showed it.
    pub first_seen: DateTime<Utc>,
    /// The last fetch that showed it.
    pub last_seen: DateTime<Utc>,
    /// The fetch that showed it gone, if one did.
    pub gone_at: Option<DateTime<Utc>>,
    /// Why it is gone.
    pub gone_reason: Option<GoneReason>,
    /// What that fetch saw (HTTP status, final URL, content hash).
    pub gone_fetch: Option<String>,
}

impl CommentSighting {
    /// Whether it carries the label `name` (one of [`LABEL_NAMES`]).
    pub fn has(&self, name: &str) -> bool {
        has_flag(self.flags, name)
    }

    /// The comment's label as the ledger names it: `hate`, `offensive`,
    /// `collective` or `none`.
    pub fn label(&self) -> &'static str {
        if self.has("hate") {
            "hate"
        } else if self.has("offensive") {
            "offensive"
        } else if self.has("collective_labelling") {
            "collective"
        } else {
            "none"
        }
    }

    /// Hateful, offensive or collectively labelling.
    pub fn hostile(&self) -> bool {
        self.label() != "none"
    }
}

/// What one re-check of an article found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// The fetch that first stored the article.
    First,
    /// 304 Not Modified.
    NotModified,
    /// Fetched, same content hash.
    Unchanged,
    /// Fetched, different headline or text: a new version.
    Changed,
    /// 404/410 or a redirect to the home page.
    Deleted,
    /// The fetch failed otherwise (kept as a record; retried at the next age).
    Failed,
}

impl CheckOutcome {
    /// Name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::First => "first",
            CheckOutcome::NotModified => "not_modified",
            CheckOutcome::Unchanged => "unchanged",
            CheckOutcome::Changed => "changed",
            CheckOutcome::Deleted => "deleted",
            CheckOutcome::Failed => "failed",
        }
    }

    /// Parses [`CheckOutcome::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "first" => CheckOutcome::First,
            "not_modified" => CheckOutcome::NotModified,
            "unchanged" => CheckOutcome::Unchanged,
            "changed" => CheckOutcome::Changed,
            "deleted" => CheckOutcome::Deleted,
            "failed" => CheckOutcome::Failed,
            _ => return None,
        })
    }
}

/// One fetch of a tracked article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleCheck {
    /// When.
    pub at: DateTime<Utc>,
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    /// What it found.
    pub outcome: CheckOutcome,
    /// [`content_hash`] of what it read, when it read a page.
    pub content_hash: Option<String>,
    /// Details: the final URL of a redirect, the error.
    pub note: Option<String>,
}

/// One version of an article's headline and text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleVersion {
    /// 1 for the version first stored.
    pub n: u32,
    /// The fetch that found it.
    pub fetched_at: DateTime<Utc>,
    /// [`content_hash`] of title and text.
    pub content_hash: String,
    /// Headline.
    pub title: String,
    /// Text.
    pub text: String,
}

/// An article whose page is re-checked at set ages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackedArticle {
    /// Document id.
    pub doc_id: String,
    /// Source id.
    pub source_id: String,
    /// The page re-fetched.
    pub url: String,
    /// When it was first stored.
    pub first_seen: DateTime<Utc>,
    /// Re-checks done.
    pub stage: u32,
    /// The next re-check; none when the last age is done or it was deleted.
    pub next_due: Option<DateTime<Utc>>,
    /// Validators of the last 200 answer, for a conditional GET.
    pub etag: Option<String>,
    /// See `etag`.
    pub last_modified: Option<String>,
    /// When it was deleted (first fetch that showed it gone).
    pub deleted_at: Option<DateTime<Utc>>,
    /// How that fetch showed it (`HTTP 404`, `redirected to https://…/`).
    pub deleted_how: Option<String>,
}

/// An article's whole record: versions oldest first, every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArticleHistory {
    /// The article.
    pub article: TrackedArticle,
    /// Its versions, oldest first.
    pub versions: Vec<ArticleVersion>,
    /// Every fetch, oldest first.
    pub checks: Vec<ArticleCheck>,
}

/// A document to start tracking, as the classify stage stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTracked {
    /// The article.
    pub article: TrackedArticle,
    /// Its first version.
    pub version: ArticleVersion,
}

/// What one re-check of a tracked article found, stored in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisitRecord {
    /// The article.
    pub doc_id: String,
    /// The check.
    pub check: ArticleCheck,
    /// A new version (its `n` is assigned by the store).
    pub new_version: Option<ArticleVersion>,
    /// Validators of a 200 answer.
    pub etag: Option<String>,
    /// See `etag`.
    pub last_modified: Option<String>,
    /// The next re-check; none to stop.
    pub next_due: Option<DateTime<Utc>>,
    /// Set when this check found the article deleted.
    pub deleted: Option<String>,
    /// Comments on the page this time (their `last_seen` becomes the
    /// check's time; one seen again after being gone is back).
    pub comments_seen: Vec<String>,
    /// Comments no longer there, and why.
    pub comments_gone: Vec<String>,
    /// Why `comments_gone` are gone.
    pub gone_reason: GoneReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_ignores_layout_whitespace_only() {
        let a = content_hash("Migrants  rescued", "One.\n\nTwo  words.");
        assert_eq!(a, content_hash("Migrants rescued", "One. Two words."));
        assert_ne!(a, content_hash("Migrants rescued", "One. Two word."));
        assert_ne!(a, content_hash("Migrants", "rescued One. Two words."));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn comments_are_keyed_by_platform_id_else_content() {
        let (k1, i1) = comment_key("https://a/x", Some("c-17"), Some("Ana"), "hi", None);
        let (k2, _) = comment_key("https://a/x", Some("c-17"), Some("Ana"), "edited", None);
        assert_eq!((k1.as_str(), i1), (k2.as_str(), CommentIdentity::Platform));
        let (h1, i2) = comment_key("https://a/x", None, Some("Ana"), "hi", None);
        let (h2, _) = comment_key("https://a/x", None, Some("Ana"), "edited", None);
        assert_eq!(i2, CommentIdentity::Hash);
        assert_ne!(h1, h2);
        let (h3, _) = comment_key("https://a/y", None, Some("Ana"), "hi", None);
        assert_ne!(
            h1, h3,
            "the same words under another article are another comment"
        );
    }

    #[test]
    fn flags_round_trip_through_bits() {
        let mut l = Labels::default();
        l.hate.class = crate::HateClass::Hate;
        l.collective_labelling.score = 0.9;
        let b = flag_bits(&l);
        assert!(has_flag(b, "hate") && has_flag(b, "collective_labelling"));
        assert!(!has_flag(b, "offensive") && !has_flag(b, "nonsense"));
    }
}
