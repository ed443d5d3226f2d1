//! Training and evaluation data: every labelled source as [`TrainExample`]s
//! with the same deterministic splits `models/scripts/finetune.py` uses, so
//! that thresholds are calibrated, and figures reported, on examples the
//! fine-tuned encoder never trained on.
//!
//! Sources:
//! * the public hate-speech sets under `<shared>/hate/*.jsonl` and BAN-PL
//!   (`<shared>/hate/ban-pl/BAN-PL_2.zip`, password-protected as its
//!   authors publish it; read in memory, never unpacked to disk);
//! * the sets written for the project under `models/data/` (comments,
//!   news, toxicity, the functional suite, framing: see its README);
//! * the WCXB general web pages (`<shared>/extraction/wcxb-dev`): real
//!   English pages on every topic but migration, cut into windows, as
//!   relevance negatives;
//! * an organisation's own labelled JSONL (`mediawatch train --data DIR`);
//! * analysts' corrections (see [`crate::train::correction_example`]).
//!
//! Splits: [`hash_split`] of the example id (15 % validation, 15 % test for
//! the public sets); the written sets keep their own `eval` split as the
//! test set and take 20 % of the rest for validation. Sources are capped
//! (a random subset of the training split) and weighted as in the
//! fine-tuning script, so one large tweet set does not drown the in-domain
//! data.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use mediawatch_core::labels::HateClass;
use sha2::{Digest, Sha256};

use crate::eval::hate_label;
use crate::heads::base_lang;
use crate::train::{Split, TrainExample};
use crate::ClassifyError;

/// Training examples kept per public source (a random part of its
/// training split; validation and test are never capped).
pub const CAPS: [(&str, usize); 6] = [
    ("davidson2017", 5000),
    ("degibert2018-stormfront", 4000),
    // MLMA's tweets all mention a group and nearly all are hostile: at
    // full size they taught the encoder that naming gay people or Muslims
    // is abuse.
    ("mlma2019", 2500),
    ("banpl", 9000),
    ("poleval2019-task6", 7100),
    ("germeval2018", 3600),
];

/// Weight of an example of the sets written for the project, relative to
/// one public example (they are the only in-domain data in most languages).
pub const WRITTEN_WEIGHTS: [(&str, f32); 6] = [
    ("framing", 3.0),
    ("comments", 3.0),
    ("toxicity", 3.0),
    ("functional", 2.0),
    ("news", 2.0),
    ("identity", 3.0),
];

/// Weight of an organisation's own examples (`--data`): their language
/// and domain are what the model is retrained for.
pub const USER_WEIGHT: f32 = 4.0;

fn err(path: &Path, reason: impl std::fmt::Display) -> ClassifyError {
    ClassifyError::Model {
        model: "train data".into(),
        reason: format!("{}: {reason}", path.display()),
    }
}

/// The split of example `id`: test when its hash falls under `test`,
/// validation under `test + val`, else train. The hash is the first four
/// bytes of SHA-256(id), big-endian, over 2^32 - 1, as in
/// `models/scripts/finetune.py`.
pub fn hash_split(id: &str, val: f64, test: f64) -> Split {
    let d = Sha256::digest(id.as_bytes());
    let h = f64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]])) / f64::from(u32::MAX);
    if h < test {
        Split::Test
    } else if h < test + val {
        Split::Validation
    } else {
        Split::Train
    }
}

fn targets_of(class: HateClass) -> BTreeMap<&'static str, f32> {
    let mut t = BTreeMap::new();
    t.insert("hate", f32::from(u8::from(class == HateClass::Hate)));
    t.insert("abusive", f32::from(u8::from(class != HateClass::None)));
    t
}

/// The binary labels: (head name, key in the data files and gold).
pub const BINARY_LABELS: [(&str, &str); 6] = [
    ("relevance", "relevant"),
    ("collective", "collective"),
    ("threat", "threat"),
    ("victim", "victim"),
    ("recognition", "recognition"),
    ("solutions", "solutions"),
];

