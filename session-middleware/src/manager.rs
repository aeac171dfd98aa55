//! Loading a session from request headers and committing it to response headers: the
//! whole job of the middleware, usable without tower.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{HeaderMap, HeaderValue, CACHE_CONTROL, SET_COOKIE, VARY};
use session_core::{
    async_trait, CookieUpdate, Error, FoundSession, Session, SessionBackend, SessionId,
    SessionPolicy, SessionWrite, WriteOutcome,
};

use crate::cookie::{cookie_candidates, render_clear, render_set, SessionCookie, Verified};

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
}

/// The backend sessions see: verifies and decodes cookie values before the real backend
/// reads them. (What it writes is signed by [`SessionManager::commit`], and only when the
/// cookie is sent.)
struct SignedBackend {
    cookie: Arc<SessionCookie>,
    inner: Arc<dyn SessionBackend>,
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
        let backend = SignedBackend {
            cookie: cookie.clone(),
            inner: Arc::new(storage),
        };
        Ok(Self {
            cookie,
            backend: Arc::new(backend),
            // Remix's only lifetime knob is the cookie's Max-Age: honour it on the server
            // too, as the idle timeout, unless the app sets its own policy.
            policy: Arc::new(SessionPolicy {
                idle_timeout: cookie_max_age,
                ..SessionPolicy::default()
            }),
        })
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

    /// The (not yet loaded) session of a request with these headers.
    ///
    /// Cheap: it only looks for the cookie. Signatures are checked and storage is read
    /// when the handler first [loads](Session::load) the session, so a request that
    /// never asks for its session costs neither.
    pub fn session_from_headers(&self, headers: &HeaderMap) -> Session {
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
        Session::with_policy(self.backend.clone(), self.policy.clone(), chosen)
    }

    /// Persists what changed in `session` and appends the `Set-Cookie` header to
    /// `headers` when the cookie must change.
    ///
    /// An unloaded or unchanged session costs nothing and adds no header; so does a
    /// by-ID session saved under the ID its cookie already carries, when the cookie has
    /// no `Max-Age` to push back (the browser's cookie is still right). A response
    /// that gets a `Set-Cookie` also gets `Vary: Cookie` and, unless it already has a
    /// `Cache-Control`, `Cache-Control: no-store`, so no shared cache keeps one user's
    /// cookie for another.
    ///
    /// # Errors
    ///
    /// The backend's error when the change could not be persisted (nothing was sent
    /// then), or [`Error::CookieTooLarge`] when the cookie would be too big to send.
    pub async fn commit(&self, session: &Session, headers: &mut HeaderMap) -> Result<(), Error> {
        if let Some(set_cookie) = self.set_cookie_for(session).await? {
            append_cookie_headers(headers, set_cookie);
        }
        Ok(())
    }

    /// Persists what changed and returns the `Set-Cookie` value to send, if the cookie
    /// must change. [`commit`](Self::commit) without the headers, for the layer, which
    /// holds the response only once this is done.
    pub(crate) async fn set_cookie_for(
        &self,
        session: &Session,
    ) -> Result<Option<HeaderValue>, Error> {
        let header = match session.commit().await? {
            CookieUpdate::Keep => return Ok(None),
            CookieUpdate::Set {
                value,
                expires,
                same_value,
            } => {
                // The browser may drop the cookie when the server would: same deadline.
                let max_age = expires.map(|expires| {
                    let left = expires
                        .duration_since(SystemTime::now())
                        .unwrap_or_default();
                    Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0))
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
        Ok(Some(header))
    }
}

/// Adds `Set-Cookie`, and the headers that keep shared caches from storing it.
pub(crate) fn append_cookie_headers(headers: &mut HeaderMap, set_cookie: HeaderValue) {
    headers.append(SET_COOKIE, set_cookie);
    headers.append(VARY, HeaderValue::from_static("Cookie"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[async_trait]
impl SessionBackend for SignedBackend {
    async fn load(&self, cookie_value: &str) -> Result<Option<FoundSession>, Error> {
        let Some(Verified {
            value,
            by_old_secret,
        }) = self.cookie.signer().verify(cookie_value)
        else {
            // Tampered, signed with an unknown secret, or not ours at all: the user simply
            // gets a fresh session. Debug level, since any client can trigger it at will.
            tracing::debug!(
                "session cookie failed signature verification; starting a fresh session"
            );
            return Ok(None);
        };
        let mut loaded = self.inner.load(&value).await?;
        if let Some(loaded) = &mut loaded {
            // Signed with a secret being rotated out: re-sign with the current one now,
            // so the old secret can be retired once sessions have passed through.
            loaded.reissue |= by_old_secret;
        }
        Ok(loaded)
    }

    async fn write(&self, write: &SessionWrite<'_>) -> Result<WriteOutcome, Error> {
        // Signed in `commit`, only when the cookie is actually sent.
        self.inner.write(write).await
    }

    async fn destroy(&self, id: &SessionId) -> Result<(), Error> {
        self.inner.destroy(id).await
    }
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("cookie", &self.cookie)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SignedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedBackend").finish_non_exhaustive()
    }
}
