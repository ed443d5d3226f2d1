//! Top terms / emerging narratives through the public API.

use chrono::{DateTime, Duration, TimeZone, Utc};
use mediawatch_core::{Document, SourceMeta};
use mediawatch_index::{
    analyzer, is_content_term, log_likelihood, Index, IndexError, TermStat, TermsRequest,
    TermsResult, SIGNIFICANT_LLR,
};

fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
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

fn doc(url: &str, source_id: &str, title: &str, text: &str, published: DateTime<Utc>) -> Document {
    mediawatch_testkit::doc(url)
        .source(source_id)
        .title(title)
        .text(text)
        .published(published)
        .fetched(published)
        .build()
}

/// Flat text: the same in every document of both periods, with stopwords
/// of several languages, a number and short words.
const BASE_BCMS: &str = "Vlada je rekla da ekonomija raste, a migranti koji čekaju \
                         su u centru. Parlament 2024 the und што";
const BASE_HU: &str = "A kormány szerint a migránsok száma nő, és a parlament vitatja. 2024";

/// Background: January 2024. Foreground: February 2024.
///
/// - RS (20 + 20 docs): every foreground document has `Граница` in the
///   title and `granica` in the text (count 40, docs 20), plus surging
///   stopwords; two background documents mention `granica` once.
/// - HU (20 + 20 docs): ten foreground documents mention `kerítés` once.
/// - HR (10 + 10 docs): flat.
fn corpus() -> Index {
    let index = Index::create_in_ram().expect("index");
    let w = index.writer(20_000_000).expect("writer");
    let rs = source("n1", "RS", "sr");
    let hu = source("index-hu", "HU", "hu");
    let hr = source("index-hr", "HR", "hr");
    for i in 0..20u32 {
        let bg_day = t(2024, 1, 1) + Duration::hours(i64::from(i) * 30);
        let fg_day = t(2024, 2, 1) + Duration::hours(i64::from(i) * 30);
        let bg_text = if i < 2 {
            format!("{BASE_BCMS} granica")
        } else {
            BASE_BCMS.to_string()
        };
        w.upsert(
            doc(
                &format!("https://n1.rs/bg/{i}"),
                "n1",
                "Vesti",
                &bg_text,
                bg_day,
            ),
            &rs,
        )
        .expect("upsert");
        w.upsert(
            doc(
                &format!("https://n1.rs/fg/{i}"),
                "n1",
                "Граница",
                &format!("{BASE_BCMS} granica који који und und 1999"),
                fg_day,
            ),
            &rs,
        )
        .expect("upsert");
        w.upsert(
            doc(
                &format!("https://index.hu/bg/{i}"),
                "index-hu",
                "Hírek",
                BASE_HU,
                bg_day,
            ),
            &hu,
        )
        .expect("upsert");
        let hu_fg = if i % 2 == 0 {
            format!("{BASE_HU} kerítés")
        } else {
            BASE_HU.to_string()
        };
        w.upsert(
            doc(
                &format!("https://index.hu/fg/{i}"),
                "index-hu",
                "Hírek",
                &hu_fg,
                fg_day,
            ),
            &hu,
        )
        .expect("upsert");
        if i < 10 {
            for (period, day) in [("bg", bg_day), ("fg", fg_day)] {
                w.upsert(
                    doc(
                        &format!("https://index.hr/{period}/{i}"),
                        "index-hr",
                        "Vijesti",
                        BASE_BCMS,
                        day,
                    ),
                    &hr,
                )
                .expect("upsert");
            }
        }
    }
    w.close().expect("close");
    index
}

fn request() -> TermsRequest {
    TermsRequest {
        from: t(2024, 2, 1),
        to: t(2024, 3, 1),
        background_from: t(2024, 1, 1),
        background_to: t(2024, 2, 1),
        limit: 20,
        ..Default::default()
    }
}

fn find<'a>(r: &'a TermsResult, term: &str) -> Option<&'a TermStat> {
    r.terms.iter().find(|s| s.term == term)
}

