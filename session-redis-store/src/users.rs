//! The per-user index and what it serves: listing and revoking a user's sessions, and
//! renewing an ID with a grace period.
//!
//! The index of a user is a sorted set under `prefix + "user:" + sha256hex(user)`:
//! members are record keys, scores the time (ms) each record ends. Every write of a
//! record bound to a user adds or refreshes its member by one script (`INDEX`), sent
//! alongside the write so that both share a round trip; the script drops members past
//! their end and gives the set the TTL of its longest-lived member, so no entry
//! outlives its session for long. A listing reads the live members (one command) and
//! their records (one `MGET` per page), and reports only records that still exist,
//! are whole sessions and are still bound to that user: a stale entry is never listed.

use std::time::{Duration, SystemTime};

use session_core::{
    hashed_key, session_handle, unix_millis, Error, MoveOutcome, Revoke, SessionId, StoredSession,
    UserSession,
};

use crate::connections::{Repeat, Request};
use crate::replies::{Deleted, Done, Members, Records, Written};
use crate::{millis, scripts, Inner, Lifetime, RedisStore, MAX_TTL};

/// Records read per `MGET` when listing.
const PAGE: usize = 100;

impl Inner {
    /// The key of `user`'s index.
    fn index_key(&self, user: &str) -> String {
        let mut prefix = String::with_capacity(self.key_prefix.len() + 5);
        prefix.push_str(&self.key_prefix);
        prefix.push_str("user:");
        hashed_key(&prefix, user)
    }

    /// Runs `write` (a write of `record` under `key`) and, for a record bound to a
    /// user, the index update beside it, in the same round trip.
    pub(crate) async fn indexed<T>(
        &self,
        key: &str,
        record: &StoredSession,
        write: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(user) = &record.meta.user else {
            return write.await;
        };
        let Lifetime::Ttl(ttl) = self.lifetime(record.expires) else {
            return write.await;
        };
        let now = unix_millis(SystemTime::now());
        // When the session ends: its deadline, never the key's TTL, which a sliding TTL
        // keeps pushing on reads the index never sees. Without a deadline, a key TTL
        // may slide for ever: the entry stays until a listing finds the record gone.
        let ends = match (record.expires, self.sliding_ttl) {
            (Some(deadline), _) => unix_millis(deadline),
            (None, Some(_)) => now.saturating_add(millis(MAX_TTL)),
            (None, None) => now.saturating_add(millis(ttl.unwrap_or(MAX_TTL))),
        };
        let index = self.index_key(user);
        let noted = self.connections.run_script::<Done>(
            "note a session in its user's index",
            Repeat::Safe,
            &scripts::INDEX,
            |cmd| {
                cmd.arg(1).arg(&index).arg(key).arg(ends).arg(now);
            },
        );
        let (written, noted) = tokio::join!(write, noted);
        noted?;
        written
    }

    /// The live, whole sessions bound to `user`, with their keys; stale index
    /// entries are removed.
    async fn live_sessions(&self, user: &str) -> Result<Vec<(String, StoredSession)>, Error> {
        let index = self.index_key(user);
        let now = unix_millis(SystemTime::now());
        let Members(keys) = self
            .connections
            .query("read a user's session index", Repeat::Safe, || {
                let mut cmd = redis::cmd("ZRANGEBYSCORE");
                cmd.arg(&index).arg(now).arg("+inf");
                Request::Cmd(cmd)
            })
            .await?;
        let mut live = Vec::with_capacity(keys.len());
        let mut stale = Vec::new();
        for page in keys.chunks(PAGE) {
            let Records(records) = self
                .connections
                .query("read a user's sessions", Repeat::Safe, || {
                    let mut cmd = redis::cmd("MGET");
                    cmd.arg(page);
                    Request::Cmd(cmd)
                })
                .await?;
            for (key, raw) in page.iter().zip(records) {
                let record = raw
                    .and_then(|raw| StoredSession::decode_live(&raw, "Redis"))
                    .filter(|record| {
                        record.successor.is_none() && record.meta.user.as_deref() == Some(user)
                    });
                match record {
                    Some(record) => live.push((key.clone(), record)),
                    None => stale.push(key.clone()),
                }
            }
        }
        if !stale.is_empty() {
            let Deleted(_) = self
                .connections
                .query("prune a user's session index", Repeat::Safe, || {
                    let mut cmd = redis::cmd("ZREM");
                    cmd.arg(&index).arg(&stale);
                    Request::Cmd(cmd)
                })
                .await?;
        }
        Ok(live)
    }

