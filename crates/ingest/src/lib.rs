//! Parsing of what news outlets publish for machines: feeds (RSS 0.9x, 1.0,
//! 2.0, Atom 0.3/1.0, JSON Feed), news sitemaps and sitemap indexes, and OPML
//! source lists, plus plain-text extraction from feed HTML; HTML listing
//! pages; social platforms (Mastodon, Bluesky, Reddit JSON, Telegram channel
//! previews); JSON Lines and CSV imports.
//!
//! Every function here is pure: bytes in, data or an [`IngestError`] out. The
//! pipeline does the I/O. No input makes these functions panic; errors say
//! which format failed, why, and where (line/column) when the parser knows.

mod decode;
mod feed;
mod html;
mod listing;
mod normalize;
mod opml;
mod records;
mod sitemap;
mod social;

pub use feed::{parse_feed, FeedEntry, ParsedFeed};
pub use html::html_to_text;
pub use listing::{check_selector, parse_listing, ListingOptions, ListingPage};
pub use opml::{opml_to_sources_toml, parse_opml, OpmlOutline};
pub use records::{
    parse_csv, parse_jsonl, parse_record_time, Record, RecordBatch, RecordColumns, RowError,
};
pub use sitemap::{parse_sitemap, Sitemap, SitemapUrl, MAX_DECOMPRESSED_BYTES};
pub use social::{
    bluesky_author_feed_url, bluesky_search_url, mastodon_account_statuses_url,
    mastodon_hashtag_url, mastodon_lookup_url, parse_bluesky_posts, parse_mastodon_account_id,
    parse_mastodon_statuses, parse_reddit_listing, parse_telegram_channel, reddit_new_url,
    telegram_channel_url, youtube_channel_feed_url, PostPage, SocialPost,
};

/// Errors from parsing feeds, sitemaps and OPML.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The input held no document at all (zero bytes or only whitespace).
    #[error("empty {what}: the input contains no document")]
    Empty {
        /// The kind of document expected ("feed", "sitemap", "OPML").
        what: &'static str,
    },
    /// The document is not well-formed (XML or JSON syntax error).
    #[error("malformed {what}{}: {reason}", position(*.line, *.column))]
    Malformed {
        /// What was being parsed ("feed XML", "sitemap XML", "JSON Feed", ...).
        what: &'static str,
        /// 1-based line of the error, when the parser reports a position.
        line: Option<usize>,
        /// 1-based column (in characters) of the error.
        column: Option<usize>,
        /// The parser's description of the problem.
        reason: String,
    },
    /// The document is well-formed but its root is not one this format uses
    /// (e.g. an HTML page served where a feed was expected).
    #[error("not a {what}: root element is <{root}>, expected {expected}")]
    UnexpectedRoot {
        /// The format expected.
        what: &'static str,
        /// The root element found (empty when there was none).
        root: String,
        /// The roots that would have been accepted.
        expected: &'static str,
    },
    /// feed-rs rejected the feed for a reason other than XML syntax
    /// (e.g. an unsupported JSON Feed version).
    #[error("cannot parse feed: {reason}")]
    Feed {
        /// feed-rs's description.
        reason: String,
    },
    /// Gzipped input could not be decompressed (truncated or corrupt).
    #[error("cannot decompress gzip data: {reason}")]
    Gzip {
        /// The decompressor's description.
        reason: String,
    },
    /// Decompressed input exceeds the size cap (a gzip bomb or a sitemap
    /// that breaks the protocol's 50 MB limit).
    #[error("{what} expands beyond the {limit_bytes}-byte limit; split it or raise the cap")]
    TooLarge {
        /// What was being decompressed.
        what: &'static str,
        /// The cap in bytes.
        limit_bytes: u64,
    },
    /// A platform API answered with an error object, or with JSON (HTML)
    /// that is well-formed but not the expected shape.
    #[error("{what}: {reason}")]
    Api {
        /// What was being parsed ("Mastodon statuses JSON", ...).
        what: &'static str,
        /// The API's error message, or what is missing.
        reason: String,
    },
    /// A URL could not be built or resolved.
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl {
        /// The base or page URL.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// A configured CSS selector is not valid.
    #[error("invalid CSS selector in {key}: {selector:?}: {reason}")]
    Selector {
        /// The config key (`link_selector`, `next_selector`).
        key: String,
        /// The selector text.
        selector: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A CSV file lacks columns the config names.
    #[error(
        "CSV header lacks column(s) {columns:?} (the header has {header:?}); fix [sources.columns]"
    )]
    MissingColumns {
        /// The missing column names.
        columns: Vec<String>,
        /// The header as found.
        header: Vec<String>,
    },
}

/// " at line L, column C" when known.
fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}
