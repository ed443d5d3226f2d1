//! `config`: check a config file, and rewrite an older one in the current
//! format.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mediawatch_config::Config;

use super::Ctx;

/// `mediawatch config`.
#[derive(Args, Debug)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ConfigAction {
    /// Parse and validate the config (--config, else the default) and say
    /// what it configures; every problem is listed with its key.
    Check,
    /// Print FILE (a version 1 config) as version 2: each source's kind
    /// keys move into its `params` table. Values are kept, defaults written
    /// out; comments are not kept, so review before replacing the file.
    Upgrade {
        /// The config file to convert.
        file: PathBuf,
    },
}

/// `mediawatch config ...`.
pub(crate) fn run(ctx: &Ctx, a: ConfigArgs) -> Result<()> {
    match a.action {
        ConfigAction::Check => {
            let config = ctx.config()?;
            let enabled = config.sources.iter().filter(|s| s.enabled).count();
            println!(
                "config version {}: {} sources ({enabled} enabled), {} saved searches, classifier {:?}",
                config.version,
                config.sources.len(),
                config.saved_searches.len(),
                config.classifier.kind.as_str(),
            );
            Ok(())
        }
        ConfigAction::Upgrade { file } => {
            let config = Config::load(&file)?;
            let text = config
                .to_toml()
                .with_context(|| format!("cannot write {} as version 2", file.display()))?;
            // What is printed must load as it stands.
            Config::from_toml_str(&text, "<upgraded config>")
                .context("the upgraded config does not load (a bug: please report it)")?;
            print!("{text}");
            Ok(())
        }
    }
}
