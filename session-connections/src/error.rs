//! Why no connection could be had.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// No connection could be had: the dial failed, or no connection came within the
/// connect timeout.
///
/// The message says what went wrong and what to check; it names no server (the
/// store that wraps it does) and carries no request data.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use session_connections::DialError;
///
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// let failed = DialError::Failed(refused);
/// assert!(failed.to_string().starts_with("could not connect"));
/// assert!(std::error::Error::source(&failed).is_some());
///
/// let timed_out = DialError::<std::io::Error>::TimedOut(Duration::from_secs(1));
/// assert!(timed_out.to_string().contains("raise the connect timeout"));
/// ```
#[derive(Debug)]
pub enum DialError<E> {
    /// The dial itself failed (refused, unknown host, failed handshake…).
    Failed(E),
    /// No connection within the connect timeout (given), waiting behind another
    /// request's dial included.
    TimedOut(Duration),
}

impl<E: fmt::Display> fmt::Display for DialError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(error) => write!(
                f,
                "could not connect ({error}); check that the server is up and that its address is right"
            ),
            Self::TimedOut(timeout) => write!(
                f,
                "no connection within the connect timeout ({timeout:?}); check that the server \
                 is reachable, or raise the connect timeout"
            ),
        }
    }
}

impl<E: Error + 'static> Error for DialError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed(error) => Some(error),
            Self::TimedOut(_) => None,
        }
    }
}
