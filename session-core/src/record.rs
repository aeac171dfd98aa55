//! The JSON form of a stored session, shared by every server-side backend that keeps
//! text (Redis, memcached): Remix's `[values, flash]`, plus our expiry stamp.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{Error as _, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, SessionData, SessionMeta, StoredSession, Successor, ValueMap};

mod react_router;

pub use react_router::FlatData;

/// The optional third element: `{"meta": {…}, "expires": ms, "created": ms, "issued":
/// ms, "used": ms, "next": id, "rev": n}` (times in milliseconds since the Unix epoch;
/// each part left out when unknown or unused).
///
/// Remix reads `data[0]` and `data[1]` only, so it reads our records unchanged; a record
/// Remix writes has no stamp, and then the backend's own TTL is the only deadline.
#[derive(Serialize, Deserialize)]
struct Stamp {
    /// First, so that the Redis merge script can splice the stored one in as text.
    #[serde(default, skip_serializing_if = "MetaText::is_empty")]
    meta: MetaText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// A random number each write draws, for a store that checks "still the record I
    /// read" by comparing it (the Redis store's merge script): last, so the script
    /// finds it at the end of the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rev: Option<u64>,
}

/// [`SessionMeta`] as the stamp spells it.
#[derive(Serialize, Deserialize, Default)]
struct MetaText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    persistent: Option<bool>,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lifetime: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gen: Option<u64>,
}

impl Stamp {
    fn is_empty(&self) -> bool {
        self.meta.is_empty()
            && self.expires.is_none()
            && self.created.is_none()
            && self.issued.is_none()
            && self.used.is_none()
            && self.next.is_none()
            && self.rev.is_none()
    }
}

impl MetaText {
    fn is_empty(&self) -> bool {
        self.persistent.is_none()
            && self.lifetime.is_none()
            && self.user.is_none()
            && self.label.is_none()
            && self.gen.is_none()
    }
}

impl From<&SessionMeta> for MetaText {
    fn from(meta: &SessionMeta) -> Self {
        Self {
            persistent: meta.persistent,
            lifetime: meta
                .lifetime
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            user: meta.user.clone(),
            label: meta.label.clone(),
            gen: meta.user_generation,
        }
    }
}

/// Serialized as the record's stamp spells it: `{"persistent": true, "lifetime": ms,
/// "user": "…", "label": "…"}`, each member left out when unset; what the cookie
/// store's payload carries too.
impl Serialize for SessionMeta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MetaText::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SessionMeta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        MetaText::deserialize(deserializer).map(Self::from)
    }
}

impl From<MetaText> for SessionMeta {
    fn from(text: MetaText) -> Self {
        Self {
            persistent: text.persistent,
            lifetime: text.lifetime.map(Duration::from_millis),
            user: text.user,
            label: text.label,
            user_generation: text.gen,
        }
    }
}

impl StoredSession {
    /// The record as JSON: `[values, flash]`, or `[values, flash, {"expires": ms,
    /// "created": ms}]` when it has a deadline or a creation time.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use session_core::StoredSession;
    ///
    /// let mut record = StoredSession::default();
    /// record.data.values.insert("count".into(), 3.into());
    /// assert_eq!(record.to_json()?, r#"[{"count":3},{}]"#);
    ///
    /// record.expires = Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_000));
    /// assert_eq!(record.to_json()?, r#"[{"count":3},{},{"expires":1700000000000}]"#);
    /// assert_eq!(StoredSession::from_json(&record.to_json()?)?, record);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if a value cannot be serialized (not possible for JSON values).
    pub fn to_json(&self) -> Result<String, Error> {
        json_text(self, "(whole session)")
    }

    /// Like [`to_json`](Self::to_json), with `revision` in the stamp as `"rev"`: what
    /// [`StoredSession::revision`] reads back. A store that tells records apart by it
    /// draws a new one for every write.
    ///
    /// ```
    /// use session_core::StoredSession;
    ///
    /// let record = StoredSession::default();
    /// let text = record.to_json_revised(42)?;
    /// assert_eq!(text, r#"[{},{},{"rev":42}]"#);
    /// assert_eq!(StoredSession::from_json(&text)?.revision, Some(42));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if a value cannot be serialized (not possible for JSON values).
    pub fn to_json_revised(&self, revision: u64) -> Result<String, Error> {
        json_text(&Revised(self, Some(revision)), "(whole session)")
    }

    /// The record's third element alone, `{"expires": ms, "created": ms, "rev": n}`
    /// (each part left out when unknown), or `None` when it would be empty: for a store
    /// that splices records as text (the Redis store's merge script) instead of
    /// writing [`to_json_revised`](Self::to_json_revised) whole.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use session_core::StoredSession;
    ///
    /// let mut record = StoredSession::default();
    /// assert_eq!(record.stamp_to_json(None)?, None);
    /// record.created = Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_000));
    /// assert_eq!(
    ///     record.stamp_to_json(Some(9))?.as_deref(),
    ///     Some(r#"{"created":1700000000000,"rev":9}"#)
    /// );
    /// # Ok::<(), session_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if the stamp cannot be serialized (not possible).
    pub fn stamp_to_json(&self, revision: Option<u64>) -> Result<Option<String>, Error> {
        self.stamp(revision)
            .map(|stamp| json_text(&stamp, "(stamp)"))
            .transpose()
    }

