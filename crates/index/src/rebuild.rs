//! Rebuilding an index of an older schema version from its stored
//! documents ([`Index::rebuild`]).
//!
//! A schema change used to mean "move the index and the crawl state away
//! and fetch everything again". That loses whatever the web no longer
//! serves: feeds list only their latest items, and articles move or
//! disappear. Every mediawatch schema stores each document whole (text,
//! title, labels, dates, identity), so a new index can be written from the
//! old one's stored fields instead, with every derived field (stems, word
//! pairs, cluster keys) computed afresh.

use std::path::Path;

use mediawatch_core::{SourceMeta, SourceScope};
use tantivy::directory::error::LockError;
use tantivy::directory::{MmapDirectory, INDEX_WRITER_LOCK};
use tantivy::schema::{Field, Schema, Value};
use tantivy::{Directory, DocAddress, TantivyDocument};

use crate::schema::{self, build_schema, from_tantivy, stored_extra, Fields};
use crate::{read_schema_version, Index, IndexError, VERSION_FILE};

/// Documents per hand-off to the new index's writer.
const BATCH: usize = 128;

/// What [`Index::rebuild`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildStats {
    /// Schema version of the old index (1 for indexes written before
    /// versions were recorded).
    pub from_version: u32,
    /// Documents copied: every live document of the old index.
    pub documents: u64,
}

impl Index {
    /// Writes every document of the mediawatch index in `old` (of any
    /// schema version) into a new, empty index of this build's schema in
    /// `new`, from the stored fields, and commits it. `old` is only read;
    /// its writer lock is held throughout, so a running pipeline cannot add
    /// documents that the copy would miss. Fails when `new` already holds
    /// documents, or when the copy does not end with as many documents as
    /// `old` has.
    pub fn rebuild(
        old: &Path,
        new: &Path,
        heap_bytes: usize,
        lemmas: Option<&Path>,
    ) -> Result<RebuildStats, IndexError> {
        let location = old.display().to_string();
        let open_err = |message: String| IndexError::Open {
            location: location.clone(),
            message,
        };
        let tantivy_err = |what: &'static str, cause: tantivy::TantivyError| IndexError::Tantivy {
            location: location.clone(),
            what,
            cause,
        };
        let dir = MmapDirectory::open(old).map_err(|e| open_err(e.to_string()))?;
        if !tantivy::Index::exists(&dir).map_err(|e| open_err(e.to_string()))? {
            return Err(open_err("there is no index in this directory".into()));
        }
        // Held until the copy is committed (dropping it releases the lock).
        let _lock = dir.acquire_lock(&INDEX_WRITER_LOCK).map_err(|e| match e {
            LockError::LockBusy => IndexError::Locked {
                location: location.clone(),
            },
            LockError::IoError(e) => open_err(format!("cannot take the writer lock: {e}")),
        })?;
        let index = tantivy::Index::open(dir).map_err(|e| open_err(e.to_string()))?;
        let old_schema = index.schema();
        if old_schema.get_field(schema::F_LABEL_FLAGS).is_err() {
            return Err(open_err(
                "this is not a mediawatch index (it has no `label_flags` field)".into(),
            ));
        }
        let from_version = read_schema_version(&old.join(VERSION_FILE))
            .map_err(open_err)?
            .unwrap_or(1);
        let fields = stored_fields_of(&old_schema).map_err(open_err)?;
        let country = old_schema
            .get_field(schema::F_COUNTRY)
            .map_err(|_| open_err("the index has no `country` field".into()))?;

        // The new index analyses with the lemma lists given (a reindex
        // after editing `config/lemmas`), else with the old index's own.
        let lemma_src = lemmas.map_or_else(|| old.join(crate::LEMMAS_DIR), Path::to_path_buf);
        crate::copy_lemma_files(&lemma_src, &new.join(crate::LEMMAS_DIR)).map_err(|e| {
            open_err(format!(
                "cannot copy the lemma lists from {}: {e}",
                lemma_src.display()
            ))
        })?;
        let target = Index::open_or_create(new)?;
        if target.num_docs()? != 0 {
            return Err(IndexError::InvalidRequest {
                message: format!(
                    "cannot rebuild into {}: it already holds documents",
                    new.display()
                ),
            });
        }
        let writer = target.writer(heap_bytes)?;
        let reader = index
            .reader()
            .map_err(|e| tantivy_err("opening a reader", e))?;
        let searcher = reader.searcher();
        let mut expected = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            expected += u64::from(segment.num_docs());
            for doc_id in segment.doc_ids_alive() {
                let stored: TantivyDocument = searcher
                    .doc(DocAddress::new(ord as u32, doc_id))
                    .map_err(|e| tantivy_err("reading a stored document", e))?;
                let doc = from_tantivy(&fields, &stored)?;
                // The index keeps a source's id and country; the rest of
                // `SourceMeta` lives in the config and is not indexed.
                let source = SourceMeta {
                    id: doc.source_id.clone(),
                    name: doc.source_id.clone(),
                    country: stored
                        .get_first(country)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    languages: Vec::new(),
                    scope: SourceScope::default(),
                    audience: Vec::new(),
                    reach: None,
                };
                batch.push((doc, source, stored_extra(&fields, &stored)));
                if batch.len() == BATCH {
                    send(&writer, &mut batch)?;
                }
            }
        }
        send(&writer, &mut batch)?;
        writer.close()?;
        target.reload()?;
        let documents = target.num_docs()?;
        if documents != expected {
            return Err(IndexError::Writer {
                location: new.display().to_string(),
                message: format!(
                    "the rebuilt index holds {documents} documents, the old one {expected} \
                     (duplicate ids in the old index?); the old index is unchanged"
                ),
            });
        }
        Ok(RebuildStats {
            from_version,
            documents,
        })
    }
}

fn send(
    writer: &crate::IndexWriterHandle,
    batch: &mut Vec<(mediawatch_core::Document, SourceMeta, crate::DocExtra)>,
) -> Result<(), IndexError> {
    writer.upsert_batch(batch.iter().map(|(d, s, e)| (d, s, e)))?;
    batch.clear();
    Ok(())
}

/// This build's field handles, with those of the stored fields replaced by
/// the same-named fields of `old` (field numbers differ between versions).
/// Only the stored fields are read from an old document.
fn stored_fields_of(old: &Schema) -> Result<Fields, String> {
    let (current, mut f) = build_schema();
    let remap = |field: &mut Field| -> Result<(), String> {
        let name = current.get_field_name(*field);
        *field = old
            .get_field(name)
            .map_err(|_| format!("the index has no `{name}` field"))?;
        Ok(())
    };
    for field in [
        &mut f.id,
        &mut f.source,
        &mut f.lang,
        &mut f.kind,
        &mut f.url,
        &mut f.title,
        &mut f.text,
        &mut f.author,
        &mut f.published,
        &mut f.published_known,
        &mut f.fetched,
        &mut f.labels_json,
        &mut f.parent_id,
        &mut f.content_hash,
        &mut f.cluster_id,
    ] {
        remap(field)?;
    }
    // Fields of later versions: absent from an older index, read as
    // missing (a field id no document has).
    for field in [&mut f.modified, &mut f.date_source] {
        if remap(field).is_err() {
            *field = Field::from_field_id(u32::MAX);
        }
    }
    Ok(f)
}
