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
//! Each request hands its encoded command to a writer task and awaits its reply on a
//! oneshot channel. The writer sends everything that is queued in one write
//! (`session_connections::next_batch` says why it waits a moment first), after
//! putting the reply channels in a FIFO (the [`ReplyQueue`]); a reader task parses
//! replies and completes the channels in order (the meta protocol answers every
//! command, in order). Under load, the commands of all concurrent requests travel in
//! one syscall each way.
//!
//! A request that gives up (timeout) simply drops its receiver: its reply still arrives
//! and is discarded, so the stream never gets out of step. When the socket fails, or
//! the stream holds something that is not a reply, every waiting request gets [`Lost`]
//! and the connection reports itself closed, so the server's slot dials a new one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};

use session_connections::next_batch;

use crate::protocol::{self, Reply};

/// The connection ended before this command's reply came.
#[derive(Debug)]
pub(crate) struct Lost;

type ReplySender = oneshot::Sender<Result<Reply, Lost>>;

/// A command on its way to the writer.
struct Job {
    bytes: Vec<u8>,
    reply: ReplySender,
}

/// Where the replies of the commands sent go, in order: the writer pushes, the reader
/// pops.
struct ReplyQueue {
    state: Mutex<Waiting>,
    /// Wakes the reader when the writer stops, so it does not wait on a silent server.
    stopping: Notify,
}

/// Reply channels of the commands sent, oldest first; `closed` once the connection ended.
struct Waiting {
    senders: VecDeque<ReplySender>,
    closed: bool,
}

impl ReplyQueue {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // Nothing panics while holding the lock; the queue stays consistent regardless.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the connection: every waiting request learns it at once.
    fn close(&self) {
        let mut waiting = self.waiting();
        waiting.closed = true;
        for reply in waiting.senders.drain(..) {
            let _ = reply.send(Err(Lost));
        }
        drop(waiting);
        self.stopping.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.waiting().closed
    }
}

/// A handle on the connection, cheap to clone; the tasks stop once every handle is
/// dropped.
#[derive(Clone)]
pub(crate) struct Connection {
    jobs: mpsc::UnboundedSender<Job>,
    replies: Arc<ReplyQueue>,
}

impl Connection {
    /// Dials `address` (`host:port`) within `timeout` and starts the writer and reader.
    pub(crate) async fn open(address: &str, timeout: Duration) -> std::io::Result<Self> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(stream) => stream?,
            Err(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection within {timeout:?}"),
                ))
            }
        };
        // Commands are small and latency-bound: do not let Nagle hold them back.
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        let replies = Arc::new(ReplyQueue {
            state: Mutex::new(Waiting {
                senders: VecDeque::new(),
                closed: false,
            }),
            stopping: Notify::new(),
        });
        // Unbounded: what is queued is bounded by the requests awaiting replies, each
        // of which is bounded by the command timeout.
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(writer, queue, replies.clone()));
        tokio::spawn(read_loop(reader, replies.clone()));
        Ok(Self { jobs, replies })
    }

    /// Sends `command` (already encoded); resolves to its reply.
    pub(crate) async fn send(&self, bytes: Vec<u8>) -> Result<Reply, Lost> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { bytes, reply }).map_err(|_| Lost)?;
        answer.await.map_err(|_| Lost)?
    }

    /// True once the connection failed: the slot should dial a new one.
    pub(crate) fn is_closed(&self) -> bool {
        self.jobs.is_closed() || self.replies.is_closed()
    }
}

async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Job>,
    replies: Arc<ReplyQueue>,
) {
    let mut out = Vec::with_capacity(4096);
    let mut batch = Vec::new();
    while next_batch(&mut queue, &mut batch).await {
        out.clear();
        {
            let mut waiting = replies.waiting();
            for job in batch.drain(..) {
                if waiting.closed {
                    let _ = job.reply.send(Err(Lost));
                } else {
                    // Registered before the bytes leave, so the reply always finds it.
                    waiting.senders.push_back(job.reply);
                    out.extend_from_slice(&job.bytes);
                }
            }
        }
        if out.is_empty() {
            break;
        }
        if writer.write_all(&out).await.is_err() {
            break;
        }
        if out.capacity() > 1 << 20 {
            // One burst of large sessions should not pin a megabyte per connection.
            out = Vec::with_capacity(4096);
        }
    }
    replies.close();
    let _ = writer.shutdown().await;
}

async fn read_loop(mut reader: OwnedReadHalf, replies: Arc<ReplyQueue>) {
    let mut buffer = Vec::with_capacity(8192);
    loop {
        tokio::select! {
            () = replies.stopping.notified() => break,
            read = reader.read_buf(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            },
        }
        let mut consumed = 0;
        loop {
            match protocol::parse(&buffer[consumed..]) {
                Ok(Some((reply, used))) => {
                    consumed += used;
                    let Some(waiter) = replies.waiting().senders.pop_front() else {
                        // A reply nobody asked for: out of step.
                        tracing::warn!("memcached sent a reply to no command; reconnecting");
                        replies.close();
                        return;
                    };
                    // The request may have given up (timeout): its reply is dropped.
                    let _ = waiter.send(Ok(reply));
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "closing the memcached connection");
                    replies.close();
                    return;
                }
            }
        }
        buffer.drain(..consumed);
    }
    replies.close();
}
