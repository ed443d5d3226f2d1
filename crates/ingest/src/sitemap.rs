//! XML sitemaps, Google News sitemaps and sitemap indexes.
//!
//! Many outlets publish a news sitemap (`<news:news>` per URL) instead of, or
//! beside, a feed; large ones split it behind a `<sitemapindex>`. Both are
//! read with quick-xml's namespace-aware reader, matching on local names so
//! that the usual prefix variations (`news:`, `n:`, none) all work.

use std::io::Read;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use quick_xml::events::Event;
use quick_xml::NsReader;
use serde::Serialize;

use crate::decode::{decode_xml, line_col};
use crate::normalize::fix_ampersands;
use crate::IngestError;

/// Largest decompressed size accepted for a gzipped sitemap. The protocol
/// caps a sitemap at 50 MB uncompressed; the cap protects against gzip bombs.
pub const MAX_DECOMPRESSED_BYTES: u64 = 50 * 1024 * 1024;

/// A parsed sitemap document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum Sitemap {
    /// A `<urlset>`: page URLs, with Google News metadata where present.
    UrlSet(Vec<SitemapUrl>),
    /// A `<sitemapindex>`: locations of further sitemaps.
    Index(Vec<String>),
}

/// One `<url>` of a `<urlset>`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SitemapUrl {
    /// The page URL.
    pub loc: String,
    /// `<lastmod>`.
    pub lastmod: Option<DateTime<Utc>>,
    /// `<news:title>`.
    pub news_title: Option<String>,
    /// `<news:publication_date>`.
    pub news_publication_date: Option<DateTime<Utc>>,
    /// `<news:language>` of the `<news:publication>`.
    pub news_language: Option<String>,
}

/// Parses a sitemap, sitemap index or news sitemap; gzipped bytes (magic
/// `1f 8b`) are decompressed first, up to [`MAX_DECOMPRESSED_BYTES`].
/// Entries without a `<loc>` are skipped.
pub fn parse_sitemap(bytes: &[u8]) -> Result<Sitemap, IngestError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let raw = gunzip(bytes)?;
        return parse_xml(&raw);
    }
    parse_xml(bytes)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, IngestError> {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    // Read one byte past the cap so that "exactly the cap" and "over" differ.
    decoder
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Gzip {
            reason: e.to_string(),
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(IngestError::TooLarge {
            what: "gzipped sitemap",
            limit_bytes: MAX_DECOMPRESSED_BYTES,
        });
    }
    Ok(out)
}

/// Which text-bearing element we are inside.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    None,
    Loc,
    Lastmod,
    NewsTitle,
    NewsDate,
    NewsLanguage,
}

