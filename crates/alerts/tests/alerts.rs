//! Alerts end to end over real parts: synthetic documents in a real
//! tantivy index on disk, real SQLite state, a loopback webhook server
//! (axum) and a loopback SMTP server written here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use mediawatch_alerts::{AlertsRuntime, Notifier, Outcome};
use mediawatch_config::{
    AlertMetric, AlertRule, AlertsConfig, SavedSearchConfig, SmtpChannel, SmtpSecurity,
    WebhookChannel,
};
use mediawatch_core::{Labels, SourceMeta};
use mediawatch_index::Index;
use mediawatch_state::{AlertFilter, StateStore};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DAY: i64 = 86_400;

/// Evaluation time: midday of a day, so the current window is half done.
fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_772_280_000 / DAY * DAY + 20 * DAY + DAY / 2, 0)
        .unwrap()
}

fn source(id: &str, country: &str) -> SourceMeta {
    SourceMeta {
        name: id.into(),
        country: country.into(),
        languages: vec!["sr".into()],
        ..mediawatch_testkit::source(id)
    }
}

struct Corpus {
    _dir: tempfile::TempDir,
    index: Index,
    n: usize,
    writer: mediawatch_index::IndexWriterHandle,
}

impl Corpus {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open_or_create(&dir.path().join("index")).unwrap();
        let writer = index.writer(20_000_000).unwrap();
        Self {
            _dir: dir,
            index,
            n: 0,
            writer,
        }
    }

    /// Adds `count` documents about migrants on day `day_offset` from the
    /// evaluation day (0 = today, before `now`), `labelled_collective` of
    /// them with collective labelling.
    fn add(&mut self, src: &SourceMeta, day_offset: i64, count: usize, collective: usize) {
        let day_start = now().timestamp() / DAY * DAY + day_offset * DAY;
        for i in 0..count {
            self.n += 1;
            // Spread over the first 10 hours so today's docs are before now.
            let t = Utc
                .timestamp_opt(day_start + (i as i64 * 36_000 / count.max(1) as i64), 0)
                .unwrap();
            let mut labels = Labels::default();
            labels.relevance.score = 0.9;
            labels.collective_labelling.score = if i < collective { 0.9 } else { 0.1 };
            let doc =
                mediawatch_testkit::doc(&format!("https://example.org/{}/{}", src.id, self.n))
                    .source(&src.id)
                    .title(&format!("Migranti na granici {}", self.n))
                    .text(&format!("Tekst o migrantima broj {} i granici.", self.n))
                    .published(t)
                    .fetched(t)
                    .lang("sr")
                    .labels(labels)
                    .build();
            self.writer.upsert(doc, src).unwrap();
        }
    }

    fn commit(&self) {
        self.writer.commit().unwrap();
    }
}

fn search(
    id: &str,
    metric: AlertMetric,
    country: Option<&str>,
    channels: &[&str],
) -> SavedSearchConfig {
    let mut rule = AlertRule::new(metric);
    rule.baseline = Duration::from_secs(14 * DAY as u64);
    rule.channels = channels.iter().map(|c| c.to_string()).collect();
    SavedSearchConfig {
        id: id.into(),
        name: format!("Search {id}"),
        query: "migranti".into(),
        country: country.map(str::to_string),
        source: None,
        lang: None,
        enabled: true,
        alert: Some(rule),
    }
}

fn runtime(index: &Index, config: AlertsConfig, searches: Vec<SavedSearchConfig>) -> AlertsRuntime {
    let state = Arc::new(StateStore::in_memory().unwrap());
    let notifier = Notifier::new(&config)
        .unwrap()
        .with_retry_base(Duration::from_millis(5));
    AlertsRuntime::with_notifier(index.clone(), state, config, searches, notifier)
}

fn fired(outcomes: &[Outcome]) -> usize {
    outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Fired { .. }))
        .count()
}

/// 14 baseline days with 8..12 documents a day.
fn stable_baseline(c: &mut Corpus, src: &SourceMeta, collective_per_day: usize) {
    for d in 1..=14 {
        c.add(src, -d, 8 + (d as usize % 5), collective_per_day);
    }
}

