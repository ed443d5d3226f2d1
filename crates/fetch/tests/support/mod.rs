//! A small hostile HTTP/1.1 server for the fetcher's tests.
//!
//! It speaks raw HTTP over a tokio `TcpListener` so tests can misbehave in
//! ways a real server library would not allow: drip bytes, lie about lengths,
//! truncate gzip, stream 100 MB, redirect in circles. Every loop is bounded,
//! the server stops by itself after [`LIFETIME`] or [`MAX_CONNECTIONS`], and
//! dropping the handle aborts it together with its connection tasks.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// The server exits after this long even if the test forgot it.
pub const LIFETIME: Duration = Duration::from_secs(90);
/// ... or after accepting this many connections.
pub const MAX_CONNECTIONS: usize = 1000;
/// Largest request head we read.
const MAX_HEAD: usize = 16 * 1024;

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does with a request.
pub enum Reply {
    /// A complete response with Content-Length and `Connection: close`.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Write `head` (status line and headers) and then `body` one byte per
    /// `interval`; if `drip_head` is set, the head is dripped too.
    Drip {
        head: Vec<u8>,
        body: Vec<u8>,
        interval: Duration,
        drip_head: bool,
    },
    /// A chunked 200 streaming `total` bytes in chunks of `chunk` bytes from
    /// one reused buffer (never allocates `total`).
    Chunked { total: u64, chunk: usize },
    /// A 200 announcing `Content-Length: total`, streamed like `Chunked`.
    Sized { total: u64, chunk: usize },
    /// Bytes written as they are, then the connection is closed.
    Raw(Vec<u8>),
    /// Sleep, then do the inner reply.
    Delay(Duration, Box<Reply>),
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.into(),
        }
    }

    pub fn status(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
        }
    }

    pub fn redirect(to: &str) -> Reply {
        Reply::status(302, &[("Location", to)], "")
    }
}

/// Counters a test can read (and share between servers).
#[derive(Default)]
pub struct Counters {
    /// Requests received.
    pub hits: AtomicUsize,
    /// Connections currently being served.
    pub active: AtomicUsize,
    /// Highest value `active` reached.
    pub max_active: AtomicUsize,
    /// Body bytes written by streaming replies.
    pub bytes_sent: AtomicU64,
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

pub struct TestServer {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    requests: Arc<Mutex<Vec<Request>>>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Start on an ephemeral loopback port. The handler gets the request and
    /// its 0-based index among all requests this server has seen.
    pub async fn start(
        handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        Self::start_on(listener, Arc::new(Counters::default()), handler)
    }

    /// Start on a given listener with given (possibly shared) counters.
    pub fn start_on(
        listener: TcpListener,
        counters: Arc<Counters>,
        handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let task = tokio::spawn(serve(
            listener,
            Arc::clone(&counters),
            Arc::clone(&requests),
            handler,
        ));
        TestServer {
            addr,
            counters,
            requests,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn hits(&self) -> usize {
        self.counters.hits.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn hits_for(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path == path).count()
    }
}

async fn serve(
    listener: TcpListener,
    counters: Arc<Counters>,
    requests: Arc<Mutex<Vec<Request>>>,
    handler: Arc<Handler>,
) {
    let end = tokio::time::Instant::now() + LIFETIME;
    // Connection tasks live in this set: aborting `serve` drops it, which
    // aborts them all.
    let mut conns = JoinSet::new();
    for _ in 0..MAX_CONNECTIONS {
        let accepted = tokio::time::timeout_at(end, listener.accept()).await;
        let Ok(Ok((stream, _))) = accepted else { break };
        let counters = Arc::clone(&counters);
        let requests = Arc::clone(&requests);
        let handler = Arc::clone(&handler);
        conns.spawn(async move {
            let now = counters.active.fetch_add(1, Ordering::SeqCst) + 1;
            counters.max_active.fetch_max(now, Ordering::SeqCst);
            let _ =
                tokio::time::timeout_at(end, connection(stream, &counters, &requests, &*handler))
                    .await;
            counters.active.fetch_sub(1, Ordering::SeqCst);
        });
        // Reap finished connections so the set stays small.
        while conns.try_join_next().is_some() {}
    }
    while conns.join_next().await.is_some() {}
}

async fn connection(
    mut stream: TcpStream,
    counters: &Counters,
    requests: &Mutex<Vec<Request>>,
    handler: &Handler,
) -> std::io::Result<()> {
    let Some(req) = read_head(&mut stream).await? else {
        return Ok(());
    };
    let index = counters.hits.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(req.clone());
    let reply = handler(&req, index);
    write_reply(&mut stream, reply, counters).await?;
    stream.shutdown().await
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::with_capacity(1024);
    let mut tmp = [0u8; 1024];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut tmp)).await {
            Ok(r) => r?,
            Err(_) => return Ok(None),
        };
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut first = lines.next().unwrap_or_default().split(' ');
            let method = first.next().unwrap_or_default().to_string();
            let path = first.next().unwrap_or_default().to_string();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            return Ok(Some(Request {
                method,
                path,
                headers,
                at: Instant::now(),
            }));
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

async fn write_reply(
    stream: &mut TcpStream,
    reply: Reply,
    counters: &Counters,
) -> std::io::Result<()> {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            if status != 304 {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            head.push_str("Connection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).await?;
            if status != 304 {
                stream.write_all(&body).await?;
            }
        }
        Reply::Drip {
            head,
            body,
            interval,
            drip_head,
        } => {
            if drip_head {
                for b in &head {
                    stream.write_all(&[*b]).await?;
                    tokio::time::sleep(interval).await;
                }
            } else {
                stream.write_all(&head).await?;
            }
            for b in &body {
                tokio::time::sleep(interval).await;
                stream.write_all(&[*b]).await?;
                counters.bytes_sent.fetch_add(1, Ordering::SeqCst);
            }
        }
        Reply::Chunked { total, chunk } => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
                .await?;
            let buf = vec![b'a'; chunk];
            let mut sent = 0u64;
            while sent < total {
                let n = (total - sent).min(chunk as u64) as usize;
                stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                stream.write_all(&buf[..n]).await?;
                stream.write_all(b"\r\n").await?;
                sent += n as u64;
                counters.bytes_sent.fetch_add(n as u64, Ordering::SeqCst);
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
        Reply::Sized { total, chunk } => {
            stream
                .write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await?;
            let buf = vec![b'a'; chunk];
            let mut sent = 0u64;
            while sent < total {
                let n = (total - sent).min(chunk as u64) as usize;
                stream.write_all(&buf[..n]).await?;
                sent += n as u64;
                counters.bytes_sent.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
        Reply::Raw(bytes) => stream.write_all(&bytes).await?,
        Reply::Delay(d, inner) => {
            tokio::time::sleep(d).await;
            Box::pin(write_reply(stream, *inner, counters)).await?;
        }
    }
    stream.flush().await
}
