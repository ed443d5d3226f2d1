//! The index schema and the conversion between [`Document`] and tantivy
//! documents.
//!
//! Field roles:
//! - `id` is the upsert key (indexed raw, stored).
//! - `source`, `country`, `lang`, `kind`, `hate_class` are raw strings with
//!   fast columns: filters use the inverted index, reports read the columns.
//! - `published` holds the *trend time* (publication time, else fetch time)
//!   so that range filters and date sorting need one field; `published_known`
//!   says whether it really is a publication time, so hits can show `null`.
//! - label scores are fast `f64` columns (for future score filters and
//!   sorting); `label_flags` is a bitmask of [`Labels::flags`] so reports
//!   count exactly what the core label schema defines, in one column read.
//! - `content_hash` and `cluster_id` are raw strings with fast columns:
//!   exact-duplicate and near-duplicate identity (see [`DocExtra`]). Every
//!   document has both: without a computed cluster the document is its own
//!   cluster (its id), so collapsing and counting once never merge
//!   unrelated documents. `cluster_key` is a 64-bit hash of `cluster_id`
//!   (`mediawatch_report::cluster_key`) in a plain u64 column, so collapsing and counting a
//!   story once compare integers instead of decoding strings.
//! - `stem_<lang>` fields hold title and text again, stemmed, for the
//!   languages with a stemmer ([`STEMMED_LANGS`]: Snowball's, and light
//!   stemmers for the region's other languages); a document
//!   fills only the field of its own language. They have no positions:
//!   phrases always run on the unstemmed `title`/`text`.
//! - `pairs` holds adjacent word pairs in which one word is short
//!   ([`analyzer::pair_qualifies`], the "common grams" idea), so a phrase
//!   with a stop word (`"migranti su"`, `"für die"`) is a lookup of one
//!   term instead of a positional check of every document with both words.
//!
//! The layout has a version ([`SCHEMA_VERSION`]), written next to the index
//! (`mediawatch-index.json`), so an index built by another version is
//! refused with a message that says what to do.

use chrono::{DateTime, Utc};
use mediawatch_core::similarity::content_hash;
use mediawatch_core::{DateSource, DocId, DocKind, Document, Labels, SourceMeta};
use mediawatch_report::cluster_key;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED, STRING,
};
use tantivy::TantivyDocument;

use crate::analyzer::{self, ANALYZER_NAME, PAIRS_ANALYZER_NAME};
use crate::IndexError;

/// Language recorded when neither the document nor its source names one.
pub const UNKNOWN_LANG: &str = "und";

/// Version of the field layout below. Bump it on every schema change:
/// [`crate::Index::open_or_create`] refuses an index of another version.
/// v1: no version file; v2: `cluster_key`, `stem_*`, `pairs`; v3:
/// `modified`, `date_source`; v4: light-stemmed `stem_*` fields for BCMS,
/// Macedonian, Bulgarian, Slovenian, Albanian, Polish, Czech and Slovak.
pub const SCHEMA_VERSION: u32 = 4;

/// How a stemmed field stems its language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stemming {
    /// tantivy's Snowball stemmer, before folding.
    Snowball(tantivy::tokenizer::Language),
    /// The project's light stemmer, after folding
    /// ([`crate::analyzer::light_stem`]).
    Light(crate::analyzer::LightLang),
}

/// Languages with a stemmed field (`stem_<code>`): Snowball's, and the
/// project's light stemmers for the region's languages Snowball lacks.
/// `sh` holds Bosnian, Croatian, Montenegrin and Serbian, in both scripts
/// ([`stem_slot`]).
pub const STEMMED_LANGS: [(&str, Stemming); 13] = {
    use crate::analyzer::LightLang as L;
    use tantivy::tokenizer::Language as S;
    [
        ("en", Stemming::Snowball(S::English)),
        ("de", Stemming::Snowball(S::German)),
        ("it", Stemming::Snowball(S::Italian)),
        ("hu", Stemming::Snowball(S::Hungarian)),
        ("el", Stemming::Snowball(S::Greek)),
        ("sh", Stemming::Light(L::Bcms)),
        ("mk", Stemming::Light(L::Mk)),
        ("bg", Stemming::Light(L::Bg)),
        ("sl", Stemming::Light(L::Sl)),
        ("sq", Stemming::Light(L::Sq)),
        ("pl", Stemming::Light(L::Pl)),
        ("cs", Stemming::Light(L::Cs)),
        ("sk", Stemming::Light(L::Sk)),
    ]
};

