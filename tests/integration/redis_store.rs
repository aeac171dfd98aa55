//! Redis storage against real Redis: the shared single node and cluster started by
//! scripts/test, and dedicated servers for counting commands and for outages.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::header::SET_COOKIE;
use http::StatusCode;
use redis::aio::MultiplexedConnection;
use serde_json::json;
use session_core::{SessionId, SessionStorage, StoredSession};
use session_redis_store::RedisStore;
use session_tests::servers::{redis_cluster_urls, redis_url, unique_prefix, RedisServer};

use crate::support::{
    app, body_text, full_message, one_worker_runtime, send, session_cookie, session_id,
};

fn store(prefix: &str) -> RedisStore {
    RedisStore::builder()
        .url(redis_url())
        .key_prefix(prefix)
        .build()
        .expect("valid Redis configuration")
}

pub(crate) async fn raw(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .expect("valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers")
}

mod single_node {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(store(&unique_prefix("conformance")));
    backend_conformance!(store(&unique_prefix("flows")), Capabilities::SERVER_SIDE);
}

mod cluster {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    fn cluster_store() -> RedisStore {
        RedisStore::builder()
            .cluster(redis_cluster_urls())
            .key_prefix(unique_prefix("cluster"))
            .build()
            .expect("valid cluster configuration")
    }

    storage_conformance!(cluster_store());
    backend_conformance!(cluster_store(), Capabilities::SERVER_SIDE);

    /// Sessions spread over the three masters' slots, and regenerating across slots
    /// still kills the old key.
    #[tokio::test]
    async fn regenerate_across_slots_kills_the_old_key() {
        let store = cluster_store();
        let client = redis::cluster::ClusterClient::new(redis_cluster_urls()).expect("urls");
        let mut conn = client
            .get_async_connection()
            .await
            .expect("cluster answers");
        for _ in 0..8 {
            let (old, new) = (
                SessionId::generate().expect("id"),
                SessionId::generate().expect("id"),
            );
            store
                .create(&old, &StoredSession::default())
                .await
                .expect("update");
            store
                .replace(&old, &new, &StoredSession::default())
                .await
                .expect("replace");
            // The keys live in different slots, so ask one at a time.
            let old_exists: u8 = redis::cmd("EXISTS")
                .arg(store.key(&old))
                .query_async(&mut conn)
                .await
                .expect("exists");
            let new_exists: u8 = redis::cmd("EXISTS")
                .arg(store.key(&new))
                .query_async(&mut conn)
                .await
                .expect("exists");
            assert_eq!((old_exists, new_exists), (0, 1));
        }
    }
}

fn record(values: serde_json::Value, expires: Option<SystemTime>) -> StoredSession {
    StoredSession {
        data: serde_json::from_value(json!([values, {}])).expect("valid record"),
        expires,
        created: None,
        ..StoredSession::default()
    }
}

#[tokio::test]
async fn records_use_remixs_key_and_value_layout() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/remix-vectors.json")).expect("JSON");
    let record = &vectors["server_side_record"];
    let id = SessionId::parse(record["session_id"].as_str().expect("id")).expect("a UUID id");
    let remix_value = record["redis_value"].as_str().expect("value");
    // The default prefix is Remix's; this test owns the vector's key for its duration.
    let store = RedisStore::builder()
        .url(redis_url())
        .build()
        .expect("valid");
    assert_eq!(store.key(&id), record["redis_key"].as_str().expect("key"));
    let mut conn = raw(&redis_url()).await;

    // Remix wrote it: we read it.
    let _: () = redis::cmd("SET")
        .arg(store.key(&id))
        .arg(remix_value)
        .query_async(&mut conn)
        .await
        .expect("set");
    let read = store.read(&id).await.expect("read").expect("present");
    assert_eq!(read.data.values["user"]["name"], "Zoë");
    assert_eq!(read.data.flash["notice"], "saved");
    assert_eq!(read.expires, None);

    // We write it: the values and the flash are Remix's bytes, then our stamp with
    // only the write's revision (no deadline), which Remix ignores.
    let unstamped = StoredSession {
        data: read.data.clone(),
        ..StoredSession::default()
    };
    assert!(store.update(&id, &unstamped).await.expect("update"));
    let written: String = redis::cmd("GET")
        .arg(store.key(&id))
        .query_async(&mut conn)
        .await
        .expect("get");
    let (remix_part, stamp) = written
        .split_once("},{\"rev\":")
        .expect("a revision stamp after the values and the flash");
    assert_eq!(format!("{remix_part}}}]"), remix_value);
    assert!(
        stamp
            .strip_suffix("}]")
            .is_some_and(|rev| rev.parse::<u64>().is_ok()),
        "{written}"
    );
    store.delete(&id).await.expect("delete");
}

