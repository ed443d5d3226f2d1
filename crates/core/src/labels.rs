//! The label schema every classifier produces.
//!
//! The JSON form is part of the CLI contract (`mediawatch classify --json`,
//! search hits): `relevance.score`, `hate.{score,class}`,
//! `collective_labelling.{score,spans[{start,end,cue}]}`,
//! `frame.{threat,victim,recognition}`, `solutions.score`. Later models add
//! evidence and details through the optional fields, which are omitted from
//! JSON when empty, so the schema grows without breaking readers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// Score at or above which a label counts as present in reports and filters.
pub const DEFAULT_THRESHOLD: f32 = 0.5;

/// Names of the boolean label flags used in reports, in display order.
pub const LABEL_NAMES: [&str; 8] = [
    "relevant",
    "hate",
    "offensive",
    "collective_labelling",
    "threat",
    "victim",
    "recognition",
    "solutions",
];

/// Classifier output for one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Labels {
    /// Version of the model (or lexicon) that produced these labels.
    pub model_version: String,
    /// Is the text about migrants, refugees, asylum or migration at all.
    pub relevance: Relevance,
    /// Hate speech.
    pub hate: Hate,
    /// Migrants spoken of as one homogeneous group.
    pub collective_labelling: CollectiveLabelling,
    /// Threat / victim / recognition framing.
    pub frame: Frame,
    /// Solutions journalism.
    pub solutions: Solutions,
    /// How well the model covers the document's language.
    #[serde(default)]
    pub language_support: LanguageSupport,
    /// Who voices each hateful or collectively labelling span, and whom it
    /// targets (see `mediawatch_classify::attribution`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributions: Vec<Attribution>,
}

/// Whose voice a statement is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpeakerRole {
    /// The outlet's own voice (the journalist, the headline).
    Outlet,
    /// A person or institution the text quotes or reports.
    Quoted,
    /// A reader's comment.
    Commenter,
    /// A social post's author.
    Author,
}

impl SpeakerRole {
    /// Name as shown and queried.
    pub fn as_str(self) -> &'static str {
        match self {
            SpeakerRole::Outlet => "outlet",
            SpeakerRole::Quoted => "quoted",
            SpeakerRole::Commenter => "commenter",
            SpeakerRole::Author => "author",
        }
    }

    /// The role's bit in a set of roles (`Labels::speaker_bits`): bit `i`
    /// for [`SpeakerRole::ALL`]`[i]`.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Parses [`SpeakerRole::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        SpeakerRole::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Every role, in display order.
    pub const ALL: [SpeakerRole; 4] = [
        SpeakerRole::Outlet,
        SpeakerRole::Quoted,
        SpeakerRole::Commenter,
        SpeakerRole::Author,
    ];
}

/// One hateful or collectively labelling span: who voices it and whom it
/// targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attribution {
    /// Byte offset of the span in the classified text.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
    /// The span's cue.
    pub cue: String,
    /// Whose voice.
    pub role: SpeakerRole,
    /// The quoted speaker's name, when the text gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// The groups it targets (several at once): `migrants`, `roma`,
    /// `muslims`, `journalists`, `aid_workers`, `activists`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
}

/// Relevance to migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Relevance {
    /// 0..1.
    pub score: f32,
    /// Terms or sentences that made the text relevant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceSpan>,
}

/// Hate speech label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Hate {
    /// 0..1, probability that the text is hateful or offensive.
    pub score: f32,
    /// Decided class.
    pub class: HateClass,
    /// Targeted group when hate or offensive (e.g. `migrants_refugees`, `roma`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Sentences or cues supporting the decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceSpan>,
}

/// Hate class.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum HateClass {
    /// Attacks or dehumanises a group.
    Hate,
    /// Insulting or abusive without reaching hate.
    Offensive,
    /// Neither.
    #[default]
    None,
}

impl HateClass {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            HateClass::Hate => "hate",
            HateClass::Offensive => "offensive",
            HateClass::None => "none",
        }
    }
}

impl fmt::Display for HateClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HateClass {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hate" => Ok(HateClass::Hate),
            "offensive" => Ok(HateClass::Offensive),
            "none" => Ok(HateClass::None),
            other => Err(CoreError::InvalidValue {
                what: "hate class",
                value: other.to_string(),
                expected: "hate, offensive, none",
            }),
        }
    }
}

/// Collective labelling label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct CollectiveLabelling {
    /// 0..1.
    pub score: f32,
    /// Evidence spans (byte offsets into the classified text).
    pub spans: Vec<EvidenceSpan>,
}

/// Framing scores, each 0..1 and independent (a story can be both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Frame {
    /// Fear: crime, security, jobs, culture.
    pub threat: f32,
    /// Pity: suffering, helplessness.
    pub victim: f32,
    /// Individual people with names, voices, rights, agency, common ground.
    pub recognition: f32,
    /// Whether migrants themselves are quoted, when detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrants_quoted: Option<bool>,
    /// Whether individual migrants are named, when detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrants_named: Option<bool>,
    /// Evidence spans for the frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceSpan>,
}

