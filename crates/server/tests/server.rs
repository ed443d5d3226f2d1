//! The server over a real fixture: a tantivy index and a SQLite state store
//! in a temp dir, served on a loopback port, driven over HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mediawatch_core::{
    CueType, Document, EvidenceSpan, HateClass, Labels, SourceMeta, SourceScope,
};
use mediawatch_index::Index;
use mediawatch_server::security::WebOptions;
use mediawatch_server::AppState;
use mediawatch_state::StateStore;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-0123456789abcdef";
const XSS_SCRIPT: &str = "<script>alert(1)</script>";
const XSS_IMG: &str = "\"><img src=x onerror=alert(1)>";
const XSS_URL: &str = "javascript:alert(1)";

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

fn sources() -> Vec<SourceMeta> {
    vec![
        SourceMeta {
            name: "Daily News".into(),
            audience: vec!["tabloid".into()],
            reach: Some(1000),
            ..mediawatch_testkit::source("daily")
        },
        SourceMeta {
            name: format!("Evil {XSS_SCRIPT} {XSS_IMG}"),
            country: "BA".into(),
            scope: SourceScope::Local,
            audience: vec![XSS_IMG.into()],
            ..mediawatch_testkit::source("evil")
        },
    ]
}

fn labels(collective: f32, text: &str, cue: &str) -> Labels {
    let mut l = Labels {
        model_version: "lexicon-test".into(),
        ..Default::default()
    };
    l.relevance.score = 0.9;
    l.collective_labelling.score = collective;
    l.frame.threat = collective;
    l.hate.score = if collective > 0.5 { 0.8 } else { 0.1 };
    l.hate.class = if collective > 0.5 {
        HateClass::Hate
    } else {
        HateClass::None
    };
    if let Some(start) = text.find(cue) {
        l.collective_labelling.spans.push(EvidenceSpan {
            start,
            end: start + cue.len(),
            cue: cue.into(),
            cue_type: Some(CueType::WaterMetaphor),
        });
        // Who voices it, as the classify stage would say: a sentence with
        // "said" is a quote.
        if collective > 0.5 {
            l.attributions.push(mediawatch_core::Attribution {
                start,
                end: start + cue.len(),
                cue: cue.into(),
                role: if text.contains("said") {
                    mediawatch_core::SpeakerRole::Quoted
                } else {
                    mediawatch_core::SpeakerRole::Outlet
                },
                speaker: None,
                targets: vec!["migrants".into()],
            });
        }
    }
    l
}

