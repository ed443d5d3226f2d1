//! `mediawatch train`, `mediawatch reclassify`, `mediawatch correct`, and
//! [`build_classifier`], which every command that labels documents uses so
//! that `[classifier]` decides which model runs.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::{Args, ValueEnum};
use mediawatch_classify::build::{build_classifier, cascade_options, load_e5};
use mediawatch_classify::card::{self, CardInput};
use mediawatch_classify::data::{self, DataSources};
use mediawatch_classify::eval::{self, EvalReport};
use mediawatch_classify::fast::{FastModel, FastTrainOptions, FAST_FILE};
use mediawatch_classify::heads::HeadSet;
use mediawatch_classify::train::{self as tr, EmbeddingCache, Split, TrainExample, TrainOptions};
use mediawatch_classify::{
    CascadeClassifier, Classifier, Encoder, HashingEncoder, LexiconClassifier,
};
use mediawatch_config::{Config, StateConfig};
use mediawatch_core::DocId;
use mediawatch_index::Index;
use mediawatch_pipeline::DataDir;
use mediawatch_state::{CorrectionFilter, CorrectionVerdict, NewCorrection};

/// Languages mediawatch covers (for the model card).
const COVERED_LANGS: [&str; 16] = [
    "en", "sr", "hr", "bs", "cnr", "mk", "sq", "sl", "pl", "hu", "cs", "sk", "bg", "el", "de", "it",
];

/// Which encoder `train` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncoderChoice {
    /// multilingual-e5-small from `models/`.
    E5,
    /// Hashed character n-grams (no model files; a baseline and for tests).
    Hashing,
}

/// `mediawatch train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// An organisation's own labelled JSONL (a file or a directory of
    /// `*.jsonl`; repeatable): `{"text", "label", "lang"?, "context"?,
    /// "split"?}`. Added to the training data with a high weight; its
    /// held-out part (rows with `"split": "test"`, else 15 % by id) is
    /// reported in the model card.
    #[arg(long = "data")]
    pub data: Vec<PathBuf>,
    /// Language of `--data` rows without a `lang` (else guessed per row).
    #[arg(long)]
    pub lang: Option<String>,
    /// Leave these languages (comma-separated) out of training and
    /// calibration; their test rows are still measured. What the model
    /// card then shows for them is what a language without data gets
    /// (leave-one-language-out validation). Rows given with `--data` are
    /// kept.
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// The public data (`hate/`, `hate/ban-pl/`, `extraction/wcxb-dev/`);
    /// skipped when missing, as on an organisation's machine.
    #[arg(long, default_value = "../shared/data")]
    pub public: PathBuf,
    /// The sets written for the project.
    #[arg(long, default_value = "models/data")]
    pub written: PathBuf,
    /// Also train on analysts' corrections from the data directory's state.
    #[arg(long)]
    pub corrections: bool,
    /// Seed of sampling and optimisation.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where the models go (heads.json, fast.bin).
    #[arg(long, default_value = "models/classifier")]
    pub out: PathBuf,
    /// Model card to write.
    #[arg(long, default_value = "models/MODEL_CARD.md")]
    pub card: PathBuf,
    /// Start from scratch instead of from the models in --out.
    #[arg(long)]
    pub fresh: bool,
    /// Embedding cache directory (git-ignored).
    #[arg(long, default_value = "target/embedding-cache")]
    pub cache: PathBuf,
    /// Encoder to train on (`hashing` needs no model files: tests).
    #[arg(long, value_enum, default_value_t = EncoderChoice::E5)]
    pub encoder: EncoderChoice,
    /// Passes over the data for the heads.
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Print the metrics as JSON.
    #[arg(long)]
    pub json: bool,
}

fn progress(label: &str, done: usize, total: usize, started: Instant) {
    let width = 30;
    // An empty job is complete.
    let filled = (done * width).checked_div(total).unwrap_or(width);
    let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
    eprint!(
        "\r{label} [{}{}] {done}/{total} ({rate:.0}/s)",
        "#".repeat(filled),
        " ".repeat(width - filled.min(width))
    );
    if done >= total {
        eprintln!();
    }
    let _ = std::io::stderr().flush();
}

