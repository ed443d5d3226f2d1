//! Content identity beyond the URL: an exact content hash and a SimHash
//! fingerprint for near-duplicate detection.
//!
//! Agencies (Tanjug, Fena, Hina, MIA, BTA, MTI ...) syndicate one story to
//! many portals. The copies differ in URL, headline, a line of boilerplate or
//! a few edited words, and in Serbia even in script: one portal prints the
//! agency's Cyrillic, another transliterates it to Latin. Reports should be
//! able to count such a story once, so every document gets:
//!
//! - [`content_hash`]: SHA-256 of the text after Unicode NFC, lower-casing and
//!   whitespace collapsing. Equal hashes mean the same text, byte for byte
//!   up to case and spacing.
//! - [`simhash64`]: Charikar's SimHash over word 3-shingles of a *folded*
//!   form of the text (lower-case, diacritics removed, Cyrillic transliterated
//!   to Latin with the same conventions as the index analyzer: `ђ`/`đ`→`dj`,
//!   `џ`/`dž`→`dz`, `ѓ`/`ǵ`→`gj`, `ќ`/`ḱ`→`kj`). Near-identical texts get
//!   fingerprints a few bits apart ([`hamming`]); a Latin and a Cyrillic copy
//!   of the same Serbian text get the *same* fingerprint.
//!
//! Clustering itself (which earlier document a new one joins) needs storage
//! and lives in `mediawatch-state`; this module only computes fingerprints,
//! so it stays pure and cheap.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::text::{fold_char, is_combining_mark};

/// Shingle width (words) for [`simhash64`].
pub const SHINGLE_WORDS: usize = 3;

/// Fewer shingles than this and a text is too short to cluster: two
/// unrelated one-line comments ("Sramota!", "Bravo") would otherwise collide.
/// Callers treat such documents as their own cluster.
pub const MIN_CLUSTER_SHINGLES: usize = 8;

/// Everything the pipeline needs to deduplicate one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// [`content_hash`] of the text.
    pub content_hash: String,
    /// [`simhash64`] of the text.
    pub simhash: u64,
    /// Number of shingles the SimHash was built from.
    pub shingles: usize,
}

impl Fingerprint {
    /// Whether the text is long enough for its SimHash to mean anything
    /// (see [`MIN_CLUSTER_SHINGLES`]).
    pub fn clusterable(&self) -> bool {
        self.shingles >= MIN_CLUSTER_SHINGLES
    }
}

/// Computes the content hash and the SimHash of `text` in one call.
pub fn fingerprint(text: &str) -> Fingerprint {
    let (simhash, shingles) = simhash_with_count(text);
    Fingerprint {
        content_hash: content_hash(text),
        simhash,
        shingles,
    }
}

/// SHA-256 (lowercase hex, 64 chars) of `text` after NFC normalisation,
/// lower-casing, and collapsing every run of whitespace into one space
/// (leading and trailing whitespace dropped).
///
/// So re-wrapped or re-indented copies hash the same, while any change of
/// wording, script or diacritics gives another hash (that is what
/// [`simhash64`] is for).
pub fn content_hash(text: &str) -> String {
    let mut h = Sha256::new();
    // Already-NFC text (all ASCII and nearly all real text) skips the
    // normalising iterator; the bytes hashed are the same either way.
    if unicode_normalization::is_nfc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes
    {
        hash_folded(text.chars(), &mut h);
    } else {
        hash_folded(text.nfc(), &mut h);
    }
    let digest = h.finalize();
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(hex_digit(b >> 4));
        s.push(hex_digit(b & 0xf));
    }
    s
}

/// Feeds the lower-cased, whitespace-collapsed `chars` to `h` through a
/// buffer: one hasher call per few kilobytes instead of one per character
/// (per-character calls were most of the cost of hashing an article).
fn hash_folded(chars: impl Iterator<Item = char>, h: &mut Sha256) {
    const FLUSH: usize = 4096;
    let mut buf = String::with_capacity(FLUSH + 8);
    let mut pending_space = false;
    let mut started = false;
    for c in chars {
        if c.is_whitespace() {
            pending_space = started;
            continue;
        }
        if pending_space {
            buf.push(' ');
            pending_space = false;
        }
        started = true;
        if c.is_ascii() {
            buf.push(c.to_ascii_lowercase());
        } else {
            buf.extend(c.to_lowercase());
        }
        if buf.len() >= FLUSH {
            h.update(buf.as_bytes());
            buf.clear();
        }
    }
    h.update(buf.as_bytes());
}

