//! Memcached session storage: non-blocking, multiplexed, spread over several servers by
//! consistent hashing, in Remix's key and record layout.
//!
//! A session lives under `prefix + sha256hex(id)` (prefix `remix:session:` by default,
//! as in Remix), so every key is printable, without whitespace and well inside
//! memcached's 250 bytes, whatever the ID. The value is the JSON `[values, flash]`, plus
//! `{"expires": ms}` when the session has a deadline (Remix ignores it).
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use session_memcache_store::{create_memcache_session_storage, MemcacheStore};
//!
//! // The seed's one-liner…
//! let storage = create_memcache_session_storage(["localhost:11211"])?;
//!
//! // …or everything else.
//! let storage = MemcacheStore::builder()
//!     .servers(["cache-1:11211", "cache-2:11211", "cache-3:11211"])
//!     .key_prefix("myapp:session:")
//!     .ttl(Duration::from_secs(60 * 24 * 3600)) // over 30 days is handled
//!     .command_timeout(Duration::from_millis(300))
//!     .build()?;
//! # Ok::<(), session_core::Error>(())
//! ```
//!
//! # Behaviour
//!
//! - **Round trips**: a read is one `mg` (which also returns the item's CAS value); a
//!   new session is one `ms` that only creates (never overwrites); saving a loaded
//!   session is one `ms` by compare-and-swap (`C<cas>`): it stores only if nobody
//!   wrote the record since this request read it, and never resurrects one deleted
//!   meanwhile. When another request did write it, the save reads the record again,
//!   applies this request's changes key by key, and swaps again (at most
//!   [`CAS_ATTEMPTS`] times, with a randomized back-off, then [`Error::Contended`]), so
//!   parallel requests keep each other's writes and parallel increments all count (see
//!   [`SessionStorage::merge`]). A logout is one `md`; moving a session to a new ID
//!   (`regenerate_id`) is `md old`, then `ms new` only if the delete found the old
//!   record (a login racing a logout stays logged out); a new session after a logout
//!   sends `md old` and `ms new` at once (usually to two different servers). These are
//!   memcached's meta commands (1.6 and later).
//! - **Multiplexed connections**: concurrent requests share one connection per server
//!   (more with [`connections`](MemcacheStoreBuilder::connections)) instead of a pool
//!   (the `session-connections` crate says why); their commands are written together
//!   and the replies matched in order.
//! - **Never another request's reply**: every command carries an opaque token (`O…`)
//!   that memcached echoes, and a reply is taken only with its command's token. A
//!   mismatch, a reply to no command, a reply that is not memcached's, or a value over
//!   [`max_record_size`](MemcacheStoreBuilder::max_record_size) closes the connection:
//!   every request on it fails with [`Error::Storage`] and the next one dials afresh.
//! - **Frozen servers** (SIGSTOP, a network black hole): writes have the command
//!   timeout as their deadline; a command that times out closes its connection, so
//!   nothing queued behind it is ever sent after its caller was told it failed; a new
//!   connection must answer a no-op (`mn`) before it carries anything; and a server
//!   never has more sockets open than `connections`. A command already written cannot
//!   be recalled: if its caller timed out, it may still apply when the server resumes.
//! - **Records too large**: a record memcached could not store is refused before
//!   anything is sent, with [`Error::RecordTooLarge`], and the stored one stays
//!   (memcached itself would delete it). Set
//!   [`max_record_size`](MemcacheStoreBuilder::max_record_size) to the servers' `-I`.
//! - **Several servers**: keys are placed by consistent hashing, so adding or removing
//!   one of N servers moves about 1/N of the sessions. A server that is down fails only
//!   its own share, with [`Error::Storage`]: the middleware answers 503, or starts a
//!   fresh session when its policy fails open (`SessionLayer::fail_open`).
//! - **TTLs**: memcached reads relative expirations over 30 days as Unix times; longer
//!   lifetimes are therefore sent as absolute times, so they do not expire at once.
//! - **Never blocks the executor**: the client (our own, on tokio) is asynchronous and
//!   every operation is bounded by the connect and command timeouts.
//! - **Bad records**: a value that is not session JSON is logged as a warning and
//!   treated as no session.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod connection;
mod error;
mod protocol;
mod ring;
mod server;
mod users;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use builder::{MemcacheStoreBuilder, DEFAULT_MAX_RECORD_SIZE};
use protocol::{Command, Item, Outcome, SetMode, Swap};
use ring::Ring;
use server::Server;
use session_core::{
    Error, MoveOutcome, Revoke, SessionChanges, SessionId, SessionStorage, StoredSession,
    UserSession,
};

