//! How long sessions live, and what a failed load does: the policy the middleware
//! hands to every [`Session`](crate::Session).

use std::time::{Duration, SystemTime};

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
    /// The fraction of the idle window (0 to 1) that must pass before a read-only
    /// request re-saves the session to push its idle deadline. Default 0.25.
    pub idle_refresh: f64,
    /// When loading fails because the storage is down: `false` (the default) fails the
    /// request with a 503 and leaves the cookie alone; `true` starts a fresh session
    /// instead (logged), which logs the user out.
    pub fail_open: bool,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: None,
            absolute_timeout: None,
            idle_refresh: 0.25,
            fail_open: false,
        }
    }
}

impl SessionPolicy {
    /// The deadline of a session created at `created`, saved at `now`: the earlier of
    /// `now + idle` and `created + absolute`, or `None` without timeouts.
    pub fn deadline(&self, created: SystemTime, now: SystemTime) -> Option<SystemTime> {
        let idle = self.idle_timeout.and_then(|idle| now.checked_add(idle));
        let absolute = self
            .absolute_timeout
            .and_then(|absolute| created.checked_add(absolute));
        match (idle, absolute) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// [`idle_refresh`](Self::idle_refresh) as used: clamped to 0..=1, and the default
    /// for a value that is not a number (which would otherwise make `Duration`
    /// arithmetic panic on a request).
    fn refresh_fraction(&self) -> f64 {
        if self.idle_refresh.is_nan() {
            return Self::default().idle_refresh;
        }
        self.idle_refresh.clamp(0.0, 1.0)
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
    pub(crate) fn needs_refresh(
        &self,
        created: SystemTime,
        current: Option<SystemTime>,
        now: SystemTime,
    ) -> bool {
        let Some(idle) = self.idle_timeout else {
            return false;
        };
        let Some(next) = self.deadline(created, now) else {
            return false;
        };
        let Some(current) = current else {
            // Saved before an idle timeout was configured: give it one.
            return true;
        };
        let gain = next.duration_since(current).unwrap_or(Duration::ZERO);
        gain > idle.mul_f64(self.refresh_fraction())
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
    fn a_refresh_fraction_out_of_range_never_panics() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for fraction in [f64::NAN, -1.0, f64::INFINITY, f64::NEG_INFINITY, 7.0] {
            let p = SessionPolicy {
                idle_refresh: fraction,
                ..policy(Some(40), None)
            };
            // The answer is some bool; what matters is that there is one.
            let _ = p.needs_refresh(t0, Some(t0 + MINUTE * 40), t0 + MINUTE * 11);
        }
        let nan = SessionPolicy {
            idle_refresh: f64::NAN,
            ..policy(Some(40), None)
        };
        assert!(!nan.needs_refresh(t0, Some(t0 + MINUTE * 40), t0 + MINUTE * 5));
        assert!(nan.needs_refresh(t0, Some(t0 + MINUTE * 40), t0 + MINUTE * 11));
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
