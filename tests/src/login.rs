//! Whole-request cases for what a login does beyond the data: "remember me", a
//! lifetime of its own, a user's sessions, and ID renewal on a timer. Run them with
//! [`backend_conformance!`](crate::backend_conformance); [`Capabilities::users`] and
//! [`Capabilities::renewal_grace`] say what a storage cannot do, and the cases then
//! check that it says so.

use std::sync::Arc;
use std::time::Duration;

use session_core::{CookieUpdate, Error, ManualClock, Session, SessionBackend, SessionPolicy};

use crate::backend::Browser;
use crate::Capabilities;

fn persistent(update: &CookieUpdate) -> Option<bool> {
    match update {
        CookieUpdate::Set { persistent, .. } => Some(*persistent),
        _ => None,
    }
}

/// A login as `user`: bound, labelled, new ID.
fn log_in(user: &'static str, label: &'static str) -> impl FnOnce(&Session) {
    move |session| {
        session.set("userId", user).expect("set");
        session.set_user(user).expect("bind");
        session.set_label(label).expect("label");
        session.regenerate_id().expect("regenerate");
    }
}

/// "Remember me" unticked gives a browser-session cookie, on every later write and
/// after a regeneration; ticked, a persistent one. Without a choice, the layer's
/// default.
pub async fn the_persistence_choice_is_kept_across_requests_and_regeneration(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let policy = SessionPolicy {
        idle_timeout: Some(Duration::from_secs(600)),
        ..SessionPolicy::default()
    };
    let mut browser = Browser::with_policy(backend, policy);
    let (_, first) = browser.request(|s| s.set("a", 1).expect("set")).await;
    assert_eq!(persistent(&first), Some(true), "the layer's default");
    let (_, login) = browser
        .request(|s| {
            s.set_persistent(false).expect("choose");
            s.regenerate_id().expect("regenerate");
        })
        .await;
    assert_eq!(persistent(&login), Some(false));
    let (_, later) = browser.request(|s| s.set("b", 2).expect("set")).await;
    assert_eq!(persistent(&later), Some(false), "kept by a later write");
    let (again, regenerated) = browser
        .request(|s| s.regenerate_id().expect("regenerate"))
        .await;
    assert_eq!(
        persistent(&regenerated),
        Some(false),
        "kept across regeneration"
    );
    assert_eq!(again.meta().expect("meta").persistent, Some(false));
    let (_, remembered) = browser
        .request(|s| s.set_persistent(true).expect("choose"))
        .await;
    assert_eq!(persistent(&remembered), Some(true));
}

/// A session with a lifetime of its own outlives the idle timeout, within it.
pub async fn a_lifetime_of_its_own_replaces_the_idle_timeout(
    backend: Arc<dyn SessionBackend>,
    _: Capabilities,
) {
    let time = ManualClock::starting_now();
    let policy = SessionPolicy {
        idle_timeout: Some(Duration::from_secs(60)),
        clock: time.clock(),
        ..SessionPolicy::default()
    };
    let mut remembered = Browser::with_policy(backend.clone(), policy.clone());
    let mut forgotten = Browser::with_policy(backend, policy);
    remembered
        .request(|s| {
            s.set("a", 1).expect("set");
            s.set_lifetime(Some(Duration::from_secs(3600)))
                .expect("lifetime");
        })
        .await;
    forgotten.request(|s| s.set("a", 1).expect("set")).await;
    time.advance(Duration::from_secs(120));
    let (kept, _) = remembered.request(|_| {}).await;
    assert_eq!(
        kept.get::<u8>("a").expect("get"),
        Some(1),
        "its own lifetime"
    );
    let (lost, _) = forgotten.request(|_| {}).await;
    assert_eq!(lost.get::<u8>("a").expect("get"), None, "the idle timeout");
}

