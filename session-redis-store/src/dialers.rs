//! Where a store's connections come from: dialled from a URL, found through Sentinel,
//! or handed over by the application (its multiplexed connection, its
//! `ConnectionManager`, its deadpool pool, its cluster connection).
//!
//! Every source is a [`Dial`] for the same [`Slots`](session_connections::Slots), so
//! the store runs every command the same way whatever the source, and TLS, ACL
//! credentials and Sentinel come along with whichever the application configured.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError, RedisResult};
use session_connections::Dial;

use crate::batch::{Batcher, Unit};
use crate::connections::{Query, Request};

/// A single-node connection, seen through the task that batches its commands.
#[derive(Clone)]
pub(crate) struct Node {
    batcher: Batcher,
    /// What must live as long as this connection: the pool checkout it came from, so
    /// that the pool counts it as in use until the slot forgets it.
    _checkout: Option<Arc<dyn Any + Send + Sync>>,
    /// A bound on each command, for connections whose own settings are the
    /// application's (ours carry the command timeout as their response timeout).
    timeout: Option<Duration>,
}

impl Node {
    fn start<C>(
        connection: C,
        checkout: Option<Arc<dyn Any + Send + Sync>>,
        timeout: Option<Duration>,
    ) -> Self
    where
        C: ConnectionLike + Clone + Send + Sync + 'static,
    {
        Self {
            batcher: Batcher::start(connection),
            _checkout: checkout,
            timeout,
        }
    }

    /// A batching task stops with the runtime it was spawned on (say, a test's
    /// runtime, when the store outlives it): such a node is dialled again.
    fn is_usable(&self) -> bool {
        !self.batcher.is_stopped()
    }
}

impl Query for Node {
    async fn query<T: FromRedisValue + Send>(&mut self, request: Request) -> RedisResult<T> {
        let unit = match request {
            Request::Cmd(cmd) => Unit::Cmd(cmd),
            Request::Transaction(commands) => Unit::Transaction(commands),
        };
        let reply = self.batcher.query(unit);
        let value = bounded(self.timeout, reply).await?;
        T::from_redis_value(value).map_err(RedisError::from)
    }
}

/// Dials one node from its URL (plain or `rediss://`, credentials included).
pub(crate) struct UrlDialer {
    pub(crate) client: Client,
    pub(crate) config: AsyncConnectionConfig,
}

impl Dial for UrlDialer {
    type Connection = Node;
    type Error = RedisError;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(Node::start(connection, None, None))
    }

    fn is_usable(node: &Self::Connection) -> bool {
        node.is_usable()
    }
}

/// Asks the sentinels for the current master on every dial, so that after a failover
/// the first dial finds the promoted replica.
#[cfg(feature = "sentinel")]
pub(crate) struct SentinelDialer {
    /// A tokio mutex: the client caches its sentinel connections and needs `&mut` for
    /// a lookup, which awaits. Only dials take it (each slot's dials queue behind the
    /// others'; dials are rare).
    pub(crate) client: tokio::sync::Mutex<redis::sentinel::SentinelClient>,
    pub(crate) config: AsyncConnectionConfig,
}

#[cfg(feature = "sentinel")]
impl Dial for SentinelDialer {
    type Connection = Node;
    type Error = RedisError;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        let connection = self
            .client
            .lock()
            .await
            .get_async_connection_with_config(&self.config)
            .await?;
        Ok(Node::start(connection, None, None))
    }

    fn is_usable(node: &Self::Connection) -> bool {
        node.is_usable()
    }
}

/// The application's own single-node connection (a `MultiplexedConnection` or a
/// `ConnectionManager`): "dialling" clones it. A `ConnectionManager` reconnects by
/// itself; a bare `MultiplexedConnection` that broke stays broken, which is the
/// application's to handle (the docs say to prefer a `ConnectionManager`).
pub(crate) struct GivenNode<C> {
    pub(crate) connection: C,
    pub(crate) timeout: Duration,
}

