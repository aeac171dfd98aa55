//! The writes that change a session's ID: a move (`regenerate_id`), atomically by
//! script on one node and delete-then-create on a cluster, and a brand-new session
//! replacing a destroyed one, in one transaction or (cluster) two commands at once.
//! The user index is updated around them by the trait methods in `lib.rs`.

use session_core::{Error, MoveOutcome, SessionId, StoredSession};

use crate::connections::{Repeat, Request};
use crate::replies::Replaced;
use crate::{delete_command, scripts, Lifetime, RedisStore};

impl RedisStore {
    pub(crate) async fn move_unindexed(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
    ) -> Result<MoveOutcome, Error> {
        let inner = &*self.inner;
        let (from_key, to_key) = (self.key(from), self.key(to));
        let Lifetime::Ttl(ttl) = inner.lifetime(record.expires) else {
            // Past its deadline: nothing to store under the new ID.
            return Ok(if inner.delete_key(&from_key).await? {
                MoveOutcome::Moved
            } else {
                MoveOutcome::Gone
            });
        };
        let json = record.to_json_revised(scripts::new_revision())?;
        if !inner.connections.is_cluster() {
            return inner.move_atomically(&from_key, &to_key, &json, ttl).await;
        }
        // Two keys in two slots: no script can touch both. Delete first, and create
        // only if the delete found the record, so a logout that lands first wins.
        if !inner.delete_key(&from_key).await? {
            return Ok(MoveOutcome::Gone);
        }
        let created = inner
            .conditional_set("NX", || inner.set_command(&to_key, &json, "NX", ttl))
            .await?;
        Ok(if created {
            MoveOutcome::Moved
        } else {
            MoveOutcome::IdTaken
        })
    }

    pub(crate) async fn replace_unindexed(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        let inner = &*self.inner;
        let (old_key, new_key) = (self.key(old), self.key(id));
        let Lifetime::Ttl(ttl) = inner.lifetime(record.expires) else {
            inner.delete_key(&old_key).await?;
            return Ok(true);
        };
        let json = record.to_json_revised(scripts::new_revision())?;
        let create = || inner.set_command(&new_key, &json, "NX", ttl);
        if inner.connections.is_cluster() {
            // Two keys in two slots cannot share a MULTI; send both at once instead.
            let (deleted, created) = tokio::join!(
                inner.delete_key(&old_key),
                inner.conditional_set("NX", create)
            );
            deleted?;
            return created;
        }
        let Replaced(created) = inner
            .connections
            .query("start a new session after a logout", Repeat::Never, || {
                Request::Transaction(vec![delete_command(&old_key), create()])
            })
            .await?;
        Ok(created)
    }
}
