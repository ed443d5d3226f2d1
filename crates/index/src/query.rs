//! Query parsing, filters and snippet fallback.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use mediawatch_core::text::escape_html;
use mediawatch_core::{DateSource, DocKind};
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query, QueryParser, QueryParserError,
    RangeQuery, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;

use tantivy::query_grammar::{
    self, Delimiter, Occur as GrammarOccur, UserInputAst, UserInputLeaf, UserInputLiteral,
};

use crate::analyzer;
use crate::qlang;
use crate::schema::{
    norm_country, norm_lang, stem_field_name, to_tantivy_time, Fields, F_PAIRS, STEMMED_LANGS,
};
use crate::IndexError;

/// Reminder appended to query errors, because most errors come from people
/// who do not know the syntax yet.
const SYNTAX_HINT: &str = "query syntax: words (all must match), \"exact phrase\", \
                           \"near words\"~3, a OR b, -excluded, title:word, (grouping); filters: \
                           country:RS, lang:sr, source:ID, kind:comment, class:hate, hate>0.7, \
                           date>=2026-01-01, date:2026-03, -country:HU";

/// Fields a query may name explicitly (`field:value`).
const QUERYABLE_FIELDS: &str = "title, text, source, country, lang, kind, id, parent_id, \
                                hate_class, published";

/// Finds unbalanced quotes and parentheses, which tantivy's parser reports
/// only as a bare "syntax error". Columns are 1-based characters.
fn check_balance(q: &str) -> Result<(), String> {
    let mut quote_open: Option<usize> = None;
    let mut parens: Vec<usize> = Vec::new();
    let mut escaped = false;
    for (col, c) in q.chars().enumerate().map(|(i, c)| (i + 1, c)) {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        if quote_open.is_some() {
            if c == '"' {
                quote_open = None;
            }
            continue;
        }
        match c {
            '"' => quote_open = Some(col),
            '(' => parens.push(col),
            // The guard pops the matching '(' when there is one.
            ')' if parens.pop().is_none() => {
                return Err(format!(
                    "unmatched ')' at character {col}: remove it or add a '(' before it"
                ));
            }
            _ => {}
        }
    }
    if let Some(col) = quote_open {
        return Err(format!(
            "unterminated phrase: the '\"' at character {col} has no closing '\"'"
        ));
    }
    if let Some(col) = parens.last() {
        return Err(format!(
            "unclosed '(' at character {col}: add a matching ')'"
        ));
    }
    Ok(())
}

fn explain(e: QueryParserError) -> String {
    match e {
        QueryParserError::FieldDoesNotExist(field) => {
            format!("unknown field '{field}' (searchable fields: {QUERYABLE_FIELDS})")
        }
        QueryParserError::FieldNotIndexed(field) => format!(
            "field '{field}' is stored but not searchable (searchable fields: {QUERYABLE_FIELDS})"
        ),
        QueryParserError::SyntaxError(near) => format!("syntax error near {near:?}"),
        QueryParserError::AllButQueryForbidden => {
            "the query only excludes words; add at least one word to search for".to_string()
        }
        other => other.to_string(),
    }
}

/// A parsed query: the text part for tantivy (`None` = every document)
/// and the query-language filter clauses (see [`crate::qlang`]).
#[derive(Default)]
pub(crate) struct UserQuery {
    pub text: Option<Box<dyn Query>>,
    /// The text part without the stemming and word-pair rewrites: its
    /// terms are those of the `text` field, which snippets highlight.
    pub snippet: Option<Box<dyn Query>>,
    pub clauses: Vec<(Occur, Box<dyn Query>)>,
}

/// Parses the user's query: filters (`country:RS`, `hate>0.7`,
/// `date>=2026-01-01`, ...) first, then the rest with the `mw` analyzer
/// over title (boost 2) and text, all words required.
pub(crate) fn parse_user_query(
    index: &tantivy::Index,
    f: &Fields,
    raw: &str,
) -> Result<UserQuery, IndexError> {
    let q = raw.trim();
    if q.is_empty() {
        return Ok(UserQuery::default());
    }
    let bad = |message: String| IndexError::Query {
        query: raw.to_string(),
        message: format!("{message}; {SYNTAX_HINT}"),
    };
    // Positions in messages count from the start of the query as given.
    check_balance(raw).map_err(bad)?;
    let extracted = qlang::extract(f, raw).map_err(bad)?;
    let mut clauses = extracted.clauses;
    let rest = extracted.text.trim();
    if rest.is_empty() {
        // Only filters: browse the matching documents.
        return Ok(UserQuery {
            text: None,
            snippet: None,
            clauses,
        });
    }
    if rest != "*" && !rest.chars().any(char::is_alphanumeric) {
        return Err(bad("the query has no words to search for".to_string()));
    }
    let mut parser = QueryParser::for_index(index, vec![f.title, f.text]);
    parser.set_conjunction_by_default();
    parser.set_field_boost(f.title, 2.0);
    match build(&parser, rest, true) {
        Ok(q) => Ok(UserQuery {
            snippet: build(&parser, rest, false).ok(),
            text: Some(q),
            clauses,
        }),
        // `country:RS -migranti`: with filters, excluding words is a
        // meaningful browse; run it as "everything except" the words.
        Err(QueryParserError::AllButQueryForbidden) if !clauses.is_empty() => {
            let q = build(&parser, &format!("* {rest}"), true).map_err(|e| bad(explain(e)))?;
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0))));
            Ok(UserQuery {
                text: None,
                snippet: None,
                clauses,
            })
        }
        Err(e) => Err(bad(explain(e))),
    }
}

