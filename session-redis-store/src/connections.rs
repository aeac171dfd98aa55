//! Shared, multiplexed connections to one Redis node or a Redis Cluster, and running
//! commands on them.
//!
//! Why not a pool with exclusive checkout (deadpool-redis)? A multiplexed connection
//! already carries any number of concurrent commands: each request clones a handle,
//! sends its command and awaits its own reply, while the driver writes the commands of
//! all concurrent requests in one syscall and Redis answers them in one batch. Checking
//! a connection out for each command throws that away (one socket per in-flight request,
//! one read and one write per command on both sides) and adds a semaphore, a mutex and,
//! in deadpool-redis's default manager, a `PING` per checkout. `scripts/bench` measured
//! the difference; BENCHMARKS.md has the figures.
//!
//! So requests share a few connections (round robin over the configured count), and on
//! a single node their commands are sent together (`batch.rs`). A
//! connection is dialled on first use; one whose command fails at the connection level
//! is forgotten, so the next request dials a fresh one. That is what makes service
//! resume by itself after Redis restarts.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError};
use session_core::Error;

use crate::batch::Batcher;

/// Connection count and timeouts, as the builder collected them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) connections: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
}

/// Opens one connection of some kind.
pub(crate) trait Dial: Send + Sync {
    type Connection: ConnectionLike + Clone + Send + Sync + 'static;

    /// Whether single commands go through a [`Batcher`] (one node), or straight to
    /// the connection (a cluster, which routes each command to its own node).
    const BATCHES: bool;

    fn dial(&self) -> impl Future<Output = Result<Self::Connection, RedisError>> + Send;
}

/// Dials single-node connections.
pub(crate) struct SingleNode {
    client: Client,
    config: AsyncConnectionConfig,
}

impl Dial for SingleNode {
    type Connection = MultiplexedConnection;
    const BATCHES: bool = true;

    async fn dial(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
    }
}

/// Dials cluster connections (each tracks the slot map and the nodes itself).
#[cfg(feature = "cluster")]
pub(crate) struct Cluster {
    client: redis::cluster::ClusterClient,
}

#[cfg(feature = "cluster")]
impl Dial for Cluster {
    type Connection = redis::cluster_async::ClusterConnection;
    const BATCHES: bool = false;

    async fn dial(&self) -> Result<Self::Connection, RedisError> {
        self.client.get_async_connection().await
    }
}

/// One shared connection, dialled on demand.
pub(crate) struct Slot<C> {
    /// The live connection (so that a request whose command failed forgets only the
    /// connection it used, never a fresh one dialled meanwhile, it has a generation).
    live: Mutex<Option<Live<C>>>,
    /// Held while dialling, so a burst of requests opens one connection, not one each.
    dialing: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

/// A dialled connection, with its batching task when commands are batched.
#[derive(Clone)]
pub(crate) struct Live<C> {
    generation: u64,
    connection: C,
    batcher: Option<Batcher>,
}

impl<C: Clone> Slot<C> {
    fn new() -> Self {
        Self {
            live: Mutex::new(None),
            dialing: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
        }
    }

    fn live(&self) -> Option<Live<C>> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        // A batching task stops with the runtime it was spawned on (say, a test's
        // runtime, when the store outlives it): dial again rather than fail a request.
        if live
            .as_ref()
            .and_then(|live| live.batcher.as_ref())
            .is_some_and(Batcher::is_stopped)
        {
            *live = None;
        }
        live.clone()
    }

    fn forget(&self, generation: u64) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live
            .as_ref()
            .is_some_and(|live| live.generation == generation)
        {
            *live = None;
        }
    }
}

/// Round robin over a few shared connections made by one dialer.
pub(crate) struct Shared<D: Dial> {
    dialer: D,
    slots: Box<[Slot<D::Connection>]>,
    next: AtomicUsize,
    connect_timeout: Duration,
}

impl<D: Dial> Shared<D> {
    fn new(dialer: D, settings: Settings) -> Self {
        Self {
            dialer,
            slots: (0..settings.connections.max(1))
                .map(|_| Slot::new())
                .collect(),
            next: AtomicUsize::new(0),
            connect_timeout: settings.connect_timeout,
        }
    }