fn doc(
    url: &str,
    source: &str,
    title: &str,
    text: &str,
    when: DateTime<Utc>,
    collective: f32,
) -> Document {
    Document {
        author: Some(format!("Reporter {XSS_IMG}")),
        ..mediawatch_testkit::doc(url)
            .source(source)
            .title(title)
            .text(text)
            .published(when)
            .fetched(when)
            .lang("en")
            .labels(labels(collective, text, "wave"))
            .build()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    base: String,
    stop: CancellationToken,
    docs: Vec<Document>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn fixture(web: WebOptions) -> Fixture {
    fixture_with(web, None).await
}

/// With `saved`, alerts are set up with these saved searches.
async fn fixture_with(
    web: WebOptions,
    saved: Option<Vec<mediawatch_config::SavedSearchConfig>>,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::open_or_create(&dir.path().join("index")).unwrap();
    let state = StateStore::open(&dir.path().join("state.sqlite")).unwrap();
    let srcs = sources();
    let docs = vec![
        doc(
            "https://daily.example/1",
            "daily",
            "A wave of migrants, says the mayor",
            "Migrants arrive in a wave at the border, the mayor said.\n\nOthers disagree.",
            t(2026, 1, 10),
            0.9,
        ),
        doc(
            "https://daily.example/2",
            "daily",
            "Refugee family opens a bakery",
            "Amina and her family, refugees from Syria, opened a bakery; migrants work there.",
            t(2026, 2, 3),
            0.1,
        ),
        doc(
            XSS_URL,
            "evil",
            &format!("Migrants {XSS_SCRIPT} title {XSS_IMG}"),
            &format!("Migrants body {XSS_SCRIPT} and {XSS_IMG} and a wave {XSS_URL}"),
            t(2026, 2, 20),
            0.7,
        ),
    ];
    let w = index.writer(20_000_000).unwrap();
    for d in &docs {
        let src = srcs.iter().find(|s| s.id == d.source_id).unwrap();
        w.upsert(d.clone(), src).unwrap();
    }
    w.commit().unwrap();
    w.close().unwrap();
    ledger_records(&state, &docs);
    let state = Arc::new(state);
    let alerts = saved.map(|searches| {
        mediawatch_alerts::AlertsRuntime::new(
            index.clone(),
            state.clone(),
            mediawatch_config::AlertsConfig::default(),
            searches,
        )
        .unwrap()
    });
    let app = AppState {
        backend: Arc::new(index),
        state,
        sources: Arc::new(srcs),
        unhealthy_after: chrono::Duration::days(2),
        web,
        alerts,
        metrics: Some(Arc::new(|| "# fixture metrics\n# EOF\n".to_string())),
        revisit_final_age: chrono::Duration::hours(72),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(mediawatch_server::serve_on(listener, app, stop.clone()));
    Fixture {
        _dir: dir,
        base: format!("http://{addr}"),
        stop,
        docs,
    }
}

/// The moderation ledger of the fixture: the daily's wave story tracked,
/// its headline edited at +6 h and one of its two comments (a hostile
/// one) removed; the hostile site's page tracked with a comment carrying
/// markup, then deleted.
fn ledger_records(state: &StateStore, docs: &[Document]) {
    use mediawatch_core::ledger::*;
    let at = |h: i64| t(2026, 1, 10) + chrono::Duration::hours(h);
    let track = |d: &Document| NewTracked {
        article: TrackedArticle {
            doc_id: d.id.to_string(),
            source_id: d.source_id.clone(),
            url: d.url.clone(),
            first_seen: at(0),
            stage: 0,
            next_due: Some(at(6)),
            etag: None,
            last_modified: None,
            deleted_at: None,
            deleted_how: None,
        },
        version: ArticleVersion {
            n: 1,
            fetched_at: at(0),
            content_hash: content_hash(&d.title, &d.text),
            title: d.title.clone(),
            text: d.text.clone(),
        },
    };
    let comment = |d: &Document, n: u32, text: &str, flags: u8| CommentSighting {
        comment_id: format!("{}-c{n}", d.id),
        article_id: d.id.to_string(),
        source_id: d.source_id.clone(),
        url: format!("{}#comment-{n}", d.url),
        author: Some(format!("reader{n}")),
        text: text.to_string(),
        posted: None,
        content_hash: content_hash("", text),
        identity: CommentIdentity::Hash,
        flags,
        evidence: text.split_whitespace().last().map(str::to_string),
        model_version: Some("fixture".into()),
        first_seen: at(0),
        last_seen: at(0),
        gone_at: None,
        gone_reason: None,
        gone_fetch: None,
    };
    let hate = 1 << 1;
    state
        .track(
            &[track(&docs[0]), track(&docs[2])],
            &[
                comment(&docs[0], 1, "Send them all back, they are vermin", hate),
                comment(&docs[0], 2, "Welcome to our town", 0),
                comment(&docs[2], 1, &format!("A reader says {XSS_SCRIPT}"), hate),
            ],
        )
        .unwrap();
    let check = |h: i64, status: u16, outcome: CheckOutcome| ArticleCheck {
        at: at(h),
        status: Some(status),
        outcome,
        content_hash: None,
        note: None,
    };
    state
        .record_revisit(&RevisitRecord {
            doc_id: docs[0].id.to_string(),
            check: check(6, 200, CheckOutcome::Changed),
            new_version: Some(ArticleVersion {
                n: 0,
                fetched_at: at(6),
                content_hash: content_hash("Migrants arrive, says the mayor", &docs[0].text),
                title: "Migrants arrive, says the mayor".into(),
                text: docs[0].text.clone(),
            }),
            etag: None,
            last_modified: None,
            next_due: Some(at(72)),
            deleted: None,
            comments_seen: vec![format!("{}-c2", docs[0].id)],
            comments_gone: vec![format!("{}-c1", docs[0].id)],
            gone_reason: GoneReason::Removed,
        })
        .unwrap();
    state
        .record_revisit(&RevisitRecord {
            doc_id: docs[2].id.to_string(),
            check: check(6, 410, CheckOutcome::Deleted),
            new_version: None,
            etag: None,
            last_modified: None,
            next_due: None,
            deleted: Some("HTTP 410".into()),
            comments_seen: vec![],
            comments_gone: vec![format!("{}-c1", docs[2].id)],
            gone_reason: GoneReason::ArticleDeleted,
        })
        .unwrap();
}

fn with_token() -> WebOptions {
    WebOptions {
        token: Some(TOKEN.into()),
        ..Default::default()
    }
}

async fn get(f: &Fixture, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = reqwest::get(format!("{}{path}", f.base)).await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn all_pages(f: &Fixture) -> Vec<String> {
    let id = f.docs[2].id.as_str();
    vec![
        "/search".into(),
        "/search?q=migrants".into(),
        "/search?q=migrants&sort=date&collapse=1&country=BA".into(),
        format!("/documents/{id}"),
        format!("/documents/{}", f.docs[0].id.as_str()),
        "/trends?q=migrants&compare=wave&compare=bakery&by=&interval=month&label=hate".into(),
        "/trends?by=source".into(),
        "/terms?from=2026-02-01&to=2026-02-28".into(),
        "/audience?min_documents=1".into(),
        "/solutions?min_score=0".into(),
        "/sources".into(),
        "/alerts".into(),
        "/ledger".into(),
        "/ledger?source=daily&from=2026-01-01&to=2026-01-31&around=2026-01-05".into(),
        "/incidents".into(),
        "/incidents?min_outlets=1&from=2026-01-01".into(),
        "/speakers".into(),
        "/speakers?q=country:RS&from=2026-01-01&to=2026-03-01".into(),
    ]
}

#[tokio::test]
async fn every_page_answers_with_its_contract() {
    let f = fixture(with_token()).await;
    let id0 = f.docs[0].id.as_str().to_string();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "/search?q=migrants".into(),
            vec![
                "<form id=\"search-form\"",
                "<input id=\"q\" name=\"q\"",
                "id=\"search-submit\"",
                "<ol id=\"hits\"",
                "<li class=\"hit\">",
                "class=\"hit-title\" href=\"/documents/",
                "class=\"hit-meta\"",
                "class=\"hit-snippet\"",
                "<mark>",
                "class=\"badge badge-collective_labelling\" title=\"collective_labelling: 0.90\"",
                "id=\"facets\"",
                // Counts over every match: two from RS, one from BA, two
                // with collective labelling (scores 0.9 and 0.7).
                "&amp;country=RS\">RS</a> <span class=\"count\">2</span>",
                "&amp;country=BA\">BA</a> <span class=\"count\">1</span>",
                ">collective labelling</a> <span class=\"count\">2</span>",
                "id=\"hit-count\"",
                "id=\"export-csv\" href=\"/api/export?q=migrants&amp;format=csv\"",
                "id=\"export-jsonl\"",
                "id=\"export-html\"",
            ],
        ),
        (
            format!("/documents/{id0}"),
            vec![
                "<h1 id=\"doc-title\">A wave of migrants, says the mayor</h1>",
                "id=\"doc-meta\"",
                "id=\"doc-text\"",
                "<mark class=\"evidence\" data-label=\"collective_labelling\" data-cue=\"wave\"",
                "<table id=\"doc-labels\"",
                "<form id=\"correction-form\"",
                "id=\"correction-result\"",
                "id=\"token\"",
                "<section id=\"history\"",
                "<table id=\"history-checks\"",
                "<tr data-outcome=\"changed\">",
                "<div class=\"diff\" data-from=\"1\" data-to=\"2\">",
                "<del>A</del><ins>Migrants</ins>",
                "id=\"history-html\"",
            ],
        ),
        (
            "/incidents?min_outlets=1".into(),
            vec![
                "<form id=\"incidents-form\"",
                "<form id=\"incident-merge\"",
                "<section class=\"incident\" data-incident=\"inc-",
                "<table class=\"incident-outlets\">",
                "<input type=\"checkbox\" class=\"merge-pick\"",
            ],
        ),
        (
            "/speakers".into(),
            vec![
                "<form id=\"speakers-form\"",
                "<table id=\"speakers\"",
                "<tr data-source=\"all\">",
                "<td class=\"role-quoted\">1 (",
                "<td class=\"role-outlet\">1 (",
            ],
        ),
        (
            "/ledger?around=2026-01-05".into(),
            vec![
                "<form id=\"ledger-form\"",
                "<table id=\"ledger\"",
                // The daily: two comments, one hostile, removed.
                "<tr data-source=\"daily\"><td>Daily News</td><td class=\"comments\">2</td><td>1</td><td class=\"removed\">1 (50%)</td>",
                "<table id=\"ledger-comparison\"",
                "id=\"evidence-html\" href=\"/api/ledger/evidence?format=html\"",
            ],
        ),
        (
            "/trends?q=migrants&compare=wave&interval=week".into(),
            vec![
                "<svg id=\"trend-chart\"",
                "data-src=\"/api/report?q=migrants&amp;compare=wave&amp;interval=week\"",
                "id=\"chart-tooltip\"",
                "id=\"chart-legend\"",
                "id=\"export-csv\"",
            ],
        ),
        (
            "/terms?from=2026-02-01&to=2026-02-28".into(),
            vec!["<table id=\"terms\""],
        ),
        (
            "/audience?min_documents=1".into(),
            vec!["<table id=\"audience\"", "Daily News"],
        ),
        (
            "/solutions?min_score=0".into(),
            vec!["<ol id=\"solutions\">", "<li class=\"hit\">"],
        ),
        (
            "/sources".into(),
            vec!["<table id=\"sources\"", "Daily News", "never"],
        ),
        (
            "/alerts".into(),
            vec!["id=\"saved-searches\"", "id=\"alert-history\""],
        ),
    ];
    for (path, needles) in cases {
        let (status, headers, body) = get(&f, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"),
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        for n in needles {
            assert!(body.contains(n), "{path} lacks {n:?}:\n{body}");
        }
        assert!(!body.contains("<script>"), "{path} has an inline script");
    }
    // `/` redirects to the search page.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(format!("{}/", f.base)).send().await.unwrap();
    assert!(r.status().is_redirection());
    assert_eq!(r.headers()["location"], "/search");
    // Assets are served with long cache lifetimes.
    let (status, headers, js) = get(&f, "/assets/dashboard.js").await;
    assert_eq!(status, 200);
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));
    assert!(js.contains("data-rendered"));
    let (status, _, css) = get(&f, "/assets/dashboard.css").await;
    assert_eq!(status, 200);
    assert!(css.contains("#trend-chart"));
}

#[tokio::test]
async fn ledger_evidence_and_history_over_the_api() {
    let f = fixture(WebOptions::default()).await;
    let (status, _, body) = get(&f, "/api/ledger").await;
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["truncated"], false);
    assert_eq!(v["total"]["comments"], 3);
    assert_eq!(v["total"]["removed"], 1);
    assert_eq!(v["total"]["with_article_deleted"], 1);
    assert_eq!(v["total"]["median_hours_to_removal"], 6.0);
    let daily = &v["outlets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["source"] == "daily")
        .unwrap();
    assert_eq!(daily["hostile_removed"], 1);
    assert_eq!(daily["pending"], 1, "seen once, not yet at 72 h");
    let (status, _, body) = get(&f, "/api/ledger?around=nope").await;
    assert_eq!(status, 400);
    assert!(body.contains("around"), "{body}");
    let (status, _, body) = get(&f, "/api/ledger?sauce=x").await;
    assert_eq!(status, 400, "{body}");

    // The evidence pack: hostile comments, every field, markup inert.
    let (status, headers, csv) = get(&f, "/api/ledger/evidence").await;
    assert_eq!(status, 200, "{csv}");
    assert_eq!(headers["x-mediawatch-truncated"], "false");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let head = rows.headers().unwrap().clone();
    for col in [
        "comment_url",
        "label",
        "evidence",
        "content_sha256",
        "first_seen",
        "last_seen",
        "gone_at",
    ] {
        assert!(head.iter().any(|h| h == col), "{col} missing: {head:?}");
    }
    let recs: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 2, "hostile only: {csv}");
    let (status, _, all) = get(&f, "/api/ledger/evidence?comments=all&source=daily").await;
    assert_eq!(status, 200);
    assert_eq!(all.lines().count(), 3, "{all}");
    let (status, headers, html) = get(&f, "/api/ledger/evidence?format=html").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(!html.contains(XSS_SCRIPT), "markup must be escaped");
    assert!(html.contains("<mark>vermin</mark>"), "{html}");
    let (status, _, body) = get(&f, "/api/ledger/evidence?format=pdf").await;
    assert_eq!(status, 400);
    assert!(body.contains("format"), "{body}");

    // The history: versions with a diff, checks, deletion.
    let id0 = f.docs[0].id.as_str();
    let (status, _, body) = get(&f, &format!("/api/documents/{id0}/history")).await;
    assert_eq!(status, 200, "{body}");
    let h = json(&body);
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);
    assert_eq!(h["versions"][1]["title"], "Migrants arrive, says the mayor");
    assert_eq!(h["diffs"][0]["title"][0]["op"], "delete");
    assert_eq!(h["checks"][1]["outcome"], "changed");
    let id2 = f.docs[2].id.as_str();
    let (_, _, body) = get(&f, &format!("/api/documents/{id2}/history")).await;
    assert_eq!(json(&body)["article"]["deleted_how"], "HTTP 410");
    let (status, _, page) = get(&f, &format!("/api/documents/{id2}/history?format=html")).await;
    assert_eq!(status, 200);
    assert!(page.contains("<b>Deleted</b>") && !page.contains(XSS_SCRIPT));
    let (status, _, csv) = get(&f, &format!("/api/documents/{id0}/history?format=csv")).await;
    assert_eq!(status, 200);
    let fetches = csv::Reader::from_reader(csv.as_bytes()).records().count();
    assert_eq!(fetches, 2, "two fetches: {csv}");
    let id1 = f.docs[1].id.as_str();
    let (status, _, body) = get(&f, &format!("/api/documents/{id1}/history")).await;
    assert_eq!(status, 404);
    assert!(body.contains("not tracked"), "{body}");
}

