//! A light rewrite of feed XML before feed-rs sees it.
//!
//! feed-rs follows the current specifications closely; outlets and old
//! publishing systems do not. Rather than fork feed-rs, this pass rewrites
//! the few constructs it cannot read into ones it can, copying everything
//! else byte for byte:
//!
//! - HTML named entities (`&eacute;`, `&nbsp;`, `&beta;`), undefined in XML
//!   but common in feeds, become numeric character references (resolved with
//!   html5ever's entity table through `scraper`).
//! - `<rss>` without a version feed-rs dispatches on gets `version="2.0"`.
//! - Atom 0.3 (`http://purl.org/atom/ns#`) becomes Atom 1.0: namespace,
//!   renamed elements (`issued`, `modified`, `tagline`, `copyright`, `url`)
//!   and text constructs' `type`/`mode` (escaped, base64, inline XML).
//! - Atom text constructs typed with MIME names (`text/plain`,
//!   `application/xhtml+xml`) get the Atom 1.0 names.
//!
//! Returns `None` when nothing needed rewriting (the common case), so a
//! well-formed modern feed costs one scan and no copy.

use std::borrow::Cow;
use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

const ATOM03_NS: &str = "http://purl.org/atom/ns#";
const ATOM10_NS: &str = "http://www.w3.org/2005/Atom";
const RSS10_NS: &str = "http://purl.org/rss/1.0/";
const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
const DCTERMS_NS: &str = "http://purl.org/dc/terms/";
const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
const ITUNES_NS: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const CONTENT_OPEN: &str =
    "<content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">";
const CONTENT_CLOSE: &str = "</content:encoded>";

/// Elements holding an Atom text construct (after renaming).
const TEXT_CONSTRUCTS: &[&str] = &["title", "subtitle", "rights", "summary", "content"];

#[derive(Clone, Copy, PartialEq)]
enum Root {
    Unknown,
    Rss,
    Rdf,
    Atom,
}

#[derive(Clone, Copy, PartialEq)]
enum CapMode {
    /// Text or escaped HTML, unless it holds child elements ("naked
    /// markup"), which are then serialised as escaped HTML.
    EscapeIfMarkup,
    /// Inline (X)HTML body: always serialised as escaped HTML.
    AlwaysEscape,
    /// Base64 payload, decoded and escaped.
    Base64,
}

/// An element whose whole content is rewritten when it ends.
struct Capture {
    tag_start: usize,
    inner_start: usize,
    depth: usize,
    mode: CapMode,
    saw_element: bool,
    /// Start tag to emit when the content stays as it is.
    open_plain: String,
    /// Start tag to emit when the content becomes escaped HTML.
    open_markup: String,
    close: String,
    /// Whether `open_plain`/`close` differ from the source.
    renamed: bool,
}

pub(crate) fn normalize_feed_xml(text: &str) -> Option<String> {
    match fix_ampersands(text) {
        Cow::Borrowed(_) => rewrite(text),
        Cow::Owned(fixed) => Some(rewrite(&fixed).unwrap_or(fixed)),
    }
}

