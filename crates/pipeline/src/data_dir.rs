//! The data directory: where the index, the state store and the demo's
//! scratch copy live, and the one place that knows their names. Commands
//! open what they need through it instead of joining paths themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mediawatch_config::{StateBackendKind, StateConfig};
use mediawatch_index::Index;
use mediawatch_state::{PgStateStore, StateBackend, StateStore};

use crate::{PipelineError, Result};

/// File layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// What [`DataDir::rebuild_index`] did.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    /// Documents copied into the new index.
    pub documents: u64,
    /// Schema version of the old index.
    pub from_version: u32,
    /// Where the old index was kept.
    pub kept: PathBuf,
}

impl DataDir {
    /// Uses (and creates) `root`.
    pub fn create(root: &Path) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|source| PipelineError::DataDir {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Self::existing(root))
    }

    /// Uses `root` without creating anything: for commands that only read
    /// what an earlier run wrote (and say so when it is not there).
    pub fn existing(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    /// The tantivy index directory.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }

    /// The SQLite state file.
    pub fn state_file(&self) -> PathBuf {
        self.root.join("state.sqlite")
    }

    /// The demo's scratch data directory (cleared by each `demo`).
    pub fn demo_dir(&self) -> PathBuf {
        self.root.join("demo")
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Opens the index an earlier run wrote; [`PipelineError::NoIndex`]
    /// when there is none (a reader never creates an empty index).
    pub fn open_index(&self) -> Result<Index> {
        let dir = self.index_dir();
        if !dir.exists() {
            return Err(PipelineError::NoIndex(self.root.clone()));
        }
        Ok(Index::open_or_create(&dir)?)
    }

    /// Opens (or creates) the state store `cfg` names: the SQLite file
    /// of this directory, or the shared PostgreSQL database. This is the
    /// one place that picks the backend.
    pub fn open_state(&self, cfg: &StateConfig) -> Result<Arc<dyn StateBackend>> {
        Ok(match cfg.backend {
            StateBackendKind::Sqlite => Arc::new(StateStore::open(&self.state_file())?),
            StateBackendKind::Postgres => {
                let url = cfg.postgres_url().ok_or_else(|| {
                    PipelineError::Config(format!(
                        "state.url: required for backend \"postgres\" (or set {})",
                        mediawatch_config::POSTGRES_URL_ENV
                    ))
                })?;
                Arc::new(PgStateStore::connect(&url)?)
            }
        })
    }

    /// Opens the state store when an earlier run wrote one (a PostgreSQL
    /// database always counts as written).
    pub fn open_state_if_exists(&self, cfg: &StateConfig) -> Result<Option<Arc<dyn StateBackend>>> {
        if cfg.backend == StateBackendKind::Sqlite && !self.state_file().exists() {
            return Ok(None);
        }
        self.open_state(cfg).map(Some)
    }

    /// Rebuilds the index in this build's schema: copies it into
    /// `index.rebuild`, then swaps the two directories, keeping the old
    /// index as `index.v<N>-<time>`. The swap happens only after the copy
    /// is committed and counted, so a failure at any point leaves `index`
    /// as it was; an `index.rebuild` left by an interrupted run is never
    /// part of the live index and is cleared first.
    /// With `lemmas` (a directory of lemma lists), the new index analyses
    /// with those; else with the old index's own.
    pub fn rebuild_index(&self, heap_bytes: usize, lemmas: Option<&Path>) -> Result<Rebuilt> {
        let dir = self.index_dir();
        if !dir.exists() {
            return Err(PipelineError::NoIndex(self.root.clone()));
        }
        let io = |what: &str, path: &Path| {
            let (what, path) = (what.to_string(), path.to_path_buf());
            move |source| PipelineError::Io { what, path, source }
        };
        let building = self.root.join("index.rebuild");
        if building.exists() {
            std::fs::remove_dir_all(&building).map_err(io("removing the unfinished", &building))?;
        }
        let stats = Index::rebuild(&dir, &building, heap_bytes, lemmas)?;
        let kept = self.root.join(format!(
            "index.v{}-{}",
            stats.from_version,
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::rename(&dir, &kept).map_err(io(
            &format!(
                "moving the old index (the new one is complete in {}) to",
                building.display()
            ),
            &kept,
        ))?;
        std::fs::rename(&building, &dir).map_err(io(
            &format!(
                "moving the new index into place (move {} there by hand):",
                building.display()
            ),
            &dir,
        ))?;
        Ok(Rebuilt {
            documents: stats.documents,
            from_version: stats.from_version,
            kept,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_do_not_create_an_index() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = DataDir::existing(tmp.path());
        let err = data.open_index().expect_err("no index yet");
        assert!(err.to_string().contains("no index in"), "{err}");
        assert!(!data.index_dir().exists());
        assert!(data
            .open_state_if_exists(&StateConfig::default())
            .expect("state")
            .is_none());
        assert!(matches!(
            data.rebuild_index(15_000_000, None),
            Err(PipelineError::NoIndex(_))
        ));
    }

    #[test]
    fn rebuild_swaps_and_keeps_the_old_index() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = DataDir::create(tmp.path()).expect("data dir");
        drop(Index::open_or_create(&data.index_dir()).expect("index"));
        // Left by an interrupted run.
        std::fs::create_dir_all(tmp.path().join("index.rebuild")).expect("mkdir");
        let r = data.rebuild_index(15_000_000, None).expect("rebuild");
        assert_eq!(r.documents, 0);
        assert!(r.kept.exists());
        assert!(!tmp.path().join("index.rebuild").exists());
        data.open_index().expect("the new index opens");
    }
}
