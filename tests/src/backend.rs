//! Whole-request cases for any [`SessionBackend`]. Run them with
//! [`backend_conformance!`](crate::backend_conformance).
//!
//! Each "request" loads a [`Session`] from the cookie value the previous one returned,
//! lets a closure work on it, and commits it, exactly as the middleware does (minus
//! signing, which the middleware's own tests cover).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use session_core::{CookieUpdate, Session, SessionBackend, SessionId};

use crate::Capabilities;

/// A browser's view: the cookie value it holds, if any.
struct Browser {
    backend: Arc<dyn SessionBackend>,
    cookie: Option<String>,
}

impl Browser {
    fn new(backend: Arc<dyn SessionBackend>) -> Self {
        Self {
            backend,
            cookie: None,
        }
    }

    /// One request: load, run `handle`, commit with `expires`, keep the new cookie.
    async fn request_until(
        &mut self,
        expires: Option<SystemTime>,
        handle: impl FnOnce(&Session),
    ) -> (Session, CookieUpdate) {
        let session = Session::new(self.backend.clone(), self.cookie.clone());
        session.load().await.expect("load");
        handle(&session);
        let update = session.commit(expires).await.expect("commit");
        match &update {
            CookieUpdate::Set(value) => self.cookie = Some(value.clone()),
            CookieUpdate::Clear => self.cookie = None,
            CookieUpdate::Unchanged => {}
        }
        (session, update)
    }

    async fn request(&mut self, handle: impl FnOnce(&Session)) -> (Session, CookieUpdate) {
        self.request_until(None, handle).await
    }
}

fn count(session: &Session) -> u64 {
    session.get::<u64>("count").expect("get").unwrap_or(0)
}

fn increment(session: &Session) {
    session.set("count", count(session) + 1).expect("set");
}

fn id(session: &Session) -> SessionId {
    session.id().expect("loaded session has an id")
}

/// The counter of the seed: 1, 2, 3 under one ID.
pub async fn persists_across_requests(backend: Arc<dyn SessionBackend>, _: Capabilities) {
    let mut browser = Browser::new(backend);
    let (first, _) = browser.request(increment).await;
    for expected in 2..=3 {
        let (session, update) = browser.request(increment).await;
        assert!(matches!(update, CookieUpdate::Set(_)));
        assert_eq!(count(&session), expected);
        assert_eq!(id(&session), id(&first), "the ID is stable");
    }
}

/// Loading and reading a stored session writes nothing and sets no cookie.
pub async fn an_untouched_session_is_not_written(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let mut browser = Browser::new(backend);
    browser.request(increment).await;
    let (session, update) = browser.request(|s| assert_eq!(count(s), 1)).await;
    assert!(!session.is_dirty());
    assert_eq!(update, CookieUpdate::Unchanged);
}

/// A new visitor whose session is never changed gets no cookie.
pub async fn a_fresh_session_without_changes_sets_no_cookie(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let mut browser = Browser::new(backend);
    let (_, update) = browser
        .request(|s| assert!(s.is_empty().expect("len")))
        .await;
    assert_eq!(update, CookieUpdate::Unchanged);
}

/// A flash is invisible in its own request, visible in the next, gone after.
pub async fn flash_is_visible_on_the_next_request_only(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let mut browser = Browser::new(backend);
    browser
        .request(|s| {
            s.flash("notice", "saved").expect("flash");
            assert_eq!(s.get::<String>("notice").expect("get"), None);
        })
        .await;
    let (_, update) = browser
        .request(|s| {
            assert_eq!(
                s.get::<String>("notice").expect("get").as_deref(),
                Some("saved")
            );
            assert!(s.is_dirty(), "loading a flash makes the session dirty");
        })
        .await;
    assert!(
        matches!(update, CookieUpdate::Set(_)),
        "the save clears the flash"
    );
    browser
        .request(|s| assert_eq!(s.get::<String>("notice").expect("get"), None))
        .await;
}