async fn post_json(f: &Fixture, path: &str, body: serde_json::Value, token: bool) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(format!("{}{path}", f.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    if token {
        r = r.bearer_auth(TOKEN);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn incidents_group_merge_and_split_over_the_api() {
    let f = fixture(with_token()).await;
    let (status, _, body) = get(&f, "/api/incidents?min_outlets=1").await;
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["stories"], 3, "{v:#}");
    assert_eq!(
        v["incidents"].as_array().unwrap().len(),
        3,
        "three separate stories: {v:#}"
    );
    let (status, _, body) = get(&f, "/api/incidents?threshold=2").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("threshold"), "{body}");

    let (a, b) = (f.docs[0].id.to_string(), f.docs[2].id.to_string());
    let merge = serde_json::json!({ "doc_ids": [a, b], "analyst": "ana" });
    let (status, _) = post_json(&f, "/api/incidents/merge", merge.clone(), false).await;
    assert!(status == 401 || status == 403, "{status}");
    let (status, body) = post_json(&f, "/api/incidents/merge", merge, true).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(json(&body)["links"], 1);
    let (_, _, body) = get(&f, "/api/incidents").await;
    let v = json(&body);
    let incs = v["incidents"].as_array().unwrap();
    assert_eq!(incs.len(), 1, "merged across outlets: {v:#}");
    assert_eq!(incs[0]["outlets"].as_array().unwrap().len(), 2);
    assert_eq!(incs[0]["members"].as_array().unwrap().len(), 2);
    // The page offers to split each story out.
    let (_, _, page) = get(&f, "/incidents").await;
    assert!(page.contains("class=\"incident-split\""), "{page}");

    let split = serde_json::json!({ "doc_id": b, "from": [a] });
    let (status, body) = post_json(&f, "/api/incidents/split", split, true).await;
    assert_eq!(status, 201, "{body}");
    let (_, _, body) = get(&f, "/api/incidents").await;
    assert!(
        json(&body)["incidents"].as_array().unwrap().is_empty(),
        "{body}"
    );

    let one = serde_json::json!({ "doc_ids": [a] });
    let (status, body) = post_json(&f, "/api/incidents/merge", one, true).await;
    assert_eq!(status, 400, "{body}");
    let unknown = serde_json::json!({ "doc_ids": [a, "nope"] });
    let (status, body) = post_json(&f, "/api/incidents/merge", unknown, true).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn speakers_split_hostility_by_role() {
    let f = fixture(WebOptions::default()).await;
    let (status, _, body) = get(&f, "/api/speakers").await;
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["total"]["documents"], 3, "{v:#}");
    assert_eq!(v["total"]["hostile_documents"], 2);
    assert_eq!(v["total"]["documents_by_role"]["quoted"], 1);
    assert_eq!(v["total"]["documents_by_role"]["outlet"], 1);
    assert_eq!(v["total"]["targets"]["migrants"], 2);
    let (status, _, body) = get(&f, "/api/speakers?from=nope").await;
    assert_eq!(status, 400, "{body}");
    // The audience map and the trends, split by the role voicing hostility.
    let (status, _, body) = get(&f, "/api/audience?speaker=quoted&min_documents=1").await;
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["speaker"], "quoted");
    let hostile: u64 = v["outlets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["hostile"].as_u64().unwrap())
        .sum();
    assert_eq!(hostile, 1, "only the quoted statement: {v:#}");
    let (status, _, body) = get(&f, "/api/audience?speaker=boss").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("speaker"), "{body}");
    let (status, _, body) = get(&f, "/api/report?by=speaker&interval=month").await;
    assert_eq!(status, 200, "{body}");
    let groups: Vec<String> = json(&body)["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["group"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        groups.contains(&"quoted".to_string()) && groups.contains(&"outlet".to_string()),
        "{groups:?}"
    );
    let (_, _, page) = get(&f, "/audience?speaker=outlet").await;
    assert!(
        page.contains("<option value=\"outlet\" selected>"),
        "{page}"
    );
}

