//! Unit tests of `Session`: every method and state transition, against a small in-test
//! storage that counts its calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;
use crate::{SessionData, SessionPolicy, SessionStorage, StoredSession};

#[derive(Default)]
struct CountingStorage {
    records: Mutex<HashMap<String, StoredSession>>,
    reads: AtomicUsize,
    /// Creates and updates.
    updates: AtomicUsize,
    deletes: AtomicUsize,
    /// How many upcoming creates to refuse as collisions.
    refuse_creates: AtomicUsize,
    /// Runs once, as the next create or update begins: what another request (or
    /// another clone of the handle) does while a save is in flight.
    during_next_write: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl CountingStorage {
    fn during_next_write(&self, action: impl FnOnce() + Send + 'static) {
        *self.during_next_write.lock().expect("lock") = Some(Box::new(action));
    }
    fn run_during_write(&self) {
        let action = self.during_next_write.lock().expect("lock").take();
        if let Some(action) = action {
            action();
        }
    }
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
impl SessionStorage for CountingStorage {
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(self.records.lock().expect("lock").get(id.as_str()).cloned())
    }
    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.run_during_write();
        self.updates.fetch_add(1, Ordering::SeqCst);
        if self.refuse_creates.load(Ordering::SeqCst) > 0 {
            // Simulates an ID collision: the ID is "taken".
            self.refuse_creates.fetch_sub(1, Ordering::SeqCst);
            return Ok(false);
        }
        let mut records = self.records.lock().expect("lock");
        if records.contains_key(id.as_str()) {
            return Ok(false);
        }
        records.insert(id.as_str().to_owned(), record.clone());
        Ok(true)
    }
    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        self.run_during_write();
        self.updates.fetch_add(1, Ordering::SeqCst);
        match self.records.lock().expect("lock").get_mut(id.as_str()) {
            Some(stored) => *stored = record.clone(),
            None => return Ok(false),
        }
        Ok(true)
    }
    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .records
            .lock()
            .expect("lock")
            .remove(id.as_str())
            .is_some())
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
    let update = session.commit().await.expect("commit");
    (session, update)
}

