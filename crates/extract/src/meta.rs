//! Metadata from JSON-LD, OpenGraph / meta tags and common markup.
//!
//! Structured data wins over markup because publishers fill it for search engines and keep it
//! clean; markup (h1, `<time>`, `.byline`) is the fallback.

use crate::dates::parse_date;
use crate::dom::Dom;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Metadata gathered from a page before body extraction.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub title: Option<String>,
    pub byline: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub lang: Option<String>,
    pub lead_image: Option<String>,
    pub canonical: Option<String>,
    /// `articleBody` from JSON-LD, used when markup extraction finds much less.
    pub article_body: Option<String>,
    /// The page declares itself a discussion (JSON-LD `DiscussionForumPosting`/`QAPage`, or a
    /// forum engine in `<meta name="generator">`): replies are then content, not comments.
    pub discussion: bool,
    /// Organisation named as author in JSON-LD: the byline only if nothing names a person.
    pub org_author: Option<String>,
}

const ARTICLE_TYPES: &[&str] = &[
    "newsarticle",
    "article",
    "blogposting",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "livebloggposting",
    "liveblogposting",
    "socialmediaposting",
    "discussionforumposting",
    "techarticle",
    "scholarlyarticle",
    "report",
    "posting",
];

fn type_matches(v: &Value) -> bool {
    let check = |s: &str| ARTICLE_TYPES.contains(&s.to_ascii_lowercase().as_str());
    match v.get("@type") {
        Some(Value::String(s)) => check(s),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(check),
        _ => false,
    }
}

/// Decodes HTML character references left in JSON-LD strings (markup text is decoded by the
/// parser already, but structured data is raw script text and some CMSs escape it).
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let semi = after.find(';').filter(|&i| i <= 10);
        let decoded = semi.and_then(|i| {
            let name = &after[..i];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "rsquo" => Some('\u{2019}'),
                "lsquo" => Some('\u{2018}'),
                "rdquo" => Some('\u{201D}'),
                "ldquo" => Some('\u{201C}'),
                "ndash" => Some('\u{2013}'),
                "mdash" => Some('\u{2014}'),
                "hellip" => Some('\u{2026}'),
                _ => {
                    let num = name.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((ch, i))
        });
        match decoded {
            Some((ch, i)) => {
                out.push(ch);
                rest = &after[i + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn clean(s: &str) -> Option<String> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        None
    } else {
        Some(t)
    }
}

/// Names from a schema.org `author` value (string, Person object, or a list of either).
fn author_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if !s.starts_with("http") => {
            if let Some(c) = clean(&decode_entities(s)) {
                out.push(c);
            }
        }
        Value::Object(o) => {
            let org = o.get("@type").and_then(Value::as_str).is_some_and(|t| {
                matches!(t, "Organization" | "NewsMediaOrganization" | "Corporation")
            });
            if org {
                // An organisation as author is not a byline; markup may name the person.
                return;
            }
            if let Some(n) = o
                .get("name")
                .and_then(Value::as_str)
                .and_then(|x| clean(&decode_entities(x)))
            {
                out.push(n);
            }
        }
        Value::Array(a) => {
            for x in a.iter().take(20) {
                if !x.is_array() {
                    author_names(x, out);
                }
            }
        }
        _ => {}
    }
}

fn image_url(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => clean(s),
        Value::Object(o) => o
            .get("url")
            .or_else(|| o.get("contentUrl"))
            .and_then(Value::as_str)
            .and_then(clean),
        Value::Array(a) => a.iter().find_map(|x| match x {
            Value::Array(_) => None,
            other => image_url(other),
        }),
        _ => None,
    }
}

