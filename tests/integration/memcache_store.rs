//! Memcached storage against real memcached: the three shared servers started by
//! scripts/test, and dedicated servers for counting, outages and hangs.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_memcached::{AsciiProtocol, Client};
use http::header::SET_COOKIE;
use http::StatusCode;
use serde_json::json;
use session_core::{SessionId, SessionStorage, StoredSession};
use session_memcache_store::MemcacheStore;
use session_middleware::session;
use session_tests::servers::{memcache_servers, unique_prefix, MemcachedServer};

use crate::support::{
    app, app_on, body_text, cookie, one_worker_runtime, send, session_cookie, session_id,
};

fn store_on(servers: &[String], prefix: &str) -> MemcacheStore {
    MemcacheStore::builder()
        .servers(servers.iter().cloned())
        .key_prefix(prefix)
        .build()
        .expect("valid memcached configuration")
}

async fn raw(address: &str) -> Client {
    Client::new(format!("tcp://{address}"))
        .await
        .expect("memcached answers")
}

fn record(values: serde_json::Value, expires: Option<SystemTime>) -> StoredSession {
    StoredSession {
        data: serde_json::from_value(json!([values, {}])).expect("valid record"),
        expires,
        created: None,
        ..StoredSession::default()
    }
}

fn new_id() -> SessionId {
    SessionId::generate().expect("os randomness")
}

mod one_server {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    fn store() -> MemcacheStore {
        store_on(&memcache_servers()[..1], &unique_prefix("one"))
    }

    storage_conformance!(store());
    backend_conformance!(store(), Capabilities::SERVER_SIDE);
}

mod three_servers {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    fn store() -> MemcacheStore {
        store_on(&memcache_servers(), &unique_prefix("three"))
    }

    storage_conformance!(store());
    backend_conformance!(store(), Capabilities::SERVER_SIDE);
}

#[tokio::test]
async fn remix_records_read_and_ours_match_remixs_layout() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/remix-vectors.json")).expect("JSON");
    let record = &vectors["server_side_record"];
    let id = SessionId::parse(record["session_id"].as_str().expect("id")).expect("a UUID id");
    let remix_value = record["memcache_value"].as_str().expect("value");
    // The default prefix is Remix's; this test alone uses the vector's key.
    let store = MemcacheStore::builder()
        .servers(memcache_servers())
        .build()
        .expect("valid");
    let key = store.key(&id);
    assert_eq!(key, record["memcache_key"].as_str().expect("key"));
    let mut conn = raw(store.server_for(&id)).await;

    conn.set(&key, remix_value, None, None).await.expect("set");
    let read = store.read(&id).await.expect("read").expect("present");
    assert_eq!(read.data.values["user"]["name"], "Zoë");
    assert_eq!(read.data.flash["notice"], "saved");

    let unstamped = StoredSession {
        data: read.data.clone(),
        ..StoredSession::default()
    };
    assert!(store.update(&id, &unstamped).await.expect("update"));
    let written = conn.get(&key).await.expect("get").and_then(|v| v.data);
    assert_eq!(written.as_deref(), Some(remix_value.as_bytes()));
    store.delete(&id).await.expect("delete");
}

#[tokio::test]
async fn a_short_lifetime_expires_in_memcached_itself() {
    let store = store_on(&memcache_servers(), &unique_prefix("short"));
    let id = new_id();
    let deadline = SystemTime::now() + Duration::from_secs(2);
    store
        .create(&id, &record(json!({"a": 1}), Some(deadline)))
        .await
        .expect("update");
    let mut conn = raw(store.server_for(&id)).await;
    assert!(conn.get(store.key(&id)).await.expect("get").is_some());
    // memcached counts in whole seconds, and the store sends one second more than the
    // deadline (so that the item outlives it): wait past that second's boundary.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    assert!(
        conn.get(store.key(&id)).await.expect("get").is_none(),
        "memcached kept it"
    );
    assert!(store.read(&id).await.expect("read").is_none());
}