/// Parses `text` with tantivy's grammar and builds the query, with the
/// stemming and word-pair rewrites of [`rewrite_ast`] when `rewrite`.
fn build(
    parser: &QueryParser,
    text: &str,
    rewrite: bool,
) -> Result<Box<dyn Query>, QueryParserError> {
    let ast = query_grammar::parse_query(text)
        .map_err(|_| QueryParserError::SyntaxError(text.to_string()))?;
    let ast = if rewrite { rewrite_ast(ast) } else { ast };
    parser.build_query_from_user_input_ast(ast)
}

/// Rewrites the words and phrases that search the default fields:
///
/// - a bare word (one `mw` term) also searches every stemmed field, so
///   `migrants` finds `migrant` in English documents (each stemmed field is
///   analysed with its own language's stemmer, and only documents of that
///   language fill it);
/// - an exact phrase (no slop) also requires the word pairs it contains
///   from the `pairs` field; a two-word phrase whose pair is indexed is
///   that pair alone. Both give the same matches as the positional phrase,
///   without reading positions of every document that has both words.
///
/// Field-qualified words (`title:x`), prefixes and sloppy phrases stay as
/// written. Phrases are never stemmed.
fn rewrite_ast(ast: UserInputAst) -> UserInputAst {
    match ast {
        UserInputAst::Clause(clauses) => UserInputAst::Clause(
            clauses
                .into_iter()
                .map(|(occur, a)| (occur, rewrite_ast(a)))
                .collect(),
        ),
        UserInputAst::Boost(a, boost) => UserInputAst::Boost(Box::new(rewrite_ast(*a)), boost),
        UserInputAst::Leaf(leaf) => match *leaf {
            UserInputLeaf::Literal(lit) if lit.field_name.is_none() && !lit.prefix => {
                rewrite_literal(lit)
            }
            other => UserInputAst::Leaf(Box::new(other)),
        },
    }
}

fn leaf(lit: UserInputLiteral) -> UserInputAst {
    UserInputAst::Leaf(Box::new(UserInputLeaf::Literal(lit)))
}

fn literal_in(field: String, phrase: String) -> UserInputLiteral {
    UserInputLiteral {
        field_name: Some(field),
        phrase,
        delimiter: Delimiter::None,
        slop: 0,
        prefix: false,
    }
}

fn rewrite_literal(lit: UserInputLiteral) -> UserInputAst {
    let terms = analyzer::analyze(&lit.phrase);
    if lit.delimiter == Delimiter::None {
        if terms.len() != 1 {
            return leaf(lit);
        }
        let mut alternatives = vec![(Some(GrammarOccur::Should), leaf(lit.clone()))];
        for (lang, _) in STEMMED_LANGS {
            alternatives.push((
                Some(GrammarOccur::Should),
                leaf(literal_in(stem_field_name(lang), lit.phrase.clone())),
            ));
        }
        return UserInputAst::Clause(alternatives);
    }
    if lit.slop != 0 || terms.len() < 2 {
        return leaf(lit);
    }
    let mut pairs: Vec<String> = terms
        .windows(2)
        .filter(|w| analyzer::pair_qualifies(&w[0], &w[1]))
        .map(|w| analyzer::pair_term(&w[0], &w[1]))
        .collect();
    pairs.dedup();
    if pairs.is_empty() {
        return leaf(lit);
    }
    if terms.len() == 2 {
        if let Some(pair) = pairs.pop() {
            return leaf(literal_in(F_PAIRS.to_string(), pair));
        }
    }
    let mut all = vec![(Some(GrammarOccur::Must), leaf(lit))];
    all.extend(pairs.into_iter().map(|p| {
        (
            Some(GrammarOccur::Must),
            leaf(literal_in(F_PAIRS.to_string(), p)),
        )
    }));
    UserInputAst::Clause(all)
}

/// Structured filters shared by search and facts.
pub(crate) struct Filters<'a> {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub source: Option<&'a str>,
    pub country: Option<&'a str>,
    pub lang: Option<&'a str>,
    pub kind: Option<DocKind>,
    /// Leave out documents dated only by their fetch.
    pub dated_only: bool,
}

