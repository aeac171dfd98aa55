//! A client for [`CounterService`](crate::CounterService), holding the session the way a
//! gRPC client can: the cookie from `set-cookie` metadata, or a bearer token.

use std::net::SocketAddr;

use http::uri::PathAndQuery;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::codec::JsonCodec;
use crate::{Count, Credentials, Nothing, WhoAmI, COOKIE_NAME};

/// How the client sends its session back.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Held {
    Nothing,
    /// `__session=<value>`, for the `cookie` metadata.
    Cookie(String),
    /// The signed token, for `authorization: Bearer`.
    Token(String),
}

/// A client of `sessions.example.Counter` that keeps its session between calls.
#[derive(Clone, Debug)]
pub struct CounterClient {
    grpc: tonic::client::Grpc<Channel>,
    held: Held,
}

impl CounterClient {
    /// Connects to the service at `address` (plain HTTP/2).
    ///
    /// # Errors
    ///
    /// When the connection cannot be made.
    pub async fn connect(address: SocketAddr) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(format!("http://{address}"))?
            .connect()
            .await?;
        Ok(Self {
            grpc: tonic::client::Grpc::new(channel),
            held: Held::Nothing,
        })
    }

    /// `Count`: this session's count, this call included.
    ///
    /// # Errors
    ///
    /// The call's status: UNAVAILABLE when the server's session storage is down.
    pub async fn count(&mut self) -> Result<u64, Status> {
        let reply: Count = self.call("Count", Nothing {}).await?;
        Ok(reply.count)
    }

    /// `Login`; afterwards the session travels as a bearer token.
    ///
    /// # Errors
    ///
    /// UNAUTHENTICATED for wrong credentials, or the call's failure.
    pub async fn login(&mut self, username: &str, password: &str) -> Result<WhoAmI, Status> {
        let credentials = Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        self.call("Login", credentials).await
    }

    /// `WhoAmI`.
    ///
    /// # Errors
    ///
    /// The call's failure.
    pub async fn who_am_i(&mut self) -> Result<WhoAmI, Status> {
        self.call("WhoAmI", Nothing {}).await
    }

    /// `Logout`: the server ends the session, and the client forgets it.
    ///
    /// # Errors
    ///
    /// The call's failure.
    pub async fn logout(&mut self) -> Result<(), Status> {
        let _: Nothing = self.call("Logout", Nothing {}).await?;
        Ok(())
    }

    /// True when the client holds a bearer token rather than a cookie.
    pub fn holds_token(&self) -> bool {
        matches!(self.held, Held::Token(_))
    }

    async fn call<Req, Res>(&mut self, method: &str, message: Req) -> Result<Res, Status>
    where
        Req: Serialize + Send + Sync + 'static,
        Res: DeserializeOwned + Send + Sync + 'static,
    {
        let mut request = Request::new(message);
        let metadata = request.metadata_mut();
        match &self.held {
            Held::Nothing => {}
            Held::Cookie(pair) => {
                metadata.insert("cookie", ascii(pair)?);
            }
            Held::Token(token) => {
                metadata.insert("authorization", ascii(&format!("Bearer {token}"))?);
            }
        }
        self.grpc
            .ready()
            .await
            .map_err(|error| Status::unavailable(format!("not connected: {error}")))?;
        let path = PathAndQuery::try_from(format!("/sessions.example.Counter/{method}"))
            .map_err(|_| Status::internal("bad method name"))?;
        let response = self
            .grpc
            .unary(request, path, JsonCodec::<Req, Res>::default())
            .await;
        // A failed call may still carry the session's new state (a handler that ended
        // the session, then failed): keep it either way.
        match response {
            Ok(response) => {
                self.absorb(response.metadata());
                Ok(response.into_inner())
            }
            Err(status) => {
                self.absorb(status.metadata());
                Err(status)
            }
        }
    }

    /// Keeps what the server handed back: a token wins over a cookie, and an empty one
    /// (a destroyed session) drops what the client held.
    fn absorb(&mut self, metadata: &tonic::metadata::MetadataMap) {
        if let Some(token) = metadata.get("session-token").and_then(|v| v.to_str().ok()) {
            self.held = match token {
                "" => Held::Nothing,
                token => Held::Token(token.to_owned()),
            };
            return;
        }
        for set_cookie in metadata.get_all("set-cookie") {
            let Ok(set_cookie) = set_cookie.to_str() else {
                continue;
            };
            let pair = set_cookie.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            if name.trim() != COOKIE_NAME {
                continue;
            }
            let cleared = value.is_empty() || set_cookie.contains("Max-Age=0");
            self.held = if cleared {
                Held::Nothing
            } else {
                Held::Cookie(pair.to_owned())
            };
        }
    }
}

fn ascii(text: &str) -> Result<MetadataValue<tonic::metadata::Ascii>, Status> {
    text.parse()
        .map_err(|_| Status::internal("the session does not fit in metadata"))
}