#[tokio::test]
async fn a_lifetime_over_thirty_days_does_not_expire_at_once() {
    let store = store_on(&memcache_servers(), &unique_prefix("long"));
    let id = new_id();
    let deadline = SystemTime::now() + Duration::from_secs(31 * 24 * 3600);
    store
        .create(&id, &record(json!({"a": 1}), Some(deadline)))
        .await
        .expect("update");
    // Sent as a relative 31 days, memcached would read it as a date in 1970 and drop it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut conn = raw(store.server_for(&id)).await;
    assert!(conn.get(store.key(&id)).await.expect("get").is_some());
    assert!(store.read(&id).await.expect("read").is_some());

    let fallback = MemcacheStore::builder()
        .servers(memcache_servers())
        .key_prefix(unique_prefix("long-ttl"))
        .ttl(Duration::from_secs(45 * 24 * 3600))
        .build()
        .expect("valid");
    fallback
        .create(&id, &record(json!({"a": 1}), None))
        .await
        .expect("update");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(fallback.read(&id).await.expect("read").is_some());

    // Past memcached's 32-bit clock: it used to answer "bad token" to every write.
    let longest = MemcacheStore::builder()
        .servers(memcache_servers())
        .key_prefix(unique_prefix("longest-ttl"))
        .ttl(Duration::MAX)
        .build()
        .expect("valid");
    longest
        .create(&id, &record(json!({"a": 2}), None))
        .await
        .expect("a TTL of Duration::MAX is capped, not refused");
    assert!(longest.read(&id).await.expect("read").is_some());
}

#[tokio::test]
async fn sessions_spread_over_all_three_servers_and_live_where_the_ring_says() {
    let servers = memcache_servers();
    let store = store_on(&servers, &unique_prefix("spread"));
    let mut per_server: HashMap<String, usize> = HashMap::new();
    let mut conns = HashMap::new();
    for server in &servers {
        conns.insert(server.clone(), raw(server).await);
    }
    let total = 300;
    for _ in 0..total {
        let id = new_id();
        store
            .create(&id, &record(json!({"a": 1}), None))
            .await
            .expect("update");
        let key = store.key(&id);
        let mut holders = Vec::new();
        for (server, conn) in &mut conns {
            if conn.get(&key).await.expect("get").is_some() {
                holders.push(server.clone());
            }
        }
        assert_eq!(holders, vec![store.server_for(&id).to_owned()]);
        *per_server.entry(holders[0].clone()).or_default() += 1;
    }
    println!("sessions per server out of {total}: {per_server:?}");
    assert_eq!(per_server.len(), 3);
    assert!(
        per_server.values().all(|&n| n * 100 >= total * 15),
        "{per_server:?}"
    );
}

/// 3 → 4 servers: about a quarter of the sessions move (hash % N would move 3/4).
#[tokio::test]
async fn adding_a_fourth_server_moves_about_a_quarter_of_the_sessions() {
    let fourth = MemcachedServer::start();
    let three = memcache_servers();
    let mut four = three.clone();
    four.push(fourth.address());
    let prefix = unique_prefix("rehash");
    let (before, after) = (store_on(&three, &prefix), store_on(&four, &prefix));
    let total = 2000;
    let ids: Vec<SessionId> = (0..total).map(|_| new_id()).collect();
    for id in &ids {
        before
            .create(id, &record(json!({"a": 1}), None))
            .await
            .expect("update");
    }
    let mut moved = 0;
    for id in &ids {
        if after.read(id).await.expect("read").is_none() {
            moved += 1;
            assert_eq!(
                after.server_for(id),
                fourth.address(),
                "moved between old servers"
            );
        }
    }
    let fraction = moved as f64 / total as f64;
    println!("rehash 3 -> 4 servers: {moved} of {total} sessions moved ({fraction:.3})");
    assert!((0.15..0.35).contains(&fraction), "moved {fraction}");
}

