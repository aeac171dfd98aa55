//! In-memory session storage for one process: a sharded [`DashMap`] with expiry, a cap
//! on how many sessions it holds, and a background sweeper.
//!
//! Good for development, tests and single-instance services. Sessions are lost when the
//! process exits and are not shared between instances: use Redis or memcached storage
//! for that.
//!
//! # Example
//!
//! ```
//! use session_core::{SessionId, SessionStorage, StoredSession};
//! use session_memory_store::MemoryStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let store = MemoryStore::new();
//! let id = SessionId::generate()?;
//! assert!(store.create(&id, &StoredSession::default()).await?);
//! assert!(store.read(&id).await?.is_some());
//! assert!(store.delete(&id).await?);
//! assert!(store.read(&id).await?.is_none());
//! # Ok::<(), session_core::Error>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Bounded by default
//!
//! Memory must not grow with the number of visitors, however many arrive:
//!
//! - A record written with a deadline is never returned after it, whether or not the
//!   sweeper has run yet; one written without (no timeout configured) lives for the
//!   store's [`ttl`](MemoryStoreBuilder::ttl), [`DEFAULT_TTL`] (two weeks) unless set.
//! - The sweeper removes expired records every [`DEFAULT_SWEEP_INTERVAL`] (or the
//!   interval you choose). It is a small thread of its own, so it works whatever
//!   runtime (or none) the store lives in, and it stops as soon as the last clone of the
//!   store is dropped.
//! - At most [`max_sessions`](MemoryStoreBuilder::max_sessions) records
//!   ([`DEFAULT_MAX_SESSIONS`] unless set) are held. A create past the cap still
//!   succeeds, and then the sessions closest to their deadline are evicted (see
//!   `eviction.rs`), logged at `debug!` with the eviction rate. A request never fails
//!   because the store is full; an evicted user gets a fresh session.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod eviction;
mod held;
mod users;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use session_core::{
    session_handle, Error, MoveOutcome, Revoke, SessionChanges, SessionId, SessionStorage,
    StoredSession, UserSession,
};

pub use builder::MemoryStoreBuilder;
pub use session_core::DEFAULT_TTL;

use eviction::Evictor;
use held::Held;
use users::UserIndex;

/// How often expired sessions are swept by default.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How many sessions a store holds by default before it evicts: at a few hundred bytes
/// per session, some tens of megabytes.
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

/// Session storage in this process's memory. Cloning it is cheap and shares the data.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    records: DashMap<SessionId, Held>,
    /// Which sessions each user has, for listing and revoking them.
    users: UserIndex,
    /// The last record version handed out ([`Held`]'s `version`).
    versions: std::sync::atomic::AtomicU64,
    /// The lifetime of a record written without a deadline (`None`: until deleted).
    ttl: Option<Duration>,
    evictor: Evictor,
    /// Dropping this (with the store) wakes the sweeper thread and ends it.
    _stop_sweeper: std::sync::mpsc::Sender<()>,
    /// The sweeper thread, for the tests that check it stops.
    #[cfg(test)]
    sweeper: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Inner {
    /// Counts and settings only: the map holds session IDs and data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.records.len())
            .field("ttl", &self.ttl)
            .field("evictor", &self.evictor)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store with the defaults: records without a deadline live for
    /// [`DEFAULT_TTL`], at most [`DEFAULT_MAX_SESSIONS`] are held, expired ones are
    /// swept every [`DEFAULT_SWEEP_INTERVAL`].
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts a store with settings of its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_memory_store::MemoryStore;
    ///
    /// let store = MemoryStore::builder()
    ///     .max_sessions(10_000)
    ///     .ttl(Duration::from_secs(24 * 3600))
    ///     .build();
    /// assert!(store.is_empty());
    /// ```
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder::default()
    }

    /// An empty store that sweeps expired sessions every `interval`, with the other
    /// defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_memory_store::MemoryStore;
    ///
    /// let store = MemoryStore::with_sweep_interval(Duration::from_secs(10));
    /// assert!(store.is_empty());
    /// ```
    pub fn with_sweep_interval(interval: Duration) -> Self {
        Self::builder().sweep_interval(interval).build()
    }

    /// Records held, including expired ones the sweeper has not removed yet.
    pub fn len(&self) -> usize {
        self.inner.records.len()
    }

    /// True when no records are held.
    pub fn is_empty(&self) -> bool {
        self.inner.records.is_empty()
    }

    /// How many live sessions were evicted to keep within
    /// [`max_sessions`](MemoryStoreBuilder::max_sessions) since the store was made.
    pub fn evicted(&self) -> u64 {
        self.inner.evictor.evicted()
    }

    /// Removes every expired record now and returns how many there were.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use session_core::{SessionId, SessionStorage, StoredSession};
    /// use session_memory_store::MemoryStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let store = MemoryStore::new();
    /// let past = SystemTime::now() - Duration::from_secs(1);
    /// let record = StoredSession { expires: Some(past), ..StoredSession::default() };
    /// store.create(&SessionId::generate()?, &record).await?;
    /// assert_eq!(store.purge_expired(), 1);
    /// assert!(store.is_empty());
    /// # Ok::<(), session_core::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn purge_expired(&self) -> usize {
        self.inner.purge_expired()
    }
}

impl Inner {
    fn purge_expired(&self) -> usize {
        let now = SystemTime::now();
        let before = self.records.len();
        // `retain` locks one shard at a time, so requests on other shards go on meanwhile.
        self.records.retain(|_, held| !held.is_expired_at(now));
        self.users.prune(&self.records);
        before.saturating_sub(self.records.len())
    }

