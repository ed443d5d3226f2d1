//! Language codes and a cheap language guesser for the covered languages.
//!
//! The guesser only has to choose among the languages the lexicons cover, so
//! it uses script (Greek, Cyrillic letters particular to Serbian, Macedonian
//! or Bulgarian), letters particular to one Latin orthography (`ł`, `ő`, `ř`,
//! `ë`...) and a few dozen stopwords per language, over the first few
//! thousand characters. It returns `None` when nothing points anywhere.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Lexicon slots, in the order of `LEXICONS` in `lib.rs`.
pub(crate) const LEXICON_CODES: [&str; 13] = [
    "en", "sr", "mk", "sq", "sl", "pl", "hu", "cs", "sk", "bg", "el", "de", "it",
];

/// Lexicon slot for a language code such as `hr`, `sr-Latn`, `SR_rs`,
/// `deu` or `cnr` (Montenegrin shares the BCMS lexicon).
pub(crate) fn lexicon_slot(code: &str) -> Option<usize> {
    let base = code
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let canonical = match base.as_str() {
        "en" | "eng" => "en",
        "sr" | "hr" | "bs" | "me" | "cnr" | "sh" | "srp" | "hrv" | "bos" | "hbs" => "sr",
        "mk" | "mkd" | "mac" => "mk",
        "sq" | "sqi" | "alb" => "sq",
        "sl" | "slv" => "sl",
        "pl" | "pol" => "pl",
        "hu" | "hun" => "hu",
        "cs" | "ces" | "cze" => "cs",
        "sk" | "slk" | "slo" => "sk",
        "bg" | "bul" => "bg",
        "el" | "ell" | "gre" => "el",
        "de" | "deu" | "ger" => "de",
        "it" | "ita" => "it",
        _ => return None,
    };
    LEXICON_CODES.iter().position(|c| *c == canonical)
}

/// Languages the guesser can return, with their stopwords (lowercase, as
/// written). Index = bit in the stopword table.
const GUESS: [(&str, &[&str]); 15] = [
    (
        "en",
        &[
            "the", "and", "of", "to", "is", "are", "in", "that", "with", "for", "was", "were",
            "have", "has", "this", "they", "from", "it", "on", "not", "be", "by", "said",
        ],
    ),
    (
        "sr",
        &[
            "je", "i", "u", "na", "da", "se", "su", "od", "za", "koji", "koja", "nije", "što",
            "sto", "kao", "ili", "biti", "bio", "bila", "će", "ce", "sa", "iz", "ali", "jer", "ne",
            "to", "kako", "samo", "još", "jos", "gde", "ovaj", "reke", "rekao", "hiljada", "је",
            "су", "у", "на", "да", "се", "за", "од", "не", "и", "то", "који", "која", "није", "из",
            "али", "само", "јер", "као", "или", "ће",
        ],
    ),
    (
        "hr",
        &[
            "je", "i", "u", "na", "da", "se", "su", "od", "za", "koji", "koja", "nije", "što",
            "kao", "ili", "biti", "bio", "bila", "će", "iz", "ali", "jer", "ne", "to", "kako",
            "samo", "još", "gdje", "tko", "tisuća", "rekao", "ovaj", "vrijeme",
        ],
    ),
    (
        "bs",
        &[
            "je", "i", "u", "na", "da", "se", "su", "od", "za", "koji", "koja", "nije", "šta",
            "sta", "kao", "ili", "biti", "bio", "bila", "će", "iz", "ali", "jer", "ne", "to",
            "kako", "samo", "još", "gdje", "hiljada", "rekao", "ovaj",
        ],
    ),
    (
        "sl",
        &[
            "je", "in", "v", "na", "da", "se", "so", "za", "ki", "tudi", "pa", "ni", "bo", "ali",
            "po", "iz", "kot", "še", "ter", "bi", "smo", "sem", "lahko",
        ],
    ),
    (
        "pl",
        &[
            "i", "w", "na", "się", "nie", "z", "że", "do", "jest", "to", "są", "dla", "oraz",
            "jak", "od", "po", "przez", "ale", "tak", "już", "być", "który", "która", "ich",
        ],
    ),
    (
        "hu",
        &[
            "a", "az", "és", "hogy", "nem", "is", "egy", "van", "meg", "már", "volt", "csak",
            "mint", "de", "ez", "azt", "el", "még", "kell", "szerint", "vagy",
        ],
    ),
    (
        "cs",
        &[
            "a", "je", "se", "v", "na", "že", "to", "s", "z", "do", "jsou", "není", "také", "ale",
            "by", "jako", "pro", "od", "jsem", "který", "která", "byl", "byla", "tak", "podle",
        ],
    ),
    (
        "sk",
        &[
            "a", "je", "sa", "v", "na", "že", "to", "s", "z", "do", "sú", "nie", "aj", "ako",
            "pre", "od", "ktorý", "ktorá", "bol", "bola", "tak", "podľa", "však", "alebo",
        ],
    ),
    (
        "sq",
        &[
            "të", "te", "e", "në", "ne", "dhe", "për", "per", "një", "nje", "është", "eshte", "me",
            "që", "qe", "nga", "janë", "jane", "u", "nuk", "si", "ka", "do", "por",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "und", "ist", "nicht", "mit", "den", "sind", "ein", "eine", "von",
            "zu", "im", "auf", "für", "sich", "dem", "auch", "es", "werden", "wird", "sie",
        ],
    ),
    (
        "it",
        &[
            "il", "la", "di", "che", "e", "è", "per", "non", "un", "una", "sono", "del", "della",
            "gli", "le", "nel", "con", "si", "da", "anche", "alla", "ha", "come", "più",
        ],
    ),
    (
        "mk",
        &[
            "и", "на", "во", "се", "од", "што", "не", "е", "да", "за", "со", "ќе", "тоа", "кои",
            "која", "но", "биле", "беше", "тие", "ги", "дека", "сега", "го", "ја", "ова", "овој",
            "кога", "вели",
        ],
    ),
    (
        "bg",
        &[
            "и",
            "на",
            "в",
            "се",
            "от",
            "че",
            "не",
            "е",
            "да",
            "за",
            "с",
            "ще",
            "това",
            "които",
            "която",
            "но",
            "са",
            "бяха",
            "те",
            "по",
            "към",
        ],
    ),
    (
        "el",
        &[
            "και",
            "το",
            "η",
            "ο",
            "να",
            "του",
            "της",
            "σε",
            "με",
            "για",
            "δεν",
            "που",
            "τα",
            "οι",
            "των",
            "είναι",
            "από",
            "στο",
            "στην",
        ],
    ),
];

