//! Reading the session cookie out of `Cookie` headers and writing `Set-Cookie`.

use std::time::Duration;

use ::cookie::{Cookie, Expiration};
use http::header::{HeaderMap, HeaderValue, COOKIE};
use session_core::Error;
use time::OffsetDateTime;

use super::{SessionCookie, SigningFormat, MAX_COOKIE_SIZE};

/// Every value the request's `Cookie` headers hold for `name`, in order.
///
/// Other cookies and pairs without `=` are skipped, never an error: a browser may send
/// anything. The headers are read as bytes, so that another cookie's bytes (a sibling
/// cookie `theme=José` in UTF-8 or Latin-1, set by the app or a sibling subdomain)
/// cannot hide ours; only our own value must be text. Empty values (a cookie that Remix cleared) and values
/// longer than a browser would ever send are skipped too. Duplicates happen when a
/// sibling subdomain or another path sets the same name; the caller decides which one
/// to trust by verifying signatures.
///
/// Parsed by hand (split on `;`, then on the first `=`, as RFC 6265 section 5.4 reads a
/// cookie string) rather than through the `cookie` crate: this runs on every request,
/// and building a full `Cookie` for every pair only to compare its name cost more than
/// the rest of an untouched request's session handling.
pub(crate) fn cookie_candidates<'h, 'n>(
    headers: &'h HeaderMap,
    name: &'n str,
) -> impl Iterator<Item = &'h str> + use<'h, 'n> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|header| header.as_bytes().split(|&byte| byte == b';'))
        .filter_map(move |pair| {
            let equals = pair.iter().position(|&byte| byte == b'=')?;
            let (pair_name, value) = (&pair[..equals], &pair[equals + 1..]);
            (pair_name.trim_ascii() == name.as_bytes()).then_some(value)
        })
        .filter_map(|value| std::str::from_utf8(value.trim_ascii()).ok())
        .map(|value| {
            // A quoted value (RFC 6265 allows DQUOTE around cookie-octets).
            value
                .strip_prefix('"')
                .and_then(|inner| inner.strip_suffix('"'))
                .unwrap_or(value)
        })
        .filter(|value| !value.is_empty() && value.len() <= MAX_COOKIE_SIZE)
}

/// `Set-Cookie` giving the session cookie `value`, valid for `max_age` if given.
///
/// # Errors
///
/// [`Error::CookieTooLarge`] when name and value exceed [`MAX_COOKIE_SIZE`]: browsers
/// would silently drop the cookie, so it is refused here instead.
pub(crate) fn render_set(
    config: &SessionCookie,
    value: &str,
    max_age: Option<Duration>,
) -> Result<HeaderValue, Error> {
    render(
        config,
        value,
        max_age.or(config.max_age),
        &config.set_cookie_attributes,
    )
}

/// `Set-Cookie` for a browser-session cookie ("Remember me" not ticked): neither
/// `Max-Age` nor `Expires`, whatever the configuration says, so the browser drops it
/// when it closes.
pub(crate) fn render_session_set(
    config: &SessionCookie,
    value: &str,
) -> Result<HeaderValue, Error> {
    render(config, value, None, &config.session_cookie_attributes)
}

fn render(
    config: &SessionCookie,
    value: &str,
    max_age: Option<Duration>,
    attributes: &str,
) -> Result<HeaderValue, Error> {
    let size = config.name.len() + value.len();
    if size > MAX_COOKIE_SIZE {
        return Err(Error::CookieTooLarge {
            size,
            limit: MAX_COOKIE_SIZE,
        });
    }
    // Assembled from the attributes rendered once at build time (by the `cookie` crate,
    // so they are formatted exactly as it would), rather than building a `Cookie` and
    // formatting every attribute again on each response.
    let mut header = String::with_capacity(size + attributes.len() + 32);
    header.push_str(&config.name);
    header.push('=');
    header.push_str(value);
    if let Some(max_age) = max_age {
        use std::fmt::Write as _;
        // Writing into a String cannot fail.
        let _ = write!(
            header,
            "; Max-Age={}",
            to_time_duration(max_age).whole_seconds()
        );
    }
    header.push_str(attributes);
    // React Router refuses a whole `Set-Cookie` over the limit, attributes included.
    if config.format() == SigningFormat::ReactRouter && header.len() > MAX_COOKIE_SIZE {
        return Err(Error::CookieTooLarge {
            size: header.len(),
            limit: MAX_COOKIE_SIZE,
        });
    }
    HeaderValue::try_from(header)
        .map_err(|_| Error::Internal("rendered Set-Cookie is not a valid header value"))
}