/// An example with no labels yet (weight 1, no context).
pub(crate) fn example(
    id: String,
    text: String,
    lang: &str,
    source: &str,
    split: Split,
) -> TrainExample {
    TrainExample {
        id,
        text,
        lang: base_lang(lang),
        source: source.to_string(),
        split,
        weight: 1.0,
        hate: None,
        targets: BTreeMap::new(),
        context: None,
        kind: None,
        hard_case: None,
        functionality: None,
        target: None,
    }
}

/// The target group of a public data set's example, from its own
/// annotation (MLMA's `group`, ToxiGen's `group`), in [`TARGET_GROUPS`]'s
/// terms.
///
/// [`TARGET_GROUPS`]: crate::heads::TARGET_GROUPS
fn public_target(labels: &serde_json::Value) -> Option<String> {
    let g = labels.get("group")?.as_str()?.to_ascii_lowercase();
    Some(
        match g.as_str() {
            "refugees" | "immigrants" | "immigrant" | "refugee" => "migrants_refugees",
            "women" | "woman" => "women",
            "gay" | "lgbt" | "lgbtq" => "lgbt",
            "muslims" | "muslim" | "jews" | "jewish" | "christian" | "religion" => "religious",
            "disabled" | "special_needs" | "mental_dis" | "physical_dis" => "disability",
            "african_descent" | "arabs" | "asians" | "asian" | "black" | "chinese"
            | "hispanics" | "indian" | "latino" | "mexican" | "middle_east" | "native_american" => {
                "ethnic_national"
            }
            "individual" | "other" | "left_wing_people" => "other",
            _ => return None,
        }
        .to_string(),
    )
}

/// The public hate-speech sets: every `*.jsonl` in `dir` (`{"id", "text",
/// "lang", "label", "source"}`), split by id. GermEval's labels do not
/// tell hate from offensive, so its examples train `abusive` only.
pub fn load_public_hate(dir: &Path) -> Result<Vec<TrainExample>, ClassifyError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, format!("cannot list the hate-speech data: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(dir, "no *.jsonl files"));
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| err(&file, e))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| err(&file, format!("line {}: {e}", n + 1)))?;
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default();
            let class = hate_label(v.get("label").unwrap_or(&serde_json::Value::Null))
                .map_err(|e| err(&file, format!("line {}: label: {e}", n + 1)))?
                .ok_or_else(|| err(&file, format!("line {}: no label", n + 1)))?;
            if s("text").trim().is_empty() || s("lang").is_empty() {
                continue;
            }
            let source = match s("source") {
                "" => file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                x => x.to_string(),
            };
            let id = match s("id") {
                "" => format!("{source}-{n}"),
                x => x.to_string(),
            };
            let split = hash_split(&id, 0.15, 0.15);
            let mut e = example(id, s("text").to_string(), s("lang"), &source, split);
            e.targets = targets_of(class);
            if class != HateClass::None {
                e.target = v.get("labels").and_then(public_target);
            }
            if source == "germeval2018" {
                e.targets.remove("hate");
            } else {
                e.hate = Some(class);
            }
            out.push(e);
        }
    }
    Ok(out)
}

/// BAN-PL (Kołos et al. 2024): 24,000 Wykop posts, harmful (banned by the
/// moderators) or neutral, from the authors' password-protected zip. Trains
/// `abusive` only: "harmful" does not tell hate from offence.
pub fn load_ban_pl(zip_path: &Path) -> Result<Vec<TrainExample>, ClassifyError> {
    let file = std::fs::File::open(zip_path).map_err(|e| err(zip_path, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| err(zip_path, e))?;
    // The password is the archive's name, as the authors' README states.
    let password = zip_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut csv_bytes = Vec::new();
    archive
        .by_name_decrypt("BAN-PL.csv", password.as_bytes())
        .map_err(|e| err(zip_path, format!("BAN-PL.csv: {e}")))?
        .read_to_end(&mut csv_bytes)
        .map_err(|e| err(zip_path, format!("BAN-PL.csv: {e}")))?;
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let headers = reader.headers().map_err(|e| err(zip_path, e))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| err(zip_path, format!("BAN-PL.csv has no {name:?} column")))
    };
    let (ci, ct, cc) = (col("id")?, col("Text")?, col("Class")?);
    let mut out = Vec::new();
    for (n, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| err(zip_path, format!("BAN-PL.csv record {}: {e}", n + 1)))?;
        let text = rec
            .get(ct)
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if text.is_empty() {
            continue;
        }
        let id = format!("banpl-{}", rec.get(ci).unwrap_or_default());
        let harmful = rec.get(cc) == Some("1");
        let split = hash_split(&id, 0.15, 0.15);
        let mut e = example(id, text, "pl", "banpl", split);
        e.targets.insert("abusive", f32::from(u8::from(harmful)));
        out.push(e);
    }
    Ok(out)
}

