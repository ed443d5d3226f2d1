//! `[revisit]`: re-checking in-scope articles and their comment sections
//! at set ages after they were first stored (the moderation ledger and
//! article histories).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which articles are re-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RevisitScope {
    /// Articles the classifier finds about migration (and their comments).
    #[default]
    Relevant,
    /// Every article.
    All,
}

/// Re-checks of stored articles and their comment sections.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RevisitConfig {
    /// Re-check at all (`mediawatch run` and `mediawatch revisit`).
    pub enabled: bool,
    /// Ages after first storage at which the page is fetched again
    /// (conditionally, through the same polite fetcher); after the last,
    /// the article's record is closed.
    #[serde(with = "ages")]
    pub ages: Vec<Duration>,
    /// Which articles.
    pub scope: RevisitScope,
    /// Most re-checks started per round, so a backlog after downtime is
    /// worked through in due order without crowding out source polls.
    pub per_round: usize,
    /// How often due re-checks are looked for.
    #[serde(with = "humantime_serde")]
    pub check_every: Duration,
}

impl Default for RevisitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ages: [6, 24, 72]
                .into_iter()
                .map(|h| Duration::from_secs(h * 3600))
                .collect(),
            scope: RevisitScope::Relevant,
            per_round: 200,
            check_every: Duration::from_secs(300),
        }
    }
}

/// Longest age accepted: records are for a complaint about this month's
/// coverage, not an archive crawl.
const MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);

impl RevisitConfig {
    pub(crate) fn validate_into(&self, errors: &mut Vec<String>) {
        if self.enabled && self.ages.is_empty() {
            errors.push(
                "revisit.ages: must list at least one age (or set revisit.enabled = false)".into(),
            );
        }
        if self.ages.len() > 12 {
            errors.push(format!(
                "revisit.ages: {} ages listed, at most 12",
                self.ages.len()
            ));
        }
        for (i, w) in self.ages.windows(2).enumerate() {
            if w[1] <= w[0] {
                errors.push(format!(
                    "revisit.ages[{}]: {} is not later than the age before it ({})",
                    i + 1,
                    humantime_serde::re::humantime::format_duration(w[1]),
                    humantime_serde::re::humantime::format_duration(w[0])
                ));
            }
        }
        for (i, a) in self.ages.iter().enumerate() {
            if a.is_zero() || *a > MAX_AGE {
                errors.push(format!(
                    "revisit.ages[{i}]: {} is outside 1s..90days",
                    humantime_serde::re::humantime::format_duration(*a)
                ));
            }
        }
        if self.per_round == 0 {
            errors.push("revisit.per_round: must be at least 1".into());
        }
        if self.check_every.is_zero() {
            errors.push("revisit.check_every: must be greater than zero".into());
        }
    }
}

/// A list of durations written as humantime strings (`["6h", "1day"]`).
mod ages {
    use std::time::Duration;

    use humantime_serde::re::humantime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|d| humantime::format_duration(*d).to_string()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| {
                humantime::parse_duration(s).map_err(|e| {
                    serde::de::Error::custom(format!("{s:?} is not a duration like \"6h\": {e}"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn ages_parse_and_are_checked() {
        let c = Config::from_toml_str("version = 2\n[revisit]\nages = [\"1h\", \"2days\"]\n", "t")
            .unwrap();
        assert_eq!(c.revisit.ages.len(), 2);
        assert_eq!(c.revisit.ages[1].as_secs(), 2 * 86400);
        let e = Config::from_toml_str("version = 2\n[revisit]\nages = [\"6h\", \"1h\"]\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("revisit.ages[1]: 1h is not later"), "{e}");
        let e = Config::from_toml_str("version = 2\n[revisit]\nages = [\"soon\"]\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"soon\" is not a duration"), "{e}");
        let e = Config::from_toml_str("version = 2\n[revisit]\nagez = []\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("agez"), "{e}");
        assert_eq!(crate::RevisitConfig::default().ages.len(), 3);
    }
}
