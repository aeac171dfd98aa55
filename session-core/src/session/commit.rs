//! Saving a session at the end of a request: the async shell around the working
//! copy's [`plan`](super::WorkingCopy::plan) and `settle_*` transitions, which decide
//! everything (`working_copy.rs`).

use std::sync::Arc;
use std::time::SystemTime;

use super::working_copy::{Plan, WorkingCopy};
use super::{Session, State};
use crate::{Error, SessionId, SessionWrite, WriteOutcome};

/// How many fresh IDs to try when a create finds its ID taken. With 256-bit IDs a
/// single collision is already astronomically unlikely; a second means a broken RNG.
const ID_ATTEMPTS: usize = 3;

/// Rounds of plan-and-write one commit makes at most: one, plus one for each change
/// another clone makes while a write is in flight, plus the ID retries.
const MAX_ROUNDS: usize = 6;

/// What the response's session cookie has to do after [`Session::commit`].
#[derive(Clone, PartialEq, Eq)]
pub enum CookieUpdate {
    /// Leave the browser's cookie as it is: send no `Set-Cookie`.
    Keep,
    /// Set the cookie to `value` (unsigned), valid until `expires` if given.
    Set {
        /// The cookie value the backend returned.
        value: String,
        /// The session's deadline, for the cookie's `Max-Age`.
        expires: Option<SystemTime>,
        /// True when the browser's cookie already carries `value`: a by-ID session
        /// saved under the ID it was loaded with, from a cookie signed with the current
        /// secret. Such a cookie needs sending again only to push back its `Max-Age`,
        /// which spares signing and a `Set-Cookie` on most writes.
        same_value: bool,
        /// True when the cookie outlives the browser session (`Max-Age` following
        /// `expires`); false for a browser-session cookie, with neither `Max-Age` nor
        /// `Expires` ([`Session::set_persistent`]).
        persistent: bool,
    },
    /// Remove the cookie (the session was destroyed, or ended meanwhile).
    Clear,
}

impl std::fmt::Debug for CookieUpdate {
    /// Never the cookie value: it is an ID, or (cookie storage) the session's data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keep => f.write_str("Keep"),
            Self::Set {
                expires,
                same_value,
                persistent,
                ..
            } => f
                .debug_struct("Set")
                .field("value", &format_args!("<redacted>"))
                .field("expires", expires)
                .field("same_value", same_value)
                .field("persistent", persistent)
                .finish(),
            Self::Clear => f.write_str("Clear"),
        }
    }
}

impl CookieUpdate {
    /// What the cookie must do after `self`, then `next`, in one response.
    fn then(self, next: Self) -> Self {
        match (self, next) {
            (earlier, Self::Keep) => earlier,
            (
                Self::Set {
                    same_value: earlier_same,
                    ..
                },
                Self::Set {
                    value,
                    expires,
                    same_value,
                    persistent,
                },
            ) => Self::Set {
                value,
                expires,
                same_value: earlier_same && same_value,
                persistent,
            },
            // The clearing cookie was not sent yet: the browser still holds the old one.
            (
                Self::Clear,
                Self::Set {
                    value,
                    expires,
                    persistent,
                    ..
                },
            ) => Self::Set {
                value,
                expires,
                same_value: false,
                persistent,
            },
            (_, later) => later,
        }
    }
}

impl Session {
    /// Persists what changed and says what the response's cookie must do.
    ///
    /// The middleware calls this once the handler has answered; frameworks without
    /// tower call it through the middleware crate's manual API.
    ///
    /// - An unloaded or unchanged session costs nothing: [`CookieUpdate::Keep`]
    ///   (unless the idle deadline is due for its periodic push, see
    ///   [`SessionPolicy`](crate::SessionPolicy)).
    /// - A destroyed session has its record deleted: [`CookieUpdate::Clear`].
    /// - A new session is created only where no record exists (on an ID collision it
    ///   retries under a fresh ID); a loaded one is updated only if its record still
    ///   exists. If it was deleted meanwhile (a logout in a concurrent request), nothing
    ///   is written, the session counts as destroyed and the cookie is cleared: a
    ///   logout is never undone, not even by a second commit.
    ///
    /// # Errors
    ///
    /// The backend's error when it could not persist the change; the session stays
    /// dirty. Nothing was saved, unless the backend failed after applying the write
    /// (a reply lost to a timeout or a broken connection): then committing again
    /// applies the same changes twice, which for an
    /// [`increment`](Session::increment) counts it twice. A request that fails to save
    /// is best answered with an error rather than a second commit.
    pub async fn commit(&self) -> Result<CookieUpdate, Error> {
        self.commit_rounds(false).await
    }

