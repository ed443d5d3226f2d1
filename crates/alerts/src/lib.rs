//! Saved searches and alerts.
//!
//! A saved search (from `[[saved_searches]]` in the config, or created
//! through the API and kept in SQLite) is a query with optional country /
//! source / language filters and, optionally, an alert rule. On a schedule
//! ([`AlertsRuntime::run`]) every enabled search with a rule is evaluated
//! ([`eval`]): its volume, or the share of one label, in the current window
//! is tested against the rolling baseline of the windows before it
//! ([`stats`] states the tests). When the test is significant, the minimum
//! counts and the effect-size floor hold, and the search is not cooling
//! down, the alert is recorded (once per window: a unique key in the state
//! store) and sent to the rule's channels ([`notify`]). Every outcome,
//! failures included, lands in the alert history, and what a channel still
//! owes is sent again on the next pass ([`AlertsRuntime::redeliver`]):
//! delivery is at least once.

pub mod eval;
pub mod notify;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mediawatch_config::{AlertRule, AlertsConfig, SavedSearchConfig};
use mediawatch_query::Queries;
use mediawatch_state::{AlertFilter, AlertRecord, Delivery, NewAlert, StateBackend, StoredSearch};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use eval::{current_window, evaluate_window, Check, Evaluation, TestStats};
pub use notify::{AlertPayload, Notifier};

/// Errors of the alerts crate.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// The index could not be read (or the search's query is invalid).
    #[error("{0}")]
    Index(#[from] mediawatch_index::IndexError),
    /// A query was refused before reaching the index.
    #[error("{0}")]
    Query(String),
    /// No index node could answer (a cluster's api role).
    #[error("index unavailable: {0}")]
    Unavailable(String),
    /// The state database failed.
    #[error("{0}")]
    State(#[from] mediawatch_state::StateError),
    /// A saved search given to the API is invalid; one message per problem.
    #[error("invalid saved search: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A saved search's rule cannot be evaluated.
    #[error("saved search {search}: {reason}")]
    InvalidRule {
        /// Search id.
        search: String,
        /// Why.
        reason: String,
    },
    /// No saved search has this id.
    #[error("no saved search with id {0:?}")]
    NotFound(String),
    /// The saved search comes from the config file and cannot be changed
    /// through the API.
    #[error("saved search {0:?} is defined in the config file; edit the file to change it")]
    ReadOnly(String),
    /// The saved search has no alert rule to evaluate.
    #[error("saved search {0:?} has no alert rule")]
    NoRule(String),
    /// A notification channel could not be set up.
    #[error("channel {channel}: {message}")]
    Channel {
        /// Channel id.
        channel: String,
        /// What failed.
        message: String,
    },
    /// A stored saved search could not be decoded (written by another
    /// version?).
    #[error("stored saved search {id:?} is unreadable: {message}")]
    Corrupt {
        /// Search id.
        id: String,
        /// Decoder message.
        message: String,
    },
    /// A blocking task failed to complete.
    #[error("evaluation task failed: {0}")]
    Task(String),
}

/// Where a saved search is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `[[saved_searches]]` in the config file (read-only through the API).
    Config,
    /// Created through the API (stored in SQLite).
    Api,
}

/// A saved search with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SavedSearch {
    /// The search and its rule.
    #[serde(flatten)]
    pub search: SavedSearchConfig,
    /// Config file or API.
    pub origin: Origin,
    /// When it was created (API searches only).
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize, Default)]
struct Filters {
    country: Option<String>,
    source: Option<String>,
    lang: Option<String>,
}

fn to_stored(s: &SavedSearchConfig, now: DateTime<Utc>) -> Result<StoredSearch, AlertsError> {
    let enc = |e: serde_json::Error| AlertsError::Corrupt {
        id: s.id.clone(),
        message: e.to_string(),
    };
    Ok(StoredSearch {
        id: s.id.clone(),
        name: s.name.clone(),
        query: s.query.clone(),
        filters_json: serde_json::to_string(&Filters {
            country: s.country.clone(),
            source: s.source.clone(),
            lang: s.lang.clone(),
        })
        .map_err(enc)?,
        rule_json: s
            .alert
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(enc)?,
        channels_json: serde_json::to_string(
            &s.alert
                .as_ref()
                .map(|r| r.channels.clone())
                .unwrap_or_default(),
        )
        .map_err(enc)?,
        created_at: now,
        enabled: s.enabled,
    })
}

