//! `mediawatch models ...`: the model files listed in `models/manifest.toml`
//! (the multilingual-e5-small encoder and its tokenizer).

use std::path::Path;

use anyhow::{bail, Result};
use clap::Subcommand;
use mediawatch_embed::{FetchAction, FetchOptions};

/// `mediawatch models`.
#[derive(clap::Args, Debug)]
pub(crate) struct ModelsArgs {
    /// Directory holding manifest.toml and the model files.
    #[arg(long, default_value = "models")]
    pub models_dir: std::path::PathBuf,
    #[command(subcommand)]
    pub action: ModelsAction,
}

/// What to do with the model files.
#[derive(Subcommand, Debug)]
pub enum ModelsAction {
    /// Download missing or corrupt model files (every file sha256-checked).
    Fetch {
        /// Report what is missing without using the network; exits with an
        /// error when something is.
        #[arg(long)]
        offline_check: bool,
        /// Also fetch the optional Hugging Face variant (needs huggingface.co).
        #[arg(long)]
        with_optional: bool,
    },
    /// List the model files: name, path, present, checksum.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Check the sha256 of every model file; fails when a required one is
    /// missing or does not match.
    Verify,
}

/// Runs one `models` subcommand against `models_dir`.
pub fn run(models_dir: &Path, action: ModelsAction) -> Result<()> {
    let m = mediawatch_classify::build::manifest(models_dir)?;
    match action {
        ModelsAction::Fetch {
            offline_check,
            with_optional,
        } => {
            let opts = FetchOptions {
                offline: offline_check,
                include_optional: with_optional,
                ..FetchOptions::default()
            };
            let report = mediawatch_embed::fetch(&m, models_dir, &opts)?;
            for (name, path, action) in &report.artifacts {
                let what = match action {
                    FetchAction::Present => "ok (present)".to_string(),
                    FetchAction::Downloaded { url, bytes } => {
                        format!("downloaded {bytes} bytes from {url}")
                    }
                    FetchAction::Missing => "MISSING".to_string(),
                    FetchAction::Skipped => "skipped (optional)".to_string(),
                };
                println!("{name:<24} {:<48} {what}", path.display());
            }
            let missing = report.missing();
            if !missing.is_empty() {
                bail!(
                    "missing model files: {} (run `mediawatch models fetch` with network)",
                    missing.join(", ")
                );
            }
            Ok(())
        }
        ModelsAction::List { json } => {
            let st = mediawatch_embed::verify(&m, models_dir)?;
            if json {
                let rows: Vec<_> = st
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "artifact": s.name,
                            "path": s.path,
                            "present": s.present,
                            "sha_ok": s.sha_ok,
                            "sha256": s.sha256,
                            "optional": s.optional,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<24} {:<48} {:<8} sha256", "artifact", "path", "present");
                for s in &st {
                    let sha = match s.sha_ok {
                        Some(true) => "ok",
                        Some(false) => "MISMATCH",
                        None if s.present => "unpinned",
                        None => "-",
                    };
                    let opt = if s.optional { " (optional)" } else { "" };
                    println!(
                        "{:<24} {:<48} {:<8} {sha}{opt}",
                        s.name,
                        s.path.display(),
                        if s.present { "yes" } else { "no" }
                    );
                }
            }
            Ok(())
        }
        ModelsAction::Verify => {
            let st = mediawatch_embed::verify(&m, models_dir)?;
            let mut bad = Vec::new();
            for s in &st {
                if s.optional && !s.present {
                    continue;
                }
                if s.ok() {
                    println!("ok       {}", s.name);
                } else {
                    let why = if s.present {
                        "checksum mismatch"
                    } else {
                        "missing"
                    };
                    println!("FAILED   {} ({why}: {})", s.name, s.path.display());
                    bad.push(s.name.clone());
                }
            }
            if !bad.is_empty() {
                bail!(
                    "model files failed verification: {} (run `mediawatch models fetch`)",
                    bad.join(", ")
                );
            }
            Ok(())
        }
    }
}
