//! One memcached server: its connections, and running a command on them within the
//! timeouts.
//!
//! Requests share a few multiplexed connections instead of a pool: the
//! `session-connections` crate says why, and owns dialling, round robin and
//! forgetting. What is memcached's here: how to dial, and that every failure but a
//! refusal breaks the connection ([`CommandError::breaks_connection`]).

use std::time::Duration;

use session_connections::{ConnectSettings, Dial, Slots};
use session_core::Error;

use crate::connection::{Connection, Lost};
use crate::error::{CommandError, ServerError};
use crate::protocol::{Command, Outcome};

/// Dials one server.
pub(crate) struct Dialer {
    address: String,
    connect_timeout: Duration,
}

impl Dial for Dialer {
    type Connection = Connection;
    type Error = std::io::Error;

    async fn dial(&self) -> std::io::Result<Connection> {
        Connection::open(&self.address, self.connect_timeout).await
    }

    fn is_usable(connection: &Connection) -> bool {
        !connection.is_closed()
    }
}

/// One server: its connections, and how long a command may take.
pub(crate) struct Server {
    slots: Slots<Dialer>,
    command_timeout: Duration,
}

impl Server {
    pub(crate) fn new(address: String, settings: ConnectSettings) -> Self {
        let dialer = Dialer {
            address,
            connect_timeout: settings.connect_timeout,
        };
        Self {
            slots: Slots::new(dialer, settings),
            command_timeout: settings.command_timeout,
        }
    }

    /// The server's `host:port`, for the hash ring and for errors (configuration, not
    /// a secret).
    pub(crate) fn address(&self) -> &str {
        &self.slots.dialer().address
    }

    /// Runs `command`: bounded by the connect timeout (only when a connection must be
    /// dialled) and the command timeout.
    pub(crate) async fn run(
        &self,
        operation: &'static str,
        command: Command<'_>,
    ) -> Result<Outcome, Error> {
        self.attempt(command).await.map_err(|error| {
            Error::storage(
                operation,
                ServerError {
                    address: self.address().to_owned(),
                    error,
                },
            )
        })
    }

    async fn attempt(&self, command: Command<'_>) -> Result<Outcome, CommandError> {
        let lease = self.slots.lease().await.map_err(CommandError::Connect)?;
        let reply = tokio::time::timeout(self.command_timeout, lease.send(command.encode())).await;
        let error = match reply {
            Ok(Ok(reply)) => match command.outcome(reply) {
                Some(Outcome::ServerError(message)) => CommandError::Refused(message),
                Some(outcome) => return Ok(outcome),
                None => CommandError::OutOfStep,
            },
            Ok(Err(Lost)) => CommandError::Lost,
            Err(_) => CommandError::TimedOut(self.command_timeout),
        };
        if error.breaks_connection() {
            // Do not hand this connection to the next request.
            lease.forget();
        }
        Err(error)
    }
}
