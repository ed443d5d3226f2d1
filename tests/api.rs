//! `mediawatch run`: scheduler, workers and HTTP API, then a clean Ctrl-C.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;
use mediawatch_testkit::free_port;

/// Minimal HTTP/1.1 GET on loopback (keeps the test free of an HTTP client).
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let (status, body) = get_raw(port, path)?;
    // Bodies may be chunked: take the JSON between the first '{' and last '}'.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => body[a..=b].to_string(),
        _ => body,
    };
    Some((status, body))
}

/// The status and the raw body (sent with a length, not chunked).
fn get_raw(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split(' ').nth(1)?.parse().ok()?;
    Some((status, buf.split_once("\r\n\r\n")?.1.to_string()))
}

#[test]
fn run_serves_api_and_shuts_down_cleanly() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(
        tmp.path(),
        &server.base,
        "[index]\ncommit_interval = \"1s\"\n",
    );
    // `[index]` must precede `[[sources]]` in TOML, so rewrite the file.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let (head, rest) = text.split_once("[[sources]]").unwrap();
    let rest = rest.replace("[index]\ncommit_interval = \"1s\"\n", "");
    std::fs::write(
        &cfg,
        format!("{head}[index]\ncommit_interval = \"1s\"\n[[sources]]{rest}"),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mediawatch"))
        .env("MEDIAWATCH_CLASSIFIER", "lexicon")
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut found = None;
    while Instant::now() < deadline {
        if let Some((200, body)) = get(port, "/api/search?q=zanzibarian") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if v["total"] == 1 {
                found = Some(v);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let found = found.unwrap_or_else(|| {
        let _ = child.kill();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        panic!("the article never became searchable through the API; stderr:\n{err}");
    });
    assert_eq!(found["hits"][0]["source"], "glas-doline");

    let (status, body) = get(port, "/api/health").unwrap();
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert!(health["documents"].as_u64().unwrap() >= 2);

    // Prometheus metrics of the pipeline: the polls, the documents and
    // the commit that made them searchable.
    let (status, text) = get_raw(port, "/metrics").unwrap();
    assert_eq!(status, 200, "{text}");
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert!(value("mediawatch_polls_total{result=\"success\"}") >= 1.0);
    assert!(value("mediawatch_documents_indexed_total") >= 2.0);
    assert!(value("mediawatch_index_commits_total") >= 1.0);
    assert!(value("mediawatch_classify_batch_seconds_count") >= 1.0);

    // A bad query is a 400 with a message, not a panic or an empty result.
    let (status, body) = get(port, "/api/search?q=title:(unclosed").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("error"), "{body}");

    // Ctrl-C: the index is committed and the process exits 0.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "run did not stop after Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "exit {status}; stderr:\n{err}");
    assert!(err.contains("stopped cleanly"), "{err}");

    // After shutdown the data is all there.
    let res = json(&mw(None, &data, &["search", "zanzibarian", "--json"]));
    assert_eq!(res["total"], 1);
}

#[test]
fn run_without_network_reports_errors_and_still_serves() {
    let tmp = tempfile::tempdir().unwrap();
    // `.invalid` never resolves (RFC 2606): the offline case, without relying
    // on what the CI machine's resolver does with real names.
    let cfg = tmp.path().join("offline.toml");
    std::fs::write(
        &cfg,
        r#"version = 1
[fetch]
max_retries = 0
[[sources]]
id = "offline-portal"
kind = "feed"
url = "https://news.example.invalid/rss"
name = "Offline Portal"
country = "MK"
languages = ["mk"]
"#,
    )
    .unwrap();
    let data = tmp.path().join("data");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mediawatch"))
        .env("MEDIAWATCH_CLASSIFIER", "lexicon")
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut failing = false;
    while Instant::now() < deadline {
        if let Some((200, body)) = get(port, "/api/sources") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let s = &v["sources"][0];
            if s["status"] == "failing" {
                let err = s["health"]["last_error"].as_str().unwrap();
                assert!(err.contains("news.example.invalid"), "{err}");
                failing = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _) = get(port, "/api/health").unwrap_or((0, String::new()));
    let (exit, err) = stop_with(&mut child, "-INT");
    assert!(
        failing,
        "the source never reported its network error; stderr:\n{err}"
    );
    assert_eq!(status, 200);
    assert!(exit.success(), "{err}");
}

/// SIGTERM, what `kill`, systemd and Docker send to stop a service, starts
/// the same ordered shutdown as Ctrl-C: the process exits 0 and says so.
#[test]
fn run_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("empty.toml");
    std::fs::write(&cfg, "version = 2\n").unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mediawatch"))
        .env("MEDIAWATCH_CLASSIFIER", "lexicon")
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/api/health").is_none() {
        assert!(Instant::now() < deadline, "run never served");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (exit, err) = stop_with(&mut child, "-TERM");
    assert!(exit.success(), "exit {exit}; stderr:\n{err}");
    assert!(err.contains("stopped cleanly"), "{err}");
}

/// Sends `signal` to a spawned `run` and waits for it: its exit status and
/// everything it wrote to stderr.
fn stop_with(child: &mut std::process::Child, signal: &str) -> (std::process::ExitStatus, String) {
    let pid = child.id().to_string();
    Command::new("kill").args([signal, &pid]).status().unwrap();
    let exit = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (exit, err)
}
