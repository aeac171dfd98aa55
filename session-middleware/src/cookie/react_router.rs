//! React Router's cookie value (`react-router` 7 and 8, `@remix-run/node` 2): the JSON
//! of a value, in standard base64 with padding, `.`, the unpadded HMAC-SHA256, the
//! whole URI-encoded; and its `Set-Cookie` attributes in React Router's order.
//!
//! The HMAC itself is Remix's (`signing.rs`); this module is what differs around it.

use std::fmt::Write as _;

use ::cookie::{Cookie, Expiration, SameSite};
use serde_json::Value;
use time::OffsetDateTime;

use super::SessionCookie;

/// The JSON text a backend's value travels as. React Router's cookie holds the JSON of
/// a JavaScript value: by-ID storages put the ID there as a JSON string
/// (`"f81d4fae-…"`), its cookie storage the session's data as an object. A backend
/// value that is a JSON object (ours in React Router's cookie layout) goes as it is;
/// any other (an ID) as a JSON string.
pub(super) fn to_json_text(value: &str) -> String {
    if value.starts_with('{') {
        value.to_owned()
    } else {
        Value::from(value).to_string()
    }
}

/// The backend value a verified JSON text stands for: a string's contents (an ID;
/// React Router 8.5.3's rule: only a non-empty string names a record; never one that
/// starts with `{`, which [`to_json_text`] would write as an object), or an object's
/// JSON as it is (cookie storage's data). Anything else (a number, an array, `null`,
/// text that is not JSON) is no session.
pub(super) fn from_json_text(json: String) -> Option<String> {
    let json = json.trim();
    match json.as_bytes().first() {
        // Data always reaches a backend starting with `{`, and nothing else does.
        Some(b'{') => serde_json::from_str::<serde::de::IgnoredAny>(json)
            .is_ok()
            .then(|| json.to_owned()),
        // A string that reads as an object (whitespace first or not) is no ID, and
        // must never pass for data: React Router's MAC does not cover the cookie name,
        // so a string cookie signed with the same secret could be replayed here.
        Some(b'"') => match serde_json::from_str::<String>(json) {
            Ok(text) if !text.is_empty() && !text.trim_start().starts_with('{') => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// `encodeURIComponent` of a signed value: only `=`, `+` and `/` occur in it that need
/// encoding.
pub(super) fn uri_encode(signed: &str) -> String {
    let mut out = String::with_capacity(signed.len() + 8);
    for c in signed.chars() {
        match c {
            '=' => out.push_str("%3D"),
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

/// `decodeURIComponent`, as React Router's `parse` applies it: only to a value that
/// contains `%`, and on any error (a bad escape, bytes that are not UTF-8) the raw text
/// is kept.
pub(super) fn uri_decode(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('%') {
        return raw.into();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok());
            match hex.and_then(|pair| u8::from_str_radix(pair, 16).ok()) {
                Some(byte) if hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) => {
                    out.push(byte);
                    i += 3;
                }
                _ => return raw.into(),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_or_else(|_| raw.into(), Into::into)
}

/// The attributes after `name=value` (and `Max-Age`, which comes first) in React
/// Router's fixed order: `Domain`, `Path`, `Expires`, `HttpOnly`, `Secure`,
/// `Partitioned`, `SameSite`. `expires` overrides the configured one (the epoch, to
/// clear); `with_expires` false leaves it out (a browser-session cookie).
pub(super) fn render_attributes(
    config: &SessionCookie,
    with_expires: bool,
    expires: Option<OffsetDateTime>,
) -> String {
    let mut out = String::new();
    if let Some(domain) = &config.domain {
        let _ = write!(out, "; Domain={domain}");
    }
    let _ = write!(out, "; Path={}", config.path);
    let expires = expires.or_else(|| {
        config
            .expires
            .filter(|_| with_expires)
            .map(OffsetDateTime::from)
    });
    if let Some(expires) = expires {
        // The `cookie` crate writes the date as browsers and `Date.toUTCString` do.
        let mut dated = Cookie::new("n", "");
        dated.set_expires(Expiration::DateTime(expires));
        let rendered = dated.to_string();
        if let Some((_, date)) = rendered.split_once("; Expires=") {
            let _ = write!(out, "; Expires={date}");
        }
    }
    if config.http_only {
        out.push_str("; HttpOnly");
    }
    if config.secure {
        out.push_str("; Secure");
    }
    if config.partitioned {
        out.push_str("; Partitioned");
    }
    out.push_str(match config.same_site {
        SameSite::Strict => "; SameSite=Strict",
        SameSite::Lax => "; SameSite=Lax",
        SameSite::None => "; SameSite=None",
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_travel_as_json() {
        assert_eq!(to_json_text("abc"), r#""abc""#);
        assert_eq!(to_json_text(r#"{"a":1}"#), r#"{"a":1}"#);
        assert_eq!(from_json_text(r#""abc""#.into()).as_deref(), Some("abc"));
        assert_eq!(
            from_json_text(r#"{"a":1}"#.into()).as_deref(),
            Some(r#"{"a":1}"#)
        );
        for other in [
            r#""""#, "42", "[\"x\"]", "null", "true", "{", "\"a", "hello",
        ] {
            assert_eq!(from_json_text(other.into()), None, "{other}");
        }
    }

    #[test]
    fn uri_coding_is_react_routers() {
        assert_eq!(uri_encode("a=b+c/d.e"), "a%3Db%2Bc%2Fd.e");
        assert_eq!(uri_decode("a%3Db%2Bc%2Fd.e"), "a=b+c/d.e");
        assert_eq!(uri_decode("plain=+/"), "plain=+/");
        assert_eq!(uri_decode("%C3%BC"), "ü");
        for kept in ["%", "%4", "%zz", "%FF", "a%+1"] {
            assert_eq!(uri_decode(kept), kept, "kept raw");
        }
    }
}
