//! Configuring a memcached store: the servers, checked and normalized, the key prefix,
//! the connections, the record size limit and the TTL.

use std::sync::Arc;
use std::time::Duration;

use session_connections::ConnectSettings;
use session_core::Error;

use crate::ring::Ring;
use crate::server::Server;
use crate::{Inner, MemcacheStore, DEFAULT_KEY_PREFIX, HASHED_ID_LEN, MAX_KEY_LEN};

/// Configures a [`MemcacheStore`]. Start with [`MemcacheStore::builder`].
#[derive(Debug)]
#[must_use = "call `build()` to get the store"]
pub struct MemcacheStoreBuilder {
    servers: Vec<String>,
    key_prefix: String,
    settings: ConnectSettings,
    max_record_size: usize,
    ttl: Option<Duration>,
}

/// Memcached's default item size limit (its `-I`), the default maximum record size.
pub const DEFAULT_MAX_RECORD_SIZE: usize = 1 << 20;

/// Memcached's smallest `-I`.
const MIN_RECORD_SIZE: usize = 1024;

impl MemcacheStore {
    /// A builder with the defaults: `127.0.0.1:11211`, prefix `remix:session:`, one
    /// connection per server, 1 s to connect, 1 s per command, records up to
    /// memcached's default item size (1 MiB), a TTL of
    /// [`DEFAULT_TTL`](session_core::DEFAULT_TTL) (two weeks) for sessions saved
    /// without a deadline.
    pub fn builder() -> MemcacheStoreBuilder {
        MemcacheStoreBuilder {
            servers: vec!["127.0.0.1:11211".to_owned()],
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            settings: ConnectSettings {
                connections: 1,
                connect_timeout: Duration::from_secs(1),
                command_timeout: Duration::from_secs(1),
            },
            max_record_size: DEFAULT_MAX_RECORD_SIZE,
            ttl: Some(session_core::DEFAULT_TTL),
        }
    }
}

impl MemcacheStoreBuilder {
    /// The servers, as `host:port` (port 11211 when left out), instead of the default.
    pub fn servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// The prefix of every key (default `remix:session:`, Remix's): printable ASCII
    /// without spaces, at most 186 bytes.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How many multiplexed connections to each server requests are spread over,
    /// round robin (default 1). Each carries any number of concurrent commands.
    ///
    /// It is also a cap: a server never has more sockets open than this, whatever
    /// fails. A connection that breaks (a timeout included) is closed before the one
    /// that replaces it is dialled, so a frozen server cannot pile them up.
    pub fn connections(mut self, count: usize) -> Self {
        self.settings.connections = count;
        self
    }

    /// How long connecting to a server may take (default 1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long a command may take once sent (default 1 s), and one write on a
    /// connection too.
    ///
    /// A command that times out closes its connection: every request on it fails, and
    /// nothing still queued on it is sent later. A command already written cannot be
    /// recalled: if the server was only stalled, it may still apply when it resumes.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// The largest item the servers store: set it to memcached's `-I` (default 1 MiB,
    /// memcached's own default; at least 1024, memcached's smallest).
    ///
    /// A record whose item would be larger (the record, its key, and memcached's
    /// 59-byte item header) is refused before anything is sent, with
    /// [`Error::RecordTooLarge`], and the record stored before stays. Memcached itself
    /// deletes the stored item when it refuses a set as too large, so keep this no
    /// larger than the server's `-I`: a server limit below it gives an [`Error::Config`]
    /// saying so (and a warning), and that user's session is gone. A reply with a
    /// value over this size is treated as a broken connection, never read.
    pub fn max_record_size(mut self, bytes: usize) -> Self {
        self.max_record_size = bytes;
        self
    }

