//! Records memcached cannot take: refused before anything is sent, so the previous
//! record stays (memcached itself deletes the item when a set is too large).

use serde_json::json;
use session_core::{Error, SessionId, SessionStorage, StoredSession};
use session_memcache_store::MemcacheStore;
use session_tests::servers::{memcache_servers, unique_prefix, MemcachedServer};

fn record(values: serde_json::Value) -> StoredSession {
    StoredSession {
        data: serde_json::from_value(json!([values, {}])).expect("record"),
        ..StoredSession::default()
    }
}

fn new_id() -> SessionId {
    SessionId::generate().expect("os randomness")
}

/// Over memcached's default item size (1 MiB), against a server with that default.
#[tokio::test]
async fn an_oversized_update_keeps_the_previous_record() {
    let store = MemcacheStore::builder()
        .servers(memcache_servers())
        .key_prefix(unique_prefix("oversized"))
        .build()
        .expect("valid configuration");
    let id = new_id();
    assert!(store
        .create(&id, &record(json!({"n": 1})))
        .await
        .expect("create"));
    let big = record(json!({ "big": "x".repeat(1 << 20) }));
    let error = store.update(&id, &big).await.expect_err("too large");
    assert!(
        matches!(
            error,
            Error::RecordTooLarge {
                backend: "memcached",
                ..
            }
        ),
        "{error}"
    );
    let kept = store.read(&id).await.expect("read");
    assert_eq!(
        kept.map(|kept| kept.data.values["n"].clone()),
        Some(json!(1)),
        "the previous record is gone"
    );
    // A new session that large is refused too, and nothing is stored.
    let other = new_id();
    let error = store.create(&other, &big).await.expect_err("too large");
    assert!(matches!(error, Error::RecordTooLarge { .. }), "{error}");
    assert!(store.read(&other).await.expect("read").is_none());
}

/// A memcached whose items are at most 1 KiB (its smallest `-I`).
fn small_items() -> MemcachedServer {
    MemcachedServer::start_with(&["-I", "1k", "-o", "slab_chunk_max=512"])
}

/// A record of exactly `size` bytes of JSON.
fn record_of(size: usize) -> StoredSession {
    let overhead = record(json!({ "p": "" })).to_json().expect("JSON").len();
    let sized = record(json!({ "p": "x".repeat(size - overhead) }));
    assert_eq!(sized.to_json().expect("JSON").len(), size);
    sized
}

/// With `max_record_size` at the server's `-I`, the store's limit is memcached's to the
/// byte: the largest record it allows is stored, one byte more is refused unsent.
#[tokio::test]
async fn the_limit_matches_memcacheds_to_the_byte() {
    let server = small_items();
    let store = MemcacheStore::builder()
        .servers([server.address()])
        .max_record_size(1024)
        .build()
        .expect("valid configuration");
    let id = new_id();
    // 1024 - 78 (the key) - 59 (memcached's item header).
    let largest = 887;
    assert!(store.create(&id, &record_of(largest)).await.expect("fits"));
    let read = store.read(&id).await.expect("read").expect("stored");
    assert!(
        read.revision.is_some(),
        "memcached returns the item's CAS value"
    );
    assert_eq!(without_revision(read), record_of(largest), "stored whole");
    let error = store
        .update(&id, &record_of(largest + 1))
        .await
        .expect_err("one byte too many");
    assert!(
        matches!(
            error,
            Error::RecordTooLarge {
                size: 888,
                limit: 887,
                ..
            }
        ),
        "{error}"
    );
    let read = store.read(&id).await.expect("read").expect("still stored");
    assert_eq!(
        without_revision(read),
        record_of(largest),
        "the previous record is kept"
    );
}

/// A record read back, for comparing with the one written (which had no CAS value).
fn without_revision(record: StoredSession) -> StoredSession {
    StoredSession {
        revision: None,
        ..record
    }
}

/// `max_record_size` above the server's `-I`: memcached refuses the record itself and
/// has deleted the stored item by then (why the setting must not exceed `-I`), so the
/// answer is a configuration error saying so, not `RecordTooLarge` (which promises the
/// record stayed).
#[tokio::test]
async fn a_server_limit_below_the_setting_is_a_configuration_error() {
    let server = small_items();
    let store = MemcacheStore::builder()
        .servers([server.address()])
        .build()
        .expect("valid configuration");
    let id = new_id();
    assert!(store.create(&id, &record_of(100)).await.expect("fits"));
    let error = store
        .update(&id, &record_of(2000))
        .await
        .expect_err("over the server's limit");
    assert!(matches!(error, Error::Config { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("2000-byte") && message.contains("-I"),
        "{message}"
    );
    assert_eq!(
        store.read(&id).await.expect("read"),
        None,
        "memcached deletes the stored item when it refuses a set as too large (if that changes, update the docs)"
    );
    // The connection stays in step: the next command on it works.
    assert!(store
        .create(&new_id(), &record_of(100))
        .await
        .expect("fits"));
}
