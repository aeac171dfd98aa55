//! [`Session`]: the request's session, loaded, as an actix-web extractor.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use session_middleware::Error;

use crate::SessionError;

/// The request's session, loaded: every [`session_middleware::Session`] method through
/// `Deref`.
///
/// Extracting fails with [`Error::MissingLayer`] (500) when
/// [`SessionMiddleware`](crate::SessionMiddleware) does not wrap the route, and with the
/// storage's error (503 for an outage) when loading fails.
///
/// ```
/// use session_actix::{Session, SessionError};
///
/// async fn profile(session: Session) -> Result<String, SessionError> {
///     Ok(match session.get::<u32>("userId")? {
///         Some(user) => format!("Profile for user {user}"),
///         None => "Not logged in".to_owned(),
///     })
/// }
/// # let _ = profile;
/// ```
#[derive(Clone, Debug)]
pub struct Session(session_middleware::Session);

impl Session {
    /// The session itself, for code written against `session_middleware`.
    pub fn into_inner(self) -> session_middleware::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = session_middleware::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = SessionError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, SessionError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = request
            .extensions()
            .get::<session_middleware::Session>()
            .cloned();
        Box::pin(async move {
            let session = session.ok_or(Error::MissingLayer)?;
            session.load().await?;
            Ok(Self(session))
        })
    }
}
