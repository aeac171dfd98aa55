//! What a login does to a session beyond its data: "remember me", a lifetime of its
//! own, the user it belongs to, and that user's other sessions.

use std::time::Duration;

use super::{Session, State};
use crate::{Error, Revoke, SessionMeta, UserSession};

impl Session {
    /// Chooses whether the session's cookie outlives the browser session: `true` (a
    /// "Remember me" box ticked) gives it a `Max-Age` following the session's
    /// deadline; `false` makes it a browser-session cookie, with neither `Max-Age` nor
    /// `Expires`, dropped when the browser closes. The server enforces the idle and
    /// absolute timeouts either way. Kept with the session across requests and
    /// [`regenerate_id`](Self::regenerate_id); without a choice, the layer's default
    /// ([`SessionPolicy::persistent`](crate::SessionPolicy::persistent)) applies.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::Session;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let session = Session::detached()?;
    /// session.load().await?;
    /// session.set_persistent(true)?;
    /// session.set_lifetime(Some(Duration::from_secs(30 * 24 * 3600)))?;
    /// assert_eq!(session.meta()?.persistent, Some(true));
    /// # Ok::<(), session_core::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn set_persistent(&self, persistent: bool) -> Result<(), Error> {
        self.change_meta(|meta| meta.persistent = Some(persistent))
    }

    /// Gives the session an idle lifetime of its own in place of the layer's idle
    /// timeout (`None`: back to the layer's), never past the absolute timeout: a
    /// "remember me" session that lasts 30 days without use while others end after
    /// 30 minutes.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn set_lifetime(&self, lifetime: Option<Duration>) -> Result<(), Error> {
        self.change_meta(|meta| meta.lifetime = lifetime)
    }

    /// Binds the session to `user` (any string the app chooses: an ID, an email), so
    /// that the user's sessions can be listed ([`user_sessions`](Self::user_sessions))
    /// and revoked. Call it at login, with [`regenerate_id`](Self::regenerate_id). The
    /// binding ends with the session ([`destroy`](Self::destroy)).
    ///
    /// ```
    /// use session_core::Session;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let session = Session::detached()?;
    /// session.load().await?;
    /// session.set_user("1")?;
    /// assert_eq!(session.user()?.as_deref(), Some("1"));
    /// session.destroy()?;
    /// assert_eq!(session.user()?, None);
    /// # Ok::<(), session_core::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn set_user(&self, user: impl Into<String>) -> Result<(), Error> {
        let user = user.into();
        self.change_meta(|meta| {
            if meta.user.as_deref() != Some(user.as_str()) {
                // The storage's generation belonged to the old binding.
                meta.user_generation = None;
            }
            meta.user = Some(user);
        })
    }

    /// Unbinds the session from its user (it stays a session of its own).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn clear_user(&self) -> Result<(), Error> {
        self.change_meta(|meta| {
            meta.user = None;
            meta.user_generation = None;
        })
    }

    /// Labels the session in the list of the user's sessions ("Firefox on Linux").
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn set_label(&self, label: impl Into<String>) -> Result<(), Error> {
        let label = label.into();
        self.change_meta(|meta| meta.label = Some(label))
    }

    /// The user the session is bound to, if any (none once destroyed).
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn user(&self) -> Result<Option<String>, Error> {
        self.meta().map(|meta| meta.user)
    }

    /// The session's login choices ([`SessionMeta`]); the defaults once destroyed.
    ///
    /// # Errors
    ///
    /// [`Error::NotLoaded`] before [`load`](Self::load).
    pub fn meta(&self) -> Result<SessionMeta, Error> {
        self.with_copy(|copy| Ok(copy.meta().clone()))
    }

    pub(super) fn change_meta(&self, change: impl FnOnce(&mut SessionMeta)) -> Result<(), Error> {
        self.with_copy(|copy| copy.change_meta(change))
    }

    /// The live sessions of the user this session is bound to, this one marked
    /// [`current`](UserSession::current): the page that says where you are logged in.
    ///
    /// Memory and Redis list every session; memcached lists what its best-effort
    /// index still holds (it may evict any key). A session not saved yet is not
    /// listed.
    ///
    /// # Errors
    ///
    /// [`Error::NoUser`] when the session is bound to no user;
    /// [`Error::Unsupported`] on cookie storage, which keeps nothing on the server; the
    /// storage's error when it could not be asked.
    pub async fn user_sessions(&self) -> Result<Vec<UserSession>, Error> {
        let (backend, user, id) = self.bound()?;
        backend.user_sessions(&user, Some(&id)).await
    }

    /// Ends the session of this user listed with `handle` ("log out that device");
    /// `false` when there is none. Ending the current one this way is the same as
    /// [`destroy`](Self::destroy).
    ///
    /// # Errors
    ///
    /// As [`user_sessions`](Self::user_sessions).
    pub async fn revoke_user_session(&self, handle: &str) -> Result<bool, Error> {
        let (backend, user, _) = self.bound()?;
        let current = self
            .user_sessions()
            .await?
            .into_iter()
            .any(|listed| listed.current && listed.handle == handle);
        if current {
            self.destroy()?;
            return Ok(true);
        }
        backend.revoke_user_session(&user, handle).await
    }

    /// Ends every other session of this user (after a password change) and returns how
    /// many the storage ended; this one stays.
    ///
    /// # Errors
    ///
    /// As [`user_sessions`](Self::user_sessions).
    pub async fn revoke_other_sessions(&self) -> Result<u64, Error> {
        let (backend, user, id) = self.bound()?;
        let ended = backend
            .revoke_user_sessions(&user, Revoke::AllBut(&id))
            .await?;
        // A storage that revokes by generation (memcached) moved this session to the
        // user's new one; the copy's is the old: let the storage stamp it afresh.
        self.change_meta(|meta| meta.user_generation = None)?;
        Ok(ended)
    }

    /// Ends every session of this user, this one included ("log out everywhere"),
    /// and returns how many the storage ended. This session is destroyed: its cookie
    /// is cleared by the response.
    ///
    /// # Errors
    ///
    /// As [`user_sessions`](Self::user_sessions).
    pub async fn revoke_all_sessions(&self) -> Result<u64, Error> {
        let (backend, user, _) = self.bound()?;
        let ended = backend.revoke_user_sessions(&user, Revoke::All).await?;
        self.destroy()?;
        Ok(ended)
    }

    /// The backend, the bound user and the current ID, or why there are none.
    fn bound(
        &self,
    ) -> Result<
        (
            std::sync::Arc<dyn crate::SessionBackend>,
            String,
            crate::SessionId,
        ),
        Error,
    > {
        let (user, id) = match &*self.lock() {
            State::Unloaded { .. } => return Err(Error::NotLoaded),
            State::Loaded(copy) => (copy.meta().user.clone(), copy.listed_id().clone()),
        };
        let user = user.ok_or(Error::NoUser)?;
        let backend = self.inner.backend.clone().ok_or(Error::Unsupported {
            backend: "(detached)",
            operation: "list a user's sessions",
        })?;
        Ok((backend, user, id))
    }
}
