//! Error responses carry a status and nothing else (SECURITY.md, requirement 41), on
//! both paths that make them: the layer's own (a failed save, a second layer) and the
//! axum side (the extractor's rejection when a load fails or the layer is missing, a
//! handler returning a session error), which renders `Error` itself.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::header::{CONTENT_LENGTH, SET_COOKIE};
use http::{Request, Response, StatusCode};
use session_cookie_store::CookieStore;
use session_core::{Error, Session, SessionId};
use session_memory_store::MemoryStore;
use session_middleware::session;
use tower::ServiceExt;

use crate::support::{app, body_text, cookie, send, Down};

/// `response` has `status`, no `Set-Cookie` and an empty body.
async fn assert_opaque(response: Response<Body>, status: StatusCode, case: &str) {
    assert_eq!(response.status(), status, "{case}");
    assert!(!response.headers().contains_key(SET_COOKIE), "{case}");
    if let Some(length) = response.headers().get(CONTENT_LENGTH) {
        assert_eq!(length, "0", "{case}");
    }
    assert_eq!(
        body_text(response).await,
        "",
        "{case}: the body must be empty"
    );
}

#[tokio::test]
async fn the_layers_error_responses_are_empty() {
    // No cookie, so nothing is loaded: the outage shows up when the layer saves.
    let response = send(&app(Down), "/write", None).await;
    assert_opaque(response, StatusCode::SERVICE_UNAVAILABLE, "a failed save").await;

    let response = send(&app(CookieStore::new()), "/big", None).await;
    assert_opaque(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "an oversized cookie",
    )
    .await;

    let twice =
        app(MemoryStore::new()).layer(session(cookie(), MemoryStore::new()).expect("layer"));
    let response = send(&twice, "/write", None).await;
    assert_opaque(response, StatusCode::INTERNAL_SERVER_ERROR, "two layers").await;
}

#[tokio::test]
async fn the_extractors_rejections_and_handler_errors_are_empty() {
    // A signed cookie makes the extractor read the storage, which is down.
    let id = SessionId::generate().expect("id");
    let signed = cookie().sign(id.as_str()).expect("sign");
    let response = send(&app(Down), "/read", Some(&signed)).await;
    assert_opaque(response, StatusCode::SERVICE_UNAVAILABLE, "a failed load").await;

    let no_layer: Router = Router::new().route("/", get(|_: Session| async { "unreachable" }));
    let response = no_layer
        .oneshot(Request::new(Body::empty()))
        .await
        .expect("infallible");
    assert_opaque(response, StatusCode::INTERNAL_SERVER_ERROR, "no layer").await;

    let failing = Router::new()
        .route(
            "/",
            get(|_: Session| async {
                Err::<&str, _>(Error::Internal("a detail the client must not see"))
            }),
        )
        .layer(session(cookie(), MemoryStore::new()).expect("layer"));
    let response = send(&failing, "/", None).await;
    assert_opaque(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a handler's error",
    )
    .await;
}
