//! Index and report benchmark on generated articles.
//!
//! ```text
//! cargo run --release -p mediawatch-index --example index_bench -- [DOCS] [DIR] [FLAGS]
//! ```
//!
//! Generates DOCS articles (default 50 000, 2-4 KB each, ten languages and
//! both Serbian scripts) into a corpus file beside the index directory (a
//! temporary directory, or DIR; reused by later runs), then indexes them on
//! disk, reading them back one at a time, so the corpus is never held in
//! memory. The corpus is written before the clock starts; reading and
//! parsing it is timed. Each line carries the document's content hash, as
//! the pipeline's dedup stage passes it to the indexer. `--on-the-fly`
//! generates each document inside the timed loop instead, on the cores the
//! indexer uses, and lets the writer hash it (how the earlier figures were
//! taken).
//!
//! It then prints indexing throughput, the segments left after merging,
//! search latency percentiles for term, phrase,
//! filtered and browse queries (each kind, and all of them as one mix),
//! the latency of trend reports (`Index::report`, and the older
//! `facts()` + `build_report()` for comparison), of `top_terms()`, and the
//! process's peak memory: peak RSS (VmHWM, which counts the index's
//! memory-mapped file pages) and peak anonymous memory (RssAnon, sampled
//! every 20 ms: the heap, including the writer's indexing budget).
//!
//! Text is drawn from a Zipf-distributed vocabulary of 3 000 words per
//! language (see `Vocab`); `--vocab40` draws uniformly from the 40-word
//! lists of the earlier figures instead. Flags: `--search-only` (reuse the
//! index in DIR), `--index-only`, `--no-terms` (skip `top_terms()`),
//! `--sample` (print three generated articles). Writer settings:
//! `MW_BENCH_HEAP`, `MW_BENCH_THREADS`, `MW_BENCH_MERGE_THREADS`.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use mediawatch_core::similarity::content_hash;
use mediawatch_core::{DocId, DocKind, Document, HateClass, Labels, SourceMeta, SourceScope};
use mediawatch_index::{DocExtra, FactsFilter, Index, SearchRequest, TermsRequest, TrendRequest};
use mediawatch_report::{build_report, GroupBy, Interval, ReportRequest};

/// Writer memory budget while indexing (split between the indexing
/// threads), a bulk-load setting: each thread's segments hold ~45 000
/// realistic articles, so a million are merged about once. With 128 MB
/// they held ~9 000 and every article was rewritten twice; 512 MB made
/// 62 000-document segments whose last eight-way merge fell after the
/// load. Override with `MW_BENCH_HEAP` (bytes).
const WRITER_HEAP: usize = 384_000_000;
/// Indexing threads (`MW_BENCH_THREADS`): one per core here.
const WRITER_THREADS: usize = 2;
/// Documents per `upsert_batch` call (`MW_BENCH_BATCH`; 1 calls it once
/// per document), the pipeline sink's batch size.
const BENCH_BATCH: usize = 32;
/// Merge threads (`MW_BENCH_MERGE_THREADS`): one, so that at most one merge
/// holds memory at a time; two cores are busy indexing anyway.
const MERGE_THREADS: usize = 1;

/// A value of `/proc/self/status` in KiB (Linux); 0 elsewhere.
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples anonymous RSS every 20 ms and keeps the peak.
fn spawn_anon_sampler() -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let peak = std::sync::Arc::new(AtomicU64::new(0));
    let p = std::sync::Arc::clone(&peak);
    std::thread::spawn(move || loop {
        p.fetch_max(status_kib("RssAnon:"), Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(20));
    });
    peak
}

/// Peak anonymous memory, sampled by [`spawn_anon_sampler`].
static ANON_PEAK: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicU64>> =
    std::sync::OnceLock::new();

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

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

/// Words per language in the realistic vocabulary.
const VOCAB: usize = 3_000;

/// A language's vocabulary ranked by frequency, with the cumulative
/// Zipf-Mandelbrot weights (`1 / (rank + 2.7)`) to draw words from.
///
/// Ranks: the language's short words (articles, prepositions,
/// conjunctions: at most 3 characters) first, then its content words of
/// the word list spread over ranks ~16-300 in list order (so `migranti`,
/// first in the list, is frequent and later words are rarer), then
/// pseudo-words built from the list's syllables (same script) up to
/// [`VOCAB`] words. Real text has this shape: a few function words are
/// half of the tokens, and most words are rare.
struct Vocab {
    words: Vec<String>,
    cumulative: Vec<f64>,
    /// `buckets[b]`: the first rank whose cumulative weight reaches
    /// `b / BUCKETS` of the total, so a draw scans a few ranks at most.
    buckets: Vec<usize>,
}

