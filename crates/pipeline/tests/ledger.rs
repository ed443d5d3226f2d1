//! The moderation ledger and article histories end to end, on the demo
//! corpus served on loopback, with a simulated clock: ingest, then
//! re-check at +7 h (after the site was revised: a headline softened, a
//! hateful comment removed, an article deleted), +25 h and +73 h.

use chrono::{Duration, Utc};
use mediawatch_core::ledger::{CheckOutcome, GoneReason};
use mediawatch_core::DocId;
use mediawatch_pipeline::demo::{demo_config, DemoServer};
use mediawatch_pipeline::Pipeline;
use mediawatch_report::ledger::{ledger_report, version_diffs};
use mediawatch_state::SightingFilter;
use tokio_util::sync::CancellationToken;

const OLD_TITLE: &str = "Нови талас миграната у Доњем Пољу: мештани се плаше за своју безбедност";
const NEW_TITLE: &str = "Група миграната прошла кроз Доње Поље: мештани траже више информација";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_comments_edited_headlines_and_deleted_pages_are_on_record() {
    let server = DemoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = server.base().to_string();
    let dir = tempfile::tempdir().unwrap();
    let p = Pipeline::open(demo_config(&base).unwrap(), dir.path()).unwrap();
    let cancel = CancellationToken::new();
    let pass = p.ingest_once(None, &cancel).await.unwrap();
    assert!(pass.iter().all(|r| r.errors == 0), "{pass:?}");
    // The ledger keeps whole seconds.
    let t0 = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let state = p.state().clone();

    // Nothing is due before the first age.
    let r = p.revisit_once(t0, &cancel).await.unwrap();
    assert_eq!(r.checked, 0);
    let tracked = state.due_revisits(t0 + Duration::hours(7), 1000).unwrap();
    // The migration stories whose pages were read are tracked; the
    // controls (heat wave, derby, budget, tourists) are out of scope.
    assert!(tracked.len() >= 20, "{} tracked", tracked.len());
    let id_of = |path: &str| {
        tracked
            .iter()
            .find(|t| t.url.ends_with(path))
            .unwrap_or_else(|| panic!("{path} not tracked"))
            .doc_id
            .clone()
    };
    assert!(!tracked.iter().any(|t| t.url.contains("toplotni-talas")));
    let talas = id_of("/glas-doline/talas-migranata-u-selu.html");
    let kampany = id_of("/alfoldi-hirek/kampany-plakat-invazio.html");
    let before = state
        .comment_sightings(&SightingFilter {
            article: Some(talas.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(before.len(), 3, "{before:#?}");

    // Seven hours later the outlet has softened the headline and removed a
    // hateful comment; the Hungarian campaign story is gone.
    server.revise();
    let at7 = t0 + Duration::hours(7);
    let r = p.revisit_once(at7, &cancel).await.unwrap();
    assert_eq!(r.checked as usize, tracked.len(), "{r:?}");
    assert_eq!((r.changed, r.deleted, r.failed), (1, 1, 0), "{r:?}");
    // No validators were stored at ingest: the others are fetched in full
    // and found unchanged by their hash.
    assert_eq!(r.unchanged as usize, tracked.len() - 2, "{r:?}");
    assert!(r.messages.is_empty(), "{:?}", r.messages);

    let h = state.article_history(&talas).unwrap().unwrap();
    assert_eq!(h.versions.len(), 2);
    assert_eq!(h.versions[0].title, OLD_TITLE);
    assert_eq!(h.versions[1].title, NEW_TITLE);
    assert_ne!(h.versions[0].content_hash, h.versions[1].content_hash);
    assert_eq!(h.versions[1].fetched_at, at7);
    let d = &version_diffs(&h)[0];
    assert!(
        d.title
            .iter()
            .any(|p| p.op == "delete" && p.text.contains("талас")),
        "{d:?}"
    );
    assert!(d.text.is_empty(), "only the headline changed: {d:?}");
    let comments = state
        .comment_sightings(&SightingFilter {
            article: Some(talas.clone()),
            ..Default::default()
        })
        .unwrap();
    let gone: Vec<_> = comments.iter().filter(|c| c.gone_at.is_some()).collect();
    assert_eq!(gone.len(), 1, "{comments:#?}");
    assert_eq!(gone[0].author.as_deref(), Some("Стеван_1958"));
    assert_eq!(
        (gone[0].gone_at, gone[0].gone_reason),
        (Some(at7), Some(GoneReason::Removed))
    );
    assert!(gone[0].gone_fetch.as_deref().unwrap().contains("HTTP 200"));
    assert!(comments
        .iter()
        .filter(|c| c.gone_at.is_none())
        .all(|c| c.last_seen == at7));

    let k = state.article_history(&kampany).unwrap().unwrap();
    assert_eq!(k.article.deleted_at, Some(at7));
    assert_eq!(k.article.deleted_how.as_deref(), Some("HTTP 410"));
    assert_eq!(k.checks.last().unwrap().outcome, CheckOutcome::Deleted);

    // The index serves the new headline under the same id, and keeps the
    // deleted article.
    let doc = p
        .index()
        .get(&DocId::from_stored(talas.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(doc.title, NEW_TITLE);
    assert!(doc.labels.is_some());
    assert!(p
        .index()
        .get(&DocId::from_stored(kampany.clone()))
        .unwrap()
        .is_some());

    // Later ages: conditional GETs (the validators were stored), the
    // deleted article no longer fetched, and after the last age nothing is
    // due any more.
    let r = p
        .revisit_once(t0 + Duration::hours(25), &cancel)
        .await
        .unwrap();
    assert_eq!(r.checked as usize, tracked.len() - 1, "{r:?}");
    assert_eq!(r.not_modified, r.checked, "{r:?}");
    let at73 = t0 + Duration::hours(73);
    let r = p.revisit_once(at73, &cancel).await.unwrap();
    assert_eq!(r.not_modified as usize, tracked.len() - 1, "{r:?}");
    assert!(state
        .due_revisits(t0 + Duration::days(30), 1000)
        .unwrap()
        .is_empty());

    // The ledger: one removal at glas-doline, found by the +7 h fetch;
    // the comments still online at +73 h count as still online.
    let all = state
        .comment_sightings(&SightingFilter {
            tracked_only: true,
            ..Default::default()
        })
        .unwrap();
    let report = ledger_report(&all, None, None, Duration::hours(72), None);
    let glas = report
        .outlets
        .iter()
        .find(|o| o.source == "glas-doline")
        .unwrap();
    assert_eq!((glas.comments, glas.removed), (3, 1), "{glas:?}");
    let median = glas.median_hours_to_removal.unwrap();
    assert!((6.9..=7.1).contains(&median), "{median}");
    assert_eq!(glas.pending, 0);
    let still: u64 = report.total.still_online.values().sum();
    assert!(
        still >= 1,
        "hostile comments still online at 72 h: {report:#?}"
    );
    assert_eq!(report.total.removed, 1);
    server.stop().await;
}

/// A process without the articles in its index (a cluster worker: the
/// index nodes hold them) rebuilds a changed article from its page, so the
/// new headline still reaches the index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_article_is_rebuilt_from_its_page_without_the_index() {
    let server = DemoServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = server.base().to_string();
    let first = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    {
        let p = Pipeline::open(demo_config(&base).unwrap(), first.path()).unwrap();
        p.ingest_once(None, &cancel).await.unwrap();
    }
    // The same state, an empty index.
    let second = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(first.path()).unwrap() {
        let f = f.unwrap();
        let name = f.file_name().to_string_lossy().into_owned();
        if name.starts_with("state") {
            std::fs::copy(f.path(), second.path().join(&name)).unwrap();
        }
    }
    let p = Pipeline::open(demo_config(&base).unwrap(), second.path()).unwrap();
    assert_eq!(p.index().num_docs().unwrap(), 0);
    server.revise();
    let t0 = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let r = p
        .revisit_once(t0 + Duration::hours(7), &cancel)
        .await
        .unwrap();
    assert_eq!(r.changed, 1, "{r:?}");
    let talas = &r.edited[0];
    let doc = p
        .index()
        .get(&DocId::from_stored(talas.clone()))
        .unwrap()
        .expect("rebuilt from the page");
    assert_eq!(doc.title, NEW_TITLE);
    assert_eq!(doc.source_id, "glas-doline");
    assert!(doc.published.is_some(), "the page's own date");
    assert!(doc.labels.is_some());
    // Only the changed article: its comments were all known to the ledger.
    assert_eq!(p.index().num_docs().unwrap(), 1);
    server.stop().await;
}
