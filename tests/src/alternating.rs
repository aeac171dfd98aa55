//! Two instances of a storage taking turns: what two processes sharing one directory
//! (or one server) look like to a session, within one test.

use std::sync::atomic::{AtomicUsize, Ordering};

use session_core::{
    Error, MoveOutcome, SessionChanges, SessionId, SessionRules, SessionStorage, StoredSession,
};

/// Sends each call to the next of two storages in turn, so that every case of the
/// conformance suite runs against two instances at once: a record one created is read,
/// updated, merged and deleted by the other.
///
/// ```
/// use session_memory_store::MemoryStore;
/// use session_tests::Alternating;
///
/// let store = MemoryStore::new();
/// let both = Alternating::new(store.clone(), store);
/// # let _ = both;
/// ```
pub struct Alternating<S> {
    storages: [S; 2],
    next: AtomicUsize,
}

impl<S> Alternating<S> {
    /// `first` and `second`, taking turns, `first` first.
    pub fn new(first: S, second: S) -> Self {
        Self {
            storages: [first, second],
            next: AtomicUsize::new(0),
        }
    }

    fn turn(&self) -> &S {
        &self.storages[self.next.fetch_add(1, Ordering::Relaxed) % 2]
    }
}
impl<S: SessionStorage> SessionStorage for Alternating<S> {
    fn rules(&self) -> SessionRules {
        self.storages[0].rules()
    }
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        self.turn().read(id).await
    }
    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.turn().create(id, record).await
    }
    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.turn().update(id, record).await
    }
    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        self.turn().merge(id, record, changes).await
    }
    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.turn().delete(id).await
    }
    async fn move_record(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
    ) -> Result<MoveOutcome, Error> {
        self.turn().move_record(from, to, record).await
    }
    async fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        self.turn().replace(old, id, record).await
    }
}