fn cookie_of(update: &CookieUpdate) -> String {
    match update {
        CookieUpdate::Set { value, .. } => value.clone(),
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
    session.set("user", "ada").expect("set");
    assert!(!session.is_empty().expect("is_empty"), "a value is data");
    assert_eq!(session.len().expect("len"), 1);
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
    assert_eq!(session.commit().await.expect("commit"), CookieUpdate::Keep);
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
    // The stored value never shows, in the message or in its causes.
    let mut shown = format!("{err} {err:?}");
    if let Some(source) = std::error::Error::source(&err) {
        shown.push_str(&format!(" {source} {source:?}"));
    }
    assert!(!shown.contains("three"), "{shown}");
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
    assert_eq!(update, CookieUpdate::Keep);
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
    assert_eq!(update, CookieUpdate::Keep);
    assert_eq!(storage.calls(), (0, 0, 0), "no cookie: no read, no write");
}

#[tokio::test]
async fn unknown_ids_are_never_adopted_nor_stored() {
    let storage = Arc::new(CountingStorage::default());
    let unknown = SessionId::generate().expect("id");
    let (session, update) = request(&storage, Some(unknown.as_str()), |_| {}).await;
    assert_ne!(session.id().expect("id"), unknown);
    assert_eq!(update, CookieUpdate::Keep);
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
    assert!(matches!(update, CookieUpdate::Set { .. }));
    assert!(!session.is_dirty(), "clean after a successful save");

    let (_, update) = request(&storage, Some(&cookie), |s| {
        assert_eq!(s.get::<String>("notice").expect("get"), None);
        assert!(!s.is_dirty());
    })
    .await;
    assert_eq!(update, CookieUpdate::Keep);
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
    assert_eq!(update, CookieUpdate::Keep);
    assert_eq!(storage.calls(), (0, 0, 0));
}

#[tokio::test]
async fn expired_records_are_not_loaded() {
    let storage = Arc::new(CountingStorage::default());
    let id = SessionId::generate().expect("id");
    let mut record = StoredSession::default();
    record.data.values.insert("a".into(), json!(1));
    record.expires = Some(SystemTime::now() - Duration::from_secs(1));
    storage.create(&id, &record).await.expect("create");
    let (session, _) = request(&storage, Some(id.as_str()), |_| {}).await;
    assert_ne!(session.id().expect("id"), id);
    assert_eq!(session.get::<u8>("a").expect("get"), None);
}

#[tokio::test]
async fn sessions_past_the_absolute_timeout_are_not_loaded() {
    let storage = Arc::new(CountingStorage::default());
    let id = SessionId::generate().expect("id");
    let mut record = StoredSession::default();
    record.data.values.insert("a".into(), json!(1));
    record.created = Some(SystemTime::now() - Duration::from_secs(3600));
    storage.create(&id, &record).await.expect("create");
    let policy = Arc::new(SessionPolicy {
        absolute_timeout: Some(Duration::from_secs(60)),
        ..SessionPolicy::default()
    });
    let session = Session::with_policy(storage.clone(), policy, Some(id.as_str().to_owned()));
    session.load().await.expect("load");
    assert_eq!(
        session.get::<u8>("a").expect("get"),
        None,
        "a stored deadline is not enough"
    );
}

#[tokio::test]
async fn creation_times_far_in_the_future_are_refused() {
    let storage = Arc::new(CountingStorage::default());
    let id = SessionId::generate().expect("id");
    let mut record = StoredSession::default();
    record.data.values.insert("a".into(), json!(1));
    record.created = Some(SystemTime::now() + Duration::from_secs(3600));
    storage.create(&id, &record).await.expect("create");
    let (session, _) = request(&storage, Some(id.as_str()), |_| {}).await;
    assert_eq!(session.get::<u8>("a").expect("get"), None);
    // Within the skew allowance, it loads.
    record.created = Some(SystemTime::now() + Duration::from_secs(60));
    storage.update(&id, &record).await.expect("update");
    let (session, _) = request(&storage, Some(id.as_str()), |_| {}).await;
    assert_eq!(session.get::<u8>("a").expect("get"), Some(1));
}

#[tokio::test]
async fn the_deadline_follows_the_policy_and_the_creation_time_survives_regeneration() {
    let storage = Arc::new(CountingStorage::default());
    let policy = Arc::new(SessionPolicy {
        idle_timeout: Some(Duration::from_secs(600)),
        absolute_timeout: Some(Duration::from_secs(3600)),
        ..SessionPolicy::default()
    });
    let session = Session::with_policy(storage.clone(), policy.clone(), None);
    session.load().await.expect("load");
    session.set("a", 1).expect("set");
    let before = SystemTime::now();
    let CookieUpdate::Set { value, expires, .. } = session.commit().await.expect("commit") else {
        panic!("expected a cookie");
    };
    let expires = expires.expect("a deadline");
    assert!(
        expires >= before + Duration::from_secs(599)
            && expires <= SystemTime::now() + Duration::from_secs(600)
    );
    let created = storage.records.lock().expect("lock")[&value]
        .created
        .expect("created");

    let again = Session::with_policy(storage.clone(), policy, Some(value));
    again.load().await.expect("load");
    again.regenerate_id().expect("regenerate");
    let new = cookie_of(&again.commit().await.expect("commit"));
    let records = storage.records.lock().expect("lock");
    assert_eq!(
        records[&new].created,
        Some(created),
        "absolute timeout not reset by regenerate"
    );
}

#[tokio::test]
async fn reads_refresh_the_idle_deadline_only_after_a_quarter_of_it() {
    let storage = Arc::new(CountingStorage::default());
    let idle = Duration::from_secs(400);
    let policy = Arc::new(SessionPolicy {
        idle_timeout: Some(idle),
        ..SessionPolicy::default()
    });
    let id = SessionId::generate().expect("id");
    let now = SystemTime::now();
    // Saved 60 s ago (less than a quarter of 400 s): a read writes nothing.
    let fresh = StoredSession {
        expires: Some(now + idle - Duration::from_secs(60)),
        created: Some(now - Duration::from_secs(60)),
        ..StoredSession::default()
    };
    storage.create(&id, &fresh).await.expect("create");
    let session = Session::with_policy(
        storage.clone(),
        policy.clone(),
        Some(id.as_str().to_owned()),
    );
    session.load().await.expect("load");
    assert_eq!(session.commit().await.expect("commit"), CookieUpdate::Keep);
    // Saved 150 s ago: the read pushes the deadline with one update.
    let stale = StoredSession {
        expires: Some(now + idle - Duration::from_secs(150)),
        ..fresh
    };
    storage.update(&id, &stale).await.expect("update");
    let updates = storage.calls().1;
    let session = Session::with_policy(storage.clone(), policy, Some(id.as_str().to_owned()));
    session.load().await.expect("load");
    let update = session.commit().await.expect("commit");
    assert!(matches!(update, CookieUpdate::Set { .. }));
    assert_eq!(storage.calls().1, updates + 1);
    let pushed = storage.records.lock().expect("lock")[id.as_str()]
        .expires
        .expect("deadline");
    assert!(pushed > now + idle - Duration::from_secs(5));
}

#[tokio::test]
async fn destroy_then_reuse_starts_a_new_session_and_the_old_record_stays_deleted() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let old = cookie_of(&update);
    let (session, update) = request(&storage, Some(&old), |s| {
        s.destroy().expect("destroy");
        s.flash("notice", "You have been logged out")
            .expect("flash after destroy");
        assert!(!s.is_destroyed());
        assert_eq!(count(s), 0, "the new session starts empty");
    })
    .await;
    let new = cookie_of(&update);
    assert_ne!(new, old);
    assert_eq!(session.id().expect("id").as_str(), new);
    assert!(
        !storage.contains(&old),
        "the destroyed record stays deleted"
    );
    let (_, _) = request(&storage, Some(&new), |s| {
        assert_eq!(
            s.get::<String>("notice").expect("get").as_deref(),
            Some("You have been logged out")
        );
    })
    .await;
}