    fn hold(&self, record: &StoredSession) -> Held {
        Held::new(
            record.clone(),
            self.until(record.expires),
            self.next_version(),
        )
    }

    /// A version for the next write: never one handed out before by this store.
    fn next_version(&self) -> u64 {
        self.versions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// When a record with deadline `expires` is dropped: at it, or after the store's TTL.
    fn until(&self, expires: Option<SystemTime>) -> Option<SystemTime> {
        match expires {
            Some(expires) => Some(expires),
            // A TTL too long for the clock means no deadline at all.
            None => self.ttl.and_then(|ttl| SystemTime::now().checked_add(ttl)),
        }
    }
}
impl SessionStorage for MemoryStore {
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        // The guard is dropped before returning: no shard lock is held across an await.
        let record = self
            .inner
            .records
            .get(id)
            .filter(|held| !held.is_expired())
            .map(|held| held.record());
        Ok(record)
    }

    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        // The entry API holds the shard's lock from the check to the insert: two
        // requests cannot both create the same ID.
        let created = match self.inner.records.entry(id.clone()) {
            Entry::Occupied(mut taken) if taken.get().is_expired() => {
                taken.insert(self.inner.hold(record));
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(free) => {
                free.insert(self.inner.hold(record));
                true
            }
        };
        if created {
            if let Some(user) = &record.meta.user {
                self.inner.users.saved(id, user);
            }
        }
        // Only a create adds a record, so only a create can go past the cap. The shard
        // lock is released by now: eviction takes the shards one at a time.
        if created {
            self.inner.evictor.keep_within(&self.inner.records);
        }
        Ok(created)
    }

    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        let updated = match self.inner.records.get_mut(id) {
            Some(mut held) if held.is_live() => {
                *held = self.inner.hold(record);
                true
            }
            // Deleted or expired meanwhile (or renewed: a successor record): a save
            // must not bring it back.
            _ => false,
        };
        if updated {
            if let Some(user) = &record.meta.user {
                self.inner.users.saved(id, user);
            }
        }
        Ok(updated)
    }

    /// Merges under the shard's lock (the entry API): a parallel request's merge on
    /// the same session waits for this one and then applies its own changes to the
    /// result, so neither loses the other's keys.
    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        let merged = match self.inner.records.get_mut(id) {
            Some(mut held) if held.is_live() => {
                let version = self.inner.next_version();
                held.merge(changes, record, self.inner.until(record.expires), version);
                if let Some(user) = held.user() {
                    self.inner.users.saved(id, user);
                }
                true
            }
            // Deleted or expired meanwhile (or renewed): a save must not bring it back.
            _ => false,
        };
        Ok(merged)
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        let removed = self.inner.records.remove(id);
        Ok(removed.is_some_and(|(_, held)| {
            if let Some(user) = held.user() {
                self.inner.users.deleted(id, user);
            }
            !held.is_expired()
        }))
    }

    /// Creates the renewed record first, then turns the old one into its successor
    /// record under the shard's lock: at no moment does the old ID load nothing, and a
    /// logout that deleted the old record first wins (the new one is removed again).
    async fn renew(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: Duration,
    ) -> Result<MoveOutcome, Error> {
        if !self.create(to, record).await? {
            self.delete(from).await?;
            return Ok(MoveOutcome::IdTaken);
        }
        let forwarded = match self.inner.records.get_mut(from) {
            Some(held) if held.is_live() && !held.is_version(record.revision) => {
                // Written by a parallel request since this one loaded it: keep that.
                drop(held);
                self.delete(to).await?;
                return Ok(MoveOutcome::Changed);
            }
            Some(mut held) if held.is_live() => {
                let until = SystemTime::now().checked_add(grace);
                let successor = StoredSession {
                    expires: until,
                    successor: Some(session_core::Successor::seal(from, to)),
                    ..StoredSession::default()
                };
                *held = Held::new(successor, until, self.inner.next_version());
                true
            }
            _ => false,
        };
        if !forwarded {
            self.delete(to).await?;
            return Ok(MoveOutcome::Gone);
        }
        Ok(MoveOutcome::Moved)
    }

    async fn user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<UserSession>, Error> {
        let mut listed: Vec<UserSession> = self
            .inner
            .users
            .live(user, &self.inner.records)
            .into_iter()
            .map(|(id, record)| UserSession::listed(id.as_str(), record, current == Some(&id)))
            .collect();
        UserSession::newest_first(&mut listed);
        Ok(listed)
    }

    async fn revoke_user_session(&self, user: &str, handle: &str) -> Result<bool, Error> {
        let found = self
            .inner
            .users
            .live(user, &self.inner.records)
            .into_iter()
            .find(|(id, _)| session_handle(id.as_str()) == handle);
        match found {
            Some((id, _)) => self.delete(&id).await,
            None => Ok(false),
        }
    }

    async fn revoke_user_sessions(&self, user: &str, which: Revoke<'_>) -> Result<u64, Error> {
        let mut ended = 0;
        // A session renewed or moved while this runs lives on under an ID the first
        // listing did not have: the next round finds it there.
        for _ in 0..session_core::REVOKE_ROUNDS {
            let listed: Vec<SessionId> = self
                .inner
                .users
                .live(user, &self.inner.records)
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| !matches!(which, Revoke::AllBut(kept) if kept == id))
                .collect();
            if listed.is_empty() {
                break;
            }
            for id in listed {
                if self.delete(&id).await? {
                    ended += 1;
                }
            }
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests;
