//! One multiplexed connection to a memcached server: any number of requests share it
//! (why not a pool: the `session-connections` crate docs).
//!
//! Why a client of our own: the `memcache` crate is blocking (every call would need
//! `spawn_blocking`), its r2d2 pool validates each checkout with a `version` round
//! trip, its `has_broken` is a stub and it declares its client `Send` with
//! `unsafe impl`; `async-memcached` needs `&mut` per command, so a pool of exclusive
//! connections. memcached's meta protocol answers every command exactly once, in
//! order, which is all a multiplexed client needs (`protocol.rs`). `async-memcached`
//! stays a test dependency, as an independent client that checks our records.
//!
//! Each request tags its command with the connection's next opaque token, hands it to
//! a writer task and awaits its reply on a oneshot channel. The writer sends everything
//! that is queued in one write (`session_connections::next_batch` says why it waits a
//! moment first), after putting the reply channels and their tokens in a FIFO; a reader
//! task parses replies and completes the channels in order, each only with a reply that
//! carries its own token. Under load, the commands of all concurrent requests travel in
//! one syscall each way.
//!
//! # Any doubt closes the connection
//!
//! A reply with another command's token (or none), a reply to no command, bytes that
//! are not a reply, a value over the maximum record size (refused from its header,
//! never buffered), a failed socket, a write that does not finish within the command
//! timeout, and a command left unanswered past it (`Server` closes the connection
//! then): each closes the connection at once. Every request waiting on it fails with
//! the reason ([`Broken`]), both tasks are aborted so nothing still queued is ever
//! written, and the slot dials a fresh connection for the next request. A request only
//! ever gets the reply to its own command, or an error.
//!
//! A command already written cannot be recalled: when its caller timed out, it may
//! still apply once a stalled server resumes. What was not written when its caller gave
//! up is never written: a timeout closes the connection, and a request that gave up
//! otherwise (its future dropped) is skipped by the writer. Its reply, if it was sent,
//! is read and discarded, so the stream stays in step.
//!
//! # At most `connections` sockets, and a no-op at each dial
//!
//! Every socket holds one of its server's permits (`sockets` in [`Connection::open`]),
//! given back only once the socket is closed, so a server never has more sockets open
//! than the `connections` setting, not even while a closed connection's tasks wind
//! down. A dial ends with `mn`, which memcached answers `MN`: a frozen server (its
//! kernel still completes TCP handshakes) fails the dial within the connect timeout
//! with nothing written, so after a freeze only what was on the wire when it began can
//! apply.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;

use session_connections::next_batch;

use crate::error::Broken;
use crate::protocol::{self, Command, Reply, Tagged};

/// What bounds one connection's traffic.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// How long one write may take (the command timeout).
    pub(crate) write_timeout: Duration,
    /// The longest value a reply may carry (the maximum record size).
    pub(crate) max_value: usize,
}

type ReplySender = oneshot::Sender<Result<Reply, Broken>>;

/// A command on its way to the writer.
struct Job {
    token: u64,
    bytes: Vec<u8>,
    reply: ReplySender,
}

/// A command written, waiting for the reply tagged with its token.
struct Pending {
    token: u64,
    reply: ReplySender,
}

/// What the request side, the writer and the reader share.
struct Shared {
    state: Mutex<State>,
    next_token: AtomicU64,
    /// The writer's and the reader's, to stop both the moment the connection closes.
    tasks: OnceLock<[AbortHandle; 2]>,
}

struct State {
    /// Commands written, oldest first.
    pending: VecDeque<Pending>,
    /// Set once, when the connection closes.
    closed: Option<Broken>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding the lock; the state stays consistent regardless.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the connection for `reason`: every waiting request learns it at once, and
    /// neither task runs again (nothing queued is written). The first reason stays.
    fn close(&self, reason: Broken) {
        let mut state = self.state();
        if state.closed.is_some() {
            return;
        }
        for pending in state.pending.drain(..) {
            let _ = pending.reply.send(Err(reason.clone()));
        }
        state.closed = Some(reason);
        drop(state);
        for task in self.tasks.get().into_iter().flatten() {
            task.abort();
        }
    }

    fn is_closed(&self) -> bool {
        self.state().closed.is_some()
    }

    /// Why the connection closed (a socket failure when it has not said).
    fn reason(&self) -> Broken {
        self.state().closed.clone().unwrap_or(Broken::Socket)
    }

    /// Hands `tagged` to the oldest waiting command, if it carries that command's token.
    fn complete(&self, tagged: Tagged) -> Result<(), Broken> {
        let mut state = self.state();
        let Some(oldest) = state.pending.pop_front() else {
            return Err(Broken::Unsolicited);
        };
        if !tagged.answers(oldest.token) {
            let _ = oldest.reply.send(Err(Broken::OutOfStep));
            return Err(Broken::OutOfStep);
        }
        // The request may have given up (its future dropped): its reply is dropped.
        let _ = oldest.reply.send(Ok(tagged.reply));
        Ok(())
    }
}

/// One half of the socket, and the server's permit it holds. Fields drop in order: the
/// half, then the permit, so a permit is free only once its socket is closed.
struct Half<H> {
    half: H,
    _permit: Arc<OwnedSemaphorePermit>,
}

/// A handle on the connection, cheap to clone; the tasks stop once every handle is
/// dropped.
#[derive(Clone)]
pub(crate) struct Connection {
    jobs: mpsc::UnboundedSender<Job>,
    shared: Arc<Shared>,
}

