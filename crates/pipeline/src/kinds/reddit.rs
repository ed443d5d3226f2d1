//! `reddit`: a subreddit's newest posts (`/r/<sub>/new.json`).

use mediawatch_config::{RedditParams, DEFAULT_REDDIT_BASE};

use super::{ListCx, Listed, Poller, JSON_ACCEPT};
use crate::source::PollFailure;

pub(super) fn build(p: &RedditParams) -> Result<Poller, Vec<String>> {
    let base = p.base_url.as_deref().unwrap_or(DEFAULT_REDDIT_BASE);
    let sub = p
        .subreddit
        .as_deref()
        .ok_or_else(|| vec!["subreddit: required for kind \"reddit\"".to_string()])?;
    mediawatch_ingest::reddit_new_url(base, sub)
        .map(Poller::Reddit)
        .map_err(|e| vec![format!("base_url: {e}")])
}

pub(super) async fn list(url: &str, cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    cx.platform(url, JSON_ACCEPT, "Reddit listing", |resp| {
        mediawatch_ingest::parse_reddit_listing(&resp.body)
    })
    .await
}
