//! Loading a session from request headers and committing it to response headers: the
//! whole job of the middleware, usable without tower.

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderMap, HeaderValue};
use session_core::{Clock, CookieUpdate, Error, Session, SessionBackend, SessionPolicy, Transport};

use crate::cache::append_cookie_headers;
use crate::cookie::{
    cookie_candidates, render_clear, render_session_set, render_set, SessionCookie,
};
use crate::HeaderTokens;

/// Secrets shorter than this draw a warning at start-up (HMAC-SHA256 key size).
const RECOMMENDED_SECRET_LEN: usize = 32;

/// Loads sessions from request headers and commits them to response headers.
///
/// This is everything the tower layer does, as two plain calls, for frameworks that are
/// not built on tower. [`SessionLayer`](crate::SessionLayer) wraps one of these.
///
/// # Example
///
/// ```
/// use http::header::{HeaderMap, SET_COOKIE};
/// use session_middleware::{CookieStore, SessionCookie, SessionManager};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let cookie = SessionCookie::builder("__session").secret("s3cr3t").build()?;
/// let manager = SessionManager::new(cookie, CookieStore::new())?;
///
/// // On a request: build the session from its headers (nothing is read yet).
/// let session = manager.session_from_headers(&HeaderMap::new());
///
/// // In the handler.
/// session.load().await?;
/// session.set("count", 1)?;
///
/// // On the response: persist and add the Set-Cookie header.
/// let mut response_headers = HeaderMap::new();
/// manager.commit(&session, &mut response_headers).await?;
/// assert!(response_headers.contains_key(SET_COOKIE));
/// # Ok::<(), session_middleware::Error>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SessionManager {
    cookie: Arc<SessionCookie>,
    backend: Arc<dyn SessionBackend>,
    policy: Arc<SessionPolicy>,
    tokens: Option<Arc<HeaderTokens>>,
}

/// What a commit hands back to the client.
pub(crate) enum Answer {
    /// A `Set-Cookie` header.
    Cookie(HeaderValue),
    /// A token in the response header (empty: drop it).
    Token(HeaderValue),
}

impl SessionManager {
    /// A manager for sessions carried by `cookie` and kept in `storage`.
    ///
    /// Warns (through `tracing`) about a cookie without `HttpOnly` and about secrets
    /// shorter than 32 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::UnsignedCookie`] when the cookie has no secret: an unsigned session
    /// cookie could be forged by any client.
    pub fn new(cookie: SessionCookie, storage: impl SessionBackend) -> Result<Self, Error> {
        if !cookie.is_signed() {
            return Err(Error::UnsignedCookie);
        }
        if !cookie.http_only() {
            tracing::warn!(
                cookie = cookie.name(),
                "session cookie is configured without HttpOnly and may be readable by page scripts"
            );
        }
        if cookie.shortest_secret() < RECOMMENDED_SECRET_LEN {
            tracing::warn!(
                cookie = cookie.name(),
                "a session cookie secret is shorter than {RECOMMENDED_SECRET_LEN} bytes; use a long random secret"
            );
        }
        let cookie_max_age = cookie.max_age();
        let cookie = Arc::new(cookie);
        Ok(Self {
            cookie,
            // The storage itself: sessions verify their token with the cookie when they
            // load (`TokenVerifier`), and what they write is signed by `commit`, only
            // when a cookie is sent.
            backend: Arc::new(storage),
            // Remix's only lifetime knob is the cookie's Max-Age: honour it on the server
            // too, as the idle timeout, unless the app sets its own policy.
            policy: Arc::new(SessionPolicy {
                idle_timeout: cookie_max_age,
                ..SessionPolicy::default()
            }),
            tokens: None,
        })
    }

