//! The seam between a [`Session`](crate::Session) and where its data lives between requests.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{
    Error, Revoke, SessionChanges, SessionData, SessionId, SessionMeta, SessionRules,
    StoredSession, UserSession,
};

/// A session as a backend found it.
#[derive(Clone, Debug)]
pub struct FoundSession {
    /// The ID the session was found under.
    pub id: SessionId,
    /// Its values and flash values.
    pub data: SessionData,
    /// Its current deadline, if it has one.
    pub expires: Option<SystemTime>,
    /// When it was first saved, if known (records written by Remix do not say).
    pub created: Option<SystemTime>,
    /// The backend's version of the record, if it has one
    /// ([`StoredSession::revision`]); handed back when the session is saved.
    pub revision: Option<u64>,
    /// Its login choices ([`StoredSession::meta`]).
    pub meta: SessionMeta,
    /// When it got its current ID, if not at creation ([`StoredSession::id_issued`]).
    pub id_issued: Option<SystemTime>,
    /// True when the cookie must be issued again even if nothing changes (it was
    /// signed with a secret that is being rotated out, or it carries the old ID of a
    /// renewal): the session is saved dirty.
    pub reissue: bool,
}

/// Checks the session token a request carried (a signed cookie value, or a header
/// token) before its session is loaded, and decodes it into the value a
/// [`SessionBackend`] reads.
///
/// A [`Session`](crate::Session) built with one ([`Session::with_verifier`]) calls it
/// when it is first loaded, not before: a request that never asks for its session
/// costs no signature check. The middleware's `SessionCookie` is the one every app
/// uses; it checks HMAC signatures or decrypts, for every secret being rotated.
///
/// [`Session::with_verifier`]: crate::Session::with_verifier
///
/// ```
/// use session_core::{TokenVerifier, VerifiedToken};
///
/// /// Accepts tokens of the form `ok.<value>`: a toy, with no cryptography.
/// struct Prefixed;
///
/// impl TokenVerifier for Prefixed {
///     fn verify(&self, token: &str) -> Option<VerifiedToken> {
///         let value = token.strip_prefix("ok.")?;
///         Some(VerifiedToken { value: value.to_owned(), by_old_secret: false })
///     }
/// }
///
/// assert_eq!(Prefixed.verify("ok.abc").map(|token| token.value).as_deref(), Some("abc"));
/// assert!(Prefixed.verify("forged").is_none());
/// ```
pub trait TokenVerifier: Send + Sync + 'static {
    /// The decoded value `token` carries, or `None` when it is not genuine (tampered,
    /// signed with an unknown secret, not ours at all): the session then starts fresh.
    ///
    /// Called under the session's lock, so that the token is never copied: it must be
    /// quick, never block and never panic.
    fn verify(&self, token: &str) -> Option<VerifiedToken>;
}

/// A session token whose signature (or encryption) checked out.
#[derive(PartialEq, Eq)]
pub struct VerifiedToken {
    /// The decoded value, as the backend reads it.
    pub value: String,
    /// A secret other than the current one verified it: the session is saved with a
    /// freshly signed token, so the old secret can be retired.
    pub by_old_secret: bool,
}

impl std::fmt::Debug for VerifiedToken {
    /// Never the value: it is a session ID, or (cookie storage) the session's data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("value", &format_args!("<redacted>"))
            .field("by_old_secret", &self.by_old_secret)
            .finish()
    }
}

