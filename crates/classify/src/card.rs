//! The model card (`models/MODEL_CARD.md`) written by `mediawatch train`:
//! what the heads are, what they were trained on (with licences and
//! attributions from the data README), how well they do per language and
//! per label, their thresholds and their known limits.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::eval::EvalReport;
use crate::heads::HeadSet;
use crate::train::{Binary, TrainMetrics};
use crate::{Classifier, ClassifyError, ClassifyInput, HateClass};

/// False positives of two classifiers on one hard-case category.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HardCaseRow {
    /// The framing set's `hard_case` value.
    pub case: String,
    /// Examples of this category in the split.
    pub n: usize,
    /// Examples whose gold hate class is `none`.
    pub gold_not_hate: usize,
    /// Of those, labelled hate or offensive by the model / the lexicon.
    pub model_hate_fp: usize,
    /// See `model_hate_fp`.
    pub lexicon_hate_fp: usize,
    /// Examples whose gold collective label is 0.
    pub gold_not_collective: usize,
    /// Of those, collective >= 0.5 for the model / the lexicon.
    pub model_collective_fp: usize,
    /// See `model_collective_fp`.
    pub lexicon_collective_fp: usize,
}

/// Hard-case false positives on the framing set's `split` lines (JSONL text
/// of the framing file), model against lexicon.
pub fn hard_case_rows(
    framing_jsonl: &str,
    split: &str,
    model: &dyn Classifier,
    lexicon: &dyn Classifier,
) -> Result<Vec<HardCaseRow>, ClassifyError> {
    let mut rows: std::collections::BTreeMap<String, HardCaseRow> = Default::default();
    let mut items = Vec::new();
    for line in framing_jsonl.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v.get("split").and_then(|s| s.as_str()) != Some(split) {
            continue;
        }
        let Some(case) = v.get("hard_case").and_then(|c| c.as_str()) else {
            continue;
        };
        let text = v
            .get("text")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_string();
        let lang = v.get("lang").and_then(|t| t.as_str()).map(str::to_string);
        let not_hate = v.get("hate").and_then(|h| h.as_str()) == Some("none");
        let not_collective = v.get("collective").and_then(|c| c.as_u64()) == Some(0);
        items.push((case.to_string(), text, lang, not_hate, not_collective));
    }
    let inputs: Vec<ClassifyInput<'_>> = items
        .iter()
        .map(|(_, t, l, _, _)| ClassifyInput {
            id: "",
            text: t,
            lang: l.as_deref(),
        })
        .collect();
    let m = model.classify_batch(&inputs);
    let x = lexicon.classify_batch(&inputs);
    for ((item, m), x) in items.iter().zip(m).zip(x) {
        let (m, x) = (m?, x?);
        let row = rows.entry(item.0.clone()).or_default();
        row.case = item.0.clone();
        row.n += 1;
        if item.3 {
            row.gold_not_hate += 1;
            row.model_hate_fp += (m.hate.class != HateClass::None) as usize;
            row.lexicon_hate_fp += (x.hate.class != HateClass::None) as usize;
        }
        if item.4 {
            row.gold_not_collective += 1;
            row.model_collective_fp += (m.collective_labelling.score >= 0.5) as usize;
            row.lexicon_collective_fp += (x.collective_labelling.score >= 0.5) as usize;
        }
    }
    Ok(rows.into_values().collect())
}

/// One dataset row of the card, usually parsed from the data README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInfo {
    /// File name.
    pub file: String,
    /// Language codes.
    pub langs: String,
    /// Where it comes from.
    pub origin: String,
    /// Licence.
    pub licence: String,
}

/// Rows of the markdown table in the hate-data README (`| file | rows | lang
/// | original labels | origin | licence |`).
pub fn datasets_from_readme(readme: &str) -> Vec<DatasetInfo> {
    readme
        .lines()
        .filter(|l| l.trim_start().starts_with('|') && l.contains(".jsonl"))
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            (cells.len() >= 6).then(|| DatasetInfo {
                file: cells[0].to_string(),
                langs: cells[2].to_string(),
                origin: cells[4].to_string(),
                licence: cells[5].to_string(),
            })
        })
        .collect()
}

