//! Classify text from stdin (one document per line) and print the labels as JSON.
//!
//! `cargo run -p mediawatch-classify --example classify -- [lang] < texts.txt`

use std::io::BufRead;

use mediawatch_classify::{Classifier, LexiconClassifier};

fn main() {
    let lang = std::env::args().nth(1);
    let classifier = LexiconClassifier::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match classifier.classify(&line, lang.as_deref()) {
            Ok(labels) => match serde_json::to_string(&labels) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("cannot serialise labels: {e}"),
            },
            Err(e) => eprintln!("classification failed: {e}"),
        }
    }
}