/// Removes every XML declaration (`<?xml ...?>`, and any processing
/// instruction whose target starts with `xml`). The text is UTF-8
/// already (see `decode`), which is what XML without a declaration means,
/// so a declaration can only mislead the parser: quick-xml, asked to switch
/// encoding by a second declaration pasted into the document or by a first
/// one too long for its look-ahead, panics (found by fuzzing, see
/// `crates/fuzz`). An unterminated declaration runs to the end of the text.
/// Inside comments and CDATA too: the XML reader's idea of where an
/// unterminated comment ends is not ours, and a quoted declaration is no loss.
pub(crate) fn drop_declarations(text: &str) -> Cow<'_, str> {
    // quick-xml takes any processing instruction whose target starts with
    // `xml` for a declaration (fuzzing found `<?xml</i ...`), so all of them
    // go; `<?xml-stylesheet?>` means nothing to a feed reader either.
    let is_decl = |at: usize| {
        text.as_bytes()
            .get(at + 2..at + 5)
            .is_some_and(|t| t.eq_ignore_ascii_case(b"xml"))
            && text[at..].starts_with("<?")
    };
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        if is_decl(i) {
            let end = text[i..].find("?>").map_or(bytes.len(), |p| i + p + 2);
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..i]);
            copied = end;
            i = end;
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// Escapes bare `&` (as in unescaped query strings, `?a=1&b=2`), which XML
/// rejects and feeds are full of, and fixes `&#X41;` to `&#x41;`. CDATA
/// sections and comments are left alone.
pub(crate) fn fix_ampersands(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' if text[i..].starts_with("<![CDATA[") => {
                i = text[i..].find("]]>").map_or(bytes.len(), |p| i + p + 3);
                continue;
            }
            b'<' if text[i..].starts_with("<!--") => {
                i = text[i..].find("-->").map_or(bytes.len(), |p| i + p + 3);
                continue;
            }
            b'&' => {
                let rest = &text[i + 1..];
                let (ok, fix_x) = reference_shape(rest);
                if !ok || fix_x {
                    let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                    o.push_str(&text[copied..i]);
                    o.push_str(if ok { "&#x" } else { "&amp;" });
                    copied = if ok { i + 3 } else { i + 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    match out {
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(text),
    }
}

/// Whether the text after `&` is a well-formed reference, and whether it is
/// a hex reference written with an upper-case `X`.
fn reference_shape(rest: &str) -> (bool, bool) {
    let b = rest.as_bytes();
    let upto_semicolon = |start: usize, ok: fn(u8) -> bool| -> bool {
        let mut j = start;
        while j < b.len() && j < start + 40 && ok(b[j]) {
            j += 1;
        }
        j > start && b.get(j) == Some(&b';')
    };
    match b.first() {
        Some(b'#') => match b.get(1) {
            Some(b'x') => (upto_semicolon(2, |c| c.is_ascii_hexdigit()), false),
            Some(b'X') => {
                let ok = upto_semicolon(2, |c| c.is_ascii_hexdigit());
                (ok, ok)
            }
            _ => (upto_semicolon(1, |c| c.is_ascii_digit()), false),
        },
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => (
            upto_semicolon(0, |c| {
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
            }),
            false,
        ),
        _ => (false, false),
    }
}

fn rewrite(text: &str) -> Option<String> {
    let mut reader = Reader::from_str(text);
    // Mismatched end tags are feed-rs's to report, with its own error.
    reader.config_mut().check_end_names = false;
    let mut out = String::new();
    let mut copied = 0usize; // text[..copied] has been handled
    let mut changed = false;
    let mut root = Root::Unknown;
    let mut atom03 = false;
    let mut entities: HashMap<String, Option<String>> = HashMap::new();
    // prefix -> namespace URI, from every declaration seen (feeds declare
    // them on the root; scoping finer than that is not worth tracking).
    let mut prefixes: HashMap<String, String> = HashMap::new();
    let mut depth = 0usize; // open elements before the current event
    let mut inline_depth: Option<usize> = None;
    let mut capture: Option<Capture> = None;
    let mut item_depth: Option<usize> = None;
    let mut channel_depth: Option<usize> = None;
    let mut item_has_link = false;
    let mut item_about: Option<String> = None;
    // Depths whose end tag is dropped (elements replaced by siblings).
    let mut swallow_end: Vec<usize> = Vec::new();

    loop {
        let start = usize::try_from(reader.buffer_position()).ok()?;
        let event = match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(e) => e,
            // Leave malformed input to feed-rs, which reports it.
            Err(_) => return changed.then(|| finish(out, text, copied)),
        };
        let end = usize::try_from(reader.buffer_position()).ok()?;
        let raw = text.get(start..end)?;

        // Inside a captured element only nesting is tracked.
        if let Some(cap) = capture.as_mut() {
            match &event {
                Event::Start(_) => {
                    cap.saw_element = true;
                    depth += 1;
                }
                Event::Empty(_) => cap.saw_element = true,
                Event::End(_) => {
                    depth = depth.saturating_sub(1);
                    if depth == cap.depth {
                        let inner = text.get(cap.inner_start..start)?;
                        if let Some(rep) = finish_capture(cap, inner, &mut entities) {
                            out.push_str(&text[copied..cap.tag_start]);
                            out.push_str(&rep);
                            copied = end;
                            changed = true;
                        }
                        capture = None;
                    }
                }
                _ => {}
            }
            continue;
        }

        let replacement: Option<String> = match &event {
            Event::Start(e) | Event::Empty(e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = e.name().as_ref().to_owned();
                let mut ns_fix = false;
                for a in e.attributes().with_checks(false).flatten() {
                    let k = a.key.as_ref();
                    if k.starts_with("xmlns") && canonical_ns(a.value.trim()).is_some() {
                        ns_fix = true;
                    }
                    let uri = a.value.trim();
                    let uri = canonical_ns(uri).unwrap_or(uri).to_owned();
                    if let Some(p) = k.strip_prefix("xmlns:") {
                        prefixes.insert(p.to_owned(), uri);
                    } else if k == "xmlns" {
                        prefixes.insert(String::new(), uri);
                    }
                }
                let local = local_name(&name).to_owned();
                let ns = namespace_of(&name, &prefixes);
                let mut new_tag: Option<String> = None;
                if root == Root::Unknown {
                    new_tag = root_tag(e, &name, is_empty, &mut root, &mut atom03);
                } else if root == Root::Atom && inline_depth.is_none() {
                    let renamed = if atom03 { atom03_rename(&local) } else { None };
                    let new_local = renamed.unwrap_or(&local);
                    let new_name = replace_local(&name, new_local);
                    // Only Atom's own elements are text constructs:
                    // `<media:title>` in a YouTube feed is Media RSS and
                    // must keep its (absent) type, or feed-rs rejects it.
                    let atom_element = ns.is_none_or(|n| n == ATOM10_NS || n == ATOM03_NS);
                    if atom_element && TEXT_CONSTRUCTS.contains(&new_local) {
                        let mode = attr(e, "mode").unwrap_or_default().to_ascii_lowercase();
                        let ty = attr(e, "type");
                        let (new_type, inline, b64) = text_type(ty.as_deref(), &mode, atom03);
                        let plain = rebuild_typed(e, &new_name, is_empty, new_type.as_deref());
                        if is_empty || inline {
                            if inline && !is_empty {
                                inline_depth = Some(depth);
                            }
                            new_tag = (plain != raw).then_some(plain);
                        } else {
                            let markup = rebuild_typed(e, &new_name, false, Some("html"));
                            capture = Some(Capture {
                                tag_start: start,
                                inner_start: end,
                                depth,
                                mode: if b64 {
                                    CapMode::Base64
                                } else {
                                    CapMode::EscapeIfMarkup
                                },
                                saw_element: false,
                                renamed: plain != raw,
                                open_plain: plain,
                                open_markup: markup,
                                close: format!("</{name}>"),
                            });
                            if let Some(cap) = capture.as_mut() {
                                if cap.renamed || renamed.is_some() {
                                    cap.close = format!("</{new_name}>");
                                    cap.renamed = true;
                                }
                            }
                            depth += 1;
                            continue;
                        }
                    } else if renamed.is_some() {
                        new_tag = Some(rebuild(e, &new_name, is_empty, |_, v| Some(v.to_owned())));
                    }
                } else if matches!(root, Root::Rss | Root::Rdf) {
                    if local == "channel" && channel_depth.is_none() {
                        channel_depth = Some(depth);
                    }
                    if local == "item" && item_depth.is_none() && !is_empty {
                        item_depth = Some(depth);
                        item_has_link = false;
                        item_about = attr(e, "rdf:about");
                    }
                    let in_item = item_depth.is_some_and(|d| depth == d + 1);
                    let in_channel =
                        item_depth.is_none() && channel_depth.is_some_and(|d| depth == d + 1);
                    if in_item && local == "link" && ns.is_none_or(|n| n == RSS10_NS) {
                        item_has_link = true;
                    }
                    // iTunes image and categories carry their value in an
                    // attribute, and feed-rs keeps neither for items: turn
                    // them into an image enclosure and plain categories.
                    let in_any_item = item_depth.is_some_and(|d| depth > d);
                    let itunes_ns = ns == Some(ITUNES_NS);
                    let itunes_value = match local.as_str() {
                        "image" if in_item && itunes_ns => ["href", "url"]
                            .iter()
                            .find_map(|k| e.try_get_attribute(k).ok().flatten())
                            .map(|a| {
                                format!(
                                    "<enclosure url=\"{}\" type=\"image/x-unknown\"/>",
                                    a.value.trim()
                                )
                            }),
                        "category" if in_any_item && itunes_ns => e
                            .try_get_attribute("text")
                            .ok()
                            .flatten()
                            .map(|a| format!("<category>{}</category>", a.value.trim())),
                        _ => None,
                    };
                    if let Some(rep) = itunes_value {
                        if !is_empty {
                            swallow_end.push(depth);
                            depth += 1;
                        }
                        out.push_str(&text[copied..start]);
                        out.push_str(&rep);
                        copied = end;
                        changed = true;
                        continue;
                    }
                    let target = if in_item {
                        rss_item_target(&local, ns)
                    } else if in_channel && ns == Some(DC_NS) && local == "title" {
                        Some(("title", CapMode::EscapeIfMarkup))
                    } else {
                        None
                    };
                    if let (Some((new_name, mode)), false) = (target, is_empty) {
                        let (open_plain, close, renamed) = if new_name == "content:encoded" {
                            (CONTENT_OPEN.to_owned(), CONTENT_CLOSE.to_owned(), true)
                        } else if new_name == name {
                            (raw.to_owned(), format!("</{name}>"), false)
                        } else {
                            (
                                rebuild(e, new_name, false, |_, v| Some(v.to_owned())),
                                format!("</{new_name}>"),
                                true,
                            )
                        };
                        capture = Some(Capture {
                            tag_start: start,
                            inner_start: end,
                            depth,
                            mode,
                            saw_element: false,
                            open_markup: open_plain.clone(),
                            open_plain,
                            close,
                            renamed,
                        });
                        depth += 1;
                        continue;
                    }
                }
                if !is_empty {
                    depth += 1;
                }
                if ns_fix && new_tag.is_none() {
                    new_tag = Some(rebuild(e, &name, is_empty, |k, v| {
                        Some(match (k.starts_with("xmlns"), canonical_ns(v)) {
                            (true, Some(c)) => c.to_owned(),
                            _ => v.to_owned(),
                        })
                    }));
                }
                // Named entities inside attribute values.
                let tag = new_tag.as_deref().unwrap_or(raw);
                let fixed = match replace_entities_in(tag, &mut entities) {
                    Cow::Owned(s) => Some(s),
                    Cow::Borrowed(_) => None,
                };
                fixed.or(new_tag)
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                if inline_depth == Some(depth) {
                    inline_depth = None;
                }
                let name = e.name().as_ref().to_owned();
                let mut rep = None;
                if swallow_end.last() == Some(&depth) {
                    swallow_end.pop();
                    rep = Some(String::new());
                }
                if item_depth == Some(depth) {
                    item_depth = None;
                    if root == Root::Rdf && !item_has_link {
                        if let Some(about) = item_about.take() {
                            // feed-rs drops RSS 1.0 items without <link>;
                            // rdf:about is the item's URI.
                            let about = quick_xml::escape::escape(about.as_str()).into_owned();
                            rep = Some(format!("<link>{about}</link>{raw}"));
                        }
                    }
                }
                if channel_depth == Some(depth) {
                    channel_depth = None;
                }
                if rep.is_none() && root == Root::Atom && atom03 && inline_depth.is_none() {
                    rep = atom03_rename(local_name(&name))
                        .map(|r| format!("</{}>", replace_local(&name, r)));
                }
                rep
            }
            Event::GeneralRef(r) => {
                if r.is_char_ref() {
                    // References to C1 controls (&#146;) mean windows-1252
                    // punctuation in practice (old CMSs); map them.
                    match r.resolve_char_ref() {
                        Ok(Some(c)) if ('\u{80}'..='\u{9f}').contains(&c) => {
                            let byte = [u8::try_from(u32::from(c)).unwrap_or(b'?')];
                            let (mapped, _) =
                                encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
                            Some(numeric_refs(&mapped))
                        }
                        _ => None,
                    }
                } else {
                    let name = r.as_ref();
                    if quick_xml::escape::resolve_xml_entity(name).is_some() {
                        None
                    } else {
                        resolve_entity(name, &mut entities).map(|s| numeric_refs(&s))
                    }
                }
            }
            _ => None,
        };
        if let Some(rep) = replacement {
            out.push_str(&text[copied..start]);
            out.push_str(&rep);
            copied = end;
            changed = true;
        }
    }
    changed.then(|| finish(out, text, copied))
}

/// Rewrites the content of a captured element; `None` when unchanged.
fn finish_capture(
    cap: &Capture,
    inner: &str,
    entities: &mut HashMap<String, Option<String>>,
) -> Option<String> {
    let escape_markup = match cap.mode {
        CapMode::Base64 => {
            let decoded = decode_base64(inner)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|| inner.to_owned());
            let escaped = quick_xml::escape::escape(decoded.as_str()).into_owned();
            return Some(format!("{}{escaped}{}", cap.open_plain, cap.close));
        }
        CapMode::AlwaysEscape | CapMode::EscapeIfMarkup => cap.saw_element,
    };
    if escape_markup {
        // The raw inner XML is the HTML; entities in it stay HTML entities.
        let escaped = quick_xml::escape::escape(inner).into_owned();
        return Some(format!("{}{escaped}{}", cap.open_markup, cap.close));
    }
    let inner_fixed = replace_entities_in(inner, entities);
    if !cap.renamed && matches!(inner_fixed, Cow::Borrowed(_)) {
        return None;
    }
    let open = if cap.mode == CapMode::AlwaysEscape {
        &cap.open_markup
    } else {
        &cap.open_plain
    };
    Some(format!("{open}{inner_fixed}{}", cap.close))
}

