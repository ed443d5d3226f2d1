//! `jsonl` and `csv`: a local file of documents, one per line or row.

use chrono::Utc;
use mediawatch_config::{ColumnsConfig, FileParams};
use mediawatch_core::{canonicalize_url, DocId, DocKind, Document};

use super::{Item, ListCx, Listed, Listing};
use crate::source::{PollFailure, SourceRuntime};

/// A `jsonl` or `csv` import.
#[derive(Debug, Clone)]
pub(crate) struct FileSpec {
    pub path: std::path::PathBuf,
    pub columns: mediawatch_ingest::RecordColumns,
    /// Columns named explicitly in the config (must exist in a CSV header).
    pub explicit: Vec<String>,
    pub doc_kind: DocKind,
}

pub(super) fn build(p: &FileParams, kind: &str) -> Result<FileSpec, Vec<String>> {
    let path = p
        .path
        .clone()
        .ok_or_else(|| vec![format!("path: required for kind {kind:?}")])?;
    let (columns, explicit) = record_columns(p.columns.as_ref());
    Ok(FileSpec {
        path,
        columns,
        explicit,
        doc_kind: p.doc_kind.unwrap_or_default(),
    })
}

/// Column mapping of a file import, and the columns named explicitly.
fn record_columns(cols: Option<&ColumnsConfig>) -> (mediawatch_ingest::RecordColumns, Vec<String>) {
    let mut out = mediawatch_ingest::RecordColumns::default();
    let mut explicit = Vec::new();
    if let Some(c) = cols {
        for (field, v) in c.entries() {
            let Some(name) = v.clone() else { continue };
            explicit.push(name.clone());
            match field {
                "id" => out.id = name,
                "url" => out.url = name,
                "title" => out.title = name,
                "text" => out.text = name,
                "author" => out.author = name,
                "published" => out.published = name,
                _ => out.lang = name,
            }
        }
    }
    (out, explicit)
}

pub(super) async fn list(
    spec: &FileSpec,
    csv: bool,
    cx: &ListCx<'_>,
) -> Result<Listed, PollFailure> {
    let id = cx.id();
    let bytes = tokio::fs::read(&spec.path).await.map_err(|e| PollFailure {
        kind: "io".into(),
        message: format!("source {id}: cannot read {}: {e}", spec.path.display()),
        retry_after: None,
    })?;
    let batch = if csv {
        let explicit: Vec<&str> = spec.explicit.iter().map(String::as_str).collect();
        mediawatch_ingest::parse_csv(&bytes, &spec.columns, &explicit)
            .map_err(|e| cx.parse_failure("CSV file", &spec.path.display().to_string(), e))?
    } else {
        mediawatch_ingest::parse_jsonl(&bytes, &spec.columns)
    };
    let problems = batch
        .errors
        .iter()
        .map(|e| {
            format!(
                "source {id}: {}:{}: {}",
                spec.path.display(),
                e.line,
                e.reason
            )
        })
        .collect();
    let items = batch
        .records
        .into_iter()
        .map(|r| record_item(cx.rt, spec, r))
        .collect();
    Ok(Listed::Items(Listing {
        items,
        etag: None,
        last_modified: None,
        max_age: None,
        problems,
    }))
}

/// An item whose document is an imported row. A row with a URL gets the
/// URL's document id, so an imported article and the same article fetched
/// from a feed are one document.
fn record_item(rt: &SourceRuntime, spec: &FileSpec, r: mediawatch_ingest::Record) -> Item {
    let url = r.url.as_deref().and_then(|u| canonicalize_url(u).ok());
    let key = match (&r.id, &url) {
        (None, Some(u)) => u.clone(),
        _ => r.key(),
    };
    let id = match &url {
        Some(u) => DocId::from_url(u),
        None => DocId::from_platform(&format!("import:{}", rt.cfg.id), &key),
    };
    let doc = Document {
        id,
        source_id: rt.cfg.id.clone(),
        url: url.clone().unwrap_or_default(),
        title: r.title.clone().unwrap_or_default(),
        text: r.text,
        author: r.author.clone(),
        published: r.published,
        modified: None,
        fetched: Utc::now(),
        lang: r.lang,
        kind: spec.doc_kind,
        parent_id: None,
        labels: None,
    };
    Item {
        key,
        link: None,
        title: r.title,
        published: r.published,
        updated: None,
        authors: r.author.into_iter().collect(),
        html: None,
        prebuilt: Some(Box::new(doc)),
    }
}
