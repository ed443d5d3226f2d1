//! Evaluation of a classifier against gold labels (`mediawatch eval`).
//!
//! Gold lines are JSON objects with `text`, optional `lang`, and any of:
//! - `label` or `hate`: the hate class (`hate`, `offensive`, `none`), as in
//!   the shared hate-speech sets and the project's framing set;
//! - `relevant`, `collective`, `threat`, `victim`, `recognition`,
//!   `solutions`: 0/1 (or booleans), as in `models/data/framing/`;
//! - `target`: the targeted group, for per-target hate figures.
//!
//! A predicted binary label is present at score >= 0.5 (the reports'
//! threshold); the predicted hate class is the classifier's class.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::train::{Split, TrainExample};
use crate::{Classifier, ClassifyInput, HateClass, Labels, Route};

/// Binary labels evaluated, with their gold key.
pub const BINARY_LABELS: [&str; 6] = [
    "relevant",
    "collective",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

const CLASSES: [HateClass; 3] = [HateClass::Hate, HateClass::Offensive, HateClass::None];

/// One gold example.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldExample {
    /// Id from the file, else the line number.
    pub id: String,
    /// The text.
    pub text: String,
    /// Language, when given.
    pub lang: Option<String>,
    /// The parent article's title and lead (or the thread's post), when
    /// given: the text is classified in that context.
    pub context: Option<String>,
    /// Gold hate class, when given.
    pub hate: Option<HateClass>,
    /// Targeted group, when given.
    pub target: Option<String>,
    /// The functional suite's functionality (`derog_dehum_h`, ...), when
    /// given: `_h` cases are right when labelled `hate`, the others when not.
    pub functionality: Option<String>,
    /// Gold binary labels present in the line.
    pub binary: BTreeMap<&'static str, bool>,
}

/// Reads a gold-labelled JSONL file: every line parsed by
/// [`parse_gold_line`], keeping only lines whose `split` is `split` and
/// whose language is `lang` (when given), at most `limit` examples. An
/// unreadable or malformed line is an error naming the file and line; an
/// empty result is an error too (a filter that matched nothing).
pub fn load_gold(
    path: &std::path::Path,
    split: Option<&str>,
    lang: Option<&str>,
    limit: Option<usize>,
) -> Result<Vec<GoldExample>, crate::ClassifyError> {
    use std::io::BufRead;
    let err = |line: usize, reason: String| crate::ClassifyError::Gold {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| err(0, format!("cannot open: {e}")))?;
    let mut gold = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| err(n + 1, format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(want) = split {
            let v: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| err(n + 1, format!("not JSON: {e}")))?;
            if v.get("split").and_then(|s| s.as_str()) != Some(want) {
                continue;
            }
        }
        let ex = parse_gold_line(&line, n + 1).map_err(|e| err(n + 1, e))?;
        if lang.is_some_and(|l| ex.lang.as_deref() != Some(l)) {
            continue;
        }
        gold.push(ex);
        if limit.is_some_and(|l| gold.len() >= l) {
            break;
        }
    }
    if gold.is_empty() {
        return Err(err(0, "no examples left after filtering".into()));
    }
    Ok(gold)
}

/// Parses one gold line; the error says which key is wrong.
pub fn parse_gold_line(line: &str, line_no: usize) -> Result<GoldExample, String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let text = obj
        .get("text")
        .and_then(|t| t.as_str())
        .ok_or("missing \"text\" (a string)")?
        .to_string();
    let id = match obj.get("id") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => line_no.to_string(),
        Some(other) => other.to_string(),
    };
    let lang = obj
        .get("lang")
        .and_then(|l| l.as_str())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string);
    let context = obj
        .get("context")
        .and_then(|c| c.as_str())
        .filter(|c| !c.trim().is_empty())
        .map(str::to_string);
    let hate = match obj.get("hate").or_else(|| obj.get("label")) {
        None => None,
        Some(v) => hate_label(v).map_err(|e| format!("\"hate\"/\"label\": {e}"))?,
    };
    let target = obj
        .get("target")
        .and_then(|t| t.as_str())
        .map(str::to_string);
    let mut binary = BTreeMap::new();
    for key in BINARY_LABELS {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Bool(b)) => {
                binary.insert(key, *b);
            }
            Some(serde_json::Value::Number(n))
                if n.as_u64() == Some(0) || n.as_u64() == Some(1) =>
            {
                binary.insert(key, n.as_u64() == Some(1));
            }
            Some(other) => return Err(format!("\"{key}\": {other} is not 0, 1, true or false")),
        }
    }
    if hate.is_none() && binary.is_empty() {
        return Err("no gold label (\"hate\"/\"label\" or one of relevant, collective, threat, victim, recognition, solutions)".into());
    }
    let functionality = obj
        .get("functionality")
        .and_then(|f| f.as_str())
        .filter(|f| !f.is_empty())
        .map(str::to_string);
    Ok(GoldExample {
        id,
        text,
        lang,
        context,
        hate,
        target,
        functionality,
        binary,
    })
}

