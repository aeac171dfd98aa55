//! React Router's layouts (`react-router`, `@react-router/node`, `@remix-run/node` 2),
//! translated at the edge: the session stays ours, only the text differs.
//!
//! - The data is one flat object; a flash value for `key` sits in it as
//!   `__flash_<key>__` ([`SessionData::to_flat`], [`SessionData::from_flat`]).
//! - A file record is `{"data":{…},"expires":"2030-01-01T01:00:00.000Z"}`, `expires`
//!   (JavaScript's `toISOString`) left out when there is none
//!   ([`StoredSession::to_react_router_json`]). Our own stamp (creation time, login
//!   choices, revision) rides in a third member, `"stamp"`, which React Router ignores
//!   when reading and drops when it writes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(test)]
use super::MetaText;
use super::{json_text, unix_millis, Stamp};
use crate::{Error, SessionData, StoredSession, ValueMap};

const FLASH_PREFIX: &str = "__flash_";
const FLASH_SUFFIX: &str = "__";

impl SessionData {
    /// The data in React Router's flat layout: the values, then each flash value
    /// under `__flash_<key>__`.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::SessionData;
    ///
    /// let data: SessionData = serde_json::from_value(json!([{"count": 3}, {"notice": "saved"}]))?;
    /// let flat = data.to_flat();
    /// assert_eq!(
    ///     serde_json::to_string(&flat)?,
    ///     r#"{"count":3,"__flash_notice__":"saved"}"#
    /// );
    /// assert_eq!(SessionData::from_flat(flat), data);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_flat(&self) -> FlatData<'_> {
        FlatData(self)
    }

    /// Reads React Router's flat layout: every `__flash_<key>__` member is the flash
    /// value of `key`, every other member a value.
    pub fn from_flat(flat: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut data = Self::default();
        for (key, value) in flat {
            match flash_key(&key) {
                Some(flash) => {
                    data.flash.insert(flash.to_owned(), value);
                }
                None => {
                    data.values.insert(key, value);
                }
            }
        }
        data
    }
}

/// The key `__flash_<key>__` names, if it names one.
fn flash_key(key: &str) -> Option<&str> {
    key.strip_prefix(FLASH_PREFIX)?.strip_suffix(FLASH_SUFFIX)
}

/// [`SessionData`] seen as React Router's flat object ([`SessionData::to_flat`]):
/// serializes the values (in key order), then the flash values as `__flash_<key>__`.
#[derive(Clone, Copy, Debug)]
pub struct FlatData<'a>(&'a SessionData);

impl Serialize for FlatData<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let data = self.0;
        let mut map = serializer.serialize_map(Some(data.values.len() + data.flash.len()))?;
        for (key, value) in &data.values {
            map.serialize_entry(key, value)?;
        }
        for (key, value) in &data.flash {
            map.serialize_entry(&format_args!("{FLASH_PREFIX}{key}{FLASH_SUFFIX}"), value)?;
        }
        map.end()
    }
}

impl IntoIterator for FlatData<'_> {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        let data = self.0;
        let values = data.values.iter().map(|(k, v)| (k.clone(), v.clone()));
        let flash = data
            .flash
            .iter()
            .map(|(k, v)| (format!("{FLASH_PREFIX}{k}{FLASH_SUFFIX}"), v.clone()));
        values.chain(flash).collect::<Vec<_>>().into_iter()
    }
}

#[derive(Serialize)]
struct FileRecordOut<'a> {
    data: FlatData<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stamp: Option<Stamp>,
}

#[derive(Deserialize)]
struct FileRecordIn {
    data: ValueMap,
    #[serde(default)]
    expires: Option<Value>,
    #[serde(default)]
    stamp: Option<Stamp>,
}

impl StoredSession {
    /// The record in React Router's file layout, `{"data":{…},"expires":"…Z"}`, with our
    /// stamp (all but the deadline, which is `expires`) as `"stamp"` when there is one,
    /// and `revision` in it as `"rev"`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use session_core::StoredSession;
    ///
    /// let mut record = StoredSession::default();
    /// record.data.values.insert("count".into(), 3.into());
    /// record.expires = Some(UNIX_EPOCH + Duration::from_secs(1_893_459_600));
    /// let text = record.to_react_router_json(None)?;
    /// assert_eq!(text, r#"{"data":{"count":3},"expires":"2030-01-01T01:00:00.000Z"}"#);
    /// assert_eq!(StoredSession::from_react_router_json(&text)?.expires, record.expires);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if a value cannot be serialized (not possible for JSON values).
    pub fn to_react_router_json(&self, revision: Option<u64>) -> Result<String, Error> {
        let stamp = self
            .stamp(revision)
            .map(|stamp| Stamp {
                expires: None,
                ..stamp
            })
            .filter(|stamp| !stamp.is_empty());
        json_text(
            &FileRecordOut {
                data: self.data.to_flat(),
                expires: self.expires.map(iso_millis),
                stamp,
            },
            "(whole session)",
        )
    }

