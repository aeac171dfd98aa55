//! In-memory session storage for one process: a sharded [`DashMap`] with expiry and a
//! background sweeper.
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
//! store.delete(&id).await?;
//! assert!(store.read(&id).await?.is_none());
//! # Ok::<(), session_core::Error>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Expiry
//!
//! A record written with an expiry is never returned after it, whether or not the
//! sweeper has run yet. The sweeper removes expired records every
//! [`DEFAULT_SWEEP_INTERVAL`] (or the interval you choose), so memory does not grow
//! without bound. It is a small thread of its own, so it works whatever runtime (or
//! none) the store lives in, and it stops as soon as the last clone of the store is
//! dropped.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use session_core::{async_trait, Error, SessionId, SessionStorage, StoredSession};

/// How often expired sessions are swept by default.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Session storage in this process's memory. Cloning it is cheap and shares the data.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    records: DashMap<SessionId, StoredSession>,
    /// Dropping this (with the store) wakes the sweeper thread and ends it.
    _stop_sweeper: Sender<()>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store that sweeps expired sessions every [`DEFAULT_SWEEP_INTERVAL`].
    pub fn new() -> Self {
        Self::with_sweep_interval(DEFAULT_SWEEP_INTERVAL)
    }

    /// An empty store that sweeps expired sessions every `interval`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_memory_store::MemoryStore;
    ///
    /// let store = MemoryStore::with_sweep_interval(Duration::from_secs(10));
    /// assert!(store.is_empty());
    /// ```
    pub fn with_sweep_interval(interval: Duration) -> Self {
        // A zero interval would make the sweeper spin.
        let interval = interval.max(Duration::from_millis(1));
        let (stop, stopped) = mpsc::channel();
        let inner = Arc::new(Inner {
            records: DashMap::new(),
            _stop_sweeper: stop,
        });
        let store = Arc::downgrade(&inner);
        // A thread rather than an async task: the store then works in any runtime,
        // including tokio runtimes built without a timer, and outside of one.
        let spawned = std::thread::Builder::new()
            .name("session-memory-sweeper".into())
            .spawn(move || sweep_periodically(&store, interval, &stopped));
        if let Err(error) = spawned {
            // Reads still never return expired records; only the memory is not reclaimed.
            tracing::error!(%error, "could not start the memory store's sweeper thread; expired sessions stay in memory until overwritten");
        }
        Self { inner }
    }

    /// Records held, including expired ones the sweeper has not removed yet.
    pub fn len(&self) -> usize {
        self.inner.records.len()
    }

    /// True when no records are held.
    pub fn is_empty(&self) -> bool {
        self.inner.records.is_empty()
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
        self.records.retain(|_, record| !record.is_expired_at(now));
        before.saturating_sub(self.records.len())
    }
}

/// The background sweeper. It holds only a weak reference, so it never keeps a dropped
/// store alive, and the store's drop closes `stopped`, which wakes it to exit at once.
fn sweep_periodically(store: &Weak<Inner>, interval: Duration, stopped: &mpsc::Receiver<()>) {
    loop {
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(store) = store.upgrade() else {
            return;
        };
        store.purge_expired();
    }
}

