//! `extract` and `parse-feed`: one page or one feed, for checking what the
//! pipeline would see.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

/// `mediawatch extract`.
#[derive(Args, Debug)]
pub(crate) struct ExtractArgs {
    /// The HTML file.
    pub file: Option<PathBuf>,
    /// URL the page came from (resolves relative links).
    #[arg(long)]
    pub url: Option<String>,
    /// Extract every file in this directory, one JSON line each.
    #[arg(long)]
    pub input_dir: Option<PathBuf>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `mediawatch parse-feed`.
#[derive(Args, Debug)]
pub(crate) struct ParseFeedArgs {
    /// The feed file.
    pub file: PathBuf,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn extract_json(a: &mediawatch_extract::Article) -> serde_json::Value {
    serde_json::json!({
        "title": a.title,
        "byline": a.byline,
        "published": a.published,
        "lang": a.lang,
        "text": a.text,
    })
}

pub(crate) fn extract(
    file: Option<PathBuf>,
    url: Option<String>,
    input_dir: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let opts = mediawatch_extract::ExtractOptions::default();
    let mut out = std::io::stdout().lock();
    if let Some(dir) = input_dir {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut failures = 0;
        for p in files {
            let bytes =
                std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match mediawatch_extract::extract_bytes(&bytes, None, url.as_deref(), &opts) {
                Ok(a) => {
                    let mut v = extract_json(&a);
                    v["file"] = serde_json::Value::String(name);
                    serde_json::to_writer(&mut out, &v)?;
                    writeln!(out)?;
                }
                Err(e) => {
                    failures += 1;
                    let v = serde_json::json!({"file": name, "error": e.to_string()});
                    serde_json::to_writer(&mut out, &v)?;
                    writeln!(out)?;
                    eprintln!("{}: {e}", p.display());
                }
            }
        }
        if failures > 0 {
            eprintln!("{failures} file(s) could not be extracted");
        }
        return Ok(());
    }
    let Some(file) = file else {
        bail!("give an HTML FILE or --input-dir DIR");
    };
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let a = mediawatch_extract::extract_bytes(&bytes, None, url.as_deref(), &opts)
        .with_context(|| format!("extracting {}", file.display()))?;
    if json {
        serde_json::to_writer_pretty(&mut out, &extract_json(&a))?;
        writeln!(out)?;
    } else {
        if let Some(t) = &a.title {
            writeln!(out, "# {t}")?;
        }
        let meta: Vec<String> = [
            a.byline.clone(),
            a.published.map(|d| d.to_rfc3339()),
            a.lang.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !meta.is_empty() {
            writeln!(out, "{}", meta.join(" | "))?;
        }
        writeln!(out, "\n{}", a.text)?;
    }
    Ok(())
}

pub(crate) fn parse_feed(file: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let feed = mediawatch_ingest::parse_feed(&bytes, None)
        .with_context(|| format!("parsing {}", file.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        let entries: Vec<serde_json::Value> = feed
            .entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "title": e.title, "link": e.link, "published": e.published,
                    "authors": e.authors, "summary": e.summary, "content": e.content,
                })
            })
            .collect();
        let v = serde_json::json!({"title": feed.title, "link": feed.link, "entries": entries});
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} ({}): {} entries",
            feed.title.as_deref().unwrap_or("(untitled)"),
            feed.link.as_deref().unwrap_or("no link"),
            feed.entries.len()
        )?;
        for e in &feed.entries {
            let date = e
                .published
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            writeln!(
                out,
                "  {date:10}  {}  {}",
                e.title.as_deref().unwrap_or("(untitled)"),
                e.link.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(())
}
