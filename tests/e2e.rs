//! End-to-end tests of the web dashboard in Debian's headless Chromium,
//! driven over W3C WebDriver (chromedriver) against the real `mediawatch`
//! binary serving a real index.
//!
//! Without `chromium` and `chromedriver` the tests print a SKIPPED line and
//! pass, so `cargo test` works on a machine without a browser; CI sets
//! `MEDIAWATCH_E2E=required` (after `.ci/chromium.sh`) so they cannot be
//! skipped there. Screenshots of every step (and of the page where a test
//! failed) go to `<target>/e2e-artifacts/<test>/`.

mod webdriver;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use mediawatch_testkit::free_port;
use webdriver::{http, Driver, Element, Session, WdError};

/// Badge classes the dashboard may show (`span.badge.badge-<label>`).
const LABELS: [&str; 8] = [
    "relevant",
    "hate",
    "offensive",
    "collective_labelling",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

/// How long an element may take to appear after a navigation or a click.
const WAIT: Duration = Duration::from_secs(10);

/// Writes straight to stderr: libtest captures `eprintln!`, and a skipped
/// browser test must be visible in a passing run.
fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium and chromedriver, from `MEDIAWATCH_CHROMIUM` /
/// `MEDIAWATCH_CHROMEDRIVER` or the Debian locations.
fn browser_binaries() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("MEDIAWATCH_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| which("chromium"))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let driver = std::env::var_os("MEDIAWATCH_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| which("chromedriver"))
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    let missing: Vec<String> = [&chromium, &driver]
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        Ok((chromium, driver))
    } else {
        Err(format!("not found: {}", missing.join(", ")))
    }
}

/// `<target>/e2e-artifacts/<test>`, emptied.
fn artifacts_dir(test: &str) -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; its parent is the target dir,
    // wherever CARGO_TARGET_DIR points.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap_or(Path::new("target"))
        .join("e2e-artifacts")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the e2e artifacts dir");
    dir
}

/// A headless Chromium session with its chromedriver, profile and download
/// directory. Dropping it quits the browser and kills the driver, also when
/// the test panics (after saving a screenshot and the page source).
struct Browser {
    // Field order is drop order: the session (browser) goes before its
    // driver, and both before the profile directory they use.
    s: Session,
    _driver: Driver,
    downloads: PathBuf,
    artifacts: PathBuf,
    shots: AtomicUsize,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (after a loud SKIPPED line) when no browser is installed,
    /// unless `MEDIAWATCH_E2E=required`.
    fn launch(test: &str) -> Option<Browser> {
        let (chromium, chromedriver) = match browser_binaries() {
            Ok(b) => b,
            Err(why) => {
                if std::env::var("MEDIAWATCH_E2E").as_deref() == Ok("required") {
                    panic!(
                        "e2e {test}: MEDIAWATCH_E2E=required but {why}; install the Debian \
                         packages `chromium` and `chromium-driver` (.ci/chromium.sh does it)"
                    );
                }
                loud(&format!(
                    "\n==== e2e {test}: SKIPPED (install chromium chromium-driver): {why} ====\n"
                ));
                return None;
            }
        };
        let artifacts = artifacts_dir(test);
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads dir");
        let driver = Driver::start(&chromedriver, &artifacts.join("chromedriver.log"))
            .unwrap_or_else(|e| panic!("e2e {test}: {e}"));
        let caps = json!({
            "browserName": "chrome",
            // An alert left open stays open, so the XSS checks can see it.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            },
        });
        let s = Session::new(&driver, caps)
            .unwrap_or_else(|e| panic!("e2e {test}: cannot open a Chromium session: {e}"));
        s.set_timeouts(30_000, 10_000)
            .unwrap_or_else(|e| panic!("e2e {test}: timeouts: {e}"));
        loud(&format!(
            "e2e {test}: screenshots in {} (session {})",
            artifacts.display(),
            s.id()
        ));
        Some(Browser {
            s,
            _driver: driver,
            downloads,
            artifacts,
            shots: AtomicUsize::new(0),
            _profile: profile,
        })
    }

