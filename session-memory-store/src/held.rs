//! A record as the store holds it: a [`StoredSession`] in less memory.
//!
//! Most sessions never use the login choices, a renewal's times or a successor, yet
//! those fields would double the size of every held record (264 bytes of
//! `StoredSession` against 96 for the data and the two times). They live behind one
//! boxed pointer instead, allocated only for a session that uses them.

use std::time::SystemTime;

use session_core::{SessionChanges, SessionData, SessionMeta, StoredSession, Successor};

/// A held record, with when it stops being valid.
#[derive(Debug)]
pub(crate) struct Held {
    data: SessionData,
    expires: Option<SystemTime>,
    created: Option<SystemTime>,
    rare: Option<Box<Rare>>,
    /// Which write this is: new for every write, handed out as the record's
    /// [`revision`](StoredSession::revision), so a renewal can tell whether the record
    /// is still the one its request loaded.
    version: u64,
    /// When the record stops being valid (`None`: never): its deadline, or the store's
    /// TTL from when it was written.
    pub(crate) until: Option<SystemTime>,
}

/// The parts of a record few sessions use.
#[derive(Debug, Default, PartialEq)]
struct Rare {
    meta: SessionMeta,
    id_issued: Option<SystemTime>,
    last_used: Option<SystemTime>,
    successor: Option<Successor>,
}

impl Held {
    /// Holds `record` until `until`, as write `version`.
    pub(crate) fn new(record: StoredSession, until: Option<SystemTime>, version: u64) -> Self {
        let rare = Rare {
            meta: record.meta,
            id_issued: record.id_issued,
            last_used: record.last_used,
            successor: record.successor,
        };
        Self {
            data: record.data,
            expires: record.expires,
            created: record.created,
            rare: (rare != Rare::default()).then(|| Box::new(rare)),
            version,
            until,
        }
    }

    /// The record as it was written.
    pub(crate) fn record(&self) -> StoredSession {
        let mut record = StoredSession {
            data: self.data.clone(),
            expires: self.expires,
            created: self.created,
            revision: Some(self.version),
            ..StoredSession::default()
        };
        if let Some(rare) = &self.rare {
            record.meta = rare.meta.clone();
            record.id_issued = rare.id_issued;
            record.last_used = rare.last_used;
            record.successor = rare.successor.clone();
        }
        record
    }

    /// Applies a save to the held record in place, by the one merge rule
    /// ([`SessionChanges::merge_into`]); the data is moved out and back, never copied.
    pub(crate) fn merge(
        &mut self,
        changes: &SessionChanges,
        saving: &StoredSession,
        until: Option<SystemTime>,
        version: u64,
    ) {
        let placeholder = Self::new(StoredSession::default(), None, 0);
        let held = std::mem::replace(self, placeholder);
        // No deadline: the merge takes the saver's.
        let mut record = StoredSession {
            data: held.data,
            created: held.created,
            ..StoredSession::default()
        };
        if let Some(rare) = held.rare {
            let rare = *rare;
            record.meta = rare.meta;
            record.id_issued = rare.id_issued;
            record.last_used = rare.last_used;
            record.successor = rare.successor;
        }
        changes.merge_into(&mut record, saving);
        *self = Self::new(record, until, version);
    }

    /// Whether this is still the record a request loaded as `revision`.
    pub(crate) fn is_version(&self, revision: Option<u64>) -> bool {
        revision == Some(self.version)
    }

    /// The user the record is bound to.
    pub(crate) fn user(&self) -> Option<&str> {
        self.rare.as_ref()?.meta.user.as_deref()
    }

    pub(crate) fn is_expired_at(&self, now: SystemTime) -> bool {
        self.until.is_some_and(|until| until <= now)
    }

    pub(crate) fn is_expired(&self) -> bool {
        // The clock is read only for records that can expire.
        self.until.is_some_and(|until| until <= SystemTime::now())
    }

    /// Unexpired, and a whole session rather than a renewal's successor record: what
    /// an update or a merge may write over.
    pub(crate) fn is_live(&self) -> bool {
        !self.is_expired()
            && self
                .rare
                .as_ref()
                .is_none_or(|rare| rare.successor.is_none())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_record_comes_back_as_it_was_written_and_plain_ones_box_nothing() {
        let plain = StoredSession {
            created: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(5)),
            ..StoredSession::default()
        };
        let held = Held::new(plain.clone(), None, 1);
        assert!(held.rare.is_none());
        assert_eq!(
            held.record(),
            StoredSession {
                revision: Some(1),
                ..plain.clone()
            }
        );

        let bound = StoredSession {
            meta: SessionMeta {
                user: Some("ada".into()),
                ..SessionMeta::default()
            },
            last_used: plain.created,
            ..plain
        };
        let held = Held::new(bound.clone(), None, 2);
        assert_eq!(held.user(), Some("ada"));
        assert_eq!(
            held.record(),
            StoredSession {
                revision: Some(2),
                ..bound
            }
        );
        assert!(held.is_live());
        let successor = Held::new(
            StoredSession {
                successor: Some(Successor::seal(
                    &session_core::SessionId::generate().expect("id"),
                    &session_core::SessionId::generate().expect("id"),
                )),
                ..StoredSession::default()
            },
            None,
            3,
        );
        assert!(!successor.is_live());
    }
}