    /// Also accepts the signed session token from a request header, for API clients
    /// that keep no cookie jar, and hands new or renewed tokens back in a response
    /// header ([`HeaderTokens`]; its module docs give the CSRF reasoning). Same
    /// signing and rules as the cookie: a bad token gives a fresh session. A request
    /// carrying both prefers the header, if the token is one of ours (a bearer token
    /// for something else, beside a session cookie, leaves the cookie in charge); a
    /// response to a header-carried session never sets a cookie.
    ///
    /// ```
    /// use http::header::{HeaderMap, AUTHORIZATION};
    /// use session_middleware::{HeaderTokens, MemoryStore, SessionCookie, SessionManager};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let cookie = SessionCookie::builder("__session").secret("s3cr3t").build()?;
    /// let manager = SessionManager::new(cookie, MemoryStore::new())?
    ///     .header_tokens(HeaderTokens::bearer());
    ///
    /// // An API login: no cookie, the token comes back for the client to keep.
    /// let session = manager.session_from_headers(&HeaderMap::new());
    /// session.load().await?;
    /// session.set("userId", "1")?;
    /// let token = manager.commit_token(&session).await?.expect("a new session");
    ///
    /// // The next call sends it back.
    /// let mut headers = HeaderMap::new();
    /// headers.insert(AUTHORIZATION, format!("Bearer {token}").parse()?);
    /// let session = manager.session_from_headers(&headers);
    /// session.load().await?;
    /// assert_eq!(session.get::<String>("userId")?.as_deref(), Some("1"));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn header_tokens(mut self, tokens: HeaderTokens) -> Self {
        self.tokens = Some(Arc::new(tokens));
        self
    }

    /// Whether cookies outlive the browser session unless a session chooses
    /// ([`Session::set_persistent`]); see [`SessionPolicy::persistent`]. Default `true`.
    #[must_use]
    pub fn persistent(self, persistent: bool) -> Self {
        self.change_policy(|policy| policy.persistent = persistent)
    }

    /// Renews each session's ID on the first request `interval` after it was issued,
    /// so a stolen ID stops working; see [`SessionPolicy::id_renewal`]. The old ID
    /// keeps serving the renewed session for [`renewal_grace`](Self::renewal_grace),
    /// so parallel requests sent with it are not logged out.
    #[must_use]
    pub fn id_renewal(self, interval: Duration) -> Self {
        self.change_policy(|policy| policy.id_renewal = Some(interval))
    }

    /// How long the old ID of a renewal keeps working (default
    /// [`SessionPolicy::DEFAULT_RENEWAL_GRACE`], 5 seconds).
    #[must_use]
    pub fn renewal_grace(self, grace: Duration) -> Self {
        self.change_policy(|policy| policy.renewal_grace = grace)
    }

    /// Ends sessions after `idle` without a request, enforced on the server for every
    /// storage. Reads push the deadline without a write on every request (see
    /// [`SessionPolicy::idle_refresh`]). Default: the cookie's `Max-Age`, if it has one.
    #[must_use]
    pub fn idle_timeout(self, idle: Duration) -> Self {
        self.change_policy(|policy| policy.idle_timeout = Some(idle))
    }

    /// Ends sessions `absolute` after they were first saved, however active they are
    /// (and across `regenerate_id`). Default: none.
    #[must_use]
    pub fn absolute_timeout(self, absolute: Duration) -> Self {
        self.change_policy(|policy| policy.absolute_timeout = Some(absolute))
    }

    /// When storage is down while loading a session: `false` (default) answers 503 and
    /// leaves the cookie alone; `true` gives the user a fresh session (logged).
    #[must_use]
    pub fn fail_open(self, fail_open: bool) -> Self {
        self.change_policy(|policy| policy.fail_open = fail_open)
    }

    /// Reads the time from `clock` instead of the system clock: a
    /// [`ManualClock`](session_core::ManualClock) makes timeouts testable at their
    /// exact edges, without sleeping. See [`SessionPolicy::clock`].
    #[must_use]
    pub fn clock(self, clock: Clock) -> Self {
        self.change_policy(|policy| policy.clock = clock)
    }

    /// Replaces the whole [`SessionPolicy`].
    #[must_use]
    pub fn policy(mut self, policy: SessionPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// The policy in force.
    pub fn session_policy(&self) -> &SessionPolicy {
        &self.policy
    }

    fn change_policy(mut self, change: impl FnOnce(&mut SessionPolicy)) -> Self {
        change(Arc::make_mut(&mut self.policy));
        self
    }

    /// The session cookie's configuration.
    pub fn cookie(&self) -> &SessionCookie {
        &self.cookie
    }

    /// The header tokens set by [`header_tokens`](Self::header_tokens), if any: which
    /// request header a framework integration must hand to
    /// [`session_from_headers`](Self::session_from_headers) besides `Cookie`.
    pub fn tokens(&self) -> Option<&HeaderTokens> {
        self.tokens.as_deref()
    }

    /// The (not yet loaded) session of a request with these headers.
    ///
    /// Cheap: it only looks for the cookie. Signatures are checked and storage is read
    /// when the handler first [loads](Session::load) the session, so a request that
    /// never asks for its session costs neither.
    pub fn session_from_headers(&self, headers: &HeaderMap) -> Session {
        if let Some(token) = self.tokens.as_ref().and_then(|tokens| tokens.find(headers)) {
            // A bearer token that is not ours (an OAuth or gateway token) does not
            // shadow the session cookie; without a cookie, the client is an API client
            // and gets a fresh session by header.
            // Verified here only when a cookie competes with it: otherwise loading
            // verifies it (once), and a bad one gives a fresh session there.
            let no_cookie = !headers.contains_key(http::header::COOKIE);
            if no_cookie || self.cookie.verify(token).is_some() {
                let session = self.session_for(Some(token.to_owned()));
                session.set_transport(Transport::Header);
                return session;
            }
        }
        let mut candidates = cookie_candidates(headers, self.cookie.name());
        let chosen = match (candidates.next(), candidates.next()) {
            (None, _) => None,
            (Some(only), None) => Some(only.to_owned()),
            // Several cookies of our name (cookie tossing from a sibling domain, or an old
            // cookie on another path): take the first one carrying our signature.
            (Some(first), Some(second)) => [first, second]
                .into_iter()
                .chain(candidates)
                .find(|candidate| self.cookie.verify(candidate).is_some())
                .map(str::to_owned),
        };
        self.session_for(chosen)
    }

    /// An unloaded session for the token a request carried, verified when it loads.
    fn session_for(&self, token: Option<String>) -> Session {
        Session::with_verifier(
            self.backend.clone(),
            self.cookie.clone(),
            self.policy.clone(),
            token,
        )
    }

    /// Persists what changed in `session` and appends the `Set-Cookie` header to
    /// `headers` when the cookie must change.
    ///
    /// An unloaded or unchanged session costs nothing and adds no header; so does a
    /// by-ID session saved under the ID its cookie already carries, when the cookie has
    /// no `Max-Age` to push back (the browser's cookie is still right). A response
    /// that gets a `Set-Cookie` also gets `Vary: Cookie` and `Cache-Control: no-store`,
    /// or the handler's own `Cache-Control` made `private` (a `public` or `s-maxage` one
    /// loses those), so no shared cache keeps one user's cookie for another.
    ///
    /// # Errors
    ///
    /// The backend's error when the change could not be persisted (nothing was sent
    /// then), or [`Error::CookieTooLarge`] when the cookie would be too big to send.
    pub async fn commit(&self, session: &Session, headers: &mut HeaderMap) -> Result<(), Error> {
        if let Some(answer) = self.answer_for(session).await? {
            self.apply(answer, headers);
        }
        Ok(())
    }

    /// Persists what changed and returns the signed token for a client that keeps it
    /// itself (an API login answering `{"token": …}`): the session then travels by
    /// header ([`Transport::Header`]), and the response sets no cookie. `None` when
    /// there was nothing to save (the client's token is still right) or the session
    /// was destroyed.
    ///
    /// # Errors
    ///
    /// As [`commit`](Self::commit).
    pub async fn commit_token(&self, session: &Session) -> Result<Option<String>, Error> {
        session.set_transport(Transport::Header);
        Ok(match session.commit().await? {
            CookieUpdate::Set { value, .. } => Some(self.cookie.sign(&value)?),
            CookieUpdate::Keep | CookieUpdate::Clear => None,
        })
    }

    /// Adds what `answer` says to the response headers.
    pub(crate) fn apply(&self, answer: Answer, headers: &mut HeaderMap) {
        match (answer, &self.tokens) {
            (Answer::Cookie(set_cookie), _) => append_cookie_headers(headers, set_cookie),
            (Answer::Token(token), Some(tokens)) => tokens.answer(headers, token),
            (Answer::Token(token), None) => {
                HeaderTokens::bearer().answer(headers, token);
            }
        }
    }

    /// Persists what changed and returns what to send back, if anything must change:
    /// a `Set-Cookie`, or a header token for a header-carried session.
    /// [`commit`](Self::commit) without the headers, for the layer, which holds the
    /// response only once this is done.
    pub(crate) async fn answer_for(&self, session: &Session) -> Result<Option<Answer>, Error> {
        let update = session.commit().await?;
        self.answer(session.transport(), update)
    }

    /// [`answer_for`](Self::answer_for), consuming the layer's handle
    /// ([`Session::commit_last`]: no copy of the data when the handler kept none).
    pub(crate) async fn answer_for_last(&self, session: Session) -> Result<Option<Answer>, Error> {
        let transport = session.transport();
        let update = session.commit_last().await?;
        self.answer(transport, update)
    }

    /// What to send back for a commit's `update` to a session carried by `transport`.
    fn answer(&self, transport: Transport, update: CookieUpdate) -> Result<Option<Answer>, Error> {
        if transport == Transport::Header {
            return Ok(match update {
                CookieUpdate::Keep
                | CookieUpdate::Set {
                    same_value: true, ..
                } => None,
                CookieUpdate::Set { value, .. } => {
                    let token = HeaderValue::try_from(self.cookie.sign(&value)?).map_err(|_| {
                        Error::Internal("a signed session token is not a valid header value")
                    })?;
                    Some(Answer::Token(token))
                }
                CookieUpdate::Clear => Some(Answer::Token(HeaderValue::from_static(""))),
            });
        }
        let header = match update {
            CookieUpdate::Keep => return Ok(None),
            CookieUpdate::Set {
                value,
                same_value,
                persistent: false,
                ..
            } => {
                if same_value {
                    // A browser-session cookie has no lifetime to push back.
                    return Ok(None);
                }
                render_session_set(&self.cookie, &self.cookie.sign(&value)?)?
            }
            CookieUpdate::Set {
                value,
                expires,
                same_value,
                persistent: true,
            } => {
                // The browser may drop the cookie when the server would: same deadline.
                let max_age = expires.map(|expires| {
                    let left = expires
                        .duration_since(self.policy.clock.now())
                        .unwrap_or_default();
                    Duration::from_secs(
                        left.as_secs()
                            .saturating_add(u64::from(left.subsec_nanos() > 0)),
                    )
                });
                if same_value && max_age.is_none() && self.cookie.max_age().is_none() {
                    // The browser already holds this very cookie and it has no lifetime
                    // to push back: sending it again would change nothing.
                    return Ok(None);
                }
                render_set(&self.cookie, &self.cookie.sign(&value)?, max_age)?
            }
            CookieUpdate::Clear => render_clear(&self.cookie)?,
        };
        Ok(Some(Answer::Cookie(header)))
    }
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("cookie", &self.cookie)
            .field("policy", &self.policy)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}
