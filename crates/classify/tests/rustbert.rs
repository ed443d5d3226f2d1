//! The rust-bert backend against PyTorch: tiny random-weight models built by
//! `models/scripts/make_tiny_hf_model.py` (with transformers, no hub access)
//! must give the logits PyTorch computed, one text at a time and as a padded
//! batch, and the classifier must turn them into complete labels.
//!
//! Needs the Python environment of `.ci/torch.sh`: `MEDIAWATCH_TORCH_PYTHON`
//! names its interpreter. The models are generated once into the target
//! directory and rebuilt when the script changes.
#![cfg(feature = "rust-bert")]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use mediawatch_classify::rustbert::softmax;
use mediawatch_classify::{
    Classifier, ClassifyInput, HateClass, HfSequenceClassifier, LanguageSupport, LexiconClassifier,
    RustBertClassifier, RustBertOptions, TorchDevice,
};

const TOLERANCE: f32 = 1e-4;

static MODELS: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn build_models() -> Result<PathBuf, String> {
    let python = std::env::var_os("MEDIAWATCH_TORCH_PYTHON").ok_or(
        "MEDIAWATCH_TORCH_PYTHON is not set: run `eval \"$(.ci/torch.sh)\"` first \
         (it installs torch and transformers and prints the variables)",
    )?;
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/scripts/make_tiny_hf_model.py");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tiny-hf-models");
    let done = out.join("DONE");
    let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((mtime(&done), mtime(&script)), (Some(d), Some(s)) if d >= s);
    if fresh {
        return Ok(out);
    }
    let _ = fs::remove_dir_all(&out);
    let output = Command::new(&python)
        .arg(&script)
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run {python:?} {}: {e}", script.display()))?;
    if !output.status.success() || !done.is_file() {
        return Err(format!(
            "{} failed ({}):\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

fn model_dir(name: &str) -> PathBuf {
    match MODELS.get_or_init(build_models) {
        Ok(dir) => dir.join(name),
        Err(e) => panic!("{e}"),
    }
}

/// What PyTorch computed for the model (see the script).
struct Reference {
    texts: Vec<String>,
    input_ids: Vec<Vec<i64>>,
    logits: Vec<Vec<f32>>,
}

fn reference(dir: &Path) -> Reference {
    let text = fs::read_to_string(dir.join("reference.json")).expect("reference.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("reference.json is JSON");
    let texts = v["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| t.as_str().expect("text").to_string())
        .collect();
    let rows = |key: &str| -> Vec<Vec<f64>> {
        v[key]
            .as_array()
            .expect(key)
            .iter()
            .map(|r| {
                r.as_array()
                    .expect("row")
                    .iter()
                    .map(|x| x.as_f64().expect("number"))
                    .collect()
            })
            .collect()
    };
    Reference {
        texts,
        input_ids: rows("input_ids")
            .into_iter()
            .map(|r| r.into_iter().map(|x| x as i64).collect())
            .collect(),
        logits: rows("logits")
            .into_iter()
            .map(|r| r.into_iter().map(|x| x as f32).collect())
            .collect(),
    }
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "row count");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| {
            assert_eq!(x.len(), y.len(), "column count");
            x.iter().zip(y).map(|(p, q)| (p - q).abs())
        })
        .fold(0.0, f32::max)
}

/// Tokens, then logits one by one and as one padded batch, against PyTorch.
fn check_parity(name: &str) {
    let dir = model_dir(name);
    let r = reference(&dir);
    // The comparison only means something if the logits depend on the text.
    let spread = r
        .logits
        .iter()
        .flat_map(|row| row.iter().zip(&r.logits[0]).map(|(a, b)| (a - b).abs()))
        .fold(0.0f32, f32::max);
    assert!(
        spread > 0.05,
        "{name}: reference logits barely vary ({spread})"
    );

    let model = HfSequenceClassifier::load(&dir, TorchDevice::Auto, None)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
    assert_eq!(model.token_ids(&texts), r.input_ids, "{name}: token ids");

    let single: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| model.logits(&[t]).expect("logits").remove(0))
        .collect();
    let d = max_diff(&single, &r.logits);
    assert!(d < TOLERANCE, "{name}: one by one, max |diff| {d}");

    // Texts of very different lengths in one batch: padding must be masked.
    let batched = model.logits(&texts).expect("batched logits");
    let d = max_diff(&batched, &r.logits);
    assert!(d < TOLERANCE, "{name}: batched, max |diff| {d}");
}

#[test]
fn bert_matches_pytorch() {
    check_parity("tiny-bert-hate");
}

#[test]
fn xlm_roberta_matches_pytorch() {
    check_parity("tiny-xlmr-hate");
}

#[test]
fn distilbert_matches_pytorch() {
    check_parity("tiny-distilbert");
}

#[test]
fn distilbert_from_pytorch_model_bin_matches_pytorch() {
    check_parity("tiny-distilbert-bin");
}

#[test]
fn electra_matches_pytorch() {
    check_parity("tiny-electra");
}

#[test]
fn device_follows_libtorch() {
    let model = HfSequenceClassifier::load(&model_dir("tiny-bert-hate"), TorchDevice::Auto, None)
        .expect("load");
    assert_eq!(model.on_cuda(), tch::Cuda::is_available());
    let cpu = HfSequenceClassifier::load(&model_dir("tiny-bert-hate"), TorchDevice::Cpu, None)
        .expect("load on cpu");
    assert!(!cpu.on_cuda());
    if model.on_cuda() {
        let r = reference(&model_dir("tiny-bert-hate"));
        let texts: Vec<&str> = r.texts.iter().map(String::as_str).collect();
        let d = max_diff(&model.logits(&texts).unwrap(), &cpu.logits(&texts).unwrap());
        assert!(d < TOLERANCE, "cuda vs cpu: {d}");
    }
}

#[test]
fn classifier_fills_hate_from_model_and_the_rest_from_lexicon() {
    let dir = model_dir("tiny-bert-hate");
    let r = reference(&dir);
    // NOT / OFFENSIVE / HATE: P(hateful or offensive) = p1 + p2.
    let expected: Vec<(f32, f32, f32)> = r
        .logits
        .iter()
        .map(|l| {
            let p = softmax(l);
            (p[1] + p[2], p[2], p[1])
        })
        .collect();
    // A threshold in the middle of the scores, so both decisions occur.
    let mut scores: Vec<f32> = expected.iter().map(|e| e.0).collect();
    scores.sort_by(f32::total_cmp);
    let threshold = (scores[scores.len() / 2 - 1] + scores[scores.len() / 2]) / 2.0;
    let options = RustBertOptions {
        threshold,
        ..RustBertOptions::default()
    };
    let clf = RustBertClassifier::load(&dir, options).expect("load");
    assert_eq!(
        clf.label_classes(),
        vec![
            ("NOT", HateClass::None),
            ("OFFENSIVE", HateClass::Offensive),
            ("HATE", HateClass::Hate)
        ]
    );
    let version = clf.model_version().to_string();
    let hash = version
        .strip_prefix("rust-bert:tiny-bert-hate:")
        .unwrap_or_else(|| panic!("model_version {version}"));
    assert!(hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()));

    let lexicon = LexiconClassifier::new();
    let mut classes = Vec::new();
    for (text, (score, hate, offensive)) in r.texts.iter().zip(&expected) {
        let labels = clf.classify(text, Some("en")).expect("classify");
        let lex = lexicon.classify(text, Some("en")).expect("lexicon");
        assert!((labels.hate.score - score).abs() < TOLERANCE, "{text:?}");
        let class = if *score < threshold {
            HateClass::None
        } else if hate >= offensive {
            HateClass::Hate
        } else {
            HateClass::Offensive
        };
        assert_eq!(labels.hate.class, class, "{text:?}");
        classes.push(class);
        assert_eq!(labels.relevance, lex.relevance);
        assert_eq!(labels.collective_labelling, lex.collective_labelling);
        assert_eq!(labels.frame, lex.frame);
        assert_eq!(labels.solutions, lex.solutions);
        assert_eq!(labels.language_support, lex.language_support);
        assert_eq!(labels.model_version, version);
        if class == HateClass::None {
            assert!(labels.hate.evidence.is_empty() && labels.hate.target.is_none());
        } else {
            assert_eq!(labels.hate.evidence, lex.hate.evidence);
        }
        assert_eq!(
            clf.relevance(text, Some("en")).unwrap(),
            lex.relevance.score
        );
    }
    assert!(classes.contains(&HateClass::None));
    assert!(classes.iter().any(|c| *c != HateClass::None));
}

#[test]
fn batch_equals_one_by_one() {
    let clf = RustBertClassifier::load(
        model_dir("tiny-xlmr-hate"),
        RustBertOptions {
            batch_size: 3,
            ..RustBertOptions::default()
        },
    )
    .expect("load");
    let r = reference(&model_dir("tiny-xlmr-hate"));
    let inputs: Vec<ClassifyInput<'_>> = r
        .texts
        .iter()
        .map(|t| ClassifyInput {
            id: "x",
            text: t,
            lang: None,
            context: None,
        })
        .collect();
    let batch = clf.classify_batch(&inputs);
    assert_eq!(batch.len(), inputs.len());
    for (input, got) in inputs.iter().zip(batch) {
        let got = got.expect("batch result");
        let one = clf.classify(input.text, None).expect("single");
        assert!((got.hate.score - one.hate.score).abs() < TOLERANCE);
        assert_eq!(got.hate.class, one.hate.class);
        assert_eq!(got.relevance, one.relevance);
        // non-hate / hate: the score is P(hate).
        let l = clf.model().logits(&[input.text]).unwrap().remove(0);
        assert!((got.hate.score - softmax(&l)[1]).abs() < TOLERANCE);
    }
    assert!(clf.classify_batch(&[]).is_empty());
}

#[test]
fn trained_languages_mark_support() {
    let clf = RustBertClassifier::load(
        model_dir("tiny-xlmr-hate"),
        RustBertOptions {
            trained_languages: vec!["sr".into(), "hr".into()],
            ..RustBertOptions::default()
        },
    )
    .expect("load");
    let text = "Migranti su opasni, svi su isti.";
    let sr = clf.classify(text, Some("sr-Latn")).unwrap();
    assert_eq!(sr.language_support, LanguageSupport::Trained);
    let en = clf.classify("Migrants are dangerous.", Some("en")).unwrap();
    let lex = LexiconClassifier::new()
        .classify("Migrants are dangerous.", Some("en"))
        .unwrap();
    assert_eq!(en.language_support, lex.language_support);
    assert_ne!(en.language_support, LanguageSupport::Trained);
}

#[test]
fn odd_inputs_do_not_fail() {
    let clf = RustBertClassifier::load(model_dir("tiny-bert-hate"), RustBertOptions::default())
        .expect("load");
    let huge = "migranti ".repeat(20_000);
    let nul = "\0\u{feff}\u{202e}";
    for text in ["", "   ", huge.as_str(), nul, "🙂🙂🙂", "Мигранти"] {
        let l = clf.classify(text, None).expect("classify");
        assert!((0.0..=1.0).contains(&l.hate.score), "{}", l.hate.score);
    }
    // The model sees at most its maximum number of tokens.
    let ids = clf.model().token_ids(&[huge.as_str()]);
    assert_eq!(ids[0].len(), clf.model().max_tokens());
}

#[test]
fn explicit_label_map() {
    let dir = model_dir("tiny-electra");
    // OFF is a default name, ACC is not.
    let err = RustBertClassifier::load(&dir, RustBertOptions::default())
        .expect_err("unmapped labels")
        .to_string();
    assert!(
        err.contains("labels ACC have no class") && err.contains("config.json"),
        "{err}"
    );
    assert!(err.contains(&dir.display().to_string()), "{err}");

    let map = |pairs: &[(&str, HateClass)]| -> BTreeMap<String, HateClass> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    let clf = RustBertClassifier::load(
        &dir,
        RustBertOptions {
            label_map: map(&[("acc", HateClass::None), ("OFF", HateClass::Offensive)]),
            ..RustBertOptions::default()
        },
    )
    .expect("mapped");
    assert_eq!(
        clf.label_classes(),
        vec![("ACC", HateClass::None), ("OFF", HateClass::Offensive)]
    );
    let r = reference(&dir);
    for (text, logits) in r.texts.iter().zip(&r.logits) {
        let l = clf.classify(text, None).unwrap();
        let p_off = softmax(logits)[1];
        assert!((l.hate.score - p_off).abs() < TOLERANCE);
        let class = if p_off >= 0.5 {
            HateClass::Offensive
        } else {
            HateClass::None
        };
        assert_eq!(l.hate.class, class);
    }

    // A map naming a label the model does not have is a mismatch.
    let err = RustBertClassifier::load(
        &dir,
        RustBertOptions {
            label_map: map(&[
                ("ACC", HateClass::None),
                ("OFF", HateClass::Offensive),
                ("HATE", HateClass::Hate),
            ]),
            ..RustBertOptions::default()
        },
    )
    .expect_err("mismatch")
    .to_string();
    assert!(
        err.contains("label map names hate") && err.contains("config.json"),
        "{err}"
    );

    // Every label mapped to none leaves nothing to detect.
    let err = RustBertClassifier::load(
        &dir,
        RustBertOptions {
            label_map: map(&[("ACC", HateClass::None), ("OFF", HateClass::None)]),
            ..RustBertOptions::default()
        },
    )
    .expect_err("all none")
    .to_string();
    assert!(err.contains("hate/offensive"), "{err}");
}

#[test]
fn default_label_names() {
    let clf = RustBertClassifier::load(model_dir("tiny-distilbert"), RustBertOptions::default())
        .expect("load");
    assert_eq!(
        clf.label_classes(),
        vec![
            ("normal", HateClass::None),
            ("abusive", HateClass::Offensive)
        ]
    );
    use mediawatch_classify::rustbert::default_hate_class;
    assert_eq!(default_hate_class("LABEL_0", 2), Some(HateClass::None));
    assert_eq!(default_hate_class("LABEL_1", 2), Some(HateClass::Hate));
    assert_eq!(default_hate_class("LABEL_1", 3), None);
    assert_eq!(default_hate_class("Non-Hate", 2), Some(HateClass::None));
    assert_eq!(default_hate_class("HATE speech", 2), Some(HateClass::Hate));
}

#[test]
fn version_hashes_config_and_weights() {
    let a =
        HfSequenceClassifier::load(&model_dir("tiny-distilbert"), TorchDevice::Cpu, None).unwrap();
    let b =
        HfSequenceClassifier::load(&model_dir("tiny-distilbert"), TorchDevice::Cpu, None).unwrap();
    let c = HfSequenceClassifier::load(&model_dir("tiny-distilbert-bin"), TorchDevice::Cpu, None)
        .unwrap();
    assert_eq!(a.version(), b.version());
    let hash = |v: &str| v.rsplit(':').next().unwrap().to_string();
    assert_ne!(hash(a.version()), hash(c.version()));
}

/// A copy of a generated model to break in one way.
fn broken_copy(name: &str, case: &str) -> PathBuf {
    let src = model_dir(name);
    let dst = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("broken-hf-models")
        .join(case);
    let _ = fs::remove_dir_all(&dst);
    fs::create_dir_all(&dst).unwrap();
    for entry in fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
    dst
}

fn load_err(dir: &Path) -> String {
    RustBertClassifier::load(dir, RustBertOptions::default())
        .expect_err("should not load")
        .to_string()
}

#[test]
fn errors_name_the_directory_and_the_file() {
    let check = |dir: &Path, needles: &[&str]| {
        let err = load_err(dir);
        assert!(err.contains(&dir.display().to_string()), "{err}");
        for n in needles {
            assert!(err.contains(n), "{err} lacks {n}");
        }
    };

    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-such-model");
    check(&missing, &["does not exist"]);

    let d = broken_copy("tiny-bert-hate", "no-vocab");
    fs::remove_file(d.join("vocab.txt")).unwrap();
    check(&d, &["vocab.txt", "missing"]);

    let d = broken_copy("tiny-xlmr-hate", "no-spm");
    fs::remove_file(d.join("sentencepiece.bpe.model")).unwrap();
    check(&d, &["sentencepiece.bpe.model"]);

    let d = broken_copy("tiny-bert-hate", "no-weights");
    fs::remove_file(d.join("model.safetensors")).unwrap();
    check(&d, &["model.safetensors", "pytorch_model.bin"]);

    let d = broken_copy("tiny-bert-hate", "no-config");
    fs::remove_file(d.join("config.json")).unwrap();
    check(&d, &["config.json"]);

    let d = broken_copy("tiny-bert-hate", "bad-json");
    fs::write(d.join("config.json"), "{ not json").unwrap();
    check(&d, &["config.json", "JSON"]);

    let d = broken_copy("tiny-bert-hate", "gpt2");
    let cfg = fs::read_to_string(d.join("config.json")).unwrap();
    fs::write(
        d.join("config.json"),
        cfg.replace("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\""),
    )
    .unwrap();
    check(&d, &["config.json", "gpt2", "not supported"]);

    // A config rust-bert cannot read (it would panic on it).
    let d = broken_copy("tiny-bert-hate", "bad-config-field");
    let cfg = fs::read_to_string(d.join("config.json")).unwrap();
    fs::write(
        d.join("config.json"),
        cfg.replace("\"hidden_size\": 32", "\"hidden_size\": \"big\""),
    )
    .unwrap();
    check(&d, &["config.json", "rust-bert"]);

    let d = broken_copy("tiny-bert-hate", "no-id2label");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    cfg.as_object_mut().unwrap().remove("id2label");
    cfg.as_object_mut().unwrap().remove("label2id");
    fs::write(d.join("config.json"), cfg.to_string()).unwrap();
    check(&d, &["config.json", "id2label"]);

    // Four labels in the config, a head with three outputs.
    let d = broken_copy("tiny-bert-hate", "label-count");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    cfg["id2label"]["3"] = "NORMAL".into();
    cfg["label2id"]["NORMAL"] = 3.into();
    fs::write(d.join("config.json"), cfg.to_string()).unwrap();
    check(&d, &["model.safetensors"]);

    // Truncated weights: libtorch fails, the loader reports it.
    let d = broken_copy("tiny-bert-hate", "truncated");
    let w = fs::read(d.join("model.safetensors")).unwrap();
    fs::write(d.join("model.safetensors"), &w[..w.len() / 2]).unwrap();
    check(&d, &["model.safetensors"]);

    // Weights of another architecture.
    let d = broken_copy("tiny-bert-hate", "wrong-weights");
    fs::copy(
        model_dir("tiny-electra").join("model.safetensors"),
        d.join("model.safetensors"),
    )
    .unwrap();
    check(&d, &["model.safetensors"]);

    // Asking for a GPU that is not there.
    let err = HfSequenceClassifier::load(&model_dir("tiny-bert-hate"), TorchDevice::Cuda(64), None)
        .expect_err("no 65th GPU")
        .to_string();
    assert!(err.contains("CUDA device 64"), "{err}");
}
