//! The store's own cases; the shared contract runs in the `tests` crate's conformance
//! suite.

use serde_json::json;

use super::*;

fn record(count: u64, expires: Option<SystemTime>) -> StoredSession {
    let mut record = StoredSession {
        expires,
        ..StoredSession::default()
    };
    record.data.values.insert("count".into(), json!(count));
    record
}

fn id() -> SessionId {
    SessionId::generate().expect("os randomness")
}

#[tokio::test]
async fn expired_records_are_never_returned_even_before_a_sweep() {
    let store = MemoryStore::new();
    let (past, future) = (id(), id());
    let now = SystemTime::now();
    store
        .create(&past, &record(1, Some(now - Duration::from_millis(1))))
        .await
        .expect("update");
    store
        .create(&future, &record(2, Some(now + Duration::from_secs(60))))
        .await
        .expect("update");
    assert_eq!(store.len(), 2, "nothing swept yet");
    assert_eq!(store.read(&past).await.expect("read"), None);
    let live = store.read(&future).await.expect("read").expect("live");
    assert_eq!(live.data, record(2, None).data);
}

/// Waits (really: the sweeper is a thread) until `done` holds, for at most 5 s.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done()
}

#[test]
fn the_background_sweeper_removes_expired_records_without_any_runtime() {
    let store = MemoryStore::with_sweep_interval(Duration::from_millis(20));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime without a timer");
    let keep = id();
    runtime.block_on(async {
        let expired = SystemTime::now() - Duration::from_secs(1);
        for _ in 0..3 {
            store
                .create(&id(), &record(1, Some(expired)))
                .await
                .expect("create");
        }
        store.create(&keep, &record(1, None)).await.expect("create");
    });
    assert!(eventually(|| store.len() == 1), "the sweeper did not run");
    assert!(runtime.block_on(store.read(&keep)).expect("read").is_some());
}

#[test]
fn the_sweeper_stops_with_the_store() {
    let store = MemoryStore::with_sweep_interval(Duration::from_secs(3600));
    let thread = store
        .inner
        .sweeper
        .lock()
        .expect("not poisoned")
        .take()
        .expect("a sweeper thread was started");
    assert!(
        !thread.is_finished(),
        "positive control: it runs while the store lives"
    );
    let weak = Arc::downgrade(&store.inner);
    drop(store);
    assert!(weak.upgrade().is_none(), "the sweeper kept the store alive");
    // It sleeps for an hour between sweeps: only the store's drop can end it this soon.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !thread.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        thread.is_finished(),
        "the sweeper thread outlived its store"
    );
    thread.join().expect("the sweeper did not panic");
}

#[tokio::test]
async fn create_never_overwrites_and_update_never_creates() {
    let store = MemoryStore::new();
    let key = id();
    assert!(!store.update(&key, &record(0, None)).await.expect("update"));
    assert!(store.is_empty(), "an update created a record");
    assert!(store.create(&key, &record(1, None)).await.expect("create"));
    assert!(!store.create(&key, &record(2, None)).await.expect("create"));
    assert!(store.update(&key, &record(3, None)).await.expect("update"));
    let stored = store.read(&key).await.expect("read").expect("present");
    assert_eq!(stored.data, record(3, None).data);
    assert!(store.delete(&key).await.expect("delete"));
    assert!(!store.delete(&key).await.expect("delete again"));
    assert!(!store.update(&key, &record(4, None)).await.expect("update"));
    assert!(store.is_empty());
}

#[tokio::test]
async fn an_expired_record_counts_as_absent() {
    let store = MemoryStore::new();
    let key = id();
    let past = SystemTime::now() - Duration::from_secs(1);
    store
        .create(&key, &record(1, Some(past)))
        .await
        .expect("create");
    assert!(!store.update(&key, &record(2, None)).await.expect("update"));
    assert!(
        !store.delete(&key).await.expect("delete"),
        "expired is absent"
    );
    assert!(store.create(&key, &record(3, None)).await.expect("create"));
}

#[tokio::test]
async fn a_create_takes_the_place_of_an_expired_record() {
    let store = MemoryStore::with_sweep_interval(Duration::from_secs(3600));
    let key = id();
    let past = SystemTime::now() - Duration::from_secs(1);
    assert!(store
        .create(&key, &record(1, Some(past)))
        .await
        .expect("create"));
    assert!(!store.is_empty(), "held until swept");
    assert!(store.create(&key, &record(2, None)).await.expect("create"));
    let stored = store
        .read(&key)
        .await
        .expect("read")
        .expect("the new record");
    assert_eq!(stored.data, record(2, None).data);
}

#[tokio::test]
async fn purge_expired_counts_what_it_removed() {
    let store = MemoryStore::with_sweep_interval(Duration::from_secs(3600));
    let past = SystemTime::now() - Duration::from_secs(1);
    for n in 0..3 {
        store
            .create(&id(), &record(n, Some(past)))
            .await
            .expect("create");
    }
    let keep = id();
    store.create(&keep, &record(9, None)).await.expect("create");
    assert_eq!(store.purge_expired(), 3);
    assert_eq!(store.purge_expired(), 0);
    assert_eq!(store.len(), 1);
    assert!(store.read(&keep).await.expect("read").is_some());
}

