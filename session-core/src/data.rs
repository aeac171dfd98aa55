//! What a session stores: values and flash values, in Remix's `[values, flash]` layout.

use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A JSON object: the map type of session values.
pub type ValueMap = Map<String, Value>;

/// The persisted part of a session: its values and the flash values for the next request.
///
/// Serialized exactly as Remix does, a two-element JSON array `[values, flash]`, so a
/// record written by a Node Remix app reads here and the other way round. When reading,
/// missing elements are empty maps and elements past the second are ignored: a backend
/// may append its own bookkeeping (an expiry stamp, say) without breaking Remix.
///
/// # Example
///
/// ```
/// use session_core::SessionData;
///
/// let data: SessionData = serde_json::from_str(r#"[{"count":3},{"notice":"saved"}]"#)?;
/// assert_eq!(data.values["count"], 3);
/// assert_eq!(data.flash["notice"], "saved");
/// assert_eq!(serde_json::to_string(&data)?, r#"[{"count":3},{"notice":"saved"}]"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct SessionData {
    /// Ordinary values, kept until removed.
    pub values: ValueMap,
    /// Flash values, visible during the next request only.
    pub flash: ValueMap,
}

impl std::fmt::Debug for SessionData {
    /// How many values there are, never what they hold (they may be secrets). Records
    /// and found sessions that hold one print through this too.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionData")
            .field("values", &self.values.len())
            .field("flash", &self.flash.len())
            .finish()
    }
}

impl SessionData {
    /// True when there are neither values nor flash values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.flash.is_empty()
    }
}

impl Serialize for SessionData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(&self.values)?;
        tuple.serialize_element(&self.flash)?;
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for SessionData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(DataVisitor)
    }
}

struct DataVisitor;

impl<'de> Visitor<'de> for DataVisitor {
    type Value = SessionData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a session record: an array [values, flash] of two JSON objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SessionData, A::Error> {
        let values = seq.next_element::<ValueMap>()?.unwrap_or_default();
        let flash = seq.next_element::<ValueMap>()?.unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(SessionData { values, flash })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_only_without_values_and_without_flash() {
        assert!(SessionData::default().is_empty());
        let values: SessionData = serde_json::from_value(json!([{ "a": 1 }, {}])).expect("data");
        let flash: SessionData = serde_json::from_value(json!([{}, { "a": 1 }])).expect("data");
        assert!(!values.is_empty());
        assert!(!flash.is_empty());
    }

    #[test]
    fn a_json_object_is_not_a_record() {
        // Remix's layout is an array; an object (any other program's JSON) is refused
        // rather than read as an empty session.
        assert!(serde_json::from_value::<SessionData>(json!({ "a": 1 })).is_err());
        assert!(serde_json::from_value::<SessionData>(json!({})).is_err());
    }

    #[test]
    fn round_trips_in_remix_layout() {
        let text = r#"[{"count":3,"user":{"id":7,"name":"Zoë"}},{"notice":"saved"}]"#;
        let data: SessionData = serde_json::from_str(text).expect("valid");
        assert_eq!(data.values["user"], json!({"id": 7, "name": "Zoë"}));
        assert_eq!(serde_json::to_string(&data).expect("serializes"), text);
    }

    #[test]
    fn tolerates_missing_and_extra_elements() {
        let short: SessionData = serde_json::from_str("[]").expect("valid");
        assert!(short.is_empty());
        let long: SessionData =
            serde_json::from_str(r#"[{"a":1},{},{"expires":123},"x"]"#).expect("valid");
        assert_eq!(long.values["a"], 1);
    }

    #[test]
    fn refuses_what_is_not_a_record() {
        for bad in [r#"{"a":1}"#, "null", "3", r#"[1,{}]"#, r#"[{}, []]"#, "[{"] {
            assert!(serde_json::from_str::<SessionData>(bad).is_err(), "{bad}");
        }
    }
}
