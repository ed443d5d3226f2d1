//! `classify` and `eval`: the classifier on text from the command line or
//! a file.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use mediawatch_classify::ClassifyInput;
use mediawatch_config::Config;

use super::Ctx;

/// `mediawatch classify`.
#[derive(Args, Debug)]
pub(crate) struct ClassifyArgs {
    /// Text to classify.
    pub text: Option<String>,
    /// JSONL file with {"id","text","lang"?,"context"?} per line (`-`
    /// for stdin). `context` is the title and lead of the article (or
    /// post) a comment belongs to: the comment inherits its migration
    /// scope.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Language of TEXT (ISO 639-1), when known.
    #[arg(long)]
    pub lang: Option<String>,
    /// Context of TEXT: the title and lead of the article it comments on.
    #[arg(long)]
    pub context: Option<String>,
    /// One JSON object per input.
    #[arg(long)]
    pub json: bool,
}

/// `mediawatch eval`.
#[derive(Args, Debug)]
pub(crate) struct EvalArgs {
    /// JSONL with `text`, `lang`?, and gold labels (`hate`/`label`,
    /// `relevant`, `collective`, `threat`, `victim`, `recognition`, `solutions`).
    #[arg(long)]
    pub input: PathBuf,
    /// Only lines whose `split` field has this value (e.g. `eval`).
    #[arg(long)]
    pub split: Option<String>,
    /// Only lines in this language.
    #[arg(long)]
    pub lang: Option<String>,
    /// At most this many examples (after filtering), for quick runs.
    #[arg(long)]
    pub limit: Option<usize>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Deserialize)]
pub(crate) struct ClassifyLine {
    #[serde(default)]
    id: Option<serde_json::Value>,
    text: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    context: Option<String>,
}

/// One text `classify` labels.
pub(crate) struct ClassifyItem {
    id: String,
    text: String,
    lang: Option<String>,
    context: Option<String>,
}

pub(crate) fn classify(
    config: &Config,
    text: Option<String>,
    input: Option<PathBuf>,
    lang: Option<String>,
    context: Option<String>,
    json: bool,
) -> Result<()> {
    let classifier = mediawatch_classify::build::build_classifier(&config.classifier)?;
    let mut items: Vec<ClassifyItem> = Vec::new();
    match (text, input) {
        (Some(_), Some(_)) => bail!("give either TEXT or --input, not both"),
        (Some(t), None) => items.push(ClassifyItem {
            id: "1".into(),
            text: t,
            lang,
            context,
        }),
        (None, input) => {
            let reader: Box<dyn BufRead> = match input.as_deref() {
                Some(p) if p != Path::new("-") => Box::new(std::io::BufReader::new(
                    std::fs::File::open(p)
                        .with_context(|| format!("cannot open {}", p.display()))?,
                )),
                _ => Box::new(std::io::stdin().lock()),
            };
            let name = input
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "<stdin>".into());
            for (n, line) in reader.lines().enumerate() {
                let line = line.with_context(|| format!("{name}:{}: cannot read", n + 1))?;
                if line.trim().is_empty() {
                    continue;
                }
                let l: ClassifyLine = serde_json::from_str(&line).with_context(|| {
                    format!("{name}:{}: expected a JSON object with \"text\"", n + 1)
                })?;
                let id = match l.id {
                    Some(serde_json::Value::String(s)) => s,
                    Some(v) => v.to_string(),
                    None => (n + 1).to_string(),
                };
                items.push(ClassifyItem {
                    id,
                    text: l.text,
                    lang: l.lang.or_else(|| lang.clone()),
                    context: l.context.or_else(|| context.clone()),
                });
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for chunk in items.chunks(64) {
        let inputs: Vec<ClassifyInput<'_>> = chunk
            .iter()
            .map(|it| ClassifyInput {
                id: &it.id,
                text: &it.text,
                lang: it.lang.as_deref(),
                context: it.context.as_deref(),
            })
            .collect();
        let results = classifier.classify_batch(&inputs);
        for (ClassifyItem { id, text, .. }, r) in chunk.iter().zip(results) {
            let labels = r.with_context(|| format!("classifying {id}"))?;
            if json {
                let v = serde_json::json!({
                    "id": id,
                    "model_version": labels.model_version,
                    "labels": labels,
                });
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{id}: relevance {:.2}  hate {:.2} ({})  collective {:.2}  threat {:.2}  victim {:.2}  recognition {:.2}  solutions {:.2}",
                    labels.relevance.score,
                    labels.hate.score,
                    labels.hate.class,
                    labels.collective_labelling.score,
                    labels.frame.threat,
                    labels.frame.victim,
                    labels.frame.recognition,
                    labels.solutions.score
                )?;
                for s in &labels.collective_labelling.spans {
                    let quote = text.get(s.start..s.end).unwrap_or("");
                    writeln!(
                        out,
                        "    collective cue {:?} at {}..{}: {quote:?}",
                        s.cue, s.start, s.end
                    )?;
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn eval(
    config: &Config,
    input: &Path,
    split: Option<&str>,
    lang: Option<&str>,
    limit: Option<usize>,
    json: bool,
) -> Result<()> {
    use mediawatch_classify::eval;
    let gold = eval::load_gold(input, split, lang, limit)?;
    let classifier = mediawatch_classify::build::build_classifier(&config.classifier)?;
    let report = eval::evaluate(classifier.as_ref(), &gold);
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        out.write_all(eval::render_text(&report).as_bytes())?;
    }
    Ok(())
}

/// `mediawatch classify`.
pub(crate) fn classify_cmd(ctx: &Ctx, a: ClassifyArgs) -> Result<()> {
    classify(&ctx.config()?, a.text, a.input, a.lang, a.context, a.json)
}

/// `mediawatch eval`.
pub(crate) fn eval_cmd(ctx: &Ctx, a: EvalArgs) -> Result<()> {
    eval(
        &ctx.config()?,
        &a.input,
        a.split.as_deref(),
        a.lang.as_deref(),
        a.limit,
        a.json,
    )
}
