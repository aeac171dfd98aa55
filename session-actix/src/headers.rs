//! Between actix-web's `http` 0.2 headers and the manager's `http` 1 ones. Names and
//! values are the same bytes in both; only the types differ.

use actix_web::http::header as actix;
use http::header::{HeaderMap, HeaderName, HeaderValue, COOKIE};
use session_middleware::SessionManager;

/// The request headers the manager reads: every `Cookie`, and the token header when
/// header tokens are on.
pub(crate) fn for_session(request: &actix::HeaderMap, manager: &SessionManager) -> HeaderMap {
    let mut headers = HeaderMap::new();
    copy_values(request, COOKIE, &mut headers);
    if let Some(tokens) = manager.tokens() {
        copy_values(request, tokens.request_name().clone(), &mut headers);
    }
    headers
}

fn copy_values(from: &actix::HeaderMap, name: HeaderName, to: &mut HeaderMap) {
    for value in from.get_all(name.as_str()) {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            to.append(name.clone(), value);
        }
    }
}

/// The whole response header map, for a commit to read and extend (it keeps the
/// handler's `Set-Cookie`s and makes its `Cache-Control` private).
pub(crate) fn to_http(from: &actix::HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        let name = HeaderName::from_bytes(name.as_str().as_bytes());
        let value = HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

/// Replaces the response headers with what the commit left.
pub(crate) fn replace(to: &mut actix::HeaderMap, from: &HeaderMap) {
    to.clear();
    for (name, value) in from {
        let name = actix::HeaderName::from_bytes(name.as_str().as_bytes());
        let value = actix::HeaderValue::from_bytes(value.as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            to.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_cross_over_with_every_value_and_in_order() {
        let mut actix_headers = actix::HeaderMap::new();
        for (name, value) in [
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("cache-control", "public"),
            ("x-custom", "yes"),
        ] {
            actix_headers.append(
                actix::HeaderName::from_static(name),
                actix::HeaderValue::from_static(value),
            );
        }
        let converted = to_http(&actix_headers);
        let cookies: Vec<_> = converted.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(converted["x-custom"], "yes");

        let mut back = actix::HeaderMap::new();
        back.insert(
            actix::HeaderName::from_static("stale"),
            actix::HeaderValue::from_static("gone"),
        );
        replace(&mut back, &converted);
        assert!(!back.contains_key("stale"));
        let cookies: Vec<_> = back.get_all("set-cookie").collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(back.len(), 4);
    }
}
