//! Cases of the [`SessionStorage`] contract. Run them with
//! [`storage_conformance!`](crate::storage_conformance).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use session_core::{Error, MoveOutcome, SessionId, SessionStorage, StoredSession};

/// A new ID in the form `storage` mints ([`SessionStorage::rules`]).
fn new_id<S: SessionStorage>(storage: &S) -> SessionId {
    SessionId::generate_in(SessionStorage::rules(storage).ids)
        .expect("the OS supplies random bytes")
}

/// A record with these values and flash values, valid until `expires`.
fn record(
    values: serde_json::Value,
    flash: serde_json::Value,
    expires: Option<SystemTime>,
) -> StoredSession {
    StoredSession {
        data: serde_json::from_value(json!([values, flash])).expect("a valid session record"),
        expires,
        created: Some(SystemTime::now()),
        ..StoredSession::default()
    }
}

/// A minute from now: far enough that no test run reaches it.
fn soon() -> Option<SystemTime> {
    Some(SystemTime::now() + Duration::from_secs(60))
}

/// Creates `record` under `id`, which must be free.
async fn create<S: SessionStorage>(storage: &S, id: &SessionId, record: &StoredSession) {
    assert!(
        storage.create(id, record).await.expect("create"),
        "the id was taken"
    );
}

async fn read<S: SessionStorage>(storage: &S, id: &SessionId) -> Option<StoredSession> {
    storage.read(id).await.expect("read")
}

/// Nothing stored: `read` is `None`, and reading creates nothing.
pub async fn read_of_an_unknown_id_is_none<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    assert_eq!(read(&**storage, &id).await, None);
    assert_eq!(read(&**storage, &id).await, None, "a read created a record");
}

/// Values, flash values and the creation time come back exactly, nested and non-ASCII
/// data included.
pub async fn create_then_read_returns_the_record<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    let written = record(
        json!({"count": 3, "user": {"id": 7, "name": "Zoë ✓ 🍪"}, "tags": ["a", "b"], "ok": true}),
        json!({"notice": "saved"}),
        soon(),
    );
    create(&**storage, &id, &written).await;
    let read = read(&**storage, &id).await.expect("record present");
    assert_eq!(read.data, written.data);
    let (kept, given) = (
        read.created.expect("created kept"),
        written.created.expect("set"),
    );
    let drift = kept.duration_since(given).unwrap_or_else(|e| e.duration());
    assert!(
        drift <= Duration::from_millis(1),
        "creation time drifted by {drift:?}"
    );
}

/// `create` never overwrites: an ID collision leaves the other session untouched.
pub async fn create_never_overwrites<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    let first = record(json!({"owner": "first"}), json!({}), soon());
    create(&**storage, &id, &first).await;
    let second = record(json!({"owner": "second"}), json!({}), soon());
    assert!(!storage.create(&id, &second).await.expect("create"));
    let read = read(&**storage, &id).await.expect("record present");
    assert_eq!(read.data.values["owner"], "first");
}

/// An update replaces the record: keys removed since are gone.
pub async fn update_replaces_the_whole_record<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    create(
        &**storage,
        &id,
        &record(json!({"a": 1, "b": 2}), json!({"f": 1}), soon()),
    )
    .await;
    let second = record(json!({"b": 3}), json!({}), soon());
    assert!(storage.update(&id, &second).await.expect("update"));
    assert_eq!(
        read(&**storage, &id).await.expect("present").data,
        second.data
    );
}

/// `update` never creates: a session deleted meanwhile (a concurrent logout) stays
/// deleted.
pub async fn update_never_creates<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    let late = record(json!({"a": 1}), json!({}), soon());
    assert!(!storage.update(&id, &late).await.expect("update"));
    assert_eq!(read(&**storage, &id).await, None);
    create(&**storage, &id, &late).await;
    storage.delete(&id).await.expect("delete");
    assert!(!storage.update(&id, &late).await.expect("update"));
    assert_eq!(read(&**storage, &id).await, None, "a logout was undone");
}

/// `replace` kills the old ID and creates the new one; onto a taken ID it stores
/// nothing (and the old ID is dead all the same).
pub async fn replace_moves_the_session_and_never_overwrites<S: SessionStorage>(storage: &Arc<S>) {
    let (old, new) = (new_id(&**storage), new_id(&**storage));
    create(
        &**storage,
        &old,
        &record(json!({"a": 1}), json!({}), soon()),
    )
    .await;
    let moved = record(json!({"a": 2}), json!({}), soon());
    assert!(storage.replace(&old, &new, &moved).await.expect("replace"));
    assert_eq!(read(&**storage, &old).await, None, "the old ID still loads");
    assert_eq!(
        read(&**storage, &new).await.expect("present").data,
        moved.data
    );

    let (older, taken) = (new_id(&**storage), new);
    create(
        &**storage,
        &older,
        &record(json!({"a": 3}), json!({}), soon()),
    )
    .await;
    let clash = record(json!({"a": 4}), json!({}), soon());
    assert!(!storage
        .replace(&older, &taken, &clash)
        .await
        .expect("replace"));
    assert_eq!(
        read(&**storage, &taken).await.expect("present").data,
        moved.data
    );
    assert_eq!(read(&**storage, &older).await, None);
}

