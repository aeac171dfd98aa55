//! Keeping a store within its cap: when a create takes it past
//! [`max_sessions`](crate::MemoryStoreBuilder::max_sessions), the sessions closest to
//! their deadline go first.
//!
//! Closest to the deadline, because those are the ones the store would lose soonest
//! anyway: under the defaults an anonymous visitor's session is as old as its last
//! request, so a flood of new sessions pushes out the longest-idle ones and never a
//! session that was just used. A pass is one scan: it first drops the expired records,
//! then, if still over, the oldest deadlines down to nine tenths of the cap, so that the
//! next pass is a tenth of the cap of creates away (a pass costs one scan; it is paid
//! once per that many creates, by the request whose create crossed the line). Only one
//! pass runs at a time; a request that finds one running does not wait for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::{Instant, SystemTime};

use dashmap::DashMap;
use session_core::SessionId;

use crate::Held;

/// The cap, and what the passes so far did.
#[derive(Debug)]
pub(crate) struct Evictor {
    max: usize,
    /// Where a pass stops: nine tenths of the cap.
    low_water: usize,
    /// Held by the one pass running; when the last one ended, for the rate.
    pass: Mutex<Option<Instant>>,
    evicted: AtomicU64,
}

impl Evictor {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            low_water: max - max / 10,
            pass: Mutex::new(None),
            evicted: AtomicU64::new(0),
        }
    }

    /// Live sessions evicted so far.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Evicts, if `records` holds more than the cap and no other pass is running.
    pub(crate) fn keep_within(&self, records: &DashMap<SessionId, Held>) {
        if records.len() <= self.max {
            return;
        }
        let mut last_pass = match self.pass.try_lock() {
            Ok(guard) => guard,
            // The pass under way makes room for this create too.
            Err(TryLockError::WouldBlock) => return,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        };
        if records.len() <= self.max {
            return;
        }
        let now = SystemTime::now();
        let before = records.len();
        records.retain(|_, held| !held.is_expired_at(now));
        let expired = before.saturating_sub(records.len());
        let evicted = self.evict_closest_to_deadline(records);
        self.evicted.fetch_add(evicted, Ordering::Relaxed);
        let since_last = last_pass.replace(Instant::now()).map(|at| at.elapsed());
        // The rate over the time since the previous pass: how hard the cap is pressed.
        let per_second = since_last
            .map(|since| evicted as f64 / since.as_secs_f64().max(0.001))
            .unwrap_or(0.0);
        tracing::debug!(
            evicted,
            expired,
            max_sessions = self.max,
            per_second = per_second.round(),
            "memory session store full: evicted the sessions closest to their deadline"
        );
    }

    /// Evicts the records with the earliest deadlines down to the low-water mark;
    /// returns how many went. Records without a deadline go last.
    fn evict_closest_to_deadline(&self, records: &DashMap<SessionId, Held>) -> u64 {
        if records.len() <= self.low_water {
            return 0;
        }
        let mut candidates: Vec<(Option<SystemTime>, SessionId)> = records
            .iter()
            .map(|entry| (entry.value().until, entry.key().clone()))
            .collect();
        // Counted on what the scan saw: concurrent deletes may have shrunk the map.
        // The low-water mark is at least 1, so `over` is below the count.
        let over = candidates.len().saturating_sub(self.low_water);
        if over == 0 {
            return 0;
        }
        let soonest_first =
            |(until, _): &(Option<SystemTime>, SessionId)| (until.is_none(), *until);
        candidates.select_nth_unstable_by_key(over, soonest_first);
        candidates.truncate(over);
        let mut evicted = 0;
        for (until, id) in candidates {
            // Written again since the scan (a request pushed its deadline): keep it.
            if records
                .remove_if(&id, |_, held| held.until == until)
                .is_some()
            {
                evicted += 1;
            }
        }
        evicted
    }
}
