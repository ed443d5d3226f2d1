//! Behaviour of the index through its public API.

use chrono::{DateTime, TimeZone, Utc};
use mediawatch_core::{DocId, DocKind, Document, HateClass, Labels, SourceMeta, LABEL_NAMES};
use mediawatch_index::{DocExtra, FactsFilter, Index, IndexError, SearchRequest};

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("valid test date")
}

fn source(id: &str, country: &str, lang: &str) -> SourceMeta {
    SourceMeta {
        name: id.to_uppercase(),
        country: country.into(),
        languages: vec![lang.into()],
        ..mediawatch_testkit::source(id)
    }
}

fn doc(
    url: &str,
    source_id: &str,
    title: &str,
    text: &str,
    published: Option<DateTime<Utc>>,
) -> Document {
    Document {
        published,
        modified: None,
        ..mediawatch_testkit::doc(url)
            .source(source_id)
            .title(title)
            .text(text)
            .fetched(t(2024, 6, 1))
            .build()
    }
}

fn query(index: &Index, q: &str) -> Vec<String> {
    let res = index
        .search(&SearchRequest {
            query: q.into(),
            limit: 50,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
    res.hits.into_iter().map(|h| h.url).collect()
}

/// A small multilingual corpus, committed.
fn corpus() -> Index {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(20_000_000).unwrap();
    let rs = source("n1", "rs", "sr");
    let pl = source("wp", "PL", "pl");
    let hr = source("index-hr", "HR", "hr");
    w.upsert(
        doc(
            "https://n1.rs/1",
            "n1",
            "Вести",
            "Мигранти су стигли на границу у Суботици.",
            Some(t(2024, 3, 4)),
        ),
        &rs,
    )
    .unwrap();
    w.upsert(
        doc(
            "https://wp.pl/2",
            "wp",
            "Migrantów przybywa",
            "Na granicy czeka coraz więcej osób; Migrantów jest więcej niż rok temu.",
            Some(t(2024, 3, 12)),
        ),
        &pl,
    )
    .unwrap();
    w.upsert(
        doc(
            "https://index.hr/3",
            "index-hr",
            "Izbjeglice na granici",
            "Izbjeglice iz Sirije čekaju u kampu. Lokalni volonteri pomažu obiteljima.",
            None,
        ),
        &hr,
    )
    .unwrap();
    w.upsert(
        doc(
            "https://n1.rs/4",
            "n1",
            "Lokalni izbori",
            "Kampanja za lokalne izbore počela je u Novom Sadu. Nema reči o migrantima.",
            Some(t(2024, 4, 2)),
        ),
        &rs,
    )
    .unwrap();
    w.close().unwrap();
    index
}

#[test]
fn upsert_never_duplicates() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let s = source("n1", "RS", "sr");
    let mut d = doc(
        "https://n1.rs/a",
        "n1",
        "Prvi naslov",
        "prvi tekst",
        Some(t(2024, 1, 1)),
    );
    w.upsert(d.clone(), &s).unwrap();
    // Same id twice before a commit: the later one wins.
    d.title = "Drugi naslov".into();
    w.upsert(d.clone(), &s).unwrap();
    w.commit().unwrap();
    assert_eq!(index.num_docs().unwrap(), 1);
    // And again after the commit.
    d.title = "Treći naslov".into();
    w.upsert(d.clone(), &s).unwrap();
    w.commit().unwrap();
    assert_eq!(index.num_docs().unwrap(), 1);
    let got = index.get(&d.id).unwrap().expect("document is indexed");
    assert_eq!(got.title, "Treći naslov");
    assert!(index.contains(&d.id).unwrap());
    assert!(!index
        .contains(&DocId::from_url("https://n1.rs/other"))
        .unwrap());
    assert_eq!(query(&index, "treci"), ["https://n1.rs/a"]);
    assert!(query(&index, "drugi").is_empty());
    w.close().unwrap();
}

#[test]
fn batches_upsert_in_order_and_never_duplicate() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let s = source("n1", "RS", "sr");
    let extra = DocExtra::default();
    // More than one hand-off's worth (the writer splits at 128), with one
    // id twice inside the batch: the later copy wins.
    let mut docs: Vec<Document> = (0..300)
        .map(|i| {
            doc(
                &format!("https://n1.rs/{i}"),
                "n1",
                &format!("naslov {i}"),
                "prvi tekst",
                Some(t(2024, 1, 1)),
            )
        })
        .collect();
    let mut again = docs[7].clone();
    again.text = "drugi tekst".into();
    docs.push(again);
    w.upsert_batch(docs.iter().map(|d| (d, &s, &extra)))
        .unwrap();
    w.commit().unwrap();
    assert_eq!(index.num_docs().unwrap(), 300);
    assert_eq!(query(&index, "drugi"), ["https://n1.rs/7"]);
    assert_eq!(
        index.get(&docs[7].id).unwrap().expect("indexed").text,
        "drugi tekst"
    );

    // Re-sending committed documents replaces them; an empty batch is a
    // no-op.
    for d in &mut docs[..10] {
        d.text = "treci tekst".into();
    }
    w.upsert_batch(docs[..10].iter().map(|d| (d, &s, &extra)))
        .unwrap();
    w.upsert_batch(std::iter::empty()).unwrap();
    w.commit().unwrap();
    assert_eq!(index.num_docs().unwrap(), 300);
    assert_eq!(query(&index, "treci").len(), 10);
    assert_eq!(query(&index, "drugi"), Vec::<String>::new());
    w.close().unwrap();
}

#[test]
fn scripts_and_diacritics_find_the_same_document() {
    let index = corpus();
    // Exactly as written (a field-qualified word is not stemmed) ...
    for q in ["migranti", "мигранти", "MIGRANTI", "migrantí", "Мигранти"] {
        assert_eq!(
            query(&index, &format!("text:{q}")),
            ["https://n1.rs/1"],
            "query {q:?}"
        );
    }
    for q in ["migrantow", "Migrantów", "MIGRANTOW"] {
        assert_eq!(
            query(&index, &format!("text:{q}")),
            ["https://wp.pl/2"],
            "query {q:?}"
        );
    }
    // ... and with every language's other forms (`migrantima`, `Migrantów`).
    for q in ["migranti", "мигранти", "MIGRANTI", "migrantí", "Мигранти"] {
        assert_eq!(
            query(&index, q),
            ["https://n1.rs/1", "https://wp.pl/2", "https://n1.rs/4"],
            "query {q:?}"
        );
    }
    // Latin query, Cyrillic text, diacritic-less form of "Суботици".
    assert_eq!(query(&index, "subotici"), ["https://n1.rs/1"]);
    // Diacritics in the text, none in the query.
    assert_eq!(query(&index, "cekaju"), ["https://index.hr/3"]);
    assert_eq!(query(&index, "čekaju"), ["https://index.hr/3"]);
    // Conjunction by default: both words must occur.
    assert_eq!(
        query(&index, "izbjeglice volonteri"),
        ["https://index.hr/3"]
    );
    assert!(query(&index, "izbjeglice migranti").is_empty());
    // `migranti` also finds `migrantima` (n1.rs/4) and `Migrantów` (wp.pl/2).
    assert_eq!(query(&index, "izbjeglice OR migranti").len(), 4);
}

#[test]
fn phrases_use_positions() {
    let index = corpus();
    assert_eq!(query(&index, "\"мигранти су стигли\""), ["https://n1.rs/1"]);
    assert_eq!(query(&index, "\"migranti su stigli\""), ["https://n1.rs/1"]);
    // Same words, wrong order: not a phrase match.
    assert!(query(&index, "\"stigli su migranti\"").is_empty());
    assert_eq!(
        query(&index, "\"lokalni volonteri\""),
        ["https://index.hr/3"]
    );
    assert_eq!(
        query(&index, "title:\"na granici\""),
        ["https://index.hr/3"]
    );
}

