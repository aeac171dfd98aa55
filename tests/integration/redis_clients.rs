//! The Redis store on the application's own clients (a multiplexed connection, a
//! `ConnectionManager`, a deadpool pool, a cluster connection), with hashed keys, and
//! across a Redis restart.

use http::StatusCode;
use redis::AsyncCommands;
use session_core::{SessionId, SessionStorage, StoredSession};
use session_redis_store::RedisStore;
use session_tests::servers::{redis_cluster_urls, redis_url, unique_prefix, RedisServer};

use crate::redis_store::assert_commands_per_request_kind;
use crate::support::{app, send, session_cookie};

async fn multiplexed(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers")
}

async fn multiplexed_store(url: &str, prefix: &str) -> RedisStore {
    RedisStore::builder()
        .multiplexed(multiplexed(url).await)
        .key_prefix(prefix)
        .build()
        .expect("valid")
}

async fn manager_store(url: &str, prefix: &str) -> RedisStore {
    let client = redis::Client::open(url).expect("valid URL");
    let manager = redis::aio::ConnectionManager::new(client)
        .await
        .expect("Redis answers");
    RedisStore::builder()
        .connection_manager(manager)
        .key_prefix(prefix)
        .build()
        .expect("valid")
}

fn deadpool_store(url: &str, prefix: &str) -> RedisStore {
    let pool = deadpool_redis::Config::from_url(url)
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .expect("valid pool");
    RedisStore::builder()
        .deadpool(pool)
        .key_prefix(prefix)
        .build()
        .expect("valid")
}

async fn cluster_connection_store(prefix: &str) -> RedisStore {
    let connection = redis::cluster::ClusterClient::new(redis_cluster_urls())
        .expect("valid URLs")
        .get_async_connection()
        .await
        .expect("the cluster answers");
    RedisStore::builder()
        .cluster_connection(connection)
        .key_prefix(prefix)
        .build()
        .expect("valid")
}

fn hashed_store(prefix: &str) -> RedisStore {
    RedisStore::builder()
        .url(redis_url())
        .key_prefix(prefix)
        .hash_keys(true)
        .build()
        .expect("valid")
}

mod hashed_keys {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(hashed_store(&unique_prefix("hashed")));
    backend_conformance!(
        hashed_store(&unique_prefix("hashed-flows")),
        Capabilities::SERVER_SIDE
    );
}

mod given_multiplexed {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(multiplexed_store(&redis_url(), &unique_prefix("mux")).await);
    backend_conformance!(
        multiplexed_store(&redis_url(), &unique_prefix("mux-flows")).await,
        Capabilities::SERVER_SIDE
    );
}

mod given_connection_manager {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(manager_store(&redis_url(), &unique_prefix("manager")).await);
    backend_conformance!(
        manager_store(&redis_url(), &unique_prefix("manager-flows")).await,
        Capabilities::SERVER_SIDE
    );
}

mod given_deadpool {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(deadpool_store(&redis_url(), &unique_prefix("deadpool")));
    backend_conformance!(
        deadpool_store(&redis_url(), &unique_prefix("deadpool-flows")),
        Capabilities::SERVER_SIDE
    );
}

mod given_cluster_connection {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(cluster_connection_store(&unique_prefix("given-cluster")).await);
    backend_conformance!(
        cluster_connection_store(&unique_prefix("given-cluster-flows")).await,
        Capabilities::SERVER_SIDE
    );
}

/// Whatever the client, a request costs the same commands: none, one read, or one
/// read and one write (counted by a Redis of our own for each).
#[tokio::test]
async fn every_client_sends_the_same_commands() {
    let server = RedisServer::start();
    let url = server.url();
    assert_commands_per_request_kind(&server, multiplexed_store(&url, "mux:").await).await;
    assert_commands_per_request_kind(&server, manager_store(&url, "manager:").await).await;
    assert_commands_per_request_kind(&server, deadpool_store(&url, "pool:")).await;
}

#[test]
fn the_applications_client_carries_its_own_credentials() {
    let pool = deadpool_redis::Config::from_url(redis_url())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .expect("valid pool");
    let error = RedisStore::builder()
        .deadpool(pool)
        .password("for connections the store opens")
        .build()
        .expect_err("credentials would be ignored");
    assert!(
        error.to_string().contains("the application's own client"),
        "{error}"
    );
}