#[tokio::test]
async fn bad_query_points_at_the_error() {
    let f = fixture(with_token()).await;
    let (status, _, body) = get(&f, "/search?q=hat%3E0.5").await;
    assert_eq!(status, 400);
    assert!(body.contains("id=\"query-error\""), "{body}");
    assert!(body.contains("unknown label"), "{body}");
    assert!(body.contains("hat&gt;0.5"), "{body}");
}

/// Scraped payloads in titles, bodies, URLs, authors and source names never
/// reach a page unescaped, and every href is http(s) or a local path.
#[tokio::test]
async fn scraped_strings_are_escaped_everywhere() {
    let f = fixture(with_token()).await;
    for path in all_pages(&f) {
        let (status, _, body) = get(&f, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        for payload in [XSS_SCRIPT, XSS_IMG, "<img", "onerror=alert(1)>"] {
            assert!(!body.contains(payload), "{path} contains raw {payload:?}");
        }
        for part in body.split("href=\"").skip(1) {
            let href = &part[..part.find('"').unwrap()];
            assert!(
                href.starts_with('/') && !href.starts_with("//")
                    || href.starts_with("http://")
                    || href.starts_with("https://"),
                "{path}: unsafe href {href:?}"
            );
        }
        assert!(
            !body.to_lowercase().contains("href=\"javascript:"),
            "{path}"
        );
    }
    // The payload pages do show the text, escaped.
    let (_, _, body) = get(&f, &format!("/documents/{}", f.docs[2].id.as_str())).await;
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(body.contains("Evil &lt;script&gt;"), "{body}");
}

#[tokio::test]
async fn state_changing_requests_need_the_token() {
    let f = fixture(with_token()).await;
    let client = reqwest::Client::new();
    let body = serde_json::json!({
        "doc_id": f.docs[0].id.as_str(),
        "label": "collective_labelling",
        "verdict": "wrong",
        "value": "false",
        "note": "it quotes the mayor critically",
    })
    .to_string();
    let url = format!("{}/api/corrections", f.base);
    let post = |auth: Option<&str>| {
        let mut r = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = post(None).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = post(Some("Bearer wrong-token-0123456789")).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = post(Some(&format!("Bearer {TOKEN}"))).await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v = json(&r.text().await.unwrap());
    assert_eq!(v["model_version"], "lexicon-test");
    assert!((v["model_score"].as_f64().unwrap() - 0.9).abs() < 1e-6);

    // Stored with the text snapshot the server filled in.
    let (status, _, list) = get(
        &f,
        &format!("/api/corrections?doc_id={}", f.docs[0].id.as_str()),
    )
    .await;
    assert_eq!(status, 200);
    let v = json(&list);
    let c = &v["corrections"][0];
    assert_eq!(c["label"], "collective_labelling");
    assert_eq!(c["verdict"], "wrong");
    assert!(c["text"]
        .as_str()
        .unwrap()
        .starts_with("Migrants arrive in a wave"));
    // And listed on the document page.
    let (_, _, page) = get(&f, &format!("/documents/{}", f.docs[0].id.as_str())).await;
    assert!(page.contains("collective_labelling wrong"), "{page}");

    // Invalid corrections are refused with a reason.
    let bad = serde_json::json!({"doc_id": f.docs[0].id.as_str(), "label": "nonsense", "verdict": "wrong"});
    let r = client
        .post(&url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("label"));

    // Without a configured token, state changes are refused with advice.
    let g = fixture(WebOptions::default()).await;
    let r = client
        .post(format!("{}/api/corrections", g.base))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("MEDIAWATCH_TOKEN"));
}

#[tokio::test]
async fn large_bodies_are_refused() {
    let f = fixture(WebOptions {
        body_limit_bytes: 4096,
        ..with_token()
    })
    .await;
    let note = "x".repeat(10_000);
    let body = serde_json::json!({
        "doc_id": f.docs[0].id.as_str(), "label": "hate", "verdict": "correct", "note": note,
    });
    let r = reqwest::Client::new()
        .post(format!("{}/api/corrections", f.base))
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
}

#[tokio::test]
async fn clients_are_rate_limited() {
    let f = fixture(WebOptions {
        rate_limit_per_minute: 1,
        rate_limit_burst: 3,
        ..with_token()
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let r = reqwest::get(format!("{}/api/health", f.base))
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let secs = retry_after.expect("Retry-After on 429");
    assert!((1..=60).contains(&secs), "{secs}");
}

#[tokio::test]
async fn exports_carry_full_text_and_labels() {
    let f = fixture(with_token()).await;
    // CSV: parses, one row per document, full text and labels.
    let (status, headers, body) = get(&f, "/api/export?q=migrants&format=csv").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(headers["x-mediawatch-truncated"], "false");
    let mut rdr = csv::Reader::from_reader(body.as_bytes());
    let cols: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let col = |name: &str| cols.iter().position(|c| c == name).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "{body}");
    let mayor = rows
        .iter()
        .find(|r| &r[col("id")] == f.docs[0].id.as_str())
        .expect("document 0 exported");
    assert_eq!(&mayor[col("text")], f.docs[0].text);
    assert_eq!(&mayor[col("hate_class")], "hate");
    assert!(mayor[col("labels_present")].contains("collective_labelling"));
    let labels: serde_json::Value = serde_json::from_str(&mayor[col("labels_json")]).unwrap();
    assert_eq!(labels["collective_labelling"]["spans"][0]["cue"], "wave");

    // JSONL: one object per line.
    let (status, _, body) = get(&f, "/api/export?q=migrants&format=jsonl&sort=date").await;
    assert_eq!(status, 200);
    let lines: Vec<serde_json::Value> = body.lines().map(json).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["id"], f.docs[2].id.as_str(), "newest first");
    for l in &lines {
        assert!(l["text"].as_str().unwrap().len() > 20);
        assert!(l["labels"]["model_version"].is_string());
        assert!(l["source_name"].is_string());
    }

    // Truncation is announced in the headers and in a trailer.
    let (_, headers, body) = get(&f, "/api/export?q=migrants&format=jsonl&limit=2").await;
    assert_eq!(headers["x-mediawatch-truncated"], "true");
    assert_eq!(headers["x-mediawatch-total"], "3");
    let lines: Vec<serde_json::Value> = body.lines().map(json).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["truncated"], true);
    assert_eq!(lines[2]["exported"], 2);
    let (_, _, body) = get(&f, "/api/export?q=migrants&format=csv&limit=1").await;
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(body.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][0], "#truncated");

    // HTML: the self-contained report, escaped.
    let (status, headers, body) = get(&f, "/api/export?q=migrants&format=html").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script"), "{csp}");
    assert!(body.contains("<svg"), "report has charts");
    assert!(!body.contains(XSS_SCRIPT));

    let (status, _, body) = get(&f, "/api/export?q=migrants&format=pdf").await;
    assert_eq!(status, 400);
    assert!(body.contains("format"));
}

