//! A tiny HTML builder that is escaped by construction.
//!
//! Markup can only be appended from `&'static str` literals written in this
//! crate ([`Html::raw`]); everything computed at run time — scraped titles,
//! texts, source names, URLs, query strings, numbers — goes through
//! [`Html::text`] (or [`Html::href`]), which escapes it. A scraped string
//! therefore has no way to become markup, whatever it contains.

use std::fmt::Write as _;

use mediawatch_core::text::escape_html_into as escape_into;

/// A link target that is safe to put in `href`: an `http`/`https` URL, or
/// a path on this server (starting with one `/`). Anything else
/// (`javascript:`, `data:`, `//evil`, garbage) gives `None`, and callers
/// then show the text without a link.
pub fn safe_href(url: &str) -> Option<String> {
    let u = url.trim();
    if u.starts_with('/') {
        if u.starts_with("//") || u.starts_with("/\\") {
            return None;
        }
        return Some(u.to_string());
    }
    let parsed = url::Url::parse(u).ok()?;
    match parsed.scheme() {
        "http" | "https" if parsed.host().is_some() => Some(parsed.to_string()),
        _ => None,
    }
}

/// Percent-encodes a query-string component.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Builds a query string (`a=1&b=2`) from pairs, skipping empty values.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if v.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&enc(k));
        out.push('=');
        out.push_str(&enc(v));
    }
    out
}

/// An HTML document under construction.
#[derive(Debug, Default)]
pub struct Html {
    buf: String,
}

impl Html {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends markup written in this crate. Only string literals can be
    /// passed, so run-time data cannot reach this method.
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.buf.push_str(markup);
        self
    }

    /// Appends text, escaped (also safe inside quoted attribute values).
    pub fn text(&mut self, s: &str) -> &mut Self {
        escape_into(&mut self.buf, s);
        self
    }

    /// Appends a number.
    pub fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        // Display of numbers never yields markup characters, but escape
        // anyway so the rule "run-time data goes through escape" has no
        // exceptions.
        let s = n.to_string();
        self.text(&s)
    }

    /// Appends a share (0..1) as a percentage with one decimal.
    pub fn pct(&mut self, share: f64) -> &mut Self {
        let mut s = String::new();
        let _ = write!(s, "{:.1}%", share * 100.0);
        self.text(&s)
    }

    /// Appends `<a href="URL" ATTRS>TEXT</a>` when `url` is a safe link
    /// target (see [`safe_href`]), else just the text. `attrs` is markup
    /// from this crate (e.g. ` class="hit-title"`).
    pub fn link(&mut self, url: &str, attrs: &'static str, text: &str) -> &mut Self {
        match safe_href(url) {
            Some(h) => {
                self.raw("<a href=\"")
                    .text(&h)
                    .raw("\"")
                    .raw(attrs)
                    .raw(">");
                self.text(text).raw("</a>")
            }
            None => self.text(text),
        }
    }

    /// Appends a link to the scraped page itself: opened without referrer
    /// or opener, and not followed by crawlers.
    pub fn external_link(&mut self, url: &str, text: &str) -> &mut Self {
        self.link(
            url,
            " class=\"external\" rel=\"noopener noreferrer nofollow\" target=\"_blank\"",
            text,
        )
    }

    /// The HTML built so far.
    pub fn into_string(self) -> String {
        self.buf
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        let mut h = Html::new();
        h.raw("<p title=\"")
            .text("\"><img src=x onerror=alert(1)>")
            .raw("\">")
            .text("<script>alert(1)</script>")
            .raw("</p>");
        let s = h.into_string();
        assert!(!s.contains("<script>"), "{s}");
        assert!(!s.contains("<img"), "{s}");
        assert!(s.contains("&lt;script&gt;"), "{s}");
        assert!(s.contains("&quot;&gt;&lt;img"), "{s}");
    }

    #[test]
    fn only_http_links_and_local_paths_are_linked() {
        assert_eq!(
            safe_href("https://example.com/a?b=1").as_deref(),
            Some("https://example.com/a?b=1")
        );
        assert_eq!(safe_href("/documents/ab").as_deref(), Some("/documents/ab"));
        for bad in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html,<script>",
            "//evil.example/x",
            "/\\evil.example",
            "vbscript:x",
            "not a url",
            "",
        ] {
            assert_eq!(safe_href(bad), None, "{bad}");
        }
        let mut h = Html::new();
        h.link("javascript:alert(1)", " class=\"x\"", "t");
        assert_eq!(h.into_string(), "t");
    }

    #[test]
    fn query_strings_are_encoded() {
        assert_eq!(
            query_string([("q", "a&b=c \"d\""), ("x", ""), ("lang", "sr")]),
            "q=a%26b%3Dc+%22d%22&lang=sr"
        );
    }
}