    /// Parses a record in React Router's file layout (written by React Router, Remix 2
    /// or [`to_react_router_json`](Self::to_react_router_json)). `expires` counts only
    /// when it is a string, as in React Router.
    ///
    /// # Errors
    ///
    /// [`Error::CorruptRecord`] when the text is not such a record, or its `expires`
    /// string is not a `toISOString` date (React Router would read that as no expiry;
    /// we refuse it rather than keep a session whose deadline we cannot tell).
    pub fn from_react_router_json(text: &str) -> Result<Self, Error> {
        let corrupt = |what: &'static str| {
            Error::CorruptRecord(<serde_json::Error as serde::de::Error>::custom(what).into())
        };
        let record: FileRecordIn =
            serde_json::from_str(text).map_err(|error| Error::CorruptRecord(error.into()))?;
        let expires = match record.expires {
            Some(Value::String(text)) => Some(
                parse_iso_millis(&text)
                    .ok_or_else(|| corrupt("an expires date that is not an ISO 8601 time"))?,
            ),
            _ => None,
        };
        let data = SessionData::from_flat(record.data);
        let mut stored = match record.stamp {
            Some(stamp) => stamp.into_record(data).map_err(corrupt)?,
            None => StoredSession {
                data,
                ..StoredSession::default()
            },
        };
        stored.expires = expires;
        Ok(stored)
    }
}

impl Stamp {
    /// A stamp with nothing but the meta, for tests.
    #[cfg(test)]
    fn with_meta(meta: MetaText) -> Self {
        Self {
            meta,
            expires: None,
            created: None,
            issued: None,
            used: None,
            next: None,
            rev: None,
        }
    }
}

/// `toISOString`'s form: `YYYY-MM-DDTHH:MM:SS.sssZ`, always UTC, always milliseconds.
const ISO_MILLIS: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
);

/// `time` as JavaScript's `Date.prototype.toISOString` writes it (times past the year
/// 9999 clamped to its end: no cookie or record outlives that).
pub(crate) fn iso_millis(time: SystemTime) -> String {
    const LAST: u64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let clamped = UNIX_EPOCH + Duration::from_millis(unix_millis(time).min(LAST));
    time::OffsetDateTime::from(clamped)
        .format(ISO_MILLIS)
        .expect("a date between 1970 and 9999 formats")
}

/// Parses exactly `toISOString`'s form, and nothing before 1970.
pub(crate) fn parse_iso_millis(text: &str) -> Option<SystemTime> {
    let parsed = time::PrimitiveDateTime::parse(text, ISO_MILLIS)
        .ok()?
        .assume_utc();
    let time = SystemTime::from(parsed);
    (time >= UNIX_EPOCH).then_some(time)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn iso_dates_round_trip_and_match_javascript() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_893_456_000_000, "2030-01-01T00:00:00.000Z"),
            (1_893_459_660_000, "2030-01-01T01:01:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
        ] {
            let time = UNIX_EPOCH + Duration::from_millis(millis);
            assert_eq!(iso_millis(time), text);
            assert_eq!(parse_iso_millis(text), Some(time), "{text}");
        }
        for bad in [
            "2030-01-01T00:00:00Z",
            "2030-01-01 00:00:00.000Z",
            "2030-13-01T00:00:00.000Z",
            "2030-02-29T00:00:00.000Z",
            "2030-01-01T24:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "+2030-01-01T00:00:00.00Z",
            "2030-01-01T00:00:00.000+",
        ] {
            assert_eq!(parse_iso_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn flat_data_splits_flash_keys_and_writes_them_last() {
        let flat =
            json!({"__flash_notice__": "saved", "count": 3, "__flash___": 1, "__flash_x": 2});
        let data = SessionData::from_flat(serde_json::from_value::<ValueMap>(flat).expect("map"));
        assert_eq!(data.flash.get("notice"), Some(&json!("saved")));
        assert_eq!(data.flash.get(""), Some(&json!(1)));
        assert_eq!(
            data.values.get("__flash_x"),
            Some(&json!(2)),
            "not a flash key"
        );
        assert_eq!(
            serde_json::to_string(&data.to_flat()).expect("json"),
            r#"{"__flash_x":2,"count":3,"__flash___":1,"__flash_notice__":"saved"}"#
        );
        assert_eq!(data.to_flat().into_iter().count(), 4);
    }

    #[test]
    fn file_records_keep_our_stamp_beside_react_routers_members() {
        let mut record = StoredSession::default();
        record.data.flash.insert("notice".into(), json!("saved"));
        assert_eq!(
            record.to_react_router_json(None).expect("json"),
            r#"{"data":{"__flash_notice__":"saved"}}"#
        );
        record.created = Some(UNIX_EPOCH + Duration::from_millis(5));
        let text = record.to_react_router_json(Some(7)).expect("json");
        assert_eq!(
            text,
            r#"{"data":{"__flash_notice__":"saved"},"stamp":{"created":5,"rev":7}}"#
        );
        let back = StoredSession::from_react_router_json(&text).expect("record");
        assert_eq!((back.created, back.revision), (record.created, Some(7)));
        assert_eq!(back.data, record.data);
        assert!(Stamp::with_meta(MetaText::default()).is_empty());
    }

    #[test]
    fn only_a_string_expires_counts_and_a_bad_one_is_corrupt() {
        let plain = StoredSession::from_react_router_json(r#"{"data":{"a":1,"__flash_b__":2}}"#)
            .expect("record");
        assert_eq!(plain.data.values.get("a"), Some(&json!(1)));
        assert_eq!(plain.data.flash.get("b"), Some(&json!(2)));
        let number =
            StoredSession::from_react_router_json(r#"{"data":{},"expires":5}"#).expect("record");
        assert_eq!(number.expires, None);
        assert!(StoredSession::from_react_router_json(r#"{"data":{},"expires":"soon"}"#).is_err());
        for bad in [
            "[]",
            r#"{"expires":"2030-01-01T00:00:00.000Z"}"#,
            r#"{"data":[]}"#,
            "{",
        ] {
            assert!(StoredSession::from_react_router_json(bad).is_err(), "{bad}");
        }
    }
}
