//! The session cookie: its name, attributes and secrets (Remix's `createCookie`).

mod header;
mod private;
#[cfg(test)]
mod properties;
mod react_router;
mod signing;
#[cfg(test)]
mod vectors;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use ::cookie::SameSite;
pub use signing::SigningFormat;

use session_core::{Error, TokenVerifier, VerifiedToken};
use signing::{Secret, Signer};

/// Most bytes of `name` plus `value` a browser accepts in one cookie (RFC 6265bis).
pub const MAX_COOKIE_SIZE: usize = 4096;

/// The session cookie's configuration: name, attributes and signing secrets.
///
/// Build one with [`SessionCookie::builder`]. The defaults are the safe ones: `Path=/`,
/// `HttpOnly`, `Secure`, `SameSite=Lax`, no `Domain`, no `Max-Age` (a browser-session
/// cookie), and the [`SigningFormat::NameBound`] signature.
///
/// The builder refuses configurations browsers would reject or that are unsafe:
/// `__Host-` names without `Secure`, with a `Domain` or a `Path` other than `/`;
/// `__Secure-` names without `Secure`; `SameSite=None` without `Secure`; names or
/// attribute values that are not valid in a cookie. `Partitioned` turns `Secure` on.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use session_middleware::{SameSite, SessionCookie, SigningFormat};
///
/// let cookie = SessionCookie::builder("__Host-session")
///     .secret("a long random secret, 32 bytes or more, from your vault")
///     .same_site(SameSite::Strict)
///     .max_age(Duration::from_secs(3600))
///     .build()?;
/// assert_eq!(cookie.name(), "__Host-session");
/// assert!(cookie.is_signed());
///
/// let refused = SessionCookie::builder("__Host-session").secure(false).build();
/// assert!(refused.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SessionCookie {
    name: String,
    path: String,
    domain: Option<String>,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
    max_age: Option<Duration>,
    expires: Option<SystemTime>,
    partitioned: bool,
    /// The keyed state for the secrets and the format, prepared once by `build`; the
    /// raw secrets are not kept.
    signer: Signer,
    /// The length of the shortest secret, for the start-up warning.
    shortest_secret: usize,
    /// Everything a `Set-Cookie` carries after the value and `Max-Age` (`; Path=/;
    /// HttpOnly; …`), rendered once by `build`.
    set_cookie_attributes: String,
    /// The same without `Expires`, for browser-session cookies.
    session_cookie_attributes: String,
}

/// Builds a [`SessionCookie`]; see there for the defaults and the rules.
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get the cookie"]
pub struct SessionCookieBuilder {
    cookie: SessionCookie,
    format: SigningFormat,
    secrets: Vec<Secret>,
}