/// The entry of [`STEMMED_LANGS`] that stems a language code (`de-AT` as
/// `de`, `sr`/`hr`/`bs`/`cnr` as `sh`).
pub fn stem_slot(lang: &str) -> Option<usize> {
    let base = lang.split(['-', '_']).next().unwrap_or_default();
    let base = match base {
        "sr" | "hr" | "bs" | "cnr" => "sh",
        other => other,
    };
    STEMMED_LANGS.iter().position(|(l, _)| *l == base)
}

/// Handles of every schema field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub source: Field,
    pub country: Field,
    pub lang: Field,
    pub kind: Field,
    pub url: Field,
    pub title: Field,
    pub text: Field,
    pub author: Field,
    pub published: Field,
    pub published_known: Field,
    pub fetched: Field,
    /// The stated modification time (stored only).
    pub modified: Field,
    /// [`mediawatch_core::DateSource::code`] of the trend time: indexed,
    /// so that undated documents can be left out of time series.
    pub date_source: Field,
    pub labels_json: Field,
    pub relevance: Field,
    pub hate: Field,
    pub collective: Field,
    pub threat: Field,
    pub victim: Field,
    pub recognition: Field,
    pub solutions: Field,
    pub hate_class: Field,
    pub label_flags: Field,
    pub labelled: Field,
    pub parent_id: Field,
    pub content_hash: Field,
    pub cluster_id: Field,
    pub cluster_key: Field,
    /// Stemmed title + text, one field per entry of [`STEMMED_LANGS`].
    pub stems: [Field; STEMMED_LANGS.len()],
    pub pairs: Field,
}

pub(crate) const F_ID: &str = "id";
pub(crate) const F_SOURCE: &str = "source";
pub(crate) const F_COUNTRY: &str = "country";
pub(crate) const F_LANG: &str = "lang";
pub(crate) const F_KIND: &str = "kind";
pub(crate) const F_PUBLISHED: &str = "published";
pub(crate) const F_DATE_SOURCE: &str = "date_source";
pub(crate) const F_LABEL_FLAGS: &str = "label_flags";
pub(crate) const F_LABELLED: &str = "labelled";
pub(crate) const F_CLUSTER: &str = "cluster_id";
pub(crate) const F_CLUSTER_KEY: &str = "cluster_key";
pub(crate) const F_PAIRS: &str = "pairs";

/// Name of the stemmed field of a language in [`STEMMED_LANGS`].
pub(crate) fn stem_field_name(lang: &str) -> String {
    format!("stem_{lang}")
}

/// Identity of a document beyond its id, computed by the pipeline (which
/// owns the clustering state) and stored next to the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocExtra {
    /// `mediawatch_core::similarity::content_hash` of the text; computed
    /// from the document's text when `None`.
    pub content_hash: Option<String>,
    /// Near-duplicate cluster id (the id of the cluster's first document);
    /// the document's own id when `None`.
    pub cluster_id: Option<String>,
}

