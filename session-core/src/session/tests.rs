//! Unit tests of `Session`: every method and state transition, against a small in-test
//! storage that counts its calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::json;

use super::*;
use crate::{SessionStorage, StoredSession};

#[derive(Default)]
struct CountingStorage {
    records: Mutex<HashMap<String, StoredSession>>,
    reads: AtomicUsize,
    updates: AtomicUsize,
    deletes: AtomicUsize,
}

impl CountingStorage {
    fn contains(&self, id: &str) -> bool {
        self.records.lock().expect("lock").contains_key(id)
    }
    fn calls(&self) -> (usize, usize, usize) {
        (
            self.reads.load(Ordering::SeqCst),
            self.updates.load(Ordering::SeqCst),
            self.deletes.load(Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl SessionStorage for CountingStorage {
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.records.lock().expect("lock").get(id.as_str()).cloned())
    }
    async fn update(
        &self,
        id: &SessionId,
        data: &SessionData,
        expires: Option<SystemTime>,
    ) -> Result<(), Error> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        let record = StoredSession {
            data: data.clone(),
            expires,
        };
        self.records
            .lock()
            .expect("lock")
            .insert(id.as_str().to_owned(), record);
        Ok(())
    }
    async fn delete(&self, id: &SessionId) -> Result<(), Error> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.records.lock().expect("lock").remove(id.as_str());
        Ok(())
    }
}

/// One simulated request: load the session for `cookie`, let `handle` work on it, save.
async fn request(
    storage: &Arc<CountingStorage>,
    cookie: Option<&str>,
    handle: impl FnOnce(&Session),
) -> (Session, CookieUpdate) {
    let backend: Arc<dyn SessionBackend> = storage.clone();
    let session = Session::new(backend, cookie.map(str::to_owned));
    session.load().await.expect("load");
    handle(&session);
    let update = session.commit(None).await.expect("commit");
    (session, update)
}

fn cookie_of(update: &CookieUpdate) -> String {
    match update {
        CookieUpdate::Set(value) => value.clone(),
        other => panic!("expected a cookie, got {other:?}"),
    }
}

fn count(session: &Session) -> u64 {
    session.get::<u64>("count").expect("get").unwrap_or(0)
}

fn increment(session: &Session) {
    session.set("count", count(session) + 1).expect("set");
}

#[tokio::test]
async fn a_new_session_is_clean_and_empty() {
    let session = Session::detached().expect("session");
    session.load().await.expect("load");
    assert!(session.is_loaded());
    assert!(!session.is_dirty());
    assert!(!session.is_destroyed());
    assert_eq!(session.len().expect("len"), 0);
    assert!(session.is_empty().expect("is_empty"));
    assert_eq!(session.id().expect("id").as_str().len(), 43);
}

#[tokio::test]
async fn data_methods_before_load_say_not_loaded() {
    let storage = Arc::new(CountingStorage::default());
    let session = Session::new(storage.clone(), Some("x".into()));
    assert!(!session.is_loaded());
    assert!(matches!(session.get::<u8>("a"), Err(Error::NotLoaded)));
    assert!(matches!(session.set("a", 1), Err(Error::NotLoaded)));
    assert!(matches!(session.has("a"), Err(Error::NotLoaded)));
    assert!(matches!(session.id(), Err(Error::NotLoaded)));
    assert!(matches!(session.destroy(), Err(Error::NotLoaded)));
    assert!(!session.is_dirty());
    // An unloaded session is never saved, and costs no storage call at all.
    assert_eq!(
        session.commit(None).await.expect("commit"),
        CookieUpdate::Unchanged
    );
    assert_eq!(storage.calls(), (0, 0, 0));
}

#[tokio::test]
async fn set_get_has_remove() {
    let session = Session::detached().expect("session");
    session.load().await.expect("load");
    assert!(!session.has("user").expect("has"));
    session
        .set("user", json!({"id": 7, "name": "Zoë"}))
        .expect("set");
    assert!(session.is_dirty());
    assert!(session.has("user").expect("has"));
    assert_eq!(
        session.get_value("user").expect("get"),
        Some(json!({"id": 7, "name": "Zoë"}))
    );
    #[derive(serde::Deserialize, PartialEq, Debug)]
    struct User {
        id: u32,
        name: String,
    }
    let user: Option<User> = session.get("user").expect("typed get");
    assert_eq!(
        user,
        Some(User {
            id: 7,
            name: "Zoë".into()
        })
    );
    assert_eq!(session.len().expect("len"), 1);
    assert_eq!(
        session.remove("user").expect("remove"),
        Some(json!({"id": 7, "name": "Zoë"}))
    );
    assert!(!session.has("user").expect("has"));
    assert_eq!(session.remove("absent").expect("remove"), None);
}

