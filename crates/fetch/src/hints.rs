//! Polling hints from response headers: how long a response stays fresh
//! (Cache-Control max-age, Expires) and how long to back off (Retry-After).

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, CACHE_CONTROL, DATE, EXPIRES, RETRY_AFTER};

/// Freshness lifetime announced by the server.
///
/// `Cache-Control: max-age=N` wins (`s-maxage` is for shared caches and is
/// ignored); `no-cache`/`no-store` mean zero. Without those, `Expires` minus
/// `Date` (or minus now when `Date` is absent), saturating at zero; an
/// unparseable `Expires` (e.g. `0`) means already expired, per RFC 9111.
pub(crate) fn max_age(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let mut no_cache = false;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("max-age") {
                if let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok()) {
                    return Some(Duration::from_secs(secs));
                }
            } else if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store")
            {
                no_cache = true;
            }
        }
    }
    if no_cache {
        return Some(Duration::ZERO);
    }
    let expires = headers.get(EXPIRES)?.to_str().ok()?;
    let Ok(expires) = httpdate::parse_http_date(expires.trim()) else {
        return Some(Duration::ZERO);
    };
    let base = headers
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d.trim()).ok())
        .unwrap_or(now);
    Some(expires.duration_since(base).unwrap_or(Duration::ZERO))
}

/// `Retry-After` as a delay: delta-seconds or an HTTP date (minus now,
/// saturating at zero). `None` when absent or unparseable.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cache_control_max_age() {
        let now = SystemTime::now();
        let h = headers(&[(CACHE_CONTROL, "public, max-age=300, s-maxage=60")]);
        assert_eq!(max_age(&h, now), Some(Duration::from_secs(300)));
        let h = headers(&[(CACHE_CONTROL, "no-cache")]);
        assert_eq!(max_age(&h, now), Some(Duration::ZERO));
        assert_eq!(max_age(&HeaderMap::new(), now), None);
    }

    #[test]
    fn expires_relative_to_date() {
        let now = SystemTime::now();
        let h = headers(&[
            (DATE, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (EXPIRES, "Sun, 06 Nov 1994 09:49:37 GMT"),
        ]);
        assert_eq!(max_age(&h, now), Some(Duration::from_secs(3600)));
        let h = headers(&[(EXPIRES, "0")]);
        assert_eq!(max_age(&h, now), Some(Duration::ZERO));
        // max-age beats Expires.
        let h = headers(&[
            (EXPIRES, "Sun, 06 Nov 1994 09:49:37 GMT"),
            (CACHE_CONTROL, "max-age=5"),
        ]);
        assert_eq!(max_age(&h, now), Some(Duration::from_secs(5)));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::now();
        assert_eq!(
            retry_after(&headers(&[(RETRY_AFTER, "120")]), now),
            Some(Duration::from_secs(120))
        );
        let later = now + Duration::from_secs(600);
        let date = httpdate::fmt_http_date(later);
        let got = retry_after(&headers(&[(RETRY_AFTER, &date)]), now).unwrap();
        // HTTP dates have one-second resolution.
        assert!(
            got <= Duration::from_secs(600) && got >= Duration::from_secs(599),
            "{got:?}"
        );
        assert_eq!(retry_after(&headers(&[(RETRY_AFTER, "soon")]), now), None);
        let past = httpdate::fmt_http_date(now - Duration::from_secs(60));
        assert_eq!(
            retry_after(&headers(&[(RETRY_AFTER, &past)]), now),
            Some(Duration::ZERO)
        );
    }
}
