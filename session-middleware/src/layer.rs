//! The tower layer and its service, side by side.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use session_core::{Clock, Error, Session, SessionBackend, SessionPolicy};
use tower_layer::Layer;
use tower_service::Service;

use crate::manager::Answer;
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        if request.extensions().get::<Session>().is_some() {
            tracing::error!("a session layer found a session already in the request: apply the session layer only once");
            return ResponseFuture::applied_twice();
        }
        let session = self.manager.session_from_headers(request.headers());
        request.extensions_mut().insert(session.clone());
        // `poll_ready` readied `self.inner`; it handles this request.
        ResponseFuture::new(self.inner.call(request), session, self.manager.clone())
    }
}

type CommitFuture = Pin<Box<dyn Future<Output = Result<Option<Answer>, Error>> + Send>>;

pin_project! {
    /// The response future of [`SessionService`]: the inner service's future, then,
    /// only if the session changed, the commit.
    ///
    /// Written by hand rather than as one boxed `async` block, so that a request whose
    /// session was never loaded or never changed allocates nothing here.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Calling {
            #[pin]
            inner: F,
            // Options only so that they can be moved out of the pinned state once.
            session: Option<Session>,
            manager: Option<SessionManager>,
        },
        Committing {
            response: Option<Response<B>>,
            commit: CommitFuture,
            manager: SessionManager,
        },
        Refused,
        Done,
    }
}

impl<F, B> ResponseFuture<F, B> {
    /// The handler's future, then the commit of `session`.
    fn new(inner: F, session: Session, manager: SessionManager) -> Self {
        Self {
            state: State::Calling {
                inner,
                session: Some(session),
                manager: Some(manager),
            },
        }
    }

    /// An empty 500, without calling the handler: the request already carries a
    /// session, so a second layer would save it twice.
    fn applied_twice() -> Self {
        Self {
            state: State::Refused,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut state = self.as_mut().project().state;
            match state.as_mut().project() {
                StateProj::Calling {
                    inner,
                    session,
                    manager,
                } => {
                    // If the handler fails, nothing is saved: the error propagates.
                    let response = ready!(inner.poll(cx))?;
                    let session = session.take().expect("taken once, when leaving `Calling`");
                    let manager = manager.take().expect("taken once, when leaving `Calling`");
                    if !session.needs_commit() {
                        state.set(State::Done);
                        return Poll::Ready(Ok(response));
                    }
                    let committing = manager.clone();
                    let commit: CommitFuture =
                        Box::pin(async move { committing.answer_for(&session).await });
                    state.set(State::Committing {
                        response: Some(response),
                        commit,
                        manager,
                    });
                }
                StateProj::Committing {
                    response,
                    commit,
                    manager,
                } => {
                    let result = ready!(commit.as_mut().poll(cx));
                    let mut response = response
                        .take()
                        .expect("taken once, when leaving `Committing`");
                    let response = match result {
                        Ok(Some(answer)) => {
                            manager.apply(answer, response.headers_mut());
                            response
                        }
                        Ok(None) => response,
                        Err(error) => failure_response(&error),
                    };
                    state.set(State::Done);
                    return Poll::Ready(Ok(response));
                }
                StateProj::Refused => {
                    state.set(State::Done);
                    return Poll::Ready(Ok(error_response(StatusCode::INTERNAL_SERVER_ERROR)));
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// The response when the session could not be saved: 503 for a storage outage, 500
/// otherwise, logged with the cause.
fn failure_response<B: Default>(error: &Error) -> Response<B> {
    let status = if error.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    tracing::error!(
        error = %error,
        source = ?std::error::Error::source(error),
        "session could not be saved; answering {status} instead of the handler's response"
    );
    error_response(status)
}

/// An opaque error response: a status and an empty body, no detail for the client.
fn error_response<B: Default>(status: StatusCode) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = status;
    response
}

#[cfg(all(test, feature = "memory-store"))]
mod tests {
    use std::convert::Infallible;
    use std::task::Waker;

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
