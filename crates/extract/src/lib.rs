//! Article extraction: title, byline, publication date, language, main text, lead image and
//! comments from an HTML page.
//!
//! Analysts search and classify what an article says, so the main text must be the article and
//! nothing else: no menus, cookie banners, share bars or related-story lists. The extractor uses
//! every signal a page gives, in order of trust:
//! 1. per-source CSS selector overrides from the config ([`SelectorOverrides`]);
//! 2. structured data (JSON-LD `NewsArticle`/`Article`/`BlogPosting`, also inside `@graph`) and
//!    OpenGraph / meta tags for title, byline, date, image, language;
//! 3. boilerplate removal by tag, ARIA role and class/id vocabulary, then a content-scoring pass
//!    (text density, link density, paragraph structure) that picks the subtree holding the text.
//!
//! Hostile input is bounded: the input size is capped ([`ExtractOptions::max_input_bytes`]), a
//! linear pre-pass caps nesting depth before html5ever sees the page (its tree builder is
//! quadratic in depth), and every walk over the tree is iterative.

mod dates;
mod decode;
mod dom;
mod meta;
mod prescan;

pub use dates::parse_date;

use dom::Dom;
use scraper::{Html, Selector};

/// Per-source CSS selectors that take precedence over heuristics. All optional.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SelectorOverrides {
    /// Element whose text is the title.
    pub title: Option<String>,
    /// Element(s) holding the article body; all matches are concatenated in document order.
    pub body: Option<String>,
    /// Element whose text is the byline.
    pub byline: Option<String>,
    /// Element holding the publication date (`datetime`/`content` attribute or text).
    pub published: Option<String>,
    /// Elements to drop before extraction (ads, embedded teasers the heuristics miss).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Each match is one comment.
    pub comments: Option<String>,
    /// Within a comment, the element holding its text.
    pub comment_text: Option<String>,
    /// Within a comment, the element holding its author.
    pub comment_author: Option<String>,
}

impl SelectorOverrides {
    /// Whether no override is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Options for [`extract`] and [`extract_bytes`].
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Selector overrides for the page's source.
    pub selectors: SelectorOverrides,
    /// Larger input is rejected with [`ExtractError::TooLarge`]. Default 20 MiB.
    pub max_input_bytes: usize,
}

/// Default input cap: 20 MiB, far above any real article page.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 20 * 1024 * 1024;

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            selectors: SelectorOverrides::default(),
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// What was extracted from one page. Empty `text` means the page had no main text.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq)]
pub struct Article {
    /// Headline.
    pub title: Option<String>,
    /// Author name(s), comma-separated.
    pub byline: Option<String>,
    /// Publication time (zone-less times are taken as UTC).
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    /// Declared language tag (`<html lang>`, meta); `None` if the page declares none.
    pub lang: Option<String>,
    /// Main text; paragraphs (headings, list items, quotes included) separated by "\n\n".
    pub text: String,
    /// Absolute URL of the lead image.
    pub lead_image: Option<String>,
    /// Absolute canonical URL.
    pub canonical_url: Option<String>,
    /// Reader comments, if the page has a recognisable comment section. Never part of `text`.
    /// On discussion pages (forum threads, Q&A) the posts are the content: they are in `text`
    /// and `comments` is empty.
    pub comments: Vec<Comment>,
    /// The page has a recognisable comment section (possibly empty): an
    /// empty section means no comments are online, a page without one
    /// says nothing about them (comments closed, or the markup changed).
    pub comment_section: bool,
}

/// One reader comment.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq)]
pub struct Comment {
    /// Commenter's name.
    pub author: Option<String>,
    /// When the comment was posted.
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    /// Comment text, paragraphs separated by "\n\n".
    pub text: String,
    /// The platform's own id of the comment, when the markup carries one
    /// (`data-comment-id`, or an element id such as `comment-123`): what
    /// identifies the comment across fetches even if its text is edited.
    pub id: Option<String>,
}

/// Errors from extraction and selector validation.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The input exceeds [`ExtractOptions::max_input_bytes`].
    #[error(
        "page is {size} bytes, over the limit of {limit} bytes (raise ExtractOptions::max_input_bytes to accept it)"
    )]
    TooLarge {
        /// Input size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A selector override is not valid CSS.
    #[error("invalid CSS selector in selector override `{key}`: {selector:?}: {reason}")]
    InvalidSelector {
        /// Which override (`body`, `title`, `remove[2]`, ...).
        key: String,
        /// The selector text as configured.
        selector: String,
        /// The parser's complaint.
        reason: String,
    },
}

fn parse_selector(key: &str, sel: &str) -> Result<Selector, ExtractError> {
    Selector::parse(sel).map_err(|e| ExtractError::InvalidSelector {
        key: key.to_string(),
        selector: sel.to_string(),
        reason: e.to_string(),
    })
}

/// Parsed selector overrides.
#[derive(Default)]
struct Compiled {
    title: Option<Selector>,
    body: Option<Selector>,
    byline: Option<Selector>,
    published: Option<Selector>,
    remove: Vec<Selector>,
    comments: Option<Selector>,
    comment_text: Option<Selector>,
    comment_author: Option<Selector>,
}

