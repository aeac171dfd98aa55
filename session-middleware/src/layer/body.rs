//! [`SessionBody`]: the response body of the session layer.

use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response from [`SessionService`](super::SessionService): the inner
    /// service's body, or an empty one when the layer answered itself (a failed save, a
    /// second session layer).
    ///
    /// Frames, errors and size hints are the inner body's, so any layer around the
    /// session layer sees the handler's body as it was; the empty body ends at once,
    /// which makes a gRPC failure a trailers-only response.
    ///
    /// ```
    /// use http_body::Body as _;
    /// use http::{Request, Response};
    /// use session_middleware::{session, MemoryStore, SessionCookie};
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let cookie = SessionCookie::builder("__session")
    ///     .secret("replace me with 32+ random bytes from your secret store")
    ///     .build()?;
    /// // A handler body type with no `Default`: the layer asks nothing of it.
    /// let handler = service_fn(|_: Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new(http_body_util::Full::new(
    ///         bytes::Bytes::from_static(b"hello"),
    ///     )))
    /// });
    /// let response = session(cookie, MemoryStore::new())?
    ///     .layer(handler)
    ///     .oneshot(Request::new(()))
    ///     .await?;
    /// assert_eq!(response.body().size_hint().exact(), Some(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct SessionBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Empty,
    }
}

impl<B> SessionBody<B> {
    /// The inner service's body, unchanged.
    pub(super) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// The layer's own body: no bytes, and the end of the stream at once.
    pub(super) fn empty() -> Self {
        Self { kind: Kind::Empty }
    }

    /// The inner service's body, or `None` for the layer's own empty one.
    ///
    /// ```
    /// use session_middleware::SessionBody;
    ///
    /// let body = SessionBody::from(String::from("hello"));
    /// assert_eq!(body.into_inner().as_deref(), Some("hello"));
    /// assert_eq!(SessionBody::<String>::default().into_inner(), None);
    /// ```
    pub fn into_inner(self) -> Option<B> {
        match self.kind {
            Kind::Inner { body } => Some(body),
            Kind::Empty => None,
        }
    }
}

/// Wraps a body as the session layer's responses carry it (for a test double or a
/// layer of your own that answers in place of a `SessionService`).
impl<B> From<B> for SessionBody<B> {
    fn from(body: B) -> Self {
        Self::inner(body)
    }
}

/// The empty body, whatever `B` is: what a layer outside this one (tower-http's
/// `TimeoutLayer`, say) builds for a response of its own.
impl<B> Default for SessionBody<B> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<B: Body> Body for SessionBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Empty => SizeHint::with_exact(0),
        }
    }
}

impl<B> std::fmt::Debug for SessionBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::Empty => "Empty",
        };
        f.debug_tuple("SessionBody").field(&kind).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inner_body_is_passed_through_and_the_empty_one_ends_at_once() {
        let inner = SessionBody::inner(String::from("hello"));
        assert!(!inner.is_end_stream());
        assert_eq!(inner.size_hint().exact(), Some(5));
        let empty = SessionBody::<String>::empty();
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
        assert!(SessionBody::<String>::default().is_end_stream());
    }
}
