//! Hostile input: every case returns a result or a clear error, never a panic or a stack
//! overflow. (Time bounds are checked by the benchmark and by these tests finishing at all;
//! no timing assertions here.)

use mediawatch_extract::{extract, extract_bytes, ExtractError, ExtractOptions};

/// A page just under the 20 MiB default limit: many paragraphs inside nav/ads noise.
#[test]
fn twenty_megabyte_page() {
    let para = "<p>Migration policy paragraph with enough words to count as real article text, repeated to fill space.</p>\n";
    let mut html = String::from("<html><body><nav><a href='/'>Home</a></nav><article>");
    let target = 20 * 1024 * 1024 - 1024;
    while html.len() + para.len() + 40 < target {
        html.push_str(para);
    }
    html.push_str("</article></body></html>");
    assert!(html.len() <= 20 * 1024 * 1024);
    let a = extract(&html, None, &ExtractOptions::default()).expect("20 MB page must be accepted");
    assert!(a.text.starts_with("Migration policy paragraph"));
    assert!(!a.text.contains("Home"));
    assert!(a.text.len() > 10_000_000);
}

#[test]
fn over_the_limit_is_too_large() {
    let opts = ExtractOptions {
        max_input_bytes: 1000,
        ..ExtractOptions::default()
    };
    let html = "x".repeat(1001);
    match extract(&html, None, &opts) {
        Err(ExtractError::TooLarge { size, limit }) => {
            assert_eq!((size, limit), (1001, 1000));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // extract_bytes checks before decoding.
    assert!(matches!(
        extract_bytes(html.as_bytes(), None, None, &opts),
        Err(ExtractError::TooLarge { .. })
    ));
    let err = extract(&html, None, &opts).expect_err("too large");
    assert!(err.to_string().contains("1001") && err.to_string().contains("1000"));
}

fn nested(tag: &str, depth: usize) -> String {
    let mut s = String::with_capacity(depth * (tag.len() * 2 + 5) + 64);
    s.push_str("<html><body>");
    for _ in 0..depth {
        s.push('<');
        s.push_str(tag);
        s.push('>');
    }
    s.push_str("The deeply nested text is still the article and it should come out in one piece.");
    for _ in 0..depth {
        s.push_str("</");
        s.push_str(tag);
        s.push('>');
    }
    s.push_str("</body></html>");
    s
}

#[test]
fn hundred_thousand_nested_divs() {
    let a = extract(&nested("div", 100_000), None, &ExtractOptions::default()).expect("deep page");
    assert!(a.text.contains("The deeply nested text"), "{:?}", a.text);
}

#[test]
fn hundred_thousand_nested_mixed_tags_unclosed() {
    // Unclosed inline and formatting elements, tables and lists: other parser paths.
    for tag in ["span", "b", "table", "ul", "blockquote"] {
        let mut s = String::from("<html><body>");
        for _ in 0..100_000 {
            s.push('<');
            s.push_str(tag);
            s.push('>');
        }
        s.push_str("text at the bottom");
        let r = extract(&s, None, &ExtractOptions::default());
        assert!(r.is_ok(), "{tag}: {r:?}");
    }
}

#[test]
fn invalid_utf8_bytes() {
    let mut page = b"<html><head><meta charset=\"utf-8\"></head><body><p>Valid start of a paragraph that goes on for a while, ".to_vec();
    page.extend_from_slice(b"\xFF\xFE\xC3\x28 broken \xE2\x82 bytes \xF0\x28\x8C\x28");
    page.extend_from_slice(b" and a valid end of the same paragraph.</p></body></html>");
    let a = extract_bytes(&page, Some("text/html"), None, &ExtractOptions::default())
        .expect("lossy decode");
    assert!(a.text.starts_with("Valid start"));
    assert!(a.text.contains('\u{FFFD}'));
    assert!(a.text.ends_with("same paragraph."));
}

#[test]
fn page_without_text() {
    for html in [
        "",
        "<html></html>",
        "<html><head><title>t</title></head><body><img src=x><script>var a=1;</script></body></html>",
        "<<<>>>",
        "\u{0}\u{0}\u{0}",
    ] {
        let a = extract(html, None, &ExtractOptions::default()).expect("empty page is not an error");
        assert!(a.text.trim().is_empty() || html == "<<<>>>", "{html:?} -> {:?}", a.text);
        assert!(a.comments.is_empty());
    }
    let a = extract_bytes(&[], None, None, &ExtractOptions::default()).expect("empty bytes");
    assert_eq!(a.text, "");
}

#[test]
fn malformed_structured_data_and_attributes() {
    let html = r#"<html lang="!!"><head>
      <script type="application/ld+json">{"@type": "NewsArticle", "headline": </script>
      <script type="application/ld+json">[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]</script>
      <meta property="article:published_time" content="9999-99-99">
      <meta property="og:image" content="http://[::1">
      </head><body><p>Body text that is long enough to be kept by the extractor as a paragraph.</p></body></html>"#;
    let a = extract(html, Some("not a url"), &ExtractOptions::default()).expect("extract");
    assert_eq!(a.lang, None);
    assert_eq!(a.published, None);
    assert!(a.text.starts_with("Body text"));
}

#[test]
fn deep_comment_chain() {
    // 1 000 nested replies (deeper than the depth cap) under a short article: the comments are
    // found, and even though they out-text the article none of them leaks into the text.
    let mut s = String::from("<html><body><article><p>Article text long enough to be the main content of this test page, with a few more words.</p></article><div id=\"comments\">");
    for i in 0..1000 {
        s.push_str(&format!(
            "<div class=\"comment\" id=\"comment-{i}\"><span class=\"author\">u{i}</span><p>reply number {i} to the article above</p>"
        ));
    }
    let a = extract(&s, None, &ExtractOptions::default()).expect("extract");
    assert!(a.text.starts_with("Article text"), "{}", a.text);
    assert!(!a.text.contains("reply"), "{}", a.text);
    assert!(a.comments.len() >= 300, "{}", a.comments.len());
    assert_eq!(a.comments[0].author.as_deref(), Some("u0"));
    assert_eq!(a.comments[0].text, "reply number 0 to the article above");
}

/// A declared thread whose posts carry enormous class lists: comparing the classes of sibling
/// posts must not turn quadratic in the number of tokens.
#[test]
fn thread_with_huge_class_lists() {
    let class: String = (0..600).map(|i| format!("c{i} ")).collect::<String>() + "post";
    let mut html = String::from(
        r#"<html><head><script type="application/ld+json">{"@type":"DiscussionForumPosting"}</script></head><body><div><div class="thread">"#,
    );
    for i in 0..400 {
        html.push_str(&format!(
            r#"<div class="{class}"><p>Reply number {i} with enough words in it to be a paragraph of real text.</p><blockquote class="quote">quoted</blockquote></div>"#
        ));
    }
    html.push_str("</div></div></body></html>");
    let a = extract(&html, None, &ExtractOptions::default()).expect("thread page");
    assert!(
        a.text.contains("Reply number 0 "),
        "{}",
        &a.text[..200.min(a.text.len())]
    );
    assert!(a.text.contains("Reply number 399 "));
    assert!(!a.text.contains("quoted"));
}
