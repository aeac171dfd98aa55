//! Gathering the commands of concurrent requests into one write.
//!
//! A multiplexed connection lets many requests share a socket, but it does not make
//! them share writes: tokio runs a task woken by another right after it (the worker's
//! "LIFO slot"), so a writer task woken by the first queued command runs before the
//! other ready requests have queued theirs, and writes that command alone, then the
//! next. `strace -c` on the demo under `wrk` showed one `writev` per command. So the
//! writer yields once after the first command arrives, letting every request that is
//! ready queue its own, and then takes everything queued: one write for the batch, one
//! batch of replies. Both stores' writers (Redis's batching task, memcached's writer)
//! do exactly this, through [`next_batch`].

use tokio::sync::mpsc::UnboundedReceiver;

/// Waits for the next job, lets the other ready tasks queue theirs, and moves every
/// queued job into `batch`, in order. Returns `false` (with `batch` untouched) once the
/// queue is closed and empty.
///
/// # Example
///
/// ```
/// use session_connections::next_batch;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel();
/// for job in ["GET a", "GET b", "SET c"] {
///     jobs.send(job).expect("queue open");
/// }
/// drop(jobs);
/// let mut batch = Vec::new();
/// assert!(next_batch(&mut queue, &mut batch).await);
/// assert_eq!(batch, ["GET a", "GET b", "SET c"]);
/// batch.clear();
/// assert!(!next_batch(&mut queue, &mut batch).await, "closed and empty");
/// # }
/// ```
pub async fn next_batch<J>(queue: &mut UnboundedReceiver<J>, batch: &mut Vec<J>) -> bool {
    let Some(first) = queue.recv().await else {
        return false;
    };
    tokio::task::yield_now().await;
    batch.push(first);
    while let Ok(job) = queue.try_recv() {
        batch.push(job);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten requests become ready at once on a one-worker runtime (whose LIFO slot runs
    /// the woken writer right after the first): they leave as one batch. Without the
    /// yield this gives batches of 1 and 9.
    #[test]
    fn requests_ready_together_leave_together() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("runtime");
        let sizes = runtime.block_on(async {
            let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<usize>();
            let writer = tokio::spawn(async move {
                let (mut sizes, mut batch) = (Vec::new(), Vec::new());
                while next_batch(&mut queue, &mut batch).await {
                    sizes.push(batch.len());
                    batch.clear();
                }
                sizes
            });
            tokio::spawn(async move {
                // Let the writer park on an empty queue first.
                tokio::task::yield_now().await;
                let requests: Vec<_> = (0..10)
                    .map(|n| {
                        let jobs = jobs.clone();
                        tokio::spawn(async move { jobs.send(n).expect("queue open") })
                    })
                    .collect();
                for request in requests {
                    request.await.expect("request task");
                }
            })
            .await
            .expect("requests");
            writer.await.expect("writer task")
        });
        assert_eq!(sizes, [10]);
    }
}