/// The models `--out` holds (warm start): heads trained on `encoder`
/// (those `finetune.py` wrote with the encoder, or a previous run's), and
/// the fast model, each when present.
fn previous_models(out: &Path, encoder: &str) -> (Option<HeadSet>, Option<FastModel>) {
    let heads = HeadSet::load(out)
        .ok()
        .map(|(h, _)| h)
        .filter(|h| h.encoder == encoder);
    let fast = FastModel::load(&out.join(FAST_FILE)).ok();
    (heads, fast)
}

/// Runs `mediawatch train`.
pub fn train(config: &Config, data_dir: &Path, a: TrainArgs) -> Result<()> {
    let started = Instant::now();
    let sources = DataSources {
        public: Some(a.public.clone()).filter(|p| p.is_dir()),
        written: a.written.clone(),
        user: a.data.clone(),
        user_lang: a.lang.clone(),
    };
    if sources.public.is_none() {
        eprintln!(
            "public data not found at {}: training on the written sets and your data, starting from the shipped models",
            a.public.display()
        );
    }
    let (mut examples, origins) = data::load_all(&sources, a.seed)?;
    for (what, from) in &origins {
        eprintln!("data: {what} from {from}");
    }
    if a.corrections {
        let data = DataDir::create(data_dir)?;
        let state = data.open_state(&config.state)?;
        let mut used = 0;
        for c in state.corrections(&CorrectionFilter::default())? {
            let n = &c.correction;
            if let Some(e) = tr::correction_example(
                &c.id.to_string(),
                &n.label,
                n.verdict == CorrectionVerdict::Correct,
                n.value.as_deref(),
                n.model_score,
                &n.text,
                n.lang.as_deref(),
            ) {
                examples.push(e);
                used += 1;
            }
        }
        eprintln!(
            "corrections: {used} used (weight {})",
            tr::CORRECTION_WEIGHT
        );
    }
    if !a.exclude.is_empty() {
        let before = examples.len();
        // Your own data (`--data`, sources `user:*`) is never left out:
        // excluding a language and giving its rows with `--data` measures
        // what an organisation's labels add to a language the shipped
        // model never saw.
        examples.retain(|e| {
            e.split == Split::Test || e.source.starts_with("user:") || !a.exclude.contains(&e.lang)
        });
        eprintln!(
            "left out of training and calibration: {} ({} examples)",
            a.exclude.join(", "),
            before - examples.len()
        );
    }
    let count = |s: Split| examples.iter().filter(|e| e.split == s).count();
    eprintln!(
        "examples: {} train, {} validation, {} test",
        count(Split::Train),
        count(Split::Validation),
        count(Split::Test)
    );

    let encoder: Arc<dyn Encoder> = match a.encoder {
        EncoderChoice::E5 => load_e5(&config.classifier)?,
        EncoderChoice::Hashing => Arc::new(HashingEncoder::new(384)),
    };
    let (previous_heads, previous_fast) = if a.fresh {
        (None, None)
    } else {
        previous_models(&a.out, encoder.name())
    };
    if let Some(h) = &previous_heads {
        eprintln!(
            "warm start: heads from {} (trained on {})",
            a.out.display(),
            h.encoder
        );
    }
    if previous_fast.is_some() {
        eprintln!(
            "warm start: fast model from {}",
            a.out.join(FAST_FILE).display()
        );
    }

    // Stage one: the fast model, its thresholds and gates.
    let lexicon = LexiconClassifier::new();
    let names_migration = |e: &TrainExample| {
        lexicon
            .relevance(&e.text, Some(e.lang.as_str()))
            .is_ok_and(|r| r > 0.0)
    };
    // Only an organisation's rows or analysts' corrections are data the
    // warm-start models have not seen. Without them, what the warm start
    // holds is kept as it is and only what it lacks is trained: refitting
    // on the same texts only makes the models more confident (measured on
    // validation: a second warm-started fit of the heads took GermEval's
    // abusive macro-F1 from 0.77 to 0.69, and a fast model trained again
    // beside the kept heads to 0.60; BENCHMARKS.md).
    // Heads straight from `finetune.py` carry no gates and uncalibrated
    // thresholds: those are always fitted and calibrated here.
    let calibrated_start = previous_heads.as_ref().is_some_and(|h| !h.fast.is_empty());
    let new_rows = examples
        .iter()
        .filter(|e| e.split == Split::Train && tr::is_new_data(e))
        .count();
    let keep_warm = calibrated_start && new_rows == 0;
    // With rows they have not seen, calibrated models adapt: they train on
    // those rows and a replayed sample of the old ones, pulled towards
    // where they start, and are calibrated again (`--fresh` refits all).
    let adapt = calibrated_start && new_rows > 0;
    let adapted = adapt.then(|| tr::keep_for_adaptation(&mut examples, a.seed));
    if let Some((new, replayed)) = adapted {
        eprintln!(
            "adapting the warm start: {new} new training rows, {replayed} old ones replayed ({} per new row); validation and test rows unchanged",
            tr::REPLAY_PER_NEW
        );
    }
    let fast_started = Instant::now();
    // An adapting fast model trains on the new rows alone (from where it
    // starts): its n-gram weights for the old rows would only grow, which
    // took GermEval's validation abusive macro-F1 from 0.771 to 0.759 when
    // the replayed rows were given to it too (0.765 without them).
    let fast_rows: Cow<'_, [TrainExample]> = if adapt {
        Cow::Owned(
            examples
                .iter()
                .filter(|e| e.split != Split::Train || tr::is_new_data(e))
                .cloned()
                .collect(),
        )
    } else {
        Cow::Borrowed(&examples)
    };
    let (fast, gates, gate_stats) = tr::train_fast(
        &fast_rows,
        &names_migration,
        previous_fast.as_ref(),
        &previous_heads
            .as_ref()
            .map(|h| h.fast.clone())
            .unwrap_or_default(),
        &FastTrainOptions {
            seed: a.seed,
            keep_init: keep_warm,
            ..FastTrainOptions::default()
        },
    );
    drop(fast_rows);
    eprintln!(
        "fast model: {} heads in {:.0} s",
        fast.heads.len(),
        fast_started.elapsed().as_secs_f64()
    );

    // The heads on the encoder's vectors.
    let mut cache = EmbeddingCache::open(&a.cache, encoder.name(), encoder.dim())?;
    let texts: Vec<&str> = examples.iter().map(|e| unit_text(&e.text)).collect();
    let enc_started = Instant::now();
    let embeddings = cache.embed_all(
        encoder.as_ref(),
        &texts,
        // Texts per encoder call and cache write.
        (config.classifier.batch_size.max(1) * 4).max(256),
        &mut |d, t| progress("encoding", d, t, enc_started),
    )?;
    let opts = TrainOptions {
        fit: mediawatch_classify::heads::FitOptions {
            seed: a.seed,
            epochs: a.epochs,
            l2: if adapt {
                tr::ADAPT_ANCHOR_L2
            } else {
                mediawatch_classify::heads::FitOptions::default().l2
            },
            ..Default::default()
        },
        hidden_units: 0,
        keep_warm,
        adapt,
        ..Default::default()
    };
    if previous_heads.is_some() && opts.keep_warm {
        eprintln!(
            "warm start: heads, fast model, thresholds and blends kept as they are; only what they lack is trained and calibrated (no --data or --corrections; --fresh refits everything)"
        );
    }
    // The fast model's probabilities on the validation split (to choose
    // the blend of the two models) and the test split (to measure it).
    let mut fast_probs: tr::FastProbs = tr::FAST_HEADS
        .iter()
        .map(|h| (h.to_string(), vec![0.0; examples.len()]))
        .collect();
    for (i, e) in examples.iter().enumerate() {
        if e.split == Split::Train {
            continue;
        }
        let f = fast.features(&e.text);
        for (head, probs) in &mut fast_probs {
            probs[i] = fast.prob(head, &f).unwrap_or(0.0);
        }
    }
    let (mut heads, metrics) = tr::train_heads(
        &examples,
        &embeddings,
        Some(&fast_probs),
        encoder.name(),
        previous_heads.as_ref(),
        &opts,
    )?;
    heads.fast = gates;
    heads.save(&a.out)?;
    let fast_bytes = fast.to_bytes();
    write_atomic(&a.out.join(FAST_FILE), &fast_bytes)?;
    let model =
        CascadeClassifier::load(encoder.clone(), &a.out, cascade_options(&config.classifier))?;
    let version = model.model_version().to_string();
    eprintln!(
        "wrote {} and {} ({version})",
        HeadSet::file_in(&a.out).display(),
        a.out.join(FAST_FILE).display()
    );

    // Held-out figures: the whole cascade against the lexicon baseline.
    let eval_started = Instant::now();
    let held = eval::held_out(
        &version,
        &|inputs| {
            model
                .classify_routed(inputs)
                .into_iter()
                .map(|r| r.map_or_else(|_| Default::default(), |(l, route)| (l, Some(route))))
                .collect()
        },
        &examples,
    );
    let held_lexicon = eval::held_out_plain(&lexicon, &examples);
    eprintln!(
        "evaluated the test split in {:.0} s",
        eval_started.elapsed().as_secs_f64()
    );

    let readme =
        std::fs::read_to_string(a.public.join("hate").join("README.md")).unwrap_or_default();
    let datasets = card::datasets_from_readme(&readme);
    let read_json = |name: &str| {
        std::fs::read_to_string(a.out.join(name))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    };
    let finetune = read_json("finetune.json");
    let peer = read_json("peer_baseline.json");
    let mut command = format!("mediawatch train --seed {} --epochs {}", a.seed, a.epochs);
    for d in &a.data {
        command.push_str(&format!(" --data {}", d.display()));
    }
    if let Some(l) = &a.lang {
        command.push_str(&format!(" --lang {l}"));
    }
    if !a.exclude.is_empty() {
        command.push_str(&format!(" --exclude {}", a.exclude.join(",")));
    }
    if a.fresh {
        command.push_str(" --fresh");
    }
    if a.corrections {
        command.push_str(" --corrections");
    }
    let md = card::render(&CardInput {
        version: &version,
        heads: &heads,
        fast: &fast,
        gate_stats: &gate_stats,
        metrics: &metrics,
        held_out: &held,
        held_out_lexicon: &held_lexicon,
        datasets: &datasets,
        origins: &origins,
        finetune: finetune.as_ref(),
        peer: peer.as_ref(),
        covered_langs: &COVERED_LANGS,
        command: &command,
        adapted,
    });
    if let Some(parent) = a.card.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&a.card, md).with_context(|| format!("cannot write {}", a.card.display()))?;
    eprintln!(
        "wrote {} in {:.0} s",
        a.card.display(),
        started.elapsed().as_secs_f64()
    );

    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({
            "model_version": version,
            "gates": gate_stats,
            "heads": metrics,
            "held_out": held,
            "held_out_lexicon": held_lexicon,
        });
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
    } else {
        writeln!(out, "model {version}")?;
        for (group, r) in &held.reports {
            let lex = held_lexicon.reports.get(group);
            let am = |r: &EvalReport| r.abusive.as_ref().map(|a| a.macro_f1);
            if let Some(m) = am(r) {
                writeln!(
                    out,
                    "{group:>28}: abusive macro-F1 {m:.3} (lexicon {:.3}), n {}",
                    lex.and_then(am).unwrap_or(0.0),
                    r.examples
                )?;
            }
            for (label, b) in &r.labels {
                if b.support > 0 {
                    writeln!(
                        out,
                        "{group:>28}: {label} F1 {:.3} (lexicon {:.3})",
                        b.f1,
                        lex.and_then(|l| l.labels.get(label)).map_or(0.0, |l| l.f1)
                    )?;
                }
            }
        }
        for (lang, f) in &held.functional {
            writeln!(
                out,
                "functional {lang}: accuracy {:.3}, hateful {:.3}, non-hateful {:.3} (n {})",
                f.accuracy, f.hateful, f.non_hateful, f.n
            )?;
        }
    }
    Ok(())
}

