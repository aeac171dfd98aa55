//! The one error type of the workspace.

use std::error::Error as StdError;

/// A boxed backend error, kept whole as the [`source`](StdError::source) of an [`Error`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a value could not be converted to or from JSON, without the value: serde's
/// own message quotes the offending value ("invalid type: string \"…\""), which may be
/// a secret the session holds. Only the kind of failure and its position are kept.
///
/// ```
/// use session_core::JsonError;
///
/// let serde_error = serde_json::from_str::<u64>(r#""hunter2""#).unwrap_err();
/// let error = JsonError::from(serde_error);
/// assert!(!error.to_string().contains("hunter2"));
/// assert_eq!(error.category(), serde_json::error::Category::Data);
/// ```
#[derive(Debug)]
pub struct JsonError {
    category: serde_json::error::Category,
}

impl JsonError {
    /// The kind of failure: the value has another type or shape (`Data`), or the text
    /// is not JSON (`Syntax`, `Eof`).
    pub fn category(&self) -> serde_json::error::Category {
        self.category
    }
}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        Self {
            category: error.classify(),
        }
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use serde_json::error::Category;
        f.write_str(match self.category {
            Category::Data => "the value has another type or shape than the one asked for",
            Category::Syntax => "the text is not valid JSON",
            Category::Eof => "the JSON text ends early",
            Category::Io => "reading the JSON failed",
        })
    }
}

impl StdError for JsonError {}

/// Everything that can go wrong with a session, in any crate of this workspace.
///
/// Each message says what happened and what to do about it. None of them contains a
/// session ID, a secret or session data, so they are safe to log. Backend errors are
/// kept as the [`source`](StdError::source), never flattened into a string.
///
/// [`Error::is_unavailable`] tells a temporary storage outage (answer 503 and keep the
/// user's cookie) from a bug or misconfiguration (answer 500).
///
/// # Example
///
/// ```
/// use session_core::Error;
///
/// let err = Error::CookieTooLarge { size: 5000, limit: 4096 };
/// assert!(err.to_string().contains("5000 bytes"));
/// assert!(!err.is_unavailable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A session method that needs the data was called before the data was loaded.
    #[error(
        "session data used before it was loaded; call `Session::load().await` first \
         (the axum extractor does this for you)"
    )]
    NotLoaded,

    /// No session was found in the request extensions.
    #[error(
        "no session in the request extensions; add the session layer \
         (`session_middleware::session(cookie, storage)`) in front of this handler"
    )]
    MissingLayer,

    /// A value could not be converted to or from JSON.
    #[error(
        "session value for key {key:?} could not be converted to or from JSON; \
         check that the type you read matches the type that was stored"
    )]
    Json {
        /// The session key whose value failed.
        key: String,
        /// What kind of failure it was (serde's own message is left out: it can quote
        /// the value).
        #[source]
        source: JsonError,
    },

    /// [`Session::increment`](crate::Session::increment) was asked to add to a value
    /// that is not an integer.
    #[error(
        "session value for key {key:?} is not an integer, so it cannot be incremented; \
         store counters only through `increment`, or use another key"
    )]
    NotACounter {
        /// The session key holding the value.
        key: String,
    },

    /// A save by compare-and-swap found the record changed by another request on every
    /// attempt: nothing was saved.
    #[error(
        "session storage {backend} kept changing the record under this save ({attempts} \
         attempts, each overtaken by a parallel request); nothing was saved, retry the request"
    )]
    Contended {
        /// The storage: "memcached".
        backend: &'static str,
        /// How many writes were attempted.
        attempts: usize,
    },

    /// A record in a storage backend is not a valid session.
    #[error(
        "stored session record is not valid session JSON ([values, flash]); \
         it is ignored and a fresh session is started"
    )]
    CorruptRecord(#[source] JsonError),

    /// The storage backend failed or could not be reached.
    #[error(
        "session storage failed to {operation}; check that the backend is reachable and healthy"
    )]
    Storage {
        /// What the middleware was doing: "read a session", "write a session", ….
        operation: &'static str,
        /// The backend's own error.
        #[source]
        source: BoxError,
    },

    /// The session cookie would exceed what browsers accept.
    #[error(
        "session cookie would be {size} bytes, over the {limit}-byte limit browsers accept, \
         so it was not sent; store less in the session or use server-side storage"
    )]
    CookieTooLarge {
        /// Bytes of `name=value` the cookie would have had.
        size: usize,
        /// The limit in bytes (4096, RFC 6265bis).
        limit: usize,
    },

    /// A session record is larger than the storage accepts. Nothing was written: the
    /// record stored before, if any, is still there.
    #[error(
        "session record would be {size} bytes, over the {limit}-byte limit of {backend}, \
         so it was not stored and the previous one is kept; store less in the session \
         or raise the store's maximum record size"
    )]
    RecordTooLarge {
        /// The storage: "memcached", "Redis", "memory".
        backend: &'static str,
        /// Bytes the record would have had.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// The session cookie is configured without secrets.
    #[error(
        "session cookie must be signed; give the cookie at least one secret \
         (e.g. `SessionCookie::builder(\"__session\").secret(...)`)"
    )]
    UnsignedCookie,

    /// A [`SessionPolicy`](crate::SessionPolicy) setting is out of range.
    #[error("invalid session policy: {0}")]
    InvalidPolicy(&'static str),

    /// The cookie configuration breaks a rule browsers enforce.
    #[error("invalid session cookie configuration: {0}")]
    InvalidCookie(&'static str),

    /// A storage backend was configured with settings it cannot use.
    #[error("invalid {backend} session storage configuration: {reason}")]
    Config {
        /// The backend: "Redis", "memcached", ….
        backend: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// The operating system could not supply random bytes for a session ID.
    #[error("could not get random bytes from the operating system for a session id; check the OS entropy source")]
    Randomness(#[source] getrandom::Error),

    /// The storage cannot do what was asked: listing or revoking a user's sessions on
    /// cookie storage (it keeps nothing on the server to list or delete), or on a
    /// storage of your own that does not opt in.
    #[error(
        "session storage {backend} cannot {operation}; use a server-side storage that \
         supports it (memory, Redis, memcached)"
    )]
    Unsupported {
        /// The storage: "cookie", "memory", ….
        backend: &'static str,
        /// What it cannot do: "list a user's sessions", ….
        operation: &'static str,
    },

    /// A user's sessions were asked for through a session bound to no user.
    #[error(
        "this session is bound to no user, so it has no user's sessions to list or revoke; \
         call `Session::set_user` at login"
    )]
    NoUser,

    /// An invariant of this crate did not hold: a bug, please report it.
    #[error("internal error in the session library ({0}); please report this as a bug")]
    Internal(&'static str),
}