/// How a write must treat what is already stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode<'a> {
    /// A new session: store it only if nothing lives under the ID yet, so an ID
    /// collision can never overwrite someone else's session.
    Create,
    /// A session loaded from storage: store it only if its record still exists, so a
    /// save racing a logout (or an expiry) cannot bring the session back.
    Update,
    /// A session loaded from storage moving to a new ID
    /// ([`Session::regenerate_id`]): only if its record under `from` still exists,
    /// delete it and create the record under the new ID; otherwise store nothing and
    /// answer [`WriteOutcome::Gone`], so a login racing a logout cannot bring the
    /// session back. Once the write succeeds, `from` must be dead.
    ///
    /// [`Session::regenerate_id`]: crate::Session::regenerate_id
    Move {
        /// The ID the session's record is stored under.
        from: &'a SessionId,
    },
    /// A brand-new session started after [`Session::destroy`] in the same request:
    /// delete the destroyed session's record under `old` (it may already be gone), and
    /// create under the new ID. Once the write succeeds, `old` must be dead.
    ///
    /// [`Session::destroy`]: crate::Session::destroy
    Replace {
        /// The ID whose record must go.
        old: &'a SessionId,
    },
    /// A session loaded from storage whose ID is renewed on the policy's timer: as
    /// [`Move`](Self::Move), except that the old ID stays usable for `grace`, serving
    /// only the renewed session ([`SessionStorage::renew`]).
    ///
    /// [`SessionStorage::renew`]: crate::SessionStorage::renew
    Renew {
        /// The ID the session's record is stored under.
        from: &'a SessionId,
        /// How long the old ID keeps serving the renewed session.
        grace: std::time::Duration,
    },
}

/// A session to persist at the end of a request.
#[derive(Debug)]
pub struct SessionWrite<'a> {
    /// The ID to store the session under.
    pub id: &'a SessionId,
    /// Whether the record must be new, must exist, or replaces another.
    pub mode: WriteMode<'a>,
    /// What to store: the values and the flash values for the next request, the
    /// deadline if the session has one, and when it was first saved (always set here;
    /// kept across ID changes, for the absolute timeout). Ready to hand to a
    /// [`SessionStorage`](crate::SessionStorage) as it is.
    pub record: &'a StoredSession,
    /// What this request changed, key by key, for a backend that merges an
    /// [`Update`](WriteMode::Update) into the record as it is now. The other modes write
    /// `record` whole and ignore it.
    pub changes: &'a SessionChanges,
}

/// What became of a [`SessionWrite`].
#[derive(Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored; the cookie must now carry this value.
    Written(String),
    /// Stored, but under another ID than the write named: a parallel request had
    /// renewed the session's ID, and the save went to the renewed session. The cookie
    /// must now carry `value`.
    Renamed {
        /// The ID the session now lives under.
        id: SessionId,
        /// The cookie value for it.
        value: String,
    },
    /// A create found the ID already in use (a collision): nothing was written. The
    /// session retries under a fresh ID.
    IdTaken,
    /// An update or a move found the record gone (logged out or expired meanwhile):
    /// nothing was written, and the session is over.
    Gone,
}

impl std::fmt::Debug for WriteOutcome {
    /// Never the cookie value: it is an ID, or (cookie storage) the session's data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Written(_) => f.write_str("Written(<redacted>)"),
            Self::Renamed { .. } => f.write_str("Renamed(<redacted>)"),
            Self::IdTaken => f.write_str("IdTaken"),
            Self::Gone => f.write_str("Gone"),
        }
    }
}

