//! Turning response bytes into UTF-8 text.
//!
//! Regional outlets still serve windows-1250/1251, ISO-8859-2 and KOI8 pages,
//! and their servers often label them wrongly (Apache's and nginx's default
//! `charset=ISO-8859-1`, or a blanket `charset=UTF-8`). The rule, in order:
//!
//! 1. **BOM** (UTF-8, UTF-16LE/BE) always wins: it is part of the bytes and
//!    cannot be wrong by accident, so a contradicting header loses.
//! 2. **HTTP `Content-Type` charset**, with two exceptions that catch the
//!    common misconfigurations:
//!    * a UTF-8 label is only believed when the body *is* valid UTF-8;
//!      otherwise the header is ignored and the steps below decide;
//!    * an ISO-8859-1 / US-ASCII / windows-1252 label (all one encoding per
//!      the WHATWG Encoding Standard, and the default that servers add
//!      without knowing) is only a hint: a declaration inside the document
//!      (XML declaration or `<meta>`) overrides it, and without one, if the
//!      body has non-ASCII bytes, detection decides (reported as `Header` when
//!      detection agrees with windows-1252).
//! 3. **XML declaration** `encoding="..."` (only at the very start of the body).
//! 4. **`<meta charset>`** or `<meta http-equiv="Content-Type" content="...; charset=...">`
//!    in the first 2 KiB.
//!    Steps 3 and 4 apply the same UTF-8 check as step 2, and a declared
//!    UTF-16 (impossible in a byte stream that could be read as ASCII) is
//!    taken as UTF-8, as the HTML standard does.
//! 5. **Detection** with chardetng, using the URL's top-level domain as a
//!    hint (`.rs` favours Cyrillic, `.pl`/`.cz`/`.hr` Central European). A
//!    pure-ASCII body is reported as UTF-8.
//!
//! Decoding never fails: malformed sequences become U+FFFD and
//! [`DecodedText::had_errors`] is set.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

/// How many leading bytes are searched for `<meta charset>`.
const META_PRESCAN_BYTES: usize = 2048;
/// How many bytes chardetng looks at: enough for a confident guess, bounded
/// so a 10 MiB page costs no more than a 256 KiB one.
const DETECT_BYTES: usize = 256 * 1024;

/// Where the chosen encoding came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CharsetSource {
    /// A byte order mark at the start of the body.
    Bom,
    /// The `charset` parameter of the HTTP `Content-Type` header.
    Header,
    /// The `encoding` of an XML declaration.
    XmlDecl,
    /// A `<meta>` charset declaration in the first 2 KiB.
    Meta,
    /// Statistical detection (chardetng), or ASCII-only content.
    Detected,
}

impl CharsetSource {
    /// Lower-case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CharsetSource::Bom => "bom",
            CharsetSource::Header => "header",
            CharsetSource::XmlDecl => "xml_decl",
            CharsetSource::Meta => "meta",
            CharsetSource::Detected => "detected",
        }
    }
}

/// A body decoded to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText {
    /// The text, without BOM.
    pub text: String,
    /// WHATWG name of the encoding used (e.g. `"windows-1251"`).
    pub encoding: &'static str,
    /// How the encoding was chosen.
    pub source: CharsetSource,
    /// True when malformed byte sequences were replaced with U+FFFD.
    pub had_errors: bool,
}

