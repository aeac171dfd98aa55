//! A tower service served by hyper over a real TCP socket on 127.0.0.1, and small
//! HTTP/1.1 and HTTP/2 (prior knowledge, as gRPC speaks it) clients: what the
//! layer-order and framework tests talk to.

use std::error::Error;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

type BoxError = Box<dyn Error + Send + Sync>;

/// A server accepting connections until dropped.
pub(crate) struct Served {
    pub(crate) addr: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Serves `service` on a fresh port: exactly the bounds hyper's own server puts on a
/// tower service, so a stack that compiles here compiles in an application.
pub(crate) async fn serve<S, B>(service: S) -> Served
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    let accepting = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                // A client hanging up mid-request is its business, not the test's.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Served { addr, accepting }
}

/// A response as the client saw it: the body as bytes, however it was framed.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as text; fails on bytes that are not UTF-8.
    pub(crate) fn text(&self) -> Result<&str, BoxError> {
        Ok(std::str::from_utf8(&self.body)?)
    }
}

/// Sends `request` to `addr` on a connection of its own.
pub(crate) async fn send(addr: SocketAddr, request: Request<String>) -> Result<Reply, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driving = tokio::spawn(connection);
    let reply = read_reply(sender.send_request(request).await?).await;
    drop(sender);
    driving.await??;
    reply
}

/// Sends `request` over HTTP/2 with prior knowledge (as gRPC does) to `addr`.
pub(crate) async fn send_h2(addr: SocketAddr, request: Request<String>) -> Result<Reply, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await?;
    let driving = tokio::spawn(connection);
    let reply = read_reply(sender.send_request(request).await?).await;
    drop(sender);
    driving.await??;
    reply
}

/// The whole response, its body collected.
async fn read_reply(response: Response<Incoming>) -> Result<Reply, BoxError> {
    let (parts, body) = response.into_parts();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await?.to_bytes(),
    })
}
