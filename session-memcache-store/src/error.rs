//! Why a memcached command failed, in the words the Redis store uses too.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use session_connections::DialError;

/// Why a command failed. The messages say what went wrong and what to check; none
/// carries a key or a value.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// No connection could be had.
    Connect(DialError<std::io::Error>),
    /// The connection broke before the reply came.
    Lost,
    /// No reply within the command timeout (given).
    TimedOut(Duration),
    /// A reply that does not fit the command.
    OutOfStep,
    /// The server refused this one command (`SERVER_ERROR …`, say a value over its item
    /// size limit); its message, which quotes no data.
    Refused(String),
}

impl CommandError {
    /// True when the connection must not carry another command: it is forgotten, and
    /// the next request dials a new one. A refusal leaves the stream in step.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(self, Self::Lost | Self::TimedOut(_) | Self::OutOfStep)
    }
}

/// A failure on one server, naming it (addresses are configuration, not secrets).
#[derive(Debug)]
pub(crate) struct ServerError {
    pub(crate) address: String,
    pub(crate) error: CommandError,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = &self.address;
        match &self.error {
            CommandError::Connect(error) => write!(f, "memcached at {address}: {error}"),
            CommandError::Lost => write!(
                f,
                "the connection to memcached at {address} broke; the next request dials a \
                 new one; check the server if this keeps happening"
            ),
            CommandError::TimedOut(timeout) => write!(
                f,
                "memcached at {address} did not answer within the command timeout \
                 ({timeout:?}); check the server's load and latency, or raise the command timeout"
            ),
            CommandError::OutOfStep => write!(
                f,
                "memcached at {address} answered with a reply that does not fit the command; \
                 the next request dials a new connection; check that the address is a \
                 memcached 1.6 or later"
            ),
            CommandError::Refused(message) => write!(
                f,
                "memcached at {address} refused the command ({message}); check the server's \
                 limits (item size, memory)"
            ),
        }
    }
}

impl Error for ServerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.error {
            CommandError::Connect(error) => Some(error),
            _ => None,
        }
    }
}