fn compile(s: &SelectorOverrides) -> Result<Compiled, ExtractError> {
    let one =
        |key: &str, v: &Option<String>| v.as_deref().map(|x| parse_selector(key, x)).transpose();
    Ok(Compiled {
        title: one("title", &s.title)?,
        body: one("body", &s.body)?,
        byline: one("byline", &s.byline)?,
        published: one("published", &s.published)?,
        remove: s
            .remove
            .iter()
            .enumerate()
            .map(|(i, x)| parse_selector(&format!("remove[{i}]"), x))
            .collect::<Result<_, _>>()?,
        comments: one("comments", &s.comments)?,
        comment_text: one("comment_text", &s.comment_text)?,
        comment_author: one("comment_author", &s.comment_author)?,
    })
}

/// Checks every selector override; the error names the first bad key and its selector.
pub fn validate_selectors(s: &SelectorOverrides) -> Result<(), ExtractError> {
    compile(s).map(|_| ())
}

/// Decodes raw page bytes (BOM, `charset` in `content_type`, `<meta charset>`, else a guess)
/// lossily and extracts from the text.
pub fn extract_bytes(
    bytes: &[u8],
    content_type: Option<&str>,
    url: Option<&str>,
    opts: &ExtractOptions,
) -> Result<Article, ExtractError> {
    check_size(bytes.len(), opts)?;
    let text = decode::decode(bytes, content_type);
    extract(&text, url, opts)
}

fn check_size(size: usize, opts: &ExtractOptions) -> Result<(), ExtractError> {
    if size > opts.max_input_bytes {
        Err(ExtractError::TooLarge {
            size,
            limit: opts.max_input_bytes,
        })
    } else {
        Ok(())
    }
}

/// Extracts the article from an HTML page. `url` (the page's address) is used to make the lead
/// image and canonical URLs absolute.
pub fn extract(
    html: &str,
    url: Option<&str>,
    opts: &ExtractOptions,
) -> Result<Article, ExtractError> {
    check_size(html.len(), opts)?;
    let sel = compile(&opts.selectors)?;
    // Selector overrides may match any attribute; without them the
    // extractor reads only its own few.
    let pre = prescan::prescan(html, !opts.selectors.is_empty());
    let doc = Html::parse_document(&pre.html);
    let dom = Dom::build(&doc);
    let mut meta = meta::gather(&dom, &pre.json_ld);

    let raw = dom::raw_nonlink_chars(&dom);
    let body_idx = dom.find_tag("body").unwrap_or(0);
    let mut removed = boilerplate::mark(&dom, &raw, body_idx);
    for s in &sel.remove {
        for e in doc.select(s) {
            if let Some(&i) = dom.ids.get(&e.id()) {
                removed[i as usize] = true;
            }
        }
    }

    // Comments: found before body extraction so that they can be kept out of the text.
    let (comment_sections, mut comments) = comments::find(&dom, &doc, &sel, body_idx);
    // On a discussion page every post matters; no tightening to a single post's container.
    let mut discussion = meta.discussion;
    // Comment sections kept in the tree because the page looks like a thread.
    let mut thread_sections: Vec<usize> = Vec::new();
    if !comment_sections.is_empty() {
        let mut without = removed.clone();
        for &c in &comment_sections {
            without[c] = true;
        }
        // A page whose "comments" carry far more text than everything else is a discussion
        // thread (forum software marks posts as comments): there the posts are the content.
        let outside = dom::block_stats(&dom, &without).good[body_idx];
        let with_all = dom::block_stats(&dom, &removed).good[body_idx];
        // Thresholds from WCXB-dev: forum posts leave < 1200 chars outside the "comments",
        // articles with long comment threads keep well above that.
        let thread = sel.comments.is_none()
            && (meta.discussion || (outside < 1200.0 && with_all - outside > 4.0 * outside));
        if thread {
            discussion = true;
            thread_sections = comment_sections.clone();
        } else {
            removed = without;
        }
    }

    // A page whose text is mostly a run of post blocks is a thread even when it does not say so.
    let threadlike = discussion
        || content::thread_container(&dom, &removed, &|i| raw[i] > 0, body_idx)
            .is_some_and(|t| f64::from(raw[t]) >= THREAD_TEXT_SHARE * f64::from(raw[body_idx]));
    if threadlike {
        // Quoted earlier posts repeat text the thread already holds.
        mark_thread_chrome(&dom, &mut removed, body_idx, &raw);
    }

    let body_roots: Option<Vec<usize>> = sel.body.as_ref().map(|body_sel| {
        doc.select(body_sel)
            .filter_map(|e| dom.ids.get(&e.id()).map(|&i| i as usize))
            .collect()
    });
    // A body override that matches nothing (the site changed its templates) falls back to the
    // heuristics rather than yielding an empty article.
    let body_override = body_roots.filter(|r| !r.is_empty());
    let overridden = body_override.is_some();
    let text = match body_override {
        Some(roots) => {
            // Nested matches would repeat text; keep outermost ones.
            let mut paras = Vec::new();
            let mut last_end = 0usize;
            for r in roots {
                if r < last_end {
                    continue;
                }
                last_end = dom.nodes[r].end as usize;
                paras.extend(dom::render(&dom, r, &|i| removed[i], None));
            }
            paras
        }
        None => {
            let (paras, root) = content::extract_paragraphs(&dom, &removed, body_idx, !discussion);
            // Posts rendered as text are not also comments; if the chosen root left them out,
            // they stay comments (never lost, never duplicated).
            let root_end = dom.nodes[root].end as usize;
            if thread_sections
                .iter()
                .any(|&c| (root..root_end).contains(&c) || dom::contains_range(&dom, c, root))
            {
                comments.clear();
            }
            paras
        }
    };
    let mut paras = text;
    drop_title_paragraph(&mut paras, meta.title.as_deref());
    if !overridden {
        // A paragraph that is only a number (vote counts, post numbers, "-1") is a widget;
        // one that is only a `{{ ... }}` placeholder is an unrendered client-side template.
        paras.retain(|p| !(is_bare_number(p) || is_template_placeholder(p)));
    }
    let mut text = paras.join("\n\n");

    if !overridden {
        if let Some(body) = meta.article_body.take() {
            // Structured data sometimes has the full text when markup is a teaser or JS shell.
            let body_words = body.split_whitespace().count();
            let text_words = text.split_whitespace().count();
            if body_words > 2 * text_words + 20 {
                text = body
                    .split('\n')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n\n");
            }
        }
    }

    // Selector overrides for metadata.
    if let Some(s) = &sel.title {
        if let Some(t) = first_text(&doc, s) {
            meta.title = Some(t);
        }
    }
    if let Some(s) = &sel.byline {
        if let Some(t) = first_text(&doc, s) {
            meta.byline = Some(t);
        }
    }
    if let Some(s) = &sel.published {
        if let Some(e) = doc.select(s).next() {
            let d = e
                .attr("datetime")
                .or_else(|| e.attr("content"))
                .and_then(parse_date)
                .or_else(|| parse_date(&e.text().collect::<String>()));
            if d.is_some() {
                meta.published = d;
            }
        }
    }

    let base = url.and_then(|u| url::Url::parse(u).ok());
    let absolute = |s: Option<String>| -> Option<String> {
        let s = s?;
        match &base {
            Some(b) => b.join(&s).map(|u| u.to_string()).ok().or(Some(s)),
            None => Some(s),
        }
    };
    Ok(Article {
        title: meta.title,
        byline: meta.byline,
        published: meta.published,
        lang: meta.lang,
        text,
        lead_image: absolute(meta.lead_image),
        canonical_url: absolute(meta.canonical),
        comment_section: !comment_sections.is_empty() && thread_sections.is_empty(),
        comments,
    })
}

