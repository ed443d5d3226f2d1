//! RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed, through feed-rs.
//!
//! feed-rs does the format work; this module makes its input safe (one
//! decoding step, see [`crate::decode`]), works around the few roots it
//! refuses (an `<rss>` without a version it knows), turns its errors into
//! [`IngestError`]s with a line and column, and maps its rich model onto the
//! small [`ParsedFeed`] that the pipeline needs.

use chrono::{DateTime, Utc};
use feed_rs::model;
use feed_rs::parser::{ParseErrorKind, ParseFeedError};
use quick_xml::events::Event;
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::decode::{decode_xml, line_col};
use crate::normalize::{drop_declarations, normalize_feed_xml};
use crate::IngestError;

/// A parsed feed, reduced to what the pipeline uses.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ParsedFeed {
    /// Feed title, as the feed gives it (HTML titles keep their markup).
    pub title: Option<String>,
    /// The outlet's home page (the feed's alternate link), absolute.
    pub link: Option<String>,
    /// Items in document order.
    pub entries: Vec<FeedEntry>,
    /// Character encoding the bytes were decoded from (`UTF-8`,
    /// `windows-1251`, ...); `None` for JSON Feed, which is always UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// RSS `<ttl>`: minutes the publisher says the feed may be cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_minutes: Option<u32>,
}

/// One item of a feed.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FeedEntry {
    /// Entry id/guid, else its link, else a hash of title + summary, so that
    /// the same item polled twice gets the same id.
    pub id: String,
    /// Entry title as given (HTML titles keep their markup).
    pub title: Option<String>,
    /// Absolute link, resolved against `xml:base` and the feed's URL.
    pub link: Option<String>,
    /// Publication time, when the entry states one.
    pub published: Option<DateTime<Utc>>,
    /// Last update time.
    pub updated: Option<DateTime<Utc>>,
    /// Author names (email when no name is given).
    pub authors: Vec<String>,
    /// Summary/description as given (HTML kept; see [`crate::html_to_text`]).
    pub summary: Option<String>,
    /// Full content as given (HTML kept).
    pub content: Option<String>,
    /// Category terms.
    pub categories: Vec<String>,
    /// A representative image (media thumbnail, media content or image
    /// enclosure), absolute.
    pub image: Option<String>,
}

/// Parses an RSS, Atom or JSON feed.
///
/// `base_url` is the URL the feed was fetched from; relative links are
/// resolved against it (after any `xml:base`). Never panics; malformed XML
/// is reported with its line and column.
pub fn parse_feed(bytes: &[u8], base_url: Option<&str>) -> Result<ParsedFeed, IngestError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let Some(first) = first else {
        return Err(IngestError::Empty { what: "feed" });
    };
    let base = base_url.and_then(|b| Url::parse(b).ok());

    if first == b'{' {
        // JSON Feed is UTF-8 by specification; no decoding step needed.
        let feed = guarded("JSON Feed", || build_parser(base_url).parse(bytes))?
            .map_err(|e| feed_error(e, None))?;
        return Ok(convert(feed, base.as_ref(), None));
    }

    let decoded = decode_xml(bytes);
    let encoding = decoded.encoding;
    let stripped = match drop_declarations(&decoded.text) {
        std::borrow::Cow::Owned(t) => Some(t),
        std::borrow::Cow::Borrowed(_) => None,
    };
    let text = match stripped {
        Some(t) => normalize_feed_xml(&t).unwrap_or(t),
        None => normalize_feed_xml(&decoded.text).unwrap_or(decoded.text),
    };
    let feed = match guarded("feed XML", || build_parser(base_url).parse(text.as_bytes()))? {
        Ok(feed) => feed,
        Err(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot))
            if root_element(&text).is_some_and(|r| r == "rss" || r.ends_with("RDF")) =>
        {
            // A well-formed RSS document without a <channel>: an empty
            // feed, not an error (nothing to ingest, nothing broken).
            return Ok(ParsedFeed {
                encoding: Some(encoding),
                ..ParsedFeed::default()
            });
        }
        Err(e) => return Err(feed_error(e, Some(&text))),
    };
    Ok(convert(feed, base.as_ref(), Some(encoding)))
}

