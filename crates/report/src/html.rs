//! A self-contained HTML report: trend charts (SVG drawn with plotters,
//! inlined), the trend table and, when given, the audience map. No script,
//! no external asset, so it opens offline and can be mailed as one file.
//! Every string that came from a scraped source or the config is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plotters::prelude::*;

use crate::audience::AudienceMap;
use crate::Report;
use mediawatch_core::text::escape_html as escape;

/// Labels charted as shares, with their colours.
const CHARTED: [(&str, RGBColor); 6] = [
    ("hate", RGBColor(198, 40, 40)),
    ("collective_labelling", RGBColor(239, 108, 0)),
    ("threat", RGBColor(123, 31, 162)),
    ("victim", RGBColor(21, 101, 192)),
    ("recognition", RGBColor(46, 125, 50)),
    ("solutions", RGBColor(0, 131, 143)),
];

/// Per bucket over all groups: documents, labelled and counts per label.
fn series(r: &Report) -> Vec<(String, u64, u64, BTreeMap<String, u64>)> {
    let mut by: BTreeMap<&str, (u64, u64, BTreeMap<String, u64>)> = BTreeMap::new();
    for b in &r.buckets {
        let e = by.entry(b.bucket.as_str()).or_default();
        e.0 += b.documents;
        e.1 += b.labelled;
        for (k, v) in &b.labels {
            *e.2.entry(k.clone()).or_default() += v.count;
        }
    }
    by.into_iter()
        .map(|(k, (d, l, c))| (k.to_string(), d, l, c))
        .collect()
}

fn draw<F>(width: u32, height: u32, f: F) -> String
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
{
    let mut svg = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        let r = root
            .fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|_| f(&root));
        let _ = root.present();
        r
    };
    match result {
        Ok(()) => svg,
        // A chart that cannot be drawn must not take the report down.
        Err(e) => format!("<p class=\"err\">chart unavailable: {}</p>", escape(&e)),
    }
}

