//! Quality floor on WCXB-dev (see shared/data/extraction/README.md for the metric).
//!
//! Bag-of-words precision/recall/F1 per page against `ground_truth.main_content`, averaged per
//! page type. The floors sit slightly below the measured values (report: briefs/extract-report.md)
//! so that a change that makes extraction worse fails here.

use mediawatch_extract::{extract, ExtractOptions};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

/// Measured 2026-11-22: article F1 0.9473, forum F1 0.8094.
const ARTICLE_F1_FLOOR: f64 = 0.945;
const FORUM_F1_FLOOR: f64 = 0.805;

fn tokens(s: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for t in s
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
    {
        *m.entry(t.to_string()).or_insert(0) += 1;
    }
    m
}

fn prf(pred: &str, gold: &str) -> (f64, f64, f64) {
    let p = tokens(pred);
    let g = tokens(gold);
    let np: usize = p.values().sum();
    let ng: usize = g.values().sum();
    if np == 0 && ng == 0 {
        return (1.0, 1.0, 1.0);
    }
    if np == 0 || ng == 0 {
        return (0.0, 0.0, 0.0);
    }
    let common: usize = p
        .iter()
        .map(|(k, v)| (*v).min(g.get(k).copied().unwrap_or(0)))
        .sum();
    let pr = common as f64 / np as f64;
    let rc = common as f64 / ng as f64;
    let f = if pr + rc == 0.0 {
        0.0
    } else {
        2.0 * pr * rc / (pr + rc)
    };
    (pr, rc, f)
}

#[test]
fn wcxb_dev_quality_floor() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/extraction/wcxb-dev");
    if !dir.join("metadata.json").exists() {
        println!(
            "NOTICE: {} missing; skipping the WCXB quality test",
            dir.display()
        );
        return;
    }
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("metadata.json")).expect("metadata"),
    )
    .expect("metadata json");
    let files = meta["files"].as_object().expect("files");
    let opts = ExtractOptions::default();
    let mut agg: BTreeMap<String, (f64, f64, f64, usize)> = BTreeMap::new();
    for (id, info) in files {
        let ty = info["page_type"].as_str().unwrap_or("?").to_string();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(
            std::fs::File::open(dir.join(format!("html/{id}.html.gz"))).expect("html"),
        )
        .read_to_end(&mut raw)
        .expect("gunzip");
        let gt: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("ground-truth/{id}.json"))).expect("gt"),
        )
        .expect("gt json");
        let gold = gt["ground_truth"]["main_content"].as_str().unwrap_or("");
        let url = gt["url"].as_str();
        let art = extract(&String::from_utf8_lossy(&raw), url, &opts).expect("extract");
        let (p, r, f) = prf(&art.text, gold);
        let e = agg.entry(ty).or_default();
        e.0 += p;
        e.1 += r;
        e.2 += f;
        e.3 += 1;
    }
    let mut f1 = BTreeMap::new();
    for (ty, (p, r, f, n)) in &agg {
        let n = *n as f64;
        println!(
            "WCXB-dev {ty:8} pages={n:4} P={:.4} R={:.4} F1={:.4}",
            p / n,
            r / n,
            f / n
        );
        f1.insert(ty.clone(), f / n);
    }
    let article = f1.get("article").copied().unwrap_or(0.0);
    let forum = f1.get("forum").copied().unwrap_or(0.0);
    assert!(
        article >= ARTICLE_F1_FLOOR,
        "article F1 {article:.4} < floor {ARTICLE_F1_FLOOR}"
    );
    assert!(
        forum >= FORUM_F1_FLOOR,
        "forum F1 {forum:.4} < floor {FORUM_F1_FLOOR}"
    );
}