#[tokio::test]
async fn report_compares_queries_and_openapi_is_served() {
    let f = fixture(with_token()).await;
    let (status, _, body) = get(&f, "/api/report?compare=wave&compare=bakery&interval=month").await;
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["by"], "query");
    let groups: std::collections::BTreeSet<&str> = v["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["bakery", "wave"].into_iter().collect());
    let (status, _, trends) =
        get(&f, "/api/trends?compare=wave&compare=bakery&interval=month").await;
    assert_eq!(status, 200);
    assert_eq!(json(&trends), v);
    // Each compared query's rows are a share of the bucket's whole
    // coverage; raw counts on request.
    for b in v["buckets"].as_array().unwrap() {
        let a = &b["attention"];
        let (docs, coverage) = (
            b["documents"].as_u64().unwrap(),
            a["coverage"].as_u64().unwrap(),
        );
        assert!(coverage >= docs && coverage > 0, "{b}");
        let share = a["share"].as_f64().unwrap();
        assert!((share - docs as f64 / coverage as f64).abs() < 1e-4, "{b}");
    }
    let (status, _, raw) = get(
        &f,
        "/api/report?compare=wave&compare=bakery&interval=month&counts_only=true",
    )
    .await;
    assert_eq!(status, 200, "{raw}");
    assert!(!raw.contains("attention"), "{raw}");
    let (status, _, body) = get(&f, "/api/report?compare=x&by=source").await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = get(&f, "/api/report?bogus=1").await;
    assert_eq!(status, 400);
    assert!(body.contains("bogus"));

    let (status, _, body) = get(&f, "/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(json(&body)["paths"]["/api/export"].is_object());
    let (status, _, body) = get(&f, "/api/nope").await;
    assert_eq!(status, 404);
    assert!(json(&body)["error"].as_str().unwrap().contains("openapi"));
}

#[tokio::test]
async fn alerts_page_and_routes_when_alerts_are_set_up() {
    let saved = mediawatch_config::SavedSearchConfig {
        id: "waves".into(),
        name: format!("Waves {XSS_SCRIPT}"),
        query: "wave".into(),
        country: Some("RS".into()),
        source: None,
        lang: None,
        enabled: true,
        alert: None,
    };
    let f = fixture_with(with_token(), Some(vec![saved])).await;
    let (status, _, body) = get(&f, "/alerts").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("data-id=\"waves\""), "{body}");
    assert!(
        body.contains("href=\"/search?q=wave&amp;country=RS\""),
        "{body}"
    );
    assert!(body.contains("<table id=\"alert-history\""), "{body}");
    assert!(!body.contains(XSS_SCRIPT));
    // Every alerts path is served (not the 404 fallback).
    for path in mediawatch_server::ALERTS_PATHS {
        let path = path.replace("{id}", "waves");
        let (status, _, body) = get(&f, &path).await;
        assert!(
            status != 404 || path.ends_with("evaluate"),
            "{path}: {status} {body}"
        );
    }
    let (status, _, body) = get(&f, "/api/saved-searches").await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["saved_searches"][0]["id"], "waves");
    // Creating one is state-changing: the token middleware guards it.
    let r = reqwest::Client::new()
        .post(format!("{}/api/saved-searches", f.base))
        .header("content-type", "application/json")
        .body(r#"{"id":"x","name":"x","query":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Without alerts, the routes are absent and the page says so.
    let g = fixture(with_token()).await;
    let (status, _, _) = get(&g, "/api/alerts").await;
    assert_eq!(status, 404);
    let (status, _, body) = get(&g, "/alerts").await;
    assert_eq!(status, 200);
    assert!(body.contains("id=\"saved-searches\""));
}

