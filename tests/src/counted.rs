//! A wrapper that counts the calls a real storage receives, so tests can assert round
//! trips per request (counts are deterministic; timings are not).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use session_core::{
    Error, MoveOutcome, SessionChanges, SessionId, SessionRules, SessionStorage, StoredSession,
};

/// Calls made so far, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// `read` calls.
    pub reads: usize,
    /// `create`, `update`, `merge`, `move_record` and `replace` calls (each one write).
    pub writes: usize,
    /// `delete` calls, and the delete inside each `move_record` and `replace`.
    pub deletes: usize,
}

/// Wraps a storage and counts every call it forwards. Clones share the counters.
#[derive(Clone, Debug)]
pub struct Counted<S> {
    inner: S,
    counters: Arc<[AtomicUsize; 3]>,
}

impl<S> Counted<S> {
    /// Counts the calls made to `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            counters: Arc::default(),
        }
    }

    /// The calls counted so far.
    pub fn counts(&self) -> CallCounts {
        let [reads, writes, deletes] = &*self.counters;
        CallCounts {
            reads: reads.load(Ordering::SeqCst),
            writes: writes.load(Ordering::SeqCst),
            deletes: deletes.load(Ordering::SeqCst),
        }
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn bump(&self, which: usize) {
        self.counters[which].fetch_add(1, Ordering::SeqCst);
    }
}
impl<S: SessionStorage> SessionStorage for Counted<S> {
    fn rules(&self) -> SessionRules {
        self.inner.rules()
    }

    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        self.bump(0);
        self.inner.read(id).await
    }

    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.bump(1);
        self.inner.create(id, record).await
    }

    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.bump(1);
        self.inner.update(id, record).await
    }

    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        self.bump(1);
        self.inner.merge(id, record, changes).await
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.bump(2);
        self.inner.delete(id).await
    }

    async fn move_record(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
    ) -> Result<MoveOutcome, Error> {
        self.bump(1);
        self.bump(2);
        self.inner.move_record(from, to, record).await
    }

    async fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        // One write and one delete, whether or not the storage pipelines them.
        self.bump(1);
        self.bump(2);
        self.inner.replace(old, id, record).await
    }

    async fn renew(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: std::time::Duration,
    ) -> Result<MoveOutcome, Error> {
        self.bump(1);
        self.bump(2);
        self.inner.renew(from, to, record, grace).await
    }

    async fn user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<session_core::UserSession>, Error> {
        self.inner.user_sessions(user, current).await
    }

    async fn revoke_user_session(&self, user: &str, handle: &str) -> Result<bool, Error> {
        self.inner.revoke_user_session(user, handle).await
    }

    async fn revoke_user_sessions(
        &self,
        user: &str,
        which: session_core::Revoke<'_>,
    ) -> Result<u64, Error> {
        self.inner.revoke_user_sessions(user, which).await
    }
}
