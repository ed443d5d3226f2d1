//! `mastodon`: a hashtag or account timeline through the public API.

use mediawatch_config::MastodonParams;

use super::{ListCx, Listed, Poller, JSON_ACCEPT};
use crate::source::PollFailure;

/// The token sent, when set, to the instance's API.
pub(super) const TOKEN_VAR: &str = "MEDIAWATCH_MASTODON_TOKEN";

/// A `mastodon` source: where its statuses come from.
#[derive(Debug, Clone)]
pub(crate) struct MastodonSpec {
    /// Host of the instance: the namespace of status ids.
    pub host: String,
    pub target: MastodonTarget,
}

#[derive(Debug, Clone)]
pub(crate) enum MastodonTarget {
    /// A timeline URL known from the config (hashtag, numeric account id).
    Timeline(String),
    /// `@name`: looked up at `lookup` each poll (ids differ per instance
    /// and the lookup is one small request), then `instance`'s statuses.
    Lookup { lookup: String, instance: String },
}

pub(super) fn build(p: &MastodonParams) -> Result<Poller, Vec<String>> {
    let url_err = |e: mediawatch_ingest::IngestError| vec![format!("instance: {e}")];
    let instance = p
        .instance
        .clone()
        .ok_or_else(|| vec!["instance: required for kind \"mastodon\"".to_string()])?;
    let host = url::Url::parse(&instance)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .ok_or_else(|| vec![format!("instance: {instance:?} has no host")])?;
    let target = match (&p.hashtag, &p.account) {
        (Some(tag), _) => MastodonTarget::Timeline(
            mediawatch_ingest::mastodon_hashtag_url(&instance, tag).map_err(url_err)?,
        ),
        (None, Some(acct)) if acct.starts_with('@') => MastodonTarget::Lookup {
            lookup: mediawatch_ingest::mastodon_lookup_url(&instance, acct).map_err(url_err)?,
            instance: instance.clone(),
        },
        (None, Some(id)) => MastodonTarget::Timeline(
            mediawatch_ingest::mastodon_account_statuses_url(&instance, id).map_err(url_err)?,
        ),
        (None, None) => return Err(vec!["hashtag: set hashtag or account".into()]),
    };
    Ok(Poller::Mastodon(MastodonSpec { host, target }))
}

pub(super) async fn list(spec: &MastodonSpec, cx: &ListCx<'_>) -> Result<Listed, PollFailure> {
    let timeline = match &spec.target {
        MastodonTarget::Timeline(url) => url.clone(),
        MastodonTarget::Lookup { lookup, instance } => {
            let Some(r) = cx.get(lookup, JSON_ACCEPT, false).await? else {
                return Err(cx.parse_failure(
                    "account lookup",
                    lookup,
                    "304 without a cached answer",
                ));
            };
            let account = mediawatch_ingest::parse_mastodon_account_id(&r.body)
                .map_err(|e| cx.parse_failure("account lookup", lookup, e))?;
            mediawatch_ingest::mastodon_account_statuses_url(instance, &account)
                .map_err(|e| cx.parse_failure("account", &account, e))?
        }
    };
    cx.platform(&timeline, JSON_ACCEPT, "Mastodon timeline", |resp| {
        mediawatch_ingest::parse_mastodon_statuses(&resp.body, &spec.host)
    })
    .await
}