    /// A handle on a live connection, dialling one if needed.
    async fn connection(&self, slot: &Slot<D::Connection>) -> Result<Live<D::Connection>, Failure> {
        if let Some(live) = slot.live() {
            return Ok(live);
        }
        // Slow path: wait for a dial in progress or dial ourselves. The wait is bounded
        // too, so requests queued behind a dial to an unreachable host fail in time.
        let dial = async {
            let _dialing = slot.dialing.lock().await;
            if let Some(live) = slot.live() {
                return Ok(live);
            }
            let connection = self.dialer.dial().await.map_err(Failure::Dial)?;
            let live = Live {
                generation: slot.generations.fetch_add(1, Ordering::Relaxed),
                batcher: D::BATCHES.then(|| Batcher::start(connection.clone())),
                connection,
            };
            *slot.live.lock().unwrap_or_else(PoisonError::into_inner) = Some(live.clone());
            Ok(live)
        };
        tokio::time::timeout(self.connect_timeout, dial)
            .await
            .unwrap_or(Err(Failure::DialTimeout(self.connect_timeout)))
    }

    async fn run<T: FromRedisValue>(&self, request: Request<'_>) -> Result<T, Failure> {
        let slot = match self.slots.len() {
            1 => &self.slots[0],
            n => &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % n],
        };
        let Live {
            generation,
            mut connection,
            batcher,
        } = self.connection(slot).await?;
        let result = match (request, batcher) {
            (Request::Cmd(cmd), Some(batcher)) => batcher
                .query(cmd)
                .await
                .and_then(|value| T::from_redis_value(value).map_err(redis::RedisError::from)),
            (Request::Cmd(cmd), None) => cmd.query_async(&mut connection).await,
            // A transaction goes as it is: batching must not mix it with other commands.
            (Request::Pipe(pipe), _) => pipe.query_async(&mut connection).await,
        };
        if let Err(error) = &result {
            if is_connection_failure(error) {
                // Do not hand a dead connection to the next request.
                slot.forget(generation);
            }
        }
        result.map_err(Failure::Command)
    }
}

/// The connections of a store: to one node or to a cluster.
pub(crate) enum Connections {
    Single(Shared<SingleNode>),
    #[cfg(feature = "cluster")]
    Cluster(Shared<Cluster>),
}

fn config_error(reason: impl std::fmt::Display) -> Error {
    Error::Config {
        backend: "Redis",
        reason: reason.to_string(),
    }
}

impl Connections {
    pub(crate) fn single(url: &str, settings: Settings) -> Result<Self, Error> {
        let client = Client::open(url).map_err(|error| {
            config_error(format_args!(
                "the URL is not a valid redis:// URL ({error}); use redis://[user:password@]host[:port][/db]"
            ))
        })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        Ok(Self::Single(Shared::new(
            SingleNode { client, config },
            settings,
        )))
    }

    #[cfg(feature = "cluster")]
    pub(crate) fn cluster(urls: &[String], settings: Settings) -> Result<Self, Error> {
        let client = redis::cluster::ClusterClient::builder(urls.to_vec())
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.command_timeout)
            .build()
            .map_err(|error| {
                config_error(format_args!(
                    "the cluster node URLs are not valid redis:// URLs ({error})"
                ))
            })?;
        Ok(Self::Cluster(Shared::new(Cluster { client }, settings)))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        !matches!(self, Self::Single(_))
    }

    /// Runs one command or pipeline. Bounded by the connect timeout (only when a
    /// connection must be dialled) and the driver's response timeout.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        operation: &'static str,
        request: Request<'_>,
    ) -> Result<T, Error> {
        let result = match self {
            Self::Single(shared) => shared.run(request).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(shared) => shared.run(request).await,
        };
        result.map_err(|error| Error::storage(operation, error))
    }
}

/// A command or a pipeline to send.
pub(crate) enum Request<'a> {
    Cmd(redis::Cmd),
    Pipe(&'a redis::Pipeline),
}

/// Why an operation failed: no connection could be opened, or the command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    Dial(RedisError),
    DialTimeout(Duration),
    Command(RedisError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dial(error) => write!(f, "could not connect to Redis: {error}"),
            Self::DialTimeout(timeout) => write!(
                f,
                "could not connect to Redis within the connect timeout ({timeout:?})"
            ),
            Self::Command(error) => write!(f, "Redis command failed: {error}"),
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Dial(error) | Self::Command(error) => Some(error),
            Self::DialTimeout(_) => None,
        }
    }
}

fn is_connection_failure(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}
