//! `search`, `report`, `terms` and `solutions`: reading the index.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use mediawatch_index::{FactsFilter, SearchRequest};
use mediawatch_report::{GroupBy, Interval};

use mediawatch_query::ReportQuery;

use super::{open_queries, parse_opt_date, Ctx};

#[derive(Args, Debug)]
pub(crate) struct SearchArgs {
    /// Query: words, "phrases", AND/OR/NOT, field:value.
    query: String,
    #[command(flatten)]
    filter: FilterArgs,
    /// Most hits.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Newest first instead of best match first.
    #[arg(long)]
    by_date: bool,
    /// One hit per near-duplicate cluster (syndicated copies collapsed).
    #[arg(long)]
    collapse: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    filter: FilterArgs,
    /// Bucket size: day, week or month.
    #[arg(long, default_value = "month")]
    interval: Interval,
    /// Split each bucket by source, country, language, audience or speaker
    /// (the role voicing each document's hostile statements).
    #[arg(long)]
    by: Option<GroupBy>,
    /// Only documents matching this query.
    #[arg(long)]
    query: Option<String>,
    /// Compare queries side by side: one row per bucket and query
    /// (repeat: --compare 'invasion' --compare 'language classes').
    #[arg(long)]
    compare: Vec<String>,
    /// Count each near-duplicate cluster (one syndicated story) once.
    #[arg(long)]
    dedup: bool,
    /// Raw counts only: without each row's share of all coverage of the
    /// same outlets (a report of a query has it by default).
    #[arg(long)]
    counts_only: bool,
    /// Count documents that stated no date too (dated by the day they were
    /// fetched); left out by default, and the report says how many.
    #[arg(long)]
    include_undated: bool,
    /// The audience map instead of trends: outlets and audience segments
    /// ranked by hostile vs recognising coverage of migration, weighted by reach.
    #[arg(long)]
    audience: bool,
    /// Audience map: outlets with fewer migration documents are flagged and ranked last.
    #[arg(long, default_value_t = mediawatch_report::audience::DEFAULT_MIN_DOCUMENTS)]
    min_documents: u64,
    /// Audience map: count hostility only where this speaker role voices it
    /// (outlet, quoted, commenter, author).
    #[arg(long)]
    speaker: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
}

/// The document filters `search` and `report` share.
#[derive(Args, Debug, Clone)]
pub(crate) struct FilterArgs {
    /// From date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// To date, inclusive.
    #[arg(long)]
    to: Option<String>,
    /// Only this source id.
    #[arg(long)]
    source: Option<String>,
    /// Only this country (ISO code).
    #[arg(long)]
    country: Option<String>,
    /// Only this language (ISO 639-1).
    #[arg(long)]
    lang: Option<String>,
}