/// Stopword -> bit set of the languages (indices into `GUESS`) using it.
fn stopword_table() -> &'static HashMap<&'static str, u16> {
    static TABLE: OnceLock<HashMap<&'static str, u16>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: HashMap<&'static str, u16> = HashMap::new();
        for (i, (_, stops)) in GUESS.iter().enumerate() {
            for w in *stops {
                *t.entry(w).or_default() |= 1 << i;
            }
        }
        t
    })
}

/// Letters that point to one language (weighted like three stopwords).
fn letter_votes(c: char, votes: &mut [u32; 15]) {
    let idx: &[usize] = match c {
        'ł' | 'ą' | 'ę' | 'ś' | 'ź' | 'ż' | 'ń' => &[5],
        'ő' | 'ű' => &[6],
        'ř' | 'ů' | 'ě' => &[7],
        'ľ' | 'ĺ' | 'ŕ' | 'ô' | 'ä' => &[8, 10],
        'ë' | 'ç' => &[9],
        'ß' => &[10],
        'à' | 'è' | 'ì' | 'ò' | 'ù' => &[11],
        'ć' | 'đ' => &[1, 2, 3],
        'ѓ' | 'ќ' | 'ѕ' => &[12],
        'ђ' | 'ћ' => &[1],
        'ј' | 'љ' | 'њ' | 'џ' => &[1, 12],
        'щ' | 'ъ' | 'ю' | 'я' | 'й' | 'ь' => &[13],
        _ => return,
    };
    for &i in idx {
        votes[i] += 3;
    }
}

