//! Social platforms: Mastodon, Bluesky, Reddit (JSON APIs) and Telegram
//! (public channel web previews), plus the URLs their public endpoints live at.
//!
//! Every parser is strict about the envelope and lenient about entries: a
//! response that is not the expected JSON (or HTML) is an [`IngestError`],
//! while one malformed post is skipped with a message in
//! [`PostPage::skipped`] and the others are kept. One bad status must not
//! hide forty good ones, but an HTML error page served instead of JSON must
//! fail the poll loudly.

use chrono::{DateTime, TimeZone, Utc};
use scraper::{ElementRef, Html, Selector};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::html::html_to_text;
use crate::IngestError;

/// One post from a social platform, reduced to what a document needs.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SocialPost {
    /// Namespace of `id` for document ids: `mastodon:<instance host>`,
    /// `bluesky`, `telegram`, `reddit`.
    pub platform: String,
    /// The platform's stable post id (status id, at:// URI, `channel/123`,
    /// `t3_xxx`); with `platform`, it is the document's identity.
    pub id: String,
    /// Public web URL of the post.
    pub url: Option<String>,
    /// Title, where the platform has one (Reddit) or a content warning.
    pub title: Option<String>,
    /// Plain text (HTML converted with [`html_to_text`]).
    pub text: String,
    /// Author handle (`acct`, Bluesky handle, Reddit user, channel title).
    pub author: Option<String>,
    /// When it was posted.
    pub published: Option<DateTime<Utc>>,
    /// Language declared by the platform (ISO 639-1, lower case).
    pub lang: Option<String>,
}

/// The posts of one API page, the entries that were skipped and why, and
/// the cursor of the next page when the platform gives one.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PostPage {
    /// Posts in the order the platform listed them.
    pub posts: Vec<SocialPost>,
    /// One message per skipped entry (`"status 3: missing field `id`"`).
    pub skipped: Vec<String>,
    /// Pagination cursor (Bluesky `cursor`, Reddit `after`).
    pub cursor: Option<String>,
}

/// Builds `base` + path segments + query, percent-encoding each part, so a
/// hashtag in Cyrillic or a search query with spaces cannot break the URL.
/// `base` may carry a path prefix (a mirror, a test server).
fn endpoint(base: &str, segments: &[&str], query: &[(&str, &str)]) -> Result<String, IngestError> {
    let bad = |reason: String| IngestError::BadUrl {
        url: base.to_string(),
        reason,
    };
    let mut u = Url::parse(base.trim()).map_err(|e| bad(e.to_string()))?;
    if u.cannot_be_a_base() || !matches!(u.scheme(), "http" | "https") {
        return Err(bad("not an http(s) base URL".into()));
    }
    u.set_query(None);
    u.set_fragment(None);
    {
        let mut path = u
            .path_segments_mut()
            .map_err(|()| bad("cannot take path segments".into()))?;
        path.pop_if_empty();
        path.extend(segments);
    }
    if !query.is_empty() {
        u.query_pairs_mut().extend_pairs(query);
    }
    Ok(u.to_string())
}

/// Statuses requested per Mastodon timeline page (the API's maximum).
const MASTODON_LIMIT: &str = "40";

/// `GET /api/v1/timelines/tag/:hashtag` on `instance`.
pub fn mastodon_hashtag_url(instance: &str, hashtag: &str) -> Result<String, IngestError> {
    let tag = hashtag.trim().trim_start_matches('#');
    endpoint(
        instance,
        &["api", "v1", "timelines", "tag", tag],
        &[("limit", MASTODON_LIMIT)],
    )
}

/// `GET /api/v1/accounts/lookup?acct=` (resolves `@name[@domain]` to an id).
pub fn mastodon_lookup_url(instance: &str, acct: &str) -> Result<String, IngestError> {
    let acct = acct.trim().trim_start_matches('@');
    endpoint(
        instance,
        &["api", "v1", "accounts", "lookup"],
        &[("acct", acct)],
    )
}

