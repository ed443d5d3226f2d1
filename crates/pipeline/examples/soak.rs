//! Soak test: `mediawatch run` against 10,000 feeds on loopback for half an
//! hour (the reliability issue's soak), sampling the process as it goes.
//!
//! ```sh
//! cargo build --release --bin mediawatch
//! cargo run --release -p mediawatch-pipeline --example soak -- \
//!     --bin target/release/mediawatch --sources 10000 --minutes 30
//! ```
//!
//! The feed server listens on every loopback address and each source has
//! a host of its own (`127.A.B.C`), so per-host politeness, robots.txt and
//! DNS-free connection handling are exercised as with real outlets. Every
//! feed starts with 3 items and gains one every `--new-every` minutes
//! (default 5); feeds answer conditional requests with 304. The run uses
//! the lexicon classifier (the soak is about the pipeline's resources, not
//! the encoder's), a 10-minute poll interval, the default commit interval
//! (30 s) and the default politeness (500 ms between requests to a host),
//! with 64 sources polled at once: the default 8 polls about 3 sources a
//! second when each poll fetches a few new pages 500 ms apart, fewer than
//! the 17 a second that 10,000 sources every 10 minutes need.
//!
//! Every 30 s it prints the child's resident memory, open file
//! descriptors, threads and indexed documents (`/api/health`). At the end
//! it stops the child with SIGTERM (ordered shutdown) and reads the stored
//! health of every source: sources never polled (starved), the fewest and
//! most polls, and the longest time since a source's last poll.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

struct Args {
    bin: String,
    sources: usize,
    minutes: u64,
    new_every_min: u64,
    data: std::path::PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/mediawatch".into(),
        sources: 10_000,
        minutes: 30,
        new_every_min: 5,
        data: std::env::temp_dir().join("mw-soak"),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < argv.len() {
        let v = argv[i + 1].clone();
        match argv[i].as_str() {
            "--bin" => a.bin = v,
            "--sources" => a.sources = v.parse().expect("--sources N"),
            "--minutes" => a.minutes = v.parse().expect("--minutes N"),
            "--new-every" => a.new_every_min = v.parse().expect("--new-every MINUTES"),
            "--data" => a.data = v.into(),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    a
}

/// Source `n`'s host: a loopback address of its own.
fn host(n: usize) -> String {
    format!("127.{}.{}.{}", 1 + n / 62_500, (n / 250) % 250, 1 + n % 250)
}

struct Feeds {
    started: Instant,
    new_every: Duration,
    port: u16,
    requests: AtomicU64,
}

impl Feeds {
    fn items(&self) -> usize {
        3 + (self.started.elapsed().as_secs() / self.new_every.as_secs().max(1)) as usize
    }
}

fn feed(f: &Feeds, s: usize, items: usize) -> String {
    let base = format!("http://{}:{}", host(s), f.port);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Source {s}</title><link>{base}/</link>"
    );
    for i in (0..items).rev().take(20) {
        out.push_str(&format!(
            "<item><title>Story {s}-{i}</title><link>{base}/s{s}/a{i}.html</link><guid>s{s}-a{i}</guid>\
             <description>Migranti i izbeglice u gradu, izveštaj {s}-{i}</description></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn article(s: usize, i: usize) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"sr\"><head><meta charset=\"utf-8\"><title>Story {s}-{i}</title></head><body>\
         <article><h1>Story {s}-{i}</h1><p>Lokalne vlasti saopštile su da je prihvatni centar primio još \
         četrdeset ljudi, uglavnom porodica sa decom. Volonteri dele hranu svakog jutra (story {s}-{i}).</p>\
         <p>The council debated the budget for road repairs late into the evening, with no decision.</p></article>\
         </body></html>"
    )
}

async fn serve_feed(
    State(f): State<Arc<Feeds>>,
    Path(s): Path<usize>,
    headers: HeaderMap,
) -> Response {
    f.requests.fetch_add(1, Ordering::Relaxed);
    let items = f.items();
    let etag = format!("\"{items}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/rss+xml".to_string()),
            (header::ETAG, etag),
        ],
        feed(&f, s, items),
    )
        .into_response()
}

async fn serve_article(
    State(f): State<Arc<Feeds>>,
    Path((s, file)): Path<(usize, String)>,
) -> Response {
    f.requests.fetch_add(1, Ordering::Relaxed);
    let i: usize = file
        .trim_start_matches('a')
        .trim_end_matches(".html")
        .parse()
        .unwrap_or(0);
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        article(s, i),
    )
        .into_response()
}

/// `(rss KiB, fds, threads)` of a process.
fn sample(pid: u32) -> Option<(u64, usize, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((field("VmRSS:")?, fds, field("Threads:")?))
}

