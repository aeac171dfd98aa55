//! One connection pool per memcached server, and running a command on it.
//!
//! Connections come from `async-memcached` (non-blocking, so nothing here ever occupies
//! an executor thread while a server is slow). deadpool keeps them; a connection that
//! an error or a timeout left half-used reports itself closed and is dropped on
//! recycle instead of being handed to the next request. Nothing is sent on checkout, so
//! a read costs exactly one `get`.

use std::time::Duration;

use async_memcached::{AsciiProtocol, Client, MetaProtocol, Status};
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool::Runtime;
use session_core::Error;

/// Pool size and timeouts, as the builder collected them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolSettings {
    pub(crate) size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
}

pub(crate) struct Manager {
    dsn: String,
    connect_timeout: Duration,
}

impl managed::Manager for Manager {
    type Type = Client;
    type Error = async_memcached::Error;

    async fn create(&self) -> Result<Client, async_memcached::Error> {
        match tokio::time::timeout(self.connect_timeout, Client::new(&self.dsn)).await {
            Ok(result) => result,
            Err(_) => Err(async_memcached::Error::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out connecting to memcached",
            ))),
        }
    }

    async fn recycle(
        &self,
        client: &mut Client,
        _: &Metrics,
    ) -> RecycleResult<async_memcached::Error> {
        if client.is_closed() {
            return Err(RecycleError::message(
                "connection closed by an earlier failure",
            ));
        }
        Ok(())
    }
}

/// A memcached command.
pub(crate) enum Command<'a> {
    Get(&'a str),
    /// Store only if the key is absent (`add`).
    Add {
        key: &'a str,
        value: &'a str,
        exptime: i64,
    },
    /// Store only if the key is present (meta `ms … MR`: replace mode).
    Replace {
        key: &'a str,
        value: &'a str,
        exptime: i64,
    },
    Delete(&'a str),
}

/// What a command returns.
pub(crate) enum Reply {
    /// `Get`: the value, if any.
    Value(Option<Vec<u8>>),
    /// `Add`/`Replace`: whether it was stored (`false`: the condition did not hold).
    Stored(bool),
    /// `Delete`: done (deleting a missing key counts as done).
    Deleted,
}

/// One server: its address (for the hash ring and for errors) and its pool.
pub(crate) struct Server {
    pub(crate) address: String,
    pool: managed::Pool<Manager>,
    deadline: Duration,
}

impl Server {
    pub(crate) fn new(address: String, settings: PoolSettings) -> Result<Self, Error> {
        let manager = Manager {
            dsn: format!("tcp://{address}"),
            connect_timeout: settings.connect_timeout,
        };
        let pool = managed::Pool::builder(manager)
            .max_size(settings.size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.command_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .build()
            .map_err(|error| Error::Config {
                backend: "memcached",
                reason: format!("the connection pool could not be built ({error})"),
            })?;
        Ok(Self {
            address,
            pool,
            deadline: settings.connect_timeout + 2 * settings.command_timeout,
        })
    }

    /// Runs `command`, bounded by the connect and command timeouts whatever happens.
    pub(crate) async fn run(
        &self,
        operation: &'static str,
        command: Command<'_>,
    ) -> Result<Reply, Error> {
        let attempt = async {
            let mut client = self.pool.get().await.map_err(Failure::Pool)?;
            execute(&mut client, command)
                .await
                .map_err(Failure::Command)
        };
        let result = match tokio::time::timeout(self.deadline, attempt).await {
            Ok(result) => result,
            // The cancelled command's connection marks itself closed and leaves the pool.
            Err(_) => Err(Failure::TimedOut),
        };
        result.map_err(|failure| {
            Error::storage(
                operation,
                ServerError {
                    address: self.address.clone(),
                    failure,
                },
            )
        })
    }
}

async fn execute(
    client: &mut Client,
    command: Command<'_>,
) -> Result<Reply, async_memcached::Error> {
    match command {
        Command::Get(key) => Ok(Reply::Value(
            client.get(key).await?.and_then(|value| value.data),
        )),
        Command::Add {
            key,
            value,
            exptime,
        } => stored(client.add(key, value, Some(exptime), None).await),
        Command::Replace {
            key,
            value,
            exptime,
        } => {
            let ttl = format!("T{exptime}");
            let flags = ["MR", ttl.as_str()];
            let result = client.meta_set(key, value, false, None, Some(&flags)).await;
            stored(result.map(drop))
        }
        Command::Delete(key) => match client.delete(key).await {
            // Deleting what is not there is success: the record is gone either way.
            Ok(()) | Err(async_memcached::Error::Protocol(Status::NotFound)) => Ok(Reply::Deleted),
            Err(error) => Err(error),
        },
    }
}

/// `NOT_STORED` is an answer (the add or replace condition failed), not an error.
fn stored(result: Result<(), async_memcached::Error>) -> Result<Reply, async_memcached::Error> {
    match result {
        Ok(()) => Ok(Reply::Stored(true)),
        Err(async_memcached::Error::Protocol(Status::NotStored)) => Ok(Reply::Stored(false)),
        Err(error) => Err(error),
    }
}

#[derive(Debug)]
enum Failure {
    Pool(managed::PoolError<async_memcached::Error>),
    Command(async_memcached::Error),
    TimedOut,
}

/// A failure on one server, naming it (addresses are configuration, not secrets).
#[derive(Debug)]
pub(crate) struct ServerError {
    address: String,
    failure: Failure,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let address = &self.address;
        match &self.failure {
            Failure::Pool(error) => write!(f, "no connection to memcached at {address}: {error}"),
            Failure::Command(error) => write!(f, "memcached at {address} failed: {error}"),
            Failure::TimedOut => write!(f, "memcached at {address} did not answer in time"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            Failure::Pool(error) => Some(error),
            Failure::Command(error) => Some(error),
            Failure::TimedOut => None,
        }
    }
}
