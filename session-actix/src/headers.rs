//! Between actix-web's `http` 0.2 headers and the manager's `http` 1 ones. Names and
//! values are the same bytes in both; only the types differ.

use actix_web::http::header as actix;
use http::header::{HeaderMap, HeaderName, HeaderValue, CACHE_CONTROL, COOKIE};
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

/// The response headers a commit reads and then replaces: the handler's
/// `Cache-Control` (kept but made private when a cookie is set), and the token header.
pub(crate) fn for_commit(response: &actix::HeaderMap, manager: &SessionManager) -> HeaderMap {
    let mut headers = HeaderMap::new();
    copy_values(response, CACHE_CONTROL, &mut headers);
    if let Some(tokens) = manager.tokens() {
        copy_values(response, tokens.response_name().clone(), &mut headers);
    }
    headers
}

/// Writes what the commit left in `committed` into the response: the headers
/// [`for_commit`] handed it are replaced, the others (`Set-Cookie`, `Vary`) join the
/// handler's own. Every header the commit did not touch stays as it was.
pub(crate) fn apply(
    committed: &HeaderMap,
    manager: &SessionManager,
    response: &mut actix::HeaderMap,
) {
    let token = manager.tokens().map(|tokens| tokens.response_name());
    for name in committed.keys() {
        let Ok(actix_name) = actix::HeaderName::from_bytes(name.as_str().as_bytes()) else {
            continue;
        };
        if name == CACHE_CONTROL || Some(name) == token {
            response.remove(&actix_name);
        }
        for value in committed.get_all(name) {
            if let Ok(value) = actix::HeaderValue::from_bytes(value.as_bytes()) {
                response.append(actix_name.clone(), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use session_middleware::{HeaderTokens, MemoryStore, SessionCookie};

    use super::*;

    fn manager() -> SessionManager {
        let cookie = SessionCookie::builder("__session")
            .secret("a test secret of at least thirty-two bytes")
            .build()
            .expect("valid");
        SessionManager::new(cookie, MemoryStore::new())
            .expect("signed")
            .header_tokens(HeaderTokens::bearer())
    }

    fn actix_headers(pairs: &[(&'static str, &'static str)]) -> actix::HeaderMap {
        let mut headers = actix::HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                actix::HeaderName::from_static(name),
                actix::HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn requests_hand_over_cookies_and_the_token_only() {
        let request = actix_headers(&[
            ("cookie", "a=1"),
            ("cookie", "__session=x"),
            ("authorization", "Bearer t"),
            ("user-agent", "curl"),
        ]);
        let headers = for_session(&request, &manager());
        let cookies: Vec<_> = headers.get_all(COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "__session=x"]);
        assert_eq!(headers["authorization"], "Bearer t");
        assert_eq!(headers.len(), 3);
    }

    #[test]
    fn a_commit_replaces_what_it_read_and_adds_to_the_rest() {
        let manager = manager();
        let mut response = actix_headers(&[
            ("set-cookie", "theme=dark"),
            ("cache-control", "public, max-age=60"),
            ("vary", "Accept-Encoding"),
            ("content-type", "text/html"),
        ]);
        let mut committed = for_commit(&response, &manager);
        assert_eq!(committed.len(), 1, "only Cache-Control is read");
        // What the commit does to a response setting the cookie.
        committed.append("set-cookie", HeaderValue::from_static("__session=v"));
        committed.append("vary", HeaderValue::from_static("Cookie"));
        committed.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=60"),
        );
        apply(&committed, &manager, &mut response);

        let all = |name: &str| -> Vec<_> { response.get_all(name).collect() };
        assert_eq!(all("set-cookie"), ["theme=dark", "__session=v"]);
        assert_eq!(all("vary"), ["Accept-Encoding", "Cookie"]);
        assert_eq!(all("cache-control"), ["private, max-age=60"]);
        assert_eq!(all("content-type"), ["text/html"]);
    }
}
