//! Index and report benchmark on generated articles.
//!
//! ```text
//! cargo run --release -p mediawatch-index --example index_bench -- [DOCS] [DIR]
//! ```
//!
//! Generates DOCS articles (default 50 000, 2-4 KB each, ten languages and
//! both Serbian scripts), indexes them on disk (a temporary directory, or
//! DIR), and prints indexing throughput, search latency percentiles for
//! term, phrase, filtered and browse queries, and the latency of
//! `facts()` + `build_report()` with daily buckets, and of `top_terms()`
//! (rising terms, reading and analyzing every document of both periods).

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use mediawatch_core::{DocId, DocKind, Document, HateClass, Labels, SourceMeta, SourceScope};
use mediawatch_index::{FactsFilter, Index, SearchRequest, TermsRequest};
use mediawatch_report::{build_report, GroupBy, Interval, ReportRequest};

/// xorshift64*: deterministic, dependency-free, good enough for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 10_000) as f32 / 10_000.0
    }
}

struct Lang {
    code: &'static str,
    country: &'static str,
    words: &'static [&'static str],
}

const LANGS: &[Lang] = &[
    Lang {
        code: "sr",
        country: "RS",
        words: &[
            "мигранти",
            "граница",
            "избеглице",
            "полиција",
            "влада",
            "камп",
            "Суботица",
            "људи",
            "помоћ",
            "азил",
            "закон",
            "држава",
            "општина",
            "грађани",
            "рат",
            "деца",
            "породица",
            "рад",
            "посао",
            "министар",
            "је",
            "су",
            "у",
            "на",
            "и",
            "са",
            "за",
            "од",
            "да",
            "се",
            "нови",
            "велики",
            "данас",
            "јуче",
            "према",
            "против",
        ],
    },
    Lang {
        code: "sr",
        country: "RS",
        words: &[
            "migranti",
            "granica",
            "izbeglice",
            "policija",
            "vlada",
            "kamp",
            "Subotica",
            "ljudi",
            "pomoć",
            "azil",
            "zakon",
            "država",
            "opština",
            "građani",
            "rat",
            "deca",
            "porodica",
            "rad",
            "posao",
            "ministar",
            "je",
            "su",
            "u",
            "na",
            "i",
            "sa",
            "za",
            "od",
            "da",
            "se",
            "novi",
            "veliki",
            "danas",
            "juče",
            "prema",
            "protiv",
        ],
    },
    Lang {
        code: "hr",
        country: "HR",
        words: &[
            "migranti",
            "granica",
            "izbjeglice",
            "policija",
            "vlada",
            "kamp",
            "Bihać",
            "ljudi",
            "pomoć",
            "azil",
            "zakon",
            "država",
            "općina",
            "građani",
            "rat",
            "djeca",
            "obitelj",
            "rad",
            "posao",
            "ministar",
            "je",
            "su",
            "u",
            "na",
            "i",
            "s",
            "za",
            "od",
            "da",
            "se",
            "novi",
            "veliki",
            "danas",
            "jučer",
            "prema",
            "protiv",
        ],
    },
    Lang {
        code: "bs",
        country: "BA",
        words: &[
            "migranti",
            "granica",
            "izbjeglice",
            "policija",
            "vlada",
            "kamp",
            "Lipa",
            "ljudi",
            "pomoć",
            "azil",
            "zakon",
            "država",
            "općina",
            "građani",
            "rat",
            "djeca",
            "porodica",
            "rad",
            "posao",
            "ministar",
            "je",
            "su",
            "u",
            "na",
            "i",
            "sa",
            "za",
            "od",
            "da",
            "se",
            "novi",
            "veliki",
            "danas",
            "jučer",
            "prema",
            "protiv",
        ],
    },
    Lang {
        code: "mk",
        country: "MK",
        words: &[
            "мигранти",
            "граница",
            "бегалци",
            "полиција",
            "влада",
            "камп",
            "Гевгелија",
            "луѓе",
            "помош",
            "азил",
            "закон",
            "држава",
            "општина",
            "граѓани",
            "војна",
            "деца",
            "семејство",
            "работа",
            "министер",
            "е",
            "се",
            "во",
            "на",
            "и",
            "со",
            "за",
            "од",
            "да",
            "нов",
            "голем",
            "денес",
            "вчера",
            "против",
        ],
    },
    Lang {
        code: "bg",
        country: "BG",
        words: &[
            "мигранти",
            "граница",
            "бежанци",
            "полиция",
            "правителство",
            "лагер",
            "Харманли",
            "хора",
            "помощ",
            "убежище",
            "закон",
            "държава",
            "община",
            "граждани",
            "война",
            "деца",
            "семейство",
            "работа",
            "министър",
            "е",
            "са",
            "в",
            "на",
            "и",
            "с",
            "за",
            "от",
            "да",
            "се",
            "нов",
            "голям",
            "днес",
            "вчера",
            "срещу",
        ],
    },
    Lang {
        code: "sq",
        country: "AL",
        words: &[
            "emigrantët",
            "kufiri",
            "refugjatët",
            "policia",
            "qeveria",
            "kampi",
            "njerëzit",
            "ndihmë",
            "azil",
            "ligji",
            "shteti",
            "bashkia",
            "qytetarët",
            "lufta",
            "fëmijët",
            "familja",
            "puna",
            "ministri",
            "është",
            "janë",
            "në",
            "dhe",
            "me",
            "për",
            "nga",
            "se",
            "i",
            "ri",
            "madh",
            "sot",
            "dje",
            "kundër",
        ],
    },
    Lang {
        code: "hu",
        country: "HU",
        words: &[
            "migránsok",
            "határ",
            "menekültek",
            "rendőrség",
            "kormány",
            "tábor",
            "Röszke",
            "emberek",
            "segítség",
            "menedékjog",
            "törvény",
            "állam",
            "önkormányzat",
            "polgárok",
            "háború",
            "gyerekek",
            "család",
            "munka",
            "miniszter",
            "a",
            "az",
            "és",
            "hogy",
            "nem",
            "is",
            "van",
            "egy",
            "új",
            "nagy",
            "ma",
            "tegnap",
            "ellen",
        ],
    },
    Lang {
        code: "pl",
        country: "PL",
        words: &[
            "migranci",
            "Migrantów",
            "granica",
            "uchodźcy",
            "policja",
            "rząd",
            "obóz",
            "ludzie",
            "pomoc",
            "azyl",
            "ustawa",
            "państwo",
            "gmina",
            "obywatele",
            "wojna",
            "dzieci",
            "rodzina",
            "praca",
            "minister",
            "jest",
            "są",
            "w",
            "na",
            "i",
            "z",
            "do",
            "od",
            "że",
            "się",
            "nowy",
            "duży",
            "dziś",
            "wczoraj",
            "przeciw",
        ],
    },
    Lang {
        code: "de",
        country: "AT",
        words: &[
            "Migranten",
            "Grenze",
            "Flüchtlinge",
            "Polizei",
            "Regierung",
            "Lager",
            "Spielfeld",
            "Menschen",
            "Hilfe",
            "Asyl",
            "Gesetz",
            "Staat",
            "Gemeinde",
            "Bürger",
            "Krieg",
            "Kinder",
            "Familie",
            "Arbeit",
            "Minister",
            "ist",
            "sind",
            "in",
            "an",
            "und",
            "mit",
            "für",
            "von",
            "dass",
            "sich",
            "neue",
            "große",
            "heute",
            "gestern",
            "gegen",
            "Straße",
        ],
    },
];

