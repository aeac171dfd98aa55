//! Numbers survive any number of loads and saves bit for bit, in every codec a session
//! goes through: the record JSON of the Redis and memcached stores, and the cookie
//! storage's payload (which every cookie format then signs or seals as it is).
//!
//! serde_json's default float parser may land one ULP away from the number written, so
//! each save moved a stored number a little (the `payload` fuzz target found
//! `99900000015908979783594147830`); the workspace turns on `float_roundtrip`.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};
use session_cookie_store::CookieStore;
use session_core::{CookieUpdate, Session, StoredSession};

/// How many load/save cycles each value goes through.
const CYCLES: usize = 5;

fn through_records(value: &Value) -> Value {
    let mut record = StoredSession::default();
    record.data.values.insert("n".into(), value.clone());
    for _ in 0..CYCLES {
        let text = record.to_json().expect("serializes");
        record = StoredSession::from_json(&text).expect("parses");
    }
    record.data.values["n"].clone()
}

fn through_cookie_storage(value: &Value) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let backend = Arc::new(CookieStore::new());
        let mut cookie = None;
        let mut current = value.clone();
        for _ in 0..CYCLES {
            let session = Session::new(backend.clone(), cookie.clone());
            session.load().await.expect("load");
            if let Some(read) = session.get::<Value>("n").expect("get") {
                current = read;
            }
            // A write of another key re-saves the number as it was read.
            session.set("n", &current).expect("set");
            session.set("touch", cookie.is_some()).expect("set");
            match session.commit().await.expect("commit") {
                CookieUpdate::Set { value, .. } => cookie = Some(value),
                other => panic!("a dirty cookie session must be sent: {other:?}"),
            }
        }
        let session = Session::new(backend, cookie);
        session.load().await.expect("load");
        session.get::<Value>("n").expect("get").expect("present")
    })
}

fn assert_survives(value: &Value) {
    assert_eq!(&through_records(value), value, "record JSON");
    assert_eq!(&through_cookie_storage(value), value, "cookie storage");
}

#[test]
fn the_number_the_fuzzer_found_survives() {
    let text = "99900000015908979783594147830";
    let value: Value = serde_json::from_str(text).expect("a number");
    assert_survives(&value);
    assert_survives(&json!([{"aires": value}]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn finite_floats_survive_bit_for_bit(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        let value = json!(x);
        let back = through_records(&value).as_f64().expect("a float");
        prop_assert_eq!(back.to_bits(), x.to_bits(), "record JSON");
        let back = through_cookie_storage(&value).as_f64().expect("a float");
        prop_assert_eq!(back.to_bits(), x.to_bits(), "cookie storage");
    }

    #[test]
    fn large_integers_survive(n in any::<i64>(), m in any::<u64>()) {
        assert_survives(&json!(n));
        assert_survives(&json!(m));
    }

    #[test]
    fn integers_past_u64_survive_as_the_float_they_parse_to(digits in "[1-9][0-9]{20,30}") {
        let value: Value = serde_json::from_str(&digits).expect("a number");
        assert_survives(&value);
    }
}
