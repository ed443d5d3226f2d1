//! End to end: feed -> fetch -> extract -> classify -> index -> search/report,
//! and idempotence of a second pass.

use crate::util::*;

fn source<'a>(pass: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    pass.as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == id)
        .unwrap_or_else(|| panic!("no report for {id} in {pass:#}"))
}

/// The fixture's healthy source plus `slow`, a feed that drips a byte a
/// second (the whole exchange may take 120 s), with commits every second.
fn slow_source_config(dir: &std::path::Path, server: &FixtureServer) -> std::path::PathBuf {
    let extra = r#"
[[sources]]
id = "slow"
kind = "feed"
url = "BASE/drip/feed.xml"
name = "Slow"
country = "RS"
languages = ["sr"]
fetch_articles = false
"#
    .replace("BASE", &server.base);
    let cfg = write_config(dir, &server.base, &extra);
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replacen(
            "[fetch]\n",
            "[index]\nwriter_heap_bytes = 15000000\ncommit_interval = \"1s\"\n[fetch]\ntimeout = \"120s\"\n",
            1,
        ),
    )
    .unwrap();
    cfg
}

/// The command's own error: the last line of stderr that starts with
/// `error:` (warnings come before it).
fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {stderr}"))
}

#[test]
fn ingest_search_report_and_no_duplicates() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), &server.base, "");
    let data = tmp.path().join("data");

    let pass = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let r = source(&pass, "glas-doline");
    assert_eq!(r["fetched"], 2, "{pass:#}");
    assert_eq!(r["new"], 2, "{pass:#}");
    assert_eq!(r["errors"], 0, "{pass:#}");
    assert_eq!(server.hits("/articles/language-cafe.html"), 1);

    // A word that only occurs in the article body (not the feed) proves the
    // page was fetched and extracted, not just the feed summary indexed.
    let res = json(&mw(None, &data, &["search", "zanzibarian", "--json"]));
    assert_eq!(res["total"], 1, "{res:#}");
    let hit = &res["hits"][0];
    assert_eq!(hit["source"], "glas-doline");
    assert_eq!(
        hit["title"],
        "Volunteers open a language café for refugees in Subotica"
    );
    // Tracking parameters are stripped from the stored URL.
    assert_eq!(
        hit["url"],
        format!("{}/articles/language-cafe.html", server.base)
    );
    assert!(hit["published"].as_str().unwrap().starts_with("2026-10-06"));
    for key in ["id", "score", "snippet", "labels"] {
        assert!(hit.get(key).is_some(), "hit lacks {key}: {hit:#}");
    }
    assert!(hit["labels"]["model_version"].is_string());
    // Boilerplate stayed out of the text.
    let all = json(&mw(None, &data, &["search", "cookies", "--json"]));
    assert_eq!(all["total"], 0, "cookie banner was indexed: {all:#}");

    // Cyrillic text is found by a Latin query and vice versa.
    let cyr = json(&mw(None, &data, &["search", "najezda", "--json"]));
    assert_eq!(cyr["total"], 1, "{cyr:#}");
    assert_eq!(cyr["hits"][0]["title"], "Мигранти у Суботици");

    // The report counts both articles (and the comments under the second).
    let rep = json(&mw(
        None,
        &data,
        &["report", "--interval", "month", "--format", "json"],
    ));
    let buckets = rep["buckets"].as_array().unwrap();
    let count = |b: &str| {
        buckets
            .iter()
            .find(|x| x["bucket"] == b)
            .map(|x| x["documents"].as_u64().unwrap())
            .unwrap_or(0)
    };
    assert_eq!(count("2026-10"), 1, "{rep:#}");
    assert!(count("2026-11") >= 1, "{rep:#}");
    let total_docs: u64 = buckets
        .iter()
        .map(|b| b["documents"].as_u64().unwrap())
        .sum();

    // The audience map ranks the outlet by its migration coverage.
    let map = json(&mw(
        Some(&cfg),
        &data,
        &[
            "report",
            "--audience",
            "--min-documents",
            "1",
            "--format",
            "json",
        ],
    ));
    let outlet = &map["outlets"][0];
    assert_eq!(outlet["source"], "glas-doline", "{map:#}");
    assert_eq!(outlet["name"], "Glas Doline");
    let docs = outlet["documents"].as_u64().unwrap();
    assert!(docs >= 1 && docs <= total_docs, "{map:#}");
    let index = outlet["unsensitized_index"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&index));

    // The HTML report is one self-contained page with charts.
    let html = ok(&mw(Some(&cfg), &data, &["report", "--format", "html"]));
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.matches("<svg").count() == 2,
        "{html}"
    );
    assert!(html.contains("Glas Doline"), "audience map missing");

    // Second pass: the feed answers 304, nothing is fetched or added again.
    let pass2 = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let r2 = source(&pass2, "glas-doline");
    assert_eq!(r2["new"], 0, "{pass2:#}");
    assert_eq!(r2["not_modified"], true, "{pass2:#}");
    assert!(server.not_modified() >= 1);
    assert_eq!(server.hits("/articles/language-cafe.html"), 1);
    let rep2 = json(&mw(None, &data, &["report", "--format", "json"]));
    let total2: u64 = rep2["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["documents"].as_u64().unwrap())
        .sum();
    assert_eq!(total2, total_docs, "second pass changed the corpus");

    // Third pass with conditional GET off on the server (as when a feed
    // changes or a server ignores validators): the feed is parsed again,
    // every item is already known, nothing new is added.
    server.set_conditional(false);
    let pass3 = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let r3 = source(&pass3, "glas-doline");
    assert_eq!(r3["not_modified"], false, "{pass3:#}");
    assert_eq!(r3["new"], 0, "{pass3:#}");
    assert_eq!(r3["unchanged"], 2, "{pass3:#}");
    assert_eq!(server.hits("/articles/language-cafe.html"), 1);
    let res = json(&mw(None, &data, &["search", "zanzibarian", "--json"]));
    assert_eq!(res["total"], 1);
}

