//! `listing`: an HTML page (section front, archive) whose links are the
//! articles, followed to its next pages.

use std::collections::HashSet;

use mediawatch_config::{ListingParams, DEFAULT_MAX_PAGES};

use super::{Item, ListCx, Listed, Listing, Poller, HTML_ACCEPT};
use crate::source::PollFailure;

/// A `listing` source's selectors and limits.
#[derive(Debug, Clone)]
pub(crate) struct ListingSpec {
    pub link_selector: String,
    pub next_selector: Option<String>,
    pub max_pages: usize,
    pub allow_other_hosts: bool,
}

pub(super) fn build(p: &ListingParams) -> Result<Poller, Vec<String>> {
    let link_selector = p
        .link_selector
        .clone()
        .ok_or_else(|| vec!["link_selector: required for kind \"listing\"".to_string()])?;
    let mut errs = Vec::new();
    if let Err(e) = mediawatch_ingest::check_selector("link_selector", &link_selector) {
        errs.push(format!("link_selector: {e}"));
    }
    if let Some(n) = &p.next_selector {
        if let Err(e) = mediawatch_ingest::check_selector("next_selector", n) {
            errs.push(format!("next_selector: {e}"));
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Poller::Listing(ListingSpec {
        link_selector,
        next_selector: p.next_selector.clone(),
        max_pages: p.max_pages.unwrap_or(DEFAULT_MAX_PAGES).max(1),
        allow_other_hosts: p.allow_other_hosts.unwrap_or(false),
    }))
}

pub(super) async fn list(spec: &ListingSpec, cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    let Some(first) = cx.get(cx.rt.cfg.url(), HTML_ACCEPT, true).await? else {
        return Ok(Listed::NotModified { max_age: None });
    };
    let opts = mediawatch_ingest::ListingOptions {
        link_selector: &spec.link_selector,
        next_selector: spec.next_selector.as_deref(),
        allow_other_hosts: spec.allow_other_hosts,
    };
    let mut seen_pages = HashSet::new();
    let mut seen_links = HashSet::new();
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let mut page = Some((first.clone(), first.url.to_string()));
    let mut pages = 0;
    while let Some((resp, url)) = page.take() {
        pages += 1;
        seen_pages.insert(resp.url.to_string());
        let parsed =
            match mediawatch_ingest::parse_listing(&resp.text().text, resp.url.as_str(), &opts) {
                Ok(p) => p,
                // The first page failing fails the poll; a later page
                // failing only ends the walk.
                Err(e) if pages == 1 => return Err(cx.parse_failure("listing page", &url, e)),
                Err(e) => {
                    problems.push(format!(
                        "source {}: listing page {url} could not be parsed: {e}",
                        cx.id()
                    ));
                    break;
                }
            };
        for link in parsed.links {
            if seen_links.insert(link.clone()) {
                items.push(Item::link(link));
            }
        }
        let next = parsed.next.filter(|n| !seen_pages.contains(n));
        if let (Some(next), true) = (next, pages < spec.max_pages) {
            match cx.get(&next, HTML_ACCEPT, false).await {
                Ok(Some(r)) => page = Some((r, next)),
                Ok(None) => {}
                Err(f) if f.is_cancelled() => return Err(f),
                Err(f) => problems.push(format!("{} (next page)", f.message)),
            }
        }
    }
    Ok(Listed::Items(Listing::from_response(
        &first, items, problems,
    )))
}