/// Remix's default key prefix for memcached sessions.
pub const DEFAULT_KEY_PREFIX: &str = "remix:session:";

/// The longest relative expiration memcached accepts (30 days); longer ones must be
/// sent as Unix times.
pub const MAX_RELATIVE_EXPIRATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Memcached's key length limit, and the length of the hashed-ID part of our keys.
const MAX_KEY_LEN: usize = 250;
const HASHED_ID_LEN: usize = 64;

/// The seed's `createMemcacheSessionStorage({ hosts })`: a store over these
/// `host:port` servers with every other setting at its default.
///
/// # Errors
///
/// [`Error::Config`] when a server is not `host:port`. Nothing is dialled yet.
pub fn create_memcache_session_storage<I, S>(hosts: I) -> Result<MemcacheStore, Error>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    MemcacheStore::builder().servers(hosts).build()
}

/// Session storage in memcached. Cloning it is cheap and shares the connections.
#[derive(Clone)]
pub struct MemcacheStore {
    inner: Arc<Inner>,
}

struct Inner {
    servers: Vec<Server>,
    ring: Ring,
    key_prefix: String,
    ttl: Option<Duration>,
}

impl MemcacheStore {
    /// The key a session's record lives under: `prefix + sha256hex(id)`.
    pub fn key(&self, id: &SessionId) -> String {
        id.hashed_key(&self.inner.key_prefix)
    }

    /// The `host:port` of the server that holds `id`'s record.
    pub fn server_for(&self, id: &SessionId) -> &str {
        self.inner.server(&self.key(id)).address()
    }
}

/// The `exptime` memcached needs for a TTL: seconds (rounded up, plus one) up to 30
/// days, the absolute Unix time beyond, at most what memcached's 32-bit `T` flag
/// holds (it refuses a larger one as a bad token).
///
/// The extra second is there because memcached's clock ticks once a second: an item
/// given `N` seconds just before a tick lives barely more than `N - 1`, so a 400 ms
/// renewal grace sent as 1 could vanish a millisecond later. With `N + 1` the item
/// always outlives its deadline, and the deadline in the record, checked on every
/// read, is what ends it.
fn exptime(ttl: Duration, now: SystemTime) -> i64 {
    let seconds = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0))
        .saturating_add(1);
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    if seconds <= MAX_RELATIVE_EXPIRATION.as_secs() as i64 {
        return seconds;
    }
    let unix_now = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    i64::try_from(unix_now)
        .unwrap_or(i64::MAX)
        .saturating_add(seconds)
        .min(i64::from(i32::MAX))
}

impl Inner {
    fn server(&self, key: &str) -> &Server {
        &self.servers[self.ring.server_for(key)]
    }

    /// Deletes `key`; true when memcached had it (`HD`, not `NF`).
    async fn delete_key(&self, key: &str) -> Result<bool, Error> {
        match self
            .server(key)
            .run("delete a session", Command::Delete(key))
            .await?
        {
            Outcome::Deleted(existed) => Ok(existed),
            _ => unreachable!("`Command::outcome` answers a delete with `Deleted` only"),
        }
    }

