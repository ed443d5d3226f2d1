//! Every source kind end to end: `mediawatch ingest --once --json` against
//! the loopback fixture server (platform base URLs pointed at it), then the
//! stored documents read back from the index. A second pass adds nothing.

use std::path::{Path, PathBuf};

use mediawatch_core::{canonicalize_url, DocId, DocKind, Document};

use crate::util::*;

/// A config holding only `sources` (TOML `[[sources]]` blocks, with `BASE`
/// replaced by the fixture server's address).
fn config_with(dir: &Path, base: &str, sources: &str) -> PathBuf {
    let text = format!(
        "version = 1\n[fetch]\nallow_private_addresses = true\nper_host_interval = \"1ms\"\n{}",
        sources.replace("BASE", base)
    );
    let p = dir.join("mediawatch.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// One `ingest --once --json` pass of one source: its report.
fn pass(cfg: &Path, data: &Path, id: &str) -> serde_json::Value {
    let out = json(&mw(
        Some(cfg),
        data,
        &["ingest", "--once", "--source", id, "--json"],
    ));
    out.as_array()
        .and_then(|a| a.iter().find(|r| r["source"] == id))
        .cloned()
        .unwrap_or_else(|| panic!("no report for {id} in {out:#}"))
}

fn doc(data: &Path, id: &DocId) -> Document {
    let index = mediawatch_index::Index::open_or_create(&data.join("index")).unwrap();
    index
        .get(id)
        .unwrap()
        .unwrap_or_else(|| panic!("document {id} is not indexed"))
}

fn doc_count(data: &Path) -> u64 {
    mediawatch_index::Index::open_or_create(&data.join("index"))
        .unwrap()
        .num_docs()
        .unwrap()
}

fn search(data: &Path, q: &str) -> serde_json::Value {
    json(&mw(None, data, &["search", q, "--json"]))
}

fn imports() -> PathBuf {
    fixtures().join("imports")
}

/// Asserts a first pass found `new` items and `errors` errors, and that a
/// second (304) and a third pass (no validators) add nothing.
fn passes_add_nothing_twice(
    server: &FixtureServer,
    cfg: &Path,
    data: &Path,
    id: &str,
    new: u64,
    errors: u64,
) -> serde_json::Value {
    let r = pass(cfg, data, id);
    assert_eq!(r["new"], new, "{r:#}");
    assert_eq!(r["errors"], errors, "{r:#}");
    let docs = doc_count(data);
    let r2 = pass(cfg, data, id);
    assert_eq!(r2["new"], 0, "{r2:#}");
    assert_eq!(r2["not_modified"], true, "{r2:#}");
    server.set_conditional(false);
    let r3 = pass(cfg, data, id);
    server.set_conditional(true);
    assert_eq!(r3["new"], 0, "{r3:#}");
    assert_eq!(r3["unchanged"], new, "{r3:#}");
    assert_eq!(doc_count(data), docs, "a later pass changed the corpus");
    r
}

#[test]
fn listing_follows_pages_and_comments_become_linked_documents() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_with(
        tmp.path(),
        &server.base,
        r#"
[[sources]]
id = "krajina-danas"
kind = "listing"
url = "BASE/listing/index.html"
link_selector = "main.vijesti article h2 a"
next_selector = "a.sljedeca"
name = "Krajina danas"
country = "BA"
languages = ["bs"]
[sources.selectors]
comments = ".komentari .komentar"
comment_text = ".tekst-komentara"
comment_author = ".autor-komentara"
"#,
    );
    let data = tmp.path().join("data");
    // Three articles over two pages: the utm_ and #fragment duplicates of
    // lipa.html and its repeat on page 2 are one item; the partner link on
    // another host is dropped; page 2's link back to page 1 is not followed.
    let r = passes_add_nothing_twice(&server, &cfg, &data, "krajina-danas", 3, 0);
    assert_eq!(r["fetched"], 3, "{r:#}");
    // Page 2 is read on the first and the third (unconditional) pass; the
    // second pass stopped at page 1's 304. Articles are fetched once.
    assert_eq!(server.hits("/listing/page2.html"), 2);
    assert_eq!(server.hits("/listing/index.html"), 3);
    assert_eq!(server.hits("/listing/articles/volonteri.html"), 1);
    assert_eq!(server.hits("/listing/articles/lipa.html"), 1);
    assert_eq!(server.hits("/listing/articles/granica.html"), 1);

    let lipa_url =
        canonicalize_url(&format!("{}/listing/articles/lipa.html", server.base)).unwrap();
    let article = doc(&data, &DocId::from_url(&lipa_url));
    assert_eq!(article.kind, DocKind::Article);
    assert!(article.text.contains("palisandarski"), "{}", article.text);
    // Comment text never leaks into the article text.
    assert!(!article.text.contains("Karambolitski"), "{}", article.text);

    let hits = search(&data, "karambolitski");
    assert_eq!(hits["total"], 2, "{hits:#}");
    let mut authors = Vec::new();
    for h in hits["hits"].as_array().unwrap() {
        let c = doc(&data, &DocId::from_stored(h["id"].as_str().unwrap()));
        assert_eq!(c.kind, DocKind::Comment);
        assert_eq!(c.parent_id.as_ref(), Some(&article.id));
        assert!(
            c.url.starts_with(&format!("{lipa_url}#comment-")),
            "{}",
            c.url
        );
        assert_eq!(c.source_id, "krajina-danas");
        authors.push(c.author.unwrap_or_default());
    }
    authors.sort();
    assert_eq!(authors, ["Mirza_BH", "Selma"]);
}

#[test]
fn mastodon_hashtag_timeline_becomes_posts() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_with(
        tmp.path(),
        &server.base,
        r#"
[[sources]]
id = "masto-izbeglice"
kind = "mastodon"
instance = "BASE/mastodon"
hashtag = "izbeglice"
name = "Mastodon #izbeglice"
country = "RS"
languages = ["sr", "en"]
scope = "social"
"#,
    );
    let data = tmp.path().join("data");
    // Four statuses: one is malformed (no id) and reported, one is a boost.
    let r = passes_add_nothing_twice(&server, &cfg, &data, "masto-izbeglice", 3, 1);
    let msg = r["messages"][0].as_str().unwrap();
    assert!(
        msg.contains("masto-izbeglice") && msg.contains("status 4"),
        "{msg}"
    );
    let host = "mastodon:127.0.0.1";
    let p = doc(&data, &DocId::from_platform(host, "113402938475610001"));
    assert_eq!(p.kind, DocKind::Post);
    assert_eq!(p.author.as_deref(), Some("infopark"));
    assert_eq!(p.lang.as_deref(), Some("sr"));
    assert_eq!(
        p.url,
        "https://mastodon.example/@infopark/113402938475610001"
    );
    assert!(p.text.starts_with("Info park u Beogradu"), "{}", p.text);
    assert!(!p.text.contains("<p>"));
    assert_eq!(
        p.published.unwrap().to_rfc3339(),
        "2026-11-03T08:12:44+00:00"
    );
    // The boost is stored as the boosted status, under its own id.
    let b = doc(&data, &DocId::from_platform(host, "113402938475609990"));
    assert_eq!(b.author.as_deref(), Some("crs@drustvena.example"));
    assert_eq!(b.lang.as_deref(), Some("hr"));
    // Macedonian Cyrillic, found with a Latin query.
    let hits = search(&data, "begalcite");
    assert_eq!(hits["total"], 1, "{hits:#}");
}

