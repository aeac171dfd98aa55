//! The Redis merge script against a real Redis: what it leaves of a record it merges
//! into, byte for byte, and how it is loaded (by SHA-1, whole only when Redis lacks it).

use std::time::{Duration, SystemTime};

use redis::AsyncCommands;
use serde_json::{json, Value};
use session_core::{SessionChanges, SessionId, SessionStorage, StoredSession, ValueChange};
use session_redis_store::RedisStore;
use session_tests::servers::{redis_url, unique_prefix, RedisServer};

use crate::redis_store::{command_calls, raw};
use crate::support::{app, send, session_cookie};

fn store(url: &str, prefix: &str) -> RedisStore {
    RedisStore::builder()
        .url(url)
        .key_prefix(prefix)
        .build()
        .expect("valid Redis configuration")
}

/// What a save of a loaded session hands the store: the deadline and the changes.
fn saving(changes: &SessionChanges) -> StoredSession {
    let mut record = StoredSession {
        expires: Some(SystemTime::now() + Duration::from_secs(600)),
        created: Some(SystemTime::now()),
        ..StoredSession::default()
    };
    changes.apply_to(&mut record.data);
    record
}

/// Writes `text` as the record of a new session, runs `changes` through the store's
/// merge, and returns the record's text afterwards.
async fn merged(text: &str, changes: &SessionChanges) -> String {
    let prefix = unique_prefix("merge");
    let store = store(&redis_url(), &prefix);
    let id = SessionId::generate().expect("id");
    let mut conn = raw(&redis_url()).await;
    let key = store.key(&id);
    let _: () = conn.set(&key, text).await.expect("set");
    assert!(
        store
            .merge(&id, &saving(changes), changes)
            .await
            .expect("merge"),
        "the record was there"
    );
    conn.get(&key).await.expect("get")
}

fn set(changes: &mut SessionChanges, key: &str, value: Value) {
    changes.values.insert(key.into(), ValueChange::Set(value));
}

/// Lua's cjson would print these differently (14 significant digits, `[]` as `{}`,
/// `/` escaped): the script must copy untouched members exactly as they were written.
#[tokio::test]
async fn untouched_values_are_copied_byte_for_byte() {
    let untouched = concat!(
        r#""big":12345678901234567890,"precise":0.1000000000000000055511151231257827,"#,
        r#""empty":[],"url":"https:\/\/example.com/a","esc\"aped":"\u00e9\n","#,
        r#""nested":{"a":[1,{"b":"}"}],"c":"]"},"exp":1e21,"neg":-0.0"#
    );
    let text = format!(r#"[{{{untouched},"n":1}}, {{"notice":"x"}}]"#);
    let mut changes = SessionChanges::default();
    set(&mut changes, "n", json!(2));
    let after = merged(&text, &changes).await;
    assert!(
        after.starts_with(&format!(
            r#"[{{{untouched},"n":2}},{{"notice":"x"}},{{"expires":"#
        )),
        "{after}"
    );
    // And it is still a record both we and Remix (`JSON.parse`, then [0] and [1]) read.
    let parsed: Value = serde_json::from_str(&after).expect("JSON");
    assert_eq!(parsed[0]["n"], 2);
    assert_eq!(parsed[0]["esc\"aped"], "é\n");
    assert_eq!(parsed[1]["notice"], "x");
    StoredSession::from_json(&after).expect("our reader takes it");
}

/// Each kind of change, against a record Remix wrote (no stamp, spaces after commas,
/// a key given twice, escaped keys).
#[tokio::test]
async fn every_kind_of_change_applies_as_apply_to_says() {
    let text = r#"[ {"keep": 1, "drop": true, "hits": 41, "text": "x", "dup": 1, "dup": 2, "caf\u00e9": 0},
        {"old": "seen", "kept": "newer", "error": {"type": "login", "message": "Invalid"}} ]"#;
    let mut changes = SessionChanges::default();
    changes.values.insert("drop".into(), ValueChange::Remove);
    changes
        .values
        .insert("hits".into(), ValueChange::Increment(2));
    changes
        .values
        .insert("text".into(), ValueChange::Increment(5));
    changes
        .values
        .insert("fresh".into(), ValueChange::Increment(-3));
    changes
        .values
        .insert("café".into(), ValueChange::Increment(1));
    set(&mut changes, "dup", json!("one"));
    set(&mut changes, "new", json!({"deep": [1, 2]}));
    changes.flash_consumed.insert("old".into(), json!("seen"));
    changes.flash_consumed.insert("kept".into(), json!("older"));
    // Seen as serde prints it (keys sorted), stored as Remix wrote it: the same value.
    changes.flash_consumed.insert(
        "error".into(),
        json!({"type": "login", "message": "Invalid"}),
    );
    changes.flash_set.insert("next".into(), json!("hello"));
    let after = merged(text, &changes).await;
    let record = StoredSession::from_json(&after).expect("a record");

    // The reference: the same changes applied in Rust to the same record.
    let mut expected = StoredSession::from_json(text).expect("Remix's record").data;
    changes.apply_to(&mut expected);
    assert_eq!(record.data, expected, "{after}");
    assert_eq!(record.data.values["hits"], 43);
    assert_eq!(
        record.data.values["text"], 5,
        "not an integer: counts from 0"
    );
    assert_eq!(record.data.values["fresh"], -3);
    assert!(record.expires.is_some(), "the stamp is written");
    assert_eq!(after.matches("\"dup\"").count(), 1, "{after}");
    assert!(
        !record.data.flash.contains_key("error"),
        "a consumed flash shown again"
    );
}

