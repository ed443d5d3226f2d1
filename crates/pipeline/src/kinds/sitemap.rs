//! `sitemap`: a (news) sitemap or sitemap index; its URLs are the articles.

use mediawatch_fetch::{FetchRequest, FetchResponse};
use mediawatch_ingest::Sitemap;

use super::{Item, ListCx, Listed, Listing, SITEMAP_ACCEPT};
use crate::source::PollFailure;

/// Child sitemaps of a sitemap index followed per pass (the newest-listed
/// first): news sitemap indexes can list thousands of archive files.
const MAX_CHILD_SITEMAPS: usize = 5;

pub(super) async fn list(cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    let Some(resp) = cx.get(cx.rt.cfg.url(), SITEMAP_ACCEPT, true).await? else {
        return Ok(Listed::NotModified { max_age: None });
    };
    let mut problems = Vec::new();
    let items = items(cx, &resp, &mut problems).await?;
    Ok(Listed::Items(Listing::from_response(
        &resp, items, problems,
    )))
}

async fn items(
    cx: &ListCx<'_>,
    resp: &FetchResponse,
    problems: &mut Vec<String>,
) -> Result<Vec<Item>, PollFailure> {
    let id = cx.id();
    let urls = match mediawatch_ingest::parse_sitemap(&resp.body)
        .map_err(|e| cx.parse_failure("sitemap", resp.url.as_str(), e))?
    {
        Sitemap::UrlSet(urls) => urls,
        Sitemap::Index(children) => {
            let mut all = Vec::new();
            for child in children.iter().take(MAX_CHILD_SITEMAPS) {
                let req = FetchRequest {
                    url: child.clone(),
                    accept: Some(SITEMAP_ACCEPT.to_string()),
                    ..Default::default()
                };
                let r = match cx.net.fetch(&req).await {
                    Ok(r) => r,
                    Err(Some(e)) => {
                        problems.push(format!("source {id}: child sitemap: {e}"));
                        continue;
                    }
                    Err(None) => break,
                };
                match mediawatch_ingest::parse_sitemap(&r.body) {
                    Ok(Sitemap::UrlSet(u)) => all.extend(u),
                    // Nested indexes are not followed: the protocol forbids them.
                    Ok(Sitemap::Index(_)) => {}
                    Err(e) => problems.push(cx.parse_failure("sitemap", child, e).message),
                }
            }
            all
        }
    };
    Ok(urls
        .into_iter()
        .map(|u| Item {
            key: u.loc.clone(),
            link: Some(u.loc),
            title: u.news_title,
            published: u.news_publication_date,
            updated: u.lastmod,
            authors: Vec::new(),
            html: None,
            prebuilt: None,
        })
        .collect())
}
