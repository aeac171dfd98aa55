//! How long sessions live, and what a failed load does: the policy the middleware
//! hands to every [`Session`](crate::Session).

use std::time::{Duration, SystemTime};

use crate::{Clock, Error};

/// The session layer's rules for expiry and storage failures.
///
/// Both timeouts are enforced on the server, for every storage (the cookie storage keeps
/// its timestamps inside the signed payload):
///
/// - the **idle timeout** ends a session after this long without a request that loads
///   it;
/// - the **absolute timeout** ends it this long after it was first saved, however
///   active it is. It survives [`regenerate_id`](crate::Session::regenerate_id).
///
/// Keeping the idle deadline moving must not cost a write on every request, so a
/// request that only reads re-saves the session once at least
/// [`idle_refresh`](Self::idle_refresh) of the idle window has passed since the last
/// save (by default a quarter: at most four extra writes per idle window).
///
/// Deadlines far beyond what `SystemTime` can hold (a `Duration::MAX` timeout) mean
/// "no deadline", never an overflow.
///
/// # Example
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use session_core::SessionPolicy;
///
/// let policy = SessionPolicy {
///     idle_timeout: Some(Duration::from_secs(30 * 60)),
///     absolute_timeout: Some(Duration::from_secs(12 * 3600)),
///     ..SessionPolicy::default()
/// };
/// let created = SystemTime::now();
/// let deadline = policy.deadline(created, created).expect("a deadline");
/// assert_eq!(deadline, created + Duration::from_secs(30 * 60));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SessionPolicy {
    /// End a session after this long without use (`None`: no idle timeout).
    pub idle_timeout: Option<Duration>,
    /// End a session this long after it was created (`None`: no absolute timeout).
    pub absolute_timeout: Option<Duration>,
    /// How much of the idle window must pass before a read-only request re-saves the
    /// session to push its idle deadline. Default a quarter.
    pub idle_refresh: IdleRefresh,
    /// When loading fails because the storage is down: `false` (the default) fails the
    /// request with a 503 and leaves the cookie alone; `true` starts a fresh session
    /// instead (logged), which logs the user out.
    pub fail_open: bool,
    /// Where the time comes from: the system clock, or a
    /// [`ManualClock`](crate::ManualClock) in tests of the timeouts.
    pub clock: Clock,
    /// Whether a session's cookie outlives the browser session when the session does
    /// not choose ([`Session::set_persistent`](crate::Session::set_persistent)): `true`
    /// (the default) gives it a `Max-Age` following the session's deadline; `false`
    /// makes it a browser-session cookie, dropped when the browser closes, while the
    /// server still enforces both timeouts.
    pub persistent: bool,
    /// Renew the session's ID (as [`regenerate_id`](crate::Session::regenerate_id)
    /// does) on the first request that loads it this long after the ID was issued
    /// (`None`, the default: never). A stolen ID then stops working once the real user
    /// has used the session after the interval and the grace period has passed (on
    /// server-side storage: a copied cookie-storage cookie stays valid until its
    /// deadline); a thief who uses it first is the one handed the new ID, so renewal
    /// shortens a stolen ID's life rather than preventing its use.
    pub id_renewal: Option<Duration>,
    /// How long the old ID of a renewal keeps working, serving only the renewed
    /// session, for parallel requests that were sent with it. Default
    /// [`DEFAULT_RENEWAL_GRACE`](Self::DEFAULT_RENEWAL_GRACE).
    pub renewal_grace: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: None,
            absolute_timeout: None,
            idle_refresh: IdleRefresh::DEFAULT,
            fail_open: false,
            clock: Clock::system(),
            persistent: true,
            id_renewal: None,
            renewal_grace: Self::DEFAULT_RENEWAL_GRACE,
        }
    }
}

impl SessionPolicy {
    /// How long the old ID of a renewal keeps serving the renewed session unless
    /// configured: long enough for the requests a page sent in parallel to land.
    pub const DEFAULT_RENEWAL_GRACE: Duration = Duration::from_secs(5);

    /// The deadline of a session created at `created`, saved at `now`: the earlier of
    /// `now + idle` and `created + absolute`, or `None` without timeouts.
    pub fn deadline(&self, created: SystemTime, now: SystemTime) -> Option<SystemTime> {
        self.deadline_with(created, now, None)
    }

