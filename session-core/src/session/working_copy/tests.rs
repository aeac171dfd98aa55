//! The state machine as a table: one row per (state, event) → (state, plan), with no
//! backend and no runtime. Rows name states by how a request reaches them.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::*;

const T0: SystemTime = SystemTime::UNIX_EPOCH;

fn now() -> SystemTime {
    T0 + Duration::from_secs(1_000_000)
}

fn policy() -> SessionPolicy {
    SessionPolicy::default()
}

/// How a request reached the state a row starts from.
#[derive(Clone, Copy, Debug)]
enum Start {
    /// No cookie: a new session.
    Fresh,
    /// A cookie naming no live session: a new session, and a cookie to clear on destroy.
    FreshWithCookie,
    /// Found in storage, untouched.
    Loaded,
    /// Found, then changed.
    LoadedDirty,
    /// Found, then `regenerate_id`.
    Regenerated,
    /// Found, `regenerate_id`, then `destroy`.
    RegeneratedDestroyed,
    /// Found, then `destroy`.
    Destroyed,
    /// No cookie, then `destroy`.
    DestroyedFresh,
    /// Found, `destroy`, then a write: starts over.
    Reused,
    /// Found and changed; the save found the record deleted by a concurrent logout.
    Gone,
    /// Found, destroyed, and the destroy carried out.
    Cleared,
}

#[derive(Clone, Copy, Debug)]
enum Event {
    Read,
    Set,
    Remove,
    Flash,
    Regenerate,
    Destroy,
    /// Plan, then the backend stored the write.
    Written,
    /// Plan, then the backend found the new ID taken.
    IdTaken,
    /// Plan, then the backend found the record gone.
    Gone,
    /// Plan, then the planned delete was carried out.
    Cleared,
}

/// Where the record stands, relative to the ID the row's start had a record under.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stands {
    New,
    Current,
    EarlierStored,
    DiscardedStored,
    EarlierOther,
}

/// Whether the current ID is the one the row started with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Id {
    Same,
    New,
}

/// What the next commit would do, relative to the ID the row's start had a record
/// under.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Next {
    Nothing,
    ClearOnly,
    DeleteStored,
    Create,
    Update,
    MoveStored,
    ReplaceStored,
    Other,
}

fn found(id: SessionId, reissue: bool) -> FoundSession {
    let mut data = SessionData::default();
    data.values.insert("a".into(), json!(1));
    FoundSession {
        id,
        data,
        expires: None,
        created: Some(now() - Duration::from_secs(60)),
        revision: Some(41),
        meta: Default::default(),
        id_issued: None,
        reissue,
    }
}

fn loaded() -> WorkingCopy {
    let id = SessionId::generate().expect("id");
    WorkingCopy::found(found(id, false), &policy(), now(), SessionRules::default())
        .expect("live record")
}

fn planned_write(copy: &WorkingCopy) -> PlannedWrite {
    match copy.plan(&policy(), now()) {
        Plan::Write(write) => write,
        other => panic!("expected a write, planned {other:?}"),
    }
}

fn start(from: Start) -> WorkingCopy {
    let mut copy = match from {
        Start::Fresh | Start::DestroyedFresh => {
            WorkingCopy::fresh(false, SessionRules::default()).expect("fresh")
        }
        Start::FreshWithCookie => WorkingCopy::fresh(true, SessionRules::default()).expect("fresh"),
        _ => loaded(),
    };
    match from {
        Start::LoadedDirty | Start::Gone => copy.set("b".into(), json!(2)).expect("set"),
        Start::Regenerated => copy.regenerate_id(new_id(), now()).expect("regenerate"),
        Start::RegeneratedDestroyed => {
            copy.regenerate_id(new_id(), now()).expect("regenerate");
            copy.destroy();
        }
        Start::Destroyed | Start::DestroyedFresh | Start::Cleared => copy.destroy(),
        Start::Reused => {
            copy.destroy();
            copy.set("b".into(), json!(2)).expect("set");
        }
        Start::Fresh | Start::FreshWithCookie | Start::Loaded => {}
    }
    match from {
        Start::Gone => {
            let write = planned_write(&copy);
            copy.settle_gone(&write);
        }
        Start::Cleared => {
            assert!(matches!(copy.plan(&policy(), now()), Plan::Clear { .. }));
            copy.settle_cleared();
        }
        _ => {}
    }
    copy
}

fn new_id() -> SessionId {
    SessionId::generate().expect("id")
}

