//! [`SessionError`]: a session error as an actix-web response.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use session_middleware::Error;

/// A session [`Error`] as actix-web answers it: 503 for a storage outage, 500 otherwise
/// ([`Error::http_status`]), with an empty body. The error itself goes to the log, not
/// to the client.
///
/// Converts from [`Error`], so `?` on a session call works in a handler returning
/// `Result<_, SessionError>`.
///
/// ```
/// use actix_web::ResponseError;
/// use session_actix::SessionError;
/// use session_middleware::Error;
///
/// let outage = SessionError::from(Error::storage("read a session", "connection refused"));
/// assert_eq!(outage.status_code().as_u16(), 503);
/// assert_eq!(SessionError::from(Error::NotLoaded).status_code().as_u16(), 500);
/// ```
#[derive(Debug)]
pub struct SessionError(Error);

impl SessionError {
    /// The session error.
    pub fn get_ref(&self) -> &Error {
        &self.0
    }

    /// Unwraps the session error.
    pub fn into_inner(self) -> Error {
        self.0
    }
}

impl From<Error> for SessionError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        tracing::error!(error = %self.0, source = ?std::error::Error::source(&self.0), "session error");
        HttpResponse::new(self.status_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_reads_as_the_session_error_it_wraps() {
        let error = SessionError::from(Error::MissingLayer);
        assert_eq!(error.to_string(), Error::MissingLayer.to_string());
        let source = std::error::Error::source(&error).expect("the session error");
        assert_eq!(source.to_string(), Error::MissingLayer.to_string());
        assert!(matches!(error.into_inner(), Error::MissingLayer));
    }
}