/// Applies the first article-like JSON-LD object found in the given script bodies.
fn from_json_ld(bodies: &[&str], meta: &mut Meta) {
    let mut applied = false;
    for body in bodies {
        let Ok(root) = serde_json::from_str::<Value>(body.trim()) else {
            continue;
        };
        // Iterative walk (serde_json already caps nesting at 128, but stay iterative anyway).
        let mut stack = vec![&root];
        let mut seen = 0;
        while let Some(v) = stack.pop() {
            seen += 1;
            if seen > 10_000 {
                break;
            }
            match v {
                Value::Array(a) => stack.extend(a.iter().rev()),
                Value::Object(o) => {
                    let discussion = |t: &str| {
                        matches!(
                            t.to_ascii_lowercase().as_str(),
                            "discussionforumposting" | "qapage" | "question"
                        )
                    };
                    match o.get("@type") {
                        Some(Value::String(t)) if discussion(t) => meta.discussion = true,
                        Some(Value::Array(a))
                            if a.iter().filter_map(Value::as_str).any(discussion) =>
                        {
                            meta.discussion = true;
                        }
                        _ => {}
                    }
                    if type_matches(v) && !applied {
                        apply_article_object(v, meta);
                        applied = true;
                    }
                    if let Some(g) = o.get("@graph") {
                        stack.push(g);
                    }
                    if let Some(e) = o.get("mainEntity") {
                        stack.push(e);
                    }
                }
                _ => {}
            }
        }
    }
}

fn apply_article_object(v: &Value, meta: &mut Meta) {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .and_then(|x| clean(&decode_entities(x)))
    };
    if meta.title.is_none() {
        meta.title = s("headline").or_else(|| s("name"));
    }
    if meta.published.is_none() {
        meta.published = s("datePublished")
            .or_else(|| s("dateCreated"))
            .and_then(|d| parse_date(&d));
    }
    if meta.byline.is_none() {
        let mut names = Vec::new();
        if let Some(a) = v.get("author").or_else(|| v.get("creator")) {
            author_names(a, &mut names);
        }
        names.dedup();
        if !names.is_empty() {
            meta.byline = Some(names.join(", "));
        } else if let Some(a) = v.get("author") {
            let org = |o: &Value| o.get("name").and_then(Value::as_str).and_then(clean);
            meta.org_author = match a {
                Value::Array(xs) => xs.iter().find_map(org),
                other => org(other),
            };
        }
    }
    if meta.lead_image.is_none() {
        meta.lead_image = v.get("image").and_then(image_url);
    }
    if meta.lang.is_none() {
        meta.lang = s("inLanguage").and_then(|l| normalise_lang(&l));
    }
    if meta.canonical.is_none() {
        meta.canonical = s("url");
    }
    if let Some(body) = v.get("articleBody").and_then(Value::as_str) {
        let t = body.trim();
        if !t.is_empty() {
            meta.article_body = Some(t.to_string());
        }
    }
}

/// Normalises a language tag: first of a list, `_` to `-`, language subtag lower-case.
pub(crate) fn normalise_lang(raw: &str) -> Option<String> {
    let first = raw.split([',', ';']).next()?.trim().replace('_', "-");
    if first.is_empty()
        || first.len() > 35
        || !first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return None;
    }
    let mut parts = first.split('-');
    let lang = parts.next()?.to_ascii_lowercase();
    if lang.len() < 2 || lang.len() > 3 || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        Some(lang)
    } else {
        Some(format!("{lang}-{}", rest.join("-")))
    }
}

/// Removes a trailing " | Site" / " - Site" suffix from a `<title>`.
fn strip_site_suffix(t: &str) -> String {
    for sep in [" | ", " – ", " — ", " - ", " :: ", " « ", " » "] {
        if let Some(pos) = t.rfind(sep) {
            let head = t[..pos].trim();
            if head.split_whitespace().count() >= 3 {
                return head.to_string();
            }
        }
    }
    t.to_string()
}

const TITLE_SEPARATORS: [&str; 8] = [" | ", " – ", " — ", " - ", " :: ", " « ", " » ", " • "];

