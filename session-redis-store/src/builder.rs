//! Configuring a Redis store: where its connections come from (a URL, a cluster,
//! Sentinel, or the application's own client), credentials and TLS, the key layout,
//! the connections' timeouts and the key TTLs. `open.rs` turns this into connections.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use session_connections::ConnectSettings;
use session_core::Error;

use crate::{Inner, RedisStore, DEFAULT_KEY_PREFIX};

/// Where the store's connections come from.
pub(crate) enum Target {
    Url(String),
    #[cfg(feature = "cluster")]
    Cluster(Vec<String>),
    #[cfg(feature = "sentinel")]
    Sentinel {
        addresses: Vec<String>,
        master: String,
    },
    Multiplexed(redis::aio::MultiplexedConnection),
    #[cfg(feature = "connection-manager")]
    Manager(redis::aio::ConnectionManager),
    #[cfg(feature = "deadpool")]
    Pool(deadpool_redis::Pool),
    #[cfg(feature = "cluster")]
    ClusterConnection(redis::cluster_async::ClusterConnection),
}

/// Credentials for connections the store opens itself. Never printed.
#[derive(Clone, Default)]
pub(crate) struct Credentials {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

impl Credentials {
    pub(crate) fn is_empty(&self) -> bool {
        self.username.is_none() && self.password.is_none()
    }
}

/// Configures a [`RedisStore`]. Start with [`RedisStore::builder`].
#[must_use = "call `build()` to get the store"]
pub struct RedisStoreBuilder {
    pub(crate) target: Target,
    pub(crate) key_prefix: String,
    pub(crate) hash_keys: bool,
    pub(crate) settings: ConnectSettings,
    pub(crate) ttl: Option<Duration>,
    pub(crate) sliding_ttl: Option<Duration>,
    pub(crate) credentials: Credentials,
    #[cfg(feature = "sentinel")]
    pub(crate) sentinel_credentials: Credentials,
    #[cfg(feature = "tls")]
    pub(crate) tls: crate::tls::TlsOptions,
}

impl RedisStore {
    /// A builder with the defaults: `redis://127.0.0.1:6379/`, prefix `session:`, one
    /// multiplexed connection, 2 s to connect, 1 s per command, a TTL of
    /// [`DEFAULT_TTL`](session_core::DEFAULT_TTL) (two weeks) for sessions saved
    /// without a deadline, no sliding TTL.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder {
            target: Target::Url("redis://127.0.0.1:6379/".to_owned()),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            hash_keys: false,
            settings: ConnectSettings {
                connections: 1,
                connect_timeout: Duration::from_secs(2),
                command_timeout: Duration::from_secs(1),
            },
            ttl: Some(session_core::DEFAULT_TTL),
            sliding_ttl: None,
            credentials: Credentials::default(),
            #[cfg(feature = "sentinel")]
            sentinel_credentials: Credentials::default(),
            #[cfg(feature = "tls")]
            tls: crate::tls::TlsOptions::default(),
        }
    }
}

