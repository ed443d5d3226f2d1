//! Shared test helpers: a loopback fixture server and a runner for the binary.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;

/// Paths answered with an error status (and optional Retry-After seconds).
type Failures = Arc<Mutex<HashMap<String, (u16, Option<u64>)>>>;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A loopback HTTP server serving `tests/fixtures/site`, with `{base}`
/// replaced by its own address, ETags and 304s, and request counting.
/// It runs on its own thread and runtime so tests can stay synchronous.
pub struct FixtureServer {
    pub base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    not_modified: Arc<AtomicUsize>,
    conditional: Arc<AtomicBool>,
    failures: Failures,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl FixtureServer {
    pub fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let not_modified = Arc::new(AtomicUsize::new(0));
        let conditional = Arc::new(AtomicBool::new(true));
        let failures: Failures = Arc::default();
        let (h, nm, cond, fail) = (
            hits.clone(),
            not_modified.clone(),
            conditional.clone(),
            failures.clone(),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr: SocketAddr = listener.local_addr().unwrap();
                let base = format!("http://{addr}");
                tx.send(base.clone()).unwrap();
                let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
                    let (base, h, nm) = (base.clone(), h.clone(), nm.clone());
                    let cond = cond.load(Ordering::SeqCst);
                    let failing = fail.lock().unwrap().get(uri.path()).copied();
                    async move {
                        if let Some((status, retry_after)) = failing {
                            *h.lock().unwrap().entry(uri.path().to_string()).or_default() += 1;
                            let mut r = Response::builder().status(status);
                            if let Some(s) = retry_after {
                                r = r.header(header::RETRY_AFTER, s.to_string());
                            }
                            return r.body(Body::from("failing on purpose")).unwrap();
                        }
                        if uri.path().starts_with("/drip/") {
                            *h.lock().unwrap().entry(uri.path().to_string()).or_default() += 1;
                            return drip();
                        }
                        serve(&base, &uri, &headers, &h, &nm, cond)
                    }
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let base = rx.recv().unwrap();
        Self {
            base,
            hits,
            not_modified,
            conditional,
            failures,
            _shutdown: stop_tx,
        }
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Makes `path` answer `status` (with Retry-After seconds), or heals it.
    pub fn set_failure(&self, path: &str, failure: Option<(u16, Option<u64>)>) {
        let mut f = self.failures.lock().unwrap();
        match failure {
            Some(v) => f.insert(path.to_string(), v),
            None => f.remove(path),
        };
    }

    /// Turns ETag/304 handling on or off.
    pub fn set_conditional(&self, on: bool) {
        self.conditional.store(on, Ordering::SeqCst);
    }

    pub fn not_modified(&self) -> usize {
        self.not_modified.load(Ordering::SeqCst)
    }
}

/// A feed that never finishes: a valid RSS head, then one byte a second
/// (each within any read timeout), for ten minutes. Only the fetcher's
/// total timeout ends it.
fn drip() -> Response {
    let head = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>slow</title>";
    let stream = futures_util::stream::unfold(0u32, move |n| async move {
        if n >= 600 {
            return None;
        }
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        let chunk = if n == 0 {
            head.to_string()
        } else {
            " ".to_string()
        };
        Some((Ok::<_, std::io::Error>(chunk), n + 1))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/rss+xml")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// Runs the binary with `args` in the background, as [`mw`] would.
pub fn mw_spawn(config: &Path, data: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mediawatch"))
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("RUST_LOG")
        .env("MEDIAWATCH_CLASSIFIER", "lexicon")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mediawatch")
}

fn serve(
    base: &str,
    uri: &Uri,
    headers: &HeaderMap,
    hits: &Mutex<HashMap<String, usize>>,
    nm: &AtomicUsize,
    conditional: bool,
) -> Response {
    let path = uri.path().to_string();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let file = fixtures().join("site").join(path.trim_start_matches('/'));
    let Ok(bytes) = std::fs::read(&file) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("not found"))
            .unwrap();
    };
    let body = String::from_utf8(bytes).unwrap().replace("{base}", base);
    let etag = format!(
        "\"{:x}\"",
        body.len() * 31 + body.bytes().map(|b| b as usize).sum::<usize>()
    );
    if conditional
        && headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        nm.fetch_add(1, Ordering::SeqCst);
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap();
    }
    let ct = if path.ends_with(".xml") {
        "application/rss+xml"
    } else {
        "text/html; charset=utf-8"
    };
    let mut r = Response::builder().header(header::CONTENT_TYPE, ct);
    if conditional {
        r = r.header(header::ETAG, etag);
    }
    r.body(Body::from(body)).unwrap()
}

/// Runs the binary with `--config` and `--data-dir` set.
pub fn mw(config: Option<&Path>, data: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mediawatch"));
    if let Some(cfg) = config {
        c.arg("--config").arg(cfg);
    }
    c.arg("--data-dir").arg(data).args(args);
    c.env_remove("RUST_LOG");
    // The CLI tests pin the lexicon classifier: their assertions are about
    // the pipeline, and the encoder's own tests live in crates/classify and
    // crates/embed.
    c.env("MEDIAWATCH_CLASSIFIER", "lexicon");
    c.output().expect("run mediawatch")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success, showing both streams otherwise.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "mediawatch failed ({}):\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

pub fn json(o: &Output) -> serde_json::Value {
    let out = ok(o);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

/// Writes a config with the glas-doline source at `base` plus `extra` TOML.
pub fn write_config(dir: &Path, base: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"version = 1
[fetch]
allow_private_addresses = true
per_host_interval = "1ms"
[[sources]]
id = "glas-doline"
kind = "feed"
url = "{base}/feed.xml"
name = "Glas Doline"
country = "RS"
languages = ["sr", "en"]
{extra}"#
    );
    let p = dir.join("mediawatch.toml");
    std::fs::write(&p, text).unwrap();
    p
}

pub use mediawatch_testkit::corpus::CorpusServer;

/// A small tmpfs mounted for one test, to fill up on purpose (unmounted on
/// drop). Needs root and permission to mount; [`SmallDisk::mount`] returns
/// `None` (and the test says it was skipped) where that is not allowed.
pub struct SmallDisk {
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(bytes: u64) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
            return None;
        }
        Some(Self {
            path: dir.path().to_path_buf(),
            _dir: dir,
        })
    }

    /// Bytes in use.
    pub fn used(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=used", "-B1"])
            .arg(&self.path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap()
    }

    /// Grows or shrinks it (never below what is in use).
    pub fn resize(&self, bytes: u64) {
        self.remount(&format!("size={bytes}"));
    }

    /// Makes it read-only, or writable again.
    pub fn read_only(&self, yes: bool) {
        self.remount(if yes { "ro" } else { "rw" });
    }

    fn remount(&self, opts: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot remount the tmpfs at {} ({opts})",
            self.path.display()
        );
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}
