//! Turning raw XML bytes into UTF-8 text before any XML parser sees them.
//!
//! Outlets in the region still publish feeds in `windows-1250/1251`,
//! `iso-8859-2` and `koi8-r`, sometimes with a declaration that feed-rs's
//! reader does not honour, sometimes with none at all. We therefore decode
//! once, here, with `encoding_rs` (plus `chardetng` when nothing is declared
//! and the bytes are not UTF-8), and hand the parsers UTF-8 whose declaration
//! says UTF-8, so that no later layer decodes a second time.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// UTF-8 text decoded from an XML document, with the encoding it came from.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The document as UTF-8, its XML declaration (if any) rewritten to UTF-8.
    pub text: String,
    /// Name of the encoding the bytes were decoded from (e.g. `windows-1251`).
    pub encoding: String,
}

/// Decodes `bytes` (any XML document) into UTF-8.
///
/// Order of evidence, as in the XML spec's appendix F: byte order mark, then
/// the byte pattern of `<?` in UTF-16/32, then the declaration's `encoding`,
/// then UTF-8 if the bytes are valid UTF-8, then a statistical guess.
/// Malformed sequences become U+FFFD instead of failing the whole feed,
/// because one bad byte should not hide a hundred good entries.
pub(crate) fn decode_xml(bytes: &[u8]) -> Decoded {
    // Byte order marks.
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return finish(String::from_utf8_lossy(rest).into_owned(), "UTF-8");
    }
    if let Some(rest) = bytes.strip_prefix(&[0x00, 0x00, 0xFE, 0xFF]) {
        return finish(decode_utf32(rest, true), "UTF-32BE");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE, 0x00, 0x00]) {
        return finish(decode_utf32(rest, false), "UTF-32LE");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return finish(decode_with(UTF_16BE, rest), "UTF-16BE");
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return finish(decode_with(UTF_16LE, rest), "UTF-16LE");
    }
    // No BOM: the first character of an XML document is '<' (or whitespace),
    // whose pattern of zero bytes gives away UTF-16/32.
    match bytes.get(..4) {
        Some([0x00, 0x00, 0x00, b]) if *b != 0 => {
            return finish(decode_utf32(bytes, true), "UTF-32BE")
        }
        Some([b, 0x00, 0x00, 0x00]) if *b != 0 => {
            return finish(decode_utf32(bytes, false), "UTF-32LE")
        }
        Some([0x00, b, 0x00, _]) if *b != 0 => {
            return finish(decode_with(UTF_16BE, bytes), "UTF-16BE")
        }
        Some([b, 0x00, _, 0x00]) if *b != 0 => {
            return finish(decode_with(UTF_16LE, bytes), "UTF-16LE")
        }
        _ => {}
    }

    let declared = declared_encoding(bytes).and_then(|label| Encoding::for_label(label.as_bytes()));
    if let Ok(text) = std::str::from_utf8(bytes) {
        // Valid UTF-8 wins over a declaration of a single-byte encoding only
        // when the text is plain ASCII (then both agree) or the declaration is
        // missing; a declared legacy encoding whose bytes happen to be valid
        // UTF-8 is almost always mislabelled UTF-8 (a CMS that changed
        // charset without updating its template).
        let name = match declared {
            Some(enc) if text.is_ascii() && enc.is_ascii_compatible() => enc.name(),
            _ => "UTF-8",
        };
        return finish(text.to_owned(), name);
    }
    let encoding = match declared {
        // A declared UTF-16 without BOM and with ASCII-looking bytes is a lie
        // we cannot use; fall through to detection.
        Some(enc) if enc.is_ascii_compatible() => enc,
        _ => {
            let mut detector =
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            detector.feed(bytes, true);
            detector.guess(None, chardetng::Utf8Detection::Allow)
        }
    };
    if encoding == UTF_8 {
        return finish(String::from_utf8_lossy(bytes).into_owned(), "UTF-8");
    }
    finish(decode_with(encoding, bytes), encoding.name())
}

fn decode_with(encoding: &'static Encoding, bytes: &[u8]) -> String {
    let (text, _had_errors) = encoding.decode_without_bom_handling(bytes);
    text.into_owned()
}

