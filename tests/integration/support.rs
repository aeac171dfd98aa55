//! What the HTTP-level tests share: a small app with one route per kind of request,
//! and a client's view of its responses.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{Request, Response};
use http_body_util::BodyExt;
use session_core::{Error, Session, SessionId, SessionStorage, StoredSession};
use session_middleware::{session, SessionBackend, SessionCookie, SessionLayer};
use tower::ServiceExt;

pub(crate) const SECRET: &str = "a test secret that is at least thirty-two bytes long";

/// The session cookie of [`app`]: `sid`, default attributes, [`SECRET`].
pub(crate) fn cookie() -> SessionCookie {
    SessionCookie::builder("sid")
        .secret(SECRET)
        .build()
        .expect("valid cookie")
}

/// Routes covering each kind of request a session layer sees.
pub(crate) fn app(storage: impl SessionBackend) -> Router {
    app_with(cookie(), storage)
}

/// [`app`] with another session cookie (other secrets, another format).
pub(crate) fn app_with(cookie: SessionCookie, storage: impl SessionBackend) -> Router {
    app_on(session(cookie, storage).expect("signed cookie"))
}

/// [`app`]'s routes behind `layer` (another policy, say).
pub(crate) fn app_on(layer: SessionLayer) -> Router {
    Router::new()
        .route("/untouched", get(|| async { "ok" }))
        .route(
            "/read",
            get(|s: Session| async move { format!("{:?}", s.get::<u64>("n")) }),
        )
        .route(
            "/write",
            get(|s: Session| async move {
                let n = s.get::<u64>("n")?.unwrap_or(0) + 1;
                s.set("n", n)?;
                Ok::<_, Error>(n.to_string())
            }),
        )
        .route(
            "/regenerate",
            get(|s: Session| async move { s.regenerate_id() }),
        )
        .route("/destroy", get(|s: Session| async move { s.destroy() }))
        .route(
            "/bind",
            get(|s: Session| async move {
                s.set_user("ada")?;
                s.set("n", 0)?;
                s.regenerate_id()
            }),
        )
        .route(
            "/big",
            get(|s: Session| async move { s.set("big", "x".repeat(5000)) }),
        )
        .route(
            "/own-headers",
            get(|s: Session| async move {
                s.set("n", 1)?;
                Ok::<_, Error>((
                    [
                        (SET_COOKIE, "theme=dark"),
                        (CACHE_CONTROL, "private, max-age=10"),
                    ],
                    "ok",
                ))
            }),
        )
        .layer(layer)
}

/// `GET path`, with `Cookie: sid=<cookie>` when given.
pub(crate) async fn send(app: &Router, path: &str, cookie: Option<&str>) -> Response<Body> {
    let mut request = Request::get(path);
    if let Some(value) = cookie {
        request = request.header(COOKIE, format!("sid={value}"));
    }
    let request = request.body(Body::empty()).expect("request");
    app.clone().oneshot(request).await.expect("infallible")
}

/// The (non-empty) value a response sets our cookie to, if any.
pub(crate) fn session_cookie(response: &Response<Body>) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("sid="))
        .and_then(|v| v.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The session ID inside a cookie value that a by-ID storage issued.
pub(crate) fn session_id(cookie_value: &str) -> SessionId {
    let id = cookie().verify(cookie_value).expect("a cookie we signed");
    SessionId::parse(&id).expect("a session id")
}

/// The response body as text.
pub(crate) async fn body_text(response: Response<Body>) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// A multi-thread tokio runtime with one worker, as on a server pinned to one core:
/// tokio runs a task woken by another right after it there, which is what batching
/// has to cope with.
pub(crate) fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A storage that is down: every call fails like a refused connection.
pub(crate) struct Down;
impl SessionStorage for Down {
    async fn read(&self, _: &SessionId) -> Result<Option<StoredSession>, Error> {
        Err(refused("read a session"))
    }
    async fn create(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
        Err(refused("write a session"))
    }
    async fn update(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
        Err(refused("write a session"))
    }
    async fn delete(&self, _: &SessionId) -> Result<bool, Error> {
        Err(refused("delete a session"))
    }
}

fn refused(operation: &'static str) -> Error {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
    Error::storage(operation, io)
}

/// The whole message, causes included, as an operator reads it in the log: the
/// stores' reasons are in the sources.
pub(crate) fn full_message(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
