//! Sending the commands of concurrent requests to Redis together, as one pipeline,
//! and checking that the replies line up with them.
//!
//! The multiplexed driver alone writes one command per syscall (why, and the cure:
//! `session_connections::next_batch`). So each request hands its command (or its
//! transaction) to a batching task, which gathers what is queued and sends it as one
//! pipeline. Replies are matched by position; an error reply (say, a `WRONGTYPE`) goes
//! to its own command and fails no neighbour.
//!
//! # The nonce: replies in step with commands
//!
//! RESP replies carry no reference to their command: matching is by position only, so
//! one reply too many or too few (a server, proxy or client bug, a reply to a command
//! never sent) would shift every later reply onto the wrong request, one session's
//! record answering another's read. So every batch ends with `PING <nonce>`, a number
//! no earlier batch on the connection used, and its replies are accepted only if the
//! last one echoes that nonce. A shifted batch fails as a whole, out of step (which
//! breaks the connection: the next request dials a fresh one), and so does every batch
//! after it on that connection, until it is gone. Cost: one `PING` per batch, not per
//! command (figures in BENCHMARKS.md).
//!
//! What no position check can see: two replies of the same type swapped *inside* a
//! batch. Redis answers a connection's commands in order; only a broken server or
//! proxy could swap them, and RESP gives a client nothing to tell them apart by.

use std::hash::{BuildHasher, RandomState};

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, RedisError, RedisResult, Value};
use session_connections::next_batch;
use tokio::sync::{mpsc, oneshot};

/// What one request sends: a command, or the commands of a transaction (sent between
/// `MULTI` and `EXEC`, back to back, so that no other request's command falls inside).
pub(crate) enum Unit {
    Cmd(Cmd),
    Transaction(Vec<Cmd>),
}

impl Unit {
    /// How many replies it gets: one, or `MULTI`'s, one `QUEUED` per command, `EXEC`'s.
    fn replies(&self) -> usize {
        match self {
            Self::Cmd(_) => 1,
            Self::Transaction(commands) => commands.len() + 2,
        }
    }
}

/// A unit and where its reply goes: the command's, or `EXEC`'s.
struct Job {
    unit: Unit,
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