/// Decode `body` to UTF-8 following the rule in the module documentation.
///
/// `content_type` is the raw `Content-Type` header value; `url_host` is the
/// host of the URL the body came from (only its last label is used, as a
/// detection hint).
pub fn decode_body(body: &[u8], content_type: Option<&str>, url_host: Option<&str>) -> DecodedText {
    // 1. BOM
    if let Some((enc, bom_len)) = Encoding::for_bom(body) {
        return decode_with(
            enc,
            body.get(bom_len..).unwrap_or_default(),
            CharsetSource::Bom,
        );
    }

    let declared = || document_declaration(body);

    // 2. HTTP header
    if let Some(enc) = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
    {
        if enc == UTF_8 {
            if std::str::from_utf8(body).is_ok() {
                return decode_with(UTF_8, body, CharsetSource::Header);
            }
            // Invalid UTF-8 under a UTF-8 label: the label is wrong; fall through.
        } else if enc == WINDOWS_1252 {
            if let Some((denc, src)) = declared() {
                if let Some(t) = try_declared(body, denc, src) {
                    return t;
                }
            } else if body.is_ascii() {
                return decode_with(enc, body, CharsetSource::Header);
            } else {
                let guess = detect(body, url_host);
                let src = if guess == WINDOWS_1252 {
                    CharsetSource::Header
                } else {
                    CharsetSource::Detected
                };
                return decode_with(guess, body, src);
            }
        } else {
            return decode_with(enc, body, CharsetSource::Header);
        }
    }

    // 3./4. Document declaration
    if let Some((enc, src)) = declared() {
        if let Some(t) = try_declared(body, enc, src) {
            return t;
        }
    }

    // 5. Detection
    if body.is_ascii() {
        return decode_with(UTF_8, body, CharsetSource::Detected);
    }
    decode_with(detect(body, url_host), body, CharsetSource::Detected)
}

/// Use a declared encoding unless it claims UTF-8 for bytes that are not UTF-8.
fn try_declared(body: &[u8], enc: &'static Encoding, src: CharsetSource) -> Option<DecodedText> {
    if enc == UTF_8 && std::str::from_utf8(body).is_err() {
        return None;
    }
    Some(decode_with(enc, body, src))
}

fn decode_with(enc: &'static Encoding, bytes: &[u8], source: CharsetSource) -> DecodedText {
    let (text, had_errors) = enc.decode_without_bom_handling(bytes);
    DecodedText {
        text: text.into_owned(),
        encoding: enc.name(),
        source,
        had_errors,
    }
}

fn detect(body: &[u8], url_host: Option<&str>) -> &'static Encoding {
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    let sample = body.get(..DETECT_BYTES).unwrap_or(body);
    det.feed(sample, sample.len() == body.len());
    let tld = url_host.and_then(tld_hint);
    det.guess(
        tld.as_deref().map(str::as_bytes),
        chardetng::Utf8Detection::Allow,
    )
}

/// Last DNS label of a host, lower-cased, in the form chardetng accepts
/// (ASCII, no dots); `None` for IP addresses and odd input, because chardetng
/// panics on labels containing dots, upper case or non-ASCII.
fn tld_hint(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return None;
    }
    let label = host.rsplit('.').next()?.to_ascii_lowercase();
    if label.is_empty()
        || !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    Some(label)
}

/// Encoding declared inside the document: XML declaration first, then meta.
/// Labels that cannot describe an ASCII-compatible byte stream (UTF-16) map
/// to UTF-8, as the HTML standard prescribes.
fn document_declaration(body: &[u8]) -> Option<(&'static Encoding, CharsetSource)> {
    let fix = |enc: &'static Encoding| {
        if enc == UTF_16LE || enc == UTF_16BE {
            UTF_8
        } else {
            enc.output_encoding()
        }
    };
    if let Some(enc) = xml_declaration(body) {
        return Some((fix(enc), CharsetSource::XmlDecl));
    }
    meta_charset(body).map(|enc| (fix(enc), CharsetSource::Meta))
}

/// Charset parameter of a Content-Type value, unquoted.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("charset") {
            let v = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
            (!v.is_empty()).then_some(v)
        } else {
            None
        }
    })
}

/// `encoding` from `<?xml version="1.0" encoding="..."?>` at byte 0.
fn xml_declaration(body: &[u8]) -> Option<&'static Encoding> {
    if !body.starts_with(b"<?xml") {
        return None;
    }
    let head = body.get(..1024).unwrap_or(body);
    let end = find(head, b"?>")?;
    let decl = &head[..end];
    let pos = find(decl, b"encoding")?;
    let rest = &decl[pos + b"encoding".len()..];
    let rest = trim_start(rest);
    let rest = trim_start(rest.strip_prefix(b"=")?);
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &rest[1..];
    let close = value.iter().position(|&b| b == quote)?;
    Encoding::for_label(&value[..close])
}

