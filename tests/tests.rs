//! The one integration test binary (one link step for all end-to-end tests).
//! Every test drives the real `mediawatch` binary against a real HTTP server
//! on loopback, a real tantivy index and a real SQLite state file (or a real
//! PostgreSQL server, started by the test, for the PostgreSQL state backend).

mod api;
mod classify;
mod cli;
mod cluster;
mod e2e;
mod ingest;
mod sources;
mod state;
mod util;
