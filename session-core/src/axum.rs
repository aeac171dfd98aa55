//! axum integration: `Session` as an extractor, `Error` as a response.

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::{Error, Session};

/// Takes the request's [`Session`] from its extensions and loads it.
///
/// ```
/// use session_core::{Error, Session};
///
/// async fn counter(session: Session) -> Result<String, Error> {
///     let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
///     session.set("count", count)?;
///     Ok(format!("Count: {count}"))
/// }
/// # let _ = counter;
/// ```
///
/// Fails with [`Error::MissingLayer`] (500) when the session layer is not installed, and
/// with the backend's error (503 for an outage) when loading fails.
impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(Error::MissingLayer)?;
        session.load().await?;
        Ok(session)
    }
}

/// An opaque response: 503 for a storage outage, 500 otherwise, with an empty body, as
/// the session layer's own error responses. The error itself goes to the log, not to
/// the client.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::error!(error = %self, source = ?std::error::Error::source(&self), "session error");
        status.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_answer_503_for_outages_and_500_otherwise() {
        for (error, status) in [
            (
                Error::storage("read a session", "connection refused"),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (Error::NotLoaded, StatusCode::INTERNAL_SERVER_ERROR),
            (Error::MissingLayer, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let response = error.into_response();
            // The empty body is checked end to end in `tests/integration/error_bodies.rs`.
            assert_eq!(response.status(), status);
        }
    }
}