/// Kill one of three servers: only its share fails (503, or fresh sessions when the
/// layer's policy fails open); the others go on; after a restart it serves again.
#[tokio::test]
async fn a_dead_server_fails_only_its_own_share() {
    let mut servers = [
        MemcachedServer::start(),
        MemcachedServer::start(),
        MemcachedServer::start(),
    ];
    let addresses: Vec<String> = servers.iter().map(MemcachedServer::address).collect();
    let timeout = Duration::from_millis(500);
    let builder = || {
        MemcacheStore::builder()
            .servers(addresses.clone())
            .connect_timeout(timeout)
            .command_timeout(timeout)
    };
    let store = builder().build().expect("valid");
    let app = app(store.clone());
    let open = app_on(
        session(cookie(), store.clone())
            .expect("layer")
            .fail_open(true),
    );
    let mut cookies: HashMap<String, Vec<String>> = HashMap::new();
    while addresses
        .iter()
        .any(|a| cookies.get(a).is_none_or(|c| c.len() < 3))
    {
        let cookie = session_cookie(&send(&app, "/write", None).await).expect("cookie");
        let server = store.server_for(&session_id(&cookie)).to_owned();
        cookies.entry(server).or_default().push(cookie);
    }

    servers[1].kill();
    let dead = &addresses[1];
    for (server, list) in &cookies {
        for cookie in list {
            let response = send(&app, "/read", Some(cookie)).await;
            if server == dead {
                assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert!(!response.headers().contains_key(SET_COOKIE));
                let response = send(&open, "/read", Some(cookie)).await;
                assert_eq!(response.status(), StatusCode::OK, "fail-open reads");
                assert_eq!(body_text(response).await, "Ok(None)");
            } else {
                assert_eq!(body_text(response).await, "Ok(Some(1))", "{server}");
            }
        }
    }

    servers[1].restart();
    let restarted = std::time::Instant::now();
    let mut recovered_after = None;
    for _ in 0..40 {
        let response = send(&app, "/write", None).await;
        let Some(cookie) = session_cookie(&response) else {
            continue;
        };
        if store.server_for(&session_id(&cookie)) == dead {
            recovered_after = Some(restarted.elapsed());
            break;
        }
    }
    let recovered_after = recovered_after.expect("the restarted server was not used again");
    // memcached keeps nothing on disk: the dead server's sessions are gone (a fresh
    // session, not an error), everyone else's are intact.
    let mut lost = 0;
    for cookie in &cookies[dead] {
        let response = send(&app, "/read", Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        lost += usize::from(body_text(response).await == "Ok(None)");
    }
    assert_eq!(
        lost,
        cookies[dead].len(),
        "a restarted memcached kept sessions it cannot have kept"
    );
    for (server, list) in cookies.iter().filter(|(server, _)| *server != dead) {
        for cookie in list {
            let response = send(&app, "/read", Some(cookie)).await;
            assert_eq!(body_text(response).await, "Ok(Some(1))", "lost on {server}");
        }
    }
    let total: usize = cookies.values().map(Vec::len).sum();
    println!(
        "memcached: one of three servers killed; its {} sessions answered 503 meanwhile, the other {} kept working; recovered {recovered_after:?} after restart; {lost} sessions lost (the restarted server's)",
        cookies[dead].len(),
        total - cookies[dead].len()
    );
}

#[tokio::test]
async fn a_corrupt_record_gives_a_fresh_session_not_an_error() {
    let store = store_on(&memcache_servers(), &unique_prefix("corrupt"));
    let app = app(store.clone());
    let cookie = session_cookie(&send(&app, "/write", None).await).expect("cookie");
    let id = session_id(&cookie);
    let mut conn = raw(store.server_for(&id)).await;
    for garbage in ["{invalid-json", "[1,2]", "null"] {
        conn.set(store.key(&id), garbage, None, None)
            .await
            .expect("set");
        let response = send(&app, "/write", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{garbage}");
        assert_ne!(session_cookie(&response).as_deref(), Some(cookie.as_str()));
    }
    conn.set(store.key(&id), &[0xffu8, 0xfe][..], None, None)
        .await
        .expect("set");
    assert!(store.read(&id).await.expect("not an error").is_none());
}

/// A server that hangs (SIGSTOP) holds up only the requests for its own sessions.
/// The test runs on a single-threaded runtime: if any memcached I/O blocked the thread,
/// the unrelated requests could not finish while the stalled one waits.
#[tokio::test(flavor = "current_thread")]
async fn a_hanging_server_does_not_stall_unrelated_requests() {
    let servers = [MemcachedServer::start(), MemcachedServer::start()];
    let addresses: Vec<String> = servers.iter().map(MemcachedServer::address).collect();
    let store = MemcacheStore::builder()
        .servers(addresses.clone())
        .connect_timeout(Duration::from_secs(1))
        // Far longer than the unrelated reads take on any machine (with 8 s, a loaded
        // machine once let the stalled read time out first): the server is resumed
        // before it runs out, so the test never waits for it.
        .command_timeout(Duration::from_secs(120))
        .build()
        .expect("valid");
    let (mut on_hung, mut on_live) = (None, Vec::new());
    while on_hung.is_none() || on_live.len() < 20 {
        let id = new_id();
        store
            .create(&id, &record(json!({"a": 1}), None))
            .await
            .expect("update");
        if store.server_for(&id) == addresses[0] {
            on_hung.get_or_insert(id);
        } else {
            on_live.push(id);
        }
    }
    servers[0].pause();
    let hung = tokio::spawn({
        let store = store.clone();
        let id = on_hung.expect("a session on the paused server");
        async move { store.read(&id).await }
    });
    tokio::task::yield_now().await;
    for id in &on_live {
        assert!(store
            .read(id)
            .await
            .expect("the live server answers")
            .is_some());
    }
    if hung.is_finished() {
        let early = hung.await.expect("task ran").map(|found| found.is_some());
        panic!("the paused server's read ended before the unrelated ones: {early:?}");
    }
    // Once the server answers again, the stalled read gets its own record.
    servers[0].resume();
    let stalled = hung.await.expect("task ran");
    assert!(
        matches!(stalled, Ok(Some(_))),
        "the stalled read, after the resume: {stalled:?}"
    );
}

/// Exactly the commands each kind of request sends, from memcached's own counters.
#[tokio::test]
async fn commands_per_request_kind() {
    let server = MemcachedServer::start();
    let store = store_on(&[server.address()], "");
    let app = app(store);
    let mut conn = raw(&server.address()).await;
    assert_eq!(send(&app, "/write", None).await.status(), StatusCode::OK);

    // (path, with a live cookie?, gets, sets, deletes)
    let cases = [
        ("/untouched", false, 0, 0, 0),
        ("/read", false, 0, 0, 0),
        ("/write", false, 0, 1, 0),
        ("/untouched", true, 0, 0, 0),
        ("/read", true, 1, 0, 0),
        ("/write", true, 1, 1, 0),
        ("/regenerate", true, 1, 1, 1),
        ("/destroy", true, 1, 0, 1),
    ];
    for (path, with_cookie, gets, sets, deletes) in cases {
        let cookie = if with_cookie {
            session_cookie(&send(&app, "/write", None).await)
        } else {
            None
        };
        let before = counters(&mut conn).await;
        let response = send(&app, path, cookie.as_deref()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let after = counters(&mut conn).await;
        let spent = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
        assert_eq!(
            spent,
            (gets, sets, deletes),
            "{path} with cookie: {with_cookie}"
        );
    }
}

/// With a user bound, each load also reads the user's revocation generation (the user
/// is known only once the record is read): two gets per loaded request, and a write
/// is still one set.
#[tokio::test]
async fn commands_per_request_kind_with_a_user_bound() {
    let server = MemcachedServer::start();
    let store = store_on(&[server.address()], "");
    let app = app(store);
    let mut conn = raw(&server.address()).await;
    // (path, gets, sets, deletes)
    let cases = [("/read", 2, 0, 0), ("/write", 2, 1, 0)];
    for (path, gets, sets, deletes) in cases {
        let anonymous = session_cookie(&send(&app, "/write", None).await);
        let cookie = session_cookie(&send(&app, "/bind", anonymous.as_deref()).await);
        assert!(cookie.is_some(), "bound");
        let before = counters(&mut conn).await;
        let response = send(&app, path, cookie.as_deref()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let after = counters(&mut conn).await;
        let spent = (after.0 - before.0, after.1 - before.1, after.2 - before.2);
        assert_eq!(spent, (gets, sets, deletes), "{path} with a user bound");
    }
}

/// (get, set, delete) commands served so far, from `stats`.
async fn counters(conn: &mut Client) -> (u64, u64, u64) {
    let stats = conn.stats().await.expect("stats");
    let stat = |name: &str| -> u64 {
        stats
            .get(name)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("memcached reports {name}"))
    };
    (
        stat("cmd_get"),
        stat("cmd_set"),
        stat("delete_hits") + stat("delete_misses"),
    )
}

/// A store that outlives the runtime its connections were opened on (a `static` store
/// shared by tests, each with its own runtime) dials again on the next runtime instead
/// of failing requests.
#[test]
fn a_store_outliving_its_runtime_reconnects_on_the_next() {
    let store = store_on(&memcache_servers(), &unique_prefix("runtimes"));
    let id = new_id();
    for round in 0..3 {
        one_worker_runtime().block_on(async {
            if round == 0 {
                assert!(store
                    .create(&id, &record(json!({"round": 0}), None))
                    .await
                    .expect("create"));
            }
            let read = store.read(&id).await.expect("no error on a later runtime");
            assert!(read.is_some(), "round {round}");
        });
    }
}

/// A bound session as saved by a login: its ID.
async fn logged_in(store: &MemcacheStore, user: &str) -> SessionId {
    let backend: std::sync::Arc<dyn session_core::SessionBackend> =
        std::sync::Arc::new(store.clone());
    let session = session_core::Session::new(backend, None);
    session.load().await.expect("load");
    session.set_user(user).expect("bind");
    session.set("n", 1).expect("set");
    session.commit().await.expect("commit");
    session.id().expect("id")
}

/// "Log out other sessions" ends every other session of the user even when memcached
/// has lost the user's index (here deleted by hand, as an eviction would): the
/// generation does it, not the list.
#[tokio::test]
async fn revocation_is_complete_without_the_index() {
    for servers in [memcache_servers(), memcache_servers()[..1].to_vec()] {
        let prefix = unique_prefix("revoke-unindexed");
        let store = store_on(&servers, &prefix);
        let kept = logged_in(&store, "ada").await;
        let others = [
            logged_in(&store, "ada").await,
            logged_in(&store, "ada").await,
        ];
        let bob = logged_in(&store, "bob").await;
        let index = session_core::hashed_key(&format!("{prefix}user-idx:"), "ada");
        let mut deleted = 0;
        for server in &servers {
            let mut conn = raw(server).await;
            if conn.delete(&index).await.is_ok() {
                deleted += 1;
            }
        }
        assert!(deleted >= 1, "no server held the index");

        let backend: std::sync::Arc<dyn session_core::SessionBackend> =
            std::sync::Arc::new(store.clone());
        let session = session_core::Session::new(backend, Some(kept.as_str().to_owned()));
        session.load().await.expect("load");
        assert!(
            session.user_sessions().await.expect("list").is_empty(),
            "the index is gone"
        );
        session.revoke_other_sessions().await.expect("revoke");

        for other in &others {
            assert_eq!(
                store.read(other).await.expect("read"),
                None,
                "a revoked session loaded"
            );
        }
        assert!(
            store.read(&kept).await.expect("read").is_some(),
            "the kept session ended"
        );
        assert!(
            store.read(&bob).await.expect("read").is_some(),
            "another user's session ended"
        );
    }
}
