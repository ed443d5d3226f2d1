//! The cluster on loopback (`mediawatch cluster up`): 3 NATS JetStream
//! nodes (streams with 3 replicas), PostgreSQL, 2 workers, 2 indexers, the
//! scheduler and the api, all real processes of the real binary and
//! servers. Needs `nats-server` and PostgreSQL: without them the test says
//! it was skipped, unless `MEDIAWATCH_CLUSTER=required` (set by `.ci/run`,
//! which installs both), which makes that a failure.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{json, mw, ok, CorpusServer};

/// One cluster at a time: two would share the two cores and each other's
/// timing.
static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn required() -> bool {
    std::env::var("MEDIAWATCH_CLUSTER").is_ok_and(|v| v == "required")
}

fn servers_installed() -> bool {
    let have = ["nats-server", "initdb", "pg_ctl"]
        .iter()
        .all(|b| mediawatch_core::procs::find_bin(b).is_some());
    if !have {
        assert!(
            !required(),
            "MEDIAWATCH_CLUSTER=required but nats-server or PostgreSQL is not installed"
        );
        eprintln!("skipped: nats-server or PostgreSQL is not installed (see .ci/run)");
    }
    have
}

/// A first port with the 70 after it free on loopback.
fn free_port_base() -> u16 {
    for _ in 0..200 {
        let base = 20_000 + fastrand::u16(0..400) * 100;
        let free = (0..70).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free range of 70 ports on loopback");
}

fn pid(dir: &Path, name: &str) -> u32 {
    std::fs::read_to_string(dir.join("pids").join(format!("{name}.pid")))
        .unwrap_or_else(|e| panic!("PID file of {name}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

fn kill9(dir: &Path, name: &str) {
    let st = std::process::Command::new("kill")
        .args(["-9", &pid(dir, name).to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -9 {name}");
    eprintln!("killed {name}");
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(url)
            .timeout(Duration::from_secs(20))
            .send()
            .await;
        match r {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(serde_json::Value::Null))
            }
            Err(_) => (0, serde_json::Value::Null),
        }
    })
}

/// Documents an index node has committed, from its status endpoint.
fn node_docs(port: u16) -> Option<u64> {
    let (status, body) = get(&format!("http://127.0.0.1:{port}/internal/status"));
    (status == 200)
        .then(|| body["documents"].as_u64())
        .flatten()
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {within:?} waiting for {what}");
}

/// [`wait_for`], and on a timeout the cluster's status and the end of
/// every log, so that a failure says what stalled.
fn wait_for_cluster(data: &Path, what: &str, within: Duration, done: impl FnMut() -> bool) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(what, within, done)
    }));
    if let Err(e) = r {
        let status = mw(None, data, &["cluster", "status"]);
        eprintln!(
            "cluster status:\n{}",
            String::from_utf8_lossy(&status.stdout)
        );
        if let Ok(rd) = std::fs::read_dir(data.join("cluster/logs")) {
            for log in rd.flatten() {
                let text = std::fs::read_to_string(log.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                eprintln!("--- {}", log.path().display());
                for l in tail.into_iter().rev() {
                    eprintln!("{}", &l[..l.len().min(400)]);
                }
            }
        }
        std::panic::resume_unwind(e);
    }
}

