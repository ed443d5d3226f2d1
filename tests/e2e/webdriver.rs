//! A minimal W3C WebDriver client for the browser tests.
//!
//! Hand-written rather than a crate (fantoccini and friends pull in a second
//! HTTP stack, cookie handling and the `webdriver` crate's dependency tree):
//! chromedriver speaks JSON over HTTP/1.1 on loopback, so std's `TcpStream`
//! and `serde_json` are enough, and the test binary gains no dependency.
//! Only the commands the tests use are wrapped.

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mediawatch_testkit::free_port;
use serde_json::{json, Value};

/// The W3C key under which element references travel.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A failed WebDriver or HTTP call.
#[derive(Debug, Clone)]
pub struct WdError {
    /// The W3C error code (`no such element`, `no such alert`, ...) or
    /// `transport` when chromedriver could not be reached.
    pub error: String,
    /// What went wrong, in chromedriver's or our words.
    pub message: String,
}

impl fmt::Display for WdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

fn transport(message: String) -> WdError {
    WdError {
        error: "transport".into(),
        message,
    }
}

/// One HTTP response: status, lower-cased headers, body.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A one-shot HTTP/1.1 request to a loopback `http://` URL
/// (`Connection: close`, so the body ends where the stream ends).
pub fn http(
    method: &str,
    url: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{url}: cannot resolve {authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: {authority} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("{method} {url}: cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("{url}: {e}"))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nAccept: */*\r\n"
    );
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    stream
        .write_all(&bytes)
        .map_err(|e| format!("{method} {url}: cannot send: {e}"))?;
    // chromedriver keeps the connection open despite `Connection: close`,
    // so the answer ends where its length says, not at end of stream.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("{method} {url}: no complete answer within {timeout:?}: {e}"))?;
        raw.extend_from_slice(&buf[..n]);
        if n == 0 || is_complete(&raw) {
            return parse_response(&raw).map_err(|e| format!("{method} {url}: {e}"));
        }
    }
}

/// Whether `raw` holds a whole response (headers and the announced body).
fn is_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    let header = |name: &str| {
        head.split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
    };
    if header("transfer-encoding").is_some_and(|v| v == "chunked") {
        return dechunk(body).is_ok();
    }
    match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(n) => body.len() >= n,
        // No length: only the end of the stream ends the body.
        None => false,
    }
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| format!("headers: {e}"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let mut resp = HttpResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body)?;
    } else if let Some(n) = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        if body.len() < n {
            return Err(format!("body cut short: {} of {n} bytes", body.len()));
        }
        body.truncate(n);
    }
    resp.body = body;
    Ok(resp)
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without end")?;
        let size_text = std::str::from_utf8(&b[..eol]).map_err(|e| e.to_string())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Decodes standard base64 (screenshots arrive as base64 PNG).
pub fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = val(c).ok_or_else(|| format!("invalid base64 byte {c:#x}"))?;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return Err("truncated base64".into()),
        }
    }
    Ok(out)
}