/// A charset from `<meta charset=...>` or `<meta http-equiv ... content="...charset=...">`
/// in the first [`META_PRESCAN_BYTES`] bytes.
fn meta_charset(body: &[u8]) -> Option<&'static Encoding> {
    let head = body
        .get(..META_PRESCAN_BYTES)
        .unwrap_or(body)
        .to_ascii_lowercase();
    let mut from = 0;
    while let Some(rel) = find(&head[from..], b"<meta") {
        let start = from + rel + b"<meta".len();
        let end = head[start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(head.len(), |p| start + p);
        let tag = &head[start..end];
        if let Some(enc) = charset_in_tag(tag) {
            return Some(enc);
        }
        from = end;
    }
    None
}

/// Find `charset` followed by `=` and a (possibly quoted) label inside a tag.
fn charset_in_tag(tag: &[u8]) -> Option<&'static Encoding> {
    let mut from = 0;
    while let Some(rel) = find(&tag[from..], b"charset") {
        let after = from + rel + b"charset".len();
        let rest = trim_start(&tag[after..]);
        if let Some(rest) = rest.strip_prefix(b"=") {
            let rest = trim_start(rest);
            let rest = rest
                .strip_prefix(b"\"")
                .or_else(|| rest.strip_prefix(b"'"))
                .unwrap_or(rest);
            let len = rest
                .iter()
                .position(|&b| {
                    matches!(
                        b,
                        b'"' | b'\'' | b';' | b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>'
                    )
                })
                .unwrap_or(rest.len());
            if let Some(enc) = Encoding::for_label(&rest[..len]) {
                return Some(enc);
            }
        }
        from = after;
    }
    None
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{ISO_8859_2, KOI8_R, KOI8_U, WINDOWS_1250, WINDOWS_1251};

    const SR_CYR: &str =
        "Мигранти у Београду: држава тражи решење, грађани помажу породицама из Сирије. \
        Људи су дошли са децом, многи од њих желе да наставе пут ка Немачкој.";
    const HR: &str =
        "Migranti u Hrvatskoj: građani pomažu, država traži rješenje. Život na granici \
        je težak, djeca čekaju u hladnoći, a udruge dijele hranu i odjeću.";
    const PL: &str =
        "Uchodźcy na granicy: rząd szuka rozwiązań, mieszkańcy pomagają. Źle się dzieje, \
        gdy ludzie śpią w lesie; żołnierze i wolontariusze próbują zdążyć z pomocą.";
    const CS: &str =
        "Uprchlíci v České republice: stát hledá řešení, občané pomáhají rodinám. Děti \
        čekají na hranicích, dobrovolníci rozdávají jídlo a oblečení.";
    const RU: &str = "Беженцы на границе: правительство ищет решение, жители помогают семьям. \
        Люди пришли с детьми, многие хотят продолжить путь дальше.";
    const UK: &str = "Біженці на кордоні: уряд шукає рішення, мешканці допомагають сім'ям. \
        Люди прийшли з дітьми, багато хто хоче їхати далі, ґанок, їжа, єдність.";

    fn enc(e: &'static Encoding, s: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = e.encode(s);
        assert!(
            !unmappable,
            "test text must be representable in {}",
            e.name()
        );
        bytes.into_owned()
    }

    fn html(charset_meta: Option<&str>, body_text: &str) -> String {
        let meta = charset_meta.map_or(String::new(), |c| format!("<meta charset=\"{c}\">"));
        format!("<!DOCTYPE html><html><head>{meta}<title>t</title></head><body><p>{body_text}</p></body></html>")
    }

    #[test]
    fn header_charset_for_each_regional_encoding() {
        for (e, text, label) in [
            (WINDOWS_1251, SR_CYR, "windows-1251"),
            (WINDOWS_1250, HR, "windows-1250"),
            (ISO_8859_2, PL, "iso-8859-2"),
            (WINDOWS_1250, CS, "cp1250"),
            (KOI8_R, RU, "koi8-r"),
            (KOI8_U, UK, "koi8-u"),
        ] {
            let bytes = enc(e, &html(None, text));
            let ct = format!("text/html; charset={label}");
            let d = decode_body(&bytes, Some(&ct), None);
            assert_eq!(d.source, CharsetSource::Header, "{label}");
            assert_eq!(d.encoding, e.name());
            assert!(d.text.contains(text), "{label}: {}", d.text);
            assert!(!d.had_errors);
        }
    }

    #[test]
    fn meta_charset_for_each_regional_encoding() {
        for (e, text) in [
            (WINDOWS_1251, SR_CYR),
            (WINDOWS_1250, HR),
            (ISO_8859_2, PL),
            (KOI8_R, RU),
            (KOI8_U, UK),
        ] {
            let bytes = enc(e, &html(Some(e.name()), text));
            let d = decode_body(&bytes, Some("text/html"), None);
            assert_eq!(d.source, CharsetSource::Meta, "{}", e.name());
            assert_eq!(d.encoding, e.name());
            assert!(d.text.contains(text));
        }
    }

    #[test]
    fn http_equiv_meta() {
        let page = format!(
            "<html><head><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=windows-1250\"></head><body>{HR}</body></html>"
        );
        let d = decode_body(&enc(WINDOWS_1250, &page), None, None);
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1250", CharsetSource::Meta)
        );
        assert!(d.text.contains(HR));
    }

    #[test]
    fn xml_declaration_encoding() {
        let feed = format!(
            "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss><channel><title>{SR_CYR}</title></channel></rss>"
        );
        let d = decode_body(&enc(WINDOWS_1251, &feed), Some("application/rss+xml"), None);
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1251", CharsetSource::XmlDecl)
        );
        assert!(d.text.contains(SR_CYR));
    }

    #[test]
    fn detection_with_tld_hint() {
        // No label anywhere: chardetng decides, helped by the country TLD.
        for (e, text, host) in [
            (WINDOWS_1251, SR_CYR, "www.example.rs"),
            (WINDOWS_1250, HR, "portal.example.hr"),
            (WINDOWS_1250, CS, "zpravy.example.cz"),
            (KOI8_U, UK, "news.example.ua"),
        ] {
            let bytes = enc(e, &html(None, text));
            let d = decode_body(&bytes, None, Some(host));
            assert_eq!(d.source, CharsetSource::Detected);
            assert!(
                d.text.contains(text),
                "{host}: detected {} -> {}",
                d.encoding,
                d.text
            );
        }
    }

    #[test]
    fn bom_beats_wrong_header() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(html(None, SR_CYR).as_bytes());
        let d = decode_body(&bytes, Some("text/html; charset=windows-1251"), None);
        assert_eq!((d.encoding, d.source), ("UTF-8", CharsetSource::Bom));
        assert!(d.text.starts_with("<!DOCTYPE"));
        assert!(d.text.contains(SR_CYR));

        let mut le = vec![0xFF, 0xFE];
        for u in SR_CYR.encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        let d = decode_body(&le, Some("text/html; charset=iso-8859-1"), None);
        assert_eq!(
            (d.encoding, d.source, d.text.as_str()),
            ("UTF-16LE", CharsetSource::Bom, SR_CYR)
        );
    }

    #[test]
    fn wrong_utf8_header_loses_to_meta() {
        let bytes = enc(WINDOWS_1251, &html(Some("windows-1251"), SR_CYR));
        let d = decode_body(&bytes, Some("text/html; charset=UTF-8"), Some("example.rs"));
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1251", CharsetSource::Meta)
        );
        assert!(d.text.contains(SR_CYR));
        assert!(!d.had_errors);
    }

    #[test]
    fn wrong_utf8_header_without_meta_is_detected() {
        let bytes = enc(WINDOWS_1251, &html(None, SR_CYR));
        let d = decode_body(&bytes, Some("text/html; charset=utf-8"), Some("example.rs"));
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1251", CharsetSource::Detected)
        );
        assert!(d.text.contains(SR_CYR));
    }

    #[test]
    fn latin1_header_is_only_a_hint() {
        // Server default ISO-8859-1, page declares windows-1251.
        let bytes = enc(WINDOWS_1251, &html(Some("windows-1251"), SR_CYR));
        let d = decode_body(&bytes, Some("text/html; charset=ISO-8859-1"), None);
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1251", CharsetSource::Meta)
        );
        assert!(d.text.contains(SR_CYR));
        // No declaration: detection decides.
        let bytes = enc(ISO_8859_2, &html(None, PL));
        let d = decode_body(
            &bytes,
            Some("text/html; charset=iso-8859-1"),
            Some("wiadomosci.example.pl"),
        );
        assert_eq!(d.source, CharsetSource::Detected);
        assert!(d.text.contains(PL), "{} {}", d.encoding, d.text);
        // A real Western page stays windows-1252 and is credited to the header.
        let fr = "Les réfugiés à la frontière : l'État cherche une solution, les habitants aident.";
        let bytes = enc(WINDOWS_1252, &html(None, fr));
        let d = decode_body(
            &bytes,
            Some("text/html; charset=iso-8859-1"),
            Some("example.fr"),
        );
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1252", CharsetSource::Header)
        );
        assert!(d.text.contains(fr));
    }

    #[test]
    fn specific_header_beats_meta() {
        // A non-default, non-UTF-8 header is a deliberate choice and wins over meta.
        let bytes = enc(WINDOWS_1250, &html(Some("iso-8859-2"), HR));
        let d = decode_body(&bytes, Some("text/html; charset=\"windows-1250\""), None);
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1250", CharsetSource::Header)
        );
        assert!(d.text.contains(HR));
    }

    #[test]
    fn utf8_meta_over_invalid_bytes_is_ignored() {
        let bytes = enc(WINDOWS_1250, &html(Some("utf-8"), HR));
        let d = decode_body(&bytes, None, Some("example.hr"));
        assert_eq!(d.source, CharsetSource::Detected);
        assert!(d.text.contains(HR), "{} {}", d.encoding, d.text);
    }

    #[test]
    fn plain_utf8_and_ascii() {
        let d = decode_body(html(None, SR_CYR).as_bytes(), None, None);
        assert_eq!(d.encoding, "UTF-8");
        assert!(d.text.contains(SR_CYR));
        let d = decode_body(b"hello", None, Some("127.0.0.1"));
        assert_eq!(
            (d.encoding, d.source, d.text.as_str()),
            ("UTF-8", CharsetSource::Detected, "hello")
        );
        let d = decode_body(
            b"",
            Some("text/plain; charset=bogus-label"),
            Some("EXAMPLE.RS."),
        );
        assert_eq!(d.text, "");
    }

    #[test]
    fn malformed_bytes_set_had_errors() {
        // A lone high surrogate at the end of UTF-16LE.
        let d = decode_body(b"a\x00\x00\xD8", Some("text/plain; charset=utf-16le"), None);
        assert!(d.had_errors);
    }

    #[test]
    fn helpers() {
        assert_eq!(
            charset_param("text/html; Charset=\"KOI8-R\""),
            Some("KOI8-R")
        );
        assert_eq!(charset_param("text/html"), None);
        assert_eq!(tld_hint("www.Example.RS"), Some("rs".to_string()));
        assert_eq!(tld_hint("10.0.0.1"), None);
        assert_eq!(tld_hint("[::1]"), None);
        assert_eq!(tld_hint("пример.срб"), None);
    }
}
