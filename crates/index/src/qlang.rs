//! The filter part of the query language, taken out of the query string
//! before tantivy's `QueryParser` sees the rest.
//!
//! Syntax (each filter is one whitespace-separated word at the top level of
//! the query, outside quotes and parentheses):
//!
//! - `source:ID`, `country:RS`, `lang:sr`, `kind:comment`: field filters.
//!   Country and language are case-insensitive. Several values of one field
//!   mean *either* (`country:RS country:BA`, or `country:RS|BA`); different
//!   fields must all hold. `-country:HU` (or `NOT country:HU`) excludes.
//! - `hate>0.7`, `collective>=0.5`, `threat<0.2`, `relevance<=0.1` on the
//!   labels relevance, hate, collective, threat, victim, recognition,
//!   solutions; the value lies in 0..1. Several comparisons must all hold
//!   (`hate>0.3 hate<0.6` is a band). Unlabelled documents never match.
//!   `-hate>0.7` is `hate<=0.7` (still labelled documents only).
//! - `class:hate`, `class:offensive|none`: the hate class (labelled
//!   documents only; `-class:hate` = labelled and not hate).
//! - `date:2026`, `date:2026-03`, `date:2026-03-04`: the whole year, month
//!   or day (UTC) of the trend time (publication, else fetch time); several
//!   mean either, `-date:2026-03` excludes. `date>=2026-01-01`,
//!   `date<2026-02-01`: the value is a period; `>=` from its start, `>`
//!   after its end, `<` before its start, `<=` up to its end. An RFC 3339
//!   time (`2026-01-01T10:00:00Z`) is an instant.
//!
//! Filters add nothing to the relevance score. `AND` next to a filter is
//! dropped (filters always apply to the whole query); `OR` next to a filter
//! is an error, because a filter cannot be one alternative of a text
//! search. Inside parentheses, `country:`/`lang:`/`kind:` values are
//! normalised and passed to tantivy as exact terms; the other filters are
//! refused there.

use std::ops::Bound;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use mediawatch_core::{DocKind, HateClass};
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use crate::schema::{norm_country, norm_lang, to_tantivy_time, Fields};

