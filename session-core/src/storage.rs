//! The by-ID storage trait that server-side backends implement.

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::{
    Error, Revoke, SessionChanges, SessionData, SessionId, SessionMeta, SessionRules, Successor,
    UserSession,
};

mod by_id;

/// How long a server-side store keeps a record saved without a deadline (no idle or
/// absolute timeout in the policy, no cookie `Max-Age`): two weeks, Django's default
/// session age. Without it, every anonymous visitor whose request writes a session
/// (a flash on a redirect to the login page) would leave a record forever.
///
/// Every store's `ttl` setting replaces it; a record with a deadline gets a TTL
/// matching that deadline instead.
pub const DEFAULT_TTL: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// What became of a [`SessionStorage::move_record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MoveOutcome {
    /// The record under the old ID was there and is gone; the new one is stored.
    Moved,
    /// No live record was under the old ID (a concurrent logout, or an expiry): nothing
    /// was stored under the new ID, and the session is over.
    Gone,
    /// The old record is gone, but the new ID was taken (a collision): nothing was
    /// stored under it. The caller creates the record under a fresh ID instead.
    IdTaken,
    /// ([`renew`](SessionStorage::renew) only.) The record under the old ID changed
    /// since the request loaded it (a parallel request wrote it): nothing moved, and
    /// the old record is as it was, so that the parallel write is not lost. The caller
    /// saves into the old record instead; the renewal waits for a later request.
    Changed,
}

/// A session record as a [`SessionStorage`] keeps it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredSession {
    /// The session's values and flash values.
    pub data: SessionData,
    /// When the record stops being valid (`None`: never).
    pub expires: Option<SystemTime>,
    /// When the session was first saved, if known.
    pub created: Option<SystemTime>,
    /// The backend's version of the record when it was read, handed back with the
    /// changes to [`merge`](SessionStorage::merge), so a store can tell whether the
    /// record changed since: memcached's CAS value, or the `"rev"` a text record's
    /// stamp carries (written by [`to_json_revised`](Self::to_json_revised), read
    /// back by [`from_json`](Self::from_json); the Redis store draws one per write).
    /// `None` where the backend has no such thing. [`to_json`](Self::to_json) never
    /// writes it.
    pub revision: Option<u64>,
    /// The session's login choices: "remember me", its own lifetime, its user, its
    /// label.
    pub meta: SessionMeta,
    /// When the session got its current ID, if it differs from its creation: what
    /// renewal on a timer counts from ([`SessionPolicy::id_renewal`]).
    ///
    /// [`SessionPolicy::id_renewal`]: crate::SessionPolicy::id_renewal
    pub id_issued: Option<SystemTime>,
    /// When the session was last saved; recorded for sessions bound to a user, for
    /// the list of their sessions.
    pub last_used: Option<SystemTime>,
    /// Set on the short-lived record an ID renewal leaves under the old ID: the ID
    /// that replaced it. Loading the old ID during the grace period serves the
    /// successor's session; [`update`](SessionStorage::update) and
    /// [`merge`](SessionStorage::merge) treat such a record as absent.
    pub successor: Option<Successor>,
}

impl StoredSession {
    /// True when the record has an expiry and it is not after `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// True when the record has an expiry and it has passed. Reads the clock only for
    /// records that have an expiry.
    pub fn is_expired(&self) -> bool {
        self.expires
            .is_some_and(|expires| expires <= SystemTime::now())
    }
}

