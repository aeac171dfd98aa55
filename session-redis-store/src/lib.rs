//! Redis session storage: multiplexed, TTL-aware, in Remix's record layout; one node, a
//! Redis Cluster or Sentinel, over TLS, as an ACL user, or on the application's own
//! client.
//!
//! Each session is one key, `prefix + id` (prefix `session:` by default, as in Remix),
//! holding the JSON `[values, flash]`, so a Node Remix app and a Rust service can share
//! one Redis. A third element `{"expires": ms, "created": ms, "rev": n}` records the
//! deadline, the creation time and a random revision every write draws (Remix ignores
//! it; the merge script uses the revision, see below); the key's TTL matches the deadline, or is the
//! store's [`ttl`](RedisStoreBuilder::ttl) (two weeks by default) without one.
//!
//! # Example
//!
//! ```no_run
//! use session_redis_store::{create_redis_session_storage, RedisStore};
//! use std::time::Duration;
//!
//! // The seed's one-liner…
//! let storage = create_redis_session_storage("localhost", 6379)?;
//!
//! // …or everything else.
//! let storage = RedisStore::builder()
//!     .url("redis://:password@redis.internal:6379/2")
//!     .key_prefix("myapp:session:")
//!     .connections(2)
//!     .command_timeout(Duration::from_millis(500))
//!     .sliding_ttl(Duration::from_secs(30 * 60))
//!     .build()?;
//! # Ok::<(), session_core::Error>(())
//! ```
//!
//! # Round trips
//!
//! A read is one `GET` (one `GETEX … PX` with a [sliding TTL](RedisStoreBuilder::sliding_ttl),
//! which slides the key's TTL without a write). Saving a loaded session is one
//! `EVALSHA` of the merge script (`scripts/merge.lua`): it applies what the request
//! changed, key by key, to the record as Redis holds it at that moment, and writes it
//! back with its TTL, only if the key is still there (a logout is never undone). So
//! parallel requests on one session keep each other's writes, and parallel
//! [`Session::increment`](session_core::Session::increment)s all count: see
//! [`SessionStorage::merge`]. Values the request did not touch are copied as text,
//! never decoded and re-encoded. A new session is one `SET … NX PX` (never
//! overwrites); a logout is one `DEL`. Moving a session to a new ID (`regenerate_id`,
//! at login) is one `EVALSHA` of a short script that deletes the old key and creates
//! the new one only if the delete found it, so a login racing a logout cannot bring
//! the session back (on a cluster, where the keys live in different slots: `DEL old`,
//! then `SET new NX` only if it counted one). A script a server does not have cached
//! (after a restart) is sent once whole with `EVAL`. A new session started after a
//! logout in the same request is `DEL old` + `SET new NX` in one `MULTI` pipeline (two
//! concurrent commands on a cluster). An ACL user therefore needs `+get +getex +set
//! +del +evalsha +eval +multi +exec +ping`, and for sessions bound to a user (the
//! per-user index, `users.rs`) `+zadd +zrange +zrangebyscore +zremrangebyscore +zrem
//! +pexpireat +mget` (or `+@read +@write +@scripting +@transaction +ping`). Requests share a few multiplexed connections instead of a pool (the
//! `session-connections` crate says why), and on one node concurrent commands travel
//! together as one pipeline (`batch.rs`), which ends in a `PING` whose echo proves the
//! replies line up with the commands (one per batch, not per command).
//!
//! # Where connections come from
//!
//! | source | builder | costs |
//! |---|---|---|
//! | a URL (`redis://`, `rediss://`) | [`url`](RedisStoreBuilder::url) | the default: the store's own multiplexed connections, commands batched |
//! | Sentinel | [`sentinel`](RedisStoreBuilder::sentinel) | as a URL; each dial asks the sentinels for the master (a few round trips, only when dialling) |
//! | Redis Cluster | [`cluster`](RedisStoreBuilder::cluster) | commands routed per key, not batched |
//! | your `MultiplexedConnection` | [`multiplexed`](RedisStoreBuilder::multiplexed) | as a URL, but not redialled if it breaks |
//! | your `ConnectionManager` | [`connection_manager`](RedisStoreBuilder::connection_manager) | as a URL; it reconnects by itself |
//! | your deadpool pool | [`deadpool`](RedisStoreBuilder::deadpool) | one checkout per connection slot, held while it works (one `UNWATCH`+`PING` per checkout, not per request) |
//! | your cluster connection | [`cluster_connection`](RedisStoreBuilder::cluster_connection) | as a cluster |
//!
//! Every source runs the same commands (the test suite counts them), and TLS, ACL
//! credentials and Sentinel apply to the connections the store opens; the
//! application's own clients carry their own settings.
//!
//! # Failures
//!
//! Every operation is bounded by the connect and command timeouts. A Redis that is
//! down, refusing or slow gives an [`Error::Storage`] (the middleware answers 503 and
//! leaves the cookie alone), whose message says what to change when the cause is the
//! configuration: a wrong password, an untrusted certificate, a hostname mismatch, a
//! missing client certificate. Broken connections are forgotten and dialled again, and
//! a read, a delete or a save without an increment that meets a connection broken by a restart is sent
//! once more on a fresh one, so that those requests do not fail once Redis is back; a
//! create, a login (the move script) or a new session after a logout (a transaction)
//! may still fail once per stale connection, since repeating it could apply it twice
//! (`connections.rs`). A given `MultiplexedConnection`
//! is never redialled. A record that is not valid session JSON is logged as a warning
//! and treated as no session.
//!
//! A reply that does not fit its command (the wrong type, garbage, one reply too many
//! or too few, replies out of order across batches) fails the requests on that
//! connection as out of step and the connection is dropped: no request is ever
//! answered with a reply meant for another. What RESP cannot show is two replies of the
//! same type swapped inside one batch; Redis never does that (`batch.rs`). An absurd
//! length (`$9223372036854775807`) allocates nothing and ends at the command timeout.
//! The application's own `MultiplexedConnection` or `ConnectionManager` cannot be
//! dropped by the store: out of step, it fails the batches it carries (clearly) until
//! redis-rs drops the stray reply, which it does for one arriving while nothing waits
//! (a deadpool pool discards such a connection on recycle, by the same `PING` check).
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `cluster` | [`RedisStoreBuilder::cluster`], [`RedisStoreBuilder::cluster_connection`]: Redis Cluster through the async cluster client |
//! | `tls` | `rediss://` through rustls (ring): [`RedisStoreBuilder::ca_certificate_file`], client certificates, [`RedisStoreBuilder::danger_accept_invalid_certificates`] |
//! | `sentinel` | [`RedisStoreBuilder::sentinel`] |
//! | `deadpool` | [`RedisStoreBuilder::deadpool`], and `deadpool_redis` re-exported |
//! | `connection-manager` | [`RedisStoreBuilder::connection_manager`] |

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
mod builder;
mod connections;
mod dialers;
mod error;
mod moves;
mod open;
mod replies;
mod scripts;
mod tls;
mod users;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use builder::RedisStoreBuilder;
use connections::{Connections, Repeat, Request};
/// The deadpool-redis crate the `deadpool` feature builds on.
#[cfg(feature = "deadpool")]
pub use deadpool_redis;
/// The redis crate this store is built on, so that an application hands over clients
/// (a `MultiplexedConnection`, a `ConnectionManager`) of the very same version.
pub use redis;
use replies::{Deleted, MergeOutcome, Merged, MoveReply, Record, Written};
use session_core::{
    Error, MoveOutcome, Revoke, SessionChanges, SessionId, SessionStorage, StoredSession,
    UserSession,
};

