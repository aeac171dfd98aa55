//! The session state machine: one request's working copy of a session, every
//! transition it can make, and what a save means for it.
//!
//! Pure and synchronous: no backend, no lock, no runtime, and no clock of its own
//! (callers pass `now`), so every transition is tested as a table row in `tests.rs`
//! beside this file. [`Session`](crate::Session) holds a `WorkingCopy` behind its lock
//! and does the awaiting; nothing else changes one.
//!
//! The state is two dimensions, one enum each, so that contradictory combinations
//! (a record to update under an ID that was never stored, a destroyed session that is
//! also being written) cannot be written down:
//!
//! - [`Phase`]: is the session live, or destroyed (by the handler, or by a concurrent
//!   logout found at save time)?
//! - [`Record`]: where does its stored record stand relative to the current ID?
//!
//! A save is two steps: [`WorkingCopy::plan`] says what to write, copied out so the
//! lock can be released; after the backend answers, `settle_*` says what that answer
//! means. Edits made by another clone of the handle while the write was in flight are
//! kept: they leave the copy dirty for the next commit (the `edits` counter).

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::changes::counter_value;
use crate::{
    CookieUpdate, Error, FlashLifetime, FoundSession, SessionChanges, SessionData, SessionId,
    SessionMeta, SessionPolicy, SessionRules, StoredSession, ValueMap, WriteMode,
};

#[cfg(test)]
mod flash_tests;
#[cfg(test)]
mod lending_tests;
#[cfg(test)]
mod login_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tracking_tests;

/// How far in the future a stored creation time may be before the record is refused:
/// servers' clocks differ a little, a forged or corrupted timestamp differs a lot.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Whether the session can be read and written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Readable and writable.
    Live,
    /// Reads see nothing; the next commit deletes the record and clears the cookie; a
    /// write starts a brand-new session (with a new ID) instead.
    Destroyed,
}

/// Where the session's stored record stands, as far as this request knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// Nothing stored: the next save creates the record (only where none exists).
    New,
    /// Stored under the current ID: the next save updates it (only if it still exists).
    Current,
    /// Stored under an earlier ID this session moved from (`regenerate_id`): the next
    /// save moves the record, only if it still exists (else the session is over).
    Earlier(SessionId),
    /// Stored under an earlier ID, renewed on the policy's timer: as `Earlier`, except
    /// that the old ID keeps serving the renewed session for the grace period.
    Renewing(SessionId),
    /// A destroyed session's record, still to delete; the session now is a brand-new
    /// one (a write after `destroy`): the next save deletes it, whether or not it is
    /// still there, and creates the new record.
    Discarded(SessionId),
}

/// One request's working copy of a session.
pub(crate) struct WorkingCopy {
    /// The current ID (changes on `regenerate_id` and when a destroyed session starts
    /// over).
    id: SessionId,
    record: Record,
    phase: Phase,
    /// The browser holds a cookie of ours: the request presented one, or a commit set
    /// one. A destroy must clear it; without one there is nothing to clear.
    cookie_in_browser: bool,
    /// When the session was first saved (`None` until then).
    created: Option<SystemTime>,
    /// The deadline the stored record carries.
    expires: Option<SystemTime>,
    /// When the current ID was issued (`None`: at creation).
    id_issued: Option<SystemTime>,
    /// The login choices: persistence, lifetime, user, label.
    meta: SessionMeta,
    values: ValueMap,
    /// The storage's conventions: how new IDs look, how long a flash lives.
    rules: SessionRules,
    /// Flash values that arrived with this request: readable now, dropped on save
    /// (under [`FlashLifetime::UntilRead`]: kept until read).
    flash_in: ValueMap,
    /// Flash values set during this request, for the next one.
    flash_next: ValueMap,
    /// What this request changed and has not saved yet, key by key: what a merging
    /// store applies to the record as it is now.
    changes: SessionChanges,
    /// The backend's version of the record as loaded, for a compare-and-swap merge;
    /// unknown after a save.
    revision: Option<u64>,
    dirty: bool,
    /// Counts edits, so a save that raced an edit leaves the copy dirty.
    edits: u64,
    /// Counts start-overs (writes after a destroy), so a save that learns its session
    /// ended can tell a brand-new session begun meanwhile, which must be kept.
    epoch: u64,
    /// The cookie was signed with a secret being rotated out: send it again, re-signed,
    /// with the next save.
    reissue: bool,
}

