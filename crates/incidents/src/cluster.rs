//! Grouping stories into incidents: time window + shared names and places +
//! text similarity, with analysts' must-link and cannot-link constraints.
//!
//! Each story becomes a sparse vector of its title and lead: words in the
//! `mw` normal form (lower case, Cyrillic in Latin, no diacritics) cut to
//! their first [`KEY_CHARS`] characters, a crude but language-free match of
//! inflected forms across the region's languages (`Zvornika`/`Зворника`/
//! `Zvornik` share `zvorni`), numbers of two digits or more (`30
//! migranata`, `30 migrants`), each weighted by its inverse document
//! frequency in the stories at hand; capitalised words inside a sentence
//! (names, places) count [`NAME_BOOST`] times. Two stories link when they
//! are at most `window` apart and their cosine is at least `threshold`.
//!
//! Links are merged average-link: two groups join only if their stories
//! are similar on average, so one story that mentions two events cannot
//! chain them together. Near-duplicate copies (the index's clusters) and
//! analysts' merges join first; analysts' splits keep stories apart whatever
//! the scores say.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

/// Characters of a word kept as its key.
pub const KEY_CHARS: usize = 6;
/// Weight multiplier of a capitalised word (a name or a place).
pub const NAME_BOOST: f32 = 2.0;
/// Words shorter than this are left out (function words).
const MIN_WORD_CHARS: usize = 4;

/// One story to group.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Document id.
    pub id: String,
    /// Near-duplicate cluster (copies of one text join at once).
    pub cluster: String,
    /// When it was published.
    pub time: DateTime<Utc>,
    /// Headline.
    pub title: String,
    /// Lead (the start of the text).
    pub lead: String,
}

/// How stories are grouped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Largest time between two linked stories.
    pub window: Duration,
    /// Smallest cosine of a link, and of the average between two groups.
    pub threshold: f32,
}

/// The parameters chosen on the development split of the project's
/// incident set (`testdata/incidents.jsonl`; see the tests).
pub const DEFAULT_PARAMS: Params = Params {
    window: Duration::hours(72),
    threshold: 0.09,
};

/// An analyst's decision about two stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// Same incident.
    Together,
    /// Different incidents.
    Apart,
}

fn key(word: &str) -> String {
    word.chars().take(KEY_CHARS).collect()
}

/// The words of a text in the `mw` normal form, with whether each was
/// capitalised inside a sentence (a name or a place). One pass of the
/// index's analyzer; the raw text at each word's offset says whether it was
/// capitalised and whether a sentence ended before it.
fn words(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for (w, at) in mediawatch_index::analyzer::analyze_with_offsets(text) {
        let numeric = w.chars().all(|c| c.is_ascii_digit());
        if !((numeric && w.len() >= 2) || (!numeric && w.chars().count() >= MIN_WORD_CHARS)) {
            continue;
        }
        let capital = text
            .get(at..)
            .and_then(|r| r.chars().next())
            .is_some_and(char::is_uppercase);
        let before = text.get(..at).unwrap_or("").trim_end();
        let sentence_start = before.is_empty() || before.ends_with(['.', '!', '?', ':', ';']);
        out.push((key(&w), capital && !sentence_start && !numeric));
    }
    out
}

/// Sparse, normalised vectors of the stories.
fn vectors(stories: &[Story]) -> Vec<Vec<(u32, f32)>> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let raw: Vec<HashMap<u32, (f32, bool)>> = stories
        .iter()
        .map(|s| {
            let mut tf: HashMap<u32, (f32, bool)> = HashMap::new();
            // The title weighs like the lead: it names the event.
            for text in [&s.title, &s.title, &s.lead] {
                for (w, name) in words(text) {
                    let n = ids.len() as u32;
                    let id = *ids.entry(w).or_insert(n);
                    let e = tf.entry(id).or_insert((0.0, false));
                    e.0 += 1.0;
                    e.1 |= name;
                }
            }
            tf
        })
        .collect();
    let mut df: HashMap<u32, f32> = HashMap::new();
    for tf in &raw {
        for id in tf.keys() {
            *df.entry(*id).or_default() += 1.0;
        }
    }
    let n = stories.len() as f32;
    raw.into_iter()
        .map(|tf| {
            let mut v: Vec<(u32, f32)> = tf
                .into_iter()
                .map(|(id, (f, name))| {
                    let idf = ((n + 1.0) / (df[&id] + 1.0)).ln() + 1.0;
                    let w = (1.0 + f.ln()) * idf * if name { NAME_BOOST } else { 1.0 };
                    (id, w)
                })
                .collect();
            let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt().max(1e-9);
            for (_, w) in &mut v {
                *w /= norm;
            }
            v.sort_unstable_by_key(|(id, _)| *id);
            v
        })
        .collect()
}

fn cosine(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut s) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                s += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    s
}

struct Groups {
    parent: Vec<usize>,
    members: Vec<Vec<usize>>,
}