/// Whether an element is a quotation of another post in forum markup: XenForo
/// `bbCodeBlock--quote`, Invision `ipsQuote`, phpBB `blockquote[cite]`/`.uncited`, MyBB
/// `mycode_quote`, SMF `bbc_standard_quote`, Discourse `aside.quote`, vBulletin `quoteContainer`.
fn is_forum_quote(node: &dom::DNode<'_>) -> bool {
    let Some(el) = node.el else { return false };
    if node.name == "blockquote" && el.attr("cite").is_some() {
        return true;
    }
    // `cls` is the lower-cased class and id.
    node.cls.split_ascii_whitespace().any(|t| {
        t == "quote"
            || t.ends_with("--quote")
            || t.ends_with("_quote")
            || matches!(
                t,
                "ipsquote" | "quotecontainer" | "uncited" | "bbcodequote" | "postquote"
            )
    })
}

/// Share of the page's (non-link) text the post blocks must hold to make an undeclared page a
/// thread.
const THREAD_TEXT_SHARE: f64 = 0.3;

/// `<pre>`/`<code>` text longer than this on a thread page is a pasted log (WCXB-dev: the same
/// logs go at 1000 or 2000, but at 1000 code in Stack Overflow answers starts to go too).
const LONG_PRE_CHARS: u32 = 2000;

/// Longest text of a definition list taken for poster statistics on a discussion page.
const USER_STATS_CHARS: u32 = 120;

/// Whether an element is a post's "last edited by" note: XenForo `message-lastEdit`, FluxBB
/// `postedit`, phpBB `div.notice`, NodeBB `[data-editor]`, vBulletin `lastedited`.
fn is_edit_note(node: &dom::DNode<'_>) -> bool {
    let Some(el) = node.el else { return false };
    el.attr("data-editor").is_some()
        || node.cls.split_ascii_whitespace().any(|t| {
            t == "notice"
                || ["lastedit", "postedit", "editedby", "editnote", "edit-note"]
                    .iter()
                    .any(|k| t.contains(k))
        })
}

/// Marks forum quotes (see [`is_forum_quote`]), edit notes, poster statistics and pasted logs
/// inside `body` as removed.
fn mark_thread_chrome(dom: &Dom<'_>, removed: &mut [bool], body: usize, raw: &[u32]) {
    let end = dom.nodes.get(body).map_or(0, |b| b.end as usize);
    let mut i = body;
    while i < end {
        if removed[i] {
            i = dom.nodes[i].end as usize;
            continue;
        }
        let node = &dom.nodes[i];
        // Short definition lists in a thread are poster statistics ("Posts: 710",
        // "Registered: 2016-07-02", "Joined", "Messages", "Reaction score").
        let stats_list = node.name == "dl" && raw.get(i).is_some_and(|&r| r < USER_STATS_CHARS);
        // A very long preformatted or code block in a post is a pasted log, not discussion.
        let dump =
            matches!(node.name, "pre" | "code") && raw.get(i).is_some_and(|&r| r > LONG_PRE_CHARS);
        if stats_list || dump || is_forum_quote(node) || is_edit_note(node) {
            removed[i] = true;
            i = dom.nodes[i].end as usize;
        } else {
            i += 1;
        }
    }
}

/// Whether a paragraph is an unrendered `{{ ... }}` template expression.
fn is_template_placeholder(p: &str) -> bool {
    p.starts_with("{{") && p.ends_with("}}")
}

