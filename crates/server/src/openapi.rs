//! The OpenAPI 3.1 description of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and the types they take and return, so it
//! cannot drift from the code. `openapi.json` beside the crate is a copy
//! for readers and client generators; a test keeps it equal to what is
//! generated (`UPDATE_OPENAPI=1 cargo test -p mediawatch-server openapi`
//! rewrites it).
//!
//! Handlers that read a raw query string (repeatable keys, `compare=a&
//! compare=b`) declare their parameters with the structs here; a test
//! checks those against the keys the handlers accept.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};

/// The document, as served at `/api/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mediawatch API",
        description = "JSON API of mediawatch: search, documents, trends (reports), rising terms, \
audience map, solutions finder, source health, label corrections, exports, saved searches and \
alerts. Reads need no authentication. State-changing requests (POST/PUT/DELETE) need \
`Authorization: Bearer <token>`, the token set with the MEDIAWATCH_TOKEN environment variable \
or `[server] token`; without a configured token they are refused with 403. Every client IP is \
rate-limited (429 with Retry-After) and request bodies are limited in size (413). Errors are \
`{\"error\": \"...\"}`. Saved searches and alerts are served when alerts are set up."
    ),
    servers((url = "http://127.0.0.1:8080")),
    paths(
        crate::health,
        crate::openapi,
        crate::search,
        crate::document,
        crate::report,
        crate::trends,
        crate::sources,
        crate::audience,
        crate::solutions,
        crate::terms,
        crate::corrections::list,
        crate::corrections::add,
        crate::export::export,
        crate::ledger::ledger,
        crate::ledger::evidence,
        crate::ledger::history,
        crate::speakers::speakers,
        crate::incidents::list,
        crate::incidents::merge,
        crate::incidents::split,
        crate::alerts::list,
        crate::alerts::create,
        crate::alerts::show,
        crate::alerts::remove,
        crate::alerts::evaluate,
        crate::alerts::history,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "search", description = "Documents: full-text search, one document, solutions stories"),
        (name = "trends", description = "Counts over time, audiences and rising terms"),
        (name = "sources", description = "Configured sources and their health"),
        (name = "corrections", description = "Analysts' verdicts on labels"),
        (name = "export", description = "Searches as files"),
        (name = "incidents", description = "Stories of many outlets about one event, and analysts' merges and splits"),
        (name = "ledger", description = "The moderation ledger of comment sections, evidence packs and article histories"),
        (name = "alerts", description = "Saved searches and the alerts they fired"),
        (name = "meta", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// The answers every state-changing operation may get from the token
/// check before it runs.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only its derived description is used.
pub(crate) enum WriteRefused {
    /// No or wrong bearer token.
    #[response(status = 401, description = "No or wrong bearer token")]
    Unauthorized(crate::ErrorBody),
    /// No token is configured.
    #[response(
        status = 403,
        description = "No token is configured, so writes are refused"
    )]
    Forbidden(crate::ErrorBody),
}

/// Declares the `bearer` scheme that state-changing operations require.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as pretty JSON, generated once.
pub fn json() -> String {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            // Serializing the built document cannot fail: it is plain data.
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    });
    JSON.clone()
}

/// Query of `GET /api/report` and `/api/trends` (read from the raw query,
/// for the repeatable `compare`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only its derived description is used.
pub(crate) struct ReportParams {
    /// Query narrowing the documents; with `compare`, the first query compared.
    q: Option<String>,
    /// A query to compare (repeatable); rows get `group` = the query and
    /// `by` = `query`. Cannot be combined with `by`.
    compare: Option<Vec<String>>,
    /// Bucket width: `day`, `week` or `month` (default).
    interval: Option<String>,
    /// Second dimension: `source`, `country`, `language` or `audience`.
    by: Option<String>,
    /// Start date (YYYY-MM-DD or RFC 3339, inclusive).
    from: Option<String>,
    /// End date (inclusive day).
    to: Option<String>,
    /// Source id.
    source: Option<String>,
    /// Country code.
    country: Option<String>,
    /// Language code.
    lang: Option<String>,
    /// Count each near-duplicate cluster once.
    dedup: Option<bool>,
    /// Raw counts only: leave out each row's `attention` (its share of all
    /// coverage of the same outlets), which a report of a query has by
    /// default.
    counts_only: Option<bool>,
    /// Count documents that stated no date too (dated by their fetch);
    /// left out by default, and `undated_left_out` says how many.
    include_undated: Option<bool>,
}

/// Query of `GET /api/export` (the search page's parameters, read from the
/// raw query).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only its derived description is used.
pub(crate) struct ExportParams {
    /// Query: words, "phrases", OR, -word, title:, and filters such as
    /// country:RS hate>0.7 date>=2026-01-01.
    q: Option<String>,
    /// Start date (YYYY-MM-DD or RFC 3339, inclusive).
    from: Option<String>,
    /// End date (inclusive day).
    to: Option<String>,
    /// Source id.
    source: Option<String>,
    /// Country code.
    country: Option<String>,
    /// Language code.
    lang: Option<String>,
    /// Order: `relevance` (default) or `date`.
    sort: Option<String>,
    /// One document per near-duplicate cluster.
    collapse: Option<bool>,
    /// `csv` (default), `jsonl` or `html` (the self-contained report).
    format: Option<String>,
    /// Most documents (at most 10000).
    limit: Option<usize>,
    /// Documents to skip.
    offset: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn names<P: IntoParams>() -> BTreeSet<String> {
        P::into_params(|| None)
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| k.to_string()).collect()
    }

    /// The handlers that parse a raw query accept exactly the parameters
    /// the document declares for them.
    #[test]
    fn raw_query_parameters_match_what_the_handlers_accept() {
        assert_eq!(names::<ReportParams>(), set(&crate::REPORT_KEYS));
        assert_eq!(names::<ExportParams>(), set(&crate::export::KNOWN));
    }

    /// `openapi.json` in the repository is what the code generates.
    #[test]
    fn the_committed_copy_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let generated = format!("{}\n", json());
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "crates/server/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test -p mediawatch-server openapi"
        );
    }

    /// Every operation that changes state declares the bearer token, and
    /// every schema it refers to is defined.
    #[test]
    fn writes_declare_the_token_and_references_resolve() {
        let doc: serde_json::Value = serde_json::from_str(&json()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if matches!(method.as_str(), "post" | "put" | "delete") {
                    assert!(op["security"].is_array(), "{method} {path} lacks security");
                }
            }
        }
        let text = json();
        for r in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
            let name = &r[..r.find('"').unwrap()];
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{name} is referenced but not defined"
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