    /// [`deadline`](Self::deadline) for a session with its own idle `lifetime`
    /// ([`SessionMeta::lifetime`](crate::SessionMeta::lifetime)), which replaces the
    /// idle timeout; the absolute timeout still caps it.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use session_core::SessionPolicy;
    ///
    /// let day = Duration::from_secs(86_400);
    /// let policy = SessionPolicy {
    ///     idle_timeout: Some(Duration::from_secs(1800)),
    ///     absolute_timeout: Some(60 * day),
    ///     ..SessionPolicy::default()
    /// };
    /// let now = SystemTime::now();
    /// assert_eq!(policy.deadline_with(now, now, Some(30 * day)), Some(now + 30 * day));
    /// assert_eq!(policy.deadline_with(now, now, Some(90 * day)), Some(now + 60 * day));
    /// ```
    pub fn deadline_with(
        &self,
        created: SystemTime,
        now: SystemTime,
        lifetime: Option<Duration>,
    ) -> Option<SystemTime> {
        let idle = lifetime
            .or(self.idle_timeout)
            .and_then(|idle| now.checked_add(idle));
        let absolute = self
            .absolute_timeout
            .and_then(|absolute| created.checked_add(absolute));
        match (idle, absolute) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when a session whose ID was issued at `issued` is due for renewal at `now`
    /// ([`id_renewal`](Self::id_renewal)).
    pub fn renewal_due(&self, issued: SystemTime, now: SystemTime) -> bool {
        self.id_renewal
            .and_then(|interval| issued.checked_add(interval))
            .is_some_and(|due| due <= now)
    }

    /// True when a session created at `created` is past its absolute timeout at `now`.
    pub fn is_past_absolute(&self, created: SystemTime, now: SystemTime) -> bool {
        self.absolute_timeout
            .and_then(|absolute| created.checked_add(absolute))
            .is_some_and(|end| end <= now)
    }

    /// True when an unchanged session whose deadline is `current` should be re-saved
    /// now to push its idle deadline: saving would move the deadline later by more than
    /// the refresh fraction of the idle window.
    #[cfg(test)]
    pub(crate) fn needs_refresh(
        &self,
        created: SystemTime,
        current: Option<SystemTime>,
        now: SystemTime,
    ) -> bool {
        self.needs_refresh_with(created, current, now, None)
    }

    /// [`needs_refresh`](Self::needs_refresh) for a session with its own idle
    /// `lifetime`.
    pub(crate) fn needs_refresh_with(
        &self,
        created: SystemTime,
        current: Option<SystemTime>,
        now: SystemTime,
        lifetime: Option<Duration>,
    ) -> bool {
        let Some(idle) = lifetime.or(self.idle_timeout) else {
            return false;
        };
        let Some(next) = self.deadline_with(created, now, lifetime) else {
            return false;
        };
        let Some(current) = current else {
            // Saved before an idle timeout was configured: give it one.
            return true;
        };
        let gain = next.duration_since(current).unwrap_or(Duration::ZERO);
        // `mul_f64` would panic past `Duration::MAX`: a window that long never needs a
        // refresh.
        Duration::try_from_secs_f64(idle.as_secs_f64() * self.idle_refresh.fraction())
            .is_ok_and(|threshold| gain > threshold)
    }
}

/// A fraction of the idle window, from 0 to 1: [`SessionPolicy::idle_refresh`].
///
/// Checked when it is made, so that a bad value (NaN, negative, over 1) is refused
/// where it is configured rather than found out on a request, where `Duration`
/// arithmetic would panic on it.
///
/// ```
/// use session_core::IdleRefresh;
///
/// assert_eq!(IdleRefresh::new(0.5)?.fraction(), 0.5);
/// assert!(IdleRefresh::new(f64::NAN).is_err());
/// assert!(IdleRefresh::new(-0.1).is_err());
/// assert!(IdleRefresh::new(1.5).is_err());
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdleRefresh(f64);

impl IdleRefresh {
    /// A quarter of the idle window: at most four extra writes per idle window.
    pub const DEFAULT: Self = Self(0.25);
    /// Re-save on every read-only request (the deadline always slides).
    pub const ALWAYS: Self = Self(0.0);

    /// The fraction `fraction` of the idle window.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPolicy`] unless `fraction` is a number from 0 to 1.
    pub fn new(fraction: f64) -> Result<Self, Error> {
        if (0.0..=1.0).contains(&fraction) {
            Ok(Self(fraction))
        } else {
            Err(Error::InvalidPolicy(
                "idle_refresh must be a fraction of the idle window from 0 to 1 (0.25 by default)",
            ))
        }
    }

