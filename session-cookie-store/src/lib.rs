//! Session storage that keeps the whole session in its (signed) cookie.
//!
//! Nothing is stored on the server: the cookie value is the JSON
//! `{"i": id, "d": [values, flash]}`, byte for byte what Remix's
//! `createCookieSessionStorage()` writes, so a Node Remix app and a Rust service sharing
//! a cookie name and secret read each other's sessions. The session middleware signs the
//! value (and base64-encodes it) before it leaves the server and verifies it before this
//! crate ever parses it.
//!
//! [`CookieStore::react_router`] writes React Router's layout instead (`react-router`
//! 7 and 8, `@remix-run/node` 2): the data as one flat object, flash values under
//! `__flash_<key>__`, no ID; pair it with `SigningFormat::ReactRouter` on the session
//! cookie. Its sessions follow React Router's flash rule (kept until read), get a new
//! `Session::id` each request (the cookie holds none, as React Router's does not), and
//! keep our deadline and login choices in one `__stamp__` member, written only when
//! there is something to keep.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{CookieUpdate, Session};
//! use session_cookie_store::CookieStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let payload = r#"{"i":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6","d":[{"count":3},{}]}"#;
//! let session = Session::new(Arc::new(CookieStore::new()), Some(payload.to_owned()));
//! session.load().await?;
//! session.set("count", 4)?;
//! let update = session.commit().await?;
//! let expected = r#"{"i":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6","d":[{"count":4},{}]}"#;
//! assert_eq!(
//!     update,
//!     CookieUpdate::Set {
//!         value: expected.into(),
//!         expires: None,
//!         same_value: false,
//!         persistent: true,
//!     }
//! );
//! # Ok::<(), session_core::Error>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Limits
//!
//! - **Size**: browsers drop a cookie whose name and value exceed 4096 bytes. The
//!   middleware refuses to send such a cookie and answers with
//!   [`Error::CookieTooLarge`] naming the size; keep
//!   cookie sessions small or use server-side storage.
//! - **Revocation**: there is no server-side state, so a copy of an old cookie stays
//!   valid until it expires, even after logout or [`regenerate_id`]. Give sessions
//!   idle and absolute timeouts (their deadline and creation time are stored in the
//!   signed payload and enforced on every read), or use server-side storage where
//!   logout must be final.
//! - **A user's sessions**: nothing on the server can list or end them, so
//!   `Session::user_sessions` and the `revoke_*` methods answer
//!   [`Error::Unsupported`]. "Remember me" ([`set_persistent`]) and renewal on a
//!   timer work: the choice and the ID's issue time travel in the signed payload
//!   (`"m"`, `"n"`, members Remix ignores).
//! - **Privacy**: signed is not encrypted; the client can read (but not change) the data.
//! - **Parallel requests**: cookie storage cannot merge. The browser holds the only
//!   copy, each response carries a whole session, and the browser keeps whichever
//!   cookie arrived last, so of two parallel requests that write, one's changes are
//!   lost, [`increment`] included. The server-side stores merge per key (see
//!   `SessionStorage::merge` and ARCHITECTURE.md, "Concurrency"); use one of them for
//!   pages that write the session from parallel requests.
//!
//! [`regenerate_id`]: session_core::Session::regenerate_id
//! [`set_persistent`]: session_core::Session::set_persistent
//! [`increment`]: session_core::Session::increment

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use session_core::{
    async_trait, time_from_unix_millis, unix_millis, Error, FoundSession, Revoke, SessionBackend,
    SessionData, SessionId, SessionMeta, SessionRules, SessionWrite, UserSession, WriteOutcome,
};

mod react_router;

/// Keeps each session inside its cookie. Stateless, so cheap to create and to clone.
#[derive(Clone, Copy, Debug, Default)]
pub struct CookieStore {
    layout: CookieLayout,
}

/// What the cookie's payload looks like: whose app can read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieLayout {
    /// Remix 3's `createCookieSessionStorage`: `{"i": id, "d": [values, flash]}`.
    #[default]
    Remix,
    /// React Router's (7, 8) and Remix 2's `createCookieSessionStorage`: the data as
    /// one flat object, flash values as `__flash_<key>__`, no ID. Flash values follow
    /// React Router's rule ([`FlashLifetime::UntilRead`]). Pair it with
    /// `SigningFormat::ReactRouter` on the session cookie.
    ///
    /// [`FlashLifetime::UntilRead`]: session_core::FlashLifetime::UntilRead
    ReactRouter,
}