    /// As [`commit`](Self::commit), consuming the handle: the middleware's way, at the
    /// end of a request. When it is the session's last handle (the handler kept no
    /// clone), nothing can read or edit the session while it is saved, so the write
    /// takes the session's values and changes instead of copying them.
    ///
    /// # Errors
    ///
    /// As [`commit`](Self::commit).
    ///
    /// ```
    /// use session_core::{CookieUpdate, Session};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let session = Session::detached()?;
    /// session.load().await?;
    /// assert_eq!(session.commit_last().await?, CookieUpdate::Keep); // detached: nowhere to save
    /// # Ok::<(), session_core::Error>(()) })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn commit_last(mut self) -> Result<CookieUpdate, Error> {
        // No other strong or weak reference: no other handle exists, and none can
        // appear, since this one is owned here and never cloned.
        let exclusive = Arc::get_mut(&mut self.inner).is_some();
        self.commit_rounds(exclusive).await
    }

    /// The commit loop; `exclusive`: no other handle can observe the working copy
    /// while a write is in flight, so plans may lend its maps.
    async fn commit_rounds(&self, exclusive: bool) -> Result<CookieUpdate, Error> {
        let Some(backend) = &self.inner.backend else {
            return Ok(CookieUpdate::Keep);
        };
        let mut update = CookieUpdate::Keep;
        let mut collisions = 0;
        // Usually one round. Another clone of the handle may change the session while
        // a write is in flight (an edit, a destroy, a new session after a destroy):
        // the next round saves that too, so the commit returns with nothing left.
        for _ in 0..MAX_ROUNDS {
            let plan = match &mut *self.lock() {
                State::Unloaded { .. } => return Ok(update),
                State::Loaded(copy) => {
                    let now = self.inner.policy.clock.now();
                    if exclusive {
                        copy.plan_lending(&self.inner.policy, now)
                    } else {
                        copy.plan(&self.inner.policy, now)
                    }
                }
            };
            // The lock is released: the backend is awaited without it.
            let mut write = match plan {
                Plan::Nothing => return Ok(update),
                Plan::Clear { delete } => {
                    if let Some(id) = &delete {
                        backend.destroy(id).await?;
                    }
                    update = update.then(self.settle(WorkingCopy::settle_cleared));
                    continue;
                }
                Plan::Write(write) => write,
            };
            let written = backend
                .write(&SessionWrite {
                    id: &write.id,
                    mode: write.mode(),
                    record: &write.stored,
                    changes: &write.changes,
                })
                .await;
            let outcome = match written {
                Ok(outcome) => outcome,
                Err(error) => {
                    // Nothing saved: the session stays dirty, with all of its data.
                    self.settle(|copy| copy.take_back(&mut write));
                    return Err(error);
                }
            };
            match outcome {
                WriteOutcome::Written(value) => {
                    update =
                        update.then(self.settle(|copy| copy.settle_written(write, value, None)));
                }
                WriteOutcome::Renamed { id, value } => {
                    tracing::debug!("session saved under the ID a parallel request renewed it to");
                    update = update
                        .then(self.settle(|copy| copy.settle_written(write, value, Some(id))));
                }
                WriteOutcome::IdTaken => {
                    // Nothing stored: the session is whole again before anything else.
                    self.settle(|copy| copy.take_back(&mut write));
                    collisions += 1;
                    if collisions == ID_ATTEMPTS {
                        return Err(Error::Internal(
                            "freshly generated session IDs collided repeatedly; the OS random source is broken",
                        ));
                    }
                    tracing::warn!("new session ID already in use; retrying with another");
                    let fresh = SessionId::generate_in(self.inner.rules.ids)?;
                    self.settle(|copy| copy.settle_id_taken(&write, fresh));
                }
                WriteOutcome::Gone => {
                    tracing::info!("session ended by another request before this one saved; not writing it back");
                    update = update.then(self.settle(|copy| {
                        copy.take_back(&mut write);
                        copy.settle_gone(&write)
                    }));
                }
            }
        }
        tracing::warn!(
            "the session kept changing while it was being saved; the latest change waits for the next save"
        );
        Ok(update)
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
        self.inner.backend.is_some()
            && matches!(&*self.lock(), State::Loaded(copy) if copy.has_work(&self.inner.policy, || self.inner.policy.clock.now()))
    }

    /// Applies a backend's answer to the working copy.
    fn settle<R>(&self, settle: impl FnOnce(&mut WorkingCopy) -> R) -> R {
        match &mut *self.lock() {
            State::Loaded(copy) => settle(copy),
            State::Unloaded { .. } => {
                unreachable!(
                    "commit planned from a loaded copy, and a loaded session never unloads"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(value: &str, same_value: bool) -> CookieUpdate {
        CookieUpdate::Set {
            value: value.into(),
            expires: None,
            same_value,
            persistent: true,
        }
    }

    /// Rounds of one commit fold into one cookie: the last one set, and marked
    /// "the browser has it already" only if every round kept the value.
    #[test]
    fn rounds_fold_into_the_last_cookie_unchanged_only_if_every_round_was() {
        use CookieUpdate::{Clear, Keep};
        assert_eq!(set("a", true).then(set("a", true)), set("a", true));
        assert_eq!(set("a", true).then(set("b", false)), set("b", false));
        assert_eq!(set("a", false).then(set("a", true)), set("a", false));
        assert_eq!(set("a", true).then(Keep), set("a", true));
        assert_eq!(Keep.then(set("a", true)), set("a", true));
        assert_eq!(Clear.then(set("b", true)), set("b", false));
        assert_eq!(set("a", true).then(Clear), Clear);
        assert_eq!(Keep.then(Keep), Keep);
    }
}