impl FilterArgs {
    /// The filter, dates parsed (an error names the flag), matching `query`.
    fn facts_filter(&self, query: Option<String>) -> Result<FactsFilter> {
        Ok(FactsFilter {
            from: parse_opt_date("from", &self.from, false)?,
            to: parse_opt_date("to", &self.to, true)?,
            source: self.source.clone(),
            country: self.country.clone(),
            lang: self.lang.clone(),
            query,
            include_undated: false,
        })
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Format {
    Json,
    Csv,
    Md,
    /// A self-contained HTML page with SVG charts and the audience map.
    Html,
}

/// `mediawatch solutions`.
#[derive(Args, Debug)]
pub(crate) struct SolutionsArgs {
    /// Extra words the stories must match.
    pub text: Option<String>,
    /// Only this country (ISO code).
    #[arg(long)]
    pub country: Option<String>,
    /// Only this language.
    #[arg(long)]
    pub lang: Option<String>,
    /// From date.
    #[arg(long)]
    pub from: Option<String>,
    /// To date, inclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Lowest solutions score (0..1).
    #[arg(long, default_value_t = 0.5)]
    pub min_score: f32,
    /// Stories shown.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// JSON output (same shape as `search --json`).
    #[arg(long)]
    pub json: bool,
}

/// `mediawatch terms`.
#[derive(Args, Debug)]
pub(crate) struct TermsArgs {
    /// Period start (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub from: String,
    /// Period end, inclusive.
    #[arg(long)]
    pub to: String,
    /// Background start (default: the same length just before --from).
    #[arg(long)]
    pub background_from: Option<String>,
    /// Background end, inclusive (default: just before --from).
    #[arg(long)]
    pub background_to: Option<String>,
    /// Only documents matching this query (same language as search).
    #[arg(long)]
    pub query: Option<String>,
    /// Only this country; repeat for one list per country.
    #[arg(long)]
    pub country: Vec<String>,
    /// Only this language.
    #[arg(long)]
    pub lang: Option<String>,
    /// Terms listed.
    #[arg(long, default_value_t = 30)]
    pub limit: usize,
    /// Least occurrences in the period.
    #[arg(long, default_value_t = 3)]
    pub min_count: u64,
    /// Read documents that stated no date too (dated by the day they were
    /// fetched); left out by default.
    #[arg(long)]
    pub include_undated: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `mediawatch report`: the audience map needs the sources' metadata
/// (names, reach, audience tags) from the config; trends need only the
/// index.
pub(crate) fn report_cmd(ctx: &Ctx, a: ReportArgs) -> Result<()> {
    let sources =
        if a.audience || matches!(a.format, Format::Html) || a.by == Some(GroupBy::Audience) {
            ctx.config()?.sources.iter().map(|s| s.meta()).collect()
        } else {
            Vec::new()
        };
    report(&ctx.data_dir, a, &sources)
}

/// `mediawatch terms`.
pub(crate) fn terms_cmd(ctx: &Ctx, a: TermsArgs) -> Result<()> {
    let req = mediawatch_query::terms_request(
        &a.from,
        &a.to,
        a.background_from.as_deref(),
        a.background_to.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("--{e}"))?;
    let req = mediawatch_index::TermsRequest {
        query: a.query,
        lang: a.lang,
        limit: a.limit,
        min_count: a.min_count,
        include_undated: a.include_undated,
        ..req
    };
    terms(&ctx.data_dir, &req, &a.country, a.json)
}

/// `mediawatch solutions`.
pub(crate) fn solutions_cmd(ctx: &Ctx, a: SolutionsArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&a.min_score) {
        bail!("--min-score: {} is not in 0..1", a.min_score);
    }
    let q = mediawatch_query::SolutionsQuery {
        country: a.country,
        lang: a.lang,
        from: parse_opt_date("from", &a.from, false)?,
        to: parse_opt_date("to", &a.to, true)?,
        text: a.text,
        min_score: a.min_score,
        limit: a.limit,
    };
    solutions(&ctx.data_dir, &q, a.json)
}

pub(crate) fn search(data_dir: &Path, a: SearchArgs) -> Result<()> {
    let queries = open_queries(data_dir, Vec::new())?;
    let f = a.filter.facts_filter(None)?;
    let req = SearchRequest {
        query: a.query.clone(),
        from: f.from,
        to: f.to,
        source: f.source,
        country: f.country,
        lang: f.lang,
        kind: None,
        limit: a.limit,
        offset: 0,
        sort_by_date: a.by_date,
        collapse_clusters: a.collapse,
    };
    let res = queries.search(&req)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer(&mut out, &res)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "{} documents match {:?}", res.total, a.query)?;
    for (i, h) in res.hits.iter().enumerate() {
        let date = h
            .published
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "----------".into());
        let copies = if h.duplicates > 0 {
            format!("  (+{} near-duplicate copies)", h.duplicates)
        } else {
            String::new()
        };
        writeln!(
            out,
            "\n{:>2}. {}  [{}]  {}{copies}",
            i + 1,
            date,
            h.source,
            h.title
        )?;
        writeln!(out, "    {}", h.url)?;
        let snippet = mediawatch_index::snippet_to_text(&h.snippet, "*");
        if !snippet.is_empty() {
            writeln!(out, "    {}", snippet.replace('\n', " "))?;
        }
        if let Some(l) = &h.labels {
            let on: Vec<&str> = l
                .flags()
                .iter()
                .filter(|f| f.present)
                .map(|f| f.name)
                .collect();
            if !on.is_empty() {
                writeln!(out, "    labels: {}", on.join(", "))?;
            }
        }
    }
    Ok(())
}