#[tokio::test]
async fn stable_volume_does_not_fire_and_a_spike_fires_once() {
    let rs = source("rs-daily", "RS");
    let mut c = Corpus::new();
    stable_baseline(&mut c, &rs, 1);
    c.add(&rs, 0, 10, 1);
    c.commit();
    let s = search("vol", AlertMetric::Volume, None, &[]);
    let rt = runtime(&c.index, AlertsConfig::default(), vec![s.clone()]);
    let out = rt.evaluate_search(&s, now()).await.unwrap();
    assert_eq!(fired(&out), 0, "{out:#?}");
    let e = out.last().unwrap().evaluation();
    assert_eq!(e.observed, 10.0);
    assert!(e.p_value > 0.05, "{e:#?}");
    assert!(e.partial);

    // A spike today: 45 more documents.
    c.add(&rs, 0, 45, 0);
    c.commit();
    let out = rt.evaluate_search(&s, now()).await.unwrap();
    assert_eq!(fired(&out), 1, "{out:#?}");
    let e = out.last().unwrap().evaluation();
    assert_eq!(e.observed, 55.0);
    assert!(e.p_value < 1e-6 && e.statistic > 5.0, "{e:#?}");
    // Evaluating the same window again sends nothing.
    let out = rt
        .evaluate_search(&s, now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(fired(&out), 0);
    assert!(
        out.iter().any(|o| matches!(o, Outcome::CoolingDown { .. })),
        "{out:#?}"
    );
    let history = rt.history(&AlertFilter::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].alert.observed, 55.0);
    assert_eq!(history[0].alert.metric, "volume");
}

#[tokio::test]
async fn same_window_never_fires_twice_even_without_cooldown() {
    let rs = source("rs-daily", "RS");
    let mut c = Corpus::new();
    stable_baseline(&mut c, &rs, 1);
    c.add(&rs, 0, 60, 0);
    c.commit();
    let mut s = search("vol", AlertMetric::Volume, None, &[]);
    if let Some(r) = s.alert.as_mut() {
        r.cooldown = Duration::from_secs(1);
    }
    let rt = runtime(&c.index, AlertsConfig::default(), vec![s.clone()]);
    assert_eq!(fired(&rt.evaluate_search(&s, now()).await.unwrap()), 1);
    let later = now() + chrono::Duration::hours(2);
    let out = rt.evaluate_search(&s, later).await.unwrap();
    assert_eq!(fired(&out), 0);
    assert!(out
        .iter()
        .any(|o| matches!(o, Outcome::AlreadyFired { .. })));
}

#[tokio::test]
async fn cooldown_suppresses_the_next_window() {
    let rs = source("rs-daily", "RS");
    let mut c = Corpus::new();
    for d in 2..=16 {
        c.add(&rs, -d, 10, 1);
    }
    // Spikes yesterday and today.
    c.add(&rs, -1, 60, 0);
    c.add(&rs, 0, 100, 0);
    c.commit();
    let mut s = search("vol", AlertMetric::Volume, None, &[]);
    if let Some(r) = s.alert.as_mut() {
        r.cooldown = Duration::from_secs(3 * DAY as u64);
    }
    let rt = runtime(&c.index, AlertsConfig::default(), vec![s.clone()]);
    // Yesterday's window, evaluated yesterday evening.
    let yesterday = now() - chrono::Duration::hours(14);
    let out = rt.evaluate_search(&s, yesterday).await.unwrap();
    assert_eq!(fired(&out), 1, "{out:#?}");
    // Today's spike is significant too, but the search is cooling down.
    let out = rt.evaluate_search(&s, now()).await.unwrap();
    let last = out.last().unwrap();
    assert!(last.evaluation().fires, "{last:#?}");
    assert!(matches!(last, Outcome::CoolingDown { .. }), "{last:#?}");
    assert_eq!(rt.history(&AlertFilter::default()).unwrap().len(), 1);
}

