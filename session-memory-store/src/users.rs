//! The per-user index: which session IDs each user's sessions were saved under, for
//! listing and revoking them ([`Session::user_sessions`]).
//!
//! Entries are added whenever a record bound to a user is written, and dropped when
//! the record is deleted. An entry can go stale (the record expired, was evicted, or
//! was rebound to another user): listing checks every entry against its record and
//! prunes the stale ones, so none is ever reported as live; and every sweep prunes the
//! whole index, so none outlives its session by more than a sweep interval.
//!
//! [`Session::user_sessions`]: session_core::Session::user_sessions

use std::collections::HashSet;

use dashmap::DashMap;
use session_core::{SessionId, StoredSession};

use crate::Held;

/// User → the IDs of their sessions.
#[derive(Debug, Default)]
pub(crate) struct UserIndex {
    users: DashMap<String, HashSet<SessionId>>,
}

impl UserIndex {
    /// Notes that the record written under `id` is bound to `user`.
    pub(crate) fn saved(&self, id: &SessionId, user: &str) {
        // Looked up first: a user's later saves find their entry without a new String.
        if let Some(mut ids) = self.users.get_mut(user) {
            ids.insert(id.clone());
            return;
        }
        self.users
            .entry(user.to_owned())
            .or_default()
            .insert(id.clone());
    }

    /// Notes that the record under `id`, bound to `user`, is gone.
    pub(crate) fn deleted(&self, id: &SessionId, user: &str) {
        self.users.remove_if_mut(user, |_, ids| {
            ids.remove(id);
            ids.is_empty()
        });
    }

    /// The live sessions of `user` in `records`, pruning entries that are not.
    pub(crate) fn live(
        &self,
        user: &str,
        records: &DashMap<SessionId, Held>,
    ) -> Vec<(SessionId, StoredSession)> {
        // Copied out first: a write holds a record's shard while it updates the index,
        // so the index's shard is never held while records are read (no lock-order
        // inversion).
        let Some(ids) = self.users.get(user).map(|ids| ids.clone()) else {
            return Vec::new();
        };
        let mut live = Vec::with_capacity(ids.len());
        let mut stale = Vec::new();
        for id in ids {
            let record = records
                .get(&id)
                .filter(|held| held.is_live() && held.user() == Some(user))
                .map(|held| held.record());
            match record {
                Some(record) => live.push((id, record)),
                None => stale.push(id),
            }
        }
        if !stale.is_empty() {
            self.users.remove_if_mut(user, |_, ids| {
                for id in &stale {
                    ids.remove(id);
                }
                ids.is_empty()
            });
        }
        live
    }
}

impl UserIndex {
    /// Drops every entry whose record is gone, ended or rebound: run by each sweep, so
    /// that an index entry outlives its session by at most a sweep interval even for
    /// a user who never lists.
    pub(crate) fn prune(&self, records: &DashMap<SessionId, Held>) {
        // A snapshot first, for the same lock order as `live`.
        let snapshot: Vec<(String, Vec<SessionId>)> = self
            .users
            .iter()
            .map(|entry| (entry.key().clone(), entry.value().iter().cloned().collect()))
            .collect();
        for (user, ids) in snapshot {
            let stale: Vec<SessionId> = ids
                .into_iter()
                .filter(|id| {
                    !records
                        .get(id)
                        .is_some_and(|held| held.is_live() && held.user() == Some(user.as_str()))
                })
                .collect();
            if !stale.is_empty() {
                self.users.remove_if_mut(&user, |_, ids| {
                    for id in &stale {
                        ids.remove(id);
                    }
                    ids.is_empty()
                });
            }
        }
    }

    /// How many users have an entry, for the tests.
    #[cfg(test)]
    pub(crate) fn users(&self) -> usize {
        self.users.len()
    }

    /// How many IDs `user`'s entry holds, for the tests.
    #[cfg(test)]
    pub(crate) fn ids_of(&self, user: &str) -> usize {
        self.users.get(user).map_or(0, |ids| ids.len())
    }
}
