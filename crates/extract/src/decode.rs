//! Byte-to-text decoding for fetched pages.
//!
//! Order (as browsers do): byte-order mark, `charset` in the Content-Type header, `<meta charset>`
//! / `http-equiv` in the first 4 KiB, then a statistical guess (chardetng). Decoding is lossy:
//! invalid sequences become U+FFFD rather than failing the page.

use encoding_rs::{Encoding, UTF_8};
use regex::bytes::Regex;
use std::borrow::Cow;
use std::sync::OnceLock;

fn meta_charset_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Literal pattern; cannot fail.
        #[allow(clippy::unwrap_used)]
        Regex::new(r#"(?i)<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)"#).unwrap()
    })
}

/// Charset label from a Content-Type value such as `text/html; charset=windows-1250`.
fn charset_from_content_type(ct: &str) -> Option<&'static Encoding> {
    ct.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("charset") {
            Encoding::for_label(v.trim().trim_matches(['"', '\'']).as_bytes())
        } else {
            None
        }
    })
}

fn charset_from_meta(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = bytes.get(..bytes.len().min(4096))?;
    let caps = meta_charset_re().captures(head)?;
    let enc = Encoding::for_label(caps.get(1)?.as_bytes())?;
    // A page that is readable as ASCII cannot really be UTF-16; browsers treat it as UTF-8.
    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        Some(UTF_8)
    } else {
        Some(enc)
    }
}

/// Valid UTF-8, or UTF-8 with a few broken sequences (a truncated or spliced page): far more
/// well-formed multi-byte characters than errors. A legacy 8-bit page almost never forms valid
/// multi-byte UTF-8 sequences, so it fails this test and goes to the statistical guess.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let mut multibyte = 0usize;
    let mut errors = 0usize;
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            errors += 1;
        }
    }
    errors == 0 || multibyte >= 20 * errors
}

/// Picks the encoding for `bytes`. Returns the encoding and whether a BOM decided it.
pub(crate) fn sniff(bytes: &[u8], content_type: Option<&str>) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        return enc;
    }
    if let Some(enc) = content_type.and_then(charset_from_content_type) {
        return enc;
    }
    if let Some(enc) = charset_from_meta(bytes) {
        return enc;
    }
    if mostly_utf8(bytes) {
        return UTF_8;
    }
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    // 64 KiB is plenty for a confident guess and keeps this cheap on huge pages.
    let sample = bytes.get(..bytes.len().min(64 * 1024)).unwrap_or(bytes);
    det.feed(sample, sample.len() == bytes.len());
    det.guess(None, chardetng::Utf8Detection::Allow)
}

/// Decodes `bytes` lossily with the sniffed encoding.
pub(crate) fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let enc = sniff(bytes, content_type);
    let (text, _had_errors) = enc.decode_with_bom_removal(bytes);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_charset_wins_over_guess() {
        // "Čađ" in windows-1250.
        let bytes = b"<p>\xC8a\xF0</p>";
        let s = decode(bytes, Some("text/html; charset=windows-1250"));
        assert_eq!(s, "<p>Čađ</p>");
    }

    #[test]
    fn meta_charset_is_used() {
        let mut bytes = b"<html><head><meta charset=\"iso-8859-2\"></head><body>".to_vec();
        bytes.extend_from_slice(b"\xA9ta je to?</body></html>"); // "Šta" in ISO-8859-2
        let s = decode(&bytes, None);
        assert!(s.contains("Šta je to?"), "{s}");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let s = decode(
            b"<p>ok \xFF\xFE\xFD ok</p>",
            Some("text/html; charset=utf-8"),
        );
        assert!(s.contains('\u{FFFD}'));
        assert!(s.starts_with("<p>ok"));
    }

    #[test]
    fn mostly_utf8_page_with_a_broken_byte_stays_utf8() {
        let mut page = "<p>Čačak, Šabac, Niš, Đakovica, Žabalj, Ćuprija, čćžšđ ČĆŽŠĐ</p>"
            .repeat(3)
            .into_bytes();
        page.extend_from_slice(b"<p>broken \xFF here</p>");
        let s = decode(&page, None);
        assert!(s.starts_with("<p>Čačak, Šabac"), "{s}");
        assert!(s.contains('\u{FFFD}'));
    }

    #[test]
    fn bom_decides() {
        let s = decode(
            b"\xEF\xBB\xBFhello",
            Some("text/html; charset=windows-1252"),
        );
        assert_eq!(s, "hello");
    }
}