/// One line of the written sets, the framing set or an organisation's file.
fn parse_labelled(
    v: &serde_json::Value,
    source: &str,
    fallback_id: String,
    default_lang: Option<&str>,
) -> Result<TrainExample, String> {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).filter(|x| !x.is_empty());
    let text = s("text").ok_or("missing \"text\"")?.to_string();
    let lang = s("lang")
        .map(str::to_string)
        .or_else(|| default_lang.map(str::to_string))
        .or_else(|| crate::guess_language(&text).map(str::to_string))
        .unwrap_or_default();
    let id = match v.get("id") {
        Some(serde_json::Value::String(x)) if !x.is_empty() => x.clone(),
        Some(serde_json::Value::Number(x)) => format!("{source}-{x}"),
        _ => fallback_id,
    };
    let mut e = example(id, text, &lang, source, Split::Train);
    let class = match v.get("hate").or_else(|| v.get("label")) {
        Some(x) => hate_label(x)?,
        None => None,
    };
    if let Some(c) = class {
        e.hate = Some(c);
        e.targets = targets_of(c);
    }
    for (head, key) in BINARY_LABELS {
        match v.get(key) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Bool(b)) => {
                e.targets.insert(head, f32::from(u8::from(*b)));
            }
            Some(serde_json::Value::Number(n)) if matches!(n.as_u64(), Some(0 | 1)) => {
                e.targets.insert(head, n.as_u64().unwrap_or(0) as f32);
            }
            Some(other) => return Err(format!("{key:?}: {other} is not 0, 1, true or false")),
        }
    }
    if e.targets.is_empty() {
        return Err("no label (\"hate\"/\"label\", or relevant, collective, threat, victim, recognition, solutions)".into());
    }
    e.context = s("context").map(str::to_string);
    e.kind = s("kind").map(str::to_string);
    e.hard_case = s("hard_case").map(str::to_string);
    e.functionality = s("functionality").map(str::to_string);
    e.target = s("target").map(str::to_string);
    Ok(e)
}

fn read_jsonl(
    path: &Path,
    source: &str,
    default_lang: Option<&str>,
) -> Result<Vec<(TrainExample, Option<String>)>, ClassifyError> {
    let text = std::fs::read_to_string(path).map_err(|e| err(path, e))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| err(path, format!("line {}: {e}", n + 1)))?;
        let fallback = format!(
            "{}:{}",
            path.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default(),
            n + 1
        );
        let e = parse_labelled(&v, source, fallback, default_lang)
            .map_err(|reason| err(path, format!("line {}: {reason}", n + 1)))?;
        let split = v.get("split").and_then(|x| x.as_str()).map(str::to_string);
        out.push((e, split));
    }
    Ok(out)
}

