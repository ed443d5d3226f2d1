//! Query strings with repeated keys (`compare=a&compare=b`), which serde's
//! flat query extraction cannot express.

/// The decoded pairs of one query string, in order.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes a raw query string (`None` = no query).
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// The first non-empty value of `key`, trimmed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// The first value of `key`, or "".
    pub fn str(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// Every non-empty value of `key`, trimmed.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether a flag is set (`1`, `true`, `on`, `yes`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "on" | "yes"))
    }

    /// Keys not in `known`, for a clear error instead of a silently ignored
    /// misspelling.
    pub fn unknown(&self, known: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        out.dedup();
        out
    }

    /// A number, or an error naming the parameter.
    pub fn usize(&self, key: &str) -> Result<Option<usize>, String> {
        self.get(key)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{key}: {v:?} is not a non-negative whole number"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_decoding() {
        let p = Params::parse(Some("compare=a+b&compare=%22c%22&q=&x=1&compare="));
        assert_eq!(p.all("compare"), vec!["a b", "\"c\""]);
        assert_eq!(p.get("q"), None);
        assert!(p.flag("x"));
        assert_eq!(p.unknown(&["compare", "q"]), vec!["x".to_string()]);
        assert!(p.usize("compare").is_err());
    }
}