/// The spelling feed-rs matches for a namespace URI written with another
/// case (e.g. iTunes' `http://www.itunes.com/DTDs/Podcast-1.0.dtd`).
fn canonical_ns(uri: &str) -> Option<&'static str> {
    const KNOWN: &[&str] = &[
        "http://www.itunes.com/dtds/podcast-1.0.dtd",
        "http://search.yahoo.com/mrss/",
        "http://purl.org/rss/1.0/modules/content/",
        DC_NS,
    ];
    let trimmed = uri.trim_end_matches('/');
    KNOWN
        .iter()
        .find(|k| k.trim_end_matches('/').eq_ignore_ascii_case(trimmed) && **k != uri)
        .copied()
}

/// Where a child of an RSS item goes: (new element name, capture mode).
fn rss_item_target(local: &str, ns: Option<&str>) -> Option<(&'static str, CapMode)> {
    match (ns, local) {
        (None | Some(RSS10_NS), "description") => Some(("description", CapMode::EscapeIfMarkup)),
        (None | Some(RSS10_NS), "title") => Some(("title", CapMode::EscapeIfMarkup)),
        (None | Some(XHTML_NS), "body") => Some(("content:encoded", CapMode::AlwaysEscape)),
        (None, "fullitem") => Some(("content:encoded", CapMode::EscapeIfMarkup)),
        (Some(DC_NS), "title") => Some(("title", CapMode::EscapeIfMarkup)),
        (Some(DC_NS), "description") => Some(("description", CapMode::EscapeIfMarkup)),
        (Some(DC_NS), "subject") => Some(("category", CapMode::EscapeIfMarkup)),
        (Some(DC_NS), "author") => Some(("author", CapMode::EscapeIfMarkup)),
        (Some(DCTERMS_NS), "issued") => Some(("pubDate", CapMode::EscapeIfMarkup)),
        (Some(DCTERMS_NS), "modified") => Some(("updated", CapMode::EscapeIfMarkup)),
        (Some(MEDIA_NS), "category") => Some(("category", CapMode::EscapeIfMarkup)),
        _ => None,
    }
}