/// Buckets of [`Vocab::buckets`].
const BUCKETS: usize = 1 << 12;

impl Vocab {
    fn new(lang: &Lang) -> Self {
        let short = |w: &&str| w.chars().count() <= 3;
        let function: Vec<&str> = lang.words.iter().copied().filter(short).collect();
        let content: Vec<&str> = lang.words.iter().copied().filter(|w| !short(w)).collect();
        let mut ranked: Vec<Option<String>> = vec![None; VOCAB];
        for (r, w) in function.iter().enumerate() {
            ranked[r] = Some(w.to_string());
        }
        let next_free = |want: usize, ranked: &[Option<String>]| {
            (want..VOCAB)
                .find(|&r| ranked[r].is_none())
                .unwrap_or(VOCAB - 1)
        };
        for (i, w) in content.iter().enumerate() {
            let want = function.len() + 3 * ((i as f64).powf(1.5) as usize) + i;
            let r = next_free(want, &ranked);
            ranked[r] = Some(w.to_string());
        }
        // Syllables (2 characters) of the real words, for pseudo-words.
        let syllables: Vec<String> = content
            .iter()
            .flat_map(|w| {
                let cs: Vec<char> = w.to_lowercase().chars().collect();
                cs.chunks(2)
                    .map(|c| c.iter().collect::<String>())
                    .collect::<Vec<_>>()
            })
            .filter(|s| s.chars().count() == 2)
            .collect();
        let mut rng = Rng(0xC0FF_EE00 ^ lang.words.len() as u64 ^ (lang.code.len() as u64) << 7);
        let words: Vec<String> = ranked
            .into_iter()
            .map(|w| {
                w.unwrap_or_else(|| {
                    let n = 2 + rng.below(3);
                    (0..n)
                        .map(|_| syllables[rng.below(syllables.len())].as_str())
                        .collect()
                })
            })
            .collect();
        let mut total = 0.0;
        let cumulative: Vec<f64> = (0..words.len())
            .map(|r| {
                total += 1.0 / (r as f64 + 2.7);
                total
            })
            .collect();
        let buckets = (0..BUCKETS)
            .map(|b| {
                let x = b as f64 / BUCKETS as f64 * total;
                cumulative.partition_point(|&c| c < x)
            })
            .collect();
        Self {
            words,
            cumulative,
            buckets,
        }
    }

    fn draw(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let x = u * total;
        let bucket = ((u * BUCKETS as f64) as usize).min(BUCKETS - 1);
        let mut i = self.buckets[bucket];
        while i + 1 < self.cumulative.len() && self.cumulative[i] < x {
            i += 1;
        }
        &self.words[i]
    }
}

/// How text is generated: a realistic vocabulary ([`Vocab`]), or the
/// original 40-word lists drawn uniformly (`--vocab40`, the corpus of the
/// figures before the realistic one), in which every pair of words is
/// common and every word is in almost every document of its language.
enum TextModel {
    Zipf(Vec<Vocab>),
    Uniform40,
}

impl TextModel {
    fn word<'a>(&'a self, lang: usize, rng: &mut Rng) -> &'a str {
        match self {
            TextModel::Zipf(v) => v[lang].draw(rng),
            TextModel::Uniform40 => rng.pick(LANGS[lang].words),
        }
    }
}