/// Runs feed-rs (and the XML reader under it) so that a panic on hostile
/// input becomes an error for this feed instead of ending the poll: found by
/// fuzzing, quick-xml asserts when an XML declaration with an encoding
/// stands in the middle of a document (`crates/fuzz`, BENCHMARKS.md).
fn guarded<T>(what: &'static str, parse: impl FnOnce() -> T) -> Result<T, IngestError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).map_err(|payload| {
        let why = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("no reason given");
        IngestError::Malformed {
            what,
            line: None,
            column: None,
            reason: format!("the parser gave up on this input ({why})"),
        }
    })
}

fn build_parser(base_url: Option<&str>) -> feed_rs::parser::Parser {
    feed_rs::parser::Builder::new()
        .base_uri(base_url)
        // An empty id marks "the feed gave none", so that we can apply our
        // own fallback (link, then content hash) instead of feed-rs's.
        .id_generator(|_links, _title, _uri| String::new())
        .sanitize_content(false)
        .build()
}

/// Turns a feed-rs error into ours, locating XML errors in `text`.
fn feed_error(e: ParseFeedError, text: Option<&str>) -> IngestError {
    match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            let root = text.and_then(root_element).unwrap_or_default();
            IngestError::UnexpectedRoot {
                what: "feed",
                root,
                expected: "<rss>, <rdf:RDF>, <feed> or a JSON Feed object",
            }
        }
        ParseFeedError::XmlReader(xe) => {
            // feed-rs does not keep the reader's position; re-scan with
            // quick-xml, which stops at the same well-formedness error.
            let (line, column, reason) = match text.and_then(first_xml_error) {
                Some((offset, reason, src)) => {
                    let (l, c) = line_col(src, offset);
                    (Some(l), Some(c), reason)
                }
                None => (None, None, xe.to_string()),
            };
            IngestError::Malformed {
                what: "feed XML",
                line,
                column,
                reason,
            }
        }
        ParseFeedError::JsonSerde(je) => IngestError::Malformed {
            what: "JSON Feed",
            line: Some(je.line()),
            column: Some(je.column()),
            reason: je.to_string(),
        },
        other => IngestError::Feed {
            reason: other.to_string(),
        },
    }
}

/// Offset and message of the first well-formedness error quick-xml finds.
fn first_xml_error(text: &str) -> Option<(usize, String, &str)> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return None,
            Ok(_) => {}
            Err(e) => {
                let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Some((pos, e.to_string(), text));
            }
        }
    }
}