#[test]
fn surging_term_in_both_scripts_ranks_first_and_is_significant() {
    let index = corpus();
    let r = index.top_terms(&request()).expect("top terms");
    assert_eq!(r.foreground_docs, 50);
    assert_eq!(r.background_docs, 50);
    assert!(!r.sampled);
    let first = r.terms.first().expect("some rising term");
    assert_eq!(first.term, "granica", "terms: {:?}", r.terms);
    // Title `Граница` and text `granica` are one term: 2 per document.
    assert_eq!(first.count, 40);
    assert_eq!(first.docs, 20);
    assert_eq!(first.background, 2);
    assert!(first.significant && first.llr > SIGNIFICANT_LLR);
    assert!(first.ratio > 1.0);
    assert_eq!(
        first.llr,
        log_likelihood(40, r.foreground_tokens, 2, r.background_tokens)
    );
    // kerítés -> kerites rises too, less strongly.
    let k = find(&r, "kerites").expect("kerites listed");
    assert_eq!((k.count, k.docs, k.background), (10, 10, 0));
    assert!(k.llr < first.llr);
    // Sorted by llr, descending.
    assert!(r.terms.windows(2).all(|w| w[0].llr >= w[1].llr));
}

#[test]
fn term_frequent_in_both_periods_is_not_listed() {
    let index = corpus();
    let r = index.top_terms(&request()).expect("top terms");
    for flat in ["migranti", "vlada", "ekonomija", "parlament", "kormany"] {
        assert!(find(&r, flat).is_none(), "{flat} listed: {:?}", r.terms);
    }
    // Every listed term really rises.
    for s in &r.terms {
        assert!(
            s.count as f64 / r.foreground_tokens as f64
                > s.background as f64 / r.background_tokens as f64,
            "{s:?}"
        );
    }
}

#[test]
fn stopwords_numbers_and_short_words_are_excluded() {
    let index = corpus();
    let r = index.top_terms(&request()).expect("top terms");
    // `који` and `und` surge in the RS foreground but are stopwords.
    for gone in ["koji", "und", "the", "sto", "1999", "2024", "je", "da"] {
        assert!(find(&r, gone).is_none(), "{gone} listed: {:?}", r.terms);
    }
    assert!(r.terms.iter().all(|s| is_content_term(&s.term)));
    // Stopwords are folded like text, in every script.
    for w in ["који", "който", "што", "és", "für", "più", "është", "και"] {
        for term in analyzer::analyze(w) {
            assert!(!is_content_term(&term), "{w} -> {term} counted");
        }
    }
}

#[test]
fn per_country_split() {
    let index = corpus();
    let by = index
        .top_terms_by_country(&request(), &["RS".to_string(), "hu".to_string()])
        .expect("by country");
    assert_eq!(by.len(), 2);
    let (rs_code, rs) = &by[0];
    let (hu_code, hu) = &by[1];
    assert_eq!((rs_code.as_str(), hu_code.as_str()), ("RS", "hu"));
    assert_eq!((rs.foreground_docs, rs.background_docs), (20, 20));
    assert_eq!((hu.foreground_docs, hu.background_docs), (20, 20));
    assert_eq!(rs.terms.first().map(|s| s.term.as_str()), Some("granica"));
    assert!(find(rs, "kerites").is_none());
    let first = hu.terms.first().expect("HU rising term");
    assert_eq!(first.term, "kerites");
    assert!(first.significant);
    assert!(find(hu, "granica").is_none());
    // The country filter of a single request gives the same as the split.
    let single = index
        .top_terms(&TermsRequest {
            country: Some("rs".into()),
            ..request()
        })
        .expect("RS only");
    assert_eq!(&single, rs);
}