    /// The stamp to write, if there is anything to stamp.
    fn stamp(&self, revision: Option<u64>) -> Option<Stamp> {
        let stamp = Stamp {
            meta: MetaText::from(&self.meta),
            expires: self.expires.map(unix_millis),
            created: self.created.map(unix_millis),
            issued: self.id_issued.map(unix_millis),
            used: self.last_used.map(unix_millis),
            next: self.successor.as_ref().map(|next| next.as_str().to_owned()),
            rev: revision,
        };
        (!stamp.is_empty()).then_some(stamp)
    }

    /// Like [`stamp_to_json`](Self::stamp_to_json), without the `"meta"` member: for
    /// the Redis merge script, which keeps the stored meta when the request did not
    /// change it ([`SessionChanges::meta`](crate::SessionChanges::meta)).
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if the stamp cannot be serialized (not possible).
    pub fn stamp_without_meta_to_json(
        &self,
        revision: Option<u64>,
    ) -> Result<Option<String>, Error> {
        self.stamp(revision)
            .map(|stamp| Stamp {
                meta: MetaText::default(),
                ..stamp
            })
            .filter(|stamp| !stamp.is_empty())
            .map(|stamp| json_text(&stamp, "(stamp)"))
            .transpose()
    }

    /// Parses a record written by [`to_json`](Self::to_json) or by Remix.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptRecord`] when the text is not such a record; callers treat that as
    /// "no session" and start a fresh one.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|error| Error::CorruptRecord(error.into()))
    }

    /// What a text backend's raw value means for a read: the record if it is a valid,
    /// unexpired session; `None` if it has expired, or if it is not a session record
    /// at all (not UTF-8, not session JSON), which is logged as a warning naming
    /// `backend`. A corrupt record is never an error: the user gets a fresh session.
    ///
    /// ```
    /// use session_core::StoredSession;
    ///
    /// assert!(StoredSession::decode_live(br#"[{"a":1},{}]"#, "Redis").is_some());
    /// assert!(StoredSession::decode_live(b"{invalid-json", "Redis").is_none());
    /// assert!(StoredSession::decode_live(br#"[{},{},{"expires":1}]"#, "Redis").is_none());
    /// ```
    pub fn decode_live(raw: &[u8], backend: &'static str) -> Option<Self> {
        let record = std::str::from_utf8(raw)
            .map_err(|_| "not UTF-8")
            .and_then(|text| Self::from_json(text).map_err(|_| "not session JSON"));
        match record {
            Ok(record) if record.is_expired_at(SystemTime::now()) => None,
            Ok(record) => Some(record),
            Err(problem) => {
                tracing::warn!(
                    backend,
                    problem,
                    "ignoring a corrupt session record; the user gets a fresh session"
                );
                None
            }
        }
    }
}

/// `time` as milliseconds since the Unix epoch, the unit every stored timestamp uses
/// (Remix's, and JavaScript's `Date.now()`): 0 before the epoch, `u64::MAX` past it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use session_core::{time_from_unix_millis, unix_millis};
///
/// let time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
/// assert_eq!(unix_millis(time), 1_700_000_000_123);
/// assert_eq!(time_from_unix_millis(1_700_000_000_123), Some(time));
/// ```
pub fn unix_millis(time: SystemTime) -> u64 {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// The time `millis` milliseconds after the Unix epoch, or `None` when this platform's
/// `SystemTime` cannot hold it (a corrupt or forged timestamp: adding it would panic).
pub fn time_from_unix_millis(millis: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// `value` as JSON, or the error naming `what`.
fn json_text(value: &impl Serialize, what: &str) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|source| Error::Json {
        key: what.to_owned(),
        source: source.into(),
    })
}

/// A record serialized with a revision in its stamp ([`StoredSession::to_json_revised`]).
struct Revised<'a>(&'a StoredSession, Option<u64>);

/// Serializes without a revision: the one a record was read with is the backend's
/// business (memcached's CAS value), never written back as if it were new.
impl Serialize for StoredSession {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Revised(self, None).serialize(serializer)
    }
}