fn atom03_rename(local: &str) -> Option<&'static str> {
    match local {
        "issued" => Some("published"),
        "modified" => Some("updated"),
        "tagline" => Some("subtitle"),
        "copyright" => Some("rights"),
        "url" => Some("uri"),
        _ => None,
    }
}

/// Namespace URI of an element name (`None` for no namespace).
fn namespace_of<'a>(name: &str, prefixes: &'a HashMap<String, String>) -> Option<&'a str> {
    let prefix = name.rsplit_once(':').map_or("", |(p, _)| p);
    prefixes
        .get(prefix)
        .map(String::as_str)
        .filter(|u| !u.is_empty())
}

/// Handles the document element: fixes what keeps feed-rs from
/// recognising the format, and records which format it is.
fn root_tag(
    e: &BytesStart<'_>,
    name: &str,
    is_empty: bool,
    root: &mut Root,
    atom03: &mut bool,
) -> Option<String> {
    let local = local_name(name);
    let default_ns = attr(e, "xmlns");
    if name == "rss" {
        *root = Root::Rss;
        let version = attr(e, "version");
        let bad_version = !matches!(version.as_deref(), Some("2.0" | "0.91" | "0.92" | ""));
        // RSS has no namespace; a default one hides every element from feed-rs.
        let bad_ns = default_ns.as_deref().is_some_and(|n| !n.is_empty());
        if !(bad_version || bad_ns) {
            return None;
        }
        let t = rebuild(e, "rss", is_empty, |k, v| match k {
            "version" | "xmlns" => None,
            _ => Some(v.to_owned()),
        });
        return Some(t.replacen("<rss", "<rss version=\"2.0\"", 1));
    }
    if local == "RDF" {
        *root = Root::Rdf;
        // RSS 0.90 and other variants: read them as RSS 1.0.
        if default_ns.as_deref().is_some_and(|n| n != RSS10_NS) {
            return Some(rebuild(e, name, is_empty, |k, v| match k {
                "xmlns" => Some(RSS10_NS.to_owned()),
                _ => Some(v.to_owned()),
            }));
        }
        return None;
    }
    if local == "feed" {
        *root = Root::Atom;
        let ns10 = default_ns.as_deref() == Some(ATOM10_NS)
            || e.attributes()
                .flatten()
                .any(|a| a.value.as_ref() == ATOM10_NS);
        if ns10 {
            return None;
        }
        let old_version = matches!(attr(e, "version").as_deref(), Some("0.1" | "0.2" | "0.3"));
        let ns03 = e
            .attributes()
            .flatten()
            .any(|a| a.value.as_ref() == ATOM03_NS);
        *atom03 = ns03 || old_version;
        // Unknown or 0.3 namespace: read as Atom 1.0 (plus 0.3 renames).
        let t = rebuild(e, name, is_empty, |k, v| match (k, v) {
            (_, ATOM03_NS) => Some(ATOM10_NS.to_owned()),
            ("xmlns", _) => Some(ATOM10_NS.to_owned()),
            ("version", _) => None,
            _ => Some(v.to_owned()),
        });
        if default_ns.is_none() && !ns03 && !name.contains(':') {
            return Some(t.replacen(
                &format!("<{name}"),
                &format!("<{name} xmlns=\"{ATOM10_NS}\""),
                1,
            ));
        }
        return Some(t);
    }
    None
}

