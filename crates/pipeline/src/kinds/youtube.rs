//! `youtube`: a channel's video feed (Atom with Media RSS); each video is
//! a post whose text is its description.

use mediawatch_config::{YoutubeParams, DEFAULT_YOUTUBE_BASE};

use super::{post_item, ListCx, Listed, Listing, Poller, FEED_ACCEPT};
use crate::source::PollFailure;

pub(super) fn build(p: &YoutubeParams) -> Result<Poller, Vec<String>> {
    let base = p.base_url.as_deref().unwrap_or(DEFAULT_YOUTUBE_BASE);
    let channel = p
        .channel_id
        .as_deref()
        .ok_or_else(|| vec!["channel_id: required for kind \"youtube\"".to_string()])?;
    mediawatch_ingest::youtube_channel_feed_url(base, channel)
        .map(Poller::Youtube)
        .map_err(|e| vec![format!("base_url: {e}")])
}

pub(super) async fn list(url: &str, cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    let Some(resp) = cx.get(url, FEED_ACCEPT, true).await? else {
        return Ok(Listed::NotModified { max_age: None });
    };
    let feed = mediawatch_ingest::parse_feed(&resp.body, Some(resp.url.as_str()))
        .map_err(|e| cx.parse_failure("YouTube feed", url, e))?;
    let items = feed
        .entries
        .into_iter()
        .filter_map(|e| {
            // Media RSS description (the video's description) is the
            // text; parse_feed puts it in `summary`.
            let text = e
                .content
                .as_deref()
                .or(e.summary.as_deref())
                .map(mediawatch_ingest::html_to_text)
                .unwrap_or_default();
            let post = mediawatch_ingest::SocialPost {
                platform: "youtube".into(),
                id: e.id,
                url: e.link,
                title: e.title,
                text,
                author: (!e.authors.is_empty()).then(|| e.authors.join(", ")),
                published: e.published.or(e.updated),
                lang: None,
            };
            (!post.text.is_empty() || post.title.is_some()).then(|| post_item(cx.rt, post))
        })
        .collect();
    Ok(Listed::Items(Listing::from_response(
        &resp,
        items,
        Vec::new(),
    )))
}
