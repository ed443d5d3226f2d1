//! The state store as one interface: crawl state, seen items, source
//! health, near-duplicate clusters, saved searches and alerts, and
//! analysts' corrections, the moderation ledger and article histories. The stages, the API and the alert loop hold an
//! `Arc<dyn StateBackend>`; [`StateStore`] (SQLite) is the implementation
//! shipped, and a PostgreSQL one (the scale-out plan: many ingest workers
//! sharing one state) implements the same trait without touching them.
//!
//! The contract each implementation keeps is the one the SQLite store's
//! tests pin down: `mark_seen` is idempotent; `try_record_alert` records a
//! (search, rule, window) once and answers `None` to every later try;
//! `assign_clusters` gives a document the cluster of the nearest earlier
//! fingerprint within the store's distance, else its own id.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::alerts::{AlertFilter, AlertRecord, Delivery, NewAlert, StoredSearch};
use crate::corrections::{Correction, CorrectionFilter, NewCorrection};
use crate::ledger::SightingFilter;
use crate::{
    ClusterAssignment, CrawlState, PollResult, Result, SeenItem, SourceHealth, StateStore,
};
use mediawatch_core::ledger::{
    ArticleHistory, CommentSighting, NewTracked, RevisitRecord, TrackedArticle,
};

/// Everything the pipeline, the server and the alert loop keep between
/// runs. Blocking calls: each is a few indexed statements.
pub trait StateBackend: Send + Sync {
    /// Where the state lives, for messages: the SQLite file, or the
    /// PostgreSQL URL without its password.
    fn location(&self) -> String;

    /// Validators and schedule of a source (defaults when never polled).
    fn crawl_state(&self, source_id: &str) -> Result<CrawlState>;

    /// Records the outcome of a poll and when the source is next due.
    fn record_poll(
        &self,
        source_id: &str,
        at: DateTime<Utc>,
        latency_ms: u64,
        result: &PollResult,
        next_due: DateTime<Utc>,
    ) -> Result<()>;

