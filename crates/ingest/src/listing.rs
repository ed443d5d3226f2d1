//! HTML listing pages (section fronts, archives, tag pages): the article
//! links a CSS selector picks, and the "next page" link.
//!
//! Many outlets in the region publish no feed, or a feed that carries only
//! a few sections; their listing pages are the fallback.

use std::collections::HashSet;

use mediawatch_core::canonicalize_url;
use scraper::{Html, Selector};
use serde::Serialize;
use url::Url;

use crate::IngestError;

/// What one listing page links to.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ListingPage {
    /// Absolute article URLs, in page order, each once (fragment removed).
    pub links: Vec<String>,
    /// The next page, when `next_selector` matched a usable link.
    pub next: Option<String>,
}

/// Options of [`parse_listing`].
#[derive(Debug, Clone, Copy)]
pub struct ListingOptions<'a> {
    /// CSS selector of the `<a>` elements that link to articles.
    pub link_selector: &'a str,
    /// CSS selector of the "next page" link.
    pub next_selector: Option<&'a str>,
    /// Keep links to hosts other than the page's (default: drop them, since
    /// listing pages link to partners, ads and social networks too).
    pub allow_other_hosts: bool,
}

/// Checks that a selector is valid CSS; `key` names it in the error.
pub fn check_selector(key: &str, selector: &str) -> Result<(), IngestError> {
    parse_selector(key, selector).map(|_| ())
}

fn parse_selector(key: &str, selector: &str) -> Result<Selector, IngestError> {
    Selector::parse(selector).map_err(|e| IngestError::Selector {
        key: key.to_string(),
        selector: selector.to_string(),
        reason: e.to_string(),
    })
}

/// The article links and next page of a listing page fetched from `page_url`.
///
/// Links (`href` of the selected elements, or of their first `<a>`
/// descendant when the selector picks a container) are resolved against
/// the page URL (and `<base href>`), restricted to http(s), canonicalised
/// (see [`mediawatch_core::canonicalize_url`]) and deduplicated,
/// and restricted to the page's host unless `allow_other_hosts`. A link to
/// the page itself is dropped. The next page must be another http(s) URL.
pub fn parse_listing(
    html: &str,
    page_url: &str,
    opts: &ListingOptions<'_>,
) -> Result<ListingPage, IngestError> {
    let page = Url::parse(page_url).map_err(|e| IngestError::BadUrl {
        url: page_url.to_string(),
        reason: e.to_string(),
    })?;
    let links_sel = parse_selector("link_selector", opts.link_selector)?;
    let next_sel = opts
        .next_selector
        .map(|s| parse_selector("next_selector", s))
        .transpose()?;
    let a_sel = parse_selector("a", "a[href]")?;
    let base_sel = parse_selector("base", "base[href]")?;
    let doc = Html::parse_document(html);
    let base = doc
        .select(&base_sel)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page.join(h.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let resolve = |href: &str| -> Option<Url> {
        let mut u = base.join(href.trim()).ok()?;
        if !matches!(u.scheme(), "http" | "https") {
            return None;
        }
        u.set_fragment(None);
        Some(u)
    };
    let mut page_no_fragment = page.clone();
    page_no_fragment.set_fragment(None);

    let mut seen = HashSet::new();
    let mut links = Vec::new();
    for el in doc.select(&links_sel) {
        let href = el
            .value()
            .attr("href")
            .or_else(|| {
                el.select(&a_sel)
                    .next()
                    .and_then(|a| a.value().attr("href"))
            })
            .filter(|h| !h.trim().is_empty() && !h.trim().starts_with('#'));
        let Some(u) = href.and_then(resolve) else {
            continue;
        };
        if u == page_no_fragment {
            continue;
        }
        if !opts.allow_other_hosts && u.host_str() != page.host_str() {
            continue;
        }
        // Canonical form (tracking parameters stripped), so the same story
        // linked twice with different `utm_*` is one item.
        let s = canonicalize_url(u.as_str()).unwrap_or_else(|_| u.to_string());
        if seen.insert(s.clone()) {
            links.push(s);
        }
    }
    let next = next_sel.and_then(|ns| {
        doc.select(&ns).find_map(|el| {
            let href = el.value().attr("href").or_else(|| {
                el.select(&a_sel)
                    .next()
                    .and_then(|a| a.value().attr("href"))
            })?;
            resolve(href)
                .filter(|u| *u != page_no_fragment)
                .map(|u| u.to_string())
        })
    });
    Ok(ListingPage { links, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r##"<html><head><title>Vesti</title></head><body>
<nav><a href="/">Početna</a><a href="/kontakt">Kontakt</a></nav>
<main>
 <article><h2><a href="/vesti/migranti-sid?utm_source=home#top">Migranti u Šidu</a></h2></article>
 <article><h2><a href="izbeglice-beograd">Izbeglice u Beogradu</a></h2></article>
 <article><h2><a href="https://news.example/vesti/migranti-sid">Duplikat</a></h2></article>
 <article><h2><a href="https://partner.example/clanak">Partner</a></h2></article>
 <article><h2><a href="javascript:void(0)">JS</a></h2></article>
 <article><h2><a href="#">Top</a></h2></article>
 <article class="teaser"><a href="/vesti/treci">Treći</a></article>
</main>
<a class="next" href="?page=2">Sledeća</a>
</body></html>"##;

    fn opts(other: bool) -> ListingOptions<'static> {
        ListingOptions {
            link_selector: "article h2 a, article.teaser",
            next_selector: Some("a.next"),
            allow_other_hosts: other,
        }
    }

    #[test]
    fn links_are_resolved_deduplicated_and_same_host() {
        let p = parse_listing(PAGE, "https://news.example/vesti/", &opts(false)).unwrap();
        assert_eq!(
            p.links,
            [
                "https://news.example/vesti/migranti-sid",
                "https://news.example/vesti/izbeglice-beograd",
                "https://news.example/vesti/treci",
            ]
        );
        assert_eq!(
            p.next.as_deref(),
            Some("https://news.example/vesti/?page=2")
        );
        let p = parse_listing(PAGE, "https://news.example/vesti/", &opts(true)).unwrap();
        assert!(p
            .links
            .contains(&"https://partner.example/clanak".to_string()));
    }

    #[test]
    fn bad_selector_and_url_are_errors() {
        let o = ListingOptions {
            link_selector: "a[",
            next_selector: None,
            allow_other_hosts: false,
        };
        match parse_listing(PAGE, "https://news.example/", &o) {
            Err(IngestError::Selector { key, .. }) => assert_eq!(key, "link_selector"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse_listing(PAGE, "nope", &opts(false)),
            Err(IngestError::BadUrl { .. })
        ));
        // A page that links nowhere is an empty listing, not an error.
        let p = parse_listing("<p>nothing</p>", "https://news.example/", &opts(false)).unwrap();
        assert!(p.links.is_empty() && p.next.is_none());
    }
}
