//! A linear pre-pass over the raw HTML before html5ever sees it.
//!
//! Why: html5ever's tree builder checks the stack of open elements on many start tags, so a
//! document nested N levels deep costs O(N²) (20 000 nested `<div>`s take seconds, 100 000 take
//! minutes). The pre-pass tracks an approximate nesting depth and drops start tags (and their end
//! tags) beyond [`MAX_DEPTH`], which keeps the text but bounds the parser's work. It also drops
//! `<script>`/`<style>` bodies and HTML comments, which are never content but are a large share
//! of modern pages and slow to tokenize; JSON-LD script bodies are kept aside for metadata.

/// Start tags deeper than this are dropped (their text stays). Real pages rarely exceed ~60.
pub(crate) const MAX_DEPTH: usize = 400;

/// Output of [`prescan`].
pub(crate) struct Prescanned<'a> {
    /// The HTML to parse: scripts, styles and comments removed, nesting capped.
    pub html: String,
    /// Bodies of `<script type="application/ld+json">` elements, in document order.
    pub json_ld: Vec<&'a str>,
}

/// Elements that never have content or end tags.
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
            | "param"
            | "keygen"
            | "frame"
            | "basefont"
            | "bgsound"
            | "image"
    )
}

/// Elements whose end tag is optional (the parser closes them implicitly), so counting them
/// would make the depth estimate drift upwards on ordinary pages.
fn is_optional_end(name: &str) -> bool {
    matches!(
        name,
        "p" | "li"
            | "dt"
            | "dd"
            | "option"
            | "optgroup"
            | "tr"
            | "td"
            | "th"
            | "tbody"
            | "thead"
            | "tfoot"
            | "colgroup"
            | "caption"
            | "rb"
            | "rt"
            | "rp"
            | "html"
            | "head"
            | "body"
    )
}

/// Elements whose content is raw text up to the matching end tag.
fn is_raw_text(name: &str) -> bool {
    matches!(
        name,
        "script" | "style" | "textarea" | "title" | "xmp" | "iframe" | "noembed" | "noframes"
    )
}

/// `s` lower-cased (ASCII) into `buf`, returned as a `&str`.
fn lower_into<'b>(buf: &'b mut String, s: &str) -> &'b str {
    buf.clear();
    buf.push_str(s);
    buf.make_ascii_lowercase();
    buf.as_str()
}

/// Elements whose whitespace is content.
fn is_preformatted(name: &str) -> bool {
    matches!(name, "pre" | "listing")
}

/// Finds `needle` (ASCII, lower-case, starting with `<`) in `hay` ignoring ASCII case,
/// starting at `from`.
fn find_ci(hay: &str, from: usize, needle: &[u8]) -> Option<usize> {
    let bytes = hay.as_bytes();
    let mut i = from;
    loop {
        i += hay.get(i..)?.find('<')?;
        let cand = bytes.get(i..i + needle.len())?;
        if cand.eq_ignore_ascii_case(needle) {
            return Some(i);
        }
        i += 1;
    }
}

/// Index of the `>` that ends a tag starting at `start` (which points after the name),
/// honouring quoted attribute values. Returns `hay.len()` if unterminated.
fn tag_end(hay: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut quote: Option<u8> = None;
    while i < hay.len() {
        let b = hay[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => {
                // Quotes only open a value right after `=` (possibly with spaces); elsewhere
                // they are junk characters and must not swallow the rest of the document.
                let mut j = i;
                while j > start && hay[j - 1].is_ascii_whitespace() {
                    j -= 1;
                }
                if j > start && hay[j - 1] == b'=' {
                    quote = Some(b);
                }
            }
            None if b == b'>' => return i,
            None => {}
        }
        i += 1;
    }
    hay.len()
}