/// The sets written for the project (`models/data/{framing, comments,
/// news, toxicity, functional}`), with their weights. Their `eval` rows are
/// the test set; 20 % of the rest (by id) is validation.
pub fn load_written(dir: &Path) -> Result<Vec<TrainExample>, ClassifyError> {
    let mut out = Vec::new();
    for (set, weight) in WRITTEN_WEIGHTS {
        let sub = dir.join(set);
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&sub) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect(),
            Err(_) => continue,
        };
        files.sort();
        for file in files {
            for (mut e, split) in read_jsonl(&file, set, None)? {
                e.split = match split.as_deref() {
                    Some("eval") | Some("test") => Split::Test,
                    _ => match hash_split(&e.id, 0.2, 0.0) {
                        Split::Validation => Split::Validation,
                        _ => Split::Train,
                    },
                };
                e.weight = weight;
                out.push(e);
            }
        }
    }
    if out.is_empty() {
        return Err(err(
            dir,
            "no labelled *.jsonl under framing/, comments/, news/, toxicity/ or functional/",
        ));
    }
    Ok(out)
}

/// An organisation's own labelled data: every `*.jsonl` in `dir` (or the
/// file itself), one example a line: `{"text", "lang"?, "label"|"hate",
/// "context"?, "split"?, "relevant"?, "collective"?, ...}`. Rows with a
/// `split` of `test`/`eval` are held out, `validation` calibrates, `train`
/// trains; rows without one are split 70/15/15 by id. Language: the row's,
/// else `default_lang`, else guessed from the text.
pub fn load_user(
    path: &Path,
    default_lang: Option<&str>,
) -> Result<Vec<TrainExample>, ClassifyError> {
    let mut files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|e| err(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    files.sort();
    if files.is_empty() {
        return Err(err(path, "no *.jsonl files"));
    }
    let mut out = Vec::new();
    for file in files {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let source = format!("user:{stem}");
        for (mut e, split) in read_jsonl(&file, &source, default_lang)? {
            e.id = format!("{source}:{}", e.id);
            e.split = match split.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("test" | "eval" | "heldout" | "held_out") => Split::Test,
                Some("validation" | "val" | "dev") => Split::Validation,
                Some("train") => Split::Train,
                _ => hash_split(&e.id, 0.15, 0.15),
            };
            e.weight = USER_WEIGHT;
            out.push(e);
        }
    }
    Ok(out)
}

/// Cuts `text` into windows of whole sentences of at most `max` bytes
/// (a longer sentence is its own window).
pub fn text_windows(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for part in text.split(['\n']) {
        let mut rest = part.trim();
        while !rest.is_empty() {
            // Next sentence: up to and including the next . ! ? followed by
            // a space, or the rest.
            let end = rest
                .char_indices()
                .find(|&(i, c)| {
                    matches!(c, '.' | '!' | '?')
                        && rest[i + c.len_utf8()..].starts_with(char::is_whitespace)
                })
                .map_or(rest.len(), |(i, c)| i + c.len_utf8());
            let sentence = rest[..end].trim();
            rest = rest[end..].trim_start();
            if sentence.is_empty() {
                continue;
            }
            if !cur.is_empty() && cur.len() + 1 + sentence.len() > max {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(sentence);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The WCXB general web pages (title and main text of the ground truth),
/// each cut into windows of about a hundred tokens, as negatives for
/// relevance, collective labelling, frames and abuse. A page's windows
/// share its split (40 % test, 20 % validation, by page id); a training
/// page contributes at most `train_windows` windows.
pub fn load_wcxb(
    dir: &Path,
    train_windows: usize,
    seed: u64,
) -> Result<Vec<TrainExample>, ClassifyError> {
    let meta_path = dir.join("metadata.json");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).map_err(|e| err(&meta_path, e))?)
            .map_err(|e| err(&meta_path, e))?;
    let files = meta
        .get("files")
        .and_then(|f| f.as_object())
        .ok_or_else(|| err(&meta_path, "no \"files\" object"))?;
    let mut keys: Vec<&String> = files.keys().collect();
    keys.sort();
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x3c3b);
    let mut out = Vec::new();
    for k in keys {
        let gt_path = dir.join("ground-truth").join(format!("{k}.json"));
        let Ok(bytes) = std::fs::read(&gt_path) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| err(&gt_path, e))?;
        let g = &v["ground_truth"];
        let text = format!(
            "{}\n\n{}",
            g["title"].as_str().unwrap_or_default(),
            g["main_content"].as_str().unwrap_or_default()
        );
        let id = format!("wcxb-{k}");
        let split = hash_split(&id, 0.2, 0.4);
        let mut windows = text_windows(&text, 450);
        if split == Split::Train {
            rng.shuffle(&mut windows);
            windows.truncate(train_windows);
        } else {
            windows.truncate(8);
        }
        for (i, w) in windows.into_iter().enumerate() {
            let mut e = example(format!("{id}#{i}"), w, "en", "wcxb", split);
            e.kind = Some("article".into());
            e.hate = Some(HateClass::None);
            e.targets = targets_of(HateClass::None);
            for head in [
                "relevance",
                "collective",
                "threat",
                "victim",
                "recognition",
                "solutions",
            ] {
                e.targets.insert(head, 0.0);
            }
            out.push(e);
        }
    }
    Ok(out)
}