#[test]
fn unreachable_source_is_reported_and_others_continue() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    // Port 9 on loopback: nothing listens there, the connection is refused.
    let extra = r#"
[[sources]]
id = "dead-portal"
kind = "feed"
url = "http://127.0.0.1:9/rss"
name = "Dead Portal"
country = "BA"
languages = ["bs"]

[[sources]]
id = "broken-xml"
kind = "feed"
url = "BASE/articles/language-cafe.html"
name = "Not A Feed"
country = "HR"
languages = ["hr"]
"#
    .replace("BASE", &server.base);
    let cfg = write_config(tmp.path(), &server.base, &extra);
    let data = tmp.path().join("data");
    let out = mw(Some(&cfg), &data, &["ingest", "--once", "--json"]);
    let pass = json(&out);
    let good = source(&pass, "glas-doline");
    assert_eq!(good["new"], 2, "{pass:#}");
    let dead = source(&pass, "dead-portal");
    assert_eq!(dead["errors"], 1);
    let msg = dead["messages"][0].as_str().unwrap();
    assert!(
        msg.contains("dead-portal") && msg.contains("127.0.0.1:9"),
        "{msg}"
    );
    let broken = source(&pass, "broken-xml");
    let msg = broken["messages"][0].as_str().unwrap();
    assert!(msg.contains("broken-xml") && msg.contains("parse"), "{msg}");

    // The errors are kept as the sources' health.
    let list = json(&mw(Some(&cfg), &data, &["sources", "list", "--json"]));
    let dead = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"]["id"] == "dead-portal")
        .unwrap();
    assert_eq!(dead["status"], "failing");
    assert_eq!(dead["health"]["consecutive_failures"], 1);
    assert!(dead["health"]["last_error"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1:9"));
    let good = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"]["id"] == "glas-doline")
        .unwrap();
    assert_eq!(good["status"], "ok");
    assert_eq!(good["health"]["items_total"], 2);

    // The table form names the failing source and its error too.
    let table = ok(&mw(
        Some(&cfg),
        &data,
        &["ingest", "--once", "--source", "dead-portal"],
    ));
    assert!(table.contains("dead-portal"), "{table}");
    assert!(table.contains("errors:"), "{table}");
}

#[test]
fn failing_source_is_recorded_backs_off_and_recovers() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    // A second source on the same server, under another path, stays healthy.
    let extra = r#"
[[sources]]
id = "flaky"
kind = "feed"
url = "BASE/flaky/feed.xml"
name = "Flaky"
country = "BA"
languages = ["bs"]
fetch_articles = false
"#
    .replace("BASE", &server.base);
    let cfg = write_config(tmp.path(), &server.base, &extra);
    let text = std::fs::read_to_string(&cfg).unwrap();
    // No retries inside a pass, so each pass sees the failure once.
    std::fs::write(
        &cfg,
        text.replacen("[fetch]\n", "[fetch]\nmax_retries = 0\n", 1),
    )
    .unwrap();
    let data = tmp.path().join("data");

    // 1. The server fails with 503 and asks for an hour's pause.
    server.set_failure("/flaky/feed.xml", Some((503, Some(3600))));
    let before = chrono::Utc::now();
    let pass = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let flaky = source(&pass, "flaky");
    assert_eq!(flaky["errors"], 1, "{pass:#}");
    let msg = flaky["messages"][0].as_str().unwrap();
    assert!(msg.contains("flaky") && msg.contains("503"), "{msg}");
    // The pause was honoured (next due >= Retry-After, jitter is ±10 %).
    let due: chrono::DateTime<chrono::Utc> = flaky["next_due"].as_str().unwrap().parse().unwrap();
    assert!(
        due >= before + chrono::Duration::seconds(3200),
        "next due {due}"
    );
    // The other source on the same host is unaffected.
    assert_eq!(source(&pass, "glas-doline")["new"], 2);

    // 2. Still failing: the streak grows, the source is flagged, not dropped.
    server.set_failure("/flaky/feed.xml", Some((500, None)));
    json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let list = json(&mw(Some(&cfg), &data, &["sources", "list", "--json"]));
    let h = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"]["id"] == "flaky")
        .unwrap();
    assert_eq!(h["status"], "failing");
    assert_eq!(h["health"]["consecutive_failures"], 2);
    assert_eq!(h["health"]["last_error_kind"], "http_500");

    // 3. The server recovers: the next pass stores its items and the health
    //    is back to ok; nothing of the healthy source is duplicated.
    server.set_failure("/flaky/feed.xml", None);
    let pass = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    assert_eq!(source(&pass, "flaky")["new"], 2, "{pass:#}");
    assert_eq!(source(&pass, "glas-doline")["new"], 0, "{pass:#}");
    let list = json(&mw(Some(&cfg), &data, &["sources", "list", "--json"]));
    let h = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"]["id"] == "flaky")
        .unwrap();
    assert_eq!(h["status"], "ok", "{h:#}");
    assert_eq!(h["health"]["consecutive_failures"], 0);
    let res = json(&mw(
        None,
        &data,
        &["search", "Subotica", "--source", "flaky", "--json"],
    ));
    assert!(res["total"].as_u64().unwrap() >= 1, "{res:#}");
}