/// Reads a hate label as organisations and public data sets write it:
/// `hate`/`offensive`/`none`, and the common synonyms (`hateful`, `HS`,
/// `abusive`, `toxic`, `OFFENSE`, `OFF`, `inappropriate`, `acceptable`,
/// `ACC`, `normal`, `neutral`, `clean`, `OTHER`, ...), booleans and
/// numbers (0 = none, 1 = offensive, 2 = hate, as in PolEval). `null` is
/// "not labelled". Labels that attack someone for their background or call
/// for violence (`background_offensive`, `violence`) count as hate.
pub fn hate_label(v: &serde_json::Value) -> Result<Option<HateClass>, String> {
    use serde_json::Value;
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(true) => HateClass::Offensive,
        Value::Bool(false) => HateClass::None,
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => HateClass::None,
            Some(1.0) => HateClass::Offensive,
            Some(2.0) => HateClass::Hate,
            _ => return Err(format!("{n} is not 0, 1 or 2")),
        },
        Value::String(s) => {
            let k: String = s
                .trim()
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            match k.as_str() {
                "hate" | "hateful" | "hs" | "hate_speech" | "hatespeech" | "2" => HateClass::Hate,
                _ if k.contains("background") || k.contains("violen") => HateClass::Hate,
                "offensive" | "offence" | "offense" | "off" | "abusive" | "abuse" | "toxic"
                | "insult" | "profanity" | "harmful" | "cyberbullying" | "inappropriate"
                | "obscene" | "1" | "true" | "yes" => HateClass::Offensive,
                "none" | "acceptable" | "acc" | "normal" | "neutral" | "clean" | "other"
                | "not" | "not_offensive" | "non_offensive" | "not_hateful" | "non_hateful"
                | "non_toxic" | "nontoxic" | "harmless" | "0" | "false" | "no" => HateClass::None,
                _ => {
                    return Err(format!(
                        "{s:?} is not a hate label (hate, offensive, none or a synonym)"
                    ))
                }
            }
        }
        other => return Err(format!("{other} is not a class name")),
    }))
}

/// Precision, recall and F1 of one binary label.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BinaryScores {
    /// Gold positives.
    pub support: u64,
    /// Examples evaluated.
    pub n: u64,
    /// True positives.
    pub tp: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

/// Three-class hate scores.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClassScores {
    /// Examples evaluated.
    pub n: u64,
    /// Accuracy.
    pub accuracy: f64,
    /// Macro-F1 over the classes present in gold or prediction.
    pub macro_f1: f64,
    /// Per class: precision, recall, F1, support.
    pub per_class: BTreeMap<String, BinaryScores>,
    /// `confusion[gold][predicted]`, classes in the order hate, offensive, none.
    pub confusion: [[u64; 3]; 3],
}

/// Abusive (hate or offensive) against none: the binary decision most
/// public test sets make ("offensive vs acceptable", "toxic vs clean",
/// GermEval's OFFENSE vs OTHER).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AbusiveScores {
    /// Examples.
    pub n: u64,
    /// Gold abusive examples.
    pub support: u64,
    /// Accuracy.
    pub accuracy: f64,
    /// Mean of the F1 of both classes.
    pub macro_f1: f64,
    /// F1 of the abusive class.
    pub f1_abusive: f64,
    /// F1 of the none class.
    pub f1_none: f64,
}