impl Groups {
    fn new(n: usize) -> Self {
        Groups {
            parent: (0..n).collect(),
            members: (0..n).map(|i| vec![i]).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) -> usize {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return a;
        }
        let (big, small) = if self.members[a].len() >= self.members[b].len() {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big;
        let moved = std::mem::take(&mut self.members[small]);
        self.members[big].extend(moved);
        big
    }
}

/// Groups `stories` into incidents: index lists, each sorted by time, the
/// groups ordered by their first story. `constraints` are analysts'
/// decisions on pairs of story ids (unknown ids are ignored).
pub fn group(
    stories: &[Story],
    params: &Params,
    constraints: &[(String, String, Constraint)],
) -> Vec<Vec<usize>> {
    let n = stories.len();
    let vecs = vectors(stories);
    let index: HashMap<&str, usize> = stories
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut apart: HashSet<(usize, usize)> = HashSet::new();
    let mut together = Vec::new();
    for (a, b, c) in constraints {
        let (Some(&i), Some(&j)) = (index.get(a.as_str()), index.get(b.as_str())) else {
            continue;
        };
        match c {
            Constraint::Apart => {
                apart.insert((i.min(j), i.max(j)));
            }
            Constraint::Together => together.push((i, j)),
        }
    }
    let mut g = Groups::new(n);
    let allowed = |g: &mut Groups, i: usize, j: usize, apart: &HashSet<(usize, usize)>| {
        let (a, b) = (g.find(i), g.find(j));
        a != b
            && !g.members[a].iter().any(|&x| {
                g.members[b]
                    .iter()
                    .any(|&y| apart.contains(&(x.min(y), x.max(y))))
            })
    };
    // Analysts' merges, then copies of one text.
    for (i, j) in together {
        if allowed(&mut g, i, j, &apart) {
            g.union(i, j);
        }
    }
    let mut by_cluster: HashMap<&str, usize> = HashMap::new();
    for (i, s) in stories.iter().enumerate() {
        if s.cluster.is_empty() {
            continue;
        }
        if let Some(&first) = by_cluster.get(s.cluster.as_str()) {
            if allowed(&mut g, first, i, &apart) {
                g.union(first, i);
            }
        } else {
            by_cluster.insert(&s.cluster, i);
        }
    }
    // Candidate links: stories in the time window sharing a word.
    let mut postings: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, v) in vecs.iter().enumerate() {
        for (id, _) in v {
            postings.entry(*id).or_default().push(i);
        }
    }
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let mut links: Vec<(f32, usize, usize)> = Vec::new();
    for list in postings.values() {
        // A word in a tenth of many stories links nothing by itself (its
        // weight is low anyway), and its pairs would cost quadratic time;
        // rarer words find those stories' links.
        if list.len() > 100 && list.len() * 10 > n {
            continue;
        }
        for (x, &i) in list.iter().enumerate() {
            for &j in &list[x + 1..] {
                let pair = (i.min(j), i.max(j));
                if !seen.insert(pair) {
                    continue;
                }
                if (stories[i].time - stories[j].time).abs() > params.window {
                    continue;
                }
                let s = cosine(&vecs[i], &vecs[j]);
                if s >= params.threshold {
                    links.push((s, pair.0, pair.1));
                }
            }
        }
    }
    links.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    for (_, i, j) in links {
        if !allowed(&mut g, i, j, &apart) {
            continue;
        }
        let (a, b) = (g.find(i), g.find(j));
        // Average link over every pair across the two groups, and every
        // pair within the time window.
        let (ma, mb) = (&g.members[a], &g.members[b]);
        let mut sum = 0.0;
        let mut in_window = true;
        for &x in ma {
            for &y in mb {
                sum += cosine(&vecs[x], &vecs[y]);
                in_window &= (stories[x].time - stories[y].time).abs() <= params.window;
            }
        }
        let avg = sum / (ma.len() * mb.len()) as f32;
        if in_window && avg >= params.threshold {
            g.union(a, b);
        }
    }
    let mut out: BTreeMap<(DateTime<Utc>, usize), Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        if g.find(i) == i {
            let mut m = g.members[i].clone();
            m.sort_by_key(|&x| (stories[x].time, x));
            out.insert((stories[m[0]].time, m[0]), m);
        }
    }
    out.into_values().collect()
}

/// Pairwise precision, recall and F1 of `groups` against gold labels
/// (`None`: a story of its own).
pub fn pair_scores(groups: &[Vec<usize>], gold: &[Option<String>]) -> (f64, f64, f64) {
    let mut of = vec![0usize; gold.len()];
    for (k, g) in groups.iter().enumerate() {
        for &i in g {
            of[i] = k;
        }
    }
    let (mut tp, mut fp, mut fneg) = (0u64, 0u64, 0u64);
    for i in 0..gold.len() {
        for j in i + 1..gold.len() {
            let same_gold = matches!((&gold[i], &gold[j]), (Some(a), Some(b)) if a == b);
            let same_pred = of[i] == of[j];
            match (same_gold, same_pred) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fneg += 1,
                _ => {}
            }
        }
    }
    let p = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let r = if tp + fneg == 0 {
        1.0
    } else {
        tp as f64 / (tp + fneg) as f64
    };
    let f = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    (p, r, f)
}
