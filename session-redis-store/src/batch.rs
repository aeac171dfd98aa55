//! Sending the commands of concurrent requests to Redis together, as one pipeline.
//!
//! The multiplexed driver alone writes one command per syscall (why, and the cure:
//! `session_connections::next_batch`). So each request hands its command to a
//! batching task, which gathers what is queued and sends it as one pipeline. Replies
//! are matched by position; `ignore_errors` keeps one command's error (say, a
//! `WRONGTYPE`) from failing its neighbours.

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, RedisError, RedisResult, Value};
use session_connections::next_batch;
use tokio::sync::{mpsc, oneshot};

/// A command and where its reply goes.
struct Job {
    command: Cmd,
    reply: oneshot::Sender<RedisResult<Value>>,
}

/// The sending side of a batching task; the task stops when every clone is dropped.
#[derive(Clone)]
pub(crate) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the batching task for `connection`.
    pub(crate) fn start<C>(connection: C) -> Self
    where
        C: ConnectionLike + Clone + Send + 'static,
    {
        // Unbounded: what waits here is bounded by the requests awaiting replies, each
        // bounded by the command timeout.
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(batch_loop(connection, queue));
        Self { jobs }
    }

    /// True once the batching task has stopped (its runtime shut down).
    pub(crate) fn is_stopped(&self) -> bool {
        self.jobs.is_closed()
    }

    /// Sends `command` with whatever else is ready, and resolves to its own reply.
    pub(crate) async fn query(&self, command: Cmd) -> RedisResult<Value> {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job { command, reply }).is_err() {
            return Err(lost("the batching task stopped"));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(lost("the batch carrying this command was dropped")))
    }
}

async fn batch_loop<C>(connection: C, mut queue: mpsc::UnboundedReceiver<Job>)
where
    C: ConnectionLike + Clone + Send + 'static,
{
    let mut batch = Vec::new();
    while next_batch(&mut queue, &mut batch).await {
        // Not awaited here: the next batch may leave while this one waits for Redis.
        tokio::spawn(send_batch(connection.clone(), std::mem::take(&mut batch)));
    }
}

async fn send_batch<C: ConnectionLike>(mut connection: C, mut batch: Vec<Job>) {
    if batch.len() == 1 {
        if let Some(job) = batch.pop() {
            let reply = job.command.query_async(&mut connection).await;
            let _ = job.reply.send(reply);
        }
        return;
    }
    let mut pipeline = redis::pipe();
    pipeline.ignore_errors();
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        pipeline.add_command(job.command);
        replies.push(job.reply);
    }
    match pipeline
        .query_async::<Vec<RedisResult<Value>>>(&mut connection)
        .await
    {
        Ok(results) if results.len() == replies.len() => {
            for (reply, result) in replies.into_iter().zip(results) {
                // The request may have given up meanwhile: its reply is dropped.
                let _ = reply.send(result);
            }
        }
        Ok(_) => {
            // Out of step: a parse error says so (and, like a lost one, breaks the
            // connection).
            for reply in replies {
                let _ = reply.send(Err(RedisError::from((
                    ErrorKind::Parse,
                    "Redis answered a pipeline with a different number of replies",
                ))));
            }
        }
        Err(error) => {
            // RedisError is not Clone: give every command an I/O error of the same kind
            // and message, which marks the connection as failed for each of them.
            let kind = if error.is_timeout() {
                std::io::ErrorKind::TimedOut
            } else {
                std::io::ErrorKind::ConnectionAborted
            };
            for reply in replies {
                let copy = std::io::Error::new(kind, error.to_string());
                let _ = reply.send(Err(RedisError::from(copy)));
            }
        }
    }
}

fn lost(message: &'static str) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        message,
    ))
}