#[tokio::test]
async fn share_rise_in_one_country_fires_and_tiny_counts_do_not() {
    let rs = source("rs-daily", "RS");
    let hr = source("hr-daily", "HR");
    let mk = source("mk-daily", "MK");
    let mut c = Corpus::new();
    // Serbia: ~10% collective labelling for two weeks, 40 documents a day.
    for d in 1..=14 {
        c.add(&rs, -d, 40, 4);
        c.add(&hr, -d, 40, 4);
    }
    // Campaign day in Serbia: 40% collective labelling. Croatia unchanged.
    c.add(&rs, 0, 40, 16);
    c.add(&hr, 0, 40, 4);
    // Macedonia: the same rise but on tiny counts (2 of 3 vs ~10%).
    for d in 1..=14 {
        c.add(
            &mk,
            -d,
            if d % 2 == 0 { 10 } else { 0 },
            usize::from(d % 2 == 0),
        );
    }
    c.add(&mk, 0, 3, 2);
    c.commit();
    let metric = AlertMetric::Share("collective_labelling".into());
    let rs_s = search("rs-cl", metric.clone(), Some("RS"), &[]);
    let hr_s = search("hr-cl", metric.clone(), Some("HR"), &[]);
    let mk_s = search("mk-cl", metric, Some("MK"), &[]);
    let rt = runtime(
        &c.index,
        AlertsConfig::default(),
        vec![rs_s.clone(), hr_s.clone(), mk_s.clone()],
    );
    let all = rt.evaluate_all(now()).await;
    let by_id = |id: &str| {
        all.iter()
            .find(|(s, _)| s == id)
            .and_then(|(_, r)| r.as_ref().ok())
            .unwrap()
    };
    let rs_out = by_id("rs-cl");
    assert_eq!(fired(rs_out), 1, "{rs_out:#?}");
    let e = rs_out.last().unwrap().evaluation();
    assert!(
        (e.observed - 0.4).abs() < 1e-9 && (e.baseline - 0.1).abs() < 1e-9,
        "{e:#?}"
    );
    assert_eq!(fired(by_id("hr-cl")), 0);
    let mk_out = by_id("mk-cl");
    assert_eq!(fired(mk_out), 0, "{mk_out:#?}");
    let e = mk_out.last().unwrap().evaluation();
    assert!((e.observed - 2.0 / 3.0).abs() < 1e-9);
    let min_docs = e.checks.iter().find(|c| c.name == "min_documents").unwrap();
    assert!(!min_docs.passed, "{e:#?}");
    let history = rt.history(&AlertFilter::default()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].alert.search_id, "rs-cl");
}

#[tokio::test]
async fn dry_run_evaluates_without_recording() {
    let rs = source("rs-daily", "RS");
    let mut c = Corpus::new();
    stable_baseline(&mut c, &rs, 1);
    c.add(&rs, 0, 80, 0);
    c.commit();
    let s = search("vol", AlertMetric::Volume, None, &[]);
    let rt = runtime(&c.index, AlertsConfig::default(), vec![s]);
    let e = rt.evaluate_dry("vol", now()).unwrap();
    assert!(e.fires);
    assert!(rt.history(&AlertFilter::default()).unwrap().is_empty());
    assert!(matches!(
        rt.evaluate_dry("nope", now()),
        Err(mediawatch_alerts::AlertsError::NotFound(_))
    ));
}

#[tokio::test]
async fn api_searches_are_validated_stored_and_deletable() {
    let c = Corpus::new();
    c.commit();
    let config = AlertsConfig::default();
    let conf = search("from-file", AlertMetric::Volume, None, &[]);
    let rt = runtime(&c.index, config, vec![conf]);
    let mut bad = search("new", AlertMetric::Volume, Some("ZZ"), &["pager"]);
    bad.query = "\"unclosed".into();
    let err = rt.create_search(bad, now()).unwrap_err().to_string();
    assert!(err.contains("country") && err.contains("pager"), "{err}");
    let mut bad_query = search("new", AlertMetric::Volume, None, &[]);
    bad_query.query = "(migranti".into();
    let err = rt.create_search(bad_query, now()).unwrap_err().to_string();
    assert!(err.contains("query"), "{err}");
    let ok = search("new", AlertMetric::Share("hate".into()), Some("RS"), &[]);
    rt.create_search(ok.clone(), now()).unwrap();
    let got = rt.search("new").unwrap().unwrap();
    assert_eq!(got.search, ok);
    assert_eq!(rt.searches().unwrap().len(), 2);
    assert!(rt.create_search(ok, now()).is_err(), "duplicate id");
    assert!(matches!(
        rt.delete_search("from-file"),
        Err(mediawatch_alerts::AlertsError::ReadOnly(_))
    ));
    rt.delete_search("new").unwrap();
    assert!(rt.search("new").unwrap().is_none());
}