/// Two devices of one user and one of another: each lists its user's sessions, its
/// own marked; "log out other sessions" ends the other device only; "log out
/// everywhere" ends them all. Where unsupported, the error says so.
pub async fn a_users_sessions_are_listed_and_revoked(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    let mut laptop = Browser::new(backend.clone());
    let mut phone = Browser::new(backend.clone());
    let mut other = Browser::new(backend);
    let (laptop_session, _) = laptop.request(log_in("ada", "laptop")).await;
    phone.request(log_in("ada", "phone")).await;
    other.request(log_in("bob", "desk")).await;
    if !capabilities.users {
        let refused = laptop_session
            .user_sessions()
            .await
            .expect_err("unsupported");
        assert!(matches!(refused, Error::Unsupported { .. }), "{refused}");
        let refused = laptop_session
            .revoke_other_sessions()
            .await
            .expect_err("unsupported");
        assert!(matches!(refused, Error::Unsupported { .. }), "{refused}");
        return;
    }
    let opened = laptop.open().await;
    let listed = opened.user_sessions().await.expect("list");
    let mut labels: Vec<_> = listed.iter().filter_map(|s| s.label.clone()).collect();
    labels.sort();
    assert_eq!(labels, ["laptop", "phone"], "only ada's sessions");
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    let current = listed.iter().find(|s| s.current).expect("current");
    assert_eq!(current.label.as_deref(), Some("laptop"));
    assert!(listed
        .iter()
        .all(|s| s.created.is_some() && s.last_used.is_some()));
    let id = opened.id().expect("id");
    assert!(
        listed.iter().all(|s| !s.handle.contains(id.as_str())),
        "a handle never shows the ID"
    );

    assert_eq!(opened.revoke_other_sessions().await.expect("revoke"), 1);
    let (phone_after, _) = phone.request(|_| {}).await;
    assert_eq!(
        phone_after.get::<String>("userId").expect("get"),
        None,
        "phone logged out"
    );
    let (laptop_after, _) = laptop.request(|_| {}).await;
    assert_eq!(
        laptop_after
            .get::<String>("userId")
            .expect("get")
            .as_deref(),
        Some("ada")
    );
    let (bob, _) = other.request(|_| {}).await;
    assert_eq!(
        bob.get::<String>("userId").expect("get").as_deref(),
        Some("bob"),
        "bob untouched"
    );

    // One device by its handle, then everywhere.
    let (phone_again, _) = phone.request(log_in("ada", "phone")).await;
    let opened = laptop.open().await;
    let phone_handle = opened
        .user_sessions()
        .await
        .expect("list")
        .into_iter()
        .find(|s| s.label.as_deref() == Some("phone"))
        .expect("listed")
        .handle;
    assert!(opened
        .revoke_user_session(&phone_handle)
        .await
        .expect("revoke"));
    assert!(!opened
        .revoke_user_session(&phone_handle)
        .await
        .expect("again"));
    let (gone, _) = phone.request(|_| {}).await;
    assert_eq!(gone.get::<String>("userId").expect("get"), None);
    drop(phone_again);

    let everywhere = laptop.open().await;
    assert!(everywhere.revoke_all_sessions().await.expect("revoke") >= 1);
    assert_eq!(laptop.close(&everywhere).await, CookieUpdate::Clear);
    let fresh = laptop.replaying(None).open().await;
    fresh.set_user("ada").expect("bind");
    assert!(fresh.user_sessions().await.expect("list").is_empty());
}

/// A session rebound to another user, or destroyed, is no longer listed for the first.
pub async fn a_stale_binding_is_never_listed(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.users {
        return;
    }
    let mut rebound = Browser::new(backend.clone());
    let mut ended = Browser::new(backend.clone());
    let mut asking = Browser::new(backend);
    rebound.request(log_in("cyd", "rebound")).await;
    ended.request(log_in("cyd", "ended")).await;
    asking.request(log_in("cyd", "asking")).await;
    rebound
        .request(|s| s.set_user("dan").expect("rebind"))
        .await;
    ended.request(|s| s.destroy().expect("destroy")).await;
    let listed = asking.open().await.user_sessions().await.expect("list");
    let labels: Vec<_> = listed.iter().filter_map(|s| s.label.clone()).collect();
    assert_eq!(labels, ["asking"]);
}

fn renewing(time: &ManualClock) -> SessionPolicy {
    SessionPolicy {
        id_renewal: Some(Duration::from_secs(60)),
        renewal_grace: Duration::from_millis(400),
        clock: time.clock(),
        ..SessionPolicy::default()
    }
}