#[test]
fn mastodon_account_by_name_is_looked_up() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_with(
        tmp.path(),
        &server.base,
        r#"
[[sources]]
id = "masto-infopark"
kind = "mastodon"
instance = "BASE/mastodon"
account = "@infopark"
name = "Info Park"
country = "RS"
languages = ["sr", "en"]
scope = "social"
"#,
    );
    let data = tmp.path().join("data");
    passes_add_nothing_twice(&server, &cfg, &data, "masto-infopark", 2, 0);
    assert!(server.hits("/mastodon/api/v1/accounts/lookup") >= 1);
    let p = doc(
        &data,
        &DocId::from_platform("mastodon:127.0.0.1", "113402938475600500"),
    );
    assert_eq!(p.lang.as_deref(), Some("en"));
    assert!(p.text.contains("language café"), "{}", p.text);
}

#[test]
fn bluesky_author_feed_and_search() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_with(
        tmp.path(),
        &server.base,
        r#"
[[sources]]
id = "bsky-vesti"
kind = "bluesky"
appview = "BASE/bluesky/xrpc"
actor = "vesti-jug.bsky.social"
name = "Vesti Jug (Bluesky)"
country = "RS"
languages = ["sr"]
scope = "social"

[[sources]]
id = "bsky-search"
kind = "bluesky"
appview = "BASE/bluesky/xrpc"
query = "menekültek OR utečenci"
name = "Bluesky search"
country = "HU"
languages = ["hu", "sk"]
scope = "social"
"#,
    );
    let data = tmp.path().join("data");
    // Author feed: a post, a repost of another author's post, a malformed entry.
    passes_add_nothing_twice(&server, &cfg, &data, "bsky-vesti", 2, 1);
    let uri = "at://did:plc:n1vesti7x2k4qz/app.bsky.feed.post/3lbq2xk7abc2s";
    let p = doc(&data, &DocId::from_platform("bluesky", uri));
    assert_eq!(p.kind, DocKind::Post);
    assert_eq!(
        p.url,
        "https://bsky.app/profile/vesti-jug.bsky.social/post/3lbq2xk7abc2s"
    );
    assert_eq!(p.author.as_deref(), Some("vesti-jug.bsky.social"));
    assert_eq!(p.lang.as_deref(), Some("sr"));
    let repost = doc(
        &data,
        &DocId::from_platform(
            "bluesky",
            "at://did:plc:albania5kq/app.bsky.feed.post/3lbq1zzq9xy2a",
        ),
    );
    assert_eq!(repost.author.as_deref(), Some("lajme-tirana.bsky.social"));
    assert_eq!(repost.lang.as_deref(), Some("sq"));

    // Search: two posts and a like record (not a post, reported).
    passes_add_nothing_twice(&server, &cfg, &data, "bsky-search", 2, 1);
    let hits = search(&data, "Röszkénél");
    assert_eq!(hits["total"], 1, "{hits:#}");
    assert_eq!(hits["hits"][0]["source"], "bsky-search");
}

