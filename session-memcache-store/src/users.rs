//! A user's sessions on memcached, which can neither enumerate keys nor keep any key
//! for sure (it may evict an index as readily as a session).
//!
//! Revocation is therefore complete without any index: each user has a revocation
//! generation, a random number under `prefix + "user-gen:" + sha256hex(user)`, and a
//! record bound to the user carries the generation it was bound under
//! ([`SessionMeta::user_generation`]). Loading a bound record reads the user's
//! generation too (a second round trip: the user is known only once the record is
//! read) and refuses the record unless they match. "Log out everywhere" draws a new
//! generation, which ends every session of the user at once, listed or not; a missing
//! generation (evicted) ends them too, which errs on the safe side.
//!
//! Listing is best-effort: a small index under `prefix + "user-idx:" + sha256hex(user)`
//! names the record keys of the user's sessions, noted whenever a bound record is
//! created (a login, a regeneration, a renewal); an evicted index lists nothing, and
//! the sessions it named still end with "log out everywhere".
//!
//! [`SessionMeta::user_generation`]: session_core::SessionMeta::user_generation

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};

use session_core::{
    hashed_key, session_handle, Error, Revoke, SessionId, StoredSession, UserSession,
};

use crate::protocol::{Command, Outcome, SetMode, Swap};
use crate::{Inner, MemcacheStore, CAS_ATTEMPTS};

/// The most record keys an index keeps (the newest): a user with more live sessions
/// lists only these, and "log out everywhere" still ends them all.
const INDEX_LIMIT: usize = 64;

/// A fresh generation: random, so that one recreated after an eviction never matches
/// the one it replaces. Not a secret.
fn new_generation() -> u64 {
    std::hash::RandomState::new().build_hasher().finish()
}

impl Inner {
    fn generation_key(&self, user: &str) -> String {
        hashed_key(&format!("{}user-gen:", self.key_prefix), user)
    }

    fn index_key(&self, user: &str) -> String {
        hashed_key(&format!("{}user-idx:", self.key_prefix), user)
    }

    async fn set_key(
        &self,
        key: &str,
        value: &str,
        exptime: i64,
        mode: SetMode,
    ) -> Result<bool, Error> {
        let command = Command::Set {
            key,
            value,
            exptime,
            mode,
        };
        match self
            .server(key)
            .run("write a user's session bookkeeping", command)
            .await?
        {
            Outcome::Stored(stored) => Ok(stored),
            _ => unreachable!("`Command::outcome` answers a set with `Stored` only"),
        }
    }

    /// The user's generation, if memcached still has one.
    pub(crate) async fn generation(&self, user: &str) -> Result<Option<u64>, Error> {
        let item = self.read_key(&self.generation_key(user)).await?;
        Ok(item.and_then(|item| std::str::from_utf8(&item.data).ok()?.parse().ok()))
    }

    /// The user's generation, made now if there is none (a first login, or one after
    /// an eviction: the sessions of the evicted one are over either way).
    async fn current_generation(&self, user: &str) -> Result<u64, Error> {
        for _ in 0..3 {
            if let Some(generation) = self.generation(user).await? {
                return Ok(generation);
            }
            let generation = new_generation();
            let key = self.generation_key(user);
            if self
                .set_key(&key, &generation.to_string(), 0, SetMode::Create)
                .await?
            {
                return Ok(generation);
            }
            // Another login made one first: read it.
        }
        Err(Error::Contended {
            backend: "memcached",
            attempts: 3,
        })
    }

    /// True when `record` may be served: bound to no user, or to the user's current
    /// generation.
    pub(crate) async fn is_unrevoked(&self, record: &StoredSession) -> Result<bool, Error> {
        let Some(user) = &record.meta.user else {
            return Ok(true);
        };
        let current = self.generation(user).await?;
        Ok(current.is_some() && current == record.meta.user_generation)
    }