#[async_trait]
impl SessionStorage for MemoryStore {
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        // The guard is dropped before returning: no shard lock is held across an await.
        let record = self
            .inner
            .records
            .get(id)
            .filter(|entry| !entry.is_expired())
            .map(|entry| entry.value().clone());
        Ok(record)
    }

    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        // The entry API holds the shard's lock from the check to the insert: two
        // requests cannot both create the same ID.
        let created = match self.inner.records.entry(id.clone()) {
            Entry::Occupied(mut taken) if taken.get().is_expired() => {
                taken.insert(record.clone());
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(free) => {
                free.insert(record.clone());
                true
            }
        };
        Ok(created)
    }

    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        let updated = match self.inner.records.get_mut(id) {
            Some(mut stored) if !stored.is_expired() => {
                *stored = record.clone();
                true
            }
            // Deleted or expired meanwhile: a save must not bring it back.
            _ => false,
        };
        Ok(updated)
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        let removed = self.inner.records.remove(id);
        Ok(removed.is_some_and(|(_, record)| !record.is_expired()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(count: u64, expires: Option<SystemTime>) -> StoredSession {
        let mut record = StoredSession {
            expires,
            ..StoredSession::default()
        };
        record.data.values.insert("count".into(), json!(count));
        record
    }

    fn id() -> SessionId {
        SessionId::generate().expect("os randomness")
    }

    #[tokio::test]
    async fn expired_records_are_never_returned_even_before_a_sweep() {
        let store = MemoryStore::new();
        let (past, future) = (id(), id());
        let now = SystemTime::now();
        store
            .create(&past, &record(1, Some(now - Duration::from_millis(1))))
            .await
            .expect("update");
        store
            .create(&future, &record(2, Some(now + Duration::from_secs(60))))
            .await
            .expect("update");
        assert_eq!(store.len(), 2, "nothing swept yet");
        assert_eq!(store.read(&past).await.expect("read"), None);
        let live = store.read(&future).await.expect("read").expect("live");
        assert_eq!(live.data, record(2, None).data);
    }

    /// Waits (really: the sweeper is a thread) until `done` holds, for at most 5 s.
    fn eventually(done: impl Fn() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        done()
    }

    #[test]
    fn the_background_sweeper_removes_expired_records_without_any_runtime() {
        let store = MemoryStore::with_sweep_interval(Duration::from_millis(20));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime without a timer");
        let keep = id();
        runtime.block_on(async {
            let expired = SystemTime::now() - Duration::from_secs(1);
            for _ in 0..3 {
                store
                    .create(&id(), &record(1, Some(expired)))
                    .await
                    .expect("create");
            }
            store.create(&keep, &record(1, None)).await.expect("create");
        });
        assert!(eventually(|| store.len() == 1), "the sweeper did not run");
        assert!(runtime.block_on(store.read(&keep)).expect("read").is_some());
    }

    #[test]
    fn the_sweeper_stops_with_the_store() {
        let store = MemoryStore::with_sweep_interval(Duration::from_secs(3600));
        let weak = Arc::downgrade(&store.inner);
        drop(store);
        assert!(weak.upgrade().is_none(), "the sweeper kept the store alive");
    }

    #[tokio::test]
    async fn create_never_overwrites_and_update_never_creates() {
        let store = MemoryStore::new();
        let key = id();
        assert!(!store.update(&key, &record(0, None)).await.expect("update"));
        assert!(store.is_empty(), "an update created a record");
        assert!(store.create(&key, &record(1, None)).await.expect("create"));
        assert!(!store.create(&key, &record(2, None)).await.expect("create"));
        assert!(store.update(&key, &record(3, None)).await.expect("update"));
        let stored = store.read(&key).await.expect("read").expect("present");
        assert_eq!(stored.data, record(3, None).data);
        store.delete(&key).await.expect("delete");
        store.delete(&key).await.expect("delete again");
        assert!(!store.update(&key, &record(4, None)).await.expect("update"));
        assert!(store.is_empty());
    }

    #[tokio::test]
    async fn an_expired_record_counts_as_absent() {
        let store = MemoryStore::new();
        let key = id();
        let past = SystemTime::now() - Duration::from_secs(1);
        store
            .create(&key, &record(1, Some(past)))
            .await
            .expect("create");
        assert!(!store.update(&key, &record(2, None)).await.expect("update"));
        assert!(store.create(&key, &record(3, None)).await.expect("create"));
    }

    #[tokio::test]
    async fn reads_never_create_records() {
        let store = MemoryStore::new();
        assert_eq!(store.read(&id()).await.expect("read"), None);
        assert!(store.is_empty());
    }
}