pub(crate) fn terms(
    data_dir: &Path,
    req: &mediawatch_index::TermsRequest,
    countries: &[String],
    json: bool,
) -> Result<()> {
    let results = open_queries(data_dir, Vec::new())?.terms(req, countries)?;
    let mut out = std::io::stdout().lock();
    if json {
        let v: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|(c, r)| Ok((c.clone(), serde_json::to_value(r)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    for (country, r) in &results {
        writeln!(
            out,
            "== {country}: {} documents in the period, {} in the background{}",
            r.foreground_docs,
            r.background_docs,
            if r.sampled { " (sampled)" } else { "" }
        )?;
        writeln!(
            out,
            "{:<24} {:>7} {:>10} {:>6} {:>9} {:>7}",
            "term", "count", "background", "docs", "G2", "ratio"
        )?;
        for t in &r.terms {
            writeln!(
                out,
                "{:<24} {:>7} {:>10} {:>6} {:>9.1} {:>7.1}{}",
                t.term,
                t.count,
                t.background,
                t.docs,
                t.llr,
                t.ratio,
                if t.significant { "  *" } else { "" }
            )?;
        }
        writeln!(out, "(* = significant at p < 0.001, G2 > 10.83)\n")?;
    }
    Ok(())
}

pub(crate) fn solutions(
    data_dir: &Path,
    q: &mediawatch_query::SolutionsQuery,
    json: bool,
) -> Result<()> {
    let res = open_queries(data_dir, Vec::new())?.solutions(q)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &res)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} solutions stories (score >= {})",
        res.total, q.min_score
    )?;
    for (i, h) in res.hits.iter().enumerate() {
        let score = h.labels.as_ref().map_or(0.0, |l| l.solutions.score);
        let date = h
            .published
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "----------".into());
        writeln!(
            out,
            "\n{:>2}. [{score:.2}] {date}  [{}]  {}",
            i + 1,
            h.source,
            h.title
        )?;
        writeln!(out, "    {}", h.url)?;
        let snippet = mediawatch_index::snippet_to_text(&h.snippet, "*");
        if !snippet.is_empty() {
            writeln!(out, "    {}", snippet.replace('\n', " "))?;
        }
    }
    Ok(())
}

pub(crate) fn report(
    data_dir: &Path,
    a: ReportArgs,
    sources: &[mediawatch_core::SourceMeta],
) -> Result<()> {
    let interval = a.interval;
    let by = a.by.unwrap_or(GroupBy::None);
    if !a.compare.is_empty() && (a.query.is_some() || by != GroupBy::None || a.audience) {
        bail!("--compare puts each query in its own rows: combine it with neither --query, --by nor --audience");
    }
    let mut filter = a.filter.facts_filter(a.query.clone())?;
    // The audience map is shares of each outlet's coverage, not a time
    // series: every document counts there.
    filter.include_undated = a.include_undated || a.audience;
    let queries = open_queries(data_dir, sources.to_vec())?;
    let q = ReportQuery {
        filter: filter.clone(),
        interval,
        by,
        dedup: a.dedup,
        compare: a.compare.clone(),
        counts_only: a.counts_only,
    };
    let speaker = match a.speaker.as_deref() {
        None => None,
        Some(s) => Some(mediawatch_core::SpeakerRole::parse(s).ok_or_else(|| {
            anyhow::anyhow!("--speaker: {s:?} is not one of outlet, quoted, commenter, author")
        })?),
    };
    let audience_map = || queries.audience_by(&filter, a.min_documents, speaker);
    let text = if a.audience {
        use mediawatch_report::audience;
        let m = audience_map()?;
        match a.format {
            Format::Json => audience::audience_json(&m),
            Format::Csv => audience::audience_csv(&m),
            Format::Md => audience::audience_markdown(&m),
            Format::Html => mediawatch_report::html::render_html(
                &queries.report(&q)?,
                "mediawatch audience map",
                Some(&m),
            ),
        }
    } else {
        let r = queries.report(&q).context("building the report")?;
        match a.format {
            Format::Json => mediawatch_report::render_json(&r),
            Format::Csv => mediawatch_report::render_csv(&r),
            Format::Md => mediawatch_report::render_markdown(&r),
            Format::Html => mediawatch_report::html::render_html(
                &r,
                "mediawatch trend report",
                Some(&audience_map()?),
            ),
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}
