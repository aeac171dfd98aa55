//! Connection pools for one Redis node or a Redis Cluster, and running commands on them.
//!
//! Built on deadpool's managed pool with managers of our own. deadpool-redis's managers
//! send `PING` (and `UNWATCH`) every time a connection is checked out, which doubles the
//! round trips of a session read. Ours check nothing on checkout; instead a connection
//! whose command fails with a connection-level error is taken out of the pool, so the
//! next checkout dials a fresh one. That keeps a read at exactly one command and still
//! recovers on its own after Redis restarts.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, RecycleResult};
use deadpool::Runtime;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError};
use session_core::Error;

/// Connection timeouts and pool size, as the builder collected them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolSettings {
    pub(crate) size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) wait_timeout: Duration,
    pub(crate) command_timeout: Duration,
}

impl PoolSettings {
    /// The most one operation may take: a wait for a free connection, dialling a new
    /// one, and the command itself. Enforced on top of the individual timeouts so that
    /// nothing can hang, whatever the driver does.
    pub(crate) fn operation_deadline(&self) -> Duration {
        self.wait_timeout + self.connect_timeout + self.command_timeout
    }
}

/// Dials single-node connections; never pings on checkout.
pub(crate) struct SingleNode {
    client: Client,
    config: AsyncConnectionConfig,
}

impl managed::Manager for SingleNode {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
    }

    async fn recycle(
        &self,
        _: &mut MultiplexedConnection,
        _: &Metrics,
    ) -> RecycleResult<RedisError> {
        Ok(())
    }
}

/// Dials cluster connections (which track the slot map themselves); never pings.
#[cfg(feature = "cluster")]
pub(crate) struct Cluster {
    client: redis::cluster::ClusterClient,
}

#[cfg(feature = "cluster")]
impl managed::Manager for Cluster {
    type Type = redis::cluster_async::ClusterConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<Self::Type, RedisError> {
        self.client.get_async_connection().await
    }

    async fn recycle(&self, _: &mut Self::Type, _: &Metrics) -> RecycleResult<RedisError> {
        Ok(())
    }
}

/// A pool for one node or for a cluster.
pub(crate) enum Pool {
    Single(managed::Pool<SingleNode>),
    #[cfg(feature = "cluster")]
    Cluster(managed::Pool<Cluster>),
}

fn config_error(reason: impl std::fmt::Display) -> Error {
    Error::Config {
        backend: "Redis",
        reason: reason.to_string(),
    }
}

impl Pool {
    pub(crate) fn single(url: &str, settings: PoolSettings) -> Result<Self, Error> {
        let client = Client::open(url).map_err(|error| {
            config_error(format_args!(
                "the URL is not a valid redis:// URL ({error}); use redis://[user:password@]host[:port][/db]"
            ))
        })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        let manager = SingleNode { client, config };
        Ok(Self::Single(build(manager, settings)?))
    }

    #[cfg(feature = "cluster")]
    pub(crate) fn cluster(urls: &[String], settings: PoolSettings) -> Result<Self, Error> {
        let client = redis::cluster::ClusterClient::builder(urls.to_vec())
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.command_timeout)
            .build()
            .map_err(|error| {
                config_error(format_args!(
                    "the cluster node URLs are not valid redis:// URLs ({error})"
                ))
            })?;
        Ok(Self::Cluster(build(Cluster { client }, settings)?))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        !matches!(self, Self::Single(_))
    }

    /// Runs one command (`cmd`) or pipeline, within the operation deadline.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        operation: &'static str,
        deadline: Duration,
        request: Request<'_>,
    ) -> Result<T, Error> {
        let run = async {
            match self {
                Self::Single(pool) => run_on(pool, request).await,
                #[cfg(feature = "cluster")]
                Self::Cluster(pool) => run_on(pool, request).await,
            }
        };
        match tokio::time::timeout(deadline, run).await {
            Ok(result) => result.map_err(|error| Error::storage(operation, error)),
            Err(elapsed) => Err(Error::storage(operation, elapsed)),
        }
    }
}

fn build<M: managed::Manager>(
    manager: M,
    settings: PoolSettings,
) -> Result<managed::Pool<M>, Error> {
    managed::Pool::builder(manager)
        .max_size(settings.size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.wait_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|error| {
            config_error(format_args!(
                "the connection pool could not be built ({error})"
            ))
        })
}

/// A command or a pipeline to send.
pub(crate) enum Request<'a> {
    Cmd(&'a redis::Cmd),
    Pipe(&'a redis::Pipeline),
}

/// Why an operation failed: the pool could not give a connection, or the command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    Pool(managed::PoolError<RedisError>),
    Command(RedisError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pool(error) => write!(f, "no Redis connection available: {error}"),
            Self::Command(error) => write!(f, "Redis command failed: {error}"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Pool(error) => Some(error),
            Self::Command(error) => Some(error),
        }
    }
}

async fn run_on<M, T>(pool: &managed::Pool<M>, request: Request<'_>) -> Result<T, Failure>
where
    M: managed::Manager<Error = RedisError>,
    M::Type: ConnectionLike + Send,
    T: FromRedisValue,
{
    let mut connection = pool.get().await.map_err(Failure::Pool)?;
    let result = match request {
        Request::Cmd(cmd) => cmd.query_async(&mut *connection).await,
        Request::Pipe(pipe) => pipe.query_async(&mut *connection).await,
    };
    if let Err(error) = &result {
        if is_connection_failure(error) {
            // Do not hand a dead connection to the next request: drop it from the pool.
            drop(Object::take(connection));
        }
    }
    result.map_err(Failure::Command)
}

fn is_connection_failure(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}
