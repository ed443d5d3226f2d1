//! Time to group a period's stories into incidents: the project's labelled
//! stories copied N times over 60 days (each copy its own events: names
//! and numbers keep them apart only by time), grouped with the default
//! parameters.
//!
//! `cargo run --release -p mediawatch-incidents --example incidents_bench -- [COPIES]`

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use mediawatch_incidents::{group, Story, DEFAULT_PARAMS};

fn main() {
    let copies: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(137);
    let base: Vec<(DateTime<Utc>, String, String)> = include_str!("../testdata/incidents.jsonl")
        .lines()
        .map(|l| {
            let field = |k: &str| {
                let start = l.find(&format!("\"{k}\": \"")).expect("field") + k.len() + 5;
                let end = start + l[start..].find('"').expect("end");
                l[start..end].to_string()
            };
            (
                field("published").parse().expect("time"),
                field("title"),
                field("text"),
            )
        })
        .collect();
    let mut stories = Vec::new();
    for c in 0..copies {
        // Spread the copies over 60 days: each copy's stories keep their
        // spacing, so each copy's events are one incident each.
        let shift = Duration::minutes((c as i64 * 60 * 24 * 60) / copies.max(1) as i64);
        for (i, (t, title, lead)) in base.iter().enumerate() {
            stories.push(Story {
                id: format!("{c}-{i}"),
                cluster: String::new(),
                time: *t + shift,
                title: title.clone(),
                lead: lead.clone(),
            });
        }
    }
    let started = Instant::now();
    let groups = group(&stories, &DEFAULT_PARAMS, &[]);
    let took = started.elapsed();
    let multi = groups.iter().filter(|g| g.len() > 1).count();
    println!(
        "{} stories -> {} groups ({} with 2+ stories) in {:.3} s ({:.0} stories/s)",
        stories.len(),
        groups.len(),
        multi,
        took.as_secs_f64(),
        stories.len() as f64 / took.as_secs_f64()
    );
}
