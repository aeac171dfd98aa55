//! The `Session` handle handlers work with.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::{Error, LoadedSession, SessionBackend, SessionId, SessionPolicy, ValueMap};

mod commit;
#[cfg(test)]
mod tests;

/// How far in the future a stored creation time may be before the record is refused:
/// servers' clocks differ a little, a forged or corrupted timestamp differs a lot.
const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(300);

pub use commit::CookieUpdate;

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
    state: Arc<Mutex<State>>,
}

enum State {
    /// Not loaded yet: the cookie value is kept until somebody asks for the data.
    Pending {
        backend: Option<Arc<dyn SessionBackend>>,
        policy: Arc<SessionPolicy>,
        cookie_value: Option<String>,
    },
    Loaded(Box<Loaded>),
}

struct Loaded {
    backend: Option<Arc<dyn SessionBackend>>,
    policy: Arc<SessionPolicy>,
    /// The current ID (changes on `regenerate_id`).
    id: SessionId,
    /// The ID a stored record exists under: set when the session was loaded from
    /// storage or after a successful save. Regenerating or destroying deletes it.
    stored_id: Option<SessionId>,
    /// The stored record of a session destroyed earlier in this request and then used
    /// again: deleted when the new session is saved.
    destroyed_id: Option<SessionId>,
    /// Whether the request presented a session cookie at all (so destroy knows
    /// whether there is a cookie to clear).
    had_cookie: bool,
    /// When the session was first saved (`None` until then).
    created: Option<SystemTime>,
    /// The deadline the stored record carries.
    expires: Option<SystemTime>,
    values: ValueMap,
    /// Flash values that arrived with this request: readable now, dropped on save.
    flash_in: ValueMap,
    /// Flash values set during this request, for the next one.
    flash_next: ValueMap,
    dirty: bool,
    /// The cookie was signed with a secret being rotated out: send it again, re-signed,
    /// with the next save.
    reissue: bool,
    destroyed: bool,
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
        Self::with_state(State::Pending {
            backend: Some(backend),
            policy,
            cookie_value: cookie_value.filter(|value| !value.is_empty()),
        })
    }

    /// A fresh session attached to no storage, with a new ID: for unit tests of code
    /// that takes a `Session`. [`commit`](Self::commit) on it writes nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] if no ID could be minted.
    pub fn detached() -> Result<Self, Error> {
        Ok(Self::with_state(State::Loaded(Box::new(Loaded::fresh(
            None,
            Arc::default(),
            false,
        )?))))
    }

    fn with_state(state: State) -> Self {
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code path panics while holding this lock, and the state stays consistent
        // even if one did, so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
        let (backend, policy, cookie_value) = match &*self.lock() {
            State::Loaded(_) => return Ok(()),
            State::Pending {
                backend,
                policy,
                cookie_value,
            } => (backend.clone(), policy.clone(), cookie_value.clone()),
        };
        let had_cookie = cookie_value.is_some();
        // The lock is released here: it must never be held across an `.await`.
        let found = match (&backend, &cookie_value) {
            (Some(backend), Some(value)) => match backend.load(value).await {
                Ok(found) => found,
                Err(error) if policy.fail_open && error.is_unavailable() => {
                    tracing::warn!(%error, "session storage unavailable; failing open with a fresh session");
                    None
                }
                Err(error) => return Err(error),
            },
            _ => None,
        };
        let now = SystemTime::now();
        let found = found.filter(|found| {
            // A deadline stored under an older, longer policy still ends here, and a
            // creation time in the future (beyond clock skew) is not to be trusted.
            found.expires.is_none_or(|expires| expires > now)
                && found.created.is_none_or(|created| {
                    !policy.is_past_absolute(created, now) && created <= now + CLOCK_SKEW
                })
        });
        let loaded = match found {
            Some(LoadedSession {
                id,
                data,
                expires,
                created,
                reissue,
            }) => Loaded {
                backend,
                policy,
                stored_id: Some(id.clone()),
                destroyed_id: None,
                id,
                had_cookie,
                // Records written by Remix carry no creation time: count from now.
                created: Some(created.unwrap_or(now)),
                expires,
                // Arriving flash values make the session dirty, so that the save at the
                // end of this request clears them (Remix does the same); so does a cookie
                // signed with an old secret, so that it is re-signed with the new one.
                dirty: !data.flash.is_empty() || reissue,
                reissue,
                values: data.values,
                flash_in: data.flash,
                flash_next: ValueMap::new(),
                destroyed: false,
            },
            None => Loaded::fresh(backend, policy, had_cookie)?,
        };
        let mut state = self.lock();
        // If another clone of this handle finished loading first, its state wins.
        if matches!(*state, State::Pending { .. }) {
            *state = State::Loaded(Box::new(loaded));
        }
        Ok(())
    }

    /// True once the data has been loaded.
    pub fn is_loaded(&self) -> bool {
        matches!(*self.lock(), State::Loaded(_))
    }

    fn with_loaded<R>(&self, f: impl FnOnce(&mut Loaded) -> Result<R, Error>) -> Result<R, Error> {
        match &mut *self.lock() {
            State::Loaded(loaded) => f(loaded),
            State::Pending { .. } => Err(Error::NotLoaded),
        }
    }

    /// For writes: a destroyed session first turns into a brand-new one.
    fn with_live<R>(&self, f: impl FnOnce(&mut Loaded) -> Result<R, Error>) -> Result<R, Error> {
        self.with_loaded(|loaded| {
            if loaded.destroyed {
                loaded.start_over()?;
            }
            f(loaded)
        })
    }

    /// The session's current ID (a new one after [`regenerate_id`](Self::regenerate_id)).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn id(&self) -> Result<SessionId, Error> {
        self.with_loaded(|loaded| Ok(loaded.id.clone()))
    }

    /// Reads a value as type `T`; `None` when the key is absent or the session destroyed.
    ///
    /// A flash value that arrived with this request is found too (after the ordinary
    /// values, as in Remix); reading it does not consume it.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load); [`Error::Json`] when the stored
    /// value does not fit `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.with_loaded(|loaded| {
            let Some(value) = loaded.lookup(key) else {
                return Ok(None);
            };
            T::deserialize(value)
                .map(Some)
                .map_err(|source| Error::Json {
                    key: key.to_owned(),
                    source,
                })
        })
    }

    /// Reads a value as raw JSON; `None` when absent or the session is destroyed.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn get_value(&self, key: &str) -> Result<Option<Value>, Error> {
        self.with_loaded(|loaded| Ok(loaded.lookup(key).cloned()))
    }

    /// True when `key` holds a value or an arriving flash value; false once destroyed.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn has(&self, key: &str) -> Result<bool, Error> {
        self.with_loaded(|loaded| {
            Ok(!loaded.destroyed
                && (loaded.values.contains_key(key) || loaded.flash_in.contains_key(key)))
        })
    }

    /// Stores `value` under `key`. A value that serializes to JSON `null` removes the key.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`], or [`Error::Json`] when `value` cannot be represented as
    /// JSON.
    pub fn set<T: Serialize>(&self, key: impl Into<String>, value: T) -> Result<(), Error> {
        let (key, value) = to_entry(key, value)?;
        self.with_live(|loaded| {
            if value.is_null() {
                loaded.values.remove(&key);
            } else {
                loaded.values.insert(key, value);
            }
            loaded.dirty = true;
            Ok(())
        })
    }

    /// Removes `key` from the values and returns what it held (Remix's `unset`).
    ///
    /// An arriving flash value under the same key stays readable for this request.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn remove(&self, key: &str) -> Result<Option<Value>, Error> {
        self.with_live(|loaded| {
            loaded.dirty = true;
            Ok(loaded.values.remove(key))
        })
    }

    /// Sets a flash value: readable during the next request only, then gone.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] or [`Error::Json`].
    pub fn flash<T: Serialize>(&self, key: impl Into<String>, value: T) -> Result<(), Error> {
        let (key, value) = to_entry(key, value)?;
        self.with_live(|loaded| {
            loaded.flash_next.insert(key, value);
            loaded.dirty = true;
            Ok(())
        })
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
        let id = SessionId::generate()?;
        self.with_live(|loaded| {
            loaded.id = id;
            loaded.dirty = true;
            Ok(())
        })
    }

    /// Destroys the session (logout): its record is deleted and its cookie removed when
    /// the response is sent. Reads then see nothing; a later write in the same request
    /// starts a new session with a new ID (the destroyed record stays deleted).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn destroy(&self) -> Result<(), Error> {
        self.with_loaded(|loaded| {
            loaded.destroyed = true;
            Ok(())
        })
    }

    /// True when something changed that the end of the request must save.
    pub fn is_dirty(&self) -> bool {
        match &*self.lock() {
            State::Loaded(loaded) => loaded.dirty,
            State::Pending { .. } => false,
        }
    }

    /// True once [`destroy`](Self::destroy) was called.
    pub fn is_destroyed(&self) -> bool {
        match &*self.lock() {
            State::Loaded(loaded) => loaded.destroyed,
            State::Pending { .. } => false,
        }
    }

    /// The number of values plus arriving flash values (0 once destroyed).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn len(&self) -> Result<usize, Error> {
        self.with_loaded(|loaded| {
            Ok(if loaded.destroyed {
                0
            } else {
                loaded.values.len() + loaded.flash_in.len()
            })
        })
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
        Err(source) => Err(Error::Json { key, source }),
    }
}

