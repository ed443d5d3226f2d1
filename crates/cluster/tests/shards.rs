//! A sharded index answers like one index: the same corpus indexed whole
//! and split over three shards (routed as the workers route, by cluster),
//! asked the same questions through [`Sharded`] (over in-process shards;
//! the HTTP path between api and index nodes is the one tests/cluster.rs
//! runs).

use mediawatch_classify::{Classifier, LexiconClassifier};
use mediawatch_cluster::{DocMessage, LocalShard, ShardClient, Sharded};
use mediawatch_core::{DocId, SourceMeta};
use mediawatch_index::{DocExtra, FactsFilter, Index, SearchRequest, TermsRequest, TrendRequest};
use mediawatch_query::QueryBackend;
use mediawatch_report::{GroupBy, Interval, ReportRequest};

const WORDS: &[&str] = &[
    "migranti",
    "granica",
    "policija",
    "kamp",
    "azil",
    "škola",
    "jezik",
    "opština",
    "pomoć",
    "izbeglice",
    "talas",
    "invazija",
    "porodica",
    "rad",
    "zdravlje",
    "sud",
    "vlada",
    "most",
];

fn corpus() -> Vec<DocMessage> {
    let classifier = LexiconClassifier::new();
    let sources: Vec<SourceMeta> = [("n1", "RS", "sr"), ("n2", "BA", "bs"), ("n3", "HR", "hr")]
        .iter()
        .map(|(id, c, l)| SourceMeta {
            country: (*c).into(),
            languages: vec![(*l).into()],
            ..mediawatch_testkit::source(id)
        })
        .collect();
    let mut out = Vec::new();
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as usize
    };
    for i in 0..400usize {
        let src = &sources[i % 3];
        // Texts of different lengths and word mixes, so BM25 scores differ
        // and depend on the whole collection's statistics.
        let n = 6 + next() % 40;
        let text: Vec<&str> = (0..n).map(|_| WORDS[next() % WORDS.len()]).collect();
        let mut text = text.join(" ");
        if i % 7 == 0 {
            text.push_str(" Migranti su talas koji preplavljuje zemlju.");
        }
        let url = format!("https://{}.example/{i}", src.id);
        let labels = classifier.classify(&text, Some(&src.languages[0])).unwrap();
        let mut doc = mediawatch_testkit::doc(&url)
            .source(&src.id)
            .title(&format!("Vest {i} {}", WORDS[i % WORDS.len()]))
            .text(&text)
            .lang(&src.languages[0])
            .published(mediawatch_testkit::day(
                2026,
                1 + (i % 6) as u32,
                1 + (i % 27) as u32,
            ))
            .labels(labels)
            .build();
        // Some state no date (dated by their fetch), some only a
        // modification: browsing by date must order them as one index does.
        if i % 17 == 3 {
            doc.published = None;
            doc.fetched = mediawatch_testkit::day(2026, 2, 1 + (i % 20) as u32);
        } else if i % 17 == 5 {
            doc.modified = doc.published.take();
        }
        // Every fifth document is a copy of an earlier story: its cluster
        // is that story's id.
        let cluster_id = (i % 5 == 4).then(|| {
            DocId::from_url(&format!(
                "https://{}.example/{}",
                sources[(i - 4) % 3].id,
                i - 4
            ))
            .to_string()
        });
        out.push(DocMessage {
            doc,
            source: src.clone(),
            extra: DocExtra {
                content_hash: None,
                cluster_id,
            },
        });
    }
    out
}

fn index_of<'a>(docs: impl Iterator<Item = &'a DocMessage>) -> Index {
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(20_000_000).unwrap();
    let docs: Vec<&DocMessage> = docs.collect();
    w.upsert_batch(docs.iter().map(|d| (&d.doc, &d.source, &d.extra)))
        .unwrap();
    w.commit().unwrap();
    w.close().unwrap();
    index
}

fn setup() -> (Index, Sharded) {
    const SHARDS: usize = 3;
    let docs = corpus();
    let whole = index_of(docs.iter());
    let shards: Vec<Box<dyn ShardClient>> = (0..SHARDS)
        .map(|k| {
            let part = index_of(docs.iter().filter(|d| d.shard(SHARDS) == k));
            assert!(part.num_docs().unwrap() > 50, "shard {k} is nearly empty");
            Box::new(LocalShard(part)) as Box<dyn ShardClient>
        })
        .collect();
    (whole, Sharded::new(shards))
}

/// (score, id) of each hit; scores to 5 decimals.
fn ranked(r: &mediawatch_index::SearchResults) -> Vec<(String, String)> {
    r.hits
        .iter()
        .map(|h| (format!("{:.5}", h.score), h.id.clone()))
        .collect()
}

/// Within a run of equal scores the order is each index's document
/// order, which differs between indexes built apart: compare the runs as
/// sets.
fn by_score_runs(v: Vec<(String, String)>) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (s, id) in v {
        match out.last_mut() {
            Some((last, ids)) if *last == s => ids.push(id),
            _ => out.push((s, vec![id])),
        }
    }
    for (_, ids) in &mut out {
        ids.sort();
    }
    out
}