fn volume_chart(s: &[(String, u64, u64, BTreeMap<String, u64>)]) -> String {
    let n = s.len().max(1) as i32;
    let max = s.iter().map(|x| x.1).max().unwrap_or(1).max(1);
    let keys: Vec<String> = s.iter().map(|x| x.0.clone()).collect();
    draw(860, 260, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Documents per period", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-1i32..n, 0u64..(max + max / 10 + 1))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(keys.len().min(12))
            .x_label_formatter(&|i| keys.get(*i as usize).cloned().unwrap_or_default())
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(s.iter().enumerate().map(|(i, x)| {
                let i = i as i32;
                Rectangle::new(
                    [(i, 0), (i + 1, x.1)],
                    RGBColor(96, 125, 139).mix(0.7).filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

fn shares_chart(s: &[(String, u64, u64, BTreeMap<String, u64>)]) -> String {
    let n = s.len().max(1) as i32;
    let keys: Vec<String> = s.iter().map(|x| x.0.clone()).collect();
    draw(860, 320, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Label shares of labelled documents", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0i32..(n - 1).max(1), 0f64..1f64)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(keys.len().min(12))
            .x_label_formatter(&|i| keys.get(*i as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .draw()
            .map_err(|e| e.to_string())?;
        for (name, colour) in CHARTED {
            let points: Vec<(i32, f64)> = s
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let c = x.3.get(name).copied().unwrap_or(0);
                    let share = if x.2 == 0 { 0.0 } else { c as f64 / x.2 as f64 };
                    (i as i32, share)
                })
                .collect();
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Renders the report (and optionally the audience map) as one HTML page.
pub fn render_html(r: &Report, title: &str, audience: Option<&AudienceMap>) -> String {
    let s = series(r);
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child,td.l{{text-align:left}}\
         .note{{color:#555;max-width:60em}}.err{{color:#b00}}</style></head><body>",
        escape(title)
    );
    let _ = write!(o, "<h1>{}</h1>", escape(title));
    let range = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map_or_else(|| "open".to_string(), |d| d.format("%Y-%m-%d").to_string())
    };
    let _ = write!(
        o,
        "<p class=\"note\">Per {}{}; from {} to {} (end exclusive); {} documents, {} labelled.{}{}</p>",
        escape(&r.interval),
        r.by.as_deref().map(|b| format!(", by {}", escape(b))).unwrap_or_default(),
        range(r.from),
        range(r.to),
        r.totals.documents,
        r.totals.labelled,
        if r.count_clusters_once {
            " Near-duplicate copies of a story are counted once."
        } else {
            ""
        },
        match r.totals.attention {
            Some(a) => format!(
                " They are {:.1}% of all {} documents the same outlets published in the range (\"of all coverage\").",
                a.share * 100.0,
                a.coverage
            ),
            None => String::new(),
        }
    );
    if r.undated_left_out > 0 {
        let _ = write!(
            o,
            "<p class=\"note\">{} matching documents stated no date and are left out (their only date is the day they were fetched).</p>",
            r.undated_left_out
        );
    }
    if s.is_empty() {
        o.push_str("<p>No documents in this range.</p>");
    } else {
        o.push_str(&volume_chart(&s));
        o.push_str(&shares_chart(&s));
    }
    o.push_str("<h2>Table</h2><table><tr><th>period</th>");
    if r.by.is_some() {
        o.push_str("<th>group</th>");
    }
    o.push_str("<th>documents</th>");
    let attention = r.totals.attention.is_some();
    if attention {
        o.push_str("<th>of all coverage</th>");
    }
    o.push_str("<th>labelled</th>");
    for (name, _) in CHARTED {
        let _ = write!(o, "<th>{}</th>", escape(name));
    }
    o.push_str("</tr>");
    for b in &r.buckets {
        let _ = write!(o, "<tr><td>{}</td>", escape(&b.bucket));
        if r.by.is_some() {
            let _ = write!(
                o,
                "<td class=\"l\">{}</td>",
                escape(b.group.as_deref().unwrap_or(""))
            );
        }
        let _ = write!(o, "<td>{}</td>", b.documents);
        if attention {
            match b.attention {
                Some(a) => {
                    let _ = write!(o, "<td>{:.1}% of {}</td>", a.share * 100.0, a.coverage);
                }
                None => o.push_str("<td></td>"),
            }
        }
        let _ = write!(o, "<td>{}</td>", b.labelled);
        for (name, _) in CHARTED {
            let c = b.labels.get(name).map_or((0, 0.0), |l| (l.count, l.share));
            let _ = write!(o, "<td>{} ({:.1}%)</td>", c.0, c.1 * 100.0);
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
    if let Some(m) = audience {
        let _ = write!(
            o,
            "<h2>Audience map</h2><p class=\"note\">{}</p><table><tr><th>rank</th><th>outlet</th><th>country</th>\
             <th>scope</th><th>reach</th><th>documents</th><th>hostile</th><th>positive</th><th>index</th></tr>",
            escape(m.method)
        );
        for r in &m.outlets {
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"l\">{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{:.1}%</td><td>{:.1}%</td><td>{:.3}</td></tr>",
                r.rank,
                escape(&r.name),
                if r.low_sample { " (few documents)" } else { "" },
                escape(&r.country),
                escape(&r.scope),
                r.reach.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                r.documents,
                r.hostile_share * 100.0,
                r.positive_share * 100.0,
                r.unsensitized_index
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{build_report, DocFacts, GroupBy, Interval, ReportRequest};
    use chrono::TimeZone;
    use mediawatch_core::DocKind;

    fn row(day: u32, source: &str, collective: bool) -> DocFacts {
        let mut flags = [false; 8];
        flags[0] = true;
        flags[3] = collective;
        DocFacts {
            time: chrono::Utc
                .with_ymd_and_hms(2026, 10, day, 12, 0, 0)
                .unwrap(),
            source: source.into(),
            country: "RS".into(),
            lang: "sr".into(),
            kind: DocKind::Article,
            flags,
            speakers: 0,
            labelled: true,
            cluster: String::new(),
        }
    }

    #[test]
    fn html_has_charts_and_escapes_scraped_strings() {
        let rows = vec![
            row(1, "<script>alert(1)</script>", true),
            row(2, "x\" onerror=\"alert(1)", false),
            row(2, "b", true),
        ];
        let r = build_report(
            &rows,
            &ReportRequest {
                interval: Interval::Day,
                by: GroupBy::Source,
                ..Default::default()
            },
        );
        let m = crate::audience::build_audience_map(&rows, &[], 1);
        let html = render_html(&r, "Trends <test>", Some(&m));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert_eq!(html.matches("<svg").count(), 2, "two charts");
        assert!(html.contains("collective_labelling"));
        // Nothing from the data becomes markup.
        assert!(!html.contains("<script>"));
        assert!(!html.contains("onerror=\"alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Trends &lt;test&gt;"));
        // No external resources: opens offline.
        assert!(
            !html.contains("http://") && !html.contains("https://")
                || html.contains("http://www.w3.org/2000/svg")
        );
        assert!(!html.contains("<script"));
    }

    #[test]
    fn empty_report_renders() {
        let r = build_report(&[], &ReportRequest::default());
        let html = render_html(&r, "Empty", None);
        assert!(html.contains("No documents"));
    }
}