/// Picks the headline: structured data, OpenGraph, the first `<h1>`, then `<title>`. Titles
/// carry the site name as a suffix ("Headline | Site"); the h1 or the site name removes it.
fn choose_title(
    json_ld: Option<String>,
    og: Option<String>,
    h1: Option<String>,
    title_tag: Option<String>,
    site_name: Option<&str>,
) -> Option<String> {
    let norm = |s: &str| s.to_lowercase();
    let candidate = json_ld.or(og);
    if let (Some(c), Some(h)) = (&candidate, &h1) {
        let (cn, hn) = (norm(c), norm(h));
        if cn != hn && cn.starts_with(&hn) && hn.split_whitespace().count() >= 2 {
            return Some(h.clone());
        }
    }
    let from_tag = candidate.is_none() && h1.is_none();
    let mut t = candidate.or(h1).or(title_tag)?;
    if let Some(site) = site_name.map(str::trim).filter(|s| !s.is_empty()) {
        for sep in TITLE_SEPARATORS {
            let suffix = format!("{sep}{site}");
            if t.len() > suffix.len() && norm(&t).ends_with(&norm(&suffix)) {
                t.truncate(t.len() - suffix.len());
                return Some(t.trim().to_string());
            }
        }
    }
    if from_tag {
        return Some(strip_site_suffix(&t));
    }
    // A short tail after " | " is a section or site name, never part of a headline.
    if let Some(pos) = t.rfind(" | ") {
        let (head, tail) = (&t[..pos], &t[pos + 3..]);
        if tail.split_whitespace().count() <= 3 && head.split_whitespace().count() >= 3 {
            return Some(head.trim().to_string());
        }
    }
    Some(t)
}

