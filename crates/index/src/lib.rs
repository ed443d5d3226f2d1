//! The mediawatch document index: tantivy storage, search and the fact rows
//! that trend reports count.
//!
//! - [`Index`] is a cheap-to-clone handle (an `Arc` inside) for searching and
//!   reading; many threads may use it at once.
//! - [`Index::writer`] starts the single writer thread and returns an
//!   [`IndexWriterHandle`]; writes go through a bounded channel so the
//!   writer's pace limits producers (backpressure), and async code never
//!   blocks on a commit except by choice.
//! - Text goes through the `mw` analyzer ([`analyzer`]) at index and query
//!   time, so Cyrillic and Latin spellings, and text with or without
//!   diacritics, find each other.
//! - Queries are tantivy syntax plus filters written in the query
//!   (`country:RS lang:sr kind:comment hate>0.7 class:hate date:2026-03
//!   date>=2026-01-01 -country:HU`), see [`SearchRequest::query`].
//! - [`Index::facts`] reads only fast fields, so reports over hundreds of
//!   thousands of documents never touch the document store;
//!   [`Index::report`] goes further and counts from a compact table with
//!   integer ids (a million documents in well under a second), with several
//!   queries side by side when asked ([`TrendRequest::compare`]).
//! - Words also search per-language stemmed fields (English, German,
//!   Italian, Hungarian, Greek), so `migrants` finds `migrant`; quoted
//!   phrases stay exact. Searches return facet counts ([`Facets`]) over
//!   every match.
//!
//! Other processes may open the same directory for reading while one process
//! writes; only one writer may exist per index (see [`IndexError::Locked`]).

pub mod analyzer;
mod collapse;
mod facets;
mod facts;
mod qlang;
mod query;
mod rebuild;
mod scan;
mod schema;
mod segcache;
mod stats;
mod terms;
mod trend;
mod writer;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mediawatch_core::{DocId, DocKind, Document, Labels};
use mediawatch_report::{Report, ReportRequest};
use serde::{Deserialize, Serialize};
use tantivy::collector::sort_key::{SortBySimilarityScore, SortByStaticFastValue};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::directory::MmapDirectory;
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, IndexReader, Order, ReloadPolicy, TantivyDocument, TantivyError, Term};

pub use analyzer::{LemmaError, Lemmas};
pub use facets::{FacetCount, Facets};
pub use mediawatch_report::{DocFacts, FactTable};
pub use query::snippet_to_text;
pub use rebuild::RebuildStats;
pub use schema::{stem_slot, DocExtra, Stemming, SCHEMA_VERSION, STEMMED_LANGS, UNKNOWN_LANG};
pub use stats::QueryStats;
pub use terms::{
    is_content_term, log_likelihood, TermCount, TermCounts, TermStat, TermsRequest, TermsResult,
    DEFAULT_TERMS_LIMIT, MAX_DOCS_PER_PERIOD, SIGNIFICANT_LLR,
};
pub use writer::IndexWriterHandle;

use crate::schema::{build_schema, Fields};

/// Hits returned when a request asks for `limit: 0`.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest page a request may ask for.
pub const MAX_LIMIT: usize = 1_000;
/// Deepest `offset + limit` a request may reach; deeper paging costs memory
/// on every search, and nobody reads result 100 001.
pub const MAX_WINDOW: usize = 100_000;
/// Snippet length, in characters.
pub const SNIPPET_CHARS: usize = 200;
/// Writer heap below which tantivy refuses to start; smaller requests are
/// raised to it.
pub const MIN_WRITER_HEAP: usize = 15_000_000;
/// Segments with more live documents than this are not merged again.
///
/// tantivy's log merge policy merges eight segments of a size into one, and
/// by default goes on until segments hold 10 million documents, so a large
/// index keeps rewriting gigabytes it has already written, one merge at a
/// time on one thread. Here a segment of ~250 000 documents (about 1 GB of
/// realistic articles) is final; a million-document bulk load ends with a
/// few large segments and some small ones, which searches visit in parallel
/// (one task per segment).
pub const MAX_MERGE_DOCS: usize = 250_000;
/// Background merge threads of [`Index::writer`]. tantivy's default (4)
/// lets four merges hold memory at once; two keep up with indexing on
/// small machines.
pub const DEFAULT_MERGE_THREADS: usize = 2;

