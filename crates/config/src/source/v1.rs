//! The written form of a source, read in either layout: version 2's
//! `params` table, or version 1's kind keys beside `id` (converted on read).
//!
//! Version 1 keys are typed here so a wrong type is still reported with its
//! key and position by the TOML parser; this struct is the only place they
//! are listed.

use std::path::PathBuf;
use std::time::Duration;

use mediawatch_core::{DocKind, SourceScope};
use mediawatch_extract::SelectorOverrides;
use serde::{Deserialize, Serialize};

use super::{default_true, ColumnsConfig, SourceConfig, SourceKind, SourceParams, Written};

/// Keys every source has; everything else in a version 1 source is a
/// kind key.
const COMMON: &[&str] = &[
    "id",
    "kind",
    "name",
    "country",
    "languages",
    "scope",
    "audience",
    "reach",
    "interval",
    "enabled",
    "params",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceRepr {
    id: String,
    kind: SourceKind,
    name: String,
    country: String,
    languages: Vec<String>,
    #[serde(default)]
    scope: SourceScope,
    #[serde(default)]
    audience: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reach: Option<u64>,
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    interval: Option<Duration>,
    #[serde(default = "default_true")]
    enabled: bool,
    /// Version 2: the kind's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<toml::Table>,

    // Version 1: the kind keys, flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fetch_articles: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    selectors: Option<SelectorOverrides>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_pages: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    allow_other_hosts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hashtag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    appview: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subreddit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<ColumnsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    doc_kind: Option<DocKind>,
}

impl TryFrom<SourceRepr> for SourceConfig {
    type Error = String;

    fn try_from(r: SourceRepr) -> Result<Self, String> {
        let kind = r.kind;
        // The flat keys written: the repr serialized, less the common keys.
        let mut flat = toml::Table::try_from(&r).map_err(|e| e.to_string())?;
        flat.retain(|k, _| !COMMON.contains(&k));
        let mut written = Written {
            flat: flat.keys().cloned().collect(),
            misplaced: Vec::new(),
            params_table: r.params.is_some(),
        };
        let table = match r.params {
            Some(t) => t,
            None => {
                let own = kind.keys();
                let (mine, other): (toml::Table, toml::Table) = flat
                    .into_iter()
                    .partition(|(k, _)| own.iter().any(|o| o == k));
                // Version 1 accepted fetch_articles on every kind and
                // ignored it where pages are not fetched; it still does.
                written.misplaced = other
                    .into_iter()
                    .map(|(k, _)| k)
                    .filter(|k| k != "fetch_articles")
                    .collect();
                mine
            }
        };
        let params = SourceParams::from_table(kind, table)
            .map_err(|e| format!("params of kind {:?}: {e}", kind.as_str()))?;
        Ok(SourceConfig {
            id: r.id,
            name: r.name,
            country: r.country,
            languages: r.languages,
            scope: r.scope,
            audience: r.audience,
            reach: r.reach,
            interval: r.interval,
            enabled: r.enabled,
            params,
            written,
        })
    }
}

/// Always written in version 2's layout.
impl From<SourceConfig> for SourceRepr {
    fn from(s: SourceConfig) -> Self {
        SourceRepr {
            id: s.id,
            kind: s.params.kind(),
            name: s.name,
            country: s.country,
            languages: s.languages,
            scope: s.scope,
            audience: s.audience,
            reach: s.reach,
            interval: s.interval,
            enabled: s.enabled,
            params: Some(s.params.to_table()),
            url: None,
            fetch_articles: None,
            selectors: None,
            link_selector: None,
            next_selector: None,
            max_pages: None,
            allow_other_hosts: None,
            instance: None,
            hashtag: None,
            account: None,
            appview: None,
            actor: None,
            query: None,
            channel: None,
            subreddit: None,
            channel_id: None,
            base_url: None,
            path: None,
            columns: None,
            doc_kind: None,
        }
    }
}