/// Gathers metadata from JSON-LD bodies and from the flat tree (meta/link/time/h1...).
pub(crate) fn gather(dom: &Dom<'_>, json_ld: &[&str]) -> Meta {
    let mut meta = Meta::default();
    from_json_ld(json_ld, &mut meta);

    let mut og_title = None;
    let mut og_image = None;
    let mut og_url = None;
    let mut og_locale = None;
    let mut meta_author = None;
    let mut meta_date = None;
    let mut content_language = None;
    let mut html_lang = None;
    let mut title_tag = None;
    let mut canonical = None;
    let mut first_h1 = None;
    let mut class_author: Option<String> = None;
    let mut site_name: Option<String> = None;
    let mut time_el = None;
    let mut itemprop_author = None;
    let mut rel_author = None;

    for (i, node) in dom.nodes.iter().enumerate() {
        let Some(el) = node.el else { continue };
        match node.name {
            "html" if html_lang.is_none() => {
                html_lang = el
                    .attr("lang")
                    .or_else(|| el.attr("xml:lang"))
                    .map(str::to_string);
            }
            "meta" => {
                let key = el
                    .attr("property")
                    .or_else(|| el.attr("name"))
                    .or_else(|| el.attr("itemprop"))
                    .or_else(|| el.attr("http-equiv"))
                    .map(str::to_ascii_lowercase);
                let (Some(key), Some(content)) = (key, el.attr("content")) else {
                    continue;
                };
                let content = content.trim();
                if content.is_empty() {
                    continue;
                }
                match key.as_str() {
                    "og:title" | "twitter:title" => {
                        og_title.get_or_insert_with(|| content.to_string());
                    }
                    "og:image"
                    | "og:image:url"
                    | "og:image:secure_url"
                    | "twitter:image"
                    | "twitter:image:src" => {
                        og_image.get_or_insert_with(|| content.to_string());
                    }
                    "generator" => {
                        let g = content.to_ascii_lowercase();
                        if [
                            "discourse",
                            "vbulletin",
                            "xenforo",
                            "phpbb",
                            "invision",
                            "vanilla",
                            "nodebb",
                            "flarum",
                            "mybb",
                            "simple machines",
                            "smf",
                        ]
                        .iter()
                        .any(|f| g.contains(f))
                        {
                            meta.discussion = true;
                        }
                    }
                    "og:site_name" | "application-name" => {
                        site_name.get_or_insert_with(|| content.to_string());
                    }
                    "og:url" => {
                        og_url.get_or_insert_with(|| content.to_string());
                    }
                    "og:locale" => {
                        og_locale.get_or_insert_with(|| content.to_string());
                    }
                    "content-language" | "language" | "dc.language" => {
                        content_language.get_or_insert_with(|| content.to_string());
                    }
                    "author" | "article:author" | "dc.creator" | "parsely-author" | "byl"
                    | "sailthru.author" | "twitter:creator"
                        if !content.starts_with("http") && !content.starts_with('@') =>
                    {
                        meta_author.get_or_insert_with(|| content.to_string());
                    }
                    "article:published_time"
                    | "og:article:published_time"
                    | "datepublished"
                    | "date"
                    | "dc.date"
                    | "dc.date.issued"
                    | "dcterms.created"
                    | "dcterms.date"
                    | "pubdate"
                    | "publishdate"
                    | "publish-date"
                    | "publish_date"
                    | "sailthru.date"
                    | "parsely-pub-date"
                    | "article.published"
                    | "published_time"
                        if meta_date.is_none() =>
                    {
                        meta_date = parse_date(content);
                    }
                    _ => {}
                }
            }
            "link" => {
                let rel = el.attr("rel").unwrap_or("").to_ascii_lowercase();
                if rel.split_whitespace().any(|r| r == "canonical") && canonical.is_none() {
                    canonical = el.attr("href").map(|h| h.trim().to_string());
                }
            }
            "title" if title_tag.is_none() => {
                let text: String = dom.nodes[i..dom.nodes[i].end as usize]
                    .iter()
                    .filter_map(|n| n.text)
                    .collect();
                title_tag = clean(&text);
            }
            "h1" if first_h1.is_none() => {
                first_h1 = clean(&subtree_text(dom, i));
            }
            "time" if time_el.is_none() => {
                time_el = el
                    .attr("datetime")
                    .and_then(parse_date)
                    .or_else(|| parse_date(&subtree_text(dom, i)));
            }
            "a" if rel_author.is_none()
                && el
                    .attr("rel")
                    .is_some_and(|r| r.split_whitespace().any(|x| x == "author")) =>
            {
                rel_author = clean(&subtree_text(dom, i));
            }
            _ => {}
        }
        if itemprop_author.is_none() && el.attr("itemprop") == Some("author") && node.name != "meta"
        {
            // Prefer a nested itemprop=name if present.
            let range = i + 1..dom.nodes[i].end as usize;
            let named = range.clone().find(|&j| {
                dom.nodes[j]
                    .el
                    .is_some_and(|e| e.attr("itemprop") == Some("name"))
            });
            let text = match named {
                Some(j) => el_attr_or_text(dom, j, "content"),
                None => el_attr_or_text(dom, i, "content"),
            };
            itemprop_author = clean(&text);
        }
        if class_author.is_none()
            && node.name != "meta"
            && (node.cls.contains("byline")
                || node.cls.contains("author-name")
                || node
                    .cls
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|t| t == "author"))
        {
            let t = clean(&subtree_text(dom, i)).unwrap_or_default();
            let words = t.split_whitespace().count();
            if (1..=8).contains(&words) && t.chars().count() <= 80 {
                class_author = Some(t);
            }
        }
        if meta_date.is_none()
            && el.attr("itemprop") == Some("datePublished")
            && node.name != "meta"
        {
            meta_date = el
                .attr("datetime")
                .or_else(|| el.attr("content"))
                .and_then(parse_date)
                .or_else(|| parse_date(&subtree_text(dom, i)));
        }
    }

    meta.title = choose_title(
        meta.title.take(),
        og_title.and_then(|t| clean(&decode_entities(&t))),
        first_h1,
        title_tag,
        site_name.as_deref(),
    );
    if meta.byline.is_none() {
        meta.byline = meta_author
            .and_then(|a| clean(&a))
            .or(itemprop_author)
            .or(rel_author)
            .or(class_author)
            .or(meta.org_author.take());
    }
    meta.byline = meta.byline.map(|b| {
        let b = b
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .to_string();
        let lower = b.to_lowercase();
        let stripped = ["by ", "autor: ", "autor ", "author: ", "piše: ", "piše "]
            .iter()
            .find_map(|p| {
                lower
                    .starts_with(p)
                    .then(|| b[p.len()..].trim().to_string())
            });
        let out = stripped.unwrap_or(b);
        out.chars().take(200).collect()
    });
    if meta.published.is_none() {
        meta.published = meta_date.or(time_el);
    }
    if meta.lang.is_none() {
        meta.lang = html_lang
            .as_deref()
            .and_then(normalise_lang)
            .or_else(|| content_language.as_deref().and_then(normalise_lang))
            .or_else(|| og_locale.as_deref().and_then(normalise_lang));
    } else if let Some(h) = html_lang.as_deref().and_then(normalise_lang) {
        // The document's own declaration beats a JSON-LD field copied from a template.
        meta.lang = Some(h);
    }
    if meta.lead_image.is_none() {
        meta.lead_image = og_image;
    } else if let Some(og) = og_image {
        // og:image is the publisher's chosen preview; prefer it.
        meta.lead_image = Some(og);
    }
    meta.canonical = canonical.or(og_url).or(meta.canonical);
    meta
}