impl<C> Dial for GivenNode<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    type Connection = Node;
    type Error = RedisError;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        Ok(Node::start(
            self.connection.clone(),
            None,
            Some(self.timeout),
        ))
    }

    fn is_usable(node: &Self::Connection) -> bool {
        node.is_usable()
    }
}

/// Takes connections from the application's deadpool pool: one checkout per slot,
/// held until the slot forgets it (not one per command, which would cost the pool's
/// `UNWATCH`+`PING` recycle round trip on every request).
#[cfg(feature = "deadpool")]
pub(crate) struct PoolDialer {
    pub(crate) pool: deadpool_redis::Pool,
    pub(crate) timeout: Duration,
}

#[cfg(feature = "deadpool")]
impl Dial for PoolDialer {
    type Connection = Node;
    type Error = RedisError;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        let checkout = self.pool.get().await.map_err(pool_error)?;
        // The multiplexed connection is a cheap handle; the checkout rides along so the
        // pool does not hand the same connection out as free.
        let connection = redis::aio::MultiplexedConnection::clone(&checkout);
        Ok(Node::start(
            connection,
            Some(Arc::new(checkout)),
            Some(self.timeout),
        ))
    }

    fn is_usable(node: &Self::Connection) -> bool {
        node.is_usable()
    }
}

#[cfg(feature = "deadpool")]
fn pool_error(error: deadpool_redis::PoolError) -> RedisError {
    match error {
        deadpool_redis::PoolError::Backend(error) => error,
        other => RedisError::from((
            redis::ErrorKind::Io,
            "the application's deadpool pool gave no connection",
            other.to_string(),
        )),
    }
}

/// A cluster connection (it tracks the slot map and the nodes itself, and routes each
/// command to its own node: nothing is batched), with a bound on each command, since
/// the cluster client's own redirects and reconnects could otherwise stretch one.
#[cfg(feature = "cluster")]
#[derive(Clone)]
pub(crate) struct ClusterNode {
    connection: redis::cluster_async::ClusterConnection,
    timeout: Duration,
}

#[cfg(feature = "cluster")]
impl Query for ClusterNode {
    async fn query<T: FromRedisValue + Send>(&mut self, request: Request) -> RedisResult<T> {
        let connection = &mut self.connection;
        bounded(Some(self.timeout), async move {
            match request {
                Request::Cmd(cmd) => cmd.query_async(connection).await,
                Request::Transaction(commands) => {
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    for command in commands {
                        pipe.add_command(command);
                    }
                    pipe.query_async(connection).await
                }
            }
        })
        .await
    }
}

/// Dials cluster connections.
#[cfg(feature = "cluster")]
pub(crate) struct ClusterDialer {
    pub(crate) client: redis::cluster::ClusterClient,
    /// The bound on one command: a reconnect plus the command itself.
    pub(crate) timeout: Duration,
}

#[cfg(feature = "cluster")]
impl Dial for ClusterDialer {
    type Connection = ClusterNode;
    type Error = RedisError;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        Ok(ClusterNode {
            connection: self.client.get_async_connection().await?,
            timeout: self.timeout,
        })
    }
}

/// The application's own cluster connection: "dialling" clones it.
#[cfg(feature = "cluster")]
pub(crate) struct GivenCluster {
    pub(crate) connection: redis::cluster_async::ClusterConnection,
    pub(crate) timeout: Duration,
}

#[cfg(feature = "cluster")]
impl Dial for GivenCluster {
    type Connection = ClusterNode;
    type Error = RedisError;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        Ok(ClusterNode {
            connection: self.connection.clone(),
            timeout: self.timeout,
        })
    }
}

/// `reply`, failing as a timeout after `timeout` when one is given.
async fn bounded<T>(
    timeout: Option<Duration>,
    reply: impl std::future::Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    let Some(timeout) = timeout else {
        return reply.await;
    };
    tokio::time::timeout(timeout, reply)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no reply within the command timeout",
            )))
        })
}