impl Error {
    /// Wraps a backend error that happened while doing `operation`.
    ///
    /// ```
    /// use session_core::Error;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    /// let err = Error::storage("read a session", io);
    /// assert!(err.is_unavailable());
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    pub fn storage(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Storage {
            operation,
            source: source.into(),
        }
    }

    /// True when the error is a storage outage, or a save overtaken by parallel ones
    /// ([`Error::Contended`]): retrying later may succeed, and the right HTTP answer is
    /// 503 with the user's cookie left alone.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Storage { .. } | Self::Contended { .. })
    }

    /// The HTTP status to answer with: 503 when [`is_unavailable`](Self::is_unavailable)
    /// (retry later), 500 otherwise. What every framework integration answers, with an
    /// empty body: the detail goes to the log.
    ///
    /// ```
    /// use session_core::Error;
    ///
    /// assert_eq!(Error::storage("read a session", "connection refused").http_status(), 503);
    /// assert_eq!(Error::NotLoaded.http_status(), 500);
    /// ```
    pub fn http_status(&self) -> u16 {
        if self.is_unavailable() {
            503
        } else {
            500
        }
    }

    /// The gRPC status code to end a call with: 14 (UNAVAILABLE) when
    /// [`is_unavailable`](Self::is_unavailable), 13 (INTERNAL) otherwise. What the layer
    /// answers a gRPC call whose session could not be saved, and what a gRPC handler
    /// should answer for a session error of its own.
    ///
    /// ```
    /// use session_core::Error;
    ///
    /// assert_eq!(Error::storage("read a session", "connection refused").grpc_code(), 14);
    /// assert_eq!(Error::NotLoaded.grpc_code(), 13);
    /// ```
    pub fn grpc_code(&self) -> i32 {
        if self.is_unavailable() {
            14
        } else {
            13
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let json = serde_json::from_str::<u8>("x").expect_err("invalid json");
        let errors = [
            Error::NotLoaded,
            Error::MissingLayer,
            Error::CorruptRecord(json.into()),
            Error::storage("read a session", "boom"),
            Error::NotACounter { key: "hits".into() },
            Error::Contended {
                backend: "memcached",
                attempts: 8,
            },
            Error::CookieTooLarge {
                size: 5000,
                limit: 4096,
            },
            Error::RecordTooLarge {
                backend: "memcached",
                size: 2_000_000,
                limit: 1_048_576,
            },
            Error::UnsignedCookie,
            Error::InvalidCookie("a reason"),
            Error::InvalidPolicy("a reason"),
            Error::Config {
                backend: "Redis",
                reason: "a reason".into(),
            },
            Error::Unsupported {
                backend: "cookie",
                operation: "list a user's sessions",
            },
            Error::NoUser,
            Error::Internal("why"),
        ];
        for err in errors {
            let text = err.to_string();
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            // Only a storage outage or a contended save is a 503 that keeps the cookie.
            assert_eq!(
                err.is_unavailable(),
                matches!(err, Error::Storage { .. } | Error::Contended { .. }),
                "{text}"
            );
        }
    }

    #[test]
    fn json_errors_say_what_kind_of_failure_without_the_value() {
        let syntax = serde_json::from_str::<serde_json::Value>("x").expect_err("syntax");
        let eof = serde_json::from_str::<serde_json::Value>("[1").expect_err("eof");
        let data = serde_json::from_str::<u8>("\"a string\"").expect_err("data");
        let cases = [
            (syntax, "not valid JSON"),
            (eof, "ends early"),
            (data, "another type or shape"),
        ];
        for (error, says) in cases {
            let text = error.to_string();
            let message = JsonError::from(error).to_string();
            assert!(message.contains(says), "{text}: {message}");
        }
    }
}