impl RedisStoreBuilder {
    /// One Redis node: `redis://[user:password@]host[:port][/db]`, or `rediss://…`
    /// for TLS (the `tls` feature).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.target = Target::Url(url.into());
        self
    }

    /// A Redis Cluster, given the URLs of some of its nodes (the rest are discovered).
    /// `rediss://` URLs for a TLS cluster.
    #[cfg(feature = "cluster")]
    pub fn cluster<I, S>(mut self, node_urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.target = Target::Cluster(node_urls.into_iter().map(Into::into).collect());
        self
    }

    /// Redis Sentinel: the store asks these sentinels (`host:port`, or
    /// `redis://[user:password@]host:port` / `rediss://…` URLs) for the current master
    /// of `master_name`, and asks again whenever its connection to the master breaks,
    /// so that after a failover it finds the promoted replica by itself. With
    /// `rediss://` sentinels, the master connections use TLS too.
    #[cfg(feature = "sentinel")]
    pub fn sentinel<I, S>(mut self, sentinels: I, master_name: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.target = Target::Sentinel {
            addresses: sentinels.into_iter().map(Into::into).collect(),
            master: master_name.into(),
        };
        self
    }

    /// Runs on the application's own multiplexed connection (no connection of the
    /// store's own; commands are still batched). It is not dialled again if it breaks:
    /// prefer [`connection_manager`](Self::connection_manager), which reconnects.
    pub fn multiplexed(mut self, connection: redis::aio::MultiplexedConnection) -> Self {
        self.target = Target::Multiplexed(connection);
        self
    }

    /// Runs on the application's own `ConnectionManager` (which reconnects by itself);
    /// commands are still batched.
    #[cfg(feature = "connection-manager")]
    pub fn connection_manager(mut self, manager: redis::aio::ConnectionManager) -> Self {
        self.target = Target::Manager(manager);
        self
    }

    /// Runs on the application's deadpool pool. The store checks out
    /// [`connections`](Self::connections) connections (default 1) and keeps them
    /// while they work, sharing each among all requests as usual: a checkout per
    /// command would cost the pool's `UNWATCH`+`PING` check on every request. Size the
    /// pool with those checkouts in mind; a broken one goes back to the pool, which
    /// discards it.
    #[cfg(feature = "deadpool")]
    pub fn deadpool(mut self, pool: deadpool_redis::Pool) -> Self {
        self.target = Target::Pool(pool);
        self
    }

    /// Runs on the application's own cluster connection.
    #[cfg(feature = "cluster")]
    pub fn cluster_connection(
        mut self,
        connection: redis::cluster_async::ClusterConnection,
    ) -> Self {
        self.target = Target::ClusterConnection(connection);
        self
    }

    /// The ACL user to authenticate as (overrides one in the URL). For connections
    /// the store opens (URL, cluster, Sentinel master), not for the application's own.
    /// It needs `GET`, `GETEX`, `SET`, `DEL`, `EVALSHA`, `EVAL`, `MULTI` and `EXEC` on the key
    /// prefix, and `PING` (every batch of commands ends in one).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.credentials.username = Some(username.into());
        self
    }

    /// The password (overrides one in the URL), so that it need not sit in a URL.
    /// Never printed, logged or put in an error.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.credentials.password = Some(password.into());
        self
    }

    /// The user the store authenticates as with the sentinels (overrides one in the
    /// sentinel URLs).
    #[cfg(feature = "sentinel")]
    pub fn sentinel_username(mut self, username: impl Into<String>) -> Self {
        self.sentinel_credentials.username = Some(username.into());
        self
    }

    /// The password for the sentinels (overrides one in the sentinel URLs).
    #[cfg(feature = "sentinel")]
    pub fn sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel_credentials.password = Some(password.into());
        self
    }

    /// Trusts this CA (PEM) instead of the system's roots, for `rediss://` connections
    /// (a private CA; without it, the system's roots are trusted).
    #[cfg(feature = "tls")]
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_certificate = Some(crate::tls::Pem::Bytes(pem.into()));
        self
    }

    /// Trusts the CA in this PEM file (read by `build()`).
    #[cfg(feature = "tls")]
    pub fn ca_certificate_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls.ca_certificate = Some(crate::tls::Pem::File(path.into()));
        self
    }

    /// Presents this client certificate chain and private key (PEM) for mutual TLS.
    #[cfg(feature = "tls")]
    pub fn client_certificate_pem(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client_certificate = Some((
            crate::tls::Pem::Bytes(certificate.into()),
            crate::tls::Pem::Bytes(key.into()),
        ));
        self
    }

    /// Presents the client certificate and key in these PEM files (read by `build()`).
    #[cfg(feature = "tls")]
    pub fn client_certificate_files(
        mut self,
        certificate: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.tls.client_certificate = Some((
            crate::tls::Pem::File(certificate.into()),
            crate::tls::Pem::File(key.into()),
        ));
        self
    }

    /// Accepts any server certificate, for any host: anyone on the network path can
    /// then read and change every session. Only for a test server with a certificate
    /// you cannot fix; logged as a warning when the store is built.
    #[cfg(feature = "tls")]
    pub fn danger_accept_invalid_certificates(mut self, accept: bool) -> Self {
        self.tls.accept_invalid_certificates = accept;
        self
    }

    /// The prefix of every key (default `session:`, Remix's).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Stores records under `prefix + sha256hex(id)` instead of `prefix + id`, so that
    /// whoever can read Redis (a replica, a backup, `MONITOR`) finds no key that works
    /// as a cookie. Off by default: Remix's layout, which a Node Remix app sharing the
    /// Redis expects. Changing it orphans the sessions stored under the other layout.
    pub fn hash_keys(mut self, hash: bool) -> Self {
        self.hash_keys = hash;
        self
    }

    /// How many multiplexed connections requests are spread over, round robin
    /// (default 1). Each carries any number of concurrent commands, so one is enough
    /// for most services; a few more help when many cores drive one Redis.
    pub fn connections(mut self, count: usize) -> Self {
        self.settings.connections = count;
        self
    }

    /// How long getting a connection may take, dialling or waiting for a dial
    /// (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long one command may take once sent (default 1 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// The TTL of sessions saved without a deadline (Remix's `ttl`), so that no key
    /// lives forever. Default [`DEFAULT_TTL`](session_core::DEFAULT_TTL), two weeks
    /// (Remix sets none). Sessions with a deadline get a TTL matching it. Capped at a
    /// century: Redis refuses an expiry past what its clock can count.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// A key TTL that slides on every read: a key not read or written for `ttl`
    /// expires. Each read resets the TTL with `GETEX … PX` (still one command, no
    /// write); each write sets it. A session's own deadline still applies. Not to be
    /// confused with the session layer's idle timeout (`SessionLayer::idle_timeout`),
    /// which ends idle sessions for every storage: this only lets Redis drop idle keys.
    pub fn sliding_ttl(mut self, ttl: Duration) -> Self {
        self.sliding_ttl = Some(ttl);
        self
    }

    /// Builds the store. No connection is opened until the first operation.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid URL or sentinel address, an unreadable or
    /// invalid certificate, TLS options without TLS, or credentials or TLS options
    /// given with the application's own client (which carries its own).
    pub fn build(self) -> Result<RedisStore, Error> {
        let connections = crate::open::connections(&self)?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                connections,
                key_prefix: self.key_prefix,
                hash_keys: self.hash_keys,
                ttl: self.ttl,
                sliding_ttl: self.sliding_ttl,
            }),
        })
    }
}

impl fmt::Debug for RedisStoreBuilder {
    /// Leaves out the URL and the credentials: they may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("key_prefix", &self.key_prefix)
            .field("hash_keys", &self.hash_keys)
            .field("settings", &self.settings)
            .field("ttl", &self.ttl)
            .field("sliding_ttl", &self.sliding_ttl)
            .finish_non_exhaustive()
    }
}