/// Solutions journalism label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Solutions {
    /// 0..1.
    pub score: f32,
    /// Evidence spans (responses, results, limits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceSpan>,
}

/// A piece of evidence in the classified text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvidenceSpan {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// The cue that matched (a lexicon entry or a rule name).
    pub cue: String,
    /// What kind of cue it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cue_type: Option<CueType>,
}

/// Kinds of cue behind an evidence span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CueType {
    /// A migration term (relevance).
    MigrationTerm,
    /// Generic plural group noun with a generic predicate ("migrants are ...").
    GenericClaim,
    /// Universal quantifier over the group ("they all", "every migrant").
    Quantifier,
    /// Distancing demonstrative ("these people").
    Demonstrative,
    /// Water metaphor (wave, flood, influx).
    WaterMetaphor,
    /// Animal or vermin metaphor (hordes, swarms).
    AnimalMetaphor,
    /// Invasion or war metaphor.
    InvasionMetaphor,
    /// Disease metaphor.
    DiseaseMetaphor,
    /// Threat framing cue.
    Threat,
    /// Victim framing cue.
    Victim,
    /// Recognition framing cue.
    Recognition,
    /// Solutions journalism cue.
    Solutions,
    /// Slur or insult.
    Slur,
    /// Hateful statement.
    Hate,
    /// Negation or condemnation that cancels a cue.
    CounterSpeech,
}

/// How well the classifier covers a document's language.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LanguageSupport {
    /// Trained and evaluated on labelled data in this language.
    Trained,
    /// Covered by lexicons and rules (or a multilingual model) without
    /// labelled data in this language: lower confidence.
    #[default]
    LexiconOnly,
    /// The language is not covered; scores are not meaningful.
    Unsupported,
}

/// A named boolean view of one label, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelFlag {
    /// One of [`LABEL_NAMES`].
    pub name: &'static str,
    /// Whether the label is present at [`DEFAULT_THRESHOLD`].
    pub present: bool,
}

impl Labels {
    /// The labels as flags, in the order of [`LABEL_NAMES`].
    pub fn flags(&self) -> [LabelFlag; 8] {
        let t = DEFAULT_THRESHOLD;
        let f = |name, present| LabelFlag { name, present };
        [
            f("relevant", self.relevance.score >= t),
            f("hate", self.hate.class == HateClass::Hate),
            f("offensive", self.hate.class == HateClass::Offensive),
            f("collective_labelling", self.collective_labelling.score >= t),
            f("threat", self.frame.threat >= t),
            f("victim", self.frame.victim >= t),
            f("recognition", self.frame.recognition >= t),
            f("solutions", self.solutions.score >= t),
        ]
    }

    /// Bit set of the speaker roles that voice at least one hostile span
    /// (bit `i` = [`SpeakerRole::ALL`]`[i]`): what reports split by.
    pub fn speaker_bits(&self) -> u8 {
        self.attributions.iter().fold(0u8, |b, a| b | a.role.bit())
    }

    /// Score of a label by its query name (`relevance`, `hate`,
    /// `collective`/`collective_labelling`, `threat`, `victim`,
    /// `recognition`, `solutions`), for threshold filters such as `hate>0.7`.
    pub fn score(&self, name: &str) -> Option<f32> {
        Some(match name {
            "relevance" | "relevant" => self.relevance.score,
            "hate" => self.hate.score,
            "collective" | "collective_labelling" => self.collective_labelling.score,
            "threat" => self.frame.threat,
            "victim" => self.frame.victim,
            "recognition" => self.frame.recognition,
            "solutions" => self.solutions.score,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_cli_contract() {
        let mut l = Labels {
            model_version: "lexicon-1".into(),
            ..Default::default()
        };
        l.collective_labelling.spans.push(EvidenceSpan {
            start: 0,
            end: 5,
            cue: "wave".into(),
            cue_type: Some(CueType::WaterMetaphor),
        });
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["hate"]["class"], "none");
        assert!(v["relevance"]["score"].is_number());
        assert_eq!(v["collective_labelling"]["spans"][0]["cue"], "wave");
        assert_eq!(
            v["collective_labelling"]["spans"][0]["cue_type"],
            "water_metaphor"
        );
        assert!(v["frame"]["threat"].is_number());
        assert!(v["solutions"]["score"].is_number());
        // Optional details stay out of the JSON when absent.
        assert!(v["hate"].get("target").is_none());
        let back: Labels = serde_json::from_value(v).unwrap();
        assert_eq!(back, l);
    }

    #[test]
    fn flags_follow_threshold() {
        let mut l = Labels::default();
        l.frame.threat = 0.9;
        l.hate.class = HateClass::Offensive;
        let on: Vec<_> = l
            .flags()
            .iter()
            .filter(|f| f.present)
            .map(|f| f.name)
            .collect();
        assert_eq!(on, ["offensive", "threat"]);
        assert_eq!(l.score("collective"), Some(0.0));
        assert_eq!(l.score("nope"), None);
    }
}