/// After `delete`, the record is gone, and `delete` said it was there.
pub async fn delete_removes_the_record<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    create(&**storage, &id, &record(json!({"a": 1}), json!({}), soon())).await;
    assert!(storage.delete(&id).await.expect("delete"), "it was there");
    assert_eq!(read(&**storage, &id).await, None);
    assert!(!storage.delete(&id).await.expect("delete"), "already gone");
}

/// Deleting what is not there succeeds (logout twice, or after expiry), saying so.
pub async fn delete_of_an_unknown_id_succeeds<S: SessionStorage>(storage: &Arc<S>) {
    let existed = storage
        .delete(&new_id(&**storage))
        .await
        .expect("delete of an unknown id");
    assert!(!existed, "an unknown id was reported deleted");
}

/// `move_record` moves a live record; from an ID whose record is gone (a logout landed
/// first) it stores nothing under the new ID; onto a taken ID it stores nothing there,
/// and the old record is deleted all the same.
pub async fn move_record_moves_only_a_live_record<S: SessionStorage>(storage: &Arc<S>) {
    let (from, to) = (new_id(&**storage), new_id(&**storage));
    create(
        &**storage,
        &from,
        &record(json!({"a": 1}), json!({}), soon()),
    )
    .await;
    let moved = record(json!({"a": 2}), json!({}), soon());
    assert_eq!(
        storage.move_record(&from, &to, &moved).await.expect("move"),
        MoveOutcome::Moved
    );
    assert_eq!(
        read(&**storage, &from).await,
        None,
        "the old ID still loads"
    );
    assert_eq!(read(&**storage, &to).await.expect("moved").data, moved.data);

    let (logged_out, next) = (new_id(&**storage), new_id(&**storage));
    create(
        &**storage,
        &logged_out,
        &record(json!({"a": 3}), json!({}), soon()),
    )
    .await;
    storage.delete(&logged_out).await.expect("logout");
    assert_eq!(
        storage
            .move_record(&logged_out, &next, &moved)
            .await
            .expect("move"),
        MoveOutcome::Gone
    );
    assert_eq!(
        read(&**storage, &next).await,
        None,
        "a logged-out session came back under a new ID"
    );

    let expired = new_id(&**storage);
    let past = SystemTime::now() - Duration::from_secs(1);
    storage
        .create(&expired, &record(json!({"a": 4}), json!({}), Some(past)))
        .await
        .expect("create");
    assert_eq!(
        storage
            .move_record(&expired, &next, &moved)
            .await
            .expect("move"),
        MoveOutcome::Gone,
        "an expired session moved"
    );
    assert_eq!(read(&**storage, &next).await, None);

    let older = new_id(&**storage);
    create(
        &**storage,
        &older,
        &record(json!({"a": 5}), json!({}), soon()),
    )
    .await;
    let clash = record(json!({"a": 6}), json!({}), soon());
    assert_eq!(
        storage
            .move_record(&older, &to, &clash)
            .await
            .expect("move"),
        MoveOutcome::IdTaken
    );
    assert_eq!(read(&**storage, &to).await.expect("kept").data, moved.data);
    assert_eq!(
        read(&**storage, &older).await,
        None,
        "the old ID still loads"
    );
}

/// A record whose deadline has passed is never returned, even if the backend's own
/// expiry has not removed it yet, and does not block a create.
pub async fn expired_records_are_not_returned<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    let past = SystemTime::now() - Duration::from_secs(5);
    // A backend may refuse to store something already expired, or store and hide it;
    // what it must not do is return it.
    let _ = storage
        .create(&id, &record(json!({"a": 1}), json!({}), Some(past)))
        .await;
    assert_eq!(read(&**storage, &id).await, None);
    assert!(!storage
        .update(&id, &record(json!({"a": 2}), json!({}), soon()))
        .await
        .expect("update"));
    create(&**storage, &id, &record(json!({"a": 3}), json!({}), soon())).await;
}

