//! [`ResponseFuture`]: the handler's future, then the commit of the session.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;
use session_core::{Error, Session};

use super::failure::{Failure, Protocol};
use super::SessionBody;
use crate::manager::Answer;
use crate::SessionManager;

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
        protocol: Protocol,
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
    pub(super) fn new(
        inner: F,
        session: Session,
        manager: SessionManager,
        protocol: Protocol,
    ) -> Self {
        Self {
            state: State::Calling {
                inner,
                session: Some(session),
                manager: Some(manager),
            },
            protocol,
        }
    }

    /// An empty 500 (or gRPC INTERNAL), without calling the handler: the request
    /// already carries a session, so a second layer would save it twice.
    pub(super) fn applied_twice(protocol: Protocol) -> Self {
        Self {
            state: State::Refused,
            protocol,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<SessionBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            let (mut state, protocol) = (this.state, *this.protocol);
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
                        return Poll::Ready(Ok(response.map(SessionBody::inner)));
                    }
                    let committing = manager.clone();
                    let commit: CommitFuture =
                        Box::pin(async move { committing.answer_for_last(session).await });
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
                            response.map(SessionBody::inner)
                        }
                        Ok(None) => response.map(SessionBody::inner),
                        Err(error) => failure_response(&error, protocol),
                    };
                    state.set(State::Done);
                    return Poll::Ready(Ok(response));
                }
                StateProj::Refused => {
                    state.set(State::Done);
                    return Poll::Ready(Ok(Failure::AppliedTwice.response(protocol)));
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

/// The answer when the session could not be saved (503 for a storage outage, 500
/// otherwise, or their gRPC statuses), logged with the cause.
fn failure_response<B>(error: &Error, protocol: Protocol) -> Response<SessionBody<B>> {
    let failure = Failure::of(error);
    tracing::error!(
        error = %error,
        source = ?std::error::Error::source(error),
        "session could not be saved; answering {} instead of the handler's response",
        match protocol {
            Protocol::Http => failure.status().to_string(),
            Protocol::Grpc(_) => format!("a gRPC {failure:?} status"),
        }
    );
    failure.response(protocol)
}
