//! Behaviour of the public API on small hand-written pages.

use mediawatch_extract::{
    extract, extract_bytes, validate_selectors, ExtractError, ExtractOptions, SelectorOverrides,
};

const NEWS: &str = r##"<!DOCTYPE html>
<html lang="hr">
<head>
  <title>Migranti na granici | Portal</title>
  <meta property="og:title" content="Migranti na granici">
  <meta property="og:image" content="/img/lead.jpg">
  <link rel="canonical" href="/vijesti/migranti-na-granici">
  <script type="application/ld+json">
  {"@context":"https://schema.org","@graph":[
    {"@type":"WebSite","name":"Portal"},
    {"@type":"NewsArticle","headline":"Migranti na granici: nova pravila",
     "datePublished":"2024-03-12T10:15:00+01:00",
     "author":[{"@type":"Person","name":"Ana Horvat"},{"@type":"Person","name":"Ivo Ivić"}]}
  ]}
  </script>
</head>
<body>
  <header class="site-header"><nav><a href="/">Naslovnica</a> <a href="/vijesti">Vijesti</a></nav></header>
  <div id="cookie-banner">Ova stranica koristi kolačiće. Prihvati sve kolačiće.</div>
  <main>
    <article>
      <h1>Migranti na granici: nova pravila</h1>
      <div class="share-bar"><a href="#">Facebook</a> <a href="#">Twitter</a></div>
      <p>Vlada je u utorak objavila nova pravila za prihvat migranata na granici, a udruge upozoravaju na posljedice za obitelji s djecom.</p>
      <h2>Što kažu udruge</h2>
      <p>Predstavnici udruga kažu da su ljudi na granici pojedinci s imenima i pričama, a ne anonimna masa, te traže dostojanstven postupak.</p>
      <ul><li>Prvi zahtjev: pristup pravnoj pomoći za sve tražitelje azila.</li><li>Drugi zahtjev: smještaj obitelji izvan zatvorenih centara.</li></ul>
      <blockquote>Svaka osoba ima pravo zatražiti zaštitu, rekla je pravobraniteljica.</blockquote>
      <aside class="related"><h3>Povezano</h3><a href="/a">Druga vijest</a><a href="/b">Treća vijest</a></aside>
      <p>Ministarstvo je najavilo da će pravila stupiti na snagu idućeg mjeseca, nakon javnog savjetovanja koje traje trideset dana.</p>
    </article>
    <section id="comments" class="comments-area">
      <h2>Komentari</h2>
      <ol class="comment-list">
        <li class="comment" id="comment-1">
          <div class="comment-author vcard"><b class="fn">Marko</b> says:</div>
          <div class="comment-meta"><time datetime="2024-03-12T12:00:00Z">12.03.2024 12:00</time></div>
          <div class="comment-content"><p>Ovo je moj komentar o pravilima koji ne smije završiti u tekstu članka.</p></div>
          <ol class="children">
            <li class="comment" id="comment-2">
              <div class="comment-author vcard"><b class="fn">Ivana</b></div>
              <div class="comment-content"><p>Odgovor na komentar, također izvan teksta.</p></div>
            </li>
          </ol>
        </li>
      </ol>
    </section>
  </main>
  <footer class="site-footer"><p>© Portal d.o.o. Sva prava pridržana. Impressum i uvjeti korištenja.</p></footer>
</body></html>"##;

#[test]
fn a_comment_platform_id_survives_the_pre_pass() {
    let page = NEWS.replace(
        r#"id="comment-2""#,
        r#"data-comment-id="c9913" style="margin:0""#,
    );
    let a = extract(&page, None, &ExtractOptions::default()).expect("extract");
    assert_eq!(a.comments.len(), 2, "{:?}", a.comments);
    assert_eq!(a.comments[0].id.as_deref(), Some("comment-1"));
    assert_eq!(a.comments[1].id.as_deref(), Some("c9913"));
}

