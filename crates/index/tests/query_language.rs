//! The query language: field, label and date filters, proximity, and the
//! errors for malformed filters.

use chrono::{DateTime, TimeZone, Utc};
use mediawatch_core::{DocId, DocKind, Document, HateClass, Labels, SourceMeta};
use mediawatch_index::{FactsFilter, Index, IndexError, SearchRequest};

fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
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

struct Spec {
    name: &'static str,
    src: (&'static str, &'static str, &'static str),
    kind: DocKind,
    title: &'static str,
    text: &'static str,
    published: DateTime<Utc>,
    /// (hate, class, collective, threat, victim, relevance, solutions)
    labels: Option<(f32, HateClass, f32, f32, f32, f32, f32)>,
}

/// Five documents:
/// - a1 n1/RS/sr article 2026-01-15, hate 0.9 (hate), collective 0.6, threat 0.8
/// - a2 klix/BA/bs article 2026-02-10, hate 0.3 (offensive), collective 0.4,
///   threat 0.1, victim 0.7
/// - a3 hvg/HU/hu article 2026-03-04 12:00, hate 0 (none), relevance 0.95,
///   solutions 0.6
/// - a4 n1/RS/sr comment 2026-03-04 23:30, unlabelled
/// - a5 index-hr/HR/hr article 2026-04-01 00:00 exactly, unlabelled
fn corpus() -> Index {
    let specs = [
        Spec {
            name: "a1",
            src: ("n1", "RS", "sr"),
            kind: DocKind::Article,
            title: "Migranti na granici",
            text: "Migranti su stigli na granicu kod Subotice.",
            published: at(2026, 1, 15, 12, 0),
            labels: Some((0.9, HateClass::Hate, 0.6, 0.8, 0.0, 0.8, 0.0)),
        },
        Spec {
            name: "a2",
            src: ("klix", "BA", "bs"),
            kind: DocKind::Article,
            title: "Migranti u kampu",
            text: "Migranti čekaju u kampu Lipa pored Bihaća.",
            published: at(2026, 2, 10, 12, 0),
            labels: Some((0.3, HateClass::Offensive, 0.4, 0.1, 0.7, 0.7, 0.0)),
        },
        Spec {
            name: "a3",
            src: ("hvg", "HU", "hu"),
            kind: DocKind::Article,
            title: "Migránsok a határon",
            text: "A migránsok a határnál várnak.",
            published: at(2026, 3, 4, 12, 0),
            labels: Some((0.0, HateClass::None, 0.0, 0.0, 0.0, 0.95, 0.6)),
        },
        Spec {
            name: "a4",
            src: ("n1", "RS", "sr"),
            kind: DocKind::Comment,
            title: "Komentar",
            text: "Migranti napolje",
            published: at(2026, 3, 4, 23, 30),
            labels: None,
        },
        Spec {
            name: "a5",
            src: ("index-hr", "HR", "hr"),
            kind: DocKind::Article,
            title: "Izbori",
            text: "Kampanja za izbore. Nema reči o granici.",
            published: at(2026, 4, 1, 0, 0),
            labels: None,
        },
    ];
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    for s in specs {
        let url = format!("https://example.org/{}", s.name);
        let labels = s
            .labels
            .map(|(hate, class, coll, threat, victim, rel, sol)| {
                let mut l = Labels {
                    model_version: "test".into(),
                    ..Default::default()
                };
                l.hate.score = hate;
                l.hate.class = class;
                l.collective_labelling.score = coll;
                l.frame.threat = threat;
                l.frame.victim = victim;
                l.relevance.score = rel;
                l.solutions.score = sol;
                l
            });
        let d = Document {
            labels,
            ..mediawatch_testkit::doc(&url)
                .source(s.src.0)
                .title(s.title)
                .text(s.text)
                .published(s.published)
                .fetched(s.published)
                .kind(s.kind)
                .build()
        };
        w.upsert(d, &source(s.src.0, s.src.1, s.src.2)).unwrap();
    }
    w.close().unwrap();
    index
}

fn search(index: &Index, req: SearchRequest) -> Vec<String> {
    let q = req.query.clone();
    let res = index
        .search(&SearchRequest { limit: 50, ..req })
        .unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
    assert_eq!(res.total, res.hits.len(), "{q:?}");
    res.hits
        .into_iter()
        .map(|h| h.url.trim_start_matches("https://example.org/").to_string())
        .collect()
}

/// Names of the matching documents, sorted.
fn names(index: &Index, q: &str) -> Vec<String> {
    let mut v = search(
        index,
        SearchRequest {
            query: q.into(),
            ..Default::default()
        },
    );
    v.sort();
    v
}

fn check(index: &Index, cases: &[(&str, &[&str])]) {
    for (q, expected) in cases {
        assert_eq!(names(index, q), *expected, "query {q:?}");
    }
}

#[test]
fn field_filters_match_exclude_and_combine() {
    let index = corpus();
    check(
        &index,
        &[
            ("country:RS", &["a1", "a4"]),
            ("country:rs", &["a1", "a4"]),
            ("Country:Rs", &["a1", "a4"]),
            ("country:\"RS\"", &["a1", "a4"]),
            ("country:RS country:BA", &["a1", "a2", "a4"]),
            ("country:RS|BA", &["a1", "a2", "a4"]),
            ("country:rs,ba", &["a1", "a2", "a4"]),
            ("-country:HU", &["a1", "a2", "a4", "a5"]),
            ("NOT country:HU", &["a1", "a2", "a4", "a5"]),
            ("-country:HU -country:HR", &["a1", "a2", "a4"]),
            ("lang:SR", &["a1", "a4"]),
            ("lang:bs lang:hu", &["a2", "a3"]),
            ("source:klix", &["a2"]),
            ("source:n1 -kind:comment", &["a1"]),
            ("kind:comment", &["a4"]),
            ("kind:Comment", &["a4"]),
            ("kind:article country:RS", &["a1"]),
            ("+country:RS +kind:article", &["a1"]),
            // With text terms.
            ("migranti country:RS", &["a1", "a4"]),
            ("country:RS migranti", &["a1", "a4"]),
            ("migranti AND country:RS", &["a1", "a4"]),
            ("country:RS AND migranti", &["a1", "a4"]),
            ("migranti -country:RS", &["a2"]),
            ("migranti NOT country:RS", &["a2"]),
            ("(migranti OR migransok) -country:RS", &["a2", "a3"]),
            ("\"migranti su\" country:RS", &["a1"]),
            ("title:migranti kind:article", &["a1", "a2"]),
            // Excluding words inside a filtered browse.
            ("country:RS -napolje", &["a1"]),
            // Inside parentheses the values are normalised and passed on.
            ("migranti (country:rs OR lang:BS)", &["a1", "a2", "a4"]),
            // Nothing of another field matches.
            ("country:RS lang:hu", &[]),
            ("country:XX", &[]),
        ],
    );
    // Query filters and request filters must both hold.
    let req = |country: &str| SearchRequest {
        query: "country:RS|BA".into(),
        country: Some(country.into()),
        ..Default::default()
    };
    assert_eq!(search(&index, req("ba")), ["a2"]);
    assert!(search(&index, req("HU")).is_empty());
}

#[test]
fn label_thresholds_skip_unlabelled_documents() {
    let index = corpus();
    check(
        &index,
        &[
            ("hate>0.7", &["a1"]),
            ("hate>=0.3", &["a1", "a2"]),
            // The stored f32 0.3 counts as 0.3, on both sides of the bound.
            ("hate<=0.3", &["a2", "a3"]),
            ("hate>0.3", &["a1"]),
            ("hate<0.3", &["a3"]),
            // a4 and a5 are unlabelled: never matched, even by "< x".
            ("hate<0.2", &["a3"]),
            ("hate>=0", &["a1", "a2", "a3"]),
            ("hate>0.2 hate<0.5", &["a2"]),
            ("HATE>0.7", &["a1"]),
            ("collective>=0.5", &["a1"]),
            ("collective>0.5", &["a1"]),
            ("threat<0.2", &["a2", "a3"]),
            ("threat>0.5", &["a1"]),
            ("victim>0.5", &["a2"]),
            ("recognition>0", &[]),
            ("recognition<=0", &["a1", "a2", "a3"]),
            ("relevance>0.9", &["a3"]),
            ("solutions>=0.6", &["a3"]),
            // Negated comparison: the other labelled documents.
            ("-hate>0.7", &["a2", "a3"]),
            ("NOT hate>0.7", &["a2", "a3"]),
            ("class:hate", &["a1"]),
            ("class:HATE", &["a1"]),
            ("class:offensive|none", &["a2", "a3"]),
            ("class:offensive class:none", &["a2", "a3"]),
            ("-class:hate", &["a2", "a3"]),
            // Combined with text and with field filters.
            ("migranti hate>0.5", &["a1"]),
            ("migranti hate>=0", &["a1", "a2"]),
            ("country:BA|HU hate<0.5", &["a2", "a3"]),
            ("migranti -country:RS class:offensive", &["a2"]),
        ],
    );
}

#[test]
fn date_filters_use_whole_days_and_months() {
    let index = corpus();
    check(
        &index,
        &[
            // a5 is 2026-04-01 00:00: outside March.
            ("date:2026-03", &["a3", "a4"]),
            ("date:2026-04", &["a5"]),
            ("date:2026", &["a1", "a2", "a3", "a4", "a5"]),
            ("date:2025", &[]),
            // a4 is 23:30 on the 4th.
            ("date:2026-03-04", &["a3", "a4"]),
            ("date:2026-03-05", &[]),
            ("date:2026-01 date:2026-02", &["a1", "a2"]),
            ("-date:2026-03", &["a1", "a2", "a5"]),
            ("date>=2026-01-01", &["a1", "a2", "a3", "a4", "a5"]),
            ("date<2026-02-01", &["a1"]),
            ("date>=2026-02-10 date<2026-04-01", &["a2", "a3", "a4"]),
            ("date<=2026-03-04", &["a1", "a2", "a3", "a4"]),
            ("date>2026-03-04", &["a5"]),
            ("date<=2026-02", &["a1", "a2"]),
            ("date>2026-02", &["a3", "a4", "a5"]),
            ("date>=2026-04-01", &["a5"]),
            ("date<2026-04-01", &["a1", "a2", "a3", "a4"]),
            ("-date>=2026-03-01", &["a1", "a2"]),
            // Instants.
            ("date>=2026-02-10T12:00:00Z", &["a2", "a3", "a4", "a5"]),
            ("date>2026-02-10T12:00:00Z", &["a3", "a4", "a5"]),
            ("date<=2026-03-04T23:30:00+00:00", &["a1", "a2", "a3", "a4"]),
            // With text and other filters.
            ("migranti date:2026-03", &["a4"]),
            ("country:RS date>=2026-02-01", &["a4"]),
            ("hate>=0 date:2026-03-04", &["a3"]),
        ],
    );
}

#[test]
fn filter_only_queries_browse_newest_first() {
    let index = corpus();
    for sort_by_date in [false, true] {
        let got = search(
            &index,
            SearchRequest {
                query: "country:RS|BA".into(),
                sort_by_date,
                ..Default::default()
            },
        );
        assert_eq!(got, ["a4", "a2", "a1"], "sort_by_date {sort_by_date}");
    }
    // Paging over a filtered browse.
    let res = index
        .search(&SearchRequest {
            query: "date:2026".into(),
            limit: 2,
            offset: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(res.total, 5);
    let urls: Vec<_> = res.hits.iter().map(|h| h.url.as_str()).collect();
    assert_eq!(urls, ["https://example.org/a4", "https://example.org/a3"]);
    // Filters do not change the relevance score of text matches.
    let score = |q: &str| {
        index
            .search(&SearchRequest {
                query: q.into(),
                ..Default::default()
            })
            .unwrap()
            .hits[0]
            .score
    };
    assert_eq!(score("kampu"), score("kampu country:BA hate>0.1 date:2026"));
}

#[test]
fn proximity_passes_through_with_the_mw_analyzer() {
    let index = corpus();
    check(
        &index,
        &[
            // "Migranti su stigli na granicu": two words in between.
            ("\"migranti granicu\"", &[]),
            ("\"migranti granicu\"~1", &[]),
            ("\"migranti granicu\"~3", &["a1"]),
            ("\"мигранти границу\"~3", &["a1"]),
            ("\"MIGRANTI GRANICU\"~5", &["a1"]),
            ("\"migranti kampu\"~2", &["a2"]),
            ("\"cekaju lipa\"~1", &[]),
            ("\"cekaju lipa\"~2", &["a2"]),
            ("\"migranti granicu\"~3 country:RS", &["a1"]),
            ("\"migranti granicu\"~3 country:BA", &[]),
            ("title:\"migranti granici\"~1", &["a1"]),
        ],
    );
}

#[test]
fn facts_accept_the_query_language() {
    let index = corpus();
    let rows = |q: &str| {
        index
            .facts(&FactsFilter {
                query: Some(q.into()),
                ..Default::default()
            })
            .unwrap()
            .len()
    };
    assert_eq!(rows("hate>0.5"), 1);
    assert_eq!(rows("country:RS"), 2);
    assert_eq!(rows("migranti date:2026-03"), 1);
    assert_eq!(rows("-country:RS"), 3);
}

/// `(query, token that the message must quote, its 1-based position, a
/// phrase the message must contain)`.
const BAD: &[(&str, &str, usize, &str)] = &[
    ("hate>2", "hate>2", 1, "out of range"),
    ("hate>-0.1", "hate>-0.1", 1, "out of range"),
    ("migranti hate>1.5", "hate>1.5", 10, "between 0 and 1"),
    ("hate>abc", "hate>abc", 1, "not a number"),
    ("hate>NaN", "hate>NaN", 1, "not a number"),
    ("hate>", "hate>", 1, "not a number"),
    ("hat>0.5", "hat>0.5", 1, "relevance, hate, collective"),
    ("  hate>2", "hate>2", 3, "out of range"),
    ("мигранти hate>2", "hate>2", 10, "out of range"),
    ("x Collectiv>=0.5", "Collectiv>=0.5", 3, "unknown label"),
    ("hate=0.5", "hate=0.5", 1, "use >, >=, < or <="),
    ("hate:0.5", "hate:0.5", 1, "hate>0.7"),
    ("date>2026-13-01", "date>2026-13-01", 1, "invalid date"),
    ("a date<2026-02-30", "date<2026-02-30", 3, "invalid date"),
    ("date:2026-3", "date:2026-3", 1, "YYYY-MM"),
    ("date:yesterday", "date:yesterday", 1, "invalid date"),
    ("date:", "date:", 1, "needs a value"),
    ("country:", "country:", 1, "needs a value"),
    ("migranti  country:", "country:", 11, "needs a value"),
    ("-lang:", "-lang:", 1, "needs a value"),
    ("country:|", "country:|", 1, "needs a value"),
    ("kind:video", "kind:video", 1, "article, post, comment"),
    ("class:bad", "class:bad", 1, "hate, offensive, none"),
    ("country:[RS]", "country:[RS]", 1, "plain values"),
    ("date:1850", "date:1850", 1, "years 1900 to 2199"),
    (
        "date<=9999-01-01",
        "date<=9999-01-01",
        1,
        "years 1900 to 2199",
    ),
    ("migranti OR country:RS", "country:RS", 13, "OR"),
    ("country:RS OR migranti", "country:RS", 1, "OR"),
    ("(migranti OR hate>0.5)", "hate>0.5", 14, "parentheses"),
    ("(migranti OR hat>0.5)", "hat>0.5", 14, "unknown label"),
    ("(a date:2026)", "date:2026", 4, "parentheses"),
];

#[test]
fn bad_filters_name_the_token_and_its_position() {
    let index = corpus();
    for (q, token, col, needle) in BAD {
        match index.search(&SearchRequest {
            query: (*q).into(),
            ..Default::default()
        }) {
            Err(IndexError::Query { query, message }) => {
                assert_eq!(query, *q);
                assert!(
                    message.contains(&format!("'{token}'")),
                    "{q:?}: token missing: {message}"
                );
                assert!(
                    message.contains(&format!("at character {col}")),
                    "{q:?}: position missing: {message}"
                );
                assert!(message.contains(needle), "{q:?}: {message}");
            }
            other => panic!("{q:?} should be a query error, got {other:?}"),
        }
    }
}

#[test]
fn odd_inputs_never_panic() {
    let index = corpus();
    let long_filters = "country:RS ".repeat(500);
    let long_labels = "hate>0.1 ".repeat(300);
    let inputs = [
        "",
        " ",
        ":",
        "::",
        "-",
        "+",
        "--country:RS",
        "-+country:RS",
        "+-hate>0.5",
        "NOT",
        "NOT NOT country:RS",
        "AND country:RS",
        "country:RS AND",
        "country:RS AND AND migranti",
        "OR",
        "country:RS OR",
        ">",
        ">=",
        "<0.5",
        "<b>",
        "a>b",
        "a<b>c",
        "hate>>0.5",
        "hate>=<0.5",
        "hate>0.5.5",
        "hate>1e-3",
        "hate>1e309",
        "hate>inf",
        "hate>0x1",
        "date>",
        "date>=",
        "date:-",
        "date:2026-",
        "date:2026-02-",
        "date:99999",
        "date:+2026",
        "date:0000-01-01",
        "date>=0000-01-01",
        "date>=9999-12",
        "date:9999-12-31",
        "date>-0001-01-01T00:00:00Z",
        "date>=2026-01-01T25:00:00Z",
        "country:RS|",
        "country:|RS",
        "country:,,,",
        "country:\"\"",
        "country:\"",
        "country:\"RS",
        "source:\u{0}",
        "kind:",
        "class:",
        "class:hate|",
        "class:|||",
        "lang:ſr",
        "country:ŞR",
        "ДАТУМ>0.5",
        "date:２０２６",
        "hate>０.５",
        "\"migranti granicu\"~",
        "\"migranti granicu\"~-1",
        "\"migranti granicu\"~99999999999999999999",
        "\"migranti\"~3",
        "\"\"~3",
        "(country:RS)",
        "((country:rs))",
        "(-country:RS)",
        "(country:)",
        "(kind:video)",
        "title:country:RS",
        "title:(country:RS)",
        "country:RS title:",
        "\\country:RS",
        "country\\:RS",
        "country:R\\ S",
        "*",
        "* country:RS",
        "country:RS *",
        "-migranti -country:RS",
        "country:RS -",
        "country:RS !!!",
        "country:RS )",
        "country:RS (",
        "country:RS \"",
        long_filters.as_str(),
        long_labels.as_str(),
    ];
    for q in inputs {
        for sort_by_date in [false, true] {
            let req = SearchRequest {
                query: q.into(),
                sort_by_date,
                collapse_clusters: sort_by_date,
                ..Default::default()
            };
            match index.search(&req) {
                Ok(_) => {}
                Err(IndexError::Query { message, .. }) => assert!(!message.is_empty()),
                Err(other) => panic!("{q:?}: unexpected error kind: {other}"),
            }
        }
        match index.facts(&FactsFilter {
            query: Some(q.into()),
            ..Default::default()
        }) {
            Ok(_) | Err(IndexError::Query { .. }) => {}
            Err(other) => panic!("facts {q:?}: unexpected error kind: {other}"),
        }
    }
}

#[test]
fn label_filters_on_segments_without_labels() {
    // First segment: unlabelled only (no label columns at all); second:
    // one labelled document.
    let index = Index::create_in_ram().unwrap();
    let w = index.writer(0).unwrap();
    let mk = |name: &str, labels: Option<Labels>| Document {
        // The id of the bare name, the URL under example.org: the test
        // needs only that they differ per document.
        id: DocId::from_url(name),
        labels,
        ..mediawatch_testkit::doc(&format!("https://example.org/{name}"))
            .source("n1")
            .title("Naslov")
            .text("tekst o migrantima")
            .published(at(2026, 5, 1, 8, 0))
            .fetched(at(2026, 5, 1, 9, 0))
            .build()
    };
    let rs = source("n1", "RS", "sr");
    w.upsert(mk("u1", None), &rs).unwrap();
    w.commit().unwrap();
    check(
        &index,
        &[("hate<0.5", &[]), ("class:none", &[]), ("-class:hate", &[])],
    );
    let mut l = Labels::default();
    l.hate.score = 0.25;
    w.upsert(mk("l1", Some(l)), &rs).unwrap();
    w.close().unwrap();
    check(
        &index,
        &[
            ("hate<0.5", &["l1"]),
            ("hate<=0.25", &["l1"]),
            ("hate<0.25", &[]),
            ("class:none", &["l1"]),
            ("-class:hate", &["l1"]),
            ("migrantima hate>0.2", &["l1"]),
            ("date:2026-05-01", &["l1", "u1"]),
        ],
    );
}
