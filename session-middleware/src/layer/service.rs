//! [`SessionService`]: puts a session in each request and hands the response to
//! [`ResponseFuture`] to commit it.

use std::task::{Context, Poll};

use http::{Request, Response};
use session_core::Session;
use tower_service::Service;

use super::failure::Protocol;
use super::{ResponseFuture, SessionBody};
use crate::SessionManager;

/// The service [`SessionLayer`](super::SessionLayer) wraps around the inner service.
///
/// Its responses carry a [`SessionBody`]: the inner service's body, or an empty one
/// when the layer answers itself (a failed save). That is why it asks nothing of the
/// inner body type, so it composes with any tower-http layer in any order.
#[derive(Clone, Debug)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

impl<S> SessionService<S> {
    /// `inner`, with sessions from `manager`.
    pub(super) fn new(inner: S, manager: SessionManager) -> Self {
        Self { inner, manager }
    }

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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<SessionBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // Read before the handler runs: the answer to a failed save must be in the
        // caller's protocol (gRPC clients expect `grpc-status`, not an HTTP error).
        let protocol = Protocol::of(request.method(), request.headers());
        if request.extensions().get::<Session>().is_some() {
            tracing::error!("a session layer found a session already in the request: apply the session layer only once");
            return ResponseFuture::applied_twice(protocol);
        }
        let session = self.manager.session_from_headers(request.headers());
        request.extensions_mut().insert(session.clone());
        // `poll_ready` readied `self.inner`; it handles this request.
        ResponseFuture::new(
            self.inner.call(request),
            session,
            self.manager.clone(),
            protocol,
        )
    }
}