    /// Deletes the records under `keys` (one `DEL` on a node; one per key on a
    /// cluster, where they live in different slots), and takes them out of `user`'s
    /// index.
    async fn delete_sessions(&self, user: &str, keys: &[String]) -> Result<u64, Error> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut ended = 0;
        if self.connections.is_cluster() {
            for key in keys {
                ended += u64::from(self.delete_key(key).await?);
            }
        } else {
            let Deleted(count) = self
                .connections
                .query("delete a user's sessions", Repeat::Safe, || {
                    let mut cmd = redis::cmd("DEL");
                    cmd.arg(keys);
                    Request::Cmd(cmd)
                })
                .await?;
            ended = count;
        }
        {
            let index = self.index_key(user);
            let Deleted(_) = self
                .connections
                .query("prune a user's session index", Repeat::Safe, || {
                    let mut cmd = redis::cmd("ZREM");
                    cmd.arg(&index).arg(keys);
                    Request::Cmd(cmd)
                })
                .await?;
        }
        Ok(ended)
    }
}

impl RedisStore {
    pub(crate) async fn list_user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<UserSession>, Error> {
        let current = current.map(|id| self.key(id));
        let mut listed: Vec<UserSession> = self
            .inner
            .live_sessions(user)
            .await?
            .into_iter()
            .map(|(key, record)| {
                let is_current = current.as_deref() == Some(key.as_str());
                UserSession::listed(&key, record, is_current)
            })
            .collect();
        UserSession::newest_first(&mut listed);
        Ok(listed)
    }

    pub(crate) async fn revoke_one(&self, user: &str, handle: &str) -> Result<bool, Error> {
        let keys: Vec<String> = self
            .inner
            .live_sessions(user)
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| session_handle(key) == handle)
            .collect();
        Ok(self.inner.delete_sessions(user, &keys).await? > 0)
    }

    pub(crate) async fn revoke_many(&self, user: &str, which: Revoke<'_>) -> Result<u64, Error> {
        let kept = match which {
            Revoke::All => None,
            Revoke::AllBut(id) => Some(self.key(id)),
        };
        let mut ended = 0;
        // A session renewed or moved while this runs lives on under a key the first
        // listing did not have: the next round finds it there.
        for _ in 0..session_core::REVOKE_ROUNDS {
            let keys: Vec<String> = self
                .inner
                .live_sessions(user)
                .await?
                .into_iter()
                .map(|(key, _)| key)
                .filter(|key| kept.as_deref() != Some(key.as_str()))
                .collect();
            if keys.is_empty() {
                break;
            }
            ended += self.inner.delete_sessions(user, &keys).await?;
        }
        Ok(ended)
    }

    /// [`renew`](session_core::SessionStorage::renew): creates the renewed record,
    /// then turns the old one into its successor record by a script that does so only
    /// if the old one is still the whole session the request loaded; if it was gone
    /// (a logout landed first), renewed by a parallel request, or written since, the
    /// renewed record is deleted again and the caller saves into what is there. Two
    /// steps, each on one key, so the same on a cluster. At no moment does the old
    /// ID load nothing while the session lives.
    pub(crate) async fn renew_with_grace(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: Duration,
    ) -> Result<MoveOutcome, Error> {
        let inner = &*self.inner;
        let (from_key, to_key) = (self.key(from), self.key(to));
        let Lifetime::Ttl(ttl) = inner.lifetime(record.expires) else {
            return Ok(if inner.delete_key(&from_key).await? {
                MoveOutcome::Moved
            } else {
                MoveOutcome::Gone
            });
        };
        let json = record.to_json_revised(scripts::new_revision())?;
        let create = async {
            let Written(created) = inner
                .connections
                .query("renew a session's id", Repeat::Never, || {
                    Request::Cmd(inner.set_command(&to_key, &json, "NX", ttl))
                })
                .await?;
            Ok(created)
        };
        if !inner.indexed(&to_key, record, create).await? {
            inner.delete_key(&from_key).await?;
            return Ok(MoveOutcome::IdTaken);
        }
        let successor = StoredSession {
            expires: SystemTime::now().checked_add(grace),
            successor: Some(session_core::Successor::seal(from, to)),
            ..StoredSession::default()
        };
        let successor = successor.to_json_revised(scripts::new_revision())?;
        let loaded = record
            .revision
            .map(|rev| rev.to_string())
            .unwrap_or_default();
        let forwarded: i64 = inner
            .connections
            .run_script(
                "renew a session's id",
                // A resend after a lost reply would find its own successor record and
                // answer "gone", and the renewed record would be deleted.
                Repeat::Never,
                &scripts::FORWARD,
                |cmd| {
                    cmd.arg(1)
                        .arg(&from_key)
                        .arg(&successor)
                        .arg(millis(grace))
                        .arg(&loaded);
                },
            )
            .await?;
        let outcome = match forwarded {
            1 => return Ok(MoveOutcome::Moved),
            2 => MoveOutcome::Changed,
            _ => MoveOutcome::Gone,
        };
        inner.delete_key(&to_key).await?;
        Ok(outcome)
    }
}