/// After the interval the next request renews the ID and keeps the data. A replay
/// of the old ID within the grace period serves the renewed session (and hands the
/// new ID back); after it, the old ID is dead. Where there is no grace, it dies at
/// once; cookie storage cannot kill it at all.
pub async fn renewal_moves_the_session_and_the_old_id_serves_it_for_the_grace_only(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.stable_ids {
        return; // no ID kept, nothing to renew
    }
    let time = ManualClock::starting_now();
    let mut browser = Browser::with_policy(backend, renewing(&time));
    let (first, _) = browser.request(|s| s.set("count", 1).expect("set")).await;
    let old_cookie = browser.cookie.clone();
    let (same, _) = browser.request(|_| {}).await;
    assert_eq!(
        same.id().expect("id"),
        first.id().expect("id"),
        "not due yet"
    );
    time.advance(Duration::from_secs(61));
    let (renewed, update) = browser.request(|_| {}).await;
    assert_ne!(
        renewed.id().expect("id"),
        first.id().expect("id"),
        "renewed"
    );
    assert!(
        matches!(update, CookieUpdate::Set { .. }),
        "the new ID is sent"
    );
    assert_eq!(renewed.get::<u8>("count").expect("get"), Some(1));
    let (not_again, _) = browser.request(|_| {}).await;
    assert_eq!(
        not_again.id().expect("id"),
        renewed.id().expect("id"),
        "timer restarted"
    );

    let mut replay = browser.replaying(old_cookie.clone());
    let (during, answer) = replay.request(|_| {}).await;
    if capabilities.renewal_grace {
        assert_eq!(during.get::<u8>("count").expect("get"), Some(1), "grace");
        assert_eq!(during.id().expect("id"), renewed.id().expect("id"));
        assert_eq!(replay.cookie, browser.cookie, "the new ID handed back");
        assert!(matches!(answer, CookieUpdate::Set { .. }));
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    let (after, _) = browser.replaying(old_cookie).request(|_| {}).await;
    if capabilities.revocable {
        assert_eq!(
            after.get::<u8>("count").expect("get"),
            None,
            "the old ID is dead"
        );
    }
    let (current, _) = browser.request(|_| {}).await;
    assert_eq!(
        current.get::<u8>("count").expect("get"),
        Some(1),
        "the session lives on"
    );
}

/// The race renewal must survive: a request loads the session, a parallel one renews
/// its ID, then the first saves. Its write lands in the renewed session (nothing is
/// lost, nobody is logged out) and its answer carries the new ID.
pub async fn a_save_racing_a_renewal_lands_in_the_renewed_session(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.renewal_grace {
        return;
    }
    let time = ManualClock::starting_now();
    let mut browser = Browser::with_policy(backend, renewing(&time));
    browser.request(|s| s.set("a", 1).expect("set")).await;
    let mut slow = browser.replaying(browser.cookie.clone());
    let working = slow.open().await;
    time.advance(Duration::from_secs(61));
    let (renewed, _) = browser.request(|s| s.set("b", 2).expect("set")).await;
    working.set("c", 3).expect("set");
    let update = slow.close(&working).await;
    assert!(
        matches!(
            update,
            CookieUpdate::Set {
                same_value: false,
                ..
            }
        ),
        "the slow request was logged out or kept the old ID: {update:?}"
    );
    assert_eq!(slow.cookie, browser.cookie, "both now carry the renewed ID");
    assert_eq!(working.id().expect("id"), renewed.id().expect("id"));
    let (after, _) = browser.request(|_| {}).await;
    assert_eq!(
        after.id().expect("id"),
        renewed.id().expect("id"),
        "the racing save restarted nothing: the renewed ID keeps its issue time"
    );
    for (key, value) in [("a", 1), ("b", 2), ("c", 3)] {
        assert_eq!(after.get::<u8>(key).expect("get"), Some(value), "{key}");
    }
}

/// A binding made by one request survives a parallel request that only writes a
/// value: login choices are saved only by the request that changed them.
pub async fn a_parallel_write_keeps_a_binding_made_meanwhile(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let mut browser = Browser::new(backend);
    browser.request(|s| s.set("a", 1).expect("set")).await;
    let mut binding = browser.replaying(browser.cookie.clone());
    let mut writing = browser.replaying(browser.cookie.clone());
    let (bind, write) = (binding.open().await, writing.open().await);
    bind.set_user("eve").expect("bind");
    bind.set_label("tablet").expect("label");
    bind.set_persistent(false).expect("choose");
    binding.close(&bind).await;
    write.set("b", 2).expect("set");
    writing.close(&write).await;
    let (after, _) = browser.request(|_| {}).await;
    assert_eq!(after.get::<u8>("b").expect("get"), Some(2));
    let meta = after.meta().expect("meta");
    assert_eq!(meta.user.as_deref(), Some("eve"), "the binding was undone");
    assert_eq!(meta.label.as_deref(), Some("tablet"));
    assert_eq!(meta.persistent, Some(false));
}

/// "Log out other devices" in the very request that logs in (after its
/// `regenerate_id`, before the save): the new session is the one kept.
pub async fn revoking_others_at_login_keeps_the_new_session(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.users {
        return;
    }
    let mut old_device = Browser::new(backend.clone());
    old_device.request(log_in("fay", "old")).await;
    let mut device = Browser::new(backend);
    device.request(|s| s.set("a", 1).expect("set")).await;
    let session = device.open().await;
    log_in("fay", "new")(&session);
    assert_eq!(session.revoke_other_sessions().await.expect("revoke"), 1);
    assert!(matches!(
        device.close(&session).await,
        CookieUpdate::Set { .. }
    ));
    let (after, _) = device.request(|_| {}).await;
    assert_eq!(
        after.user().expect("user").as_deref(),
        Some("fay"),
        "the kept session ended"
    );
    let listed = after.user_sessions().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].current, "the kept session is the current one");
    let (old, _) = old_device.request(|_| {}).await;
    assert_eq!(
        old.user().expect("user"),
        None,
        "the old device stayed logged in"
    );
}