// ---- notifications -------------------------------------------------------

#[derive(Clone, Default)]
struct Hook {
    received: Arc<Mutex<Vec<(HeaderMap, serde_json::Value, String)>>>,
    /// Statuses to answer before succeeding.
    fail_first: Arc<Mutex<Vec<StatusCode>>>,
}

async fn hook(State(h): State<Hook>, headers: HeaderMap, body: String) -> StatusCode {
    let next = {
        let mut f = h.fail_first.lock().unwrap();
        if f.is_empty() {
            None
        } else {
            Some(f.remove(0))
        }
    };
    if let Some(status) = next {
        return status;
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    h.received.lock().unwrap().push((headers, v, body));
    StatusCode::NO_CONTENT
}

async fn start_hook(h: Hook) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/hook", post(hook)).with_state(h);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

/// A minimal SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
/// Each accepted message is pushed as (envelope from, recipients, data).
type Mails = Arc<Mutex<Vec<(String, Vec<String>, String)>>>;

async fn start_smtp(mails: Mails) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let mails = mails.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let (mut from, mut rcpt) = (String::new(), Vec::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-test\r\n250 HELP\r\n"
                    } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
                        b"250 ok\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_string();
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt.push(line[8..].trim().to_string());
                        b"250 ok\r\n"
                    } else if upper.starts_with("RSET") {
                        from.clear();
                        rcpt.clear();
                        b"250 ok\r\n"
                    } else if upper == "DATA" {
                        w.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(l.strip_prefix('.').unwrap_or(&l));
                            data.push('\n');
                        }
                        mails
                            .lock()
                            .unwrap()
                            .push((from.clone(), std::mem::take(&mut rcpt), data));
                        b"250 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"502 not implemented\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn webhook(id: &str, url: &str) -> WebhookChannel {
    WebhookChannel {
        id: id.into(),
        url: url.into(),
        headers: [("X-Team".to_string(), "cso".to_string())].into(),
        secret_env: None,
        timeout: Duration::from_secs(5),
        max_retries: 2,
    }
}

fn smtp(id: &str, port: u16) -> SmtpChannel {
    SmtpChannel {
        id: id.into(),
        host: "127.0.0.1".into(),
        port: Some(port),
        security: SmtpSecurity::None,
        username: None,
        password_env: None,
        from: "mediawatch <alerts@example.org>".into(),
        to: vec!["analyst@example.org".into(), "desk@example.org".into()],
        timeout: Duration::from_secs(5),
        max_retries: 1,
    }
}