/// Server-side session storage, keyed by [`SessionId`].
///
/// This is the trait to implement for a new backend (a database, a cache, a file
/// system). The cookie then carries only the ID, and every such storage automatically
/// becomes a [`SessionBackend`](crate::SessionBackend) the middleware can drive.
///
/// # Implementing your own
///
/// Write the methods as plain `async fn`s: the trait declares them as returning
/// `impl Future + Send`, so no `#[async_trait]` is needed (or allowed), and the futures
/// are not boxed. They must be `Send`: hold no `std` lock guard across an `.await`.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Mutex, MutexGuard};
///
/// use session_core::{Error, SessionId, SessionStorage, StoredSession};
///
/// #[derive(Default)]
/// struct MapStorage(Mutex<HashMap<String, StoredSession>>);
///
/// impl MapStorage {
///     fn map(&self) -> Result<MutexGuard<'_, HashMap<String, StoredSession>>, Error> {
///         self.0.lock().map_err(|_| Error::Internal("poisoned lock"))
///     }
/// }
///
/// impl SessionStorage for MapStorage {
///     async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
///         Ok(self.map()?.get(id.as_str()).cloned())
///     }
///     async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
///         let mut map = self.map()?;
///         if map.contains_key(id.as_str()) {
///             return Ok(false);
///         }
///         map.insert(id.as_str().to_owned(), record.clone());
///         Ok(true)
///     }
///     async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
///         match self.map()?.get_mut(id.as_str()) {
///             Some(stored) => *stored = record.clone(),
///             None => return Ok(false),
///         }
///         Ok(true)
///     }
///     async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
///         Ok(self.map()?.remove(id.as_str()).is_some())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let storage = MapStorage::default();
/// let id = SessionId::generate()?;
/// assert!(storage.create(&id, &StoredSession::default()).await?);
/// assert!(!storage.create(&id, &StoredSession::default()).await?, "never overwrites");
/// assert!(storage.read(&id).await?.is_some());
/// # Ok::<(), Error>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Contract
///
/// - IDs reaching a storage were already parsed canonically ([`SessionId::parse`]): at
///   most 43 characters of `[A-Za-z0-9_-]`, safe to use in a key as they are.
/// - A storage never creates a record on [`read`](Self::read) or
///   [`update`](Self::update), and never invents IDs.
/// - Expired records must not come back from [`read`](Self::read) (return `None`), even
///   before the backend's own TTL mechanism removes them, and count as absent for
///   [`create`](Self::create) and [`update`](Self::update). Return the deadline you were
///   given in [`StoredSession::expires`]: the caller checks it once more.
/// - [`merge`](Self::merge), like [`update`](Self::update), never creates a record, and
///   a store that overrides it must apply the changes in one atomic step against the
///   record as stored (a script, a compare-and-swap, an entry lock).
/// - [`create`](Self::create) and [`update`](Self::update) must each be one atomic step
///   in the backend (Redis `SET NX`/`SET XX`, memcached's `ME`/`MR` set modes, an entry
///   API):
///   a check followed by a separate write would let two requests race.
/// - [`delete`](Self::delete) must say truthfully whether a live record was there:
///   [`move_record`](Self::move_record) relies on it so that a login racing a logout
///   cannot bring the logged-out session back under a new ID.
/// - Errors mean the backend could not do the operation. "Not found" is not an error.
pub trait SessionStorage: Send + Sync + 'static {
    /// Reads the record stored under `id`, or `None` if there is no live one.
    ///
    /// # Errors
    ///
    /// When the backend could not be asked.
    fn read(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<StoredSession>, Error>> + Send;

    /// Stores `record` under `id` only if no live record is there. Returns `false`, and
    /// changes nothing, when one is.
    ///
    /// # Errors
    ///
    /// When the backend could not be asked.
    fn create(
        &self,
        id: &SessionId,
        record: &StoredSession,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Overwrites the record under `id` only if a live one is there. Returns `false`,
    /// and creates nothing, when none is (it was deleted or expired meanwhile).
    ///
    /// # Errors
    ///
    /// When the backend could not be asked.
    fn update(
        &self,
        id: &SessionId,
        record: &StoredSession,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Saves what one request changed in the session under `id`, only if a live record
    /// is there; `false`, and nothing written, when none is (a logout or an expiry
    /// meanwhile). This is how a loaded session is saved.
    ///
    /// `changes` says what the request changed, key by key; `record` is the whole
    /// session as this request sees it (the record it read, with `changes` applied) and
    /// carries the new deadline, the creation time and the [`revision`] read.
    ///
    /// A store that merges applies `changes` to the record as it is stored *now*, in
    /// one atomic step, by the rules of [`SessionChanges::apply_to`], and sets the
    /// deadline from `record`: parallel requests then keep each other's writes, and
    /// parallel [`increment`]s all count. The Redis store does it in a server-side
    /// script, memcached by compare-and-swap, the memory store under the map's entry
    /// lock.
    ///
    /// The default does not merge: it writes `record` whole with
    /// [`update`](Self::update), so the last of two parallel requests wins the whole
    /// session (what every other session library does). Override it to merge.
    /// A storage that wraps another (counting, tracing, failing on purpose) must
    /// forward `merge` to it, or the wrapped store's merging is lost.
    ///
    /// [`revision`]: StoredSession::revision
    /// [`increment`]: crate::Session::increment
    ///
    /// # Errors
    ///
    /// When the backend could not be asked, or (compare-and-swap) the record kept
    /// changing under every attempt.
    fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        async move {
            let _ = changes;
            self.update(id, record).await
        }
    }

    /// Deletes the record stored under `id`. Returns whether a live record was there
    /// (deleting an unknown or expired ID succeeds, with `false`).
    ///
    /// # Errors
    ///
    /// When the backend could not be asked.
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Moves a session to a new ID ([`Session::regenerate_id`]): only if a live record
    /// is under `from`, deletes it and [creates](Self::create) `record` under `to`.
    /// When none is (a concurrent logout deleted it), nothing is stored under `to`:
    /// [`MoveOutcome::Gone`]. `from` is dead once this returns `Ok`, whatever it
    /// returns.
    ///
    /// The default deletes first and creates only if the delete found the record, so a
    /// logout that lands first always wins. Override it when the backend can do both
    /// in one atomic step (the Redis store runs a script).
    ///
    /// [`Session::regenerate_id`]: crate::Session::regenerate_id
    ///
    /// # Errors
    ///
    /// When either step failed.
    fn move_record(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
    ) -> impl Future<Output = Result<MoveOutcome, Error>> + Send {
        async move {
            if !self.delete(from).await? {
                return Ok(MoveOutcome::Gone);
            }
            Ok(if self.create(to, record).await? {
                MoveOutcome::Moved
            } else {
                MoveOutcome::IdTaken
            })
        }
    }

    /// Renews a session's ID on the policy's timer ([`SessionPolicy::id_renewal`]):
    /// like [`move_record`](Self::move_record), except that the record under `from`
    /// is not deleted but replaced by a short-lived one naming `to` as its
    /// [`successor`](StoredSession::successor), which lives for `grace`. Parallel
    /// requests still carrying `from` then load the renewed session instead of being
    /// logged out; after `grace`, `from` is dead.
    ///
    /// The default is [`move_record`](Self::move_record): no grace period, so a
    /// request racing the renewal with the old ID starts a fresh session. Override it
    /// where the backend can write both records safely (memory, Redis and memcached
    /// do). A store that overrides it must treat a successor record as absent for
    /// [`merge`](Self::merge) (the blanket impl never calls [`update`](Self::update)
    /// on a loaded session), so that a save racing the renewal never turns the old ID
    /// back into a whole session, and must answer [`MoveOutcome::Changed`] (moving
    /// nothing) when the old record is no longer the one the request loaded
    /// ([`StoredSession::revision`]), so that a write landing between the load and the
    /// renewal is not lost.
    ///
    /// [`SessionPolicy::id_renewal`]: crate::SessionPolicy::id_renewal
    ///
    /// # Errors
    ///
    /// When either step failed.
    fn renew(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: Duration,
    ) -> impl Future<Output = Result<MoveOutcome, Error>> + Send {
        async move {
            let _ = grace;
            self.move_record(from, to, record).await
        }
    }

    /// The conventions this storage's sessions follow ([`SessionBackend::rules`]):
    /// [`SessionRules::REMIX`] by default. A storage that wraps another must forward
    /// this.
    ///
    /// [`SessionBackend::rules`]: crate::SessionBackend::rules
    fn rules(&self) -> SessionRules {
        SessionRules::default()
    }

    /// The live sessions bound to `user` ([`Session::set_user`]), `current` marked.
    ///
    /// The default answers [`Error::Unsupported`]: a storage lists a user's sessions
    /// only if it keeps an index of them. A stale index entry (a session that ended,
    /// or was rebound to another user) must never be listed.
    ///
    /// [`Session::set_user`]: crate::Session::set_user
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`], or when the backend could not be asked.
    fn user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> impl Future<Output = Result<Vec<UserSession>, Error>> + Send {
        async move {
            let _ = (user, current);
            Err(Error::Unsupported {
                backend: "(this storage)",
                operation: "list a user's sessions",
            })
        }
    }

    /// Ends the session of `user` that [`user_sessions`](Self::user_sessions) listed as
    /// `handle`; `false` when there is none (already ended, or not this user's).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] by default, or when the backend could not be asked.
    fn revoke_user_session(
        &self,
        user: &str,
        handle: &str,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        async move {
            let _ = (user, handle);
            Err(Error::Unsupported {
                backend: "(this storage)",
                operation: "revoke one of a user's sessions",
            })
        }
    }

    /// Ends `user`'s sessions ([`Revoke::All`], or all but one) and returns how many
    /// it ended, as far as the storage can count. Must be complete: no session of the
    /// user outlives it (but the one kept).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] by default, or when the backend could not be asked.
    fn revoke_user_sessions(
        &self,
        user: &str,
        which: Revoke<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        async move {
            let _ = (user, which);
            Err(Error::Unsupported {
                backend: "(this storage)",
                operation: "revoke a user's sessions",
            })
        }
    }

    /// Starts a brand-new session in place of a destroyed one (a write after
    /// [`Session::destroy`]): deletes `old`, whether or not it was still there, and
    /// [creates](Self::create) `record` under `id`. `old` must be dead once this
    /// returns, whatever it returns; `false` means `id` was taken and nothing was
    /// stored under it.
    ///
    /// The default calls [`delete`](Self::delete) then [`create`](Self::create).
    /// Override it when the backend can do both in one round trip (a pipeline).
    ///
    /// [`Session::destroy`]: crate::Session::destroy
    ///
    /// # Errors
    ///
    /// When either step failed.
    fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        async move {
            self.delete(old).await?;
            self.create(id, record).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_expired_from_its_deadline_on() {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let record = StoredSession {
            expires: Some(deadline),
            ..StoredSession::default()
        };
        assert!(!record.is_expired_at(deadline - Duration::from_millis(1)));
        assert!(record.is_expired_at(deadline));
        assert!(record.is_expired(), "1970 is past");
        let endless = StoredSession::default();
        assert!(!endless.is_expired_at(SystemTime::now()));
        assert!(!endless.is_expired());
        let future = StoredSession {
            expires: Some(SystemTime::now() + Duration::from_secs(3600)),
            ..StoredSession::default()
        };
        assert!(!future.is_expired());
    }

    #[test]
    fn the_default_ttl_is_two_weeks_as_documented() {
        assert_eq!(DEFAULT_TTL.as_secs(), 1_209_600);
    }
}