/// With hashed keys, Redis holds no key that contains a session ID, and the store
/// still reads back what it wrote, across an update and a move to a new ID.
#[tokio::test]
async fn hashed_keys_hold_no_raw_id() {
    let prefix = unique_prefix("hashed");
    let store = hashed_store(&prefix);
    let (id, moved) = (
        SessionId::generate().expect("id"),
        SessionId::generate().expect("id"),
    );
    let mut record = StoredSession::default();
    record.data.values.insert("n".into(), 1.into());
    assert!(store.create(&id, &record).await.expect("create"));
    record.data.values.insert("n".into(), 2.into());
    assert!(store.update(&id, &record).await.expect("update"));
    let data = |read: Option<StoredSession>| read.map(|stored| stored.data);
    assert_eq!(
        data(store.read(&id).await.expect("read")),
        Some(record.data.clone())
    );
    assert!(store.replace(&id, &moved, &record).await.expect("replace"));
    assert_eq!(
        data(store.read(&moved).await.expect("read")),
        Some(record.data)
    );
    assert_eq!(
        store.read(&id).await.expect("read"),
        None,
        "the old ID is dead"
    );

    assert_eq!(store.key(&moved), moved.hashed_key(&prefix));
    let mut conn = multiplexed(&redis_url()).await;
    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.expect("keys");
    assert_eq!(keys, [store.key(&moved)]);
    for key in &keys {
        assert!(!key.contains(id.as_str()) && !key.contains(moved.as_str()));
    }
}

/// A master demoted to a replica refuses writes as read-only, a transaction (a login's
/// move to a new ID) as well as a single command: both are named as such, so the
/// connection is dropped and the next dial can find the new master.
#[tokio::test]
async fn writes_refused_by_a_demoted_master_are_named_read_only() {
    let server = RedisServer::start();
    let store = RedisStore::builder()
        .url(server.url())
        .build()
        .expect("valid");
    let (old, id) = (
        SessionId::generate().expect("id"),
        SessionId::generate().expect("id"),
    );
    assert!(store
        .create(&old, &StoredSession::default())
        .await
        .expect("a master"));
    // Demoted: a replica of a master that does not answer is read-only all the same.
    let mut admin = multiplexed(&server.url()).await;
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(1)
        .query_async(&mut admin)
        .await
        .expect("REPLICAOF");
    let create = store
        .create(&id, &StoredSession::default())
        .await
        .expect_err("a replica refuses writes");
    let replace = store
        .replace(&old, &id, &StoredSession::default())
        .await
        .expect_err("a replica refuses the transaction");
    for error in [create, replace] {
        let message = std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(message.contains("read-only replica"), "{error}: {message}");
    }
}

/// A repeatable request (a read, an update) on a connection that served requests
/// before Redis restarted is sent once more on a fresh connection: once Redis answers
/// again, no request fails. (Creates and transactions are not repeated; see
/// `connections.rs`.)
#[tokio::test]
async fn once_redis_is_back_after_a_restart_no_request_fails() {
    let mut server = RedisServer::start();
    let store = RedisStore::builder()
        .url(server.url())
        .connections(2)
        .build()
        .expect("valid");
    let app = app(store);
    let mut cookies = Vec::new();
    for _ in 0..8 {
        let response = send(&app, "/write", None).await;
        cookies.push(session_cookie(&response).expect("a session cookie"));
    }
    // Both connections serve requests, then Redis dies and comes back (AOF: the
    // sessions survive) while no request is in flight.
    for cookie in &cookies {
        assert_eq!(
            send(&app, "/read", Some(cookie)).await.status(),
            StatusCode::OK
        );
    }
    let (mut failed, mut sent) = (0, 0);
    // Reads meet the stale connections after one restart, updates after another.
    for path in ["/read", "/write", "/read"] {
        server.restart();
        for _ in 0..2 {
            // Concurrent, as under load: they all meet the stale connections at once.
            let requests: Vec<_> = cookies
                .iter()
                .map(|cookie| {
                    let (app, cookie) = (app.clone(), cookie.clone());
                    tokio::spawn(async move { send(&app, path, Some(&cookie)).await.status() })
                })
                .collect();
            for request in requests {
                sent += 1;
                failed += usize::from(request.await.expect("request task") != StatusCode::OK);
            }
        }
    }
    assert_eq!(
        (failed, sent),
        (0, 48),
        "requests failed after Redis came back"
    );
}
