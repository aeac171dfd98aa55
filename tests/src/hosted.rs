//! A storage together with the servers it talks to, so that a conformance case that
//! starts its own servers keeps them exactly as long as the storage.

use std::any::Any;

use session_core::{
    Error, MoveOutcome, SessionChanges, SessionId, SessionRules, SessionStorage, StoredSession,
};

/// `storage`, with `servers` (any fixtures: a TLS server and its PKI, a Sentinel
/// topology) kept alive beside it and dropped with it. Every call goes to `storage`.
///
/// ```
/// use session_memory_store::MemoryStore;
/// use session_tests::Hosted;
///
/// // A fixture that must outlive the storage (here just a value).
/// let hosted = Hosted::new(MemoryStore::new(), String::from("a server"));
/// # let _ = hosted;
/// ```
pub struct Hosted<S> {
    storage: S,
    _servers: Box<dyn Any + Send + Sync>,
}

impl<S> Hosted<S> {
    /// `storage`, keeping `servers` alive as long as it lives.
    pub fn new(storage: S, servers: impl Any + Send + Sync) -> Self {
        Self {
            storage,
            _servers: Box::new(servers),
        }
    }
}
impl<S: SessionStorage> SessionStorage for Hosted<S> {
    fn rules(&self) -> SessionRules {
        self.storage.rules()
    }

    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        self.storage.read(id).await
    }
    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.storage.create(id, record).await
    }
    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.storage.update(id, record).await
    }
    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        self.storage.merge(id, record, changes).await
    }
    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.storage.delete(id).await
    }
    async fn move_record(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
    ) -> Result<MoveOutcome, Error> {
        self.storage.move_record(from, to, record).await
    }
    async fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        self.storage.replace(old, id, record).await
    }

    async fn renew(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: std::time::Duration,
    ) -> Result<MoveOutcome, Error> {
        self.storage.renew(from, to, record, grace).await
    }

    async fn user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<session_core::UserSession>, Error> {
        self.storage.user_sessions(user, current).await
    }

    async fn revoke_user_session(&self, user: &str, handle: &str) -> Result<bool, Error> {
        self.storage.revoke_user_session(user, handle).await
    }

    async fn revoke_user_sessions(
        &self,
        user: &str,
        which: session_core::Revoke<'_>,
    ) -> Result<u64, Error> {
        self.storage.revoke_user_sessions(user, which).await
    }
}
