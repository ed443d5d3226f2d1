//! `reclassify`: every stored document relabelled with the configured
//! classifier, in committed batches, resumable.

use std::collections::HashMap;

use mediawatch_classify::{Classifier, ClassifyInput};
use mediawatch_core::{DocId, Document, SourceMeta};
use mediawatch_index::{DocExtra, Index};

use crate::Result;

/// What a reclassify run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReclassifyReport {
    /// Documents in the index.
    pub total: usize,
    /// Relabelled and committed.
    pub relabelled: usize,
    /// Already labelled by this model version.
    pub skipped_current: usize,
    /// Skipped: their source is not in the config (no metadata to re-index with).
    pub skipped_unknown_source: usize,
    /// Failed to classify (kept their old labels).
    pub failed: usize,
}

/// Relabels every document of `index` with `classifier`, committing every
/// `batch` documents, so a document keeps its old labels until its new ones
/// are committed and an interrupted run resumes where it stopped.
pub fn reclassify_index(
    index: &Index,
    sources: &[SourceMeta],
    classifier: &dyn Classifier,
    batch: usize,
    force: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ReclassifyReport> {
    let docs = index.list_documents()?;
    let metas: HashMap<&str, &SourceMeta> = sources.iter().map(|s| (s.id.as_str(), s)).collect();
    let version = classifier.model_version().to_string();
    let mut report = ReclassifyReport {
        total: docs.len(),
        ..Default::default()
    };
    let todo: Vec<&String> = docs
        .iter()
        .filter(|(_, v)| {
            let current = !force && v.as_deref() == Some(version.as_str());
            report.skipped_current += current as usize;
            !current
        })
        .map(|(id, _)| id)
        .collect();
    let writer = index.writer(64 << 20)?;
    let mut done = 0;
    // A comment is classified with its article's title and lead, as when
    // it was ingested; articles are read once per run.
    let mut contexts: HashMap<String, Option<String>> = HashMap::new();
    for chunk in todo.chunks(batch.max(1)) {
        let mut loaded: Vec<(Document, DocExtra, &SourceMeta)> = Vec::new();
        for id in chunk {
            let id = DocId::from_stored(id.as_str());
            let Some(doc) = index.get(&id)? else { continue };
            let Some(meta) = metas.get(doc.source_id.as_str()).copied() else {
                report.skipped_unknown_source += 1;
                continue;
            };
            let extra = index.get_extra(&id)?.unwrap_or_default();
            if let Some(parent) = &doc.parent_id {
                if !contexts.contains_key(parent.as_str()) {
                    let c = index.get(parent)?.map(|p| p.context_text());
                    contexts.insert(parent.as_str().to_string(), c);
                }
            }
            loaded.push((doc, extra, meta));
        }
        let inputs: Vec<ClassifyInput<'_>> = loaded
            .iter()
            .map(|(d, _, _)| ClassifyInput {
                id: d.id.as_str(),
                text: d.classified_text(),
                lang: d.lang.as_deref(),
                context: d
                    .parent_id
                    .as_ref()
                    .and_then(|p| contexts.get(p.as_str()))
                    .and_then(|c| c.as_deref()),
            })
            .collect();
        let labels = classifier.classify_batch(&inputs);
        for ((mut doc, extra, meta), l) in loaded.into_iter().zip(labels) {
            match l {
                Ok(mut l) => {
                    mediawatch_classify::attribution::annotate(
                        &mut l,
                        doc.classified_text(),
                        doc.kind,
                    );
                    doc.labels = Some(l);
                    writer.upsert_with(doc, meta, &extra)?;
                    report.relabelled += 1;
                }
                Err(e) => {
                    tracing::warn!(doc = %doc.id, "classification failed, old labels kept: {e}");
                    report.failed += 1;
                }
            }
        }
        writer.commit()?;
        done += chunk.len();
        progress(done, todo.len());
    }
    writer.close()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mediawatch_classify::{ClassifyError, LexiconClassifier};
    use mediawatch_core::labels::Labels;
    use mediawatch_testkit as testkit;

    fn meta() -> SourceMeta {
        testkit::source("src")
    }

    fn doc(i: usize, text: &str) -> Document {
        testkit::numbered(i)
            .text(text)
            .labelled_by("old-model")
            .build()
    }

    /// The lexicon classifier, failing on texts that contain "FAIL".
    struct Flaky(LexiconClassifier);

    impl Classifier for Flaky {
        fn model_version(&self) -> &str {
            self.0.model_version()
        }
        fn classify(
            &self,
            text: &str,
            lang: Option<&str>,
        ) -> std::result::Result<Labels, ClassifyError> {
            if text.contains("FAIL") {
                return Err(ClassifyError::Model {
                    model: "flaky".into(),
                    reason: "refused".into(),
                });
            }
            self.0.classify(text, lang)
        }
        fn relevance(
            &self,
            text: &str,
            lang: Option<&str>,
        ) -> std::result::Result<f32, ClassifyError> {
            self.0.relevance(text, lang)
        }
    }

    fn version_of(index: &Index, i: usize) -> String {
        let d = index.get(&doc(i, "").id).unwrap().unwrap();
        d.labels.unwrap().model_version
    }

    #[test]
    fn reclassify_relabels_commits_resumes_and_keeps_old_labels_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let index = Index::open_or_create(dir.path()).unwrap();
        let w = index.writer(32 << 20).unwrap();
        let texts = [
            "A wave of migrants is expected at the border, police said.",
            "Refugees opened a bakery in Novi Sad.",
            "FAIL this one",
            "The football club won the cup.",
            "Asylum seekers waited at the reception centre.",
        ];
        for (i, t) in texts.iter().enumerate() {
            w.upsert(doc(i, t), &meta()).unwrap();
        }
        w.commit().unwrap();
        w.close().unwrap();

        let c = Flaky(LexiconClassifier::new());
        let r = reclassify_index(&index, &[meta()], &c, 2, false, &mut |_, _| {}).unwrap();
        assert_eq!(r.total, 5);
        assert_eq!(r.relabelled, 4);
        assert_eq!(r.failed, 1);
        index.reload().unwrap();
        assert_eq!(version_of(&index, 0), LexiconClassifier::VERSION);
        // The failing document keeps its old labels.
        assert_eq!(version_of(&index, 2), "old-model");
        let d0 = index.get(&doc(0, "").id).unwrap().unwrap();
        assert!(d0.labels.unwrap().collective_labelling.score > 0.0);
        assert_eq!(d0.title, "Title 0");

        // Resuming skips what this model already labelled.
        let r = reclassify_index(&index, &[meta()], &c, 2, false, &mut |_, _| {}).unwrap();
        assert_eq!((r.skipped_current, r.relabelled, r.failed), (4, 0, 1));
        // --force relabels everything again; nothing is duplicated.
        let r = reclassify_index(
            &index,
            &[meta()],
            &LexiconClassifier::new(),
            3,
            true,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(r.relabelled, 5);
        index.reload().unwrap();
        assert_eq!(index.num_docs().unwrap(), 5);
        assert_eq!(version_of(&index, 2), LexiconClassifier::VERSION);
        // Documents of unknown sources are left alone.
        let r = reclassify_index(
            &index,
            &[],
            &LexiconClassifier::new(),
            3,
            true,
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!((r.relabelled, r.skipped_unknown_source), (0, 5));
    }
}
