//! Plain text from the HTML that feeds put in summaries and content.

use scraper::{Html, Node};

/// Elements whose content is never reader-visible text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "head", "title", "svg", "math",
];

/// Elements that start a new paragraph (a blank line in the output).
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "aside",
    "header",
    "footer",
    "nav",
    "main",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "figcaption",
    "hr",
    "address",
    "form",
    "fieldset",
    "details",
    "summary",
];

/// Strips tags from feed HTML and decodes entities.
///
/// Block elements (`<p>`, `<div>`, `<li>`, headings, ...) become paragraph
/// breaks (`"\n\n"`), `<br>` a single newline; runs of other whitespace
/// collapse to one space, as a browser would render them. Script and style
/// content is dropped. Plain text without tags passes through with its
/// entities decoded, so the function is safe to call on any summary.
pub fn html_to_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let mut out = String::with_capacity(html.len());
    // Explicit stack instead of recursion: deeply nested junk HTML must not
    // overflow the thread's stack. `true` marks the closing visit.
    let mut stack = vec![(fragment.tree.root(), false)];
    while let Some((node, closing)) = stack.pop() {
        match node.value() {
            Node::Text(t) => push_collapsed(&mut out, t),
            Node::Element(el) => {
                let name = el.name();
                if SKIPPED.contains(&name) {
                    continue;
                }
                if name == "br" {
                    trim_trailing_spaces(&mut out);
                    out.push('\n');
                    continue;
                }
                let block = BLOCKS.contains(&name);
                if block {
                    paragraph_break(&mut out);
                }
                if !closing {
                    if block {
                        stack.push((node, true));
                    }
                    let children: Vec<_> = node.children().collect();
                    stack.extend(children.into_iter().rev().map(|c| (c, false)));
                }
            }
            Node::Document | Node::Fragment => {
                let children: Vec<_> = node.children().collect();
                stack.extend(children.into_iter().rev().map(|c| (c, false)));
            }
            _ => {}
        }
    }
    trim_trailing_spaces(&mut out);
    let trimmed_end = out.trim_end().len();
    out.truncate(trimmed_end);
    let leading = out.len() - out.trim_start().len();
    out.drain(..leading);
    out
}

/// Appends text with HTML whitespace collapsed to single spaces.
fn push_collapsed(out: &mut String, text: &str) {
    for ch in text.chars() {
        if ch.is_whitespace() && ch != '\u{a0}' {
            if !(out.is_empty() || out.ends_with(' ') || out.ends_with('\n')) {
                out.push(' ');
            }
        } else {
            out.push(ch);
        }
    }
}

fn trim_trailing_spaces(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
}

/// Ends the current paragraph with exactly one blank line (none at the start).
fn paragraph_break(out: &mut String) {
    trim_trailing_spaces(out);
    if out.is_empty() {
        return;
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out.push_str("\n\n");
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn paragraphs_and_entities() {
        let html = "<p>Prvi&nbsp;odlomak &amp; više</p>\n<p>Drugi <b>odlomak</b></p>";
        assert_eq!(
            html_to_text(html),
            "Prvi\u{a0}odlomak & više\n\nDrugi odlomak"
        );
    }

    #[test]
    fn scripts_dropped_and_breaks_kept() {
        let html = "safe<script>alert(1)</script> text<br/>next   line";
        assert_eq!(html_to_text(html), "safe text\nnext line");
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(html_to_text("  AT&amp;T   wins "), "AT&T wins");
        assert_eq!(html_to_text(""), "");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = "<div>".repeat(20_000) + "x";
        assert_eq!(html_to_text(&html), "x");
    }
}