/// Generated requests per documented operation.
const PROPERTY_ROUNDS: usize = 150;

/// Strings that have broken parsers elsewhere, for generated requests.
const HOSTILE: &[&str] = &[
    "",
    " ",
    "'",
    "\"",
    "\\",
    "%",
    "\u{0}",
    "<script>alert(1)</script>",
    "migranti",
    "title:(",
    "hate>",
    "hate>2",
    "country:",
    "date>=2026-13-45",
    "\"unclosed phrase",
    "a OR OR b",
    "-",
    "*",
    "(((((((((",
    "мигранти талас",
    "😀",
    "2026-01-01",
    "2026-02-30",
    "2026-01-01T10:00:00Z",
    "yesterday",
    "-1",
    "99999999999999999999",
    "NaN",
    "source",
    "audience",
    "query",
];

/// A value for a parameter of the given schema type.
fn gen_value(rng: &mut fastrand::Rng, schema: &serde_json::Value) -> String {
    let ty = match &schema["type"] {
        serde_json::Value::Array(a) => a
            .iter()
            .find(|t| *t != "null")
            .and_then(|t| t.as_str())
            .unwrap_or("string")
            .to_string(),
        t => t.as_str().unwrap_or("string").to_string(),
    };
    let pick = |rng: &mut fastrand::Rng, xs: &[&str]| xs[rng.usize(..xs.len())].to_string();
    match ty.as_str() {
        "integer" => pick(
            rng,
            &[
                "0",
                "1",
                "5",
                "20",
                "500",
                "501",
                "-1",
                "99999999999999999999",
                "x",
                "",
            ],
        ),
        "number" => pick(rng, &["0", "0.5", "1", "1.5", "-0.1", "NaN", "inf", "x"]),
        "boolean" => pick(rng, &["true", "false", "1", "0", "yes", "maybe", ""]),
        _ => {
            if rng.u8(..10) == 0 {
                "x".repeat(rng.usize(1..20_000))
            } else {
                pick(rng, HOSTILE)
            }
        }
    }
}