/// Remix's default key prefix for Redis sessions.
pub const DEFAULT_KEY_PREFIX: &str = "session:";

/// The seed's `createRedisSessionStorage({ host, port })`: a store on one Redis node
/// with every other setting at its default.
///
/// # Errors
///
/// [`Error::Config`] when `host` and `port` do not make a valid address. Nothing is
/// dialled yet: connections open on first use.
pub fn create_redis_session_storage(host: &str, port: u16) -> Result<RedisStore, Error> {
    RedisStore::builder()
        .url(format!("redis://{host}:{port}/"))
        .build()
}

/// Session storage in Redis. Cloning it is cheap and shares the connections.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    connections: Connections,
    key_prefix: String,
    hash_keys: bool,
    ttl: Option<Duration>,
    sliding_ttl: Option<Duration>,
}

impl RedisStore {
    /// The key a session's record lives under: `prefix + id` (Remix's layout), or
    /// `prefix + sha256hex(id)` with [`hash_keys`](RedisStoreBuilder::hash_keys).
    pub fn key(&self, id: &SessionId) -> String {
        let prefix = &self.inner.key_prefix;
        if self.inner.hash_keys {
            id.hashed_key(prefix)
        } else {
            let mut key = String::with_capacity(prefix.len() + id.as_str().len());
            key.push_str(prefix);
            key.push_str(id.as_str());
            key
        }
    }
}