/// Errors from the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index directory could not be created.
    #[error("cannot create index directory {}: {cause}", dir.display())]
    CreateDir {
        /// The directory.
        dir: std::path::PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The index could not be opened or created.
    #[error("cannot open index at {location}: {message}")]
    Open {
        /// Directory, or `memory`.
        location: String,
        /// What tantivy reported.
        message: String,
    },
    /// The directory holds an index built with another schema (an older or
    /// newer mediawatch).
    #[error(
        "index at {location} was built with a different schema ({details}); move the directory \
         away and re-index, or use the mediawatch version that created it"
    )]
    SchemaMismatch {
        /// Directory.
        location: String,
        /// Which fields differ.
        details: String,
    },
    /// The directory holds an index of another schema version (see
    /// [`SCHEMA_VERSION`]).
    #[error(
        "index at {location} has schema v{found}, this build needs v{needed}: stop mediawatch and \
         run `mediawatch reindex`, which rebuilds it from its own stored documents and keeps the \
         old one; or move the data directory's `index` and `state.sqlite` away together and \
         ingest again (only what the sources still serve comes back); or keep using the \
         mediawatch version that built it"
    )]
    SchemaVersion {
        /// Directory.
        location: String,
        /// Version found (1 for indexes written before versions existed).
        found: u32,
        /// Version this build reads and writes.
        needed: u32,
    },
    /// Another writer (usually another mediawatch process) holds the lock.
    #[error(
        "index at {location} is locked by another writer (is another mediawatch process \
         running?); stop it, or delete {location}/.tantivy-writer.lock if you are sure none is"
    )]
    Locked {
        /// Directory.
        location: String,
    },
    /// The search query is not valid query syntax.
    #[error("invalid search query {query:?}: {message}")]
    Query {
        /// The query as given.
        query: String,
        /// What is wrong and where.
        message: String,
    },
    /// A search or facts request is inconsistent (e.g. `from` after `to`).
    #[error("invalid search request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// A document could not be converted for indexing.
    #[error("cannot index document {id}: {message}")]
    Encode {
        /// Document id.
        id: String,
        /// Why.
        message: String,
    },
    /// A stored document could not be read back.
    #[error("stored document {id:?} is unreadable: {message}")]
    Corrupt {
        /// Document id, when known.
        id: String,
        /// Why.
        message: String,
    },
    /// The writer thread failed or was closed.
    #[error("index writer for {location} failed: {message}")]
    Writer {
        /// Directory, or `memory`.
        location: String,
        /// Why.
        message: String,
    },
    /// tantivy failed while searching or reading.
    #[error("index at {location}: {what} failed: {cause}")]
    Tantivy {
        /// Directory, or `memory`.
        location: String,
        /// The operation.
        what: &'static str,
        /// tantivy's error.
        cause: TantivyError,
    },
}

/// A search request. `limit: 0` means [`DEFAULT_LIMIT`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchRequest {
    /// tantivy query syntax over title (boost 2) and text; all words must
    /// match by default. Empty = every document, newest first. Filters in
    /// the query itself (`country:RS`, `lang:sr`, `source:ID`,
    /// `kind:comment`, `class:hate`, `hate>0.7`, `date>=2026-01-01`,
    /// `date:2026-03`, `-country:HU`; see the `qlang` module docs) are taken
    /// out first and must hold too; a query of filters only browses the
    /// matching documents, newest first.
    pub query: String,
    /// Inclusive lower bound on the trend time (published, else fetched).
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the trend time.
    pub to: Option<DateTime<Utc>>,
    /// Source id.
    pub source: Option<String>,
    /// Country code (case-insensitive).
    pub country: Option<String>,
    /// Language code (case-insensitive).
    pub lang: Option<String>,
    /// Document kind.
    pub kind: Option<DocKind>,
    /// Page size.
    pub limit: usize,
    /// Hits to skip.
    pub offset: usize,
    /// Newest first instead of by relevance (ties by relevance).
    pub sort_by_date: bool,
    /// One hit per near-duplicate cluster: the best-scoring copy (or the
    /// newest, with `sort_by_date`), with [`Hit::duplicates`] saying how
    /// many other copies matched. `total` then counts clusters.
    pub collapse_clusters: bool,
}

/// Search results. The JSON form is the CLI/API contract.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResults {
    /// Matching documents in the whole index (not just this page); with
    /// `collapse_clusters`, matching clusters.
    pub total: usize,
    /// This page.
    pub hits: Vec<Hit>,
    /// Counts per source, country, language and label over every matching
    /// document (all pages; every copy of a collapsed cluster).
    pub facets: Facets,
}

/// One search hit.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hit {
    /// Document id.
    pub id: String,
    /// Canonical URL.
    pub url: String,
    /// Title.
    pub title: String,
    /// Source id.
    pub source: String,
    /// Publication time; null when the item stated none.
    pub published: Option<DateTime<Utc>>,
    /// The trend time (publication, else modification, else fetch time):
    /// what date ordering and date filters use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// Where the document's trend time comes from: `fetched` means the
    /// item stated no date (it is kept out of reports and alerts unless
    /// they ask for undated documents).
    #[serde(default)]
    pub date_source: mediawatch_core::DateSource,
    /// Relevance score (BM25).
    pub score: f32,
    /// HTML-safe excerpt: matches wrapped in `<b>`, everything else escaped.
    /// Falls back to the start of the text when nothing in the text matched.
    pub snippet: String,
    /// Classifier output, when classified.
    pub labels: Option<Labels>,
    /// Near-duplicate cluster (syndicated copies of one story share it).
    pub cluster_id: String,
    /// With `collapse_clusters`: how many other matching documents of the
    /// same cluster this hit stands for; otherwise 0.
    pub duplicates: usize,
}