#[tokio::test]
async fn an_id_collision_never_overwrites_and_retries_with_a_new_id() {
    let storage = Arc::new(CountingStorage::default());
    storage.refuse_creates.store(1, Ordering::SeqCst);
    let session = Session::new(storage.clone(), None);
    session.load().await.expect("load");
    let first_id = session.id().expect("id");
    session.set("a", 1).expect("set");
    let cookie = cookie_of(&session.commit().await.expect("commit"));
    assert_ne!(cookie, first_id.as_str(), "retried under another ID");
    assert!(storage.contains(&cookie));
    assert!(!storage.contains(first_id.as_str()));
}

#[tokio::test]
async fn repeated_id_collisions_stop_after_three_tries_with_a_clear_error() {
    let storage = Arc::new(CountingStorage::default());
    // More collisions than the commit may try: it must give up, not keep drawing IDs.
    storage.refuse_creates.store(10, Ordering::SeqCst);
    let session = Session::new(storage.clone(), None);
    session.load().await.expect("load");
    session.set("a", 1).expect("set");
    let outcome = session.commit().await;
    assert!(matches!(outcome, Err(Error::Internal(_))), "{outcome:?}");
    assert_eq!(storage.calls().1, 3, "creates tried");
    assert!(storage.records.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_save_after_a_concurrent_logout_does_not_resurrect_the_session() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let cookie = cookie_of(&update);
    // Two requests with the same cookie: one logs out while the other is working.
    let slow = Session::new(storage.clone(), Some(cookie.clone()));
    slow.load().await.expect("load");
    request(&storage, Some(&cookie), |s| s.destroy().expect("destroy")).await;
    slow.set("count", 99).expect("set");
    assert_eq!(slow.commit().await.expect("commit"), CookieUpdate::Clear);
    assert!(!storage.contains(&cookie), "the logout was undone");
    // Not even by a second commit: before the state machine moved into
    // `working_copy.rs`, one created the session again under its old ID.
    assert!(slow.is_destroyed());
    assert!(
        !slow.needs_commit(),
        "the session is over: nothing left to do"
    );
    assert_eq!(
        slow.commit().await.expect("second commit"),
        CookieUpdate::Keep
    );
    assert!(!storage.contains(&cookie), "the logout was undone");
}

/// A stored session, loaded again in a second request and changed there (not saved
/// yet); its cookie value.
async fn a_changed_stored_session() -> (Arc<CountingStorage>, Session, String) {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let cookie = cookie_of(&update);
    let session = Session::new(storage.clone(), Some(cookie.clone()));
    session.load().await.expect("load");
    increment(&session);
    (storage, session, cookie)
}

/// Another clone destroys the session while its save is in flight: the same commit
/// carries the destroy out, so no live session is left behind.
#[tokio::test]
async fn a_destroy_during_the_save_is_carried_out_by_the_same_commit() {
    let (storage, session, cookie) = a_changed_stored_session().await;
    let clone = session.clone();
    storage.during_next_write(move || clone.destroy().expect("destroy"));
    assert_eq!(session.commit().await.expect("commit"), CookieUpdate::Clear);
    assert!(!storage.contains(&cookie), "the destroyed session stayed");
    assert!(!session.needs_commit());
}

/// A logout by another request ends the session while its save is in flight, and a
/// clone meanwhile destroyed it and began a new one: the new one is saved under a new
/// ID, and the logged-out record stays deleted.
#[tokio::test]
async fn a_new_session_begun_during_a_save_that_met_a_logout_is_saved() {
    let (storage, session, cookie) = a_changed_stored_session().await;
    let (clone, logout) = (session.clone(), storage.clone());
    let logged_out = cookie.clone();
    storage.during_next_write(move || {
        logout.records.lock().expect("lock").remove(&logged_out);
        clone.destroy().expect("destroy");
        clone.flash("notice", "logged out").expect("flash");
    });
    let update = session.commit().await.expect("commit");
    let new_id = cookie_of(&update);
    assert_ne!(new_id, cookie);
    assert!(storage.contains(&new_id), "the new session was not saved");
    assert!(!storage.contains(&cookie), "the logout was undone");
}

#[tokio::test]
async fn fail_open_gives_a_fresh_session_when_storage_is_down() {
    struct Down;
    impl SessionStorage for Down {
        async fn read(&self, _: &SessionId) -> Result<Option<StoredSession>, Error> {
            Err(Error::storage("read a session", "connection refused"))
        }
        async fn create(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
            Err(Error::storage("write a session", "connection refused"))
        }
        async fn update(&self, _: &SessionId, _: &StoredSession) -> Result<bool, Error> {
            Err(Error::storage("write a session", "connection refused"))
        }
        async fn delete(&self, _: &SessionId) -> Result<bool, Error> {
            Err(Error::storage("delete a session", "connection refused"))
        }
    }
    let cookie = SessionId::generate().expect("id").as_str().to_owned();
    let closed = Session::new(Arc::new(Down), Some(cookie.clone()));
    assert!(closed
        .load()
        .await
        .expect_err("fails closed")
        .is_unavailable());
    let policy = Arc::new(SessionPolicy {
        fail_open: true,
        ..SessionPolicy::default()
    });
    let open = Session::with_policy(Arc::new(Down), policy, Some(cookie.clone()));
    open.load().await.expect("fails open");
    assert_ne!(open.id().expect("id").as_str(), cookie);
    assert!(open.is_empty().expect("len"));
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

/// Every public type that can hold a session ID or session data prints neither.
#[tokio::test]
async fn no_public_debug_shows_an_id_or_data() {
    let id = SessionId::generate().expect("id");
    let mut data = SessionData::default();
    data.values.insert("secret".into(), json!("hunter2"));
    data.flash.insert("notice".into(), json!("hunter2 flash"));
    let stored = StoredSession {
        data: data.clone(),
        expires: None,
        created: None,
        revision: Some(7),
        ..StoredSession::default()
    };
    let found = crate::FoundSession {
        id: id.clone(),
        data: data.clone(),
        expires: None,
        created: None,
        revision: None,
        meta: Default::default(),
        id_issued: None,
        reissue: false,
    };
    let mut changes = crate::SessionChanges::default();
    changes
        .values
        .insert("secret".into(), crate::ValueChange::Set(json!("hunter2")));
    changes
        .flash_set
        .insert("notice".into(), json!("hunter2 flash"));
    let write = crate::SessionWrite {
        id: &id,
        mode: crate::WriteMode::Replace { old: &id },
        record: &stored,
        changes: &changes,
    };
    let moving = crate::SessionWrite {
        id: &id,
        mode: crate::WriteMode::Move { from: &id },
        record: &stored,
        changes: &changes,
    };
    let value = format!("{}|hunter2", id.as_str());
    let session = Session::detached().expect("session");
    session.set("secret", "hunter2").expect("set");
    let shown = [
        format!("{id:?}"),
        format!("{data:?}"),
        format!("{stored:?}"),
        format!("{found:?}"),
        format!("{write:?}"),
        format!("{moving:?}"),
        format!("{changes:?}"),
        format!("{:?}", crate::WriteOutcome::Written(value.clone())),
        format!(
            "{:?}",
            CookieUpdate::Set {
                value,
                expires: None,
                same_value: false,
                persistent: true,
            }
        ),
        format!("{session:?}"),
    ];
    for shown in shown {
        assert!(!shown.contains("hunter2"), "data in {shown}");
        assert!(!shown.contains(id.as_str()), "the ID in {shown}");
    }
}

/// `needs_commit` agrees with what `commit` then does, in every state.
#[tokio::test]
async fn needs_commit_says_exactly_when_commit_has_work() {
    let storage = Arc::new(CountingStorage::default());
    let (_, first) = request(&storage, None, increment).await;
    let cookie = cookie_of(&first);
    let backend: Arc<dyn SessionBackend> = storage.clone();
    let fresh = |cookie: Option<&str>| Session::new(backend.clone(), cookie.map(str::to_owned));

    let unloaded = fresh(Some(&cookie));
    assert!(!unloaded.needs_commit());
    assert_eq!(unloaded.commit().await.expect("commit"), CookieUpdate::Keep);

    let read_only = fresh(Some(&cookie));
    read_only.load().await.expect("load");
    assert!(!read_only.needs_commit());
    assert_eq!(
        read_only.commit().await.expect("commit"),
        CookieUpdate::Keep
    );

    let changed = fresh(Some(&cookie));
    changed.load().await.expect("load");
    increment(&changed);
    assert!(changed.needs_commit());
    assert!(matches!(
        changed.commit().await.expect("commit"),
        CookieUpdate::Set { .. }
    ));
    assert!(!changed.needs_commit(), "saved: nothing left to do");

    let destroyed = fresh(Some(&cookie));
    destroyed.load().await.expect("load");
    destroyed.destroy().expect("destroy");
    assert!(destroyed.needs_commit());
    assert_eq!(
        destroyed.commit().await.expect("commit"),
        CookieUpdate::Clear
    );

    // No cookie, nothing stored: destroying a fresh session leaves nothing to clear.
    let never_saved = fresh(None);
    never_saved.load().await.expect("load");
    never_saved.destroy().expect("destroy");
    assert!(!never_saved.needs_commit());
    assert_eq!(
        never_saved.commit().await.expect("commit"),
        CookieUpdate::Keep
    );
}

/// Binding another user drops the storage's generation of the old binding; binding
/// the same user again keeps it.
#[tokio::test]
async fn a_new_user_binding_drops_the_old_generation() {
    let session = Session::detached().expect("detached");
    session.load().await.expect("load");
    session.set_user("ada").expect("bind");
    session
        .change_meta(|meta| meta.user_generation = Some(7))
        .expect("as a store would");
    session.set_user("ada").expect("same user");
    assert_eq!(session.meta().expect("meta").user_generation, Some(7));
    session.set_user("bob").expect("another user");
    assert_eq!(session.meta().expect("meta").user_generation, None);
    session.set_user("ada").expect("bind");
    session
        .change_meta(|meta| meta.user_generation = Some(9))
        .expect("store");
    session.clear_user().expect("unbind");
    assert_eq!(session.meta().expect("meta"), crate::SessionMeta::default());
}

/// `commit_last` lends the session's maps to the write only when no other handle could
/// read them meanwhile; with a clone alive, the clone still sees every value.
#[tokio::test]
async fn commit_last_copies_the_data_while_another_handle_can_read_it() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let backend: Arc<dyn SessionBackend> = storage.clone();
    let session = Session::new(backend, Some(cookie_of(&update)));
    session.load().await.expect("load");
    increment(&session);
    let other = session.clone();
    let seen = Arc::new(Mutex::new(None));
    let seen_during = seen.clone();
    storage.during_next_write(move || *seen_during.lock().expect("lock") = Some(count(&other)));
    session.commit_last().await.expect("commit");
    assert_eq!(
        *seen.lock().expect("lock"),
        Some(2),
        "read while the write was in flight"
    );
}

/// The last handle's commit saves as `commit` does.
#[tokio::test]
async fn commit_last_saves_like_commit() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let cookie = cookie_of(&update);
    let backend: Arc<dyn SessionBackend> = storage.clone();
    let session = Session::new(backend.clone(), Some(cookie.clone()));
    session.load().await.expect("load");
    increment(&session);
    let update = session.commit_last().await.expect("commit");
    assert_eq!(cookie_of(&update), cookie, "saved in place");
    let (next, _) = request(&storage, Some(&cookie), |_| {}).await;
    assert_eq!(count(&next), 2);
}

