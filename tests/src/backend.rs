//! Whole-request cases for any [`SessionBackend`]. Run them with
//! [`backend_conformance!`](crate::backend_conformance).
//!
//! Each "request" loads a [`Session`] from the cookie value the previous one returned,
//! lets a closure work on it, and commits it, exactly as the middleware does (minus
//! signing, which the middleware's own tests cover).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use session_core::{
    CookieUpdate, FlashLifetime, ManualClock, Session, SessionBackend, SessionId, SessionPolicy,
};

use crate::Capabilities;

/// A browser's view: the cookie value it holds, if any.
pub(crate) struct Browser {
    backend: Arc<dyn SessionBackend>,
    policy: Arc<SessionPolicy>,
    pub(crate) cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new(backend: Arc<dyn SessionBackend>) -> Self {
        Self::with_policy(backend, SessionPolicy::default())
    }

    pub(crate) fn with_policy(backend: Arc<dyn SessionBackend>, policy: SessionPolicy) -> Self {
        Self {
            backend,
            policy: Arc::new(policy),
            cookie: None,
        }
    }

    /// Another browser that presents `cookie` to the same backend.
    pub(crate) fn replaying(&self, cookie: Option<String>) -> Self {
        Self {
            backend: self.backend.clone(),
            policy: self.policy.clone(),
            cookie,
        }
    }

    /// A loaded session for the browser's cookie, without committing it.
    pub(crate) async fn open(&self) -> Session {
        let session = Session::with_policy(
            self.backend.clone(),
            self.policy.clone(),
            self.cookie.clone(),
        );
        session.load().await.expect("load");
        session
    }

    /// Commits `session` and keeps the cookie it results in.
    pub(crate) async fn close(&mut self, session: &Session) -> CookieUpdate {
        let update = session.commit().await.expect("commit");
        match &update {
            CookieUpdate::Set { value, .. } => self.cookie = Some(value.clone()),
            CookieUpdate::Clear => self.cookie = None,
            CookieUpdate::Keep => {}
        }
        update
    }

