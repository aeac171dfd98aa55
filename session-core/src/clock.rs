//! Where the session layer reads the time: the system clock, or one a test moves by
//! hand, so that timeouts are tested at their exact edges instead of by sleeping.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// The clock a [`SessionPolicy`](crate::SessionPolicy) reads when it stamps, expires
/// and refreshes sessions: the system clock unless a test gives a [`ManualClock`].
///
/// Only the session's own decisions use it (its deadlines, its idle refresh, the
/// cookie's `Max-Age`); the stores keep the real clock (Redis and memcached expire
/// keys on the server's). A manual clock started at the real time and only moved
/// forward ends sessions exactly when the policy says, whichever storage holds them,
/// as long as the test's real duration stays well inside its timeouts: a store drops
/// a record once its deadline passes in *real* time, so a manual clock behind the real
/// one (or timeouts of a few seconds) lets records vanish early.
///
/// ```
/// use std::time::SystemTime;
/// use session_core::Clock;
///
/// let before = SystemTime::now();
/// assert!(Clock::system().now() >= before);
/// assert_eq!(Clock::system(), Clock::default());
/// ```
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock, read directly (no lock on the request path).
    manual: Option<Arc<Mutex<SystemTime>>>,
}

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self::default()
    }

    /// The time now, by this clock.
    pub fn now(&self) -> SystemTime {
        match &self.manual {
            None => SystemTime::now(),
            Some(now) => *now.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// Two clocks are equal when they are both the system clock, or the same manual clock.
impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        match (&self.manual, &other.manual) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::System"),
            Some(_) => write!(f, "Clock::Manual({:?})", self.now()),
        }
    }
}

/// A clock that moves only when told to: for tests of timeouts, like tokio's paused
/// time but for the wall clock sessions are stamped with.
///
/// ```
/// use std::time::Duration;
/// use session_core::{ManualClock, SessionPolicy};
///
/// let time = ManualClock::starting_now();
/// let policy = SessionPolicy {
///     idle_timeout: Some(Duration::from_secs(60)),
///     clock: time.clock(),
///     ..SessionPolicy::default()
/// };
/// let start = policy.clock.now();
/// time.advance(Duration::from_secs(59));
/// assert_eq!(policy.clock.now(), start + Duration::from_secs(59));
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    clock: Clock,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            clock: Clock {
                manual: Some(Arc::new(Mutex::new(start))),
            },
        }
    }

    /// A clock stopped at the real time now: moved forward only, it never makes a
    /// record look younger to a store than the store's own clock says it is.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    /// Moves the clock forward by `by`; a move past what `SystemTime` can hold is ignored.
    pub fn advance(&self, by: Duration) {
        if let Some(now) = &self.clock.manual {
            let mut now = now.lock().unwrap_or_else(PoisonError::into_inner);
            *now = now.checked_add(by).unwrap_or(*now);
        }
    }

    /// The time now, by this clock.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The [`Clock`] to give a policy: it reads this manual clock.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let manual = ManualClock::new(start);
        let clock = manual.clock();
        assert_eq!(clock.now(), start);
        manual.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), start + Duration::from_millis(1500));
        assert_eq!(manual.now(), clock.now());
        manual.advance(Duration::MAX);
        assert_eq!(
            clock.now(),
            start + Duration::from_millis(1500),
            "saturates"
        );
    }

    #[test]
    fn clocks_are_equal_only_when_they_read_the_same_time_source() {
        let first = ManualClock::starting_now();
        let second = ManualClock::new(first.now());
        assert_eq!(first.clock(), first.clock());
        assert_ne!(first.clock(), second.clock(), "same time, different clocks");
        assert_ne!(first.clock(), Clock::system());
        assert_eq!(Clock::system(), Clock::system());
    }
}
