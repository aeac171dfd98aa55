//! The connections of a store, to one Redis node or a Redis Cluster, and running
//! commands on them.
//!
//! Requests share a few multiplexed connections instead of a pool: the
//! `session-connections` crate says why, and owns dialling, round robin and
//! forgetting. What is Redis's here: how to dial, how to send, and which failures
//! break a connection ([`CommandError::breaks_connection`]).

use std::future::Future;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError, RedisResult};
use session_connections::{ConnectSettings, Dial, Slots};
use session_core::Error;

use crate::batch::Batcher;
use crate::error::CommandError;

/// A command or a pipeline to send.
pub(crate) enum Request<'a> {
    Cmd(redis::Cmd),
    Pipe(&'a redis::Pipeline),
}

/// Sends a request on one kind of connection.
trait Query {
    fn query<T: FromRedisValue + Send>(
        &mut self,
        request: Request<'_>,
    ) -> impl Future<Output = RedisResult<T>> + Send;
}

/// Dials single-node connections.
pub(crate) struct SingleNode {
    client: Client,
    config: AsyncConnectionConfig,
}

/// A single-node connection and the task that batches its commands.
#[derive(Clone)]
pub(crate) struct Node {
    connection: MultiplexedConnection,
    batcher: Batcher,
}

impl Dial for SingleNode {
    type Connection = Node;
    type Error = RedisError;

    async fn dial(&self) -> Result<Node, RedisError> {
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        Ok(Node {
            batcher: Batcher::start(connection.clone()),
            connection,
        })
    }

    /// A batching task stops with the runtime it was spawned on (say, a test's
    /// runtime, when the store outlives it): dial again rather than fail a request.
    fn is_usable(node: &Node) -> bool {
        !node.batcher.is_stopped()
    }
}

impl Query for Node {
    async fn query<T: FromRedisValue + Send>(&mut self, request: Request<'_>) -> RedisResult<T> {
        match request {
            Request::Cmd(cmd) => self
                .batcher
                .query(cmd)
                .await
                .and_then(|value| T::from_redis_value(value).map_err(RedisError::from)),
            // A transaction goes as it is: batching must not mix it with other commands.
            Request::Pipe(pipe) => pipe.query_async(&mut self.connection).await,
        }
    }
}

/// Dials cluster connections (each tracks the slot map and the nodes itself, and
/// routes each command to its own node: nothing is batched).
#[cfg(feature = "cluster")]
pub(crate) struct Cluster {
    client: redis::cluster::ClusterClient,
}

#[cfg(feature = "cluster")]
impl Dial for Cluster {
    type Connection = redis::cluster_async::ClusterConnection;
    type Error = RedisError;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        self.client.get_async_connection().await
    }
}

#[cfg(feature = "cluster")]
impl Query for redis::cluster_async::ClusterConnection {
    async fn query<T: FromRedisValue + Send>(&mut self, request: Request<'_>) -> RedisResult<T> {
        match request {
            Request::Cmd(cmd) => cmd.query_async(self).await,
            Request::Pipe(pipe) => pipe.query_async(self).await,
        }
    }
}

/// Runs `request` on a connection from `slots`, forgetting the connection when the
/// failure broke it, so that the next request does not get a dead one.
async fn run<D, T>(slots: &Slots<D>, request: Request<'_>) -> Result<T, CommandError>
where
    D: Dial<Error = RedisError>,
    D::Connection: Query,
    T: FromRedisValue + Send,
{
    let mut lease = slots.lease().await.map_err(CommandError::Connect)?;
    let result = lease.query(request).await.map_err(CommandError::from);
    if result.as_ref().is_err_and(CommandError::breaks_connection) {
        lease.forget();
    }
    result
}

/// The connections of a store: to one node or to a cluster.
pub(crate) enum Connections {
    Single(Slots<SingleNode>),
    #[cfg(feature = "cluster")]
    Cluster(Slots<Cluster>),
}

fn config_error(reason: impl std::fmt::Display) -> Error {
    Error::Config {
        backend: "Redis",
        reason: reason.to_string(),
    }
}

impl Connections {
    pub(crate) fn single(url: &str, settings: ConnectSettings) -> Result<Self, Error> {
        let client = Client::open(url).map_err(|error| {
            config_error(format_args!(
                "the URL is not a valid redis:// URL ({error}); use redis://[user:password@]host[:port][/db]"
            ))
        })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        Ok(Self::Single(Slots::new(
            SingleNode { client, config },
            settings,
        )))
    }

    #[cfg(feature = "cluster")]
    pub(crate) fn cluster(urls: &[String], settings: ConnectSettings) -> Result<Self, Error> {
        let client = redis::cluster::ClusterClient::builder(urls.to_vec())
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.command_timeout)
            .build()
            .map_err(|error| {
                config_error(format_args!(
                    "the cluster node URLs are not valid redis:// URLs ({error})"
                ))
            })?;
        Ok(Self::Cluster(Slots::new(Cluster { client }, settings)))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        !matches!(self, Self::Single(_))
    }

    /// Runs one command or pipeline. Bounded by the connect timeout (only when a
    /// connection must be dialled) and the driver's response timeout.
    pub(crate) async fn query<T: FromRedisValue + Send>(
        &self,
        operation: &'static str,
        request: Request<'_>,
    ) -> Result<T, Error> {
        let result = match self {
            Self::Single(slots) => run(slots, request).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(slots) => run(slots, request).await,
        };
        result.map_err(|error| Error::storage(operation, error))
    }
}
