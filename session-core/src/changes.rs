//! What one request changed in a session, key by key, so that a store can apply just
//! that to the record as it is *now*: parallel requests then keep each other's writes
//! instead of the last one saving its stale copy over the others.
//!
//! [`SessionChanges::apply_to`] is the reference meaning of a merge. Stores that merge
//! inside the backend (the Redis store's script) implement the same rules, and the
//! conformance suite checks them against each other.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::{SessionData, SessionMeta, StoredSession, ValueMap};

/// What a request did to one value.
#[derive(Clone, PartialEq)]
pub enum ValueChange {
    /// Set to this value (never JSON `null`: setting `null` is a [`Remove`](Self::Remove)).
    Set(Value),
    /// Removed.
    Remove,
    /// Added to ([`Session::increment`](crate::Session::increment)): applied to the
    /// value stored when the merge happens, so parallel increments all count.
    Increment(i64),
}

impl fmt::Debug for ValueChange {
    /// The kind of change, never the value (it may be a secret).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Set(_) => f.write_str("Set(<redacted>)"),
            Self::Remove => f.write_str("Remove"),
            Self::Increment(by) => write!(f, "Increment({by})"),
        }
    }
}

/// Everything one request changed in a session's data, to merge into the stored record.
///
/// The rules a merge follows ([`apply_to`](Self::apply_to)), per key:
///
/// - a value set or removed here ends set or removed, whatever a parallel request did
///   to that key (per-key last writer wins); keys not named here are left untouched;
/// - an increment adds to the value stored at the time of the merge; a stored value
///   that is missing or not an integer counts as 0;
/// - a consumed flash value (one that arrived with this request) is removed only if
///   the stored flash under its key is still the value this request saw, so a flash a
///   parallel request set meanwhile survives; then the flash values set here are
///   stored.
///
/// # Example
///
/// ```
/// use session_core::{SessionChanges, SessionData, ValueChange};
///
/// let mut stored = SessionData::default();
/// stored.values.insert("hits".into(), 41.into());
/// stored.values.insert("theme".into(), "dark".into()); // a parallel request's write
///
/// let mut changes = SessionChanges::default();
/// changes.values.insert("hits".into(), ValueChange::Increment(1));
/// changes.values.insert("page".into(), ValueChange::Set("cart".into()));
/// changes.apply_to(&mut stored);
///
/// assert_eq!(stored.values["hits"], 42);
/// assert_eq!(stored.values["page"], "cart");
/// assert_eq!(stored.values["theme"], "dark", "untouched keys stay");
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct SessionChanges {
    /// The values this request set, removed or incremented, by key.
    pub values: BTreeMap<String, ValueChange>,
    /// The flash values this request set, for the next request.
    pub flash_set: ValueMap,
    /// The flash values that arrived with this request and are consumed by saving it.
    pub flash_consumed: ValueMap,
    /// The session's login choices as this request left them, if it changed them
    /// ([`Session::set_user`](crate::Session::set_user),
    /// [`set_persistent`](crate::Session::set_persistent), …): saved whole. `None`
    /// keeps the stored ones, so a parallel request that only writes a value never
    /// undoes a binding.
    pub meta: Option<SessionMeta>,
}

impl fmt::Debug for SessionChanges {
    /// Keys and kinds of change are counted, never shown: keys can be personal too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionChanges")
            .field("values", &self.values.len())
            .field("flash_set", &self.flash_set.len())
            .field("flash_consumed", &self.flash_consumed.len())
            .field("meta", &self.meta.is_some())
            .finish()
    }
}