/// Everything the card reports.
#[derive(Debug, Clone)]
pub struct CardInput<'a> {
    /// Model version (`e5s-heads-<hash>`).
    pub version: &'a str,
    /// The trained heads.
    pub heads: &'a HeadSet,
    /// What training measured.
    pub metrics: &'a TrainMetrics,
    /// Hate-speech datasets used.
    pub datasets: &'a [DatasetInfo],
    /// Full-stack evaluation on the framing eval split: (this model, lexicon baseline).
    pub framing_eval: Option<(&'a EvalReport, &'a EvalReport)>,
    /// Hard-case false positives on the framing eval split.
    pub hard_cases: &'a [HardCaseRow],
    /// Languages mediawatch covers (for "languages without training data").
    pub covered_langs: &'a [&'a str],
    /// The command that produced the heads.
    pub command: &'a str,
}

fn f(x: f32) -> String {
    format!("{x:.2}")
}

fn binary_row(out: &mut String, name: &str, b: &Binary) {
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} |",
        b.n,
        b.support,
        f(b.precision),
        f(b.recall),
        f(b.f1)
    );
}

/// Renders the card as Markdown.
pub fn render(c: &CardInput<'_>) -> String {
    let mut o = String::new();
    let h = c.heads;
    let _ = writeln!(o, "# Model card: {}\n", c.version);
    let _ = writeln!(
        o,
        "Generated by `{}`. Do not edit by hand: re-run training to update it.\n",
        c.command
    );
    o.push_str("## What it is\n\n");
    let _ = writeln!(
        o,
        "Per-label heads over `{}` sentence embeddings ({} dimensions), used by \
         `EncoderClassifier` (`[classifier] kind = \"e5\"`): {}. Heads with thousands of \
         training examples have one hidden ReLU layer, trained with early stopping on the \
         validation split; the framing heads (a few hundred examples) are logistic regressions. \
         The lexicon classifier still runs first: documents under the relevance floor with no \
         context term (borders, camps, fleeing, countries of origin) skip the encoder, and its \
         rules supply evidence spans and damp hostile heads in sentences with counter-speech, \
         negation or quotation. Head file: `models/heads/heads.json` (format `{}`), seed {}.\n",
        h.encoder,
        h.dim,
        h.heads
            .iter()
            .map(|(n, e)| match &e.head.hidden {
                Some(l) => format!("`{n}` {} hidden units", l.units),
                None => format!("`{n}` linear"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        h.format,
        h.seed
    );
    o.push_str("Heads: `relevance`, `hate` (hate vs. rest), `abusive` (hate or offensive vs. none), \
                `collective`, `threat`, `victim`, `recognition`, `solutions`. Hate class: `hate` when \
                both `hate` and `abusive` pass their thresholds, `offensive` when only `abusive` does. \
                Hate target group: from the lexicons (no target head: the target annotations in \
                MLMA/ToxiGen are English/French/Arabic tweets about other groups, too little signal \
                for migrants in the covered languages); `migrants_refugees` when the deciding \
                sentence mentions migration, else `other`.\n\n");

    o.push_str("## Training data\n\n");
    o.push_str("| dataset | languages | origin | licence |\n|---|---|---|---|\n");
    for d in c.datasets {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            d.file, d.langs, d.origin, d.licence
        );
    }
    o.push_str("| framing.jsonl (models/data/framing) | 16 covered languages | written for mediawatch (synthetic) | CC0 1.0 |\n\n");
    o.push_str("Licence texts: `shared/data/hate/licenses/`. The hate-speech sets are attributed to their \
                authors as listed above (Davidson et al. 2017; de Gibert et al. 2018; GermEval 2018; \
                PolEval 2019; Ousidhoum et al. 2019 (MLMA); Hartvigsen et al. 2022 (ToxiGen)).\n\n");
    o.push_str("Examples used per source and split (after capping each dataset-language and \
                drawing labels round-robin):\n\n| source | train | validation | test |\n|---|---|---|---|\n");
    for (src, m) in &c.metrics.counts {
        let g = |k: &str| m.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            o,
            "| {src} | {} | {} | {} |",
            g("train"),
            g("validation"),
            g("test")
        );
    }

    o.push_str("\n## Hate speech: held-out test splits of the hate-speech sets\n\n");
    o.push_str("Three-class (hate / offensive / none) macro-F1 over the classes present; target in the issue: >= 0.75 per language.\n\n");
    o.push_str("| language | n | macro-F1 | accuracy | F1 hate | F1 offensive | F1 none |\n|---|---|---|---|---|---|---|\n");
    for (lang, m) in &c.metrics.hate_by_lang {
        let pc = |k: &str| {
            m.per_class.get(k).map_or("-".into(), |b| {
                if b.support == 0 {
                    "-".into()
                } else {
                    f(b.f1)
                }
            })
        };
        let _ = writeln!(
            o,
            "| {lang} | {} | {} | {} | {} | {} | {} |",
            m.n,
            f(m.macro_f1),
            f(m.accuracy),
            pc("hate"),
            pc("offensive"),
            pc("none")
        );
    }

    o.push_str("\n## Heads on their test splits (per language, head-level)\n\n");
    o.push_str("Whole texts, thresholds as calibrated. Hate-speech test splits for `hate`/`abusive`, \
                the framing eval split for the rest (about 12 examples per language: read per-language \
                rows as anecdotes).\n\n");
    for (head, langs) in &c.metrics.heads {
        let _ = writeln!(o, "### {head}\n\n| language | n | positives | precision | recall | F1 |\n|---|---|---|---|---|---|");
        for (lang, b) in langs {
            binary_row(&mut o, lang, b);
        }
        o.push('\n');
    }

    if let Some((model, lexicon)) = c.framing_eval {
        o.push_str("## Full stack on the framing eval split, against the lexicon baseline\n\n");
        o.push_str("`mediawatch eval --input models/data/framing/framing.jsonl --split eval` \
                    with each classifier (F1; hate: macro-F1).\n\n| label | this model | lexicon-0.1.0 |\n|---|---|---|\n");
        let hm = |r: &EvalReport| {
            r.hate
                .as_ref()
                .map_or("-".into(), |h| format!("{:.2}", h.macro_f1))
        };
        let _ = writeln!(o, "| hate (macro-F1) | {} | {} |", hm(model), hm(lexicon));
        let names: BTreeSet<&String> = model.labels.keys().chain(lexicon.labels.keys()).collect();
        for n in names {
            let g = |r: &EvalReport| {
                r.labels
                    .get(n)
                    .map_or("-".into(), |b| format!("{:.2}", b.f1))
            };
            let _ = writeln!(o, "| {n} | {} | {} |", g(model), g(lexicon));
        }
        o.push('\n');
    }

    if !c.hard_cases.is_empty() {
        o.push_str("## Hard cases (framing eval split): false positives, model vs. lexicon\n\n\
                    Quoted-and-condemned hate, counter-speech, negation and the other hard cases must not \
                    be labelled hate/offensive or collective.\n\n\
                    | hard case | n | hate FP model | hate FP lexicon | collective FP model | collective FP lexicon |\n\
                    |---|---|---|---|---|---|\n");
        for r in c.hard_cases {
            let _ = writeln!(
                o,
                "| {} | {} | {}/{} | {}/{} | {}/{} | {}/{} |",
                r.case,
                r.n,
                r.model_hate_fp,
                r.gold_not_hate,
                r.lexicon_hate_fp,
                r.gold_not_hate,
                r.model_collective_fp,
                r.gold_not_collective,
                r.lexicon_collective_fp,
                r.gold_not_collective
            );
        }
        o.push('\n');
    }

    o.push_str("## Thresholds\n\nProbabilities are rescaled so that the calibrated threshold maps to 0.5 \
                (the cut-off reports and filters use). Global thresholds were chosen for the best F1 on \
                the validation split; a language gets its own where its validation data has enough \
                positives. The `hate` and `abusive` thresholds of each hate-speech language were then \
                chosen together, for the best three-class macro-F1 on that language's validation split \
                (a language without `hate` examples keeps its `hate` threshold).\n\n| head | global | per language | trained languages |\n|---|---|---|---|\n");
    for (name, e) in &h.heads {
        let per: Vec<String> = e
            .lang_thresholds
            .iter()
            .map(|(l, t)| format!("{l} {t:.2}"))
            .collect();
        let _ = writeln!(
            o,
            "| {name} | {:.2} | {} | {} |",
            e.threshold,
            if per.is_empty() {
                "-".into()
            } else {
                per.join(", ")
            },
            e.trained_langs.join(" ")
        );
    }

    let hate_langs: BTreeSet<&str> = h
        .heads
        .get("hate")
        .map(|e| e.trained_langs.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let without: Vec<&str> = c
        .covered_langs
        .iter()
        .copied()
        .filter(|l| !hate_langs.contains(l))
        .collect();
    o.push_str("\n## Languages without training data\n\n");
    let _ = writeln!(
        o,
        "The `hate` head has positive training examples in: {}. Of these, en, fr, ar and pl come \
         from the hate-speech sets; the other languages have just the framing set's few \
         synthetic examples, so their hate scores rest on the multilingual encoder carrying what it \
         learned across languages. The `hate` head has no positive examples at all in: {} (German \
         GermEval labels offensive language only, which trains the `abusive` head); documents in a language where any head lacks \
         training data report `language_support: lexicon_only` (lower confidence). The framing \
         heads have a few dozen synthetic examples in each covered language.\n",
        hate_langs.iter().copied().collect::<Vec<_>>().join(", "),
        if without.is_empty() {
            "none".to_string()
        } else {
            without.join(", ")
        }
    );
    o.push_str("## Known limits\n\n\
- The hate-speech sets are tweets and forum posts about many groups, not news about migrants; \
  scores on news text are less reliable than the test figures suggest.\n\
- German data (GermEval) has no hate/offensive distinction: German `hate` is learned cross-lingually.\n\
- The framing set is small and synthetic; its figures test behaviour, not coverage of real outlets.\n\
- Sarcasm, coded language and dog whistles are mostly missed; so is hate spread across sentences.\n\
- Documents the lexicon finds irrelevant (under the relevance floor) are never encoded: hate in \
  them is only what the lexicon sees.\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_data_readme_table() {
        let readme = "| file | rows | lang | original labels | origin (public repository) | licence |\n\
                      |---|---|---|---|---|---|\n\
                      | davidson2017.jsonl | 24,783 | en | hate / offensive | t-davidson/x | MIT |\n\
                      | mlma2019.jsonl | 13,014 | en, fr, ar | sentiment | HKUST/MLMA | MIT |\n";
        let d = datasets_from_readme(readme);
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].langs, "en, fr, ar");
        assert_eq!(d[0].licence, "MIT");
    }

    #[test]
    fn renders_sections() {
        let heads = HeadSet::new("enc", 4, 1);
        let m = TrainMetrics::default();
        let ds = datasets_from_readme("| a.jsonl | 1 | pl | x | y | BSD-3-Clause |");
        let card = render(&CardInput {
            version: "e5s-heads-abc",
            heads: &heads,
            metrics: &m,
            datasets: &ds,
            framing_eval: None,
            hard_cases: &[HardCaseRow {
                case: "negation".into(),
                n: 3,
                gold_not_hate: 3,
                model_hate_fp: 1,
                ..Default::default()
            }],
            covered_langs: &["en", "sr"],
            command: "mediawatch train",
        });
        for s in [
            "# Model card: e5s-heads-abc",
            "BSD-3-Clause",
            "| negation | 3 | 1/3 |",
            "## Known limits",
            "## Languages without training data",
        ] {
            assert!(card.contains(s), "missing {s}");
        }
    }
}
