//! Why a Redis command failed, in the words the memcached store uses too, and what to
//! change when the cause is the configuration (credentials, TLS).

use std::error::Error;
use std::fmt;

use redis::{ErrorKind, RedisError, ServerErrorKind};
use session_connections::DialError;

/// Why a command failed. The messages say what went wrong and what to check; none
/// carries a key or a value.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// No connection could be had.
    Connect(DialError<RedisError>),
    /// The connection broke (I/O error, closed, or the driver gave up on it).
    Lost(RedisError),
    /// No reply within the command timeout.
    TimedOut(RedisError),
    /// A reply that does not fit the command, not RESP, or replies that do not line up
    /// with the commands sent (`batch.rs`, "The nonce"). Redis's own message is left
    /// out: it may quote the reply, which may be a session's data.
    OutOfStep,
    /// The node is a replica now (a master demoted after a Sentinel failover): the
    /// command was not applied, and the connection must go.
    ReadOnly(RedisError),
    /// Redis answered with an error (`WRONGTYPE`, `OOM`, `NOAUTH`, …).
    Refused(RedisError),
}

impl CommandError {
    /// True when the connection must not carry another command: it is forgotten, and
    /// the next request dials a new one.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Self::Lost(_) | Self::TimedOut(_) | Self::OutOfStep | Self::ReadOnly(_)
        )
    }
}

impl From<RedisError> for CommandError {
    fn from(error: RedisError) -> Self {
        if error.is_timeout() {
            Self::TimedOut(error)
        } else if matches!(
            error.kind(),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType
        ) {
            Self::OutOfStep
        } else if error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
            || queued_on_a_replica(&error)
        {
            Self::ReadOnly(error)
        } else if error.is_io_error()
            || error.is_connection_dropped()
            // A refused *connection* is a lost one; `Refused` is for commands the
            // server answered with an error.
            || error.is_connection_refusal()
            || error.is_unrecoverable_error()
        {
            Self::Lost(error)
        } else {
            Self::Refused(error)
        }
    }
}

/// A transaction (`EXECABORT`) whose commands a replica refused as read-only: nothing
/// was applied, and the connection points at a demoted master.
fn queued_on_a_replica(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::ExecAbort)
        && error.clone().into_server_errors().is_some_and(|errors| {
            errors
                .iter()
                .any(|(_, error)| error.kind() == Some(ServerErrorKind::ReadOnly))
        })
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(DialError::Failed(error)) => match advice(error) {
                Some(advice) => write!(f, "could not connect to Redis: {advice} ({error})"),
                None => write!(f, "Redis: {}", DialError::Failed(error)),
            },
            Self::Connect(timed_out) => write!(f, "Redis: {timed_out}"),
            Self::Lost(error) => match advice(error) {
                Some(advice) => write!(f, "the connection to Redis failed: {advice} ({error})"),
                None => write!(
                    f,
                    "the connection to Redis broke ({error}); the next request dials a new one; \
                     check the server if this keeps happening"
                ),
            },
            Self::TimedOut(error) => write!(
                f,
                "Redis did not answer within the command timeout ({error}); check the \
                 server's load and latency, or raise the command timeout"
            ),
            Self::OutOfStep => f.write_str(
                "Redis answered out of step with the commands sent (a reply of the wrong kind, \
                 out of place, or not RESP); the requests on that connection failed and the \
                 next request dials a new one; check that the URL points at a Redis server \
                 and that no proxy in between reorders or drops replies",
            ),
            Self::ReadOnly(_) => f.write_str(
                "the Redis node is a read-only replica now (a failover demoted it); the next \
                 request dials the current master; point the store at the master or at the \
                 sentinels",
            ),
            Self::Refused(error) => match advice(error) {
                Some(advice) => write!(f, "Redis refused the command: {advice} ({error})"),
                None => write!(
                    f,
                    "Redis refused the command ({error}); check the server's configuration \
                     (memory limit, ACLs) and that no other program writes these keys"
                ),
            },
        }
    }
}

/// What to change, when a failure comes from the configuration: credentials, ACL
/// permissions, or TLS. `None` for everything else.
fn advice(error: &RedisError) -> Option<&'static str> {
    if error.kind() == ErrorKind::AuthenticationFailed || error.code() == Some("WRONGPASS") {
        return Some(
            "authentication failed: Redis refused the username and password; check them \
             (RedisStoreBuilder::username, ::password, or the URL)",
        );
    }
    match error.code() {
        Some("NOAUTH") => {
            return Some(
                "authentication required: the server needs a password; set one \
                 (RedisStoreBuilder::password, and ::username for an ACL user)",
            )
        }
        Some("NOPERM") => {
            return Some(
                "the ACL user may not run this command on these keys; grant it GET, GETEX, \
                 SET, DEL, EVALSHA, EVAL, MULTI and EXEC on the key prefix, and PING (and \
                 ROLE and INFO with Sentinel)",
            )
        }
        _ => {}
    }
    crate::tls::advice(error)
}

impl Error for CommandError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Connect(error) => Some(error),
            Self::Lost(error)
            | Self::TimedOut(error)
            | Self::ReadOnly(error)
            | Self::Refused(error) => Some(error),
            Self::OutOfStep => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> RedisError {
        RedisError::from(std::io::Error::new(kind, "test"))
    }

    #[test]
    fn failures_are_sorted_by_what_they_do_to_the_connection() {
        let timed_out = CommandError::from(io(std::io::ErrorKind::TimedOut));
        assert!(matches!(timed_out, CommandError::TimedOut(_)));
        let lost = CommandError::from(io(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(lost, CommandError::Lost(_)));
        let parse = CommandError::from(RedisError::from((ErrorKind::Parse, "a reply")));
        assert!(matches!(parse, CommandError::OutOfStep));
        let mistyped = RedisError::from((ErrorKind::UnexpectedReturnType, "a reply"));
        let mistyped = CommandError::from(mistyped);
        assert!(matches!(mistyped, CommandError::OutOfStep));
        assert!([timed_out, lost, parse, mistyped]
            .iter()
            .all(CommandError::breaks_connection));
        let refused = CommandError::from(RedisError::from((ErrorKind::Client, "refused")));
        assert!(!refused.breaks_connection());
    }

    /// An error reply, as Redis sends it.
    fn reply(line: &str) -> RedisError {
        redis::parse_redis_value(line.as_bytes())
            .expect("RESP")
            .extract_error()
            .expect_err("an error reply")
    }

    #[test]
    fn configuration_failures_say_what_to_change() {
        let cases = [
            ("-NOAUTH Authentication required.\r\n", "set one"),
            (
                "-WRONGPASS invalid username-password pair\r\n",
                "check them",
            ),
            ("-NOPERM this user has no permissions\r\n", "EVAL"),
        ];
        for (line, says) in cases {
            let error = CommandError::from(reply(line));
            assert!(matches!(error, CommandError::Refused(_)), "{line}");
            assert!(!error.breaks_connection(), "{line}");
            let message = error.to_string();
            assert!(message.contains(says), "{line}: {message}");
            assert!(error.source().is_some(), "{line}: the cause is kept");
        }
        let other = CommandError::from(reply("-ERR something else\r\n"));
        let message = other.to_string();
        assert!(
            message.contains("check the server's configuration"),
            "{message}"
        );
        assert!(
            !message.contains("EVAL") && !message.contains("set one"),
            "{message}"
        );
        let demoted = CommandError::from(reply(
            "-READONLY You can't write against a read only replica.\r\n",
        ));
        assert!(matches!(demoted, CommandError::ReadOnly(_)));
        assert!(demoted.breaks_connection());
    }
}