/// Generates document `i` (call with i = 0, 1, 2, ... on one `rng`; the
/// same seed gives the same documents).
fn generate_one(i: usize, rng: &mut Rng, model: &TextModel) -> (Document, SourceMeta) {
    let start = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date");
    {
        let lang_no = rng.below(LANGS.len());
        let lang = &LANGS[lang_no];
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
            let w = model.word(lang_no, rng);
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
        let title: Vec<&str> = (0..6).map(|_| model.word(lang_no, rng)).collect();
        let published: Option<DateTime<Utc>> = if rng.below(10) == 0 {
            None
        } else {
            Some(start + chrono::Duration::minutes(rng.below(365 * 24 * 60) as i64))
        };
        let url = format!("https://{}.example/{}/{}", source.id, lang.code, i);
        (
            Document {
                id: DocId::from_url(&url),
                source_id: source.id.clone(),
                url,
                title: title.join(" "),
                text,
                author: None,
                published,
                modified: None,
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
        )
    }
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

/// Seed of the generated corpus.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Bump whenever `generate_one` changes, so that a corpus file written by
/// an older generator is not reused.
const CORPUS_VERSION: u32 = 1;

/// One line of the corpus file: a document as the indexer receives it from
/// the pipeline, which has already computed the content hash (the dedup
/// stage fingerprints every document before it is indexed).
#[derive(serde::Serialize, serde::Deserialize)]
struct CorpusLine {
    doc: Document,
    source: SourceMeta,
    content_hash: String,
}

/// Where the corpus of `n` documents is kept: beside the index directory,
/// so that repeated runs reuse it.
fn corpus_path(dir: &std::path::Path, n: usize, model: &TextModel) -> std::path::PathBuf {
    let name = match model {
        TextModel::Zipf(_) => "zipf",
        TextModel::Uniform40 => "vocab40",
    };
    let file = format!(
        "{}.corpus-{name}-{n}-v{CORPUS_VERSION}.jsonl",
        dir.file_name().and_then(|f| f.to_str()).unwrap_or("index")
    );
    dir.with_file_name(file)
}

/// Writes the corpus file unless it is already there (written to a
/// temporary name first, so an interrupted run leaves no partial corpus).
fn ensure_corpus(
    path: &std::path::Path,
    n: usize,
    model: &TextModel,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    if path.exists() {
        println!("corpus: reusing {}", path.display());
        return Ok(());
    }
    let t = Instant::now();
    let partial = path.with_extension("partial");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
    let mut rng = Rng(SEED);
    for i in 0..n {
        let (doc, source) = generate_one(i, &mut rng, model);
        let content_hash = content_hash(&doc.text);
        serde_json::to_writer(
            &mut out,
            &CorpusLine {
                doc,
                source,
                content_hash,
            },
        )?;
        out.write_all(b"\n")?;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&partial, path)?;
    println!(
        "corpus: generated {n} docs into {} in {:.1?} (not timed)",
        path.display(),
        t.elapsed()
    );
    Ok(())
}

/// Prints the index's segments (documents in each), from tantivy's
/// `meta.json`: how far merging went.
fn print_segments(dir: &std::path::Path) {
    let meta: Option<serde_json::Value> = std::fs::read(dir.join("meta.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let mut docs: Vec<u64> = meta
        .as_ref()
        .and_then(|m| m["segments"].as_array())
        .map(|segs| segs.iter().filter_map(|s| s["max_doc"].as_u64()).collect())
        .unwrap_or_default();
    docs.sort_unstable_by(|a, b| b.cmp(a));
    println!("segments: {} {docs:?}", docs.len());
}

/// Where the timed loop takes its documents from.
enum Feed {
    /// Generated in the timed loop, on the same cores as the indexer
    /// (`--on-the-fly`, the way the earlier figures were taken).
    OnTheFly(Rng),
    /// Read and parsed from the corpus file, as JSON lines.
    File(std::io::BufReader<std::fs::File>, String),
}

impl Feed {
    /// The next document with its source and, when the feed has one, its
    /// content hash.
    fn next(
        &mut self,
        i: usize,
        model: &TextModel,
    ) -> Result<(Document, SourceMeta, Option<String>), Box<dyn std::error::Error>> {
        use std::io::BufRead;
        match self {
            Feed::OnTheFly(rng) => {
                let (d, s) = generate_one(i, rng, model);
                Ok((d, s, None))
            }
            Feed::File(reader, line) => {
                line.clear();
                if reader.read_line(line)? == 0 {
                    return Err(format!("the corpus file ends after {i} documents").into());
                }
                let l: CorpusLine = serde_json::from_str(line)?;
                Ok((l.doc, l.source, Some(l.content_hash)))
            }
        }
    }
}

/// Indexes `n` documents, then re-upserts the first 5 000.
///
/// By default the documents are generated into a corpus file first (not
/// timed) and the timed loop reads them from it, with the content hash the
/// pipeline's dedup stage would pass; `on_the_fly` generates them inside
/// the timed loop instead, and lets the writer hash them.
fn build(
    index: &Index,
    dir: &std::path::Path,
    n: usize,
    model: &TextModel,
    on_the_fly: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let anon_peak = ANON_PEAK.get_or_init(spawn_anon_sampler);
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<usize>().ok());
    let heap = env("MW_BENCH_HEAP").unwrap_or(WRITER_HEAP);
    let threads = env("MW_BENCH_THREADS").unwrap_or(WRITER_THREADS);
    let merge_threads = env("MW_BENCH_MERGE_THREADS").unwrap_or(MERGE_THREADS);
    let batch_size = env("MW_BENCH_BATCH").unwrap_or(BENCH_BATCH).max(1);
    let mut feed = if on_the_fly {
        println!("documents: generated in the timed loop (--on-the-fly)");
        Feed::OnTheFly(Rng(SEED))
    } else {
        let path = corpus_path(dir, n, model);
        ensure_corpus(&path, n, model)?;
        Feed::File(
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?),
            String::new(),
        )
    };
    println!(
        "writer: {heap} bytes, {threads} indexing threads, {merge_threads} merge threads, \
         batches of {batch_size}"
    );
    let writer = index.writer_with_threads(heap, threads, merge_threads)?;
    let t = Instant::now();
    let mut bytes = 0usize;
    let mut feeding = Duration::ZERO;
    // Documents go to the writer in batches, as the pipeline's sink sends
    // them (`BATCH` there).
    let mut batch: Vec<(Document, SourceMeta, DocExtra)> = Vec::with_capacity(batch_size);
    for i in 0..n {
        let g = Instant::now();
        let (d, s, content_hash) = feed.next(i, model)?;
        feeding += g.elapsed();
        bytes += d.text.len() + d.title.len();
        let extra = DocExtra {
            content_hash,
            cluster_id: None,
        };
        batch.push((d, s, extra));
        if batch.len() == batch_size || i + 1 == n {
            writer.upsert_batch(batch.iter().map(|(d, s, e)| (d, s, e)))?;
            batch.clear();
        }
        // A memory timeline, to see whether the peak comes with steady
        // indexing, with merges, or at the end.
        if (i + 1) % 100_000 == 0 {
            println!(
                "  {} docs queued at {:.0?}: anonymous {:.0} MiB (peak so far {:.0} MiB)",
                i + 1,
                t.elapsed(),
                mib(status_kib("RssAnon:")),
                mib(anon_peak.load(std::sync::atomic::Ordering::Relaxed)),
            );
        }
    }
    let queued = t.elapsed();
    // Committed: every document is durable and searchable. Merges that are
    // still running go on in the background; `close` waits for them.
    writer.commit()?;
    let committed = t.elapsed();
    let searchable = index.num_docs()?;
    writer.close()?;
    let settled = t.elapsed();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "indexed {n} docs ({:.1} MB of text, avg {:.0} B; {feeding:.2?} of it spent {}): \
         queued in {queued:.2?}; committed in {committed:.2?}: {:.0} docs/s, {:.1} MB/s \
         (num_docs={searchable}); merges settled in {settled:.2?}: {:.0} docs/s",
        bytes as f64 / 1e6,
        bytes as f64 / n.max(1) as f64,
        if on_the_fly {
            "generating them"
        } else {
            "reading and parsing them"
        },
        rate(committed),
        bytes as f64 / 1e6 / committed.as_secs_f64(),
        rate(settled),
    );
    print_segments(dir);
    println!(
        "memory after indexing: peak RSS {:.0} MiB, peak anonymous {:.0} MiB (writer budget {} MB)",
        mib(status_kib("VmHWM:")),
        mib(anon_peak.load(std::sync::atomic::Ordering::Relaxed)),
        heap / 1_000_000
    );

    // Re-ingesting the same documents must not grow the index.
    let writer = index.writer(128_000_000)?;
    let t = Instant::now();
    let mut rng = Rng(SEED);
    for i in 0..n.min(5_000) {
        let (d, s) = generate_one(i, &mut rng, model);
        writer.upsert(d, &s)?;
    }
    writer.close()?;
    println!(
        "re-upserted 5000 docs in {:.2?}; num_docs={} (unchanged)",
        t.elapsed(),
        index.num_docs()?
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
    // `--search-only`: reuse the index already in DIR (built by an earlier
    // run with the same DOCS) and measure searches and reports only;
    // `--no-terms`: skip `top_terms()`, the slowest part.
    let flags: Vec<String> = args.collect();
    let search_only = flags.iter().any(|f| f == "--search-only");
    let no_terms = flags.iter().any(|f| f == "--no-terms");
    // `--index-only`: stop after indexing (for comparing writer settings).
    let index_only = flags.iter().any(|f| f == "--index-only");
    // `--on-the-fly`: generate documents inside the timed loop (see `build`).
    let on_the_fly = flags.iter().any(|f| f == "--on-the-fly");
    // `--vocab40`: the original generator (see `TextModel`).
    let model = if flags.iter().any(|f| f == "--vocab40") {
        println!("text: the 40-word lists, drawn uniformly (--vocab40)");
        TextModel::Uniform40
    } else {
        println!("text: Zipf-distributed vocabulary of {VOCAB} words per language");
        TextModel::Zipf(LANGS.iter().map(Vocab::new).collect())
    };

    let anon_peak = ANON_PEAK.get_or_init(spawn_anon_sampler);
    if flags.iter().any(|f| f == "--sample") {
        let mut rng = Rng(SEED);
        for i in 0..3 {
            let (d, _) = generate_one(i, &mut rng, &model);
            let head: String = d.text.chars().take(300).collect();
            println!("[{}] {}\n{head}…\n", d.lang.unwrap_or_default(), d.title);
        }
        return Ok(());
    }
    let index = Index::open_or_create(&dir)?;
    if search_only && index.num_docs()? as usize == n {
        println!("reusing the index in {} ({n} docs)", dir.display());
    } else {
        build(&index, &dir, n, &model, on_the_fly)?;
    }
    if index_only {
        return Ok(());
    }

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
    // Phrases of two content words: in real text these pairs are rare; in
    // this generated text every pair of the 40-word vocabulary is common,
    // so these are a worst case for the positional check.
    let content_phrases = [
        "\"migranti granica\"",
        "\"policija kamp\"",
        "\"grenze polizei\"",
        "\"azil zakon\"",
    ];
    // Inflected forms that only stemming finds in other forms.
    let stemmed = ["migránsokat", "flüchtlingen", "grenzen", "menekülteket"];
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
    let content_phrase_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| SearchRequest {
            query: qrng.pick(&content_phrases).into(),
            limit: 10,
            ..Default::default()
        })
        .collect();
    let stemmed_reqs: Vec<SearchRequest> = (0..reps)
        .map(|_| SearchRequest {
            query: qrng.pick(&stemmed).into(),
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
    // The first searches after opening build the per-segment facet and
    // cluster tables (once per segment; merges make new segments).
    for (name, req) in [
        ("facet tables", &term_reqs[0]),
        ("cluster tables", &collapsed_reqs[0]),
    ] {
        let t = Instant::now();
        index.search(req)?;
        let cold = t.elapsed();
        let t = Instant::now();
        index.search(req)?;
        println!(
            "first search (builds the {name}): {:.1} ms; the same search again: {:.1} ms",
            cold.as_secs_f64() * 1000.0,
            t.elapsed().as_secs_f64() * 1000.0
        );
    }
    bench("term", &index, &term_reqs)?;
    bench("term, collapsed by cluster", &index, &collapsed_reqs)?;
    bench("two terms (AND)", &index, &two_term_reqs)?;
    bench("phrase (with a short word)", &index, &phrase_reqs)?;
    bench("phrase (two content words)", &index, &content_phrase_reqs)?;
    bench("inflected word (stemmed)", &index, &stemmed_reqs)?;
    bench("term + country + 30 days", &index, &filtered_reqs)?;
    bench("term, sorted by date", &index, &date_sorted_reqs)?;
    bench("browse (empty query)", &index, &browse_reqs)?;
    // The mix the search target speaks of: every kind above, interleaved.
    let mut mix: Vec<SearchRequest> = Vec::new();
    for i in 0..reps {
        for set in [
            &term_reqs,
            &collapsed_reqs,
            &two_term_reqs,
            &phrase_reqs,
            &content_phrase_reqs,
            &stemmed_reqs,
            &filtered_reqs,
            &date_sorted_reqs,
            &browse_reqs,
        ] {
            if i % 2 == 0 {
                mix.push(set[i].clone());
            }
        }
    }
    bench("MIX of all kinds above", &index, &mix)?;
    println!(
        "memory after searching: peak RSS {:.0} MiB, peak anonymous {:.0} MiB",
        mib(status_kib("VmHWM:")),
        mib(anon_peak.load(std::sync::atomic::Ordering::Relaxed)),
    );

    let daily = |by: GroupBy, dedup: bool| ReportRequest {
        interval: Interval::Day,
        by,
        from: None,
        to: None,
        audience: Default::default(),
        count_clusters_once: dedup,
    };
    let one_country = FactsFilter {
        country: Some("RS".into()),
        ..Default::default()
    };
    let migranti = FactsFilter {
        query: Some("migranti".into()),
        ..Default::default()
    };
    for (name, req) in [
        (
            "all docs, daily",
            TrendRequest {
                report: daily(GroupBy::None, false),
                ..Default::default()
            },
        ),
        (
            "all docs, daily by source",
            TrendRequest {
                report: daily(GroupBy::Source, false),
                ..Default::default()
            },
        ),
        (
            "all docs, daily, dedup",
            TrendRequest {
                report: daily(GroupBy::None, true),
                ..Default::default()
            },
        ),
        (
            "one country, daily",
            TrendRequest {
                filter: one_country.clone(),
                report: daily(GroupBy::None, false),
                ..Default::default()
            },
        ),
        (
            "query 'migranti', daily",
            TrendRequest {
                filter: migranti.clone(),
                report: daily(GroupBy::None, false),
                ..Default::default()
            },
        ),
        (
            "compare 3 queries, daily",
            TrendRequest {
                filter: migranti.clone(),
                report: daily(GroupBy::None, false),
                compare: vec!["granica".into(), "grenze".into()],
            },
        ),
    ] {
        let mut times = Vec::new();
        let mut buckets = 0;
        let mut docs = 0;
        for _ in 0..11 {
            let t = Instant::now();
            let r = index.report(&req)?;
            times.push(t.elapsed());
            buckets = r.buckets.len();
            docs = r.totals.documents;
        }
        let (p50, p99, _) = percentiles(times);
        println!(
            "report() {name:<28} docs={docs:<8} buckets={buckets:<6} p50={p50:.1} ms (max {p99:.1})"
        );
    }
    // The trend target's shape: daily buckets x 5 labels x 20 outlets.
    {
        let outlets: Vec<String> = (0..20)
            .map(|i| {
                format!(
                    "{}-{}",
                    ["rs", "hr", "ba", "hu", "pl", "at", "mk", "bg", "al", "rs"][i % 10],
                    i % 6
                )
            })
            .collect();
        let req = TrendRequest {
            filter: FactsFilter {
                query: Some(format!("source:{}", outlets.join("|"))),
                ..Default::default()
            },
            report: daily(GroupBy::Source, false),
            ..Default::default()
        };
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..11 {
            let t = Instant::now();
            let r = index.report(&req)?;
            times.push(t.elapsed());
            rows = r.buckets.len();
        }
        let (p50, p99, _) = percentiles(times);
        println!(
            "report() 20 outlets, daily by source   rows={rows:<6} p50={p50:.1} ms (max {p99:.1})"
        );
    }
    println!(
        "memory after Index::report: peak RSS {:.0} MiB, peak anonymous {:.0} MiB",
        mib(status_kib("VmHWM:")),
        mib(anon_peak.load(std::sync::atomic::Ordering::Relaxed)),
    );
    // For comparison: the row-per-document path (a `DocFacts` with four
    // strings per document: about 300 bytes per row at a million rows).
    for (name, filter, by) in [
        ("all docs, daily", FactsFilter::default(), GroupBy::None),
        ("one country, daily", one_country, GroupBy::None),
    ] {
        let mut facts_t = Vec::new();
        let mut report_t = Vec::new();
        let mut rows_n = 0;
        let mut buckets = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let rows = index.facts(&filter)?;
            facts_t.push(t.elapsed());
            let t = Instant::now();
            let r = build_report(&rows, &daily(by, false));
            report_t.push(t.elapsed());
            rows_n = rows.len();
            buckets = r.buckets.len();
        }
        let (fp50, fp99, _) = percentiles(facts_t);
        let (rp50, rp99, _) = percentiles(report_t);
        println!(
            "facts+build_report {name:<20} rows={rows_n:<7} buckets={buckets:<5} facts p50={fp50:.1} ms (max {fp99:.1}), build_report p50={rp50:.1} ms (max {rp99:.1})"
        );
    }
    println!(
        "memory after the facts() path: peak RSS {:.0} MiB, peak anonymous {:.0} MiB",
        mib(status_kib("VmHWM:")),
        mib(anon_peak.load(std::sync::atomic::Ordering::Relaxed)),
    );

    if no_terms {
        return Ok(());
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
        // A million documents take seconds per run: one run is enough there.
        for _ in 0..if n > 200_000 { 1 } else { 3 } {
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
    println!(
        "memory at the end: peak RSS {:.0} MiB, peak anonymous {:.0} MiB",
        mib(status_kib("VmHWM:")),
        mib(anon_peak.load(std::sync::atomic::Ordering::Relaxed)),
    );
    Ok(())
}