/// Guess the language of `text` among the covered ones (ISO 639-1 codes:
/// en, sr, hr, bs, mk, sq, sl, pl, hu, cs, sk, bg, el, de, it). Serbian,
/// Croatian, Bosnian and Montenegrin share one lexicon; the guess among them
/// is only a hint (Cyrillic or ekavian `sr`, ijekavian `hr` unless Bosnian
/// markers win). Returns `None` when there is no evidence for any language.
pub fn guess_language(text: &str) -> Option<&'static str> {
    // The beginning of the text is enough, and bounds the cost.
    let mut end = text.len().min(1500);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &text[..end];
    let mut votes = [0u32; 15];
    let (mut greek, mut cyrillic, mut latin) = (0u32, 0u32, 0u32);
    let mut word = String::new();
    let table = stopword_table();
    let flush = |word: &mut String, votes: &mut [u32; 15]| {
        if !word.is_empty() {
            if let Some(&mask) = table.get(word.as_str()) {
                for (i, v) in votes.iter_mut().enumerate() {
                    if mask & (1 << i) != 0 {
                        *v += 1;
                    }
                }
            }
            word.clear();
        }
    };
    for c in sample.chars() {
        if c.is_alphabetic() {
            match c {
                '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' => greek += 1,
                '\u{0400}'..='\u{04FF}' => cyrillic += 1,
                _ if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) => {
                    latin += 1
                }
                _ => {}
            }
            for l in c.to_lowercase() {
                letter_votes(l, &mut votes);
                word.push(l);
            }
        } else {
            flush(&mut word, &mut votes);
        }
    }
    flush(&mut word, &mut votes);
    if greek > cyrillic && greek > latin {
        return Some("el");
    }
    let candidates: &[usize] = if cyrillic > latin {
        &[1, 12, 13]
    } else {
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    };
    let best = candidates
        .iter()
        .copied()
        .max_by_key(|&i| (votes[i], std::cmp::Reverse(i)))?;
    if votes[best] == 0 {
        // Cyrillic without Macedonian or Bulgarian markers reads as Serbian.
        return (cyrillic > latin && cyrillic > 0).then_some("sr");
    }
    if cyrillic > latin {
        return Some(GUESS[best].0);
    }
    // BCMS Latin: pick among sr/hr/bs by their own markers and ijekavian.
    if matches!(best, 1..=3) {
        return Some(bcms_variant(sample));
    }
    Some(GUESS[best].0)
}

fn bcms_variant(sample: &str) -> &'static str {
    let lower = sample.to_lowercase();
    let count = |needles: &[&str]| {
        needles
            .iter()
            .map(|n| lower.matches(n).count())
            .sum::<usize>()
    };
    let ijekavian = count(&["ije", "dje", "bje", "mje", "vje", "lje", "tje"]);
    let ekavian = count(&[
        " reke", "vreme", " mesto", " deca", "beže", "izbegl", " pre ", "lepo", "mleko", " gde ",
    ]);
    if ekavian > ijekavian {
        return "sr";
    }
    let bs = count(&[
        "šta", "hiljad", "historij", "sedmic", " bih", "sarajev", "bošnja",
    ]);
    let hr = count(&[
        "tko", "tisuć", "povijest", "tjedan", "hrvatsk", "zagreb", "kolovoz",
    ]);
    if bs > hr {
        "bs"
    } else {
        "hr"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_each_language() {
        let cases = [
            (
                "en",
                "The refugees said that they were waiting at the border for days.",
            ),
            (
                "sr",
                "Izbeglice su rekle da su danima čekale na granici, a vreme je bilo loše.",
            ),
            (
                "hr",
                "Izbjeglice su rekle da su danima čekale na granici, tko zna koliko vremena.",
            ),
            ("sr", "Избеглице су рекле да су данима чекале на граници."),
            (
                "mk",
                "Бегалците рекоа дека со денови чекале на границата и што ќе биде.",
            ),
            (
                "bg",
                "Бежанците казаха, че са чакали на границата с дни и това е всичко.",
            ),
            (
                "sq",
                "Refugjatët thanë se kanë pritur në kufi për disa ditë dhe nuk kanë ngrënë.",
            ),
            (
                "sl",
                "Begunci so povedali, da so na meji čakali več dni in da je bilo hladno.",
            ),
            (
                "pl",
                "Uchodźcy powiedzieli, że czekali na granicy przez kilka dni i nie jedli.",
            ),
            (
                "hu",
                "A menekültek azt mondták, hogy napokig vártak a határon, és nem ettek.",
            ),
            (
                "cs",
                "Uprchlíci řekli, že na hranici čekali několik dní a že nejedli.",
            ),
            (
                "sk",
                "Utečenci povedali, že na hranici čakali niekoľko dní a nejedli sa.",
            ),
            (
                "el",
                "Οι πρόσφυγες είπαν ότι περίμεναν στα σύνορα για μέρες.",
            ),
            (
                "de",
                "Die Flüchtlinge sagten, dass sie tagelang an der Grenze gewartet haben.",
            ),
            (
                "it",
                "I rifugiati hanno detto che hanno aspettato al confine per giorni e non.",
            ),
        ];
        for (want, text) in cases {
            assert_eq!(guess_language(text), Some(want), "{text}");
        }
    }

    #[test]
    fn nothing_to_guess_from() {
        assert_eq!(guess_language(""), None);
        assert_eq!(guess_language("12345 !!! ???"), None);
    }

    #[test]
    fn codes_map_to_lexicons() {
        assert_eq!(lexicon_slot("hr"), lexicon_slot("sr-Latn"));
        assert_eq!(lexicon_slot("cnr"), lexicon_slot("sr"));
        assert_eq!(lexicon_slot("DE"), Some(11));
        assert_eq!(lexicon_slot("fr"), None);
    }
}
