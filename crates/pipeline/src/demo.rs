//! The bundled demo: a sample corpus of fictional outlets (feeds and article
//! pages in several languages and scripts, written for the project) served on
//! loopback, so a newcomer without internet sees the whole pipeline work.
//! The files live in `crates/pipeline/demo/` and are compiled in.
//!
//! [`DemoServer::revise`] turns the corpus into its later state, as an
//! outlet's site looks hours after publication: `demo/_revised/` holds
//! pages as edited (a softened headline, a hateful comment removed) and
//! `demo/_revised/DELETED` lists pages then answered `410 Gone`. The demo
//! and the moderation-ledger tests re-check the corpus on both sides of it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use include_dir::{include_dir, Dir};
use mediawatch_config::Config;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{PipelineError, Result};

static DEMO: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/demo");

/// Placeholder in the corpus files replaced by the server's base URL.
const BASE_PLACEHOLDER: &[u8] = b"{base}";

/// A running demo corpus server.
pub struct DemoServer {
    base: String,
    revised: Arc<AtomicBool>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl DemoServer {
    /// Serves the corpus on `addr` (port 0 picks a free port).
    pub async fn start(addr: SocketAddr) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| PipelineError::Demo(format!("cannot listen on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| PipelineError::Demo(e.to_string()))?;
        let base = format!("http://{local}");
        let revised = Arc::new(AtomicBool::new(false));
        let app = {
            let base = base.clone();
            let revised = revised.clone();
            Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
                let base = base.clone();
                let revised = revised.load(Ordering::SeqCst);
                async move { serve(&base, &uri, &headers, revised) }
            })
        };
        let stop = CancellationToken::new();
        let s = stop.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
        Ok(Self {
            base,
            revised,
            stop,
            task,
        })
    }

    /// From now on, serves the corpus as it looks later: edited pages from
    /// `demo/_revised/`, the pages listed in `demo/_revised/DELETED` gone.
    pub fn revise(&self) {
        self.revised.store(true, Ordering::SeqCst);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// The paths the revised corpus answers `410 Gone`.
fn deleted_when_revised(path: &str) -> bool {
    DEMO.get_file("_revised/DELETED")
        .and_then(|f| f.contents_utf8())
        .is_some_and(|list| {
            list.lines()
                .map(str::trim)
                .any(|l| !l.starts_with('#') && l == path)
        })
}

fn serve(base: &str, uri: &Uri, headers: &HeaderMap, revised: bool) -> Response {
    let path = uri.path().trim_start_matches('/');
    let status = |code: StatusCode, text: &'static str| {
        Response::builder()
            .status(code)
            .body(Body::from(text))
            .unwrap_or_default()
    };
    if path.starts_with("_revised") {
        return status(StatusCode::NOT_FOUND, "not found");
    }
    if revised && deleted_when_revised(path) {
        return status(StatusCode::GONE, "this article was removed");
    }
    let later = revised
        .then(|| DEMO.get_file(format!("_revised/{path}")))
        .flatten();
    let Some(file) = later.or_else(|| DEMO.get_file(path)) else {
        return status(StatusCode::NOT_FOUND, "not found");
    };
    let body = replace_all(file.contents(), BASE_PLACEHOLDER, base.as_bytes());
    let etag = format!(
        "\"{}\"",
        Sha256::digest(&body)[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .header(header::ETAG, etag)
            .body(Body::empty())
            .unwrap_or_default();
    }
    // XML is served without a charset so that the files' own declarations
    // (one feed is windows-1251) decide, as on many real sites.
    let ct = if path.ends_with(".xml") {
        "application/xml"
    } else if path.ends_with(".html") {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    Response::builder()
        .header(header::CONTENT_TYPE, ct)
        .header(header::ETAG, etag)
        .body(Body::from(body))
        .unwrap_or_default()
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len() + 64);
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// The demo's config: the corpus's sources pointed at `base`, private
/// addresses allowed (the corpus is on loopback), politeness relaxed for one
/// local host, and a short commit interval.
pub fn demo_config(base: &str) -> Result<Config> {
    let sources = DEMO
        .get_file("sources.toml")
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| PipelineError::Demo("sources.toml missing from the demo corpus".into()))?;
    let text = format!(
        "version = 2\n\
         [fetch]\n\
         allow_private_addresses = true\n\
         per_host_concurrency = 8\n\
         per_host_interval = \"5ms\"\n\
         [index]\n\
         commit_interval = \"5s\"\n\
         {}\n",
        sources.replace("{base}", base)
    );
    Config::from_toml_str(&text, "<demo corpus>").map_err(|e| PipelineError::Demo(e.to_string()))
}

/// Search examples printed by `mediawatch demo`, one per language/script.
pub const DEMO_QUERIES: &[&str] = &[
    "migranti",
    "мигранти",
    "invasion",
    "menekült",
    "refugjatë",
    "\"language classes\"",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_replaced_everywhere() {
        assert_eq!(
            replace_all(b"a{base}/x {base}", b"{base}", b"http://h"),
            b"ahttp://h/x http://h".to_vec()
        );
    }

    #[test]
    fn demo_config_is_valid() {
        let c = demo_config("http://127.0.0.1:1").unwrap();
        assert!(c.sources.len() >= 5);
        assert!(c
            .sources
            .iter()
            .all(|s| s.url().starts_with("http://127.0.0.1:1/")));
    }
}