#[tokio::test]
async fn wrong_type_is_a_json_error_naming_the_key() {
    let session = Session::detached().expect("session");
    session.load().await.expect("load");
    session.set("count", "three").expect("set");
    let err = session.get::<u64>("count").expect_err("type mismatch");
    assert!(matches!(&err, Error::Json { key, .. } if key == "count"));
}

#[tokio::test]
async fn setting_null_removes_the_key() {
    let session = Session::detached().expect("session");
    session.load().await.expect("load");
    session.set("a", 1).expect("set");
    session.set("a", Option::<u8>::None).expect("set null");
    assert!(!session.has("a").expect("has"));
    session.set("b", 1).expect("set");
    session.set("b", json!(null)).expect("set null");
    assert_eq!(session.len().expect("len"), 0);
}

#[tokio::test]
async fn reading_does_not_make_dirty() {
    let storage = Arc::new(CountingStorage::default());
    let (_, first) = request(&storage, None, increment).await;
    let cookie = cookie_of(&first);
    let (session, update) = request(&storage, Some(&cookie), |s| {
        assert_eq!(count(s), 1);
        assert!(s.has("count").expect("has"));
    })
    .await;
    assert!(!session.is_dirty());
    assert_eq!(update, CookieUpdate::Unchanged);
    // One read for the second request, and only the first request's write.
    assert_eq!(storage.calls(), (1, 1, 0));
}

#[tokio::test]
async fn persists_across_requests() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let cookie = cookie_of(&update);
    for expected in 2..=3 {
        let (session, update) = request(&storage, Some(&cookie), increment).await;
        assert_eq!(count(&session), expected);
        assert_eq!(cookie_of(&update), cookie, "the ID stays the same");
    }
}

#[tokio::test]
async fn a_fresh_untouched_session_writes_nothing() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, |_| {}).await;
    assert_eq!(update, CookieUpdate::Unchanged);
    assert_eq!(storage.calls(), (0, 0, 0), "no cookie: no read, no write");
}

#[tokio::test]
async fn unknown_ids_are_never_adopted_nor_stored() {
    let storage = Arc::new(CountingStorage::default());
    let unknown = SessionId::generate().expect("id");
    let (session, update) = request(&storage, Some(unknown.as_str()), |_| {}).await;
    assert_ne!(session.id().expect("id"), unknown);
    assert_eq!(update, CookieUpdate::Unchanged);
    assert_eq!(storage.calls(), (1, 0, 0), "a read creates no record");

    let (session, update) = request(&storage, Some(unknown.as_str()), increment).await;
    assert_ne!(cookie_of(&update), unknown.as_str());
    assert_eq!(session.id().expect("id").as_str(), cookie_of(&update));
    assert!(!storage.contains(unknown.as_str()));
}

#[tokio::test]
async fn malformed_ids_never_reach_the_storage() {
    let storage = Arc::new(CountingStorage::default());
    for bad in ["../etc", "a b", "x\r\nFLUSHALL", "%41%41"] {
        request(&storage, Some(bad), |_| {}).await;
    }
    assert_eq!(storage.calls(), (0, 0, 0));
}

#[tokio::test]
async fn flash_is_visible_on_the_next_request_only() {
    let storage = Arc::new(CountingStorage::default());
    let (session, update) = request(&storage, None, |s| {
        s.flash("notice", "saved").expect("flash");
        // Not visible in the request that set it.
        assert_eq!(s.get::<String>("notice").expect("get"), None);
        assert!(!s.has("notice").expect("has"));
    })
    .await;
    assert_eq!(session.len().expect("len"), 0);
    let cookie = cookie_of(&update);

    let (session, update) = request(&storage, Some(&cookie), |s| {
        // Dirty on arrival, so this request's save clears the flash.
        assert!(s.is_dirty());
        for _ in 0..2 {
            assert_eq!(
                s.get::<String>("notice").expect("get").as_deref(),
                Some("saved")
            );
        }
        assert_eq!(s.len().expect("len"), 1);
    })
    .await;
    assert!(matches!(update, CookieUpdate::Set(_)));
    assert!(!session.is_dirty(), "clean after a successful save");

    let (_, update) = request(&storage, Some(&cookie), |s| {
        assert_eq!(s.get::<String>("notice").expect("get"), None);
        assert!(!s.is_dirty());
    })
    .await;
    assert_eq!(update, CookieUpdate::Unchanged);
}

