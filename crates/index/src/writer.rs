//! The writer thread.
//!
//! tantivy's `IndexWriter` does its own multi-threaded indexing, but its
//! `commit` blocks for as long as segments take to flush, which must never
//! happen on an async runtime thread. So one dedicated std thread owns the
//! writer and executes commands in order; handles talk to it over a bounded
//! channel, so a slow commit makes producers wait (backpressure) instead of
//! queueing documents without limit.
//!
//! An upsert deletes the previous copy of its id only when there may be
//! one: the id is in the committed index, or was added since the last
//! commit. tantivy keeps every delete (as a query weight, about a kilobyte)
//! until the next commit has applied it to every segment, and applies each
//! to every new segment: a million fresh documents between two commits
//! held over a gigabyte that way, and cost a term lookup per delete and
//! segment.

use std::collections::HashSet;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use mediawatch_core::{Document, SourceMeta};
use mediawatch_report::cluster_key;
use tantivy::{IndexReader, IndexWriter, TantivyDocument, Term};

use crate::schema::{to_tantivy, DocExtra, Fields};
use crate::IndexError;

/// Commands in flight between handles and the writer thread.
const CHANNEL_CAPACITY: usize = 256;

enum Command {
    Upsert {
        id: String,
        doc: Box<TantivyDocument>,
    },
    Commit(SyncSender<Result<u64, IndexError>>),
    Shutdown(SyncSender<Result<u64, IndexError>>),
}

struct Shared {
    fields: Fields,
    location: String,
    /// First failure of the writer thread; every later call reports it.
    failure: Mutex<Option<String>>,
    join: Mutex<Option<JoinHandle<()>>>,
}

/// Sends writes to the index's writer thread. Cheap to clone; every clone
/// feeds the same writer.
///
/// Dropping every handle without [`IndexWriterHandle::close`] stops the
/// thread and discards uncommitted changes (tantivy's rollback semantics);
/// call `close` for an ordered shutdown.
#[derive(Clone)]
pub struct IndexWriterHandle {
    tx: SyncSender<Command>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for IndexWriterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexWriterHandle")
            .field("location", &self.shared.location)
            .finish_non_exhaustive()
    }
}

impl IndexWriterHandle {
    pub(crate) fn spawn(
        writer: IndexWriter,
        reader: IndexReader,
        fields: Fields,
        location: String,
    ) -> Result<Self, IndexError> {
        let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
        let shared = Arc::new(Shared {
            fields,
            location: location.clone(),
            failure: Mutex::new(None),
            join: Mutex::new(None),
        });
        let thread_shared = Arc::clone(&shared);
        let join = std::thread::Builder::new()
            .name("mw-index-writer".to_string())
            .spawn(move || writer_loop(writer, reader, rx, thread_shared))
            .map_err(|e| IndexError::Writer {
                location: location.clone(),
                message: format!("cannot start the writer thread: {e}"),
            })?;
        if let Ok(mut slot) = shared.join.lock() {
            *slot = Some(join);
        }
        Ok(Self { tx, shared })
    }

