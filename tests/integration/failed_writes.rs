//! A write that fails is never reported as a success: whatever storage operation fails
//! (create, update, move, replace, delete), the response is a 503, no cookie is set or
//! cleared, and the session as stored before is untouched. Turning a failed update into
//! "the session is gone" would instead log the user out with a 200 and lose the write.

use axum::routing::get;
use axum::Router;
use http::header::SET_COOKIE;
use http::StatusCode;
use session_core::{Error, Session};
use session_memory_store::MemoryStore;
use session_middleware::session;
use session_tests::{Failing, Operation};

use crate::support::{app_on, body_text, cookie, send, session_cookie};

fn app(storage: Failing<MemoryStore>) -> Router {
    app_on(session(cookie(), storage).expect("layer"))
}

/// `path` with `cookie` while `operation` fails: a 503 that sets no cookie.
async fn assert_fails_closed(
    app: &Router,
    storage: &Failing<MemoryStore>,
    operation: Operation,
    path: &str,
    cookie: Option<&str>,
) {
    storage.fail(operation);
    let response = send(app, path, cookie).await;
    storage.heal();
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{path} while {operation:?} fails"
    );
    assert!(
        !response.headers().contains_key(SET_COOKIE),
        "{path} while {operation:?} fails touched the cookie"
    );
}

#[tokio::test]
async fn a_failed_create_is_a_503_without_a_cookie() {
    let storage = Failing::new(MemoryStore::new());
    let app = app(storage.clone());
    assert_fails_closed(&app, &storage, Operation::Create, "/write", None).await;
    assert!(
        storage.inner().is_empty(),
        "a record was stored all the same"
    );
}

#[tokio::test]
async fn a_failed_update_keeps_the_session_and_its_cookie() {
    let storage = Failing::new(MemoryStore::new());
    let app = app(storage.clone());
    let live = session_cookie(&send(&app, "/write", None).await).expect("a session");
    assert_fails_closed(&app, &storage, Operation::Update, "/write", Some(&live)).await;
    // Not logged out, and the failed write did not land: the count is still 1.
    let read = send(&app, "/read", Some(&live)).await;
    assert_eq!(body_text(read).await, "Ok(Some(1))");
}

#[tokio::test]
async fn a_failed_move_keeps_the_session_under_its_old_id() {
    let storage = Failing::new(MemoryStore::new());
    let app = app(storage.clone());
    let live = session_cookie(&send(&app, "/write", None).await).expect("a session");
    assert_fails_closed(&app, &storage, Operation::Move, "/regenerate", Some(&live)).await;
    let read = send(&app, "/read", Some(&live)).await;
    assert_eq!(body_text(read).await, "Ok(Some(1))");
}

#[tokio::test]
async fn a_failed_delete_is_not_a_logout() {
    let storage = Failing::new(MemoryStore::new());
    let app = app(storage.clone());
    let live = session_cookie(&send(&app, "/write", None).await).expect("a session");
    assert_fails_closed(&app, &storage, Operation::Delete, "/destroy", Some(&live)).await;
    let read = send(&app, "/read", Some(&live)).await;
    assert_eq!(
        body_text(read).await,
        "Ok(Some(1))",
        "the session is still there"
    );
}

#[tokio::test]
async fn a_failed_replace_is_a_503_without_a_cookie() {
    let storage = Failing::new(MemoryStore::new());
    let layer = session(cookie(), storage.clone()).expect("layer");
    let app = Router::new()
        .route("/write", get(|s: Session| async move { s.set("n", 1u64) }))
        .route(
            "/logout-with-notice",
            get(|s: Session| async move {
                s.destroy()?;
                s.flash("notice", "logged out")?;
                Ok::<_, Error>("bye")
            }),
        )
        .layer(layer);
    let live = session_cookie(&send(&app, "/write", None).await).expect("a session");
    assert_fails_closed(
        &app,
        &storage,
        Operation::Replace,
        "/logout-with-notice",
        Some(&live),
    )
    .await;
    assert_eq!(storage.inner().len(), 1, "only the first session is stored");
}