    /// Stores `record` under `key` if `mode`'s condition holds.
    /// The `exptime` to store a record with deadline `expires` under, or `None` when
    /// the deadline has passed.
    fn exptime_for(&self, expires: Option<SystemTime>) -> Option<i64> {
        let now = SystemTime::now();
        let ttl = match expires {
            Some(expires) => match expires.duration_since(now) {
                Ok(remaining) if !remaining.is_zero() => Some(remaining),
                _ => return None,
            },
            None => self.ttl,
        };
        Some(ttl.map_or(0, |ttl| exptime(ttl, now)))
    }

    /// The item under `key`, with its CAS value.
    async fn read_key(&self, key: &str) -> Result<Option<Item>, Error> {
        match self
            .server(key)
            .run("read a session", Command::Get(key))
            .await?
        {
            Outcome::Value(item) => Ok(item),
            _ => unreachable!("`Command::outcome` answers a get with `Value` only"),
        }
    }

    async fn write_key(
        &self,
        key: &str,
        record: &StoredSession,
        mode: SetMode,
    ) -> Result<bool, Error> {
        let Some(exptime) = self.exptime_for(record.expires) else {
            // Already past its deadline: store nothing, and drop any older copy.
            self.delete_key(key).await?;
            return Ok(true);
        };
        let json = record.to_json()?;
        let command = Command::Set {
            key,
            value: &json,
            exptime,
            mode,
        };
        match self.server(key).run("write a session", command).await? {
            Outcome::Stored(stored) => Ok(stored),
            _ => unreachable!("`Command::outcome` answers a set with `Stored` only"),
        }
    }

    /// [`merge`](SessionStorage::merge) by compare-and-swap: writes the record only if
    /// the item is still the one read; when another request wrote it meanwhile, reads
    /// it again, applies `changes` to that, and tries again, up to [`CAS_ATTEMPTS`]
    /// times. The first attempt needs no read: `record` is the loaded record with the
    /// changes applied, and its revision the loaded item's CAS value.
    async fn merge(
        &self,
        key: &str,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        let Some(exptime) = self.exptime_for(record.expires) else {
            self.delete_key(key).await?;
            return Ok(true);
        };
        let record = &*self.with_generation(record).await?;
        // A request that rebinds the session re-reads the record first, so that a
        // revocation since it loaded is seen (rebinding would otherwise put a revoked
        // record on a live generation).
        let mut known = record
            .revision
            .filter(|_| changes.meta.is_none())
            .map(|cas| (record.to_json(), cas));
        for attempt in 0..CAS_ATTEMPTS {
            let (json, cas) = match known.take() {
                Some((json, cas)) => (json?, cas),
                None => {
                    let Some(item) = self.read_key(key).await? else {
                        return Ok(false);
                    };
                    let Some(mut now) = StoredSession::decode_live(&item.data, "memcached") else {
                        // Expired, or not a session: the session is over either way.
                        return Ok(false);
                    };
                    // A renewal's successor record, or a revoked binding: over too.
                    if now.successor.is_some() || !self.is_unrevoked(&now).await? {
                        return Ok(false);
                    }
                    changes.merge_into(&mut now, record);
                    let now = self.with_generation(&now).await?.into_owned();
                    let Some(cas) = item.cas else {
                        // A server that sends no CAS values cannot merge: write whole.
                        return self.write_key(key, &now, SetMode::Update).await;
                    };
                    (now.to_json()?, cas)
                }
            };
            let command = Command::Swap {
                key,
                value: &json,
                exptime,
                cas,
            };
            match self.server(key).run("write a session", command).await? {
                Outcome::Swapped(Swap::Stored) => return Ok(true),
                Outcome::Swapped(Swap::Gone) => return Ok(false),
                Outcome::Swapped(Swap::Changed) if attempt + 1 < CAS_ATTEMPTS => {
                    back_off(attempt).await;
                }
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

/// How many compare-and-swap writes one save makes at most before it gives up with
/// [`Error::Contended`]. Each conflict means another save of the same session landed
/// first; with the back-off, 50 requests saving one session at once all land within
/// a few attempts each (the conformance suite runs exactly that).
pub const CAS_ATTEMPTS: usize = 16;

/// Waits a random time before attempt `attempt + 1`, up to 1 ms doubled per attempt
/// (at most 32 ms), so that requests that collided do not collide again in step.
async fn back_off(attempt: usize) {
    use std::hash::{BuildHasher, Hasher};
    let ceiling = Duration::from_micros(1000 << attempt.min(5));
    // A fresh `RandomState` is seeded differently each time: jitter without a
    // random-number crate.
    let random = std::hash::RandomState::new().build_hasher().finish();
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    tokio::time::sleep(Duration::from_nanos(random % nanos.max(1))).await;
}
impl SessionStorage for MemcacheStore {
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        let Some(item) = self.inner.read_key(&self.key(id)).await? else {
            return Ok(None);
        };
        let Some(mut record) = StoredSession::decode_live(&item.data, "memcached") else {
            return Ok(None);
        };
        if !self.inner.is_unrevoked(&record).await? {
            // Its user logged out everywhere since it was bound.
            return Ok(None);
        }
        record.revision = item.cas;
        Ok(Some(record))
    }

    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.inner.create_bound(&self.key(id), record).await
    }

    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        let record = self.inner.with_generation(record).await?;
        self.inner
            .write_key(&self.key(id), &record, SetMode::Update)
            .await
    }

    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        self.inner.merge(&self.key(id), record, changes).await
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.inner.delete_key(&self.key(id)).await
    }

