//! The shipped classifier (the cascade with the fine-tuned encoder) through
//! the real binary: behaviour the issue asks for, and the functional suite
//! written for the project as a regression test. Needs the fetched model
//! files (`mediawatch models fetch`; the binary fetches them itself).

use std::path::Path;
use std::process::{Command, Output};

use crate::util::{ok, stderr};

/// Runs the binary with the configured classifier (not pinned to the
/// lexicon like the pipeline tests).
fn mw_model(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mediawatch"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("MEDIAWATCH_CLASSIFIER")
        .output()
        .expect("run mediawatch")
}

/// Classifies JSONL lines; one labels object per line, in order.
fn classify(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.jsonl");
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&input, body).unwrap();
    let out = ok(&mw_model(
        tmp.path(),
        &["classify", "--input", input.to_str().unwrap(), "--json"],
    ));
    out.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["labels"].clone())
        .collect()
}

#[test]
fn a_comment_inherits_migration_scope_from_its_article() {
    let comment = "Sramota. Tko će to sve platiti?";
    let migration = "Migranti u Bihaću: kamp Lipa ponovno pun\nU kampu je trenutno 1.200 migranata, a novi dolaze svakodnevno.";
    let football = "Dinamo - Hajduk 2:1\nDerbi je odlučio gol u posljednjoj minuti.";
    let l = classify(&[
        serde_json::json!({"id": "a", "text": comment, "lang": "hr", "context": migration}),
        serde_json::json!({"id": "b", "text": comment, "lang": "hr", "context": football}),
        serde_json::json!({"id": "c", "text": comment, "lang": "hr"}),
    ]);
    let rel = |i: usize| l[i]["relevance"]["score"].as_f64().unwrap();
    assert!(rel(0) >= 0.5, "under a migration story: {:#}", l[0]);
    assert!(rel(1) < 0.5, "under a football report: {:#}", l[1]);
    assert!(rel(2) < 0.5, "alone: {:#}", l[2]);
}

#[test]
fn hate_against_other_groups_is_found_and_given_its_target() {
    let l = classify(&[
        serde_json::json!({"id": "1", "text": "Cigani su paraziti, treba ih sve protjerati iz grada.", "lang": "hr"}),
        serde_json::json!({"id": "2", "text": "All faggots should be shot.", "lang": "en"}),
        serde_json::json!({"id": "3", "text": "The referee was a disgrace tonight, what a terrible match.", "lang": "en"}),
    ]);
    assert_eq!(l[0]["hate"]["class"], "hate", "{:#}", l[0]);
    assert_eq!(l[0]["hate"]["target"], "roma", "{:#}", l[0]);
    assert_eq!(l[1]["hate"]["class"], "hate", "{:#}", l[1]);
    assert_eq!(l[1]["hate"]["target"], "lgbt", "{:#}", l[1]);
    assert_eq!(l[2]["hate"]["class"], "none", "{:#}", l[2]);
}

#[test]
fn counter_speech_and_condemned_quotes_are_not_hate() {
    let l = classify(&[
        serde_json::json!({"id": "1", "lang": "en", "text": "Calling refugees vermin is disgusting. They are people fleeing war, and they deserve our help."}),
        serde_json::json!({"id": "2", "lang": "en", "text": "\"Migrants are vermin,\" the leaflet said. The mayor condemned it as hate speech and called the police."}),
        serde_json::json!({"id": "3", "lang": "hr", "text": "Sramotno je što netko piše da su izbjeglice gamad. To su ljudi kao i mi."}),
        serde_json::json!({"id": "4", "lang": "en", "text": "Gay people deserve the same rights as everyone else."}),
    ]);
    for (i, x) in l.iter().enumerate() {
        assert_ne!(x["hate"]["class"], "hate", "case {}: {x:#}", i + 1);
    }
}

#[test]
fn an_unsupported_language_says_so() {
    let l = classify(&[
        serde_json::json!({"id": "1", "text": "移民についてのニュースです。", "lang": "ja"}),
    ]);
    assert_eq!(l[0]["language_support"], "unsupported", "{:#}", l[0]);
    assert_eq!(l[0]["hate"]["class"], "none");
}

/// The functional suite written for the project (`models/data/functional`,
/// test templates only) as a regression test: each language's accuracy,
/// and on hateful and non-hateful cases, stays above a floor a little under
/// what the shipped model measured (MODEL_CARD.md).
#[test]
fn functional_suite_regression() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for lang in ["en", "de", "pl", "hr", "sr", "cs", "hu"] {
        let file = root.join(format!("models/data/functional/{lang}.jsonl"));
        let out = mw_model(
            tmp.path(),
            &[
                "eval",
                "--input",
                file.to_str().unwrap(),
                "--split",
                "eval",
                "--json",
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&ok(&out))
            .unwrap_or_else(|e| panic!("{lang}: {e}: {}", stderr(&out)));
        let f = &v["functional"];
        let get = |k: &str| f[k].as_f64().unwrap_or(0.0);
        assert!(get("n") as u64 >= 80, "{lang}: {f:#}");
        // Shipped model (mw-bcdf75a49f38): accuracy 0.79-0.92, hateful
        // 0.76-0.93, non-hateful 0.76-1.00 across the seven languages.
        assert!(get("accuracy") >= 0.75, "{lang}: {f:#}");
        assert!(get("hateful") >= 0.72, "{lang}: {f:#}");
        assert!(get("non_hateful") >= 0.72, "{lang}: {f:#}");
    }
}
