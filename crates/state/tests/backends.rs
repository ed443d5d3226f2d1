//! The two state backends behave alike: one script of operations runs on
//! SQLite and on a real PostgreSQL server (started for the test), and both
//! answer the same. Anything the pipeline, the server or the alert loop
//! relies on is in the script, with its own assertions.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mediawatch_core::ledger::{
    ArticleCheck, ArticleVersion, CheckOutcome, CommentIdentity, CommentSighting, GoneReason,
    NewTracked, RevisitRecord, TrackedArticle,
};
use mediawatch_state::{
    AlertFilter, CorrectionFilter, CorrectionVerdict, Delivery, NewAlert, NewCorrection,
    PgStateStore, PollResult, SeenItem, SightingFilter, StateBackend, StateStore, StoredSearch,
};
use mediawatch_testkit::postgres::TempPostgres;

fn t(h: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600 + h * 3600, 0).unwrap()
}

fn seen(src: &str, key: &str) -> SeenItem {
    SeenItem {
        source_id: src.into(),
        item_key: key.into(),
        doc_id: format!("doc-{key}"),
    }
}

/// Runs every operation of the interface and returns what each answered,
/// checking the contract on the way.
fn script(b: &dyn StateBackend) -> Vec<String> {
    let mut out = Vec::new();
    let mut log = |what: &str, v: String| out.push(format!("{what}: {v}"));

    // Crawl state, polls and health.
    assert_eq!(b.crawl_state("a").unwrap(), Default::default());
    b.record_poll(
        "a",
        t(0),
        120,
        &PollResult::Success {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Mon, 01 Dec 2025 10:00:00 GMT".into()),
            items: 3,
            new_items: 3,
        },
        t(1),
    )
    .unwrap();
    b.record_poll("a", t(1), 80, &PollResult::NotModified, t(2))
        .unwrap();
    let fail = PollResult::Failure {
        kind: "http".into(),
        message: "source a: HTTP 503".into(),
    };
    b.record_poll("a", t(2), 0, &fail, t(3)).unwrap();
    b.record_poll("a", t(3), 0, &fail, t(5)).unwrap();
    let cs = b.crawl_state("a").unwrap();
    assert_eq!(cs.etag.as_deref(), Some("\"v1\""));
    assert_eq!(cs.consecutive_failures, 2);
    assert_eq!(cs.next_due, Some(t(5)));
    log("crawl", format!("{cs:?}"));
    b.set_next_due("a", t(9)).unwrap();
    b.set_next_due("new", t(4)).unwrap();
    assert_eq!(b.crawl_state("a").unwrap().next_due, Some(t(9)));

    // Claims (the cluster scheduler): due and unclaimed sources only, most
    // overdue first, each once per lease; a recorded poll releases its
    // claim and the source is claimable again at its next due time.
    let lease = std::time::Duration::from_secs(3600);
    let ids = ["a", "new", "c-never", "d-never"];
    assert_eq!(
        b.claim_due(&ids, t(4), lease, 10).unwrap(),
        ["c-never", "d-never", "new"]
    );
    assert!(
        b.claim_due(&ids, t(4), lease, 10).unwrap().is_empty(),
        "claimed once"
    );
    assert_eq!(
        b.claim_due(&ids, t(6), lease, 1).unwrap(),
        ["c-never"],
        "lease over, limit 1"
    );
    b.record_poll("new", t(6), 10, &PollResult::NotModified, t(7))
        .unwrap();
    assert_eq!(
        b.claim_due(&ids, t(7), lease, 10).unwrap(),
        ["c-never", "d-never", "new"]
    );
    b.record_poll("c-never", t(7), 10, &PollResult::NotModified, t(20))
        .unwrap();
    assert_eq!(
        b.claim_due(&ids, t(9), lease, 10).unwrap(),
        ["d-never", "new", "a"]
    );
    let h = b.health("a", t(4)).unwrap();
    assert_eq!((h.polls, h.failures, h.not_modified), (4, 2, 1));
    assert_eq!(h.failing_since, Some(t(2)));
    assert_eq!(h.median_latency_ms, Some(120));
    log("health", format!("{h:?}"));
    log(
        "health never polled",
        format!("{:?}", b.health("zz", t(4)).unwrap()),
    );

    // Seen items: marked once, counted once.
    let items = [seen("a", "1"), seen("a", "2"), seen("b", "1")];
    assert_eq!(b.mark_seen(&items, t(4)).unwrap(), 3);
    assert_eq!(b.mark_seen(&items[..2], t(5)).unwrap(), 0);
    assert!(b.is_seen("a", "1").unwrap());
    assert!(!b.is_seen("a", "3").unwrap());
    let known = b.seen_keys("a", &["1", "3", "2", "1"]).unwrap();
    let mut known: Vec<&str> = known.iter().map(String::as_str).collect();
    known.sort_unstable();
    assert_eq!(known, ["1", "2"]);
    assert!(b.seen_keys("a", &[]).unwrap().is_empty());
    assert!(b.seen_keys("b", &["2"]).unwrap().is_empty());
    assert_eq!(b.seen_count("a").unwrap(), 2);
    assert_eq!(b.health("a", t(5)).unwrap().items_total, 2);

    // Near-duplicate clusters.
    let base: u64 = 0x0123_4567_89ab_cdef;
    let a1 = b.assign_cluster("d1", base, t(0)).unwrap();
    assert_eq!(a1.cluster_id, "d1");
    let batch = b
        .assign_clusters(&[
            ("d2", base ^ 0b101, t(5)),
            ("d3", !base, t(6)),
            ("d4", !base ^ 1, t(7)),
            ("d1", base, t(0)),
        ])
        .unwrap();
    assert_eq!(batch[0].cluster_id, "d1");
    assert_eq!(batch[0].matched, Some(("d1".to_string(), 2)));
    assert_eq!(batch[1].cluster_id, "d3");
    assert_eq!(
        batch[2].cluster_id, "d3",
        "a later document of a batch joins an earlier one"
    );
    assert!(batch[3].existing);
    // Outside the time window: a new cluster.
    let far = b.assign_cluster("d5", base, t(24 * 30)).unwrap();
    assert_eq!(far.cluster_id, "d5");
    log("clusters", format!("{a1:?} {batch:?} {far:?}"));
    assert_eq!(b.cluster_of("d4").unwrap().as_deref(), Some("d3"));
    assert_eq!(b.cluster_of("nope").unwrap(), None);
    assert_eq!(b.fingerprint_count().unwrap(), 5);
    assert_eq!(b.prune_fingerprints(t(24 * 20)).unwrap(), 4);
    assert_eq!(b.fingerprint_count().unwrap(), 1);

    // Saved searches.
    let s = StoredSearch {
        id: "rs".into(),
        name: "Serbia".into(),
        query: "migranti".into(),
        filters_json: "{\"country\":\"RS\"}".into(),
        rule_json: Some("{\"metric\":\"volume\"}".into()),
        channels_json: "[\"team\"]".into(),
        created_at: t(1),
        enabled: true,
    };
    b.add_saved_search(&s).unwrap();
    assert!(b.add_saved_search(&s).is_err(), "a taken id is refused");
    assert!(b.set_saved_search_enabled("rs", false).unwrap());
    assert!(!b.set_saved_search_enabled("none", false).unwrap());
    let listed = b.saved_searches().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].enabled);
    assert_eq!(b.saved_search("rs").unwrap().unwrap().query, "migranti");
    log("searches", format!("{listed:?}"));

    // Alerts: a window fires once; deliveries replace per channel.
    let alert = |w: i64| NewAlert {
        search_id: "rs".into(),
        metric: "volume".into(),
        rule_json: "{}".into(),
        window_start: t(w),
        window_end: t(w + 24),
        observed: 40.0,
        baseline: 10.0,
        statistic: 5.2,
        p_value: f64::NAN,
        details_json: "{}".into(),
        fired_at: t(w + 3),
    };
    let id1 = b
        .try_record_alert(&alert(0))
        .unwrap()
        .expect("first firing");
    assert_eq!(b.try_record_alert(&alert(0)).unwrap(), None, "same window");
    let id2 = b
        .try_record_alert(&alert(24))
        .unwrap()
        .expect("next window");
    assert!(id2 > id1);
    let d = |ok: bool, attempts: u32| Delivery {
        channel: "team".into(),
        ok,
        attempts,
        error: (!ok).then(|| "timeout".to_string()),
        at: t(30),
    };
    b.record_delivery(id1, &d(false, 1)).unwrap();
    b.record_delivery(id1, &d(true, 2)).unwrap();
    b.record_delivery(id2, &d(false, 3)).unwrap();
    assert_eq!(b.last_alert_at("rs").unwrap(), Some(t(27)));
    let all = b.alerts(&AlertFilter::default()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, id2, "newest first");
    assert_eq!(all[1].deliveries.len(), 1);
    assert!(all[1].deliveries[0].ok);
    let failed = b
        .alerts(&AlertFilter {
            failed_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(failed.iter().map(|a| a.id).collect::<Vec<_>>(), [id2]);
    let window = b
        .alerts(&AlertFilter {
            search_id: Some("rs".into()),
            since: Some(t(20)),
            limit: Some(5),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(window.len(), 1);
    log("alerts", format!("{all:?}"));
    assert!(b.delete_saved_search("rs").unwrap());
    assert!(!b.delete_saved_search("rs").unwrap());

    // Corrections: oldest first, paged, snapshot cut.
    let c = |doc: &str, label: &str| NewCorrection {
        doc_id: doc.into(),
        label: label.into(),
        verdict: CorrectionVerdict::Wrong,
        value: None,
        model_version: "m1".into(),
        model_score: Some(0.75),
        text: "Migranti su talas".repeat(5000),
        lang: Some("sr".into()),
        analyst: Some("ana".into()),
        note: None,
    };
    let c1 = b.add_correction(&c("x", "hate"), t(1)).unwrap();
    let c2 = b
        .add_correction(&c("y", "collective_labelling"), t(2))
        .unwrap();
    assert!(c2 > c1);
    assert!(b.add_correction(&c("x", "no-such-label"), t(3)).is_err());
    assert_eq!(b.correction_count().unwrap(), 2);
    let page = b
        .corrections(&CorrectionFilter {
            after_id: Some(c1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].correction.label, "collective_labelling");
    let by_doc = b
        .corrections(&CorrectionFilter {
            doc_id: Some("x".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_doc.len(), 1);
    assert_eq!(
        by_doc[0].correction.text.len(),
        64 * 1024,
        "the snapshot is cut to 64 KiB"
    );
    log("corrections", format!("{by_doc:?} {page:?}"));
    log("ledger", ledger(b));

    // Analysts' incident edits: a later decision replaces the earlier one.
    let at = t(50);
    b.add_incident_links(&[
        mediawatch_state::IncidentLink::new("s2", "s1", true, at),
        mediawatch_state::IncidentLink::new("s1", "s3", false, at),
    ])
    .unwrap();
    b.add_incident_links(&[mediawatch_state::IncidentLink::new(
        "s1",
        "s2",
        false,
        t(51),
    )])
    .unwrap();
    let links = b.incident_links().unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(
        (links[0].doc_a.as_str(), links[0].doc_b.as_str()),
        ("s1", "s3")
    );
    assert!(!links[1].together, "the split replaced the merge");
    let bad = mediawatch_state::IncidentLink {
        doc_b: "s1".into(),
        ..mediawatch_state::IncidentLink::new("s1", "s9", true, at)
    };
    assert!(b.add_incident_links(&[bad]).is_err());
    log("incident links", format!("{links:?}"));
    out
}

// The moderation ledger and article history.

fn comment(id: &str, article: &str, flags: u8) -> CommentSighting {
    CommentSighting {
        comment_id: id.into(),
        article_id: article.into(),
        source_id: "s".into(),
        url: format!("https://a/{article}#{id}"),
        author: Some("Ana".into()),
        text: format!("text of {id}"),
        posted: None,
        content_hash: mediawatch_core::ledger::content_hash("", id),
        identity: CommentIdentity::Hash,
        flags,
        evidence: None,
        model_version: Some("m".into()),
        first_seen: t(0),
        last_seen: t(0),
        gone_at: None,
        gone_reason: None,
        gone_fetch: None,
    }
}

fn article(id: &str) -> NewTracked {
    NewTracked {
        article: TrackedArticle {
            doc_id: id.into(),
            source_id: "s".into(),
            url: format!("https://a/{id}"),
            first_seen: t(0),
            stage: 0,
            next_due: Some(t(6)),
            etag: None,
            last_modified: None,
            deleted_at: None,
            deleted_how: None,
        },
        version: ArticleVersion {
            n: 1,
            fetched_at: t(0),
            content_hash: "h1".into(),
            title: "Old headline".into(),
            text: "Body.".into(),
        },
    }
}

/// The ledger's life cycle through the trait, on any backend.
fn ledger(s: &dyn StateBackend) -> String {
    s.track(
        &[article("a1")],
        &[comment("c1", "a1", 2), comment("c2", "a1", 0)],
    )
    .unwrap();
    // Tracking again (an edited article re-sent to the index) keeps the
    // first record.
    let mut again = article("a1");
    again.version.title = "Changed".into();
    s.track(&[again], &[comment("c1", "a1", 0)]).unwrap();
    assert!(s.due_revisits(t(5), 10).unwrap().is_empty());
    let due = s.due_revisits(t(7), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].stage, due[0].next_due), (0, Some(t(6))));
    // A claim hands each due article to one worker for the lease.
    let claimed = s
        .claim_revisits(t(7), chrono::Duration::hours(1), 10)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].doc_id, "a1");
    assert!(s
        .claim_revisits(t(7), chrono::Duration::hours(1), 10)
        .unwrap()
        .is_empty());
    assert!(s.due_revisits(t(7), 10).unwrap().is_empty(), "leased");
    s.record_revisit(&RevisitRecord {
        doc_id: "a1".into(),
        check: ArticleCheck {
            at: t(7),
            status: Some(200),
            outcome: CheckOutcome::Changed,
            content_hash: Some("h2".into()),
            note: None,
        },
        new_version: Some(ArticleVersion {
            n: 0,
            fetched_at: t(7),
            content_hash: "h2".into(),
            title: "New headline".into(),
            text: "Body.".into(),
        }),
        etag: Some("\"v2\"".into()),
        last_modified: None,
        next_due: Some(t(24)),
        deleted: None,
        comments_seen: vec!["c2".into()],
        comments_gone: vec!["c1".into()],
        gone_reason: GoneReason::Removed,
    })
    .unwrap();
    let h = s.article_history("a1").unwrap().expect("tracked");
    assert_eq!(h.article.stage, 1);
    assert_eq!(h.article.etag.as_deref(), Some("\"v2\""));
    assert_eq!(h.versions.len(), 2);
    assert_eq!(
        (h.versions[0].n, h.versions[0].title.as_str()),
        (1, "Old headline")
    );
    assert_eq!(
        (h.versions[1].n, h.versions[1].title.as_str()),
        (2, "New headline")
    );
    assert_eq!(
        h.checks.iter().map(|c| c.outcome).collect::<Vec<_>>(),
        [CheckOutcome::First, CheckOutcome::Changed]
    );
    let all = s
        .comment_sightings(&SightingFilter {
            tracked_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2);
    let c1 = &all[0];
    assert_eq!(
        (c1.comment_id.as_str(), c1.flags),
        ("c1", 2),
        "first record kept"
    );
    assert_eq!(c1.gone_at, Some(t(7)));
    assert_eq!(c1.gone_reason, Some(GoneReason::Removed));
    assert!(c1.gone_fetch.as_deref().unwrap().contains("HTTP 200"));
    assert_eq!((all[1].last_seen, all[1].gone_at), (t(7), None));
    // Deleted at the next check: no further checks.
    s.record_revisit(&RevisitRecord {
        doc_id: "a1".into(),
        check: ArticleCheck {
            at: t(25),
            status: Some(410),
            outcome: CheckOutcome::Deleted,
            content_hash: None,
            note: None,
        },
        new_version: None,
        etag: None,
        last_modified: None,
        next_due: None,
        deleted: Some("HTTP 410".into()),
        comments_seen: vec![],
        comments_gone: vec!["c1".into(), "c2".into()],
        gone_reason: GoneReason::ArticleDeleted,
    })
    .unwrap();
    let h = s.article_history("a1").unwrap().unwrap();
    assert_eq!(h.article.deleted_at, Some(t(25)));
    assert_eq!(h.article.next_due, None);
    assert_eq!(h.article.etag.as_deref(), Some("\"v2\""), "validators kept");
    let all = s.comment_sightings(&SightingFilter::default()).unwrap();
    assert_eq!(all[0].gone_at, Some(t(7)), "the first removal stands");
    assert_eq!(all[1].gone_reason, Some(GoneReason::ArticleDeleted));
    assert!(s.due_revisits(t(1000), 10).unwrap().is_empty());
    assert!(s.article_history("nope").unwrap().is_none());
    // Untracked articles' comments are left out when asked.
    s.track(&[], &[comment("c3", "untracked", 0)]).unwrap();
    let f = SightingFilter {
        tracked_only: true,
        ..Default::default()
    };
    assert_eq!(s.comment_sightings(&f).unwrap().len(), 2);
    let page = s
        .comment_sightings(&SightingFilter {
            after: Some("c1".into()),
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page[0].comment_id, "c2");
    format!("{h:?} {all:?}")
}

#[test]
fn sqlite_and_postgres_answer_alike() {
    let sqlite = StateStore::in_memory().unwrap();
    let expected = script(&sqlite);
    let Some(server) = TempPostgres::start() else {
        return;
    };
    let pg = PgStateStore::connect(&server.url()).unwrap();
    let got = script(&pg);
    for (e, g) in expected.iter().zip(&got) {
        assert_eq!(e, g);
    }
    assert_eq!(expected.len(), got.len());
    // Opening again finds the tables (no error creating them twice).
    let again = PgStateStore::connect(&server.url()).unwrap();
    assert_eq!(again.correction_count().unwrap(), 2);
}

/// A source's poll lock is exclusive across connections (two workers)
/// and released by unlocking or by the holder's connection closing (a
/// dead worker); SQLite's, for one process, is always free.
#[test]
fn source_poll_locks_are_exclusive_across_workers() {
    let sqlite = StateStore::in_memory().unwrap();
    assert!(sqlite.try_lock_source("a").unwrap());
    assert!(sqlite.try_lock_source("a").unwrap());
    let Some(server) = TempPostgres::start() else {
        return;
    };
    let w1 = PgStateStore::connect(&server.url()).unwrap();
    let w2 = PgStateStore::connect(&server.url()).unwrap();
    assert!(w1.try_lock_source("a").unwrap());
    assert!(
        !w2.try_lock_source("a").unwrap(),
        "held by the other worker"
    );
    assert!(w2.try_lock_source("b").unwrap(), "another source is free");
    w1.unlock_source("a").unwrap();
    assert!(w2.try_lock_source("a").unwrap());
    drop(w2);
    // w2's connection is gone: its locks with it.
    let w3 = PgStateStore::connect(&server.url()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !w3.try_lock_source("a").unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "a dead worker's lock stayed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        w1.try_lock_source("b").unwrap(),
        "released with w2's connection"
    );
}

/// Calls from async tasks work (they run off the runtime's threads), and
/// a server killed and restarted mid-run is reconnected to: callers wait,
/// then go on, and nothing stored before is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_run_is_waited_for() {
    let Some(mut server) = TempPostgres::start() else {
        return;
    };
    let pg: Arc<dyn StateBackend> = Arc::new(PgStateStore::connect(&server.url()).unwrap());
    pg.mark_seen(&[seen("a", "1")], t(0)).unwrap();
    server.kill();
    let writer = {
        let pg = pg.clone();
        tokio::spawn(async move { pg.mark_seen(&[seen("a", "2")], t(1)) })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    server.restart();
    assert_eq!(writer.await.unwrap().unwrap(), 1);
    assert!(pg.is_seen("a", "1").unwrap());
    assert_eq!(pg.seen_count("a").unwrap(), 2);
}

/// `migrate-state`: a SQLite state copied into PostgreSQL reads back the
/// same; the copy refuses a target that already holds state; ids handed
/// out afterwards follow the copied ones.
#[test]
fn sqlite_state_migrates_to_postgres() {
    let Some(server) = TempPostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let sqlite = StateStore::open(&path).unwrap();
    script(&sqlite);
    sqlite.mark_seen(&[seen("c", "9")], t(40)).unwrap();
    let pg = PgStateStore::connect(&server.url()).unwrap();
    let report = mediawatch_state::sqlite_to_postgres(&path, &pg).unwrap();
    let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
    assert!(rows > 10, "{report:?}");
    let same = |b: &dyn StateBackend| {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            b.health("a", t(40)).unwrap(),
            b.crawl_state("new").unwrap(),
            b.seen_count("c").unwrap(),
            b.cluster_of("d5").unwrap(),
            b.saved_searches().unwrap(),
            b.alerts(&AlertFilter::default()).unwrap(),
            b.corrections(&CorrectionFilter::default()).unwrap(),
            b.fingerprint_count().unwrap(),
        ) + &format!(
            "{:?} {:?}",
            b.article_history("a1").unwrap(),
            b.comment_sightings(&SightingFilter::default()).unwrap()
        ) + &format!("{:?}", b.incident_links().unwrap())
    };
    assert_eq!(same(&sqlite), same(&pg));
    let err = mediawatch_state::sqlite_to_postgres(&path, &pg).unwrap_err();
    assert!(err.to_string().contains("already holds"), "{err}");
    let before = pg.correction_count().unwrap();
    let c = NewCorrection {
        doc_id: "z".into(),
        label: "hate".into(),
        verdict: CorrectionVerdict::Correct,
        value: None,
        model_version: "m1".into(),
        model_score: None,
        text: "x".into(),
        lang: None,
        analyst: None,
        note: None,
    };
    let id = pg.add_correction(&c, t(50)).unwrap();
    let max_copied = sqlite
        .corrections(&CorrectionFilter::default())
        .unwrap()
        .iter()
        .map(|c| c.id)
        .max()
        .unwrap();
    assert!(id > max_copied);
    assert_eq!(pg.correction_count().unwrap(), before + 1);
}
