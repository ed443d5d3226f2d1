//! `feed`: RSS, Atom or JSON Feed; entries link to the article pages.

use std::time::Duration;

use super::{Item, ListCx, Listed, Listing, FEED_ACCEPT};
use crate::source::PollFailure;

pub(super) async fn list(cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    let Some(resp) = cx.get(cx.rt.cfg.url(), FEED_ACCEPT, true).await? else {
        return Ok(Listed::NotModified { max_age: None });
    };
    let base = resp.url.to_string();
    let feed = mediawatch_ingest::parse_feed(&resp.body, Some(&base))
        .map_err(|e| cx.parse_failure("feed", &base, e))?;
    let ttl = feed.ttl_minutes;
    let items = feed.entries.into_iter().map(Item::from).collect();
    let mut listing = Listing::from_response(&resp, items, Vec::new());
    // RSS <ttl> is the publisher's own polling hint: treated like
    // Cache-Control max-age (the longer of the two wins).
    if let Some(minutes) = ttl {
        let t = Duration::from_secs(u64::from(minutes) * 60);
        listing.max_age = Some(listing.max_age.map_or(t, |m| m.max(t)));
    }
    Ok(Listed::Items(listing))
}