#[test]
fn telegram_channel_preview_becomes_posts() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_with(
        tmp.path(),
        &server.base,
        r#"
[[sources]]
id = "tg-granica"
kind = "telegram"
base_url = "BASE/telegram"
channel = "granica_info"
name = "Granica Info (Telegram)"
country = "RS"
languages = ["sr"]
scope = "social"
"#,
    );
    let data = tmp.path().join("data");
    // Three messages: two with text, one photo without text (reported).
    passes_add_nothing_twice(&server, &cfg, &data, "tg-granica", 2, 1);
    let p = doc(
        &data,
        &DocId::from_platform("telegram", "granica_info/1205"),
    );
    assert_eq!(p.kind, DocKind::Post);
    assert_eq!(p.url, "https://t.me/granica_info/1205");
    assert_eq!(p.author.as_deref(), Some("Granica Info"));
    // The quoted message is not part of the reply's text.
    assert!(p.text.starts_with("Ажурирање"), "{}", p.text);
    assert!(!p.text.contains("четрдесетак"), "{}", p.text);
    assert_eq!(p.lang.as_deref(), Some("sr"));
    assert_eq!(
        p.published.unwrap().to_rfc3339(),
        "2026-11-04T09:05:00+00:00"
    );
}

#[test]
fn reddit_subreddit_posts() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_with(
        tmp.path(),
        &server.base,
        r#"
[[sources]]
id = "reddit-bih"
kind = "reddit"
base_url = "BASE/reddit"
subreddit = "bih"
name = "r/bih"
country = "BA"
languages = ["bs", "hr", "sr"]
scope = "social"
"#,
    );
    let data = tmp.path().join("data");
    passes_add_nothing_twice(&server, &cfg, &data, "reddit-bih", 3, 1);
    let own = doc(&data, &DocId::from_platform("reddit", "t3_1gk3a1a"));
    assert_eq!(own.kind, DocKind::Post);
    assert_eq!(own.title, "Iskustvo volontiranja sa migrantima u Bihaću");
    assert!(own.text.starts_with("Prošle sedmice"), "{}", own.text);
    assert_eq!(
        own.url,
        "https://www.reddit.com/r/bih/comments/1gk3a1a/iskustvo_volontiranja_sa_migrantima_u_bihacu/"
    );
    assert_eq!(own.author.as_deref(), Some("krajiski_vuk"));
    assert_eq!(own.lang.as_deref(), Some("bs"));
    let link = doc(&data, &DocId::from_platform("reddit", "t3_1gk3b2b"));
    assert!(
        link.text
            .contains("https://vijesti.example/bih/strategija-migracije-azil-2026"),
        "{}",
        link.text
    );
}