    /// The fraction, from 0 to 1.
    pub fn fraction(self) -> f64 {
        self.0
    }
}

impl Default for IdleRefresh {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn policy(idle: Option<u64>, absolute: Option<u64>) -> SessionPolicy {
        SessionPolicy {
            idle_timeout: idle.map(|m| MINUTE * m as u32),
            absolute_timeout: absolute.map(|m| MINUTE * m as u32),
            ..SessionPolicy::default()
        }
    }

    #[test]
    fn the_deadline_is_the_earlier_of_both_timeouts() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(policy(None, None).deadline(t0, t0), None);
        assert_eq!(
            policy(Some(30), None).deadline(t0, t0 + MINUTE),
            Some(t0 + MINUTE * 31)
        );
        assert_eq!(
            policy(None, Some(60)).deadline(t0, t0 + MINUTE),
            Some(t0 + MINUTE * 60)
        );
        // Late in the absolute window, the absolute end wins.
        assert_eq!(
            policy(Some(30), Some(60)).deadline(t0, t0 + MINUTE * 50),
            Some(t0 + MINUTE * 60)
        );
        assert!(policy(Some(30), Some(60)).is_past_absolute(t0, t0 + MINUTE * 60));
        assert!(!policy(Some(30), None).is_past_absolute(t0, t0 + MINUTE * 6000));
    }

    #[test]
    fn refreshes_only_after_a_quarter_of_the_idle_window() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let p = policy(Some(40), None);
        let saved_deadline = Some(t0 + MINUTE * 40);
        assert!(!p.needs_refresh(t0, saved_deadline, t0 + MINUTE * 5));
        assert!(!p.needs_refresh(t0, saved_deadline, t0 + MINUTE * 10));
        assert!(p.needs_refresh(t0, saved_deadline, t0 + MINUTE * 11));
        assert!(p.needs_refresh(t0, None, t0), "no deadline yet");
        assert!(
            !policy(None, Some(60)).needs_refresh(t0, None, t0),
            "no idle timeout"
        );
    }

    #[test]
    fn only_fractions_from_zero_to_one_are_accepted() {
        for bad in [
            f64::NAN,
            -1.0,
            -0.0001,
            1.0001,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let err = IdleRefresh::new(bad).expect_err("refused");
            assert!(matches!(err, Error::InvalidPolicy(_)), "{bad}");
        }
        for good in [0.0, 0.25, 1.0] {
            assert_eq!(IdleRefresh::new(good).expect("accepted").fraction(), good);
        }
        // Every accepted value, at its extremes, gives an answer without panicking.
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for refresh in [IdleRefresh::ALWAYS, IdleRefresh::new(1.0).expect("valid")] {
            let p = SessionPolicy {
                idle_refresh: refresh,
                ..policy(Some(40), None)
            };
            assert!(p.needs_refresh(t0, Some(t0 + MINUTE * 40), t0 + MINUTE * 41));
        }
    }

    #[test]
    fn far_future_timeouts_mean_no_deadline_instead_of_overflowing() {
        let t0 = SystemTime::now();
        let forever = SessionPolicy {
            idle_timeout: Some(Duration::MAX),
            absolute_timeout: Some(Duration::MAX),
            ..SessionPolicy::default()
        };
        assert_eq!(forever.deadline(t0, t0), None);
        assert!(!forever.is_past_absolute(t0, t0));
        assert!(!forever.needs_refresh(t0, None, t0));
        // An endless idle window under a finite absolute timeout, refreshed at its
        // whole length: the threshold itself would overflow a `Duration`.
        let capped = SessionPolicy {
            idle_timeout: Some(Duration::MAX),
            absolute_timeout: Some(Duration::from_secs(86_400)),
            idle_refresh: IdleRefresh::new(1.0).expect("valid"),
            ..SessionPolicy::default()
        };
        assert!(capped.deadline(t0, t0).is_some());
        assert!(!capped.needs_refresh(t0, Some(t0), t0 + Duration::from_secs(60)));
    }

    #[test]
    fn no_refresh_once_the_absolute_end_caps_the_deadline() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let p = policy(Some(30), Some(60));
        // Saved at minute 45: deadline capped at minute 60. At minute 58 saving again
        // would not move it.
        assert!(!p.needs_refresh(t0, Some(t0 + MINUTE * 60), t0 + MINUTE * 58));
    }
}
