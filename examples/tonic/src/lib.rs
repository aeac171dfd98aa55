//! Sessions in a tonic gRPC service: the session layer sits on tonic's server
//! (`Server::builder().layer(..)`), and each handler takes the session from the request
//! extensions.
//!
//! The service is `sessions.example.Counter`: `Count` counts per session, `Login`
//! (alice / wonderland) logs in with a new session ID, `WhoAmI` and `Logout`. A session
//! travels either way gRPC clients can carry one:
//! - as a cookie in metadata: the answer's `set-cookie`, sent back as `cookie`;
//! - as a token: `Login` answers it in `session-token` metadata, and the client sends
//!   `authorization: Bearer <token>` ([`HeaderTokens::bearer`]).
//!
//! When the session cannot be saved, the layer answers as gRPC expects: HTTP 200 with
//! `grpc-status` 14 (UNAVAILABLE) for a storage outage or 13 (INTERNAL), and no body.
//!
//! ```
//! use session_example_tonic::{layer, serve, CounterClient};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let address = listener.local_addr()?;
//! tokio::spawn(serve(listener, layer("replace me with 32+ random bytes from your secret store")?));
//!
//! let mut client = CounterClient::connect(address).await?;
//! assert_eq!(client.count().await?, 1);
//! assert_eq!(client.count().await?, 2); // the cookie came back in metadata
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod codec;
mod service;

use serde::{Deserialize, Serialize};
use session_middleware::{session, Error, HeaderTokens, MemoryStore, SessionCookie, SessionLayer};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

pub use client::CounterClient;
pub use codec::{JsonCodec, JsonDecoder, JsonEncoder};
pub use service::CounterService;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "__session";

/// An empty message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nothing {}

/// `Count`'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// This session's count, this call included.
    pub count: u64,
}

/// `Login`'s request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

/// Who the session belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// The logged-in user, if any.
    pub user: Option<u32>,
}

/// The session layer: memory storage, a cookie signed with `secret` (`Secure` off:
/// the example runs on plain HTTP/2 on 127.0.0.1), and bearer tokens.
///
/// # Errors
///
/// When `secret` is empty.
pub fn layer(secret: &str) -> Result<SessionLayer, Error> {
    let cookie = SessionCookie::builder(COOKIE_NAME)
        .secret(secret)
        .secure(false)
        .build()?;
    Ok(session(cookie, MemoryStore::new())?.header_tokens(HeaderTokens::bearer()))
}

/// Serves [`CounterService`] on `listener` behind `layer`, until the task is dropped.
///
/// # Errors
///
/// When the server fails (accepting a connection, say).
pub async fn serve(
    listener: TcpListener,
    layer: SessionLayer,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .layer(layer)
        .add_service(CounterService)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}