#[test]
fn trends_split_by_audience_and_compare_queries() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    // `extra` lands inside the glas-doline table: give it audience tags.
    let cfg = write_config(
        tmp.path(),
        &server.base,
        "audience = [\"older\", \"rural\"]\n",
    );
    let data = tmp.path().join("data");
    json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));

    let all = json(&mw(Some(&cfg), &data, &["report", "--format", "json"]));
    let total = all["totals"]["documents"].as_u64().unwrap();
    let r = json(&mw(
        Some(&cfg),
        &data,
        &["report", "--by", "audience", "--format", "json"],
    ));
    assert_eq!(r["by"], "audience");
    for tag in ["older", "rural"] {
        let n: u64 = r["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["group"] == tag)
            .map(|b| b["documents"].as_u64().unwrap())
            .sum();
        assert_eq!(n, total, "{tag}: {r:#}");
    }

    let c = json(&mw(
        Some(&cfg),
        &data,
        &[
            "report",
            "--compare",
            "zanzibarian",
            "--compare",
            "najezda",
            "--format",
            "json",
        ],
    ));
    assert_eq!(c["by"], "query");
    let groups: std::collections::BTreeSet<&str> = c["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["najezda", "zanzibarian"].into_iter().collect());
    // --compare with --query is refused with a message.
    let out = mw(
        Some(&cfg),
        &data,
        &["report", "--compare", "a", "--query", "b"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--compare"), "{}", stderr(&out));
}

/// One source that drips its feed a byte a second holds the pass until
/// the fetcher's total timeout, but not the other sources' documents:
/// they are committed during the pass, so a process killed before the
/// slow source ends keeps them, marked seen (the next pass finds nothing
/// new), and the slow source is not retried within the pass.
#[test]
fn a_slow_source_does_not_hold_the_others_uncommitted() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = slow_source_config(tmp.path(), &server);
    let data = tmp.path().join("data");
    let mut child = mw_spawn(&cfg, &data, &["ingest", "--once"]);
    // The healthy source's two articles become searchable while the slow
    // one still drips.
    let started = std::time::Instant::now();
    let mut found = 0;
    while started.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if data.join("index").exists() {
            let out = mw(
                Some(&cfg),
                &data,
                &["search", "", "--json", "--limit", "50"],
            );
            if out.status.success() {
                found = json(&out)["total"].as_u64().unwrap_or(0);
                if found >= 2 {
                    break;
                }
            }
        }
    }
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "the pass is still held by the slow source"
    );
    assert!(
        found >= 2,
        "healthy documents committed during the pass: {found}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // Nothing committed was lost, and it was marked seen.
    let out = json(&mw(
        Some(&cfg),
        &data,
        &["search", "", "--json", "--limit", "50"],
    ));
    assert_eq!(out["total"].as_u64(), Some(found));
    server.set_failure("/drip/feed.xml", Some((404, None)));
    let pass = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    assert_eq!(source(&pass, "glas-doline")["new"], 0, "{pass:#}");
    assert_eq!(
        server.hits("/drip/feed.xml"),
        2,
        "one request per pass, no retries"
    );
}

/// Crash safety: `ingest` killed with SIGKILL at twenty moments of a pass
/// (with commits every second, some land during the index commit and the
/// SQLite write), restarted each time. Afterwards the index opens, every
/// document is there exactly once, nothing committed was lost, and the
/// crawl state's count of stored items agrees with the index, per source.
#[test]
fn killed_at_any_moment_nothing_is_lost_or_duplicated() {
    const FEEDS: usize = 16;
    // New items per feed before each restart, so every pass has work.
    const ITEMS: usize = 25;
    let server = CorpusServer::start(ITEMS);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("mediawatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[index]\nwriter_heap_bytes = 15000000\ncommit_interval = \"1s\"\n\
             [fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\nper_host_concurrency = 4\n\
             [scheduler]\nmax_articles_per_pass = 1000\n{}",
            server.sources_toml(FEEDS)
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let count = |data: &std::path::Path| -> u64 {
        let r = json(&mw(Some(&cfg), data, &["report", "--format", "json"]));
        r["totals"]["documents"].as_u64().unwrap()
    };
    // How long an uninterrupted pass takes here (into another directory),
    // so that the kills spread over a pass whatever the machine's speed.
    let t = std::time::Instant::now();
    let probe = tmp.path().join("probe");
    let _ = json(&mw(Some(&cfg), &probe, &["ingest", "--once", "--json"]));
    let pass_time = t.elapsed();
    let mut committed = 0;
    // Kills that left a pass half done: some documents committed, not all.
    let mut mid_pass = 0;
    let mut total = 0;
    for k in 0..20u32 {
        server.set_items(ITEMS * (k as usize + 1));
        total = (FEEDS * ITEMS) as u64 * u64::from(k + 1);
        let mut child = mw_spawn(&cfg, &data, &["ingest", "--once"]);
        // Spread over the pass (golden-ratio steps): opening, fetching,
        // classifying, the commits every second, the end.
        let at = 0.1 + 0.85 * ((f64::from(k) * 0.618_034) % 1.0);
        std::thread::sleep(pass_time.mul_f64(at));
        let _ = child.kill();
        child.wait().unwrap();
        if data.join("index").exists() {
            let now = count(&data);
            assert!(
                now >= committed,
                "kill {k}: {now} documents after {committed}: committed documents lost"
            );
            mid_pass += usize::from(now > committed && now < total);
            committed = now;
        }
    }
    // A pass left to finish picks up whatever the kills cut short.
    let pass = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let errors: u64 = pass
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["errors"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(errors, 0, "{pass:#}");
    eprintln!("kills inside a pass: {mid_pass}");
    assert!(mid_pass >= 4, "only {mid_pass} kills landed inside a pass");
    assert_eq!(count(&data), total, "every document exactly once");
    let by_source = json(&mw(
        Some(&cfg),
        &data,
        &["report", "--by", "source", "--format", "json"],
    ));
    let mut in_index = std::collections::BTreeMap::<String, u64>::new();
    for b in by_source["buckets"].as_array().unwrap() {
        *in_index
            .entry(b["group"].as_str().unwrap().to_string())
            .or_default() += b["documents"].as_u64().unwrap();
    }
    let sources = json(&mw(Some(&cfg), &data, &["sources", "list", "--json"]));
    for s in sources.as_array().unwrap() {
        let id = s["source"]["id"].as_str().unwrap();
        assert_eq!(
            s["health"]["items_total"].as_u64(),
            in_index.get(id).copied(),
            "crawl state and index agree for {id}"
        );
    }
    // And a further pass finds nothing new.
    let pass = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let new: u64 = pass
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["new"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(new, 0, "{pass:#}");
}

/// The data directory's disk fills up during a pass: the command fails
/// with a message naming the directory and the cause, what was committed
/// before stays readable, and once there is room again the next pass
/// stores everything, each document once.
#[test]
fn a_full_disk_is_named_loses_nothing_and_ingest_resumes() {
    let Some(disk) = SmallDisk::mount(256 << 20) else {
        return;
    };
    let server = CorpusServer::start(6);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("mediawatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[index]\nwriter_heap_bytes = 15000000\n\
             [fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\nper_host_concurrency = 4\n\
             [scheduler]\nmax_articles_per_pass = 5000\n{}",
            server.sources_toml(2)
        ),
    )
    .unwrap();
    let data = disk.path.join("data");
    ok(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let total = |data: &std::path::Path| {
        json(&mw(None, data, &["search", "", "--json", "--limit", "1"]))["total"]
            .as_u64()
            .unwrap()
    };
    let before = total(&data);
    assert_eq!(before, 12);

    // Room for little more than what is there; the feeds grow a lot.
    disk.resize(disk.used() + (192 << 10));
    server.set_items(600);
    let full = mw(Some(&cfg), &data, &["ingest", "--once", "--json"]);
    let err = stderr(&full);
    assert!(
        !full.status.success(),
        "a full disk must fail the pass: {err}"
    );
    // The command's own error (its last line), not only the warnings.
    let fatal = error_line(&err);
    eprintln!("full disk: {fatal}");
    assert!(
        fatal.contains(&data.display().to_string()),
        "the message names the directory: {fatal}"
    );
    assert!(
        fatal.contains("No space left on device") || fatal.contains("nearly full"),
        "the message names the cause: {fatal}"
    );

    // Room again: what was committed is intact, and the next pass stores
    // the rest, each document once.
    disk.resize(256 << 20);
    assert!(total(&data) >= before);
    let pass = json(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let errors: u64 = pass
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["errors"].as_u64().unwrap())
        .sum();
    assert_eq!(errors, 0, "{pass:#}");
    assert_eq!(total(&data), 1200);
    let list = json(&mw(Some(&cfg), &data, &["sources", "list", "--json"]));
    let stored: u64 = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["health"]["items_total"].as_u64().unwrap())
        .sum();
    assert_eq!(stored, 1200, "the crawl state agrees with the index");
}

/// A read-only data directory: `ingest` and `search` refuse with a message
/// naming the file and the cause, and nothing is lost once it is writable.
#[test]
fn a_read_only_data_directory_is_named_and_nothing_is_lost() {
    let Some(disk) = SmallDisk::mount(64 << 20) else {
        return;
    };
    let server = CorpusServer::start(5);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("mediawatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\n{}",
            server.sources_toml(2)
        ),
    )
    .unwrap();
    let data = disk.path.join("data");
    ok(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    disk.read_only(true);
    server.set_items(20);
    let out = mw(Some(&cfg), &data, &["ingest", "--once", "--json"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    let fatal = error_line(&err);
    eprintln!("read-only: {fatal}");
    assert!(
        fatal.contains(&data.display().to_string()),
        "names the data directory: {fatal}"
    );
    assert!(
        fatal.to_lowercase().contains("read-only") || fatal.contains("readonly"),
        "names the cause: {fatal}"
    );
    disk.read_only(false);
    ok(&mw(Some(&cfg), &data, &["ingest", "--once", "--json"]));
    let res = json(&mw(None, &data, &["search", "", "--json", "--limit", "1"]));
    assert_eq!(res["total"], 40);
}

/// Stopping `run` (SIGTERM) while a source's poll is in flight cancels the
/// poll without counting it against the source: afterwards the source is
/// not "failing", has no failure recorded, and stays due. (Found by the
/// 10,000-source soak, where every source caught by the shutdown was left
/// marked failing.)
#[test]
fn a_poll_cut_by_shutdown_is_not_a_source_failure() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = slow_source_config(tmp.path(), &server);
    let data = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = mw_spawn(&cfg, &data, &["run", "--listen", &listen]);
    // The healthy source is stored while the slow one still drips.
    let started = std::time::Instant::now();
    loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the healthy source was never stored"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        let out = mw(Some(&cfg), &data, &["search", "", "--json"]);
        if out.status.success() && json(&out)["total"].as_u64() >= Some(2) {
            break;
        }
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let list = json(&mw(Some(&cfg), &data, &["sources", "list", "--json"]));
    let slow = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"]["id"] == "slow")
        .unwrap();
    assert_ne!(slow["status"], "failing", "{slow:#}");
    assert_eq!(slow["health"]["failures"], 0, "{slow:#}");
    assert_eq!(slow["health"]["consecutive_failures"], 0, "{slow:#}");
}