/// A running chromedriver, killed on drop (also when a test panics).
pub struct Driver {
    child: Child,
    pub base: String,
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it is ready.
    pub fn start(chromedriver: &Path, log: &Path) -> Result<Self, String> {
        let mut last = String::new();
        // A port taken between our probe and chromedriver's bind makes it
        // exit at once; a fresh port fixes that.
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
            let mut d = Driver {
                child,
                base: format!("http://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = d.child.try_wait() {
                    last = format!("chromedriver exited with {status}");
                    break;
                }
                if let Ok(r) = http(
                    "GET",
                    &format!("{}/status", d.base),
                    None,
                    Duration::from_secs(2),
                ) {
                    let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                    if v["value"]["ready"] == true {
                        return Ok(d);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if last.is_empty() {
                last = "chromedriver not ready within 20 s".into();
            }
            let _ = d.child.kill();
        }
        Err(format!("{last} (log: {})", log.display()))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session; quits the browser on drop.
pub struct Session {
    base: String,
    id: String,
}

/// A reference to an element of the current page.
#[derive(Debug, Clone)]
pub struct Element {
    pub id: String,
}

impl Element {
    fn json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}

/// Browser-wide timeouts: a navigation may take this long.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

fn call(method: &str, url: &str, body: Option<&Value>) -> Result<Value, WdError> {
    let bytes = body.map(|b| b.to_string().into_bytes());
    let r = http(method, url, bytes.as_deref(), COMMAND_TIMEOUT).map_err(transport)?;
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| {
        transport(format!(
            "{method} {url}: answer is not JSON ({e}): {}",
            r.text()
        ))
    })?;
    if r.status >= 400 {
        return Err(WdError {
            error: v["value"]["error"]
                .as_str()
                .unwrap_or("unknown")
                .to_string(),
            message: v["value"]["message"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        });
    }
    Ok(v["value"].clone())
}

impl Session {
    /// Opens a browser session with the given capabilities.
    pub fn new(driver: &Driver, capabilities: Value) -> Result<Self, WdError> {
        let v = call(
            "POST",
            &format!("{}/session", driver.base),
            Some(&json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )?;
        let id = v["sessionId"]
            .as_str()
            .ok_or_else(|| transport(format!("no sessionId in {v}")))?
            .to_string();
        Ok(Session {
            base: format!("{}/session/{id}", driver.base),
            id,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn get(&self, path: &str) -> Result<Value, WdError> {
        call("GET", &format!("{}{path}", self.base), None)
    }

    fn post(&self, path: &str, body: Value) -> Result<Value, WdError> {
        call("POST", &format!("{}{path}", self.base), Some(&body))
    }

    pub fn set_timeouts(&self, page_load_ms: u64, script_ms: u64) -> Result<(), WdError> {
        self.post(
            "/timeouts",
            json!({ "pageLoad": page_load_ms, "script": script_ms, "implicit": 0 }),
        )
        .map(|_| ())
    }

    pub fn goto(&self, url: &str) -> Result<(), WdError> {
        self.post("/url", json!({ "url": url })).map(|_| ())
    }

    pub fn current_url(&self) -> Result<String, WdError> {
        Ok(self.get("/url")?.as_str().unwrap_or_default().to_string())
    }

    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, WdError> {
        let v = self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        )?;
        Ok(elements(&v))
    }

    pub fn find_all_in(&self, parent: &Element, css: &str) -> Result<Vec<Element>, WdError> {
        let v = self.post(
            &format!("/element/{}/elements", parent.id),
            json!({ "using": "css selector", "value": css }),
        )?;
        Ok(elements(&v))
    }

    pub fn text(&self, e: &Element) -> Result<String, WdError> {
        Ok(self
            .get(&format!("/element/{}/text", e.id))?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// An attribute as written in the markup (`None` when absent).
    pub fn attr(&self, e: &Element, name: &str) -> Result<Option<String>, WdError> {
        Ok(self
            .get(&format!("/element/{}/attribute/{name}", e.id))?
            .as_str()
            .map(str::to_string))
    }

    pub fn displayed(&self, e: &Element) -> Result<bool, WdError> {
        Ok(self.get(&format!("/element/{}/displayed", e.id))? == true)
    }

    pub fn click(&self, e: &Element) -> Result<(), WdError> {
        self.post(&format!("/element/{}/click", e.id), json!({}))
            .map(|_| ())
    }

    pub fn clear(&self, e: &Element) -> Result<(), WdError> {
        self.post(&format!("/element/{}/clear", e.id), json!({}))
            .map(|_| ())
    }

    pub fn send_keys(&self, e: &Element, text: &str) -> Result<(), WdError> {
        self.post(&format!("/element/{}/value", e.id), json!({ "text": text }))
            .map(|_| ())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WdError> {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
    }

    /// Same as [`Session::execute`] with an element as the first argument.
    pub fn execute_on(&self, script: &str, e: &Element) -> Result<Value, WdError> {
        self.execute(script, vec![e.json()])
    }

    /// The text of an open alert/confirm/prompt dialog, `None` when none is open.
    pub fn alert_text(&self) -> Result<Option<String>, WdError> {
        match self.get("/alert/text") {
            Ok(v) => Ok(Some(v.as_str().unwrap_or_default().to_string())),
            Err(e) if e.error == "no such alert" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves the mouse to `(x, y)` pixels from the element's centre.
    pub fn hover(&self, e: &Element, x: i64, y: i64) -> Result<(), WdError> {
        self.post(
            "/actions",
            json!({ "actions": [{
                "type": "pointer",
                "id": "mouse",
                "parameters": { "pointerType": "mouse" },
                "actions": [{
                    "type": "pointerMove", "duration": 0,
                    "origin": e.json(), "x": x, "y": y
                }]
            }]}),
        )
        .map(|_| ())
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Result<Vec<u8>, WdError> {
        let v = self.get("/screenshot")?;
        base64_decode(v.as_str().unwrap_or_default()).map_err(transport)
    }
}

fn elements(v: &Value) -> Vec<Element> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT_KEY].as_str())
                .map(|id| Element { id: id.to_string() })
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Session {
    fn drop(&mut self) {
        // Quits the browser; without it chromium would outlive chromedriver.
        let _ = http("DELETE", &self.base, None, Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_vectors() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("Zm9vYmFy\n").unwrap(), b"foobar");
        assert!(base64_decode("Zm9v!").is_err());
    }

    #[test]
    fn http_responses_parse_with_length_and_chunks() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert!(is_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length:3\r\n\r\nabc"
        ));
        assert!(!is_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length:3\r\n\r\nab"
        ));
        assert!(!is_complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
        ));
        assert!(is_complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        ));
        assert!(!is_complete(b"HTTP/1.1 200 OK\r\n"));
    }
}
