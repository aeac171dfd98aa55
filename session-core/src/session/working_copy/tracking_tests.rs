//! How the working copy records what a request changed, for a store that merges: each
//! edit lands in the changes, a save hands them over, and settling forgets exactly
//! what was saved.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;
use crate::ValueChange;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
}

/// A copy loaded from a record holding `{"n": 5, "name": "Zoë"}` and an arriving flash.
fn loaded() -> WorkingCopy {
    let mut data = SessionData::default();
    data.values.insert("n".into(), json!(5));
    data.values.insert("name".into(), json!("Zoë"));
    data.flash.insert("notice".into(), json!("saved"));
    let found = FoundSession {
        id: SessionId::generate().expect("id"),
        data,
        expires: None,
        created: Some(now()),
        revision: Some(99),
        meta: Default::default(),
        id_issued: None,
        reissue: false,
    };
    WorkingCopy::found(
        found,
        &SessionPolicy::default(),
        now(),
        SessionRules::default(),
    )
    .expect("live")
}

fn written(copy: &WorkingCopy) -> PlannedWrite {
    match copy.plan(&SessionPolicy::default(), now()) {
        Plan::Write(write) => write,
        other => panic!("expected a write, planned {other:?}"),
    }
}

#[test]
fn a_loaded_flash_is_a_consumption_to_save_and_the_revision_is_handed_back() {
    let copy = loaded();
    let write = written(&copy);
    assert_eq!(write.changes.flash_consumed["notice"], "saved");
    assert!(write.changes.values.is_empty() && write.changes.flash_set.is_empty());
    assert_eq!(write.stored.revision, Some(99));
    assert!(
        write.stored.data.flash.is_empty(),
        "the whole record drops it too"
    );
}

#[test]
fn every_edit_is_recorded_key_by_key() {
    let mut copy = loaded();
    copy.set("a".into(), json!(1)).expect("set");
    copy.set("name".into(), Value::Null).expect("set null");
    copy.remove("gone").expect("remove");
    copy.flash("next".into(), json!("hi")).expect("flash");
    assert_eq!(copy.increment("n", 2).expect("a counter"), 7);
    assert_eq!(copy.increment("fresh", 1).expect("absent counts as 0"), 1);
    let changes = written(&copy).changes;
    assert_eq!(changes.values["a"], ValueChange::Set(json!(1)));
    assert_eq!(changes.values["name"], ValueChange::Remove);
    assert_eq!(changes.values["gone"], ValueChange::Remove);
    assert_eq!(changes.values["n"], ValueChange::Increment(2));
    assert_eq!(changes.values["fresh"], ValueChange::Increment(1));
    assert_eq!(changes.flash_set["next"], "hi");
    // The whole record agrees with the changes applied to what was loaded.
    let write = written(&copy);
    assert_eq!(write.stored.data.values["n"], 7);
    assert!(!write.stored.data.values.contains_key("name"));
}

#[test]
fn incrementing_a_non_integer_fails_and_changes_nothing() {
    let mut copy = loaded();
    let edits = copy.edits;
    assert!(matches!(
        copy.increment("name", 1),
        Err(Error::NotACounter { key }) if key == "name"
    ));
    assert_eq!(copy.edits, edits);
    assert!(!copy.changes.values.contains_key("name"));
    assert_eq!(copy.read("name"), Some(json!("Zoë")));
}

#[test]
fn a_saved_increment_is_not_saved_again_but_one_made_during_the_save_is() {
    let mut copy = loaded();
    copy.increment("n", 1).expect("counter");
    let write = written(&copy);
    copy.increment("n", 10)
        .expect("another clone, during the write");
    let id = write.id.as_str().to_owned();
    copy.settle_written(write, id, None);
    let next = written(&copy);
    assert_eq!(next.changes.values["n"], ValueChange::Increment(10));
    assert!(next.changes.flash_consumed.is_empty(), "consumed once only");
    assert_eq!(next.stored.revision, None, "unknown after a save");
}

#[test]
fn a_write_after_destroy_starts_with_no_changes_to_merge() {
    let mut copy = loaded();
    copy.set("a".into(), json!(1)).expect("set");
    copy.destroy();
    assert_eq!(copy.increment("n", 1).expect("starts over at 0"), 1);
    let write = written(&copy);
    assert!(matches!(write.mode(), WriteMode::Replace { .. }));
    assert_eq!(write.changes.values.len(), 1);
    assert!(write.changes.flash_consumed.is_empty());
    assert_eq!(write.stored.data.values.len(), 1);
}