#[test]
fn a_sharded_index_answers_like_one_index() {
    let (whole, sharded) = setup();
    assert_eq!(
        QueryBackend::num_docs(&sharded).unwrap(),
        whole.num_docs().unwrap()
    );
    let queries = [
        "migranti",
        "granica policija",
        "\"migranti su\"",
        "talas OR invazija",
        "azil -škola",
        "country:RS migranti",
        "",
        "class:offensive",
        "migranti date:2026-03",
    ];
    for q in queries {
        for (sort_by_date, collapse_clusters) in [(false, false), (true, false), (false, true)] {
            let req = SearchRequest {
                query: q.into(),
                limit: 1000,
                sort_by_date,
                collapse_clusters,
                ..Default::default()
            };
            let a = whole.search(&req).unwrap();
            let b = QueryBackend::search(&sharded, &req).unwrap();
            let what = format!("{q:?} by_date={sort_by_date} collapse={collapse_clusters}");
            assert_eq!(a.total, b.total, "total of {what}");
            assert_eq!(a.facets, b.facets, "facets of {what}");
            assert_eq!(
                by_score_runs(ranked(&a)),
                by_score_runs(ranked(&b)),
                "hits of {what}"
            );
            if collapse_clusters {
                let dups = |r: &mediawatch_index::SearchResults| {
                    let mut v: Vec<(String, usize)> = r
                        .hits
                        .iter()
                        .map(|h| (h.cluster_id.clone(), h.duplicates))
                        .collect();
                    v.sort();
                    v
                };
                assert_eq!(dups(&a), dups(&b), "duplicates of {what}");
            }
            // A page deep in the list has the same scores.
            let page = SearchRequest {
                offset: 7,
                limit: 5,
                ..req.clone()
            };
            let pa: Vec<String> = ranked(&whole.search(&page).unwrap())
                .into_iter()
                .map(|x| x.0)
                .collect();
            let pb: Vec<String> = ranked(&QueryBackend::search(&sharded, &page).unwrap())
                .into_iter()
                .map(|x| x.0)
                .collect();
            assert_eq!(pa, pb, "scores of page 2 of {what}");
        }
    }
    // Reports: by source, country, language, with clusters counted once,
    // and compared queries.
    for (by, dedup, compare) in [
        (GroupBy::Source, false, vec![]),
        (GroupBy::Country, true, vec![]),
        (GroupBy::Language, false, vec![]),
        (
            GroupBy::None,
            true,
            vec!["talas".to_string(), "škola".to_string()],
        ),
    ] {
        let req = TrendRequest {
            filter: FactsFilter {
                query: Some("migranti".into()),
                ..Default::default()
            },
            report: ReportRequest {
                interval: Interval::Month,
                by,
                count_clusters_once: dedup,
                ..Default::default()
            },
            compare,
        };
        let a = QueryBackend::report(&whole, &req).unwrap();
        let b = QueryBackend::report(&sharded, &req).unwrap();
        assert_eq!(a, b, "report by {by:?} dedup={dedup}");
    }
    // Facts (order aside) and documents.
    let f = FactsFilter {
        query: Some("kamp".into()),
        ..Default::default()
    };
    let key = |v: Vec<mediawatch_index::DocFacts>| {
        let mut k: Vec<String> = v.iter().map(|r| format!("{r:?}")).collect();
        k.sort();
        k
    };
    assert_eq!(
        key(QueryBackend::facts(&whole, &f).unwrap()),
        key(QueryBackend::facts(&sharded, &f).unwrap())
    );
    let id = DocId::from_url("https://n2.example/10");
    assert_eq!(
        QueryBackend::document(&whole, &id).unwrap(),
        QueryBackend::document(&sharded, &id).unwrap()
    );
    assert!(
        QueryBackend::document(&sharded, &DocId::from_url("https://none/1"))
            .unwrap()
            .is_none()
    );
    // Rising terms, overall and per country.
    let terms = TermsRequest {
        from: mediawatch_testkit::day(2026, 4, 1),
        to: mediawatch_testkit::day(2026, 7, 1),
        background_from: mediawatch_testkit::day(2026, 1, 1),
        background_to: mediawatch_testkit::day(2026, 4, 1),
        limit: 5,
        ..Default::default()
    };
    for countries in [vec![], vec!["RS".to_string(), "BA".to_string()]] {
        let a = QueryBackend::top_terms(&whole, &terms, &countries).unwrap();
        let b = QueryBackend::top_terms(&sharded, &terms, &countries).unwrap();
        assert!(!a[0].1.terms.is_empty());
        assert_eq!(a, b, "terms for {countries:?}");
    }
    // A bad query is the caller's fault on every shard.
    let bad = SearchRequest {
        query: "date>=notadate".into(),
        ..Default::default()
    };
    assert!(matches!(
        QueryBackend::search(&sharded, &bad),
        Err(mediawatch_query::QueryError::Invalid(_))
    ));
}
