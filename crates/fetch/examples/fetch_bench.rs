//! Loopback benchmark for the fetch layer.
//!
//! ```text
//! cargo run --release -p mediawatch-fetch --example fetch_bench [requests] [concurrency]
//! ```
//!
//! Measures: fetch throughput against a local HTTP/1.1 server (one
//! connection per request, 16 KiB pages), the cost of refusing a 1 GiB gzip
//! bomb at a 1 MiB cap (time and peak resident memory), and `decode_body`
//! throughput for a labelled and an unlabelled windows-1251 page.

use std::io::Write;
use std::time::{Duration, Instant};

use mediawatch_fetch::{decode_body, FetchError, FetchOptions, FetchRequest, Fetcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serve `body` (with extra headers) to every connection, for `lifetime`.
async fn serve(
    listener: TcpListener,
    head_extra: &'static str,
    body: &'static [u8],
    lifetime: Duration,
) {
    let end = tokio::time::Instant::now() + lifetime;
    while let Ok(Ok((mut s, _))) = tokio::time::timeout_at(end, listener.accept()).await {
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
                if seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() > 16 * 1024 {
                    break;
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{head_extra}Connection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(body).await;
            let _ = s.shutdown().await;
        });
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() -> Result<(), FetchError> {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);

    // 1. Throughput.
    let page: &'static [u8] = Box::leak(
        "<html><body><p>Migranti u Hrvatskoj, građani pomažu.</p></body></html>\n"
            .repeat(16 * 1024 / 70)
            .into_bytes()
            .into_boxed_slice(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(io_err)?;
    let addr = listener.local_addr().map_err(io_err)?;
    tokio::spawn(serve(
        listener,
        "Content-Type: text/html; charset=utf-8\r\n",
        page,
        Duration::from_secs(300),
    ));
    let fetcher = Fetcher::new(FetchOptions {
        allow_private_addresses: true,
        respect_robots: false,
        per_host_concurrency: concurrency,
        per_host_min_interval: Duration::ZERO,
        global_concurrency: concurrency,
        ..FetchOptions::default()
    })?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..requests {
        let f = fetcher.clone();
        let url = format!("http://{addr}/page/{i}");
        tasks.spawn(async move {
            f.fetch(&FetchRequest {
                url,
                ..Default::default()
            })
            .await
            .map(|r| r.body.len())
        });
    }
    let mut bytes = 0usize;
    while let Some(r) = tasks.join_next().await {
        bytes += r.map_err(|e| FetchError::Other {
            url: "bench".into(),
            reason: e.to_string(),
        })??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fetch: {requests} requests x {} B, concurrency {concurrency}: {secs:.2} s, {:.0} req/s, {:.1} MB/s",
        page.len(),
        requests as f64 / secs,
        bytes as f64 / secs / 1e6
    );

    // 2. Gzip bomb.
    let t = Instant::now();
    let zeros = vec![0u8; 1 << 20];
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for _ in 0..1024 {
        enc.write_all(&zeros).map_err(io_err)?;
    }
    let bomb: &'static [u8] = Box::leak(enc.finish().map_err(io_err)?.into_boxed_slice());
    println!(
        "bomb: 1 GiB of zeros -> {} B gzip in {:.2} s",
        bomb.len(),
        t.elapsed().as_secs_f64()
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(io_err)?;
    let addr = listener.local_addr().map_err(io_err)?;
    tokio::spawn(serve(
        listener,
        "Content-Encoding: gzip\r\n",
        bomb,
        Duration::from_secs(60),
    ));
    let capped = Fetcher::new(FetchOptions {
        allow_private_addresses: true,
        respect_robots: false,
        max_body_bytes: 1 << 20,
        ..FetchOptions::default()
    })?;
    let rss_before = peak_rss_kib();
    let t = Instant::now();
    let outcome = capped
        .fetch(&FetchRequest {
            url: format!("http://{addr}/bomb"),
            ..Default::default()
        })
        .await;
    println!(
        "bomb: refused in {:.1} ms ({}), peak RSS {:?} KiB before, {:?} KiB after",
        t.elapsed().as_secs_f64() * 1e3,
        outcome
            .err()
            .map_or("accepted?!".to_string(), |e| e.kind().to_string()),
        rss_before,
        peak_rss_kib()
    );

    // 3. Charset decoding.
    let text = "Мигранти у Београду: држава тражи решење, грађани помажу породицама. ".repeat(8000);
    let html = format!("<html><head><title>x</title></head><body><p>{text}</p></body></html>");
    let (encoded, _, _) = encoding_rs::WINDOWS_1251.encode(&html);
    for (label, ct) in [
        ("header", Some("text/html; charset=windows-1251")),
        ("detected", None),
    ] {
        let t = Instant::now();
        let rounds = 20;
        let mut chars = 0;
        for _ in 0..rounds {
            chars += decode_body(&encoded, ct, Some("example.rs")).text.len();
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "decode_body ({label}): {} B windows-1251 page: {:.1} MB/s ({chars} UTF-8 bytes out)",
            encoded.len(),
            (encoded.len() * rounds) as f64 / secs / 1e6
        );
    }
    Ok(())
}

fn io_err(e: std::io::Error) -> FetchError {
    FetchError::Other {
        url: "bench".into(),
        reason: e.to_string(),
    }
}
