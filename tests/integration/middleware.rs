//! The layer's own guarantees, with small purpose-built handlers: storage round trips
//! per request kind, failures, size limits and header hygiene.

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use session_cookie_store::CookieStore;
use session_core::{Error, Session, SessionId};
use session_memory_store::MemoryStore;
use session_middleware::{session, SessionCookie, SessionManager};
use session_tests::{CallCounts, Counted};
use tower::{service_fn, Layer, ServiceExt};

use crate::support::{app, app_with, body_text, cookie, send, session_cookie, Down};

fn counts(reads: usize, writes: usize, deletes: usize) -> CallCounts {
    CallCounts {
        reads,
        writes,
        deletes,
    }
}

/// Each request kind against a fresh session, counting storage calls.
#[tokio::test]
async fn storage_round_trips_per_request_kind() {
    let storage = Counted::new(MemoryStore::new());
    let app = app(storage.clone());
    // (path, with a live cookie?, calls it may cost, sends Set-Cookie?)
    let cases = [
        ("/untouched", false, counts(0, 0, 0), false),
        ("/read", false, counts(0, 0, 0), false),
        ("/write", false, counts(0, 1, 0), true),
        ("/untouched", true, counts(0, 0, 0), false),
        ("/read", true, counts(1, 0, 0), false),
        // Saved under the ID the cookie already carries, no Max-Age: cookie unchanged.
        ("/write", true, counts(1, 1, 0), false),
        ("/regenerate", true, counts(1, 1, 1), true),
        ("/destroy", true, counts(1, 0, 1), true),
    ];
    for (path, with_cookie, expected, sets_cookie) in cases {
        let cookie = if with_cookie {
            let response = send(&app, "/write", None).await;
            Some(session_cookie(&response).expect("a session cookie"))
        } else {
            None
        };
        let before = storage.counts();
        let response = send(&app, path, cookie.as_deref()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let after = storage.counts();
        let spent = counts(
            after.reads - before.reads,
            after.writes - before.writes,
            after.deletes - before.deletes,
        );
        assert_eq!(spent, expected, "{path} with cookie: {with_cookie}");
        assert_eq!(
            response.headers().contains_key(SET_COOKIE),
            sets_cookie,
            "{path} with cookie: {with_cookie}"
        );
    }
}

/// A write to a by-ID session resends the cookie only when something about it changes:
/// never when the value and the lifetime stay the same, always when there is a `Max-Age`
/// to push back, and always for cookie storage (the payload is the data).
#[tokio::test]
async fn the_cookie_is_resent_only_when_it_changes() {
    let session_cookie_lifetime = |max_age: Option<Duration>| {
        let builder = SessionCookie::builder("sid").secret(crate::support::SECRET);
        match max_age {
            Some(max_age) => builder.max_age(max_age),
            None => builder,
        }
        .build()
        .expect("valid")
    };
    let cases: [(&str, Router, bool); 3] = [
        ("memory, no Max-Age", app(MemoryStore::new()), false),
        (
            "memory, Max-Age",
            app_with(
                session_cookie_lifetime(Some(Duration::from_secs(600))),
                MemoryStore::new(),
            ),
            true,
        ),
        ("cookie storage", app(CookieStore::new()), true),
    ];
    for (case, app, resent) in cases {
        let first = send(&app, "/write", None).await;
        let live = session_cookie(&first).expect("a new session sets its cookie");
        let second = send(&app, "/write", Some(&live)).await;
        assert_eq!(session_cookie(&second).is_some(), resent, "{case}");
        assert_eq!(body_text(second).await, "2", "{case}");
        if !resent {
            // The stored session did change: the old cookie reads the new count.
            let third = send(&app, "/write", Some(&live)).await;
            assert_eq!(body_text(third).await, "3", "{case}");
        }
    }
}

#[tokio::test]
async fn an_oversized_cookie_session_is_a_clear_500_not_a_dropped_cookie() {
    let app = app(CookieStore::new());
    let response = send(&app, "/big", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!response.headers().contains_key(SET_COOKIE));
    assert_eq!(body_text(response).await, "", "error bodies are opaque");

    // The error itself names the size and what to do.
    let err = cookie().set_cookie(&"x".repeat(5000)).expect_err("too big");
    assert!(err.to_string().contains("bytes"), "{err}");
    assert!(err.to_string().contains("server-side storage"), "{err}");
}

#[tokio::test]
async fn a_storage_outage_is_a_503_that_leaves_the_cookie_alone() {
    let app = app(Down);
    let id = SessionId::generate().expect("id");
    let signed = cookie().sign(id.as_str()).expect("sign");
    for path in ["/read", "/write", "/destroy"] {
        let response = send(&app, path, Some(&signed)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(!response.headers().contains_key(SET_COOKIE), "{path}");
    }
    // Without a cookie nothing is read, and the failure shows up on the write.
    let response = send(&app, "/write", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!response.headers().contains_key(SET_COOKIE));
    assert_eq!(
        send(&app, "/untouched", Some(&signed)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_failing_handler_saves_nothing() {
    let storage = Counted::new(MemoryStore::new());
    let layer = session(cookie(), storage.clone()).expect("layer");
    let service = layer.layer(service_fn(|request: Request<Body>| async move {
        let session = request
            .extensions()
            .get::<Session>()
            .cloned()
            .expect("session");
        session.load().await.expect("load");
        session.set("n", 1).expect("set");
        Err::<Response<Body>, _>(std::io::Error::other("handler failed"))
    }));
    let result = service.oneshot(Request::new(Body::empty())).await;
    assert!(result.is_err());
    assert_eq!(storage.counts(), counts(0, 0, 0));
}

#[tokio::test]
async fn the_layer_refuses_to_run_twice_on_one_request() {
    let inner = app(MemoryStore::new());
    let twice = inner.layer(session(cookie(), MemoryStore::new()).expect("layer"));
    let response = send(&twice, "/write", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn handler_cookies_and_cache_control_are_kept() {
    let app = app(MemoryStore::new());
    let response = send(&app, "/own-headers", None).await;
    let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
    assert_eq!(cookies.len(), 2, "the handler's cookie and ours");
    assert_eq!(
        response.headers()[CACHE_CONTROL],
        "private, max-age=10",
        "the handler's Cache-Control wins"
    );
    assert_eq!(response.headers()[VARY], "Cookie");

    let response = send(&app, "/write", None).await;
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn an_unsigned_cookie_is_refused_with_a_clear_error() {
    let unsigned = SessionCookie::builder("sid").build().expect("valid cookie");
    let err = session(unsigned, MemoryStore::new()).expect_err("must be refused");
    assert!(matches!(err, Error::UnsignedCookie));
    assert!(err.to_string().contains("must be signed"), "{err}");
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500() {
    let app: Router = Router::new().route("/", get(|_: Session| async { "unreachable" }));
    let response = app
        .oneshot(Request::new(Body::empty()))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// The manual API, for frameworks without tower: headers in, headers out.
#[tokio::test]
async fn the_manual_api_round_trips_through_headers() {
    let manager = SessionManager::new(cookie(), MemoryStore::new()).expect("manager");
    let mut jar: Option<HeaderValue> = None;
    for expected in 1..=3u64 {
        let mut request_headers = HeaderMap::new();
        if let Some(value) = &jar {
            let pair = value
                .to_str()
                .expect("ASCII")
                .split(';')
                .next()
                .unwrap_or_default();
            request_headers.insert(COOKIE, HeaderValue::from_str(pair).expect("header"));
        }
        let session = manager.session_from_headers(&request_headers);
        session.load().await.expect("load");
        let n = session.get::<u64>("n").expect("get").unwrap_or(0) + 1;
        assert_eq!(n, expected);
        session.set("n", n).expect("set");
        let mut response_headers = HeaderMap::new();
        manager
            .commit(&session, &mut response_headers)
            .await
            .expect("commit");
        let set_cookie = response_headers.get(SET_COOKIE).cloned();
        // Only the first response sets the cookie; the next ones update the session
        // under the ID the cookie already carries, so the browser keeps it.
        assert_eq!(set_cookie.is_some(), expected == 1, "request {expected}");
        jar = jar.or(set_cookie);
    }
}

/// Secret rotation: a cookie signed with the old secret is accepted and re-issued,
/// signed with the new one, even by a request that changes nothing.
#[tokio::test]
async fn cookies_signed_with_an_old_secret_are_reissued_with_the_new_one() {
    let storage = MemoryStore::new();
    let old = SessionCookie::builder("sid")
        .secret("the old secret, at least thirty-two bytes long")
        .build()
        .expect("valid");
    let rotated = SessionCookie::builder("sid")
        .secret("the new secret, at least thirty-two bytes long")
        .secret("the old secret, at least thirty-two bytes long")
        .build()
        .expect("valid");
    let before = app_with(old, storage.clone());
    let after = app_with(rotated.clone(), storage);
    let cookie = session_cookie(&send(&before, "/write", None).await).expect("cookie");
    let response = send(&after, "/read", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let reissued = session_cookie(&response).expect("re-issued on a read");
    assert_ne!(reissued, cookie);
    let new_only = SessionCookie::builder("sid")
        .secret("the new secret, at least thirty-two bytes long")
        .build()
        .expect("valid");
    assert_eq!(new_only.verify(&reissued), rotated.verify(&cookie));
    assert_eq!(
        body_text(send(&after, "/read", Some(&reissued)).await).await,
        "Ok(Some(1))"
    );
    // Once re-issued, reads leave the cookie alone again.
    assert!(session_cookie(&send(&after, "/read", Some(&reissued)).await).is_none());
}