/// Attributes the extractor reads (see `dom`, `meta`, `comments`,
/// `boilerplate`); sorted for the binary search. A test reads the crate's
/// sources for `attr("...")` calls and checks that each is here.
/// Everything else (style lists, `srcset`, `data-*` blobs, event handlers,
/// SVG geometry) is a third of a modern page's markup once scripts and
/// styles are gone, and html5ever tokenizes it a character at a time.
const KEPT_ATTRIBUTES: &[&str] = &[
    "aria-hidden",
    "cite",
    "class",
    "content",
    "data-comment-id",
    "data-commentid",
    "data-editor",
    "data-id",
    "data-post",
    "datetime",
    "href",
    "http-equiv",
    "id",
    "itemprop",
    "lang",
    "name",
    "property",
    "rel",
    "role",
    "xml:lang",
];

/// Runs the pre-pass. Linear in the input length. With `all_attributes`
/// false, start tags keep only [`KEPT_ATTRIBUTES`] (a site's selector
/// overrides may match any attribute, so they keep them all).
pub(crate) fn prescan(input: &str, all_attributes: bool) -> Prescanned<'_> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut json_ld = Vec::new();
    let mut depth: usize = 0;
    // Number of currently open start tags that were dropped for being too deep.
    let mut dropped_open: usize = 0;
    // bytes[..copied_to] already handled.
    let mut copied_to = 0;
    // Open `<pre>`/`<listing>` elements, where whitespace is content.
    let mut pre: usize = 0;
    // The current tag's name, lower-cased (one buffer, not a string per tag).
    let mut name_buf = String::new();
    let mut i = 0;
    while let Some(off) = input.get(i..).and_then(|r| r.find('<')) {
        let lt = i + off;
        // Indentation between tags is a tenth of a page's markup once the
        // attributes are gone; one character of it means the same to the
        // parser and the extractor (which collapse whitespace), except in
        // a `<pre>`.
        if pre == 0 && off >= 2 && bytes[i..lt].iter().all(u8::is_ascii_whitespace) {
            out.push_str(&input[copied_to..i]);
            out.push(if bytes[i..lt].contains(&b'\n') {
                '\n'
            } else {
                ' '
            });
            copied_to = lt;
        }
        let next = bytes.get(lt + 1).copied();
        match next {
            Some(b'!') => {
                if bytes[lt..].starts_with(b"<!--") {
                    // Comment: drop it entirely.
                    let end = input
                        .get(lt + 4..)
                        .and_then(|r| r.find("-->"))
                        .map_or(bytes.len(), |e| lt + 4 + e + 3);
                    out.push_str(&input[copied_to..lt]);
                    copied_to = end;
                    i = end;
                } else {
                    i = tag_end(bytes, lt + 2).saturating_add(1).min(bytes.len());
                }
            }
            Some(b'?') => {
                i = tag_end(bytes, lt + 2).saturating_add(1).min(bytes.len());
            }
            Some(b'/') => {
                let name_start = lt + 2;
                let name_end = name_end(bytes, name_start);
                let end = tag_end(bytes, name_end).saturating_add(1).min(bytes.len());
                if name_end > name_start {
                    let name = lower_into(&mut name_buf, &input[name_start..name_end]);
                    if is_preformatted(name) {
                        pre = pre.saturating_sub(1);
                    }
                    if name == "noscript" {
                        out.push_str(&input[copied_to..lt]);
                        copied_to = end;
                    } else if !is_void(name) && !is_optional_end(name) {
                        if dropped_open > 0 {
                            dropped_open -= 1;
                            out.push_str(&input[copied_to..lt]);
                            copied_to = end;
                        } else {
                            depth = depth.saturating_sub(1);
                        }
                    }
                }
                i = end;
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let name_start = lt + 1;
                let name_end = name_end(bytes, name_start);
                let end_gt = tag_end(bytes, name_end);
                let end = end_gt.saturating_add(1).min(bytes.len());
                let name = lower_into(&mut name_buf, &input[name_start..name_end]);
                let self_closing = end_gt > name_end && bytes.get(end_gt - 1) == Some(&b'/');
                if is_preformatted(name) && !self_closing {
                    pre += 1;
                }
                if name == "noscript" {
                    // We never run scripts, so what a browser without scripts shows is the page:
                    // drop the tag itself so html5ever parses its content as markup, not text.
                    out.push_str(&input[copied_to..lt]);
                    copied_to = end;
                    i = end;
                    continue;
                }
                if is_raw_text(name) || (name == "svg" && !self_closing) {
                    // <svg> is not raw text, but its content (icons, paths) is never article
                    // text and is costly to parse; skip to its end tag.
                    let close = find_ci(input, end, format!("</{name}").as_bytes());
                    let body_end = close.unwrap_or(bytes.len());
                    let after = close
                        .map(|c| tag_end(bytes, c + 2 + name.len()).saturating_add(1))
                        .unwrap_or(bytes.len())
                        .min(bytes.len());
                    if name == "script" || name == "style" || name == "svg" {
                        if name == "script" {
                            let attrs = &input[name_end..end_gt.min(input.len())];
                            if attrs.to_ascii_lowercase().contains("ld+json") {
                                if let Some(body) = input.get(end..body_end) {
                                    json_ld.push(body);
                                }
                            }
                        }
                        out.push_str(&input[copied_to..lt]);
                        copied_to = after;
                    }
                    i = after;
                    continue;
                }
                if !is_void(name) && !is_optional_end(name) && !self_closing {
                    if depth >= MAX_DEPTH {
                        // Too deep: drop this start tag, keep what follows.
                        dropped_open += 1;
                        out.push_str(&input[copied_to..lt]);
                        copied_to = end;
                        i = end;
                        continue;
                    }
                    depth += 1;
                }
                // A tag without attributes (`<p>`) is copied as it is.
                if !all_attributes && name_end < end_gt && end_gt < bytes.len() {
                    out.push_str(&input[copied_to..name_end]);
                    push_kept_attributes(&input[name_end..end_gt], name == "link", &mut out);
                    out.push('>');
                    copied_to = end;
                }
                i = end;
            }
            _ => i = lt + 1,
        }
    }
    if copied_to < input.len() {
        out.push_str(&input[copied_to..]);
    }
    Prescanned { html: out, json_ld }
}

