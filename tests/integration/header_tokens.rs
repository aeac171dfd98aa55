//! Sessions carried in headers, through the real layer: the token in
//! `Authorization: Bearer …` in, a new or renewed one in the response header out, never
//! a cookie; bad tokens give fresh sessions; cookies keep working beside them.

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use http::{HeaderName, Request, Response, StatusCode};
use session_core::{Error, ManualClock, Session, Transport};
use session_memory_store::MemoryStore;
use session_middleware::{session, HeaderTokens, SessionLayer};
use tower::ServiceExt;

use crate::support::{body_text, cookie, session_cookie};

const TOKEN: HeaderName = HeaderName::from_static("session-token");

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route(
            "/count",
            get(|s: Session| async move {
                let n = s.get::<u64>("n")?.unwrap_or(0) + 1;
                s.set("n", n)?;
                Ok::<_, Error>(n.to_string())
            }),
        )
        .route(
            "/token-login",
            get(|s: Session| async move {
                s.set_transport(Transport::Header);
                s.set("n", 100)?;
                s.regenerate_id()
            }),
        )
        .route("/logout", get(|s: Session| async move { s.destroy() }))
        .layer(layer)
}

fn layer() -> SessionLayer {
    session(cookie(), MemoryStore::new())
        .expect("signed")
        .header_tokens(HeaderTokens::bearer())
}

async fn call(app: &Router, path: &str, header: Option<(HeaderName, String)>) -> Response<Body> {
    let mut request = Request::get(path);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

fn bearer(token: &str) -> Option<(HeaderName, String)> {
    Some((AUTHORIZATION, format!("Bearer {token}")))
}

fn token(response: &Response<Body>) -> Option<String> {
    response
        .headers()
        .get(TOKEN)
        .map(|value| value.to_str().expect("text").to_owned())
}

#[tokio::test]
async fn a_header_session_answers_in_the_header_and_never_sets_a_cookie() {
    let app = app(layer());
    let login = call(&app, "/token-login", None).await;
    assert_eq!(login.status(), StatusCode::OK);
    assert!(
        login.headers().get(SET_COOKIE).is_none(),
        "a cookie for a token login"
    );
    let issued = token(&login).expect("a token handed back");
    assert_eq!(login.headers()["cache-control"], "no-store");

    let counted = call(&app, "/count", bearer(&issued)).await;
    assert!(counted.headers().get(SET_COOKIE).is_none());
    assert_eq!(token(&counted), None, "the client's token is still right");
    assert_eq!(body_text(counted).await, "101");

    let logout = call(&app, "/logout", bearer(&issued)).await;
    assert_eq!(
        token(&logout).as_deref(),
        Some(""),
        "an empty token: drop it"
    );
    assert!(logout.headers().get(SET_COOKIE).is_none());
    let after = call(&app, "/count", bearer(&issued)).await;
    assert_eq!(
        body_text(after).await,
        "1",
        "the token died with the session"
    );
}

#[tokio::test]
async fn bad_tokens_give_fresh_sessions_and_cookies_still_work() {
    let app = app(layer());
    for bad in ["garbage", "a.b", "", "Bearer", "x.y.z"] {
        let response = call(&app, "/count", bearer(bad)).await;
        assert_eq!(response.status(), StatusCode::OK, "{bad}");
        assert_eq!(body_text(response).await, "1", "{bad}");
    }
    // A cookie client on the same router.
    let first = call(&app, "/count", None).await;
    let jar = session_cookie(&first).expect("a cookie");
    assert_eq!(token(&first), None, "a cookie session gets no token header");
    let second = call(&app, "/count", Some((COOKIE, format!("sid={jar}")))).await;
    assert_eq!(body_text(second).await, "2");
    // The cookie's signed value works as a token too: same signing, same rules.
    let third = call(&app, "/count", bearer(&jar)).await;
    assert_eq!(body_text(third).await, "3");
}

#[tokio::test]
async fn a_renewed_header_session_gets_its_new_token_in_the_header() {
    let time = ManualClock::starting_now();
    let app = app(layer()
        .clock(time.clock())
        .id_renewal(Duration::from_secs(60)));
    let issued = token(&call(&app, "/token-login", None).await).expect("token");
    time.advance(Duration::from_secs(61));
    let renewed = call(&app, "/count", bearer(&issued)).await;
    assert!(renewed.headers().get(SET_COOKIE).is_none());
    let fresh = token(&renewed).expect("the renewed token");
    assert_ne!(fresh, issued);
    assert_eq!(body_text(renewed).await, "101");
    assert_eq!(
        body_text(call(&app, "/count", bearer(&fresh)).await).await,
        "102"
    );
}

#[tokio::test]
async fn the_header_names_are_configurable() {
    let name = HeaderName::from_static("x-session");
    let layer = session(cookie(), MemoryStore::new())
        .expect("signed")
        .header_tokens(HeaderTokens::in_header(name.clone()).respond_in(name.clone()));
    let app = app(layer);
    let login = call(&app, "/token-login", None).await;
    let issued = login.headers()[&name].to_str().expect("text").to_owned();
    let counted = call(&app, "/count", Some((name, issued))).await;
    assert_eq!(body_text(counted).await, "101");
}

/// A bearer token that is not ours (an OAuth access token for another API) beside
/// the session cookie leaves the cookie in charge; alone, it is an API client's bad
/// token: a fresh session answered by header.
#[tokio::test]
async fn a_foreign_bearer_token_does_not_shadow_the_cookie() {
    let app = app(layer());
    let jar = session_cookie(&call(&app, "/count", None).await).expect("a cookie");
    let request = Request::get("/count")
        .header(COOKIE, format!("sid={jar}"))
        .header(
            AUTHORIZATION,
            "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl",
        )
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(token(&response), None, "answered by header");
    assert_eq!(
        body_text(response).await,
        "2",
        "the cookie session was ignored"
    );
    let alone = call(&app, "/count", bearer("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")).await;
    assert!(alone.headers().get(SET_COOKIE).is_none());
    assert!(
        token(&alone).is_some(),
        "a fresh session's token, by header"
    );
}