/// Which documents [`Index::facts`] returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FactsFilter {
    /// Inclusive lower bound on the trend time.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the trend time.
    pub to: Option<DateTime<Utc>>,
    /// Source id.
    pub source: Option<String>,
    /// Country code (case-insensitive).
    pub country: Option<String>,
    /// Language code (case-insensitive).
    pub lang: Option<String>,
    /// Optional query (same syntax as search) to narrow the documents.
    pub query: Option<String>,
    /// Count documents that stated no date too (dated by their fetch).
    /// Off by default: a crawl day must not look like a news day in a
    /// time series.
    #[serde(default)]
    pub include_undated: bool,
}

/// A trend report over the index: which documents ([`FactsFilter`]), how
/// to count them ([`ReportRequest`]), and optionally several queries side
/// by side.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrendRequest {
    /// Which documents; `filter.query` is the first compared query when
    /// `compare` is not empty.
    pub filter: FactsFilter,
    /// Buckets, grouping, range, dedup.
    pub report: ReportRequest,
    /// More queries to put side by side (`report --compare`,
    /// `/api/report?q=a&compare=b&compare=c`): the report then has one row
    /// per bucket and query (`by` = `query`, the query in `group`), built
    /// by `mediawatch_report::compare_reports`. Needs `report.by` = none.
    pub compare: Vec<String>,
}

struct Inner {
    index: tantivy::Index,
    /// The index directory (none in memory).
    dir: Option<std::path::PathBuf>,
    reader: IndexReader,
    fields: Fields,
    location: String,
    /// Facet and cluster tables of the live segments.
    tables: segcache::SegmentCache,
}

/// The index's own copy of the lemma lists (`<index>/lemmas/<code>.txt`).
pub const LEMMAS_DIR: &str = "lemmas";

/// What [`Index::sync_lemmas`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LemmaSync {
    /// The index already uses these lists.
    Unchanged,
    /// The empty index took them.
    Installed {
        /// Forms listed.
        forms: usize,
    },
    /// The index holds documents analysed with other lists (kept in
    /// `index`); `mediawatch reindex` applies the new ones.
    Differs {
        /// The index's own lists.
        index: std::path::PathBuf,
    },
}

/// Copies the lemma list files of `src` into `dst` (replacing its own).
pub(crate) fn copy_lemma_files(src: &Path, dst: &Path) -> std::io::Result<()> {
    if dst.exists() {
        std::fs::remove_dir_all(dst)?;
    }
    let files = analyzer::lemma_files(src);
    if files.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dst)?;
    for (code, text) in files {
        std::fs::write(dst.join(format!("{code}.txt")), text)?;
    }
    Ok(())
}

/// A handle on one index. Clone freely; all clones share one reader.
#[derive(Clone)]
pub struct Index {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("location", &self.inner.location)
            .finish_non_exhaustive()
    }
}

/// Describes how two schemas differ, field by field.
fn schema_diff(expected: &tantivy::schema::Schema, actual: &tantivy::schema::Schema) -> String {
    let mut out = Vec::new();
    for (_, e) in expected.fields() {
        match actual.get_field(e.name()) {
            Err(_) => out.push(format!("field `{}` missing", e.name())),
            Ok(f) if actual.get_field_entry(f) != e => {
                out.push(format!("field `{}` has other options", e.name()))
            }
            Ok(_) => {}
        }
    }
    for (_, a) in actual.fields() {
        if expected.get_field(a.name()).is_err() {
            out.push(format!("unexpected field `{}`", a.name()));
        }
    }
    if out.is_empty() {
        "field order differs".to_string()
    } else {
        out.join(", ")
    }
}

/// File next to the tantivy files that records [`SCHEMA_VERSION`]. tantivy
/// only garbage-collects files it created, so it leaves this one alone.
const VERSION_FILE: &str = "mediawatch-index.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct VersionFile {
    schema_version: u32,
}