#[test]
fn bad_queries_explain_themselves() {
    let index = corpus();
    for (q, needle) in [
        ("title:(unclosed", "unclosed '('"),
        ("\"unterminated", "unterminated phrase"),
        ("migranti)", "unmatched ')'"),
        ("nosuchfield:x", "unknown field 'nosuchfield'"),
        ("url:x", "not searchable"),
        ("-migranti", "only excludes"),
        ("!!!", "no words"),
    ] {
        match index.search(&SearchRequest {
            query: q.into(),
            ..Default::default()
        }) {
            Err(IndexError::Query { query, message }) => {
                assert_eq!(query, q);
                assert!(message.contains(needle), "{q:?}: {message}");
                let shown = IndexError::Query {
                    query: query.clone(),
                    message: message.clone(),
                }
                .to_string();
                assert!(shown.contains(q), "{shown}");
            }
            other => panic!("{q:?} should be a query error, got {other:?}"),
        }
    }
}

#[test]
fn odd_queries_never_panic() {
    let index = corpus();
    for q in [
        "title:",
        "a AND",
        "AND",
        "OR OR",
        "[a TO",
        "published:[2024-01-01T00:00:00Z TO *]",
        "published:[yesterday TO *]",
        "title:migranti^",
        "migranti^abc",
        "*",
        "\\",
        "\"\"",
        "()",
        "+",
        "a~2",
        "lang:sr",
        "kind:article",
        "labelled:true",
        "мигранти~",
        "a:b:c",
        "\u{0}",
        "x ".repeat(2000).as_str(),
    ] {
        match index.search(&SearchRequest {
            query: q.into(),
            ..Default::default()
        }) {
            Ok(_) => {}
            Err(IndexError::Query { message, .. }) => assert!(!message.is_empty()),
            Err(other) => panic!("{q:?}: unexpected error kind: {other}"),
        }
    }
    // Structured fields in the query language work too.
    assert_eq!(query(&index, "source:wp").len(), 1);
    assert_eq!(
        query(&index, "migranti AND lang:sr"),
        ["https://n1.rs/1", "https://n1.rs/4"]
    );
}

#[test]
fn filters_and_date_ranges() {
    let index = corpus();
    let search = |req: SearchRequest| {
        let mut urls: Vec<String> = index
            .search(&req)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.url)
            .collect();
        urls.sort();
        urls
    };
    // Empty query browses everything, newest first (unknown publication
    // date falls back to the fetch time, 2024-06-01).
    let all = index.search(&SearchRequest::default()).unwrap();
    assert_eq!(all.total, 4);
    let order: Vec<&str> = all.hits.iter().map(|h| h.url.as_str()).collect();
    assert_eq!(
        order,
        [
            "https://index.hr/3",
            "https://n1.rs/4",
            "https://wp.pl/2",
            "https://n1.rs/1"
        ]
    );
    assert_eq!(
        search(SearchRequest {
            source: Some("n1".into()),
            ..Default::default()
        }),
        ["https://n1.rs/1", "https://n1.rs/4"]
    );
    // Country and language are case-insensitive; the source default
    // language applies when the document has none.
    assert_eq!(
        search(SearchRequest {
            country: Some("rs".into()),
            lang: Some("SR".into()),
            ..Default::default()
        }),
        ["https://n1.rs/1", "https://n1.rs/4"]
    );
    assert_eq!(
        search(SearchRequest {
            query: "granici OR granicu OR granicy".into(),
            country: Some("PL".into()),
            ..Default::default()
        }),
        ["https://wp.pl/2"]
    );
    assert!(search(SearchRequest {
        kind: Some(DocKind::Comment),
        ..Default::default()
    })
    .is_empty());
    assert_eq!(
        search(SearchRequest {
            kind: Some(DocKind::Article),
            ..Default::default()
        })
        .len(),
        4
    );
    // March 2024, end exclusive.
    assert_eq!(
        search(SearchRequest {
            from: Some(t(2024, 3, 1)),
            to: Some(t(2024, 4, 1)),
            ..Default::default()
        }),
        ["https://n1.rs/1", "https://wp.pl/2"]
    );
    assert_eq!(
        search(SearchRequest {
            from: Some(t(2024, 3, 4)),
            to: Some(t(2024, 3, 12)),
            ..Default::default()
        }),
        ["https://n1.rs/1"]
    );
    // The fetch time stands in for a missing publication date.
    assert_eq!(
        search(SearchRequest {
            from: Some(t(2024, 5, 1)),
            ..Default::default()
        }),
        ["https://index.hr/3"]
    );
    assert!(matches!(
        index.search(&SearchRequest {
            from: Some(t(2024, 5, 1)),
            to: Some(t(2024, 3, 1)),
            ..Default::default()
        }),
        Err(IndexError::InvalidRequest { .. })
    ));
}

