//! The session layer composes with tower-http's layers in either order, with any body
//! type: each stack below compiles against hyper's server bounds and serves a counter
//! over a real socket (the `TraceLayer` stack did not compile while the layer asked
//! for `ResBody: Default`).

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, COOKIE, SET_COOKIE};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use session_memory_store::MemoryStore;
use session_middleware::{session, Error, Session};
use tower::{service_fn, ServiceBuilder};
use tower_http::compression::CompressionLayer;
use tower_http::map_response_body::MapResponseBodyLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::socket::{send, serve, Reply};
use crate::support::cookie;

/// Long enough for `CompressionLayer`'s default minimum size (32 bytes).
const PADDING: &str = "................................................................";

/// The counter, as a plain tower handler: the session from the request extensions.
async fn counter(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Error> {
    let session = request
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or(Error::MissingLayer)?;
    session.load().await?;
    let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
    session.set("count", count)?;
    Ok(Response::new(Full::from(format!(
        "Count: {count}\n{PADDING}"
    ))))
}

/// Three requests on one cookie jar count 1, 2, 3; with `gzip`, each answer is
/// compressed and still carries the session cookie.
async fn counts_over_a_socket<S, B>(service: S, gzip: bool)
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let server = serve(service).await;
    let mut jar: Option<String> = None;
    for expected in 1..=3 {
        let mut request = Request::builder().uri("/");
        if let Some(cookie) = &jar {
            request = request.header(COOKIE, cookie);
        }
        if gzip {
            request = request.header(ACCEPT_ENCODING, "gzip");
        }
        let reply = send(server.addr, request.body(String::new()).expect("request"))
            .await
            .expect("the server answers");
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let body = if gzip {
            assert_eq!(reply.headers[CONTENT_ENCODING], "gzip", "{reply:?}");
            gunzip(&reply)
        } else {
            reply.text().expect("utf-8").to_owned()
        };
        assert_eq!(body, format!("Count: {expected}\n{PADDING}"));
        // The first answer sets the cookie; a by-ID store keeps the ID after that.
        if let Some(set_cookie) = reply.headers.get(SET_COOKIE) {
            let pair = set_cookie.to_str().expect("ascii").split(';').next();
            jar = pair.map(str::to_owned);
        }
        assert!(jar.is_some(), "no session cookie after the first answer");
    }
}

fn gunzip(reply: &Reply) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(&reply.body[..])
        .read_to_string(&mut text)
        .expect("a gzip body");
    text
}

fn layer() -> session_middleware::SessionLayer {
    session(cookie(), MemoryStore::new()).expect("signed cookie")
}

fn timeout() -> TimeoutLayer {
    TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30))
}

/// A body type of the application's choosing, with no `Default`.
fn boxed<B>(body: B) -> UnsyncBoxBody<Bytes, B::Error>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
{
    body.boxed_unsync()
}

// In each test, `inside` is the session layer inside the tower-http layer (the
// tower-http layer wraps it) and `outside` the other way round.

#[tokio::test]
async fn inside_and_outside_trace_layer() {
    let inside = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(layer())
        .service(service_fn(counter));
    counts_over_a_socket(inside, false).await;
    // The stack from the bug report: `TraceLayer`'s body has no `Default`.
    let outside = ServiceBuilder::new()
        .layer(layer())
        .layer(TraceLayer::new_for_http())
        .service(service_fn(counter));
    counts_over_a_socket(outside, false).await;
}

#[tokio::test]
async fn inside_and_outside_compression_layer() {
    let inside = ServiceBuilder::new()
        .layer(CompressionLayer::new())
        .layer(layer())
        .service(service_fn(counter));
    counts_over_a_socket(inside, true).await;
    let outside = ServiceBuilder::new()
        .layer(layer())
        .layer(CompressionLayer::new())
        .service(service_fn(counter));
    counts_over_a_socket(outside, true).await;
}

#[tokio::test]
async fn inside_and_outside_timeout_layer() {
    // Outside the session layer, `TimeoutLayer` needs a `Default` body for its 408:
    // `SessionBody` is one.
    let inside = ServiceBuilder::new()
        .layer(timeout())
        .layer(layer())
        .service(service_fn(counter));
    counts_over_a_socket(inside, false).await;
    let outside = ServiceBuilder::new()
        .layer(layer())
        .layer(timeout())
        .service(service_fn(counter));
    counts_over_a_socket(outside, false).await;
}

#[tokio::test]
async fn inside_and_outside_map_response_body_layer() {
    let inside = ServiceBuilder::new()
        .layer(MapResponseBodyLayer::new(boxed))
        .layer(layer())
        .service(service_fn(counter));
    counts_over_a_socket(inside, false).await;
    let outside = ServiceBuilder::new()
        .layer(layer())
        .layer(MapResponseBodyLayer::new(boxed))
        .service(service_fn(counter));
    counts_over_a_socket(outside, false).await;
}

#[tokio::test]
async fn in_the_middle_of_a_common_stack() {
    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CompressionLayer::new())
        .layer(layer())
        .layer(timeout())
        .layer(MapResponseBodyLayer::new(boxed))
        .service(service_fn(counter));
    counts_over_a_socket(stack, true).await;
}

/// A timeout outside the session layer drops the handler and the commit with it: the
/// client gets the 408 and no cookie, and nothing was stored.
#[tokio::test]
async fn a_timeout_outside_answers_without_a_cookie() {
    let store = MemoryStore::new();
    let slow = service_fn(|request: Request<Incoming>| async move {
        let session = request.extensions().get::<Session>().cloned();
        let session = session.ok_or(Error::MissingLayer)?;
        session.load().await?;
        session.set("count", 1)?;
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<_, Error>(Response::new(Full::<Bytes>::default()))
    });
    let stack = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(50),
        ))
        .layer(session(cookie(), store.clone()).expect("signed cookie"))
        .service(slow);
    let server = serve(stack).await;
    let reply = send(server.addr, Request::new(String::new()))
        .await
        .expect("the server answers");
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
    assert!(!reply.headers.contains_key(SET_COOKIE));
    assert!(reply.body.is_empty());
    assert!(store.is_empty(), "the cut-short request stored a session");
}

/// A timeout inside the session layer answers for the handler, and the session layer
/// still saves what the handler changed before it was cut short.
#[tokio::test]
async fn a_timeout_inside_still_saves_the_changes_so_far() {
    let handler = service_fn(|request: Request<Incoming>| async move {
        if request.uri().path() != "/slow" {
            return counter(request).await;
        }
        let session = request.extensions().get::<Session>().cloned();
        let session = session.ok_or(Error::MissingLayer)?;
        session.load().await?;
        session.set("count", 41)?;
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(Response::new(Full::<Bytes>::default()))
    });
    let stack = ServiceBuilder::new()
        .layer(layer())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(50),
        ))
        .service(handler);
    let server = serve(stack).await;
    let slow = Request::builder().uri("/slow").body(String::new());
    let reply = send(server.addr, slow.expect("request"))
        .await
        .expect("the server answers");
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
    let set_cookie = reply
        .headers
        .get(SET_COOKIE)
        .expect("the changes were saved");
    let pair = set_cookie.to_str().expect("ascii").split(';').next();
    let next = Request::builder()
        .uri("/")
        .header(COOKIE, pair.expect("a pair"))
        .body(String::new());
    let reply = send(server.addr, next.expect("request"))
        .await
        .expect("the server answers");
    assert_eq!(
        reply.text().expect("utf-8"),
        format!("Count: 42\n{PADDING}")
    );
}