#[tokio::test]
async fn values_shadow_arriving_flash_and_remove_keeps_it() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, |s| s.flash("k", "flash").expect("flash")).await;
    let cookie = cookie_of(&update);
    request(&storage, Some(&cookie), |s| {
        s.set("k", "value").expect("set");
        assert_eq!(s.get::<String>("k").expect("get").as_deref(), Some("value"));
        s.remove("k").expect("remove");
        assert_eq!(s.get::<String>("k").expect("get").as_deref(), Some("flash"));
    })
    .await;
}

#[tokio::test]
async fn regenerate_keeps_data_and_kills_the_old_id() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let old = cookie_of(&update);

    let (session, update) = request(&storage, Some(&old), |s| {
        s.regenerate_id().expect("regenerate");
        assert!(s.is_dirty());
        s.regenerate_id().expect("twice");
        increment(s);
    })
    .await;
    let new = cookie_of(&update);
    assert_ne!(new, old);
    assert_eq!(session.id().expect("id").as_str(), new);
    assert!(!storage.contains(&old), "the old record is gone");

    let (session, _) = request(&storage, Some(&new), |_| {}).await;
    assert_eq!(count(&session), 2);
    let (session, _) = request(&storage, Some(&old), |_| {}).await;
    assert_eq!(count(&session), 0, "the old ID loads nothing");
}

#[tokio::test]
async fn destroy_deletes_the_record_and_clears_the_cookie() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let cookie = cookie_of(&update);
    let (session, update) = request(&storage, Some(&cookie), |s| {
        s.destroy().expect("destroy");
        assert!(s.is_destroyed());
        assert!(!s.is_dirty(), "destroy does not mark dirty (Remix)");
        assert_eq!(s.get::<u64>("count").expect("get"), None);
        assert!(!s.has("count").expect("has"));
        assert_eq!(s.len().expect("len"), 0);
        assert!(matches!(s.set("a", 1), Err(Error::Destroyed)));
        assert!(matches!(s.flash("a", 1), Err(Error::Destroyed)));
        assert!(matches!(s.remove("a"), Err(Error::Destroyed)));
        assert!(matches!(s.regenerate_id(), Err(Error::Destroyed)));
        s.destroy().expect("destroying twice is fine");
    })
    .await;
    assert_eq!(update, CookieUpdate::Clear);
    assert!(session.is_destroyed());
    assert!(!storage.contains(&cookie));

    let (session, _) = request(&storage, Some(&cookie), |_| {}).await;
    assert_ne!(session.id().expect("id").as_str(), cookie, "not replayable");
    assert_eq!(count(&session), 0);
}

#[tokio::test]
async fn regenerate_then_destroy_deletes_the_original_record() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let cookie = cookie_of(&update);
    let (_, update) = request(&storage, Some(&cookie), |s| {
        s.regenerate_id().expect("regenerate");
        s.destroy().expect("destroy");
    })
    .await;
    assert_eq!(update, CookieUpdate::Clear);
    assert!(!storage.contains(&cookie));
}

#[tokio::test]
async fn destroying_a_session_that_never_existed_touches_nothing() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, |s| s.destroy().expect("destroy")).await;
    assert_eq!(update, CookieUpdate::Unchanged);
    assert_eq!(storage.calls(), (0, 0, 0));
}

#[tokio::test]
async fn expired_records_are_not_loaded() {
    let storage = Arc::new(CountingStorage::default());
    let backend: Arc<dyn SessionBackend> = storage.clone();
    let session = Session::new(backend.clone(), None);
    session.load().await.expect("load");
    session.set("a", 1).expect("set");
    let past = SystemTime::now() - Duration::from_secs(1);
    let cookie = cookie_of(&session.commit(Some(past)).await.expect("commit"));

    let again = Session::new(backend, Some(cookie.clone()));
    again.load().await.expect("load");
    assert_ne!(again.id().expect("id").as_str(), cookie);
    assert_eq!(again.get::<u8>("a").expect("get"), None);
}

#[tokio::test]
async fn clones_share_one_state_and_load_once() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let cookie = cookie_of(&update);
    let session = Session::new(storage.clone(), Some(cookie));
    let clone = session.clone();
    session.load().await.expect("load");
    clone.load().await.expect("second load is free");
    assert_eq!(storage.calls().0, 1);
    clone.set("count", 5).expect("set");
    assert_eq!(count(&session), 5);
}

#[test]
fn debug_shows_no_id_and_no_data() {
    let session = Session::detached().expect("session");
    session.set("secret", "hunter2").expect("set");
    let id = session.id().expect("id");
    let shown = format!("{session:?}");
    assert!(!shown.contains("hunter2"));
    assert!(!shown.contains(id.as_str()));
    assert!(shown.contains("dirty: true"));
}
