//! Sessions on plain hyper 1, without axum: the session layer wraps a `service_fn`, and
//! hyper-util's `TowerToHyperService` hands the stack to hyper's connection.
//!
//! Routes: `GET /` counts, `POST /login` (`username=alice&password=wonderland`) logs in
//! with a new session ID, `GET /me` says who is logged in, `POST /logout` ends the
//! session. The handler takes the session from the request extensions, where the
//! layer put it.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
//! let layer = session_example_hyper::layer("replace me with 32+ random bytes from your secret store")
//!     .expect("a valid cookie");
//! session_example_hyper::serve(listener, layer).await
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use session_middleware::{session, Error, MemoryStore, Session, SessionCookie, SessionLayer};
use tokio::net::TcpListener;
use tower::{service_fn, Layer};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "__session";

/// Login forms larger than this are refused, before they are read into memory.
const MAX_FORM: usize = 1024;

/// The session layer: memory storage, a cookie signed with `secret`, `Secure` off so
/// that the example works over plain HTTP on 127.0.0.1.
///
/// # Errors
///
/// When `secret` is empty.
pub fn layer(secret: &str) -> Result<SessionLayer, Error> {
    let cookie = SessionCookie::builder(COOKIE_NAME)
        .secret(secret)
        .secure(false)
        .build()?;
    session(cookie, MemoryStore::new())
}

/// Serves the example on `listener` until the task is dropped: one hyper HTTP/1
/// connection per client, each running the session layer around [`handle`].
///
/// # Errors
///
/// When accepting a connection fails.
pub async fn serve(listener: TcpListener, layer: SessionLayer) -> std::io::Result<()> {
    let app = layer.layer(service_fn(handle));
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}

/// The routes. A session error becomes a 503 (storage outage) or a 500, never a
/// dropped connection.
///
/// # Errors
///
/// Never: the `Result` is what `service_fn` wants.
pub async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Error> {
    Ok(route(request).await.unwrap_or_else(|error| {
        tracing::error!(%error, "session error");
        let status = StatusCode::from_u16(error.http_status());
        text(status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "")
    }))
}

async fn route(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Error> {
    let session = request
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or(Error::MissingLayer)?;
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => {
            session.load().await?;
            let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
            session.set("count", count)?;
            Ok(text(StatusCode::OK, &format!("Count: {count}")))
        }
        (&Method::POST, "/login") => {
            let Some(form) = read_form(request).await else {
                return Ok(text(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"));
            };
            session.load().await?;
            if field(&form, "username") != Some("alice")
                || field(&form, "password") != Some("wonderland")
            {
                return Ok(text(
                    StatusCode::UNAUTHORIZED,
                    "Invalid username or password",
                ));
            }
            // A new ID on login: a session ID planted before it is worthless after.
            session.regenerate_id()?;
            session.set("userId", 1)?;
            let mut response = text(StatusCode::SEE_OTHER, "");
            response
                .headers_mut()
                .insert(LOCATION, "/me".parse().expect("valid"));
            Ok(response)
        }
        (&Method::GET, "/me") => {
            session.load().await?;
            Ok(match session.get::<u32>("userId")? {
                Some(user) => text(StatusCode::OK, &format!("Logged in as user {user}")),
                None => text(StatusCode::UNAUTHORIZED, "Please log in"),
            })
        }
        (&Method::POST, "/logout") => {
            session.load().await?;
            session.destroy()?;
            Ok(text(StatusCode::OK, "Logged out"))
        }
        _ => Ok(text(StatusCode::NOT_FOUND, "Not found")),
    }
}

/// The request body as text, or `None` when it is over [`MAX_FORM`] or unreadable.
async fn read_form(request: Request<Incoming>) -> Option<String> {
    let body = Limited::new(request.into_body(), MAX_FORM);
    let bytes = body.collect().await.ok()?.to_bytes();
    String::from_utf8(bytes.to_vec()).ok()
}

/// The value of `name` in an `application/x-www-form-urlencoded` body. The example's
/// credentials need no percent-decoding; a real form would use `serde_urlencoded`.
fn field<'a>(form: &'a str, name: &str) -> Option<&'a str> {
    form.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::from(body.to_owned()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        "text/plain; charset=utf-8".parse().expect("valid"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn form_fields_are_found_by_name() {
        let form = "username=alice&password=wonderland&remember";
        assert_eq!(field(form, "username"), Some("alice"));
        assert_eq!(field(form, "password"), Some("wonderland"));
        assert_eq!(field(form, "remember"), None);
        assert_eq!(field(form, "user"), None);
    }
}
