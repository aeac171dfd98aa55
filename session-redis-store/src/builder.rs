//! Configuring a Redis store: where Redis is, the key layout, the connections and the
//! key TTLs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use session_connections::ConnectSettings;
use session_core::Error;

use crate::connections::Connections;
use crate::{Inner, RedisStore, DEFAULT_KEY_PREFIX};

enum Target {
    Node(String),
    #[cfg(feature = "cluster")]
    Cluster(Vec<String>),
}

/// Configures a [`RedisStore`]. Start with [`RedisStore::builder`].
#[must_use = "call `build()` to get the store"]
pub struct RedisStoreBuilder {
    target: Target,
    key_prefix: String,
    settings: ConnectSettings,
    ttl: Option<Duration>,
    sliding_ttl: Option<Duration>,
}

impl RedisStore {
    /// A builder with the defaults: `redis://127.0.0.1:6379/`, prefix `session:`, one
    /// multiplexed connection, 2 s to connect, 1 s per command,
    /// no TTL beyond the session's own deadline, no sliding TTL.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder {
            target: Target::Node("redis://127.0.0.1:6379/".to_owned()),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            settings: ConnectSettings {
                connections: 1,
                connect_timeout: Duration::from_secs(2),
                command_timeout: Duration::from_secs(1),
            },
            ttl: None,
            sliding_ttl: None,
        }
    }
}

impl RedisStoreBuilder {
    /// One Redis node: `redis://[user:password@]host[:port][/db]`.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.target = Target::Node(url.into());
        self
    }

    /// A Redis Cluster, given the URLs of some of its nodes (the rest are discovered).
    #[cfg(feature = "cluster")]
    pub fn cluster<I, S>(mut self, node_urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.target = Target::Cluster(node_urls.into_iter().map(Into::into).collect());
        self
    }

    /// The prefix of every key (default `session:`, Remix's).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How many multiplexed connections requests are spread over, round robin
    /// (default 1). Each carries any number of concurrent commands, so one is enough
    /// for most services; a few more help when many cores drive one Redis.
    pub fn connections(mut self, count: usize) -> Self {
        self.settings.connections = count;
        self
    }

    /// How long dialling a connection may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long one command may take once sent (default 1 s).
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// A TTL for sessions saved without a deadline (Remix's `ttl`), so that no key lives
    /// forever. Sessions with a deadline get a TTL matching it.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// A key TTL that slides on every read: a key not read or written for `ttl`
    /// expires. Each read resets the TTL with `GETEX … PX` (still one command, no
    /// write); each write sets it. A session's own deadline still applies. Not to be
    /// confused with the session layer's idle timeout (`SessionLayer::idle_timeout`), which
    /// ends idle sessions for every storage: this only lets Redis drop idle keys.
    pub fn sliding_ttl(mut self, ttl: Duration) -> Self {
        self.sliding_ttl = Some(ttl);
        self
    }

    /// Builds the store. No connection is opened until the first operation.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an invalid URL.
    pub fn build(self) -> Result<RedisStore, Error> {
        let connections = match &self.target {
            Target::Node(url) => Connections::single(url, self.settings)?,
            #[cfg(feature = "cluster")]
            Target::Cluster(urls) => Connections::cluster(urls, self.settings)?,
        };
        Ok(RedisStore {
            inner: Arc::new(Inner {
                connections,
                key_prefix: self.key_prefix,
                ttl: self.ttl,
                sliding_ttl: self.sliding_ttl,
            }),
        })
    }
}

impl fmt::Debug for RedisStoreBuilder {
    /// Leaves out the URL: it may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("key_prefix", &self.key_prefix)
            .field("settings", &self.settings)
            .field("ttl", &self.ttl)
            .field("sliding_ttl", &self.sliding_ttl)
            .finish_non_exhaustive()
    }
}