    /// Sends `unit` with whatever else is ready, and resolves to its own reply.
    pub(crate) async fn query(&self, unit: Unit) -> RedisResult<Value> {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job { unit, reply }).is_err() {
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
    // Distinct from every earlier batch's on this connection; random, so that no value
    // a shifted reply could carry is likely to equal it either.
    let mut nonce = RandomState::new().hash_one(0u8);
    let mut batch = Vec::new();
    while next_batch(&mut queue, &mut batch).await {
        // A request that gave up (timed out) is not sent: nobody waits for its reply,
        // and it must not apply a write its caller was told failed.
        batch.retain(|job: &Job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        nonce = nonce.wrapping_add(1);
        // Not awaited here: the next batch may leave while this one waits for Redis.
        tokio::spawn(send_batch(
            connection.clone(),
            std::mem::take(&mut batch),
            nonce,
        ));
    }
}

async fn send_batch<C: ConnectionLike>(mut connection: C, batch: Vec<Job>, nonce: u64) {
    let mut pipeline = redis::pipe();
    let mut jobs = Vec::with_capacity(batch.len());
    for Job { unit, reply } in batch {
        jobs.push((unit.replies(), reply));
        match unit {
            Unit::Cmd(command) => {
                pipeline.add_command(command);
            }
            Unit::Transaction(commands) => {
                pipeline.cmd("MULTI");
                for command in commands {
                    pipeline.add_command(command);
                }
                pipeline.cmd("EXEC");
            }
        }
    }
    pipeline.cmd("PING").arg(nonce);
    let count = pipeline.len();
    let mut replies = match connection.req_packed_commands(&pipeline, 0, count).await {
        Ok(replies) if replies.len() == count => replies,
        Ok(_) => return fail_all(jobs, out_of_step()),
        Err(error) => return fail_all(jobs, error),
    };
    // Refused (say `NOAUTH`, or an ACL without `PING`), the nonce proves nothing: each
    // request gets its own error reply, and a data reply, unverified, the refusal.
    let refused = match replies.pop() {
        Some(Value::BulkString(echo)) if echoes(&echo, nonce) => None,
        Some(Value::ServerError(refusal)) => Some(refusal),
        _ => return fail_all(jobs, out_of_step()),
    };
    let mut replies = replies.into_iter();
    for (count, reply) in jobs {
        let mut result = if count == 1 {
            replies
                .next()
                .map_or_else(|| Err(out_of_step()), Value::extract_error)
        } else {
            transaction_reply(replies.by_ref().take(count).collect())
        };
        if let (Ok(_), Some(refusal)) = (&result, &refused) {
            result = Err(refusal.clone().into());
        }
        // The request may have given up meanwhile: its reply is dropped.
        let _ = reply.send(result);
    }
}

/// True when `echo`, `PING`'s reply, is this batch's nonce.
fn echoes(echo: &[u8], nonce: u64) -> bool {
    std::str::from_utf8(echo)
        .ok()
        .and_then(|echo| echo.parse().ok())
        == Some(nonce)
}

/// `EXEC`'s reply, from `MULTI`'s, the `QUEUED`s and `EXEC`'s own. A command refused
/// while queueing (`READONLY` on a demoted master, `NOPERM`) is the transaction's error:
/// it names the cause, where `EXEC`'s `EXECABORT` would not.
fn transaction_reply(mut replies: Vec<Value>) -> RedisResult<Value> {
    let exec = replies.pop();
    for (index, acknowledgement) in replies.into_iter().enumerate() {
        match (index, acknowledgement) {
            (_, Value::ServerError(error)) => return Err(error.into()),
            (0, Value::Okay) => {}
            (1.., Value::SimpleString(queued)) if queued == "QUEUED" => {}
            _ => return Err(out_of_step()),
        }
    }
    exec.map_or_else(|| Err(out_of_step()), Value::extract_error)
}

/// Gives every request of a failed batch the failure. `RedisError` is not `Clone`: the
/// first request gets it, the others one of the same kind.
fn fail_all(jobs: Vec<(usize, oneshot::Sender<RedisResult<Value>>)>, error: RedisError) {
    let copy = || {
        if matches!(
            error.kind(),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType
        ) {
            // Not the parser's message: it may quote the reply, a session's data.
            return out_of_step();
        }
        let kind = if error.is_timeout() {
            std::io::ErrorKind::TimedOut
        } else {
            std::io::ErrorKind::ConnectionAborted
        };
        RedisError::from(std::io::Error::new(kind, error.to_string()))
    };
    let mut jobs = jobs.into_iter();
    let first = jobs.next();
    for (_, reply) in jobs {
        let _ = reply.send(Err(copy()));
    }
    if let Some((_, reply)) = first {
        let _ = reply.send(Err(error));
    }
}

/// Replies that do not line up with the commands (a parse error breaks the connection).
fn out_of_step() -> RedisError {
    RedisError::from((
        ErrorKind::Parse,
        "Redis's replies did not line up with the commands of the batch",
    ))
}

fn lost(message: &'static str) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        message,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection that answers every pipeline with `answer(nonce's echo)`.
    #[derive(Clone)]
    struct Scripted(fn(Value) -> Vec<Value>);

    impl ConnectionLike for Scripted {
        fn req_packed_command<'a>(&'a mut self, _: &'a Cmd) -> redis::RedisFuture<'a, Value> {
            Box::pin(async { Err(lost("batches are pipelines")) })
        }

        fn req_packed_commands<'a>(
            &'a mut self,
            pipeline: &'a redis::Pipeline,
            _: usize,
            _: usize,
        ) -> redis::RedisFuture<'a, Vec<Value>> {
            let nonce = pipeline
                .cmd_iter()
                .last()
                .and_then(|ping| match ping.args_iter().nth(1) {
                    Some(redis::Arg::Simple(nonce)) => Some(nonce.to_vec()),
                    _ => None,
                });
            let answer = self.0;
            Box::pin(async move { Ok(answer(Value::BulkString(nonce.unwrap_or_default()))) })
        }

        fn get_db(&self) -> i64 {
            0
        }
    }

    /// Two reads sent as one batch on `connection`: their results.
    async fn two_reads(connection: Scripted) -> [RedisResult<Value>; 2] {
        let (first, first_reply) = oneshot::channel();
        let (second, second_reply) = oneshot::channel();
        let get = |key| Unit::Cmd(redis::cmd("GET").arg(key).clone());
        let jobs = vec![
            Job {
                unit: get("a"),
                reply: first,
            },
            Job {
                unit: get("b"),
                reply: second,
            },
        ];
        send_batch(connection, jobs, 7).await;
        [first_reply, second_reply].map(|mut reply| reply.try_recv().expect("answered"))
    }

    fn record(user: &str) -> Value {
        Value::BulkString(format!("[{{\"user\":\"{user}\"}},{{}}]").into_bytes())
    }

    #[test]
    fn a_transaction_gets_multis_reply_a_queued_per_command_and_execs() {
        let get = || redis::cmd("GET").arg("k").clone();
        assert_eq!(Unit::Cmd(get()).replies(), 1);
        assert_eq!(Unit::Transaction(vec![get()]).replies(), 3);
        assert_eq!(Unit::Transaction(vec![get(), get(), get()]).replies(), 5);
    }

    #[test]
    fn a_transaction_reply_takes_only_okay_then_queued_acknowledgements() {
        let queued = || Value::SimpleString("QUEUED".to_owned());
        let answered = transaction_reply(vec![Value::Okay, queued(), queued(), Value::Int(1)]);
        assert_eq!(answered.expect("EXEC's reply"), Value::Int(1));
        for acknowledgements in [
            vec![
                Value::Okay,
                Value::SimpleString("OK".to_owned()),
                Value::Int(1),
            ],
            vec![queued(), queued(), Value::Int(1)],
            vec![Value::Okay, Value::Int(0), Value::Int(1)],
        ] {
            let reply = transaction_reply(acknowledgements);
            assert_eq!(reply.expect_err("out of step").kind(), ErrorKind::Parse);
        }
    }

    #[tokio::test]
    async fn replies_go_out_only_once_the_nonce_came_back_in_its_place() {
        let [a, b] = two_reads(Scripted(|echo| vec![record("a"), Value::Nil, echo])).await;
        assert_eq!((a.expect("a"), b.expect("b")), (record("a"), Value::Nil));

        // One reply too many in front: every reply moves one place.
        let shifted = two_reads(Scripted(|_| vec![record("x"), record("a"), Value::Nil])).await;
        for result in shifted {
            assert_eq!(result.expect_err("shifted").kind(), ErrorKind::Parse);
        }
        // An earlier batch's nonce in the last place.
        let stale = |_| vec![record("a"), Value::Nil, Value::BulkString(b"6".to_vec())];
        for result in two_reads(Scripted(stale)).await {
            assert_eq!(result.expect_err("stale").kind(), ErrorKind::Parse);
        }
        // A reply short.
        for result in two_reads(Scripted(|echo| vec![record("a"), echo])).await {
            assert_eq!(result.expect_err("short").kind(), ErrorKind::Parse);
        }
    }

    fn error(reply: &[u8]) -> Value {
        redis::parse_redis_value(reply).expect("RESP")
    }

    #[tokio::test]
    async fn a_refused_nonce_passes_on_errors_but_no_data() {
        let refused = |_| {
            let busy = error(b"-BUSY a script is running\r\n");
            vec![record("a"), busy, error(b"-NOPERM no PING\r\n")]
        };
        let [a, b] = two_reads(Scripted(refused)).await;
        assert_eq!(a.expect_err("unverified").code(), Some("NOPERM"));
        assert_eq!(b.expect_err("its own error").code(), Some("BUSY"));
    }

    #[test]
    fn only_the_batch_s_own_nonce_is_its_echo() {
        assert!(echoes(b"7", 7));
        assert!(!echoes(b"6", 7), "an earlier batch's");
        assert!(!echoes(b"[{},{}]", 7), "a record");
        assert!(!echoes(b"", 7));
    }

    #[test]
    fn a_transaction_answers_with_exec_or_its_first_refusal() {
        let queued = || Value::SimpleString("QUEUED".into());
        let exec = Value::Array(vec![Value::Int(1), Value::Okay]);
        let replies = vec![Value::Okay, queued(), queued(), exec.clone()];
        assert_eq!(transaction_reply(replies).expect("exec"), exec);

        let refused = error(b"-READONLY a replica\r\n");
        let replies = vec![Value::Okay, refused, queued(), Value::Nil];
        let error = transaction_reply(replies).expect_err("refused");
        assert_eq!(
            error.kind(),
            ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        );

        let shifted = vec![Value::Okay, Value::Okay, queued(), queued()];
        let error = transaction_reply(shifted).expect_err("shifted");
        assert_eq!(error.kind(), ErrorKind::Parse);
    }
}