/// Accepts `ok.<value>` (the current secret) and `old.<value>` (one being rotated out),
/// counting its calls.
#[derive(Default)]
struct PrefixVerifier {
    calls: AtomicUsize,
}

impl TokenVerifier for PrefixVerifier {
    fn verify(&self, token: &str) -> Option<crate::VerifiedToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (by_old_secret, value) = match token.split_once('.')? {
            ("ok", value) => (false, value),
            ("old", value) => (true, value),
            _ => return None,
        };
        Some(crate::VerifiedToken {
            value: value.to_owned(),
            by_old_secret,
        })
    }
}

/// A session for `token`, verified by `verifier`, loaded.
async fn verified_session(
    storage: &Arc<CountingStorage>,
    verifier: &Arc<PrefixVerifier>,
    token: &str,
) -> Session {
    let backend: Arc<dyn SessionBackend> = storage.clone();
    let session = Session::with_verifier(
        backend,
        verifier.clone(),
        Arc::default(),
        Some(token.to_owned()),
    );
    session.load().await.expect("load");
    session
}

#[tokio::test]
async fn a_verified_token_loads_its_session_and_an_old_secret_reissues_it() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let id = cookie_of(&update);
    let verifier = Arc::new(PrefixVerifier::default());
    let current = verified_session(&storage, &verifier, &format!("ok.{id}")).await;
    assert_eq!(count(&current), 1);
    assert_eq!(current.commit().await.expect("commit"), CookieUpdate::Keep);
    let rotated = verified_session(&storage, &verifier, &format!("old.{id}")).await;
    assert_eq!(count(&rotated), 1);
    match rotated.commit().await.expect("commit") {
        CookieUpdate::Set {
            value, same_value, ..
        } => assert!(value == id && !same_value, "sent again, to be signed anew"),
        other => panic!("expected the cookie again, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rejected_token_never_reaches_the_storage_and_gives_a_fresh_session() {
    let storage = Arc::new(CountingStorage::default());
    let (_, update) = request(&storage, None, increment).await;
    let id = cookie_of(&update);
    let verifier = Arc::new(PrefixVerifier::default());
    let reads = storage.calls().0;
    // The bare ID, unsigned: a forgery.
    let forged = verified_session(&storage, &verifier, &id).await;
    assert_eq!(
        storage.calls().0,
        reads,
        "no storage read for a forged token"
    );
    assert_eq!(count(&forged), 0);
    assert_ne!(forged.id().expect("id").as_str(), id, "never adopted");
    // The browser holds a cookie, so destroying the fresh session clears it.
    forged.destroy().expect("destroy");
    assert_eq!(forged.commit().await.expect("commit"), CookieUpdate::Clear);
}

#[tokio::test]
async fn a_session_never_loaded_never_verifies_its_token() {
    let storage = Arc::new(CountingStorage::default());
    let verifier = Arc::new(PrefixVerifier::default());
    let backend: Arc<dyn SessionBackend> = storage.clone();
    let session = Session::with_verifier(
        backend,
        verifier.clone(),
        Arc::default(),
        Some("ok.anything".to_owned()),
    );
    assert_eq!(
        session.commit_last().await.expect("commit"),
        CookieUpdate::Keep
    );
    assert_eq!(verifier.calls.load(Ordering::SeqCst), 0);
}