impl SessionChanges {
    /// True when nothing changed (a save then only pushes the deadline back).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
            && self.flash_set.is_empty()
            && self.flash_consumed.is_empty()
            && self.meta.is_none()
    }

    /// True when some change is an increment: applying the changes twice would count
    /// it twice, so a write carrying them must never be sent again blindly.
    pub fn has_increments(&self) -> bool {
        self.values
            .values()
            .any(|change| matches!(change, ValueChange::Increment(_)))
    }

    /// Applies the changes to `data`, the record as it is stored now, by the rules
    /// above.
    pub fn apply_to(&self, data: &mut SessionData) {
        for (key, change) in &self.values {
            match change {
                ValueChange::Set(value) => {
                    data.values.insert(key.clone(), value.clone());
                }
                ValueChange::Remove => {
                    data.values.remove(key);
                }
                ValueChange::Increment(by) => {
                    let now = counter_value(data.values.get(key)).saturating_add(*by);
                    data.values.insert(key.clone(), now.into());
                }
            }
        }
        for (key, seen) in &self.flash_consumed {
            if data.flash.get(key) == Some(seen) {
                data.flash.remove(key);
            }
        }
        for (key, value) in &self.flash_set {
            data.flash.insert(key.clone(), value.clone());
        }
    }

    /// Merges a save into `stored`, the record as it is now: the changes applied to its
    /// data, the deadline and the last use of `saving` (the whole session as the saving
    /// request sees it), its meta only if this request changed it, and the creation
    /// time `stored` already had, if any. What every store that
    /// merges in Rust does ([`SessionStorage::merge`](crate::SessionStorage::merge)).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use session_core::{SessionChanges, StoredSession, ValueChange};
    ///
    /// let at = |s| Some(UNIX_EPOCH + Duration::from_secs(s));
    /// let mut stored = StoredSession { created: at(1), expires: at(10), ..StoredSession::default() };
    /// let saving = StoredSession { created: at(2), expires: at(20), ..StoredSession::default() };
    /// let mut changes = SessionChanges::default();
    /// changes.values.insert("hits".into(), ValueChange::Increment(1));
    /// changes.merge_into(&mut stored, &saving);
    /// assert_eq!((stored.created, stored.expires), (at(1), at(20)));
    /// assert_eq!(stored.data.values["hits"], 1);
    /// ```
    pub fn merge_into(&self, stored: &mut StoredSession, saving: &StoredSession) {
        self.apply_to(&mut stored.data);
        stored.expires = saving.expires;
        stored.created = stored.created.or(saving.created);
        stored.last_used = saving.last_used;
        stored.id_issued = stored.id_issued.or(saving.id_issued);
        if let Some(meta) = &self.meta {
            stored.meta = meta.clone();
        }
    }

    /// Records that `key` was set to `value` (`null`: removed).
    pub(crate) fn set(&mut self, key: String, value: Value) {
        let change = if value.is_null() {
            ValueChange::Remove
        } else {
            ValueChange::Set(value)
        };
        self.values.insert(key, change);
    }

    /// Records an increment of `key` by `by`, given the value it held before; returns
    /// the value it holds now.
    pub(crate) fn increment(&mut self, key: &str, before: i64, by: i64) -> i64 {
        let now = before.saturating_add(by);
        match self.values.get_mut(key) {
            // Set (or removed) earlier in this request: the key's final value is known,
            // and per-key last writer wins, so it stays an absolute write.
            Some(ValueChange::Set(value)) => *value = now.into(),
            Some(change @ ValueChange::Remove) => *change = ValueChange::Set(now.into()),
            Some(ValueChange::Increment(total)) => *total = total.saturating_add(by),
            None => {
                self.values
                    .insert(key.to_owned(), ValueChange::Increment(by));
            }
        }
        now
    }

    /// Forgets the changes `written` already saved, keeping those made since (by
    /// another clone of the handle while the write was in flight). An increment made
    /// since stays as the part not yet saved, so no increment counts twice.
    pub(crate) fn settle(&mut self, written: &SessionChanges) {
        for (key, saved) in &written.values {
            let Some(now) = self.values.get_mut(key) else {
                continue;
            };
            match (now, saved) {
                (ValueChange::Increment(total), ValueChange::Increment(by)) => {
                    *total = total.saturating_sub(*by);
                    if *total == 0 {
                        self.values.remove(key);
                    }
                }
                (now, saved) if now == saved => {
                    self.values.remove(key);
                }
                _ => {}
            }
        }
        if self.meta == written.meta {
            self.meta = None;
        }
        for (map, saved) in [
            (&mut self.flash_set, &written.flash_set),
            (&mut self.flash_consumed, &written.flash_consumed),
        ] {
            for (key, value) in saved {
                if map.get(key) == Some(value) {
                    map.remove(key);
                }
            }
        }
    }
}