/// Keeps at most the source's cap of its training examples (a seeded
/// random subset); validation and test are never capped.
pub fn apply_caps(examples: Vec<TrainExample>, seed: u64) -> Vec<TrainExample> {
    let caps: BTreeMap<&str, usize> = CAPS.into_iter().collect();
    let mut by_source: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        if e.split == Split::Train && caps.contains_key(e.source.as_str()) {
            by_source.entry(e.source.clone()).or_default().push(i);
        }
    }
    let mut drop = vec![false; examples.len()];
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xca95);
    for (source, mut idx) in by_source {
        let cap = caps[source.as_str()];
        if idx.len() > cap {
            rng.shuffle(&mut idx);
            for &i in &idx[cap..] {
                drop[i] = true;
            }
        }
    }
    examples
        .into_iter()
        .zip(drop)
        .filter_map(|(e, d)| (!d).then_some(e))
        .collect()
}

/// Where [`load_all`] looks.
#[derive(Debug, Clone, Default)]
pub struct DataSources {
    /// The public data root (`../shared/data`): `hate/`, `hate/ban-pl/`,
    /// `extraction/wcxb-dev/`. Skipped when absent (an organisation's
    /// machine): training then warm-starts from the shipped model.
    pub public: Option<PathBuf>,
    /// The sets written for the project (`models/data`).
    pub written: PathBuf,
    /// Organisations' own labelled files or directories.
    pub user: Vec<PathBuf>,
    /// Language of user rows without a `lang`.
    pub user_lang: Option<String>,
}

/// (what, where) for each source read, for the model card.
pub type Origins = Vec<(String, String)>;