/// `GET /api/v1/accounts/:id/statuses` on `instance`.
pub fn mastodon_account_statuses_url(
    instance: &str,
    account_id: &str,
) -> Result<String, IngestError> {
    endpoint(
        instance,
        &["api", "v1", "accounts", account_id.trim(), "statuses"],
        &[("limit", MASTODON_LIMIT)],
    )
}

/// Posts requested per Bluesky page (the API's maximum is 100).
const BLUESKY_LIMIT: &str = "50";

/// `app.bsky.feed.getAuthorFeed?actor=` under the AppView XRPC base.
pub fn bluesky_author_feed_url(appview: &str, actor: &str) -> Result<String, IngestError> {
    endpoint(
        appview,
        &["app.bsky.feed.getAuthorFeed"],
        &[("actor", actor.trim()), ("limit", BLUESKY_LIMIT)],
    )
}

/// `app.bsky.feed.searchPosts?q=` under the AppView XRPC base, newest first.
pub fn bluesky_search_url(appview: &str, query: &str) -> Result<String, IngestError> {
    endpoint(
        appview,
        &["app.bsky.feed.searchPosts"],
        &[
            ("q", query.trim()),
            ("sort", "latest"),
            ("limit", BLUESKY_LIMIT),
        ],
    )
}

/// The public web preview of a channel: `<base>/s/<channel>`.
pub fn telegram_channel_url(base: &str, channel: &str) -> Result<String, IngestError> {
    endpoint(base, &["s", channel.trim().trim_start_matches('@')], &[])
}

/// The newest posts of a subreddit: `<base>/r/<sub>/new.json?limit=100`.
pub fn reddit_new_url(base: &str, subreddit: &str) -> Result<String, IngestError> {
    let sub = subreddit.trim().trim_start_matches("r/");
    endpoint(base, &["r", sub, "new.json"], &[("limit", "100")])
}

/// A channel's video feed: `<base>/feeds/videos.xml?channel_id=`.
pub fn youtube_channel_feed_url(base: &str, channel_id: &str) -> Result<String, IngestError> {
    endpoint(
        base,
        &["feeds", "videos.xml"],
        &[("channel_id", channel_id.trim())],
    )
}

/// Parses a JSON body, locating syntax errors.
fn parse_json(bytes: &[u8], what: &'static str) -> Result<Value, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty { what });
    }
    serde_json::from_slice(bytes).map_err(|e| IngestError::Malformed {
        what,
        line: Some(e.line()),
        column: Some(e.column()),
        reason: e.to_string(),
    })
}