/// The integer a counter holds: a stored value that is missing or not an integer
/// counts as 0.
pub(crate) fn counter_value(value: Option<&Value>) -> i64 {
    value.and_then(Value::as_i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(values: Value, flash: Value) -> SessionData {
        let map = |value: Value| match value {
            Value::Object(map) => map,
            _ => unreachable!("test data are objects"),
        };
        SessionData {
            values: map(values),
            flash: map(flash),
        }
    }

    #[test]
    fn sets_removes_and_increments_touch_only_their_keys() {
        let mut stored = data(json!({"a": 1, "b": 2, "n": 5, "other": "kept"}), json!({}));
        let mut changes = SessionChanges::default();
        changes.set("a".into(), json!(10));
        changes.set("b".into(), Value::Null);
        changes.increment("n", 0, 2);
        changes.increment("fresh", 0, 3);
        changes.apply_to(&mut stored);
        assert_eq!(
            stored,
            data(
                json!({"a": 10, "n": 7, "fresh": 3, "other": "kept"}),
                json!({})
            )
        );
    }

    #[test]
    fn an_increment_counts_non_integers_as_zero_and_saturates() {
        let mut stored = data(json!({"s": "text", "f": 1.5, "max": i64::MAX}), json!({}));
        let mut changes = SessionChanges::default();
        for key in ["s", "f", "max"] {
            changes.increment(key, 0, 1);
        }
        changes.apply_to(&mut stored);
        assert_eq!(stored.values["s"], 1);
        assert_eq!(stored.values["f"], 1);
        assert_eq!(stored.values["max"], i64::MAX);
    }

    #[test]
    fn a_consumed_flash_goes_only_if_it_is_still_the_one_seen() {
        let mut stored = data(json!({}), json!({"old": "seen", "replaced": "newer"}));
        let mut changes = SessionChanges::default();
        changes.flash_consumed.insert("old".into(), json!("seen"));
        changes
            .flash_consumed
            .insert("replaced".into(), json!("older"));
        changes.flash_set.insert("next".into(), json!("hello"));
        changes.apply_to(&mut stored);
        assert_eq!(
            stored.flash,
            data(json!({}), json!({"replaced": "newer", "next": "hello"})).flash
        );
    }

    #[test]
    fn a_flash_consumed_and_set_again_under_one_key_ends_set() {
        let mut stored = data(json!({}), json!({"notice": "old"}));
        let mut changes = SessionChanges::default();
        changes.flash_consumed.insert("notice".into(), json!("old"));
        changes.flash_set.insert("notice".into(), json!("new"));
        changes.apply_to(&mut stored);
        assert_eq!(stored.flash["notice"], "new");
    }

    #[test]
    fn increments_after_a_set_or_remove_stay_absolute() {
        let mut changes = SessionChanges::default();
        changes.set("a".into(), json!(4));
        assert_eq!(changes.increment("a", 4, 1), 5);
        changes.set("b".into(), Value::Null);
        assert_eq!(changes.increment("b", 0, 2), 2);
        assert_eq!(changes.increment("c", 7, 1), 8);
        assert_eq!(changes.increment("c", 8, 1), 9);
        assert_eq!(changes.values["a"], ValueChange::Set(json!(5)));
        assert_eq!(changes.values["b"], ValueChange::Set(json!(2)));
        assert_eq!(changes.values["c"], ValueChange::Increment(2));
        assert!(changes.has_increments());
    }

    #[test]
    fn settling_forgets_what_was_saved_and_keeps_what_came_after() {
        let mut changes = SessionChanges::default();
        changes.set("a".into(), json!(1));
        changes.increment("n", 0, 2);
        changes.flash_set.insert("f".into(), json!("x"));
        changes.flash_consumed.insert("g".into(), json!("y"));
        let written = changes.clone();
        // Made by another clone while the write was in flight.
        changes.set("b".into(), json!(2));
        changes.increment("n", 2, 3);
        changes.flash_set.insert("f".into(), json!("z"));
        changes.settle(&written);
        assert_eq!(changes.values.len(), 2, "{:?}", changes.values);
        assert_eq!(changes.values["b"], ValueChange::Set(json!(2)));
        assert_eq!(changes.values["n"], ValueChange::Increment(3));
        assert_eq!(changes.flash_set["f"], "z");
        assert!(changes.flash_consumed.is_empty());
        changes.settle(&changes.clone());
        assert!(changes.is_empty());
    }

    #[test]
    fn a_value_set_again_during_the_write_stays_to_save() {
        let mut changes = SessionChanges::default();
        changes.set("a".into(), json!(1));
        let written = changes.clone();
        changes.set("a".into(), json!(2));
        changes.settle(&written);
        assert_eq!(changes.values["a"], ValueChange::Set(json!(2)));
    }

    #[test]
    fn empty_means_no_part_holds_anything() {
        assert!(SessionChanges::default().is_empty());
        let mut values = SessionChanges::default();
        values.set("a".into(), json!(1));
        let mut flash_set = SessionChanges::default();
        flash_set.flash_set.insert("f".into(), json!(1));
        let mut consumed = SessionChanges::default();
        consumed.flash_consumed.insert("f".into(), json!(1));
        for changes in [&values, &flash_set, &consumed] {
            assert!(!changes.is_empty(), "{changes:?}");
            assert!(!changes.has_increments(), "no increment in {changes:?}");
        }
    }

    #[test]
    fn debug_shows_counts_not_values() {
        let mut changes = SessionChanges::default();
        changes.set("password".into(), json!("hunter2"));
        let shown = format!("{changes:?} {:?}", changes.values["password"]);
        assert!(
            !shown.contains("hunter2") && !shown.contains("password"),
            "{shown}"
        );
    }
}