/// A start tag with its Atom `type` set (`None` keeps it) and `mode` dropped.
fn rebuild_typed(e: &BytesStart<'_>, name: &str, empty: bool, ty: Option<&str>) -> String {
    let has_type = e.try_get_attribute("type").ok().flatten().is_some();
    let t = rebuild(e, name, empty, |k, v| match k {
        "mode" => None,
        "type" => Some(ty.unwrap_or(v).to_owned()),
        _ => Some(v.to_owned()),
    });
    match (has_type, ty) {
        (false, Some(ty)) => t.replacen(&format!("<{name}"), &format!("<{name} type=\"{ty}\""), 1),
        _ => t,
    }
}

fn finish(mut out: String, text: &str, copied: usize) -> String {
    out.push_str(text.get(copied..).unwrap_or(""));
    out
}

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn replace_local(name: &str, new_local: &str) -> String {
    match name.rsplit_once(':') {
        Some((prefix, _)) => format!("{prefix}:{new_local}"),
        None => new_local.to_owned(),
    }
}

/// Atom 1.0 `type` for a text construct, whether its content is inline
/// XML, and whether it is base64. `None` keeps the existing type.
fn text_type(ty: Option<&str>, mode: &str, atom03: bool) -> (Option<String>, bool, bool) {
    let ty_l = ty.map(|t| t.trim().to_ascii_lowercase());
    let base: Option<&str> = match ty_l.as_deref() {
        None | Some("") | Some("text") | Some("text/plain") => Some("text"),
        Some("html") | Some("text/html") => Some("html"),
        Some("xhtml") | Some("application/xhtml+xml") => Some("xhtml"),
        Some(_) => None,
    };
    let is_xml_mime = ty_l
        .as_deref()
        .is_some_and(|t| t.ends_with("+xml") || t.ends_with("/xml"));
    match mode {
        "base64" => (
            Some(base.unwrap_or("text").replace("xhtml", "html")),
            false,
            true,
        ),
        "escaped" => (
            Some(base.unwrap_or("html").replace("xhtml", "html")),
            false,
            false,
        ),
        // Atom 0.3's default mode is inline XML, for HTML types too.
        _ if atom03 && matches!(base, Some("html" | "xhtml")) => {
            (Some("xhtml".into()), true, false)
        }
        _ => match base {
            Some(b) => (Some(b.to_owned()), b == "xhtml", false),
            // Atom 1.0: other XML types are inline, anything else base64.
            None if is_xml_mime => (Some("xhtml".into()), true, false),
            None if ty_l.as_deref().is_some_and(|t| t.starts_with("text/")) => {
                (Some("text".into()), false, false)
            }
            None => (Some("html".into()), false, true),
        },
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .map(|a| a.value.trim().to_owned())
}

/// Re-serialises a start tag with attributes filtered/changed by `f`
/// (which gets the key and the raw, still escaped value).
fn rebuild(
    e: &BytesStart<'_>,
    name: &str,
    empty: bool,
    f: impl Fn(&str, &str) -> Option<String>,
) -> String {
    let mut s = format!("<{name}");
    for a in e.attributes().with_checks(false).flatten() {
        if let Some(mut v) = f(a.key.as_ref(), a.value.as_ref()) {
            if a.key.as_ref().starts_with("xmlns") {
                if let Some(c) = canonical_ns(&v) {
                    v = c.to_owned();
                }
            }
            let quote = if v.contains('"') { '\'' } else { '"' };
            s.push(' ');
            s.push_str(a.key.as_ref());
            s.push('=');
            s.push(quote);
            s.push_str(&v);
            s.push(quote);
        }
    }
    s.push_str(if empty { "/>" } else { ">" });
    s
}

/// Resolves an HTML named entity with html5ever's table (cached per feed).
fn resolve_entity(name: &str, cache: &mut HashMap<String, Option<String>>) -> Option<String> {
    if name.is_empty() || name.len() > 32 || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    cache
        .entry(name.to_owned())
        .or_insert_with(|| {
            let frag = scraper::Html::parse_fragment(&format!("&{name};"));
            let text: String = frag.root_element().text().collect();
            // Unknown names come back unchanged.
            (text != format!("&{name};") && !text.is_empty()).then_some(text)
        })
        .clone()
}

fn numeric_refs(s: &str) -> String {
    s.chars().map(|c| format!("&#{};", u32::from(c))).collect()
}

/// Replaces named entities inside a raw start tag (attribute values).
fn replace_entities_in<'a>(
    tag: &'a str,
    cache: &mut HashMap<String, Option<String>>,
) -> Cow<'a, str> {
    if !tag.contains('&') {
        return Cow::Borrowed(tag);
    }
    let mut out = String::with_capacity(tag.len());
    let mut rest = tag;
    let mut changed = false;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let terminated = after[name_len..].starts_with(';');
        let known = terminated
            && !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && quick_xml::escape::resolve_xml_entity(name).is_none();
        match known.then(|| resolve_entity(name, cache)).flatten() {
            Some(s) => {
                out.push_str(&numeric_refs(&s));
                rest = &after[name_len + 1..];
                changed = true;
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(tag)
    }
}