/// Builds the schema and returns it with the field handles.
pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_opts = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let facet_str = STRING | STORED | FAST;
    let date = DateOptions::default()
        .set_stored()
        .set_fast()
        .set_indexed()
        .set_precision(DateTimePrecision::Seconds);
    let score = NumericOptions::default().set_fast();
    // No positions: phrases never run on these (see the module docs).
    let freqs_only = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };

    let fields = Fields {
        id: b.add_text_field(F_ID, STRING | STORED),
        source: b.add_text_field(F_SOURCE, facet_str.clone()),
        country: b.add_text_field(F_COUNTRY, facet_str.clone()),
        lang: b.add_text_field(F_LANG, facet_str.clone()),
        kind: b.add_text_field(F_KIND, facet_str),
        url: b.add_text_field("url", STORED),
        title: b.add_text_field("title", text_opts.clone()),
        text: b.add_text_field("text", text_opts),
        author: b.add_text_field("author", STORED),
        published: b.add_date_field(F_PUBLISHED, date.clone()),
        published_known: b.add_bool_field("published_known", STORED | FAST),
        fetched: b.add_date_field("fetched", date.clone()),
        modified: b.add_date_field(
            "modified",
            DateOptions::default()
                .set_stored()
                .set_precision(DateTimePrecision::Seconds),
        ),
        date_source: b.add_u64_field(F_DATE_SOURCE, INDEXED | STORED | FAST),
        labels_json: b.add_text_field("labels_json", STORED),
        relevance: b.add_f64_field("relevance", score.clone()),
        hate: b.add_f64_field("hate", score.clone()),
        collective: b.add_f64_field("collective", score.clone()),
        threat: b.add_f64_field("threat", score.clone()),
        victim: b.add_f64_field("victim", score.clone()),
        recognition: b.add_f64_field("recognition", score.clone()),
        solutions: b.add_f64_field("solutions", score),
        hate_class: b.add_text_field("hate_class", STRING | FAST),
        label_flags: b.add_u64_field(F_LABEL_FLAGS, FAST | STORED),
        labelled: b.add_bool_field(F_LABELLED, INDEXED | FAST | STORED),
        parent_id: b.add_text_field("parent_id", STRING | STORED),
        content_hash: b.add_text_field("content_hash", STRING | FAST | STORED),
        cluster_id: b.add_text_field(F_CLUSTER, STRING | FAST | STORED),
        cluster_key: b.add_u64_field(F_CLUSTER_KEY, FAST),
        stems: STEMMED_LANGS.map(|(lang, _)| {
            let name = stem_field_name(lang);
            b.add_text_field(&name, freqs_only(&analyzer::stem_analyzer_name(lang)))
        }),
        pairs: b.add_text_field(F_PAIRS, freqs_only(PAIRS_ANALYZER_NAME)),
    };
    (b.build(), fields)
}

pub(crate) fn to_tantivy_time(t: DateTime<Utc>) -> tantivy::DateTime {
    // tantivy keeps nanoseconds in an i64 (years 1678..2262); clamp so far
    // dates (a request's `to: 9999-12-31`) saturate instead of overflowing.
    const LIMIT: i64 = i64::MAX / 1_000;
    tantivy::DateTime::from_timestamp_micros(t.timestamp_micros().clamp(-LIMIT, LIMIT))
}

pub(crate) fn from_tantivy_time(t: tantivy::DateTime) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp_micros(t.into_timestamp_micros())
}

/// Bitmask of [`Labels::flags`], bit `i` = `LABEL_NAMES[i]`.
/// The label flags (bits 0..8, [`Labels::flags`]) and, above them, the
/// speaker roles of the hostile spans (bits 8..12,
/// [`Labels::speaker_bits`]), in the one `label_flags` column.
pub(crate) fn flag_bits(labels: &Labels) -> u64 {
    labels.flags().iter().enumerate().fold(
        u64::from(labels.speaker_bits()) << SPEAKER_SHIFT,
        |acc, (i, f)| if f.present { acc | (1 << i) } else { acc },
    )
}

/// Where the speaker-role bits start in `label_flags`.
pub(crate) const SPEAKER_SHIFT: u32 = 8;

/// The speaker-role bits of a `label_flags` value.
pub(crate) fn speaker_bits(bits: u64) -> u8 {
    ((bits >> SPEAKER_SHIFT) & 0xf) as u8
}

