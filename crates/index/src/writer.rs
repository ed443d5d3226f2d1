//! The writer thread.
//!
//! tantivy's `IndexWriter` does its own multi-threaded indexing, but its
//! `commit` blocks for as long as segments take to flush, which must never
//! happen on an async runtime thread. So one dedicated std thread owns the
//! writer and executes commands in order; handles talk to it over a bounded
//! channel, so a slow commit makes producers wait (backpressure) instead of
//! queueing documents without limit.
//!
//! Documents cross to the writer thread in batches, and from it to
//! tantivy's indexing threads in batches too (`IndexWriter::run`): handing
//! them over one at a time woke a sleeping thread for every document, and
//! those wake-ups cost ~16% of the CPU of a bulk load. tantivy's own queue
//! is bounded in *batches*, not documents, so the writer bounds the
//! documents in flight itself: each carries a slot of [`InFlight`] that is
//! freed when tantivy has indexed (and dropped) it.
//!
//! An upsert deletes the previous copy of its id only when there may be
//! one: the id is in the committed index, or was added since the last
//! commit. tantivy keeps every delete (as a query weight, about a kilobyte)
//! until the next commit has applied it to every segment, and applies each
//! to every new segment: a million fresh documents between two commits
//! held over a gigabyte that way, and cost a term lookup per delete and
//! segment.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mediawatch_core::{Document, SourceMeta};
use mediawatch_report::cluster_key;
use tantivy::indexer::UserOperation;
use tantivy::schema::document::CompactDocValue;
use tantivy::schema::Field;
use tantivy::{IndexReader, TantivyDocument, Term};

use crate::schema::{to_tantivy, DocExtra, Fields};
use crate::IndexError;

/// Commands in flight between handles and the writer thread.
const CHANNEL_CAPACITY: usize = 32;
/// Most documents in one command: with [`CHANNEL_CAPACITY`], at most 4 096
/// documents wait for the writer thread (tantivy queues up to 10 000 more).
const MAX_BATCH: usize = 128;

/// Documents handed to tantivy and not yet indexed, at most (plus one
/// batch when a batch is larger than the room left).
const IN_FLIGHT_CAPACITY: usize = 4_096;
/// A writer thread waiting for room is woken when the documents in flight
/// fall to this many: once per 2 048 documents, not once per document.
const IN_FLIGHT_LOW_WATER: usize = 2_048;

/// Count of the documents in tantivy's queue and indexing threads.
#[derive(Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
}

impl InFlight {
    /// Takes `n` slots, first waiting while there is no room for them and
    /// more than [`IN_FLIGHT_LOW_WATER`] documents are in flight.
    ///
    /// Waiting gives up after a second without any progress, so that a
    /// dead indexing pipeline (which would never free a slot) surfaces
    /// tantivy's error on the next send instead of hanging the writer.
    fn acquire(self: &Arc<Self>, n: usize) -> Vec<Slot> {
        let full = |count: usize| count + n > IN_FLIGHT_CAPACITY && count > IN_FLIGHT_LOW_WATER;
        if full(self.count.load(Ordering::Acquire)) {
            let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut seen = self.count.load(Ordering::Acquire);
            while full(seen) {
                let (g, timeout) = self
                    .room
                    .wait_timeout(guard, Duration::from_secs(1))
                    .unwrap_or_else(|p| p.into_inner());
                guard = g;
                let now = self.count.load(Ordering::Acquire);
                if timeout.timed_out() && now == seen {
                    break;
                }
                seen = now;
            }
        }
        self.count.fetch_add(n, Ordering::AcqRel);
        (0..n).map(|_| Slot(Arc::clone(self))).collect()
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

/// One document's place in [`InFlight`], freed on drop.
pub(crate) struct Slot(Arc<InFlight>);

impl Drop for Slot {
    fn drop(&mut self) {
        let now = self.0.count.fetch_sub(1, Ordering::AcqRel) - 1;
        if now == IN_FLIGHT_LOW_WATER {
            // Under the lock, so a waiter is either before its check (and
            // sees the new count) or already waiting (and is woken).
            let _guard = self.0.lock.lock().unwrap_or_else(|p| p.into_inner());
            self.0.room.notify_all();
        }
    }
}

/// A document on its way through tantivy's indexing queue, holding its
/// [`Slot`] until tantivy drops it after indexing.
pub(crate) struct QueuedDoc {
    doc: TantivyDocument,
    _slot: Slot,
}

impl tantivy::Document for QueuedDoc {
    type Value<'a> = CompactDocValue<'a>;
    type FieldsValuesIter<'a> = Box<dyn Iterator<Item = (Field, CompactDocValue<'a>)> + 'a>;

    fn iter_fields_and_values(&self) -> Self::FieldsValuesIter<'_> {
        Box::new(self.doc.iter_fields_and_values())
    }
}