/// Label names a threshold filter may use.
pub(crate) const LABEL_FILTERS: [&str; 7] = [
    "relevance",
    "hate",
    "collective",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

const FIELD_FILTERS: [&str; 6] = ["source", "country", "lang", "kind", "class", "date"];

/// What the query language extracted from a query string.
pub(crate) struct Extracted {
    /// The rest, for tantivy's parser (may be empty).
    pub text: String,
    /// Filter clauses (Must / MustNot), score-free.
    pub clauses: Vec<(Occur, Box<dyn Query>)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn negate(self) -> Op {
        match self {
            Op::Gt => Op::Le,
            Op::Ge => Op::Lt,
            Op::Lt => Op::Ge,
            Op::Le => Op::Gt,
        }
    }
}

/// A date value: the half-open period `[start, end)`, or an instant.
#[derive(Debug, Clone, Copy)]
enum When {
    Period(DateTime<Utc>, DateTime<Utc>),
    Instant(DateTime<Utc>),
}

#[derive(Debug)]
enum Filter {
    /// field, values (already normalised), negated
    Term(FieldKind, Vec<String>, bool),
    Label(&'static str, Op, f64),
    DateCmp(Op, When),
    /// date:period, negated
    DateIn(When, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FieldKind {
    Source,
    Country,
    Lang,
    Kind,
    Class,
}

/// One top-level word of the query.
struct Word<'a> {
    text: &'a str,
    /// 1-based character position in the query.
    col: usize,
}

/// Splits at whitespace outside quotes and parentheses.
fn top_level_words(q: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let (mut in_quote, mut depth, mut escaped) = (false, 0usize, false);
    for (col, (i, c)) in q.char_indices().enumerate() {
        let col = col + 1;
        let boundary = c.is_whitespace() && !in_quote && depth == 0 && !escaped;
        if boundary {
            if let Some((s, scol)) = start.take() {
                out.push(Word {
                    text: &q[s..i],
                    col: scol,
                });
            }
        } else if start.is_none() {
            start = Some((i, col));
        }
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quote = !in_quote;
        } else if !in_quote && c == '(' {
            depth += 1;
        } else if !in_quote && c == ')' {
            depth = depth.saturating_sub(1);
        }
    }
    if let Some((s, scol)) = start {
        out.push(Word {
            text: &q[s..],
            col: scol,
        });
    }
    out
}

fn label_list() -> String {
    LABEL_FILTERS.join(", ")
}

/// Years a date filter may name: the index cannot store times outside
/// 1678..2262, and anything outside this narrower window is a typo.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// Parses a date value: `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or RFC 3339, with
/// the year in [`YEARS`].
fn parse_when(v: &str) -> Option<When> {
    parse_when_any_year(v).filter(|w| match w {
        When::Period(s, _) => YEARS.contains(&s.year()),
        When::Instant(t) => YEARS.contains(&t.year()),
    })
}

fn parse_when_any_year(v: &str) -> Option<When> {
    let day = |y: i32, m: u32, d: u32| {
        NaiveDate::from_ymd_opt(y, m, d).and_then(|d| d.and_hms_opt(0, 0, 0))
    };
    let start = |d: chrono::NaiveDateTime| d.and_utc();
    let parts: Vec<&str> = v.split('-').collect();
    let num = |s: &str, len: usize| -> Option<u32> {
        if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    match parts.as_slice() {
        [y] => {
            let y = i32::try_from(num(y, 4)?).ok()?;
            Some(When::Period(
                start(day(y, 1, 1)?),
                start(day(y.checked_add(1)?, 1, 1)?),
            ))
        }
        [y, m] => {
            let y = i32::try_from(num(y, 4)?).ok()?;
            let m = num(m, 2)?;
            let s = start(day(y, m, 1)?);
            let e = if m == 12 {
                day(y.checked_add(1)?, 1, 1)?
            } else {
                day(y, m + 1, 1)?
            };
            Some(When::Period(s, start(e)))
        }
        [y, m, d] if d.len() == 2 => {
            let y = i32::try_from(num(y, 4)?).ok()?;
            let s = start(day(y, num(m, 2)?, num(d, 2)?)?);
            let e = s.checked_add_signed(chrono::Duration::days(1))?;
            Some(When::Period(s, e))
        }
        _ => DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|t| When::Instant(t.with_timezone(&Utc))),
    }
}

fn split_op(rest: &str) -> Option<(Op, &str)> {
    for (p, op) in [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)] {
        if let Some(v) = rest.strip_prefix(p) {
            return Some((op, v));
        }
    }
    None
}

/// Classifies one word (without its `-`/`+` prefix). `Ok(None)`: not a
/// filter, pass it to tantivy. `Err`: a filter with a mistake (message
/// without the position, added by the caller).
fn classify(w: &str, negated: bool) -> Result<Option<Filter>, String> {
    // name OP value
    let name_len = w
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
        .unwrap_or(w.len());
    let (name, rest) = w.split_at(name_len);
    let lname = name.to_ascii_lowercase();
    if !name.is_empty() {
        if let Some((op, value)) = split_op(rest) {
            let op = if negated { op.negate() } else { op };
            if lname == "date" {
                let when = parse_when(value).ok_or_else(|| {
                    format!(
                        "invalid date '{value}': expected YYYY, YYYY-MM, YYYY-MM-DD \
                         (e.g. date>=2026-01-01) or an RFC 3339 time, years 1900 to 2199"
                    )
                })?;
                return Ok(Some(Filter::DateCmp(op, when)));
            }
            let Some(label) = LABEL_FILTERS.iter().find(|l| **l == lname) else {
                return Err(format!(
                    "unknown label '{name}' (labels: {}; dates: date>=YYYY-MM-DD)",
                    label_list()
                ));
            };
            let v: f64 = value
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    format!(
                        "'{value}' is not a number; label thresholds are 0..1, e.g. {label}>0.7"
                    )
                })?;
            if !(0.0..=1.0).contains(&v) {
                return Err(format!(
                    "threshold {value} is out of range: label scores lie between 0 and 1"
                ));
            }
            return Ok(Some(Filter::Label(label, op, v)));
        }
        if rest.starts_with('=') && (lname == "date" || LABEL_FILTERS.contains(&lname.as_str())) {
            return Err("'=' is not an operator here: use >, >=, < or <= \
                        (or date:YYYY-MM-DD for a whole day)"
                .to_string());
        }
    }
    let Some(value) = rest.strip_prefix(':') else {
        return Ok(None);
    };
    if LABEL_FILTERS.contains(&lname.as_str()) {
        return Err(format!(
            "label '{name}' takes a comparison, e.g. {lname}>0.7 or {lname}<=0.2"
        ));
    }
    if !FIELD_FILTERS.contains(&lname.as_str()) {
        return Ok(None);
    }
    // Quoted single values are allowed: country:"RS".
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if value.trim().is_empty() {
        return Err(format!(
            "the filter needs a value, e.g. {}",
            example(&lname)
        ));
    }
    if value.contains(['(', ')', '"', '[', ']', '{', '}']) {
        return Err(format!(
            "a {lname} filter takes plain values; for several write {lname}:A {lname}:B or {lname}:A|B"
        ));
    }
    let values: Vec<&str> = value
        .split(['|', ','])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(format!(
            "the filter needs a value, e.g. {}",
            example(&lname)
        ));
    }
    if lname == "date" {
        if values.len() > 1 {
            return Err(
                "one date per date: filter; repeat it for several (date:2026-03 date:2026-05)"
                    .to_string(),
            );
        }
        let when = parse_when(values[0]).ok_or_else(|| {
            format!(
                "invalid date '{}': expected YYYY, YYYY-MM or YYYY-MM-DD (e.g. date:2026-03), \
                 years 1900 to 2199",
                values[0]
            )
        })?;
        return Ok(Some(Filter::DateIn(when, negated)));
    }
    let (kind, norm): (FieldKind, Vec<String>) = match lname.as_str() {
        "source" => (
            FieldKind::Source,
            values.iter().map(|v| v.to_string()).collect(),
        ),
        "country" => (
            FieldKind::Country,
            values.iter().map(|v| norm_country(v)).collect(),
        ),
        "lang" => (
            FieldKind::Lang,
            values.iter().map(|v| norm_lang(v)).collect(),
        ),
        "kind" => (
            FieldKind::Kind,
            values
                .iter()
                .map(|v| {
                    v.to_ascii_lowercase()
                        .parse::<DocKind>()
                        .map(|k| k.as_str().to_string())
                        .map_err(|_| format!("unknown kind '{v}' (kinds: article, post, comment)"))
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => (
            FieldKind::Class,
            values
                .iter()
                .map(|v| {
                    v.to_ascii_lowercase()
                        .parse::<HateClass>()
                        .map(|k| k.as_str().to_string())
                        .map_err(|_| {
                            format!("unknown hate class '{v}' (classes: hate, offensive, none)")
                        })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(Some(Filter::Term(kind, norm, negated)))
}

fn example(name: &str) -> &'static str {
    match name {
        "source" => "source:n1",
        "country" => "country:RS",
        "lang" => "lang:sr",
        "kind" => "kind:comment",
        "class" => "class:hate",
        _ => "date:2026-03",
    }
}

fn is_and(w: &str) -> bool {
    w == "AND" || w == "&&"
}
fn is_or(w: &str) -> bool {
    w == "OR" || w == "||"
}

/// Checks and normalises filter-like terms inside a grouped word such as
/// `(country:rs OR lang:hu)`, which tantivy handles as exact terms.
fn normalise_nested(word: &Word<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(word.text.len());
    let mut sub_start: Option<(usize, usize)> = None;
    let mut in_quote = false;
    let mut escaped = false;
    let flush = |out: &mut String, s: &str, col: usize| -> Result<(), String> {
        let (neg, body) = match s.strip_prefix(['-', '+']) {
            Some(b) => (true, b),
            None => (false, s),
        };
        let prefix = &s[..s.len() - body.len()];
        match classify(body, neg).map_err(|m| format!("'{s}' at character {col}: {m}"))? {
            Some(Filter::Term(kind, values, _))
                if kind != FieldKind::Class && values.len() == 1 =>
            {
                let name = &body[..body.find(':').unwrap_or(0)];
                out.push_str(prefix);
                out.push_str(&name.to_ascii_lowercase());
                out.push(':');
                out.push_str(&values[0]);
            }
            Some(_) => {
                return Err(format!(
                    "filter '{s}' at character {col} cannot be inside parentheses: \
                     write filters at the top level (they apply to the whole query; \
                     several values of one field mean either)"
                ))
            }
            None => out.push_str(s),
        }
        Ok(())
    };
    for (ci, (i, c)) in word.text.char_indices().enumerate() {
        let col = word.col + ci;
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            out.push(c);
            continue;
        }
        let sep = c.is_whitespace() || c == '(' || c == ')' || c == '"';
        if sep {
            if let Some((s, scol)) = sub_start.take() {
                flush(&mut out, &word.text[s..i], scol)?;
            }
            if c == '"' {
                in_quote = true;
            }
            out.push(c);
        } else if sub_start.is_none() {
            sub_start = Some((i, col));
        }
    }
    if let Some((s, scol)) = sub_start {
        flush(&mut out, &word.text[s..], scol)?;
    }
    Ok(out)
}

/// Takes the filters out of `q`. Errors carry the message only (the caller
/// wraps it in [`crate::IndexError::Query`]).
pub(crate) fn extract(f: &Fields, q: &str) -> Result<Extracted, String> {
    let words = top_level_words(q);
    let mut kept: Vec<String> = Vec::new();
    let mut filters: Vec<Filter> = Vec::new();
    let mut last_filter_col: Option<(usize, String)> = None;
    for w in &words {
        let (neg, body) = match w.text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, w.text.strip_prefix('+').unwrap_or(w.text)),
        };
        let classified = if body.is_empty() {
            None
        } else {
            classify(body, neg).map_err(|m| format!("'{}' at character {}: {m}", w.text, w.col))?
        };
        match classified {
            Some(mut filter) => {
                // NOT right before a filter negates it.
                if kept.last().map(String::as_str) == Some("NOT") {
                    kept.pop();
                    filter = classify(body, !neg)
                        .map_err(|m| format!("'{}' at character {}: {m}", w.text, w.col))?
                        .unwrap_or(filter);
                }
                if let Some(prev) = kept.last() {
                    if is_or(prev) {
                        return Err(or_error(w));
                    }
                    if is_and(prev) {
                        kept.pop();
                    }
                }
                filters.push(filter);
                last_filter_col = Some((w.col, w.text.to_string()));
            }
            None => {
                if let Some((col, text)) = last_filter_col.take() {
                    if is_or(w.text) {
                        return Err(or_error(&Word { text: &text, col }));
                    }
                    if is_and(w.text) {
                        // The filter before already applies to everything.
                        last_filter_col = Some((col, text));
                        continue;
                    }
                }
                let text = if w.text.contains([':', '<', '>', '=']) {
                    normalise_nested(w)?
                } else {
                    w.text.to_string()
                };
                kept.push(text);
            }
        }
    }
    // ANDs next to filters were dropped above (before a filter: popped;
    // after one: skipped), so `a AND country:RS` leaves `a`.
    Ok(Extracted {
        text: kept.join(" "),
        clauses: build_clauses(f, filters),
    })
}

fn or_error(w: &Word<'_>) -> String {
    format!(
        "filter '{}' at character {} cannot be combined with OR: filters apply to the whole \
         query; for either of two values repeat the filter (country:RS country:BA) or write \
         country:RS|BA",
        w.text, w.col
    )
}

fn filter_clause(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(ConstScoreQuery::new(q, 0.0))
}

fn term(field: Field, v: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, v),
        IndexRecordOption::Basic,
    ))
}

