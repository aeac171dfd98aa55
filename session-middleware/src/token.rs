//! Session tokens in headers, for API clients that keep no cookie jar (a mobile app, a
//! CLI, a gRPC client): the same signed value the cookie would carry, read from a
//! request header and handed back in a response header.
//!
//! # CSRF
//!
//! Browsers attach cookies to every request to a site, including ones a hostile page
//! makes, which is why cookie sessions need `SameSite` (on by default: `Lax`) and CSRF
//! tokens on state-changing forms. A header token is never attached by the browser: a
//! page can only send one it already holds, so header-carried sessions are not open to
//! CSRF. Keep the token out of reach of page scripts all the same (an XSS can read and
//! send it), and keep cookie sessions' CSRF defences even when the API uses tokens.

use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};

/// Where session tokens travel in headers: read from `Authorization: Bearer <token>`
/// by default and answered in `Session-Token`.
///
/// ```
/// use http::HeaderName;
/// use session_middleware::HeaderTokens;
///
/// let tokens = HeaderTokens::bearer();
/// assert_eq!(tokens.response_name(), "session-token");
/// let custom = HeaderTokens::in_header(HeaderName::from_static("x-session"))
///     .respond_in(HeaderName::from_static("x-session"));
/// assert_eq!(custom.request_name(), "x-session");
/// ```
#[derive(Clone, Debug)]
pub struct HeaderTokens {
    request: HeaderName,
    /// `Bearer` for `Authorization`; none for a header that holds the token alone.
    bearer: bool,
    response: HeaderName,
}

impl HeaderTokens {
    /// `Authorization: Bearer <token>` in, `Session-Token: <token>` out.
    pub fn bearer() -> Self {
        Self {
            request: AUTHORIZATION,
            bearer: true,
            response: HeaderName::from_static("session-token"),
        }
    }

    /// The token alone in request header `name` (no scheme), answered in
    /// `Session-Token` unless [`respond_in`](Self::respond_in) says otherwise.
    pub fn in_header(name: HeaderName) -> Self {
        Self {
            bearer: name == AUTHORIZATION,
            request: name,
            ..Self::bearer()
        }
    }

    /// Hands new and renewed tokens back in response header `name`. A destroyed
    /// session answers it empty: the client must drop its token.
    #[must_use]
    pub fn respond_in(mut self, name: HeaderName) -> Self {
        self.response = name;
        self
    }

    /// The request header tokens are read from.
    pub fn request_name(&self) -> &HeaderName {
        &self.request
    }

    /// The response header tokens are handed back in.
    pub fn response_name(&self) -> &HeaderName {
        &self.response
    }

    /// The token a request carries, if any: the first value of the request header,
    /// after `Bearer ` (scheme case-insensitive) where that is the header's form.
    pub(crate) fn find<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let value = headers.get(&self.request)?.to_str().ok()?.trim();
        let token = if self.bearer {
            let (scheme, token) = value.split_once(' ')?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return None;
            }
            token.trim()
        } else {
            value
        };
        (!token.is_empty()).then_some(token)
    }

    /// The response header handing `token` back (empty: drop the token).
    pub(crate) fn answer(&self, headers: &mut HeaderMap, token: HeaderValue) {
        headers.insert(self.response.clone(), token);
        // A response carrying a token is one user's: never stored by a shared cache.
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name.clone(), HeaderValue::from_str(value).expect("valid"));
        headers
    }

    #[test]
    fn bearer_tokens_are_found_after_the_scheme_only() {
        let tokens = HeaderTokens::bearer();
        let found = |value: &str| {
            tokens
                .find(&headers(&AUTHORIZATION, value))
                .map(str::to_owned)
        };
        assert_eq!(found("Bearer abc.def").as_deref(), Some("abc.def"));
        assert_eq!(found("bearer  abc ").as_deref(), Some("abc"));
        assert_eq!(found("Basic dXNlcjpwYXNz"), None);
        assert_eq!(found("Bearer "), None);
        assert_eq!(found("abc"), None);
        assert_eq!(tokens.find(&HeaderMap::new()), None);
    }

    #[test]
    fn a_custom_header_holds_the_token_alone() {
        let name = HeaderName::from_static("x-session");
        let tokens = HeaderTokens::in_header(name.clone());
        assert_eq!(tokens.find(&headers(&name, "abc")), Some("abc"));
        assert_eq!(tokens.find(&headers(&name, "")), None);
    }
}
