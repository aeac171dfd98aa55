//! The hyper and tonic examples, served on real sockets and driven as their clients
//! would: the flows work, and a failed save reaches a gRPC client as a gRPC status.

use std::net::SocketAddr;

use http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use http::{Method, Request, StatusCode};
use session_core::{Error, SessionId, SessionStorage, StoredSession};
use session_example_tonic::CounterClient;
use session_middleware::{session, HeaderTokens, SessionLayer};
use tokio::net::TcpListener;
use tonic::Code;

use crate::socket::{send, send_h2, Reply};
use crate::support::{cookie, Down};

const SECRET: &str = "a test secret that is at least thirty-two bytes long";

/// A port on 127.0.0.1 and its listener.
async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    (listener, addr)
}

/// A one-cookie browser for the hyper example.
struct Browser {
    addr: SocketAddr,
    jar: Option<String>,
}

impl Browser {
    async fn send(&mut self, method: Method, path: &str, form: &str) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(pair) = &self.jar {
            request = request.header(COOKIE, pair);
        }
        if !form.is_empty() {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request.body(form.to_owned()).expect("request");
        let reply = send(self.addr, request).await.expect("the server answers");
        for set_cookie in reply.headers.get_all(SET_COOKIE) {
            let set_cookie = set_cookie.to_str().expect("ascii");
            let pair = set_cookie.split(';').next().unwrap_or_default();
            let cleared = pair.ends_with('=') || set_cookie.contains("Max-Age=0");
            self.jar = (!cleared).then(|| pair.to_owned());
        }
        reply
    }

    /// `GET /me` says nobody is logged in.
    async fn expect_logged_out(&mut self) {
        let reply = self.send(Method::GET, "/me", "").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
        assert_eq!(reply.text().expect("utf-8"), "Please log in");
    }

    async fn expect(&mut self, method: Method, path: &str, status: StatusCode, body: &str) {
        let reply = self.send(method, path, "").await;
        assert_eq!(reply.status, status, "{path}: {reply:?}");
        assert_eq!(reply.text().expect("utf-8"), body, "{path}");
    }
}

#[tokio::test]
async fn the_hyper_example_counts_logs_in_with_a_new_id_and_logs_out() {
    let (listener, addr) = listener().await;
    let layer = session_example_hyper::layer(SECRET).expect("layer");
    let server = tokio::spawn(session_example_hyper::serve(listener, layer));
    let mut browser = Browser { addr, jar: None };

    for count in 1..=3 {
        let body = format!("Count: {count}");
        browser
            .expect(Method::GET, "/", StatusCode::OK, &body)
            .await;
    }
    browser.expect_logged_out().await;
    let wrong = browser
        .send(Method::POST, "/login", "username=alice&password=builder")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let before = browser.jar.clone().expect("a session cookie");
    let login = browser
        .send(Method::POST, "/login", "username=alice&password=wonderland")
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(login.headers[LOCATION], "/me");
    let after = browser.jar.clone().expect("a session cookie");
    assert_ne!(before, after, "login must give the session a new ID");
    browser
        .expect(Method::GET, "/me", StatusCode::OK, "Logged in as user 1")
        .await;
    // The data moved with the session; the pre-login cookie is dead.
    browser
        .expect(Method::GET, "/", StatusCode::OK, "Count: 4")
        .await;
    let mut stale = Browser {
        addr,
        jar: Some(before),
    };
    stale.expect_logged_out().await;

    browser
        .expect(Method::POST, "/logout", StatusCode::OK, "Logged out")
        .await;
    assert_eq!(browser.jar, None, "logout clears the cookie");
    let mut replay = Browser {
        addr,
        jar: Some(after),
    };
    replay.expect_logged_out().await;
    server.abort();
}

#[tokio::test]
async fn the_hyper_example_refuses_an_oversized_form() {
    let (listener, addr) = listener().await;
    let layer = session_example_hyper::layer(SECRET).expect("layer");
    let server = tokio::spawn(session_example_hyper::serve(listener, layer));
    let mut browser = Browser { addr, jar: None };
    let form = format!("username={}&password=x", "a".repeat(2000));
    let reply = browser.send(Method::POST, "/login", &form).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    server.abort();
}

/// Serves the tonic example behind `layer`; the task ends with the test's runtime.
async fn tonic_server(layer: SessionLayer) -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(session_example_tonic::serve(listener, layer));
    addr
}