/// The tantivy writer as this crate opens it.
pub(crate) type TantivyWriter = tantivy::IndexWriter<QueuedDoc>;

enum Command {
    /// Documents with their ids, in the order they were upserted.
    Upsert(Vec<(String, TantivyDocument)>),
    /// Commit, with an optional payload stored in the commit's metadata.
    Commit(Option<String>, SyncSender<Result<u64, IndexError>>),
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
        writer: TantivyWriter,
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
        self.upsert_batch([(&doc, source, extra)])
    }

    /// Upserts several documents in one message to the writer thread.
    ///
    /// Each document is handled as by [`IndexWriterHandle::upsert_with`],
    /// in order, but the writer thread is woken once for the batch instead
    /// of once per document: at bulk-load rates the per-document hand-off
    /// between threads is a measurable share of the CPU. If any document
    /// cannot be encoded, none of the batch is sent and the error names it.
    pub fn upsert_batch<'a>(
        &self,
        batch: impl IntoIterator<Item = (&'a Document, &'a SourceMeta, &'a DocExtra)>,
    ) -> Result<(), IndexError> {
        self.check_failure()?;
        let docs = batch
            .into_iter()
            .map(|(doc, source, extra)| {
                let tdoc = to_tantivy(&self.shared.fields, doc, source, extra)?;
                Ok((doc.id.as_str().to_string(), tdoc))
            })
            .collect::<Result<Vec<_>, IndexError>>()?;
        // Moved into chunks in one pass (splitting off the front would copy
        // the rest of a long batch once per chunk).
        let mut docs = docs.into_iter().peekable();
        while docs.peek().is_some() {
            let chunk: Vec<_> = docs.by_ref().take(MAX_BATCH).collect();
            self.tx
                .send(Command::Upsert(chunk))
                .map_err(|_| self.closed())?;
        }
        Ok(())
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
        self.round_trip(|r| Command::Commit(None, r))
    }

    /// Commits like [`IndexWriterHandle::commit`] and stores `payload` in
    /// the same commit (atomically with the documents): an indexer
    /// consuming a stream writes its stream position here, so that after a
    /// crash the index and the position it reached can never disagree.
    /// Read it back with [`crate::Index::commit_payload`].
    pub fn commit_with_payload(&self, payload: String) -> Result<u64, IndexError> {
        self.check_failure()?;
        self.round_trip(|r| Command::Commit(Some(payload), r))
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
    mut writer: TantivyWriter,
    reader: IndexReader,
    rx: Receiver<Command>,
    shared: Arc<Shared>,
) {
    let id_field = shared.fields.id;
    let location = shared.location.clone();
    let record = |message: String| {
        let mut slot = shared.failure.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(format!("{message}{}", diagnose(&location)));
        }
    };
    // A commit without a payload keeps the last one (tantivy would store
    // none): a plain commit, such as the one at close, must not erase an
    // indexer's stream position.
    let mut kept_payload: Option<String> = reader
        .searcher()
        .index()
        .load_metas()
        .ok()
        .and_then(|m| m.payload);
    let mut commit =
        |writer: &mut TantivyWriter, payload: Option<String>| -> Result<u64, IndexError> {
            let failed = |e: tantivy::TantivyError| IndexError::Writer {
                location: location.clone(),
                message: format!("commit failed: {e}"),
            };
            let mut prepared = writer.prepare_commit().map_err(failed)?;
            if let Some(p) = payload {
                kept_payload = Some(p);
            }
            if let Some(p) = &kept_payload {
                prepared.set_payload(p);
            }
            let opstamp = prepared.commit().map_err(failed)?;
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
    let in_flight = Arc::new(InFlight::default());
    // Ends when every handle is dropped (rollback) or on Shutdown.
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Command::Upsert(docs) => {
                let slots = in_flight.acquire(docs.len());
                let mut ops = Vec::with_capacity(docs.len() + 8);
                for ((id, doc), slot) in docs.into_iter().zip(slots) {
                    let term = Term::from_field_text(id_field, &id);
                    let key = cluster_key(&id);
                    let may_exist = pending.contains(&key)
                        || committed
                            .as_ref()
                            .is_none_or(|s| s.doc_freq(&term).map_or(true, |n| n > 0));
                    if may_exist {
                        // The delete comes before the add in the batch, so
                        // it gets the earlier opstamp and never removes the
                        // new document, even when the same id is upserted
                        // twice between commits.
                        ops.push(UserOperation::Delete(term));
                    }
                    pending.insert(key);
                    ops.push(UserOperation::Add(QueuedDoc { doc, _slot: slot }));
                }
                let count = ops.len();
                if let Err(e) = writer.run(ops) {
                    record(format!("adding a batch of {count} operations failed: {e}"));
                }
            }
            Command::Commit(payload, reply) => {
                let r = commit(&mut writer, payload);
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
                let r = commit(&mut writer, None);
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

/// Why writes in the index directory fail, when the disk says so: a
/// failing tantivy worker thread reports only "An index writer was
/// killed", losing the OS error. A write probe names a read-only or full
/// directory; else the free space is added when it is low.
fn diagnose(location: &str) -> String {
    let dir = std::path::Path::new(location);
    if !dir.is_dir() {
        return String::new();
    }
    if let Some(why) = mediawatch_core::fsprobe::unwritable(dir) {
        return why;
    }
    match fs4::available_space(dir) {
        Ok(free) if free < LOW_SPACE_BYTES => format!(
            " (the disk of {location} is nearly full: {} KiB free; a segment write needs more)",
            free / 1024
        ),
        _ => String::new(),
    }
}

/// Below this much free space a failed write is put down to a full disk.
const LOW_SPACE_BYTES: u64 = 64 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn in_flight_waits_for_room() {
        let in_flight = Arc::new(InFlight::default());
        let mut held = in_flight.acquire(IN_FLIGHT_CAPACITY);
        assert_eq!(in_flight.count(), IN_FLIGHT_CAPACITY);

        let (tx, rx) = channel();
        let waiter = {
            let in_flight = Arc::clone(&in_flight);
            std::thread::spawn(move || {
                let slots = in_flight.acquire(10);
                tx.send(()).unwrap();
                slots
            })
        };
        // Full: the waiter is blocked.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        // Freeing slots down to the low-water mark wakes it.
        held.truncate(IN_FLIGHT_LOW_WATER);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("woken once room was made");
        let slots = waiter.join().unwrap();
        assert_eq!(in_flight.count(), IN_FLIGHT_LOW_WATER + 10);
        drop(slots);
        drop(held);
        assert_eq!(in_flight.count(), 0);
    }

    #[test]
    fn in_flight_gives_up_waiting_when_nothing_moves() {
        // A dead indexing pipeline never frees its slots; the writer must
        // go on (and meet tantivy's error) instead of hanging.
        let in_flight = Arc::new(InFlight::default());
        let _held = in_flight.acquire(IN_FLIGHT_CAPACITY);
        let more = in_flight.acquire(1);
        assert_eq!(more.len(), 1);
        assert_eq!(in_flight.count(), IN_FLIGHT_CAPACITY + 1);
    }
}