    /// Claims, for a cluster scheduler, up to `limit` of `source_ids` that
    /// are due at `now` and not claimed: each claimed source is leased
    /// until `now + lease` or until its poll is recorded
    /// ([`StateBackend::record_poll`] releases the claim), so two
    /// schedulers never hand out the same source twice within its interval,
    /// and a source whose job was lost is claimed again when the lease ends.
    /// Most overdue first.
    fn claim_due(
        &self,
        source_ids: &[&str],
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<String>>;

    /// Takes the poll lock of a source: `false` when another process (a
    /// cluster worker holding a redelivered job of it) is polling it now.
    /// Held until [`StateBackend::unlock_source`] or until the holder's
    /// connection ends (a dead worker's locks go with it).
    fn try_lock_source(&self, source_id: &str) -> Result<bool>;

    /// Releases the poll lock of a source.
    fn unlock_source(&self, source_id: &str) -> Result<()>;

    /// Postpones a source (e.g. a 429 with a long Retry-After) without
    /// touching its counters.
    fn set_next_due(&self, source_id: &str, next_due: DateTime<Utc>) -> Result<()>;

    /// Whether an item of a source is already stored.
    fn is_seen(&self, source_id: &str, item_key: &str) -> Result<bool>;

    /// Which of `keys` (items of one source) are already stored: one call
    /// per poll instead of one per item (a round trip each on PostgreSQL).
    fn seen_keys(&self, source_id: &str, keys: &[&str]) -> Result<HashSet<String>>;

    /// Marks items as stored (after the index committed them). Returns how
    /// many were new; items already marked are left as they were.
    fn mark_seen(&self, items: &[SeenItem], at: DateTime<Utc>) -> Result<u64>;

    /// Number of items marked seen for a source.
    fn seen_count(&self, source_id: &str) -> Result<u64>;

    /// Assigns a document to a near-duplicate cluster and remembers its
    /// fingerprint.
    ///
    /// Candidates are documents whose trend time is within
    /// [`crate::CLUSTER_WINDOW_DAYS`] of `time` and that share at least one
    /// 16-bit band of `simhash` (an indexed lookup per band, at most
    /// [`crate::MAX_CANDIDATES_PER_BAND`] rows each). The nearest candidate within
    /// [`crate::MAX_CLUSTER_DISTANCE`] bits wins (ties: the earlier, then the
    /// smaller id) and the document joins *its* cluster; otherwise the
    /// document's own id starts a new cluster.
    ///
    /// Idempotent: a document seen before keeps its cluster (re-ingesting
    /// never moves it); its stored fingerprint and time are updated so
    /// later copies match the current text.
    fn assign_cluster(
        &self,
        doc_id: &str,
        simhash: u64,
        time: DateTime<Utc>,
    ) -> Result<ClusterAssignment>;

    /// [`StateBackend::assign_cluster`] for many documents in one transaction
    /// (one commit instead of one per document; the pipeline calls this per
    /// batch). Documents are assigned in order, so a later one can join the
    /// cluster of an earlier one in the same batch.
    fn assign_clusters(
        &self,
        docs: &[(&str, u64, DateTime<Utc>)],
    ) -> Result<Vec<ClusterAssignment>>;

    /// The cluster a document was assigned to, if any.
    fn cluster_of(&self, doc_id: &str) -> Result<Option<String>>;

    /// Number of stored fingerprints.
    fn fingerprint_count(&self) -> Result<u64>;

    /// Forgets fingerprints with a trend time before `before` (they can no
    /// longer be cluster candidates of new documents anyway once older than
    /// the window); returns how many were removed. Cluster ids already in
    /// the index are unaffected.
    fn prune_fingerprints(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Health of a source as of `now` (defaults when never polled).
    fn health(&self, source_id: &str, now: DateTime<Utc>) -> Result<SourceHealth>;

    /// Stores a new saved search. Fails with [`crate::StateError::Invalid`] when
    /// the id is taken.
    fn add_saved_search(&self, s: &StoredSearch) -> Result<()>;

    /// Every stored saved search, by id.
    fn saved_searches(&self) -> Result<Vec<StoredSearch>>;

    /// One stored saved search.
    fn saved_search(&self, id: &str) -> Result<Option<StoredSearch>>;

    /// Deletes a stored saved search (its alert history stays). Returns
    /// whether it existed.
    fn delete_saved_search(&self, id: &str) -> Result<bool>;

    /// Enables or disables a stored saved search. Returns whether it exists.
    fn set_saved_search_enabled(&self, id: &str, enabled: bool) -> Result<bool>;

    /// Records an alert unless one with the same (search, metric, window
    /// start) exists. Returns the new row id, or `None` when that window has
    /// already fired (nothing must be sent again).
    fn try_record_alert(&self, a: &NewAlert) -> Result<Option<i64>>;

    /// Records how notifying one channel of alert `alert_id` went
    /// (replacing an earlier outcome for that channel).
    fn record_delivery(&self, alert_id: i64, d: &Delivery) -> Result<()>;

    /// When search `search_id` last fired (for its cooldown).
    fn last_alert_at(&self, search_id: &str) -> Result<Option<DateTime<Utc>>>;

    /// Alerts matching `filter`, newest first, with their deliveries.
    fn alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>>;

    /// Stores a correction (after [`NewCorrection::validate`]) and returns
    /// its id. The text snapshot is cut to `MAX_SNAPSHOT_BYTES`.
    fn add_correction(&self, c: &NewCorrection, at: DateTime<Utc>) -> Result<i64>;

    /// Corrections matching `filter`, oldest first.
    fn corrections(&self, filter: &CorrectionFilter) -> Result<Vec<Correction>>;

    /// Number of stored corrections.
    fn correction_count(&self) -> Result<u64>;

    /// Starts tracking new in-scope articles (first version and check) and
    /// records comments' first sightings; known ones are left as they are.
    fn track(&self, articles: &[NewTracked], comments: &[CommentSighting]) -> Result<()>;

    /// Tracked articles whose next re-check is due at `now`, most overdue
    /// first.
    fn due_revisits(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<TrackedArticle>>;

    /// Claims up to `limit` articles due at `now` for `lease` (their next
    /// due time moves past it), so concurrent workers re-check each once.
    fn claim_revisits(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> Result<Vec<TrackedArticle>>;

    /// Stores one re-check: the check, a new version, validators, the next
    /// due time, deletion, comments seen and gone; in one transaction.
    fn record_revisit(&self, r: &RevisitRecord) -> Result<()>;

    /// A tracked article's versions and checks.
    fn article_history(&self, doc_id: &str) -> Result<Option<ArticleHistory>>;

    /// Comments as the moderation ledger knows them, ordered by id.
    fn comment_sightings(&self, f: &SightingFilter) -> Result<Vec<CommentSighting>>;

    /// Stores analysts' incident edits (a later decision about a pair
    /// replaces the earlier one).
    fn add_incident_links(&self, links: &[crate::IncidentLink]) -> Result<()>;

    /// Every analyst's incident edit, oldest first.
    fn incident_links(&self) -> Result<Vec<crate::IncidentLink>>;
}

impl StateBackend for StateStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn crawl_state(&self, source_id: &str) -> Result<CrawlState> {
        StateStore::crawl_state(self, source_id)
    }

    fn record_poll(
        &self,
        source_id: &str,
        at: DateTime<Utc>,
        latency_ms: u64,
        result: &PollResult,
        next_due: DateTime<Utc>,
    ) -> Result<()> {
        StateStore::record_poll(self, source_id, at, latency_ms, result, next_due)
    }

    fn claim_due(
        &self,
        source_ids: &[&str],
        now: DateTime<Utc>,
        lease: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<String>> {
        StateStore::claim_due(self, source_ids, now, lease, limit)
    }

    /// One process holds an SQLite state: its polls are serialised by its
    /// own scheduler, so the lock is always free.
    fn try_lock_source(&self, _source_id: &str) -> Result<bool> {
        Ok(true)
    }

    fn unlock_source(&self, _source_id: &str) -> Result<()> {
        Ok(())
    }

    fn set_next_due(&self, source_id: &str, next_due: DateTime<Utc>) -> Result<()> {
        StateStore::set_next_due(self, source_id, next_due)
    }

    fn is_seen(&self, source_id: &str, item_key: &str) -> Result<bool> {
        StateStore::is_seen(self, source_id, item_key)
    }

    fn seen_keys(&self, source_id: &str, keys: &[&str]) -> Result<HashSet<String>> {
        StateStore::seen_keys(self, source_id, keys)
    }

    fn mark_seen(&self, items: &[SeenItem], at: DateTime<Utc>) -> Result<u64> {
        StateStore::mark_seen(self, items, at)
    }

    fn seen_count(&self, source_id: &str) -> Result<u64> {
        StateStore::seen_count(self, source_id)
    }

    fn assign_cluster(
        &self,
        doc_id: &str,
        simhash: u64,
        time: DateTime<Utc>,
    ) -> Result<ClusterAssignment> {
        StateStore::assign_cluster(self, doc_id, simhash, time)
    }

    fn assign_clusters(
        &self,
        docs: &[(&str, u64, DateTime<Utc>)],
    ) -> Result<Vec<ClusterAssignment>> {
        StateStore::assign_clusters(self, docs)
    }

    fn cluster_of(&self, doc_id: &str) -> Result<Option<String>> {
        StateStore::cluster_of(self, doc_id)
    }

    fn fingerprint_count(&self) -> Result<u64> {
        StateStore::fingerprint_count(self)
    }

    fn prune_fingerprints(&self, before: DateTime<Utc>) -> Result<u64> {
        StateStore::prune_fingerprints(self, before)
    }

    fn health(&self, source_id: &str, now: DateTime<Utc>) -> Result<SourceHealth> {
        StateStore::health(self, source_id, now)
    }

    fn add_saved_search(&self, s: &StoredSearch) -> Result<()> {
        StateStore::add_saved_search(self, s)
    }

    fn saved_searches(&self) -> Result<Vec<StoredSearch>> {
        StateStore::saved_searches(self)
    }

    fn saved_search(&self, id: &str) -> Result<Option<StoredSearch>> {
        StateStore::saved_search(self, id)
    }

    fn delete_saved_search(&self, id: &str) -> Result<bool> {
        StateStore::delete_saved_search(self, id)
    }

    fn set_saved_search_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        StateStore::set_saved_search_enabled(self, id, enabled)
    }

    fn try_record_alert(&self, a: &NewAlert) -> Result<Option<i64>> {
        StateStore::try_record_alert(self, a)
    }

    fn record_delivery(&self, alert_id: i64, d: &Delivery) -> Result<()> {
        StateStore::record_delivery(self, alert_id, d)
    }

    fn last_alert_at(&self, search_id: &str) -> Result<Option<DateTime<Utc>>> {
        StateStore::last_alert_at(self, search_id)
    }

    fn alerts(&self, filter: &AlertFilter) -> Result<Vec<AlertRecord>> {
        StateStore::alerts(self, filter)
    }

    fn add_correction(&self, c: &NewCorrection, at: DateTime<Utc>) -> Result<i64> {
        StateStore::add_correction(self, c, at)
    }

    fn corrections(&self, filter: &CorrectionFilter) -> Result<Vec<Correction>> {
        StateStore::corrections(self, filter)
    }

    fn correction_count(&self) -> Result<u64> {
        StateStore::correction_count(self)
    }

    fn track(&self, articles: &[NewTracked], comments: &[CommentSighting]) -> Result<()> {
        StateStore::track(self, articles, comments)
    }

    fn due_revisits(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<TrackedArticle>> {
        StateStore::due_revisits(self, now, limit)
    }

    fn claim_revisits(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> Result<Vec<TrackedArticle>> {
        StateStore::claim_revisits(self, now, lease, limit)
    }

    fn record_revisit(&self, r: &RevisitRecord) -> Result<()> {
        StateStore::record_revisit(self, r)
    }

    fn article_history(&self, doc_id: &str) -> Result<Option<ArticleHistory>> {
        StateStore::article_history(self, doc_id)
    }

    fn comment_sightings(&self, f: &SightingFilter) -> Result<Vec<CommentSighting>> {
        StateStore::comment_sightings(self, f)
    }

    fn add_incident_links(&self, links: &[crate::IncidentLink]) -> Result<()> {
        StateStore::add_incident_links(self, links)
    }

    fn incident_links(&self) -> Result<Vec<crate::IncidentLink>> {
        StateStore::incident_links(self)
    }
}