impl SessionCookie {
    /// Starts a cookie named `name` with the safe defaults.
    pub fn builder(name: impl Into<String>) -> SessionCookieBuilder {
        SessionCookieBuilder {
            cookie: SessionCookie {
                name: name.into(),
                path: "/".to_owned(),
                domain: None,
                http_only: true,
                secure: true,
                same_site: SameSite::Lax,
                max_age: None,
                expires: None,
                partitioned: false,
                signer: Signer::new(SigningFormat::default(), "", &[]),
                shortest_secret: 0,
                set_cookie_attributes: String::new(),
                session_cookie_attributes: String::new(),
            },
            format: SigningFormat::default(),
            secrets: Vec::new(),
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the cookie has at least one secret. The session layer requires it.
    pub fn is_signed(&self) -> bool {
        self.signer.secret_count() > 0
    }

    /// The signing format.
    pub fn format(&self) -> SigningFormat {
        self.signer.format()
    }

    /// True when `HttpOnly` is set.
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// True when `Secure` is set.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The configured `Max-Age`, if any.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// The configured fixed `Expires`, if any.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }

    /// The length in bytes of the shortest secret (0 without secrets).
    pub(crate) fn shortest_secret(&self) -> usize {
        self.shortest_secret
    }

    /// Encodes and signs (or, in the private format, encrypts) `value` with the first
    /// secret, as it goes into the cookie (Remix's `cookie.serialize` without the
    /// attributes). Without secrets the value is only encoded.
    ///
    /// ```
    /// use session_middleware::{SessionCookie, SigningFormat};
    ///
    /// let cookie = SessionCookie::builder("__session")
    ///     .secret("s3cr3t")
    ///     .format(SigningFormat::Remix)
    ///     .build()?;
    /// let signed = cookie.sign("hello")?;
    /// assert_eq!(signed, "aGVsbG8=.3UDRBr/J1N00KqKEbbW+O95uJz+Nq2kWC9XanqhM2M4");
    /// assert_eq!(cookie.verify(&signed).as_deref(), Some("hello"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Only in the private format: [`Error::Randomness`] when no nonce could be drawn.
    pub fn sign(&self, value: &str) -> Result<String, Error> {
        self.signer.sign(value)
    }

    /// Checks a signed (or encrypted) cookie value against every secret and returns the
    /// decoded value, or `None` if it does not verify or decode.
    pub fn verify(&self, signed: &str) -> Option<String> {
        self.signer.verify(signed).map(|verified| verified.value)
    }

    /// The first value of this cookie in `headers` that verifies (Remix's
    /// `cookie.parse`), decoded.
    pub fn parse(&self, headers: &http::HeaderMap) -> Option<String> {
        cookie_candidates(headers, &self.name)
            .into_iter()
            .find_map(|candidate| self.verify(candidate))
    }

    /// A `Set-Cookie` header value carrying `value`, signed, with this cookie's
    /// attributes.
    ///
    /// # Errors
    ///
    /// [`Error::CookieTooLarge`] when the cookie would exceed [`MAX_COOKIE_SIZE`].
    pub fn set_cookie(&self, value: &str) -> Result<http::HeaderValue, Error> {
        render_set(self, &self.sign(value)?, None)
    }

    /// A `Set-Cookie` header value that deletes this cookie: empty value, the same
    /// attributes, `Max-Age=0` and an `Expires` in 1970.
    ///
    /// # Errors
    ///
    /// Only on an internal error.
    pub fn clear_cookie(&self) -> Result<http::HeaderValue, Error> {
        render_clear(self)
    }
}

/// What sessions verify their token with when they load: as
/// [`SessionCookie::verify`], and also whether an older secret (not the first)
/// verified, so that the session is saved with a freshly signed token.
impl TokenVerifier for SessionCookie {
    fn verify(&self, token: &str) -> Option<VerifiedToken> {
        self.signer.verify(token)
    }
}

impl fmt::Debug for SessionCookie {
    /// Shows everything but the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookie")
            .field("name", &self.name)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.signer.secret_count()),
            )
            .field("format", &self.format())
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("http_only", &self.http_only)
            .field("secure", &self.secure)
            .field("same_site", &self.same_site)
            .field("max_age", &self.max_age)
            .field("expires", &self.expires)
            .field("partitioned", &self.partitioned)
            .finish()
    }
}

impl SessionCookieBuilder {
    /// Adds a signing secret. The first one added signs; all of them verify, so to
    /// rotate, put the new secret first and keep the old one until its cookies expire.
    ///
    /// Use at least 32 random bytes; shorter secrets work (Remix accepts them) but the
    /// session layer warns about them at start-up.
    pub fn secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secrets.push(Secret::new(secret.into()));
        self
    }

    /// Adds several secrets, in order (the first signs).
    pub fn secrets<I, S>(mut self, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        self.secrets
            .extend(secrets.into_iter().map(|secret| Secret::new(secret.into())));
        self
    }

    /// The signing format (default [`SigningFormat::NameBound`]).
    pub fn format(mut self, format: SigningFormat) -> Self {
        self.format = format;
        self
    }

    /// `Path` (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// `Domain` (default none: the cookie goes back to the exact host only).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie.domain = Some(domain.into());
        self
    }

    /// `HttpOnly` (default on: page scripts cannot read the cookie).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.cookie.http_only = http_only;
        self
    }

    /// `Secure` (default on: sent over HTTPS only; browsers treat `http://localhost`
    /// as secure too). Turn it off for plain-HTTP development only.
    pub fn secure(mut self, secure: bool) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// `SameSite` (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// `Max-Age`. Also the session's server-side lifetime unless the layer sets one.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.cookie.max_age = Some(max_age);
        self
    }

    /// A fixed `Expires` date.
    pub fn expires(mut self, expires: SystemTime) -> Self {
        self.cookie.expires = Some(expires);
        self
    }

    /// `Partitioned` (CHIPS). Turns `Secure` on, as browsers require.
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.cookie.partitioned = partitioned;
        self
    }

    /// Checks the configuration and returns the cookie.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCookie`] naming the rule that was broken.
    pub fn build(self) -> Result<SessionCookie, Error> {
        let mut cookie = self.cookie;
        if cookie.partitioned {
            cookie.secure = true;
        }
        validate(&cookie)?;
        if self.secrets.iter().any(Secret::is_empty) {
            return Err(Error::InvalidCookie("a secret must not be empty"));
        }
        cookie.signer = Signer::new(self.format, &cookie.name, &self.secrets);
        cookie.shortest_secret = self.secrets.iter().map(Secret::len).min().unwrap_or(0);
        if self.format == SigningFormat::ReactRouter {
            cookie.set_cookie_attributes = react_router::render_attributes(&cookie, true, None);
            cookie.session_cookie_attributes =
                react_router::render_attributes(&cookie, false, None);
        } else {
            cookie.set_cookie_attributes = header::render_attributes(&cookie, true);
            cookie.session_cookie_attributes = header::render_attributes(&cookie, false);
        }
        Ok(cookie)
    }
}