impl CookieStore {
    /// A cookie store in Remix's layout. It has no other options: the cookie's
    /// attributes, secrets and lifetime are configured on the session cookie and the
    /// layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cookie store in React Router's layout ([`CookieLayout::ReactRouter`]).
    ///
    /// ```
    /// use session_cookie_store::{CookieLayout, CookieStore};
    ///
    /// assert_eq!(CookieStore::react_router().layout(), CookieLayout::ReactRouter);
    /// assert_eq!(CookieStore::new().layout(), CookieLayout::Remix);
    /// ```
    pub fn react_router() -> Self {
        Self {
            layout: CookieLayout::ReactRouter,
        }
    }

    /// The payload's layout.
    pub fn layout(&self) -> CookieLayout {
        self.layout
    }
}

/// The payload written to the cookie. Field names and order are Remix's; `e` is ours.
#[derive(Serialize)]
struct PayloadOut<'a> {
    i: &'a str,
    d: &'a SessionData,
    /// Expiry in milliseconds since the Unix epoch. Remix ignores unknown fields, so a
    /// payload with `e` still reads there; without timeouts it is left out entirely and
    /// the payload stays byte-identical to Remix's.
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<u64>,
    /// Creation time (ms since the epoch), for the absolute timeout; only written when
    /// there is a deadline too, for the same reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    c: Option<u64>,
    /// When the ID was issued, for renewal on a timer: written only when renewal is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    n: Option<u64>,
    /// The login choices (persistence, lifetime, user, label): written only when set.
    #[serde(skip_serializing_if = "SessionMeta::is_empty")]
    m: &'a SessionMeta,
}

#[derive(Deserialize)]
struct PayloadIn {
    i: String,
    #[serde(default)]
    d: SessionData,
    #[serde(default)]
    e: Option<u64>,
    #[serde(default)]
    c: Option<u64>,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default)]
    m: SessionMeta,
}

#[async_trait]
impl SessionBackend for CookieStore {
    fn rules(&self) -> SessionRules {
        match self.layout {
            CookieLayout::Remix => SessionRules::REMIX,
            CookieLayout::ReactRouter => SessionRules::REACT_ROUTER,
        }
    }

    async fn load(&self, cookie_value: &str) -> Result<Option<FoundSession>, Error> {
        if self.layout == CookieLayout::ReactRouter {
            return react_router::load(cookie_value);
        }
        let payload: PayloadIn = match serde_json::from_str(cookie_value) {
            Ok(payload) => payload,
            Err(error) => {
                // The signature was valid, so this came from us or from an app holding our
                // secret: worth a warning, but the user just gets a fresh session. The
                // kind of failure only: serde's message quotes the session's values.
                let problem = session_core::JsonError::from(error);
                tracing::warn!(%problem, "signed session cookie holds no valid session payload; starting a fresh session");
                return Ok(None);
            }
        };
        let Some((expires, created, id_issued)) = live_times(payload.e, payload.c, payload.n)
        else {
            return Ok(None);
        };
        let Some(id) = SessionId::parse(&payload.i) else {
            tracing::warn!(
                "signed session cookie holds a malformed session id; starting a fresh session"
            );
            return Ok(None);
        };
        Ok(Some(FoundSession {
            id,
            data: payload.d,
            expires,
            created,
            revision: None,
            meta: payload.m,
            id_issued,
            reissue: false,
        }))
    }

    async fn write(&self, write: &SessionWrite<'_>) -> Result<WriteOutcome, Error> {
        // The write mode needs no work: the old session lived only in the old cookie,
        // which this response replaces, and there is nothing server-side to collide with
        // or to have vanished. A copy kept elsewhere stays valid until it expires; that is
        // the documented limit of cookie storage.
        if self.layout == CookieLayout::ReactRouter {
            return react_router::write(write);
        }
        let payload = PayloadOut {
            i: write.id.as_str(),
            d: &write.record.data,
            e: write.record.expires.map(unix_millis),
            c: write
                .record
                .expires
                .and(write.record.created)
                .map(unix_millis),
            n: write.record.id_issued.map(unix_millis),
            m: &write.record.meta,
        };
        let json = serde_json::to_string(&payload).map_err(|source| Error::Json {
            key: "(whole session)".to_owned(),
            source: source.into(),
        })?;
        Ok(WriteOutcome::Written(json))
    }

    async fn destroy(&self, _id: &SessionId) -> Result<(), Error> {
        // Nothing on the server; the middleware clears the cookie.
        Ok(())
    }

    // A cookie it never stored cannot be listed or revoked: say so, never pretend.
    async fn user_sessions(
        &self,
        _user: &str,
        _current: Option<&SessionId>,
    ) -> Result<Vec<UserSession>, Error> {
        Err(unsupported("list a user's sessions"))
    }

    async fn revoke_user_session(&self, _user: &str, _handle: &str) -> Result<bool, Error> {
        Err(unsupported("revoke one of a user's sessions"))
    }

    async fn revoke_user_sessions(&self, _user: &str, _which: Revoke<'_>) -> Result<u64, Error> {
        Err(unsupported("revoke a user's sessions"))
    }
}

