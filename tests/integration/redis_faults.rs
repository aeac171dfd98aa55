//! The Redis store against protocol anomalies no real server produces on demand, played
//! by a scripted server: garbage, truncated replies, absurd lengths, replies to
//! commands never sent, swapped replies, replies of the wrong type.
//!
//! Every anomaly must end in a clear error for the requests on that connection and a
//! fresh connection afterwards: never another request's data, never a panic, never a
//! hang past the timeout.

use std::future::Future;
use std::time::Duration;

use serde_json::json;
use session_core::{Error, SessionId, SessionStorage, StoredSession};
use session_redis_store::RedisStore;
use session_tests::servers::{bulk, Anomaly, Fault, ScriptedRedis};

use crate::support::full_message;

const TIMEOUT: Duration = Duration::from_millis(300);

/// A hang guard, not a performance threshold: ten times the command timeout.
async fn bounded<F: Future>(request: F) -> F::Output {
    tokio::time::timeout(TIMEOUT * 10, request)
        .await
        .expect("the request hung past its timeouts")
}

/// Two sessions on a scripted server, alice's and bob's, and a store on one connection
/// slot (so that "a fresh connection" is the next one the server accepts).
struct Fixture {
    server: ScriptedRedis,
    store: RedisStore,
    alice: SessionId,
    bob: SessionId,
}

fn record(user: &str) -> StoredSession {
    StoredSession {
        data: serde_json::from_value(json!([{ "user": user }, {}])).expect("valid record"),
        expires: None,
        created: None,
        ..StoredSession::default()
    }
}

fn json(user: &str) -> Vec<u8> {
    record(user).to_json().expect("encodes").into_bytes()
}

fn user(found: &Option<StoredSession>) -> Option<&str> {
    found.as_ref()?.data.values.get("user")?.as_str()
}

impl Fixture {
    fn start(anomalies: Vec<Anomaly>) -> Self {
        let server = ScriptedRedis::start(anomalies);
        let store = RedisStore::builder()
            .url(server.url())
            .connections(1)
            .connect_timeout(TIMEOUT)
            .command_timeout(TIMEOUT)
            .build()
            .expect("valid");
        let (alice, bob) = (SessionId::generate(), SessionId::generate());
        let (alice, bob) = (alice.expect("id"), bob.expect("id"));
        server.insert(store.key(&alice), json("alice"));
        server.insert(store.key(&bob), json("bob"));
        Self {
            server,
            store,
            alice,
            bob,
        }
    }

    /// Dials the connection with a command that is no `GET` (a delete), so that reads
    /// sent together next leave in one batch.
    async fn dial(&self) {
        let nobody = SessionId::generate().expect("id");
        bounded(self.store.delete(&nobody)).await.expect("a delete");
    }

    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        bounded(self.store.read(id)).await
    }

    /// The anomaly's request failed clearly: an outage (503), a message that says what
    /// went wrong and what to check, and nothing of the sessions in it.
    fn assert_clear(&self, error: &Error) {
        assert!(error.is_unavailable(), "not an outage: {error}");
        let message = full_message(error);
        assert!(
            message.contains("Redis"),
            "says nothing of Redis: {message}"
        );
        assert!(message.contains("check"), "says nothing to do: {message}");
        for secret in [self.alice.as_str(), self.bob.as_str(), "alice", "bob"] {
            assert!(!message.contains(secret), "quotes a session: {message}");
        }
    }

    /// After the anomaly: a read on a connection dialled since `accepted` returns
    /// alice's own record.
    async fn assert_recovers(&self, accepted: usize) {
        let found = self.read(&self.alice).await.expect("a fresh connection");
        assert_eq!(user(&found), Some("alice"));
        assert!(
            self.server.accepted() > accepted,
            "the broken connection carried the next request"
        );
    }

    /// `fault` on the first connection's first `GET`: the read fails clearly, and the
    /// next one succeeds on a fresh connection.
    async fn assert_read_fails_then_recovers(&self) {
        let error = self
            .read(&self.alice)
            .await
            .expect_err("the anomaly is an error");
        self.assert_clear(&error);
        self.assert_recovers(1).await;
    }
}