fn from_stored(r: StoredSearch) -> Result<SavedSearch, AlertsError> {
    let dec = |e: serde_json::Error| AlertsError::Corrupt {
        id: r.id.clone(),
        message: e.to_string(),
    };
    let f: Filters = serde_json::from_str(&r.filters_json).map_err(dec)?;
    let alert: Option<AlertRule> = r
        .rule_json
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(dec)?;
    Ok(SavedSearch {
        search: SavedSearchConfig {
            id: r.id,
            name: r.name,
            query: r.query,
            country: f.country,
            source: f.source,
            lang: f.lang,
            enabled: r.enabled,
            alert,
        },
        origin: Origin::Api,
        created_at: Some(r.created_at),
    })
}

/// What one evaluation of one search led to.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The rule did not fire.
    Quiet {
        /// The evaluation.
        evaluation: Box<Evaluation>,
    },
    /// The rule fired but the search is cooling down.
    CoolingDown {
        /// The evaluation.
        evaluation: Box<Evaluation>,
        /// When the search last fired.
        last_fired: DateTime<Utc>,
    },
    /// The window had already fired (nothing sent again).
    AlreadyFired {
        /// The evaluation.
        evaluation: Box<Evaluation>,
    },
    /// Fired: recorded and sent.
    Fired {
        /// The evaluation.
        evaluation: Box<Evaluation>,
        /// Alert history id.
        alert_id: i64,
        /// One outcome per channel.
        deliveries: Vec<mediawatch_state::Delivery>,
    },
}

impl Outcome {
    /// The evaluation behind the outcome.
    pub fn evaluation(&self) -> &Evaluation {
        match self {
            Outcome::Quiet { evaluation }
            | Outcome::CoolingDown { evaluation, .. }
            | Outcome::AlreadyFired { evaluation }
            | Outcome::Fired { evaluation, .. } => evaluation,
        }
    }
}

/// The history row of an evaluation of `rule` that fired at `now`.
pub fn alert_record(
    search_id: &str,
    rule: &AlertRule,
    e: &Evaluation,
    now: DateTime<Utc>,
) -> NewAlert {
    NewAlert {
        search_id: search_id.to_string(),
        metric: e.metric.clone(),
        rule_json: serde_json::to_string(rule).unwrap_or_default(),
        window_start: e.window_start,
        window_end: e.window_end,
        observed: e.observed,
        baseline: e.baseline,
        statistic: e.statistic,
        p_value: e.p_value,
        details_json: serde_json::to_string(e).unwrap_or_default(),
        fired_at: now,
    }
}

/// How far back [`AlertsRuntime::redeliver`] looks: an alert older than a
/// day is news no more.
pub const REDELIVERY_HORIZON: chrono::Duration = chrono::Duration::hours(24);

impl From<mediawatch_query::QueryError> for AlertsError {
    fn from(e: mediawatch_query::QueryError) -> Self {
        match e {
            mediawatch_query::QueryError::Index(e) => AlertsError::Index(e),
            mediawatch_query::QueryError::Invalid(m) => AlertsError::Query(m),
            // Evaluated again on the next tick, when an index node answers.
            mediawatch_query::QueryError::Unavailable(m) => AlertsError::Unavailable(m),
        }
    }
}

/// Attempts per channel and alert (first sending and redeliveries, retries
/// included) after which a failing channel is given up on.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 20;

struct Inner {
    queries: Queries,
    state: Arc<dyn StateBackend>,
    config: AlertsConfig,
    configured: Vec<SavedSearchConfig>,
    notifier: Notifier,
}