#[test]
fn paging_sorting_and_hit_fields() {
    let index = corpus();
    let res = index
        .search(&SearchRequest {
            query: "granici OR granicu OR granicy OR izbore".into(),
            sort_by_date: true,
            limit: 2,
            offset: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(res.total, 4);
    let order: Vec<&str> = res.hits.iter().map(|h| h.url.as_str()).collect();
    assert_eq!(order, ["https://n1.rs/4", "https://wp.pl/2"]);
    let res = index
        .search(&SearchRequest {
            query: "izbjeglice".into(),
            ..Default::default()
        })
        .unwrap();
    let hit = &res.hits[0];
    assert_eq!(hit.source, "index-hr");
    assert_eq!(hit.title, "Izbjeglice na granici");
    assert!(hit.published.is_none(), "unknown publication date is null");
    assert!(hit.score > 0.0);
    let v = serde_json::to_value(&res).unwrap();
    assert_eq!(v["total"], 1);
    for key in [
        "id",
        "url",
        "title",
        "source",
        "published",
        "score",
        "snippet",
        "labels",
    ] {
        assert!(v["hits"][0].get(key).is_some(), "missing {key}");
    }
    assert!(v["hits"][0]["published"].is_null());
    // Title matches weigh more than text matches.
    let res = index
        .search(&SearchRequest {
            query: "lokalni".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(res.hits[0].url, "https://n1.rs/4");
}

#[test]
fn snippets_highlight_and_escape() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let s = source("n1", "RS", "sr");
    w.upsert(
        doc(
            "https://n1.rs/s",
            "n1",
            "Naslov",
            "Uvod <script>alert(1)</script> & više. Мигранти су стигли у град.",
            Some(t(2024, 1, 1)),
        ),
        &s,
    )
    .unwrap();
    w.commit().unwrap();
    let res = index
        .search(&SearchRequest {
            query: "migranti".into(),
            ..Default::default()
        })
        .unwrap();
    let sn = &res.hits[0].snippet;
    assert!(sn.contains("<b>Мигранти</b>"), "{sn}");
    assert!(!sn.contains("<script>"), "{sn}");
    // A title-only match falls back to the (escaped) start of the text.
    let res = index
        .search(&SearchRequest {
            query: "naslov".into(),
            ..Default::default()
        })
        .unwrap();
    let sn = &res.hits[0].snippet;
    assert!(sn.starts_with("Uvod &lt;script&gt;"), "{sn}");
    assert!(!sn.contains("<b>"), "{sn}");
}

#[test]
fn reopen_from_disk_keeps_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let d = doc(
        "https://n1.rs/disk",
        "n1",
        "Na disku",
        "Мигранти",
        Some(t(2024, 2, 2)),
    );
    {
        let index = Index::open_or_create(&path).unwrap();
        let w = index.writer(0).unwrap();
        // Only one writer per index.
        match index.writer(0) {
            Err(e @ IndexError::Locked { .. }) => {
                assert!(e.to_string().contains("locked"), "{e}")
            }
            other => panic!("second writer should be refused, got {other:?}"),
        }
        w.upsert(d.clone(), &source("n1", "RS", "sr")).unwrap();
        w.close().unwrap();
    }
    let index = Index::open_or_create(&path).unwrap();
    assert_eq!(index.num_docs().unwrap(), 1);
    assert_eq!(query(&index, "migranti"), ["https://n1.rs/disk"]);
    let got = index.get(&d.id).unwrap().unwrap();
    assert_eq!(got.published, d.published);
    assert_eq!(got.fetched, d.fetched);
    assert_eq!(got.lang.as_deref(), Some("sr"));
    // The lock was released by close(): a new writer works.
    let w = index.writer(0).unwrap();
    // A second handle on the same directory (as a server process would
    // open it) sees the writer's commits after reload().
    let reader = Index::open_or_create(&path).unwrap();
    w.upsert(
        doc("https://n1.rs/d2", "n1", "Drugi", "tekst", None),
        &source("n1", "RS", "sr"),
    )
    .unwrap();
    w.commit().unwrap();
    reader.reload().unwrap();
    assert_eq!(reader.num_docs().unwrap(), 2);
    w.close().unwrap();
}

#[test]
fn foreign_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = tantivy::schema::Schema::builder();
    b.add_text_field("title", tantivy::schema::TEXT);
    tantivy::Index::create_in_dir(dir.path(), b.build()).unwrap();
    match Index::open_or_create(dir.path()) {
        Err(e @ IndexError::SchemaMismatch { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("different schema") && m.contains("`id` missing"),
                "{m}"
            );
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

/// Labels with an offensive hate class and a threat frame.
fn offensive_threat_labels() -> Labels {
    let mut l = Labels {
        model_version: "lexicon-1".into(),
        ..Default::default()
    };
    l.hate.class = HateClass::Offensive;
    l.hate.score = 0.8;
    l.frame.threat = 0.7;
    l
}

#[test]
fn documents_round_trip_with_labels() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let mut d = doc("https://x.ba/c", "klix", "T", "Komentar", None);
    d.kind = DocKind::Comment;
    d.parent_id = Some(DocId::from_url("https://x.ba/a"));
    d.author = Some("Ana".into());
    d.lang = Some("BS".into());
    let l = offensive_threat_labels();
    d.labels = Some(l.clone());
    w.upsert(d.clone(), &source("klix", "BA", "bs")).unwrap();
    w.commit().unwrap();
    let got = index.get(&d.id).unwrap().unwrap();
    let mut expected = d.clone();
    expected.lang = Some("bs".into());
    assert_eq!(got, expected);
    let hit = &index
        .search(&SearchRequest {
            query: "komentar".into(),
            ..Default::default()
        })
        .unwrap()
        .hits[0];
    assert_eq!(hit.labels.as_ref(), Some(&l));
}

#[test]
fn facts_carry_flags_and_filters() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let rs = source("n1", "RS", "sr");
    let hu = source("hvg", "HU", "hu");
    let mut a = doc(
        "https://n1.rs/f1",
        "n1",
        "A",
        "migranti talas",
        Some(t(2024, 3, 4)),
    );
    let mut l = Labels::default();
    l.relevance.score = 0.9;
    l.collective_labelling.score = 0.6;
    l.hate.class = HateClass::Hate;
    a.labels = Some(l);
    let b = doc("https://n1.rs/f2", "n1", "B", "sport", Some(t(2024, 3, 5)));
    let mut c = doc("https://hvg.hu/f3", "hvg", "C", "migránsok", None);
    c.kind = DocKind::Post;
    let mut l = Labels::default();
    l.solutions.score = 0.5;
    c.labels = Some(l);
    for (d, s) in [(&a, &rs), (&b, &rs), (&c, &hu)] {
        w.upsert(d.clone(), s).unwrap();
    }
    w.commit().unwrap();

    // C states no date: time series leave it out unless asked.
    assert_eq!(index.facts(&FactsFilter::default()).unwrap().len(), 2);
    assert_eq!(index.undated_left_out(&FactsFilter::default()).unwrap(), 1);
    let every = FactsFilter {
        include_undated: true,
        ..Default::default()
    };
    assert_eq!(index.undated_left_out(&every).unwrap(), 0);
    let mut rows = index.facts(&every).unwrap();
    rows.sort_by_key(|r| r.time);
    assert_eq!(rows.len(), 3);
    let on = |flags: &[bool; 8]| -> Vec<&str> {
        LABEL_NAMES
            .iter()
            .zip(flags)
            .filter(|(_, &f)| f)
            .map(|(n, _)| *n)
            .collect()
    };
    assert_eq!(rows[0].source, "n1");
    assert_eq!(rows[0].country, "RS");
    assert_eq!(rows[0].lang, "sr");
    assert!(rows[0].labelled);
    assert_eq!(
        on(&rows[0].flags),
        ["relevant", "hate", "collective_labelling"]
    );
    assert_eq!(rows[0].time, t(2024, 3, 4));
    assert!(!rows[1].labelled);
    assert_eq!(rows[1].flags, [false; 8]);
    // Unknown publication date: the fetch time is the trend time.
    assert_eq!(rows[2].time, t(2024, 6, 1));
    assert_eq!(rows[2].kind, DocKind::Post);
    assert_eq!(rows[2].lang, "hu");
    assert_eq!(on(&rows[2].flags), ["solutions"]);

    let n = |f: FactsFilter| index.facts(&f).unwrap().len();
    assert_eq!(
        n(FactsFilter {
            country: Some("hu".into()),
            ..every.clone()
        }),
        1
    );
    assert_eq!(
        n(FactsFilter {
            source: Some("n1".into()),
            from: Some(t(2024, 3, 5)),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        n(FactsFilter {
            query: Some("migranti OR migransok".into()),
            ..every.clone()
        }),
        2
    );
    assert!(matches!(
        index.facts(&FactsFilter {
            query: Some("(".into()),
            ..Default::default()
        }),
        Err(IndexError::Query { .. })
    ));

    // The rows feed a report directly.
    let report = mediawatch_report::build_report(
        &rows,
        &mediawatch_report::ReportRequest {
            interval: mediawatch_report::Interval::Month,
            ..Default::default()
        },
    );
    assert_eq!(report.totals.documents, 3);
    assert_eq!(report.totals.labelled, 2);
    assert_eq!(report.totals.labels["hate"].share, 0.5);
}

#[test]
fn closed_writer_reports_errors() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let other = w.clone();
    w.close().unwrap();
    let e = other
        .upsert(
            doc("https://a/b", "s", "t", "x", None),
            &source("s", "RS", "sr"),
        )
        .unwrap_err();
    assert!(e.to_string().contains("closed"), "{e}");
    assert!(other.commit().is_err());
}

/// The 273-word agency-style story of core's similarity tests, in Latin
/// and Cyrillic.
const STORY: &str = include_str!("../../core/src/testdata/agency_story_sr_latn.txt");
const STORY_CYRL: &str = include_str!("../../core/src/testdata/agency_story_sr_cyrl.txt");

/// Fingerprints `d`, assigns its cluster in `state` and upserts it, as the
/// pipeline's sink does.
fn upsert_clustered(
    w: &mediawatch_index::IndexWriterHandle,
    state: &mediawatch_state::StateStore,
    d: Document,
    src: &SourceMeta,
) -> String {
    let fp = mediawatch_core::similarity::fingerprint(&d.text);
    let cluster = state
        .assign_cluster(d.id.as_str(), fp.simhash, d.effective_time())
        .unwrap()
        .cluster_id;
    let extra = mediawatch_index::DocExtra {
        content_hash: Some(fp.content_hash),
        cluster_id: Some(cluster.clone()),
    };
    w.upsert_with(d, src, &extra).unwrap();
    cluster
}

#[test]
fn syndicated_copies_share_a_cluster_collapse_and_count_once() {
    let index = Index::create_in_ram().unwrap();
    let state = mediawatch_state::StateStore::in_memory().unwrap();
    let w = index.writer(0).unwrap();
    let rs = source("portal-a", "RS", "sr");
    let ba = source("portal-b", "BA", "bs");
    // The agency original, then (in a later segment) two portal copies:
    // one with an edited word and a credit line, one in Cyrillic.
    let a = upsert_clustered(
        &w,
        &state,
        doc(
            "https://a/1",
            "portal-a",
            "Policija zaustavila grupu",
            STORY,
            Some(t(2024, 3, 4)),
        ),
        &rs,
    );
    let other = upsert_clustered(
        &w,
        &state,
        doc(
            "https://a/2",
            "portal-a",
            "Budžet usvojen",
            "Gradsko veće usvojilo je budžet za narednu godinu. Najviše novca izdvojeno je za \
             obnovu škola, vrtića i lokalnih puteva, dok migranata u centru ima manje.",
            Some(t(2024, 3, 4)),
        ),
        &rs,
    );
    w.commit().unwrap();
    let edited = STORY.replace("dvanaestoro", "trinaestoro") + "\n\n(Izvor: Tanjug)";
    let b = upsert_clustered(
        &w,
        &state,
        doc(
            "https://b/1",
            "portal-b",
            "Migranti kod Šida: migranata sve više",
            &edited,
            Some(t(2024, 3, 5)),
        ),
        &ba,
    );
    let c = upsert_clustered(
        &w,
        &state,
        doc(
            "https://a/3",
            "portal-a",
            "Полиција зауставила групу",
            STORY_CYRL,
            Some(t(2024, 3, 6)),
        ),
        &rs,
    );
    // Without a computed cluster, a document is its own cluster.
    let lone = doc(
        "https://b/2",
        "portal-b",
        "Kratko",
        "Migranata nema.",
        Some(t(2024, 3, 7)),
    );
    let lone_id = lone.id.clone();
    w.upsert(lone, &ba).unwrap();
    w.commit().unwrap();

    assert_eq!(b, a);
    assert_eq!(c, a);
    assert_ne!(other, a);
    let story_id = DocId::from_url("https://a/1");
    assert_eq!(a, story_id.as_str());
    let extra = index.get_extra(&lone_id).unwrap().unwrap();
    assert_eq!(extra.cluster_id.as_deref(), Some(lone_id.as_str()));
    assert_eq!(
        extra.content_hash.as_deref(),
        Some(mediawatch_core::similarity::content_hash("Migranata nema.").as_str())
    );

    // Plain search: every copy. Collapsed: one hit per story.
    let search = |collapse: bool, by_date: bool| {
        index
            .search(&SearchRequest {
                query: "migranata".into(),
                limit: 10,
                sort_by_date: by_date,
                collapse_clusters: collapse,
                ..Default::default()
            })
            .unwrap()
    };
    let plain = search(false, false);
    // (The analyzer transliterates, so the Cyrillic copy matches too.)
    assert_eq!(plain.total, 5, "{:?}", plain.hits);
    assert!(plain.hits.iter().all(|h| h.duplicates == 0));
    let collapsed = search(true, false);
    assert_eq!(collapsed.total, 3);
    assert_eq!(collapsed.hits.len(), 3);
    let story_hits: Vec<_> = collapsed
        .hits
        .iter()
        .filter(|h| h.cluster_id == a)
        .collect();
    assert_eq!(story_hits.len(), 1);
    // By relevance the best-scoring copy stands for the story: the one
    // with the query word in its title (boosted).
    assert_eq!(story_hits[0].url, "https://b/1");
    assert_eq!(story_hits[0].duplicates, 2);
    // By date (here: the empty query) the newest copy stands for it.
    let newest = index
        .search(&SearchRequest {
            collapse_clusters: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(newest.total, 3);
    let story = newest.hits.iter().find(|h| h.cluster_id == a).unwrap();
    assert_eq!((story.url.as_str(), story.duplicates), ("https://a/3", 2));
    assert_eq!(newest.hits[0].url, "https://b/2", "newest first");
    let page2 = index
        .search(&SearchRequest {
            collapse_clusters: true,
            offset: 2,
            limit: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page2.total, 3);
    assert_eq!(page2.hits.len(), 1);
    assert_eq!(page2.hits[0].url, newest.hits[2].url);
    assert_eq!(search(true, true).total, 3);

    // Facts carry the cluster; a report counts the story once per bucket.
    let rows = index.facts(&FactsFilter::default()).unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows.iter().filter(|r| r.cluster == a).count(), 3);
    assert!(rows.iter().any(|r| r.cluster == lone_id.as_str()));
    let report = |once: bool, interval| {
        mediawatch_report::build_report(
            &rows,
            &mediawatch_report::ReportRequest {
                interval,
                count_clusters_once: once,
                ..Default::default()
            },
        )
    };
    use mediawatch_report::Interval;
    assert_eq!(report(false, Interval::Month).totals.documents, 5);
    let month = report(true, Interval::Month);
    assert_eq!(month.totals.documents, 3);
    assert_eq!(month.buckets[0].documents, 3);
    // Daily buckets: the copies fall on three days, once each.
    assert_eq!(report(true, Interval::Day).buckets.len(), 4);
}

// ---- stemming, word pairs, facets, table reports, compare, schema version

fn lang_doc(url: &str, source_id: &str, lang: &str, title: &str, text: &str) -> Document {
    let mut d = doc(url, source_id, title, text, Some(t(2024, 5, 1)));
    d.lang = Some(lang.into());
    d
}

#[test]
fn stemming_finds_other_forms_by_each_documents_language() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let en = source("bbc", "GB", "en");
    let de = source("dw", "DE", "de");
    let hu = source("hvg", "HU", "hu");
    let rs = source("n1", "RS", "sr");
    let mk = source("mia", "MK", "mk");
    let pl = source("tvn", "PL", "pl");
    let ba = source("klix", "BA", "bs");
    for (d, s) in [
        (
            lang_doc(
                "https://mia/1",
                "mia",
                "mk",
                "Гевгелија",
                "Мигрантите пристигнаа на границата.",
            ),
            &mk,
        ),
        (
            lang_doc(
                "https://tvn/1",
                "tvn",
                "pl",
                "Granica",
                "Straż graniczna zatrzymała grupę migrantów.",
            ),
            &pl,
        ),
        (
            lang_doc(
                "https://klix/1",
                "klix",
                "bs",
                "Bihać",
                "Volonteri su pomogli migrantima u kampu.",
            ),
            &ba,
        ),
        (
            lang_doc(
                "https://bbc/1",
                "bbc",
                "en",
                "Border",
                "A migrant crossed the river.",
            ),
            &en,
        ),
        (
            lang_doc(
                "https://bbc/2",
                "bbc",
                "en",
                "Aid",
                "Migrants were helped at the camp.",
            ),
            &en,
        ),
        (
            lang_doc(
                "https://dw/1",
                "dw",
                "de",
                "Grenze",
                "Ein Flüchtling wartet an der Grenze.",
            ),
            &de,
        ),
        (
            lang_doc(
                "https://hvg/1",
                "hvg",
                "hu",
                "Határ",
                "A migránsokat a határon látták.",
            ),
            &hu,
        ),
        (
            lang_doc(
                "https://n1/1",
                "n1",
                "sr",
                "Vesti",
                "Migranti su stigli na granicu.",
            ),
            &rs,
        ),
    ] {
        w.upsert(d, s).unwrap();
    }
    w.close().unwrap();
    let mut got = query(&index, "migrants");
    got.sort();
    assert_eq!(got, ["https://bbc/1", "https://bbc/2"]);
    // `migrant` finds every language's forms, each stemmed by its own
    // rules: migrantima (bs), мигрантите (mk), migrantów (pl), migranti (sr).
    let mut got = query(&index, "migrant");
    got.sort();
    assert_eq!(
        got,
        [
            "https://bbc/1",
            "https://bbc/2",
            "https://klix/1",
            "https://mia/1",
            "https://n1/1",
            "https://tvn/1"
        ]
    );
    // Typed in Cyrillic, the same.
    assert_eq!(query(&index, "мигрант").len(), 6);
    assert_eq!(query(&index, "Flüchtlinge"), ["https://dw/1"]);
    assert_eq!(query(&index, "fluchtlinge"), ["https://dw/1"]);
    assert_eq!(query(&index, "migráns"), ["https://hvg/1"]);
    // Serbian's light stemmer: `granica` finds `granicu`; Macedonian's,
    // `границата`; the Polish title is `Granica` as written.
    let mut got = query(&index, "granica");
    got.sort();
    assert_eq!(got, ["https://mia/1", "https://n1/1", "https://tvn/1"]);
    let mut got = query(&index, "granicu");
    got.sort();
    assert_eq!(got, ["https://n1/1", "https://tvn/1"]);
    // Phrases stay exact: no stemmed matching inside quotes.
    assert!(query(&index, "\"migrants crossed\"").is_empty());
    assert_eq!(query(&index, "\"migrant crossed\""), ["https://bbc/1"]);
    // A field-qualified word is not stemmed either.
    assert_eq!(query(&index, "text:migrants"), ["https://bbc/2"]);
    assert_eq!(query(&index, "text:migranti"), ["https://n1/1"]);
    // Excluding a word excludes its other forms in stemmed languages.
    assert_eq!(query(&index, "(border OR aid) -river"), ["https://bbc/2"]);
    let got = query(&index, "(border OR aid) -migrant");
    assert!(got.is_empty(), "{got:?}");
}

/// Splits like the analyzer and compares adjacency directly, as the
/// reference for phrase matching.
fn has_phrase(hay: &str, words: &[String]) -> bool {
    let toks = mediawatch_index::analyzer::analyze(hay);
    toks.windows(words.len()).any(|w| w == words)
}

#[test]
fn phrases_through_word_pairs_match_exactly_like_positions() {
    // Every short phrase over a small vocabulary, against documents made
    // of the same words: the rewritten phrase (word pairs) must return
    // exactly the documents where the words are adjacent in the title or
    // the text.
    let vocab = ["migranti", "su", "na", "granici", "i", "policija", "je"];
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let rs = source("n1", "RS", "sr");
    let mut x: u64 = 7;
    let mut next = move |n: usize| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as usize) % n
    };
    let mut docs = Vec::new();
    for i in 0..60 {
        let title: Vec<&str> = (0..3).map(|_| vocab[next(vocab.len())]).collect();
        let text: Vec<&str> = (0..6).map(|_| vocab[next(vocab.len())]).collect();
        let d = doc(
            &format!("https://n1/p{i}"),
            "n1",
            &title.join(" "),
            &format!("{}. {}", text[..3].join(" "), text[3..].join(" ")),
            Some(t(2024, 1, 1)),
        );
        docs.push((d.url.clone(), d.title.clone(), d.text.clone()));
        w.upsert(d, &rs).unwrap();
    }
    w.close().unwrap();
    let mut phrases: Vec<Vec<String>> = Vec::new();
    for a in vocab {
        for b in vocab {
            phrases.push(vec![a.into(), b.into()]);
        }
    }
    for _ in 0..40 {
        phrases.push(
            (0..3)
                .map(|_| vocab[next(vocab.len())].to_string())
                .collect(),
        );
    }
    for words in phrases {
        let q = format!("\"{}\"", words.join(" "));
        let mut got = query(&index, &q);
        got.sort();
        let mut want: Vec<String> = docs
            .iter()
            .filter(|(_, title, text)| has_phrase(title, &words) || has_phrase(text, &words))
            .map(|(u, _, _)| u.clone())
            .collect();
        want.sort();
        assert_eq!(got, want, "phrase {q}");
    }
}

#[test]
fn facets_count_every_match_not_just_the_page() {
    let index = corpus();
    let res = index
        .search(&SearchRequest {
            query: "country:RS|PL|HR".into(),
            limit: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(res.hits.len(), 1);
    assert_eq!(res.total, 4);
    let sum = |v: &[mediawatch_index::FacetCount]| v.iter().map(|c| c.count).sum::<u64>();
    assert_eq!(sum(&res.facets.source), res.total as u64);
    assert_eq!(sum(&res.facets.country), res.total as u64);
    assert_eq!(sum(&res.facets.lang), res.total as u64);
    // Browsing everything: the corpus has 2 RS documents, 1 PL, 1 HR.
    let all = index.search(&SearchRequest::default()).unwrap();
    let count = |v: &[mediawatch_index::FacetCount], k: &str| {
        v.iter().find(|c| c.value == k).map(|c| c.count)
    };
    assert_eq!(all.total, 4);
    assert_eq!(count(&all.facets.country, "RS"), Some(2));
    assert_eq!(count(&all.facets.country, "PL"), Some(1));
    assert_eq!(count(&all.facets.source, "n1"), Some(2));
    assert_eq!(count(&all.facets.lang, "sr"), Some(2));
    // Largest first.
    assert_eq!(all.facets.country[0].value, "RS");
    assert_eq!(all.facets.labelled, 0);
    assert_eq!(all.facets.label.len(), LABEL_NAMES.len());
    assert!(all.facets.label.iter().all(|c| c.count == 0));
    // The JSON contract carries them.
    let json = serde_json::to_value(&all).unwrap();
    assert_eq!(json["facets"]["country"][0]["value"], "RS");
    assert_eq!(json["facets"]["country"][0]["count"], 2);
}

#[test]
fn facets_count_labels_at_the_default_threshold() {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let rs = source("n1", "RS", "sr");
    for (i, hate) in [(0, 0.9f32), (1, 0.2), (2, 0.7)] {
        let mut d = doc(
            &format!("https://n1/l{i}"),
            "n1",
            "Vesti",
            "migranti",
            Some(t(2024, 3, 1)),
        );
        let mut l = Labels::default();
        l.hate.score = hate;
        l.hate.class = if hate >= 0.5 {
            HateClass::Hate
        } else {
            HateClass::None
        };
        d.labels = Some(l);
        w.upsert(d, &rs).unwrap();
    }
    w.upsert(
        doc(
            "https://n1/u",
            "n1",
            "Vesti",
            "migranti",
            Some(t(2024, 3, 1)),
        ),
        &rs,
    )
    .unwrap();
    w.close().unwrap();
    let res = index
        .search(&SearchRequest {
            query: "migranti".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(res.total, 4);
    assert_eq!(res.facets.labelled, 3);
    let hate = res.facets.label.iter().find(|c| c.value == "hate").unwrap();
    assert_eq!(hate.count, 2);
}

#[test]
fn table_reports_equal_row_reports_and_compare_queries() {
    use mediawatch_index::TrendRequest;
    use mediawatch_report::{build_report, GroupBy, Interval, ReportRequest};
    let index = corpus();
    for by in [GroupBy::None, GroupBy::Source, GroupBy::Language] {
        for query in [None, Some("migranti".to_string())] {
            let filter = FactsFilter {
                query,
                ..Default::default()
            };
            let report = ReportRequest {
                interval: Interval::Month,
                by,
                ..Default::default()
            };
            let rows = index.facts(&filter).unwrap();
            let req = TrendRequest {
                filter,
                report: report.clone(),
                compare: vec![],
            };
            let mut expected = build_report(&rows, &report);
            expected.undated_left_out = index.undated_left_out(&req.filter).unwrap();
            assert_eq!(index.report(&req).unwrap(), expected);
        }
    }
    // q=migranti&compare=izbjeglice: one row per bucket and query (the
    // corpus's undated documents included).
    let req = TrendRequest {
        filter: FactsFilter {
            query: Some("migranti".into()),
            include_undated: true,
            ..Default::default()
        },
        report: ReportRequest {
            interval: Interval::Month,
            ..Default::default()
        },
        compare: vec!["izbjeglice".into()],
    };
    let r = index.report(&req).unwrap();
    assert_eq!(r.by.as_deref(), Some("query"));
    let groups: std::collections::BTreeSet<_> =
        r.buckets.iter().filter_map(|b| b.group.clone()).collect();
    assert_eq!(
        groups.into_iter().collect::<Vec<_>>(),
        ["izbjeglice", "migranti"]
    );
    let migranti: u64 = r
        .buckets
        .iter()
        .filter(|b| b.group.as_deref() == Some("migranti"))
        .map(|b| b.documents)
        .sum();
    assert_eq!(
        migranti as usize,
        index
            .facts(&FactsFilter {
                query: Some("migranti".into()),
                ..Default::default()
            })
            .unwrap()
            .len()
    );
    // Compared queries cannot also be grouped; empty ones are refused.
    let mut grouped = req.clone();
    grouped.report.by = GroupBy::Source;
    assert!(matches!(
        index.report(&grouped),
        Err(IndexError::InvalidRequest { .. })
    ));
    let mut empty = req;
    empty.compare = vec![" ".into()];
    assert!(matches!(
        index.report(&empty),
        Err(IndexError::InvalidRequest { .. })
    ));
}

#[test]
fn other_schema_versions_are_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = Index::open_or_create(dir.path()).unwrap();
        let w = index.writer(0).unwrap();
        w.upsert(
            doc(
                "https://n1.rs/v",
                "n1",
                "T",
                "migranti",
                Some(t(2024, 1, 1)),
            ),
            &source("n1", "RS", "sr"),
        )
        .unwrap();
        w.close().unwrap();
    }
    let version_file = dir.path().join("mediawatch-index.json");
    let text = std::fs::read_to_string(&version_file).unwrap();
    assert!(text.contains(&mediawatch_index::SCHEMA_VERSION.to_string()));
    // Reopening the same version works.
    assert_eq!(
        Index::open_or_create(dir.path())
            .unwrap()
            .num_docs()
            .unwrap(),
        1
    );
    std::fs::write(&version_file, r#"{"schema_version":1}"#).unwrap();
    match Index::open_or_create(dir.path()) {
        Err(e @ IndexError::SchemaVersion { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("schema v1")
                    && m.contains(&format!("needs v{}", mediawatch_index::SCHEMA_VERSION))
                    && m.contains("mediawatch reindex")
                    && m.contains("ingest again")
                    && m.contains("state.sqlite"),
                "{m}"
            );
        }
        other => panic!("expected a version error, got {other:?}"),
    }
}

#[test]
fn writer_with_threads_indexes_and_holds_the_lock() {
    let index = Index::create_in_ram().unwrap();
    // A heap below the minimum is raised, as with `writer`.
    let w = index.writer_with_threads(0, 1, 1).unwrap();
    match index.writer_with_threads(64_000_000, 2, 2) {
        Err(IndexError::Locked { .. }) => {}
        other => panic!("second writer should be refused, got {other:?}"),
    }
    let rs = source("n1", "RS", "sr");
    for i in 0..30 {
        let url = format!("https://n1.rs/t{i}");
        w.upsert(
            doc(
                &url,
                "n1",
                "Vesti",
                "Migranti na granici.",
                Some(t(2024, 3, 4)),
            ),
            &rs,
        )
        .unwrap();
    }
    w.close().unwrap();
    assert_eq!(index.num_docs().unwrap(), 30);
    assert_eq!(query(&index, "granici").len(), 30);
    // Many indexing and merge threads are accepted too.
    let w = index.writer_with_threads(40_000_000, 3, 3).unwrap();
    w.close().unwrap();
}

/// Upserts skip the delete of ids that cannot be indexed yet; ids committed
/// by an earlier writer, by another handle on the same directory (as
/// another process would), or added earlier in the same batch must still
/// replace their old copy.
#[test]
fn upserts_replace_ids_committed_by_earlier_writers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let rs = source("n1", "RS", "sr");
    let make = |i: usize, text: &str| {
        doc(
            &format!("https://n1.rs/u{i}"),
            "n1",
            "Vesti",
            text,
            Some(t(2024, 3, 4)),
        )
    };
    {
        let index = Index::open_or_create(&path).unwrap();
        let w = index.writer(0).unwrap();
        for i in 0..20 {
            w.upsert(make(i, "stari tekst"), &rs).unwrap();
        }
        w.close().unwrap();
    }
    // A second handle on the directory, opened after the first one's
    // writer is gone, and a third one opened before it writes.
    let a = Index::open_or_create(&path).unwrap();
    let b = Index::open_or_create(&path).unwrap();
    let w = a.writer(0).unwrap();
    for i in 0..10 {
        w.upsert(make(i, "novi tekst"), &rs).unwrap();
    }
    // Twice in one batch, and a new id twice in one batch.
    w.upsert(make(3, "najnoviji tekst"), &rs).unwrap();
    w.upsert(make(50, "prvi"), &rs).unwrap();
    w.upsert(make(50, "drugi"), &rs).unwrap();
    w.close().unwrap();
    assert_eq!(a.num_docs().unwrap(), 21);
    assert_eq!(query(&a, "stari").len(), 10);
    assert_eq!(query(&a, "novi").len(), 9);
    assert_eq!(query(&a, "najnoviji"), ["https://n1.rs/u3"]);
    assert!(query(&a, "prvi").is_empty());
    // The other handle's writer sees the first one's commits too, though
    // its reader has not been reloaded since they were made.
    let w = b.writer(0).unwrap();
    w.upsert(make(50, "treci"), &rs).unwrap();
    w.upsert(make(0, "treci"), &rs).unwrap();
    w.close().unwrap();
    assert_eq!(b.num_docs().unwrap(), 21);
    assert_eq!(query(&b, "treci").len(), 2);
}

/// Writes `docs` into a new index in `dir` with the field layout of schema
/// v1 (no `cluster_key`, stemmed fields or word pairs; no version file),
/// through tantivy itself, as a build from before schema versions did.
fn write_v1_index(dir: &std::path::Path, docs: &[(Document, &str, &str, &str)]) {
    use tantivy::schema::{DateOptions, NumericOptions, FAST, INDEXED, STORED, STRING, TEXT};
    let mut b = tantivy::schema::Schema::builder();
    let facet = STRING | STORED | FAST;
    let date = DateOptions::default().set_stored().set_fast().set_indexed();
    let id = b.add_text_field("id", STRING | STORED);
    let source = b.add_text_field("source", facet.clone());
    let country = b.add_text_field("country", facet.clone());
    let lang = b.add_text_field("lang", facet.clone());
    let kind = b.add_text_field("kind", facet);
    let url = b.add_text_field("url", STORED);
    let title = b.add_text_field("title", TEXT | STORED);
    let text = b.add_text_field("text", TEXT | STORED);
    let author = b.add_text_field("author", STORED);
    let published = b.add_date_field("published", date.clone());
    let published_known = b.add_bool_field("published_known", STORED | FAST);
    let fetched = b.add_date_field("fetched", date);
    let labels_json = b.add_text_field("labels_json", STORED);
    b.add_f64_field("hate", NumericOptions::default().set_fast());
    let label_flags = b.add_u64_field("label_flags", FAST | STORED);
    let labelled = b.add_bool_field("labelled", INDEXED | FAST | STORED);
    let parent_id = b.add_text_field("parent_id", STRING | STORED);
    let content_hash = b.add_text_field("content_hash", STRING | FAST | STORED);
    let cluster_id = b.add_text_field("cluster_id", STRING | FAST | STORED);
    let index = tantivy::Index::create_in_dir(dir, b.build()).unwrap();
    let mut w: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
    let time = |t: DateTime<Utc>| tantivy::DateTime::from_timestamp_secs(t.timestamp());
    for (d, country_code, hash, cluster) in docs {
        let mut td = tantivy::TantivyDocument::new();
        td.add_text(id, d.id.as_str());
        td.add_text(source, &d.source_id);
        td.add_text(country, country_code);
        td.add_text(lang, d.lang.as_deref().unwrap_or("und"));
        td.add_text(kind, d.kind.as_str());
        td.add_text(url, &d.url);
        td.add_text(title, &d.title);
        td.add_text(text, &d.text);
        if let Some(a) = &d.author {
            td.add_text(author, a);
        }
        td.add_date(published, time(d.published.unwrap_or(d.fetched)));
        td.add_bool(published_known, d.published.is_some());
        td.add_date(fetched, time(d.fetched));
        if let Some(l) = &d.labels {
            td.add_text(labels_json, serde_json::to_string(l).unwrap());
        }
        td.add_u64(label_flags, 0);
        td.add_bool(labelled, d.labels.is_some());
        if let Some(p) = &d.parent_id {
            td.add_text(parent_id, p.as_str());
        }
        td.add_text(content_hash, hash);
        td.add_text(cluster_id, cluster);
        w.add_document(td).unwrap();
    }
    w.commit().unwrap();
}

#[test]
fn an_old_index_is_rebuilt_from_its_stored_documents() {
    let old = tempfile::tempdir().unwrap();
    let mut sr = lang_doc(
        "https://n1.rs/1",
        "n1",
        "sr",
        "Мигранти су стигли",
        "Мигранти су стигли на границу код Суботице.",
    );
    sr.author = Some("Ana".into());
    let labels = offensive_threat_labels();
    sr.labels = Some(labels.clone());
    let de = lang_doc(
        "https://dw.de/1",
        "dw",
        "de",
        "Grenze",
        "Ein Flüchtling wartet an der Grenze.",
    );
    let mut comment = lang_doc(
        "https://n1.rs/1#c1",
        "n1",
        "sr",
        "",
        "Komentar ispod članka.",
    );
    comment.kind = DocKind::Comment;
    comment.parent_id = Some(sr.id.clone());
    comment.published = None;
    write_v1_index(
        old.path(),
        &[
            (sr.clone(), "RS", "hash-sr", "cluster-a"),
            (de.clone(), "DE", "hash-de", "cluster-b"),
            (comment.clone(), "RS", "hash-c", "cluster-a"),
        ],
    );
    match Index::open_or_create(old.path()) {
        Err(IndexError::SchemaVersion { found: 1, .. }) => {}
        other => panic!("expected a v1 version error, got {other:?}"),
    }

    // While another writer holds the old index, nothing is copied.
    let new_root = tempfile::tempdir().unwrap();
    let new = new_root.path().join("index");
    {
        let held = tantivy::Index::open_in_dir(old.path()).unwrap();
        let _w: tantivy::IndexWriter = held.writer(15_000_000).unwrap();
        match Index::rebuild(old.path(), &new, 0, None) {
            Err(IndexError::Locked { .. }) => {}
            other => panic!("expected a lock error, got {other:?}"),
        }
    }

    let stats = Index::rebuild(old.path(), &new, 0, None).unwrap();
    assert_eq!(stats.from_version, 1);
    assert_eq!(stats.documents, 3);
    let index = Index::open_or_create(&new).unwrap();
    assert_eq!(index.num_docs().unwrap(), 3);
    // Every stored field comes across.
    for d in [&sr, &de, &comment] {
        assert_eq!(index.get(&d.id).unwrap().as_ref(), Some(d));
    }
    assert_eq!(
        index.get_extra(&comment.id).unwrap(),
        Some(DocExtra {
            content_hash: Some("hash-c".into()),
            cluster_id: Some("cluster-a".into()),
        })
    );
    // The derived fields v1 did not have now work: stems, word pairs,
    // Latin queries for Cyrillic text, and the country filter.
    assert_eq!(query(&index, "Flüchtlinge"), ["https://dw.de/1"]);
    assert_eq!(query(&index, "\"migranti su\""), ["https://n1.rs/1"]);
    let rs = index
        .search(&SearchRequest {
            query: "komentar OR granicu".into(),
            country: Some("RS".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(rs.total, 2);
    assert_eq!(
        index
            .search(&SearchRequest {
                query: "migranti".into(),
                ..Default::default()
            })
            .unwrap()
            .hits[0]
            .labels
            .as_ref(),
        Some(&labels)
    );

    // The old index is untouched, and a second rebuild into the new one is
    // refused instead of doubling it.
    assert!(matches!(
        Index::open_or_create(old.path()),
        Err(IndexError::SchemaVersion { found: 1, .. })
    ));
    match Index::rebuild(old.path(), &new, 0, None) {
        Err(e @ IndexError::InvalidRequest { .. }) => {
            assert!(e.to_string().contains("already holds documents"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(Index::open_or_create(&new).unwrap().num_docs().unwrap(), 3);
    // A directory without an index is named as such.
    let empty = tempfile::tempdir().unwrap();
    let e = Index::rebuild(empty.path(), &new_root.path().join("x"), 0, None).unwrap_err();
    assert!(e.to_string().contains("no index"), "{e}");
}

/// A commit's payload (an indexer's stream position) is stored with the
/// documents of that commit, survives closing and reopening, and a plain
/// commit after it keeps it.
#[test]
fn commit_payload_is_stored_with_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::open_or_create(dir.path()).unwrap();
    assert_eq!(index.commit_payload().unwrap(), None);
    let w = index.writer(20_000_000).unwrap();
    let src = source("n1", "rs", "sr");
    w.upsert(doc("https://n1.rs/p", "n1", "t", "migranti", None), &src)
        .unwrap();
    w.commit_with_payload(r#"{"stream_seq":42}"#.into())
        .unwrap();
    w.close().unwrap();
    let reopened = Index::open_or_create(dir.path()).unwrap();
    assert_eq!(reopened.num_docs().unwrap(), 1);
    assert_eq!(
        reopened.commit_payload().unwrap().as_deref(),
        Some(r#"{"stream_seq":42}"#)
    );
    let w = reopened.writer(20_000_000).unwrap();
    w.commit().unwrap();
    w.close().unwrap();
    assert_eq!(
        reopened.commit_payload().unwrap().as_deref(),
        Some(r#"{"stream_seq":42}"#)
    );
}

/// Each document says what dates it (publication, modification, fetch);
/// the stored document keeps its modification time; time series leave out
/// only the documents dated by their fetch, and say how many; search finds
/// them all.
#[test]
fn undated_documents_are_flagged_and_left_out_of_time_series() {
    use mediawatch_core::DateSource;
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(20_000_000).unwrap();
    let rs = source("n1", "RS", "sr");
    let dated = doc(
        "https://n1.rs/d",
        "n1",
        "A",
        "migranti",
        Some(t(2024, 3, 4)),
    );
    let mut modified = doc("https://n1.rs/m", "n1", "B", "migranti", None);
    modified.modified = Some(t(2024, 3, 5));
    let undated = doc("https://n1.rs/u", "n1", "C", "migranti", None);
    for d in [&dated, &modified, &undated] {
        w.upsert(d.clone(), &rs).unwrap();
    }
    w.commit().unwrap();
    w.close().unwrap();
    let hits = index
        .search(&SearchRequest {
            query: "migranti".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hits.total, 3, "search finds undated documents too");
    let source_of = |title: &str| {
        hits.hits
            .iter()
            .find(|h| h.title == title)
            .unwrap()
            .date_source
    };
    assert_eq!(source_of("A"), DateSource::Published);
    assert_eq!(source_of("B"), DateSource::Modified);
    assert_eq!(source_of("C"), DateSource::Fetched);
    let stored = index
        .get(&DocId::from_url("https://n1.rs/m"))
        .unwrap()
        .unwrap();
    assert_eq!(stored.modified, Some(t(2024, 3, 5)));
    assert_eq!(stored.published, None);
    assert_eq!(stored.date_source(), DateSource::Modified);
    // Trends: the modified document is dated (by its modification), the
    // undated one is left out and counted.
    let req = mediawatch_index::TrendRequest {
        filter: FactsFilter {
            query: Some("migranti".into()),
            ..Default::default()
        },
        report: mediawatch_report::ReportRequest {
            interval: mediawatch_report::Interval::Month,
            ..Default::default()
        },
        compare: vec![],
    };
    let r = index.report(&req).unwrap();
    assert_eq!((r.totals.documents, r.undated_left_out), (2, 1));
    let with = mediawatch_index::TrendRequest {
        filter: FactsFilter {
            include_undated: true,
            ..req.filter.clone()
        },
        ..req
    };
    let r = index.report(&with).unwrap();
    assert_eq!((r.totals.documents, r.undated_left_out), (3, 0));
}

/// Lemma lists travel with the index: a new index takes them, every later
/// open (a CLI search without the config) uses its own copy, a non-empty
/// index keeps them until a rebuild applies edited ones, and a broken list
/// is named with its line.
#[test]
fn lemma_lists_are_kept_with_the_index_and_applied_by_a_rebuild() {
    let tmp = tempfile::tempdir().unwrap();
    let lists = tmp.path().join("lemmas");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(lists.join("sr.txt"), "# people\nčovek: ljudi ljudima\n").unwrap();
    let at = tmp.path().join("index");
    let index = Index::open_or_create(&at).unwrap();
    assert_eq!(
        index.sync_lemmas(&lists).unwrap(),
        mediawatch_index::LemmaSync::Installed { forms: 2 }
    );
    let w = index.writer(0).unwrap();
    w.upsert(
        lang_doc(
            "https://n1/9",
            "n1",
            "sr",
            "Granica",
            "Ljudi čekaju na granici.",
        ),
        &source("n1", "RS", "sr"),
    )
    .unwrap();
    w.close().unwrap();
    assert_eq!(query(&index, "čovek"), ["https://n1/9"]);
    drop(index);
    let again = Index::open_or_create(&at).unwrap();
    assert_eq!(
        query(&again, "covek"),
        ["https://n1/9"],
        "the index's own copy"
    );
    // Edited lists: the index keeps its own until a rebuild.
    std::fs::write(lists.join("sr.txt"), "čovek: ljudima\n").unwrap();
    assert!(matches!(
        again.sync_lemmas(&lists).unwrap(),
        mediawatch_index::LemmaSync::Differs { .. }
    ));
    assert_eq!(query(&again, "čovek"), ["https://n1/9"]);
    drop(again);
    let rebuilt = tmp.path().join("rebuilt");
    Index::rebuild(&at, &rebuilt, 0, Some(&lists)).unwrap();
    let new = Index::open_or_create(&rebuilt).unwrap();
    assert!(
        query(&new, "čovek").is_empty(),
        "`ljudi` is no longer listed"
    );
    assert_eq!(query(&new, "ljudi"), ["https://n1/9"]);
    // A broken list names its file and line.
    std::fs::write(rebuilt.join("lemmas/sr.txt"), "čovek ljudi\n").unwrap();
    drop(new);
    let e = Index::open_or_create(&rebuilt).unwrap_err().to_string();
    assert!(
        e.contains("sr.txt line 1") && e.contains("lemma: form"),
        "{e}"
    );
}

/// Speaker roles of hostile statements travel with each document's label
/// flags into the fact rows, and reports split by them (the table path
/// and the row path alike); label facets are unchanged by them.
#[test]
fn reports_split_hostility_by_speaker_role() {
    use mediawatch_core::{Attribution, SpeakerRole};
    use mediawatch_index::TrendRequest;
    use mediawatch_report::{build_report, GroupBy, Interval, ReportRequest};
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let src = source("n1", "RS", "sr");
    let attributed = |url: &str, roles: &[SpeakerRole]| {
        let mut l = Labels {
            model_version: "t".into(),
            ..Default::default()
        };
        l.relevance.score = 0.9;
        l.collective_labelling.score = 0.9;
        l.attributions = roles
            .iter()
            .map(|r| Attribution {
                start: 0,
                end: 8,
                cue: "migranti".into(),
                role: *r,
                speaker: None,
                targets: vec!["migrants".into()],
            })
            .collect();
        let mut d = lang_doc(url, "n1", "sr", "Migranti", "Migranti su talas.");
        d.labels = Some(l);
        d
    };
    for d in [
        attributed("https://n1/a", &[SpeakerRole::Outlet]),
        attributed("https://n1/b", &[SpeakerRole::Quoted, SpeakerRole::Outlet]),
        attributed("https://n1/c", &[]),
    ] {
        w.upsert(d, &src).unwrap();
    }
    w.close().unwrap();
    let rows = index.facts(&FactsFilter::default()).unwrap();
    let mut bits: Vec<u8> = rows.iter().map(|r| r.speakers).collect();
    bits.sort();
    assert_eq!(bits, [0, 1, 3]);
    // The eight label flags are what they were.
    assert!(rows.iter().all(|r| r.flags[3] && r.flags[0]));
    let report = ReportRequest {
        interval: Interval::Month,
        by: GroupBy::Speaker,
        ..Default::default()
    };
    let got = index
        .report(&TrendRequest {
            filter: FactsFilter::default(),
            report: report.clone(),
            compare: vec![],
        })
        .unwrap();
    let mut expected = build_report(&rows, &report);
    expected.undated_left_out = got.undated_left_out;
    assert_eq!(got, expected);
    let per: Vec<(String, u64)> = got
        .buckets
        .iter()
        .map(|b| (b.group.clone().unwrap_or_default(), b.documents))
        .collect();
    assert_eq!(
        per,
        [
            ("none".to_string(), 1),
            ("outlet".to_string(), 2),
            ("quoted".to_string(), 1)
        ]
    );
}
