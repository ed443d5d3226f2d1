//! `bluesky`: an author feed or a post search on an AppView (XRPC).

use mediawatch_config::{BlueskyParams, DEFAULT_BLUESKY_APPVIEW};

use super::{ListCx, Listed, Poller, JSON_ACCEPT};
use crate::source::PollFailure;

/// The token sent, when set, to the AppView.
pub(super) const TOKEN_VAR: &str = "MEDIAWATCH_BLUESKY_TOKEN";

pub(super) fn build(p: &BlueskyParams) -> Result<Poller, Vec<String>> {
    let appview = p.appview.as_deref().unwrap_or(DEFAULT_BLUESKY_APPVIEW);
    let url = match (&p.actor, &p.query) {
        (Some(actor), _) => mediawatch_ingest::bluesky_author_feed_url(appview, actor),
        (None, Some(q)) => mediawatch_ingest::bluesky_search_url(appview, q),
        (None, None) => return Err(vec!["actor: set actor or query".into()]),
    }
    .map_err(|e| vec![format!("appview: {e}")])?;
    Ok(Poller::Bluesky(url))
}

pub(super) async fn list(url: &str, cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    cx.platform(url, JSON_ACCEPT, "Bluesky feed", |resp| {
        mediawatch_ingest::parse_bluesky_posts(&resp.body)
    })
    .await
}