/// The attributes of every `Set-Cookie` but the value and `Max-Age`, as `; A; B=c…`;
/// without `Expires` for a browser-session cookie (`with_expires` false).
pub(super) fn render_attributes(config: &SessionCookie, with_expires: bool) -> String {
    let mut cookie = base_cookie(config, "");
    if let Some(expires) = config.expires.filter(|_| with_expires) {
        cookie.set_expires(Expiration::DateTime(OffsetDateTime::from(expires)));
    }
    let rendered = cookie.to_string();
    // `name=` comes first; the attributes follow, each as `; …`.
    rendered[config.name.len() + 1..].to_owned()
}

/// `Set-Cookie` removing the session cookie: an empty value with the same attributes
/// (so it matches the cookie it replaces, `__Host-` rules included), `Max-Age=0` and an
/// `Expires` in the past, so every browser really deletes it.
pub(crate) fn render_clear(config: &SessionCookie) -> Result<HeaderValue, Error> {
    if config.format() == SigningFormat::ReactRouter {
        // React Router's destroy: `name=` and the epoch, never `Max-Age=0`.
        let attributes =
            super::react_router::render_attributes(config, true, Some(OffsetDateTime::UNIX_EPOCH));
        return HeaderValue::try_from(format!("{}={attributes}", config.name))
            .map_err(|_| Error::Internal("rendered Set-Cookie is not a valid header value"));
    }
    let mut cookie = base_cookie(config, "");
    cookie.set_max_age(time::Duration::ZERO);
    cookie.set_expires(Expiration::DateTime(OffsetDateTime::UNIX_EPOCH));
    to_header(&cookie)
}

fn base_cookie<'c>(config: &'c SessionCookie, value: &'c str) -> Cookie<'c> {
    let mut cookie = Cookie::new(config.name.as_str(), value);
    cookie.set_path(config.path.as_str());
    if let Some(domain) = &config.domain {
        cookie.set_domain(domain.as_str());
    }
    cookie.set_http_only(config.http_only);
    cookie.set_secure(config.secure);
    cookie.set_same_site(config.same_site);
    if config.partitioned {
        cookie.set_partitioned(true);
    }
    cookie
}

/// Browsers cap cookie lifetimes at 400 days (RFC 6265bis); so do we, explicitly.
const MAX_AGE_CAP: Duration = Duration::from_secs(400 * 24 * 3600);

fn to_time_duration(duration: Duration) -> time::Duration {
    let capped = duration.min(MAX_AGE_CAP);
    time::Duration::seconds(i64::try_from(capped.as_secs()).unwrap_or(i64::MAX))
}