/// Follows a `$ref` into the document's components.
fn resolve<'a>(doc: &'a serde_json::Value, s: &'a serde_json::Value) -> &'a serde_json::Value {
    match s["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => s,
    }
}

/// A request body for an operation: valid, mutated, or garbage.
fn gen_body(rng: &mut fastrand::Rng, path: &str, doc_id: &str) -> String {
    let valid = if path == "/api/corrections" {
        serde_json::json!({"doc_id": doc_id, "label": "collective_labelling", "verdict": "correct"})
    } else {
        serde_json::json!({"id": format!("s{}", rng.u32(..1000)), "name": "N", "query": "migranti",
                           "alert": {"metric": "volume", "window": "1d", "baseline": "14d"}})
    };
    match rng.u8(..6) {
        0 => valid.to_string(),
        1 => {
            // A field dropped.
            let mut v = valid;
            if let Some(o) = v.as_object_mut() {
                let keys: Vec<String> = o.keys().cloned().collect();
                o.remove(&keys[rng.usize(..keys.len())]);
            }
            v.to_string()
        }
        2 => {
            // A field of the wrong type, or an unknown one.
            let mut v = valid;
            if let Some(o) = v.as_object_mut() {
                let keys: Vec<String> = o.keys().cloned().collect();
                o.insert(keys[rng.usize(..keys.len())].clone(), serde_json::json!([1, {}]));
                o.insert("bogus".into(), serde_json::json!(true));
            }
            v.to_string()
        }
        3 => gen_value(rng, &serde_json::json!({"type": "string"})),
        4 => "{\"unterminated\": ".into(),
        _ => serde_json::json!({"label": HOSTILE[rng.usize(..HOSTILE.len())], "doc_id": HOSTILE[rng.usize(..HOSTILE.len())],
                                "verdict": "wrong", "value": "maybe"})
            .to_string(),
    }
}

