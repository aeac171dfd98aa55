//! A lending plan (the middleware's last handle): the write takes the working copy's
//! values and changes instead of copying them, and every way the write can end gives
//! them back, so the session after it is what a copying plan would have left.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
}

/// A loaded copy holding `{"n": 5}`, with `n` then set to 6 by this request.
fn edited() -> WorkingCopy {
    let mut data = SessionData::default();
    data.values.insert("n".into(), json!(5));
    let found = FoundSession {
        id: SessionId::generate().expect("id"),
        data,
        expires: None,
        created: Some(now()),
        revision: None,
        meta: Default::default(),
        id_issued: None,
        reissue: false,
    };
    let policy = SessionPolicy::default();
    let mut copy =
        WorkingCopy::found(found, &policy, now(), SessionRules::default()).expect("live");
    copy.set("n".into(), json!(6)).expect("set");
    copy
}

fn lent(copy: &mut WorkingCopy) -> PlannedWrite {
    match copy.plan_lending(&SessionPolicy::default(), now()) {
        Plan::Write(write) => write,
        other => panic!("expected a write, planned {other:?}"),
    }
}

#[test]
fn a_lending_plan_writes_what_a_copying_plan_writes() {
    let mut copy = edited();
    let Plan::Write(copied) = copy.plan(&SessionPolicy::default(), now()) else {
        panic!("expected a write");
    };
    let write = lent(&mut copy);
    assert_eq!(write.stored, copied.stored);
    assert_eq!(write.changes, copied.changes);
    assert!(write.lent && !copied.lent);
    assert!(copy.values.is_empty(), "taken, not copied");
}

#[test]
fn a_settled_lending_write_gives_the_values_back_and_leaves_nothing_to_save() {
    let mut copy = edited();
    let write = lent(&mut copy);
    let value = write.id.as_str().to_owned();
    copy.settle_written(write, value, None);
    assert_eq!(copy.read("n"), Some(json!(6)));
    assert!(!copy.is_dirty());
    assert!(copy.changes.is_empty());
    assert_eq!(copy.plan(&SessionPolicy::default(), now()), Plan::Nothing);
}

#[test]
fn a_lending_write_that_stored_nothing_leaves_the_session_as_it_was() {
    let mut copy = edited();
    let Plan::Write(before) = copy.plan(&SessionPolicy::default(), now()) else {
        panic!("expected a write");
    };
    let mut write = lent(&mut copy);
    // A failed write, a taken ID or a gone record: the same hand-back first.
    copy.take_back(&mut write);
    assert!(!write.lent, "handed back once");
    assert_eq!(copy.read("n"), Some(json!(6)));
    assert!(copy.is_dirty());
    assert_eq!(
        copy.plan(&SessionPolicy::default(), now()),
        Plan::Write(before)
    );
    // A second hand-back changes nothing.
    copy.take_back(&mut write);
    assert_eq!(copy.read("n"), Some(json!(6)));
}

#[test]
fn a_lending_plan_with_nothing_to_write_keeps_the_maps() {
    let mut copy = edited();
    let write = lent(&mut copy);
    let value = write.id.as_str().to_owned();
    copy.settle_written(write, value, None);
    assert_eq!(
        copy.plan_lending(&SessionPolicy::default(), now()),
        Plan::Nothing
    );
    assert_eq!(copy.read("n"), Some(json!(6)), "nothing taken");
}