/// What a write must do with the key's TTL.
enum Lifetime {
    /// The deadline has passed: the record must not be stored.
    Over,
    /// Set this TTL (`None`: no TTL).
    Ttl(Option<Duration>),
}

impl Inner {
    fn lifetime(&self, expires: Option<SystemTime>) -> Lifetime {
        let remaining = match expires {
            Some(expires) => match expires.duration_since(SystemTime::now()) {
                Ok(remaining) if !remaining.is_zero() => Some(remaining),
                _ => return Lifetime::Over,
            },
            None => self.ttl,
        };
        Lifetime::Ttl(match (remaining, self.sliding_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// `SET key json NX|XX [PX ttl]`: one atomic command that writes only if the key
    /// is absent (`NX`, a create) or present (`XX`, an update).
    fn set_command(
        &self,
        key: &str,
        json: &str,
        condition: &str,
        ttl: Option<Duration>,
    ) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(json).arg(condition);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(millis(ttl));
        }
        cmd
    }

    /// Runs a conditional `SET`; true when Redis stored the value (`OK`, not nil).
    /// An update (`XX`) may be sent twice (the same value twice is one write); a create
    /// (`NX`) may not (a second one would find the first's record and say "taken").
    async fn conditional_set(
        &self,
        condition: &str,
        cmd: impl Fn() -> redis::Cmd,
    ) -> Result<bool, Error> {
        let repeat = if condition == "XX" {
            Repeat::Safe
        } else {
            Repeat::Never
        };
        let Written(stored) = self
            .connections
            .query("write a session", repeat, || Request::Cmd(cmd()))
            .await?;
        Ok(stored)
    }

    /// Writes `record` under `key` if `condition` (`NX`/`XX`) holds.
    async fn write(
        &self,
        key: &str,
        record: &StoredSession,
        condition: &str,
    ) -> Result<bool, Error> {
        let Lifetime::Ttl(ttl) = self.lifetime(record.expires) else {
            // Already past its deadline: store nothing, and drop any older copy.
            self.delete_key(key).await?;
            return Ok(true);
        };
        let json = record.to_json_revised(scripts::new_revision())?;
        self.conditional_set(condition, || self.set_command(key, &json, condition, ttl))
            .await
    }

    /// Deletes `key`; true when Redis had it (`DEL` counted one).
    async fn delete_key(&self, key: &str) -> Result<bool, Error> {
        let Deleted(count) = self
            .connections
            .query("delete a session", Repeat::Safe, || {
                Request::Cmd(delete_command(key))
            })
            .await?;
        Ok(count > 0)
    }

    /// [`move_record`](SessionStorage::move_record) on one node: the check, the delete
    /// and the create in one script, so nothing can land in between.
    async fn move_atomically(
        &self,
        from: &str,
        to: &str,
        json: &str,
        ttl: Option<Duration>,
    ) -> Result<MoveOutcome, Error> {
        let ttl = ttl.map_or(0, millis);
        let MoveReply(outcome) = self
            .connections
            .run_script(
                "move a session to a new id",
                Repeat::Never,
                &scripts::MOVE,
                |cmd| {
                    cmd.arg(2).arg(from).arg(to).arg(json).arg(ttl);
                },
            )
            .await?;
        Ok(outcome)
    }

    /// [`merge`](SessionStorage::merge): `changes` applied to the record as Redis
    /// holds it now, by one script (`scripts/merge.lua`), only if the key is there.
    async fn merge(
        &self,
        key: &str,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        let Lifetime::Ttl(ttl) = self.lifetime(record.expires) else {
            // Already past its deadline: store nothing, and drop any older copy.
            self.delete_key(key).await?;
            return Ok(true);
        };
        let ttl = ttl.map_or(0, millis);
        // This write's revision; the record's as loaded, if it has one, lets the
        // script skip the merge when nobody wrote the key since.
        let first = scripts::new_revision();
        let loaded = record
            .revision
            .map(|rev| rev.to_string())
            .unwrap_or_default();
        // Without its meta: the script keeps the stored one unless `changes` has one.
        let stamp = record
            .stamp_without_meta_to_json(Some(first))?
            .unwrap_or_default();
        let whole = record.to_json_revised(first)?;
        let arguments = scripts::merge_arguments(changes)?;
        // Setting keys twice to the same values is one write; an increment is not.
        let repeat = if changes.has_increments() {
            Repeat::Never
        } else {
            Repeat::Safe
        };
        // A resend draws a new revision: one reused after the first send had landed
        // would let a request that read that write take a later one for it.
        let sent = std::sync::atomic::AtomicBool::new(false);
        let Merged(merged) = self
            .connections
            .run_script("write a session", repeat, &scripts::MERGE, |cmd| {
                cmd.arg(1).arg(key).arg(ttl);
                if !sent.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    cmd.arg(&stamp).arg(&loaded).arg(&whole);
                } else {
                    let revision = scripts::new_revision();
                    cmd.arg(scripts::revised(&stamp, first, revision))
                        .arg(&loaded)
                        .arg(scripts::revised(&whole, first, revision));
                }
                cmd.arg(&arguments);
            })
            .await?;
        match merged {
            MergeOutcome::Merged => Ok(true),
            MergeOutcome::Gone => Ok(false),
            MergeOutcome::Corrupt => {
                tracing::warn!(
                    backend = "Redis",
                    "not saving into a corrupt session record; the user gets a fresh session"
                );
                Ok(false)
            }
        }
    }
}

