//! The stores' own read-side expiry filter. The stores never write a record past its
//! deadline, so no other test makes them hold one; here one is written straight to the
//! server, past its stamped deadline but with a long key TTL (a clock that moved, a
//! record written by another process), and the store must not return it.

use std::time::{Duration, SystemTime};

use async_memcached::AsciiProtocol as _;
use serde_json::json;
use session_core::{SessionId, SessionStorage, StoredSession};
use session_memcache_store::MemcacheStore;
use session_redis_store::RedisStore;
use session_tests::servers::{memcache_servers, redis_url, unique_prefix};

/// A live record's JSON and an expired one's, both otherwise valid.
fn records() -> (String, String) {
    let record = |expires| {
        let mut record = StoredSession {
            expires: Some(expires),
            ..StoredSession::default()
        };
        record.data.values.insert("user".into(), json!("ada"));
        record.to_json().expect("serializes")
    };
    let now = SystemTime::now();
    (
        record(now + Duration::from_secs(3600)),
        record(now - Duration::from_secs(1)),
    )
}

#[tokio::test]
async fn redis_never_returns_a_record_past_its_deadline() {
    let store = RedisStore::builder()
        .url(redis_url())
        .key_prefix(unique_prefix("expired-read"))
        .build()
        .expect("valid");
    let mut conn = redis::Client::open(redis_url())
        .expect("valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let (live, expired) = records();
    let (live_id, expired_id) = (new_id(), new_id());
    for (id, json) in [(&live_id, &live), (&expired_id, &expired)] {
        let () = redis::cmd("SET")
            .arg(store.key(id))
            .arg(json)
            .arg("EX")
            .arg(3600)
            .query_async(&mut conn)
            .await
            .expect("set");
    }
    // A positive control: the same write of a live record is read back.
    assert!(store.read(&live_id).await.expect("read").is_some());
    assert_eq!(store.read(&expired_id).await.expect("read"), None);
}

#[tokio::test]
async fn memcached_never_returns_a_record_past_its_deadline() {
    let servers = memcache_servers();
    let store = MemcacheStore::builder()
        .servers(servers.iter().cloned())
        .key_prefix(unique_prefix("expired-read"))
        .build()
        .expect("valid");
    let (live, expired) = records();
    let (live_id, expired_id) = (new_id(), new_id());
    for (id, json) in [(&live_id, &live), (&expired_id, &expired)] {
        let mut conn = async_memcached::Client::new(format!("tcp://{}", store.server_for(id)))
            .await
            .expect("memcached answers");
        conn.set(store.key(id), json.as_str(), Some(3600), None)
            .await
            .expect("set");
    }
    assert!(store.read(&live_id).await.expect("read").is_some());
    assert_eq!(store.read(&expired_id).await.expect("read"), None);
}

fn new_id() -> SessionId {
    SessionId::generate().expect("the OS supplies random bytes")
}