/// What a commit must do, decided under the lock and carried out after it.
#[cfg_attr(test, derive(Debug, PartialEq))]
#[allow(
    clippy::large_enum_variant,
    reason = "a plan lives on the stack for one commit; boxing the write would add an allocation to every save"
)]
pub(crate) enum Plan {
    /// Nothing changed: no storage call, no cookie.
    Nothing,
    /// The session was destroyed: delete this record, if any, and clear the cookie.
    Clear { delete: Option<SessionId> },
    /// Save the session.
    Write(PlannedWrite),
}

/// A write to attempt, with everything copied out of the working copy (or, from
/// [`WorkingCopy::plan_lending`], the values and changes moved out of it).
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct PlannedWrite {
    pub(crate) id: SessionId,
    /// The record as it stood when planned: decides the write mode.
    pub(crate) record_before: Record,
    /// The cookie must be sent again whatever its value (old secret).
    pub(crate) reissue: bool,
    /// What to store; `created` is always set.
    pub(crate) stored: StoredSession,
    /// The changes `stored` holds beyond the record loaded, for a merge.
    pub(crate) changes: SessionChanges,
    /// How long the old ID of a renewal keeps working.
    grace: Duration,
    /// Whether the cookie outlives the browser session.
    persistent: bool,
    /// The edit count and the epoch when planned.
    edits: u64,
    epoch: u64,
    /// `stored`'s values and `changes` were taken from the working copy rather than
    /// copied ([`WorkingCopy::plan_lending`]): settling hands them back.
    lent: bool,
}

impl PlannedWrite {
    /// The write mode the record's standing calls for.
    pub(crate) fn mode(&self) -> WriteMode<'_> {
        match &self.record_before {
            Record::New => WriteMode::Create,
            Record::Current => WriteMode::Update,
            Record::Earlier(from) => WriteMode::Move { from },
            Record::Renewing(from) => WriteMode::Renew {
                from,
                grace: self.grace,
            },
            Record::Discarded(old) => WriteMode::Replace { old },
        }
    }
}

impl WorkingCopy {
    /// A brand-new session with a fresh ID and nothing stored.
    pub(crate) fn fresh(cookie_in_browser: bool, rules: SessionRules) -> Result<Self, Error> {
        Ok(Self {
            id: SessionId::generate_in(rules.ids)?,
            rules,
            record: Record::New,
            phase: Phase::Live,
            cookie_in_browser,
            created: None,
            expires: None,
            id_issued: None,
            meta: SessionMeta::default(),
            values: ValueMap::new(),
            flash_in: ValueMap::new(),
            flash_next: ValueMap::new(),
            changes: SessionChanges::default(),
            revision: None,
            dirty: false,
            edits: 0,
            epoch: 0,
            reissue: false,
        })
    }

    /// The working copy of what a backend found, or `None` when it is past its
    /// deadline, past the absolute timeout, or claims a creation time in the future.
    pub(crate) fn found(
        found: FoundSession,
        policy: &SessionPolicy,
        now: SystemTime,
        rules: SessionRules,
    ) -> Option<Self> {
        // A deadline stored under an older, longer policy still ends here.
        if found.expires.is_some_and(|expires| expires <= now) {
            return None;
        }
        if found.created.is_some_and(|created| {
            policy.is_past_absolute(created, now)
                || now
                    .checked_add(CLOCK_SKEW)
                    .is_some_and(|latest| created > latest)
        }) {
            return None;
        }
        let next_request = rules.flash == FlashLifetime::NextRequest;
        Some(Self {
            id: found.id,
            record: Record::Current,
            phase: Phase::Live,
            cookie_in_browser: true,
            // Records written by Remix carry no creation time: count from now.
            created: Some(found.created.unwrap_or(now)),
            expires: found.expires,
            id_issued: found.id_issued,
            meta: found.meta,
            values: found.data.values,
            // Under Remix's rule, arriving flash values make the session dirty, so that
            // the save at the end of this request clears them; so does a cookie signed
            // with an old secret, so that it is re-signed with the current one.
            dirty: (next_request && !found.data.flash.is_empty()) || found.reissue,
            // Saving consumes every flash value that arrived (React Router's rule: every
            // one read), but only where the stored one is still the value seen here.
            changes: SessionChanges {
                flash_consumed: if next_request {
                    found.data.flash.clone()
                } else {
                    ValueMap::new()
                },
                ..SessionChanges::default()
            },
            rules,
            revision: found.revision,
            flash_in: found.data.flash,
            flash_next: ValueMap::new(),
            edits: 0,
            epoch: 0,
            reissue: found.reissue,
        })
    }

