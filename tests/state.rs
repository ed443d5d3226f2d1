//! The state on PostgreSQL (`[state] backend = "postgres"`): the same
//! corpus ingested with SQLite and with a real PostgreSQL server gives the
//! same index and the same source health; a second pass finds everything
//! seen; `migrate-state` moves a SQLite state into PostgreSQL. Skipped
//! (with a note) where PostgreSQL is not installed, unless
//! MEDIAWATCH_PG=required (as in CI).

use mediawatch_testkit::postgres::TempPostgres;

use crate::util::*;

fn config(dir: &std::path::Path, name: &str, sources: &str, state: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "version = 2\n[fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\n{state}\n{sources}"
        ),
    )
    .unwrap();
    p
}

/// What a run left: total indexed, per-source new items, stored items.
fn outcome(
    cfg: &std::path::Path,
    data: &std::path::Path,
) -> (serde_json::Value, Vec<(String, u64)>) {
    let search = json(&mw(
        Some(cfg),
        data,
        &["search", "", "--json", "--limit", "1"],
    ));
    let list = json(&mw(Some(cfg), data, &["sources", "list", "--json"]));
    let items = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"]["id"].as_str().unwrap().to_string(),
                s["health"]["items_total"].as_u64().unwrap(),
            )
        })
        .collect();
    (search["total"].clone(), items)
}

#[test]
fn postgres_state_ingests_like_sqlite_and_migrates() {
    let Some(pg) = TempPostgres::start() else {
        return;
    };
    let corpus = CorpusServer::start(12);
    let sources: String = corpus
        .sources_toml(3)
        .replace("url = \"", "params = { url = \"")
        .replace(".xml\"\n", ".xml\" }\n");
    let tmp = tempfile::tempdir().unwrap();
    let lite_cfg = config(tmp.path(), "lite.toml", &sources, "");
    let pg_state = format!("[state]\nbackend = \"postgres\"\nurl = \"{}\"", pg.url());
    let pg_cfg = config(tmp.path(), "pg.toml", &sources, &pg_state);
    let (lite, on_pg) = (tmp.path().join("lite"), tmp.path().join("pg"));

    ok(&mw(Some(&lite_cfg), &lite, &["ingest", "--once", "--json"]));
    let pass = json(&mw(Some(&pg_cfg), &on_pg, &["ingest", "--once", "--json"]));
    assert!(
        !on_pg.join("state.sqlite").exists(),
        "the PostgreSQL run must not write a SQLite state"
    );
    let new: u64 = pass
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["new"].as_u64().unwrap())
        .sum();
    assert_eq!(new, 36, "{pass:#}");
    let expected = outcome(&lite_cfg, &lite);
    assert_eq!(expected.0, 36);
    assert_eq!(outcome(&pg_cfg, &on_pg), expected);

    // The second pass knows every item from PostgreSQL.
    let again = json(&mw(Some(&pg_cfg), &on_pg, &["ingest", "--once", "--json"]));
    for r in again.as_array().unwrap() {
        assert_eq!(r["new"], 0, "{again:#}");
    }
    assert_eq!(outcome(&pg_cfg, &on_pg), expected);

    // The SQLite run's state, migrated into a second server, reads the same.
    let Some(pg2) = TempPostgres::start() else {
        return;
    };
    let out = ok(&mw(
        Some(&lite_cfg),
        &lite,
        &["migrate-state", "--to", &pg2.url()],
    ));
    assert!(out.contains("seen") && out.contains("copied"), "{out}");
    let moved_cfg = config(
        tmp.path(),
        "moved.toml",
        &sources,
        &format!("[state]\nbackend = \"postgres\"\nurl = \"{}\"", pg2.url()),
    );
    assert_eq!(outcome(&moved_cfg, &lite), expected);
    let again = json(&mw(
        Some(&moved_cfg),
        &lite,
        &["ingest", "--once", "--json"],
    ));
    for r in again.as_array().unwrap() {
        assert_eq!(r["new"], 0, "{again:#}");
    }
    // Migrating twice is refused: nothing is copied twice.
    let twice = mw(
        Some(&lite_cfg),
        &lite,
        &["migrate-state", "--to", &pg2.url()],
    );
    assert!(!twice.status.success());
    assert!(
        stderr(&twice).contains("already holds"),
        "{}",
        stderr(&twice)
    );
}