impl Serialize for Revised<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self(record, revision) = self;
        let stamp = record.stamp(*revision);
        let mut seq = serializer.serialize_seq(Some(if stamp.is_some() { 3 } else { 2 }))?;
        seq.serialize_element(&record.data.values)?;
        seq.serialize_element(&record.data.flash)?;
        if let Some(stamp) = stamp {
            seq.serialize_element(&stamp)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for StoredSession {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = StoredSession;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a session record: [values, flash] or [values, flash, {\"expires\": ms}]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StoredSession, A::Error> {
        let values = seq.next_element::<ValueMap>()?.unwrap_or_default();
        let flash = seq.next_element::<ValueMap>()?.unwrap_or_default();
        let stamp = seq.next_element::<Stamp>()?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        let data = SessionData { values, flash };
        match stamp {
            None => Ok(StoredSession {
                data,
                ..StoredSession::default()
            }),
            Some(stamp) => stamp.into_record(data).map_err(A::Error::custom),
        }
    }
}

impl Stamp {
    /// The record `data` and this stamp make, or what is wrong with the stamp.
    fn into_record(self, data: SessionData) -> Result<StoredSession, &'static str> {
        let time = |millis: Option<u64>| match millis {
            None => Ok(None),
            Some(ms) => time_from_unix_millis(ms)
                .map(Some)
                .ok_or("a timestamp out of range"),
        };
        let successor = match self.next {
            None => None,
            Some(text) => {
                Some(Successor::from_stored(text).ok_or("a successor that is not a sealed id")?)
            }
        };
        Ok(StoredSession {
            data,
            expires: time(self.expires)?,
            created: time(self.created)?,
            revision: self.rev,
            meta: self.meta.into(),
            id_issued: time(self.issued)?,
            last_used: time(self.used)?,
            successor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_live_keeps_live_records_and_drops_expired_and_corrupt_ones() {
        let far = unix_millis(SystemTime::now()) + 3_600_000;
        let live = format!(r#"[{{"user":"alice"}},{{}},{{"expires":{far}}}]"#);
        let found = StoredSession::decode_live(live.as_bytes(), "test").expect("live");
        assert_eq!(found.data.values["user"], "alice");
        assert!(StoredSession::decode_live(br#"[{"user":"alice"}],{}]"#, "test").is_none());
        let past = unix_millis(SystemTime::now()) - 1;
        let expired = format!(r#"[{{"user":"alice"}},{{}},{{"expires":{past}}}]"#);
        assert!(StoredSession::decode_live(expired.as_bytes(), "test").is_none());
        assert!(StoredSession::decode_live(b"\xff[", "test").is_none());
    }

    #[test]
    fn reads_remix_records_without_a_stamp() {
        let text = r#"[{"count":3,"user":{"id":7,"name":"Zoë"}},{"notice":"saved"}]"#;
        let record = StoredSession::from_json(text).expect("a Remix record");
        assert_eq!(record.expires, None);
        assert_eq!(record.data.flash["notice"], "saved");
        assert_eq!(record.to_json().expect("serializes"), text);
    }

    #[test]
    fn stamps_round_trip_with_either_part() {
        let at = |ms| Some(UNIX_EPOCH + Duration::from_millis(ms));
        for (expires, created) in [(at(5), None), (None, at(7)), (at(5), at(7))] {
            let record = StoredSession {
                expires,
                created,
                ..StoredSession::default()
            };
            let text = record.to_json().expect("serializes");
            assert_eq!(
                StoredSession::from_json(&text).expect("parses"),
                record,
                "{text}"
            );
        }
    }

    #[test]
    fn login_choices_and_renewal_fields_round_trip_in_the_stamp() {
        let at = |ms| Some(UNIX_EPOCH + Duration::from_millis(ms));
        let record = StoredSession {
            expires: at(9),
            created: at(1),
            meta: SessionMeta {
                persistent: Some(false),
                lifetime: Some(Duration::from_secs(60)),
                user: Some("ada".into()),
                label: Some("laptop".into()),
                user_generation: Some(3),
            },
            id_issued: at(2),
            last_used: at(5),
            successor: Successor::from_stored("c2VhbGVk".to_owned()),
            ..StoredSession::default()
        };
        let text = record.to_json_revised(4).expect("serializes");
        assert_eq!(
            text,
            concat!(
                r#"[{},{},{"meta":{"persistent":false,"lifetime":60000,"user":"ada","#,
                r#""label":"laptop","gen":3},"expires":9,"created":1,"issued":2,"used":5,"#,
                r#""next":"c2VhbGVk","rev":4}]"#
            )
        );
        let parsed = StoredSession::from_json(&text).expect("parses");
        assert_eq!(
            parsed,
            StoredSession {
                revision: Some(4),
                ..record.clone()
            }
        );
        let bare = record.stamp_without_meta_to_json(None).expect("serializes");
        assert!(!bare.expect("a stamp").contains("meta"));
        // A successor that cannot be a sealed ID is a corrupt record, never followed.
        let forged = text.replace("c2VhbGVk", "../etc");
        assert!(StoredSession::from_json(&forged).is_err());
    }

    #[test]
    fn corrupt_records_are_a_typed_error() {
        for bad in [
            "{invalid-json",
            "{}",
            "null",
            "[1]",
            r#"[{},{},{"expires":"soon"}]"#,
        ] {
            assert!(
                matches!(StoredSession::from_json(bad), Err(Error::CorruptRecord(_))),
                "{bad}"
            );
        }
    }
}
