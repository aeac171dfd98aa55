//! The gRPC service, written as tonic's generated code would be: one tower `Service`
//! routing each method's path to a unary handler through [`tonic::server::Grpc`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use session_middleware::{Error, Session, Transport};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use crate::codec::JsonCodec;
use crate::{Count, Credentials, Nothing, WhoAmI};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// `sessions.example.Counter`: `Count`, `Login`, `WhoAmI`, `Logout`, each unary.
#[derive(Clone, Copy, Debug, Default)]
pub struct CounterService;

impl NamedService for CounterService {
    const NAME: &'static str = "sessions.example.Counter";
}

impl<B> tower_service::Service<http::Request<B>> for CounterService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match request.uri().path() {
            "/sessions.example.Counter/Count" => unary(Method(count), request),
            "/sessions.example.Counter/Login" => unary(Method(login), request),
            "/sessions.example.Counter/WhoAmI" => unary(Method(who_am_i), request),
            "/sessions.example.Counter/Logout" => unary(Method(logout), request),
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// Runs `method` on the request's message, decoded and encoded by [`JsonCodec`].
fn unary<Req, Res, B, F, Fut>(
    method: Method<F>,
    request: http::Request<B>,
) -> BoxFuture<Result<http::Response<tonic::body::Body>, Infallible>>
where
    Req: serde::de::DeserializeOwned + Send + 'static,
    Res: serde::Serialize + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    F: Fn(Session, Req) -> Fut + Send + Copy + 'static,
    Fut: Future<Output = Result<Res, Status>> + Send + 'static,
{
    Box::pin(async move {
        let mut grpc = Grpc::new(JsonCodec::<Res, Req>::default());
        Ok(grpc.unary(method, request).await)
    })
}

/// A handler as a [`UnaryService`]: the session from the request extensions (the
/// session layer put it there, and tonic carries extensions into its `Request`).
#[derive(Clone, Copy)]
struct Method<F>(F);

impl<Req, Res, F, Fut> UnaryService<Req> for Method<F>
where
    Req: Send + 'static,
    F: Fn(Session, Req) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Res, Status>> + Send + 'static,
{
    type Response = Res;
    type Future = BoxFuture<Result<Response<Res>, Status>>;

    fn call(&mut self, request: Request<Req>) -> Self::Future {
        let session = request.extensions().get::<Session>().cloned();
        let handler = self.0;
        Box::pin(async move {
            let session = session.ok_or_else(|| status(&Error::MissingLayer))?;
            handler(session, request.into_inner())
                .await
                .map(Response::new)
        })
    }
}

/// A session error as a gRPC status ([`Error::grpc_code`], as the layer answers a
/// failed save), naming no ID, secret or data: the detail goes to the log.
fn status(error: &Error) -> Status {
    tracing::error!(%error, "session error");
    Status::new(tonic::Code::from_i32(error.grpc_code()), "session error")
}

async fn count(session: Session, _: Nothing) -> Result<Count, Status> {
    session.load().await.map_err(|e| status(&e))?;
    let count = session
        .get::<u64>("count")
        .map_err(|e| status(&e))?
        .unwrap_or(0)
        + 1;
    session.set("count", count).map_err(|e| status(&e))?;
    Ok(Count { count })
}

/// Logs in with a new session ID and hands the session back as a token (response
/// metadata `session-token`), for clients that keep no cookies: send it back as
/// `authorization: Bearer <token>`.
async fn login(session: Session, credentials: Credentials) -> Result<WhoAmI, Status> {
    session.load().await.map_err(|e| status(&e))?;
    if credentials.username != "alice" || credentials.password != "wonderland" {
        return Err(Status::unauthenticated("invalid username or password"));
    }
    session.regenerate_id().map_err(|e| status(&e))?;
    session.set("userId", 1).map_err(|e| status(&e))?;
    session.set_transport(Transport::Header);
    Ok(WhoAmI { user: Some(1) })
}

async fn who_am_i(session: Session, _: Nothing) -> Result<WhoAmI, Status> {
    session.load().await.map_err(|e| status(&e))?;
    let user = session.get::<u32>("userId").map_err(|e| status(&e))?;
    Ok(WhoAmI { user })
}

async fn logout(session: Session, _: Nothing) -> Result<Nothing, Status> {
    session.load().await.map_err(|e| status(&e))?;
    session.destroy().map_err(|e| status(&e))?;
    Ok(Nothing {})
}
