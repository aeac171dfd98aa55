//! Saving a session at the end of a request: deciding what to write, writing it, and
//! handling ID collisions and records that vanished meanwhile.

use std::time::SystemTime;

use super::{Loaded, Session, State};
use crate::{Error, SessionData, SessionId, SessionWrite, StoredSession, WriteMode, WriteOutcome};

/// How many fresh IDs to try when a create finds its ID taken. With 256-bit IDs a
/// single collision is already astronomically unlikely; a second means a broken RNG.
const ID_ATTEMPTS: usize = 3;

/// What the response's session cookie has to do after [`Session::commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CookieUpdate {
    /// Leave the browser's cookie as it is: send no `Set-Cookie`.
    Unchanged,
    /// Set the cookie to `value` (unsigned), valid until `expires` if given.
    Set {
        /// The cookie value the backend returned.
        value: String,
        /// The session's deadline, for the cookie's `Max-Age`.
        expires: Option<SystemTime>,
        /// True when the browser's cookie already carries `value`: a by-ID session
        /// saved under the ID it was loaded with, from a cookie signed with the current
        /// secret. A cookie without a lifetime to refresh need not be sent again, which
        /// spares signing and a `Set-Cookie` on most writes.
        unchanged: bool,
    },
    /// Remove the cookie (the session was destroyed, or ended meanwhile).
    Clear,
}

/// The work `commit` must do, decided under the lock and carried out after it.
enum Plan {
    Nothing,
    Clear { stored: Option<SessionId> },
    Write(Pending),
}

/// A write to attempt, with everything copied out of the lock.
struct Pending {
    id: SessionId,
    old: Option<SessionId>,
    update: bool,
    /// The cookie must be issued again whatever its value (old secret).
    reissue: bool,
    /// What to store; `created` is always set.
    record: StoredSession,
}

impl Pending {
    fn mode(&self) -> WriteMode<'_> {
        match (&self.old, self.update) {
            (Some(old), _) => WriteMode::Replace { old },
            (None, true) => WriteMode::Update,
            (None, false) => WriteMode::Create,
        }
    }
}

impl Session {
    /// Persists what changed and says what the response's cookie must do.
    ///
    /// The middleware calls this once the handler has answered; frameworks without
    /// tower call it through the middleware crate's manual API.
    ///
    /// - An unloaded or unchanged session costs nothing: [`CookieUpdate::Unchanged`]
    ///   (unless the idle deadline is due for its periodic push, see
    ///   [`SessionPolicy`](crate::SessionPolicy)).
    /// - A destroyed session has its record deleted: [`CookieUpdate::Clear`].
    /// - A new session is created only where no record exists (on an ID collision it
    ///   retries under a fresh ID); a loaded one is updated only if its record still
    ///   exists. If it was deleted meanwhile (a logout in a concurrent request), nothing
    ///   is written and the cookie is cleared: a logout is never undone.
    ///
    /// # Errors
    ///
    /// The backend's error when it could not persist the change; nothing was saved then
    /// and the session stays dirty.
    pub async fn commit(&self) -> Result<CookieUpdate, Error> {
        for _ in 0..ID_ATTEMPTS {
            let (backend, plan) = match &*self.lock() {
                State::Pending { .. } => return Ok(CookieUpdate::Unchanged),
                State::Loaded(loaded) => (loaded.backend.clone(), loaded.plan(SystemTime::now())),
            };
            let Some(backend) = backend else {
                return Ok(CookieUpdate::Unchanged);
            };
            let pending = match plan {
                Plan::Nothing => return Ok(CookieUpdate::Unchanged),
                Plan::Clear { stored } => {
                    if let Some(id) = &stored {
                        backend.destroy(id).await?;
                    }
                    self.after_save(|loaded| {
                        loaded.stored_id = None;
                        loaded.destroyed_id = None;
                    });
                    return Ok(CookieUpdate::Clear);
                }
                Plan::Write(pending) => pending,
            };
            let write = SessionWrite {
                id: &pending.id,
                mode: pending.mode(),
                record: &pending.record,
            };
            match backend.write(&write).await? {
                WriteOutcome::Written(value) => {
                    // By-ID backends return the ID as the cookie value: an update in
                    // place leaves the browser's cookie as it is.
                    let unchanged = pending.update
                        && pending.old.is_none()
                        && !pending.reissue
                        && value == pending.id.as_str();
                    self.after_save(|loaded| {
                        loaded.dirty = false;
                        loaded.reissue = false;
                        loaded.stored_id = Some(pending.id);
                        loaded.destroyed_id = None;
                        loaded.created = pending.record.created;
                        loaded.expires = pending.record.expires;
                    });
                    return Ok(CookieUpdate::Set {
                        value,
                        expires: pending.record.expires,
                        unchanged,
                    });
                }
                WriteOutcome::IdTaken => {
                    tracing::warn!("new session ID already in use; retrying with another");
                    let fresh = SessionId::generate()?;
                    self.after_save(|loaded| {
                        // A replace deleted the old record before failing: nothing left
                        // to delete, so the retry is a plain create.
                        loaded.stored_id = None;
                        loaded.destroyed_id = None;
                        loaded.id = fresh;
                    });
                }
                WriteOutcome::Gone => {
                    tracing::info!("session ended by another request before this one saved; not writing it back");
                    self.after_save(|loaded| loaded.stored_id = None);
                    return Ok(CookieUpdate::Clear);
                }
            }
        }
        Err(Error::Internal(
            "freshly generated session IDs collided repeatedly; the OS random source is broken",
        ))
    }