fn parse_xml(bytes: &[u8]) -> Result<Sitemap, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty { what: "sitemap" });
    }
    let decoded = decode_xml(bytes);
    // Bare `&` in URLs is the most common breakage in hand-made files.
    let fixed = fix_ampersands(&decoded.text);
    let text: &str = &fixed;
    let mut reader = NsReader::from_str(text);
    let mut root: Option<bool> = None; // Some(true) = index
    let mut urls = Vec::new();
    let mut index = Vec::new();
    let mut current: Option<SitemapUrl> = None;
    let mut field = Field::None;
    let mut buf = String::new();
    let malformed = |reader: &NsReader<&[u8]>, e: &dyn std::fmt::Display| {
        let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
        let (line, column) = line_col(text, pos);
        IngestError::Malformed {
            what: "sitemap XML",
            line: Some(line),
            column: Some(column),
            reason: e.to_string(),
        }
    };
    loop {
        let event = reader.read_event().map_err(|e| malformed(&reader, &e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let local = e.local_name();
                let name = local.as_ref();
                if root.is_none() {
                    root = match name {
                        "urlset" => Some(false),
                        "sitemapindex" => Some(true),
                        other => {
                            return Err(IngestError::UnexpectedRoot {
                                what: "sitemap",
                                root: other.to_owned(),
                                expected: "<urlset> or <sitemapindex>",
                            })
                        }
                    };
                    continue;
                }
                buf.clear();
                field = match name {
                    "url" | "sitemap" => {
                        current = Some(SitemapUrl::default());
                        Field::None
                    }
                    "loc" => Field::Loc,
                    "lastmod" => Field::Lastmod,
                    "title" => Field::NewsTitle,
                    "publication_date" => Field::NewsDate,
                    "language" => Field::NewsLanguage,
                    _ => Field::None,
                };
                // An empty element (`<loc/>`) has no End event.
                if is_empty {
                    field = Field::None;
                }
            }
            Event::Text(t) if field != Field::None => buf.push_str(&t.xml10_content()),
            Event::CData(t) if field != Field::None => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if field != Field::None => match r.resolve_char_ref() {
                Ok(Some(ch)) => buf.push(ch),
                _ => {
                    let name = r.xml10_content();
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => buf.push_str(s),
                        None => {
                            buf.push('&');
                            buf.push_str(&name);
                            buf.push(';');
                        }
                    }
                }
            },
            Event::End(e) => {
                let local = e.local_name();
                let name = local.as_ref();
                if let Some(cur) = current.as_mut() {
                    let value = buf.trim();
                    match (field, name) {
                        (Field::Loc, "loc") => cur.loc = value.to_owned(),
                        (Field::Lastmod, "lastmod") => cur.lastmod = parse_w3c_date(value),
                        (Field::NewsTitle, "title") if !value.is_empty() => {
                            cur.news_title = Some(value.to_owned())
                        }
                        (Field::NewsDate, "publication_date") => {
                            cur.news_publication_date = parse_w3c_date(value)
                        }
                        (Field::NewsLanguage, "language") if !value.is_empty() => {
                            cur.news_language = Some(value.to_owned())
                        }
                        _ => {}
                    }
                }
                field = Field::None;
                buf.clear();
                if matches!(name, "url" | "sitemap") {
                    if let Some(cur) = current.take() {
                        if !cur.loc.is_empty() {
                            if root == Some(true) {
                                index.push(cur.loc);
                            } else {
                                urls.push(cur);
                            }
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match root {
        Some(true) => Ok(Sitemap::Index(index)),
        Some(false) => Ok(Sitemap::UrlSet(urls)),
        None => Err(IngestError::UnexpectedRoot {
            what: "sitemap",
            root: String::new(),
            expected: "<urlset> or <sitemapindex>",
        }),
    }
}

/// Parses the W3C datetime profile used by sitemaps (`YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mmTZD`, `YYYY-MM-DDThh:mm:ss(.s)TZD`), plus the RFC 2822
/// dates some CMSs emit by mistake. Dates without a zone are taken as UTC.
pub(crate) fn parse_w3c_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let no_z = s.strip_suffix('Z').unwrap_or(s);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(no_z, fmt) {
            return Some(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const NEWS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://example.rs/vesti/1?a=1&amp;b=2</loc>
    <lastmod>2024-05-01T10:20:30+02:00</lastmod>
    <news:news>
      <news:publication><news:name>Primer</news:name><news:language>sr</news:language></news:publication>
      <news:publication_date>2024-05-01</news:publication_date>
      <news:title><![CDATA[Migranti & granica]]></news:title>
    </news:news>
  </url>
  <url><loc> https://example.rs/vesti/2 </loc></url>
  <url><lastmod>2024-01-01</lastmod></url>
</urlset>"#;

    #[test]
    fn news_sitemap() {
        let Sitemap::UrlSet(urls) = parse_sitemap(NEWS.as_bytes()).expect("parses") else {
            panic!("expected urlset");
        };
        assert_eq!(urls.len(), 2, "the url without loc is skipped");
        let u = &urls[0];
        assert_eq!(u.loc, "https://example.rs/vesti/1?a=1&b=2");
        assert_eq!(
            u.lastmod.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-05-01T08:20:30+00:00")
        );
        assert_eq!(u.news_title.as_deref(), Some("Migranti & granica"));
        assert_eq!(u.news_language.as_deref(), Some("sr"));
        assert_eq!(
            u.news_publication_date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-05-01T00:00:00+00:00")
        );
        assert_eq!(urls[1].loc, "https://example.rs/vesti/2");
        assert_eq!(urls[1].news_title, None);
    }

    #[test]
    fn gzipped_index() {
        let xml = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://example.pl/s1.xml.gz</loc><lastmod>2024-01-01</lastmod></sitemap>
<sitemap><loc>https://example.pl/s2.xml</loc></sitemap></sitemapindex>"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(xml.as_bytes()).expect("write");
        let bytes = gz.finish().expect("finish");
        assert_eq!(
            parse_sitemap(&bytes).expect("parses"),
            Sitemap::Index(vec![
                "https://example.pl/s1.xml.gz".to_owned(),
                "https://example.pl/s2.xml".to_owned()
            ])
        );
    }

    #[test]
    fn gzip_bomb_is_refused() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..51 {
            gz.write_all(&zeros).expect("write");
        }
        let bytes = gz.finish().expect("finish");
        assert!(matches!(
            parse_sitemap(&bytes),
            Err(IngestError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_sitemap(&[0x1f, 0x8b, 0, 1, 2]),
            Err(IngestError::Gzip { .. })
        ));
    }

    #[test]
    fn errors_name_cause_and_line() {
        let err = parse_sitemap(b"<urlset>\n<url><loc>x</lo></url>\n</urlset>").expect_err("bad");
        match err {
            IngestError::Malformed { line, .. } => assert_eq!(line, Some(2)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse_sitemap(b"<rss/>"),
            Err(IngestError::UnexpectedRoot { .. })
        ));
        assert!(matches!(parse_sitemap(b""), Err(IngestError::Empty { .. })));
    }

    #[test]
    fn w3c_dates() {
        for (s, want) in [
            ("2024-05-01", "2024-05-01T00:00:00+00:00"),
            ("2024-05-01T10:20+01:00", "2024-05-01T09:20:00+00:00"),
            ("2024-05-01T10:20:30.5Z", "2024-05-01T10:20:30.500+00:00"),
            ("2024-05-01T10:20:30", "2024-05-01T10:20:30+00:00"),
        ] {
            let got = parse_w3c_date(s).map(|d| d.to_rfc3339());
            assert_eq!(got.as_deref(), Some(want), "{s}");
        }
        assert_eq!(parse_w3c_date("yesterday"), None);
    }
}