    fn must<T>(&self, what: &str, r: Result<T, WdError>) -> T {
        r.unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    fn goto(&self, url: &str) {
        self.must(&format!("open {url}"), self.s.goto(url));
    }

    fn url(&self) -> String {
        self.must("current URL", self.s.current_url())
    }

    /// Saves a numbered screenshot of the viewport.
    fn shot(&self, name: &str) -> PathBuf {
        let n = self.shots.fetch_add(1, Ordering::SeqCst) + 1;
        let path = self.artifacts.join(format!("{n:02}-{name}.png"));
        let png = self.must("screenshot", self.s.screenshot());
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    fn find_all(&self, css: &str) -> Vec<Element> {
        self.must(&format!("find {css}"), self.s.find_all(css))
    }

    fn text(&self, e: &Element) -> String {
        self.must("element text", self.s.text(e))
    }

    fn attr(&self, e: &Element, name: &str) -> Option<String> {
        self.must(&format!("attribute {name}"), self.s.attr(e, name))
    }

    fn js(&self, script: &str) -> Value {
        self.must(script, self.s.execute(script, vec![]))
    }

    /// Polls `f` until it yields a value; panics with `what` after `limit`.
    fn wait_until<T>(&self, what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {limit:?} waiting for {what} on {}",
                    self.url()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `css` matches at least one displayed element.
    fn wait_for(&self, css: &str) -> Element {
        self.wait_until(css, WAIT, || {
            self.find_all(css)
                .into_iter()
                .find(|e| self.s.displayed(e).unwrap_or(false))
        })
    }

    /// No injected script ran on the current page: no dialog is open,
    /// `window.__xss` was never set, no element carries an inline event
    /// handler, every script is one of ours, and no link or resource uses a
    /// `javascript:` URL.
    fn assert_inert(&self, page: &str) {
        let alert = self.must("alert check", self.s.alert_text());
        assert!(
            alert.is_none(),
            "{page}: a dialog is open ({alert:?}): injected script ran"
        );
        let v = self.js(r#"const bad = [];
            for (const el of document.querySelectorAll('*')) {
              for (const a of el.attributes) {
                const n = a.name.toLowerCase();
                const v = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
                if (n.startsWith('on')) bad.push(el.tagName + ' ' + n + '=' + a.value);
                if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data'].includes(n)
                    && (v.startsWith('javascript:') || v.startsWith('vbscript:')))
                  bad.push(el.tagName + ' ' + n + '=' + a.value);
              }
            }
            for (const s of document.scripts) {
              const src = s.getAttribute('src') || '';
              if (!src.startsWith('/assets/') && !src.startsWith(location.origin + '/assets/'))
                bad.push('script ' + (src || s.textContent.slice(0, 80)));
            }
            return { xss: typeof window.__xss, bad: bad };"#);
        assert_eq!(
            v["xss"], "undefined",
            "{page}: window.__xss was set: injected script ran"
        );
        assert_eq!(
            v["bad"],
            json!([]),
            "{page}: injected markup is live in the DOM"
        );
    }

    /// Files fully downloaded so far (Chromium writes `*.crdownload` first).
    fn downloaded(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.downloads)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension().is_none_or(|x| x != "crdownload")
                            && p.metadata().is_ok_and(|m| m.len() > 0)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(png) = self.s.screenshot() {
                let _ = std::fs::write(self.artifacts.join("failure.png"), png);
            }
            if let Ok(v) = self
                .s
                .execute("return document.documentElement.outerHTML", vec![])
            {
                let _ = std::fs::write(
                    self.artifacts.join("failure.html"),
                    v.as_str().unwrap_or_default(),
                );
            }
            loud(&format!(
                "e2e: failure screenshot and page in {}",
                self.artifacts.display()
            ));
        }
    }
}

/// The `mediawatch` binary serving HTTP on a free loopback port; killed on
/// drop. Its output goes to a log file shown when it fails to come up.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Runs `mediawatch [--config CFG] --data-dir DATA <sub> --listen ADDR`
    /// and waits for `/api/health`.
    fn start(config: Option<&Path>, data: &Path, sub: &str, log: &Path) -> Server {
        Self::start_with_token(config, data, sub, log, None)
    }

