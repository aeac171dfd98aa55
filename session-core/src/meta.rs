//! What a session carries besides its data: the choices a login makes about it
//! ("remember me", its own lifetime, the user it belongs to, a label for the list of
//! a user's sessions).

use std::fmt;
use std::time::{Duration, SystemTime};

/// A session's login choices, kept with its record (by-ID storage) or inside the
/// signed payload (cookie storage), in a member Remix ignores.
///
/// Saved whole, but only when the request changed it: a parallel request that only
/// writes a value keeps the binding another request made
/// ([`SessionChanges::meta`](crate::SessionChanges::meta)).
///
/// ```
/// use std::time::Duration;
/// use session_core::SessionMeta;
///
/// let meta = SessionMeta {
///     persistent: Some(true),
///     lifetime: Some(Duration::from_secs(30 * 24 * 3600)),
///     user: Some("1".into()),
///     label: Some("Firefox on Linux".into()),
///     ..SessionMeta::default()
/// };
/// assert!(!meta.is_empty());
/// assert!(SessionMeta::default().is_empty());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionMeta {
    /// Whether the cookie outlives the browser session (`Max-Age` following the
    /// session's deadline) or is a browser-session cookie (no `Max-Age`, no
    /// `Expires`). `None`: the layer's default
    /// ([`SessionPolicy::persistent`](crate::SessionPolicy::persistent)).
    pub persistent: Option<bool>,
    /// This session's own idle lifetime, in place of the layer's idle timeout (a
    /// "remember me" session that lasts 30 days without use), never past the absolute
    /// timeout.
    pub lifetime: Option<Duration>,
    /// The user the session is bound to ([`Session::set_user`]), for listing and
    /// revoking a user's sessions.
    ///
    /// [`Session::set_user`]: crate::Session::set_user
    pub user: Option<String>,
    /// A label the app chose for the list of the user's sessions (the user agent, a
    /// device name).
    pub label: Option<String>,
    /// The storage's revocation generation of the user binding, for a storage that
    /// revokes a user's sessions by moving the user to a new generation (memcached,
    /// which cannot enumerate or keep an index reliably): set by the storage when it
    /// first saves the binding, cleared when the user changes, never set by apps.
    pub user_generation: Option<u64>,
}

impl SessionMeta {
    /// True when nothing is set: every choice is the layer's default.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

impl fmt::Debug for SessionMeta {
    /// The user and the label are personal: shown as present or not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMeta")
            .field("persistent", &self.persistent)
            .field("lifetime", &self.lifetime)
            .field("user", &self.user.as_ref().map(|_| "<redacted>"))
            .field("label", &self.label.as_ref().map(|_| "<redacted>"))
            .field("user_generation", &self.user_generation)
            .finish()
    }
}

/// One of a user's live sessions, as listed by
/// [`Session::user_sessions`](crate::Session::user_sessions): never the ID itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSession {
    /// An opaque name for the session, stable while it keeps its ID (a renewal or a
    /// regeneration gives it a new one), from which the ID cannot be recovered: what a "log out this device" button sends back to
    /// [`Session::revoke_user_session`](crate::Session::revoke_user_session).
    pub handle: String,
    /// When the session was first saved, if known.
    pub created: Option<SystemTime>,
    /// When it was last saved (every write, and every idle-deadline push: within the
    /// idle refresh fraction of the real last use).
    pub last_used: Option<SystemTime>,
    /// When it ends unless used again.
    pub expires: Option<SystemTime>,
    /// The label the app gave it ([`SessionMeta::label`]).
    pub label: Option<String>,
    /// True for the session of the request asking.
    pub current: bool,
}

impl UserSession {
    /// How a store lists the live session stored under `name` (its ID, or the key its
    /// record lives under): the handle made from `name` ([`session_handle`]), the times
    /// and the label from `record`.
    ///
    /// ```
    /// use session_core::{session_handle, StoredSession, UserSession};
    ///
    /// let listed = UserSession::listed("session:abc", StoredSession::default(), true);
    /// assert_eq!(listed.handle, session_handle("session:abc"));
    /// assert!(listed.current);
    /// ```
    ///
    /// [`session_handle`]: crate::session_handle
    pub fn listed(name: &str, record: crate::StoredSession, current: bool) -> Self {
        Self {
            handle: crate::session_handle(name),
            created: record.created,
            last_used: record.last_used,
            expires: record.expires,
            label: record.meta.label,
            current,
        }
    }

    /// Puts listed sessions in the order every store lists them: the most recently
    /// used first.
    pub fn newest_first(listed: &mut [Self]) {
        listed.sort_by_key(|listed| std::cmp::Reverse(listed.last_used));
    }
}

/// How many times a store that revokes from its index lists the user's sessions again
/// after deleting them: a session renewed or moved meanwhile is found under its new ID
/// by the next listing.
pub const REVOKE_ROUNDS: usize = 3;

/// Which of a user's sessions to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoke<'a> {
    /// Every session of the user, this one included ("log out everywhere").
    All,
    /// Every session of the user but this one (after a password change).
    AllBut(&'a crate::SessionId),
}
