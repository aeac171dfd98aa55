//! React Router's flash rule ([`FlashLifetime::UntilRead`]): a flash lives until it is
//! read, the read removes it, and the next save stores the removal. The steps are those
//! of the vectors' `cookie_storage` section.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
}

/// A stored session holding `data`, loaded under `rules`.
fn loaded(data: SessionData, rules: SessionRules) -> WorkingCopy {
    let found = FoundSession {
        id: SessionId::generate().expect("id"),
        data,
        expires: None,
        created: Some(now()),
        revision: None,
        meta: SessionMeta::default(),
        id_issued: None,
        reissue: false,
    };
    WorkingCopy::found(found, &SessionPolicy::default(), now(), rules).expect("live")
}

fn found_with_flash() -> WorkingCopy {
    let mut data = SessionData::default();
    data.values.insert("count".into(), json!(3));
    data.flash.insert("notice".into(), json!("saved"));
    loaded(data, SessionRules::REACT_ROUTER)
}

fn stored_flash(copy: &WorkingCopy) -> Option<ValueMap> {
    match copy.plan(&SessionPolicy::default(), now()) {
        Plan::Write(write) => Some(write.stored.data.flash),
        _ => None,
    }
}

#[test]
fn an_unread_flash_makes_no_save_and_survives_one() {
    let mut copy = found_with_flash();
    assert!(
        !copy.is_dirty(),
        "loading a flash is no change under this rule"
    );
    assert_eq!(stored_flash(&copy), None, "nothing to save");
    copy.set("count".into(), json!(4)).expect("set");
    let kept = stored_flash(&copy).expect("a write");
    assert_eq!(kept.get("notice"), Some(&json!("saved")));
    assert!(copy.changes.flash_consumed.is_empty());
}

#[test]
fn reading_a_flash_removes_it_and_the_next_save_stores_that() {
    let mut copy = found_with_flash();
    assert!(copy.has("notice"));
    let edits = copy.edits;
    assert_eq!(copy.read("notice"), Some(json!("saved")));
    assert_eq!(copy.edits, edits + 1, "an edit, for a save racing it");
    assert_eq!(copy.read("notice"), None, "read once");
    assert!(!copy.has("notice"));
    assert!(copy.is_dirty());
    assert_eq!(stored_flash(&copy), Some(ValueMap::new()));
    assert_eq!(
        copy.changes.flash_consumed.get("notice"),
        Some(&json!("saved")),
        "a merge drops it only if it is still the value read"
    );
}

#[test]
fn a_flash_is_readable_in_the_request_that_set_it() {
    let mut copy = WorkingCopy::fresh(false, SessionRules::REACT_ROUTER).expect("fresh");
    copy.flash("notice".into(), json!("again")).expect("flash");
    assert!(copy.has("notice"));
    assert_eq!(copy.len(), 1);
    assert_eq!(copy.read("notice"), Some(json!("again")));
    assert_eq!(copy.read("notice"), None);
    assert!(copy.changes.flash_set.is_empty(), "never saved");
}

#[test]
fn a_new_flash_replaces_an_unread_arriving_one() {
    let mut copy = found_with_flash();
    copy.flash("notice".into(), json!("newer")).expect("flash");
    let stored = stored_flash(&copy).expect("a write");
    assert_eq!(stored.get("notice"), Some(&json!("newer")));
    assert_eq!(copy.read("notice"), Some(json!("newer")));
    assert_eq!(copy.read("notice"), None, "the older one went with it");
    assert_eq!(stored_flash(&copy), Some(ValueMap::new()));
}

#[test]
fn remix_rule_is_unchanged_reading_keeps_and_the_save_drops() {
    let mut data = SessionData::default();
    data.flash.insert("notice".into(), json!("saved"));
    let mut copy = loaded(data, SessionRules::REMIX);
    assert!(copy.is_dirty());
    assert_eq!(copy.read("notice"), Some(json!("saved")));
    assert_eq!(copy.read("notice"), Some(json!("saved")));
    assert_eq!(stored_flash(&copy), Some(ValueMap::new()));
    copy.flash("next".into(), json!(1)).expect("flash");
    assert_eq!(copy.read("next"), None, "visible next request only");
}

#[test]
fn a_flash_read_after_it_was_saved_is_removed_by_the_next_save() {
    let mut copy = WorkingCopy::fresh(false, SessionRules::REACT_ROUTER).expect("fresh");
    copy.flash("notice".into(), json!("saved")).expect("flash");
    let Plan::Write(write) = copy.plan(&SessionPolicy::default(), now()) else {
        panic!("a write");
    };
    let value = write.id.as_str().to_owned();
    copy.settle_written(write, value, None);
    assert!(copy.changes.flash_set.is_empty(), "saved");
    assert_eq!(copy.read("notice"), Some(json!("saved")));
    assert_eq!(
        copy.changes.flash_consumed.get("notice"),
        Some(&json!("saved")),
        "a merge must remove the saved flash"
    );
    assert_eq!(stored_flash(&copy), Some(ValueMap::new()));
}

#[test]
fn looking_does_not_consume_only_reading_does() {
    let mut copy = found_with_flash();
    assert_eq!(copy.lookup("notice"), Some(&json!("saved")));
    assert_eq!(copy.lookup("notice"), Some(&json!("saved")));
    assert!(!copy.is_dirty());
    copy.consume_read("notice");
    assert_eq!(copy.lookup("notice"), None);
    // A value under the same key is read instead, and consumes nothing.
    let mut copy = found_with_flash();
    copy.set("notice".into(), json!("value")).expect("set");
    assert_eq!(copy.read("notice"), Some(json!("value")));
    assert!(copy.changes.flash_consumed.is_empty());
}