fn validate(cookie: &SessionCookie) -> Result<(), Error> {
    let invalid = |reason| Err(Error::InvalidCookie(reason));
    if !is_token(&cookie.name) {
        return invalid("the name must be a non-empty token without spaces, controls or any of ()<>@,;:\\\"/[]?={}");
    }
    // Browsers match the prefixes case-insensitively, so near-misses get the rules too.
    let lowercase = cookie.name.to_ascii_lowercase();
    if lowercase.starts_with("__host-") {
        if !cookie.secure {
            return invalid("a `__Host-` cookie must be Secure");
        }
        if cookie.path != "/" {
            return invalid("a `__Host-` cookie must have Path=/");
        }
        if cookie.domain.is_some() {
            return invalid("a `__Host-` cookie must not have a Domain");
        }
    }
    if lowercase.starts_with("__secure-") && !cookie.secure {
        return invalid("a `__Secure-` cookie must be Secure");
    }
    if cookie.same_site == SameSite::None && !cookie.secure {
        return invalid("SameSite=None requires Secure; browsers reject it otherwise");
    }
    if !cookie.path.starts_with('/') || !is_attribute_value(&cookie.path) {
        return invalid("the path must start with `/`, be at most 1024 bytes and contain no `;` or control characters");
    }
    if let Some(domain) = &cookie.domain {
        if domain.is_empty() || !is_attribute_value(domain) {
            return invalid("the domain must be non-empty, at most 1024 bytes and contain no `;` or control characters");
        }
    }
    if let Some(expires) = cookie.expires {
        // A cookie date has a four-digit year; formatting a later one would panic.
        let since_epoch = expires.duration_since(UNIX_EPOCH).ok();
        if since_epoch.is_none_or(|since| since.as_secs() > LAST_COOKIE_DATE) {
            return invalid("the fixed Expires must fall between 1970 and the end of the year 9999; for a lifetime, use max_age");
        }
    }
    Ok(())
}

/// 9999-12-31T23:59:59Z in seconds since the Unix epoch: the last date a cookie's
/// `Expires` can spell.
const LAST_COOKIE_DATE: u64 = 253_402_300_799;

/// An RFC 6265 cookie-name: an RFC 7230 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// RFC 6265bis: attribute values over 1024 bytes are ignored by browsers.
fn is_attribute_value(value: &str) -> bool {
    value.len() <= 1024 && value.bytes().all(|b| !b.is_ascii_control() && b != b';')
}

pub(crate) use header::{cookie_candidates, render_clear, render_session_set, render_set};

#[cfg(test)]
mod tests {
    use super::*;

    fn build(builder: SessionCookieBuilder) -> Result<SessionCookie, Error> {
        builder.secret("k").build()
    }

    #[test]
    fn defaults_are_the_safe_ones() {
        let cookie = build(SessionCookie::builder("__session")).expect("valid");
        assert!(cookie.http_only && cookie.secure);
        assert_eq!(cookie.same_site, SameSite::Lax);
        assert_eq!(cookie.path, "/");
        assert_eq!(cookie.domain, None);
        assert_eq!(cookie.max_age, None);
        assert_eq!(cookie.format(), SigningFormat::NameBound);
    }

