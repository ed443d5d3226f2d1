//! Print lexicon coverage: entries per cue kind for every language.
//!
//! `cargo run -p mediawatch-classify --example coverage`

use mediawatch_classify::LexiconClassifier;

fn main() {
    let c = LexiconClassifier::new();
    let langs = LexiconClassifier::lexicon_languages();
    let mut rows: Vec<(String, Vec<usize>)> = Vec::new();
    for lang in langs {
        match c.lexicon_coverage(lang) {
            Some(Ok(counts)) => {
                for (i, (kind, n)) in counts.into_iter().enumerate() {
                    if rows.len() <= i {
                        rows.push((kind, Vec::new()));
                    }
                    rows[i].1.push(n);
                }
            }
            Some(Err(e)) => eprintln!("{lang}: {e}"),
            None => eprintln!("{lang}: no lexicon"),
        }
    }
    println!("| kind | {} |", langs.join(" | "));
    println!("|---|{}", "---|".repeat(langs.len()));
    let mut totals = vec![0; langs.len()];
    for (kind, counts) in &rows {
        let cells: Vec<String> = counts.iter().map(ToString::to_string).collect();
        println!("| {kind} | {} |", cells.join(" | "));
        for (t, n) in totals.iter_mut().zip(counts) {
            *t += n;
        }
    }
    let cells: Vec<String> = totals.iter().map(ToString::to_string).collect();
    println!("| **total** | {} |", cells.join(" | "));
}