/// Whether a paragraph is a bare (signed) integer of at most six digits ("17", "-1", "#3").
fn is_bare_number(p: &str) -> bool {
    let d = p.trim_start_matches(['-', '+', '#', '\u{2212}']);
    !d.is_empty() && d.len() <= 6 && d.bytes().all(|b| b.is_ascii_digit())
}

fn first_text(doc: &Html, s: &Selector) -> Option<String> {
    let e = doc.select(s).next()?;
    let t = e.text().collect::<Vec<_>>().join(" ");
    let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then_some(t)
}

/// The headline often sits inside the content container; it is metadata, not body text.
fn drop_title_paragraph(paras: &mut Vec<String>, title: Option<&str>) {
    let Some(title) = title else { return };
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let t = norm(title);
    if t.is_empty() {
        return;
    }
    if let Some(pos) = paras.iter().take(5).position(|p| norm(p) == t) {
        paras.remove(pos);
    }
}

mod boilerplate {
    //! Boilerplate marking by tag, ARIA role, attributes and class/id vocabulary.

    use super::dom::Dom;

    /// Never content.
    fn hard_tag(name: &str) -> bool {
        matches!(
            name,
            "head"
                | "script"
                | "style"
                | "noscript"
                | "template"
                | "svg"
                | "math"
                | "iframe"
                | "button"
                | "select"
                | "option"
                | "input"
                | "textarea"
                | "canvas"
                | "object"
                | "embed"
                | "video"
                | "audio"
                | "map"
                | "dialog"
                | "menu"
                | "label"
        )
    }

    /// Usually page chrome.
    fn soft_tag(name: &str) -> bool {
        matches!(name, "nav" | "aside" | "footer" | "header" | "form")
    }

    const STRONG_SUBSTRINGS: &[&str] = &[
        "share",
        "social",
        "cookie",
        "consent",
        "gdpr",
        "newsletter",
        "subscri",
        "related",
        "recommend",
        "advert",
        "sponsor",
        "breadcrumb",
        "pagination",
        "popup",
        "modal",
        "outbrain",
        "taboola",
        "disqus",
        "onetrust",
        "ot-sdk",
        "didomi",
        "qc-cmp",
        "cookiebot",
        "usercentrics",
        "truste",
        "user-info",
        "user-details",
        "user-card",
        "usercard",
        "post-signature",
        "noscript",
        "reactionsbar",
        "reactions-bar",
        "sr-only",
        "screen-reader",
        "visually-hidden",
        "visuallyhidden",
        "skip-link",
        "signup",
        "sign-up",
        "most-popular",
        "mostpopular",
        "byline",
        "author-bio",
        "authorbio",
        "post-meta",
        "entry-meta",
        "article-meta",
        "post-tags",
        "tag-list",
        "tags-list",
        "navbar",
        "navigation",
        "footer",
        "masthead",
        "toolbar",
        "promo",
        // Stack Exchange's "log in to answer / explore related questions" box.
        "bottom-notice",
    ];

    /// Cookie / consent banners (class or id substrings).
    const CONSENT: &[&str] = &[
        "cookie",
        "consent",
        "gdpr",
        "onetrust",
        "ot-sdk",
        "didomi",
        "qc-cmp",
        "cookiebot",
        "usercentrics",
        "truste",
    ];

    const WEAK_TOKENS: &[&str] = &[
        "nav",
        "menu",
        "header",
        "tags",
        "tag",
        "meta",
        "author",
        "login",
        "search",
        "ad",
        "ads",
        "adv",
        "advertising",
        "print",
        "icon",
        "btn",
        "button",
        "credit",
        "credits",
        "copyright",
        "legal",
        "toc",
        "trending",
        "popular",
        "more",
        "date",
        "jump",
        "caption",
        "sidebar",
        "banner",
        "userinfo",
        "userextras",
        "userdetails",
        "usertitle",
        "userbanner",
        "avatar",
        "postprofile",
        "signature",
        "sig",
        "badges",
        "reactions",
        "likes",
        "reputation",
    ];

    const POSITIVE_TOKENS: &[&str] = &[
        "content", "article", "main", "body", "post", "entry", "story", "text", "blog", "prose",
        "richtext", "markdown",
    ];

    const ROLES: &[&str] = &[
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "dialog",
        "alertdialog",
        "menu",
        "menubar",
        "search",
        "toolbar",
        "tablist",
    ];

    /// Verdict for a class/id string: 2 strong boilerplate, 1 weak, 0 none.
    pub(crate) fn class_verdict(attrs: &str) -> u8 {
        if attrs.is_empty() {
            return 0;
        }
        // One automaton pass instead of a `contains` per substring (those
        // were 2% of an ingest's CPU: every element of every page).
        static STRONG: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
        let strong = STRONG.get_or_init(|| {
            aho_corasick::AhoCorasick::new(STRONG_SUBSTRINGS)
                .expect("the boilerplate substrings are a valid pattern set")
        });
        if strong.is_match(attrs) {
            return 2;
        }
        // "hide" only as a whole class: in compounds ("hide-last-connector") it is styling of
        // blocks that are shown.
        let mut weak =
            attrs.contains("hide") && attrs.split_ascii_whitespace().any(|t| t == "hide");
        let mut positive = false;
        for tok in attrs.split(|c: char| !c.is_ascii_alphanumeric()) {
            if tok.is_empty() {
                continue;
            }
            if WEAK_TOKENS.contains(&tok) {
                weak = true;
            } else if POSITIVE_TOKENS.contains(&tok) {
                positive = true;
            }
        }
        u8::from(weak && !positive)
    }