/// The recorded schema version; `None` when the file does not exist.
fn read_schema_version(path: &Path) -> Result<Option<u32>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<VersionFile>(&text)
            .map(|v| Some(v.schema_version))
            .map_err(|e| format!("{} is not a valid version file: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_schema_version(path: &Path) -> Result<(), String> {
    let text = serde_json::to_string(&VersionFile {
        schema_version: SCHEMA_VERSION,
    })
    .map_err(|e| format!("cannot encode the version file: {e}"))?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl Index {
    /// Opens the index in `dir`, creating the directory and an empty index
    /// when there is none.
    pub fn open_or_create(dir: &Path) -> Result<Self, IndexError> {
        let location = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|cause| IndexError::CreateDir {
            dir: dir.to_path_buf(),
            cause,
        })?;
        let open_err = |e: &dyn std::fmt::Display| IndexError::Open {
            location: location.clone(),
            message: e.to_string(),
        };
        let mmap = MmapDirectory::open(dir).map_err(|e| open_err(&e))?;
        let (schema, fields) = build_schema();
        let exists = tantivy::Index::exists(&mmap).map_err(|e| open_err(&e))?;
        let version_file = dir.join(VERSION_FILE);
        let index = if exists {
            let index = tantivy::Index::open(mmap).map_err(|e| open_err(&e))?;
            let actual = index.schema();
            let found = read_schema_version(&version_file).map_err(|e| open_err(&e))?;
            // Without a version file, only a mediawatch layout is "v1";
            // anything else is a foreign index.
            let ours = actual.get_field(schema::F_LABEL_FLAGS).is_ok();
            match found {
                Some(v) if v != SCHEMA_VERSION => {
                    return Err(IndexError::SchemaVersion {
                        location,
                        found: v,
                        needed: SCHEMA_VERSION,
                    })
                }
                None if ours && actual != schema => {
                    return Err(IndexError::SchemaVersion {
                        location,
                        found: 1,
                        needed: SCHEMA_VERSION,
                    })
                }
                _ => {}
            }
            if actual != schema {
                return Err(IndexError::SchemaMismatch {
                    details: schema_diff(&schema, &actual),
                    location,
                });
            }
            if found.is_none() {
                write_schema_version(&version_file).map_err(|e| open_err(&e))?;
            }
            index
        } else {
            let index = tantivy::Index::create(mmap, schema, tantivy::IndexSettings::default())
                .map_err(|e| open_err(&e))?;
            write_schema_version(&version_file).map_err(|e| open_err(&e))?;
            index
        };
        let lemmas =
            analyzer::Lemmas::load_dir(&dir.join(LEMMAS_DIR)).map_err(|e| IndexError::Open {
                location: location.clone(),
                message: format!("lemma list {e}"),
            })?;
        Self::from_tantivy(index, fields, location, Some(dir.to_path_buf()), lemmas)
    }

    /// The index's lemma lists compared with those in `src` (a directory of
    /// `<code>.txt` files, `config/lemmas`): an empty index takes them (they
    /// are copied into `<index>/lemmas/` and analysis uses them at once); a
    /// non-empty one keeps its own, since its documents were analysed with
    /// them (`mediawatch reindex` applies new lists).
    pub fn sync_lemmas(&self, src: &Path) -> Result<LemmaSync, IndexError> {
        let wanted = analyzer::lemma_files(src);
        let Some(dir) = self.inner.dir.as_ref() else {
            return Ok(LemmaSync::Unchanged);
        };
        let own_dir = dir.join(LEMMAS_DIR);
        if analyzer::lemma_files(&own_dir) == wanted {
            return Ok(LemmaSync::Unchanged);
        }
        if self.num_docs()? != 0 {
            return Ok(LemmaSync::Differs { index: own_dir });
        }
        let lemmas = analyzer::Lemmas::load_dir(src).map_err(|e| IndexError::InvalidRequest {
            message: format!("lemma list {e}"),
        })?;
        copy_lemma_files(src, &own_dir).map_err(|e| IndexError::Open {
            location: self.inner.location.clone(),
            message: format!(
                "cannot copy the lemma lists into {}: {e}",
                own_dir.display()
            ),
        })?;
        let forms = lemmas.len();
        analyzer::register_all(&self.inner.index, Arc::new(lemmas));
        Ok(LemmaSync::Installed { forms })
    }

    /// An empty index in memory, for tests and benchmarks.
    pub fn create_in_ram() -> Result<Self, IndexError> {
        let (schema, fields) = build_schema();
        Self::from_tantivy(
            tantivy::Index::create_in_ram(schema),
            fields,
            "memory".into(),
            None,
            analyzer::Lemmas::default(),
        )
    }

    fn from_tantivy(
        mut index: tantivy::Index,
        fields: Fields,
        location: String,
        dir: Option<std::path::PathBuf>,
        lemmas: analyzer::Lemmas,
    ) -> Result<Self, IndexError> {
        // Tokenizers are not persisted by tantivy: register on every open.
        analyzer::register_all(&index, Arc::new(lemmas));
        // Compress stored-document blocks on the indexing thread itself.
        // tantivy's default hands every 16 KB block (about four articles) to
        // a compressor thread of its own; the wake-ups of those hand-offs
        // were most of the context switches of a bulk load, and lz4 on the
        // indexing thread costs less than them. A runtime setting: indexes
        // created before keep working.
        index.settings_mut().docstore_compress_dedicated_thread = false;
        // Segments are searched in parallel (one task per segment), so a
        // heavy query on a multi-segment index uses every core: latency,
        // not throughput, is what the search target measures.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        if threads > 1 {
            index
                .set_multithread_executor(threads)
                .map_err(|e| IndexError::Open {
                    location: location.clone(),
                    message: format!("cannot start the search threads: {e}"),
                })?;
        }
        // OnCommitWithDelay also picks up commits made by another process;
        // our own commits reload explicitly and are visible at once.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e: TantivyError| IndexError::Open {
                location: location.clone(),
                message: format!("cannot start a reader: {e}"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                index,
                dir,
                reader,
                fields,
                location,
                tables: segcache::SegmentCache::default(),
            }),
        })
    }

    /// Where the index lives (`memory` for in-RAM indexes).
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    fn tantivy_err(&self, what: &'static str) -> impl Fn(TantivyError) -> IndexError + '_ {
        move |cause| IndexError::Tantivy {
            location: self.inner.location.clone(),
            what,
            cause,
        }
    }

    /// Starts the writer thread with `heap_bytes` of indexing memory (raised
    /// to [`MIN_WRITER_HEAP`] if smaller). Fails with
    /// [`IndexError::Locked`] while another writer holds this index.
    pub fn writer(&self, heap_bytes: usize) -> Result<IndexWriterHandle, IndexError> {
        // tantivy's own choice: a thread per core (at most 8), fewer when
        // each would get less than the minimum heap.
        let heap = heap_bytes.max(MIN_WRITER_HEAP);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let threads = cores.min(heap / MIN_WRITER_HEAP).max(1);
        self.writer_with_threads(heap, threads, DEFAULT_MERGE_THREADS)
    }

    /// [`Index::writer`] with a chosen number of indexing threads (each
    /// gets `heap_bytes / indexing_threads`, at least [`MIN_WRITER_HEAP`],
    /// and builds its own segments) and of threads that merge segments in
    /// the background (each merge holds memory of its own).
    pub fn writer_with_threads(
        &self,
        heap_bytes: usize,
        indexing_threads: usize,
        merge_threads: usize,
    ) -> Result<IndexWriterHandle, IndexError> {
        let threads = indexing_threads.clamp(1, 8);
        let per_thread = (heap_bytes / threads).max(MIN_WRITER_HEAP);
        let options = tantivy::indexer::IndexWriterOptions::builder()
            .num_worker_threads(threads)
            .memory_budget_per_thread(per_thread)
            .num_merge_threads(merge_threads.max(1))
            .build();
        let writer = self
            .inner
            .index
            .writer_with_options::<writer::QueuedDoc>(options)
            .map_err(|e| match e {
                TantivyError::LockFailure(LockError::LockBusy, _) => IndexError::Locked {
                    location: self.inner.location.clone(),
                },
                other => IndexError::Writer {
                    location: self.inner.location.clone(),
                    message: format!("cannot start the writer: {other}"),
                },
            })?;
        let mut policy = tantivy::indexer::LogMergePolicy::default();
        policy.set_max_docs_before_merge(MAX_MERGE_DOCS);
        writer.set_merge_policy(Box::new(policy));
        IndexWriterHandle::spawn(
            writer,
            self.inner.reader.clone(),
            self.inner.fields,
            self.inner.location.clone(),
        )
    }

    /// Makes changes committed by any writer (including other processes)
    /// visible now.
    pub fn reload(&self) -> Result<(), IndexError> {
        self.inner
            .reader
            .reload()
            .map_err(self.tantivy_err("reload"))
    }

    /// The payload of the last commit that set one (see
    /// [`IndexWriterHandle::commit_with_payload`]).
    pub fn commit_payload(&self) -> Result<Option<String>, IndexError> {
        let metas = self
            .inner
            .index
            .load_metas()
            .map_err(self.tantivy_err("read the commit metadata"))?;
        Ok(metas.payload)
    }

    /// Number of live documents.
    pub fn num_docs(&self) -> Result<u64, IndexError> {
        Ok(self.inner.reader.searcher().num_docs())
    }

    fn find_id(
        &self,
        searcher: &tantivy::Searcher,
        id: &DocId,
    ) -> Result<Option<DocAddress>, IndexError> {
        let q = TermQuery::new(
            Term::from_field_text(self.inner.fields.id, id.as_str()),
            IndexRecordOption::Basic,
        );
        let top = searcher
            .search(&q, &TopDocs::with_limit(1).order_by_score())
            .map_err(self.tantivy_err("lookup by id"))?;
        Ok(top.first().map(|(_, addr)| *addr))
    }

    /// The stored document with this id, if indexed.
    ///
    /// `lang` comes back as indexed: the source's default language when the
    /// document had none.
    pub fn get(&self, id: &DocId) -> Result<Option<Document>, IndexError> {
        let searcher = self.inner.reader.searcher();
        let Some(addr) = self.find_id(&searcher, id)? else {
            return Ok(None);
        };
        let d: TantivyDocument = searcher
            .doc(addr)
            .map_err(self.tantivy_err("reading a stored document"))?;
        schema::from_tantivy(&self.inner.fields, &d).map(Some)
    }

    /// The stored content hash and cluster id of a document, if indexed.
    pub fn get_extra(&self, id: &DocId) -> Result<Option<DocExtra>, IndexError> {
        let searcher = self.inner.reader.searcher();
        let Some(addr) = self.find_id(&searcher, id)? else {
            return Ok(None);
        };
        let d: TantivyDocument = searcher
            .doc(addr)
            .map_err(self.tantivy_err("reading a stored document"))?;
        Ok(Some(schema::stored_extra(&self.inner.fields, &d)))
    }

    /// Whether a document with this id is indexed (and committed).
    pub fn contains(&self, id: &DocId) -> Result<bool, IndexError> {
        let searcher = self.inner.reader.searcher();
        Ok(self.find_id(&searcher, id)?.is_some())
    }

    /// Runs a search. See [`SearchRequest`] for the semantics of each field.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, IndexError> {
        self.search_with_stats(req, None)
    }

    /// The statistics of `req`'s query in this index, for scoring it over
    /// several shards as over one index (see [`QueryStats`]).
    pub fn query_stats(&self, req: &SearchRequest) -> Result<QueryStats, IndexError> {
        let (user_query, _, full) = self.search_query(req)?;
        let searcher = self.inner.reader.searcher();
        let mut stats =
            stats::collect(&searcher, &*full).map_err(self.tantivy_err("query statistics"))?;
        stats.scored = user_query.is_some();
        Ok(stats)
    }

    /// The parts of a search: the user's query (scored; `None` when only
    /// filters were given), the query snippets highlight, and the full
    /// query with every filter.
    fn search_query(
        &self,
        req: &SearchRequest,
    ) -> Result<(Option<BoxQuery>, Option<BoxQuery>, BoxQuery), IndexError> {
        let f = &self.inner.fields;
        let parsed = query::parse_user_query(&self.inner.index, f, &req.query)?;
        let user_query = parsed.text;
        let filters = query::Filters {
            from: req.from,
            to: req.to,
            source: req.source.as_deref(),
            country: req.country.as_deref(),
            lang: req.lang.as_deref(),
            kind: req.kind,
            // Search finds every document; time series leave undated ones out.
            dated_only: false,
        };
        let full = query::with_filters(
            f,
            user_query.as_ref().map(|q| q.box_clone()),
            parsed.clauses,
            &filters,
        )?;
        Ok((user_query, parsed.snippet, full))
    }

    /// [`Index::search`], scoring with `stats` (a whole collection's, when
    /// this index is one shard of it) instead of this index's own.
    pub fn search_with_stats(
        &self,
        req: &SearchRequest,
        stats: Option<&QueryStats>,
    ) -> Result<SearchResults, IndexError> {
        let f = &self.inner.fields;
        let limit = match req.limit {
            0 => DEFAULT_LIMIT,
            n => n.min(MAX_LIMIT),
        };
        if req.offset.saturating_add(limit) > MAX_WINDOW {
            return Err(IndexError::InvalidRequest {
                message: format!(
                    "offset {} + limit {limit} goes past the deepest page ({MAX_WINDOW} hits); \
                     narrow the query or the date range instead",
                    req.offset
                ),
            });
        }
        let (user_query, snippet_query, full) = self.search_query(req)?;
        let searcher = self.inner.reader.searcher();
        let live: Vec<_> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        self.inner.tables.retain(&live);
        let cache = &self.inner.tables;
        let top = TopDocs::with_limit(limit).and_offset(req.offset);
        let by_date = req.sort_by_date || user_query.is_none();
        let (total, page, facets): (usize, Vec<PageHit>, Facets) = if req.collapse_clusters {
            self.search_collapsed(&searcher, &*full, by_date, req.offset, limit, stats)?
        } else if by_date {
            let by_date = top.order_by((
                (
                    SortByStaticFastValue::<tantivy::DateTime>::for_field(schema::F_PUBLISHED),
                    Order::Desc,
                ),
                (SortBySimilarityScore, Order::Desc),
            ));
            let (total, docs, facets) = scored(
                &searcher,
                &*full,
                &(Count, by_date, facets::FacetCollector { cache }),
                stats,
            )
            .map_err(self.tantivy_err("search"))?;
            (
                total,
                docs.into_iter().map(|((_, s), a)| (s, a, 0)).collect(),
                facets,
            )
        } else {
            let (total, docs, facets) = scored(
                &searcher,
                &*full,
                &(
                    Count,
                    top.order_by_score(),
                    facets::FacetCollector { cache },
                ),
                stats,
            )
            .map_err(self.tantivy_err("search"))?;
            (
                total,
                docs.into_iter().map(|(s, a)| (s, a, 0)).collect(),
                facets,
            )
        };

        let snippets = match snippet_query.as_ref().or(user_query.as_ref()) {
            Some(q) => {
                let mut g = SnippetGenerator::create(&searcher, &**q, f.text)
                    .map_err(self.tantivy_err("snippet preparation"))?;
                g.set_max_num_chars(SNIPPET_CHARS);
                Some(g)
            }
            None => None,
        };
        let mut hits = Vec::with_capacity(page.len());
        for (score, addr, duplicates) in page {
            let d: TantivyDocument = searcher
                .doc(addr)
                .map_err(self.tantivy_err("reading a stored document"))?;
            let s = schema::hit_fields(f, &d);
            let snippet = snippets
                .as_ref()
                .map(|g| g.snippet(&s.text))
                .filter(|sn| !sn.is_empty())
                .map(|sn| sn.to_html())
                .unwrap_or_else(|| query::fallback_snippet(&s.text, SNIPPET_CHARS));
            let labels = schema::stored_labels(f, &d, &s.id)?;
            hits.push(Hit {
                id: s.id,
                url: s.url,
                title: s.title,
                source: s.source,
                published: s.published,
                time: s.time,
                date_source: s.date_source,
                score,
                snippet,
                labels,
                cluster_id: s.cluster_id,
                duplicates,
            });
        }
        Ok(SearchResults {
            total,
            hits,
            facets,
        })
    }

    /// A collapsed search (see the `collapse` module): total clusters, the
    /// page's representatives with their other copies, and the facets.
    fn search_collapsed(
        &self,
        searcher: &tantivy::Searcher,
        query: &dyn tantivy::query::Query,
        by_date: bool,
        offset: usize,
        limit: usize,
        stats: Option<&QueryStats>,
    ) -> Result<(usize, Vec<PageHit>, Facets), IndexError> {
        let cache = &self.inner.tables;
        let want = offset.saturating_add(limit);
        let mut n = want.saturating_mul(4).max(64);
        let ((counts, facets), mut ranked) = ranked_with(
            searcher,
            query,
            by_date,
            n,
            (
                collapse::ClusterCountCollector { cache },
                facets::FacetCollector { cache },
            ),
            stats,
        )
        .map_err(self.tantivy_err("search"))?;
        let matches = usize::try_from(counts.matches()).unwrap_or(usize::MAX);
        loop {
            let page = collapse::first_of_each_cluster(&ranked, &counts, want);
            // Enough clusters, or every match is ranked already.
            if page.len() >= want || ranked.len() < n || ranked.len() >= matches {
                let page = page
                    .into_iter()
                    .skip(offset)
                    .map(|(s, a, members)| (s, a, members.saturating_sub(1)))
                    .collect();
                return Ok((counts.clusters(), page, facets));
            }
            // Never more than every match: ranking all of them is exact.
            n = n.saturating_mul(4).min(matches.max(1));
            ranked = ranked_with(searcher, query, by_date, n, Count, stats)
                .map_err(self.tantivy_err("search"))?
                .1;
        }
    }

    /// The query of a [`FactsFilter`]: its user query (all documents when
    /// unset) with its date, source, country and language filters.
    fn facts_query(
        &self,
        filter: &FactsFilter,
    ) -> Result<Box<dyn tantivy::query::Query>, IndexError> {
        let f = &self.inner.fields;
        let parsed = match filter.query.as_deref() {
            Some(q) => query::parse_user_query(&self.inner.index, f, q)?,
            None => query::UserQuery::default(),
        };
        let filters = query::Filters {
            from: filter.from,
            to: filter.to,
            source: filter.source.as_deref(),
            country: filter.country.as_deref(),
            lang: filter.lang.as_deref(),
            kind: None,
            dated_only: !filter.include_undated,
        };
        query::with_filters(f, parsed.text, parsed.clauses, &filters)
    }

    /// Documents `filter` leaves out for stating no date (0 when it
    /// includes them).
    pub fn undated_left_out(&self, filter: &FactsFilter) -> Result<u64, IndexError> {
        if filter.include_undated {
            return Ok(0);
        }
        // The same documents with undated ones in, narrowed to the undated.
        let all = self.facts_query(&FactsFilter {
            include_undated: true,
            ..filter.clone()
        })?;
        let undated = tantivy::query::BooleanQuery::new(vec![
            (tantivy::query::Occur::Must, all),
            (
                tantivy::query::Occur::Must,
                Box::new(tantivy::query::TermQuery::new(
                    Term::from_field_u64(
                        self.inner.fields.date_source,
                        mediawatch_core::DateSource::Fetched.code(),
                    ),
                    IndexRecordOption::Basic,
                )),
            ),
        ]);
        let n = self
            .inner
            .reader
            .searcher()
            .search(&undated, &Count)
            .map_err(self.tantivy_err("counting undated documents"))?;
        Ok(n as u64)
    }

    /// One [`DocFacts`] row per matching document, read from fast fields
    /// only (no stored documents are loaded). Row order is unspecified.
    pub fn facts(&self, filter: &FactsFilter) -> Result<Vec<DocFacts>, IndexError> {
        let full = self.facts_query(filter)?;
        let searcher = self.inner.reader.searcher();
        searcher
            .search(&*full, &facts::FactsCollector)
            .map_err(self.tantivy_err("reading facts"))
    }

    /// The matching documents as a [`FactTable`] (fast fields only, integer
    /// ids instead of strings), for `mediawatch_report::build_report_table`.
    pub fn fact_table(&self, filter: &FactsFilter) -> Result<FactTable, IndexError> {
        let full = self.facts_query(filter)?;
        let searcher = self.inner.reader.searcher();
        searcher
            .search(&*full, &trend::TableCollector)
            .map_err(self.tantivy_err("reading facts"))
    }

    /// Builds a trend report: the same report as
    /// `build_report(&facts(filter), report)`, counted from a
    /// [`FactTable`]. With [`TrendRequest::compare`], one part per query
    /// (`filter.query` first, when set) joined by
    /// `mediawatch_report::compare_reports`.
    pub fn report(&self, req: &TrendRequest) -> Result<Report, IndexError> {
        if req.compare.is_empty() {
            let table = self.fact_table(&req.filter)?;
            let mut report = mediawatch_report::build_report_table(&table, &req.report);
            report.undated_left_out = self.undated_left_out(&req.filter)?;
            return Ok(report);
        }
        if req.report.by != mediawatch_report::GroupBy::None {
            return Err(IndexError::InvalidRequest {
                message: "compared queries each get their own rows; they cannot also be grouped \
                          by source, country, language or audience"
                    .to_string(),
            });
        }
        let queries = req
            .filter
            .query
            .iter()
            .filter(|q| !q.trim().is_empty())
            .chain(req.compare.iter());
        let mut parts = Vec::new();
        for q in queries {
            if q.trim().is_empty() {
                return Err(IndexError::InvalidRequest {
                    message: "a compared query is empty; give each compared query some words \
                              or filters"
                        .to_string(),
                });
            }
            let filter = FactsFilter {
                query: Some(q.clone()),
                ..req.filter.clone()
            };
            let table = self.fact_table(&filter)?;
            let mut part = mediawatch_report::build_report_table(&table, &req.report);
            part.undated_left_out = self.undated_left_out(&filter)?;
            parts.push((q.clone(), part));
        }
        Ok(mediawatch_report::compare_reports(parts))
    }
}