/// What the encoder sees of a training text: a unit as the cascade cuts
/// it (long texts were cut into windows when loaded).
fn unit_text(text: &str) -> &str {
    let max = 1500;
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename into {}", path.display()))?;
    Ok(())
}

/// `mediawatch reclassify`.
#[derive(Args, Debug)]
pub struct ReclassifyArgs {
    /// Documents classified and committed together.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Relabel documents already labelled by this model version too.
    #[arg(long)]
    pub force: bool,
}

/// Runs `mediawatch reclassify`.
pub fn reclassify(config: Config, data_dir: &Path, a: ReclassifyArgs) -> Result<()> {
    let classifier = build_classifier(&config.classifier)?;
    let pipeline = mediawatch_pipeline::Pipeline::open(config, data_dir)?;
    let sources = pipeline.source_metas();
    let started = Instant::now();
    let report = mediawatch_pipeline::reclassify_index(
        pipeline.index(),
        &sources,
        classifier.as_ref(),
        a.batch,
        a.force,
        &mut |done, total| progress("reclassify", done, total, started),
    )?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)?;
    writeln!(out)?;
    Ok(())
}

/// Right or wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Verdict {
    /// The model's label is right.
    Right,
    /// The model's label is wrong.
    Wrong,
}

/// `mediawatch correct`.
#[derive(Args, Debug)]
pub struct CorrectArgs {
    /// Document id.
    pub doc_id: String,
    /// Label: relevant, hate, offensive, collective_labelling, threat, victim,
    /// recognition, solutions, hate_class, hate_target.
    pub label: String,
    /// Whether the model's label is right or wrong.
    #[arg(value_enum)]
    pub verdict: Verdict,
    /// The right value (`true`/`false`; a class for hate_class; a group for hate_target).
    #[arg(long)]
    pub value: Option<String>,
    /// Why.
    #[arg(long)]
    pub note: Option<String>,
    /// Who corrects.
    #[arg(long, env = "MEDIAWATCH_ANALYST")]
    pub analyst: Option<String>,
}