impl AbusiveScores {
    /// Collapses a three-class confusion matrix.
    pub fn of(c: &ClassScores) -> Self {
        let m = &c.confusion;
        let tp: u64 = (0..2)
            .flat_map(|g| (0..2).map(move |p| (g, p)))
            .map(|(g, p)| m[g][p])
            .sum();
        let fn_: u64 = m[0][2] + m[1][2];
        let fp: u64 = m[2][0] + m[2][1];
        let tn: u64 = m[2][2];
        let f1 = |tp: u64, fp: u64, fn_: u64| {
            let d = 2 * tp + fp + fn_;
            if d == 0 {
                0.0
            } else {
                2.0 * tp as f64 / d as f64
            }
        };
        let (fa, fnn) = (f1(tp, fp, fn_), f1(tn, fn_, fp));
        let n = tp + fn_ + fp + tn;
        Self {
            n,
            support: tp + fn_,
            accuracy: if n == 0 {
                0.0
            } else {
                (tp + tn) as f64 / n as f64
            },
            macro_f1: (fa + fnn) / 2.0,
            f1_abusive: fa,
            f1_none: fnn,
        }
    }
}

/// The evaluation of a classifier on a gold set.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct EvalReport {
    /// Model version evaluated.
    pub model_version: String,
    /// Examples.
    pub examples: u64,
    /// Abusive vs none over all examples with a gold class.
    pub abusive: Option<AbusiveScores>,
    /// Hate over all examples with a gold class.
    pub hate: Option<ClassScores>,
    /// The functional suite's cases among the examples, when any.
    pub functional: Option<FunctionalScores>,
    /// Hate per language.
    pub hate_by_lang: BTreeMap<String, ClassScores>,
    /// Hate per gold target group (examples whose gold class is not none).
    pub hate_recall_by_target: BTreeMap<String, BinaryScores>,
    /// Binary labels over all examples that have them.
    pub labels: BTreeMap<String, BinaryScores>,
    /// Binary labels per language.
    pub labels_by_lang: BTreeMap<String, BTreeMap<String, BinaryScores>>,
}

fn class_idx(c: HateClass) -> usize {
    CLASSES.iter().position(|x| *x == c).unwrap_or(2)
}

fn finish_binary(b: &mut BinaryScores) {
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    b.precision = ratio(b.tp, b.tp + b.fp);
    b.recall = ratio(b.tp, b.tp + b.fn_);
    b.f1 = if b.precision + b.recall == 0.0 {
        0.0
    } else {
        2.0 * b.precision * b.recall / (b.precision + b.recall)
    };
}

fn add_binary(b: &mut BinaryScores, gold: bool, pred: bool) {
    b.n += 1;
    b.support += gold as u64;
    match (gold, pred) {
        (true, true) => b.tp += 1,
        (false, true) => b.fp += 1,
        (true, false) => b.fn_ += 1,
        (false, false) => {}
    }
}

fn class_scores(pairs: &[(HateClass, HateClass)]) -> ClassScores {
    let mut s = ClassScores {
        n: pairs.len() as u64,
        ..Default::default()
    };
    for (g, p) in pairs {
        s.confusion[class_idx(*g)][class_idx(*p)] += 1;
    }
    let correct: u64 = (0..3).map(|i| s.confusion[i][i]).sum();
    s.accuracy = if s.n == 0 {
        0.0
    } else {
        correct as f64 / s.n as f64
    };
    let mut f1s = Vec::new();
    for (i, c) in CLASSES.iter().enumerate() {
        let mut b = BinaryScores {
            n: s.n,
            tp: s.confusion[i][i],
            fp: (0..3).filter(|g| *g != i).map(|g| s.confusion[g][i]).sum(),
            fn_: (0..3).filter(|p| *p != i).map(|p| s.confusion[i][p]).sum(),
            ..Default::default()
        };
        b.support = b.tp + b.fn_;
        finish_binary(&mut b);
        // A class absent from both gold and predictions says nothing.
        if b.support > 0 || b.fp > 0 {
            f1s.push(b.f1);
        }
        s.per_class.insert(c.as_str().to_string(), b);
    }
    s.macro_f1 = if f1s.is_empty() {
        0.0
    } else {
        f1s.iter().sum::<f64>() / f1s.len() as f64
    };
    s
}

fn predicted(l: &Labels, key: &str) -> bool {
    let score = match key {
        "relevant" => l.relevance.score,
        "collective" => l.collective_labelling.score,
        "threat" => l.frame.threat,
        "victim" => l.frame.victim,
        "recognition" => l.frame.recognition,
        "solutions" => l.solutions.score,
        _ => 0.0,
    };
    score >= mediawatch_core::labels::DEFAULT_THRESHOLD
}