/// A payload's deadline, creation time and ID issue time (ms since the epoch, as both
/// layouts store them), or `None` when the session is past its deadline or a time is
/// out of range (a forged or corrupt payload, logged).
type Times = (Option<SystemTime>, Option<SystemTime>, Option<SystemTime>);

fn live_times(expires: Option<u64>, created: Option<u64>, issued: Option<u64>) -> Option<Times> {
    if expires.is_some_and(|expires| expires <= unix_millis(SystemTime::now())) {
        return None;
    }
    let time = |millis: Option<u64>| {
        millis
            .map(|ms| time_from_unix_millis(ms).ok_or(()))
            .transpose()
    };
    let (Ok(expires), Ok(created), Ok(issued)) = (time(expires), time(created), time(issued))
    else {
        tracing::warn!(
            "signed session cookie holds a timestamp out of range; starting a fresh session"
        );
        return None;
    };
    Some((expires, created, issued))
}

fn unsupported(operation: &'static str) -> Error {
    Error::Unsupported {
        backend: "cookie",
        operation,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use session_core::{CookieUpdate, Session};

    use super::*;

    async fn request(
        cookie: Option<String>,
        handle: impl FnOnce(&Session),
    ) -> (Session, CookieUpdate) {
        let session = Session::new(Arc::new(CookieStore::new()), cookie);
        session.load().await.expect("load");
        handle(&session);
        let update = session.commit().await.expect("commit");
        (session, update)
    }

    fn value(update: CookieUpdate) -> String {
        match update {
            CookieUpdate::Set { value, .. } => value,
            other => panic!("expected a cookie value, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn persists_across_requests_with_a_stable_id() {
        let (first, update) = request(None, |s| s.set("count", 1).expect("set")).await;
        let cookie = value(update);
        let (second, update) = request(Some(cookie), |s| {
            let count: u64 = s.get("count").expect("get").expect("present");
            s.set("count", count + 1).expect("set");
        })
        .await;
        assert_eq!(second.get::<u64>("count").expect("get"), Some(2));
        assert_eq!(second.id().expect("id"), first.id().expect("id"));
        assert!(value(update).contains(r#""d":[{"count":2},{}]"#));
    }

    #[tokio::test]
    async fn regenerating_writes_the_new_id() {
        let (first, update) = request(None, |s| s.set("a", 1).expect("set")).await;
        let (second, update) = request(Some(value(update)), |s| {
            s.regenerate_id().expect("regenerate")
        })
        .await;
        assert_ne!(second.id().expect("id"), first.id().expect("id"));
        let cookie = value(update);
        assert!(cookie.contains(second.id().expect("id").as_str()));
        assert!(cookie.contains(r#"{"a":1}"#), "data kept");
    }

    #[tokio::test]
    async fn destroy_clears_the_cookie() {
        let (_, update) = request(None, |s| s.set("a", 1).expect("set")).await;
        let (_, update) = request(Some(value(update)), |s| s.destroy().expect("destroy")).await;
        assert_eq!(update, CookieUpdate::Clear);
    }

    #[tokio::test]
    async fn garbage_payloads_start_fresh_sessions() {
        for bad in [
            "not json",
            "null",
            "[]",
            r#"{"d":[{},{}]}"#,
            r#"{"i":"../x","d":[{},{}]}"#,
            r#"{"i":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6","d":{"a":1}}"#,
        ] {
            let (session, update) = request(Some(bad.to_owned()), |_| {}).await;
            assert!(session.is_empty().expect("len"), "{bad}");
            assert_eq!(update, CookieUpdate::Keep, "{bad}");
        }
    }

    #[tokio::test]
    async fn timestamps_are_stored_and_enforced() {
        use session_core::SessionPolicy;

        let policy = |idle| {
            Arc::new(SessionPolicy {
                idle_timeout: Some(idle),
                ..SessionPolicy::default()
            })
        };
        let session = Session::with_policy(
            Arc::new(CookieStore::new()),
            policy(Duration::from_secs(60)),
            None,
        );
        session.load().await.expect("load");
        session.set("a", 1).expect("set");
        let cookie = value(session.commit().await.expect("commit"));
        assert!(
            cookie.contains(r#","e":"#) && cookie.contains(r#","c":"#),
            "{cookie}"
        );
        let (again, _) = request(Some(cookie.clone()), |_| {}).await;
        assert_eq!(again.get::<u8>("a").expect("get"), Some(1));

        // The same payload with its deadline in the past is refused.
        let expired = cookie.replace(r#","e":"#, r#","e":1,"x":"#);
        let (again, _) = request(Some(expired), |_| {}).await;
        assert_eq!(
            again.get::<u8>("a").expect("get"),
            None,
            "expired payload ignored"
        );
    }
}