impl Connection {
    /// Takes one of `sockets`' permits, dials `address` (`host:port`), checks that it
    /// answers the no-op, and starts the writer and reader. The caller bounds the whole
    /// by the connect timeout.
    pub(crate) async fn open(
        address: &str,
        sockets: &Arc<Semaphore>,
        limits: Limits,
    ) -> std::io::Result<Self> {
        let permit = sockets
            .clone()
            .acquire_owned()
            .await
            .expect("a server's semaphore is never closed");
        // Declared after the permit, so dropped before it if the dial is abandoned.
        let mut stream = TcpStream::connect(address).await?;
        // Commands are small and latency-bound: do not let Nagle hold them back.
        stream.set_nodelay(true)?;
        no_op(&mut stream, limits.max_value).await?;
        let (reader, writer) = stream.into_split();
        let permit = Arc::new(permit);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: VecDeque::new(),
                closed: None,
            }),
            next_token: AtomicU64::new(0),
            tasks: OnceLock::new(),
        });
        // Unbounded: what is queued is bounded by the requests awaiting replies, each
        // of which is bounded by the command timeout (whose expiry drops the queue).
        let (jobs, queue) = mpsc::unbounded_channel();
        let writer = Half {
            half: writer,
            _permit: permit.clone(),
        };
        let reader = Half {
            half: reader,
            _permit: permit,
        };
        let tasks = [
            tokio::spawn(write_loop(writer, queue, shared.clone(), limits)).abort_handle(),
            tokio::spawn(read_loop(reader, shared.clone(), limits)).abort_handle(),
        ];
        let _ = shared.tasks.set(tasks);
        if shared.is_closed() {
            // Closed before the handles were set: stop the task that is still running.
            for task in shared.tasks.get().into_iter().flatten() {
                task.abort();
            }
        }
        Ok(Self { jobs, shared })
    }

    /// Sends `command`, tagged with this connection's next token; resolves to its reply.
    pub(crate) async fn send(&self, command: &Command<'_>) -> Result<Reply, Broken> {
        let token = self.shared.next_token.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let job = Job {
            token,
            bytes: command.encode(token),
            reply,
        };
        if self.jobs.send(job).is_err() {
            return Err(self.shared.reason());
        }
        // A dropped sender: the writer was stopped with the job still queued.
        answer.await.unwrap_or_else(|_| Err(self.shared.reason()))
    }

    /// Closes the connection for `reason`, failing every request on it.
    pub(crate) fn close(&self, reason: Broken) {
        self.shared.close(reason);
    }

    /// True once the connection failed: the slot should dial a new one.
    pub(crate) fn is_closed(&self) -> bool {
        self.jobs.is_closed() || self.shared.is_closed()
    }
}

fn invalid(reason: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, reason.to_owned())
}

/// Sends `mn` and waits for `MN`, and nothing else.
async fn no_op(stream: &mut TcpStream, max_value: usize) -> std::io::Result<()> {
    stream.write_all(b"mn\r\n").await?;
    let mut buffer = Vec::with_capacity(64);
    loop {
        if stream.read_buf(&mut buffer).await? == 0 {
            return Err(invalid(
                "the server closed the connection instead of answering `mn`",
            ));
        }
        match protocol::parse(&buffer, max_value) {
            Ok(None) => {}
            Ok(Some((
                Tagged {
                    reply: Reply::NoOp, ..
                },
                used,
            ))) if used == buffer.len() => return Ok(()),
            Ok(Some(_)) => {
                return Err(invalid(
                    "the server answered `mn` with another reply, or with more than one: \
                     it is not memcached 1.6 or later, or it sent a reply to no command",
                ))
            }
            Err(error) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, error)),
        }
    }
}

async fn write_loop(
    mut socket: Half<OwnedWriteHalf>,
    mut queue: mpsc::UnboundedReceiver<Job>,
    shared: Arc<Shared>,
    limits: Limits,
) {
    let mut out = Vec::with_capacity(4096);
    let mut batch = Vec::new();
    while next_batch(&mut queue, &mut batch).await {
        out.clear();
        {
            let mut state = shared.state();
            if let Some(reason) = &state.closed {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(reason.clone()));
                }
                return;
            }
            for job in batch.drain(..) {
                // Its caller gave up before it was sent: never send it.
                if job.reply.is_closed() {
                    continue;
                }
                // Registered before the bytes leave, so the reply always finds it.
                state.pending.push_back(Pending {
                    token: job.token,
                    reply: job.reply,
                });
                out.extend_from_slice(&job.bytes);
            }
        }
        if out.is_empty() {
            continue;
        }
        let written = tokio::time::timeout(limits.write_timeout, socket.half.write_all(&out));
        match written.await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return shared.close(Broken::Socket),
            Err(_) => return shared.close(Broken::WriteStalled(limits.write_timeout)),
        }
        if out.capacity() > 1 << 20 {
            // One burst of large sessions should not pin a megabyte per connection.
            out = Vec::with_capacity(4096);
        }
    }
    // Every handle is gone: no request can be waiting.
    shared.close(Broken::Socket);
}

async fn read_loop(mut socket: Half<OwnedReadHalf>, shared: Arc<Shared>, limits: Limits) {
    let mut buffer = Vec::with_capacity(8192);
    while let Ok(1..) = socket.half.read_buf(&mut buffer).await {
        let mut consumed = 0;
        loop {
            match protocol::parse(&buffer[consumed..], limits.max_value) {
                Ok(Some((tagged, used))) => {
                    consumed += used;
                    if let Err(reason) = shared.complete(tagged) {
                        tracing::warn!(
                            ?reason,
                            "memcached sent a reply that is not its command's; reconnecting"
                        );
                        return shared.close(reason);
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "closing the memcached connection");
                    return shared.close(Broken::Garbage(error));
                }
            }
        }
        buffer.drain(..consumed);
        if buffer.capacity() > 1 << 20 && buffer.len() < 8192 {
            // A large value read: give the memory back.
            buffer.shrink_to(8192);
        }
    }
    shared.close(Broken::Socket);
}