#[test]
fn news_page_metadata_text_and_comments() {
    let a = extract(
        NEWS,
        Some("https://portal.example/vijesti/x?id=1"),
        &ExtractOptions::default(),
    )
    .expect("extract");
    assert_eq!(
        a.title.as_deref(),
        Some("Migranti na granici: nova pravila")
    );
    assert_eq!(a.byline.as_deref(), Some("Ana Horvat, Ivo Ivić"));
    assert_eq!(
        a.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-03-12T09:15:00+00:00")
    );
    assert_eq!(a.lang.as_deref(), Some("hr"));
    assert_eq!(
        a.lead_image.as_deref(),
        Some("https://portal.example/img/lead.jpg")
    );
    assert_eq!(
        a.canonical_url.as_deref(),
        Some("https://portal.example/vijesti/migranti-na-granici")
    );

    let paras: Vec<&str> = a.text.split("\n\n").collect();
    assert!(paras[0].starts_with("Vlada je u utorak"), "{paras:?}");
    assert!(
        paras.contains(&"Što kažu udruge"),
        "heading is its own paragraph: {paras:?}"
    );
    assert!(paras.contains(&"Prvi zahtjev: pristup pravnoj pomoći za sve tražitelje azila."));
    assert!(paras.iter().any(|p| p.starts_with("Svaka osoba ima pravo")));
    assert!(a.text.ends_with("koje traje trideset dana."), "{}", a.text);
    for junk in [
        "Naslovnica",
        "kolačiće",
        "Facebook",
        "Povezano",
        "Druga vijest",
        "Portal d.o.o",
        "komentar",
        "Komentari",
    ] {
        assert!(
            !a.text.contains(junk),
            "boilerplate {junk:?} leaked: {}",
            a.text
        );
    }

    assert_eq!(a.comments.len(), 2, "{:?}", a.comments);
    assert_eq!(a.comments[0].author.as_deref(), Some("Marko"));
    assert_eq!(
        a.comments[0].text,
        "Ovo je moj komentar o pravilima koji ne smije završiti u tekstu članka."
    );
    assert_eq!(
        a.comments[0].published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-03-12T12:00:00+00:00")
    );
    assert_eq!(a.comments[1].author.as_deref(), Some("Ivana"));
    assert_eq!(
        a.comments[1].text,
        "Odgovor na komentar, također izvan teksta."
    );
}

#[test]
fn opengraph_and_meta_fallbacks() {
    let html = r#"<html><head>
      <meta http-equiv="content-language" content="sr_Latn">
      <meta property="og:title" content="Naslov iz OG">
      <meta property="article:published_time" content="12.03.2024 10:15">
      <meta name="author" content="Jovana Petrović">
      <meta property="og:image" content="https://cdn.example/i.png">
      </head><body><div class="content"><p>Ovo je dovoljno dug paragraf teksta da bude prepoznat kao sadržaj članka o migraciji.</p></div></body></html>"#;
    let a = extract(html, None, &ExtractOptions::default()).expect("extract");
    assert_eq!(a.title.as_deref(), Some("Naslov iz OG"));
    assert_eq!(a.byline.as_deref(), Some("Jovana Petrović"));
    assert_eq!(a.lang.as_deref(), Some("sr-Latn"));
    assert_eq!(
        a.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-03-12T10:15:00+00:00")
    );
    assert_eq!(a.lead_image.as_deref(), Some("https://cdn.example/i.png"));
    assert!(a.text.starts_with("Ovo je dovoljno dug"));
}

#[test]
fn language_absent_is_none() {
    let a = extract(
        "<p>Some text without any language declaration at all here.</p>",
        None,
        &ExtractOptions::default(),
    )
    .expect("extract");
    assert_eq!(a.lang, None);
}

#[test]
fn selector_overrides_take_precedence() {
    let html = r#"<html><body>
      <div class="teaser"><p>This teaser paragraph is long enough to look like real content to the scorer, so it would win.</p>
      <p>Another long teaser paragraph that the heuristics would happily include in the main text of the page.</p></div>
      <div class="x-body"><p>Real body.</p><div class="ad-slot">BUY NOW</div><p>Second line.</p></div>
      <span class="who">By Someone</span><span class="when">12. 3. 2024. 10:15</span>
      <div class="hd">Override title</div>
      <div class="c"><span class="u">Pera</span><span class="t">First!</span></div>
      <div class="c"><span class="u">Mika</span><span class="t">Second.</span></div>
    </body></html>"#;
    let opts = ExtractOptions {
        selectors: SelectorOverrides {
            title: Some(".hd".into()),
            body: Some(".x-body".into()),
            byline: Some(".who".into()),
            published: Some(".when".into()),
            remove: vec![".ad-slot".into()],
            comments: Some("div.c".into()),
            comment_text: Some(".t".into()),
            comment_author: Some(".u".into()),
        },
        ..ExtractOptions::default()
    };
    let a = extract(html, None, &opts).expect("extract");
    assert_eq!(a.text, "Real body.\n\nSecond line.");
    assert_eq!(a.title.as_deref(), Some("Override title"));
    assert_eq!(a.byline.as_deref(), Some("By Someone"));
    assert_eq!(
        a.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-03-12T10:15:00+00:00")
    );
    let got: Vec<(Option<&str>, &str)> = a
        .comments
        .iter()
        .map(|c| (c.author.as_deref(), c.text.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(Some("Pera"), "First!"), (Some("Mika"), "Second.")]
    );
}

