//! Cluster measurements for BENCHMARKS.md (the scale-out issue), on one
//! machine with a local cluster (`mediawatch cluster up`):
//!
//! ```text
//! cluster_bench workers  --bin target/release/mediawatch [--feeds 50 --items 100]
//! cluster_bench recovery --bin target/release/mediawatch [--docs 100000]
//! ```
//!
//! `workers`: the generated corpus (no article delay: the pipeline's own
//! cost, not the network's) ingested by a single machine (`ingest --once`)
//! and by clusters of 1, 2 and 3 workers (one NATS node, one indexer):
//! wall time, documents/s, and CPU seconds per document of every process
//! (workers, indexer, NATS, PostgreSQL), read from /proc. NATS's share and
//! the cluster's extra CPU over the single machine are the queue's
//! overhead per document.
//!
//! `recovery`: two indexers, one stopped; `--docs` synthetic documents
//! published to the document stream; the stopped indexer started again and
//! timed until its committed position reaches the stream's end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mediawatch_cluster::{docs_subject, Bus, DocMessage};
use mediawatch_config::Config;
use mediawatch_testkit::corpus::CorpusServer;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in seconds (0 when it is gone).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the name.
    let t: f64 = f
        .get(11..13)
        .map(|v| v.iter().filter_map(|x| x.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    t / ticks_per_second()
}

/// PIDs whose parent is `parent` (PostgreSQL's backends).
fn children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                if ppid == Some(parent) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

fn pid_of(dir: &Path, name: &str) -> Option<u32> {
    std::fs::read_to_string(dir.join("pids").join(format!("{name}.pid")))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// CPU seconds per process group of a local cluster.
fn cluster_cpu(dir: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir.join("pids")) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(name) = name.strip_suffix(".pid") else {
            continue;
        };
        let Some(pid) = pid_of(dir, name) else {
            continue;
        };
        let mut cpu = cpu_seconds(pid);
        if name == "postgres" {
            cpu += children(pid).into_iter().map(cpu_seconds).sum::<f64>();
        }
        let group = name.split('-').next().unwrap_or(name).to_string();
        *out.entry(group).or_default() += cpu;
    }
    out
}

