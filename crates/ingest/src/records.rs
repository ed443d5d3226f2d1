//! File imports: JSON Lines and CSV exports (from a CSO's own archive, a
//! scraper run by hand, a platform data export) turned into records.
//!
//! A bad row never stops an import: it is reported with its line and cause
//! in [`RecordBatch::errors`], and the other rows are kept.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::IngestError;

/// Which column (CSV) or field (JSONL) holds each document field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordColumns {
    /// Stable row id.
    pub id: String,
    /// Document URL.
    pub url: String,
    /// Headline.
    pub title: String,
    /// Main text.
    pub text: String,
    /// Author.
    pub author: String,
    /// Publication time.
    pub published: String,
    /// ISO 639-1 language.
    pub lang: String,
}

impl Default for RecordColumns {
    /// Every field read from the column of its own name.
    fn default() -> Self {
        Self {
            id: "id".into(),
            url: "url".into(),
            title: "title".into(),
            text: "text".into(),
            author: "author".into(),
            published: "published".into(),
            lang: "lang".into(),
        }
    }
}

/// One imported row.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Record {
    /// 1-based line in the file where the row starts.
    pub line: u64,
    /// Row id, when the file has one.
    pub id: Option<String>,
    /// Absolute http(s) URL, when the file has one.
    pub url: Option<String>,
    /// Headline.
    pub title: Option<String>,
    /// Main text.
    pub text: String,
    /// Author.
    pub author: Option<String>,
    /// Publication time.
    pub published: Option<DateTime<Utc>>,
    /// Language code as given (lower-cased).
    pub lang: Option<String>,
}

impl Record {
    /// The item key that "seen" remembers: `id:<id>`, else the URL, else a
    /// hash of title and text, so importing the same file twice adds
    /// nothing twice, even when rows move.
    pub fn key(&self) -> String {
        if let Some(id) = &self.id {
            return format!("id:{id}");
        }
        if let Some(url) = &self.url {
            return url.clone();
        }
        let mut h = Sha256::new();
        for part in [self.title.as_deref().unwrap_or(""), self.text.as_str()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        let d = h.finalize();
        let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("hash:{hex}")
    }
}

/// A bad row: where and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowError {
    /// 1-based line.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

/// The good rows of a file and the problems with the bad ones.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RecordBatch {
    /// Rows that became records, in file order.
    pub records: Vec<Record>,
    /// Rows that were skipped.
    pub errors: Vec<RowError>,
}

/// Parses a publication time: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC) or
/// `YYYY-MM-DD` (midnight UTC).
pub fn parse_record_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// Raw field values of one row, before validation.
#[derive(Default)]
struct RawRow {
    id: Option<String>,
    url: Option<String>,
    title: Option<String>,
    text: Option<String>,
    author: Option<String>,
    published: Option<String>,
    lang: Option<String>,
}

fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Validates a row; `Err` is the reason it is skipped.
fn to_record(line: u64, raw: RawRow, cols: &RecordColumns) -> Result<Record, String> {
    let url = match clean(raw.url) {
        Some(u) => match url::Url::parse(&u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") => Some(u),
            _ => return Err(format!("{}: {u:?} is not an http(s) URL", cols.url)),
        },
        None => None,
    };
    let published = match clean(raw.published) {
        Some(p) => Some(parse_record_time(&p).ok_or_else(|| {
            format!(
                "{}: {p:?} is not a date (RFC 3339, YYYY-MM-DD HH:MM:SS or YYYY-MM-DD)",
                cols.published
            )
        })?),
        None => None,
    };
    let title = clean(raw.title);
    let text = clean(raw.text).unwrap_or_default();
    if text.is_empty() && title.is_none() {
        return Err(format!(
            "neither {:?} nor {:?} has text",
            cols.text, cols.title
        ));
    }
    Ok(Record {
        line,
        id: clean(raw.id),
        url,
        title,
        text,
        author: clean(raw.author),
        published,
        lang: clean(raw.lang).map(|l| l.to_ascii_lowercase()),
    })
}

/// Parses JSON Lines: one object per line; blank lines are ignored.
/// String and number values are read; `null` and missing fields are empty.
pub fn parse_jsonl(bytes: &[u8], cols: &RecordColumns) -> RecordBatch {
    let mut batch = RecordBatch::default();
    for (i, raw_line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i as u64 + 1;
        let raw_line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        // A BOM on the first line is an editor's artefact, not data.
        let raw_line = if i == 0 {
            raw_line
                .strip_prefix(&[0xEF, 0xBB, 0xBF])
                .unwrap_or(raw_line)
        } else {
            raw_line
        };
        if raw_line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let obj = match serde_json::from_slice::<Value>(raw_line) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                batch.errors.push(RowError {
                    line,
                    reason: "not a JSON object".into(),
                });
                continue;
            }
            Err(e) => {
                batch.errors.push(RowError {
                    line,
                    reason: format!("invalid JSON at column {}: {e}", e.column()),
                });
                continue;
            }
        };
        let field = |name: &str| -> Result<Option<String>, String> {
            match obj.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(other) => Err(format!(
                    "{name}: expected a string, found {}",
                    match other {
                        Value::Bool(_) => "a boolean",
                        Value::Array(_) => "an array",
                        _ => "an object",
                    }
                )),
            }
        };
        let raw = (|| -> Result<RawRow, String> {
            Ok(RawRow {
                id: field(&cols.id)?,
                url: field(&cols.url)?,
                title: field(&cols.title)?,
                text: field(&cols.text)?,
                author: field(&cols.author)?,
                published: field(&cols.published)?,
                lang: field(&cols.lang)?,
            })
        })();
        match raw.and_then(|r| to_record(line, r, cols)) {
            Ok(r) => batch.records.push(r),
            Err(reason) => batch.errors.push(RowError { line, reason }),
        }
    }
    batch
}