/// Saved searches, evaluation, notification and history, shared by the
/// alert loop, the API and the CLI. Cheap to clone.
#[derive(Clone)]
pub struct AlertsRuntime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AlertsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsRuntime")
            .field("configured", &self.inner.configured.len())
            .field("notifier", &self.inner.notifier)
            .finish_non_exhaustive()
    }
}

impl AlertsRuntime {
    /// A runtime over `queries` (the query facade, or a
    /// [`mediawatch_index::Index`] for the
    /// local one) and `state` with the config's channels and saved
    /// searches.
    pub fn new(
        queries: impl Into<Queries>,
        state: Arc<dyn StateBackend>,
        config: AlertsConfig,
        saved_searches: Vec<SavedSearchConfig>,
    ) -> Result<Self, AlertsError> {
        let notifier = Notifier::new(&config)?;
        Ok(Self::with_notifier(
            queries,
            state,
            config,
            saved_searches,
            notifier,
        ))
    }

    /// [`AlertsRuntime::new`] with a given notifier (tests shorten retries).
    pub fn with_notifier(
        queries: impl Into<Queries>,
        state: Arc<dyn StateBackend>,
        config: AlertsConfig,
        saved_searches: Vec<SavedSearchConfig>,
        notifier: Notifier,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                queries: queries.into(),
                state,
                config,
                configured: saved_searches,
                notifier,
            }),
        }
    }

    /// The `[alerts]` config.
    pub fn config(&self) -> &AlertsConfig {
        &self.inner.config
    }

    /// Every saved search: the config's first, then the API's by id.
    pub fn searches(&self) -> Result<Vec<SavedSearch>, AlertsError> {
        let mut out: Vec<SavedSearch> = self
            .inner
            .configured
            .iter()
            .map(|s| SavedSearch {
                search: s.clone(),
                origin: Origin::Config,
                created_at: None,
            })
            .collect();
        for r in self.inner.state.saved_searches()? {
            // A config search shadows a stored one with the same id (the
            // file was edited after the API created it).
            if out.iter().any(|s| s.search.id == r.id) {
                continue;
            }
            out.push(from_stored(r)?);
        }
        Ok(out)
    }

    /// One saved search.
    pub fn search(&self, id: &str) -> Result<Option<SavedSearch>, AlertsError> {
        if let Some(s) = self.inner.configured.iter().find(|s| s.id == id) {
            return Ok(Some(SavedSearch {
                search: s.clone(),
                origin: Origin::Config,
                created_at: None,
            }));
        }
        self.inner
            .state
            .saved_search(id)?
            .map(from_stored)
            .transpose()
    }

    /// Validates and stores a new saved search (API). Blocking for a moment
    /// (the query is checked against the index).
    pub fn create_search(
        &self,
        s: SavedSearchConfig,
        now: DateTime<Utc>,
    ) -> Result<SavedSearch, AlertsError> {
        let channels = self.inner.config.channel_ids();
        let mut errors = mediawatch_config::validate_saved_search(&s, "saved search", &channels);
        if self.inner.configured.iter().any(|c| c.id == s.id) {
            errors.push(format!(
                "saved search.id: {:?} is already defined in the config file",
                s.id
            ));
        }
        if errors.is_empty() {
            if let Err(e) = eval::check_query(&self.inner.queries, &s) {
                errors.push(format!("saved search.query: {e}"));
            }
        }
        if !errors.is_empty() {
            return Err(AlertsError::Invalid(errors));
        }
        self.inner.state.add_saved_search(&to_stored(&s, now)?)?;
        Ok(SavedSearch {
            search: s,
            origin: Origin::Api,
            created_at: Some(now),
        })
    }

    /// Deletes an API saved search. Config searches are read-only.
    pub fn delete_search(&self, id: &str) -> Result<(), AlertsError> {
        if self.inner.configured.iter().any(|s| s.id == id) {
            return Err(AlertsError::ReadOnly(id.to_string()));
        }
        if self.inner.state.delete_saved_search(id)? {
            Ok(())
        } else {
            Err(AlertsError::NotFound(id.to_string()))
        }
    }

    /// Alert history.
    pub fn history(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>, AlertsError> {
        Ok(self.inner.state.alerts(filter)?)
    }

    /// Evaluates search `id`'s rule on the window containing `now`,
    /// without recording or notifying (dry run). Blocking.
    pub fn evaluate_dry(&self, id: &str, now: DateTime<Utc>) -> Result<Evaluation, AlertsError> {
        let s = self
            .search(id)?
            .ok_or_else(|| AlertsError::NotFound(id.to_string()))?;
        let rule = s
            .search
            .alert
            .as_ref()
            .ok_or_else(|| AlertsError::NoRule(id.to_string()))?;
        let (start, _) = current_window(rule, now).ok_or_else(|| AlertsError::InvalidRule {
            search: id.to_string(),
            reason: "window out of range".into(),
        })?;
        evaluate_window(&self.inner.queries, &s.search, rule, start, now)
    }

    /// Evaluates one search at `now` (the window containing `now`, and the
    /// one before it while `now` is within one evaluation interval of its
    /// end, so a spike in a window's last minutes is not missed), records
    /// and notifies what fires.
    pub async fn evaluate_search(
        &self,
        search: &SavedSearchConfig,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, AlertsError> {
        let Some(rule) = search.alert.clone() else {
            return Ok(Vec::new());
        };
        let bad = |reason: &str| AlertsError::InvalidRule {
            search: search.id.clone(),
            reason: reason.to_string(),
        };
        let (start, _) = current_window(&rule, now).ok_or_else(|| bad("window out of range"))?;
        let mut starts = Vec::new();
        let interval =
            chrono::Duration::from_std(self.inner.config.interval).unwrap_or(chrono::Duration::MAX);
        if now - start <= interval {
            let w = chrono::Duration::from_std(rule.window).map_err(|_| bad("window too long"))?;
            if let Some(prev) = start.checked_sub_signed(w) {
                starts.push(prev);
            }
        }
        starts.push(start);
        let mut out = Vec::new();
        for ws in starts {
            let (queries, s, r) = (self.inner.queries.clone(), search.clone(), rule.clone());
            let e = tokio::task::spawn_blocking(move || evaluate_window(&queries, &s, &r, ws, now))
                .await
                .map_err(|e| AlertsError::Task(e.to_string()))??;
            out.push(self.act(search, &rule, e, now).await?);
        }
        Ok(out)
    }

    async fn act(
        &self,
        search: &SavedSearchConfig,
        rule: &AlertRule,
        e: Evaluation,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AlertsError> {
        if !e.fires {
            return Ok(Outcome::Quiet {
                evaluation: Box::new(e),
            });
        }
        let state = &self.inner.state;
        if let Some(last) = state.last_alert_at(&search.id)? {
            let cooldown =
                chrono::Duration::from_std(rule.cooldown).unwrap_or(chrono::Duration::MAX);
            if now
                < last
                    .checked_add_signed(cooldown)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            {
                return Ok(Outcome::CoolingDown {
                    evaluation: Box::new(e),
                    last_fired: last,
                });
            }
        }
        let record = alert_record(&search.id, rule, &e, now);
        let Some(alert_id) = state.try_record_alert(&record)? else {
            return Ok(Outcome::AlreadyFired {
                evaluation: Box::new(e),
            });
        };
        tracing::info!(
            search = %search.id, metric = %e.metric, observed = e.observed,
            baseline = e.baseline, p = e.p_value, "alert fired"
        );
        let payload =
            AlertPayload::new(alert_id, search, &e, self.inner.notifier.public_url(), now);
        let deliveries = self.inner.notifier.notify(&rule.channels, &payload).await;
        for d in &deliveries {
            // The alert itself is recorded; a lost delivery row must not
            // make the loop re-fire, so log and go on.
            if let Err(err) = state.record_delivery(alert_id, d) {
                tracing::error!(
                    "recording delivery of alert {alert_id} to {}: {err}",
                    d.channel
                );
            }
        }
        Ok(Outcome::Fired {
            evaluation: Box::new(e),
            alert_id,
            deliveries,
        })
    }

    /// Sends again what recorded alerts still owe: channels of alerts fired
    /// within [`REDELIVERY_HORIZON`] with no successful delivery (the
    /// process stopped between recording and sending, or the channel
    /// failed), until a channel has taken [`MAX_DELIVERY_ATTEMPTS`]
    /// attempts. Returns the alert ids and the new outcomes. This makes
    /// delivery at least once; receivers deduplicate by `alert_id`.
    pub async fn redeliver(&self, now: DateTime<Utc>) -> Vec<(i64, Vec<Delivery>)> {
        let state = &self.inner.state;
        let since = now
            .checked_sub_signed(REDELIVERY_HORIZON)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let pending = match state.alerts(&AlertFilter {
            since: Some(since),
            undelivered: true,
            ..Default::default()
        }) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("alerts: cannot list undelivered alerts: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for record in pending {
            let search = match self.search(&record.alert.search_id) {
                Ok(Some(s)) => s.search,
                // A deleted search's alerts stay in the history unsent.
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(alert = record.id, "redelivery skipped: {e}");
                    continue;
                }
            };
            let prior = |c: &str| {
                record
                    .deliveries
                    .iter()
                    .find(|d| d.channel == c)
                    .map(|d| (d.ok, d.attempts))
            };
            let channels: Vec<String> = search
                .alert
                .as_ref()
                .map(|r| r.channels.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|c| match prior(c) {
                    Some((ok, attempts)) => !ok && attempts < MAX_DELIVERY_ATTEMPTS,
                    None => true,
                })
                .collect();
            if channels.is_empty() {
                continue;
            }
            let payload =
                AlertPayload::from_record(&record, &search, self.inner.notifier.public_url());
            tracing::info!(alert = record.id, channels = ?channels, "sending an alert again");
            let mut deliveries = self.inner.notifier.notify(&channels, &payload).await;
            for d in &mut deliveries {
                d.attempts = d
                    .attempts
                    .saturating_add(prior(&d.channel).map_or(0, |p| p.1));
                if let Err(err) = state.record_delivery(record.id, d) {
                    tracing::error!(
                        "recording delivery of alert {} to {}: {err}",
                        record.id,
                        d.channel
                    );
                }
            }
            out.push((record.id, deliveries));
        }
        out
    }

    /// One pass over every enabled saved search with a rule. A search that
    /// fails to evaluate is logged and skipped; the others go on.
    pub async fn evaluate_all(
        &self,
        now: DateTime<Utc>,
    ) -> Vec<(String, Result<Vec<Outcome>, AlertsError>)> {
        let searches = match self.searches() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("alerts: cannot list saved searches: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for s in searches
            .into_iter()
            .filter(|s| s.search.enabled && s.search.alert.is_some())
        {
            let r = self.evaluate_search(&s.search, now).await;
            if let Err(e) = &r {
                tracing::warn!(search = %s.search.id, "alert evaluation failed: {e}");
            }
            out.push((s.search.id, r));
        }
        out
    }

    /// Evaluates every search each `[alerts] interval` until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let interval = self.inner.config.interval.max(Duration::from_secs(1));
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            // What an earlier pass (or process) recorded but could not
            // deliver goes first.
            let resent = self.redeliver(Utc::now()).await;
            if !resent.is_empty() {
                tracing::info!(alerts = resent.len(), "alerts sent again");
            }
            // A pass is not interrupted midway: notifications of a fired
            // alert go out together with its record.
            let outcomes = self.evaluate_all(Utc::now()).await;
            let fired = outcomes
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok())
                .flatten()
                .filter(|o| matches!(o, Outcome::Fired { .. }))
                .count();
            tracing::debug!(searches = outcomes.len(), fired, "alert pass done");
        }
        tracing::info!("alert loop stopped");
    }
}
