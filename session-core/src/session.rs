//! The `Session` handle handlers work with.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::{Error, SessionBackend, SessionId, SessionPolicy, SessionRules, TokenVerifier};

mod commit;
mod login;
#[cfg(test)]
mod tests;
mod working_copy;

pub use commit::CookieUpdate;
use working_copy::{Phase, WorkingCopy};

/// A user's session: a cheap-to-clone handle shared by the middleware and the handler.
///
/// The middleware puts one in the request extensions (the Rust face of Remix's
/// `context.get(Session)`). Nothing is read from storage until somebody asks: call
/// [`load`](Self::load) once (the axum extractor does it for you), then use the plain
/// synchronous methods. A request that never loads its session costs no storage call.
///
/// Semantics follow Remix's `Session`:
///
/// - values and flash values live in two maps; a flash set now is visible on the next
///   request only, and a flash that arrived with this request is gone after it;
/// - setting a key to JSON `null` removes it;
/// - a session loaded with flash values is dirty, so saving it clears them;
/// - after [`destroy`](Self::destroy), reads see nothing; a write starts a brand-new
///   session with a new ID (so a handler can flash "you have been logged out"), and the
///   destroyed record stays deleted. (Remix refuses writes after destroy instead.)
///
/// # Example
///
/// ```
/// use session_core::Session;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let session = Session::detached()?; // what a request without a cookie gets
/// session.load().await?;
/// assert_eq!(session.get::<u32>("count")?, None);
///
/// session.set("count", 1)?;
/// session.flash("notice", "saved")?;
/// assert_eq!(session.get::<u32>("count")?, Some(1));
/// assert_eq!(session.get::<String>("notice")?, None); // only on the next request
/// assert!(session.is_dirty());
/// # Ok::<(), session_core::Error>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

/// What every clone of a handle shares. Only the state changes, and only through the
/// working copy's own transitions (`working_copy.rs`).
struct Inner {
    backend: Option<Arc<dyn SessionBackend>>,
    /// Checks the carried token on load; without one, the value is already plain.
    verifier: Option<Arc<dyn TokenVerifier>>,
    policy: Arc<SessionPolicy>,
    /// The backend's conventions (new IDs, flash lifetime), asked once.
    rules: SessionRules,
    /// A std `Mutex`, not tokio's: it is never held across an `.await` (`load` and
    /// `commit` take out what they need, await, then lock again), so it is never
    /// contended for long.
    state: Mutex<State>,
    /// The session's token travels in a header rather than a cookie ([`Transport`]).
    via_header: AtomicBool,
}

/// How a request carried its session token, and so how the response hands a new one
/// back: in the session cookie, or in a header, for API clients that keep no cookie
/// jar (the middleware's `HeaderTokens`). A response to a header-carried session never
/// sets a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The session cookie (`Cookie` in, `Set-Cookie` out).
    Cookie,
    /// A request header in (`Authorization: Bearer …` by default), a response header
    /// out.
    Header,
}

#[allow(
    clippy::large_enum_variant,
    reason = "most sessions get loaded; boxing the copy would add an allocation to every request that loads"
)]
enum State {
    /// Not loaded yet: the cookie value waits until somebody asks for the data.
    Unloaded {
        cookie_value: Option<String>,
    },
    Loaded(WorkingCopy),
}

impl Session {
    /// A session whose data will be loaded from `backend` when first asked for.
    ///
    /// `cookie_value` is the verified, decoded value of the request's session cookie, or
    /// `None` when there was none (then loading costs no storage call).
    pub fn new(backend: Arc<dyn SessionBackend>, cookie_value: Option<String>) -> Self {
        Self::with_policy(backend, Arc::default(), cookie_value)
    }

    /// Like [`new`](Self::new), under a [`SessionPolicy`] (timeouts, failure handling).
    pub fn with_policy(
        backend: Arc<dyn SessionBackend>,
        policy: Arc<SessionPolicy>,
        cookie_value: Option<String>,
    ) -> Self {
        Self::unloaded(backend, None, policy, cookie_value)
    }