    fn check_failure(&self) -> Result<(), IndexError> {
        let failure = self
            .shared
            .failure
            .lock()
            .map(|f| f.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        match failure {
            Some(message) => Err(IndexError::Writer {
                location: self.shared.location.clone(),
                message,
            }),
            None => Ok(()),
        }
    }

    fn closed(&self) -> IndexError {
        // The thread may have died with a recorded reason; prefer that.
        if let Err(e) = self.check_failure() {
            return e;
        }
        IndexError::Writer {
            location: self.shared.location.clone(),
            message: "the index writer was closed".to_string(),
        }
    }

    /// Adds `doc`, replacing any document with the same id, so re-ingesting
    /// never duplicates. Visible to searches after the next commit. Blocks
    /// while the writer's queue is full.
    ///
    /// The content hash is computed from the text and the document is its
    /// own near-duplicate cluster; use [`IndexWriterHandle::upsert_with`]
    /// to store a cluster assigned by the pipeline.
    pub fn upsert(&self, doc: Document, source: &SourceMeta) -> Result<(), IndexError> {
        self.upsert_with(doc, source, &DocExtra::default())
    }

    /// [`IndexWriterHandle::upsert`] with the document's content hash and
    /// near-duplicate cluster id (fields left `None` get the defaults
    /// described on [`DocExtra`]).
    pub fn upsert_with(
        &self,
        doc: Document,
        source: &SourceMeta,
        extra: &DocExtra,
    ) -> Result<(), IndexError> {
        self.check_failure()?;
        let tdoc = to_tantivy(&self.shared.fields, &doc, source, extra)?;
        let id = doc.id.as_str().to_string();
        self.tx
            .send(Command::Upsert {
                id,
                doc: Box::new(tdoc),
            })
            .map_err(|_| self.closed())
    }

    fn round_trip(
        &self,
        make: impl FnOnce(SyncSender<Result<u64, IndexError>>) -> Command,
    ) -> Result<u64, IndexError> {
        let (reply_tx, reply_rx) = sync_channel(1);
        self.tx.send(make(reply_tx)).map_err(|_| self.closed())?;
        reply_rx.recv().map_err(|_| self.closed())?
    }

    /// Commits everything sent so far, waits for it, and reloads the shared
    /// reader so searches see the changes. Returns tantivy's opstamp.
    pub fn commit(&self) -> Result<u64, IndexError> {
        self.check_failure()?;
        self.round_trip(Command::Commit)
    }

    /// Commits, stops the writer thread and waits for it to finish (ordered
    /// shutdown). Other clones of this handle fail afterwards.
    pub fn close(self) -> Result<(), IndexError> {
        self.check_failure()?;
        let result = self.round_trip(Command::Shutdown);
        let join = self
            .shared
            .join
            .lock()
            .map(|mut j| j.take())
            .unwrap_or_else(|p| p.into_inner().take());
        if let Some(join) = join {
            if join.join().is_err() {
                return Err(IndexError::Writer {
                    location: self.shared.location.clone(),
                    message: "the writer thread panicked during shutdown".to_string(),
                });
            }
        }
        result.map(|_| ())
    }
}

fn writer_loop(
    mut writer: IndexWriter,
    reader: IndexReader,
    rx: Receiver<Command>,
    shared: Arc<Shared>,
) {
    let id_field = shared.fields.id;
    let location = shared.location.clone();
    let record = |message: String| {
        let mut slot = shared.failure.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(message);
        }
    };
    let commit = |writer: &mut IndexWriter| -> Result<u64, IndexError> {
        let opstamp = writer.commit().map_err(|e| IndexError::Writer {
            location: location.clone(),
            message: format!("commit failed: {e}"),
        })?;
        reader.reload().map_err(|e| IndexError::Writer {
            location: location.clone(),
            message: format!("committed, but reloading the reader failed: {e}"),
        })?;
        Ok(opstamp)
    };
    // What is committed: another process may have committed before this
    // writer took the lock. Without a fresh view, every upsert deletes.
    let mut committed = reader.reload().ok().map(|()| reader.searcher());
    // Hashes of the ids added since the last commit (a collision only
    // costs an unneeded delete).
    let mut pending: HashSet<u64> = HashSet::new();
    // Ends when every handle is dropped (rollback) or on Shutdown.
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Command::Upsert { id, doc } => {
                let term = Term::from_field_text(id_field, &id);
                let key = cluster_key(&id);
                let may_exist = pending.contains(&key)
                    || committed
                        .as_ref()
                        .is_none_or(|s| s.doc_freq(&term).map_or(true, |n| n > 0));
                if may_exist {
                    // Deleting first and adding after gives the new document
                    // a later opstamp, so the delete never removes it, even
                    // when the same id is upserted twice between commits.
                    writer.delete_term(term);
                }
                pending.insert(key);
                if let Err(e) = writer.add_document(*doc) {
                    record(format!("adding document {id} failed: {e}"));
                }
            }
            Command::Commit(reply) => {
                let r = commit(&mut writer);
                match &r {
                    Ok(_) => {
                        // `commit` reloaded the reader: it sees them all now.
                        pending.clear();
                        committed = Some(reader.searcher());
                    }
                    Err(e) => record(e.to_string()),
                }
                let _ = reply.send(r);
            }
            Command::Shutdown(reply) => {
                let r = commit(&mut writer);
                // Let merges finish so the directory is tidy and unlocked
                // before the caller goes on (e.g. reopens the index).
                let r = match writer.wait_merging_threads() {
                    Ok(()) => r,
                    Err(e) => r.and(Err(IndexError::Writer {
                        location: location.clone(),
                        message: format!("waiting for merges failed: {e}"),
                    })),
                };
                let _ = reply.send(r);
                return;
            }
        }
    }
}
