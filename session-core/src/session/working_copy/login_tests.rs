//! Renewal on a timer and the login choices, as working-copy transitions: when a
//! renewal is due, what it plans, how an explicit regeneration or a destroy overrides
//! it, a save the store renamed, and the meta a save hands over.
//! (`Session::set_user` dropping the old binding's generation is tested in
//! `session/tests.rs`.)

use std::time::{Duration, SystemTime};

use super::*;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
}

const INTERVAL: Duration = Duration::from_secs(600);

fn renewing() -> SessionPolicy {
    SessionPolicy {
        id_renewal: Some(INTERVAL),
        renewal_grace: Duration::from_secs(7),
        ..SessionPolicy::default()
    }
}

fn loaded(created: SystemTime, id_issued: Option<SystemTime>) -> WorkingCopy {
    let found = FoundSession {
        id: SessionId::generate().expect("id"),
        data: SessionData::default(),
        expires: None,
        created: Some(created),
        revision: None,
        meta: SessionMeta::default(),
        id_issued,
        reissue: false,
    };
    WorkingCopy::found(found, &renewing(), now(), SessionRules::default()).expect("live")
}

fn planned(copy: &WorkingCopy) -> PlannedWrite {
    match copy.plan(&renewing(), now()) {
        Plan::Write(write) => write,
        other => panic!("expected a write, planned {other:?}"),
    }
}

#[test]
fn renewal_is_due_from_the_ids_issue_or_else_the_creation() {
    let old = now() - INTERVAL;
    assert!(loaded(old, None).renewal_due(&renewing(), now()));
    assert!(!loaded(old + Duration::from_secs(1), None).renewal_due(&renewing(), now()));
    assert!(
        !loaded(old, Some(now())).renewal_due(&renewing(), now()),
        "issued just now"
    );
    assert!(
        !loaded(old, None).renewal_due(&SessionPolicy::default(), now()),
        "renewal off"
    );
    let mut fresh = WorkingCopy::fresh(false, SessionRules::default()).expect("fresh");
    fresh.created = Some(old);
    assert!(
        !fresh.renewal_due(&renewing(), now()),
        "nothing stored to renew"
    );
}

#[test]
fn a_renewal_plans_a_renew_with_the_grace_and_restarts_the_timer() {
    let mut copy = loaded(now() - INTERVAL, None);
    let old = copy.id().clone();
    copy.renew_id(SessionId::generate().expect("id"), now());
    assert!(copy.is_dirty());
    assert_ne!(copy.id(), &old);
    let write = planned(&copy);
    assert_eq!(
        write.mode(),
        WriteMode::Renew {
            from: &old,
            grace: Duration::from_secs(7)
        }
    );
    assert_eq!(write.stored.id_issued, Some(now()));
    assert!(!copy.renewal_due(&renewing(), now()));
}

#[test]
fn a_regeneration_during_a_renewal_is_a_plain_move_and_a_destroy_deletes_the_old_record() {
    let mut copy = loaded(now() - INTERVAL, None);
    let old = copy.id().clone();
    copy.renew_id(SessionId::generate().expect("id"), now());
    copy.regenerate_id(SessionId::generate().expect("id"), now())
        .expect("regenerate");
    assert_eq!(planned(&copy).mode(), WriteMode::Move { from: &old });

    let mut copy = loaded(now() - INTERVAL, None);
    let old = copy.id().clone();
    copy.renew_id(SessionId::generate().expect("id"), now());
    copy.destroy();
    assert_eq!(
        copy.plan(&renewing(), now()),
        Plan::Clear { delete: Some(old) }
    );
}

#[test]
fn a_save_renamed_by_the_store_settles_under_the_new_id() {
    let mut copy = loaded(now(), None);
    copy.set("a".into(), serde_json::json!(1)).expect("set");
    let write = planned(&copy);
    let successor = SessionId::generate().expect("id");
    let update = copy.settle_written(
        write,
        successor.as_str().to_owned(),
        Some(successor.clone()),
    );
    assert_eq!(copy.id(), &successor);
    assert_eq!(copy.record, Record::Current);
    assert!(matches!(
        update,
        CookieUpdate::Set {
            same_value: false,
            ..
        }
    ));
    assert!(!copy.is_dirty());
}

#[test]
fn login_choices_are_saved_whole_once_and_end_with_the_session() {
    let mut copy = loaded(now(), None);
    assert_eq!(
        copy.plan(&renewing(), now()),
        Plan::Nothing,
        "nothing chosen"
    );
    copy.change_meta(|meta| {
        meta.user = Some("ada".into());
        meta.user_generation = Some(7);
        meta.persistent = Some(false);
    })
    .expect("change");
    let write = planned(&copy);
    assert_eq!(
        write.changes.meta.as_ref().and_then(|m| m.user.as_deref()),
        Some("ada")
    );
    assert_eq!(write.stored.meta.persistent, Some(false));
    assert!(
        write.stored.last_used.is_some(),
        "a bound session records its last use"
    );
    let value = write.id.as_str().to_owned();
    let update = copy.settle_written(write, value, None);
    assert!(matches!(
        update,
        CookieUpdate::Set {
            persistent: false,
            ..
        }
    ));
    assert_eq!(copy.plan(&renewing(), now()), Plan::Nothing, "saved once");
    copy.destroy();
    assert_eq!(
        copy.meta(),
        &SessionMeta::default(),
        "a destroyed session has no user"
    );
}
