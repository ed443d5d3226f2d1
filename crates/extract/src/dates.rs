//! Date parsing for publication dates found in metadata and markup.
//!
//! Accepts RFC 3339 / ISO 8601 (with or without offset, date-only), RFC 2822, and the forms
//! common in the region's media: "12.03.2024", "12. 3. 2024. 10:15", "12.03.2024 u 10:15",
//! plus English month names ("12 March 2024", "March 12, 2024"). Times without an offset are
//! taken as UTC: the page rarely says which zone it means and the day matters more than the hour.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use regex::Regex;
use std::sync::OnceLock;

fn eu_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Regex is a literal; it cannot fail to compile.
        #[allow(clippy::unwrap_used)]
        Regex::new(
            r"(?x)\b(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})\.?
              (?:\s*(?:,|u|at|um|o|v|в)?\s*(\d{1,2})[:.h](\d{2})(?:[:.](\d{2}))?)?",
        )
        .unwrap()
    })
}

fn iso_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::unwrap_used)]
        Regex::new(
            r"(?x)\b(\d{4})[-/](\d{1,2})[-/](\d{1,2})
              (?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s*
                 (Z|[+-]\d{2}:?\d{2})?)?",
        )
        .unwrap()
    })
}

fn month_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::unwrap_used)]
        Regex::new(
            r"(?ix)
            (?:\b(\d{1,2})(?:st|nd|rd|th)?\.?\s+([a-z]{3,9})\.?,?\s+(\d{4}))
            |(?:\b([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4}))",
        )
        .unwrap()
    })
}

fn time_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        #[allow(clippy::unwrap_used)]
        Regex::new(
            r"(?i)^\s*,?\s*(?:at|@|-)?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:([ap])\.?m\.?)?",
        )
        .unwrap()
    })
}

/// A time of day right after a date with a month name ("..., 9:46 pm", "at 14:05").
fn trailing_time(rest: &str) -> (u32, u32, u32) {
    let Some(c) = time_re().captures(rest) else {
        return (0, 0, 0);
    };
    let mut h = cap_u32(&c, 1).unwrap_or(0);
    let m = cap_u32(&c, 2).unwrap_or(0);
    let sec = cap_u32(&c, 3).unwrap_or(0);
    match c.get(4).map(|x| x.as_str().to_ascii_lowercase()) {
        Some(ap) if ap == "p" && h < 12 => h += 12,
        Some(ap) if ap == "a" && h == 12 => h = 0,
        _ => {}
    }
    (h, m, sec)
}

