//! Memcached replies no real server sends on demand, from [`ScriptedMemcached`]: each
//! must end in an error for the requests on that connection (never another request's
//! data, never a panic, never a hang past the timeouts) and a fresh connection for the
//! next request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::Duration;

use serde_json::json;
use session_core::{Error, SessionId, SessionStorage, StoredSession};
use session_memcache_store::MemcacheStore;
use session_tests::servers::{MemcachedBehaviour as Behaviour, ScriptedMemcached};

const TIMEOUT: Duration = Duration::from_millis(500);

fn store(server: &ScriptedMemcached) -> MemcacheStore {
    MemcacheStore::builder()
        .servers([server.address()])
        .key_prefix("")
        .connect_timeout(TIMEOUT)
        .command_timeout(TIMEOUT)
        .build()
        .expect("valid configuration")
}

/// A session of `owner`'s, stored on the scripted server behind the store's back.
fn seeded(server: &ScriptedMemcached, store: &MemcacheStore, owner: &str) -> SessionId {
    let id = SessionId::generate().expect("os randomness");
    let record = StoredSession {
        data: serde_json::from_value(json!([{ "owner": owner }, {}])).expect("record"),
        ..StoredSession::default()
    };
    server.seed(&store.key(&id), record.to_json().expect("JSON").as_bytes());
    id
}

/// Whose session a read returned: `Ok(Some(owner))`, `Ok(None)` or the error.
async fn owner(store: &MemcacheStore, id: &SessionId) -> Result<Option<String>, Error> {
    // Not a timing check: only a hang (a bug) gets anywhere near this.
    let read = tokio::time::timeout(Duration::from_secs(60), store.read(id))
        .await
        .expect("the store's own timeouts bound every request");
    read.map(|found| found.map(|record| record.data.values["owner"].to_string()))
}

