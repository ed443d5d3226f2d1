//! Held-out figures of the cascade for chosen groups, with stages switched
//! on or off: the tool behind the ablations in BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release -p mediawatch-classify --example heldout -- \
//!     [--models models] [--dir models/classifier] [--split test|validation] \
//!     [--groups germeval,comments:hr] [--damping] [--no-gates] [--public ../shared/data]
//! ```
//! `--no-gates` sends every text to the encoder (what the cheap stages
//! cost in accuracy is the difference). Prints, per group: examples,
//! abusive macro-F1, three-class macro-F1, relevance and collective F1,
//! and the share of texts encoded.

use std::path::PathBuf;
use std::sync::Arc;

use mediawatch_classify::data::{self, DataSources};
use mediawatch_classify::eval;
use mediawatch_classify::train::Split;
use mediawatch_classify::{CascadeClassifier, CascadeOptions, Classifier};
use mediawatch_embed::{E5Encoder, E5Files, E5Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let has = |name: &str| args.iter().any(|a| a == name);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = get("--models")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models"));
    let dir = get("--dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| models.join("classifier"));
    let split = match get("--split").as_deref() {
        Some("validation" | "val") => Split::Validation,
        _ => Split::Test,
    };
    let groups: Vec<String> = get("--groups")
        .map(|g| g.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let sources = DataSources {
        public: Some(
            get("--public")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("../shared/data")),
        ),
        written: root.join("models/data"),
        user: get("--data").map(PathBuf::from).into_iter().collect(),
        user_lang: get("--lang"),
    };
    let (mut examples, _) = data::load_all(&sources, 7)?;
    examples.retain(|e| {
        e.split == split
            && (groups.is_empty()
                || groups
                    .iter()
                    .any(|g| eval::group_of(e).starts_with(g.as_str())))
    });
    for e in &mut examples {
        // held_out() reads the test split.
        e.split = Split::Test;
    }
    let enc = E5Encoder::load(
        &E5Files::with_classifier_dir(&models, &dir),
        E5Options::default(),
    )?;
    let mut c = CascadeClassifier::load(
        Arc::new(enc),
        &dir,
        CascadeOptions {
            // The shipped default (off); `--damping` for the ablation.
            damping: has("--damping"),
            ..CascadeOptions::default()
        },
    )?;
    if has("--no-gates") {
        c.open_gates();
    }
    let held = eval::held_out(
        c.model_version(),
        &|inputs| {
            c.classify_routed(inputs)
                .into_iter()
                .map(|r| r.map_or_else(|_| Default::default(), |(l, route)| (l, Some(route))))
                .collect()
        },
        &examples,
    );
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
    for (g, r) in &held.reports {
        let (encoded, lost) = held.routes.get(g).copied().unwrap_or_default();
        println!(
            "{g:>28} n {:>5} | abusive mF1 {} | 3-class {} | relevant F1 {} | collective F1 {} | encoded {encoded:.2} | abusive never encoded {lost:.3}",
            r.examples,
            f(r.abusive.as_ref().map(|a| a.macro_f1)),
            f(r.hate.as_ref().filter(|h| h.per_class.get("hate").is_some_and(|b| b.support > 0)).map(|h| h.macro_f1)),
            f(r.labels.get("relevant").filter(|b| b.support > 0).map(|b| b.f1)),
            f(r.labels.get("collective").filter(|b| b.support > 0).map(|b| b.f1)),
        );
    }
    for (lang, s) in &held.functional {
        println!(
            "functional {lang}: accuracy {:.3} hateful {:.3} non-hateful {:.3} (n {})",
            s.accuracy, s.hateful, s.non_hateful, s.n
        );
        if has("--by-functionality") {
            for (func, (n, ok)) in &s.by_functionality {
                println!("    {func:>22} {ok}/{n}");
            }
        }
    }
    Ok(())
}