    /// Lower-cased `class` + `id` of an element.
    pub(crate) fn class_id(el: &scraper::node::Element) -> String {
        let mut s = String::new();
        if let Some(c) = el.attr("class") {
            s.push_str(c);
        }
        if let Some(i) = el.attr("id") {
            s.push(' ');
            s.push_str(i);
        }
        s.make_ascii_lowercase();
        s
    }

    /// Marks boilerplate subtrees. `raw` is the non-link text length per node, used to refuse
    /// removing a subtree that holds most of the page's text (a wrapper with a misleading class).
    pub(crate) fn mark(dom: &Dom<'_>, raw: &[u32], body: usize) -> Vec<bool> {
        let n = dom.len();
        let mut removed = vec![false; n];
        let total = f64::from(raw.get(body).copied().unwrap_or(0));
        // Subtrees holding the page's declared main content (`<main>`, role=main,
        // itemprop=articleBody) are never removed for their class names: a wrapper called
        // "fixed-sidebar-layout" around <main> is layout, not a sidebar.
        let mut holds_main = vec![false; n];
        for i in (0..n).rev() {
            let node = &dom.nodes[i];
            if let Some(el) = node.el {
                if node.name == "main"
                    || el.attr("role") == Some("main")
                    || el.attr("itemprop") == Some("articleBody")
                {
                    holds_main[i] = true;
                }
            }
            if holds_main[i] && node.parent != super::dom::NONE {
                holds_main[node.parent as usize] = true;
            }
        }
        let mut i = 0;
        while i < n {
            let node = &dom.nodes[i];
            let Some(el) = node.el else {
                i += 1;
                continue;
            };
            let name = node.name;
            let mut remove = hard_tag(name);
            if !remove && !matches!(name, "html" | "body") {
                // Consent banners can out-text a short article; their names are unambiguous.
                let consent = CONSENT.iter().any(|c| node.cls.contains(c));
                let big = ((f64::from(raw[i]) >= 0.4 * total && raw[i] >= 800) && !consent)
                    || holds_main[i];
                if !big {
                    // Headers and forms sometimes wrap real text (a long standfirst; forum
                    // software wrapping posts in a moderation form); nav/aside/footer do not.
                    // `display:none` and `[hidden]` are deliberately not removal signals:
                    // accordions and tabs hide real article text until clicked.
                    remove = soft_tag(name)
                        && !(name == "header" && raw[i] > 600)
                        && !(name == "form" && raw[i] > 500)
                        || el.attr("aria-hidden") == Some("true")
                        || el
                            .attr("role")
                            .is_some_and(|r| ROLES.contains(&r.to_ascii_lowercase().as_str()))
                        || (!matches!(name, "main" | "article") && {
                            // Weak names ("header", "meta", "sidebar") on a text-rich block are
                            // more often layout than chrome: keep those.
                            let v = class_verdict(&node.cls);
                            v == 2 || (v == 1 && raw[i] < 1000)
                        });
                }
            }
            if remove {
                removed[i] = true;
                i = node.end as usize;
            } else {
                i += 1;
            }
        }
        removed
    }
}

mod content {
    //! Picks the subtree that holds the main text and renders it.

    use super::dom::{self, Dom};

    /// Share of the winner's good text a declared content container must hold to replace it.
    const SEMANTIC_SHARE: f32 = 0.6;

    /// `<article>`, `itemprop=articleBody`, or the usual CMS body classes.
    fn is_content_container(node: &dom::DNode<'_>) -> bool {
        if node.name == "article" {
            return true;
        }
        if node
            .el
            .is_some_and(|e| e.attr("itemprop") == Some("articleBody"))
        {
            return true;
        }
        const CLASSES: &[&str] = &[
            "entry-content",
            "post-content",
            "article-body",
            "article-content",
            "articlebody",
            "article__body",
            "article__content",
            "story-body",
            "post-body",
            "postbody",
            "blog-post-content",
            "single-content",
            "content-body",
            "rich-text",
            "richtext",
        ];
        CLASSES.iter().any(|c| node.cls.contains(c))
    }

    /// Weight of noise text against good text when choosing the container.
    const NOISE_WEIGHT: f32 = 0.5;

    pub(crate) fn extract_paragraphs(
        dom: &Dom<'_>,
        removed: &[bool],
        body: usize,
        tighten: bool,
    ) -> (Vec<String>, usize) {
        let stats = dom::block_stats(dom, removed);
        let n = dom.len();
        let mut best = body;
        let mut best_score = f32::MIN;
        let mut i = body;
        let end = dom.nodes.get(body).map_or(n, |b| b.end as usize);
        while i < end {
            if removed[i] {
                i = dom.nodes[i].end as usize;
                continue;
            }
            if dom.nodes[i].el.is_some() {
                let score = stats.good[i] - NOISE_WEIGHT * stats.noise[i];
                if score >= best_score {
                    best_score = score;
                    best = i;
                }
            }
            i += 1;
        }
        if stats.good[best] <= 0.0 {
            // No paragraph-like text anywhere: fall back to everything that was not removed.
            best = body;
        } else {
            // The winner is often one long post of a thread; the thread is the parent of the
            // repeated post blocks around it. On pages not declared a discussion the blocks
            // must share a class naming a post and hold paragraph text (not teaser lists).
            let expanded = expand_to_posts(dom, removed, &stats, best, body, !tighten);
            if expanded != best {
                best = expanded;
            } else if !tighten {
                // A winner above the thread (short posts outscored by page chrome): the
                // element holding the most post blocks is the thread.
                if let Some(t) = thread_container(
                    dom,
                    removed,
                    &|i| stats.good[i] + stats.noise[i] > 0.0,
                    best,
                ) {
                    if stats.good[t] >= THREAD_SHARE * stats.good[best] {
                        best = t;
                    }
                }
            } else {
                // A post body ("postbody") is a content container too: if the tight root is
                // one of several posts inside the winner, keep the posts together.
                let tight = tighten_to_container(dom, removed, &stats, best);
                best = expand_to_posts(dom, removed, &stats, tight, best, false);
            }
        }
        (dom::render(dom, best, &|j| removed[j], Some(&stats)), best)
    }