/// Records that are not session records are left alone and count as no session.
#[tokio::test]
async fn a_corrupt_record_is_not_merged_into() {
    let prefix = unique_prefix("merge-corrupt");
    let store = store(&redis_url(), &prefix);
    let mut conn = raw(&redis_url()).await;
    let mut changes = SessionChanges::default();
    set(&mut changes, "a", json!(1));
    for text in [
        "{}",
        "[1, {}]",
        "[{\"a\":1",
        "[{\"a\":\"unterminated}]",
        "null",
        "",
    ] {
        let id = SessionId::generate().expect("id");
        let key = store.key(&id);
        let _: () = conn.set(&key, text).await.expect("set");
        assert!(
            !store
                .merge(&id, &saving(&changes), &changes)
                .await
                .expect("merge"),
            "merged into {text:?}"
        );
        let left: String = conn.get(&key).await.expect("get");
        assert_eq!(left, text, "changed a record it could not read");
    }
}

/// The merge script goes by its SHA-1: sent whole once per server (the first save,
/// answered `NOSCRIPT`), and again only after Redis forgot it (`SCRIPT FLUSH`, a
/// restart), with the save going through every time.
#[tokio::test]
async fn scripts_are_sent_whole_only_when_redis_lacks_them() {
    let server = RedisServer::start();
    let app = app(store(&server.url(), "session:"));
    let mut conn = raw(&server.url()).await;
    let cookie = session_cookie(&send(&app, "/write", None).await);
    let mut counts = Vec::new();
    for flush in [false, false, true, false] {
        if flush {
            let _: () = redis::cmd("SCRIPT")
                .arg("FLUSH")
                .query_async(&mut conn)
                .await
                .expect("flush");
        }
        let response = send(&app, "/write", cookie.as_deref()).await;
        assert_eq!(response.status(), http::StatusCode::OK);
        counts.push(script_calls(&mut conn).await);
    }
    // (EVALSHA calls, EVAL calls) after each save, cumulative.
    assert_eq!(counts, [(1, 1), (2, 1), (3, 2), (4, 2)]);
    let response = send(&app, "/write", cookie.as_deref()).await;
    assert_eq!(
        crate::support::body_text(response).await,
        "6",
        "every save counted"
    );
}

/// `EVALSHA` and `EVAL` calls so far.
async fn script_calls(conn: &mut redis::aio::MultiplexedConnection) -> (u64, u64) {
    let calls = command_calls(conn).await;
    let count = |name: &str| calls.get(name).copied().unwrap_or(0);
    (count("evalsha"), count("eval"))
}

/// The shortcut: a save whose loaded revision is still the record's writes its whole
/// record; one whose revision is stale (another save landed since) merges instead, so
/// the other save's key survives.
#[tokio::test]
async fn only_a_record_unchanged_since_it_was_read_is_written_whole() {
    let store = store(&redis_url(), &unique_prefix("merge-revision"));
    let (id, loaded) = stored_and_loaded(&store).await;
    assert!(loaded.revision.is_some(), "every write stamps a revision");
    // Two requests loaded `loaded`; each changes a key of its own.
    for key in ["first", "second"] {
        let mut changes = SessionChanges::default();
        set(&mut changes, key, json!(true));
        let mut record = StoredSession {
            expires: Some(SystemTime::now() + Duration::from_secs(600)),
            ..loaded.clone()
        };
        changes.apply_to(&mut record.data);
        assert!(store.merge(&id, &record, &changes).await.expect("merge"));
    }
    let after = store.read(&id).await.expect("read").expect("stored");
    assert_eq!(
        after.data.values["first"], true,
        "the second save lost the first"
    );
    assert_eq!(after.data.values["second"], true);
    assert_ne!(after.revision, loaded.revision);
}

/// The shortcut is taken: with the revision still the one loaded, the script writes
/// the request's record as it is, without looking at what the key holds (here a key
/// planted under the same revision, which a merge would have kept).
#[tokio::test]
async fn with_the_revision_unchanged_the_whole_record_is_written_as_sent() {
    let store = store(&redis_url(), &unique_prefix("merge-shortcut"));
    let (id, loaded) = stored_and_loaded(&store).await;
    let revision = loaded.revision.expect("a revision");
    let mut conn = raw(&redis_url()).await;
    let planted = format!(r#"[{{"planted":1}},{{}},{{"rev":{revision}}}]"#);
    let _: () = conn.set(store.key(&id), &planted).await.expect("set");
    let mut changes = SessionChanges::default();
    set(&mut changes, "mine", json!(1));
    let mut record = loaded.clone();
    changes.apply_to(&mut record.data);
    assert!(store.merge(&id, &record, &changes).await.expect("merge"));
    let after = store.read(&id).await.expect("read").expect("stored");
    assert_eq!(after.data.values.get("planted"), None, "merged instead");
    assert_eq!(after.data.values["mine"], 1);
}

/// A new session created through the store, and the record a request then loads.
async fn stored_and_loaded(store: &RedisStore) -> (SessionId, StoredSession) {
    let id = SessionId::generate().expect("id");
    assert!(store
        .create(&id, &saving(&SessionChanges::default()))
        .await
        .expect("create"));
    let loaded = store.read(&id).await.expect("read").expect("stored");
    (id, loaded)
}