/// Appends the attributes of `attrs` (a start tag's text between its name
/// and its `>`) that are in [`KEPT_ATTRIBUTES`], each as written, and a
/// closing `/` if the tag has one. `href` is read only from `<link>` (the
/// canonical URL); on links in the text it is a twentieth of the markup.
/// Attribute syntax as the HTML tokenizer reads it: a name runs to
/// whitespace, `/`, `>` or `=`; a value is quoted or runs to whitespace.
fn push_kept_attributes(attrs: &str, link: bool, out: &mut String) {
    let b = attrs.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() || b[i] == b'/' {
            i += 1;
            continue;
        }
        let start = i;
        // The tokenizer reads a leading `=` as part of the name.
        i += 1;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'/' | b'=') {
            i += 1;
        }
        let name_end = i;
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j < b.len() && b[j] == b'=' {
            j += 1;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            match b.get(j) {
                Some(&q @ (b'"' | b'\'')) => {
                    j = attrs[j + 1..]
                        .find(q as char)
                        .map_or(b.len(), |e| j + 1 + e + 1);
                }
                _ => {
                    while j < b.len() && !b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                }
            }
            i = j;
        }
        let name = &attrs[start..name_end];
        if (link || !name.eq_ignore_ascii_case("href"))
            && KEPT_ATTRIBUTES
                .binary_search_by(|k| cmp_ignore_ascii_case(k, name))
                .is_ok()
        {
            out.push(' ');
            out.push_str(&attrs[start..i]);
        }
    }
    if attrs.trim_end().ends_with('/') {
        out.push('/');
    }
}