pub(crate) fn bits_to_flags(bits: u64) -> [bool; 8] {
    std::array::from_fn(|i| bits & (1 << i) != 0)
}

/// Normalised country code (upper case, as in the source config).
pub(crate) fn norm_country(c: &str) -> String {
    c.trim().to_ascii_uppercase()
}

/// Normalised language code (lower case).
pub(crate) fn norm_lang(l: &str) -> String {
    l.trim().to_ascii_lowercase()
}

/// Builds the tantivy document for `doc` from `source`.
pub(crate) fn to_tantivy(
    f: &Fields,
    doc: &Document,
    source: &SourceMeta,
    extra: &DocExtra,
) -> Result<TantivyDocument, IndexError> {
    let mut d = TantivyDocument::new();
    d.add_text(f.id, doc.id.as_str());
    d.add_text(f.source, &doc.source_id);
    d.add_text(f.country, norm_country(&source.country));
    // The document's own language wins; else the source's default language.
    let lang = doc
        .lang
        .as_deref()
        .or(source.languages.first().map(String::as_str))
        .map(norm_lang)
        .filter(|l| !l.is_empty());
    if let Some(lang) = &lang {
        d.add_text(f.lang, lang);
        if let Some(i) = stem_slot(lang) {
            d.add_text(f.stems[i], &doc.title);
            d.add_text(f.stems[i], &doc.text);
        }
    }
    d.add_text(f.kind, doc.kind.as_str());
    d.add_text(f.url, &doc.url);
    d.add_text(f.title, &doc.title);
    d.add_text(f.text, &doc.text);
    d.add_text(f.pairs, &doc.title);
    d.add_text(f.pairs, &doc.text);
    if let Some(a) = &doc.author {
        d.add_text(f.author, a);
    }
    d.add_date(f.published, to_tantivy_time(doc.effective_time()));
    d.add_bool(f.published_known, doc.published.is_some());
    d.add_date(f.fetched, to_tantivy_time(doc.fetched));
    if let Some(m) = doc.modified {
        d.add_date(f.modified, to_tantivy_time(m));
    }
    d.add_u64(f.date_source, doc.date_source().code());
    match &doc.labels {
        Some(l) => {
            let json = serde_json::to_string(l).map_err(|e| IndexError::Encode {
                id: doc.id.to_string(),
                message: format!("labels cannot be serialised: {e}"),
            })?;
            d.add_text(f.labels_json, json);
            d.add_f64(f.relevance, f64::from(l.relevance.score));
            d.add_f64(f.hate, f64::from(l.hate.score));
            d.add_f64(f.collective, f64::from(l.collective_labelling.score));
            d.add_f64(f.threat, f64::from(l.frame.threat));
            d.add_f64(f.victim, f64::from(l.frame.victim));
            d.add_f64(f.recognition, f64::from(l.frame.recognition));
            d.add_f64(f.solutions, f64::from(l.solutions.score));
            d.add_text(f.hate_class, l.hate.class.as_str());
            d.add_u64(f.label_flags, flag_bits(l));
            d.add_bool(f.labelled, true);
        }
        None => {
            // Always present so the report columns exist in every segment.
            d.add_u64(f.label_flags, 0);
            d.add_bool(f.labelled, false);
        }
    }
    if let Some(p) = &doc.parent_id {
        d.add_text(f.parent_id, p.as_str());
    }
    match &extra.content_hash {
        Some(h) => d.add_text(f.content_hash, h),
        None => d.add_text(f.content_hash, content_hash(&doc.text)),
    }
    let cluster = extra
        .cluster_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .unwrap_or(doc.id.as_str());
    d.add_text(f.cluster_id, cluster);
    d.add_u64(f.cluster_key, cluster_key(cluster));
    Ok(d)
}

fn get_str(d: &TantivyDocument, field: Field) -> Option<&str> {
    d.get_first(field).and_then(|v| v.as_str())
}

