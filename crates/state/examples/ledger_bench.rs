//! Cost of the moderation ledger in the state (SQLite, a file in a temp
//! directory): recording first sightings as the classify stage does (one
//! transaction per commit of 500 comments), storing re-checks, and reading
//! a month back for the figures.
//!
//! `cargo run --release -p mediawatch-state --example ledger_bench -- [ARTICLES] [COMMENTS_PER_ARTICLE]`

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use mediawatch_core::ledger::*;
use mediawatch_state::{load_sightings, SightingFilter, StateBackend, StateStore};

fn main() {
    let mut args = std::env::args().skip(1);
    let articles: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let per: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.sqlite");
    let s = StateStore::open(&path).expect("open");
    let t0 = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
    let text =
        "Comment text of a typical length, about migrants and the town, nothing more. ".repeat(2);
    let body = "Article paragraph about the border and the people crossing it. ".repeat(60);
    let started = Instant::now();
    let mut batch_a = Vec::new();
    let mut batch_c = Vec::new();
    let mut commits = 0;
    for a in 0..articles {
        let first = t0 + Duration::minutes(a as i64 * 2);
        let id = format!("article-{a:08}");
        batch_a.push(NewTracked {
            article: TrackedArticle {
                doc_id: id.clone(),
                source_id: format!("s{}", a % 40),
                url: format!("https://outlet{}.example/{a}", a % 40),
                first_seen: first,
                stage: 0,
                next_due: Some(first + Duration::hours(6)),
                etag: None,
                last_modified: None,
                deleted_at: None,
                deleted_how: None,
            },
            version: ArticleVersion {
                n: 1,
                fetched_at: first,
                content_hash: content_hash("t", &body),
                title: format!("Headline {a}"),
                text: body.clone(),
            },
        });
        for c in 0..per {
            batch_c.push(CommentSighting {
                comment_id: format!("{id}-{c:03}"),
                article_id: id.clone(),
                source_id: format!("s{}", a % 40),
                url: format!("https://outlet{}.example/{a}#comment-{c}", a % 40),
                author: Some(format!("reader{c}")),
                text: text.clone(),
                posted: None,
                content_hash: content_hash("", &format!("{text}{c}")),
                identity: CommentIdentity::Hash,
                flags: if c % 7 == 0 { 1 << 1 } else { 0 },
                evidence: None,
                model_version: Some("m".into()),
                first_seen: first,
                last_seen: first,
                gone_at: None,
                gone_reason: None,
                gone_fetch: None,
            });
            if batch_c.len() == 500 {
                s.track(&batch_a, &batch_c).expect("track");
                batch_a.clear();
                batch_c.clear();
                commits += 1;
            }
        }
    }
    s.track(&batch_a, &batch_c).expect("track");
    let track = started.elapsed();
    let n_comments = articles * per;
    println!(
        "track: {articles} articles, {n_comments} comments in {commits} commits: {:.2} s ({:.0} comments/s)",
        track.as_secs_f64(),
        n_comments as f64 / track.as_secs_f64()
    );

    // One round of re-checks for every article: all comments seen, one in
    // ten gone.
    let started = Instant::now();
    let mut done = 0;
    loop {
        let now = t0 + Duration::days(365);
        let due = s.due_revisits(now, 200).expect("due");
        if due.is_empty() {
            break;
        }
        for t in due {
            let (gone, seen): (Vec<String>, Vec<String>) = (0..per)
                .map(|c| format!("{}-{c:03}", t.doc_id))
                .partition(|id| id.ends_with('0'));
            s.record_revisit(&RevisitRecord {
                doc_id: t.doc_id.clone(),
                check: ArticleCheck {
                    at: t.first_seen + Duration::hours(6),
                    status: Some(200),
                    outcome: CheckOutcome::Unchanged,
                    content_hash: Some("h".into()),
                    note: None,
                },
                new_version: None,
                etag: Some("\"e\"".into()),
                last_modified: None,
                next_due: None,
                deleted: None,
                comments_seen: seen,
                comments_gone: gone,
                gone_reason: GoneReason::Removed,
            })
            .expect("record");
            done += 1;
        }
    }
    let rec = started.elapsed();
    println!(
        "record_revisit: {done} re-checks ({per} comments each) in {:.2} s ({:.2} ms per re-check)",
        rec.as_secs_f64(),
        rec.as_secs_f64() * 1000.0 / done as f64
    );

    // Reading a month of one outlet, and of all outlets, for the figures.
    for source in [Some("s7".to_string()), None] {
        let started = Instant::now();
        let f = SightingFilter {
            source: source.clone(),
            from: Some(t0),
            to: Some(t0 + Duration::days(30)),
            tracked_only: true,
            ..Default::default()
        };
        let (rows, truncated) =
            load_sightings(&s as &dyn StateBackend, &f, 2_000_000).expect("load");
        println!(
            "load a month ({}): {} comments in {:.3} s{}",
            source.as_deref().unwrap_or("all outlets"),
            rows.len(),
            started.elapsed().as_secs_f64(),
            if truncated { " (truncated)" } else { "" }
        );
    }
    drop(s);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "state file: {:.1} MiB ({:.0} bytes per comment, article versions included)",
        size as f64 / 1048576.0,
        size as f64 / n_comments as f64
    );
}
