//! The background sweeper a server-side store runs to remove expired records, so that
//! space is reclaimed even for sessions nobody asks for again (the memory store's
//! records, the file store's files).

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::Duration;

/// Starts a thread named `name` that calls `sweep` on `store` every `interval`.
///
/// A thread rather than an async task: the store then works in any runtime, including
/// tokio runtimes built without a timer, and outside of one, and a sweep that does
/// blocking I/O never holds up an executor. It holds only a weak reference, so it never
/// keeps a dropped store alive; the store keeps the sending half of `stopped` and its
/// drop wakes the thread to exit at once.
///
/// Returns its handle (`None` if no thread could be started, which is logged); a store
/// detaches it, and its tests join it to see that it stops.
///
/// ```
/// use std::sync::{atomic::{AtomicU32, Ordering}, mpsc, Arc};
/// use std::time::Duration;
///
/// let store = Arc::new(AtomicU32::new(0));
/// let (stop, stopped) = mpsc::channel();
/// let thread = session_core::sweeper::start("doc-sweeper", Arc::downgrade(&store), Duration::from_millis(1), stopped, |n: &AtomicU32| {
///     n.fetch_add(1, Ordering::Relaxed);
/// }).expect("a thread");
/// while store.load(Ordering::Relaxed) == 0 {
///     std::thread::yield_now();
/// }
/// drop(stop);
/// thread.join().expect("stopped");
/// ```
pub fn start<T: Send + Sync + 'static>(
    name: &str,
    store: Weak<T>,
    interval: Duration,
    stopped: Receiver<()>,
    sweep: fn(&T),
) -> Option<JoinHandle<()>> {
    // A zero interval would make the sweeper spin.
    let interval = interval.max(Duration::from_millis(1));
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || loop {
            match stopped.recv_timeout(interval) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            let Some(store) = store.upgrade() else {
                return;
            };
            sweep(&store);
        });
    spawned
        .map_err(|error| {
            // Reads still never return expired records; only the space of expired
            // ones is not reclaimed until they are overwritten or evicted.
            tracing::error!(%error, thread = name, "could not start a session store's sweeper thread; expired sessions stay stored until overwritten");
        })
        .ok()
}