/// Classifies every example (in batches) and scores the result. Examples the
/// classifier fails on are counted as predicting nothing.
pub fn evaluate(classifier: &dyn Classifier, examples: &[GoldExample]) -> EvalReport {
    let mut labels = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(64) {
        let inputs: Vec<ClassifyInput<'_>> = chunk
            .iter()
            .map(|e| ClassifyInput {
                id: &e.id,
                text: &e.text,
                lang: e.lang.as_deref(),
                context: e.context.as_deref(),
            })
            .collect();
        labels.extend(
            classifier
                .classify_batch(&inputs)
                .into_iter()
                .map(Result::unwrap_or_default),
        );
    }
    score(classifier.model_version(), examples, &labels)
}

/// Scores predicted `labels` (one per example, in order) against the gold
/// `examples`.
pub fn score(model_version: &str, examples: &[GoldExample], labels: &[Labels]) -> EvalReport {
    let mut report = EvalReport {
        model_version: model_version.to_string(),
        examples: examples.len() as u64,
        ..Default::default()
    };
    let mut hate_pairs: Vec<(HateClass, HateClass)> = Vec::new();
    let mut hate_by_lang: BTreeMap<String, Vec<(HateClass, HateClass)>> = BTreeMap::new();
    let mut functional = FunctionalScores::default();
    let mut tally = [0u64; 4];
    {
        for (e, labels) in examples.iter().zip(labels) {
            if let Some(func) = &e.functionality {
                let hateful = func.ends_with("_h");
                let correct = hateful == (labels.hate.class == HateClass::Hate);
                functional.n += 1;
                let f = functional.by_functionality.entry(func.clone()).or_default();
                f.0 += 1;
                f.1 += u64::from(correct);
                let k = if hateful { 0 } else { 2 };
                tally[k] += 1;
                tally[k + 1] += u64::from(correct);
            }
            let lang = e.lang.clone().unwrap_or_else(|| "und".into());
            if let Some(g) = e.hate {
                let p = labels.hate.class;
                hate_pairs.push((g, p));
                hate_by_lang.entry(lang.clone()).or_default().push((g, p));
                if g != HateClass::None {
                    let t = e.target.clone().unwrap_or_else(|| "unspecified".into());
                    add_binary(
                        report.hate_recall_by_target.entry(t).or_default(),
                        true,
                        p != HateClass::None,
                    );
                }
            }
            for (key, gold) in &e.binary {
                let pred = predicted(labels, key);
                add_binary(
                    report.labels.entry(key.to_string()).or_default(),
                    *gold,
                    pred,
                );
                add_binary(
                    report
                        .labels_by_lang
                        .entry(lang.clone())
                        .or_default()
                        .entry(key.to_string())
                        .or_default(),
                    *gold,
                    pred,
                );
            }
        }
    }
    if !hate_pairs.is_empty() {
        let c = class_scores(&hate_pairs);
        report.abusive = Some(AbusiveScores::of(&c));
        report.hate = Some(c);
    }
    if functional.n > 0 {
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        functional.hateful = ratio(tally[1], tally[0]);
        functional.non_hateful = ratio(tally[3], tally[2]);
        functional.accuracy = ratio(tally[1] + tally[3], tally[0] + tally[2]);
        report.functional = Some(functional);
    }
    report.hate_by_lang = hate_by_lang
        .iter()
        .map(|(l, p)| (l.clone(), class_scores(p)))
        .collect();
    for b in report.hate_recall_by_target.values_mut() {
        finish_binary(b);
    }
    for b in report.labels.values_mut() {
        finish_binary(b);
    }
    for m in report.labels_by_lang.values_mut() {
        for b in m.values_mut() {
            finish_binary(b);
        }
    }
    report
}

/// The group a held-out example is reported under: its source, with the
/// language for the sets that span several (`comments:hr`, `user:ours:hr`).
pub fn group_of(e: &TrainExample) -> String {
    let single_language = [
        "davidson2017",
        "degibert2018-stormfront",
        "germeval2018",
        "poleval2019-task6",
        "toxigen-prompts",
        "banpl",
        "wcxb",
    ];
    if single_language.contains(&e.source.as_str()) {
        e.source.clone()
    } else {
        format!("{}:{}", e.source, e.lang)
    }
}