/// Parses CSV with a header row. Columns the config names explicitly
/// (`explicit`) must be in the header, else the whole file is rejected
/// (every row would be wrong the same way); columns left at their default
/// names are optional. Rows with the wrong number of fields are skipped.
pub fn parse_csv(
    bytes: &[u8],
    cols: &RecordColumns,
    explicit: &[&str],
) -> Result<RecordBatch, IngestError> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty { what: "CSV file" });
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| IngestError::Malformed {
            what: "CSV header",
            line: Some(1),
            column: None,
            reason: e.to_string(),
        })?
        .clone();
    let index_of = |name: &str| headers.iter().position(|h| h.trim() == name);
    let missing: Vec<&str> = explicit
        .iter()
        .copied()
        .filter(|c| index_of(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            columns: missing.iter().map(|s| s.to_string()).collect(),
            header: headers.iter().map(str::to_string).collect(),
        });
    }
    let idx = [
        index_of(&cols.id),
        index_of(&cols.url),
        index_of(&cols.title),
        index_of(&cols.text),
        index_of(&cols.author),
        index_of(&cols.published),
        index_of(&cols.lang),
    ];
    if idx[2].is_none() && idx[3].is_none() {
        return Err(IngestError::MissingColumns {
            columns: vec![cols.text.clone(), cols.title.clone()],
            header: headers.iter().map(str::to_string).collect(),
        });
    }
    let mut batch = RecordBatch::default();
    let width = headers.len();
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                batch.errors.push(RowError {
                    line,
                    reason: format!("unreadable CSV row: {e}"),
                });
                // A UTF-8 error leaves the reader usable; an I/O error on
                // a byte slice cannot happen. Either way, go on.
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.len() != width {
            batch.errors.push(RowError {
                line,
                reason: format!("{} fields, the header has {width}", record.len()),
            });
            continue;
        }
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::to_string);
        let raw = RawRow {
            id: get(idx[0]),
            url: get(idx[1]),
            title: get(idx[2]),
            text: get(idx[3]),
            author: get(idx[4]),
            published: get(idx[5]),
            lang: get(idx[6]),
        };
        match to_record(line, raw, cols) {
            Ok(r) => batch.records.push(r),
            Err(reason) => batch.errors.push(RowError { line, reason }),
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_good_and_bad_rows() {
        let text = "{\"id\":\"a1\",\"title\":\"Migranti u Bihaću\",\"text\":\"Kamp Lipa.\",\"published\":\"2026-10-01\",\"lang\":\"BS\"}\n\
\n\
{\"url\":\"https://portal.example/a?utm_source=x\",\"text\":\"Menekültek\",\"published\":\"2026-10-02T10:00:00+02:00\"}\n\
{\"text\": \"broken\"\n\
[1,2]\n\
{\"id\":7,\"text\":\"x\",\"published\":\"last week\"}\n\
{\"text\":\"Uchodźcy\",\"author\":\"Anna\"}\n\
{\"title\":\"\",\"text\":\"  \"}\n\
{\"text\":true}\n";
        let b = parse_jsonl(text.as_bytes(), &RecordColumns::default());
        assert_eq!(b.records.len(), 3, "{b:#?}");
        assert_eq!(b.records[0].key(), "id:a1");
        assert_eq!(b.records[0].lang.as_deref(), Some("bs"));
        assert_eq!(
            b.records[0].published.unwrap().to_rfc3339(),
            "2026-10-01T00:00:00+00:00"
        );
        assert_eq!(b.records[1].line, 3);
        assert_eq!(b.records[1].key(), "https://portal.example/a?utm_source=x");
        assert!(b.records[2].key().starts_with("hash:"));
        let lines: Vec<u64> = b.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 5, 6, 8, 9], "{:#?}", b.errors);
        assert!(b.errors[2].reason.contains("last week"));
        // Same input, same keys.
        let again = parse_jsonl(text.as_bytes(), &RecordColumns::default());
        assert_eq!(again.records[2].key(), b.records[2].key());
    }

    #[test]
    fn csv_with_mapping_quotes_and_bad_rows() {
        let csv = "ID,Naslov,Tekst,Datum,Link\n\
1,Izbjeglice,\"Tekst, sa zarezom\nu dva reda\",2026-09-30 12:00:00,https://a.example/1\n\
2,Bez datuma,Drugi,,\n\
3,Loš datum,Treći,30.09.2026,\n\
4,Premalo\n\
5,Loš link,Peti,,ftp://x\n";
        let cols = RecordColumns {
            id: "ID".into(),
            title: "Naslov".into(),
            text: "Tekst".into(),
            published: "Datum".into(),
            url: "Link".into(),
            ..RecordColumns::default()
        };
        let b = parse_csv(csv.as_bytes(), &cols, &["ID", "Naslov", "Tekst"]).unwrap();
        assert_eq!(b.records.len(), 2, "{b:#?}");
        assert_eq!(b.records[0].text, "Tekst, sa zarezom\nu dva reda");
        assert_eq!(b.records[0].line, 2);
        assert_eq!(b.records[1].line, 4, "a quoted newline spans two lines");
        let lines: Vec<u64> = b.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [5, 6, 7], "{:#?}", b.errors);
        assert!(b.errors[0].reason.contains("Datum"));

        match parse_csv(csv.as_bytes(), &cols, &["Body"]) {
            Err(IngestError::MissingColumns { columns, .. }) => assert_eq!(columns, ["Body"]),
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse_csv(b"", &cols, &[]).is_err());
    }
}