/// A filter clause: matches exactly, adds nothing to the relevance score.
fn filter_clause(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

fn term_clause(field: tantivy::schema::Field, value: &str) -> (Occur, Box<dyn Query>) {
    filter_clause(Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    )))
}

/// Combines the user query (or "everything") with the filters.
pub(crate) fn with_filters(
    f: &Fields,
    user: Option<Box<dyn Query>>,
    query_clauses: Vec<(Occur, Box<dyn Query>)>,
    flt: &Filters<'_>,
) -> Result<Box<dyn Query>, IndexError> {
    if let (Some(from), Some(to)) = (flt.from, flt.to) {
        if from > to {
            return Err(IndexError::InvalidRequest {
                message: format!("the range starts ({from}) after it ends ({to})"),
            });
        }
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = query_clauses;
    if let Some(s) = flt.source {
        clauses.push(term_clause(f.source, s.trim()));
    }
    if let Some(c) = flt.country {
        clauses.push(term_clause(f.country, &norm_country(c)));
    }
    if let Some(l) = flt.lang {
        clauses.push(term_clause(f.lang, &norm_lang(l)));
    }
    if let Some(k) = flt.kind {
        clauses.push(term_clause(f.kind, k.as_str()));
    }
    if flt.from.is_some() || flt.to.is_some() {
        let bound = |t: Option<DateTime<Utc>>, inclusive: bool| match t {
            None => Bound::Unbounded,
            Some(t) => {
                let term = Term::from_field_date_for_search(f.published, to_tantivy_time(t));
                if inclusive {
                    Bound::Included(term)
                } else {
                    Bound::Excluded(term)
                }
            }
        };
        clauses.push(filter_clause(Box::new(RangeQuery::new(
            bound(flt.from, true),
            bound(flt.to, false),
        ))));
    }
    if flt.dated_only {
        clauses.push((
            Occur::MustNot,
            Box::new(TermQuery::new(
                Term::from_field_u64(f.date_source, DateSource::Fetched.code()),
                IndexRecordOption::Basic,
            )),
        ));
    }
    let main = user.unwrap_or_else(|| Box::new(AllQuery));
    if clauses.is_empty() {
        return Ok(main);
    }
    clauses.insert(0, (Occur::Must, main));
    Ok(Box::new(BooleanQuery::new(clauses)))
}

/// The start of the text, cut at a word boundary near `max_chars`, HTML
/// escaped like highlighted snippets so the field is always HTML-safe.
pub(crate) fn fallback_snippet(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let cut = text.char_indices().nth(max_chars).map(|(i, _)| i);
    match cut {
        None => escape_html(text),
        Some(end) => {
            let head = &text[..end];
            // Prefer the last whitespace in the second half of the window.
            let at = head
                .rfind(char::is_whitespace)
                .filter(|&i| i > end / 2)
                .unwrap_or(end);
            format!("{}…", escape_html(head[..at].trim_end()))
        }
    }
}

/// Turns an HTML snippet back into plain text for terminals: `<b>` and
/// `</b>` become `mark` (e.g. `*`), and the entities escaped by the snippet
/// generator are decoded.
pub fn snippet_to_text(snippet: &str, mark: &str) -> String {
    snippet
        .replace("<b>", mark)
        .replace("</b>", mark)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        // Last, so "&amp;lt;" becomes "&lt;" and not "<".
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_errors_point_at_the_problem() {
        let e = check_balance("title:(unclosed").unwrap_err();
        assert!(
            e.contains("unclosed '('") && e.contains("character 7"),
            "{e}"
        );
        let e = check_balance("\"unterminated").unwrap_err();
        assert!(
            e.contains("unterminated phrase") && e.contains("character 1"),
            "{e}"
        );
        let e = check_balance("a) b").unwrap_err();
        assert!(
            e.contains("unmatched ')'") && e.contains("character 2"),
            "{e}"
        );
        assert!(check_balance("(a OR b) \"x (y\" c\\)").is_ok());
    }

    #[test]
    fn snippets_convert_to_plain_text() {
        let html = format!("{} <b>x</b>", escape_html("a<b> & 'q' \"&lt;\""));
        assert_eq!(snippet_to_text(&html, "*"), "a<b> & 'q' \"&lt;\" *x*");
    }

    #[test]
    fn fallback_snippet_is_escaped_and_short() {
        assert_eq!(
            fallback_snippet(" <b>x</b> & y ", 200),
            "&lt;b&gt;x&lt;/b&gt; &amp; y"
        );
        let long = "word ".repeat(100);
        let s = fallback_snippet(&long, 200);
        assert!(s.ends_with('…'));
        assert!(s.chars().count() <= 201);
        // Multi-byte text is cut on a character boundary.
        let cyr = "мигранти".repeat(50);
        let s = fallback_snippet(&cyr, 200);
        assert_eq!(s.chars().count(), 201);
    }
}