fn on_first_get(fault: Fault) -> Vec<Anomaly> {
    vec![Anomaly::at(1, "GET", fault)]
}

#[tokio::test]
async fn garbage_instead_of_a_reply() {
    for garbage in [
        &b"hello, this is not RESP\r\n"[..],
        b"$12x\r\n",
        // A length past i64: not a number RESP allows.
        b"$99999999999999999999\r\n",
    ] {
        let fixture = Fixture::start(on_first_get(Fault::Replace(garbage.to_vec())));
        fixture.assert_read_fails_then_recovers().await;
    }
}

#[tokio::test]
async fn a_truncated_reply_then_a_close() {
    let mut truncated = bulk(&json("alice"));
    truncated.truncate(12);
    let fixture = Fixture::start(on_first_get(Fault::ReplaceThenClose(truncated)));
    fixture.assert_read_fails_then_recovers().await;
}

#[tokio::test]
async fn a_truncated_reply_then_silence() {
    let mut truncated = bulk(&json("alice"));
    truncated.truncate(12);
    let fixture = Fixture::start(on_first_get(Fault::ReplaceThenHang(truncated)));
    fixture.assert_read_fails_then_recovers().await;
}

/// Lengths of 2^63 - 1: nothing is allocated for them, and the wait for the bytes
/// they announce ends at the command timeout (the server carries on answering).
#[tokio::test]
async fn absurd_lengths() {
    for header in [
        &b"$9223372036854775807\r\n"[..],
        b"*9223372036854775807\r\n",
    ] {
        let fixture = Fixture::start(on_first_get(Fault::Replace(header.to_vec())));
        fixture.assert_read_fails_then_recovers().await;
    }
}

/// Before the connection's first command: the client's set-up takes it for the reply
/// to its own (ignored) `CLIENT SETINFO`, and redis-rs drops the set-up reply left over,
/// which arrives while no request waits. Either way no request may take it for its
/// answer.
#[tokio::test]
async fn an_unsolicited_reply_before_any_command() {
    let fixture = Fixture::start(vec![Anomaly::at(
        1,
        "",
        Fault::OnAccept(bulk(&json("bob"))),
    )]);
    for (id, name) in [(&fixture.alice, "alice"), (&fixture.bob, "bob")] {
        match fixture.read(id).await {
            Ok(found) => assert_eq!(user(&found), Some(name), "{name} got another session"),
            Err(error) => fixture.assert_clear(&error),
        }
    }
    let found = fixture.read(&fixture.alice).await.expect("in step again");
    assert_eq!(user(&found), Some("alice"));
}

/// The read of alice's session meets a reply meant for no command (bob's record)
/// before its own.
#[tokio::test]
async fn an_unsolicited_reply_before_an_answer() {
    let fixture = Fixture::start(on_first_get(Fault::Before(bulk(&json("bob")))));
    let alice = fixture.read(&fixture.alice).await;
    assert_ne!(
        alice.as_ref().ok().and_then(user),
        Some("bob"),
        "alice got bob's session"
    );
    let error = alice.expect_err("the request on the shifted connection fails");
    fixture.assert_clear(&error);
    let bob = fixture
        .read(&fixture.bob)
        .await
        .expect("a fresh connection");
    assert_eq!(user(&bob), Some("bob"));
    fixture.assert_recovers(1).await;
}

/// Two reads in one batch, and an extra reply (a copy of alice's record) between
/// their answers: bob's read would take it for its own.
#[tokio::test]
async fn an_unsolicited_reply_between_two_answers() {
    let fixture = Fixture::start(on_first_get(Fault::After(bulk(&json("alice")))));
    fixture.dial().await;
    let (alice, bob) = tokio::join!(fixture.read(&fixture.alice), fixture.read(&fixture.bob));
    assert_ne!(
        bob.as_ref().ok().and_then(user),
        Some("alice"),
        "bob got alice's session"
    );
    for result in [alice, bob] {
        let error = result.expect_err("the requests on the shifted connection fail");
        fixture.assert_clear(&error);
    }
    fixture.assert_recovers(1).await;
}

