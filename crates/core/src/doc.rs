//! Documents and their stable identity.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{CoreError, Labels};

/// Stable document id: 32 lowercase hex chars (the first 128 bits of a SHA-256).
///
/// Derived from the canonical URL for web documents, or from platform + post
/// id for social posts, so that fetching the same item twice yields the same
/// id and the index can upsert instead of duplicating.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct DocId(String);

impl DocId {
    /// Id of a web document, from its canonical URL (see [`crate::canonicalize_url`]).
    pub fn from_url(canonical_url: &str) -> Self {
        Self::hash_parts(&["url", canonical_url])
    }

    /// Id of a platform item (e.g. `("mastodon", "109876")`).
    pub fn from_platform(platform: &str, post_id: &str) -> Self {
        Self::hash_parts(&["post", platform, post_id])
    }

    fn hash_parts(parts: &[&str]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            // Length-prefix each part so ("ab","c") and ("a","bc") differ.
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        let digest = h.finalize();
        let mut s = String::with_capacity(32);
        for b in &digest[..16] {
            s.push_str(&format!("{b:02x}"));
        }
        DocId(s)
    }

    /// Wraps an id read back from storage; no validation beyond non-emptiness.
    pub fn from_stored(s: impl Into<String>) -> Self {
        DocId(s.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of item a document is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    /// A news article or blog post from a web outlet.
    #[default]
    Article,
    /// A social media post.
    Post,
    /// A reader comment below an article.
    Comment,
}

impl DocKind {
    /// Lowercase name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Article => "article",
            DocKind::Post => "post",
            DocKind::Comment => "comment",
        }
    }
}

impl FromStr for DocKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "article" => Ok(DocKind::Article),
            "post" => Ok(DocKind::Post),
            "comment" => Ok(DocKind::Comment),
            other => Err(CoreError::InvalidValue {
                what: "document kind",
                value: other.to_string(),
                expected: "article, post, comment",
            }),
        }
    }
}

/// One monitored item: an article, a social post or a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Document {
    /// Stable id (see [`DocId`]).
    pub id: DocId,
    /// Id of the configured source it came from.
    pub source_id: String,
    /// Canonical URL.
    pub url: String,
    /// Headline or post title (may be empty for posts).
    pub title: String,
    /// Main text, paragraphs separated by blank lines.
    pub text: String,
    /// Author or byline, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Publication time, when the item states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    /// Last modification time, when the item states one (used for trends
    /// only when it states no publication time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<DateTime<Utc>>,
    /// When mediawatch fetched it.
    pub fetched: DateTime<Utc>,
    /// ISO 639-1 language code, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Article, post or comment.
    #[serde(default)]
    pub kind: DocKind,
    /// For comments: the id of the article they belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<DocId>,
    /// Classifier output, once classified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
}

/// Where a document's trend time comes from. A document dated only by
/// its fetch says when it was crawled, not when it was news: reports and
/// alerts leave such documents out of their time series by default, so a
/// crawl day never looks like a news day.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DateSource {
    /// The item's publication time.
    #[default]
    Published,
    /// The item's last modification time (it stated no publication time).
    Modified,
    /// The fetch time: the item stated no date.
    Fetched,
}

impl DateSource {
    /// `published`, `modified` or `fetched`.
    pub fn as_str(self) -> &'static str {
        match self {
            DateSource::Published => "published",
            DateSource::Modified => "modified",
            DateSource::Fetched => "fetched",
        }
    }

    /// The number stored in the index.
    pub fn code(self) -> u64 {
        match self {
            DateSource::Published => 0,
            DateSource::Modified => 1,
            DateSource::Fetched => 2,
        }
    }

    /// The inverse of [`DateSource::code`] (unknown codes read as fetched).
    pub fn from_code(code: u64) -> Self {
        match code {
            0 => DateSource::Published,
            1 => DateSource::Modified,
            _ => DateSource::Fetched,
        }
    }
}