fn apply(copy: &mut WorkingCopy, event: Event) -> Option<CookieUpdate> {
    match event {
        Event::Read => {
            copy.read("a");
        }
        Event::Set => copy.set("b".into(), json!(2)).expect("set"),
        Event::Remove => {
            copy.remove("a").expect("remove");
        }
        Event::Flash => copy.flash("notice".into(), json!("hi")).expect("flash"),
        Event::Regenerate => copy.regenerate_id(new_id(), now()).expect("regenerate"),
        Event::Destroy => copy.destroy(),
        Event::Written => {
            let write = planned_write(copy);
            let value = write.id.as_str().to_owned();
            return Some(copy.settle_written(write, value, None));
        }
        Event::IdTaken => {
            let write = planned_write(copy);
            copy.settle_id_taken(&write, new_id());
        }
        Event::Gone => {
            let write = planned_write(copy);
            return Some(copy.settle_gone(&write));
        }
        Event::Cleared => {
            assert!(matches!(copy.plan(&policy(), now()), Plan::Clear { .. }));
            return Some(copy.settle_cleared());
        }
    }
    None
}

fn stands(copy: &WorkingCopy, stored: Option<&SessionId>) -> Stands {
    match &copy.record {
        Record::New => Stands::New,
        Record::Current => Stands::Current,
        Record::Earlier(id) if Some(id) == stored => Stands::EarlierStored,
        Record::Discarded(id) if Some(id) == stored => Stands::DiscardedStored,
        Record::Earlier(_) | Record::Discarded(_) => Stands::EarlierOther,
        Record::Renewing(_) => unreachable!("no row renews: renewal has its own tests"),
    }
}

fn next(copy: &WorkingCopy, stored: Option<&SessionId>) -> Next {
    match copy.plan(&policy(), now()) {
        Plan::Nothing => Next::Nothing,
        Plan::Clear { delete: None } => Next::ClearOnly,
        Plan::Clear { delete: Some(id) } if Some(&id) == stored => Next::DeleteStored,
        Plan::Write(write) => match write.mode() {
            WriteMode::Create => Next::Create,
            WriteMode::Update => Next::Update,
            WriteMode::Move { from } if Some(from) == stored => Next::MoveStored,
            WriteMode::Replace { old } if Some(old) == stored => Next::ReplaceStored,
            WriteMode::Move { .. } | WriteMode::Replace { .. } => Next::Other,
            WriteMode::Renew { .. } => unreachable!("no row renews: renewal has its own tests"),
        },
        Plan::Clear { .. } => Next::Other,
    }
}

use Event as E;
use Phase::{Destroyed as Dead, Live};
use Start as S;

/// (from, event) → (phase, record, dirty, ID, next commit).
#[rustfmt::skip]
const TABLE: &[(Start, Event, Phase, Stands, bool, Id, Next)] = &[
    (S::Fresh,           E::Read,       Live, Stands::New,             false, Id::Same, Next::Nothing),
    (S::Fresh,           E::Set,        Live, Stands::New,             true,  Id::Same, Next::Create),
    (S::Fresh,           E::Remove,     Live, Stands::New,             true,  Id::Same, Next::Create),
    (S::Fresh,           E::Flash,      Live, Stands::New,             true,  Id::Same, Next::Create),
    (S::Fresh,           E::Regenerate, Live, Stands::New,             true,  Id::New,  Next::Create),
    (S::Fresh,           E::Destroy,    Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::FreshWithCookie, E::Read,       Live, Stands::New,             false, Id::Same, Next::Nothing),
    (S::FreshWithCookie, E::Destroy,    Dead, Stands::New,             false, Id::Same, Next::ClearOnly),
    (S::Loaded,          E::Read,       Live, Stands::Current,         false, Id::Same, Next::Nothing),
    (S::Loaded,          E::Set,        Live, Stands::Current,         true,  Id::Same, Next::Update),
    (S::Loaded,          E::Remove,     Live, Stands::Current,         true,  Id::Same, Next::Update),
    (S::Loaded,          E::Flash,      Live, Stands::Current,         true,  Id::Same, Next::Update),
    (S::Loaded,          E::Regenerate, Live, Stands::EarlierStored, true,  Id::New,  Next::MoveStored),
    (S::Loaded,          E::Destroy,    Dead, Stands::Current,         false, Id::Same, Next::DeleteStored),
    (S::LoadedDirty,     E::Written,    Live, Stands::Current,         false, Id::Same, Next::Nothing),
    (S::LoadedDirty,     E::Gone,       Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::LoadedDirty,     E::Destroy,    Dead, Stands::Current,         true,  Id::Same, Next::DeleteStored),
    (S::Regenerated,     E::Written,    Live, Stands::Current,         false, Id::Same, Next::Nothing),
    (S::Regenerated,     E::IdTaken,    Live, Stands::New,             true,  Id::New,  Next::Create),
    (S::Regenerated,     E::Regenerate, Live, Stands::EarlierStored, true,  Id::New,  Next::MoveStored),
    (S::Regenerated,     E::Destroy,    Dead, Stands::EarlierStored, true,  Id::Same, Next::DeleteStored),
    // A login racing a logout: the move found the old record gone. The session is over
    // and nothing is left to write under the new ID.
    (S::Regenerated,     E::Gone,       Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::RegeneratedDestroyed, E::Set,   Live, Stands::DiscardedStored, true, Id::New, Next::ReplaceStored),
    (S::Destroyed,       E::Read,       Dead, Stands::Current,         false, Id::Same, Next::DeleteStored),
    (S::Destroyed,       E::Set,        Live, Stands::DiscardedStored, true, Id::New, Next::ReplaceStored),
    (S::Destroyed,       E::Remove,     Live, Stands::DiscardedStored, true, Id::New, Next::ReplaceStored),
    (S::Destroyed,       E::Flash,      Live, Stands::DiscardedStored, true, Id::New, Next::ReplaceStored),
    (S::Destroyed,       E::Regenerate, Live, Stands::DiscardedStored, true, Id::New, Next::ReplaceStored),
    (S::Destroyed,       E::Destroy,    Dead, Stands::Current,         false, Id::Same, Next::DeleteStored),
    (S::Destroyed,       E::Cleared,    Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::DestroyedFresh,  E::Read,       Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::DestroyedFresh,  E::Set,        Live, Stands::New,             true,  Id::New,  Next::Create),
    (S::Reused,          E::Written,    Live, Stands::Current,         false, Id::Same, Next::Nothing),
    (S::Reused,          E::IdTaken,    Live, Stands::New,             true,  Id::New,  Next::Create),
    (S::Reused,          E::Destroy,    Dead, Stands::DiscardedStored, true, Id::Same, Next::DeleteStored),
    // The bug this module fixes by construction: a second commit after `Gone` used to
    // create the deleted session again under its old ID.
    (S::Gone,            E::Read,       Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::Gone,            E::Set,        Live, Stands::New,             true,  Id::New,  Next::Create),
    (S::Gone,            E::Destroy,    Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::Cleared,         E::Read,       Dead, Stands::New,             false, Id::Same, Next::Nothing),
    (S::Cleared,         E::Set,        Live, Stands::New,             true,  Id::New,  Next::Create),
];