#[tokio::test]
async fn fired_alert_reaches_webhook_and_mail_and_a_dead_channel_is_recorded() {
    let h = Hook::default();
    // The webhook answers 503 once: the retry must deliver.
    h.fail_first
        .lock()
        .unwrap()
        .push(StatusCode::SERVICE_UNAVAILABLE);
    let url = start_hook(h.clone()).await;
    let mails: Mails = Arc::default();
    let port = start_smtp(mails.clone()).await;
    // A closed port for the dead channel.
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = AlertsConfig {
        public_url: Some("https://monitor.example.org/".into()),
        webhooks: vec![webhook("hook", &url)],
        smtp: vec![smtp("mail", port), smtp("dead", dead_port)],
        ..AlertsConfig::default()
    };
    let rs = source("rs-daily", "RS");
    let mut c = Corpus::new();
    stable_baseline(&mut c, &rs, 1);
    c.add(&rs, 0, 70, 0);
    c.commit();
    let s = search(
        "vol",
        AlertMetric::Volume,
        Some("RS"),
        &["dead", "hook", "mail"],
    );
    let rt = runtime(&c.index, config, vec![s.clone()]);
    let out = rt.evaluate_search(&s, now()).await.unwrap();
    let Some(Outcome::Fired {
        deliveries,
        alert_id,
        ..
    }) = out.iter().find(|o| matches!(o, Outcome::Fired { .. }))
    else {
        panic!("no alert fired: {out:#?}");
    };
    let by = |id: &str| deliveries.iter().find(|d| d.channel == id).unwrap();
    assert!(
        !by("dead").ok && by("dead").attempts == 2,
        "{deliveries:#?}"
    );
    assert!(by("dead").error.as_deref().unwrap_or("").contains("dead"));
    assert!(by("hook").ok && by("hook").attempts == 2, "{deliveries:#?}");
    assert!(by("mail").ok, "{deliveries:#?}");

    let received = h.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (headers, body, _) = &received[0];
    assert_eq!(headers.get("x-team").unwrap(), "cso");
    assert_eq!(body["type"], "mediawatch.alert");
    assert_eq!(body["alert_id"], *alert_id);
    assert_eq!(body["search"]["id"], "vol");
    assert_eq!(body["metric"], "volume");
    assert_eq!(body["observed"], 70.0);
    assert!(body["p_value"].as_f64().unwrap() < 0.01);
    assert!(body["test"].as_str().unwrap().contains("quasi-Poisson"));
    let link = body["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://monitor.example.org/search?q=migranti&country=RS&from="),
        "{link}"
    );

    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let (from, rcpt, data) = &mails[0];
    assert_eq!(from, "<alerts@example.org>");
    assert_eq!(rcpt, &["<analyst@example.org>", "<desk@example.org>"]);
    assert!(
        data.contains("Subject: [mediawatch] Search vol: volume 70.0"),
        "{data}"
    );
    assert!(data.contains("Observed: 70.0"), "{data}");

    let history = rt.history(&AlertFilter::default()).unwrap();
    assert_eq!(history[0].deliveries.len(), 3);
    let failed = rt
        .history(&AlertFilter {
            failed_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(failed.len(), 1);
}

#[tokio::test]
async fn webhook_signature_and_permanent_failure() {
    let h = Hook::default();
    h.fail_first.lock().unwrap().push(StatusCode::BAD_REQUEST);
    let url = start_hook(h.clone()).await;
    let var = "MW_ALERTS_TEST_SECRET_1";
    // Only this test reads this variable.
    std::env::set_var(var, "s3cret");
    let mut w = webhook("hook", &url);
    w.secret_env = Some(var.into());
    let config = AlertsConfig {
        webhooks: vec![w],
        ..AlertsConfig::default()
    };
    let rs = source("rs-daily", "RS");
    let mut c = Corpus::new();
    stable_baseline(&mut c, &rs, 1);
    c.add(&rs, 0, 70, 0);
    c.commit();
    let mut s = search("vol", AlertMetric::Volume, None, &["hook"]);
    if let Some(r) = s.alert.as_mut() {
        r.cooldown = Duration::from_secs(60);
    }
    let rt = runtime(&c.index, config, vec![s.clone()]);
    // 400 is not retried.
    let out = rt.evaluate_search(&s, now()).await.unwrap();
    let Some(Outcome::Fired { deliveries, .. }) = out.last() else {
        panic!("{out:#?}");
    };
    assert!(
        !deliveries[0].ok && deliveries[0].attempts == 1,
        "{deliveries:#?}"
    );
    assert!(deliveries[0].error.as_deref().unwrap().contains("400"));
    // The next window (tomorrow) is delivered, signed.
    c.add(&rs, 1, 90, 0);
    c.commit();
    let tomorrow = now() + chrono::Duration::days(1);
    let out = rt.evaluate_search(&s, tomorrow).await.unwrap();
    assert_eq!(fired(&out), 1, "{out:#?}");
    let received = h.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let sig = received[0]
        .0
        .get("x-mediawatch-signature")
        .unwrap()
        .to_str()
        .unwrap();
    // The signature covers the exact bytes received.
    let want = mediawatch_alerts::notify::hmac_sha256(b"s3cret", received[0].2.as_bytes());
    let want_hex: String = want.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sig, format!("sha256={want_hex}"));
}

