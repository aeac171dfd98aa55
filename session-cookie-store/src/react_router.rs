//! React Router's cookie-storage layout (`createCookieSessionStorage` in `react-router`
//! 7 and 8 and `@remix-run/node` 2): the cookie holds the session's data as one flat
//! object, flash values as `__flash_<key>__`, and no ID.
//!
//! What React Router has no place for rides in one member of ours, `"__stamp__"` (a
//! reserved key: a value the app sets under it is refused), and only when there is
//! something to keep (a deadline, the creation time, login choices). Without it the
//! payload is React Router's object, its keys in key order (React Router writes
//! insertion order: the bytes match when the two agree, and each side reads the
//! other's either way). A React Router app sees the member as one more value and
//! writes it back untouched.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use session_core::{
    unix_millis, Error, FoundSession, SessionData, SessionId, SessionMeta, SessionRules,
    SessionWrite, ValueMap, WriteOutcome,
};

/// The member our bookkeeping rides in.
const STAMP_KEY: &str = "__stamp__";

#[derive(Serialize, Deserialize, Default)]
struct Stamp {
    /// Expiry, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<u64>,
    /// Creation time, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<u64>,
    /// When the ID was issued, for renewal on a timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<u64>,
    /// The login choices.
    #[serde(default, skip_serializing_if = "SessionMeta::is_empty")]
    m: SessionMeta,
}

impl Stamp {
    fn is_empty(&self) -> bool {
        self.e.is_none() && self.c.is_none() && self.n.is_none() && self.m.is_empty()
    }
}

/// The session a React Router payload holds. The cookie carries no ID, so the session
/// gets a fresh one for this request (React Router's is `""`); nothing server-side is
/// keyed by it.
pub(crate) fn load(cookie_value: &str) -> Result<Option<FoundSession>, Error> {
    // React Router 8.5.3's rule: only an object is a session (older lines spread a
    // string's characters into one).
    // The middleware hands data over starting with `{`, and a string never so.
    let object = cookie_value.starts_with('{');
    let Some(mut flat) = object
        .then(|| serde_json::from_str::<ValueMap>(cookie_value).ok())
        .flatten()
    else {
        tracing::warn!("signed session cookie holds no JSON object; starting a fresh session");
        return Ok(None);
    };
    let stamp = match flat.remove(STAMP_KEY) {
        None => Stamp::default(),
        Some(value) => match serde_json::from_value::<Stamp>(value) {
            Ok(stamp) => stamp,
            Err(_) => {
                tracing::warn!(
                    "signed session cookie holds a malformed stamp; starting a fresh session"
                );
                return Ok(None);
            }
        },
    };
    let Some((expires, created, id_issued)) = crate::live_times(stamp.e, stamp.c, stamp.n) else {
        return Ok(None);
    };
    Ok(Some(FoundSession {
        id: SessionId::generate_in(SessionRules::REACT_ROUTER.ids)?,
        data: SessionData::from_flat(flat),
        expires,
        created,
        revision: None,
        meta: stamp.m,
        id_issued,
        reissue: false,
    }))
}

/// The payload for a write: the flat data, then the stamp if there is one.
pub(crate) fn write(write: &SessionWrite<'_>) -> Result<WriteOutcome, Error> {
    let record = write.record;
    let stamp = Stamp {
        e: record.expires.map(unix_millis),
        c: record.expires.and(record.created).map(unix_millis),
        n: record.id_issued.map(unix_millis),
        m: record.meta.clone(),
    };
    if record.data.values.contains_key(STAMP_KEY) {
        return Err(Error::Json {
            key: STAMP_KEY.to_owned(),
            source: <serde_json::Error as serde::ser::Error>::custom(
                "this key is reserved by React Router's cookie layout; use another name",
            )
            .into(),
        });
    }
    let mut payload = json_text(&record.data.to_flat(), "(whole session)")?;
    if !stamp.is_empty() {
        // Appended as text: the data keeps React Router's order (values, then flash).
        payload.pop();
        if payload.len() > 1 {
            payload.push(',');
        }
        payload.push_str(&Value::from(STAMP_KEY).to_string());
        payload.push(':');
        payload.push_str(&json_text(&stamp, STAMP_KEY)?);
        payload.push('}');
    }
    Ok(WriteOutcome::Written(payload))
}

/// `value` as JSON text, or the error naming `key`.
fn json_text(value: &impl Serialize, key: &str) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|source| Error::Json {
        key: key.to_owned(),
        source: source.into(),
    })
}
