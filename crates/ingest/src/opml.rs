//! OPML source lists (the format feed readers export subscriptions in).
//!
//! Monitoring projects exchange outlet lists as OPML; we read every
//! `<outline>` that has an `xmlUrl`, at any depth, and take the title of the
//! enclosing folder outline as its category.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::Serialize;

use crate::decode::{decode_xml, line_col};
use crate::normalize::fix_ampersands;
use crate::IngestError;

/// One feed subscription from an OPML file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpmlOutline {
    /// `title`, else `text`.
    pub title: Option<String>,
    /// The feed URL (`xmlUrl`).
    pub xml_url: String,
    /// The site URL (`htmlUrl`).
    pub html_url: Option<String>,
    /// The `category` attribute, else the title of the enclosing folder.
    pub category: Option<String>,
}

/// Parses an OPML document into its feed outlines, in document order.
/// Outlines without `xmlUrl` are folders and contribute only a category.
pub fn parse_opml(bytes: &[u8]) -> Result<Vec<OpmlOutline>, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty { what: "OPML" });
    }
    let decoded = decode_xml(bytes);
    // Bare `&` in URLs is the most common breakage in hand-made files.
    let fixed = fix_ampersands(&decoded.text);
    let text: &str = &fixed;
    let mut reader = Reader::from_str(text);
    let mut seen_root = false;
    // One entry per open <outline>: Some(folder title) for folders.
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut out = Vec::new();
    loop {
        let event = reader.read_event().map_err(|e| {
            let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
            let (line, column) = line_col(text, pos);
            IngestError::Malformed {
                what: "OPML XML",
                line: Some(line),
                column: Some(column),
                reason: e.to_string(),
            }
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let local = e.local_name();
                let name = local.as_ref();
                if !seen_root {
                    if !name.eq_ignore_ascii_case("opml") {
                        return Err(IngestError::UnexpectedRoot {
                            what: "OPML document",
                            root: name.to_owned(),
                            expected: "<opml>",
                        });
                    }
                    seen_root = true;
                    continue;
                }
                if name != "outline" {
                    continue;
                }
                let title = attr(e, "title").or_else(|| attr(e, "text"));
                match attr(e, "xmlUrl").or_else(|| attr(e, "xmlurl")) {
                    Some(xml_url) => {
                        let category = attr(e, "category")
                            .or_else(|| folders.iter().rev().find_map(Clone::clone));
                        out.push(OpmlOutline {
                            title,
                            xml_url,
                            html_url: attr(e, "htmlUrl").or_else(|| attr(e, "htmlurl")),
                            category,
                        });
                        if !is_empty {
                            folders.push(None);
                        }
                    }
                    None => {
                        if !is_empty {
                            folders.push(title);
                        }
                    }
                }
            }
            Event::End(e) if e.local_name().as_ref() == "outline" => {
                folders.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(IngestError::UnexpectedRoot {
            what: "OPML document",
            root: String::new(),
            expected: "<opml>",
        });
    }
    Ok(out)
}

/// A non-empty, unescaped attribute value.
fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    let a = e.try_get_attribute(name).ok().flatten()?;
    let v = a
        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .ok()?;
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_outlines_get_folder_category() {
        let xml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Izvori</title></head><body>
  <outline text="Srbija">
    <outline type="rss" text="N1 Srbija" xmlUrl="https://n1info.rs/feed/" htmlUrl="https://n1info.rs/"/>
    <outline type="rss" title="Danas" text="ignored" xmlUrl="https://www.danas.rs/feed/?a=1&amp;b=2"/>
  </outline>
  <outline type="rss" text="Top" xmlUrl="https://top.example/rss?a=1&b=2" category="/regional"/>
  <outline text="empty folder"/>
</body></opml>"#;
        let got = parse_opml(xml.as_bytes()).expect("parses");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].title.as_deref(), Some("N1 Srbija"));
        assert_eq!(got[0].html_url.as_deref(), Some("https://n1info.rs/"));
        assert_eq!(got[0].category.as_deref(), Some("Srbija"));
        assert_eq!(got[1].title.as_deref(), Some("Danas"));
        assert_eq!(got[1].xml_url, "https://www.danas.rs/feed/?a=1&b=2");
        assert_eq!(got[2].category.as_deref(), Some("/regional"));
        assert_eq!(
            got[2].xml_url, "https://top.example/rss?a=1&b=2",
            "bare & tolerated"
        );
        assert_eq!(got[2].html_url, None);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_opml(b"<rss/>"),
            Err(IngestError::UnexpectedRoot { .. })
        ));
        match parse_opml(b"<opml>\n<body>\n<outline text=\"x\"></body></opml>") {
            Err(IngestError::Malformed { line, .. }) => assert_eq!(line, Some(3)),
            other => panic!("unexpected {other:?}"),
        }
    }
}