/// Name of the document element, if the text has one.
fn root_element(text: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => return Some(e.name().as_ref().to_owned()),
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn convert(feed: model::Feed, base: Option<&Url>, encoding: Option<String>) -> ParsedFeed {
    let link = pick_link(&feed.links).map(|l| absolutize(&l.href, None, base));
    let entries = feed
        .entries
        .into_iter()
        .map(|e| convert_entry(e, base))
        .collect();
    ParsedFeed {
        title: feed.title.map(|t| t.content).filter(|t| !t.is_empty()),
        link,
        entries,
        encoding,
        ttl_minutes: feed.ttl,
    }
}

fn convert_entry(e: model::Entry, base: Option<&Url>) -> FeedEntry {
    let entry_base = e.base.as_deref().and_then(|b| match base {
        Some(base) => base.join(b).ok(),
        None => Url::parse(b).ok(),
    });
    let base_for_entry = entry_base.as_ref().or(base);
    let link = pick_link(&e.links).map(|l| absolutize(&l.href, None, base_for_entry));
    // Podcast and Media RSS items may carry their title, summary and author
    // only in <itunes:*> / <media:*> elements; use those as fallbacks.
    let media_text = |f: fn(&model::MediaObject) -> Option<&model::Text>| {
        e.media
            .iter()
            .find_map(|m| f(m).map(|t| t.content.clone()).filter(|t| !t.is_empty()))
    };
    let title = e
        .title
        .map(|t| t.content)
        .filter(|t| !t.is_empty())
        .or_else(|| media_text(|m| m.title.as_ref()));
    let content = e.content.and_then(|c| c.body).filter(|s| !s.is_empty());
    let summary = e
        .summary
        .map(|t| t.content)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            content
                .is_none()
                .then(|| media_text(|m| m.description.as_ref()))
                .flatten()
        });
    let image = pick_image(&e.media, &e.links).map(|u| absolutize(&u, None, base_for_entry));
    let mut authors: Vec<String> = e
        .authors
        .iter()
        .filter_map(|p| {
            let name = p.name.as_deref().unwrap_or("").trim();
            if !name.is_empty() {
                Some(name.to_owned())
            } else {
                p.email.clone().filter(|m| !m.trim().is_empty())
            }
        })
        .collect();
    if authors.is_empty() {
        authors = e
            .media
            .iter()
            .flat_map(|m| m.credits.iter())
            .map(|c| c.entity.trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect();
    }
    let categories = e
        .categories
        .iter()
        .map(|c| c.term.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    // RSS guids are permalinks by default; use one when there is no <link>.
    let link = link.or_else(|| {
        let id = e.id.trim();
        (id.starts_with("http://") || id.starts_with("https://")).then(|| id.to_owned())
    });
    let id = if e.id.trim().starts_with('/') {
        // A root-relative id (seen in Atom feeds) means a URI on the site.
        absolutize(e.id.trim(), None, base_for_entry)
    } else if !e.id.trim().is_empty() {
        e.id.trim().to_owned()
    } else if let Some(link) = &link {
        link.clone()
    } else {
        content_hash(title.as_deref(), summary.as_deref().or(content.as_deref()))
    };
    FeedEntry {
        id,
        title,
        link,
        published: e.published,
        updated: e.updated,
        authors,
        summary,
        content,
        categories,
        image,
    }
}

/// The item's main link: the alternate link (RSS `<link>`, Atom
/// `rel="alternate"` or no rel), else the first link of any kind that is not
/// an enclosure or a self/edit link.
fn pick_link(links: &[model::Link]) -> Option<&model::Link> {
    let usable = |l: &&model::Link| !l.href.trim().is_empty();
    links
        .iter()
        .filter(usable)
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| {
            links.iter().filter(usable).find(|l| {
                !matches!(
                    l.rel.as_deref(),
                    Some("enclosure" | "self" | "edit" | "replies" | "hub")
                )
            })
        })
}

fn pick_image(media: &[model::MediaObject], links: &[model::Link]) -> Option<String> {
    for m in media {
        if let Some(t) = m.thumbnails.first() {
            return Some(t.image.uri.clone());
        }
    }
    for m in media {
        for c in &m.content {
            let is_image = c
                .content_type
                .as_ref()
                .is_some_and(|t| t.ty().as_str() == "image");
            if let (true, Some(url)) = (is_image, &c.url) {
                return Some(url.to_string());
            }
        }
    }
    links
        .iter()
        .find(|l| {
            l.rel.as_deref() == Some("enclosure")
                && l.media_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("image/"))
        })
        .map(|l| l.href.clone())
}

/// Resolves `href` against the nearest base; keeps it as is when it cannot
/// be resolved (a relative link without any base is still better than none).
fn absolutize(href: &str, local_base: Option<&Url>, base: Option<&Url>) -> String {
    let href = href.trim();
    // Absolute links stay as published (no case or slash normalisation:
    // canonicalisation is core's job, and ids must stay stable).
    if Url::parse(href).is_ok() {
        return href.to_owned();
    }
    local_base
        .or(base)
        .and_then(|b| b.join(href).ok())
        .map_or_else(|| href.to_owned(), |u| u.to_string())
}

