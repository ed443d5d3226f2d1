//! Command-line contracts: config errors, classify, extract, parse-feed.

use crate::util::*;

#[test]
fn invalid_config_exits_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(
        &cfg,
        r#"version = 1
[[sources]]
id = "Bad Id"
kind = "feed"
url = "ftp://example.org/rss"
name = "X"
country = "Serbia"
languages = ["sr"]
"#,
    )
    .unwrap();
    let data = tmp.path().join("data");
    let out = mw(Some(&cfg), &data, &["ingest", "--once"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("sources[0] (id \"Bad Id\").id"), "{err}");
    assert!(err.contains(".url: scheme \"ftp\""), "{err}");
    assert!(err.contains(".country: \"Serbia\""), "{err}");
    // Nothing was created: the config was rejected before anything started.
    assert!(!data.exists());

    // Unknown keys are rejected with their name and line.
    std::fs::write(
        &cfg,
        "version = 1\n[fetch]\nallow_privat_addresses = true\n",
    )
    .unwrap();
    let out = mw(Some(&cfg), &data, &["run"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("allow_privat_addresses") && err.contains("line 3"),
        "{err}"
    );

    // A missing file names the path.
    let out = mw(
        Some(&tmp.path().join("nope.toml")),
        &data,
        &["sources", "list"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("nope.toml"));
}

#[test]
fn shipped_default_config_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    let list = json(&mw(Some(&cfg), tmp.path(), &["sources", "list", "--json"]));
    let sources = list.as_array().unwrap();
    assert!(sources.len() >= 30, "only {} sources", sources.len());
    let countries: std::collections::BTreeSet<&str> = sources
        .iter()
        .map(|s| s["source"]["country"].as_str().unwrap())
        .collect();
    for c in [
        "RS", "BA", "ME", "MK", "AL", "XK", "SI", "HR", "PL", "HU", "CZ", "SK", "AT",
    ] {
        assert!(countries.contains(c), "no source for {c}");
    }
}

/// The container cluster's config (config/cluster/, not runnable here)
/// at least parses and validates; `node` without a `[cluster]` section, or
/// without the PostgreSQL state, says what is missing.
#[test]
fn shipped_cluster_config_is_valid_and_node_names_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cluster/cluster.toml");
    ok(&mw(Some(&cfg), tmp.path(), &["config", "check"]));
    let plain = tmp.path().join("plain.toml");
    std::fs::write(&plain, "version = 2\n").unwrap();
    let out = mw(
        Some(&plain),
        tmp.path(),
        &["node", "--name", "w", "--role", "worker"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no [cluster] section"),
        "{}",
        stderr(&out)
    );
    let sqlite = tmp.path().join("sqlite.toml");
    std::fs::write(
        &sqlite,
        "version = 2\n[cluster]\nnats = [\"nats://127.0.0.1:1\"]\n",
    )
    .unwrap();
    let out = mw(
        Some(&sqlite),
        tmp.path(),
        &["node", "--name", "w", "--role", "worker"],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("backend = \"postgres\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn classify_json_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"a","text":"A wave of migrants is flooding Europe. They are all criminals.","lang":"en"}"#, "\n",
            r#"{"id":"b","text":"The heat wave will last until Sunday, meteorologists say."}"#, "\n",
            r#"{"id":7,"text":"Сви мигранти су опасни, рекао је одборник.","lang":"sr"}"#, "\n",
        ),
    )
    .unwrap();
    let out = ok(&mw(
        None,
        tmp.path(),
        &["classify", "--input", input.to_str().unwrap(), "--json"],
    ));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let texts = [
        "A wave of migrants is flooding Europe. They are all criminals.",
        "The heat wave will last until Sunday, meteorologists say.",
        "Сви мигранти су опасни, рекао је одборник.",
    ];
    for (v, text) in lines.iter().zip(texts) {
        assert!(v["model_version"].is_string());
        let l = &v["labels"];
        for path in [
            &l["relevance"]["score"],
            &l["hate"]["score"],
            &l["collective_labelling"]["score"],
            &l["frame"]["threat"],
            &l["frame"]["victim"],
            &l["frame"]["recognition"],
            &l["solutions"]["score"],
        ] {
            let x = path
                .as_f64()
                .unwrap_or_else(|| panic!("missing score in {v:#}"));
            assert!((0.0..=1.0).contains(&x));
        }
        assert!(["hate", "offensive", "none"].contains(&l["hate"]["class"].as_str().unwrap()));
        for s in l["collective_labelling"]["spans"].as_array().unwrap() {
            let (a, b) = (
                s["start"].as_u64().unwrap() as usize,
                s["end"].as_u64().unwrap() as usize,
            );
            assert!(
                text.get(a..b).is_some(),
                "span {a}..{b} is not a char range of {text:?}"
            );
            assert!(s["cue"].is_string());
        }
    }
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[2]["id"], "7");
    let score = |i: usize, k: &str| lines[i]["labels"][k]["score"].as_f64().unwrap();
    assert!(score(0, "relevance") >= 0.5, "{:#}", lines[0]);
    assert!(score(0, "collective_labelling") >= 0.5, "{:#}", lines[0]);
    assert!(score(1, "relevance") < 0.5, "{:#}", lines[1]);
    assert!(
        score(1, "collective_labelling") < 0.5,
        "weather wave flagged: {:#}",
        lines[1]
    );
    assert!(score(2, "collective_labelling") >= 0.5, "{:#}", lines[2]);

    // A bad line names the file and line number.
    std::fs::write(&input, "{\"id\":1,\"text\":\"ok\"}\nnot json\n").unwrap();
    let out = mw(
        None,
        tmp.path(),
        &["classify", "--input", input.to_str().unwrap(), "--json"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("in.jsonl:2"), "{}", stderr(&out));
}

#[test]
fn extract_and_parse_feed_contracts() {
    let tmp = tempfile::tempdir().unwrap();
    let page = fixtures().join("site/articles/language-cafe.html");
    let v = json(&mw(
        None,
        tmp.path(),
        &["extract", page.to_str().unwrap(), "--json"],
    ));
    assert_eq!(
        v["title"],
        "Volunteers open a language café for refugees in Subotica"
    );
    assert!(v["text"].as_str().unwrap().contains("Farid Rahimi"));
    assert!(!v["text"].as_str().unwrap().contains("cookies"));
    assert!(v["published"].as_str().unwrap().starts_with("2026-10-06"));
    for k in ["byline", "lang"] {
        assert!(v.get(k).is_some(), "{v:#}");
    }

    let dir = fixtures().join("site/articles");
    let out = ok(&mw(
        None,
        tmp.path(),
        &["extract", "--input-dir", dir.to_str().unwrap(), "--json"],
    ));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().any(|l| l["file"] == "migranti-subotica.html"));

    let feed = fixtures().join("site/feed.xml");
    let v = json(&mw(
        None,
        tmp.path(),
        &["parse-feed", feed.to_str().unwrap(), "--json"],
    ));
    assert_eq!(v["title"], "Glas Doline");
    let e = &v["entries"][1];
    assert_eq!(e["id"], "glas-doline-1002");
    assert_eq!(e["title"], "Мигранти у Суботици");
    assert!(e["published"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-04T17:05:00"));
    for k in ["link", "authors", "summary", "content"] {
        assert!(e.get(k).is_some(), "{e:#}");
    }

    let bad = tmp.path().join("bad.xml");
    std::fs::write(&bad, "<rss><channel><item><title>x</title></channel>").unwrap();
    let out = mw(None, tmp.path(), &["parse-feed", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.xml"), "{}", stderr(&out));
}

#[test]
fn demo_runs_the_whole_pipeline_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&mw(None, tmp.path(), &["demo", "--no-serve"]));
    // Every bundled article is ingested: 6 outlets, 33 articles, no errors.
    let total = out
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("no totals line:\n{out}"));
    let nums: Vec<u64> = total
        .split_whitespace()
        .skip(1)
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(nums, [33, 33, 0, 0], "{out}");
    assert!(out.contains("## Report"), "{out}");
    assert!(out.contains("## Audience map"), "{out}");
    // Cross-script search works on the demo corpus: the Latin and the
    // Cyrillic spelling find the same documents.
    let count = |q: &str| {
        out.lines()
            .find(|l| l.contains(&format!("search '{q}'")))
            .and_then(|l| l.split("-> ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no result line for {q}:\n{out}"))
    };
    assert!(count("migranti") > 0);
    assert_eq!(count("migranti"), count("мигранти"));
    // The demo's data dir is searchable afterwards with the normal commands.
    let res = json(&mw(
        None,
        &tmp.path().join("demo"),
        &["search", "invasion", "--json"],
    ));
    assert!(res["total"].as_u64().unwrap() >= 1, "{res:#}");
    // The solutions finder: migration stories with evidence of results,
    // best first.
    let sol = json(&mw(
        None,
        &tmp.path().join("demo"),
        &["solutions", "--json"],
    ));
    let hits = sol["hits"].as_array().unwrap();
    assert!(hits.len() >= 3, "{sol:#}");
    let scores: Vec<f64> = hits
        .iter()
        .map(|h| h["labels"]["solutions"]["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    for h in hits {
        assert!(h["labels"]["solutions"]["score"].as_f64().unwrap() >= 0.5);
        assert!(
            h["labels"]["relevance"]["score"].as_f64().unwrap() >= 0.5,
            "{h:#}"
        );
    }
    // The demo's solutions story in Cetinje is among them.
    assert!(hits
        .iter()
        .any(|h| h["title"].as_str().unwrap().contains("Cetinje")));

    // Emerging terms: November against October, ranked by G2.
    let t = json(&mw(
        None,
        &tmp.path().join("demo"),
        &[
            "terms",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--min-count",
            "2",
            "--json",
        ],
    ));
    let all = &t["all"];
    assert!(all["foreground_docs"].as_u64().unwrap() > 0, "{t:#}");
    let llr: Vec<f64> = all["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["llr"].as_f64().unwrap())
        .collect();
    assert!(
        !llr.is_empty() && llr.windows(2).all(|w| w[0] >= w[1]),
        "{llr:?}"
    );
    let out = mw(
        None,
        &tmp.path().join("demo"),
        &["terms", "--from", "2026-11-30", "--to", "2026-11-01"],
    );
    assert!(
        !out.status.success() && stderr(&out).contains("--to"),
        "{}",
        stderr(&out)
    );

    // The hostile demo page's payloads come back as inert text in JSON.
    let res = json(&mw(
        None,
        &tmp.path().join("demo"),
        &["search", "alert", "--json"],
    ));
    for h in res["hits"].as_array().unwrap() {
        assert!(!h["snippet"].as_str().unwrap().contains("<script"), "{h:#}");
    }

    // `reindex` rebuilds the index from its stored documents and keeps the
    // old one: the same searches give the same answers afterwards.
    let demo = tmp.path().join("demo");
    let before = json(&mw(None, &demo, &["search", "migranti", "--json"]));
    let everything = json(&mw(None, &demo, &["search", "", "--json"]));
    let out = ok(&mw(None, &demo, &["reindex"]));
    let rebuilt: u64 = out
        .strip_prefix("rebuilt ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {out}"));
    // Articles and their comments: every stored document.
    assert!(rebuilt >= 30, "{out}");
    assert_eq!(
        everything["total"].as_u64(),
        Some(rebuilt),
        "{everything:#}"
    );
    let after = json(&mw(None, &demo, &["search", "migranti", "--json"]));
    assert_eq!(after["total"], before["total"], "{after:#}");
    let ids = |r: &serde_json::Value| -> Vec<String> {
        r["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&after), ids(&before));
    let kept: Vec<String> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("index.v"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(!demo.join("index.rebuild").exists());
}

#[test]
fn eval_scores_the_classifier_on_the_project_gold_set() {
    let tmp = tempfile::tempdir().unwrap();
    let gold =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/data/framing/framing.jsonl");
    let v = json(&mw(
        None,
        tmp.path(),
        &[
            "eval",
            "--input",
            gold.to_str().unwrap(),
            "--split",
            "eval",
            "--json",
        ],
    ));
    // The held-out split is a third of the set, every line has all labels.
    let n = v["examples"].as_u64().unwrap();
    assert!((150..=250).contains(&n), "{n} eval examples");
    for label in [
        "relevant",
        "collective",
        "threat",
        "victim",
        "recognition",
        "solutions",
    ] {
        let b = &v["labels"][label];
        assert_eq!(b["n"].as_u64().unwrap(), n, "{label}");
        let f1 = b["f1"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&f1));
        assert_eq!(
            b["tp"].as_u64().unwrap() + b["fn_"].as_u64().unwrap(),
            b["support"].as_u64().unwrap()
        );
    }
    let h = &v["hate"];
    let confusion: u64 = h["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion, n);
    assert!(v["hate_by_lang"].as_object().unwrap().len() >= 10);

    // The text form and a bad line.
    let text = ok(&mw(
        None,
        tmp.path(),
        &["eval", "--input", gold.to_str().unwrap(), "--lang", "sr"],
    ));
    assert!(
        text.contains("macro-F1") && text.contains("confusion"),
        "{text}"
    );
    let bad = tmp.path().join("gold.jsonl");
    std::fs::write(
        &bad,
        "{\"text\":\"x\",\"relevant\":1}\n{\"text\":\"y\",\"threat\":\"yes\"}\n",
    )
    .unwrap();
    let out = mw(
        None,
        tmp.path(),
        &["eval", "--input", bad.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("gold.jsonl:2") && err.contains("threat"),
        "{err}"
    );
}

#[test]
fn sources_import_opml_prints_valid_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let opml = tmp.path().join("list.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
<outline type="rss" text="Radio Sarajevo" xmlUrl="https://radiosarajevo.ba/rss"/>
<outline type="rss" text="Klix" xmlUrl="https://www.klix.ba/rss"/></body></opml>"#,
    )
    .unwrap();
    let out = ok(&mw(
        None,
        tmp.path(),
        &[
            "sources",
            "import-opml",
            opml.to_str().unwrap(),
            "--country",
            "BA",
            "--lang",
            "bs",
        ],
    ));
    let config = format!("version = 1\n{out}");
    let cfg = tmp.path().join("imported.toml");
    std::fs::write(&cfg, &config).unwrap();
    let list = json(&mw(Some(&cfg), tmp.path(), &["sources", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 2, "{out}");
    // A bad country is refused before anything is printed.
    let out = mw(
        None,
        tmp.path(),
        &[
            "sources",
            "import-opml",
            opml.to_str().unwrap(),
            "--country",
            "Bosnia",
            "--lang",
            "bs",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("country"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

/// `kind = "rust-bert"` in a build without the feature is refused with the
/// way to get it, and a missing `[classifier.rust_bert]` names the key.
#[cfg(not(feature = "rust-bert"))]
#[test]
fn rust_bert_kind_without_the_feature_says_how_to_build_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("rb.toml");
    let input = tmp.path().join("in.jsonl");
    std::fs::write(&input, "{\"id\":\"a\",\"text\":\"Migrants arrived.\"}\n").unwrap();
    let run = |toml: &str| {
        std::fs::write(&cfg, toml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mediawatch"))
            .arg("--config")
            .arg(&cfg)
            .arg("--data-dir")
            .arg(tmp.path().join("data"))
            .args(["classify", "--input", input.to_str().unwrap(), "--json"])
            .env_remove("MEDIAWATCH_CLASSIFIER")
            .output()
            .unwrap();
        assert!(!out.status.success());
        stderr(&out)
    };
    let err = run(
        "version = 1\n[classifier]\nkind = \"rust-bert\"\n[classifier.rust_bert]\nmodel_dir = \"models/hf/x\"\n",
    );
    assert!(
        err.contains("without the rust-bert feature") && err.contains("--features rust-bert"),
        "{err}"
    );
    let err = run("version = 1\n[classifier]\nkind = \"rust-bert\"\n");
    assert!(
        err.contains("rb.toml") && err.contains("classifier.rust_bert"),
        "{err}"
    );
}

/// `config upgrade` prints a version 1 file as version 2, which loads to
/// the same sources; the TOML examples of README's configuration section
/// load as written.
#[test]
fn config_upgrade_and_the_readme_examples() {
    let tmp = tempfile::tempdir().unwrap();
    let v1 = tmp.path().join("v1.toml");
    std::fs::write(
        &v1,
        r#"version = 1
[[sources]]
id = "portal"
kind = "feed"
url = "https://portal.example/feed/"
fetch_articles = false
name = "Portal"
country = "RS"
languages = ["sr"]
[sources.selectors]
body = "div.text"

[[sources]]
id = "masto"
kind = "mastodon"
instance = "https://mastodon.social"
hashtag = "refugees"
name = "Mastodon"
country = "RS"
languages = ["sr", "en"]
scope = "social"
"#,
    )
    .unwrap();
    let out = ok(&mw(Some(&v1), tmp.path(), &["config", "check"]));
    assert!(out.contains("config version 1: 2 sources"), "{out}");
    let upgraded = ok(&mw(
        None,
        tmp.path(),
        &["config", "upgrade", v1.to_str().unwrap()],
    ));
    assert!(upgraded.contains("version = 2"), "{upgraded}");
    let v2 = tmp.path().join("v2.toml");
    std::fs::write(&v2, &upgraded).unwrap();
    let list =
        |cfg: &std::path::Path| json(&mw(Some(cfg), tmp.path(), &["sources", "list", "--json"]));
    assert_eq!(list(&v1), list(&v2));
    // Only the old file gets the note on how to upgrade.
    let note = |cfg: &std::path::Path| stderr(&mw(Some(cfg), tmp.path(), &["config", "check"]));
    assert!(note(&v1).contains("config upgrade"), "{}", note(&v1));
    assert!(!note(&v2).contains("config upgrade"), "{}", note(&v2));

    // README: the minimal config, then the source kinds' examples under it.
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = &readme[readme.find("## Configuration").unwrap()..];
    let blocks: Vec<&str> = section
        .split("```toml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    let minimal = blocks[0];
    assert!(minimal.starts_with("version = 2"), "{minimal}");
    let kinds = blocks
        .iter()
        .find(|b| b.contains("kind = \"mastodon\""))
        .expect("the source kinds example");
    let cfg = tmp.path().join("readme.toml");
    std::fs::write(&cfg, format!("{minimal}\n{kinds}")).unwrap();
    let out = ok(&mw(Some(&cfg), tmp.path(), &["config", "check"]));
    assert!(out.contains("config version 2: 4 sources"), "{out}");
}

/// `--log-format json`: every log line is one JSON object (for log
/// collectors), with the level and the message.
#[test]
fn logs_can_be_json_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("old.toml");
    std::fs::write(&cfg, "version = 1\n").unwrap();
    let out = mw(
        Some(&cfg),
        tmp.path(),
        &["--log-format", "json", "config", "check"],
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log lines");
    let mut upgrade_note = false;
    for l in lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        if v["level"] == "WARN"
            && v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("config upgrade"))
        {
            upgrade_note = true;
        }
    }
    assert!(upgrade_note, "{err}");
}