#[tokio::test]
async fn debug_shows_no_id_and_no_data() {
    let store = MemoryStore::new();
    let key = id();
    let mut secret = record(1, None);
    secret
        .data
        .values
        .insert("password".into(), json!("hunter2"));
    store.create(&key, &secret).await.expect("create");
    let shown = format!("{store:?}");
    assert!(shown.contains("sessions: 1"), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains(key.as_str()),
        "{shown}"
    );
}

#[tokio::test]
async fn reads_never_create_records() {
    let store = MemoryStore::new();
    assert_eq!(store.read(&id()).await.expect("read"), None);
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_record_without_a_deadline_lives_for_the_ttl_and_comes_back_as_written() {
    let store = MemoryStore::builder().ttl(Duration::from_millis(1)).build();
    let key = id();
    store.create(&key, &record(1, None)).await.expect("create");
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(
        store.read(&key).await.expect("read"),
        None,
        "outlived the TTL"
    );
    assert_eq!(store.purge_expired(), 1);

    let defaults = MemoryStore::new();
    defaults
        .create(&key, &record(2, None))
        .await
        .expect("create");
    let read = defaults.read(&key).await.expect("read").expect("present");
    assert!(
        read.revision.is_some(),
        "each write's version, for a renewal"
    );
    assert_eq!(
        StoredSession {
            revision: None,
            ..read
        },
        record(2, None),
        "the TTL is the store's, not the record's"
    );
    let until = defaults.inner.records.get(&key).expect("held").until;
    let two_weeks = until
        .expect("a deadline under the defaults")
        .duration_since(SystemTime::now())
        .expect("in the future");
    assert!(two_weeks <= DEFAULT_TTL && two_weeks > DEFAULT_TTL - Duration::from_secs(60));
}

#[tokio::test]
async fn creates_past_the_cap_succeed_and_the_store_stays_within_it() {
    let store = MemoryStore::builder().max_sessions(100).build();
    for n in 0..1_000 {
        assert!(store.create(&id(), &record(n, None)).await.expect("create"));
        assert!(
            store.len() <= 100,
            "{} records after {n} creates",
            store.len()
        );
    }
    assert_eq!(store.evicted(), 1_000 - store.len() as u64);
}

#[tokio::test]
async fn the_sessions_closest_to_their_deadline_are_evicted_first() {
    let store = MemoryStore::builder().max_sessions(10).build();
    let now = SystemTime::now();
    let hours = |h: u64| Some(now + Duration::from_secs(3600 * h));
    let mut ids = Vec::new();
    for h in 1..=10 {
        let key = id();
        store
            .create(&key, &record(h, hours(h)))
            .await
            .expect("create");
        ids.push(key);
    }
    let forever = id();
    // The eleventh goes past the cap: down to nine, the two soonest deadlines go.
    store
        .create(&forever, &record(0, None))
        .await
        .expect("create");
    assert_eq!(store.len(), 9);
    assert_eq!(store.evicted(), 2);
    for (h, key) in (1..=10).zip(&ids) {
        let present = store.read(key).await.expect("read").is_some();
        assert_eq!(present, h > 2, "the session ending in {h} h");
    }
    assert!(store.read(&forever).await.expect("read").is_some());
}

#[tokio::test]
async fn expired_records_go_before_any_live_one_is_evicted() {
    let store = MemoryStore::builder().max_sessions(10).build();
    let past = Some(SystemTime::now() - Duration::from_secs(1));
    for n in 0..5 {
        store.create(&id(), &record(n, past)).await.expect("create");
    }
    for n in 0..6 {
        store.create(&id(), &record(n, None)).await.expect("create");
    }
    assert_eq!(store.len(), 6, "only the expired ones went");
    assert_eq!(store.evicted(), 0);
}

/// A user's index entry goes with the sweep that removes its expired record, whether
/// or not anyone ever lists the user's sessions.
#[tokio::test]
async fn a_sweep_drops_the_index_entries_of_expired_sessions() {
    let store = MemoryStore::new();
    let bound = |expires| StoredSession {
        meta: session_core::SessionMeta {
            user: Some("ada".into()),
            ..session_core::SessionMeta::default()
        },
        ..record(1, expires)
    };
    let past = SystemTime::now() - Duration::from_millis(1);
    store
        .create(&id(), &bound(Some(past)))
        .await
        .expect("create");
    let live = SystemTime::now() + Duration::from_secs(60);
    store
        .create(&id(), &record(1, Some(live)))
        .await
        .expect("create");
    assert_eq!(store.inner.users.users(), 1);
    assert_eq!(store.purge_expired(), 1);
    assert_eq!(
        store.inner.users.users(),
        0,
        "the entry outlived its session"
    );
}

fn bound_to(user: &str, label: &str) -> StoredSession {
    let mut record = record(1, Some(SystemTime::now() + Duration::from_secs(60)));
    record.meta.user = Some(user.into());
    record.meta.label = Some(label.into());
    record
}

/// A merge keeps what it does not change (the other values, the creation time) and
/// takes the saver's deadline and values.
#[tokio::test]
async fn a_merge_keeps_the_record_and_applies_the_changes() {
    let store = MemoryStore::new();
    let key = id();
    let created = SystemTime::now() - Duration::from_secs(5);
    let first = StoredSession {
        created: Some(created),
        ..record(1, Some(SystemTime::now() + Duration::from_secs(60)))
    };
    store.create(&key, &first).await.expect("create");
    let later = SystemTime::now() + Duration::from_secs(120);
    let mut changes = session_core::SessionChanges::default();
    changes
        .values
        .insert("b".into(), session_core::ValueChange::Set(json!(2)));
    let saving = StoredSession {
        expires: Some(later),
        ..StoredSession::default()
    };
    assert!(store.merge(&key, &saving, &changes).await.expect("merge"));
    let now = store.read(&key).await.expect("read").expect("present");
    assert_eq!(now.data.values["count"], 1, "untouched values stay");
    assert_eq!(now.data.values["b"], 2);
    assert_eq!(now.expires, Some(later));
    assert_eq!(now.created, Some(created));
}

/// A renewal moves a record only if it is still the one its request read: a write in
/// between makes it give way ([`MoveOutcome::Changed`]); otherwise the old ID is left
/// as a successor record that only the old ID opens.
#[tokio::test]
async fn a_renewal_gives_way_to_a_write_since_the_load() {
    let store = MemoryStore::new();
    let (from, to) = (id(), id());
    store.create(&from, &record(1, None)).await.expect("create");
    let loaded = store.read(&from).await.expect("read").expect("present");
    store.update(&from, &record(2, None)).await.expect("update");
    let grace = Duration::from_secs(5);
    assert_eq!(
        store
            .renew(&from, &to, &loaded, grace)
            .await
            .expect("renew"),
        MoveOutcome::Changed
    );
    assert_eq!(store.read(&to).await.expect("read"), None, "nothing moved");
    let kept = store.read(&from).await.expect("read").expect("present");
    assert_eq!(kept.data.values["count"], 2, "the write in between stays");

    assert_eq!(
        store.renew(&from, &to, &kept, grace).await.expect("renew"),
        MoveOutcome::Moved
    );
    let old = store
        .read(&from)
        .await
        .expect("read")
        .expect("a successor record");
    let successor = old.successor.expect("a successor");
    assert_eq!(successor.open(&from), Some(to.clone()));
    assert!(old.data.values.is_empty());
    let renewed = store.read(&to).await.expect("read").expect("present");
    assert_eq!(renewed.data.values["count"], 2);
    // The successor record is not a session: a merge does not write into it.
    assert!(!store
        .merge(
            &from,
            &record(3, None),
            &session_core::SessionChanges::default()
        )
        .await
        .expect("merge"));
}

/// The index lists a user's live sessions only, marks the current one, forgets a
/// deleted one at once, and prunes rebound and ended ones when listing and sweeping.
#[tokio::test]
async fn the_user_index_lists_only_live_sessions_of_the_user() {
    let store = MemoryStore::new();
    let (laptop, phone, desk, old) = (id(), id(), id(), id());
    store
        .create(&laptop, &bound_to("ada", "laptop"))
        .await
        .expect("create");
    store
        .create(&phone, &bound_to("ada", "phone"))
        .await
        .expect("create");
    store
        .create(&desk, &bound_to("bob", "desk"))
        .await
        .expect("create");
    let mut ended = bound_to("ada", "old");
    ended.expires = Some(SystemTime::now() - Duration::from_millis(1));
    store.create(&old, &ended).await.expect("create");

    let listed = store
        .user_sessions("ada", Some(&laptop))
        .await
        .expect("list");
    let mut labels: Vec<_> = listed.iter().filter_map(|s| s.label.clone()).collect();
    labels.sort();
    assert_eq!(labels, ["laptop", "phone"]);
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].label.as_deref(), Some("laptop"));
    assert_eq!(
        store.inner.users.ids_of("ada"),
        2,
        "the ended one was pruned"
    );

    store.delete(&phone).await.expect("delete");
    assert_eq!(store.inner.users.ids_of("ada"), 1, "forgotten at once");

    // Rebound to bob: no longer ada's, pruned by the next sweep.
    store
        .update(&laptop, &bound_to("bob", "laptop"))
        .await
        .expect("update");
    store
        .create(&phone, &bound_to("ada", "phone again"))
        .await
        .expect("create");
    store.purge_expired();
    assert_eq!(
        store.inner.users.ids_of("ada"),
        1,
        "only the live one of ada's"
    );
    let listed = store.user_sessions("ada", None).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label.as_deref(), Some("phone again"));
    assert!(!listed[0].current);
}
