//! The tower layer and its service, side by side.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use session_core::{Error, Session, SessionBackend};
use tower_layer::Layer;
use tower_service::Service;

use crate::{SessionCookie, SessionManager};

/// Adds a [`Session`] to every request and saves it after the response.
///
/// Created by [`session`](crate::session). See the crate docs for the request flow.
#[derive(Clone, Debug)]
pub struct SessionLayer {
    manager: SessionManager,
}

impl SessionLayer {
    /// The layer for sessions carried by `cookie` and kept in `storage`.
    ///
    /// # Errors
    ///
    /// [`Error::UnsignedCookie`] when the cookie has no secret.
    pub fn new(cookie: SessionCookie, storage: impl SessionBackend) -> Result<Self, Error> {
        SessionManager::new(cookie, storage).map(Self::from_manager)
    }

    /// The layer driving an existing manager.
    pub fn from_manager(manager: SessionManager) -> Self {
        Self { manager }
    }

    /// Ends idle sessions; see [`SessionManager::with_idle_timeout`].
    #[must_use]
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.manager = self.manager.with_idle_timeout(idle);
        self
    }

    /// Ends old sessions; see [`SessionManager::with_absolute_timeout`].
    #[must_use]
    pub fn with_absolute_timeout(mut self, absolute: Duration) -> Self {
        self.manager = self.manager.with_absolute_timeout(absolute);
        self
    }

    /// Storage-failure policy; see [`SessionManager::fail_open`].
    #[must_use]
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.manager = self.manager.fail_open(fail_open);
        self
    }

    /// The manager doing the work.
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around the inner service.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

impl<S> SessionService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The response future of [`SessionService`].
pub type ResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness handles this request; a fresh clone
        // stays behind for the next one (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let manager = self.manager.clone();
        Box::pin(async move {
            if request.extensions().get::<Session>().is_some() {
                tracing::error!("a session layer found a session already in the request: apply the session layer only once");
                return Ok(error_response(StatusCode::INTERNAL_SERVER_ERROR));
            }
            let session = manager.session_from_headers(request.headers());
            request.extensions_mut().insert(session.clone());
            // If the handler fails, nothing is saved: the error propagates untouched.
            let mut response = inner.call(request).await?;
            match manager.commit(&session, response.headers_mut()).await {
                Ok(()) => Ok(response),
                Err(error) => {
                    let status = if error.is_unavailable() {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    };
                    tracing::error!(
                        error = %error,
                        source = ?std::error::Error::source(&error),
                        "session could not be saved; answering {status} instead of the handler's response"
                    );
                    Ok(error_response(status))
                }
            }
        })
    }
}

/// An opaque error response: a status and an empty body, no detail for the client.
fn error_response<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
}