#[test]
fn body_override_matching_nothing_falls_back_to_heuristics() {
    let html = "<html><body><nav><a href='/'>Home</a></nav><div class='story'><p>The article paragraph is long enough to be recognised by the content scorer as text.</p></div></body></html>";
    let opts = ExtractOptions {
        selectors: SelectorOverrides {
            body: Some(".old-template-body".into()),
            ..SelectorOverrides::default()
        },
        ..ExtractOptions::default()
    };
    let a = extract(html, None, &opts).expect("extract");
    assert!(a.text.starts_with("The article paragraph"), "{}", a.text);
    assert!(!a.text.contains("Home"));
}

#[test]
fn invalid_selector_names_key_and_selector() {
    let s = SelectorOverrides {
        body: Some("div.ok".into()),
        remove: vec![".fine".into(), "div[".into()],
        ..SelectorOverrides::default()
    };
    let err = validate_selectors(&s).expect_err("bad selector");
    match &err {
        ExtractError::InvalidSelector { key, selector, .. } => {
            assert_eq!(key, "remove[1]");
            assert_eq!(selector, "div[");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("remove[1]") && msg.contains("div["), "{msg}");
    assert!(validate_selectors(&SelectorOverrides::default()).is_ok());
    // extract refuses bad overrides too, rather than silently ignoring them.
    let opts = ExtractOptions {
        selectors: SelectorOverrides {
            title: Some(">>".into()),
            ..SelectorOverrides::default()
        },
        ..ExtractOptions::default()
    };
    assert!(matches!(
        extract("<p>x</p>", None, &opts),
        Err(ExtractError::InvalidSelector { ref key, .. }) if key == "title"
    ));
}

#[test]
fn selector_overrides_serde() {
    let s: SelectorOverrides = serde_json::from_str(r#"{"body":"article .text"}"#).expect("parse");
    assert_eq!(s.body.as_deref(), Some("article .text"));
    assert!(s.remove.is_empty());
    assert!(serde_json::from_str::<SelectorOverrides>(r#"{"bdy":"x"}"#).is_err());
}

#[test]
fn bytes_are_decoded_by_header_meta_or_guess() {
    // windows-1250 "Čačak" declared in the header.
    let page = b"<html><body><p>\xC8a\xE8ak je grad u centralnoj Srbiji, poznat po sabor trubaca i dugoj istoriji.</p></body></html>";
    let a = extract_bytes(
        page,
        Some("text/html; charset=windows-1250"),
        None,
        &ExtractOptions::default(),
    )
    .expect("extract");
    assert!(a.text.starts_with("Čačak je grad"), "{}", a.text);

    // No header, meta charset.
    let mut page = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1250\"></head><body><p>".to_vec();
    page.extend_from_slice(b"\x8Ata se de\x9Aava u gradu ove nedelje, pitaju se gra\x90ani koji \xE8itaju vesti.</p></body></html>");
    let a = extract_bytes(&page, None, None, &ExtractOptions::default()).expect("extract");
    assert!(a.text.starts_with("Šta se dešava"), "{}", a.text);

    // No declaration at all: chardetng guesses a Central European encoding.
    let text = "Šta se dešava u gradu ove nedelje? Građani čitaju vesti o izbeglicama i migrantima, žele da znaju šta će biti sa porodicama koje čekaju na granici. Čuvari granice kažu da je situacija mirna.";
    let (bytes, _, _) = encoding_rs::WINDOWS_1250.encode(text);
    let mut page = b"<html><body><p>".to_vec();
    page.extend_from_slice(&bytes);
    page.extend_from_slice(b"</p></body></html>");
    let a = extract_bytes(&page, None, None, &ExtractOptions::default()).expect("extract");
    assert!(
        a.text.contains("dešava") && a.text.contains("Građani"),
        "{}",
        a.text
    );
}
