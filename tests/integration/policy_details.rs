//! Policy details through the public API: `fail_open` on the layer and on the manager,
//! the bounded retries after ID collisions, and the retry of a collision met by
//! `regenerate_id`.

use std::sync::{Arc, Mutex};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use session_core::{Error, SessionId, SessionStorage, StoredSession};
use session_memory_store::MemoryStore;
use session_middleware::{session, SessionManager};
use session_tests::Counted;

use crate::support::{app, app_on, body_text, cookie, send, session_cookie, session_id, Down};

/// A cookie carrying a well-formed ID, signed with the test secret.
fn signed_id() -> (SessionId, String) {
    let id = SessionId::generate().expect("id");
    let signed = cookie().sign(id.as_str()).expect("sign");
    (id, signed)
}

#[tokio::test]
async fn fail_open_on_the_layer_starts_a_fresh_session_when_storage_is_down() {
    let (_, signed) = signed_id();
    let closed = send(&app(Down), "/read", Some(&signed)).await;
    assert_eq!(
        closed.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "fails closed by default"
    );

    let open = app_on(session(cookie(), Down).expect("layer").fail_open(true));
    let response = send(&open, "/read", Some(&signed)).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "fail_open(true) on the layer"
    );
    assert_eq!(body_text(response).await, "Ok(None)");
    // Only loading fails open: a save that fails still never reports success.
    let response = send(&open, "/write", Some(&signed)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn fail_open_on_the_manager_starts_a_fresh_session_when_storage_is_down() {
    let (id, signed) = signed_id();
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_str(&format!("sid={signed}")).expect("header"),
    );

    let closed = SessionManager::new(cookie(), Down).expect("manager");
    let err = closed
        .session_from_headers(&headers)
        .load()
        .await
        .expect_err("fails closed");
    assert!(err.is_unavailable(), "{err}");

    let open = SessionManager::new(cookie(), Down)
        .expect("manager")
        .fail_open(true);
    assert!(open.session_policy().fail_open);
    let session = open.session_from_headers(&headers);
    session
        .load()
        .await
        .expect("fail_open(true) on the manager");
    assert_ne!(session.id().expect("id"), id, "never the presented ID");
    assert!(session.is_empty().expect("loaded"));
}

/// A storage where every new ID is already taken (a broken random source).
#[derive(Clone)]
struct EveryIdTaken;
impl SessionStorage for EveryIdTaken {
    async fn read(&self, _: &SessionId) -> Result<Option<StoredSession>, Error> {
        Ok(None)
    }
    async fn create(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
        Ok(false)
    }
    async fn update(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
        Ok(false)
    }
    async fn delete(&self, _: &SessionId) -> Result<bool, Error> {
        Ok(false)
    }
}

/// Repeated collisions end the commit with a clear error after a few tries: no
/// endless loop, no success reported, no cookie.
#[tokio::test]
async fn repeated_id_collisions_are_a_clear_error_after_a_few_tries() {
    let storage = Counted::new(EveryIdTaken);
    let manager = SessionManager::new(cookie(), storage.clone()).expect("manager");
    let session = manager.session_from_headers(&HeaderMap::new());
    session.load().await.expect("load");
    session.set("n", 1).expect("set");
    let mut headers = HeaderMap::new();
    let err = manager
        .commit(&session, &mut headers)
        .await
        .expect_err("no ID was free");
    assert!(matches!(err, Error::Internal(_)), "{err:?}");
    assert!(
        !err.is_unavailable(),
        "a broken RNG is a 500, not an outage"
    );
    assert!(err.to_string().contains("collided repeatedly"), "{err}");
    assert!(!headers.contains_key(SET_COOKIE));
    assert_eq!(storage.counts().writes, 3, "three IDs tried, then given up");

    let response = send(&app(storage), "/write", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!response.headers().contains_key(SET_COOKIE));
}

/// A memory store whose next create, once armed, reports the ID taken: a collision in
/// the middle of `regenerate_id`'s move (the old record already deleted).
#[derive(Clone, Default)]
struct TakenOnce {
    inner: MemoryStore,
    armed: Arc<Mutex<bool>>,
    refused: Arc<Mutex<Option<SessionId>>>,
}
impl SessionStorage for TakenOnce {
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        self.inner.read(id).await
    }
    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        if std::mem::take(&mut *self.armed.lock().expect("lock")) {
            *self.refused.lock().expect("lock") = Some(id.clone());
            return Ok(false);
        }
        self.inner.create(id, record).await
    }
    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.inner.update(id, record).await
    }
    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.inner.delete(id).await
    }
}

#[tokio::test]
async fn a_collision_during_regenerate_retries_under_a_fresh_id_with_the_data() {
    let storage = TakenOnce::default();
    let app = app(storage.clone());
    let old = session_cookie(&send(&app, "/write", None).await).expect("cookie");
    *storage.armed.lock().expect("lock") = true;
    let response = send(&app, "/regenerate", Some(&old)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let new = session_cookie(&response).expect("the regenerated session's cookie");
    let refused = storage
        .refused
        .lock()
        .expect("lock")
        .clone()
        .expect("a create was refused");
    let new_id = session_id(&new);
    assert_ne!(new_id, session_id(&old), "a new ID");
    assert_ne!(new_id, refused, "not the ID that was taken");
    assert_eq!(
        body_text(send(&app, "/read", Some(&new)).await).await,
        "Ok(Some(1))"
    );
    assert_eq!(
        body_text(send(&app, "/read", Some(&old)).await).await,
        "Ok(None)"
    );
}