/// Strings, numbers, booleans, arrays, objects and non-ASCII text survive a round trip.
pub async fn values_of_many_types_round_trip(backend: Arc<dyn SessionBackend>, _: Capabilities) {
    let mut browser = Browser::new(backend);
    let value =
        json!({"n": 1.5, "s": "Zoë ✓ 🍪", "b": false, "a": [1, "two", null], "o": {"k": "v"}});
    browser.request(|s| s.set("v", &value).expect("set")).await;
    browser
        .request(|s| assert_eq!(s.get_value("v").expect("get"), Some(value.clone())))
        .await;
}

/// A cookie value the backend never issued gives a fresh session with a new ID.
pub async fn foreign_cookie_values_are_not_adopted(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let unknown = SessionId::generate().expect("id");
    for presented in [unknown.as_str(), "garbage", "{\"i\":1}", ""] {
        let mut browser = Browser::new(backend.clone());
        browser.cookie = Some(presented.to_owned());
        let (session, update) = browser.request(increment).await;
        assert_eq!(count(&session), 1, "{presented:?} loaded data");
        assert_ne!(id(&session).as_str(), presented);
        assert!(matches!(update, CookieUpdate::Set(value) if value != presented));
    }
}

/// `regenerate_id` keeps the data under a new ID; the old ID is dead where the backend
/// can revoke.
pub async fn regenerate_keeps_the_data_under_a_new_id(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    let mut browser = Browser::new(backend.clone());
    let (before, _) = browser.request(increment).await;
    let old_cookie = browser.cookie.clone();
    let (after, _) = browser
        .request(|s| s.regenerate_id().expect("regenerate"))
        .await;
    assert_ne!(id(&after), id(&before));
    let (next, _) = browser.request(|_| {}).await;
    assert_eq!(count(&next), 1, "data kept");
    assert_eq!(id(&next), id(&after));

    let mut replay = Browser::new(backend);
    replay.cookie = old_cookie;
    let (old, _) = replay.request(|_| {}).await;
    if capabilities.revocable {
        assert_eq!(count(&old), 0, "the old ID still loads the session");
        assert_ne!(id(&old), id(&before));
    }
}

/// `destroy` clears the cookie; the next request starts fresh, and where the backend
/// can revoke, a replayed old cookie does too.
pub async fn destroy_clears_the_cookie_and_the_data(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    let mut browser = Browser::new(backend.clone());
    let (before, _) = browser.request(increment).await;
    let old_cookie = browser.cookie.clone();
    let (_, update) = browser.request(|s| s.destroy().expect("destroy")).await;
    assert_eq!(update, CookieUpdate::Clear);
    let (after, _) = browser.request(increment).await;
    assert_eq!(count(&after), 1);
    assert_ne!(id(&after), id(&before));

    let mut replay = Browser::new(backend);
    replay.cookie = old_cookie;
    let (old, _) = replay.request(|_| {}).await;
    if capabilities.revocable {
        assert_eq!(count(&old), 0, "a destroyed session was replayed");
    }
}

/// A session saved with a deadline in the past does not load.
pub async fn expired_sessions_are_not_loaded(backend: Arc<dyn SessionBackend>, _: Capabilities) {
    let mut browser = Browser::new(backend);
    let past = SystemTime::now() - Duration::from_secs(5);
    let (before, _) = browser.request_until(Some(past), increment).await;
    let (after, _) = browser.request(|_| {}).await;
    assert_eq!(count(&after), 0);
    assert_ne!(id(&after), id(&before));
}

/// A session saved with a future deadline loads until then.
pub async fn sessions_within_their_lifetime_load(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let mut browser = Browser::new(backend);
    let deadline = SystemTime::now() + Duration::from_secs(60);
    browser.request_until(Some(deadline), increment).await;
    let (after, _) = browser.request(|_| {}).await;
    assert_eq!(count(&after), 1);
}
