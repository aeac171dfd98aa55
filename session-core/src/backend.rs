//! The seam between a [`Session`](crate::Session) and where its data lives between requests.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{Error, SessionData, SessionId};

/// A session as a backend found it: its ID and its data.
#[derive(Clone, Debug)]
pub struct LoadedSession {
    /// The ID the session was found under.
    pub id: SessionId,
    /// Its values and flash values.
    pub data: SessionData,
}

/// A session to persist at the end of a request.
#[derive(Debug)]
pub struct SessionWrite<'a> {
    /// The ID to store the session under.
    pub id: &'a SessionId,
    /// The ID the session was stored under before [`Session::regenerate_id`] was
    /// called: its record must be gone once the write succeeds, so that the old ID can
    /// never be used again.
    ///
    /// [`Session::regenerate_id`]: crate::Session::regenerate_id
    pub replaces: Option<&'a SessionId>,
    /// What to store: the values and the flash values for the next request.
    pub data: &'a SessionData,
    /// When the session stops being valid, if it has a lifetime.
    pub expires: Option<SystemTime>,
}

/// Where sessions live between requests, seen from the cookie's side.
///
/// This is the one seam the middleware drives, and both kinds of storage plug into it:
///
/// - **by-ID storage** (memory, Redis, memcached, your own): the cookie carries only the
///   session ID. Implement [`SessionStorage`](crate::SessionStorage) and you get this
///   trait for free through a blanket implementation.
/// - **cookie storage**: the cookie carries the whole session; its backend turns a cookie
///   value into a session and back without any server-side state.
///
/// Cookie values passed in and returned here are plain text: signing, verifying and
/// encoding them is the middleware's job, done before [`load`](Self::load) and after
/// [`write`](Self::write).
///
/// # Implementing your own
///
/// You rarely need to: implement [`SessionStorage`](crate::SessionStorage) instead. This
/// trait is for backends whose cookie value is not just an ID.
///
/// ```
/// use async_trait::async_trait;
/// use session_core::{Error, LoadedSession, SessionBackend, SessionData, SessionId, SessionWrite};
///
/// /// Keeps only a session's ID in the cookie and forgets its data: a toy.
/// struct Forgetful;
///
/// #[async_trait]
/// impl SessionBackend for Forgetful {
///     async fn load(&self, cookie_value: &str) -> Result<Option<LoadedSession>, Error> {
///         Ok(SessionId::parse(cookie_value).map(|id| LoadedSession { id, data: SessionData::default() }))
///     }
///     async fn write(&self, write: &SessionWrite<'_>) -> Result<String, Error> {
///         Ok(write.id.as_str().to_owned())
///     }
///     async fn destroy(&self, _id: &SessionId) -> Result<(), Error> {
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait SessionBackend: Send + Sync + 'static {
    /// Finds the session a (verified, decoded) cookie value refers to.
    ///
    /// Returns `Ok(None)` when the value does not name a live session (unknown ID,
    /// expired, malformed, corrupt record): the caller then starts a fresh session with a
    /// new ID and never adopts the presented one.
    ///
    /// # Errors
    ///
    /// Only when the backend could not answer (an outage): the request then fails rather
    /// than silently logging the user out.
    async fn load(&self, cookie_value: &str) -> Result<Option<LoadedSession>, Error>;

    /// Persists a session and returns the cookie value that refers to it.
    ///
    /// When [`SessionWrite::replaces`] is set, the old ID must be dead once this returns
    /// `Ok`.
    ///
    /// # Errors
    ///
    /// When the session could not be persisted; nothing may be reported as saved then.
    async fn write(&self, write: &SessionWrite<'_>) -> Result<String, Error>;

    /// Deletes the session stored under `id` (logout). Deleting an unknown ID succeeds.
    ///
    /// # Errors
    ///
    /// When the backend could not be reached: the logout must then not look successful.
    async fn destroy(&self, id: &SessionId) -> Result<(), Error>;
}