#[tokio::test]
async fn every_key_with_a_deadline_or_ttl_carries_a_ttl() {
    let prefix = unique_prefix("ttl");
    let store = store(&prefix);
    let with_ttl = |ttl| {
        RedisStore::builder()
            .url(redis_url())
            .key_prefix(&prefix)
            .ttl(ttl)
            .build()
            .expect("valid")
    };
    let fallback = with_ttl(Duration::from_secs(300));
    let mut conn = raw(&redis_url()).await;
    let [with_deadline, with_fallback, with_default, with_longest] =
        [(); 4].map(|()| SessionId::generate().expect("id"));
    // Under the defaults, a record without a deadline still gets one: two weeks.
    store
        .create(&with_default, &record(json!({"a": 1}), None))
        .await
        .expect("create");
    // A TTL past Redis's clock used to fail the write ("invalid expire time").
    with_ttl(Duration::MAX)
        .create(&with_longest, &record(json!({"a": 1}), None))
        .await
        .expect("a TTL of Duration::MAX is capped, not refused");
    let deadline = SystemTime::now() + Duration::from_secs(60);
    store
        .create(&with_deadline, &record(json!({"a": 1}), Some(deadline)))
        .await
        .expect("update");
    fallback
        .create(&with_fallback, &record(json!({"a": 1}), None))
        .await
        .expect("update");
    let two_weeks = i64::try_from(session_core::DEFAULT_TTL.as_millis()).expect("fits");
    let century = 100 * 365 * 24 * 3600 * 1000;
    for (id, most) in [
        (&with_deadline, 60_000),
        (&with_fallback, 300_000),
        (&with_default, two_weeks),
        (&with_longest, century),
    ] {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(store.key(id))
            .query_async(&mut conn)
            .await
            .expect("pttl");
        assert!(pttl > 0 && pttl <= most, "PTTL {pttl} not in (0, {most}]");
    }
}

#[tokio::test]
async fn a_sliding_ttl_slides_on_read_without_a_write() {
    let prefix = unique_prefix("sliding");
    let store = RedisStore::builder()
        .url(redis_url())
        .key_prefix(&prefix)
        .sliding_ttl(Duration::from_secs(600))
        .build()
        .expect("valid");
    let mut conn = raw(&redis_url()).await;
    let id = SessionId::generate().expect("id");
    store
        .create(&id, &record(json!({"a": 1}), None))
        .await
        .expect("update");
    let _: () = redis::cmd("PEXPIRE")
        .arg(store.key(&id))
        .arg(5_000)
        .query_async(&mut conn)
        .await
        .expect("shorten the ttl");
    assert!(store.read(&id).await.expect("read").is_some());
    let pttl: i64 = redis::cmd("PTTL")
        .arg(store.key(&id))
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!(pttl > 5_000, "the read did not slide the TTL: {pttl}");
}

/// One section of `INFO`, as Redis prints it.
async fn info(conn: &mut MultiplexedConnection, section: &str) -> String {
    redis::cmd("INFO")
        .arg(section)
        .query_async(conn)
        .await
        .expect("info")
}