fn any_of(mut qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if qs.len() == 1 {
        if let Some(q) = qs.pop() {
            return q;
        }
    }
    Box::new(BooleanQuery::new(
        qs.into_iter().map(|q| (Occur::Should, q)).collect(),
    ))
}

fn date_range(f: &Fields, lo: Bound<DateTime<Utc>>, hi: Bound<DateTime<Utc>>) -> Box<dyn Query> {
    let t = |b: Bound<DateTime<Utc>>| match b {
        Bound::Included(t) => Bound::Included(Term::from_field_date_for_search(
            f.published,
            to_tantivy_time(t),
        )),
        Bound::Excluded(t) => Bound::Excluded(Term::from_field_date_for_search(
            f.published,
            to_tantivy_time(t),
        )),
        Bound::Unbounded => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(t(lo), t(hi)))
}

fn when_bounds(op: Op, w: When) -> (Bound<DateTime<Utc>>, Bound<DateTime<Utc>>) {
    use Bound::*;
    match (w, op) {
        (When::Period(s, _), Op::Ge) => (Included(s), Unbounded),
        (When::Period(_, e), Op::Gt) => (Included(e), Unbounded),
        (When::Period(s, _), Op::Lt) => (Unbounded, Excluded(s)),
        (When::Period(_, e), Op::Le) => (Unbounded, Excluded(e)),
        (When::Instant(t), Op::Ge) => (Included(t), Unbounded),
        (When::Instant(t), Op::Gt) => (Excluded(t), Unbounded),
        (When::Instant(t), Op::Lt) => (Unbounded, Excluded(t)),
        (When::Instant(t), Op::Le) => (Unbounded, Included(t)),
    }
}