fn labels(rng: &mut Rng) -> Option<Labels> {
    if rng.below(10) < 3 {
        return None;
    }
    let mut l = Labels {
        model_version: "bench".into(),
        ..Default::default()
    };
    l.relevance.score = rng.unit();
    l.hate.score = rng.unit() * 0.8;
    l.hate.class = match rng.below(20) {
        0 => HateClass::Hate,
        1 | 2 => HateClass::Offensive,
        _ => HateClass::None,
    };
    l.collective_labelling.score = rng.unit() * 0.9;
    l.frame.threat = rng.unit() * 0.8;
    l.frame.victim = rng.unit() * 0.7;
    l.frame.recognition = rng.unit() * 0.6;
    l.solutions.score = rng.unit() * 0.6;
    Some(l)
}

fn generate(n: usize, rng: &mut Rng) -> Vec<(Document, SourceMeta)> {
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let lang = &LANGS[rng.below(LANGS.len())];
        let source_no = rng.below(6);
        let source = SourceMeta {
            id: format!("{}-{}", lang.country.to_lowercase(), source_no),
            name: format!("Outlet {} {}", lang.country, source_no),
            country: lang.country.into(),
            languages: vec![lang.code.into()],
            scope: SourceScope::National,
            audience: vec![],
            reach: None,
        };
        let target_bytes = 2048 + rng.below(2048);
        let mut text = String::with_capacity(target_bytes + 64);
        let mut sentence_len = 0;
        while text.len() < target_bytes {
            let w = rng.pick(lang.words);
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(w);
            sentence_len += 1;
            if sentence_len > 8 + rng.below(10) {
                text.push('.');
                sentence_len = 0;
                if rng.below(6) == 0 {
                    text.push_str("\n\n");
                }
            }
        }
        let title: Vec<&str> = (0..6).map(|_| rng.pick(lang.words)).collect();
        let published: Option<DateTime<Utc>> = if rng.below(10) == 0 {
            None
        } else {
            Some(start + chrono::Duration::minutes(rng.below(365 * 24 * 60) as i64))
        };
        let url = format!("https://{}.example/{}/{}", source.id, lang.code, i);
        out.push((
            Document {
                id: DocId::from_url(&url),
                source_id: source.id.clone(),
                url,
                title: title.join(" "),
                text,
                author: None,
                published,
                fetched: start + chrono::Duration::days(366),
                lang: Some(lang.code.into()),
                kind: if rng.below(10) == 0 {
                    DocKind::Comment
                } else {
                    DocKind::Article
                },
                parent_id: None,
                labels: labels(rng),
            },
            source,
        ));
    }
    out
}