#[test]
fn every_transition_in_the_table() {
    for (row, (from, event, phase, record, dirty, id, then)) in TABLE.iter().enumerate() {
        let mut copy = start(*from);
        let original = copy.id().clone();
        let stored = copy.stored_id().cloned();
        apply(&mut copy, *event);
        let got = (
            copy.phase(),
            stands(&copy, stored.as_ref()),
            copy.is_dirty(),
            if *copy.id() == original {
                Id::Same
            } else {
                Id::New
            },
            next(&copy, stored.as_ref()),
        );
        assert_eq!(
            got,
            (*phase, *record, *dirty, *id, *then),
            "row {row}: {from:?} + {event:?}"
        );
    }
}

#[test]
fn a_reused_session_reads_none_of_the_destroyed_data() {
    let mut copy = start(S::Reused);
    assert_eq!(copy.read("a"), None);
    assert_eq!(copy.read("b"), Some(json!(2)));
    assert_eq!(copy.len(), 1);
}

#[test]
fn cookie_updates_say_whether_the_browser_already_holds_the_value() {
    let mut copy = start(S::LoadedDirty);
    assert!(matches!(
        apply(&mut copy, E::Written),
        Some(CookieUpdate::Set {
            same_value: true,
            ..
        })
    ));
    for from in [S::Fresh, S::Regenerated, S::Reused] {
        let mut copy = start(from);
        copy.set("c".into(), json!(3)).expect("set");
        assert!(
            matches!(
                apply(&mut copy, E::Written),
                Some(CookieUpdate::Set {
                    same_value: false,
                    ..
                })
            ),
            "{from:?}"
        );
    }
    // Signed with a secret being rotated out: dirty, and re-sent even though unchanged.
    let mut rotated = WorkingCopy::found(
        found(new_id(), true),
        &policy(),
        now(),
        SessionRules::default(),
    )
    .expect("live");
    assert!(rotated.is_dirty());
    assert!(matches!(
        apply(&mut rotated, E::Written),
        Some(CookieUpdate::Set {
            same_value: false,
            ..
        })
    ));
    assert_eq!(
        apply(&mut start(S::LoadedDirty), E::Gone),
        Some(CookieUpdate::Clear)
    );
}

#[test]
fn an_edit_during_the_write_keeps_the_copy_dirty() {
    let mut copy = start(S::LoadedDirty);
    let write = planned_write(&copy);
    copy.set("late".into(), json!(true)).expect("set");
    let value = write.id.as_str().to_owned();
    copy.settle_written(write, value, None);
    assert!(copy.is_dirty());
    let id = copy.id().clone();
    assert_eq!(next(&copy, Some(&id)), Next::Update);
}