fn hex_digit(n: u8) -> char {
    char::from_digit(u32::from(n), 16).unwrap_or('0')
}

/// Hamming distance between two fingerprints (number of differing bits).
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// 64-bit SimHash of `text` over word 3-shingles of its folded form (see
/// the module docs). Texts of one or two words use a single shingle of
/// what is there; an empty text (no letters or digits) gives 0.
pub fn simhash64(text: &str) -> u64 {
    simhash_with_count(text).0
}

/// The folded words that [`simhash64`] shingles: lower-case ASCII-ish Latin,
/// Cyrillic transliterated, diacritics removed. Useful to explain why two
/// texts do or do not match.
pub fn fingerprint_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_string()));
    out
}

fn simhash_with_count(text: &str) -> (u64, usize) {
    let mut votes = BitVotes::new();
    let mut window: [u64; SHINGLE_WORDS] = [0; SHINGLE_WORDS];
    let mut words = 0usize;
    for_each_word(text, |w| {
        window.rotate_left(1);
        window[SHINGLE_WORDS - 1] = fnv1a(w.as_bytes());
        words += 1;
        if words >= SHINGLE_WORDS {
            votes.add(shingle_hash(&window));
        }
    });
    if words == 0 {
        return (0, 0);
    }
    if votes.total == 0 {
        // One or two words: a single shingle of what is there.
        votes.add(shingle_hash(&window[SHINGLE_WORDS - words..]));
    }
    let total = votes.total;
    (votes.majority(), total)
}

/// Per-bit counts of the shingle hashes that have the bit set: SimHash's
/// bit `i` is set when more than half of the shingles have it (the usual
/// +1/-1 sum being positive).
///
/// Counted eight bits at a time (SWAR): lane `k` of `lanes[j]` counts bit
/// `8k + j`, up to 255 shingles, then the lanes are added to `ones`. That
/// is 8 shift-mask-adds per shingle instead of 64 counter updates, which
/// was 3% of an ingest's CPU.
struct BitVotes {
    ones: [u64; 64],
    lanes: [u64; 8],
    in_lanes: u32,
    total: usize,
}

impl BitVotes {
    const LOW_BITS: u64 = 0x0101_0101_0101_0101;

    fn new() -> Self {
        Self {
            ones: [0; 64],
            lanes: [0; 8],
            in_lanes: 0,
            total: 0,
        }
    }

    fn add(&mut self, h: u64) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            *lane += (h >> j) & Self::LOW_BITS;
        }
        self.total += 1;
        self.in_lanes += 1;
        if self.in_lanes == 255 {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (j, lane) in self.lanes.iter_mut().enumerate() {
            for k in 0..8 {
                self.ones[8 * k + j] += (*lane >> (8 * k)) & 0xff;
            }
            *lane = 0;
        }
        self.in_lanes = 0;
    }

    fn majority(mut self) -> u64 {
        self.flush();
        let total = self.total as u64;
        self.ones.iter().enumerate().fold(
            0u64,
            |h, (i, &n)| if 2 * n > total { h | 1 << i } else { h },
        )
    }
}

/// FNV-1a: fast and stable across platforms and releases (fingerprints are
/// stored, so the hash must never change with a dependency update).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// MurmurHash3's 64-bit finaliser: every input bit affects every output bit,
/// which SimHash needs (each output bit votes independently).
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Order-sensitive hash of a run of word hashes.
fn shingle_hash(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0x9e37_79b9_7f4a_7c15, |h, &w| fmix64(h ^ w))
}

/// Calls `f` with each folded word of `text`. Words are maximal runs of
/// letters and digits; combining marks are dropped without splitting.
fn for_each_word(text: &str, f: impl FnMut(&str)) {
    // NFC first so that a decomposed `г` + acute meets the precomposed `ѓ`
    // in the table below before anything strips the accent. Text that is
    // already NFC (nearly all of it) skips the normalising iterator: the
    // characters are the same.
    if unicode_normalization::is_nfc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes
    {
        words_of(text.chars(), f);
    } else {
        words_of(text.nfc(), f);
    }
}