    /// A declared content container inside the winner that holds nearly all of its good text
    /// is a tighter, more precise root (drops teaser lists, testimonials).
    fn tighten_to_container(
        dom: &Dom<'_>,
        removed: &[bool],
        stats: &dom::BlockStats,
        best: usize,
    ) -> usize {
        let end = dom.nodes[best].end as usize;
        let mut tight = best;
        let mut tight_good = 0.0f32;
        let mut j = best + 1;
        while j < end {
            if removed[j] {
                j = dom.nodes[j].end as usize;
                continue;
            }
            let node = &dom.nodes[j];
            if node.el.is_some()
                && stats.good[j] >= SEMANTIC_SHARE * stats.good[best]
                && stats.good[j] > tight_good
                && is_content_container(node)
            {
                tight = j;
                tight_good = stats.good[j];
            }
            j += 1;
        }
        tight
    }

    /// How far up from the winner to look for the repeated post blocks.
    const POST_LEVELS: usize = 12;

    /// Class attribute of an element ("" if none).
    fn class_of<'a>(node: &'a dom::DNode<'_>) -> &'a str {
        node.el.and_then(|e| e.attr("class")).unwrap_or("")
    }

    /// Class tokens compared per element in [`same_kind`].
    const MAX_CLASS_TOKENS: usize = 16;

    /// Whether `other` is a block of the same kind as `node`: same tag and a class token in
    /// common (class-less `<article>`/`<li>` items count on declared discussions). The second
    /// value says whether a shared token names a post ("post", "message", "reply", ...).
    fn same_kind(node: &dom::DNode<'_>, other: &dom::DNode<'_>, discussion: bool) -> (bool, bool) {
        if node.name != other.name || other.el.is_none() {
            return (false, false);
        }
        let (a, b) = (class_of(node), class_of(other));
        if a.is_empty() && b.is_empty() {
            return (discussion && matches!(node.name, "article" | "li"), false);
        }
        // Token lists are capped: the comparison is quadratic, and hostile pages can carry
        // class attributes with thousands of tokens on thousands of siblings.
        let mut shared = false;
        for t in a.split_ascii_whitespace().take(MAX_CLASS_TOKENS) {
            if b.split_ascii_whitespace()
                .take(MAX_CLASS_TOKENS)
                .any(|u| u == t)
            {
                shared = true;
                if post_like(t) {
                    return (true, true);
                }
            }
        }
        (shared, false)
    }

    /// Whether a class token (or a whole class/id string) names a single post or message block
    /// (`message--post`, `blockpost`, `postbit`, `js-post-123`).
    fn post_like(token: &str) -> bool {
        token
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(is_post_word)
    }

    /// "post", "message", "comment", "reply", "answer", "blockpost", "postbit", any case.
    /// Dispatches on length first: this runs on every class token of the page.
    fn is_post_word(t: &str) -> bool {
        match t.len() {
            4 => t.eq_ignore_ascii_case("post"),
            5 => t.eq_ignore_ascii_case("reply"),
            6 => t.eq_ignore_ascii_case("answer"),
            7 => {
                t.eq_ignore_ascii_case("message")
                    || t.eq_ignore_ascii_case("comment")
                    || t.eq_ignore_ascii_case("postbit")
            }
            9 => t.eq_ignore_ascii_case("blockpost"),
            _ => false,
        }
    }

    /// Share of the winner's good text the thread container must hold to replace it.
    const THREAD_SHARE: f32 = 0.25;

    /// Least number of post blocks that make an element the thread container.
    const MIN_POSTS: u32 = 3;

    /// The element inside `within` (exclusive) with the most children whose class (or id) names
    /// a post, if it has at least [`MIN_POSTS`].
    pub(crate) fn thread_container(
        dom: &Dom<'_>,
        removed: &[bool],
        has_text: &dyn Fn(usize) -> bool,
        within: usize,
    ) -> Option<usize> {
        let end = dom.nodes.get(within).map_or(0, |n| n.end as usize);
        let mut count: Vec<u32> = vec![0; end.saturating_sub(within)];
        let mut i = within + 1;
        while i < end {
            if removed[i] {
                i = dom.nodes[i].end as usize;
                continue;
            }
            let node = &dom.nodes[i];
            let p = node.parent as usize;
            if p > within && p < end && !node.cls.is_empty() && post_like(&node.cls) && has_text(i)
            {
                count[p - within] += 1;
            }
            i += 1;
        }
        let (k, &c) = count
            .iter()
            .enumerate()
            .max_by_key(|&(k, &c)| (c, std::cmp::Reverse(k)))?;
        (c >= MIN_POSTS).then_some(within + k)
    }