    /// Like [`with_policy`](Self::with_policy), for a token as the request carried it
    /// (a signed cookie value or header token): `verifier` checks and decodes it when
    /// the session is first loaded, and a token it rejects gives a fresh session. This
    /// is how the middleware builds sessions, so that a request that never loads its
    /// session costs no signature check.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// use session_core::{Session, SessionStorage, StoredSession, TokenVerifier, VerifiedToken};
    /// # use session_core::{Error, SessionId};
    /// # #[derive(Default)]
    /// # struct OneRecord(std::sync::Mutex<Option<(String, StoredSession)>>);
    /// # impl SessionStorage for OneRecord {
    /// #     async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
    /// #         let held = self.0.lock().unwrap();
    /// #         Ok(held.as_ref().filter(|(at, _)| at == id.as_str()).map(|(_, r)| r.clone()))
    /// #     }
    /// #     async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
    /// #         *self.0.lock().unwrap() = Some((id.as_str().to_owned(), record.clone()));
    /// #         Ok(true)
    /// #     }
    /// #     async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
    /// #         self.create(id, record).await
    /// #     }
    /// #     async fn delete(&self, _: &SessionId) -> Result<bool, Error> {
    /// #         Ok(self.0.lock().unwrap().take().is_some())
    /// #     }
    /// # }
    ///
    /// struct Prefixed;
    /// impl TokenVerifier for Prefixed {
    ///     fn verify(&self, token: &str) -> Option<VerifiedToken> {
    ///         let value = token.strip_prefix("ok.")?.to_owned();
    ///         Some(VerifiedToken { value, by_old_secret: false })
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let storage = Arc::new(OneRecord::default());
    /// let first = Session::new(storage.clone(), None);
    /// first.load().await?;
    /// first.set("count", 1)?;
    /// first.commit().await?;
    /// let id = first.id()?;
    ///
    /// let verifier = Arc::new(Prefixed);
    /// let token = format!("ok.{}", id.as_str());
    /// let genuine = Session::with_verifier(storage.clone(), verifier.clone(), Default::default(), Some(token));
    /// genuine.load().await?;
    /// assert_eq!(genuine.get::<u32>("count")?, Some(1));
    ///
    /// let forged = Session::with_verifier(storage, verifier, Default::default(), Some(id.as_str().to_owned()));
    /// forged.load().await?;
    /// assert_eq!(forged.get::<u32>("count")?, None, "an unverified token is never adopted");
    /// # Ok::<(), Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_verifier(
        backend: Arc<dyn SessionBackend>,
        verifier: Arc<dyn TokenVerifier>,
        policy: Arc<SessionPolicy>,
        token: Option<String>,
    ) -> Self {
        Self::unloaded(backend, Some(verifier), policy, token)
    }

    /// A session to load from `backend` when first asked, for `token` (an empty one
    /// counts as none).
    fn unloaded(
        backend: Arc<dyn SessionBackend>,
        verifier: Option<Arc<dyn TokenVerifier>>,
        policy: Arc<SessionPolicy>,
        token: Option<String>,
    ) -> Self {
        let cookie_value = token.filter(|value| !value.is_empty());
        Self::with_state(
            Some(backend),
            verifier,
            policy,
            State::Unloaded { cookie_value },
        )
    }

    /// A fresh session attached to no storage, with a new ID: for unit tests of code
    /// that takes a `Session`. [`commit`](Self::commit) on it writes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if no ID could be minted.
    pub fn detached() -> Result<Self, Error> {
        let copy = WorkingCopy::fresh(false, SessionRules::default())?;
        Ok(Self::with_state(
            None,
            None,
            Arc::default(),
            State::Loaded(copy),
        ))
    }

    fn with_state(
        backend: Option<Arc<dyn SessionBackend>>,
        verifier: Option<Arc<dyn TokenVerifier>>,
        policy: Arc<SessionPolicy>,
        state: State,
    ) -> Self {
        let rules = backend
            .as_ref()
            .map_or_else(SessionRules::default, |backend| backend.rules());
        Self {
            inner: Arc::new(Inner {
                backend,
                verifier,
                policy,
                rules,
                state: Mutex::new(state),
                via_header: AtomicBool::new(false),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every transition completes or fails before it changes anything, so the state
        // is consistent even if a panic poisoned the lock: keep using it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads the session's data, once; later calls return at once.
    ///
    /// Without a cookie, or when the cookie names no live session (unknown, expired,
    /// malformed), the session starts fresh with a new ID: a presented ID is never
    /// adopted.
    ///
    /// A session past its idle or absolute timeout counts as not found.
    ///
    /// # Errors
    ///
    /// When the backend could not be asked ([`Error::is_unavailable`]) and the policy
    /// fails closed, or no ID could be minted. The session stays unloaded, so a later
    /// call may succeed. With [`SessionPolicy::fail_open`], an outage gives a fresh
    /// session instead.
    pub async fn load(&self) -> Result<(), Error> {
        // The token is verified under the lock (no `.await` there), so it is never
        // copied: the verifier hands back the decoded value, which is the only copy.
        let (had_cookie, cookie_value, by_old_secret) = {
            let state = self.lock();
            let token = match &*state {
                State::Loaded(_) => return Ok(()),
                State::Unloaded { cookie_value } => cookie_value.as_deref(),
            };
            match (token, &self.inner.verifier) {
                (None, _) => (false, None, false),
                (Some(plain), None) => (true, Some(plain.to_owned()), false),
                (Some(token), Some(verifier)) => match verifier.verify(token) {
                    Some(verified) => (true, Some(verified.value), verified.by_old_secret),
                    None => {
                        // Tampered, signed with an unknown secret, or not ours at all: a
                        // fresh session. Debug level: any client can cause it at will.
                        tracing::debug!(
                            "session token failed signature verification; starting a fresh session"
                        );
                        (true, None, false)
                    }
                },
            }
        };
        let policy = &self.inner.policy;
        // The lock is released here: it must never be held across an `.await`.
        let found = match (&self.inner.backend, cookie_value) {
            (Some(backend), Some(value)) => match backend.load(&value).await {
                Ok(found) => found.map(|mut found| {
                    // Signed with a secret being rotated out: re-signed with the current
                    // one now, so the old secret can be retired once sessions passed.
                    found.reissue |= by_old_secret;
                    found
                }),
                Err(error) if policy.fail_open && error.is_unavailable() => {
                    tracing::warn!(%error, "session storage unavailable; failing open with a fresh session");
                    None
                }
                Err(error) => return Err(error),
            },
            _ => None,
        };
        let now = policy.clock.now();
        let rules = self.inner.rules;
        let found = found.and_then(|found| WorkingCopy::found(found, policy, now, rules));
        let mut copy = match found {
            Some(copy) => copy,
            None => WorkingCopy::fresh(had_cookie, rules)?,
        };
        if copy.renewal_due(policy, now) {
            copy.renew_id(SessionId::generate_in(rules.ids)?, now);
        }
        let mut state = self.lock();
        // If another clone of this handle finished loading first, its state wins.
        if matches!(*state, State::Unloaded { .. }) {
            *state = State::Loaded(copy);
        }
        Ok(())
    }

    /// How the session's token travels: [`Transport::Cookie`] unless the request
    /// carried it in a header, or [`set_transport`](Self::set_transport) said so.
    pub fn transport(&self) -> Transport {
        if self.inner.via_header.load(Ordering::Relaxed) {
            Transport::Header
        } else {
            Transport::Cookie
        }
    }

    /// Chooses how the response hands the session's token back: an API login that
    /// arrived without any token answers with a header token
    /// ([`Transport::Header`]) instead of a cookie.
    pub fn set_transport(&self, transport: Transport) {
        self.inner
            .via_header
            .store(transport == Transport::Header, Ordering::Relaxed);
    }

    /// True once the data has been loaded.
    pub fn is_loaded(&self) -> bool {
        matches!(*self.lock(), State::Loaded(_))
    }

    /// Runs `f` on the working copy, or fails with [`Error::NotLoaded`].
    fn with_copy<R>(
        &self,
        f: impl FnOnce(&mut WorkingCopy) -> Result<R, Error>,
    ) -> Result<R, Error> {
        match &mut *self.lock() {
            State::Loaded(copy) => f(copy),
            State::Unloaded { .. } => Err(Error::NotLoaded),
        }
    }

    /// The session's current ID (a new one after [`regenerate_id`](Self::regenerate_id)).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn id(&self) -> Result<SessionId, Error> {
        self.with_copy(|copy| Ok(copy.id().clone()))
    }

    /// Reads a value as type `T`; `None` when the key is absent or the session destroyed.
    ///
    /// A flash value that arrived with this request is found too (after the ordinary
    /// values, as in Remix); reading it does not consume it. Under React Router's rule
    /// ([`FlashLifetime::UntilRead`](crate::FlashLifetime::UntilRead), its storages' [`SessionRules`]) a flash set in
    /// this request is found too, and reading a flash removes it from the session.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load); [`Error::Json`] when the stored
    /// value does not fit `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.with_copy(|copy| {
            let Some(value) = copy.lookup(key) else {
                return Ok(None);
            };
            let typed = T::deserialize(value).map_err(|source| Error::Json {
                key: key.to_owned(),
                source: source.into(),
            })?;
            // Only a read that succeeded consumes a flash (React Router's rule).
            copy.consume_read(key);
            Ok(Some(typed))
        })
    }

    /// Reads a value as raw JSON; `None` when absent or the session is destroyed.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn get_value(&self, key: &str) -> Result<Option<Value>, Error> {
        self.with_copy(|copy| Ok(copy.read(key)))
    }

    /// True when `key` holds a value or an arriving flash value; false once destroyed.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn has(&self, key: &str) -> Result<bool, Error> {
        self.with_copy(|copy| Ok(copy.has(key)))
    }

    /// Stores `value` under `key`. A value that serializes to JSON `null` removes the key.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`], or [`Error::Json`] when `value` cannot be represented as
    /// JSON.
    pub fn set<T: Serialize>(&self, key: impl Into<String>, value: T) -> Result<(), Error> {
        let (key, value) = to_entry(key, value)?;
        self.with_copy(|copy| copy.set(key, value))
    }

    /// Removes `key` from the values and returns what it held (Remix's `unset`).
    ///
    /// An arriving flash value under the same key stays readable for this request.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn remove(&self, key: &str) -> Result<Option<Value>, Error> {
        self.with_copy(|copy| copy.remove(key))
    }

    /// Adds `by` to the integer counter under `key` (an absent key counts as 0) and
    /// returns the sum as this request sees it.
    ///
    /// This is the tool for counters. Reading `count` and setting `count + 1` loses
    /// increments when two requests do it at once: each saves its own `count + 1`. An
    /// increment is saved as "add `by`", and a store that merges
    /// ([`SessionStorage::merge`](crate::SessionStorage::merge): memory, Redis,
    /// memcached) adds it to the value stored at that moment, so parallel increments
    /// all count. Counters saturate at ±2^53 on Redis (its scripts count in doubles,
    /// exact up to there) and at the `i64` bounds elsewhere; a stored value that is
    /// not an integer when the merge happens counts as 0.
    ///
    /// # Example
    ///
    /// ```
    /// use session_core::Session;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let session = Session::detached()?;
    /// session.load().await?;
    /// assert_eq!(session.increment("hits", 1)?, 1);
    /// assert_eq!(session.increment("hits", 2)?, 3);
    /// assert_eq!(session.get::<i64>("hits")?, Some(3));
    ///
    /// session.set("name", "Zoë")?;
    /// assert!(session.increment("name", 1).is_err(), "not a counter");
    /// # Ok::<(), session_core::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load); [`Error::NotACounter`] when
    /// the key holds something other than an integer (nothing changes then).
    pub fn increment(&self, key: &str, by: i64) -> Result<i64, Error> {
        self.with_copy(|copy| copy.increment(key, by))
    }

    /// Sets a flash value: readable during the next request only, then gone (under
    /// React Router's rule, [`FlashLifetime::UntilRead`](crate::FlashLifetime::UntilRead): readable until first read).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] or [`Error::Json`].
    pub fn flash<T: Serialize>(&self, key: impl Into<String>, value: T) -> Result<(), Error> {
        let (key, value) = to_entry(key, value)?;
        self.with_copy(|copy| copy.flash(key, value))
    }

    /// Gives the session a new ID and keeps its data; call it on login and on every
    /// privilege change (session fixation defence).
    ///
    /// The record under the old ID is deleted when the session is saved, so the old ID
    /// can never be used again. Calling it twice still deletes the original record.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] or [`Error::Randomness`].
    pub fn regenerate_id(&self) -> Result<(), Error> {
        let new_id = SessionId::generate_in(self.inner.rules.ids)?;
        let now = self.inner.policy.clock.now();
        self.with_copy(|copy| copy.regenerate_id(new_id, now))
    }

    /// Destroys the session (logout): its record is deleted and its cookie removed when
    /// the response is sent. Reads then see nothing; a later write in the same request
    /// starts a new session with a new ID (the destroyed record stays deleted).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn destroy(&self) -> Result<(), Error> {
        self.with_copy(|copy| {
            copy.destroy();
            Ok(())
        })
    }

    /// True when something changed that the end of the request must save.
    pub fn is_dirty(&self) -> bool {
        matches!(&*self.lock(), State::Loaded(copy) if copy.is_dirty())
    }

    /// True once [`destroy`](Self::destroy) was called (or a save found the session
    /// ended by a concurrent logout).
    pub fn is_destroyed(&self) -> bool {
        matches!(&*self.lock(), State::Loaded(copy) if copy.phase() == Phase::Destroyed)
    }

    /// The number of values plus arriving flash values (0 once destroyed).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn len(&self) -> Result<usize, Error> {
        self.with_copy(|copy| Ok(copy.len()))
    }

    /// The keys of the values, in sorted order (arriving flash values are not
    /// included); none once destroyed.
    ///
    /// ```
    /// use session_core::Session;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let session = Session::detached()?;
    /// session.load().await?;
    /// session.set("visited.b", true)?;
    /// session.set("visited.a", true)?;
    /// assert_eq!(session.keys()?, ["visited.a", "visited.b"]);
    /// # Ok::<(), session_core::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn keys(&self) -> Result<Vec<String>, Error> {
        self.with_copy(|copy| Ok(copy.keys()))
    }

    /// True when [`len`](Self::len) is 0.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|len| len == 0)
    }
}

/// A key and its value as JSON, or the error naming the key.
fn to_entry<T: Serialize>(key: impl Into<String>, value: T) -> Result<(String, Value), Error> {
    let key = key.into();
    match serde_json::to_value(value) {
        Ok(value) => Ok((key, value)),
        Err(source) => Err(Error::Json {
            key,
            source: source.into(),
        }),
    }
}

impl fmt::Debug for Session {
    /// Shows the state, never the ID or the data (both may be secrets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Session");
        match &*self.lock() {
            State::Unloaded { cookie_value } => out
                .field("loaded", &false)
                .field("has_cookie", &cookie_value.is_some()),
            State::Loaded(copy) => out.field("loaded", &true).field("copy", copy),
        };
        out.finish_non_exhaustive()
    }
}

// A `Session` crosses tasks and threads with the request: keep it `Send + Sync`.
const _: fn() = || {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Session>();
};
