//! The flows' client: a browser in miniature with a one-cookie jar, talking to the demo
//! on axum (in-process) or actix-web (a real socket), as the test's task-local says.

use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use session_demo::actix::ActixServer;
use session_demo::{DemoConfig, COOKIE_NAME};
use tower::ServiceExt;

use super::TestResult;

/// What came back from one request.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
}

impl Reply {
    pub(super) fn header(&self, name: http::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The response's one `Set-Cookie` for the session cookie (a second would be a bug:
    /// which one a browser keeps is up to it), as its value and attributes.
    pub(super) fn session_set_cookie(&self) -> TestResult<(&str, Vec<&str>)> {
        let mut all = session_cookies(&self.headers);
        match all.len() {
            1 => Ok(all.remove(0)),
            _ => Err(format!("expected one session Set-Cookie, got {all:?}").into()),
        }
    }

    pub(super) fn assert_body_contains(&self, needle: &str, expected: bool) {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        assert_eq!(self.body.contains(needle), expected, "{}", self.body);
    }

    pub(super) fn assert_no_set_cookie(&self) {
        assert_eq!(self.headers.get(SET_COOKIE), None);
    }

    pub(super) fn assert_ok(&self, body: &str) {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        assert_eq!(self.body, body);
    }

    pub(super) fn assert_redirect(&self, to: &str) {
        assert_eq!(self.status, StatusCode::FOUND, "body: {}", self.body);
        assert_eq!(self.header(LOCATION), Some(to));
    }
}

/// The `Set-Cookie`s for the session cookie, each as its value and its attributes.
pub(super) fn session_cookies(headers: &HeaderMap) -> Vec<(&str, Vec<&str>)> {
    let all = headers.get_all(SET_COOKIE).into_iter();
    all.filter_map(|header| {
        let mut parts = header.to_str().ok()?.split(';').map(str::trim);
        let (name, value) = parts.next()?.split_once('=')?;
        (name == COOKIE_NAME).then(|| (value, parts.collect()))
    })
    .collect()
}

pub(super) fn assert_attributes(attributes: &[&str], expected: &[&str]) {
    for attribute in expected {
        assert!(attributes.contains(attribute), "{attributes:?}");
    }
}

/// The framework a test's flows run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framework {
    /// The axum router, driven in-process.
    Axum,
    /// The actix-web app, on a server thread of its own and a real socket.
    Actix,
}

tokio::task_local! {
    /// The framework of the flow running in this task (axum unless the test scoped it
    /// otherwise): each flow is written once and runs unchanged on every framework.
    pub(super) static FRAMEWORK: Framework;
}

/// The demo app a client talks to.
#[derive(Clone)]
pub(super) enum App {
    Axum(Router),
    /// Shared by forks; the server stops when the last one is dropped.
    Actix(Arc<ActixServer>),
}

impl App {
    /// Sends `request` and reads the whole answer.
    pub(super) async fn call(&self, request: Request<String>) -> TestResult<Reply> {
        Ok(match self {
            App::Axum(router) => {
                let response = router.clone().oneshot(request.map(Body::from)).await?;
                let (parts, body) = response.into_parts();
                Reply {
                    status: parts.status,
                    headers: parts.headers,
                    body: String::from_utf8(body.collect().await?.to_bytes().to_vec())?,
                }
            }
            App::Actix(server) => {
                let reply = crate::socket::send(server.addr(), request)
                    .await
                    .map_err(|error| error.to_string())?;
                Reply {
                    body: String::from_utf8(reply.body.to_vec())?,
                    status: reply.status,
                    headers: reply.headers,
                }
            }
        })
    }
}

/// A browser in miniature: the app plus the current `__session` value.
pub(super) struct Client {
    pub(super) app: App,
    pub(super) jar: Option<String>,
}

impl Client {
    pub(super) fn new(config: &DemoConfig) -> TestResult<Self> {
        let app = match FRAMEWORK.try_with(|framework| *framework) {
            Ok(Framework::Actix) => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
                App::Actix(Arc::new(ActixServer::start(config, listener)?))
            }
            Ok(Framework::Axum) | Err(_) => App::Axum(session_demo::app(config)?),
        };
        Ok(Self { app, jar: None })
    }

    /// Another browser on the same server (a memory store is shared by router clones),
    /// holding `cookie`: how a stolen or replayed cookie is presented.
    pub(super) fn fork(&self, cookie: Option<&str>) -> Self {
        Self {
            app: self.app.clone(),
            jar: cookie.map(str::to_owned),
        }
    }

    /// The jar's value; fails when the server has not set (or has cleared) it.
    pub(super) fn cookie(&self) -> TestResult<String> {
        Ok(self.jar.clone().ok_or("no session cookie in the jar")?)
    }

    pub(super) async fn get(&mut self, path: &str) -> TestResult<Reply> {
        self.send(Method::GET, path, None, None).await
    }

    /// GET `path`, expecting 200 with exactly `body`.
    pub(super) async fn expect(&mut self, path: &str, body: &str) -> TestResult {
        self.get(path).await?.assert_ok(body);
        Ok(())
    }

    /// GET `path`, expecting a 302 to `to`.
    pub(super) async fn expect_redirect(&mut self, path: &str, to: &str) -> TestResult {
        self.get(path).await?.assert_redirect(to);
        Ok(())
    }

    pub(super) async fn post(&mut self, path: &str, form: Option<&str>) -> TestResult<Reply> {
        self.send(Method::POST, path, form, None).await
    }

    pub(super) async fn login(&mut self, username: &str, password: &str) -> TestResult<Reply> {
        let form = format!("username={username}&password={password}");
        self.post("/login", Some(&form)).await
    }

    /// Sends the jar's cookie, or `cookie_header` verbatim as the `Cookie` header.
    pub(super) async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&str>,
        cookie_header: Option<&str>,
    ) -> TestResult<Reply> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, "localhost");
        let from_jar = self.jar.as_ref().map(|v| format!("{COOKIE_NAME}={v}"));
        if let Some(cookie) = cookie_header.or(from_jar.as_deref()) {
            request = request.header(COOKIE, cookie);
        }
        if form.is_some() {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request.body(form.unwrap_or_default().to_owned())?;
        let reply = self.app.call(request).await?;
        self.absorb(&reply.headers);
        Ok(reply)
    }

    /// Applies every `Set-Cookie` for the session cookie, as a browser would.
    pub(super) fn absorb(&mut self, headers: &HeaderMap) {
        for (value, attributes) in session_cookies(headers) {
            let expired = attributes.contains(&"Max-Age=0");
            self.jar = (!value.is_empty() && !expired).then(|| value.to_owned());
        }
    }
}