impl Loaded {
    fn fresh(
        backend: Option<Arc<dyn SessionBackend>>,
        policy: Arc<SessionPolicy>,
        had_cookie: bool,
    ) -> Result<Self, Error> {
        Ok(Self {
            backend,
            policy,
            id: SessionId::generate()?,
            stored_id: None,
            destroyed_id: None,
            had_cookie,
            created: None,
            expires: None,
            values: ValueMap::new(),
            flash_in: ValueMap::new(),
            flash_next: ValueMap::new(),
            dirty: false,
            reissue: false,
            destroyed: false,
        })
    }

    fn lookup(&self, key: &str) -> Option<&Value> {
        if self.destroyed {
            return None;
        }
        // Remix falls back with `??`: a null value defers to an arriving flash.
        self.values
            .get(key)
            .filter(|value| !value.is_null())
            .or_else(|| self.flash_in.get(key))
    }

    /// Turns a destroyed session into a brand-new one with a new ID, remembering the
    /// destroyed record so that the next save deletes it.
    fn start_over(&mut self) -> Result<(), Error> {
        let fresh = Self::fresh(self.backend.clone(), self.policy.clone(), self.had_cookie)?;
        let destroyed_id = self.stored_id.take().or(self.destroyed_id.take());
        *self = Self {
            destroyed_id,
            dirty: true,
            ..fresh
        };
        Ok(())
    }
}

impl fmt::Debug for Session {
    /// Shows the state, never the ID or the data (both may be secrets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Session");
        match &*self.lock() {
            State::Pending { cookie_value, .. } => out
                .field("loaded", &false)
                .field("has_cookie", &cookie_value.is_some()),
            State::Loaded(loaded) => out
                .field("loaded", &true)
                .field("values", &loaded.values.len())
                .field("flash", &(loaded.flash_in.len() + loaded.flash_next.len()))
                .field("dirty", &loaded.dirty)
                .field("destroyed", &loaded.destroyed),
        };
        out.finish_non_exhaustive()
    }
}

// A `Session` crosses tasks and threads with the request: keep it `Send + Sync`.
const _: fn() = || {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Session>();
};
