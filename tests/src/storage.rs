//! Cases of the [`SessionStorage`] contract. Run them with
//! [`storage_conformance!`](crate::storage_conformance).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::json;
use session_core::{SessionData, SessionId, SessionStorage};

fn new_id() -> SessionId {
    SessionId::generate().expect("the OS supplies random bytes")
}

fn data(values: serde_json::Value, flash: serde_json::Value) -> SessionData {
    serde_json::from_value(json!([values, flash])).expect("a valid session record")
}

/// A minute from now: far enough that no test run reaches it.
fn soon() -> Option<SystemTime> {
    Some(SystemTime::now() + Duration::from_secs(60))
}

/// Nothing stored: `read` is `None`, and reading creates nothing.
pub async fn read_of_an_unknown_id_is_none<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id();
    assert_eq!(storage.read(&id).await.expect("read"), None);
    assert_eq!(
        storage.read(&id).await.expect("read"),
        None,
        "a read created a record"
    );
}

/// Values and flash values come back exactly, nested and non-ASCII data included.
pub async fn update_then_read_returns_the_data<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id();
    let written = data(
        json!({"count": 3, "user": {"id": 7, "name": "Zoë ✓ 🍪"}, "tags": ["a", "b"], "ok": true}),
        json!({"notice": "saved"}),
    );
    storage.update(&id, &written, soon()).await.expect("update");
    let read = storage
        .read(&id)
        .await
        .expect("read")
        .expect("record present");
    assert_eq!(read.data, written);
}

/// An update replaces the record: keys removed since are gone.
pub async fn update_replaces_the_whole_record<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id();
    storage
        .update(&id, &data(json!({"a": 1, "b": 2}), json!({"f": 1})), soon())
        .await
        .expect("update");
    let second = data(json!({"b": 3}), json!({}));
    storage.update(&id, &second, soon()).await.expect("update");
    let read = storage
        .read(&id)
        .await
        .expect("read")
        .expect("record present");
    assert_eq!(read.data, second);
}

/// After `delete`, the record is gone.
pub async fn delete_removes_the_record<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id();
    storage
        .update(&id, &data(json!({"a": 1}), json!({})), soon())
        .await
        .expect("update");
    storage.delete(&id).await.expect("delete");
    assert_eq!(storage.read(&id).await.expect("read"), None);
}

/// Deleting what is not there succeeds (logout twice, or after expiry).
pub async fn delete_of_an_unknown_id_succeeds<S: SessionStorage>(storage: &Arc<S>) {
    storage
        .delete(&new_id())
        .await
        .expect("delete of an unknown id");
}

/// A record whose deadline has passed is never returned, even if the backend's own
/// expiry has not removed it yet.
pub async fn expired_records_are_not_returned<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id();
    let past = SystemTime::now() - Duration::from_secs(5);
    // A backend may refuse to store something already expired, or store and hide it;
    // what it must not do is return it.
    let _ = storage
        .update(&id, &data(json!({"a": 1}), json!({})), Some(past))
        .await;
    assert_eq!(storage.read(&id).await.expect("read"), None);
}

/// A future deadline is kept (to the second) and the record is served until then.
pub async fn future_expiry_is_kept<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id();
    let deadline = SystemTime::now() + Duration::from_secs(3600);
    storage
        .update(&id, &data(json!({"a": 1}), json!({})), Some(deadline))
        .await
        .expect("update");
    let read = storage
        .read(&id)
        .await
        .expect("read")
        .expect("record present");
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
    let id = new_id();
    storage
        .update(&id, &data(json!({"a": 1}), json!({})), None)
        .await
        .expect("update");
    let read = storage
        .read(&id)
        .await
        .expect("read")
        .expect("record present");
    assert_eq!(read.expires, None);
}

/// Two IDs, two records: writing or deleting one leaves the other alone.
pub async fn records_are_independent<S: SessionStorage>(storage: &Arc<S>) {
    let (first, second) = (new_id(), new_id());
    storage
        .update(&first, &data(json!({"who": "first"}), json!({})), soon())
        .await
        .expect("update");
    storage
        .update(&second, &data(json!({"who": "second"}), json!({})), soon())
        .await
        .expect("update");
    storage.delete(&first).await.expect("delete");
    let read = storage
        .read(&second)
        .await
        .expect("read")
        .expect("record present");
    assert_eq!(read.data.values["who"], "second");
}

/// Records far larger than a cookie could hold round-trip intact.
pub async fn large_records_round_trip<S: SessionStorage>(storage: &Arc<S>) {
    let id = new_id();
    let big = "x".repeat(100 * 1024);
    let written = data(json!({"big": big}), json!({}));
    storage.update(&id, &written, soon()).await.expect("update");
    let read = storage
        .read(&id)
        .await
        .expect("read")
        .expect("record present");
    assert_eq!(read.data, written);
}

/// Many tasks writing their own sessions at once all find their own data.
pub async fn concurrent_writers_do_not_interfere<S: SessionStorage>(storage: &Arc<S>) {
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..32u32 {
        let storage = storage.clone();
        tasks.spawn(async move {
            let id = new_id();
            storage
                .update(&id, &data(json!({"n": n}), json!({})), soon())
                .await
                .expect("update");
            let read = storage
                .read(&id)
                .await
                .expect("read")
                .expect("record present");
            assert_eq!(read.data.values["n"], n);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task finished without panicking");
    }
}