#[tokio::test]
async fn an_unsolicited_reply_inside_a_transaction() {
    let fixture = Fixture::start(vec![Anomaly::at(
        1,
        "MULTI",
        Fault::Before(b"+OK\r\n".to_vec()),
    )]);
    let moved = SessionId::generate().expect("id");
    let replaced = bounded(
        fixture
            .store
            .replace(&fixture.alice, &moved, &record("alice")),
    )
    .await;
    let error = replaced.expect_err("the shifted transaction fails");
    fixture.assert_clear(&error);
    // Redis did run it: the session lives under its new ID, read on a fresh connection.
    let found = fixture.read(&moved).await.expect("a fresh connection");
    assert_eq!(user(&found), Some("alice"));
    assert_eq!(fixture.server.accepted(), 2);
    let bob = fixture.read(&fixture.bob).await.expect("bob's session");
    assert_eq!(user(&bob), Some("bob"));
}

/// Alice's reply is held back until the next command's has gone out: with bob's read
/// sent on the same connection meanwhile, the two would trade sessions.
#[tokio::test]
async fn replies_out_of_order_across_requests() {
    let fixture = Fixture::start(on_first_get(Fault::SwapWithNext));
    let (alice, bob) = tokio::join!(fixture.read(&fixture.alice), async {
        // Bob's read leaves once alice's has reached the server (counted, not timed).
        while fixture.server.received("GET") == 0 {
            tokio::task::yield_now().await;
        }
        fixture.read(&fixture.bob).await
    });
    assert_ne!(
        alice.as_ref().ok().and_then(user),
        Some("bob"),
        "alice got bob's session"
    );
    assert_ne!(
        bob.as_ref().ok().and_then(user),
        Some("alice"),
        "bob got alice's session"
    );
    let error = alice.expect_err("the request whose reply came out of order fails");
    fixture.assert_clear(&error);
    if let Ok(bob) = bob {
        assert_eq!(user(&bob), Some("bob"));
    }
    fixture.assert_recovers(1).await;
}

/// The documented limit: RESP replies carry no reference to their command, so two
/// replies of the same type swapped inside one pipeline cannot be told from the right
/// order. A real Redis answers a connection's commands in order; this pins that the
/// store does not claim more.
#[tokio::test]
async fn replies_swapped_inside_one_batch_are_beyond_resp() {
    let fixture = Fixture::start(on_first_get(Fault::SwapWithNext));
    fixture.dial().await;
    let (alice, bob) = tokio::join!(fixture.read(&fixture.alice), fixture.read(&fixture.bob));
    let (alice, bob) = (alice.expect("undetected"), bob.expect("undetected"));
    assert_eq!((user(&alice), user(&bob)), (Some("bob"), Some("alice")));
}

#[tokio::test]
async fn replies_of_the_wrong_type_to_a_read() {
    for reply in [
        &b":1\r\n"[..],
        b"+OK\r\n",
        // Two integers that spell `[]`, an empty session, to a lenient conversion.
        b"*2\r\n:91\r\n:93\r\n",
    ] {
        let fixture = Fixture::start(on_first_get(Fault::Replace(reply.to_vec())));
        fixture.assert_read_fails_then_recovers().await;
    }
}

#[tokio::test]
async fn replies_of_the_wrong_type_to_a_write_or_a_delete() {
    for (command, reply) in [
        ("SET", &b"*1\r\n$2\r\nOK\r\n"[..]),
        ("SET", b"$2\r\nOK\r\n"),
        ("SET", b":1\r\n"),
        ("DEL", b"$1\r\n1\r\n"),
        ("DEL", b"+OK\r\n"),
    ] {
        let fixture = Fixture::start(vec![Anomaly::at(
            1,
            command,
            Fault::Replace(reply.to_vec()),
        )]);
        let result = match command {
            "SET" => {
                let carol = SessionId::generate().expect("id");
                bounded(fixture.store.create(&carol, &record("carol")))
                    .await
                    .map(drop)
            }
            _ => bounded(fixture.store.delete(&fixture.bob)).await.map(drop),
        };
        let error = result.expect_err("a reply that does not fit the command");
        fixture.assert_clear(&error);
        fixture.assert_recovers(1).await;
    }
}