/// Property-based requests generated from the OpenAPI document, the Rust
/// equivalent of schemathesis: every documented operation, many times,
/// with random and hostile parameter values, path ids and bodies, with and
/// without the token. No answer is a 5xx; every error is the documented
/// `{"error": "..."}`; every JSON success carries its schema's required
/// fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_never_fail_the_server_and_answer_as_documented() {
    let saved = mediawatch_config::SavedSearchConfig {
        id: "waves".into(),
        name: "Waves".into(),
        query: "wave".into(),
        country: None,
        source: None,
        lang: None,
        enabled: true,
        alert: Some(
            serde_json::from_value(
                serde_json::json!({"metric": "volume", "window": "1d", "baseline": "14d"}),
            )
            .unwrap(),
        ),
    };
    let web = WebOptions {
        rate_limit_per_minute: 1_000_000,
        rate_limit_burst: 1_000_000,
        ..with_token()
    };
    let f = fixture_with(web, Some(vec![saved])).await;
    let doc: serde_json::Value = serde_json::from_str(&mediawatch_server::openapi::json()).unwrap();
    let doc_id = f.docs[0].id.as_str().to_string();
    let client = reqwest::Client::new();
    let mut rng = fastrand::Rng::with_seed(20261207);
    let mut sent = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for _ in 0..PROPERTY_ROUNDS {
                let mut url = path.replace(
                    "{id}",
                    &match rng.u8(..4) {
                        0 => doc_id.clone(),
                        1 => "waves".into(),
                        2 => "no-such-id".into(),
                        _ => url::form_urlencoded::byte_serialize(
                            gen_value(&mut rng, &serde_json::json!({})).as_bytes(),
                        )
                        .collect(),
                    },
                );
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] != "query" {
                        continue;
                    }
                    let required = p["required"].as_bool().unwrap_or(false);
                    if !required && rng.u8(..10) < 4 {
                        continue;
                    }
                    let name = p["name"].as_str().unwrap();
                    let schema = &p["schema"];
                    if schema["type"] == "array"
                        || schema["type"]
                            .as_array()
                            .is_some_and(|a| a.contains(&"array".into()))
                    {
                        for _ in 0..rng.usize(1..4) {
                            query.append_pair(name, &gen_value(&mut rng, &serde_json::json!({})));
                        }
                    } else {
                        query.append_pair(name, &gen_value(&mut rng, schema));
                    }
                }
                if rng.u8(..10) == 0 {
                    query.append_pair("bogus", "1");
                }
                let q = query.finish();
                if !q.is_empty() {
                    url = format!("{url}?{q}");
                }
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut req = client.request(m, format!("{}{url}", f.base));
                if rng.u8(..10) < 8 {
                    req = req.bearer_auth(TOKEN);
                }
                let body =
                    (!op["requestBody"].is_null()).then(|| gen_body(&mut rng, path, &doc_id));
                if let Some(b) = &body {
                    let ct = if rng.u8(..10) == 0 {
                        "text/plain"
                    } else {
                        "application/json"
                    };
                    req = req.header("content-type", ct).body(b.clone());
                }
                let resp = req.send().await.unwrap();
                sent += 1;
                let status = resp.status().as_u16();
                let ctype = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let text = resp.text().await.unwrap();
                let what = format!(
                    "{} {url} body {:?} -> {status}: {}",
                    method.to_uppercase(),
                    body,
                    &text[..text.len().min(300)]
                );
                assert!(status < 500, "server error: {what}");
                if status >= 400 {
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {what}"));
                    assert!(
                        v["error"].is_string(),
                        "error body without \"error\": {what}"
                    );
                    assert!(
                        op["responses"][status.to_string()].is_object()
                            || [400, 401, 403, 404, 405, 413, 415, 422, 429].contains(&status),
                        "undocumented status: {what}"
                    );
                } else if ctype.starts_with("application/json") {
                    let schema = &op["responses"][status.to_string()]["content"]
                        ["application/json"]["schema"];
                    let schema = resolve(&doc, schema);
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {what}"));
                    for key in schema["required"].as_array().into_iter().flatten() {
                        let key = key.as_str().unwrap();
                        assert!(
                            v.get(key).is_some(),
                            "answer lacks required {key:?}: {what}"
                        );
                    }
                }
            }
        }
    }
    assert!(sent >= 19 * PROPERTY_ROUNDS, "{sent} requests");
}