#[tokio::test]
async fn unsent_and_failed_alerts_are_sent_again_once() {
    let h = Hook::default();
    let url = start_hook(h.clone()).await;
    let config = AlertsConfig {
        webhooks: vec![webhook("hook", &url)],
        ..AlertsConfig::default()
    };
    let rs = source("rs-daily", "RS");
    let mut c = Corpus::new();
    stable_baseline(&mut c, &rs, 1);
    c.add(&rs, 0, 70, 0);
    c.commit();
    let crashed = search("crashed", AlertMetric::Volume, Some("RS"), &["hook"]);
    let failing = search("failing", AlertMetric::Volume, Some("RS"), &["hook"]);
    let state = Arc::new(StateStore::in_memory().unwrap());
    let notifier = Notifier::new(&config)
        .unwrap()
        .with_retry_base(Duration::from_millis(5));
    let rt = AlertsRuntime::with_notifier(
        c.index.clone(),
        state.clone(),
        config,
        vec![crashed.clone(), failing.clone()],
        notifier,
    );

    // The process stopped after recording an alert and before sending it.
    let e = rt.evaluate_dry("crashed", now()).unwrap();
    assert!(e.fires);
    let rule = crashed.alert.clone().unwrap();
    let id = state
        .try_record_alert(&mediawatch_alerts::alert_record(
            "crashed",
            &rule,
            &e,
            now(),
        ))
        .unwrap()
        .unwrap();
    // The other search's channel is down for the first sending (three
    // attempts: one and two retries).
    h.fail_first
        .lock()
        .unwrap()
        .extend([StatusCode::SERVICE_UNAVAILABLE; 3]);
    let out = rt.evaluate_search(&failing, now()).await.unwrap();
    let Some(Outcome::Fired {
        deliveries,
        alert_id: failing_id,
        ..
    }) = out.iter().find(|o| matches!(o, Outcome::Fired { .. }))
    else {
        panic!("no alert fired: {out:#?}");
    };
    assert!(!deliveries[0].ok && deliveries[0].attempts == 3);
    assert!(h.received.lock().unwrap().is_empty());
    // A day later they are old news: nothing is sent.
    let later = now() + chrono::Duration::hours(25);
    assert!(rt.redeliver(later).await.is_empty());
    assert!(h.received.lock().unwrap().is_empty());

    // The next pass sends both, once, with their original ids and figures.
    let resent = rt.redeliver(now()).await;
    let mut ids: Vec<i64> = resent.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    assert_eq!(ids, {
        let mut v = vec![id, *failing_id];
        v.sort_unstable();
        v
    });
    let received = h.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let body = &received
        .iter()
        .find(|r| r.1["alert_id"] == id)
        .expect("the unsent alert")
        .1;
    assert_eq!(body["search"]["id"], "crashed");
    assert_eq!(body["observed"], 70.0);
    assert!(body["test"].as_str().unwrap().contains("quasi-Poisson"));
    assert!(body["link"].as_str().unwrap().contains("country=RS"));
    let history = rt.history(&AlertFilter::default()).unwrap();
    for a in &history {
        assert_eq!(a.deliveries.len(), 1);
        assert!(a.deliveries[0].ok, "{a:#?}");
    }
    let failing_record = history.iter().find(|a| a.id == *failing_id).unwrap();
    assert_eq!(failing_record.deliveries[0].attempts, 4);

    // Nothing is owed any more: no third sending, and the windows do not
    // fire again.
    assert!(rt.redeliver(now()).await.is_empty());
    let again = rt.evaluate_all(now()).await;
    assert!(again.iter().all(|(_, r)| r
        .as_ref()
        .unwrap()
        .iter()
        .all(|o| !matches!(o, Outcome::Fired { .. }))));
    assert_eq!(h.received.lock().unwrap().len(), 2);
}
