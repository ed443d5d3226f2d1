//! Builders for the [`Document`]s and [`SourceMeta`]s that tests need, so
//! that a test names only the fields it is about and a new field in either
//! type is added here once, not in every test. Test-only: no library crate
//! depends on this except as a dev-dependency.

pub mod corpus;
pub mod postgres;

use chrono::{DateTime, TimeZone, Utc};

/// A port free right now on loopback (bound, read, released: a tiny race
/// that tests accept).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
use mediawatch_core::labels::Labels;
use mediawatch_core::{DocId, DocKind, Document, SourceMeta, SourceScope};

/// A date at 08:00 UTC (panics on an impossible date: a bug in the test).
pub fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 8, 0, 0)
        .single()
        .expect("a valid test date")
}

/// A national source `id` in Serbia, in English, with no audience or reach.
pub fn source(id: &str) -> SourceMeta {
    SourceMeta {
        id: id.into(),
        name: format!("Source {id}"),
        country: "RS".into(),
        languages: vec!["en".into()],
        scope: SourceScope::National,
        audience: vec![],
        reach: None,
    }
}

/// Builder of a [`Document`]; start with [`doc`].
#[derive(Debug, Clone)]
pub struct DocBuilder(Document);

/// An article at `url` (its id derived from the URL) of source `src`,
/// fetched on 2026-03-10, with empty title and text and no labels.
pub fn doc(url: &str) -> DocBuilder {
    DocBuilder(Document {
        id: DocId::from_url(url),
        source_id: "src".into(),
        url: url.into(),
        title: String::new(),
        text: String::new(),
        author: None,
        published: None,
        modified: None,
        fetched: day(2026, 3, 10),
        lang: None,
        kind: DocKind::Article,
        parent_id: None,
        labels: None,
    })
}

/// Document number `i` of a test series: `https://example.org/{i}`,
/// titled `Title {i}`, published on 2026-03-(1 + i), in English.
pub fn numbered(i: usize) -> DocBuilder {
    doc(&format!("https://example.org/{i}"))
        .title(&format!("Title {i}"))
        .published(day(2026, 3, 1 + i as u32))
        .lang("en")
}

impl DocBuilder {
    /// Sets the source id.
    pub fn source(mut self, id: &str) -> Self {
        self.0.source_id = id.into();
        self
    }
    /// Sets the title.
    pub fn title(mut self, t: &str) -> Self {
        self.0.title = t.into();
        self
    }
    /// Sets the text.
    pub fn text(mut self, t: &str) -> Self {
        self.0.text = t.into();
        self
    }
    /// Sets the publication time.
    pub fn published(mut self, t: DateTime<Utc>) -> Self {
        self.0.published = Some(t);
        self
    }
    /// Sets the fetch time.
    pub fn fetched(mut self, t: DateTime<Utc>) -> Self {
        self.0.fetched = t;
        self
    }
    /// Sets the language.
    pub fn lang(mut self, l: &str) -> Self {
        self.0.lang = Some(l.into());
        self
    }
    /// Sets the kind (article, comment, post...).
    pub fn kind(mut self, k: DocKind) -> Self {
        self.0.kind = k;
        self
    }
    /// Makes it a reply to or comment on the document at `url`.
    pub fn parent(mut self, url: &str) -> Self {
        self.0.parent_id = Some(DocId::from_url(url));
        self
    }
    /// Sets the labels.
    pub fn labels(mut self, l: Labels) -> Self {
        self.0.labels = Some(l);
        self
    }
    /// Default labels stamped with `version`, as if that model had run.
    pub fn labelled_by(self, version: &str) -> Self {
        self.labels(Labels {
            model_version: version.into(),
            ..Labels::default()
        })
    }
    /// The document.
    pub fn build(self) -> Document {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_what_it_is_told() {
        let d = doc("https://example.org/1")
            .title("T")
            .text("x")
            .lang("sr")
            .published(day(2026, 3, 2))
            .parent("https://example.org/0")
            .labelled_by("m1")
            .build();
        assert_eq!(d.id, DocId::from_url("https://example.org/1"));
        assert_eq!((d.title.as_str(), d.text.as_str()), ("T", "x"));
        assert_eq!(d.lang.as_deref(), Some("sr"));
        assert_eq!(d.parent_id, Some(DocId::from_url("https://example.org/0")));
        assert_eq!(d.labels.map(|l| l.model_version), Some("m1".into()));
        assert_eq!(source("s").id, "s");
    }
}