/// A hit of a page: score, address, other copies folded into the hit.
type PageHit = (f32, DocAddress, usize);

/// A ranked match: score and address.
type Ranked = (f32, DocAddress);

/// A query of any kind.
type BoxQuery = Box<dyn tantivy::query::Query>;

/// Runs `collector` over `query`, scoring with `stats` when given (see
/// [`QueryStats`]) and with the searcher's own statistics otherwise.
fn scored<C: tantivy::collector::Collector>(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    collector: &C,
    stats: Option<&QueryStats>,
) -> tantivy::Result<C::Fruit> {
    match stats {
        Some(stats) => searcher.search_with_statistics_provider(
            query,
            collector,
            &stats::Global {
                stats,
                local: searcher,
            },
        ),
        None => searcher.search(query, collector),
    }
}

/// Runs `extra` and a ranking of the top `n` matches in one pass. The
/// ranking is the collapse order: by relevance, score then trend time
/// (newest first); by date, trend time then score; ties in document
/// address order (tantivy's top-k tie-break).
fn ranked_with<C: tantivy::collector::Collector>(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    by_date: bool,
    n: usize,
    extra: C,
    stats: Option<&QueryStats>,
) -> tantivy::Result<(C::Fruit, Vec<Ranked>)> {
    let top = TopDocs::with_limit(n.max(1));
    let time = || SortByStaticFastValue::<tantivy::DateTime>::for_field(schema::F_PUBLISHED);
    if by_date {
        let order = top.order_by(((time(), Order::Desc), (SortBySimilarityScore, Order::Desc)));
        let (fruit, docs) = scored(searcher, query, &(extra, order), stats)?;
        Ok((fruit, docs.into_iter().map(|((_, s), a)| (s, a)).collect()))
    } else {
        let order = top.order_by(((SortBySimilarityScore, Order::Desc), (time(), Order::Desc)));
        let (fruit, docs) = scored(searcher, query, &(extra, order), stats)?;
        Ok((fruit, docs.into_iter().map(|((s, _), a)| (s, a)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_shareable() {
        fn assert_send_sync_clone<T: Send + Sync + Clone>() {}
        assert_send_sync_clone::<Index>();
        fn assert_send_clone<T: Send + Clone>() {}
        assert_send_clone::<IndexWriterHandle>();
    }
}