    /// The TTL of sessions saved without a deadline (Remix's `ttlSeconds`), so that no
    /// item lives forever. Default [`DEFAULT_TTL`](session_core::DEFAULT_TTL), two weeks
    /// (Remix sets none). Sessions with a deadline get a TTL matching it.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Checks the configuration and builds the store. Nothing is dialled yet.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a bad server address or key prefix, no servers, or a
    /// maximum record size under 1024 bytes.
    pub fn build(self) -> Result<MemcacheStore, Error> {
        validate_prefix(&self.key_prefix)?;
        if self.max_record_size < MIN_RECORD_SIZE {
            return Err(config(format!(
                "max_record_size is {} bytes; give memcached's item size limit (-I), at \
                 least {MIN_RECORD_SIZE} bytes",
                self.max_record_size
            )));
        }
        if self.servers.is_empty() {
            return Err(config("give at least one server as host:port".to_owned()));
        }
        let addresses = self
            .servers
            .iter()
            .map(|server| normalize_address(server))
            .collect::<Result<Vec<_>, _>>()?;
        let ring = Ring::new(&addresses);
        let servers = addresses
            .into_iter()
            .map(|address| Server::new(address, self.settings, self.max_record_size))
            .collect();
        Ok(MemcacheStore {
            inner: Arc::new(Inner {
                servers,
                ring,
                key_prefix: self.key_prefix,
                ttl: self.ttl,
            }),
        })
    }
}

fn config(reason: String) -> Error {
    Error::Config {
        backend: "memcached",
        reason,
    }
}

fn validate_prefix(prefix: &str) -> Result<(), Error> {
    if !prefix.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(config(
            "the key prefix may only contain printable ASCII characters without spaces".to_owned(),
        ));
    }
    if prefix.len() + HASHED_ID_LEN > MAX_KEY_LEN {
        return Err(config(format!(
            "the key prefix is too long; the maximum is {} bytes",
            MAX_KEY_LEN - HASHED_ID_LEN
        )));
    }
    Ok(())
}

/// `host:port` (or `host`, for port 11211), `[v6]:port` too; anything else is refused.
fn normalize_address(server: &str) -> Result<String, Error> {
    let invalid = || {
        config(format!(
            "server {server:?} is not host:port (no scheme, user, path or query)"
        ))
    };
    let trimmed = server.trim();
    if trimmed.is_empty()
        || trimmed
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b"/?#@".contains(&b))
    {
        return Err(invalid());
    }
    let (host, port) = match trimmed.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.starts_with('[') => (host, Some(port)),
        Some(_) if trimmed.starts_with('[') => return Err(invalid()),
        // A bare IPv6 address without brackets: ambiguous, refuse it.
        Some(_) => return Err(invalid()),
        None => (trimmed, None),
    };
    if host.is_empty() || host == "[]" {
        return Err(config(format!("server {server:?}: the host is required")));
    }
    let port: u16 =
        match port {
            None => 11211,
            Some(port) => port.parse().ok().filter(|port| *port != 0).ok_or_else(|| {
                config(format!("server {server:?}: {port:?} is not a port number"))
            })?,
        };
    Ok(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_validated() {
        for bad in ["invalid prefix", "tab\there", "ünï", &"x".repeat(187)] {
            let err = MemcacheStore::builder()
                .key_prefix(bad)
                .build()
                .expect_err(bad);
            assert!(matches!(err, Error::Config { .. }), "{err}");
        }
        assert!(MemcacheStore::builder().key_prefix("").build().is_ok());
        assert!(MemcacheStore::builder()
            .key_prefix("x".repeat(186))
            .build()
            .is_ok());
    }

    #[test]
    fn addresses_are_validated() {
        assert_eq!(
            normalize_address("localhost").expect("valid"),
            "localhost:11211"
        );
        assert_eq!(
            normalize_address("10.0.0.1:11212").expect("valid"),
            "10.0.0.1:11212"
        );
        assert_eq!(
            normalize_address("[::1]:11211").expect("valid"),
            "[::1]:11211"
        );
        for bad in [
            "",
            " ",
            "127.0.0.1/path",
            "memcache://host:1",
            "user@host:1",
            "host:port",
            "host:0",
            "host:99999",
            ":11211",
            "::1",
            "host?x=1",
        ] {
            assert!(normalize_address(bad).is_err(), "{bad:?}");
        }
        assert!(MemcacheStore::builder()
            .servers(Vec::<String>::new())
            .build()
            .is_err());
    }

    #[test]
    fn record_sizes_under_memcacheds_smallest_limit_are_refused() {
        let error = MemcacheStore::builder()
            .max_record_size(1023)
            .build()
            .expect_err("too small");
        assert!(error.to_string().contains("-I"), "{error}");
        assert!(MemcacheStore::builder()
            .max_record_size(1024)
            .build()
            .is_ok());
    }
}
