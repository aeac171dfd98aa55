//! Parallel requests on one session, for backends that merge
//! ([`SessionStorage::merge`](session_core::SessionStorage::merge)). Run by
//! [`backend_conformance!`](crate::backend_conformance) where
//! [`Capabilities::merges`](crate::Capabilities::merges) holds.
//!
//! Each case provokes the race instead of hoping for it: every request loads the
//! session before any of them saves, so each saves on top of a record that others
//! changed after it was read. A store that writes whole records fails the key,
//! increment, removal and new-flash cases (checked in `conformance.rs`); the others
//! guard what a merge must keep of the whole-session events and the flash rules.

use std::sync::Arc;

use serde_json::{json, Value};
use session_core::{CookieUpdate, Session, SessionBackend};
use tokio::task::JoinSet;

use crate::Capabilities;

/// How many requests run at once in the crowded cases.
pub const PARALLEL: usize = 50;

/// A new session with `work` done and saved: the cookie value it set.
async fn start(backend: &Arc<dyn SessionBackend>, work: impl FnOnce(&Session)) -> String {
    let session = Session::new(backend.clone(), None);
    session.load().await.expect("load");
    work(&session);
    match session.commit().await.expect("commit") {
        CookieUpdate::Set { value, .. } => value,
        other => panic!("a new session must set its cookie, got {other:?}"),
    }
}

/// A request presenting `cookie`, loaded.
async fn open(backend: &Arc<dyn SessionBackend>, cookie: &str) -> Session {
    let session = Session::new(backend.clone(), Some(cookie.to_owned()));
    session.load().await.expect("load");
    session
}

/// `count` requests on `cookie`, all loaded before any returns.
async fn open_many(backend: &Arc<dyn SessionBackend>, cookie: &str, count: usize) -> Vec<Session> {
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        sessions.push(open(backend, cookie).await);
    }
    sessions
}

/// Saves every session at once; each must succeed.
async fn commit_all(sessions: Vec<Session>) -> Vec<CookieUpdate> {
    let mut saves = JoinSet::new();
    for session in sessions {
        saves.spawn(async move { session.commit().await });
    }
    let mut updates = Vec::new();
    while let Some(saved) = saves.join_next().await {
        updates.push(
            saved
                .expect("the save did not panic")
                .expect("a parallel save succeeds"),
        );
    }
    updates
}

fn value(session: &Session, key: &str) -> Option<Value> {
    session.get_value(key).expect("get")
}

/// 50 requests each set their own key: all 50 keys survive, and so does the key that
/// was there before.
pub async fn parallel_requests_keep_each_others_keys(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| s.set("before", "kept").expect("set")).await;
    let sessions = open_many(&backend, &cookie, PARALLEL).await;
    for (n, session) in sessions.iter().enumerate() {
        session.set(format!("key{n}"), n).expect("set");
    }
    commit_all(sessions).await;
    let after = open(&backend, &cookie).await;
    let missing: Vec<usize> = (0..PARALLEL)
        .filter(|n| value(&after, &format!("key{n}")) != Some(json!(n)))
        .collect();
    assert!(
        missing.is_empty(),
        "lost the writes of requests {missing:?}"
    );
    assert_eq!(value(&after, "before"), Some(json!("kept")));
}

/// 50 parallel `increment`s of one counter count 50.
pub async fn parallel_increments_all_count(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| {
        s.increment("hits", 1).expect("a counter");
    })
    .await;
    let sessions = open_many(&backend, &cookie, PARALLEL).await;
    for session in &sessions {
        assert_eq!(session.increment("hits", 1).expect("a counter"), 2);
    }
    commit_all(sessions).await;
    let after = open(&backend, &cookie).await;
    assert_eq!(value(&after, "hits"), Some(json!(PARALLEL + 1)));
}

/// Two requests set the same key to different objects: it ends as one of the two,
/// whole, never a mix of both.
pub async fn one_key_written_twice_ends_with_one_of_the_values(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| {
        s.set("cart", json!({"items": []})).expect("set")
    })
    .await;
    let writes = [
        json!({"items": ["book"], "by": "tab one"}),
        json!({"items": ["pen", "ink"], "total": 3}),
    ];
    let sessions = open_many(&backend, &cookie, 2).await;
    for (session, cart) in sessions.iter().zip(&writes) {
        session.set("cart", cart).expect("set");
    }
    commit_all(sessions).await;
    let after = value(&open(&backend, &cookie).await, "cart");
    assert!(
        after.as_ref().is_some_and(|cart| writes.contains(cart)),
        "neither write, whole: {after:?}"
    );
}

