//! One memcached server: its connections, and running a command on them within the
//! timeouts and the record size limit.
//!
//! Requests share a few multiplexed connections instead of a pool: the
//! `session-connections` crate says why, and owns dialling, round robin and
//! forgetting. What is memcached's here: how to dial (at most `connections` sockets at
//! once, `connection.rs`), that every failure but a refusal closes the connection
//! ([`CommandError::breaks_connection`]), and that a record memcached cannot store is
//! never sent.

use std::sync::Arc;
use std::time::Duration;

use session_connections::{ConnectSettings, Dial, Slots};
use session_core::Error;
use tokio::sync::Semaphore;

use crate::connection::{Connection, Limits};
use crate::error::{Broken, CommandError, ServerError};
use crate::protocol::{self, Command, Outcome};

/// Dials one server.
pub(crate) struct Dialer {
    address: String,
    /// One permit per socket this server may have open: `connections` of them.
    sockets: Arc<Semaphore>,
    limits: Limits,
}

impl Dial for Dialer {
    type Connection = Connection;
    type Error = std::io::Error;

    async fn dial(&self) -> std::io::Result<Connection> {
        Connection::open(&self.address, &self.sockets, self.limits).await
    }

    fn is_usable(connection: &Connection) -> bool {
        !connection.is_closed()
    }
}

/// One server: its connections, how long a command may take, and the largest item it
/// stores.
pub(crate) struct Server {
    slots: Slots<Dialer>,
    command_timeout: Duration,
    max_record_size: usize,
}

impl Server {
    pub(crate) fn new(address: String, settings: ConnectSettings, max_record_size: usize) -> Self {
        let dialer = Dialer {
            address,
            sockets: Arc::new(Semaphore::new(settings.connections.max(1))),
            limits: Limits {
                write_timeout: settings.command_timeout,
                max_value: max_record_size,
            },
        };
        Self {
            slots: Slots::new(dialer, settings),
            command_timeout: settings.command_timeout,
            max_record_size,
        }
    }

    /// The server's `host:port`, for the hash ring and for errors (configuration, not
    /// a secret).
    pub(crate) fn address(&self) -> &str {
        &self.slots.dialer().address
    }

    /// Runs `command`: bounded by the connect timeout (only when a connection must be
    /// dialled) and the command timeout. A set whose item memcached could not store is
    /// refused before anything is sent: memcached would delete the stored item.
    pub(crate) async fn run(
        &self,
        operation: &'static str,
        command: Command<'_>,
    ) -> Result<Outcome, Error> {
        let too_large = |size, limit| Error::RecordTooLarge {
            backend: "memcached",
            size,
            limit,
        };
        let sizes = match command {
            Command::Set { key, value, .. } | Command::Swap { key, value, .. } => {
                let limit = protocol::largest_value(self.max_record_size, key);
                if value.len() > limit {
                    return Err(too_large(value.len(), limit));
                }
                Some((value.len(), limit))
            }
            Command::Get(_) | Command::Delete(_) => None,
        };
        match (self.attempt(&command).await, sizes) {
            (Ok(outcome), _) => Ok(outcome),
            (Err(CommandError::Refused(message)), Some((size, limit)))
                if protocol::is_too_large(&message) =>
            {
                // Not `RecordTooLarge`: that one promises the stored record stayed, and
                // memcached has deleted it. A misconfiguration, said as such.
                tracing::warn!(
                    address = self.address(),
                    size,
                    max_record_size = limit,
                    "memcached refused a record as too large and deleted the one stored \
                     under its key"
                );
                Err(Error::Config {
                    backend: "memcached",
                    reason: format!(
                        "a server refused a {size}-byte record as too large and deleted the \
                         session stored under its key: its item size limit (-I) is below \
                         max_record_size ({limit} bytes); set max_record_size to at most \
                         the servers' -I"
                    ),
                })
            }
            (Err(error), _) => Err(Error::storage(
                operation,
                ServerError {
                    address: self.address().to_owned(),
                    error,
                },
            )),
        }
    }

    async fn attempt(&self, command: &Command<'_>) -> Result<Outcome, CommandError> {
        let lease = self.slots.lease().await.map_err(CommandError::Connect)?;
        let reply = tokio::time::timeout(self.command_timeout, lease.send(command)).await;
        let error = match reply {
            Ok(Ok(reply)) => match command.outcome(reply) {
                Some(Outcome::ServerError(message)) => CommandError::Refused(message),
                Some(outcome) => return Ok(outcome),
                None => CommandError::Broken(Broken::OutOfStep),
            },
            Ok(Err(broken)) => CommandError::Broken(broken),
            Err(_) => CommandError::TimedOut(self.command_timeout),
        };
        if error.breaks_connection() {
            // The replies behind an unanswered command would be late too, and what is
            // still queued must not reach the server after its callers were told it
            // failed: close it for everyone, and let the slot dial a fresh one.
            let reason = match &error {
                CommandError::Broken(broken) => broken.clone(),
                _ => Broken::Unanswered(self.command_timeout),
            };
            lease.close(reason);
            lease.forget();
        }
        Err(error)
    }
}