async fn documents(client: &reqwest::Client, api: &str) -> Option<u64> {
    let text = client
        .get(format!("{api}/api/health"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["documents"].as_u64()
}

fn stop(child: &mut Child) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().ok().and_then(|s| s.code())
}

#[tokio::main]
async fn main() {
    let a = args();
    let _ = std::fs::remove_dir_all(&a.data);
    std::fs::create_dir_all(&a.data).expect("data directory");
    // Every loopback address reaches this listener.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let feeds = Arc::new(Feeds {
        started: Instant::now(),
        new_every: Duration::from_secs(a.new_every_min * 60),
        port,
        requests: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/s{s}/feed.xml", get(serve_feed))
        .route("/s{s}/{file}", get(serve_article))
        .with_state(feeds.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let api_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = format!(
        "version = 2\n[fetch]\nallow_private_addresses = true\nglobal_concurrency = 64\n\
         [scheduler]\ndefault_interval = \"10m\"\nadaptive = false\nconcurrent_sources = 64\n\
         [server]\nlisten = \"127.0.0.1:{api_port}\"\n[classifier]\nkind = \"lexicon\"\n"
    );
    for s in 0..a.sources {
        cfg.push_str(&format!(
            "[[sources]]\nid = \"s{s}\"\nkind = \"feed\"\nparams = {{ url = \"http://{}:{port}/s{s}/feed.xml\" }}\nname = \"Source {s}\"\ncountry = \"RS\"\nlanguages = [\"sr\"]\n",
            host(s)
        ));
    }
    let cfg_path = a.data.join("soak.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let data = a.data.join("data");
    let mut child = Command::new(&a.bin)
        .arg("--config")
        .arg(&cfg_path)
        .arg("--data-dir")
        .arg(&data)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(a.data.join("run.log"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .expect("start mediawatch run");
    let pid = child.id();
    let api = format!("http://127.0.0.1:{api_port}");
    let client = reqwest::Client::new();
    println!(
        "soak: {} sources, {} min, pid {pid}, data {}",
        a.sources,
        a.minutes,
        data.display()
    );
    println!(
        "{:>6} {:>10} {:>6} {:>8} {:>10} {:>12}",
        "min", "rss_mib", "fds", "threads", "documents", "requests"
    );
    let start = Instant::now();
    let end = start + Duration::from_secs(a.minutes * 60);
    let mut last_docs = 0;
    let mut longest_flat = Duration::ZERO;
    let mut flat_since = Instant::now();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(30)).await;
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "mediawatch run exited early with {status}; see {}",
                a.data.join("run.log").display()
            );
        }
        let (rss, fds, threads) = sample(pid).unwrap_or_default();
        let docs = documents(&client, &api).await.unwrap_or(last_docs);
        if docs > last_docs {
            longest_flat = longest_flat.max(flat_since.elapsed());
            flat_since = Instant::now();
            last_docs = docs;
        }
        println!(
            "{:>6.1} {:>10.1} {:>6} {:>8} {:>10} {:>12}",
            start.elapsed().as_secs_f64() / 60.0,
            rss as f64 / 1024.0,
            fds,
            threads,
            docs,
            feeds.requests.load(Ordering::Relaxed)
        );
    }
    let code = stop(&mut child);
    println!("stopped with SIGTERM: exit code {code:?}");
    println!(
        "longest wait between two observed document-count increases: {:.0} s (samples every 30 s)",
        longest_flat.as_secs_f64()
    );
    let out = Command::new(&a.bin)
        .arg("--config")
        .arg(&cfg_path)
        .arg("--data-dir")
        .arg(&data)
        .args(["sources", "list", "--json"])
        .output()
        .expect("sources list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sources list JSON");
    let now = chrono::Utc::now();
    let mut polls: Vec<u64> = Vec::new();
    let mut stale = chrono::Duration::zero();
    let mut failing = 0;
    for s in list.as_array().unwrap() {
        let h = &s["health"];
        polls.push(h["polls"].as_u64().unwrap_or(0));
        if h["consecutive_failures"].as_u64().unwrap_or(0) > 0 {
            failing += 1;
        }
        if let Some(t) = h["last_poll"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        {
            stale = stale.max(now - t.with_timezone(&chrono::Utc));
        }
    }
    polls.sort_unstable();
    let never = polls.iter().filter(|p| **p == 0).count();
    println!(
        "sources: {} never polled (starved), polls min {} / median {} / max {}, {failing} failing, longest since a last poll {} s",
        never,
        polls.first().unwrap_or(&0),
        polls.get(polls.len() / 2).unwrap_or(&0),
        polls.last().unwrap_or(&0),
        stale.num_seconds()
    );
}