/// `INFO commandstats` as command → calls.
pub(crate) async fn command_calls(conn: &mut MultiplexedConnection) -> BTreeMap<String, u64> {
    info(conn, "commandstats")
        .await
        .lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter_map(|line| {
            let (name, stats) = line.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

/// A request kind: path, whether it carries a live session cookie, and the Redis
/// commands (name, calls) it may send.
type Case = (&'static str, bool, &'static [(&'static str, u64)]);

/// Exactly the commands each kind of request sends, counted by a Redis of our own.
#[tokio::test]
async fn commands_per_request_kind() {
    let server = RedisServer::start();
    let store = RedisStore::builder()
        .url(server.url())
        .build()
        .expect("valid");
    assert_commands_per_request_kind(&server, store).await;
}

/// Asserts that `store`, which talks to `server`, sends exactly the expected commands
/// for each kind of request: none, one read, or one read and one write (the script of a
/// regeneration), whatever the connection source. Each batch ends in a `PING` (its
/// nonce, `batch.rs`): here one per command, since these requests run one at a time.
pub(crate) async fn assert_commands_per_request_kind(server: &RedisServer, store: RedisStore) {
    let app = app(store);
    let mut conn = raw(&server.url()).await;
    // Warm the connection up so that connection set-up commands are not counted, and
    // have Redis cache both scripts (the first call of each is answered `NOSCRIPT`,
    // then sent whole with `EVAL`: counted in `scripts_are_sent_whole_only_once`).
    let warm = session_cookie(&send(&app, "/write", None).await);
    for path in ["/write", "/regenerate"] {
        let response = send(&app, path, warm.as_deref()).await;
        assert_eq!(response.status(), StatusCode::OK, "warming up {path}");
    }

    let expected: [Case; 8] = [
        ("/untouched", false, &[]),
        ("/read", false, &[]),
        ("/write", false, &[("set", 1), ("ping", 1)]),
        ("/untouched", true, &[]),
        ("/read", true, &[("get", 1), ("ping", 1)]),
        // The read, then the merge script, which reads and writes the key inside
        // Redis (counted as its `get` and `set`): still two round trips.
        (
            "/write",
            true,
            &[("get", 2), ("evalsha", 1), ("set", 1), ("ping", 2)],
        ),
        (
            "/regenerate",
            true,
            // One script: the delete, and the create only if it counted one.
            &[
                ("get", 1),
                ("evalsha", 1),
                ("del", 1),
                ("set", 1),
                ("ping", 2),
            ],
        ),
        ("/destroy", true, &[("get", 1), ("del", 1), ("ping", 2)]),
    ];
    for (path, with_cookie, commands) in expected {
        let cookie = if with_cookie {
            session_cookie(&send(&app, "/write", None).await)
        } else {
            None
        };
        let before = command_calls(&mut conn).await;
        let response = send(&app, path, cookie.as_deref()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let after = command_calls(&mut conn).await;
        let (spent, wanted) = (spent_between(&before, &after), named(commands));
        assert_eq!(spent, wanted, "{path} with cookie: {with_cookie}");
    }
}

/// The calls of each command between two `command_calls` readings (the `INFO`s that
/// read them left out), commands not called left out.
fn spent_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter(|(name, _)| name.as_str() != "info")
        .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, calls)| *calls > 0)
        .collect()
}

/// `(command, calls)` pairs as `spent_between` reports them.
fn named(commands: &[(&str, u64)]) -> BTreeMap<String, u64> {
    commands
        .iter()
        .map(|(name, calls)| ((*name).to_owned(), *calls))
        .collect()
}

/// Redis's own count of read events on its sockets (`INFO stats`).
async fn reads_processed(conn: &mut MultiplexedConnection) -> u64 {
    info(conn, "stats")
        .await
        .lines()
        .find_map(|line| line.strip_prefix("total_reads_processed:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("Redis 6+ reports total_reads_processed")
}

/// Runs `scenario` with a Redis of its own (whose socket reads it may count) and a
/// store on it, on a runtime with one worker thread, as on a server pinned to one core.
/// (tokio's multi-thread scheduler runs a task woken by another right after it, which
/// without batching gives every command a write of its own.) On the worker, not on
/// this thread: that is where requests run in a server.
fn on_one_worker_with_own_redis<F, Fut>(scenario: F)
where
    F: FnOnce(RedisServer, RedisStore) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = one_worker_runtime();
    let run = async move {
        let server = RedisServer::start();
        let store = RedisStore::builder()
            .url(server.url())
            .build()
            .expect("valid");
        scenario(server, store).await;
    };
    runtime
        .block_on(runtime.spawn(run))
        .expect("the scenario ran");
}

/// Concurrent requests' commands reach Redis together: 50 session reads at once cost
/// Redis a handful of socket reads, not 50 (one per command without batching).
#[test]
fn concurrent_commands_reach_redis_as_one_batch() {
    on_one_worker_with_own_redis(|server, store| async move {
        let id = SessionId::generate().expect("id");
        assert!(store
            .create(&id, &StoredSession::default())
            .await
            .expect("create"));
        let mut conn = raw(&server.url()).await;
        let before = reads_processed(&mut conn).await;
        let mut reads = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (store, id) = (store.clone(), id.clone());
            reads.spawn(async move { store.read(&id).await });
        }
        while let Some(read) = reads.join_next().await {
            assert!(read.expect("task").expect("read").is_some());
        }
        // This INFO is one more read event, and one it counts itself.
        let spent = reads_processed(&mut conn).await - before - 1;
        assert!(
            spent <= 3,
            "50 concurrent reads cost Redis {spent} socket reads"
        );
    });
}

/// Concurrent requests for different users, batched together, with errors mixed in:
/// every caller gets its own reply, the errors reach only their own callers, and the
/// requests really shared a batch (counted as in the test above). A reply handed to
/// the wrong caller would give one user another user's session.
#[test]
fn each_caller_in_a_batch_gets_its_own_reply() {
    on_one_worker_with_own_redis(|server, store| async move {
        let mut conn = raw(&server.url()).await;
        let user = |n: usize| StoredSession {
            data: serde_json::from_value(json!([{ "user": format!("user-{n}") }, {}]))
                .expect("record"),
            ..StoredSession::default()
        };
        // Per request, by n % 3: a read of user n's session, a read of a key that is
        // not a string (Redis answers WRONGTYPE), or an update to a new value.
        let ids: Vec<SessionId> = (0..60)
            .map(|_| SessionId::generate().expect("id"))
            .collect();
        for (n, id) in ids.iter().enumerate() {
            if n % 3 == 1 {
                let _: () = redis::cmd("RPUSH")
                    .arg(store.key(id))
                    .arg("not a session")
                    .query_async(&mut conn)
                    .await
                    .expect("rpush");
            } else {
                assert!(store.create(id, &user(n)).await.expect("create"));
            }
        }
        let before = reads_processed(&mut conn).await;
        let mut requests = tokio::task::JoinSet::new();
        for (n, id) in ids.iter().cloned().enumerate() {
            let store = store.clone();
            requests.spawn(async move {
                let outcome = match n % 3 {
                    2 => store
                        .update(&id, &user(n + 1000))
                        .await
                        .map(|updated| format!("updated {updated}")),
                    _ => store
                        .read(&id)
                        .await
                        .map(|found| format!("{:?}", found.map(|r| r.data.values["user"].clone()))),
                };
                (n, outcome)
            });
        }
        while let Some(request) = requests.join_next().await {
            let (n, outcome) = request.expect("task");
            match n % 3 {
                0 => assert_eq!(
                    outcome.expect("read"),
                    format!("Some(String(\"user-{n}\"))"),
                    "request {n}"
                ),
                1 => assert!(outcome.is_err(), "request {n}: {outcome:?}"),
                _ => assert_eq!(outcome.expect("update"), "updated true", "request {n}"),
            }
        }
        let spent = reads_processed(&mut conn).await - before - 1;
        assert!(
            spent <= 6,
            "60 concurrent requests cost Redis {spent} socket reads"
        );
        for (n, id) in ids.iter().enumerate().filter(|(n, _)| n % 3 == 2) {
            let stored = store.read(id).await.expect("read").expect("present");
            assert_eq!(
                stored.data.values["user"],
                json!(format!("user-{}", n + 1000)),
                "the update of request {n} landed elsewhere"
            );
        }
    });
}

#[tokio::test]
async fn a_corrupt_record_gives_a_fresh_session_not_an_error() {
    let prefix = unique_prefix("corrupt");
    let store = store(&prefix);
    let app = app(store.clone());
    let cookie = session_cookie(&send(&app, "/write", None).await).expect("cookie");
    let id = session_id(&cookie);
    let mut conn = raw(&redis_url()).await;
    for garbage in ["{invalid-json", "[1,2]", "\u{0}\u{1}"] {
        let _: () = redis::cmd("SET")
            .arg(store.key(&id))
            .arg(garbage)
            .query_async(&mut conn)
            .await
            .expect("set");
        let response = send(&app, "/write", Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{garbage:?}");
        let fresh = session_cookie(&response).expect("a new cookie");
        assert_ne!(fresh, cookie, "the corrupt record's ID was adopted");
    }
    let invalid_utf8: Vec<u8> = vec![0xff, 0xfe, b'['];
    let _: () = redis::cmd("SET")
        .arg(store.key(&id))
        .arg(invalid_utf8)
        .query_async(&mut conn)
        .await
        .expect("set");
    assert!(store.read(&id).await.expect("not an error").is_none());
}

/// Redis is killed mid-test: requests fail fast with 503 and keep their cookie; once it
/// is back, the same app recovers without a restart and no saved session is lost.
///
/// "Fast" is checked by what answered, not by a stopwatch: a killed server's requests
/// fail on the refused or broken connection, never by waiting out a timeout; a hung
/// server's fail by the command timeout, and never before it. Wall-clock waits are only
/// bounds against a hang. Prints the figures (time to error, time to recover).
#[tokio::test]
async fn an_outage_fails_fast_then_recovers_without_losing_sessions() {
    let mut server = RedisServer::start();
    let timeout = Duration::from_millis(300);
    let store = RedisStore::builder()
        .url(server.url())
        .connect_timeout(timeout)
        .command_timeout(timeout)
        .build()
        .expect("valid");
    let app = app(store.clone());
    let mut cookies = Vec::new();
    for _ in 0..50 {
        cookies.push(session_cookie(&send(&app, "/write", None).await).expect("cookie"));
    }

    server.kill();
    for attempt in 0..3 {
        let refused = store
            .read(&session_id(&cookies[0]))
            .await
            .expect_err("a dead server");
        let cause = full_message(&refused);
        assert!(
            !cause.contains("timeout"),
            "attempt {attempt} waited for a timeout instead of failing on the dead server: {cause}"
        );
    }
    // Bounded, not timed: a hang would fail here, however slow the machine.
    let bound = Duration::from_secs(10);
    let mut slowest_error = Duration::ZERO;
    for path in ["/read", "/write", "/destroy", "/regenerate"] {
        let started = std::time::Instant::now();
        let response = tokio::time::timeout(bound, send(&app, path, Some(&cookies[0])))
            .await
            .expect("the request did not hang");
        slowest_error = slowest_error.max(started.elapsed());
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(!response.headers().contains_key(SET_COOKIE), "{path}");
    }

    server.restart();
    let restarted = std::time::Instant::now();
    let mut recovered_after = None;
    for _ in 0..50 {
        if send(&app, "/read", Some(&cookies[0])).await.status() == StatusCode::OK {
            recovered_after = Some(restarted.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_after = recovered_after.expect("the app recovered without a restart");
    let mut lost = 0;
    for cookie in &cookies {
        if body_text(send(&app, "/read", Some(cookie)).await).await != "Ok(Some(1))" {
            lost += 1;
        }
    }
    println!(
        "redis outage: slowest error {slowest_error:?} (timeouts 300 ms), recovered {recovered_after:?} after restart, {lost} of {} sessions lost",
        cookies.len()
    );
    assert_eq!(lost, 0, "sessions written before the fault were lost");
    let response = send(&app, "/write", Some(&cookies[0])).await;
    assert_eq!(body_text(response).await, "2");

    // A Redis that hangs instead of refusing: the command timeout answers for it.
    server.pause();
    let started = tokio::time::Instant::now();
    let hung = tokio::time::timeout(bound, store.read(&session_id(&cookies[1])))
        .await
        .expect("the read did not hang")
        .expect_err("a hung server");
    assert!(
        full_message(&hung).contains("did not answer within the command timeout"),
        "{}",
        full_message(&hung)
    );
    // A tokio timer never fires early: an error before the timeout came from elsewhere.
    assert!(
        started.elapsed() >= timeout,
        "failed before the command timeout"
    );
    let started = std::time::Instant::now();
    let response = tokio::time::timeout(bound, send(&app, "/read", Some(&cookies[1])))
        .await
        .expect("the request did not hang");
    let hung_error = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    server.resume();
    let resumed = std::time::Instant::now();
    let mut answered = false;
    for _ in 0..50 {
        if send(&app, "/read", Some(&cookies[1])).await.status() == StatusCode::OK {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "no recovery after the hang");
    println!(
        "redis hang (SIGSTOP): error after {hung_error:?} (command timeout 300 ms), answering again {:?} after SIGCONT",
        resumed.elapsed()
    );
}

#[tokio::test]
async fn shared_stores_see_each_others_sessions() {
    // Two app instances on one Redis: a session written by one is read by the other.
    let prefix = unique_prefix("shared");
    let (first, second) = (app(store(&prefix)), app(store(&prefix)));
    let cookie = session_cookie(&send(&first, "/write", None).await).expect("cookie");
    assert_eq!(
        body_text(send(&second, "/write", Some(&cookie)).await).await,
        "2"
    );
}

/// A store that outlives the runtime its connection was opened on (a `static` store
/// shared by tests, each with its own runtime) dials again on the next runtime instead
/// of failing requests.
#[test]
fn a_store_outliving_its_runtime_reconnects_on_the_next() {
    let store = store(&unique_prefix("runtimes"));
    let id = SessionId::generate().expect("id");
    for round in 0..3 {
        one_worker_runtime().block_on(async {
            if round == 0 {
                assert!(store
                    .create(&id, &StoredSession::default())
                    .await
                    .expect("create"));
            } else {
                // A create first: unlike a read or an update, it is never sent twice
                // (a second one would find the first's record), so the dead connection
                // must be recognised before it is used, not retried after.
                let other = SessionId::generate().expect("id");
                assert!(store
                    .create(&other, &StoredSession::default())
                    .await
                    .expect("no error on a later runtime"));
            }
            let read = store.read(&id).await.expect("no error on a later runtime");
            assert!(read.is_some(), "round {round}");
        });
    }
}

/// With a user bound, a read is still one command, and a write still two round trips:
/// the index update (the `INDEX` script) rides in the merge's batch, as the batches'
/// `PING`s show.
#[tokio::test]
async fn commands_per_request_kind_with_a_user_bound() {
    let server = RedisServer::start();
    let store = RedisStore::builder()
        .url(server.url())
        .build()
        .expect("valid");
    let app = app(store);
    let mut conn = raw(&server.url()).await;
    let bound = || async {
        let anonymous = session_cookie(&send(&app, "/write", None).await);
        session_cookie(&send(&app, "/bind", anonymous.as_deref()).await).expect("bound")
    };
    // Warm up: every script cached.
    let warm = bound().await;
    send(&app, "/write", Some(&warm)).await;
    let cases: [Case; 2] = [
        ("/read", true, &[("get", 1), ("ping", 1)]),
        (
            "/write",
            true,
            &[
                ("get", 2),
                ("evalsha", 2),
                ("set", 1),
                // The index script's commands.
                ("zadd", 1),
                ("zremrangebyscore", 1),
                ("zrange", 1),
                ("pexpireat", 1),
                ("ping", 2),
            ],
        ),
    ];
    for (path, _, commands) in cases {
        let cookie = bound().await;
        let before = command_calls(&mut conn).await;
        let response = send(&app, path, Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let after = command_calls(&mut conn).await;
        let (spent, wanted) = (spent_between(&before, &after), named(commands));
        assert_eq!(spent, wanted, "{path} with a user bound");
    }
}

/// Listing a user's sessions is one read of the index and one `MGET` per page of
/// records, however many sessions there are (here 30, one page).
#[tokio::test]
async fn listing_a_users_sessions_is_two_commands() {
    let server = RedisServer::start();
    let store = RedisStore::builder()
        .url(server.url())
        .build()
        .expect("valid");
    let backend: std::sync::Arc<dyn session_core::SessionBackend> = std::sync::Arc::new(store);
    let mut ids = Vec::new();
    for _ in 0..30 {
        let session = session_core::Session::new(backend.clone(), None);
        session.load().await.expect("load");
        session.set_user("ada").expect("bind");
        session.commit().await.expect("commit");
        ids.push(session.id().expect("id"));
    }
    let asking = session_core::Session::new(backend, Some(ids[0].as_str().to_owned()));
    asking.load().await.expect("load");
    let mut conn = raw(&server.url()).await;
    let before = command_calls(&mut conn).await;
    let listed = asking.user_sessions().await.expect("list");
    let after = command_calls(&mut conn).await;
    assert_eq!(listed.len(), 30);
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    let spent = spent_between(&before, &after);
    let wanted = named(&[("zrangebyscore", 1), ("mget", 1), ("ping", 2)]);
    assert_eq!(spent, wanted);
}
