//! [`SessionMiddleware`], the actix-web `Transform`, and the service it wraps around
//! the app.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpResponse};
use session_middleware::{Error, Session, SessionBackend, SessionCookie, SessionManager};

use crate::headers;

/// Adds a session to every request and saves it after the response: the tower
/// layer's work, for actix-web's `App::wrap`.
///
/// Timeouts, header tokens, ID renewal and the rest of the policy are set on the
/// [`SessionManager`] it drives ([`from_manager`](Self::from_manager)); it has none of
/// `SessionLayer`'s shortcuts, so each setting has one place.
///
/// ```
/// use std::time::Duration;
/// use actix_web::App;
/// use session_actix::{SessionManager, SessionMiddleware};
/// use session_middleware::{MemoryStore, SessionCookie};
///
/// let cookie = SessionCookie::builder("__session")
///     .secret("replace me with 32+ random bytes from your secret store")
///     .build()?;
/// // Policies are the manager's: configure it, then wrap.
/// let manager = SessionManager::new(cookie, MemoryStore::new())?
///     .idle_timeout(Duration::from_secs(30 * 60));
/// let app = App::new().wrap(SessionMiddleware::from_manager(manager));
/// # let _ = app;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct SessionMiddleware {
    manager: SessionManager,
}

impl SessionMiddleware {
    /// The middleware for sessions carried by `cookie` and kept in `storage`.
    ///
    /// # Errors
    ///
    /// [`Error::UnsignedCookie`] when the cookie has no secret.
    pub fn new(cookie: SessionCookie, storage: impl SessionBackend) -> Result<Self, Error> {
        SessionManager::new(cookie, storage).map(Self::from_manager)
    }

    /// The middleware driving an existing manager (its timeouts, tokens and policy).
    pub fn from_manager(manager: SessionManager) -> Self {
        Self { manager }
    }

    /// The manager doing the work (for [`SessionManager::commit_token`]).
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            inner: service,
            manager: self.manager.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the app.
#[derive(Debug)]
pub struct SessionMiddlewareService<S> {
    inner: S,
    manager: SessionManager,
}

type ResponseFuture<B> =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>>;

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = ResponseFuture<B>;

    forward_ready!(inner);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        if request.extensions().contains::<Session>() {
            tracing::error!("a session middleware found a session already in the request: wrap the app in it only once");
            let refused = request.into_response(HttpResponse::InternalServerError().finish());
            return Box::pin(ready(Ok(refused.map_into_right_body())));
        }
        let session = self
            .manager
            .session_from_headers(&headers::for_session(request.headers(), &self.manager));
        request.extensions_mut().insert(session.clone());
        let handling = self.inner.call(request);
        let manager = self.manager.clone();
        Box::pin(async move {
            // A handler's or extractor's error is already a response here (actix renders
            // it), so its session changes are saved, as the tower layer saves those of
            // an error response. Only an inner middleware's `Err` skips the save.
            let mut response = handling.await?;
            if !session.needs_commit() {
                return Ok(response.map_into_left_body());
            }
            let mut committed = headers::for_commit(response.headers(), &manager);
            match manager.commit(&session, &mut committed).await {
                Ok(()) => {
                    headers::apply(&committed, &manager, response.headers_mut());
                    Ok(response.map_into_left_body())
                }
                Err(error) => Ok(failure_response(response, &error)),
            }
        })
    }
}

/// The response when the session could not be saved: 503 for a storage outage, 500
/// otherwise, empty, and logged with the cause (as the tower layer answers).
fn failure_response<B>(
    response: ServiceResponse<B>,
    error: &Error,
) -> ServiceResponse<EitherBody<B>> {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    tracing::error!(
        error = %error,
        source = ?std::error::Error::source(error),
        "session could not be saved; answering {status} instead of the handler's response"
    );
    let (request, _) = response.into_parts();
    ServiceResponse::new(request, HttpResponse::<BoxBody>::new(status)).map_into_right_body()
}