    /// True when [`commit`](Self::commit) has something to do: a change to save, a
    /// record to delete, a cookie to clear, or an idle deadline due for its push.
    ///
    /// Synchronous and cheap, so a middleware can skip the commit machinery for the many
    /// requests that never loaded or never changed their session.
    ///
    /// # Example
    ///
    /// ```
    /// use session_core::Session;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let session = Session::detached()?;
    /// session.load().await?;
    /// session.set("count", 1)?;
    /// assert!(!session.needs_commit()); // detached: nowhere to save it
    /// # Ok::<(), session_core::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn needs_commit(&self) -> bool {
        match &*self.lock() {
            State::Pending { .. } => false,
            State::Loaded(loaded) => loaded.backend.is_some() && loaded.has_work(),
        }
    }

    fn after_save(&self, f: impl FnOnce(&mut Loaded)) {
        if let State::Loaded(loaded) = &mut *self.lock() {
            f(loaded);
        }
    }
}

impl Loaded {
    /// Whether [`plan`](Self::plan) would plan anything, without copying the data and
    /// reading the clock only when an idle deadline might be due.
    fn has_work(&self) -> bool {
        if self.destroyed {
            return self.stored_id.is_some() || self.destroyed_id.is_some() || self.had_cookie;
        }
        if self.dirty {
            return true;
        }
        if self.stored_id.is_none() || self.policy.idle_timeout.is_none() {
            return false;
        }
        let now = SystemTime::now();
        let created = self.created.unwrap_or(now);
        self.policy.needs_refresh(created, self.expires, now)
    }

    fn plan(&self, now: SystemTime) -> Plan {
        if !self.has_work() {
            return Plan::Nothing;
        }
        if self.destroyed {
            let stored = self.stored_id.clone().or(self.destroyed_id.clone());
            return Plan::Clear { stored };
        }
        let created = self.created.unwrap_or(now);
        let old = self
            .destroyed_id
            .clone()
            .or_else(|| self.stored_id.clone().filter(|stored| *stored != self.id));
        Plan::Write(Pending {
            update: self.stored_id.as_ref() == Some(&self.id),
            reissue: self.reissue,
            old,
            id: self.id.clone(),
            record: StoredSession {
                // Arriving flash values are left out on purpose: this save is what
                // clears them.
                data: SessionData {
                    values: self.values.clone(),
                    flash: self.flash_next.clone(),
                },
                expires: self.policy.deadline(created, now),
                created: Some(created),
            },
        })
    }
}
