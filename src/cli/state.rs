//! `migrate-state`: move a single machine's state into PostgreSQL.

use anyhow::{bail, Context, Result};
use clap::Args;
use mediawatch_pipeline::DataDir;
use mediawatch_state::{redact_url, PgStateStore};

use super::Ctx;

/// `mediawatch migrate-state`.
#[derive(Args, Debug)]
pub(crate) struct MigrateArgs {
    /// The PostgreSQL database to copy into (default: `[state] url`, or
    /// MEDIAWATCH_POSTGRES_URL). It must hold no state yet.
    #[arg(long)]
    to: Option<String>,
}

/// Copies `<data-dir>/state.sqlite` into PostgreSQL and prints what was
/// copied. The SQLite file is left as it was.
pub(crate) fn migrate(ctx: &Ctx, a: MigrateArgs) -> Result<()> {
    let url = match a.to {
        Some(u) => u,
        None => ctx.config()?.state.postgres_url().context(
            "no PostgreSQL database: pass --to URL, set [state] url, or set MEDIAWATCH_POSTGRES_URL",
        )?,
    };
    let data = DataDir::existing(&ctx.data_dir);
    let file = data.state_file();
    if !file.exists() {
        bail!("no state to migrate: {} does not exist", file.display());
    }
    let target = PgStateStore::connect(&url)?;
    let report = mediawatch_state::sqlite_to_postgres(&file, &target)
        .with_context(|| format!("copying {} into {}", file.display(), redact_url(&url)))?;
    for (table, rows) in &report.tables {
        println!("{table:<18} {rows:>10} rows");
    }
    println!(
        "copied {} into {}; set [state] backend = \"postgres\" to use it",
        file.display(),
        redact_url(&url)
    );
    Ok(())
}