/// The pooled group of an example whose source spans several languages
/// (`comments:all`, `user:ours:all`): the source's test split as a whole,
/// reported beside its languages (a language's framing rows may be ten
/// texts, too few to rank two classifiers by).
pub fn pooled_group_of(e: &TrainExample) -> Option<String> {
    (group_of(e) != e.source).then(|| format!("{}:all", e.source))
}

/// A training example as a gold example (its targets as gold labels).
pub fn gold_of(e: &TrainExample) -> GoldExample {
    let mut binary = BTreeMap::new();
    for (head, key) in crate::data::BINARY_LABELS {
        if let Some(t) = e.targets.get(head) {
            binary.insert(key, *t > 0.5);
        }
    }
    let hate = e.hate.or_else(|| {
        e.targets.get("abusive").map(|a| {
            if *a > 0.5 {
                HateClass::Offensive
            } else {
                HateClass::None
            }
        })
    });
    GoldExample {
        id: e.id.clone(),
        text: e.text.clone(),
        lang: Some(e.lang.clone()).filter(|l| !l.is_empty()),
        context: e.context.clone(),
        hate,
        target: e.target.clone(),
        functionality: e.functionality.clone(),
        binary,
    }
}

/// Accuracy on a functional suite, per functionality and overall.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FunctionalScores {
    /// Cases.
    pub n: u64,
    /// Correct: a hateful case labelled `hate`, a non-hateful one not.
    pub accuracy: f64,
    /// Accuracy on the hateful cases.
    pub hateful: f64,
    /// Accuracy on the non-hateful cases.
    pub non_hateful: f64,
    /// Per functionality: (cases, correct).
    pub by_functionality: BTreeMap<String, (u64, u64)>,
}

/// What the model card reports from the test split, from one pass.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HeldOut {
    /// One report per [`group_of`] key, and per [`pooled_group_of`] key.
    pub reports: BTreeMap<String, EvalReport>,
    /// The functional suite's cases, per language.
    pub functional: BTreeMap<String, FunctionalScores>,
    /// Per group: the share of texts the encoder saw, and the share of
    /// gold-abusive texts it never saw (the cheap stages' loss). Empty for
    /// a classifier without routes.
    pub routes: BTreeMap<String, (f64, f64)>,
    /// Per hard case (counter-speech, quoted and condemned hate, negation,
    /// ...): how often a text that is not hateful, offensive or collective
    /// by its gold labels is labelled so.
    pub hard_cases: BTreeMap<String, HardCaseScores>,
}

/// False positives on one kind of hard case.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HardCaseScores {
    /// Texts of this kind whose gold class is `none`.
    pub not_abusive: u64,
    /// Of those, labelled `hate`.
    pub labelled_hate: u64,
    /// Of those, labelled `hate` or `offensive`.
    pub labelled_abusive: u64,
    /// Texts of this kind whose gold collective label is 0.
    pub not_collective: u64,
    /// Of those, labelled collective.
    pub labelled_collective: u64,
}

/// A batch classifier that may say how each input was routed.
pub type RoutedBatch<'f> = dyn Fn(&[ClassifyInput<'_>]) -> Vec<(Labels, Option<Route>)> + 'f;

