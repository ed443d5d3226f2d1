//! URL canonicalisation, so one story fetched via different links gets one id.

use url::Url;

use crate::CoreError;

/// Query parameters that only track clicks and never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "yclid",
    "_ga",
    "ref_src",
    "cmpid",
    "ocid",
    "ns_source",
    "ns_mchannel",
    "ns_campaign",
];

/// Canonical form of a URL: lower-case scheme and host, no fragment, no
/// default port, tracking parameters (`utm_*`, `fbclid`, ...) removed, the
/// remaining query parameters kept in their original order.
pub fn canonicalize_url(input: &str) -> Result<String, CoreError> {
    let mut url = Url::parse(input.trim()).map_err(|source| CoreError::InvalidUrl {
        url: input.to_string(),
        source,
    })?;
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !(k.starts_with("utm_") || TRACKING_PARAMS.contains(&k.as_str()))
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tracking_and_fragment() {
        assert_eq!(
            canonicalize_url("HTTPS://Example.ORG:443/a/b?utm_source=x&id=7&fbclid=abc#top")
                .unwrap(),
            "https://example.org/a/b?id=7"
        );
        assert_eq!(
            canonicalize_url("http://example.org/a?utm_medium=rss").unwrap(),
            "http://example.org/a"
        );
    }

    #[test]
    fn rejects_garbage() {
        let err = canonicalize_url("not a url").unwrap_err();
        assert!(err.to_string().contains("not a url"));
    }
}
