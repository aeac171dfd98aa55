//! The blanket impl that makes every by-ID storage a [`SessionBackend`]: the cookie
//! value is the ID, a renewal's successor record is followed on load, and a save that
//! raced a renewal lands in the renewed session.

use async_trait::async_trait;

use crate::{
    Error, FoundSession, MoveOutcome, Revoke, SessionBackend, SessionId, SessionRules,
    SessionStorage, SessionWrite, StoredSession, UserSession, WriteMode, WriteOutcome,
};

/// Every by-ID storage is a backend whose cookie value is the session ID.
#[async_trait]
impl<S: SessionStorage> SessionBackend for S {
    async fn load(&self, cookie_value: &str) -> Result<Option<FoundSession>, Error> {
        // A value that is not a canonical ID never reaches the storage.
        let Some(id) = SessionId::parse(cookie_value) else {
            return Ok(None);
        };
        let Some(mut stored) = self.read(&id).await? else {
            return Ok(None);
        };
        let mut id = id;
        let renewed = stored.successor.is_some();
        if let Some(sealed) = stored.successor.take() {
            let Some(successor) = sealed.open(&id) else {
                return Ok(None);
            };
            // The old ID of a renewal, within its grace period: it serves only the
            // session that replaced it (one step: a successor's successor is not
            // followed), and the cookie is sent again with the new ID.
            let Some(next) = self.read(&successor).await? else {
                return Ok(None);
            };
            if next.successor.is_some() {
                return Ok(None);
            }
            (id, stored) = (successor, next);
        }
        // Checked here as well as in the storage, so a storage that forgets cannot serve
        // an expired session.
        if stored.is_expired() {
            return Ok(None);
        }
        Ok(Some(FoundSession {
            id,
            data: stored.data,
            expires: stored.expires,
            created: stored.created,
            revision: stored.revision,
            meta: stored.meta,
            id_issued: stored.id_issued,
            reissue: renewed,
        }))
    }

    fn rules(&self) -> SessionRules {
        SessionStorage::rules(self)
    }

    async fn write(&self, write: &SessionWrite<'_>) -> Result<WriteOutcome, Error> {
        let record = write.record;
        let written = match write.mode {
            WriteMode::Create => self.create(write.id, record).await?,
            WriteMode::Update => {
                if self.merge(write.id, record, write.changes).await? {
                    true
                } else {
                    return merge_into_successor(self, write).await;
                }
            }
            WriteMode::Move { from } => match self.move_record(from, write.id, record).await? {
                MoveOutcome::Moved => true,
                MoveOutcome::Gone => return Ok(WriteOutcome::Gone),
                MoveOutcome::IdTaken => false,
                MoveOutcome::Changed => {
                    return Err(Error::Internal(
                        "move_record answered Changed, which only renew may",
                    ))
                }
            },
            WriteMode::Renew { from, grace } => {
                match self.renew(from, write.id, record, grace).await? {
                    MoveOutcome::Moved => true,
                    MoveOutcome::IdTaken => false,
                    // Not renewed: a parallel request wrote the old record since this
                    // one loaded it, or renewed it first, or logged out.
                    MoveOutcome::Changed | MoveOutcome::Gone => {
                        return save_unrenewed(self, from, write).await;
                    }
                }
            }
            WriteMode::Replace { old } => self.replace(old, write.id, record).await?,
        };
        Ok(if written {
            WriteOutcome::Written(write.id.as_str().to_owned())
        } else {
            WriteOutcome::IdTaken
        })
    }

    async fn destroy(&self, id: &SessionId) -> Result<(), Error> {
        self.delete(id).await.map(drop)
    }

    async fn user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<UserSession>, Error> {
        SessionStorage::user_sessions(self, user, current).await
    }

    async fn revoke_user_session(&self, user: &str, handle: &str) -> Result<bool, Error> {
        SessionStorage::revoke_user_session(self, user, handle).await
    }

    async fn revoke_user_sessions(&self, user: &str, which: Revoke<'_>) -> Result<u64, Error> {
        SessionStorage::revoke_user_sessions(self, user, which).await
    }
}

/// A renewal that did not happen: this request's changes go to the session as it is
/// now, under the old ID (the renewal waits for the next request), or, if a parallel
/// request renewed it first, into the renewed session; only a logout ends it.
async fn save_unrenewed<S: SessionStorage + ?Sized>(
    storage: &S,
    from: &SessionId,
    write: &SessionWrite<'_>,
) -> Result<WriteOutcome, Error> {
    // The ID keeps its issue time: the next request is due for renewal again.
    let record = StoredSession {
        id_issued: None,
        ..write.record.clone()
    };
    if storage.merge(from, &record, write.changes).await? {
        let value = from.as_str().to_owned();
        return Ok(WriteOutcome::Renamed {
            id: from.clone(),
            value,
        });
    }
    let at_old_id = SessionWrite {
        id: from,
        mode: WriteMode::Update,
        record: &record,
        changes: write.changes,
    };
    merge_into_successor(storage, &at_old_id).await
}

/// The save of a session loaded just before a parallel request renewed its ID: its
/// record was gone. If the renewal left a successor record in its place, the changes
/// go to the renewed session (keeping its login choices unless this request changed
/// them), and the cookie moves to the new ID; otherwise the session is over.
async fn merge_into_successor<S: SessionStorage + ?Sized>(
    storage: &S,
    write: &SessionWrite<'_>,
) -> Result<WriteOutcome, Error> {
    let Some(successor) = storage
        .read(write.id)
        .await?
        .and_then(|gone| gone.successor)
        .and_then(|sealed| sealed.open(write.id))
    else {
        return Ok(WriteOutcome::Gone);
    };
    let Some(next) = storage.read(&successor).await? else {
        return Ok(WriteOutcome::Gone);
    };
    let record = StoredSession {
        meta: if write.changes.meta.is_some() {
            write.record.meta.clone()
        } else {
            next.meta
        },
        id_issued: next.id_issued,
        revision: None,
        ..write.record.clone()
    };
    if !storage.merge(&successor, &record, write.changes).await? {
        return Ok(WriteOutcome::Gone);
    }
    let value = successor.as_str().to_owned();
    Ok(WriteOutcome::Renamed {
        id: successor,
        value,
    })
}
