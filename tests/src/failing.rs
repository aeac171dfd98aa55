//! A wrapper that makes chosen operations of a real storage fail, as an outage would,
//! while the others keep working: the way to check that a failed write is never
//! reported as a success.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use session_core::{
    Error, MoveOutcome, SessionChanges, SessionId, SessionRules, SessionStorage, StoredSession,
};

/// An operation of [`SessionStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `read`.
    Read,
    /// `create`.
    Create,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
    /// `move_record` (`regenerate_id`).
    Move,
    /// `replace` (a new session after `destroy`).
    Replace,
}

/// Forwards to `inner`, except the operations switched to fail, which answer the
/// storage error of a refused connection without reaching `inner`. Clones share the
/// switches, so a test can set a session up first and fail its save afterwards.
///
/// ```
/// use session_memory_store::MemoryStore;
/// use session_tests::{Failing, Operation};
///
/// let storage = Failing::new(MemoryStore::new());
/// storage.fail(Operation::Update);
/// assert!(storage.fails(Operation::Update));
/// storage.heal();
/// assert!(!storage.fails(Operation::Update));
/// ```
#[derive(Clone, Debug)]
pub struct Failing<S> {
    inner: S,
    failing: Arc<Mutex<HashSet<Operation>>>,
}

impl<S> Failing<S> {
    /// `inner`, with nothing failing yet.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            failing: Arc::default(),
        }
    }

    /// The wrapped storage.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Makes `operation` fail from now on.
    pub fn fail(&self, operation: Operation) {
        self.switches().insert(operation);
    }

    /// Makes every operation work again.
    pub fn heal(&self) {
        self.switches().clear();
    }

    /// Whether `operation` fails now.
    pub fn fails(&self, operation: Operation) -> bool {
        self.switches().contains(&operation)
    }

    fn switches(&self) -> std::sync::MutexGuard<'_, HashSet<Operation>> {
        self.failing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check(&self, operation: Operation, what: &'static str) -> Result<(), Error> {
        if self.fails(operation) {
            let refused =
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
            return Err(Error::storage(what, refused));
        }
        Ok(())
    }
}
impl<S: SessionStorage> SessionStorage for Failing<S> {
    fn rules(&self) -> SessionRules {
        self.inner.rules()
    }

    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        self.check(Operation::Read, "read a session")?;
        self.inner.read(id).await
    }

    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.check(Operation::Create, "write a session")?;
        self.inner.create(id, record).await
    }

    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.check(Operation::Update, "write a session")?;
        self.inner.update(id, record).await
    }

    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        // A merge is how a loaded session is updated: it fails with `Update`.
        self.check(Operation::Update, "write a session")?;
        self.inner.merge(id, record, changes).await
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.check(Operation::Delete, "delete a session")?;
        self.inner.delete(id).await
    }

    async fn move_record(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
    ) -> Result<MoveOutcome, Error> {
        self.check(Operation::Move, "move a session to a new id")?;
        self.inner.move_record(from, to, record).await
    }

    async fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        self.check(Operation::Replace, "start a new session after a logout")?;
        self.inner.replace(old, id, record).await
    }

    async fn renew(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: std::time::Duration,
    ) -> Result<MoveOutcome, Error> {
        self.check(Operation::Move, "renew a session's id")?;
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