#[test]
fn a_regeneration_during_the_write_moves_the_record_just_written() {
    let mut copy = start(S::LoadedDirty);
    let write = planned_write(&copy);
    let written = write.id.clone();
    copy.regenerate_id(new_id(), now()).expect("regenerate");
    copy.settle_written(write, written.as_str().to_owned(), None);
    assert_eq!(copy.record, Record::Earlier(written.clone()));
    assert_eq!(next(&copy, Some(&written)), Next::MoveStored);
}

#[test]
fn a_new_session_begun_during_the_write_discards_the_record_just_written() {
    let mut copy = start(S::LoadedDirty);
    let write = planned_write(&copy);
    let written = write.id.clone();
    copy.destroy();
    copy.set("fresh".into(), json!(true)).expect("set");
    copy.settle_written(write, written.as_str().to_owned(), None);
    // The brand-new session must not depend on the old record surviving: a replace,
    // not a move that a concurrent logout could turn into `Gone`.
    assert_eq!(copy.record, Record::Discarded(written.clone()));
    assert_eq!(next(&copy, Some(&written)), Next::ReplaceStored);
}

#[test]
fn a_destroy_during_the_write_deletes_the_record_just_written() {
    let mut copy = start(S::Fresh);
    copy.set("b".into(), json!(2)).expect("set");
    let write = planned_write(&copy);
    let written = write.id.clone();
    copy.destroy();
    copy.settle_written(write, written.as_str().to_owned(), None);
    assert_eq!(copy.phase(), Phase::Destroyed);
    assert_eq!(next(&copy, Some(&written)), Next::DeleteStored);
}

#[test]
fn a_new_session_begun_while_the_save_learnt_of_a_logout_is_kept() {
    let mut copy = start(S::LoadedDirty);
    let write = planned_write(&copy);
    // Another clone logs out and writes again: a brand-new session.
    copy.destroy();
    copy.set("after".into(), json!(true)).expect("set");
    assert_eq!(copy.settle_gone(&write), CookieUpdate::Clear);
    assert_eq!(copy.phase(), Phase::Live);
    assert_eq!(copy.read("after"), Some(json!(true)));
    assert_eq!(next(&copy, None), Next::Create, "created by the next save");
    // Without a start-over, the logout wins even over a regeneration.
    let mut regenerated = start(S::LoadedDirty);
    let write = planned_write(&regenerated);
    regenerated
        .regenerate_id(new_id(), now())
        .expect("regenerate");
    regenerated.settle_gone(&write);
    assert_eq!(regenerated.phase(), Phase::Destroyed);
    assert_eq!(next(&regenerated, None), Next::Nothing);
}

#[test]
fn found_refuses_expired_too_old_and_future_records() {
    let live = |found: FoundSession, policy: &SessionPolicy| {
        WorkingCopy::found(found, policy, now(), SessionRules::default()).is_some()
    };
    let record = || found(new_id(), false);
    assert!(live(record(), &policy()));
    let past_deadline = FoundSession {
        expires: Some(now()),
        ..record()
    };
    assert!(!live(past_deadline, &policy()));
    let absolute = SessionPolicy {
        absolute_timeout: Some(Duration::from_secs(30)),
        ..policy()
    };
    assert!(
        !live(record(), &absolute),
        "created a minute ago, 30 s allowed"
    );
    let future = FoundSession {
        created: Some(now() + CLOCK_SKEW + Duration::from_secs(1)),
        ..record()
    };
    assert!(!live(future, &policy()));
    let skewed = FoundSession {
        created: Some(now() + CLOCK_SKEW),
        ..record()
    };
    assert!(live(skewed, &policy()), "within the allowed clock skew");
}

#[test]
fn an_untouched_session_is_saved_only_when_its_idle_deadline_is_due() {
    let idle = SessionPolicy {
        idle_timeout: Some(Duration::from_secs(40 * 60)),
        ..policy()
    };
    let saved = FoundSession {
        created: Some(now()),
        expires: Some(now() + Duration::from_secs(40 * 60)),
        ..found(new_id(), false)
    };
    let copy = WorkingCopy::found(saved, &idle, now(), SessionRules::default()).expect("live");
    let soon = now() + Duration::from_secs(5 * 60);
    let later = now() + Duration::from_secs(11 * 60);
    assert_eq!(copy.plan(&idle, soon), Plan::Nothing);
    assert!(matches!(
        copy.plan(&idle, later),
        Plan::Write(PlannedWrite {
            record_before: Record::Current,
            ..
        })
    ));
    // A new session is never saved just to push a deadline.
    let fresh = WorkingCopy::fresh(true, SessionRules::default()).expect("fresh");
    assert_eq!(fresh.plan(&idle, later), Plan::Nothing);
}
