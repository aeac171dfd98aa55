//! [`MemoryStoreBuilder`]: the settings of a [`MemoryStore`].

use std::sync::Arc;
use std::time::Duration;

use crate::eviction::Evictor;
use crate::{Inner, MemoryStore, DEFAULT_MAX_SESSIONS, DEFAULT_SWEEP_INTERVAL};

/// Settings for a [`MemoryStore`]; start from [`MemoryStore::builder`].
///
/// ```
/// use std::time::Duration;
/// use session_memory_store::MemoryStore;
///
/// let store = MemoryStore::builder()
///     .max_sessions(50_000)
///     .ttl(Duration::from_secs(8 * 3600))
///     .sweep_interval(Duration::from_secs(30))
///     .build();
/// assert_eq!(store.len(), 0);
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct MemoryStoreBuilder {
    ttl: Option<Duration>,
    max_sessions: usize,
    sweep_interval: Duration,
}

impl Default for MemoryStoreBuilder {
    fn default() -> Self {
        Self {
            ttl: Some(crate::DEFAULT_TTL),
            max_sessions: DEFAULT_MAX_SESSIONS,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
        }
    }
}

impl MemoryStoreBuilder {
    /// How long a record saved without a deadline lives (no idle or absolute timeout
    /// configured). Default [`DEFAULT_TTL`](crate::DEFAULT_TTL), two weeks. Records
    /// with a deadline live until it.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The most records the store holds (at least 1). Default
    /// [`DEFAULT_MAX_SESSIONS`]. Past it, creates still succeed and the sessions
    /// closest to their deadline are evicted.
    pub fn max_sessions(mut self, max_sessions: usize) -> Self {
        self.max_sessions = max_sessions.max(1);
        self
    }

    /// How often expired records are swept. Default [`DEFAULT_SWEEP_INTERVAL`].
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// The empty store, with its sweeper thread started.
    pub fn build(self) -> MemoryStore {
        let (stop, stopped) = std::sync::mpsc::channel();
        let inner = Arc::new(Inner {
            records: dashmap::DashMap::new(),
            users: crate::users::UserIndex::default(),
            versions: std::sync::atomic::AtomicU64::new(1),
            ttl: self.ttl,
            evictor: Evictor::new(self.max_sessions),
            _stop_sweeper: stop,
            #[cfg(test)]
            sweeper: std::sync::Mutex::default(),
        });
        let sweeper = session_core::sweeper::start(
            "session-memory-sweeper",
            Arc::downgrade(&inner),
            self.sweep_interval,
            stopped,
            |inner: &Inner| {
                inner.purge_expired();
            },
        );
        #[cfg(test)]
        {
            *inner.sweeper.lock().expect("not poisoned") = sweeper;
        }
        #[cfg(not(test))]
        drop(sweeper); // detached: it ends on its own when the store is dropped
        MemoryStore { inner }
    }
}