/// Panics raised in the store's code, in any task of this test binary.
static STORE_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_store_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|at| at.file().contains("session-memcache-store"))
            {
                STORE_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// A scripted server whose first connection behaves as `behaviour` says, a store on
/// it, and two sessions on the server, alice's and bob's (store panics counted).
fn alice_and_bob(behaviour: Behaviour) -> (ScriptedMemcached, MemcacheStore, SessionId, SessionId) {
    count_store_panics();
    let server = ScriptedMemcached::start([behaviour]);
    let store = store(&server);
    let alice = seeded(&server, &store, "alice");
    let bob = seeded(&server, &store, "bob");
    (server, store, alice, bob)
}

/// The first connection misbehaves as `behaviour` says and fails the one read on it;
/// the next read dials a second connection and gets the right session.
async fn one_bad_reply_then_a_fresh_connection(behaviour: Behaviour) {
    count_store_panics();
    let server = ScriptedMemcached::start([behaviour]);
    let store = store(&server);
    let alice = seeded(&server, &store, "alice");
    let failed = owner(&store, &alice).await;
    assert!(
        matches!(failed, Err(ref error) if error.is_unavailable()),
        "{behaviour:?}: {failed:?}"
    );
    assert_eq!(
        owner(&store, &alice).await.expect("a fresh connection"),
        Some("\"alice\"".to_owned()),
        "{behaviour:?}"
    );
    assert_eq!(server.accepted(), 2, "{behaviour:?}: one fresh connection");
    assert_eq!(STORE_PANICS.load(Ordering::SeqCst), 0, "a task panicked");
}

#[tokio::test]
async fn a_wrong_opaque_token_is_never_trusted() {
    one_bad_reply_then_a_fresh_connection(Behaviour::WrongOpaque).await;
}

#[tokio::test]
async fn a_reply_without_the_opaque_token_is_never_trusted() {
    one_bad_reply_then_a_fresh_connection(Behaviour::NoOpaque).await;
}

#[tokio::test]
async fn a_truncated_reply_fails_its_request() {
    one_bad_reply_then_a_fresh_connection(Behaviour::TruncateAndClose).await;
}

#[tokio::test]
async fn garbage_fails_its_request() {
    one_bad_reply_then_a_fresh_connection(Behaviour::Garbage).await;
}

#[tokio::test]
async fn a_reply_before_any_command_fails_the_connection() {
    one_bad_reply_then_a_fresh_connection(Behaviour::Unsolicited).await;
}

#[tokio::test]
async fn a_server_silent_from_the_start_fails_in_time() {
    one_bad_reply_then_a_fresh_connection(Behaviour::Silent).await;
}

/// A value length near 2^63 or 2^64: no overflow, no allocation of what the server
/// claims, and the connection is dropped at once instead of swallowing its stream.
#[tokio::test]
async fn an_absurd_value_length_fails_without_reading_it() {
    for length in [i64::MAX as u64, u64::MAX] {
        one_bad_reply_then_a_fresh_connection(Behaviour::ClaimLength(length)).await;
    }
    let server = ScriptedMemcached::start([Behaviour::ClaimLength(i64::MAX as u64)]);
    let store = store(&server);
    let alice = seeded(&server, &store, "alice");
    assert!(owner(&store, &alice).await.is_err());
    // What the client took before it hung up is socket buffers, not the claimed length.
    let streamed = server.streamed();
    assert!(
        streamed < ScriptedMemcached::STREAM_CAP / 4,
        "the client read {streamed} bytes of a value it should have refused"
    );
}

/// One byte over the default maximum record size (1 MiB, memcached's own default).
#[tokio::test]
async fn a_value_over_the_maximum_record_size_is_refused() {
    one_bad_reply_then_a_fresh_connection(Behaviour::ClaimLength((1 << 20) + 1)).await;
}

/// Two reads on one connection, answered in the wrong order: neither gets the other's
/// session.
#[tokio::test]
async fn replies_out_of_order_reach_no_one() {
    let (server, store, alice, bob) = alice_and_bob(Behaviour::SwapReplies);
    let (for_alice, for_bob) = tokio::join!(owner(&store, &alice), owner(&store, &bob));
    assert!(for_alice.is_err(), "alice's read returned {for_alice:?}");
    assert!(for_bob.is_err(), "bob's read returned {for_bob:?}");
    assert_eq!(
        owner(&store, &bob).await.expect("fresh connection"),
        Some("\"bob\"".to_owned())
    );
    assert_eq!(server.accepted(), 2);
    assert_eq!(STORE_PANICS.load(Ordering::SeqCst), 0, "a task panicked");
}

/// A stale reply (the previous command's, again) in front of the right one: the next
/// request must not take it for its own.
#[tokio::test]
async fn a_reply_to_a_command_not_sent_reaches_no_one() {
    let (server, store, alice, bob) = alice_and_bob(Behaviour::ExtraReply);
    assert_eq!(
        owner(&store, &alice).await.expect("answered honestly"),
        Some("\"alice\"".to_owned())
    );
    let for_bob = owner(&store, &bob).await;
    assert!(for_bob.is_err(), "bob's read returned {for_bob:?}");
    assert_eq!(
        owner(&store, &bob).await.expect("fresh connection"),
        Some("\"bob\"".to_owned())
    );
    assert_eq!(server.accepted(), 2);
    assert_eq!(STORE_PANICS.load(Ordering::SeqCst), 0, "a task panicked");
}

/// A reply that comes only after its request timed out: the request fails within the
/// command timeout, and the late reply reaches no later request. (The server sends it
/// only once another command arrives on that connection: no race with the clock.)
#[tokio::test]
async fn a_late_reply_after_a_timeout_reaches_no_one() {
    let (server, store, alice, bob) = alice_and_bob(Behaviour::LateReply);
    let started = tokio::time::Instant::now();
    let for_alice = owner(&store, &alice).await;
    assert!(
        for_alice.is_err(),
        "a read without a reply returned {for_alice:?}"
    );
    assert!(started.elapsed() >= TIMEOUT, "failed before its timeout");
    // Bob's read is the command that would release alice's late reply.
    assert_eq!(
        owner(&store, &bob).await.expect("answered"),
        Some("\"bob\"".to_owned())
    );
    assert_eq!(
        owner(&store, &alice).await.expect("answered"),
        Some("\"alice\"".to_owned())
    );
    // The timed-out connection was dropped, so the late reply had no one to reach.
    assert_eq!(server.accepted(), 2);
    assert_eq!(STORE_PANICS.load(Ordering::SeqCst), 0, "a task panicked");
}

/// A server that stops answering mid-connection: every request on it fails within the
/// command timeout, the client hangs up on it, and the next request dials again.
#[tokio::test]
async fn a_server_that_freezes_fails_every_request_on_the_connection() {
    count_store_panics();
    let server = ScriptedMemcached::start([Behaviour::Freeze]);
    let store = store(&server);
    let ids: Vec<SessionId> = (0..10)
        .map(|n| seeded(&server, &store, &n.to_string()))
        .collect();
    let reads: Vec<_> = ids
        .iter()
        .map(|id| {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move { owner(&store, &id).await })
        })
        .collect();
    for read in reads {
        let read = read.await.expect("the read's task");
        assert!(
            matches!(read, Err(ref error) if error.is_unavailable()),
            "{read:?}"
        );
    }
    assert_eq!(
        owner(&store, &ids[0]).await.expect("fresh connection"),
        Some("\"0\"".to_owned())
    );
    assert_eq!(server.accepted(), 2);
    // The frozen connection was closed by the client, not left to linger.
    for _ in 0..600 {
        if server.closed_by_client() >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        server.closed_by_client(),
        1,
        "the frozen connection was kept open"
    );
    assert_eq!(STORE_PANICS.load(Ordering::SeqCst), 0, "a task panicked");
}