    /// Walks up from `start` to the ancestor whose children repeat the signature of the child on
    /// the path most often (posts of a thread: phpBB `div.post`, XenForo `article.message`,
    /// Discourse `div.topic-post`, ...), and returns that ancestor; `start` if no level within
    /// [`POST_LEVELS`] levels up to `top` (inclusive) repeats.
    fn expand_to_posts(
        dom: &Dom<'_>,
        removed: &[bool],
        stats: &dom::BlockStats,
        start: usize,
        top: usize,
        discussion: bool,
    ) -> usize {
        let mut child = start;
        let mut best = start;
        let mut best_same = 0usize;
        for _ in 0..POST_LEVELS {
            let parent = dom.nodes[child].parent;
            if parent == dom::NONE || (parent as usize) < top {
                break;
            }
            let parent = parent as usize;
            let node = &dom.nodes[child];
            let mut same = 0usize;
            let mut posts = false;
            let mut j = parent + 1;
            let end = dom.nodes[parent].end as usize;
            while j < end {
                let other = &dom.nodes[j];
                if j != child && !removed[j] && (discussion || stats.good[j] > 0.0) {
                    let (kind, post) = same_kind(node, other, discussion);
                    if kind {
                        same += 1;
                        posts |= post;
                    }
                }
                j = other.end as usize;
            }
            // Off declared discussions only blocks named as posts count: repeated layout
            // sections of an article page are not a thread.
            // The level with the most repeats wins: two cells of one post (user, message)
            // repeat too, but less often than the posts of a thread.
            if same > best_same && (discussion || posts) {
                best_same = same;
                best = parent;
            }
            if parent == top {
                break;
            }
            child = parent;
        }
        best
    }
}

/// Attributes that carry a comment's own id on comment platforms (see
/// `comments::platform_id`); the pre-pass keeps them.
pub(crate) const COMMENT_ID_ATTRIBUTES: [&str; 3] =
    ["data-comment-id", "data-commentid", "data-id"];

mod comments {
    //! Reader comments: sections recognised by class/id vocabulary (or the `comments` override)
    //! and the repeated items inside them.

    use super::dom::{self, Dom};
    use super::{parse_date, Comment, Compiled};
    use scraper::Html;

    fn is_comment_attr(s: &str) -> bool {
        (s.contains("comment") && !s.contains("commentary")) || s.contains("disqus")
    }

    /// A comment item: class token "comment" (WordPress `li.comment`), ids like `comment-123`,
    /// or elements whose class marks a single comment.
    fn is_item(el: &scraper::node::Element) -> bool {
        let class = el.attr("class").unwrap_or("").to_ascii_lowercase();
        let id = el.attr("id").unwrap_or("").to_ascii_lowercase();
        let class_item = class.split_whitespace().any(|t| {
            matches!(
                t,
                "comment"
                    | "comment-item"
                    | "commentitem"
                    | "comment-entry"
                    | "comments-item"
                    | "comment-list-item"
                    | "c-comment"
                    | "js-comment"
            )
        });
        let id_item = ["comment-", "li-comment-", "comment_", "div-comment-"]
            .iter()
            .any(|p| {
                id.strip_prefix(p)
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            });
        class_item || id_item
    }

    /// The comment's own id in the markup: `data-comment-id` / `data-id`,
    /// else an element id with digits (`comment-123`, `li-comment-123`).
    /// Ids without digits (`comment-form`) name roles, not comments.
    fn platform_id(el: &scraper::node::Element) -> Option<String> {
        let clean = |v: &str| {
            let v = v.trim();
            (!v.is_empty() && v.len() <= 128 && v.chars().any(|c| c.is_ascii_digit()))
                .then(|| v.to_string())
        };
        crate::COMMENT_ID_ATTRIBUTES
            .iter()
            .find_map(|a| el.attr(a).and_then(clean))
            .or_else(|| el.attr("id").and_then(clean))
    }

    /// Parts of a comment item that are not its text.
    fn is_item_chrome(el: &scraper::node::Element, name: &str) -> bool {
        if matches!(name, "time" | "footer" | "header" | "button" | "form") {
            return true;
        }
        let a = super::boilerplate::class_id(el);
        [
            "author",
            "meta",
            "vcard",
            "avatar",
            "reply",
            "date",
            "time",
            "actions",
            "footer",
            "header",
            "user",
            "permalink",
            "vote",
            "like",
            "rating",
            "report",
        ]
        .iter()
        .any(|k| a.contains(k))
            && !a.contains("content")
            && !a.contains("text")
    }

    /// Author and date sit at the top of a comment; scanning a bounded prefix keeps nested
    /// reply chains from making this quadratic.
    const ITEM_SCAN: usize = 300;

    fn item_author(dom: &Dom<'_>, item: usize) -> Option<String> {
        let end = (dom.nodes[item].end as usize).min(item + 1 + ITEM_SCAN);
        let tokens = |j: usize| -> Vec<String> {
            dom.nodes[j]
                .cls
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect()
        };
        // Most specific first: hCard name / itemprop, then author-ish containers.
        let specific = |j: usize| {
            dom.nodes[j].el.is_some_and(|el| {
                el.attr("itemprop") == Some("author")
                    || tokens(j)
                        .iter()
                        .any(|t| matches!(t.as_str(), "fn" | "username" | "commenter" | "nickname"))
            })
        };
        let general = |j: usize| {
            dom.nodes[j].el.is_some()
                && (dom.nodes[j].cls.contains("comment-author")
                    || dom.nodes[j].cls.contains("author-name")
                    || tokens(j).iter().any(|t| t == "author"))
        };
        let pick = |pred: &dyn Fn(usize) -> bool| {
            (item + 1..end).filter(|&j| pred(j)).find_map(|j| {
                let t = super::meta::subtree_text(dom, j);
                let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                let t = t
                    .trim_end_matches(" says:")
                    .trim_end_matches(" says")
                    .to_string();
                (!t.is_empty() && t.chars().count() <= 100).then_some(t)
            })
        };
        pick(&specific).or_else(|| pick(&general))
    }

