//! Forum threads: all posts are the text, without quotes of earlier posts, edit notes, poster
//! statistics or vote counters.

use mediawatch_extract::{extract, ExtractOptions};

/// One post of a phpBB/FluxBB-like thread: poster statistics, the message, an edit note.
fn post(n: usize, user: &str, body: &str, quote: Option<&str>) -> String {
    let quote = quote
        .map(|q| {
            format!(
                r#"<blockquote class="uncited"><div><cite>someone wrote:</cite>{q}</div></blockquote>"#
            )
        })
        .unwrap_or_default();
    format!(
        r#"<div id="p{n}" class="blockpost row{n}">
  <h2><span>#{n}</span> <a href="/viewtopic.php?pid={n}">2025-11-0{n} 15:14</a></h2>
  <div class="box"><div class="inbox"><div class="postbody">
    <div class="postleft"><dl><dt><strong>{user}</strong></dt><dd>Registered: 2016-07-02</dd><dd>Posts: 71{n}</dd></dl></div>
    <div class="postright"><div class="postmsg">{quote}<p>{body}</p>
      <p class="postedit"><em>Last edited by {user} (2025-11-0{n})</em></p></div></div>
  </div></div></div>
</div>"#
    )
}

fn thread(posts: &[String]) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><title>Thread title - Board</title></head><body>
<div id="brdheader" class="block"><ul><li><a href="/">Index</a></li><li><a href="/search">Search</a></li></ul></div>
<div id="brdmain">
<div class="linkst"><p class="pagelink">Pages: 1</p></div>
{}
</div>
<div id="brdfooter" class="block"><p>Powered by a board engine</p></div>
</body></html>"#,
        posts.join("\n")
    )
}

const LONG: &str = "The installation image grew because the boot loader changed and the kernel \
    and initramfs are now stored twice, once for each boot path, which roughly doubles their \
    share of the image. Firmware packages also keep growing with every release, and they are \
    the largest single item on the medium.";

#[test]
fn thread_keeps_every_post_not_only_the_longest() {
    let html = thread(&[
        post(
            1,
            "alice",
            "Why did the image size grow so fast between the two releases?",
            None,
        ),
        post(2, "bob", LONG, None),
        post(
            3,
            "carol",
            "Thanks, that explains the jump in size for me.",
            None,
        ),
    ]);
    let a = extract(&html, None, &ExtractOptions::default()).expect("extract");
    assert!(a.text.contains("Why did the image size grow"), "{}", a.text);
    assert!(a.text.contains("roughly doubles"), "{}", a.text);
    assert!(a.text.contains("explains the jump"), "{}", a.text);
}

#[test]
fn thread_drops_quotes_edit_notes_and_poster_statistics() {
    let html = thread(&[
        post(
            1,
            "alice",
            "Why did the image size grow so fast between the two releases?",
            None,
        ),
        post(2, "bob", LONG, Some("QUOTED-EARLIER-POST why did it grow")),
        post(
            3,
            "carol",
            "Thanks, that explains the jump in size for me.",
            None,
        ),
        post(
            4,
            "dave",
            "Same here, the firmware is the biggest part of it.",
            None,
        ),
    ]);
    let a = extract(&html, None, &ExtractOptions::default()).expect("extract");
    assert!(a.text.contains("roughly doubles"), "{}", a.text);
    assert!(!a.text.contains("QUOTED-EARLIER-POST"), "{}", a.text);
    assert!(!a.text.contains("Last edited by"), "{}", a.text);
    assert!(!a.text.contains("Registered:"), "{}", a.text);
    assert!(!a.text.contains("Posts: 71"), "{}", a.text);
}

const OPENING: &str = "I heard that the first programme has already sent out interview \
    invitations, so I figured we should get this thread started. Best of luck to you all!";

#[test]
fn declared_discussion_with_short_posts_takes_the_whole_thread() {
    // JSON-LD says it is a thread; the replies are short, the page chrome is long.
    let texts = [OPENING, "NIH - 7/18", "Congrats!", "Thanks!"];
    let mut posts = String::new();
    for (i, t) in texts.iter().enumerate() {
        posts.push_str(&format!(
            r#"<article class="message message--post" id="post-{i}"><div class="message-inner">
<div class="message-cell message-cell--user"><h4 class="message-name">user{i}</h4></div>
<div class="message-cell message-cell--main"><article class="message-body"><div class="bbWrapper">{t}</div></article></div>
</div></article>"#
        ));
    }
    let chrome = "This community is made possible through the generous support of members, \
        donors and sponsors; thank you for keeping the lights on for everyone who reads here. \
        Members do not see advertisements, and registration is free for students and residents \
        who want to take part in the discussions of every section of the board.";
    let html = format!(
        r#"<html><head><script type="application/ld+json">{{"@context":"https://schema.org","@type":"DiscussionForumPosting","headline":"Application thread"}}</script></head>
<body><div class="p-body-inner"><div class="p-description"><p>{chrome}</p></div>
<div class="block-body">{posts}</div></div></body></html>"#
    );
    let a = extract(&html, None, &ExtractOptions::default()).expect("extract");
    for t in texts {
        assert!(a.text.contains(t), "missing {t:?} in {}", a.text);
    }
    assert!(!a.text.contains("generous support"), "{}", a.text);
}

#[test]
fn bare_numbers_and_template_placeholders_are_not_text() {
    let html = r#"<html><body><main><article>
<div class="votes">17</div>
<p>The answer explains that the neutral wire carries current back to the transformer, while its potential stays close to ground.</p>
<div class="votes">-1</div>
<p>{{ DiscussionBoard.errors[0].message }}</p>
<p>A second paragraph says that touching the hot wire completes a circuit through the body to ground, which is why it is dangerous.</p>
</article></main></body></html>"#;
    let a = extract(html, None, &ExtractOptions::default()).expect("extract");
    assert!(a.text.contains("neutral wire"), "{}", a.text);
    assert!(a.text.contains("hot wire"), "{}", a.text);
    assert!(
        !a.text.split("\n\n").any(|p| p == "17" || p == "-1"),
        "{}",
        a.text
    );
    assert!(!a.text.contains("{{"), "{}", a.text);
}

#[test]
fn articles_keep_their_blockquotes() {
    // Not a thread: a quotation in an article is content.
    let html = r#"<html><body><main><article>
<p>The minister presented the new asylum rules on Tuesday, and the ombudswoman responded within the hour with a statement.</p>
<blockquote class="quote">Every person has the right to ask for protection, said the ombudswoman.</blockquote>
<p>The rules take effect next month, after a thirty-day public consultation that starts this week.</p>
</article></main></body></html>"#;
    let a = extract(html, None, &ExtractOptions::default()).expect("extract");
    assert!(a.text.contains("right to ask for protection"), "{}", a.text);
}