fn period_bounds(w: When) -> (Bound<DateTime<Utc>>, Bound<DateTime<Utc>>) {
    match w {
        When::Period(s, e) => (Bound::Included(s), Bound::Excluded(e)),
        When::Instant(t) => (Bound::Included(t), Bound::Included(t)),
    }
}

fn label_field(f: &Fields, name: &str) -> Field {
    match name {
        "relevance" => f.relevance,
        "hate" => f.hate,
        "collective" => f.collective,
        "threat" => f.threat,
        "victim" => f.victim,
        "recognition" => f.recognition,
        _ => f.solutions,
    }
}

fn build_clauses(f: &Fields, filters: Vec<Filter>) -> Vec<(Occur, Box<dyn Query>)> {
    let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    // Positive values per field are OR'd; fields in this fixed order.
    let kinds = [
        (FieldKind::Source, f.source),
        (FieldKind::Country, f.country),
        (FieldKind::Lang, f.lang),
        (FieldKind::Kind, f.kind),
        (FieldKind::Class, f.hate_class),
    ];
    for (kind, field) in kinds {
        let mut pos = Vec::new();
        let mut neg = Vec::new();
        for flt in &filters {
            if let Filter::Term(k, values, negated) = flt {
                if *k == kind {
                    for v in values {
                        if *negated {
                            neg.push(term(field, v));
                        } else {
                            pos.push(term(field, v));
                        }
                    }
                }
            }
        }
        if !pos.is_empty() {
            out.push((Occur::Must, filter_clause(any_of(pos))));
        } else if kind == FieldKind::Class && !neg.is_empty() {
            // Class filters speak about labelled documents only.
            out.push((
                Occur::Must,
                filter_clause(Box::new(TermQuery::new(
                    Term::from_field_bool(f.labelled, true),
                    IndexRecordOption::Basic,
                ))),
            ));
        }
        for q in neg {
            out.push((Occur::MustNot, q));
        }
    }
    let mut date_in = Vec::new();
    for flt in filters {
        match flt {
            Filter::Term(..) => {}
            Filter::Label(name, op, v) => {
                let field = label_field(f, name);
                // Scores are f32 in the labels and were widened to f64 when
                // indexed (0.3f32 -> 0.30000001...); comparing against the
                // widened f32 nearest the threshold makes `hate<=0.3` include
                // a stored 0.3, as the user expects.
                let v = f64::from(v as f32);
                let tv = Term::from_field_f64(field, v);
                let (lo, hi) = match op {
                    Op::Gt => (Bound::Excluded(tv), Bound::Unbounded),
                    Op::Ge => (Bound::Included(tv), Bound::Unbounded),
                    Op::Lt => (Bound::Unbounded, Bound::Excluded(tv)),
                    Op::Le => (Bound::Unbounded, Bound::Included(tv)),
                };
                out.push((
                    Occur::Must,
                    filter_clause(Box::new(RangeQuery::new(lo, hi))),
                ));
            }
            Filter::DateCmp(op, w) => {
                let (lo, hi) = when_bounds(op, w);
                out.push((Occur::Must, filter_clause(date_range(f, lo, hi))));
            }
            Filter::DateIn(w, true) => {
                let (lo, hi) = period_bounds(w);
                out.push((Occur::MustNot, date_range(f, lo, hi)));
            }
            Filter::DateIn(w, false) => {
                let (lo, hi) = period_bounds(w);
                date_in.push(date_range(f, lo, hi));
            }
        }
    }
    if !date_in.is_empty() {
        out.push((Occur::Must, filter_clause(any_of(date_in))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_as_periods() {
        let Some(When::Period(s, e)) = parse_when("2026-12") else {
            panic!("month")
        };
        assert_eq!(s.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let Some(When::Period(s, e)) = parse_when("2024-02-29") else {
            panic!("day")
        };
        assert_eq!((e - s).num_hours(), 24);
        assert!(parse_when("2026-13-01").is_none());
        assert!(parse_when("2026-02-30").is_none());
        assert!(parse_when("26-01-01").is_none());
        assert!(parse_when("").is_none());
        assert!(matches!(
            parse_when("2026-01-01T10:00:00Z"),
            Some(When::Instant(_))
        ));
    }

    #[test]
    fn words_split_at_top_level_only() {
        let w: Vec<_> = top_level_words(" a \"b c\" (d e) -f:g  h")
            .into_iter()
            .map(|w| (w.text, w.col))
            .collect();
        assert_eq!(
            w,
            [
                ("a", 2),
                ("\"b c\"", 4),
                ("(d e)", 10),
                ("-f:g", 16),
                ("h", 22)
            ]
        );
    }
}