fn percentiles(mut xs: Vec<Duration>) -> (f64, f64, f64) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |p: f64| ms(xs[((xs.len() as f64 - 1.0) * p).round() as usize]);
    (at(0.5), at(0.99), ms(xs[xs.len() - 1]))
}

fn bench(
    name: &str,
    index: &Index,
    reqs: &[SearchRequest],
) -> Result<(), Box<dyn std::error::Error>> {
    // One warm-up pass so the page cache and mmaps are hot, as in a server.
    for r in reqs {
        index.search(r)?;
    }
    let mut times = Vec::with_capacity(reqs.len());
    let mut total_hits = 0usize;
    for r in reqs {
        let t = Instant::now();
        let res = index.search(r)?;
        times.push(t.elapsed());
        total_hits += res.total;
    }
    let (p50, p99, max) = percentiles(times);
    println!(
        "{name:<28} n={:<4} p50={p50:>8.3} ms  p99={p99:>8.3} ms  max={max:>8.3} ms  (avg total {})",
        reqs.len(),
        total_hits / reqs.len().max(1)
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50_000);
    let tmp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("index"));

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let t = Instant::now();
    let docs = generate(n, &mut rng);
    let bytes: usize = docs.iter().map(|(d, _)| d.text.len() + d.title.len()).sum();
    println!(
        "generated {n} docs, {:.1} MB of text (avg {:.0} B) in {:.2?}",
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        t.elapsed()
    );

    let index = Index::open_or_create(&dir)?;
    let writer = index.writer(256_000_000)?;
    let t = Instant::now();
    for (d, s) in docs.iter() {
        writer.upsert(d.clone(), s)?;
    }
    let queued = t.elapsed();
    writer.close()?;
    let elapsed = t.elapsed();
    println!(
        "indexed {n} docs in {:.2?} (queued in {queued:.2?}): {:.0} docs/s, {:.1} MB/s, num_docs={}",
        elapsed,
        n as f64 / elapsed.as_secs_f64(),
        bytes as f64 / 1e6 / elapsed.as_secs_f64(),
        index.num_docs()?
    );

    // Re-ingesting the same documents must not grow the index.
    let writer = index.writer(128_000_000)?;
    let t = Instant::now();
    for (d, s) in docs.iter().take(5_000) {
        writer.upsert(d.clone(), s)?;
    }
    writer.close()?;
    println!(
        "re-upserted 5000 docs in {:.2?}; num_docs={} (unchanged)",
        t.elapsed(),
        index.num_docs()?
    );

    let terms = [
        "migranti",
        "мигранти",
        "granica",
        "izbjeglice",
        "polizei",
        "migransok",
        "menekultek",
        "uchodzcy",
        "refugjatet",
        "бежанци",
        "flüchtlinge",
        "azil",
        "grenze",
        "policija",
        "obitelj",
        "rendorseg",
    ];
    let phrases = [
        "\"migranti su\"",
        "\"мигранти су\"",
        "\"granica i\"",
        "\"für die\"",
        "\"a határ\"",
        "\"na granica\"",
        "\"policija je\"",
        "\"und mit\"",
    ];
    let countries = ["RS", "HR", "BA", "MK", "BG", "AL", "HU", "PL", "AT"];
    let mut qrng = Rng(42);
    let reps = 200;
    let term_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| SearchRequest {
            query: qrng.pick(&terms).into(),
            limit: 10,
            ..Default::default()
        })
        .collect();
    let two_term_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| SearchRequest {
            query: format!("{} {}", qrng.pick(&terms), qrng.pick(&terms)),
            limit: 10,
            ..Default::default()
        })
        .collect();
    let phrase_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| SearchRequest {
            query: qrng.pick(&phrases).into(),
            limit: 10,
            ..Default::default()
        })
        .collect();
    let year = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    let filtered_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| {
            let month = qrng.below(11) as i64;
            SearchRequest {
                query: qrng.pick(&terms).into(),
                country: Some(qrng.pick(&countries).into()),
                from: Some(year + chrono::Duration::days(30 * month)),
                to: Some(year + chrono::Duration::days(30 * month + 30)),
                limit: 10,
                ..Default::default()
            }
        })
        .collect();
    let date_sorted_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| SearchRequest {
            query: qrng.pick(&terms).into(),
            sort_by_date: true,
            limit: 10,
            ..Default::default()
        })
        .collect();
    let browse_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| SearchRequest {
            country: Some(qrng.pick(&countries).into()),
            limit: 20,
            ..Default::default()
        })
        .collect();
    let collapsed_reqs: Vec<SearchRequest> = term_reqs
        .iter()
        .map(|r| SearchRequest {
            collapse_clusters: true,
            ..r.clone()
        })
        .collect();
    bench("term", &index, &term_reqs)?;
    bench("term, collapsed by cluster", &index, &collapsed_reqs)?;
    bench("two terms (AND)", &index, &two_term_reqs)?;
    bench("phrase", &index, &phrase_reqs)?;
    bench("term + country + 30 days", &index, &filtered_reqs)?;
    bench("term, sorted by date", &index, &date_sorted_reqs)?;
    bench("browse (empty query)", &index, &browse_reqs)?;

    for (name, filter, by) in [
        ("all docs, daily", FactsFilter::default(), GroupBy::None),
        (
            "all docs, daily by source",
            FactsFilter::default(),
            GroupBy::Source,
        ),
        (
            "one country, daily",
            FactsFilter {
                country: Some("RS".into()),
                ..Default::default()
            },
            GroupBy::None,
        ),
        (
            "query 'migranti', daily",
            FactsFilter {
                query: Some("migranti".into()),
                ..Default::default()
            },
            GroupBy::None,
        ),
    ] {
        let mut facts_t = Vec::new();
        let mut report_t = Vec::new();
        let mut rows_n = 0;
        let mut buckets = 0;
        for _ in 0..11 {
            let t = Instant::now();
            let rows = index.facts(&filter)?;
            facts_t.push(t.elapsed());
            let t = Instant::now();
            let r = build_report(
                &rows,
                &ReportRequest {
                    interval: Interval::Day,
                    by,
                    from: None,
                    to: None,
                    audience: Default::default(),
                    count_clusters_once: false,
                },
            );
            report_t.push(t.elapsed());
            rows_n = rows.len();
            buckets = r.buckets.len();
        }
        let (fp50, fp99, _) = percentiles(facts_t);
        let (rp50, rp99, _) = percentiles(report_t);
        println!(
            "facts+report {name:<26} rows={rows_n:<6} buckets={buckets:<5} facts p50={fp50:.2} ms (max {fp99:.2}), build_report p50={rp50:.2} ms (max {rp99:.2})"
        );
    }

    // Rising terms: reads the stored title + text of every document of
    // both periods and analyzes it, so this is the expensive one.
    let day = |d: i64| year + chrono::Duration::days(d);
    for (name, req) in [
        (
            "2nd half vs 1st half (all docs)",
            TermsRequest {
                from: day(182),
                to: day(368),
                background_from: day(0),
                background_to: day(182),
                limit: 50,
                min_count: 5,
                ..Default::default()
            },
        ),
        (
            "last 30 days vs 90 before",
            TermsRequest {
                from: day(336),
                to: day(368),
                background_from: day(246),
                background_to: day(336),
                limit: 50,
                min_count: 5,
                ..Default::default()
            },
        ),
        (
            "RS, 2nd half vs 1st half",
            TermsRequest {
                from: day(182),
                to: day(368),
                background_from: day(0),
                background_to: day(182),
                country: Some("RS".into()),
                limit: 50,
                min_count: 5,
                ..Default::default()
            },
        ),
    ] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..3 {
            let t = Instant::now();
            let r = index.top_terms(&req)?;
            times.push(t.elapsed());
            last = Some(r);
        }
        let (p50, _, max) = percentiles(times);
        if let Some(r) = last {
            let top: Vec<&str> = r.terms.iter().take(3).map(|s| s.term.as_str()).collect();
            println!(
                "top_terms {name:<32} docs={}+{} tokens={}+{} p50={p50:.0} ms (max {max:.0}); {:.0} docs/s; top {top:?}",
                r.foreground_docs,
                r.background_docs,
                r.foreground_tokens,
                r.background_tokens,
                (r.foreground_docs + r.background_docs) as f64 / (p50 / 1000.0).max(1e-9),
            );
        }
    }
    Ok(())
}
