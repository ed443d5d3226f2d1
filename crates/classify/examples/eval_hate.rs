//! Hate detection of the lexicon classifier on the labelled data in
//! `shared/data/hate` (class != none counts as positive).
//!
//! ```text
//! cargo run --release -p mediawatch-classify --example eval_hate
//! ```
//!
//! These datasets are general hate and offensive speech (tweets, forum
//! posts), mostly not about migration, so recall is expected to be low; the
//! figure that matters is precision, and recall on the migrant-targeted rows.

use std::io::BufRead;
use std::path::Path;

use mediawatch_classify::{Classifier, HateClass, LexiconClassifier};

/// (file stem, language, row limit)
const SETS: [(&str, &str, usize); 6] = [
    ("davidson2017", "en", 6000),
    ("stormfront2018", "en", 6000),
    ("germeval2018-train", "de", 6000),
    ("poleval2019-train", "pl", 11000),
    ("toxigen-prompts", "en", 1000),
    ("mlma2019", "en", 6000),
];

#[derive(Default)]
struct Counts {
    n: usize,
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn add(&mut self, gold: bool, pred: bool) {
        self.n += 1;
        match (gold, pred) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    fn line(&self, name: &str) -> String {
        let p = self.tp as f64 / (self.tp + self.fp).max(1) as f64;
        let r = self.tp as f64 / (self.tp + self.fn_).max(1) as f64;
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        format!(
            "{name:<34} n={:>6} positives={:>5} predicted={:>5}  P={p:.2} R={r:.2} F1={f1:.2}",
            self.n,
            self.tp + self.fn_,
            self.tp + self.fp
        )
    }
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/hate");
    let classifier = LexiconClassifier::new();
    for (stem, lang, limit) in SETS {
        let path = dir.join(format!("{stem}.jsonl"));
        let Ok(file) = std::fs::File::open(&path) else {
            eprintln!("skipping {}: cannot open", path.display());
            continue;
        };
        let (mut all, mut migrant) = (Counts::default(), Counts::default());
        for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
            let Ok(row) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if row["lang"].as_str() != Some(lang) {
                continue;
            }
            if all.n >= limit {
                break;
            }
            let text = row["text"].as_str().unwrap_or_default();
            let gold = row["label"].as_str().is_some_and(|l| l != "none");
            let pred = classifier
                .classify(text, Some(lang))
                .is_ok_and(|l| l.hate.class != HateClass::None);
            all.add(gold, pred);
            let about_migrants = row["labels"].to_string().to_lowercase();
            if ["refugee", "immigrant", "migrant"]
                .iter()
                .any(|k| about_migrants.contains(k))
            {
                migrant.add(gold, pred);
            }
        }
        println!("{}", all.line(&format!("{stem} ({lang})")));
        if migrant.n > 0 {
            println!("{}", migrant.line("  rows about migrants/refugees"));
        }
    }
}