/// A key one request removes stays removed when a parallel request changes another.
pub async fn a_removed_key_stays_removed(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| s.set("coupon", "SAVE10").expect("set")).await;
    let [remover, writer]: [Session; 2] = open_many(&backend, &cookie, 2)
        .await
        .try_into()
        .expect("two");
    remover.remove("coupon").expect("remove");
    writer.set("theme", "dark").expect("set");
    remover.commit().await.expect("commit");
    writer.commit().await.expect("commit");
    let after = open(&backend, &cookie).await;
    assert_eq!(
        value(&after, "coupon"),
        None,
        "the stale copy brought it back"
    );
    assert_eq!(value(&after, "theme"), Some(json!("dark")));
}

/// A flash consumed by one request is not brought back by a parallel request's save,
/// and that request's own write survives.
pub async fn a_consumed_flash_stays_consumed(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| s.flash("notice", "saved").expect("flash")).await;
    let [reader, writer]: [Session; 2] = open_many(&backend, &cookie, 2)
        .await
        .try_into()
        .expect("two");
    assert_eq!(value(&reader, "notice"), Some(json!("saved")));
    reader.commit().await.expect("commit");
    writer.set("page", 2).expect("set");
    writer.commit().await.expect("commit");
    let after = open(&backend, &cookie).await;
    assert_eq!(value(&after, "notice"), None, "the flash came back");
    assert_eq!(value(&after, "page"), Some(json!(2)));
}

/// A flash set by one request survives a parallel request that consumes the older
/// flash under the same key.
pub async fn a_new_flash_survives_the_consumption_of_an_older_one(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| s.flash("notice", "old").expect("flash")).await;
    let [consumer, flasher]: [Session; 2] = open_many(&backend, &cookie, 2)
        .await
        .try_into()
        .expect("two");
    flasher.flash("notice", "new").expect("flash");
    flasher.commit().await.expect("commit");
    consumer.commit().await.expect("commit");
    let after = open(&backend, &cookie).await;
    assert_eq!(
        value(&after, "notice"),
        Some(json!("new")),
        "the consumption of the old flash removed the new one"
    );
}

/// A logout wins over parallel value changes and increments: their saves find the
/// session gone, clear their cookies, and store nothing.
pub async fn a_parallel_logout_wins(backend: Arc<dyn SessionBackend>, capabilities: Capabilities) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| s.set("user", "ada").expect("set")).await;
    let sessions = open_many(&backend, &cookie, 3).await;
    sessions[0].destroy().expect("destroy");
    sessions[1].set("theme", "dark").expect("set");
    sessions[2].increment("hits", 1).expect("a counter");
    let mut sessions = sessions.into_iter();
    let logout = sessions.next().expect("three");
    assert_eq!(logout.commit().await.expect("logout"), CookieUpdate::Clear);
    for update in commit_all(sessions.collect()).await {
        assert_eq!(update, CookieUpdate::Clear, "a save after the logout");
    }
    let after = open(&backend, &cookie).await;
    assert!(after.is_empty().expect("len"), "the session came back");
}

/// A login (`regenerate_id`) wins over a parallel write to the old ID: the write
/// finds the old record gone and stores nothing, and the old ID stays dead.
pub async fn a_parallel_regeneration_wins(
    backend: Arc<dyn SessionBackend>,
    capabilities: Capabilities,
) {
    if !capabilities.merges {
        return;
    }
    let cookie = start(&backend, |s| s.set("cart", 1).expect("set")).await;
    let [login, writer]: [Session; 2] = open_many(&backend, &cookie, 2)
        .await
        .try_into()
        .expect("two");
    login.set("user", "ada").expect("set");
    login.regenerate_id().expect("regenerate");
    let CookieUpdate::Set { value: moved, .. } = login.commit().await.expect("login") else {
        panic!("a login sets the new cookie");
    };
    writer.set("theme", "dark").expect("set");
    assert_eq!(writer.commit().await.expect("commit"), CookieUpdate::Clear);
    let old = open(&backend, &cookie).await;
    assert!(old.is_empty().expect("len"), "the old ID came back");
    let new = open(&backend, &moved).await;
    assert_eq!(value(&new, "user"), Some(json!("ada")));
    assert_eq!(value(&new, "cart"), Some(json!(1)));
    assert_eq!(value(&new, "theme"), None, "written to the dead ID");
}
