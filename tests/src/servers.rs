//! Finding the real servers the integration tests use, and starting dedicated ones.
//!
//! Shared servers come from the environment (`REDIS_URL`, `REDIS_CLUSTER_URLS`,
//! `MEMCACHE_SERVERS`), which `scripts/test` sets after starting them. Tests that must
//! own a server (counting its commands, killing, pausing or restarting it) start a
//! [`RedisServer`] or a [`MemcachedServer`] of their own.
//!
//! For production-like Redis: [`RedisServer::start_tls`] with a throw-away [`TestPki`]
//! (TLS, optionally mutual), [`RedisServer::start_with_acl`] (passwords and an ACL
//! user), [`SentinelSetup`] (a master, a replica and three sentinels, with failover)
//! and [`TlsRedisCluster`] (three masters, TLS everywhere).
//!
//! For the protocol anomalies no real server produces on demand (garbage, truncated
//! or swapped replies, a reply to a command never sent): [`ScriptedRedis`].
//! For faults no real server produces on demand, [`ScriptedMemcached`] speaks just
//! enough of memcached's meta protocol to misbehave on purpose.
//!
//! Every fixture runs on free loopback ports, is ready when its constructor returns
//! (bounded waits that panic with the reason), and kills its processes and removes its
//! files on drop.

mod cluster;
mod memcached;
mod pki;
mod process;
mod redis_server;
mod resp;
mod scripted_memcached;
mod scripted_redis;
mod sentinel;

pub use cluster::TlsRedisCluster;
pub use memcached::MemcachedServer;
pub use pki::TestPki;
pub use redis_server::{ClientCerts, RedisServer};
pub use scripted_memcached::{MemcachedBehaviour, ScriptedMemcached};
pub use scripted_redis::{bulk, Anomaly, Fault, ScriptedRedis};
pub use sentinel::SentinelSetup;

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test, which starts the servers, or point {name} at one")
    })
}

/// The shared single-node Redis (`REDIS_URL`).
///
/// # Panics
///
/// When `REDIS_URL` is not set, with a message saying how to fix it.
pub fn redis_url() -> String {
    required_env("REDIS_URL")
}

/// The shared Redis Cluster's node URLs (`REDIS_CLUSTER_URLS`, comma-separated).
///
/// # Panics
///
/// When `REDIS_CLUSTER_URLS` is not set.
pub fn redis_cluster_urls() -> Vec<String> {
    required_env("REDIS_CLUSTER_URLS")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A key prefix no other test uses, so tests can share one server.
pub fn unique_prefix(test: &str) -> String {
    let id = session_core::SessionId::generate().expect("os randomness");
    format!("test:{test}:{}:", &id.as_str()[..12])
}

/// The shared memcached servers (`MEMCACHE_SERVERS`, comma-separated `host:port`).
///
/// # Panics
///
/// When `MEMCACHE_SERVERS` is not set.
pub fn memcache_servers() -> Vec<String> {
    required_env("MEMCACHE_SERVERS")
        .split(',')
        .map(str::to_owned)
        .collect()
}