fn mw(bin: &Path, config: &Path, data: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(bin)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run mediawatch");
    assert!(
        out.status.success(),
        "mediawatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Waits until the index node on `port` holds `want` documents (its
/// `/internal/status`, as `cluster status` reads it); how long that took.
fn wait_docs(port: u16, want: u64, within: Duration) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let t = Instant::now();
    while t.elapsed() < within {
        let status = rt.block_on(mediawatch_cluster::node_status(&client, &url));
        if status.is_ok_and(|s| s.documents == want) {
            return t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the index node on port {port} did not reach {want} documents within {within:?}");
}

/// `mediawatch cluster up` with one NATS node.
fn cluster_up(bin: &Path, cfg: &Path, data: &Path, workers: usize, indexers: usize, base: u16) {
    mw(
        bin,
        cfg,
        data,
        &[
            "cluster",
            "up",
            "--nats-nodes",
            "1",
            "--workers",
            &workers.to_string(),
            "--indexers",
            &indexers.to_string(),
            "--port-base",
            &base.to_string(),
        ],
    );
}

fn config_text(server: &CorpusServer, feeds: usize) -> String {
    format!(
        "version = 1\n[index]\ncommit_interval = \"1s\"\n\
         [fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\nper_host_concurrency = 16\n\
         [scheduler]\nmax_articles_per_pass = 100000\ndefault_interval = \"1h\"\n\
         [cluster]\nschedule_every = \"200ms\"\nindex_commit_interval = \"1s\"\nworker_concurrency = 8\n{}",
        server.sources_toml(feeds)
    )
}

fn workers(bin: &Path, args: &[String]) {
    let feeds: usize = arg(args, "--feeds").map_or(50, |v| v.parse().unwrap());
    let items: usize = arg(args, "--items").map_or(100, |v| v.parse().unwrap());
    let total = (feeds * items) as u64;
    let server = CorpusServer::start_with_delay(items, Duration::ZERO);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bench.toml");
    std::fs::write(&cfg, config_text(&server, feeds)).unwrap();
    // The single machine: same corpus, same classifier, no queue.
    let single_cfg = tmp.path().join("single.toml");
    let text = config_text(&server, feeds);
    let cut = text.find("[cluster]").unwrap();
    let src = text.find("[[sources]]").unwrap();
    std::fs::write(&single_cfg, format!("{}{}", &text[..cut], &text[src..])).unwrap();
    let t = Instant::now();
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(&single_cfg)
        .arg("--data-dir")
        .arg(tmp.path().join("single"))
        .args(["ingest", "--once"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut cpu = 0.0;
    loop {
        let c = cpu_seconds(pid);
        if c > 0.0 {
            cpu = c;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = t.elapsed().as_secs_f64();
    println!("| setup | documents | wall s | docs/s | CPU-s/doc: workers | indexer | NATS | PostgreSQL | all |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| single machine (`ingest --once`, SQLite) | {total} | {wall:.1} | {:.0} | | | | | {:.2} ms |",
        total as f64 / wall,
        cpu * 1000.0 / total as f64
    );
    for w in 1..=3usize {
        let data = tmp.path().join(format!("c{w}"));
        let dir = data.join("cluster");
        let base = 21_000 + 100 * w as u16;
        let t = Instant::now();
        cluster_up(bin, &cfg, &data, w, 1, base);
        let up = t.elapsed();
        let ingest = wait_docs(base + 30, total, Duration::from_secs(1800));
        let cpu = cluster_cpu(&dir);
        mw(bin, &cfg, &data, &["cluster", "down"]);
        let per = |k: &str| cpu.get(k).copied().unwrap_or(0.0) * 1000.0 / total as f64;
        let all: f64 = cpu.values().sum::<f64>() * 1000.0 / total as f64;
        println!(
            "| cluster, {w} worker{} (1 NATS node, 1 indexer) | {total} | {:.1} (+{:.1} start) | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {all:.2} ms |",
            if w > 1 { "s" } else { "" },
            ingest.as_secs_f64(),
            up.as_secs_f64(),
            total as f64 / ingest.as_secs_f64(),
            per("worker"),
            per("indexer"),
            per("nats"),
            per("postgres"),
        );
    }
}

fn recovery(bin: &Path, args: &[String]) {
    let docs: usize = arg(args, "--docs").map_or(100_000, |v| v.parse().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bench.toml");
    std::fs::write(
        &cfg,
        "version = 2\n[cluster]\nindex_commit_interval = \"2s\"\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let dir = data.join("cluster");
    let base = 22_000u16;
    cluster_up(bin, &cfg, &data, 1, 2, base);
    // indexer-2 goes down (cleanly: SIGTERM) before the documents arrive.
    let pid2 = pid_of(&dir, "indexer-2").unwrap();
    Command::new("kill").arg(pid2.to_string()).status().unwrap();
    while Path::new(&format!("/proc/{pid2}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid2}/stat")).is_ok_and(|s| !s.contains(") Z"))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let cluster_cfg = Config::load(&dir.join("cluster.toml")).unwrap();
    let cluster = cluster_cfg.cluster.unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let published = Instant::now();
    rt.block_on(async {
        let bus = Bus::connect(&cluster, "bench").await.unwrap();
        let source = mediawatch_testkit::source("bench");
        let mut pending = Vec::new();
        for i in 0..docs {
            let doc = mediawatch_testkit::doc(&format!("https://bench.example/{i}"))
                .title(&format!("Title {i}"))
                .published(mediawatch_testkit::day(
                    2026,
                    1 + (i / 28 % 12) as u32,
                    1 + (i % 28) as u32,
                ))
                .lang("en")
                .source("bench")
                .text(&format!(
                    "Document {i}: the municipality opened language classes for refugees; \
                     migranti su stigli u prihvatni centar. Broj {i}."
                ))
                .build();
            let m = DocMessage {
                doc,
                source: source.clone(),
                extra: Default::default(),
            };
            let (bus, id, payload) = (
                bus.clone(),
                m.message_id(),
                bytes::Bytes::from(serde_json::to_vec(&m).unwrap()),
            );
            pending.push(tokio::spawn(async move {
                bus.publish(&docs_subject(0), &id, payload).await
            }));
            if pending.len() >= 512 {
                for p in pending.drain(..) {
                    p.await.unwrap().unwrap();
                }
            }
        }
        for p in pending {
            p.await.unwrap().unwrap();
        }
    });
    let publish_s = published.elapsed().as_secs_f64();
    let live = wait_docs(base + 30, docs as u64, Duration::from_secs(3600));
    let live_s = published.elapsed().as_secs_f64();
    let nats_cpu = cluster_cpu(&dir).get("nats").copied().unwrap_or(0.0);
    // Back up: `cluster up` starts what is not running.
    let t = Instant::now();
    mw(
        bin,
        &cfg,
        &data,
        &["cluster", "up", "--port-base", &base.to_string()],
    );
    let caught_up = wait_docs(base + 31, docs as u64, Duration::from_secs(3600));
    let recovery = t.elapsed();
    let idx2 = pid_of(&dir, "indexer-2").map(cpu_seconds).unwrap_or(0.0);
    mw(bin, &cfg, &data, &["cluster", "down"]);
    let _ = live;
    println!("| measure | value |");
    println!("|---|---|");
    println!("| documents published while indexer-2 was down | {docs} |");
    println!(
        "| publish (one client, 512 in flight, acked) | {publish_s:.1} s, {:.0} docs/s |",
        docs as f64 / publish_s
    );
    println!("| indexer-1 live (publish start to all committed) | {live_s:.1} s |");
    println!(
        "| NATS CPU for publishing and two consumers | {:.3} ms per document |",
        nats_cpu * 1000.0 / docs as f64
    );
    println!(
        "| indexer-2 recovery (restart to all {docs} committed) | **{:.1} s** ({:.0} docs/s; index {:.1} s of it), {:.1} CPU-s |",
        recovery.as_secs_f64(),
        docs as f64 / recovery.as_secs_f64(),
        caught_up.as_secs_f64(),
        idx2
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin =
        PathBuf::from(arg(&args, "--bin").unwrap_or_else(|| "target/release/mediawatch".into()));
    match args.get(1).map(String::as_str) {
        Some("workers") => workers(&bin, &args),
        Some("recovery") => recovery(&bin, &args),
        _ => eprintln!(
            "usage: cluster_bench workers|recovery --bin PATH [--feeds N --items N | --docs N]"
        ),
    }
}
