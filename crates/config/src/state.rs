//! The `[state]` section: where crawl state, seen items, health, alerts and
//! corrections are kept.
//!
//! ```toml
//! [state]
//! backend = "postgres"   # default "sqlite": state.sqlite in the data directory
//! url = "postgres://mediawatch@db.example:5432/mediawatch"
//! ```
//!
//! The URL may name no password: put it in `MEDIAWATCH_POSTGRES_URL`
//! (which overrides `url`) or in the PostgreSQL password file.

use serde::{Deserialize, Serialize};

/// The environment variable that holds (and overrides) the PostgreSQL URL.
pub const POSTGRES_URL_ENV: &str = "MEDIAWATCH_POSTGRES_URL";

/// Which state backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StateBackendKind {
    /// One SQLite file in the data directory: one machine, no server.
    #[default]
    Sqlite,
    /// A PostgreSQL server shared by the machines of a cluster.
    Postgres,
}

/// The `[state]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// SQLite (default) or PostgreSQL.
    pub backend: StateBackendKind,
    /// PostgreSQL URL without a password (`backend = "postgres"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl StateConfig {
    /// The PostgreSQL URL: the environment's, else the config's.
    pub fn postgres_url(&self) -> Option<String> {
        std::env::var(POSTGRES_URL_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| self.url.clone())
    }

    pub(crate) fn validate_into(&self, errors: &mut Vec<String>) {
        if let Some(u) = &self.url {
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "postgres" | "postgresql") => {
                    if p.password().is_some() {
                        errors.push(format!(
                            "state.url: must not hold a password (set {POSTGRES_URL_ENV}, or use the PostgreSQL password file)"
                        ));
                    }
                }
                Ok(p) => errors.push(format!(
                    "state.url: scheme {:?} is not postgres:// or postgresql://",
                    p.scheme()
                )),
                Err(e) => errors.push(format!("state.url: {u:?} is not a URL: {e}")),
            }
        }
        if self.backend == StateBackendKind::Postgres && self.postgres_url().is_none() {
            errors.push(format!(
                "state.url: required for backend \"postgres\" (or set {POSTGRES_URL_ENV})"
            ));
        }
    }
}