impl Document {
    /// The time used for trends: publication time, else modification
    /// time, else fetch time (see [`Document::date_source`]).
    pub fn effective_time(&self) -> DateTime<Utc> {
        self.published.or(self.modified).unwrap_or(self.fetched)
    }

    /// Which time [`Document::effective_time`] is.
    pub fn date_source(&self) -> DateSource {
        if self.published.is_some() {
            DateSource::Published
        } else if self.modified.is_some() {
            DateSource::Modified
        } else {
            DateSource::Fetched
        }
    }

    /// The text a classifier reads: the document's text, or its title when
    /// there is none (a headline-only feed item). Evidence spans are byte
    /// offsets into this string, so every caller (ingest, reclassify,
    /// corrections) must classify exactly this.
    pub fn classified_text(&self) -> &str {
        if self.text.trim().is_empty() {
            &self.title
        } else {
            &self.text
        }
    }

    /// What a reader sees of this document above its comments: the title
    /// and the lead (the first paragraph, cut at a sentence end near
    /// [`CONTEXT_LEAD_BYTES`]). Comments and replies are classified with
    /// it as their context, so that they inherit the story's migration
    /// scope.
    pub fn context_text(&self) -> String {
        let title = self.title.trim();
        let para = self
            .text
            .split("\n\n")
            .map(str::trim)
            .find(|p| !p.is_empty() && *p != title)
            .unwrap_or("");
        let lead = cut_at_sentence(para, CONTEXT_LEAD_BYTES);
        match (title.is_empty(), lead.is_empty()) {
            (true, _) => lead.to_string(),
            (false, true) => title.to_string(),
            (false, false) => format!("{title}\n{lead}"),
        }
    }
}

/// Bytes of an article's lead taken into a comment's context.
pub const CONTEXT_LEAD_BYTES: usize = 400;

/// `text` up to `max` bytes, ending after the last sentence end (`.`, `!`,
/// `?`) in that prefix when there is one, else at the last char boundary.
fn cut_at_sentence(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let prefix = &text[..end];
    match prefix.rfind(['.', '!', '?']) {
        Some(i) if i > max / 3 => &text[..=i],
        _ => prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = DocId::from_url("https://example.org/a");
        assert_eq!(a, DocId::from_url("https://example.org/a"));
        assert_ne!(a, DocId::from_url("https://example.org/b"));
        assert_eq!(a.as_str().len(), 32);
        // A URL and a platform post with the same text must not collide.
        assert_ne!(DocId::from_platform("x", "y"), DocId::from_url("x/y"),);
        assert_ne!(
            DocId::from_platform("ab", "c"),
            DocId::from_platform("a", "bc")
        );
    }

    #[test]
    fn context_is_title_and_lead() {
        let mut d = Document {
            id: DocId::from_url("https://example.org/a"),
            source_id: "s".into(),
            url: "https://example.org/a".into(),
            title: "Migranti u Bihaću".into(),
            text: format!(
                "Prvi odlomak o kampu Lipa. Drugi stavak. {}\n\nDrugi odlomak.",
                "Još teksta. ".repeat(60)
            ),
            author: None,
            published: None,
            modified: None,
            fetched: Utc::now(),
            lang: Some("bs".into()),
            kind: DocKind::Article,
            parent_id: None,
            labels: None,
        };
        let c = d.context_text();
        assert!(
            c.starts_with("Migranti u Bihaću\nPrvi odlomak o kampu Lipa."),
            "{c}"
        );
        assert!(c.len() <= "Migranti u Bihaću\n".len() + CONTEXT_LEAD_BYTES);
        assert!(c.ends_with('.'), "{c}");
        d.text.clear();
        assert_eq!(d.context_text(), "Migranti u Bihaću");
        d.title.clear();
        assert_eq!(d.context_text(), "");
    }

    #[test]
    fn kind_round_trip() {
        for k in [DocKind::Article, DocKind::Post, DocKind::Comment] {
            assert_eq!(k.as_str().parse::<DocKind>().unwrap(), k);
        }
        assert!("tweet".parse::<DocKind>().is_err());
    }
}
