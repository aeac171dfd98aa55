//! Why a memcached command failed, in the words the Redis store uses too.

use std::error::Error;
use std::fmt;
use std::time::Duration;

use session_connections::DialError;

use crate::protocol::ProtocolError;

/// Why a command failed. The messages say what went wrong and what to check; none
/// carries a key or a value.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// No connection could be had.
    Connect(DialError<std::io::Error>),
    /// No reply within the command timeout (given): its connection was closed.
    TimedOut(Duration),
    /// The connection was closed before the reply came, for this reason.
    Broken(Broken),
    /// The server refused this one command (`SERVER_ERROR …`, say out of memory); its
    /// message, which quotes no data.
    Refused(String),
}

impl CommandError {
    /// True when the connection must not carry another command: it is closed (every
    /// request still on it fails) and forgotten, and the next request dials a new one.
    /// A refusal leaves the stream in step.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(self, Self::TimedOut(_) | Self::Broken(_))
    }
}

/// Why a connection was closed. Every request waiting on it fails with this, whichever
/// request's reply revealed it.
#[derive(Clone, Debug)]
pub(crate) enum Broken {
    /// The socket closed or failed.
    Socket,
    /// The stream held something that is not a reply we can take (described).
    Garbage(ProtocolError),
    /// A reply carried another command's opaque token, or none, or did not fit its
    /// command.
    OutOfStep,
    /// A reply came when no command was waiting for one.
    Unsolicited,
    /// A write did not complete within the command timeout (given): the server stopped
    /// reading.
    WriteStalled(Duration),
    /// A command on it went unanswered within the command timeout (given).
    Unanswered(Duration),
}

/// A failure on one server, naming it (addresses are configuration, not secrets).
#[derive(Debug)]
pub(crate) struct ServerError {
    pub(crate) address: String,
    pub(crate) error: CommandError,
}

/// Said of every broken connection.
const REDIALS: &str = "the connection was closed, every request on it failed and the next \
                       request dials a new one";

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let address = &self.address;
        match &self.error {
            CommandError::Connect(error) => write!(f, "memcached at {address}: {error}"),
            CommandError::TimedOut(timeout) => write!(
                f,
                "memcached at {address} did not answer within the command timeout \
                 ({timeout:?}); {REDIALS}, and nothing still queued on it is sent (a command \
                 already sent may still apply); check the server's load and latency, or \
                 raise the command timeout"
            ),
            CommandError::Broken(broken) => match broken {
                Broken::Socket => write!(
                    f,
                    "the connection to memcached at {address} broke before the reply came; \
                     the next request dials a new one; check the server if this keeps happening"
                ),
                Broken::Garbage(error) => write!(
                    f,
                    "memcached at {address}: {error}; {REDIALS}; check that the address is a \
                     memcached 1.6 or later"
                ),
                Broken::OutOfStep => write!(
                    f,
                    "memcached at {address} sent a reply that does not belong to its command \
                     (another command's opaque token, or none); {REDIALS}, so no reply reaches \
                     the wrong request; check that the address is a memcached 1.6 or later, \
                     and any proxy in between"
                ),
                Broken::Unsolicited => write!(
                    f,
                    "memcached at {address} sent a reply to no command; {REDIALS}; check that \
                     the address is a memcached 1.6 or later, and any proxy in between"
                ),
                Broken::WriteStalled(timeout) => write!(
                    f,
                    "memcached at {address} stopped reading: a write did not complete within \
                     the command timeout ({timeout:?}); {REDIALS}, and nothing still queued on \
                     it is sent; check the server (a frozen process, a congested network)"
                ),
                Broken::Unanswered(timeout) => write!(
                    f,
                    "another command on this connection to memcached at {address} went \
                     unanswered within the command timeout ({timeout:?}); {REDIALS}, and \
                     nothing still queued on it is sent; check the server's load and latency"
                ),
            },
            CommandError::Refused(message) => write!(
                f,
                "memcached at {address} refused the command ({message}); check the server's \
                 limits (memory)"
            ),
        }
    }
}

impl Error for ServerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.error {
            CommandError::Connect(error) => Some(error),
            CommandError::Broken(Broken::Garbage(error)) => Some(error),
            _ => None,
        }
    }
}