/// Concatenated text of a subtree (for short elements: headings, bylines, dates).
pub(crate) fn subtree_text(dom: &Dom<'_>, i: usize) -> String {
    let end = dom.nodes.get(i).map_or(i, |n| n.end as usize);
    let mut s = String::new();
    for n in &dom.nodes[i..end] {
        if let Some(t) = n.text {
            s.push_str(t);
            if s.len() > 10_000 {
                break;
            }
        }
    }
    s
}

fn el_attr_or_text(dom: &Dom<'_>, i: usize, attr: &str) -> String {
    match dom.nodes[i].el.and_then(|e| e.attr(attr)) {
        Some(a) => a.to_string(),
        None => subtree_text(dom, i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_normalisation() {
        assert_eq!(normalise_lang("sr_Latn_RS").as_deref(), Some("sr-Latn-RS"));
        assert_eq!(normalise_lang("HR").as_deref(), Some("hr"));
        assert_eq!(normalise_lang("de-DE, en").as_deref(), Some("de-DE"));
        assert_eq!(normalise_lang("").as_deref(), None);
        assert_eq!(normalise_lang("x").as_deref(), None);
    }

    #[test]
    fn entities_in_structured_data() {
        assert_eq!(
            decode_entities("A &amp; B &#8217;s &#x201C;x&#x201D; &bogus; &"),
            "A & B ’s “x” &bogus; &"
        );
    }

    #[test]
    fn title_choice() {
        let t = |j: Option<&str>,
                 o: Option<&str>,
                 h: Option<&str>,
                 tt: Option<&str>,
                 s: Option<&str>| {
            choose_title(
                j.map(Into::into),
                o.map(Into::into),
                h.map(Into::into),
                tt.map(Into::into),
                s,
            )
        };
        assert_eq!(
            t(
                None,
                Some("Big story here - Daily Planet"),
                Some("Big story here"),
                None,
                None
            )
            .as_deref(),
            Some("Big story here")
        );
        assert_eq!(
            t(
                None,
                Some("Big story here • Cory"),
                None,
                None,
                Some("Cory")
            )
            .as_deref(),
            Some("Big story here")
        );
        assert_eq!(
            t(
                Some("How meditation rewires brains | Opinion"),
                None,
                None,
                None,
                None
            )
            .as_deref(),
            Some("How meditation rewires brains")
        );
        assert_eq!(
            t(None, None, None, Some("Headline of the day | Site"), None).as_deref(),
            Some("Headline of the day")
        );
    }

    #[test]
    fn title_suffix() {
        assert_eq!(
            strip_site_suffix("Big news about things | Daily"),
            "Big news about things"
        );
        assert_eq!(strip_site_suffix("Home - Site"), "Home - Site");
    }
}