/// The scale-out issue's "done when", on one machine: while the cluster
/// ingests a generated corpus, a worker, a JetStream node and an indexer
/// are killed with SIGKILL, and PostgreSQL is stopped abruptly; `cluster
/// up` brings the dead back. Afterwards both index nodes hold every
/// document exactly once, the API's searches and report equal those of a
/// single-machine run on the same corpus, the API kept answering while an
/// index node was down, no feed was fetched more than once except those
/// whose job was on the killed worker, and `cluster down` stops everything.
#[test]
fn cluster_survives_kills_and_answers_like_one_machine() {
    if !servers_installed() {
        return;
    }
    let _one = ONE_CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    const FEEDS: usize = 40;
    const ITEMS: usize = 30;
    const WORKER_CONCURRENCY: usize = 4;
    let total = (FEEDS * ITEMS) as u64;
    let server = CorpusServer::start(ITEMS);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("mediawatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "version = 1\n[index]\nwriter_heap_bytes = 15000000\ncommit_interval = \"1s\"\n\
             [fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\nper_host_concurrency = 4\n\
             [scheduler]\nmax_articles_per_pass = 1000\ndefault_interval = \"1h\"\n\
             [cluster]\njob_ack_wait = \"15s\"\nclaim_lease = \"60s\"\nschedule_every = \"500ms\"\n\
             worker_concurrency = {WORKER_CONCURRENCY}\nindex_commit_interval = \"500ms\"\nquery_timeout = \"3s\"\n\
             {}",
            server.sources_toml(FEEDS)
        ),
    )
    .unwrap();
    // Single machine first, for the answers the cluster must give.
    let single = tmp.path().join("single");
    let mut single_cfg = std::fs::read_to_string(&cfg).unwrap();
    let cut = single_cfg.find("[cluster]").unwrap();
    let sources_at = single_cfg.find("[[sources]]").unwrap();
    single_cfg.replace_range(cut..sources_at, "");
    let single_cfg_path = tmp.path().join("single.toml");
    std::fs::write(&single_cfg_path, single_cfg).unwrap();
    ok(&mw(Some(&single_cfg_path), &single, &["ingest", "--once"]));
    let fetches_single = server.feed_fetches();
    // Then the cluster, on the same corpus (fetch counts from here on).
    let data = tmp.path().join("data");
    let dir = data.join("cluster");
    let base = free_port_base();
    let (idx1, idx2, api) = (base + 30, base + 31, base + 50);
    let t0 = Instant::now();
    let up = mw(
        Some(&cfg),
        &data,
        &["cluster", "up", "--port-base", &base.to_string()],
    );
    let guard = Down(data.clone());
    ok(&up);
    eprintln!("cluster up in {:?}", t0.elapsed());
    let indexed = || node_docs(idx1).unwrap_or(0);
    wait_for_cluster(
        &data,
        "the first documents",
        Duration::from_secs(180),
        || indexed() >= 40,
    );
    kill9(&dir, "worker-1");
    wait_for_cluster(&data, "more documents", Duration::from_secs(180), || {
        indexed() >= 200
    });
    kill9(&dir, "nats-2");
    wait_for_cluster(
        &data,
        "documents after the NATS node died",
        Duration::from_secs(180),
        || indexed() >= 400,
    );
    kill9(&dir, "indexer-2");
    // An index node down: the API skips it and keeps answering.
    for _ in 0..4 {
        let (status, body) = get(&format!("http://127.0.0.1:{api}/api/search?q=migranti"));
        assert_eq!(status, 200, "API with an index node down: {body}");
    }
    // PostgreSQL gone abruptly (immediate shutdown: crash recovery at
    // the next start) for a moment: workers and the scheduler wait.
    let pg_ctl = mediawatch_core::procs::find_bin("pg_ctl").unwrap();
    let mut stop = if mediawatch_core::procs::is_root() {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
        c
    } else {
        std::process::Command::new(&pg_ctl)
    };
    let st = stop
        .arg("-D")
        .arg(dir.join("pg").join("data"))
        .args(["-m", "immediate", "-w", "stop"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    eprintln!("stopped PostgreSQL (immediate)");
    std::thread::sleep(Duration::from_secs(2));
    // `cluster up` again starts what is not running, as it was started.
    ok(&mw(
        Some(&cfg),
        &data,
        &["cluster", "up", "--port-base", &base.to_string()],
    ));
    wait_for_cluster(
        &data,
        "every document on both index nodes",
        Duration::from_secs(300),
        || node_docs(idx1) == Some(total) && node_docs(idx2) == Some(total),
    );
    eprintln!("converged {:?} after cluster up", t0.elapsed());
    // Exactly once on each replica: as many documents as distinct ones,
    // and nothing more arrives.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(node_docs(idx1), Some(total));
    assert_eq!(node_docs(idx2), Some(total));
    let status = ok(&mw(Some(&cfg), &data, &["cluster", "status"]));
    assert!(!status.contains(" down "), "{status}");
    // The API's answers equal the single machine's.
    assert_like_single(api, &single_cfg_path, &single);
    // Fetches: every feed at least once; twice only for the jobs the
    // killed worker held (at most its concurrency).
    let fetches = server.feed_fetches();
    let mut twice = 0;
    for f in 0..FEEDS {
        let path = format!("/feed/{f}.xml");
        let n = fetches.get(&path).copied().unwrap_or(0)
            - fetches_single.get(&path).copied().unwrap_or(0);
        assert!(n >= 1, "{path} never fetched by the cluster");
        assert!(n <= 2, "{path} fetched {n} times within its interval");
        twice += usize::from(n == 2);
    }
    eprintln!("feeds fetched twice (jobs of the killed worker): {twice}");
    assert!(twice <= WORKER_CONCURRENCY, "{twice} feeds fetched twice");
    drop(guard);
    let procs = std::fs::read_dir(dir.join("pids"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(procs, 0, "PID files left after cluster down");
}

/// The API on `api` answers searches, facets and reports as
/// the single-machine run in `single` does. Top hits of a wide query tie
/// on score (the generated articles are alike) and ties fall in index
/// order, which differs between indexes built in another order: there the
/// scores must be equal; where every hit fits on the page, the documents
/// too.
fn assert_like_single(api: u16, single_cfg_path: &Path, single: &Path) {
    for q in [
        "migranti",
        "budžet",
        "country:RS",
        "source:f7",
        "migranti source:f3",
        "\"Vest 3\"",
    ] {
        let enc = q.replace(' ', "%20").replace('"', "%22");
        let (st, c) = get(&format!(
            "http://127.0.0.1:{api}/api/search?q={enc}&limit=100"
        ));
        assert_eq!(st, 200, "{c}");
        let s = json(&mw(
            Some(single_cfg_path),
            single,
            &["search", q, "--json", "--limit", "100"],
        ));
        assert_eq!(c["total"], s["total"], "total of {q:?}");
        let ids = |v: &serde_json::Value| -> BTreeSet<String> {
            v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_string())
                .collect()
        };
        let scores = |v: &serde_json::Value| -> Vec<String> {
            v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| format!("{:.4}", h["score"].as_f64().unwrap()))
                .collect()
        };
        assert_eq!(scores(&c), scores(&s), "scores of {q:?}");
        if s["total"].as_u64().unwrap() <= 100 {
            assert_eq!(ids(&c), ids(&s), "hits of {q:?}");
        }
        assert_eq!(c["facets"], s["facets"], "facets of {q:?}");
    }
    let (st, report) = get(&format!(
        "http://127.0.0.1:{api}/api/report?interval=month&by=source"
    ));
    assert_eq!(st, 200, "{report}");
    let single_report = json(&mw(
        Some(single_cfg_path),
        single,
        &[
            "report",
            "--interval",
            "month",
            "--by",
            "source",
            "--format",
            "json",
        ],
    ));
    assert_eq!(report["totals"], single_report["totals"]);
    assert_eq!(report["buckets"], single_report["buckets"]);
}

/// Documents split over two shards (one index node each, one NATS node):
/// the API merges them into the single machine's answers; stopped and
/// started again, each index node resumes from the stream position of its
/// last commit instead of reading the stream again.
#[test]
fn sharded_cluster_answers_like_one_machine_and_resumes() {
    if !servers_installed() {
        return;
    }
    let _one = ONE_CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    const FEEDS: usize = 12;
    const ITEMS: usize = 10;
    let total = (FEEDS * ITEMS) as u64;
    let server = CorpusServer::start(ITEMS);
    let tmp = tempfile::tempdir().unwrap();
    let sources = server.sources_toml(FEEDS);
    let common = "version = 1\n[index]\ncommit_interval = \"1s\"\n\
                  [fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\nper_host_concurrency = 4\n\
                  [scheduler]\ndefault_interval = \"1h\"\n";
    let single_cfg = tmp.path().join("single.toml");
    std::fs::write(&single_cfg, format!("{common}{sources}")).unwrap();
    let single = tmp.path().join("single");
    ok(&mw(Some(&single_cfg), &single, &["ingest", "--once"]));
    let cfg = tmp.path().join("cluster.toml");
    std::fs::write(
        &cfg,
        format!("{common}[cluster]\nschedule_every = \"300ms\"\nindex_commit_interval = \"300ms\"\n{sources}"),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let base = free_port_base();
    let up = |extra: &[&str]| {
        let mut args = vec!["cluster", "up", "--port-base"];
        let b = base.to_string();
        args.push(&b);
        args.extend_from_slice(extra);
        ok(&mw(Some(&cfg), &data, &args));
    };
    let topology = [
        "--nats-nodes",
        "1",
        "--workers",
        "1",
        "--shards",
        "2",
        "--indexers",
        "1",
    ];
    up(&topology);
    let guard = Down(data.clone());
    let (idx1, idx2, api) = (base + 30, base + 31, base + 50);
    wait_for_cluster(
        &data,
        "every document on one shard or the other",
        Duration::from_secs(240),
        || node_docs(idx1).unwrap_or(0) + node_docs(idx2).unwrap_or(0) == total,
    );
    let (a, b) = (node_docs(idx1).unwrap(), node_docs(idx2).unwrap());
    assert!(a > 0 && b > 0, "both shards hold documents ({a} + {b})");
    std::thread::sleep(Duration::from_secs(1));
    assert_like_single(api, &single_cfg, &single);
    let position = |port: u16| {
        get(&format!("http://127.0.0.1:{port}/internal/status")).1["position"]
            .as_u64()
            .unwrap()
    };
    let before = (position(idx1), position(idx2));
    assert!(before.0 > 0 && before.1 > 0, "{before:?}");
    // Down and up again: the same documents, the same positions, nothing
    // read again.
    ok(&mw(None, &data, &["cluster", "down"]));
    up(&topology);
    wait_for_cluster(
        &data,
        "the index nodes back",
        Duration::from_secs(120),
        || node_docs(idx1).is_some() && node_docs(idx2).is_some(),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!((position(idx1), position(idx2)), before);
    assert_eq!((node_docs(idx1).unwrap(), node_docs(idx2).unwrap()), (a, b));
    let log = std::fs::read_to_string(data.join("cluster/logs/indexer-1.log")).unwrap();
    assert!(
        log.matches("indexer started").count() == 2,
        "indexer-1 started twice: {log}"
    );
    drop(guard);
}

/// Stops the cluster when the test ends, passed or failed.
struct Down(std::path::PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let out = mw(None, &self.0, &["cluster", "down", "--grace", "20s"]);
        if !out.status.success() {
            eprintln!("cluster down: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