/// A future deadline is kept (to the second) and the record is served until then.
pub async fn future_expiry_is_kept<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    let deadline = SystemTime::now() + Duration::from_secs(3600);
    create(
        &**storage,
        &id,
        &record(json!({"a": 1}), json!({}), Some(deadline)),
    )
    .await;
    let read = read(&**storage, &id).await.expect("record present");
    let kept = read.expires.expect("the deadline is returned");
    let drift = kept
        .duration_since(deadline)
        .unwrap_or_else(|early| early.duration());
    assert!(
        drift <= Duration::from_secs(1),
        "deadline drifted by {drift:?}"
    );
}

/// Without a deadline, the record stays and says so.
pub async fn records_without_expiry_persist<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    create(&**storage, &id, &record(json!({"a": 1}), json!({}), None)).await;
    let read = read(&**storage, &id).await.expect("record present");
    assert_eq!(read.expires, None);
}

/// Two IDs, two records: writing or deleting one leaves the other alone.
pub async fn records_are_independent<S: SessionStorage>(storage: &Arc<S>) {
    let (first, second) = (new_id(&**storage), new_id(&**storage));
    create(
        &**storage,
        &first,
        &record(json!({"who": "first"}), json!({}), soon()),
    )
    .await;
    create(
        &**storage,
        &second,
        &record(json!({"who": "second"}), json!({}), soon()),
    )
    .await;
    storage.delete(&first).await.expect("delete");
    let read = read(&**storage, &second).await.expect("record present");
    assert_eq!(read.data.values["who"], "second");
}

/// Records far larger than a cookie could hold round-trip intact.
pub async fn large_records_round_trip<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    let big = "x".repeat(100 * 1024);
    let written = record(json!({"big": big}), json!({}), soon());
    create(&**storage, &id, &written).await;
    assert_eq!(
        read(&**storage, &id).await.expect("present").data,
        written.data
    );
}

/// An update the storage cannot take (2 MiB: over memcached's default item size) is
/// either stored whole or refused with [`Error::RecordTooLarge`], and then the previous
/// record is still there: a session that grew too big must not log its user out.
pub async fn an_update_too_large_keeps_the_previous_record<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id(&**storage);
    let small = record(json!({"user": "ada"}), json!({}), soon());
    create(&**storage, &id, &small).await;
    let huge = record(json!({"big": "x".repeat(2 << 20)}), json!({}), soon());
    let kept = match storage.update(&id, &huge).await {
        Ok(stored) => {
            assert!(stored, "the record vanished");
            huge
        }
        Err(error @ Error::RecordTooLarge { .. }) => {
            let message = error.to_string();
            assert!(message.contains("previous one is kept"), "{message}");
            small
        }
        Err(other) => panic!("an oversized update must be stored or refused as too large: {other}"),
    };
    assert_eq!(
        read(&**storage, &id).await.expect("still there").data,
        kept.data,
        "after an oversized update"
    );
}

/// Many tasks writing their own sessions at once all find their own data. The tasks
/// start together (a barrier) on the multi-thread runtime the suite runs on, so their
/// operations really overlap.
pub async fn concurrent_writers_do_not_interfere<S: SessionStorage>(storage: &Arc<S>) {
    const TASKS: usize = 32;
    let start = Arc::new(tokio::sync::Barrier::new(TASKS));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..TASKS {
        let (storage, start) = (storage.clone(), start.clone());
        tasks.spawn(async move {
            let id = new_id(&*storage);
            let written = record(json!({"n": n}), json!({}), soon());
            start.wait().await;
            create(&*storage, &id, &written).await;
            let read = read(&*storage, &id).await.expect("record present");
            assert_eq!(read.data.values["n"], n);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task finished without panicking");
    }
}

/// Tasks racing to create the same ID: exactly one wins, round after round. They start
/// together (a barrier) on the multi-thread runtime, so a check-then-insert store
/// loses some round.
pub async fn concurrent_creates_of_one_id_have_one_winner<S: SessionStorage>(storage: &Arc<S>) {
    const TASKS: usize = 8;
    const ROUNDS: usize = 100;
    for round in 0..ROUNDS {
        let id = new_id(&**storage);
        let start = Arc::new(tokio::sync::Barrier::new(TASKS));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..TASKS {
            let (storage, id, start) = (storage.clone(), id.clone(), start.clone());
            tasks.spawn(async move {
                let record = record(json!({"n": n}), json!({}), soon());
                start.wait().await;
                storage.create(&id, &record).await.expect("create")
            });
        }
        let mut winners = 0;
        while let Some(done) = tasks.join_next().await {
            winners += usize::from(done.expect("task finished"));
        }
        assert_eq!(winners, 1, "round {round}");
    }
}
