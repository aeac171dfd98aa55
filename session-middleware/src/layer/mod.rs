//! The tower layer, its service, response future and response body, side by side (as
//! tower-http's layers are laid out).

mod body;
mod failure;
mod future;
mod service;

use std::time::Duration;

use session_core::{Clock, Error, SessionBackend, SessionPolicy};
use tower_layer::Layer;

pub use body::SessionBody;
pub use future::ResponseFuture;
pub use service::SessionService;

use crate::{SessionCookie, SessionManager};

/// Adds a [`Session`](session_core::Session) to every request and saves it after the
/// response.
///
/// Created by [`session`](crate::session). See the crate docs for the request flow.
///
/// # Where it may sit
///
/// Anywhere in a tower stack, once, outside every handler that uses the session and
/// inside any CORS layer (the layer's own failure answers carry none of the headers
/// set inside it). It asks
/// nothing of the inner service's request body, response body or error type, and its
/// responses carry a [`SessionBody`] (the inner body, or an empty one when it answers
/// itself), so it composes in either order with tower-http's `TraceLayer`,
/// `CompressionLayer`, `TimeoutLayer` and `MapResponseBody` (tested both ways over a
/// real socket), under axum's `Router::layer`, hyper-util's `TowerToHyperService` and
/// tonic's `Server::builder().layer`. With a timeout outside it, a request cut short
/// saves nothing and sets no cookie; with one inside it, the changes the handler made
/// before the timeout are saved with the timeout's answer.
///
/// ```
/// use http::{Request, Response, StatusCode};
/// use session_middleware::{session, MemoryStore, SessionCookie};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let cookie = SessionCookie::builder("__session")
///     .secret("replace me with 32+ random bytes from your secret store")
///     .build()?;
/// let app = ServiceBuilder::new()
///     // A layer outside it that changes the body type: any body will do.
///     .map_response(|response: Response<_>| response.map(http_body_util::BodyExt::boxed))
///     .layer(session(cookie, MemoryStore::new())?)
///     .service(service_fn(|_: Request<http_body_util::Full<bytes::Bytes>>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(bytes::Bytes::new())))
///     }));
/// let response = app.oneshot(Request::default()).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

    /// Ends idle sessions; see [`SessionManager::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(self, idle: Duration) -> Self {
        self.change_manager(|manager| manager.idle_timeout(idle))
    }

    /// Ends old sessions; see [`SessionManager::absolute_timeout`].
    #[must_use]
    pub fn absolute_timeout(self, absolute: Duration) -> Self {
        self.change_manager(|manager| manager.absolute_timeout(absolute))
    }

    /// Storage-failure policy; see [`SessionManager::fail_open`].
    #[must_use]
    pub fn fail_open(self, fail_open: bool) -> Self {
        self.change_manager(|manager| manager.fail_open(fail_open))
    }

    /// Reads the time from `clock`; see [`SessionManager::clock`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_middleware::{session, ManualClock, MemoryStore, SessionCookie};
    ///
    /// let time = ManualClock::starting_now();
    /// let cookie = SessionCookie::builder("__session")
    ///     .secret("replace me with 32+ random bytes from your secret store")
    ///     .build()?;
    /// let layer = session(cookie, MemoryStore::new())?
    ///     .idle_timeout(Duration::from_secs(60))
    ///     .clock(time.clock());
    /// time.advance(Duration::from_secs(61)); // every session it issued is now idle
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn clock(self, clock: Clock) -> Self {
        self.change_manager(|manager| manager.clock(clock))
    }

    /// Accepts session tokens in headers; see [`SessionManager::header_tokens`].
    #[must_use]
    pub fn header_tokens(self, tokens: crate::HeaderTokens) -> Self {
        self.change_manager(|manager| manager.header_tokens(tokens))
    }

    /// The default cookie persistence; see [`SessionManager::persistent`].
    #[must_use]
    pub fn persistent(self, persistent: bool) -> Self {
        self.change_manager(|manager| manager.persistent(persistent))
    }

    /// Renews session IDs on a timer; see [`SessionManager::id_renewal`].
    #[must_use]
    pub fn id_renewal(self, interval: Duration) -> Self {
        self.change_manager(|manager| manager.id_renewal(interval))
    }

    /// The old ID's grace period; see [`SessionManager::renewal_grace`].
    #[must_use]
    pub fn renewal_grace(self, grace: Duration) -> Self {
        self.change_manager(|manager| manager.renewal_grace(grace))
    }

    /// Replaces the whole policy; see [`SessionManager::policy`].
    #[must_use]
    pub fn policy(self, policy: SessionPolicy) -> Self {
        self.change_manager(|manager| manager.policy(policy))
    }

    fn change_manager(self, change: impl FnOnce(SessionManager) -> SessionManager) -> Self {
        Self {
            manager: change(self.manager),
        }
    }

    /// The manager doing the work.
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.manager.clone())
    }
}

#[cfg(all(test, feature = "memory-store"))]
mod tests {
    use std::convert::Infallible;
    use std::task::{Context, Poll, Waker};

    use http::{Request, Response};
    use tower_service::Service;

    use super::*;
    use crate::MemoryStore;

    /// An inner service that is ready only when told to be.
    struct Gate(bool);

    impl Service<Request<()>> for Gate {
        type Response = Response<()>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<()>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            if self.0 {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(Response::new(())))
        }
    }

    #[test]
    fn readiness_is_the_inner_services_so_backpressure_passes_through() {
        let cookie = SessionCookie::builder("sid")
            .secret("a test secret of at least thirty-two bytes")
            .build()
            .expect("valid");
        let layer = SessionLayer::new(cookie, MemoryStore::new()).expect("signed");
        let mut cx = Context::from_waker(Waker::noop());
        assert!(layer.layer(Gate(false)).poll_ready(&mut cx).is_pending());
        assert!(layer.layer(Gate(true)).poll_ready(&mut cx).is_ready());
    }
}