    /// [`Server::start`] with `MEDIAWATCH_TOKEN` set: the state-changing
    /// requests of the dashboard's forms are accepted.
    fn start_with_token(
        config: Option<&Path>,
        data: &Path,
        sub: &str,
        log: &Path,
        token: Option<&str>,
    ) -> Server {
        let port = free_port();
        let mut c = Command::new(env!("CARGO_BIN_EXE_mediawatch"));
        c.env("MEDIAWATCH_CLASSIFIER", "lexicon");
        if let Some(cfg) = config {
            c.arg("--config").arg(cfg);
        }
        let out = std::fs::File::create(log).expect("server log");
        c.arg("--data-dir")
            .arg(data)
            .args([sub, "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("RUST_LOG")
            .env_remove("MEDIAWATCH_TOKEN")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("server log"))
            .stderr(out);
        if let Some(t) = token {
            c.env("MEDIAWATCH_TOKEN", t);
        }
        let mut s = Server {
            child: c.spawn().expect("start mediawatch"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!(
                    "mediawatch {sub} exited ({status}) before serving:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            let health = http(
                "GET",
                &format!("{}/api/health", s.base),
                None,
                Duration::from_secs(5),
            );
            if health.is_ok_and(|r| r.status == 200) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "mediawatch {sub}: /api/health not up within 90 s:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// GETs an API path and parses the JSON answer.
    fn api(&self, path_and_query: &str) -> Value {
        let url = format!("{}{path_and_query}", self.base);
        let r = http("GET", &url, None, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200, "GET {url}: {}", r.text());
        serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query-string value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The strings a label's evidence spans cover, lower-cased. Spans are byte
/// offsets into the classified text; which text (body alone, or title and
/// body) is the classifier's business, so both readings are accepted.
fn span_texts(doc: &Value) -> BTreeSet<String> {
    let title = doc["title"].as_str().unwrap_or_default();
    let text = doc["text"].as_str().unwrap_or_default();
    let joined = [
        text.to_string(),
        format!("{title}\n\n{text}"),
        format!("{title}\n{text}"),
    ];
    let l = &doc["labels"];
    let spans = [
        &l["collective_labelling"]["spans"],
        &l["relevance"]["evidence"],
        &l["frame"]["evidence"],
        &l["solutions"]["evidence"],
    ];
    let mut out = BTreeSet::new();
    for list in spans {
        for s in list.as_array().into_iter().flatten() {
            let (Some(a), Some(b)) = (s["start"].as_u64(), s["end"].as_u64()) else {
                continue;
            };
            for t in &joined {
                if let Some(x) = t.get(a as usize..b as usize) {
                    out.insert(x.trim().to_lowercase());
                }
            }
        }
    }
    out
}

/// Search, document, bad query, trends chart and CSV export on the demo corpus.
#[test]
fn dashboard_search_document_trends_export() {
    let Some(b) = Browser::launch("dashboard") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let srv = Server::start(None, tmp.path(), "demo", &b.artifacts.join("server.log"));
    let base = &srv.base;

    // The document to open: a search hit with collective-labelling evidence.
    let query = "migrants";
    let api = srv.api(&format!("/api/search?q={query}&limit=100"));
    let total = api["total"].as_u64().unwrap();
    assert!(total >= 2, "demo corpus: too few hits for {query}: {api:#}");
    let target = api["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| {
            h["labels"]["collective_labelling"]["spans"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
                && h["labels"]["collective_labelling"]["score"]
                    .as_f64()
                    .is_some_and(|x| x >= 0.5)
        })
        .unwrap_or_else(|| panic!("no hit with evidence spans: {api:#}"));
    let id = target["id"].as_str().unwrap().to_string();
    let doc = srv.api(&format!("/api/documents/{id}"));

    // 1. The dashboard: `/` lands on the search page.
    b.goto(&format!("{base}/"));
    b.wait_for("form#search-form");
    assert!(
        b.url().starts_with(&format!("{base}/search")),
        "/ did not redirect to /search: {}",
        b.url()
    );
    b.assert_inert("dashboard");
    b.shot("dashboard");

    // 2. A search typed into the form.
    let q = b.wait_for("input#q");
    b.must("clear #q", b.s.clear(&q));
    b.must("type into #q", b.s.send_keys(&q, query));
    let submit = b.wait_for("button#search-submit");
    b.must("submit", b.s.click(&submit));
    let hits = b.wait_until("li.hit results", WAIT, || {
        let url = b.url();
        let hits = b.find_all("ol#hits > li.hit");
        (url.contains(&format!("q={query}")) && !hits.is_empty()).then_some(hits)
    });
    assert!(hits.len() as u64 <= total);
    let count = b.text(&b.wait_for("#hit-count"));
    assert!(
        count.contains(&total.to_string()),
        "#hit-count {count:?} does not say {total}"
    );
    let marks: Vec<String> = b
        .find_all("ol#hits .hit-snippet mark")
        .iter()
        .map(|m| b.text(m).to_lowercase())
        .collect();
    assert!(
        marks.iter().any(|m| m.contains("migrant")),
        "no highlighted query term in the snippets: {marks:?}"
    );
    let badges = b.find_all("ol#hits li.hit span.badge");
    assert!(!badges.is_empty(), "no label badges");
    for badge in &badges {
        let class = b.attr(badge, "class").unwrap_or_default();
        assert!(
            LABELS
                .iter()
                .any(|l| class.split_whitespace().any(|c| c == format!("badge-{l}"))),
            "badge without a known label class: {class:?}"
        );
        let title = b.attr(badge, "title").unwrap_or_default();
        assert!(
            title.chars().any(|c| c.is_ascii_digit()),
            "badge {class:?} shows no score in its title: {title:?}"
        );
    }
    let link = format!("/documents/{id}");
    let target_hit = hits
        .iter()
        .find(|h| {
            b.s.find_all_in(h, "a.hit-title")
                .ok()
                .and_then(|a| a.first().cloned())
                .and_then(|a| b.attr(&a, "href"))
                .is_some_and(|href| href.ends_with(&link))
        })
        .unwrap_or_else(|| panic!("no hit links to {link}"));
    let target_badges = b.must(
        "badges of the target hit",
        b.s.find_all_in(target_hit, "span.badge.badge-collective_labelling"),
    );
    assert_eq!(
        target_badges.len(),
        1,
        "the hit with collective labelling ({id}) has no badge for it"
    );
    b.assert_inert("search");
    b.shot("search-results");

    // 3. The document view with evidence spans marked in the text.
    let title_link = b.must("hit title", b.s.find_all_in(target_hit, "a.hit-title"));
    b.must("open the document", b.s.click(&title_link[0]));
    let h1 = b.wait_for("h1#doc-title");
    assert!(b.url().ends_with(&link), "clicked into {}", b.url());
    assert_eq!(b.text(&h1).trim(), doc["title"].as_str().unwrap().trim());
    b.wait_for("#doc-text mark.evidence");
    let spans = span_texts(&doc);
    let mut matched = 0;
    for m in b.find_all("#doc-text mark.evidence") {
        let label = b.attr(&m, "data-label").unwrap_or_default();
        // `frame` marks frame evidence without a threat/victim/recognition cue type.
        assert!(
            LABELS.contains(&label.as_str()) || label == "frame",
            "evidence mark with unknown data-label {label:?}"
        );
        assert!(
            b.attr(&m, "data-cue").is_some_and(|c| !c.is_empty()),
            "evidence mark ({label}) without data-cue"
        );
        let text = b.text(&m).trim().to_lowercase();
        assert!(!text.is_empty(), "empty evidence mark ({label})");
        if spans.contains(&text) {
            matched += 1;
        }
    }
    assert!(
        matched > 0,
        "no evidence mark covers a classifier span; spans: {spans:?}"
    );
    assert!(
        !b.find_all("#doc-labels").is_empty(),
        "no #doc-labels table"
    );
    b.assert_inert("document");
    b.shot("document");

    // 4. A malformed query is explained, not answered with results.
    b.goto(&format!("{base}/search"));
    let q = b.wait_for("input#q");
    b.must("clear #q", b.s.clear(&q));
    b.must("type into #q", b.s.send_keys(&q, "(migrants"));
    b.must("submit", b.s.click(&b.wait_for("button#search-submit")));
    let err = b.wait_for("#query-error");
    let msg = b.text(&err);
    assert!(
        msg.contains("unclosed") && msg.contains('('),
        "#query-error does not explain the error: {msg:?}"
    );
    assert!(b.find_all("ol#hits > li.hit").is_empty());
    b.shot("query-error");

    // 5. Trends: two compared queries drawn as an SVG chart with a tooltip.
    b.goto(&format!(
        "{base}/trends?q={query}&compare=refugees&by=country&interval=month"
    ));
    let chart = b.wait_until(
        "svg#trend-chart[data-rendered=\"true\"]",
        Duration::from_secs(15),
        || {
            if !b
                .find_all("svg#trend-chart[data-rendered=\"error\"]")
                .is_empty()
            {
                let msg: Vec<String> = b
                    .find_all("#query-error")
                    .iter()
                    .map(|e| b.text(e))
                    .collect();
                panic!("the chart failed to load its data: {msg:?}");
            }
            b.find_all("svg#trend-chart[data-rendered=\"true\"]")
                .into_iter()
                .next()
        },
    );
    let series = b.find_all("svg#trend-chart path.series");
    assert!(!series.is_empty(), "chart rendered without a path.series");
    let rect = b.must(
        "chart size",
        b.s.execute_on(
            "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];",
            &chart,
        ),
    );
    let (w, h) = (
        rect[0].as_f64().unwrap_or(0.0),
        rect[1].as_f64().unwrap_or(0.0),
    );
    assert!(w > 50.0 && h > 50.0, "chart is {w}x{h} px");
    // Sweep the pointer across the plot until the tooltip shows a value.
    let tip = b.wait_until("#chart-tooltip on hover", WAIT, || {
        for i in -8..=8i64 {
            for dy in [0.0, -0.2, 0.2] {
                let x = (w * 0.05 * i as f64) as i64;
                let y = (h * dy) as i64;
                if b.s.hover(&chart, x, y).is_err() {
                    continue;
                }
                let shown = b.find_all("#chart-tooltip").into_iter().find(|t| {
                    b.s.displayed(t).unwrap_or(false)
                        && !b.s.text(t).unwrap_or_default().trim().is_empty()
                });
                if shown.is_some() {
                    return shown;
                }
            }
        }
        None
    });
    assert!(b.text(&tip).chars().any(|c| c.is_ascii_digit()));
    b.assert_inert("trends");
    b.shot("trends-tooltip");
    // The legend toggles its series.
    let toggles = b.find_all("#chart-legend button");
    assert_eq!(toggles.len(), series.len(), "one legend entry per series");
    b.must("toggle a series", b.s.click(&toggles[0]));
    let first_off = || {
        b.attr(&series[0], "class")
            .unwrap_or_default()
            .split_whitespace()
            .any(|c| c == "off")
    };
    b.wait_until("the first series to be hidden", WAIT, || {
        first_off().then_some(())
    });
    b.must("toggle it back", b.s.click(&toggles[0]));
    b.wait_until("the first series to be shown again", WAIT, || {
        (!first_off()).then_some(())
    });

    // 6. CSV export from the search page: full text and labels per row.
    b.goto(&format!("{base}/search?q={query}"));
    let export = b.wait_for("a#export-csv");
    let href = b.attr(&export, "href").unwrap_or_default();
    assert!(
        href.contains("/api/export") && href.contains("format=csv"),
        "a#export-csv points at {href:?}"
    );
    b.must("click export", b.s.click(&export));
    b.shot("export-clicked");
    let bytes = b.wait_until(
        "the CSV download to be complete",
        Duration::from_secs(20),
        || {
            // Chromium writes to a temporary name (`*.crdownload`, or a hidden
            // `.com.google.Chrome.*` file) and renames it when done: look for
            // the final `.csv` name on every poll, complete once it parses to
            // the end.
            let file = b
                .downloaded()
                .into_iter()
                .find(|p| p.extension().is_some_and(|x| x == "csv"))?;
            let bytes = std::fs::read(&file).ok()?;
            csv::Reader::from_reader(bytes.as_slice())
                .records()
                .all(|r| r.is_ok())
                .then_some(bytes)
        },
    );
    std::fs::write(b.artifacts.join("export.csv"), &bytes).unwrap();
    let mut rd = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("export has no {name:?} column: {header:?}"))
    };
    let (id_col, text_col) = (col("id"), col("text"));
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert!(
        !rows.is_empty() && rows.len() as u64 <= total,
        "{} rows for {total} hits",
        rows.len()
    );
    let row = rows
        .iter()
        .find(|r| r.get(id_col) == Some(id.as_str()))
        .unwrap_or_else(|| panic!("document {id} is not in the export"));
    assert_eq!(
        row.get(text_col).unwrap_or_default(),
        doc["text"].as_str().unwrap(),
        "the export does not carry the document's full text"
    );
    assert!(
        header.iter().any(|h| h.contains("collective")),
        "no label columns in the export: {header:?}"
    );
}

/// A loopback site serving `tests/e2e/site` with `{base}` replaced.
struct HostileSite {
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl HostileSite {
    fn start() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/site");
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let base = format!("http://{}", listener.local_addr().unwrap());
                tx.send(base.clone()).unwrap();
                let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                    let file = root.join(uri.path().trim_start_matches('/'));
                    let base = base.clone();
                    async move {
                        let ct = if uri.path().ends_with(".xml") {
                            "application/rss+xml"
                        } else {
                            "text/html; charset=utf-8"
                        };
                        match std::fs::read_to_string(&file) {
                            Ok(t) => (
                                axum::http::StatusCode::OK,
                                [(axum::http::header::CONTENT_TYPE, ct)],
                                t.replace("{base}", &base),
                            ),
                            Err(_) => (
                                axum::http::StatusCode::NOT_FOUND,
                                [(axum::http::header::CONTENT_TYPE, "text/plain")],
                                "not found".to_string(),
                            ),
                        }
                    }
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        HostileSite {
            base: rx.recv().unwrap(),
            _stop: stop,
        }
    }
}

/// Script and event-handler payloads in titles, bodies, bylines, a source
/// name and a `javascript:` article URL reach the pages as inert text.
#[test]
fn scraped_payloads_never_execute() {
    let Some(b) = Browser::launch("xss") else {
        return;
    };
    let site = HostileSite::start();
    let tmp = tempfile::tempdir().unwrap();
    let source_name =
        r#"Hostile <script>window.__xss=1</script> Herald <img src=x onerror="window.__xss=1">"#;
    let cfg = tmp.path().join("mediawatch.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"version = 1
[fetch]
allow_private_addresses = true
per_host_interval = "1ms"
[[sources]]
id = "hostile-herald"
kind = "feed"
url = "{}/feed.xml"
name = {}
country = "RS"
languages = ["en"]
"#,
            site.base,
            serde_json::to_string(source_name).unwrap()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_mediawatch"))
        .env("MEDIAWATCH_CLASSIFIER", "lexicon")
        .arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "--once"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let srv = Server::start(Some(&cfg), &data, "run", &b.artifacts.join("server.log"));
    let base = &srv.base;

    let query = "migrants OR refugees OR javascript";
    let api = srv.api(&format!("/api/search?q={}&limit=100", enc(query)));
    let titles: BTreeSet<String> = api["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles.len(), 3, "fixture not fully indexed: {api:#}");
    assert!(
        titles.iter().any(|t| t.contains("<script>"))
            && titles.iter().any(|t| t.contains("onerror")),
        "the payloads did not survive ingestion, so this test would prove nothing: {titles:?}"
    );

    // The search page: titles come back as the literal text they are.
    b.goto(&format!("{base}/search?q={}", enc(query)));
    let hits = b.wait_until("3 hits", WAIT, || {
        let h = b.find_all("ol#hits > li.hit");
        (h.len() == 3).then_some(h)
    });
    b.assert_inert("search");
    let mut shown = BTreeSet::new();
    let mut links = Vec::new();
    for h in &hits {
        let a = b.must("a.hit-title", b.s.find_all_in(h, "a.hit-title"));
        let a = a.first().expect("a hit without a.hit-title");
        shown.insert(b.text(a).trim().to_string());
        let src = b.must("hit source", b.s.find_all_in(h, ".hit-meta .hit-source"));
        if let Some(src) = src.first() {
            assert_eq!(
                b.text(src).trim(),
                source_name,
                "source name not shown literally"
            );
        }
        let href = b.attr(a, "href").unwrap_or_default();
        assert!(
            href.starts_with("/documents/") || href.starts_with(&format!("{base}/documents/")),
            "hit title links to {href:?}"
        );
        links.push(href);
    }
    assert_eq!(shown, titles, "titles are not shown as literal text");
    b.shot("search");

    // Each document page.
    for (i, href) in links.iter().enumerate() {
        let url = if href.starts_with('/') {
            format!("{base}{href}")
        } else {
            href.clone()
        };
        b.goto(&url);
        let h1 = b.wait_for("h1#doc-title");
        assert!(
            titles.contains(b.text(&h1).trim()),
            "doc title {:?}",
            b.text(&h1)
        );
        b.wait_for("#doc-text");
        b.assert_inert(&format!("document {href}"));
        b.shot(&format!("document-{}", i + 1));
    }

    // The source name, on the source health page.
    b.goto(&format!("{base}/sources"));
    let table = b.wait_for("table#sources");
    assert!(
        b.text(&table).contains(source_name),
        "the source name is not shown literally: {}",
        b.text(&table)
    );
    b.assert_inert("sources");
    b.shot("sources");
}

/// Incidents in the browser: the demo's Drina incident (three outlets), a
/// story split out with the page's button, then the two incidents ticked
/// and merged back with the page's form; the API regroups each time.
#[test]
fn incidents_are_split_and_merged_in_the_browser() {
    let Some(b) = Browser::launch("incidents") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let token = "e2e-token-0123456789abcdef";
    let srv = Server::start_with_token(
        None,
        tmp.path(),
        "demo",
        &b.artifacts.join("server.log"),
        Some(token),
    );
    let base = &srv.base;
    let three = |srv: &Server| -> Vec<Value> {
        srv.api("/api/incidents?min_outlets=3")["incidents"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let before = three(&srv);
    assert_eq!(before.len(), 1, "the demo's Drina incident: {before:#?}");
    let members = before[0]["members"].as_array().unwrap().clone();
    let hostile = members
        .iter()
        .find(|m| m["source"] == "glas-doline")
        .unwrap_or_else(|| panic!("no glas-doline story: {members:#?}"))["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Split the collectivising outlet's story out.
    b.goto(&format!("{base}/incidents?min_outlets=3"));
    b.wait_for("section.incident");
    b.shot("incidents");
    b.assert_inert("incidents");
    let field = b.wait_for("input#token");
    b.must("type the token", b.s.send_keys(&field, token));
    let split = b
        .find_all("button.incident-split")
        .into_iter()
        .find(|e| b.attr(e, "data-doc").as_deref() == Some(hostile.as_str()))
        .expect("a split button for the story");
    b.must("split", b.s.click(&split));
    b.wait_until("the split to regroup", WAIT, || {
        three(&srv).is_empty().then_some(())
    });
    // The page reloads itself after the edit: wait for that before leaving
    // it, or the reload could land after the next navigation.
    b.wait_until("the page to reload", WAIT, || {
        // Read by script: the element is replaced while the page reloads.
        let count = b.s.execute(
            "var e = document.getElementById('incident-count'); return e ? e.textContent : '';",
            vec![],
        );
        count
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|t| t.starts_with("0 "))
    });

    // Tick both incidents (the story alone, and the two others) and merge.
    b.goto(&format!("{base}/incidents?min_outlets=1"));
    b.wait_for("section.incident");
    // The page kept the token in this browser; type it afresh anyway.
    let field = b.wait_for("input#token");
    b.must("clear the token", b.s.clear(&field));
    b.must("type the token", b.s.send_keys(&field, token));
    let picks: Vec<_> = b
        .find_all("input.merge-pick")
        .into_iter()
        .filter(|e| {
            let v = b.attr(e, "value").unwrap_or_default();
            members
                .iter()
                .any(|m| v.split(' ').any(|id| Some(id) == m["id"].as_str()))
        })
        .collect();
    assert_eq!(
        picks.len(),
        2,
        "the story alone and the rest of the incident"
    );
    for p in &picks {
        b.must("tick", b.s.click(p));
    }
    let merge = b.wait_for("form#incident-merge button[type=submit]");
    b.must("merge", b.s.click(&merge));
    let after = b.wait_until("the merge to regroup", WAIT, || {
        let v = three(&srv);
        (!v.is_empty()).then_some(v)
    });
    // And the reloaded page shows the incident with its three outlets.
    b.goto(&format!("{base}/incidents?min_outlets=3"));
    b.wait_for("section.incident");
    assert_eq!(after[0]["members"].as_array().unwrap().len(), members.len());
    b.shot("incidents-merged");
}