#[tokio::test]
async fn the_tonic_example_carries_the_session_by_cookie_then_by_token() {
    let addr = tonic_server(session_example_tonic::layer(SECRET).expect("layer")).await;
    let mut client = CounterClient::connect(addr).await.expect("connected");
    for expected in 1..=3 {
        assert_eq!(client.count().await.expect("count"), expected);
    }
    assert!(
        !client.holds_token(),
        "before login, the cookie in metadata"
    );
    assert_eq!(client.who_am_i().await.expect("who").user, None);

    let wrong = client.login("alice", "builder").await.expect_err("refused");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        client
            .login("alice", "wonderland")
            .await
            .expect("login")
            .user,
        Some(1)
    );
    assert!(client.holds_token(), "login hands back a bearer token");
    assert_eq!(client.who_am_i().await.expect("who").user, Some(1));
    assert_eq!(
        client.count().await.expect("count"),
        4,
        "the data moved with the ID"
    );

    client.logout().await.expect("logout");
    assert!(
        !client.holds_token(),
        "logout makes the client drop its token"
    );
    assert_eq!(client.who_am_i().await.expect("who").user, None);
    assert_eq!(client.count().await.expect("count"), 1, "a fresh session");
}

/// A store that refuses every write for a reason retrying will not fix.
struct Refusing;
impl SessionStorage for Refusing {
    async fn read(&self, _: &SessionId) -> Result<Option<StoredSession>, Error> {
        Ok(None)
    }
    async fn create(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
        Err(too_large())
    }
    async fn update(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
        Err(too_large())
    }
    async fn delete(&self, _: &SessionId) -> Result<bool, Error> {
        Ok(true)
    }
}

fn too_large() -> Error {
    Error::RecordTooLarge {
        backend: "test",
        size: 2,
        limit: 1,
    }
}

#[tokio::test]
async fn a_failed_save_reaches_a_grpc_client_as_its_status() {
    for (layer, code, message) in [
        (
            session(cookie(), Down).expect("layer"),
            Code::Unavailable,
            "session storage is unavailable; retry later",
        ),
        (
            session(cookie(), Refusing).expect("layer"),
            Code::Internal,
            "the session could not be saved",
        ),
    ] {
        let addr = tonic_server(layer.header_tokens(HeaderTokens::bearer())).await;
        let mut client = CounterClient::connect(addr).await.expect("connected");
        let status = client.count().await.expect_err("the save fails");
        assert_eq!(status.code(), code, "{status:?}");
        // Tonic would infer UNAVAILABLE from a bare 503 too; the message is the layer's.
        assert_eq!(status.message(), message);
    }
}

/// A `Count` call as raw HTTP/2, with `cookie` as its `cookie` metadata: what a
/// gRPC client sends, without the client's reading of the answer.
async fn raw_count(addr: SocketAddr, cookie: Option<&str>) -> Reply {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}/sessions.example.Counter/Count"))
        .header(CONTENT_TYPE, "application/grpc")
        .header("te", "trailers");
    if let Some(pair) = cookie {
        request = request.header(COOKIE, pair);
    }
    // One message, `{}`: a gRPC frame is a compression flag, a 4-byte length, the bytes.
    let request = request.body("\0\0\0\0\x02{}".to_owned()).expect("request");
    send_h2(addr, request).await.expect("an answer")
}

/// On the wire: HTTP 200, `grpc-status` in the headers, no body (trailers-only), and
/// nothing in the answer names the session or the error's detail.
#[tokio::test]
async fn a_failed_grpc_save_is_a_trailers_only_response() {
    let addr = tonic_server(session(cookie(), Down).expect("layer")).await;
    let reply = raw_count(addr, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers["grpc-status"], "14");
    assert_eq!(
        reply.headers["grpc-message"],
        "session storage is unavailable; retry later"
    );
    assert_eq!(reply.headers[CONTENT_TYPE], "application/grpc");
    assert!(!reply.headers.contains_key(SET_COOKIE));
    assert!(reply.body.is_empty(), "{reply:?}");
    for value in reply.headers.values() {
        let value = value.to_str().expect("ascii");
        assert!(!value.contains("refused"), "the cause leaked: {value}");
    }
}

/// A session that cannot be loaded (a signed cookie in metadata, the storage down)
/// fails in the handler, which answers UNAVAILABLE the same way.
#[tokio::test]
async fn a_failed_grpc_load_is_unavailable_too() {
    let layer = session(cookie(), Down).expect("layer");
    let addr = tonic_server(layer).await;
    let id = SessionId::generate().expect("id");
    let signed = cookie().sign(id.as_str()).expect("sign");
    let pair = format!("{}={signed}", cookie().name());
    let reply = raw_count(addr, Some(&pair)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers["grpc-status"], "14", "{reply:?}");
    assert!(!reply.headers.contains_key(SET_COOKIE));
}