/// Stable id for an item without id and link: hex SHA-256 of title and summary.
fn content_hash(title: Option<&str>, summary: Option<&str>) -> String {
    let mut h = Sha256::new();
    for part in [title.unwrap_or(""), summary.unwrap_or("")] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut s = String::with_capacity(64 + 5);
    s.push_str("hash:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (`crates/fuzz`, target `feed`): an XML declaration
    /// with an encoding in the middle of a document made quick-xml panic
    /// under feed-rs. The stray declaration is dropped and the feed read.
    #[test]
    fn a_declaration_inside_the_document_is_dropped_not_a_panic() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><id>1</id><author><name>K<?xml version="1.0" encoding="windows-1250"?></name></author></entry></feed>"#;
        let feed = parse_feed(xml, None).expect("read");
        assert_eq!(feed.entries.len(), 1);
        // The second one it found: a leading declaration too long for
        // quick-xml's look-ahead, padded with NULs, never closed.
        let bytes = include_bytes!("testdata/fuzz-long-declaration.xml");
        assert!(parse_feed(bytes, None).is_err());
    }

    const RSS: &str = r#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Vesti</title><link>https://example.rs/</link>
<item><title>Prva</title><link>/clanak/1</link><guid isPermaLink="false">a-1</guid>
<pubDate>Mon, 02 Jan 2006 15:04:05 +0100</pubDate><description>&lt;p&gt;Tekst&lt;/p&gt;</description>
<author>urednik@example.rs (Urednik)</author><category>Migracije</category></item>
<item><title>Druga</title><link>https://example.rs/clanak/2</link></item>
<item><title>Treća</title><description>bez linka</description></item>
</channel></rss>"#;

    #[test]
    fn rss2_maps_fields_and_ids() {
        let f = parse_feed(RSS.as_bytes(), Some("https://example.rs/rss")).expect("parses");
        assert_eq!(f.title.as_deref(), Some("Vesti"));
        assert_eq!(f.link.as_deref(), Some("https://example.rs/"));
        assert_eq!(f.entries.len(), 3);
        let e = &f.entries[0];
        assert_eq!(e.id, "a-1");
        assert_eq!(e.link.as_deref(), Some("https://example.rs/clanak/1"));
        assert_eq!(e.summary.as_deref(), Some("<p>Tekst</p>"));
        assert_eq!(e.categories, vec!["Migracije".to_owned()]);
        let when = e.published.expect("date");
        assert_eq!(when.to_rfc3339(), "2006-01-02T14:04:05+00:00");
        assert_eq!(f.entries[1].id, "https://example.rs/clanak/2");
        assert!(f.entries[2].id.starts_with("hash:"));
        // Same input, same id.
        let again = parse_feed(RSS.as_bytes(), None).expect("parses");
        assert_eq!(again.entries[2].id, f.entries[2].id);
    }

    #[test]
    fn rss_without_version_is_accepted() {
        let xml = "<rss><channel><title>T</title><item><title>x</title></item></channel></rss>";
        let f = parse_feed(xml.as_bytes(), None).expect("parses");
        assert_eq!(f.title.as_deref(), Some("T"));
        assert_eq!(f.entries.len(), 1);
    }

    #[test]
    fn cyrillic_windows_1251_and_koi8r_and_polish_iso_8859_2() {
        let cases: [(&'static encoding_rs::Encoding, &str, &str); 4] = [
            (
                encoding_rs::WINDOWS_1250,
                "windows-1250",
                "Izbeglice u Šidu: život na čekanju, đaci i ćevapi",
            ),
            (
                encoding_rs::WINDOWS_1251,
                "windows-1251",
                "Мигранти у Србији: нова правила",
            ),
            (encoding_rs::KOI8_R, "koi8-r", "Мигранти и избеглице"),
            (
                encoding_rs::ISO_8859_2,
                "iso-8859-2",
                "Uchodźcy na granicy: zażółć gęślą jaźń",
            ),
        ];
        for (enc, label, title) in cases {
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"{label}\"?>\n<rss version=\"2.0\"><channel>\
                 <title>{title}</title><item><title>{title}</title></item></channel></rss>"
            );
            let (bytes, _, unmappable) = enc.encode(&doc);
            assert!(!unmappable, "{label} can encode the sample");
            assert!(std::str::from_utf8(&bytes).is_err(), "sample is not UTF-8");
            let f = parse_feed(&bytes, None).expect("parses");
            assert_eq!(f.title.as_deref(), Some(title), "{label}");
            assert_eq!(f.entries[0].title.as_deref(), Some(title), "{label}");
            assert_eq!(f.encoding.as_deref(), Some(enc.name()));
        }
    }

    #[test]
    fn atom_with_xml_base_resolves_links() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/news/">
<title type="html">A &amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt; title</title>
<entry><id>urn:1</id><title>E</title><link href="item/1"/>
<updated>2024-03-01T10:00:00Z</updated><published>2024-02-29T09:00:00+01:00</published>
<author><name>Ana</name></author><content type="html">&lt;p&gt;x&lt;/p&gt;</content></entry></feed>"#;
        let f = parse_feed(xml.as_bytes(), None).expect("parses");
        let e = &f.entries[0];
        assert_eq!(e.link.as_deref(), Some("http://example.org/news/item/1"));
        assert_eq!(e.authors, vec!["Ana".to_owned()]);
        assert_eq!(e.content.as_deref(), Some("<p>x</p>"));
        assert_eq!(
            e.published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-02-29T08:00:00+00:00")
        );
        assert_eq!(
            e.updated.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-03-01T10:00:00+00:00")
        );
    }

    /// Regression: the Atom normaliser typed `<media:title>` as an Atom text
    /// construct (`type="text"`), which feed-rs's Media RSS parser rejects,
    /// so every YouTube channel feed failed with "unsupported content type".
    #[test]
    fn youtube_channel_feed_keeps_media_description() {
        let xml = include_str!("../../../tests/fixtures/site/youtube/feeds/videos.xml");
        let f = parse_feed(
            xml.as_bytes(),
            Some("https://www.youtube.com/feeds/videos.xml"),
        )
        .expect("parses");
        assert_eq!(f.entries.len(), 2);
        let e = &f.entries[0];
        assert_eq!(e.id, "yt:video:Xk3bT9wq1Ab");
        assert_eq!(
            e.title.as_deref(),
            Some("Reportaža: život u kampu Lipa zimi")
        );
        assert_eq!(
            e.link.as_deref(),
            Some("https://www.youtube.com/watch?v=Xk3bT9wq1Ab")
        );
        assert!(
            e.summary.as_deref().unwrap_or("").contains("promrzlina"),
            "{e:?}"
        );
        assert_eq!(e.authors, ["Krajina TV"]);
    }

    #[test]
    fn json_feed() {
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J",
            "home_page_url":"https://j.example/","items":[{"id":"1","url":"https://j.example/1",
            "title":"One","content_html":"<p>hi</p>","date_published":"2024-01-01T00:00:00Z"}]}"#;
        let f = parse_feed(json.as_bytes(), None).expect("parses");
        assert_eq!(f.title.as_deref(), Some("J"));
        assert_eq!(f.entries[0].id, "1");
        assert_eq!(f.entries[0].content.as_deref(), Some("<p>hi</p>"));
    }

    #[test]
    fn malformed_xml_reports_line() {
        let xml = "<rss version=\"2.0\">\n<channel>\n<title>x</titel>\n</channel></rss>";
        let err = parse_feed(xml.as_bytes(), None).expect_err("malformed");
        match err {
            IngestError::Malformed { line, .. } => assert_eq!(line, Some(3)),
            other => panic!("unexpected error {other:?}"),
        }
        assert!(matches!(
            parse_feed(b"  ", None),
            Err(IngestError::Empty { .. })
        ));
        assert!(matches!(
            parse_feed(b"<html><body/></html>", None),
            Err(IngestError::UnexpectedRoot { .. })
        ));
    }
}

#[cfg(test)]
mod ttl_tests {
    #[test]
    fn rss_ttl_is_exposed() {
        let xml =
            br#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>90</ttl>
<item><title>a</title><link>http://x.example/a</link></item></channel></rss>"#;
        let f = super::parse_feed(xml, None).unwrap();
        assert_eq!(f.ttl_minutes, Some(90));
        let xml =
            br#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>"#;
        assert_eq!(super::parse_feed(xml, None).unwrap().ttl_minutes, None);
    }
}