/// Classifies the test split of `examples` once and scores it: per group,
/// the functional suite, and the routes.
pub fn held_out(
    model_version: &str,
    classify: &RoutedBatch<'_>,
    examples: &[TrainExample],
) -> HeldOut {
    let test: Vec<&TrainExample> = examples.iter().filter(|e| e.split == Split::Test).collect();
    let mut labels: Vec<(Labels, Option<Route>)> = Vec::with_capacity(test.len());
    for chunk in test.chunks(64) {
        let inputs: Vec<ClassifyInput<'_>> = chunk
            .iter()
            .map(|e| ClassifyInput {
                id: &e.id,
                text: &e.text,
                lang: Some(e.lang.as_str()).filter(|l| !l.is_empty()),
                context: e.context.as_deref(),
            })
            .collect();
        labels.extend(classify(&inputs));
    }
    let mut out = HeldOut::default();
    let mut groups: BTreeMap<String, (Vec<GoldExample>, Vec<Labels>)> = BTreeMap::new();
    let mut routes: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for (e, (l, route)) in test.iter().zip(&labels) {
        for g in std::iter::once(group_of(e)).chain(pooled_group_of(e)) {
            let slot = groups.entry(g.clone()).or_default();
            slot.0.push(gold_of(e));
            slot.1.push(l.clone());
            if let Some(r) = route {
                let encoded = r.encoded_units > 0;
                let t = routes.entry(g).or_default();
                t[0] += 1;
                t[1] += u64::from(encoded);
                if e.targets.get("abusive").is_some_and(|v| *v > 0.5) {
                    t[2] += 1;
                    t[3] += u64::from(!encoded);
                }
            }
        }
        if let Some(case) = &e.hard_case {
            let h = out.hard_cases.entry(case.clone()).or_default();
            if e.targets.get("abusive").is_some_and(|a| *a < 0.5) {
                h.not_abusive += 1;
                h.labelled_hate += u64::from(l.hate.class == HateClass::Hate);
                h.labelled_abusive += u64::from(l.hate.class != HateClass::None);
            }
            if e.targets.get("collective").is_some_and(|c| *c < 0.5) {
                h.not_collective += 1;
                h.labelled_collective += u64::from(l.collective_labelling.score >= 0.5);
            }
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    out.reports = groups
        .into_iter()
        .map(|(g, (gold, l))| (g, score(model_version, &gold, &l)))
        .collect();
    // The functional suite per language, from its groups' reports.
    out.functional = out
        .reports
        .iter()
        .filter_map(|(g, r)| {
            Some((
                g.strip_prefix("functional:")?.to_string(),
                r.functional.clone()?,
            ))
        })
        .collect();
    out.routes = routes
        .into_iter()
        .map(|(g, t)| (g, (ratio(t[1], t[0]), ratio(t[3], t[2]))))
        .collect();
    out
}

/// [`held_out`] for any [`Classifier`] (no routes).
pub fn held_out_plain(classifier: &dyn Classifier, examples: &[TrainExample]) -> HeldOut {
    held_out(
        classifier.model_version(),
        &|inputs| {
            classifier
                .classify_batch(inputs)
                .into_iter()
                .map(|r| (r.unwrap_or_default(), None))
                .collect()
        },
        examples,
    )
}

/// Human-readable rendering.
pub fn render_text(r: &EvalReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "model {}  examples {}", r.model_version, r.examples);
    if let Some(a) = &r.abusive {
        let _ = writeln!(
            o,
            "\nabusive (hate or offensive) vs none: accuracy {:.3}  macro-F1 {:.3}  F1 abusive {:.3}  F1 none {:.3}  n {}",
            a.accuracy, a.macro_f1, a.f1_abusive, a.f1_none, a.n
        );
    }
    if let Some(f) = &r.functional {
        let _ = writeln!(
            o,
            "\nfunctional suite: accuracy {:.3}  on hateful {:.3}  on non-hateful {:.3}  n {}",
            f.accuracy, f.hateful, f.non_hateful, f.n
        );
        for (func, (n, ok)) in &f.by_functionality {
            let _ = writeln!(o, "  {func:<22} {ok:>4} / {n:<4}");
        }
    }
    if let Some(h) = &r.hate {
        let _ = writeln!(
            o,
            "\nhate (3 classes): accuracy {:.3}  macro-F1 {:.3}  n {}",
            h.accuracy, h.macro_f1, h.n
        );
        let _ = writeln!(
            o,
            "  {:<10} {:>9} {:>7} {:>7} {:>8}",
            "class", "precision", "recall", "F1", "support"
        );
        for c in CLASSES {
            if let Some(b) = h.per_class.get(c.as_str()) {
                let _ = writeln!(
                    o,
                    "  {:<10} {:>9.3} {:>7.3} {:>7.3} {:>8}",
                    c.as_str(),
                    b.precision,
                    b.recall,
                    b.f1,
                    b.support
                );
            }
        }
        let _ = writeln!(
            o,
            "  confusion (rows gold, columns predicted: hate offensive none)"
        );
        for (i, c) in CLASSES.iter().enumerate() {
            let row = h.confusion[i];
            let _ = writeln!(
                o,
                "  {:<10} {:>7} {:>9} {:>7}",
                c.as_str(),
                row[0],
                row[1],
                row[2]
            );
        }
        if r.hate_by_lang.len() > 1 {
            let _ = writeln!(o, "  per language:");
            for (l, s) in &r.hate_by_lang {
                let _ = writeln!(
                    o,
                    "    {l:<5} n {:>6}  accuracy {:.3}  macro-F1 {:.3}",
                    s.n, s.accuracy, s.macro_f1
                );
            }
        }
        if !r.hate_recall_by_target.is_empty() {
            let _ = writeln!(o, "  recall of hate/offensive per target:");
            for (t, b) in &r.hate_recall_by_target {
                let _ = writeln!(o, "    {t:<20} {:.3} of {}", b.recall, b.support);
            }
        }
    }
    if !r.labels.is_empty() {
        let _ = writeln!(o, "\nlabels (present at score >= 0.5):");
        let _ = writeln!(
            o,
            "  {:<12} {:>9} {:>7} {:>7} {:>8} {:>6}",
            "label", "precision", "recall", "F1", "support", "n"
        );
        for (k, b) in &r.labels {
            let _ = writeln!(
                o,
                "  {k:<12} {:>9.3} {:>7.3} {:>7.3} {:>8} {:>6}",
                b.precision, b.recall, b.f1, b.support, b.n
            );
        }
        if r.labels_by_lang.len() > 1 {
            let _ = writeln!(o, "  F1 per language: {}", BINARY_LABELS.join(" "));
            for (l, m) in &r.labels_by_lang {
                let cells: Vec<String> = BINARY_LABELS
                    .iter()
                    .map(|k| m.get(*k).map_or("-".into(), |b| format!("{:.2}", b.f1)))
                    .collect();
                let _ = writeln!(o, "    {l:<5} {}", cells.join(" "));
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LexiconClassifier;

    #[test]
    fn parses_both_gold_formats_and_names_bad_keys() {
        let a = parse_gold_line(
            r#"{"id":"x","text":"t","lang":"de","label":"offensive"}"#,
            1,
        )
        .unwrap();
        assert_eq!(a.hate, Some(HateClass::Offensive));
        let b = parse_gold_line(
            r#"{"text":"t","relevant":1,"collective":0,"hate":"none","target":null}"#,
            7,
        )
        .unwrap();
        assert_eq!(b.id, "7");
        assert_eq!(b.binary.get("relevant"), Some(&true));
        assert_eq!(b.binary.get("collective"), Some(&false));
        let e = parse_gold_line(r#"{"text":"t","threat":2}"#, 1).unwrap_err();
        assert!(e.contains("threat"), "{e}");
        let e = parse_gold_line(r#"{"text":"t","label":"rude"}"#, 1).unwrap_err();
        assert!(e.contains("label"), "{e}");
        assert!(parse_gold_line(r#"{"text":"t"}"#, 1).is_err());
        assert!(parse_gold_line("[1]", 1).is_err());
    }

    #[test]
    fn scores_are_computed_from_the_confusion_matrix() {
        let pairs = [
            (HateClass::Hate, HateClass::Hate),
            (HateClass::Hate, HateClass::None),
            (HateClass::None, HateClass::None),
            (HateClass::None, HateClass::Hate),
        ];
        let s = class_scores(&pairs);
        assert_eq!(s.confusion[0], [1, 0, 1]);
        assert_eq!(s.accuracy, 0.5);
        let h = &s.per_class["hate"];
        assert_eq!((h.tp, h.fp, h.fn_), (1, 1, 1));
        assert!((h.f1 - 0.5).abs() < 1e-9);
        // Offensive appears nowhere, so the macro average is over two classes.
        assert!((s.macro_f1 - 0.5).abs() < 1e-9);
    }

    #[test]
    fn evaluates_a_real_classifier() {
        let lines = [
            r#"{"id":"1","lang":"en","text":"A wave of migrants is flooding our towns, they are all criminals.","relevant":1,"collective":1,"hate":"none"}"#,
            r#"{"id":"2","lang":"en","text":"The heat wave will last until Sunday.","relevant":0,"collective":0,"hate":"none"}"#,
        ];
        let gold: Vec<GoldExample> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| parse_gold_line(l, i + 1).unwrap())
            .collect();
        let r = evaluate(&LexiconClassifier::new(), &gold);
        assert_eq!(r.examples, 2);
        let rel = &r.labels["relevant"];
        assert_eq!((rel.tp, rel.fp, rel.fn_), (1, 0, 0));
        assert_eq!(r.labels["collective"].tp, 1);
        assert!(render_text(&r).contains("relevant"));
    }
}