    /// One request: load, run `handle`, commit, keep the new cookie.
    pub(crate) async fn request(
        &mut self,
        handle: impl FnOnce(&Session),
    ) -> (Session, CookieUpdate) {
        let session = self.open().await;
        handle(&session);
        let update = self.close(&session).await;
        (session, update)
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
pub async fn persists_across_requests(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    let mut browser = Browser::new(backend);
    let (first, _) = browser.request(increment).await;
    for expected in 2..=3 {
        let (session, update) = browser.request(increment).await;
        assert!(matches!(update, CookieUpdate::Set { .. }));
        assert_eq!(count(&session), expected);
        if capabilities.stable_ids {
            assert_eq!(id(&session), id(&first), "the ID is stable");
        }
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
    assert_eq!(update, CookieUpdate::Keep);
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
    assert_eq!(update, CookieUpdate::Keep);
}

/// Under Remix's rule a flash is invisible in its own request, visible in the next,
/// gone after; under React Router's (a backend that declares it), it lives until read.
pub async fn flash_lives_by_the_backends_rule(backend: Arc<dyn SessionBackend>, _: Capabilities) {
    if backend.rules().flash == FlashLifetime::UntilRead {
        return flash_lives_until_read(backend).await;
    }
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
        matches!(update, CookieUpdate::Set { .. }),
        "the save clears the flash"
    );
    browser
        .request(|s| assert_eq!(s.get::<String>("notice").expect("get"), None))
        .await;
}

/// React Router's rule, for a backend that declares it: a flash survives requests
/// that do not read it, and the first read removes it for good.
async fn flash_lives_until_read(backend: Arc<dyn SessionBackend>) {
    let mut browser = Browser::new(backend);
    browser
        .request(|s| {
            s.flash("notice", "saved").expect("flash");
            s.flash("unread", "kept").expect("flash");
            assert!(s.has("notice").expect("has"), "readable at once");
        })
        .await;
    let (_, update) = browser
        .request(|s| {
            assert!(s.has("notice").expect("has"));
            assert!(!s.is_dirty(), "an unread flash is no change");
        })
        .await;
    assert!(!matches!(update, CookieUpdate::Clear), "{update:?}");
    browser
        .request(|s| {
            assert_eq!(
                s.get::<String>("notice").expect("get").as_deref(),
                Some("saved")
            );
            assert_eq!(s.get::<String>("notice").expect("get"), None, "read once");
            assert!(s.is_dirty(), "the read is saved");
        })
        .await;
    browser
        .request(|s| {
            assert_eq!(s.get::<String>("notice").expect("get"), None);
            assert_eq!(
                s.get::<String>("unread").expect("get").as_deref(),
                Some("kept")
            );
        })
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
        let mut browser = Browser::new(backend.clone()).replaying(Some(presented.to_owned()));
        let (session, update) = browser.request(increment).await;
        assert_eq!(count(&session), 1, "{presented:?} loaded data");
        assert_ne!(id(&session).as_str(), presented);
        assert!(matches!(update, CookieUpdate::Set { value, .. } if value != presented));
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
    if capabilities.stable_ids {
        assert_eq!(id(&next), id(&after));
    }

    let mut replay = browser.replaying(old_cookie);
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

    let mut replay = browser.replaying(old_cookie);
    let (old, _) = replay.request(|_| {}).await;
    if capabilities.revocable {
        assert_eq!(count(&old), 0, "a destroyed session was replayed");
    }
}

/// A session past its idle timeout does not load, exactly at its deadline; one a
/// moment short of it does. The policy's clock is moved by hand: no sleeping, so a
/// slow machine cannot flip the result either way.
pub async fn expired_sessions_are_not_loaded(backend: Arc<dyn SessionBackend>, _: Capabilities) {
    let time = ManualClock::starting_now();
    let idle = Duration::from_secs(60);
    let policy = SessionPolicy {
        idle_timeout: Some(idle),
        clock: time.clock(),
        ..SessionPolicy::default()
    };
    let mut short_of_it = Browser::with_policy(backend.clone(), policy.clone());
    let mut at_it = Browser::with_policy(backend, policy);
    let (before, _) = at_it.request(increment).await;
    short_of_it.request(increment).await;

    time.advance(idle - Duration::from_millis(1));
    let (alive, _) = short_of_it.request(|_| {}).await;
    assert_eq!(count(&alive), 1, "a session short of its idle deadline");
    time.advance(Duration::from_millis(1));
    let (after, _) = at_it.request(|_| {}).await;
    assert_eq!(count(&after), 0, "a session at its idle deadline loaded");
    assert_ne!(id(&after), id(&before));
}

/// A session past its absolute timeout does not load however active it was: kept busy
/// (well inside its idle timeout) up to a moment short of the end, then refused at it.
pub async fn sessions_past_the_absolute_timeout_are_not_loaded(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let time = ManualClock::starting_now();
    let (idle, absolute) = (Duration::from_secs(60), Duration::from_secs(150));
    let policy = SessionPolicy {
        idle_timeout: Some(idle),
        absolute_timeout: Some(absolute),
        clock: time.clock(),
        ..SessionPolicy::default()
    };
    let mut browser = Browser::with_policy(backend, policy);
    let (before, _) = browser.request(increment).await;
    for _ in 0..3 {
        time.advance(Duration::from_secs(45));
        browser.request(increment).await;
    }
    time.advance(Duration::from_secs(15) - Duration::from_millis(1));
    let (alive, _) = browser.request(|_| {}).await;
    assert_eq!(count(&alive), 4, "short of the absolute deadline");
    time.advance(Duration::from_millis(1));
    let (after, _) = browser.request(|_| {}).await;
    assert_eq!(
        count(&after),
        0,
        "a session at its absolute deadline loaded"
    );
    assert_ne!(id(&after), id(&before));
}

/// A session within its idle and absolute timeouts loads.
pub async fn sessions_within_their_lifetime_load(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let policy = SessionPolicy {
        idle_timeout: Some(Duration::from_secs(60)),
        absolute_timeout: Some(Duration::from_secs(3600)),
        ..SessionPolicy::default()
    };
    let mut browser = Browser::with_policy(backend, policy);
    browser.request(increment).await;
    let (after, _) = browser.request(|_| {}).await;
    assert_eq!(count(&after), 1);
}

/// Using a session after `destroy` in the same request starts a new one under a new
/// ID (so a handler can flash "logged out"); the destroyed session stays gone.
pub async fn destroy_then_reuse_starts_a_new_session(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    let mut browser = Browser::new(backend);
    let (before, _) = browser.request(increment).await;
    let old_cookie = browser.cookie.clone();
    let (after, update) = browser
        .request(|s| {
            s.destroy().expect("destroy");
            s.flash("notice", "logged out")
                .expect("flash after destroy");
        })
        .await;
    assert!(matches!(update, CookieUpdate::Set { .. }));
    assert_ne!(id(&after), id(&before));
    let (next, _) = browser.request(|_| {}).await;
    assert_eq!(
        next.get::<String>("notice").expect("get").as_deref(),
        Some("logged out")
    );
    assert_eq!(count(&next), 0, "the new session starts empty");
    if capabilities.revocable {
        let (old, _) = browser.replaying(old_cookie).request(|_| {}).await;
        assert_eq!(count(&old), 0, "the destroyed session came back");
    }
}

/// The race both logout cases provoke: a slow request opens the session, another
/// request logs it out, then the slow one does `work` and commits, which must find the
/// session gone and clear the cookie (`resurrected` says what went wrong otherwise).
/// Returns the browser, the slow request's session and the ID it tried to save under,
/// for what is checked after.
async fn after_a_racing_logout(
    backend: Arc<dyn SessionBackend>,
    work: impl FnOnce(&Session),
    resurrected: &str,
) -> (Browser, Session, SessionId) {
    let mut browser = Browser::new(backend);
    browser.request(increment).await;
    let mut slow = browser.replaying(browser.cookie.clone());
    let working = slow.open().await;
    let (_, logout) = browser.request(|s| s.destroy().expect("destroy")).await;
    assert_eq!(logout, CookieUpdate::Clear);
    work(&working);
    let saved_under = working.id().expect("id");
    assert_eq!(
        slow.close(&working).await,
        CookieUpdate::Clear,
        "{resurrected}"
    );
    (browser, working, saved_under)
}

/// What a request presenting `id` finds.
async fn load_under(browser: &Browser, id: &SessionId) -> Session {
    let (found, _) = browser
        .replaying(Some(id.as_str().to_owned()))
        .request(|_| {})
        .await;
    found
}

/// Two requests on one session: one logs out while the other is still working. The
/// slower one's save must not bring the session back.
pub async fn a_concurrent_logout_is_never_undone(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.revocable {
        // Cookie storage: each response carries its own copy; nothing to race on.
        return;
    }
    let (browser, _, saved_under) = after_a_racing_logout(
        backend,
        |working| working.set("count", 99).expect("set"),
        "the save resurrected the session",
    )
    .await;
    let after = load_under(&browser, &saved_under).await;
    assert_eq!(count(&after), 0);
}

/// A login (`regenerate_id`) on a session that another request logs out meanwhile:
/// the move must find the old record gone and store nothing under the new ID, and a
/// second commit in the same request must not create it either.
pub async fn a_login_racing_a_logout_is_never_undone(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.revocable {
        return;
    }
    let (browser, logging_in, new_id) = after_a_racing_logout(
        backend,
        |logging_in| {
            logging_in.set("user", "ada").expect("set");
            logging_in.regenerate_id().expect("regenerate");
        },
        "the login resurrected a logged-out session under a new ID",
    )
    .await;
    assert_eq!(
        logging_in.commit().await.expect("second commit"),
        CookieUpdate::Keep,
        "a second commit after the logout wrote again"
    );
    let after = load_under(&browser, &new_id).await;
    assert_eq!(after.get::<String>("user").expect("get"), None);
    assert_eq!(count(&after), 0);
}
