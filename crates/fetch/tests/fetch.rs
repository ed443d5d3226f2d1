//! End-to-end behaviour of the fetcher against a hostile loopback server.

mod support;

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mediawatch_fetch::{
    CharsetSource, FetchError, FetchOptions, FetchRequest, Fetcher, TimeoutPhase,
};
use support::{Counters, Reply, TestServer};

/// Options for tests: loopback allowed, no robots, no politeness delay, fast retries.
fn opts() -> FetchOptions {
    FetchOptions {
        allow_private_addresses: true,
        respect_robots: false,
        per_host_min_interval: Duration::ZERO,
        retry_base_delay: Duration::from_millis(10),
        retry_max_delay: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    }
}

fn get(url: String) -> FetchRequest {
    FetchRequest {
        url,
        ..Default::default()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn etag_then_not_modified() {
    let server = TestServer::start(|req, _| match req.header("If-None-Match") {
        Some("\"v1\"") => Reply::status(304, &[("ETag", "\"v1\"")], ""),
        _ => Reply::status(
            200,
            &[
                ("ETag", "\"v1\""),
                ("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
                ("Cache-Control", "public, max-age=300"),
                ("Content-Type", "application/rss+xml"),
            ],
            "<rss/>",
        ),
    })
    .await;
    let f = Fetcher::new(opts()).unwrap();
    let first = f.fetch(&get(server.url("/feed"))).await.unwrap();
    assert_eq!(first.status, 200);
    assert!(!first.not_modified);
    assert_eq!(first.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        first.last_modified.as_deref(),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
    assert_eq!(first.max_age, Some(Duration::from_secs(300)));
    assert_eq!(first.content_type.as_deref(), Some("application/rss+xml"));
    assert_eq!(&first.body[..], b"<rss/>");
    assert_eq!(first.attempts, 1);

    let second = f
        .fetch(&FetchRequest {
            url: server.url("/feed"),
            etag: first.etag.clone(),
            last_modified: first.last_modified.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(second.not_modified);
    assert_eq!(second.status, 304);
    assert!(second.body.is_empty());
    assert_eq!(second.etag.as_deref(), Some("\"v1\""));
    // The 304 had no Last-Modified: the request's is carried over.
    assert_eq!(
        second.last_modified.as_deref(),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].header("If-Modified-Since"),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
    assert!(reqs[0]
        .header("User-Agent")
        .unwrap()
        .starts_with("mediawatch/"));
    assert!(reqs[0].header("Accept-Encoding").unwrap().contains("gzip"));
}

#[tokio::test]
async fn server_error_is_retried_then_returned() {
    let server = TestServer::start(|_, _| Reply::status(500, &[], "boom")).await;
    let f = Fetcher::new(opts()).unwrap();
    let err = f.fetch(&get(server.url("/x"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Http { status: 500, .. }), "{err}");
    assert_eq!(err.kind(), "http_500");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&server.url("/x")), "{err}");
    // One attempt plus max_retries (2).
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = TestServer::start(|_, _| Reply::status(404, &[], "no")).await;
    let f = Fetcher::new(opts()).unwrap();
    let err = f.fetch(&get(server.url("/missing"))).await.unwrap_err();
    assert_eq!(err.kind(), "http_404");
    assert!(!err.is_retryable());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn small_retry_after_is_honoured() {
    let server = TestServer::start(|_, i| {
        if i == 0 {
            Reply::status(429, &[("Retry-After", "1")], "slow down")
        } else {
            Reply::ok("fine")
        }
    })
    .await;
    let f = Fetcher::new(opts()).unwrap();
    let resp = f.fetch(&get(server.url("/"))).await.unwrap();
    assert_eq!(&resp.body[..], b"fine");
    assert_eq!(resp.attempts, 2);
    let reqs = server.requests();
    // The retry waited for the announced second, not the 10 ms backoff.
    assert!(reqs[1].at.duration_since(reqs[0].at) >= Duration::from_millis(900));
}

#[tokio::test]
async fn large_retry_after_is_returned_not_slept() {
    let server =
        TestServer::start(|_, _| Reply::status(503, &[("Retry-After", "3600")], "maintenance"))
            .await;
    let f = Fetcher::new(opts()).unwrap();
    let started = Instant::now();
    let err = f.fetch(&get(server.url("/"))).await.unwrap_err();
    assert_eq!(err.kind(), "http_503");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(server.hits(), 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn retry_after_as_http_date() {
    let when = httpdate_in(Duration::from_secs(7200));
    let server =
        TestServer::start(move |_, _| Reply::status(429, &[("Retry-After", &when)], "")).await;
    let f = Fetcher::new(opts()).unwrap();
    let err = f.fetch(&get(server.url("/"))).await.unwrap_err();
    let ra = err.retry_after().expect("retry_after from the date");
    assert!(
        ra > Duration::from_secs(7000) && ra <= Duration::from_secs(7200),
        "{ra:?}"
    );
    assert_eq!(server.hits(), 1);
}

fn httpdate_in(d: Duration) -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now() + d)
}

#[tokio::test]
async fn dripping_body_hits_total_timeout() {
    // Each byte arrives within read_timeout, so only the total limit can stop it.
    let server = TestServer::start(|_, _| Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\nConnection: close\r\n\r\n".to_vec(),
        body: vec![b'x'; 60],
        interval: Duration::from_millis(500),
        drip_head: false,
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        read_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(3),
        max_retries: 0,
        ..opts()
    })
    .unwrap();
    let started = Instant::now();
    let err = f.fetch(&get(server.url("/drip"))).await.unwrap_err();
    match &err {
        FetchError::Timeout { phase, .. } => assert_eq!(*phase, TimeoutPhase::Total, "{err}"),
        other => panic!("expected a timeout, got {other}"),
    }
    // Stopped long before the server's 30 s of dripping.
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(server.counters.bytes_sent.load(Ordering::SeqCst) < 60);
}

/// A server that drips its answer until the total timeout is not asked
/// again within the same fetch: retrying it held a whole ingest pass for
/// the timeout times the retries.
#[tokio::test]
async fn a_total_timeout_is_not_retried_within_the_fetch() {
    let server = TestServer::start(|_, _| Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 60\r\nConnection: close\r\n\r\n".to_vec(),
        body: vec![b'x'; 60],
        interval: Duration::from_millis(300),
        drip_head: false,
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        read_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(1),
        max_retries: 2,
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/drip"))).await.unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn dripping_head_hits_total_timeout() {
    let server = TestServer::start(|_, _| Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nContent-Length: 1\r\n\r\n".to_vec(),
        body: b"x".to_vec(),
        interval: Duration::from_millis(300),
        drip_head: true,
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        read_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(2),
        max_retries: 0,
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/"))).await.unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
}

#[tokio::test]
async fn stalled_body_hits_read_timeout() {
    let server = TestServer::start(|_, _| Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n".to_vec(),
        body: b"abc".to_vec(),
        interval: Duration::from_secs(20),
        drip_head: false,
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        read_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(10),
        max_retries: 0,
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/stall"))).await.unwrap_err();
    match &err {
        FetchError::Timeout { phase, after, .. } => {
            assert_eq!(*phase, TimeoutPhase::Read, "{err}");
            assert_eq!(*after, Duration::from_secs(1));
        }
        other => panic!("expected a read timeout, got {other}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn gzip_is_decompressed() {
    let text = "Migranti u Hrvatskoj ".repeat(200);
    let body = gzip(text.as_bytes());
    let server = TestServer::start(move |_, _| {
        Reply::status(
            200,
            &[
                ("Content-Encoding", "gzip"),
                ("Content-Type", "text/plain; charset=utf-8"),
            ],
            body.clone(),
        )
    })
    .await;
    let f = Fetcher::new(opts()).unwrap();
    let resp = f.fetch(&get(server.url("/"))).await.unwrap();
    assert_eq!(resp.text().text, text);
}

#[tokio::test]
async fn truncated_gzip_is_a_decode_error() {
    let full = gzip("Беженцы на границе ".repeat(500).as_bytes());
    let cut = full[..full.len() / 2].to_vec();
    let server = TestServer::start(move |_, _| {
        Reply::status(200, &[("Content-Encoding", "gzip")], cut.clone())
    })
    .await;
    let f = Fetcher::new(opts()).unwrap();
    let err = f.fetch(&get(server.url("/gz"))).await.unwrap_err();
    assert!(matches!(err, FetchError::Decode { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn body_cut_short_is_a_retryable_connection_error() {
    let server = TestServer::start(|_, _| {
        Reply::Raw(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nonly a little"
                .to_vec(),
        )
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        max_retries: 1,
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/short"))).await.unwrap_err();
    assert_eq!(err.kind(), "connect", "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(server.hits(), 2);
}

/// 1 GiB of zeros, gzip-compressed once per test run (about 1 MB).
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let zeros = vec![0u8; 1 << 20];
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for _ in 0..1024 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap()
    })
}

#[tokio::test]
async fn gzip_bomb_stops_at_the_cap() {
    let bomb = gzip_bomb();
    assert!(
        bomb.len() < 2 << 20,
        "bomb is {} bytes compressed",
        bomb.len()
    );
    let server = TestServer::start(move |_, _| {
        Reply::status(
            200,
            &[("Content-Encoding", "gzip"), ("Content-Type", "text/html")],
            bomb.to_vec(),
        )
    })
    .await;
    let cap = 1 << 20;
    let f = Fetcher::new(FetchOptions {
        max_body_bytes: cap,
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/bomb"))).await.unwrap_err();
    match err {
        FetchError::BodyTooLarge { limit, .. } => assert_eq!(limit, cap),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    assert_eq!(server.hits(), 1, "size errors are not retried");
}

#[tokio::test]
async fn huge_streamed_body_stops_at_the_cap() {
    const TOTAL: u64 = 100 * 1000 * 1000;
    let server = TestServer::start(|_, _| Reply::Chunked {
        total: TOTAL,
        chunk: 64 * 1024,
    })
    .await;
    let f = Fetcher::new(opts()).unwrap();
    let err = f.fetch(&get(server.url("/huge"))).await.unwrap_err();
    match err {
        FetchError::BodyTooLarge { limit, .. } => assert_eq!(limit, 10 * 1024 * 1024),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    // Give the server a moment to notice the closed connection, then check it
    // was cut off far from the end.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = server.counters.bytes_sent.load(Ordering::SeqCst);
    assert!(sent < TOTAL / 2, "server sent {sent} bytes");
}

#[tokio::test]
async fn announced_huge_body_is_refused_without_reading() {
    let server = TestServer::start(|_, _| Reply::Sized {
        total: 100 * 1000 * 1000,
        chunk: 64 * 1024,
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        max_body_bytes: 1 << 20,
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/huge"))).await.unwrap_err();
    assert_eq!(err.kind(), "body_too_large", "{err}");
}

#[tokio::test]
async fn redirects_are_followed_and_reported() {
    let server = TestServer::start(|req, _| match req.path.as_str() {
        "/old" => Reply::status(301, &[("Location", "/new?x=1")], ""),
        "/new?x=1" => Reply::ok("moved here"),
        _ => Reply::status(404, &[], ""),
    })
    .await;
    let f = Fetcher::new(opts()).unwrap();
    let resp = f.fetch(&get(server.url("/old"))).await.unwrap();
    assert_eq!(resp.url.as_str(), server.url("/new?x=1"));
    assert_eq!(resp.redirects, 1);
    assert_eq!(&resp.body[..], b"moved here");
}

#[tokio::test]
async fn redirect_loop_is_detected() {
    let server = TestServer::start(|req, _| match req.path.as_str() {
        "/a" => Reply::redirect("/b"),
        _ => Reply::redirect("/a"),
    })
    .await;
    let f = Fetcher::new(opts()).unwrap();
    let err = f.fetch(&get(server.url("/a"))).await.unwrap_err();
    match &err {
        FetchError::RedirectLoop { target, chain, .. } => {
            assert_eq!(target, &server.url("/a"));
            assert!(chain.contains("/b"), "{chain}");
        }
        other => panic!("expected RedirectLoop, got {other:?}"),
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn redirect_chain_is_capped() {
    let server = TestServer::start(|req, _| {
        let n: u32 = req.path.trim_start_matches("/r/").parse().unwrap_or(0);
        Reply::redirect(&format!("/r/{}", n + 1))
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        max_redirects: 3,
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/r/0"))).await.unwrap_err();
    match &err {
        FetchError::TooManyRedirects { max, next, .. } => {
            assert_eq!(*max, 3);
            assert!(next.ends_with("/r/4"), "{next}");
        }
        other => panic!("expected TooManyRedirects, got {other:?}"),
    }
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn wrong_charset_header_loses_to_meta() {
    let text = "Мигранти у Београду: грађани помажу породицама.";
    let page = format!("<html><head><meta charset=\"windows-1251\"><title>в</title></head><body>{text}</body></html>");
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&page);
    let bytes = bytes.into_owned();
    for header in ["text/html; charset=UTF-8", "text/html; charset=ISO-8859-1"] {
        let body = bytes.clone();
        let server = TestServer::start(move |_, _| {
            Reply::status(200, &[("Content-Type", header)], body.clone())
        })
        .await;
        let f = Fetcher::new(opts()).unwrap();
        let resp = f.fetch(&get(server.url("/vesti"))).await.unwrap();
        let decoded = resp.text();
        assert_eq!(decoded.encoding, "windows-1251", "{header}");
        assert_eq!(decoded.source, CharsetSource::Meta, "{header}");
        assert!(decoded.text.contains(text), "{header}: {}", decoded.text);
        assert!(!decoded.had_errors);
    }
}

#[tokio::test]
async fn loopback_is_refused_unless_allowed() {
    let server = TestServer::start(|_, _| Reply::ok("secret")).await;
    let strict = Fetcher::new(FetchOptions {
        allow_private_addresses: false,
        ..opts()
    })
    .unwrap();
    // IP literal: refused before connecting.
    let err = strict.fetch(&get(server.url("/admin"))).await.unwrap_err();
    match &err {
        FetchError::Blocked { addr, reason, .. } => {
            assert_eq!(*addr, "127.0.0.1".parse::<IpAddr>().unwrap());
            assert_eq!(*reason, "loopback");
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    assert!(!err.is_retryable());
    // Host name: refused by the resolver.
    let err = strict
        .fetch(&get(format!(
            "http://localhost:{}/admin",
            server.addr.port()
        )))
        .await
        .unwrap_err();
    match &err {
        FetchError::Blocked { addr, .. } => assert!(addr.is_loopback(), "{addr}"),
        other => panic!("expected Blocked via the resolver, got {other:?}"),
    }
    assert_eq!(server.hits(), 0, "nothing may reach the server");

    let open = Fetcher::new(opts()).unwrap();
    let resp = open.fetch(&get(server.url("/admin"))).await.unwrap();
    assert_eq!(&resp.body[..], b"secret");
}

#[tokio::test]
async fn redirect_to_blocked_address_is_refused() {
    let server = TestServer::start(|req, _| match req.path.as_str() {
        "/meta" => Reply::redirect("http://169.254.169.254/latest/meta-data/"),
        _ => Reply::redirect("http://127.0.0.2:9/internal"),
    })
    .await;
    // Only the test server's own address is exempt from the guard.
    let f = Fetcher::new(FetchOptions {
        allow_private_addresses: false,
        allow_addresses: vec!["127.0.0.1".parse().unwrap()],
        ..opts()
    })
    .unwrap();
    let err = f.fetch(&get(server.url("/meta"))).await.unwrap_err();
    match &err {
        FetchError::Blocked { url, addr, reason } => {
            assert_eq!(url, "http://169.254.169.254/latest/meta-data/");
            assert_eq!(addr.to_string(), "169.254.169.254");
            assert_eq!(*reason, "cloud metadata");
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    let err = f.fetch(&get(server.url("/other"))).await.unwrap_err();
    assert_eq!(err.kind(), "blocked", "{err}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn per_host_concurrency_is_bounded() {
    let server = TestServer::start(|_, _| {
        Reply::Delay(Duration::from_millis(200), Box::new(Reply::ok("x")))
    })
    .await;
    let f = Fetcher::new(FetchOptions {
        per_host_concurrency: 2,
        global_concurrency: 16,
        ..opts()
    })
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let f = f.clone();
        let url = server.url(&format!("/p{i}"));
        tasks.push(tokio::spawn(async move { f.fetch(&get(url)).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(server.hits(), 8);
    let max = server.counters.max_active.load(Ordering::SeqCst);
    assert!((1..=2).contains(&max), "max concurrent connections {max}");
}

#[tokio::test]
async fn global_concurrency_is_bounded_across_hosts() {
    let counters = Arc::new(Counters::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = TestServer::start_on(listener, Arc::clone(&counters), |_, _| {
        Reply::Delay(Duration::from_millis(100), Box::new(Reply::ok("x")))
    });
    let f = Fetcher::new(FetchOptions {
        per_host_concurrency: 4,
        global_concurrency: 1,
        ..opts()
    })
    .unwrap();
    // Two host names for one server: each gets its own per-host slot, so only
    // the global bound can keep them to one connection at a time.
    let port = server.addr.port();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let f = f.clone();
        let host = if i % 2 == 0 { "127.0.0.1" } else { "localhost" };
        let url = format!("http://{host}:{port}/g{i}");
        tasks.push(tokio::spawn(async move { f.fetch(&get(url)).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(counters.max_active.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn per_host_min_interval_spaces_requests() {
    let server = TestServer::start(|_, _| Reply::ok("x")).await;
    let f = Fetcher::new(FetchOptions {
        per_host_min_interval: Duration::from_millis(300),
        per_host_concurrency: 4,
        ..opts()
    })
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..4 {
        let f = f.clone();
        let url = server.url(&format!("/i{i}"));
        tasks.push(tokio::spawn(async move { f.fetch(&get(url)).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut at: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    at.sort();
    for w in at.windows(2) {
        let gap = w[1].duration_since(w[0]);
        assert!(gap >= Duration::from_millis(200), "requests {gap:?} apart");
    }
}

fn robots_server(
    robots: &'static str,
    status: u16,
) -> impl Fn(&support::Request, usize) -> Reply + Send + Sync {
    move |req, _| {
        if req.path == "/robots.txt" {
            Reply::status(status, &[("Content-Type", "text/plain")], robots)
        } else {
            Reply::ok(format!("page {}", req.path))
        }
    }
}

#[tokio::test]
async fn robots_disallow_is_honoured_and_cached() {
    let server = TestServer::start(robots_server(
        "User-agent: *\nDisallow: /\n\nUser-agent: mediawatch\nDisallow: /private\n",
        200,
    ))
    .await;
    let f = Fetcher::new(FetchOptions {
        respect_robots: true,
        ..opts()
    })
    .unwrap();
    let err = f
        .fetch(&get(server.url("/private/report")))
        .await
        .unwrap_err();
    match &err {
        FetchError::RobotsDisallowed { url, agent } => {
            assert_eq!(url, &server.url("/private/report"));
            assert_eq!(agent, "mediawatch");
        }
        other => panic!("expected RobotsDisallowed, got {other:?}"),
    }
    assert!(!err.is_retryable());
    let ok = f.fetch(&get(server.url("/news/1"))).await.unwrap();
    assert_eq!(&ok.body[..], b"page /news/1");
    f.fetch(&get(server.url("/news/2"))).await.unwrap();
    assert_eq!(server.hits_for("/private/report"), 0);
    assert_eq!(server.hits_for("/robots.txt"), 1, "robots.txt is cached");
}

#[tokio::test]
async fn robots_crawl_delay_raises_interval() {
    let server = TestServer::start(robots_server(
        "User-agent: *\nCrawl-delay: 1\nAllow: /\n",
        200,
    ))
    .await;
    let f = Fetcher::new(FetchOptions {
        respect_robots: true,
        ..opts()
    })
    .unwrap();
    f.fetch(&get(server.url("/a"))).await.unwrap();
    f.fetch(&get(server.url("/b"))).await.unwrap();
    let reqs = server.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/robots.txt", "/a", "/b"]);
    for w in reqs.windows(2) {
        let gap = w[1].at.duration_since(w[0].at);
        assert!(
            gap >= Duration::from_millis(700),
            "{} -> {} only {gap:?} apart",
            w[0].path,
            w[1].path
        );
    }
}

#[tokio::test]
async fn robots_errors_allow_fetching() {
    // 404: allow all, cached for robots_ttl.
    let missing = TestServer::start(robots_server("", 404)).await;
    let f = Fetcher::new(FetchOptions {
        respect_robots: true,
        ..opts()
    })
    .unwrap();
    f.fetch(&get(missing.url("/x"))).await.unwrap();
    f.fetch(&get(missing.url("/y"))).await.unwrap();
    assert_eq!(missing.hits_for("/robots.txt"), 1);

    // 500: allow, but ask again after robots_error_ttl (zero here).
    let broken = TestServer::start(robots_server("Disallow: /", 500)).await;
    let f = Fetcher::new(FetchOptions {
        respect_robots: true,
        robots_error_ttl: Duration::ZERO,
        ..opts()
    })
    .unwrap();
    f.fetch(&get(broken.url("/x"))).await.unwrap();
    f.fetch(&get(broken.url("/y"))).await.unwrap();
    assert_eq!(
        broken.hits_for("/robots.txt"),
        2,
        "robots.txt retried after a 5xx"
    );
}

#[tokio::test]
async fn recovers_after_server_comes_back() {
    // Nothing listening: connection refused.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let f = Fetcher::new(FetchOptions {
        max_retries: 1,
        ..opts()
    })
    .unwrap();
    let url = format!("http://{addr}/feed");
    let err = f.fetch(&get(url.clone())).await.unwrap_err();
    assert_eq!(err.kind(), "connect", "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&url), "{err}");

    // The server comes up on the same port, failing at first.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let failing = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&failing);
    let server = TestServer::start_on(listener, Arc::new(Counters::default()), move |_, _| {
        if flag.load(Ordering::SeqCst) {
            Reply::status(503, &[], "warming up")
        } else {
            Reply::ok("back")
        }
    });
    let err = f.fetch(&get(url.clone())).await.unwrap_err();
    assert_eq!(err.kind(), "http_503");
    failing.store(false, Ordering::SeqCst);
    let resp = f.fetch(&get(url)).await.unwrap();
    assert_eq!(&resp.body[..], b"back");
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn invalid_urls_are_rejected() {
    let f = Fetcher::new(opts()).unwrap();
    for url in ["gopher://example.org/", "not a url", "javascript:alert(1)"] {
        let err = f.fetch(&get(url.to_string())).await.unwrap_err();
        assert_eq!(err.kind(), "invalid_url", "{url}: {err}");
    }
}

#[tokio::test]
async fn unknown_host_is_a_dns_error() {
    let f = Fetcher::new(FetchOptions {
        allow_private_addresses: false,
        max_retries: 0,
        ..opts()
    })
    .unwrap();
    // RFC 6761: .invalid never resolves, so resolvers answer at once.
    let err = f
        .fetch(&get("http://no-such-host.invalid/feed".to_string()))
        .await
        .unwrap_err();
    match &err {
        FetchError::Dns { host, url, .. } => {
            assert_eq!(host, "no-such-host.invalid");
            assert_eq!(url, "http://no-such-host.invalid/feed");
        }
        // A resolver that hangs instead of answering ends in the connect timeout.
        FetchError::Timeout { phase, .. } => assert_eq!(*phase, TimeoutPhase::Connect),
        other => panic!("expected a DNS error, got {other:?}"),
    }
    assert!(err.is_retryable());
}

/// Platform tokens travel as extra headers to the request's own host only.
#[tokio::test]
async fn extra_headers_reach_the_origin_but_not_a_redirect_target() {
    use std::sync::Mutex;
    /// (port that answered, Authorization header it received)
    type Seen = Arc<Mutex<Vec<(u16, Option<String>)>>>;
    let seen: Seen = Arc::default();
    // Two servers: the origin redirects to the other (a different host:port).
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_addr = other.local_addr().unwrap();
    let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin_addr = origin.local_addr().unwrap();
    for (listener, redirect) in [(origin, Some(other_addr)), (other, None)] {
        let seen = seen.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            for _ in 0..4 {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let auth = req
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                    .map(|l| l[14..].trim().to_string());
                let port = s.local_addr().unwrap().port();
                if req.starts_with("GET /robots.txt") {
                    let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    continue;
                }
                seen.lock().unwrap().push((port, auth));
                let resp = match redirect {
                    Some(to) => format!("HTTP/1.1 302 Found\r\nlocation: http://{to}/final\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
                    None => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_string(),
                };
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
    }
    let f = Fetcher::new(FetchOptions {
        allow_private_addresses: true,
        per_host_min_interval: std::time::Duration::from_millis(1),
        ..FetchOptions::default()
    })
    .unwrap();
    let r = f
        .fetch(&FetchRequest {
            url: format!("http://{origin_addr}/api"),
            headers: vec![("Authorization".into(), "Bearer secret-token".into())],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0],
        (origin_addr.port(), Some("Bearer secret-token".into()))
    );
    assert_eq!(
        seen[1],
        (other_addr.port(), None),
        "token leaked across a redirect"
    );
}