/// Standard base64 (whitespace ignored); `None` on invalid input.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_dropped() {
        let t = "<?xml version=\"1.0\"?><a>x<?xml version=\"1.0\" encoding=\"windows-1250\"?>y<![CDATA[<?xml ?>]]><?xml-stylesheet href=\"s\"?></a>";
        assert_eq!(drop_declarations(t), "<a>xy<![CDATA[]]></a>");
        assert_eq!(drop_declarations("<?XML</i!?><a/>"), "<a/>");
        assert!(matches!(drop_declarations("<a/>"), Cow::Borrowed(_)));
        assert_eq!(drop_declarations("<a><?xml version"), "<a>");
    }

    #[test]
    fn named_entities_become_numeric() {
        let got = normalize_feed_xml(
            "<rss version=\"2.0\"><t a=\"&eacute;\">&beta; &amp; &#38;</t></rss>",
        );
        assert_eq!(
            got.as_deref(),
            Some("<rss version=\"2.0\"><t a=\"&#233;\">&#946; &amp; &#38;</t></rss>")
        );
        assert_eq!(
            normalize_feed_xml("<rss version=\"2.0\"><t>&amp;</t></rss>"),
            None
        );
    }

    #[test]
    fn atom03_is_upgraded() {
        let src = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><tagline type="text/html" mode="escaped">a &lt;b&gt;</tagline><entry><issued>2003-12-31T10:14:55Z</issued><content type="text/plain" mode="base64">aGk=</content></entry></feed>"#;
        let got = normalize_feed_xml(src).expect("rewritten");
        assert_eq!(
            got,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><subtitle type="html">a &lt;b&gt;</subtitle><entry><published>2003-12-31T10:14:55Z</published><content type="text">hi</content></entry></feed>"#
        );
    }

    #[test]
    fn bare_ampersands_and_cp1252_refs() {
        let got = normalize_feed_xml(
            "<rss version=\"2.0\"><link>http://x/?a=1&b=2&amp;c</link><t>don&#146;t &#X41;</t><![CDATA[a&b]]></rss>",
        );
        assert_eq!(
            got.as_deref(),
            Some("<rss version=\"2.0\"><link>http://x/?a=1&amp;b=2&amp;c</link><t>don&#8217;t &#x41;</t><![CDATA[a&b]]></rss>")
        );
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("aGVs\nbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("*"), None);
    }
}