    pub(crate) fn id(&self) -> &SessionId {
        &self.id
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// A value or, failing that, a flash value; nothing once destroyed. Under Remix's
    /// rule the flash is an arriving one; under React Router's it may also be one set
    /// in this request. Looking does not consume: [`consume_read`](Self::consume_read)
    /// does, once the caller has what it read.
    pub(crate) fn lookup(&self, key: &str) -> Option<&Value> {
        if self.phase == Phase::Destroyed {
            return None;
        }
        // Remix falls back with `??`: a null value defers to an arriving flash.
        let value = self.values.get(key).filter(|value| !value.is_null());
        value.or_else(|| match self.rules.flash {
            FlashLifetime::NextRequest => self.flash_in.get(key),
            FlashLifetime::UntilRead => self.flash_next.get(key).or_else(|| self.flash_in.get(key)),
        })
    }

    /// What reading `key` does beyond [`lookup`](Self::lookup): nothing under Remix's
    /// rule; under React Router's, a flash read is gone from the session (its `get`), and
    /// the next save stores that.
    pub(crate) fn consume_read(&mut self, key: &str) {
        let from_values = self.values.get(key).is_some_and(|value| !value.is_null());
        if self.rules.flash == FlashLifetime::NextRequest
            || self.phase == Phase::Destroyed
            || from_values
        {
            return;
        }
        if let Some(value) = self.flash_next.remove(key) {
            // Set in this request: unsaved, it is simply never saved; already saved (a
            // commit in between), the save must remove it like an arriving one.
            if self.changes.flash_set.remove(key).is_none() {
                self.changes.flash_consumed.insert(key.to_owned(), value);
            }
        } else if let Some(value) = self.flash_in.remove(key) {
            self.changes.flash_consumed.insert(key.to_owned(), value);
        } else {
            return;
        }
        self.dirty = true;
        self.edits += 1;
    }

    /// [`lookup`](Self::lookup) and [`consume_read`](Self::consume_read) in one, for
    /// callers that keep the value whatever it is.
    pub(crate) fn read(&mut self, key: &str) -> Option<Value> {
        let value = self.lookup(key).cloned();
        self.consume_read(key);
        value
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.phase == Phase::Live
            && (self.values.contains_key(key)
                || self.flash_in.contains_key(key)
                || (self.rules.flash == FlashLifetime::UntilRead
                    && self.flash_next.contains_key(key)))
    }

    /// The values' keys, sorted (the map is ordered); none once destroyed.
    pub(crate) fn keys(&self) -> Vec<String> {
        match self.phase {
            Phase::Live => self.values.keys().cloned().collect(),
            Phase::Destroyed => Vec::new(),
        }
    }

    /// Values plus readable flash values; 0 once destroyed.
    pub(crate) fn len(&self) -> usize {
        let flash_now = match self.rules.flash {
            FlashLifetime::NextRequest => 0,
            FlashLifetime::UntilRead => self.flash_next.len(),
        };
        match self.phase {
            Phase::Live => self.values.len() + self.flash_in.len() + flash_now,
            Phase::Destroyed => 0,
        }
    }

    /// Stores `value` under `key`; JSON `null` removes the key.
    pub(crate) fn set(&mut self, key: String, value: Value) -> Result<(), Error> {
        self.edit()?;
        if value.is_null() {
            self.values.remove(&key);
        } else {
            self.values.insert(key.clone(), value.clone());
        }
        self.changes.set(key, value);
        Ok(())
    }

    pub(crate) fn remove(&mut self, key: &str) -> Result<Option<Value>, Error> {
        self.edit()?;
        self.changes.set(key.to_owned(), Value::Null);
        Ok(self.values.remove(key))
    }

    pub(crate) fn flash(&mut self, key: String, value: Value) -> Result<(), Error> {
        self.edit()?;
        if self.rules.flash == FlashLifetime::UntilRead {
            // One map in React Router: the new flash replaces an unread arriving one.
            if let Some(replaced) = self.flash_in.remove(&key) {
                self.changes.flash_consumed.insert(key.clone(), replaced);
            }
        }
        self.changes.flash_set.insert(key.clone(), value.clone());
        self.flash_next.insert(key, value);
        Ok(())
    }

    /// Adds `by` to the integer under `key` (absent counts as 0) and returns the sum;
    /// a merging store adds `by` to the value stored at save time instead.
    pub(crate) fn increment(&mut self, key: &str, by: i64) -> Result<i64, Error> {
        let before = match self.phase {
            // A write after destroy starts over with no values at all.
            Phase::Destroyed => 0,
            Phase::Live => match self.values.get(key) {
                None | Some(Value::Null) => 0,
                Some(value) if value.is_i64() => counter_value(Some(value)),
                Some(_) => {
                    return Err(Error::NotACounter {
                        key: key.to_owned(),
                    })
                }
            },
        };
        self.edit()?;
        let now = self.changes.increment(key, before, by);
        self.values.insert(key.to_owned(), now.into());
        Ok(now)
    }

    /// Moves the session to `new_id`, keeping its data; the record under the ID it was
    /// stored under is deleted by the next save.
    pub(crate) fn regenerate_id(
        &mut self,
        new_id: SessionId,
        now: SystemTime,
    ) -> Result<(), Error> {
        self.edit()?;
        self.move_to(new_id);
        self.id_issued = Some(now);
        Ok(())
    }

    /// True when the policy's renewal timer has run out for a session loaded from
    /// its record.
    pub(crate) fn renewal_due(&self, policy: &SessionPolicy, now: SystemTime) -> bool {
        self.phase == Phase::Live
            && self.record == Record::Current
            && policy.renewal_due(self.id_issued.or(self.created).unwrap_or(now), now)
    }

    /// Renews the ID on the policy's timer: the next save moves the record to
    /// `new_id`, and the old ID serves the renewed session for the grace period.
    pub(crate) fn renew_id(&mut self, new_id: SessionId, now: SystemTime) {
        if self.record != Record::Current {
            return;
        }
        let old_id = std::mem::replace(&mut self.id, new_id);
        self.record = Record::Renewing(old_id);
        self.id_issued = Some(now);
        self.dirty = true;
        self.edits += 1;
    }

    /// The ID the session is stored under, which a listing of the user's sessions
    /// knows it by: until a save moves it, the one it was loaded under (a
    /// regeneration or a renewal is not saved yet); the current one for a session not
    /// stored yet.
    pub(crate) fn listed_id(&self) -> &SessionId {
        match &self.record {
            Record::Earlier(id) | Record::Renewing(id) => id,
            Record::New | Record::Current | Record::Discarded(_) => &self.id,
        }
    }

    /// The login choices; the defaults once destroyed.
    pub(crate) fn meta(&self) -> &SessionMeta {
        static NONE: SessionMeta = SessionMeta {
            persistent: None,
            lifetime: None,
            user: None,
            label: None,
            user_generation: None,
        };
        match self.phase {
            Phase::Live => &self.meta,
            Phase::Destroyed => &NONE,
        }
    }

    /// Changes the login choices, saved whole with the next save.
    pub(crate) fn change_meta(
        &mut self,
        change: impl FnOnce(&mut SessionMeta),
    ) -> Result<(), Error> {
        self.edit()?;
        change(&mut self.meta);
        self.changes.meta = Some(self.meta.clone());
        Ok(())
    }

    pub(crate) fn destroy(&mut self) {
        self.phase = Phase::Destroyed;
        self.edits += 1;
    }

    /// Every edit: a destroyed session first starts over, then the copy is dirty.
    fn edit(&mut self) -> Result<(), Error> {
        if self.phase == Phase::Destroyed {
            self.start_over()?;
        }
        self.dirty = true;
        self.edits += 1;
        Ok(())
    }

    /// A destroyed session becomes a brand-new one with a new ID; its record, if any,
    /// stays marked for deletion by the next save, as after `regenerate_id`.
    fn start_over(&mut self) -> Result<(), Error> {
        let destroyed = std::mem::replace(self, Self::fresh(self.cookie_in_browser, self.rules)?);
        self.edits = destroyed.edits;
        self.epoch = destroyed.epoch + 1;
        // The new session continues none of the destroyed one's data: whatever record
        // it had is only to be deleted.
        self.record = match destroyed.record {
            Record::New => Record::New,
            Record::Current => Record::Discarded(destroyed.id),
            Record::Earlier(id) | Record::Renewing(id) | Record::Discarded(id) => {
                Record::Discarded(id)
            }
        };
        Ok(())
    }

    /// The record transition of an ID change: a record under the current ID is now
    /// under an earlier one; an earlier, discarded or no record stays as it is. A
    /// renewal in progress becomes a plain move: an explicit ID change (a login, a
    /// privilege change) leaves the old ID no grace.
    fn move_to(&mut self, new_id: SessionId) {
        let old_id = std::mem::replace(&mut self.id, new_id);
        self.record = match std::mem::replace(&mut self.record, Record::New) {
            Record::Current => Record::Earlier(old_id),
            Record::Renewing(from) => Record::Earlier(from),
            other => other,
        };
    }

    /// Whether [`plan`](Self::plan) would plan anything. Reads the clock (`now`) only
    /// when an idle deadline might be due for its push.
    pub(crate) fn has_work(
        &self,
        policy: &SessionPolicy,
        now: impl FnOnce() -> SystemTime,
    ) -> bool {
        match self.phase {
            Phase::Destroyed => self.record != Record::New || self.cookie_in_browser,
            Phase::Live if self.dirty => true,
            Phase::Live => {
                if self.record != Record::Current || policy.idle_timeout.is_none() {
                    return false;
                }
                let now = now();
                policy.needs_refresh_with(
                    self.created.unwrap_or(now),
                    self.expires,
                    now,
                    self.meta.lifetime,
                )
            }
        }
    }

    /// What the next commit must do.
    pub(crate) fn plan(&self, policy: &SessionPolicy, now: SystemTime) -> Plan {
        if !self.has_work(policy, || now) {
            return Plan::Nothing;
        }
        if self.phase == Phase::Destroyed {
            return Plan::Clear {
                delete: self.stored_id().cloned(),
            };
        }
        let created = self.created.unwrap_or(now);
        Plan::Write(PlannedWrite {
            id: self.id.clone(),
            record_before: self.record.clone(),
            reissue: self.reissue,
            stored: StoredSession {
                data: SessionData {
                    values: self.values.clone(),
                    flash: self.flash_to_store(),
                },
                expires: policy.deadline_with(created, now, self.meta.lifetime),
                created: Some(created),
                revision: self.revision,
                meta: self.meta.clone(),
                // Written only where renewal counts from it, so records stay as they
                // were for apps that do not renew.
                id_issued: policy.id_renewal.and(self.id_issued.or(Some(created))),
                // Only a bound session is ever listed with its last use.
                last_used: self.meta.user.as_ref().map(|_| now),
                successor: None,
            },
            changes: self.changes.clone(),
            grace: policy.renewal_grace,
            persistent: self.meta.persistent.unwrap_or(policy.persistent),
            edits: self.edits,
            epoch: self.epoch,
            lent: false,
        })
    }

    /// As [`plan`](Self::plan), for a working copy no other handle can reach before
    /// the write settles (the middleware's last handle, [`Session::commit_last`]):
    /// the write takes the values and the changes instead of copying them, which
    /// spares a copy of each map on every save. [`settle_written`](Self::settle_written)
    /// returns them; every other way a write ends ([`take_back`](Self::take_back),
    /// which the commit loop calls first on an error, a taken ID or a gone record)
    /// does too.
    ///
    /// [`Session::commit_last`]: crate::Session::commit_last
    pub(crate) fn plan_lending(&mut self, policy: &SessionPolicy, now: SystemTime) -> Plan {
        let values = std::mem::take(&mut self.values);
        let changes = std::mem::take(&mut self.changes);
        match self.plan(policy, now) {
            Plan::Write(mut write) => {
                write.stored.data.values = values;
                write.changes = changes;
                write.lent = true;
                Plan::Write(write)
            }
            other => {
                (self.values, self.changes) = (values, changes);
                other
            }
        }
    }

    /// Returns what a lending plan took, before a write that stored nothing is settled
    /// (or failed): the session is as it was before the plan.
    pub(crate) fn take_back(&mut self, write: &mut PlannedWrite) {
        if std::mem::take(&mut write.lent) {
            self.values = std::mem::take(&mut write.stored.data.values);
            self.changes = std::mem::take(&mut write.changes);
        }
    }

    /// The flash values a save stores. Under Remix's rule the arriving ones are left
    /// out on purpose (this save is what clears them); under React Router's, those not
    /// read stay.
    fn flash_to_store(&self) -> ValueMap {
        match self.rules.flash {
            FlashLifetime::NextRequest => self.flash_next.clone(),
            FlashLifetime::UntilRead => {
                let mut flash = self.flash_in.clone();
                flash.extend(self.flash_next.clone());
                flash
            }
        }
    }

    /// The ID a record is stored under, if any.
    fn stored_id(&self) -> Option<&SessionId> {
        match &self.record {
            Record::New => None,
            Record::Current => Some(&self.id),
            Record::Earlier(id) | Record::Renewing(id) | Record::Discarded(id) => Some(id),
        }
    }

    /// A planned [`Plan::Clear`] was carried out: the record is gone, and so is the
    /// browser's cookie.
    pub(crate) fn settle_cleared(&mut self) -> CookieUpdate {
        // A write after destroy may have happened meanwhile; it keeps its new ID, and
        // the only record it knew of is the one just deleted.
        self.record = Record::New;
        self.cookie_in_browser = false;
        CookieUpdate::Clear
    }

    /// `write` was stored and the cookie must now carry `value`; under `renamed`
    /// instead of the ID planned when a parallel renewal moved the session.
    pub(crate) fn settle_written(
        &mut self,
        mut write: PlannedWrite,
        value: String,
        renamed: Option<SessionId>,
    ) -> CookieUpdate {
        if write.lent {
            // All of the lent changes were saved: what stays to save is what the
            // working copy holds now, and nothing could edit it meanwhile.
            self.values = std::mem::take(&mut write.stored.data.values);
        }
        // By-ID backends return the ID as the cookie value: an update in place leaves
        // the browser's cookie as it is.
        let same_value =
            write.record_before == Record::Current && !write.reissue && value == write.id.as_str();
        let write = match renamed {
            Some(id) => {
                if self.id == write.id {
                    self.id = id.clone();
                }
                PlannedWrite { id, ..write }
            }
            None => write,
        };
        // If another clone regenerated the ID meanwhile, the record just written is the
        // one its next save must move; if it destroyed the session and started a new
        // one, the one to delete.
        self.record = if self.id == write.id {
            Record::Current
        } else if self.epoch == write.epoch {
            Record::Earlier(write.id)
        } else {
            Record::Discarded(write.id)
        };
        self.created = write.stored.created;
        self.expires = write.stored.expires;
        self.changes.settle(&write.changes);
        self.revision = None;
        self.cookie_in_browser = true;
        self.reissue = false;
        if self.edits == write.edits {
            self.dirty = false;
        }
        CookieUpdate::Set {
            value,
            expires: write.stored.expires,
            same_value,
            persistent: write.persistent,
        }
    }

    /// A create found `write`'s ID taken (a collision): nothing was written, and a move
    /// or a replace had deleted its old record first. The retry is a plain create
    /// under `fresh`.
    pub(crate) fn settle_id_taken(&mut self, write: &PlannedWrite, fresh: SessionId) {
        self.record = Record::New;
        if self.id == write.id {
            self.id = fresh;
        }
    }

    /// An update or a move found the record gone: a concurrent logout (or expiry)
    /// ended the session. Nothing was written; the session is over, and its cookie is cleared.
    /// A brand-new session another clone began meanwhile (a write after `destroy`)
    /// is kept, to be created by the next save.
    pub(crate) fn settle_gone(&mut self, write: &PlannedWrite) -> CookieUpdate {
        if self.epoch == write.epoch {
            self.phase = Phase::Destroyed;
            self.dirty = false;
        }
        self.settle_cleared()
    }
}

impl fmt::Debug for WorkingCopy {
    /// Counts and flags only: the ID and the data may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let record = match self.record {
            Record::New => "new",
            Record::Current => "current",
            Record::Earlier(_) => "earlier",
            Record::Renewing(_) => "renewing",
            Record::Discarded(_) => "discarded",
        };
        f.debug_struct("WorkingCopy")
            .field("phase", &self.phase)
            .field("record", &record)
            .field("values", &self.values.len())
            .field("flash", &(self.flash_in.len() + self.flash_next.len()))
            .field("dirty", &self.dirty)
            .finish_non_exhaustive()
    }
}