/// Everything [`DataSources`] names, capped; prints nothing. Returns the
/// examples and, per source, where it came from (for the model card).
pub fn load_all(
    src: &DataSources,
    seed: u64,
) -> Result<(Vec<TrainExample>, Origins), ClassifyError> {
    let mut out = Vec::new();
    let mut origins = Vec::new();
    if let Some(public) = src.public.as_deref().filter(|p| p.is_dir()) {
        let hate = public.join("hate");
        out.extend(load_public_hate(&hate)?);
        origins.push(("public hate-speech sets".into(), hate.display().to_string()));
        let ban = hate.join("ban-pl").join("BAN-PL_2.zip");
        if ban.is_file() {
            out.extend(load_ban_pl(&ban)?);
            origins.push(("BAN-PL".into(), ban.display().to_string()));
        }
        let wcxb = public.join("extraction").join("wcxb-dev");
        if wcxb.is_dir() {
            out.extend(load_wcxb(&wcxb, 6, seed)?);
            origins.push(("WCXB web pages".into(), wcxb.display().to_string()));
        }
    }
    out.extend(load_written(&src.written)?);
    origins.push((
        "written for mediawatch".into(),
        src.written.display().to_string(),
    ));
    for u in &src.user {
        out.extend(load_user(u, src.user_lang.as_deref())?);
        origins.push(("organisation's own".into(), u.display().to_string()));
    }
    Ok((apply_caps(out, seed), origins))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_split_matches_the_fine_tuning_script() {
        // Values computed with models/scripts/finetune.py's hsplit().
        assert_eq!(hash_split("davidson-0", 0.15, 0.15), Split::Train);
        assert_eq!(hash_split("davidson-1", 0.15, 0.15), Split::Test);
        assert_eq!(hash_split("banpl-2200", 0.15, 0.15), Split::Validation);
        assert_eq!(hash_split("hr-c-0001", 0.15, 0.15), Split::Test);
        let n = 10_000;
        let mut counts = BTreeMap::new();
        for i in 0..n {
            *counts
                .entry(hash_split(&format!("x{i}"), 0.15, 0.15))
                .or_insert(0) += 1;
        }
        let share = |s| f64::from(counts[&s]) / f64::from(n);
        assert!((share(Split::Test) - 0.15).abs() < 0.02);
        assert!((share(Split::Validation) - 0.15).abs() < 0.02);
    }

    #[test]
    fn windows_keep_whole_sentences() {
        let t = "One short sentence. Another one here! A third? Last.\nNew paragraph line.";
        let w = text_windows(t, 30);
        assert_eq!(w[0], "One short sentence.");
        assert!(w.iter().all(|x| x.len() <= 30 || !x.contains(". ")));
        assert_eq!(
            w.join(" ").split_whitespace().count(),
            t.split_whitespace().count()
        );
        assert_eq!(text_windows("", 30), Vec::<String>::new());
    }

    #[test]
    fn user_files_accept_common_label_forms_and_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ours.jsonl");
        std::fs::write(
            &f,
            concat!(
                r#"{"id":"1","text":"Marš nazad","label":"OFF","context":"Migranti u Bihaću"}"#,
                "\n",
                r#"{"text":"Lijep dan","label":"ACC","lang":"hr","split":"test"}"#,
                "\n",
                r#"{"text":"Gamad","hate":2}"#,
                "\n",
            ),
        )
        .unwrap();
        let ex = load_user(dir.path(), Some("hr")).unwrap();
        assert_eq!(ex.len(), 3);
        assert_eq!(ex[0].hate, Some(HateClass::Offensive));
        assert_eq!(ex[0].context.as_deref(), Some("Migranti u Bihaću"));
        assert_eq!(ex[0].lang, "hr");
        assert_eq!(ex[0].source, "user:ours");
        assert_eq!(ex[1].hate, Some(HateClass::None));
        assert_eq!(ex[1].split, Split::Test);
        assert_eq!(ex[2].hate, Some(HateClass::Hate));
        assert_eq!(ex[0].weight, USER_WEIGHT);
        std::fs::write(&f, "{\"text\":\"x\",\"label\":\"rude\"}\n").unwrap();
        let e = load_user(dir.path(), None).unwrap_err().to_string();
        assert!(
            e.contains("ours.jsonl") && e.contains("line 1") && e.contains("rude"),
            "{e}"
        );
        std::fs::write(&f, "{\"label\":\"hate\"}\n").unwrap();
        let e = load_user(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("missing \"text\""), "{e}");
    }

    #[test]
    fn written_sets_load_with_their_eval_split_as_test() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/data");
        let ex = load_written(&dir).unwrap();
        assert!(ex.len() > 10_000, "{}", ex.len());
        for set in [
            "framing",
            "comments",
            "news",
            "toxicity",
            "functional",
            "identity",
        ] {
            assert!(
                ex.iter().any(|e| e.source == set && e.split == Split::Test),
                "{set}"
            );
            assert!(
                ex.iter()
                    .any(|e| e.source == set && e.split == Split::Validation),
                "{set}"
            );
        }
        // Comments carry their article as context.
        assert!(ex
            .iter()
            .filter(|e| e.source == "comments" && e.kind.as_deref() == Some("comment"))
            .all(|e| e.context.is_some()));
        let langs: std::collections::BTreeSet<&str> = ex
            .iter()
            .filter(|e| e.source == "comments")
            .map(|e| e.lang.as_str())
            .collect();
        assert_eq!(langs.len(), 16, "{langs:?}");
    }
}