fn words_of(chars: impl Iterator<Item = char>, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    let mut emit = |word: &mut String| {
        if !word.is_empty() {
            f(word);
            word.clear();
        }
    };
    for c in chars {
        if is_combining_mark(c) {
            continue;
        }
        if !c.is_alphanumeric() {
            emit(&mut word);
            continue;
        }
        for l in c.to_lowercase() {
            fold_char(l, &mut word);
        }
    }
    emit(&mut word);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 273-word agency-style story (Serbian, ijekavian, Latin) and the
    /// same text in Cyrillic.
    const STORY: &str = include_str!("testdata/agency_story_sr_latn.txt");
    const STORY_CYRL: &str = include_str!("testdata/agency_story_sr_cyrl.txt");

    #[test]
    fn content_hash_equals_the_per_character_definition() {
        // The hash is stored with every document: it must not change.
        fn reference(text: &str) -> String {
            let mut h = Sha256::new();
            let mut buf = [0u8; 4];
            let mut pending_space = false;
            let mut started = false;
            for c in text.nfc() {
                if c.is_whitespace() {
                    pending_space = started;
                    continue;
                }
                if pending_space {
                    h.update(b" ");
                    pending_space = false;
                }
                started = true;
                for l in c.to_lowercase() {
                    h.update(l.encode_utf8(&mut buf).as_bytes());
                }
            }
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
        let long: String = "Migranti SU stigli u Šid. ".repeat(400);
        for t in [
            "",
            "   ",
            "Plain ASCII text.",
            "  MIGRANTI su\n\tstigli  ",
            "Мигранти су стигли у Шид",
            // Decomposed: c + combining caron, e + combining acute (not NFC).
            "Sic\u{30c}evo, cafe\u{301} İstanbul ΣΟΦΊΑ",
            "ǅ ß ẞ ﬁ",
            long.as_str(),
        ] {
            assert_eq!(content_hash(t), reference(t), "{t:?}");
        }
    }

    /// The SWAR bit counting and the NFC quick path give the fingerprint
    /// of the textbook definition: NFC, folded words, 3-shingles, the sign
    /// of the +1/-1 sum per bit (fingerprints are stored, so they must not
    /// change).
    #[test]
    fn simhash_equals_the_signed_sum_definition() {
        fn reference(text: &str) -> (u64, usize) {
            let mut words = Vec::new();
            let mut word = String::new();
            for c in text.nfc() {
                if is_combining_mark(c) {
                    continue;
                }
                if !c.is_alphanumeric() {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    continue;
                }
                for l in c.to_lowercase() {
                    fold_char(l, &mut word);
                }
            }
            if !word.is_empty() {
                words.push(word);
            }
            if words.is_empty() {
                return (0, 0);
            }
            let hashes: Vec<u64> = words.iter().map(|w| fnv1a(w.as_bytes())).collect();
            let shingles: Vec<u64> = if hashes.len() < SHINGLE_WORDS {
                vec![shingle_hash(&hashes)]
            } else {
                hashes.windows(SHINGLE_WORDS).map(shingle_hash).collect()
            };
            let mut acc = [0i64; 64];
            for h in &shingles {
                for (i, a) in acc.iter_mut().enumerate() {
                    *a += if h >> i & 1 == 1 { 1 } else { -1 };
                }
            }
            let hash = acc
                .iter()
                .enumerate()
                .fold(0u64, |h, (i, &a)| if a > 0 { h | 1 << i } else { h });
            (hash, shingles.len())
        }
        let long: String = (0..3000)
            .map(|i| format!("riječ{} Migranti SU stigli u Šid ", i % 97))
            .collect();
        for t in [
            "",
            "Sramota!",
            "dva slova",
            "Migranti su stigli u Šid jutros.",
            "Мигранти су стигли у Шид",
            "Sic\u{30c}evo, cafe\u{301} İstanbul ΣΟΦΊΑ",
            long.as_str(),
        ] {
            assert_eq!(simhash_with_count(t), reference(t), "{t:?}");
        }
    }

    #[test]
    fn content_hash_ignores_case_and_spacing_only() {
        let a = content_hash("Migranti  su\n\tstigli ");
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, content_hash("  MIGRANTI su stigli"));
        assert_ne!(a, content_hash("Migranti su stigli."));
        // A Cyrillic `і` that looks like a Latin `i` is another text.
        assert_ne!(a, content_hash("Migrantі su stigli"));
        // Precomposed and decomposed accents are one text after NFC.
        assert_eq!(
            content_hash("izbjeglički"),
            content_hash("izbjeglic\u{30c}ki")
        );
        // Known value: SHA-256 of "abc".
        assert_eq!(
            content_hash(" ABC "),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn words_fold_scripts_and_diacritics() {
        assert_eq!(
            fingerprint_words("Ђорђе, џамија и Љубљана!"),
            fingerprint_words("Đorđe, džamija i Ljubljana")
        );
        assert_eq!(fingerprint_words("Đorđe"), ["djordje"]);
        assert_eq!(fingerprint_words("Ѓорѓи ќе"), fingerprint_words("Ǵorǵi ḱe"));
        assert_eq!(fingerprint_words("Ѓорѓи ќе"), ["gjorgji", "kje"]);
        assert_eq!(fingerprint_words("g\u{301}"), ["gj"]);
        assert_eq!(
            fingerprint_words("Menekültügyi őrség łódź Straße"),
            ["menekultugyi", "orseg", "lodz", "strasse"]
        );
        assert!(fingerprint_words("— !!! \u{301}").is_empty());
    }

    #[test]
    fn near_duplicates_are_close_and_unrelated_texts_far() {
        let base = simhash64(STORY);
        // A portal's copy: one word edited and a credit line appended.
        let edited = STORY.replace("dvanaestoro", "trinaestoro") + "\n\n(Izvor: Tanjug)";
        let d = hamming(base, simhash64(&edited));
        // (The state store joins clusters at distance <= 5.)
        assert!(d <= 5, "lightly edited copy too far: {d}");
        // More edits move further away, but stay far closer than chance (32).
        let heavier = edited
            .replace("u srijedu ujutro", "u srijedu rano ujutro")
            .replace("šest godina", "sedam godina");
        let d = hamming(base, simhash64(&heavier));
        assert!(d <= 12, "edited copy too far: {d}");
        // Re-wrapped and re-cased copy: identical fingerprint.
        assert_eq!(base, simhash64(&STORY.to_uppercase().replace(' ', "\n")));
        let other = "Gradsko veće usvojilo je budžet za narednu godinu. Najviše novca \
            izdvojeno je za obnovu škola, vrtića i lokalnih puteva, a opozicija je \
            glasala protiv uz obrazloženje da su plate u javnim preduzećima previsoke.";
        let d = hamming(base, simhash64(other));
        assert!(d > 12, "unrelated text too close: {d}");
    }

    #[test]
    fn cyrillic_and_latin_copies_share_a_fingerprint() {
        assert_ne!(content_hash(STORY), content_hash(STORY_CYRL));
        assert_eq!(simhash64(STORY), simhash64(STORY_CYRL));
        assert_eq!(fingerprint_words(STORY), fingerprint_words(STORY_CYRL));
        let f = fingerprint(STORY_CYRL);
        assert_eq!(f.shingles, fingerprint_words(STORY).len() - 2);
        assert!(f.clusterable());
    }

    #[test]
    fn short_and_odd_texts() {
        assert_eq!(simhash64(""), 0);
        assert_eq!(fingerprint("...").shingles, 0);
        let one = fingerprint("Sramota!");
        assert_eq!(one.shingles, 1);
        assert!(!one.clusterable());
        assert_ne!(one.simhash, 0);
        assert_eq!(simhash64("Sramota"), simhash64("SRAMOTA!!!"));
        assert_ne!(simhash64("a b"), simhash64("b a"));
        // Huge single "word" and odd scripts do not panic.
        let _ = fingerprint(&"ж".repeat(100_000));
        let _ = fingerprint("漢字 テスト \u{0}\u{FFFF}");
    }

    #[test]
    fn hamming_counts_bits() {
        assert_eq!(hamming(0, 0), 0);
        assert_eq!(hamming(0, u64::MAX), 64);
        assert_eq!(hamming(0b1011, 0b0001), 2);
    }
}