fn label_score(labels: &mediawatch_core::labels::Labels, label: &str) -> Option<f32> {
    match label {
        "offensive" => Some(labels.hate.score),
        "collective_labelling" => Some(labels.collective_labelling.score),
        other => labels.score(other),
    }
}

/// Runs `mediawatch correct`; returns the correction's id.
pub fn correct(data_dir: &Path, state: &StateConfig, a: CorrectArgs) -> Result<i64> {
    let data = DataDir::create(data_dir)?;
    let index = Index::open_or_create(&data.index_dir())?;
    let Some(doc) = index.get(&DocId::from_stored(a.doc_id.as_str()))? else {
        bail!(
            "document {:?} is not in the index at {}",
            a.doc_id,
            data.index_dir().display()
        );
    };
    let labels = doc.labels.clone().unwrap_or_default();
    let text = doc.classified_text().to_string();
    let c = NewCorrection {
        doc_id: a.doc_id.clone(),
        label: a.label.clone(),
        verdict: match a.verdict {
            Verdict::Right => CorrectionVerdict::Correct,
            Verdict::Wrong => CorrectionVerdict::Wrong,
        },
        value: a.value,
        model_version: if labels.model_version.is_empty() {
            "unlabelled".into()
        } else {
            labels.model_version.clone()
        },
        model_score: label_score(&labels, &a.label),
        text,
        lang: doc.lang.clone(),
        analyst: a.analyst,
        note: a.note,
    };
    let id = data.open_state(state)?.add_correction(&c, Utc::now())?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_core::{Document, SourceMeta};
    use mediawatch_state::StateStore;
    use mediawatch_testkit as testkit;

    fn meta() -> SourceMeta {
        testkit::source("src")
    }

    fn doc(i: usize, text: &str) -> Document {
        testkit::numbered(i)
            .text(text)
            .labelled_by("old-model")
            .build()
    }

    #[test]
    fn correct_stores_a_snapshot_and_train_uses_it() {
        let data = tempfile::tempdir().unwrap();
        let dd = DataDir::create(data.path()).unwrap();
        let index = Index::open_or_create(&dd.index_dir()).unwrap();
        let w = index.writer(32 << 20).unwrap();
        let mut d = doc(1, "Migrants are all criminals, everyone knows it.");
        d.labels = Some(
            LexiconClassifier::new()
                .classify(&d.text, Some("en"))
                .unwrap(),
        );
        let id = d.id.as_str().to_string();
        w.upsert(d, &meta()).unwrap();
        w.commit().unwrap();
        w.close().unwrap();
        drop(index);

        let cid = correct(
            data.path(),
            &StateConfig::default(),
            CorrectArgs {
                doc_id: id.clone(),
                label: "collective_labelling".into(),
                verdict: Verdict::Right,
                value: None,
                note: Some("generic claim".into()),
                analyst: Some("ana".into()),
            },
        )
        .unwrap();
        assert!(cid > 0);
        let state = StateStore::open(&dd.state_file()).unwrap();
        let all = state.corrections(&CorrectionFilter::default()).unwrap();
        assert_eq!(all.len(), 1);
        let c = &all[0].correction;
        assert_eq!(c.text, "Migrants are all criminals, everyone knows it.");
        assert_eq!(c.model_version, LexiconClassifier::VERSION);
        assert!(c.model_score.is_some_and(|s| s >= 0.5));
        let ex = tr::correction_example(
            "1",
            &c.label,
            true,
            None,
            c.model_score,
            &c.text,
            c.lang.as_deref(),
        )
        .unwrap();
        assert_eq!(ex.targets.get("collective"), Some(&1.0));

        let missing = correct(
            data.path(),
            &StateConfig::default(),
            CorrectArgs {
                doc_id: "nope".into(),
                label: "hate".into(),
                verdict: Verdict::Wrong,
                value: None,
                note: None,
                analyst: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(missing.contains("not in the index"), "{missing}");

        // Training with corrections and an organisation's own file, on the
        // offline encoder, writes heads, the fast model and a card.
        let out = data.path().join("heads");
        let card_path = data.path().join("MODEL_CARD.md");
        let hate = data.path().join("hate");
        std::fs::create_dir_all(&hate).unwrap();
        let mut lines = String::new();
        for i in 0..60 {
            let (t, l) = if i % 3 == 0 {
                ("you are scum and vermin", "hate")
            } else {
                ("nice weather today", "none")
            };
            lines.push_str(&format!(
                "{{\"text\":\"{t} {i}\",\"lang\":\"en\",\"label\":\"{l}\",\"source\":\"toy\"}}\n"
            ));
        }
        std::fs::write(hate.join("toy.jsonl"), lines).unwrap();
        let config =
            Config::from_toml_str("version = 1\n[classifier]\nkind = \"lexicon\"\n", "test")
                .unwrap();
        // Both runs: the organisation's file, the corrections, the written
        // sets, no public data; `fresh` or not.
        let args = |fresh: bool| TrainArgs {
            data: vec![hate.clone()],
            lang: None,
            exclude: vec![],
            public: data.path().join("no-public-data"),
            written: Path::new(env!("CARGO_MANIFEST_DIR")).join("models/data"),
            corrections: true,
            seed: 3,
            out: out.clone(),
            card: card_path.clone(),
            fresh,
            cache: data.path().join("cache"),
            encoder: EncoderChoice::Hashing,
            epochs: 2,
            json: true,
        };
        train(&config, data.path(), args(true)).unwrap();
        let (heads, _) = HeadSet::load(&out).unwrap();
        // The eight labels, plus one head per hate target the data names.
        for name in mediawatch_classify::heads::HEAD_NAMES {
            assert!(heads.heads.contains_key(name), "{name}");
        }
        assert!(out.join(FAST_FILE).is_file());
        assert!(heads.fast.contains_key("abusive") && heads.fast.contains_key("relevance"));
        let card_text = std::fs::read_to_string(&card_path).unwrap();
        assert!(
            card_text.contains("| corrections | 1 | 0 | 0 |"),
            "{card_text}"
        );
        assert!(!card_text.contains("**Adapted**"), "{card_text}");

        // Again on those calibrated models with the same rows: they adapt.
        // Every new row trains, of the old ones a replayed sample, and the
        // validation and test rows are as before.
        let counts = |card: &str, source: &str| -> Vec<u64> {
            let prefix = format!("| {source} | ");
            let line = card.lines().find(|l| l.starts_with(&prefix)).unwrap();
            line.trim_matches('|')
                .split('|')
                .skip(1)
                .map(|x| x.trim().parse().unwrap())
                .collect()
        };
        let before = counts(&card_text, "comments");
        train(&config, data.path(), args(false)).unwrap();
        let adapted = std::fs::read_to_string(&card_path).unwrap();
        assert!(adapted.contains("**Adapted**"), "{adapted}");
        assert!(adapted.contains("| corrections | 1 | 0 | 0 |"), "{adapted}");
        assert_eq!(counts(&adapted, "user:toy"), counts(&card_text, "user:toy"));
        let after = counts(&adapted, "comments");
        assert!(after[0] < before[0], "{before:?} -> {after:?}");
        assert_eq!(after[1..], before[1..]);
        let (again, _) = HeadSet::load(&out).unwrap();
        assert_ne!(again.heads["abusive"].head, heads.heads["abusive"].head);
    }
}
