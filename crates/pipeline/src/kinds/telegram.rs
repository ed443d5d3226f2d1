//! `telegram`: a public channel, read from its web preview (`t.me/s/...`).

use mediawatch_config::{TelegramParams, DEFAULT_TELEGRAM_BASE};

use super::{ListCx, Listed, Poller, HTML_ACCEPT};
use crate::source::PollFailure;

pub(super) fn build(p: &TelegramParams) -> Result<Poller, Vec<String>> {
    let base = p.base_url.as_deref().unwrap_or(DEFAULT_TELEGRAM_BASE);
    let channel = p
        .channel
        .as_deref()
        .ok_or_else(|| vec!["channel: required for kind \"telegram\"".to_string()])?;
    mediawatch_ingest::telegram_channel_url(base, channel)
        .map(Poller::Telegram)
        .map_err(|e| vec![format!("base_url: {e}")])
}

pub(super) async fn list(url: &str, cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    cx.platform(url, HTML_ACCEPT, "Telegram channel", |resp| {
        mediawatch_ingest::parse_telegram_channel(&resp.text().text)
    })
    .await
}