    fn item_date(dom: &Dom<'_>, item: usize) -> Option<chrono::DateTime<chrono::Utc>> {
        let end = (dom.nodes[item].end as usize).min(item + 1 + ITEM_SCAN);
        (item + 1..end).find_map(|j| {
            let el = dom.nodes[j].el?;
            if let Some(d) = el.attr("datetime").and_then(parse_date) {
                return Some(d);
            }
            let a = super::boilerplate::class_id(el);
            if a.contains("date") || a.contains("time") || dom.nodes[j].name == "time" {
                return parse_date(&super::meta::subtree_text(dom, j));
            }
            None
        })
    }

    /// Does the subtree at `i` hold the page's declared main content?
    fn holds_main(dom: &Dom<'_>, i: usize) -> bool {
        dom.nodes[i..dom.nodes[i].end as usize].iter().any(|n| {
            n.name == "main"
                || n.el.is_some_and(|e| {
                    e.attr("role") == Some("main") || e.attr("itemprop") == Some("articleBody")
                })
        })
    }

    /// Returns the outermost comment-section nodes (to keep out of the text) and the comments.
    pub(crate) fn find(
        dom: &Dom<'_>,
        doc: &Html,
        sel: &Compiled,
        body: usize,
    ) -> (Vec<usize>, Vec<super::Comment>) {
        let n = dom.len();
        let mut is_item_v = vec![false; n];
        let mut items: Vec<usize> = Vec::new();
        let mut sections: Vec<usize> = Vec::new();

        if let Some(s) = &sel.comments {
            for e in doc.select(s) {
                if let Some(&i) = dom.ids.get(&e.id()) {
                    is_item_v[i as usize] = true;
                    items.push(i as usize);
                }
            }
            items.sort_unstable();
            // Each override match is removed from the text.
            let mut last_end = 0;
            for &i in &items {
                if i >= last_end {
                    sections.push(i);
                    last_end = dom.nodes[i].end as usize;
                }
            }
        } else {
            // Outermost elements whose class/id says "comment".
            let mut i = body;
            let end = dom.nodes.get(body).map_or(n, |b| b.end as usize);
            while i < end {
                let node = &dom.nodes[i];
                let Some(el) = node.el else {
                    i += 1;
                    continue;
                };
                // No size guard here: a long comment thread under a short article is still
                // comments. Pages that are all "comments" (forums) are recognised by the caller.
                if el.attr("class").is_some() | el.attr("id").is_some()
                    && is_comment_attr(&node.cls)
                    && !matches!(node.name, "body" | "html" | "main")
                    && !holds_main(dom, i)
                {
                    sections.push(i);
                    i = node.end as usize;
                } else {
                    i += 1;
                }
            }
            for &s in &sections {
                let end = dom.nodes[s].end as usize;
                for (j, node) in dom.nodes.iter().enumerate().take(end).skip(s) {
                    if node.el.is_some_and(is_item) {
                        is_item_v[j] = true;
                        items.push(j);
                    }
                }
            }
        }

        let mut out = Vec::new();
        for &item in items.iter().take(5000) {
            let text_roots: Vec<usize> = match &sel.comment_text {
                Some(s) => doc
                    .tree
                    .get(find_id(dom, item).unwrap_or(doc.tree.root().id()))
                    .and_then(scraper::ElementRef::wrap)
                    .map(|e| {
                        e.select(s)
                            .filter_map(|x| dom.ids.get(&x.id()).map(|&k| k as usize))
                            .collect()
                    })
                    .unwrap_or_default(),
                None => vec![item],
            };
            let skip = |j: usize| -> bool {
                if j != item && is_item_v[j] {
                    return true; // nested replies are their own comments
                }
                match dom.nodes[j].el {
                    Some(el) if j != item && sel.comment_text.is_none() => {
                        is_item_chrome(el, dom.nodes[j].name)
                    }
                    _ => false,
                }
            };
            let mut paras = Vec::new();
            for r in text_roots {
                paras.extend(dom::render(dom, r, &skip, None));
            }
            let text = paras.join("\n\n");
            if text.is_empty() {
                continue;
            }
            let author = match &sel.comment_author {
                Some(s) => doc
                    .tree
                    .get(find_id(dom, item).unwrap_or(doc.tree.root().id()))
                    .and_then(scraper::ElementRef::wrap)
                    .and_then(|e| e.select(s).next())
                    .map(|a| a.text().collect::<Vec<_>>().join(" "))
                    .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|t| !t.is_empty()),
                None => item_author(dom, item),
            };
            out.push(Comment {
                author,
                published: item_date(dom, item),
                text,
                id: dom.nodes[item].el.and_then(platform_id),
            });
        }
        (sections, out)
    }

    /// The scraper node id of flat index `i`.
    fn find_id(dom: &Dom<'_>, i: usize) -> Option<ego_tree::NodeId> {
        dom.node_ids.get(i).copied()
    }
}