/// `a` (lower-case) against `b` ignoring ASCII case.
fn cmp_ignore_ascii_case(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes().cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// End of a tag name starting at `start`.
fn name_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start;
    while j < bytes.len()
        && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-' || bytes[j] == b':')
    {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_scripts_comments_and_keeps_json_ld() {
        let html = r#"<p>a</p><!-- x <p>hidden</p> --><script>var s="</p>";</script><script type="application/ld+json">{"a":1}</script><style>p{}</style><p>b</p>"#;
        let p = prescan(html, true);
        assert_eq!(p.html, "<p>a</p><p>b</p>");
        assert_eq!(p.json_ld, vec![r#"{"a":1}"#]);
    }

    #[test]
    fn caps_depth_but_keeps_text() {
        let mut s = String::new();
        for _ in 0..2000 {
            s.push_str("<div>");
        }
        s.push_str("deep");
        for _ in 0..2000 {
            s.push_str("</div>");
        }
        let p = prescan(&s, true);
        assert_eq!(p.html.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(p.html.matches("</div>").count(), MAX_DEPTH);
        assert!(p.html.contains("deep"));
    }

    #[test]
    fn quoted_gt_in_attribute_is_not_tag_end() {
        let p = prescan(r#"<a title="x>y" href="/">link</a><!-- c -->"#, true);
        assert_eq!(p.html, r#"<a title="x>y" href="/">link</a>"#);
    }

    #[test]
    fn keeps_only_the_attributes_the_extractor_reads() {
        let html = r#"<div class="post body" style="color:red" data-x='{"a":">"}' id=main><a href="/x" rel=author onclick="go()">A</a><IMG SRCSET="a.jpg 1x" alt=x/><link rel="canonical" HREF="/c"><p data-post="7" hidden>t</p></div>"#;
        assert_eq!(
            prescan(html, false).html,
            r#"<div class="post body" id=main><a rel=author>A</a><IMG/><link rel="canonical" HREF="/c"><p data-post="7">t</p></div>"#
        );
        // Selector overrides may name any attribute: all are kept.
        assert_eq!(prescan(html, true).html, html);
    }

    #[test]
    fn every_attribute_the_extractor_reads_is_kept() {
        assert!(KEPT_ATTRIBUTES.windows(2).all(|w| w[0] < w[1]), "sorted");
        let mut read: Vec<&str> = crate::COMMENT_ID_ATTRIBUTES.to_vec();
        for src in [
            include_str!("lib.rs"),
            include_str!("meta.rs"),
            include_str!("dom.rs"),
            include_str!("dates.rs"),
        ] {
            for part in src.split("attr(\"").skip(1) {
                if let Some(end) = part.find('"') {
                    read.push(&part[..end]);
                }
            }
            // `el_attr_or_text(dom, i, "content")` reads it by name too.
            for part in src.split("el_attr_or_text(").skip(1) {
                let args = &part[..part.find(')').unwrap_or(0)];
                if let Some(name) = args.split('"').nth(1) {
                    read.push(name);
                }
            }
        }
        assert!(read.len() > 20, "{read:?}");
        for name in read {
            assert!(
                KEPT_ATTRIBUTES.binary_search(&name).is_ok(),
                "{name} is read but dropped"
            );
        }
    }

    #[test]
    fn attribute_values_with_spaces_and_odd_syntax_stay_whole() {
        let p = prescan(
            r#"<span  class = "a b"  title='x y' =odd itemprop=name>n</span><br/>"#,
            false,
        );
        assert_eq!(p.html, r#"<span class = "a b" itemprop=name>n</span><br/>"#);
    }

    #[test]
    fn indentation_between_tags_shrinks_except_in_pre() {
        let html =
            "<ul>\n    <li>a</li>  <li>b  c</li>\n</ul><pre>\n  <b>x</b>\n    <i>y</i></pre>";
        assert_eq!(
            prescan(html, true).html,
            "<ul>\n<li>a</li> <li>b  c</li>\n</ul><pre>\n  <b>x</b>\n    <i>y</i></pre>"
        );
    }

    #[test]
    fn unterminated_constructs_do_not_panic() {
        for s in [
            "<",
            "<!--",
            "<script>",
            "<a href=\"",
            "</",
            "<!",
            "<?x",
            "<div",
            "é<é",
        ] {
            let _ = prescan(s, true);
            let _ = prescan(s, false);
        }
    }
}