/// An API's own error object (`{"error": "..."}`, XRPC `{"error","message"}`).
fn api_error(v: &Value, what: &'static str) -> Option<IngestError> {
    let err = v.get("error")?;
    let mut reason = match err {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(m) = v.get("message").and_then(Value::as_str) {
        reason = format!("{reason}: {m}");
    }
    Some(IngestError::Api { what, reason })
}

fn rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// ISO 639-1 part of a language tag (`"sr-Latn"` -> `"sr"`); `None` for junk.
fn lang_code(tag: &str) -> Option<String> {
    let code = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    (code.len() == 2 || code.len() == 3)
        .then_some(code)
        .filter(|c| c.bytes().all(|b| b.is_ascii_lowercase()))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------- Mastodon

#[derive(Deserialize)]
struct MastodonAccount {
    id: String,
    acct: String,
}

#[derive(Deserialize)]
struct MastodonStatus {
    id: String,
    created_at: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    language: Option<String>,
    account: MastodonAccount,
    #[serde(default)]
    reblog: Option<Box<MastodonStatus>>,
}

/// Parses a Mastodon timeline (`[Status]`) from `instance_host`.
///
/// Reblogs (boosts): the wrapper status carries no text of its own, so the
/// boosted status is kept instead, with *its* id, author, date and URL. A
/// post boosted by several accounts thus becomes one document, and a boost
/// of a post already stored adds nothing. The boost itself (who amplified
/// what) is not recorded.
pub fn parse_mastodon_statuses(bytes: &[u8], instance_host: &str) -> Result<PostPage, IngestError> {
    const WHAT: &str = "Mastodon statuses JSON";
    let v = parse_json(bytes, WHAT)?;
    if let Some(e) = api_error(&v, WHAT) {
        return Err(e);
    }
    let Value::Array(entries) = v else {
        return Err(IngestError::Api {
            what: WHAT,
            reason: "expected an array of statuses".into(),
        });
    };
    let platform = format!("mastodon:{instance_host}");
    let mut page = PostPage::default();
    for (i, entry) in entries.into_iter().enumerate() {
        let status: MastodonStatus = match serde_json::from_value(entry) {
            Ok(s) => s,
            Err(e) => {
                page.skipped.push(format!("status {}: {e}", i + 1));
                continue;
            }
        };
        let s = match status.reblog {
            Some(inner) => *inner,
            None => status,
        };
        let Some(published) = rfc3339(&s.created_at) else {
            page.skipped.push(format!(
                "status {} (id {}): created_at {:?} is not an RFC 3339 time",
                i + 1,
                s.id,
                s.created_at
            ));
            continue;
        };
        let text = html_to_text(&s.content);
        if text.is_empty() {
            page.skipped
                .push(format!("status {} (id {}): no text", i + 1, s.id));
            continue;
        }
        page.posts.push(SocialPost {
            platform: platform.clone(),
            id: s.id,
            url: non_empty(s.url).or(non_empty(s.uri)),
            title: non_empty(Some(s.spoiler_text)),
            text,
            author: non_empty(Some(s.account.acct)),
            published: Some(published),
            lang: s.language.as_deref().and_then(lang_code),
        });
    }
    Ok(page)
}

/// The account id from `/api/v1/accounts/lookup`.
pub fn parse_mastodon_account_id(bytes: &[u8]) -> Result<String, IngestError> {
    const WHAT: &str = "Mastodon account JSON";
    let v = parse_json(bytes, WHAT)?;
    if let Some(e) = api_error(&v, WHAT) {
        return Err(e);
    }
    let acc: MastodonAccount = serde_json::from_value(v).map_err(|e| IngestError::Api {
        what: WHAT,
        reason: e.to_string(),
    })?;
    if acc.id.trim().is_empty() {
        return Err(IngestError::Api {
            what: WHAT,
            reason: format!("account {:?} has an empty id", acc.acct),
        });
    }
    Ok(acc.id)
}

// ----------------------------------------------------------------- Bluesky

#[derive(Deserialize)]
struct BskyAuthor {
    handle: String,
}

#[derive(Deserialize)]
struct BskyRecord {
    #[serde(default)]
    text: String,
    #[serde(rename = "createdAt", default)]
    created_at: Option<String>,
    #[serde(default)]
    langs: Vec<String>,
}

#[derive(Deserialize)]
struct BskyPost {
    uri: String,
    author: BskyAuthor,
    record: BskyRecord,
    #[serde(rename = "indexedAt", default)]
    indexed_at: Option<String>,
}

/// Parses a Bluesky `getAuthorFeed` (`{"feed":[{"post":..}]}`) or
/// `searchPosts` (`{"posts":[..]}`) response.
///
/// Reposts appear in author feeds as the original post with a `reason`; the
/// original's at:// URI is its id, so a repost and the post are one document.
pub fn parse_bluesky_posts(bytes: &[u8]) -> Result<PostPage, IngestError> {
    const WHAT: &str = "Bluesky XRPC JSON";
    let v = parse_json(bytes, WHAT)?;
    if let Some(e) = api_error(&v, WHAT) {
        return Err(e);
    }
    let entries: Vec<Value> = if let Some(Value::Array(feed)) = v.get("feed") {
        feed.iter()
            .map(|item| item.get("post").cloned().unwrap_or(Value::Null))
            .collect()
    } else if let Some(Value::Array(posts)) = v.get("posts") {
        posts.clone()
    } else {
        return Err(IngestError::Api {
            what: WHAT,
            reason: "expected a \"feed\" or \"posts\" array".into(),
        });
    };
    let mut page = PostPage {
        cursor: v.get("cursor").and_then(Value::as_str).map(str::to_string),
        ..Default::default()
    };
    for (i, entry) in entries.into_iter().enumerate() {
        let post: BskyPost = match serde_json::from_value(entry) {
            Ok(p) => p,
            Err(e) => {
                page.skipped.push(format!("post {}: {e}", i + 1));
                continue;
            }
        };
        // at://<did>/app.bsky.feed.post/<rkey>
        let rkey = post
            .uri
            .strip_prefix("at://")
            .and_then(|rest| {
                let mut parts = rest.split('/');
                let _did = parts.next()?;
                (parts.next()? == "app.bsky.feed.post").then(|| parts.next())?
            })
            .filter(|k| !k.is_empty());
        let Some(rkey) = rkey else {
            page.skipped.push(format!(
                "post {}: uri {:?} is not an at:// post URI",
                i + 1,
                post.uri
            ));
            continue;
        };
        let text = post.record.text.trim().to_string();
        if text.is_empty() {
            page.skipped
                .push(format!("post {} ({}): no text", i + 1, post.uri));
            continue;
        }
        let published = post
            .record
            .created_at
            .as_deref()
            .and_then(rfc3339)
            .or_else(|| post.indexed_at.as_deref().and_then(rfc3339));
        let handle = post.author.handle.trim().to_string();
        page.posts.push(SocialPost {
            platform: "bluesky".into(),
            url: Some(format!("https://bsky.app/profile/{handle}/post/{rkey}")),
            id: post.uri,
            title: None,
            text,
            author: Some(handle).filter(|h| !h.is_empty()),
            published,
            lang: post.record.langs.first().and_then(|l| lang_code(l)),
        });
    }
    Ok(page)
}

// ------------------------------------------------------------------ Reddit

#[derive(Deserialize)]
struct RedditPost {
    name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    selftext: String,
    #[serde(default)]
    url: Option<String>,
    permalink: String,
    #[serde(default)]
    author: Option<String>,
    created_utc: f64,
    #[serde(default)]
    is_self: bool,
}

/// Parses a subreddit listing (`/r/<sub>/new.json`).
///
/// Self posts keep their markdown `selftext` as text; link posts get the
/// title and the linked URL (the linked page is not fetched). Removed and
/// deleted bodies count as empty, leaving the title.
pub fn parse_reddit_listing(bytes: &[u8]) -> Result<PostPage, IngestError> {
    const WHAT: &str = "Reddit listing JSON";
    let v = parse_json(bytes, WHAT)?;
    if let Some(e) = api_error(&v, WHAT) {
        return Err(e);
    }
    let Some(Value::Array(children)) = v.pointer("/data/children") else {
        return Err(IngestError::Api {
            what: WHAT,
            reason: "expected a Listing with data.children".into(),
        });
    };
    let mut page = PostPage {
        cursor: v
            .pointer("/data/after")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Default::default()
    };
    for (i, child) in children.iter().enumerate() {
        if child.get("kind").and_then(Value::as_str) != Some("t3") {
            page.skipped
                .push(format!("child {}: not a post (t3)", i + 1));
            continue;
        }
        let data = child.get("data").cloned().unwrap_or(Value::Null);
        let p: RedditPost = match serde_json::from_value(data) {
            Ok(p) => p,
            Err(e) => {
                page.skipped.push(format!("post {}: {e}", i + 1));
                continue;
            }
        };
        let published = (p.created_utc.is_finite())
            .then(|| Utc.timestamp_opt(p.created_utc as i64, 0).single())
            .flatten();
        let body = match p.selftext.trim() {
            "[removed]" | "[deleted]" => "",
            s => s,
        };
        let text = if p.is_self {
            if body.is_empty() {
                p.title.trim().to_string()
            } else {
                body.to_string()
            }
        } else {
            let link = p.url.as_deref().unwrap_or("").trim();
            [p.title.trim(), link]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        if text.is_empty() {
            page.skipped
                .push(format!("post {} ({}): no text", i + 1, p.name));
            continue;
        }
        page.posts.push(SocialPost {
            platform: "reddit".into(),
            url: Some(format!(
                "https://www.reddit.com{}",
                if p.permalink.starts_with('/') {
                    p.permalink.clone()
                } else {
                    format!("/{}", p.permalink)
                }
            )),
            id: p.name,
            title: non_empty(Some(p.title)),
            text,
            author: non_empty(p.author).filter(|a| a != "[deleted]"),
            published,
            lang: None,
        });
    }
    Ok(page)
}

// ---------------------------------------------------------------- Telegram

fn inside_reply(el: &ElementRef<'_>) -> bool {
    el.ancestors().any(|a| {
        a.value().as_element().is_some_and(|e| {
            e.classes().any(|c| {
                c == "tgme_widget_message_reply" || c == "tgme_widget_message_forwarded_from"
            })
        })
    })
}

/// Parses a public channel's web preview (`https://t.me/s/<channel>`):
/// each `.tgme_widget_message[data-post]` is a post; its text is
/// `.tgme_widget_message_text` outside a quoted reply, its date
/// `time[datetime]`. Messages without text (a photo alone) are skipped.
pub fn parse_telegram_channel(html: &str) -> Result<PostPage, IngestError> {
    if html.trim().is_empty() {
        return Err(IngestError::Empty {
            what: "Telegram channel page",
        });
    }
    // Constant selectors: a parse failure would be a bug, reported as an
    // error rather than a panic.
    let sel = |s: &str| {
        Selector::parse(s).map_err(|e| IngestError::Selector {
            key: "telegram".into(),
            selector: s.into(),
            reason: e.to_string(),
        })
    };
    let message = sel(".tgme_widget_message")?;
    let text_sel = sel(".tgme_widget_message_text")?;
    let time_sel = sel("time[datetime]")?;
    let owner_sel = sel(".tgme_widget_message_owner_name")?;
    let doc = Html::parse_document(html);
    let mut page = PostPage::default();
    let mut found = false;
    for (i, m) in doc.select(&message).enumerate() {
        found = true;
        let Some(post) = m
            .value()
            .attr("data-post")
            .map(str::trim)
            .filter(|p| p.contains('/'))
        else {
            page.skipped
                .push(format!("message {}: no data-post attribute", i + 1));
            continue;
        };
        let Some(text_el) = m.select(&text_sel).find(|e| !inside_reply(e)) else {
            page.skipped
                .push(format!("message {} ({post}): no text", i + 1));
            continue;
        };
        let text = html_to_text(&text_el.inner_html());
        if text.is_empty() {
            page.skipped
                .push(format!("message {} ({post}): no text", i + 1));
            continue;
        }
        let published = m
            .select(&time_sel)
            .filter_map(|t| t.value().attr("datetime"))
            .find_map(rfc3339);
        let author = m
            .select(&owner_sel)
            .next()
            .map(|o| o.text().collect::<String>().trim().to_string())
            .filter(|a| !a.is_empty());
        page.posts.push(SocialPost {
            platform: "telegram".into(),
            url: Some(format!("https://t.me/{post}")),
            id: post.to_string(),
            title: None,
            text,
            author,
            published,
            lang: None,
        });
    }
    if !found {
        return Err(IngestError::Api {
            what: "Telegram channel page",
            reason: "no .tgme_widget_message elements (not a public channel preview?)".into(),
        });
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_encode_their_parts() {
        assert_eq!(
            mastodon_hashtag_url("https://mastodon.social/", "#избеглице").unwrap(),
            "https://mastodon.social/api/v1/timelines/tag/%D0%B8%D0%B7%D0%B1%D0%B5%D0%B3%D0%BB%D0%B8%D1%86%D0%B5?limit=40"
        );
        assert_eq!(
            mastodon_lookup_url("http://127.0.0.1:8/m", "@unhcr@mastodon.social").unwrap(),
            "http://127.0.0.1:8/m/api/v1/accounts/lookup?acct=unhcr%40mastodon.social"
        );
        assert_eq!(
            mastodon_account_statuses_url("https://m.example", "109").unwrap(),
            "https://m.example/api/v1/accounts/109/statuses?limit=40"
        );
        assert_eq!(
            bluesky_search_url("https://public.api.bsky.app/xrpc", "migranti granica").unwrap(),
            "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=migranti+granica&sort=latest&limit=50"
        );
        assert_eq!(
            bluesky_author_feed_url("https://public.api.bsky.app/xrpc/", "a.bsky.social").unwrap(),
            "https://public.api.bsky.app/xrpc/app.bsky.feed.getAuthorFeed?actor=a.bsky.social&limit=50"
        );
        assert_eq!(
            telegram_channel_url("https://t.me", "@infomigrants").unwrap(),
            "https://t.me/s/infomigrants"
        );
        assert_eq!(
            reddit_new_url("https://www.reddit.com", "r/serbia").unwrap(),
            "https://www.reddit.com/r/serbia/new.json?limit=100"
        );
        assert_eq!(
            youtube_channel_feed_url("https://www.youtube.com", "UC1").unwrap(),
            "https://www.youtube.com/feeds/videos.xml?channel_id=UC1"
        );
        assert!(matches!(
            reddit_new_url("not a url", "x"),
            Err(IngestError::BadUrl { .. })
        ));
    }

    const MASTODON: &str = r#"[
 {"id":"113","created_at":"2026-11-02T08:15:00.000Z","url":"https://m.example/@ana/113",
  "content":"<p>Volonteri u Šidu dele zimsku odeću izbeglicama. <a href=\"https://m.example/tags/izbeglice\">#<span>izbeglice</span></a></p>",
  "spoiler_text":"","language":"sr","account":{"id":"7","acct":"ana"},"reblog":null},
 {"id":"114","created_at":"2026-11-02T09:00:00.000Z","url":null,"content":"","language":null,
  "account":{"id":"8","acct":"boris@other.example"},
  "reblog":{"id":"99","created_at":"2026-11-01T20:00:00Z","url":"https://other.example/@c/1","content":"<p>Uchodźcy na granicy</p>","language":"pl-PL","account":{"id":"9","acct":"c@other.example"}}},
 {"id":"115","created_at":"yesterday","content":"<p>x</p>","account":{"id":"1","acct":"z"}},
 {"created_at":"2026-11-02T10:00:00Z","content":"<p>no id</p>","account":{"id":"1","acct":"z"}}
]"#;

    #[test]
    fn mastodon_statuses_reblogs_and_malformed_entries() {
        let page = parse_mastodon_statuses(MASTODON.as_bytes(), "m.example").unwrap();
        assert_eq!(page.posts.len(), 2, "{page:#?}");
        let a = &page.posts[0];
        assert_eq!(a.platform, "mastodon:m.example");
        assert_eq!(a.id, "113");
        assert_eq!(a.author.as_deref(), Some("ana"));
        assert_eq!(a.lang.as_deref(), Some("sr"));
        assert!(a.text.starts_with("Volonteri u Šidu"), "{}", a.text);
        assert!(!a.text.contains('<'));
        assert_eq!(a.url.as_deref(), Some("https://m.example/@ana/113"));
        // The boost becomes the boosted status, with its own id and author.
        let b = &page.posts[1];
        assert_eq!(b.id, "99");
        assert_eq!(b.author.as_deref(), Some("c@other.example"));
        assert_eq!(b.text, "Uchodźcy na granicy");
        assert_eq!(b.lang.as_deref(), Some("pl"));
        assert_eq!(
            b.published.unwrap().to_rfc3339(),
            "2026-11-01T20:00:00+00:00"
        );
        assert_eq!(page.skipped.len(), 2, "{:?}", page.skipped);
        assert!(page.skipped[0].contains("created_at"), "{:?}", page.skipped);
        assert!(page.skipped[1].contains("id"), "{:?}", page.skipped);
    }

    #[test]
    fn mastodon_envelope_errors() {
        assert!(matches!(
            parse_mastodon_statuses(b"{\"error\":\"Record not found\"}", "h"),
            Err(IngestError::Api { .. })
        ));
        match parse_mastodon_statuses(b"[\n{\"id\": }", "h") {
            Err(IngestError::Malformed { line, .. }) => assert_eq!(line, Some(2)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse_mastodon_statuses(b"", "h"),
            Err(IngestError::Empty { .. })
        ));
        assert_eq!(
            parse_mastodon_account_id(br#"{"id":"42","acct":"unhcr"}"#).unwrap(),
            "42"
        );
        assert!(parse_mastodon_account_id(br#"{"error":"Record not found"}"#).is_err());
    }

    #[test]
    fn bluesky_feed_and_search() {
        let feed = r#"{"cursor":"c1","feed":[
 {"post":{"uri":"at://did:plc:abc/app.bsky.feed.post/3kx1","cid":"x","author":{"did":"did:plc:abc","handle":"vesti.bsky.social"},
   "record":{"$type":"app.bsky.feed.post","text":"Мигранти на граници код Хоргоша","createdAt":"2026-11-03T07:00:00.000Z","langs":["sr"]},"indexedAt":"2026-11-03T07:00:01Z"}},
 {"post":{"uri":"at://did:plc:abc/app.bsky.feed.repost/zz","author":{"handle":"x.bsky.social"},"record":{"text":"t"}}},
 {"post":{"uri":"at://did:plc:def/app.bsky.feed.post/3ky2","author":{"handle":"mk.bsky.social"},"record":{"text":"Бегалци","langs":[]},"indexedAt":"2026-11-03T08:00:00Z"},
  "reason":{"$type":"app.bsky.feed.defs#reasonRepost"}},
 {"post":{"author":{"handle":"broken"}}}
]}"#;
        let page = parse_bluesky_posts(feed.as_bytes()).unwrap();
        assert_eq!(page.cursor.as_deref(), Some("c1"));
        assert_eq!(page.posts.len(), 2, "{page:#?}");
        let p = &page.posts[0];
        assert_eq!(p.id, "at://did:plc:abc/app.bsky.feed.post/3kx1");
        assert_eq!(
            p.url.as_deref(),
            Some("https://bsky.app/profile/vesti.bsky.social/post/3kx1")
        );
        assert_eq!(p.lang.as_deref(), Some("sr"));
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2026-11-03T07:00:00+00:00"
        );
        // No createdAt: indexedAt is the date.
        assert_eq!(
            page.posts[1].published.unwrap().to_rfc3339(),
            "2026-11-03T08:00:00+00:00"
        );
        assert_eq!(page.skipped.len(), 2, "{:?}", page.skipped);

        let search = r#"{"posts":[{"uri":"at://did:plc:q/app.bsky.feed.post/1","author":{"handle":"q.example"},"record":{"text":"Menekültek Röszkénél","langs":["hu"]}}]}"#;
        let page = parse_bluesky_posts(search.as_bytes()).unwrap();
        assert_eq!(page.posts[0].lang.as_deref(), Some("hu"));
        assert!(matches!(
            parse_bluesky_posts(br#"{"error":"InvalidRequest","message":"Profile not found"}"#),
            Err(IngestError::Api { reason, .. }) if reason.contains("Profile not found")
        ));
        assert!(parse_bluesky_posts(b"{\"other\":1}").is_err());
    }

    #[test]
    fn reddit_self_link_and_malformed_posts() {
        let json = r#"{"kind":"Listing","data":{"after":"t3_c","children":[
 {"kind":"t3","data":{"name":"t3_a","title":"Migranti u Bosni","selftext":"Kamp Lipa je opet pun.","url":"https://www.reddit.com/r/bih/comments/a/x/","permalink":"/r/bih/comments/a/x/","author":"korisnik","created_utc":1793520000.0,"is_self":true}},
 {"kind":"t3","data":{"name":"t3_b","title":"Izbjeglice na granici","selftext":"","url":"https://news.example/clanak","permalink":"/r/bih/comments/b/y/","author":"[deleted]","created_utc":1793523600,"is_self":false}},
 {"kind":"t3","data":{"name":"t3_c","title":"bez vremena","permalink":"/r/bih/comments/c/z/"}},
 {"kind":"t1","data":{}}
]}}"#;
        let page = parse_reddit_listing(json.as_bytes()).unwrap();
        assert_eq!(page.cursor.as_deref(), Some("t3_c"));
        assert_eq!(page.posts.len(), 2, "{page:#?}");
        let a = &page.posts[0];
        assert_eq!(a.id, "t3_a");
        assert_eq!(a.text, "Kamp Lipa je opet pun.");
        assert_eq!(a.title.as_deref(), Some("Migranti u Bosni"));
        assert_eq!(
            a.url.as_deref(),
            Some("https://www.reddit.com/r/bih/comments/a/x/")
        );
        assert_eq!(a.published.unwrap().timestamp(), 1_793_520_000);
        let b = &page.posts[1];
        assert_eq!(
            b.text,
            "Izbjeglice na granici\n\nhttps://news.example/clanak"
        );
        assert_eq!(b.author, None);
        assert_eq!(page.skipped.len(), 2, "{:?}", page.skipped);
        assert!(parse_reddit_listing(b"[]").is_err());
    }

    #[test]
    fn telegram_preview_page() {
        let html = r#"<html><body><section class="tgme_channel_history">
<div class="tgme_widget_message_wrap"><div class="tgme_widget_message" data-post="granica/101">
  <div class="tgme_widget_message_bubble">
   <div class="tgme_widget_message_owner_name"><span>Granica Info</span></div>
   <a class="tgme_widget_message_reply"><div class="tgme_widget_message_text">quoted older message</div></a>
   <div class="tgme_widget_message_text js-message_text">Нова група мигранта стигла је у Прешево.<br/>Детаљи ускоро.</div>
   <div class="tgme_widget_message_footer"><a class="tgme_widget_message_date" href="https://t.me/granica/101"><time datetime="2026-11-04T06:30:00+00:00">06:30</time></a></div>
  </div></div></div>
<div class="tgme_widget_message" data-post="granica/102"><div class="tgme_widget_message_photo_wrap"></div></div>
<div class="tgme_widget_message"><div class="tgme_widget_message_text">no id</div></div>
</section></body></html>"#;
        let page = parse_telegram_channel(html).unwrap();
        assert_eq!(page.posts.len(), 1, "{page:#?}");
        let p = &page.posts[0];
        assert_eq!(p.id, "granica/101");
        assert_eq!(p.url.as_deref(), Some("https://t.me/granica/101"));
        assert_eq!(
            p.text,
            "Нова група мигранта стигла је у Прешево.\nДетаљи ускоро."
        );
        assert_eq!(p.author.as_deref(), Some("Granica Info"));
        assert_eq!(
            p.published.unwrap().to_rfc3339(),
            "2026-11-04T06:30:00+00:00"
        );
        assert_eq!(page.skipped.len(), 2, "{:?}", page.skipped);
        assert!(matches!(
            parse_telegram_channel("<html><body>Channel not found</body></html>"),
            Err(IngestError::Api { .. })
        ));
    }
}