/// Where sessions live between requests, seen from the cookie's side.
///
/// This is the one seam the middleware drives, and both kinds of storage plug into it:
///
/// - **by-ID storage** (memory, Redis, memcached, your own): the cookie carries only the
///   session ID. Implement [`SessionStorage`](crate::SessionStorage) and you get this
///   trait for free through a blanket implementation.
/// - **cookie storage**: the cookie carries the whole session; its backend turns a cookie
///   value into a session and back without any server-side state.
///
/// Cookie values passed in and returned here are plain text: signing, verifying and
/// encoding them is the middleware's job, done before [`load`](Self::load) and after
/// [`write`](Self::write).
///
/// # Implementing your own
///
/// You rarely need to: implement [`SessionStorage`](crate::SessionStorage) instead. This
/// trait is for backends whose cookie value is not just an ID.
///
/// ```
/// use async_trait::async_trait;
/// use session_core::{
///     Error, FoundSession, SessionBackend, SessionData, SessionId, SessionWrite, WriteOutcome,
/// };
///
/// /// Keeps only a session's ID in the cookie and forgets its data: a toy.
/// struct Forgetful;
///
/// #[async_trait]
/// impl SessionBackend for Forgetful {
///     async fn load(&self, cookie_value: &str) -> Result<Option<FoundSession>, Error> {
///         Ok(SessionId::parse(cookie_value).map(|id| FoundSession {
///             id,
///             data: SessionData::default(),
///             expires: None,
///             created: None,
///             revision: None,
///             meta: Default::default(),
///             id_issued: None,
///             reissue: false,
///         }))
///     }
///     async fn write(&self, write: &SessionWrite<'_>) -> Result<WriteOutcome, Error> {
///         Ok(WriteOutcome::Written(write.id.as_str().to_owned()))
///     }
///     async fn destroy(&self, _id: &SessionId) -> Result<(), Error> {
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait SessionBackend: Send + Sync + 'static {
    /// Finds the session a (verified, decoded) cookie value refers to.
    ///
    /// Returns `Ok(None)` when the value does not name a live session (unknown ID,
    /// expired, malformed, corrupt record): the caller then starts a fresh session with a
    /// new ID and never adopts the presented one.
    ///
    /// # Errors
    ///
    /// Only when the backend could not answer (an outage): the request then fails rather
    /// than silently logging the user out.
    async fn load(&self, cookie_value: &str) -> Result<Option<FoundSession>, Error>;

    /// Persists a session as [`SessionWrite::mode`] says and reports what happened.
    ///
    /// # Errors
    ///
    /// When the session could not be persisted; nothing may be reported as saved then.
    async fn write(&self, write: &SessionWrite<'_>) -> Result<WriteOutcome, Error>;

    /// Deletes the session stored under `id` (logout). Deleting an unknown ID succeeds.
    ///
    /// # Errors
    ///
    /// When the backend could not be reached: the logout must then not look successful.
    async fn destroy(&self, id: &SessionId) -> Result<(), Error>;

    /// The conventions this backend's sessions follow (the form of new IDs, how long a
    /// flash lives): [`SessionRules::REMIX`] unless its records are shared with a React
    /// Router app. A backend that wraps another must forward this.
    fn rules(&self) -> SessionRules {
        SessionRules::default()
    }

    /// The live sessions bound to `user`, `current` marked
    /// ([`SessionStorage::user_sessions`](crate::SessionStorage::user_sessions)).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] by default: cookie storage keeps nothing on the server
    /// to list. A backend that wraps another must forward this.
    async fn user_sessions(
        &self,
        user: &str,
        current: Option<&SessionId>,
    ) -> Result<Vec<UserSession>, Error> {
        let _ = (user, current);
        Err(Error::Unsupported {
            backend: "(this backend)",
            operation: "list a user's sessions",
        })
    }

    /// Ends the session of `user` listed as `handle`
    /// ([`SessionStorage::revoke_user_session`](crate::SessionStorage::revoke_user_session)).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] by default.
    async fn revoke_user_session(&self, user: &str, handle: &str) -> Result<bool, Error> {
        let _ = (user, handle);
        Err(Error::Unsupported {
            backend: "(this backend)",
            operation: "revoke one of a user's sessions",
        })
    }

    /// Ends `user`'s sessions
    /// ([`SessionStorage::revoke_user_sessions`](crate::SessionStorage::revoke_user_sessions)).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] by default.
    async fn revoke_user_sessions(&self, user: &str, which: Revoke<'_>) -> Result<u64, Error> {
        let _ = (user, which);
        Err(Error::Unsupported {
            backend: "(this backend)",
            operation: "revoke a user's sessions",
        })
    }
}
