//! The commands, one file per group (quickwit-cli's layout): each file
//! holds its arguments, its run and its printing; `main.rs` only parses and
//! dispatches.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mediawatch_config::Config;
use mediawatch_index::Index;
use mediawatch_pipeline::DataDir;

pub(crate) mod alerts;
pub(crate) mod classify;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod extract;
pub(crate) mod incidents;
pub(crate) mod index;
pub(crate) mod ledger;
pub(crate) mod models;
pub(crate) mod query;
pub(crate) mod run;
pub(crate) mod sources;
pub(crate) mod speakers;
pub(crate) mod state;
pub(crate) mod training;

/// The shipped starter config, used when no `--config` is given and
/// `config/default.toml` is not in the working directory.
const EMBEDDED_CONFIG: &str = include_str!("../../config/default.toml");

/// What every command may need: the global options.
pub(crate) struct Ctx {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--data-dir`.
    pub data_dir: PathBuf,
}

impl Ctx {
    /// The config, loaded and validated (see [`load_config`]).
    pub fn config(&self) -> Result<Config> {
        load_config(self.config.as_deref())
    }

    /// Runs an async command on a multi-threaded runtime.
    pub fn block_on<F: std::future::Future<Output = Result<()>>>(&self, f: F) -> Result<()> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("mw-worker")
            .build()
            .context("cannot start the async runtime")?
            .block_on(f)
    }
}

/// Loads and validates the config; an invalid one stops here, before
/// anything starts.
pub(crate) fn load_config(path: Option<&Path>) -> Result<Config> {
    let local = Path::new("config/default.toml");
    let (config, origin) = match path {
        Some(p) => (Config::load(p)?, p.display().to_string()),
        None if local.exists() => (Config::load(local)?, local.display().to_string()),
        None => {
            let origin = "<embedded config/default.toml>";
            (
                Config::from_toml_str(EMBEDDED_CONFIG, origin)?,
                origin.into(),
            )
        }
    };
    for note in config.notes(&origin) {
        tracing::warn!("{note}");
    }
    Ok(config)
}

/// The query facade over the index an earlier run wrote, with `sources`
/// (the configured sources' metadata, for audience tags and reach; empty
/// where a command needs none).
pub(crate) fn open_queries(
    data_dir: &Path,
    sources: Vec<mediawatch_core::SourceMeta>,
) -> Result<mediawatch_query::Queries> {
    Ok(mediawatch_query::Queries::local(
        open_index(data_dir)?,
        std::sync::Arc::new(sources),
    ))
}

pub(crate) fn open_index(data_dir: &Path) -> Result<Index> {
    Ok(DataDir::existing(data_dir).open_index()?)
}

pub(crate) fn parse_opt_date(
    name: &str,
    v: &Option<String>,
    end: bool,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    v.as_deref()
        .map(|s| mediawatch_query::parse_date(name, s, end))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--{e}"))
}