fn month_number(name: &str) -> Option<u32> {
    let n = name.to_ascii_lowercase();
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    months
        .iter()
        .position(|m| n.starts_with(m))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn build(
    y: i32,
    m: u32,
    d: u32,
    hh: u32,
    mm: u32,
    ss: u32,
    offset: Option<FixedOffset>,
) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let time = NaiveTime::from_hms_opt(hh, mm, ss)?;
    let naive = NaiveDateTime::new(date, time);
    match offset {
        Some(off) => off
            .from_local_datetime(&naive)
            .single()
            .map(|dt| dt.with_timezone(&Utc)),
        None => Some(Utc.from_utc_datetime(&naive)),
    }
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    if s.eq_ignore_ascii_case("z") {
        return FixedOffset::east_opt(0);
    }
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 {
        return None;
    }
    let h: i32 = digits.get(0..2)?.parse().ok()?;
    let m: i32 = digits.get(2..4)?.parse().ok()?;
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn cap_u32(c: &regex::Captures<'_>, i: usize) -> Option<u32> {
    c.get(i).and_then(|m| m.as_str().parse().ok())
}

/// Parses a date string in any supported form. Returns `None` if nothing date-like is found.
pub fn parse_date(input: &str) -> Option<DateTime<Utc>> {
    let s = input.trim();
    if s.is_empty() || s.len() > 200 {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(s) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Some(c) = iso_re().captures(s) {
        let y = c.get(1).and_then(|m| m.as_str().parse().ok())?;
        let m = cap_u32(&c, 2)?;
        let d = cap_u32(&c, 3)?;
        let hh = cap_u32(&c, 4).unwrap_or(0);
        let mm = cap_u32(&c, 5).unwrap_or(0);
        let ss = cap_u32(&c, 6).unwrap_or(0);
        let off = c.get(7).and_then(|o| parse_offset(o.as_str()));
        if let Some(dt) = build(y, m, d, hh, mm, ss, off) {
            return Some(dt);
        }
    }
    if let Some(c) = eu_re().captures(s) {
        let d = cap_u32(&c, 1)?;
        let m = cap_u32(&c, 2)?;
        let y = c.get(3).and_then(|m| m.as_str().parse().ok())?;
        let hh = cap_u32(&c, 4).unwrap_or(0);
        let mm = cap_u32(&c, 5).unwrap_or(0);
        let ss = cap_u32(&c, 6).unwrap_or(0);
        if let Some(dt) = build(y, m, d, hh, mm, ss, None) {
            return Some(dt);
        }
    }
    for c in month_re().captures_iter(s) {
        let parsed = if c.get(1).is_some() {
            let d = cap_u32(&c, 1);
            let m = c.get(2).and_then(|m| month_number(m.as_str()));
            let y = c.get(3).and_then(|m| m.as_str().parse().ok());
            (d, m, y)
        } else {
            let m = c.get(4).and_then(|m| month_number(m.as_str()));
            let d = cap_u32(&c, 5);
            let y = c.get(6).and_then(|m| m.as_str().parse().ok());
            (d, m, y)
        };
        if let (Some(d), Some(m), Some(y)) = parsed {
            let end = c.get(0).map_or(s.len(), |m| m.end());
            let (hh, mm, ss) = trailing_time(s.get(end..).unwrap_or(""));
            if let Some(dt) = build(y, m, d, hh, mm, ss, None) {
                return Some(dt);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymdhm(s: &str) -> String {
        parse_date(s)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    }

    #[test]
    fn iso_and_rfc_forms() {
        assert_eq!(ymdhm("2024-03-12T10:15:00+01:00"), "2024-03-12 09:15");
        assert_eq!(ymdhm("2024-03-12T10:15:00Z"), "2024-03-12 10:15");
        assert_eq!(ymdhm("2024-03-12T10:15:00.123+0200"), "2024-03-12 08:15");
        assert_eq!(ymdhm("2024-03-12 10:15"), "2024-03-12 10:15");
        assert_eq!(ymdhm("2024-03-12"), "2024-03-12 00:00");
        assert_eq!(ymdhm("Tue, 12 Mar 2024 10:15:00 +0100"), "2024-03-12 09:15");
    }

    #[test]
    fn european_forms() {
        assert_eq!(ymdhm("12.03.2024"), "2024-03-12 00:00");
        assert_eq!(ymdhm("12. 3. 2024. 10:15"), "2024-03-12 10:15");
        assert_eq!(ymdhm("Objavljeno: 12.03.2024 u 10:15"), "2024-03-12 10:15");
        assert_eq!(ymdhm("5.11.2023, 08:05"), "2023-11-05 08:05");
    }

    #[test]
    fn english_month_names() {
        assert_eq!(ymdhm("12 March 2024"), "2024-03-12 00:00");
        assert_eq!(ymdhm("Published March 12, 2024"), "2024-03-12 00:00");
        assert_eq!(ymdhm("Sept. 4th, 2025"), "2025-09-04 00:00");
        assert_eq!(ymdhm("December 18, 2025, 9:46 pm"), "2025-12-18 21:46");
        assert_eq!(ymdhm("18 December 2025 at 12:05 am"), "2025-12-18 00:05");
        assert_eq!(ymdhm("March 1, 2024 14:30"), "2024-03-01 14:30");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("99.99.2024"), None);
        assert_eq!(parse_date("2024-13-45"), None);
    }
}