    /// `record` with its user's current generation, if it is bound and has none yet
    /// (a new binding).
    pub(crate) async fn with_generation<'r>(
        &self,
        record: &'r StoredSession,
    ) -> Result<Cow<'r, StoredSession>, Error> {
        match &record.meta.user {
            Some(user) if record.meta.user_generation.is_none() => {
                let mut bound = record.clone();
                bound.meta.user_generation = Some(self.current_generation(user).await?);
                Ok(Cow::Owned(bound))
            }
            _ => Ok(Cow::Borrowed(record)),
        }
    }

    /// Notes `key` in its user's index (best effort: a lost race or an eviction only
    /// shortens the list).
    pub(crate) async fn note_in_index(
        &self,
        key: &str,
        record: &StoredSession,
        exptime: i64,
    ) -> Result<(), Error> {
        let Some(user) = &record.meta.user else {
            return Ok(());
        };
        let index = self.index_key(user);
        let mut keys = self.index(&index).await?;
        keys.retain(|noted| noted != key);
        keys.push(key.to_owned());
        let excess = keys.len().saturating_sub(INDEX_LIMIT);
        keys.drain(..excess);
        // The index lives as long as the newest login's record.
        self.set_key(&index, &keys.join(" "), exptime, SetMode::Overwrite)
            .await?;
        Ok(())
    }

    async fn index(&self, index: &str) -> Result<Vec<String>, Error> {
        let item = self.read_key(index).await?;
        Ok(item
            .and_then(|item| String::from_utf8(item.data).ok())
            .map(|text| {
                text.split(' ')
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The live, unrevoked sessions of `user` its index still names.
    async fn listed(&self, user: &str) -> Result<Vec<(String, StoredSession)>, Error> {
        let generation = self.generation(user).await?;
        let mut live = Vec::new();
        for key in self.index(&self.index_key(user)).await? {
            let Some(item) = self.read_key(&key).await? else {
                continue;
            };
            let Some(record) = StoredSession::decode_live(&item.data, "memcached") else {
                continue;
            };
            if record.successor.is_none()
                && record.meta.user.as_deref() == Some(user)
                && generation.is_some()
                && record.meta.user_generation == generation
            {
                live.push((key, record));
            }
        }
        Ok(live)
    }

    /// Moves the user to a new generation: every session bound under the old one ends.
    async fn bump_generation(&self, user: &str) -> Result<u64, Error> {
        let generation = new_generation();
        self.set_key(
            &self.generation_key(user),
            &generation.to_string(),
            0,
            SetMode::Overwrite,
        )
        .await?;
        Ok(generation)
    }

    /// Puts the record under `key` on generation `generation`, by compare-and-swap
    /// (another request may be saving it). `false` when it is gone.
    async fn restamp(&self, key: &str, generation: u64) -> Result<bool, Error> {
        for _ in 0..CAS_ATTEMPTS {
            let Some(item) = self.read_key(key).await? else {
                return Ok(false);
            };
            let Some(mut record) = StoredSession::decode_live(&item.data, "memcached") else {
                return Ok(false);
            };
            let Some(exptime) = self.exptime_for(record.expires) else {
                return Ok(false);
            };
            record.meta.user_generation = Some(generation);
            let json = record.to_json()?;
            let Some(cas) = item.cas else {
                return self.write_key(key, &record, SetMode::Update).await;
            };
            let command = Command::Swap {
                key,
                value: &json,
                exptime,
                cas,
            };
            match self
                .server(key)
                .run("keep the current session", command)
                .await?
            {
                Outcome::Swapped(Swap::Stored) => return Ok(true),
                Outcome::Swapped(Swap::Gone) => return Ok(false),
                Outcome::Swapped(Swap::Changed) => {}
                _ => unreachable!("`Command::outcome` answers a swap with `Swapped` only"),
            }
        }
        Err(Error::Contended {
            backend: "memcached",
            attempts: CAS_ATTEMPTS,
        })
    }
}

impl MemcacheStore {
    pub(crate) async fn list_user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<UserSession>, Error> {
        let current = current.map(|id| self.key(id));
        let mut listed: Vec<UserSession> = self
            .inner
            .listed(user)
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
        for (key, _) in self.inner.listed(user).await? {
            if session_handle(&key) == handle {
                return self.inner.delete_key(&key).await;
            }
        }
        Ok(false)
    }

    /// A new generation ends every session of the user, listed or not; the listed
    /// ones are deleted too, and counted. The one kept is moved to the new generation
    /// first thing after.
    pub(crate) async fn revoke_many(&self, user: &str, which: Revoke<'_>) -> Result<u64, Error> {
        let listed = self.inner.listed(user).await?;
        let generation = self.inner.bump_generation(user).await?;
        let kept = match which {
            Revoke::All => None,
            Revoke::AllBut(id) => {
                let key = self.key(id);
                self.inner.restamp(&key, generation).await?;
                Some(key)
            }
        };
        let mut ended = 0;
        for (key, _) in listed {
            if kept.as_deref() != Some(key.as_str()) && self.inner.delete_key(&key).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }
}

impl Inner {
    /// Creates `record` under `key` (memcached's add mode), on its user's current
    /// generation if it is a new binding, and notes it in the user's index beside the
    /// write.
    pub(crate) async fn create_bound(
        &self,
        key: &str,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        let record = self.with_generation(record).await?;
        let exptime = self.exptime_for(record.expires).unwrap_or(0);
        let (created, noted) = tokio::join!(
            self.write_key(key, &record, SetMode::Create),
            self.note_in_index(key, &record, exptime)
        );
        noted?;
        created
    }
}

impl MemcacheStore {
    /// [`renew`](session_core::SessionStorage::renew): creates the renewed record,
    /// then swaps the old one for its successor record, by compare-and-swap against
    /// the item the request loaded, so that a record written, revoked or ended
    /// meanwhile is never turned into a pointer to a live session. Otherwise the
    /// renewed record is deleted again and the caller saves into what is there.
    pub(crate) async fn renew_with_grace(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: std::time::Duration,
    ) -> Result<session_core::MoveOutcome, Error> {
        use session_core::MoveOutcome;
        let inner = &*self.inner;
        let (from_key, to_key) = (self.key(from), self.key(to));
        if !inner.create_bound(&to_key, record).await? {
            inner.delete_key(&from_key).await?;
            return Ok(MoveOutcome::IdTaken);
        }
        let successor = StoredSession {
            expires: std::time::SystemTime::now().checked_add(grace),
            successor: Some(session_core::Successor::seal(from, to)),
            ..StoredSession::default()
        };
        let Some(exptime) = inner.exptime_for(successor.expires) else {
            // No grace at all: a plain move.
            inner.delete_key(&from_key).await?;
            return Ok(MoveOutcome::Moved);
        };
        let json = successor.to_json()?;
        let gone = || async {
            inner.delete_key(&to_key).await?;
            Ok(MoveOutcome::Gone)
        };
        let cas = match record.revision {
            Some(cas) => cas,
            None => {
                // A server that sends no CAS values: replace the record if it is still
                // a live, unrevoked session (a parallel write may be lost, as on every
                // write to such a server).
                let Some(item) = inner.read_key(&from_key).await? else {
                    return gone().await;
                };
                let live = StoredSession::decode_live(&item.data, "memcached")
                    .filter(|now| now.successor.is_none());
                match live {
                    Some(now) if inner.is_unrevoked(&now).await? => {}
                    _ => return gone().await,
                }
                return if inner
                    .write_key(&from_key, &successor, SetMode::Update)
                    .await?
                {
                    Ok(MoveOutcome::Moved)
                } else {
                    gone().await
                };
            }
        };
        let command = Command::Swap {
            key: &from_key,
            value: &json,
            exptime,
            cas,
        };
        match inner
            .server(&from_key)
            .run("renew a session's id", command)
            .await?
        {
            Outcome::Swapped(Swap::Stored) => Ok(MoveOutcome::Moved),
            Outcome::Swapped(Swap::Gone) => gone().await,
            // Written since this request loaded it (or renewed by a parallel one): keep
            // that; the caller saves into what is there.
            Outcome::Swapped(Swap::Changed) => {
                inner.delete_key(&to_key).await?;
                Ok(MoveOutcome::Changed)
            }
            _ => unreachable!("`Command::outcome` answers a swap with `Swapped` only"),
        }
    }
}