#[test]
fn youtube_channel_feed_descriptions_become_posts() {
    let server = FixtureServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_with(
        tmp.path(),
        &server.base,
        r#"
[[sources]]
id = "yt-krajina"
kind = "youtube"
base_url = "BASE/youtube"
channel_id = "UCkrajinaTV000000000000a"
name = "Krajina TV (YouTube)"
country = "BA"
languages = ["bs"]
scope = "regional"
"#,
    );
    let data = tmp.path().join("data");
    passes_add_nothing_twice(&server, &cfg, &data, "yt-krajina", 2, 0);
    let v = doc(
        &data,
        &DocId::from_platform("youtube", "yt:video:Xk3bT9wq1Ab"),
    );
    assert_eq!(v.kind, DocKind::Post);
    assert_eq!(v.title, "Reportaža: život u kampu Lipa zimi");
    assert!(v.text.contains("promrzlina"), "{}", v.text);
    assert_eq!(v.url, "https://www.youtube.com/watch?v=Xk3bT9wq1Ab");
    assert_eq!(v.author.as_deref(), Some("Krajina TV"));
}

#[test]
fn jsonl_import_reports_bad_lines_and_never_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let path = imports().join("archive.jsonl");
    let cfg = config_with(
        tmp.path(),
        "unused",
        &format!(
            r#"
[[sources]]
id = "arhiv"
kind = "jsonl"
path = "{}"
name = "Arhiv 2019"
country = "BA"
languages = ["bs"]
"#,
            path.display()
        ),
    );
    let data = tmp.path().join("data");
    let r = pass(&cfg, &data, "arhiv");
    assert_eq!(r["new"], 4, "{r:#}");
    assert_eq!(r["errors"], 2, "{r:#}");
    let msgs: Vec<&str> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let loc3 = format!("{}:3:", path.display());
    let loc5 = format!("{}:5:", path.display());
    assert!(
        msgs.iter()
            .any(|m| m.contains(&loc3) && m.contains("14. 3. 2019.")),
        "{msgs:#?}"
    );
    assert!(
        msgs.iter().any(|m| m.contains(&loc5) && m.contains("JSON")),
        "{msgs:#?}"
    );
    let docs = doc_count(&data);
    let r2 = pass(&cfg, &data, "arhiv");
    assert_eq!(r2["new"], 0, "{r2:#}");
    assert_eq!(r2["unchanged"], 4, "{r2:#}");
    assert_eq!(doc_count(&data), docs);

    // A row with a URL has the URL's document id (one story, one document,
    // however it arrived); the others are namespaced by the source.
    let a = doc(
        &data,
        &DocId::from_url("https://arhiv.example/2019/03/migranti-velika-kladusa"),
    );
    assert_eq!(a.kind, DocKind::Article);
    assert_eq!(a.lang.as_deref(), Some("bs"));
    assert_eq!(a.author.as_deref(), Some("Redakcija"));
    let mk = doc(
        &data,
        &DocId::from_platform("import:arhiv", "id:arh-2019-002"),
    );
    assert_eq!(mk.lang.as_deref(), Some("mk"));
    assert_eq!(
        mk.published.unwrap().to_rfc3339(),
        "2019-06-02T00:00:00+00:00"
    );
}