/// Two requests both past the renewal interval (a page's parallel requests): both
/// plan a renewal, one renews, and the other's save lands in the renewed session:
/// nobody is logged out, nothing is lost.
pub async fn parallel_requests_due_for_renewal_keep_the_user_logged_in(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.renewal_grace {
        return;
    }
    let time = ManualClock::starting_now();
    let mut browser = Browser::with_policy(backend, renewing(&time));
    browser.request(|s| s.set("a", 1).expect("set")).await;
    time.advance(Duration::from_secs(61));
    let mut first = browser.replaying(browser.cookie.clone());
    let mut second = browser.replaying(browser.cookie.clone());
    let (one, two) = (first.open().await, second.open().await);
    one.set("b", 2).expect("set");
    two.set("c", 3).expect("set");
    assert!(matches!(first.close(&one).await, CookieUpdate::Set { .. }));
    let update = second.close(&two).await;
    assert!(
        matches!(update, CookieUpdate::Set { .. }),
        "the second request was logged out: {update:?}"
    );
    assert_eq!(second.cookie, first.cookie, "both carry the renewed ID");
    let (after, _) = first.request(|_| {}).await;
    for (key, value) in [("a", 1), ("b", 2), ("c", 3)] {
        assert_eq!(after.get::<u8>(key).expect("get"), Some(value), "{key}");
    }
}

/// A write that lands between a renewing request's load and its save (here a
/// logout-like removal of a key) is not undone by the renewal: the renewal gives way,
/// the renewing request's own changes are merged, and a later request renews.
pub async fn a_write_landing_during_a_renewal_is_kept(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.renewal_grace {
        return;
    }
    let time = ManualClock::starting_now();
    let mut browser = Browser::with_policy(backend, renewing(&time));
    browser
        .request(|s| {
            s.set("userId", 7).expect("set");
            s.set("a", 1).expect("set");
        })
        .await;
    let mut quick = browser.replaying(browser.cookie.clone());
    let early = quick.open().await;
    time.advance(Duration::from_secs(61));
    let mut renewing_request = browser.replaying(browser.cookie.clone());
    let renewing_session = renewing_request.open().await;
    early.remove("userId").expect("remove");
    quick.close(&early).await;
    renewing_session.set("b", 2).expect("set");
    let update = renewing_request.close(&renewing_session).await;
    assert!(matches!(update, CookieUpdate::Set { .. }), "{update:?}");
    let before_renewal = renewing_session.id().expect("id");
    let (after, _) = renewing_request.request(|_| {}).await;
    assert_ne!(
        after.id().expect("id"),
        before_renewal,
        "the renewal that gave way is retried by the next request"
    );
    assert_eq!(
        after.get::<u8>("userId").expect("get"),
        None,
        "the removal was undone"
    );
    assert_eq!(after.get::<u8>("a").expect("get"), Some(1));
    assert_eq!(after.get::<u8>("b").expect("get"), Some(2));
}
