//! A generated news corpus on loopback, for tests and benchmarks that need
//! many feeds and articles: [`CorpusServer`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode, Uri};
use axum::response::Response;
use axum::Router;

/// A generated corpus on loopback: any number of RSS feeds (`/feed/N.xml`)
/// of `items` items each, every item linking to its own article page, a
/// third of them about migration; [`CorpusServer::set_items`] makes the
/// feeds grow. For tests that need passes long enough to interrupt.
pub struct CorpusServer {
    pub base: String,
    items: Arc<AtomicUsize>,
    feed_fetches: Arc<Mutex<HashMap<String, usize>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl CorpusServer {
    pub fn start(items: usize) -> Self {
        Self::start_with_delay(items, Duration::from_millis(25))
    }

    /// Like [`CorpusServer::start`], with each article answered after
    /// `article_delay` (zero for a benchmark that wants the pipeline's own
    /// cost, not the network's).
    pub fn start_with_delay(items: usize, article_delay: Duration) -> Self {
        let items = Arc::new(AtomicUsize::new(items));
        let listed = items.clone();
        let feed_fetches: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counted = feed_fetches.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let base = format!("http://{}", listener.local_addr().unwrap());
                tx.send(base.clone()).unwrap();
                let app = Router::new().fallback(move |uri: Uri| {
                    let base = base.clone();
                    let items = listed.load(Ordering::SeqCst);
                    if uri.path().starts_with("/feed/") {
                        *counted
                            .lock()
                            .unwrap()
                            .entry(uri.path().to_string())
                            .or_default() += 1;
                    }
                    async move {
                        // Articles take a little while, like real servers,
                        // so that a pass lasts long enough to be cut.
                        if uri.path().starts_with("/a/") && !article_delay.is_zero() {
                            tokio::time::sleep(article_delay).await;
                        }
                        corpus_page(&base, uri.path(), items)
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
        Self {
            base: rx.recv().unwrap(),
            items,
            feed_fetches,
            _shutdown: stop_tx,
        }
    }

    /// How often each feed (`/feed/N.xml`) was fetched.
    pub fn feed_fetches(&self) -> HashMap<String, usize> {
        self.feed_fetches.lock().unwrap().clone()
    }

    /// Items every feed lists from now on (the newest last).
    pub fn set_items(&self, n: usize) {
        self.items.store(n, Ordering::SeqCst);
    }

    /// `[[sources]]` entries for the first `feeds` feeds.
    pub fn sources_toml(&self, feeds: usize) -> String {
        (0..feeds)
            .map(|f| {
                format!(
                    "[[sources]]\nid = \"f{f}\"\nkind = \"feed\"\nurl = \"{}/feed/{f}.xml\"\nname = \"Feed {f}\"\ncountry = \"RS\"\nlanguages = [\"sr\"]\n",
                    self.base
                )
            })
            .collect()
    }
}

fn corpus_page(base: &str, path: &str, items: usize) -> Response {
    let ok = |ct: &str, body: String| {
        Response::builder()
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    if let Some(f) = path
        .strip_prefix("/feed/")
        .and_then(|p| p.strip_suffix(".xml"))
    {
        let entries: String = (0..items)
            .map(|i| {
                format!(
                    "<item><title>Vest {f}-{i}</title><link>{base}/a/{f}/{i}.html</link>\
                     <guid>{base}/a/{f}/{i}.html</guid>\
                     <pubDate>Mon, 02 Mar 2026 {:02}:{:02}:00 GMT</pubDate></item>",
                    i / 60 % 24,
                    i % 60
                )
            })
            .collect();
        return ok(
            "application/rss+xml",
            format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {f}</title>{entries}</channel></rss>"),
        );
    }
    if let Some(rest) = path.strip_prefix("/a/") {
        let topic = if rest.len() % 3 == 0 {
            "Migranti su stigli u prihvatni centar, a opština je otvorila kurs jezika."
        } else {
            "Gradsko veće usvojilo je budžet za novu školsku godinu i popravku puteva."
        };
        let para =
            format!("<p>{topic} Članak {rest} opisuje događaje iz prošle nedelje u gradu.</p>");
        return ok(
            "text/html; charset=utf-8",
            format!("<html><head><title>Vest {rest}</title></head><body><article><h1>Vest {rest}</h1>{}</article></body></html>", para.repeat(6)),
        );
    }
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(Body::from("not found"))
        .unwrap()
}