fn to_header(cookie: &Cookie<'_>) -> Result<HeaderValue, Error> {
    // Names and attributes were validated at construction and values are base64, so this
    // only fails on a bug.
    HeaderValue::try_from(cookie.to_string())
        .map_err(|_| Error::Internal("rendered Set-Cookie is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use http::header::HeaderName;

    use super::*;
    use crate::SameSite;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(COOKIE, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    fn raw_headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(COOKIE, HeaderValue::from_bytes(value).expect("header"));
        }
        map
    }

    /// A sibling cookie's non-ASCII byte, before or after ours, in our header or in
    /// another one, never hides our cookie.
    #[test]
    fn other_cookies_bytes_do_not_hide_ours() {
        let utf8 = "theme=José".as_bytes();
        let latin1: &[u8] = b"theme=Jos\xe9";
        for other in [utf8, latin1, b"tab=a\tb", b"high=\xff\xfe"] {
            let before = [other, b"; __session=abc.def"].concat();
            let after = [b"__session=abc.def; ".as_slice(), other].concat();
            for map in [
                raw_headers(&[&before]),
                raw_headers(&[&after]),
                raw_headers(&[other, b"__session=abc.def"]),
                raw_headers(&[b"__session=abc.def", other]),
            ] {
                assert_eq!(
                    cookie_candidates(&map, "__session").collect::<Vec<_>>(),
                    vec!["abc.def"],
                    "{map:?}"
                );
            }
        }
        // Our own cookie with bytes that are not text is skipped, not an error.
        let map = raw_headers(&[b"__session=ab\xffcd; __session=ok"]);
        assert_eq!(
            cookie_candidates(&map, "__session").collect::<Vec<_>>(),
            vec!["ok"]
        );
    }

    #[test]
    fn finds_the_session_cookie_among_others_and_garbage() {
        let map = headers(&[
            "theme=dark; __session=abc.def; =broken; ;; x",
            "__session=second; other=1",
            "__session=; __session=\"quoted\"",
        ]);
        assert_eq!(
            cookie_candidates(&map, "__session").collect::<Vec<_>>(),
            vec!["abc.def", "second", "quoted"]
        );
        assert_eq!(cookie_candidates(&map, "missing").count(), 0);
        let spaced = headers(&["  __session = v1 ;__session=v2;x=__session=v3"]);
        assert_eq!(
            cookie_candidates(&spaced, "__session").collect::<Vec<_>>(),
            vec!["v1", "v2"]
        );
        let mut binary = HeaderMap::new();
        binary.insert(
            HeaderName::from_static("cookie"),
            HeaderValue::from_bytes(b"__session=\xff\xfe").expect("opaque bytes"),
        );
        assert_eq!(cookie_candidates(&binary, "__session").count(), 0);
    }

    #[test]
    fn renders_set_and_clear_with_the_same_attributes() {
        let config = SessionCookie::builder("__Secure-s")
            .secret("k")
            .domain("example.com")
            .path("/app")
            .same_site(SameSite::Strict)
            .build()
            .expect("valid");
        let set = render_set(&config, "v.t", Some(Duration::from_secs(60))).expect("fits");
        let set = set.to_str().expect("ascii");
        for part in [
            "__Secure-s=v.t",
            "Domain=example.com",
            "Path=/app",
            "SameSite=Strict",
            "HttpOnly",
            "Secure",
            "Max-Age=60",
        ] {
            assert!(
                set.split("; ").any(|p| p == part),
                "{part} missing in {set}"
            );
        }
        let clear = render_clear(&config).expect("renders");
        let clear = clear.to_str().expect("ascii");
        for part in [
            "__Secure-s=",
            "Domain=example.com",
            "Path=/app",
            "SameSite=Strict",
            "HttpOnly",
            "Secure",
            "Max-Age=0",
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            assert!(
                clear.split("; ").any(|p| p == part),
                "{part} missing in {clear}"
            );
        }
    }

    /// The fast path renders the same cookie as the `cookie` crate, attribute for
    /// attribute, whatever the configuration.
    #[test]
    fn fast_rendering_matches_the_cookie_crate() {
        let expires = std::time::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let configs = [
            SessionCookie::builder("__session").secret("k").build(),
            SessionCookie::builder("__Host-s")
                .secret("k")
                .same_site(SameSite::None)
                .partitioned(true)
                .build(),
            SessionCookie::builder("s")
                .secret("k")
                .domain("example.com")
                .path("/app")
                .http_only(false)
                .secure(false)
                .same_site(SameSite::Strict)
                .max_age(Duration::from_secs(3600))
                .expires(expires)
                .build(),
        ];
        for config in configs {
            let config = config.expect("valid");
            for max_age in [None, Some(Duration::from_secs(90))] {
                let fast = render_set(&config, "v.t", max_age).expect("fits");
                let mut reference = base_cookie(&config, "v.t");
                if let Some(max_age) = max_age.or(config.max_age) {
                    reference.set_max_age(to_time_duration(max_age));
                }
                if let Some(expires) = config.expires {
                    reference.set_expires(Expiration::DateTime(OffsetDateTime::from(expires)));
                }
                let reference = reference.to_string();
                let attributes = |header: &str| {
                    let mut parts: Vec<String> = header.split("; ").map(str::to_owned).collect();
                    parts.sort();
                    parts
                };
                assert_eq!(
                    attributes(fast.to_str().expect("ascii")),
                    attributes(&reference),
                    "{config:?} {max_age:?}"
                );
            }
        }
    }

    #[test]
    fn max_age_is_capped_at_400_days() {
        let config = SessionCookie::builder("s")
            .secret("k")
            .build()
            .expect("valid");
        let year = Duration::from_secs(10 * 365 * 24 * 3600);
        let set = render_set(&config, "v", Some(year)).expect("fits");
        assert!(set.to_str().expect("ascii").contains("Max-Age=34560000"));
    }

    #[test]
    fn refuses_oversized_cookies_naming_the_size() {
        let config = SessionCookie::builder("s")
            .secret("k")
            .build()
            .expect("valid");
        assert!(render_set(&config, &"x".repeat(4095), None).is_ok());
        let err = render_set(&config, &"x".repeat(4096), None).expect_err("too big");
        assert!(matches!(
            err,
            Error::CookieTooLarge {
                size: 4097,
                limit: 4096
            }
        ));
    }
}
