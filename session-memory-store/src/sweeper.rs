//! The background sweeper: removes expired records periodically, so that memory is
//! reclaimed even for sessions nobody asks for again.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::Inner;

/// Starts the sweeper thread for `store`.
///
/// A thread rather than an async task: the store then works in any runtime, including
/// tokio runtimes built without a timer, and outside of one.
/// Returns its handle (`None` if no thread could be started); the store detaches it,
/// and its tests join it to see that it stops.
pub(crate) fn start(
    store: Weak<Inner>,
    interval: Duration,
    stopped: Receiver<()>,
) -> Option<JoinHandle<()>> {
    // A zero interval would make the sweeper spin.
    let interval = interval.max(Duration::from_millis(1));
    let spawned = std::thread::Builder::new()
        .name("session-memory-sweeper".into())
        .spawn(move || sweep_periodically(&store, interval, &stopped));
    spawned
        .map_err(|error| {
            // Reads still never return expired records, and the cap still holds; only
            // expired records are not reclaimed until evicted or overwritten.
            tracing::error!(%error, "could not start the memory store's sweeper thread; expired sessions stay in memory until evicted");
        })
        .ok()
}

/// It holds only a weak reference, so it never keeps a dropped store alive, and the
/// store's drop closes `stopped`, which wakes it to exit at once.
fn sweep_periodically(store: &Weak<Inner>, interval: Duration, stopped: &Receiver<()>) {
    loop {
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let Some(store) = store.upgrade() else {
            return;
        };
        store.purge_expired();
    }
}