fn get_time(d: &TantivyDocument, field: Field) -> Option<DateTime<Utc>> {
    d.get_first(field)
        .and_then(|v| v.as_datetime())
        .and_then(from_tantivy_time)
}

/// Parses the stored labels of a document; `None` when unlabelled.
pub(crate) fn stored_labels(
    f: &Fields,
    d: &TantivyDocument,
    id: &str,
) -> Result<Option<Labels>, IndexError> {
    match get_str(d, f.labels_json) {
        None => Ok(None),
        Some(json) => serde_json::from_str(json)
            .map(Some)
            .map_err(|e| IndexError::Corrupt {
                id: id.to_string(),
                message: format!("stored labels are not valid label JSON: {e}"),
            }),
    }
}

/// The stored fields a hit needs, read from a stored document.
pub(crate) struct StoredHitFields {
    pub id: String,
    pub url: String,
    pub title: String,
    pub source: String,
    pub published: Option<DateTime<Utc>>,
    /// The trend time.
    pub time: Option<DateTime<Utc>>,
    pub date_source: DateSource,
    pub text: String,
    pub cluster_id: String,
}

pub(crate) fn hit_fields(f: &Fields, d: &TantivyDocument) -> StoredHitFields {
    let known = d
        .get_first(f.published_known)
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    StoredHitFields {
        id: get_str(d, f.id).unwrap_or_default().to_string(),
        url: get_str(d, f.url).unwrap_or_default().to_string(),
        title: get_str(d, f.title).unwrap_or_default().to_string(),
        source: get_str(d, f.source).unwrap_or_default().to_string(),
        published: if known {
            get_time(d, f.published)
        } else {
            None
        },
        time: get_time(d, f.published),
        // Stored since v3; before, a document was dated by its publication
        // time or by its fetch.
        date_source: d
            .get_first(f.date_source)
            .and_then(|v| v.as_u64())
            .map(DateSource::from_code)
            .unwrap_or(if known {
                DateSource::Published
            } else {
                DateSource::Fetched
            }),
        text: get_str(d, f.text).unwrap_or_default().to_string(),
        cluster_id: get_str(d, f.cluster_id).unwrap_or_default().to_string(),
    }
}

/// The stored [`DocExtra`] of a document.
pub(crate) fn stored_extra(f: &Fields, d: &TantivyDocument) -> DocExtra {
    DocExtra {
        content_hash: get_str(d, f.content_hash).map(str::to_string),
        cluster_id: get_str(d, f.cluster_id).map(str::to_string),
    }
}

/// Rebuilds a [`Document`] from its stored fields.
pub(crate) fn from_tantivy(f: &Fields, d: &TantivyDocument) -> Result<Document, IndexError> {
    let id = get_str(d, f.id).ok_or_else(|| IndexError::Corrupt {
        id: String::new(),
        message: "stored document has no id".to_string(),
    })?;
    let corrupt = |message: String| IndexError::Corrupt {
        id: id.to_string(),
        message,
    };
    let fetched = get_time(d, f.fetched)
        .ok_or_else(|| corrupt("stored document has no fetch time".to_string()))?;
    let h = hit_fields(f, d);
    let kind = match get_str(d, f.kind) {
        Some(k) => k
            .parse::<DocKind>()
            .map_err(|e| corrupt(format!("stored kind: {e}")))?,
        None => DocKind::default(),
    };
    Ok(Document {
        id: DocId::from_stored(id),
        source_id: h.source,
        url: h.url,
        title: h.title,
        text: h.text,
        author: get_str(d, f.author).map(str::to_string),
        published: h.published,
        modified: get_time(d, f.modified),
        fetched,
        lang: get_str(d, f.lang).map(str::to_string),
        kind,
        parent_id: get_str(d, f.parent_id).map(DocId::from_stored),
        labels: stored_labels(f, d, id)?,
    })
}
