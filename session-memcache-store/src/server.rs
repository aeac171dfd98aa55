//! One memcached server: a few shared multiplexed connections, and running a command
//! on them within the timeouts.
//!
//! Requests share connections instead of checking one out of a pool: see
//! `connection.rs` for why. A connection is dialled on first use, round robin over the
//! configured count; one that failed is forgotten, so the next request dials a fresh
//! one, which is how service resumes by itself after a server restarts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use session_core::Error;

use crate::connection::{Connection, Lost};
use crate::protocol::{Command, Outcome};

/// Connection count and timeouts, as the builder collected them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) connections: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
}

/// One shared connection, dialled on demand.
struct Slot {
    live: Mutex<Option<Arc<Connection>>>,
    /// Held while dialling, so a burst of requests opens one connection, not one each.
    dialing: tokio::sync::Mutex<()>,
}

impl Slot {
    fn live(&self) -> Option<Arc<Connection>> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live
            .as_ref()
            .is_some_and(|connection| connection.is_closed())
        {
            *live = None;
        }
        live.clone()
    }

    /// Forgets `broken` (and only it: a fresh connection dialled meanwhile stays).
    fn forget(&self, broken: &Arc<Connection>) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live
            .as_ref()
            .is_some_and(|connection| Arc::ptr_eq(connection, broken))
        {
            *live = None;
        }
    }
}

/// One server: its address (for the hash ring and for errors) and its connections.
pub(crate) struct Server {
    pub(crate) address: String,
    slots: Box<[Slot]>,
    next: AtomicUsize,
    settings: Settings,
}

impl Server {
    pub(crate) fn new(address: String, settings: Settings) -> Self {
        let slots = (0..settings.connections.max(1))
            .map(|_| Slot {
                live: Mutex::new(None),
                dialing: tokio::sync::Mutex::new(()),
            })
            .collect();
        Self {
            address,
            slots,
            next: AtomicUsize::new(0),
            settings,
        }
    }

    /// Runs `command`: bounded by the connect timeout (only when a connection must be
    /// dialled) and the command timeout.
    pub(crate) async fn run(
        &self,
        operation: &'static str,
        command: Command<'_>,
    ) -> Result<Outcome, Error> {
        self.attempt(command).await.map_err(|failure| {
            Error::storage(
                operation,
                ServerError {
                    address: self.address.clone(),
                    failure,
                },
            )
        })
    }

    async fn attempt(&self, command: Command<'_>) -> Result<Outcome, Failure> {
        let slot = match self.slots.len() {
            1 => &self.slots[0],
            n => &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % n],
        };
        let connection = self.connection(slot).await?;
        let reply = tokio::time::timeout(
            self.settings.command_timeout,
            connection.send(command.encode()),
        )
        .await;
        let failure = match reply {
            Ok(Ok(reply)) => match command.outcome(reply) {
                Some(Outcome::ServerError(message)) => return Err(Failure::Refused(message)),
                Some(outcome) => return Ok(outcome),
                None => Failure::OutOfStep,
            },
            Ok(Err(Lost)) => Failure::Lost,
            Err(_) => Failure::TimedOut,
        };
        // Whatever went wrong, do not hand this connection to the next request.
        slot.forget(&connection);
        Err(failure)
    }

    async fn connection(&self, slot: &Slot) -> Result<Arc<Connection>, Failure> {
        if let Some(live) = slot.live() {
            return Ok(live);
        }
        let timeout = self.settings.connect_timeout;
        // Slow path, bounded as a whole: requests queued behind a dial to an unreachable
        // server fail in time too.
        let dial = async {
            let _dialing = slot.dialing.lock().await;
            if let Some(live) = slot.live() {
                return Ok(live);
            }
            let connection = Arc::new(
                Connection::open(&self.address, timeout)
                    .await
                    .map_err(Failure::Connect)?,
            );
            *slot.live.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
            Ok(connection)
        };
        tokio::time::timeout(timeout, dial)
            .await
            .unwrap_or(Err(Failure::ConnectTimeout(timeout)))
    }
}

#[derive(Debug)]
enum Failure {
    Connect(std::io::Error),
    ConnectTimeout(Duration),
    Lost,
    TimedOut,
    OutOfStep,
    Refused(String),
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
            Failure::Connect(error) => {
                write!(f, "cannot connect to memcached at {address}: {error}")
            }
            Failure::ConnectTimeout(timeout) => write!(
                f,
                "cannot connect to memcached at {address} within the connect timeout ({timeout:?})"
            ),
            Failure::Lost => write!(f, "the connection to memcached at {address} broke"),
            Failure::TimedOut => write!(f, "memcached at {address} did not answer in time"),
            Failure::OutOfStep => write!(
                f,
                "memcached at {address} answered with a reply that does not fit the command"
            ),
            Failure::Refused(message) => write!(f, "memcached at {address} refused: {message}"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            Failure::Connect(error) => Some(error),
            _ => None,
        }
    }
}