#[test]
fn csv_import_with_column_mapping() {
    let tmp = tempfile::tempdir().unwrap();
    let path = imports().join("monitoring.csv");
    let cfg = config_with(
        tmp.path(),
        "unused",
        &format!(
            r#"
[[sources]]
id = "monitoring-2026"
kind = "csv"
path = "{}"
doc_kind = "post"
name = "Monitoring export"
country = "HR"
languages = ["hr"]
[sources.columns]
id = "redni_broj"
title = "naslov"
text = "sadrzaj"
published = "datum"
url = "izvor"
lang = "jezik"
"#,
            path.display()
        ),
    );
    let data = tmp.path().join("data");
    let r = pass(&cfg, &data, "monitoring-2026");
    assert_eq!(r["new"], 3, "{r:#}");
    assert_eq!(r["errors"], 2, "{r:#}");
    let msgs = r["messages"].to_string();
    assert!(msgs.contains(&format!("{}:5:", path.display())), "{msgs}");
    assert!(msgs.contains(&format!("{}:6:", path.display())), "{msgs}");
    let r2 = pass(&cfg, &data, "monitoring-2026");
    assert_eq!(r2["new"], 0, "{r2:#}");
    assert_eq!(r2["unchanged"], 3, "{r2:#}");

    let pl = doc(
        &data,
        &DocId::from_platform("import:monitoring-2026", "id:102"),
    );
    assert_eq!(pl.kind, DocKind::Post);
    assert_eq!(pl.lang.as_deref(), Some("pl"));
    assert!(pl.text.contains("Punkt działa codziennie."), "{}", pl.text);
    let hr = doc(
        &data,
        &DocId::from_url("https://primorje.example/izbjeglice-kvarner"),
    );
    assert!(hr.text.contains("\"Are You Syrious\""), "{}", hr.text);
}

#[test]
fn opml_import_produces_a_valid_config() {
    let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Regionalni izvori</title></head><body>
 <outline text="Crna Gora">
  <outline type="rss" text="Vijesti" xmlUrl="https://www.vijesti.me/rss" htmlUrl="https://www.vijesti.me/"/>
  <outline type="rss" text="Вијести" xmlUrl="https://www.vijesti.me/rss/cyr"/>
 </outline>
 <outline type="rss" text="Vijesti" xmlUrl="https://www.vijesti.me/rss?kat=drustvo&amp;x=1"/>
</body></opml>"#;
    let outlines = mediawatch_ingest::parse_opml(opml.as_bytes()).unwrap();
    let toml = mediawatch_ingest::opml_to_sources_toml(
        &outlines,
        "ME",
        &["cnr".to_string(), "sr".to_string()],
    );
    let config = mediawatch_config::Config::from_toml_str(&format!("version = 1\n{toml}"), "opml")
        .unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let ids: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["vijesti", "vijesti-me", "vijesti-2"]);
    assert_eq!(
        config.sources[2].url(),
        "https://www.vijesti.me/rss?kat=drustvo&x=1"
    );
    assert_eq!(config.sources[1].name, "Вијести");
    assert!(config.sources.iter().all(|s| s.country == "ME"));
}