    /// Best effort: lists what the user's index still names (see `users.rs`).
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

    /// Complete whatever the index holds: the user moves to a new generation.
    async fn revoke_user_sessions(&self, user: &str, which: Revoke<'_>) -> Result<u64, Error> {
        self.revoke_many(user, which).await
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

    async fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        record: &StoredSession,
    ) -> Result<bool, Error> {
        let (old_key, new_key) = (self.key(old), self.key(id));
        // Usually two servers: ask both at once.
        let (deleted, created) = tokio::join!(
            self.inner.delete_key(&old_key),
            self.inner.create_bound(&new_key, record)
        );
        deleted?;
        created
    }
}

impl fmt::Debug for MemcacheStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<&str> = self.inner.servers.iter().map(Server::address).collect();
        f.debug_struct("MemcacheStore")
            .field("servers", &servers)
            .field("key_prefix", &self.inner.key_prefix)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefix_plus_sha256_hex_as_in_remix() {
        let store = create_memcache_session_storage(["127.0.0.1:11211"]).expect("valid");
        let id = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("uuid");
        // From the vectors the real Remix packages produced.
        assert_eq!(
            store.key(&id),
            "remix:session:30a5154b77ab8b2ddbe19f5e7af72f33cc2a4a41f22940d965102650a1c72863"
        );
    }

    #[test]
    fn long_ttls_become_absolute_times() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // One second more than the TTL, rounded up: memcached's clock ticks each second.
        assert_eq!(exptime(Duration::from_millis(1), now), 2);
        assert_eq!(exptime(Duration::from_millis(1500), now), 3);
        let just_relative = MAX_RELATIVE_EXPIRATION - Duration::from_secs(1);
        assert_eq!(exptime(just_relative, now), 2_592_000);
        // 30 days plus the margin is past memcached's relative limit: an absolute time.
        assert_eq!(
            exptime(MAX_RELATIVE_EXPIRATION, now),
            1_800_000_000 + 2_592_001
        );
        let longer = MAX_RELATIVE_EXPIRATION + Duration::from_secs(1);
        assert_eq!(exptime(longer, now), 1_800_000_000 + 2_592_002);
        assert_eq!(exptime(Duration::MAX, now), i64::from(i32::MAX));
    }
}