/// The longest TTL sent: Redis answers "invalid expire time" when now plus the TTL
/// overflows its millisecond clock, which would fail every write of a store built
/// with `ttl(Duration::MAX)`.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

fn delete_command(key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("DEL");
    cmd.arg(key);
    cmd
}

/// A TTL in milliseconds as Redis takes it: at least 1, at most [`MAX_TTL`].
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.min(MAX_TTL).as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
impl SessionStorage for RedisStore {
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        let inner = &*self.inner;
        let key = self.key(id);
        let cmd = || {
            let cmd = match inner.sliding_ttl {
                Some(ttl) => {
                    let mut cmd = redis::cmd("GETEX");
                    cmd.arg(&key).arg("PX").arg(millis(ttl));
                    cmd
                }
                None => {
                    let mut cmd = redis::cmd("GET");
                    cmd.arg(&key);
                    cmd
                }
            };
            Request::Cmd(cmd)
        };
        let Record(raw) = inner
            .connections
            .query("read a session", Repeat::Safe, cmd)
            .await?;
        Ok(raw.and_then(|raw| StoredSession::decode_live(&raw, "Redis")))
    }

    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        let key = self.key(id);
        let write = self.inner.write(&key, record, "NX");
        self.inner.indexed(&key, record, write).await
    }

    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        let key = self.key(id);
        let write = self.inner.write(&key, record, "XX");
        self.inner.indexed(&key, record, write).await
    }

    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        let key = self.key(id);
        let write = self.inner.merge(&key, record, changes);
        self.inner.indexed(&key, record, write).await
    }

    async fn renew(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
        grace: Duration,
    ) -> Result<MoveOutcome, Error> {
        self.renew_with_grace(from, to, record, grace).await
    }

    async fn user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<UserSession>, Error> {
        self.list_user_sessions(user, current).await
    }

    async fn revoke_user_session(&self, user: &str, handle: &str) -> Result<bool, Error> {
        self.revoke_one(user, handle).await
    }

    async fn revoke_user_sessions(&self, user: &str, which: Revoke<'_>) -> Result<u64, Error> {
        self.revoke_many(user, which).await
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.inner.delete_key(&self.key(id)).await
    }

    async fn move_record(
        &self,
        from: &SessionId,
        to: &SessionId,
        record: &StoredSession,
    ) -> Result<MoveOutcome, Error> {
        let moved = self.move_unindexed(from, to, record);
        self.inner.indexed(&self.key(to), record, moved).await
    }

    async fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        let replaced = self.replace_unindexed(old, id, record);
        self.inner.indexed(&self.key(id), record, replaced).await
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.inner.key_prefix)
            .field("hash_keys", &self.inner.hash_keys)
            .field("cluster", &self.inner.connections.is_cluster())
            .field("ttl", &self.inner.ttl)
            .field("sliding_ttl", &self.inner.sliding_ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
