//! `reindex`: the index rebuilt in this build's schema.

use std::path::Path;

use anyhow::{Context, Result};
use mediawatch_pipeline::DataDir;

/// Writer memory for `mediawatch reindex`: a one-off bulk load, so larger
/// than the pipeline's (fewer, larger segments; see BENCHMARKS.md).
pub(crate) const REINDEX_HEAP_BYTES: usize = 256 * 1024 * 1024;

/// Rebuilds the index in this build's schema (see
/// [`DataDir::rebuild_index`]).
/// `lemmas`: the config's lemma lists (`[index] lemmas`), which the new
/// index takes when the directory exists.
pub(crate) fn reindex(data_dir: &Path, lemmas: Option<&Path>) -> Result<()> {
    let started = std::time::Instant::now();
    let lemmas = lemmas.filter(|p| p.is_dir());
    if let Some(dir) = lemmas {
        eprintln!(
            "mediawatch: the rebuilt index takes the lemma lists of {}",
            dir.display()
        );
    }
    let r = DataDir::existing(data_dir)
        .rebuild_index(REINDEX_HEAP_BYTES, lemmas)
        .context("rebuilding the index")?;
    println!(
        "rebuilt {} documents from schema v{} to v{} in {:.1}s; the old index is in {} \
         (delete it once you are satisfied)",
        r.documents,
        r.from_version,
        mediawatch_index::SCHEMA_VERSION,
        started.elapsed().as_secs_f64(),
        r.kept.display()
    );
    Ok(())
}
