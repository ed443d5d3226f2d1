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

/// `[[sources]]` TOML for the feeds of an OPML file, ready to paste into
/// a version 2 config: one `kind = "feed"` source per outline, all with `country`
/// and `languages` (the user reviews them; OPML carries neither).
///
/// Ids are slugs of the title (else of the feed's host), made unique with
/// `-2`, `-3`, ...; the folder (category) and site URL are kept as comments.
pub fn opml_to_sources_toml(
    outlines: &[OpmlOutline],
    country: &str,
    languages: &[String],
) -> String {
    let mut used = std::collections::HashSet::new();
    let langs: Vec<String> = languages.iter().map(|l| toml_string(l)).collect();
    let mut out = String::new();
    for o in outlines {
        let host = url::Url::parse(&o.xml_url).ok().and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_string())
        });
        let base = o
            .title
            .as_deref()
            .map(slug)
            .filter(|s| !s.is_empty())
            .or_else(|| host.as_deref().map(slug).filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "source".to_string());
        let mut id = base.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let name = o
            .title
            .clone()
            .or(host)
            .unwrap_or_else(|| o.xml_url.clone());
        out.push_str("[[sources]]\n");
        if let Some(c) = &o.category {
            out.push_str(&format!("# category: {}\n", one_line(c)));
        }
        if let Some(h) = &o.html_url {
            out.push_str(&format!("# site: {}\n", one_line(h)));
        }
        out.push_str(&format!("id = {}\n", toml_string(&id)));
        out.push_str("kind = \"feed\"\n");
        out.push_str(&format!("name = {}\n", toml_string(&name)));
        out.push_str(&format!("country = {}\n", toml_string(country)));
        out.push_str(&format!("languages = [{}]\n", langs.join(", ")));
        out.push_str("[sources.params]\n");
        out.push_str(&format!("url = {}\n\n", toml_string(&o.xml_url)));
    }
    out
}

/// Lowercase ASCII letters and digits joined by `-` (a valid source id).
fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        let c = match ch {
            'š' | 'Š' => Some('s'),
            'đ' | 'Đ' => Some('d'),
            'č' | 'Č' | 'ć' | 'Ć' => Some('c'),
            'ž' | 'Ž' => Some('z'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        };
        match c {
            Some(c) => out.push(c),
            None if !out.is_empty() && !out.ends_with('-') => out.push('-'),
            None => {}
        }
    }
    out.trim_end_matches('-')
        .chars()
        .take(48)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

fn one_line(s: &str) -> String {
    s.split(['\n', '\r']).collect::<Vec<_>>().join(" ")
}

/// A TOML basic string with `"`, `\\` and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
    fn opml_becomes_pasteable_sources() {
        let outlines = vec![
            OpmlOutline {
                title: Some("N1 Srbija".into()),
                xml_url: "https://n1info.rs/feed/".into(),
                html_url: Some("https://n1info.rs/".into()),
                category: Some("Srbija".into()),
            },
            OpmlOutline {
                title: Some("N1 \"Srbija\"".into()),
                xml_url: "https://n1info.rs/feed/?a=1&b=2".into(),
                html_url: None,
                category: None,
            },
            OpmlOutline {
                title: Some("Вечерње новости".into()),
                xml_url: "https://www.novosti.rs/rss".into(),
                html_url: None,
                category: None,
            },
        ];
        let toml = opml_to_sources_toml(&outlines, "RS", &["sr".to_string(), "en".to_string()]);
        assert_eq!(toml.matches("[[sources]]").count(), 3, "{toml}");
        assert!(toml.contains("id = \"n1-srbija\"\n"), "{toml}");
        assert!(toml.contains("id = \"n1-srbija-2\"\n"), "{toml}");
        assert!(toml.contains("name = \"N1 \\\"Srbija\\\"\"\n"), "{toml}");
        // No Latin letters in the title: the id comes from the host.
        assert!(toml.contains("id = \"novosti-rs\"\n"), "{toml}");
        assert!(toml.contains("name = \"Вечерње новости\"\n"), "{toml}");
        assert!(
            toml.contains("url = \"https://n1info.rs/feed/?a=1&b=2\"\n"),
            "{toml}"
        );
        assert!(toml.contains("languages = [\"sr\", \"en\"]\n"), "{toml}");
        assert!(toml.contains("# category: Srbija\n"), "{toml}");
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
