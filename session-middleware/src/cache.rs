//! Keeping shared caches from storing one user's session for another: the headers that
//! go with every `Set-Cookie`.

use http::header::{HeaderMap, HeaderValue, CACHE_CONTROL, SET_COOKIE, VARY};

/// Adds `Set-Cookie`, and the headers that keep shared caches from storing it:
/// `Vary: Cookie`, and `Cache-Control: no-store` unless the handler chose its own, which
/// is kept but made `private` (see [`private_cache_control`]).
pub(crate) fn append_cookie_headers(headers: &mut HeaderMap, set_cookie: HeaderValue) {
    headers.append(SET_COOKIE, set_cookie);
    headers.append(VARY, HeaderValue::from_static("Cookie"));
    let cache_control = if headers.contains_key(CACHE_CONTROL) {
        private_cache_control(headers.get_all(CACHE_CONTROL).iter())
    } else {
        HeaderValue::from_static("no-store")
    };
    headers.insert(CACHE_CONTROL, cache_control);
}

/// The handler's `Cache-Control`, made unstorable by shared caches: already `private`
/// or `no-store` (and neither `public` nor `s-maxage`) is kept as it is; otherwise
/// `public` and `s-maxage` go and `private` comes first, the handler's other
/// directives (`max-age`, `no-cache`, …) staying. A value that is not text becomes
/// `no-store`.
fn private_cache_control<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> HeaderValue {
    let mut directives = Vec::new();
    for value in values {
        let Ok(text) = value.to_str() else {
            return HeaderValue::from_static("no-store");
        };
        directives.extend(text.split(',').map(str::trim).filter(|d| !d.is_empty()));
    }
    let name = |directive: &str| {
        let name = directive.split('=').next().unwrap_or_default().trim();
        name.to_ascii_lowercase()
    };
    let shared = |directive: &&str| matches!(name(directive).as_str(), "public" | "s-maxage");
    let safe = directives
        .iter()
        .any(|directive| matches!(name(directive).as_str(), "private" | "no-store"));
    if safe && !directives.iter().any(shared) {
        return HeaderValue::from_str(&directives.join(", "))
            .unwrap_or(HeaderValue::from_static("no-store"));
    }
    let kept = directives
        .into_iter()
        .filter(|directive| !shared(directive) && name(directive) != "private");
    let value = std::iter::once("private")
        .chain(kept)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_control_after(handler: &[&[u8]]) -> HeaderValue {
        let mut headers = HeaderMap::new();
        for value in handler {
            headers.append(
                CACHE_CONTROL,
                HeaderValue::from_bytes(value).expect("header"),
            );
        }
        append_cookie_headers(&mut headers, HeaderValue::from_static("sid=x"));
        assert_eq!(headers.get_all(CACHE_CONTROL).iter().count(), 1);
        headers[CACHE_CONTROL].clone()
    }

    /// A response that sets the session cookie is never storable by a shared cache,
    /// whatever `Cache-Control` the handler chose.
    #[test]
    fn a_response_with_the_session_cookie_is_never_shared_cacheable() {
        let cases: [(&[&[u8]], &str); 8] = [
            (&[], "no-store"),
            (&[b"public, max-age=60"], "private, max-age=60"),
            (&[b"PUBLIC"], "private"),
            (&[b"s-maxage=30, max-age=10"], "private, max-age=10"),
            (&[b"private, max-age=10"], "private, max-age=10"),
            (&[b"no-store"], "no-store"),
            (&[b"public", b"max-age=3, private"], "private, max-age=3"),
            (&[b"max-age=\xff"], "no-store"),
        ];
        for (handler, expected) in cases {
            assert_eq!(cache_control_after(handler), expected, "{handler:?}");
        }
    }
}