/// UTF-32 is not in the WHATWG set that encoding_rs implements; it is rare
/// enough that a direct loop is simpler than another dependency.
fn decode_utf32(bytes: &[u8], big_endian: bool) -> String {
    bytes
        .chunks(4)
        .map(|c| {
            let arr = match c {
                [a, b, c, d] => [*a, *b, *c, *d],
                _ => return char::REPLACEMENT_CHARACTER,
            };
            let v = if big_endian {
                u32::from_be_bytes(arr)
            } else {
                u32::from_le_bytes(arr)
            };
            char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect()
}

fn finish(mut text: String, encoding: &str) -> Decoded {
    if text.starts_with('\u{FEFF}') {
        text.remove(0);
    }
    let text = match rewrite_declaration(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(t) => t,
    };
    Decoded {
        text,
        encoding: encoding.to_owned(),
    }
}

/// Returns the byte range of the XML declaration (`<?xml ... ?>`) at the start
/// of `bytes`, after optional whitespace.
fn declaration_range(bytes: &[u8]) -> Option<(usize, usize)> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = bytes.get(start..)?;
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    // The declaration is short; do not scan a whole document for "?>".
    let window = &rest[..rest.len().min(512)];
    let end = window.windows(2).position(|w| w == b"?>")?;
    Some((start, start + end + 2))
}

/// The `encoding` pseudo-attribute of the XML declaration, if any.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let (start, end) = declaration_range(bytes)?;
    let decl = std::str::from_utf8(&bytes[start..end]).ok()?;
    let (value_start, value_end) = encoding_value_range(decl)?;
    Some(decl[value_start..value_end].trim().to_owned())
}

/// Byte range of the value of `encoding="..."` inside a declaration.
fn encoding_value_range(decl: &str) -> Option<(usize, usize)> {
    let key = decl.find("encoding")?;
    let after = &decl[key + "encoding".len()..];
    let eq = after.find('=')?;
    if !after[..eq].trim().is_empty() {
        return None;
    }
    let value = &after[eq + 1..];
    let quote_pos = value.find(['"', '\''])?;
    if !value[..quote_pos].trim().is_empty() {
        return None;
    }
    let quote = value[quote_pos..].chars().next()?;
    let body = &value[quote_pos + 1..];
    let close = body.find(quote)?;
    let abs_start = key + "encoding".len() + eq + 1 + quote_pos + 1;
    Some((abs_start, abs_start + close))
}

/// Makes the declaration say UTF-8, since the text now is UTF-8; otherwise
/// feed-rs's reader would decode it a second time as the old encoding.
fn rewrite_declaration(text: &str) -> Cow<'_, str> {
    let Some((start, end)) = declaration_range(text.as_bytes()) else {
        return Cow::Borrowed(text);
    };
    let decl = &text[start..end];
    match encoding_value_range(decl) {
        Some((vs, ve)) if !decl[vs..ve].eq_ignore_ascii_case("utf-8") => {
            let mut out = String::with_capacity(text.len());
            out.push_str(&text[..start + vs]);
            out.push_str("UTF-8");
            out.push_str(&text[start + ve..]);
            Cow::Owned(out)
        }
        _ => Cow::Borrowed(text),
    }
}

/// 1-based line and column of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    // Column in characters, which is what an editor shows.
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1251_without_bom_is_transcoded() {
        let body = "Мигранти на граници: Београд, Ниш, Суботица";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(body);
        let mut doc = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><t>".to_vec();
        doc.extend_from_slice(&bytes);
        doc.extend_from_slice(b"</t>");
        let d = decode_xml(&doc);
        assert_eq!(d.encoding, "windows-1251");
        assert!(d.text.contains(body));
        assert!(d
            .text
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }

    #[test]
    fn utf16_with_bom() {
        let body = "<?xml version=\"1.0\" encoding=\"utf-16\"?><t>Żółć</t>";
        let mut doc = vec![0xFF, 0xFE];
        for u in body.encode_utf16() {
            doc.extend_from_slice(&u.to_le_bytes());
        }
        let d = decode_xml(&doc);
        assert_eq!(d.encoding, "UTF-16LE");
        assert!(d.text.contains("Żółć"));
        assert!(d.text.contains("encoding=\"UTF-8\""));
    }

    #[test]
    fn utf32_without_bom() {
        let body = "<t>ok</t>";
        let doc: Vec<u8> = body
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        assert_eq!(decode_xml(&doc).text, body);
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