    #[test]
    fn the_accessors_report_the_configuration() {
        let defaults = build(SessionCookie::builder("__session")).expect("valid");
        assert_eq!(defaults.name(), "__session");
        assert!(defaults.is_signed() && defaults.http_only() && defaults.secure());
        assert_eq!(defaults.max_age(), None);
        assert_eq!(defaults.expires(), None);
        assert_eq!(defaults.format(), SigningFormat::NameBound);

        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let chosen = SessionCookie::builder("sid")
            .secrets(["a secret of forty bytes, more or less...", "short secret"])
            .format(SigningFormat::Remix)
            .http_only(false)
            .secure(false)
            .max_age(Duration::from_secs(90))
            .expires(at)
            .build()
            .expect("valid");
        assert_eq!(chosen.name(), "sid");
        assert!(chosen.is_signed());
        assert!(!chosen.http_only() && !chosen.secure());
        assert_eq!(chosen.max_age(), Some(Duration::from_secs(90)));
        assert_eq!(chosen.expires(), Some(at));
        assert_eq!(chosen.format(), SigningFormat::Remix);
        assert_eq!(chosen.shortest_secret(), "short secret".len());

        let unsigned = SessionCookie::builder("sid").build().expect("valid");
        assert!(!unsigned.is_signed());
        assert_eq!(unsigned.shortest_secret(), 0);
    }

    #[test]
    fn host_prefix_rules() {
        assert!(build(SessionCookie::builder("__Host-id")).is_ok());
        for bad in [
            SessionCookie::builder("__Host-id").secure(false),
            SessionCookie::builder("__Host-id").path("/app"),
            SessionCookie::builder("__Host-id").domain("example.com"),
            SessionCookie::builder("__host-id").secure(false),
            SessionCookie::builder("__HOST-id").domain("example.com"),
        ] {
            assert!(matches!(build(bad), Err(Error::InvalidCookie(_))));
        }
    }

    #[test]
    fn a_fixed_expires_must_be_a_date_a_cookie_can_spell() {
        let year_9999_end = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        assert!(build(SessionCookie::builder("id").expires(year_9999_end)).is_ok());
        for bad in [
            year_9999_end + Duration::from_secs(1),
            UNIX_EPOCH + Duration::from_secs(u64::MAX / 4),
            UNIX_EPOCH - Duration::from_secs(1),
        ] {
            // Used to panic in the `time` crate's conversion instead.
            let err = build(SessionCookie::builder("id").expires(bad)).expect_err("refused");
            assert!(err.to_string().contains("Expires"), "{err}");
        }
    }

    #[test]
    fn secure_prefix_rules() {
        assert!(build(SessionCookie::builder("__Secure-id").domain("example.com")).is_ok());
        assert!(build(SessionCookie::builder("__Secure-id").secure(false)).is_err());
        assert!(build(SessionCookie::builder("__secure-id").secure(false)).is_err());
    }

    #[test]
    fn partitioned_forces_secure_and_none_needs_secure() {
        let cookie = build(
            SessionCookie::builder("s")
                .secure(false)
                .partitioned(true)
                .same_site(SameSite::None),
        )
        .expect("partitioned makes it secure");
        assert!(cookie.secure);
        assert!(build(
            SessionCookie::builder("s")
                .secure(false)
                .same_site(SameSite::None)
        )
        .is_err());
    }

    #[test]
    fn names_and_attribute_values_are_checked() {
        for name in ["", "a b", "a;b", "a=b", "ünï", "a\tb"] {
            assert!(build(SessionCookie::builder(name)).is_err(), "{name:?}");
        }
        assert!(build(SessionCookie::builder("s").path("no-slash")).is_err());
        assert!(build(SessionCookie::builder("s").path("/a;b")).is_err());
        assert!(build(SessionCookie::builder("s").path(format!("/{}", "a".repeat(1024)))).is_err());
        assert!(build(SessionCookie::builder("s").domain("a\r\nb")).is_err());
        assert!(SessionCookie::builder("s").secret("").build().is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let cookie = SessionCookie::builder("s")
            .secret("hunter2-secret")
            .build()
            .expect("valid");
        let shown = format!("{cookie:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("<1 redacted>"));
    }
}