#[test]
fn query_restricts_both_periods() {
    let index = corpus();
    let r = index
        .top_terms(&TermsRequest {
            query: Some("lang:hu".into()),
            ..request()
        })
        .expect("lang:hu");
    assert_eq!((r.foreground_docs, r.background_docs), (20, 20));
    assert!(find(&r, "granica").is_none());
    assert_eq!(r.terms.first().map(|s| s.term.as_str()), Some("kerites"));
    let r = index
        .top_terms(&TermsRequest {
            query: Some("granica".into()),
            ..request()
        })
        .expect("granica");
    assert_eq!((r.foreground_docs, r.background_docs), (20, 2));
}

#[test]
fn min_count_and_limit() {
    let index = corpus();
    let r = index
        .top_terms(&TermsRequest {
            min_count: 11,
            ..request()
        })
        .expect("min_count");
    assert!(find(&r, "kerites").is_none(), "count 10 < 11");
    assert!(find(&r, "granica").is_some());
    assert!(r.terms.iter().all(|s| s.count >= 11));
    let r = index
        .top_terms(&TermsRequest {
            limit: 1,
            ..request()
        })
        .expect("limit");
    assert_eq!(r.terms.len(), 1);
}

#[test]
fn empty_periods_give_empty_results() {
    let index = corpus();
    let r = index
        .top_terms(&TermsRequest {
            from: t(2030, 1, 1),
            to: t(2030, 2, 1),
            background_from: t(2029, 1, 1),
            background_to: t(2029, 2, 1),
            ..request()
        })
        .expect("empty periods");
    assert_eq!(r, TermsResult::default());
    // An empty index, too.
    let empty = Index::create_in_ram().expect("index");
    let r = empty.top_terms(&request()).expect("empty index");
    assert!(r.terms.is_empty());
    // Empty background: terms are new, but nothing is significant.
    let r = index
        .top_terms(&TermsRequest {
            background_from: t(2029, 1, 1),
            background_to: t(2029, 2, 1),
            ..request()
        })
        .expect("empty background");
    assert_eq!(r.background_docs, 0);
    assert!(!r.terms.is_empty());
    assert!(r.terms.iter().all(|s| !s.significant && s.llr == 0.0));
}

#[test]
fn bad_query_and_inverted_period_are_errors() {
    let index = corpus();
    let err = index
        .top_terms(&TermsRequest {
            query: Some("title:(unclosed".into()),
            ..request()
        })
        .expect_err("bad query");
    assert!(matches!(err, IndexError::Query { .. }), "{err:?}");
    let err = index
        .top_terms(&TermsRequest {
            background_from: t(2024, 2, 1),
            background_to: t(2024, 1, 1),
            ..request()
        })
        .expect_err("inverted background");
    assert!(matches!(err, IndexError::InvalidRequest { .. }), "{err:?}");
}

#[test]
fn log_likelihood_matches_hand_computation() {
    // 30 of 1000 foreground tokens vs 10 of 2000 background tokens.
    // N = 3000; expected: term 40*1000/3000 = 13.333 and 26.667, other
    // 986.667 and 1973.333.
    // G2 = 2 [30 ln(30/13.333) + 10 ln(10/26.667) + 970 ln(970/986.667)
    //        + 1990 ln(1990/1973.333)] = 2 [24.3279 - 9.8083 - 16.5251
    //        + 16.7369] = 29.4627
    let g = log_likelihood(30, 1000, 10, 2000);
    assert!((g - 29.4627).abs() < 1e-3, "{g}");
    // A zero cell contributes nothing: 5/100 vs 0/100.
    // G2 = 2 [5 ln(5/2.5) + 95 ln(95/97.5) + 100 ln(100/97.5)] = 7.0597
    let g = log_likelihood(5, 100, 0, 100);
    assert!((g - 7.0597).abs() < 1e-3, "{g}");
    // Equal rates: no evidence; symmetric in the periods; empty tables.
    assert!(log_likelihood(10, 100, 20, 200).abs() < 1e-9);
    assert!((log_likelihood(30, 1000, 10, 2000) - log_likelihood(10, 2000, 30, 1000)).abs() < 1e-9);
    assert_eq!(log_likelihood(0, 0, 0, 0), 0.0);
    assert_eq!(log_likelihood(3, 3, 0, 0), 0.0);
}
